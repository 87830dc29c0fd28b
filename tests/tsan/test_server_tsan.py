"""Many client threads against one ThreadSanitizer-built server.

Run by scripts/test.sh with QUIVER_BIN=build/tsan/quiver.  Eight threads
mix upserts (wait true and false), payload updates, deletes, queries,
scrolls, counts and retrieves on two collections while a ninth creates and
drops a third collection; afterwards the server must stop cleanly (exit 0)
and its stderr must hold no ThreadSanitizer report.  The final state is
also checked against what the writers were acknowledged for.
"""

import os
import random
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py"))

from qdrant_client import models  # noqa: E402

from quiver_harness import ServerProc  # noqa: E402

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
