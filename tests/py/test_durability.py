"""Durability: SIGKILL at random moments under a stream of writes, torn WAL tails,
and clean restarts.  Each test runs its own server processes."""

import glob
import json
import os
import random
import shutil
import struct
import threading
import time

import httpx
import numpy as np
import pytest

from quiver_harness import ServerProc

# raw HTTP and process control only: the client transport changes nothing here
pytestmark = pytest.mark.engine_only

COLL = "durable"
DIM = 4


def f32(x):
    return float(np.float32(x))


def vec_eq(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) and all(vec_eq(a[k], b[k]) for k in a)
    return a is not None and b is not None and np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


def create(h, name=COLL, body=None):
    r = h.put(f"/collections/{name}", json=body or {"vectors": {"size": DIM, "distance": "Dot"}})
    assert r.status_code == 200, r.text


def read_all(url, name=COLL):
    """id -> (vector, payload) of every stored point."""
    with httpx.Client(base_url=url, timeout=30) as h:
        out, offset = {}, None
        while True:
            body = {"limit": 1000, "with_payload": True, "with_vector": True}
            if offset is not None:
                body["offset"] = offset
            r = h.post(f"/collections/{name}/points/scroll", json=body)
            assert r.status_code == 200, r.text
            res = r.json()["result"]
            for p in res["points"]:
                assert p["id"] not in out, f"id {p['id']} returned twice"
                out[p["id"]] = (p.get("vector"), p.get("payload") or {})
            offset = res["next_page_offset"]
            if offset is None:
                return out


def diff_state(actual, expected, limit=5):
    """Human-readable differences between two id -> (vector, payload) maps."""
    errs = []
    for pid in sorted(set(expected) - set(actual), key=str)[:limit]:
        errs.append(f"acknowledged point {pid} missing (expected {expected[pid]})")
    for pid in sorted(set(actual) - set(expected), key=str)[:limit]:
        errs.append(f"point {pid} exists but was never written / was deleted: {actual[pid]}")
    for pid in sorted(set(actual) & set(expected), key=str):
        (av, ap), (ev, ep) = actual[pid], expected[pid]
        if not vec_eq(av, ev):
            errs.append(f"point {pid}: vector {av} != acknowledged {ev}")
        elif json.dumps(ap, sort_keys=True) != json.dumps(ep, sort_keys=True):
            errs.append(f"point {pid}: payload {ap} != acknowledged {ep}")
        if len(errs) >= 3 * limit:
            break
    return errs


# ---- the writer model ---------------------------------------------------------------------------------


class Model:
    """What the database must contain: the effect of every acknowledged operation."""

    def __init__(self):
        self.points = {}

    def copy(self):
        m = Model()
        m.points = {k: (list(v), dict(p)) for k, (v, p) in self.points.items()}
        return m

    def apply(self, op):
        kind, args = op
        if kind == "upsert":
            for pid, v, p in args:
                self.points[pid] = (v, p)
        elif kind == "delete":
            for pid in args:
                self.points.pop(pid, None)
        elif kind == "delete_filter":
            for pid in [k for k, (_, p) in self.points.items() if p.get("g") == args]:
                del self.points[pid]
        elif kind == "set_payload":
            ids, patch = args
            for pid in ids:
                v, p = self.points[pid]
                self.points[pid] = (v, {**p, **patch})
        elif kind == "overwrite":
            ids, payload = args
            for pid in ids:
                v, _ = self.points[pid]
                self.points[pid] = (v, dict(payload))
        elif kind == "vectors":
            for pid, v in args:
                _, p = self.points[pid]
                self.points[pid] = (v, p)


def make_op(r, model, seq, pad=0):
    known = list(model.points)
    x = r.random()
    if x < 0.45 or len(known) < 5:
        pts = []
        for _ in range(r.randint(1, 6)):
            pid = r.choice([r.randint(0, 300), f"00000000-0000-4000-8000-{r.randint(0, 300):012x}"])
            v = [f32(r.uniform(-10, 10)) for _ in range(DIM)]
            p = {"seq": seq, "g": r.randint(0, 30), "s": f"w{seq}", "nested": {"k": [seq, r.random()]}}
            if pad:
                p["pad"] = f"{seq}-" * (pad // 6)
            pts.append((pid, v, p))
        return ("upsert", pts)
    if x < 0.6:
        return ("delete", r.sample(known, min(len(known), r.randint(1, 3))) + [r.randint(1000, 2000)])
    if x < 0.65:
        return ("delete_filter", r.randint(0, 30))
    if x < 0.8:
        return ("set_payload", (r.sample(known, min(len(known), r.randint(1, 4))), {"set": seq, "g": r.randint(0, 30)}))
    if x < 0.9:
        return ("overwrite", (r.sample(known, min(len(known), 2)), {"ow": seq, "g": r.randint(0, 30)}))
    return ("vectors", [(pid, [f32(r.uniform(-1, 1)) for _ in range(DIM)]) for pid in r.sample(known, min(len(known), 2))])


def send_op(h, op, wait=True):
    kind, args = op
    q = f"?wait={'true' if wait else 'false'}"
    base = f"/collections/{COLL}/points"
    if kind == "upsert":
        return h.put(base + q, json={"points": [{"id": pid, "vector": v, "payload": p} for pid, v, p in args]})
    if kind == "delete":
        return h.post(base + "/delete" + q, json={"points": args})
    if kind == "delete_filter":
        return h.post(base + "/delete" + q, json={"filter": {"must": [{"key": "g", "match": {"value": args}}]}})
    if kind == "set_payload":
        ids, patch = args
        return h.post(base + "/payload" + q, json={"payload": patch, "points": ids})
    if kind == "overwrite":
        ids, payload = args
        return h.put(base + "/payload" + q, json={"payload": payload, "points": ids})
    if kind == "vectors":
        return h.put(base + "/vectors" + q, json={"points": [{"id": pid, "vector": v} for pid, v in args]})
    raise ValueError(kind)


class Writer(threading.Thread):
    """Streams operations until the server dies; applies each acknowledged one to model."""

    def __init__(self, url, model, r, seq0, wait=True, pad=0):
        super().__init__(daemon=True)
        self.url, self.model, self.r, self.seq = url, model, r, seq0
        self.wait, self.pad = wait, pad
        self.in_flight = None
        self.acked = 0
        self.error = None

    def run(self):
        with httpx.Client(base_url=self.url, timeout=10) as h:
            while True:
                self.seq += 1
                op = make_op(self.r, self.model, self.seq, self.pad)
                self.in_flight = op
                try:
                    resp = send_op(h, op, self.wait)
                except (httpx.TransportError, OSError):
                    return  # the server is gone; op may or may not have been applied
                if resp.status_code != 200:
                    self.error = f"{op[0]} answered {resp.status_code}: {resp.text[:300]}"
                    return
                st = resp.json()["result"]["status"]
                want = "completed" if self.wait else "acknowledged"
                if st != want:
                    self.error = f"{op[0]} status {st!r}, expected {want!r}"
                    return
                self.model.apply(op)
                self.in_flight = None
                self.acked += 1


# ---- (1) crash under load ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wait,rounds,small_wal,indexing",
    [(True, 20, False, False), (False, 8, False, False), (True, 10, True, False), (True, 12, False, True)],
    ids=["wait-true", "wait-false", "wait-true-1MB-wal", "wait-true-indexing"],
)
def test_sigkill_during_writes_keeps_every_acknowledged_change(server_factory, wait, rounds, small_wal, indexing):
    """SIGKILL at a random moment (0.05-1.5 s into a stream of writes), restart on the
    same storage, and the data equals exactly the acknowledged operations (plus, at
    most, the one operation in flight, applied whole).  A process crash keeps the
    page cache, so this holds for wait=false acknowledgements too (they are in the WAL).
    With a 1 MB WAL and large payloads, checkpoints and WAL truncation run (and get
    killed) all the time.  With tiny optimizer thresholds, index builds, merges and
    vacuums (and their checkpoints) run, and get killed, all the time."""
    r = random.Random((4242 if wait else 4343) + small_wal)
    # with a small WAL, flush every second so that checkpoints happen between kills
    srv = server_factory(env={"QDRANT__STORAGE__OPTIMIZERS__FLUSH_INTERVAL_SEC": "1"} if small_wal else None)
    srv.start()
    body = {"vectors": {"size": DIM, "distance": "Dot"}}
    if small_wal:
        body["wal_config"] = {"wal_capacity_mb": 1}
    if indexing:
        # a 4-d point is 16 bytes: index segments past 64 points, freeze the appendable
        # one at 512 even while writes go on, merge everything into one, vacuum early
        body["optimizers_config"] = {"indexing_threshold": 1, "max_segment_size": 8,
                                     "default_segment_number": 1, "deleted_threshold": 0.05,
                                     "vacuum_min_vector_number": 100}
    pad = 3000 if small_wal else 0
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        create(h, body=body)
    model = Model()
    seq, total_acked, applied_in_flight = 0, 0, 0
    for rnd in range(rounds):
        w = Writer(srv.url, model, r, seq, wait=wait, pad=pad)
        w.start()
        time.sleep(r.uniform(0.05, 1.5) if not small_wal else r.uniform(0.5, 2.5))
        srv.kill()
        w.join(15)
        assert not w.is_alive(), "writer hung after the server was killed"
        assert w.error is None, f"round {rnd}: {w.error}"
        seq = w.seq + 1
        total_acked += w.acked
        srv.start()
        actual = read_all(srv.url)
        errs = diff_state(actual, model.points)
        if errs and w.in_flight is not None:
            alt = model.copy()
            try:
                alt.apply(w.in_flight)
            except KeyError:
                alt = None
            if alt is not None and not diff_state(actual, alt.points):
                model.points = alt.points
                applied_in_flight += 1
                errs = []
        assert not errs, (
            f"round {rnd} (after {total_acked} acknowledged ops; in flight: {w.in_flight and w.in_flight[0]}):\n"
            + "\n".join(errs) + "\nserver stderr:\n" + srv.stderr()[-3000:]
        )
    assert total_acked > rounds, f"only {total_acked} operations were acknowledged in {rounds} rounds"
    print(f"{rounds} crash rounds, {total_acked} acknowledged ops, in-flight op applied {applied_in_flight} times")
    if small_wal:
        # the point of this variant: checkpoints were taken while the writer ran
        cps = glob.glob(os.path.join(srv.storage, "collections", COLL, "checkpoints", "cp-*"))
        assert cps, "no checkpoint was ever taken with a 1 MB WAL"
    if indexing:
        # the point of this variant: optimizations ran (and left their segments)
        segs = glob.glob(os.path.join(srv.storage, "collections", COLL, "segments", "seg-*"))
        assert segs, "no optimization ever completed"
        assert not [d for d in segs if d.endswith(".tmp")], segs
    assert srv.stop() == 0, srv.stderr()


# ---- (2) torn WAL tail -------------------------------------------------------------------------------------


def wal_records(path):
    """[(start, end, op)] of the records of one WAL segment (docs/storage-format.md)."""
    data = open(path, "rb").read()
    assert data[:8] == b"QVWAL\0\0\0", data[:8]
    version, hsize, first_op = struct.unpack_from("<IIQ", data, 8)
    assert version == 1 and hsize == 32
    recs, off = [], 32
    while off + 16 <= len(data):
        length, _crc, op = struct.unpack_from("<IIQ", data, off)
        end = off + 16 + length + ((8 - length % 8) % 8)
        if end > len(data):
            break
        recs.append((off, end, op))
        off = end
    assert off == len(data), f"{path}: {len(data) - off} trailing bytes after the last complete record"
    return recs


def newest_wal(storage, name=COLL):
    files = sorted(glob.glob(os.path.join(storage, "collections", name, "wal", "*.wal")))
    assert files, f"no WAL segment under {storage}/collections/{name}/wal"
    return files[-1]


def point(i):
    return {"id": i, "vector": [f32(i + 0.25), f32(-i), 1.0, 0.5], "payload": {"n": i, "tag": f"t{i}"}}


def expected_prefix(k):
    return {i: (point(i)["vector"], point(i)["payload"]) for i in range(1, k + 1)}


def test_torn_wal_tail_recovers_a_clean_prefix(server_factory, tmp_path):
    srv = server_factory()
    srv.start()
    n_writes = 5
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        create(h)
        for i in range(1, n_writes + 1):
            r = h.put(f"/collections/{COLL}/points?wait=true", json={"points": [point(i)]})
            assert r.status_code == 200 and r.json()["result"]["status"] == "completed", r.text
    srv.kill()
    wal = newest_wal(srv.storage)
    recs = wal_records(wal)
    assert len(recs) >= n_writes, f"expected >= {n_writes} records in {wal}, found {len(recs)}"
    last_start, last_end, _ = recs[-1]
    size = os.path.getsize(wal)
    assert last_end == size
    rel = os.path.relpath(wal, srv.storage)

    # every cut inside the last record (and exactly at its start)
    cuts = list(range(last_start, last_end))
    if len(cuts) > 120:  # a big record: every byte of its head and tail, a sample between
        rnd = random.Random(7)
        cuts = sorted(set(cuts[:40] + cuts[-40:] + rnd.sample(cuts[40:-40], 40)))
    failures = []
    base_copy = str(tmp_path / "pristine")
    shutil.copytree(srv.storage, base_copy)
    for k, cut in enumerate(cuts):
        st = str(tmp_path / f"cut{k}")
        shutil.copytree(base_copy, st)
        with open(os.path.join(st, rel), "r+b") as f:
            f.truncate(cut)
        s2 = ServerProc(st, log_dir=str(tmp_path))
        try:
            s2.start()
        except AssertionError as e:
            failures.append(f"cut at {cut} (record {last_start}..{last_end}): server did not start: {e}")
            shutil.rmtree(st, ignore_errors=True)
            continue
        actual = read_all(s2.url)
        errs = diff_state(actual, expected_prefix(n_writes - 1))
        if errs:
            failures.append(f"cut at {cut}: {errs}")
        rc = s2.stop()
        if rc != 0:
            failures.append(f"cut at {cut}: exit code {rc} after SIGTERM")
        shutil.rmtree(st, ignore_errors=True)
        if len(failures) > 5:
            break
    assert not failures, "\n".join(failures)
    print(f"torn tail: {len(cuts)} cuts inside the last record ({last_start}..{last_end}) all recovered")

    # the untouched log has everything
    s3 = ServerProc(base_copy, log_dir=str(tmp_path))
    s3.start()
    assert not diff_state(read_all(s3.url), expected_prefix(n_writes))
    assert s3.stop() == 0


@pytest.mark.parametrize("damage", ["zeros", "garbage", "flip-last-record", "half-header"])
def test_damaged_wal_tail(server_factory, tmp_path, damage):
    """Junk after the last record, or a corrupted last record: the server starts,
    keeps a clean prefix, accepts new writes, and they survive another crash."""
    srv = server_factory()
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        create(h)
        for i in range(1, 4):
            assert h.put(f"/collections/{COLL}/points?wait=true", json={"points": [point(i)]}).status_code == 200
    srv.kill()
    wal = newest_wal(srv.storage)
    recs = wal_records(wal)
    with open(wal, "r+b") as f:
        if damage == "zeros":
            f.seek(0, 2)
            f.write(b"\0" * 100)
            keep = 3
        elif damage == "garbage":
            f.seek(0, 2)
            f.write(bytes(random.Random(1).getrandbits(8) for _ in range(333)))
            keep = 3
        elif damage == "flip-last-record":
            start, end, _ = recs[-1]
            f.seek(end - 9)
            b = f.read(1)
            f.seek(end - 9)
            f.write(bytes([b[0] ^ 0x40]))
            keep = 2
        else:
            f.seek(0, 2)
            f.write(b"\x10\0\0\0\x99\x99")  # a record header cut short
            keep = 3
    srv.start()
    assert not diff_state(read_all(srv.url), expected_prefix(keep))
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        r = h.put(f"/collections/{COLL}/points?wait=true", json={"points": [point(10)]})
        assert r.status_code == 200, r.text
    srv.kill()
    srv.start()
    exp = expected_prefix(keep)
    exp[10] = (point(10)["vector"], point(10)["payload"])
    errs = diff_state(read_all(srv.url), exp)
    assert not errs, errs
    assert srv.stop() == 0


# ---- (3) clean restarts -------------------------------------------------------------------------------------


def test_clean_restart_keeps_everything(server_factory):
    srv = server_factory()
    srv.start()
    r = random.Random(99)
    configs = {
        "plain": {"vectors": {"size": 4, "distance": "Cosine"}},
        "named": {"vectors": {"a": {"size": 3, "distance": "Euclid"}, "b": {"size": 2, "distance": "Manhattan", "on_disk": True}},
                  "hnsw_config": {"m": 8}, "optimizers_config": {"indexing_threshold": 1234}},
        "empty": {"vectors": {"size": 7, "distance": "Dot"}},
    }
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        for name, body in configs.items():
            create(h, name, body)
        pts = [{"id": i, "vector": [r.uniform(-1, 1) for _ in range(4)], "payload": {"i": i, "big": 2**63 - 1, "f": -3.3817118747907386}}
               for i in range(500)]
        pts += [{"id": f"{i:08x}-0000-4000-8000-000000000000", "vector": [1.0, 0, 0, 0]} for i in range(20)]
        assert h.put("/collections/plain/points?wait=true", json={"points": pts}).status_code == 200
        assert h.post("/collections/plain/points/delete?wait=true", json={"points": list(range(0, 500, 7))}).status_code == 200
        assert h.post("/collections/plain/points/payload?wait=true", json={"payload": {"x": [1, {"y": None}]}, "points": [1, 2, 3]}).status_code == 200
        assert h.post("/collections/plain/points/payload/delete?wait=true", json={"keys": ["big"], "points": [4]}).status_code == 200
        named_pts = [{"id": i, "vector": {"a": [i, 0.5, -i], "b": [1.5, i]}} for i in range(50)]
        named_pts.append({"id": 99, "vector": {"b": [0.0, 1.0]}})
        assert h.put("/collections/named/points?wait=true", json={"points": named_pts}).status_code == 200
        # a last write without wait: a clean stop must still keep it
        assert h.put("/collections/named/points", json={"points": [{"id": 100, "vector": {"a": [1, 2, 3]}}]}).status_code == 200
        time.sleep(0.2)
        before = {n: read_all(srv.url, n) for n in configs}
        cfg_before = {n: h.get(f"/collections/{n}").json()["result"]["config"] for n in configs}
        names_before = h.get("/collections").json()["result"]["collections"]
    assert 100 in before["named"]
    for round_ in range(2):
        rc = srv.stop()
        assert rc == 0, f"exit code {rc} after SIGTERM; stderr:\n{srv.stderr()}"
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=30) as h:
            assert h.get("/collections").json()["result"]["collections"] == names_before
            for n in configs:
                errs = diff_state(read_all(srv.url, n), before[n])
                assert not errs, f"round {round_}, collection {n}: {errs}"
                assert h.get(f"/collections/{n}").json()["result"]["config"] == cfg_before[n]
                cnt = h.post(f"/collections/{n}/points/count", json={}).json()["result"]["count"]
                assert cnt == len(before[n])
    assert srv.stop() == 0


def test_deleted_collection_stays_deleted_after_crash(server_factory):
    srv = server_factory()
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        create(h, "gone")
        create(h, "kept")
        assert h.put("/collections/kept/points?wait=true", json={"points": [point(1)]}).status_code == 200
        assert h.delete("/collections/gone").json()["result"] is True
    srv.kill()
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        names = [c["name"] for c in h.get("/collections").json()["result"]["collections"]]
        assert "gone" not in names and "kept" in names
        # and the name can be reused
        create(h, "gone")
    assert srv.stop() == 0


def test_storage_lock_released_after_crash(server_factory):
    """A SIGKILLed server leaves no stale lock: the next one starts on the same storage."""
    srv = server_factory()
    srv.start()
    srv.kill()
    srv.start()
    other = ServerProc(srv.storage, log_dir=os.path.dirname(srv.stderr_path))
    proc = other.spawn()
    assert proc.wait(30) != 0
    other._stderr.close()
    assert srv.stop() == 0
