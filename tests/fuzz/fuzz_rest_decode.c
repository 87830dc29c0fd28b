/*
 * fuzz_rest_decode.c - libFuzzer target for the REST request decoders.
 *
 * Input: one selector byte, then a request body.  The selector picks the
 * decoder (upsert, delete, set/overwrite payload, batch, query, query
 * batch, legacy search, scroll, retrieve, count, create and update
 * collection); the body is parsed with jv_parse and, if it is JSON, handed
 * to that decoder.  Successful reads also run the payload selector
 * projection of encode.c over the body itself, so include/exclude paths
 * meet arbitrary trees.  Everything lives in one arena per input (and the
 * decoded collection configurations are freed), so ASan/LSan see every
 * leak and overflow.
 *
 * The selector is the first byte modulo 17: 0-6 the single update ops in
 * op_decoders order, 7 batch, 8-14 query, query batch, search, search
 * batch, scroll, retrieve, count, 15 create collection, 16 create then
 * update.  Seeds: tests/fuzz/corpus/fuzz_rest_decode/, whose first byte is
 * 'D' + selector (68 % 17 == 0) so that they stay printable.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/decode.h"
#include "api/rest/encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef qv_rc (*op_dec)(qv_arena *, const jv *, qv_update_op *, qv_err *);

static qv_rc dec_set(qv_arena *a, const jv *b, qv_update_op *op, qv_err *e) {
    return qv_rest_decode_set_payload(a, b, QV_OP_SET_PAYLOAD, op, e);
}

static const op_dec op_decoders[] = {
    qv_rest_decode_upsert,         qv_rest_decode_delete,        dec_set,
    qv_rest_decode_delete_payload, qv_rest_decode_clear_payload, qv_rest_decode_update_vectors,
    qv_rest_decode_delete_vectors,
};
#define N_OP (sizeof op_decoders / sizeof *op_decoders)

/* Prints body through a payload/vector selector (exercises encode.c). */
static void project(qv_arena *a, const qv_rest_payload_sel *ps, const qv_rest_vector_sel *vs,
                    const jv *body) {
    qv_rest_point_fmt f;
    qv_err e;
    if (qv_rest_point_fmt_init(&f, NULL, ps, vs, a, &e)) return;
    jw w;
    jw_init(&w);
    qv_rest_encode_payload(&w, &f, body);
    jw_free(&w);
}

static void run_reads(qv_arena *a, unsigned sel, const jv *body) {
    qv_err e;
    qv_rest_query q, *qs;
    qv_rest_scroll s;
    qv_rest_retrieve r;
    qv_rest_count c;
    size_t n;
    switch (sel) {
    case 0:
        if (!qv_rest_decode_query(a, body, &q, &e)) project(a, &q.with_payload, NULL, body);
        break;
    case 1:
        qv_rest_decode_query_batch(a, body, &qs, &n, &e);
        break;
    case 2:
        qv_rest_decode_search(a, body, &q, &e);
        break;
    case 3:
        qv_rest_decode_search_batch(a, body, &qs, &n, &e);
        break;
    case 4:
        if (!qv_rest_decode_scroll(a, body, &s, &e)) project(a, &s.with_payload, NULL, body);
        break;
    case 5:
        qv_rest_decode_retrieve(a, body, &r, &e);
        break;
    default:
        qv_rest_decode_count(a, body, &c, &e);
        break;
    }
}

static void run_collections(unsigned sel, const jv *body) {
    qv_collection_config cfg, upd;
    qv_err e;
    if (qv_rest_decode_create_collection(body, &cfg, &e)) return;
    if (sel == 1 && !qv_rest_decode_update_collection(body, &cfg, &upd, &e))
        qv_collection_config_free(&upd);
    qv_collection_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0] % 17;
    qv_arena a;
    qv_arena_init(&a);
    jv body;
    qv_err e;
    if (jv_parse(&a, (const char *)data + 1, size - 1, &body, &e) == QV_OK) {
        qv_update_op op, *ops;
        size_t n;
        if (sel < N_OP)
            op_decoders[sel](&a, &body, &op, &e);
        else if (sel == N_OP)
            qv_rest_decode_batch(&a, &body, &ops, &n, &e);
        else if (sel < N_OP + 8)
            run_reads(&a, sel - N_OP - 1, &body);
        else
            run_collections(sel - N_OP - 8, &body);
    }
    qv_arena_free(&a);
    return 0;
}
