"""Payload indexes as a user sees them through the official client: answers that use an
index equal the truth computed from the payloads, after restarts and kill -9, and while
an index is created under concurrent writes; count exact=false; full-text semantics.

The truth for a filter is computed here, in Python, from the payloads read back with
scroll (no filter), so a wrong index cannot hide behind the same wrong evaluation."""

import random
import threading
import time

import httpx
import pytest
from qdrant_client import models

from quiver_harness import prefer_grpc

DIM = 4
TAGS = ["red", "green", "blue", "cyan", "magenta"]


def payload(r, i):
    p = {"tag": r.choice(TAGS), "n": r.randint(0, 99), "f": r.random() * 10,
         "loc": {"lat": r.uniform(-60, 60), "lon": r.uniform(-180, 180)}}
    if r.random() < 0.2:
        p["tag"] = [r.choice(TAGS), r.choice(TAGS)]
    if r.random() < 0.05:
        p["n"] = 2.5  # not an integer: an integer index must still answer ranges exactly
    return p


def truth(points, cond):
    """Ids whose payload satisfies cond (a small subset of the filter language)."""
    kind, key, arg = cond
    out = set()
    for pid, p in points.items():
        v = p.get(key)
        vals = v if isinstance(v, list) else [v]
        if kind == "match" and arg in vals:
            out.add(pid)
        elif kind == "range" and any(isinstance(x, (int, float)) and not isinstance(x, bool)
                                     and arg[0] <= x < arg[1] for x in vals):
            out.add(pid)
    return out


def to_filter(cond):
    kind, key, arg = cond
    if kind == "match":
        return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=arg))])
    return models.Filter(must=[models.FieldCondition(key=key, range=models.Range(gte=arg[0], lt=arg[1]))])


CONDS = [("match", "tag", "red"), ("match", "tag", "cyan"), ("range", "n", (10, 30)),
         ("range", "n", (0, 3)), ("range", "f", (2.5, 2.75))]


def all_payloads(client, name):
    out, offset = {}, None
    while True:
        recs, offset = client.scroll(name, limit=500, offset=offset, with_payload=True)
        out.update({r.id: r.payload for r in recs})
        if offset is None:
            return out


def check_counts(client, name):
    points = all_payloads(client, name)
    for cond in CONDS:
        want = truth(points, cond)
        f = to_filter(cond)
        assert client.count(name, count_filter=f, exact=True).count == len(want), cond
        recs, _ = client.scroll(name, scroll_filter=f, limit=len(points) + 1)
        assert {r.id for r in recs} == want, cond
        hits = client.query_points(name, query=[1.0, 0, 0, 0], query_filter=f, limit=len(points) + 1,
                                   search_params=models.SearchParams(exact=True)).points
        assert {h.id for h in hits} == want, cond


def create(client, name, n, seed):
    r = random.Random(seed)
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance="Dot"))
    client.upsert(name, wait=True, points=[
        models.PointStruct(id=i, vector=[r.random() for _ in range(DIM)], payload=payload(r, i))
        for i in range(n)])


def declare(client, name):
    client.create_payload_index(name, "tag", field_schema="keyword", wait=True)
    client.create_payload_index(name, "n", field_schema="integer", wait=True)
    client.create_payload_index(name, "f", field_schema="float", wait=True)
    client.create_payload_index(name, "loc", field_schema="geo", wait=True)


def test_indexed_answers_equal_payload_truth(client, collection_name):
    create(client, collection_name, 1500, 1)
    check_counts(client, collection_name)  # no index
    declare(client, collection_name)
    check_counts(client, collection_name)
    # edits after the index exists: payload updates, deletions, overwrites
    r = random.Random(2)
    client.set_payload(collection_name, payload={"tag": "red"}, points=list(range(0, 1500, 7)), wait=True)
    client.overwrite_payload(collection_name, payload={"n": 11}, points=list(range(3, 1500, 11)), wait=True)
    client.delete(collection_name, points_selector=list(range(5, 1500, 13)), wait=True)
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=i, vector=[r.random() for _ in range(DIM)], payload=payload(r, i))
        for i in range(1400, 1700)])
    check_counts(client, collection_name)
    pts = all_payloads(client, collection_name)
    schema = client.get_collection(collection_name).payload_schema
    assert schema["tag"].points == sum(1 for p in pts.values() if "tag" in p)
    assert schema["n"].points == sum(1 for p in pts.values()
                                     if isinstance(p.get("n"), int) and not isinstance(p.get("n"), bool))


def test_count_not_exact_is_the_estimate(client, collection_name):
    create(client, collection_name, 800, 3)
    declare(client, collection_name)
    points = all_payloads(client, collection_name)
    # an indexed filter is answered exactly even when an estimate is enough
    f = to_filter(("match", "tag", "blue"))
    assert client.count(collection_name, count_filter=f, exact=False).count == \
        len(truth(points, ("match", "tag", "blue")))
    # an unindexed one is estimated from a sample: near the truth, never more than all
    f = models.Filter(must=[models.FieldCondition(key="loc.lat", range=models.Range(gte=0))])
    want = sum(1 for p in points.values() if p["loc"]["lat"] >= 0)
    got = client.count(collection_name, count_filter=f, exact=False).count
    assert client.count(collection_name, count_filter=f, exact=True).count == want
    assert abs(got - want) <= 0.25 * len(points) and got <= len(points)


def test_full_text_index_tokenizes_stems_and_phrases(client, collection_name):
    docs = {1: "The quick brown fox jumps", 2: "jumping foxes are quick", 3: "a brown quick fox",
            4: "Quickly, the dog jumped", 5: "nothing here"}
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance="Dot"))
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=i, vector=[1.0, 0, 0, 0], payload={"t": t}) for i, t in docs.items()])

    def ids(match):
        f = models.Filter(must=[models.FieldCondition(key="t", match=match)])
        recs, _ = client.scroll(collection_name, scroll_filter=f, limit=10)
        return sorted(r.id for r in recs)

    # without an index: substring containment (Qdrant's server)
    assert ids(models.MatchText(text="quick")) == [1, 2, 3]
    client.create_payload_index(collection_name, "t", wait=True, field_schema=models.TextIndexParams(
        type="text", tokenizer="word", lowercase=True, phrase_matching=True,
        stopwords=models.Language.ENGLISH,
        stemmer=models.SnowballParams(type="snowball", language=models.SnowballLanguage.ENGLISH)))
    assert ids(models.MatchText(text="quick")) == [1, 2, 3, 4]  # lowercased; quickly stems to quick
    assert ids(models.MatchText(text="jump")) == [1, 2, 4]  # jumps, jumping, jumped
    assert ids(models.MatchText(text="fox quick")) == [1, 2, 3]  # every token, any order
    assert ids(models.MatchTextAny(text_any="dog fox")) == [1, 2, 3, 4]
    assert ids(models.MatchPhrase(phrase="quick brown")) == [1]  # in order, adjacent
    assert ids(models.MatchPhrase(phrase="brown quick")) == [3]
    assert ids(models.MatchText(text="the")) == []  # a stop word only: nothing to match
    # the same through count and a filtered query
    f = models.Filter(must=[models.FieldCondition(key="t", match=models.MatchText(text="jump"))])
    assert client.count(collection_name, count_filter=f).count == 3
    assert sorted(p.id for p in client.query_points(collection_name, query=[1.0, 0, 0, 0],
                                                     query_filter=f, limit=10).points) == [1, 2, 4]


@pytest.mark.engine_only
def test_index_built_under_writes_and_after_kill(server_factory):
    """Create indexes while writers upsert and edit payloads; every acknowledged write is
    reflected in indexed answers, then again after kill -9 and a restart (the indexes are
    rebuilt from the recovered payloads)."""
    srv = server_factory().start()
    client = srv.client()
    create(client, "c", 2000, 4)
    stop = threading.Event()
    errors = []
    done = [0]

    def writer(seed):
        r = random.Random(seed)
        with httpx.Client(base_url=srv.url, timeout=30) as h:
            while not stop.is_set():
                i = r.randrange(2500)
                body = {"points": [{"id": i, "vector": [r.random() for _ in range(DIM)],
                                    "payload": payload(r, i)}]}
                resp = h.put("/collections/c/points?wait=true", json=body)
                if resp.status_code != 200:
                    errors.append(resp.text)
                done[0] += 1
                if r.random() < 0.3:
                    resp = h.post("/collections/c/points/payload?wait=true",
                                  json={"payload": {"tag": r.choice(TAGS)}, "points": [r.randrange(2500)]})
                    if resp.status_code not in (200, 404):
                        errors.append(resp.text)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (10, 11)]
    for t in threads:
        t.start()
    try:
        while done[0] < 100 and not errors:
            time.sleep(0.01)
        declare(client, "c")  # each declaration builds its index between writes
        at = done[0]
        while done[0] < at + 100 and not errors:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    check_counts(client, "c")
    client.close()
    srv.kill()
    srv.start()
    client = srv.client()
    check_counts(client, "c")
    assert set(client.get_collection("c").payload_schema) == {"tag", "n", "f", "loc"}
    client.close()
    assert srv.stop() == 0


@pytest.mark.skipif(prefer_grpc(), reason="checks the REST body shape")
def test_count_exact_false_rest(http, collection_name):
    assert http.put(f"/collections/{collection_name}", json={"vectors": {"size": DIM, "distance": "Dot"}}).status_code == 200
    assert http.put(f"/collections/{collection_name}/points?wait=true", json={"points": [
        {"id": i, "vector": [1, 0, 0, 0], "payload": {"k": "a" if i % 4 else "b"}} for i in range(100)]}).status_code == 200
    assert http.put(f"/collections/{collection_name}/index?wait=true",
                    json={"field_name": "k", "field_schema": "keyword"}).status_code == 200
    r = http.post(f"/collections/{collection_name}/points/count",
                  json={"exact": False, "filter": {"must": [{"key": "k", "match": {"value": "b"}}]}})
    assert r.status_code == 200 and r.json()["result"] == {"count": 25}


def _recall(client, name, flt, queries, **kw):
    hit = total = 0
    for q in queries:
        exact = client.query_points(name, query=q, query_filter=flt, limit=10,
                                    search_params=models.SearchParams(exact=True)).points
        got = client.query_points(name, query=q, query_filter=flt, limit=10,
                                  search_params=models.SearchParams(hnsw_ef=64, **kw)).points
        hit += len({p.id for p in got} & {e.id for e in exact})
        total += len(exact)
    return hit / max(total, 1)


def _wait_green(client, name):
    for _ in range(600):
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN and info.indexed_vectors_count:
            return info
        time.sleep(0.1)
    raise AssertionError("collection never turned green")


def test_tenant_graphs_without_a_global_graph(client, collection_name):
    """m = 0, payload_m = 16 and an is_tenant keyword index: no global graph, one graph per
    tenant (payload-block links), so a tenant's search goes through its own graph and
    finds its true neighbours; a search without a tenant scans."""
    dim, per = 16, 600
    r = random.Random(5)
    client.create_collection(
        collection_name, vectors_config=models.VectorParams(size=dim, distance="Cosine"),
        hnsw_config=models.HnswConfigDiff(m=0, payload_m=16, full_scan_threshold=10),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    client.create_payload_index(collection_name, "tenant", wait=True, field_schema=models.KeywordIndexParams(
        type="keyword", is_tenant=True))
    tenants = ["t%d" % i for i in range(5)]
    pts = [models.PointStruct(id=t * per + i, vector=[r.gauss(0, 1) for _ in range(dim)],
                              payload={"tenant": tenants[t]})
           for t in range(len(tenants)) for i in range(per)]
    client.upsert(collection_name, points=pts, wait=True)
    _wait_green(client, collection_name)
    queries = [[r.gauss(0, 1) for _ in range(dim)] for _ in range(15)]
    for t in tenants[:3]:
        flt = models.Filter(must=[models.FieldCondition(key="tenant", match=models.MatchValue(value=t))])
        assert _recall(client, collection_name, flt, queries) >= 0.9, t
        got = client.query_points(collection_name, query=queries[0], query_filter=flt, limit=10).points
        assert got and all(p.id // per == tenants.index(t) for p in got)
    # no tenant: every point, exactly (there is no global graph to search)
    q = queries[0]
    exact = client.query_points(collection_name, query=q, limit=10, search_params=models.SearchParams(exact=True)).points
    assert [p.id for p in client.query_points(collection_name, query=q, limit=10).points] == [p.id for p in exact]


def test_acorn_search_param(client, collection_name):
    dim = 16
    r = random.Random(6)
    client.create_collection(
        collection_name, vectors_config=models.VectorParams(size=dim, distance="Cosine"),
        hnsw_config=models.HnswConfigDiff(full_scan_threshold=10),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    client.create_payload_index(collection_name, "n", field_schema="integer", wait=True)
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=i, vector=[r.gauss(0, 1) for _ in range(dim)], payload={"n": i % 100})
        for i in range(4000)])
    _wait_green(client, collection_name)
    flt = models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=10, lt=15))])  # 5%
    queries = [[r.gauss(0, 1) for _ in range(dim)] for _ in range(15)]
    assert _recall(client, collection_name, flt, queries,
                   acorn=models.AcornSearchParams(enable=True, max_selectivity=0.4)) >= 0.9
    assert _recall(client, collection_name, flt, queries) >= 0.9


@pytest.mark.skipif(prefer_grpc(), reason="checks the REST validation message")
def test_acorn_params_validated(http, collection_name):
    assert http.put(f"/collections/{collection_name}", json={"vectors": {"size": 2, "distance": "Dot"}}).status_code == 200
    body = {"query": [1, 0], "params": {"acorn": {"enable": True, "max_selectivity": 1.5}}}
    r = http.post(f"/collections/{collection_name}/points/query", json=body)
    assert r.status_code == 422, r.text
    assert "max_selectivity" in r.json()["status"]["error"]
    body["params"]["acorn"]["max_selectivity"] = None
    assert http.post(f"/collections/{collection_name}/points/query", json=body).status_code == 200
