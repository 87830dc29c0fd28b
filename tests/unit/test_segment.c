/*
 * test_segment.c - a segment's rows in each element type (float32, float16,
 * uint8; src/storage/segment.c): what goes in comes back (float16 rounded
 * once), absent vectors stay absent, copies through qv_segment_vectors_f32,
 * and the checkpoint files keep the element type - loaded into memory or
 * mapped - with a damaged element type field rejected.
 */
#include "harness.h"

#include "core/crc32c.h"
#include "core/elem.h"
#include "storage/segment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPTS 50
#define D0   17
#define D1   8

static const uint32_t dims[2] = {D0, D1};

/* Point i's vectors: v0 any floats, v1 small integers (valid as uint8);
 * every third point lacks v1. */
static void point_vecs(uint32_t i, float *v0, float *v1) {
    for (uint32_t k = 0; k < D0; k++) v0[k] = sinf((float)(i * D0 + k)) * 3.0f;
    for (uint32_t k = 0; k < D1; k++) v1[k] = (float)((i * 7 + k * 13) % 256);
}

static qv_segment *filled(qv_elem e0, qv_elem e1) {
    const qv_elem elems[2] = {e0, e1};
    qv_segment *s = qv_segment_new(2, dims, elems);
    assert_non_null(s);
    for (uint32_t i = 0; i < NPTS; i++) {
        float v0[D0], v1[D1];
        point_vecs(i, v0, v1);
        const float *vecs[2] = {v0, i % 3 ? v1 : NULL};
        qv_pointid id = qv_pointid_num(1000 + i);
        assert_int_equal(qv_segment_put(s, i + 1, &id, vecs, NULL), QV_OK);
    }
    return s;
}

/* Every point reads back as written (v0 through the element type's
 * rounding), absent v1 as NULL. */
static void check(const qv_segment *s, qv_elem e0, qv_elem e1) {
    assert_int_equal(qv_segment_elem(s, 0), e0);
    assert_int_equal(qv_segment_elem(s, 1), e1);
    assert_int_equal(qv_segment_live_count(s), NPTS);
    for (uint32_t i = 0; i < NPTS; i++) {
        qv_pointid id = qv_pointid_num(1000 + i);
        uint32_t off;
        assert_true(qv_segment_find(s, &id, &off));
        float v0[D0], v1[D1], buf0[D0], buf1[D1];
        point_vecs(i, v0, v1);
        const float *g0 = qv_segment_vector(s, 0, off, buf0);
        assert_non_null(g0);
        assert_true(e0 != QV_ELEM_F32 ? g0 == buf0 : g0 != buf0);
        for (uint32_t k = 0; k < D0; k++) {
            float want = e0 == QV_ELEM_F16 ? qv_f16_to_f32(qv_f32_to_f16(v0[k])) : v0[k];
            assert_true(g0[k] == want);
        }
        const float *g1 = qv_segment_vector(s, 1, off, buf1);
        assert_int_equal(g1 != NULL, i % 3 != 0);
        assert_int_equal(qv_segment_has_vector(s, 1, off), i % 3 != 0);
        assert_int_equal(qv_segment_row(s, 1, off) != NULL, i % 3 != 0);
        if (g1) assert_memory_equal(g1, v1, sizeof v1);
        const float *all[2];
        float *blk;
        assert_true(qv_segment_vectors_f32(s, off, all, &blk));
        assert_memory_equal(all[0], g0, sizeof(float) * D0);
        assert_int_equal(all[1] != NULL, i % 3 != 0);
        if (all[1]) assert_memory_equal(all[1], v1, sizeof v1);
        free(blk);
    }
}

static void tmpdir(char *out, size_t n) {
    snprintf(out, n, "/tmp/qv-test-segment-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rmdir_all(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_rows_each_type(void **state) {
    (void)state;
    static const qv_elem combos[][2] = {{QV_ELEM_F32, QV_ELEM_F32},
                                        {QV_ELEM_F16, QV_ELEM_U8},
                                        {QV_ELEM_F16, QV_ELEM_F16},
                                        {QV_ELEM_F32, QV_ELEM_U8}};
    for (size_t c = 0; c < 4; c++) {
        qv_segment *s = filled(combos[c][0], combos[c][1]);
        check(s, combos[c][0], combos[c][1]);
        /* set_vectors and removal keep working in the element type */
        float v0[D0], v1[D1];
        point_vecs(3, v0, v1);
        qv_pointid id = qv_pointid_num(1000);
        uint32_t off;
        assert_true(qv_segment_find(s, &id, &off));
        const float *vecs[2] = {NULL, v1};
        assert_int_equal(qv_segment_set_vectors(s, 99, off, vecs, NULL), QV_OK);
        float buf[D1];
        assert_memory_equal(qv_segment_vector(s, 1, off, buf), v1, sizeof v1);
        bool rm[2] = {false, true};
        assert_int_equal(qv_segment_set_vectors(s, 100, off, NULL, rm), QV_OK);
        assert_null(qv_segment_vector(s, 1, off, buf));
        assert_non_null(qv_segment_vector(s, 0, off, (float[D0]){0}));
        qv_segment_free(s);
    }
}

static void test_files_keep_type(void **state) {
    (void)state;
    char dir[64];
    tmpdir(dir, sizeof dir);
    qv_err err;
    qv_segment *s = filled(QV_ELEM_F16, QV_ELEM_U8);
    assert_int_equal(qv_segment_save(s, dir, 7, &err), QV_OK);
    qv_segment_free(s);
    /* the file's element type wins over what the loader was asked for */
    uint64_t op;
    assert_int_equal(qv_segment_load(dir, 2, dims, &s, &op, &err), QV_OK);
    assert_int_equal(op, 7);
    check(s, QV_ELEM_F16, QV_ELEM_U8);
    /* mapped, resident and on disk */
    for (int mode = 0; mode < 2; mode++) {
        assert_int_equal(qv_segment_map_vectors(s, dir, 0, true, mode == 0, &err), QV_OK);
        assert_int_equal(qv_segment_map_vectors(s, dir, 1, true, mode == 0, &err), QV_OK);
        assert_true(qv_segment_vectors_mapped(s, 0));
        check(s, QV_ELEM_F16, QV_ELEM_U8);
    }
    qv_segment_free(s);
    const int8_t mapped[2] = {1, -1};
    assert_int_equal(qv_segment_load_ex(dir, 2, dims, mapped, &s, &op, &err), QV_OK);
    check(s, QV_ELEM_F16, QV_ELEM_U8);
    qv_segment_free(s);

    /* a float32 file loads as float32 whatever the segment would be now */
    char dir2[64];
    tmpdir(dir2, sizeof dir2);
    s = filled(QV_ELEM_F32, QV_ELEM_F32);
    assert_int_equal(qv_segment_save(s, dir2, 3, &err), QV_OK);
    qv_segment_free(s);
    assert_int_equal(qv_segment_load(dir2, 2, dims, &s, &op, &err), QV_OK);
    check(s, QV_ELEM_F32, QV_ELEM_F32);
    qv_segment_free(s);

    /* an unknown element type (or one that does not fit the size) is refused,
     * both in memory and mapped, even with a valid checksum: patch the
     * field and the CRC */
    char path[128];
    snprintf(path, sizeof path, "%s/vectors-1.dat", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    uint8_t *data = malloc((size_t)len);
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
    static const uint32_t bad[] = {3, 0, 1}; /* unknown; float32 and float16 have other sizes */
    for (size_t b = 0; b < 3; b++) {
        data[12] = (uint8_t)bad[b];
        uint32_t crc = qv_crc32c(0, data, (size_t)len - 4);
        for (int i = 0; i < 4; i++) data[len - 4 + i] = (uint8_t)(crc >> (8 * i));
        fseek(f, 0, SEEK_SET);
        assert_int_equal(fwrite(data, 1, (size_t)len, f), (size_t)len);
        fflush(f);
        qv_err e2;
        assert_int_equal(qv_segment_load(dir, 2, dims, &s, &op, &e2), QV_ECORRUPT);
        assert_int_equal(qv_segment_load_ex(dir, 2, dims, (const int8_t[]){-1, 0}, &s, &op, &e2),
                         QV_ECORRUPT);
    }
    fclose(f);
    free(data);
    rmdir_all(dir);
    rmdir_all(dir2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_each_type),
        cmocka_unit_test(test_files_keep_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
