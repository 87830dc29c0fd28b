/*
 * quant_avx2.c - AVX2 integer kernels for quantized codes (x86-64).
 *
 * Functions carry __attribute__((target("avx2"))) so the file builds with
 * the tree's baseline flags; quant.c hands the table out only when the CPU
 * reports AVX2.
 *
 * Byte products.  vpmaddubsw (u8 x s8 -> s16 pairs) is the obvious
 * instruction and the wrong one here: it saturates when two products of
 * 0..255 codes exceed 32767, and it wants one operand signed.  Instead
 * 16 bytes at a time are zero-extended to 16-bit lanes (vpmovzxbw) and
 * multiplied pairwise into 32-bit lanes with vpmaddwd: two products of at
 * most 255 * 255 make at most 130050, far inside int32, so nothing can
 * saturate and the sum is exact.  For l2sq the 16-bit difference (-255..255)
 * goes through the same vpmaddwd with itself.  For l1, vpsadbw sums eight
 * absolute byte differences into a 64-bit lane directly.  Per-lane 32-bit
 * sums stay below 2^31 for any dim up to QV_QUANT_MAX_DIM (each lane sees
 * dim / 8 products).
 *
 * Popcount.  AVX2 has no vector popcount; the bits of each XOR byte are
 * counted by looking up both nibbles in a 16-entry table with vpshufb, and
 * vpsadbw against zero adds the byte counts into 64-bit lanes.
 *
 * Tails (dim % 32 bytes, nwords % 4 words) are finished with scalar code,
 * which keeps ASan and valgrind exact about what is read.
 */
#include "core/quant_impl.h"

#if defined(QV_QUANT_X86)

#include <immintrin.h>

#define QAVX2_FN     __attribute__((target("avx2")))
#define QAVX2_INLINE static inline __attribute__((always_inline, target("avx2")))

/* The sum of the eight 32-bit lanes, as unsigned (a total may pass 2^31). */
QAVX2_INLINE uint32_t qavx2_hsum32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

/* The sum of the four 64-bit lanes. */
QAVX2_INLINE uint64_t qavx2_hsum64(__m256i v) {
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    return (uint64_t)_mm_cvtsi128_si64(s);
}

/* 16 bytes zero-extended to sixteen 16-bit lanes. */
QAVX2_INLINE __m256i qavx2_widen(const uint8_t *p) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

static QAVX2_FN uint32_t avx2_u8_dot(const uint8_t *a, const uint8_t *b, size_t dim) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(qavx2_widen(a + i), qavx2_widen(b + i)));
        acc1 = _mm256_add_epi32(
            acc1, _mm256_madd_epi16(qavx2_widen(a + i + 16), qavx2_widen(b + i + 16)));
    }
    uint32_t s = qavx2_hsum32(_mm256_add_epi32(acc0, acc1));
    for (; i < dim; i++) s += (uint32_t)a[i] * b[i];
    return s;
}

static QAVX2_FN uint32_t avx2_u8_l2sq(const uint8_t *a, const uint8_t *b, size_t dim) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256i d0 = _mm256_sub_epi16(qavx2_widen(a + i), qavx2_widen(b + i));
        __m256i d1 = _mm256_sub_epi16(qavx2_widen(a + i + 16), qavx2_widen(b + i + 16));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d0, d0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(d1, d1));
    }
    uint32_t s = qavx2_hsum32(_mm256_add_epi32(acc0, acc1));
    for (; i < dim; i++) {
        int32_t d = (int32_t)a[i] - (int32_t)b[i];
        s += (uint32_t)(d * d);
    }
    return s;
}

static QAVX2_FN uint32_t avx2_u8_l1(const uint8_t *a, const uint8_t *b, size_t dim) {
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(x, y));
    }
    uint32_t s = (uint32_t)qavx2_hsum64(acc);
    for (; i < dim; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return s;
}

/* Bits set in each byte of x, by nibble lookup. */
QAVX2_INLINE __m256i qavx2_popcnt_bytes(__m256i x) {
    const __m256i table =
        _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, /* low 128 */
                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(x, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
    return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

static QAVX2_FN uint32_t avx2_bits_hamming(const uint64_t *a, const uint64_t *b, size_t nwords) {
    __m256i acc = _mm256_setzero_si256();
    const __m256i zero = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= nwords; i += 4) {
        __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                     _mm256_loadu_si256((const __m256i *)(b + i)));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(qavx2_popcnt_bytes(x), zero));
    }
    uint32_t s = (uint32_t)qavx2_hsum64(acc);
    for (; i < nwords; i++) s += (uint32_t)__builtin_popcountll(a[i] ^ b[i]);
    return s;
}

/* Per 4 code words: each plane's XOR byte counts summed into 64-bit lanes
 * (vpsadbw), shifted by the plane's weight and added to one accumulator. */
static QAVX2_FN uint32_t avx2_bits_xor_planes(const uint64_t *code, const uint64_t *planes,
                                              size_t nwords, unsigned nplanes) {
    __m256i acc = _mm256_setzero_si256();
    const __m256i zero = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= nwords; i += 4) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(code + i));
        for (unsigned p = 0; p < nplanes; p++) {
            __m256i x = _mm256_xor_si256(
                c, _mm256_loadu_si256((const __m256i *)(planes + (size_t)p * nwords + i)));
            __m256i cnt = _mm256_sad_epu8(qavx2_popcnt_bytes(x), zero);
            acc = _mm256_add_epi64(acc, _mm256_sll_epi64(cnt, _mm_cvtsi32_si128((int)p)));
        }
    }
    uint32_t s = (uint32_t)qavx2_hsum64(acc);
    for (; i < nwords; i++)
        for (unsigned p = 0; p < nplanes; p++)
            s += (uint32_t)__builtin_popcountll(code[i] ^ planes[(size_t)p * nwords + i]) << p;
    return s;
}

const qv_quant_kernels qv_quant_kernels_avx2 = {
    .name = "avx2",
    .u8_dot = avx2_u8_dot,
    .u8_l2sq = avx2_u8_l2sq,
    .u8_l1 = avx2_u8_l1,
    .bits_hamming = avx2_bits_hamming,
    .bits_xor_planes = avx2_bits_xor_planes,
};

#else
typedef int qv_quant_avx2_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
