"""Bad requests over raw HTTP: status codes, Qdrant's error shape and messages,
nothing written, and the server healthy afterwards."""

import json
import uuid

import httpx
import pytest

from quiver_harness import assert_error_shape, raw_request

JSON = {"content-type": "application/json"}


@pytest.fixture
def coll(http, collection_name):
    r = http.put(f"/collections/{collection_name}", json={"vectors": {"size": 4, "distance": "Dot"}})
    assert r.status_code == 200, r.text
    r = http.put(
        f"/collections/{collection_name}/points?wait=true",
        json={"points": [{"id": 1, "vector": [1, 2, 3, 4], "payload": {"a": 1}}]},
    )
    assert r.status_code == 200, r.text
    return collection_name


@pytest.fixture
def named(http, collection_name):
    r = http.put(f"/collections/{collection_name}",
                 json={"vectors": {"x": {"size": 2, "distance": "Dot"}, "y": {"size": 3, "distance": "Cosine"}}})
    assert r.status_code == 200, r.text
    return collection_name


def count(http, name):
    r = http.post(f"/collections/{name}/points/count", json={"exact": True})
    assert r.status_code == 200, r.text
    return r.json()["result"]["count"]


def payload(http, name, pid):
    r = http.post(f"/collections/{name}/points", json={"ids": [pid]})
    res = r.json()["result"]
    return res[0]["payload"] if res else None


def put_points(http, name, body, wait=True):
    content = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return http.put(f"/collections/{name}/points?wait={str(wait).lower()}", content=content, headers=JSON)


def assert_healthy(http):
    assert http.get("/healthz").text == "healthz check passed"
    assert http.get("/collections").status_code == 200


# ---- JSON syntax and types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"points": [',
        '{"points": [{"id": 2, "vector": [1,2,3,4]}]',
        '{"points": [{"id": 2, "vector": [1,2,3,4],}]}',
        "not json at all",
        '{"points": [{"id": 2, "vector": [1,2,3,4]}]} trailing',
        "{'points': []}",
        '{"points": [{"id": 2, "vector": [1,2,3,4]}], "points": []',
    ],
    ids=["open", "truncated", "trailing-comma", "garbage", "trailing-garbage", "single-quotes", "unclosed-dup"],
)
def test_malformed_json_400(http, coll, body):
    r = put_points(http, coll, body)
    assert_error_shape(r, status=400, contains="Format error in JSON body")
    assert count(http, coll) == 1
    assert_healthy(http)


def test_empty_body_400(http, coll):
    r = put_points(http, coll, b"")
    assert_error_shape(r, status=400)
    assert count(http, coll) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"points": [{"id": 2, "vector": "abcd"}]},
        {"points": [{"id": 2, "vector": [1, 2, "3", 4]}]},
        {"points": {"id": 2, "vector": [1, 2, 3, 4]}},
        {"points": [{"id": 2, "vector": [1, 2, 3, 4], "payload": [1, 2]}]},
        {"points": [{"id": 2, "vector": [1, 2, 3, 4], "payload": "str"}]},
        {"points": [{"id": True, "vector": [1, 2, 3, 4]}]},
        {"points": [{"id": None, "vector": [1, 2, 3, 4]}]},
        {"points": [{"vector": [1, 2, 3, 4]}]},
        {"points": [{"id": 2, "vector": [1, 2, None, 4]}]},
        [1, 2, 3],
    ],
    ids=["vec-str", "vec-elem-str", "points-obj", "payload-array", "payload-str", "id-bool", "id-null",
         "id-missing", "vec-null-elem", "top-array"],
)
def test_wrong_types_400(http, coll, body):
    r = put_points(http, coll, body)
    assert_error_shape(r, status=400, contains="Format error in JSON body")
    assert count(http, coll) == 1


def test_wrong_types_in_create_400(http):
    name = f"bad_{uuid.uuid4().hex[:8]}"
    r = http.put(f"/collections/{name}", json={"vectors": {"size": "4", "distance": "Dot"}})
    assert_error_shape(r, status=400, contains="Format error in JSON body")
    assert http.get(f"/collections/{name}/exists").json()["result"]["exists"] is False


# ---- dimensions and vector names -------------------------------------------------------------------


@pytest.mark.parametrize("wait", [True, False])
def test_wrong_dimension(http, coll, wait):
    r = put_points(http, coll, {"points": [{"id": 2, "vector": [1, 2, 3, 4]}, {"id": 3, "vector": [1, 2, 3]}]}, wait=wait)
    msg = assert_error_shape(r, status=400)
    assert msg == "Wrong input: Vector dimension error: expected dim: 4, got 3", msg
    # nothing of the request was written, not even the valid first point
    r = http.put(f"/collections/{coll}/points?wait=true", json={"points": [{"id": 9, "vector": [0, 0, 0, 0]}]})
    assert r.status_code == 200
    assert count(http, coll) == 2
    assert http.post(f"/collections/{coll}/points", json={"ids": [2, 3]}).json()["result"] == []


def test_wrong_dimension_batch_form(http, coll):
    r = put_points(http, coll, {"batch": {"ids": [2, 3], "vectors": [[1, 2, 3, 4], [1, 2, 3, 4, 5]]}})
    assert_error_shape(r, status=400, contains="Vector dimension error: expected dim: 4, got 5")
    assert count(http, coll) == 1


def test_batch_form_length_mismatch(http, coll):
    r = put_points(http, coll, {"batch": {"ids": [2, 3], "vectors": [[1, 2, 3, 4]]}})
    assert_error_shape(r)
    assert 400 <= r.status_code < 500
    assert count(http, coll) == 1


def test_wrong_dimension_update_vectors(http, named):
    r = http.put(f"/collections/{named}/points?wait=true", json={"points": [{"id": 1, "vector": {"x": [1, 2]}}]})
    assert r.status_code == 200
    r = http.put(f"/collections/{named}/points/vectors?wait=true", json={"points": [{"id": 1, "vector": {"x": [1, 2, 3]}}]})
    assert_error_shape(r, status=400, contains="Vector dimension error: expected dim: 2, got 3")
    r = http.post(f"/collections/{named}/points", json={"ids": [1], "with_vector": True})
    assert r.json()["result"][0]["vector"] == {"x": [1.0, 2.0]}


def test_unknown_vector_name(http, named):
    r = http.put(f"/collections/{named}/points?wait=true", json={"points": [{"id": 1, "vector": {"nope": [1, 2]}}]})
    msg = assert_error_shape(r, status=400)
    assert "nope" in msg
    assert count(http, named) == 0


def test_unnamed_vector_into_named_collection(http, named):
    r = http.put(f"/collections/{named}/points?wait=true", json={"points": [{"id": 1, "vector": [1, 2]}]})
    assert_error_shape(r, status=400)
    assert count(http, named) == 0


# ---- unknown collection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/collections/{c}", None),
        ("PUT", "/collections/{c}/points?wait=true", {"points": [{"id": 1, "vector": [1, 2]}]}),
        ("POST", "/collections/{c}/points", {"ids": [1]}),
        ("GET", "/collections/{c}/points/1", None),
        ("POST", "/collections/{c}/points/scroll", {}),
        ("POST", "/collections/{c}/points/count", {}),
        ("POST", "/collections/{c}/points/query", {"query": [1, 2]}),
        ("POST", "/collections/{c}/points/search", {"vector": [1, 2], "limit": 3}),
        ("POST", "/collections/{c}/points/delete", {"points": [1]}),
        ("POST", "/collections/{c}/points/payload", {"payload": {"a": 1}, "points": [1]}),
    ],
)
def test_unknown_collection_404(http, method, path, body):
    name = f"nosuch_{uuid.uuid4().hex[:8]}"
    r = http.request(method, path.format(c=name), json=body)
    msg = assert_error_shape(r, status=404)
    assert msg == f"Not found: Collection `{name}` doesn't exist!", msg
    assert http.get(f"/collections/{name}/exists").json()["result"]["exists"] is False


# ---- point ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pid",
    [-1, 1.5, 1e3, "123", "not-a-uuid", "5c56c793-69f3-4fbf-87e6-c4bf54c28c2", "5c56c793-69f3-4fbf-87e6-c4bf54c28c26x",
     "", 2**64, [1], {"id": 1}],
    ids=["negative", "fraction", "exp-float", "numeric-string", "bad-uuid", "short-uuid", "long-uuid", "empty",
         "too-big", "list", "object"],
)
def test_invalid_point_ids(http, coll, pid):
    r = put_points(http, coll, {"points": [{"id": 5, "vector": [1, 1, 1, 1]}, {"id": pid, "vector": [1, 2, 3, 4]}]})
    assert_error_shape(r, status=400)
    assert count(http, coll) == 1
    r = http.post(f"/collections/{coll}/points", json={"ids": [pid]})
    assert_error_shape(r, status=400)


@pytest.mark.parametrize("pid", ["-1", "1.5", "abc", "18446744073709551616"])
def test_invalid_point_id_in_path(http, coll, pid):
    r = http.get(f"/collections/{coll}/points/{pid}")
    assert_error_shape(r)
    assert 400 <= r.status_code < 500


# ---- numbers and strings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"points":[{"id":2,"vector":[NaN,1,2,3]}]}',
        '{"points":[{"id":2,"vector":[Infinity,1,2,3]}]}',
        '{"points":[{"id":2,"vector":[-Infinity,1,2,3]}]}',
        '{"points":[{"id":2,"vector":[1,2,3,4],"payload":{"x":NaN}}]}',
        '{"points":[{"id":2,"vector":[1,2,3,4],"payload":{"x":Infinity}}]}',
        '{"points":[{"id":2,"vector":[1,2,3,4],"payload":{"x":1e999}}]}',
        '{"points":[{"id":2,"vector":[01,2,3,4]}]}',
        '{"points":[{"id":2,"vector":[.5,2,3,4]}]}',
        '{"points":[{"id":2,"vector":[+1,2,3,4]}]}',
    ],
    ids=["nan", "inf", "-inf", "payload-nan", "payload-inf", "payload-overflow", "leading-zero", "bare-dot", "plus"],
)
def test_non_json_numbers(http, coll, body):
    r = put_points(http, coll, body)
    assert_error_shape(r, status=400)
    assert count(http, coll) == 1


@pytest.mark.parametrize(
    "raw",
    [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\xe2\x82"],
    ids=["ff", "bad-continuation", "surrogate", "5-byte", "overlong", "truncated"],
)
def test_invalid_utf8_in_payload(http, coll, raw):
    body = b'{"points":[{"id":2,"vector":[1,2,3,4],"payload":{"s":"ok' + raw + b'"}}]}'
    r = put_points(http, coll, body)
    assert_error_shape(r, status=400)
    assert count(http, coll) == 1


@pytest.mark.parametrize("esc", ["\\ud800", "\\udc00x", "\\ud800\\u0041"], ids=["lone-high", "lone-low", "high-then-bmp"])
def test_lone_surrogate_escape(http, coll, esc):
    body = '{"points":[{"id":2,"vector":[1,2,3,4],"payload":{"s":"' + esc + '"}}]}'
    r = put_points(http, coll, body)
    assert_error_shape(r, status=400)
    assert count(http, coll) == 1


def test_valid_surrogate_pair_escape(http, coll):
    r = put_points(http, coll, '{"points":[{"id":2,"vector":[1,2,3,4],"payload":{"s":"\\ud83c\\udf89"}}]}')
    assert r.status_code == 200, r.text
    assert payload(http, coll, 2) == {"s": "🎉"}


# ---- filters and payload edits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flt",
    [
        {"must": [{"key": "a", "match": {"value": [1, 2]}}]},
        {"must": [{"key": "a", "range": {"gte": "x"}}]},
        {"must": [{"key": "a", "bogus": 1}]},
        {"must": "nope"},
    ],
    ids=["match-list", "range-str", "unknown-condition", "must-str"],
)
def test_bad_filter_400(http, coll, flt):
    r = http.post(f"/collections/{coll}/points/scroll", json={"filter": flt})
    assert_error_shape(r, status=400)
    r = http.post(f"/collections/{coll}/points/delete?wait=true", json={"filter": flt})
    assert_error_shape(r, status=400)
    assert count(http, coll) == 1


def test_set_payload_missing_point(http, coll):
    r = http.post(f"/collections/{coll}/points/payload?wait=true", json={"payload": {"b": 2}, "points": [1, 404]})
    assert_error_shape(r, status=404)
    assert payload(http, coll, 1) == {"a": 1}


def test_set_payload_not_object(http, coll):
    r = http.post(f"/collections/{coll}/points/payload?wait=true", json={"payload": [1], "points": [1]})
    assert_error_shape(r, status=400)
    assert payload(http, coll, 1) == {"a": 1}


# ---- sizes ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server(server_factory_module):
    srv = server_factory_module(env={"QDRANT__SERVICE__MAX_REQUEST_SIZE_MB": "1"})
    srv.start()
    yield srv
    assert srv.stop() == 0, srv.stderr()


@pytest.fixture(scope="module")
def server_factory_module(quiver_path, tmp_path_factory):
    from quiver_harness import ServerProc

    made = []
    base = tmp_path_factory.mktemp("errors-servers")

    def make(env=None):
        st = str(base / f"storage{len(made)}")
        srv = ServerProc(st, env=env, log_dir=str(base))
        made.append(srv)
        return srv

    yield make
    for s in made:
        if s.running():
            s.kill()


def test_body_over_limit_413(small_server):
    with httpx.Client(base_url=small_server.url, timeout=30) as h:
        r = h.put("/collections/big", json={"vectors": {"size": 4, "distance": "Dot"}})
        assert r.status_code == 200, r.text
        pts = [{"id": i, "vector": [0.123456789] * 4, "payload": {"pad": "x" * 200}} for i in range(6000)]
        body = json.dumps({"points": pts}).encode()
        assert len(body) > 1 << 20
        r = h.put("/collections/big/points?wait=true", content=body, headers=JSON)
        assert_error_shape(r, status=413)
        assert h.post("/collections/big/points/count", json={}).json()["result"]["count"] == 0
        # just under the limit is fine
        pts = pts[:3000]
        body = json.dumps({"points": pts}).encode()
        assert len(body) < 1 << 20
        r = h.put("/collections/big/points?wait=true", content=body, headers=JSON)
        assert r.status_code == 200, r.text[:300]
        assert h.post("/collections/big/points/count", json={}).json()["result"]["count"] == 3000


def test_chunked_body_over_limit_413(small_server):
    with httpx.Client(base_url=small_server.url, timeout=30) as h:
        h.put("/collections/big2", json={"vectors": {"size": 4, "distance": "Dot"}})
        pts = [{"id": i, "vector": [1, 2, 3, 4], "payload": {"pad": "y" * 300}} for i in range(5000)]
        body = json.dumps({"points": pts}).encode()

        def gen():
            for i in range(0, len(body), 65536):
                yield body[i:i + 65536]

        r = h.put("/collections/big2/points?wait=true", content=gen(), headers=JSON)
        assert_error_shape(r, status=413)
        assert h.post("/collections/big2/points/count", json={}).json()["result"]["count"] == 0
        assert h.get("/healthz").status_code == 200


# ---- paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/collections/..%2f..",
        "/collections/..%2F..%2Fetc",
        "/collections/%2e%2e",
        "/collections/..",
        "/collections/.",
        "/collections/a%00b",
        "/collections/%00",
        "/collections/x%2fy",
    ],
)
def test_path_tricks(server, http, target):
    before = http.get("/collections").json()["result"]["collections"]
    status, body = raw_request(server.port, "PUT", target, json.dumps({"vectors": {"size": 2, "distance": "Dot"}}).encode())
    assert 400 <= status < 500, (status, body)
    err = json.loads(body)
    assert isinstance(err["status"]["error"], str) and "time" in err
    assert http.get("/collections").json()["result"]["collections"] == before
    assert_healthy(http)


def test_dotdot_outside_storage(server, http):
    """../ in the path never reaches outside collections/."""
    status, body = raw_request(server.port, "GET", "/collections/../../etc/passwd")
    assert status == 404, body
    status, body = raw_request(server.port, "GET", "/collections/x/../../")
    assert status in (200, 404), body
    assert b"root:" not in body


def test_wrong_method_is_refused(http, coll):
    """Qdrant's router answers 404 for a known path with another method; 405 is the
    HTTP-correct alternative.  Either way an error in Qdrant's shape, nothing done."""
    r = http.request("DELETE", f"/collections/{coll}/points/scroll")
    assert r.status_code in (404, 405), r.text
    assert_error_shape(r)
    r = http.request("POST", f"/collections/{coll}")
    assert r.status_code in (404, 405), r.text
    assert count(http, coll) == 1


def test_healthy_at_the_end(http, client):
    assert_healthy(http)
    assert client.get_collections() is not None
