"""Strict mode (strict_mode_config): configuration round trip and persistence,
every enforced limit with Qdrant's status and message, and the read/write
rate limits with Retry-After.

Transport-aware: `client` speaks gRPC under QUIVER_PREFER_GRPC=1, so the same
checks run over REST (400 / 429 + Retry-After header) and over gRPC
(INVALID_ARGUMENT / RESOURCE_EXHAUSTED + `retry-after` trailing metadata).
`http` is always raw REST, for the exact JSON and headers.

Rate-limit tests never time the server: they exhaust a bucket with one
expensive request (a read costs 1 + its filter conditions, a write the
points it touches), check that the next request is refused with an integer
Retry-After in range, wait exactly that long and check that the retry
passes - which holds on any machine, however slow.
"""

import json
import time

import grpc
import pytest
from qdrant_client import models as m
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import UnexpectedResponse

from quiver_harness import prefer_grpc

VEC = [0.2, 0.1, 0.9, 0.7]


# ---- helpers -----------------------------------------------------------------------


def make(client, name, n=10, **strict):
    """A 4-d Dot collection with n points (city payload), strict mode as given."""
    kw = {"strict_mode_config": m.StrictModeConfig(**strict)} if strict else {}
    assert client.create_collection(name, vectors_config=m.VectorParams(size=4, distance=m.Distance.DOT), **kw)
    if n:
        pts = [m.PointStruct(id=i, vector=[float(i), 1.0, 0.5, 0.25],
                             payload={"city": ["Berlin", "London"][i % 2], "price": i})
               for i in range(n)]
        # (no test's limit applies to this first upsert)
        client.upsert(name, pts, wait=True)
    return name


def patch(http, name, strict):
    r = http.patch(f"/collections/{name}", json={"strict_mode_config": strict})
    assert r.status_code == 200, r.text
    return r


def strict_json(http, name):
    r = http.get(f"/collections/{name}")
    assert r.status_code == 200, r.text
    return r.json()["result"]["config"]["strict_mode_config"]


def refused(fn, text):
    """fn must be refused by strict mode: 400 "Bad request: ..." over REST,
    INVALID_ARGUMENT over gRPC, the message containing text."""
    if prefer_grpc():
        with pytest.raises(grpc.RpcError) as ei:
            fn()
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, ei.value
        msg = ei.value.details()
    else:
        with pytest.raises(UnexpectedResponse) as ei:
            fn()
        assert ei.value.status_code == 400, ei.value
        msg = json.loads(ei.value.content)["status"]["error"]
    assert msg.startswith("Bad request: "), msg
    assert text in msg, msg
    return msg


def query(client, name, **kw):
    return client.query_points(name, query=VEC, **kw).points


# ---- configuration ------------------------------------------------------------------


def test_never_configured_reports_enabled_false(client, http, collection_name):
    make(client, collection_name, n=0)
    assert strict_json(http, collection_name) == {"enabled": False}
    info = client.get_collection(collection_name)
    assert info.config.strict_mode_config is not None
    assert info.config.strict_mode_config.enabled is False
    assert info.config.strict_mode_config.max_query_limit is None


def test_create_and_update_round_trip(client, http, collection_name):
    make(client, collection_name, n=0, enabled=True, max_query_limit=10, max_timeout=2,
         unindexed_filtering_retrieve=False, search_max_hnsw_ef=3, search_allow_exact=False,
         search_max_oversampling=1.5, read_rate_limit=1000,
         multivector_config={"mv": m.StrictModeMultivector(max_vectors=5)},
         sparse_config={"sp": m.StrictModeSparse(max_length=4)})
    want = {
        "enabled": True, "max_query_limit": 10, "max_timeout": 2,
        "unindexed_filtering_retrieve": False, "search_max_hnsw_ef": 3,
        "search_allow_exact": False, "search_max_oversampling": 1.5, "read_rate_limit": 1000,
        "multivector_config": {"mv": {"max_vectors": 5}}, "sparse_config": {"sp": {"max_length": 4}},
    }
    assert strict_json(http, collection_name) == want
    # an update merges: fields it sets replace, the others stay
    client.update_collection(collection_name, strict_mode_config=m.StrictModeConfig(
        max_query_limit=20, write_rate_limit=600, upsert_max_batchsize=100))
    want.update(max_query_limit=20, write_rate_limit=600, upsert_max_batchsize=100)
    assert strict_json(http, collection_name) == want
    cfg = client.get_collection(collection_name).config.strict_mode_config
    assert (cfg.enabled, cfg.max_query_limit, cfg.write_rate_limit, cfg.search_max_oversampling) == (
        True, 20, 600, 1.5)
    assert cfg.sparse_config["sp"].max_length == 4
    # Qdrant's shipped default supplies "enabled": false when a create leaves it out
    other = collection_name + "_2"
    try:
        make(client, other, n=0, max_points_count=5)
        assert strict_json(http, other) == {"enabled": False, "max_points_count": 5}
    finally:
        client.delete_collection(other)


def test_json_key_order_is_qdrants(http, collection_name):
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"size": 4, "distance": "Dot"},
        "strict_mode_config": {"write_rate_limit": 5, "enabled": True, "max_query_limit": 3}})
    assert r.status_code == 200, r.text
    raw = http.get(f"/collections/{collection_name}").text
    assert '"strict_mode_config":{"enabled":true,"max_query_limit":3,"write_rate_limit":5}' in raw


@pytest.mark.parametrize("strict,error", [
    ({"max_query_limit": 0},
     "Validation error in JSON body: [strict_mode_config.max_query_limit: value 0 invalid, must be 1 or larger]"),
    ({"read_rate_limit": 0}, "strict_mode_config.read_rate_limit: value 0 invalid, must be 1 or larger"),
    ({"write_rate_limit": 0}, "strict_mode_config.write_rate_limit: value 0 invalid"),
    ({"max_timeout": 0}, "strict_mode_config.max_timeout: value 0 invalid"),
    ({"max_points_count": 0}, "strict_mode_config.max_points_count: value 0 invalid"),
    ({"max_resident_memory_percent": 101},
     "strict_mode_config.max_resident_memory_percent: value 101 invalid, must be from 1 to 100"),
    ({"sparse_config": {"s": {"max_length": 0}}},
     "strict_mode_config.sparse_config.s.max_length: value 0 invalid"),
])
def test_invalid_values_422_create_nothing(http, collection_name, strict, error):
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"size": 4, "distance": "Dot"}, "strict_mode_config": strict})
    assert r.status_code == 422, r.text
    assert r.json()["status"]["error"] == error or error in r.json()["status"]["error"]
    assert http.get(f"/collections/{collection_name}").status_code == 404


@pytest.mark.parametrize("strict", [
    {"enabled": "yes"}, {"max_query_limit": -1}, {"max_query_limit": "10"},
    {"search_max_oversampling": "x"}, [1], {"multivector_config": [1]},
])
def test_wrong_types_400_and_patch_changes_nothing(http, collection_name, strict):
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"size": 4, "distance": "Dot"},
                       "strict_mode_config": {"enabled": True, "max_query_limit": 7}})
    assert r.status_code == 200, r.text
    before = strict_json(http, collection_name)
    r = http.patch(f"/collections/{collection_name}", json={"strict_mode_config": strict})
    assert r.status_code == 400, r.text
    assert r.json()["status"]["error"].startswith("Format error in JSON body: ")
    r = http.patch(f"/collections/{collection_name}", json={"strict_mode_config": {"max_timeout": 0}})
    assert r.status_code == 422, r.text
    assert strict_json(http, collection_name) == before


def test_persists_across_restart(server_factory):
    srv = server_factory().start()
    c = srv.client()
    try:
        make(c, "strict_p", n=3, enabled=True, max_query_limit=2, search_max_oversampling=2.5,
             sparse_config={"s": m.StrictModeSparse(max_length=7)})
        c.update_collection("strict_p", strict_mode_config=m.StrictModeConfig(filter_max_conditions=4))
    finally:
        c.close()
    import httpx
    want = httpx.get(srv.url + "/collections/strict_p").json()["result"]["config"]["strict_mode_config"]
    assert want == {"enabled": True, "max_query_limit": 2, "search_max_oversampling": 2.5,
                    "filter_max_conditions": 4, "sparse_config": {"s": {"max_length": 7}}}
    assert srv.stop() == 0
    srv.start()
    got = httpx.get(srv.url + "/collections/strict_p").json()["result"]["config"]["strict_mode_config"]
    assert got == want
    # and it is still enforced
    c = srv.client()
    try:
        refused(lambda: query(c, "strict_p", limit=3), 'Limit exceeded 3 > 2 for "limit"')
    finally:
        c.close()


# ---- request limits ------------------------------------------------------------------


def test_max_query_limit(client, collection_name):
    make(client, collection_name, enabled=True, max_query_limit=3)
    assert len(query(client, collection_name, limit=3)) == 3
    msg = refused(lambda: query(client, collection_name, limit=4), 'Limit exceeded 4 > 3 for "limit"')
    assert 'Help: Reduce the "limit" parameter to or below 3.' in msg
    # the default limit (10) counts too, as in Qdrant
    refused(lambda: query(client, collection_name), 'Limit exceeded 10 > 3 for "limit"')
    refused(lambda: client.scroll(collection_name, limit=5), 'Limit exceeded 5 > 3 for "limit"')
    assert len(client.scroll(collection_name, limit=3)[0]) == 3
    # count and retrieve have no limit
    assert client.count(collection_name).count == 10
    assert len(client.retrieve(collection_name, ids=list(range(10)))) == 10


def test_disabled_config_is_not_enforced(client, http, collection_name):
    make(client, collection_name, enabled=False, max_query_limit=1, search_allow_exact=False,
         upsert_max_batchsize=1, read_rate_limit=1, write_rate_limit=1)
    for _ in range(3):
        assert len(query(client, collection_name, limit=5,
                         search_params=m.SearchParams(exact=True))) == 5
    client.upsert(collection_name, [m.PointStruct(id=100 + i, vector=VEC) for i in range(3)], wait=True)
    # enabling it later applies every limit at once
    patch(http, collection_name, {"enabled": True})
    refused(lambda: query(client, collection_name, limit=2), 'Limit exceeded 2 > 1 for "limit"')


def test_max_timeout(client, http, collection_name):
    make(client, collection_name, enabled=True, max_timeout=2)
    assert len(query(client, collection_name, limit=3, timeout=2)) == 3
    refused(lambda: query(client, collection_name, limit=3, timeout=3),
            'Limit exceeded 3 > 2 for "timeout". Help: Reduce the "timeout" parameter to or below 2.')
    r = http.post(f"/collections/{collection_name}/points/scroll?timeout=5", json={"limit": 1})
    assert r.status_code == 400 and 'for \\"timeout\\"' in r.text
    assert http.post(f"/collections/{collection_name}/points/count?timeout=2", json={}).status_code == 200


def test_search_allow_exact(client, collection_name):
    make(client, collection_name, enabled=True, search_allow_exact=False)
    assert query(client, collection_name, limit=2, search_params=m.SearchParams(exact=False))
    refused(lambda: query(client, collection_name, limit=2, search_params=m.SearchParams(exact=True)),
            "Exact search disabled!. Help: Set exact=false.")


def test_hnsw_ef_and_oversampling_limits(client, collection_name):
    make(client, collection_name, enabled=True, search_max_hnsw_ef=5, search_max_oversampling=2.0)
    ok = m.SearchParams(hnsw_ef=5, quantization=m.QuantizationSearchParams(oversampling=2.0))
    assert query(client, collection_name, limit=2, search_params=ok)
    refused(lambda: query(client, collection_name, limit=2, search_params=m.SearchParams(hnsw_ef=6)),
            'Limit exceeded 6 > 5 for "hnsw_ef"')
    over = m.SearchParams(quantization=m.QuantizationSearchParams(oversampling=3.0))
    refused(lambda: query(client, collection_name, limit=2, search_params=over),
            'for "oversampling"')


def test_search_max_batchsize(client, collection_name):
    make(client, collection_name, enabled=True, search_max_batchsize=2)
    reqs = [m.QueryRequest(query=VEC, limit=1) for _ in range(2)]
    assert len(client.query_batch_points(collection_name, reqs)) == 2
    refused(lambda: client.query_batch_points(collection_name, reqs + reqs[:1]),
            'Limit exceeded 3 > 2 for "search batch size"')
    # a single query is not a batch
    assert query(client, collection_name, limit=1)


def test_upsert_max_batchsize(client, collection_name):
    make(client, collection_name, n=0, enabled=True, upsert_max_batchsize=2)
    pts = [m.PointStruct(id=i, vector=VEC) for i in range(3)]
    assert client.upsert(collection_name, pts[:2], wait=True).status == m.UpdateStatus.COMPLETED
    refused(lambda: client.upsert(collection_name, pts, wait=True),
            'Limit exceeded 3 > 2 for "upsert limit"')
    refused(lambda: client.update_vectors(
        collection_name, [m.PointVectors(id=i, vector=VEC) for i in range(3)], wait=True),
        'for "update limit"')
    assert client.count(collection_name).count == 2  # the refused upsert wrote nothing


def test_filter_max_conditions_and_condition_size(client, collection_name):
    make(client, collection_name, enabled=True, filter_max_conditions=2, condition_max_size=3)
    two = m.Filter(must=[m.FieldCondition(key="price", match=m.MatchValue(value=i)) for i in range(2)])
    three = m.Filter(must=[m.FieldCondition(key="price", match=m.MatchValue(value=i)) for i in range(3)])
    assert query(client, collection_name, limit=1, query_filter=two) == []
    refused(lambda: query(client, collection_name, limit=1, query_filter=three),
            "Filter condition limit reached (3 > 2). Help: Reduce the amount of conditions of your filter.")
    refused(lambda: client.count(collection_name, count_filter=three), "Filter condition limit reached")
    any4 = m.Filter(must=[m.FieldCondition(key="price", match=m.MatchAny(any=[1, 2, 3, 4]))])
    refused(lambda: client.scroll(collection_name, scroll_filter=any4, limit=1),
            "Condition size limit reached (4 > 3). Help: Reduce the size of your condition.")
    nested = m.Filter(must=[m.NestedCondition(nested=m.Nested(key="items", filter=three))])
    refused(lambda: query(client, collection_name, limit=1, query_filter=nested),
            "Filter condition limit reached (3 > 2)")


def test_unindexed_filtering_retrieve(client, collection_name):
    make(client, collection_name, enabled=True, unindexed_filtering_retrieve=False)
    berlin = m.Filter(must=[m.FieldCondition(key="city", match=m.MatchValue(value="Berlin"))])
    refused(lambda: query(client, collection_name, limit=3, query_filter=berlin),
            'Index required but not found for "city" of one of the following types: [keyword, uuid]. '
            "Help: Create an index for this key or use a different filter.")
    # an index of another type does not serve a keyword match
    client.create_payload_index(collection_name, "city", m.PayloadSchemaType.INTEGER, wait=True)
    refused(lambda: client.count(collection_name, count_filter=berlin), 'not found for "city"')
    client.create_payload_index(collection_name, "city", m.PayloadSchemaType.KEYWORD, wait=True)
    assert len(query(client, collection_name, limit=10, query_filter=berlin)) == 5
    rng = m.Filter(must=[m.FieldCondition(key="price", range=m.Range(gte=3))])
    refused(lambda: client.scroll(collection_name, scroll_filter=rng, limit=3),
            'not found for "price" of one of the following types: [float, integer]')
    # a filtered write is governed by the other flag
    client.delete(collection_name, m.FilterSelector(filter=rng), wait=True)
    assert client.count(collection_name).count == 3


def test_unindexed_filtering_update(client, collection_name):
    make(client, collection_name, enabled=True, unindexed_filtering_update=False)
    berlin = m.Filter(must=[m.FieldCondition(key="city", match=m.MatchValue(value="Berlin"))])
    assert len(query(client, collection_name, limit=10, query_filter=berlin)) == 5  # reads are free
    refused(lambda: client.delete(collection_name, m.FilterSelector(filter=berlin), wait=True),
            'Index required but not found for "city"')
    refused(lambda: client.set_payload(collection_name, {"x": 1}, points=berlin, wait=True),
            'Index required but not found for "city"')
    assert client.count(collection_name).count == 10
    # by ids needs no index
    client.delete(collection_name, m.PointIdsList(points=[0]), wait=True)
    client.create_payload_index(collection_name, "city", m.PayloadSchemaType.KEYWORD, wait=True)
    client.delete(collection_name, m.FilterSelector(filter=berlin), wait=True)
    assert client.count(collection_name).count == 5


def test_max_points_count(client, collection_name):
    make(client, collection_name, n=0, enabled=True, max_points_count=3)
    client.upsert(collection_name, [m.PointStruct(id=i, vector=VEC) for i in range(2)], wait=True)
    client.upsert(collection_name, [m.PointStruct(id=i, vector=VEC) for i in range(2, 4)], wait=True)
    refused(lambda: client.upsert(collection_name, [m.PointStruct(id=9, vector=VEC)], wait=True),
            "Max points count limit of 3 reached!")
    assert client.count(collection_name).count == 4
    client.delete(collection_name, m.PointIdsList(points=[0, 1]), wait=True)  # deletes still work
    client.upsert(collection_name, [m.PointStruct(id=9, vector=VEC)], wait=True)


def test_max_collection_vector_size_bytes(client, collection_name):
    # 4 float32 = 16 bytes a point: 3 points (48 bytes) reach a 40-byte limit
    make(client, collection_name, n=3, enabled=True, max_collection_vector_size_bytes=40)
    refused(lambda: client.upsert(collection_name, [m.PointStruct(id=50, vector=VEC)], wait=True),
            "Max vector storage size limit of ")
    assert client.count(collection_name).count == 3


# ---- rate limits ---------------------------------------------------------------------


def conditions(n):
    """A filter of n conditions: a read with it costs 1 + n tokens."""
    return m.Filter(must_not=[m.FieldCondition(key="price", match=m.MatchValue(value=-1 - i))
                              for i in range(n)])


def rate_limited(fn):
    """fn must be rate limited with a retry time: the client raises
    ResourceExhaustedResponse on both transports; returns (seconds, message)."""
    with pytest.raises(ResourceExhaustedResponse) as ei:
        fn()
    secs = ei.value.retry_after_s
    assert isinstance(secs, int) and 1 <= secs <= 2, secs
    return secs, str(ei.value)


def test_read_rate_limit(client, http, collection_name):
    # 60 reads a minute = one token a second; one count with 59 conditions
    # takes all 60, so the next read must wait about a second
    make(client, collection_name, enabled=True, read_rate_limit=60)
    assert client.count(collection_name, count_filter=conditions(59)).count == 10
    secs, msg = rate_limited(lambda: query(client, collection_name, limit=1))
    assert "Read rate limit exceeded: Operation requires 1 tokens but only" in msg
    time.sleep(secs)
    assert len(query(client, collection_name, limit=1)) == 1
    # over raw REST: 429, an integer Retry-After, Qdrant's message
    r = http.post(f"/collections/{collection_name}/points/count", json={})
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 2
    err = r.json()["status"]["error"]
    assert err.startswith("Rate limiting exceeded: Read rate limit exceeded: Operation requires 1 "
                          "tokens but only "), err
    assert err.endswith(f"were available. Retry after {r.headers['Retry-After']}s"), err
    # a read costing more than the whole minute can never pass: no Retry-After
    r = http.post(f"/collections/{collection_name}/points/count",
                  json={"filter": {"must_not": [{"key": "price", "match": {"value": -i}}
                                                for i in range(1, 61)]}})
    assert r.status_code == 429 and "Retry-After" not in r.headers, r.text
    assert "request larger than than rate limiter capacity" in r.json()["status"]["error"]
    # disabling strict mode lifts the limit at once
    patch(http, collection_name, {"enabled": False})
    for _ in range(3):
        assert client.count(collection_name, count_filter=conditions(59)).count == 10


def test_write_rate_limit(client, http, collection_name):
    # a write costs the points it touches: 60 points take the whole minute
    make(client, collection_name, n=0, enabled=True, write_rate_limit=60)
    client.upsert(collection_name, [m.PointStruct(id=i, vector=VEC) for i in range(60)], wait=True)
    secs, msg = rate_limited(
        lambda: client.upsert(collection_name, [m.PointStruct(id=100, vector=VEC)], wait=True))
    assert "Write rate limit exceeded: Operation requires 1 tokens but only" in msg
    assert client.count(collection_name).count == 60  # the refused write wrote nothing
    time.sleep(secs)
    client.upsert(collection_name, [m.PointStruct(id=100, vector=VEC)], wait=True)
    assert client.count(collection_name).count == 61
    # reads are not charged to the write bucket
    assert query(client, collection_name, limit=1)
    r = http.put(f"/collections/{collection_name}/points?wait=true",
                 json={"points": [{"id": 101, "vector": VEC}]})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 2, r.text
