/*
 * field_index.h - declared payload field indexes of a collection.
 *
 * What: the set of (field, schema) declarations made with PUT
 * /collections/{c}/index (gRPC Points/CreateFieldIndex), as Qdrant's
 * payload_schema reports them.  A declaration is the field's key path, its
 * payload type (keyword, integer, ...) and, when the user gave the schema as
 * an object, its parameters in the canonical JSON form Qdrant prints them
 * ({"type":"keyword","is_tenant":true}).
 *
 * How it stays durable: creating or deleting an index is an update operation
 * (QV_OP_CREATE_INDEX / QV_OP_DELETE_INDEX, storage/ops.h) that goes through
 * the collection's WAL like any point write, so it survives kill -9 once
 * acknowledged with wait=true, and is replayed in order with the writes
 * around it.  Checkpoints write the whole set beside the segment
 * (indexes.qvi, see qv_index_set_save) because the WAL is truncated behind
 * them.
 *
 * What a declaration becomes: every segment of the collection builds a
 * qv_pindex for it (index/payload_index.h) from its payloads and keeps it
 * current (qv_shard_sync_pindexes, called when a declaration changes, when
 * a segment is loaded or made); the indexes themselves are not saved, they
 * are rebuilt from the payloads on load.  Filters are planned from them
 * (collection/plan.h); results are the same with or without a declaration.
 *
 * Threading: a qv_index_set has no lock of its own; the collection's `lock`
 * protects it (collection_impl.h).
 */
#ifndef QV_COLLECTION_FIELD_INDEX_H
#define QV_COLLECTION_FIELD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/json.h"
#include "index/payload_index.h"

/* qv_payload_type, QV_PT_* and qv_payload_type_accepts live with the
 * indexes themselves (index/payload_index.h). */

/* "keyword", "integer", ... (NULL for an unknown value). */
const char *qv_payload_type_name(uint32_t t);
/* The type named s[0..len), or 0. */
uint32_t qv_payload_type_parse(const char *s, size_t len);

/* One declaration. */
typedef struct qv_field_index {
    char *field; /* key path text, as given */
    uint32_t type;
    char *params; /* canonical params JSON (malloc'd), NULL = declared by type name */
} qv_field_index;

/* Declarations sorted by field; each field at most once. */
typedef struct qv_index_set {
    qv_field_index *items;
    size_t n, cap;
} qv_index_set;

void qv_index_set_free(qv_index_set *s);

/* Declares (or re-declares, replacing) field; params may be NULL.
 * QV_ENOMEM leaves the set unchanged. */
qv_rc qv_index_set_put(qv_index_set *s, const char *field, uint32_t type, const jv *params);

/* Removes field's declaration; false when there was none. */
bool qv_index_set_remove(qv_index_set *s, const char *field);

/* Persistence inside a checkpoint directory: `indexes.qvi`, an envelope
 * (magic QVINDEXS, version 1, length, CRC-32C) around the JSON
 * {"<field>": {"data_type": "<type>", "params": {...}}, ...}; written
 * atomically.  Loading a directory without the file gives an empty set
 * (checkpoints written before indexes existed).  Anything malformed is
 * QV_ECORRUPT. */
qv_rc qv_index_set_save(const qv_index_set *s, const char *dir, qv_err *err);
qv_rc qv_index_set_load(const char *dir, qv_index_set *out, qv_err *err);

#endif
