/*
 * test_rest_decode.c - the REST decoders (api/rest/decode.c) and the
 * response pieces of encode.c that do not need a collection.
 *
 * Each test parses a literal body, runs one decoder and checks either the
 * decoded structs or the error kind and Qdrant's message.  Covered: upsert
 * in list and column form, named vectors, every accepted UUID spelling,
 * explicit nulls, point ID and vector type errors, update operations and
 * the batch, query / legacy search / scroll / retrieve / count, collection
 * create and update, with_payload selectors and their projection, and the
 * error envelope.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/decode.h"
#include "api/rest/encode.h"
#include "index/filter.h"

/* ---- helpers ------------------------------------------------------------- */

static qv_arena A;
static qv_err E;

static int setup(void **state) {
    qv_arena_init(&A);
    qv_err_clear(&E);
    return 0;
}

static int teardown(void **state) {
    qv_arena_free(&A);
    return 0;
}

static jv parse(const char *text) {
    jv v;
    qv_err e;
    qv_rc rc = jv_parse(&A, text, strlen(text), &v, &e);
    if (rc) fail_msg("test JSON does not parse: %s (%s)", text, e.msg);
    return v;
}

static void expect_err(qv_rc rc, qv_rc kind, const char *substr) {
    if (rc != kind) fail_msg("expected kind %d, got %d (%s)", kind, rc, E.msg);
    if (substr && !strstr(E.msg, substr)) fail_msg("message \"%s\" lacks \"%s\"", E.msg, substr);
}

static qv_rc upsert(const char *text, qv_update_op *op) {
    jv b = parse(text);
    return qv_rest_decode_upsert(&A, &b, op, &E);
}

static qv_rc query(const char *text, qv_rest_query *q) {
    jv b = parse(text);
    return qv_rest_decode_query(&A, &b, q, &E);
}

/* ---- upsert -------------------------------------------------------------- */

static void test_upsert_list(void **state) {
    qv_update_op op;
    assert_int_equal(upsert("{\"points\":[{\"id\":1,\"vector\":[0.5,1,-2e-3],"
                            "\"payload\":{\"a\":1,\"b\":\"x\"}},"
                            "{\"id\":18446744073709551615,\"vector\":[1,2,3]}]}",
                            &op),
                     QV_OK);
    assert_int_equal(op.kind, QV_OP_UPSERT);
    assert_int_equal(op.npoints, 2);
    assert_int_equal(op.points[0].id.lo, 1);
    assert_int_equal(op.points[0].id.is_uuid, 0);
    assert_int_equal(op.points[0].nvec, 1);
    assert_string_equal(op.points[0].vecs[0].name, "");
    assert_int_equal(op.points[0].vecs[0].dim, 3);
    assert_true(op.points[0].vecs[0].data[0] == 0.5f);
    assert_true(op.points[0].vecs[0].data[2] == -2e-3f);
    assert_true(op.points[0].has_payload);
    assert_int_equal(op.points[0].payload.type, JV_OBJ);
    assert_int_equal(jv_get(&op.points[0].payload, "a")->type, JV_INT); /* resolved */
    assert_true(op.points[1].id.lo == UINT64_MAX);                      /* exact u64 */
    assert_false(op.points[1].has_payload);
}

static void test_upsert_batch(void **state) {
    qv_update_op op;
    assert_int_equal(upsert("{\"batch\":{\"ids\":[1,2],\"vectors\":[[1,2],[3,4]],"
                            "\"payloads\":[{\"k\":1},null]}}",
                            &op),
                     QV_OK);
    assert_int_equal(op.npoints, 2);
    assert_int_equal(op.points[1].id.lo, 2);
    assert_true(op.points[1].vecs[0].data[1] == 4.0f);
    assert_true(op.points[0].has_payload);
    assert_false(op.points[1].has_payload);
    /* named columns */
    assert_int_equal(upsert("{\"batch\":{\"ids\":[5,6],\"vectors\":{\"img\":[[1],[2]],"
                            "\"txt\":[[3,3],[4,4]]}}}",
                            &op),
                     QV_OK);
    assert_int_equal(op.points[1].nvec, 2);
    assert_string_equal(op.points[1].vecs[0].name, "img");
    assert_string_equal(op.points[1].vecs[1].name, "txt");
    assert_true(op.points[1].vecs[1].data[0] == 4.0f);
    /* mismatched lengths */
    expect_err(upsert("{\"batch\":{\"ids\":[1,2],\"vectors\":[[1]]}}", &op), QV_EBADINPUT,
               "2 ids but 1 vectors");
    expect_err(upsert("{\"batch\":{\"ids\":[1],\"vectors\":[[1]],\"payloads\":[]}}", &op),
               QV_EBADINPUT, "payloads");
}

static void test_upsert_named(void **state) {
    qv_update_op op;
    assert_int_equal(upsert("{\"points\":[{\"id\":3,\"vector\":{\"a\":[1,2],\"b\":[3]}}]}", &op),
                     QV_OK);
    assert_int_equal(op.points[0].nvec, 2);
    assert_string_equal(op.points[0].vecs[1].name, "b");
    assert_int_equal(op.points[0].vecs[1].dim, 1);
    expect_err(
        upsert("{\"points\":[{\"id\":3,\"vector\":{\"s\":{\"indices\":[1],\"values\":[1]}}}]}",
               &op),
        QV_EUNIMPLEMENTED, "sparse");
    expect_err(upsert("{\"points\":[{\"id\":3,\"vector\":[[1,2],[3,4]]}]}", &op), QV_EUNIMPLEMENTED,
               "multi-vectors");
}

static void test_uuid_forms(void **state) {
    const char *forms[] = {
        "\"550e8400-e29b-41d4-a716-446655440000\"",
        "\"550E8400-E29B-41D4-A716-446655440000\"",
        "\"550e8400e29b41d4a716446655440000\"",
        "\"{550e8400-e29b-41d4-a716-446655440000}\"",
        "\"urn:uuid:550e8400-e29b-41d4-a716-446655440000\"",
    };
    qv_pointid first = {0};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"points\":[{\"id\":%s,\"vector\":[1]}]}", forms[i]);
        qv_update_op op;
        assert_int_equal(upsert(body, &op), QV_OK);
        assert_int_equal(op.points[0].id.is_uuid, 1);
        if (i == 0) first = op.points[0].id;
        assert_true(qv_pointid_eq(&first, &op.points[0].id));
    }
    jw w;
    jw_init(&w);
    qv_rest_encode_pointid(&w, &first);
    size_t len;
    char *s = jw_take(&w, &len);
    assert_string_equal(s, "\"550e8400-e29b-41d4-a716-446655440000\"");
    free(s);
    jw_free(&w);
}

static void test_bad_ids(void **state) {
    qv_update_op op;
    expect_err(upsert("{\"points\":[{\"id\":\"123\",\"vector\":[1]}]}", &op), QV_EFORMAT,
               "not a valid point ID");
    expect_err(upsert("{\"points\":[{\"id\":-1,\"vector\":[1]}]}", &op), QV_EFORMAT,
               "not a valid point ID");
    expect_err(upsert("{\"points\":[{\"id\":1.5,\"vector\":[1]}]}", &op), QV_EFORMAT,
               "not a valid point ID");
    expect_err(upsert("{\"points\":[{\"id\":18446744073709551616,\"vector\":[1]}]}", &op),
               QV_EFORMAT, "not a valid point ID");
    expect_err(upsert("{\"points\":[{\"id\":true,\"vector\":[1]}]}", &op), QV_EFORMAT,
               "not a valid point ID");
    qv_pointid id;
    assert_int_equal(qv_rest_decode_pointid_str("42", &id, &E), QV_OK);
    assert_int_equal(id.lo, 42);
    assert_int_equal(qv_rest_decode_pointid_str("550e8400e29b41d4a716446655440000", &id, &E),
                     QV_OK);
    assert_int_equal(id.is_uuid, 1);
    expect_err(qv_rest_decode_pointid_str("abc", &id, &E), QV_EBADINPUT, "abc");
    expect_err(qv_rest_decode_pointid_str("99999999999999999999", &id, &E), QV_EBADINPUT, NULL);
}

static void test_upsert_errors(void **state) {
    qv_update_op op;
    expect_err(upsert("{\"points\":5}", &op), QV_EFORMAT,
               "invalid type: integer `5`, expected a sequence");
    expect_err(upsert("{\"points\":[{\"id\":1,\"vector\":[1,\"a\"]}]}", &op), QV_EFORMAT,
               "invalid type: string \"a\", expected f32");
    expect_err(upsert("{\"points\":[{\"id\":1,\"vector\":[1e39]}]}", &op), QV_EFORMAT, "finite");
    expect_err(upsert("{\"points\":[{\"id\":1}]}", &op), QV_EFORMAT, "missing field `vector`");
    expect_err(upsert("{\"points\":[{\"vector\":[1]}]}", &op), QV_EFORMAT, "missing field `id`");
    expect_err(upsert("{\"points\":[{\"id\":1,\"vector\":[1],\"payload\":[1]}]}", &op), QV_EFORMAT,
               "expected a map");
    expect_err(upsert("{}", &op), QV_EFORMAT, "PointInsertOperations");
    expect_err(upsert("[]", &op), QV_EFORMAT, "invalid type: sequence");
    expect_err(upsert("{\"points\":[],\"shard_key\":\"a\"}", &op), QV_EUNIMPLEMENTED, "shard_key");
    expect_err(upsert("{\"points\":[],\"update_filter\":{\"must\":[]}}", &op), QV_EUNIMPLEMENTED,
               "update_filter");
    /* malformed JSON is the parser's message, passed through */
    jv v;
    assert_int_equal(jv_parse(&A, "{\"points\":", 10, &v, &E), QV_EFORMAT);
}

static void test_explicit_nulls(void **state) {
    qv_update_op op;
    assert_int_equal(upsert("{\"points\":[{\"id\":1,\"vector\":[1],\"payload\":null}],"
                            "\"shard_key\":null,\"update_filter\":null}",
                            &op),
                     QV_OK);
    assert_false(op.points[0].has_payload);
    qv_rest_query q;
    assert_int_equal(query("{\"query\":null,\"limit\":null,\"filter\":null,\"with_payload\":null,"
                           "\"prefetch\":null,\"using\":null,\"score_threshold\":null}",
                           &q),
                     QV_OK);
    assert_int_equal(q.q.kind, QV_QUERY_NONE);
    assert_int_equal(q.q.limit, 10);
    assert_null(q.q.filter);
    assert_false(q.q.has_threshold);
}

/* ---- other writes -------------------------------------------------------- */

static void test_selectors_and_payload_ops(void **state) {
    qv_update_op op;
    jv b = parse("{\"points\":[1,\"550e8400-e29b-41d4-a716-446655440000\"]}");
    assert_int_equal(qv_rest_decode_delete(&A, &b, &op, &E), QV_OK);
    assert_int_equal(op.kind, QV_OP_DELETE);
    assert_int_equal(op.nids, 2);
    assert_int_equal(op.ids[1].is_uuid, 1);
    b = parse("{\"filter\":{\"must\":[{\"key\":\"a\",\"match\":{\"value\":1}}]}}");
    assert_int_equal(qv_rest_decode_delete(&A, &b, &op, &E), QV_OK);
    assert_non_null(op.filter);
    b = parse("{}");
    expect_err(qv_rest_decode_delete(&A, &b, &op, &E), QV_EFORMAT, "point ids or filter");

    b = parse("{\"payload\":{\"x\":1},\"points\":[7],\"key\":\"a.b\"}");
    assert_int_equal(qv_rest_decode_set_payload(&A, &b, QV_OP_SET_PAYLOAD, &op, &E), QV_OK);
    assert_int_equal(op.kind, QV_OP_SET_PAYLOAD);
    assert_string_equal(op.key, "a.b");
    assert_int_equal(op.payload.type, JV_OBJ);
    b = parse("{\"points\":[7]}");
    expect_err(qv_rest_decode_set_payload(&A, &b, QV_OP_OVERWRITE_PAYLOAD, &op, &E), QV_EFORMAT,
               "missing field `payload`");

    b = parse("{\"keys\":[\"a\",\"b\"],\"points\":[1]}");
    assert_int_equal(qv_rest_decode_delete_payload(&A, &b, &op, &E), QV_OK);
    assert_int_equal(op.nnames, 2);
    assert_string_equal(op.names[1], "b");

    b = parse("{\"points\":[{\"id\":1,\"vector\":{\"v\":[1,2]}}]}");
    assert_int_equal(qv_rest_decode_update_vectors(&A, &b, &op, &E), QV_OK);
    assert_int_equal(op.kind, QV_OP_UPDATE_VECTORS);
    b = parse("{\"points\":[]}");
    expect_err(qv_rest_decode_update_vectors(&A, &b, &op, &E), QV_EVALIDATION, "points");

    b = parse("{\"points\":[1],\"vector\":[\"v\"]}");
    assert_int_equal(qv_rest_decode_delete_vectors(&A, &b, &op, &E), QV_OK);
    assert_int_equal(op.kind, QV_OP_DELETE_VECTORS);
    assert_string_equal(op.names[0], "v");
}

static void test_batch_ops(void **state) {
    jv b = parse("{\"operations\":["
                 "{\"upsert\":{\"points\":[{\"id\":1,\"vector\":[1]}]}},"
                 "{\"delete\":{\"points\":[2]}},"
                 "{\"set_payload\":{\"payload\":{\"a\":1},\"points\":[1]}},"
                 "{\"overwrite_payload\":{\"payload\":{\"a\":2},\"points\":[1]}},"
                 "{\"delete_payload\":{\"keys\":[\"a\"],\"points\":[1]}},"
                 "{\"clear_payload\":{\"points\":[1]}},"
                 "{\"update_vectors\":{\"points\":[{\"id\":1,\"vector\":[2]}]}},"
                 "{\"delete_vectors\":{\"points\":[1],\"vector\":[\"\"]}}]}");
    qv_update_op *ops;
    size_t n;
    assert_int_equal(qv_rest_decode_batch(&A, &b, &ops, &n, &E), QV_OK);
    assert_int_equal(n, 8);
    const uint32_t kinds[] = {
        QV_OP_UPSERT,         QV_OP_DELETE,        QV_OP_SET_PAYLOAD,    QV_OP_OVERWRITE_PAYLOAD,
        QV_OP_DELETE_PAYLOAD, QV_OP_CLEAR_PAYLOAD, QV_OP_UPDATE_VECTORS, QV_OP_DELETE_VECTORS};
    for (size_t i = 0; i < n; i++) assert_int_equal(ops[i].kind, kinds[i]);
    b = parse("{\"operations\":[{\"frobnicate\":{}}]}");
    expect_err(qv_rest_decode_batch(&A, &b, &ops, &n, &E), QV_EFORMAT, "UpdateOperation");
}

/* ---- reads --------------------------------------------------------------- */

static void test_query_forms(void **state) {
    qv_rest_query q;
    assert_int_equal(query("{\"query\":[1,2,3],\"limit\":5,\"offset\":2,\"using\":\"img\","
                           "\"score_threshold\":0.5,\"params\":{\"exact\":true}}",
                           &q),
                     QV_OK);
    assert_int_equal(q.q.kind, QV_QUERY_NEAREST);
    assert_int_equal(q.q.dim, 3);
    assert_int_equal(q.q.limit, 5);
    assert_int_equal(q.q.offset, 2);
    assert_string_equal(q.q.using, "img");
    assert_true(q.q.has_threshold && q.q.score_threshold == 0.5f);
    assert_true(q.q.exact);
    assert_int_equal(q.with_payload.mode, QV_REST_PAYLOAD_NONE); /* query default: off */
    assert_false(q.with_vector.all);

    assert_int_equal(query("{\"query\":{\"nearest\":[1,2]}}", &q), QV_OK);
    assert_int_equal(q.q.kind, QV_QUERY_NEAREST);
    assert_string_equal(q.q.using, "");
    assert_int_equal(query("{\"query\":42}", &q), QV_OK);
    assert_int_equal(q.q.kind, QV_QUERY_NEAREST_ID);
    assert_int_equal(q.q.id.lo, 42);
    assert_int_equal(
        query("{\"query\":{\"nearest\":\"550e8400-e29b-41d4-a716-446655440000\"}}", &q), QV_OK);
    assert_int_equal(q.q.kind, QV_QUERY_NEAREST_ID);
    assert_int_equal(q.q.id.is_uuid, 1);
    assert_int_equal(query("{}", &q), QV_OK);
    assert_int_equal(q.q.kind, QV_QUERY_NONE);
    assert_int_equal(query("{\"with_payload\":true,\"with_vectors\":[\"a\"]}", &q), QV_OK);
    assert_int_equal(q.with_payload.mode, QV_REST_PAYLOAD_ALL);
    assert_int_equal(q.with_vector.nnames, 1);

    expect_err(query("{\"limit\":0}", &q), QV_EVALIDATION,
               "limit: value 0 invalid, must be 1 or larger");
    expect_err(query("{\"query\":\"abc\"}", &q), QV_EFORMAT, "not a valid point ID");
    expect_err(query("{\"prefetch\":{\"query\":[1]}}", &q), QV_EUNIMPLEMENTED, "prefetch");
    expect_err(query("{\"lookup_from\":{\"collection\":\"x\"}}", &q), QV_EUNIMPLEMENTED,
               "lookup_from");
    expect_err(query("{\"query\":{\"recommend\":{\"positive\":[1]}}}", &q), QV_EUNIMPLEMENTED,
               "recommend");
    expect_err(query("{\"query\":{\"fusion\":\"rrf\"}}", &q), QV_EUNIMPLEMENTED, "fusion");
    expect_err(query("{\"query\":{\"indices\":[1],\"values\":[1]}}", &q), QV_EUNIMPLEMENTED,
               "sparse");
    expect_err(query("{\"limit\":-1}", &q), QV_EFORMAT, "invalid value: integer `-1`");
    expect_err(query("{\"limit\":\"5\"}", &q), QV_EFORMAT, "invalid type: string \"5\"");

    jv b = parse("{\"searches\":[{\"query\":[1]},{\"query\":7,\"limit\":3}]}");
    qv_rest_query *qs;
    size_t n;
    assert_int_equal(qv_rest_decode_query_batch(&A, &b, &qs, &n, &E), QV_OK);
    assert_int_equal(n, 2);
    assert_int_equal(qs[1].q.kind, QV_QUERY_NEAREST_ID);
    assert_int_equal(qs[1].q.limit, 3);
}

static void test_legacy_search(void **state) {
    qv_rest_query q;
    jv b = parse("{\"vector\":{\"name\":\"img\",\"vector\":[1,2]},\"limit\":3,"
                 "\"with_payload\":[\"a\"]}");
    assert_int_equal(qv_rest_decode_search(&A, &b, &q, &E), QV_OK);
    assert_string_equal(q.q.using, "img");
    assert_int_equal(q.q.dim, 2);
    assert_int_equal(q.with_payload.mode, QV_REST_PAYLOAD_INCLUDE);
    b = parse("{\"vector\":[1,2]}");
    expect_err(qv_rest_decode_search(&A, &b, &q, &E), QV_EFORMAT, "missing field `limit`");
    b = parse("{\"limit\":1}");
    expect_err(qv_rest_decode_search(&A, &b, &q, &E), QV_EFORMAT, "missing field `vector`");
    b = parse("{\"searches\":[{\"vector\":[1],\"limit\":1}]}");
    qv_rest_query *qs;
    size_t n;
    assert_int_equal(qv_rest_decode_search_batch(&A, &b, &qs, &n, &E), QV_OK);
    assert_int_equal(n, 1);
}

static void test_scroll_retrieve_count(void **state) {
    qv_rest_scroll s;
    jv b = parse("{}");
    assert_int_equal(qv_rest_decode_scroll(&A, &b, &s, &E), QV_OK);
    assert_int_equal(s.limit, 10);
    assert_int_equal(s.with_payload.mode, QV_REST_PAYLOAD_ALL); /* scroll default: on */
    assert_false(s.with_vector.all);
    assert_false(s.has_offset);
    b = parse("{\"offset\":\"550e8400-e29b-41d4-a716-446655440000\",\"limit\":2,"
              "\"with_payload\":{\"exclude\":[\"a\"]},\"with_vector\":true}");
    assert_int_equal(qv_rest_decode_scroll(&A, &b, &s, &E), QV_OK);
    assert_true(s.has_offset && s.offset.is_uuid);
    assert_int_equal(s.with_payload.mode, QV_REST_PAYLOAD_EXCLUDE);
    assert_true(s.with_vector.all);
    b = parse("{\"order_by\":\"a\"}");
    assert_int_equal(qv_rest_decode_scroll(&A, &b, &s, &E), QV_OK);
    assert_true(s.has_order_by && !s.order_by.desc && !s.order_by.has_start);
    assert_string_equal(s.order_by.key->text, "a");
    b = parse("{\"order_by\":{\"key\":\"b\",\"direction\":\"desc\",\"start_from\":2.5}}");
    assert_int_equal(qv_rest_decode_scroll(&A, &b, &s, &E), QV_OK);
    assert_true(s.order_by.desc && s.order_by.has_start && s.order_by.start.is_float);
    b = parse("{\"order_by\":{\"key\":\"b\",\"start_from\":\"1970-01-01T00:00:01Z\"}}");
    assert_int_equal(qv_rest_decode_scroll(&A, &b, &s, &E), QV_OK);
    assert_true(!s.order_by.start.is_float && s.order_by.start.i == 1000000);
    b = parse("{\"order_by\":{\"key\":\"b\",\"direction\":\"up\"}}");
    expect_err(qv_rest_decode_scroll(&A, &b, &s, &E), QV_EFORMAT,
               "data did not match any variant of untagged enum OrderByInterface");

    qv_rest_retrieve r;
    b = parse("{\"ids\":[1,2,3]}");
    assert_int_equal(qv_rest_decode_retrieve(&A, &b, &r, &E), QV_OK);
    assert_int_equal(r.nids, 3);
    assert_int_equal(r.with_payload.mode, QV_REST_PAYLOAD_ALL);
    b = parse("{}");
    expect_err(qv_rest_decode_retrieve(&A, &b, &r, &E), QV_EFORMAT, "missing field `ids`");

    qv_rest_count c;
    b = parse("{}");
    assert_int_equal(qv_rest_decode_count(&A, &b, &c, &E), QV_OK);
    assert_true(c.exact);
    b = parse("{\"exact\":false}");
    assert_int_equal(qv_rest_decode_count(&A, &b, &c, &E), QV_OK);
    assert_false(c.exact);
}

/* ---- collections --------------------------------------------------------- */

static qv_rc create(const char *text, qv_collection_config *cfg) {
    jv b = parse(text);
    return qv_rest_decode_create_collection(&b, cfg, &E);
}

static void test_create_collection(void **state) {
    qv_collection_config cfg;
    assert_int_equal(create("{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                            "\"hnsw_config\":{\"m\":32},\"metadata\":{\"k\":1},"
                            "\"on_disk_payload\":false,\"shard_number\":null}",
                            &cfg),
                     QV_OK);
    assert_false(cfg.named_form);
    assert_int_equal(cfg.nvectors, 1);
    assert_int_equal(cfg.vectors[0].size, 4);
    assert_int_equal(cfg.vectors[0].distance, QV_DIST_DOT);
    assert_int_equal(cfg.hnsw.m, 32);
    assert_int_equal(cfg.hnsw.ef_construct, 100); /* default kept */
    assert_int_equal(cfg.metadata.type, JV_OBJ);
    assert_false(cfg.on_disk_payload);
    assert_int_equal(cfg.shard_number, 1);
    qv_collection_config_free(&cfg);

    assert_int_equal(create("{\"vectors\":{\"txt\":{\"size\":2,\"distance\":\"Cosine\"},"
                            "\"img\":{\"size\":3,\"distance\":\"Euclid\",\"on_disk\":true}}}",
                            &cfg),
                     QV_OK);
    assert_true(cfg.named_form);
    assert_int_equal(cfg.nvectors, 2);
    assert_string_equal(cfg.vectors[0].name, "img"); /* sorted */
    assert_true(cfg.vectors[0].on_disk.has && cfg.vectors[0].on_disk.v);
    qv_collection_config_free(&cfg);

    assert_int_equal(create("{}", &cfg), QV_OK);
    assert_true(cfg.named_form);
    assert_int_equal(cfg.nvectors, 0);
    qv_collection_config_free(&cfg);

    expect_err(create("{\"vectors\":{\"size\":0,\"distance\":\"Dot\"}}", &cfg), QV_EVALIDATION,
               "vectors.size: value 0 invalid, must be from 1 to 65536");
    expect_err(create("{\"vectors\":{\"size\":65537,\"distance\":\"Dot\"}}", &cfg), QV_EVALIDATION,
               "value 65537 invalid");
    expect_err(create("{\"vectors\":{\"a\":{\"size\":0,\"distance\":\"Dot\"}}}", &cfg),
               QV_EVALIDATION, "vectors.a.size");
    expect_err(create("{\"vectors\":{\"size\":4,\"distance\":\"cosine\"}}", &cfg), QV_EFORMAT,
               "unknown variant `cosine`");
    expect_err(create("{\"vectors\":{\"size\":4}}", &cfg), QV_EFORMAT, "missing field `distance`");
    expect_err(create("{\"vectors\":{\"size\":\"4\",\"distance\":\"Dot\"}}", &cfg), QV_EFORMAT,
               "invalid type");
    expect_err(create("{\"hnsw_config\":{\"ef_construct\":2}}", &cfg), QV_EVALIDATION,
               "hnsw_config.ef_construct");
    expect_err(create("{\"shard_number\":0}", &cfg), QV_EVALIDATION, "shard_number");
    expect_err(create("{\"optimizers_config\":{\"deleted_threshold\":2}}", &cfg), QV_EVALIDATION,
               "deleted_threshold");
    assert_int_equal(
        create("{\"vectors\":{\"size\":4,\"distance\":\"Dot\",\"datatype\":\"uint8\"}}", &cfg),
        QV_OK);
    assert_int_equal(cfg.vectors[0].datatype, QV_DT_UINT8);
    qv_collection_config_free(&cfg);
}

static void test_update_collection(void **state) {
    qv_collection_config cur, out;
    assert_int_equal(create("{\"vectors\":{\"v\":{\"size\":2,\"distance\":\"Dot\"}},"
                            "\"metadata\":{\"a\":1,\"b\":2}}",
                            &cur),
                     QV_OK);
    jv b = parse("{\"optimizers_config\":{\"indexing_threshold\":0},"
                 "\"params\":{\"replication_factor\":2},"
                 "\"vectors\":{\"v\":{\"on_disk\":true}},"
                 "\"metadata\":{\"a\":null,\"c\":3}}");
    assert_int_equal(qv_rest_decode_update_collection(&b, &cur, &out, &E), QV_OK);
    assert_true(out.optimizer.indexing_threshold.has);
    assert_int_equal(out.optimizer.indexing_threshold.v, 0);
    assert_int_equal(out.replication_factor, 2);
    assert_true(out.vectors[0].on_disk.v);
    assert_null(jv_get(&out.metadata, "a"));
    assert_non_null(jv_get(&out.metadata, "b"));
    assert_non_null(jv_get(&out.metadata, "c"));
    qv_collection_config_free(&out);
    b = parse("{\"vectors\":{\"zz\":{\"on_disk\":true}}}");
    expect_err(qv_rest_decode_update_collection(&b, &cur, &out, &E), QV_EBADINPUT,
               "Not existing vector name error: zz");
    qv_collection_config_free(&cur);
}

/* ---- encoding ------------------------------------------------------------ */

static char *payload_with(const char *sel_json, const char *payload_json) {
    jv sel_body = parse(sel_json), payload = parse(payload_json);
    qv_rest_scroll s;
    if (qv_rest_decode_scroll(&A, &sel_body, &s, &E)) fail_msg("selector: %s", E.msg);
    qv_rest_point_fmt f;
    if (qv_rest_point_fmt_init(&f, NULL, &s.with_payload, &s.with_vector, &A, &E))
        fail_msg("fmt: %s", E.msg);
    jw w;
    jw_init(&w);
    qv_rest_encode_payload(&w, &f, &payload);
    size_t len;
    char *out = jw_take(&w, &len);
    jw_free(&w);
    return out;
}

static void test_payload_selectors(void **state) {
    const char *p = "{\"a\":{\"b\":1,\"c\":2},\"d\":3,\"e\":[{\"x\":1,\"y\":2},{\"x\":3}]}";
    struct {
        const char *sel, *want;
    } cases[] = {
        {"{\"with_payload\":true}", NULL},
        {"{\"with_payload\":false}", "null"},
        {"{\"with_payload\":[\"d\"]}", "{\"d\":3}"},
        {"{\"with_payload\":[\"a.b\",\"d\"]}", "{\"a\":{\"b\":1},\"d\":3}"},
        {"{\"with_payload\":[\"a.b\",\"a.c\"]}", "{\"a\":{\"b\":1,\"c\":2}}"},
        {"{\"with_payload\":{\"include\":[\"e[].x\"]}}", "{\"e\":[{\"x\":1},{\"x\":3}]}"},
        {"{\"with_payload\":{\"include\":[\"zz\"]}}", "{}"},
        {"{\"with_payload\":[]}", "{}"},
        /* Qdrant keeps a parent whose path is a prefix of a pattern */
        {"{\"with_payload\":[\"a.zz\"]}", "{\"a\":{}}"},
        {"{\"with_payload\":[\"d.x\"]}", "{\"d\":3}"},
        {"{\"with_payload\":[\"e[].zz\"]}", "{\"e\":[{},{}]}"},
        {"{\"with_payload\":{\"exclude\":[\"e[]\"]}}",
         "{\"a\":{\"b\":1,\"c\":2},\"d\":3,\"e\":[]}"},
        {"{\"with_payload\":{\"exclude\":[\"a\",\"e\"]}}", "{\"d\":3}"},
        {"{\"with_payload\":{\"exclude\":[\"a.b\",\"e[].y\"]}}",
         "{\"a\":{\"c\":2},\"d\":3,\"e\":[{\"x\":1},{\"x\":3}]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = payload_with(cases[i].sel, p);
        const char *want = cases[i].want ? cases[i].want : p;
        if (strcmp(got, want) != 0) fail_msg("%s: got %s want %s", cases[i].sel, got, want);
        free(got);
    }
}

static void test_error_envelope(void **state) {
    jw w;
    jw_init(&w);
    qv_rest_encode_error(&w, QV_EVALIDATION, "limit: value 0 invalid, must be 1 or larger", 0.5);
    size_t len;
    char *s = jw_take(&w, &len);
    assert_string_equal(s,
                        "{\"status\":{\"error\":\"Validation error in JSON body: [limit: value 0 "
                        "invalid, must be 1 or larger]\"},\"time\":0.5}");
    free(s);
    jw_free(&w);
    assert_int_equal(qv_rest_err_status(QV_EVALIDATION), 422);
    assert_int_equal(qv_rest_err_status(QV_EEXISTS), 409);
    assert_int_equal(qv_rest_err_status(QV_ENOTFOUND), 404);
    assert_int_equal(qv_rest_err_status(QV_EUNIMPLEMENTED), 501);
    assert_int_equal(qv_rest_err_status(QV_ETOOLARGE), 413);
    assert_string_equal(qv_rest_err_prefix(QV_EEXISTS), "Wrong input: ");
    assert_string_equal(qv_rest_err_prefix(QV_EFORMAT), "Format error in JSON body: ");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upsert_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uuid_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_nulls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selectors_and_payload_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scroll_retrieve_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_collection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_collection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_selectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_envelope, setup, teardown),
    };
    return cmocka_run_group_tests_name("rest_decode", tests, NULL, NULL);
}
