"""Quantization configuration, vector datatypes and quantization search params.

Configuration side only: quantization_config (collection-wide and per named
vector; scalar, product, binary, turbo) and VectorParams.datatype are
accepted, validated, persisted and echoed the way Qdrant 1.19 does; the
engine does not quantize yet, so searches with QuantizationSearchParams must
simply be accepted and return the exact results.

Transport-aware: `client` speaks gRPC under QUIVER_PREFER_GRPC=1, so the
round trips run through both APIs' conversions; `http` is always raw REST,
for the exact echoed JSON and for invalid values the typed client cannot
build.  Quantiles in the model round trips are exact in float32 (0.75), as
gRPC carries the quantile as a float.
"""

import json

import httpx
import pytest
from qdrant_client import models as m

from quiver_harness import config_json, configs_survive_restart, refused

DIM = 4

CONFIGS = {
    "scalar": m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(
        type=m.ScalarType.INT8, quantile=0.75, always_ram=True)),
    "scalar_min": m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8)),
    "product": m.ProductQuantization(product=m.ProductQuantizationConfig(
        compression=m.CompressionRatio.X16, always_ram=False)),
    "product_mem": m.ProductQuantization(product=m.ProductQuantizationConfig(
        compression=m.CompressionRatio.X64, memory=m.Memory.COLD)),
    "binary": m.BinaryQuantization(binary=m.BinaryQuantizationConfig(
        always_ram=True, encoding=m.BinaryQuantizationEncoding.TWO_BITS,
        query_encoding=m.BinaryQuantizationQueryEncoding.SCALAR8BITS)),
    "binary_min": m.BinaryQuantization(binary=m.BinaryQuantizationConfig()),
    "binary_half": m.BinaryQuantization(binary=m.BinaryQuantizationConfig(
        encoding=m.BinaryQuantizationEncoding.ONE_AND_HALF_BITS,
        query_encoding=m.BinaryQuantizationQueryEncoding.DEFAULT, memory=m.Memory.PINNED)),
    "turbo": m.TurboQuantization(turbo=m.TurboQuantQuantizationConfig(
        bits=m.TurboQuantBitSize.BITS1_5, always_ram=False, memory=m.Memory.CACHED)),
    "turbo_min": m.TurboQuantization(turbo=m.TurboQuantQuantizationConfig()),
}

# What GET /collections/{name} shows for each: only the options given.
ECHO = {
    "scalar": {"scalar": {"type": "int8", "quantile": 0.75, "always_ram": True}},
    "scalar_min": {"scalar": {"type": "int8"}},
    "product": {"product": {"compression": "x16", "always_ram": False}},
    "product_mem": {"product": {"compression": "x64", "memory": "cold"}},
    "binary": {"binary": {"always_ram": True, "encoding": "two_bits",
                          "query_encoding": "scalar8bits"}},
    "binary_min": {"binary": {}},
    "binary_half": {"binary": {"memory": "pinned", "encoding": "one_and_half_bits",
                               "query_encoding": "default"}},
    "turbo": {"turbo": {"always_ram": False, "memory": "cached", "bits": "bits1_5"}},
    "turbo_min": {"turbo": {}},
}


def vp(**kw):
    return m.VectorParams(size=DIM, distance=m.Distance.DOT, **kw)


# ---- create and read back ----------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_collection_wide_round_trip(client, http, collection_name, kind):
    assert client.create_collection(collection_name, vectors_config=vp(),
                                    quantization_config=CONFIGS[kind])
    info = client.get_collection(collection_name)
    assert info.config.quantization_config == CONFIGS[kind]
    assert info.config.params.vectors.quantization_config is None
    cfg = config_json(http, collection_name)
    assert cfg["quantization_config"] == ECHO[kind]
    assert "quantization_config" not in cfg["params"]["vectors"]


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_per_vector_round_trip(client, http, collection_name, kind):
    assert client.create_collection(collection_name, vectors_config={
        "a": vp(quantization_config=CONFIGS[kind]), "b": vp()})
    info = client.get_collection(collection_name)
    assert info.config.quantization_config is None
    assert info.config.params.vectors["a"].quantization_config == CONFIGS[kind]
    assert info.config.params.vectors["b"].quantization_config is None
    cfg = config_json(http, collection_name)
    assert cfg["quantization_config"] is None
    assert cfg["params"]["vectors"]["a"]["quantization_config"] == ECHO[kind]
    assert "quantization_config" not in cfg["params"]["vectors"]["b"]


def test_no_quantization_echoes_null(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=vp())
    assert config_json(http, collection_name)["quantization_config"] is None
    assert client.get_collection(collection_name).config.quantization_config is None


def test_quantile_echoed_as_float32_shortest(http, collection_name):
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"size": DIM, "distance": "Dot"},
        "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": None}}})
    assert r.status_code == 200, r.text
    assert config_json(http, collection_name)["quantization_config"] == {
        "scalar": {"type": "int8", "quantile": 0.99}}


def test_unknown_keys_ignored_and_first_variant_wins(http, collection_name):
    # serde: an untagged enum ignores unknown keys; scalar is tried first
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"size": DIM, "distance": "Dot"},
        "quantization_config": {"scalar": {"type": "int8", "x": 1},
                                "product": {"compression": "x4"}}})
    assert r.status_code == 200, r.text
    assert config_json(http, collection_name)["quantization_config"] == {
        "scalar": {"type": "int8"}}


# ---- update --------------------------------------------------------------------------


def test_update_replaces_and_disables_collection_wide(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=vp(),
                             quantization_config=CONFIGS["scalar"])
    assert client.update_collection(collection_name, quantization_config=CONFIGS["product"])
    assert client.get_collection(collection_name).config.quantization_config == CONFIGS["product"]
    # an update without quantization_config leaves it alone
    assert client.update_collection(collection_name,
                                    optimizers_config=m.OptimizersConfigDiff(indexing_threshold=500))
    assert config_json(http, collection_name)["quantization_config"] == ECHO["product"]
    assert client.update_collection(collection_name, quantization_config=m.Disabled.DISABLED)
    assert client.get_collection(collection_name).config.quantization_config is None
    assert config_json(http, collection_name)["quantization_config"] is None
    assert client.update_collection(collection_name, quantization_config=CONFIGS["turbo"])
    assert client.get_collection(collection_name).config.quantization_config == CONFIGS["turbo"]


def test_update_per_vector(client, http, collection_name):
    client.create_collection(collection_name, vectors_config={
        "a": vp(quantization_config=CONFIGS["binary"], hnsw_config=m.HnswConfigDiff(m=8)),
        "b": vp()})
    assert client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(hnsw_config=m.HnswConfigDiff(ef_construct=50)),
        "b": m.VectorParamsDiff(quantization_config=CONFIGS["scalar"], on_disk=True)})
    vecs = client.get_collection(collection_name).config.params.vectors
    assert vecs["a"].quantization_config == CONFIGS["binary"]  # untouched
    assert vecs["a"].hnsw_config.m == 8 and vecs["a"].hnsw_config.ef_construct == 50  # merged
    assert vecs["b"].quantization_config == CONFIGS["scalar"]
    assert vecs["b"].on_disk is True
    assert client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(quantization_config=m.Disabled.DISABLED)})
    vecs = client.get_collection(collection_name).config.params.vectors
    assert vecs["a"].quantization_config is None
    assert vecs["b"].quantization_config == CONFIGS["scalar"]
    js = config_json(http, collection_name)["params"]["vectors"]
    assert "quantization_config" not in js["a"]
    assert js["a"]["hnsw_config"] == {"m": 8, "ef_construct": 50}


def test_update_unnamed_vector_by_empty_name(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=vp())
    assert client.update_collection(collection_name, vectors_config={
        "": m.VectorParamsDiff(quantization_config=CONFIGS["product_mem"])})
    info = client.get_collection(collection_name)
    assert info.config.params.vectors.quantization_config == CONFIGS["product_mem"]
    r = http.patch(f"/collections/{collection_name}",
                   json={"vectors": {"": {"quantization_config": "Disabled"}}})
    assert r.status_code == 200, r.text
    assert "quantization_config" not in config_json(http, collection_name)["params"]["vectors"]


# ---- invalid values change nothing -----------------------------------------------------


def test_quantile_out_of_range_refused(client, http, collection_name):
    bad = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8,
                                                                 quantile=0.3))
    refused(lambda: client.create_collection(collection_name, vectors_config=vp(),
                                             quantization_config=bad))
    assert not client.collection_exists(collection_name)
    refused(lambda: client.create_collection(collection_name,
                                             vectors_config={"a": vp(quantization_config=bad)}))
    assert not client.collection_exists(collection_name)
    client.create_collection(collection_name, vectors_config={"a": vp()},
                             quantization_config=CONFIGS["binary"])
    before = config_json(http, collection_name)
    refused(lambda: client.update_collection(collection_name, quantization_config=bad))
    refused(lambda: client.update_collection(collection_name, vectors_config={
        "a": m.VectorParamsDiff(quantization_config=bad)}))
    assert config_json(http, collection_name) == before


def test_rest_messages(http, collection_name):
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"size": DIM, "distance": "Dot"},
        "quantization_config": {"scalar": {"type": "int8", "quantile": 1.5}}})
    assert r.status_code == 422, r.text
    assert r.json()["status"]["error"] == (
        "Validation error in JSON body: [quantization_config.scalar.quantile: value 1.5 invalid, "
        "must be from 0.5 to 1.0]")
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"a": {"size": DIM, "distance": "Dot",
                          "quantization_config": {"scalar": {"type": "int8", "quantile": 0.1}}}}})
    assert r.status_code == 422, r.text
    assert "vectors.a.quantization_config.scalar.quantile: value 0.1 invalid" in r.text


INVALID_CREATE = [
    {"product": {"compression": "x3"}},
    {"product": {}},
    {"scalar": {"type": "int4"}},
    {"scalar": {}},
    {"scalar": {"type": "int8", "quantile": "high"}},
    {"scalar": {"type": "int8", "always_ram": 1}},
    {"binary": {"encoding": "three_bits"}},
    {"binary": {"query_encoding": "scalar2bits"}},
    {"binary": {"memory": "hot"}},
    {"binary": None},
    {"turbo": {"bits": "bits8"}},
    {"other": {}},
    {},
    "Disabled",  # only a diff (PATCH) may disable
    [],
    1,
]


@pytest.mark.parametrize("bad", INVALID_CREATE, ids=[json.dumps(b) for b in INVALID_CREATE])
def test_invalid_values_refused_over_rest(http, collection_name, bad):
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"size": DIM, "distance": "Dot"}, "quantization_config": bad})
    assert r.status_code == 400, r.text
    assert r.json()["status"]["error"] == (
        "Format error in JSON body: data did not match any variant of untagged enum "
        "QuantizationConfig")
    assert http.get(f"/collections/{collection_name}/exists").json()["result"]["exists"] is False
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"v": {"size": DIM, "distance": "Dot", "quantization_config": bad}}})
    assert r.status_code == 400, r.text
    assert http.get(f"/collections/{collection_name}/exists").json()["result"]["exists"] is False
    # and on an existing collection, PATCH refuses it without changing anything
    assert http.put(f"/collections/{collection_name}", json={
        "vectors": {"v": {"size": DIM, "distance": "Dot"}},
        "quantization_config": ECHO["product"]}).status_code == 200
    before = config_json(http, collection_name)
    if bad != "Disabled":
        r = http.patch(f"/collections/{collection_name}", json={"quantization_config": bad})
        assert r.status_code == 400, r.text
        assert "untagged enum QuantizationConfigDiff" in r.text
        r = http.patch(f"/collections/{collection_name}",
                       json={"vectors": {"v": {"quantization_config": bad}}})
        assert r.status_code == 400, r.text
    assert config_json(http, collection_name) == before
    assert http.delete(f"/collections/{collection_name}").status_code == 200


def test_null_means_absent(http, collection_name):
    r = http.put(f"/collections/{collection_name}", json={
        "vectors": {"size": DIM, "distance": "Dot", "quantization_config": None},
        "quantization_config": None})
    assert r.status_code == 200, r.text
    assert http.patch(f"/collections/{collection_name}", json={
        "quantization_config": ECHO["binary"]}).status_code == 200
    assert http.patch(f"/collections/{collection_name}",
                      json={"quantization_config": None}).status_code == 200
    assert config_json(http, collection_name)["quantization_config"] == ECHO["binary"]


# ---- persistence ------------------------------------------------------------------------


def test_survives_restart(server_factory):
    srv = server_factory().start()
    c = srv.client()
    try:
        c.create_collection("q1", vectors_config={
            "a": vp(quantization_config=CONFIGS["binary_half"], datatype=m.Datatype.FLOAT16),
            "b": vp(datatype=m.Datatype.UINT8)}, quantization_config=CONFIGS["scalar"])
        c.create_collection("q2", vectors_config=vp(quantization_config=CONFIGS["turbo"]))
        c.update_collection("q2", quantization_config=CONFIGS["product"])
    finally:
        c.close()
    before = configs_survive_restart(srv, ("q1", "q2"))
    c = srv.client()
    try:
        info = c.get_collection("q1")
        assert info.config.quantization_config == CONFIGS["scalar"]
        assert info.config.params.vectors["a"].quantization_config == CONFIGS["binary_half"]
        assert info.config.params.vectors["a"].datatype == m.Datatype.FLOAT16
        assert c.get_collection("q2").config.quantization_config == CONFIGS["product"]
    finally:
        c.close()
    srv.kill()  # an unclean stop too
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        assert {n: config_json(h, n) for n in ("q1", "q2")} == before
    assert srv.stop() == 0


# ---- datatype ------------------------------------------------------------------------------


@pytest.mark.parametrize("dt", [m.Datatype.FLOAT32, m.Datatype.FLOAT16, m.Datatype.UINT8])
def test_datatype_echoed(client, http, collection_name, dt):
    assert client.create_collection(collection_name, vectors_config={"v": vp(datatype=dt),
                                                                      "w": vp()})
    vecs = client.get_collection(collection_name).config.params.vectors
    assert vecs["v"].datatype == dt
    assert vecs["w"].datatype is None
    js = config_json(http, collection_name)["params"]["vectors"]
    assert js["v"]["datatype"] == dt.value
    assert "datatype" not in js["w"]


def test_unknown_datatype_refused(http, collection_name):
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"size": DIM, "distance": "Dot", "datatype": "float64"}})
    assert r.status_code == 400, r.text
    assert "unknown variant `float64`" in r.text


# ---- search params --------------------------------------------------------------------------


def points():
    return [m.PointStruct(id=i, vector=[float(i % 7), 1.0 + i % 3, 0.5 * (i % 5), 0.25])
            for i in range(1, 41)]


@pytest.mark.parametrize("qp", [
    m.QuantizationSearchParams(ignore=True),
    m.QuantizationSearchParams(ignore=False, rescore=True, oversampling=2.5),
    m.QuantizationSearchParams(rescore=False, oversampling=1.0),
])
def test_search_with_quantization_params_equals_exact(client, collection_name, qp):
    client.create_collection(collection_name, vectors_config=vp(),
                             quantization_config=CONFIGS["scalar"])
    client.upsert(collection_name, points(), wait=True)
    q = [0.3, 0.1, 0.9, 0.2]
    exact = client.query_points(collection_name, query=q, limit=7,
                                search_params=m.SearchParams(exact=True)).points
    got = client.query_points(collection_name, query=q, limit=7,
                              search_params=m.SearchParams(quantization=qp, hnsw_ef=16)).points
    assert [(p.id, p.score) for p in got] == [(p.id, p.score) for p in exact]
    batch = client.query_batch_points(collection_name, requests=[
        m.QueryRequest(query=q, limit=7, params=m.SearchParams(quantization=qp))])
    assert [(p.id, p.score) for p in batch[0].points] == [(p.id, p.score) for p in exact]


def test_oversampling_below_one_refused(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=vp())
    client.upsert(collection_name, points()[:3], wait=True)
    sp = m.SearchParams(quantization=m.QuantizationSearchParams(oversampling=0.5))
    refused(lambda: client.query_points(collection_name, query=[1, 0, 0, 0], search_params=sp))
    r = http.post(f"/collections/{collection_name}/points/query", json={
        "query": [1, 0, 0, 0], "params": {"quantization": {"oversampling": 0.5}}})
    assert r.status_code == 422, r.text
    assert "params.quantization.oversampling: value 0.5 invalid, must be 1.0 or larger" in r.text
    r = http.post(f"/collections/{collection_name}/points/search", json={
        "vector": [1, 0, 0, 0], "limit": 3,
        "params": {"quantization": {"ignore": "yes"}}})
    assert r.status_code == 400, r.text
    r = http.post(f"/collections/{collection_name}/points/search", json={
        "vector": [1, 0, 0, 0], "limit": 3,
        "params": {"exact": True, "quantization": {"ignore": False, "rescore": None,
                                                   "oversampling": 3}}})
    assert r.status_code == 200, r.text
    assert len(r.json()["result"]) == 3
