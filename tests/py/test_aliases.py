"""Collection aliases: changes through the official client (REST or gRPC, as the suite runs),
resolution wherever Qdrant resolves a collection name, Qdrant's errors (raw HTTP for the exact
shapes), all-or-nothing batches, and durability across restart and kill -9."""

import os
import uuid

import httpx
import pytest
from qdrant_client import models

from quiver_harness import assert_error_shape, client_error, prefer_grpc

DIM = 4


def uniq(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def make_collection(client, name, n=3):
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance="Dot"))
    client.upsert(name, wait=True, points=[
        models.PointStruct(id=i, vector=[float(i), 1.0, 0.0, 0.5], payload={"i": i, "name": f"p{i}"})
        for i in range(1, n + 1)
    ])


def create_alias(collection, alias):
    return models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection, alias_name=alias))


def delete_alias(alias):
    return models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))


def rename_alias(old, new):
    return models.RenameAliasOperation(rename_alias=models.RenameAlias(old_alias_name=old, new_alias_name=new))


def alias_pairs(resp):
    return sorted((a.alias_name, a.collection_name) for a in resp.aliases)


@pytest.fixture
def two_collections(client):
    a, b = uniq("alias_src"), uniq("alias_dst")
    make_collection(client, a, 3)
    make_collection(client, b, 5)
    made = []
    yield a, b, made
    for alias in made:
        try:
            client.update_collection_aliases(change_aliases_operations=[delete_alias(alias)])
        except Exception:  # noqa: BLE001
            pass
    for name in (a, b):
        client.delete_collection(name)


def test_create_list_and_resolve(client, http, two_collections):
    a, b, made = two_collections
    alias = uniq("al")
    made.append(alias)
    assert client.update_collection_aliases(change_aliases_operations=[create_alias(a, alias)]) is True
    assert (alias, a) in alias_pairs(client.get_aliases())
    assert alias_pairs(client.get_collection_aliases(a)) == [(alias, a)]
    assert alias_pairs(client.get_collection_aliases(b)) == []

    # the alias works wherever a collection name is used
    assert client.count(alias).count == 3
    assert client.collection_exists(alias) is True
    assert client.get_collection(alias).points_count == 3
    hits = client.query_points(alias, query=[1.0, 0.0, 0.0, 0.0], limit=2).points
    assert [h.id for h in hits] == [3, 2]
    recs, _ = client.scroll(alias, limit=10)
    assert sorted(r.id for r in recs) == [1, 2, 3]
    assert [r.id for r in client.retrieve(alias, ids=[2])] == [2]
    client.upsert(alias, wait=True, points=[models.PointStruct(id=9, vector=[0.0] * DIM)])
    assert client.count(a).count == 4  # the write reached the real collection

    # raw REST shape of both lists
    r = http.get("/aliases")
    assert r.status_code == 200
    assert {"alias_name": alias, "collection_name": a} in r.json()["result"]["aliases"]
    r = http.get(f"/collections/{a}/aliases")
    assert r.json()["result"] == {"aliases": [{"alias_name": alias, "collection_name": a}]}
    r = http.get(f"/collections/{alias}/exists")
    assert r.json()["result"] == {"exists": True}
    r = http.post(f"/collections/{alias}/points/search", json={"vector": [1, 0, 0, 0], "limit": 3})
    assert r.status_code == 200 and len(r.json()["result"]) == 3


def test_switch_rename_and_delete(client, two_collections):
    a, b, made = two_collections
    alias, renamed = uniq("prod"), uniq("renamed")
    made += [alias, renamed]
    client.update_collection_aliases(change_aliases_operations=[create_alias(a, alias)])
    assert client.count(alias).count == 3
    # the documented blue/green switch: delete + create in one request
    client.update_collection_aliases(change_aliases_operations=[delete_alias(alias), create_alias(b, alias)])
    assert client.count(alias).count == 5
    # creating an existing alias repoints it (Qdrant does the same)
    client.update_collection_aliases(change_aliases_operations=[create_alias(a, alias)])
    assert client.count(alias).count == 3
    client.update_collection_aliases(change_aliases_operations=[rename_alias(alias, renamed)])
    pairs = alias_pairs(client.get_aliases())
    assert (renamed, a) in pairs and all(p[0] != alias for p in pairs)
    assert client.count(renamed).count == 3
    assert client.collection_exists(alias) is False
    client.update_collection_aliases(change_aliases_operations=[delete_alias(renamed)])
    assert all(p[0] != renamed for p in alias_pairs(client.get_aliases()))
    with client_error(404, contains=f"Collection `{renamed}` doesn't exist!"):
        client.count(renamed)
    # deleting an alias that does not exist is no error ("Delete alias if exists")
    assert client.update_collection_aliases(change_aliases_operations=[delete_alias(uniq("ghost"))]) is True


def test_errors_rest_shapes(http, two_collections):
    a, b, made = two_collections
    alias = uniq("al")
    made.append(alias)
    missing = uniq("missing")

    def post(actions):
        return http.post("/collections/aliases", json={"actions": actions})

    r = post([{"create_alias": {"collection_name": missing, "alias_name": alias}}])
    msg = assert_error_shape(r, 404)
    assert msg == f"Not found: Collection `{missing}` doesn't exist!"

    r = post([{"create_alias": {"collection_name": a, "alias_name": b}}])
    msg = assert_error_shape(r, 409)
    assert msg == f"Wrong input: Collection `{b}` already exists!"

    r = post([{"rename_alias": {"old_alias_name": missing, "new_alias_name": alias}}])
    msg = assert_error_shape(r, 404)
    assert msg == f"Not found: Alias {missing} does not exists!"

    # an alias cannot be the target of another alias (Qdrant checks real collections)
    assert post([{"create_alias": {"collection_name": a, "alias_name": alias}}]).status_code == 200
    r = post([{"create_alias": {"collection_name": alias, "alias_name": uniq("x")}}])
    assert_error_shape(r, 404, contains=f"Collection `{alias}` doesn't exist!")

    # a collection cannot take an alias's name
    r = http.put(f"/collections/{alias}", json={"vectors": {"size": DIM, "distance": "Dot"}})
    msg = assert_error_shape(r, 400)
    assert msg == f"Wrong input: Can't create collection with name {alias}. Alias with the same name already exists"

    # alias names follow the collection name rules (they stand in for one in REST paths)
    r = post([{"create_alias": {"collection_name": a, "alias_name": "bad/name"}}])
    assert_error_shape(r, 422, contains="alias_name: collection name cannot contain")
    r = post([{"create_alias": {"collection_name": a, "alias_name": ""}}])
    msg = assert_error_shape(r, 422)
    assert msg == "Validation error in JSON body: [alias_name: length must be between 1 and 255 characters]"

    # malformed bodies
    assert_error_shape(http.post("/collections/aliases", json={}), 400, contains="missing field `actions`")
    r = post([{"bogus": {}}])
    assert_error_shape(r, 400, contains="data did not match any variant of untagged enum AliasOperations")
    r = post([{"create_alias": {"collection_name": a}}])
    assert_error_shape(r, 400, contains="untagged enum AliasOperations")

    # deleting through an alias name does not delete the collection (Qdrant takes real names)
    r = http.delete(f"/collections/{alias}")
    assert r.status_code == 200 and r.json()["result"] is False
    assert http.get(f"/collections/{a}/exists").json()["result"]["exists"] is True
    # the list of a missing collection's aliases is a 404, as for its info
    assert_error_shape(http.get(f"/collections/{missing}/aliases"), 404)


def test_errors_through_client(client, two_collections):
    a, b, made = two_collections
    missing = uniq("missing")
    with client_error(404, contains=f"Collection `{missing}` doesn't exist!"):
        client.update_collection_aliases(change_aliases_operations=[create_alias(missing, uniq("al"))])
    with client_error(409, contains=f"Collection `{b}` already exists!"):
        client.update_collection_aliases(change_aliases_operations=[create_alias(a, b)])
    with client_error(404, contains=f"Alias {missing} does not exists!"):
        client.update_collection_aliases(change_aliases_operations=[rename_alias(missing, uniq("n"))])


def test_batch_is_all_or_nothing(client, http, two_collections):
    a, b, made = two_collections
    keep, new = uniq("keep"), uniq("new")
    made += [keep, new]
    client.update_collection_aliases(change_aliases_operations=[create_alias(a, keep)])
    before = alias_pairs(client.get_aliases())
    # the third action fails: neither the first nor the second may remain
    with client_error(404, contains="does not exists!"):
        client.update_collection_aliases(change_aliases_operations=[
            create_alias(b, new),
            delete_alias(keep),
            rename_alias(uniq("ghost"), uniq("z")),
        ])
    assert alias_pairs(client.get_aliases()) == before
    assert client.count(keep).count == 3
    r = http.get(f"/collections/{new}/exists")
    assert r.json()["result"]["exists"] is False
    # later actions see earlier ones: create then rename in one request
    client.update_collection_aliases(change_aliases_operations=[create_alias(b, new), rename_alias(new, new + "2")])
    made.append(new + "2")
    assert client.count(new + "2").count == 5
    assert http.get(f"/collections/{new}/exists").json()["result"]["exists"] is False


def test_deleting_collection_drops_its_aliases(client, http):
    name, other = uniq("doomed"), uniq("other")
    make_collection(client, name)
    make_collection(client, other)
    try:
        al, keep = uniq("al"), uniq("keep")
        client.update_collection_aliases(change_aliases_operations=[create_alias(name, al), create_alias(other, keep)])
        assert client.delete_collection(name) is True
        pairs = alias_pairs(client.get_aliases())
        assert all(p[0] != al for p in pairs) and (keep, other) in pairs
        assert http.get(f"/collections/{al}/exists").json()["result"]["exists"] is False
        # the name is free again, for a collection or an alias
        make_collection(client, al)
        client.delete_collection(al)
        client.update_collection_aliases(change_aliases_operations=[delete_alias(keep)])
    finally:
        client.delete_collection(other)


def test_collection_info_and_index_through_alias(client, two_collections):
    a, b, made = two_collections
    alias = uniq("al")
    made.append(alias)
    client.update_collection_aliases(change_aliases_operations=[create_alias(a, alias)])
    client.create_payload_index(alias, "name", field_schema="keyword", wait=True)
    assert client.get_collection(a).payload_schema["name"].points == 3
    client.delete_payload_index(alias, "name", wait=True)
    assert client.get_collection(alias).payload_schema == {}


def test_timeout_param_accepted(http, two_collections):
    a, b, made = two_collections
    alias = uniq("al")
    made.append(alias)
    r = http.post("/collections/aliases?timeout=5",
                  json={"actions": [{"create_alias": {"collection_name": a, "alias_name": alias}}]})
    assert r.status_code == 200 and r.json()["result"] is True


# ---- durability -------------------------------------------------------------------


def test_aliases_survive_restart_and_kill(server_factory):
    srv = server_factory().start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        for name in ("c1", "c2"):
            assert h.put(f"/collections/{name}", json={"vectors": {"size": DIM, "distance": "Dot"}}).status_code == 200
        r = h.post("/collections/aliases", json={"actions": [
            {"create_alias": {"collection_name": "c1", "alias_name": "one"}},
            {"create_alias": {"collection_name": "c2", "alias_name": "two"}},
        ]})
        assert r.status_code == 200
    assert srv.stop() == 0
    srv.start()
    expected = [{"alias_name": "one", "collection_name": "c1"}, {"alias_name": "two", "collection_name": "c2"}]
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        assert h.get("/aliases").json()["result"]["aliases"] == expected
        # acknowledged, then SIGKILL: the change must survive
        r = h.post("/collections/aliases", json={"actions": [
            {"rename_alias": {"old_alias_name": "one", "new_alias_name": "uno"}},
        ]})
        assert r.status_code == 200
    srv.kill()
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        assert h.get("/aliases").json()["result"]["aliases"] == [
            {"alias_name": "two", "collection_name": "c2"}, {"alias_name": "uno", "collection_name": "c1"}]
        assert h.get("/collections/uno/exists").json()["result"]["exists"] is True
        # deleting a collection drops its aliases durably too
        assert h.delete("/collections/c2").json()["result"] is True
    srv.kill()
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        assert h.get("/aliases").json()["result"]["aliases"] == [{"alias_name": "uno", "collection_name": "c1"}]
    assert srv.stop() == 0


def test_corrupt_alias_file_refuses_to_start(server_factory):
    srv = server_factory().start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        h.put("/collections/c1", json={"vectors": {"size": DIM, "distance": "Dot"}})
        h.post("/collections/aliases", json={"actions": [{"create_alias": {"collection_name": "c1", "alias_name": "a"}}]})
    assert srv.stop() == 0
    path = os.path.join(srv.storage, "aliases.qva")
    data = bytearray(open(path, "rb").read())
    data[-2] ^= 0x20  # flip a bit of the body: the CRC no longer matches
    open(path, "wb").write(bytes(data))
    srv.spawn()
    assert srv.proc.wait(30) != 0
    assert "aliases.qva" in srv.stderr()


@pytest.mark.skipif(not prefer_grpc(), reason="gRPC-specific")
def test_grpc_action_without_variant(server):
    import grpc
    from qdrant_client.grpc import AliasOperations, ChangeAliases, CollectionsStub

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        with pytest.raises(grpc.RpcError) as ei:
            CollectionsStub(ch).UpdateAliases(ChangeAliases(actions=[AliasOperations()]), timeout=10)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
