/*
 * fuzz_grpc_decode.c - libFuzzer target for the gRPC request decoding path.
 *
 * Input: one selector byte, then a protobuf-encoded request message.  The
 * selector (first byte modulo 9) picks the method: 0 Points/Upsert,
 * 1 Points/Query, 2 Points/Search, 3 Points/Scroll, 4 Points/Count,
 * 5 Points/Delete, 6 Points/SetPayload, 7 Points/UpdateBatch,
 * 8 Collections/Create - the requests with the richest conversions
 * (points and vectors, payload Values, Filter trees, point ids, selectors,
 * collection configs).
 *
 * How: qv_grpc_decode_for_test (grpc_server.c) runs exactly what a call
 * runs before it reaches a collection - the nesting-depth / UTF-8
 * pre-check, protobuf-c's unpack into a request arena and the method's
 * handler, which converts the message into engine structs (update ops,
 * qv_query, qv_filter, jv payloads, collection configs) - with a NULL
 * catalog, so a valid request ends in NOT_FOUND (no collection) or
 * UNAVAILABLE (Create: no catalog) and anything else is a decode error.
 * Nothing may crash, leak (the arena is freed per input and Create frees
 * its decoded config) or hang; every failure must carry a message.
 *
 * Seeds: tests/fuzz/corpus/fuzz_grpc_decode/, small valid messages of
 * every method (first byte = the method index), written once with
 * qdrant_client's generated Python messages.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {
    "/qdrant.Points/Upsert",     "/qdrant.Points/Query",       "/qdrant.Points/Search",
    "/qdrant.Points/Scroll",     "/qdrant.Points/Count",       "/qdrant.Points/Delete",
    "/qdrant.Points/SetPayload", "/qdrant.Points/UpdateBatch", "/qdrant.Collections/Create",
};
#define N_METHODS (sizeof methods / sizeof *methods)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *method = methods[data[0] % N_METHODS];
    qv_err err;
    qv_err_clear(&err);
    qv_rc rc = qv_grpc_decode_for_test(method, data + 1, size - 1, &err);
    /* A valid request cannot succeed without a catalog, and every error
     * must say why (it becomes the gRPC status details). */
    if (rc == QV_OK || err.kind != rc || err.msg[0] == '\0') abort();
    return 0;
}
