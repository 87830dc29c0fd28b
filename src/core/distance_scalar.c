/*
 * distance_scalar.c - the reference kernels: plain loops, one float
 * accumulator each, summing in index order.
 *
 * This table is the oracle the SIMD tables are tested against and the
 * fallback on CPUs without a SIMD table, so it stays obviously right rather
 * than fast: a single accumulator makes the result a fixed function of the
 * inputs (no reassociation), which is what makes it a reproducible
 * reference.  It deliberately does no unrolling or manual vectorisation; at
 * -O2 without -ffast-math the compiler cannot reorder the float sums either.
 */
#include "core/distance_impl.h"

#include <math.h>

static float scalar_dot(const float *a, const float *b, size_t dim) {
    float s = 0.0f;
    for (size_t i = 0; i < dim; i++) s += a[i] * b[i];
    return s;
}

static float scalar_l2sq(const float *a, const float *b, size_t dim) {
    float s = 0.0f;
    for (size_t i = 0; i < dim; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static float scalar_l1(const float *a, const float *b, size_t dim) {
    float s = 0.0f;
    for (size_t i = 0; i < dim; i++) s += fabsf(a[i] - b[i]);
    return s;
}

/* The multi-query variants are the single kernels in a loop: the reference
 * defines what the blocked SIMD versions must compute, not how fast. */
static void scalar_dot_multi(const float *const *queries, size_t nq, const float *v, size_t dim,
                             float *out) {
    for (size_t q = 0; q < nq; q++) out[q] = scalar_dot(queries[q], v, dim);
}

static void scalar_l2sq_multi(const float *const *queries, size_t nq, const float *v, size_t dim,
                              float *out) {
    for (size_t q = 0; q < nq; q++) out[q] = scalar_l2sq(queries[q], v, dim);
}

static void scalar_l1_multi(const float *const *queries, size_t nq, const float *v, size_t dim,
                            float *out) {
    for (size_t q = 0; q < nq; q++) out[q] = scalar_l1(queries[q], v, dim);
}

/* The block variants likewise; pf is only a hint, which the reference
 * ignores. */
static void scalar_dot_block(const float *const *queries, size_t nq, const float *const *vs,
                             size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                             size_t npf) {
    (void)pf;
    (void)npf;
    for (size_t q = 0; q < nq; q++)
        for (size_t j = 0; j < nv; j++) out[q * ldo + j] = scalar_dot(queries[q], vs[j], dim);
}

static void scalar_l2sq_block(const float *const *queries, size_t nq, const float *const *vs,
                              size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                              size_t npf) {
    (void)pf;
    (void)npf;
    for (size_t q = 0; q < nq; q++)
        for (size_t j = 0; j < nv; j++) out[q * ldo + j] = scalar_l2sq(queries[q], vs[j], dim);
}

static void scalar_l1_block(const float *const *queries, size_t nq, const float *const *vs,
                            size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                            size_t npf) {
    (void)pf;
    (void)npf;
    for (size_t q = 0; q < nq; q++)
        for (size_t j = 0; j < nv; j++) out[q * ldo + j] = scalar_l1(queries[q], vs[j], dim);
}

const qv_kernels qv_kernels_scalar = {
    .name = "scalar",
    .dot = scalar_dot,
    .l2sq = scalar_l2sq,
    .l1 = scalar_l1,
    .dot_multi = scalar_dot_multi,
    .l2sq_multi = scalar_l2sq_multi,
    .l1_multi = scalar_l1_multi,
    .dot_block = scalar_dot_block,
    .l2sq_block = scalar_l2sq_block,
    .l1_block = scalar_l1_block,
};
