"""API keys over gRPC: `api-key` metadata or `authorization: Bearer <key>`,
checked before the request is unpacked; the health checks need none.
Through raw grpcio (exact codes and texts) and the Python client with
prefer_grpc=True and api_key=.  (REST: tests/py/test_auth.py.)
"""

from contextlib import closing

import grpc
import pytest
import qdrant_client.grpc as qg
from qdrant_client import QdrantClient
from qdrant_client import models as m

from grpc_harness import grpc_channel, grpc_server

RW, RO = "grpc-rw-key", "grpc-ro-key"
MISSING = "Must provide an API key or an Authorization bearer token"
INVALID = "Invalid API key or JWT"
FORBIDDEN = "Forbidden: Global manage access is required"

pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from grpc_server(tmp_path_factory, "gauth",
                           env={"QDRANT__SERVICE__API_KEY": RW, "QDRANT__SERVICE__READ_ONLY_API_KEY": RO})


@pytest.fixture(scope="module")
def channel(server):
    yield from grpc_channel(server)


def rpc(channel, method, req_type, resp_type):
    return channel.unary_unary(
        method,
        request_serializer=req_type.SerializeToString if req_type else None,
        response_deserializer=resp_type.FromString,
    )


def md(key=None, bearer=None):
    out = []
    if key is not None:
        out.append(("api-key", key))
    if bearer is not None:
        out.append(("authorization", bearer))
    return out


def create(channel, name, meta):
    return rpc(channel, "/qdrant.Collections/Create", qg.CreateCollection, qg.CollectionOperationResponse)(
        qg.CreateCollection(
            collection_name=name,
            vectors_config=qg.VectorsConfig(params=qg.VectorParams(size=2, distance=qg.Distance.Dot)),
        ),
        metadata=meta,
        timeout=10,
    )


def upsert_req(name, pid):
    return qg.UpsertPoints(
        collection_name=name,
        wait=True,
        points=[qg.PointStruct(id=qg.PointId(num=pid),
                               vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=[1.0, 2.0]))))],
    )


def count(channel, name):
    call = rpc(channel, "/qdrant.Points/Count", qg.CountPoints, qg.CountResponse)
    return call(qg.CountPoints(collection_name=name, exact=True), metadata=md(RW), timeout=10).result.count


@pytest.fixture(scope="module")
def coll(channel):
    create(channel, "gauth", md(RW))
    rpc(channel, "/qdrant.Points/Upsert", qg.UpsertPoints, qg.PointsOperationResponse)(
        upsert_req("gauth", 1), metadata=md(RW), timeout=10)
    return "gauth"


def test_health_checks_need_no_key(channel):
    hc = rpc(channel, "/qdrant.Qdrant/HealthCheck", qg.HealthCheckRequest, qg.HealthCheckReply)
    assert hc(qg.HealthCheckRequest(), timeout=10).version == "1.19.0"
    h1 = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=None,
                             response_deserializer=None)
    assert h1(b"", timeout=10) == b"\x08\x01"  # status: SERVING


@pytest.mark.parametrize(
    "meta,text",
    [
        (md(), MISSING),
        (md("nope"), INVALID),
        (md(""), INVALID),
        (md(RW + "x"), INVALID),
        (md(bearer="Bearer nope"), INVALID),
        (md(bearer=RW), MISSING),
        (md("nope", bearer=f"Bearer {RW}"), INVALID),  # api-key wins
    ],
)
def test_missing_or_wrong_key_is_unauthenticated(channel, coll, meta, text):
    lst = rpc(channel, "/qdrant.Collections/List", qg.ListCollectionsRequest, qg.ListCollectionsResponse)
    with pytest.raises(grpc.RpcError) as ei:
        lst(qg.ListCollectionsRequest(), metadata=meta, timeout=10)
    assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert ei.value.details() == text
    up = rpc(channel, "/qdrant.Points/Upsert", qg.UpsertPoints, qg.PointsOperationResponse)
    with pytest.raises(grpc.RpcError) as ei:
        up(upsert_req(coll, 99), metadata=meta, timeout=10)
    assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert count(channel, coll) == 1


def test_checked_before_the_request_is_unpacked(channel):
    """Garbage without a key is UNAUTHENTICATED, not INVALID_ARGUMENT, and an
    unimplemented method says UNAUTHENTICATED before UNIMPLEMENTED."""
    raw = channel.unary_unary("/qdrant.Points/Upsert", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as ei:
        raw(b"\xff\xff\xff", timeout=10)
    assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as ei:
        raw(b"\xff\xff\xff", metadata=md(RW), timeout=10)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    snap = channel.unary_unary("/qdrant.Snapshots/Create", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as ei:
        snap(b"", timeout=10)
    assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("meta", [md(RW), md(bearer=f"Bearer {RW}")])
def test_read_write_key(channel, meta):
    name = "rw_" + ("h" if meta[0][0] == "api-key" else "b")
    assert create(channel, name, meta).result is True
    up = rpc(channel, "/qdrant.Points/Upsert", qg.UpsertPoints, qg.PointsOperationResponse)
    assert up(upsert_req(name, 5), metadata=meta, timeout=10).result.status == qg.Completed
    dl = rpc(channel, "/qdrant.Collections/Delete", qg.DeleteCollection, qg.CollectionOperationResponse)
    assert dl(qg.DeleteCollection(collection_name=name), metadata=meta, timeout=10).result is True


@pytest.mark.parametrize("meta", [md(RO), md(bearer=f"Bearer {RO}")])
def test_read_only_key_reads_but_cannot_write(channel, coll, meta):
    lst = rpc(channel, "/qdrant.Collections/List", qg.ListCollectionsRequest, qg.ListCollectionsResponse)
    assert coll in [c.name for c in lst(qg.ListCollectionsRequest(), metadata=meta, timeout=10).collections]
    q = rpc(channel, "/qdrant.Points/Query", qg.QueryPoints, qg.QueryResponse)
    hits = q(qg.QueryPoints(collection_name=coll, query=qg.Query(nearest=qg.VectorInput(
        dense=qg.DenseVector(data=[1.0, 0.0])))), metadata=meta, timeout=10)
    assert [h.id.num for h in hits.result] == [1]
    sc = rpc(channel, "/qdrant.Points/Scroll", qg.ScrollPoints, qg.ScrollResponse)
    assert len(sc(qg.ScrollPoints(collection_name=coll), metadata=meta, timeout=10).result) == 1
    writes = [
        ("/qdrant.Points/Upsert", qg.UpsertPoints, qg.PointsOperationResponse, upsert_req(coll, 2)),
        ("/qdrant.Points/Delete", qg.DeletePoints, qg.PointsOperationResponse,
         qg.DeletePoints(collection_name=coll, wait=True, points=qg.PointsSelector(
             points=qg.PointsIdsList(ids=[qg.PointId(num=1)])))),
        ("/qdrant.Collections/Delete", qg.DeleteCollection, qg.CollectionOperationResponse,
         qg.DeleteCollection(collection_name=coll)),
        ("/qdrant.Collections/Create", qg.CreateCollection, qg.CollectionOperationResponse,
         qg.CreateCollection(collection_name="ro_made", vectors_config=qg.VectorsConfig(
             params=qg.VectorParams(size=2, distance=qg.Distance.Dot)))),
        ("/qdrant.Points/CreateFieldIndex", qg.CreateFieldIndexCollection, qg.PointsOperationResponse,
         qg.CreateFieldIndexCollection(collection_name=coll, field_name="a")),
    ]
    for method, req_t, resp_t, req in writes:
        with pytest.raises(grpc.RpcError) as ei:
            rpc(channel, method, req_t, resp_t)(req, metadata=meta, timeout=10)
        assert ei.value.code() == grpc.StatusCode.PERMISSION_DENIED, method
        assert ei.value.details() == FORBIDDEN
    assert count(channel, coll) == 1
    ex = rpc(channel, "/qdrant.Collections/CollectionExists", qg.CollectionExistsRequest,
             qg.CollectionExistsResponse)
    assert ex(qg.CollectionExistsRequest(collection_name="ro_made"), metadata=meta, timeout=10).result.exists is False


def _code(excinfo):
    e = excinfo.value
    return e.code() if hasattr(e, "code") and callable(e.code) else None


def test_python_client_prefer_grpc(server):
    def client(**kw):
        return closing(QdrantClient(host="127.0.0.1", port=server.port, grpc_port=server.grpc_port,
                                    prefer_grpc=True, https=False, timeout=10,
                                    check_compatibility=False, **kw))

    with client(api_key=RW) as c:
        c.create_collection("pyg", vectors_config=m.VectorParams(size=2, distance=m.Distance.DOT))
        c.upsert("pyg", [m.PointStruct(id=1, vector=[1.0, 2.0], payload={"k": "v"})], wait=True)
        assert c.query_points("pyg", query=[1.0, 0.0]).points[0].id == 1
    with client(api_key=RO) as c:
        assert c.count("pyg").count == 1
        assert c.retrieve("pyg", [1])[0].payload == {"k": "v"}
        with pytest.raises(grpc.RpcError) as ei:
            c.upsert("pyg", [m.PointStruct(id=2, vector=[1.0, 2.0])], wait=True)
        assert _code(ei) == grpc.StatusCode.PERMISSION_DENIED
    with client(api_key="wrong") as c:
        with pytest.raises(grpc.RpcError) as ei:
            c.get_collections()
        assert _code(ei) == grpc.StatusCode.UNAUTHENTICATED
        assert ei.value.details() == INVALID
    with client() as c:
        with pytest.raises(grpc.RpcError) as ei:
            c.count("pyg")
        assert _code(ei) == grpc.StatusCode.UNAUTHENTICATED
        assert ei.value.details() == MISSING
    with client(api_key=RO) as c:
        assert c.count("pyg").count == 1
