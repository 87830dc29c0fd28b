/*
 * fuzz_filter.c - libFuzzer target for the JSON filter decoder and the
 * evaluator.
 *
 * The input is parsed as JSON; if it decodes as a filter, the filter is run
 * against a few fixed payloads chosen to reach every evaluator branch
 * (arrays of objects, nulls, geo points, datetimes, nested arrays).  A
 * decoder error must always carry a message; everything must be free of
 * memory errors and undefined behaviour.
 *
 *   clang-14 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_filter.c \
 *       src/index/filter.c src/api/json_filter.c src/core/json*.c ... -lm
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_filter.h"
#include "index/filter.h"

/* Multi-line literals are parenthesised so clang's -Wstring-concatenation
 * knows the concatenation is meant. */
static const char *const fuzz_payloads[] = {
    "{}",
    ("{\"a\":1,\"b\":\"x\",\"c\":[1,2.5,null,[3]],"
     "\"d\":[{\"x\":1,\"y\":[{\"z\":true}]},{\"x\":null}]}"),
    "{\"g\":{\"lat\":10.5,\"lon\":-170},\"t\":\"2024-01-15T10:00:00+01:00\",\"s\":\"Hello world\"}",
    "{\"a\":[],\"b\":[null],\"c\":{\"d\":{\"e\":[[]]}},\"g\":[{\"lat\":0,\"lon\":0},{\"lat\":1}]}",
};

static bool fuzz_has_vector(void *ctx, const char *name) {
    (void)ctx;
    return name[0] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qv_arena a;
    qv_arena_init(&a);
    jv json;
    qv_err err;
    if (jv_parse(&a, (const char *)data, size, &json, &err) == QV_OK) {
        qv_filter *f = NULL;
        qv_rc rc = qv_filter_from_json(&a, &json, &f, &err);
        if (rc != QV_OK && err.msg[0] == '\0') abort();
        for (size_t k = 0; rc == QV_OK && k < sizeof fuzz_payloads / sizeof *fuzz_payloads; k++) {
            jv payload;
            const char *p = fuzz_payloads[k];
            if (jv_parse(&a, p, strlen(p), &payload, &err) != QV_OK) abort();
            jv_resolve_numbers(&payload);
            qv_pointid id = qv_pointid_num(k);
            qv_filter_point pt = {&id, &payload, fuzz_has_vector, NULL, NULL};
            (void)qv_filter_match(f, &pt);
            pt.id = NULL;
            pt.payload = NULL;
            (void)qv_filter_match(f, &pt);
        }
    }
    qv_arena_free(&a);
    return 0;
}
