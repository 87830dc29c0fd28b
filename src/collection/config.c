/*
 * config.c - a collection's configuration: Qdrant's defaults, copying, and
 * the JSON form that GET /collections/{name} shows under result.config and
 * that is persisted in the collection's directory (collection.c wraps it in
 * a file with a magic, a version and a checksum).
 *
 * Echo rule (COMPAT-NOTES): optional settings appear only when the user set
 * them; settings Qdrant always fills in (hnsw_config, optimizer_config,
 * wal_config, ...) always appear with their defaults.  The `memory`
 * placements (vectors, hnsw_config; Qdrant's Option<Memory>) are optional
 * settings: written after on_disk when given, in Qdrant's field order.
 *
 * Quantization (collection-wide and per vector) is a typed qv_quant_config
 * written and read by quant_config.c in the same JSON form.  Versions
 * before it stored the user's object as given (only checked to be an
 * object); such an object that the typed parser refuses is dropped with a
 * warning when the config is read, so the collection still loads.
 */
#define QV_LOG_COMPONENT "config"
#include "collection/collection.h"
#include "collection/strict.h"
#include "core/log.h"

#include <string.h>

void qv_collection_config_defaults(qv_collection_config *c) {
    memset(c, 0, sizeof *c);
    qv_arena_init(&c->arena);
    c->shard_number = 1;
    c->replication_factor = 1;
    c->write_consistency_factor = 1;
    c->on_disk_payload = true;
    c->hnsw = (qv_hnsw_config){.m = 16, .ef_construct = 100, .full_scan_threshold = 10000};
    c->optimizer = (qv_optimizer_config){
        .deleted_threshold = 0.2,
        .vacuum_min_vector_number = 1000,
        .indexing_threshold = {true, 10000},
        .flush_interval_sec = 5,
    };
    c->wal =
        (qv_wal_config){.wal_capacity_mb = 32, .wal_segments_ahead = 0, .wal_retain_closed = 1};
    qv_strict_config_defaults(&c->strict);
}

void qv_collection_config_free(qv_collection_config *c) {
    qv_arena_free(&c->arena);
    memset(c, 0, sizeof *c);
}

static bool copy_jv(qv_arena *a, const jv *src, jv *dst) {
    if (src->type == JV_NULL) {
        memset(dst, 0, sizeof *dst);
        return true;
    }
    return jv_copy(a, src, dst);
}

bool qv_collection_config_copy(qv_collection_config *dst, const qv_collection_config *src) {
    *dst = *src;
    qv_arena_init(&dst->arena);
    qv_arena *a = &dst->arena;
    dst->vectors = qv_arena_calloc(a, sizeof(qv_vector_params) * (src->nvectors + 1));
    bool ok = dst->vectors != NULL;
    for (uint32_t i = 0; ok && i < src->nvectors; i++) {
        const qv_vector_params *s = &src->vectors[i];
        qv_vector_params *d = &dst->vectors[i];
        *d = *s;
        d->name = qv_arena_strndup(a, s->name, strlen(s->name));
        ok = d->name && copy_jv(a, &s->hnsw_config, &d->hnsw_config) &&
             copy_jv(a, &s->multivector_config, &d->multivector_config);
    }
    ok = ok && copy_jv(a, &src->sparse_vectors, &dst->sparse_vectors) &&
         copy_jv(a, &src->strict.multivector_config, &dst->strict.multivector_config) &&
         copy_jv(a, &src->strict.sparse_config, &dst->strict.sparse_config) &&
         copy_jv(a, &src->metadata, &dst->metadata);
    if (!ok) qv_collection_config_free(dst);
    return ok;
}

int qv_collection_config_vector(const qv_collection_config *c, const char *name) {
    for (uint32_t i = 0; i < c->nvectors; i++)
        if (strcmp(c->vectors[i].name, name) == 0) return (int)i;
    return -1;
}

/* ---- writing the JSON form ------------------------------------------------ */

static const char *datatype_name(qv_datatype d) {
    switch (d) {
    case QV_DT_FLOAT16:
        return "float16";
    case QV_DT_UINT8:
        return "uint8";
    case QV_DT_TURBO4:
        return "turbo4";
    default:
        return "float32";
    }
}

static void write_opt_u64(jw *w, const char *key, qv_opt_u64 v) {
    jw_key(w, key);
    if (v.has)
        jw_u64(w, v.v);
    else
        jw_null(w);
}

/* `memory` (Qdrant's Memory) when it was given. */
static void write_memory(jw *w, uint8_t memory) {
    const char *name = qv_memory_name(memory);
    if (!name) return;
    jw_key(w, "memory");
    jw_str(w, name);
}

static void write_vector_params(jw *w, const qv_vector_params *v) {
    jw_obj_begin(w);
    jw_key(w, "size");
    jw_u64(w, v->size);
    jw_key(w, "distance");
    jw_str(w, qv_distance_name(v->distance));
    if (v->hnsw_config.type != JV_NULL) {
        jw_key(w, "hnsw_config");
        jw_value(w, &v->hnsw_config);
    }
    if (v->quantization_config.kind != QV_QUANT_NONE) {
        jw_key(w, "quantization_config");
        qv_quant_config_write_json(w, &v->quantization_config);
    }
    if (v->on_disk.has) {
        jw_key(w, "on_disk");
        jw_bool(w, v->on_disk.v);
    }
    write_memory(w, v->memory);
    if (v->has_datatype) {
        jw_key(w, "datatype");
        jw_str(w, datatype_name(v->datatype));
    }
    if (v->multivector_config.type != JV_NULL) {
        jw_key(w, "multivector_config");
        jw_value(w, &v->multivector_config);
    }
    jw_obj_end(w);
}

static void write_params(jw *w, const qv_collection_config *c) {
    jw_obj_begin(w);
    jw_key(w, "vectors");
    if (c->named_form) {
        jw_obj_begin(w);
        for (uint32_t i = 0; i < c->nvectors; i++) {
            jw_key(w, c->vectors[i].name);
            write_vector_params(w, &c->vectors[i]);
        }
        jw_obj_end(w);
    } else if (c->nvectors == 1) {
        write_vector_params(w, &c->vectors[0]);
    } else {
        jw_obj_begin(w);
        jw_obj_end(w);
    }
    jw_key(w, "shard_number");
    jw_u64(w, c->shard_number);
    jw_key(w, "replication_factor");
    jw_u64(w, c->replication_factor);
    jw_key(w, "write_consistency_factor");
    jw_u64(w, c->write_consistency_factor);
    jw_key(w, "on_disk_payload");
    jw_bool(w, c->on_disk_payload);
    if (c->sparse_vectors.type != JV_NULL) {
        jw_key(w, "sparse_vectors");
        jw_value(w, &c->sparse_vectors);
    }
    jw_obj_end(w);
}

static void write_hnsw(jw *w, const qv_hnsw_config *h) {
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
    write_memory(w, h->memory);
    if (h->payload_m.has) write_opt_u64(w, "payload_m", h->payload_m);
    jw_obj_end(w);
}

static void write_optimizer(jw *w, const qv_optimizer_config *o) {
    jw_obj_begin(w);
    jw_key(w, "deleted_threshold");
    jw_f64(w, o->deleted_threshold);
    jw_key(w, "vacuum_min_vector_number");
    jw_u64(w, o->vacuum_min_vector_number);
    jw_key(w, "default_segment_number");
    jw_u64(w, o->default_segment_number);
    write_opt_u64(w, "max_segment_size", o->max_segment_size);
    write_opt_u64(w, "memmap_threshold", o->memmap_threshold);
    write_opt_u64(w, "indexing_threshold", o->indexing_threshold);
    jw_key(w, "flush_interval_sec");
    jw_u64(w, o->flush_interval_sec);
    write_opt_u64(w, "max_optimization_threads", o->max_optimization_threads);
    jw_obj_end(w);
}

void qv_collection_config_write_json(jw *w, const qv_collection_config *c) {
    jw_obj_begin(w);
    jw_key(w, "params");
    write_params(w, c);
    jw_key(w, "hnsw_config");
    write_hnsw(w, &c->hnsw);
    jw_key(w, "optimizer_config");
    write_optimizer(w, &c->optimizer);
    jw_key(w, "wal_config");
    jw_obj_begin(w);
    jw_key(w, "wal_capacity_mb");
    jw_u64(w, c->wal.wal_capacity_mb);
    jw_key(w, "wal_segments_ahead");
    jw_u64(w, c->wal.wal_segments_ahead);
    jw_key(w, "wal_retain_closed");
    jw_u64(w, c->wal.wal_retain_closed);
    jw_obj_end(w);
    jw_key(w, "quantization_config");
    qv_quant_config_write_json(w, &c->quantization_config); /* null when none */
    jw_key(w, "strict_mode_config");
    qv_strict_config_write_json(w, &c->strict);
    if (c->metadata.type != JV_NULL) {
        jw_key(w, "metadata");
        jw_value(w, &c->metadata);
    }
    jw_obj_end(w);
}

/* ---- reading the persisted form -------------------------------------------
 * The input was written by write_json above; still, it comes from disk, so
 * every field is type-checked and a mismatch is QV_ECORRUPT. */

typedef struct cfg_reader {
    qv_collection_config *c;
    bool bad;
} cfg_reader;

static uint64_t rd_u64(cfg_reader *r, const jv *obj, const char *key) {
    uint64_t v = 0;
    const jv *x = jv_get(obj, key);
    if (!x || !jv_to_u64(x, &v)) r->bad = true;
    return v;
}

static qv_opt_u64 rd_opt_u64(cfg_reader *r, const jv *obj, const char *key) {
    qv_opt_u64 o = {false, 0};
    const jv *x = jv_get(obj, key);
    if (!x || x->type == JV_NULL) return o;
    o.has = jv_to_u64(x, &o.v);
    if (!o.has) r->bad = true;
    return o;
}

static bool rd_bool(cfg_reader *r, const jv *obj, const char *key) {
    const jv *x = jv_get(obj, key);
    if (!x || x->type != JV_BOOL) {
        r->bad = true;
        return false;
    }
    return x->v.b != 0;
}

static void rd_jv(cfg_reader *r, const jv *obj, const char *key, jv *out) {
    const jv *x = jv_get(obj, key);
    memset(out, 0, sizeof *out);
    if (x && x->type != JV_NULL && !jv_copy(&r->c->arena, x, out)) r->bad = true;
    if (out->type != JV_NULL) jv_resolve_numbers(out);
}

/* A persisted quantization config; one the typed parser refuses (written
 * by a version that echoed any object) is dropped with a warning. */
static void rd_quant(const jv *obj, const char *key, const char *vector, qv_quant_config *out) {
    const jv *x = jv_get(obj, key);
    memset(out, 0, sizeof *out);
    if (!x || x->type == JV_NULL) return;
    qv_err err;
    qv_err_clear(&err);
    if (qv_quant_config_parse(x, false, key, out, &err) != QV_OK)
        QV_LOG_WARN("ignoring the stored quantization_config%s%s: %s", vector ? " of vector " : "",
                    vector ? vector : "", err.msg);
}

static void rd_vector(cfg_reader *r, const char *name, size_t nlen, const jv *o,
                      qv_vector_params *v) {
    memset(v, 0, sizeof *v);
    v->name = qv_arena_strndup(&r->c->arena, name, nlen);
    uint64_t size = rd_u64(r, o, "size");
    const jv *d = jv_get(o, "distance");
    if (!v->name || size == 0 || size > QV_MAX_VECTOR_DIM || !d || d->type != JV_STR ||
        !qv_distance_parse(d->v.s, &v->distance))
        r->bad = true;
    v->size = (uint32_t)size;
    const jv *od = jv_get(o, "on_disk");
    if (od && od->type == JV_BOOL) v->on_disk = (qv_opt_bool){true, od->v.b != 0};
    v->memory = qv_memory_parse(jv_get(o, "memory"));
    const jv *dt = jv_get(o, "datatype");
    if (dt && dt->type == JV_STR) {
        v->has_datatype = true;
        v->datatype = strcmp(dt->v.s, "float16") == 0  ? QV_DT_FLOAT16
                      : strcmp(dt->v.s, "uint8") == 0  ? QV_DT_UINT8
                      : strcmp(dt->v.s, "turbo4") == 0 ? QV_DT_TURBO4
                                                       : QV_DT_FLOAT32;
    }
    rd_jv(r, o, "hnsw_config", &v->hnsw_config);
    rd_quant(o, "quantization_config", v->name && *v->name ? v->name : NULL,
             &v->quantization_config);
    rd_jv(r, o, "multivector_config", &v->multivector_config);
}

static void rd_vectors(cfg_reader *r, const jv *vecs) {
    qv_collection_config *c = r->c;
    if (!vecs || vecs->type != JV_OBJ) {
        r->bad = true;
        return;
    }
    c->named_form = jv_get(vecs, "size") == NULL;
    c->nvectors = c->named_form ? vecs->len : 1;
    c->vectors = qv_arena_calloc(&c->arena, sizeof(qv_vector_params) * (c->nvectors + 1));
    if (!c->vectors || c->nvectors > QV_MAX_NAMED_VECTORS) {
        r->bad = true;
        return;
    }
    if (!c->named_form) {
        rd_vector(r, "", 0, vecs, &c->vectors[0]);
        return;
    }
    for (uint32_t i = 0; i < vecs->len; i++) {
        const jv_member *m = &vecs->v.members[i];
        if (m->val.type != JV_OBJ)
            r->bad = true;
        else
            rd_vector(r, m->key, m->klen, &m->val, &c->vectors[i]);
    }
}

static void rd_params(cfg_reader *r, const jv *p) {
    qv_collection_config *c = r->c;
    rd_vectors(r, jv_get(p, "vectors"));
    c->shard_number = (uint32_t)rd_u64(r, p, "shard_number");
    c->replication_factor = (uint32_t)rd_u64(r, p, "replication_factor");
    c->write_consistency_factor = (uint32_t)rd_u64(r, p, "write_consistency_factor");
    c->on_disk_payload = rd_bool(r, p, "on_disk_payload");
    rd_jv(r, p, "sparse_vectors", &c->sparse_vectors);
}

static void rd_hnsw_opt_wal(cfg_reader *r, const jv *j) {
    qv_collection_config *c = r->c;
    const jv *h = jv_get(j, "hnsw_config"), *o = jv_get(j, "optimizer_config"),
             *w = jv_get(j, "wal_config");
    if (!h || !o || !w || h->type != JV_OBJ || o->type != JV_OBJ || w->type != JV_OBJ) {
        r->bad = true;
        return;
    }
    c->hnsw.m = rd_u64(r, h, "m");
    c->hnsw.ef_construct = rd_u64(r, h, "ef_construct");
    c->hnsw.full_scan_threshold = rd_u64(r, h, "full_scan_threshold");
    c->hnsw.max_indexing_threads = rd_u64(r, h, "max_indexing_threads");
    c->hnsw.on_disk = rd_bool(r, h, "on_disk");
    c->hnsw.memory = qv_memory_parse(jv_get(h, "memory"));
    c->hnsw.payload_m = rd_opt_u64(r, h, "payload_m");
    const jv *dt = jv_get(o, "deleted_threshold");
    if (!dt || !jv_to_f64(dt, &c->optimizer.deleted_threshold)) r->bad = true;
    c->optimizer.vacuum_min_vector_number = rd_u64(r, o, "vacuum_min_vector_number");
    c->optimizer.default_segment_number = rd_u64(r, o, "default_segment_number");
    c->optimizer.max_segment_size = rd_opt_u64(r, o, "max_segment_size");
    c->optimizer.memmap_threshold = rd_opt_u64(r, o, "memmap_threshold");
    c->optimizer.indexing_threshold = rd_opt_u64(r, o, "indexing_threshold");
    c->optimizer.flush_interval_sec = rd_u64(r, o, "flush_interval_sec");
    c->optimizer.max_optimization_threads = rd_opt_u64(r, o, "max_optimization_threads");
    c->wal.wal_capacity_mb = rd_u64(r, w, "wal_capacity_mb");
    c->wal.wal_segments_ahead = rd_u64(r, w, "wal_segments_ahead");
    c->wal.wal_retain_closed = rd_u64(r, w, "wal_retain_closed");
}

qv_rc qv_collection_config_read_json(const jv *j, qv_collection_config *c, qv_err *err) {
    qv_collection_config_defaults(c);
    cfg_reader r = {c, false};
    const jv *p = jv_get(j, "params");
    if (!p || p->type != JV_OBJ)
        r.bad = true;
    else
        rd_params(&r, p);
    rd_hnsw_opt_wal(&r, j);
    rd_quant(j, "quantization_config", NULL, &c->quantization_config);
    if (qv_strict_config_read_json(&c->arena, jv_get(j, "strict_mode_config"), &c->strict, NULL))
        r.bad = true;
    rd_jv(&r, j, "metadata", &c->metadata);
    if (r.bad) {
        qv_collection_config_free(c);
        return qv_fail(err, QV_ECORRUPT, "collection configuration is malformed");
    }
    return QV_OK;
}
