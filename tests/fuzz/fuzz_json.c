/*
 * fuzz_json.c - libFuzzer target for the JSON parser and writer.
 *
 * Any input: jv_parse must either fail with QV_EFORMAT and a message or
 * succeed.  On success the tree must survive, unchanged in value:
 * write -> reparse (jv_equal), copy (jv_equal), resolve -> write -> reparse,
 * and the jvbin encode -> decode round trip of the resolved tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/jvbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what) {
    fprintf(stderr, "fuzz_json: %s\n", what);
    abort();
}

/* Writes v, reparses the text and checks the value is unchanged. */
static void check_write_reparse(const jv *v) {
    jw w;
    jw_init(&w);
    jw_value(&w, v);
    if (w.oom) die("writer failed");
    size_t len;
    char *s = jw_take(&w, &len);
    qv_arena a;
    qv_arena_init(&a);
    qv_err e;
    jv back;
    if (jv_parse(&a, s, len, &back, &e) != QV_OK) die(e.msg);
    if (!jv_equal(v, &back)) die("write/reparse changed the value");
    qv_arena_free(&a);
    free(s);
}

static void check_jvbin(const jv *v) {
    size_t n = jvbin_size(v);
    uint8_t *buf = malloc(n);
    if (!buf) return;
    if (jvbin_write(v, buf) != n) die("jvbin size mismatch");
    qv_arena a;
    qv_arena_init(&a);
    qv_err e;
    jv back;
    size_t used;
    if (jvbin_read(&a, buf, n, &used, &back, &e) != QV_OK) die(e.msg);
    if (used != n || !jv_equal(v, &back)) die("jvbin round trip changed the value");
    qv_arena_free(&a);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qv_arena a, c;
    qv_arena_init(&a);
    qv_err e;
    jv v, copy;
    if (jv_parse(&a, (const char *)data, size, &v, &e) != QV_OK) {
        if (e.kind != QV_EFORMAT || !strstr(e.msg, " at line ")) die("bad error");
        qv_arena_free(&a);
        return 0;
    }
    check_write_reparse(&v);
    qv_arena_init(&c);
    if (!jv_copy(&c, &v, &copy) || !jv_equal(&v, &copy)) die("copy differs");
    jv_resolve_numbers(&copy);
    if (!jv_equal(&v, &copy)) die("resolve changed the value");
    check_write_reparse(&copy);
    check_jvbin(&copy);
    check_jvbin(&v);
    qv_arena_free(&c);
    qv_arena_free(&a);
    return 0;
}
