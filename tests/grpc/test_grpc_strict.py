"""Strict mode over raw gRPC (grpcio + the client's generated messages):
StrictModeConfig in Create / Update / CollectionInfo, validation as
INVALID_ARGUMENT, limit violations as INVALID_ARGUMENT with Qdrant's text,
and rate limits as RESOURCE_EXHAUSTED with `retry-after` trailing metadata
(an integer number of seconds, where qdrant-client and tonic read it).
"""

import time
import uuid

import grpc
import pytest
import qdrant_client.grpc as qg

from grpc_harness import grpc_channel, grpc_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from grpc_server(tmp_path_factory, "grpc-strict")


@pytest.fixture(scope="module")
def channel(server):
    yield from grpc_channel(server)


def call(channel, method, msg, resp_type):
    fn = channel.unary_unary(method, request_serializer=lambda x: x.SerializeToString(),
                             response_deserializer=resp_type.FromString)
    return fn(msg, timeout=10)


def create(channel, strict, n=0):
    name = "gs_" + uuid.uuid4().hex[:10]
    req = qg.CreateCollection(
        collection_name=name,
        vectors_config=qg.VectorsConfig(params=qg.VectorParams(size=4, distance=qg.Distance.Dot)),
        strict_mode_config=strict)
    assert call(channel, "/qdrant.Collections/Create", req, qg.CollectionOperationResponse).result
    if n:
        pts = [qg.PointStruct(id=qg.PointId(num=i), vectors=qg.Vectors(vector=qg.Vector(data=[1.0, 0, 0, 0])))
               for i in range(n)]
        call(channel, "/qdrant.Points/Upsert",
             qg.UpsertPoints(collection_name=name, points=pts, wait=True), qg.PointsOperationResponse)
    return name


def info(channel, name):
    return call(channel, "/qdrant.Collections/Get",
                qg.GetCollectionInfoRequest(collection_name=name), qg.GetCollectionInfoResponse).result


def query(channel, name, limit=1, **kw):
    return call(channel, "/qdrant.Points/Query",
                qg.QueryPoints(collection_name=name, query=qg.Query(nearest=qg.VectorInput(
                    dense=qg.DenseVector(data=[1.0, 0, 0, 0]))), limit=limit, **kw),
                qg.QueryResponse)


def test_config_round_trip(channel):
    name = create(channel, qg.StrictModeConfig(
        enabled=True, max_query_limit=5, search_max_oversampling=1.5, write_rate_limit=100,
        sparse_config=qg.StrictModeSparseConfig(sparse_config={"s": qg.StrictModeSparse(max_length=3)})))
    s = info(channel, name).config.strict_mode_config
    assert (s.enabled, s.max_query_limit, s.search_max_oversampling, s.write_rate_limit) == (True, 5, 1.5, 100)
    assert s.sparse_config.sparse_config["s"].max_length == 3
    assert not s.HasField("read_rate_limit")
    call(channel, "/qdrant.Collections/Update",
         qg.UpdateCollection(collection_name=name, strict_mode_config=qg.StrictModeConfig(max_timeout=7)),
         qg.CollectionOperationResponse)
    s = info(channel, name).config.strict_mode_config
    assert (s.enabled, s.max_query_limit, s.max_timeout) == (True, 5, 7)


def test_never_configured_reports_enabled_false(channel):
    name = "gs_" + uuid.uuid4().hex[:10]
    req = qg.CreateCollection(
        collection_name=name,
        vectors_config=qg.VectorsConfig(params=qg.VectorParams(size=4, distance=qg.Distance.Dot)))
    call(channel, "/qdrant.Collections/Create", req, qg.CollectionOperationResponse)
    cfg = info(channel, name).config
    assert cfg.HasField("strict_mode_config")
    assert cfg.strict_mode_config.HasField("enabled") and cfg.strict_mode_config.enabled is False
    assert not cfg.strict_mode_config.HasField("max_query_limit")


@pytest.mark.parametrize("bad,text", [
    (qg.StrictModeConfig(max_query_limit=0), "strict_mode_config.max_query_limit: value 0 invalid"),
    (qg.StrictModeConfig(read_rate_limit=0), "strict_mode_config.read_rate_limit: value 0 invalid"),
    (qg.StrictModeConfig(max_resident_memory_percent=200),
     "strict_mode_config.max_resident_memory_percent: value 200 invalid, must be from 1 to 100"),
    (qg.StrictModeConfig(multivector_config=qg.StrictModeMultivectorConfig(
        multivector_config={"v": qg.StrictModeMultivector(max_vectors=0)})),
     "strict_mode_config.multivector_config.v.max_vectors: value 0 invalid"),
])
def test_invalid_config_is_invalid_argument_and_changes_nothing(channel, bad, text):
    name = "gs_" + uuid.uuid4().hex[:10]
    req = qg.CreateCollection(
        collection_name=name,
        vectors_config=qg.VectorsConfig(params=qg.VectorParams(size=4, distance=qg.Distance.Dot)),
        strict_mode_config=bad)
    with pytest.raises(grpc.RpcError) as ei:
        call(channel, "/qdrant.Collections/Create", req, qg.CollectionOperationResponse)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert text in ei.value.details()
    exists = call(channel, "/qdrant.Collections/CollectionExists",
                  qg.CollectionExistsRequest(collection_name=name), qg.CollectionExistsResponse)
    assert not exists.result.exists
    # an update with it leaves the old config
    other = create(channel, qg.StrictModeConfig(enabled=True, max_query_limit=9))
    with pytest.raises(grpc.RpcError) as ei:
        call(channel, "/qdrant.Collections/Update",
             qg.UpdateCollection(collection_name=other, strict_mode_config=bad), qg.CollectionOperationResponse)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info(channel, other).config.strict_mode_config.max_query_limit == 9


def test_limit_violation_is_invalid_argument(channel):
    name = create(channel, qg.StrictModeConfig(enabled=True, max_query_limit=2, max_timeout=3), n=3)
    assert len(query(channel, name, limit=2).result) == 2
    with pytest.raises(grpc.RpcError) as ei:
        query(channel, name, limit=3)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ei.value.details() == ('Bad request: Limit exceeded 3 > 2 for "limit". Help: Reduce the '
                                  '"limit" parameter to or below 2.')
    with pytest.raises(grpc.RpcError) as ei:
        query(channel, name, limit=1, timeout=4)
    assert 'Limit exceeded 4 > 3 for "timeout"' in ei.value.details()


def retry_after(err):
    vals = [v for k, v in (err.trailing_metadata() or ()) if k == "retry-after"]
    return vals


def test_rate_limit_resource_exhausted_with_retry_after(channel):
    # 60 writes a minute (a token a second); an upsert of 60 points takes them all
    name = create(channel, qg.StrictModeConfig(enabled=True, write_rate_limit=60, read_rate_limit=60))
    pts = [qg.PointStruct(id=qg.PointId(num=i), vectors=qg.Vectors(vector=qg.Vector(data=[1.0, 0, 0, 0])))
           for i in range(60)]
    call(channel, "/qdrant.Points/Upsert", qg.UpsertPoints(collection_name=name, points=pts, wait=True),
         qg.PointsOperationResponse)
    one = qg.UpsertPoints(collection_name=name, wait=True, points=[
        qg.PointStruct(id=qg.PointId(num=99), vectors=qg.Vectors(vector=qg.Vector(data=[0, 1.0, 0, 0])))])
    with pytest.raises(grpc.RpcError) as ei:
        call(channel, "/qdrant.Points/Upsert", one, qg.PointsOperationResponse)
    e = ei.value
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert e.details().startswith("Rate limiting exceeded: Write rate limit exceeded: Operation "
                                  "requires 1 tokens but only ")
    vals = retry_after(e)
    assert len(vals) == 1 and vals[0].isdigit() and 1 <= int(vals[0]) <= 2, vals
    time.sleep(int(vals[0]))
    assert call(channel, "/qdrant.Points/Upsert", one, qg.PointsOperationResponse).result.status \
        == qg.UpdateStatus.Completed
    # a read costing more than the whole minute: RESOURCE_EXHAUSTED without retry-after
    flt = qg.Filter(must_not=[qg.Condition(field=qg.FieldCondition(key="k", match=qg.Match(integer=i)))
                              for i in range(60)])
    with pytest.raises(grpc.RpcError) as ei:
        call(channel, "/qdrant.Points/Count", qg.CountPoints(collection_name=name, filter=flt),
             qg.CountResponse)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_after(ei.value) == []
    assert "larger than than rate limiter capacity" in ei.value.details()
