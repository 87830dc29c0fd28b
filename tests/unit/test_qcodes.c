/*
 * test_qcodes.c - a segment's quantized codes (index/qcodes.c): scores equal
 * the core/quant.h estimates they are defined by, for every distance and
 * kind (product: the sum of the query's partial scores against the named
 * centroids); rescoring the best estimates with float vectors recovers the
 * exact top hits given enough oversampling; the file round-trips and its
 * loader rejects every kind of damage.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crc32c.h"
#include "core/distance.h"
#include "index/qcodes.h"

#define N   600
#define DIM 48

static uint64_t rng = 7;
static float frand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static float *make_rows(qv_distance d) {
    float *x = malloc(sizeof(float) * N * DIM);
    for (size_t i = 0; i < (size_t)N * DIM; i++) x[i] = frand();
    if (d == QV_DIST_COSINE)
        for (size_t i = 0; i < N; i++) qv_normalize(x + i * DIM, DIM);
    return x;
}

static const qv_distance DISTS[] = {QV_DIST_COSINE, QV_DIST_DOT, QV_DIST_EUCLID, QV_DIST_MANHATTAN};

static void test_scores_match_definition(void **state) {
    (void)state;
    const qv_quant_kernels *k = qv_quant_kernels_best();
    for (size_t di = 0; di < 4; di++) {
        qv_distance d = DISTS[di];
        float *x = make_rows(d);
        for (int kind = QV_QCODES_SCALAR; kind <= QV_QCODES_BINARY; kind++) {
            qv_qcodes *q;
            qv_err err;
            assert_int_equal(qv_qcodes_build(kind, d, x, N, DIM, 0.99f, &q, &err), QV_OK);
            qv_qquery qq;
            const float *query = x + 5 * DIM;
            assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
            uint8_t code[DIM];
            uint64_t bits[1];
            float corr = qv_sq_encode(&q->sq, query, code);
            qv_bq_encode(query, DIM, bits);
            for (uint32_t i = 0; i < N; i++) {
                float want;
                const uint8_t *c = q->codes + (size_t)i * q->code_bytes;
                if (kind == QV_QCODES_BINARY) {
                    uint32_t ham = DIM - qv_bq_matching(k, bits, (const uint64_t *)c, DIM);
                    want = qv_distance_higher_is_better(d) ? ((float)DIM - 2.0f * ham) / DIM
                                                           : (float)ham;
                } else if (d == QV_DIST_EUCLID) {
                    want = sqrtf(qv_sq_l2sq(k, &q->sq, code, c));
                } else if (d == QV_DIST_MANHATTAN) {
                    want = qv_sq_l1(k, &q->sq, code, c);
                } else {
                    want = qv_sq_dot(k, &q->sq, code, corr, c, q->corr[i]);
                }
                assert_true(qv_qquery_score(&qq, i) == want);
            }
            qv_qquery_free(&qq);
            qv_qcodes_free(q);
        }
        free(x);
    }
}

/* Rescoring the best n/4 int8 estimates with the floats finds the exact
 * top 10 for (nearly) every query; with all candidates, exactly. */
static void test_rescoring_recovers_exact(void **state) {
    (void)state;
    const qv_kernels *fk = qv_kernels_best();
    for (size_t di = 0; di < 4; di++) {
        qv_distance d = DISTS[di];
        bool higher = qv_distance_higher_is_better(d);
        float *x = make_rows(d);
        qv_qcodes *q;
        qv_err err;
        assert_int_equal(qv_qcodes_build(QV_QCODES_SCALAR, d, x, N, DIM, 1.0f, &q, &err), QV_OK);
        size_t hits = 0, total = 0;
        for (int t = 0; t < 20; t++) {
            const float *query = x + (size_t)(t * 17) * DIM;
            qv_qquery qq;
            assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
            float est[N], ex[N];
            for (uint32_t i = 0; i < N; i++) {
                est[i] = higher ? qv_qquery_score(&qq, i) : -qv_qquery_score(&qq, i);
                float s = qv_score(fk, d, query, x + (size_t)i * DIM, DIM);
                ex[i] = higher ? s : -s;
            }
            /* exact top 10 and the bar of the 150th best estimate */
            float tmp[N];
            memcpy(tmp, est, sizeof tmp);
            for (int a = 0; a < 150; a++)
                for (int b = a + 1; b < N; b++)
                    if (tmp[b] > tmp[a]) {
                        float s = tmp[a];
                        tmp[a] = tmp[b];
                        tmp[b] = s;
                    }
            float bar = tmp[149];
            for (int r = 0; r < 10; r++) {
                int best = -1;
                for (int i = 0; i < N; i++)
                    if (ex[i] > -INFINITY && (best < 0 || ex[i] > ex[best])) best = i;
                total++;
                hits += est[best] >= bar;
                ex[best] = -INFINITY;
            }
            qv_qquery_free(&qq);
        }
        assert_true(hits * 100 >= total * 97);
        qv_qcodes_free(q);
        free(x);
    }
}

/* Product codes: a score is the sum over subspaces of the query's partial
 * score against the centroid the code names (computed here directly), for
 * every distance and subspace width; with one dimension per subspace and
 * all candidates rescored the exact top hit is always found. */
static void test_product_codes(void **state) {
    (void)state;
    for (size_t di = 0; di < 4; di++) {
        qv_distance d = DISTS[di];
        float *x = make_rows(d);
        for (uint32_t sub = 1; sub <= 16; sub *= 2) {
            qv_qcodes *q;
            qv_err err;
            assert_int_equal(qv_qcodes_build(QV_QCODES_PRODUCT, d, x, N, DIM, (float)sub, &q, &err),
                             QV_OK);
            assert_int_equal(q->code_bytes, (DIM + sub - 1) / sub);
            const float *query = x + 9 * DIM;
            qv_qquery qq;
            assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
            for (uint32_t i = 0; i < N; i += 7) {
                const uint8_t *c = q->codes + (size_t)i * q->code_bytes;
                float s = 0;
                for (uint32_t m = 0; m < q->code_bytes; m++) {
                    const float *cent = q->books + ((size_t)m * 256 + c[m]) * sub;
                    float part = 0;
                    for (uint32_t j = 0; j < sub && m * sub + j < DIM; j++) {
                        float a = query[m * sub + j], b = cent[j];
                        part += d == QV_DIST_EUCLID      ? (a - b) * (a - b)
                                : d == QV_DIST_MANHATTAN ? fabsf(a - b)
                                                         : a * b;
                    }
                    s += part;
                }
                if (d == QV_DIST_EUCLID) s = sqrtf(s);
                assert_true(fabsf(qv_qquery_score(&qq, i) - s) <= 1e-4f * (1 + fabsf(s)));
            }
            qv_qquery_free(&qq);
            qv_qcodes_free(q);
        }
        free(x);
    }
}

/* Turbo codes: estimates are (nearly) unbiased and tighten with the bits;
 * the exact top 10 is within the best 60 estimates of 600 from 2 bits on;
 * Manhattan has none. */
static void test_turbo_codes(void **state) {
    (void)state;
    const qv_kernels *fk = qv_kernels_best();
    static const qv_distance dists[] = {QV_DIST_COSINE, QV_DIST_DOT, QV_DIST_EUCLID};
    for (size_t di = 0; di < 3; di++) {
        qv_distance d = dists[di];
        bool higher = qv_distance_higher_is_better(d);
        float *x = make_rows(d);
        double prev_err = INFINITY;
        for (uint32_t bits = 0; bits <= 3; bits++) {
            qv_qcodes *q;
            qv_err err;
            assert_int_equal(qv_qcodes_build(QV_QCODES_TURBO, d, x, N, DIM, (float)bits, &q, &err),
                             QV_OK);
            double abs_err = 0, bias = 0;
            size_t found = 0, total = 0;
            for (int t = 0; t < 20; t++) {
                const float *query = x + (size_t)(t * 29 + 3) * DIM;
                qv_qquery qq;
                assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
                float est[N], ex[N], dl[N];
                uint32_t ids[N];
                for (uint32_t i = 0; i < N; i++) ids[i] = i;
                qv_qquery_dist_many(&qq, ids, N, dl);
                for (uint32_t i = 0; i < N; i++) {
                    float e = qv_qquery_score(&qq, i);
                    float s = qv_score(fk, d, query, x + (size_t)i * DIM, DIM);
                    /* dist_many orders as the estimate does */
                    float want = d == QV_DIST_EUCLID ? e * e : -e;
                    if (d == QV_DIST_EUCLID && dl[i] < 0)
                        assert_true(e == 0); /* an estimate below zero, clamped */
                    else
                        assert_true(fabsf(dl[i] - want) <= 1e-3f * (1 + fabsf(want)));
                    abs_err += fabs((double)e - s);
                    bias += (double)e - s;
                    est[i] = higher ? e : -e;
                    ex[i] = higher ? s : -s;
                }
                float tmp[N];
                memcpy(tmp, est, sizeof tmp);
                for (int a = 0; a < 60; a++)
                    for (int b = a + 1; b < N; b++)
                        if (tmp[b] > tmp[a]) {
                            float s = tmp[a];
                            tmp[a] = tmp[b];
                            tmp[b] = s;
                        }
                for (int r = 0; r < 10; r++) {
                    int best = -1;
                    for (int i = 0; i < N; i++)
                        if (ex[i] > -INFINITY && (best < 0 || ex[i] > ex[best])) best = i;
                    total++;
                    found += est[best] >= tmp[59];
                    ex[best] = -INFINITY;
                }
                qv_qquery_free(&qq);
            }
            abs_err /= 20.0 * N;
            bias /= 20.0 * N;
            printf("# turbo %-6s bits=%u: mean |error| %.4f, mean error %+.4f, top-10 in best 60: "
                   "%.3f\n",
                   qv_distance_name(d), bits, abs_err, bias, (double)found / (double)total);
            assert_true(abs_err < prev_err);
            prev_err = abs_err;
            if (bits >= 2) assert_true(found * 100 >= total * 90);
            if (bits == 3 && d == QV_DIST_COSINE) assert_true(abs_err < 0.02);
            qv_qcodes_free(q);
        }
        free(x);
    }
    qv_qcodes *q;
    qv_err err;
    float *x = make_rows(QV_DIST_MANHATTAN);
    assert_int_equal(qv_qcodes_build(QV_QCODES_TURBO, QV_DIST_MANHATTAN, x, N, DIM, 0, &q, &err),
                     QV_EBADINPUT);
    free(x);
}

/* ---- binary encodings x query encodings ------------------------------------------ */

/* Rows that are not zero-centred: per dimension an offset and a spread,
 * plus cluster structure (nc centres), seeded. */
static float *make_shifted(qv_distance d, size_t n, size_t dim, size_t nc) {
    float *x = malloc(sizeof(float) * n * dim), *cent = malloc(sizeof(float) * nc * dim);
    float *shift = malloc(sizeof(float) * dim), *spread = malloc(sizeof(float) * dim);
    for (size_t j = 0; j < dim; j++) {
        shift[j] = 0.6f + 0.4f * frand();
        spread[j] = 0.3f + 0.25f * (frand() + 1);
    }
    for (size_t i = 0; i < nc * dim; i++) cent[i] = frand();
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = shift[j] + spread[j] * (cent[(i % nc) * dim + j] + 0.45f * frand());
    if (d == QV_DIST_COSINE)
        for (size_t i = 0; i < n; i++) qv_normalize(x + i * dim, dim);
    free(cent), free(shift), free(spread);
    return x;
}

static bool get_bit(const uint8_t *code, size_t pos) {
    return (((const uint64_t *)code)[pos / 64] >> (pos % 64)) & 1;
}

/* The definition of the stored bits: (b1, b2) from the z-score against the
 * segment's statistics (thresholds +-2/3), the sign without spread. */
static void def_two(float x, float mean, float sd, int *b1, int *b2) {
    if (!(sd >= 1.1920929e-7f)) {
        *b1 = x > 0, *b2 = 0;
        return;
    }
    float z = (x - mean) / sd;
    *b1 = z > -2.0f / 3.0f;
    *b2 = z >= 2.0f / 3.0f;
}

/* The value a scalar query quantizes at dimension i: q_i for one bit, else
 * (q_i - mean_i) sd_i. */
static float def_qval(const qv_qcodes *q, const float *x, size_t i) {
    if (q->bq_enc == 0) return x[i];
    return (x[i] - q->bq_stats[i]) * q->bq_stats[q->dim + i];
}

/* Bit position -> value of the query at that position, and the expected
 * code bit of vector x there (-1: padding). */
static int def_bit(const qv_qcodes *q, const float *x, size_t pos, float *qv) {
    uint32_t dim = q->dim;
    size_t w1 = (dim + 63) / 64;
    const float *mean = q->bq_stats, *sd = q->bq_stats ? q->bq_stats + dim : NULL;
    int b1, b2;
    if (pos < w1 * 64) {
        if (pos >= dim) return -1;
        *qv = def_qval(q, x, pos);
        if (q->bq_enc == 0) return x[pos] > 0;
        def_two(x[pos], mean[pos], sd[pos], &b1, &b2);
        return b1;
    }
    size_t j = pos - w1 * 64;
    if (q->bq_enc == 1) {
        if (j >= dim) return -1;
        *qv = def_qval(q, x, j);
        def_two(x[j], mean[j], sd[j], &b1, &b2);
        return b2;
    }
    if (2 * j >= dim) return -1;
    def_two(x[2 * j], mean[2 * j], sd[2 * j], &b1, &b2);
    int r = b2;
    *qv = def_qval(q, x, 2 * j);
    if (2 * j + 1 < dim) {
        def_two(x[2 * j + 1], mean[2 * j + 1], sd[2 * j + 1], &b1, &b2);
        r |= b2;
        if (def_qval(q, x, 2 * j + 1) > *qv) *qv = def_qval(q, x, 2 * j + 1);
    }
    return r;
}

/* Every encoding x query encoding x distance: the statistics, the stored
 * bits and every score and graph distance equal a definition computed
 * here bit by bit. */
static void test_binary_encodings_definition(void **state) {
    (void)state;
    enum { BN = 300, BD = 37 }; /* a dimension that is not a multiple of 64 nor of 2 */
    for (size_t di = 0; di < 4; di++) {
        qv_distance d = DISTS[di];
        float *x = make_shifted(d, BN, BD, 7);
        for (uint8_t enc = 0; enc <= 2; enc++)
            for (uint8_t qe = 0; qe <= 3; qe++) {
                qv_qcodes_opts o = {.bq_encoding = enc, .bq_query = qe};
                qv_qcodes *q;
                qv_err err;
                assert_int_equal(qv_qcodes_build_opts(QV_QCODES_BINARY, d, x, BN, BD, &o, &q, &err),
                                 QV_OK);
                size_t words = (BD + 63) / 64 + (enc == 1 ? (BD + 63) / 64 : enc == 2 ? 1 : 0);
                assert_int_equal(q->code_bytes, words * 8);
                if (enc) { /* statistics */
                    for (uint32_t j = 0; j < BD; j++) {
                        double m = 0, m2 = 0;
                        for (uint32_t i = 0; i < BN; i++) m += x[i * BD + j];
                        m /= BN;
                        for (uint32_t i = 0; i < BN; i++)
                            m2 += (x[i * BD + j] - m) * (x[i * BD + j] - m);
                        assert_true(fabs(q->bq_stats[j] - m) < 1e-5);
                        assert_true(fabs(q->bq_stats[BD + j] - sqrt(m2 / BN)) < 1e-5);
                    }
                } else {
                    assert_null(q->bq_stats);
                }
                const float *query = x + 11 * BD;
                qv_qquery qq;
                assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
                uint32_t bits = qe == 2 ? 4 : qe == 3 ? 8 : 1, L = (1u << bits) - 1;
                float m = 0;
                for (uint32_t j = 0; j < BD; j++) m = fmaxf(m, fabsf(def_qval(q, query, j)));
                uint32_t ids[BN];
                float dl[BN];
                for (uint32_t i = 0; i < BN; i++) ids[i] = BN - 1 - i;
                qv_qquery_dist_many(&qq, ids, BN, dl);
                for (uint32_t i = 0; i < BN; i++) {
                    const uint8_t *c = q->codes + (size_t)i * q->code_bytes;
                    uint32_t sum = 0;
                    for (size_t pos = 0; pos < words * 64; pos++) {
                        float qv = 0, xv;
                        int want = def_bit(q, x + (size_t)i * BD, pos, &xv);
                        int qb = def_bit(q, query, pos, &qv);
                        assert_int_equal(get_bit(c, pos), want < 0 ? 0 : want);
                        if (want < 0) continue;
                        if (bits == 1) {
                            sum += (uint32_t)(want != qb);
                        } else {
                            float t = m > 0 ? (qv + m) / (2 * m / (float)L) : 0;
                            uint32_t lv = t <= 0 ? 0 : t >= (float)L ? L : (uint32_t)lroundf(t);
                            sum += want ? L - lv : lv;
                        }
                    }
                    float xd = bits == 1 ? (float)sum : (float)sum / (float)L;
                    float want =
                        qv_distance_higher_is_better(d) ? ((float)BD - 2.0f * xd) / BD : xd;
                    assert_true(qv_qquery_score(&qq, i) == want);
                    assert_true(dl[BN - 1 - i] == xd);
                }
                qv_qquery_free(&qq);
                qv_qcodes_free(q);
            }
        free(x);
    }
}

/* recall@10 after rescoring the best os x 10 estimates with the floats,
 * over nq queries taken from the rows. */
static double recall_after_rescoring(const qv_qcodes *q, const float *x, size_t n, size_t dim,
                                     qv_distance d, size_t nq, size_t os) {
    const qv_kernels *fk = qv_kernels_best();
    bool higher = qv_distance_higher_is_better(d);
    float *est = malloc(sizeof(float) * n), *ex = malloc(sizeof(float) * n);
    size_t hits = 0, kk = 10 * os;
    for (size_t t = 0; t < nq; t++) {
        const float *query = x + ((t * 7919 + 13) % n) * dim;
        qv_qquery qq;
        qv_err err;
        assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
        for (uint32_t i = 0; i < n; i++) {
            float e = qv_qquery_score(&qq, i), s = qv_score(fk, d, query, x + (size_t)i * dim, dim);
            est[i] = higher ? e : -e;
            ex[i] = higher ? s : -s;
        }
        qv_qquery_free(&qq);
        /* the kk best estimates (ties broken by id), then the exact top 10 */
        float bar;
        {
            float *tmp = malloc(sizeof(float) * n);
            memcpy(tmp, est, sizeof(float) * n);
            for (size_t a = 0; a < kk; a++)
                for (size_t b = a + 1; b < n; b++)
                    if (tmp[b] > tmp[a]) {
                        float v = tmp[a];
                        tmp[a] = tmp[b], tmp[b] = v;
                    }
            bar = tmp[kk - 1];
            free(tmp);
        }
        size_t above = 0;
        for (size_t i = 0; i < n; i++) above += est[i] > bar;
        size_t room = kk - above; /* ties at the bar: the first ids */
        bool *cand = calloc(n, 1);
        for (size_t i = 0; i < n; i++)
            if (est[i] > bar || (est[i] == bar && room && room--)) cand[i] = true;
        for (int r = 0; r < 10; r++) {
            size_t best = 0;
            for (size_t i = 1; i < n; i++)
                if (ex[i] > ex[best]) best = i;
            hits += cand[best];
            ex[best] = -INFINITY;
        }
        free(cand);
    }
    free(est), free(ex);
    return (double)hits / (double)(nq * 10);
}

/* Ranking quality on clustered data that is not zero-centred: two bits
 * (and one and a half) do at least as well as one bit after rescoring, and
 * a scalar query at least as well as a binary one. */
static void test_binary_encodings_recall(void **state) {
    (void)state;
    enum { RN = 3000, RD = 64 };
    static const char *const enc_name[] = {"one_bit", "two_bits", "one_and_half_bits"};
    static const char *const q_name[] = {"default", "binary", "scalar4bits", "scalar8bits"};
    static const qv_distance dists[] = {QV_DIST_COSINE, QV_DIST_DOT, QV_DIST_EUCLID};
    for (size_t di = 0; di < 3; di++) {
        qv_distance d = dists[di];
        rng = 99;
        float *x = make_shifted(d, RN, RD, 40);
        double r[3][4];
        for (uint8_t enc = 0; enc <= 2; enc++)
            for (uint8_t qe = 0; qe <= 3; qe++) {
                qv_qcodes_opts o = {.bq_encoding = enc, .bq_query = qe};
                qv_qcodes *q;
                qv_err err;
                assert_int_equal(qv_qcodes_build_opts(QV_QCODES_BINARY, d, x, RN, RD, &o, &q, &err),
                                 QV_OK);
                r[enc][qe] = recall_after_rescoring(q, x, RN, RD, d, 40, 4);
                printf("# binary %-6s %-17s query %-11s recall@10 (4x oversampling) %.3f\n",
                       qv_distance_name(d), enc_name[enc], q_name[qe], r[enc][qe]);
                qv_qcodes_free(q);
            }
        for (int qe = 0; qe < 4; qe++) assert_true(r[1][qe] >= r[0][qe]);
        assert_true(r[1][0] == r[1][1]); /* default = binary */
        for (int enc = 1; enc <= 2; enc++) assert_true(r[enc][3] >= r[0][1]);
        free(x);
    }
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* ---- scalar codes with per-dimension ranges ------------------------------------- */

/* Clustered rows whose dimensions have very different spreads (e^-2 .. e^2),
 * the case one global range serves badly. */
static float *make_uneven(qv_distance d, size_t n, size_t dim) {
    float *x = malloc(sizeof(float) * n * dim), *sp = malloc(sizeof(float) * dim);
    float *cent = malloc(sizeof(float) * 30 * dim);
    for (size_t j = 0; j < dim; j++) sp[j] = expf(2.0f * frand());
    for (size_t i = 0; i < 30 * dim; i++) cent[i] = frand();
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = 0.2f + sp[j] * (cent[(i % 30) * dim + j] + 0.5f * frand());
    if (d == QV_DIST_COSINE)
        for (size_t i = 0; i < n; i++) qv_normalize(x + i * dim, dim);
    free(sp), free(cent);
    return x;
}

/* Per-dimension codes: ranges, codes and every estimate equal their
 * definition (computed here in double), and the estimates stay within the
 * error bound of half a step per dimension (codes) plus half a step of the
 * query's own code. */
static void test_sq_per_dim_definition(void **state) {
    (void)state;
    for (size_t di = 0; di < 4; di++) {
        qv_distance d = DISTS[di];
        float *x = make_uneven(d, N, DIM);
        for (int qi = 0; qi < 2; qi++) {
            float quantile = qi ? 0.95f : 1.0f;
            qv_qcodes_opts o = {.param = quantile, .sq_ranges = QV_QCODES_SQ_PER_DIM};
            qv_qcodes *q;
            qv_err err;
            assert_int_equal(qv_qcodes_build_opts(QV_QCODES_SCALAR, d, x, N, DIM, &o, &q, &err),
                             QV_OK);
            assert_int_equal(q->sq_ranges, QV_QCODES_SQ_PER_DIM);
            const float *off = q->sq_dimp, *sc = q->sq_dimp + DIM;
            for (uint32_t j = 0; j < DIM; j++) { /* quantile 1: the exact min and max */
                float lo = INFINITY, hi = -INFINITY;
                for (uint32_t i = 0; i < N; i++) {
                    lo = fminf(lo, x[i * DIM + j]);
                    hi = fmaxf(hi, x[i * DIM + j]);
                }
                assert_true(sc[j] > 0);
                if (qi == 0) {
                    assert_true(off[j] == lo);
                    assert_true(fabsf(off[j] + 255 * sc[j] - hi) <= 1e-4f * (1 + fabsf(hi)));
                } else {
                    assert_true(off[j] >= lo && off[j] + 255 * sc[j] <= hi * (1 + 1e-5f) + 1e-6f);
                }
            }
            for (uint32_t t = 0; t < 3; t++) {
                const float *query = x + (t * 101 + 7) * DIM;
                qv_qquery qq;
                assert_int_equal(qv_qquery_init(&qq, q, query, &err), QV_OK);
                /* the query's own code */
                double lo = INFINITY, hi = -INFINITY, qn = 0;
                for (uint32_t j = 0; j < DIM; j++) {
                    float w = sc[j] * query[j];
                    lo = fmin(lo, w), hi = fmax(hi, w);
                    qn += (double)query[j] * query[j];
                }
                float qa = (float)(hi - lo) / 255.0f;
                uint32_t ids[N];
                float dl[N];
                for (uint32_t i = 0; i < N; i++) ids[i] = i;
                qv_qquery_dist_many(&qq, ids, N, dl);
                for (uint32_t i = 0; i < N; i++) {
                    const float *v = x + (size_t)i * DIM;
                    const uint8_t *c = q->codes + (size_t)i * DIM;
                    double dot = 0, xx = 0, hh = 0, ex_dot = 0, ex_l2 = 0, ex_l1 = 0, dec_l2 = 0,
                           l1 = 0, bound = 0, csum = 0, cbound = 0, half2 = 0;
                    for (uint32_t j = 0; j < DIM; j++) {
                        float u = (v[j] - off[j]) / sc[j];
                        uint8_t want = u <= 0 ? 0 : u >= 254.5f ? 255 : (uint8_t)(u + 0.5f);
                        assert_int_equal(c[j], want);
                        float wq = (sc[j] * query[j] - (float)lo) / qa;
                        uint8_t k = wq <= 0 ? 0 : wq >= 254.5f ? 255 : (uint8_t)(wq + 0.5f);
                        double dec = (double)off[j] + (double)sc[j] * c[j];
                        dot += (double)off[j] * query[j] + (double)c[j] * (lo + (double)qa * k);
                        xx += (double)v[j] * v[j];
                        hh += dec * dec;
                        ex_dot += (double)v[j] * query[j];
                        ex_l2 += ((double)v[j] - query[j]) * ((double)v[j] - query[j]);
                        ex_l1 += fabs((double)v[j] - query[j]);
                        dec_l2 += (dec - query[j]) * (dec - query[j]);
                        l1 += fabs(dec - query[j]);
                        bound += fabs(query[j]) * sc[j] / 2 + sc[j] / 4 * fabs(v[j] + dec);
                        csum += c[j];
                        half2 += (double)sc[j] * sc[j] / 4;
                    }
                    cbound = (double)qa / 2 * csum;
                    float e = qv_qquery_score(&qq, i);
                    double want, dwant;
                    if (d == QV_DIST_EUCLID) {
                        double d2 = hh - 2 * dot + qn;
                        want = d2 >= 0 ? sqrt(d2) : -sqrt(-d2), dwant = d2;
                        if (qi == 0) {
                            assert_true(fabs(d2 - dec_l2) <= 2 * cbound + 1e-3);
                            assert_true(fabs(sqrt(dec_l2) - sqrt(ex_l2)) <= sqrt(half2) + 1e-4);
                        }
                    } else if (d == QV_DIST_MANHATTAN) {
                        want = dwant = l1;
                        if (qi == 0) assert_true(fabs(l1 - ex_l1) <= 2 * sqrt(half2) * sqrt(DIM));
                    } else {
                        want = dot + (xx - hh) / 2, dwant = -want;
                        if (qi == 0) assert_true(fabs(want - ex_dot) <= bound + cbound + 1e-4);
                    }
                    assert_true(fabs(e - want) <= 1e-4 * (1 + fabs(want)));
                    assert_true(fabs(dl[i] - dwant) <= 1e-4 * (1 + fabs(dwant)));
                }
                qv_qquery_free(&qq);
            }
            qv_qcodes_free(q);
        }
        free(x);
    }
}

/* On dimensions of uneven spread, per-dimension ranges rank better than
 * one global range after rescoring (quantile 0.99, 2x oversampling). */
static void test_sq_per_dim_recall(void **state) {
    (void)state;
    enum { RN = 4000, RD = 64 };
    for (size_t di = 0; di < 4; di++) {
        qv_distance d = DISTS[di];
        rng = 5;
        float *x = make_uneven(d, RN, RD);
        double r[2];
        for (int pd = 0; pd < 2; pd++) {
            qv_qcodes_opts o = {.param = 0.99f, .sq_ranges = (uint8_t)pd};
            qv_qcodes *q;
            qv_err err;
            assert_int_equal(qv_qcodes_build_opts(QV_QCODES_SCALAR, d, x, RN, RD, &o, &q, &err),
                             QV_OK);
            r[pd] = recall_after_rescoring(q, x, RN, RD, d, 40, 2);
            qv_qcodes_free(q);
        }
        printf("# scalar %-9s recall@10 (2x oversampling): global %.3f, per dimension %.3f\n",
               qv_distance_name(d), r[0], r[1]);
        assert_true(r[1] >= r[0]);
        assert_true(r[1] >= 0.95);
        free(x);
    }
}

/* The whole file. */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* Writes b (len bytes) with a fresh CRC in its last 4 bytes. */
static void spit_with_crc(const char *path, uint8_t *b, size_t len) {
    qv_store_u32le(b + len - 4, qv_crc32c(0, b, len - 4));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Patches 4 bytes at `at` (a u32 or a float) and fixes the CRC: damage the
 * checksum cannot catch. */
static void patch_u32(const char *path, size_t at, uint32_t v) {
    size_t len;
    uint8_t *b = slurp(path, &len);
    qv_store_u32le(b + at, v);
    spit_with_crc(path, b, len);
    free(b);
}

/* Rewrites a version 2 file as version 1 (48-byte header) as older releases
 * wrote it. */
static void make_v1(const char *path) {
    size_t len;
    uint8_t *b = slurp(path, &len);
    for (size_t i = 48; i < 64; i++) assert_int_equal(b[i], 0);
    qv_store_u32le(b + 8, 1);
    memmove(b + 48, b + 64, len - 64);
    spit_with_crc(path, b, len - 16);
    free(b);
}

/* Every load below goes through placement `place` (heap, or a read-only
 * mapping, cold or cached): each validates the same things. */
static void file_roundtrip_and_damage(qv_qcodes_place place) {
    char path[] = "/tmp/qv-qcodes-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    static const struct {
        qv_qcodes_kind kind;
        qv_qcodes_opts o;
        bool v1; /* representable in version 1 */
    } cases[] = {
        {QV_QCODES_SCALAR, {.param = 0.95f}, true},
        {QV_QCODES_SCALAR, {.param = 0.95f, .sq_ranges = QV_QCODES_SQ_PER_DIM}, false},
        {QV_QCODES_BINARY, {.param = 0}, true},
        {QV_QCODES_BINARY, {.bq_encoding = 1}, false},
        {QV_QCODES_BINARY, {.bq_encoding = 2, .bq_query = 3}, false},
        {QV_QCODES_BINARY, {.bq_query = 2}, false},
        {QV_QCODES_PRODUCT, {.param = 4}, true},
        {QV_QCODES_TURBO, {.param = 1}, true},
    };
    static const qv_distance dists[] = {QV_DIST_DOT, QV_DIST_EUCLID};
    for (size_t di = 0; di < 2; di++) {
        qv_distance d = dists[di], other = d == QV_DIST_DOT ? QV_DIST_EUCLID : QV_DIST_DOT;
        float *x = make_rows(d);
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            qv_qcodes *q, *l;
            qv_err err;
            assert_int_equal(
                qv_qcodes_build_opts(cases[ci].kind, d, x, N, DIM, &cases[ci].o, &q, &err), QV_OK);
            assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
            assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err), QV_OK);
            size_t len;
            uint8_t *b = slurp(path, &len);
            assert_int_equal(qv_load_u32le(b + 8), 2); /* new files are version 2 */
            free(b);
            for (int v = 0; v < 2; v++) { /* v2 as saved, then v1 when it can be */
                assert_true((l->map != NULL) == (place != QV_QCODES_HEAP));
                if (l->map) assert_ptr_equal(l->codes, (uint8_t *)l->map + (v ? 48 : 64));
                assert_int_equal(l->kind, q->kind);
                assert_int_equal(l->code_bytes, q->code_bytes);
                assert_memory_equal(l->codes, q->codes, (size_t)N * q->code_bytes);
                if (q->corr) assert_memory_equal(l->corr, q->corr, sizeof(float) * N);
                if (q->corr2) assert_memory_equal(l->corr2, q->corr2, sizeof(float) * N);
                if (q->sq_dimp)
                    assert_memory_equal(l->sq_dimp, q->sq_dimp, sizeof(float) * 2 * DIM);
                if (q->bq_stats)
                    assert_memory_equal(l->bq_stats, q->bq_stats, sizeof(float) * 2 * DIM);
                if (q->books)
                    assert_memory_equal(l->books, q->books,
                                        sizeof(float) * q->code_bytes * 256 * q->sub);
                if (q->norms) assert_memory_equal(l->norms, q->norms, sizeof(float) * N);
                assert_int_equal(l->tbits, q->tbits);
                assert_int_equal(l->bq_enc, q->bq_enc);
                assert_int_equal(l->bq_query, q->bq_query);
                assert_int_equal(l->sq_ranges, q->sq_ranges);
                assert_true(l->sq.sq_alpha == q->sq.sq_alpha && l->sq.sq_offset == q->sq.sq_offset);
                assert_true(l->quantile == q->quantile);
                /* the loaded codes score as the built ones */
                qv_qquery qa, qb;
                assert_int_equal(qv_qquery_init(&qa, q, x + 3 * DIM, &err), QV_OK);
                assert_int_equal(qv_qquery_init(&qb, l, x + 3 * DIM, &err), QV_OK);
                for (uint32_t i = 0; i < N; i += 13)
                    assert_true(qv_qquery_score(&qa, i) == qv_qquery_score(&qb, i));
                qv_qquery_free(&qa);
                qv_qquery_free(&qb);
                qv_qcodes_free(l);
                if (v == 1 || !cases[ci].v1) break;
                make_v1(path); /* what an older release wrote still loads */
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err), QV_OK);
            }
            /* a segment of another size, dim or distance */
            assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
            assert_int_equal(qv_qcodes_load_placed(path, N - 1, DIM, d, place, &l, &err),
                             QV_ECORRUPT);
            assert_int_equal(qv_qcodes_load_placed(path, N, DIM + 1, d, place, &l, &err),
                             QV_ECORRUPT);
            assert_int_equal(qv_qcodes_load_placed(path, N, DIM, other, place, &l, &err),
                             QV_ECORRUPT);
            /* damage anywhere: header, codes, side data, trailer */
            size_t flen;
            free(slurp(path, &flen));
            long spots[] = {0, 9, 13, 50, 53, 57, 61, 64 + (long)N, (long)flen - 20, -1};
            for (size_t sp = 0; sp < sizeof spots / sizeof *spots; sp++) {
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                flip_byte(path, spots[sp]);
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            /* fields out of range behind a valid checksum */
            struct {
                size_t at;
                uint32_t v;
            } bad[] = {{8, 3}, {8, 0}, {12, 5}, {48, 3}, {52, 4}, {56, 2}, {60, 1}};
            for (size_t bi = 0; bi < sizeof bad / sizeof *bad; bi++) {
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, bad[bi].at, bad[bi].v);
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            /* the other kinds' option fields set */
            if (q->kind != QV_QCODES_BINARY) {
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, 48, 1);
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            if (q->kind != QV_QCODES_SCALAR) {
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, 56, 1);
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            /* a side value out of range: a scale, a deviation, alpha */
            size_t side = 64 + (size_t)N * q->code_bytes;
            float nanf_ = NAN, neg = -1.0f;
            uint32_t un, ng;
            memcpy(&un, &nanf_, 4);
            memcpy(&ng, &neg, 4);
            if (q->sq_dimp) {
                size_t at = side + 4 * N * (q->corr2 ? 2 : 1) + 4 * DIM; /* first scale */
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, at, ng);
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, at - 4, un); /* last offset */
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            if (q->bq_stats) {
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, side + 4 * DIM, ng); /* first deviation */
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, side, un); /* first mean */
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            if (q->kind == QV_QCODES_SCALAR) {
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, 36, q->sq_dimp ? 0x3f800000u : ng); /* alpha */
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
                assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
                patch_u32(path, 40, un); /* quantile */
                assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err),
                                 QV_ECORRUPT);
            }
            /* truncated, and one byte too many */
            assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
            assert_int_equal(truncate(path, 100), 0);
            assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err), QV_ECORRUPT);
            assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
            assert_int_equal(truncate(path, (off_t)flen + 1), 0);
            assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err), QV_ECORRUPT);
            assert_int_equal(truncate(path, 30), 0);
            assert_int_equal(qv_qcodes_load_placed(path, N, DIM, d, place, &l, &err), QV_ECORRUPT);
            qv_qcodes_free(q);
        }
        free(x);
    }
    unlink(path);
}

static void test_file_roundtrip_and_damage(void **state) {
    (void)state;
    file_roundtrip_and_damage(QV_QCODES_HEAP);
}

static void test_file_roundtrip_and_damage_mapped_cold(void **state) {
    (void)state;
    file_roundtrip_and_damage(QV_QCODES_MAP_COLD);
}

static void test_file_roundtrip_and_damage_mapped_cached(void **state) {
    (void)state;
    file_roundtrip_and_damage(QV_QCODES_MAP_CACHED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_definition),
        cmocka_unit_test(test_rescoring_recovers_exact),
        cmocka_unit_test(test_product_codes),
        cmocka_unit_test(test_turbo_codes),
        cmocka_unit_test(test_file_roundtrip_and_damage),
        cmocka_unit_test(test_file_roundtrip_and_damage_mapped_cold),
        cmocka_unit_test(test_file_roundtrip_and_damage_mapped_cached),
        cmocka_unit_test(test_binary_encodings_definition),
        cmocka_unit_test(test_binary_encodings_recall),
        cmocka_unit_test(test_sq_per_dim_definition),
        cmocka_unit_test(test_sq_per_dim_recall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
