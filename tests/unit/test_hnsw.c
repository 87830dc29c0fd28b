/*
 * test_hnsw.c - the HNSW index (index/hnsw): recall against exact search,
 * filters and deletes, incremental and parallel builds, the graph validator,
 * persistence and corrupted files, and the degenerate cases; filtered
 * search: payload-block links (qv_hnsw_add_subgraph), no_main tenant graphs,
 * the restricted and ACORN walks and entry points, against exact filtered
 * search.
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
#define FILE_HDR    72
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
    const char *names[] = {"a.hnsw",     "b.hnsw",      "c.hnsw",      "e.hnsw",
                           "a.hnsw.tmp", "same-a.hnsw", "same-b.hnsw", "t.hnsw"};
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
    put32(b, OFF_VERSION, 3);
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

/* =========================================================================
 * Filtered search: payload blocks with extra links (qv_hnsw_add_subgraph),
 * no_main graphs (one graph per tenant), restricted and ACORN walks, entry
 * points.  Blocks are keyword-like: a value per point drawn independently
 * of the vectors (the hard case for a graph: the accepted points are spread
 * over every cluster).
 * ========================================================================= */

/* Counts the distances a search asks for (the float scorer plus a tally). */
typedef struct counting_scorer {
    float_scorer f;
    size_t calls;
} counting_scorer;

static void counting_dist(void *ctx, const uint32_t *ids, size_t n, float *out) {
    counting_scorer *c = ctx;
    c->calls += n;
    float_dist(&c->f, ids, n, out);
}

/* Mean recall@K of qv_hnsw_search_with over all queries (every result
 * checked for order, scores and the filter), and in *dq the mean number of
 * distances the same search costs (through the scored path).  Queries
 * without accepted points count as found if nothing came back. */
static double recall_opts(const qv_hnsw *h, const dataset *d, qv_distance dist, size_t ef,
                          const qv_hnsw_search_opts *o, const truth *t, double *dq) {
    double sum = 0;
    size_t counted = 0, calls = 0;
    for (size_t qi = 0; qi < d->nq; qi++) {
        const float *q = d->queries + qi * d->dim;
        uint32_t got[K], sid[K];
        float sc[K];
        size_t found = 0, sfound = 0;
        qv_err err;
        assert_int_equal(qv_hnsw_search_with(h, q, K, ef, o, got, sc, &found, &err), QV_OK);
        check_sorted(d, dist, q, got, sc, found);
        for (size_t i = 0; i < found && o->accept; i++)
            assert_true(o->accept(o->accept_ctx, got[i]));
        counting_scorer cs = {{d, dist, q}, 0};
        qv_hnsw_scorer scr = {counting_dist, &cs};
        assert_int_equal(qv_hnsw_search_scored_with(h, &scr, K, ef, o, sid, NULL, &sfound, &err),
                         QV_OK);
        calls += cs.calls;
        size_t nw = t->n[qi], hit = 0;
        const uint32_t *want = t->ids + qi * K;
        assert_true(found <= nw);
        if (nw == 0) continue;
        for (size_t i = 0; i < found; i++)
            for (size_t j = 0; j < nw; j++) hit += got[i] == want[j];
        sum += (double)hit / (double)nw;
        counted++;
    }
    if (dq) *dq = (double)calls / (double)d->nq;
    return counted ? sum / (double)counted : 1.0;
}

/* A keyword-like value per point, independent of the vectors: value v
 * takes about pct[v] percent of the points (the rest get nv). */
static uint8_t *block_values(size_t n, const unsigned *pct, size_t nv, uint64_t seed) {
    uint8_t *val = malloc(n + 1);
    assert_non_null(val);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(rng_next(&s) % 1000), acc = 0;
        val[i] = (uint8_t)nv;
        for (size_t v = 0; v < nv; v++) {
            acc += pct[v] * 10;
            if (r < acc) {
                val[i] = (uint8_t)v;
                break;
            }
        }
    }
    return val;
}

/* The ids holding value v, in id order; *cnt their number. */
static uint32_t *ids_with(const uint8_t *val, size_t n, uint8_t v, uint32_t *cnt) {
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    assert_non_null(ids);
    *cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (val[i] == v) ids[(*cnt)++] = (uint32_t)i;
    return ids;
}

typedef struct value_filter {
    const uint8_t *val;
    uint8_t v;
} value_filter;

static bool accept_value(void *ctx, uint32_t id) {
    const value_filter *f = ctx;
    return f->val[id] == f->v;
}

/* Blocks of 1%, 5% and 20% of the points: the restricted walk (Qdrant's
 * filtered search) loses most of the true neighbours without extra links
 * and finds them with payload_m = 16 links (recall >= 0.95), for far fewer
 * distances than walking the rejected points as well; the links leave
 * plain and walk-all searches' recall intact and pass the validator. */
static void test_subgraph_blocks(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 41, true);
    qv_distance dist = QV_DIST_COSINE;
    qv_hnsw *h = build_index(&d, dist, 16, 2);
    static const unsigned pct[] = {1, 5, 20};
    uint8_t *val = block_values(d.n, pct, 3, 4242);
    truth tt[3];
    value_filter vf[3];
    double before[3];
    size_t ef = 64;
    for (uint8_t v = 0; v < 3; v++) {
        vf[v] = (value_filter){val, v};
        tt[v] = truth_new(&d, dist, accept_value, &vf[v]);
        qv_hnsw_search_opts o = {accept_value, &vf[v], .walk = QV_HNSW_WALK_ACCEPTED};
        before[v] = recall_opts(h, &d, dist, ef, &o, &tt[v], NULL);
    }
    qv_err err;
    uint32_t max_block = qv_hnsw_subgraph_max_block(h);
    for (uint8_t v = 0; v < 3; v++) {
        uint32_t nb, *ids = ids_with(val, d.n, v, &nb);
        assert_int_equal(qv_hnsw_add_subgraph(h, ids, nb, 16, 2, NULL, &err), QV_OK);
        free(ids);
    }
    assert_int_equal(qv_hnsw_subgraph_count(h), 3);
    qv_hnsw_report rep;
    assert_healthy(h);
    assert_int_equal(qv_hnsw_check(h, &rep, &err), QV_OK);
    assert_true(rep.nodes_extra > 0);
    printf("# blocks: %llu extra links on %llu nodes (%.1f each), max block %u of %zu\n",
           (unsigned long long)rep.links_extra, (unsigned long long)rep.nodes_extra,
           (double)rep.links_extra / (double)rep.nodes_extra, max_block, d.n);
    for (uint8_t v = 0; v < 3; v++) {
        uint32_t nb, *ids = ids_with(val, d.n, v, &nb);
        qv_hnsw_search_opts acc = {accept_value, &vf[v], .walk = QV_HNSW_WALK_ACCEPTED};
        qv_hnsw_search_opts ent = {accept_value, &vf[v], ids, 4, QV_HNSW_WALK_ACCEPTED};
        qv_hnsw_search_opts all = {accept_value, &vf[v], .walk = QV_HNSW_WALK_ALL};
        double dacc, dall, dent;
        double r = recall_opts(h, &d, dist, ef, &acc, &tt[v], &dacc);
        double rent = recall_opts(h, &d, dist, ef, &ent, &tt[v], &dent);
        double rall = recall_opts(h, &d, dist, ef, &all, &tt[v], &dall);
        printf("# block %2u%%: restricted walk recall@10 ef=%zu %.4f -> %.4f with links "
               "(%.0f distances), %.4f from 4 entries (%.0f); walk-all %.4f (%.0f)\n",
               pct[v], ef, before[v], r, dacc, rent, dent, rall, dall);
        free(ids);
        assert_true(r >= 0.95 && rent >= 0.95);
        assert_true(rall >= 0.95);
        if (before[v] < 0.95) assert_true(r > before[v]);
        assert_true(dacc < dall);
    }
    /* the links matter at 1% (at the valgrind size a 1% block is 5 points,
     * too few for the walk without links to fall apart reliably) */
    if (!under_valgrind()) assert_true(before[0] < 0.95);
    /* a plain search still finds the same neighbours as before */
    truth t = truth_new(&d, dist, NULL, NULL);
    double r = measure_recall(h, &d, dist, 64, NULL, NULL, &t);
    assert_true(r >= 0.95);
    truth_free(&t);
    for (uint8_t v = 0; v < 3; v++) truth_free(&tt[v]);
    free(val);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Qdrant's multitenancy set-up (m: 0, payload_m: 16): no global graph,
 * one graph per tenant.  A search restricted to a tenant and started from
 * a few of its points reaches recall@10 >= 0.95; without entry points it
 * finds nothing; the validator accepts the graph and it round-trips. */
static void test_subgraph_tenants(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 43, false);
    qv_distance dist = QV_DIST_EUCLID;
    qv_err err;
    qv_hnsw *h = NULL;
    qv_hnsw_store st = store_of(&d);
    qv_hnsw_params p = {.ef_construct = 100, .seed = 7, .no_main = true};
    assert_int_equal(qv_hnsw_new(d.dim, dist, &p, &st, &h, &err), QV_OK);
    assert_int_equal(qv_hnsw_get_params(h).m, 0);
    assert_true(qv_hnsw_get_params(h).no_main);
    assert_int_equal(qv_hnsw_build(h, (uint32_t)d.n, 2, &err), QV_OK);
    assert_int_equal(qv_hnsw_max_level(h), 0);
    assert_healthy(h);
    assert_int_equal(qv_hnsw_subgraph_max_block(h), UINT32_MAX);
    static const unsigned pct[] = {2, 8, 20, 30}; /* and 40% in the fifth */
    uint8_t *val = block_values(d.n, pct, 4, 99);
    for (uint8_t v = 0; v <= 4; v++) {
        uint32_t nb, *ids = ids_with(val, d.n, v, &nb);
        assert_int_equal(qv_hnsw_add_subgraph(h, ids, nb, 16, v % 2 + 1, NULL, &err), QV_OK);
        free(ids);
    }
    assert_healthy(h);
    /* a plain search has nowhere to start */
    uint32_t ids[K];
    size_t found = 99;
    assert_int_equal(qv_hnsw_search(h, d.queries, K, 64, NULL, NULL, ids, NULL, &found, &err),
                     QV_OK);
    assert_int_equal(found, 0);
    char pa[128];
    path_of(pa, sizeof pa, "t.hnsw");
    assert_int_equal(qv_hnsw_save(h, pa, &err), QV_OK);
    qv_hnsw *g = NULL;
    assert_int_equal(qv_hnsw_load_placed(pa, &st, QV_HNSW_MAP_COLD, &g, &err), QV_OK);
    assert_healthy(g);
    assert_true(qv_hnsw_get_params(g).no_main);
    for (uint8_t v = 0; v <= 4; v++) {
        value_filter vf = {val, v};
        truth t = truth_new(&d, dist, accept_value, &vf);
        uint32_t nb, *tids = ids_with(val, d.n, v, &nb);
        assert_true(nb >= 4);
        qv_hnsw_search_opts o = {accept_value, &vf, tids, 4, QV_HNSW_WALK_ACCEPTED};
        double dq, r = recall_opts(h, &d, dist, 64, &o, &t, &dq);
        double rg = recall_opts(g, &d, dist, 64, &o, &t, NULL);
        printf("# tenant of %u points (no global graph): recall@10 ef=64 %.4f (%.0f distances), "
               "loaded %.4f\n",
               nb, r, dq, rg);
        assert_true(r >= 0.95);
        assert_true(rg == r);
        o.nentries = 0;
        assert_int_equal(qv_hnsw_search_with(h, d.queries, K, 64, &o, ids, NULL, &found, &err),
                         QV_OK);
        assert_int_equal(found, 0);
        free(tids);
        truth_free(&t);
    }
    qv_hnsw_free(g);
    free(val);
    qv_hnsw_free(h);
    free_data(&d);
}

/* ACORN on a random 5% filter, without blocks: the restricted walk's recall
 * collapses, ACORN's recovers (>= 0.9 at ef 64, >= 0.95 at ef 128), for
 * fewer distances than walking the rejected points too. */
static void test_acorn(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 45, true);
    qv_distance dist = QV_DIST_DOT;
    qv_hnsw *h = build_index(&d, dist, 16, 2);
    uint8_t *ok = random_subset(d.n, 5, 123);
    accept_set a = {ok, d.n};
    truth t = truth_new(&d, dist, accept_in, &a);
    double r[3][2], dq[3][2];
    size_t efs[2] = {64, 128};
    for (int w = 0; w < 3; w++)
        for (int e = 0; e < 2; e++) {
            qv_hnsw_search_opts o = {accept_in, &a, .walk = (qv_hnsw_walk)w};
            r[w][e] = recall_opts(h, &d, dist, efs[e], &o, &t, &dq[w][e]);
        }
    for (int e = 0; e < 2; e++)
        printf("# random 5%% filter, ef=%zu: recall@10 (distances) walk-all %.4f (%.0f), "
               "restricted %.4f (%.0f), ACORN %.4f (%.0f)\n",
               efs[e], r[0][e], dq[0][e], r[1][e], dq[1][e], r[2][e], dq[2][e]);
    /* the restricted walk falls apart at 5% (of 4000 points; 25 of the
     * valgrind size's 500 are too few to say) */
    if (!under_valgrind()) assert_true(r[1][0] < 0.9);
    assert_true(r[2][0] >= r[1][0] && r[2][1] >= r[1][1]);
    if (!under_valgrind()) assert_true(r[2][0] > r[1][0] && r[2][1] > r[1][1]);
    assert_true(r[2][0] >= 0.9 && r[2][1] >= 0.95);
    assert_true(dq[2][0] < dq[0][0]);
    /* int8 codes through the scorer path, ACORN, 2x oversampling */
    qv_qcodes *qc;
    qv_err err;
    assert_int_equal(
        qv_qcodes_build(QV_QCODES_SCALAR, dist, d.base, (uint32_t)d.n, DIM, 0.99f, &qc, &err),
        QV_OK);
    qv_hnsw_search_opts o = {accept_in, &a, .walk = QV_HNSW_WALK_ACORN};
    size_t hit = 0, want = 0;
    for (size_t qi = 0; qi < d.nq; qi++) {
        qv_qquery qq;
        assert_int_equal(qv_qquery_init(&qq, qc, d.queries + qi * DIM, &err), QV_OK);
        qv_hnsw_scorer qs = {qv_qquery_dist_many, &qq};
        uint32_t c[2 * K];
        size_t nc;
        assert_int_equal(qv_hnsw_search_scored_with(h, &qs, 2 * K, 128, &o, c, NULL, &nc, &err),
                         QV_OK);
        qv_qquery_free(&qq);
        for (size_t i = 0; i < nc; i++) {
            assert_true(ok[c[i]]);
            for (size_t j = 0; j < t.n[qi]; j++) hit += c[i] == t.ids[qi * K + j];
        }
        want += t.n[qi];
    }
    printf("# random 5%% filter, int8 codes, ACORN ef=128: recall@10 of 20 candidates %.4f\n",
           (double)hit / (double)want);
    assert_true((double)hit / (double)want >= 0.9);
    qv_qcodes_free(qc);
    truth_free(&t);
    free(ok);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Entry points: a search whose accepted points all lie in one cluster far
 * from the query still finds them when given one of them as an entry; the
 * options are checked. */
static void test_entries(void **state) {
    dataset d = make_data(data_n(), data_nq(), DIM, NCLUSTERS, 47, true);
    qv_distance dist = QV_DIST_COSINE;
    qv_hnsw *h = build_index(&d, dist, 16, 1);
    /* the block: the 2% of points nearest to point 0 (one region) */
    size_t nb = d.n / 50;
    uint32_t *near = malloc(nb * sizeof *near);
    assert_non_null(near);
    qv_err err;
    size_t found;
    assert_int_equal(qv_hnsw_search(h, d.base, nb, 2 * nb, NULL, NULL, near, NULL, &found, &err),
                     QV_OK);
    assert_int_equal(found, nb);
    uint8_t *in = calloc(d.n, 1);
    for (size_t i = 0; i < nb; i++) in[near[i]] = 1;
    accept_set a = {in, d.n};
    truth t = truth_new(&d, dist, accept_in, &a);
    qv_hnsw_search_opts o = {accept_in, &a, .walk = QV_HNSW_WALK_ACCEPTED};
    double d0, d1, d2;
    double r0 = recall_opts(h, &d, dist, 32, &o, &t, &d0);
    assert_int_equal(qv_hnsw_add_subgraph(h, near, (uint32_t)nb, 8, 1, NULL, &err), QV_OK);
    double r1 = recall_opts(h, &d, dist, 32, &o, &t, &d1);
    o.entries = near + nb - 3;
    o.nentries = 3;
    double r2 = recall_opts(h, &d, dist, 32, &o, &t, &d2);
    printf("# one-region block of %zu: restricted walk recall@10 ef=32 %.4f (%.0f distances), "
           "with links %.4f (%.0f), and 3 entry points %.4f (%.0f)\n",
           nb, r0, d0, r1, d1, r2, d2);
    assert_true(r2 >= 0.95 && r2 >= r1);
    /* bad options */
    uint32_t ids[K], bad = (uint32_t)d.n;
    o.entries = &bad;
    o.nentries = 1;
    assert_int_equal(qv_hnsw_search_with(h, d.queries, K, 32, &o, ids, NULL, &found, &err),
                     QV_EBADINPUT);
    qv_hnsw_search_opts ow = {.walk = (qv_hnsw_walk)7};
    assert_int_equal(qv_hnsw_search_with(h, d.queries, K, 32, &ow, ids, NULL, &found, &err),
                     QV_EBADINPUT);
    /* NULL options: the plain search */
    uint32_t a1[K], a2[K];
    size_t f1, f2;
    assert_int_equal(qv_hnsw_search_with(h, d.queries, K, 32, NULL, a1, NULL, &f1, &err), QV_OK);
    assert_int_equal(qv_hnsw_search(h, d.queries, K, 32, NULL, NULL, a2, NULL, &f2, &err), QV_OK);
    assert_int_equal(f1, f2);
    assert_memory_equal(a1, a2, f1 * sizeof *a1);
    truth_free(&t);
    free(in);
    free(near);
    qv_hnsw_free(h);
    free_data(&d);
}

/* The same filtered results before and after a save and load (heap and
 * mapped), the same bytes saved again, and single-threaded blocks are
 * deterministic. */
static void test_subgraph_save_load(void **state) {
    size_t n = under_valgrind() ? 500 : 2000;
    dataset d = make_data(n, 20, DIM, 12, 49, true);
    qv_distance dist = QV_DIST_COSINE;
    static const unsigned pct[] = {3, 10, 30};
    uint8_t *val = block_values(n, pct, 3, 17);
    qv_hnsw *h[2];
    qv_err err;
    for (int c = 0; c < 2; c++) {
        h[c] = build_index(&d, dist, 8, 1);
        /* two fields' blocks: each point in up to two blocks */
        for (uint8_t v = 0; v < 3; v++) {
            uint32_t nb, *ids = ids_with(val, n, v, &nb);
            assert_int_equal(qv_hnsw_add_subgraph(h[c], ids, nb, 6, 1, NULL, &err), QV_OK);
            free(ids);
        }
        uint32_t odd[1000], no = 0;
        for (uint32_t i = 1; i < n && no < 1000; i += 2) odd[no++] = i;
        assert_int_equal(qv_hnsw_add_subgraph(h[c], odd, no, 4, 1, NULL, &err), QV_OK);
    }
    assert_healthy(h[0]);
    assert_same_graph(h[0], h[1]);
    char pa[128], pc[128];
    path_of(pa, sizeof pa, "a.hnsw");
    path_of(pc, sizeof pc, "c.hnsw");
    assert_int_equal(qv_hnsw_save(h[0], pa, &err), QV_OK);
    qv_hnsw_store st = store_of(&d);
    for (int place = QV_HNSW_HEAP; place <= QV_HNSW_MAP_CACHED; place++) {
        qv_hnsw *g = NULL;
        assert_int_equal(qv_hnsw_load_placed(pa, &st, (qv_hnsw_place)place, &g, &err), QV_OK);
        assert_healthy(g);
        assert_int_equal(qv_hnsw_subgraph_count(g), 4);
        assert_int_equal(qv_hnsw_save(g, pc, &err), QV_OK);
        assert_same_file(pa, pc);
        /* every walk on the heap copy; the mapped ones share its reader */
        int walks = place == QV_HNSW_HEAP ? 3 : 1;
        for (uint8_t v = 0; v < 3; v++)
            for (int w = 0; w < walks; w++) {
                value_filter vf = {val, v};
                qv_hnsw_search_opts o = {accept_value, &vf, .walk = (qv_hnsw_walk)(2 - w)};
                for (size_t qi = 0; qi < d.nq; qi++) {
                    uint32_t ia[K], ib[K];
                    size_t fa, fb;
                    const float *q = d.queries + qi * d.dim;
                    assert_int_equal(qv_hnsw_search_with(h[0], q, K, 32, &o, ia, NULL, &fa, &err),
                                     QV_OK);
                    assert_int_equal(qv_hnsw_search_with(g, q, K, 32, &o, ib, NULL, &fb, &err),
                                     QV_OK);
                    assert_int_equal(fa, fb);
                    assert_memory_equal(ia, ib, fa * sizeof *ia);
                }
            }
        if (place != QV_HNSW_HEAP) {
            uint32_t two[2] = {0, 1};
            assert_int_equal(qv_hnsw_add_subgraph(g, two, 2, 4, 1, NULL, &err), QV_EBADINPUT);
        } else {
            /* a loaded heap graph takes more points and more blocks */
            assert_int_equal(qv_hnsw_reserve(g, (uint32_t)n + 5, &err), QV_OK);
            uint32_t few[3] = {0, 5, 9};
            assert_int_equal(qv_hnsw_add_subgraph(g, few, 3, 4, 1, NULL, &err), QV_OK);
            assert_healthy(g);
        }
        qv_hnsw_free(g);
    }
    free(val);
    qv_hnsw_free(h[0]);
    qv_hnsw_free(h[1]);
    free_data(&d);
}

/* The extra sections are checked at load (out-of-range link, bad offset,
 * flipped bytes) and by the validator (self link, duplicate); a version-1
 * file (the format before extra links) still loads. */
static void test_subgraph_corrupt(void **state) {
    size_t n = under_valgrind() ? 300 : 1000;
    dataset d = make_data(n, 2, DIM, 10, 51, true);
    qv_hnsw *h = build_index(&d, QV_DIST_COSINE, 6, 1);
    char pa[128], pe[128];
    path_of(pa, sizeof pa, "a.hnsw");
    path_of(pe, sizeof pe, "e.hnsw");
    qv_err err;
    /* a version-1 file: the graph without blocks, its header cut to 64 bytes */
    assert_int_equal(qv_hnsw_save(h, pa, &err), QV_OK);
    size_t len;
    unsigned char *v2 = slurp(pa, &len);
    uint64_t xw;
    memcpy(&xw, v2 + 64, 8);
    assert_int_equal(xw, 0);
    unsigned char *v1 = malloc(len);
    memcpy(v1, v2, 64);
    memcpy(v1 + 64, v2 + FILE_HDR, len - FILE_HDR);
    put32(v1, OFF_VERSION, 1);
    put32(v1, 12, 64);
    fix_crc(v1, len - 8);
    spit(pe, v1, len - 8);
    qv_hnsw *g = NULL;
    qv_hnsw_store st = store_of(&d);
    assert_int_equal(qv_hnsw_load_placed(pe, &st, QV_HNSW_MAP_CACHED, &g, &err), QV_OK);
    assert_healthy(g);
    same_results(h, g, &d);
    qv_hnsw_free(g);
    assert_int_equal(qv_hnsw_load(pe, &st, &g, &err), QV_OK);
    assert_healthy(g);
    assert_int_equal(qv_hnsw_save(g, pe, &err), QV_OK);
    assert_same_file(pa, pe); /* saved again as version 2 */
    qv_hnsw_free(g);
    put32(v1, 52, 1); /* a version-1 file cannot have blocks */
    fix_crc(v1, len - 8);
    spit(pe, v1, len - 8);
    expect_corrupt(pe, &d, "v1 blocks");
    free(v1);
    free(v2);
    /* now with one block over the even points */
    uint32_t even[600], ne = 0;
    for (uint32_t i = 0; i < n; i += 2) even[ne++] = i;
    assert_int_equal(qv_hnsw_add_subgraph(h, even, ne, 4, 1, NULL, &err), QV_OK);
    assert_healthy(h);
    assert_int_equal(qv_hnsw_save(h, pa, &err), QV_OK);
    unsigned char *good = slurp(pa, &len), *b = malloc(len);
    memcpy(&xw, good + 64, 8);
    assert_true(xw > 1);
    size_t pool = len - 4 - xw * 4, offs = pool - n * 8;
    assert_true(offs % 8 == 0);
    /* the first node with extra links, and its first one */
    uint32_t node = 0;
    uint64_t o = 0;
    for (; node < n; node++) {
        memcpy(&o, good + offs + node * 8, 8);
        if (o) break;
    }
    assert_int_equal(o, 1);
    size_t first = pool + 8; /* pool word 1 is the count, word 2 the first id */
    struct {
        size_t at;
        uint64_t v;
        int width;
        const char *what;
    } bad[] = {
        {first, n, 4, "extra link id"},
        {first, 0xFFFFFFFFu, 4, "extra link id max"},
        {pool + 4, 0, 4, "extra count 0"},
        {pool + 4, xw, 4, "extra count past the pool"},
        {pool, 1, 4, "pool word 0"},
        {offs + node * 8, 2, 8, "extra offset"},
        {offs + node * 8, xw + 10, 8, "extra offset past the pool"},
        {64, xw + 1, 8, "extra words"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(b, good, len);
        memcpy(b + bad[i].at, &bad[i].v, (size_t)bad[i].width);
        fix_crc(b, len);
        spit(pe, b, len);
        expect_corrupt(pe, &d, bad[i].what);
    }
    for (size_t at = offs; at < len; at += (len - offs) / 20 + 1) {
        memcpy(b, good, len);
        b[at] ^= 0x10;
        spit(pe, b, len);
        expect_corrupt(pe, &d, "flipped extra byte");
    }
    /* loadable but wrong: a self link, a link twice */
    uint32_t cnt;
    memcpy(&cnt, good + pool + 4, 4);
    assert_true(cnt >= 2);
    uint32_t l1;
    memcpy(&l1, good + first, 4);
    uint32_t wrong[2] = {node, l1};
    const char *what[2] = {"self", "duplicate"};
    for (int i = 0; i < 2; i++) {
        memcpy(b, good, len);
        put32(b, first + 4, wrong[i]);
        fix_crc(b, len);
        spit(pe, b, len);
        assert_int_equal(qv_hnsw_load(pe, &st, &g, &err), QV_OK);
        qv_hnsw_report rep;
        assert_int_equal(qv_hnsw_check(g, &rep, &err), QV_ECORRUPT);
        printf("# corrupted extra link (%s): %s\n", what[i], err.msg);
        assert_true(i == 0 ? rep.self_links == 1 : rep.duplicates == 1);
        qv_hnsw_free(g);
    }
    free(good);
    free(b);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Points inserted after the blocks get main links only; the graph stays
 * valid, and a search restricted to a block finds the new block points as
 * well as the old ones. */
static void test_subgraph_then_insert(void **state) {
    size_t n = under_valgrind() ? 400 : 1500, first = n * 4 / 5;
    dataset d = make_data(n, 20, DIM, 10, 57, true);
    qv_hnsw_store st = store_of(&d);
    qv_hnsw_params p = {.m = 8, .ef_construct = 64, .seed = 3};
    qv_hnsw *h = NULL;
    qv_err err;
    assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, &p, &st, &h, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(h, (uint32_t)first, 2, &err), QV_OK);
    uint8_t *odd = calloc(n, 1);
    uint32_t *ids = malloc(n * sizeof *ids), nb = 0;
    for (uint32_t i = 1; i < n; i += 2) {
        odd[i] = 1;
        if (i < first) ids[nb++] = i;
    }
    assert_int_equal(qv_hnsw_add_subgraph(h, ids, nb, 8, 1, NULL, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(h, (uint32_t)n, 2, &err), QV_OK);
    assert_healthy(h);
    accept_set a = {odd, n};
    truth t = truth_new(&d, QV_DIST_COSINE, accept_in, &a);
    qv_hnsw_search_opts o = {accept_in, &a, .walk = QV_HNSW_WALK_ACCEPTED};
    double r = recall_opts(h, &d, QV_DIST_COSINE, 64, &o, &t, NULL);
    size_t fresh = 0; /* results among the points inserted after the block */
    for (size_t qi = 0; qi < d.nq; qi++) {
        uint32_t got[K];
        size_t found;
        assert_int_equal(
            qv_hnsw_search_with(h, d.queries + qi * d.dim, K, 64, &o, got, NULL, &found, &err),
            QV_OK);
        for (size_t i = 0; i < found; i++) fresh += got[i] >= first;
    }
    printf("# block, then %zu more points: restricted walk recall@10 ef=64 %.4f, %zu results "
           "among the new points\n",
           n - first, r, fresh);
    assert_true(r >= 0.95 && fresh > 0);
    truth_free(&t);
    free(ids);
    free(odd);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Bad blocks are refused and change nothing; a flag set before the call
 * stops it at once, one set from another thread during a long block build
 * soon after; either way the graph is as it was. */
static void test_subgraph_cancel(void **state) {
    size_t n = under_valgrind() ? 4000 : 30000;
    dataset d = make_data(n, 1, DIM, NCLUSTERS, 53, true);
    qv_hnsw_store st = store_of(&d);
    qv_hnsw_params p = {.ef_construct = 200, .seed = 1, .no_main = true};
    qv_err err = {0};
    qv_hnsw *h = NULL;
    assert_int_equal(qv_hnsw_new(d.dim, QV_DIST_COSINE, &p, &st, &h, &err), QV_OK);
    assert_int_equal(qv_hnsw_build(h, (uint32_t)n, 1, &err), QV_OK);
    uint32_t *all = malloc(n * sizeof *all);
    for (uint32_t i = 0; i < n; i++) all[i] = i;
    /* refused */
    uint32_t dup[3] = {4, 9, 4}, out[2] = {1, (uint32_t)n};
    assert_int_equal(qv_hnsw_add_subgraph(h, dup, 3, 8, 1, NULL, &err), QV_EBADINPUT);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(qv_hnsw_add_subgraph(h, out, 2, 8, 1, NULL, &err), QV_EBADINPUT);
    assert_int_equal(qv_hnsw_add_subgraph(h, all, 10, 1, 1, NULL, &err), QV_EBADINPUT);
    assert_int_equal(qv_hnsw_add_subgraph(h, all, 10, QV_HNSW_MAX_M + 1, 1, NULL, &err),
                     QV_EBADINPUT);
    assert_int_equal(qv_hnsw_add_subgraph(h, all, 1, 8, 1, NULL, &err), QV_OK); /* nothing */
    atomic_bool flag;
    atomic_init(&flag, true);
    assert_int_equal(qv_hnsw_add_subgraph(h, all, (uint32_t)n, 16, 2, &flag, &err),
                     QV_EUNAVAILABLE);
    for (unsigned threads = 1; threads <= 2; threads++) {
        atomic_init(&flag, false);
        cancel_job j = {&flag, 50000, 0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, cancel_thread, &j), 0);
        double t0 = now_s();
        qv_rc rc = qv_hnsw_add_subgraph(h, all, (uint32_t)n, 16, threads, &flag, &err);
        double t1 = now_s();
        pthread_join(th, NULL);
        printf("# block cancel (%u threads): returned %.3f s after the flag, %.3f s in all\n",
               threads, t1 - j.set_at, t1 - t0);
        assert_int_equal(rc, QV_EUNAVAILABLE);
        assert_non_null(strstr(err.msg, "cancel"));
        assert_true(t1 - j.set_at < 0.5);
    }
    qv_hnsw_report rep;
    assert_int_equal(qv_hnsw_check(h, &rep, &err), QV_OK);
    assert_int_equal(rep.links_extra, 0);
    assert_int_equal(qv_hnsw_subgraph_count(h), 0);
    free(all);
    qv_hnsw_free(h);
    free_data(&d);
}

/* Concurrent restricted and ACORN searches over a graph with blocks (TSan
 * checks the scratch stack and the two-hop tags): each thread gets the
 * single-threaded results. */
typedef struct walk_job {
    const qv_hnsw *h;
    const dataset *d;
    const qv_hnsw_search_opts *o;
    const uint32_t *want; /* 2 walks x nq x K */
    int bad;
} walk_job;

static void *walk_thread(void *arg) {
    walk_job *j = arg;
    for (int rep = 0; rep < 2; rep++)
        for (int w = 0; w < 2; w++)
            for (size_t qi = 0; qi < j->d->nq; qi++) {
                uint32_t ids[K];
                size_t found;
                qv_err err;
                if (qv_hnsw_search_with(j->h, j->d->queries + qi * j->d->dim, K, 40, &j->o[w], ids,
                                        NULL, &found, &err) != QV_OK ||
                    memcmp(ids, j->want + (w * j->d->nq + qi) * K, found * sizeof *ids) != 0)
                    j->bad++;
            }
    return NULL;
}

static void test_concurrent_walks(void **state) {
    dataset d = make_data(under_valgrind() ? 500 : 3000, 30, DIM, 20, 55, true);
    qv_hnsw *h = build_index(&d, QV_DIST_COSINE, 16, 2);
    static const unsigned pct[] = {10};
    uint8_t *val = block_values(d.n, pct, 1, 5);
    uint32_t nb, *ids = ids_with(val, d.n, 0, &nb);
    qv_err err;
    assert_int_equal(qv_hnsw_add_subgraph(h, ids, nb, 16, 2, NULL, &err), QV_OK);
    value_filter vf = {val, 0};
    qv_hnsw_search_opts o[2] = {{accept_value, &vf, ids, 2, QV_HNSW_WALK_ACCEPTED},
                                {accept_value, &vf, .walk = QV_HNSW_WALK_ACORN}};
    uint32_t *want = calloc(2 * d.nq * K, sizeof *want);
    for (int w = 0; w < 2; w++)
        for (size_t qi = 0; qi < d.nq; qi++) {
            size_t found;
            assert_int_equal(qv_hnsw_search_with(h, d.queries + qi * d.dim, K, 40, &o[w],
                                                 want + (w * d.nq + qi) * K, NULL, &found, &err),
                             QV_OK);
            assert_int_equal(found, K);
        }
    pthread_t th[3];
    walk_job jobs[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (walk_job){h, &d, o, want, 0};
        assert_int_equal(pthread_create(&th[i], NULL, walk_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
    free(want);
    free(ids);
    free(val);
    qv_hnsw_free(h);
    free_data(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_recall_cosine),
        cmocka_unit_test(test_recall_dot),
        cmocka_unit_test(test_recall_euclid),
        cmocka_unit_test(test_recall_manhattan),
        cmocka_unit_test(test_scored_search),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_deleted),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_store_callback),
        cmocka_unit_test(test_elem_rows),
        cmocka_unit_test(test_concurrent_search),
        cmocka_unit_test(test_cancel_unset),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_subgraph_blocks),
        cmocka_unit_test(test_subgraph_tenants),
        cmocka_unit_test(test_acorn),
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_subgraph_save_load),
        cmocka_unit_test(test_subgraph_corrupt),
        cmocka_unit_test(test_subgraph_then_insert),
        cmocka_unit_test(test_subgraph_cancel),
        cmocka_unit_test(test_concurrent_walks),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
