/*
 * test_collection.c - the collection layer end to end, without HTTP:
 * create, upsert, exact search against a brute-force oracle, payload and
 * vector updates, deletes, and recovery (WAL replay, checkpoint + replay,
 * reopen after a checkpoint with an empty WAL).
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/catalog.h"
#include "core/log.h"
#include "core/pool.h"
#include "collection/collection_impl.h"
#include "index/filter.h"

#define DIM  8
#define NPTS 500

static char root[256];

static uint64_t rng_state = 42;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static qv_catalog *open_cat(void) {
    qv_catalog_opts o = {root, 5, 32};
    qv_catalog *cat = NULL;
    qv_err err;
    assert_int_equal(qv_catalog_open(&o, &cat, &err), QV_OK);
    return cat;
}

static void make_config(qv_collection_config *cfg, qv_distance d) {
    qv_collection_config_defaults(cfg);
    cfg->nvectors = 1;
    cfg->vectors = qv_arena_calloc(&cfg->arena, sizeof(qv_vector_params));
    cfg->vectors[0].name = qv_arena_strndup(&cfg->arena, "", 0);
    cfg->vectors[0].size = DIM;
    cfg->vectors[0].distance = d;
}

static float data[NPTS][DIM];

/* Upserts NPTS points (id i, payload {"i": i}) in batches of 50. */
static void load(qv_collection *c) {
    for (int b = 0; b < NPTS; b += 50) {
        qv_arena a;
        qv_arena_init(&a);
        qv_update_op op = {.kind = QV_OP_UPSERT, .npoints = 50};
        op.points = qv_arena_calloc(&a, sizeof(qv_point_in) * 50);
        for (int i = 0; i < 50; i++) {
            qv_point_in *p = &op.points[i];
            p->id = qv_pointid_num((uint64_t)(b + i));
            p->nvec = 1;
            p->vecs = qv_arena_calloc(&a, sizeof(qv_vec_in));
            p->vecs[0].name = "";
            p->vecs[0].dim = DIM;
            p->vecs[0].data = qv_arena_alloc(&a, sizeof(float) * DIM);
            for (int k = 0; k < DIM; k++) p->vecs[0].data[k] = data[b + i][k] = frand();
            char text[32];
            snprintf(text, sizeof text, "{\"i\":%d}", b + i);
            p->has_payload = true;
            assert_int_equal(jv_parse(&a, text, strlen(text), &p->payload, NULL), QV_OK);
            jv_resolve_numbers(&p->payload);
        }
        uint64_t opnum;
        qv_write_status st;
        qv_err err;
        assert_int_equal(qv_collection_update(c, &op, b % 100 == 0, &opnum, &st, &err), QV_OK);
        qv_arena_free(&a);
    }
}

typedef struct hits {
    uint64_t ids[NPTS];
    float scores[NPTS];
    size_t n;
} hits;

static bool collect(void *ctx, const qv_point_view *p, float score) {
    hits *h = ctx;
    h->ids[h->n] = p->id.lo;
    h->scores[h->n++] = score;
    return true;
}

/* Brute force Dot top-k over data[] excluding deleted ids (< skip_below). */
static void check_query(qv_collection *c, const float *q, size_t k, uint64_t skip_below) {
    float qq[DIM];
    memcpy(qq, q, sizeof qq);
    qv_query query = {.kind = QV_QUERY_NEAREST, .using = "", .vector = qq, .dim = DIM, .limit = k};
    hits h = {.n = 0};
    qv_err err;
    assert_int_equal(qv_collection_query(c, &query, 1, NULL, NULL, collect, &h, &err), QV_OK);
    /* oracle: selection by score desc, id asc */
    bool used[NPTS] = {false};
    assert_int_equal(h.n, k);
    for (size_t r = 0; r < k; r++) {
        int best = -1;
        float bs = -INFINITY;
        for (int i = (int)skip_below; i < NPTS; i++) {
            if (used[i]) continue;
            float s = 0;
            for (int d = 0; d < DIM; d++) s += q[d] * data[i][d];
            if (best < 0 || s > bs) {
                best = i;
                bs = s;
            }
        }
        used[best] = true;
        assert_int_equal(h.ids[r], (uint64_t)best);
        assert_true(fabsf(h.scores[r] - bs) <= 1e-4f * fmaxf(1.0f, fabsf(bs)));
    }
}

static void delete_below(qv_collection *c, uint64_t n) {
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_DELETE, .nids = (uint32_t)n};
    op.ids = qv_arena_alloc(&a, sizeof(qv_pointid) * n);
    for (uint64_t i = 0; i < n; i++) op.ids[i] = qv_pointid_num(i);
    uint64_t opnum;
    qv_write_status st;
    assert_int_equal(qv_collection_update(c, &op, true, &opnum, &st, NULL), QV_OK);
    qv_arena_free(&a);
}

static uint64_t count(qv_collection *c) {
    uint64_t n = 0;
    assert_int_equal(qv_collection_count(c, NULL, NULL, &n, NULL), QV_OK);
    return n;
}

static void test_search_and_recovery(void **state) {
    qv_catalog *cat = open_cat();
    qv_collection_config cfg;
    make_config(&cfg, QV_DIST_DOT);
    qv_err err;
    assert_int_equal(qv_catalog_create(cat, "c1", &cfg, &err), QV_OK);
    qv_collection *c = qv_catalog_acquire(cat, "c1");
    load(c);
    assert_int_equal(count(c), NPTS);
    for (int t = 0; t < 5; t++) check_query(c, data[t * 7], 10, 0);
    qv_collection_release(c);
    /* reopen: everything comes back from the WAL (no checkpoint yet? the
     * close checkpoints; exercise both paths) */
    qv_catalog_close(cat);
    cat = open_cat();
    c = qv_catalog_acquire(cat, "c1");
    assert_non_null(c);
    assert_int_equal(count(c), NPTS);
    check_query(c, data[3], 20, 0);
    delete_below(c, 100);
    assert_int_equal(count(c), NPTS - 100);
    check_query(c, data[200], 10, 100);
    qv_collection_release(c);
    qv_catalog_close(cat);
    cat = open_cat();
    c = qv_catalog_acquire(cat, "c1");
    assert_int_equal(count(c), NPTS - 100);
    check_query(c, data[300], 10, 100);
    qv_collection_release(c);
    bool existed;
    assert_int_equal(qv_catalog_delete(cat, "c1", &existed, &err), QV_OK);
    assert_true(existed);
    assert_null(qv_catalog_acquire(cat, "c1"));
    qv_catalog_close(cat);
}

static void test_wrong_dimension_changes_nothing(void **state) {
    qv_catalog *cat = open_cat();
    qv_collection_config cfg;
    make_config(&cfg, QV_DIST_COSINE);
    qv_err err;
    assert_int_equal(qv_catalog_create(cat, "c2", &cfg, &err), QV_OK);
    qv_collection *c = qv_catalog_acquire(cat, "c2");
    float v[3] = {1, 2, 3};
    qv_vec_in vin = {"", 3, v};
    qv_point_in p = {.id = qv_pointid_num(1), .nvec = 1, .vecs = &vin};
    qv_update_op op = {.kind = QV_OP_UPSERT, .npoints = 1, .points = &p};
    uint64_t opnum;
    qv_write_status st;
    assert_int_equal(qv_collection_update(c, &op, true, &opnum, &st, &err), QV_EBADINPUT);
    assert_string_equal(err.msg, "Vector dimension error: expected dim: 8, got 3");
    assert_int_equal(count(c), 0);
    assert_int_equal(wal_last_op(c->wal), 0);
    qv_collection_release(c);
    qv_catalog_close(cat);
}

typedef struct batch_ctx {
    hits *h;
    size_t cur;
} batch_ctx;

static void batch_begin(void *ctx, size_t i) {
    batch_ctx *b = ctx;
    b->cur = i;
    b->h[i].n = 0;
}

static bool batch_collect(void *ctx, const qv_point_view *p, float score) {
    batch_ctx *b = ctx;
    return collect(&b->h[b->cur], p, score);
}

/* A segment large enough for the scan to be split over the search pool:
 * results must equal a brute-force top-k, with and without a filter-free
 * batch of several queries sharing the pass. */
#define BIG  40000
#define BDIM 4
static float big[BIG][BDIM];

static void test_parallel_scan_matches_brute_force(void **state) {
    qv_catalog *cat = open_cat();
    qv_collection_config cfg;
    make_config(&cfg, QV_DIST_EUCLID);
    cfg.vectors[0].size = BDIM;
    qv_err err;
    assert_int_equal(qv_catalog_create(cat, "big", &cfg, &err), QV_OK);
    qv_collection *c = qv_catalog_acquire(cat, "big");
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_UPSERT, .npoints = BIG};
    op.points = qv_arena_calloc(&a, sizeof(qv_point_in) * BIG);
    qv_vec_in *vins = qv_arena_calloc(&a, sizeof(qv_vec_in) * BIG);
    for (int i = 0; i < BIG; i++) {
        for (int k = 0; k < BDIM; k++) big[i][k] = frand();
        vins[i] = (qv_vec_in){"", BDIM, big[i]};
        op.points[i] =
            (qv_point_in){.id = qv_pointid_num((uint64_t)i), .nvec = 1, .vecs = &vins[i]};
    }
    uint64_t opnum;
    qv_write_status st;
    assert_int_equal(qv_collection_update(c, &op, false, &opnum, &st, &err), QV_OK);
    qv_arena_free(&a);
    enum { NQ = 12, K = 7 }; /* 12 queries: the block-kernel path (>= 9) */
    float qs[NQ][BDIM];
    qv_query q[NQ];
    for (int i = 0; i < NQ; i++) {
        for (int k = 0; k < BDIM; k++) qs[i][k] = frand();
        q[i] = (qv_query){
            .kind = QV_QUERY_NEAREST, .using = "", .vector = qs[i], .dim = BDIM, .limit = K};
    }
    /* once as one batch (one shared pass), once query by query */
    static hits h[NQ], h1[NQ];
    batch_ctx bc = {h, 0};
    assert_int_equal(qv_collection_query(c, q, NQ, NULL, batch_begin, batch_collect, &bc, &err),
                     QV_OK);
    for (int i = 0; i < NQ; i++) {
        h1[i].n = 0;
        assert_int_equal(qv_collection_query(c, &q[i], 1, NULL, NULL, collect, &h1[i], &err),
                         QV_OK);
        assert_int_equal(h1[i].n, h[i].n);
        assert_memory_equal(h1[i].ids, h[i].ids, sizeof(uint64_t) * h[i].n);
    }
    for (int i = 0; i < NQ; i++) {
        bool used[BIG] = {false};
        for (int r = 0; r < K; r++) {
            int best = -1;
            float bd = INFINITY;
            for (int p = 0; p < BIG; p++) {
                if (used[p]) continue;
                float d = 0;
                for (int k = 0; k < BDIM; k++) d += (qs[i][k] - big[p][k]) * (qs[i][k] - big[p][k]);
                if (d < bd) {
                    bd = d;
                    best = p;
                }
            }
            used[best] = true;
            assert_int_equal(h[i].ids[r], (uint64_t)best);
            assert_true(fabsf(h[i].scores[r] - sqrtf(bd)) <= 1e-5f);
        }
    }
    qv_collection_release(c);
    qv_catalog_close(cat);
}

static void test_names(void **state) {
    assert_int_equal(qv_catalog_check_name("ok-name_1", NULL), QV_OK);
    const char *bad[] = {"", "a/b", "a\\b", "a:b", "a*b", "..", ".", "a\x01", "a?b", "a|b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(qv_catalog_check_name(bad[i], NULL), QV_EVALIDATION);
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = '\0';
    assert_int_equal(qv_catalog_check_name(longname, NULL), QV_EVALIDATION);
}

int main(void) {
    qv_log_set_level(QV_LOG_LVL_ERROR);
    snprintf(root, sizeof root, "/tmp/qv-test-collection-XXXXXX");
    if (!mkdtemp(root)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_and_recovery),
        cmocka_unit_test(test_wrong_dimension_changes_nothing),
        cmocka_unit_test(test_parallel_scan_matches_brute_force),
        cmocka_unit_test(test_names),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    qv_pool_search_shutdown();
    qv_rmtree(root);
    return rc;
}
