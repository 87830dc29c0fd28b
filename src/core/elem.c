/*
 * elem.c - float16 / uint8 conversions and scoring of rows of any element
 * type (see elem.h).
 *
 * The half conversions are written out bit by bit rather than through
 * _Float16: clang 14 (the fuzzing build) has no _Float16 on x86-64, and the
 * result must not depend on the compiler.  The unit test checks both
 * directions exhaustively against the IEEE definition (and against
 * _Float16 where the compiler has it).
 */
#include "core/elem.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

uint16_t qv_f32_to_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7bffu); /* >= 65520 (would be inf) */
    if (a >= 0x38800000u) {                                  /* a normal half */
        uint32_t r = (a - 0x38000000u) >> 13, rem = a & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    if (a <= 0x33000000u) return sign; /* <= 2^-25: rounds to zero (a tie goes to even 0) */
    /* a subnormal half: units of 2^-24 */
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - (a >> 23); /* 14 .. 24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (uint16_t)(sign | r); /* r = 0x400 is the smallest normal: still right */
}

float qv_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f)
        u = sign | 0x7f800000u | (m << 13);
    else if (e)
        u = sign | ((e + 112u) << 23) | (m << 13);
    else {
        float f = (float)m * 0x1p-24f; /* subnormal (or zero): exact */
        memcpy(&u, &f, sizeof u);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void f16_decode_portable(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = qv_f16_to_f32(in[i]);
}

#if defined(__x86_64__)
/* F16C converts 8 halves an instruction, exactly.  Every CPU with AVX2 has
 * F16C (it came first on both vendors' lines), and AVX2 is what the
 * dispatch checks: clang 14 cannot test "f16c" with __builtin_cpu_supports. */
__attribute__((target("avx,f16c"))) static void f16_decode_f16c(const uint16_t *in, float *out,
                                                                size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++) out[i] = qv_f16_to_f32(in[i]);
}
#endif

static pthread_once_t elem_once = PTHREAD_ONCE_INIT;
static void (*f16_decode)(const uint16_t *, float *, size_t) = f16_decode_portable;

static void elem_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f16_decode = f16_decode_f16c;
#endif
}

void qv_elem_decode(qv_elem e, const void *in, float *out, size_t n) {
    if (e == QV_ELEM_F32) {
        memcpy(out, in, n * sizeof(float));
    } else if (e == QV_ELEM_F16) {
        pthread_once(&elem_once, elem_init);
        f16_decode((const uint16_t *)in, out, n);
    } else {
        const uint8_t *b = in;
        for (size_t i = 0; i < n; i++) out[i] = (float)b[i];
    }
}

void qv_elem_encode(qv_elem e, const float *in, void *out, size_t n) {
    if (e == QV_ELEM_F32) {
        memcpy(out, in, n * sizeof(float));
    } else if (e == QV_ELEM_F16) {
        uint16_t *h = out;
        for (size_t i = 0; i < n; i++) h[i] = qv_f32_to_f16(in[i]);
    } else {
        uint8_t *b = out;
        for (size_t i = 0; i < n; i++) b[i] = (uint8_t)in[i];
    }
}

float qv_score_elem(const qv_kernels *k, qv_distance d, const float *q, const void *v, qv_elem e,
                    size_t dim, float *scratch) {
    if (e == QV_ELEM_F32) return qv_score(k, d, q, v, dim);
    qv_elem_decode(e, v, scratch, dim);
    return qv_score(k, d, q, scratch, dim);
}
