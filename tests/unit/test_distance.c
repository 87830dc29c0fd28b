/*
 * test_distance.c - distance kernels against the scalar reference, plus
 * normalisation, scores, names and dispatch (src/core/distance*.c).
 *
 * Every table this CPU can run is compared with the scalar one for each
 * kernel, at dimensions around every SIMD width boundary (1, 3, 15..17,
 * 31..33, 63..65, 127) and at real embedding sizes (384, 1536), with seeded
 * random data and pointers offset by one float so no load is aligned.  The
 * multi-query kernels are checked for every batch size 1..16, each query at
 * its own offset, and must not write past out[nq - 1].  The block kernels
 * are checked for every nq 1..16 and nv 1..QV_KERNEL_BLOCK_NV, stored
 * vectors at offsets of 1..3 floats, output rows packed and strided, with
 * and without prefetch hints; they must not write outside their nq x nv
 * results, and each result must be bitwise what the kernel gives for its
 * query and vector alone (search relies on that).  Tables the CPU
 * cannot run are skipped with a message; the test prints what it compared.
 *
 * SIMD sums are reassociated, so equality is within a tolerance: relative
 * 1e-5 of the score's magnitude plus an absolute term proportional to dim
 * (inputs are in [-1, 1), so dim bounds the sum of term magnitudes and
 * covers cancellation in dot products).  It does not test speed (see
 * bench/kernels.c).
 */
#include "harness.h"

#include "core/distance.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t test_dims[] = {1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 384, 1536};
#define N_DIMS     (sizeof test_dims / sizeof test_dims[0])
#define MAX_DIM    1536
#define N_QUERY    QV_KERNEL_MAX_BATCH
#define REL_TOL    1e-5
#define ABS_TOL    2e-6 /* per dimension */
#define OUT_CANARY -12345.0f
#define N_BLOCK    QV_KERNEL_BLOCK_NV

/* splitmix64: small, seeded, the same stream on every platform. */
static uint64_t rng_state;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float rng_float(void) {
    return (float)((double)(rng_next() >> 40) / (double)(1u << 23) - 1.0);
}

static void fill_random(float *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] = rng_float();
}

static void assert_close(const char *what, const char *table, size_t dim, size_t q, float got,
                         float want) {
    double tol = REL_TOL * fabs((double)want) + ABS_TOL * (double)dim;
    if (fabs((double)got - (double)want) <= tol) return;
    fail_msg("%s/%s dim %zu query %zu: got %.9g, scalar %.9g (tol %.3g)", table, what, dim, q,
             (double)got, (double)want, tol);
}

/* Buffers with room for a one-float offset, so every kernel sees pointers
 * that are misaligned for any vector width. */
typedef struct {
    float *a, *b;              /* single-kernel operands, offset by one float */
    float *q[N_QUERY];         /* queries, offset by one float */
    float *v[N_BLOCK];         /* stored vectors for block kernels, offset 1..3 */
    float *store[N_QUERY + 2]; /* what to free */
    float *vstore[N_BLOCK];
} test_bufs;

static void bufs_alloc(test_bufs *t, size_t dim) {
    for (size_t i = 0; i < N_QUERY + 2; i++) {
        t->store[i] = malloc((dim + 1) * sizeof(float));
        assert_non_null(t->store[i]);
        fill_random(t->store[i], dim + 1);
    }
    t->a = t->store[0] + 1;
    t->b = t->store[1] + 1;
    for (size_t i = 0; i < N_QUERY; i++) t->q[i] = t->store[i + 2] + 1;
    for (size_t j = 0; j < N_BLOCK; j++) {
        size_t off = 1 + j % 3;
        t->vstore[j] = malloc((dim + off) * sizeof(float));
        assert_non_null(t->vstore[j]);
        fill_random(t->vstore[j], dim + off);
        t->v[j] = t->vstore[j] + off;
    }
}

static void bufs_free(test_bufs *t) {
    for (size_t i = 0; i < N_QUERY + 2; i++) free(t->store[i]);
    for (size_t j = 0; j < N_BLOCK; j++) free(t->vstore[j]);
}

static void check_single(const qv_kernels *k, const qv_kernels *ref, const test_bufs *t,
                         size_t dim) {
    assert_close("dot", k->name, dim, 0, k->dot(t->a, t->b, dim), ref->dot(t->a, t->b, dim));
    assert_close("l2sq", k->name, dim, 0, k->l2sq(t->a, t->b, dim), ref->l2sq(t->a, t->b, dim));
    assert_close("l1", k->name, dim, 0, k->l1(t->a, t->b, dim), ref->l1(t->a, t->b, dim));
}

typedef void (*multi_fn)(const float *const *, size_t, const float *, size_t, float *);
typedef float (*single_fn)(const float *, const float *, size_t);

/* One multi kernel at every batch size; out[nq] is a canary that must
 * survive. */
static void check_multi(const char *what, const char *table, multi_fn f, single_fn ref,
                        const test_bufs *t, size_t dim) {
    float out[N_QUERY + 1];
    for (size_t nq = 1; nq <= N_QUERY; nq++) {
        for (size_t i = 0; i <= N_QUERY; i++) out[i] = OUT_CANARY;
        f((const float *const *)t->q, nq, t->b, dim, out);
        for (size_t q = 0; q < nq; q++)
            assert_close(what, table, dim, q, out[q], ref(t->q[q], t->b, dim));
        if (out[nq] != OUT_CANARY) fail_msg("%s/%s wrote out[%zu] (nq %zu)", table, what, nq, nq);
    }
}

typedef void (*block_fn)(const float *const *, size_t, const float *const *, size_t, size_t,
                         float *, size_t, const float *const *, size_t);

#define LDO_PAD 3 /* floats between rows of out in the strided runs */

/* One block kernel at every nq x nv, with out rows of nv floats and of
 * nv + LDO_PAD (the gaps, and out[nq * ldo], are canaries that must
 * survive), prefetching 0..nv vectors.  Each result must also be bitwise
 * the one the kernel gives for that query and vector alone (nq = nv = 1):
 * scores may not depend on the batch around them. */
static void check_block(const char *what, const char *table, block_fn f, single_fn ref,
                        const test_bufs *t, size_t dim) {
    float out[N_QUERY * (N_BLOCK + LDO_PAD) + 1], alone[N_QUERY][N_BLOCK];
    const float *const *qs = (const float *const *)t->q, *const *vs = (const float *const *)t->v;
    for (size_t q = 0; q < N_QUERY; q++)
        for (size_t j = 0; j < N_BLOCK; j++) f(qs + q, 1, vs + j, 1, dim, &alone[q][j], 1, NULL, 0);
    for (size_t nq = 1; nq <= N_QUERY; nq++) {
        for (size_t nv = 1; nv <= N_BLOCK; nv++) {
            for (size_t pad = 0; pad <= LDO_PAD; pad += LDO_PAD) {
                size_t ldo = nv + pad, npf = (nq + nv + pad) % (N_BLOCK + 1);
                for (size_t i = 0; i <= nq * ldo; i++) out[i] = OUT_CANARY;
                f(qs, nq, vs, nv, dim, out, ldo, npf ? vs : NULL, npf);
                for (size_t q = 0; q < nq; q++) {
                    for (size_t j = 0; j < nv; j++) {
                        float got = out[q * ldo + j];
                        assert_close(what, table, dim, q * nv + j, got, ref(t->q[q], t->v[j], dim));
                        if (memcmp(&got, &alone[q][j], sizeof got) != 0)
                            fail_msg("%s/%s at dim %zu: query %zu x vector %zu is %.9g in a "
                                     "%zu x %zu block, %.9g alone",
                                     table, what, dim, q, j, got, nq, nv, alone[q][j]);
                    }
                    for (size_t j = nv; j < ldo && q + 1 < nq; j++)
                        if (out[q * ldo + j] != OUT_CANARY)
                            fail_msg("%s/%s wrote the gap out[%zu] (nq %zu, nv %zu, ldo %zu)",
                                     table, what, q * ldo + j, nq, nv, ldo);
                }
                if (out[(nq - 1) * ldo + nv] != OUT_CANARY)
                    fail_msg("%s/%s wrote out[%zu] (nq %zu, nv %zu, ldo %zu)", table, what,
                             (nq - 1) * ldo + nv, nq, nv, ldo);
            }
        }
    }
}

/* state is the table's name (see KERNEL_TEST). */
static void test_kernel_matches_scalar(void **state) {
    const char *name = *state;
    const qv_kernels *k = qv_kernels_by_name(name);
    const qv_kernels *ref = qv_kernels_by_name("scalar");
    assert_non_null(ref);
    if (!k) {
        printf("[  SKIP    ] kernels \"%s\": not available on this CPU/build\n", name);
        skip();
    }
    rng_state = 42;
    for (size_t d = 0; d < N_DIMS; d++) {
        size_t dim = test_dims[d];
        test_bufs t;
        bufs_alloc(&t, dim);
        check_single(k, ref, &t, dim);
        check_multi("dot_multi", k->name, k->dot_multi, ref->dot, &t, dim);
        check_multi("l2sq_multi", k->name, k->l2sq_multi, ref->l2sq, &t, dim);
        check_multi("l1_multi", k->name, k->l1_multi, ref->l1, &t, dim);
        check_block("dot_block", k->name, k->dot_block, ref->dot, &t, dim);
        check_block("l2sq_block", k->name, k->l2sq_block, ref->l2sq, &t, dim);
        check_block("l1_block", k->name, k->l1_block, ref->l1, &t, dim);
        bufs_free(&t);
    }
    printf("[ COMPARED ] kernels \"%s\" vs scalar: dot, l2sq, l1, their _multi (nq 1..%d) and "
           "_block (nv 1..%d) at %zu dims\n",
           name, N_QUERY, N_BLOCK, N_DIMS);
}

/* The scalar table itself, against hand-computed sums of small integers
 * (exact in float, so no tolerance). */
static void test_scalar_exact(void **state) {
    const qv_kernels *s = qv_kernels_by_name("scalar");
    float a[] = {1, -2, 3, 4}, b[] = {2, 2, -1, 0};
    assert_float_equal(s->dot(a, b, 4), 2 - 4 - 3 + 0, 0);
    assert_float_equal(s->l2sq(a, b, 4), 1 + 16 + 16 + 16, 0);
    assert_float_equal(s->l1(a, b, 4), 1 + 4 + 4 + 4, 0);
}

static double norm_of(const float *v, size_t dim) {
    double s = 0;
    for (size_t i = 0; i < dim; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

static void test_normalize(void **state) {
    float v[MAX_DIM];
    rng_state = 7;
    for (size_t d = 0; d < N_DIMS; d++) {
        size_t dim = test_dims[d];
        fill_random(v, dim);
        for (size_t i = 0; i < dim; i++) v[i] *= 100.0f; /* not already near unit length */
        qv_normalize(v, dim);
        assert_float_equal(norm_of(v, dim), 1.0, 1e-5);
    }
    /* Direction is kept and a 3-4-5 triangle comes out exact. */
    float t[2] = {3, 4};
    qv_normalize(t, 2);
    assert_float_equal(t[0], 0.6f, 1e-7);
    assert_float_equal(t[1], 0.8f, 1e-7);
}

static void test_normalize_degenerate(void **state) {
    float zero[5] = {0};
    qv_normalize(zero, 5);
    for (size_t i = 0; i < 5; i++) assert_true(zero[i] == 0.0f);
    /* Norm below FLT_EPSILON: left untouched, as Qdrant does. */
    float tiny[2] = {FLT_EPSILON / 4, -FLT_EPSILON / 4};
    qv_normalize(tiny, 2);
    assert_true(tiny[0] == FLT_EPSILON / 4 && tiny[1] == -FLT_EPSILON / 4);
}

static void test_score(void **state) {
    const qv_kernels *s = qv_kernels_by_name("scalar");
    float q[] = {1, 2, 3}, v[] = {4, 6, 3};
    assert_float_equal(qv_score(s, QV_DIST_DOT, q, v, 3), 4 + 12 + 9, 1e-6);
    assert_float_equal(qv_score(s, QV_DIST_COSINE, q, v, 3), 4 + 12 + 9, 1e-6);
    assert_float_equal(qv_score(s, QV_DIST_EUCLID, q, v, 3), 5.0, 1e-6); /* sqrt(9+16+0) */
    assert_float_equal(qv_score(s, QV_DIST_MANHATTAN, q, v, 3), 3 + 4 + 0, 1e-6);
    /* The best table gives the same on a vector long enough to use SIMD. */
    const qv_kernels *b = qv_kernels_best();
    float x[100], y[100];
    rng_state = 3;
    fill_random(x, 100);
    fill_random(y, 100);
    for (int d = QV_DIST_COSINE; d <= QV_DIST_MANHATTAN; d++) {
        float want = qv_score(s, (qv_distance)d, x, y, 100);
        assert_close(qv_distance_name((qv_distance)d), b->name, 100, 0,
                     qv_score(b, (qv_distance)d, x, y, 100), want);
    }
    assert_float_equal(qv_score(s, QV_DIST_EUCLID, x, y, 100), sqrtf(s->l2sq(x, y, 100)), 0);
    assert_true(qv_distance_higher_is_better(QV_DIST_COSINE));
    assert_true(qv_distance_higher_is_better(QV_DIST_DOT));
    assert_false(qv_distance_higher_is_better(QV_DIST_EUCLID));
    assert_false(qv_distance_higher_is_better(QV_DIST_MANHATTAN));
}

static void test_names(void **state) {
    for (int d = QV_DIST_COSINE; d <= QV_DIST_MANHATTAN; d++) {
        qv_distance got = (qv_distance)-1;
        assert_true(qv_distance_parse(qv_distance_name((qv_distance)d), &got));
        assert_int_equal(got, d);
    }
    assert_string_equal(qv_distance_name(QV_DIST_COSINE), "Cosine");
    assert_string_equal(qv_distance_name(QV_DIST_EUCLID), "Euclid");
    assert_string_equal(qv_distance_name(QV_DIST_DOT), "Dot");
    assert_string_equal(qv_distance_name(QV_DIST_MANHATTAN), "Manhattan");
    static const char *const bad[] = {"cosine", "COSINE",  "L2",   "Euclidean",  "dot",
                                      "",       "Cosine ", " Dot", "Manhattan\n"};
    qv_distance out = QV_DIST_DOT;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(qv_distance_parse(bad[i], &out));
        assert_int_equal(out, QV_DIST_DOT); /* untouched on failure */
    }
    assert_false(qv_distance_parse(NULL, &out));
}

/* main() sets QUIVER_KERNELS=scalar before anything initialises, so the
 * override must win over the CPU's best table. */
static void test_dispatch(void **state) {
    assert_string_equal(qv_kernels_best()->name, "scalar");
    qv_kernels_init(); /* idempotent */
    assert_ptr_equal(qv_kernels_best(), qv_kernels_by_name("scalar"));
    assert_null(qv_kernels_by_name("bogus"));
    assert_null(qv_kernels_by_name(NULL));
    static const char *const names[] = {"scalar", "avx2", "avx512", "neon"};
    for (size_t i = 0; i < 4; i++) {
        const qv_kernels *k = qv_kernels_by_name(names[i]);
        if (k) assert_string_equal(k->name, names[i]);
        printf("[ DISPATCH ] %-6s %s\n", names[i], k ? "available" : "not available");
    }
}

/* One named test per table, the table's name as the test's state. */
#define KERNEL_TEST(isa)                                                                           \
    { "kernels_" isa "_match_scalar", test_kernel_matches_scalar, NULL, NULL, (void *)isa }

int main(void) {
    setenv("QUIVER_KERNELS", "scalar", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_exact),
        KERNEL_TEST("avx2"),
        KERNEL_TEST("avx512"),
        KERNEL_TEST("neon"),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_normalize_degenerate),
        cmocka_unit_test(test_score),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
