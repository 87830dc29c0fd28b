/*
 * hnsw.h - the HNSW graph index (Malkov & Yashunin), self-contained.
 *
 * The index stores only the graph: which point links to which, on which
 * level.  Vectors stay with the caller, who hands the index a qv_hnsw_store
 * that maps a point's dense internal offset (0..n-1) to its float32 vector,
 * so a segment can serve them from RAM, from an mmap'd file or (later) from
 * decoded quantized codes.  The store must return the same vector for an id
 * for as long as the index may look at it (builds and searches).
 *
 * Lifecycle:
 *   qv_hnsw_new            an empty index (dim, distance, params, store)
 *   qv_hnsw_insert         add point size() (single-threaded, one at a time)
 *   qv_hnsw_build          add points size()..n-1 on several threads
 *   qv_hnsw_build_cancellable  the same, abandoned when a flag is set
 *   qv_hnsw_repair         reconnect nodes that pruning left unreachable
 *   qv_hnsw_search         k nearest, with an optional filter callback
 *   qv_hnsw_search_scored  the same with the caller's (quantized) distances
 *   qv_hnsw_save / _load   the graph in a versioned, checksummed file
 *   qv_hnsw_check          the graph's invariants, for tests and inspectors
 *   qv_hnsw_free
 *
 * Threads: any number of qv_hnsw_search / qv_hnsw_save / qv_hnsw_check calls
 * may run at once; qv_hnsw_insert, qv_hnsw_build and qv_hnsw_repair must run alone (the
 * caller serialises them against everything else: Quiver builds a segment's
 * graph before publishing the segment, and never changes it afterwards).
 *
 * Deleted points stay in the graph (they still route searches) and are
 * excluded by the filter callback, as Qdrant does until a vacuum rebuilds.
 *
 * Scores follow core/distance.h: Cosine and Dot return the dot product
 * (larger is better; Cosine vectors and queries must be normalised by the
 * caller), Euclid the L2 distance and Manhattan the L1 distance (smaller is
 * better).  Results are sorted best first, ties by smaller id, as the exact
 * scan sorts them.
 */
#ifndef QV_INDEX_HNSW_H
#define QV_INDEX_HNSW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/distance.h"
#include "core/elem.h"
#include "core/err.h"

typedef struct qv_hnsw qv_hnsw;

/* Largest level a node can get (levels are 0..QV_HNSW_MAX_LEVEL). */
#define QV_HNSW_MAX_LEVEL 24

/* Largest m accepted (m0 = 2m link slots on level 0). */
#define QV_HNSW_MAX_M 512

/* Largest number of points: ids are uint32 and UINT32_MAX means "none". */
#define QV_HNSW_MAX_POINTS 0xFFFFFFF0u

/* Build parameters, as Qdrant names them.  Zero fields take the defaults. */
typedef struct qv_hnsw_params {
    uint32_t m;            /* links per node on levels >= 1 (default 16); level 0 has 2m */
    uint32_t ef_construct; /* candidate list size while building (default 100) */
    uint64_t seed;         /* level draws: a node's level is a hash of (seed, id) */
} qv_hnsw_params;

/* Where the vectors live.  If base is not NULL, vector i is the dim
 * components of type elem at base + i * stride components (stride >= dim)
 * and get is not used; else get(ctx, i) returns it (float32 only).  Either
 * way the memory is borrowed.  float16 / uint8 rows are decoded (exactly,
 * core/elem.h) into per-search buffers right before the float kernels
 * score them, so a graph over such rows ranks as one over their float32
 * values would. */
typedef struct qv_hnsw_store {
    const void *base;
    size_t stride;
    const float *(*get)(void *ctx, uint32_t id);
    void *ctx;
    qv_elem elem; /* QV_ELEM_F32 (0) unless set */
} qv_hnsw_store;

/* Filter callback: true if point id may be returned.  Points it rejects are
 * still traversed (they connect the graph) but never returned.  Called from
 * the searching thread only; it must not call back into the index. */
typedef bool (*qv_hnsw_accept_fn)(void *ctx, uint32_t id);

/* ---- lifecycle ---------------------------------------------------------- */

/* An empty index over dim-dimensional vectors.  params may be NULL (all
 * defaults); *store is copied.  Fails with QV_EBADINPUT on a zero dim, an m
 * of 1 or above QV_HNSW_MAX_M, or a store with neither base nor get. */
qv_rc qv_hnsw_new(size_t dim, qv_distance dist, const qv_hnsw_params *params,
                  const qv_hnsw_store *store, qv_hnsw **out, qv_err *err);

/* Frees the index and everything it allocated (NULL is a no-op). */
void qv_hnsw_free(qv_hnsw *h);

/* Makes room for cap points, so that inserts up to cap do not reallocate.
 * Never shrinks. */
qv_rc qv_hnsw_reserve(qv_hnsw *h, uint32_t cap, qv_err *err);

/* ---- building ----------------------------------------------------------- */

/* Inserts point size() (its vector must be in the store) and returns its id
 * in *id (may be NULL).  Deterministic: the same vectors, params and order
 * give the same graph.  Pruning may leave a rare node without in-links
 * (unreachable): call qv_hnsw_repair after a batch of inserts. */
qv_rc qv_hnsw_insert(qv_hnsw *h, uint32_t *id, qv_err *err);

/* Inserts points size()..n-1 using nthreads threads, then repairs (below).
 * nthreads 0 or 1: the calling thread alone, in level order (highest level
 * first, then by id; deterministic);
 * more: nthreads-1 helper threads plus the caller, and the graph depends on
 * scheduling.  Threads that cannot be started are done without.  On
 * QV_ENOMEM the index is memory-safe but may be incomplete: discard it. */
qv_rc qv_hnsw_build(qv_hnsw *h, uint32_t n, unsigned nthreads, qv_err *err);

/* qv_hnsw_build that gives up when *cancel becomes true (cancel may be NULL:
 * then exactly qv_hnsw_build).  Every build thread reads the flag before
 * each insert (a fraction of a millisecond apart even at 1536 dimensions),
 * so setting it from any thread (a shutdown, a collection deletion) makes the
 * call return soon after with QV_EUNAVAILABLE ("hnsw: build cancelled").
 * A cancelled index is memory-safe but incomplete: free it.  The flag is
 * only read; the caller owns it and must keep it alive for the call.  With
 * the flag never set the graph is the one qv_hnsw_build makes. */
qv_rc qv_hnsw_build_cancellable(qv_hnsw *h, uint32_t n, unsigned nthreads,
                                const atomic_bool *cancel, qv_err *err);

/* Makes every node reachable from the entry point on level 0: each node a
 * walk from the entry misses gets an in-link from a near reachable node.
 * O(n * m) plus one search per repaired node (typically a handful per 10k). */
qv_rc qv_hnsw_repair(qv_hnsw *h, qv_err *err);

/* ---- searching ---------------------------------------------------------- */

/* The k points nearest to query (dim floats) among those accept() accepts
 * (all if accept is NULL): ids[] and scores[] (scores may be NULL) get up to
 * k results, best first, ties by id; *found their number (fewer than k when
 * fewer points are accepted or reachable).  ef is the candidate list size,
 * raised to k when smaller: larger ef gives better recall at lower speed.
 * Returns QV_ENOMEM only if a search scratch could not be allocated. */
qv_rc qv_hnsw_search(const qv_hnsw *h, const float *query, size_t k, size_t ef,
                     qv_hnsw_accept_fn accept, void *accept_ctx, uint32_t *ids, float *scores,
                     size_t *found, qv_err *err);

/* Distances through the caller instead of the float vectors (a quantized
 * scorer): dist(ctx, ids, n, out) writes, for each ids[i], the query's
 * internal distance to that point: smaller is closer (for Cosine and Dot the
 * negated similarity estimate; for Euclid any increasing function of the
 * distance, e.g. its square).  ctx holds the query. */
typedef struct qv_hnsw_scorer {
    void (*dist)(void *ctx, const uint32_t *ids, size_t n, float *out);
    void *ctx;
} qv_hnsw_scorer;

/* qv_hnsw_search with the scorer's distances: ids[] get up to k results,
 * closest first by the scorer (ties by id), dists[] (may be NULL) their
 * scorer distances.  The caller rescores them if it wants exact scores
 * (the graph itself was built with the float vectors). */
qv_rc qv_hnsw_search_scored(const qv_hnsw *h, const qv_hnsw_scorer *scorer, size_t k, size_t ef,
                            qv_hnsw_accept_fn accept, void *accept_ctx, uint32_t *ids, float *dists,
                            size_t *found, qv_err *err);

/* ---- persistence -------------------------------------------------------- */

/* Writes the graph to path (via path.tmp, fsync, rename, fsync of the
 * directory).  The vectors are not saved: they belong to the store. */
qv_rc qv_hnsw_save(const qv_hnsw *h, const char *path, qv_err *err);

/* Reads a graph written by qv_hnsw_save, to be used with *store (which must
 * hold at least qv_hnsw_size() vectors of qv_hnsw_dim() floats).  The file
 * is not trusted: a bad magic or version, a wrong size, a checksum mismatch
 * or any link that could make a search read out of bounds fails with
 * QV_ECORRUPT (QV_EIO if the file cannot be read). */
qv_rc qv_hnsw_load(const char *path, const qv_hnsw_store *store, qv_hnsw **out, qv_err *err);

/* Where a loaded graph lives (Qdrant's HNSW `memory`): on the heap
 * (qv_hnsw_load), or served read-only from a shared mapping of the file,
 * its pages paged in on demand (cold) or populated at load (cached).  A
 * mapped graph is checked exactly as a heap one (the check reads it all;
 * cold pages are then dropped from the process) and takes no inserts. */
typedef enum qv_hnsw_place {
    QV_HNSW_HEAP = 0,
    QV_HNSW_MAP_COLD = 1,
    QV_HNSW_MAP_CACHED = 2,
} qv_hnsw_place;
qv_rc qv_hnsw_load_placed(const char *path, const qv_hnsw_store *store, qv_hnsw_place place,
                          qv_hnsw **out, qv_err *err);
/* Bytes of the graph's file mapping resident in this process... not
 * tracked here; for tests: true when the graph is served from a mapping. */
bool qv_hnsw_mapped(const qv_hnsw *h);

/* ---- inspection --------------------------------------------------------- */

/* What qv_hnsw_check found; all zero for a healthy graph. */
typedef struct qv_hnsw_report {
    uint64_t bad_ids;      /* links to ids >= size, or to nodes without that level */
    uint64_t self_links;   /* a node linking to itself */
    uint64_t duplicates;   /* the same id twice in one link list */
    uint64_t over_cap;     /* link counts above the level's capacity */
    uint64_t unreachable;  /* nodes not reachable from the entry point on level 0 */
    uint64_t bad_entry;    /* entry point missing, out of range or not on the top level */
    uint64_t links_level0; /* total number of level-0 links (statistics) */
    uint64_t nodes_upper;  /* nodes with level >= 1 (statistics) */
} qv_hnsw_report;

/* Checks every invariant of the graph and fills *rep (may be NULL).  Returns
 * QV_OK for a healthy graph, else QV_ECORRUPT with the first problem in err;
 * it reports, never aborts.  O(n * m) time, O(n) memory (QV_ENOMEM). */
qv_rc qv_hnsw_check(const qv_hnsw *h, qv_hnsw_report *rep, qv_err *err);

uint32_t qv_hnsw_size(const qv_hnsw *h); /* points inserted */
size_t qv_hnsw_dim(const qv_hnsw *h);
qv_distance qv_hnsw_distance(const qv_hnsw *h);
qv_hnsw_params qv_hnsw_get_params(const qv_hnsw *h); /* with defaults filled in */
int qv_hnsw_max_level(const qv_hnsw *h);             /* -1 when empty */
uint32_t qv_hnsw_entry(const qv_hnsw *h);            /* UINT32_MAX when empty */

/* Bytes the graph occupies in memory (links, levels, scratch excluded). */
size_t qv_hnsw_memory(const qv_hnsw *h);

#endif
