"""gRPC API tests: the official qdrant-client over gRPC (prefer_grpc=True)
against one Quiver server, plus raw grpcio calls for what the client never
sends (garbage bytes, gzip, UNIMPLEMENTED methods).

Results over gRPC are compared with the same request over REST where that
makes the check stronger than a literal expectation.
"""

import os
import sys
import uuid

import grpc
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as m
import qdrant_client.grpc as qg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py"))
from grpc_harness import grpc_channel, grpc_server  # noqa: E402
from quiver_harness import free_port, quiver_bin  # noqa: E402

UUID1 = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from grpc_server(tmp_path_factory, "grpc")


@pytest.fixture(scope="module")
def gclient(server):
    c = QdrantClient(host="127.0.0.1", port=server.port, grpc_port=server.grpc_port, prefer_grpc=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def rclient(server):
    c = QdrantClient(url=server.url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def channel(server):
    yield from grpc_channel(server)


def fresh(gclient, **kw):
    name = "g_" + uuid.uuid4().hex[:10]
    kw.setdefault("vectors_config", m.VectorParams(size=4, distance=m.Distance.DOT))
    assert gclient.create_collection(name, **kw) is True
    return name


def seed(gclient, name, n=20):
    pts = [
        m.PointStruct(
            id=i,
            vector=[float(i), 1.0, float(i % 3), 0.5],
            payload={
                "color": ["red", "green", "blue"][i % 3],
                "n": i,
                "tags": list(range(i % 4)),
                "d": f"2024-01-{i + 1:02d}T00:00:00Z",
                "text": f"word{i % 5} common",
            },
        )
        for i in range(n)
    ]
    r = gclient.upsert(name, points=pts, wait=True)
    assert r.status == m.UpdateStatus.COMPLETED
    return pts


def grpc_code(excinfo):
    e = excinfo.value
    assert isinstance(e, grpc.RpcError), repr(e)
    return e.code()


# ---- service ---------------------------------------------------------------------


def test_health_check(gclient):
    info = gclient.info()
    assert info.title == "qdrant - vector search engine"
    assert info.version == "1.19.0"
    assert len(info.commit) == 40


def test_grpc_health_v1_raw(channel):
    # grpc.health.v1.HealthCheckResponse{status: SERVING} is b"\x08\x01"
    call = channel.unary_unary(
        "/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None
    )
    assert call(b"", timeout=10) == b"\x08\x01"


# ---- collections ---------------------------------------------------------------


def test_collection_lifecycle(gclient, rclient):
    name = fresh(gclient, vectors_config=m.VectorParams(size=8, distance=m.Distance.COSINE))
    assert gclient.collection_exists(name)
    assert name in [c.name for c in gclient.get_collections().collections]
    info = gclient.get_collection(name)
    assert info.config.params.vectors.size == 8
    assert info.config.params.vectors.distance == m.Distance.COSINE
    assert info.points_count == 0
    assert info.status == m.CollectionStatus.GREEN
    rinfo = rclient.get_collection(name)
    assert info.config.hnsw_config == rinfo.config.hnsw_config
    assert info.config.wal_config == rinfo.config.wal_config
    assert gclient.delete_collection(name) is True
    assert not gclient.collection_exists(name)
    assert gclient.delete_collection(name) is False


def test_create_with_config_diffs(gclient, rclient):
    name = fresh(
        gclient,
        vectors_config={
            "img": m.VectorParams(size=3, distance=m.Distance.EUCLID),
            "txt": m.VectorParams(size=2, distance=m.Distance.DOT),
        },
        hnsw_config=m.HnswConfigDiff(m=32, ef_construct=64),
        wal_config=m.WalConfigDiff(wal_capacity_mb=16),
        optimizers_config=m.OptimizersConfigDiff(indexing_threshold=5000),
    )
    info = rclient.get_collection(name)
    assert info.config.hnsw_config.m == 32
    assert info.config.hnsw_config.ef_construct == 64
    assert info.config.wal_config.wal_capacity_mb == 16
    assert info.config.optimizer_config.indexing_threshold == 5000
    g = gclient.get_collection(name)
    assert set(g.config.params.vectors.keys()) == {"img", "txt"}
    assert g.config.params.vectors["img"].distance == m.Distance.EUCLID
    assert g.config.hnsw_config.m == 32
    # Update (PATCH)
    assert gclient.update_collection(name, optimizers_config=m.OptimizersConfigDiff(indexing_threshold=7000))
    assert rclient.get_collection(name).config.optimizer_config.indexing_threshold == 7000


def test_create_existing_is_already_exists(gclient):
    name = fresh(gclient)
    with pytest.raises(Exception) as ei:
        gclient.create_collection(name, vectors_config=m.VectorParams(size=4, distance=m.Distance.DOT))
    assert grpc_code(ei) == grpc.StatusCode.ALREADY_EXISTS


def test_bad_collection_name_is_invalid_argument(gclient):
    with pytest.raises(Exception) as ei:
        gclient.create_collection("a/b", vectors_config=m.VectorParams(size=4, distance=m.Distance.DOT))
    assert grpc_code(ei) == grpc.StatusCode.INVALID_ARGUMENT


# ---- points ----------------------------------------------------------------------


def test_upsert_ids_and_retrieve(gclient, rclient):
    name = fresh(gclient)
    r = gclient.upsert(
        name,
        points=[
            m.PointStruct(id=7, vector=[1, 2, 3, 4], payload={"a": 1, "b": [1.5, "x", None, {"c": True}]}),
            m.PointStruct(id=UUID1, vector=[4, 3, 2, 1], payload={"a": 2}),
        ],
        wait=True,
    )
    assert r.status == m.UpdateStatus.COMPLETED and r.operation_id is not None
    got = gclient.retrieve(name, ids=[UUID1, 7, 99], with_vectors=True)
    assert [p.id for p in got] == [UUID1, 7]
    assert got[1].payload == {"a": 1, "b": [1.5, "x", None, {"c": True}]}
    assert got[1].vector == [1, 2, 3, 4]
    rest = rclient.retrieve(name, ids=[UUID1, 7, 99], with_vectors=True)
    assert [(p.id, p.payload, p.vector) for p in got] == [(p.id, p.payload, p.vector) for p in rest]
    # without wait: acknowledged (or completed), operation_id always set
    r = gclient.upsert(name, points=[m.PointStruct(id=8, vector=[0, 0, 0, 1])], wait=False)
    assert r.operation_id is not None
    assert r.status in (m.UpdateStatus.ACKNOWLEDGED, m.UpdateStatus.COMPLETED)


def test_named_vectors(gclient, rclient):
    name = fresh(
        gclient,
        vectors_config={
            "img": m.VectorParams(size=3, distance=m.Distance.DOT),
            "txt": m.VectorParams(size=2, distance=m.Distance.DOT),
        },
    )
    gclient.upsert(
        name,
        points=[
            m.PointStruct(id=1, vector={"img": [1, 0, 0], "txt": [0, 1]}),
            m.PointStruct(id=2, vector={"img": [0, 1, 0]}),
        ],
        wait=True,
    )
    got = gclient.retrieve(name, ids=[1, 2], with_vectors=["txt"])
    assert got[0].vector == {"txt": [0, 1]}
    assert got[1].vector == {}
    res = gclient.query_points(name, query=[0, 1, 0], using="img").points
    assert [p.id for p in res] == [2, 1]
    rres = rclient.query_points(name, query=[0, 1, 0], using="img").points
    assert [(p.id, p.score) for p in res] == [(p.id, p.score) for p in rres]


def test_deprecated_vector_data_field(gclient, channel):
    name = fresh(gclient)
    vec = qg.Vector(data=[1.0, 2.0, 3.0, 4.0])  # the deprecated encoding
    req = qg.UpsertPoints(
        collection_name=name,
        wait=True,
        points=[
            qg.PointStruct(
                id=qg.PointId(num=5), vectors=qg.Vectors(vector=vec)
            )
        ],
    )
    call = channel.unary_unary(
        "/qdrant.Points/Upsert",
        request_serializer=qg.UpsertPoints.SerializeToString,
        response_deserializer=qg.PointsOperationResponse.FromString,
    )
    resp = call(req, timeout=10)
    assert resp.result.HasField("operation_id")
    assert resp.result.status == qg.Completed
    assert gclient.retrieve(name, ids=[5], with_vectors=True)[0].vector == [1, 2, 3, 4]


FILTERS = [
    m.Filter(must=[m.FieldCondition(key="color", match=m.MatchValue(value="red"))]),
    m.Filter(must_not=[m.FieldCondition(key="n", range=m.Range(gte=5, lt=15))]),
    m.Filter(should=[m.FieldCondition(key="color", match=m.MatchAny(any=["green", "blue"]))]),
    m.Filter(must=[m.FieldCondition(key="color", match=m.MatchExcept(**{"except": ["red"]}))]),
    m.Filter(must=[m.FieldCondition(key="n", match=m.MatchAny(any=[1, 2, 3]))]),
    m.Filter(must=[m.FieldCondition(key="tags", values_count=m.ValuesCount(gte=2))]),
    m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key="tags"))]),
    m.Filter(must=[m.IsNullCondition(is_null=m.PayloadField(key="nothing"))]),
    m.Filter(must=[m.HasIdCondition(has_id=[1, 3, 5, 100])]),
    m.Filter(
        min_should=m.MinShould(
            conditions=[
                m.FieldCondition(key="color", match=m.MatchValue(value="red")),
                m.FieldCondition(key="n", range=m.Range(lt=6)),
            ],
            min_count=2,
        )
    ),
    m.Filter(must=[m.Filter(should=[m.FieldCondition(key="n", match=m.MatchValue(value=4))])]),
    m.Filter(must=[m.FieldCondition(key="d", range=m.DatetimeRange(gte="2024-01-05T00:00:00Z", lt="2024-01-09"))]),
    m.Filter(must=[m.FieldCondition(key="text", match=m.MatchText(text="word3"))]),
    m.Filter(must=[m.FieldCondition(key="tags", is_empty=False)]),
]


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_query_with_filter_matches_rest(gclient, rclient, flt):
    name = fresh(gclient)
    seed(gclient, name)
    g = gclient.query_points(name, query=[1, 1, 1, 1], query_filter=flt, limit=50, with_payload=True)
    r = rclient.query_points(name, query=[1, 1, 1, 1], query_filter=flt, limit=50, with_payload=True)
    assert [(p.id, p.score, p.payload) for p in g.points] == [(p.id, p.score, p.payload) for p in r.points]
    assert gclient.count(name, count_filter=flt).count == rclient.count(name, count_filter=flt).count


def test_nested_filter(gclient, rclient):
    name = fresh(gclient)
    gclient.upsert(
        name,
        points=[
            m.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"items": [{"a": 1}, {"a": 2}]}),
            m.PointStruct(id=2, vector=[1, 0, 0, 0], payload={"items": [{"a": 3}]}),
        ],
        wait=True,
    )
    flt = m.Filter(
        must=[m.NestedCondition(nested=m.Nested(key="items", filter=m.Filter(must=[m.FieldCondition(key="a", match=m.MatchValue(value=2))])))]
    )
    assert [p.id for p in gclient.scroll(name, scroll_filter=flt)[0]] == [1]


def test_query_by_id_offset_threshold_and_search(gclient, rclient, channel):
    name = fresh(gclient)
    seed(gclient, name)
    kw = dict(query=3, limit=5, offset=2, score_threshold=1.0, with_payload=["color"], with_vectors=True)
    g = gclient.query_points(name, **kw).points
    r = rclient.query_points(name, **kw).points
    assert [(p.id, p.score, p.payload, p.vector) for p in g] == [(p.id, p.score, p.payload, p.vector) for p in r]
    assert all(set(p.payload) == {"color"} for p in g)
    # the deprecated Search RPC (qdrant-client 1.20 no longer has search())
    call = channel.unary_unary(
        "/qdrant.Points/Search",
        request_serializer=qg.SearchPoints.SerializeToString,
        response_deserializer=qg.SearchResponse.FromString,
    )
    flt = qg.Filter(
        must=[qg.Condition(field=qg.FieldCondition(key="color", match=qg.Match(keyword="red")))]
    )
    s = call(
        qg.SearchPoints(
            collection_name=name,
            vector=[1, 0, 0, 0],
            limit=3,
            filter=flt,
            with_payload=qg.WithPayloadSelector(enable=True),
        ),
        timeout=10,
    ).result
    rflt = m.Filter(must=[m.FieldCondition(key="color", match=m.MatchValue(value="red"))])
    rs = rclient.query_points(name, query=[1, 0, 0, 0], limit=3, query_filter=rflt, with_payload=True).points
    assert [(p.id.num, p.score) for p in s] == [(p.id, p.score) for p in rs]
    assert all(p.payload["color"].string_value == "red" for p in s)


def test_query_batch_and_search_batch(gclient, rclient, channel):
    name = fresh(gclient)
    seed(gclient, name)
    reqs = [
        m.QueryRequest(query=[1, 0, 0, 0], limit=3, with_payload=True),
        m.QueryRequest(query=[0, 1, 0, 0], limit=2, filter=m.Filter(must=[m.HasIdCondition(has_id=[999])])),
        m.QueryRequest(query=4, limit=4, with_vector=True),
    ]
    g = gclient.query_batch_points(name, requests=reqs)
    r = rclient.query_batch_points(name, requests=reqs)
    assert [[(p.id, p.score, p.payload, p.vector) for p in x.points] for x in g] == [
        [(p.id, p.score, p.payload, p.vector) for p in x.points] for x in r
    ]
    assert len(g) == 3 and g[1].points == []
    call = channel.unary_unary(
        "/qdrant.Points/SearchBatch",
        request_serializer=qg.SearchBatchPoints.SerializeToString,
        response_deserializer=qg.SearchBatchResponse.FromString,
    )
    res = call(
        qg.SearchBatchPoints(
            collection_name=name,
            search_points=[
                qg.SearchPoints(collection_name=name, vector=[1, 0, 0, 0], limit=3),
                qg.SearchPoints(collection_name=name, vector=[0, 0, 1, 0], limit=2),
            ],
        ),
        timeout=10,
    ).result
    assert [[p.id.num for p in b.result] for b in res] == [[p.id for p in x.points] for x in r[:1]] + [
        [p.id for p in rclient.query_points(name, query=[0, 0, 1, 0], limit=2).points]
    ]


def test_update_and_delete_vectors(gclient):
    name = fresh(
        gclient,
        vectors_config={
            "a": m.VectorParams(size=2, distance=m.Distance.DOT),
            "b": m.VectorParams(size=2, distance=m.Distance.DOT),
        },
    )
    gclient.upsert(name, points=[m.PointStruct(id=1, vector={"a": [1, 2], "b": [3, 4]})], wait=True)
    gclient.update_vectors(name, points=[m.PointVectors(id=1, vector={"a": [5, 6]})], wait=True)
    assert gclient.retrieve(name, ids=[1], with_vectors=True)[0].vector == {"a": [5, 6], "b": [3, 4]}
    gclient.delete_vectors(name, vectors=["b"], points=[1], wait=True)
    assert gclient.retrieve(name, ids=[1], with_vectors=True)[0].vector == {"a": [5, 6]}


def test_update_batch(gclient, rclient):
    name = fresh(gclient)
    ops = [
        m.UpsertOperation(upsert=m.PointsList(points=[
            m.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"a": 1}),
            m.PointStruct(id=2, vector=[0, 1, 0, 0], payload={"a": 2}),
            m.PointStruct(id=3, vector=[0, 0, 1, 0]),
        ])),
        m.SetPayloadOperation(set_payload=m.SetPayload(payload={"b": True}, points=[1, 2])),
        m.OverwritePayloadOperation(overwrite_payload=m.SetPayload(payload={"c": 3}, points=[3])),
        m.DeletePayloadOperation(delete_payload=m.DeletePayload(keys=["a"], points=[2])),
        m.ClearPayloadOperation(clear_payload=m.PointIdsList(points=[1])),
        m.UpdateVectorsOperation(update_vectors=m.UpdateVectors(points=[m.PointVectors(id=3, vector=[0, 0, 0, 1])])),
        m.DeleteOperation(delete=m.PointIdsList(points=[2])),
    ]
    res = gclient.batch_update_points(name, update_operations=ops, wait=True)
    assert len(res) == len(ops)
    assert all(r.status == m.UpdateStatus.COMPLETED and r.operation_id is not None for r in res)
    got = gclient.retrieve(name, ids=[1, 2, 3], with_vectors=True)
    assert [(p.id, p.payload, p.vector) for p in got] == [(1, {}, [1, 0, 0, 0]), (3, {"c": 3}, [0, 0, 0, 1])]
    # a bad operation anywhere in the batch: INVALID_ARGUMENT
    with pytest.raises(Exception) as ei:
        gclient.batch_update_points(
            name, update_operations=[m.UpsertOperation(upsert=m.PointsList(points=[m.PointStruct(id=9, vector=[1])]))]
        )
    assert grpc_code(ei) == grpc.StatusCode.INVALID_ARGUMENT


def test_count_and_scroll(gclient, rclient):
    name = fresh(gclient)
    seed(gclient, name, n=25)
    assert gclient.count(name).count == 25
    pts, nxt = gclient.scroll(name, limit=10, with_payload=m.PayloadSelectorExclude(exclude=["tags"]))
    rpts, rnxt = rclient.scroll(name, limit=10, with_payload=m.PayloadSelectorExclude(exclude=["tags"]))
    assert [(p.id, p.payload) for p in pts] == [(p.id, p.payload) for p in rpts]
    assert nxt == rnxt == 10
    seen = [p.id for p in pts]
    while nxt is not None:
        pts, nxt = gclient.scroll(name, limit=10, offset=nxt)
        seen += [p.id for p in pts]
    assert seen == list(range(25))


def test_payload_operations(gclient, rclient):
    name = fresh(gclient)
    seed(gclient, name, n=4)
    gclient.set_payload(name, payload={"x": 1, "nested": {"y": 2}}, points=[0, 1], wait=True)
    assert gclient.retrieve(name, ids=[0])[0].payload["x"] == 1
    gclient.set_payload(name, payload={"z": 3}, key="nested", points=[0], wait=True)
    assert gclient.retrieve(name, ids=[0])[0].payload["nested"] == {"y": 2, "z": 3}
    gclient.overwrite_payload(name, payload={"only": True}, points=[1], wait=True)
    assert gclient.retrieve(name, ids=[1])[0].payload == {"only": True}
    gclient.delete_payload(name, keys=["color", "n"], points=m.Filter(must=[m.HasIdCondition(has_id=[2])]), wait=True)
    assert set(gclient.retrieve(name, ids=[2])[0].payload) == {"tags", "d", "text"}
    gclient.clear_payload(name, points_selector=[3], wait=True)
    assert gclient.retrieve(name, ids=[3])[0].payload == {}
    assert [(p.id, p.payload) for p in gclient.retrieve(name, ids=[0, 1, 2, 3])] == [
        (p.id, p.payload) for p in rclient.retrieve(name, ids=[0, 1, 2, 3])
    ]


def test_delete_points(gclient):
    name = fresh(gclient)
    seed(gclient, name, n=9)
    r = gclient.delete(name, points_selector=[0, 1], wait=True)
    assert r.status == m.UpdateStatus.COMPLETED
    gclient.delete(name, points_selector=m.Filter(must=[m.FieldCondition(key="color", match=m.MatchValue(value="red"))]), wait=True)
    assert sorted(p.id for p in gclient.scroll(name, limit=100)[0]) == [2, 4, 5, 7, 8]


# ---- errors ---------------------------------------------------------------------


def test_unknown_collection_not_found(gclient):
    for fn in (
        lambda: gclient.get_collection("nope_" + uuid.uuid4().hex),
        lambda: gclient.upsert("nope_x", points=[m.PointStruct(id=1, vector=[1, 2, 3, 4])]),
        lambda: gclient.query_points("nope_x", query=[1, 2, 3, 4]),
        lambda: gclient.count("nope_x"),
    ):
        with pytest.raises(Exception) as ei:
            fn()
        assert grpc_code(ei) == grpc.StatusCode.NOT_FOUND


def test_wrong_dimension_invalid_argument(gclient):
    name = fresh(gclient)
    with pytest.raises(Exception) as ei:
        gclient.upsert(name, points=[m.PointStruct(id=1, vector=[1, 2, 3])], wait=True)
    assert grpc_code(ei) == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(Exception) as ei:
        gclient.query_points(name, query=[1, 2])
    assert grpc_code(ei) == grpc.StatusCode.INVALID_ARGUMENT
    assert gclient.count(name).count == 0


NUL_PAYLOAD = {
    "s": "a\x00b",
    "k\x00y": 1,
    "\x00": "\x00",
    "list": ["x\x00", "\x00\x00", "plain"],
    "obj": {"in\x00ner": {"deep": "é\x00日本"}},
}


def test_nul_in_payload_travels_both_ways(gclient, rclient, server):
    """Payload strings and keys holding NUL arrive whole over gRPC and come
    back whole over gRPC and REST (protobuf-c carries them with a length)."""
    name = fresh(gclient)
    gclient.upsert(name, points=[m.PointStruct(id=1, vector=[1, 2, 3, 4], payload=NUL_PAYLOAD)],
                   wait=True)
    assert gclient.retrieve(name, ids=[1])[0].payload == NUL_PAYLOAD
    assert rclient.retrieve(name, ids=[1])[0].payload == NUL_PAYLOAD
    assert gclient.scroll(name)[0][0].payload == NUL_PAYLOAD
    hits = gclient.query_points(name, query=[1, 0, 0, 0], with_payload=True).points
    assert hits[0].payload == NUL_PAYLOAD
    # the JSON text really holds the escaped NULs
    import httpx

    r = httpx.post(f"{server.url}/collections/{name}/points", json={"ids": [1], "with_payload": True})
    assert '"a\\u0000b"' in r.text and '"k\\u0000y"' in r.text


def test_rest_stored_nul_read_over_grpc(gclient, server):
    name = fresh(gclient)
    import httpx

    body = '{"points":[{"id":7,"vector":[1,2,3,4],"payload":{"t":"x\\u0000y\\u0000","n\\u0000":[null,"\\u0000"]}}]}'
    r = httpx.put(f"{server.url}/collections/{name}/points?wait=true", content=body,
                  headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    want = {"t": "x\x00y\x00", "n\x00": [None, "\x00"]}
    assert gclient.retrieve(name, ids=[7])[0].payload == want
    assert gclient.scroll(name, with_payload=True)[0][0].payload == want


def test_nul_in_match_values_and_payload_ops(gclient, rclient):
    name = fresh(gclient)
    pts = [
        m.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"k": "a\x00b"}),
        m.PointStruct(id=2, vector=[0, 1, 0, 0], payload={"k": "a"}),
        m.PointStruct(id=3, vector=[0, 0, 1, 0], payload={"k": "a\x00c"}),
    ]
    gclient.upsert(name, points=pts, wait=True)

    def ids(cond):
        f = m.Filter(must=[m.FieldCondition(key="k", match=cond)])
        got = sorted(p.id for p in gclient.scroll(name, scroll_filter=f)[0])
        assert got == sorted(p.id for p in rclient.scroll(name, scroll_filter=f)[0])
        return got

    assert ids(m.MatchValue(value="a\x00b")) == [1]
    assert ids(m.MatchValue(value="a")) == [2]
    assert ids(m.MatchAny(any=["a\x00c", "a\x00b"])) == [1, 3]
    assert ids(m.MatchExcept(**{"except": ["a\x00b"]})) == [2, 3]
    assert ids(m.MatchText(text="\x00c")) == [3]
    # set_payload: a key and a value with NUL, then delete by that key
    gclient.set_payload(name, payload={"n\x00k": "v\x00"}, points=[2], wait=True)
    assert gclient.retrieve(name, ids=[2])[0].payload == {"k": "a", "n\x00k": "v\x00"}
    gclient.overwrite_payload(name, payload={"\x00": 0}, points=[3], wait=True)
    assert rclient.retrieve(name, ids=[3])[0].payload == {"\x00": 0}


def test_nul_in_collection_metadata(gclient, rclient):
    name = fresh(gclient, metadata={"m\x00": "v\x00w"})
    assert gclient.get_collection(name).config.metadata == {"m\x00": "v\x00w"}
    assert rclient.get_collection(name).config.metadata == {"m\x00": "v\x00w"}


def test_nul_in_a_name_is_refused_not_truncated(gclient):
    """Names and identifiers stay NUL-terminated C strings: "x\0y" would act
    on collection "x", so a NUL there is refused and nothing changes."""
    name = fresh(gclient)
    with pytest.raises(Exception) as ei:
        gclient.delete_collection(name + "\x00tail")
    assert grpc_code(ei) == grpc.StatusCode.INVALID_ARGUMENT
    assert "NUL" in str(ei.value)
    assert gclient.collection_exists(name)
    with pytest.raises(Exception) as ei:
        gclient.upsert(name + "\x00", points=[m.PointStruct(id=1, vector=[1, 2, 3, 4])], wait=True)
    assert grpc_code(ei) == grpc.StatusCode.INVALID_ARGUMENT
    assert gclient.count(name).count == 0


def test_invalid_utf8_in_payload_string_is_invalid_argument(channel, gclient):
    """Payload strings are generated with their length, but are still
    checked as UTF-8 (as prost does in Qdrant): nothing is written."""
    name = fresh(gclient)
    call = channel.unary_unary("/qdrant.Points/Upsert", request_serializer=None,
                               response_deserializer=None)
    for bad in (b"\xc3\x28", b"a\x00\xff", b"\xed\xa0\x80"):  # bad byte, NUL + bad, surrogate
        placeholder = b"Q" * len(bad)
        ok = qg.UpsertPoints(collection_name=name, wait=True, points=[qg.PointStruct(
            id=qg.PointId(num=1),
            vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=[1.0] * 4))),
            payload={"s": qg.Value(string_value=placeholder.decode())})]).SerializeToString()
        assert ok.count(placeholder) == 1
        with pytest.raises(grpc.RpcError) as ei:
            call(ok.replace(placeholder, bad), timeout=10)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "UTF-8" in ei.value.details()
    assert gclient.count(name).count == 0


def _raw(channel, method, msg):
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as ei:
        call(msg.SerializeToString(), timeout=10)
    return ei.value


def test_empty_query_oneofs_are_invalid_argument(channel, gclient):
    """An unset oneof is bad input (Qdrant's texts), not a missing feature."""
    name = fresh(gclient)
    seed(gclient, name)
    e = _raw(channel, "/qdrant.Points/Query", qg.QueryPoints(collection_name=name, query=qg.Query()))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Query variant is missing" in e.details()
    e = _raw(channel, "/qdrant.Points/Query",
             qg.QueryPoints(collection_name=name, query=qg.Query(nearest=qg.VectorInput())))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "VectorInput variant is missing" in e.details()


def test_empty_collection_name_is_invalid_argument(channel):
    pt = qg.PointStruct(id=qg.PointId(num=1),
                        vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=[1.0] * 4))))
    e = _raw(channel, "/qdrant.Points/Upsert", qg.UpsertPoints(collection_name="", wait=True, points=[pt]))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "collection_name" in e.details()
    e = _raw(channel, "/qdrant.Points/Count", qg.CountPoints(collection_name="x" * 256))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_payload_number_is_invalid_argument(channel, gclient, bad):
    """JSON has no NaN or infinities: Qdrant refuses them ("cannot convert to
    json number") and nothing is written."""
    name = fresh(gclient)
    pt = qg.PointStruct(id=qg.PointId(num=1),
                        vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=[1.0] * 4))),
                        payload={"ok": qg.Value(integer_value=1),
                                 "d": qg.Value(list_value=qg.ListValue(values=[qg.Value(double_value=bad)]))})
    e = _raw(channel, "/qdrant.Points/Upsert", qg.UpsertPoints(collection_name=name, wait=True, points=[pt]))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot convert to json number" in e.details()
    assert gclient.count(name).count == 0


def test_unimplemented_rpc(gclient):
    name = fresh(gclient)
    with pytest.raises(Exception) as ei:
        gclient.create_snapshot(name)
    assert grpc_code(ei) == grpc.StatusCode.UNIMPLEMENTED
    assert "not supported by Quiver yet" in ei.value.details()


def test_garbage_bytes_invalid_argument(server, channel, gclient):
    call = channel.unary_unary("/qdrant.Points/Upsert", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as ei:
        call(b"\xff\xff\xff", timeout=10)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ei.value.details()
    # the server is still healthy
    assert gclient.info().version == "1.19.0"
    assert server.proc.poll() is None


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _nested_value_bytes(levels):
    """A Value holding a ListValue holding a Value ... `levels` deep, built
    from the inside out (only headers: every level ends where its child does)."""
    headers, size = [], 0
    for _ in range(levels):
        lv = b"\x0a" + _varint(size)  # ListValue.values = 1
        size += len(lv)
        v = b"\x3a" + _varint(size)  # Value.list_value = 7
        size += len(v)
        headers.append(v + lv)
    return b"".join(reversed(headers))


def test_invalid_utf8_string_is_invalid_argument(channel):
    call = channel.unary_unary(
        "/qdrant.Collections/CollectionExists", request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.RpcError) as ei:
        call(b"\x0a\x02\xff\xfe", timeout=10)  # collection_name = b"\xff\xfe"
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # a valid non-ASCII name is fine
    resp = qg.CollectionExistsResponse.FromString(call(b"\x0a\x03" + "é!".encode(), timeout=10))
    assert resp.result.exists is False


def test_deep_nesting_is_rejected_not_a_crash(server, channel, gclient):
    name = fresh(gclient)
    value = _nested_value_bytes(60000)
    entry = b"\x0a\x01k" + b"\x12" + _varint(len(value)) + value  # key=1, value=2
    point = (
        b"\x0a\x02\x08\x01"  # id {num: 1}
        + b"\x1a" + _varint(len(entry)) + entry  # payload = 3
    )
    req = b"\x0a" + _varint(len(name)) + name.encode() + b"\x1a" + _varint(len(point)) + point
    call = channel.unary_unary("/qdrant.Points/Upsert", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as ei:
        call(req, timeout=30)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert server.proc.poll() is None
    # moderate nesting is fine
    deep = {"a": [[[[{"b": [1, {"c": None}]}]]]]}
    gclient.upsert(name, points=[m.PointStruct(id=2, vector=[1, 2, 3, 4], payload=deep)], wait=True)
    assert gclient.retrieve(name, ids=[2])[0].payload == deep


def test_gzip_compressed_call(server, gclient):
    name = fresh(gclient)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", compression=grpc.Compression.Gzip) as ch:
        up = ch.unary_unary(
            "/qdrant.Points/Upsert",
            request_serializer=qg.UpsertPoints.SerializeToString,
            response_deserializer=qg.PointsOperationResponse.FromString,
        )
        pts = [
            qg.PointStruct(
                id=qg.PointId(num=i),
                vectors=qg.Vectors(vector=qg.Vector(dense=qg.DenseVector(data=[1.0] * 4))),
            )
            for i in range(200)
        ]
        resp = up(
            qg.UpsertPoints(collection_name=name, wait=True, points=pts),
            timeout=10,
            compression=grpc.Compression.Gzip,
        )
        assert resp.result.status == qg.Completed
        hc = ch.unary_unary(
            "/qdrant.Qdrant/HealthCheck",
            request_serializer=qg.HealthCheckRequest.SerializeToString,
            response_deserializer=qg.HealthCheckReply.FromString,
        )
        assert hc(qg.HealthCheckRequest(), timeout=10).version == "1.19.0"
    assert gclient.count(name).count == 200


def test_list_aliases_empty(channel):
    call = channel.unary_unary(
        "/qdrant.Collections/ListAliases",
        request_serializer=qg.ListAliasesRequest.SerializeToString,
        response_deserializer=qg.ListAliasesResponse.FromString,
    )
    assert list(call(qg.ListAliasesRequest(), timeout=10).aliases) == []


def test_busy_grpc_port_refuses_to_start(tmp_path):
    """Like Qdrant, a server that cannot bind its gRPC port does not start."""
    import socket
    import subprocess

    from quiver_harness import free_port, quiver_bin

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        env = dict(os.environ, QDRANT__SERVICE__GRPC_PORT=str(busy.getsockname()[1]),
                   QDRANT__SERVICE__HTTP_PORT=str(free_port()),
                   QDRANT__STORAGE__STORAGE_PATH=str(tmp_path / "storage"))
        r = subprocess.run([quiver_bin()], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "cannot start the gRPC server" in r.stderr


# ---- geo conditions, facets and order_by over gRPC --------------------------------------------

GEO_POINTS = [(1, {"lat": 52.52, "lon": 13.405}), (2, {"lat": 48.8566, "lon": 2.3522}),
              (3, {"lat": -33.8688, "lon": 151.2093}), (4, [{"lat": 51.5, "lon": -0.12}]),
              (5, {"lat": 50.0, "lon": 10.0}), (6, "nowhere")]
RING = [m.GeoPoint(lat=40, lon=-5), m.GeoPoint(lat=60, lon=-5), m.GeoPoint(lat=60, lon=20),
        m.GeoPoint(lat=40, lon=20), m.GeoPoint(lat=40, lon=-5)]
HOLE = [m.GeoPoint(lat=52, lon=13), m.GeoPoint(lat=53, lon=13), m.GeoPoint(lat=53, lon=14),
        m.GeoPoint(lat=52, lon=14), m.GeoPoint(lat=52, lon=13)]
GEO_CONDS = [
    (m.FieldCondition(key="loc", geo_radius=m.GeoRadius(center=m.GeoPoint(lat=50, lon=10), radius=600000.0)),
     [1, 2, 5]),
    (m.FieldCondition(key="loc", geo_bounding_box=m.GeoBoundingBox(
        top_left=m.GeoPoint(lat=55, lon=0), bottom_right=m.GeoPoint(lat=45, lon=15))), [1, 2, 5]),
    (m.FieldCondition(key="loc", geo_polygon=m.GeoPolygon(exterior=m.GeoLineString(points=RING))), [1, 2, 4, 5]),
    (m.FieldCondition(key="loc", geo_polygon=m.GeoPolygon(exterior=m.GeoLineString(points=RING),
                                                           interiors=[m.GeoLineString(points=HOLE)])), [2, 4, 5]),
]


def test_geo_conditions_match_rest(gclient, rclient):
    name = fresh(gclient)
    gclient.upsert(name, wait=True, points=[m.PointStruct(id=i, vector=[1, 0, 0, 0], payload={"loc": loc})
                                            for i, loc in GEO_POINTS])
    for cond, exp in GEO_CONDS:
        for flt, want in ((m.Filter(must=[cond]), exp),
                          (m.Filter(must_not=[cond]), [i for i, _ in GEO_POINTS if i not in exp])):
            g = [p.id for p in gclient.scroll(name, scroll_filter=flt, limit=50)[0]]
            r = [p.id for p in rclient.scroll(name, scroll_filter=flt, limit=50)[0]]
            assert g == r == want, (cond, g, r)
            assert gclient.count(name, count_filter=flt).count == len(want)


def _count(channel, name, field_condition):
    flt = qg.Filter(must=[qg.Condition(field=field_condition)])
    return _raw(channel, "/qdrant.Points/Count", qg.CountPoints(collection_name=name, filter=flt))


def test_malformed_geo_conditions_are_invalid_argument(gclient, channel):
    name = fresh(gclient)
    p = lambda lat, lon: qg.GeoPoint(lat=lat, lon=lon)  # noqa: E731
    ring = lambda *pts: qg.GeoLineString(points=list(pts))  # noqa: E731
    square = ring(p(0, 0), p(1, 0), p(1, 1), p(0, 1), p(0, 0))
    cases = [
        (qg.FieldCondition(key="loc", geo_bounding_box=qg.GeoBoundingBox(top_left=p(1, 1))),
         "Malformed GeoBoundingBox type"),
        (qg.FieldCondition(key="loc", geo_radius=qg.GeoRadius(radius=10)), "Malformed GeoRadius type"),
        (qg.FieldCondition(key="loc", geo_polygon=qg.GeoPolygon(interiors=[square])),
         "Malformed GeoPolygon type - field `exterior` is required"),
        (qg.FieldCondition(key="loc", geo_polygon=qg.GeoPolygon(exterior=ring(p(0, 0), p(1, 1), p(0, 0)))),
         "exterior: value invalid, the size must be at least 4, got 3"),
        (qg.FieldCondition(key="loc", geo_polygon=qg.GeoPolygon(exterior=ring(p(0, 0), p(1, 0), p(1, 1), p(0, 1)))),
         "exterior: value invalid, the first and the last points should be same to form a closed line"),
        (qg.FieldCondition(key="loc", geo_polygon=qg.GeoPolygon(
            exterior=square, interiors=[ring(p(0, 0), p(1, 0), p(1, 1), p(0, 2))])),
         "interiors: value invalid, the first and the last points should be same"),
        (qg.FieldCondition(key="loc", geo_radius=qg.GeoRadius(center=p(95, 0), radius=10)),
         "Wrong format of GeoPoint payload: expected `lat` = 95 within [-90;90]"),
        (qg.FieldCondition(key="loc", geo_bounding_box=qg.GeoBoundingBox(top_left=p(1, 1), bottom_right=p(0, 181))),
         "`lon` = 181 within [-180;180]"),
    ]
    for cond, text in cases:
        e = _count(channel, name, cond)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (text, e.details())
        assert text in e.details(), (text, e.details())


def test_facet_and_order_by_raw(gclient, rclient, channel):
    name = fresh(gclient)
    seed(gclient, name)
    gclient.create_payload_index(name, "color", field_schema="keyword", wait=True)
    gclient.create_payload_index(name, "n", field_schema="integer", wait=True)
    gclient.create_payload_index(name, "d", field_schema="datetime", wait=True)
    facet = channel.unary_unary("/qdrant.Points/Facet", request_serializer=qg.FacetCounts.SerializeToString,
                                response_deserializer=qg.FacetResponse.FromString)
    resp = facet(qg.FacetCounts(collection_name=name, key="color"), timeout=10)
    assert [(h.value.WhichOneof("variant"), h.value.string_value, h.count) for h in resp.hits] == \
        [("string_value", "green", 7), ("string_value", "red", 7), ("string_value", "blue", 6)]
    resp = facet(qg.FacetCounts(collection_name=name, key="n", limit=2), timeout=10)
    assert [(h.value.integer_value, h.count) for h in resp.hits] == [(0, 1), (1, 1)]
    assert resp.time > 0
    # the same hits as REST
    assert gclient.facet(name, "color", limit=2).hits == rclient.facet(name, "color", limit=2).hits
    e = _raw(channel, "/qdrant.Points/Facet", qg.FacetCounts(collection_name=name, key="color", limit=0))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit: value 0 invalid" in e.details()
    e = _raw(channel, "/qdrant.Points/Facet", qg.FacetCounts(collection_name=name, key="tags"))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "No appropriate index for faceting: `tags`" in e.details()
    e = _raw(channel, "/qdrant.Points/Facet", qg.FacetCounts(collection_name="nope_" + name, key="color"))
    assert e.code() == grpc.StatusCode.NOT_FOUND

    scroll = channel.unary_unary("/qdrant.Points/Scroll", request_serializer=qg.ScrollPoints.SerializeToString,
                                 response_deserializer=qg.ScrollResponse.FromString)
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp(seconds=1704412800)  # 2024-01-05T00:00:00Z: seed's d is 2024-01-(i+1)
    by_ts = scroll(qg.ScrollPoints(collection_name=name, limit=3, order_by=qg.OrderBy(
        key="d", start_from=qg.StartFrom(timestamp=ts))), timeout=10)
    by_str = scroll(qg.ScrollPoints(collection_name=name, limit=3, order_by=qg.OrderBy(
        key="d", start_from=qg.StartFrom(datetime="2024-01-05T00:00:00Z"))), timeout=10)
    assert [p.id.num for p in by_ts.result] == [p.id.num for p in by_str.result] == [4, 5, 6]
    assert [p.order_value.int for p in by_ts.result] == [(1704412800 + k * 86400) * 1_000_000 for k in range(3)]
    assert not by_ts.HasField("next_page_offset")
    # an unknown direction reads as ascending, as in Qdrant
    odd = scroll(qg.ScrollPoints(collection_name=name, limit=2, order_by=qg.OrderBy(key="n", direction=7)),
                 timeout=10)
    assert [p.id.num for p in odd.result] == [0, 1]
    e = _raw(channel, "/qdrant.Points/Scroll", qg.ScrollPoints(collection_name=name, order_by=qg.OrderBy(
        key="d", start_from=qg.StartFrom(datetime="soon"))))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "Malformed datetime" in e.details()
    e = _raw(channel, "/qdrant.Points/Scroll", qg.ScrollPoints(collection_name=name, offset=qg.PointId(num=1),
                                                               order_by=qg.OrderBy(key="n")))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "Cannot use an `offset`" in e.details()
    # the query API's order_by variant, as over REST
    g = gclient.query_points(name, query=m.OrderByQuery(order_by=m.OrderBy(key="n", direction="desc")), limit=3)
    r = rclient.query_points(name, query=m.OrderByQuery(order_by=m.OrderBy(key="n", direction="desc")), limit=3)
    assert [(p.id, p.order_value, p.score, p.version) for p in g.points] == \
        [(p.id, p.order_value, p.score, p.version) for p in r.points] == [(19, 19, 1.0, 0), (18, 18, 1.0, 0),
                                                                          (17, 17, 1.0, 0)]
