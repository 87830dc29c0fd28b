/*
 * grpc_points.c - the qdrant.Points RPCs.  Writes: Upsert, Delete,
 * UpdateVectors, DeleteVectors, SetPayload, OverwritePayload,
 * DeletePayload, ClearPayload and UpdateBatch (one builder per operation
 * shape, shared by the single RPCs and the batch), and the payload index
 * declarations CreateFieldIndex / DeleteFieldIndex (update operations
 * too).  Reads: Get, Scroll (by ID or by a payload key), Count, Query,
 * QueryBatch (nearest, no query, and the order_by variant), Facet and the
 * deprecated Search and SearchBatch (a batch is one qv_collection_query
 * pass; begin(i) switches the output).
 *
 * How: each request is translated into the engine's structs - a
 * qv_update_op for writes (qv_collection_update), a qv_query / filter /
 * ids for reads - exactly as the REST twin does, and the collection layer
 * does all validation (vector names, dimensions, NaN).  Read results come
 * from the collection's callbacks, which run under the shard's read lock:
 * they copy what they need (id, payload, vectors) into the reply tree in
 * the request arena.  Payload include/exclude selectors reuse the REST
 * encoder (it prints the selected payload, which is parsed back), so the
 * selection rules live in one place.
 *
 * Threading: handlers run on a gRPC completion-queue thread; the point
 * callbacks run under the collection's read lock and only copy (they
 * never call back into the collection).
 *
 * Defaults follow the REST API: Get and Scroll return payloads unless told
 * otherwise, Query and Search do not; Scroll and Query return 10 points.
 *
 * What it does not do yet: prefetch, fusion, recommend/discover/context
 * queries, sparse and multi-dense vectors, inference objects,
 * update_filter, and timeouts on writes (INVALID_ARGUMENT / UNIMPLEMENTED
 * "... not supported yet").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_index.h"
#include "api/grpc/grpc_internal.h"
#include "api/rest/decode.h"
#include "api/rest/encode.h"

static qv_rc qv_grpc_unsupported(qv_err *err, const char *what) {
    return qv_fail(err, QV_EUNIMPLEMENTED, "%s over gRPC is not supported yet", what);
}

/* ======================================================================
 * Writes
 * ====================================================================== */

/* Runs op against the named collection and replies with its UpdateResult. */
static qv_rc qv_grpc_write(qv_grpc_req *rq, const char *name, qv_update_op *op, bool wait,
                           qv_err *err) {
    qv_collection *c = qv_grpc_collection(rq, name, err);
    if (!c) return err->kind;
    uint64_t op_num = 0;
    qv_write_status st = QV_WRITE_ACKNOWLEDGED;
    qv_rc rc = qv_grpc_deadline_check(rq, err);
    if (!rc) rc = qv_collection_update(c, op, wait, &op_num, &st, err);
    qv_collection_release(c);
    if (rc) return rc;
    Qdrant__PointsOperationResponse *r =
        QV_GRPC_NEW(rq, Qdrant__PointsOperationResponse, qdrant__points_operation_response__init);
    r->result = qv_grpc_update_result(rq, op_num, wait ? QV_WRITE_COMPLETED : st);
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* One Vector (dense only): the current `dense` oneof or the deprecated
 * `data` field. */
static qv_rc qv_grpc_vector_in(const Qdrant__Vector *v, const char *name, qv_vec_in *out,
                               qv_err *err) {
    out->name = name;
    if (!v) return qv_fail(err, QV_EBADINPUT, "Vector `%s`: no data", name);
    if (v->vector_case == QDRANT__VECTOR__VECTOR_DENSE && v->dense) {
        out->dim = (uint32_t)v->dense->n_data;
        out->data = v->dense->data;
        return QV_OK;
    }
    if (v->vector_case != QDRANT__VECTOR__VECTOR__NOT_SET)
        return qv_grpc_unsupported(err, "Sparse, multi-dense and inference vectors");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (v->_indices_case) return qv_grpc_unsupported(err, "Sparse vectors");
    if (v->_vectors_count_case && v->vectors_count > 1)
        return qv_grpc_unsupported(err, "Multi-dense vectors");
    out->dim = (uint32_t)v->n_data;
    out->data = v->data;
#pragma GCC diagnostic pop
    return QV_OK;
}

static qv_rc qv_grpc_vectors_in(qv_grpc_req *rq, const Qdrant__Vectors *vs, qv_point_in *p,
                                qv_err *err) {
    if (!vs) return QV_OK; /* the shard reports what is missing */
    if (vs->vectors_options_case == QDRANT__VECTORS__VECTORS_OPTIONS_VECTOR) {
        p->nvec = 1;
        p->vecs = qv_grpc_alloc(rq, sizeof *p->vecs);
        return qv_grpc_vector_in(vs->vector, "", &p->vecs[0], err);
    }
    if (vs->vectors_options_case != QDRANT__VECTORS__VECTORS_OPTIONS_VECTORS || !vs->vectors)
        return QV_OK;
    size_t n = vs->vectors->n_vectors;
    p->nvec = (uint32_t)n;
    p->vecs = qv_grpc_alloc(rq, n * sizeof *p->vecs);
    for (size_t i = 0; i < n; i++) {
        const Qdrant__NamedVectors__VectorsEntry *e = vs->vectors->vectors[i];
        qv_rc rc = qv_grpc_vector_in(e->value, e->key ? e->key : "", &p->vecs[i], err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* PointsSelector -> op ids or filter (a missing selector selects nothing). */
static qv_rc qv_grpc_selector_in(qv_grpc_req *rq, const Qdrant__PointsSelector *s, qv_update_op *op,
                                 qv_err *err) {
    if (!s) return qv_fail(err, QV_EBADINPUT, "No points selector given");
    if (s->points_selector_one_of_case == QDRANT__POINTS_SELECTOR__POINTS_SELECTOR_ONE_OF_FILTER) {
        qv_rc rc = qv_grpc_filter_in(rq, s->filter, &op->filter, err);
        if (!rc && !op->filter) op->filter = qv_filter_new(&rq->arena);
        return rc;
    }
    if (s->points_selector_one_of_case != QDRANT__POINTS_SELECTOR__POINTS_SELECTOR_ONE_OF_POINTS)
        return qv_fail(err, QV_EBADINPUT, "No points selector given");
    size_t n = s->points ? s->points->n_ids : 0;
    op->nids = (uint32_t)n;
    op->ids = qv_grpc_alloc(rq, n * sizeof *op->ids);
    for (size_t i = 0; i < n; i++) {
        qv_rc rc = qv_grpc_pointid_in(s->points->ids[i], &op->ids[i], err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* ---- op builders: one per operation shape, shared by the single RPCs and
 * UpdateBatch ---------------------------------------------------------- */

static void qv_grpc_op_init(qv_update_op *op, uint32_t kind) {
    memset(op, 0, sizeof *op);
    op->kind = kind;
}

static qv_rc qv_grpc_upsert_op(qv_grpc_req *rq, size_t n, Qdrant__PointStruct **pts,
                               bool has_update_filter, qv_update_op *op, qv_err *err) {
    if (has_update_filter) return qv_grpc_unsupported(err, "update_filter");
    qv_grpc_op_init(op, QV_OP_UPSERT);
    op->npoints = (uint32_t)n;
    op->points = qv_grpc_alloc(rq, n * sizeof *op->points);
    for (size_t i = 0; i < n; i++) {
        const Qdrant__PointStruct *ps = pts[i];
        qv_point_in *p = &op->points[i];
        qv_rc rc = qv_grpc_pointid_in(ps->id, &p->id, err);
        if (rc || (rc = qv_grpc_vectors_in(rq, ps->_vectors_case ? ps->vectors : NULL, p, err)))
            return rc;
        p->has_payload = ps->n_payload > 0;
        if (p->has_payload &&
            (rc = qv_grpc_payload_in(rq, ps->n_payload, ps->payload, &p->payload, err)))
            return rc;
    }
    return QV_OK;
}

/* Delete points / clear payload: a kind and a selector. */
static qv_rc qv_grpc_selector_op(qv_grpc_req *rq, uint32_t kind, const Qdrant__PointsSelector *s,
                                 qv_update_op *op, qv_err *err) {
    qv_grpc_op_init(op, kind);
    return qv_grpc_selector_in(rq, s, op, err);
}

/* Set / overwrite payload (entries of any generated payload-map type). */
static qv_rc qv_grpc_payload_op(qv_grpc_req *rq, uint32_t kind, const Qdrant__PointsSelector *s,
                                size_t n, void **entries, const char *key, qv_update_op *op,
                                qv_err *err) {
    qv_grpc_op_init(op, kind);
    qv_rc rc = qv_grpc_selector_in(rq, s, op, err);
    if (rc || (rc = qv_grpc_payload_in(rq, n, (Qdrant__PointStruct__PayloadEntry **)entries,
                                       &op->payload, err)))
        return rc;
    op->key = key;
    return QV_OK;
}

static qv_rc qv_grpc_names_op(qv_grpc_req *rq, uint32_t kind, const Qdrant__PointsSelector *s,
                              size_t n, char **names, qv_update_op *op, qv_err *err) {
    qv_grpc_op_init(op, kind);
    op->nnames = (uint32_t)n;
    op->names = (const char **)names;
    return qv_grpc_selector_in(rq, s, op, err);
}

static qv_rc qv_grpc_vectors_op(qv_grpc_req *rq, size_t n, Qdrant__PointVectors **pts,
                                bool has_update_filter, qv_update_op *op, qv_err *err) {
    if (has_update_filter) return qv_grpc_unsupported(err, "update_filter");
    qv_grpc_op_init(op, QV_OP_UPDATE_VECTORS);
    op->npoints = (uint32_t)n;
    op->points = qv_grpc_alloc(rq, n * sizeof *op->points);
    for (size_t i = 0; i < n; i++) {
        qv_rc rc = qv_grpc_pointid_in(pts[i]->id, &op->points[i].id, err);
        if (rc || (rc = qv_grpc_vectors_in(rq, pts[i]->vectors, &op->points[i], err))) return rc;
    }
    return QV_OK;
}

/* ---- single-operation RPCs ----------------------------------------------- */

/* CreateFieldIndex: into the REST body, decoded (validated, made canonical)
 * by the REST decoder, then through the pipeline like any write. */
qv_rc qv_grpc_h_create_field_index(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__CreateFieldIndexCollection *q = (const Qdrant__CreateFieldIndexCollection *)in;
    jv body;
    qv_update_op op;
    qv_rc rc = qv_grpc_create_index_body(rq, q, &body, err);
    if (rc || (rc = qv_rest_decode_create_index(&rq->arena, &body, &op, err))) return rc;
    return qv_grpc_write(rq, q->collection_name, &op, q->_wait_case && q->wait, err);
}

qv_rc qv_grpc_h_delete_field_index(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__DeleteFieldIndexCollection *q = (const Qdrant__DeleteFieldIndexCollection *)in;
    const char *field = q->field_name ? q->field_name : "";
    qv_update_op op;
    qv_rc rc = qv_rest_decode_delete_index(&rq->arena, field, strlen(field), &op, err);
    return rc ? rc : qv_grpc_write(rq, q->collection_name, &op, q->_wait_case && q->wait, err);
}

#define QV_GRPC_WAIT(m) ((m)->_wait_case && (m)->wait)

qv_rc qv_grpc_h_upsert(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__UpsertPoints *u = (const Qdrant__UpsertPoints *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_upsert_op(rq, u->n_points, u->points, u->_update_filter_case, &op, err);
    return rc ? rc : qv_grpc_write(rq, u->collection_name, &op, QV_GRPC_WAIT(u), err);
}

qv_rc qv_grpc_h_delete(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__DeletePoints *d = (const Qdrant__DeletePoints *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_selector_op(rq, QV_OP_DELETE, d->points, &op, err);
    return rc ? rc : qv_grpc_write(rq, d->collection_name, &op, QV_GRPC_WAIT(d), err);
}

static qv_rc qv_grpc_set_payload_common(qv_grpc_req *rq, const ProtobufCMessage *in, uint32_t kind,
                                        qv_err *err) {
    const Qdrant__SetPayloadPoints *s = (const Qdrant__SetPayloadPoints *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_payload_op(rq, kind, s->_points_selector_case ? s->points_selector : NULL,
                                  s->n_payload, (void **)s->payload, s->_key_case ? s->key : NULL,
                                  &op, err);
    return rc ? rc : qv_grpc_write(rq, s->collection_name, &op, QV_GRPC_WAIT(s), err);
}

qv_rc qv_grpc_h_set_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    return qv_grpc_set_payload_common(rq, in, QV_OP_SET_PAYLOAD, err);
}

qv_rc qv_grpc_h_overwrite_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    return qv_grpc_set_payload_common(rq, in, QV_OP_OVERWRITE_PAYLOAD, err);
}

qv_rc qv_grpc_h_delete_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__DeletePayloadPoints *d = (const Qdrant__DeletePayloadPoints *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_names_op(rq, QV_OP_DELETE_PAYLOAD,
                                d->_points_selector_case ? d->points_selector : NULL, d->n_keys,
                                d->keys, &op, err);
    return rc ? rc : qv_grpc_write(rq, d->collection_name, &op, QV_GRPC_WAIT(d), err);
}

qv_rc qv_grpc_h_clear_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__ClearPayloadPoints *d = (const Qdrant__ClearPayloadPoints *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_selector_op(rq, QV_OP_CLEAR_PAYLOAD, d->points, &op, err);
    return rc ? rc : qv_grpc_write(rq, d->collection_name, &op, QV_GRPC_WAIT(d), err);
}

qv_rc qv_grpc_h_update_vectors(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__UpdatePointVectors *u = (const Qdrant__UpdatePointVectors *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_vectors_op(rq, u->n_points, u->points, u->_update_filter_case, &op, err);
    return rc ? rc : qv_grpc_write(rq, u->collection_name, &op, QV_GRPC_WAIT(u), err);
}

qv_rc qv_grpc_h_delete_vectors(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__DeletePointVectors *d = (const Qdrant__DeletePointVectors *)in;
    qv_update_op op;
    qv_rc rc = qv_grpc_names_op(rq, QV_OP_DELETE_VECTORS, d->points_selector,
                                d->vectors ? d->vectors->n_names : 0,
                                d->vectors ? d->vectors->names : NULL, &op, err);
    return rc ? rc : qv_grpc_write(rq, d->collection_name, &op, QV_GRPC_WAIT(d), err);
}

/* ---- UpdateBatch ----------------------------------------------------------- */

/* One PointsUpdateOperation -> op (the deprecated variants included). */
static qv_rc qv_grpc_batch_op(qv_grpc_req *rq, const Qdrant__PointsUpdateOperation *o,
                              qv_update_op *op, qv_err *err) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    switch (o->operation_case) {
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_UPSERT:
        return qv_grpc_upsert_op(rq, o->upsert->n_points, o->upsert->points,
                                 o->upsert->_update_filter_case, op, err);
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_DELETE_DEPRECATED:
        return qv_grpc_selector_op(rq, QV_OP_DELETE, o->delete_deprecated, op, err);
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_DELETE_POINTS:
        return qv_grpc_selector_op(rq, QV_OP_DELETE, o->delete_points->points, op, err);
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_CLEAR_PAYLOAD_DEPRECATED:
        return qv_grpc_selector_op(rq, QV_OP_CLEAR_PAYLOAD, o->clear_payload_deprecated, op, err);
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_CLEAR_PAYLOAD:
        return qv_grpc_selector_op(rq, QV_OP_CLEAR_PAYLOAD, o->clear_payload->points, op, err);
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_SET_PAYLOAD: {
        const Qdrant__PointsUpdateOperation__SetPayload *s = o->set_payload;
        return qv_grpc_payload_op(
            rq, QV_OP_SET_PAYLOAD, s->_points_selector_case ? s->points_selector : NULL,
            s->n_payload, (void **)s->payload, s->_key_case ? s->key : NULL, op, err);
    }
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_OVERWRITE_PAYLOAD: {
        const Qdrant__PointsUpdateOperation__OverwritePayload *s = o->overwrite_payload;
        return qv_grpc_payload_op(
            rq, QV_OP_OVERWRITE_PAYLOAD, s->_points_selector_case ? s->points_selector : NULL,
            s->n_payload, (void **)s->payload, s->_key_case ? s->key : NULL, op, err);
    }
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_DELETE_PAYLOAD: {
        const Qdrant__PointsUpdateOperation__DeletePayload *d = o->delete_payload;
        return qv_grpc_names_op(rq, QV_OP_DELETE_PAYLOAD,
                                d->_points_selector_case ? d->points_selector : NULL, d->n_keys,
                                d->keys, op, err);
    }
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_UPDATE_VECTORS:
        return qv_grpc_vectors_op(rq, o->update_vectors->n_points, o->update_vectors->points,
                                  o->update_vectors->_update_filter_case, op, err);
    case QDRANT__POINTS_UPDATE_OPERATION__OPERATION_DELETE_VECTORS: {
        const Qdrant__PointsUpdateOperation__DeleteVectors *d = o->delete_vectors;
        return qv_grpc_names_op(rq, QV_OP_DELETE_VECTORS, d->points_selector,
                                d->vectors ? d->vectors->n_names : 0,
                                d->vectors ? d->vectors->names : NULL, op, err);
    }
    default:
        return qv_fail(err, QV_EBADINPUT, "PointsUpdateOperation: no operation given");
    }
#pragma GCC diagnostic pop
}

/* Every operation decoded first (a bad one writes nothing), then run in
 * order, stopping at the first failure (earlier ones stay applied, as in
 * Qdrant and REST's /points/batch); only the last one waits. */
qv_rc qv_grpc_h_update_batch(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__UpdateBatchPoints *b = (const Qdrant__UpdateBatchPoints *)in;
    size_t n = b->n_operations;
    qv_update_op *ops = qv_grpc_alloc(rq, n * sizeof *ops);
    for (size_t i = 0; i < n; i++) {
        qv_rc rc = qv_grpc_batch_op(rq, b->operations[i], &ops[i], err);
        if (rc) return rc;
    }
    qv_collection *c = qv_grpc_collection(rq, b->collection_name, err);
    if (!c) return err->kind;
    bool wait = QV_GRPC_WAIT(b);
    Qdrant__UpdateResult **res = qv_grpc_alloc(rq, n * sizeof *res);
    /* Once the first operation has run, the batch runs to its end. */
    qv_rc rc = qv_grpc_deadline_check(rq, err);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t op_num = 0;
        qv_write_status st = QV_WRITE_ACKNOWLEDGED;
        rc = qv_collection_update(c, &ops[i], wait && i + 1 == n, &op_num, &st, err);
        if (!rc) res[i] = qv_grpc_update_result(rq, op_num, wait ? QV_WRITE_COMPLETED : st);
    }
    qv_collection_release(c);
    if (rc) return rc;
    Qdrant__UpdateBatchResponse *r =
        QV_GRPC_NEW(rq, Qdrant__UpdateBatchResponse, qdrant__update_batch_response__init);
    r->n_result = n;
    r->result = res;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* ======================================================================
 * Reads: selectors and point output
 * ====================================================================== */

static void qv_grpc_payload_sel(const Qdrant__WithPayloadSelector *s, bool dflt,
                                qv_rest_payload_sel *out) {
    memset(out, 0, sizeof *out);
    out->mode = dflt ? QV_REST_PAYLOAD_ALL : QV_REST_PAYLOAD_NONE;
    if (!s) return;
    switch (s->selector_options_case) {
    case QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_ENABLE:
        out->mode = s->enable ? QV_REST_PAYLOAD_ALL : QV_REST_PAYLOAD_NONE;
        break;
    case QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_INCLUDE:
        out->mode = QV_REST_PAYLOAD_INCLUDE;
        out->nkeys = s->include ? (uint32_t)s->include->n_fields : 0;
        out->keys = s->include ? (const char **)s->include->fields : NULL;
        break;
    case QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_EXCLUDE:
        out->mode = QV_REST_PAYLOAD_EXCLUDE;
        out->nkeys = s->exclude ? (uint32_t)s->exclude->n_fields : 0;
        out->keys = s->exclude ? (const char **)s->exclude->fields : NULL;
        break;
    default:
        break;
    }
}

static void qv_grpc_vector_sel(const Qdrant__WithVectorsSelector *s, qv_rest_vector_sel *out) {
    memset(out, 0, sizeof *out);
    if (!s) return;
    if (s->selector_options_case == QDRANT__WITH_VECTORS_SELECTOR__SELECTOR_OPTIONS_ENABLE)
        out->all = s->enable != 0;
    else if (s->selector_options_case == QDRANT__WITH_VECTORS_SELECTOR__SELECTOR_OPTIONS_INCLUDE &&
             s->include) {
        out->nnames = (uint32_t)s->include->n_names;
        out->names = (const char **)s->include->names;
    }
}

/* How one request prints points (shared with the REST encoder's format). */
typedef struct qv_grpc_out {
    qv_grpc_req *rq;
    qv_rest_point_fmt fmt;
    qv_rest_payload_sel ps;
    qv_rest_vector_sel vs;
    void **items; /* RetrievedPoint* or ScoredPoint* */
    size_t n, cap;
    bool scored;
    qv_err perr; /* a payload re-parse failure (should never happen) */
} qv_grpc_out;

static qv_rc qv_grpc_out_init(qv_grpc_out *o, qv_grpc_req *rq, qv_collection *c, bool scored,
                              qv_err *err) {
    o->rq = rq;
    o->scored = scored;
    o->items = NULL;
    o->n = o->cap = 0;
    qv_err_clear(&o->perr);
    return qv_rest_point_fmt_init(&o->fmt, qv_collection_config_get(c), &o->ps, &o->vs, &rq->arena,
                                  err);
}

static bool qv_grpc_vec_selected(const qv_rest_vector_sel *vs, const char *name) {
    if (vs->all) return true;
    for (uint32_t i = 0; i < vs->nnames; i++)
        if (strcmp(vs->names[i], name) == 0) return true;
    return false;
}

static Qdrant__VectorOutput *qv_grpc_vector_out(qv_grpc_req *rq, const float *data, uint32_t dim) {
    Qdrant__VectorOutput *v = QV_GRPC_NEW(rq, Qdrant__VectorOutput, qdrant__vector_output__init);
    Qdrant__DenseVector *d = QV_GRPC_NEW(rq, Qdrant__DenseVector, qdrant__dense_vector__init);
    d->n_data = dim;
    d->data = qv_grpc_alloc(rq, dim * sizeof(float));
    memcpy(d->data, data, dim * sizeof(float));
    v->vector_case = QDRANT__VECTOR_OUTPUT__VECTOR_DENSE;
    v->dense = d;
    return v;
}

/* The selected vectors of p, or NULL when none is selected. */
static Qdrant__VectorsOutput *qv_grpc_vectors_out(qv_grpc_out *o, const qv_point_view *p) {
    const qv_collection_config *cfg = o->fmt.cfg;
    if (!o->vs.all && o->vs.nnames == 0) return NULL;
    qv_grpc_req *rq = o->rq;
    Qdrant__VectorsOutput *vo =
        QV_GRPC_NEW(rq, Qdrant__VectorsOutput, qdrant__vectors_output__init);
    if (!cfg->named_form && cfg->nvectors == 1) {
        const float *d = qv_point_vector(p, 0);
        if (!d || !qv_grpc_vec_selected(&o->vs, "")) return NULL;
        vo->vectors_options_case = QDRANT__VECTORS_OUTPUT__VECTORS_OPTIONS_VECTOR;
        vo->vector = qv_grpc_vector_out(rq, d, cfg->vectors[0].size);
        return vo;
    }
    Qdrant__NamedVectorsOutput *nv =
        QV_GRPC_NEW(rq, Qdrant__NamedVectorsOutput, qdrant__named_vectors_output__init);
    nv->vectors = qv_grpc_alloc(rq, cfg->nvectors * sizeof *nv->vectors);
    for (uint32_t i = 0; i < cfg->nvectors; i++) {
        const float *d = qv_point_vector(p, i);
        if (!d || !qv_grpc_vec_selected(&o->vs, cfg->vectors[i].name)) continue;
        Qdrant__NamedVectorsOutput__VectorsEntry *e =
            QV_GRPC_NEW(rq, Qdrant__NamedVectorsOutput__VectorsEntry,
                        qdrant__named_vectors_output__vectors_entry__init);
        e->key = qv_grpc_strdup(rq, cfg->vectors[i].name, strlen(cfg->vectors[i].name));
        e->value = qv_grpc_vector_out(rq, d, cfg->vectors[i].size);
        nv->vectors[nv->n_vectors++] = e;
    }
    vo->vectors_options_case = QDRANT__VECTORS_OUTPUT__VECTORS_OPTIONS_VECTORS;
    vo->vectors = nv;
    return vo;
}

/* The payload as the selector shapes it, as map entries of type d.  For
 * include/exclude the REST encoder prints the selection and it is parsed
 * back, so both APIs select identically. */
static void **qv_grpc_payload_out(qv_grpc_out *o, const jv *payload,
                                  const ProtobufCMessageDescriptor *d, size_t *n) {
    *n = 0;
    if (o->ps.mode == QV_REST_PAYLOAD_NONE || !payload) return NULL;
    if (o->ps.mode == QV_REST_PAYLOAD_ALL) return qv_grpc_kvs_out(o->rq, payload, d, n);
    jw w;
    jw_init(&w);
    qv_rest_encode_payload(&w, &o->fmt, payload);
    jv sel;
    qv_err err;
    void **out = NULL;
    if (!w.oom && jv_parse(&o->rq->arena, w.buf, w.len, &sel, &err) == QV_OK) {
        jv_resolve_numbers(&sel);
        out = qv_grpc_kvs_out(o->rq, &sel, d, n);
    } else {
        qv_fail(&o->perr, QV_EINTERNAL, "cannot select the payload");
    }
    jw_free(&w);
    return out;
}

static void qv_grpc_out_push(qv_grpc_out *o, void *item) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        void **items = qv_grpc_alloc(o->rq, cap * sizeof *items);
        if (o->n) memcpy(items, o->items, o->n * sizeof *items);
        o->items = items, o->cap = cap;
    }
    o->items[o->n++] = item;
}

static Qdrant__OrderValue *qv_grpc_order_value_out(qv_grpc_req *rq, const qv_order_value *v) {
    Qdrant__OrderValue *o = QV_GRPC_NEW(rq, Qdrant__OrderValue, qdrant__order_value__init);
    if (v->is_float)
        o->variant_case = QDRANT__ORDER_VALUE__VARIANT_FLOAT, o->float_ = v->f;
    else
        o->variant_case = QDRANT__ORDER_VALUE__VARIANT_INT, o->int_ = v->i;
    return o;
}

/* Copies the point into a RetrievedPoint or ScoredPoint; ov = its
 * order_value (order_by results, which as in Qdrant have version 0 and,
 * as query results, score 1). */
static bool qv_grpc_point_out(qv_grpc_out *o, const qv_point_view *p, float score,
                              const qv_order_value *ov) {
    qv_grpc_req *rq = o->rq;
    if (o->scored) {
        Qdrant__ScoredPoint *s = QV_GRPC_NEW(rq, Qdrant__ScoredPoint, qdrant__scored_point__init);
        s->id = qv_grpc_pointid_out(rq, &p->id);
        s->score = ov ? 1.0f : score;
        s->version = ov ? 0 : p->version;
        s->payload = (Qdrant__ScoredPoint__PayloadEntry **)qv_grpc_payload_out(
            o, p->payload, &qdrant__scored_point__payload_entry__descriptor, &s->n_payload);
        if ((s->vectors = qv_grpc_vectors_out(o, p)))
            s->_vectors_case = QDRANT__SCORED_POINT___VECTORS_VECTORS;
        if (ov) {
            s->_order_value_case = QDRANT__SCORED_POINT___ORDER_VALUE_ORDER_VALUE;
            s->order_value = qv_grpc_order_value_out(rq, ov);
        }
        qv_grpc_out_push(o, s);
    } else {
        Qdrant__RetrievedPoint *r =
            QV_GRPC_NEW(rq, Qdrant__RetrievedPoint, qdrant__retrieved_point__init);
        r->id = qv_grpc_pointid_out(rq, &p->id);
        r->payload = (Qdrant__RetrievedPoint__PayloadEntry **)qv_grpc_payload_out(
            o, p->payload, &qdrant__retrieved_point__payload_entry__descriptor, &r->n_payload);
        if ((r->vectors = qv_grpc_vectors_out(o, p)))
            r->_vectors_case = QDRANT__RETRIEVED_POINT___VECTORS_VECTORS;
        if (ov) {
            r->_order_value_case = QDRANT__RETRIEVED_POINT___ORDER_VALUE_ORDER_VALUE;
            r->order_value = qv_grpc_order_value_out(rq, ov);
        }
        qv_grpc_out_push(o, r);
    }
    return true;
}

/* Point callback: a RetrievedPoint or ScoredPoint. */
static bool qv_grpc_on_point(void *ctx, const qv_point_view *p, float score) {
    return qv_grpc_point_out(ctx, p, score, NULL);
}

/* Ordered point callback: the same with its order_value. */
static bool qv_grpc_on_ordered(void *ctx, const qv_point_view *p, const qv_order_value *v) {
    return qv_grpc_point_out(ctx, p, 1.0f, v);
}

/* A key path of a request (order_by, facet): a syntax error is
 * INVALID_ARGUMENT with the parser's text. */
static qv_rc qv_grpc_key_in(qv_grpc_req *rq, const char *key, const qv_keypath **out, qv_err *err) {
    const char *k = key ? key : "";
    qv_keypath *kp = NULL;
    qv_rc rc = qv_keypath_parse(&rq->arena, k, strlen(k), &kp, err);
    if (rc && rc != QV_ENOMEM) {
        char msg[QV_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return qv_fail(err, QV_EBADINPUT, "%s", msg);
    }
    *out = kp;
    return rc;
}

/* OrderBy -> qv_order_by: the key path, direction (an unknown value is
 * ascending, as Qdrant reads it) and start_from (integer, float, Timestamp
 * or an RFC 3339 string; datetimes as microseconds since the epoch). */
static qv_rc qv_grpc_order_by_in(qv_grpc_req *rq, const Qdrant__OrderBy *in, qv_order_by *out,
                                 qv_err *err) {
    memset(out, 0, sizeof *out);
    qv_rc rc = qv_grpc_key_in(rq, in->key, &out->key, err);
    if (rc) return rc;
    out->desc = in->_direction_case && in->direction == QDRANT__DIRECTION__Desc;
    const Qdrant__StartFrom *sf = in->_start_from_case ? in->start_from : NULL;
    if (!sf || sf->value_case == QDRANT__START_FROM__VALUE__NOT_SET) return QV_OK;
    qv_order_value *v = &out->start;
    qv_filter_time t;
    switch (sf->value_case) {
    case QDRANT__START_FROM__VALUE_INTEGER:
        v->i = sf->integer;
        break;
    case QDRANT__START_FROM__VALUE_FLOAT:
        v->is_float = true, v->f = sf->float_;
        break;
    case QDRANT__START_FROM__VALUE_TIMESTAMP:
        if (!sf->timestamp || sf->timestamp->nanos < 0 || sf->timestamp->nanos > 999999999)
            return qv_fail(err, QV_EBADINPUT, "Unable to parse timestamp");
        v->i = sf->timestamp->seconds * 1000000 + sf->timestamp->nanos / 1000;
        break;
    default: {
        const char *d = sf->datetime ? sf->datetime : "";
        if (!qv_filter_parse_time(d, strlen(d), &t))
            return qv_fail(err, QV_EBADINPUT,
                           "Malformed datetime: '%.100s' is not in a supported date/time format, "
                           "please use RFC 3339",
                           d);
        v->i = t.sec * 1000000 + t.nsec / 1000;
        break;
    }
    }
    out->has_start = true;
    return QV_OK;
}

/* ======================================================================
 * Reads: handlers
 * ====================================================================== */

qv_rc qv_grpc_h_get(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__GetPoints *g = (const Qdrant__GetPoints *)in;
    qv_pointid *ids = qv_grpc_alloc(rq, g->n_ids * sizeof *ids);
    for (size_t i = 0; i < g->n_ids; i++) {
        qv_rc rc = qv_grpc_pointid_in(g->ids[i], &ids[i], err);
        if (rc) return rc;
    }
    qv_grpc_out o;
    qv_grpc_payload_sel(g->with_payload, true, &o.ps);
    qv_grpc_vector_sel(g->_with_vectors_case ? g->with_vectors : NULL, &o.vs);
    qv_collection *c = qv_grpc_collection(rq, g->collection_name, err);
    if (!c) return err->kind;
    qv_rc rc = qv_grpc_out_init(&o, rq, c, false, err);
    qv_read_opts opts = {false, g->_timeout_case != 0, g->timeout};
    if (!rc) rc = qv_collection_retrieve(c, ids, g->n_ids, &opts, qv_grpc_on_point, &o, err);
    qv_collection_release(c);
    if (rc) return rc;
    Qdrant__GetResponse *r = QV_GRPC_NEW(rq, Qdrant__GetResponse, qdrant__get_response__init);
    r->n_result = o.n;
    r->result = (Qdrant__RetrievedPoint **)o.items;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_scroll(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__ScrollPoints *s = (const Qdrant__ScrollPoints *)in;
    qv_filter *filter = NULL;
    qv_pointid offset;
    bool has_offset = s->_offset_case && s->offset;
    qv_order_by ob;
    bool ordered = s->_order_by_case && s->order_by;
    qv_rc rc = qv_grpc_filter_in(rq, s->filter, &filter, err);
    if (!rc && has_offset) rc = qv_grpc_pointid_in(s->offset, &offset, err);
    if (!rc && ordered) rc = qv_grpc_order_by_in(rq, s->order_by, &ob, err);
    if (rc) return rc;
    size_t limit = s->_limit_case ? s->limit : 10;
    if (limit == 0)
        return qv_fail(err, QV_EBADINPUT, "limit: value 0 invalid, must be 1 or larger");
    qv_grpc_out o;
    qv_grpc_payload_sel(s->with_payload, true, &o.ps);
    qv_grpc_vector_sel(s->_with_vectors_case ? s->with_vectors : NULL, &o.vs);
    qv_collection *c = qv_grpc_collection(rq, s->collection_name, err);
    if (!c) return err->kind;
    qv_pointid next;
    bool has_next = false;
    rc = qv_grpc_out_init(&o, rq, c, false, err);
    qv_read_opts opts = {false, s->_timeout_case != 0, s->timeout};
    if (!rc && ordered && has_offset) /* checked by Qdrant's collection, after the lookup */
        rc = qv_fail(err, QV_EBADINPUT,
                     "Cannot use an `offset` when using `order_by`. The alternative for paging "
                     "is to use `order_by.start_from` and a filter to exclude the IDs that "
                     "you've already seen for the `order_by.start_from` value");
    else if (!rc && ordered)
        rc = qv_collection_scroll_ordered(c, filter, &ob, 0, limit, &opts, qv_grpc_on_ordered, &o,
                                          err);
    else if (!rc)
        rc = qv_collection_scroll(c, filter, has_offset ? &offset : NULL, limit, &opts,
                                  qv_grpc_on_point, &o, &next, &has_next, err);
    qv_collection_release(c);
    if (rc) return rc;
    Qdrant__ScrollResponse *r =
        QV_GRPC_NEW(rq, Qdrant__ScrollResponse, qdrant__scroll_response__init);
    r->n_result = o.n;
    r->result = (Qdrant__RetrievedPoint **)o.items;
    if (has_next) {
        r->_next_page_offset_case = QDRANT__SCROLL_RESPONSE___NEXT_PAGE_OFFSET_NEXT_PAGE_OFFSET;
        r->next_page_offset = qv_grpc_pointid_out(rq, &next);
    }
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_count(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__CountPoints *q = (const Qdrant__CountPoints *)in;
    qv_filter *filter = NULL;
    qv_rc rc = qv_grpc_filter_in(rq, q->filter, &filter, err);
    if (rc) return rc;
    qv_collection *c = qv_grpc_collection(rq, q->collection_name, err);
    if (!c) return err->kind;
    uint64_t n = 0;
    qv_read_opts opts = {false, q->_timeout_case != 0, q->timeout};
    bool exact = !q->_exact_case || q->exact; /* default true */
    rc = exact ? qv_collection_count(c, filter, &opts, &n, err)
               : qv_collection_count_approx(c, filter, &opts, &n, err);
    qv_collection_release(c);
    if (rc) return rc;
    Qdrant__CountResponse *r = QV_GRPC_NEW(rq, Qdrant__CountResponse, qdrant__count_response__init);
    r->result = QV_GRPC_NEW(rq, Qdrant__CountResult, qdrant__count_result__init);
    r->result->count = n;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* Batch callback state: one output per query; begin(i) switches. */
typedef struct qv_grpc_batch {
    qv_grpc_out *outs;
    size_t cur;
} qv_grpc_batch;

static void qv_grpc_on_begin(void *ctx, size_t i) {
    ((qv_grpc_batch *)ctx)->cur = i;
}

static bool qv_grpc_on_batch_point(void *ctx, const qv_point_view *p, float score) {
    qv_grpc_batch *b = ctx;
    return qv_grpc_on_point(&b->outs[b->cur], p, score);
}

static bool qv_grpc_on_batch_ordered(void *ctx, const qv_point_view *p, const qv_order_value *v) {
    qv_grpc_batch *b = ctx;
    return qv_grpc_on_ordered(&b->outs[b->cur], p, v);
}

/* Runs n queries in one pass (qv_collection_query; with order_by queries,
 * obs[i] != NULL, qv_collection_query_ordered) and collects each one's
 * ScoredPoints into outs[i] (whose selectors the caller has set). */
static qv_rc qv_grpc_run_queries(qv_grpc_req *rq, const char *name, qv_query *qs,
                                 const qv_order_by *const *obs, qv_grpc_out *outs, size_t n,
                                 const qv_read_opts *opts, qv_err *err) {
    qv_collection *c = qv_grpc_collection(rq, name, err);
    if (!c) return err->kind;
    qv_rc rc = QV_OK;
    bool ordered = false;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = qv_grpc_out_init(&outs[i], rq, c, true, err);
        ordered |= obs && obs[i];
    }
    qv_grpc_batch b = {outs, 0};
    if (!rc && n > 0 && ordered)
        rc = qv_collection_query_ordered(c, qs, obs, n, opts, qv_grpc_on_begin,
                                         qv_grpc_on_batch_point, qv_grpc_on_batch_ordered, &b, err);
    else if (!rc && n > 0)
        rc = qv_collection_query(c, qs, n, opts, qv_grpc_on_begin, qv_grpc_on_batch_point, &b, err);
    qv_collection_release(c);
    return rc;
}

/* Query.nearest -> NEAREST (dense) or NEAREST_ID; Query.order_by -> *ob
 * (q->kind stays NONE; *ordered says so). */
static qv_rc qv_grpc_query_kind(qv_grpc_req *rq, const Qdrant__QueryPoints *qp, qv_query *q,
                                qv_order_by *ob, bool *ordered, qv_err *err) {
    *ordered = false;
    if (qp->n_prefetch) return qv_grpc_unsupported(err, "prefetch");
    if (!qp->_query_case || !qp->query) {
        q->kind = QV_QUERY_NONE;
        return QV_OK;
    }
    const Qdrant__Query *qq = qp->query;
    /* An empty oneof is bad input (Qdrant's texts), not a missing feature. */
    if (qq->variant_case == QDRANT__QUERY__VARIANT__NOT_SET)
        return qv_fail(err, QV_EBADINPUT, "Query variant is missing");
    if (qq->variant_case == QDRANT__QUERY__VARIANT_ORDER_BY && qq->order_by) {
        q->kind = QV_QUERY_NONE;
        *ordered = true;
        return qv_grpc_order_by_in(rq, qq->order_by, ob, err);
    }
    if (qq->variant_case != QDRANT__QUERY__VARIANT_NEAREST || !qq->nearest)
        return qv_grpc_unsupported(err, "This query variant");
    const Qdrant__VectorInput *vi = qq->nearest;
    if (vi->variant_case == QDRANT__VECTOR_INPUT__VARIANT__NOT_SET)
        return qv_fail(err, QV_EBADINPUT, "VectorInput variant is missing");
    if (vi->variant_case == QDRANT__VECTOR_INPUT__VARIANT_ID) {
        q->kind = QV_QUERY_NEAREST_ID;
        return qv_grpc_pointid_in(vi->id, &q->id, err);
    }
    if (vi->variant_case == QDRANT__VECTOR_INPUT__VARIANT_DENSE && vi->dense) {
        q->kind = QV_QUERY_NEAREST;
        q->vector = vi->dense->data;
        q->dim = (uint32_t)vi->dense->n_data;
        return QV_OK;
    }
    return qv_grpc_unsupported(err, "Sparse, multi-dense and inference query vectors");
}

/* SearchParams: exact, hnsw_ef and quantization {ignore, rescore,
 * oversampling}; oversampling below 1 (or NaN) is refused as Qdrant's
 * validator does (QuantizationSearchParams.oversampling range(min = 1.0)). */
static qv_rc qv_grpc_search_params(const Qdrant__SearchParams *sp, qv_query *q, qv_err *err) {
    if (!sp) return QV_OK;
    q->exact = sp->_exact_case && sp->exact;
    if (sp->_hnsw_ef_case) q->hnsw_ef = (qv_opt_u64){true, sp->hnsw_ef};
    const Qdrant__AcornSearchParams *ac = sp->_acorn_case ? sp->acorn : NULL;
    if (ac) {
        q->acorn = ac->_enable_case && ac->enable;
        if (ac->_max_selectivity_case) {
            if (!(ac->max_selectivity >= 0.0 && ac->max_selectivity <= 1.0)) {
                char num[40];
                fmt_f64(num, ac->max_selectivity);
                return qv_fail(err, QV_EBADINPUT,
                               "params.acorn.max_selectivity: value %s invalid, must be from 0.0 "
                               "to 1.0",
                               num);
            }
            q->acorn_max_sel = (qv_opt_f64){true, ac->max_selectivity};
        }
    }
    const Qdrant__QuantizationSearchParams *qz = sp->_quantization_case ? sp->quantization : NULL;
    if (!qz) return QV_OK;
    if (qz->_ignore_case) q->quant_ignore = (qv_opt_bool){true, qz->ignore != 0};
    if (qz->_rescore_case) q->quant_rescore = (qv_opt_bool){true, qz->rescore != 0};
    if (qz->_oversampling_case) {
        if (!(qz->oversampling >= 1.0)) {
            char num[40];
            fmt_f64(num, qz->oversampling);
            return qv_fail(err, QV_EBADINPUT,
                           "params.quantization.oversampling: value %s invalid, must be 1.0 or "
                           "larger",
                           num);
        }
        q->oversampling = (qv_opt_f64){true, qz->oversampling};
    }
    return QV_OK;
}

/* QueryPoints -> qv_query (and *ob with *ordered for the order_by
 * variant) and the output selectors. */
static qv_rc qv_grpc_query_in(qv_grpc_req *rq, const Qdrant__QueryPoints *qp, qv_query *q,
                              qv_order_by *ob, bool *ordered, qv_grpc_out *o, qv_err *err) {
    memset(q, 0, sizeof *q);
    *ordered = false;
    if (qp->_lookup_from_case) return qv_grpc_unsupported(err, "lookup_from");
    qv_filter *filter = NULL;
    qv_rc rc = qv_grpc_query_kind(rq, qp, q, ob, ordered, err);
    if (!rc) rc = qv_grpc_filter_in(rq, qp->_filter_case ? qp->filter : NULL, &filter, err);
    if (rc) return rc;
    q->filter = filter;
    q->using = qp->_using_case && qp->using_ ? qp->using_ : "";
    q->limit = qp->_limit_case ? qp->limit : 10;
    if (q->limit == 0)
        return qv_fail(err, QV_EBADINPUT, "limit: value 0 invalid, must be 1 or larger");
    q->offset = qp->_offset_case ? qp->offset : 0;
    q->has_threshold = qp->_score_threshold_case != 0;
    q->score_threshold = qp->score_threshold;
    if ((rc = qv_grpc_search_params(qp->_params_case ? qp->params : NULL, q, err))) return rc;
    qv_grpc_payload_sel(qp->_with_payload_case ? qp->with_payload : NULL, false, &o->ps);
    qv_grpc_vector_sel(qp->_with_vectors_case ? qp->with_vectors : NULL, &o->vs);
    return QV_OK;
}

/* SearchPoints (deprecated): a nearest query on vector / vector_name. */
static qv_rc qv_grpc_search_in(qv_grpc_req *rq, const Qdrant__SearchPoints *sp, qv_query *q,
                               qv_grpc_out *o, qv_err *err) {
    memset(q, 0, sizeof *q);
    if (sp->_sparse_indices_case) return qv_grpc_unsupported(err, "Sparse vectors");
    if (sp->limit == 0)
        return qv_fail(err, QV_EBADINPUT, "limit: value 0 invalid, must be 1 or larger");
    q->kind = QV_QUERY_NEAREST;
    q->vector = sp->vector;
    q->dim = (uint32_t)sp->n_vector;
    q->using = sp->_vector_name_case && sp->vector_name ? sp->vector_name : "";
    q->limit = sp->limit;
    q->offset = sp->_offset_case ? sp->offset : 0;
    q->has_threshold = sp->_score_threshold_case != 0;
    q->score_threshold = sp->score_threshold;
    qv_rc rc = qv_grpc_search_params(sp->params, q, err);
    if (rc) return rc;
    qv_filter *filter = NULL;
    rc = qv_grpc_filter_in(rq, sp->filter, &filter, err);
    q->filter = filter;
    qv_grpc_payload_sel(sp->with_payload, false, &o->ps);
    qv_grpc_vector_sel(sp->_with_vectors_case ? sp->with_vectors : NULL, &o->vs);
    return rc;
}

qv_rc qv_grpc_h_query(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__QueryPoints *qp = (const Qdrant__QueryPoints *)in;
    qv_query q;
    qv_order_by ob;
    bool ordered = false;
    qv_grpc_out o;
    qv_rc rc = qv_grpc_query_in(rq, qp, &q, &ob, &ordered, &o, err);
    const qv_order_by *obs[1] = {ordered ? &ob : NULL};
    qv_read_opts opts = {false, qp->_timeout_case != 0, qp->timeout};
    if (rc || (rc = qv_grpc_run_queries(rq, qp->collection_name, &q, obs, &o, 1, &opts, err)))
        return rc;
    Qdrant__QueryResponse *r = QV_GRPC_NEW(rq, Qdrant__QueryResponse, qdrant__query_response__init);
    r->n_result = o.n;
    r->result = (Qdrant__ScoredPoint **)o.items;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_search(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__SearchPoints *sp = (const Qdrant__SearchPoints *)in;
    qv_query q;
    qv_grpc_out o;
    qv_rc rc = qv_grpc_search_in(rq, sp, &q, &o, err);
    qv_read_opts opts = {false, sp->_timeout_case != 0, sp->timeout};
    if (rc || (rc = qv_grpc_run_queries(rq, sp->collection_name, &q, NULL, &o, 1, &opts, err)))
        return rc;
    Qdrant__SearchResponse *r =
        QV_GRPC_NEW(rq, Qdrant__SearchResponse, qdrant__search_response__init);
    r->n_result = o.n;
    r->result = (Qdrant__ScoredPoint **)o.items;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* One BatchResult per query, in order. */
static Qdrant__BatchResult **qv_grpc_batch_results(qv_grpc_req *rq, qv_grpc_out *outs, size_t n) {
    Qdrant__BatchResult **res = qv_grpc_alloc(rq, n * sizeof *res);
    for (size_t i = 0; i < n; i++) {
        res[i] = QV_GRPC_NEW(rq, Qdrant__BatchResult, qdrant__batch_result__init);
        res[i]->n_result = outs[i].n;
        res[i]->result = (Qdrant__ScoredPoint **)outs[i].items;
    }
    return res;
}

qv_rc qv_grpc_h_query_batch(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__QueryBatchPoints *b = (const Qdrant__QueryBatchPoints *)in;
    size_t n = b->n_query_points;
    qv_query *qs = qv_grpc_alloc(rq, n * sizeof *qs);
    qv_order_by *ob = qv_grpc_alloc(rq, n * sizeof *ob);
    const qv_order_by **obs = qv_grpc_alloc(rq, n * sizeof *obs);
    qv_grpc_out *outs = qv_grpc_alloc(rq, n * sizeof *outs);
    qv_rc rc = QV_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        bool ordered = false;
        rc = qv_grpc_query_in(rq, b->query_points[i], &qs[i], &ob[i], &ordered, &outs[i], err);
        obs[i] = ordered ? &ob[i] : NULL;
    }
    qv_read_opts opts = {true, b->_timeout_case != 0, b->timeout};
    if (rc || (rc = qv_grpc_run_queries(rq, b->collection_name, qs, obs, outs, n, &opts, err)))
        return rc;
    Qdrant__QueryBatchResponse *r =
        QV_GRPC_NEW(rq, Qdrant__QueryBatchResponse, qdrant__query_batch_response__init);
    r->n_result = n;
    r->result = qv_grpc_batch_results(rq, outs, n);
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_search_batch(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__SearchBatchPoints *b = (const Qdrant__SearchBatchPoints *)in;
    size_t n = b->n_search_points;
    qv_query *qs = qv_grpc_alloc(rq, n * sizeof *qs);
    qv_grpc_out *outs = qv_grpc_alloc(rq, n * sizeof *outs);
    qv_rc rc = QV_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = qv_grpc_search_in(rq, b->search_points[i], &qs[i], &outs[i], err);
    qv_read_opts opts = {true, b->_timeout_case != 0, b->timeout};
    if (rc || (rc = qv_grpc_run_queries(rq, b->collection_name, qs, NULL, outs, n, &opts, err)))
        return rc;
    Qdrant__SearchBatchResponse *r =
        QV_GRPC_NEW(rq, Qdrant__SearchBatchResponse, qdrant__search_batch_response__init);
    r->n_result = n;
    r->result = qv_grpc_batch_results(rq, outs, n);
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* ---- Facet ------------------------------------------------------------------ */

static Qdrant__FacetHit *qv_grpc_facet_hit_out(qv_grpc_req *rq, const qv_facet_hit *h) {
    Qdrant__FacetHit *o = QV_GRPC_NEW(rq, Qdrant__FacetHit, qdrant__facet_hit__init);
    Qdrant__FacetValue *v = QV_GRPC_NEW(rq, Qdrant__FacetValue, qdrant__facet_value__init);
    if (h->kind == QV_FACET_STR) {
        v->variant_case = QDRANT__FACET_VALUE__VARIANT_STRING_VALUE;
        v->string_value = qv_grpc_strdup(rq, h->s, h->len);
    } else if (h->kind == QV_FACET_INT) {
        v->variant_case = QDRANT__FACET_VALUE__VARIANT_INTEGER_VALUE, v->integer_value = h->i;
    } else {
        v->variant_case = QDRANT__FACET_VALUE__VARIANT_BOOL_VALUE, v->bool_value = h->b;
    }
    o->value = v;
    o->count = h->count;
    return o;
}

/* FacetCounts: key, filter, limit (default 10, >= 1), exact. */
qv_rc qv_grpc_h_facet(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__FacetCounts *f = (const Qdrant__FacetCounts *)in;
    if (f->_shard_key_selector_case) return qv_grpc_unsupported(err, "shard_key_selector");
    qv_facet_req req;
    memset(&req, 0, sizeof req);
    qv_filter *filter = NULL;
    qv_rc rc = qv_grpc_key_in(rq, f->key, &req.key, err);
    if (rc || (rc = qv_grpc_filter_in(rq, f->_filter_case ? f->filter : NULL, &filter, err)))
        return rc;
    req.filter = filter;
    req.exact = f->_exact_case && f->exact;
    req.limit = f->_limit_case ? (size_t)f->limit : 10;
    if (req.limit == 0)
        return qv_fail(err, QV_EBADINPUT, "limit: value 0 invalid, must be 1 or larger");
    qv_collection *c = qv_grpc_collection(rq, f->collection_name, err);
    if (!c) return err->kind;
    qv_facet_hit *hits = NULL;
    size_t n = 0;
    qv_read_opts opts = {false, f->_timeout_case != 0, f->timeout};
    rc = qv_collection_facet(c, &req, &opts, &rq->arena, &hits, &n, err);
    qv_collection_release(c);
    if (rc) return rc;
    Qdrant__FacetResponse *r = QV_GRPC_NEW(rq, Qdrant__FacetResponse, qdrant__facet_response__init);
    r->n_hits = n;
    r->hits = qv_grpc_alloc(rq, n * sizeof *r->hits);
    for (size_t i = 0; i < n; i++) r->hits[i] = qv_grpc_facet_hit_out(rq, &hits[i]);
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}
