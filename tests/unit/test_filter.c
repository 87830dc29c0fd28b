/*
 * test_filter.c - the filter language: key paths, decoding and evaluation.
 *
 * The bulk of the semantics is checked by a table (filter_cases.inc) whose
 * expectations were computed by qdrant-client's local mode; regenerate it
 * with tests/unit/gen_filter_cases.py.  The hand-written tests below cover
 * what the oracle cannot: decoding errors and their messages, key path
 * syntax, datetimes, slice hashing and trees built without JSON (as the gRPC
 * layer builds them).
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_filter.h"
#include "index/filter.h"

typedef struct filter_case {
    const char *id, *payload, *filter;
    bool expected;
} filter_case;

static const filter_case filter_cases[] = {
#include "filter_cases.inc"
};

/* ---- helpers ------------------------------------------------------------ */

static jv parse_json(qv_arena *a, const char *text, bool resolve) {
    jv v;
    qv_err err;
    qv_rc rc = jv_parse(a, text, strlen(text), &v, &err);
    if (rc != QV_OK) fail_msg("bad test JSON %s: %s", text, err.msg);
    if (resolve) jv_resolve_numbers(&v);
    return v;
}

static bool vec_a_only(void *ctx, const char *name) {
    (void)ctx;
    return strcmp(name, "a") == 0;
}

static qv_pointid parse_id(const char *s) {
    qv_pointid id = {0, 0, 0};
    if (s[0] == '"') {
        assert_true(qv_pointid_parse_uuid(s + 1, strlen(s) - 2, &id));
    } else {
        id.lo = strtoull(s, NULL, 10);
    }
    return id;
}

/* Decodes filter_json and evaluates it on payload_json for point 1. */
static bool eval(const char *payload_json, const char *filter_json) {
    qv_arena a;
    qv_arena_init(&a);
    jv payload = parse_json(&a, payload_json, true);
    jv fj = parse_json(&a, filter_json, false);
    qv_filter *f;
    qv_err err;
    qv_rc rc = qv_filter_from_json(&a, &fj, &f, &err);
    if (rc != QV_OK) fail_msg("decode %s: %s", filter_json, err.msg);
    qv_pointid id = qv_pointid_num(1);
    qv_filter_point p = {&id, &payload, vec_a_only, NULL, NULL};
    bool r = qv_filter_match(f, &p);
    qv_arena_free(&a);
    return r;
}

/* Expects decoding to fail with kind and exactly msg. */
static void expect_error(const char *filter_json, qv_rc kind, const char *msg) {
    qv_arena a;
    qv_arena_init(&a);
    jv fj = parse_json(&a, filter_json, false);
    qv_filter *f = (qv_filter *)1;
    qv_err err;
    qv_err_clear(&err);
    qv_rc rc = qv_filter_from_json(&a, &fj, &f, &err);
    if (rc != kind || strcmp(err.msg, msg) != 0)
        fail_msg("%s: got %d \"%s\", want %d \"%s\"", filter_json, rc, err.msg, kind, msg);
    qv_arena_free(&a);
}

/* ---- the oracle table ------------------------------------------------- */

static void test_table(void **state) {
    (void)state;
    size_t n = sizeof filter_cases / sizeof filter_cases[0], bad = 0;
    assert_true(n >= 150);
    for (size_t k = 0; k < n; k++) {
        const filter_case *c = &filter_cases[k];
        qv_arena a;
        qv_arena_init(&a);
        jv payload = parse_json(&a, c->payload, true);
        jv fj = parse_json(&a, c->filter, false);
        qv_filter *f;
        qv_err err;
        if (qv_filter_from_json(&a, &fj, &f, &err) != QV_OK) {
            print_error("row %zu: decode %s: %s\n", k, c->filter, err.msg);
            bad++;
        } else {
            qv_pointid id = parse_id(c->id);
            qv_filter_point p = {&id, &payload, vec_a_only, NULL, NULL};
            if (qv_filter_match(f, &p) != c->expected) {
                print_error("row %zu: id %s payload %s filter %s: want %d\n", k, c->id, c->payload,
                            c->filter, c->expected);
                bad++;
            }
        }
        qv_arena_free(&a);
    }
    assert_int_equal(bad, 0);
}

/* ---- evaluation edge cases not in the table ---------------------------- */

static void test_null_filter_and_payload(void **state) {
    (void)state;
    qv_filter_point p = {NULL, NULL, NULL, NULL, NULL};
    assert_true(qv_filter_match(NULL, &p));
    qv_arena a;
    qv_arena_init(&a);
    jv null = parse_json(&a, "null", false);
    qv_filter *f = (qv_filter *)1;
    qv_err err;
    assert_int_equal(qv_filter_from_json(&a, &null, &f, &err), QV_OK);
    assert_null(f);
    /* no payload: is_empty true, match false; no id: has_id false */
    jv fj = parse_json(&a,
                       "{\"must\":[{\"is_empty\":{\"key\":\"a\"}}],"
                       "\"must_not\":[{\"key\":\"a\",\"match\":{\"value\":1}},{\"has_id\":[1]}]}",
                       false);
    assert_int_equal(qv_filter_from_json(&a, &fj, &f, &err), QV_OK);
    assert_true(qv_filter_match(f, &p));
    qv_arena_free(&a);
}

static void test_unresolved_payload_numbers(void **state) {
    (void)state;
    /* evaluation also accepts a payload whose numbers are still JV_NUM */
    qv_arena a;
    qv_arena_init(&a);
    jv payload = parse_json(&a, "{\"a\":2.5,\"g\":{\"lat\":1,\"lon\":1}}", false);
    jv fj = parse_json(&a,
                       "{\"must\":[{\"key\":\"a\",\"range\":{\"gt\":2}},{\"key\":\"g\","
                       "\"geo_radius\":{\"center\":{\"lat\":1,\"lon\":1},\"radius\":1}}]}",
                       false);
    qv_filter *f;
    qv_err err;
    assert_int_equal(qv_filter_from_json(&a, &fj, &f, &err), QV_OK);
    qv_filter_point p = {NULL, &payload, NULL, NULL, NULL};
    assert_true(qv_filter_match(f, &p));
    qv_arena_free(&a);
}

static void test_integer_match_exactness(void **state) {
    (void)state;
    assert_true(eval("{\"a\":9223372036854775807}",
                     "{\"must\":{\"key\":\"a\",\"match\":{\"value\":9223372036854775807}}}"));
    assert_false(eval("{\"a\":9223372036854775806}",
                      "{\"must\":{\"key\":\"a\",\"match\":{\"value\":9223372036854775807}}}"));
    assert_true(eval("{\"a\":-9223372036854775808}",
                     "{\"must\":{\"key\":\"a\",\"match\":{\"any\":[-9223372036854775808]}}}"));
    assert_false(eval("{\"a\":1e0}", "{\"must\":{\"key\":\"a\",\"match\":{\"value\":1}}}"));
    assert_true(eval("{\"a\":1e0}", "{\"must\":{\"key\":\"a\",\"range\":{\"gte\":1,\"lte\":1}}}"));
}

static void test_deep_nesting(void **state) {
    (void)state;
    char buf[4096] = "";
    for (int k = 0; k < 40; k++) strcat(buf, "{\"must\":[");
    strcat(buf, "{\"key\":\"a\",\"match\":{\"value\":1}}");
    for (int k = 0; k < 40; k++) strcat(buf, "]}");
    assert_true(eval("{\"a\":1}", buf));
    assert_false(eval("{\"a\":2}", buf));
}

static void test_slice(void **state) {
    (void)state;
    /* reference values from qdrant_client.local.siphash */
    qv_pointid n0 = qv_pointid_num(0), n1 = qv_pointid_num(12345), u;
    assert_true(qv_pointid_parse_uuid("550e8400-e29b-41d4-a716-446655440000", 36, &u));
    assert_true(qv_filter_slice_hash(&n0) == 0xe849e8bb6ffe2567ULL);
    assert_true(qv_filter_slice_hash(&n1) == 0xd6b73668a5ae682aULL);
    assert_true(qv_filter_slice_hash(&u) == 0xf5d0ca21ba34d504ULL);
    /* the slices of one total partition the ids */
    qv_arena a;
    qv_arena_init(&a);
    qv_filter *f[3];
    for (int s = 0; s < 3; s++) {
        char js[128];
        snprintf(js, sizeof js, "{\"must\":{\"slice\":{\"index\":%d,\"total\":3}}}", s);
        jv fj = parse_json(&a, js, false);
        qv_err err;
        assert_int_equal(qv_filter_from_json(&a, &fj, &f[s], &err), QV_OK);
    }
    for (uint64_t i = 0; i < 200; i++) {
        qv_pointid id = qv_pointid_num(i);
        qv_filter_point p = {&id, NULL, NULL, NULL, NULL};
        int hits = 0;
        for (int s = 0; s < 3; s++) hits += qv_filter_match(f[s], &p);
        assert_int_equal(hits, 1);
    }
    qv_arena_free(&a);
}

/* ---- programmatic construction (the gRPC path) -------------------------- */

static void test_build_without_json(void **state) {
    (void)state;
    qv_arena a;
    qv_arena_init(&a);
    qv_err err;
    qv_filter *f = qv_filter_new(&a);
    qv_filter_cond *c = qv_filter_list_push(&a, &f->must);
    c->kind = QV_FILTER_COND_MATCH;
    assert_int_equal(qv_keypath_parse(&a, "tags[]", 6, (qv_keypath **)&c->key, &err), QV_OK);
    c->u.match.kind = QV_FILTER_MATCH_KEYWORD;
    c->u.match.v.str.s = "red";
    c->u.match.v.str.len = 3;
    qv_pointid ids[4] = {qv_pointid_num(9), qv_pointid_num(3), qv_pointid_num(9),
                         qv_pointid_num(5)};
    for (int k = 0; k < 5; k++) {
        qv_filter_cond *s = qv_filter_list_push(&a, &f->should);
        assert_true(qv_filter_set_ids(&a, s, ids, 4));
    }
    assert_int_equal(f->should.n, 5);
    assert_int_equal(f->should.conds[4].u.ids.n, 3);
    jv payload = parse_json(&a, "{\"tags\":[\"blue\",\"red\"]}", true);
    qv_pointid id = qv_pointid_num(5), other = qv_pointid_num(4);
    qv_filter_point p = {&id, &payload, NULL, NULL, NULL};
    assert_true(qv_filter_match(f, &p));
    p.id = &other;
    assert_false(qv_filter_match(f, &p));
    qv_arena_free(&a);
}

/* ---- key paths ------------------------------------------------------------ */

static void test_keypath_parse(void **state) {
    (void)state;
    static const char *good[] = {"a",
                                 "a.b",
                                 "a[]",
                                 "a[3]",
                                 "a[].b",
                                 "a[0][1].c",
                                 "\"b.c\"",
                                 "a.\"b.c\".d",
                                 "\"\"",
                                 "a-b_c",
                                 "\xc3\xa9t\xc3\xa9",
                                 "a[18446744073709551615]",
                                 "\"a\"[]"};
    static const char *bad[] = {"",   ".a",    "a.",  "a..b",   "[0]", "a[x]",
                                "a[", "a[-1]", "a b", "a\"b\"", "\"a", "a[18446744073709551616]",
                                "a]", "a.[0]"};
    qv_arena a;
    qv_arena_init(&a);
    qv_keypath *p;
    qv_err err;
    for (size_t k = 0; k < sizeof good / sizeof *good; k++)
        if (qv_keypath_parse(&a, good[k], strlen(good[k]), &p, &err) != QV_OK)
            fail_msg("rejected %s: %s", good[k], err.msg);
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        if (qv_keypath_parse(&a, bad[k], strlen(bad[k]), &p, &err) != QV_EFORMAT)
            fail_msg("accepted %s", bad[k]);
    assert_int_equal(qv_keypath_parse(&a, "a.\"b.c\"[2][]", 12, &p, &err), QV_OK);
    assert_int_equal(p->nseg, 4);
    assert_string_equal(p->segs[1].name, "b.c");
    assert_int_equal(p->segs[2].kind, QV_KEYPATH_INDEX);
    assert_int_equal(p->segs[2].index, 2);
    assert_int_equal(p->segs[3].kind, QV_KEYPATH_ALL);
    assert_string_equal(p->text, "a.\"b.c\"[2][]");
    qv_keypath_parse(&a, "a..b", 4, &p, &err);
    assert_string_equal(err.msg, "Invalid JSON path `a..b`");
    qv_arena_free(&a);
}

typedef struct collect {
    char out[512];
} collect;

static void collect_cb(void *ctx, const jv *v) {
    collect *c = ctx;
    jw w;
    jw_init(&w);
    jw_value(&w, v);
    size_t len;
    char *s = jw_take(&w, &len);
    strcat(c->out, s);
    strcat(c->out, ";");
    free(s);
}

static void check_values(const char *payload, const char *path, bool raw, const char *want) {
    qv_arena a;
    qv_arena_init(&a);
    jv v = parse_json(&a, payload, true);
    qv_keypath *p;
    qv_err err;
    assert_int_equal(qv_keypath_parse(&a, path, strlen(path), &p, &err), QV_OK);
    collect c = {""};
    if (raw)
        qv_keypath_values_raw(p, &v, collect_cb, &c);
    else
        qv_keypath_values(p, &v, collect_cb, &c);
    if (strcmp(c.out, want) != 0) fail_msg("%s in %s: got %s want %s", path, payload, c.out, want);
    qv_arena_free(&a);
}

static void test_keypath_values(void **state) {
    (void)state;
    const char *doc = "{\"a\":[{\"b\":1},{\"b\":[2,[3]]},{\"c\":4},5],\"x\":{\"y.z\":null},"
                      "\"e\":[],\"d\":{\"d\":2},\"d\":{\"d\":3}}";
    check_values(doc, "a[].b", false, "1;2;[3];");
    check_values(doc, "a[].b", true, "1;[2,[3]];");
    check_values(doc, "a[1].b[1]", false, "3;");
    check_values(doc, "a[1].b[1]", true, "[3];");
    check_values(doc, "a[3]", false, "5;");
    check_values(doc, "a[9]", false, "");
    check_values(doc, "a.b", false, "");
    check_values(doc, "x.\"y.z\"", false, "null;");
    check_values(doc, "e", false, "");
    check_values(doc, "e", true, "[];");
    check_values(doc, "d.d", false, "3;"); /* the last duplicate wins */
    check_values(doc, "nope", false, "");
    qv_keypath_values(NULL, NULL, collect_cb, NULL); /* harmless */
}

/* ---- datetimes ------------------------------------------------------------ */

static void test_datetimes(void **state) {
    (void)state;
    static const char *good[] = {"2024-01-15",
                                 "2024-01-15T10:00",
                                 "2024-01-15 10:00:00",
                                 "2024-01-15T10:00:00Z",
                                 "2024-01-15T10:00:00.123+01:00",
                                 "2024-01-15T10:00:00-0130",
                                 "2024-01-15T10:00:00 +01:00",
                                 "2024-01-15T10:00:00+01",
                                 "2024-01-15 10:00:00 UTC",
                                 " 2024-1-5T1:2:3z",
                                 "2024-02-29",
                                 "2000-02-29",
                                 "0001-01-01"};
    static const char *bad[] = {"2024-01-15T",
                                "2024-01-15Z",
                                "2024-01-15T10",
                                "2024-01-15T10:00Z",
                                "2024-13-01",
                                "2023-02-29",
                                "1900-02-29",
                                "2024-01-15T24:00:00",
                                "2024-01-15T10:00:60",
                                "2024-01-15T10:00:00+24:00",
                                "2024-01-15T10:00:00UTC",
                                "24-01-15",
                                "2024-01-15T10:00:00.",
                                "0000-01-01",
                                "2024-01-15T10:00:00+01:0",
                                "x"};
    qv_filter_time t;
    for (size_t k = 0; k < sizeof good / sizeof *good; k++)
        if (!qv_filter_parse_time(good[k], strlen(good[k]), &t)) fail_msg("rejected %s", good[k]);
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        if (qv_filter_parse_time(bad[k], strlen(bad[k]), &t)) fail_msg("accepted %s", bad[k]);
    assert_true(qv_filter_parse_time("1970-01-01T00:00:00Z", 20, &t));
    assert_true(t.sec == 0 && t.nsec == 0);
    assert_true(qv_filter_parse_time("2024-01-15T10:00:00.5+01:00", 27, &t));
    assert_true(t.sec == 1705309200 && t.nsec == 500000000);
    assert_true(qv_filter_parse_time("1969-12-31T23:59:59.000000001Z", 30, &t));
    assert_true(t.sec == -1 && t.nsec == 1);
}

/* ---- decoding errors ---------------------------------------------------- */

#define UNTAGGED "data did not match any variant of untagged enum Condition"

static void test_decode_errors(void **state) {
    (void)state;
    expect_error("{\"x\":1}", QV_EFORMAT,
                 "unknown field `x`, expected one of `should`, `min_should`, `must`, `must_not`");
    expect_error("{\"must\":[],\"must\":[]}", QV_EFORMAT, "duplicate field `must`");
    expect_error("\"a\"", QV_EFORMAT, "invalid type: string \"a\", expected struct Filter");
    expect_error("[]", QV_EFORMAT, "invalid type: sequence, expected struct Filter");
    expect_error("{\"must\":5}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[5]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"match\":{\"value\":1.5}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"match\":{\"value\":null}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"match\":{\"any\":[1,\"b\"]}}]}", QV_EFORMAT,
                 UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"match\":{\"value\":1,\"any\":[1]}}]}", QV_EFORMAT,
                 UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"match\":{\"nope\":1}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"range\":{\"gt\":1,\"lt\":\"2024-01-01\"}}]}",
                 QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"range\":{\"gt\":\"5\"}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"values_count\":{\"gt\":-1}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a..b\",\"match\":{\"value\":1}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":1,\"match\":{\"value\":1}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"foo\":1}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"a\",\"is_empty\":1}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"has_id\":[-1]}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"has_id\":[\"12\"]}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"has_id\":[1.5]}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"has_id\":5}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"has_id\":[1],\"has_vector\":\"a\"}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"has_vector\":1}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"is_empty\":\"a\"}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"is_null\":{\"key\":\"a\",\"x\":1}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"nested\":{\"key\":\"a\"}}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"nested\":{\"key\":\"a\",\"filter\":{\"x\":1}}}]}", QV_EFORMAT,
                 UNTAGGED);
    expect_error("{\"must\":[{\"must\":[{\"key\":\"a\"}],\"x\":1}]}", QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"g\",\"geo_radius\":{\"center\":{\"lat\":91,\"lon\":0},"
                 "\"radius\":1}}]}",
                 QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"g\",\"geo_polygon\":{\"exterior\":{\"points\":["
                 "{\"lat\":0,\"lon\":0},{\"lat\":1,\"lon\":0},{\"lat\":0,\"lon\":0}]}}}]}",
                 QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"g\",\"geo_polygon\":{\"exterior\":{\"points\":["
                 "{\"lat\":0,\"lon\":0},{\"lat\":1,\"lon\":0},{\"lat\":1,\"lon\":1},"
                 "{\"lat\":0,\"lon\":1}]}}}]}",
                 QV_EFORMAT, UNTAGGED);
    expect_error("{\"must\":[{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":{\"lat\":0}}}]}",
                 QV_EFORMAT, UNTAGGED);
    expect_error("{\"min_should\":{\"conditions\":[]}}", QV_EFORMAT, "missing field `min_count`");
    expect_error("{\"min_should\":{\"min_count\":1}}", QV_EFORMAT, "missing field `conditions`");
    expect_error("{\"min_should\":{\"conditions\":[],\"min_count\":\"a\"}}", QV_EFORMAT,
                 "invalid type: string \"a\", expected usize");
    expect_error("{\"min_should\":{\"conditions\":[],\"min_count\":-2}}", QV_EFORMAT,
                 "invalid value: integer `-2`, expected usize");
    expect_error("{\"min_should\":{\"conditions\":{},\"min_count\":1}}", QV_EFORMAT,
                 "invalid type: map, expected a sequence");
    expect_error("{\"min_should\":{\"conditions\":[],\"min_count\":1,\"x\":0}}", QV_EFORMAT,
                 "unknown field `x`, expected `conditions` or `min_count`");
    expect_error("{\"min_should\":5}", QV_EFORMAT,
                 "invalid type: integer `5`, expected struct MinShould");
    /* validation (422) errors, reported only when the shape is right */
    expect_error("{\"must\":[{\"key\":\"a\"}]}", QV_EVALIDATION,
                 "At least one field condition must be specified");
    expect_error("{\"must\":[{\"key\":\"a\",\"match\":null,\"range\":null}]}", QV_EVALIDATION,
                 "At least one field condition must be specified");
    expect_error("{\"must\":[{\"key\":\"a\"}],\"x\":1}", QV_EFORMAT,
                 "unknown field `x`, expected one of `should`, `min_should`, `must`, `must_not`");
    expect_error("{\"min_should\":{\"conditions\":[],\"min_count\":0}}", QV_EVALIDATION,
                 "min_should.min_count: value 0 invalid, must be 1 or larger");
    expect_error("{\"must\":{\"slice\":{\"index\":3,\"total\":3}}}", QV_EVALIDATION,
                 "slice.index: must be less than slice.total");
}

static void test_decode_accepts(void **state) {
    (void)state;
    /* nulls are absent; single conditions and lists; {} is a filter */
    assert_true(
        eval("{}", "{\"must\":null,\"should\":null,\"must_not\":null,\"min_should\":null}"));
    assert_true(
        eval("{\"a\":1}", "{\"must\":{\"key\":\"a\",\"match\":{\"value\":1},\"range\":null}}"));
    assert_true(eval("{}", "{\"must\":{}}"));
    assert_true(eval("{\"a\":[]}", "{\"must\":{\"key\":\"a\",\"is_empty\":true,\"match\":null}}"));
    /* the first test of local mode's order wins when several are set */
    assert_true(eval("{\"a\":1}", "{\"must\":{\"key\":\"a\",\"values_count\":{\"gt\":0},"
                                  "\"match\":{\"value\":2}}}"));
    assert_false(eval("{\"a\":1}", "{\"must\":{\"key\":\"a\",\"match\":{\"value\":2},"
                                   "\"range\":{\"gt\":0}}}"));
    /* has_id accepts every UUID spelling and u64 above 2^53 exactly */
    assert_false(eval("{}", "{\"must\":{\"has_id\":[9007199254740993]}}"));
    assert_true(
        eval("{}", "{\"must\":{\"has_id\":[\"{550E8400-E29B-41D4-A716-446655440000}\",1]}}"));
    /* numbers given as resolved values decode too */
    qv_arena a;
    qv_arena_init(&a);
    jv fj = parse_json(&a,
                       "{\"must\":{\"key\":\"a\",\"range\":{\"gte\":1.5},"
                       "\"match\":null},\"min_should\":{\"conditions\":[{\"has_id\":[7]}],"
                       "\"min_count\":1}}",
                       true);
    qv_filter *f;
    qv_err err;
    assert_int_equal(qv_filter_from_json(&a, &fj, &f, &err), QV_OK);
    jv payload = parse_json(&a, "{\"a\":2}", true);
    qv_pointid id = qv_pointid_num(7);
    qv_filter_point p = {&id, &payload, NULL, NULL, NULL};
    assert_true(qv_filter_match(f, &p));
    qv_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_null_filter_and_payload),
        cmocka_unit_test(test_unresolved_payload_numbers),
        cmocka_unit_test(test_integer_match_exactness),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_build_without_json),
        cmocka_unit_test(test_keypath_parse),
        cmocka_unit_test(test_keypath_values),
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
