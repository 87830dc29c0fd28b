/*
 * distance_avx512.c - AVX-512F kernels (x86-64), 16 floats per register.
 *
 * Every function carries __attribute__((target("avx512f"))) so this file
 * builds with the tree's baseline flags; distance.c only hands the table out
 * when the CPU (and OS) report avx512f.  Nothing beyond AVX-512F is used, so
 * the table also runs on the first AVX-512 parts.
 *
 * Same shape as the AVX2 file: four accumulators for one query (64 floats
 * per iteration, to cover FMA latency), and register blocking for several
 * queries, where each 16-float chunk of the stored vector is loaded once and
 * combined with the same chunk of up to 8 queries.  The tail (dim % 16) goes
 * through the same arithmetic with masked loads, which read nothing past the
 * end and give zeros in the unused lanes; zero minus zero contributes zero
 * to every metric here, so no lane fix-up is needed.
 *
 * Sums are reassociated, so results differ from the scalar reference in the
 * last bits; the unit test bounds that.
 */
#include "core/distance_impl.h"

#if defined(QV_DISTANCE_X86)

#include <immintrin.h>

#define AVX512_FN     __attribute__((target("avx512f")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f")))

enum { AVX512_DOT, AVX512_L2SQ, AVX512_L1 };

/* acc + op(a, b) over 16 lanes; op is a constant after inlining. */
AVX512_INLINE __m512 avx512_step(int op, __m512 acc, __m512 a, __m512 b) {
    if (op == AVX512_DOT) return _mm512_fmadd_ps(a, b, acc);
    __m512 d = _mm512_sub_ps(a, b);
    if (op == AVX512_L2SQ) return _mm512_fmadd_ps(d, d, acc);
    return _mm512_add_ps(acc, _mm512_abs_ps(d));
}

/* Mask of the first n < 16 lanes. */
AVX512_INLINE __mmask16 avx512_head(size_t n) {
    return (__mmask16)((1u << n) - 1u);
}

AVX512_INLINE float avx512_one(int op, const float *a, const float *b, size_t dim) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        acc0 = avx512_step(op, acc0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        acc1 = avx512_step(op, acc1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        acc2 = avx512_step(op, acc2, _mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        acc3 = avx512_step(op, acc3, _mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    }
    for (; i + 16 <= dim; i += 16)
        acc1 = avx512_step(op, acc1, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    if (i < dim) {
        __mmask16 m = avx512_head(dim - i);
        acc2 =
            avx512_step(op, acc2, _mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    }
    return _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

/* n queries (n * u <= 8) against v, u chunks of 16 per query per iteration
 * (see avx2_block: the group size and unroll trade off to keep ~8 chains). */
AVX512_INLINE void avx512_block(int op, const float *const *queries, size_t n, size_t u,
                                const float *v, size_t dim, float *out) {
    const float *q[8];
    __m512 acc[8];
#pragma GCC unroll 8
    for (size_t j = 0; j < n; j++) q[j] = queries[j];
#pragma GCC unroll 8
    for (size_t k = 0; k < n * u; k++) acc[k] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 * u <= dim; i += 16 * u) {
#pragma GCC unroll 8
        for (size_t c = 0; c < u; c++) {
            __m512 x = _mm512_loadu_ps(v + i + 16 * c);
#pragma GCC unroll 8
            for (size_t j = 0; j < n; j++)
                acc[j * u + c] =
                    avx512_step(op, acc[j * u + c], _mm512_loadu_ps(q[j] + i + 16 * c), x);
        }
    }
    /* Whole chunks left over from the unroll, then one masked chunk. */
    for (; i < dim; i += 16) {
        __mmask16 m = dim - i >= 16 ? (__mmask16)0xFFFF : avx512_head(dim - i);
        __m512 x = _mm512_maskz_loadu_ps(m, v + i);
#pragma GCC unroll 8
        for (size_t j = 0; j < n; j++)
            acc[j * u] = avx512_step(op, acc[j * u], _mm512_maskz_loadu_ps(m, q[j] + i), x);
    }
#pragma GCC unroll 8
    for (size_t j = 0; j < n; j++) {
        __m512 s = acc[j * u];
#pragma GCC unroll 8
        for (size_t c = 1; c < u; c++) s = _mm512_add_ps(s, acc[j * u + c]);
        out[j] = _mm512_reduce_add_ps(s);
    }
}

/* Groups of 8, then a 4, a 2 and a single query for the remainder. */
AVX512_INLINE void avx512_multi(int op, const float *const *queries, size_t nq, const float *v,
                                size_t dim, float *out) {
    size_t q = 0;
    for (; q + 8 <= nq; q += 8) avx512_block(op, queries + q, 8, 1, v, dim, out + q);
    if (nq - q >= 4) {
        avx512_block(op, queries + q, 4, 2, v, dim, out + q);
        q += 4;
    }
    if (nq - q >= 2) {
        avx512_block(op, queries + q, 2, 4, v, dim, out + q);
        q += 2;
    }
    if (nq - q == 1) out[q] = avx512_one(op, queries[q], v, dim);
}

static AVX512_FN float avx512_dot(const float *a, const float *b, size_t dim) {
    return avx512_one(AVX512_DOT, a, b, dim);
}

static AVX512_FN float avx512_l2sq(const float *a, const float *b, size_t dim) {
    return avx512_one(AVX512_L2SQ, a, b, dim);
}

static AVX512_FN float avx512_l1(const float *a, const float *b, size_t dim) {
    return avx512_one(AVX512_L1, a, b, dim);
}

static AVX512_FN void avx512_dot_multi(const float *const *queries, size_t nq, const float *v,
                                       size_t dim, float *out) {
    avx512_multi(AVX512_DOT, queries, nq, v, dim, out);
}

static AVX512_FN void avx512_l2sq_multi(const float *const *queries, size_t nq, const float *v,
                                        size_t dim, float *out) {
    avx512_multi(AVX512_L2SQ, queries, nq, v, dim, out);
}

static AVX512_FN void avx512_l1_multi(const float *const *queries, size_t nq, const float *v,
                                      size_t dim, float *out) {
    avx512_multi(AVX512_L1, queries, nq, v, dim, out);
}

const qv_kernels qv_kernels_avx512 = {
    .name = "avx512",
    .dot = avx512_dot,
    .l2sq = avx512_l2sq,
    .l1 = avx512_l1,
    .dot_multi = avx512_dot_multi,
    .l2sq_multi = avx512_l2sq_multi,
    .l1_multi = avx512_l1_multi,
};

#else
typedef int qv_distance_avx512_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
