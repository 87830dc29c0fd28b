/*
 * collection.h - a collection: its configuration, its (for now single,
 * local) shard, and the read and write operations the API layers call.
 *
 * Write path (the update pipeline, see shard.c): validate -> resolve filter
 * to ids -> append to the WAL -> apply to the segment -> (wait) fsync the
 * WAL -> acknowledge.  Read path: readers take the shard's read lock and see
 * a consistent state; results are handed to the caller's callback *while
 * the lock is held*, so the API layer serialises them straight from the
 * stored data without copies.  A callback must not call back into the
 * collection.
 *
 * Lifetime: collections are reference-counted by the catalog
 * (qv_catalog_acquire / qv_collection_release); a deleted collection lives
 * until its last user releases it.
 */
#ifndef QV_COLLECTION_COLLECTION_H
#define QV_COLLECTION_COLLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/distance.h"
#include "core/err.h"
#include "core/json.h"
#include "core/pointid.h"
#include "storage/ops.h"

struct qv_filter;

/* ---- Configuration ----------------------------------------------------- */

#include "collection/quant_config.h" /* qv_quant_config */

#define QV_MAX_VECTOR_DIM    65536
#define QV_MAX_NAMED_VECTORS 64

/* Optional value: has = the user (or a default Qdrant fills in) set it. */
typedef struct qv_opt_u64 {
    bool has;
    uint64_t v;
} qv_opt_u64;

typedef struct qv_opt_f64 {
    bool has;
    double v;
} qv_opt_f64;

typedef struct qv_opt_bool {
    bool has;
    bool v;
} qv_opt_bool;

/* VectorParams.datatype.  Accepted, persisted and echoed; the storage
 * engine keeps float32 rows for every datatype until it learns the others. */
typedef enum qv_datatype {
    QV_DT_FLOAT32 = 0,
    QV_DT_FLOAT16 = 1, /* engine: later issue */
    QV_DT_UINT8 = 2,   /* engine: later issue */
    QV_DT_TURBO4 = 3,  /* engine: later issue */
} qv_datatype;

typedef struct qv_vector_params {
    char *name; /* "" for the unnamed default vector */
    uint32_t size;
    qv_distance distance;
    qv_opt_bool on_disk; /* deprecated by memory */
    uint8_t memory;      /* qv_quant_memory: QV_QMEM_UNSET, COLD or CACHED (pinned is
                            refused for dense vectors); overrides on_disk */
    bool has_datatype;
    qv_datatype datatype;
    jv hnsw_config;                      /* echoed as given (JV_NULL if absent) */
    qv_quant_config quantization_config; /* kind QV_QUANT_NONE if absent */
    jv multivector_config;               /* echoed as given (JV_NULL if absent) */
} qv_vector_params;

typedef struct qv_hnsw_config {
    uint64_t m, ef_construct, full_scan_threshold, max_indexing_threads;
    bool on_disk;
    uint8_t memory; /* qv_quant_memory (QV_QMEM_UNSET if not given); cold graphs
                       are mapped, others on the heap (optimizer.c graph_place) */
    qv_opt_u64 payload_m;
} qv_hnsw_config;

typedef struct qv_optimizer_config {
    double deleted_threshold;
    uint64_t vacuum_min_vector_number, default_segment_number;
    qv_opt_u64 max_segment_size, memmap_threshold, indexing_threshold;
    uint64_t flush_interval_sec;
    qv_opt_u64 max_optimization_threads;
} qv_optimizer_config;

typedef struct qv_wal_config {
    uint64_t wal_capacity_mb, wal_segments_ahead, wal_retain_closed;
} qv_wal_config;

/* strict_mode_config (StrictModeConfig): every field optional, `enabled`
 * false by default (Qdrant's shipped config.yaml).  collection/strict.h
 * lists the fields (name, JSON type, bounds) and enforces them. */
typedef struct qv_strict_config {
    qv_opt_bool enabled;
    qv_opt_u64 max_query_limit, max_timeout;
    qv_opt_bool unindexed_filtering_retrieve, unindexed_filtering_update;
    qv_opt_u64 search_max_hnsw_ef;
    qv_opt_bool search_allow_exact;
    qv_opt_f64 search_max_oversampling;
    qv_opt_u64 upsert_max_batchsize, search_max_batchsize, max_collection_vector_size_bytes;
    qv_opt_u64 read_rate_limit, write_rate_limit, max_collection_payload_size_bytes;
    qv_opt_u64 max_points_count, filter_max_conditions, condition_max_size;
    jv multivector_config; /* {vector: {"max_vectors": n}} canonical; JV_NULL if unset */
    jv sparse_config;      /* {vector: {"max_length": n}} canonical; JV_NULL if unset */
    qv_opt_u64 max_payload_index_count, max_resident_memory_percent;
} qv_strict_config;

typedef struct qv_collection_config {
    /* vectors: either one unnamed vector (named_form false, nvectors 1,
     * name "") or a map of named vectors (named_form true, sorted by name). */
    bool named_form;
    uint32_t nvectors;
    qv_vector_params *vectors;
    uint32_t shard_number, replication_factor, write_consistency_factor;
    bool on_disk_payload;
    qv_hnsw_config hnsw;
    qv_optimizer_config optimizer;
    qv_wal_config wal;
    jv sparse_vectors;                   /* echoed (JV_NULL if absent); engine: later */
    qv_quant_config quantization_config; /* QV_QUANT_NONE if absent; engine: later */
    qv_strict_config strict;             /* strict_mode_config (maps live in arena) */
    jv metadata;                         /* echoed (JV_NULL if absent) */
    qv_arena arena;                      /* owns names, jv trees */
} qv_collection_config;

/* Fills Qdrant's defaults for everything but the vectors. */
void qv_collection_config_defaults(qv_collection_config *c);
void qv_collection_config_free(qv_collection_config *c);
/* Deep copy (dst must be uninitialised). */
bool qv_collection_config_copy(qv_collection_config *dst, const qv_collection_config *src);
/* Index of the vector named name, or -1. */
int qv_collection_config_vector(const qv_collection_config *c, const char *name);

/* Writes the CollectionConfig object exactly as GET /collections/{name}
 * shows it under result.config; it is also the persisted form (config.c).
 * API layers call this rather than encoding the config themselves. */
void qv_collection_config_write_json(jw *w, const qv_collection_config *c);

/* Reads the persisted form back (the inverse of write_json). */
qv_rc qv_collection_config_read_json(const jv *j, qv_collection_config *c, qv_err *err);

/* ---- Handles ------------------------------------------------------------ */

typedef struct qv_collection qv_collection;

const char *qv_collection_name(const qv_collection *c);

/* The configuration; stable while the caller holds a reference (PATCH swaps
 * in a new one under the collection's lock, see qv_collection_update_config). */
const qv_collection_config *qv_collection_config_get(const qv_collection *c);

/* ---- Writes ------------------------------------------------------------ */

typedef enum qv_write_status {
    QV_WRITE_ACKNOWLEDGED, /* in the WAL (not necessarily fsynced) */
    QV_WRITE_COMPLETED,    /* fsynced, applied and visible */
} qv_write_status;

/* Runs one update operation through the pipeline.  The op is validated
 * (vector names and dimensions, NaN; then strict mode's limits and write
 * rate limit when enabled) before anything is written; on error nothing
 * changes.  Cosine vectors in op are normalised in place.  With
 * wait, returns after the WAL holds the op durably and it is visible. */
qv_rc qv_collection_update(qv_collection *c, qv_update_op *op, bool wait, uint64_t *op_num,
                           qv_write_status *status, qv_err *err);

/* ---- Reads -------------------------------------------------------------- */

/* What a read request says besides its queries, for strict mode: whether
 * it came through a batch endpoint (search_max_batchsize) and the
 * `timeout` it asked for (max_timeout).  NULL = neither. */
typedef struct qv_read_opts {
    bool batch;
    bool has_timeout;
    uint64_t timeout; /* seconds */
} qv_read_opts;

/* A stored point as readers see it (valid only inside the callback). */
typedef struct qv_point_view {
    qv_pointid id;
    const jv *payload; /* resolved object; NULL = no payload ({}) */
    uint64_t version;  /* number of the last operation that changed the point */
    const void *seg;   /* internal: where the vectors are */
    uint32_t offset;   /* internal */
} qv_point_view;

/* The stored vector number vec_index (an index into config->vectors) of a
 * point, or NULL when the point has none. dim = that vector's size. */
const float *qv_point_vector(const qv_point_view *p, uint32_t vec_index);

/* Called once per result, in result order. Return false to stop early. */
typedef bool (*qv_point_cb)(void *ctx, const qv_point_view *p, float score);

/* Every read below first applies the collection's strict mode when it is
 * enabled (collection/strict.h: limits, filters, exact, then the read rate
 * limit), so a refused read changes nothing and returns no points. */

/* Looks up ids in the given order; missing ids are skipped.  Duplicates are
 * reported once (first occurrence). */
qv_rc qv_collection_retrieve(qv_collection *c, const qv_pointid *ids, size_t n,
                             const qv_read_opts *opts, qv_point_cb cb, void *ctx, qv_err *err);

/* Scroll: points matching filter in ID order starting at *offset
 * (inclusive, NULL = from the start), at most limit.  *next gets the ID
 * after the last one returned, *has_next whether there is one. */
qv_rc qv_collection_scroll(qv_collection *c, const struct qv_filter *filter,
                           const qv_pointid *offset, size_t limit, const qv_read_opts *opts,
                           qv_point_cb cb, void *ctx, qv_pointid *next, bool *has_next,
                           qv_err *err);

/* Number of points matching filter (NULL = all). */
qv_rc qv_collection_count(qv_collection *c, const struct qv_filter *filter,
                          const qv_read_opts *opts, uint64_t *count, qv_err *err);
/* The same, estimated (count exact=false): exact where the payload indexes
 * answer the filter exactly, else the candidates they leave times the share
 * of a sample that passes (never reads more than a sample of payloads). */
qv_rc qv_collection_count_approx(qv_collection *c, const struct qv_filter *filter,
                                 const qv_read_opts *opts, uint64_t *count, qv_err *err);

/* A nearest-neighbour query (the universal query model's core). */
typedef enum qv_query_kind {
    QV_QUERY_NONE = 0,   /* no query: points in ID order (offset/limit apply) */
    QV_QUERY_NEAREST,    /* nearest to a dense vector */
    QV_QUERY_NEAREST_ID, /* nearest to a stored point's vector (excluded) */
} qv_query_kind;

typedef struct qv_query {
    uint32_t kind;     /* qv_query_kind */
    const char *using; /* vector name; "" = default */
    float *vector;     /* QV_QUERY_NEAREST: dim floats (normalised in place for Cosine) */
    uint32_t dim;
    qv_pointid id; /* QV_QUERY_NEAREST_ID */
    const struct qv_filter *filter;
    size_t limit, offset;
    bool has_threshold;
    float score_threshold;
    bool exact;                /* params.exact: scan every point, never the index */
    qv_opt_u64 hnsw_ef;        /* params.hnsw_ef: the HNSW candidate list size */
    qv_opt_bool quant_ignore;  /* params.quantization.ignore: search the original vectors */
    qv_opt_bool quant_rescore; /* params.quantization.rescore: re-rank with the originals */
    qv_opt_f64 oversampling;   /* params.quantization.oversampling: fetch limit * this */
    bool acorn;                /* params.acorn.enable: ACORN walks for selective filters */
    qv_opt_f64 acorn_max_sel;  /* params.acorn.max_selectivity (default 0.4) */
} qv_query;

/* Runs n queries in one pass over the data (queries with the same `using`
 * share the scan).  For each query i, in order, cb_begin(ctx, i) is called,
 * then cb once per hit (best first; offset hits skipped). Validation errors
 * (unknown vector name, wrong dimension, missing point id) fail the whole
 * batch before any callback. */
typedef void (*qv_query_begin_cb)(void *ctx, size_t query_index);
qv_rc qv_collection_query(qv_collection *c, qv_query *queries, size_t n, const qv_read_opts *opts,
                          qv_query_begin_cb begin, qv_point_cb cb, void *ctx, qv_err *err);

/* ---- Information --------------------------------------------------------- */

typedef struct qv_collection_stats {
    uint64_t points_count;
    uint64_t indexed_vectors_count;
    uint64_t segments_count;
    bool optimizing; /* status yellow: an optimization is running or due */
    bool broken;     /* status red: recovery failed; message in broken_msg */
    char broken_msg[256];
} qv_collection_stats;

void qv_collection_stats_get(qv_collection *c, qv_collection_stats *out);

/* GET /collections/{c}/optimizations: what the optimizers (optimizer.c)
 * are doing, have done and would do next.  Segments are named by number;
 * the API layer shows numbers as UUIDs. */
typedef struct qv_optim_segment {
    uint64_t uid;
    uint64_t points; /* live points */
} qv_optim_segment;

typedef enum qv_optim_status {
    QV_OPTIM_RUNNING,
    QV_OPTIM_DONE,
    QV_OPTIM_FAILED,
} qv_optim_status;

#define QV_OPTIM_MAX_SOURCES 8
#define QV_OPTIM_LOG         16
#define QV_OPTIM_MAX_IDLE    64

typedef struct qv_optim_entry {
    const char *optimizer; /* "indexing", "merge", "vacuum", "config_mismatch" */
    uint64_t uid;          /* the segment it creates (0 for a queued one) */
    qv_optim_status status;
    qv_optim_segment segs[QV_OPTIM_MAX_SOURCES];
    uint32_t nsegs;
    double started, finished; /* Unix seconds; finished 0 while running */
} qv_optim_entry;

typedef struct qv_optimizations {
    bool has_running, has_queued;
    qv_optim_entry running, queued;
    qv_optim_entry completed[QV_OPTIM_LOG]; /* newest first */
    uint32_t ncompleted;
    qv_optim_segment idle[QV_OPTIM_MAX_IDLE]; /* segments no optimization wants */
    uint32_t nidle;                           /* listed */
    uint64_t idle_total;                      /* all of them */
} qv_optimizations;

void qv_collection_optimizations(qv_collection *c, qv_optimizations *out);

/* payload_schema: cb(ctx, field, type, params, points) once per declared
 * field index (collection/field_index.h), in field order, where type is a
 * qv_payload_type, params the canonical parameters JSON (NULL when the index
 * was declared by type name) and points the number of points holding a
 * value of that type at the field (counted by scan, see field_index.c).
 * Runs under the collection's read lock: cb must only copy or print. */
typedef void (*qv_index_info_cb)(void *ctx, const char *field, uint32_t type, const char *params,
                                 uint64_t points);
void qv_collection_payload_schema(qv_collection *c, qv_index_info_cb cb, void *ctx);

/* Applies a PATCH: the new config replaces the old (validated by the
 * caller; vectors' size/distance cannot change).  Persisted before return;
 * changed `memory` placements re-advise the mapped segments (optimizer.c). */
qv_rc qv_collection_update_config(qv_collection *c, qv_collection_config *newcfg, qv_err *err);

/* ---- Facets and payload order (values.c) ----------------------------------- */

struct qv_keypath;

/* A facet value: a keyword or UUID (str, canonical lowercase hyphenated for
 * UUIDs), an integer or a boolean, as Qdrant's FacetValue. */
typedef enum qv_facet_kind {
    QV_FACET_STR = 1,
    QV_FACET_INT,
    QV_FACET_BOOL,
} qv_facet_kind;

typedef struct qv_facet_hit {
    uint32_t kind; /* qv_facet_kind */
    const char *s; /* QV_FACET_STR: NUL-terminated, in the caller's arena */
    size_t len;
    int64_t i; /* QV_FACET_INT */
    bool b;    /* QV_FACET_BOOL */
    uint64_t count;
} qv_facet_hit;

typedef struct qv_facet_req {
    const struct qv_keypath *key;
    const struct qv_filter *filter; /* NULL = every point */
    size_t limit;                   /* >= 1 */
    bool exact;                     /* counts are always exact here (see values.c) */
} qv_facet_req;

/* POST /facet, gRPC Facet: how many points hold each value of key among the
 * points filter lets through (a point counts once per distinct value), the
 * limit most frequent first, ties by value ascending.  The key needs a
 * payload index that can facet (keyword, integer with lookup, bool, uuid),
 * else QV_EBADINPUT with Qdrant's "No appropriate index for faceting"
 * text.  *hits (and its strings) are allocated in a. */
qv_rc qv_collection_facet(qv_collection *c, const qv_facet_req *req, const qv_read_opts *opts,
                          qv_arena *a, qv_facet_hit **hits, size_t *n, qv_err *err);

/* An order-by value (Qdrant's OrderValue): integer and datetime indexes
 * give integers (datetimes as microseconds since the epoch), float indexes
 * floats. */
typedef struct qv_order_value {
    bool is_float;
    int64_t i;
    double f;
} qv_order_value;

/* order_by {key, direction, start_from} of scroll and of the universal
 * query's order_by variant. */
typedef struct qv_order_by {
    const struct qv_keypath *key;
    bool desc;
    bool has_start;
    qv_order_value start; /* start_from, inclusive; a datetime as microseconds */
} qv_order_by;

/* Called once per result, in order; return false to stop. */
typedef bool (*qv_ordered_cb)(void *ctx, const qv_point_view *p, const qv_order_value *v);

/* Points matching filter ordered by the values of ob->key: one result per
 * distinct value a point holds at the key (a point without a value does
 * not appear), ascending or descending, from start_from on, ties by point
 * ID in the same direction; the first `skip` results are skipped, then at
 * most limit are reported.  The key needs a payload index that supports
 * ranges (integer with range, float, datetime), else QV_EBADINPUT with
 * Qdrant's "No range index for `order_by` key" text. */
qv_rc qv_collection_scroll_ordered(qv_collection *c, const struct qv_filter *filter,
                                   const qv_order_by *ob, size_t skip, size_t limit,
                                   const qv_read_opts *opts, qv_ordered_cb cb, void *ctx,
                                   qv_err *err);

/* A batch of universal queries of which some (order_by[i] != NULL) are
 * order_by queries: those run as qv_collection_scroll_ordered with the
 * query's filter, offset and limit and report through ocb; every run of
 * other queries goes through qv_collection_query in one pass.  begin(i)
 * comes before the results of query i, as qv_collection_query does. */
qv_rc qv_collection_query_ordered(qv_collection *c, qv_query *queries,
                                  const qv_order_by *const *order_by, size_t n,
                                  const qv_read_opts *opts, qv_query_begin_cb begin, qv_point_cb cb,
                                  qv_ordered_cb ocb, void *ctx, qv_err *err);

#endif
