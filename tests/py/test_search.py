"""Search: query_points in its forms, batch queries, legacy search endpoints, and
results checked against a brute-force numpy computation for every distance."""

import numpy as np
import pytest
from qdrant_client import models

from quiver_harness import assert_error_shape

DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]
ASCENDING = {"Euclid", "Manhattan"}
N, DIM = 400, 12


def brute_scores(distance, stored, q):
    """Scores of every stored vector (float32 inputs, computed in float64)."""
    s = stored.astype(np.float64)
    q = q.astype(np.float64)
    if distance == "Cosine":
        s = s / np.linalg.norm(s, axis=1, keepdims=True)
        q = q / np.linalg.norm(q)
        return s @ q
    if distance == "Dot":
        return s @ q
    if distance == "Euclid":
        return np.sqrt(((s - q) ** 2).sum(axis=1))
    if distance == "Manhattan":
        return np.abs(s - q).sum(axis=1)
    raise ValueError(distance)


def expected_ranking(distance, ids, scores, mask=None, threshold=None):
    order = []
    for i, (pid, sc) in enumerate(zip(ids, scores)):
        if mask is not None and not mask[i]:
            continue
        if threshold is not None:
            if distance in ASCENDING and not sc < threshold:
                continue
            if distance not in ASCENDING and not sc > threshold:
                continue
        order.append((sc, pid))
    # best first; ties by id
    if distance in ASCENDING:
        order.sort(key=lambda t: (t[0], t[1]))
    else:
        order.sort(key=lambda t: (-t[0], t[1]))
    return [pid for _, pid in order], [sc for sc, _ in order]


def assert_ranking(points, exp_ids, exp_scores, rel=1e-4):
    got_ids = [p.id for p in points]
    got_scores = [p.score for p in points]
    assert len(got_ids) == len(exp_ids), (got_ids, exp_ids)
    # IDs must match exactly, except that neighbours whose true scores are equal
    # to within float32 noise may swap
    for i, (g, e) in enumerate(zip(got_ids, exp_ids)):
        if g != e:
            close = [j for j in range(len(exp_ids)) if abs(exp_scores[j] - exp_scores[i]) <= 1e-6 * max(1, abs(exp_scores[i]))]
            assert g in [exp_ids[j] for j in close], (i, got_ids, exp_ids)
    assert got_scores == pytest.approx(exp_scores, rel=rel, abs=1e-5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20261125)
    vecs = {d: rng.normal(size=(N, DIM)).astype(np.float32) for d in DISTANCES}
    ids = list(range(1, N + 1))
    payloads = [{"bucket": i % 5, "tag": ["a", "b", "c"][i % 3], "val": float(rng.uniform(0, 100))} for i in ids]
    queries = rng.normal(size=(12, DIM)).astype(np.float32)
    return ids, vecs, payloads, queries


@pytest.fixture(scope="module")
def coll(client, data):
    """One collection with a named vector per distance."""
    import uuid

    name = f"search_{uuid.uuid4().hex[:8]}"
    ids, vecs, payloads, _ = data
    client.create_collection(
        name, vectors_config={d.lower(): models.VectorParams(size=DIM, distance=d) for d in DISTANCES}
    )
    client.upsert(
        name,
        models.Batch(ids=ids, vectors={d.lower(): vecs[d].tolist() for d in DISTANCES}, payloads=payloads),
        wait=True,
    )
    yield name
    client.delete_collection(name)


@pytest.mark.parametrize("distance", DISTANCES)
def test_query_vector_matches_brute_force(client, coll, data, distance):
    ids, vecs, _, queries = data
    for q in queries:
        res = client.query_points(coll, query=q.tolist(), using=distance.lower(), limit=15)
        exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q))
        assert_ranking(res.points, exp_ids[:15], exp_scores[:15])


@pytest.mark.parametrize("distance", DISTANCES)
def test_query_with_filter_matches_brute_force(client, coll, data, distance):
    ids, vecs, payloads, queries = data
    flt = models.Filter(
        must=[models.FieldCondition(key="bucket", match=models.MatchAny(any=[1, 3]))],
        must_not=[models.FieldCondition(key="tag", match=models.MatchValue(value="b"))],
    )
    mask = [p["bucket"] in (1, 3) and p["tag"] != "b" for p in payloads]
    for q in queries[:4]:
        res = client.query_points(coll, query=q.tolist(), using=distance.lower(), query_filter=flt, limit=20)
        exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q), mask)
        assert_ranking(res.points, exp_ids[:20], exp_scores[:20])


@pytest.mark.parametrize("distance", DISTANCES)
def test_limit_offset(client, coll, data, distance):
    ids, vecs, _, queries = data
    q = queries[0]
    exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q))
    res = client.query_points(coll, query=q.tolist(), using=distance.lower(), limit=7, offset=5)
    assert_ranking(res.points, exp_ids[5:12], exp_scores[5:12])
    # default limit 10
    res = client.query_points(coll, query=q.tolist(), using=distance.lower())
    assert [p.id for p in res.points] == exp_ids[:10]
    # offset past the end
    res = client.query_points(coll, query=q.tolist(), using=distance.lower(), limit=10, offset=N + 5)
    assert res.points == []


@pytest.mark.parametrize("distance", DISTANCES)
def test_score_threshold(client, coll, data, distance):
    ids, vecs, _, queries = data
    q = queries[1]
    scores = brute_scores(distance, vecs[distance], q)
    exp_ids, exp_scores = expected_ranking(distance, ids, scores)
    t = float(np.float32((exp_scores[20] + exp_scores[21]) / 2))
    res = client.query_points(coll, query=q.tolist(), using=distance.lower(), limit=100, score_threshold=t)
    assert [p.id for p in res.points] == exp_ids[:21]
    for p in res.points:
        assert (p.score < t) if distance in ASCENDING else (p.score > t)


@pytest.mark.parametrize("distance", DISTANCES)
def test_score_threshold_boundary_is_exclusive(client, coll, data, distance):
    """A point whose score equals the threshold is dropped (score > t, or < t for distances)."""
    _, _, _, queries = data
    q = queries[2].tolist()
    top = client.query_points(coll, query=q, using=distance.lower(), limit=5).points
    t = top[2].score
    res = client.query_points(coll, query=q, using=distance.lower(), limit=5, score_threshold=t)
    assert [p.id for p in res.points] == [p.id for p in top[:2]]


def test_query_by_point_id_excludes_itself(client, coll, data):
    ids, vecs, _, _ = data
    for distance in DISTANCES:
        pid = 17
        q = vecs[distance][ids.index(pid)]
        res = client.query_points(coll, query=pid, using=distance.lower(), limit=10)
        got = [p.id for p in res.points]
        assert pid not in got
        exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q))
        exp = [(i, s) for i, s in zip(exp_ids, exp_scores) if i != pid][:10]
        assert_ranking(res.points, [i for i, _ in exp], [s for _, s in exp])


def test_query_by_missing_point_id_404(client, http, coll):
    r = http.post(f"/collections/{coll}/points/query", json={"query": 99999, "using": "dot"})
    assert_error_shape(r, status=404)


def test_query_with_payload_and_vectors(client, http, coll, data):
    ids, vecs, payloads, queries = data
    q = queries[3].tolist()
    # the REST defaults (the Python client itself sends with_payload=true)
    r = http.post(f"/collections/{coll}/points/query", json={"query": q, "using": "dot", "limit": 3})
    assert r.status_code == 200, r.text
    pts = r.json()["result"]["points"]
    assert len(pts) == 3
    assert all(p.get("payload") is None and p.get("vector") is None for p in pts)
    res = client.query_points(coll, query=q, using="dot", limit=3, with_payload=False)
    assert all(p.payload is None and p.vector is None for p in res.points)
    res = client.query_points(coll, query=q, using="dot", limit=3, with_payload=True, with_vectors=["euclid"])
    for p in res.points:
        i = ids.index(p.id)
        assert p.payload == payloads[i]
        assert set(p.vector) == {"euclid"}
        assert np.array_equal(np.array(p.vector["euclid"], dtype=np.float32), vecs["Euclid"][i])
    res = client.query_points(coll, query=q, using="dot", limit=3, with_payload=["tag"], with_vectors=True)
    for p in res.points:
        i = ids.index(p.id)
        assert p.payload == {"tag": payloads[i]["tag"]}
        assert set(p.vector) == {"cosine", "dot", "euclid", "manhattan"}


def test_query_without_query_is_id_order(client, coll):
    res = client.query_points(coll, limit=5)
    assert [p.id for p in res.points] == [1, 2, 3, 4, 5]
    res = client.query_points(
        coll, limit=4, query_filter=models.Filter(must=[models.FieldCondition(key="bucket", match=models.MatchValue(value=2))])
    )
    assert [p.id for p in res.points] == [2, 7, 12, 17]


def test_query_unnamed_vector_and_using_empty(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=3, distance="Euclid"))
    client.upsert(
        collection_name,
        [models.PointStruct(id=i, vector=[float(i), 0.0, 0.0]) for i in range(10)],
        wait=True,
    )
    res = client.query_points(collection_name, query=[3.2, 0.0, 0.0], limit=3)
    assert [p.id for p in res.points] == [3, 4, 2]
    assert [p.score for p in res.points] == pytest.approx([0.2, 0.8, 1.2], rel=1e-5)
    res = client.query_points(collection_name, query=[3.2, 0.0, 0.0], using="", limit=1)
    assert [p.id for p in res.points] == [3]


def test_query_unknown_vector_name(http, coll):
    r = http.post(f"/collections/{coll}/points/query", json={"query": [0.0] * DIM, "using": "nope"})
    msg = assert_error_shape(r, status=400)
    assert "nope" in msg


def test_query_wrong_dimension(http, coll):
    r = http.post(f"/collections/{coll}/points/query", json={"query": [0.0] * (DIM - 1), "using": "dot"})
    assert_error_shape(r, status=400, contains=f"expected dim: {DIM}, got {DIM - 1}")


@pytest.mark.parametrize("distance", DISTANCES)
def test_query_batch(client, coll, data, distance):
    ids, vecs, payloads, queries = data
    reqs = [
        models.QueryRequest(query=q.tolist(), using=distance.lower(), limit=5 + k)
        for k, q in enumerate(queries[:5])
    ]
    reqs.append(models.QueryRequest(
        query=queries[5].tolist(), using=distance.lower(), limit=5,
        filter=models.Filter(must=[models.FieldCondition(key="val", range=models.Range(gte=20, lt=60))]),
        with_payload=True,
    ))
    out = client.query_batch_points(coll, requests=reqs)
    assert len(out) == len(reqs)
    for k, q in enumerate(queries[:5]):
        exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q))
        assert_ranking(out[k].points, exp_ids[: 5 + k], exp_scores[: 5 + k])
    mask = [20 <= p["val"] < 60 for p in payloads]
    exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], queries[5]), mask)
    assert_ranking(out[5].points, exp_ids[:5], exp_scores[:5])
    assert all(20 <= p.payload["val"] < 60 for p in out[5].points)


@pytest.mark.parametrize("distance", DISTANCES)
def test_legacy_search(http, coll, data, distance):
    ids, vecs, payloads, queries = data
    q = queries[6]
    r = http.post(
        f"/collections/{coll}/points/search",
        json={"vector": {"name": distance.lower(), "vector": q.tolist()}, "limit": 8, "with_payload": True},
    )
    assert r.status_code == 200, r.text
    pts = [models.ScoredPoint(**p) for p in r.json()["result"]]
    exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q))
    assert_ranking(pts, exp_ids[:8], exp_scores[:8])
    assert pts[0].payload == payloads[ids.index(pts[0].id)]
    # the named-vector tuple form [name, vector] is not JSON; the legacy
    # "filter" and "offset" and "score_threshold" keys:
    mask = [p["tag"] == "c" for p in payloads]
    r = http.post(
        f"/collections/{coll}/points/search",
        json={"vector": {"name": distance.lower(), "vector": q.tolist()}, "limit": 4, "offset": 2,
              "filter": {"must": [{"key": "tag", "match": {"value": "c"}}]}},
    )
    assert r.status_code == 200, r.text
    pts = [models.ScoredPoint(**p) for p in r.json()["result"]]
    exp_ids, exp_scores = expected_ranking(distance, ids, brute_scores(distance, vecs[distance], q), mask)
    assert_ranking(pts, exp_ids[2:6], exp_scores[2:6])
    # search defaults to no payload
    assert all(p.payload is None for p in pts)


def test_legacy_search_unnamed(http, client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(collection_name, [models.PointStruct(id=i, vector=[float(i), 1.0]) for i in range(5)], wait=True)
    r = http.post(f"/collections/{collection_name}/points/search", json={"vector": [1.0, 0.0], "limit": 2})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert [p["id"] for p in res] == [4, 3]
    assert [p["score"] for p in res] == [4.0, 3.0]
    assert all(p["version"] is not None for p in res)


def test_legacy_search_batch(http, coll, data):
    ids, vecs, _, queries = data
    body = {"searches": [
        {"vector": {"name": d.lower(), "vector": queries[7].tolist()}, "limit": 6} for d in DISTANCES
    ]}
    r = http.post(f"/collections/{coll}/points/search/batch", json=body)
    assert r.status_code == 200, r.text
    out = r.json()["result"]
    assert len(out) == len(DISTANCES)
    for d, res in zip(DISTANCES, out):
        pts = [models.ScoredPoint(**p) for p in res]
        exp_ids, exp_scores = expected_ranking(d, ids, brute_scores(d, vecs[d], queries[7]))
        assert_ranking(pts, exp_ids[:6], exp_scores[:6])


def test_search_tie_order_by_id(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    # identical vectors: equal scores, order by id
    client.upsert(collection_name, [models.PointStruct(id=i, vector=[1.0, 1.0]) for i in [9, 3, 7, 1, 5]], wait=True)
    res = client.query_points(collection_name, query=[1.0, 2.0], limit=5)
    assert [p.id for p in res.points] == [1, 3, 5, 7, 9]


def test_search_params_accepted(client, coll, data):
    """hnsw_ef / exact / quantization params change nothing about exact results."""
    ids, vecs, _, queries = data
    q = queries[8]
    exp_ids, exp_scores = expected_ranking("Dot", ids, brute_scores("Dot", vecs["Dot"], q))
    for params in (models.SearchParams(hnsw_ef=64), models.SearchParams(exact=True),
                   models.SearchParams(hnsw_ef=16, exact=False, indexed_only=False)):
        res = client.query_points(coll, query=q.tolist(), using="dot", limit=10, search_params=params)
        assert_ranking(res.points, exp_ids[:10], exp_scores[:10])
