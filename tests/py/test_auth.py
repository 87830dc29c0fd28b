"""API keys over REST (service.api_key / service.read_only_api_key).

One server with both keys set: raw HTTP for the exact statuses, texts and the
"decided before the body is read" rule, and the Python client with api_key=.
(gRPC: tests/grpc/test_grpc_auth.py.)
"""

import json
import socket
from contextlib import closing

import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from quiver_harness import ServerProc, raw_request

RW, RO = "s3cret-rw-key", "ro-key"
MISSING = "Must provide an API key or an Authorization bearer token"
INVALID = "Invalid API key or JWT"
FORBIDDEN = "Forbidden: Global manage access is required"


@pytest.fixture(scope="module")
def srv(quiver_path, tmp_path_factory):
    s = ServerProc(
        str(tmp_path_factory.mktemp("auth-storage")),
        env={"QDRANT__SERVICE__API_KEY": RW, "QDRANT__SERVICE__READ_ONLY_API_KEY": RO},
        log_dir=str(tmp_path_factory.mktemp("auth-log")),
    )
    s.start()
    yield s
    assert s.stop() == 0, s.stderr()


def req(srv, method, target, body=None, headers=None):
    raw = json.dumps(body).encode() if body is not None else b""
    return raw_request(srv.port, method, target, raw, headers)


def make(srv, name):
    st, b = req(srv, "PUT", f"/collections/{name}", {"vectors": {"size": 2, "distance": "Dot"}},
                {"api-key": RW})
    assert st == 200, b
    st, b = req(srv, "PUT", f"/collections/{name}/points?wait=true",
                {"points": [{"id": 1, "vector": [1, 2], "payload": {"a": 1}}]}, {"api-key": RW})
    assert st == 200, b


def count(srv, name):
    st, b = req(srv, "POST", f"/collections/{name}/points/count", {}, {"api-key": RW})
    assert st == 200, b
    return json.loads(b)["result"]["count"]


@pytest.mark.parametrize("target", ["/", "/healthz", "/livez", "/readyz"])
def test_whitelisted_paths_need_no_key(srv, target):
    st, _ = req(srv, "GET", target)
    assert st == 200


@pytest.mark.parametrize(
    "headers,text",
    [
        ({}, MISSING),
        ({"api-key": "nope"}, INVALID),
        ({"api-key": ""}, INVALID),
        ({"api-key": RW + "x"}, INVALID),
        ({"api-key": RW[:-1]}, INVALID),
        ({"Authorization": f"Bearer {RW}x"}, INVALID),
        ({"Authorization": RW}, MISSING),  # not a bearer token
        ({"Authorization": f"Basic {RW}"}, MISSING),
        # the api-key header wins over Authorization, as in Qdrant
        ({"api-key": "nope", "Authorization": f"Bearer {RW}"}, INVALID),
    ],
)
def test_missing_or_wrong_key_is_401(srv, headers, text):
    for method, target, body in (("GET", "/collections", None),
                                 ("PUT", "/collections/c401", {"vectors": {"size": 2, "distance": "Dot"}})):
        st, b = req(srv, method, target, body, headers)
        assert st == 401
        assert b.decode() == text
    st, b = req(srv, "GET", "/collections/c401/exists", None, {"api-key": RW})
    assert json.loads(b)["result"]["exists"] is False


@pytest.mark.parametrize("headers", [{"api-key": RW}, {"Authorization": f"Bearer {RW}"},
                                     {"API-KEY": RW}])
def test_read_write_key_allows_everything(srv, headers):
    name = "rw_" + str(abs(hash(json.dumps(headers))) % 10**8)
    st, b = req(srv, "PUT", f"/collections/{name}", {"vectors": {"size": 2, "distance": "Dot"}}, headers)
    assert st == 200, b
    st, b = req(srv, "PUT", f"/collections/{name}/points?wait=true",
                {"points": [{"id": 1, "vector": [1, 2]}]}, headers)
    assert st == 200, b
    st, b = req(srv, "GET", f"/collections/{name}", None, headers)
    assert st == 200 and json.loads(b)["result"]["points_count"] == 1
    st, b = req(srv, "DELETE", f"/collections/{name}", None, headers)
    assert st == 200 and json.loads(b)["result"] is True


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/collections", None),
        ("GET", "/collections/ro/exists", None),
        ("GET", "/collections/ro", None),
        ("GET", "/collections/ro/points/1", None),
        ("POST", "/collections/ro/points", {"ids": [1]}),
        ("POST", "/collections/ro/points/scroll", {}),
        ("POST", "/collections/ro/points/count", {}),
        ("POST", "/collections/ro/points/query", {"query": [1, 0]}),
        ("POST", "/collections/ro/points/query/batch", {"searches": [{"query": [1, 0]}]}),
        ("POST", "/collections/ro/points/search", {"vector": [1, 0], "limit": 1}),
        ("POST", "//collections/ro/points/search/batch/", {"searches": [{"vector": [1, 0], "limit": 1}]}),
    ],
)
def test_read_only_key_reads(srv, method, path, body):
    if count_or_none(srv, "ro") is None:
        make(srv, "ro")
    st, b = req(srv, method, path, body, {"api-key": RO})
    assert st == 200, b


def count_or_none(srv, name):
    st, b = req(srv, "POST", f"/collections/{name}/points/count", {}, {"api-key": RW})
    return json.loads(b)["result"]["count"] if st == 200 else None


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("PUT", "/collections/ro2/points?wait=true", {"points": [{"id": 2, "vector": [1, 2]}]}),
        ("POST", "/collections/ro2/points/delete?wait=true", {"points": [1]}),
        ("POST", "/collections/ro2/points/payload?wait=true", {"payload": {"b": 2}, "points": [1]}),
        ("PUT", "/collections/ro2/points/payload?wait=true", {"payload": {"b": 2}, "points": [1]}),
        ("POST", "/collections/ro2/points/payload/clear?wait=true", {"points": [1]}),
        ("POST", "/collections/ro2/points/batch?wait=true", {"operations": []}),
        ("PATCH", "/collections/ro2", {"optimizers_config": {"indexing_threshold": 1}}),
        ("DELETE", "/collections/ro2", None),
        ("PUT", "/collections/other", {"vectors": {"size": 2, "distance": "Dot"}}),
        ("POST", "/collections/aliases", {"actions": []}),
        ("PUT", "/collections/ro2/index", {"field_name": "a", "field_schema": "integer"}),
        ("DELETE", "/issues", None),
        # a percent-encoded read path is not recognised as one: fail closed
        ("POST", "/collections/ro2/%70oints/scroll", {}),
    ],
)
def test_read_only_key_cannot_write(srv, method, path, body):
    if count_or_none(srv, "ro2") is None:
        make(srv, "ro2")
    for headers in ({"api-key": RO}, {"Authorization": f"Bearer {RO}"}):
        st, b = req(srv, method, path, body, headers)
        assert st == 403, b
        assert json.loads(b)["status"]["error"] == FORBIDDEN
    st, b = req(srv, "GET", "/collections/ro2", None, {"api-key": RW})
    info = json.loads(b)["result"]
    assert info["points_count"] == 1
    assert info["config"]["optimizer_config"]["indexing_threshold"] != 1
    st, b = req(srv, "POST", "/collections/ro2/points", {"ids": [1], "with_payload": True}, {"api-key": RW})
    assert json.loads(b)["result"][0]["payload"] == {"a": 1}
    st, b = req(srv, "GET", "/collections/other/exists", None, {"api-key": RW})
    assert json.loads(b)["result"]["exists"] is False


def _answer_without_body(port, head):
    """Sends only the head of a request that announces a large body and
    returns what the server answers without ever receiving the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1")


@pytest.mark.parametrize("key,status", [(None, "401"), ("nope", "401"), (RO, "403")])
def test_decided_before_the_body_is_read(srv, key, status):
    head = ("PUT /collections/nobody/points?wait=true HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 10000000\r\n")
    if key:
        head += f"api-key: {key}\r\n"
    reply = _answer_without_body(srv.port, head + "\r\n")
    assert reply.split(" ")[1] == status, reply


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_python_client_with_api_key(srv):
    with closing(QdrantClient(url=srv.url, api_key=RW)) as c:
        c.create_collection("pyc", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
        c.upsert("pyc", [models.PointStruct(id=1, vector=[1.0, 2.0], payload={"k": "v"})], wait=True)
        assert c.query_points("pyc", query=[1.0, 0.0]).points[0].id == 1
    with closing(QdrantClient(url=srv.url, api_key=RO)) as c:
        assert c.count("pyc").count == 1
        assert c.retrieve("pyc", [1])[0].payload == {"k": "v"}
        with pytest.raises(UnexpectedResponse) as ei:
            c.upsert("pyc", [models.PointStruct(id=2, vector=[1.0, 2.0])], wait=True)
        assert ei.value.status_code == 403
        assert FORBIDDEN in ei.value.content.decode()
    with closing(QdrantClient(url=srv.url, api_key="wrong")) as c:
        with pytest.raises(UnexpectedResponse) as ei:
            c.get_collections()
        assert ei.value.status_code == 401
        assert ei.value.content.decode() == INVALID
    with closing(QdrantClient(url=srv.url)) as c:
        with pytest.raises(UnexpectedResponse) as ei:
            c.count("pyc")
        assert ei.value.status_code == 401
        assert ei.value.content.decode() == MISSING
    assert count(srv, "pyc") == 1


def test_empty_keys_mean_no_auth(quiver_path, tmp_path):
    s = ServerProc(str(tmp_path / "st"),
                   env={"QDRANT__SERVICE__API_KEY": "", "QDRANT__SERVICE__READ_ONLY_API_KEY": ""},
                   log_dir=str(tmp_path))
    s.start()
    try:
        st, _ = req(s, "GET", "/collections")
        assert st == 200
    finally:
        assert s.stop() == 0


def test_read_only_key_alone(quiver_path, tmp_path):
    """Only a read-only key configured: it reads, nothing can write."""
    s = ServerProc(str(tmp_path / "st"), env={"QDRANT__SERVICE__READ_ONLY_API_KEY": RO},
                   log_dir=str(tmp_path))
    s.start()
    try:
        assert req(s, "GET", "/collections", None, {"api-key": RO})[0] == 200
        assert req(s, "GET", "/collections")[0] == 401
        st, b = req(s, "PUT", "/collections/x", {"vectors": {"size": 2, "distance": "Dot"}}, {"api-key": RO})
        assert st == 403 and json.loads(b)["status"]["error"] == FORBIDDEN
    finally:
        assert s.stop() == 0
