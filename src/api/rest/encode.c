/*
 * encode.c - engine results -> Qdrant's REST JSON (see encode.h).
 *
 * Points.  Record and ScoredPoint always carry "payload" and "vector" (null
 * when not requested, as Qdrant's serializer writes its Option fields), and
 * never "shard_key" / "order_value".  An unnamed vector prints as an array,
 * named vectors as an object of the requested names the point has.
 *
 * Payload selectors.  with_payload include/exclude take key paths
 * ("a.b", "a[].c", "a[0]"): an include projects the payload onto the union
 * of the paths, keeping the enclosing objects ({"a":{"b":1}}); an exclude
 * removes the paths.  Both build a temporary tree in the request's scratch
 * arena and print it; `true` prints the stored tree directly.
 *
 * Collection info follows CollectionInfo of openapi.json: configuration
 * echoes what the user set (jv sub-trees as given) plus Qdrant's defaults,
 * and optional sections are left out rather than written as null unless
 * Qdrant writes them (quantization_config: null).
 */
#include "api/rest/encode.h"

#include <stdio.h>
#include <string.h>

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
    case QV_OK:
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
 * Payload projection (include / exclude)
 * ====================================================================== */

/* The part of src that the path segs[0..n) selects, wrapped in the
 * objects/arrays that lead to it.  False when the path selects nothing. */
static bool qv_rest_project(qv_arena *a, const jv *src, const qv_keypath_seg *s, uint32_t n,
                            jv *out) {
    if (n == 0) {
        *out = *src; /* shared, not copied: the tree is only printed */
        return true;
    }
    if (s->kind == QV_KEYPATH_KEY) {
        const jv *child = src->type == JV_OBJ ? jv_getn(src, s->name, s->len) : NULL;
        jv sub;
        if (!child || !qv_rest_project(a, child, s + 1, n - 1, &sub)) return false;
        jv_member *m = qv_arena_alloc(a, sizeof *m);
        if (!m) return false;
        m->key = s->name, m->klen = s->len, m->val = sub;
        out->type = JV_OBJ, out->len = 1, out->v.members = m;
        return true;
    }
    if (src->type != JV_ARR) return false;
    jv *items = qv_arena_alloc(a, sizeof(jv) * (src->len ? src->len : 1));
    if (!items) return false;
    uint32_t k = 0;
    for (uint32_t i = 0; i < src->len; i++) {
        if (s->kind == QV_KEYPATH_INDEX && i != s->index) continue;
        if (qv_rest_project(a, &src->v.items[i], s + 1, n - 1, &items[k])) k++;
    }
    if (s->kind == QV_KEYPATH_INDEX && k == 0) return false;
    out->type = JV_ARR, out->len = k, out->v.items = items;
    return true;
}

/* Union of two projections of the same payload: objects merge by key,
 * arrays of the same length element by element, anything else: b wins. */
static void qv_rest_merge(qv_arena *a, const jv *x, const jv *y, jv *out) {
    if (x->type == JV_OBJ && y->type == JV_OBJ) {
        jv_member *m = qv_arena_alloc(a, sizeof(jv_member) * (x->len + y->len + 1));
        if (!m) return;
        uint32_t n = x->len;
        memcpy(m, x->v.members, sizeof(jv_member) * x->len);
        for (uint32_t i = 0; i < y->len; i++) {
            const jv_member *ym = &y->v.members[i];
            uint32_t j = 0;
            while (j < n && !(m[j].klen == ym->klen && memcmp(m[j].key, ym->key, ym->klen) == 0))
                j++;
            if (j < n)
                qv_rest_merge(a, &m[j].val, &ym->val, &m[j].val);
            else
                m[n++] = *ym;
        }
        out->type = JV_OBJ, out->len = n, out->v.members = m;
    } else if (x->type == JV_ARR && y->type == JV_ARR && x->len == y->len) {
        jv *items = qv_arena_alloc(a, sizeof(jv) * (x->len + 1));
        if (!items) return;
        for (uint32_t i = 0; i < x->len; i++)
            qv_rest_merge(a, &x->v.items[i], &y->v.items[i], &items[i]);
        out->type = JV_ARR, out->len = x->len, out->v.items = items;
    } else {
        *out = *y;
    }
}

/* src without the part the path segs[0..n) selects (n >= 1). */
static void qv_rest_remove(qv_arena *a, const jv *src, const qv_keypath_seg *s, uint32_t n,
                           jv *out) {
    *out = *src;
    if (s->kind == QV_KEYPATH_KEY && src->type == JV_OBJ) {
        jv_member *m = qv_arena_alloc(a, sizeof(jv_member) * (src->len + 1));
        if (!m) return;
        uint32_t k = 0;
        for (uint32_t i = 0; i < src->len; i++) {
            const jv_member *sm = &src->v.members[i];
            bool hit = sm->klen == s->len && memcmp(sm->key, s->name, s->len) == 0;
            if (hit && n == 1) continue;
            m[k] = *sm;
            if (hit) qv_rest_remove(a, &sm->val, s + 1, n - 1, &m[k].val);
            k++;
        }
        out->len = k, out->v.members = m;
    } else if (s->kind != QV_KEYPATH_KEY && src->type == JV_ARR) {
        jv *items = qv_arena_alloc(a, sizeof(jv) * (src->len + 1));
        if (!items) return;
        uint32_t k = 0;
        for (uint32_t i = 0; i < src->len; i++) {
            bool hit = s->kind == QV_KEYPATH_ALL || i == s->index;
            if (hit && n == 1) continue;
            items[k] = src->v.items[i];
            if (hit) qv_rest_remove(a, &src->v.items[i], s + 1, n - 1, &items[k]);
            k++;
        }
        out->len = k, out->v.items = items;
    }
}

static const jv qv_rest_empty_obj = {JV_OBJ, 0, {0}};

void qv_rest_encode_payload(jw *w, const qv_rest_point_fmt *f, const jv *payload) {
    const jv *src = payload ? payload : &qv_rest_empty_obj;
    uint32_t mode = f->payload ? f->payload->mode : QV_REST_PAYLOAD_NONE;
    if (mode == QV_REST_PAYLOAD_NONE) {
        jw_null(w);
        return;
    }
    if (mode == QV_REST_PAYLOAD_ALL || !f->paths) {
        jw_value(w, src);
        return;
    }
    jv acc = mode == QV_REST_PAYLOAD_INCLUDE ? qv_rest_empty_obj : *src;
    for (uint32_t i = 0; i < f->payload->nkeys; i++) {
        const qv_keypath *p = f->paths[i];
        jv part;
        if (mode == QV_REST_PAYLOAD_EXCLUDE)
            qv_rest_remove(f->scratch, &acc, p->segs, p->nseg, &acc);
        else if (qv_rest_project(f->scratch, src, p->segs, p->nseg, &part))
            qv_rest_merge(f->scratch, &acc, &part, &acc);
    }
    jw_value(w, &acc);
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

void qv_rest_encode_record(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p) {
    jw_obj_begin(w);
    jw_key(w, "id");
    qv_rest_encode_pointid(w, &p->id);
    jw_key(w, "payload");
    qv_rest_encode_payload(w, f, p->payload);
    jw_key(w, "vector");
    qv_rest_encode_vectors(w, f, p);
    jw_obj_end(w);
}

void qv_rest_encode_scored(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p, float score) {
    jw_obj_begin(w);
    jw_key(w, "id");
    qv_rest_encode_pointid(w, &p->id);
    jw_key(w, "version");
    jw_u64(w, 0); /* the engine does not expose point versions yet */
    jw_key(w, "score");
    jw_f32(w, score);
    jw_key(w, "payload");
    qv_rest_encode_payload(w, f, p->payload);
    jw_key(w, "vector");
    qv_rest_encode_vectors(w, f, p);
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

static void qv_rest_opt_u64_kv(jw *w, const char *key, const qv_opt_u64 *o) {
    jw_key(w, key);
    if (o->has)
        jw_u64(w, o->v);
    else
        jw_null(w);
}

/* A jv section: written when set (JV_NULL = the user did not send it). */
static void qv_rest_jv_kv(jw *w, const char *key, const jv *v) {
    if (v->type == JV_NULL) return;
    jw_key(w, key);
    jw_value(w, v);
}

static const char *qv_rest_datatype_name(qv_datatype d) {
    return d == QV_DT_FLOAT16 ? "float16" : d == QV_DT_UINT8 ? "uint8" : "float32";
}

static void qv_rest_encode_vector_params(jw *w, const qv_vector_params *vp) {
    jw_obj_begin(w);
    jw_key(w, "size");
    jw_u64(w, vp->size);
    jw_key(w, "distance");
    jw_str(w, qv_distance_name(vp->distance));
    qv_rest_jv_kv(w, "hnsw_config", &vp->hnsw_config);
    qv_rest_jv_kv(w, "quantization_config", &vp->quantization_config);
    if (vp->on_disk.has) {
        jw_key(w, "on_disk");
        jw_bool(w, vp->on_disk.v);
    }
    if (vp->has_datatype) {
        jw_key(w, "datatype");
        jw_str(w, qv_rest_datatype_name(vp->datatype));
    }
    qv_rest_jv_kv(w, "multivector_config", &vp->multivector_config);
    jw_obj_end(w);
}

void qv_rest_encode_vectors_config(jw *w, const qv_collection_config *cfg) {
    if (!cfg->named_form && cfg->nvectors == 1) {
        qv_rest_encode_vector_params(w, &cfg->vectors[0]);
        return;
    }
    jw_obj_begin(w);
    for (uint32_t i = 0; i < cfg->nvectors; i++) {
        jw_key(w, cfg->vectors[i].name);
        qv_rest_encode_vector_params(w, &cfg->vectors[i]);
    }
    jw_obj_end(w);
}

static void qv_rest_encode_params(jw *w, const qv_collection_config *cfg) {
    jw_obj_begin(w);
    jw_key(w, "vectors");
    qv_rest_encode_vectors_config(w, cfg);
    jw_key(w, "shard_number");
    jw_u64(w, cfg->shard_number);
    jw_key(w, "replication_factor");
    jw_u64(w, cfg->replication_factor);
    jw_key(w, "write_consistency_factor");
    jw_u64(w, cfg->write_consistency_factor);
    jw_key(w, "on_disk_payload");
    jw_bool(w, cfg->on_disk_payload);
    qv_rest_jv_kv(w, "sparse_vectors", &cfg->sparse_vectors);
    jw_obj_end(w);
}

static void qv_rest_encode_hnsw(jw *w, const qv_hnsw_config *h) {
    jw_obj_begin(w);
    jw_key(w, "m");
    jw_u64(w, h->m);
    jw_key(w, "ef_construct");
    jw_u64(w, h->ef_construct);
    jw_key(w, "full_scan_threshold");
    jw_u64(w, h->full_scan_threshold);
    jw_key(w, "max_indexing_threads");
    jw_u64(w, h->max_indexing_threads);
    jw_key(w, "on_disk");
    jw_bool(w, h->on_disk);
    if (h->payload_m.has) qv_rest_opt_u64_kv(w, "payload_m", &h->payload_m);
    jw_obj_end(w);
}

static void qv_rest_encode_optimizer(jw *w, const qv_optimizer_config *o) {
    jw_obj_begin(w);
    jw_key(w, "deleted_threshold");
    jw_f64(w, o->deleted_threshold);
    jw_key(w, "vacuum_min_vector_number");
    jw_u64(w, o->vacuum_min_vector_number);
    jw_key(w, "default_segment_number");
    jw_u64(w, o->default_segment_number);
    qv_rest_opt_u64_kv(w, "max_segment_size", &o->max_segment_size);
    qv_rest_opt_u64_kv(w, "memmap_threshold", &o->memmap_threshold);
    qv_rest_opt_u64_kv(w, "indexing_threshold", &o->indexing_threshold);
    jw_key(w, "flush_interval_sec");
    jw_u64(w, o->flush_interval_sec);
    qv_rest_opt_u64_kv(w, "max_optimization_threads", &o->max_optimization_threads);
    jw_obj_end(w);
}

static void qv_rest_encode_wal(jw *w, const qv_wal_config *c) {
    jw_obj_begin(w);
    jw_key(w, "wal_capacity_mb");
    jw_u64(w, c->wal_capacity_mb);
    jw_key(w, "wal_segments_ahead");
    jw_u64(w, c->wal_segments_ahead);
    jw_key(w, "wal_retain_closed");
    jw_u64(w, c->wal_retain_closed);
    jw_obj_end(w);
}

static void qv_rest_encode_config(jw *w, const qv_collection_config *cfg) {
    jw_obj_begin(w);
    jw_key(w, "params");
    qv_rest_encode_params(w, cfg);
    jw_key(w, "hnsw_config");
    qv_rest_encode_hnsw(w, &cfg->hnsw);
    jw_key(w, "optimizer_config");
    qv_rest_encode_optimizer(w, &cfg->optimizer);
    jw_key(w, "wal_config");
    qv_rest_encode_wal(w, &cfg->wal);
    jw_key(w, "quantization_config");
    if (cfg->quantization_config.type == JV_NULL)
        jw_null(w);
    else
        jw_value(w, &cfg->quantization_config);
    qv_rest_jv_kv(w, "strict_mode_config", &cfg->strict_mode_config);
    qv_rest_jv_kv(w, "metadata", &cfg->metadata);
    jw_obj_end(w);
}

void qv_rest_encode_collection_info(jw *w, const qv_collection_config *cfg,
                                    const qv_collection_stats *st) {
    jw_obj_begin(w);
    jw_key(w, "status");
    jw_str(w, st->broken ? "red" : "green");
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
    qv_rest_encode_config(w, cfg);
    jw_key(w, "payload_schema");
    jw_raw(w, "{}", 2);
    jw_obj_end(w);
}
