"""gRPC deadlines (grpc-timeout): the server takes the client's deadline as the
operation's time budget, answers DEADLINE_EXCEEDED once it has passed, and
does not start a write after that point.

The engine's operations take no timeout, so the server decides at three
points: before the handler runs, right before a write's first side effect,
and after a read (see grpc_internal.h).  Each test builds a request whose
server-side work takes several times longer than the deadline while the
request itself arrives in a fraction of it, so the deadline expires inside
the server, where only the server's own check can stop the work; the
server's DEBUG log line proves which check answered.
"""

import time

import grpc
import numpy as np
import pytest
import qdrant_client.grpc as qg

from grpc_harness import grpc_channel, grpc_server

DIM = 256
N_POINTS = 20000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from grpc_server(tmp_path_factory, "deadline", env={"QDRANT__LOG_LEVEL": "DEBUG"})


@pytest.fixture(scope="module")
def channel(server):
    yield from grpc_channel(server, options=[("grpc.max_send_message_length", -1)])


def rpc(channel, method, req_type, resp_type):
    return channel.unary_unary(
        method,
        request_serializer=req_type.SerializeToString if req_type else None,
        response_deserializer=resp_type.FromString,
    )


def create(channel, name, dim):
    rpc(channel, "/qdrant.Collections/Create", qg.CreateCollection, qg.CollectionOperationResponse)(
        qg.CreateCollection(
            collection_name=name,
            vectors_config=qg.VectorsConfig(params=qg.VectorParams(size=dim, distance=qg.Distance.Dot)),
        ),
        timeout=30,
    )


def count(channel, name):
    call = rpc(channel, "/qdrant.Points/Count", qg.CountPoints, qg.CountResponse)
    return call(qg.CountPoints(collection_name=name, exact=True), timeout=30).result.count


def deadline_lines(server, method):
    return [l for l in server.stderr().splitlines() if f"{method}: Deadline exceeded" in l]


def wait_for_line(server, method, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lines = deadline_lines(server, method)
        if lines:
            return lines
        time.sleep(0.05)
    return []


@pytest.fixture(scope="module")
def big(channel):
    """A collection large enough for a batch of exact queries to take a
    while (the scan is exact, so the cost is points x queries x DIM)."""
    create(channel, "big", DIM)
    up = rpc(channel, "/qdrant.Points/Upsert", qg.UpsertPoints, qg.PointsOperationResponse)
    rng = np.random.default_rng(7)
    for start in range(0, N_POINTS, 2000):
        vs = rng.random((2000, DIM), dtype=np.float32)
        pts = [
            qg.PointStruct(
                id=qg.PointId(num=start + i),
                vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=vs[i].tolist()))),
            )
            for i in range(2000)
        ]
        up(qg.UpsertPoints(collection_name="big", wait=True, points=pts), timeout=120)
    return "big"


def query_batch(name, n, seed=1):
    rng = np.random.default_rng(seed)
    return qg.QueryBatchPoints(
        collection_name=name,
        query_points=[
            qg.QueryPoints(
                collection_name=name,
                query=qg.Query(nearest=qg.VectorInput(dense=qg.DenseVector(data=rng.random(DIM).tolist()))),
                limit=3,
            )
            for _ in range(n)
        ],
    )


def test_generous_deadline_is_not_an_error(channel, big):
    """The deadline is carried over correctly: a large one leaves the call alone."""
    qb = rpc(channel, "/qdrant.Points/QueryBatch", qg.QueryBatchPoints, qg.QueryBatchResponse)
    resp = qb(query_batch(big, 5), timeout=3600)
    assert len(resp.result) == 5 and all(len(r.result) == 3 for r in resp.result)
    health = rpc(channel, "/qdrant.Qdrant/HealthCheck", qg.HealthCheckRequest, qg.HealthCheckReply)
    assert health(qg.HealthCheckRequest(), timeout=0.5).version == "1.19.0"


def test_tiny_deadline_on_a_large_query(server, channel, big):
    qb = rpc(channel, "/qdrant.Points/QueryBatch", qg.QueryBatchPoints, qg.QueryBatchResponse)
    req = query_batch(big, 400)  # ~400 KB: arrives at once, scans for a few hundred ms
    t0 = time.monotonic()
    resp = qb(req, timeout=60)
    full = time.monotonic() - t0
    assert len(resp.result) == 400
    before = len(deadline_lines(server, "/qdrant.Points/QueryBatch"))
    with pytest.raises(grpc.RpcError) as ei:
        qb(req, timeout=0.02)
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # the server noticed on its own and answered DEADLINE_EXCEEDED (its log says so)
    end = time.monotonic() + full * 3 + 10
    while len(deadline_lines(server, "/qdrant.Points/QueryBatch")) == before and time.monotonic() < end:
        time.sleep(0.05)
    lines = deadline_lines(server, "/qdrant.Points/QueryBatch")
    assert len(lines) == before + 1, server.stderr()[-3000:]
    assert "while the operation ran" in lines[-1]
    # and the server is fine afterwards
    assert len(qb(query_batch(big, 2), timeout=60).result) == 2


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field, body):
    return _varint(field << 3 | 2) + _varint(len(body)) + body


def slow_upsert(name, n_points, n_values, first_id):
    """UpsertPoints (wait=true) whose points each carry a payload list of
    n_values integers: few bytes on the wire, much work to decode."""
    lst = _ld(1, b"\x18\x05") * n_values  # ListValue.values += Value{integer_value: 5}
    entry = _ld(1, b"l") + _ld(2, _ld(7, lst))  # PayloadEntry{key: "l", value: {list_value}}
    vec = _ld(4, _ld(1, _ld(1, b"\x00\x00\x80\x3f" * 4)))  # vectors.vector.data = [1,1,1,1]
    pts = b"".join(
        _ld(3, _ld(1, b"\x08" + _varint(first_id + i)) + _ld(3, entry) + vec) for i in range(n_points)
    )
    return _ld(1, name.encode()) + b"\x10\x01" + pts


def test_write_whose_deadline_passes_while_decoding_is_not_applied(server, channel):
    """A large upsert whose deadline passes while the server is still
    decoding it: DEADLINE_EXCEEDED, and nothing is written, then or later."""
    create(channel, "slow", 4)
    up = rpc(channel, "/qdrant.Points/Upsert", None, qg.PointsOperationResponse)
    # how long the work takes when the client waits for it
    t0 = time.monotonic()
    up(slow_upsert("slow", 50, 10000, 0), timeout=600)
    took = time.monotonic() - t0
    assert count(channel, "slow") == 50
    # 12x as much work with a deadline well below the time it needs (its
    # ~12 MB arrive in a few ms)
    deadline = min(0.5, took * 12 / 4)
    with pytest.raises(grpc.RpcError) as ei:
        up(slow_upsert("slow", 600, 10000, 1000), timeout=deadline)
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    lines = wait_for_line(server, "/qdrant.Points/Upsert", timeout=took * 12 * 3 + 10)
    assert lines and "before the operation started" in lines[-1], server.stderr()[-3000:]
    time.sleep(0.5)
    assert count(channel, "slow") == 50
    # the same request with time to spare is applied
    up(slow_upsert("slow", 5, 10, 5000), timeout=60)
    assert count(channel, "slow") == 55
