"""Collections: create, inspect, list, update, delete, name validation."""

import urllib.parse
import uuid

import pytest
from qdrant_client import models

from quiver_harness import assert_error_shape, client_error


def raw_collection(http, name):
    r = http.get(f"/collections/{urllib.parse.quote(name, safe='')}")
    assert r.status_code == 200, r.text
    return r.json()["result"]


def all_names(http):
    r = http.get("/collections")
    assert r.status_code == 200, r.text
    return [c["name"] for c in r.json()["result"]["collections"]]


def test_create_single_unnamed_vector(client, http, collection_name):
    assert client.create_collection(
        collection_name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
    ) is True
    info = client.get_collection(collection_name)
    assert info.config.params.vectors.size == 4
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert info.points_count == 0
    assert info.status == models.CollectionStatus.GREEN
    raw = raw_collection(http, collection_name)
    # echoes only what was set: no keys the user did not send
    assert raw["config"]["params"]["vectors"] == {"size": 4, "distance": "Cosine"}
    assert "warnings" not in raw or raw["warnings"]


def test_create_named_vectors_with_different_distances(client, http, collection_name):
    cfg = {
        "text": models.VectorParams(size=8, distance=models.Distance.COSINE),
        "image": models.VectorParams(size=16, distance=models.Distance.DOT),
        "geo": models.VectorParams(size=3, distance=models.Distance.EUCLID),
        "tags": models.VectorParams(size=5, distance=models.Distance.MANHATTAN),
    }
    assert client.create_collection(collection_name, vectors_config=cfg)
    info = client.get_collection(collection_name)
    vecs = info.config.params.vectors
    assert set(vecs) == set(cfg)
    for name, p in cfg.items():
        assert vecs[name].size == p.size
        assert vecs[name].distance == p.distance
    raw = raw_collection(http, collection_name)
    assert raw["config"]["params"]["vectors"] == {
        "text": {"size": 8, "distance": "Cosine"},
        "image": {"size": 16, "distance": "Dot"},
        "geo": {"size": 3, "distance": "Euclid"},
        "tags": {"size": 5, "distance": "Manhattan"},
    }


def test_create_echoes_optional_vector_params(client, http, collection_name):
    client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT, on_disk=True),
    )
    raw = raw_collection(http, collection_name)
    assert raw["config"]["params"]["vectors"] == {"size": 4, "distance": "Dot", "on_disk": True}


def test_get_collection_defaults(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=4, distance="Dot"))
    raw = raw_collection(http, collection_name)
    cfg = raw["config"]
    params = cfg["params"]
    assert params["shard_number"] == 1
    assert params["replication_factor"] == 1
    assert params["write_consistency_factor"] == 1
    assert params["on_disk_payload"] is True
    hnsw = cfg["hnsw_config"]
    assert hnsw["m"] == 16
    assert hnsw["ef_construct"] == 100
    assert hnsw["full_scan_threshold"] == 10000
    assert hnsw["max_indexing_threads"] == 0
    assert hnsw["on_disk"] is False
    opt = cfg["optimizer_config"]
    assert opt["deleted_threshold"] == 0.2
    assert opt["vacuum_min_vector_number"] == 1000
    assert opt["default_segment_number"] == 0
    assert opt["indexing_threshold"] == 10000
    assert opt["flush_interval_sec"] == 5
    assert opt.get("max_segment_size") is None
    assert opt.get("memmap_threshold") is None
    assert opt.get("max_optimization_threads") is None
    wal = cfg["wal_config"]
    assert wal["wal_capacity_mb"] == 32
    assert wal["wal_segments_ahead"] == 0
    assert raw["status"] == "green"
    assert raw["points_count"] == 0
    assert raw["segments_count"] >= 1
    assert raw["payload_schema"] == {}


def test_create_with_custom_configs(client, http, collection_name):
    client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=4, distance="Euclid"),
        hnsw_config=models.HnswConfigDiff(m=32, ef_construct=200),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=5000),
        wal_config=models.WalConfigDiff(wal_capacity_mb=8),
        on_disk_payload=False,
    )
    cfg = raw_collection(http, collection_name)["config"]
    assert cfg["hnsw_config"]["m"] == 32
    assert cfg["hnsw_config"]["ef_construct"] == 200
    assert cfg["hnsw_config"]["full_scan_threshold"] == 10000
    assert cfg["optimizer_config"]["indexing_threshold"] == 5000
    assert cfg["optimizer_config"]["flush_interval_sec"] == 5
    assert cfg["wal_config"]["wal_capacity_mb"] == 8
    assert cfg["params"]["on_disk_payload"] is False


def test_points_count_tracks_upserts(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(
        collection_name,
        [models.PointStruct(id=i, vector=[float(i), 1.0]) for i in range(7)],
        wait=True,
    )
    assert client.get_collection(collection_name).points_count == 7
    client.delete(collection_name, points_selector=models.PointIdsList(points=[0, 1]), wait=True)
    assert client.get_collection(collection_name).points_count == 5


def test_collection_exists(client, collection_name):
    assert client.collection_exists(collection_name) is False
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    assert client.collection_exists(collection_name) is True
    client.delete_collection(collection_name)
    assert client.collection_exists(collection_name) is False


def test_list_sorted(client, http):
    tag = uuid.uuid4().hex[:6]
    names = [f"zz_{tag}", f"aa_{tag}", f"mm_{tag}", f"AB_{tag}", f"a1_{tag}"]
    try:
        for n in names:
            client.create_collection(n, vectors_config=models.VectorParams(size=2, distance="Dot"))
        listed = all_names(http)
        assert listed == sorted(listed)
        assert set(names) <= set(listed)
        via_client = [c.name for c in client.get_collections().collections]
        assert via_client == listed
    finally:
        for n in names:
            client.delete_collection(n)


def test_update_collection_optimizers(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    assert client.update_collection(
        collection_name,
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=20000, deleted_threshold=0.3),
    ) is True
    opt = raw_collection(http, collection_name)["config"]["optimizer_config"]
    assert opt["indexing_threshold"] == 20000
    assert opt["deleted_threshold"] == 0.3
    assert opt["flush_interval_sec"] == 5  # untouched


def test_update_collection_params_raw_patch(http, client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    r = http.patch(
        f"/collections/{collection_name}",
        json={"params": {"replication_factor": 1, "on_disk_payload": False},
              "hnsw_config": {"ef_construct": 123}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"] is True
    cfg = raw_collection(http, collection_name)["config"]
    assert cfg["params"]["on_disk_payload"] is False
    assert cfg["hnsw_config"]["ef_construct"] == 123
    assert cfg["hnsw_config"]["m"] == 16
    # the vectors are unchanged
    assert cfg["params"]["vectors"] == {"size": 2, "distance": "Dot"}


def test_update_missing_collection_404(http):
    r = http.patch(f"/collections/missing_{uuid.uuid4().hex}", json={"optimizers_config": {}})
    assert_error_shape(r, status=404)


def test_delete_collection(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    r = http.delete(f"/collections/{collection_name}")
    assert r.status_code == 200
    assert r.json()["result"] is True
    assert collection_name not in all_names(http)
    r = http.get(f"/collections/{collection_name}")
    assert_error_shape(r, status=404, contains=f"Collection `{collection_name}` doesn't exist!")


def test_delete_missing_collection(client, http):
    name = f"missing_{uuid.uuid4().hex}"
    r = http.delete(f"/collections/{name}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["result"] is False
    assert client.delete_collection(name) is False


def test_recreate_after_delete_is_empty(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[1.0, 2.0])], wait=True)
    client.delete_collection(collection_name)
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=3, distance="Cosine"))
    info = client.get_collection(collection_name)
    assert info.points_count == 0
    assert info.config.params.vectors.size == 3
    assert client.retrieve(collection_name, [1]) == []


def test_create_existing_409(client, http, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    r = http.put(f"/collections/{collection_name}", json={"vectors": {"size": 3, "distance": "Cosine"}})
    assert_error_shape(r, status=409, contains="already exists")
    # the original is untouched
    assert raw_collection(http, collection_name)["config"]["params"]["vectors"]["size"] == 2
    with client_error(409, contains="already exists"):
        client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))


@pytest.mark.parametrize(
    "name",
    ["a:b", "a*b", "a?b", "a<b", "a>b", 'a"b', "a|b", "a\\b", "a\x01b", "a\x7fb", "tab\there", "a" * 256],
    ids=["colon", "star", "question", "lt", "gt", "quote", "pipe", "backslash", "ctrl01", "del", "tab", "256chars"],
)
def test_invalid_names_422(http, name):
    before = all_names(http)
    r = http.put(f"/collections/{urllib.parse.quote(name, safe='')}",
                 json={"vectors": {"size": 2, "distance": "Dot"}})
    assert_error_shape(r, status=422)
    assert all_names(http) == before


@pytest.mark.parametrize("name", ["a/b", "a\x00b"], ids=["slash", "nul"])
def test_invalid_names_with_path_bytes(http, name):
    """A percent-encoded name decoding to '/' or NUL is an invalid collection
    name (Qdrant's path extractor decodes it and validation says 422)."""
    before = all_names(http)
    r = http.put(f"/collections/{urllib.parse.quote(name, safe='')}",
                 json={"vectors": {"size": 2, "distance": "Dot"}})
    assert r.status_code == 422, r.text
    assert_error_shape(r)
    assert all_names(http) == before


def test_name_of_255_chars_ok(client, http):
    name = "n" * 255
    try:
        r = http.put(f"/collections/{name}", json={"vectors": {"size": 2, "distance": "Dot"}})
        assert r.status_code == 200, r.text
        assert name in all_names(http)
    finally:
        client.delete_collection(name)


def test_unicode_name(client, http):
    name = f"коллекция_{uuid.uuid4().hex[:6]}_数据"
    try:
        r = http.put(f"/collections/{urllib.parse.quote(name)}", json={"vectors": {"size": 2, "distance": "Dot"}})
        assert r.status_code == 200, r.text
        assert name in all_names(http)
        assert client.collection_exists(name)
    finally:
        http.delete(f"/collections/{urllib.parse.quote(name)}")


@pytest.mark.parametrize(
    "body",
    [
        {"vectors": {"size": 0, "distance": "Dot"}},
        {"vectors": {"size": 65537, "distance": "Dot"}},
    ],
    ids=["size0", "size65537"],
)
def test_invalid_vector_params_422(http, body):
    name = f"bad_{uuid.uuid4().hex[:8]}"
    r = http.put(f"/collections/{name}", json=body)
    msg = assert_error_shape(r, status=422)
    assert "Validation error" in msg
    assert name not in all_names(http)


def test_unknown_distance_400(http):
    name = f"bad_{uuid.uuid4().hex[:8]}"
    r = http.put(f"/collections/{name}", json={"vectors": {"size": 4, "distance": "Hamming"}})
    assert_error_shape(r, status=400, contains="Format error in JSON body")
    assert name not in all_names(http)
