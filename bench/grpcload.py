"""grpcload.py - the gRPC twin of loadgen.c, for bench.py (a report, not a test).

It sends the same work as loadgen.c's REST bodies through Qdrant's gRPC API:
upserts of 256 points (same ids, vectors and payload {"tag","group","n"}) and
nearest-neighbour queries (QueryPoints, or QueryBatchPoints for a batch).
Every message is built and serialised *before* the clock starts and sent as
raw bytes (grpcio's C core does the HTTP/2 framing), so, as with loadgen.c,
the client only copies bytes while it is timed.  One thread per connection,
each on its own channel with a private subchannel pool (one TCP connection
each); the threads take the next message from a shared counter.

Output: one JSON line with the keys bench.py reads from loadgen.c (seconds,
errors, rps, items, items_per_s, p50/p95/p99_ms, client_cpu_s, body_bytes_avg,
sent_MB_per_s); with --dump, the first response of each query message is
decoded after the run into the JSON-lines shape of REST's responses
({"result":{"points":[{"id","score"}]}} or a list of them) so that bench.py's
recall check reads both transports alike.

Needs grpcio and qdrant-client (for the message classes) in bench/.venv.
"""

import argparse
import json
import os
import resource
import struct
import sys
import threading
import time

import grpc
import numpy as np
from qdrant_client import grpc as qg

TAGS = ["red", "green", "blue", "amber", "violet"]


def read_f32(path, dim, count):
    m = np.fromfile(path, dtype="<f4").reshape(-1, dim)
    return m[:count] if count else m


def upsert_messages(a):
    m = read_f32(a.upsert_f32, a.dim, a.count)
    out = []
    for lo in range(0, len(m), a.batch):
        pts = []
        for i in range(lo, min(lo + a.batch, len(m))):
            pts.append(qg.PointStruct(
                id=qg.PointId(num=i),
                vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=m[i].tolist()))),
                payload={"tag": qg.Value(string_value=TAGS[i % 5]), "group": qg.Value(integer_value=i % 100),
                         "n": qg.Value(integer_value=i)}))
        msg = qg.UpsertPoints(collection_name=a.collection, wait=a.wait, points=pts)
        out.append((msg.SerializeToString(), len(pts)))
    return "/qdrant.Points/Upsert", out


def query_messages(a):
    m = read_f32(a.query_f32, a.dim, a.count)

    def one(v):
        return qg.QueryPoints(collection_name=a.collection, limit=a.limit,
                              query=qg.Query(nearest=qg.VectorInput(dense=qg.DenseVector(data=v.tolist()))))
    out = []
    if not a.batch:
        for v in m:
            out.append((one(v).SerializeToString(), 1))
        return "/qdrant.Points/Query", out
    for lo in range(0, len(m), a.batch):
        qs = [one(v) for v in m[lo:lo + a.batch]]
        msg = qg.QueryBatchPoints(collection_name=a.collection, query_points=qs)
        out.append((msg.SerializeToString(), len(qs)))
    return "/qdrant.Points/QueryBatch", out


def save_bodies(path, method, msgs):
    """method line, then per message: u32 length, u32 items, the bytes."""
    with open(path + ".tmp", "wb") as f:
        f.write(method.encode() + b"\n")
        for body, n in msgs:
            f.write(struct.pack("<II", len(body), n))
            f.write(body)
    os.replace(path + ".tmp", path)


def load_bodies(path):
    with open(path, "rb") as f:
        method = f.readline().decode().strip()
        data = f.read()
    msgs, off = [], 0
    while off < len(data):
        ln, n = struct.unpack_from("<II", data, off)
        msgs.append((data[off + 8:off + 8 + ln], n))
        off += 8 + ln
    return method, msgs


def point_id(pid):
    return pid.num if pid.HasField("num") else pid.uuid


def dump_line(method, raw):
    if method.endswith("QueryBatch"):
        r = qg.QueryBatchResponse.FromString(raw)
        res = [{"points": [{"id": point_id(p.id), "score": p.score} for p in b.result]} for b in r.result]
    else:
        r = qg.QueryResponse.FromString(raw)
        res = {"points": [{"id": point_id(p.id), "score": p.score} for p in r.result]}
    return json.dumps({"result": res})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--collection", default="bench")
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--upsert-f32")
    ap.add_argument("--query-f32")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--wait", action="store_true")
    ap.add_argument("--duration", type=float, default=0.0)
    ap.add_argument("--min-requests", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--dump")
    ap.add_argument("--bodies", help="cache of the serialised messages: read if present, else built and written")
    ap.add_argument("--build-only", action="store_true", help="write --bodies and stop")
    a = ap.parse_args()
    if a.bodies and os.path.exists(a.bodies):
        method, msgs = load_bodies(a.bodies)
    else:
        if a.upsert_f32:
            a.batch = a.batch or 256
            method, msgs = upsert_messages(a)
        else:
            method, msgs = query_messages(a)
        if a.bodies:
            save_bodies(a.bodies, method, msgs)
    if a.build_only:
        return

    opts = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1),
            ("grpc.use_local_subchannel_pool", 1)]
    chans = [grpc.insecure_channel("127.0.0.1:%d" % a.port, options=opts) for _ in range(a.conns)]
    calls = [c.unary_unary(method, request_serializer=None, response_deserializer=None) for c in chans]
    for c in chans:
        grpc.channel_ready_future(c).result(timeout=30)
    for i in range(a.warmup):
        calls[i % a.conns](msgs[i % len(msgs)][0], timeout=600)

    lock = threading.Lock()
    state = {"next": 0, "errors": 0, "first_error": None}
    lat = [[] for _ in range(a.conns)]
    items = [0] * a.conns
    sent = [0] * a.conns
    dumped = {}
    t_end = [0.0]

    def take():
        with lock:
            i = state["next"]
            state["next"] += 1
        if a.duration:
            if i >= a.min_requests and time.perf_counter() >= t_end[0]:
                return None
            return i % len(msgs)
        return i if i < len(msgs) else None

    def worker(k):
        call = calls[k]
        while True:
            i = take()
            if i is None:
                return
            body, n = msgs[i]
            t0 = time.perf_counter()
            try:
                resp = call(body, timeout=600)
            except grpc.RpcError as e:
                with lock:
                    state["errors"] += 1
                    if state["first_error"] is None:
                        state["first_error"] = "%s: %s" % (e.code(), e.details())
                continue
            lat[k].append(time.perf_counter() - t0)
            items[k] += n
            sent[k] += len(body)
            if a.dump and i not in dumped:
                dumped[i] = resp

    c0 = time.process_time()
    t0 = time.perf_counter()
    t_end[0] = t0 + a.duration
    th = [threading.Thread(target=worker, args=(k,)) for k in range(a.conns)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    for c in chans:
        c.close()
    all_lat = np.sort(np.concatenate([np.array(x) for x in lat])) * 1e3 if any(lat) else np.zeros(1)
    reqs = sum(len(x) for x in lat)

    def pct(p):
        return round(float(all_lat[min(len(all_lat) - 1, int(p / 100 * len(all_lat)))]), 2)
    out = {"conns": a.conns, "requests": reqs, "errors": state["errors"], "seconds": round(secs, 4),
           "rps": round(reqs / secs, 2), "items": sum(items), "items_per_s": round(sum(items) / secs, 2),
           "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "client_cpu_s": round(cpu, 3),
           "body_bytes_avg": round(sum(len(b) for b, _ in msgs) / len(msgs)),
           "sent_MB_per_s": round(sum(sent) / secs / 1e6, 2), "transport": "grpc",
           "client_cpu_total_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 3)}
    if state["first_error"]:
        out["first_error_body"] = state["first_error"]
    if a.dump:
        with open(a.dump, "w") as f:
            for i in range(len(msgs)):
                f.write((dump_line(method, dumped[i]) if i in dumped else "") + "\n")
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
