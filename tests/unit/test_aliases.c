/*
 * test_aliases.c - the catalog's meta data: the alias table and its file
 * (aliases.qva: round trip, and refusal of a bad magic, version, checksum,
 * truncation, trailing bytes and malformed bodies), the catalog's alias
 * rules (resolution, all-or-nothing batches, Qdrant's errors, deletion of a
 * collection's aliases, reload), and the field index declarations (set
 * operations, indexes.qvi, the WAL codec of index operations).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collection/aliases.h"
#include "collection/catalog.h"
#include "collection/collection_impl.h"
#include "collection/field_index.h"
#include "core/buf.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "storage/ops.h"

static char root[256];

static void subdir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", root, name);
    qv_rmtree(out);
    assert_int_equal(mkdir(out, 0755), 0);
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* A well-formed envelope around body, with the given magic and version. */
static size_t envelope(uint8_t *out, const char *magic, uint32_t version, const char *body) {
    size_t len = strlen(body);
    memcpy(out, magic, 8);
    qv_store_u32le(out + 8, version);
    qv_store_u32le(out + 12, (uint32_t)len);
    qv_store_u32le(out + 16, qv_crc32c(0, body, len));
    memcpy(out + 20, body, len);
    return 20 + len;
}

/* ---- the table ---------------------------------------------------------------- */

static void test_table_ops(void **state) {
    qv_alias_table t = {0};
    assert_true(qv_alias_table_set(&t, "b", "c1"));
    assert_true(qv_alias_table_set(&t, "a", "c2"));
    assert_true(qv_alias_table_set(&t, "c", "c1"));
    assert_int_equal(t.n, 3);
    assert_string_equal(t.items[0].alias, "a"); /* sorted */
    assert_string_equal(qv_alias_table_get(&t, "b"), "c1");
    assert_true(qv_alias_table_set(&t, "b", "c3")); /* repoint */
    assert_int_equal(t.n, 3);
    assert_string_equal(qv_alias_table_get(&t, "b"), "c3");
    assert_null(qv_alias_table_get(&t, "zz"));
    qv_alias_table copy;
    assert_true(qv_alias_table_copy(&copy, &t));
    assert_int_equal(qv_alias_table_remove_collection(&t, "c1"), 1);
    assert_false(qv_alias_table_remove(&t, "c"));
    assert_true(qv_alias_table_remove(&t, "a"));
    assert_int_equal(t.n, 1);
    assert_int_equal(copy.n, 3); /* the copy is independent */
    qv_alias_table_free(&copy);
    qv_alias_table_free(&t);
}

static void test_file_round_trip(void **state) {
    char dir[300];
    subdir(dir, sizeof dir, "rt");
    qv_alias_table t = {0}, back;
    qv_err err;
    assert_int_equal(qv_alias_table_load(dir, &back, &err), QV_OK); /* no file: empty */
    assert_int_equal(back.n, 0);
    assert_true(qv_alias_table_set(&t, "prod", "coll_v2"));
    assert_true(qv_alias_table_set(&t, "we\"ird \\ \xc3\xa9", "c"));
    assert_int_equal(qv_alias_table_save(&t, dir, &err), QV_OK);
    assert_int_equal(qv_alias_table_load(dir, &back, &err), QV_OK);
    assert_int_equal(back.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(back.items[i].alias, t.items[i].alias);
        assert_string_equal(back.items[i].collection, t.items[i].collection);
    }
    qv_alias_table_free(&back);
    qv_alias_table_free(&t);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/" QV_ALIASES_FILE ".tmp", dir);
    struct stat st;
    assert_int_not_equal(stat(tmp, &st), 0); /* renamed into place */
}

/* Each damaged file is refused with QV_ECORRUPT and yields no table. */
static void expect_corrupt(const char *dir, const void *data, size_t len) {
    char path[400];
    snprintf(path, sizeof path, "%s/" QV_ALIASES_FILE, dir);
    write_file(path, data, len);
    qv_alias_table t;
    qv_err err;
    assert_int_equal(qv_alias_table_load(dir, &t, &err), QV_ECORRUPT);
    assert_int_equal(t.n, 0);
    assert_null(t.items);
}

static void test_file_rejects_damage(void **state) {
    char dir[300];
    subdir(dir, sizeof dir, "bad");
    uint8_t good[256], bad[256];
    size_t n = envelope(good, QV_ALIASES_MAGIC, 1, "{\"a\":\"c\"}");

    memcpy(bad, good, n);
    bad[0] ^= 1; /* magic */
    expect_corrupt(dir, bad, n);

    memcpy(bad, good, n);
    qv_store_u32le(bad + 8, 2); /* unknown version */
    expect_corrupt(dir, bad, n);

    memcpy(bad, good, n);
    bad[n - 2] ^= 0x40; /* a body byte: CRC mismatch */
    expect_corrupt(dir, bad, n);

    memcpy(bad, good, n);
    bad[16] ^= 1; /* the CRC itself */
    expect_corrupt(dir, bad, n);

    for (size_t cut = 0; cut < n; cut += 3) expect_corrupt(dir, good, cut); /* truncation */

    memcpy(bad, good, n);
    bad[n] = ' '; /* trailing byte */
    expect_corrupt(dir, bad, n + 1);

    /* well-framed but malformed bodies */
    const char *bodies[] = {"[]",
                            "{\"a\":1}",
                            "{\"\":\"c\"}",
                            "{\"a\":\"\"}",
                            "{\"a\":\"c\",\"a\":\"d\"}",
                            "{\"a\":\"x\\u0000y\"}",
                            "not json"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        size_t m = envelope(bad, QV_ALIASES_MAGIC, 1, bodies[i]);
        expect_corrupt(dir, bad, m);
    }

    /* and the good one still loads */
    char path[400];
    snprintf(path, sizeof path, "%s/" QV_ALIASES_FILE, dir);
    write_file(path, good, n);
    qv_alias_table t;
    qv_err err;
    assert_int_equal(qv_alias_table_load(dir, &t, &err), QV_OK);
    assert_int_equal(t.n, 1);
    qv_alias_table_free(&t);
}

/* ---- the catalog ------------------------------------------------------------------ */

static qv_catalog *open_cat(const char *dir) {
    qv_catalog_opts o = {dir, 5, 32};
    qv_catalog *cat = NULL;
    qv_err err;
    assert_int_equal(qv_catalog_open(&o, &cat, &err), QV_OK);
    return cat;
}

static void create(qv_catalog *cat, const char *name) {
    qv_collection_config cfg;
    qv_collection_config_defaults(&cfg);
    cfg.nvectors = 1;
    cfg.vectors = qv_arena_calloc(&cfg.arena, sizeof(qv_vector_params));
    cfg.vectors[0].name = qv_arena_strndup(&cfg.arena, "", 0);
    cfg.vectors[0].size = 2;
    cfg.vectors[0].distance = QV_DIST_DOT;
    qv_err err;
    assert_int_equal(qv_catalog_create(cat, name, &cfg, &err), QV_OK);
    qv_collection_config_free(&cfg);
}

static bool resolves_to(qv_catalog *cat, const char *name, const char *coll) {
    qv_collection *c = qv_catalog_acquire(cat, name);
    bool ok = c ? coll && strcmp(qv_collection_name(c), coll) == 0 : coll == NULL;
    qv_collection_release(c);
    return ok;
}

static void test_catalog_aliases(void **state) {
    char dir[300];
    subdir(dir, sizeof dir, "cat");
    qv_catalog *cat = open_cat(dir);
    create(cat, "c1");
    create(cat, "c2");
    qv_err err;
    qv_alias_action a1[] = {{QV_ALIAS_CREATE, "c1", "x", NULL}, {QV_ALIAS_CREATE, "c2", "y", NULL}};
    assert_int_equal(qv_catalog_update_aliases(cat, a1, 2, &err), QV_OK);
    assert_true(resolves_to(cat, "x", "c1"));
    assert_true(resolves_to(cat, "y", "c2"));

    /* errors, each leaving everything as it was */
    qv_alias_action missing[] = {{QV_ALIAS_DELETE, NULL, "x", NULL},
                                 {QV_ALIAS_CREATE, "nope", "z", NULL}};
    assert_int_equal(qv_catalog_update_aliases(cat, missing, 2, &err), QV_ENOTFOUND);
    assert_string_equal(err.msg, "Collection `nope` doesn't exist!");
    assert_true(resolves_to(cat, "x", "c1")); /* the delete before it did not happen */
    qv_alias_action clash[] = {{QV_ALIAS_CREATE, "c1", "c2", NULL}};
    assert_int_equal(qv_catalog_update_aliases(cat, clash, 1, &err), QV_EEXISTS);
    assert_string_equal(err.msg, "Collection `c2` already exists!");
    qv_alias_action onto[] = {{QV_ALIAS_RENAME, NULL, "x", "c2"}};
    assert_int_equal(qv_catalog_update_aliases(cat, onto, 1, &err), QV_EEXISTS);
    qv_alias_action chain[] = {{QV_ALIAS_CREATE, "x", "z", NULL}}; /* target must be a collection */
    assert_int_equal(qv_catalog_update_aliases(cat, chain, 1, &err), QV_ENOTFOUND);
    qv_alias_action ghost[] = {{QV_ALIAS_RENAME, NULL, "ghost", "g2"}};
    assert_int_equal(qv_catalog_update_aliases(cat, ghost, 1, &err), QV_ENOTFOUND);
    assert_string_equal(err.msg, "Alias ghost does not exists!");

    /* a collection cannot take an alias's name */
    qv_collection_config cfg;
    qv_collection_config_defaults(&cfg);
    assert_int_equal(qv_catalog_create(cat, "x", &cfg, &err), QV_EBADINPUT);
    qv_collection_config_free(&cfg);

    /* rename + delete-missing; then deleting c2 drops y */
    qv_alias_action ren[] = {{QV_ALIAS_RENAME, NULL, "x", "x2"},
                             {QV_ALIAS_DELETE, NULL, "none", NULL}};
    assert_int_equal(qv_catalog_update_aliases(cat, ren, 2, &err), QV_OK);
    assert_true(resolves_to(cat, "x", NULL));
    assert_true(resolves_to(cat, "x2", "c1"));
    bool existed;
    assert_int_equal(qv_catalog_delete(cat, "y", &existed, &err),
                     QV_OK); /* an alias: not deleted */
    assert_false(existed);
    assert_int_equal(qv_catalog_delete(cat, "c2", &existed, &err), QV_OK);
    assert_true(existed);
    size_t n;
    qv_alias_desc *list = qv_catalog_aliases(cat, NULL, &n);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].alias_name, "x2");
    assert_string_equal(list[0].collection_name, "c1");
    qv_catalog_aliases_free(list, n);
    qv_catalog_close(cat);

    /* all of it came from the file */
    cat = open_cat(dir);
    assert_true(resolves_to(cat, "x2", "c1"));
    assert_true(resolves_to(cat, "y", NULL));
    list = qv_catalog_aliases(cat, "c1", &n);
    assert_int_equal(n, 1);
    qv_catalog_aliases_free(list, n);
    qv_catalog_close(cat);
}

static void test_catalog_refuses_corrupt_aliases(void **state) {
    char dir[300], path[400];
    subdir(dir, sizeof dir, "catbad");
    qv_catalog *cat = open_cat(dir);
    qv_catalog_close(cat);
    snprintf(path, sizeof path, "%s/" QV_ALIASES_FILE, dir);
    write_file(path, "QVALIASE\x01", 9);
    qv_catalog_opts o = {dir, 5, 32};
    qv_err err;
    assert_int_equal(qv_catalog_open(&o, &cat, &err), QV_ECORRUPT);
}

/* ---- field index declarations ------------------------------------------------------- */

static void test_index_set_and_file(void **state) {
    char dir[300];
    subdir(dir, sizeof dir, "idx");
    qv_index_set s = {0}, back;
    qv_arena a;
    qv_arena_init(&a);
    jv params;
    const char *text = "{\"type\":\"keyword\",\"is_tenant\":true}";
    assert_int_equal(jv_parse(&a, text, strlen(text), &params, NULL), QV_OK);
    assert_int_equal(qv_index_set_put(&s, "b", QV_PT_KEYWORD, &params), QV_OK);
    assert_int_equal(qv_index_set_put(&s, "a.c", QV_PT_INTEGER, NULL), QV_OK);
    assert_int_equal(qv_index_set_put(&s, "b", QV_PT_TEXT, NULL), QV_OK); /* replaces */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.items[0].field, "a.c");
    assert_int_equal(s.items[1].type, QV_PT_TEXT);
    assert_null(s.items[1].params);
    assert_int_equal(qv_index_set_put(&s, "z", QV_PT_KEYWORD, &params), QV_OK);
    qv_err err;
    assert_int_equal(qv_index_set_save(&s, dir, &err), QV_OK);
    assert_int_equal(qv_index_set_load(dir, &back, &err), QV_OK);
    assert_int_equal(back.n, 3);
    assert_string_equal(back.items[2].params, text);
    assert_int_equal(back.items[0].type, QV_PT_INTEGER);
    qv_index_set_free(&back);
    assert_true(qv_index_set_remove(&s, "b"));
    assert_false(qv_index_set_remove(&s, "b"));
    assert_int_equal(s.n, 2);

    /* damage is refused */
    char path[400];
    uint8_t buf[512];
    snprintf(path, sizeof path, "%s/indexes.qvi", dir);
    size_t n = read_file(path, buf, sizeof buf);
    buf[n - 1] ^= 0x10;
    write_file(path, buf, n);
    assert_int_equal(qv_index_set_load(dir, &back, &err), QV_ECORRUPT);
    write_file(path, buf, n / 2);
    assert_int_equal(qv_index_set_load(dir, &back, &err), QV_ECORRUPT);
    n = envelope(buf, "QVINDEXS", 1, "{\"f\":{\"data_type\":\"nope\"}}");
    write_file(path, buf, n);
    assert_int_equal(qv_index_set_load(dir, &back, &err), QV_ECORRUPT);
    remove(path); /* no file: an older checkpoint, no indexes */
    assert_int_equal(qv_index_set_load(dir, &back, &err), QV_OK);
    assert_int_equal(back.n, 0);
    qv_index_set_free(&s);
    qv_arena_free(&a);
}

static void test_index_op_codec(void **state) {
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_CREATE_INDEX, .key = "a.b"};
    const char *names[] = {"keyword"};
    op.names = names;
    op.nnames = 1;
    const char *text = "{\"type\":\"keyword\",\"is_tenant\":true}";
    assert_int_equal(jv_parse(&a, text, strlen(text), &op.payload, NULL), QV_OK);
    jv_resolve_numbers(&op.payload);
    size_t len;
    uint8_t *rec = qv_op_encode(&op, &len);
    assert_non_null(rec);
    qv_update_op back;
    qv_err err;
    assert_int_equal(qv_op_decode(&a, rec, len, &back, &err), QV_OK);
    assert_int_equal(back.kind, QV_OP_CREATE_INDEX);
    assert_string_equal(back.key, "a.b");
    assert_int_equal(back.nnames, 1);
    assert_string_equal(back.names[0], "keyword");
    assert_true(jv_equal(&back.payload, &op.payload));
    free(rec);

    /* an index op without its field is corrupt */
    qv_update_op nokey = {.kind = QV_OP_DELETE_INDEX};
    nokey.payload.type = JV_NULL;
    rec = qv_op_encode(&nokey, &len);
    assert_int_equal(qv_op_decode(&a, rec, len, &back, &err), QV_ECORRUPT);
    free(rec);
    qv_arena_free(&a);
}

static void test_type_acceptance(void **state) {
    qv_arena a;
    qv_arena_init(&a);
    struct {
        uint32_t t;
        const char *json;
        bool ok;
    } cases[] = {
        {QV_PT_KEYWORD, "\"x\"", true},
        {QV_PT_KEYWORD, "1", false},
        {QV_PT_INTEGER, "3", true},
        {QV_PT_INTEGER, "3.5", false},
        {QV_PT_INTEGER, "18446744073709551615", false},
        {QV_PT_FLOAT, "3", true},
        {QV_PT_FLOAT, "\"3\"", false},
        {QV_PT_BOOL, "false", true},
        {QV_PT_BOOL, "0", false},
        {QV_PT_GEO, "{\"lat\":1,\"lon\":2}", true},
        {QV_PT_GEO, "{\"lat\":91,\"lon\":2}", false},
        {QV_PT_GEO, "{\"lat\":1}", false},
        {QV_PT_DATETIME, "\"2024-01-02T03:04:05Z\"", true},
        {QV_PT_DATETIME, "\"yesterday\"", false},
        {QV_PT_UUID, "\"5c56c793-69f3-4fbf-87e6-c4bf54c28c26\"", true},
        {QV_PT_UUID, "\"5c56c793\"", false},
        {QV_PT_TEXT, "\"t\"", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        jv v;
        assert_int_equal(jv_parse(&a, cases[i].json, strlen(cases[i].json), &v, NULL), QV_OK);
        jv_resolve_numbers(&v);
        assert_int_equal(qv_payload_type_accepts(cases[i].t, &v), cases[i].ok);
    }
    assert_int_equal(qv_payload_type_parse("datetime", 8), QV_PT_DATETIME);
    assert_int_equal(qv_payload_type_parse("date", 4), 0);
    assert_string_equal(qv_payload_type_name(QV_PT_UUID), "uuid");
    assert_null(qv_payload_type_name(0));
    qv_arena_free(&a);
}

int main(void) {
    qv_log_set_level(QV_LOG_LVL_ERROR);
    snprintf(root, sizeof root, "/tmp/qv-test-aliases-XXXXXX");
    if (!mkdtemp(root)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_ops),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_file_rejects_damage),
        cmocka_unit_test(test_catalog_aliases),
        cmocka_unit_test(test_catalog_refuses_corrupt_aliases),
        cmocka_unit_test(test_index_set_and_file),
        cmocka_unit_test(test_index_op_codec),
        cmocka_unit_test(test_type_acceptance),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    qv_rmtree(root);
    return rc;
}
