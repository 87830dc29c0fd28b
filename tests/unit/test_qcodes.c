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

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void test_file_roundtrip_and_damage(void **state) {
    (void)state;
    char path[] = "/tmp/qv-qcodes-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    float *x = make_rows(QV_DIST_DOT);
    for (int kind = QV_QCODES_SCALAR; kind <= QV_QCODES_TURBO; kind++) {
        qv_qcodes *q, *l;
        qv_err err;
        float param = kind == QV_QCODES_PRODUCT ? 4.0f : kind == QV_QCODES_TURBO ? 1.0f : 0.95f;
        assert_int_equal(qv_qcodes_build(kind, QV_DIST_DOT, x, N, DIM, param, &q, &err), QV_OK);
        assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
        assert_int_equal(qv_qcodes_load(path, N, DIM, QV_DIST_DOT, &l, &err), QV_OK);
        assert_int_equal(l->kind, q->kind);
        assert_memory_equal(l->codes, q->codes, (size_t)N * q->code_bytes);
        if (q->corr) assert_memory_equal(l->corr, q->corr, sizeof(float) * N);
        if (q->books)
            assert_memory_equal(l->books, q->books, sizeof(float) * q->code_bytes * 256 * q->sub);
        if (q->norms) assert_memory_equal(l->norms, q->norms, sizeof(float) * N);
        assert_int_equal(l->tbits, q->tbits);
        assert_true(l->sq.sq_alpha == q->sq.sq_alpha && l->sq.sq_offset == q->sq.sq_offset);
        assert_true(l->quantile == q->quantile);
        qv_qcodes_free(l);
        /* a segment of another size, dim or distance */
        assert_int_equal(qv_qcodes_load(path, N - 1, DIM, QV_DIST_DOT, &l, &err), QV_ECORRUPT);
        assert_int_equal(qv_qcodes_load(path, N, DIM + 1, QV_DIST_DOT, &l, &err), QV_ECORRUPT);
        assert_int_equal(qv_qcodes_load(path, N, DIM, QV_DIST_EUCLID, &l, &err), QV_ECORRUPT);
        /* damage anywhere: header, codes, trailer */
        long spots[] = {0, 9, 13, 50, 48 + (long)N, -1};
        for (size_t s = 0; s < sizeof spots / sizeof *spots; s++) {
            assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
            flip_byte(path, spots[s]);
            assert_int_equal(qv_qcodes_load(path, N, DIM, QV_DIST_DOT, &l, &err), QV_ECORRUPT);
        }
        /* truncated */
        assert_int_equal(qv_qcodes_save(q, path, &err), QV_OK);
        assert_int_equal(truncate(path, 100), 0);
        assert_int_equal(qv_qcodes_load(path, N, DIM, QV_DIST_DOT, &l, &err), QV_ECORRUPT);
        qv_qcodes_free(q);
    }
    free(x);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_definition),
        cmocka_unit_test(test_rescoring_recovers_exact),
        cmocka_unit_test(test_product_codes),
        cmocka_unit_test(test_turbo_codes),
        cmocka_unit_test(test_file_roundtrip_and_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
