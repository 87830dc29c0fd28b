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
 *   qv_hnsw_add_subgraph   extra level-0 links among one payload block's points
 *                          (Qdrant's payload_m), after the build
 *   qv_hnsw_search         k nearest, with an optional filter callback
 *   qv_hnsw_search_scored  the same with the caller's (quantized) distances
 *   qv_hnsw_search_with / qv_hnsw_search_scored_with
 *                          the same with filtered-search options: entry
 *                          points, restricted or ACORN traversal
 *   qv_hnsw_save / _load   the graph in a versioned, checksummed file
 *   qv_hnsw_check          the graph's invariants, for tests and inspectors
 *   qv_hnsw_free
 *
 * Threads: any number of qv_hnsw_search* / qv_hnsw_save / qv_hnsw_check calls
 * may run at once; qv_hnsw_insert, qv_hnsw_build, qv_hnsw_repair and
 * qv_hnsw_add_subgraph must run alone (the caller serialises them against
 * everything else: Quiver builds a segment's graph before publishing the
 * segment, and never changes it afterwards).
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
    /* Qdrant's `m: 0`: no global graph at all (m is then ignored and reads
     * back as 0).  Inserts and builds only register the points; the links
     * come from qv_hnsw_add_subgraph (one graph per payload block, e.g. per
     * tenant), and searches start from the caller's entry points
     * (qv_hnsw_search_opts.entries). */
    bool no_main;
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
 * of 1 or above QV_HNSW_MAX_M (unless no_main), or a store with neither
 * base nor get. */
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

/* Extra links for one payload block (Qdrant's payload_m): builds an HNSW
 * graph among exactly the points ids[0..n) (distinct, < size()) with m links
 * per node on its upper levels and 2m on level 0 (ef_construct as the main
 * graph's), then merges its level 0 into this graph as extra links: each
 * block point gets the block graph's level-0 neighbours that it does not
 * already link to.  The block graph's upper levels are dropped.  A search
 * with a filter (or over a no_main graph) follows the extra links as well as
 * the main ones, so a search restricted to the block (QV_HNSW_WALK_ACCEPTED)
 * stays connected however small the block is.  Call it after the build, once
 * per block; a point may be in several blocks (its extra links are the union).
 *
 * Cost: a build of n points (nthreads as qv_hnsw_build: 0 or 1 is
 * deterministic), O(n) temporary memory, and at most n * (1 + 2m) more
 * 4-byte words of extra links kept, plus 8 bytes per graph point once (on
 * man-lsa-384 with payload_m 16, 40 bytes per block point for blocks that
 * follow the vectors' topics, whose links the main graph mostly has, 83 for
 * random ones); the pool holding them is compacted whenever the lists
 * replaced by later blocks outweigh the live ones.  Blocks worth linking:
 * see qv_hnsw_subgraph_max_block.
 * n < 2 changes nothing.  *cancel (may be NULL) is read as by
 * qv_hnsw_build_cancellable: a cancelled or failed call returns
 * QV_EUNAVAILABLE / QV_ENOMEM and leaves the graph exactly as it was.
 * QV_EBADINPUT: an id out of range or repeated, m outside 2..QV_HNSW_MAX_M,
 * or a graph served from a file mapping (read-only). */
qv_rc qv_hnsw_add_subgraph(qv_hnsw *h, const uint32_t *ids, uint32_t n, uint32_t m,
                           unsigned nthreads, const atomic_bool *cancel, qv_err *err);

/* The largest block that extra links are worth building for: above it the
 * main graph restricted to the block is still connected.  Following
 * Qdrant (percolation: a random graph of average degree K falls apart when
 * fewer than 1/K of its nodes remain), 4 * size / K with K the main graph's
 * average level-0 degree; UINT32_MAX for a no_main graph (every block needs
 * its own links).  O(size). */
uint32_t qv_hnsw_subgraph_max_block(const qv_hnsw *h);

/* Number of qv_hnsw_add_subgraph calls that linked something (statistics;
 * saved with the graph). */
uint32_t qv_hnsw_subgraph_count(const qv_hnsw *h);

/* ---- searching ---------------------------------------------------------- */

/* The k points nearest to query (dim floats) among those accept() accepts
 * (all if accept is NULL): ids[] and scores[] (scores may be NULL) get up to
 * k results, best first, ties by id; *found their number (fewer than k when
 * fewer points are accepted or reachable; none in a no_main graph, which
 * needs qv_hnsw_search_with's entry points).  Rejected points are walked
 * (QV_HNSW_WALK_ALL).  ef is the candidate list size,
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

/* How a filtered search treats points the filter rejects (Qdrant's plain
 * filtered search and its `acorn` search parameter).  On level 0:
 *   QV_HNSW_WALK_ALL       rejected points are scored and expanded like the
 *                          others, only never returned (qv_hnsw_search):
 *                          robust at any selectivity, but the work grows as
 *                          1/selectivity (every point nearer than the ef-th
 *                          accepted one is scored);
 *   QV_HNSW_WALK_ACCEPTED  only accepted points are scored and expanded (as
 *                          Qdrant's filtered search): cheap, and connected
 *                          when the filter is a payload block with extra
 *                          links (qv_hnsw_add_subgraph) or accepts a large
 *                          share of the points; at low selectivity without
 *                          extra links its recall collapses;
 *   QV_HNSW_WALK_ACORN     ACORN-1: only accepted points are scored, but a
 *                          rejected neighbour is not a dead end: its own
 *                          accepted neighbours are scored too (two hops), at
 *                          most 2m + the graph's longest extra list per
 *                          expanded point.  For low-selectivity filters
 *                          without a payload block (ranges, combined
 *                          conditions); more work per point found than the
 *                          restricted walk (see hnsw.c, design point 8).
 * A restricted walk walks as QV_HNSW_WALK_ALL until it holds an accepted
 * point (a seed of the descent, an entry point, or one found on the way), so
 * without entry points it starts from the query's neighbourhood.  Extra
 * links are followed when there is a filter (by walk-all out of accepted
 * points only) and in a no_main graph.  Without a filter the three walks
 * are the same search. */
typedef enum qv_hnsw_walk {
    QV_HNSW_WALK_ALL = 0,
    QV_HNSW_WALK_ACCEPTED = 1,
    QV_HNSW_WALK_ACORN = 2,
} qv_hnsw_walk;

/* Options of a filtered search (zero-initialised: qv_hnsw_search's). */
typedef struct qv_hnsw_search_opts {
    qv_hnsw_accept_fn accept; /* NULL: every point */
    void *accept_ctx;
    /* Level-0 entry points (ids < size()), e.g. a few points the filter is
     * known to accept, from a payload index: scored and added to the seeds
     * the upper levels' descent ends with, so the search also starts where
     * accepted points are when the descent lands in a region without any
     * (accepted entries restrict a restricted walk from the start, which
     * also saves work on payload blocks).  The only seeds of a no_main
     * graph, which without them finds nothing.  A handful is plenty (4, 16
     * and 64 gave the same recall); borrowed for the call. */
    const uint32_t *entries;
    size_t nentries;
    qv_hnsw_walk walk;
} qv_hnsw_search_opts;

/* qv_hnsw_search / qv_hnsw_search_scored with options (opts may be NULL:
 * exactly those).  QV_EBADINPUT for an entry id out of range or an unknown
 * walk.  Thread-safe as the plain searches; the walk allocates nothing once
 * the thread's scratch has grown to the graph (the first search). */
qv_rc qv_hnsw_search_with(const qv_hnsw *h, const float *query, size_t k, size_t ef,
                          const qv_hnsw_search_opts *opts, uint32_t *ids, float *scores,
                          size_t *found, qv_err *err);
qv_rc qv_hnsw_search_scored_with(const qv_hnsw *h, const qv_hnsw_scorer *scorer, size_t k,
                                 size_t ef, const qv_hnsw_search_opts *opts, uint32_t *ids,
                                 float *dists, size_t *found, qv_err *err);

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
    /* extra links (qv_hnsw_add_subgraph); their problems count above:
     * bad_ids, self_links, duplicates (within a node's extra list) */
    uint64_t links_extra; /* total number of extra links (statistics) */
    uint64_t nodes_extra; /* nodes with extra links (statistics) */
} qv_hnsw_report;

/* Checks every invariant of the graph and fills *rep (may be NULL).  A
 * no_main graph has no global reachability to check (its blocks are
 * separate graphs): unreachable stays 0 there.  Returns
 * QV_OK for a healthy graph, else QV_ECORRUPT with the first problem in err;
 * it reports, never aborts.  O(n * m) time, O(n) memory (QV_ENOMEM). */
qv_rc qv_hnsw_check(const qv_hnsw *h, qv_hnsw_report *rep, qv_err *err);

uint32_t qv_hnsw_size(const qv_hnsw *h); /* points inserted */
size_t qv_hnsw_dim(const qv_hnsw *h);
qv_distance qv_hnsw_distance(const qv_hnsw *h);
qv_hnsw_params qv_hnsw_get_params(const qv_hnsw *h); /* with defaults filled in */
int qv_hnsw_max_level(const qv_hnsw *h);             /* -1 when empty */
uint32_t qv_hnsw_entry(const qv_hnsw *h);            /* UINT32_MAX when empty */

/* Bytes the graph occupies in memory: links (main and extra), levels;
 * scratch excluded. */
size_t qv_hnsw_memory(const qv_hnsw *h);

#endif
