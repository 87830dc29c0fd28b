/*
 * distance_avx2.c - AVX2 + FMA kernels (x86-64), 8 floats per register.
 *
 * Every function carries __attribute__((target("avx2,fma"))) so this file
 * builds with the tree's baseline flags; distance.c only hands the table out
 * when the CPU reports both features.
 *
 * Single-query kernels keep four accumulators (32 floats per iteration):
 * an FMA has a latency of about four cycles and two can issue per cycle, so
 * one accumulator would leave the units mostly idle.  Multi-query kernels
 * register-block instead: each 8-float chunk of the stored vector is loaded
 * once and combined with the same chunk of up to 8 queries, so the
 * independent per-query accumulators hide the latency and the stored vector
 * (the part that streams from memory in a scan) is read once per batch.
 *
 * The last dim % 8 elements are done with scalar code rather than masked
 * loads (vmaskmovps): the tail is at most 7 elements, and scalar reads keep
 * ASan and valgrind exact about what is touched.  One operation template
 * (dot, l2sq, l1 selected by a compile-time constant) serves all kernels so
 * the loop structure exists once.  Sums are reassociated, so results differ
 * from the scalar reference in the last bits; the unit test bounds that.
 */
#include "core/distance_impl.h"

#if defined(QV_DISTANCE_X86)

#include <immintrin.h>
#include <math.h>

#define AVX2_FN     __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

enum { AVX2_DOT, AVX2_L2SQ, AVX2_L1 };

/* acc + op(a, b) for one register of 8 lanes; op is a constant after
 * inlining, so the switch disappears. */
AVX2_INLINE __m256 avx2_step(int op, __m256 acc, __m256 a, __m256 b) {
    if (op == AVX2_DOT) return _mm256_fmadd_ps(a, b, acc);
    __m256 d = _mm256_sub_ps(a, b);
    if (op == AVX2_L2SQ) return _mm256_fmadd_ps(d, d, acc);
    return _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), d)); /* |d| */
}

AVX2_INLINE float avx2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The last n < 8 elements, one at a time. */
AVX2_INLINE float avx2_tail(int op, const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += op == AVX2_DOT ? a[i] * b[i] : op == AVX2_L2SQ ? d * d : fabsf(d);
    }
    return s;
}

AVX2_INLINE float avx2_one(int op, const float *a, const float *b, size_t dim) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        acc0 = avx2_step(op, acc0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        acc1 = avx2_step(op, acc1, _mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        acc2 = avx2_step(op, acc2, _mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        acc3 = avx2_step(op, acc3, _mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    }
    for (; i + 8 <= dim; i += 8)
        acc0 = avx2_step(op, acc0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    return avx2_hsum(acc) + avx2_tail(op, a + i, b + i, dim - i);
}

/* n queries (n * u <= 8) against v, u chunks of 8 per query per iteration:
 * n = 8 gives 8 independent chains from the queries alone; smaller groups
 * unroll along the vector instead (u) to keep about as many in flight. */
AVX2_INLINE void avx2_block(int op, const float *const *queries, size_t n, size_t u, const float *v,
                            size_t dim, float *out) {
    const float *q[8];
    __m256 acc[8];
#pragma GCC unroll 8
    for (size_t j = 0; j < n; j++) q[j] = queries[j];
#pragma GCC unroll 8
    for (size_t k = 0; k < n * u; k++) acc[k] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 * u <= dim; i += 8 * u) {
#pragma GCC unroll 8
        for (size_t c = 0; c < u; c++) {
            __m256 x = _mm256_loadu_ps(v + i + 8 * c);
#pragma GCC unroll 8
            for (size_t j = 0; j < n; j++)
                acc[j * u + c] =
                    avx2_step(op, acc[j * u + c], _mm256_loadu_ps(q[j] + i + 8 * c), x);
        }
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 x = _mm256_loadu_ps(v + i);
#pragma GCC unroll 8
        for (size_t j = 0; j < n; j++)
            acc[j * u] = avx2_step(op, acc[j * u], _mm256_loadu_ps(q[j] + i), x);
    }
#pragma GCC unroll 8
    for (size_t j = 0; j < n; j++) {
        __m256 s = acc[j * u];
#pragma GCC unroll 8
        for (size_t c = 1; c < u; c++) s = _mm256_add_ps(s, acc[j * u + c]);
        out[j] = avx2_hsum(s) + avx2_tail(op, q[j] + i, v + i, dim - i);
    }
}

/* Groups of 8, then a 4, a 2 and a single query for the remainder. */
AVX2_INLINE void avx2_multi(int op, const float *const *queries, size_t nq, const float *v,
                            size_t dim, float *out) {
    size_t q = 0;
    for (; q + 8 <= nq; q += 8) avx2_block(op, queries + q, 8, 1, v, dim, out + q);
    if (nq - q >= 4) {
        avx2_block(op, queries + q, 4, 2, v, dim, out + q);
        q += 4;
    }
    if (nq - q >= 2) {
        avx2_block(op, queries + q, 2, 4, v, dim, out + q);
        q += 2;
    }
    if (nq - q == 1) out[q] = avx2_one(op, queries[q], v, dim);
}

static AVX2_FN float avx2_dot(const float *a, const float *b, size_t dim) {
    return avx2_one(AVX2_DOT, a, b, dim);
}

static AVX2_FN float avx2_l2sq(const float *a, const float *b, size_t dim) {
    return avx2_one(AVX2_L2SQ, a, b, dim);
}

static AVX2_FN float avx2_l1(const float *a, const float *b, size_t dim) {
    return avx2_one(AVX2_L1, a, b, dim);
}

static AVX2_FN void avx2_dot_multi(const float *const *queries, size_t nq, const float *v,
                                   size_t dim, float *out) {
    avx2_multi(AVX2_DOT, queries, nq, v, dim, out);
}

static AVX2_FN void avx2_l2sq_multi(const float *const *queries, size_t nq, const float *v,
                                    size_t dim, float *out) {
    avx2_multi(AVX2_L2SQ, queries, nq, v, dim, out);
}

static AVX2_FN void avx2_l1_multi(const float *const *queries, size_t nq, const float *v,
                                  size_t dim, float *out) {
    avx2_multi(AVX2_L1, queries, nq, v, dim, out);
}

/* ---- block kernels: a tile of up to 2 queries x 4 stored vectors ---------- */

/* Queries per register tile: 2 x 4 accumulators, 4 stored-vector chunks and
 * one query chunk fit the 16 registers (6 loads per 8 FMAs). */
#define AVX2_TQ 2

/* [sum a, sum b, sum c, sum d] of four registers. */
AVX2_INLINE __m128 avx2_reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* tq queries x tv stored vectors (constants after inlining);
 * out[a * ldo + j] for a < tq, j < tv.  The dim % 8 tail is scalar.  Every
 * other 8-float step also prefetches one cache line of each of the npf
 * vectors pf[] (the caller's next block), so the memory requests run
 * evenly under the arithmetic instead of in a burst that stalls it.
 * Locality 2 asks for L2 (prefetcht1): a round ahead in L1 would crowd
 * the queries out. */
AVX2_INLINE void avx2_tile(int op, const float *const *qs, size_t tq, const float *const *vs,
                           size_t tv, size_t dim, float *out, size_t ldo, const float *const *pf,
                           size_t npf) {
    const float *q[AVX2_TQ], *v[4];
    __m256 acc[AVX2_TQ][4];
#pragma GCC unroll 4
    for (size_t a = 0; a < tq; a++) q[a] = qs[a];
#pragma GCC unroll 4
    for (size_t j = 0; j < tv; j++) v[j] = vs[j];
#pragma GCC unroll 4
    for (size_t a = 0; a < AVX2_TQ; a++)
#pragma GCC unroll 4
        for (size_t j = 0; j < 4; j++) acc[a][j] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        if ((i & 15) == 0)
            for (size_t p = 0; p < npf; p++) __builtin_prefetch(pf[p] + i, 0, 2);
        __m256 x[4];
#pragma GCC unroll 4
        for (size_t j = 0; j < tv; j++) x[j] = _mm256_loadu_ps(v[j] + i);
#pragma GCC unroll 4
        for (size_t a = 0; a < tq; a++) {
            __m256 y = _mm256_loadu_ps(q[a] + i);
#pragma GCC unroll 4
            for (size_t j = 0; j < tv; j++) acc[a][j] = avx2_step(op, acc[a][j], y, x[j]);
        }
    }
    for (size_t p = 0; p < npf; p++) __builtin_prefetch(pf[p] + dim - 1, 0, 2); /* last line */
#pragma GCC unroll 4
    for (size_t a = 0; a < tq; a++) {
        float tmp[4];
        _mm_storeu_ps(tmp, avx2_reduce4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]));
#pragma GCC unroll 4
        for (size_t j = 0; j < tv; j++)
            out[a * ldo + j] = tmp[j] + avx2_tail(op, q[a] + i, v[j] + i, dim - i);
    }
}

/* All nq queries against tv stored vectors, AVX2_TQ at a time.  The npf
 * vectors to prefetch are shared out over the tiles. */
AVX2_INLINE void avx2_rows(int op, const float *const *qs, size_t nq, const float *const *vs,
                           size_t tv, size_t dim, float *out, size_t ldo, const float *const *pf,
                           size_t npf) {
    size_t nt = (nq + AVX2_TQ - 1) / AVX2_TQ, t = 0, a = 0;
    static const float *const no_pf[1] = {NULL};
    if (npf == 0) pf = no_pf; /* no arithmetic on a NULL pf below */
    for (; a + AVX2_TQ <= nq; a += AVX2_TQ, t++)
        avx2_tile(op, qs + a, AVX2_TQ, vs, tv, dim, out + a * ldo, ldo, pf + t * npf / nt,
                  (t + 1) * npf / nt - t * npf / nt);
    if (a < nq)
        avx2_tile(op, qs + a, 1, vs, tv, dim, out + a * ldo, ldo, pf + t * npf / nt,
                  npf - t * npf / nt);
}

AVX2_INLINE void avx2_blockk(int op, const float *const *qs, size_t nq, const float *const *vs,
                             size_t nv, size_t dim, float *out, size_t ldo, const float *const *pf,
                             size_t npf) {
    switch (nv) {
    case 1:
        avx2_rows(op, qs, nq, vs, 1, dim, out, ldo, pf, npf);
        break;
    case 2:
        avx2_rows(op, qs, nq, vs, 2, dim, out, ldo, pf, npf);
        break;
    case 3:
        avx2_rows(op, qs, nq, vs, 3, dim, out, ldo, pf, npf);
        break;
    default:
        avx2_rows(op, qs, nq, vs, 4, dim, out, ldo, pf, npf);
        break;
    }
}

static AVX2_FN void avx2_dot_block(const float *const *queries, size_t nq, const float *const *vs,
                                   size_t nv, size_t dim, float *out, size_t ldo,
                                   const float *const *pf, size_t npf) {
    avx2_blockk(AVX2_DOT, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

static AVX2_FN void avx2_l2sq_block(const float *const *queries, size_t nq, const float *const *vs,
                                    size_t nv, size_t dim, float *out, size_t ldo,
                                    const float *const *pf, size_t npf) {
    avx2_blockk(AVX2_L2SQ, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

static AVX2_FN void avx2_l1_block(const float *const *queries, size_t nq, const float *const *vs,
                                  size_t nv, size_t dim, float *out, size_t ldo,
                                  const float *const *pf, size_t npf) {
    avx2_blockk(AVX2_L1, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

const qv_kernels qv_kernels_avx2 = {
    .name = "avx2",
    .dot = avx2_dot,
    .l2sq = avx2_l2sq,
    .l1 = avx2_l1,
    .dot_multi = avx2_dot_multi,
    .l2sq_multi = avx2_l2sq_multi,
    .l1_multi = avx2_l1_multi,
    .dot_block = avx2_dot_block,
    .l2sq_block = avx2_l2sq_block,
    .l1_block = avx2_l1_block,
};

#else
typedef int qv_distance_avx2_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
