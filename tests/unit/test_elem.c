/*
 * test_elem.c - float16 / uint8 element conversions and scoring
 * (src/core/elem.c).
 *
 * float16 -> float32 is checked for all 65536 halves against the IEEE
 * binary16 definition computed independently (sign x 2^(e-15) x 1.m, or
 * 2^-14 x 0.m for subnormals) and must round-trip through float32 ->
 * float16.  float32 -> float16 is checked, against a reference that picks
 * the nearest of the two neighbouring halves (ties to even mantissa) and
 * clamps beyond 65504, on every 4099th float32 bit pattern (a million
 * values over every exponent) and on the rounding cases proper: each
 * midpoint between two adjacent halves and the floats just below and above
 * it, with both signs.  Where the compiler has _Float16 it must agree too
 * (except the clamp).  The bulk
 * decoder (F16C on x86) must equal the scalar conversion at every length
 * around its 8-wide step.  Scores of float16 / uint8 rows must be bitwise
 * the scores of the decoded rows stored as float32, for every distance and
 * kernel table.
 */
#include "harness.h"

#include "core/distance.h"
#include "core/elem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of half h from its definition. */
static double half_value(uint16_t h) {
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return sign ? -v : v;
}

static void test_f16_decode_all(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qv_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31;
        if (e == 31) {
            assert_true((h & 1023) ? isnan(f) : isinf(f));
            assert_int_equal(signbit(f) != 0, (h >> 15) != 0);
            continue;
        }
        assert_true((double)f == half_value((uint16_t)h));
        assert_int_equal(signbit(f) != 0, (h >> 15) != 0); /* -0 stays -0 */
        assert_int_equal(qv_f32_to_f16(f), h);
    }
}

/* Nearest half to x (finite), ties to even, clamped to +-65504. */
static uint16_t ref_f32_to_f16(float x) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs((double)x);
    if (a >= 65520.0) return sign | 0x7bff;
    /* the largest non-negative half <= a, by bisection over the ordered codes */
    uint32_t lo = 0, hi = 0x7bff;
    while (lo < hi) {
        uint32_t mid = (lo + hi + 1) / 2;
        if (half_value((uint16_t)mid) <= a)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0x7bff) return sign | 0x7bff;
    double below = half_value((uint16_t)lo), above = half_value((uint16_t)(lo + 1));
    uint32_t r = lo;
    if (a - below > above - a || (a - below == above - a && (lo & 1))) r = lo + 1;
    return (uint16_t)(sign | r);
}

static uint64_t check_f16_encode(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    {
        uint16_t got = qv_f32_to_f16(x);
        if (isnan(x)) {
            assert_true(isnan(qv_f16_to_f32(got)));
            return 0;
        }
        if (isinf(x)) {
            assert_int_equal(got, signbit(x) ? 0xfbff : 0x7bff);
            return 0;
        }
        uint16_t want = ref_f32_to_f16(x);
        if (got != want) fail_msg("f32 0x%08x: got 0x%04x, want 0x%04x", bits, got, want);
#if defined(__FLT16_MAX__)
        if (fabsf(x) < 65504.0f) {
            _Float16 hf = (_Float16)x;
            uint16_t hb;
            memcpy(&hb, &hf, sizeof hb);
            assert_int_equal(got, hb);
        }
#endif
    }
    return 1;
}

static void test_f16_encode(void **state) {
    (void)state;
    uint64_t checked = 0;
    for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) {
        uint32_t bits = (uint32_t)u;
        float x;
        memcpy(&x, &bits, sizeof x);
        checked += check_f16_encode(x);
    }
    for (uint32_t h = 0; h < 0x7bff; h++) { /* midpoints of adjacent halves */
        float mid = (float)((half_value((uint16_t)h) + half_value((uint16_t)(h + 1))) / 2);
        float xs[3] = {nextafterf(mid, 0.0f), mid, nextafterf(mid, INFINITY)};
        for (int i = 0; i < 3; i++) checked += check_f16_encode(xs[i]) + check_f16_encode(-xs[i]);
    }
    printf("  float32 -> float16: %llu values checked\n", (unsigned long long)checked);
}

static void test_bulk_decode(void **state) {
    (void)state;
    uint16_t h[100];
    uint8_t b[100];
    float out[101], want[100];
    srand(7);
    for (int i = 0; i < 100; i++) {
        h[i] = (uint16_t)(rand() & 0xffff);
        if (((h[i] >> 10) & 31) == 31) h[i] &= 0xbfff; /* no NaN/inf: compare as numbers */
        b[i] = (uint8_t)rand();
    }
    for (size_t n = 0; n <= 100; n++) {
        out[n] = -7.0f; /* canary */
        qv_elem_decode(QV_ELEM_F16, h, out, n);
        for (size_t i = 0; i < n; i++) want[i] = qv_f16_to_f32(h[i]);
        assert_memory_equal(out, want, n * sizeof(float));
        assert_true(out[n] == -7.0f);
        qv_elem_decode(QV_ELEM_U8, b, out, n);
        for (size_t i = 0; i < n; i++) assert_true(out[i] == (float)b[i]);
        assert_true(out[n] == -7.0f);
    }
    float f[5] = {0.1f, 2.0f, 255.0f, 65504.0f, 1e9f}, back[5];
    uint16_t enc[5];
    qv_elem_encode(QV_ELEM_F16, f, enc, 5);
    qv_elem_decode(QV_ELEM_F16, enc, back, 5);
    assert_true(back[1] == 2.0f && back[2] == 255.0f && back[3] == 65504.0f && back[4] == 65504.0f);
    assert_true(fabsf(back[0] - 0.1f) < 1e-4f);
    uint8_t eb[3];
    qv_elem_encode(QV_ELEM_U8, (const float[]){0.0f, 17.0f, 255.0f}, eb, 3);
    assert_true(eb[0] == 0 && eb[1] == 17 && eb[2] == 255);
}

static void test_score_elem(void **state) {
    (void)state;
    static const char *const tables[] = {"scalar", "avx2", "avx512", "neon"};
    static const size_t dims[] = {1, 7, 8, 17, 384};
    float q[384], rows[384], scratch[384];
    uint16_t h[384];
    uint8_t b[384];
    srand(11);
    for (size_t t = 0; t < 4; t++) {
        const qv_kernels *k = qv_kernels_by_name(tables[t]);
        if (!k) {
            printf("  %s kernels: not runnable here, skipped\n", tables[t]);
            continue;
        }
        for (size_t di = 0; di < 5; di++) {
            size_t dim = dims[di];
            for (size_t i = 0; i < dim; i++) {
                q[i] = (float)rand() / RAND_MAX - 0.5f;
                h[i] = qv_f32_to_f16((float)rand() / RAND_MAX - 0.5f);
                b[i] = (uint8_t)rand();
            }
            for (int d = 0; d < 4; d++) {
                qv_elem_decode(QV_ELEM_F16, h, rows, dim);
                float want = qv_score(k, (qv_distance)d, q, rows, dim);
                float got = qv_score_elem(k, (qv_distance)d, q, h, QV_ELEM_F16, dim, scratch);
                assert_memory_equal(&got, &want, sizeof got);
                qv_elem_decode(QV_ELEM_U8, b, rows, dim);
                want = qv_score(k, (qv_distance)d, q, rows, dim);
                got = qv_score_elem(k, (qv_distance)d, q, b, QV_ELEM_U8, dim, scratch);
                assert_memory_equal(&got, &want, sizeof got);
                want = qv_score(k, (qv_distance)d, q, rows, dim);
                got = qv_score_elem(k, (qv_distance)d, q, rows, QV_ELEM_F32, dim, NULL);
                assert_memory_equal(&got, &want, sizeof got);
            }
        }
    }
    assert_int_equal(qv_elem_size(QV_ELEM_F32), 4);
    assert_int_equal(qv_elem_size(QV_ELEM_F16), 2);
    assert_int_equal(qv_elem_size(QV_ELEM_U8), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_decode_all),
        cmocka_unit_test(test_f16_encode),
        cmocka_unit_test(test_bulk_decode),
        cmocka_unit_test(test_score_elem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
