"""Vector datatypes (COMPAT-NOTES: uint8 vectors saturate, float16 round),
through the official client: what is stored, what reads back, how queries
are scored."""

import numpy as np
import pytest
from qdrant_client import models


def make(client, name, dist, dt):
    client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=dist, datatype=dt))


def test_uint8_saturates_toward_zero(client, collection_name):
    make(client, collection_name, models.Distance.DOT, models.Datatype.UINT8)
    client.upsert(collection_name, [
        models.PointStruct(id=1, vector=[300.7, -5.0, 12.9, 0.5]),
        models.PointStruct(id=2, vector=[1.0, 2.0, 3.0, 254.99]),
    ], wait=True)
    recs = {r.id: r.vector for r in client.retrieve(collection_name, [1, 2], with_vectors=True)}
    assert recs[1] == [255.0, 0.0, 12.0, 0.0]
    assert recs[2] == [1.0, 2.0, 3.0, 254.0]
    # the query is converted the same way: [2.9, -1, 0, 0] -> [2, 0, 0, 0]
    hits = client.query_points(collection_name, query=[2.9, -1.0, 0.0, 0.0], limit=2).points
    assert [(h.id, h.score) for h in hits] == [(1, 510.0), (2, 2.0)]
    assert client.get_collection(collection_name).config.params.vectors.datatype == models.Datatype.UINT8


def test_uint8_cosine_scores_are_cosines_of_the_saturated_vectors(client, collection_name):
    make(client, collection_name, models.Distance.COSINE, models.Datatype.UINT8)
    a, b = [300.0, 4.0, -2.0, 7.5], [3.0, 1.0, 1.0, 2.0]
    client.upsert(collection_name, [models.PointStruct(id=1, vector=a)], wait=True)
    hit = client.query_points(collection_name, query=b, limit=1).points[0]
    sa, sb = np.array([255, 4, 0, 7], np.float64), np.array([3, 1, 1, 2], np.float64)
    assert hit.score == pytest.approx(sa @ sb / np.linalg.norm(sa) / np.linalg.norm(sb), rel=1e-5)


@pytest.mark.parametrize("dist", [models.Distance.EUCLID, models.Distance.COSINE])
def test_float16_rounds(client, collection_name, dist):
    make(client, collection_name, dist, models.Datatype.FLOAT16)
    v = np.array([0.1, 1.0 / 3.0, 1000.123, -2.5e-5], np.float32)
    client.upsert(collection_name, [models.PointStruct(id=7, vector=v.tolist())], wait=True)
    got = np.asarray(client.retrieve(collection_name, [7], with_vectors=True)[0].vector, np.float32)
    want = v / np.linalg.norm(v) if dist == models.Distance.COSINE else v
    want = want.astype(np.float16).astype(np.float32)
    assert np.array_equal(got, want), (got, want)


@pytest.mark.parametrize("dt,dist", [
    (models.Datatype.UINT8, models.Distance.EUCLID),
    (models.Datatype.FLOAT16, models.Distance.COSINE),
    (models.Datatype.FLOAT16, models.Distance.DOT),
])
def test_indexed_datatypes_match_exact(client, collection_name, dt, dist):
    """A uint8 / float16 collection grows past the indexing threshold: the
    graph over the converted vectors finds what exact search finds."""
    import time
    name = collection_name
    client.create_collection(name, vectors_config=models.VectorParams(size=32, distance=dist, datatype=dt),
                             optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0))
    rng = np.random.default_rng(9)
    centres = rng.uniform(0, 200, (20, 32))
    x = centres[rng.integers(0, 20, 3000)] + rng.normal(0, 12, (3000, 32))
    if dt == models.Datatype.FLOAT16:
        x = (x - 100) / 50
    for s in range(0, 3000, 500):
        client.upsert(name, [models.PointStruct(id=i, vector=x[i].tolist()) for i in range(s, s + 500)], wait=True)
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=10))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN and info.indexed_vectors_count == 3000:
            break
        time.sleep(0.1)
    assert info.indexed_vectors_count == 3000, info
    hits = 0
    for qi in range(30):
        q = x[qi * 37] + rng.normal(0, 3, 32)
        a = {p.id for p in client.query_points(name, query=q.tolist(), limit=10).points}
        b = {p.id for p in client.query_points(name, query=q.tolist(), limit=10,
                                               search_params=models.SearchParams(exact=True)).points}
        hits += len(a & b)
    assert hits / 300 >= 0.95, hits / 300


def test_float16_and_uint8_rows_are_stored_natively(server_factory):
    """float16 rows take 2 bytes a component and uint8 rows 1 (float32: 4),
    in memory and on disk: an indexed segment's vector files have exactly
    that size; what reads back and what search returns is unchanged by a
    restart and a SIGKILL (uint8 Cosine vectors are normalised, so they stay
    float32)."""
    import os
    import time
    srv = server_factory().start()
    c = srv.client()
    dim, n = 48, 1500
    rng = np.random.default_rng(4)
    specs = {
        "f32": (models.Datatype.FLOAT32, models.Distance.EUCLID, 4),
        "f16": (models.Datatype.FLOAT16, models.Distance.DOT, 2),
        "u8": (models.Datatype.UINT8, models.Distance.MANHATTAN, 1),
        "u8cos": (models.Datatype.UINT8, models.Distance.COSINE, 4),
    }
    data = {}
    for name, (dt, dist, _) in specs.items():
        c.create_collection(name, vectors_config=models.VectorParams(size=dim, distance=dist, datatype=dt),
                            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=10),
                            hnsw_config=models.HnswConfigDiff(full_scan_threshold=10))
        x = rng.uniform(0, 255, (n, dim)) if dt == models.Datatype.UINT8 else rng.normal(0, 1, (n, dim))
        data[name] = x
        c.upsert(name, [models.PointStruct(id=i, vector=x[i].tolist()) for i in range(n)], wait=True)
    deadline = time.monotonic() + 60
    for name in specs:
        while time.monotonic() < deadline:
            info = c.get_collection(name)
            if info.status == models.CollectionStatus.GREEN and info.indexed_vectors_count == n:
                break
            time.sleep(0.1)
        assert info.indexed_vectors_count == n, (name, info)

    def snapshot(cl):
        out = {}
        for name in specs:
            recs = cl.retrieve(name, list(range(0, n, 97)), with_vectors=True)
            q = data[name][5] + 0.5
            hits = cl.query_points(name, query=q.tolist(), limit=10).points
            exact = cl.query_points(name, query=q.tolist(), limit=10,
                                    search_params=models.SearchParams(exact=True)).points
            out[name] = ([(r.id, r.vector) for r in recs], [(h.id, h.score) for h in hits],
                         [(h.id, h.score) for h in exact])
        return out

    before = snapshot(c)
    for name, (dt, dist, width) in specs.items():
        vecs, hits, exact = before[name]
        if dt == models.Datatype.FLOAT16:
            for pid, v in vecs:
                want = data[name][pid].astype(np.float32).astype(np.float16).astype(np.float32)
                assert np.array_equal(np.asarray(v, np.float32), want)
        elif dt == models.Datatype.UINT8 and dist != models.Distance.COSINE:
            for pid, v in vecs:
                assert v == [float(int(t)) for t in data[name][pid]]
        assert len({h for h, _ in hits} & {h for h, _ in exact}) >= 9, name
        segs = os.path.join(srv.storage, "collections", name, "segments")
        sizes = [os.path.getsize(os.path.join(segs, d, "vectors-0.dat"))
                 for d in os.listdir(segs) if d.startswith("seg-")]
        assert sizes == [32 + n * dim * width + 4], (name, sizes)
    for how in ("stop", "kill"):
        srv.stop() if how == "stop" else srv.kill()
        srv.start()
        assert snapshot(srv.client()) == before
    srv.stop()
