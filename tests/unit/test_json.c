/*
 * test_json.c - unit tests for the JSON layer: parser (accepted documents,
 * serde-worded errors, nesting, UTF-8 and escapes), number conversions,
 * resolve/copy/equal, the writer, shortest float printing and the jvbin
 * binary encoding.
 *
 * Random round-trip counts are scaled down when QV_UNDER_VALGRIND is set so
 * the valgrind run stays short.
 */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/jvbin.h"

static int under_valgrind(void) {
    return getenv("QV_UNDER_VALGRIND") != NULL;
}

/* Parses text (length from strlen unless len given) into a fresh arena. */
static qv_rc parse_n(qv_arena *a, const char *text, size_t len, jv *out, qv_err *err) {
    qv_arena_init(a);
    qv_err_clear(err);
    return jv_parse(a, text, len, out, err);
}

static char *write_value(const jv *v) {
    jw w;
    jw_init(&w);
    jw_value(&w, v);
    assert_false(w.oom);
    return jw_take(&w, NULL);
}

/* Parse must succeed and compact re-serialisation must equal expect. */
static void check_ok_n(const char *text, size_t len, const char *expect) {
    qv_arena a;
    qv_err e;
    jv v;
    qv_rc rc = parse_n(&a, text, len, &v, &e);
    if (rc != QV_OK) fail_msg("parse of %s failed: %s", text, e.msg);
    char *s = write_value(&v);
    assert_string_equal(s, expect);
    free(s);
    qv_arena_free(&a);
}

static void check_ok(const char *text, const char *expect) {
    check_ok_n(text, strlen(text), expect);
}

static void check_err_n(const char *text, size_t len, const char *msg) {
    qv_arena a;
    qv_err e;
    jv v;
    qv_rc rc = parse_n(&a, text, len, &v, &e);
    if (rc != QV_EFORMAT) fail_msg("parse of %s unexpectedly gave %d", text, rc);
    assert_string_equal(e.msg, msg);
    assert_int_equal(v.type, JV_NULL);
    qv_arena_free(&a);
}

static void check_err(const char *text, const char *msg) {
    check_err_n(text, strlen(text), msg);
}

/* ---- parser ----------------------------------------------------------- */

static void test_parse_valid(void **state) {
    check_ok(" null ", "null");
    check_ok("true", "true");
    check_ok("false", "false");
    check_ok("\t\r\n[ 1 , -2.5e+3 ,0,-0, 1E2 ]\n", "[1,-2.5e+3,0,-0,1E2]");
    check_ok("{}", "{}");
    check_ok("[]", "[]");
    check_ok("{\"a\":{\"b\":[{}, []]},\"a\":1}", "{\"a\":{\"b\":[{},[]]},\"a\":1}");
    const char *q =
        "{\"points\":[{\"id\":1,\"vector\":[0.1,0.2],\"payload\":{\"a\":[1,{\"b\":null}]}}]}";
    check_ok(q, q);
    check_ok("\"\"", "\"\"");
    check_ok("\"\\/\\\"\\\\\\b\\f\\n\\r\\t\"", "\"/\\\"\\\\\\b\\f\\n\\r\\t\"");
    check_ok("123456789012345678901234567890", "123456789012345678901234567890");
}

static void test_parse_errors(void **state) {
    check_err("", "EOF while parsing a value at line 1 column 0");
    check_err("   ", "EOF while parsing a value at line 1 column 3");
    check_err("x", "expected value at line 1 column 1");
    check_err("[1] x", "trailing characters at line 1 column 5");
    check_err("1234x", "trailing characters at line 1 column 5");
    check_err("{\"a\":1,\"b\":2", "EOF while parsing an object at line 1 column 12");
    check_err("{\"a\":1,", "EOF while parsing a value at line 1 column 7");
    check_err("{\"a\"", "EOF while parsing an object at line 1 column 4");
    check_err("[1,2", "EOF while parsing a list at line 1 column 4");
    check_err("[", "EOF while parsing a list at line 1 column 1");
    check_err("\"abc", "EOF while parsing a string at line 1 column 4");
    check_err("{1:2}", "key must be a string at line 1 column 2");
    check_err("{\"a\" 1}", "expected `:` at line 1 column 6");
    check_err("{\"a\":1 \"b\":2}", "expected `,` or `}` at line 1 column 8");
    check_err("[1 2]", "expected `,` or `]` at line 1 column 4");
    check_err("[1,]", "trailing comma at line 1 column 4");
    check_err("{\"a\":1,}", "trailing comma at line 1 column 8");
    check_err("[1,\n  2,\n]", "trailing comma at line 3 column 1");
    check_err("\"\\x\"", "invalid escape at line 1 column 3");
    check_err("\"\\u12G4\"", "invalid escape at line 1 column 7");
    check_err(
        "\"a\tb\"",
        "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3");
    check_err("01", "invalid number at line 1 column 2");
    check_err("-", "invalid number at line 1 column 1");
    check_err("-a", "invalid number at line 1 column 2");
    check_err("1.", "invalid number at line 1 column 2");
    check_err("1.e5", "invalid number at line 1 column 3");
    check_err("1e", "invalid number at line 1 column 2");
    check_err("1e+", "invalid number at line 1 column 3");
    check_err("+1", "expected value at line 1 column 1");
    check_err(".5", "expected value at line 1 column 1");
    check_err("NaN", "expected value at line 1 column 1");
    check_err("Infinity", "expected value at line 1 column 1");
    check_err("[1] // c", "trailing characters at line 1 column 5");
    check_err("/* c */ 1", "expected value at line 1 column 1");
    check_err("nul", "EOF while parsing a value at line 1 column 3");
    check_err("nulx", "expected ident at line 1 column 4");
    check_err("tru", "EOF while parsing a value at line 1 column 3");
    check_err("1e400", "number out of range at line 1 column 5");
    check_err("\f1", "expected value at line 1 column 1");
    check_err("\n\n  ]", "expected value at line 3 column 3");
}

static void nest(char *buf, int n) {
    for (int k = 0; k < n; k++) buf[k] = '[';
    for (int k = 0; k < n; k++) buf[n + k] = ']';
    buf[2 * n] = '\0';
}

static void test_depth(void **state) {
    char buf[600];
    qv_arena a;
    qv_err e;
    jv v;
    nest(buf, JV_MAX_DEPTH - 1); /* serde accepts 127 levels */
    assert_int_equal(parse_n(&a, buf, strlen(buf), &v, &e), QV_OK);
    qv_arena_free(&a);
    nest(buf, JV_MAX_DEPTH + 1);
    check_err(buf, "recursion limit exceeded at line 1 column 128");
    for (int k = 0; k < 250; k++) buf[k] = '{';
    buf[250] = '\0';
    check_err("{\"a\":{\"a\":[", "EOF while parsing a list at line 1 column 11");
}

static void test_strings(void **state) {
    /* escapes to UTF-8, including a surrogate pair and an embedded NUL */
    check_ok("\"\\u00e9\\u20AC\\ud83d\\ude00\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    check_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"",
             "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
    qv_arena a;
    qv_err e;
    jv v;
    assert_int_equal(parse_n(&a, "\"a\\u0000b\"", 10, &v, &e), QV_OK);
    assert_int_equal(v.type, JV_STR);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.v.s, "a\0b", 4);
    qv_arena_free(&a);
    check_ok("\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\x7f\"");
    /* lone surrogates */
    check_err("\"\\ud800\"", "unexpected end of hex escape at line 1 column 8");
    check_err("\"\\udc00\"", "lone leading surrogate in hex escape at line 1 column 7");
    check_err("\"\\ud800\\u0041\"", "lone leading surrogate in hex escape at line 1 column 13");
    check_err("\"\\ud800\\n\"", "unexpected end of hex escape at line 1 column 9");
    check_err("\"\\u12", "EOF while parsing a string at line 1 column 5");
    /* invalid UTF-8: stray continuation, overlong, encoded surrogate,
     * above U+10FFFF, truncated sequence, invalid lead bytes */
    const char *bad[] = {"\"\x80\"",
                         "\"\xc0\xaf\"",
                         "\"\xc1\xbf\"",
                         "\"\xe0\x80\xaf\"",
                         "\"\xed\xa0\x80\"",
                         "\"\xf0\x80\x80\xaf\"",
                         "\"\xf4\x90\x80\x80\"",
                         "\"\xc3\"",
                         "\"\xe2\x82\"",
                         "\"\xf5\x80\x80\x80\"",
                         "\"\xff\"",
                         "\"\xe2\x28\xa1\""};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(parse_n(&a, bad[k], strlen(bad[k]), &v, &e), QV_EFORMAT);
        assert_non_null(strstr(e.msg, "invalid unicode code point"));
        qv_arena_free(&a);
    }
    /* a long string and many strings (char blocks and dedicated blocks) */
    size_t n = 20000;
    char *big = malloc(n + 3);
    big[0] = '"';
    for (size_t k = 1; k <= n; k++) big[k] = (char)('a' + k % 26);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    check_ok_n(big, n + 2, big);
    free(big);
}

static void test_parse_no_nul(void **state) {
    /* the parser must not read past len: parse a prefix of a longer buffer */
    check_ok_n("[1,2]garbage", 5, "[1,2]");
    check_ok_n("12345", 3, "123");
    check_err_n("\"ab\"", 3, "EOF while parsing a string at line 1 column 3");
}

/* ---- numbers ---------------------------------------------------------- */

static jv num(const char *text) {
    jv v = {.type = JV_NUM, .len = (uint32_t)strlen(text)};
    v.v.s = text;
    return v;
}

static void test_numbers(void **state) {
    uint64_t u;
    int64_t i;
    float f;
    double d;
    jv v = num("18446744073709551615");
    assert_true(jv_to_u64(&v, &u));
    assert_true(u == UINT64_MAX);
    assert_false(jv_to_i64(&v, &i));
    v = num("18446744073709551616");
    assert_false(jv_to_u64(&v, &u));
    v = num("-1");
    assert_false(jv_to_u64(&v, &u));
    assert_true(jv_to_i64(&v, &i) && i == -1);
    v = num("1.0");
    assert_false(jv_to_u64(&v, &u));
    assert_false(jv_to_i64(&v, &i));
    v = num("1e2");
    assert_false(jv_to_u64(&v, &u));
    v = num("-9223372036854775808");
    assert_true(jv_to_i64(&v, &i) && i == INT64_MIN);
    v = num("-9223372036854775809");
    assert_false(jv_to_i64(&v, &i));
    v = num("9223372036854775807");
    assert_true(jv_to_i64(&v, &i) && i == INT64_MAX);
    v = num("9223372036854775808");
    assert_false(jv_to_i64(&v, &i));
    v = num("-0"); /* serde: the float -0.0 */
    assert_false(jv_to_i64(&v, &i));
    assert_true(jv_to_f64(&v, &d) && d == 0 && signbit(d));
    v = num("0.19");
    assert_true(jv_to_f32(&v, &f) && f == 0.19f);
    v = num("1e39");
    assert_false(jv_to_f32(&v, &f));
    assert_true(jv_to_f64(&v, &d) && d == 1e39);
    v = num("1e400");
    assert_false(jv_to_f64(&v, &d));
    v.type = JV_STR;
    assert_false(jv_to_f64(&v, &d));
    assert_false(jv_is_number(&v));
    /* the fast path agrees with strtod */
    const char *texts[] = {"0.1",
                           "123.456e-7",
                           "-9007199254740991",
                           "1e22",
                           "1e23",
                           "4.9e-324",
                           "2.2250738585072014e-308",
                           "0.30000000000000004",
                           "-0.0",
                           "17976931348623157e292",
                           "1234567890123456789"};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        v = num(texts[k]);
        assert_true(jv_to_f64(&v, &d));
        assert_true(d == strtod(texts[k], NULL));
    }
    /* resolved kinds */
    jv r = {.type = JV_INT, .v.i = 5};
    assert_true(jv_to_u64(&r, &u) && u == 5);
    r.v.i = -5;
    assert_false(jv_to_u64(&r, &u));
    r = (jv){.type = JV_UINT, .v.u = UINT64_MAX};
    assert_true(jv_to_u64(&r, &u) && u == UINT64_MAX);
    assert_false(jv_to_i64(&r, &i));
    r = (jv){.type = JV_DBL, .v.d = 2.5};
    assert_false(jv_to_u64(&r, &u));
    assert_true(jv_to_f32(&r, &f) && f == 2.5f);
}

static void test_resolve(void **state) {
    qv_arena a;
    qv_err e;
    jv v;
    const char *t = "[1,-1,9223372036854775808,18446744073709551616,-9223372036854775808,"
                    "-9223372036854775809,1.5,-0,1e2,{\"x\":[7]}]";
    assert_int_equal(parse_n(&a, t, strlen(t), &v, &e), QV_OK);
    jv_resolve_numbers(&v);
    jv *it = v.v.items;
    assert_int_equal(it[0].type, JV_INT);
    assert_true(it[0].v.i == 1);
    assert_int_equal(it[1].type, JV_INT);
    assert_true(it[1].v.i == -1);
    assert_int_equal(it[2].type, JV_UINT);
    assert_true(it[2].v.u == 9223372036854775808u);
    assert_int_equal(it[3].type, JV_DBL);
    assert_true(it[3].v.d == 18446744073709551616.0);
    assert_int_equal(it[4].type, JV_INT);
    assert_true(it[4].v.i == INT64_MIN);
    assert_int_equal(it[5].type, JV_DBL);
    assert_int_equal(it[6].type, JV_DBL);
    assert_true(it[6].v.d == 1.5);
    assert_int_equal(it[7].type, JV_DBL);
    assert_true(signbit(it[7].v.d));
    assert_int_equal(it[8].type, JV_DBL);
    assert_true(it[8].v.d == 100.0);
    assert_int_equal(jv_get(&it[9], "x")->v.items[0].type, JV_INT);
    char *s = write_value(&v);
    assert_string_equal(s, "[1,-1,9223372036854775808,1.8446744073709552e19,-9223372036854775808,"
                           "-9.223372036854776e18,1.5,-0.0,100.0,{\"x\":[7]}]");
    free(s);
    qv_arena_free(&a);
}

/* ---- access, copy, equal ---------------------------------------------- */

static void test_get_copy_equal(void **state) {
    qv_arena a, b;
    qv_err e;
    jv v, w, c;
    const char *t = "{\"a\":1,\"b\":[true,null,\"s\"],\"a\":2,\"k\\u0000\":3}";
    assert_int_equal(parse_n(&a, t, strlen(t), &v, &e), QV_OK);
    int64_t i;
    assert_true(jv_to_i64(jv_get(&v, "a"), &i) && i == 2); /* last wins */
    assert_null(jv_get(&v, "zz"));
    assert_null(jv_get(jv_get(&v, "b"), "a"));
    assert_non_null(jv_getn(&v, "k\0", 2));
    qv_arena_init(&b);
    assert_true(jv_copy(&b, &v, &c));
    qv_arena_free(&a); /* the copy must not depend on the original */
    assert_true(jv_equal(&c, &c));
    const char *t2 = "{\"k\\u0000\":3,\"b\":[true,null,\"s\"],\"a\":2.0}";
    assert_int_equal(parse_n(&a, t2, strlen(t2), &w, &e), QV_OK);
    assert_false(jv_equal(&c, &w)); /* 2 != 2.0, as serde_json::Value */
    qv_arena_free(&a);
    const char *t3 = "{\"k\\u0000\":3,\"b\":[true,null,\"s\"],\"a\":2}";
    assert_int_equal(parse_n(&a, t3, strlen(t3), &w, &e), QV_OK);
    assert_true(jv_equal(&c, &w)); /* maps: order and duplicates do not matter */
    jv_resolve_numbers(&w);
    assert_true(jv_equal(&c, &w)); /* JV_NUM vs resolved */
    qv_arena_free(&a);
    qv_arena_free(&b); /* the copy */
    const char *pairs[][2] = {{"1", "1.0"},
                              {"[1,2]", "[2,1]"},
                              {"{\"a\":1}", "{\"a\":1,\"b\":1}"},
                              {"\"a\"", "\"a\\u0000\""},
                              {"true", "false"},
                              {"null", "0"},
                              {"1e2", "100"},
                              {"0.1", "0.10000000000000001"}};
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        jv x, y;
        assert_int_equal(parse_n(&a, pairs[k][0], strlen(pairs[k][0]), &x, &e), QV_OK);
        qv_arena_init(&b);
        assert_int_equal(jv_parse(&b, pairs[k][1], strlen(pairs[k][1]), &y, &e), QV_OK);
        assert_true(jv_equal(&x, &y) == (k == 7)); /* only the last pair is equal */
        qv_arena_free(&a);
        qv_arena_free(&b);
    }
}

/* ---- writer ----------------------------------------------------------- */

static void test_writer(void **state) {
    jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "result");
    jw_obj_begin(&w);
    jw_key(&w, "points");
    jw_arr_begin(&w);
    for (int k = 0; k < 2; k++) {
        jw_obj_begin(&w);
        jw_key(&w, "id");
        jw_u64(&w, UINT64_MAX - (uint64_t)k);
        jw_key(&w, "v");
        jw_arr_begin(&w);
        jw_f32(&w, 0.19f);
        jw_f32(&w, 1.0f);
        jw_f32(&w, NAN);
        jw_arr_end(&w);
        jw_key(&w, "e");
        jw_arr_begin(&w);
        jw_arr_end(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "n");
    jw_i64(&w, INT64_MIN);
    jw_key(&w, "z");
    jw_i64(&w, 0);
    jw_key(&w, "b");
    jw_bool(&w, false);
    jw_key(&w, "raw");
    jw_raw(&w, "{\"x\":1}", 7);
    jw_key(&w, "s");
    jw_str(&w, "q\"\\/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9");
    jw_key(&w, "d");
    jw_f64(&w, 0.1);
    jw_obj_end(&w);
    jw_key(&w, "status");
    jw_str(&w, "ok");
    jw_obj_end(&w);
    assert_false(w.oom);
    size_t len;
    char *s = jw_take(&w, &len);
    const char *expect =
        "{\"result\":{\"points\":[{\"id\":18446744073709551615,\"v\":[0.19,1.0,null],\"e\":[]},"
        "{\"id\":18446744073709551614,\"v\":[0.19,1.0,null],\"e\":[]}],"
        "\"n\":-9223372036854775808,\"z\":0,\"b\":false,\"raw\":{\"x\":1},"
        "\"s\":\"q\\\"\\\\/"
        "\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\",\"d\":0.1},\"status\":\"ok\"}";
    assert_string_equal(s, expect);
    assert_int_equal(len, strlen(expect));
    free(s);
    /* jw_take reset the writer: it can be reused */
    jw_i64(&w, 42);
    s = jw_take(&w, NULL);
    assert_string_equal(s, "42");
    free(s);
    jw_free(&w);
}

static void test_write_roundtrip(void **state) {
    const char *docs[] = {
        "{\"a\":[1,2.5,-3e-7,{\"b\":null,\"c\":[true,false]}],\"s\":\"\\u0000\\n\\\"x\\u00e9\"}",
        "[[[[[]]]],{},\"\",0,-0,18446744073709551615]",
        "\"\\ud83d\\ude00 \\u001f \\u007f\"",
    };
    for (size_t k = 0; k < sizeof docs / sizeof *docs; k++) {
        qv_arena a, b;
        qv_err e;
        jv v, v2;
        assert_int_equal(parse_n(&a, docs[k], strlen(docs[k]), &v, &e), QV_OK);
        for (int pass = 0; pass < 2; pass++) { /* as parsed, then resolved */
            char *s = write_value(&v);
            qv_arena_init(&b);
            assert_int_equal(jv_parse(&b, s, strlen(s), &v2, &e), QV_OK);
            assert_true(jv_equal(&v, &v2));
            free(s);
            qv_arena_free(&b);
            jv_resolve_numbers(&v);
        }
        qv_arena_free(&a);
    }
}

/* ---- float formatting ------------------------------------------------- */

static void check_f32(float x, const char *expect) {
    char b[32];
    int n = fmt_f32(b, x);
    assert_string_equal(b, expect);
    assert_int_equal(n, (int)strlen(expect));
}

static void check_f64(double x, const char *expect) {
    char b[32];
    int n = fmt_f64(b, x);
    assert_string_equal(b, expect);
    assert_int_equal(n, (int)strlen(expect));
}

static void test_fmt_known(void **state) {
    check_f32(0.19f, "0.19");
    check_f32(1.0f, "1.0");
    check_f32(1e20f, "1e20");
    check_f32(FLT_MIN, "1.1754944e-38");
    check_f32(FLT_MAX, "3.4028235e38");
    check_f32(3.4028235e38f, "3.4028235e38");
    check_f32(-0.0f, "-0.0");
    check_f32(0.0f, "0.0");
    check_f32(0.1f, "0.1");
    check_f32(16777216.0f, "16777216.0");
    check_f32(123456.0f, "123456.0");
    check_f32(1e12f, "1000000000000.0"); /* f32: plain up to kk <= 13 */
    check_f32(1e13f, "1e13");
    check_f32(1e-6f, "0.000001"); /* f32: plain down to kk > -6 */
    check_f32(1e-7f, "1e-7");
    check_f32(1.5e-7f, "1.5e-7");
    check_f32(1.4e-45f, "1e-45"); /* smallest subnormal */
    check_f32(-2.5f, "-2.5");
    check_f32(0.3f, "0.3");
    check_f32(INFINITY, "null");
    check_f32(NAN, "null");
    check_f64(0.19, "0.19");
    check_f64(1.0, "1.0");
    check_f64(1e20, "1e20");
    check_f64(5e-324, "5e-324");
    check_f64(-0.0, "-0.0");
    check_f64(DBL_MAX, "1.7976931348623157e308");
    check_f64(DBL_MIN, "2.2250738585072014e-308");
    check_f64(1e16, "1e16");
    check_f64(1e15, "1000000000000000.0");
    check_f64(123456789012345680.0, "1.2345678901234568e17");
    check_f64(0.0001, "0.0001");
    check_f64(0.00001, "0.00001"); /* ryu f64: plain while kk > -5 */
    check_f64(0.000001, "1e-6");
    check_f64(1.5e-7, "1.5e-7");
    check_f64(0.1 + 0.2, "0.30000000000000004");
    check_f64(123456.0, "123456.0");
    check_f64((double)0.19f, "0.1899999976158142");
    check_f64(-1e-300, "-1e-300");
    check_f64(9007199254740993.0, "9007199254740992.0");
    check_f64(-INFINITY, "null");
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

/* Round trip plus shortness: one digit fewer must not round trip (the
 * shortest property, checked by trimming the last significant digit). */
static void test_fmt_random(void **state) {
    long n = under_valgrind() ? 3000 : 1000000;
    char b[32];
    for (long k = 0; k < n; k++) {
        uint32_t bits = (uint32_t)rng();
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f)) continue;
        fmt_f32(b, f);
        float back = isinf(f) ? f : (float)strtod(b, NULL);
        if (memcmp(&back, &f, 4) != 0) fail_msg("f32 %08x printed %s", bits, b);
    }
    for (long k = 0; k < n; k++) {
        uint64_t bits = rng();
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d)) continue;
        fmt_f64(b, d);
        double back = strtod(b, NULL);
        if (memcmp(&back, &d, 8) != 0)
            fail_msg("f64 %016llx printed %s", (unsigned long long)bits, b);
    }
    /* short decimals print as themselves */
    for (long k = 0; k < n / 10; k++) {
        char in[32];
        snprintf(in, sizeof in, "0.%0*u", 1 + (int)(rng() % 4), (unsigned)(rng() % 10000));
        float f = (float)strtod(in, NULL);
        fmt_f32(b, f);
        assert_true((float)strtod(b, NULL) == f);
        assert_true(strlen(b) <= strlen(in));
    }
}

/* ---- jvbin ------------------------------------------------------------ */

static const char *bin_doc = "{\"id\":18446744073709551615,\"n\":-9223372036854775808,\"f\":0.19,"
                             "\"s\":\"h\\u00e9\\u0000llo\",\"a\":[true,false,null,[],{}],"
                             "\"o\":{\"x\":{\"y\":[1,-1,1e300]}},\"\":\"\"}";

static void test_jvbin_roundtrip(void **state) {
    qv_arena a, b;
    qv_err e;
    jv v, back;
    assert_int_equal(parse_n(&a, bin_doc, strlen(bin_doc), &v, &e), QV_OK);
    size_t n = jvbin_size(&v); /* JV_NUM encodes as its resolved value */
    uint8_t *buf = malloc(n);
    assert_int_equal(jvbin_write(&v, buf), n);
    jv_resolve_numbers(&v);
    assert_int_equal(jvbin_size(&v), n);
    uint8_t *buf2 = malloc(n);
    jvbin_write(&v, buf2);
    assert_memory_equal(buf, buf2, n);
    size_t used;
    qv_arena_init(&b);
    assert_int_equal(jvbin_read(&b, buf, n, &used, &back, &e), QV_OK);
    assert_int_equal(used, n);
    assert_true(jv_equal(&v, &back));
    assert_int_equal(jv_get(&back, "id")->type, JV_UINT);
    qv_arena_free(&b);
    /* every truncation fails cleanly */
    for (size_t k = 0; k < n; k++) {
        uint8_t *t = malloc(k ? k : 1); /* exact size so ASan sees overreads */
        memcpy(t, buf, k);
        qv_arena_init(&b);
        assert_int_equal(jvbin_read(&b, t, k, &used, &back, &e), QV_ECORRUPT);
        assert_int_equal(back.type, JV_NULL);
        qv_arena_free(&b);
        free(t);
    }
    /* garbled bytes never crash; results, if accepted, re-encode to the
     * same length they consumed */
    for (int round = 0; round < 2000; round++) {
        memcpy(buf2, buf, n);
        for (int j = 0; j < 3; j++) buf2[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
        qv_arena_init(&b);
        if (jvbin_read(&b, buf2, n, &used, &back, &e) == QV_OK)
            assert_int_equal(jvbin_size(&back), used);
        qv_arena_free(&b);
    }
    free(buf);
    free(buf2);
    qv_arena_free(&a);
}

static void check_bin_bad(const uint8_t *in, size_t n, const char *what) {
    qv_arena b;
    qv_err e;
    jv out;
    size_t used;
    qv_arena_init(&b);
    qv_err_clear(&e);
    assert_int_equal(jvbin_read(&b, in, n, &used, &out, &e), QV_ECORRUPT);
    if (!strstr(e.msg, what)) fail_msg("message '%s' lacks '%s'", e.msg, what);
    qv_arena_free(&b);
}

static void test_jvbin_reject(void **state) {
    const uint8_t tag[] = {9};
    check_bin_bad(tag, 1, "unknown type tag");
    const uint8_t badutf[] = {6, 2, 0xc3, 0x28};
    check_bin_bad(badutf, 4, "UTF-8");
    const uint8_t longstr[] = {6, 0x80, 0x80, 0x04, 'a'};
    check_bin_bad(longstr, 5, "length past the end");
    const uint8_t noncanon[] = {3, 0x81, 0x00};
    check_bin_bad(noncanon, 3, "non-canonical");
    const uint8_t over[] = {4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    check_bin_bad(over, 11, "overflows");
    const uint8_t smalluint[] = {4, 5};
    check_bin_bad(smalluint, 2, "small unsigned");
    const uint8_t bigarr[] = {7, 0xff, 0xff, 0xff, 0xff, 0x0f, 0};
    check_bin_bad(bigarr, 7, "length past the end");
    uint8_t deep[300];
    for (int k = 0; k < 300; k++) deep[k] = k % 2 ? 1 : 7; /* [ count=1 [ ... */
    check_bin_bad(deep, 300, "nesting too deep");
}

/* Random decimal texts of 1-20 significant digits, in plain, fraction and
 * exponent forms, must convert exactly as strtod does (bit for bit), as
 * must the doubles printed with 17 digits and halfway points between
 * neighbouring doubles (the texts the fast paths must hand to strtod). */
static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void check_text_as_strtod(const char *t) {
    jv v = num(t);
    double d, ref = strtod(t, NULL);
    bool ok = jv_to_f64(&v, &d);
    if (!isfinite(ref)) {
        assert_false(ok);
        return;
    }
    if (!ok || memcmp(&d, &ref, sizeof d) != 0) fail_msg("%s: got %.17g, strtod %.17g", t, d, ref);
}

static void test_numbers_vs_strtod(void **state) {
    char t[96];
    int n = under_valgrind() ? 20000 : 400000;
    for (int k = 0; k < n; k++) {
        int nd = 1 + (int)(rnd() % 20);
        uint64_t w = rnd() % 10;
        for (int j = 1; j < nd; j++) w = w * 10 + rnd() % 10;
        int e = (int)(rnd() % 80) - 40;
        switch (k % 4) {
        case 0:
            snprintf(t, sizeof t, "%s%llue%d", rnd() & 1 ? "-" : "", (unsigned long long)w, e);
            break;
        case 1: { /* fraction: 0.ddd or ddd.ddd */
            char digits[32];
            int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)w);
            int point = (int)(rnd() % (unsigned)(len + 1));
            snprintf(t, sizeof t, "%.*s%s.%s", point, digits, point ? "" : "0", digits + point);
            if (t[strlen(t) - 1] == '.') strcat(t, "0");
            break;
        }
        case 2: { /* a float32 or a double printed with 17 digits (what clients send) */
            double x;
            if (rnd() & 1) {
                uint32_t fb = (uint32_t)rnd();
                float f;
                memcpy(&f, &fb, sizeof f);
                x = isfinite(f) ? f : 0.5;
            } else {
                uint64_t bits = rnd();
                memcpy(&x, &bits, sizeof x);
                if (!isfinite(x)) x = 0.25;
            }
            snprintf(t, sizeof t, "%.17g", x);
            break;
        }
        default: { /* the exact halfway point between two neighbouring doubles */
            double x = (double)(rnd() % 1000000) / 1000.0 + 1.0, up = nextafter(x, 2 * x);
            snprintf(t, sizeof t, "%.40Lg", ((long double)x + (long double)up) / 2);
            break;
        }
        }
        check_text_as_strtod(t);
    }
    /* texts whose x87 result sits on a double-rounding boundary */
    const char *edge[] = {"9007199254740993",
                          "9007199254740992.5",
                          "1.00000000000000011102230246251565404",
                          "0.500000000000000027755575615628913510591",
                          "18446744073709551615",
                          "9999999999999999999e-27",
                          "1234567890123456789e27"};
    for (size_t k = 0; k < sizeof edge / sizeof *edge; k++) check_text_as_strtod(edge[k]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_parse_no_nul),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_get_copy_equal),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_fmt_known),
        cmocka_unit_test(test_fmt_random),
        cmocka_unit_test(test_jvbin_roundtrip),
        cmocka_unit_test(test_jvbin_reject),
        cmocka_unit_test(test_numbers_vs_strtod),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
