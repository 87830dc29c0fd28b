/*
 * test_ratelimit.c - the per-minute token bucket (core/ratelimit) and the
 * strict-mode checks built on it (collection/strict).
 *
 * Time is passed in by hand, so every expectation is exact and nothing
 * sleeps: the bucket reads no clock.  The strict-mode part checks the
 * verdicts and Qdrant's message texts on hand-built configs, queries and
 * filters (the HTTP and gRPC paths are covered by tests/py and tests/grpc).
 */
#include "harness.h"

#include <math.h>
#include <string.h>

#include "collection/strict.h"
#include "core/ratelimit.h"

/* ---- the bucket ------------------------------------------------------- */

static void test_bucket_starts_full_then_refuses(void **state) {
    qv_ratelimit r;
    qv_ratelimit_init(&r, 3, 100.0);
    for (int i = 0; i < 3; i++) assert_int_equal(qv_ratelimit_take(&r, 1, 100.0, NULL, NULL), 0);
    double avail = -1, wait = -1;
    assert_int_equal(qv_ratelimit_take(&r, 1, 100.0, &avail, &wait), QV_RATELIMIT_WAIT);
    assert_true(avail == 0.0);
    /* 3 per minute = one token every 20 s */
    assert_true(fabs(wait - 20.0) < 1e-9);
}

static void test_bucket_refills_at_the_rate(void **state) {
    qv_ratelimit r;
    qv_ratelimit_init(&r, 60, 0.0); /* one token per second */
    assert_int_equal(qv_ratelimit_take(&r, 60, 0.0, NULL, NULL), QV_RATELIMIT_OK);
    double avail, wait;
    assert_int_equal(qv_ratelimit_take(&r, 2, 1.5, &avail, &wait), QV_RATELIMIT_WAIT);
    assert_true(fabs(avail - 1.5) < 1e-9);
    assert_true(fabs(wait - 0.5) < 1e-9);
    /* a refused take takes nothing: at 2.0 s exactly two tokens are there */
    assert_int_equal(qv_ratelimit_take(&r, 2, 2.0, NULL, NULL), QV_RATELIMIT_OK);
    assert_int_equal(qv_ratelimit_take(&r, 1, 2.0, NULL, NULL), QV_RATELIMIT_WAIT);
}

static void test_bucket_never_exceeds_capacity(void **state) {
    qv_ratelimit r;
    qv_ratelimit_init(&r, 10, 0.0);
    double avail;
    /* an hour idle still leaves only a minute's worth */
    assert_int_equal(qv_ratelimit_take(&r, 1, 3600.0, &avail, NULL), QV_RATELIMIT_OK);
    assert_true(avail == 10.0);
    assert_int_equal(qv_ratelimit_take(&r, 9, 3600.0, NULL, NULL), QV_RATELIMIT_OK);
    assert_int_equal(qv_ratelimit_take(&r, 1, 3600.0, NULL, NULL), QV_RATELIMIT_WAIT);
}

static void test_bucket_oversized_cost_never_passes(void **state) {
    qv_ratelimit r;
    qv_ratelimit_init(&r, 5, 0.0);
    assert_int_equal(qv_ratelimit_take(&r, 6, 1e6, NULL, NULL), QV_RATELIMIT_NEVER);
    /* and it took nothing */
    assert_int_equal(qv_ratelimit_take(&r, 5, 1e6, NULL, NULL), QV_RATELIMIT_OK);
}

static void test_bucket_clock_step_back(void **state) {
    qv_ratelimit r;
    qv_ratelimit_init(&r, 60, 50.0);
    assert_int_equal(qv_ratelimit_take(&r, 60, 50.0, NULL, NULL), QV_RATELIMIT_OK);
    /* an earlier time refills nothing (and does not go negative) */
    double avail;
    assert_int_equal(qv_ratelimit_take(&r, 1, 10.0, &avail, NULL), QV_RATELIMIT_WAIT);
    assert_true(avail == 0.0);
    assert_int_equal(qv_ratelimit_take(&r, 1, 51.0, NULL, NULL), QV_RATELIMIT_OK);
}

/* ---- the limiter: Qdrant's messages and retry_after ------------------- */

static void test_limiter_message_and_retry_after(void **state) {
    qv_strict_config c;
    qv_strict_config_defaults(&c);
    c.enabled.v = true;
    c.write_rate_limit = (qv_opt_u64){true, 2};
    qv_strict_limiter l;
    qv_strict_limiter_init(&l, &c);
    qv_err err;
    qv_err_clear(&err);
    assert_int_equal(qv_strict_charge(&l, true, 2, &err), QV_OK);
    assert_int_equal(qv_strict_charge(&l, false, 1000, &err), QV_OK); /* no read limit */
    assert_int_equal(qv_strict_charge(&l, true, 1, &err), QV_ERATELIMITED);
    /* 2 per minute: the next token is 30 s away (minus the test's runtime) */
    assert_in_range(err.retry_after, 29, 30);
    assert_non_null(strstr(err.msg, "Write rate limit exceeded: Operation requires 1 tokens but "
                                    "only 0.0 were available. Retry after "));
    qv_err_clear(&err);
    assert_int_equal(qv_strict_charge(&l, true, 3, &err), QV_ERATELIMITED);
    assert_int_equal(err.retry_after, 0); /* waiting cannot help */
    assert_non_null(strstr(err.msg, "larger than than rate limiter capacity"));
    /* disabling strict mode removes the limits */
    c.enabled.v = false;
    qv_strict_limiter_reset(&l, &c);
    assert_int_equal(qv_strict_charge(&l, true, 1000, &err), QV_OK);
    qv_strict_limiter_destroy(&l);
}

/* ---- request checks ----------------------------------------------------- */

static qv_strict_config enabled_config(void) {
    qv_strict_config c;
    qv_strict_config_defaults(&c);
    c.enabled.v = true;
    return c;
}

static void test_query_limits(void **state) {
    qv_strict_config c = enabled_config();
    c.max_query_limit = (qv_opt_u64){true, 4};
    c.search_allow_exact = (qv_opt_bool){true, false};
    c.search_max_batchsize = (qv_opt_u64){true, 2};
    c.max_timeout = (qv_opt_u64){true, 2};
    qv_query q[3];
    memset(q, 0, sizeof q);
    for (int i = 0; i < 3; i++) q[i].limit = 4;
    qv_err err;
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 1, NULL, &err), QV_OK);
    q[0].limit = 5;
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 1, NULL, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Limit exceeded 5 > 4 for \"limit\". Help: Reduce the \"limit\" "
                                 "parameter to or below 4.");
    q[0].limit = 4;
    q[0].exact = true;
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 1, NULL, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Exact search disabled!. Help: Set exact=false.");
    q[0].exact = false;
    qv_read_opts batch = {true, false, 0};
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 2, &batch, &err), QV_OK);
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 3, &batch, &err), QV_EBADREQUEST);
    assert_non_null(strstr(err.msg, "for \"search batch size\""));
    qv_read_opts slow = {false, true, 3};
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 1, &slow, &err), QV_EBADREQUEST);
    assert_non_null(strstr(err.msg, "Limit exceeded 3 > 2 for \"timeout\""));
    /* disabled: nothing is checked */
    c.enabled.v = false;
    q[0].limit = 1000;
    assert_int_equal(qv_strict_check_queries(&c, NULL, q, 3, &slow, &err), QV_OK);
}

/* A filter {must: [match any of n ints on key, match keyword on key2]}. */
static qv_filter *two_conditions(qv_arena *a, size_t n) {
    qv_filter *f = qv_filter_new(a);
    qv_keypath *k1, *k2;
    assert_int_equal(qv_keypath_parse(a, "price", 5, &k1, NULL), QV_OK);
    assert_int_equal(qv_keypath_parse(a, "city", 4, &k2, NULL), QV_OK);
    /* (a push may move the list: fill each condition before the next) */
    qv_filter_cond *c1 = qv_filter_list_push(a, &f->must);
    c1->kind = QV_FILTER_COND_MATCH;
    c1->key = k1;
    c1->u.match.kind = QV_FILTER_MATCH_ANY_INT;
    c1->u.match.v.set.ints = qv_arena_calloc(a, sizeof(int64_t) * (n + 1));
    c1->u.match.v.set.n = n;
    qv_filter_cond *c2 = qv_filter_list_push(a, &f->must);
    c2->kind = QV_FILTER_COND_MATCH;
    c2->key = k2;
    c2->u.match.kind = QV_FILTER_MATCH_KEYWORD;
    c2->u.match.v.str = (qv_filter_str){"Berlin", 6};
    return f;
}

static void test_filter_limits_and_indexes(void **state) {
    qv_arena a;
    qv_arena_init(&a);
    qv_strict_config c = enabled_config();
    qv_err err;
    qv_filter *f = two_conditions(&a, 3);
    assert_int_equal(qv_strict_filter_cost(f), 2);
    c.filter_max_conditions = (qv_opt_u64){true, 1};
    assert_int_equal(qv_strict_check_read(&c, NULL, f, 10, NULL, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Filter condition limit reached (2 > 1). Help: Reduce the amount "
                                 "of conditions of your filter.");
    c.filter_max_conditions.has = false;
    c.condition_max_size = (qv_opt_u64){true, 2};
    assert_int_equal(qv_strict_check_read(&c, NULL, f, 10, NULL, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg,
                        "Condition size limit reached (3 > 2). Help: Reduce the size of your "
                        "condition.");
    c.condition_max_size.has = false;
    /* unindexed keys: the first one without a fitting index is named */
    c.unindexed_filtering_retrieve = (qv_opt_bool){true, false};
    qv_index_set ix = {0};
    assert_int_equal(qv_strict_check_read(&c, &ix, f, 10, NULL, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Index required but not found for \"price\" of one of the "
                                 "following types: [integer]. Help: Create an index for this key "
                                 "or use a different filter.");
    assert_int_equal(qv_index_set_put(&ix, "price", QV_PT_INTEGER, NULL), QV_OK);
    assert_int_equal(qv_strict_check_read(&c, &ix, f, 10, NULL, &err), QV_EBADREQUEST);
    assert_non_null(strstr(err.msg, "\"city\" of one of the following types: [keyword, uuid]"));
    /* an index of the wrong type does not serve a keyword match */
    assert_int_equal(qv_index_set_put(&ix, "city", QV_PT_INTEGER, NULL), QV_OK);
    assert_int_equal(qv_strict_check_read(&c, &ix, f, 10, NULL, &err), QV_EBADREQUEST);
    assert_int_equal(qv_index_set_put(&ix, "city", QV_PT_KEYWORD, NULL), QV_OK);
    assert_int_equal(qv_strict_check_read(&c, &ix, f, 10, NULL, &err), QV_OK);
    /* the update flag governs filtered writes, not reads */
    c.unindexed_filtering_retrieve.has = false;
    c.unindexed_filtering_update = (qv_opt_bool){true, false};
    qv_index_set none = {0};
    assert_int_equal(qv_strict_check_read(&c, &none, f, 10, NULL, &err), QV_OK);
    qv_update_op op;
    memset(&op, 0, sizeof op);
    op.kind = QV_OP_DELETE;
    op.filter = f;
    assert_int_equal(qv_strict_check_update(&c, &none, &op, 0, 0, &err), QV_EBADREQUEST);
    assert_non_null(strstr(err.msg, "Index required but not found for \"price\""));
    qv_index_set_free(&ix);
    qv_arena_free(&a);
}

static void test_update_limits(void **state) {
    qv_strict_config c = enabled_config();
    c.upsert_max_batchsize = (qv_opt_u64){true, 2};
    c.max_points_count = (qv_opt_u64){true, 10};
    c.max_collection_vector_size_bytes = (qv_opt_u64){true, 240};
    qv_update_op op;
    memset(&op, 0, sizeof op);
    op.kind = QV_OP_UPSERT;
    op.npoints = 3;
    qv_err err;
    assert_int_equal(qv_strict_check_update(&c, NULL, &op, 0, 0, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Limit exceeded 3 > 2 for \"upsert limit\". Help: Reduce the "
                                 "\"upsert limit\" parameter to or below 2.");
    op.kind = QV_OP_UPDATE_VECTORS;
    assert_int_equal(qv_strict_check_update(&c, NULL, &op, 0, 0, &err), QV_EBADREQUEST);
    assert_non_null(strstr(err.msg, "for \"update limit\""));
    op.kind = QV_OP_UPSERT;
    op.npoints = 2;
    assert_int_equal(qv_strict_check_update(&c, NULL, &op, 9, 239, &err), QV_OK);
    assert_int_equal(qv_strict_check_update(&c, NULL, &op, 9, 240, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Max vector storage size limit of 0.00022888184MB reached!");
    assert_int_equal(qv_strict_check_update(&c, NULL, &op, 10, 0, &err), QV_EBADREQUEST);
    assert_string_equal(err.msg, "Max points count limit of 10 reached!");
    /* deletes are never blocked by the size limits */
    op.kind = QV_OP_DELETE;
    assert_int_equal(qv_strict_check_update(&c, NULL, &op, 100, 1000, &err), QV_OK);
}

/* ---- persisted form ------------------------------------------------------- */

static void test_config_json_roundtrip(void **state) {
    qv_strict_config c = enabled_config();
    c.max_query_limit = (qv_opt_u64){true, 10};
    c.search_allow_exact = (qv_opt_bool){true, false};
    c.search_max_oversampling = (qv_opt_f64){true, 1.5};
    jw w;
    jw_init(&w);
    qv_strict_config_write_json(&w, &c);
    assert_false(w.oom);
    const char *want = "{\"enabled\":true,\"max_query_limit\":10,\"search_allow_exact\":false,"
                       "\"search_max_oversampling\":1.5}";
    assert_int_equal(w.len, strlen(want));
    assert_memory_equal(w.buf, want, w.len);
    qv_arena a;
    qv_arena_init(&a);
    jv j;
    assert_int_equal(jv_parse(&a, w.buf, w.len, &j, NULL), QV_OK);
    qv_strict_config back;
    assert_int_equal(qv_strict_config_read_json(&a, &j, &back, NULL), QV_OK);
    assert_true(back.enabled.has && back.enabled.v);
    assert_true(back.max_query_limit.has && back.max_query_limit.v == 10);
    assert_true(back.search_allow_exact.has && !back.search_allow_exact.v);
    assert_true(back.search_max_oversampling.has && back.search_max_oversampling.v == 1.5);
    assert_false(back.read_rate_limit.has);
    /* never configured: Qdrant's default {"enabled": false} */
    qv_strict_config d;
    qv_strict_config_defaults(&d);
    jw_free(&w);
    jw_init(&w);
    qv_strict_config_write_json(&w, &d);
    assert_int_equal(w.len, 17);
    assert_memory_equal(w.buf, "{\"enabled\":false}", 17);
    jw_free(&w);
    qv_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_starts_full_then_refuses),
        cmocka_unit_test(test_bucket_refills_at_the_rate),
        cmocka_unit_test(test_bucket_never_exceeds_capacity),
        cmocka_unit_test(test_bucket_oversized_cost_never_passes),
        cmocka_unit_test(test_bucket_clock_step_back),
        cmocka_unit_test(test_limiter_message_and_retry_after),
        cmocka_unit_test(test_query_limits),
        cmocka_unit_test(test_filter_limits_and_indexes),
        cmocka_unit_test(test_update_limits),
        cmocka_unit_test(test_config_json_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
