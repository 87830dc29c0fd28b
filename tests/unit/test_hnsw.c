/*
 * test_hnsw.c - the HNSW index (index/hnsw): recall against exact search,
 * filters and deletes, incremental and parallel builds, the graph validator,
 * persistence and corrupted files, and the degenerate cases.
 *
 * Data is a seeded mixture of anisotropic Gaussian clusters of low intrinsic
 * dimension (each cluster spreads mostly along a few random directions, with
 * a little isotropic noise), which behaves like real embeddings; plain
 * Gaussian noise would make every method look bad and say little.  The
 * oracle is brute force with the scalar kernel, sorted best first with ties
 * by id, as the exact scan sorts.
 *
 * Sizes keep the whole file to a few seconds on 2 shared cores; under
 * valgrind (QV_UNDER_VALGRIND, set by `make valgrind`) and in sanitizer
 * builds the data shrinks.
 * Recall figures are printed; assertions are on recall and correctness only,
 * never on time.
 */
#include "harness.h"

#include "core/crc32c.h"
#include "core/distance.h"
#include "index/hnsw.h"
#include "index/qcodes.h"

#include <fcntl.h>
#include <pthread.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define K 10

/* Header size and field offsets, from the format comment in hnsw_io.c. */
#define FILE_HDR    64
#define OFF_VERSION 8
#define OFF_N       40
#define OFF_ENTRY   44

/* Sanitizer builds run 5-20x slower: they get the valgrind sizes. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* True when the data should shrink: under valgrind or a sanitizer. */
static bool under_valgrind(void) {
    return SANITIZED || getenv("QV_UNDER_VALGRIND") != NULL;
}

/* =========================================================================
 * Seeded data
 * ========================================================================= */

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static double rng_unit(uint64_t *s) {
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_gauss(uint64_t *s) {
    double u = rng_unit(s), v = rng_unit(s);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

#define RANK 24 /* directions per cluster */

typedef struct dataset {
    size_t n, nq, dim;
    float *base;    /* n x dim */
    float *queries; /* nq x dim */
} dataset;

/* One point of cluster c: centre + spread along the cluster's directions +
 * small noise; normalised if asked. */
static void gen_point(const float *centres, const float *dirs, size_t nclusters, size_t dim,
                      uint64_t *s, bool normalise, float *out) {
    size_t c = rng_next(s) % nclusters;
    memcpy(out, centres + c * dim, dim * sizeof *out);
    for (size_t r = 0; r < RANK; r++) {
        float g = rng_gauss(s) * (0.9f / sqrtf((float)(r + 1)));
        const float *d = dirs + (c * RANK + r) * dim;
        for (size_t i = 0; i < dim; i++) out[i] += g * d[i];
    }
    for (size_t i = 0; i < dim; i++) out[i] += 0.25f * rng_gauss(s);
    if (normalise) qv_normalize(out, dim);
}

static dataset make_data(size_t n, size_t nq, size_t dim, size_t nclusters, uint64_t seed,
                         bool normalise) {
    dataset d = {n, nq, dim, malloc(n * dim * sizeof(float) + 1),
                 malloc(nq * dim * sizeof(float) + 1)};
    assert_non_null(d.base);
    assert_non_null(d.queries);
    float *centres = malloc(nclusters * dim * sizeof *centres);
    float *dirs = malloc(nclusters * RANK * dim * sizeof *dirs);
    assert_non_null(centres);
    assert_non_null(dirs);
    uint64_t s = seed;
    for (size_t i = 0; i < nclusters * dim; i++) centres[i] = rng_gauss(&s) / sqrtf((float)dim);
    for (size_t i = 0; i < nclusters * RANK; i++) {
        for (size_t j = 0; j < dim; j++) dirs[i * dim + j] = rng_gauss(&s);
        qv_normalize(dirs + i * dim, dim);
    }
    for (size_t i = 0; i < n; i++)
        gen_point(centres, dirs, nclusters, dim, &s, normalise, d.base + i * dim);
    for (size_t i = 0; i < nq; i++)
        gen_point(centres, dirs, nclusters, dim, &s, normalise, d.queries + i * dim);
    free(centres);
    free(dirs);
    return d;
}

static void free_data(dataset *d) {
    free(d->base);
    free(d->queries);
}

static qv_hnsw_store store_of(const dataset *d) {
    return (qv_hnsw_store){.base = d->base, .stride = d->dim};
}

/* =========================================================================
 * The oracle: exact top-k with the scalar kernel
 * ========================================================================= */

typedef struct ex_hit {
    float score;
    uint32_t id;
} ex_hit;

/* True when hit a ranks before hit b: better score, then smaller id. */
static bool ex_before(ex_hit a, ex_hit b, bool higher) {
    if (a.score != b.score) return higher ? a.score > b.score : a.score < b.score;
    return a.id < b.id;
}

/* Exact top-k (k <= K) of the accepted points into ids; returns how many. */
static size_t exact_topk(const dataset *d, qv_distance dist, const float *q, size_t k,
                         qv_hnsw_accept_fn accept, void *actx, uint32_t *ids) {
    const qv_kernels *sk = qv_kernels_by_name("scalar");
    bool higher = qv_distance_higher_is_better(dist);
    ex_hit top[K];
    size_t m = 0;
    assert_true(k <= K);
    for (size_t i = 0; i < d->n; i++) {
        if (accept && !accept(actx, (uint32_t)i)) continue;
        ex_hit x = {qv_score(sk, dist, q, d->base + i * d->dim, d->dim), (uint32_t)i};
        if (m == k && !ex_before(x, top[m - 1], higher)) continue;
        size_t at = m < k ? m++ : m - 1;
        while (at > 0 && ex_before(x, top[at - 1], higher)) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = x;
    }
    for (size_t i = 0; i < m; i++) ids[i] = top[i].id;
    return m;
}

/* Checks order (best first, ties by id) and that scores are the exact
 * scan's scores with the dispatched kernels. */
static void check_sorted(const dataset *d, qv_distance dist, const float *q, const uint32_t *ids,
                         const float *scores, size_t found) {
    const qv_kernels *bk = qv_kernels_best();
    bool higher = qv_distance_higher_is_better(dist);
    for (size_t i = 0; i < found; i++) {
        assert_true(ids[i] < d->n);
        float want = qv_score(bk, dist, q, d->base + (size_t)ids[i] * d->dim, d->dim);
        assert_true(scores[i] == want);
        if (i == 0) continue;
        assert_true(ids[i] != ids[i - 1]);
        if (scores[i] == scores[i - 1])
            assert_true(ids[i] > ids[i - 1]);
        else
            assert_true(higher ? scores[i] < scores[i - 1] : scores[i] > scores[i - 1]);
    }
}

/* Exact top-K of every query, computed once per dataset and filter. */
typedef struct truth {
    uint32_t *ids; /* nq x K */
    size_t *n;     /* per query: min(K, accepted points) */
} truth;

static truth truth_new(const dataset *d, qv_distance dist, qv_hnsw_accept_fn accept, void *actx) {
    truth t = {malloc(d->nq * K * sizeof *t.ids), malloc(d->nq * sizeof *t.n)};
    assert_non_null(t.ids);
    assert_non_null(t.n);
    for (size_t qi = 0; qi < d->nq; qi++)
        t.n[qi] = exact_topk(d, dist, d->queries + qi * d->dim, K, accept, actx, t.ids + qi * K);
    return t;
}

static void truth_free(truth *t) {
    free(t->ids);
    free(t->n);
}

/* Mean recall@K of the index over all queries (filtered if accept); every
 * result is also checked for order, scores and the filter. */
static double measure_recall(const qv_hnsw *h, const dataset *d, qv_distance dist, size_t ef,
                             qv_hnsw_accept_fn accept, void *actx, const truth *t) {
    double sum = 0;
    size_t counted = 0;
    for (size_t qi = 0; qi < d->nq; qi++) {
        const float *q = d->queries + qi * d->dim;
        uint32_t got[K];
        float sc[K];
        size_t found = 0;
        qv_err err;
        assert_int_equal(qv_hnsw_search(h, q, K, ef, accept, actx, got, sc, &found, &err), QV_OK);
        check_sorted(d, dist, q, got, sc, found);
        if (accept)
            for (size_t i = 0; i < found; i++) assert_true(accept(actx, got[i]));
        size_t nw = t->n[qi];
        const uint32_t *want = t->ids + qi * K;
        assert_int_equal(found, nw);
        if (nw == 0) continue;
        size_t hit = 0;
        for (size_t i = 0; i < found; i++)
            for (size_t j = 0; j < nw; j++) hit += got[i] == want[j];
        sum += (double)hit / (double)nw;
        counted++;
    }
    return counted ? sum / (double)counted : 1.0;
}

static qv_hnsw *build_index(const dataset *d, qv_distance dist, uint32_t m, unsigned threads) {
    qv_hnsw *h = NULL;
    qv_err err;
    qv_hnsw_store st = store_of(d);
    qv_hnsw_params p = {.m = m, .ef_construct = 100, .seed = 42};
    assert_int_equal(qv_hnsw_new(d->dim, dist, &p, &st, &h, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(h, (uint32_t)d->n, threads, &err), QV_OK);
    assert_int_equal(qv_hnsw_size(h), d->n);
    return h;
}

static void assert_healthy(const qv_hnsw *h) {
    qv_hnsw_report rep;
    qv_err err = {0};
    qv_rc rc = qv_hnsw_check(h, &rep, &err);
    if (rc != QV_OK) fprintf(stderr, "check: %s\n", err.msg);
    assert_int_equal(rc, QV_OK);
    assert_int_equal(rep.unreachable, 0);
}

static size_t data_n(void) {
    return under_valgrind() ? 500 : 4000;
}

static size_t data_nq(void) {
    return under_valgrind() ? 20 : 100;
}

#define DIM       50 /* not a multiple of any SIMD width */
#define NCLUSTERS 20

/* =========================================================================
 * Recall per distance, 1 and 2 build threads
 * ========================================================================= */

static void recall_case(qv_distance dist, bool normalise) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 1000 + (uint64_t)dist, normalise);
    truth t = truth_new(&d, dist, NULL, NULL);
    for (unsigned threads = 1; threads <= 2; threads++) {
        qv_hnsw *h = build_index(&d, dist, 16, threads);
        assert_healthy(h);
        double r64 = measure_recall(h, &d, dist, 64, NULL, NULL, &t);
        double r16 = measure_recall(h, &d, dist, 16, NULL, NULL, &t);
        printf("# %-9s threads=%u n=%zu dim=%d: recall@10 ef=16 %.4f, ef=64 %.4f\n",
               qv_distance_name(dist), threads, d.n, DIM, r16, r64);
        assert_true(r64 >= 0.95);
        qv_hnsw_free(h);
    }
    truth_free(&t);
    free_data(&d);
}

/* =========================================================================
 * Scored searches (qv_hnsw_search_scored): with the float distances as the
 * scorer, the same results as qv_hnsw_search; with int8 codes and the
 * candidates rescored with the floats, recall@10 >= 0.95 at 2x oversampling
 * for every distance, and with a filter
 * ========================================================================= */

typedef struct accept_set {
    const uint8_t *ok;
    size_t n;
} accept_set;

static bool accept_in(void *ctx, uint32_t id);
static uint8_t *random_subset(size_t n, unsigned pct, uint64_t seed);

typedef struct float_scorer {
    const dataset *d;
    qv_distance dist;
    const float *q;
} float_scorer;

static void float_dist(void *ctx, const uint32_t *ids, size_t n, float *out) {
    const float_scorer *f = ctx;
    const qv_kernels *k = qv_kernels_best();
    for (size_t i = 0; i < n; i++) {
        float s = qv_score(k, f->dist, f->q, f->d->base + (size_t)ids[i] * f->d->dim, f->d->dim);
        out[i] = qv_distance_higher_is_better(f->dist) ? -s : s;
    }
}

static void scored_case(qv_distance dist, bool normalise, const uint8_t *subset) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 2000 + (uint64_t)dist, normalise);
    qv_hnsw_accept_fn acc = subset ? accept_in : NULL;
    accept_set set = {subset, d.n};
    void *actx = subset ? &set : NULL;
    truth t = truth_new(&d, dist, acc, actx);
    qv_hnsw *h = build_index(&d, dist, 16, 1);
    qv_qcodes *qc;
    qv_err err;
    assert_int_equal(
        qv_qcodes_build(QV_QCODES_SCALAR, dist, d.base, (uint32_t)d.n, DIM, 0.99f, &qc, &err),
        QV_OK);
    const qv_kernels *k = qv_kernels_best();
    bool higher = qv_distance_higher_is_better(dist);
    double sum = 0;
    size_t counted = 0;
    for (size_t qi = 0; qi < d.nq; qi++) {
        const float *q = d.queries + qi * DIM;
        /* 1: the float scorer walks the graph as the plain search does */
        float_scorer fs = {&d, dist, q};
        qv_hnsw_scorer sc = {float_dist, &fs};
        uint32_t a[K], b[K], c[2 * K];
        size_t na, nb, nc;
        assert_int_equal(qv_hnsw_search(h, q, K, 64, acc, actx, a, NULL, &na, &err), QV_OK);
        assert_int_equal(qv_hnsw_search_scored(h, &sc, K, 64, acc, actx, b, NULL, &nb, &err),
                         QV_OK);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            bool in = false;
            for (size_t j = 0; j < nb; j++) in |= a[i] == b[j];
            assert_true(in);
        }
        /* 2: int8 codes, 2x oversampling, rescored */
        qv_qquery qq;
        assert_int_equal(qv_qquery_init(&qq, qc, q, &err), QV_OK);
        qv_hnsw_scorer qs = {qv_qquery_dist_many, &qq};
        assert_int_equal(qv_hnsw_search_scored(h, &qs, 2 * K, 64, acc, actx, c, NULL, &nc, &err),
                         QV_OK);
        qv_qquery_free(&qq);
        float sc2[2 * K];
        for (size_t i = 0; i < nc; i++) {
            if (subset) assert_true(subset[c[i]]);
            float s = qv_score(k, dist, q, d.base + (size_t)c[i] * DIM, DIM);
            sc2[i] = higher ? s : -s;
        }
        /* top K of the rescored candidates */
        size_t nw = t.n[qi], hit = 0;
        for (size_t r = 0; r < K && r < nc; r++) {
            size_t best = r;
            for (size_t i = r + 1; i < nc; i++)
                if (sc2[i] > sc2[best]) best = i;
            float ts = sc2[r];
            uint32_t ti = c[r];
            sc2[r] = sc2[best], c[r] = c[best];
            sc2[best] = ts, c[best] = ti;
            for (size_t j = 0; j < nw; j++) hit += c[r] == t.ids[qi * K + j];
        }
        if (nw == 0) continue;
        sum += (double)hit / (double)nw;
        counted++;
    }
    double recall = counted ? sum / (double)counted : 1.0;
    printf("# scored int8 %-9s%s: recall@10 (2x oversampling, rescored) %.4f\n",
           qv_distance_name(dist), subset ? " filtered" : "", recall);
    assert_true(recall >= 0.95);
    qv_qcodes_free(qc);
    qv_hnsw_free(h);
    truth_free(&t);
    free_data(&d);
}

static void test_scored_search(void **state) {
    scored_case(QV_DIST_COSINE, true, NULL);
    scored_case(QV_DIST_DOT, false, NULL);
    scored_case(QV_DIST_EUCLID, false, NULL);
    scored_case(QV_DIST_MANHATTAN, false, NULL);
    uint8_t *half = random_subset(data_n(), 50, 77);
    scored_case(QV_DIST_COSINE, true, half);
    free(half);
}

static void test_recall_cosine(void **state) {
    recall_case(QV_DIST_COSINE, true);
}

/* Dot on vectors of varied length: a real inner-product search. */
static void test_recall_dot(void **state) {
    recall_case(QV_DIST_DOT, false);
}

static void test_recall_euclid(void **state) {
    recall_case(QV_DIST_EUCLID, false);
}

static void test_recall_manhattan(void **state) {
    recall_case(QV_DIST_MANHATTAN, false);
}

/* =========================================================================
 * Filters and deletes
 * ========================================================================= */

static bool accept_in(void *ctx, uint32_t id) {
    const accept_set *a = ctx;
    return id < a->n && a->ok[id];
}

/* Marks each point with probability pct/100 (seeded). */
static uint8_t *random_subset(size_t n, unsigned pct, uint64_t seed) {
    uint8_t *ok = malloc(n + 1);
    assert_non_null(ok);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) ok[i] = rng_next(&s) % 100 < pct;
    return ok;
}

static void test_filter(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 7, true);
    qv_hnsw *h = build_index(&d, QV_DIST_COSINE, 16, 1);
    struct {
        unsigned pct;
        size_t ef;
    } cases[] = {{50, 64}, {10, 128}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *ok = random_subset(d.n, cases[c].pct, 99 + c);
        accept_set a = {ok, d.n};
        truth t = truth_new(&d, QV_DIST_COSINE, accept_in, &a);
        double r = measure_recall(h, &d, QV_DIST_COSINE, cases[c].ef, accept_in, &a, &t);
        truth_free(&t);
        printf("# filter %u%%: recall@10 ef=%zu %.4f\n", cases[c].pct, cases[c].ef, r);
        assert_true(r >= 0.95);
        free(ok);
    }
    /* a filter that accepts nothing: a full traversal, no results */
    uint8_t *none = calloc(d.n, 1);
    accept_set a = {none, d.n};
    uint32_t ids[K];
    size_t found = 99;
    qv_err err;
    assert_int_equal(qv_hnsw_search(h, d.queries, K, 32, accept_in, &a, ids, NULL, &found, &err),
                     QV_OK);
    assert_int_equal(found, 0);
    free(none);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Deletion is a filter: 20% of the points plus every query's exact nearest
 * neighbour are deleted; none may come back, and recall holds. */
static void test_deleted(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 8, false);
    qv_hnsw *h = build_index(&d, QV_DIST_EUCLID, 16, 2);
    uint8_t *alive = random_subset(d.n, 80, 5);
    for (size_t qi = 0; qi < d.nq; qi++) {
        uint32_t top;
        exact_topk(&d, QV_DIST_EUCLID, d.queries + qi * d.dim, 1, NULL, NULL, &top);
        alive[top] = 0;
    }
    accept_set a = {alive, d.n};
    truth t = truth_new(&d, QV_DIST_EUCLID, accept_in, &a);
    double r = measure_recall(h, &d, QV_DIST_EUCLID, 64, accept_in, &a, &t);
    truth_free(&t);
    printf("# deleted 20%% + each query's nearest: recall@10 ef=64 %.4f\n", r);
    assert_true(r >= 0.95);
    for (size_t qi = 0; qi < d.nq; qi++) {
        uint32_t ids[100];
        size_t found;
        qv_err err;
        assert_int_equal(qv_hnsw_search(h, d.queries + qi * d.dim, 100, 100, accept_in, &a, ids,
                                        NULL, &found, &err),
                         QV_OK);
        assert_int_equal(found, 100);
        for (size_t i = 0; i < found; i++) assert_true(alive[ids[i]]);
    }
    free(alive);
    qv_hnsw_free(h);
    free_data(&d);
}

/* =========================================================================
 * Incremental building, checked after every batch
 * ========================================================================= */

static void test_incremental(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 9, true);
    qv_hnsw *h = NULL;
    qv_err err;
    qv_hnsw_store st = store_of(&d);
    assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, NULL, &st, &h, &err), QV_OK);
    qv_hnsw_params p = qv_hnsw_get_params(h);
    assert_int_equal(p.m, 16);
    assert_int_equal(p.ef_construct, 100);
    size_t batch = d.n / 6, at = 0;
    for (int b = 0; at < d.n; b++) {
        size_t end = at + batch < d.n ? at + batch : d.n;
        if (b % 2 == 0) {
            for (size_t i = at; i < end; i++) {
                uint32_t id;
                assert_int_equal(qv_hnsw_insert(h, &id, &err), QV_OK);
                assert_int_equal(id, i);
            }
        } else {
            assert_int_equal(qv_hnsw_build(h, (uint32_t)end, 2, &err), QV_OK);
        }
        if (b % 2 == 0) assert_int_equal(qv_hnsw_repair(h, &err), QV_OK);
        at = end;
        assert_int_equal(qv_hnsw_size(h), at);
        assert_healthy(h);
    }
    qv_hnsw_report rep;
    assert_int_equal(qv_hnsw_check(h, &rep, &err), QV_OK);
    printf("# incremental: %llu level-0 links (%.1f per node), %llu upper nodes, max level %d\n",
           (unsigned long long)rep.links_level0, (double)rep.links_level0 / (double)d.n,
           (unsigned long long)rep.nodes_upper, qv_hnsw_max_level(h));
    truth t = truth_new(&d, QV_DIST_COSINE, NULL, NULL);
    double r = measure_recall(h, &d, QV_DIST_COSINE, 64, NULL, NULL, &t);
    truth_free(&t);
    printf("# incremental: recall@10 ef=64 %.4f\n", r);
    assert_true(r >= 0.95);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Single-threaded builds are deterministic: the same input, the same graph
 * (compared through identical saved files). */
static char g_dir[64];

static int dir_setup(void **state) {
    strcpy(g_dir, "/tmp/qv-test-hnsw-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int dir_teardown(void **state) {
    char p[128];
    const char *names[] = {"a.hnsw", "b.hnsw", "c.hnsw", "e.hnsw", "a.hnsw.tmp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", g_dir, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void path_of(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", g_dir, name);
}

/* The files at pa and pb hold the same bytes. */
static void assert_same_file(const char *pa, const char *pb) {
    size_t la, lb;
    unsigned char *a = slurp(pa, &la), *b = slurp(pb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
}

/* x and y save to the same bytes (the same graph). */
static void assert_same_graph(const qv_hnsw *x, const qv_hnsw *y) {
    char pa[128], pb[128];
    qv_err err;
    path_of(pa, sizeof pa, "same-a.hnsw");
    path_of(pb, sizeof pb, "same-b.hnsw");
    assert_int_equal(qv_hnsw_save(x, pa, &err), QV_OK);
    assert_int_equal(qv_hnsw_save(y, pb, &err), QV_OK);
    assert_same_file(pa, pb);
}

static void spit(const char *path, const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void test_deterministic(void **state) {
    size_t n = under_valgrind() ? 500 : 2000;
    dataset d = make_data(n, 4, DIM, 20, 11, true);
    qv_hnsw *h1 = build_index(&d, QV_DIST_COSINE, 8, 1);
    qv_hnsw *h2 = build_index(&d, QV_DIST_COSINE, 8, 1);
    assert_same_graph(h1, h2);
    qv_hnsw_free(h1);
    qv_hnsw_free(h2);
    free_data(&d);
}

/* With a cancel flag that is never set, the graph is byte for byte the one
 * qv_hnsw_build makes. */
static void test_cancel_unset(void **state) {
    size_t n = under_valgrind() ? 500 : 2000;
    dataset d = make_data(n, 4, DIM, 20, 11, true);
    qv_err err;
    qv_hnsw *h1 = build_index(&d, QV_DIST_COSINE, 8, 1);
    qv_hnsw *h2 = NULL;
    qv_hnsw_store st = store_of(&d);
    qv_hnsw_params p = {.m = 8, .ef_construct = 100, .seed = 42};
    atomic_bool never;
    atomic_init(&never, false);
    assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, &p, &st, &h2, &err), QV_OK);
    assert_int_equal(qv_hnsw_build_cancellable(h2, (uint32_t)d.n, 1, &never, &err), QV_OK);
    assert_same_graph(h1, h2);
    qv_hnsw_free(h1);
    qv_hnsw_free(h2);
    free_data(&d);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct cancel_job {
    atomic_bool *flag;
    unsigned delay_us;
    double set_at; /* when the flag was set (now_s) */
} cancel_job;

static void *cancel_thread(void *arg) {
    cancel_job *j = arg;
    usleep(j->delay_us);
    j->set_at = now_s();
    atomic_store(j->flag, true);
    return NULL;
}

/* A multi-threaded build cancelled from another thread stops soon after the
 * flag is set, says so, and leaves an index that can be freed; a flag set
 * before the call stops it at once. */
static void test_cancel(void **state) {
    /* Large enough that the whole build takes far longer than the delay. */
    size_t n = under_valgrind() ? 4000 : 40000;
    dataset d = make_data(n, 1, DIM, NCLUSTERS, 21, true);
    qv_hnsw_store st = store_of(&d);
    qv_hnsw_params p = {.m = 16, .ef_construct = 200, .seed = 42};
    qv_err err = {0};
    atomic_bool flag;
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        qv_hnsw *h = NULL;
        assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, &p, &st, &h, &err), QV_OK);
        atomic_init(&flag, false);
        cancel_job j = {&flag, 50000, 0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, cancel_thread, &j), 0);
        double t0 = now_s();
        qv_rc rc = qv_hnsw_build_cancellable(h, (uint32_t)d.n, threads, &flag, &err);
        double t1 = now_s();
        pthread_join(th, NULL);
        printf("# cancel (%u threads): returned %.3f s after the flag, %.3f s in all\n", threads,
               t1 - j.set_at, t1 - t0);
        assert_int_equal(rc, QV_EUNAVAILABLE);
        assert_int_equal(err.kind, QV_EUNAVAILABLE);
        assert_non_null(strstr(err.msg, "cancel"));
        assert_true(t1 - j.set_at < 0.5); /* an insert takes well under a ms */
        qv_hnsw_free(h);
    }
    /* Already set: nothing is inserted. */
    qv_hnsw *h = NULL;
    assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, &p, &st, &h, &err), QV_OK);
    atomic_init(&flag, true);
    assert_int_equal(qv_hnsw_build_cancellable(h, (uint32_t)d.n, 2, &flag, &err), QV_EUNAVAILABLE);
    assert_int_equal(qv_hnsw_size(h), 0);
    qv_hnsw_free(h);
    free_data(&d);
}

/* =========================================================================
 * Persistence
 * ========================================================================= */

static void same_results(const qv_hnsw *x, const qv_hnsw *y, const dataset *d) {
    for (size_t qi = 0; qi < d->nq; qi++) {
        uint32_t ia[K], ib[K];
        float sa[K], sb[K];
        size_t fa, fb;
        qv_err err;
        const float *q = d->queries + qi * d->dim;
        assert_int_equal(qv_hnsw_search(x, q, K, 50, NULL, NULL, ia, sa, &fa, &err), QV_OK);
        assert_int_equal(qv_hnsw_search(y, q, K, 50, NULL, NULL, ib, sb, &fb, &err), QV_OK);
        assert_int_equal(fa, fb);
        assert_memory_equal(ia, ib, fa * sizeof *ia);
        assert_memory_equal(sa, sb, fa * sizeof *sa);
    }
}

static void test_save_load(void **state) {
    dataset d = make_data(data_n() / 2, data_nq(), DIM, 30, 12, false);
    qv_hnsw *h = build_index(&d, QV_DIST_MANHATTAN, 12, 2);
    char pa[128], pc[128];
    path_of(pa, sizeof pa, "a.hnsw");
    path_of(pc, sizeof pc, "c.hnsw");
    qv_err err;
    assert_int_equal(qv_hnsw_save(h, pa, &err), QV_OK);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", pa);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
    qv_hnsw *g = NULL;
    qv_hnsw_store st = store_of(&d);
    assert_int_equal(qv_hnsw_load(pa, &st, &g, &err), QV_OK);
    assert_int_equal(qv_hnsw_size(g), d.n);
    assert_int_equal(qv_hnsw_dim(g), d.dim);
    assert_int_equal(qv_hnsw_distance(g), QV_DIST_MANHATTAN);
    assert_int_equal(qv_hnsw_get_params(g).m, 12);
    assert_int_equal(qv_hnsw_get_params(g).seed, 42);
    assert_int_equal(qv_hnsw_entry(g), qv_hnsw_entry(h));
    assert_int_equal(qv_hnsw_max_level(g), qv_hnsw_max_level(h));
    assert_healthy(g);
    same_results(h, g, &d);
    /* saved again, the same bytes */
    assert_int_equal(qv_hnsw_save(g, pc, &err), QV_OK);
    assert_same_file(pa, pc);
    /* a loaded graph can grow: nothing new to add here, but reserve works */
    assert_int_equal(qv_hnsw_reserve(g, (uint32_t)d.n + 10, &err), QV_OK);
    assert_healthy(g);
    assert_false(qv_hnsw_mapped(g));
    qv_hnsw_free(g);
    /* served from a mapping of the file (cold or cached): the same graph,
     * the same answers, the same bytes saved again; it takes no new points */
    for (int place = QV_HNSW_MAP_COLD; place <= QV_HNSW_MAP_CACHED; place++) {
        assert_int_equal(qv_hnsw_load_placed(pa, &st, (qv_hnsw_place)place, &g, &err), QV_OK);
        assert_true(qv_hnsw_mapped(g));
        assert_int_equal(qv_hnsw_entry(g), qv_hnsw_entry(h));
        assert_healthy(g);
        same_results(h, g, &d);
        assert_int_equal(qv_hnsw_save(g, pc, &err), QV_OK);
        assert_same_file(pa, pc);
        assert_int_not_equal(qv_hnsw_reserve(g, (uint32_t)d.n + 10, &err), QV_OK);
        uint32_t id;
        assert_int_not_equal(qv_hnsw_insert(g, &id, &err), QV_OK);
        qv_hnsw_free(g);
    }
    assert_int_not_equal(qv_hnsw_load_placed(pa, &st, (qv_hnsw_place)7, &g, &err), QV_OK);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Expects load of path to fail with QV_ECORRUPT and leave *out NULL, on
 * the heap and through a mapping alike. */
static void expect_corrupt(const char *path, const dataset *d, const char *what) {
    static const qv_hnsw_place places[] = {QV_HNSW_HEAP, QV_HNSW_MAP_COLD, QV_HNSW_MAP_CACHED};
    for (size_t i = 0; i < 3; i++) {
        qv_hnsw *g = (qv_hnsw *)&g; /* poison: load must reset it */
        qv_err err = {0};
        qv_hnsw_store st = store_of(d);
        qv_rc rc = qv_hnsw_load_placed(path, &st, places[i], &g, &err);
        if (rc != QV_ECORRUPT)
            fprintf(stderr, "%s (place %zu): rc %d (%s)\n", what, i, rc, err.msg);
        assert_int_equal(rc, QV_ECORRUPT);
        assert_null(g);
        assert_true(err.msg[0] != 0);
    }
}

/* Rewrites the trailer so a change passes the checksum and reaches the
 * structural checks. */
static void fix_crc(unsigned char *b, size_t len) {
    uint32_t crc = qv_crc32c(0, b, len - 4);
    memcpy(b + len - 4, &crc, 4);
}

static void put32(unsigned char *b, size_t off, uint32_t v) {
    memcpy(b + off, &v, 4);
}

static void test_corrupt(void **state) {
    dataset d = make_data(under_valgrind() ? 300 : 1500, 2, DIM, 10, 13, true);
    qv_hnsw *h = build_index(&d, QV_DIST_COSINE, 6, 1);
    char pa[128], pe[128];
    path_of(pa, sizeof pa, "a.hnsw");
    path_of(pe, sizeof pe, "e.hnsw");
    qv_err err;
    assert_int_equal(qv_hnsw_save(h, pa, &err), QV_OK);
    size_t len;
    unsigned char *good = slurp(pa, &len), *b = malloc(len);
    assert_non_null(b);
    size_t n = d.n, l0_off = FILE_HDR + ((n + 3) & ~(size_t)3), slot0 = 1 + 12;
    size_t upper_off = l0_off + n * slot0 * 4;

    /* flipped bytes everywhere a reader looks: header, levels, level-0
     * links, upper links, trailer (a stride keeps it quick) */
    size_t stride = len / (under_valgrind() ? 40 : 150) + 1;
    for (size_t at = 0; at < len; at += stride) {
        memcpy(b, good, len);
        b[at] ^= 0x20;
        spit(pe, b, len);
        expect_corrupt(pe, &d, "flipped byte");
    }
    size_t spots[] = {0, 9, OFF_N, FILE_HDR, l0_off, l0_off + 4, upper_off, len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        memcpy(b, good, len);
        b[spots[i]] ^= 0x01;
        spit(pe, b, len);
        expect_corrupt(pe, &d, "flipped spot");
    }
    /* truncations, and a byte too many */
    size_t cuts[] = {0,      1,       8,       FILE_HDR - 1, FILE_HDR, FILE_HDR + 1,
                     l0_off, len / 2, len - 4, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(pe, good, cuts[i]);
        expect_corrupt(pe, &d, "truncated");
    }
    memcpy(b, good, len);
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, good, len);
    longer[len] = 0;
    spit(pe, longer, len + 1);
    expect_corrupt(pe, &d, "padded");
    free(longer);
    /* bad magic; bad version with a valid checksum */
    memcpy(b, good, len);
    memcpy(b, "QVHNSWXX", 8);
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "magic");
    memcpy(b, good, len);
    put32(b, OFF_VERSION, 2);
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "version");
    /* out-of-range entry point and link ids, with valid checksums */
    memcpy(b, good, len);
    put32(b, OFF_ENTRY, (uint32_t)n);
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "entry");
    uint32_t cnt0;
    memcpy(&cnt0, good + l0_off, 4);
    assert_true(cnt0 >= 1);
    memcpy(b, good, len);
    put32(b, l0_off + 4, (uint32_t)n + 5);
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "link id");
    memcpy(b, good, len);
    put32(b, l0_off + 4, 0xFFFFFFFFu);
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "link id max");
    /* a count above the slot's capacity */
    memcpy(b, good, len);
    put32(b, l0_off, (uint32_t)slot0);
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "count");
    /* an upper-level link to a node that has no such level */
    if (upper_off < len - 4) {
        uint32_t target = 0;
        for (uint32_t i = 0; i < n; i++)
            if (good[FILE_HDR + i] == 0) {
                target = i;
                break;
            }
        memcpy(b, good, len);
        uint32_t ucnt;
        memcpy(&ucnt, b + upper_off, 4);
        if (ucnt == 0) put32(b, upper_off, 1);
        put32(b, upper_off + 4, target);
        fix_crc(b, len);
        spit(pe, b, len);
        expect_corrupt(pe, &d, "upper link");
    }
    /* a node's level raised above the top level */
    memcpy(b, good, len);
    b[FILE_HDR] = 30;
    fix_crc(b, len);
    spit(pe, b, len);
    expect_corrupt(pe, &d, "level");
    /* the untouched file still loads */
    spit(pe, good, len);
    qv_hnsw *g = NULL;
    qv_hnsw_store st = store_of(&d);
    assert_int_equal(qv_hnsw_load(pe, &st, &g, &err), QV_OK);
    qv_hnsw_free(g);
    /* a missing file */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.hnsw", g_dir);
    assert_int_equal(qv_hnsw_load(missing, &st, &g, &err), QV_ENOTFOUND);
    free(good);
    free(b);
    qv_hnsw_free(h);
    free_data(&d);
}

/* =========================================================================
 * Degenerate cases
 * ========================================================================= */

static void test_tiny(void **state) {
    size_t dim = 5;
    float v[40 * 5];
    for (size_t i = 0; i < 40 * dim; i++) v[i] = (float)((i * 7919) % 23) - 11.0f;
    for (size_t i = 10; i < 40; i++) /* 30 identical vectors */
        memcpy(v + i * dim, v + 9 * dim, dim * sizeof *v);
    qv_hnsw_store st = {.base = v, .stride = dim};
    qv_err err;
    uint32_t ids[64];
    float sc[64];
    size_t found = 99;
    for (int dist = 0; dist <= QV_DIST_MANHATTAN; dist++) {
        qv_hnsw *h = NULL;
        qv_hnsw_params p = {.m = 4, .ef_construct = 16, .seed = 3};
        assert_int_equal(qv_hnsw_new(dim, (qv_distance)dist, &p, &st, &h, &err), QV_OK);
        /* n = 0 */
        assert_int_equal(qv_hnsw_search(h, v, 5, 10, NULL, NULL, ids, sc, &found, &err), QV_OK);
        assert_int_equal(found, 0);
        assert_int_equal(qv_hnsw_check(h, NULL, &err), QV_OK);
        assert_int_equal(qv_hnsw_entry(h), UINT32_MAX);
        /* n = 1, 2: k > n */
        for (uint32_t n = 1; n <= 2; n++) {
            assert_int_equal(qv_hnsw_insert(h, NULL, &err), QV_OK);
            assert_int_equal(qv_hnsw_check(h, NULL, &err), QV_OK);
            assert_int_equal(qv_hnsw_search(h, v + dim, 5, 1, NULL, NULL, ids, sc, &found, &err),
                             QV_OK);
            assert_int_equal(found, n);
        }
        /* k = 0 */
        assert_int_equal(qv_hnsw_search(h, v, 0, 10, NULL, NULL, ids, sc, &found, &err), QV_OK);
        assert_int_equal(found, 0);
        /* 10 distinct points: k > n returns them all */
        assert_int_equal(qv_hnsw_build(h, 10, 1, &err), QV_OK);
        assert_healthy(h);
        assert_int_equal(qv_hnsw_search(h, v, 64, 1, NULL, NULL, ids, sc, &found, &err), QV_OK);
        assert_int_equal(found, 10);
        /* 30 more, identical to point 9: every node stays reachable from the
         * entry point (the validator); a search from wherever the descent
         * lands need not reach all of them, but returns no id twice */
        assert_int_equal(qv_hnsw_build(h, 40, 1, &err), QV_OK);
        assert_healthy(h);
        assert_int_equal(qv_hnsw_search(h, v, 64, 1, NULL, NULL, ids, sc, &found, &err), QV_OK);
        assert_true(found >= 30 && found <= 40);
        for (size_t i = 0; i < found; i++)
            for (size_t j = 0; j < i; j++) assert_true(ids[i] != ids[j]);
        /* a query at the duplicates: the 10 best are duplicates (ties by id) */
        assert_int_equal(qv_hnsw_search(h, v + 9 * dim, 10, 64, NULL, NULL, ids, sc, &found, &err),
                         QV_OK);
        assert_int_equal(found, 10);
        for (size_t i = 0; i < 10; i++) {
            assert_true(ids[i] >= 9);
            if (i) assert_true(ids[i] > ids[i - 1]); /* equal scores: by id */
            if (dist == QV_DIST_EUCLID || dist == QV_DIST_MANHATTAN) assert_true(sc[i] == 0.0f);
        }
        /* the filter also applies to the tiny graph */
        uint8_t odd[40];
        for (size_t i = 0; i < 40; i++) odd[i] = i % 2;
        accept_set a = {odd, 40};
        assert_int_equal(qv_hnsw_search(h, v, 64, 1, accept_in, &a, ids, sc, &found, &err), QV_OK);
        assert_true(found >= 10 && found <= 20);
        for (size_t i = 0; i < found; i++) assert_true(ids[i] % 2 == 1);
        qv_hnsw_free(h);
    }
    /* an empty graph round-trips through a file */
    qv_hnsw *h = NULL, *g = NULL;
    char pa[128];
    path_of(pa, sizeof pa, "a.hnsw");
    assert_int_equal(qv_hnsw_new(dim, QV_DIST_DOT, NULL, &st, &h, &err), QV_OK);
    assert_int_equal(qv_hnsw_save(h, pa, &err), QV_OK);
    assert_int_equal(qv_hnsw_load(pa, &st, &g, &err), QV_OK);
    assert_int_equal(qv_hnsw_size(g), 0);
    assert_int_equal(qv_hnsw_search(g, v, 5, 10, NULL, NULL, ids, sc, &found, &err), QV_OK);
    assert_int_equal(found, 0);
    qv_hnsw_free(g);
    qv_hnsw_free(h);
}

/* A store behind a callback gives the same graph as a flat one. */
static const float *get_vec(void *ctx, uint32_t id) {
    const dataset *d = ctx;
    return d->base + (size_t)id * d->dim;
}

/* A graph over float16 / uint8 rows is the graph over their float32 values:
 * single-threaded builds (deterministic) save byte-identical files, and
 * searches return the same ids and scores; the graph passes the validator,
 * a saved one loads over the same rows, and a 2-thread build over the rows
 * has recall@10 >= 0.95 against exact search of the values, with and
 * without a filter. */
static void elem_case(qv_elem elem, qv_distance dist) {
    size_t n = under_valgrind() ? 400 : 1500;
    dataset d = make_data(n, 40, DIM, 12, 31, dist == QV_DIST_COSINE);
    if (elem == QV_ELEM_U8) /* integers 0..255, as the insert path leaves them */
        for (size_t i = 0; i < (n + d.nq) * DIM; i++) {
            float *v = i < n * DIM ? &d.base[i] : &d.queries[i - n * DIM];
            *v = floorf((*v + 1.0f) * 100.0f);
            *v = *v < 0 ? 0 : *v > 255 ? 255 : *v;
        }
    void *rows = malloc(n * DIM * qv_elem_size(elem));
    assert_non_null(rows);
    qv_elem_encode(elem, d.base, rows, n * DIM);
    qv_elem_decode(elem, rows, d.base, n * DIM); /* the float32 twin holds the same values */
    qv_err err;
    qv_hnsw_params p = {.m = 8, .ef_construct = 64, .seed = 5};
    qv_hnsw_store sf = store_of(&d), se = {.base = rows, .stride = DIM, .elem = elem};
    qv_hnsw *hf = NULL, *he = NULL;
    assert_int_equal(qv_hnsw_new(DIM, dist, &p, &sf, &hf, &err), QV_OK);
    assert_int_equal(qv_hnsw_new(DIM, dist, &p, &se, &he, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(hf, (uint32_t)n, 1, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(he, (uint32_t)n, 1, &err), QV_OK);
    assert_healthy(he);
    assert_same_graph(hf, he);
    same_results(hf, he, &d);
    char pb[128];
    path_of(pb, sizeof pb, "same-b.hnsw"); /* he, as assert_same_graph saved it */
    qv_hnsw *hl = NULL;
    assert_int_equal(qv_hnsw_load(pb, &se, &hl, &err), QV_OK);
    same_results(hf, hl, &d);
    qv_hnsw *h2 = NULL;
    assert_int_equal(qv_hnsw_new(DIM, dist, &p, &se, &h2, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(h2, (uint32_t)n, 2, &err), QV_OK);
    assert_healthy(h2);
    uint8_t *half = random_subset(n, 50, 91);
    accept_set as = {half, n};
    truth t = truth_new(&d, dist, NULL, NULL), tf = truth_new(&d, dist, accept_in, &as);
    double r = measure_recall(h2, &d, dist, 128, NULL, NULL, &t);
    double rf = measure_recall(h2, &d, dist, 128, accept_in, &as, &tf);
    printf("# %s rows, %-9s: recall@10 ef=128 %.4f, filtered %.4f\n",
           elem == QV_ELEM_F16 ? "float16" : "uint8", qv_distance_name(dist), r, rf);
    assert_true(r >= 0.95 && rf >= 0.95);
    truth_free(&t);
    truth_free(&tf);
    free(half);
    qv_hnsw_free(h2);
    /* a float16/uint8 store needs a base (no callback form) */
    qv_hnsw_store bad = {.get = NULL, .stride = DIM, .elem = elem};
    qv_hnsw *hx = NULL;
    assert_int_not_equal(qv_hnsw_new(DIM, dist, &p, &bad, &hx, &err), QV_OK);
    qv_hnsw_free(hl);
    qv_hnsw_free(hf);
    qv_hnsw_free(he);
    free(rows);
    free_data(&d);
}

static void test_elem_rows(void **state) {
    elem_case(QV_ELEM_F16, QV_DIST_COSINE);
    elem_case(QV_ELEM_F16, QV_DIST_EUCLID);
    elem_case(QV_ELEM_U8, QV_DIST_DOT);
    elem_case(QV_ELEM_U8, QV_DIST_MANHATTAN);
}

static void test_store_callback(void **state) {
    dataset d = make_data(under_valgrind() ? 400 : 1500, 20, DIM, 10, 14, true);
    qv_hnsw *a = build_index(&d, QV_DIST_COSINE, 8, 1), *b = NULL;
    qv_hnsw_store st = {.get = get_vec, .ctx = &d};
    qv_hnsw_params p = {.m = 8, .ef_construct = 100, .seed = 42};
    qv_err err;
    assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, &p, &st, &b, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(b, (uint32_t)d.n, 1, &err), QV_OK);
    same_results(a, b, &d);
    qv_hnsw_free(a);
    qv_hnsw_free(b);
    free_data(&d);
}

static void test_bad_params(void **state) {
    float v[4] = {0};
    qv_hnsw_store st = {.base = v, .stride = 4}, none = {0}, narrow = {.base = v, .stride = 2};
    qv_hnsw *h = NULL;
    qv_err err;
    qv_hnsw_params p1 = {.m = 1};
    assert_int_equal(qv_hnsw_new(4, QV_DIST_COSINE, &p1, &st, &h, &err), QV_EBADINPUT);
    qv_hnsw_params pbig = {.m = QV_HNSW_MAX_M + 1};
    assert_int_equal(qv_hnsw_new(4, QV_DIST_COSINE, &pbig, &st, &h, &err), QV_EBADINPUT);
    assert_int_equal(qv_hnsw_new(0, QV_DIST_COSINE, NULL, &st, &h, &err), QV_EBADINPUT);
    assert_int_equal(qv_hnsw_new(4, (qv_distance)9, NULL, &st, &h, &err), QV_EBADINPUT);
    assert_int_equal(qv_hnsw_new(4, QV_DIST_COSINE, NULL, &none, &h, &err), QV_EBADINPUT);
    assert_int_equal(qv_hnsw_new(4, QV_DIST_COSINE, NULL, &narrow, &h, &err), QV_EBADINPUT);
    qv_hnsw_free(NULL);
}

/* Concurrent searches on one finished graph (TSan checks the scratch
 * stack); each thread's results equal the single-threaded ones. */
typedef struct search_job {
    const qv_hnsw *h;
    const dataset *d;
    const uint32_t *want; /* nq x K */
    int bad;
} search_job;

static void *search_thread(void *arg) {
    search_job *j = arg;
    for (int rep = 0; rep < 3; rep++)
        for (size_t qi = 0; qi < j->d->nq; qi++) {
            uint32_t ids[K];
            size_t found;
            qv_err err;
            if (qv_hnsw_search(j->h, j->d->queries + qi * j->d->dim, K, 40, NULL, NULL, ids, NULL,
                               &found, &err) != QV_OK ||
                found != K || memcmp(ids, j->want + qi * K, sizeof ids) != 0)
                j->bad++;
        }
    return NULL;
}

static void test_concurrent_search(void **state) {
    dataset d = make_data(under_valgrind() ? 500 : 3000, 50, DIM, 20, 15, true);
    qv_hnsw *h = build_index(&d, QV_DIST_DOT, 16, 2);
    uint32_t *want = malloc(d.nq * K * sizeof *want);
    assert_non_null(want);
    for (size_t qi = 0; qi < d.nq; qi++) {
        size_t found;
        qv_err err;
        assert_int_equal(qv_hnsw_search(h, d.queries + qi * d.dim, K, 40, NULL, NULL, want + qi * K,
                                        NULL, &found, &err),
                         QV_OK);
        assert_int_equal(found, K);
    }
    pthread_t th[3];
    search_job jobs[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (search_job){h, &d, want, 0};
        assert_int_equal(pthread_create(&th[i], NULL, search_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
    free(want);
    qv_hnsw_free(h);
    free_data(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_params),    cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_recall_cosine), cmocka_unit_test(test_recall_dot),
        cmocka_unit_test(test_recall_euclid), cmocka_unit_test(test_recall_manhattan),
        cmocka_unit_test(test_scored_search), cmocka_unit_test(test_filter),
        cmocka_unit_test(test_deleted),       cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_deterministic), cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt),       cmocka_unit_test(test_store_callback),
        cmocka_unit_test(test_elem_rows),     cmocka_unit_test(test_concurrent_search),
        cmocka_unit_test(test_cancel_unset),  cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
