/*
 * test_quant_config.c - the typed quantization configuration
 * (collection/quant_config) and its plumbing: JSON parse / echo, the
 * protobuf conversions (through a real pack / unpack), the REST decoders'
 * use of it (create, PATCH with "Disabled", per-vector diffs, datatype,
 * params.quantization) and the persisted form, including configs written
 * by versions that stored quantization_config as an unchecked object.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/decode.h"
#include "collection/collection.h"
#include "collection/quant_config.h"
#include "core/json.h"

#include "collections.pb-c.h"

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
    if (jv_parse(&A, text, strlen(text), &v, &e)) fail_msg("bad test JSON: %s (%s)", text, e.msg);
    return v;
}

/* qv_quant_config_write_json's output, in A. */
static const char *echo(const qv_quant_config *c) {
    jw w;
    jw_init(&w);
    qv_quant_config_write_json(&w, c);
    assert_false(w.oom);
    size_t n;
    char *s = jw_take(&w, &n);
    char *out = qv_arena_strndup(&A, s, n);
    free(s);
    return out;
}

static qv_rc qparse(const char *text, bool diff, qv_quant_config *c) {
    jv v = parse(text);
    return qv_quant_config_parse(&v, diff, "quantization_config", c, &E);
}

static void expect_err(qv_rc rc, qv_rc kind, const char *text) {
    if (rc != kind) fail_msg("expected kind %d, got %d (%s)", kind, rc, E.msg);
    if (text && strcmp(E.msg, text) != 0) fail_msg("message \"%s\" != \"%s\"", E.msg, text);
}

/* Parses text and checks it echoes as want (NULL = the input itself). */
static void round_trip(const char *text, const char *want) {
    qv_quant_config c;
    if (qparse(text, false, &c)) fail_msg("%s: %s", text, E.msg);
    assert_string_equal(echo(&c), want ? want : text);
    /* the echo parses back to the same struct, and so does its jv form */
    qv_quant_config again;
    assert_int_equal(qparse(echo(&c), false, &again), QV_OK);
    assert_true(qv_quant_config_equal(&c, &again));
    jv t;
    assert_true(qv_quant_config_to_jv(&A, &c, &t));
    assert_int_equal(qv_quant_config_parse(&t, false, "q", &again, &E), QV_OK);
    assert_true(qv_quant_config_equal(&c, &again));
}

/* ---- JSON ---------------------------------------------------------------- */

static void test_json_round_trips(void **state) {
    round_trip("{\"scalar\":{\"type\":\"int8\"}}", NULL);
    round_trip("{\"scalar\":{\"type\":\"int8\",\"quantile\":0.99,\"always_ram\":true}}", NULL);
    round_trip("{\"scalar\":{\"always_ram\":false,\"quantile\":1,\"type\":\"int8\",\"x\":[1]}}",
               "{\"scalar\":{\"type\":\"int8\",\"quantile\":1.0,\"always_ram\":false}}");
    round_trip("{\"scalar\":{\"type\":\"int8\",\"quantile\":null,\"memory\":\"pinned\"}}",
               "{\"scalar\":{\"type\":\"int8\",\"memory\":\"pinned\"}}");
    round_trip("{\"product\":{\"compression\":\"x4\"}}", NULL);
    round_trip("{\"product\":{\"compression\":\"x64\",\"always_ram\":true,\"memory\":\"cold\"}}",
               NULL);
    round_trip("{\"binary\":{}}", NULL);
    round_trip("{\"binary\":{\"always_ram\":true,\"memory\":\"cached\",\"encoding\":\"two_bits\","
               "\"query_encoding\":\"scalar4bits\"}}",
               NULL);
    round_trip("{\"binary\":{\"query_encoding\":\"default\",\"encoding\":\"one_and_half_bits\"}}",
               "{\"binary\":{\"encoding\":\"one_and_half_bits\",\"query_encoding\":\"default\"}}");
    round_trip("{\"turbo\":{}}", NULL);
    round_trip("{\"turbo\":{\"always_ram\":false,\"bits\":\"bits1_5\"}}", NULL);
    round_trip("{\"turbo\":{\"bits\":\"bits4\",\"memory\":\"pinned\"}}",
               "{\"turbo\":{\"memory\":\"pinned\",\"bits\":\"bits4\"}}");
    /* untagged: the first variant that deserialises wins, others ignored */
    round_trip("{\"product\":{\"compression\":\"x8\"},\"scalar\":{\"type\":\"int8\"}}",
               "{\"scalar\":{\"type\":\"int8\"}}");
    round_trip("{\"scalar\":{\"type\":\"int4\"},\"binary\":{}}", "{\"binary\":{}}");

    qv_quant_config none = {0};
    assert_string_equal(echo(&none), "null");
    jv t;
    assert_true(qv_quant_config_to_jv(&A, &none, &t));
    assert_int_equal(t.type, JV_STR);
    assert_string_equal(t.v.s, "Disabled");
}

static void test_json_errors(void **state) {
    static const char *const bad[] = {
        "{}",
        "[]",
        "1",
        "\"Disabled\"",
        "{\"scalar\":null}",
        "{\"scalar\":{}}",
        "{\"scalar\":{\"type\":\"int4\"}}",
        "{\"scalar\":{\"type\":\"int8\",\"quantile\":\"x\"}}",
        "{\"scalar\":{\"type\":\"int8\",\"quantile\":1e300}}",
        "{\"scalar\":{\"type\":\"int8\",\"always_ram\":0}}",
        "{\"scalar\":{\"type\":\"int8\",\"memory\":\"hot\"}}",
        "{\"product\":{}}",
        "{\"product\":{\"compression\":\"x2\"}}",
        "{\"product\":{\"compression\":4}}",
        "{\"binary\":[]}",
        "{\"binary\":{\"encoding\":\"one\"}}",
        "{\"binary\":{\"query_encoding\":\"Binary\"}}",
        "{\"turbo\":{\"bits\":\"bits3\"}}",
        "{\"Scalar\":{\"type\":\"int8\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qv_quant_config c;
        c.kind = 99;
        qv_rc rc = qparse(bad[i], false, &c);
        if (rc != QV_EFORMAT) fail_msg("%s: kind %d (%s)", bad[i], rc, E.msg);
        assert_string_equal(E.msg, "data did not match any variant of untagged enum "
                                   "QuantizationConfig");
        assert_int_equal(c.kind, QV_QUANT_NONE);
        if (strcmp(bad[i], "\"Disabled\"") == 0) continue;
        expect_err(qparse(bad[i], true, &c), QV_EFORMAT,
                   "data did not match any variant of untagged enum QuantizationConfigDiff");
    }
    qv_quant_config c;
    assert_int_equal(qparse("\"Disabled\"", true, &c), QV_OK);
    assert_int_equal(c.kind, QV_QUANT_NONE);
    expect_err(qparse("\"disabled\"", true, &c), QV_EFORMAT, NULL);

    expect_err(qparse("{\"scalar\":{\"type\":\"int8\",\"quantile\":0.3}}", false, &c),
               QV_EVALIDATION,
               "quantization_config.scalar.quantile: value 0.3 invalid, must be from 0.5 to 1.0");
    expect_err(qparse("{\"scalar\":{\"type\":\"int8\",\"quantile\":1.01}}", true, &c),
               QV_EVALIDATION, NULL);
    assert_int_equal(qparse("{\"scalar\":{\"type\":\"int8\",\"quantile\":0.5}}", false, &c), QV_OK);
    jv v = parse("{\"scalar\":{\"type\":\"int8\",\"quantile\":-1}}");
    expect_err(qv_quant_config_parse(&v, false, "vectors.a.quantization_config", &c, &E),
               QV_EVALIDATION,
               "vectors.a.quantization_config.scalar.quantile: value -1.0 invalid, must be from "
               "0.5 to 1.0");
}

/* ---- gRPC ---------------------------------------------------------------- */

/* Struct -> message -> wire -> message -> struct. */
static void grpc_round_trip(const char *text) {
    qv_quant_config c, back;
    if (qparse(text, false, &c)) fail_msg("%s: %s", text, E.msg);
    Qdrant__QuantizationConfig *m = qv_quant_config_to_grpc(&A, &c);
    assert_non_null(m);
    size_t n = qdrant__quantization_config__get_packed_size(m);
    uint8_t *buf = qv_arena_alloc(&A, n + 1);
    assert_int_equal(qdrant__quantization_config__pack(m, buf), n);
    Qdrant__QuantizationConfig *u = qdrant__quantization_config__unpack(NULL, n, buf);
    assert_non_null(u);
    qv_rc rc = qv_quant_config_from_grpc(u, &back, &E);
    qdrant__quantization_config__free_unpacked(u, NULL);
    if (rc) fail_msg("%s: %s", text, E.msg);
    assert_true(qv_quant_config_equal(&c, &back));
    assert_string_equal(echo(&back), text);
}

static void test_grpc_round_trips(void **state) {
    grpc_round_trip("{\"scalar\":{\"type\":\"int8\"}}");
    grpc_round_trip("{\"scalar\":{\"type\":\"int8\",\"quantile\":0.75,\"always_ram\":false,"
                    "\"memory\":\"cold\"}}");
    grpc_round_trip("{\"product\":{\"compression\":\"x4\"}}");
    grpc_round_trip("{\"product\":{\"compression\":\"x32\",\"always_ram\":true}}");
    grpc_round_trip("{\"binary\":{}}");
    grpc_round_trip(
        "{\"binary\":{\"always_ram\":true,\"memory\":\"pinned\",\"encoding\":\"one_bit\","
        "\"query_encoding\":\"scalar8bits\"}}");
    grpc_round_trip("{\"turbo\":{}}");
    grpc_round_trip("{\"turbo\":{\"memory\":\"cached\",\"bits\":\"bits1\"}}");
    qv_quant_config none = {0};
    assert_null(qv_quant_config_to_grpc(&A, &none));
}

static void test_grpc_errors(void **state) {
    qv_quant_config c;
    Qdrant__QuantizationConfig m;
    qdrant__quantization_config__init(&m);
    expect_err(qv_quant_config_from_grpc(&m, &c, &E), QV_EBADINPUT,
               "Unable to convert quantization config");
    Qdrant__ScalarQuantization s;
    qdrant__scalar_quantization__init(&s);
    m.quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_SCALAR;
    m.scalar = &s;
    expect_err(qv_quant_config_from_grpc(&m, &c, &E), QV_EBADINPUT, "Unknown quantization type");
    s.type = QDRANT__QUANTIZATION_TYPE__Int8;
    s._memory_case = QDRANT__SCALAR_QUANTIZATION___MEMORY_MEMORY;
    s.memory = QDRANT__MEMORY__MemoryUnknown; /* = not set */
    assert_int_equal(qv_quant_config_from_grpc(&m, &c, &E), QV_OK);
    assert_int_equal(c.memory, QV_QMEM_UNSET);
    s.memory = (Qdrant__Memory)7;
    expect_err(qv_quant_config_from_grpc(&m, &c, &E), QV_EBADINPUT, NULL);
    assert_int_equal(c.kind, QV_QUANT_NONE);

    Qdrant__ProductQuantization p;
    qdrant__product_quantization__init(&p);
    p.compression = (Qdrant__CompressionRatio)5;
    m.quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_PRODUCT;
    m.product = &p;
    expect_err(qv_quant_config_from_grpc(&m, &c, &E), QV_EBADINPUT, "Unknown compression ratio");

    Qdrant__BinaryQuantization b;
    qdrant__binary_quantization__init(&b);
    Qdrant__BinaryQuantizationQueryEncoding qe;
    qdrant__binary_quantization_query_encoding__init(&qe);
    b._query_encoding_case = QDRANT__BINARY_QUANTIZATION___QUERY_ENCODING_QUERY_ENCODING;
    b.query_encoding = &qe;
    m.quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_BINARY;
    m.binary = &b;
    expect_err(qv_quant_config_from_grpc(&m, &c, &E), QV_EBADINPUT,
               "Malformed `BinaryQuantizationQueryEncoding`");
    b._query_encoding_case = 0;
    b._encoding_case = QDRANT__BINARY_QUANTIZATION___ENCODING_ENCODING;
    b.encoding = (Qdrant__BinaryQuantizationEncoding)3;
    expect_err(qv_quant_config_from_grpc(&m, &c, &E), QV_EBADINPUT,
               "Unknown binary quantization encoding");

    Qdrant__QuantizationConfigDiff d;
    qdrant__quantization_config_diff__init(&d);
    expect_err(qv_quant_config_diff_from_grpc(&d, &c, &E), QV_EBADINPUT, NULL);
    Qdrant__Disabled dis;
    qdrant__disabled__init(&dis);
    d.quantization_case = QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_DISABLED;
    d.disabled = &dis;
    assert_int_equal(qv_quant_config_diff_from_grpc(&d, &c, &E), QV_OK);
    assert_int_equal(c.kind, QV_QUANT_NONE);
    Qdrant__TurboQuantization t;
    qdrant__turbo_quantization__init(&t);
    t._bits_case = QDRANT__TURBO_QUANTIZATION___BITS_BITS;
    t.bits = QDRANT__TURBO_QUANT_BIT_SIZE__Bits2;
    d.quantization_case = QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_TURBOQUANT;
    d.turboquant = &t;
    assert_int_equal(qv_quant_config_diff_from_grpc(&d, &c, &E), QV_OK);
    assert_string_equal(echo(&c), "{\"turbo\":{\"bits\":\"bits2\"}}");
}

/* ---- REST decoders and the persisted form ---------------------------------- */

static qv_rc create(const char *text, qv_collection_config *cfg) {
    jv b = parse(text);
    return qv_rest_decode_create_collection(&b, cfg, &E);
}

static const char *config_json(const qv_collection_config *c) {
    jw w;
    jw_init(&w);
    qv_collection_config_write_json(&w, c);
    size_t n;
    char *s = jw_take(&w, &n);
    char *out = qv_arena_strndup(&A, s, n);
    free(s);
    return out;
}

static void test_create_update_persist(void **state) {
    qv_collection_config cfg, upd, back;
    assert_int_equal(
        create("{\"vectors\":{\"b\":{\"size\":2,\"distance\":\"Dot\",\"datatype\":\"uint8\"},"
               "\"a\":{\"size\":2,\"distance\":\"Dot\",\"datatype\":\"float16\","
               "\"quantization_config\":{\"binary\":{\"encoding\":\"two_bits\"}}}},"
               "\"quantization_config\":{\"scalar\":{\"type\":\"int8\",\"quantile\":0.9}}}",
               &cfg),
        QV_OK);
    assert_int_equal(cfg.quantization_config.kind, QV_QUANT_SCALAR);
    assert_true(cfg.quantization_config.has_quantile);
    assert_string_equal(cfg.vectors[0].name, "a");
    assert_int_equal(cfg.vectors[0].quantization_config.kind, QV_QUANT_BINARY);
    assert_int_equal(cfg.vectors[0].datatype, QV_DT_FLOAT16);
    assert_int_equal(cfg.vectors[1].datatype, QV_DT_UINT8);
    assert_int_equal(cfg.vectors[1].quantization_config.kind, QV_QUANT_NONE);

    /* PATCH: collection-wide "Disabled", per-vector replace and merge */
    jv b = parse("{\"quantization_config\":\"Disabled\","
                 "\"vectors\":{\"b\":{\"quantization_config\":{\"product\":{\"compression\":"
                 "\"x8\"}},\"hnsw_config\":{\"m\":4}},\"a\":{\"quantization_config\":"
                 "\"Disabled\"}}}");
    assert_int_equal(qv_rest_decode_update_collection(&b, &cfg, &upd, &E), QV_OK);
    assert_int_equal(upd.quantization_config.kind, QV_QUANT_NONE);
    assert_int_equal(upd.vectors[0].quantization_config.kind, QV_QUANT_NONE);
    assert_int_equal(upd.vectors[1].quantization_config.kind, QV_QUANT_PRODUCT);
    assert_int_equal(upd.vectors[1].quantization_config.compression, QV_PQ_X8);
    jv b2 = parse("{\"vectors\":{\"b\":{\"hnsw_config\":{\"ef_construct\":8,\"m\":null}}}}");
    qv_collection_config upd2;
    assert_int_equal(qv_rest_decode_update_collection(&b2, &upd, &upd2, &E), QV_OK);
    jv want = parse("{\"m\":4,\"ef_construct\":8}");
    assert_true(jv_equal(&upd2.vectors[1].hnsw_config, &want));
    qv_collection_config_free(&upd2);
    /* a refused PATCH leaves the input alone (out is freed) */
    jv bad = parse("{\"quantization_config\":{\"scalar\":{\"type\":\"int8\",\"quantile\":2}}}");
    expect_err(qv_rest_decode_update_collection(&bad, &cfg, &upd2, &E), QV_EVALIDATION, NULL);
    jv bad2 = parse("{\"vectors\":{\"b\":{\"hnsw_config\":{\"ef_construct\":1}}}}");
    expect_err(qv_rest_decode_update_collection(&bad2, &cfg, &upd2, &E), QV_EVALIDATION, NULL);

    /* the persisted form reads back to the same JSON */
    const char *js = config_json(&cfg);
    jv p = parse(js);
    assert_int_equal(qv_collection_config_read_json(&p, &back, &E), QV_OK);
    assert_string_equal(config_json(&back), js);
    assert_true(qv_quant_config_equal(&back.quantization_config, &cfg.quantization_config));
    assert_int_equal(back.vectors[0].datatype, QV_DT_FLOAT16);
    qv_collection_config_free(&back);
    const char *js2 = config_json(&upd);
    p = parse(js2);
    assert_int_equal(qv_collection_config_read_json(&p, &back, &E), QV_OK);
    assert_string_equal(config_json(&back), js2);
    qv_collection_config_free(&back);
    qv_collection_config_free(&upd);
    qv_collection_config_free(&cfg);

    expect_err(create("{\"vectors\":{\"size\":2,\"distance\":\"Dot\",\"datatype\":\"f64\"}}", &cfg),
               QV_EFORMAT, NULL);
    expect_err(create("{\"quantization_config\":\"Disabled\"}", &cfg), QV_EFORMAT, NULL);
    assert_int_equal(
        create("{\"vectors\":{\"size\":2,\"distance\":\"Dot\",\"datatype\":\"turbo4\"}}", &cfg),
        QV_OK);
    assert_int_equal(cfg.vectors[0].datatype, QV_DT_TURBO4);
    qv_collection_config_free(&cfg);
}

/* A config written by the previous version, whose quantization_config was
 * any object: a valid one is read, an invalid one dropped (not corrupt). */
static void test_previous_version_persisted_form(void **state) {
    static const char *const fmt =
        "{\"params\":{\"vectors\":{\"size\":4,\"distance\":\"Cosine\","
        "\"quantization_config\":%s},\"shard_number\":1,\"replication_factor\":1,"
        "\"write_consistency_factor\":1,\"on_disk_payload\":true},"
        "\"hnsw_config\":{\"m\":16,\"ef_construct\":100,\"full_scan_threshold\":10000,"
        "\"max_indexing_threads\":0,\"on_disk\":false},"
        "\"optimizer_config\":{\"deleted_threshold\":0.2,\"vacuum_min_vector_number\":1000,"
        "\"default_segment_number\":0,\"max_segment_size\":null,\"memmap_threshold\":null,"
        "\"indexing_threshold\":10000,\"flush_interval_sec\":5,\"max_optimization_threads\":null},"
        "\"wal_config\":{\"wal_capacity_mb\":32,\"wal_segments_ahead\":0,\"wal_retain_closed\":1},"
        "\"quantization_config\":%s,\"strict_mode_config\":{\"enabled\":false}}";
    char text[2048];
    qv_collection_config c;
    snprintf(text, sizeof text, fmt, "{\"scalar\":{\"type\":\"int8\",\"quantile\":0.99}}",
             "{\"binary\":{\"always_ram\":true}}");
    jv j = parse(text);
    assert_int_equal(qv_collection_config_read_json(&j, &c, &E), QV_OK);
    assert_int_equal(c.vectors[0].quantization_config.kind, QV_QUANT_SCALAR);
    assert_int_equal(c.quantization_config.kind, QV_QUANT_BINARY);
    qv_collection_config_free(&c);
    snprintf(text, sizeof text, fmt, "{\"weird\":1}",
             "{\"scalar\":{\"type\":\"int8\",\"quantile\":3}}");
    j = parse(text);
    assert_int_equal(qv_collection_config_read_json(&j, &c, &E), QV_OK);
    assert_int_equal(c.vectors[0].quantization_config.kind, QV_QUANT_NONE);
    assert_int_equal(c.quantization_config.kind, QV_QUANT_NONE);
    qv_collection_config_free(&c);
    snprintf(text, sizeof text, fmt, "null", "null");
    j = parse(text);
    assert_int_equal(qv_collection_config_read_json(&j, &c, &E), QV_OK);
    assert_int_equal(c.quantization_config.kind, QV_QUANT_NONE);
    qv_collection_config_free(&c);
}

static void test_search_params(void **state) {
    qv_rest_query q;
    jv b = parse("{\"query\":[1,2],\"params\":{\"hnsw_ef\":32,\"exact\":true,"
                 "\"quantization\":{\"ignore\":true,\"rescore\":false,\"oversampling\":2.5}}}");
    assert_int_equal(qv_rest_decode_query(&A, &b, &q, &E), QV_OK);
    assert_true(q.q.exact);
    assert_true(q.q.hnsw_ef.has);
    assert_int_equal(q.q.hnsw_ef.v, 32);
    assert_true(q.q.quant_ignore.has && q.q.quant_ignore.v);
    assert_true(q.q.quant_rescore.has && !q.q.quant_rescore.v);
    assert_true(q.q.oversampling.has);
    assert_true(q.q.oversampling.v == 2.5);
    b = parse("{\"query\":[1,2],\"params\":{\"quantization\":{\"rescore\":null}}}");
    assert_int_equal(qv_rest_decode_query(&A, &b, &q, &E), QV_OK);
    assert_false(q.q.quant_ignore.has || q.q.quant_rescore.has || q.q.oversampling.has);
    b = parse("{\"vector\":[1,2],\"limit\":1,\"params\":{\"quantization\":{\"oversampling\":1}}}");
    assert_int_equal(qv_rest_decode_search(&A, &b, &q, &E), QV_OK);
    assert_true(q.q.oversampling.has && q.q.oversampling.v == 1.0);
    b = parse("{\"query\":[1,2],\"params\":{\"quantization\":{\"oversampling\":0.99}}}");
    expect_err(qv_rest_decode_query(&A, &b, &q, &E), QV_EVALIDATION,
               "params.quantization.oversampling: value 0.99 invalid, must be 1.0 or larger");
    b = parse("{\"query\":[1,2],\"params\":{\"quantization\":{\"ignore\":1}}}");
    expect_err(qv_rest_decode_query(&A, &b, &q, &E), QV_EFORMAT, NULL);
    b = parse("{\"query\":[1,2],\"params\":{\"quantization\":[]}}");
    expect_err(qv_rest_decode_query(&A, &b, &q, &E), QV_EFORMAT, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_update_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_previous_version_persisted_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_params, setup, teardown),
    };
    return cmocka_run_group_tests_name("quant_config", tests, NULL, NULL);
}
