/*
 * strict.h - Qdrant's strict mode for a collection: the fields of
 * strict_mode_config, and their enforcement on reads and writes.
 *
 * What.  A collection whose strict_mode_config has `enabled: true` refuses
 * requests that exceed its limits: a query/scroll `limit` above
 * max_query_limit, a `timeout` above max_timeout, params.exact when
 * search_allow_exact is false, hnsw_ef / oversampling above their maxima,
 * batches above search_max_batchsize / upsert_max_batchsize, filters with
 * more than filter_max_conditions conditions or a condition larger than
 * condition_max_size, filters on keys without a declared payload index when
 * unindexed_filtering_retrieve / _update is false, upserts once the
 * collection holds max_points_count points or max_collection_vector_size_
 * bytes of vectors; and it rate-limits reads and writes per minute
 * (read_rate_limit / write_rate_limit, one token bucket each per collection,
 * core/ratelimit.h).
 *
 * Where.  The collection layer calls these checks itself (search.c before
 * every read, collection.c in the update pipeline), so REST and gRPC share
 * one enforcement and cannot forget it; the API layers only decode the
 * config (through the one REST decoder, gRPC translating into its JSON) and
 * pass what a request says besides its queries (qv_read_opts).
 *
 * Answers, as Qdrant 1.19 gives them (lib/collection verification code and
 * lib/storage errors): a limit violation is CollectionError::StrictMode,
 * which Qdrant turns into StorageError::BadRequest - HTTP 400 "Bad request:
 * <what>. Help: <how to fix>", gRPC INVALID_ARGUMENT - e.g. `Limit exceeded
 * 11 > 10 for "limit". Help: Reduce the "limit" parameter to or below 10.`.
 * The storage-size limits are plain bad requests ("Max vector storage size
 * limit of ...MB reached!").  A rate limit is QV_ERATELIMITED (429 /
 * RESOURCE_EXHAUSTED, "Rate limiting exceeded: Read rate limit exceeded:
 * Operation requires 1 tokens but only 0.4 were available. Retry after 2s")
 * with the whole seconds to wait in qv_err.retry_after.
 *
 * Costs (Qdrant's): a read takes 1 token per query plus 1 per filter
 * condition (retrieve: 1 per requested id); a write takes the number of
 * points it touches (the ids a filter selects), at least 1.
 *
 * What it does not enforce (stored and reported only): search_max_hnsw_ef
 * and search_max_oversampling are checked against the request although the
 * engine has no HNSW or quantization yet; multivector_config, sparse_config,
 * max_collection_payload_size_bytes, max_payload_index_count and
 * max_resident_memory_percent have no engine feature or no cheap measure
 * yet.
 */
#ifndef QV_COLLECTION_STRICT_H
#define QV_COLLECTION_STRICT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collection/collection.h"
#include "collection/field_index.h"
#include "core/err.h"
#include "core/ratelimit.h"
#include "index/filter.h"
#include "storage/ops.h"

/* ---- The fields ------------------------------------------------------------ */

typedef enum qv_strict_kind {
    QV_STRICT_BOOL = 1, /* qv_opt_bool */
    QV_STRICT_U64,      /* qv_opt_u64 within [min, max] */
    QV_STRICT_F64,      /* qv_opt_f64 (finite) */
    QV_STRICT_MAP,      /* jv: {vector name: {inner: u64 >= min}} */
} qv_strict_kind;

typedef struct qv_strict_field {
    const char *name; /* the JSON and protobuf field name */
    uint32_t kind;    /* qv_strict_kind */
    size_t offset;    /* into qv_strict_config */
    uint64_t min, max;
    const char *inner; /* MAP: the per-vector field ("max_vectors") */
} qv_strict_field;

/* Every field of StrictModeConfig in Qdrant's output order (openapi
 * StrictModeConfigOutput), with the bounds of its validator. */
extern const qv_strict_field qv_strict_fields[];
extern const size_t qv_strict_nfields;

/* The field's storage inside c (cast by kind). */
static inline void *qv_strict_slot(qv_strict_config *c, const qv_strict_field *f) {
    return (char *)c + f->offset;
}
static inline const void *qv_strict_cslot(const qv_strict_config *c, const qv_strict_field *f) {
    return (const char *)c + f->offset;
}

/* Qdrant's default: only {"enabled": false}. */
void qv_strict_config_defaults(qv_strict_config *c);

/* Writes the StrictModeConfigOutput object: the set fields only. */
void qv_strict_config_write_json(jw *w, const qv_strict_config *c);

/* Reads a persisted StrictModeConfig (written by write_json, or echoed by
 * older versions): fields of the wrong type are ignored; maps are copied
 * into a.  QV_ENOMEM only. */
qv_rc qv_strict_config_read_json(qv_arena *a, const jv *j, qv_strict_config *out, qv_err *err);

static inline bool qv_strict_enabled(const qv_strict_config *c) {
    return c->enabled.has && c->enabled.v;
}

/* ---- Checks (caller holds the collection's lock; all are no-ops unless the
 * config is enabled) ------------------------------------------------------- */

/* One read: each query (limit, filter, exact, hnsw_ef, oversampling), the
 * batch size and the timeout.  nq may be 0 (scroll / count / retrieve pass
 * their limit and filter through the query-less form below). */
qv_rc qv_strict_check_queries(const qv_strict_config *c, const qv_index_set *ix, const qv_query *qs,
                              size_t nq, const qv_read_opts *opts, qv_err *err);

/* Scroll (limit > 0) and count (limit 0): limit, filter and timeout. */
qv_rc qv_strict_check_read(const qv_strict_config *c, const qv_index_set *ix,
                           const qv_filter *filter, size_t limit, const qv_read_opts *opts,
                           qv_err *err);

/* An update op before validation: batch size, a filter's limits and
 * indexes, and for point inserts the collection's size limits (points =
 * live points now, vector_bytes = their vector storage). */
qv_rc qv_strict_check_update(const qv_strict_config *c, const qv_index_set *ix,
                             const qv_update_op *op, uint64_t points, uint64_t vector_bytes,
                             qv_err *err);

/* Read cost of a filter: its conditions (Qdrant's filter_rate_cost). */
uint64_t qv_strict_filter_cost(const qv_filter *f);

/* ---- Rate limits ------------------------------------------------------------ */

/* A collection's two buckets, guarded by mu (reads run in parallel). */
typedef struct qv_strict_limiter {
    pthread_mutex_t mu;
    bool read_on, write_on;
    qv_ratelimit read, write;
} qv_strict_limiter;

void qv_strict_limiter_init(qv_strict_limiter *l, const qv_strict_config *c);
/* After a config change: buckets restart full at the new limits (as
 * Qdrant recreates its rate limiters); none when strict mode is off. */
void qv_strict_limiter_reset(qv_strict_limiter *l, const qv_strict_config *c);
void qv_strict_limiter_destroy(qv_strict_limiter *l);

/* Takes cost tokens from the read or write bucket; QV_ERATELIMITED with
 * Qdrant's message and retry_after (ceil of the wait, >= 1) when they are
 * not there, retry_after 0 when cost exceeds the limit itself. */
qv_rc qv_strict_charge(qv_strict_limiter *l, bool write, uint64_t cost, qv_err *err);

#endif
