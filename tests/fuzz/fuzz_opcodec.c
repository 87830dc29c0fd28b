/*
 * fuzz_opcodec.c - the WAL operation decoder on arbitrary bytes.
 *
 * A record that decodes must re-encode to exactly the same bytes (the
 * codec has one canonical encoding), and nothing may be read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op;
    qv_err err;
    if (qv_op_decode(&a, data, size, &op, &err) == QV_OK) {
        size_t len = 0;
        uint8_t *again = qv_op_encode(&op, &len);
        /* Varints may be non-minimal in the input; re-decoding must agree. */
        if (!again) abort();
        qv_update_op op2;
        if (qv_op_decode(&a, again, len, &op2, &err) != QV_OK) abort();
        if (op2.kind != op.kind || op2.npoints != op.npoints || op2.nids != op.nids ||
            op2.nnames != op.nnames)
            abort();
        size_t len2 = 0;
        uint8_t *third = qv_op_encode(&op2, &len2);
        if (!third || len2 != len || memcmp(third, again, len) != 0) abort();
        free(third);
        free(again);
    }
    qv_arena_free(&a);
    return 0;
}
