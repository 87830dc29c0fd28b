/*
 * collection_impl.h - the collection struct, shared by the files of the
 * collection layer only (collection.c: lifecycle, update pipeline,
 * checkpoints; search.c: reads; catalog.c: the table).
 *
 * Concurrency model (the one place it is written down):
 *   - `lock` (a writer-preferring rwlock) protects cfg, seg, indexes and
 *     the apply step.  Readers (retrieve, scroll, count, query, info) hold it shared
 *     for the whole request, including the caller's result callbacks.
 *   - The update pipeline holds it exclusively from validation through WAL
 *     append and apply, so WAL order is apply order.  The fsync that
 *     `wait=true` needs happens after the lock is released (group commit in
 *     wal_sync), so one slow fsync never blocks readers.
 *   - Checkpoints (flush thread, shutdown) hold it shared: they read a
 *     consistent state while readers go on; writers wait for them.
 *     `cp_mutex` keeps two checkpoints of one collection apart.
 *   - `limiter` (strict mode's rate limits) has its own mutex, taken
 *     briefly inside either side of `lock`: concurrent readers charge the
 *     same read bucket.
 *   - `refs` counts users; the catalog holds one reference while the
 *     collection is listed.
 */
#ifndef QV_COLLECTION_IMPL_H
#define QV_COLLECTION_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "collection/collection.h"
#include "collection/field_index.h"
#include "collection/strict.h"
#include "storage/segment.h"
#include "storage/wal.h"

struct qv_hnsw;
struct qv_qcodes;

/* One segment of the shard.  segs[0] is always the appendable segment,
 * which takes every new point; the others are frozen: their points are only
 * ever deleted, and a write to one of them first moves the point into the
 * appendable segment (copy on write), so a frozen segment's vectors never
 * change under its index or under an optimizer copying it.  A persisted
 * segment has files of its own (segments/seg-<uid>/, written once by an
 * optimizer, see optimizer.c) and a checkpoint records only its deletions;
 * any other segment is saved whole into each checkpoint. */
typedef struct qv_shard_seg {
    qv_segment *seg;
    uint64_t uid;
    bool persisted;
    bool optimizing;           /* an optimizer is rebuilding it */
    struct qv_hnsw **hnsw;     /* per named vector, NULL = not indexed; NULL array = none */
    struct qv_qcodes **qcodes; /* per named vector, NULL = not quantized; NULL array = none */
    /* per named vector with a graph: the largest payload block whose points
     * got links of their own (qv_hnsw_subgraph_max_block; 0 = none linked),
     * set when the graph is built or loaded (graph_stats in optimizer.c) */
    uint32_t blockmax[QV_MAX_NAMED_VECTORS];
} qv_shard_seg;

struct qv_collection {
    char *name;
    char *dir;
    atomic_int refs;
    atomic_bool dropped; /* deleted from the catalog: remove dir at last release */
    atomic_bool halt;    /* dropped or the server stopping: a running graph build stops */
    pthread_rwlock_t lock;
    pthread_mutex_t cp_mutex;
    qv_collection_config cfg;
    qv_segment *seg;    /* the appendable segment, segs[0].seg */
    qv_shard_seg *segs; /* every segment, the appendable one first */
    uint32_t nsegs;
    uint64_t next_uid;                  /* the next segment number */
    uint64_t *retired;                  /* persisted segments swapped out: their directories */
    uint32_t nretired;                  /* go once a checkpoint no longer names them */
    pthread_mutex_t order_mu;           /* readers computing a segment's ID order */
    atomic_uint_fast64_t last_write_ms; /* for the optimizers' quiet period */
    struct qv_optim_state *optim;       /* optimizer.c: running/completed log */
    qv_index_set indexes;               /* declared payload indexes (field_index.h) */
    qv_strict_limiter limiter;          /* strict mode's read/write rate limits */
    wal *wal;
    uint64_t checkpoint_op;         /* every op <= this is in the checkpoint */
    char cp_name[64];               /* its directory under checkpoints/ */
    uint64_t cp_seq;                /* makes checkpoint names unique */
    uint64_t applied_op;            /* last op applied to seg */
    atomic_uint_fast64_t wal_bytes; /* appended since the last checkpoint */
    bool broken;
    char broken_msg[256];
};

/* Creates a new collection directory at dir (which must not exist) with
 * cfg, then opens it. cfg is copied. */
qv_rc qv_collection_create_at(const char *dir, const char *name, const qv_collection_config *cfg,
                              qv_collection **out, qv_err *err);

/* Opens an existing collection directory: config, checkpoint, WAL replay.
 * On failure returns a broken collection (status red) when the config was
 * readable, so the server still starts; *out is NULL otherwise. */
qv_rc qv_collection_open(const char *dir, const char *name, qv_collection **out, qv_err *err);

/* Syncs the WAL; checkpoints when the WAL passed its capacity or force. */
qv_rc qv_collection_flush(qv_collection *c, bool force_checkpoint, qv_err *err);

/* Frees the collection (checkpointing first unless dropped). */
void qv_collection_destroy(qv_collection *c);

/* What Qdrant does to a vector of vp before storing or searching it: uint8
 * saturates toward zero, Cosine normalises, float16 rounds (in that
 * order).  One difference: Qdrant keeps uint8 Cosine vectors as integers
 * and normalises while scoring; Quiver stores them normalised, so scores
 * agree but such vectors read back normalised. */
void qv_vector_preprocess(const qv_vector_params *vp, float *v, uint32_t dim);

/* The dims of the collection's vectors (cfg->nvectors entries). */
void qv_shard_dims(const qv_collection_config *cfg, uint32_t *dims);
/* A new empty segment for the collection: new rows are stored as each
 * vector's datatype says (float16 and uint8 natively, except uint8 Cosine
 * vectors, which are normalised and so stay float32). */
qv_segment *qv_shard_new_segment(const qv_collection_config *cfg);

/* Milliseconds on the monotonic clock. */
static inline uint64_t qv_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Finds the live point id in any segment: *si indexes c->segs. */
bool qv_shard_find(const qv_collection *c, const qv_pointid *id, uint32_t *si, uint32_t *off);

/* Live points in every segment. */
uint64_t qv_shard_live(const qv_collection *c);

/* Frees a shard segment's members (not the entry itself). */
void qv_shard_seg_free(qv_shard_seg *s, uint32_t nvec);

/* ---- search.c: shared by the readers (search.c, values.c) ---------------- */

/* Takes the read lock (QV_EUNAVAILABLE for a broken collection). */
qv_rc qv_read_begin(qv_collection *c, qv_err *err);
/* Strict mode's verdict on a read (rc from its checks, the lock held), then
 * its read rate limit charged with cost; on refusal the lock is released
 * and the caller returns rc at once. */
qv_rc qv_read_admit(qv_collection *c, qv_rc rc, uint64_t cost, qv_err *err);
/* The reader's view of the point at off of s. */
void qv_view_of(const qv_segment *s, uint32_t off, qv_point_view *v);

/* ---- field_index.c ------------------------------------------------------- */

/* Makes seg's payload indexes match the declared ones (c->indexes): builds
 * the missing ones from its payloads, drops the undeclared and re-declared
 * ones.  Under the write lock, or before seg is published. */
void qv_shard_sync_pindexes(const qv_collection *c, qv_segment *seg);

/* ---- optimizer.c --------------------------------------------------------- */

/* A persisted segment's directory: <dir>/segments/seg-<uid, 20 digits>. */
void qv_segdir_path(const qv_collection *c, uint64_t uid, char *out, size_t n);
/* Loads a persisted segment and its graphs into *out. */
qv_rc qv_segdir_load(const qv_collection *c, uint64_t uid, qv_shard_seg *out, qv_err *err);

/* Re-advises the persisted segments' mapped vectors and codes for the
 * current config's placements (after a PATCH): cold ones leave the
 * process, cached ones are faulted in.  Heap/mapped changes (codes pinned
 * or not, vectors read into memory) wait for the next load or optimization.
 * Takes the read lock. */
void qv_segments_readvise(qv_collection *c);

/* Runs at most one optimization of c (indexing, merge or vacuum) if one is
 * due; *did says whether one ran.  Called by the catalog's optimizer thread. */
qv_rc qv_collection_optimize(qv_collection *c, bool *did, qv_err *err);
/* True when an optimization is running or due (status yellow). */
bool qv_collection_optimization_pending(qv_collection *c);
void qv_optim_state_free(struct qv_optim_state *o);

/* Writes the checkpoint now (caller holds neither lock nor cp_mutex). */
qv_rc qv_collection_checkpoint(qv_collection *c, qv_err *err);

/* Scans (caller holds the lock) for points matching filter. */
qv_rc qv_collection_select_ids(qv_collection *c, const struct qv_filter *filter, qv_arena *a,
                               qv_pointid **ids, uint32_t *n, qv_err *err);

/* Temporary directories beside collections carry this prefix; ':' cannot
 * occur in a collection name, so they never collide with one, and their
 * names stay short whatever the collection's name length. */
#define QV_TEMP_PREFIX "tmp:"

/* Writes into out a fresh temporary path in path's directory, e.g.
 * "<dir>/tmp:create:<pid>:<n>". */
void qv_temp_sibling(const char *path, const char *what, char *out, size_t n);

/* The small-file envelope of config.qvc, CURRENT, indexes.qvi and
 * aliases.qva: 8-byte magic, u32 version (1), u32 body length, u32 CRC-32C
 * of the body, then the body.  qv_envelope_write replaces dir/name
 * atomically (name.tmp, fsync, rename, fsync(dir)).  qv_envelope_read
 * returns the body malloc'd and NUL-terminated; a missing file is
 * QV_ENOTFOUND, a wrong magic or version, a short file, trailing bytes or a
 * bad checksum QV_ECORRUPT. */
qv_rc qv_envelope_write(const char *dir, const char *name, const char *magic, const void *body,
                        size_t len, qv_err *err);
qv_rc qv_envelope_read(const char *path, const char *magic, char **body, size_t *len, qv_err *err);

/* Removes a directory tree (best effort). */
void qv_rmtree(const char *path);
/* fsyncs a directory. */
int qv_fsync_dir(const char *path);

#endif
