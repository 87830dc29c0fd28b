/*
 * distance_neon.c - arm64 NEON kernels, 4 floats per register.
 *
 * NEON (Advanced SIMD) is part of the arm64 baseline, so no target
 * attributes or run-time checks are needed; on any other architecture this
 * file is an empty translation unit.
 *
 * Same shape as the x86 files: four accumulators for one query (16 floats
 * per iteration, to cover FMA latency), and register blocking for several
 * queries, where each 4-float chunk of the stored vector is loaded once and
 * combined with the same chunk of up to 8 queries.  The last dim % 4
 * elements are done with scalar code.  Sums are reassociated, so results
 * differ from the scalar reference in the last bits; the unit test bounds
 * that.  It deliberately does not use SVE: no wider vector length is
 * guaranteed and NEON already saturates memory on a scan.
 */
#include "core/distance_impl.h"

#if defined(QV_DISTANCE_NEON)

#include <arm_neon.h>
#include <math.h>

#define NEON_INLINE static inline __attribute__((always_inline))

enum { NEON_DOT, NEON_L2SQ, NEON_L1 };

/* acc + op(a, b) over 4 lanes; op is a constant after inlining. */
NEON_INLINE float32x4_t neon_step(int op, float32x4_t acc, float32x4_t a, float32x4_t b) {
    if (op == NEON_DOT) return vfmaq_f32(acc, a, b);
    if (op == NEON_L2SQ) {
        float32x4_t d = vsubq_f32(a, b);
        return vfmaq_f32(acc, d, d);
    }
    return vaddq_f32(acc, vabdq_f32(a, b)); /* |a - b| in one instruction */
}

/* The last n < 4 elements, one at a time. */
NEON_INLINE float neon_tail(int op, const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += op == NEON_DOT ? a[i] * b[i] : op == NEON_L2SQ ? d * d : fabsf(d);
    }
    return s;
}

NEON_INLINE float neon_one(int op, const float *a, const float *b, size_t dim) {
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        acc0 = neon_step(op, acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = neon_step(op, acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        acc2 = neon_step(op, acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        acc3 = neon_step(op, acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= dim; i += 4) acc0 = neon_step(op, acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    float32x4_t acc = vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3));
    return vaddvq_f32(acc) + neon_tail(op, a + i, b + i, dim - i);
}

/* n queries (n * u <= 8) against v, u chunks of 4 per query per iteration
 * (see avx2_block: the group size and unroll trade off to keep ~8 chains). */
NEON_INLINE void neon_block(int op, const float *const *queries, size_t n, size_t u, const float *v,
                            size_t dim, float *out) {
    const float *q[8];
    float32x4_t acc[8];
#pragma GCC unroll 8
    for (size_t j = 0; j < n; j++) q[j] = queries[j];
#pragma GCC unroll 8
    for (size_t k = 0; k < n * u; k++) acc[k] = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 * u <= dim; i += 4 * u) {
#pragma GCC unroll 8
        for (size_t c = 0; c < u; c++) {
            float32x4_t x = vld1q_f32(v + i + 4 * c);
#pragma GCC unroll 8
            for (size_t j = 0; j < n; j++)
                acc[j * u + c] = neon_step(op, acc[j * u + c], vld1q_f32(q[j] + i + 4 * c), x);
        }
    }
    for (; i + 4 <= dim; i += 4) {
        float32x4_t x = vld1q_f32(v + i);
#pragma GCC unroll 8
        for (size_t j = 0; j < n; j++)
            acc[j * u] = neon_step(op, acc[j * u], vld1q_f32(q[j] + i), x);
    }
#pragma GCC unroll 8
    for (size_t j = 0; j < n; j++) {
        float32x4_t s = acc[j * u];
#pragma GCC unroll 8
        for (size_t c = 1; c < u; c++) s = vaddq_f32(s, acc[j * u + c]);
        out[j] = vaddvq_f32(s) + neon_tail(op, q[j] + i, v + i, dim - i);
    }
}

/* Groups of 8, then a 4, a 2 and a single query for the remainder. */
NEON_INLINE void neon_multi(int op, const float *const *queries, size_t nq, const float *v,
                            size_t dim, float *out) {
    size_t q = 0;
    for (; q + 8 <= nq; q += 8) neon_block(op, queries + q, 8, 1, v, dim, out + q);
    if (nq - q >= 4) {
        neon_block(op, queries + q, 4, 2, v, dim, out + q);
        q += 4;
    }
    if (nq - q >= 2) {
        neon_block(op, queries + q, 2, 4, v, dim, out + q);
        q += 2;
    }
    if (nq - q == 1) out[q] = neon_one(op, queries[q], v, dim);
}

static float neon_dot(const float *a, const float *b, size_t dim) {
    return neon_one(NEON_DOT, a, b, dim);
}

static float neon_l2sq(const float *a, const float *b, size_t dim) {
    return neon_one(NEON_L2SQ, a, b, dim);
}

static float neon_l1(const float *a, const float *b, size_t dim) {
    return neon_one(NEON_L1, a, b, dim);
}

static void neon_dot_multi(const float *const *queries, size_t nq, const float *v, size_t dim,
                           float *out) {
    neon_multi(NEON_DOT, queries, nq, v, dim, out);
}

static void neon_l2sq_multi(const float *const *queries, size_t nq, const float *v, size_t dim,
                            float *out) {
    neon_multi(NEON_L2SQ, queries, nq, v, dim, out);
}

static void neon_l1_multi(const float *const *queries, size_t nq, const float *v, size_t dim,
                          float *out) {
    neon_multi(NEON_L1, queries, nq, v, dim, out);
}

/* ---- block kernels: a tile of up to 4 queries x 4 stored vectors ---------- */

/* 4 x 4 accumulators plus 4 stored-vector chunks and one query chunk use 21
 * of the 32 registers. */
#define NEON_TQ 4

/* [sum a, sum b, sum c, sum d] by pairwise adds. */
NEON_INLINE float32x4_t neon_reduce4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

/* tq queries x tv stored vectors (constants after inlining);
 * out[a * ldo + j] for a < tq, j < tv.  The dim % 4 tail is scalar.  Every
 * fourth 4-float step also prefetches one cache line of each of the npf
 * vectors pf[] (the caller's next block), so the memory requests run
 * evenly under the arithmetic instead of in a burst that stalls it.
 * Locality 2 asks for L2 (prfm pldl2keep): a round ahead in L1 would crowd
 * the queries out. */
NEON_INLINE void neon_tile(int op, const float *const *qs, size_t tq, const float *const *vs,
                           size_t tv, size_t dim, float *out, size_t ldo, const float *const *pf,
                           size_t npf) {
    const float *q[NEON_TQ], *v[4];
    float32x4_t acc[NEON_TQ][4];
#pragma GCC unroll 4
    for (size_t a = 0; a < tq; a++) q[a] = qs[a];
#pragma GCC unroll 4
    for (size_t j = 0; j < tv; j++) v[j] = vs[j];
#pragma GCC unroll 4
    for (size_t a = 0; a < NEON_TQ; a++)
#pragma GCC unroll 4
        for (size_t j = 0; j < 4; j++) acc[a][j] = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        if ((i & 15) == 0)
            for (size_t p = 0; p < npf; p++) __builtin_prefetch(pf[p] + i, 0, 2);
        float32x4_t x[4];
#pragma GCC unroll 4
        for (size_t j = 0; j < tv; j++) x[j] = vld1q_f32(v[j] + i);
#pragma GCC unroll 4
        for (size_t a = 0; a < tq; a++) {
            float32x4_t y = vld1q_f32(q[a] + i);
#pragma GCC unroll 4
            for (size_t j = 0; j < tv; j++) acc[a][j] = neon_step(op, acc[a][j], y, x[j]);
        }
    }
    for (size_t p = 0; p < npf; p++) __builtin_prefetch(pf[p] + dim - 1, 0, 2); /* last line */
#pragma GCC unroll 4
    for (size_t a = 0; a < tq; a++) {
        float tmp[4];
        vst1q_f32(tmp, neon_reduce4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]));
#pragma GCC unroll 4
        for (size_t j = 0; j < tv; j++)
            out[a * ldo + j] = tmp[j] + neon_tail(op, q[a] + i, v[j] + i, dim - i);
    }
}

/* All nq queries against tv stored vectors, NEON_TQ at a time, then one
 * smaller tile for the remainder.  The npf vectors to prefetch are shared
 * out over the tiles. */
NEON_INLINE void neon_rows(int op, const float *const *qs, size_t nq, const float *const *vs,
                           size_t tv, size_t dim, float *out, size_t ldo, const float *const *pf,
                           size_t npf) {
    size_t nt = (nq + NEON_TQ - 1) / NEON_TQ, t = 0, a = 0;
    static const float *const no_pf[1] = {NULL};
    if (npf == 0) pf = no_pf; /* no arithmetic on a NULL pf below */
    for (; a + NEON_TQ <= nq; a += NEON_TQ, t++)
        neon_tile(op, qs + a, NEON_TQ, vs, tv, dim, out + a * ldo, ldo, pf + t * npf / nt,
                  (t + 1) * npf / nt - t * npf / nt);
    const float *const *tpf = pf + t * npf / nt;
    size_t tnpf = npf - t * npf / nt;
    switch (nq - a) {
    case 3:
        neon_tile(op, qs + a, 3, vs, tv, dim, out + a * ldo, ldo, tpf, tnpf);
        break;
    case 2:
        neon_tile(op, qs + a, 2, vs, tv, dim, out + a * ldo, ldo, tpf, tnpf);
        break;
    case 1:
        neon_tile(op, qs + a, 1, vs, tv, dim, out + a * ldo, ldo, tpf, tnpf);
        break;
    default:
        break;
    }
}

NEON_INLINE void neon_blockk(int op, const float *const *qs, size_t nq, const float *const *vs,
                             size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                             size_t npf) {
    switch (nv) {
    case 1:
        neon_rows(op, qs, nq, vs, 1, dim, out, ldo, pf, npf);
        break;
    case 2:
        neon_rows(op, qs, nq, vs, 2, dim, out, ldo, pf, npf);
        break;
    case 3:
        neon_rows(op, qs, nq, vs, 3, dim, out, ldo, pf, npf);
        break;
    default:
        neon_rows(op, qs, nq, vs, 4, dim, out, ldo, pf, npf);
        break;
    }
}

static void neon_dot_block(const float *const *queries, size_t nq, const float *const *vs,
                           size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                           size_t npf) {
    neon_blockk(NEON_DOT, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

static void neon_l2sq_block(const float *const *queries, size_t nq, const float *const *vs,
                            size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                            size_t npf) {
    neon_blockk(NEON_L2SQ, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

static void neon_l1_block(const float *const *queries, size_t nq, const float *const *vs, size_t nv,
                          size_t dim, float *out, size_t ldo, const float *const *pf, size_t npf) {
    neon_blockk(NEON_L1, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

const qv_kernels qv_kernels_neon = {
    .name = "neon",
    .dot = neon_dot,
    .l2sq = neon_l2sq,
    .l1 = neon_l1,
    .dot_multi = neon_dot_multi,
    .l2sq_multi = neon_l2sq_multi,
    .l1_multi = neon_l1_multi,
    .dot_block = neon_dot_block,
    .l2sq_block = neon_l2sq_block,
    .l1_block = neon_l1_block,
};

#else
typedef int qv_distance_neon_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
