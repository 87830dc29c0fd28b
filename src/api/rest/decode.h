/*
 * decode.h - REST request bodies (parsed JSON) -> the engine's operation,
 * query and configuration structs.
 *
 * What: one decoder per request shape of Qdrant's REST API (points upsert in
 * its list and column forms, the point selectors, payload and vector
 * updates, the batch of update operations, query / legacy search / scroll /
 * retrieve / count, create and update collection).  Each decoder applies
 * Qdrant's validation and produces Qdrant's messages: JSON type errors are
 * QV_EFORMAT ("Format error in JSON body: ..."), range checks are
 * QV_EVALIDATION ("field: message", bracketed by the encoder), features the
 * engine does not have yet are QV_EUNIMPLEMENTED.
 *
 * How: decoders read a jv tree and allocate everything they produce in the
 * caller's arena (the request arena), except collection configurations,
 * which live in their own arena (qv_collection_config.arena) because the
 * catalog keeps them.  Payloads are deep-copied and their numbers resolved.
 * Explicit `null` always means "absent".
 *
 * What it does not do: no I/O, no collection lookups.  Checks that need the
 * collection's configuration (vector names, dimensions) are the shard's.
 */
#ifndef QV_API_REST_DECODE_H
#define QV_API_REST_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collection/catalog.h"
#include "collection/collection.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "core/pointid.h"
#include "storage/ops.h"

/* ---- Selectors ------------------------------------------------------------ */

typedef enum qv_rest_payload_mode {
    QV_REST_PAYLOAD_NONE = 0, /* with_payload: false */
    QV_REST_PAYLOAD_ALL,      /* with_payload: true */
    QV_REST_PAYLOAD_INCLUDE,  /* list of keys or {include: [...]} */
    QV_REST_PAYLOAD_EXCLUDE,  /* {exclude: [...]} */
} qv_rest_payload_mode;

typedef struct qv_rest_payload_sel {
    uint32_t mode; /* qv_rest_payload_mode */
    uint32_t nkeys;
    const char **keys; /* key paths (arena) */
} qv_rest_payload_sel;

/* with_vector: all, none (all false and nnames 0) or a list of names. */
typedef struct qv_rest_vector_sel {
    bool all;
    uint32_t nnames;
    const char **names;
} qv_rest_vector_sel;

/* ---- Reads ---------------------------------------------------------------- */

/* One query of /points/query or /points/search (and their batches). */
typedef struct qv_rest_query {
    qv_query q;
    qv_rest_payload_sel with_payload;
    qv_rest_vector_sel with_vector;
    bool has_order_by; /* query: {"order_by": ...} (q.kind is then QV_QUERY_NONE) */
    qv_order_by order_by;
} qv_rest_query;

typedef struct qv_rest_scroll {
    struct qv_filter *filter;
    bool has_offset;
    qv_pointid offset;
    size_t limit;
    qv_rest_payload_sel with_payload;
    qv_rest_vector_sel with_vector;
    bool has_order_by; /* order_by given: an offset is refused by the handler */
    qv_order_by order_by;
} qv_rest_scroll;

typedef struct qv_rest_retrieve {
    size_t nids;
    qv_pointid *ids;
    qv_rest_payload_sel with_payload;
    qv_rest_vector_sel with_vector;
} qv_rest_retrieve;

typedef struct qv_rest_count {
    struct qv_filter *filter;
    bool exact;
} qv_rest_count;

/* POST /points/query body. */
qv_rc qv_rest_decode_query(qv_arena *a, const jv *body, qv_rest_query *out, qv_err *err);
/* POST /points/query/batch body: {"searches": [...]}. */
qv_rc qv_rest_decode_query_batch(qv_arena *a, const jv *body, qv_rest_query **out, size_t *n,
                                 qv_err *err);
/* POST /points/search (legacy) body. */
qv_rc qv_rest_decode_search(qv_arena *a, const jv *body, qv_rest_query *out, qv_err *err);
/* POST /points/search/batch body: {"searches": [...]}. */
qv_rc qv_rest_decode_search_batch(qv_arena *a, const jv *body, qv_rest_query **out, size_t *n,
                                  qv_err *err);
qv_rc qv_rest_decode_scroll(qv_arena *a, const jv *body, qv_rest_scroll *out, qv_err *err);
qv_rc qv_rest_decode_retrieve(qv_arena *a, const jv *body, qv_rest_retrieve *out, qv_err *err);
qv_rc qv_rest_decode_count(qv_arena *a, const jv *body, qv_rest_count *out, qv_err *err);
/* POST /collections/{c}/facet body (FacetRequest): key, limit (>= 1,
 * default 10), filter, exact (default false). */
qv_rc qv_rest_decode_facet(qv_arena *a, const jv *body, qv_facet_req *out, qv_err *err);

/* ---- Writes --------------------------------------------------------------- */

/* PUT /points: {"points": [...]} or {"batch": {...}}. */
qv_rc qv_rest_decode_upsert(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);
/* POST /points/delete: {"points": [...]} or {"filter": {...}}. */
qv_rc qv_rest_decode_delete(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);
/* POST/PUT /points/payload (kind QV_OP_SET_PAYLOAD or QV_OP_OVERWRITE_PAYLOAD). */
qv_rc qv_rest_decode_set_payload(qv_arena *a, const jv *body, uint32_t kind, qv_update_op *op,
                                 qv_err *err);
qv_rc qv_rest_decode_delete_payload(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);
qv_rc qv_rest_decode_clear_payload(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);
qv_rc qv_rest_decode_update_vectors(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);
qv_rc qv_rest_decode_delete_vectors(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);
/* POST /points/batch: {"operations": [{"upsert": {...}}, ...]}. */
qv_rc qv_rest_decode_batch(qv_arena *a, const jv *body, qv_update_op **ops, size_t *n, qv_err *err);

/* ---- Collections ---------------------------------------------------------- */

/* PUT /collections/{name}: fills *cfg (which the caller must not have
 * initialised) with Qdrant's defaults overridden by the body.  On error
 * *cfg is freed again. */
qv_rc qv_rest_decode_create_collection(const jv *body, qv_collection_config *cfg, qv_err *err);

/* PATCH /collections/{name}: *out becomes a copy of *cur with the body's
 * changes applied.  On error *out is freed again. */
qv_rc qv_rest_decode_update_collection(const jv *body, const qv_collection_config *cur,
                                       qv_collection_config *out, qv_err *err);

/* ---- Collection meta operations (decode_meta.c) ---------------------------- */

/* POST /collections/aliases: {"actions": [{"create_alias": {...}}, ...]}
 * -> *n actions in the arena (strings borrowed from body). */
qv_rc qv_rest_decode_alias_actions(qv_arena *a, const jv *body, qv_alias_action **out, size_t *n,
                                   qv_err *err);

/* A field_schema value (PayloadFieldSchema): a type name, or an object whose
 * canonical form (see decode_meta.c) goes to *params; *params is JV_NULL
 * for the name form.  Absent / null is QV_EBADREQUEST "Can't auto-detect
 * field type, ...", as Qdrant answers. */
qv_rc qv_rest_decode_field_schema(qv_arena *a, const jv *schema, uint32_t *type, jv *params,
                                  qv_err *err);

/* PUT /collections/{c}/index: {"field_name", "field_schema"} -> a
 * QV_OP_CREATE_INDEX op (storage/ops.h).  gRPC's CreateFieldIndex builds
 * this body and calls it too. */
qv_rc qv_rest_decode_create_index(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err);

/* DELETE /collections/{c}/index/{field}: field[0..len) -> a
 * QV_OP_DELETE_INDEX op (field copied into a). */
qv_rc qv_rest_decode_delete_index(qv_arena *a, const char *field, size_t len, qv_update_op *op,
                                  qv_err *err);

/* ---- Pieces shared with the handlers -------------------------------------- */

/* A point ID: an unsigned integer or a UUID string. field names it in
 * error messages. */
qv_rc qv_rest_decode_pointid(const jv *v, qv_pointid *out, qv_err *err);

/* A point ID from a URL path segment ("42" or a UUID). */
qv_rc qv_rest_decode_pointid_str(const char *s, qv_pointid *out, qv_err *err);

/* True for absent or explicit null. */
static inline bool qv_rest_absent(const jv *v) {
    return v == NULL || v->type == JV_NULL;
}

#endif
