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
    static const char *bad[] = {"",    ".a",     "a.",         "a..b",
                                "[0]", "a[x]",   "a[",         "a[-1]",
                                "a b", "a\"b\"", "\"a",        "a[18446744073709551616]",
                                "a]",  "a.[0]",  "\"a\\\\b\"", "a.\"\\\\\""};
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

typedef struct dt_case {
    const char *text;
    int64_t sec;
    int32_t nsec;
} dt_case;

/* 2024-01-15T10:00:00Z */
#define T0 1705312800

/* Every form Qdrant's server reads (chrono's relaxed RFC 3339 and the six
 * strftime formats of DateTimePayloadType::from_str) and the instant it
 * denotes; values checked against Python's proleptic calendar. */
static const dt_case dt_good[] = {
    /* RFC 3339 and the relaxed form: separators, Z/z, offsets, UTC */
    {"2024-01-15T10:00:00Z", T0, 0},
    {"2024-01-15t10:00:00z", T0, 0},
    {"2024-01-15 10:00:00Z", T0, 0},
    {"2024-01-15T10:00:00+00:00", T0, 0},
    {"2024-01-15T10:00:00-00:00", T0, 0},
    {"2024-01-15T11:00:00+01:00", T0, 0},
    {"2024-01-15T05:00:00-05:00", T0, 0},
    {"2024-01-15T15:30:00+05:30", T0, 0},
    {"2024-01-15T05:00:00\xe2\x88\x92"
     "05:00",
     T0, 0}, /* U+2212 MINUS SIGN */
    {"2024-01-15T11:00:00 +01:00", T0, 0},
    {"2024-01-15T11:00:00+01 00", T0, 0},
    {"2024-01-15T11:00:00+01::00", T0, 0},
    {"2024-01-15T10:00:00 UTC", T0, 0},
    {"2024-01-15T10:00:00utc", T0, 0},
    {"2024-01-15 10:00:00 Utc  ", T0, 0},
    {"2024-01-15T10:00:00Z \t", T0, 0},
    {" \t2024-01-15T10:00:00Z", T0, 0},
    {"2024 - 01 - 15T10 : 00 : 00Z", T0, 0},
    {"2024-1-15T10:0:0Z", T0, 0},
    {"2024-01-15T23:59:59+23:59", 1705276859, 0},
    {"2024-01-16T00:00:00-23:59", 1705449540, 0},
    /* "%Y-%m-%dT%H:%M:%S%.f%#z" and its ' ' twin: +HHMM, +HH, whitespace */
    {"2024-01-15T11:00:00+0100", T0, 0},
    {"2024-01-15T11:00:00+01", T0, 0},
    {"2024-01-15T11:00:00+01:", T0, 0},
    {"2024-01-15 11:00:00+0100", T0, 0},
    {"2024-01-1511:00:00+01", T0, 0},
    {"2024-01-15T10:00:00\t\xc2\xa0Z", T0, 0}, /* U+00A0 before the offset */
    {"2024- 01- 15T 11: 00: 00 +01", T0, 0},
    /* naive forms: UTC */
    {"2024-01-15T10:00:00", T0, 0},
    {"2024-01-15 10:00:00", T0, 0},
    {"2024-01-15   10:00:00", T0, 0},
    {"2024-01-15 10:00", T0, 0},
    {"2024-01-1510:00", T0, 0},
    {"2024-01-15\xe3\x80\x80"
     "10:00",
     T0, 0}, /* U+3000 IDEOGRAPHIC SPACE */
    {"2024-01-15", 1705276800, 0},
    {" 2024-1-5", 1704412800, 0},
    {"2024-1-5 3:04:05", 1704423845, 0},
    /* fractions: 1-9 digits kept, more read and dropped */
    {"2024-01-15T11:00:00.5+01:00", T0, 500000000},
    {"2024-01-15T10:00:00.123456789Z", T0, 123456789},
    {"2024-01-15T10:00:00.1234567891234Z", T0, 123456789},
    {"2024-01-15T10:00:00.000000001", T0, 1},
    {"2024-01-15 10:00:00.120+00", T0, 120000000},
    {"1969-12-31T23:59:59.000000001Z", -1, 1},
    /* years before 1970 and after 2038, year 0, short and signed years */
    {"1970-01-01T00:00:00Z", 0, 0},
    {"1900-01-01", -2208988800LL, 0},
    {"1066-10-14T09:00:00Z", -28502722800LL, 0},
    {"0001-01-01", -62135596800LL, 0},
    {"0000-01-01", -62167219200LL, 0},
    {"24-01-15", -61408627200LL, 0},
    {"-0044-03-15", -63549360000LL, 0},
    {"+12024-01-01", 317273587200LL, 0},
    {"+0000000000002024-01-15", 1705276800, 0},
    {"2038-01-19T03:14:08Z", 2147483648LL, 0},
    {"2100-03-01", 4107542400LL, 0},
    {"9999-12-31T23:59:59Z", 253402300799LL, 0},
    {"-262143-01-01", -8334601228800LL, 0},
    {"+262142-12-31", 8210266790400LL, 0},
    /* leap days and leap seconds (second 60, at any minute, as chrono) */
    {"2024-02-29", 1709164800, 0},
    {"2000-02-29", 951782400, 0},
    {"2016-12-31T23:59:60Z", 1483228799, 1000000000},
    {"2016-12-31T23:59:60.5Z", 1483228799, 1500000000},
    {"2024-01-15T10:30:60", 1705314659, 1000000000},
};

/* Near misses the server refuses. */
static const char *const dt_bad[] = {
    "",
    " ",
    "x",
    "2024",
    "2024-01",
    "2024-01-15T",
    "2024-01-15 ",
    "2024-01-15Z",
    "2024-01-15T10",
    "2024-01-15T10:00",  /* local mode reads it; the server has no T%H:%M form */
    "2024-01-15T10:00Z", /* minutes-only forms take no offset */
    "2024-01-15 10:00Z",
    "2024-01-15 10:00 ",
    "2024-01-15 10:00:00 ", /* trailing whitespace only after an offset */
    "2024-01-15t10:00:00",  /* lower-case t needs an offset */
    "2024-01-15X10:00:00Z",
    "2024-13-01",
    "2024-00-10",
    "2024-01-00",
    "2024-01-32",
    "2023-02-29",
    "1900-02-29",
    "2024-01-15T24:00:00Z",
    "2024-01-15T10:60:00Z",
    "2024-01-15T10:00:61Z",
    "2024-01-15T10:00:00+24:00",
    "2024-01-15T10:00:00-24:00",
    "2024-01-15T10:00:00+01:60",
    "2024-01-15T10:00:00+1:00",
    "2024-01-15T10:00:00+01:0",
    "2024-01-15T10:00:00+01:00:00",
    "2024-01-15T10:00:00+01:00x",
    "2024-01-15T10:00:00 GMT",
    "2024-01-15T10:00:00Z x",
    "2024-01-15T10:00:00.",
    "2024-01-15T10:00:00.Z",
    "2024-01-15T10:00:00,5Z",
    "2024-01-15T10:00:00 .5Z",
    "2024/01/15",
    "15-01-2024",
    "20240115",
    "2024-01-15T100000Z",
    "\xe2\x88\x92"
    "2024-01-15", /* U+2212 is no sign for a year */
    "+262143-01-01",
    "-262144-12-31",
    "+262142-12-31T23:59:59-01:00", /* past the last date once in UTC */
    "2024-01-15\x1c"
    "10:00", /* U+001C is not White_Space to Rust */
    "99999999999999999999-01-01",
};

static void test_datetimes(void **state) {
    (void)state;
    qv_filter_time t;
    for (size_t k = 0; k < sizeof dt_good / sizeof *dt_good; k++) {
        const dt_case *c = &dt_good[k];
        if (!qv_filter_parse_time(c->text, strlen(c->text), &t))
            fail_msg("rejected \"%s\"", c->text);
        if (t.sec != c->sec || t.nsec != c->nsec)
            fail_msg("\"%s\": %lld.%09d, want %lld.%09d", c->text, (long long)t.sec, (int)t.nsec,
                     (long long)c->sec, (int)c->nsec);
    }
    for (size_t k = 0; k < sizeof dt_bad / sizeof *dt_bad; k++)
        if (qv_filter_parse_time(dt_bad[k], strlen(dt_bad[k]), &t))
            fail_msg("accepted \"%s\"", dt_bad[k]);
    /* the length bounds the text: a valid prefix is no datetime */
    assert_false(qv_filter_parse_time("2024-01-15T10:00:00Z", 13, &t));
    assert_true(qv_filter_parse_time("2024-01-15T10:00:00Z", 10, &t) && t.sec == 1705276800);
}

/* Range conditions compare instants: offsets, fractions and leap seconds. */
static void test_datetime_ranges(void **state) {
    (void)state;
    const char *gte = "{\"must\":{\"key\":\"t\",\"range\":{\"gte\":\"2024-01-15T10:00:00Z\"}}}";
    const char *lt = "{\"must\":{\"key\":\"t\",\"range\":{\"lt\":\"2024-01-15T11:00:00+01:00\"}}}";
    assert_true(eval("{\"t\":\"2024-01-15T05:00:00-05:00\"}", gte));
    assert_false(eval("{\"t\":\"2024-01-15T05:00:00-05:00\"}", lt));
    assert_true(eval("{\"t\":\"2024-01-15T09:59:59.999999999Z\"}", lt));
    assert_false(eval("{\"t\":\"2024-01-15T09:59:59.999999999Z\"}", gte));
    /* the server keeps nanoseconds (local mode cuts them to microseconds) */
    assert_true(eval("{\"t\":\"2024-01-15T10:00:00.0000001Z\"}",
                     "{\"must\":{\"key\":\"t\",\"range\":{\"gt\":\"2024-01-15T10:00:00Z\"}}}"));
    /* a leap second sorts after :59.999999999 and before the next minute */
    const char *leap = "{\"t\":\"2016-12-31T23:59:60.5Z\"}";
    assert_true(eval(
        leap, "{\"must\":{\"key\":\"t\",\"range\":{\"gt\":\"2016-12-31T23:59:59.999999999Z\"}}}"));
    assert_true(
        eval(leap, "{\"must\":{\"key\":\"t\",\"range\":{\"lt\":\"2017-01-01T00:00:00Z\"}}}"));
    assert_true(eval(leap, "{\"must\":{\"key\":\"t\",\"range\":{\"gte\":\"2016-12-31T23:59:60.5Z\","
                           "\"lte\":\"2016-12-31 23:59:60.500000000+00:00\"}}}"));
    /* bounds in any accepted form; forms the server refuses do not decode */
    assert_true(eval("{\"t\":\"1900-01-01\"}",
                     "{\"must\":{\"key\":\"t\",\"range\":{\"lt\":\"1900-01-01 00:00:01\"}}}"));
    assert_true(eval("{\"t\":\"2100-01-01T00:00:00+14:00\"}",
                     "{\"must\":{\"key\":\"t\",\"range\":{\"lt\":\"2100-01-01\"}}}"));
    assert_false(eval("{\"t\":\"2024-01-15T10:00\"}", gte)); /* not a datetime: no value */
    expect_error("{\"must\":{\"key\":\"t\",\"range\":{\"gt\":\"2024-01-15T10:00\"}}}", QV_EFORMAT,
                 "data did not match any variant of untagged enum Condition");
}

/* ---- geo edge cases --------------------------------------------------------- */

/* Evaluates the geo condition cond_json (the value of a FieldCondition on key
 * "g") on each point "lat,lon;lat,lon;..." and compares with want ("1010..."). */
static void check_geo(const char *cond_json, const char *points, const char *want) {
    char filter[1024], payload[128];
    snprintf(filter, sizeof filter, "{\"must\":{\"key\":\"g\",%s}}", cond_json);
    const char *p = points;
    for (size_t k = 0; want[k]; k++) {
        double lat, lon;
        int used = 0;
        if (sscanf(p, "%lf,%lf%n", &lat, &lon, &used) != 2) fail_msg("bad point list %s", points);
        p += used + (p[used] == ';');
        snprintf(payload, sizeof payload, "{\"g\":{\"lat\":%.17g,\"lon\":%.17g}}", lat, lon);
        if (eval(payload, filter) != (want[k] == '1'))
            fail_msg("%s on %s: want %c", cond_json, payload, want[k]);
    }
}

#define GP(lat, lon)      "{\"lat\":" #lat ",\"lon\":" #lon "}"
#define RING4(a, b, c, d) "{\"points\":[" a "," b "," c "," d "," a "]}"

/* Poles, the antimeridian, holes, boundaries and degenerate polygons, with the
 * server's rules (borders exclusive; a hole's border is outside), checked
 * against local mode's answers point by point. */
static void test_geo_edges(void **state) {
    (void)state;
    /* a box whose left edge is east of its right edge wraps the antimeridian */
    check_geo(
        "\"geo_bounding_box\":{\"top_left\":" GP(10, 170) ",\"bottom_right\":" GP(-10, -170) "}",
        "0,175;0,-175;0,180;0,-180;0,0;0,170;0,-170;10,175", "11110000");
    /* the poles: a latitude border of 90 is exclusive too */
    check_geo(
        "\"geo_bounding_box\":{\"top_left\":" GP(90, -180) ",\"bottom_right\":" GP(80, 180) "}",
        "90,0;89.99,0;85,-180;85,179.9;80,0", "01010");
    check_geo(
        "\"geo_bounding_box\":{\"top_left\":" GP(-80, -180) ",\"bottom_right\":" GP(-90, 180) "}",
        "-90,0;-89.99,10", "01");
    /* circles over a pole (any longitude at the pole is the same point), across
     * the antimeridian, and of radius 0 (strictly closer than the radius) */
    check_geo("\"geo_radius\":{\"center\":" GP(90, 0) ",\"radius\":200000}",
              "89,100;88,-170;90,123;-90,0", "1010");
    check_geo("\"geo_radius\":{\"center\":" GP(0, 179.5) ",\"radius\":200000}",
              "0,-179.5;0,178;0,-178;0,180", "1101");
    check_geo("\"geo_radius\":{\"center\":" GP(10, 10) ",\"radius\":0}", "10,10", "0");
    check_geo("\"geo_radius\":{\"center\":" GP(-89, 45) ",\"radius\":300000}",
              "-90,0;-89,-135;-87,45", "111");
    /* a hole: its inside and its border are out, as are the exterior's border
     * and vertices */
    check_geo("\"geo_polygon\":{\"exterior\":" RING4(
                  GP(0, 0), GP(10, 0), GP(10, 10),
                  GP(0, 10)) ",\"interiors\":[" RING4(GP(2, 2), GP(4, 2), GP(4, 4), GP(2, 4)) "]}",
              "5,5;3,3;2,3;2,2;0,5;0,0;10,10;11,5;1,1", "100000001");
    /* a hole covering the whole polygon leaves nothing */
    check_geo(
        "\"geo_polygon\":{\"exterior\":" RING4(
            GP(0, 0), GP(10, 0), GP(10, 10),
            GP(0, 10)) ",\"interiors\":[" RING4(GP(0, 0), GP(10, 0), GP(10, 10), GP(0, 10)) "]}",
        "5,5", "0");
    /* degenerate: collinear, a single repeated point */
    check_geo("\"geo_polygon\":{\"exterior\":" RING4(GP(0, 0), GP(5, 5), GP(10, 10), GP(0, 0)) "}",
              "5,5;2,3;0,0", "000");
    check_geo("\"geo_polygon\":{\"exterior\":" RING4(GP(2, 2), GP(2, 2), GP(2, 2), GP(2, 2)) "}",
              "2,2", "0");
    /* concave */
    check_geo("\"geo_polygon\":{\"exterior\":{\"points\":[" GP(0, 0) "," GP(10, 0) "," GP(
                  10, 4) "," GP(4, 4) "," GP(4, 10) "," GP(0, 10) "," GP(0, 0) "]}}",
              "7,7;2,7;7,2;4,7;4,4", "01100");
    /* planar in (lat, lon): a cap around the pole, a strip along the antimeridian */
    check_geo("\"geo_polygon\":{\"exterior\":" RING4(GP(85, -180), GP(85, 180), GP(90, 180),
                                                     GP(90, -180)) "}",
              "89,0;90,0;85,10;87,-180", "1000");
    check_geo("\"geo_polygon\":{\"exterior\":" RING4(
                  GP(-60, 170), GP(60, 170), GP(60, 180),
                  GP(-60, 180)) ",\"interiors\":[" RING4(GP(-10, 175), GP(10, 175), GP(10, 179),
                                                         GP(-10, 179)) "]}",
              "0,172;0,177;0,180;0,-179;20,176", "10001");
    /* a ring is closed when its ends differ by at most f64::EPSILON per
     * coordinate, as Qdrant checks */
    check_geo("\"geo_polygon\":{\"exterior\":{\"points\":[" GP(0, 0) "," GP(10, 0) "," GP(
                  10, 10) "," GP(0, 10) "," GP(1e-17, -1e-17) "]}}",
              "5,5", "1");
    expect_error("{\"must\":{\"key\":\"g\",\"geo_polygon\":{\"exterior\":{\"points\":[" GP(
                     0, 0) "," GP(10, 0) "," GP(10, 10) "," GP(0, 10) "," GP(1e-15, 0) "]}}}}",
                 QV_EFORMAT, "data did not match any variant of untagged enum Condition");
    /* payload points need finite numeric lat and lon; range is not checked */
    assert_true(eval(
        "{\"g\":{\"lat\":95,\"lon\":10}}",
        "{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":" GP(90, 10) ",\"radius\":1e6}}}"));
    assert_false(
        eval("{\"g\":{\"lat\":\"1\",\"lon\":2}}",
             "{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":" GP(1, 2) ",\"radius\":1e6}}}"));
    /* every point of an array is a value; nested arrays are not points */
    assert_true(
        eval("{\"g\":[" GP(50, 50) "," GP(1, 1) "]}",
             "{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":" GP(1, 1) ",\"radius\":10}}}"));
    assert_false(
        eval("{\"g\":[[" GP(1, 1) "]]}",
             "{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":" GP(1, 1) ",\"radius\":10}}}"));
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
        cmocka_unit_test(test_datetime_ranges),
        cmocka_unit_test(test_geo_edges),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
