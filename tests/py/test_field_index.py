"""Payload field index declarations: create / delete through the official client (REST or gRPC,
as the suite runs) and raw HTTP, payload_schema in collection info exactly as Qdrant shapes it,
parameter validation, filters giving the same results with and without an index, and
durability of declarations across restart, checkpoints and kill -9."""

import uuid

import httpx
import pytest
from qdrant_client import models

from quiver_harness import assert_error_shape, client_error, prefer_grpc

DIM = 2

POINTS = [
    # id, payload
    (1, {"city": "Berlin", "n": 3, "f": 1.5, "ok": True, "when": "2024-01-02T03:04:05Z",
         "u": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "loc": {"lat": 52.5, "lon": 13.4},
         "tags": ["a", "b"], "text": "hello world", "nested": {"k": "x"}}),
    (2, {"city": ["Paris", "Lyon"], "n": 2.5, "f": 7, "ok": "yes", "when": "not a date",
         "u": "nope", "loc": {"lat": 95, "lon": 0}, "tags": [], "nested": [{"k": "y"}, {"k": 1}]}),
    (3, {"city": 42, "n": [1, "x"], "f": "1.0", "ok": [False], "when": "2024-05-06",
         "loc": [{"lat": 1, "lon": 2}], "text": 5}),
    (4, {}),
]


@pytest.fixture
def coll(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance="Dot"))
    client.upsert(collection_name, wait=True, points=[
        models.PointStruct(id=i, vector=[1.0, float(i)], payload=p) for i, p in POINTS])
    return collection_name


def schema(client, name):
    return client.get_collection(name).payload_schema


def test_create_by_type_name_counts_points(client, http, coll):
    expected = {
        "city": ("keyword", 2),      # "Berlin"; ["Paris", "Lyon"]; not 42
        "n": ("integer", 2),         # 3; [1, "x"]; not 2.5
        "f": ("float", 2),           # 1.5; 7; not "1.0"
        "ok": ("bool", 2),           # True; [False]
        "when": ("datetime", 2),     # RFC 3339 and a plain date
        "u": ("uuid", 1),
        "loc": ("geo", 2),           # lat 95 is no geo point; a list of points counts
        "text": ("text", 1),
        "tags": ("keyword", 1),      # [] holds no value
        "nested[].k": ("keyword", 1),  # [{"k":"y"}, {"k":1}]; an object is not an array
        "missing": ("keyword", 0),
    }
    for field, (t, _) in expected.items():
        r = client.create_payload_index(coll, field, field_schema=t, wait=True)
        assert r.status == models.UpdateStatus.COMPLETED
        assert isinstance(r.operation_id, int)
    got = schema(client, coll)
    assert set(got) == set(expected)
    for field, (t, pts) in expected.items():
        assert got[field].data_type == models.PayloadSchemaType(t), field
        assert got[field].params is None, field
        assert got[field].points == pts, (field, got[field].points)
    # the raw shape: no "params" key for an index declared by name
    raw = http.get(f"/collections/{coll}").json()["result"]["payload_schema"]
    assert raw["city"] == {"data_type": "keyword", "points": 2}
    assert raw["nested[].k"] == {"data_type": "keyword", "points": 1}


def test_params_echoed_canonically(http, coll):
    def put(field, fs, wait=True):
        r = http.put(f"/collections/{coll}/index?wait={str(wait).lower()}", json={"field_name": field, "field_schema": fs})
        assert r.status_code == 200, r.text
        return r.json()["result"]

    res = put("city", {"type": "keyword", "is_tenant": True, "on_disk": False, "unknown_key": 1})
    assert res["status"] == "completed" and isinstance(res["operation_id"], int)
    put("n", {"type": "integer", "lookup": True})
    put("f", {"type": "float", "is_principal": True, "memory": "cached"})
    put("text", {"type": "text", "tokenizer": "prefix", "min_token_len": 2, "max_token_len": 10,
                 "lowercase": True, "ascii_folding": True, "phrase_matching": False,
                 "stopwords": {"custom": ["the", "a", "the"], "languages": ["en", "german"]},
                 "stemmer": {"type": "snowball", "language": "en"}})
    put("tags", {"type": "text", "stopwords": "de"})
    put("u", {"type": "uuid", "is_tenant": False, "enable_hnsw": False})
    res = put("ok", {"type": "bool"}, wait=False)
    assert res["status"] == "acknowledged"
    got = http.get(f"/collections/{coll}").json()["result"]["payload_schema"]
    assert got["city"] == {"data_type": "keyword", "params": {"type": "keyword", "is_tenant": True, "on_disk": False},
                           "points": 2}
    assert got["n"]["params"] == {"type": "integer", "lookup": True, "range": None, "is_principal": None}
    assert got["f"]["params"] == {"type": "float", "is_principal": True, "memory": "cached"}
    assert got["text"]["params"] == {
        "type": "text", "tokenizer": "prefix", "min_token_len": 2, "max_token_len": 10, "lowercase": True,
        "ascii_folding": True, "phrase_matching": False,
        "stopwords": {"languages": ["english", "german"], "custom": ["a", "the"]},
        "stemmer": {"type": "snowball", "language": "english"}}
    assert got["tags"]["params"] == {"type": "text", "tokenizer": "word", "stopwords": "german"}
    assert got["u"]["params"] == {"type": "uuid", "is_tenant": False, "enable_hnsw": False}
    assert got["ok"] == {"data_type": "bool", "params": {"type": "bool"}, "points": 2}
    # keys in Qdrant's order
    assert list(got["text"]["params"]) == ["type", "tokenizer", "min_token_len", "max_token_len", "lowercase",
                                          "ascii_folding", "phrase_matching", "stopwords", "stemmer"]


def test_params_through_client(client, coll):
    client.create_payload_index(coll, "city", wait=True, field_schema=models.KeywordIndexParams(
        type=models.KeywordIndexType.KEYWORD, is_tenant=True))
    client.create_payload_index(coll, "n", wait=True, field_schema=models.IntegerIndexParams(
        type=models.IntegerIndexType.INTEGER, lookup=False, range=True))
    client.create_payload_index(coll, "text", wait=True, field_schema=models.TextIndexParams(
        type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WHITESPACE, min_token_len=3,
        lowercase=False, stemmer=models.SnowballParams(type=models.Snowball.SNOWBALL,
                                                       language=models.SnowballLanguage.GERMAN)))
    got = schema(client, coll)
    assert got["city"].data_type == models.PayloadSchemaType.KEYWORD
    assert got["city"].params.is_tenant is True
    assert got["city"].points == 2
    assert got["n"].params.lookup is False and got["n"].params.range is True
    t = got["text"].params
    assert t.tokenizer == models.TokenizerType.WHITESPACE and t.min_token_len == 3 and t.lowercase is False
    assert t.stemmer.language == models.SnowballLanguage.GERMAN
    assert got["text"].points == 1


def test_redeclare_replaces_and_delete(client, http, coll):
    client.create_payload_index(coll, "city", field_schema="keyword", wait=True)
    client.create_payload_index(coll, "city", field_schema="text", wait=True)
    assert schema(client, coll)["city"].data_type == models.PayloadSchemaType.TEXT
    r = client.delete_payload_index(coll, "city", wait=True)
    assert r.status == models.UpdateStatus.COMPLETED
    assert schema(client, coll) == {}
    # deleting an index that does not exist is no error (as in Qdrant)
    r = http.delete(f"/collections/{coll}/index/never?wait=true")
    assert r.status_code == 200 and r.json()["result"]["status"] == "completed"
    client.delete_payload_index(coll, "never", wait=True)


def test_errors_rest(http, coll):
    def put(body, name=coll):
        return http.put(f"/collections/{name}/index", json=body)

    missing = f"missing_{uuid.uuid4().hex[:6]}"
    msg = assert_error_shape(put({"field_name": "a", "field_schema": "keyword"}, name=missing), 404)
    assert msg == f"Not found: Collection `{missing}` doesn't exist!"
    assert_error_shape(http.delete(f"/collections/{missing}/index/a"), 404, contains="doesn't exist!")
    msg = assert_error_shape(put({"field_name": "a"}), 400)
    assert msg == "Bad request: Can't auto-detect field type, please specify `field_schema` in the request"
    assert_error_shape(put({"field_name": "a", "field_schema": None}), 400, contains="auto-detect")
    for bad in ("keywrd", 5, {"type": "nope"}, {"is_tenant": True}, {"type": "keyword", "is_tenant": "yes"},
                {"type": "text", "tokenizer": "bogus"}, {"type": "text", "stopwords": "klingon"},
                {"type": "text", "stemmer": {"type": "snowball", "language": "klingon"}},
                {"type": "float", "memory": "warm"}, {"type": "text", "min_token_len": -1}):
        msg = assert_error_shape(put({"field_name": "a", "field_schema": bad}), 400)
        assert msg == "Format error in JSON body: data did not match any variant of untagged enum PayloadFieldSchema", bad
    msg = assert_error_shape(put({"field_name": "a", "field_schema": {"type": "integer", "lookup": False, "range": False}}), 422)
    assert "the 'lookup' and 'range' capabilities can't be both disabled" in msg
    assert_error_shape(put({"field_schema": "keyword"}), 400, contains="missing field `field_name`")
    assert_error_shape(put({"field_name": "a..b", "field_schema": "keyword"}), 400, contains="Invalid JSON path")
    # nothing was declared by any of the failures
    assert http.get(f"/collections/{coll}").json()["result"]["payload_schema"] == {}


def test_errors_client(client, coll):
    missing = f"missing_{uuid.uuid4().hex[:6]}"
    with client_error(404, contains=f"Collection `{missing}` doesn't exist!"):
        client.create_payload_index(missing, "a", field_schema="keyword")
    with client_error(400, contains="auto-detect field type"):
        client.create_payload_index(coll, "a")
    with client_error(422, contains="can't be both disabled"):
        client.create_payload_index(coll, "n", field_schema=models.IntegerIndexParams(
            type=models.IntegerIndexType.INTEGER, lookup=False, range=False))


def test_filters_unchanged_by_index(client, coll):
    filters = [
        models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Berlin"))]),
        models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=2))]),
        models.Filter(must=[models.FieldCondition(key="text", match=models.MatchText(text="hello"))]),
        models.Filter(must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key="city"))]),
    ]

    def results():
        out = []
        for f in filters:
            recs, _ = client.scroll(coll, scroll_filter=f, limit=100)
            out.append((sorted(r.id for r in recs), client.count(coll, count_filter=f).count))
        return out

    before = results()
    for field, t in (("city", "keyword"), ("n", "integer"), ("text", "text")):
        client.create_payload_index(coll, field, field_schema=t, wait=True)
    assert results() == before
    assert before[0] == ([1], 1)


@pytest.mark.skipif(not prefer_grpc(), reason="gRPC-specific request shapes")
def test_grpc_field_type_and_params_must_agree(server, coll):
    import grpc
    from qdrant_client import grpc as qg

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = qg.PointsStub(ch)
        with pytest.raises(grpc.RpcError) as ei:
            stub.CreateFieldIndex(qg.CreateFieldIndexCollection(
                collection_name=coll, field_name="a", field_type=qg.FieldTypeInteger,
                field_index_params=qg.PayloadIndexParams(keyword_index_params=qg.KeywordIndexParams())), timeout=10)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "do not match" in ei.value.details()
        # params alone name the type
        r = stub.CreateFieldIndex(qg.CreateFieldIndexCollection(
            collection_name=coll, field_name="city", wait=True,
            field_index_params=qg.PayloadIndexParams(keyword_index_params=qg.KeywordIndexParams(is_tenant=True))),
            timeout=10)
        assert r.result.status == qg.Completed
        info = qg.CollectionsStub(ch).Get(qg.GetCollectionInfoRequest(collection_name=coll), timeout=10).result
        ps = info.payload_schema["city"]
        assert ps.data_type == qg.Keyword and ps.points == 2
        assert ps.params.keyword_index_params.is_tenant is True


# ---- durability -------------------------------------------------------------------


def _info_schema(url, name):
    with httpx.Client(base_url=url, timeout=30) as h:
        r = h.get(f"/collections/{name}")
        assert r.status_code == 200, r.text
        return r.json()["result"]["payload_schema"]


def test_declarations_survive_kill_and_checkpoint(server_factory):
    srv = server_factory().start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        assert h.put("/collections/c", json={"vectors": {"size": DIM, "distance": "Dot"}}).status_code == 200
        r = h.put("/collections/c/points?wait=true", json={"points": [
            {"id": i, "vector": [1, i], "payload": {"k": f"v{i}", "n": i}} for i in range(5)]})
        assert r.status_code == 200
        for body in ({"field_name": "k", "field_schema": "keyword"},
                     {"field_name": "n", "field_schema": {"type": "integer", "range": True}},
                     {"field_name": "gone", "field_schema": "bool"}):
            assert h.put("/collections/c/index?wait=true", json=body).status_code == 200
        assert h.delete("/collections/c/index/gone?wait=true").status_code == 200
    expected = {"k": {"data_type": "keyword", "points": 5},
                "n": {"data_type": "integer", "params": {"type": "integer", "lookup": None, "range": True,
                                                         "is_principal": None}, "points": 5}}
    srv.kill()  # acknowledged with wait=true: must survive from the WAL alone
    srv.start()
    assert _info_schema(srv.url, "c") == expected
    assert srv.stop() == 0  # clean stop: a checkpoint, WAL truncated behind it
    srv.start()
    assert _info_schema(srv.url, "c") == expected
    with httpx.Client(base_url=srv.url, timeout=30) as h:  # more after the checkpoint
        assert h.delete("/collections/c/index/k?wait=true").status_code == 200
        assert h.put("/collections/c/index?wait=true", json={"field_name": "k2", "field_schema": "text"}).status_code == 200
    srv.kill()
    srv.start()
    del expected["k"]
    expected["k2"] = {"data_type": "text", "points": 0}
    assert _info_schema(srv.url, "c") == expected
    assert srv.stop() == 0
