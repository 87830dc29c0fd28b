/*
 * quant_scalar.c - plain C integer kernels for quantized codes (see
 * quant.h): the reference every SIMD table must match exactly, and the
 * table used on CPUs without any of the SIMD extensions.
 *
 * Sums are kept in uint32_t: quant.h limits dim to QV_QUANT_MAX_DIM, so
 * 255 * 255 * dim cannot wrap.  The popcount is the compiler's builtin
 * (one instruction where the baseline has it, a short bit-twiddle
 * otherwise); the unit test checks it against a loop over single bits.
 */
#include "core/quant_impl.h"

static uint32_t scalar_u8_dot(const uint8_t *a, const uint8_t *b, size_t dim) {
    uint32_t s = 0;
    for (size_t i = 0; i < dim; i++) s += (uint32_t)a[i] * b[i];
    return s;
}

static uint32_t scalar_u8_l2sq(const uint8_t *a, const uint8_t *b, size_t dim) {
    uint32_t s = 0;
    for (size_t i = 0; i < dim; i++) {
        int32_t d = (int32_t)a[i] - (int32_t)b[i];
        s += (uint32_t)(d * d);
    }
    return s;
}

static uint32_t scalar_u8_l1(const uint8_t *a, const uint8_t *b, size_t dim) {
    uint32_t s = 0;
    for (size_t i = 0; i < dim; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return s;
}

static uint32_t scalar_bits_hamming(const uint64_t *a, const uint64_t *b, size_t nwords) {
    uint32_t s = 0;
    for (size_t i = 0; i < nwords; i++) s += (uint32_t)__builtin_popcountll(a[i] ^ b[i]);
    return s;
}

static uint32_t scalar_bits_xor_planes(const uint64_t *code, const uint64_t *planes, size_t nwords,
                                       unsigned nplanes) {
    uint32_t s = 0;
    for (unsigned p = 0; p < nplanes; p++) {
        uint32_t c = 0;
        for (size_t i = 0; i < nwords; i++)
            c += (uint32_t)__builtin_popcountll(code[i] ^ planes[(size_t)p * nwords + i]);
        s += c << p;
    }
    return s;
}

const qv_quant_kernels qv_quant_kernels_scalar = {
    .name = "scalar",
    .u8_dot = scalar_u8_dot,
    .u8_l2sq = scalar_u8_l2sq,
    .u8_l1 = scalar_u8_l1,
    .bits_hamming = scalar_bits_hamming,
    .bits_xor_planes = scalar_bits_xor_planes,
};
