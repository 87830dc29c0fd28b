"""Segment lifecycle through the official client: a collection grows past
indexing_threshold, the optimizer builds an HNSW segment and swaps it in, and
the collection turns green with every vector indexed; approximate results
agree with params.exact; writes during optimization, PATCH-triggered
rebuilds, vacuum and merge; restarts and SIGKILL during optimizations lose
nothing and leave no stray segment directories.

Sizes are small (64-d, a few thousand points) and thresholds set low so that
builds take well under a second each on 2 cores."""

import json
import os
import random
import re
import threading
import time

import numpy as np
import pytest
from qdrant_client import models

from quiver_harness import ServerProc, http_get

DIM = 64
TIMEOUT = 60


def vectors(n, seed=7, dim=DIM):
    rng = np.random.default_rng(seed)
    # clustered, like embeddings: 40 centres plus noise
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return x.astype(np.float32)


def upload(client, name, x, start=0, batch=500, payload=True):
    for s in range(0, len(x), batch):
        pts = [
            models.PointStruct(
                id=start + i,
                vector=x[i].tolist(),
                payload={"g": (start + i) % 10, "tag": f"t{(start + i) % 3}"} if payload else None,
            )
            for i in range(s, min(s + batch, len(x)))
        ]
        client.upsert(name, pts, wait=True)


def create(client, name, threshold_kb=0, **opt):
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=threshold_kb, **opt),
        hnsw_config=models.HnswConfigDiff(m=16, ef_construct=100),
    )


def wait_green(client, name, want_indexed=None, timeout=TIMEOUT):
    """Polls until status is green (and indexed_vectors_count is want_indexed)."""
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN and (
            want_indexed is None or info.indexed_vectors_count == want_indexed
        ):
            return info
        time.sleep(0.1)
    raise AssertionError(f"collection {name} not green/indexed after {timeout}s: {info}")


def recall(client, name, queries, flt=None, limit=10, **params):
    total = 0.0
    for q in queries:
        approx = client.query_points(
            name, query=q.tolist(), limit=limit, query_filter=flt,
            search_params=models.SearchParams(**params) if params else None,
        ).points
        exact = client.query_points(
            name, query=q.tolist(), limit=limit, query_filter=flt,
            search_params=models.SearchParams(exact=True),
        ).points
        if flt is not None:
            assert all(p.payload["g"] == 3 for p in approx), "a filtered-out point was returned"
        assert len(approx) == len(exact)
        total += len({p.id for p in approx} & {p.id for p in exact}) / max(1, len(exact))
    return total / len(queries)


def segment_dirs(storage, name):
    d = os.path.join(storage, "collections", name, "segments")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def optimizations(http, name, with_=None):
    r = http.get(f"/collections/{name}/optimizations", params={"with": with_} if with_ else None)
    assert r.status_code == 200, r.text
    return r.json()["result"]


# ---- through the session server ----------------------------------------------------------


def test_grows_past_threshold_turns_green_and_matches_exact(client, http, collection_name):
    name = collection_name
    x = vectors(4000)
    create(client, name)  # indexing disabled while uploading, as Qdrant's bulk-upload guide does
    upload(client, name, x)
    info = client.get_collection(name)
    assert info.status == models.CollectionStatus.GREEN
    assert info.indexed_vectors_count == 0 and info.points_count == 4000
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    info = wait_green(client, name, want_indexed=4000)
    assert info.points_count == 4000
    q = vectors(40, seed=99)
    assert recall(client, name, q) >= 0.95
    assert recall(client, name, q, hnsw_ef=128) >= 0.95
    flt = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=3))])
    assert recall(client, name, q, flt=flt) >= 0.95
    rep = optimizations(http, name, "completed,idle_segments,queued")
    assert rep["running"] == [] and rep["queued"] == []
    assert rep["summary"]["queued_optimizations"] == 0
    done = rep["completed"]
    assert done and done[0]["optimizer"] == "indexing" and done[0]["status"] == "done"
    assert sum(s["points_count"] for s in done[0]["segments"]) == 4000
    assert "started_at" in done[0]["progress"] and done[0]["progress"]["duration_sec"] >= 0
    assert any(s["points_count"] == 4000 for s in rep["idle_segments"])


def test_deletes_and_updates_after_indexing_stay_exact(client, collection_name):
    name = collection_name
    x = vectors(3000, seed=3)
    create(client, name, threshold_kb=0)
    upload(client, name, x)
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    wait_green(client, name, want_indexed=3000)
    # a deleted point never comes back; an updated vector is found at its new place
    target = x[10]
    hit = client.query_points(name, query=target.tolist(), limit=1).points[0]
    assert hit.id == 10
    client.delete(name, points_selector=models.PointIdsList(points=[10]), wait=True)
    res = client.query_points(name, query=target.tolist(), limit=20).points
    assert 10 not in {p.id for p in res}
    client.upsert(name, [models.PointStruct(id=11, vector=target.tolist(), payload={"moved": True})], wait=True)
    hit = client.query_points(name, query=target.tolist(), limit=1, with_payload=True).points[0]
    assert hit.id == 11 and hit.payload == {"moved": True}
    # a payload change of an indexed point, then a vector update of another
    client.set_payload(name, payload={"extra": 1}, points=[12], wait=True)
    rec = client.retrieve(name, [12], with_payload=True, with_vectors=True)[0]
    assert rec.payload == {"g": 2, "tag": "t0", "extra": 1}
    assert np.allclose(rec.vector, x[12] / np.linalg.norm(x[12]), atol=1e-6)
    client.update_vectors(name, [models.PointVectors(id=13, vector=(-target).tolist())], wait=True)
    hit = client.query_points(name, query=(-target).tolist(), limit=1).points[0]
    assert hit.id == 13
    assert client.count(name, exact=True).count == 2999
    ids = [p.id for p in client.scroll(name, limit=5000)[0]]
    assert ids == sorted(ids) and len(ids) == 2999 and 10 not in ids
    assert recall(client, name, vectors(30, seed=5)) >= 0.95


def test_patch_hnsw_config_rebuilds(client, http, collection_name):
    name = collection_name
    create(client, name)
    upload(client, name, vectors(2000, seed=4))
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    wait_green(client, name, want_indexed=2000)
    client.update_collection(name, hnsw_config=models.HnswConfigDiff(m=8, ef_construct=64))
    assert client.get_collection(name).config.hnsw_config.m == 8

    def rebuilt():
        return any(o["optimizer"] == "config_mismatch" and o["status"] == "done"
                   for o in optimizations(http, name, "completed")["completed"])

    deadline = time.monotonic() + TIMEOUT
    while not rebuilt() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rebuilt()
    wait_green(client, name, want_indexed=2000)
    assert recall(client, name, vectors(30, seed=8)) >= 0.9


def test_vacuum_and_merge(client, http, collection_name):
    name = collection_name
    create(client, name, deleted_threshold=0.1, vacuum_min_vector_number=100, default_segment_number=1)
    x = vectors(3000, seed=11)
    upload(client, name, x[:1500])
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    wait_green(client, name, want_indexed=1500)
    upload(client, name, x[1500:], start=1500)  # a second segment, indexed once writes pause...
    wait_green(client, name, want_indexed=3000)  # ...then merged with the first
    rep = optimizations(http, name, "completed")
    kinds = [o["optimizer"] for o in rep["completed"]]
    assert "merge" in kinds, kinds
    assert client.get_collection(name).segments_count <= 2  # the merged one + the appendable
    client.delete(name, points_selector=models.PointIdsList(points=list(range(0, 3000, 3))), wait=True)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if "vacuum" in [o["optimizer"] for o in optimizations(http, name, "completed")["completed"]]:
            break
        time.sleep(0.1)
    info = wait_green(client, name, want_indexed=2000)
    assert info.points_count == 2000
    assert "vacuum" in [o["optimizer"] for o in optimizations(http, name, "completed")["completed"]]
    assert recall(client, name, vectors(30, seed=12)) >= 0.95


# ---- restarts and crashes --------------------------------------------------------------------


def state(client, name):
    out = {}
    for p in client.scroll(name, limit=100000, with_payload=True, with_vectors=True)[0]:
        out[p.id] = (np.asarray(p.vector, np.float32), p.payload)
    return out


def test_index_survives_restart_and_answers_at_once(server_factory):
    srv = server_factory().start()
    c = srv.client()
    create(c, "idx")
    x = vectors(3000, seed=21)
    upload(c, "idx", x)
    c.update_collection("idx", optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    wait_green(c, "idx", want_indexed=3000)
    q = vectors(20, seed=22)
    before = [[p.id for p in c.query_points("idx", query=v.tolist(), limit=10).points] for v in q]
    dirs = segment_dirs(srv.storage, "idx")
    assert len(dirs) == 1 and dirs[0].startswith("seg-")
    for how in ("stop", "kill"):
        srv.stop() if how == "stop" else srv.kill()
        srv.start()
        c = srv.client()
        info = c.get_collection("idx")  # loaded, not rebuilt: green at once
        assert info.status == models.CollectionStatus.GREEN and info.indexed_vectors_count == 3000
        after = [[p.id for p in c.query_points("idx", query=v.tolist(), limit=10).points] for v in q]
        assert after == before
        assert segment_dirs(srv.storage, "idx") == dirs
    srv.stop()


@pytest.mark.engine_only
def test_sigkill_during_optimizations_loses_nothing(server_factory):
    """Writes keep flowing while the optimizer indexes, merges and vacuums;
    SIGKILL lands at random moments; after each restart every acknowledged
    write is there, and once the optimizer settles the segment directories
    are exactly the segments in use."""
    rng = random.Random(5)
    srv = server_factory().start()
    c = srv.client()
    create(c, "crash", threshold_kb=60, deleted_threshold=0.1, vacuum_min_vector_number=100,
           default_segment_number=1)
    x = vectors(30000, seed=31)  # distinct vectors: ties would make recall meaningless
    model = {}
    next_id = 0
    for rnd in range(6):
        stop = threading.Event()
        lock = threading.Lock()
        in_flight = set()  # deletes sent but not acknowledged

        def writer():
            nonlocal next_id
            cl = srv.client()
            while not stop.is_set() and next_id + 200 <= len(x):
                with lock:
                    ids = list(range(next_id, next_id + 200))
                    next_id += 200
                pts = [models.PointStruct(id=i, vector=x[i].tolist(), payload={"r": rnd})
                       for i in ids]
                try:
                    cl.upsert("crash", pts, wait=True)
                except Exception:  # noqa: BLE001 - the server died under us
                    return
                with lock:
                    for i in ids:
                        model[i] = rnd
                    dels = rng.sample(sorted(model), min(40, len(model)))
                    in_flight.update(dels)
                try:
                    cl.delete("crash", points_selector=models.PointIdsList(points=dels), wait=True)
                except Exception:  # noqa: BLE001
                    return
                with lock:
                    for i in dels:
                        model.pop(i, None)
                    in_flight.clear()
                time.sleep(0.05)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(rng.uniform(0.8, 2.5))
        srv.kill()
        stop.set()
        t.join()
        srv.start()
        c = srv.client()
        got = {p.id: p.payload["r"] for p in c.scroll("crash", limit=1000000, with_payload=True)[0]}
        # every acknowledged write is there; an unacknowledged one may be too
        missing = [i for i in model if i not in got and i not in in_flight]
        assert not missing, f"round {rnd}: acknowledged points lost: {missing[:10]}"
        extra = [i for i in got if i not in model]
        assert len(extra) <= 200, f"round {rnd}: {len(extra)} unexpected points"
        # writes in flight at the kill may or may not have landed: follow the server
        for i in extra:
            model[i] = got[i]
        for i in list(in_flight):
            if i not in got:
                model.pop(i, None)
        assert all(model[i] == got[i] for i in model), f"round {rnd}: payloads differ"
    info = wait_green(c, "crash")
    assert info.points_count == len(model)
    dirs = segment_dirs(srv.storage, "crash")
    assert not [d for d in dirs if d.endswith(".tmp")], dirs
    # persisted segments are the ones in use (the appendable segment has no directory)
    assert len(dirs) <= info.segments_count, (dirs, info.segments_count)
    q = vectors(20, seed=32)
    assert recall(c, "crash", q) >= 0.9
    srv.stop()


# ---- quantization ------------------------------------------------------------------------


def quant_collection(client, name, quant, n=3000, seed=41):
    """A collection whose optimized segment has codes but no graph (m = 0), so
    queries scan the codes."""
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0),
        hnsw_config=models.HnswConfigDiff(m=0),
        quantization_config=quant,
    )
    upload(client, name, vectors(n, seed=seed))
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN and info.segments_count == 2:
            return
        time.sleep(0.1)
    raise AssertionError(f"no optimized segment: {info}")


def scores_of(client, name, q, **params):
    return [(p.id, p.score) for p in client.query_points(
        name, query=q.tolist(), limit=10, search_params=models.SearchParams(**params)).points]


def test_scalar_quantization_scans_codes_and_rescores(client, collection_name):
    name = collection_name
    quant_collection(client, name, models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99)))
    q = vectors(30, seed=42)
    rescored = over = 0.0
    for v in q:
        exact = scores_of(client, name, v, exact=True)
        ids = {i for i, _ in exact}
        # default: codes, then rescoring with the float vectors: exact scores for what it finds
        got = scores_of(client, name, v)
        exact_score = dict(exact)
        for i, s in got:
            if i in exact_score:
                assert s == pytest.approx(exact_score[i], abs=1e-5)
        rescored += len(ids & {i for i, _ in got}) / 10
        over += len(ids & {i for i, _ in scores_of(client, name, v, quantization=models.QuantizationSearchParams(oversampling=3.0))}) / 10
        # ignore: the float vectors, so exactly the exact results
        assert scores_of(client, name, v, quantization=models.QuantizationSearchParams(ignore=True)) == exact
        # no rescoring: estimates, close to the real scores
        est = scores_of(client, name, v, quantization=models.QuantizationSearchParams(rescore=False))
        assert all(abs(s - exact_score.get(i, s)) < 0.05 for i, s in est)
    assert rescored / len(q) >= 0.85
    assert over / len(q) >= 0.97 and over >= rescored


def test_binary_quantization_oversampling_and_rescoring(client, collection_name):
    """One-bit codes of clustered 64-d data rank poorly (recall ~0.4 at 8x
    oversampling, as a numpy simulation of the same codes gives); what must
    hold is that oversampling widens the rescored candidate set up to the
    exact answer."""
    name = collection_name
    quant_collection(client, name, models.BinaryQuantization(binary=models.BinaryQuantizationConfig()))
    q = vectors(30, seed=43)
    r1 = r8 = 0.0
    for v in q:
        exact = scores_of(client, name, v, exact=True)
        ids = {i for i, _ in exact}
        r1 += len(ids & {i for i, _ in scores_of(client, name, v)}) / 10
        r8 += len(ids & {i for i, _ in scores_of(client, name, v, quantization=models.QuantizationSearchParams(oversampling=8.0))}) / 10
        everything = models.QuantizationSearchParams(oversampling=300.0)  # 3000 points / limit 10
        got = scores_of(client, name, v, quantization=everything)
        assert [i for i, _ in got] == [i for i, _ in exact]
        assert [s for _, s in got] == pytest.approx([s for _, s in exact], abs=1e-6)
    assert r8 > r1


@pytest.mark.parametrize("ratio,min_recall", [(models.CompressionRatio.X4, 0.9), (models.CompressionRatio.X16, 0.5)])
def test_product_quantization(client, collection_name, ratio, min_recall):
    name = collection_name
    quant_collection(client, name, models.ProductQuantization(
        product=models.ProductQuantizationConfig(compression=ratio)), n=2000)
    q = vectors(20, seed=45)
    r1 = r4 = 0.0
    for v in q:
        exact = scores_of(client, name, v, exact=True)
        ids = {i for i, _ in exact}
        r1 += len(ids & {i for i, _ in scores_of(client, name, v)}) / 10
        got = scores_of(client, name, v, quantization=models.QuantizationSearchParams(oversampling=4.0))
        r4 += len(ids & {i for i, _ in got}) / 10
        exact_score = dict(exact)
        assert all(s == pytest.approx(exact_score[i], abs=1e-5) for i, s in got if i in exact_score)
    assert r1 / len(q) >= min_recall and r4 >= r1 and r4 / len(q) >= 0.9, (r1 / len(q), r4 / len(q))


@pytest.mark.parametrize("bits", ["BITS1", "BITS1_5", "BITS2", "BITS4"])
def test_turbo_quantization(client, collection_name, bits):
    """Turbo codes (rotation + Lloyd-Max levels, float queries) under a graph:
    recall grows with oversampling and with the bits; 4 bits find the exact
    top 10 at 4x oversampling; rescoring gives exact scores; rescore=false
    gives estimates near them."""
    name = collection_name
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0),
        quantization_config=models.TurboQuantization(
            turbo=models.TurboQuantQuantizationConfig(bits=getattr(models.TurboQuantBitSize, bits))),
    )
    upload(client, name, vectors(3000, seed=61))
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    wait_green(client, name, want_indexed=3000)
    q = vectors(20, seed=62)
    recall = {1.0: 0.0, 4.0: 0.0, 16.0: 0.0}
    for v in q:
        exact = scores_of(client, name, v, exact=True)
        ids, exact_score = {i for i, _ in exact}, dict(exact)
        for os_ in recall:
            got = scores_of(client, name, v, quantization=models.QuantizationSearchParams(oversampling=os_))
            assert all(s == pytest.approx(exact_score[i], abs=1e-5) for i, s in got if i in exact_score)
            recall[os_] += len(ids & {i for i, _ in got}) / 10 / len(q)
        est = scores_of(client, name, v, quantization=models.QuantizationSearchParams(rescore=False))
        every = {p.id: p.score for p in client.query_points(
            name, query=v.tolist(), limit=3000, search_params=models.SearchParams(exact=True)).points}
        errs = [abs(s - every[i]) for i, s in est]
        # estimates: not the exact scores, but near them (the best 10 of 3000 estimates
        # lean high: the ones whose error was positive win)
        assert len(est) == 10 and max(errs) > 0 and sum(errs) / 10 < 0.4, errs
    print(bits, recall)
    assert recall[1.0] <= recall[4.0] + 0.05 and recall[4.0] <= recall[16.0] + 0.05, recall
    assert recall[16.0] >= {"BITS1": 0.6, "BITS1_5": 0.8, "BITS2": 0.9, "BITS4": 0.99}[bits], recall
    if bits == "BITS4":
        assert recall[4.0] >= 0.95, recall


def test_quantization_patch_rebuilds_codes(client, http, collection_name):
    name = collection_name
    quant_collection(client, name, None, n=1500)
    client.update_collection(name, quantization_config=models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8)))
    deadline = time.monotonic() + TIMEOUT
    done = []
    while time.monotonic() < deadline:
        done = [o["optimizer"] for o in optimizations(http, name, "completed")["completed"]]
        if "config_mismatch" in done:
            break
        time.sleep(0.1)
    assert "config_mismatch" in done, done
    v = vectors(1, seed=44)[0]
    est = scores_of(client, name, v, quantization=models.QuantizationSearchParams(rescore=False))
    exact = dict(scores_of(client, name, v, exact=True))
    assert any(i in exact and s != exact[i] for i, s in est), "estimates equal exact scores: no codes?"


def test_graph_search_over_scalar_codes(client, collection_name):
    """An indexed segment with int8 codes: the graph is walked with the codes
    and the candidates rescored with the floats."""
    name = collection_name
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0),
        quantization_config=models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99)),
    )
    upload(client, name, vectors(4000, seed=51))
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    wait_green(client, name, want_indexed=4000)
    q = vectors(30, seed=52)
    r1 = r2 = 0.0
    for v in q:
        exact = scores_of(client, name, v, exact=True)
        exact_score, ids = dict(exact), {i for i, _ in exact}
        got = scores_of(client, name, v)
        assert all(s == pytest.approx(exact_score[i], abs=1e-5) for i, s in got if i in exact_score)
        r1 += len(ids & {i for i, _ in got}) / 10
        over = models.QuantizationSearchParams(oversampling=2.0)
        r2 += len(ids & {i for i, _ in scores_of(client, name, v, quantization=over)}) / 10
        est = scores_of(client, name, v, quantization=models.QuantizationSearchParams(rescore=False))
        assert all(abs(s - exact_score[i]) < 0.05 for i, s in est if i in exact_score)
    assert r1 / len(q) >= 0.85 and r2 / len(q) >= 0.95, (r1 / len(q), r2 / len(q))


def mapped_rss_kb(pid, name):
    """Resident KB of each mapping of collection name's segment vector files in
    process pid (from /proc/<pid>/smaps), by file path."""
    return _segment_files_rss_kb(pid, name, "vectors-")


def _segment_files_rss_kb(pid, name, prefix):
    """Resident KB of each mapping of collection name's segment files whose
    name starts with prefix, by path.  A mapping's header line starts with
    its address range (anonymous mappings have no path: they end cur)."""
    out, cur = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", parts[0]):
                path = parts[5] if len(parts) >= 6 else ""
                ok = f"/collections/{name}/segments/" in path and os.path.basename(path).startswith(prefix)
                cur = path if ok else None
            elif cur and line.startswith("Rss:"):
                out[cur] = out.get(cur, 0) + int(parts[1])
    return out


@pytest.mark.engine_only
def test_vector_memory_placement(server_factory):
    """VectorParams.memory decides whether a segment's vectors are resident
    ("cached": populated at load) or paged in on demand ("cold"): it
    overrides on_disk and memmap_threshold (as an explicit on_disk=false
    does); without either, on_disk=true and segments whose vectors reach the
    optimizers' memmap_threshold (KB) are cold, others resident; after a
    restart too, and search still answers exactly; a PATCH changing it
    re-advises the existing segments at once.  The graph (hnsw_config
    memory / on_disk) is on the heap unless cold, then served from a mapping
    of its file paged in on demand."""
    srv = server_factory().start()
    c = srv.client()
    x = vectors(3000, seed=41)  # 750 KB of rows
    setups = {
        "cold": dict(memory=models.Memory.COLD, on_disk=None, memmap=None),
        "cold_over_ram": dict(memory=models.Memory.COLD, on_disk=False, memmap=None),
        "cached_over_disk": dict(memory=models.Memory.CACHED, on_disk=True, memmap=None),
        "cached_over_mm": dict(memory=models.Memory.CACHED, on_disk=None, memmap=500),
        "ram_over_mm": dict(memory=None, on_disk=False, memmap=500),
        "ram": dict(memory=None, on_disk=None, memmap=None),
        "disk": dict(memory=None, on_disk=True, memmap=None),
        "mm": dict(memory=None, on_disk=None, memmap=500),
        "mm_big": dict(memory=None, on_disk=None, memmap=1000),  # above the segment: resident
    }
    resident = {"cached_over_disk", "cached_over_mm", "ram_over_mm", "ram", "mm_big"}
    graphs = {"cold": models.HnswConfigDiff(memory=models.Memory.COLD),  # name: hnsw_config
              "disk": models.HnswConfigDiff(on_disk=True),
              "mm": models.HnswConfigDiff(memory=models.Memory.PINNED)}
    for name, s in setups.items():
        c.create_collection(
            name,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE,
                                               on_disk=s["on_disk"], memory=s["memory"]),
            hnsw_config=graphs.get(name),
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0, memmap_threshold=s["memmap"]))
        upload(c, name, x, payload=False)
        c.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
        wait_green(c, name, want_indexed=3000)
    q = vectors(5, seed=42)
    want = [[p.id for p in c.query_points("cached_over_disk", query=v.tolist(), limit=10,
                                          search_params=models.SearchParams(exact=True)).points] for v in q]

    def check(expect_resident, when, names=setups):
        for name in names:
            rss = mapped_rss_kb(srv.proc.pid, name)
            assert len(rss) == 1, (name, rss)
            kb = list(rss.values())[0]
            if name in expect_resident:
                assert kb >= 700, (name, when, kb)
            else:
                assert kb < 200, (name, when, kb)
            graph = _segment_files_rss_kb(srv.proc.pid, name, "hnsw-")
            if name in ("cold", "disk"):  # a mapping, paged in on demand
                assert len(graph) == 1 and list(graph.values())[0] < 100, (name, when, graph)
            else:
                assert graph == {}, (name, when, graph)  # on the heap

    for restart in (False, True):
        if restart:
            srv.stop()
            srv.start()
            c = srv.client()
        check(resident, f"restart={restart}")
        for name in setups:
            got = [[p.id for p in c.query_points(name, query=v.tolist(), limit=10,
                                                 search_params=models.SearchParams(exact=True)).points]
                   for v in q]
            assert got == want, name
    # PATCH: applied to the mapped segments at once (the queries above paged
    # every collection in: cold ones are cold again only after a release or
    # a restart), and kept after a restart
    srv.stop()
    srv.start()
    c = srv.client()
    check(resident, "before PATCH", names=["cold", "cached_over_mm"])
    c.update_collection("cold", vectors_config={"": models.VectorParamsDiff(memory=models.Memory.CACHED)})
    c.update_collection("cached_over_mm", vectors_config={"": models.VectorParamsDiff(memory=models.Memory.COLD)})
    flipped = (resident - {"cached_over_mm"}) | {"cold"}
    check(flipped, "after PATCH", names=["cold", "cached_over_mm"])
    srv.stop()
    srv.start()
    check(flipped, "after PATCH and restart")
    srv.stop()


def mapped_codes_rss_kb(pid, name):
    """Resident KB of each mapping of collection name's quantized codes files
    (quant-<vi>.qvq) in process pid, by file path; {} when none is mapped
    (codes on the heap)."""
    return _segment_files_rss_kb(pid, name, "quant-")


@pytest.mark.engine_only
def test_quantized_codes_placement(server_factory):
    """Quantized codes follow their config's `memory`: pinned (or always_ram)
    on the heap, cold a mapping paged in on use, cached a populated mapping;
    without either they follow the original vectors' placement.  Right after
    the optimization and after a restart; searches still answer."""
    srv = server_factory().start()
    c = srv.client()

    def sq(**kw):
        return models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=0.99, **kw))

    setups = {  # name: (vector memory, quantization config, expected placement)
        "pinned": (None, sq(memory=models.Memory.PINNED), "heap"),
        "always_ram": (models.Memory.COLD, sq(always_ram=True), "heap"),
        "cold": (None, sq(memory=models.Memory.COLD), "cold"),
        "cached": (models.Memory.COLD, sq(memory=models.Memory.CACHED, always_ram=True), "cached"),
        "follow_cold": (models.Memory.COLD, sq(), "cold"),
        "follow_cached": (None, sq(always_ram=False), "cached"),
    }
    for name, (vmem, quant, _) in setups.items():
        c.create_collection(
            name,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE, memory=vmem),
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0),
            hnsw_config=models.HnswConfigDiff(m=0),
            quantization_config=quant)
        upload(c, name, vectors(3000, seed=41), payload=False)  # codes: 3000 x 64 B = 188 KB
        c.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    for name in setups:
        deadline = time.monotonic() + TIMEOUT
        while c.get_collection(name).segments_count != 2 or \
                c.get_collection(name).status != models.CollectionStatus.GREEN:
            assert time.monotonic() < deadline, name
            time.sleep(0.1)

    def check(when):
        for name, (_, _, place) in setups.items():
            segs = [d for d in segment_dirs(srv.storage, name) if d.startswith("seg-")]
            assert any(os.path.exists(os.path.join(srv.storage, "collections", name, "segments", d,
                                                   "quant-0.qvq")) for d in segs), (name, segs)
            rss = mapped_codes_rss_kb(srv.proc.pid, name)
            if place == "heap":
                assert rss == {}, (name, when, rss)
                continue
            assert len(rss) == 1, (name, when, rss)
            kb = list(rss.values())[0]
            if place == "cached":
                assert kb >= 180, (name, when, kb)
            else:
                assert kb < 40, (name, when, kb)

    q = vectors(3, seed=42)
    for restart in (False, True):
        if restart:
            srv.stop()
            srv.start()
            c = srv.client()
        check(f"restart={restart}")
        for name in setups:
            for v in q:
                exact = [p.id for p in c.query_points(name, query=v.tolist(), limit=10,
                                                      search_params=models.SearchParams(exact=True)).points]
                got = [p.id for p in c.query_points(
                    name, query=v.tolist(), limit=10, search_params=models.SearchParams(
                        quantization=models.QuantizationSearchParams(rescore=True, oversampling=3.0))).points]
                assert len(set(got) & set(exact)) >= 8, name
    # a PATCH of the vectors' memory re-advises codes that follow them
    c.update_collection("follow_cold", vectors_config={"": models.VectorParamsDiff(memory=models.Memory.CACHED)})
    kb = list(mapped_codes_rss_kb(srv.proc.pid, "follow_cold").values())[0]
    assert kb >= 180, kb
    srv.stop()


@pytest.mark.engine_only
def test_sigterm_stops_a_running_graph_build(server_factory):
    """SIGTERM during a long graph build stops the build within an insert
    (it does not wait for the graph to finish): the server exits cleanly in
    a second or two, keeps every point, and builds the graph again after
    the restart."""
    srv = server_factory().start()
    c = srv.client()
    n = 20000
    c.create_collection(
        "slow", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0),
        hnsw_config=models.HnswConfigDiff(m=48, ef_construct=1000, max_indexing_threads=1))
    upload(c, "slow", vectors(n, seed=51), batch=2000, payload=False)
    c.update_collection("slow", optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = http_get(f"{srv.url}/collections/slow/optimizations", timeout=5)
        assert status == 200, body
        r = json.loads(body)["result"]
        if r["running"]:
            break
        time.sleep(0.05)
    assert r["running"], r
    time.sleep(0.5)  # well inside the build (it takes far longer than this)
    t0 = time.monotonic()
    assert srv.stop() == 0
    took = time.monotonic() - t0
    assert took < 5, took
    srv.start()
    c = srv.client()
    assert c.count("slow", exact=True).count == n
    c.update_collection("slow", hnsw_config=models.HnswConfigDiff(ef_construct=100, m=16))
    wait_green(c, "slow", want_indexed=n, timeout=120)
    srv.stop()
