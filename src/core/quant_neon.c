/*
 * quant_neon.c - arm64 NEON integer kernels for quantized codes, 16 bytes
 * per register.
 *
 * NEON is part of the arm64 baseline, so no run-time check is needed; on
 * any other architecture this file is an empty translation unit.
 *
 * Byte products: vmull_u8 multiplies eight byte pairs into 16-bit lanes
 * (255 * 255 = 65025 fits u16 exactly) and vpadalq_u16 adds neighbouring
 * pairs into 32-bit accumulators, so nothing can wrap for any dim up to
 * QV_QUANT_MAX_DIM.  When the build targets the dot-product extension
 * (__ARM_FEATURE_DOTPROD, e.g. -march=armv8.2-a+dotprod) the dot product
 * uses vdotq_u32 instead, four byte products per 32-bit lane in one
 * instruction.  Run-time detection of that extension is deliberately left
 * out: the baseline path is exact and fast enough, and a second arm64 path
 * nobody can execute in CI would be untested code.
 *
 * Squared L2 squares vabdq_u8 (the absolute difference, 0..255) the same
 * way; L1 adds vabdq_u8 with vpaddlq_u8 / vpadalq_u16; Hamming counts the
 * bits of each XOR byte with vcntq_u8 and widens the same way.  Tails
 * (dim % 16 bytes, an odd last word) are finished with scalar code.
 */
#include "core/quant_impl.h"

#if defined(QV_QUANT_NEON)

#include <arm_neon.h>

static uint32_t neon_u8_dot(const uint8_t *a, const uint8_t *b, size_t dim) {
    uint32x4_t acc0 = vdupq_n_u32(0), acc1 = acc0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        uint8x16_t x = vld1q_u8(a + i), y = vld1q_u8(b + i);
#if defined(__ARM_FEATURE_DOTPROD)
        acc0 = vdotq_u32(acc0, x, y);
#else
        acc0 = vpadalq_u16(acc0, vmull_u8(vget_low_u8(x), vget_low_u8(y)));
        acc1 = vpadalq_u16(acc1, vmull_high_u8(x, y));
#endif
    }
    uint32_t s = vaddvq_u32(vaddq_u32(acc0, acc1));
    for (; i < dim; i++) s += (uint32_t)a[i] * b[i];
    return s;
}

static uint32_t neon_u8_l2sq(const uint8_t *a, const uint8_t *b, size_t dim) {
    uint32x4_t acc0 = vdupq_n_u32(0), acc1 = acc0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        uint8x16_t d = vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i));
        acc0 = vpadalq_u16(acc0, vmull_u8(vget_low_u8(d), vget_low_u8(d)));
        acc1 = vpadalq_u16(acc1, vmull_high_u8(d, d));
    }
    uint32_t s = vaddvq_u32(vaddq_u32(acc0, acc1));
    for (; i < dim; i++) {
        int32_t d = (int32_t)a[i] - (int32_t)b[i];
        s += (uint32_t)(d * d);
    }
    return s;
}

static uint32_t neon_u8_l1(const uint8_t *a, const uint8_t *b, size_t dim) {
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= dim; i += 16)
        acc = vpadalq_u16(acc, vpaddlq_u8(vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i))));
    uint32_t s = vaddvq_u32(acc);
    for (; i < dim; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return s;
}

static uint32_t neon_bits_hamming(const uint64_t *a, const uint64_t *b, size_t nwords) {
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 2 <= nwords; i += 2) {
        uint8x16_t x = vreinterpretq_u8_u64(veorq_u64(vld1q_u64(a + i), vld1q_u64(b + i)));
        acc = vpadalq_u16(acc, vpaddlq_u8(vcntq_u8(x)));
    }
    uint32_t s = vaddvq_u32(acc);
    for (; i < nwords; i++) s += (uint32_t)__builtin_popcountll(a[i] ^ b[i]);
    return s;
}

/* Per 2 code words: each plane's XOR byte counts widened into 32-bit lanes,
 * shifted by the plane's weight (a lane holds at most 2 * 64 * 255 per
 * word pair, summed over nwords / 2 pairs: < 2^32 for any dimension
 * quant.h allows). */
static uint32_t neon_bits_xor_planes(const uint64_t *code, const uint64_t *planes, size_t nwords,
                                     unsigned nplanes) {
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 2 <= nwords; i += 2) {
        uint64x2_t c = vld1q_u64(code + i);
        for (unsigned p = 0; p < nplanes; p++) {
            uint8x16_t x =
                vreinterpretq_u8_u64(veorq_u64(c, vld1q_u64(planes + (size_t)p * nwords + i)));
            uint32x4_t cnt = vpaddlq_u16(vpaddlq_u8(vcntq_u8(x)));
            acc = vaddq_u32(acc, vshlq_u32(cnt, vdupq_n_s32((int32_t)p)));
        }
    }
    uint32_t s = vaddvq_u32(acc);
    for (; i < nwords; i++)
        for (unsigned p = 0; p < nplanes; p++)
            s += (uint32_t)__builtin_popcountll(code[i] ^ planes[(size_t)p * nwords + i]) << p;
    return s;
}

const qv_quant_kernels qv_quant_kernels_neon = {
    .name = "neon",
    .u8_dot = neon_u8_dot,
    .u8_l2sq = neon_u8_l2sq,
    .u8_l1 = neon_u8_l1,
    .bits_hamming = neon_bits_hamming,
    .bits_xor_planes = neon_bits_xor_planes,
};

#else
typedef int qv_quant_neon_unused; /* keeps ISO C's "empty translation unit" quiet */
#endif
