/*
 * test_search.c - exact search (src/collection/search.c) against a brute
 * force in double precision, and batches against single queries.
 *
 * Segments of SMALL points (one scan) and BIG points (above the size that
 * splits the scan over the search pool) per distance, at a dimension that
 * is not a multiple of any SIMD width and at 384, with every 7th point
 * deleted.  Each query set mixes limits, offsets, score thresholds (set
 * halfway between two brute-force scores, so rounding cannot move a point
 * across), a has_id filter and a query by point ID (which excludes the
 * point itself).  Each query is run alone and in batches of 2, 5, 8 and 16
 * (the scan shares one pass per batch): the hits, scores included, must be
 * bitwise the same whatever the batch, and must match the brute force: the
 * r-th score within a tolerance, every hit's own score likewise, and the
 * number of hits exactly.  Ties are not compared by ID (random data has
 * none within the tolerance that matter).
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/catalog.h"
#include "collection/collection_impl.h"
#include "core/log.h"
#include "core/pool.h"
#include "index/filter.h"

#define SMALL   700
#define BIG     20000 /* above search.c's PAR_MIN_POINTS */
#define NQ      16
#define MAX_HIT 64
#define REL_TOL 1e-4

static char root[256];
static uint64_t rng_state = 7;

static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

typedef struct hits {
    uint64_t ids[MAX_HIT];
    float scores[MAX_HIT];
    size_t n;
} hits;

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
    hits *h = &b->h[b->cur];
    assert_true(h->n < MAX_HIT);
    h->ids[h->n] = p->id.lo;
    h->scores[h->n++] = score;
    return true;
}

/* The score Quiver defines for stored vector v (Cosine: both normalised). */
static double ref_score(qv_distance d, const float *q, const float *v, size_t dim) {
    double s = 0, nq = 0, nv = 0;
    for (size_t i = 0; i < dim; i++) {
        double a = q[i], b = v[i];
        switch (d) {
        case QV_DIST_EUCLID:
            s += (a - b) * (a - b);
            break;
        case QV_DIST_MANHATTAN:
            s += fabs(a - b);
            break;
        default:
            s += a * b;
            nq += a * a;
            nv += b * b;
            break;
        }
    }
    if (d == QV_DIST_EUCLID) return sqrt(s);
    if (d == QV_DIST_COSINE) return s / (sqrt(nq) * sqrt(nv));
    return s;
}

typedef struct ranked {
    double score;
    uint32_t i;
} ranked;

static int higher_first(const void *a, const void *b) {
    double x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* One collection of n points at dim, distance d, every 7th point deleted. */
typedef struct fixture {
    qv_catalog *cat;
    qv_collection *c;
    float *data; /* n x dim as upserted */
    size_t n, dim;
    qv_distance d;
} fixture;

static void fixture_open(fixture *f, const char *name, qv_distance d, size_t n, size_t dim) {
    qv_catalog_opts o = {root, 5, 32};
    qv_err err;
    assert_int_equal(qv_catalog_open(&o, &f->cat, &err), QV_OK);
    qv_collection_config cfg;
    qv_collection_config_defaults(&cfg);
    cfg.nvectors = 1;
    cfg.vectors = qv_arena_calloc(&cfg.arena, sizeof(qv_vector_params));
    cfg.vectors[0].name = qv_arena_strndup(&cfg.arena, "", 0);
    cfg.vectors[0].size = (uint32_t)dim;
    cfg.vectors[0].distance = d;
    /* the exact scan is under test: no optimizer may index (and, under
     * valgrind, spend minutes building a graph) behind its back */
    cfg.optimizer.indexing_threshold = (qv_opt_u64){true, 0};
    assert_int_equal(qv_catalog_create(f->cat, name, &cfg, &err), QV_OK);
    f->c = qv_catalog_acquire(f->cat, name);
    f->data = malloc(sizeof(float) * n * dim);
    assert_non_null(f->data);
    f->n = n;
    f->dim = dim;
    f->d = d;
    for (size_t i = 0; i < n * dim; i++) f->data[i] = frand();
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_UPSERT, .npoints = (uint32_t)n};
    op.points = qv_arena_calloc(&a, sizeof(qv_point_in) * n);
    qv_vec_in *vins = qv_arena_calloc(&a, sizeof(qv_vec_in) * n);
    for (size_t i = 0; i < n; i++) {
        vins[i] = (qv_vec_in){"", (uint32_t)dim, f->data + i * dim};
        op.points[i] = (qv_point_in){.id = qv_pointid_num(i), .nvec = 1, .vecs = &vins[i]};
    }
    uint64_t opnum;
    qv_write_status st;
    assert_int_equal(qv_collection_update(f->c, &op, false, &opnum, &st, &err), QV_OK);
    qv_update_op del = {.kind = QV_OP_DELETE};
    del.ids = qv_arena_alloc(&a, sizeof(qv_pointid) * (n / 7 + 1));
    for (size_t i = 0; i < n; i += 7) del.ids[del.nids++] = qv_pointid_num(i);
    assert_int_equal(qv_collection_update(f->c, &del, false, &opnum, &st, &err), QV_OK);
    qv_arena_free(&a);
}

static void fixture_close(fixture *f) {
    qv_collection_release(f->c);
    qv_catalog_close(f->cat);
    free(f->data);
}

static bool deleted(size_t i) {
    return i % 7 == 0;
}

/* Query j of a set: its vector (or the stored point it names), limit,
 * offset, threshold and filter. */
typedef struct qspec {
    float vec[384];
    qv_query q;
    const float *ref_vec; /* what the brute force scores against */
    bool only_thirds;     /* has_id: ids divisible by 3 */
} qspec;

/* Brute-force ranking of query s (higher-is-better order). */
static size_t brute(const fixture *f, const qspec *s, ranked *out) {
    bool higher = qv_distance_higher_is_better(f->d);
    size_t m = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (deleted(i) || (s->only_thirds && i % 3 != 0)) continue;
        if (s->q.kind == QV_QUERY_NEAREST_ID && i == s->q.id.lo) continue;
        double sc = ref_score(f->d, s->ref_vec, f->data + i * f->dim, f->dim);
        out[m++] = (ranked){higher ? sc : -sc, (uint32_t)i};
    }
    qsort(out, m, sizeof(ranked), higher_first);
    return m;
}

static void make_queries(const fixture *f, qspec *qs, qv_arena *a, ranked *scratch) {
    static const size_t limits[] = {10, 1, 25, 10, 3, 40, 10, 7};
    qv_filter *thirds = qv_filter_new(a);
    qv_filter_cond *cond = qv_filter_list_push(a, &thirds->must);
    cond->kind = QV_FILTER_COND_HAS_ID;
    qv_pointid *ids = qv_arena_alloc(a, sizeof(qv_pointid) * (f->n / 3 + 1));
    size_t nid = 0;
    for (size_t i = 0; i < f->n; i += 3) ids[nid++] = qv_pointid_num(i);
    assert_true(qv_filter_set_ids(a, cond, ids, nid));
    for (size_t j = 0; j < NQ; j++) {
        qspec *s = &qs[j];
        memset(s, 0, sizeof *s);
        for (size_t k = 0; k < f->dim; k++) s->vec[k] = frand();
        s->q = (qv_query){.kind = QV_QUERY_NEAREST,
                          .using = "",
                          .vector = s->vec,
                          .dim = (uint32_t)f->dim,
                          .limit = limits[j % 8],
                          .offset = j % 5 == 4 ? 2 : 0};
        s->ref_vec = s->vec;
        if (j % 4 == 1) {
            s->only_thirds = true;
            s->q.filter = thirds;
        }
        if (j == 6) { /* by ID: the stored point, itself excluded */
            s->q.kind = QV_QUERY_NEAREST_ID;
            s->q.vector = NULL;
            s->q.id = qv_pointid_num(5);
            s->ref_vec = f->data + 5 * f->dim;
        }
        if (j % 6 == 3) { /* a threshold between the 6th and 7th best */
            size_t m = brute(f, s, scratch);
            assert_true(m > 7);
            double mid = (scratch[5].score + scratch[6].score) / 2;
            s->q.has_threshold = true;
            s->q.score_threshold = (float)(qv_distance_higher_is_better(f->d) ? mid : -mid);
        }
    }
}

/* Runs queries [from, from + n) as one batch into out[from..]. */
static void run_batch(const fixture *f, qspec *qs, size_t from, size_t n, hits *out) {
    qv_query q[NQ];
    float *mine[NQ]; /* the query keeps no pointer we own: by ID it borrows the point's */
    for (size_t j = 0; j < n; j++) {
        q[j] = qs[from + j].q;
        mine[j] = NULL;
        if (q[j].vector) { /* Cosine normalises in place: give each run a fresh copy */
            q[j].vector = mine[j] = malloc(sizeof(float) * f->dim);
            memcpy(mine[j], qs[from + j].vec, sizeof(float) * f->dim);
        }
    }
    batch_ctx bc = {out + from, 0};
    qv_err err;
    assert_int_equal(qv_collection_query(f->c, q, n, NULL, batch_begin, batch_collect, &bc, &err),
                     QV_OK);
    for (size_t j = 0; j < n; j++) free(mine[j]);
}

static void check_brute(const fixture *f, const qspec *s, const hits *h, ranked *scratch) {
    bool higher = qv_distance_higher_is_better(f->d);
    size_t m = brute(f, s, scratch);
    if (s->q.has_threshold) {
        double t = higher ? s->q.score_threshold : -s->q.score_threshold;
        while (m > 0 && !(scratch[m - 1].score > t)) m--;
    }
    size_t want = m > s->q.offset ? m - s->q.offset : 0;
    if (want > s->q.limit) want = s->q.limit;
    assert_int_equal(h->n, want);
    for (size_t r = 0; r < h->n; r++) {
        double exp = scratch[s->q.offset + r].score, got = higher ? h->scores[r] : -h->scores[r];
        double tol = REL_TOL * fmax(1.0, fabs(exp));
        if (fabs(got - exp) > tol)
            fail_msg("%s dim %zu n %zu: rank %zu score %.7g, brute force %.7g",
                     qv_distance_name(f->d), f->dim, f->n, r, got, exp);
        uint64_t id = h->ids[r];
        assert_true(id < f->n && !deleted(id));
        double own = ref_score(f->d, s->ref_vec, f->data + id * f->dim, f->dim);
        assert_true(fabs(own - h->scores[r]) <= tol);
        if (r > 0)
            assert_true(higher ? h->scores[r] <= h->scores[r - 1]
                               : h->scores[r] >= h->scores[r - 1]);
    }
}

static void check_collection(const char *name, qv_distance d, size_t n, size_t dim) {
    fixture f;
    fixture_open(&f, name, d, n, dim);
    qv_arena a;
    qv_arena_init(&a);
    ranked *scratch = malloc(sizeof(ranked) * n);
    static qspec qs[NQ];
    static hits alone[NQ], batched[NQ];
    assert_non_null(scratch);
    make_queries(&f, qs, &a, scratch);
    for (size_t j = 0; j < NQ; j++) {
        run_batch(&f, qs, j, 1, alone);
        check_brute(&f, &qs[j], &alone[j], scratch);
    }
    static const size_t sizes[] = {2, 5, 8, NQ};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        memset(batched, 0, sizeof batched);
        for (size_t from = 0; from < NQ; from += sizes[si])
            run_batch(&f, qs, from, from + sizes[si] <= NQ ? sizes[si] : NQ - from, batched);
        for (size_t j = 0; j < NQ; j++) {
            assert_int_equal(batched[j].n, alone[j].n);
            assert_memory_equal(batched[j].ids, alone[j].ids, sizeof(uint64_t) * alone[j].n);
            assert_memory_equal(batched[j].scores, alone[j].scores, sizeof(float) * alone[j].n);
        }
    }
    free(scratch);
    qv_arena_free(&a);
    fixture_close(&f);
}

static void test_every_distance_small_and_split(void **state) {
    (void)state;
    static const qv_distance ds[] = {QV_DIST_COSINE, QV_DIST_EUCLID, QV_DIST_DOT,
                                     QV_DIST_MANHATTAN};
    for (size_t i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "small%zu", i);
        check_collection(name, ds[i], SMALL, 19);
        snprintf(name, sizeof name, "big%zu", i);
        check_collection(name, ds[i], BIG, 19);
    }
}

static void test_embedding_size(void **state) {
    (void)state;
    check_collection("e384", QV_DIST_COSINE, BIG, 384);
    check_collection("e384l2", QV_DIST_EUCLID, SMALL, 384);
}

int main(void) {
    qv_log_set_level(QV_LOG_LVL_ERROR);
    snprintf(root, sizeof root, "/tmp/qv-test-search-XXXXXX");
    if (!mkdtemp(root)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_distance_small_and_split),
        cmocka_unit_test(test_embedding_size),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    qv_pool_search_shutdown();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
