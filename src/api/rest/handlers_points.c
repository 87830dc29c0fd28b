/*
 * handlers_points.c - point writes (upsert, delete, payload and vector
 * edits, batches) and point reads by id or order (get, retrieve, scroll,
 * scroll by a payload key, count, facet).
 *
 * Writes (and payload index declarations, which are update operations
 * too): body -> qv_update_op (decode.c) -> qv_collection_update, which
 * validates before anything is logged, so a 400 leaves the collection
 * unchanged.  `wait=true` waits for durability and visibility
 * ("completed"); otherwise the answer comes once the WAL has the op
 * ("acknowledged").  A batch runs its operations in order and stops at the
 * first failure (the earlier ones stay applied, as in Qdrant).
 *
 * Reads stream points from the collection's callbacks straight into the
 * response writer; the callbacks run under the shard's read lock, so they
 * only print.
 *
 * Not here: `timeout` on writes is accepted but not enforced (the pipeline
 * has no deadline yet); ordering is irrelevant on one node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/decode.h"
#include "api/rest/encode.h"
#include "api/rest/rest_internal.h"

/* ======================================================================
 * Writes
 * ====================================================================== */

typedef qv_rc (*qv_rest_op_decoder)(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);

static void qv_rest_run_op(qv_rest_req *rq, qv_rest_resp *rs, qv_update_op *op);

/* Body -> op -> pipeline -> UpdateResult, for every single-op endpoint. */
static void qv_rest_write(qv_rest_req *rq, qv_rest_resp *rs, qv_rest_op_decoder dec) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_update_op op;
    if (qv_rest_body_json(rq, false, &body, &err) || dec(&rq->arena, &body, &op, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_run_op(rq, rs, &op);
}

/* A decoded op -> pipeline -> UpdateResult. */
static void qv_rest_run_op(qv_rest_req *rq, qv_rest_resp *rs, qv_update_op *op) {
    qv_err err;
    qv_err_clear(&err);
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    uint64_t op_num = 0;
    qv_write_status st = QV_WRITE_ACKNOWLEDGED;
    qv_rc rc = qv_collection_update(c, op, rq->wait, &op_num, &st, &err);
    qv_collection_release(c);
    if (rc) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    qv_rest_encode_update_result(&w, op_num, st);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

static qv_rc qv_rest_dec_set(qv_arena *a, const jv *b, qv_update_op *op, qv_err *err) {
    return qv_rest_decode_set_payload(a, b, QV_OP_SET_PAYLOAD, op, err);
}

static qv_rc qv_rest_dec_overwrite(qv_arena *a, const jv *b, qv_update_op *op, qv_err *err) {
    return qv_rest_decode_set_payload(a, b, QV_OP_OVERWRITE_PAYLOAD, op, err);
}

void qv_rest_h_upsert(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_upsert);
}

void qv_rest_h_delete_points(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_delete);
}

void qv_rest_h_set_payload(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_dec_set);
}

void qv_rest_h_overwrite_payload(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_dec_overwrite);
}

void qv_rest_h_delete_payload(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_delete_payload);
}

void qv_rest_h_clear_payload(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_clear_payload);
}

void qv_rest_h_update_vectors(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_update_vectors);
}

void qv_rest_h_delete_vectors(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_delete_vectors);
}

/* PUT /collections/{c}/index: the declaration is an update operation
 * (WAL, ordering, wait) like the point writes; see collection/field_index.h. */
void qv_rest_h_create_index(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_write(rq, rs, qv_rest_decode_create_index);
}

/* DELETE /collections/{c}/index/{field}: a missing index is no error. */
void qv_rest_h_delete_index(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    qv_update_op op;
    if (qv_rest_decode_delete_index(&rq->arena, rq->param[1], rq->param_len[1], &op, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_run_op(rq, rs, &op);
}

/* POST /points/batch: every op decoded first (a format error writes
 * nothing), then run in order; the result lists one UpdateResult each. */
void qv_rest_h_batch_update(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_update_op *ops = NULL;
    size_t n = 0;
    if (qv_rest_body_json(rq, false, &body, &err) ||
        qv_rest_decode_batch(&rq->arena, &body, &ops, &n, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_arr_begin(&w);
    qv_rc rc = QV_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t op_num = 0;
        qv_write_status st = QV_WRITE_ACKNOWLEDGED;
        /* every op but the last need not wait: the pipeline keeps order */
        rc = qv_collection_update(c, &ops[i], rq->wait && i + 1 == n, &op_num, &st, &err);
        if (!rc) qv_rest_encode_update_result(&w, op_num, rq->wait ? QV_WRITE_COMPLETED : st);
    }
    qv_collection_release(c);
    jw_arr_end(&w);
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* ======================================================================
 * Reads
 * ====================================================================== */

/* What strict mode needs of a read request besides its body. */
static qv_read_opts qv_rest_read_opts(const qv_rest_req *rq) {
    return (qv_read_opts){false, rq->has_timeout, rq->timeout_sec};
}

/* Callback state: the writer and how to print points. */
typedef struct qv_rest_rec_ctx {
    jw *w;
    const qv_rest_point_fmt *fmt;
    size_t n;
} qv_rest_rec_ctx;

static bool qv_rest_on_record(void *ctx, const qv_point_view *p, float score) {
    qv_rest_rec_ctx *x = ctx;
    qv_rest_encode_record(x->w, x->fmt, p);
    x->n++;
    return true;
}

/* Acquires the collection and prepares the point format; NULL after an
 * error reply. */
static qv_collection *qv_rest_read_begin(qv_rest_req *rq, qv_rest_resp *rs,
                                         const qv_rest_payload_sel *ps,
                                         const qv_rest_vector_sel *vs, qv_rest_point_fmt *fmt) {
    qv_err err;
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return NULL;
    if (qv_rest_point_fmt_init(fmt, qv_collection_config_get(c), ps, vs, &rq->arena, &err)) {
        qv_collection_release(c);
        qv_rest_reply_err(rq, rs, &err);
        return NULL;
    }
    return c;
}

/* GET /collections/{c}/points/{id}: payload and vector included. */
void qv_rest_h_get_point(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    qv_pointid id;
    if (qv_rest_decode_pointid_str(rq->param[1], &id, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_payload_sel ps = {QV_REST_PAYLOAD_ALL, 0, NULL};
    qv_rest_vector_sel vs = {true, 0, NULL};
    qv_rest_point_fmt fmt;
    qv_collection *c = qv_rest_read_begin(rq, rs, &ps, &vs, &fmt);
    if (!c) return;
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    qv_rest_rec_ctx x = {&w, &fmt, 0};
    qv_read_opts opts = qv_rest_read_opts(rq);
    qv_rc rc = qv_collection_retrieve(c, &id, 1, &opts, qv_rest_on_record, &x, &err);
    qv_collection_release(c);
    if (!rc && x.n == 0) {
        char buf[48];
        qv_pointid_format(&id, buf);
        rc = qv_fail(&err, QV_ENOTFOUND, "No point with id %s found", buf);
    }
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* POST /collections/{c}/points: [Record] in the order of ids. */
void qv_rest_h_retrieve(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_rest_retrieve r;
    if (qv_rest_body_json(rq, false, &body, &err) ||
        qv_rest_decode_retrieve(&rq->arena, &body, &r, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_point_fmt fmt;
    qv_collection *c = qv_rest_read_begin(rq, rs, &r.with_payload, &r.with_vector, &fmt);
    if (!c) return;
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_arr_begin(&w);
    qv_rest_rec_ctx x = {&w, &fmt, 0};
    qv_read_opts opts = qv_rest_read_opts(rq);
    qv_rc rc = qv_collection_retrieve(c, r.ids, r.nids, &opts, qv_rest_on_record, &x, &err);
    qv_collection_release(c);
    jw_arr_end(&w);
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

static bool qv_rest_on_ordered_record(void *ctx, const qv_point_view *p, const qv_order_value *v) {
    qv_rest_rec_ctx *x = ctx;
    qv_rest_encode_record_ordered(x->w, x->fmt, p, v);
    x->n++;
    return true;
}

/* Scroll's two orders: by ID from the offset (next_page_offset the ID
 * after the page), or by a payload key (order_by: no offset, no next page,
 * as Qdrant; the offset check comes after the collection lookup, as in
 * Qdrant's collection layer). */
static qv_rc qv_rest_scroll_run(qv_collection *c, const qv_rest_scroll *s, const qv_read_opts *opts,
                                qv_rest_rec_ctx *x, qv_pointid *next, bool *has_next, qv_err *err) {
    *has_next = false;
    if (!s->has_order_by)
        return qv_collection_scroll(c, s->filter, s->has_offset ? &s->offset : NULL, s->limit, opts,
                                    qv_rest_on_record, x, next, has_next, err);
    if (s->has_offset)
        return qv_fail(err, QV_EBADINPUT,
                       "Cannot use an `offset` when using `order_by`. The alternative for paging "
                       "is to use `order_by.start_from` and a filter to exclude the IDs that "
                       "you've already seen for the `order_by.start_from` value");
    return qv_collection_scroll_ordered(c, s->filter, &s->order_by, 0, s->limit, opts,
                                        qv_rest_on_ordered_record, x, err);
}

/* POST /points/scroll: {"points": [Record], "next_page_offset": id|null} */
void qv_rest_h_scroll(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_rest_scroll s;
    if (qv_rest_body_json(rq, true, &body, &err) ||
        qv_rest_decode_scroll(&rq->arena, &body, &s, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_point_fmt fmt;
    qv_collection *c = qv_rest_read_begin(rq, rs, &s.with_payload, &s.with_vector, &fmt);
    if (!c) return;
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "points");
    jw_arr_begin(&w);
    qv_rest_rec_ctx x = {&w, &fmt, 0};
    qv_pointid next;
    bool has_next = false;
    qv_read_opts opts = qv_rest_read_opts(rq);
    qv_rc rc = qv_rest_scroll_run(c, &s, &opts, &x, &next, &has_next, &err);
    qv_collection_release(c);
    jw_arr_end(&w);
    jw_key(&w, "next_page_offset");
    if (has_next)
        qv_rest_encode_pointid(&w, &next);
    else
        jw_null(&w);
    jw_obj_end(&w);
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* POST /points/count: {"count": N}; `exact: false` gives the estimate the
 * payload indexes make (qv_collection_count_approx). */
void qv_rest_h_count(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_rest_count q;
    if (qv_rest_body_json(rq, true, &body, &err) ||
        qv_rest_decode_count(&rq->arena, &body, &q, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    uint64_t n = 0;
    qv_read_opts opts = qv_rest_read_opts(rq);
    qv_rc rc = q.exact ? qv_collection_count(c, q.filter, &opts, &n, &err)
                       : qv_collection_count_approx(c, q.filter, &opts, &n, &err);
    qv_collection_release(c);
    if (rc) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "count");
    jw_u64(&w, n);
    jw_obj_end(&w);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* POST /collections/{c}/facet: {"hits": [{"value", "count"}, ...]}. */
void qv_rest_h_facet(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_facet_req req;
    if (qv_rest_body_json(rq, false, &body, &err) ||
        qv_rest_decode_facet(&rq->arena, &body, &req, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    qv_facet_hit *hits = NULL;
    size_t n = 0;
    qv_read_opts opts = qv_rest_read_opts(rq);
    qv_rc rc = qv_collection_facet(c, &req, &opts, &rq->arena, &hits, &n, &err);
    qv_collection_release(c);
    if (rc) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    qv_rest_encode_facet(&w, hits, n);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}
