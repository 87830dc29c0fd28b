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

/* ---- block kernels: a tile of up to 4 queries x 4 stored vectors ---------- */

/* Queries per register tile: 4 x 4 accumulators plus 4 stored-vector chunks
 * and one query chunk use 21 of the 32 registers, and each 16-float step
 * does 8 loads for 16 FMAs. */
#define AVX512_TQ 4

/* Sums of four registers, as [sum a, sum b, sum c, sum d]: a shuffle tree
 * (AVX-512F only) instead of four separate horizontal reductions. */
AVX512_INLINE __m128 avx512_reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 x = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    __m512 y = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    __m512 z = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
    z = _mm512_add_ps(z, _mm512_permute_ps(z, 0x4E));
    z = _mm512_add_ps(z, _mm512_permute_ps(z, 0xB1));
    __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, z));
}

/* tq queries x tv stored vectors (both constants after inlining, <= 4);
 * out[a * ldo + j] for a < tq, j < tv.  Each 16-float step also prefetches
 * one cache line of each of the npf vectors pf[] (the caller's next block),
 * so the memory requests run evenly under the arithmetic instead of in a
 * burst that stalls it.  Locality 2 asks for L2 (prefetcht1): a round
 * ahead in L1 would crowd the queries out. */
AVX512_INLINE void avx512_tile(int op, const float *const *qs, size_t tq, const float *const *vs,
                               size_t tv, size_t dim, float *out, size_t ldo,
                               const float *const *pf, size_t npf) {
    const float *q[AVX512_TQ], *v[4];
    __m512 acc[AVX512_TQ][4];
#pragma GCC unroll 4
    for (size_t a = 0; a < tq; a++) q[a] = qs[a];
#pragma GCC unroll 4
    for (size_t j = 0; j < tv; j++) v[j] = vs[j];
#pragma GCC unroll 4
    for (size_t a = 0; a < AVX512_TQ; a++)
#pragma GCC unroll 4
        for (size_t j = 0; j < 4; j++) acc[a][j] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        for (size_t p = 0; p < npf; p++) __builtin_prefetch(pf[p] + i, 0, 2);
        __m512 x[4];
#pragma GCC unroll 4
        for (size_t j = 0; j < tv; j++) x[j] = _mm512_loadu_ps(v[j] + i);
#pragma GCC unroll 4
        for (size_t a = 0; a < tq; a++) {
            __m512 y = _mm512_loadu_ps(q[a] + i);
#pragma GCC unroll 4
            for (size_t j = 0; j < tv; j++) acc[a][j] = avx512_step(op, acc[a][j], y, x[j]);
        }
    }
    for (size_t p = 0; p < npf; p++) __builtin_prefetch(pf[p] + dim - 1, 0, 2); /* last line */
    if (i < dim) {
        __mmask16 m = avx512_head(dim - i);
        __m512 x[4];
#pragma GCC unroll 4
        for (size_t j = 0; j < tv; j++) x[j] = _mm512_maskz_loadu_ps(m, v[j] + i);
#pragma GCC unroll 4
        for (size_t a = 0; a < tq; a++) {
            __m512 y = _mm512_maskz_loadu_ps(m, q[a] + i);
#pragma GCC unroll 4
            for (size_t j = 0; j < tv; j++) acc[a][j] = avx512_step(op, acc[a][j], y, x[j]);
        }
    }
#pragma GCC unroll 4
    for (size_t a = 0; a < tq; a++) {
        __m128 r = avx512_reduce4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]);
        if (tv == 4) {
            _mm_storeu_ps(out + a * ldo, r);
        } else {
            float tmp[4];
            _mm_storeu_ps(tmp, r);
#pragma GCC unroll 4
            for (size_t j = 0; j < tv; j++) out[a * ldo + j] = tmp[j];
        }
    }
}

/* All nq queries against tv stored vectors: tiles of AVX512_TQ queries,
 * then one smaller tile for the remainder.  The npf vectors to prefetch are
 * shared out over the tiles, so the prefetches spread over the whole call. */
AVX512_INLINE void avx512_rows(int op, const float *const *qs, size_t nq, const float *const *vs,
                               size_t tv, size_t dim, float *out, size_t ldo,
                               const float *const *pf, size_t npf) {
    size_t nt = (nq + AVX512_TQ - 1) / AVX512_TQ, t = 0, a = 0;
    static const float *const no_pf[1] = {NULL};
    if (npf == 0) pf = no_pf; /* no arithmetic on a NULL pf below */
    for (; a + AVX512_TQ <= nq; a += AVX512_TQ, t++)
        avx512_tile(op, qs + a, AVX512_TQ, vs, tv, dim, out + a * ldo, ldo, pf + t * npf / nt,
                    (t + 1) * npf / nt - t * npf / nt);
    const float *const *tpf = pf + t * npf / nt;
    size_t tnpf = npf - t * npf / nt;
    switch (nq - a) {
    case 3:
        avx512_tile(op, qs + a, 3, vs, tv, dim, out + a * ldo, ldo, tpf, tnpf);
        break;
    case 2:
        avx512_tile(op, qs + a, 2, vs, tv, dim, out + a * ldo, ldo, tpf, tnpf);
        break;
    case 1:
        avx512_tile(op, qs + a, 1, vs, tv, dim, out + a * ldo, ldo, tpf, tnpf);
        break;
    default:
        break;
    }
}

AVX512_INLINE void avx512_blockk(int op, const float *const *qs, size_t nq, const float *const *vs,
                                 size_t nv, size_t dim, float *out, size_t ldo,
                                 const float *const *pf, size_t npf) {
    switch (nv) {
    case 1:
        avx512_rows(op, qs, nq, vs, 1, dim, out, ldo, pf, npf);
        break;
    case 2:
        avx512_rows(op, qs, nq, vs, 2, dim, out, ldo, pf, npf);
        break;
    case 3:
        avx512_rows(op, qs, nq, vs, 3, dim, out, ldo, pf, npf);
        break;
    default:
        avx512_rows(op, qs, nq, vs, 4, dim, out, ldo, pf, npf);
        break;
    }
}

static AVX512_FN void avx512_dot_block(const float *const *queries, size_t nq,
                                       const float *const *vs, size_t nv, size_t dim, float *out,
                                       size_t ldo, const float *const *pf, size_t npf) {
    avx512_blockk(AVX512_DOT, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

static AVX512_FN void avx512_l2sq_block(const float *const *queries, size_t nq,
                                        const float *const *vs, size_t nv, size_t dim, float *out,
                                        size_t ldo, const float *const *pf, size_t npf) {
    avx512_blockk(AVX512_L2SQ, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

static AVX512_FN void avx512_l1_block(const float *const *queries, size_t nq,
                                      const float *const *vs, size_t nv, size_t dim, float *out,
                                      size_t ldo, const float *const *pf, size_t npf) {
    avx512_blockk(AVX512_L1, queries, nq, vs, nv, dim, out, ldo, pf, npf);
}

const qv_kernels qv_kernels_avx512 = {
    .name = "avx512",
    .dot = avx512_dot,
    .l2sq = avx512_l2sq,
    .l1 = avx512_l1,
    .dot_multi = avx512_dot_multi,
    .l2sq_multi = avx512_l2sq_multi,
    .l1_multi = avx512_l1_multi,
    .dot_block = avx512_dot_block,
    .l2sq_block = avx512_l2sq_block,
    .l1_block = avx512_l1_block,
};

#else
typedef int qv_distance_avx512_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
