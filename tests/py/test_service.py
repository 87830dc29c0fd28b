"""Service endpoints: identity, probes, cluster status, telemetry, 404s, storage lock."""

import json
import re

import pytest
from qdrant_client import models

from quiver_harness import ServerDied, ServerProc, assert_error_shape, raw_request


def test_root_identity(http):
    r = http.get("/")
    assert r.status_code == 200
    body = r.json()
    # a bare object, no envelope
    assert "result" not in body and "status" not in body, body
    assert body["title"] == "qdrant - vector search engine"
    assert body["version"] == "1.19.0"
    assert re.fullmatch(r"[0-9a-f]{40}", body["commit"]), body["commit"]


def test_client_info_matches_root(client):
    info = client.info()
    assert info.title == "qdrant - vector search engine"
    assert info.version == "1.19.0"


@pytest.mark.parametrize(
    "path,text",
    [
        ("/healthz", "healthz check passed"),
        ("/livez", "healthz check passed"),
        ("/readyz", "all shards are ready"),
    ],
)
def test_probes(http, path, text):
    r = http.get(path)
    assert r.status_code == 200
    assert r.text == text


def test_path_normalisation(server, client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    for target in (f"//collections/{collection_name}/", f"/collections//{collection_name}"):
        status, body = raw_request(server.port, "GET", target)
        assert status == 200, (target, body)
        assert json.loads(body)["result"]["config"]["params"]["vectors"]["size"] == 2


def test_get_collections(client, collection_name):
    before = {c.name for c in client.get_collections().collections}
    assert collection_name not in before
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
    after = {c.name for c in client.get_collections().collections}
    assert after == before | {collection_name}


def test_envelope_shape(http):
    r = http.get("/collections")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert isinstance(body["time"], float)
    assert isinstance(body["result"]["collections"], list)
    assert "usage" not in body or body["usage"]


def test_cluster_disabled(http):
    r = http.get("/cluster")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["result"]["status"] == "disabled"


def test_telemetry(http):
    r = http.get("/telemetry")
    assert r.status_code == 200
    result = r.json()["result"]
    assert result["app"]["name"] == "qdrant"
    assert result["app"]["version"] == "1.19.0"


@pytest.mark.parametrize("path", ["/no/such/path", "/collectionz", "/collections/x/points/nope/extra"])
def test_unknown_path_404(http, path):
    r = http.get(path)
    assert_error_shape(r, status=404)


def test_wrong_method_is_error(http):
    r = http.request("PATCH", "/healthz")
    assert r.status_code in (404, 405), r.text
    assert_error_shape(r)


def test_second_instance_refuses(server, quiver_path):
    second = ServerProc(server.storage, log_dir=server.log_dir)
    with pytest.raises(ServerDied) as ei:
        second.start()
    assert ei.value.rc != 0
    assert ei.value.stderr.strip(), "no message on stderr"
    # the first one is unaffected
    assert server.running()
    from quiver_harness import http_get

    status, body = http_get(server.url + "/readyz")
    assert status == 200


def test_second_instance_refuses_before_listening(server, quiver_path):
    """The refusing instance must exit without ever answering on its port."""
    second = ServerProc(server.storage, log_dir=server.log_dir)
    proc = second.spawn()
    rc = proc.wait(timeout=30)
    assert rc != 0
    second._stderr.close()
    assert second.stderr().strip()
    from quiver_harness import http_get

    status, _ = http_get(second.url + "/readyz", timeout=1.0)
    assert status is None
