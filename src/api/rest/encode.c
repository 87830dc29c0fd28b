/*
 * encode.c - engine results -> Qdrant's REST JSON (see encode.h).
 *
 * Points.  Record and ScoredPoint always carry "payload" and "vector" (null
 * when not requested, as Qdrant's serializer writes its Option fields),
 * "order_value" only for order_by results (Qdrant skips it when unset), and
 * never "shard_key".  An unnamed vector prints as an array, named vectors
 * as an object of the requested names the point has.
 *
 * Payload selectors.  with_payload include/exclude take key paths
 * ("a.b", "a[].c"); the payload is printed through Qdrant's value filter
 * (see the section below), without building a copy.
 *
 * Collection info follows CollectionInfo of openapi.json: configuration
 * echoes what the user set (jv sub-trees as given) plus Qdrant's defaults,
 * and optional sections are left out rather than written as null unless
 * Qdrant writes them (quantization_config: null).
 */
#include "api/rest/encode.h"

#include <stdio.h>
#include <string.h>

#include "collection/field_index.h"
#include "index/filter.h"

/* ======================================================================
 * Errors and envelope
 * ====================================================================== */

unsigned qv_rest_err_status(qv_rc rc) {
    switch (rc) {
    case QV_OK:
        return 200;
    case QV_EBADINPUT:
    case QV_EFORMAT:
    case QV_EBADREQUEST:
        return 400;
    case QV_EVALIDATION:
        return 422;
    case QV_ENOTFOUND:
        return 404;
    case QV_EEXISTS:
        return 409;
    case QV_ETIMEOUT:
        return 408;
    case QV_ENOTALLOWED:
        return 405;
    case QV_EUNIMPLEMENTED:
        return 501;
    case QV_ETOOLARGE:
        return 413;
    case QV_EUNAVAILABLE:
        return 503;
    case QV_EUNAUTHENTICATED:
        return 401;
    case QV_EFORBIDDEN:
        return 403;
    case QV_ERATELIMITED:
        return 429;
    default:
        return 500;
    }
}

const char *qv_rest_err_prefix(qv_rc rc) {
    switch (rc) {
    case QV_EBADINPUT:
    case QV_EEXISTS:
        return "Wrong input: ";
    case QV_EFORMAT:
        return "Format error in JSON body: ";
    case QV_EBADREQUEST:
    case QV_ENOTALLOWED:
        return "Bad request: ";
    case QV_EVALIDATION:
        return "Validation error in JSON body: [";
    case QV_ENOTFOUND:
        return "Not found: ";
    case QV_ETIMEOUT:
        return "Timeout: ";
    case QV_EUNIMPLEMENTED:
        return "Not implemented: ";
    case QV_ETOOLARGE:
        return "Payload too large: ";
    case QV_EUNAVAILABLE:
        return "Service unavailable: ";
    case QV_EFORBIDDEN:
        return "Forbidden: ";
    case QV_ERATELIMITED:
        return "Rate limiting exceeded: ";
    case QV_OK:
    case QV_EUNAUTHENTICATED:
        return "";
    default:
        return "Service internal error: ";
    }
}

void qv_rest_encode_error(jw *w, qv_rc rc, const char *msg, double secs) {
    /* prefix + message (+ "]") assembled first: jw_str escapes it once */
    char text[QV_ERR_MSG_MAX + 64];
    const char *prefix = qv_rest_err_prefix(rc);
    snprintf(text, sizeof text, "%s%s%s", prefix, msg ? msg : "", rc == QV_EVALIDATION ? "]" : "");
    jw_reset(w);
    jw_obj_begin(w);
    jw_key(w, "status");
    jw_obj_begin(w);
    jw_key(w, "error");
    jw_str(w, text);
    jw_obj_end(w);
    jw_key(w, "time");
    jw_f64(w, secs);
    jw_obj_end(w);
}

void qv_rest_envelope_begin(jw *w) {
    jw_obj_begin(w);
    jw_key(w, "result");
}

void qv_rest_envelope_end(jw *w, double secs) {
    jw_key(w, "status");
    jw_str(w, "ok");
    jw_key(w, "time");
    jw_f64(w, secs);
    jw_obj_end(w);
}

/* ======================================================================
 * Payload selectors (include / exclude)
 *
 * Qdrant filters a payload by walking it and keeping each value whose path
 * passes a test, recursing into what it keeps (its JsonPath::value_filter).
 * The path of a value is its keys from the root, with "[]" for any array
 * element.  With include patterns, a value is kept when its path and some
 * pattern agree on their common prefix (either is a prefix of the other):
 * include "a.b" keeps an "a" without "b" as {} and a scalar "a" as it is.
 * With exclude patterns, a value is dropped when some pattern is a prefix
 * of its path.  An index pattern ("a[0]") never equals "[]", so it selects
 * no array element, as in Qdrant.  The walk prints as it goes: no copy.
 * ====================================================================== */

/* The path of the value being visited. */
typedef struct qv_rest_pstack {
    uint32_t n;
    struct {
        const char *key; /* NULL = an array element ("[]") */
        uint32_t klen;
    } item[JV_MAX_DEPTH + 2];
} qv_rest_pstack;

/* Whether the first n items of the current path equal pattern p's. */
static bool qv_rest_prefix_eq(const qv_rest_pstack *st, const qv_keypath *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        const qv_keypath_seg *s = &p->segs[i];
        if (!st->item[i].key) {
            if (s->kind != QV_KEYPATH_ALL) return false;
        } else if (s->kind != QV_KEYPATH_KEY || s->len != st->item[i].klen ||
                   memcmp(s->name, st->item[i].key, s->len) != 0) {
            return false;
        }
    }
    return true;
}

/* The selector's verdict on the current path. */
static bool qv_rest_path_kept(const qv_rest_point_fmt *f, const qv_rest_pstack *st) {
    bool include = f->payload->mode == QV_REST_PAYLOAD_INCLUDE;
    for (uint32_t i = 0; i < f->payload->nkeys; i++) {
        const qv_keypath *p = f->paths[i];
        if (include && qv_rest_prefix_eq(st, p, st->n < p->nseg ? st->n : p->nseg)) return true;
        if (!include && st->n >= p->nseg && qv_rest_prefix_eq(st, p, p->nseg)) return false;
    }
    return !include;
}

/* Prints v keeping only the members and elements whose paths are kept. */
static void qv_rest_filter_value(jw *w, const qv_rest_point_fmt *f, qv_rest_pstack *st,
                                 const jv *v) {
    if (st->n >= JV_MAX_DEPTH + 1 || (v->type != JV_OBJ && v->type != JV_ARR)) {
        jw_value(w, v);
        return;
    }
    uint32_t at = st->n++;
    if (v->type == JV_ARR) {
        st->item[at].key = NULL;
        jw_arr_begin(w);
        for (uint32_t i = 0; i < v->len; i++)
            if (qv_rest_path_kept(f, st)) qv_rest_filter_value(w, f, st, &v->v.items[i]);
        jw_arr_end(w);
    } else {
        jw_obj_begin(w);
        for (uint32_t i = 0; i < v->len; i++) {
            const jv_member *m = &v->v.members[i];
            st->item[at].key = m->key, st->item[at].klen = m->klen;
            if (!qv_rest_path_kept(f, st)) continue;
            jw_keyn(w, m->key, m->klen);
            qv_rest_filter_value(w, f, st, &m->val);
        }
        jw_obj_end(w);
    }
    st->n--;
}

static const jv qv_rest_empty_obj = {JV_OBJ, 0, {0}};

void qv_rest_encode_payload(jw *w, const qv_rest_point_fmt *f, const jv *payload) {
    const jv *src = payload ? payload : &qv_rest_empty_obj;
    uint32_t mode = f->payload ? f->payload->mode : QV_REST_PAYLOAD_NONE;
    if (mode == QV_REST_PAYLOAD_NONE) {
        jw_null(w);
        return;
    }
    if (mode == QV_REST_PAYLOAD_ALL || (mode == QV_REST_PAYLOAD_EXCLUDE && !f->paths)) {
        jw_value(w, src);
        return;
    }
    if (!f->paths || src->type != JV_OBJ) { /* include nothing */
        jw_raw(w, "{}", 2);
        return;
    }
    qv_rest_pstack st;
    st.n = 0;
    qv_rest_filter_value(w, f, &st, src);
}

qv_rc qv_rest_point_fmt_init(qv_rest_point_fmt *f, const qv_collection_config *cfg,
                             const qv_rest_payload_sel *payload, const qv_rest_vector_sel *vector,
                             qv_arena *scratch, qv_err *err) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg, f->payload = payload, f->vector = vector, f->scratch = scratch;
    if (!payload || payload->mode < QV_REST_PAYLOAD_INCLUDE || payload->nkeys == 0) return QV_OK;
    f->paths = qv_arena_alloc(scratch, sizeof(*f->paths) * payload->nkeys);
    if (!f->paths) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < payload->nkeys; i++) {
        qv_keypath *p;
        qv_rc rc = qv_keypath_parse(scratch, payload->keys[i], strlen(payload->keys[i]), &p, err);
        if (rc) return rc;
        f->paths[i] = p;
    }
    return QV_OK;
}

/* ======================================================================
 * Points
 * ====================================================================== */

void qv_rest_encode_pointid(jw *w, const qv_pointid *id) {
    if (!id->is_uuid) {
        jw_u64(w, id->lo);
        return;
    }
    char buf[48];
    int n = qv_pointid_format(id, buf);
    jw_strn(w, buf, (size_t)n);
}

static bool qv_rest_vector_wanted(const qv_rest_vector_sel *sel, const char *name) {
    if (sel->all) return true;
    for (uint32_t i = 0; i < sel->nnames; i++)
        if (strcmp(sel->names[i], name) == 0) return true;
    return false;
}

static void qv_rest_floats(jw *w, const float *v, uint32_t dim) {
    jw_arr_begin(w);
    for (uint32_t i = 0; i < dim; i++) jw_f32(w, v[i]);
    jw_arr_end(w);
}

/* "vector": null | [..] (unnamed) | {name: [..]} (named, present only). */
static void qv_rest_encode_vectors(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p) {
    const qv_rest_vector_sel *sel = f->vector;
    const qv_collection_config *cfg = f->cfg;
    if (!sel || (!sel->all && sel->nnames == 0) || !cfg) {
        jw_null(w);
        return;
    }
    if (!cfg->named_form && cfg->nvectors == 1) {
        const float *v = qv_point_vector(p, 0);
        if (v && qv_rest_vector_wanted(sel, ""))
            qv_rest_floats(w, v, cfg->vectors[0].size);
        else
            jw_raw(w, "{}", 2);
        return;
    }
    jw_obj_begin(w);
    for (uint32_t i = 0; i < cfg->nvectors; i++) {
        const float *v = qv_point_vector(p, i);
        if (!v || !qv_rest_vector_wanted(sel, cfg->vectors[i].name)) continue;
        jw_key(w, cfg->vectors[i].name);
        qv_rest_floats(w, v, cfg->vectors[i].size);
    }
    jw_obj_end(w);
}

void qv_rest_encode_order_value(jw *w, const qv_order_value *v) {
    if (v->is_float)
        jw_f64(w, v->f);
    else
        jw_i64(w, v->i);
}

/* The members after "id" (and ScoredPoint's version and score):
 * "payload", "vector", then "order_value" when there is one. */
static void qv_rest_encode_point_rest(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p,
                                      const qv_order_value *ov) {
    jw_key(w, "payload");
    qv_rest_encode_payload(w, f, p->payload);
    jw_key(w, "vector");
    qv_rest_encode_vectors(w, f, p);
    if (ov) {
        jw_key(w, "order_value");
        qv_rest_encode_order_value(w, ov);
    }
    jw_obj_end(w);
}

void qv_rest_encode_record(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p) {
    qv_rest_encode_record_ordered(w, f, p, NULL);
}

void qv_rest_encode_record_ordered(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p,
                                   const qv_order_value *ov) {
    jw_obj_begin(w);
    jw_key(w, "id");
    qv_rest_encode_pointid(w, &p->id);
    qv_rest_encode_point_rest(w, f, p, ov);
}

void qv_rest_encode_scored(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p, float score) {
    jw_obj_begin(w);
    jw_key(w, "id");
    qv_rest_encode_pointid(w, &p->id);
    jw_key(w, "version");
    jw_u64(w, p->version);
    jw_key(w, "score");
    jw_f32(w, score);
    qv_rest_encode_point_rest(w, f, p, NULL);
}

/* Qdrant answers query results that have no score (order_by, like the
 * other scroll-backed queries) with version 0 and score 1. */
void qv_rest_encode_scored_ordered(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p,
                                   const qv_order_value *ov) {
    jw_obj_begin(w);
    jw_key(w, "id");
    qv_rest_encode_pointid(w, &p->id);
    jw_key(w, "version");
    jw_u64(w, 0);
    jw_key(w, "score");
    jw_f32(w, 1.0f);
    qv_rest_encode_point_rest(w, f, p, ov);
}

void qv_rest_encode_facet(jw *w, const qv_facet_hit *hits, size_t n) {
    jw_obj_begin(w);
    jw_key(w, "hits");
    jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_obj_begin(w);
        jw_key(w, "value");
        if (hits[i].kind == QV_FACET_STR)
            jw_strn(w, hits[i].s, hits[i].len);
        else if (hits[i].kind == QV_FACET_INT)
            jw_i64(w, hits[i].i);
        else
            jw_bool(w, hits[i].b);
        jw_key(w, "count");
        jw_u64(w, hits[i].count);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

void qv_rest_encode_update_result(jw *w, uint64_t op_num, qv_write_status st) {
    jw_obj_begin(w);
    jw_key(w, "operation_id");
    jw_u64(w, op_num);
    jw_key(w, "status");
    jw_str(w, st == QV_WRITE_COMPLETED ? "completed" : "acknowledged");
    jw_obj_end(w);
}

/* ======================================================================
 * Collection info
 * ====================================================================== */

/* One payload_schema entry: PayloadIndexInfo {data_type, params?, points}
 * (params only when the index was declared with an object). */
static void qv_rest_schema_entry(void *ctx, const char *field, uint32_t type, const char *params,
                                 uint64_t points) {
    jw *w = ctx;
    jw_key(w, field);
    jw_obj_begin(w);
    jw_key(w, "data_type");
    jw_str(w, qv_payload_type_name(type));
    if (params) {
        jw_key(w, "params");
        jw_raw(w, params, strlen(params));
    }
    jw_key(w, "points");
    jw_u64(w, points);
    jw_obj_end(w);
}

void qv_rest_encode_collection_info(jw *w, const qv_collection_config *cfg,
                                    const qv_collection_stats *st, qv_collection *c) {
    jw_obj_begin(w);
    jw_key(w, "status");
    jw_str(w, st->broken ? "red" : st->optimizing ? "yellow" : "green");
    jw_key(w, "optimizer_status");
    if (st->broken) {
        jw_obj_begin(w);
        jw_key(w, "error");
        jw_str(w, st->broken_msg);
        jw_obj_end(w);
    } else {
        jw_str(w, "ok");
    }
    jw_key(w, "indexed_vectors_count");
    jw_u64(w, st->indexed_vectors_count);
    jw_key(w, "points_count");
    jw_u64(w, st->points_count);
    jw_key(w, "segments_count");
    jw_u64(w, st->segments_count);
    jw_key(w, "config");
    qv_collection_config_write_json(w, cfg);
    jw_key(w, "payload_schema");
    jw_obj_begin(w);
    if (c) qv_collection_payload_schema(c, qv_rest_schema_entry, w);
    jw_obj_end(w);
    jw_obj_end(w);
}
