"""Many client threads against one ThreadSanitizer-built server.

Run by scripts/test.sh with QUIVER_BIN=build/tsan/quiver.  Eight threads
mix upserts (wait true and false), payload updates, deletes, queries,
scrolls, counts and retrieves on two collections while a ninth creates and
drops a third collection; afterwards the server must stop cleanly (exit 0)
and its stderr must hold no ThreadSanitizer report.  The final state is
also checked against what the writers were acknowledged for.

A second scenario has the server index while clients write and read: one
collection with a low indexing_threshold (and default_segment_number 1,
the least vacuum_min_vector_number and a low deleted_threshold, so merges
and vacuums run too) takes upserts, deletes and payload updates from
writer threads while readers query it (approximate and exact, with and
without a filter), scroll it and poll GET /collections/{c} and
/collections/{c}/optimizations; afterwards the collection must settle
(green), hold exactly what the writers were acknowledged for, and the
server's stderr must hold no ThreadSanitizer report.
"""

import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py"))

from qdrant_client import models  # noqa: E402

from quiver_harness import ServerProc, http_get  # noqa: E402

DIM = 16
THREADS = 8
OPS = 120


def vec(rng):
    return [rng.uniform(-1, 1) for _ in range(DIM)]


def worker(srv, tid, errors, final):
    rng = random.Random(tid)
    client = srv.client()
    coll = "c%d" % (tid % 2)
    base = tid * 10_000
    mine = {}
    try:
        for i in range(OPS):
            pid = base + rng.randrange(50)
            r = rng.random()
            if r < 0.45:
                client.upsert(coll, [models.PointStruct(id=pid, vector=vec(rng),
                                                        payload={"t": tid, "i": i})],
                              wait=rng.random() < 0.5)
                mine[pid] = i
            elif r < 0.55 and pid in mine:
                client.set_payload(coll, {"seen": i}, points=[pid], wait=True)
            elif r < 0.65:
                client.delete(coll, points_selector=models.PointIdsList(points=[pid]), wait=True)
                mine.pop(pid, None)
            elif r < 0.8:
                hits = client.query_points(coll, query=vec(rng), limit=5,
                                           with_payload=True).points
                for h in hits:
                    assert h.payload["t"] == h.id // 10_000, h
            elif r < 0.9:
                client.scroll(coll, limit=20, with_vectors=True)
            else:
                client.count(coll, exact=True)
        final[tid] = mine
    except Exception as e:  # reported by the main thread
        errors.append("thread %d: %r" % (tid, e))


def churner(srv, stop, errors):
    client = srv.client()
    n = 0
    try:
        while not stop.is_set() and n < 40:
            client.create_collection("churn", vectors_config=models.VectorParams(
                size=DIM, distance=models.Distance.DOT))
            client.upsert("churn", [models.PointStruct(id=1, vector=[0.5] * DIM)], wait=True)
            client.delete_collection("churn")
            n += 1
    except Exception as e:
        errors.append("churner: %r" % (e,))


def test_parallel_clients_under_tsan(tmp_path):
    env = {"TSAN_OPTIONS": "halt_on_error=0 second_deadlock_stack=1"}
    srv = ServerProc(str(tmp_path / "storage"), env=env)
    srv.start()
    try:
        client = srv.client()
        for c in ("c0", "c1"):
            client.create_collection(c, vectors_config=models.VectorParams(
                size=DIM, distance=models.Distance.COSINE))
        errors, final = [], {}
        stop = threading.Event()
        threads = [threading.Thread(target=worker, args=(srv, t, errors, final))
                   for t in range(THREADS)]
        churn = threading.Thread(target=churner, args=(srv, stop, errors))
        for t in threads + [churn]:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        churn.join()
        assert not errors, errors
        for c in ("c0", "c1"):
            points, _ = client.scroll(c, limit=10_000, with_payload=True)
            got = {p.id: p.payload for p in points}
            want = {}
            for tid, mine in final.items():
                if "c%d" % (tid % 2) == c:
                    want.update(mine)
            assert set(got) == set(want), c
            for pid, i in want.items():
                assert got[pid]["i"] == i
    finally:
        rc = srv.stop()
    err = srv.stderr()
    assert "ThreadSanitizer" not in err, err[-20000:]
    assert rc == 0, err[-5000:]


# ---- indexing while clients write and read ----------------------------------------

OPT_COLL = "opt"
OPT_WRITERS = 3
OPT_READERS = 3
OPT_SECONDS = float(os.environ.get("QUIVER_TSAN_OPT_SECONDS", "20"))
OPT_IDS = 400  # IDs per writer: tid * 10_000 + [0, OPT_IDS)


def opt_writer(srv, tid, stop, errors, final):
    rng = random.Random(100 + tid)
    client = srv.client()
    base = tid * 10_000
    mine = {}  # pid -> the payload the server must hold
    i = 0
    try:
        while not stop.is_set():
            i += 1
            r = rng.random()
            if r < 0.5:
                pids = sorted({base + rng.randrange(OPT_IDS) for _ in range(rng.randint(8, 32))})
                pts = [models.PointStruct(id=pid, vector=vec(rng),
                                          payload={"t": tid, "i": i, "g": pid % 5})
                       for pid in pids]
                client.upsert(OPT_COLL, pts, wait=rng.random() < 0.3)
                for pid in pids:
                    mine[pid] = {"t": tid, "i": i, "g": pid % 5}
            elif r < 0.65 and mine:
                pids = rng.sample(sorted(mine), min(len(mine), rng.randint(1, 8)))
                client.set_payload(OPT_COLL, {"seen": i}, points=pids, wait=True)
                for pid in pids:
                    mine[pid]["seen"] = i
            else:
                pids = [base + rng.randrange(OPT_IDS) for _ in range(rng.randint(1, 24))]
                client.delete(OPT_COLL, points_selector=models.PointIdsList(points=pids),
                              wait=rng.random() < 0.5)
                for pid in pids:
                    mine.pop(pid, None)
        final[tid] = mine
    except Exception as e:  # reported by the main thread
        errors.append("writer %d: %r" % (tid, e))


def opt_reader(srv, rid, stop, errors, seen_optimizers):
    rng = random.Random(200 + rid)
    client = srv.client()
    try:
        while not stop.is_set():
            r = rng.random()
            if r < 0.4:
                g = rng.randrange(5)
                flt = None
                if rng.random() < 0.5:
                    flt = models.Filter(must=[models.FieldCondition(
                        key="g", match=models.MatchValue(value=g))])
                exact = rng.random() < 0.5
                hits = client.query_points(OPT_COLL, query=vec(rng), limit=10, query_filter=flt,
                                           search_params=models.SearchParams(exact=exact),
                                           with_payload=True).points
                ids = [h.id for h in hits]
                assert len(ids) == len(set(ids)), ids
                for h in hits:
                    assert h.payload["t"] == h.id // 10_000, h
                    assert flt is None or h.payload["g"] == g, h
            elif r < 0.6:
                offset, last = None, -1
                while True:
                    points, offset = client.scroll(OPT_COLL, limit=100, offset=offset,
                                                   with_payload=True)
                    for p in points:
                        assert p.id > last, (p.id, last)  # ID order, no duplicates
                        last = p.id
                    if offset is None:
                        break
            elif r < 0.75:
                info = client.get_collection(OPT_COLL)
                assert info.status in (models.CollectionStatus.GREEN,
                                       models.CollectionStatus.YELLOW), info.status
            elif r < 0.9:
                status, body = http_get(srv.url + "/collections/%s/optimizations"
                                        "?with=completed,queued,idle_segments" % OPT_COLL,
                                        timeout=30)
                assert status == 200, (status, body[:500])
                res = json.loads(body)["result"]
                for o in res.get("completed", []):
                    seen_optimizers.add(o["optimizer"])
            else:
                client.count(OPT_COLL, exact=True)
    except Exception as e:  # reported by the main thread
        errors.append("reader %d: %r" % (rid, e))


def test_indexing_while_clients_write_and_read(tmp_path):
    env = {"TSAN_OPTIONS": "halt_on_error=0 second_deadlock_stack=1"}
    srv = ServerProc(str(tmp_path / "storage"), env=env)
    srv.start()
    try:
        client = srv.client()
        client.create_collection(
            OPT_COLL,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
            # 8 KB: 128 points of 16-d; segments up to 512 points
            optimizers_config=models.OptimizersConfigDiff(
                indexing_threshold=8, max_segment_size=32, default_segment_number=1,
                vacuum_min_vector_number=100, deleted_threshold=0.1),
            hnsw_config=models.HnswConfigDiff(m=8, ef_construct=32, full_scan_threshold=10))
        errors, final, seen = [], {}, set()
        stop = threading.Event()
        threads = [threading.Thread(target=opt_writer, args=(srv, t, stop, errors, final))
                   for t in range(OPT_WRITERS)]
        threads += [threading.Thread(target=opt_reader, args=(srv, r, stop, errors, seen))
                    for r in range(OPT_READERS)]
        for t in threads:
            t.start()
        time.sleep(OPT_SECONDS)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        # the optimizers settle once the writes stop
        deadline = time.monotonic() + 120
        info = client.get_collection(OPT_COLL)
        while info.status != models.CollectionStatus.GREEN and time.monotonic() < deadline:
            time.sleep(0.5)
            info = client.get_collection(OPT_COLL)
        assert info.status == models.CollectionStatus.GREEN, info
        status, body = http_get(srv.url + "/collections/%s/optimizations?with=completed"
                                % OPT_COLL, timeout=30)
        assert status == 200, body[:500]
        for o in json.loads(body)["result"]["completed"]:
            seen.add(o["optimizer"])
            assert o["status"] != "failed", o
        assert "indexing" in seen, seen
        want = {}
        for mine in final.values():
            want.update(mine)
        points, _ = client.scroll(OPT_COLL, limit=100_000, with_payload=True)
        got = {p.id: p.payload for p in points}
        assert set(got) == set(want)
        for pid, payload in want.items():
            assert got[pid] == payload, (pid, got[pid], payload)
        assert info.points_count == len(want)
        # Points the last writes moved into the appendable segment stay unindexed
        # while they are fewer than indexing_threshold (8 KB = 128 vectors of
        # 16-d), as in Qdrant: the rest must all be in indexed segments.
        assert len(want) - 128 < info.indexed_vectors_count <= len(want), info
        # approximate and exact search agree on what they return
        rng = random.Random(9)
        for _ in range(5):
            q = vec(rng)
            approx = client.query_points(OPT_COLL, query=q, limit=10).points
            exact = client.query_points(OPT_COLL, query=q, limit=10,
                                        search_params=models.SearchParams(exact=True)).points
            assert len(approx) == len(exact) == min(10, len(want))
            assert {h.id for h in approx} <= set(want)
        print("optimizers seen:", sorted(seen))
    finally:
        rc = srv.stop()
    err = srv.stderr()
    assert "ThreadSanitizer" not in err, err[-20000:]
    assert rc == 0, err[-5000:]
