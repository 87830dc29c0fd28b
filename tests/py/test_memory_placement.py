"""Memory placement settings (Qdrant 1.19's `memory`: cold / cached / pinned)
of dense vectors (VectorParams / VectorParamsDiff), HNSW graphs
(HnswConfig / HnswConfigDiff, collection-wide and per vector) and quantized
vectors (quantization configs): accepted, validated, persisted and echoed
the way Qdrant does - only what the user gave appears in GET
/collections/{name}; `pinned` is refused for dense vector storage.

Transport-aware: `client` speaks gRPC under QUIVER_PREFER_GRPC=1, so the
round trips run through both APIs' conversions; `http` is always raw REST,
for the exact echoed JSON and for values the typed client cannot build.
The engine side (what is resident) is in test_optimizer.py.
"""

import grpc
import pytest
from qdrant_client import models as m

from quiver_harness import config_json, configs_survive_restart, refused

DIM = 4
PINNED_MSG = "`pinned` memory placement is not supported for dense vector storage"


def vp(**kw):
    return m.VectorParams(size=DIM, distance=m.Distance.DOT, **kw)


# ---- vectors -----------------------------------------------------------------------------


@pytest.mark.parametrize("mem", [m.Memory.COLD, m.Memory.CACHED])
def test_vector_memory_round_trip(client, http, collection_name, mem):
    assert client.create_collection(collection_name, vectors_config=vp(memory=mem))
    assert client.get_collection(collection_name).config.params.vectors.memory == mem
    assert config_json(http, collection_name)["params"]["vectors"] == {
        "size": DIM, "distance": "Dot", "memory": mem.value}


def test_vector_memory_with_on_disk_both_echoed(client, http, collection_name):
    # memory overrides on_disk, but both are stored and echoed as given
    assert client.create_collection(collection_name, vectors_config={
        "a": vp(on_disk=True, memory=m.Memory.CACHED), "b": vp()})
    vecs = client.get_collection(collection_name).config.params.vectors
    assert vecs["a"].on_disk is True and vecs["a"].memory == m.Memory.CACHED
    assert vecs["b"].memory is None
    js = config_json(http, collection_name)["params"]["vectors"]
    assert js["a"] == {"size": DIM, "distance": "Dot", "on_disk": True, "memory": "cached"}
    assert list(js["a"]) == ["size", "distance", "on_disk", "memory"]  # Qdrant's field order
    assert "memory" not in js["b"]


def test_vector_memory_pinned_refused(client, http, collection_name):
    refused(lambda: client.create_collection(collection_name, vectors_config=vp(memory=m.Memory.PINNED)),
            PINNED_MSG)
    assert not client.collection_exists(collection_name)
    refused(lambda: client.create_collection(collection_name,
                                             vectors_config={"a": vp(memory=m.Memory.PINNED)}),
            PINNED_MSG)
    assert not client.collection_exists(collection_name)


def test_vector_memory_rest_messages(http, collection_name):
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"size": DIM, "distance": "Dot", "memory": "pinned"}})
    assert r.status_code == 422, r.text
    assert r.json()["status"]["error"] == f"Validation error in JSON body: [vectors.memory: {PINNED_MSG}]"
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"a": {"size": DIM, "distance": "Dot", "memory": "pinned"}}})
    assert r.status_code == 422, r.text
    assert f"vectors.a.memory: {PINNED_MSG}" in r.text
    for bad, text in (("hot", "unknown variant `hot`, expected one of `cold`, `cached`, `pinned`"),
                      ("Cold", "unknown variant `Cold`"), (1, "invalid type: integer `1`")):
        r = http.put(f"/collections/{collection_name}",
                     json={"vectors": {"size": DIM, "distance": "Dot", "memory": bad}})
        assert r.status_code == 400, r.text
        assert r.json()["status"]["error"].startswith("Format error in JSON body: "), r.text
        assert text in r.text
    assert http.get(f"/collections/{collection_name}/exists").json()["result"]["exists"] is False
    # null = absent
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"size": DIM, "distance": "Dot", "memory": None}})
    assert r.status_code == 200, r.text
    assert "memory" not in config_json(http, collection_name)["params"]["vectors"]


def test_vector_memory_patch(client, http, collection_name):
    client.create_collection(collection_name, vectors_config={"a": vp(on_disk=True), "b": vp()})
    assert client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(memory=m.Memory.CACHED)})
    vecs = client.get_collection(collection_name).config.params.vectors
    assert vecs["a"].memory == m.Memory.CACHED and vecs["a"].on_disk is True
    assert vecs["b"].memory is None
    assert client.update_collection(collection_name, vectors_config={
        "b": m.VectorParamsDiff(memory=m.Memory.COLD)})
    js = config_json(http, collection_name)["params"]["vectors"]
    assert js["a"]["memory"] == "cached" and js["b"]["memory"] == "cold"
    # a diff without memory leaves it alone; pinned changes nothing
    assert client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(on_disk=False)})
    before = config_json(http, collection_name)
    assert before["params"]["vectors"]["a"]["memory"] == "cached"
    refused(lambda: client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(memory=m.Memory.PINNED)}), PINNED_MSG)
    r = http.patch(f"/collections/{collection_name}", json={"vectors": {"b": {"memory": "pinned"}}})
    assert r.status_code == 422, r.text
    assert r.json()["status"]["error"] == f"Validation error in JSON body: [vectors.b.memory: {PINNED_MSG}]"
    r = http.patch(f"/collections/{collection_name}", json={"vectors": {"b": {"memory": "warm"}}})
    assert r.status_code == 400, r.text
    assert config_json(http, collection_name) == before


def test_unnamed_vector_memory_patch(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=vp())
    assert client.update_collection(collection_name, vectors_config={
        "": m.VectorParamsDiff(memory=m.Memory.COLD)})
    assert client.get_collection(collection_name).config.params.vectors.memory == m.Memory.COLD
    assert config_json(http, collection_name)["params"]["vectors"]["memory"] == "cold"


# ---- hnsw_config ----------------------------------------------------------------------------


@pytest.mark.parametrize("mem", list(m.Memory))
def test_hnsw_memory_round_trip(client, http, collection_name, mem):
    assert client.create_collection(collection_name, vectors_config={
        "a": vp(hnsw_config=m.HnswConfigDiff(m=8, memory=mem)), "b": vp()},
        hnsw_config=m.HnswConfigDiff(memory=mem))
    info = client.get_collection(collection_name)
    assert info.config.hnsw_config.memory == mem
    assert info.config.params.vectors["a"].hnsw_config.memory == mem
    assert info.config.params.vectors["a"].hnsw_config.m == 8
    assert info.config.params.vectors["b"].hnsw_config is None
    cfg = config_json(http, collection_name)
    assert cfg["hnsw_config"]["memory"] == mem.value
    assert list(cfg["hnsw_config"])[4:6] == ["on_disk", "memory"]  # Qdrant's field order
    assert cfg["params"]["vectors"]["a"]["hnsw_config"] == {"m": 8, "memory": mem.value}


def test_hnsw_memory_absent_by_default(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=vp())
    assert client.get_collection(collection_name).config.hnsw_config.memory is None
    assert "memory" not in config_json(http, collection_name)["hnsw_config"]


def test_hnsw_memory_patch(client, http, collection_name):
    client.create_collection(collection_name, vectors_config={
        "a": vp(hnsw_config=m.HnswConfigDiff(m=8))})
    assert client.update_collection(collection_name, hnsw_config=m.HnswConfigDiff(memory=m.Memory.COLD))
    assert client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(hnsw_config=m.HnswConfigDiff(memory=m.Memory.PINNED))})
    info = client.get_collection(collection_name)
    assert info.config.hnsw_config.memory == m.Memory.COLD
    assert info.config.params.vectors["a"].hnsw_config.memory == m.Memory.PINNED
    # a later diff without memory keeps it
    assert client.update_collection(collection_name, hnsw_config=m.HnswConfigDiff(ef_construct=64))
    cfg = config_json(http, collection_name)
    assert cfg["hnsw_config"]["memory"] == "cold" and cfg["hnsw_config"]["ef_construct"] == 64
    assert cfg["params"]["vectors"]["a"]["hnsw_config"] == {"m": 8, "memory": "pinned"}
    before = cfg
    r = http.patch(f"/collections/{collection_name}", json={"hnsw_config": {"memory": "hot"}})
    assert r.status_code == 400, r.text
    assert "unknown variant `hot`" in r.text
    r = http.patch(f"/collections/{collection_name}",
                   json={"vectors": {"a": {"hnsw_config": {"memory": 3}}}})
    assert r.status_code == 400, r.text
    assert config_json(http, collection_name) == before


# ---- quantization (memory already parsed there; its placement follows) ------------------------


def test_quantization_memory_with_vector_memory(client, http, collection_name):
    q = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8,
                                                               memory=m.Memory.PINNED))
    assert client.create_collection(collection_name, vectors_config=vp(
        memory=m.Memory.COLD, quantization_config=q))
    v = client.get_collection(collection_name).config.params.vectors
    assert v.memory == m.Memory.COLD and v.quantization_config == q
    assert config_json(http, collection_name)["params"]["vectors"] == {
        "size": DIM, "distance": "Dot",
        "quantization_config": {"scalar": {"type": "int8", "memory": "pinned"}},
        "memory": "cold"}


# ---- persistence ---------------------------------------------------------------------------------


def test_memory_settings_survive_restart(server_factory):
    srv = server_factory().start()
    c = srv.client()
    try:
        c.create_collection("m1", vectors_config={
            "a": vp(memory=m.Memory.COLD, hnsw_config=m.HnswConfigDiff(memory=m.Memory.CACHED)),
            "b": vp(on_disk=False)}, hnsw_config=m.HnswConfigDiff(memory=m.Memory.PINNED))
        c.create_collection("m2", vectors_config=vp(memory=m.Memory.CACHED))
        c.update_collection("m2", vectors_config={"": m.VectorParamsDiff(memory=m.Memory.COLD)})
    finally:
        c.close()
    before = configs_survive_restart(srv, ("m1", "m2"))
    assert before["m2"]["params"]["vectors"]["memory"] == "cold"
    c = srv.client()
    try:
        info = c.get_collection("m1")
        assert info.config.hnsw_config.memory == m.Memory.PINNED
        assert info.config.params.vectors["a"].memory == m.Memory.COLD
        assert info.config.params.vectors["a"].hnsw_config.memory == m.Memory.CACHED
        assert info.config.params.vectors["b"].memory is None
    finally:
        c.close()
    assert srv.stop() == 0


# ---- gRPC-only shapes ----------------------------------------------------------------------------


def test_grpc_memory_enum_values(server, collection_name):
    """MemoryUnknown (0) is unset; numbers outside the enum are INVALID_ARGUMENT."""
    from qdrant_client import grpc as qg

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = qg.CollectionsStub(ch)

        def create(**kw):
            return stub.Create(qg.CreateCollection(
                collection_name=collection_name, vectors_config=qg.VectorsConfig(
                    params=qg.VectorParams(size=DIM, distance=qg.Distance.Dot, **kw))), timeout=10)

        for bad in (dict(memory=7), dict(hnsw_config=qg.HnswConfigDiff(memory=9))):
            with pytest.raises(grpc.RpcError) as ei:
                create(**bad)
            assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "Unknown memory placement" in ei.value.details()
        with pytest.raises(grpc.RpcError) as ei:
            create(memory=qg.Memory.Pinned)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert PINNED_MSG in ei.value.details()
        assert create(memory=qg.Memory.MemoryUnknown,
                      hnsw_config=qg.HnswConfigDiff(memory=qg.Memory.Cold)).result
        info = stub.Get(qg.GetCollectionInfoRequest(collection_name=collection_name), timeout=10).result
        p = info.config.params.vectors_config.params
        assert not p.HasField("memory")
        assert p.hnsw_config.memory == qg.Memory.Cold
        r = stub.Update(qg.UpdateCollection(
            collection_name=collection_name, vectors_config=qg.VectorsConfigDiff(
                params=qg.VectorParamsDiff(memory=qg.Memory.Cold)),
            hnsw_config=qg.HnswConfigDiff(memory=qg.Memory.Pinned)), timeout=10)
        assert r.result
        info = stub.Get(qg.GetCollectionInfoRequest(collection_name=collection_name), timeout=10).result
        assert info.config.params.vectors_config.params.memory == qg.Memory.Cold
        assert info.config.hnsw_config.memory == qg.Memory.Pinned
        with pytest.raises(grpc.RpcError) as ei:
            stub.Update(qg.UpdateCollection(
                collection_name=collection_name, vectors_config=qg.VectorsConfigDiff(
                    params=qg.VectorParamsDiff(memory=qg.Memory.Pinned))), timeout=10)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert PINNED_MSG in ei.value.details()
