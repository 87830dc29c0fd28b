/*
 * quant.c - kernel dispatch, scalar int8 codes and binary codes (see
 * quant.h).
 *
 * Dispatch mirrors distance.c but keeps its own table and pthread_once:
 * the integer tables need different CPU features from the float ones (the
 * avx512 table here wants BW, VNNI and VPOPCNTDQ, which the first AVX-512
 * parts lack), so the two choices are made separately.  QUIVER_KERNELS
 * names a table to use instead; a name that does not exist or cannot run
 * here falls back to the best one silently, as in distance.c.
 *
 * Range estimation sorts a sample of values and takes symmetric quantiles.
 * The sample is whole vectors at evenly spaced indices, not random ones, so
 * the same input always gives the same range (a rebuilt segment gets the
 * same codes) without carrying a seed around.  A full sort of at most
 * QV_SQ_SAMPLE_VALUES floats costs a few milliseconds, once per build; a
 * selection algorithm would be faster and is not worth its code here.
 *
 * Scores do the float arithmetic in double: the correction terms of
 * uncentred data can be much larger than the score they cancel down to,
 * and the integer sums exceed float's 24-bit mantissa.
 */
#include "core/quant.h"
#include "core/quant_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- dispatch ------------------------------------------------------------- */

static pthread_once_t quant_once = PTHREAD_ONCE_INIT;
static const qv_quant_kernels *quant_best;

/* Whether this CPU can execute table k. */
static bool quant_runnable(const qv_quant_kernels *k) {
#if defined(QV_QUANT_X86)
    __builtin_cpu_init();
    if (k == &qv_quant_kernels_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vpopcntdq");
    if (k == &qv_quant_kernels_avx2) return __builtin_cpu_supports("avx2");
#endif
    return true;
}

/* The table called name in this build, runnable or not. */
static const qv_quant_kernels *quant_lookup(const char *name) {
    static const qv_quant_kernels *const all[] = {
        &qv_quant_kernels_scalar,
#if defined(QV_QUANT_X86)
        &qv_quant_kernels_avx2,
        &qv_quant_kernels_avx512,
#endif
#if defined(QV_QUANT_NEON)
        &qv_quant_kernels_neon,
#endif
    };
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}

static void quant_init_once(void) {
    const qv_quant_kernels *k = qv_quant_kernels_by_name(getenv("QUIVER_KERNELS"));
    static const char *const order[] = {"avx512", "avx2", "neon"};
    for (size_t i = 0; !k && i < sizeof order / sizeof order[0]; i++)
        k = qv_quant_kernels_by_name(order[i]);
    quant_best = k ? k : &qv_quant_kernels_scalar;
}

const qv_quant_kernels *qv_quant_kernels_best(void) {
    pthread_once(&quant_once, quant_init_once);
    return quant_best;
}

const qv_quant_kernels *qv_quant_kernels_by_name(const char *name) {
    const qv_quant_kernels *k = quant_lookup(name);
    return k && quant_runnable(k) ? k : NULL;
}

/* ---- scalar int8: range --------------------------------------------------- */

static int quant_cmp_float(const void *pa, const void *pb) {
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

qv_rc qv_sq_estimate_range(const float *vecs, size_t n, size_t dim, float quantile,
                           qv_sq_params *out, qv_err *err) {
    if (n == 0 || dim == 0 || dim > QV_QUANT_MAX_DIM)
        return qv_fail(err, QV_EBADINPUT, "quantization needs 1..%d dimensions and a vector",
                       QV_QUANT_MAX_DIM);
    if (!(quantile > 0.5f && quantile <= 1.0f))
        return qv_fail(err, QV_EBADINPUT, "quantile must be in (0.5, 1], got %g", (double)quantile);
    size_t nv = QV_SQ_SAMPLE_VALUES / dim;
    if (nv == 0) nv = 1;
    if (nv > n) nv = n;
    float *s = malloc(nv * dim * sizeof *s);
    if (!s) return qv_fail(err, QV_ENOMEM, "out of memory sampling %zu values", nv * dim);
    size_t m = 0;
    for (size_t k = 0; k < nv; k++) {
        const float *v = vecs + (k * n / nv) * dim;
        for (size_t i = 0; i < dim; i++)
            if (isfinite(v[i])) s[m++] = v[i];
    }
    if (m == 0) {
        free(s);
        return qv_fail(err, QV_EBADINPUT, "no finite value to quantize");
    }
    qsort(s, m, sizeof *s, quant_cmp_float);
    /* Symmetric tails: (1 - quantile) / 2 of the values below lo and as
     * many above hi. */
    size_t cut = (size_t)floor((1.0 - (double)quantile) / 2.0 * (double)(m - 1));
    float lo = s[cut], hi = s[m - 1 - cut];
    free(s);
    float alpha = (hi - lo) / 255.0f;
    if (!(alpha > 0.0f) || !isfinite(alpha)) alpha = 1.0f; /* all equal (or absurd span) */
    out->sq_offset = lo;
    out->sq_alpha = alpha;
    out->sq_dim = (uint32_t)dim;
    return QV_OK;
}

/* ---- scalar int8: codes and scores ---------------------------------------- */

/* The per-vector bracket of quant.h's expansion, from the sum of codes. */
static float sq_correction_of(const qv_sq_params *p, uint64_t code_sum) {
    double a = p->sq_alpha, o = p->sq_offset;
    return (float)(a * o * (double)code_sum + (double)p->sq_dim * o * o / 2.0);
}

float qv_sq_encode(const qv_sq_params *p, const float *x, uint8_t *codes) {
    float inv = 1.0f / p->sq_alpha;
    uint64_t sum = 0;
    for (size_t i = 0; i < p->sq_dim; i++) {
        float v = (x[i] - p->sq_offset) * inv;
        uint8_t c;
        if (!(v > 0.0f)) /* also NaN */
            c = 0;
        else if (v >= 254.5f)
            c = 255;
        else
            c = (uint8_t)(v + 0.5f);
        codes[i] = c;
        sum += c;
    }
    return sq_correction_of(p, sum);
}

float qv_sq_correction(const qv_sq_params *p, const uint8_t *codes) {
    uint64_t sum = 0;
    for (size_t i = 0; i < p->sq_dim; i++) sum += codes[i];
    return sq_correction_of(p, sum);
}

void qv_sq_decode(const qv_sq_params *p, const uint8_t *codes, float *x) {
    for (size_t i = 0; i < p->sq_dim; i++) x[i] = p->sq_offset + p->sq_alpha * (float)codes[i];
}

float qv_sq_dot(const qv_quant_kernels *k, const qv_sq_params *p, const uint8_t *a, float corr_a,
                const uint8_t *b, float corr_b) {
    double a2 = (double)p->sq_alpha * p->sq_alpha;
    return (float)(a2 * k->u8_dot(a, b, p->sq_dim) + corr_a + corr_b);
}

float qv_sq_l2sq(const qv_quant_kernels *k, const qv_sq_params *p, const uint8_t *a,
                 const uint8_t *b) {
    double a2 = (double)p->sq_alpha * p->sq_alpha;
    return (float)(a2 * k->u8_l2sq(a, b, p->sq_dim));
}

float qv_sq_l1(const qv_quant_kernels *k, const qv_sq_params *p, const uint8_t *a,
               const uint8_t *b) {
    return (float)((double)p->sq_alpha * k->u8_l1(a, b, p->sq_dim));
}

/* ---- binary codes --------------------------------------------------------- */

void qv_bq_encode(const float *x, size_t dim, uint64_t *code) {
    memset(code, 0, qv_bq_words(dim) * sizeof *code);
    for (size_t i = 0; i < dim; i++)
        if (x[i] > 0.0f) code[i / 64] |= (uint64_t)1 << (i % 64);
}

uint32_t qv_bq_matching(const qv_quant_kernels *k, const uint64_t *a, const uint64_t *b,
                        size_t dim) {
    return (uint32_t)dim - k->bits_hamming(a, b, qv_bq_words(dim));
}

float qv_bq_dot(const qv_quant_kernels *k, const uint64_t *a, const uint64_t *b, size_t dim,
                bool scaled) {
    int64_t s = (int64_t)dim - 2 * (int64_t)k->bits_hamming(a, b, qv_bq_words(dim));
    return scaled ? (float)((double)s / (double)dim) : (float)s;
}
