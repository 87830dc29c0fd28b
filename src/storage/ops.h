/*
 * ops.h - point update operations: the unit of the update pipeline and of
 * the write-ahead log.
 *
 * The API layers (REST, gRPC) decode requests into these structs; the shard
 * validates them against the collection's vector configuration, resolves
 * any filter to a list of point IDs (so that replaying the WAL never
 * re-evaluates a filter against a different state), encodes them with
 * qv_op_encode, appends them to the WAL and applies them.  Replay decodes
 * with qv_op_decode and applies again; application is idempotent because
 * every point remembers the number of the last operation that changed it
 * (its version) and an operation never touches a point with a newer one.
 *
 * Payload field index declarations (create / delete index) travel the same
 * way, so they are ordered with the point writes around them and replayed
 * after a crash: the field is `key`, the payload type name `names[0]`, and
 * the canonical parameters object `payload` (absent when the index was
 * declared by type name only).
 *
 * All memory of a decoded operation lives in one arena.
 */
#ifndef QV_STORAGE_OPS_H
#define QV_STORAGE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "core/pointid.h"

struct qv_filter;

typedef enum qv_op_kind {
    QV_OP_UPSERT = 1,            /* points: insert or replace whole points */
    QV_OP_DELETE = 2,            /* ids (or filter) */
    QV_OP_SET_PAYLOAD = 3,       /* ids (or filter), payload merged at key or root */
    QV_OP_OVERWRITE_PAYLOAD = 4, /* ids (or filter), payload replaced */
    QV_OP_DELETE_PAYLOAD = 5,    /* ids (or filter), keys removed */
    QV_OP_CLEAR_PAYLOAD = 6,     /* ids (or filter), payload emptied */
    QV_OP_UPDATE_VECTORS = 7,    /* points: named vectors replaced, others kept */
    QV_OP_DELETE_VECTORS = 8,    /* ids (or filter), named vectors removed */
    QV_OP_CREATE_INDEX = 9,      /* key: field; names[0]: payload type; payload: params or none */
    QV_OP_DELETE_INDEX = 10,     /* key: field */
} qv_op_kind;

/* One named vector of a point.  Dense only for now; sparse and multi-vectors
 * get their own fields (indices/values, rows) with the issues that add them,
 * and the codec's per-vector kind byte already leaves room for them. */
typedef struct qv_vec_in {
    const char *name; /* "" = the unnamed default vector */
    uint32_t dim;
    float *data; /* dim floats (normalised by the shard for Cosine) */
} qv_vec_in;

typedef struct qv_point_in {
    qv_pointid id;
    uint32_t nvec;
    qv_vec_in *vecs;
    bool has_payload; /* upsert: absent payload = empty payload */
    jv payload;       /* resolved JSON object */
} qv_point_in;

typedef struct qv_update_op {
    uint32_t kind; /* qv_op_kind */
    /* QV_OP_UPSERT, QV_OP_UPDATE_VECTORS */
    uint32_t npoints;
    qv_point_in *points;
    /* the other kinds select points by ids, or by filter before logging */
    uint32_t nids;
    qv_pointid *ids;
    struct qv_filter *filter; /* never logged: the shard resolves it to ids */
    /* QV_OP_SET_PAYLOAD / QV_OP_OVERWRITE_PAYLOAD */
    jv payload;
    const char *key; /* set_payload: key path to merge at, or NULL for root */
    /* QV_OP_DELETE_PAYLOAD: keys; QV_OP_DELETE_VECTORS: vector names */
    uint32_t nnames;
    const char **names;
} qv_update_op;

/* Encodes a resolved operation (filter already turned into ids; payloads
 * resolved) into a malloc'd buffer.  Returns NULL on OOM. */
uint8_t *qv_op_encode(const qv_update_op *op, size_t *len);

/* Decodes and fully validates an encoded operation into arena memory.
 * Untrusted input (a WAL record) never causes a read out of bounds:
 * anything malformed is QV_ECORRUPT. */
qv_rc qv_op_decode(qv_arena *a, const uint8_t *buf, size_t len, qv_update_op *op, qv_err *err);

#endif
