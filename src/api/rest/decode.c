/*
 * decode.c - REST request bodies -> operations, queries and configurations
 * (see decode.h for the contract).
 *
 * How errors are worded.  Qdrant deserialises bodies with serde and then
 * runs `validator` over the result, so there are two families of messages:
 *   - serde's ("invalid type: string \"a\", expected f32", "missing field
 *     `points`", "unknown variant `cosine`, expected one of ..."), which the
 *     encoder prefixes with "Format error in JSON body: " (QV_EFORMAT);
 *   - validator's ("vectors.size: value 0 invalid, must be from 1 to 65536"),
 *     which the encoder wraps as "Validation error in JSON body: [...]"
 *     (QV_EVALIDATION).
 * serde also appends "at line L column C"; jv keeps no source positions, so
 * those suffixes are omitted (clients match the words, not the position).
 *
 * Untagged enums (a vector is an array OR a map OR a document...) are
 * decided by looking at the JSON type first, so each branch can give the
 * specific message instead of serde's "did not match any variant".
 *
 * What it does not do: sparse vectors, multi-vectors, inference objects,
 * prefetch, shard keys and the query kinds other than nearest and order_by
 * are recognised and answered with QV_EUNIMPLEMENTED, never silently
 * dropped.
 */
#include "api/rest/decode.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_filter.h"
#include "collection/strict.h"
#include "index/filter.h"

/* ======================================================================
 * serde-style messages
 * ====================================================================== */

/* serde's description of an unexpected value ("integer `5`", "map"). */
static void qv_rest_describe(const jv *v, char *buf, size_t n) {
    switch (v ? v->type : JV_NULL) {
    case JV_NULL:
        snprintf(buf, n, "null");
        break;
    case JV_BOOL:
        snprintf(buf, n, "boolean `%s`", v->v.b ? "true" : "false");
        break;
    case JV_NUM:
        if (strpbrk(v->v.s, ".eE"))
            snprintf(buf, n, "floating point `%.40s`", v->v.s);
        else
            snprintf(buf, n, "integer `%.40s`", v->v.s);
        break;
    case JV_INT:
        snprintf(buf, n, "integer `%" PRId64 "`", v->v.i);
        break;
    case JV_UINT:
        snprintf(buf, n, "integer `%" PRIu64 "`", v->v.u);
        break;
    case JV_DBL:
        snprintf(buf, n, "floating point `%g`", v->v.d);
        break;
    case JV_STR:
        snprintf(buf, n, "string \"%.60s\"", v->v.s);
        break;
    case JV_ARR:
        snprintf(buf, n, "sequence");
        break;
    default:
        snprintf(buf, n, "map");
        break;
    }
}

static qv_rc qv_rest_bad_type(qv_err *err, const jv *v, const char *expected) {
    char d[128];
    qv_rest_describe(v, d, sizeof d);
    return qv_fail(err, QV_EFORMAT, "invalid type: %s, expected %s", d, expected);
}

static qv_rc qv_rest_missing(qv_err *err, const char *field) {
    return qv_fail(err, QV_EFORMAT, "missing field `%s`", field);
}

static qv_rc qv_rest_oom(qv_err *err) {
    return qv_fail(err, QV_ENOMEM, "out of memory while decoding the request");
}

static qv_rc qv_rest_unimpl(qv_err *err, const char *feature) {
    return qv_fail(err, QV_EUNIMPLEMENTED, "%s is not supported by Quiver yet", feature);
}

/* A member that is present and not null, else NULL. */
static const jv *qv_rest_field(const jv *obj, const char *key) {
    const jv *v = jv_get(obj, key);
    return qv_rest_absent(v) ? NULL : v;
}

static qv_rc qv_rest_need_object(const jv *v, const char *expected, qv_err *err) {
    if (v && v->type == JV_OBJ) return QV_OK;
    return qv_rest_bad_type(err, v, expected);
}

/* ======================================================================
 * Scalars
 * ====================================================================== */

/* An unsigned integer; `what` is serde's name of the target type. */
static qv_rc qv_rest_u64(const jv *v, const char *what, uint64_t *out, qv_err *err) {
    if (jv_to_u64(v, out)) return QV_OK;
    if (!jv_is_number(v)) return qv_rest_bad_type(err, v, what);
    int64_t neg;
    char d[128];
    qv_rest_describe(v, d, sizeof d);
    if (jv_to_i64(v, &neg)) /* a negative integer: a value error, not a type error */
        return qv_fail(err, QV_EFORMAT, "invalid value: %s, expected %s", d, what);
    if (v->type == JV_NUM && !strpbrk(v->v.s, ".eE"))
        return qv_fail(err, QV_EFORMAT, "invalid value: %s, expected %s", d, what);
    return qv_fail(err, QV_EFORMAT, "invalid type: %s, expected %s", d, what);
}

/* Optional unsigned field: *has false when absent or null. */
static qv_rc qv_rest_opt_u64(const jv *obj, const char *key, bool *has, uint64_t *out,
                             qv_err *err) {
    const jv *v = qv_rest_field(obj, key);
    *has = v != NULL;
    return v ? qv_rest_u64(v, "usize", out, err) : QV_OK;
}

static qv_rc qv_rest_opt_u32(const jv *obj, const char *key, bool *has, uint32_t *out,
                             qv_err *err) {
    uint64_t x = 0;
    const jv *v = qv_rest_field(obj, key);
    *has = v != NULL;
    if (!v) return QV_OK;
    qv_rc rc = qv_rest_u64(v, "u32", &x, err);
    if (rc) return rc;
    if (x > UINT32_MAX) {
        char d[128];
        qv_rest_describe(v, d, sizeof d);
        return qv_fail(err, QV_EFORMAT, "invalid value: %s, expected u32", d);
    }
    *out = (uint32_t)x;
    return QV_OK;
}

static qv_rc qv_rest_opt_bool(const jv *obj, const char *key, bool *has, bool *out, qv_err *err) {
    const jv *v = qv_rest_field(obj, key);
    *has = v != NULL;
    if (!v) return QV_OK;
    if (v->type != JV_BOOL) return qv_rest_bad_type(err, v, "a boolean");
    *out = v->v.b != 0;
    return QV_OK;
}

static qv_rc qv_rest_opt_f64(const jv *obj, const char *key, bool *has, double *out, qv_err *err) {
    const jv *v = qv_rest_field(obj, key);
    *has = v != NULL;
    if (!v) return QV_OK;
    if (!jv_is_number(v)) return qv_rest_bad_type(err, v, "f64");
    if (!jv_to_f64(v, out)) return qv_fail(err, QV_EFORMAT, "number out of range");
    return QV_OK;
}

/* A float32 (vector element, score threshold): non-finite is refused. */
static qv_rc qv_rest_f32(const jv *v, float *out, qv_err *err) {
    if (jv_to_f32(v, out)) return QV_OK;
    if (!jv_is_number(v)) return qv_rest_bad_type(err, v, "f32");
    char d[128];
    qv_rest_describe(v, d, sizeof d);
    return qv_fail(err, QV_EFORMAT, "invalid value: %s, expected a finite f32", d);
}

/* An optional string; the result borrows from the body (same arena). */
static qv_rc qv_rest_opt_str(const jv *obj, const char *key, const char **out, qv_err *err) {
    const jv *v = qv_rest_field(obj, key);
    *out = NULL;
    if (!v) return QV_OK;
    if (v->type != JV_STR) return qv_rest_bad_type(err, v, "a string");
    *out = v->v.s;
    return QV_OK;
}

/* validator's range message: "field: value X invalid, must be ...". */
static qv_rc qv_rest_range_fail(qv_err *err, const char *field, uint64_t x, uint64_t min,
                                uint64_t max) {
    if (max == UINT64_MAX)
        return qv_fail(err, QV_EVALIDATION,
                       "%s: value %" PRIu64 " invalid, must be %" PRIu64 " or larger", field, x,
                       min);
    return qv_fail(err, QV_EVALIDATION,
                   "%s: value %" PRIu64 " invalid, must be from %" PRIu64 " to %" PRIu64, field, x,
                   min, max);
}

static qv_rc qv_rest_check_range(const char *field, uint64_t x, uint64_t min, uint64_t max,
                                 qv_err *err) {
    return (x < min || x > max) ? qv_rest_range_fail(err, field, x, min, max) : QV_OK;
}

/* ======================================================================
 * Point IDs
 * ====================================================================== */

static qv_rc qv_rest_bad_id(qv_err *err, const jv *v) {
    char d[128];
    if (v && v->type == JV_STR)
        snprintf(d, sizeof d, "\"%.60s\"", v->v.s);
    else if (v && v->type == JV_NUM)
        snprintf(d, sizeof d, "%.60s", v->v.s);
    else
        qv_rest_describe(v, d, sizeof d);
    return qv_fail(err, QV_EFORMAT,
                   "value %s is not a valid point ID, valid values are either an unsigned "
                   "integer or a UUID",
                   d);
}

qv_rc qv_rest_decode_pointid(const jv *v, qv_pointid *out, qv_err *err) {
    uint64_t n;
    if (v && jv_is_number(v)) {
        if (!jv_to_u64(v, &n)) return qv_rest_bad_id(err, v);
        *out = qv_pointid_num(n);
        return QV_OK;
    }
    if (v && v->type == JV_STR) {
        if (!qv_pointid_parse_uuid(v->v.s, v->len, out)) return qv_rest_bad_id(err, v);
        return QV_OK;
    }
    return qv_rest_bad_id(err, v);
}

qv_rc qv_rest_decode_pointid_str(const char *s, qv_pointid *out, qv_err *err) {
    size_t len = strlen(s);
    uint64_t n = 0;
    bool digits = len > 0 && len <= 20;
    for (size_t i = 0; digits && i < len; i++) digits = s[i] >= '0' && s[i] <= '9';
    if (digits) { /* a path segment has no JSON type: digits are a number */
        for (size_t i = 0; i < len; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (n > (UINT64_MAX - d) / 10) goto bad;
            n = n * 10 + d;
        }
        *out = qv_pointid_num(n);
        return QV_OK;
    }
    if (qv_pointid_parse_uuid(s, len, out)) return QV_OK;
bad:
    return qv_fail(err, QV_EBADINPUT,
                   "Unable to parse point id `%.80s`: valid values are either an unsigned "
                   "integer or a UUID",
                   s);
}

/* A JSON array of point IDs. */
static qv_rc qv_rest_ids(qv_arena *a, const jv *arr, qv_pointid **ids, uint32_t *n, qv_err *err) {
    if (arr->type != JV_ARR) return qv_rest_bad_type(err, arr, "a sequence");
    *n = arr->len;
    *ids = qv_arena_alloc(a, sizeof(qv_pointid) * (arr->len ? arr->len : 1));
    if (!*ids) return qv_rest_oom(err);
    for (uint32_t i = 0; i < arr->len; i++) {
        qv_rc rc = qv_rest_decode_pointid(&arr->v.items[i], &(*ids)[i], err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* ======================================================================
 * Filters, payloads, shard keys
 * ====================================================================== */

static qv_rc qv_rest_filter(qv_arena *a, const jv *obj, struct qv_filter **out, qv_err *err) {
    const jv *v = qv_rest_field(obj, "filter");
    *out = NULL;
    if (!v) return QV_OK;
    return qv_filter_from_json(a, v, out, err);
}

/* Qdrant payloads are JSON objects; copied and numbers resolved. */
static qv_rc qv_rest_payload(qv_arena *a, const jv *v, jv *out, qv_err *err) {
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "a map");
    if (!jv_copy(a, v, out)) return qv_rest_oom(err);
    jv_resolve_numbers(out);
    return QV_OK;
}

/* Custom sharding is not there yet: a non-null shard_key is refused. */
static qv_rc qv_rest_no_shard_key(const jv *obj, qv_err *err) {
    if (qv_rest_field(obj, "shard_key")) return qv_rest_unimpl(err, "shard_key");
    return QV_OK;
}

/* update_filter (conditional upsert) and update_mode other than "upsert". */
static qv_rc qv_rest_no_update_filter(const jv *obj, qv_err *err) {
    if (qv_rest_field(obj, "update_filter")) return qv_rest_unimpl(err, "update_filter");
    const jv *m = qv_rest_field(obj, "update_mode");
    if (m && !(m->type == JV_STR && strcmp(m->v.s, "upsert") == 0))
        return qv_rest_unimpl(err, "update_mode other than \"upsert\"");
    return qv_rest_no_shard_key(obj, err);
}

/* ======================================================================
 * Vectors
 * ====================================================================== */

/* A dense vector: a JSON array of numbers. */
static qv_rc qv_rest_dense(qv_arena *a, const jv *arr, float **data, uint32_t *dim, qv_err *err) {
    if (arr->type != JV_ARR) return qv_rest_bad_type(err, arr, "a sequence");
    *dim = arr->len;
    *data = qv_arena_alloc(a, sizeof(float) * (arr->len ? arr->len : 1));
    if (!*data) return qv_rest_oom(err);
    for (uint32_t i = 0; i < arr->len; i++) {
        qv_rc rc = qv_rest_f32(&arr->v.items[i], &(*data)[i], err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* Refuses the vector kinds the engine does not store yet, by shape. */
static qv_rc qv_rest_vector_kind_check(const jv *v, qv_err *err) {
    if (v->type == JV_ARR && v->len > 0 && v->v.items[0].type == JV_ARR)
        return qv_rest_unimpl(err, "multi-vectors");
    if (v->type == JV_OBJ) {
        if (jv_get(v, "indices") || jv_get(v, "values"))
            return qv_rest_unimpl(err, "sparse vectors");
        if (jv_get(v, "text") || jv_get(v, "image") || jv_get(v, "object"))
            return qv_rest_unimpl(err, "inference (documents, images, objects)");
    }
    return QV_OK;
}

/* One point's VectorStruct: an array (unnamed) or a map name -> vector. */
static qv_rc qv_rest_vector_struct(qv_arena *a, const jv *v, qv_point_in *p, qv_err *err) {
    qv_rc rc = qv_rest_vector_kind_check(v, err);
    if (rc) return rc;
    if (v->type == JV_ARR) {
        p->nvec = 1;
        p->vecs = qv_arena_calloc(a, sizeof(qv_vec_in));
        if (!p->vecs) return qv_rest_oom(err);
        p->vecs[0].name = "";
        return qv_rest_dense(a, v, &p->vecs[0].data, &p->vecs[0].dim, err);
    }
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "a vector or a map of named vectors");
    p->nvec = v->len;
    p->vecs = qv_arena_calloc(a, sizeof(qv_vec_in) * (v->len ? v->len : 1));
    if (!p->vecs) return qv_rest_oom(err);
    for (uint32_t i = 0; i < v->len; i++) {
        const jv_member *m = &v->v.members[i];
        if ((rc = qv_rest_vector_kind_check(&m->val, err))) return rc;
        p->vecs[i].name = m->key;
        if ((rc = qv_rest_dense(a, &m->val, &p->vecs[i].data, &p->vecs[i].dim, err))) return rc;
    }
    return QV_OK;
}

/* One PointStruct {id, vector, payload} (vector optional for update_vectors'
 * PointVectors, where payload is not accepted). */
static qv_rc qv_rest_point(qv_arena *a, const jv *v, bool with_payload, qv_point_in *p,
                           qv_err *err) {
    qv_rc rc = qv_rest_need_object(v, "struct PointStruct", err);
    if (rc) return rc;
    const jv *id = qv_rest_field(v, "id");
    const jv *vec = qv_rest_field(v, "vector");
    if (!id) return qv_rest_missing(err, "id");
    if (!vec) return qv_rest_missing(err, "vector");
    if ((rc = qv_rest_decode_pointid(id, &p->id, err))) return rc;
    if ((rc = qv_rest_vector_struct(a, vec, p, err))) return rc;
    const jv *pl = with_payload ? qv_rest_field(v, "payload") : NULL;
    p->has_payload = pl != NULL;
    p->payload.type = JV_NULL;
    return pl ? qv_rest_payload(a, pl, &p->payload, err) : QV_OK;
}

static qv_rc qv_rest_points_list(qv_arena *a, const jv *arr, bool with_payload, qv_update_op *op,
                                 qv_err *err) {
    if (arr->type != JV_ARR) return qv_rest_bad_type(err, arr, "a sequence");
    op->npoints = arr->len;
    op->points = qv_arena_calloc(a, sizeof(qv_point_in) * (arr->len ? arr->len : 1));
    if (!op->points) return qv_rest_oom(err);
    for (uint32_t i = 0; i < arr->len; i++) {
        qv_rc rc = qv_rest_point(a, &arr->v.items[i], with_payload, &op->points[i], err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* The column form's vectors for one name: an array of nids dense vectors,
 * appended as vector number slot of every point. */
static qv_rc qv_rest_batch_column(qv_arena *a, const jv *col, const char *name, qv_update_op *op,
                                  uint32_t slot, qv_err *err) {
    if (col->type != JV_ARR) return qv_rest_bad_type(err, col, "a sequence");
    if (col->len != op->npoints)
        return qv_fail(err, QV_EBADINPUT,
                       "Batch has %u ids but %u vectors%s%s: the numbers must be equal",
                       op->npoints, col->len, *name ? " named " : "", name);
    for (uint32_t i = 0; i < col->len; i++) {
        const jv *v = &col->v.items[i];
        qv_rc rc = qv_rest_vector_kind_check(v, err);
        if (rc) return rc;
        qv_vec_in *vi = &op->points[i].vecs[slot];
        vi->name = name;
        if ((rc = qv_rest_dense(a, v, &vi->data, &vi->dim, err))) return rc;
    }
    return QV_OK;
}

static qv_rc qv_rest_batch_payloads(qv_arena *a, const jv *pls, qv_update_op *op, qv_err *err) {
    if (pls->type != JV_ARR) return qv_rest_bad_type(err, pls, "a sequence");
    if (pls->len != op->npoints)
        return qv_fail(err, QV_EBADINPUT,
                       "Batch has %u ids but %u payloads: the numbers must be equal", op->npoints,
                       pls->len);
    for (uint32_t i = 0; i < pls->len; i++) {
        if (qv_rest_absent(&pls->v.items[i])) continue;
        op->points[i].has_payload = true;
        qv_rc rc = qv_rest_payload(a, &pls->v.items[i], &op->points[i].payload, err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* {"ids": [...], "vectors": [[...]] | {name: [[...]]}, "payloads": [...]} */
static qv_rc qv_rest_points_batch(qv_arena *a, const jv *b, qv_update_op *op, qv_err *err) {
    qv_rc rc = qv_rest_need_object(b, "struct Batch", err);
    if (rc) return rc;
    const jv *ids = qv_rest_field(b, "ids"), *vecs = qv_rest_field(b, "vectors");
    if (!ids) return qv_rest_missing(err, "ids");
    if (!vecs) return qv_rest_missing(err, "vectors");
    qv_pointid *idv;
    if ((rc = qv_rest_ids(a, ids, &idv, &op->npoints, err))) return rc;
    op->points = qv_arena_calloc(a, sizeof(qv_point_in) * (op->npoints ? op->npoints : 1));
    if (!op->points) return qv_rest_oom(err);
    uint32_t nnames = vecs->type == JV_OBJ ? vecs->len : 1;
    if (vecs->type != JV_OBJ && vecs->type != JV_ARR)
        return qv_rest_bad_type(err, vecs, "a sequence or a map of named vectors");
    for (uint32_t i = 0; i < op->npoints; i++) {
        op->points[i].id = idv[i];
        op->points[i].nvec = nnames;
        op->points[i].vecs = qv_arena_calloc(a, sizeof(qv_vec_in) * (nnames ? nnames : 1));
        if (!op->points[i].vecs) return qv_rest_oom(err);
    }
    if (vecs->type == JV_ARR) {
        rc = qv_rest_batch_column(a, vecs, "", op, 0, err);
    } else {
        for (uint32_t k = 0; k < vecs->len && !rc; k++)
            rc = qv_rest_batch_column(a, &vecs->v.members[k].val, vecs->v.members[k].key, op, k,
                                      err);
    }
    if (rc) return rc;
    const jv *pls = qv_rest_field(b, "payloads");
    return pls ? qv_rest_batch_payloads(a, pls, op, err) : QV_OK;
}

qv_rc qv_rest_decode_upsert(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    memset(op, 0, sizeof *op);
    op->kind = QV_OP_UPSERT;
    op->payload.type = JV_NULL;
    qv_rc rc = qv_rest_need_object(body, "struct PointsList or struct PointsBatch", err);
    if (rc) return rc;
    if ((rc = qv_rest_no_update_filter(body, err))) return rc;
    const jv *pts = qv_rest_field(body, "points"), *batch = qv_rest_field(body, "batch");
    if (pts) return qv_rest_points_list(a, pts, true, op, err);
    if (batch) return qv_rest_points_batch(a, batch, op, err);
    return qv_fail(err, QV_EFORMAT,
                   "data did not match any variant of untagged enum PointInsertOperations");
}

/* ======================================================================
 * Point selectors and the other update operations
 * ====================================================================== */

/* points: [ids] or filter: {...}; one of them must be given (when both
 * are, the ids win, as Qdrant's selector conversion does). */
static qv_rc qv_rest_selector(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    qv_rc rc = qv_rest_no_shard_key(body, err);
    if (rc) return rc;
    const jv *pts = qv_rest_field(body, "points");
    if (pts) return qv_rest_ids(a, pts, &op->ids, &op->nids, err);
    if (qv_rest_field(body, "filter")) return qv_rest_filter(a, body, &op->filter, err);
    return qv_fail(err, QV_EFORMAT, "Either list of point ids or filter must be provided");
}

static void qv_rest_op_init(qv_update_op *op, uint32_t kind) {
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->payload.type = JV_NULL;
}

qv_rc qv_rest_decode_delete(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    qv_rest_op_init(op, QV_OP_DELETE);
    qv_rc rc = qv_rest_need_object(body, "struct PointIdsList or struct FilterSelector", err);
    return rc ? rc : qv_rest_selector(a, body, op, err);
}

qv_rc qv_rest_decode_clear_payload(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    qv_rest_op_init(op, QV_OP_CLEAR_PAYLOAD);
    qv_rc rc = qv_rest_need_object(body, "struct PointIdsList or struct FilterSelector", err);
    return rc ? rc : qv_rest_selector(a, body, op, err);
}

qv_rc qv_rest_decode_set_payload(qv_arena *a, const jv *body, uint32_t kind, qv_update_op *op,
                                 qv_err *err) {
    qv_rest_op_init(op, kind);
    qv_rc rc = qv_rest_need_object(body, "struct SetPayload", err);
    if (rc) return rc;
    const jv *pl = qv_rest_field(body, "payload");
    if (!pl) return qv_rest_missing(err, "payload");
    if ((rc = qv_rest_payload(a, pl, &op->payload, err))) return rc;
    if ((rc = qv_rest_opt_str(body, "key", &op->key, err))) return rc;
    if (op->key && kind == QV_OP_OVERWRITE_PAYLOAD) op->key = NULL; /* Qdrant ignores it */
    return qv_rest_selector(a, body, op, err);
}

/* A JSON array of strings into names/nnames. */
static qv_rc qv_rest_strings(qv_arena *a, const jv *arr, const char ***out, uint32_t *n,
                             qv_err *err) {
    if (arr->type != JV_ARR) return qv_rest_bad_type(err, arr, "a sequence");
    *n = arr->len;
    *out = qv_arena_alloc(a, sizeof(char *) * (arr->len ? arr->len : 1));
    if (!*out) return qv_rest_oom(err);
    for (uint32_t i = 0; i < arr->len; i++) {
        if (arr->v.items[i].type != JV_STR)
            return qv_rest_bad_type(err, &arr->v.items[i], "a string");
        (*out)[i] = arr->v.items[i].v.s;
    }
    return QV_OK;
}

qv_rc qv_rest_decode_delete_payload(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    qv_rest_op_init(op, QV_OP_DELETE_PAYLOAD);
    qv_rc rc = qv_rest_need_object(body, "struct DeletePayload", err);
    if (rc) return rc;
    const jv *keys = qv_rest_field(body, "keys");
    if (!keys) return qv_rest_missing(err, "keys");
    if ((rc = qv_rest_strings(a, keys, &op->names, &op->nnames, err))) return rc;
    return qv_rest_selector(a, body, op, err);
}

qv_rc qv_rest_decode_update_vectors(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    qv_rest_op_init(op, QV_OP_UPDATE_VECTORS);
    qv_rc rc = qv_rest_need_object(body, "struct UpdateVectors", err);
    if (rc) return rc;
    if ((rc = qv_rest_no_update_filter(body, err))) return rc;
    const jv *pts = qv_rest_field(body, "points");
    if (!pts) return qv_rest_missing(err, "points");
    if (pts->type == JV_ARR && pts->len == 0)
        return qv_fail(err, QV_EVALIDATION, "points: must contain at least 1 item");
    return qv_rest_points_list(a, pts, false, op, err);
}

qv_rc qv_rest_decode_delete_vectors(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    qv_rest_op_init(op, QV_OP_DELETE_VECTORS);
    qv_rc rc = qv_rest_need_object(body, "struct DeleteVectors", err);
    if (rc) return rc;
    const jv *names = qv_rest_field(body, "vector");
    if (!names) return qv_rest_missing(err, "vector");
    if ((rc = qv_rest_strings(a, names, &op->names, &op->nnames, err))) return rc;
    if (op->nnames == 0)
        return qv_fail(err, QV_EVALIDATION, "vector: must contain at least 1 item");
    return qv_rest_selector(a, body, op, err);
}

/* One element of UpdateOperations: an object with exactly one known key. */
static qv_rc qv_rest_batch_op(qv_arena *a, const jv *v, qv_update_op *op, qv_err *err) {
    qv_rc rc = qv_rest_need_object(v, "enum UpdateOperation", err);
    if (rc) return rc;
    const jv *x;
    if ((x = qv_rest_field(v, "upsert"))) return qv_rest_decode_upsert(a, x, op, err);
    if ((x = qv_rest_field(v, "delete"))) return qv_rest_decode_delete(a, x, op, err);
    if ((x = qv_rest_field(v, "set_payload")))
        return qv_rest_decode_set_payload(a, x, QV_OP_SET_PAYLOAD, op, err);
    if ((x = qv_rest_field(v, "overwrite_payload")))
        return qv_rest_decode_set_payload(a, x, QV_OP_OVERWRITE_PAYLOAD, op, err);
    if ((x = qv_rest_field(v, "delete_payload")))
        return qv_rest_decode_delete_payload(a, x, op, err);
    if ((x = qv_rest_field(v, "clear_payload"))) return qv_rest_decode_clear_payload(a, x, op, err);
    if ((x = qv_rest_field(v, "update_vectors")))
        return qv_rest_decode_update_vectors(a, x, op, err);
    if ((x = qv_rest_field(v, "delete_vectors")))
        return qv_rest_decode_delete_vectors(a, x, op, err);
    return qv_fail(err, QV_EFORMAT,
                   "data did not match any variant of untagged enum "
                   "UpdateOperation");
}

qv_rc qv_rest_decode_batch(qv_arena *a, const jv *body, qv_update_op **ops, size_t *n,
                           qv_err *err) {
    *ops = NULL;
    *n = 0;
    qv_rc rc = qv_rest_need_object(body, "struct UpdateOperations", err);
    if (rc) return rc;
    const jv *arr = qv_rest_field(body, "operations");
    if (!arr) return qv_rest_missing(err, "operations");
    if (arr->type != JV_ARR) return qv_rest_bad_type(err, arr, "a sequence");
    *ops = qv_arena_calloc(a, sizeof(qv_update_op) * (arr->len ? arr->len : 1));
    if (!*ops) return qv_rest_oom(err);
    for (uint32_t i = 0; i < arr->len; i++)
        if ((rc = qv_rest_batch_op(a, &arr->v.items[i], &(*ops)[i], err))) return rc;
    *n = arr->len;
    return QV_OK;
}

/* ======================================================================
 * with_payload / with_vector
 * ====================================================================== */

static qv_rc qv_rest_payload_keys(qv_arena *a, const jv *arr, uint32_t mode,
                                  qv_rest_payload_sel *sel, qv_err *err) {
    sel->mode = mode;
    return qv_rest_strings(a, arr, &sel->keys, &sel->nkeys, err);
}

/* bool | [keys] | {include: [keys]} | {exclude: [keys]}; absent = dflt. */
static qv_rc qv_rest_with_payload(qv_arena *a, const jv *body, bool dflt, qv_rest_payload_sel *sel,
                                  qv_err *err) {
    const jv *v = qv_rest_field(body, "with_payload");
    memset(sel, 0, sizeof *sel);
    sel->mode = dflt ? QV_REST_PAYLOAD_ALL : QV_REST_PAYLOAD_NONE;
    if (!v) return QV_OK;
    if (v->type == JV_BOOL) {
        sel->mode = v->v.b ? QV_REST_PAYLOAD_ALL : QV_REST_PAYLOAD_NONE;
        return QV_OK;
    }
    if (v->type == JV_ARR) return qv_rest_payload_keys(a, v, QV_REST_PAYLOAD_INCLUDE, sel, err);
    const jv *inc = v->type == JV_OBJ ? qv_rest_field(v, "include") : NULL;
    const jv *exc = v->type == JV_OBJ ? qv_rest_field(v, "exclude") : NULL;
    if (inc) return qv_rest_payload_keys(a, inc, QV_REST_PAYLOAD_INCLUDE, sel, err);
    if (exc) return qv_rest_payload_keys(a, exc, QV_REST_PAYLOAD_EXCLUDE, sel, err);
    return qv_fail(err, QV_EFORMAT,
                   "data did not match any variant of untagged enum WithPayloadInterface");
}

/* with_vector (alias with_vectors): bool | [names]; absent = none. */
static qv_rc qv_rest_with_vector(qv_arena *a, const jv *body, qv_rest_vector_sel *sel,
                                 qv_err *err) {
    const jv *v = qv_rest_field(body, "with_vector");
    if (!v) v = qv_rest_field(body, "with_vectors");
    memset(sel, 0, sizeof *sel);
    if (!v) return QV_OK;
    if (v->type == JV_BOOL) {
        sel->all = v->v.b != 0;
        return QV_OK;
    }
    if (v->type == JV_ARR) return qv_rest_strings(a, v, &sel->names, &sel->nnames, err);
    return qv_fail(err, QV_EFORMAT, "data did not match any variant of untagged enum WithVector");
}

/* ======================================================================
 * Queries
 * ====================================================================== */

/* limit: optional, >= 1, default dflt. */
static qv_rc qv_rest_limit(const jv *body, size_t dflt, size_t *out, qv_err *err) {
    bool has;
    uint64_t x = dflt;
    qv_rc rc = qv_rest_opt_u64(body, "limit", &has, &x, err);
    if (rc) return rc;
    if ((rc = qv_rest_check_range("limit", x, 1, UINT64_MAX, err))) return rc;
    *out = x > SIZE_MAX ? SIZE_MAX : (size_t)x;
    return QV_OK;
}

/* params.quantization (QuantizationSearchParams): ignore, rescore and
 * oversampling (validator: oversampling >= 1). */
static qv_rc qv_rest_quant_search_params(const jv *qz, qv_query *q, qv_err *err) {
    qv_rc rc = qv_rest_need_object(qz, "struct QuantizationSearchParams", err);
    qv_opt_bool *ig = &q->quant_ignore, *rs = &q->quant_rescore;
    qv_opt_f64 *os = &q->oversampling;
    if (!rc) rc = qv_rest_opt_bool(qz, "ignore", &ig->has, &ig->v, err);
    if (!rc) rc = qv_rest_opt_bool(qz, "rescore", &rs->has, &rs->v, err);
    if (!rc) rc = qv_rest_opt_f64(qz, "oversampling", &os->has, &os->v, err);
    if (!rc && os->has && !(os->v >= 1.0)) {
        char num[40];
        fmt_f64(num, os->v);
        rc = qv_fail(err, QV_EVALIDATION,
                     "params.quantization.oversampling: value %s invalid, must be 1.0 or larger",
                     num);
    }
    return rc;
}

/* params.acorn: {enable, max_selectivity in [0, 1] or null}. */
static qv_rc qv_rest_acorn_params(const jv *ac, qv_query *q, qv_err *err) {
    qv_rc rc = qv_rest_need_object(ac, "struct AcornSearchParams", err);
    bool has = false, en = false;
    if (!rc) rc = qv_rest_opt_bool(ac, "enable", &has, &en, err);
    q->acorn = en;
    qv_opt_f64 *ms = &q->acorn_max_sel;
    if (!rc) rc = qv_rest_opt_f64(ac, "max_selectivity", &ms->has, &ms->v, err);
    if (!rc && ms->has && !(ms->v >= 0.0 && ms->v <= 1.0)) {
        char num[40];
        fmt_f64(num, ms->v);
        rc =
            qv_fail(err, QV_EVALIDATION,
                    "params.acorn.max_selectivity: value %s invalid, must be from 0.0 to 1.0", num);
    }
    return rc;
}

/* The fields every query shape shares: filter, offset, score_threshold,
 * params, with_payload, with_vector. */
static qv_rc qv_rest_query_common(qv_arena *a, const jv *body, qv_rest_query *out, qv_err *err) {
    bool has;
    uint64_t off = 0;
    qv_rc rc;
    if ((rc = qv_rest_no_shard_key(body, err))) return rc;
    struct qv_filter *f = NULL;
    if ((rc = qv_rest_filter(a, body, &f, err))) return rc;
    out->q.filter = f;
    if ((rc = qv_rest_opt_u64(body, "offset", &has, &off, err))) return rc;
    out->q.offset = off > SIZE_MAX ? SIZE_MAX : (size_t)off;
    const jv *t = qv_rest_field(body, "score_threshold");
    if (t) {
        if ((rc = qv_rest_f32(t, &out->q.score_threshold, err))) return rc;
        out->q.has_threshold = true;
    }
    const jv *params = qv_rest_field(body, "params");
    if (params) {
        if ((rc = qv_rest_need_object(params, "struct SearchParams", err))) return rc;
        bool ex = false;
        if ((rc = qv_rest_opt_bool(params, "exact", &has, &ex, err))) return rc;
        out->q.exact = ex;
        qv_opt_u64 *ef = &out->q.hnsw_ef;
        if ((rc = qv_rest_opt_u64(params, "hnsw_ef", &ef->has, &ef->v, err))) return rc;
        const jv *qz = qv_rest_field(params, "quantization");
        if (qz && (rc = qv_rest_quant_search_params(qz, &out->q, err))) return rc;
        const jv *ac = qv_rest_field(params, "acorn");
        if (ac && (rc = qv_rest_acorn_params(ac, &out->q, err))) return rc;
    }
    if ((rc = qv_rest_with_payload(a, body, false, &out->with_payload, err))) return rc;
    return qv_rest_with_vector(a, body, &out->with_vector, err);
}

/* The query kinds of the universal API that are not implemented yet. */
static const char *const qv_rest_other_queries[] = {
    "recommend", "discover", "context", "fusion", "rrf", "formula", "sample", "relevance_feedback",
};

/* ---- order_by ---------------------------------------------------------------
 * OrderByInterface is serde-untagged (a key path string, or OrderBy {key,
 * direction, start_from}), so any error inside it is reported as the
 * enum's "did not match any variant" (enum_name: OrderByInterface, or
 * QueryInterface when it is the query's order_by variant, whose untagged
 * parent swallows the inner message too).  StartFrom is untagged as well:
 * an integer that fits i64, else a number (f64), else a datetime string
 * (kept as microseconds since the epoch, as Qdrant compares it). */

static qv_rc qv_rest_order_fail(qv_err *err, const char *enum_name) {
    return qv_fail(err, QV_EFORMAT, "data did not match any variant of untagged enum %s",
                   enum_name);
}

static bool qv_rest_start_from(const jv *v, qv_order_value *out) {
    memset(out, 0, sizeof *out);
    if (jv_to_i64(v, &out->i)) return true;
    if (jv_is_number(v)) {
        out->is_float = true;
        return jv_to_f64(v, &out->f);
    }
    qv_filter_time t;
    if (v->type != JV_STR || !qv_filter_parse_time(v->v.s, v->len, &t)) return false;
    out->i = t.sec * 1000000 + t.nsec / 1000;
    return true;
}

static qv_rc qv_rest_order_by(qv_arena *a, const jv *v, const char *enum_name, qv_order_by *out,
                              qv_err *err) {
    memset(out, 0, sizeof *out);
    const jv *key = v, *dir = NULL, *start = NULL;
    if (v && v->type == JV_OBJ) {
        key = jv_get(v, "key");
        dir = qv_rest_field(v, "direction");
        start = qv_rest_field(v, "start_from");
    }
    if (!key || key->type != JV_STR) return qv_rest_order_fail(err, enum_name);
    qv_keypath *kp = NULL;
    qv_err perr;
    if (qv_keypath_parse(a, key->v.s, key->len, &kp, &perr)) {
        if (perr.kind == QV_ENOMEM) return qv_rest_oom(err);
        return qv_rest_order_fail(err, enum_name);
    }
    out->key = kp;
    if (dir) {
        if (dir->type != JV_STR || (strcmp(dir->v.s, "asc") && strcmp(dir->v.s, "desc")))
            return qv_rest_order_fail(err, enum_name);
        out->desc = strcmp(dir->v.s, "desc") == 0;
    }
    if (start) {
        if (!qv_rest_start_from(start, &out->start)) return qv_rest_order_fail(err, enum_name);
        out->has_start = true;
    }
    return QV_OK;
}

/* VectorInput: a dense vector or a point ID (others unimplemented). */
static qv_rc qv_rest_vector_input(qv_arena *a, const jv *v, qv_query *q, qv_err *err) {
    qv_rc rc = qv_rest_vector_kind_check(v, err);
    if (rc) return rc;
    if (v->type == JV_ARR) {
        q->kind = QV_QUERY_NEAREST;
        return qv_rest_dense(a, v, &q->vector, &q->dim, err);
    }
    if (jv_is_number(v) || v->type == JV_STR) {
        q->kind = QV_QUERY_NEAREST_ID;
        return qv_rest_decode_pointid(v, &q->id, err);
    }
    return qv_fail(err, QV_EFORMAT,
                   "data did not match any variant of untagged enum "
                   "QueryInterface");
}

/* query: VectorInput | {"nearest": VectorInput, "mmr"?} | {"order_by":
 * OrderByInterface} | other kinds. */
static qv_rc qv_rest_query_field(qv_arena *a, const jv *v, qv_rest_query *out, qv_err *err) {
    qv_query *q = &out->q;
    if (v->type != JV_OBJ) return qv_rest_vector_input(a, v, q, err);
    const jv *near = qv_rest_field(v, "nearest");
    if (near) {
        if (qv_rest_field(v, "mmr")) return qv_rest_unimpl(err, "MMR (nearest with mmr)");
        return qv_rest_vector_input(a, near, q, err);
    }
    const jv *ob = jv_get(v, "order_by");
    if (ob) {
        q->kind = QV_QUERY_NONE;
        out->has_order_by = true;
        return qv_rest_order_by(a, ob, "QueryInterface", &out->order_by, err);
    }
    for (size_t i = 0; i < sizeof qv_rest_other_queries / sizeof *qv_rest_other_queries; i++) {
        if (jv_get(v, qv_rest_other_queries[i])) {
            char what[64];
            snprintf(what, sizeof what, "the `%s` query", qv_rest_other_queries[i]);
            return qv_rest_unimpl(err, what);
        }
    }
    return qv_rest_vector_input(a, v, q, err);
}

qv_rc qv_rest_decode_query(qv_arena *a, const jv *body, qv_rest_query *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    out->q.using = "";
    qv_rc rc = qv_rest_need_object(body, "struct QueryRequest", err);
    if (rc) return rc;
    const jv *pf = qv_rest_field(body, "prefetch");
    if (pf && !(pf->type == JV_ARR && pf->len == 0)) return qv_rest_unimpl(err, "prefetch");
    if (qv_rest_field(body, "lookup_from")) return qv_rest_unimpl(err, "lookup_from");
    const jv *qv = qv_rest_field(body, "query");
    if (qv && (rc = qv_rest_query_field(a, qv, out, err))) return rc;
    const char *using = NULL;
    if ((rc = qv_rest_opt_str(body, "using", &using, err))) return rc;
    if (using) out->q.using = using;
    if ((rc = qv_rest_limit(body, 10, &out->q.limit, err))) return rc;
    return qv_rest_query_common(a, body, out, err);
}

/* {"searches": [...]} with one decoder per element. */
static qv_rc qv_rest_decode_many(qv_arena *a, const jv *body,
                                 qv_rc (*one)(qv_arena *, const jv *, qv_rest_query *, qv_err *),
                                 qv_rest_query **out, size_t *n, qv_err *err) {
    *out = NULL;
    *n = 0;
    qv_rc rc = qv_rest_need_object(body, "struct with field `searches`", err);
    if (rc) return rc;
    const jv *arr = qv_rest_field(body, "searches");
    if (!arr) return qv_rest_missing(err, "searches");
    if (arr->type != JV_ARR) return qv_rest_bad_type(err, arr, "a sequence");
    *out = qv_arena_calloc(a, sizeof(qv_rest_query) * (arr->len ? arr->len : 1));
    if (!*out) return qv_rest_oom(err);
    for (uint32_t i = 0; i < arr->len; i++)
        if ((rc = one(a, &arr->v.items[i], &(*out)[i], err))) return rc;
    *n = arr->len;
    return QV_OK;
}

qv_rc qv_rest_decode_query_batch(qv_arena *a, const jv *body, qv_rest_query **out, size_t *n,
                                 qv_err *err) {
    return qv_rest_decode_many(a, body, qv_rest_decode_query, out, n, err);
}

/* Legacy NamedVectorStruct: [floats] or {"name": .., "vector": [floats]}. */
static qv_rc qv_rest_search_vector(qv_arena *a, const jv *v, qv_query *q, qv_err *err) {
    q->kind = QV_QUERY_NEAREST;
    if (v->type == JV_ARR) return qv_rest_dense(a, v, &q->vector, &q->dim, err);
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "a vector or a named vector");
    const jv *name = qv_rest_field(v, "name"), *vec = qv_rest_field(v, "vector");
    if (!name) return qv_rest_missing(err, "name");
    if (!vec) return qv_rest_missing(err, "vector");
    if (name->type != JV_STR) return qv_rest_bad_type(err, name, "a string");
    q->using = name->v.s;
    qv_rc rc = qv_rest_vector_kind_check(vec, err);
    return rc ? rc : qv_rest_dense(a, vec, &q->vector, &q->dim, err);
}

qv_rc qv_rest_decode_search(qv_arena *a, const jv *body, qv_rest_query *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    out->q.using = "";
    qv_rc rc = qv_rest_need_object(body, "struct SearchRequest", err);
    if (rc) return rc;
    const jv *vec = qv_rest_field(body, "vector");
    if (!vec) return qv_rest_missing(err, "vector");
    if ((rc = qv_rest_search_vector(a, vec, &out->q, err))) return rc;
    if (!qv_rest_field(body, "limit")) return qv_rest_missing(err, "limit");
    if ((rc = qv_rest_limit(body, 10, &out->q.limit, err))) return rc;
    return qv_rest_query_common(a, body, out, err);
}

qv_rc qv_rest_decode_search_batch(qv_arena *a, const jv *body, qv_rest_query **out, size_t *n,
                                  qv_err *err) {
    return qv_rest_decode_many(a, body, qv_rest_decode_search, out, n, err);
}

qv_rc qv_rest_decode_scroll(qv_arena *a, const jv *body, qv_rest_scroll *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    qv_rc rc = qv_rest_need_object(body, "struct ScrollRequest", err);
    if (rc) return rc;
    if ((rc = qv_rest_no_shard_key(body, err))) return rc;
    const jv *ob = qv_rest_field(body, "order_by");
    if (ob) {
        if ((rc = qv_rest_order_by(a, ob, "OrderByInterface", &out->order_by, err))) return rc;
        out->has_order_by = true;
    }
    const jv *off = qv_rest_field(body, "offset");
    if (off) {
        if ((rc = qv_rest_decode_pointid(off, &out->offset, err))) return rc;
        out->has_offset = true;
    }
    if ((rc = qv_rest_limit(body, 10, &out->limit, err))) return rc;
    if ((rc = qv_rest_filter(a, body, &out->filter, err))) return rc;
    if ((rc = qv_rest_with_payload(a, body, true, &out->with_payload, err))) return rc;
    return qv_rest_with_vector(a, body, &out->with_vector, err);
}

qv_rc qv_rest_decode_retrieve(qv_arena *a, const jv *body, qv_rest_retrieve *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    qv_rc rc = qv_rest_need_object(body, "struct PointRequest", err);
    if (rc) return rc;
    if ((rc = qv_rest_no_shard_key(body, err))) return rc;
    const jv *ids = qv_rest_field(body, "ids");
    if (!ids) return qv_rest_missing(err, "ids");
    uint32_t n = 0;
    if ((rc = qv_rest_ids(a, ids, &out->ids, &n, err))) return rc;
    out->nids = n;
    if ((rc = qv_rest_with_payload(a, body, true, &out->with_payload, err))) return rc;
    return qv_rest_with_vector(a, body, &out->with_vector, err);
}

qv_rc qv_rest_decode_count(qv_arena *a, const jv *body, qv_rest_count *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    out->exact = true;
    qv_rc rc = qv_rest_need_object(body, "struct CountRequest", err);
    if (rc) return rc;
    if ((rc = qv_rest_no_shard_key(body, err))) return rc;
    bool has;
    if ((rc = qv_rest_opt_bool(body, "exact", &has, &out->exact, err))) return rc;
    return qv_rest_filter(a, body, &out->filter, err);
}

qv_rc qv_rest_decode_facet(qv_arena *a, const jv *body, qv_facet_req *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    qv_rc rc = qv_rest_need_object(body, "struct FacetRequest", err);
    if (rc) return rc;
    if ((rc = qv_rest_no_shard_key(body, err))) return rc;
    const jv *key = qv_rest_field(body, "key");
    if (!key) return qv_rest_missing(err, "key");
    if (key->type != JV_STR) return qv_rest_bad_type(err, key, "a string");
    qv_keypath *kp = NULL;
    if ((rc = qv_keypath_parse(a, key->v.s, key->len, &kp, err))) return rc;
    out->key = kp;
    struct qv_filter *f = NULL;
    if ((rc = qv_rest_filter(a, body, &f, err))) return rc;
    out->filter = f;
    bool has;
    if ((rc = qv_rest_opt_bool(body, "exact", &has, &out->exact, err))) return rc;
    return qv_rest_limit(body, 10, &out->limit, err);
}

/* ======================================================================
 * Collection configuration
 * ====================================================================== */

/* A jv sub-tree echoed in the collection info, copied into the config's
 * arena; `object` = it must be a JSON object. */
static qv_rc qv_rest_echo(qv_arena *a, const jv *obj, const char *key, jv *dst, qv_err *err) {
    const jv *v = qv_rest_field(obj, key);
    if (!v) return QV_OK;
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "a map");
    if (!jv_copy(a, v, dst)) return qv_rest_oom(err);
    jv_resolve_numbers(dst);
    return QV_OK;
}

/* A u64 field with a lower bound; path names it in the 422 message. */
static qv_rc qv_rest_cfg_u64(const jv *obj, const char *key, const char *path, uint64_t min,
                             bool *has, uint64_t *out, qv_err *err) {
    uint64_t x = 0;
    qv_rc rc = qv_rest_opt_u64(obj, key, has, &x, err);
    if (rc || !*has) return rc;
    char field[128];
    snprintf(field, sizeof field, "%s.%s", path, key);
    if ((rc = qv_rest_check_range(field, x, min, UINT64_MAX, err))) return rc;
    *out = x;
    return QV_OK;
}

/* Sets a plain u64 config field when the body has it. */
static qv_rc qv_rest_cfg_set(const jv *obj, const char *key, const char *path, uint64_t min,
                             uint64_t *field, qv_err *err) {
    bool has;
    return qv_rest_cfg_u64(obj, key, path, min, &has, field, err);
}

static qv_rc qv_rest_cfg_opt(const jv *obj, const char *key, const char *path, uint64_t min,
                             qv_opt_u64 *field, qv_err *err) {
    bool has;
    uint64_t x = 0;
    qv_rc rc = qv_rest_cfg_u64(obj, key, path, min, &has, &x, err);
    if (!rc && has) field->has = true, field->v = x;
    return rc;
}

/* A `memory` member (Memory: "cold" | "cached" | "pinned") of obj into
 * *out; absent or null leaves *out as it is.  The names and numbers are
 * collection/quant_config.h's (qv_memory_*), shared with quantization. */
static qv_rc qv_rest_memory(const jv *obj, uint8_t *out, qv_err *err) {
    const jv *v = qv_rest_field(obj, "memory");
    if (!v) return QV_OK;
    if (v->type != JV_STR) return qv_rest_bad_type(err, v, "a memory placement");
    uint8_t m = qv_memory_parse(v);
    if (m == QV_QMEM_UNSET)
        return qv_fail(err, QV_EFORMAT,
                       "unknown variant `%.60s`, expected one of `cold`, `cached`, `pinned`",
                       v->v.s);
    *out = m;
    return QV_OK;
}

/* VectorParams(Diff).memory: Qdrant's validator refuses `pinned` for dense
 * vector storage (error code unsupported_memory_placement). path names the
 * vector ("vectors", "vectors.a"). */
static qv_rc qv_rest_vector_memory(const jv *obj, const char *path, uint8_t *out, qv_err *err) {
    uint8_t m = QV_QMEM_UNSET;
    qv_rc rc = qv_rest_memory(obj, &m, err);
    if (rc || m == QV_QMEM_UNSET) return rc;
    if (m == QV_QMEM_PINNED)
        return qv_fail(err, QV_EVALIDATION,
                       "%.250s.memory: `pinned` memory placement is not supported for dense "
                       "vector storage",
                       path);
    *out = m;
    return QV_OK;
}

/* hnsw_config (HnswConfigDiff) applied over *h. */
static qv_rc qv_rest_hnsw_diff(const jv *v, qv_hnsw_config *h, qv_err *err) {
    const char *p = "hnsw_config";
    qv_rc rc = qv_rest_need_object(v, "struct HnswConfigDiff", err);
    bool has, b = false;
    if (!rc) rc = qv_rest_cfg_set(v, "m", p, 0, &h->m, err);
    if (!rc) rc = qv_rest_cfg_set(v, "ef_construct", p, 4, &h->ef_construct, err);
    if (!rc) rc = qv_rest_cfg_set(v, "full_scan_threshold", p, 10, &h->full_scan_threshold, err);
    if (!rc) rc = qv_rest_cfg_set(v, "max_indexing_threads", p, 0, &h->max_indexing_threads, err);
    if (!rc) rc = qv_rest_cfg_opt(v, "payload_m", p, 0, &h->payload_m, err);
    if (!rc) rc = qv_rest_opt_bool(v, "on_disk", &has, &b, err);
    if (!rc && has) h->on_disk = b;
    if (!rc) rc = qv_rest_memory(v, &h->memory, err);
    return rc;
}

/* max_optimization_threads: an integer, "auto" or null (= unset). */
static qv_rc qv_rest_max_opt_threads(const jv *v, qv_opt_u64 *out, qv_err *err) {
    const jv *x = qv_rest_field(v, "max_optimization_threads");
    if (!x) return QV_OK;
    if (x->type == JV_STR && strcmp(x->v.s, "auto") == 0) {
        out->has = false;
        return QV_OK;
    }
    out->has = true;
    return qv_rest_u64(x, "usize or \"auto\"", &out->v, err);
}

/* optimizers_config (OptimizersConfigDiff) applied over *o. */
static qv_rc qv_rest_optimizer_diff(const jv *v, qv_optimizer_config *o, qv_err *err) {
    const char *p = "optimizers_config";
    qv_rc rc = qv_rest_need_object(v, "struct OptimizersConfigDiff", err);
    bool has;
    double d = 0;
    if (!rc) rc = qv_rest_opt_f64(v, "deleted_threshold", &has, &d, err);
    if (!rc && has && (d < 0 || d > 1))
        return qv_fail(err, QV_EVALIDATION,
                       "optimizers_config.deleted_threshold: value %g invalid, must be from 0 to 1",
                       d);
    if (!rc && has) o->deleted_threshold = d;
    if (!rc)
        rc = qv_rest_cfg_set(v, "vacuum_min_vector_number", p, 100, &o->vacuum_min_vector_number,
                             err);
    if (!rc)
        rc = qv_rest_cfg_set(v, "default_segment_number", p, 0, &o->default_segment_number, err);
    if (!rc) rc = qv_rest_cfg_opt(v, "max_segment_size", p, 1, &o->max_segment_size, err);
    if (!rc) rc = qv_rest_cfg_opt(v, "memmap_threshold", p, 0, &o->memmap_threshold, err);
    if (!rc) rc = qv_rest_cfg_opt(v, "indexing_threshold", p, 0, &o->indexing_threshold, err);
    if (!rc) rc = qv_rest_cfg_set(v, "flush_interval_sec", p, 0, &o->flush_interval_sec, err);
    if (!rc) rc = qv_rest_max_opt_threads(v, &o->max_optimization_threads, err);
    return rc;
}

static qv_rc qv_rest_wal_diff(const jv *v, qv_wal_config *w, qv_err *err) {
    const char *p = "wal_config";
    qv_rc rc = qv_rest_need_object(v, "struct WalConfigDiff", err);
    if (!rc) rc = qv_rest_cfg_set(v, "wal_capacity_mb", p, 1, &w->wal_capacity_mb, err);
    if (!rc) rc = qv_rest_cfg_set(v, "wal_segments_ahead", p, 0, &w->wal_segments_ahead, err);
    if (!rc) rc = qv_rest_cfg_set(v, "wal_retain_closed", p, 0, &w->wal_retain_closed, err);
    return rc;
}

static qv_rc qv_rest_distance(const jv *v, qv_distance *out, qv_err *err) {
    if (v->type != JV_STR) return qv_rest_bad_type(err, v, "a distance name");
    if (qv_distance_parse(v->v.s, out)) return QV_OK;
    return qv_fail(err, QV_EFORMAT,
                   "unknown variant `%.60s`, expected one of `Cosine`, `Euclid`, `Dot`, "
                   "`Manhattan`",
                   v->v.s);
}

/* datatype (Datatype): accepted, persisted and echoed; the storage engine
 * keeps float32 rows for every datatype until it learns the others. */
static qv_rc qv_rest_datatype(const jv *v, qv_vector_params *vp, qv_err *err) {
    static const struct {
        const char *name;
        qv_datatype dt;
    } names[] = {{"float32", QV_DT_FLOAT32},
                 {"uint8", QV_DT_UINT8},
                 {"float16", QV_DT_FLOAT16},
                 {"turbo4", QV_DT_TURBO4}};
    if (v->type != JV_STR) return qv_rest_bad_type(err, v, "a datatype name");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(v->v.s, names[i].name) == 0) {
            vp->has_datatype = true;
            vp->datatype = names[i].dt;
            return QV_OK;
        }
    }
    return qv_fail(err, QV_EFORMAT,
                   "unknown variant `%.60s`, expected one of `float32`, `uint8`, `float16`, "
                   "`turbo4`",
                   v->v.s);
}

/* A quantization_config member of obj (absent or null: *out untouched).
 * diff: a QuantizationConfigDiff ("Disabled" gives QV_QUANT_NONE).  path
 * prefixes the validation message. */
static qv_rc qv_rest_quant(const jv *obj, bool diff, const char *path, qv_quant_config *out,
                           qv_err *err) {
    const jv *v = qv_rest_field(obj, "quantization_config");
    if (!v) return QV_OK;
    qv_quant_config q;
    qv_rc rc = qv_quant_config_parse(v, diff, path, &q, err);
    if (!rc) *out = q;
    return rc;
}

/* A per-vector hnsw_config (HnswConfigDiff): checked like the collection's
 * (types and bounds, on a scratch struct), then echoed as given. */
static qv_rc qv_rest_vector_hnsw(qv_arena *a, const jv *obj, jv *dst, qv_err *err) {
    const jv *v = qv_rest_field(obj, "hnsw_config");
    if (!v) return QV_OK;
    qv_hnsw_config scratch = {0};
    qv_rc rc = qv_rest_hnsw_diff(v, &scratch, err);
    return rc ? rc : qv_rest_echo(a, obj, "hnsw_config", dst, err);
}

/* One VectorParams into *vp (name already set); path for 422 messages. */
static qv_rc qv_rest_vector_params(qv_arena *a, const jv *v, const char *path, qv_vector_params *vp,
                                   qv_err *err) {
    qv_rc rc = qv_rest_need_object(v, "struct VectorParams", err);
    if (rc) return rc;
    const jv *size = qv_rest_field(v, "size"), *dist = qv_rest_field(v, "distance");
    if (!size) return qv_rest_missing(err, "size");
    if (!dist) return qv_rest_missing(err, "distance");
    uint64_t sz = 0;
    if ((rc = qv_rest_u64(size, "u64", &sz, err))) return rc;
    char field[300];
    snprintf(field, sizeof field, "%.250s.size", path);
    if ((rc = qv_rest_check_range(field, sz, 1, QV_MAX_VECTOR_DIM, err))) return rc;
    vp->size = (uint32_t)sz;
    if ((rc = qv_rest_distance(dist, &vp->distance, err))) return rc;
    bool has, b = false;
    if ((rc = qv_rest_opt_bool(v, "on_disk", &has, &b, err))) return rc;
    vp->on_disk.has = has, vp->on_disk.v = b;
    if ((rc = qv_rest_vector_memory(v, path, &vp->memory, err))) return rc;
    const jv *dt = qv_rest_field(v, "datatype");
    if (dt && (rc = qv_rest_datatype(dt, vp, err))) return rc;
    if (qv_rest_field(v, "multivector_config")) return qv_rest_unimpl(err, "multi-vectors");
    if ((rc = qv_rest_vector_hnsw(a, v, &vp->hnsw_config, err))) return rc;
    char qpath[300];
    snprintf(qpath, sizeof qpath, "%.250s.quantization_config", path);
    return qv_rest_quant(v, false, qpath, &vp->quantization_config, err);
}

static int qv_rest_cmp_vp(const void *x, const void *y) {
    return strcmp(((const qv_vector_params *)x)->name, ((const qv_vector_params *)y)->name);
}

/* vectors: one VectorParams (has "size") or a map name -> VectorParams. */
static qv_rc qv_rest_vectors_config(qv_collection_config *c, const jv *v, qv_err *err) {
    qv_arena *a = &c->arena;
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "struct VectorParams or a map");
    bool single = jv_get(v, "size") || jv_get(v, "distance");
    uint32_t n = single ? 1 : v->len;
    if (n > QV_MAX_NAMED_VECTORS)
        return qv_fail(err, QV_EVALIDATION, "vectors: at most %d named vectors are supported",
                       QV_MAX_NAMED_VECTORS);
    c->named_form = !single;
    c->nvectors = n;
    c->vectors = qv_arena_calloc(a, sizeof(qv_vector_params) * (n ? n : 1));
    if (!c->vectors) return qv_rest_oom(err);
    for (uint32_t i = 0; i < n; i++) {
        qv_vector_params *vp = &c->vectors[i];
        const char *name = single ? "" : v->v.members[i].key;
        vp->name = qv_arena_strndup(a, name, strlen(name));
        if (!vp->name) return qv_rest_oom(err);
        char path[300];
        snprintf(path, sizeof path, single ? "vectors" : "vectors.%.200s", name);
        qv_rc rc = qv_rest_vector_params(a, single ? v : &v->v.members[i].val, path, vp, err);
        if (rc) return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(c->vectors[j].name, vp->name) == 0)
                return qv_fail(err, QV_EBADINPUT, "Duplicate vector name: %s", vp->name);
    }
    qsort(c->vectors, n, sizeof *c->vectors, qv_rest_cmp_vp);
    return QV_OK;
}

/* shard_number, replication_factor, write_consistency_factor: u32 >= 1. */
static qv_rc qv_rest_cfg_u32_min1(const jv *obj, const char *key, uint32_t *field, qv_err *err) {
    bool has;
    uint32_t x = 0;
    qv_rc rc = qv_rest_opt_u32(obj, key, &has, &x, err);
    if (rc || !has) return rc;
    if ((rc = qv_rest_check_range(key, x, 1, UINT64_MAX, err))) return rc;
    *field = x;
    return QV_OK;
}

/* ---- strict_mode_config ---------------------------------------------------- */

/* A MAP field ({vector: {inner: u64 >= min}}) in its canonical form: only
 * the inner field, nulls dropped. */
static qv_rc qv_rest_strict_map(qv_arena *a, const qv_strict_field *f, const jv *v, jv *out,
                                qv_err *err) {
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "a map");
    jv_member *m = qv_arena_calloc(a, sizeof(jv_member) * (v->len ? v->len : 1));
    if (!m) return qv_rest_oom(err);
    for (uint32_t i = 0; i < v->len; i++) {
        const jv *e = &v->v.members[i].val;
        qv_rc rc = qv_rest_need_object(e, "a struct", err);
        bool has;
        uint64_t x = 0;
        if (!rc) rc = qv_rest_opt_u64(e, f->inner, &has, &x, err);
        char field[300];
        snprintf(field, sizeof field, "strict_mode_config.%s.%.120s.%s", f->name,
                 v->v.members[i].key, f->inner);
        if (!rc && has) rc = qv_rest_check_range(field, x, f->min, f->max, err);
        if (rc) return rc;
        m[i].key = qv_arena_strndup(a, v->v.members[i].key, v->v.members[i].klen);
        m[i].klen = v->v.members[i].klen;
        jv *obj = &m[i].val;
        obj->type = JV_OBJ;
        obj->len = has ? 1 : 0;
        obj->v.members = qv_arena_calloc(a, sizeof(jv_member));
        if (!m[i].key || !obj->v.members) return qv_rest_oom(err);
        if (has) {
            obj->v.members[0].key = f->inner;
            obj->v.members[0].klen = (uint32_t)strlen(f->inner);
            jv *n = &obj->v.members[0].val;
            if (x <= INT64_MAX)
                n->type = JV_INT, n->v.i = (int64_t)x;
            else
                n->type = JV_UINT, n->v.u = x;
        }
    }
    out->type = JV_OBJ;
    out->len = v->len;
    out->v.members = m;
    return QV_OK;
}

/* strict_mode_config (StrictModeConfig) merged over *c field by field, as
 * Qdrant's update does: a field that is set replaces the old value, an
 * absent or null one keeps it; maps are replaced whole.  Bounds are
 * Qdrant's validators' (strict.h's table); gRPC's Create/Update translate
 * their StrictModeConfig into this JSON and come through here too. */
static qv_rc qv_rest_strict_diff(qv_arena *a, const jv *v, qv_strict_config *c, qv_err *err) {
    qv_rc rc = qv_rest_need_object(v, "struct StrictModeConfig", err);
    for (size_t i = 0; !rc && i < qv_strict_nfields; i++) {
        const qv_strict_field *f = &qv_strict_fields[i];
        void *slot = qv_strict_slot(c, f);
        const jv *x = qv_rest_field(v, f->name);
        bool has = false, b = false;
        uint64_t u = 0;
        double d = 0;
        char field[128];
        snprintf(field, sizeof field, "strict_mode_config.%s", f->name);
        switch (f->kind) {
        case QV_STRICT_BOOL:
            rc = qv_rest_opt_bool(v, f->name, &has, &b, err);
            if (!rc && has) *(qv_opt_bool *)slot = (qv_opt_bool){true, b};
            break;
        case QV_STRICT_U64:
            rc = qv_rest_opt_u64(v, f->name, &has, &u, err);
            if (!rc && has) rc = qv_rest_check_range(field, u, f->min, f->max, err);
            if (!rc && has) *(qv_opt_u64 *)slot = (qv_opt_u64){true, u};
            break;
        case QV_STRICT_F64:
            rc = qv_rest_opt_f64(v, f->name, &has, &d, err);
            if (!rc && has && !isfinite(d)) rc = qv_fail(err, QV_EFORMAT, "number out of range");
            if (!rc && has) *(qv_opt_f64 *)slot = (qv_opt_f64){true, d};
            break;
        default:
            if (x) rc = qv_rest_strict_map(a, f, x, slot, err);
        }
    }
    return rc;
}

/* The sections create and update share; update: quantization_config is a
 * QuantizationConfigDiff (a whole new config, or "Disabled"). */
static qv_rc qv_rest_config_sections(qv_collection_config *c, const jv *body, bool update,
                                     qv_err *err) {
    const jv *x;
    qv_rc rc = QV_OK;
    if ((x = qv_rest_field(body, "hnsw_config"))) rc = qv_rest_hnsw_diff(x, &c->hnsw, err);
    if (!rc && (x = qv_rest_field(body, "optimizers_config")))
        rc = qv_rest_optimizer_diff(x, &c->optimizer, err);
    if (!rc) rc = qv_rest_quant(body, update, "quantization_config", &c->quantization_config, err);
    if (!rc) rc = qv_rest_echo(&c->arena, body, "sparse_vectors", &c->sparse_vectors, err);
    if (!rc && (x = qv_rest_field(body, "strict_mode_config")))
        rc = qv_rest_strict_diff(&c->arena, x, &c->strict, err);
    return rc;
}

static qv_rc qv_rest_create_body(qv_collection_config *c, const jv *body, qv_err *err) {
    qv_rc rc = qv_rest_need_object(body, "struct CreateCollection", err);
    if (rc) return rc;
    const jv *x = qv_rest_field(body, "sharding_method");
    if (x && !(x->type == JV_STR && strcmp(x->v.s, "auto") == 0))
        return qv_rest_unimpl(err, "custom sharding");
    if (qv_rest_field(body, "init_from")) return qv_rest_unimpl(err, "init_from");
    if ((x = qv_rest_field(body, "vectors")) && (rc = qv_rest_vectors_config(c, x, err))) return rc;
    if ((rc = qv_rest_cfg_u32_min1(body, "shard_number", &c->shard_number, err))) return rc;
    if ((rc = qv_rest_cfg_u32_min1(body, "replication_factor", &c->replication_factor, err)))
        return rc;
    if ((rc = qv_rest_cfg_u32_min1(body, "write_consistency_factor", &c->write_consistency_factor,
                                   err)))
        return rc;
    bool has, b = false;
    if ((rc = qv_rest_opt_bool(body, "on_disk_payload", &has, &b, err))) return rc;
    if (has) c->on_disk_payload = b;
    if ((x = qv_rest_field(body, "wal_config")) && (rc = qv_rest_wal_diff(x, &c->wal, err)))
        return rc;
    if ((rc = qv_rest_config_sections(c, body, false, err))) return rc;
    return qv_rest_echo(&c->arena, body, "metadata", &c->metadata, err);
}

qv_rc qv_rest_decode_create_collection(const jv *body, qv_collection_config *cfg, qv_err *err) {
    memset(cfg, 0, sizeof *cfg);
    qv_arena_init(&cfg->arena);
    qv_collection_config_defaults(cfg);
    if (cfg->nvectors == 0) cfg->named_form = true; /* no vectors: the empty map {} */
    qv_rc rc = qv_rest_create_body(cfg, body, err);
    if (rc) qv_collection_config_free(cfg);
    return rc;
}

/* ---- PATCH ----------------------------------------------------------------- */

/* Merges the metadata diff: keys set to null are removed. */
static qv_rc qv_rest_metadata_merge(qv_collection_config *c, const jv *diff, qv_err *err) {
    if (diff->type != JV_OBJ) return qv_rest_bad_type(err, diff, "a map");
    const jv *old = c->metadata.type == JV_OBJ ? &c->metadata : NULL;
    uint32_t cap = (old ? old->len : 0) + diff->len, n = 0;
    jv_member *m = qv_arena_calloc(&c->arena, sizeof(jv_member) * (cap ? cap : 1));
    if (!m) return qv_rest_oom(err);
    for (uint32_t i = 0; old && i < old->len; i++)
        if (!jv_get(diff, old->v.members[i].key)) m[n++] = old->v.members[i];
    for (uint32_t i = 0; i < diff->len; i++) {
        if (diff->v.members[i].val.type == JV_NULL) continue;
        if (jv_get(diff, diff->v.members[i].key) != &diff->v.members[i].val) continue; /* dup */
        jv_member *dst = &m[n++];
        dst->key = qv_arena_strndup(&c->arena, diff->v.members[i].key, diff->v.members[i].klen);
        dst->klen = diff->v.members[i].klen;
        if (!dst->key || !jv_copy(&c->arena, &diff->v.members[i].val, &dst->val))
            return qv_rest_oom(err);
        jv_resolve_numbers(&dst->val);
    }
    c->metadata.type = JV_OBJ;
    c->metadata.len = n;
    c->metadata.v.members = m;
    return QV_OK;
}

/* A per-vector hnsw_config diff merged over the vector's own (Qdrant's
 * HnswConfigDiff::update): members the diff sets replace, the others stay;
 * a vector without one takes the diff as it is. */
static qv_rc qv_rest_vector_hnsw_merge(qv_arena *a, const jv *obj, jv *dst, qv_err *err) {
    const jv *diff = qv_rest_field(obj, "hnsw_config");
    if (!diff) return QV_OK;
    jv merged;
    memset(&merged, 0, sizeof merged);
    qv_rc rc = qv_rest_vector_hnsw(a, obj, &merged, err);
    if (rc) return rc;
    uint32_t old = dst->type == JV_OBJ ? dst->len : 0, cap = old + merged.len, n = 0;
    jv_member *m = qv_arena_calloc(a, sizeof(jv_member) * (cap ? cap : 1));
    if (!m) return qv_rest_oom(err);
    for (uint32_t i = 0; i < old; i++) {
        const jv *x = jv_get(&merged, dst->v.members[i].key);
        if (!x || x->type == JV_NULL) m[n++] = dst->v.members[i];
    }
    for (uint32_t i = 0; i < merged.len; i++)
        if (merged.v.members[i].val.type != JV_NULL) m[n++] = merged.v.members[i];
    dst->type = JV_OBJ;
    dst->len = n;
    dst->v.members = m;
    return QV_OK;
}

/* vectors: {name: VectorParamsDiff} ("" = the unnamed vector): on_disk,
 * memory (set when given; `pinned` refused), hnsw_config (merged) and
 * quantization_config (replaced, or removed by "Disabled"). */
static qv_rc qv_rest_vectors_diff(qv_collection_config *c, const jv *v, qv_err *err) {
    if (v->type != JV_OBJ) return qv_rest_bad_type(err, v, "a map");
    for (uint32_t i = 0; i < v->len; i++) {
        const jv_member *m = &v->v.members[i];
        int k = qv_collection_config_vector(c, m->key);
        if (k < 0) return qv_fail(err, QV_EBADINPUT, "Not existing vector name error: %s", m->key);
        qv_vector_params *vp = &c->vectors[k];
        qv_rc rc = qv_rest_need_object(&m->val, "struct VectorParamsDiff", err);
        bool has, b = false;
        if (!rc) rc = qv_rest_opt_bool(&m->val, "on_disk", &has, &b, err);
        if (!rc && has) vp->on_disk.has = true, vp->on_disk.v = b;
        char qpath[300];
        snprintf(qpath, sizeof qpath, "vectors.%.200s", m->key);
        if (!rc) rc = qv_rest_vector_memory(&m->val, qpath, &vp->memory, err);
        if (!rc) rc = qv_rest_vector_hnsw_merge(&c->arena, &m->val, &vp->hnsw_config, err);
        snprintf(qpath, sizeof qpath, "vectors.%.200s.quantization_config", m->key);
        if (!rc) rc = qv_rest_quant(&m->val, true, qpath, &vp->quantization_config, err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* params: CollectionParamsDiff. */
static qv_rc qv_rest_params_diff(qv_collection_config *c, const jv *p, qv_err *err) {
    qv_rc rc = qv_rest_need_object(p, "struct CollectionParamsDiff", err);
    if (!rc) rc = qv_rest_cfg_u32_min1(p, "replication_factor", &c->replication_factor, err);
    if (!rc)
        rc = qv_rest_cfg_u32_min1(p, "write_consistency_factor", &c->write_consistency_factor, err);
    bool has, b = false;
    if (!rc) rc = qv_rest_opt_bool(p, "on_disk_payload", &has, &b, err);
    if (!rc && has) c->on_disk_payload = b;
    return rc;
}

static qv_rc qv_rest_update_body(qv_collection_config *c, const jv *body, qv_err *err) {
    qv_rc rc = qv_rest_need_object(body, "struct UpdateCollection", err);
    const jv *x;
    if (!rc && (x = qv_rest_field(body, "vectors"))) rc = qv_rest_vectors_diff(c, x, err);
    if (!rc && (x = qv_rest_field(body, "params"))) rc = qv_rest_params_diff(c, x, err);
    if (!rc) rc = qv_rest_config_sections(c, body, true, err);
    if (!rc && (x = qv_rest_field(body, "metadata"))) rc = qv_rest_metadata_merge(c, x, err);
    return rc;
}

qv_rc qv_rest_decode_update_collection(const jv *body, const qv_collection_config *cur,
                                       qv_collection_config *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    if (!qv_collection_config_copy(out, cur)) return qv_rest_oom(err);
    qv_rc rc = qv_rest_update_body(out, body, err);
    if (rc) qv_collection_config_free(out);
    return rc;
}
