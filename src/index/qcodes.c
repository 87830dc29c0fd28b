/*
 * qcodes.c - building, persisting and scoring a segment's quantized codes
 * (format and conventions in qcodes.h; the codes and kernels themselves
 * are core/quant.c's).
 */
#include "index/qcodes.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crc32c.h"

#define QC_MAGIC   "QVQCODES"
#define QC_VERSION 1
#define QC_HEADER  48

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

static size_t code_bytes_of(qv_qcodes_kind kind, uint32_t dim, uint32_t sub) {
    if (kind == QV_QCODES_BINARY) return qv_bq_words(dim) * 8;
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

static qv_qcodes *qc_alloc(qv_qcodes_kind kind, qv_distance dist, uint32_t n, uint32_t dim,
                           uint32_t sub) {
    qv_qcodes *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->kind = kind;
    q->dist = dist;
    q->n = n;
    q->dim = dim;
    q->sub = kind == QV_QCODES_PRODUCT ? sub : 0;
    q->tbits = kind == QV_QCODES_TURBO ? sub : 0;
    q->pdim = kind == QV_QCODES_TURBO ? pow2_at_least(dim) : 0;
    q->code_bytes = code_bytes_of(kind, dim, sub);
    q->k = qv_quant_kernels_best();
    /* 64-byte aligned so binary words and SIMD loads are aligned */
    size_t bytes = ((size_t)n * q->code_bytes + 63) & ~(size_t)63;
    q->codes = aligned_alloc(64, bytes ? bytes : 64);
    if (kind == QV_QCODES_SCALAR) q->corr = malloc(sizeof(float) * (n ? n : 1));
    if (kind == QV_QCODES_PRODUCT) q->books = calloc(books_floats(q), sizeof(float));
    if (kind == QV_QCODES_TURBO) q->norms = malloc(sizeof(float) * (n ? n : 1));
    if (!q->codes || (kind == QV_QCODES_SCALAR && !q->corr) ||
        (kind == QV_QCODES_PRODUCT && !q->books) || (kind == QV_QCODES_TURBO && !q->norms)) {
        qv_qcodes_free(q);
        return NULL;
    }
    return q;
}

void qv_qcodes_free(qv_qcodes *q) {
    if (!q) return;
    free(q->codes);
    free(q->corr);
    free(q->books);
    free(q->norms);
    free(q);
}

size_t qv_qcodes_memory(const qv_qcodes *q) {
    return (size_t)q->n * q->code_bytes + (q->corr ? sizeof(float) * q->n : 0) +
           (q->norms ? sizeof(float) * q->n : 0) + books_floats(q) * sizeof(float);
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

qv_rc qv_qcodes_build(qv_qcodes_kind kind, qv_distance dist, const float *rows, uint32_t n,
                      uint32_t dim, float param, qv_qcodes **out, qv_err *err) {
    uint32_t sub = kind == QV_QCODES_PRODUCT || kind == QV_QCODES_TURBO ? (uint32_t)param : 0;
    if ((kind != QV_QCODES_SCALAR && kind != QV_QCODES_BINARY && kind != QV_QCODES_PRODUCT &&
         kind != QV_QCODES_TURBO) ||
        dim == 0 || dim > QV_QUANT_MAX_DIM ||
        (kind == QV_QCODES_PRODUCT && (sub == 0 || sub > 16 || (sub & (sub - 1)))) ||
        (kind == QV_QCODES_TURBO && (sub > 3 || dist == QV_DIST_MANHATTAN)))
        return qv_fail(err, QV_EBADINPUT, "bad quantization parameters");
    float quantile = param;
    qv_qcodes *q = qc_alloc(kind, dist, n, dim, sub);
    if (!q) return qv_fail(err, QV_ENOMEM, "out of memory");
    if (kind == QV_QCODES_PRODUCT || kind == QV_QCODES_TURBO) {
        qv_rc rc = kind == QV_QCODES_PRODUCT ? pq_build(q, rows, err) : tq_build(q, rows, err);
        if (rc) {
            qv_qcodes_free(q);
            return rc;
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
        for (uint32_t i = 0; i < n; i++)
            qv_bq_encode(rows + (size_t)i * dim, dim,
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
    uint8_t h[QC_HEADER];
    memcpy(h, QC_MAGIC, 8);
    qv_store_u32le(h + 8, QC_VERSION);
    qv_store_u32le(h + 12, (uint32_t)q->kind);
    qv_store_u32le(h + 16, q->dim);
    qv_store_u32le(h + 20, (uint32_t)q->dist);
    qv_store_u64le(h + 24, q->n);
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host expected");
    memcpy(h + 32, &q->sq.sq_offset, 4);
    memcpy(h + 36, &q->sq.sq_alpha, 4);
    memcpy(h + 40, &q->quantile, 4);
    qv_store_u32le(h + 44, q->kind == QV_QCODES_TURBO ? q->tbits : q->sub);
    uint32_t crc = 0;
    qv_rc rc = write_all(fd, h, sizeof h, &crc);
    if (!rc) rc = write_all(fd, q->codes, (size_t)q->n * q->code_bytes, &crc);
    if (!rc && q->corr) rc = write_all(fd, q->corr, sizeof(float) * q->n, &crc);
    if (!rc && q->books) rc = write_all(fd, q->books, sizeof(float) * books_floats(q), &crc);
    if (!rc && q->norms) rc = write_all(fd, q->norms, sizeof(float) * q->n, &crc);
    uint8_t t[4];
    qv_store_u32le(t, crc);
    uint32_t dummy = 0;
    if (!rc) rc = write_all(fd, t, 4, &dummy);
    if (!rc && fsync(fd) != 0) rc = QV_EIO;
    if (close(fd) != 0) rc = QV_EIO;
    if (rc) return qv_fail(err, QV_EIO, "cannot write %s: %s", path, strerror(errno));
    return QV_OK;
}

qv_rc qv_qcodes_load(const char *path, uint32_t n, uint32_t dim, qv_distance dist, qv_qcodes **out,
                     qv_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qv_fail(err, QV_ECORRUPT, "cannot open %s: %s", path, strerror(errno));
    uint8_t h[QC_HEADER];
    struct stat st;
    qv_rc rc = QV_OK;
    qv_qcodes *q = NULL;
    if (fstat(fd, &st) != 0 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
        rc = qv_fail(err, QV_ECORRUPT, "%s is truncated", path);
        goto done;
    }
    uint32_t kind = qv_load_u32le(h + 12), sub = qv_load_u32le(h + 44);
    bool sub_ok = kind == QV_QCODES_PRODUCT ? sub > 0 && sub <= 16 && !(sub & (sub - 1))
                  : kind == QV_QCODES_TURBO ? sub <= 3 && dist != QV_DIST_MANHATTAN
                                            : sub == 0;
    if (memcmp(h, QC_MAGIC, 8) != 0 || qv_load_u32le(h + 8) != QC_VERSION || !sub_ok ||
        (kind != QV_QCODES_SCALAR && kind != QV_QCODES_BINARY && kind != QV_QCODES_PRODUCT &&
         kind != QV_QCODES_TURBO) ||
        qv_load_u32le(h + 16) != dim || qv_load_u32le(h + 20) != (uint32_t)dist ||
        qv_load_u64le(h + 24) != n) {
        rc = qv_fail(err, QV_ECORRUPT, "%s: header does not match its segment", path);
        goto done;
    }
    size_t cb = code_bytes_of(kind, dim, sub);
    size_t body = (size_t)n * cb +
                  (kind == QV_QCODES_SCALAR || kind == QV_QCODES_TURBO ? sizeof(float) * n : 0) +
                  (kind == QV_QCODES_PRODUCT ? sizeof(float) * cb * 256 * sub : 0);
    if ((uint64_t)st.st_size != QC_HEADER + body + 4) {
        rc = qv_fail(err, QV_ECORRUPT, "%s has the wrong size", path);
        goto done;
    }
    q = qc_alloc((qv_qcodes_kind)kind, dist, n, dim, sub);
    if (!q) {
        rc = qv_fail(err, QV_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(&q->sq.sq_offset, h + 32, 4);
    memcpy(&q->sq.sq_alpha, h + 36, 4);
    memcpy(&q->quantile, h + 40, 4);
    q->sq.sq_dim = dim;
    uint8_t t[4];
    bool ok = pread(fd, q->codes, (size_t)n * cb, QC_HEADER) == (ssize_t)((size_t)n * cb);
    if (ok && q->corr)
        ok = pread(fd, q->corr, sizeof(float) * n, QC_HEADER + (off_t)((size_t)n * cb)) ==
             (ssize_t)(sizeof(float) * n);
    size_t bl = sizeof(float) * books_floats(q);
    if (ok && q->books)
        ok = pread(fd, q->books, bl, QC_HEADER + (off_t)((size_t)n * cb)) == (ssize_t)bl;
    if (ok && q->norms)
        ok = pread(fd, q->norms, sizeof(float) * n, QC_HEADER + (off_t)((size_t)n * cb)) ==
             (ssize_t)(sizeof(float) * n);
    ok = ok && pread(fd, t, 4, QC_HEADER + (off_t)body) == 4;
    if (ok) {
        uint32_t crc = qv_crc32c(0, h, sizeof h);
        crc = qv_crc32c(crc, q->codes, (size_t)n * cb);
        if (q->corr) crc = qv_crc32c(crc, q->corr, sizeof(float) * n);
        if (q->books) crc = qv_crc32c(crc, q->books, bl);
        if (q->norms) crc = qv_crc32c(crc, q->norms, sizeof(float) * n);
        ok = crc == qv_load_u32le(t);
    }
    if (ok && kind == QV_QCODES_SCALAR)
        ok = isfinite(q->sq.sq_offset) && isfinite(q->sq.sq_alpha) && q->sq.sq_alpha > 0;
    for (size_t i = 0; ok && i < books_floats(q); i++) ok = isfinite(q->books[i]);
    for (size_t i = 0; ok && q->norms && i < n; i++) ok = isfinite(q->norms[i]) && q->norms[i] >= 0;
    if (!ok) rc = qv_fail(err, QV_ECORRUPT, "%s fails its checksum or range", path);
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

qv_rc qv_qquery_init(qv_qquery *qq, const qv_qcodes *q, const float *query, qv_err *err) {
    qq->q = q;
    qq->corr = 0;
    qq->qnorm2 = 0;
    qq->table = NULL;
    qq->code = aligned_alloc(64, (q->code_bytes + 63) & ~(size_t)63);
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
    } else if (q->kind == QV_QCODES_SCALAR)
        qq->corr = qv_sq_encode(&q->sq, query, qq->code);
    else
        qv_bq_encode(query, q->dim, (uint64_t *)qq->code);
    return QV_OK;
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
        uint32_t ham =
            q->k->bits_hamming((const uint64_t *)qq->code, (const uint64_t *)c, q->code_bytes / 8);
        if (qv_distance_higher_is_better(q->dist))
            return ((float)q->dim - 2.0f * (float)ham) / (float)q->dim;
        return (float)ham;
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
        const uint64_t *qc = (const uint64_t *)qq->code;
        for (size_t i = 0; i < n; i++) {
            QC_NEXT(i);
            out[i] = (float)q->k->bits_hamming(
                qc, (const uint64_t *)(q->codes + (size_t)ids[i] * cb), cb / 8);
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
