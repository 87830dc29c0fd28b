/*
 * qcodes.c - building, persisting and scoring a segment's quantized codes
 * (format and conventions in qcodes.h; the codes and kernels themselves
 * are core/quant.c's).
 */
#include "index/qcodes.h"

#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crc32c.h"

#define QC_MAGIC     "QVQCODES"
#define QC_VERSION   2 /* written; 1 is still read */
#define QC_HEADER_V1 48
#define QC_HEADER    64

/* Binary two bits: the z-score bounds of the middle level (Qdrant's). */
#define BQ_SIGMAS (2.0f / 3.0f)

/* Scalar per-dimension ranges: most vectors sampled per dimension. */
#define SQ_DIM_SAMPLE 8192

/* Product quantization: k-means rounds and most sampled vectors. */
#define PQ_ROUNDS 8
#define PQ_SAMPLE 4096

/* ---- turbo: the Lloyd-Max quantizers of N(0,1) ---------------------------------------- */

static const float TQ_C1[] = {-0.7978846f, 0.7978846f};
static const float TQ_C15[] = {-1.2240f, 0.0f, 1.2240f};
static const float TQ_C2[] = {-1.5104f, -0.4528f, 0.4528f, 1.5104f};
static const float TQ_C4[] = {-2.7326f, -2.0690f, -1.6181f, -1.2562f, -0.9424f, -0.6568f,
                              -0.3881f, -0.1284f, 0.1284f,  0.3881f,  0.6568f,  0.9424f,
                              1.2562f,  1.6181f,  2.0690f,  2.7326f};
typedef struct tq_spec {
    const float *cent;
    uint32_t levels, per_byte; /* levels^per_byte <= 256 */
    float shrink;              /* E[c(Z) Z] = 1 - the quantizer's MSE */
} tq_spec;
static const tq_spec TQ_SPECS[4] = {{TQ_C1, 2, 8, 0.63662f},
                                    {TQ_C15, 3, 5, 0.80980f},
                                    {TQ_C2, 4, 4, 0.88250f},
                                    {TQ_C4, 16, 2, 0.99050f}};

static uint32_t pow2_at_least(uint32_t d) {
    uint32_t p = 1;
    while (p < d) p <<= 1;
    return p;
}

/* 64-bit words of a binary code's second bit plane. */
static size_t bq_words2(uint32_t enc, uint32_t dim) {
    return enc == QV_QCODES_BQ_TWO_BITS            ? qv_bq_words(dim)
           : enc == QV_QCODES_BQ_ONE_AND_HALF_BITS ? qv_bq_words((dim + 1) / 2)
                                                   : 0;
}

static size_t code_bytes_of(qv_qcodes_kind kind, uint32_t dim, uint32_t sub, uint32_t enc) {
    if (kind == QV_QCODES_BINARY) return (qv_bq_words(dim) + bq_words2(enc, dim)) * 8;
    if (kind == QV_QCODES_PRODUCT) return (dim + sub - 1) / sub;
    if (kind == QV_QCODES_TURBO)
        return (pow2_at_least(dim) + TQ_SPECS[sub].per_byte - 1) / TQ_SPECS[sub].per_byte;
    return dim;
}

/* The fixed rotation's first half: random signs (a fixed seed, so codes
 * and queries agree across processes), then an in-place unnormalised
 * Walsh-Hadamard transform of p floats.  Why by hand: a dozen lines, and
 * no Debian library offers a float FWHT. */
static void tq_rotate(float *v, uint32_t p) {
    uint64_t s = 0x9E3779B97F4A7C15ull ^ p;
    for (uint32_t i = 0; i < p; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (s >> 63) v[i] = -v[i];
    }
    for (uint32_t h = 1; h < p; h <<= 1)
        for (uint32_t i = 0; i < p; i += h << 1)
            for (uint32_t j = i; j < i + h; j++) {
                float a = v[j], b = v[j + h];
                v[j] = a + b;
                v[j + h] = a - b;
            }
}

static size_t books_floats(const qv_qcodes *q) {
    return q->kind == QV_QCODES_PRODUCT ? q->code_bytes * 256 * q->sub : 0;
}

/* The float arrays after the codes, in file order: up to 6, each a pointer
 * into q and its length. */
typedef struct qc_arr {
    float **p;
    size_t len;
} qc_arr;
static size_t qc_arrays(qv_qcodes *q, qc_arr *a) {
    size_t k = 0;
    if (q->kind == QV_QCODES_SCALAR) a[k++] = (qc_arr){&q->corr, q->n};
    if (q->kind == QV_QCODES_SCALAR && q->sq_ranges == QV_QCODES_SQ_PER_DIM) {
        if (q->dist != QV_DIST_MANHATTAN) a[k++] = (qc_arr){&q->corr2, q->n};
        a[k++] = (qc_arr){&q->sq_dimp, 2 * (size_t)q->dim};
    }
    if (q->kind == QV_QCODES_BINARY && q->bq_enc != QV_QCODES_BQ_ONE_BIT)
        a[k++] = (qc_arr){&q->bq_stats, 2 * (size_t)q->dim};
    if (q->kind == QV_QCODES_PRODUCT) a[k++] = (qc_arr){&q->books, q->code_bytes * 256 * q->sub};
    if (q->kind == QV_QCODES_TURBO) a[k++] = (qc_arr){&q->norms, q->n};
    return k;
}

static qv_qcodes *qc_alloc(qv_qcodes_kind kind, qv_distance dist, uint32_t n, uint32_t dim,
                           uint32_t sub, uint32_t bq_enc, uint32_t sq_ranges) {
    qv_qcodes *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->kind = kind;
    q->dist = dist;
    q->n = n;
    q->dim = dim;
    q->sub = kind == QV_QCODES_PRODUCT ? sub : 0;
    q->tbits = kind == QV_QCODES_TURBO ? sub : 0;
    q->pdim = kind == QV_QCODES_TURBO ? pow2_at_least(dim) : 0;
    q->bq_enc = kind == QV_QCODES_BINARY ? bq_enc : 0;
    q->bq_w1 = kind == QV_QCODES_BINARY ? (uint32_t)qv_bq_words(dim) : 0;
    q->sq_ranges = kind == QV_QCODES_SCALAR ? sq_ranges : 0;
    q->code_bytes = code_bytes_of(kind, dim, sub, q->bq_enc);
    q->k = qv_quant_kernels_best();
    /* 64-byte aligned so binary words and SIMD loads are aligned */
    size_t bytes = ((size_t)n * q->code_bytes + 63) & ~(size_t)63;
    q->codes = aligned_alloc(64, bytes ? bytes : 64);
    bool ok = q->codes != NULL;
    qc_arr a[6];
    size_t na = qc_arrays(q, a);
    for (size_t i = 0; ok && i < na; i++)
        ok = (*a[i].p = calloc(a[i].len ? a[i].len : 1, sizeof(float))) != NULL;
    if (!ok) {
        qv_qcodes_free(q);
        return NULL;
    }
    return q;
}

void qv_qcodes_free(qv_qcodes *q) {
    if (!q) return;
    if (q->map)
        munmap(q->map, q->map_len);
    else
        free(q->codes);
    free(q->corr);
    free(q->books);
    free(q->norms);
    free(q->sq_dimp);
    free(q->corr2);
    free(q->bq_stats);
    free(q);
}

size_t qv_qcodes_memory(const qv_qcodes *q) {
    qc_arr a[6];
    size_t na = qc_arrays((qv_qcodes *)q, a), m = (size_t)q->n * q->code_bytes;
    for (size_t i = 0; i < na; i++) m += a[i].len * sizeof(float);
    return m;
}

/* ---- product quantization ------------------------------------------------------------
 * Why by hand: no Debian package offers product quantization as a C library
 * (faiss is C++ and far larger than the few loops needed here). */

static float sub_l2sq(const float *a, const float *b, uint32_t w) {
    float s = 0;
    for (uint32_t i = 0; i < w; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

/* The nearest of kc centroids (width w, stride sub) to x. */
static uint8_t nearest(const float *book, uint32_t kc, uint32_t sub, uint32_t w, const float *x) {
    uint32_t best = 0;
    float bd = INFINITY;
    for (uint32_t c = 0; c < kc; c++) {
        float d = sub_l2sq(book + (size_t)c * sub, x, w);
        if (d < bd) bd = d, best = c;
    }
    return (uint8_t)best;
}

/* Trains every subspace's codebook on an evenly spaced sample (k-means,
 * PQ_ROUNDS rounds, centroids started at evenly spaced sample points; an
 * empty cluster keeps its centroid), then encodes every vector. */
static qv_rc pq_build(qv_qcodes *q, const float *rows, qv_err *err) {
    uint32_t n = q->n, dim = q->dim, sub = q->sub, ns = n < PQ_SAMPLE ? n : PQ_SAMPLE;
    uint32_t kc = ns < 256 ? ns : 256;
    if (n == 0) return QV_OK;
    uint32_t *sample = malloc(sizeof(uint32_t) * ns);
    uint8_t *assign = malloc(ns);
    double *sum = malloc(sizeof(double) * 256 * sub);
    uint32_t *cnt = malloc(sizeof(uint32_t) * 256);
    if (!sample || !assign || !sum || !cnt) {
        free(sample), free(assign), free(sum), free(cnt);
        return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < ns; i++) sample[i] = (uint32_t)((uint64_t)i * n / ns);
    for (uint32_t m = 0; m < q->code_bytes; m++) {
        uint32_t off = m * sub, w = dim - off < sub ? dim - off : sub;
        float *book = q->books + (size_t)m * 256 * sub;
        for (uint32_t c = 0; c < 256; c++) {
            const float *x = rows + (size_t)sample[(uint64_t)(c % kc) * ns / kc] * dim + off;
            memcpy(book + (size_t)c * sub, x, sizeof(float) * w);
        }
        for (int round = 0; round < PQ_ROUNDS; round++) {
            memset(sum, 0, sizeof(double) * 256 * sub);
            memset(cnt, 0, sizeof(uint32_t) * 256);
            for (uint32_t i = 0; i < ns; i++) {
                const float *x = rows + (size_t)sample[i] * dim + off;
                uint8_t c = nearest(book, kc, sub, w, x);
                assign[i] = c;
                cnt[c]++;
                for (uint32_t j = 0; j < w; j++) sum[(size_t)c * sub + j] += x[j];
            }
            for (uint32_t c = 0; c < kc; c++)
                if (cnt[c])
                    for (uint32_t j = 0; j < w; j++)
                        book[(size_t)c * sub + j] = (float)(sum[(size_t)c * sub + j] / cnt[c]);
        }
        for (uint32_t i = 0; i < n; i++)
            q->codes[(size_t)i * q->code_bytes + m] =
                nearest(book, kc, sub, w, rows + (size_t)i * dim + off);
    }
    free(sample), free(assign), free(sum), free(cnt);
    return QV_OK;
}

/* Turbo codes: each vector scaled to unit length, rotated, each rotated
 * coordinate (times sqrt(P), which the unnormalised transform already is)
 * coded with the nearest Lloyd-Max level. */
static qv_rc tq_build(qv_qcodes *q, const float *rows, qv_err *err) {
    const tq_spec *sp = &TQ_SPECS[q->tbits];
    float *v = malloc(sizeof(float) * q->pdim);
    if (!v) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < q->n; i++) {
        const float *x = rows + (size_t)i * q->dim;
        double nn = 0;
        for (uint32_t j = 0; j < q->dim; j++) nn += (double)x[j] * x[j];
        float norm = (float)sqrt(nn), inv = norm > 0 ? 1.0f / norm : 0;
        q->norms[i] = norm;
        for (uint32_t j = 0; j < q->pdim; j++) v[j] = j < q->dim ? x[j] * inv : 0;
        tq_rotate(v, q->pdim);
        uint8_t *c = q->codes + (size_t)i * q->code_bytes;
        for (size_t b = 0; b < q->code_bytes; b++) {
            uint32_t byte = 0, mul = 1;
            for (uint32_t t = 0; t < sp->per_byte; t++, mul *= sp->levels) {
                size_t j = b * sp->per_byte + t;
                if (j >= q->pdim) break;
                uint32_t lv = 0; /* nearest level: the levels are sorted */
                while (lv + 1 < sp->levels && v[j] > 0.5f * (sp->cent[lv] + sp->cent[lv + 1])) lv++;
                byte += lv * mul;
            }
            c[b] = (uint8_t)byte;
        }
    }
    free(v);
    return QV_OK;
}

/* ---- binary: two bits and one and a half bits ------------------------------------
 * A value's two bits from its z-score against its dimension's statistics:
 * 00 at or below -2/3 deviations, 10 in between, 11 at or above +2/3 (a
 * dimension with no spread falls back to the one-bit sign, second bit 0). */

static inline void bq_two(float x, float mean, float sd, bool *b1, bool *b2) {
    if (!(sd >= FLT_EPSILON)) {
        *b1 = x > 0.0f;
        *b2 = false;
        return;
    }
    float z = (x - mean) / sd;
    *b1 = !(z <= -BQ_SIGMAS);
    *b2 = !(z < BQ_SIGMAS);
}

/* x's code (code_bytes / 8 words): plane one (the first bits) in words
 * [0, bq_w1), plane two after it (two bits: bit i for dimension i; one and a
 * half bits: bit j is the OR of the second bits of dimensions 2j and 2j+1). */
static void bq_encode_code(const qv_qcodes *q, const float *x, uint64_t *w) {
    if (q->bq_enc == QV_QCODES_BQ_ONE_BIT) {
        qv_bq_encode(x, q->dim, w);
        return;
    }
    memset(w, 0, q->code_bytes);
    uint64_t *w2 = w + q->bq_w1;
    const float *mean = q->bq_stats, *sd = q->bq_stats + q->dim;
    for (uint32_t i = 0; i < q->dim; i++) {
        bool b1, b2;
        bq_two(x[i], mean[i], sd[i], &b1, &b2);
        uint32_t j = q->bq_enc == QV_QCODES_BQ_TWO_BITS ? i : i / 2;
        if (b1) w[i / 64] |= (uint64_t)1 << (i % 64);
        if (b2) w2[j / 64] |= (uint64_t)1 << (j % 64);
    }
}

/* Per-dimension mean and (population) standard deviation of the rows. */
static qv_rc bq_stats(qv_qcodes *q, const float *rows, qv_err *err) {
    uint32_t dim = q->dim;
    double *s1 = calloc(2 * (size_t)dim, sizeof(double));
    if (!s1) return qv_fail(err, QV_ENOMEM, "out of memory");
    double *s2 = s1 + dim;
    for (uint32_t r = 0; r < q->n; r++)
        for (uint32_t i = 0; i < dim; i++) {
            double v = rows[(size_t)r * dim + i];
            s1[i] += v;
            s2[i] += v * v;
        }
    for (uint32_t i = 0; i < dim; i++) {
        double m = q->n ? s1[i] / q->n : 0, var = q->n ? s2[i] / q->n - m * m : 0;
        q->bq_stats[i] = (float)m;
        q->bq_stats[dim + i] = (float)sqrt(var > 0 ? var : 0);
    }
    free(s1);
    return QV_OK;
}

/* ---- scalar: per-dimension ranges ------------------------------------------------
 * Dimension i codes x_i ~ off_i + scale_i * c_i, [off_i, off_i + 255 scale_i]
 * being the central `quantile` of that dimension's values in an evenly
 * spaced sample of at most SQ_DIM_SAMPLE vectors. */

static int cmp_float(const void *pa, const void *pb) {
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

static qv_rc sq_dim_ranges(qv_qcodes *q, const float *rows, float quantile, qv_err *err) {
    uint32_t n = q->n, dim = q->dim, nv = n < SQ_DIM_SAMPLE ? n : SQ_DIM_SAMPLE;
    float *off = q->sq_dimp, *scale = q->sq_dimp + dim;
    if (!(quantile > 0.5f && quantile <= 1.0f))
        return qv_fail(err, QV_EBADINPUT, "quantile must be in (0.5, 1], got %g", (double)quantile);
    float *v = malloc(sizeof(float) * (nv ? nv : 1));
    if (!v) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < dim; i++) {
        size_t m = 0;
        for (uint32_t k = 0; k < nv; k++) {
            float x = rows[(size_t)((uint64_t)k * n / nv) * dim + i];
            if (isfinite(x)) v[m++] = x;
        }
        float lo = 0, hi = 0;
        if (m) {
            qsort(v, m, sizeof *v, cmp_float);
            size_t cut = (size_t)floor((1.0 - (double)quantile) / 2.0 * (double)(m - 1));
            lo = v[cut], hi = v[m - 1 - cut];
        }
        float a = (hi - lo) / 255.0f;
        off[i] = lo;
        scale[i] = a > 0.0f && isfinite(a) ? a : 1.0f;
    }
    free(v);
    return QV_OK;
}

/* x's per-dimension code; returns the sum of the codes and sets *corr2:
 * Euclid: |x^|^2, the squared norm of the decoded vector x^; Cosine and Dot:
 * (|x|^2 - |x^|^2) / 2, which makes x^.q + corr2 = (|x|^2 + |q|^2 -
 * |x^ - q|^2) / 2, exact when q = x (what the codes lose to clipping and
 * rounding in x's own direction is given back). */
static float sq_dim_encode(const qv_qcodes *q, const float *x, uint8_t *c, float *corr2) {
    const float *off = q->sq_dimp, *scale = q->sq_dimp + q->dim;
    uint64_t sum = 0;
    double nn = 0, xx = 0;
    for (uint32_t i = 0; i < q->dim; i++) {
        float v = (x[i] - off[i]) / scale[i];
        uint8_t k = !(v > 0.0f) ? 0 : v >= 254.5f ? 255 : (uint8_t)(v + 0.5f);
        c[i] = k;
        sum += k;
        double d = (double)off[i] + (double)scale[i] * k;
        nn += d * d;
        if (isfinite(x[i])) xx += (double)x[i] * x[i];
    }
    *corr2 = (float)(q->dist == QV_DIST_EUCLID ? nn : (xx - nn) / 2);
    return (float)sum;
}

qv_rc qv_qcodes_build(qv_qcodes_kind kind, qv_distance dist, const float *rows, uint32_t n,
                      uint32_t dim, float param, qv_qcodes **out, qv_err *err) {
    qv_qcodes_opts o = {.param = param};
    return qv_qcodes_build_opts(kind, dist, rows, n, dim, &o, out, err);
}

qv_rc qv_qcodes_build_opts(qv_qcodes_kind kind, qv_distance dist, const float *rows, uint32_t n,
                           uint32_t dim, const qv_qcodes_opts *opts, qv_qcodes **out, qv_err *err) {
    float param = opts->param;
    uint32_t sub = kind == QV_QCODES_PRODUCT || kind == QV_QCODES_TURBO ? (uint32_t)param : 0;
    if ((kind != QV_QCODES_SCALAR && kind != QV_QCODES_BINARY && kind != QV_QCODES_PRODUCT &&
         kind != QV_QCODES_TURBO) ||
        dim == 0 || dim > QV_QUANT_MAX_DIM ||
        (kind == QV_QCODES_PRODUCT && (sub == 0 || sub > 16 || (sub & (sub - 1)))) ||
        (kind == QV_QCODES_TURBO && (sub > 3 || dist == QV_DIST_MANHATTAN)) ||
        (kind == QV_QCODES_BINARY && (opts->bq_encoding > QV_QCODES_BQ_ONE_AND_HALF_BITS ||
                                      opts->bq_query > QV_QCODES_BQ_QUERY_SCALAR8)) ||
        (kind == QV_QCODES_SCALAR && opts->sq_ranges > QV_QCODES_SQ_PER_DIM))
        return qv_fail(err, QV_EBADINPUT, "bad quantization parameters");
    float quantile = param;
    qv_qcodes *q = qc_alloc(kind, dist, n, dim, sub, opts->bq_encoding, opts->sq_ranges);
    if (!q) return qv_fail(err, QV_ENOMEM, "out of memory");
    if (kind == QV_QCODES_PRODUCT || kind == QV_QCODES_TURBO) {
        qv_rc rc = kind == QV_QCODES_PRODUCT ? pq_build(q, rows, err) : tq_build(q, rows, err);
        if (rc) {
            qv_qcodes_free(q);
            return rc;
        }
    } else if (kind == QV_QCODES_SCALAR && q->sq_ranges == QV_QCODES_SQ_PER_DIM) {
        q->quantile = quantile;
        qv_rc rc = sq_dim_ranges(q, rows, quantile, err);
        if (rc) {
            qv_qcodes_free(q);
            return rc;
        }
        for (uint32_t i = 0; i < n; i++) {
            float c2;
            q->corr[i] = sq_dim_encode(q, rows + (size_t)i * dim, q->codes + (size_t)i * dim, &c2);
            if (q->corr2) q->corr2[i] = c2;
        }
    } else if (kind == QV_QCODES_SCALAR) {
        q->quantile = quantile;
        if (n == 0) {
            q->sq = (qv_sq_params){0, 1, dim};
        } else {
            qv_rc rc = qv_sq_estimate_range(rows, n, dim, quantile, &q->sq, err);
            if (rc) {
                qv_qcodes_free(q);
                return rc;
            }
        }
        for (uint32_t i = 0; i < n; i++)
            q->corr[i] = qv_sq_encode(&q->sq, rows + (size_t)i * dim, q->codes + (size_t)i * dim);
    } else {
        q->bq_query = opts->bq_query;
        qv_rc rc = q->bq_stats ? bq_stats(q, rows, err) : QV_OK;
        if (rc) {
            qv_qcodes_free(q);
            return rc;
        }
        for (uint32_t i = 0; i < n; i++)
            bq_encode_code(q, rows + (size_t)i * dim,
                           (uint64_t *)(q->codes + (size_t)i * q->code_bytes));
    }
    *out = q;
    return QV_OK;
}

/* ---- persistence ------------------------------------------------------------------- */

static qv_rc write_all(int fd, const void *p, size_t n, uint32_t *crc) {
    *crc = qv_crc32c(*crc, p, n);
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return QV_EIO;
        b += k;
        n -= (size_t)k;
    }
    return QV_OK;
}

qv_rc qv_qcodes_save(const qv_qcodes *q, const char *path, qv_err *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return qv_fail(err, QV_EIO, "cannot create %s: %s", path, strerror(errno));
    uint8_t h[QC_HEADER] = {0};
    memcpy(h, QC_MAGIC, 8);
    qv_store_u32le(h + 8, QC_VERSION);
    qv_store_u32le(h + 12, (uint32_t)q->kind);
    qv_store_u32le(h + 16, q->dim);
    qv_store_u32le(h + 20, (uint32_t)q->dist);
    qv_store_u64le(h + 24, q->n);
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host expected");
    memcpy(h + 32, &q->sq.sq_offset, 4); /* 0 unless global scalar ranges */
    memcpy(h + 36, &q->sq.sq_alpha, 4);
    memcpy(h + 40, &q->quantile, 4);
    qv_store_u32le(h + 44, q->kind == QV_QCODES_TURBO ? q->tbits : q->sub);
    qv_store_u32le(h + 48, q->bq_enc);
    qv_store_u32le(h + 52, q->bq_query);
    qv_store_u32le(h + 56, q->sq_ranges);
    uint32_t crc = 0;
    qv_rc rc = write_all(fd, h, sizeof h, &crc);
    if (!rc) rc = write_all(fd, q->codes, (size_t)q->n * q->code_bytes, &crc);
    qc_arr a[6];
    size_t na = qc_arrays((qv_qcodes *)q, a);
    for (size_t i = 0; !rc && i < na; i++)
        rc = write_all(fd, *a[i].p, sizeof(float) * a[i].len, &crc);
    uint8_t t[4];
    qv_store_u32le(t, crc);
    uint32_t dummy = 0;
    if (!rc) rc = write_all(fd, t, 4, &dummy);
    if (!rc && fsync(fd) != 0) rc = QV_EIO;
    if (close(fd) != 0) rc = QV_EIO;
    if (rc) return qv_fail(err, QV_EIO, "cannot write %s: %s", path, strerror(errno));
    return QV_OK;
}

/* Whether the loaded side data can be trusted (finite, in range). */
static bool qc_values_ok(const qv_qcodes *q) {
    if (q->kind == QV_QCODES_SCALAR) {
        if (q->n && !(q->quantile >= 0.5f && q->quantile <= 1.0f)) return false;
        if (q->sq_ranges == QV_QCODES_SQ_GLOBAL)
            return isfinite(q->sq.sq_offset) && isfinite(q->sq.sq_alpha) && q->sq.sq_alpha > 0;
        if (q->sq.sq_offset != 0 || q->sq.sq_alpha != 0) return false;
        for (uint32_t i = 0; i < q->dim; i++)
            if (!isfinite(q->sq_dimp[i]) || !isfinite(q->sq_dimp[q->dim + i]) ||
                !(q->sq_dimp[q->dim + i] > 0))
                return false;
        for (uint32_t i = 0; i < q->n; i++)
            if (!(q->corr[i] >= 0 && q->corr[i] <= 255.0f * q->dim) ||
                (q->corr2 &&
                 !(isfinite(q->corr2[i]) && (q->dist != QV_DIST_EUCLID || q->corr2[i] >= 0))))
                return false;
        return true;
    }
    for (size_t i = 0; i < books_floats(q); i++)
        if (!isfinite(q->books[i])) return false;
    for (size_t i = 0; q->norms && i < q->n; i++)
        if (!isfinite(q->norms[i]) || q->norms[i] < 0) return false;
    for (size_t i = 0; q->bq_stats && i < q->dim; i++)
        if (!isfinite(q->bq_stats[i]) || !isfinite(q->bq_stats[q->dim + i]) ||
            !(q->bq_stats[q->dim + i] >= 0))
            return false;
    return true;
}

qv_rc qv_qcodes_load(const char *path, uint32_t n, uint32_t dim, qv_distance dist, qv_qcodes **out,
                     qv_err *err) {
    return qv_qcodes_load_placed(path, n, dim, dist, QV_QCODES_HEAP, out, err);
}

/* Mapped codes: the pages go (cold: MADV_DONTNEED drops them from the
 * process, they stay in the page cache) or are faulted in now (cached). */
static void qc_advise(void *m, size_t len, bool cached) {
    if (cached) {
        (void)madvise(m, len, MADV_WILLNEED);
#ifdef MADV_POPULATE_READ
        (void)madvise(m, len, MADV_POPULATE_READ);
#endif
    } else {
        (void)madvise(m, len, MADV_RANDOM);
        (void)madvise(m, len, MADV_DONTNEED);
    }
}

void qv_qcodes_advise(qv_qcodes *q, bool cached) {
    if (q && q->map) qc_advise(q->map, q->map_len, cached);
}

/* Replaces the heap codes qc_alloc made with a read-only mapping of the
 * file (codes at offset hl); false when the mapping fails. */
static bool qc_map_codes(qv_qcodes *q, int fd, size_t len, size_t hl, bool cached) {
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED | (cached ? MAP_POPULATE : 0), fd, 0);
    if (m == MAP_FAILED) return false;
    free(q->codes);
    q->map = m;
    q->map_len = len;
    q->codes = (uint8_t *)m + hl;
    return true;
}

qv_rc qv_qcodes_load_placed(const char *path, uint32_t n, uint32_t dim, qv_distance dist,
                            qv_qcodes_place place, qv_qcodes **out, qv_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qv_fail(err, QV_ECORRUPT, "cannot open %s: %s", path, strerror(errno));
    uint8_t h[QC_HEADER] = {0};
    struct stat st;
    qv_rc rc = QV_OK;
    qv_qcodes *q = NULL;
    uint32_t version = 0;
    size_t hl = QC_HEADER_V1;
    if (fstat(fd, &st) != 0 || pread(fd, h, QC_HEADER_V1, 0) != (ssize_t)QC_HEADER_V1) {
        rc = qv_fail(err, QV_ECORRUPT, "%s is truncated", path);
        goto done;
    }
    version = qv_load_u32le(h + 8);
    if (version == 2) {
        hl = QC_HEADER;
        if (pread(fd, h + QC_HEADER_V1, hl - QC_HEADER_V1, QC_HEADER_V1) !=
            (ssize_t)(hl - QC_HEADER_V1)) {
            rc = qv_fail(err, QV_ECORRUPT, "%s is truncated", path);
            goto done;
        }
    }
    uint32_t kind = qv_load_u32le(h + 12), sub = qv_load_u32le(h + 44);
    /* version 1: one-bit binary codes, global scalar ranges (the fields are 0) */
    uint32_t bq_enc = qv_load_u32le(h + 48), bq_query = qv_load_u32le(h + 52),
             sq_ranges = qv_load_u32le(h + 56), reserved = qv_load_u32le(h + 60);
    bool sub_ok = kind == QV_QCODES_PRODUCT ? sub > 0 && sub <= 16 && !(sub & (sub - 1))
                  : kind == QV_QCODES_TURBO ? sub <= 3 && dist != QV_DIST_MANHATTAN
                                            : sub == 0;
    bool opts_ok = reserved == 0 &&
                   (kind == QV_QCODES_BINARY ? bq_enc <= QV_QCODES_BQ_ONE_AND_HALF_BITS &&
                                                   bq_query <= QV_QCODES_BQ_QUERY_SCALAR8
                                             : bq_enc == 0 && bq_query == 0) &&
                   (kind == QV_QCODES_SCALAR ? sq_ranges <= QV_QCODES_SQ_PER_DIM : sq_ranges == 0);
    if (memcmp(h, QC_MAGIC, 8) != 0 || (version != 1 && version != 2) || !sub_ok || !opts_ok ||
        (kind != QV_QCODES_SCALAR && kind != QV_QCODES_BINARY && kind != QV_QCODES_PRODUCT &&
         kind != QV_QCODES_TURBO) ||
        qv_load_u32le(h + 16) != dim || qv_load_u32le(h + 20) != (uint32_t)dist ||
        qv_load_u64le(h + 24) != n || dim == 0 || dim > QV_QUANT_MAX_DIM) {
        rc = qv_fail(err, QV_ECORRUPT, "%s: header does not match its segment", path);
        goto done;
    }
    q = qc_alloc((qv_qcodes_kind)kind, dist, n, dim, sub, bq_enc, sq_ranges);
    if (!q) {
        rc = qv_fail(err, QV_ENOMEM, "out of memory");
        goto done;
    }
    qc_arr a[6];
    size_t na = qc_arrays(q, a), cb = (size_t)n * q->code_bytes, body = cb;
    for (size_t i = 0; i < na; i++) body += sizeof(float) * a[i].len;
    if ((uint64_t)st.st_size != hl + body + 4) {
        rc = qv_fail(err, QV_ECORRUPT, "%s has the wrong size", path);
        goto done;
    }
    memcpy(&q->sq.sq_offset, h + 32, 4);
    memcpy(&q->sq.sq_alpha, h + 36, 4);
    memcpy(&q->quantile, h + 40, 4);
    q->sq.sq_dim = dim;
    q->bq_query = bq_query;
    uint8_t t[4];
    off_t at = (off_t)hl;
    bool mapped = place != QV_QCODES_HEAP;
    if (mapped && !qc_map_codes(q, fd, (size_t)st.st_size, hl, place == QV_QCODES_MAP_CACHED)) {
        rc = qv_fail(err, QV_EIO, "cannot map %s: %s", path, strerror(errno));
        goto done;
    }
    bool ok = mapped || pread(fd, q->codes, cb, at) == (ssize_t)cb;
    at += (off_t)cb;
    for (size_t i = 0; ok && i < na; i++) {
        size_t len = sizeof(float) * a[i].len;
        ok = pread(fd, *a[i].p, len, at) == (ssize_t)len;
        at += (off_t)len;
    }
    ok = ok && pread(fd, t, 4, at) == 4;
    if (ok) {
        uint32_t crc = qv_crc32c(0, h, hl);
        crc = qv_crc32c(crc, q->codes, cb);
        for (size_t i = 0; i < na; i++) crc = qv_crc32c(crc, *a[i].p, sizeof(float) * a[i].len);
        ok = crc == qv_load_u32le(t);
    }
    ok = ok && qc_values_ok(q);
    if (!ok) rc = qv_fail(err, QV_ECORRUPT, "%s fails its checksum or range", path);
    if (!rc && q->map) qc_advise(q->map, q->map_len, place == QV_QCODES_MAP_CACHED);
done:
    close(fd);
    if (rc) {
        qv_qcodes_free(q);
        return rc;
    }
    *out = q;
    return QV_OK;
}

/* ---- scoring ------------------------------------------------------------------------ */

/* The bits per dimension of a binary query: 1 (encoded as the stored
 * vectors; Qdrant's default), 4 or 8 (a scalar query in bit planes). */
static uint32_t bq_query_bits(const qv_qcodes *q) {
    return q->bq_query == QV_QCODES_BQ_QUERY_SCALAR4   ? 4
           : q->bq_query == QV_QCODES_BQ_QUERY_SCALAR8 ? 8
                                                       : 1;
}

/* A scalar binary query: every bit position of the code gets a query value
 * (plane one: q_i; plane two: q_i for two bits, max(q_2j, q_2j+1) for one
 * and a half bits), quantized over [-max|q|, max|q|] to L = 2^bits - 1
 * levels; bit b of the level of position j goes to plane b (nplanes planes
 * of code_bytes each, laid out as the code).  Positions past the dimension
 * stay 0, as the code's do. */
/* The value of the query at dimension i that a scalar query quantizes: q_i
 * for one bit; with statistics, the centred value weighted by the
 * deviation, (q_i - mean_i) sd_i, so that sum_i level_i value_i follows
 * the part of the dot product that varies between stored vectors (a level
 * stands for (x_i - mean_i) / sd_i). */
static inline float bq_query_value(const qv_qcodes *q, const float *x, uint32_t i) {
    if (!q->bq_stats) return x[i];
    return (x[i] - q->bq_stats[i]) * q->bq_stats[q->dim + i];
}

static void bq_encode_scalar_query(const qv_qcodes *q, const float *x, uint32_t bits,
                                   uint64_t *planes) {
    size_t nw = q->code_bytes / 8;
    uint32_t L = (1u << bits) - 1, dim = q->dim;
    memset(planes, 0, q->code_bytes * bits);
    float m = 0;
    for (uint32_t i = 0; i < dim; i++) m = fmaxf(m, fabsf(bq_query_value(q, x, i)));
    float delta = 2 * m / (float)L;
    uint32_t n2 = q->bq_enc == QV_QCODES_BQ_TWO_BITS            ? dim
                  : q->bq_enc == QV_QCODES_BQ_ONE_AND_HALF_BITS ? (dim + 1) / 2
                                                                : 0;
    for (uint32_t j = 0; j < dim + n2; j++) {
        float v;
        size_t pos; /* bit position in the code */
        if (j < dim) {
            v = bq_query_value(q, x, j);
            pos = j;
        } else {
            uint32_t i = j - dim;
            v = q->bq_enc == QV_QCODES_BQ_TWO_BITS ? bq_query_value(q, x, i)
                : 2 * i + 1 < dim
                    ? fmaxf(bq_query_value(q, x, 2 * i), bq_query_value(q, x, 2 * i + 1))
                    : bq_query_value(q, x, 2 * i);
            pos = (size_t)q->bq_w1 * 64 + i;
        }
        float t = delta > FLT_EPSILON ? (v + m) / delta : 0;
        uint32_t lv = !(t > 0) ? 0 : t >= (float)L ? L : (uint32_t)lroundf(t);
        for (uint32_t b = 0; b < bits; b++)
            if (lv >> b & 1) planes[b * nw + pos / 64] |= (uint64_t)1 << (pos % 64);
    }
}

qv_rc qv_qquery_init(qv_qquery *qq, const qv_qcodes *q, const float *query, qv_err *err) {
    qq->q = q;
    qq->corr = 0;
    qq->qnorm2 = 0;
    qq->qoff = 0;
    qq->qscale = 1;
    qq->table = NULL;
    qq->nplanes = q->kind == QV_QCODES_BINARY ? bq_query_bits(q) : 1;
    qq->code = aligned_alloc(64, (q->code_bytes * qq->nplanes + 63) & ~(size_t)63);
    if (!qq->code) return qv_fail(err, QV_ENOMEM, "out of memory");
    if (q->kind == QV_QCODES_TURBO) {
        const tq_spec *sp = &TQ_SPECS[q->tbits];
        qq->table = malloc(sizeof(float) * q->code_bytes * 256);
        float *v = malloc(sizeof(float) * q->pdim);
        if (!qq->table || !v) {
            free(v);
            qv_qquery_free(qq);
            return qv_fail(err, QV_ENOMEM, "out of memory");
        }
        double nn = 0;
        for (uint32_t j = 0; j < q->pdim; j++) {
            v[j] = j < q->dim ? query[j] : 0;
            nn += (double)v[j] * v[j];
        }
        qq->qnorm2 = (float)nn;
        tq_rotate(v, q->pdim);
        /* v is now sqrt(P) x the rotated query; a rotated stored coordinate
         * is about level / sqrt(P), and shrink undoes the quantizer's bias */
        float scale = 1.0f / ((float)q->pdim * sp->shrink);
        for (size_t b = 0; b < q->code_bytes; b++) {
            float *tb = qq->table + b * 256;
            tb[0] = 0;
            uint32_t have = 1; /* entries filled: levels^t */
            for (uint32_t t = 0; t < sp->per_byte; t++) {
                size_t j = b * sp->per_byte + t;
                float qj = j < q->pdim ? v[j] * scale : 0;
                for (uint32_t lv = sp->levels; lv-- > 0;)
                    for (uint32_t p = 0; p < have; p++)
                        tb[lv * have + p] = tb[p] + qj * sp->cent[lv];
                have *= sp->levels;
            }
            for (uint32_t p = have; p < 256; p++) tb[p] = 0;
        }
        free(v);
    } else if (q->kind == QV_QCODES_PRODUCT) {
        qq->table = malloc(sizeof(float) * q->code_bytes * 256);
        if (!qq->table) {
            qv_qquery_free(qq);
            return qv_fail(err, QV_ENOMEM, "out of memory");
        }
        for (uint32_t m = 0; m < q->code_bytes; m++) {
            uint32_t off = m * q->sub, w = q->dim - off < q->sub ? q->dim - off : q->sub;
            for (uint32_t c = 0; c < 256; c++) {
                const float *cent = q->books + ((size_t)m * 256 + c) * q->sub;
                float s = 0;
                for (uint32_t j = 0; j < w; j++) {
                    float a = query[off + j], b = cent[j];
                    s += q->dist == QV_DIST_EUCLID      ? (a - b) * (a - b)
                         : q->dist == QV_DIST_MANHATTAN ? fabsf(a - b)
                                                        : a * b;
                }
                qq->table[(size_t)m * 256 + c] = s;
            }
        }
    } else if (q->kind == QV_QCODES_SCALAR && q->sq_ranges == QV_QCODES_SQ_PER_DIM) {
        const float *off = q->sq_dimp, *scale = q->sq_dimp + q->dim;
        if (q->dist == QV_DIST_MANHATTAN) {
            qq->table = malloc(sizeof(float) * q->dim);
            if (!qq->table) {
                qv_qquery_free(qq);
                return qv_fail(err, QV_ENOMEM, "out of memory");
            }
            memcpy(qq->table, query, sizeof(float) * q->dim);
            return QV_OK;
        }
        /* w_i = scale_i q_i coded with the query's own range: w_i ~ qoff +
         * qscale k_i, so sum_i scale_i c_i q_i ~ qoff sum c + qscale c.k */
        float lo = INFINITY, hi = -INFINITY;
        double c0 = 0, nn = 0;
        for (uint32_t i = 0; i < q->dim; i++) {
            float w = scale[i] * query[i];
            if (w < lo) lo = w;
            if (w > hi) hi = w;
            c0 += (double)off[i] * query[i];
            nn += (double)query[i] * query[i];
        }
        float a = (hi - lo) / 255.0f;
        if (!(a > 0.0f) || !isfinite(a)) a = 1.0f;
        if (!isfinite(lo)) lo = 0;
        for (uint32_t i = 0; i < q->dim; i++) {
            float v = (scale[i] * query[i] - lo) / a;
            qq->code[i] = !(v > 0.0f) ? 0 : v >= 254.5f ? 255 : (uint8_t)(v + 0.5f);
        }
        qq->corr = (float)c0;
        qq->qnorm2 = (float)nn;
        qq->qoff = lo;
        qq->qscale = a;
    } else if (q->kind == QV_QCODES_SCALAR)
        qq->corr = qv_sq_encode(&q->sq, query, qq->code);
    else if (qq->nplanes > 1)
        bq_encode_scalar_query(q, query, qq->nplanes, (uint64_t *)qq->code);
    else
        bq_encode_code(q, query, (uint64_t *)qq->code);
    return QV_OK;
}

/* A binary code's distance to the query: the Hamming distance over every
 * bit plane for a binary query; for a scalar one, sum over bit positions of
 * |code bit - level / L|. */
static inline float bq_dist(const qv_qquery *qq, const uint8_t *c) {
    const qv_qcodes *q = qq->q;
    const uint64_t *w = (const uint64_t *)c, *qc = (const uint64_t *)qq->code;
    if (qq->nplanes == 1) return (float)q->k->bits_hamming(qc, w, q->code_bytes / 8);
    return (float)q->k->bits_xor_planes(w, qc, q->code_bytes / 8, qq->nplanes) /
           (float)((1u << qq->nplanes) - 1);
}

/* The per-dimension scalar x^.q (x^ the decoded vector, q through the
 * query's own 8-bit code); Cosine and Dot add corr2 to it. */
static inline double sq_dim_dot(const qv_qquery *qq, uint32_t id, const uint8_t *c) {
    const qv_qcodes *q = qq->q;
    return (double)qq->corr + (double)qq->qoff * q->corr[id] +
           (double)qq->qscale * q->k->u8_dot(qq->code, c, q->dim);
}

/* The per-dimension scalar L1 estimate: the distance to the decoded vector. */
static float sq_dim_l1(const qv_qquery *qq, const uint8_t *c) {
    const qv_qcodes *q = qq->q;
    const float *off = q->sq_dimp, *scale = q->sq_dimp + q->dim;
    float s = 0;
    for (uint32_t i = 0; i < q->dim; i++) s += fabsf(off[i] + scale[i] * c[i] - qq->table[i]);
    return s;
}

void qv_qquery_free(qv_qquery *qq) {
    free(qq->code);
    free(qq->table);
    qq->code = NULL;
    qq->table = NULL;
}

float qv_qquery_score(const qv_qquery *qq, uint32_t id) {
    const qv_qcodes *q = qq->q;
    const uint8_t *c = q->codes + (size_t)id * q->code_bytes;
    if (q->kind == QV_QCODES_PRODUCT) {
        float s = 0;
        for (size_t m = 0; m < q->code_bytes; m++) s += qq->table[m * 256 + c[m]];
        return q->dist == QV_DIST_EUCLID ? sqrtf(s) : s;
    }
    if (q->kind == QV_QCODES_TURBO) {
        float s = 0;
        for (size_t m = 0; m < q->code_bytes; m++) s += qq->table[m * 256 + c[m]];
        float dot = s * q->norms[id];
        if (q->dist != QV_DIST_EUCLID) return dot;
        float d2 = q->norms[id] * q->norms[id] + qq->qnorm2 - 2 * dot;
        return sqrtf(d2 > 0 ? d2 : 0);
    }
    if (q->kind == QV_QCODES_BINARY) {
        float x = bq_dist(qq, c);
        if (qv_distance_higher_is_better(q->dist))
            return ((float)q->dim - 2.0f * x) / (float)q->dim;
        return x;
    }
    if (q->sq_ranges == QV_QCODES_SQ_PER_DIM) {
        if (q->dist == QV_DIST_MANHATTAN) return sq_dim_l1(qq, c);
        double dot = sq_dim_dot(qq, id, c);
        if (q->dist != QV_DIST_EUCLID) return (float)(dot + q->corr2[id]);
        /* an estimate below zero (the query's rounding, near duplicates)
         * stays below zero, so such points keep their order */
        double d2 = (double)q->corr2[id] - 2 * dot + qq->qnorm2;
        return (float)(d2 >= 0 ? sqrt(d2) : -sqrt(-d2));
    }
    switch (q->dist) {
    case QV_DIST_EUCLID: {
        float d2 = qv_sq_l2sq(q->k, &q->sq, qq->code, c);
        return sqrtf(d2 > 0 ? d2 : 0);
    }
    case QV_DIST_MANHATTAN:
        return qv_sq_l1(q->k, &q->sq, qq->code, c);
    default:
        return qv_sq_dot(q->k, &q->sq, qq->code, qq->corr, c, q->corr[id]);
    }
}

/* Prefetches the cache lines of one code after its first. */
static inline void prefetch_rest(const uint8_t *c, size_t bytes) {
    for (size_t off = 64 - ((uintptr_t)c & 63); off < bytes; off += 64) __builtin_prefetch(c + off);
}

/* How many codes ahead of the one being scored are fetched whole. */
#define QC_AHEAD 3

void qv_qquery_dist_many(void *ctx, const uint32_t *ids, size_t n, float *out) {
    const qv_qquery *qq = ctx;
    const qv_qcodes *q = qq->q;
    const size_t cb = q->code_bytes;
    const float *side = q->corr ? q->corr : q->norms; /* a float per vector, or NULL */
    for (size_t i = 0; i < n; i++) {
        __builtin_prefetch(q->codes + (size_t)ids[i] * cb);
        if (side) __builtin_prefetch(side + ids[i]);
    }
    for (size_t i = 0; i < n && i < QC_AHEAD; i++)
        prefetch_rest(q->codes + (size_t)ids[i] * cb, cb);
#define QC_NEXT(i)                                                                                 \
    if ((i) + QC_AHEAD < n) prefetch_rest(q->codes + (size_t)ids[(i) + QC_AHEAD] * cb, cb)
    if (q->kind == QV_QCODES_SCALAR && q->sq_ranges == QV_QCODES_SQ_PER_DIM) {
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            const uint8_t *c = q->codes + (size_t)ids[i] * cb;
            if (q->dist == QV_DIST_MANHATTAN) {
                out[i] = sq_dim_l1(qq, c);
                continue;
            }
            double dot = sq_dim_dot(qq, ids[i], c);
            out[i] = q->dist == QV_DIST_EUCLID
                         ? (float)((double)q->corr2[ids[i]] - 2 * dot + qq->qnorm2)
                         : (float)-(dot + q->corr2[ids[i]]);
        }
        return;
    }
    if (q->kind == QV_QCODES_SCALAR && q->dist == QV_DIST_EUCLID) {
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            out[i] = qv_sq_l2sq(q->k, &q->sq, qq->code, q->codes + (size_t)ids[i] * cb);
        }
        return;
    }
    if (q->kind == QV_QCODES_TURBO) {
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            const uint8_t *c = q->codes + (size_t)ids[i] * cb;
            float s = 0;
            for (size_t m = 0; m < cb; m++) s += qq->table[m * 256 + c[m]];
            float nx = q->norms[ids[i]], dot = s * nx;
            out[i] = q->dist == QV_DIST_EUCLID ? nx * nx + qq->qnorm2 - 2 * dot : -dot;
        }
        return;
    }
    if (q->kind == QV_QCODES_PRODUCT && q->dist == QV_DIST_EUCLID) {
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            const uint8_t *c = q->codes + (size_t)ids[i] * cb;
            float s = 0;
            for (size_t m = 0; m < cb; m++) s += qq->table[m * 256 + c[m]];
            out[i] = s;
        }
        return;
    }
    if (q->kind == QV_QCODES_BINARY) {
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            out[i] = bq_dist(qq, q->codes + (size_t)ids[i] * cb);
        }
        return;
    }
    if (q->kind == QV_QCODES_SCALAR && qv_distance_higher_is_better(q->dist)) {
        /* qv_sq_dot's expression inlined (the same operations, so the same float) */
        double a2 = (double)q->sq.sq_alpha * q->sq.sq_alpha;
        uint32_t (*dot)(const uint8_t *, const uint8_t *, size_t) = q->k->u8_dot;
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            uint32_t id = ids[i];
            out[i] = -(float)(a2 * dot(qq->code, q->codes + (size_t)id * cb, q->sq.sq_dim) +
                              qq->corr + q->corr[id]);
        }
        return;
    }
#undef QC_NEXT
    bool negate = qv_distance_higher_is_better(q->dist);
    for (size_t i = 0; i < n; i++) {
        if (i + QC_AHEAD < n) prefetch_rest(q->codes + (size_t)ids[i + QC_AHEAD] * cb, cb);
        float s = qv_qquery_score(qq, ids[i]);
        out[i] = negate ? -s : s;
    }
}
