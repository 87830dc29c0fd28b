/*
 * grpc_collections.c - qdrant.Qdrant/HealthCheck, grpc.health.v1.Health/Check
 * and the qdrant.Collections RPCs (List, Get, Create, Update, Delete,
 * CollectionExists, ListAliases, ListCollectionAliases, UpdateAliases).
 *
 * How: Create and Update do NOT re-implement configuration decoding.  The
 * protobuf request is translated into the equivalent REST body (a jv tree:
 * {"vectors": ..., "hnsw_config": ..., ...}) and handed to the REST
 * decoders (qv_rest_decode_create_collection / _update_collection), which
 * apply Qdrant's defaults and validation; the catalog then checks the name.
 * The *ConfigDiff messages are copied field by field through protobuf-c's
 * reflection (every set scalar field under its own name), since their field
 * names are the REST names.  Get builds CollectionInfo straight from
 * qv_collection_config and the collection's stats.
 *
 * Threading: handlers run on a completion-queue thread; the catalog and
 * collections do their own locking.
 *
 * Strict mode: StrictModeConfig becomes the REST strict_mode_config JSON
 * too (scalars by name, the two per-vector maps by hand), so its merge and
 * validation are the REST decoder's; Get reports the collection's
 * qv_strict_config field by field (collection/strict.h's table).
 *
 * Quantization: QuantizationConfig / QuantizationConfigDiff (collection-wide
 * and per vector) are converted by collection/quant_config.c into the typed
 * struct (unknown enum values INVALID_ARGUMENT with Qdrant's texts) and
 * from there into the REST JSON, so the REST decoder's validation (quantile
 * range) applies; Get converts the stored struct back.  Update accepts
 * vectors_config (VectorParamsDiff: hnsw_config, quantization_config,
 * on_disk, memory; `params` alone means the unnamed vector "").
 *
 * Memory placement (VectorParams.memory, VectorParamsDiff.memory,
 * HnswConfigDiff.memory): the enum becomes the REST name ("cold", ...) and
 * the REST decoder validates it (`pinned` refused for dense vectors); Get
 * sets the enum from the stored value.  MemoryUnknown means unset.
 *
 * What it does not do yet: sparse vectors, multivectors and custom
 * sharding in Create / Update (INVALID_ARGUMENT or UNIMPLEMENTED "... not
 * supported yet").
 * Aliases resolve in every RPC that looks a collection up
 * (qv_catalog_acquire), as over REST.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_index.h"
#include "api/grpc/grpc_internal.h"
#include "api/rest/decode.h"
#include "api/version.h"
#include "collection/strict.h"
#include "core/distance.h"

#define QV_GRPC_JOBJ_CAP 32

/* ======================================================================
 * Health
 * ====================================================================== */

qv_rc qv_grpc_h_health_check(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    Qdrant__HealthCheckReply *r =
        QV_GRPC_NEW(rq, Qdrant__HealthCheckReply, qdrant__health_check_reply__init);
    r->title = "qdrant - vector search engine";
    r->version = QV_QDRANT_API_VERSION;
    r->_commit_case = QDRANT__HEALTH_CHECK_REPLY___COMMIT_COMMIT;
    r->commit = QV_COMMIT;
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_health_v1_check(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    Grpc__Health__V1__HealthCheckResponse *r = QV_GRPC_NEW(
        rq, Grpc__Health__V1__HealthCheckResponse, grpc__health__v1__health_check_response__init);
    r->status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    rq->reply = &r->base;
    return QV_OK;
}

/* ======================================================================
 * Reflection helpers: scalar fields by name
 * ====================================================================== */

/* Whether field f of m is present (proto3 optional = a one-field oneof). */
static bool qv_grpc_field_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) return false;
    return true; /* a plain proto3 scalar: always has a value */
}

/* Sets a scalar field by name (and its oneof case).  Unknown names and
 * non-scalar fields are ignored: the caller fills only what Quiver has. */
static void qv_grpc_set_num(ProtobufCMessage *m, const char *name, double d, uint64_t u, bool b) {
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (!f) return;
    char *p = (char *)m + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_UINT64:
        *(uint64_t *)p = u;
        break;
    case PROTOBUF_C_TYPE_UINT32:
        *(uint32_t *)p = (uint32_t)u;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)p = d;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)p = (float)d;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = b;
        break;
    default:
        return;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
}

static void qv_grpc_set_u64(ProtobufCMessage *m, const char *name, uint64_t v) {
    qv_grpc_set_num(m, name, (double)v, v, v != 0);
}

static void qv_grpc_set_f64(ProtobufCMessage *m, const char *name, double v) {
    qv_grpc_set_num(m, name, v, (uint64_t)v, v != 0);
}

static void qv_grpc_set_bool(ProtobufCMessage *m, const char *name, bool v) {
    qv_grpc_set_num(m, name, v, v, v);
}

/* ---- jv object building -------------------------------------------------- */

static void qv_grpc_jobj(qv_grpc_req *rq, jv *o) {
    o->type = JV_OBJ;
    o->len = 0;
    o->v.members = qv_grpc_alloc(rq, QV_GRPC_JOBJ_CAP * sizeof(jv_member));
}

/* Adds a member (objects built here never exceed QV_GRPC_JOBJ_CAP). */
static jv *qv_grpc_jadd(jv *o, const char *key) {
    if (o->len >= QV_GRPC_JOBJ_CAP) return NULL;
    jv_member *m = &o->v.members[o->len++];
    m->key = key;
    m->klen = (uint32_t)strlen(key);
    memset(&m->val, 0, sizeof m->val);
    return &m->val;
}

static void qv_grpc_jstr(jv *v, const char *s) {
    if (!v) return;
    v->type = JV_STR, v->v.s = s, v->len = (uint32_t)strlen(s);
}

static void qv_grpc_ju64(jv *v, uint64_t x) {
    if (!v) return;
    if (x <= INT64_MAX)
        v->type = JV_INT, v->v.i = (int64_t)x;
    else
        v->type = JV_UINT, v->v.u = x;
}

/* Every set scalar field of m as a member of o under its proto name. */
static void qv_grpc_scalars_to_jv(qv_grpc_req *rq, const ProtobufCMessage *m, jv *o) {
    qv_grpc_jobj(rq, o);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!qv_grpc_field_set(m, f)) continue;
        const char *p = (const char *)m + f->offset;
        jv *v;
        switch (f->type) {
        case PROTOBUF_C_TYPE_UINT64:
            qv_grpc_ju64(qv_grpc_jadd(o, f->name), *(const uint64_t *)p);
            break;
        case PROTOBUF_C_TYPE_UINT32:
            qv_grpc_ju64(qv_grpc_jadd(o, f->name), *(const uint32_t *)p);
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            if ((v = qv_grpc_jadd(o, f->name))) v->type = JV_DBL, v->v.d = *(const double *)p;
            break;
        case PROTOBUF_C_TYPE_FLOAT:
            if ((v = qv_grpc_jadd(o, f->name))) v->type = JV_DBL, v->v.d = *(const float *)p;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if ((v = qv_grpc_jadd(o, f->name)))
                v->type = JV_BOOL, v->v.b = *(const protobuf_c_boolean *)p != 0;
            break;
        default:
            break; /* messages and enums are translated by the callers */
        }
    }
}

/* ======================================================================
 * Create / Update: protobuf -> the REST body
 * ====================================================================== */

/* A Memory enum field (present = its oneof case is set) as the REST
 * "memory" member of o; MemoryUnknown is unset, values outside the enum
 * INVALID_ARGUMENT (quant_config.c's qv_memory_from_grpc). */
static qv_rc qv_grpc_memory_jv(jv *o, bool present, int v, qv_err *err) {
    uint8_t m = QV_QMEM_UNSET;
    qv_rc rc = qv_memory_from_grpc(present, v, &m, err);
    if (!rc && m != QV_QMEM_UNSET) qv_grpc_jstr(qv_grpc_jadd(o, "memory"), qv_memory_name(m));
    return rc;
}

/* HnswConfigDiff: its scalars by name, and the memory enum. */
static qv_rc qv_grpc_hnsw_jv(qv_grpc_req *rq, const Qdrant__HnswConfigDiff *h, jv *o, qv_err *err) {
    qv_grpc_scalars_to_jv(rq, &h->base, o);
    return qv_grpc_memory_jv(o, h->_memory_case != 0, (int)h->memory, err);
}

static qv_rc qv_grpc_unsupported(qv_err *err, const char *what) {
    return qv_fail(err, QV_EUNIMPLEMENTED, "%s over gRPC is not supported yet", what);
}

static qv_rc qv_grpc_distance_name(Qdrant__Distance d, const char **out, qv_err *err) {
    switch (d) {
    case QDRANT__DISTANCE__Cosine:
        *out = "Cosine";
        return QV_OK;
    case QDRANT__DISTANCE__Euclid:
        *out = "Euclid";
        return QV_OK;
    case QDRANT__DISTANCE__Dot:
        *out = "Dot";
        return QV_OK;
    case QDRANT__DISTANCE__Manhattan:
        *out = "Manhattan";
        return QV_OK;
    default:
        return qv_fail(err, QV_EBADINPUT, "Unknown distance: %d", (int)d);
    }
}

static qv_rc qv_grpc_vparams_jv(qv_grpc_req *rq, const Qdrant__VectorParams *p, jv *o,
                                qv_err *err) {
    const char *dist = NULL;
    qv_rc rc = qv_grpc_distance_name(p->distance, &dist, err);
    if (rc) return rc;
    if (p->_multivector_config_case) return qv_grpc_unsupported(err, "Multivectors");
    qv_grpc_jobj(rq, o);
    qv_grpc_ju64(qv_grpc_jadd(o, "size"), p->size);
    qv_grpc_jstr(qv_grpc_jadd(o, "distance"), dist);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (p->_on_disk_case) {
        jv *v = qv_grpc_jadd(o, "on_disk");
        v->type = JV_BOOL, v->v.b = p->on_disk != 0;
    }
#pragma GCC diagnostic pop
    if (p->_datatype_case && p->datatype != QDRANT__DATATYPE__Default) { /* Default = unset */
        static const char *const names[] = {NULL, "float32", "uint8", "float16", "turbo4"};
        unsigned dt = (unsigned)p->datatype;
        if (dt >= sizeof names / sizeof *names)
            return qv_fail(err, QV_EBADINPUT, "Cannot convert datatype: %d", (int)p->datatype);
        qv_grpc_jstr(qv_grpc_jadd(o, "datatype"), names[dt]);
    }
    if ((rc = qv_grpc_memory_jv(o, p->_memory_case != 0, (int)p->memory, err))) return rc;
    if (p->_hnsw_config_case && p->hnsw_config &&
        (rc = qv_grpc_hnsw_jv(rq, p->hnsw_config, qv_grpc_jadd(o, "hnsw_config"), err)))
        return rc;
    if (p->_quantization_config_case && p->quantization_config) {
        qv_quant_config q;
        if ((rc = qv_quant_config_from_grpc(p->quantization_config, &q, err))) return rc;
        if (!qv_quant_config_to_jv(&rq->arena, &q, qv_grpc_jadd(o, "quantization_config")))
            return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    return QV_OK;
}

static qv_rc qv_grpc_vectors_jv(qv_grpc_req *rq, const Qdrant__VectorsConfig *vc, jv *o,
                                qv_err *err) {
    if (vc->config_case == QDRANT__VECTORS_CONFIG__CONFIG_PARAMS)
        return qv_grpc_vparams_jv(rq, vc->params, o, err);
    size_t n = vc->config_case == QDRANT__VECTORS_CONFIG__CONFIG_PARAMS_MAP && vc->params_map
                   ? vc->params_map->n_map
                   : 0;
    o->type = JV_OBJ;
    o->len = (uint32_t)n;
    o->v.members = qv_grpc_alloc(rq, n * sizeof(jv_member));
    for (size_t i = 0; i < n; i++) {
        const Qdrant__VectorParamsMap__MapEntry *e = vc->params_map->map[i];
        jv_member *m = &o->v.members[i];
        m->key = e->key ? e->key : "";
        m->klen = (uint32_t)strlen(m->key);
        if (!e->value) return qv_fail(err, QV_EBADINPUT, "vectors.%s: no parameters", m->key);
        qv_rc rc = qv_grpc_vparams_jv(rq, e->value, &m->val, err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* OptimizersConfigDiff: scalars plus max_optimization_threads (a message
 * here, an integer or "auto" in REST). */
static void qv_grpc_optimizers_jv(qv_grpc_req *rq, const Qdrant__OptimizersConfigDiff *o, jv *out) {
    qv_grpc_scalars_to_jv(rq, &o->base, out);
    jv *v = NULL;
    if (o->_deprecated_max_optimization_threads_case)
        qv_grpc_ju64(v = qv_grpc_jadd(out, "max_optimization_threads"),
                     o->deprecated_max_optimization_threads);
    if (o->_max_optimization_threads_case && o->max_optimization_threads) {
        const Qdrant__MaxOptimizationThreads *t = o->max_optimization_threads;
        if (!v) v = qv_grpc_jadd(out, "max_optimization_threads");
        if (t->variant_case == QDRANT__MAX_OPTIMIZATION_THREADS__VARIANT_VALUE)
            qv_grpc_ju64(v, t->value);
        else
            qv_grpc_jstr(v, "auto");
    }
}

/* The config sections Create and Update share. */
static qv_rc qv_grpc_sections_jv(qv_grpc_req *rq, jv *body, const Qdrant__HnswConfigDiff *hnsw,
                                 const Qdrant__OptimizersConfigDiff *opt, qv_err *err) {
    if (opt) qv_grpc_optimizers_jv(rq, opt, qv_grpc_jadd(body, "optimizers_config"));
    return hnsw ? qv_grpc_hnsw_jv(rq, hnsw, qv_grpc_jadd(body, "hnsw_config"), err) : QV_OK;
}

/* {key: {inner: value}} of a strict-mode per-vector map (value unset when
 * !has[i]); n entries. */
static void qv_grpc_strict_map_jv(qv_grpc_req *rq, jv *o, const char *inner, size_t n,
                                  const char **keys, const bool *has, const uint64_t *vals) {
    o->type = JV_OBJ;
    o->len = (uint32_t)n;
    o->v.members = qv_grpc_alloc(rq, (n ? n : 1) * sizeof(jv_member));
    for (size_t i = 0; i < n; i++) {
        jv_member *m = &o->v.members[i];
        m->key = keys[i] ? keys[i] : "";
        m->klen = (uint32_t)strlen(m->key);
        qv_grpc_jobj(rq, &m->val);
        if (has[i]) qv_grpc_ju64(qv_grpc_jadd(&m->val, inner), vals[i]);
    }
}

/* StrictModeConfig -> the REST strict_mode_config object. */
static void qv_grpc_strict_jv(qv_grpc_req *rq, const Qdrant__StrictModeConfig *sm, jv *o) {
    qv_grpc_scalars_to_jv(rq, &sm->base, o);
    const Qdrant__StrictModeMultivectorConfig *mv =
        sm->_multivector_config_case ? sm->multivector_config : NULL;
    if (mv) {
        size_t n = mv->n_multivector_config;
        const char **keys = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *keys);
        bool *has = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *has);
        uint64_t *vals = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *vals);
        for (size_t i = 0; i < n; i++) {
            const Qdrant__StrictModeMultivectorConfig__MultivectorConfigEntry *e =
                mv->multivector_config[i];
            keys[i] = e->key;
            has[i] = e->value && e->value->_max_vectors_case;
            vals[i] = has[i] ? e->value->max_vectors : 0;
        }
        qv_grpc_strict_map_jv(rq, qv_grpc_jadd(o, "multivector_config"), "max_vectors", n, keys,
                              has, vals);
    }
    const Qdrant__StrictModeSparseConfig *sp = sm->_sparse_config_case ? sm->sparse_config : NULL;
    if (sp) {
        size_t n = sp->n_sparse_config;
        const char **keys = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *keys);
        bool *has = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *has);
        uint64_t *vals = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *vals);
        for (size_t i = 0; i < n; i++) {
            const Qdrant__StrictModeSparseConfig__SparseConfigEntry *e = sp->sparse_config[i];
            keys[i] = e->key;
            has[i] = e->value && e->value->_max_length_case;
            vals[i] = has[i] ? e->value->max_length : 0;
        }
        qv_grpc_strict_map_jv(rq, qv_grpc_jadd(o, "sparse_config"), "max_length", n, keys, has,
                              vals);
    }
}

static qv_rc qv_grpc_metadata_jv(qv_grpc_req *rq, size_t n, void **entries, jv *body, qv_err *err) {
    if (n == 0) return QV_OK;
    return qv_grpc_payload_in(rq, n, (Qdrant__PointStruct__PayloadEntry **)entries,
                              qv_grpc_jadd(body, "metadata"), err);
}

/* A QuantizationConfig (diff: QuantizationConfigDiff) as the REST body's
 * quantization_config member. */
static qv_rc qv_grpc_quant_jv(qv_grpc_req *rq, const Qdrant__QuantizationConfig *qc,
                              const Qdrant__QuantizationConfigDiff *diff, jv *body, qv_err *err) {
    qv_quant_config q;
    qv_rc rc =
        qc ? qv_quant_config_from_grpc(qc, &q, err) : qv_quant_config_diff_from_grpc(diff, &q, err);
    if (rc) return rc;
    if (!qv_quant_config_to_jv(&rq->arena, &q, qv_grpc_jadd(body, "quantization_config")))
        return qv_fail(err, QV_ENOMEM, "out of memory");
    return QV_OK;
}

/* One VectorParamsDiff as the REST VectorParamsDiff object. */
static qv_rc qv_grpc_vparams_diff_jv(qv_grpc_req *rq, const Qdrant__VectorParamsDiff *d, jv *o,
                                     qv_err *err) {
    qv_grpc_jobj(rq, o);
    if (!d) return QV_OK;
    qv_rc rc;
    if (d->_hnsw_config_case && d->hnsw_config &&
        (rc = qv_grpc_hnsw_jv(rq, d->hnsw_config, qv_grpc_jadd(o, "hnsw_config"), err)))
        return rc;
    if ((rc = qv_grpc_memory_jv(o, d->_memory_case != 0, (int)d->memory, err))) return rc;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (d->_on_disk_case) {
        jv *v = qv_grpc_jadd(o, "on_disk");
        v->type = JV_BOOL, v->v.b = d->on_disk != 0;
    }
#pragma GCC diagnostic pop
    if (d->_quantization_config_case && d->quantization_config)
        return qv_grpc_quant_jv(rq, NULL, d->quantization_config, o, err);
    return QV_OK;
}

/* VectorsConfigDiff -> {name: VectorParamsDiff}; `params` alone is the
 * unnamed vector "". */
static qv_rc qv_grpc_vectors_diff_jv(qv_grpc_req *rq, const Qdrant__VectorsConfigDiff *vc, jv *o,
                                     qv_err *err) {
    bool single = vc->config_case == QDRANT__VECTORS_CONFIG_DIFF__CONFIG_PARAMS;
    size_t n = single ? 1
               : vc->config_case == QDRANT__VECTORS_CONFIG_DIFF__CONFIG_PARAMS_MAP && vc->params_map
                   ? vc->params_map->n_map
                   : 0;
    o->type = JV_OBJ;
    o->len = (uint32_t)n;
    o->v.members = qv_grpc_alloc(rq, (n ? n : 1) * sizeof(jv_member));
    for (size_t i = 0; i < n; i++) {
        const Qdrant__VectorParamsDiffMap__MapEntry *e = single ? NULL : vc->params_map->map[i];
        jv_member *m = &o->v.members[i];
        m->key = e && e->key ? e->key : "";
        m->klen = (uint32_t)strlen(m->key);
        qv_rc rc = qv_grpc_vparams_diff_jv(rq, single ? vc->params : e->value, &m->val, err);
        if (rc) return rc;
    }
    return QV_OK;
}

static qv_rc qv_grpc_create_body(qv_grpc_req *rq, const Qdrant__CreateCollection *c, jv *body,
                                 qv_err *err) {
    if (c->_sparse_vectors_config_case) return qv_grpc_unsupported(err, "Sparse vectors");
    if (c->_sharding_method_case && c->sharding_method != QDRANT__SHARDING_METHOD__Auto)
        return qv_grpc_unsupported(err, "Custom sharding");
    qv_grpc_jobj(rq, body);
    qv_rc rc;
    if (c->_vectors_config_case && c->vectors_config &&
        (rc = qv_grpc_vectors_jv(rq, c->vectors_config, qv_grpc_jadd(body, "vectors"), err)))
        return rc;
    if (c->_shard_number_case) qv_grpc_ju64(qv_grpc_jadd(body, "shard_number"), c->shard_number);
    if (c->_replication_factor_case)
        qv_grpc_ju64(qv_grpc_jadd(body, "replication_factor"), c->replication_factor);
    if (c->_write_consistency_factor_case)
        qv_grpc_ju64(qv_grpc_jadd(body, "write_consistency_factor"), c->write_consistency_factor);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (c->_on_disk_payload_case) {
        jv *v = qv_grpc_jadd(body, "on_disk_payload");
        v->type = JV_BOOL, v->v.b = c->on_disk_payload != 0;
    }
#pragma GCC diagnostic pop
    if (c->_wal_config_case && c->wal_config)
        qv_grpc_scalars_to_jv(rq, &c->wal_config->base, qv_grpc_jadd(body, "wal_config"));
    if ((rc = qv_grpc_sections_jv(rq, body, c->_hnsw_config_case ? c->hnsw_config : NULL,
                                  c->_optimizers_config_case ? c->optimizers_config : NULL, err)))
        return rc;
    if (c->_strict_mode_config_case && c->strict_mode_config)
        qv_grpc_strict_jv(rq, c->strict_mode_config, qv_grpc_jadd(body, "strict_mode_config"));
    if (c->_quantization_config_case && c->quantization_config &&
        (rc = qv_grpc_quant_jv(rq, c->quantization_config, NULL, body, err)))
        return rc;
    return qv_grpc_metadata_jv(rq, c->n_metadata, (void **)c->metadata, body, err);
}

static qv_rc qv_grpc_update_body(qv_grpc_req *rq, const Qdrant__UpdateCollection *u, jv *body,
                                 qv_err *err) {
    if (u->_sparse_vectors_config_case) return qv_grpc_unsupported(err, "Sparse vectors");
    qv_grpc_jobj(rq, body);
    qv_rc rc;
    if (u->_vectors_config_case && u->vectors_config &&
        (rc = qv_grpc_vectors_diff_jv(rq, u->vectors_config, qv_grpc_jadd(body, "vectors"), err)))
        return rc;
    if (u->_quantization_config_case && u->quantization_config &&
        (rc = qv_grpc_quant_jv(rq, NULL, u->quantization_config, body, err)))
        return rc;
    if (u->_params_case && u->params)
        qv_grpc_scalars_to_jv(rq, &u->params->base, qv_grpc_jadd(body, "params"));
    if ((rc = qv_grpc_sections_jv(rq, body, u->_hnsw_config_case ? u->hnsw_config : NULL,
                                  u->_optimizers_config_case ? u->optimizers_config : NULL, err)))
        return rc;
    if (u->_strict_mode_config_case && u->strict_mode_config)
        qv_grpc_strict_jv(rq, u->strict_mode_config, qv_grpc_jadd(body, "strict_mode_config"));
    return qv_grpc_metadata_jv(rq, u->n_metadata, (void **)u->metadata, body, err);
}

/* ======================================================================
 * Handlers
 * ====================================================================== */

static qv_rc qv_grpc_op_response(qv_grpc_req *rq, bool result) {
    Qdrant__CollectionOperationResponse *r = QV_GRPC_NEW(
        rq, Qdrant__CollectionOperationResponse, qdrant__collection_operation_response__init);
    r->result = result;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_coll_create(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__CreateCollection *c = (const Qdrant__CreateCollection *)in;
    jv body;
    qv_collection_config cfg;
    qv_rc rc = qv_catalog_check_name(c->collection_name, err);
    if (rc || (rc = qv_grpc_create_body(rq, c, &body, err)) ||
        (rc = qv_rest_decode_create_collection(&body, &cfg, err)))
        return rc;
    rc = rq->cat ? qv_catalog_create(rq->cat, c->collection_name, &cfg, err)
                 : qv_fail(err, QV_EUNAVAILABLE, "no catalog (decode-only request)");
    qv_collection_config_free(&cfg); /* emptied by the catalog on success */
    return rc ? rc : qv_grpc_op_response(rq, true);
}

qv_rc qv_grpc_h_coll_update(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__UpdateCollection *u = (const Qdrant__UpdateCollection *)in;
    jv body;
    qv_rc rc = qv_grpc_update_body(rq, u, &body, err);
    if (rc) return rc;
    qv_collection *c = qv_grpc_collection(rq, u->collection_name, err);
    if (!c) return err->kind;
    qv_collection_config cfg;
    rc = qv_rest_decode_update_collection(&body, qv_collection_config_get(c), &cfg, err);
    if (!rc) {
        rc = qv_collection_update_config(c, &cfg, err);
        qv_collection_config_free(&cfg);
    }
    qv_collection_release(c);
    return rc ? rc : qv_grpc_op_response(rq, true);
}

qv_rc qv_grpc_h_coll_delete(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__DeleteCollection *d = (const Qdrant__DeleteCollection *)in;
    bool existed = false;
    qv_rc rc = qv_catalog_delete(rq->cat, d->collection_name, &existed, err);
    return rc ? rc : qv_grpc_op_response(rq, existed);
}

qv_rc qv_grpc_h_coll_exists(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__CollectionExistsRequest *q = (const Qdrant__CollectionExistsRequest *)in;
    qv_collection *c = qv_catalog_acquire(rq->cat, q->collection_name);
    if (c) qv_collection_release(c);
    Qdrant__CollectionExistsResponse *r =
        QV_GRPC_NEW(rq, Qdrant__CollectionExistsResponse, qdrant__collection_exists_response__init);
    r->result = QV_GRPC_NEW(rq, Qdrant__CollectionExists, qdrant__collection_exists__init);
    r->result->exists = c != NULL;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

qv_rc qv_grpc_h_coll_list(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    size_t n = 0;
    char **names = qv_catalog_names(rq->cat, &n);
    Qdrant__ListCollectionsResponse *r =
        QV_GRPC_NEW(rq, Qdrant__ListCollectionsResponse, qdrant__list_collections_response__init);
    r->n_collections = n;
    r->collections = qv_grpc_alloc(rq, n * sizeof *r->collections);
    for (size_t i = 0; i < n; i++) {
        Qdrant__CollectionDescription *d =
            QV_GRPC_NEW(rq, Qdrant__CollectionDescription, qdrant__collection_description__init);
        d->name = qv_grpc_strdup(rq, names[i], strlen(names[i]));
        r->collections[i] = d;
    }
    qv_catalog_names_free(names, n);
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* ListAliases / ListCollectionAliases (the latter for a collection that
 * exists, as REST), sorted by alias name. */
qv_rc qv_grpc_h_coll_list_aliases(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const char *only = NULL;
    if (in->descriptor == &qdrant__list_collection_aliases_request__descriptor) {
        const Qdrant__ListCollectionAliasesRequest *q =
            (const Qdrant__ListCollectionAliasesRequest *)in;
        qv_collection *c = qv_grpc_collection(rq, q->collection_name, err);
        if (!c) return err->kind;
        qv_collection_release(c);
        only = q->collection_name;
    }
    if (!rq->cat) return qv_fail(err, QV_EUNAVAILABLE, "no catalog (decode-only request)");
    size_t n = 0;
    qv_alias_desc *list = qv_catalog_aliases(rq->cat, only, &n);
    Qdrant__ListAliasesResponse *r =
        QV_GRPC_NEW(rq, Qdrant__ListAliasesResponse, qdrant__list_aliases_response__init);
    r->n_aliases = n;
    r->aliases = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *r->aliases);
    for (size_t i = 0; i < n; i++) {
        Qdrant__AliasDescription *d =
            QV_GRPC_NEW(rq, Qdrant__AliasDescription, qdrant__alias_description__init);
        d->alias_name = qv_grpc_strdup(rq, list[i].alias_name, strlen(list[i].alias_name));
        d->collection_name =
            qv_grpc_strdup(rq, list[i].collection_name, strlen(list[i].collection_name));
        r->aliases[i] = d;
    }
    qv_catalog_aliases_free(list, n);
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}

/* UpdateAliases: the same qv_alias_action list POST /collections/aliases
 * decodes to, applied all or nothing by the catalog.  An action with no
 * variant set is INVALID_ARGUMENT (nothing is applied). */
qv_rc qv_grpc_h_coll_update_aliases(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__ChangeAliases *q = (const Qdrant__ChangeAliases *)in;
    size_t n = q->n_actions;
    qv_alias_action *acts = qv_grpc_alloc(rq, (n ? n : 1) * sizeof *acts);
    for (size_t i = 0; i < n; i++) {
        const Qdrant__AliasOperations *op = q->actions[i];
        qv_alias_action *a = &acts[i];
        if (op && op->action_case == QDRANT__ALIAS_OPERATIONS__ACTION_CREATE_ALIAS &&
            op->create_alias) {
            a->kind = QV_ALIAS_CREATE;
            a->collection_name = op->create_alias->collection_name;
            a->alias_name = op->create_alias->alias_name;
        } else if (op && op->action_case == QDRANT__ALIAS_OPERATIONS__ACTION_DELETE_ALIAS &&
                   op->delete_alias) {
            a->kind = QV_ALIAS_DELETE;
            a->alias_name = op->delete_alias->alias_name;
        } else if (op && op->action_case == QDRANT__ALIAS_OPERATIONS__ACTION_RENAME_ALIAS &&
                   op->rename_alias) {
            a->kind = QV_ALIAS_RENAME;
            a->alias_name = op->rename_alias->old_alias_name;
            a->new_alias_name = op->rename_alias->new_alias_name;
        } else {
            return qv_fail(err, QV_EBADINPUT, "Alias operation %zu has no action", i);
        }
    }
    if (!rq->cat) return qv_fail(err, QV_EUNAVAILABLE, "no catalog (decode-only request)");
    qv_rc rc = qv_catalog_update_aliases(rq->cat, acts, n, err);
    return rc ? rc : qv_grpc_op_response(rq, true);
}

/* ---- Get: CollectionInfo from the config struct --------------------------- */

static Qdrant__VectorParams *qv_grpc_vparams_out(qv_grpc_req *rq, const qv_vector_params *vp) {
    static const Qdrant__Distance dist[] = {QDRANT__DISTANCE__Cosine, QDRANT__DISTANCE__Euclid,
                                            QDRANT__DISTANCE__Dot, QDRANT__DISTANCE__Manhattan};
    Qdrant__VectorParams *p = QV_GRPC_NEW(rq, Qdrant__VectorParams, qdrant__vector_params__init);
    p->size = vp->size;
    p->distance = (unsigned)vp->distance < 4 ? dist[vp->distance] : QDRANT__DISTANCE__Cosine;
    if (vp->on_disk.has) qv_grpc_set_bool(&p->base, "on_disk", vp->on_disk.v);
    if (vp->memory != QV_QMEM_UNSET) {
        p->_memory_case = QDRANT__VECTOR_PARAMS___MEMORY_MEMORY;
        p->memory = (Qdrant__Memory)vp->memory; /* the same numbers */
    }
    if (vp->has_datatype) {
        p->_datatype_case = QDRANT__VECTOR_PARAMS___DATATYPE_DATATYPE;
        p->datatype = vp->datatype == QV_DT_UINT8     ? QDRANT__DATATYPE__Uint8
                      : vp->datatype == QV_DT_FLOAT16 ? QDRANT__DATATYPE__Float16
                      : vp->datatype == QV_DT_TURBO4  ? QDRANT__DATATYPE__Turbo4
                                                      : QDRANT__DATATYPE__Float32;
    }
    if (vp->quantization_config.kind != QV_QUANT_NONE) {
        p->quantization_config = qv_quant_config_to_grpc(&rq->arena, &vp->quantization_config);
        if (!p->quantization_config) abort(); /* arena exhausted, as qv_grpc_alloc */
        p->_quantization_config_case =
            QDRANT__VECTOR_PARAMS___QUANTIZATION_CONFIG_QUANTIZATION_CONFIG;
    }
    if (vp->hnsw_config.type == JV_OBJ) { /* the echoed per-vector diff */
        Qdrant__HnswConfigDiff *h =
            QV_GRPC_NEW(rq, Qdrant__HnswConfigDiff, qdrant__hnsw_config_diff__init);
        for (uint32_t i = 0; i < vp->hnsw_config.len; i++) {
            const jv_member *m = &vp->hnsw_config.v.members[i];
            uint64_t u;
            uint8_t mem;
            if (m->val.type == JV_BOOL)
                qv_grpc_set_bool(&h->base, m->key, m->val.v.b != 0);
            else if (strcmp(m->key, "memory") == 0 &&
                     (mem = qv_memory_parse(&m->val)) != QV_QMEM_UNSET)
                h->_memory_case = QDRANT__HNSW_CONFIG_DIFF___MEMORY_MEMORY,
                h->memory = (Qdrant__Memory)mem;
            else if (jv_to_u64(&m->val, &u))
                qv_grpc_set_u64(&h->base, m->key, u);
        }
        p->_hnsw_config_case = QDRANT__VECTOR_PARAMS___HNSW_CONFIG_HNSW_CONFIG;
        p->hnsw_config = h;
    }
    return p;
}

static Qdrant__VectorsConfig *qv_grpc_vectors_out(qv_grpc_req *rq, const qv_collection_config *c) {
    Qdrant__VectorsConfig *vc =
        QV_GRPC_NEW(rq, Qdrant__VectorsConfig, qdrant__vectors_config__init);
    if (!c->named_form && c->nvectors == 1) {
        vc->config_case = QDRANT__VECTORS_CONFIG__CONFIG_PARAMS;
        vc->params = qv_grpc_vparams_out(rq, &c->vectors[0]);
        return vc;
    }
    Qdrant__VectorParamsMap *pm =
        QV_GRPC_NEW(rq, Qdrant__VectorParamsMap, qdrant__vector_params_map__init);
    pm->n_map = c->nvectors;
    pm->map = qv_grpc_alloc(rq, c->nvectors * sizeof *pm->map);
    for (uint32_t i = 0; i < c->nvectors; i++) {
        Qdrant__VectorParamsMap__MapEntry *e = QV_GRPC_NEW(
            rq, Qdrant__VectorParamsMap__MapEntry, qdrant__vector_params_map__map_entry__init);
        e->key = qv_grpc_strdup(rq, c->vectors[i].name, strlen(c->vectors[i].name));
        e->value = qv_grpc_vparams_out(rq, &c->vectors[i]);
        pm->map[i] = e;
    }
    vc->config_case = QDRANT__VECTORS_CONFIG__CONFIG_PARAMS_MAP;
    vc->params_map = pm;
    return vc;
}

static Qdrant__CollectionParams *qv_grpc_params_out(qv_grpc_req *rq,
                                                    const qv_collection_config *c) {
    Qdrant__CollectionParams *p =
        QV_GRPC_NEW(rq, Qdrant__CollectionParams, qdrant__collection_params__init);
    qv_grpc_set_u64(&p->base, "shard_number", c->shard_number);
    qv_grpc_set_bool(&p->base, "on_disk_payload", c->on_disk_payload);
    qv_grpc_set_u64(&p->base, "replication_factor", c->replication_factor);
    qv_grpc_set_u64(&p->base, "write_consistency_factor", c->write_consistency_factor);
    p->_vectors_config_case = QDRANT__COLLECTION_PARAMS___VECTORS_CONFIG_VECTORS_CONFIG;
    p->vectors_config = qv_grpc_vectors_out(rq, c);
    return p;
}

static Qdrant__HnswConfigDiff *qv_grpc_hnsw_out(qv_grpc_req *rq, const qv_hnsw_config *h) {
    Qdrant__HnswConfigDiff *o =
        QV_GRPC_NEW(rq, Qdrant__HnswConfigDiff, qdrant__hnsw_config_diff__init);
    qv_grpc_set_u64(&o->base, "m", h->m);
    qv_grpc_set_u64(&o->base, "ef_construct", h->ef_construct);
    qv_grpc_set_u64(&o->base, "full_scan_threshold", h->full_scan_threshold);
    qv_grpc_set_u64(&o->base, "max_indexing_threads", h->max_indexing_threads);
    qv_grpc_set_bool(&o->base, "on_disk", h->on_disk);
    if (h->memory != QV_QMEM_UNSET) {
        o->_memory_case = QDRANT__HNSW_CONFIG_DIFF___MEMORY_MEMORY;
        o->memory = (Qdrant__Memory)h->memory;
    }
    if (h->payload_m.has) qv_grpc_set_u64(&o->base, "payload_m", h->payload_m.v);
    return o;
}

static Qdrant__OptimizersConfigDiff *qv_grpc_optimizer_out(qv_grpc_req *rq,
                                                           const qv_optimizer_config *c) {
    Qdrant__OptimizersConfigDiff *o =
        QV_GRPC_NEW(rq, Qdrant__OptimizersConfigDiff, qdrant__optimizers_config_diff__init);
    qv_grpc_set_f64(&o->base, "deleted_threshold", c->deleted_threshold);
    qv_grpc_set_u64(&o->base, "vacuum_min_vector_number", c->vacuum_min_vector_number);
    qv_grpc_set_u64(&o->base, "default_segment_number", c->default_segment_number);
    if (c->max_segment_size.has)
        qv_grpc_set_u64(&o->base, "max_segment_size", c->max_segment_size.v);
    if (c->memmap_threshold.has)
        qv_grpc_set_u64(&o->base, "memmap_threshold", c->memmap_threshold.v);
    if (c->indexing_threshold.has)
        qv_grpc_set_u64(&o->base, "indexing_threshold", c->indexing_threshold.v);
    qv_grpc_set_u64(&o->base, "flush_interval_sec", c->flush_interval_sec);
    Qdrant__MaxOptimizationThreads *t =
        QV_GRPC_NEW(rq, Qdrant__MaxOptimizationThreads, qdrant__max_optimization_threads__init);
    if (c->max_optimization_threads.has) {
        t->variant_case = QDRANT__MAX_OPTIMIZATION_THREADS__VARIANT_VALUE;
        t->value = c->max_optimization_threads.v;
    } else {
        t->variant_case = QDRANT__MAX_OPTIMIZATION_THREADS__VARIANT_SETTING;
        t->setting = QDRANT__MAX_OPTIMIZATION_THREADS__SETTING__Auto;
    }
    o->_max_optimization_threads_case =
        QDRANT__OPTIMIZERS_CONFIG_DIFF___MAX_OPTIMIZATION_THREADS_MAX_OPTIMIZATION_THREADS;
    o->max_optimization_threads = t;
    return o;
}

static Qdrant__WalConfigDiff *qv_grpc_wal_out(qv_grpc_req *rq, const qv_wal_config *w) {
    Qdrant__WalConfigDiff *o =
        QV_GRPC_NEW(rq, Qdrant__WalConfigDiff, qdrant__wal_config_diff__init);
    qv_grpc_set_u64(&o->base, "wal_capacity_mb", w->wal_capacity_mb);
    qv_grpc_set_u64(&o->base, "wal_segments_ahead", w->wal_segments_ahead);
    qv_grpc_set_u64(&o->base, "wal_retain_closed", w->wal_retain_closed);
    return o;
}

/* The per-vector map entries of a strict-mode MAP field ({name: {inner}}),
 * as the caller's entry/value constructors build them. */
static uint64_t qv_grpc_strict_inner(const jv *entry, const char *inner, bool *has) {
    uint64_t v = 0;
    const jv *x = entry->type == JV_OBJ ? jv_get(entry, inner) : NULL;
    *has = x && jv_to_u64(x, &v);
    return v;
}

static Qdrant__StrictModeConfig *qv_grpc_strict_out(qv_grpc_req *rq, const qv_strict_config *c) {
    Qdrant__StrictModeConfig *o =
        QV_GRPC_NEW(rq, Qdrant__StrictModeConfig, qdrant__strict_mode_config__init);
    for (size_t i = 0; i < qv_strict_nfields; i++) {
        const qv_strict_field *f = &qv_strict_fields[i];
        const void *p = qv_strict_cslot(c, f);
        if (f->kind == QV_STRICT_BOOL && ((const qv_opt_bool *)p)->has)
            qv_grpc_set_bool(&o->base, f->name, ((const qv_opt_bool *)p)->v);
        else if (f->kind == QV_STRICT_U64 && ((const qv_opt_u64 *)p)->has)
            qv_grpc_set_u64(&o->base, f->name, ((const qv_opt_u64 *)p)->v);
        else if (f->kind == QV_STRICT_F64 && ((const qv_opt_f64 *)p)->has)
            qv_grpc_set_f64(&o->base, f->name, ((const qv_opt_f64 *)p)->v);
    }
    const jv *mv = &c->multivector_config, *sp = &c->sparse_config;
    if (mv->type == JV_OBJ) {
        Qdrant__StrictModeMultivectorConfig *m = QV_GRPC_NEW(
            rq, Qdrant__StrictModeMultivectorConfig, qdrant__strict_mode_multivector_config__init);
        m->n_multivector_config = mv->len;
        m->multivector_config = qv_grpc_alloc(rq, (mv->len ? mv->len : 1) * sizeof(void *));
        for (uint32_t i = 0; i < mv->len; i++) {
            Qdrant__StrictModeMultivectorConfig__MultivectorConfigEntry *e =
                QV_GRPC_NEW(rq, Qdrant__StrictModeMultivectorConfig__MultivectorConfigEntry,
                            qdrant__strict_mode_multivector_config__multivector_config_entry__init);
            e->key = qv_grpc_strdup(rq, mv->v.members[i].key, mv->v.members[i].klen);
            e->value = QV_GRPC_NEW(rq, Qdrant__StrictModeMultivector,
                                   qdrant__strict_mode_multivector__init);
            bool has;
            uint64_t v = qv_grpc_strict_inner(&mv->v.members[i].val, "max_vectors", &has);
            if (has) qv_grpc_set_u64(&e->value->base, "max_vectors", v);
            m->multivector_config[i] = e;
        }
        o->_multivector_config_case =
            QDRANT__STRICT_MODE_CONFIG___MULTIVECTOR_CONFIG_MULTIVECTOR_CONFIG;
        o->multivector_config = m;
    }
    if (sp->type == JV_OBJ) {
        Qdrant__StrictModeSparseConfig *m = QV_GRPC_NEW(rq, Qdrant__StrictModeSparseConfig,
                                                        qdrant__strict_mode_sparse_config__init);
        m->n_sparse_config = sp->len;
        m->sparse_config = qv_grpc_alloc(rq, (sp->len ? sp->len : 1) * sizeof(void *));
        for (uint32_t i = 0; i < sp->len; i++) {
            Qdrant__StrictModeSparseConfig__SparseConfigEntry *e =
                QV_GRPC_NEW(rq, Qdrant__StrictModeSparseConfig__SparseConfigEntry,
                            qdrant__strict_mode_sparse_config__sparse_config_entry__init);
            e->key = qv_grpc_strdup(rq, sp->v.members[i].key, sp->v.members[i].klen);
            e->value = QV_GRPC_NEW(rq, Qdrant__StrictModeSparse, qdrant__strict_mode_sparse__init);
            bool has;
            uint64_t v = qv_grpc_strict_inner(&sp->v.members[i].val, "max_length", &has);
            if (has) qv_grpc_set_u64(&e->value->base, "max_length", v);
            m->sparse_config[i] = e;
        }
        o->_sparse_config_case = QDRANT__STRICT_MODE_CONFIG___SPARSE_CONFIG_SPARSE_CONFIG;
        o->sparse_config = m;
    }
    return o;
}

static Qdrant__CollectionConfig *qv_grpc_config_out(qv_grpc_req *rq,
                                                    const qv_collection_config *c) {
    Qdrant__CollectionConfig *o =
        QV_GRPC_NEW(rq, Qdrant__CollectionConfig, qdrant__collection_config__init);
    o->params = qv_grpc_params_out(rq, c);
    o->hnsw_config = qv_grpc_hnsw_out(rq, &c->hnsw);
    o->optimizer_config = qv_grpc_optimizer_out(rq, &c->optimizer);
    o->wal_config = qv_grpc_wal_out(rq, &c->wal);
    o->_strict_mode_config_case = QDRANT__COLLECTION_CONFIG___STRICT_MODE_CONFIG_STRICT_MODE_CONFIG;
    o->strict_mode_config = qv_grpc_strict_out(rq, &c->strict);
    if (c->quantization_config.kind != QV_QUANT_NONE) {
        o->quantization_config = qv_quant_config_to_grpc(&rq->arena, &c->quantization_config);
        if (!o->quantization_config) abort(); /* arena exhausted, as qv_grpc_alloc */
        o->_quantization_config_case =
            QDRANT__COLLECTION_CONFIG___QUANTIZATION_CONFIG_QUANTIZATION_CONFIG;
    }
    if (c->metadata.type == JV_OBJ)
        o->metadata = (Qdrant__CollectionConfig__MetadataEntry **)qv_grpc_kvs_out(
            rq, &c->metadata, &qdrant__collection_config__metadata_entry__descriptor,
            &o->n_metadata);
    return o;
}

qv_rc qv_grpc_h_coll_get(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err) {
    const Qdrant__GetCollectionInfoRequest *q = (const Qdrant__GetCollectionInfoRequest *)in;
    qv_collection *c = qv_grpc_collection(rq, q->collection_name, err);
    if (!c) return err->kind;
    qv_collection_stats st;
    qv_collection_stats_get(c, &st);
    Qdrant__CollectionInfo *info =
        QV_GRPC_NEW(rq, Qdrant__CollectionInfo, qdrant__collection_info__init);
    info->status = st.broken       ? QDRANT__COLLECTION_STATUS__Red
                   : st.optimizing ? QDRANT__COLLECTION_STATUS__Yellow
                                   : QDRANT__COLLECTION_STATUS__Green;
    info->optimizer_status =
        QV_GRPC_NEW(rq, Qdrant__OptimizerStatus, qdrant__optimizer_status__init);
    info->optimizer_status->ok = !st.broken;
    if (st.broken)
        info->optimizer_status->error = qv_grpc_strdup(rq, st.broken_msg, strlen(st.broken_msg));
    info->segments_count = st.segments_count;
    qv_grpc_set_u64(&info->base, "points_count", st.points_count);
    qv_grpc_set_u64(&info->base, "indexed_vectors_count", st.indexed_vectors_count);
    info->config = qv_grpc_config_out(rq, qv_collection_config_get(c));
    qv_grpc_payload_schema_out(rq, c, info);
    qv_collection_release(c);
    Qdrant__GetCollectionInfoResponse *r = QV_GRPC_NEW(rq, Qdrant__GetCollectionInfoResponse,
                                                       qdrant__get_collection_info_response__init);
    r->result = info;
    r->time = qv_grpc_elapsed(rq);
    rq->reply = &r->base;
    return QV_OK;
}
