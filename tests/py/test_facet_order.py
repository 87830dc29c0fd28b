"""Facets (POST /facet, gRPC Facet) and ordering by a payload key (scroll's `order_by`, the query
API's `{"order_by": ...}`), through the official client on the suite's transport, compared with
the client's local mode (QdrantClient(":memory:")) on the same points where local mode agrees
with Qdrant's server, and otherwise with values computed here from the uploaded payloads.

Where local mode and the server differ (see src/collection/values.c): the server needs a payload
index of a fitting type and reads only the values that index holds; it breaks ties between equal
order values by point ID in the direction of the order (local mode keeps insertion order, which
the points below follow, so only descending ties differ)."""

import datetime
import random
import uuid

import pytest
from qdrant_client import QdrantClient, models

from quiver_harness import assert_error_shape, client_error

# ---- the data set ------------------------------------------------------------------------------

COLORS = ["red", "green", "blue", "black", "a", "b", "ba", "Äpfel", "zebra", "Zebra", "", "x y"]
UUIDS = [
    "5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
    "0a1b2c3d-0000-4000-8000-000000000001",
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
    "00000000-0000-4000-8000-000000000000",
]
PRICES = [0.5, 1.5, 2, 2.25, 10, 33.3, 99.99, -7.5]
RANKS = [-5, 0, 3, 7, 100, 2**40]
TIMES = ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456+02:00", "2023-12-31", "2024-06-01T00:00:00Z",
         "1999-01-01T12:00:00.5Z"]
N = 70


def make_payload(rng, i):
    p = {}

    def one_or_many(pick, p_missing=0.1, p_list=0.25, max_len=3):
        r = rng.random()
        if r < p_missing:
            return None
        if r < p_missing + p_list:
            return [pick() for _ in range(rng.randint(0, max_len))]  # may repeat a value, may be []
        return pick()

    fields = {
        "color": lambda: rng.choice(COLORS),
        "size": lambda: rng.randint(0, 14),
        "flag": lambda: rng.random() < 0.3,
        # the same UUID in two spellings is one facet value
        "uid": lambda: (lambda u: u.upper() if rng.random() < 0.3 else u)(rng.choice(UUIDS)),
        "price": lambda: rng.choice(PRICES),
        "rank": lambda: rng.choice(RANKS),
        "ts": lambda: rng.choice(TIMES),
    }
    for k, pick in fields.items():
        v = one_or_many(pick)
        if v is not None:
            p[k] = v
    p["grp"] = i % 3
    return p


def dataset():
    rng = random.Random(20240601)
    return [(i, make_payload(rng, i)) for i in range(1, N + 1)]


POINTS = dataset()
INDEXES = {
    "color": "keyword",
    "size": "integer",
    "flag": "bool",
    "uid": "uuid",
    "price": "float",
    "rank": "integer",
    "ts": "datetime",
    "grp": "integer",
}


def upsert_all(c, name):
    c.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    # in ID order: local mode's insertion order is then the server's ascending tie order
    c.upsert(name, wait=True, points=[models.PointStruct(id=i, vector=[1.0, float(i)], payload=p)
                                      for i, p in POINTS])


@pytest.fixture(scope="module")
def coll(client):
    name = "facet_order_" + uuid.uuid4().hex[:8]
    upsert_all(client, name)
    for field, schema in INDEXES.items():
        client.create_payload_index(name, field, field_schema=schema, wait=True)
    yield name
    client.delete_collection(name)


@pytest.fixture(scope="module")
def local():
    c = QdrantClient(":memory:")
    upsert_all(c, "l")
    yield c
    c.close()


def hits(resp):
    return [(h.value, h.count) for h in resp.hits]


def ids_matching(local, flt):
    recs, _ = local.scroll("l", scroll_filter=flt, limit=1000, with_payload=False)
    return {r.id for r in recs}


# ---- what the server computes, from the payloads -------------------------------------------


def values_at(payload, key):
    v = payload.get(key)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def micros(s):
    dt = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    delta = dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def index_value(kind, v):
    """A payload value as the index of that type holds it, or None."""
    if kind == "integer":
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    if kind == "float":
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if kind == "datetime":
        return micros(v) if isinstance(v, str) else None
    raise ValueError(kind)


def expected_order(key, desc=False, start=None, ids=None, limit=10, offset=0):
    """[(id, order_value)]: one entry per distinct value of a point, by (value, id) in the order's
    direction, from start (inclusive)."""
    kind = INDEXES[key]
    rows = set()
    for pid, p in POINTS:
        if ids is not None and pid not in ids:
            continue
        for v in values_at(p, key):
            x = index_value(kind, v)
            if x is None:
                continue
            if start is not None and (x > start if desc else x < start):
                continue
            rows.add((x, pid))
    rows = sorted(rows, reverse=desc)
    return [(pid, x) for x, pid in rows][offset:offset + limit]


# ---- facets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["color", "size", "flag", "uid"])
def test_facet_matches_local_mode(client, local, coll, key):
    for limit in (1, 3, 10, 100):
        got = client.facet(coll, key, limit=limit)
        assert hits(got) == hits(local.facet("l", key, limit=limit)), (key, limit)
    # exact counts are the same counts
    assert hits(client.facet(coll, key, limit=100, exact=True)) == hits(client.facet(coll, key, limit=100))


def test_facet_values_and_counts_from_payloads(client, coll):
    # a point counts once per distinct value; ties by value (bytes: "Zebra" < "a" < "zebra" < "Äpfel")
    counts = {}
    for _, p in POINTS:
        for v in set(values_at(p, "color")):
            counts[v] = counts.get(v, 0) + 1
    exp = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))
    assert hits(client.facet(coll, "color", limit=len(COLORS))) == exp
    # uuids: one value per UUID whatever its spelling, reported lowercase hyphenated
    got = hits(client.facet(coll, "uid", limit=10))
    assert {v for v, _ in got} <= set(UUIDS)
    assert sum(c for _, c in got) == sum(len({u.lower() for u in values_at(p, "uid")}) for _, p in POINTS)
    # value types: integers and booleans come back as such
    assert all(type(v) is int for v, _ in hits(client.facet(coll, "size")))
    assert all(type(v) is bool for v, _ in hits(client.facet(coll, "flag")))


def test_facet_default_limit_is_10(client, coll):
    assert len({v for _, p in POINTS for v in values_at(p, "size")}) > 10
    assert len(client.facet(coll, "size").hits) == 10


FACET_FILTERS = [
    models.Filter(must=[models.FieldCondition(key="grp", match=models.MatchValue(value=1))]),
    models.Filter(must_not=[models.FieldCondition(key="color", match=models.MatchAny(any=["red", "a"]))]),
    models.Filter(must=[models.FieldCondition(key="price", range=models.Range(gte=2, lt=50))]),
    models.Filter(must=[models.HasIdCondition(has_id=[1, 2, 3, 4, 5, 1000])]),
    models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="color"))]),
]


@pytest.mark.parametrize("flt", FACET_FILTERS, ids=range(len(FACET_FILTERS)))
@pytest.mark.parametrize("key", ["color", "size", "flag"])
def test_facet_with_filter_matches_local_mode(client, local, coll, key, flt):
    assert hits(client.facet(coll, key, facet_filter=flt, limit=20)) == \
        hits(local.facet("l", key, facet_filter=flt, limit=20))


def test_facet_reads_only_what_the_index_holds(client, collection_name):
    # an integer index holds int64 integers: not 2.5, "3" or true; a keyword index strings only
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=1, vector=[1, 0], payload={"n": [1, 2.5, "3", True], "k": ["x", 1, None]}),
        models.PointStruct(id=2, vector=[1, 0], payload={"n": 1, "k": {"x": 1}}),
        models.PointStruct(id=3, vector=[1, 0], payload={"n": [], "k": "x"}),
    ])
    client.create_payload_index(collection_name, "n", field_schema="integer", wait=True)
    client.create_payload_index(collection_name, "k", field_schema="keyword", wait=True)
    assert hits(client.facet(collection_name, "n")) == [(1, 2)]
    assert hits(client.facet(collection_name, "k")) == [("x", 2)]
    # an empty collection has no hits, even for a key without an index (as Qdrant's empty segments)
    client.delete(collection_name, points_selector=models.PointIdsList(points=[1, 2, 3]), wait=True)
    assert hits(client.facet(collection_name, "n")) == []
    assert hits(client.facet(collection_name, "unindexed")) == []


FACET_MSG = "No appropriate index for faceting: `{}`. Please create one to facet on this field."


@pytest.mark.parametrize("key", ["price", "ts", "nothing", "grp.x"])
def test_facet_needs_a_facet_index(client, coll, key):
    with client_error(400, contains=FACET_MSG.format(key)):
        client.facet(coll, key)


def test_facet_integer_index_without_lookup_cannot_facet(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(collection_name, wait=True, points=[models.PointStruct(id=1, vector=[1, 0], payload={"n": 1})])
    client.create_payload_index(collection_name, "n", wait=True, field_schema=models.IntegerIndexParams(
        type=models.IntegerIndexType.INTEGER, lookup=False, range=True))
    with client_error(400, contains=FACET_MSG.format("n")):
        client.facet(collection_name, "n")
    client.create_payload_index(collection_name, "t", field_schema="text", wait=True)
    with client_error(400, contains=FACET_MSG.format("t")):
        client.facet(collection_name, "t")


def test_facet_unknown_collection(client):
    with client_error(404, contains="doesn't exist"):
        client.facet("no_such_collection_" + uuid.uuid4().hex[:6], "color")


def test_facet_rest_shapes_and_validation(http, coll):
    r = http.post(f"/collections/{coll}/facet", json={"key": "flag", "limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"result", "status", "time"}
    res = body["result"]
    assert list(res) == ["hits"]
    assert all(list(h) == ["value", "count"] for h in res["hits"]), res
    exp = sorted(((v, sum(v in values_at(p, "flag") for _, p in POINTS)) for v in (False, True)),
                 key=lambda vc: (-vc[1], vc[0]))
    assert [(h["value"], h["count"]) for h in res["hits"]] == exp
    assert_error_shape(http.post(f"/collections/{coll}/facet", json={"key": "flag", "limit": 0}), 422,
                       "Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]")
    assert_error_shape(http.post(f"/collections/{coll}/facet", json={"limit": 3}), 400,
                       "Format error in JSON body: missing field `key`")
    assert_error_shape(http.post(f"/collections/{coll}/facet", json={"key": "flag", "exact": "yes"}), 400,
                       "Format error in JSON body: invalid type: string \"yes\", expected a boolean")
    assert_error_shape(http.post(f"/collections/{coll}/facet", json={"key": "a..b"}), 400, "a..b")
    # explicit nulls are absent
    r = http.post(f"/collections/{coll}/facet",
                  json={"key": "flag", "limit": None, "filter": None, "exact": None, "shard_key": None})
    assert r.status_code == 200 and r.json()["result"] == res


# ---- order_by in scroll ---------------------------------------------------------------------


def rows(records):
    return [(r.id, r.order_value) for r in records]


def canonical_ties(rs):
    """Sorts each run of equal order values by id (local mode keeps insertion order on
    descending ties; the server goes by id descending)."""
    out, i = [], 0
    while i < len(rs):
        j = i
        while j < len(rs) and rs[j][1] == rs[i][1]:
            j += 1
        out += sorted(rs[i:j])
        i = j
    return out


@pytest.mark.parametrize("key", ["price", "rank", "ts"])
@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
def test_scroll_order_by_matches_local_mode_and_payloads(client, local, coll, key, desc):
    ob = models.OrderBy(key=key, direction=models.Direction.DESC if desc else models.Direction.ASC)
    got, nxt = client.scroll(coll, order_by=ob, limit=500)
    assert nxt is None
    assert rows(got) == expected_order(key, desc=desc, limit=500)
    exp_local, _ = local.scroll("l", order_by=ob, limit=500)
    if desc:
        assert canonical_ties(rows(got)) == canonical_ties(rows(exp_local))
    else:
        assert rows(got) == rows(exp_local)
    # payloads come back with the records (default with_payload: true)
    by_id = dict(POINTS)
    assert all(r.payload == by_id[r.id] for r in got)
    # order_value types: integer and datetime indexes give integers, a float index floats
    want = float if INDEXES[key] == "float" else int
    assert all(type(r.order_value) is want for r in got)


def test_scroll_order_by_multi_valued_and_missing(client, coll):
    got, _ = client.scroll(coll, order_by="rank", limit=1000, with_payload=False)
    seen = {}
    for pid, v in rows(got):
        seen.setdefault(pid, []).append(v)
    for pid, p in POINTS:
        vals = sorted(set(v for v in values_at(p, "rank")))
        assert sorted(seen.get(pid, [])) == vals, (pid, p.get("rank"))
    # the string form of order_by is the key, ascending
    assert rows(got) == expected_order("rank", limit=1000)


@pytest.mark.parametrize("key,start", [("price", 2), ("price", 2.25), ("rank", 3), ("rank", 3.5),
                                       ("ts", "2024-01-02T01:04:05Z"), ("ts", "2024-01-02")])
@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
def test_scroll_order_by_start_from(client, local, coll, key, start, desc):
    ob = models.OrderBy(key=key, direction="desc" if desc else "asc", start_from=start)
    got, _ = client.scroll(coll, order_by=ob, limit=200, with_payload=False)
    s = micros(start) if key == "ts" else start
    assert rows(got) == expected_order(key, desc=desc, start=s, limit=200)  # start_from is inclusive
    exp_local, _ = local.scroll("l", order_by=ob, limit=200, with_payload=False)
    assert canonical_ties(rows(got)) == canonical_ties(rows(exp_local))


def test_scroll_order_by_start_from_datetime_object(client, coll):
    start = datetime.datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=datetime.timezone.utc)
    got, _ = client.scroll(coll, order_by=models.OrderBy(key="ts", start_from=start), limit=200)
    assert rows(got) == expected_order("ts", start=micros("2024-01-02T01:04:05.123456Z"), limit=200)


@pytest.mark.parametrize("flt", FACET_FILTERS, ids=range(len(FACET_FILTERS)))
@pytest.mark.parametrize("limit", [1, 4, 10])
def test_scroll_order_by_with_filter_and_limit(client, local, coll, flt, limit):
    ids = ids_matching(local, flt)
    for desc in (False, True):
        ob = models.OrderBy(key="price", direction="desc" if desc else "asc")
        got, nxt = client.scroll(coll, order_by=ob, scroll_filter=flt, limit=limit, with_payload=["grp"],
                                 with_vectors=True)
        assert nxt is None
        assert rows(got) == expected_order("price", desc=desc, ids=ids, limit=limit)
        assert all(r.payload == {"grp": r.id % 3} for r in got)
        assert all(r.vector == [1.0, float(r.id)] for r in got)
    got, _ = client.scroll(coll, order_by="price", scroll_filter=flt, limit=limit)
    exp_local, _ = local.scroll("l", order_by="price", scroll_filter=flt, limit=limit)
    assert rows(got) == rows(exp_local)


def test_scroll_order_by_default_limit(client, coll):
    got, nxt = client.scroll(coll, order_by="rank")
    assert nxt is None and rows(got) == expected_order("rank", limit=10)


def test_scroll_order_by_ties_by_id_in_the_direction(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    # inserted out of ID order: ties still go by ID
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=i, vector=[1, 0], payload={"v": v})
        for i, v in [(5, 1), (2, 1), (9, 0), (7, 1), (1, 0), (3, [1, 0])]])
    client.create_payload_index(collection_name, "v", field_schema="integer", wait=True)
    asc, _ = client.scroll(collection_name, order_by="v", with_payload=False)
    assert rows(asc) == [(1, 0), (3, 0), (9, 0), (2, 1), (3, 1), (5, 1), (7, 1)]
    desc, _ = client.scroll(collection_name, order_by=models.OrderBy(key="v", direction="desc"), with_payload=False)
    assert rows(desc) == [(7, 1), (5, 1), (3, 1), (2, 1), (9, 0), (3, 0), (1, 0)]


def test_scroll_order_by_offset_is_rejected(client, coll):
    with client_error(400, contains="Cannot use an `offset` when using `order_by`"):
        client.scroll(coll, order_by="price", offset=3)


RANGE_MSG = "No range index for `order_by` key: `{}`. Please create one to use `order_by`."


@pytest.mark.parametrize("key", ["color", "uid", "flag", "nothing"])
def test_scroll_order_by_needs_a_range_index(client, coll, key):
    with client_error(400, contains=RANGE_MSG.format(key)):
        client.scroll(coll, order_by=key)


def test_scroll_order_by_integer_without_range(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(collection_name, wait=True, points=[models.PointStruct(id=1, vector=[1, 0], payload={"n": 1})])
    client.create_payload_index(collection_name, "n", wait=True, field_schema=models.IntegerIndexParams(
        type=models.IntegerIndexType.INTEGER, lookup=True, range=False))
    with client_error(400, contains=RANGE_MSG.format("n")):
        client.scroll(collection_name, order_by="n")
    with client_error(400, contains=RANGE_MSG.format("n")):
        client.query_points(collection_name, query=models.OrderByQuery(order_by="n"))
    with client_error(404, contains="doesn't exist"):
        client.scroll("no_such_" + uuid.uuid4().hex[:6], order_by="n")


def test_scroll_order_by_rest_shapes(http, coll):
    r = http.post(f"/collections/{coll}/points/scroll",
                  json={"order_by": {"key": "price", "direction": "desc"}, "limit": 3, "with_payload": False})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["next_page_offset"] is None
    exp = expected_order("price", desc=True, limit=3)
    assert [(p["id"], p["order_value"]) for p in res["points"]] == exp
    for p in res["points"]:
        assert list(p) == ["id", "payload", "vector", "order_value"], p
        assert isinstance(p["order_value"], float)
    # integers print as integers; without order_by there is no order_value at all
    r = http.post(f"/collections/{coll}/points/scroll", json={"order_by": "rank", "limit": 2})
    assert all(isinstance(p["order_value"], int) for p in r.json()["result"]["points"])
    r = http.post(f"/collections/{coll}/points/scroll", json={"limit": 2})
    assert all("order_value" not in p for p in r.json()["result"]["points"])
    bad = "Format error in JSON body: data did not match any variant of untagged enum OrderByInterface"
    for ob in [5, {"direction": "asc"}, {"key": "price", "direction": "up"}, {"key": "a..b"},
               {"key": "price", "start_from": "yesterday"}, {"key": "price", "start_from": [1]}]:
        assert_error_shape(http.post(f"/collections/{coll}/points/scroll", json={"order_by": ob}), 400, bad)
    assert_error_shape(http.post(f"/collections/{coll}/points/scroll", json={"order_by": "price", "offset": 1}),
                       400, "Wrong input: Cannot use an `offset` when using `order_by`")
    # null order_by / direction / start_from are absent
    r = http.post(f"/collections/{coll}/points/scroll",
                  json={"order_by": {"key": "rank", "direction": None, "start_from": None}, "limit": 2})
    assert [(p["id"], p["order_value"]) for p in r.json()["result"]["points"]] == expected_order("rank", limit=2)


# ---- the query API's order_by -----------------------------------------------------------------


@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
def test_query_order_by(client, local, coll, desc):
    ob = models.OrderBy(key="price", direction="desc" if desc else "asc")
    flt = FACET_FILTERS[0]
    for limit, offset in [(10, 0), (5, 3), (100, 0)]:
        got = client.query_points(coll, query=models.OrderByQuery(order_by=ob), query_filter=flt, limit=limit,
                                  offset=offset, with_payload=True).points
        exp = expected_order("price", desc=desc, ids=ids_matching(local, flt), limit=limit, offset=offset)
        assert [(p.id, p.order_value) for p in got] == exp
        # results without a score: version 0, score 1 (as Qdrant and local mode)
        assert all(p.score == 1.0 and p.version == 0 for p in got)
        by_id = dict(POINTS)
        assert all(p.payload == by_id[p.id] for p in got)
    got = client.query_points(coll, query=models.OrderByQuery(order_by=ob), limit=200).points
    loc = local.query_points("l", query=models.OrderByQuery(order_by=ob), limit=200).points
    key = canonical_ties if desc else (lambda x: x)
    assert key([(p.id, p.order_value) for p in got]) == key([(p.id, p.order_value) for p in loc])
    assert [(p.score, p.version) for p in got] == [(p.score, p.version) for p in loc]


def test_query_batch_mixes_order_by_and_nearest(client, coll):
    reqs = [
        models.QueryRequest(query=[1.0, 0.5], limit=3),
        models.QueryRequest(query=models.OrderByQuery(order_by="rank"), limit=4),
        models.QueryRequest(query=models.OrderByQuery(order_by=models.OrderBy(key="ts", direction="desc")),
                            limit=2, offset=1),
        models.QueryRequest(query=[0.0, 1.0], limit=2, with_payload=True),
    ]
    res = client.query_batch_points(coll, requests=reqs)
    assert len(res) == 4
    assert [p.id for p in res[0].points] == [70, 69, 68]
    assert [(p.id, p.order_value) for p in res[1].points] == expected_order("rank", limit=4)
    assert [(p.id, p.order_value) for p in res[2].points] == expected_order("ts", desc=True, limit=2, offset=1)
    assert [p.id for p in res[3].points] == [70, 69]
    assert res[3].points[0].payload == dict(POINTS)[70]
    assert all(p.order_value is None for p in res[0].points + res[3].points)


def test_query_order_by_rest_shapes(http, coll):
    r = http.post(f"/collections/{coll}/points/query",
                  json={"query": {"order_by": {"key": "rank", "direction": "desc"}}, "limit": 2})
    assert r.status_code == 200, r.text
    pts = r.json()["result"]["points"]
    assert [(p["id"], p["order_value"]) for p in pts] == expected_order("rank", desc=True, limit=2)
    for p in pts:
        assert list(p) == ["id", "version", "score", "payload", "vector", "order_value"], p
        assert p["version"] == 0 and p["score"] == 1.0
    bad = "Format error in JSON body: data did not match any variant of untagged enum QueryInterface"
    for q in [{"order_by": None}, {"order_by": {"key": 1}}, {"order_by": {"key": "rank", "direction": "sideways"}}]:
        assert_error_shape(http.post(f"/collections/{coll}/points/query", json={"query": q}), 400, bad)


# ---- geo conditions (both transports) ------------------------------------------------------------

GEO = [(1, {"lat": 52.52, "lon": 13.405}), (2, {"lat": 48.8566, "lon": 2.3522}),
       (3, {"lat": -33.8688, "lon": 151.2093}), (4, [{"lat": 40.7128, "lon": -74.006}, {"lat": 51.5, "lon": -0.12}]),
       (5, {"lat": 95, "lon": 0}), (6, "nowhere"), (7, {"lat": 50.0, "lon": 10.0})]

GEO_FILTERS = [
    models.FieldCondition(key="loc", geo_radius=models.GeoRadius(center=models.GeoPoint(lat=50, lon=10),
                                                                 radius=700000)),
    models.FieldCondition(key="loc", geo_bounding_box=models.GeoBoundingBox(
        top_left=models.GeoPoint(lat=60, lon=-10), bottom_right=models.GeoPoint(lat=45, lon=20))),
    models.FieldCondition(key="loc", geo_polygon=models.GeoPolygon(exterior=models.GeoLineString(points=[
        models.GeoPoint(lat=40, lon=-5), models.GeoPoint(lat=60, lon=-5), models.GeoPoint(lat=60, lon=20),
        models.GeoPoint(lat=40, lon=20), models.GeoPoint(lat=40, lon=-5)]))),
    models.FieldCondition(key="loc", geo_polygon=models.GeoPolygon(
        exterior=models.GeoLineString(points=[
            models.GeoPoint(lat=40, lon=-5), models.GeoPoint(lat=60, lon=-5), models.GeoPoint(lat=60, lon=20),
            models.GeoPoint(lat=40, lon=20), models.GeoPoint(lat=40, lon=-5)]),
        interiors=[models.GeoLineString(points=[
            models.GeoPoint(lat=52, lon=13), models.GeoPoint(lat=53, lon=13), models.GeoPoint(lat=53, lon=14),
            models.GeoPoint(lat=52, lon=14), models.GeoPoint(lat=52, lon=13)])])),
]
GEO_EXPECTED = [[1, 2, 7], [1, 2, 4, 7], [1, 2, 4, 7], [2, 4, 7]]


@pytest.mark.parametrize("i", range(len(GEO_FILTERS)))
def test_geo_conditions(client, collection_name, i):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=pid, vector=[1, 0], payload={"loc": loc}) for pid, loc in GEO])
    loc = QdrantClient(":memory:")
    loc.create_collection("g", vectors_config=models.VectorParams(size=2, distance="Dot"))
    loc.upsert("g", points=[models.PointStruct(id=pid, vector=[1, 0], payload={"loc": l}) for pid, l in GEO])
    for flt in (models.Filter(must=[GEO_FILTERS[i]]), models.Filter(must_not=[GEO_FILTERS[i]])):
        got = sorted(p.id for p in client.scroll(collection_name, scroll_filter=flt, limit=100)[0])
        exp = sorted(p.id for p in loc.scroll("g", scroll_filter=flt, limit=100)[0])
        assert got == exp
        assert client.count(collection_name, count_filter=flt).count == len(exp)
    assert sorted(p.id for p in client.scroll(collection_name, scroll_filter=models.Filter(
        must=[GEO_FILTERS[i]]), limit=100)[0]) == GEO_EXPECTED[i]
    loc.close()


def test_geo_polygon_must_be_closed(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    open_ring = models.GeoLineString(points=[models.GeoPoint(lat=0, lon=0), models.GeoPoint(lat=1, lon=0),
                                             models.GeoPoint(lat=1, lon=1), models.GeoPoint(lat=0, lon=1)])
    flt = models.Filter(must=[models.FieldCondition(key="loc", geo_polygon=models.GeoPolygon(exterior=open_ring))])
    with client_error(400) as e:
        client.scroll(collection_name, scroll_filter=flt)
    # REST: serde's untagged Condition swallows the ring's message; gRPC: the validator's text
    if e.transport == "grpc":
        assert "exterior: value invalid, the first and the last points should be same" in e.message
    else:
        assert "data did not match any variant of untagged enum Condition" in e.message
