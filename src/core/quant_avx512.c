/*
 * quant_avx512.c - AVX-512 integer kernels for quantized codes (x86-64):
 * AVX-512BW for byte arithmetic, VNNI for the byte dot product and
 * VPOPCNTDQ for bit codes, 64 bytes per register.
 *
 * Functions carry a target attribute naming all four extensions, so the
 * file builds with the tree's baseline flags; quant.c hands the table out
 * only when the CPU reports all of them (Ice Lake, Zen 4 and later).
 *
 * Dot product with vpdpbusd.  The instruction multiplies unsigned bytes by
 * signed bytes, four at a time, into 32-bit lanes, while both our codes are
 * unsigned.  Flipping the top bit of b (b ^ 0x80) reads it as the signed
 * byte b - 128, so the instruction accumulates sum a_i * (b_i - 128), and
 *
 *     sum a_i * b_i = sum a_i * (b_i - 128) + 128 * sum a_i
 *
 * where sum a_i comes from vpsadbw against zero (eight bytes summed into a
 * 64-bit lane) in the same loop.  Every step is exact: a product is at most
 * 255 * 128 in magnitude, a lane gathers dim / 16 of them (< 2^31 for
 * dim <= QV_QUANT_MAX_DIM), and the lanes are widened to 64 bits before
 * they are added together.
 *
 * Squared L2 widens 32 bytes at a time to 16-bit lanes and squares the
 * differences with vpmaddwd (see quant_avx2.c for why not vpmaddubsw); L1
 * is vpsadbw of the two codes; Hamming is vpopcntq of the XOR.
 *
 * Tails use masked loads, which read nothing past the end and give zeros:
 * a zero byte in both codes adds nothing to any of the sums (in the dot
 * product the flipped zero is -128, but it multiplies a zero).
 */
#include "core/quant_impl.h"

#if defined(QV_QUANT_X86)

#include <immintrin.h>

#define QAVX512_TARGET "avx512f,avx512bw,avx512vnni,avx512vpopcntdq"
#define QAVX512_FN     __attribute__((target(QAVX512_TARGET)))
#define QAVX512_INLINE static inline __attribute__((always_inline, target(QAVX512_TARGET)))

/* Mask of the first n < 64 bytes. */
QAVX512_INLINE __mmask64 qavx512_head8(size_t n) {
    return (__mmask64)((1ull << n) - 1ull);
}

/* The sum of sixteen signed 32-bit lanes, widened so it cannot wrap. */
QAVX512_INLINE int64_t qavx512_hsum32(__m512i v) {
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return (int64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* acc += a . (b - 128) by 4-byte groups; *asum += sum a by 8-byte groups. */
QAVX512_INLINE __m512i qavx512_dot_step(__m512i acc, __m512i *asum, __m512i x, __m512i y) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    *asum = _mm512_add_epi64(*asum, _mm512_sad_epu8(x, _mm512_setzero_si512()));
    return _mm512_dpbusd_epi32(acc, x, _mm512_xor_si512(y, flip));
}

static QAVX512_FN uint32_t avx512_u8_dot(const uint8_t *a, const uint8_t *b, size_t dim) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, asum = acc0;
    size_t i = 0;
    for (; i + 128 <= dim; i += 128) {
        acc0 = qavx512_dot_step(acc0, &asum, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
        acc1 = qavx512_dot_step(acc1, &asum, _mm512_loadu_si512(a + i + 64),
                                _mm512_loadu_si512(b + i + 64));
    }
    for (; i < dim; i += 64) {
        __mmask64 m = dim - i >= 64 ? ~(__mmask64)0 : qavx512_head8(dim - i);
        acc0 = qavx512_dot_step(acc0, &asum, _mm512_maskz_loadu_epi8(m, a + i),
                                _mm512_maskz_loadu_epi8(m, b + i));
    }
    int64_t s =
        qavx512_hsum32(_mm512_add_epi32(acc0, acc1)) + 128 * (int64_t)_mm512_reduce_add_epi64(asum);
    return (uint32_t)s;
}

/* acc += sum of squared differences of x and y (64 bytes each). */
QAVX512_INLINE __m512i qavx512_l2_step(__m512i acc, __m512i x, __m512i y) {
    __m512i d0 = _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(x)),
                                  _mm512_cvtepu8_epi16(_mm512_castsi512_si256(y)));
    __m512i d1 = _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(x, 1)),
                                  _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(y, 1)));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(d0, d0));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(d1, d1));
}

static QAVX512_FN uint32_t avx512_u8_l2sq(const uint8_t *a, const uint8_t *b, size_t dim) {
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < dim; i += 64) {
        __mmask64 m = dim - i >= 64 ? ~(__mmask64)0 : qavx512_head8(dim - i);
        acc = qavx512_l2_step(acc, _mm512_maskz_loadu_epi8(m, a + i),
                              _mm512_maskz_loadu_epi8(m, b + i));
    }
    return (uint32_t)qavx512_hsum32(acc);
}

static QAVX512_FN uint32_t avx512_u8_l1(const uint8_t *a, const uint8_t *b, size_t dim) {
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < dim; i += 64) {
        __mmask64 m = dim - i >= 64 ? ~(__mmask64)0 : qavx512_head8(dim - i);
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, a + i),
                                                    _mm512_maskz_loadu_epi8(m, b + i)));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

static QAVX512_FN uint32_t avx512_bits_hamming(const uint64_t *a, const uint64_t *b,
                                               size_t nwords) {
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < nwords; i += 8) {
        __mmask8 m = nwords - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (nwords - i)) - 1u);
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi64(m, a + i),
                                     _mm512_maskz_loadu_epi64(m, b + i));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

/* Per 8 code words: each plane's XOR popcounts shifted by the plane's
 * weight, added into one accumulator of 64-bit lanes. */
static QAVX512_FN uint32_t avx512_bits_xor_planes(const uint64_t *code, const uint64_t *planes,
                                                  size_t nwords, unsigned nplanes) {
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < nwords; i += 8) {
        __mmask8 m = nwords - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (nwords - i)) - 1u);
        __m512i c = _mm512_maskz_loadu_epi64(m, code + i);
        for (unsigned p = 0; p < nplanes; p++) {
            __m512i x = _mm512_xor_si512(c, _mm512_maskz_loadu_epi64(m, planes + p * nwords + i));
            acc = _mm512_add_epi64(acc, _mm512_slli_epi64(_mm512_popcnt_epi64(x), p));
        }
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

const qv_quant_kernels qv_quant_kernels_avx512 = {
    .name = "avx512",
    .u8_dot = avx512_u8_dot,
    .u8_l2sq = avx512_u8_l2sq,
    .u8_l1 = avx512_u8_l1,
    .bits_hamming = avx512_bits_hamming,
    .bits_xor_planes = avx512_bits_xor_planes,
};

#else
typedef int qv_quant_avx512_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
