/*
 * fuzz_jvbin.c - libFuzzer target for the jvbin decoder.
 *
 * jvbin_read gets arbitrary bytes (as a torn or corrupted WAL record would
 * give it).  It must never read out of bounds; when it accepts a prefix,
 * re-encoding the decoded tree must reproduce exactly those bytes (the
 * format is canonical), and the tree must be writable as JSON that parses
 * back to an equal value (strings were validated as UTF-8).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/jvbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what) {
    fprintf(stderr, "fuzz_jvbin: %s\n", what);
    abort();
}

/* True when the tree holds a double that JSON cannot carry (NaN/inf). */
static int has_nonfinite(const jv *v) {
    if (v->type == JV_DBL) return !isfinite(v->v.d);
    if (v->type == JV_ARR)
        for (uint32_t k = 0; k < v->len; k++)
            if (has_nonfinite(&v->v.items[k])) return 1;
    if (v->type == JV_OBJ)
        for (uint32_t k = 0; k < v->len; k++)
            if (has_nonfinite(&v->v.members[k].val)) return 1;
    return 0;
}

static void check_json(const jv *v) {
    if (has_nonfinite(v)) return;
    jw w;
    jw_init(&w);
    jw_value(&w, v);
    size_t len;
    char *s = jw_take(&w, &len);
    if (!s) die("writer failed");
    qv_arena a;
    qv_arena_init(&a);
    qv_err e;
    jv back;
    if (jv_parse(&a, s, len, &back, &e) != QV_OK) die(e.msg);
    jv_resolve_numbers(&back);
    if (!jv_equal(v, &back)) die("JSON round trip changed the value");
    qv_arena_free(&a);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qv_arena a;
    qv_arena_init(&a);
    qv_err e;
    jv v;
    size_t used = 0;
    qv_rc rc = jvbin_read(&a, data, size, &used, &v, &e);
    if (rc != QV_OK) {
        if (rc != QV_ECORRUPT || !e.msg[0]) die("bad error");
        qv_arena_free(&a);
        return 0;
    }
    if (used > size) die("used past the end");
    size_t n = jvbin_size(&v);
    if (n != used) die("size differs from bytes consumed");
    uint8_t *buf = malloc(n);
    if (buf) {
        if (jvbin_write(&v, buf) != n || memcmp(buf, data, n) != 0) die("not canonical");
        free(buf);
    }
    check_json(&v);
    qv_arena_free(&a);
    return 0;
}
