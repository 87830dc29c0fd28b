"""Points: upsert forms, IDs, retrieve, payload and vector edits, batch updates,
scroll, count, exact read-back."""

import json
import math
import uuid

import numpy as np
import pytest
from qdrant_client import models

from quiver_harness import (assert_error_shape, assert_no_payload, prefer_grpc, wire_payload,
                             wire_vector)

U1 = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
U2 = "936dff3b-e5e5-4d7f-9c4f-0a3c8f9c0a11"
U3 = "00000000-0000-0000-0000-00000000000a"


def mk(client, name, size=4, distance="Dot", named=None):
    if named:
        cfg = {k: models.VectorParams(size=s, distance=d) for k, (s, d) in named.items()}
    else:
        cfg = models.VectorParams(size=size, distance=distance)
    client.create_collection(name, vectors_config=cfg)


def raw_points(http, name, ids, **kw):
    body = {"ids": ids, **kw}
    r = http.post(f"/collections/{name}/points", json=body)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def put_raw(http, name, points, wait=True):
    r = http.put(f"/collections/{name}/points", params={"wait": str(wait).lower()}, json={"points": points})
    return r


# ---- upsert -----------------------------------------------------------------------


def test_upsert_list_form(client, collection_name):
    mk(client, collection_name)
    res = client.upsert(
        collection_name,
        points=[
            models.PointStruct(id=1, vector=[0.1, 0.2, 0.3, 0.4], payload={"a": 1}),
            models.PointStruct(id=2, vector=[0.5, 0.6, 0.7, 0.8], payload={"a": 2}),
        ],
        wait=True,
    )
    assert res.status == models.UpdateStatus.COMPLETED
    assert isinstance(res.operation_id, int)
    got = client.retrieve(collection_name, [2, 1], with_vectors=True)
    assert [p.id for p in got] == [2, 1]
    assert got[0].payload == {"a": 2}
    assert got[0].vector == wire_vector([0.5, 0.6, 0.7, 0.8])
    assert got[1].vector == wire_vector([0.1, 0.2, 0.3, 0.4])


def test_upsert_batch_form(client, collection_name):
    mk(client, collection_name)
    client.upsert(
        collection_name,
        points=models.Batch(
            ids=[10, 11, U1],
            vectors=[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]],
            payloads=[{"n": 10}, {"n": 11}, {"n": "u"}],
        ),
        wait=True,
    )
    got = {p.id: p for p in client.retrieve(collection_name, [10, 11, U1], with_vectors=True)}
    assert set(got) == {10, 11, U1}
    assert got[11].vector == [0.0, 1.0, 0.0, 0.0]
    assert got[U1].payload == {"n": "u"}


def test_upsert_batch_form_without_payloads(client, collection_name):
    mk(client, collection_name)
    client.upsert(collection_name, models.Batch(ids=[1, 2], vectors=[[1.0] * 4, [2.0] * 4]), wait=True)
    got = client.retrieve(collection_name, [1, 2])
    assert [p.payload for p in got] == [{}, {}]


def test_upsert_replaces_whole_point(client, collection_name):
    mk(client, collection_name)
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[1.0] * 4, payload={"a": 1, "b": 2})], wait=True)
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[2.0] * 4, payload={"c": 3})], wait=True)
    (p,) = client.retrieve(collection_name, [1], with_vectors=True)
    assert p.payload == {"c": 3}
    assert p.vector == [2.0] * 4
    assert client.count(collection_name).count == 1


def test_upsert_duplicate_ids_in_one_request_last_wins(client, collection_name):
    mk(client, collection_name)
    client.upsert(
        collection_name,
        [models.PointStruct(id=5, vector=[1.0] * 4, payload={"v": 1}),
         models.PointStruct(id=5, vector=[3.0] * 4, payload={"v": 2})],
        wait=True,
    )
    (p,) = client.retrieve(collection_name, [5], with_vectors=True)
    assert p.payload == {"v": 2}
    assert p.vector == [3.0] * 4


def test_wait_statuses(client, http, collection_name):
    mk(client, collection_name)
    r = put_raw(http, collection_name, [{"id": 1, "vector": [1, 2, 3, 4]}], wait=True)
    assert r.status_code == 200
    assert r.json()["result"]["status"] == "completed"
    assert isinstance(r.json()["result"]["operation_id"], int)
    r = put_raw(http, collection_name, [{"id": 2, "vector": [1, 2, 3, 4]}], wait=False)
    assert r.status_code == 200
    assert r.json()["result"]["status"] == "acknowledged"
    # no wait parameter at all means wait=false
    r = http.put(f"/collections/{collection_name}/points", json={"points": [{"id": 3, "vector": [1, 2, 3, 4]}]})
    assert r.json()["result"]["status"] == "acknowledged"
    res = client.upsert(collection_name, [models.PointStruct(id=4, vector=[1.0] * 4)], wait=False)
    assert res.status == models.UpdateStatus.ACKNOWLEDGED
    # a later wait=true write makes everything before it visible
    client.upsert(collection_name, [models.PointStruct(id=5, vector=[1.0] * 4)], wait=True)
    assert client.count(collection_name).count == 5


def test_operation_ids_increase(client, collection_name):
    mk(client, collection_name)
    ids = [
        client.upsert(collection_name, [models.PointStruct(id=i, vector=[1.0] * 4)], wait=True).operation_id
        for i in range(5)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 5


# ---- IDs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        "5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
        "5C56C793-69F3-4FBF-87E6-C4BF54C28C26",
        "5c56c79369f34fbf87e6c4bf54c28c26",
        "{5c56c793-69f3-4fbf-87e6-c4bf54c28c26}",
        "urn:uuid:5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
    ],
    ids=["hyphenated", "upper", "simple", "braced", "urn"],
)
def test_uuid_forms(client, http, collection_name, given):
    mk(client, collection_name)
    r = put_raw(http, collection_name, [{"id": given, "vector": [1, 2, 3, 4], "payload": {"k": 1}}])
    assert r.status_code == 200, r.text
    scrolled = http.post(f"/collections/{collection_name}/points/scroll", json={}).json()["result"]["points"]
    assert [p["id"] for p in scrolled] == [U1]
    # the same point is found by any spelling
    got = raw_points(http, collection_name, [given])
    assert [p["id"] for p in got] == [U1]
    got = raw_points(http, collection_name, [U1.upper()])
    assert [p["id"] for p in got] == [U1]
    # and upserting another spelling overwrites rather than adds
    r = put_raw(http, collection_name, [{"id": U1.replace("-", ""), "vector": [1, 2, 3, 4], "payload": {"k": 2}}])
    assert r.status_code == 200
    assert client.count(collection_name).count == 1
    assert client.retrieve(collection_name, [U1])[0].payload == {"k": 2}


def test_int_ids_extremes(client, http, collection_name):
    mk(client, collection_name)
    big = 2**64 - 1
    ids = [0, 1, 2**53 + 1, 2**63, big]
    r = put_raw(http, collection_name, [{"id": i, "vector": [1, 2, 3, 4]} for i in ids])
    assert r.status_code == 200, r.text
    got = raw_points(http, collection_name, [big, 2**53 + 1])
    assert [p["id"] for p in got] == [big, 2**53 + 1]
    # the raw text carries every digit (never through a double)
    r = http.post(f"/collections/{collection_name}/points/scroll", json={"limit": 100})
    assert str(big) in r.text and str(2**53 + 1) in r.text
    assert [p["id"] for p in r.json()["result"]["points"]] == sorted(ids)
    assert [p.id for p in client.retrieve(collection_name, [big])] == [big]
    r = http.get(f"/collections/{collection_name}/points/{big}")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["id"] == big
    # 2^64 does not fit
    r = put_raw(http, collection_name, [{"id": 2**64, "vector": [1, 2, 3, 4]}])
    assert r.status_code == 400, r.text
    assert client.count(collection_name).count == len(ids)


# ---- retrieve -------------------------------------------------------------------------------


@pytest.fixture
def filled(client, collection_name):
    mk(client, collection_name, named={"a": (2, "Dot"), "b": (3, "Euclid")})
    client.upsert(
        collection_name,
        [
            models.PointStruct(
                id=1,
                vector={"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]},
                payload={"city": "Berlin", "nested": {"x": 1, "y": [1, 2]}, "n": 7},
            ),
            models.PointStruct(id=2, vector={"a": [0.5, 0.25]}, payload={"city": "Paris"}),
            models.PointStruct(id=U2, vector={"b": [1.0, 1.0, 1.0]}),
        ],
        wait=True,
    )
    return collection_name


def test_retrieve_defaults(client, filled):
    got = client.retrieve(filled, [1, 2, U2, 999])
    assert [p.id for p in got] == [1, 2, U2]
    assert got[0].payload == {"city": "Berlin", "nested": {"x": 1, "y": [1, 2]}, "n": 7}
    assert all(p.vector is None for p in got)


def test_retrieve_raw_defaults(http, filled):
    r = http.post(f"/collections/{filled}/points", json={"ids": [1]})
    p = r.json()["result"][0]
    assert p["payload"]["city"] == "Berlin"
    assert p.get("vector") is None


def test_retrieve_vectors_variants(client, filled):
    (p,) = client.retrieve(filled, [1], with_vectors=True, with_payload=False)
    assert p.vector == {"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]}
    assert_no_payload(p.payload)
    (p,) = client.retrieve(filled, [1], with_vectors=["b"])
    assert p.vector == {"b": [3.0, 4.0, 5.0]}
    # a point without vector "a" simply omits it
    (p,) = client.retrieve(filled, [U2], with_vectors=True)
    assert p.vector == {"b": [1.0, 1.0, 1.0]}
    (p,) = client.retrieve(filled, [U2], with_vectors=["a"])
    assert p.vector == {} or p.vector is None


def test_retrieve_payload_selectors(client, filled):
    (p,) = client.retrieve(filled, [1], with_payload=["city", "n"])
    assert p.payload == {"city": "Berlin", "n": 7}
    (p,) = client.retrieve(filled, [1], with_payload=models.PayloadSelectorInclude(include=["nested.x"]))
    assert p.payload == {"nested": {"x": 1}}
    (p,) = client.retrieve(filled, [1], with_payload=models.PayloadSelectorExclude(exclude=["nested", "n"]))
    assert p.payload == {"city": "Berlin"}
    (p,) = client.retrieve(filled, [1], with_payload=models.PayloadSelectorExclude(exclude=["nested.y"]))
    assert p.payload == {"city": "Berlin", "nested": {"x": 1}, "n": 7}
    (p,) = client.retrieve(filled, [1], with_payload=False)
    assert_no_payload(p.payload)


def test_get_point_raw(http, filled):
    r = http.get(f"/collections/{filled}/points/1")
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["id"] == 1
    assert res["payload"] == {"city": "Berlin", "nested": {"x": 1, "y": [1, 2]}, "n": 7}
    assert res["vector"] == {"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]}
    r = http.get(f"/collections/{filled}/points/{U2}")
    assert r.status_code == 200
    assert r.json()["result"]["id"] == U2
    r = http.get(f"/collections/{filled}/points/424242")
    assert_error_shape(r, status=404)


# ---- delete -------------------------------------------------------------------------------------


def test_delete_by_ids(client, filled):
    res = client.delete(filled, points_selector=models.PointIdsList(points=[1, U2, 12345]), wait=True)
    assert res.status == models.UpdateStatus.COMPLETED
    assert [p.id for p in client.scroll(filled)[0]] == [2]


def test_delete_by_filter(client, filled):
    client.delete(
        filled,
        points_selector=models.FilterSelector(
            filter=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Berlin"))])
        ),
        wait=True,
    )
    assert [p.id for p in client.scroll(filled)[0]] == [2, U2]
    assert client.count(filled).count == 2


# ---- payload edits ------------------------------------------------------------------------------


def payload_of(client, name, pid):
    (p,) = client.retrieve(name, [pid])
    return p.payload


def test_set_payload_by_ids(client, filled):
    client.set_payload(filled, payload={"city": "Rome", "new": [1, None]}, points=[1, U2], wait=True)
    assert payload_of(client, filled, 1) == {"city": "Rome", "nested": {"x": 1, "y": [1, 2]}, "n": 7, "new": [1, None]}
    assert payload_of(client, filled, U2) == {"city": "Rome", "new": [1, None]}
    assert payload_of(client, filled, 2) == {"city": "Paris"}


def test_set_payload_by_filter(client, filled):
    client.set_payload(
        filled,
        payload={"tag": "t"},
        points=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchAny(any=["Paris", "Rome"]))]),
        wait=True,
    )
    assert payload_of(client, filled, 2) == {"city": "Paris", "tag": "t"}
    assert "tag" not in payload_of(client, filled, 1)


def test_set_payload_with_key(client, filled):
    client.set_payload(filled, payload={"z": 9}, points=[1], key="nested", wait=True)
    assert payload_of(client, filled, 1)["nested"] == {"x": 1, "y": [1, 2], "z": 9}


def test_set_payload_through_array_paths_matches_reference(client, collection_name):
    """key with [n] / []: elements are edited in place; where the path finds no array
    (missing, [] or a scalar) it becomes an empty one, as the reference does."""
    from qdrant_client import QdrantClient
    cases = [{"items": []}, {"x": 1}, {"items": [{"a": 1}]}, {"items": 5}, {"items": [1, [2]]}]
    ref = QdrantClient(":memory:")
    for c in (client, ref):
        c.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance="Dot"))
        c.upsert(collection_name, wait=True, points=[
            models.PointStruct(id=i, vector=[1, 0], payload=p) for i, p in enumerate(cases)])
        for key in ("items[0]", "items[].q"):
            c.set_payload(collection_name, payload={"z": 2}, points=list(range(len(cases))), key=key, wait=True)
    for i in range(len(cases)):
        assert payload_of(client, collection_name, i) == payload_of(ref, collection_name, i), cases[i]


def test_overwrite_payload(client, filled):
    client.overwrite_payload(filled, payload={"only": True}, points=[1], wait=True)
    assert payload_of(client, filled, 1) == {"only": True}
    client.overwrite_payload(
        filled,
        payload={"o": 2},
        points=models.Filter(must=[models.HasIdCondition(has_id=[2, U2])]),
        wait=True,
    )
    assert payload_of(client, filled, 2) == {"o": 2}
    assert payload_of(client, filled, U2) == {"o": 2}
    assert payload_of(client, filled, 1) == {"only": True}


def test_delete_payload(client, filled):
    client.delete_payload(filled, keys=["n", "nested.y", "missing"], points=[1], wait=True)
    assert payload_of(client, filled, 1) == {"city": "Berlin", "nested": {"x": 1}}
    client.delete_payload(
        filled,
        keys=["city"],
        points=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Paris"))]),
        wait=True,
    )
    assert payload_of(client, filled, 2) == {}
    assert payload_of(client, filled, 1)["city"] == "Berlin"


def test_clear_payload(client, filled):
    client.clear_payload(filled, points_selector=models.PointIdsList(points=[1]), wait=True)
    assert payload_of(client, filled, 1) == {}
    assert payload_of(client, filled, 2) == {"city": "Paris"}
    client.clear_payload(
        filled,
        points_selector=models.FilterSelector(
            filter=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Paris"))])
        ),
        wait=True,
    )
    assert payload_of(client, filled, 2) == {}
    # vectors untouched
    (p,) = client.retrieve(filled, [1], with_vectors=True)
    assert p.vector == {"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]}


# ---- vector edits ---------------------------------------------------------------------------------


def test_update_vectors_named(client, filled):
    client.update_vectors(
        filled,
        points=[models.PointVectors(id=1, vector={"a": [9.0, 8.0]}), models.PointVectors(id=U2, vector={"a": [7.0, 6.0]})],
        wait=True,
    )
    got = {p.id: p for p in client.retrieve(filled, [1, U2], with_vectors=True)}
    assert got[1].vector == {"a": [9.0, 8.0], "b": [3.0, 4.0, 5.0]}
    assert got[U2].vector == {"a": [7.0, 6.0], "b": [1.0, 1.0, 1.0]}
    assert got[1].payload["city"] == "Berlin"


def test_update_vectors_missing_point_is_error(client, http, filled):
    r = http.put(f"/collections/{filled}/points/vectors", params={"wait": "true"},
                 json={"points": [{"id": 777, "vector": {"a": [1, 2]}}]})
    assert_error_shape(r, status=404)
    assert client.count(filled).count == 3


def test_delete_vectors_named(client, filled):
    client.delete_vectors(filled, vectors=["b"], points=[1, U2], wait=True)
    got = {p.id: p for p in client.retrieve(filled, [1, U2], with_vectors=True)}
    assert got[1].vector == {"a": [1.0, 2.0]}
    assert got[U2].vector in ({}, None)
    # points stay
    assert client.count(filled).count == 3


def test_delete_vectors_by_filter(client, filled):
    client.delete_vectors(
        filled, vectors=["a"],
        points=models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Paris"))]),
        wait=True,
    )
    (p,) = client.retrieve(filled, [2], with_vectors=True)
    assert p.vector in ({}, None)
    (p,) = client.retrieve(filled, [1], with_vectors=True)
    assert set(p.vector) == {"a", "b"}


# ---- batch update ------------------------------------------------------------------------------------


def test_batch_update_every_operation(client, filled):
    f_paris = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Paris"))])
    ops = [
        models.UpsertOperation(upsert=models.PointsList(points=[
            models.PointStruct(id=3, vector={"a": [3.0, 3.0], "b": [3.0, 3.0, 3.0]}, payload={"city": "Oslo", "k": 1}),
            models.PointStruct(id=4, vector={"a": [4.0, 4.0]}, payload={"city": "Lima"}),
        ])),
        models.UpsertOperation(upsert=models.PointsBatch(batch=models.Batch(
            ids=[5], vectors={"a": [[5.0, 5.0]]}, payloads=[{"city": "Kyiv"}]))),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"s": 1}, points=[3, 4])),
        models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload={"city": "Paris", "o": 1}, points=[5])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["k"], points=[3])),
        models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[4])),
        models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[
            models.PointVectors(id=3, vector={"a": [30.0, 30.0]})])),
        models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(points=[3], vector=["b"])),
        models.DeleteOperation(delete=models.PointIdsList(points=[U2])),
        models.DeleteOperation(delete=models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=[2])]))),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"after": True}, filter=f_paris)),
    ]
    results = client.batch_update_points(filled, ops, wait=True)
    assert len(results) == len(ops)
    assert all(r.status == models.UpdateStatus.COMPLETED for r in results)
    got = {p.id: p for p in client.scroll(filled, limit=100, with_vectors=True)[0]}
    assert set(got) == {1, 3, 4, 5}
    assert got[3].payload == {"city": "Oslo", "s": 1}
    assert got[3].vector == {"a": [30.0, 30.0]}
    assert got[4].payload == {}
    assert got[4].vector == {"a": [4.0, 4.0]}
    assert got[5].payload == {"city": "Paris", "o": 1, "after": True}
    assert "after" not in got[1].payload


def test_batch_update_failure_keeps_earlier_ops(client, http, filled):
    """Operations are applied in order; a failing one reports an error (what
    was applied before it stays applied, as in Qdrant)."""
    r = http.post(f"/collections/{filled}/points/batch", params={"wait": "true"}, json={"operations": [
        {"upsert": {"points": [{"id": 50, "vector": {"a": [1, 1]}}]}},
        {"upsert": {"points": [{"id": 51, "vector": {"a": [1, 1, 1]}}]}},
    ]})
    assert_error_shape(r, status=400, contains="Vector dimension error")
    assert client.retrieve(filled, [51]) == []


# ---- scroll and count -------------------------------------------------------------------------------------


def test_scroll_pagination_ints_before_uuids(client, collection_name):
    mk(client, collection_name, size=2)
    ints = [0, 3, 7, 8, 100, 2**40, 2**64 - 1]
    uuids = sorted(str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15 + 12345) % 2**128)) for i in range(1, 8))
    pts = [models.PointStruct(id=i, vector=[1.0, 0.0], payload={"i": str(i)}) for i in ints + uuids]
    client.upsert(collection_name, pts[::-1], wait=True)
    expected = ints + uuids
    seen, offset, pages = [], None, 0
    while True:
        page, offset = client.scroll(collection_name, limit=3, offset=offset)
        pages += 1
        assert len(page) <= 3
        seen += [p.id for p in page]
        if offset is None:
            break
        # the next offset is the first id of the next page (inclusive)
        assert offset == expected[len(seen)]
    assert seen == expected
    assert pages == math.ceil(len(expected) / 3)
    # a full last page: next_page_offset is null
    page, nxt = client.scroll(collection_name, limit=len(expected))
    assert nxt is None and len(page) == len(expected)
    # offset is inclusive and may be a missing id (starts at the next one)
    page, _ = client.scroll(collection_name, limit=2, offset=4)
    assert [p.id for p in page] == [7, 8]
    page, _ = client.scroll(collection_name, limit=2, offset=uuids[2])
    assert [p.id for p in page] == uuids[2:4]


def test_scroll_default_limit_and_filter(client, collection_name):
    mk(client, collection_name, size=2)
    client.upsert(
        collection_name,
        [models.PointStruct(id=i, vector=[1.0, float(i)], payload={"even": i % 2 == 0}) for i in range(25)],
        wait=True,
    )
    page, nxt = client.scroll(collection_name)
    assert [p.id for p in page] == list(range(10))
    assert nxt == 10
    flt = models.Filter(must=[models.FieldCondition(key="even", match=models.MatchValue(value=True))])
    page, nxt = client.scroll(collection_name, scroll_filter=flt, limit=5)
    assert [p.id for p in page] == [0, 2, 4, 6, 8]
    assert nxt == 10
    page, nxt = client.scroll(collection_name, scroll_filter=flt, limit=5, offset=nxt)
    assert [p.id for p in page] == [10, 12, 14, 16, 18]
    page, nxt = client.scroll(collection_name, scroll_filter=flt, limit=5, offset=nxt)
    assert [p.id for p in page] == [20, 22, 24]
    assert nxt is None


def test_count(client, collection_name):
    mk(client, collection_name, size=2)
    client.upsert(
        collection_name,
        [models.PointStruct(id=i, vector=[1.0, 2.0], payload={"g": i % 3}) for i in range(30)],
        wait=True,
    )
    assert client.count(collection_name).count == 30
    assert client.count(collection_name, exact=False).count == 30
    flt = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
    assert client.count(collection_name, count_filter=flt).count == 10
    flt = models.Filter(must_not=[models.FieldCondition(key="g", range=models.Range(gte=1))])
    assert client.count(collection_name, count_filter=flt).count == 10


# ---- exact read-back -------------------------------------------------------------------------------------


def test_exact_floats_dot(client, http, collection_name):
    mk(client, collection_name, distance="Dot")
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[0.19, 0.81, 0.75, 0.11])], wait=True)
    (p,) = client.retrieve(collection_name, [1], with_vectors=True)
    assert p.vector == wire_vector([0.19, 0.81, 0.75, 0.11])
    r = http.post(f"/collections/{collection_name}/points", json={"ids": [1], "with_vector": True})
    assert "[0.19,0.81,0.75,0.11]" in r.text.replace(" ", "")


def test_float32_values_round_trip(client, collection_name):
    mk(client, collection_name, distance="Euclid")
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(20, 4)).astype(np.float32) * np.float32(1e3)
    vecs[0] = [1e-38, -3.4028235e38, 1.1754944e-38, 0.0]
    client.upsert(collection_name, models.Batch(ids=list(range(20)), vectors=vecs.tolist()), wait=True)
    got = client.retrieve(collection_name, list(range(20)), with_vectors=True)
    back = np.array([p.vector for p in got], dtype=np.float64)
    # each printed value reads back to the same float32
    assert np.array_equal(back.astype(np.float32), vecs)


def test_cosine_vectors_normalised(client, collection_name):
    mk(client, collection_name, distance="Cosine")
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[3.0, 4.0, 0.0, 0.0]),
                                    models.PointStruct(id=2, vector=[1.0, 1.0, 1.0, 1.0])], wait=True)
    got = client.retrieve(collection_name, [1, 2], with_vectors=True)
    assert got[0].vector == pytest.approx([0.6, 0.8, 0.0, 0.0], rel=1e-6)
    assert got[1].vector == pytest.approx([0.5] * 4, rel=1e-6)
    assert np.linalg.norm(got[0].vector) == pytest.approx(1.0, rel=1e-6)


def test_dot_euclid_manhattan_stored_as_given(client, collection_name):
    mk(client, collection_name, named={"d": (3, "Dot"), "e": (3, "Euclid"), "m": (3, "Manhattan")})
    v = [3.0, -4.0, 12.5]
    client.upsert(collection_name, [models.PointStruct(id=1, vector={"d": v, "e": v, "m": v})], wait=True)
    (p,) = client.retrieve(collection_name, [1], with_vectors=True)
    assert p.vector == {"d": v, "e": v, "m": v}


PAYLOADS = [
    {"nested": {"a": {"b": {"c": [1, {"d": None}, [2, 3]]}}}, "empty_obj": {}, "empty_arr": []},
    {"big": 2**63 - 1, "small": -(2**63), "u64": 2**64 - 1, "zero": 0, "neg": -1},
    {"f": -3.3817118747907386, "g": 0.1, "h": 1e300, "i": -0.0, "j": 5e-324, "k": 1.7976931348623157e308},
    {"s": "héllo wörld ✓ 日本語 🎉", "esc": "quote\" backslash\\ nl\n tab\t nul\u0000 ctl\u001f", "": "empty key"},
    {"bools": [True, False], "null": None, "mixed": [1, "two", 3.5, None, {"x": [True]}]},
    {"deep": [[[[[[[[[[1]]]]]]]]]]},
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=["nested", "ints", "floats", "strings", "mixed", "deep"])
def test_payload_stored_exactly(client, http, collection_name, payload):
    mk(client, collection_name, size=2)
    body = json.dumps({"points": [{"id": 1, "vector": [1, 2], "payload": payload}]})
    r = http.put(f"/collections/{collection_name}/points?wait=true", content=body,
                 headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    r = http.post(f"/collections/{collection_name}/points", json={"ids": [1], "with_payload": True})
    back = r.json()["result"][0]["payload"]
    assert back == payload
    # types survive too (1 is not 1.0, -0.0 keeps its sign)
    assert json.dumps(back, sort_keys=True) == json.dumps(payload, sort_keys=True)
    if "f" in payload:
        assert "-3.3817118747907386" in r.text
    # and through the client (over gRPC an integer beyond int64 can only travel as a double;
    # strings holding NUL travel whole both ways)
    assert client.retrieve(collection_name, [1])[0].payload == wire_payload(payload)


def test_payload_survives_scroll_and_query(client, collection_name):
    mk(client, collection_name, size=2)
    # over gRPC the client cannot send an integer beyond int64 (qdrant.Value's integer is int64):
    # it sends what the wire can carry, a double, and that must come back exactly
    payload = wire_payload(PAYLOADS[1] | PAYLOADS[2])
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[1.0, 2.0], payload=payload)], wait=True)
    assert client.scroll(collection_name)[0][0].payload == payload
    res = client.query_points(collection_name, query=[1.0, 1.0], with_payload=True)
    assert res.points[0].payload == payload


def test_large_upsert(client, collection_name):
    mk(client, collection_name, size=16, distance="Cosine")
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(5000, 16)).astype(np.float32)
    client.upsert(collection_name, models.Batch(ids=list(range(5000)), vectors=vecs.tolist(),
                                                payloads=[{"i": i} for i in range(5000)]), wait=True)
    assert client.count(collection_name).count == 5000
    got = client.retrieve(collection_name, [4999, 0, 2500], with_vectors=True)
    for p in got:
        assert p.payload == {"i": p.id}
        v = vecs[p.id] / np.linalg.norm(vecs[p.id])
        assert np.allclose(p.vector, v, rtol=1e-5, atol=1e-6)


# ---- misc ------------------------------------------------------------------------------------------------


def test_empty_vector_name_means_default(client, http, collection_name):
    mk(client, collection_name, size=2, distance="Dot")
    r = http.put(f"/collections/{collection_name}/points?wait=true",
                 json={"points": [{"id": 1, "vector": {"": [1.0, 2.0]}}]})
    assert r.status_code == 200, r.text
    (p,) = client.retrieve(collection_name, [1], with_vectors=True)
    assert p.vector == [1.0, 2.0]
    r = http.post(f"/collections/{collection_name}/points/query", json={"query": [1, 0], "using": ""})
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["result"]["points"]] == [1]


def test_with_vector_alias(client, http, collection_name):
    mk(client, collection_name, size=2, distance="Dot")
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[1.0, 2.0])], wait=True)
    for key in ("with_vector", "with_vectors"):
        r = http.post(f"/collections/{collection_name}/points", json={"ids": [1], key: True})
        assert r.status_code == 200, r.text
        assert r.json()["result"][0]["vector"] == [1.0, 2.0]


def test_explicit_nulls_are_absent(client, http, collection_name):
    mk(client, collection_name, size=2, distance="Dot")
    client.upsert(collection_name, [models.PointStruct(id=i, vector=[1.0, float(i)]) for i in range(5)], wait=True)
    r = http.post(f"/collections/{collection_name}/points/scroll",
                  json={"filter": None, "offset": None, "limit": None, "with_payload": None, "order_by": None})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["result"]["points"]] == [0, 1, 2, 3, 4]
    r = http.post(f"/collections/{collection_name}/points/query",
                  json={"query": [0, 1], "filter": None, "offset": None, "score_threshold": None, "using": None,
                        "params": None, "with_vector": None, "limit": 2})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["result"]["points"]] == [4, 3]
    r = http.post(f"/collections/{collection_name}/points/count", json={"filter": None, "exact": None})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["count"] == 5


def test_concurrent_writers(server, collection_name):
    import threading

    c0 = server.client()
    mk(c0, collection_name, size=4, distance="Euclid")
    errors = []

    def writer(t):
        c = server.client()
        try:
            for k in range(20):
                base = t * 1000 + k * 10
                c.upsert(collection_name, models.Batch(
                    ids=list(range(base, base + 10)),
                    vectors=[[float(t), float(k), float(j), 1.0] for j in range(10)],
                    payloads=[{"t": t, "k": k, "j": j} for j in range(10)],
                ), wait=(k % 2 == 0))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors[:3]
    # a final wait=true write makes every earlier one visible
    c0.upsert(collection_name, [models.PointStruct(id=999999, vector=[0.0] * 4)], wait=True)
    assert c0.count(collection_name).count == 6 * 20 * 10 + 1
    got = c0.retrieve(collection_name, [3 * 1000 + 7 * 10 + 4], with_vectors=True)
    assert got[0].payload == {"t": 3, "k": 7, "j": 4}
    assert got[0].vector == [3.0, 7.0, 4.0, 1.0]
    c0.close()


def test_gzip_request_body(http, client, collection_name):
    import gzip

    mk(client, collection_name, size=2, distance="Dot")
    body = gzip.compress(json.dumps({"points": [{"id": 7, "vector": [1, 2], "payload": {"z": "gz"}}]}).encode())
    r = http.put(f"/collections/{collection_name}/points?wait=true", content=body,
                 headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert client.retrieve(collection_name, [7])[0].payload == {"z": "gz"}


def test_delete_then_reinsert(client, collection_name):
    mk(client, collection_name, size=2)
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[1.0, 1.0], payload={"v": 1})], wait=True)
    client.delete(collection_name, [1], wait=True)
    assert client.retrieve(collection_name, [1]) == []
    assert client.count(collection_name).count == 0
    client.upsert(collection_name, [models.PointStruct(id=1, vector=[2.0, 2.0], payload={"v": 2})], wait=True)
    (p,) = client.retrieve(collection_name, [1], with_vectors=True)
    assert p.payload == {"v": 2} and p.vector == [2.0, 2.0]
    res = client.query_points(collection_name, query=[1.0, 0.0], limit=10)
    assert [x.id for x in res.points] == [1]
