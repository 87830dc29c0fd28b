/*
 * hnsw.c - HNSW graph: layout, insertion, parallel build, search, checks.
 *
 * The algorithm is the one of the paper (Malkov & Yashunin, "Efficient and
 * robust approximate nearest neighbor search using Hierarchical Navigable
 * Small World graphs"), with Qdrant's parameters.  What this file chooses:
 *
 *  1. The index does not own vectors.  A qv_hnsw_store maps an id to its
 *     vector (a flat array, or a callback), so a segment can hand over mmap'd
 *     storage or decoded codes.  Ids are dense internal offsets 0..n-1.
 *
 *  2. One internal distance, "smaller is closer": -dot for Cosine and Dot,
 *     squared L2 for Euclid, L1 for Manhattan.  All are monotone in the
 *     public score, so the graph ranks as the exact scan does; the final k
 *     results are rescored with qv_score() so their scores equal the scan's
 *     bit for bit.  Every internal distance goes through the block kernels
 *     (one query against up to 4 vectors, prefetching the next 4), so the
 *     same pair always gets the same value.
 *
 *  3. Levels: level = floor(-ln(u) * 1/ln(m)), u drawn from a hash of
 *     (seed, id) rather than from a sequential generator, so a node's level
 *     does not depend on insertion order or threads, and a parallel build can
 *     allocate every node's upper lists before it starts.
 *
 *  4. Neighbour selection is the paper's heuristic (its Algorithm 4 without
 *     extendCandidates): candidates in order of distance, one is kept unless
 *     an already kept neighbour is strictly closer to it than the base is,
 *     or equally close and an exact copy of it.  It is computed forwards:
 *     each newly kept neighbour is scored against all remaining candidates
 *     as one streamed batch (dist_many) and drops those it dominates; the
 *     same graph as testing each candidate against the kept ones in blocks
 *     of 4, build CPU -3%.  A new node gets up to
 *     m0 = 2m links on level 0 and m above (as Qdrant).  On level 0 a new
 *     node whose heuristic kept fewer than m links is topped up to m with
 *     the closest candidates it dropped (keepPrunedConnections, bounded at
 *     m): the heuristic alone fills ~11-15 of the 32 slots on clustered data,
 *     and the extra short links cut the distances a search needs for a
 *     given recall by ~10% (man-lsa-384: 535 -> 474 per query at recall
 *     0.95, 1354 -> 1200 at 0.99; filling to 12, 20 or 24 was worse).  A full
 *     neighbour list that receives a back link is re-selected with the plain
 *     heuristic.  The next level's search starts from the whole candidate
 *     set of the level above.
 *     Tried and dropped (distances per query at recall 0.95 / 0.99, 100k
 *     points, single-thread builds, which are deterministic; the kept graph
 *     with the query descent of point 6 measures 229 / 303 on synth-384 and
 *     479 / 1201 on man-lsa-384): Vamana's robust prune with alpha 1.2 on
 *     the new node's level-0 list (synth, greedy descent: 300 / 1155 against
 *     253 / 866, build CPU +25%), also on re-selected lists (recall 0.985 at
 *     ef 512, build CPU x2.5); the top-up picks without back links (man-lsa
 *     512 / 1247 against 474 / 1203, build CPU -8%); those back links added
 *     after the build instead, where the target has room (514 / 1171); the
 *     whole top-up deferred to after the build, picks kept in the unused
 *     tail of each slot (man-lsa 527 / 1232 against 479 / 1201).  The top-up
 *     stays as it is: it costs build time (more back links, so more full
 *     lists re-selected) but nothing cheaper kept its query gain.
 *
 *  4b. Build order: qv_hnsw_build inserts its batch by level, highest first,
 *     then by id (as faiss does), so the upper levels' skeleton exists
 *     before the level-0 crowd arrives.  Same distances per query, higher
 *     recall: synth-384 0.9739 -> 0.9813 at ef 64, man-lsa-384 0.9872 ->
 *     0.9905 at ef 128.  qv_hnsw_insert still adds one point at a time.
 *
 *  5. Connectivity repair.  With keepPrunedConnections off, re-selecting a
 *     full list can take the last in-link away from a node, which then no
 *     search can reach (a few per 10k nodes here; whole groups when more
 *     than m0 vectors are identical).  qv_hnsw_build ends with a pass that
 *     walks level 0 from the entry point and gives every missed node an
 *     in-link from its nearest reachable node with a free slot.  The
 *     validator checks the result.
 *
 *  6. A query walks the upper levels with a beam of 2 (HNSW_UPPER_EF), not
 *     the paper's single greedy path: each upper level is searched with
 *     ef 2 from the 2 nodes the level above ended with, and level 0 starts
 *     from both.  On clustered data the greedy path ends in the wrong
 *     cluster for a few % of queries, which then find none of their 10
 *     neighbours at any ef (synth-384: 12 of 1000 queries at ef 64, 6 at
 *     128; faiss's graph does the same) -- the flat top of the recall curve.
 *     Distances per query at recall 0.95 / 0.99 (the count includes the
 *     upper levels): synth-384 253 / 866 -> 229 / 303, synth-1536 271 / none
 *     below ef 128 (0.9878 there) -> 230 / 554, man-lsa-384 474 / 1203 ->
 *     479 / 1201.  Wider beams reach 0.99 sooner on synth (beam 4: 253 / 286)
 *     but cost man-lsa ~45 distances a query at every ef (518 / 1194); a
 *     beam on level 1 only, of 4 or 16, leaves most misses (synth 236 / 709,
 *     264 / 335; man-lsa 488 / 1197, 567 / 1227); seeding level 0 with the
 *     best nodes the greedy path scored on level 1 changes nothing (752 at
 *     0.99).  Inserts keep the greedy descent: the beam there made the
 *     graph worse for queries (synth 228 / 393 with the beam of 2 in both)
 *     and the build slower.
 *
 *  7. Build cost (M 16, ef_construct 100, 100k points; distances per query
 *     as in 4 and 6, build CPU back to back against hnswlib on the shared
 *     2-core machine: +-5% noise and worse).  Where it goes, synth-384 at 20k,
 *     single thread: 1056 distances an insert, of which 224 select the new
 *     node's neighbours and 200 re-select full lists (0.74 an insert: 24
 *     to score the list's 33 members, 176 for the heuristic); 15.6 back
 *     links an insert are plain appends.  synth-1536, 2 threads (perf):
 *     76% in the dot kernel, 10% in dist_many (8.5% of all stalled on its
 *     up-front prefetches), 8% search_layer, 1.6% read_links, 1.1%
 *     select_neighbors.
 *     Kept: sorting a level's candidates and a re-selected list through
 *     packed 64-bit keys (pairs_sort) instead of heap pops / insertion sort:
 *     same graph byte for byte; build CPU synth-384 20k single thread
 *     2.106 -> 2.041 s (mean of 6 alternating runs, -3%); synth-1536 2
 *     threads against hnswlib, four back-to-back rounds: 1.121 / 1.072 /
 *     1.028 / 1.171x -> 1.016 / 1.054 / 0.980 / 1.108x (mean 1.098 ->
 *     1.040x; hnswlib itself varied 39-45 s).
 *     Tried and dropped: giving the heuristic only the closest 64 (48) of
 *     the ef_construct candidates: build CPU -2% (-8%), but the far
 *     candidates seem to be the inter-cluster links: synth-384 229 / 303 -> 223 /
 *     740 (221 / never, recall stays below 0.990), man-lsa-384 479 / 1201 ->
 *     518 / 1427 (532 / 1520).  Re-selecting a full list incrementally (the
 *     list taken as already selected: the new link is kept unless a closer
 *     member dominates it, then drops the farther members it dominates; 65
 *     distances instead of ~200): lists stay fuller (synth-384 20k: 20.6 ->
 *     24.0 level-0 links a node), so more re-selections and build CPU +5%,
 *     and queries cost +11% (192 / 225 -> 214 / 249).  Prefetching only the
 *     first 8 rows up front in dist_many: no difference above the noise.
 *
 *  8. Filtered search (Qdrant's payload_m, `m: 0` and `acorn`).  The filter
 *     callback says which points may be returned; what the level-0 walk
 *     does with the others is the caller's choice (qv_hnsw_walk).  On
 *     man-lsa-384 (bench/hnsw_filter_bench.c, ef 64, 1 thread, queries per
 *     CPU second), a filter accepting 2.2% of the points (source=python):
 *     walk-all (rejected points scored and expanded too, as before) has
 *     recall 0.992 but scores every point nearer than the ef-th accepted
 *     one: 24.8k distances, 194 q/s; the restricted walk (Qdrant's plain
 *     filtered search: accepted points only) 754 distances, 3.8k q/s,
 *     recall 0.694, as the accepted points are poorly connected among
 *     themselves; ACORN-1 (Patel et al., SIGMOD 2024, as Qdrant runs it:
 *     accepted points only, reached through up to two hops) 1.5k
 *     distances, 1.3k q/s, recall 0.969 (its two-hop list reads are cache
 *     misses that no distance count shows).
 *     Payload blocks (qv_hnsw_add_subgraph): the points holding one value
 *     get an HNSW graph of their own, built by the code above over the
 *     block's positions (remap: hnsw_row reads the main store through it),
 *     and its level 0 is merged into this graph as extra links (minus those
 *     the main list has).  The restricted walk then stays connected inside
 *     the block: python 0.988 at 1.3k distances and 3.1k q/s, 16x walk-all.
 *     Qdrant merges a block graph's links on every level into growable
 *     lists; Quiver's level-0 slots are fixed, so the extra links live
 *     beside them (layout below), and only level 0's: the walk enters the
 *     block from the main descent or the caller's entry points.  A
 *     restricted walk walks everything until it has found one accepted
 *     point, so it starts from the query's neighbourhood; entry points
 *     given by the caller join the descent's seeds and, being accepted,
 *     restrict the walk from the start: right when the accepted points are
 *     far from where the descent lands, and cheaper on blocks anyway
 *     (python: 1.3k -> 0.9k distances, 3.1k -> 7.7k q/s, recall 0.981).
 *     A no_main graph (Qdrant's `m: 0`, one graph per tenant) has no global
 *     links and no levels: its blocks' graphs are flat, searched from entry
 *     points (recall 0.93-0.98 at ef 64 for tenants of 2-64% of man-lsa;
 *     0.97-0.99 at ef 128).
 *     Tried and dropped: ACORN taking up to 16 or 64 points per expanded
 *     node instead of m0 + the longest extra list (16: recall 0.5-1.6
 *     points lower; 64: 0-0.7 higher for up to 35% more distances);
 *     prefetching the two-hop ids' tags, list i + 1's while list i is read
 *     (no change above the noise); 4, 16 or 64 entry points for tenant
 *     graphs (the same recall); merging the block graph's upper-level links
 *     into level 0 as long links for the flat tenant graphs (+1.4 points
 *     for the 64% tenant, none for the others).
 *
 * Layout, for memory latency (search is bound by it, not by arithmetic):
 *
 *   l0      one flat array of fixed slots, slot i = [count, id_1..id_m0]
 *           (1 + 2m words); the node at the front of the candidate queue gets
 *           its slot prefetched while the current node is expanded.
 *   upper   per node with level L >= 1, one block of L slots [count, m ids],
 *           from one arena (one allocation per node at insert, one for all
 *           nodes at load).  Only ~1/m of the nodes have one.
 *   levels  one byte per node.
 *   extra   after the first qv_hnsw_add_subgraph: xoff, one u64 per node,
 *           the offset of its extra list [count, ids...] in the pool xl
 *           (0: the shared empty list at xl[0]).  A block's merge appends
 *           the new lists of its points (their old ones become garbage,
 *           compacted when it outweighs the live lists), so a call costs
 *           O(block) whatever the number of blocks; saved compacted, in id
 *           order.  A filtered walk prefetches the next candidate's xoff
 *           with its slot.
 *
 * During a search, the unvisited neighbours of a node are gathered first
 * (their visited tags prefetched), the first cache line of each of their
 * vectors is prefetched at once, and the block kernels score them four at a
 * time while prefetching the rest of the next four.
 *
 * Visited sets are per-search scratch objects with one 16-bit tag per node:
 * a search bumps the scratch's epoch by 2 instead of clearing the array
 * (an ACORN walk tags rejected points seen two hops away with epoch + 1; a
 * full clear happens once every 32767 searches).  Idle scratches wait on a small
 * stack in the index, so concurrent searches each take their own and a
 * thread that searches repeatedly reuses one without allocating.
 *
 * Concurrency (which lock protects what):
 *   - A finished graph is immutable: searches, saves and checks read it
 *     without locks.  Inserts, builds and qv_hnsw_add_subgraph are
 *     serialised by the caller against everything else (hnsw.h).  A block's
 *     graph is built (by several threads, as below) in a private qv_hnsw,
 *     then merged by the calling thread alone.  Extra links grow the
 *     neighbour buffers a search needs: scratch_take grows an idle scratch
 *     the first time it serves a graph with longer lists.
 *   - Inside qv_hnsw_build with several threads, inserts run in parallel:
 *       stripes[id % HNSW_STRIPES] serialises the writers of node id's link
 *         lists (all levels), and a thread never holds two stripes; readers
 *         take no lock: a writer stores a list's ids, then its count with
 *         release order, and a reader copies the list after an acquire load
 *         of the count, so it sees ids that were in some version of the
 *         list (read_links).  A copy may mix two versions of a list being
 *         rewritten; it never holds an id that was not a neighbour on that
 *         level.  (Copying under the stripe was 5-6% of a 2-thread build's
 *         CPU, and a re-selection, hundreds of distances, held it.)
 *       entry_lock guards entry/max_level; an insert whose level is above the
 *         current top keeps it for its whole insertion (rare: the top level
 *         changes O(log n) times), so the new top is complete before use;
 *       levels[] and upper[] are filled for the whole batch before the
 *         threads start and are read-only while they run;
 *       the work counter is an atomic; the scratch stack has its own mutex;
 *       the owner's cancel flag (qv_hnsw_build_cancellable) is only read,
 *         relaxed, by every build thread before each insert: an insert is
 *         well under a millisecond, so a cancel is seen within one insert
 *         per thread (the unit test measures it), and the threads stop
 *         between inserts, so every list stays consistent and the partial
 *         index can be freed.
 *     Lock order: entry_lock before a stripe.  A node becomes reachable only
 *     when its id is written into another list under that list's stripe,
 *     after its own list on that level was written under its own stripe.
 *     Striped mutexes rather than per-node spinlocks: a fixed 40 KB whatever
 *     n, no contention worth measuring at a few threads (only writers take
 *     them: an append or one re-selection), and a preempted holder on an
 *     oversubscribed machine makes waiters sleep instead of spin.
 *
 * Memory: plain malloc/free through this file and hnsw_io.c; every
 * allocation is owned by the qv_hnsw and released by qv_hnsw_free.
 *
 * Not here: the file format (hnsw_io.c), deletion (a filter), quantized
 * traversal, and anything that knows about segments or payloads: which
 * points form a block, which blocks are worth links, and which walk a
 * filter gets are the planner's (collection/).
 */
#include "index/hnsw.h"
#include "index/hnsw_impl.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Beam width of a query's walk down the upper levels (descend). */
#define HNSW_UPPER_EF 2

/* =========================================================================
 * Scratch: visited tags, heaps and buffers of one search or insert
 * ========================================================================= */

typedef struct hnsw_pair {
    float d;     /* internal distance, smaller is closer */
    uint32_t id; /* node */
} hnsw_pair;

struct hnsw_scratch {
    uint16_t *tags; /* visited tags, one per node */
    uint32_t ntags;
    uint16_t epoch;  /* tags[i] == epoch: visited in this pass */
    hnsw_pair *cand; /* min-heap of nodes to expand */
    size_t ncand, ccand;
    hnsw_pair *res; /* max-heap of the best nodes found (top = worst) */
    size_t nres, cres;
    hnsw_pair *lvl; /* sorted result of one level (insert) */
    size_t clvl;
    uint64_t *keys;              /* lvl or prune as packed sort keys (pairs_sort): clvl */
    uint32_t *links;             /* a copied link list: count + m0 ids */
    uint32_t *todo;              /* unvisited neighbours / prune candidates: ncap + 1 */
    float *dists;                /* their distances: ncap + 4 */
    uint32_t *hop;               /* ACORN: rejected neighbours to look through: ncap */
    size_t ncap;                 /* m0 + the graph's longest extra list (at least 1) */
    hnsw_pair *prune;            /* prune candidates with distances: m0 + 1 */
    uint32_t *sel;               /* selected neighbours: m0 */
    uint8_t *gone;               /* select_neighbors: candidate dropped, cfwd */
    uint32_t *fwd_idx, *fwd_ids; /* its remaining candidates: cfwd */
    float *fwd_d;                /* their distances to a kept one: cfwd + 4 */
    size_t cfwd;
    const qv_hnsw_scorer *scorer; /* a scored search's distances (else the floats) */
    float *dec;         /* float16/uint8 stores: QV_KERNEL_BLOCK_NV rows decoded for the kernels */
    float *vq[3];       /* ... and stored rows used as queries: the node being inserted or
                         * adopted, a list's owner being re-selected, a kept neighbour */
    hnsw_scratch *next; /* on the idle stack */
};

static void scratch_free(hnsw_scratch *s) {
    if (!s) return;
    free(s->tags);
    free(s->cand);
    free(s->res);
    free(s->lvl);
    free(s->keys);
    free(s->links);
    free(s->todo);
    free(s->dists);
    free(s->hop);
    free(s->prune);
    free(s->sel);
    free(s->gone);
    free(s->fwd_idx);
    free(s->fwd_ids);
    free(s->fwd_d);
    free(s->dec);
    for (int i = 0; i < 3; i++) free(s->vq[i]);
    free(s);
}

/* Grows the neighbour buffers (todo, dists, hop) to ncap neighbours. */
static bool ncap_reserve(hnsw_scratch *s, size_t ncap) {
    if (s->ncap >= ncap) return true;
    uint32_t *t = realloc(s->todo, (ncap + 1) * sizeof *t);
    if (t) s->todo = t;
    float *d = realloc(s->dists, (ncap + 4) * sizeof *d);
    if (d) s->dists = d;
    uint32_t *hp = realloc(s->hop, ncap * sizeof *hp);
    if (hp) s->hop = hp;
    if (!t || !d || !hp) return false;
    s->ncap = ncap;
    return true;
}

/* What a search over h needs of ncap: every link of one node, main and
 * extra (a no_main graph has m0 = 0). */
static size_t ncap_of(const qv_hnsw *h) {
    size_t n = (size_t)h->m0 + h->xmax;
    return n ? n : 1;
}

static hnsw_scratch *scratch_new(const qv_hnsw *h) {
    hnsw_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t m0 = h->m0;
    s->links = malloc((m0 + 1) * sizeof *s->links);
    s->prune = malloc((m0 + 1) * sizeof *s->prune);
    s->sel = malloc((m0 + 1) * sizeof *s->sel);
    if (!s->links || !ncap_reserve(s, ncap_of(h)) || !s->prune || !s->sel) {
        scratch_free(s);
        return NULL;
    }
    if (h->store.elem != QV_ELEM_F32) {
        s->dec = malloc(sizeof(float) * QV_KERNEL_BLOCK_NV * h->dim);
        for (int i = 0; i < 3; i++) s->vq[i] = malloc(sizeof(float) * h->dim);
        if (!s->dec || !s->vq[0] || !s->vq[1] || !s->vq[2]) {
            scratch_free(s);
            return NULL;
        }
    }
    return s;
}

/* Grows *buf (of *cap pairs) to at least want pairs. */
static bool pairs_reserve(hnsw_pair **buf, size_t *cap, size_t want) {
    if (*cap >= want) return true;
    size_t nc = *cap ? *cap : 64;
    while (nc < want) nc *= 2;
    hnsw_pair *p = realloc(*buf, nc * sizeof *p);
    if (!p) return false;
    *buf = p;
    *cap = nc;
    return true;
}

/* Grows the buffers of select_neighbors to want candidates. */
static bool fwd_reserve(hnsw_scratch *s, size_t want) {
    if (s->cfwd >= want) return true;
    uint8_t *g = realloc(s->gone, want);
    if (g) s->gone = g;
    uint32_t *a = realloc(s->fwd_idx, want * sizeof *a);
    if (a) s->fwd_idx = a;
    uint32_t *b = realloc(s->fwd_ids, want * sizeof *b);
    if (b) s->fwd_ids = b;
    float *d = realloc(s->fwd_d, (want + QV_KERNEL_BLOCK_NV) * sizeof *d);
    if (d) s->fwd_d = d;
    if (!g || !a || !b || !d) return false;
    s->cfwd = want;
    return true;
}

/* Takes an idle scratch (or makes one) whose tags cover every node.  The
 * index is logically const for searches: the idle stack is the only state a
 * search changes, and it has its own lock. */
static hnsw_scratch *scratch_take(const qv_hnsw *ch, size_t ef) {
    qv_hnsw *h = (qv_hnsw *)ch;
    pthread_mutex_lock(&h->scratch_lock);
    hnsw_scratch *s = h->scratch_free;
    if (s) h->scratch_free = s->next;
    pthread_mutex_unlock(&h->scratch_lock);
    if (!s && !(s = scratch_new(h))) return NULL;
    s->next = NULL;
    s->scorer = NULL;
    if (s->ntags < h->cap) {
        free(s->tags);
        s->tags = calloc(h->cap, sizeof *s->tags);
        s->ntags = s->tags ? h->cap : 0;
        s->epoch = 0;
    }
    size_t clvl = s->clvl;
    if (!s->tags || !ncap_reserve(s, ncap_of(h)) || !pairs_reserve(&s->res, &s->cres, ef + 2) ||
        !pairs_reserve(&s->cand, &s->ccand, ef + 2) ||
        !pairs_reserve(&s->lvl, &s->clvl, (ef > h->m0 ? ef : h->m0) + 2) ||
        !fwd_reserve(s, (ef > h->m0 ? ef : h->m0) + 2)) {
        scratch_free(s);
        return NULL;
    }
    if (s->clvl != clvl || !s->keys) {
        free(s->keys);
        if (!(s->keys = malloc(s->clvl * sizeof *s->keys))) {
            scratch_free(s);
            return NULL;
        }
    }
    return s;
}

static void scratch_put(const qv_hnsw *ch, hnsw_scratch *s) {
    qv_hnsw *h = (qv_hnsw *)ch;
    pthread_mutex_lock(&h->scratch_lock);
    s->next = h->scratch_free;
    h->scratch_free = s;
    pthread_mutex_unlock(&h->scratch_lock);
}

/* Starts a new pass: every node unvisited, both heaps empty.  A pass owns
 * two tag values: epoch (visited) and epoch + 1 (an ACORN walk saw the node
 * two hops away and found it rejected), so the epoch advances by 2 and the
 * tags are cleared when it wraps. */
static void scratch_begin(hnsw_scratch *s) {
    s->epoch += 2;
    if (s->epoch < 2) {
        memset(s->tags, 0, s->ntags * sizeof *s->tags);
        s->epoch = 2;
    }
    s->ncand = s->nres = 0;
}

/* =========================================================================
 * Heaps of (distance, id), ordered by distance then id
 * ========================================================================= */

static inline bool pair_less(hnsw_pair a, hnsw_pair b) {
    return a.d < b.d || (a.d == b.d && a.id < b.id);
}

/* The sifts of both heaps, instantiated once per order (a min-heap of
 * candidates to expand, a max-heap of results whose top is the worst) so the
 * comparison compiles to straight-line code in the search loop. */
#define HNSW_HEAP(name, before)                                                                    \
    static inline void name##_push(hnsw_pair *hp, size_t *n, hnsw_pair x) {                        \
        size_t i = (*n)++;                                                                         \
        while (i > 0) {                                                                            \
            size_t p = (i - 1) / 2;                                                                \
            if (!before(x, hp[p])) break;                                                          \
            hp[i] = hp[p];                                                                         \
            i = p;                                                                                 \
        }                                                                                          \
        hp[i] = x;                                                                                 \
    }                                                                                              \
    static inline hnsw_pair name##_pop(hnsw_pair *hp, size_t *n) {                                 \
        hnsw_pair top = hp[0], x = hp[--(*n)];                                                     \
        size_t i = 0, cnt = *n;                                                                    \
        for (;;) {                                                                                 \
            size_t c = 2 * i + 1;                                                                  \
            if (c >= cnt) break;                                                                   \
            if (c + 1 < cnt && before(hp[c + 1], hp[c])) c++;                                      \
            if (!before(hp[c], x)) break;                                                          \
            hp[i] = hp[c];                                                                         \
            i = c;                                                                                 \
        }                                                                                          \
        if (cnt) hp[i] = x;                                                                        \
        return top;                                                                                \
    }

static inline bool pair_greater(hnsw_pair a, hnsw_pair b) {
    return pair_less(b, a);
}

HNSW_HEAP(minheap, pair_less)
HNSW_HEAP(maxheap, pair_greater)

/* Sorts a max-heap of n pairs in place into ascending order (heapsort's
 * second half: each pop frees the slot the popped top belongs in). */
static void heap_sort_max(hnsw_pair *hp, size_t n) {
    while (n > 1) {
        hnsw_pair top = maxheap_pop(hp, &n);
        hp[n] = top;
    }
}

/* A pair as one integer with the order of pair_less: the distance's bits
 * made monotone (sign flipped for positives, all bits for negatives) above
 * the id.  Distances are never NaN; -0 is folded into +0 first, since
 * pair_less sees them as equal. */
static inline uint64_t pair_key(hnsw_pair p) {
    float d = p.d + 0.0f;
    uint32_t u;
    memcpy(&u, &d, sizeof u);
    u ^= (u >> 31) ? 0xFFFFFFFFu : 0x80000000u;
    return (uint64_t)u << 32 | p.id;
}

static inline hnsw_pair key_pair(uint64_t k) {
    uint32_t u = (uint32_t)(k >> 32);
    u ^= (u >> 31) ? 0x80000000u : 0xFFFFFFFFu;
    hnsw_pair p;
    memcpy(&p.d, &u, sizeof u);
    p.id = (uint32_t)k;
    return p;
}

/* Sorts keys ascending: quicksort (median of three, recursing into the
 * smaller side) down to runs of 16, then insertion sort. */
static void keys_sort(uint64_t *a, size_t n) {
    while (n > 16) {
        uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
        uint64_t piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i >= j) break;
            uint64_t t = a[i];
            a[i++] = a[j];
            a[j--] = t;
        }
        size_t nl = j + 1; /* a[0..nl) <= piv <= a[nl..n) */
        if (nl < n - nl) {
            keys_sort(a, nl);
            a += nl;
            n -= nl;
        } else {
            keys_sort(a + nl, n - nl);
            n = nl;
        }
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = a[i];
        size_t j = i;
        for (; j > 0 && x < a[j - 1]; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Sorts pairs ascending (pair_less) through packed integer keys (keys: room
 * for n): the same order as the heap's pops, in about half the time. */
static void pairs_sort(hnsw_pair *a, size_t n, uint64_t *keys) {
    for (size_t i = 0; i < n; i++) keys[i] = pair_key(a[i]);
    keys_sort(keys, n);
    for (size_t i = 0; i < n; i++) a[i] = key_pair(keys[i]);
}

/* =========================================================================
 * Vectors and distances
 * ========================================================================= */

/* Stored row id (dim components of the store's element type); a block
 * graph's ids are positions in its block (remap). */
static inline const void *hnsw_row(const qv_hnsw *h, uint32_t id) {
    if (h->remap) id = h->remap[id];
    if (h->store.base)
        return (const uint8_t *)h->store.base +
               (size_t)id * h->store.stride * qv_elem_size(h->store.elem);
    return h->store.get(h->store.ctx, id);
}

/* Stored row id as floats: the row itself, or decoded into buf (dim
 * floats) when the store holds float16 / uint8 rows. */
static inline const float *hnsw_fvec(const qv_hnsw *h, uint32_t id, float *buf) {
    const void *r = hnsw_row(h, id);
    if (h->store.elem == QV_ELEM_F32) return r;
    qv_elem_decode(h->store.elem, r, buf, h->dim);
    return buf;
}

/* out[i] = internal distance from q to rows vs[i], i < nv <= 4; pf: the
 * rows needed next, prefetched by the kernel while it computes.  Rows that
 * are not float32 are decoded into dec (4 x dim floats) first, which reads
 * them anyway, so they get no prefetch hints. */
static inline void dist_block(const qv_hnsw *h, float *dec, const float *q, const void *const *vs,
                              size_t nv, float *out, const void *const *pf, size_t npf) {
    const qv_kernels *k = h->kern;
    const float *fv[QV_KERNEL_BLOCK_NV], *fpf[QV_KERNEL_BLOCK_NV];
    for (size_t i = 0; i < nv; i++) {
        fv[i] = vs[i];
        if (h->store.elem == QV_ELEM_F32) continue;
        qv_elem_decode(h->store.elem, vs[i], dec + i * h->dim, h->dim);
        fv[i] = dec + i * h->dim;
    }
    if (h->store.elem != QV_ELEM_F32) npf = 0;
    for (size_t i = 0; i < npf; i++) fpf[i] = pf[i];
    switch (h->dist) {
    case QV_DIST_EUCLID:
        k->l2sq_block(&q, 1, fv, nv, h->dim, out, QV_KERNEL_BLOCK_NV, fpf, npf);
        break;
    case QV_DIST_MANHATTAN:
        k->l1_block(&q, 1, fv, nv, h->dim, out, QV_KERNEL_BLOCK_NV, fpf, npf);
        break;
    default:
        k->dot_block(&q, 1, fv, nv, h->dim, out, QV_KERNEL_BLOCK_NV, fpf, npf);
        for (size_t i = 0; i < nv; i++) out[i] = -out[i];
        break;
    }
}

/* out[i] = internal distance from q to node ids[i], i < n (out has room for
 * n rounded up to 4).  The first cache line of every vector is requested up
 * front, so their DRAM latencies overlap; the rest of each block comes in
 * while the block before it is scored. */
static void dist_many(const qv_hnsw *h, hnsw_scratch *s, const float *q, const uint32_t *ids,
                      size_t n, float *out) {
    const void *v[2][QV_KERNEL_BLOCK_NV];
    for (size_t i = 0; i < n; i++) __builtin_prefetch(hnsw_row(h, ids[i]), 0, 3);
    size_t nb = n < QV_KERNEL_BLOCK_NV ? n : QV_KERNEL_BLOCK_NV;
    for (size_t j = 0; j < nb; j++) v[0][j] = hnsw_row(h, ids[j]);
    for (size_t i = 0, cur = 0; i < n; i += QV_KERNEL_BLOCK_NV, cur ^= 1) {
        size_t nx = n - (i + nb) < QV_KERNEL_BLOCK_NV ? n - (i + nb) : QV_KERNEL_BLOCK_NV;
        if (i + nb >= n) nx = 0;
        for (size_t j = 0; j < nx; j++) v[cur ^ 1][j] = hnsw_row(h, ids[i + nb + j]);
        dist_block(h, s->dec, q, v[cur], nb, out + i, v[cur ^ 1], nx);
        nb = nx;
    }
}

/* The distances of a search: the caller's scorer when the search has one
 * (qv_hnsw_search_scored), else the float vectors. */
static inline void dist_q(const qv_hnsw *h, hnsw_scratch *s, const float *q, const uint32_t *ids,
                          size_t n, float *out) {
    if (s->scorer)
        s->scorer->dist(s->scorer->ctx, ids, n, out);
    else
        dist_many(h, s, q, ids, n, out);
}

static float dist_one(const qv_hnsw *h, hnsw_scratch *s, const float *q, uint32_t id) {
    float out[QV_KERNEL_BLOCK_NV];
    const void *v = hnsw_row(h, id);
    dist_block(h, s->dec, q, &v, 1, out, NULL, 0);
    return out[0];
}

/* =========================================================================
 * Levels and allocation
 * ========================================================================= */

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The level of node id: -ln(u) / ln(m), u in (0, 1] from (seed, id); 0 in
 * a no_main graph. */
static int level_of(const qv_hnsw *h, uint32_t id) {
    if (h->m == 0) return 0;
    uint64_t r = splitmix64(h->seed ^ splitmix64(id));
    double u = ((double)(r >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double l = floor(-log(u) * h->level_mult);
    return l > QV_HNSW_MAX_LEVEL ? QV_HNSW_MAX_LEVEL : (int)l;
}

qv_rc hnsw_alloc(size_t dim, qv_distance dist, uint32_t m, uint32_t ef_construct, uint64_t seed,
                 const qv_hnsw_store *store, qv_hnsw **out, qv_err *err) {
    qv_hnsw *h = calloc(1, sizeof *h);
    if (!h) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory");
    h->dim = dim;
    h->dist = dist;
    h->m = m;
    h->m0 = 2 * m;
    h->ef_construct = ef_construct;
    h->seed = seed;
    h->level_mult = m ? 1.0 / log((double)m) : 0.0;
    if (store) h->store = *store;
    h->kern = qv_kernels_best();
    h->slot0 = 1 + h->m0;
    h->slotu = 1 + m;
    h->entry = HNSW_NONE;
    h->max_level = -1;
    qv_arena_init(&h->upper_mem);
    pthread_mutex_init(&h->entry_lock, NULL);
    pthread_mutex_init(&h->scratch_lock, NULL);
    for (size_t i = 0; i < HNSW_STRIPES; i++) pthread_mutex_init(&h->stripes[i], NULL);
    *out = h;
    return QV_OK;
}

qv_rc hnsw_grow(qv_hnsw *h, uint32_t cap, qv_err *err) {
    if (cap <= h->cap) return QV_OK;
    if (h->map) return qv_fail(err, QV_EBADINPUT, "hnsw: a mapped graph takes no new points");
    if (cap > QV_HNSW_MAX_POINTS) return qv_fail(err, QV_ETOOLARGE, "hnsw: too many points");
    uint32_t *l0 = realloc(h->l0, (size_t)cap * h->slot0 * sizeof *l0);
    if (l0) h->l0 = l0;
    uint8_t *lv = realloc(h->levels, cap);
    if (lv) h->levels = lv;
    uint32_t **up = realloc(h->upper, (size_t)cap * sizeof *up);
    if (up) h->upper = up;
    uint64_t *xo = h->xoff ? realloc(h->xoff, (size_t)cap * sizeof *xo) : NULL;
    if (xo) h->xoff = xo;
    if (!l0 || !lv || !up || (h->xoff && !xo))
        return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for %u nodes", cap);
    size_t add = cap - h->cap;
    memset(h->l0 + (size_t)h->cap * h->slot0, 0, add * h->slot0 * sizeof *l0);
    memset(h->levels + h->cap, 0, add);
    memset(h->upper + h->cap, 0, add * sizeof *up);
    if (xo) memset(xo + h->cap, 0, add * sizeof *xo); /* no extra links */
    h->cap = cap;
    return QV_OK;
}

/* Gives node id its level and (zeroed) upper link lists. */
static qv_rc node_init(qv_hnsw *h, uint32_t id, qv_err *err) {
    int l = level_of(h, id);
    h->levels[id] = (uint8_t)l;
    h->upper[id] = NULL;
    if (l == 0) return QV_OK;
    size_t bytes = (size_t)l * h->slotu * sizeof(uint32_t);
    uint32_t *u = qv_arena_calloc(&h->upper_mem, bytes);
    if (!u) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory");
    h->upper[id] = u;
    return QV_OK;
}

/* =========================================================================
 * Graph search on one level
 * ========================================================================= */

static inline void stripe_lock(const qv_hnsw *h, uint32_t id) {
    pthread_mutex_lock((pthread_mutex_t *)&h->stripes[id % HNSW_STRIPES]);
}

static inline void stripe_unlock(const qv_hnsw *h, uint32_t id) {
    pthread_mutex_unlock((pthread_mutex_t *)&h->stripes[id % HNSW_STRIPES]);
}

/* The link list of id on level: the list itself, or (locked: a parallel
 * build is running) a copy read without a lock.  Writers (under the node's
 * stripe) store the ids before the count, with release order (list_write),
 * so a reader that sees a count also sees ids that were in some version of
 * this list: the copy may mix the old and new version of a list being
 * rewritten, never holds an id that was not a neighbour on this level. */
static const uint32_t *read_links(const qv_hnsw *h, hnsw_scratch *s, uint32_t id, int level,
                                  bool locked) {
    const uint32_t *l = hnsw_links(h, id, level);
    if (!locked) return l;
    uint32_t cnt = __atomic_load_n(&l[0], __ATOMIC_ACQUIRE);
    s->links[0] = cnt;
    for (uint32_t i = 1; i <= cnt; i++) s->links[i] = __atomic_load_n(&l[i], __ATOMIC_RELAXED);
    return s->links;
}

/* Writes ids[0..n) as the list lst (caller holds its stripe when locked):
 * the ids first, then the count with release order (see read_links). */
static void list_write(uint32_t *lst, const uint32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) __atomic_store_n(&lst[1 + i], ids[i], __ATOMIC_RELAXED);
    __atomic_store_n(&lst[0], (uint32_t)n, __ATOMIC_RELEASE);
}

/* Greedy descent from (*cur, *curd) through levels top..stop+1: on each
 * level, move to the closest neighbour while that gets closer. */
static void greedy_descent(const qv_hnsw *h, hnsw_scratch *s, const float *q, int top, int stop,
                           uint32_t *cur, float *curd, bool locked) {
    for (int l = top; l > stop; l--) {
        bool moved = true;
        while (moved) {
            moved = false;
            const uint32_t *lst = read_links(h, s, *cur, l, locked);
            uint32_t cnt = lst[0];
            memcpy(s->todo, lst + 1, cnt * sizeof *s->todo);
            dist_q(h, s, q, s->todo, cnt, s->dists);
            for (uint32_t i = 0; i < cnt; i++) {
                hnsw_pair c = {s->dists[i], s->todo[i]};
                if (pair_less(c, (hnsw_pair){*curd, *cur})) {
                    *cur = c.id;
                    *curd = c.d;
                    moved = true;
                }
            }
        }
    }
}

/* Best-first search on one level (the paper's SEARCH-LAYER).  On entry the
 * scratch holds the seeds: in cand, visited, and (if accepted) in res.  On
 * return res holds the ef closest accepted nodes found.  Rejected nodes are
 * expanded like the others (they keep a filtered search connected) but never
 * enter res; a node is only expanded while it could still improve res, so
 * the stop rule is the paper's, applied to the accepted set.  Returns false
 * when the candidate heap could not grow. */
static bool search_layer(const qv_hnsw *h, hnsw_scratch *s, const float *q, int level, size_t ef,
                         qv_hnsw_accept_fn accept, void *actx, bool locked) {
    /* locals, so that stores to the tags (which may alias anything under
     * -fno-strict-aliasing) do not force reloads of the scratch fields */
    uint16_t *const tags = s->tags, ep = s->epoch;
    uint32_t *const todo = s->todo;
    float *const dists = s->dists;
    hnsw_pair *cand = s->cand, *const res = s->res;
    size_t ncand = s->ncand, nres = s->nres;
    bool ok = true;
    while (ncand > 0) {
        hnsw_pair c = minheap_pop(cand, &ncand);
        if (nres >= ef && pair_less(res[0], c)) break;
        if (ncand > 0) __builtin_prefetch(hnsw_links(h, cand[0].id, level), 0, 3);
        const uint32_t *lst = read_links(h, s, c.id, level, locked);
        uint32_t cnt = lst[0], nt = 0;
        for (uint32_t i = 0; i < cnt; i++) __builtin_prefetch(&tags[lst[1 + i]], 1, 3);
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t j = lst[1 + i];
            if (tags[j] != ep) {
                tags[j] = ep;
                todo[nt++] = j;
            }
        }
        if (nt == 0) continue;
        dist_q(h, s, q, todo, nt, dists);
        if (ncand + nt > s->ccand) {
            s->ncand = ncand;
            if (!pairs_reserve(&s->cand, &s->ccand, ncand + nt)) {
                ok = false;
                break;
            }
            cand = s->cand;
        }
        for (uint32_t i = 0; i < nt; i++) {
            hnsw_pair x = {dists[i], todo[i]};
            if (nres >= ef && !pair_less(x, res[0])) continue;
            minheap_push(cand, &ncand, x);
            if (accept && !accept(actx, x.id)) continue;
            maxheap_push(res, &nres, x);
            if (nres > ef) maxheap_pop(res, &nres);
        }
    }
    s->ncand = ncand;
    s->nres = nres;
    return ok;
}

/* Seeds a pass with one node. */
static void seed_one(hnsw_scratch *s, hnsw_pair p, bool accepted) {
    s->tags[p.id] = s->epoch;
    s->cand[s->ncand++] = p;
    if (accepted) maxheap_push(s->res, &s->nres, p);
}

/* Seeds level 0 for a query: a beam of HNSW_UPPER_EF nodes (at most ef)
 * walks down the upper levels, each level's search seeded with the beam of
 * the level above, and the last beam becomes level 0's seeds (accepted ones
 * also its first results).  A single greedy path (beam 1) ends in the wrong
 * cluster often enough on clustered data to cost a few % of recall at any
 * ef (see the design comment).  Returns false when a heap could not grow. */
static bool descend(const qv_hnsw *h, hnsw_scratch *s, const float *q, size_t ef,
                    qv_hnsw_accept_fn accept, void *actx) {
    uint32_t ep = h->entry;
    float epd;
    if (s->scorer)
        s->scorer->dist(s->scorer->ctx, &ep, 1, &epd);
    else
        epd = dist_one(h, s, q, ep);
    size_t w = ef < HNSW_UPPER_EF ? ef : HNSW_UPPER_EF;
    scratch_begin(s);
    seed_one(s, (hnsw_pair){epd, ep}, h->max_level > 0 || !accept || accept(actx, ep));
    for (int l = h->max_level; l >= 1; l--) {
        if (!search_layer(h, s, q, l, w, NULL, NULL, false)) return false;
        size_t nl = s->nres;
        memcpy(s->lvl, s->res, nl * sizeof *s->lvl);
        heap_sort_max(s->lvl, nl);
        scratch_begin(s);
        for (size_t i = 0; i < nl; i++)
            seed_one(s, s->lvl[i], l > 1 || !accept || accept(actx, s->lvl[i].id));
    }
    return true;
}

/* =========================================================================
 * Insertion
 * ========================================================================= */

static bool same_vector(const qv_hnsw *h, uint32_t a, uint32_t b) {
    return memcmp(hnsw_row(h, a), hnsw_row(h, b), h->dim * qv_elem_size(h->store.elem)) == 0;
}

/* The paper's neighbour-selection heuristic.  cand[0..nc) is sorted by
 * distance to the base node `self`; writes at most cap ids to out and
 * returns their number.  A candidate is dropped when a kept neighbour is
 * strictly closer to it than the base is: the kept one already leads there,
 * and the link budget goes to other directions instead.  A tie drops it only
 * when it is an exact copy of the kept one: without that, more than m0
 * identical vectors fill each other's lists and become a closed clique; with
 * the paper's strict rule, a node among copies keeps only one link. */
static size_t select_neighbors(const qv_hnsw *h, hnsw_scratch *s, const hnsw_pair *cand, size_t nc,
                               size_t cap, uint32_t self, uint32_t *out) {
    uint8_t *gone = s->gone; /* candidate i dropped (or self) */
    for (size_t i = 0; i < nc; i++) gone[i] = cand[i].id == self;
    size_t nr = 0;
    for (size_t i = 0; i < nc && nr < cap; i++) {
        if (gone[i]) continue;
        uint32_t kept = cand[i].id;
        out[nr++] = kept;
        if (nr == cap) break;
        /* every remaining candidate against the new neighbour, as one
         * streamed batch (the kept vector stays in cache) */
        size_t nt = 0;
        for (size_t j = i + 1; j < nc; j++)
            if (!gone[j]) s->fwd_idx[nt++] = (uint32_t)j;
        for (size_t t = 0; t < nt; t++) s->fwd_ids[t] = cand[s->fwd_idx[t]].id;
        const float *vk = hnsw_fvec(h, kept, s->vq[2]);
        dist_many(h, s, vk, s->fwd_ids, nt, s->fwd_d);
        for (size_t t = 0; t < nt; t++) {
            size_t j = s->fwd_idx[t];
            float dj = s->fwd_d[t];
            if (dj < cand[j].d || (dj == cand[j].d && same_vector(h, kept, cand[j].id)))
                gone[j] = 1;
        }
    }
    return nr;
}

/* Tops a level-0 selection out[0..nr) up to want links with the closest
 * candidates the heuristic dropped (cand sorted by distance to self), as
 * the paper's keepPrunedConnections does, but only to m of the m0 slots:
 * the heuristic alone leaves ~11-15 of 32 slots used on clustered data, and
 * those extra short links raise recall at a given number of distances (see
 * the design comment); filling all m0 slots costs more distances than it
 * saves. */
static size_t fill_pruned(const hnsw_pair *cand, size_t nc, uint32_t self, uint32_t *out, size_t nr,
                          size_t want) {
    for (size_t i = 0; i < nc && nr < want; i++) {
        uint32_t id = cand[i].id;
        bool have = id == self;
        for (size_t j = 0; j < nr && !have; j++) have = out[j] == id;
        if (!have) out[nr++] = id;
    }
    return nr;
}

/* Adds the back link e -> x on level; when e's list is full, its old
 * neighbours plus x are re-selected with the heuristic. */
static void link_back(const qv_hnsw *h, hnsw_scratch *s, uint32_t e, uint32_t x, int level,
                      bool locked) {
    size_t cap = level ? h->m : h->m0;
    if (locked) stripe_lock(h, e);
    uint32_t *lst = hnsw_links(h, e, level);
    uint32_t cnt = lst[0];
    bool present = false;
    for (uint32_t i = 0; i < cnt; i++) present |= lst[1 + i] == x;
    if (present) {
        /* nothing to do */
    } else if (cnt < cap) {
        __atomic_store_n(&lst[1 + cnt], x, __ATOMIC_RELAXED);
        __atomic_store_n(&lst[0], cnt + 1, __ATOMIC_RELEASE);
    } else {
        memcpy(s->todo, lst + 1, cnt * sizeof *s->todo);
        s->todo[cnt] = x;
        dist_many(h, s, hnsw_fvec(h, e, s->vq[1]), s->todo, cnt + 1, s->dists);
        for (uint32_t i = 0; i <= cnt; i++) s->prune[i] = (hnsw_pair){s->dists[i], s->todo[i]};
        pairs_sort(s->prune, cnt + 1, s->keys);
        size_t nsel = select_neighbors(h, s, s->prune, cnt + 1, cap, e, s->sel);
        list_write(lst, s->sel, nsel);
    }
    if (locked) stripe_unlock(h, e);
}

/* Links node x (level and upper lists already set) into the graph.  locked:
 * other threads insert at the same time (see the design comment). */
static qv_rc insert_node(qv_hnsw *h, hnsw_scratch *s, uint32_t x, bool locked) {
    int lx = h->levels[x];
    const float *q = hnsw_fvec(h, x, s->vq[0]);
    if (locked) pthread_mutex_lock(&h->entry_lock);
    uint32_t ep = h->entry;
    int top = h->max_level;
    if (ep == HNSW_NONE || h->m == 0) { /* the first node; or no links to make */
        if (ep == HNSW_NONE) {
            h->entry = x;
            h->max_level = lx;
        }
        if (locked) pthread_mutex_unlock(&h->entry_lock);
        return QV_OK;
    }
    bool hold = lx > top; /* keep entry_lock until x is the new, complete top */
    if (locked && !hold) pthread_mutex_unlock(&h->entry_lock);

    qv_rc rc = QV_OK;
    float epd = dist_one(h, s, q, ep);
    greedy_descent(h, s, q, top, lx, &ep, &epd, locked);
    scratch_begin(s);
    seed_one(s, (hnsw_pair){epd, ep}, true);
    for (int l = lx < top ? lx : top; l >= 0; l--) {
        if (!search_layer(h, s, q, l, h->ef_construct, NULL, NULL, locked)) {
            rc = QV_ENOMEM;
            break;
        }
        /* res, sorted, is this level's candidate set and the next seeds */
        size_t nl = s->nres;
        memcpy(s->lvl, s->res, nl * sizeof *s->lvl);
        pairs_sort(s->lvl, nl, s->keys);
        size_t cap = l ? h->m : h->m0;
        size_t nsel = select_neighbors(h, s, s->lvl, nl, cap, x, s->sel);
        if (l == 0) nsel = fill_pruned(s->lvl, nl, x, s->sel, nsel, h->m);
        uint32_t *mine = hnsw_links(h, x, l);
        if (locked) stripe_lock(h, x);
        list_write(mine, s->sel, nsel);
        if (locked) stripe_unlock(h, x);
        /* link_back reuses sel (and other threads may already change x's
         * list): walk a private copy */
        memcpy(s->links, s->sel, nsel * sizeof *s->sel);
        for (size_t i = 0; i < nsel; i++) link_back(h, s, s->links[i], x, l, locked);
        if (l == 0) break;
        scratch_begin(s);
        for (size_t i = 0; i < nl; i++) seed_one(s, s->lvl[i], true);
    }
    if (hold) {
        h->entry = x;
        h->max_level = lx;
        if (locked) pthread_mutex_unlock(&h->entry_lock);
    }
    return rc;
}

/* =========================================================================
 * Connectivity repair
 * ========================================================================= */

/* Breadth-first walk of level 0 from start over nodes not yet seen; marks
 * them in seen and returns how many it marked (queue: room for n ids). */
static size_t reach_from(const qv_hnsw *h, uint32_t start, uint8_t *seen, uint32_t *queue) {
    if (seen[start]) return 0;
    size_t head = 0, tail = 0;
    seen[start] = 1;
    queue[tail++] = start;
    while (head < tail) {
        const uint32_t *lst = hnsw_links(h, queue[head++], 0);
        uint32_t cnt = lst[0] > h->m0 ? h->m0 : lst[0];
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t j = lst[1 + i];
            if (j < h->n && !seen[j]) {
                seen[j] = 1;
                queue[tail++] = j;
            }
        }
    }
    return tail;
}

/* Replaces p's farthest link whose target keeps another in-link (so the
 * replacement orphans nobody) with u.  Returns false if p has none. */
static bool replace_link(const qv_hnsw *h, hnsw_scratch *s, uint32_t p, uint32_t u,
                         uint32_t *indeg) {
    uint32_t *lst = hnsw_links(h, p, 0);
    uint32_t cnt = lst[0], pick = HNSW_NONE;
    dist_many(h, s, hnsw_fvec(h, p, s->vq[1]), lst + 1, cnt, s->dists);
    for (uint32_t i = 0; i < cnt; i++)
        if (indeg[lst[1 + i]] >= 2 && (pick == HNSW_NONE || s->dists[i] >= s->dists[pick]))
            pick = i;
    if (pick == HNSW_NONE) return false;
    indeg[lst[1 + pick]]--;
    lst[1 + pick] = u;
    indeg[u]++;
    return true;
}

/* Gives the unreachable node u an in-link from the closest reachable node
 * with a free level-0 slot among u's ef_construct nearest; if all are full,
 * from the closest one that can drop a link whose target has another
 * in-link.  Returns QV_OK even when no such node was found (the validator
 * reports what remains). */
static qv_rc adopt(qv_hnsw *h, hnsw_scratch *s, uint32_t u, const uint8_t *seen, uint32_t *indeg) {
    const float *q = hnsw_fvec(h, u, s->vq[0]);
    uint32_t ep = h->entry;
    float epd = dist_one(h, s, q, ep);
    greedy_descent(h, s, q, h->max_level, 0, &ep, &epd, false);
    scratch_begin(s);
    seed_one(s, (hnsw_pair){epd, ep}, true);
    if (!search_layer(h, s, q, 0, h->ef_construct, NULL, NULL, false)) return QV_ENOMEM;
    size_t nr = s->nres;
    heap_sort_max(s->res, nr);
    for (size_t i = 0; i < nr; i++) {
        uint32_t p = s->res[i].id, *lst = hnsw_links(h, p, 0);
        if (p == u || !seen[p] || lst[0] >= h->m0) continue;
        lst[1 + lst[0]] = u;
        lst[0]++;
        indeg[u]++;
        return QV_OK;
    }
    for (size_t i = 0; i < nr; i++) {
        uint32_t p = s->res[i].id;
        if (p != u && seen[p] && replace_link(h, s, p, u, indeg)) return QV_OK;
    }
    return QV_OK;
}

/* Makes every node reachable from the entry point on level 0 again.  The
 * heuristic's pruning can take the last in-link away from a node (more
 * often among near-duplicates); such a node is still in the graph but no
 * search can find it.  Each round walks the graph once and adopts every
 * node it missed (after each adoption, whatever the adopted node leads to
 * counts as reached too). */
static qv_rc repair(qv_hnsw *h, qv_err *err) {
    if (h->n < 2 || h->m == 0) return QV_OK; /* a no_main graph has nothing to reach */
    uint8_t *seen = malloc(h->n);
    uint32_t *queue = malloc((size_t)h->n * sizeof *queue);
    uint32_t *indeg = malloc((size_t)h->n * sizeof *indeg);
    hnsw_scratch *s = scratch_take(h, h->ef_construct);
    qv_rc rc = seen && queue && indeg && s ? QV_OK : QV_ENOMEM;
    for (int round = 0; rc == QV_OK && round < 4; round++) {
        memset(seen, 0, h->n);
        if (reach_from(h, h->entry, seen, queue) == h->n) break;
        memset(indeg, 0, (size_t)h->n * sizeof *indeg);
        for (uint32_t i = 0; i < h->n; i++) {
            const uint32_t *lst = hnsw_links(h, i, 0);
            for (uint32_t j = 0; j < lst[0]; j++) indeg[lst[1 + j]]++;
        }
        for (uint32_t u = 0; rc == QV_OK && u < h->n; u++) {
            if (seen[u]) continue;
            rc = adopt(h, s, u, seen, indeg);
            reach_from(h, u, seen, queue);
        }
    }
    if (s) scratch_put(h, s);
    free(seen);
    free(queue);
    free(indeg);
    return rc ? qv_fail(err, rc, "hnsw: out of memory while repairing the graph") : QV_OK;
}

/* =========================================================================
 * Public: lifecycle and building
 * ========================================================================= */

qv_rc qv_hnsw_new(size_t dim, qv_distance dist, const qv_hnsw_params *params,
                  const qv_hnsw_store *store, qv_hnsw **out, qv_err *err) {
    qv_hnsw_params p = params ? *params : (qv_hnsw_params){0};
    if (p.m == 0) p.m = 16;
    if (p.ef_construct == 0) p.ef_construct = 100;
    if (dim == 0 || dim > (1u << 20)) return qv_fail(err, QV_EBADINPUT, "hnsw: bad dim %zu", dim);
    if (!p.no_main && (p.m < 2 || p.m > QV_HNSW_MAX_M))
        return qv_fail(err, QV_EBADINPUT, "hnsw: m must be in 2..%d", QV_HNSW_MAX_M);
    if (p.no_main) p.m = 0;
    if ((unsigned)dist > QV_DIST_MANHATTAN)
        return qv_fail(err, QV_EBADINPUT, "hnsw: unknown distance %d", (int)dist);
    if (!store || (!store->base && !store->get) || (store->base && store->stride < dim) ||
        (unsigned)store->elem > QV_ELEM_U8 || (store->elem != QV_ELEM_F32 && !store->base))
        return qv_fail(err, QV_EBADINPUT, "hnsw: bad vector store");
    return hnsw_alloc(dim, dist, p.m, p.ef_construct, p.seed, store, out, err);
}

void qv_hnsw_free(qv_hnsw *h) {
    if (!h) return;
    while (h->scratch_free) {
        hnsw_scratch *s = h->scratch_free;
        h->scratch_free = s->next;
        scratch_free(s);
    }
    if (h->map) {
        munmap(h->map, h->map_len); /* levels, l0, upper blocks, extra links were in it */
    } else {
        free(h->l0);
        free(h->levels);
        free(h->xoff);
        free(h->xl);
    }
    free(h->upper);
    qv_arena_free(&h->upper_mem);
    pthread_mutex_destroy(&h->entry_lock);
    pthread_mutex_destroy(&h->scratch_lock);
    for (size_t i = 0; i < HNSW_STRIPES; i++) pthread_mutex_destroy(&h->stripes[i]);
    free(h);
}

qv_rc qv_hnsw_reserve(qv_hnsw *h, uint32_t cap, qv_err *err) {
    return hnsw_grow(h, cap, err);
}

qv_rc qv_hnsw_insert(qv_hnsw *h, uint32_t *id, qv_err *err) {
    uint32_t x = h->n;
    if (x >= h->cap) {
        uint64_t nc = h->cap < 64 ? 64 : (uint64_t)h->cap * 2;
        if (nc > QV_HNSW_MAX_POINTS) nc = QV_HNSW_MAX_POINTS;
        qv_rc rc = hnsw_grow(h, (uint32_t)nc, err);
        if (rc) return rc;
    }
    qv_rc rc = node_init(h, x, err);
    if (rc) return rc;
    hnsw_scratch *s = scratch_take(h, h->ef_construct);
    if (!s) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory");
    rc = insert_node(h, s, x, false);
    scratch_put(h, s);
    if (rc) return qv_fail(err, rc, "hnsw: out of memory while inserting %u", x);
    h->n = x + 1;
    if (id) *id = x;
    return QV_OK;
}

typedef struct build_job {
    qv_hnsw *h;
    const uint32_t *order;     /* the batch's ids in insertion order */
    _Atomic uint32_t next;     /* next index into order */
    uint32_t end;              /* number of ids in order */
    _Atomic int failed;        /* a qv_rc, first failure wins */
    const atomic_bool *cancel; /* the owner's cancel flag, or NULL */
} build_job;

/* True when the owner asked the build to stop. */
static inline bool build_cancelled(const atomic_bool *cancel) {
    return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

static void *build_worker(void *arg) {
    build_job *job = arg;
    hnsw_scratch *s = scratch_take(job->h, job->h->ef_construct);
    if (!s) {
        int zero = 0;
        atomic_compare_exchange_strong(&job->failed, &zero, QV_ENOMEM);
        return NULL;
    }
    while (atomic_load_explicit(&job->failed, memory_order_relaxed) == 0) {
        uint32_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (i >= job->end) break;
        if (build_cancelled(job->cancel)) {
            int zero = 0;
            atomic_compare_exchange_strong(&job->failed, &zero, QV_EUNAVAILABLE);
            break;
        }
        qv_rc rc = insert_node(job->h, s, job->order[i], true);
        if (rc) {
            int zero = 0;
            atomic_compare_exchange_strong(&job->failed, &zero, (int)rc);
        }
    }
    scratch_put(job->h, s);
    return NULL;
}

/* The ids lo..hi-1 in insertion order: highest level first, then by id (as
 * faiss does).  The upper levels' skeleton is then complete before the
 * level-0 crowd arrives, so early links span the data instead of joining
 * whichever points happened to come first. */
static uint32_t *level_order(const qv_hnsw *h, uint32_t lo, uint32_t hi) {
    uint32_t *ord = malloc((size_t)(hi - lo) * sizeof *ord);
    if (!ord) return NULL;
    size_t start[QV_HNSW_MAX_LEVEL + 2] = {0};
    for (uint32_t i = lo; i < hi; i++) start[QV_HNSW_MAX_LEVEL - h->levels[i] + 1]++;
    for (int l = 1; l <= QV_HNSW_MAX_LEVEL + 1; l++) start[l] += start[l - 1];
    for (uint32_t i = lo; i < hi; i++) ord[start[QV_HNSW_MAX_LEVEL - h->levels[i]]++] = i;
    return ord;
}

qv_rc qv_hnsw_build(qv_hnsw *h, uint32_t n, unsigned nthreads, qv_err *err) {
    return qv_hnsw_build_cancellable(h, n, nthreads, NULL, err);
}

/* The message of a failed build. */
static qv_rc build_fail(qv_err *err, qv_rc rc) {
    if (rc == QV_EUNAVAILABLE) return qv_fail(err, rc, "hnsw: build cancelled");
    return qv_fail(err, rc, "hnsw: out of memory while building");
}

/* A cancelled build stops before its next insert and leaves the index as a
 * failed one does: memory-safe, partly linked, to be freed (hnsw.h). */
qv_rc qv_hnsw_build_cancellable(qv_hnsw *h, uint32_t n, unsigned nthreads,
                                const atomic_bool *cancel, qv_err *err) {
    if (n <= h->n) return QV_OK;
    if (build_cancelled(cancel)) return build_fail(err, QV_EUNAVAILABLE);
    qv_rc rc = hnsw_grow(h, n, err);
    for (uint32_t i = h->n; rc == QV_OK && i < n; i++) rc = node_init(h, i, err);
    if (rc) return rc;
    uint32_t *order = level_order(h, h->n, n);
    if (!order) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory");
    uint32_t cnt = n - h->n;
    if (nthreads <= 1 || cnt < 2 * nthreads || h->m == 0) {
        hnsw_scratch *s = scratch_take(h, h->ef_construct);
        rc = s ? QV_OK : QV_ENOMEM;
        for (uint32_t i = 0; rc == QV_OK && i < cnt; i++)
            rc = build_cancelled(cancel) ? QV_EUNAVAILABLE : insert_node(h, s, order[i], false);
        if (s) scratch_put(h, s);
        free(order);
        if (rc) return build_fail(err, rc);
        h->n = n;
        return repair(h, err);
    }
    build_job job = {.h = h, .order = order, .end = cnt, .cancel = cancel};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    pthread_t *tid = calloc(nthreads - 1, sizeof *tid);
    if (!tid) {
        free(order);
        return qv_fail(err, QV_ENOMEM, "hnsw: out of memory");
    }
    unsigned started = 0;
    for (; started < nthreads - 1; started++)
        if (pthread_create(&tid[started], NULL, build_worker, &job) != 0) break;
    build_worker(&job);
    for (unsigned i = 0; i < started; i++) pthread_join(tid[i], NULL);
    free(tid);
    free(order);
    h->n = n;
    int failed = atomic_load(&job.failed);
    if (failed) return build_fail(err, (qv_rc)failed);
    if (build_cancelled(cancel)) return build_fail(err, QV_EUNAVAILABLE);
    return repair(h, err);
}

qv_rc qv_hnsw_repair(qv_hnsw *h, qv_err *err) {
    return repair(h, err);
}

/* =========================================================================
 * Payload blocks: extra links (qv_hnsw_add_subgraph)
 * ========================================================================= */

/* Makes room for want more words in the extra-link pool (creating the pool
 * and xoff on first use).  Changes nothing visible: on failure the graph is
 * as it was. */
static bool xl_reserve(qv_hnsw *h, uint64_t want) {
    if (!h->xoff) {
        uint64_t *xo = calloc(h->cap ? h->cap : 1, sizeof *xo);
        uint32_t *xl = malloc(sizeof *xl * 64);
        if (!xo || !xl) {
            free(xo);
            free(xl);
            return false;
        }
        xl[0] = 0; /* the shared empty list */
        h->xoff = xo;
        h->xl = xl;
        h->xl_words = h->xl_live = 1;
        h->xl_cap = 64;
    }
    if (h->xl_words + want <= h->xl_cap) return true;
    uint64_t nc = h->xl_cap * 2;
    if (nc < h->xl_words + want) nc = h->xl_words + want;
    if (nc > SIZE_MAX / sizeof *h->xl) return false;
    uint32_t *xl = realloc(h->xl, (size_t)nc * sizeof *xl);
    if (!xl) return false;
    h->xl = xl;
    h->xl_cap = nc;
    return true;
}

/* Rewrites the pool without the lists replaced since the last compaction,
 * in id order.  Skipped (nothing lost but memory) if the new pool cannot
 * be allocated. */
static void xl_compact(qv_hnsw *h) {
    uint32_t *nl = malloc((size_t)h->xl_live * sizeof *nl);
    if (!nl) return;
    uint64_t at = 1;
    nl[0] = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        const uint32_t *lst = hnsw_xlinks(h, i);
        if (lst[0] == 0) continue;
        memcpy(nl + at, lst, (1 + (size_t)lst[0]) * sizeof *nl);
        h->xoff[i] = at;
        at += 1 + (uint64_t)lst[0];
    }
    free(h->xl);
    h->xl = nl;
    h->xl_words = h->xl_cap = h->xl_live = at;
}

/* True when id is in the list lst ([count, ids...]). */
static inline bool list_has(const uint32_t *lst, uint32_t id) {
    for (uint32_t i = 0; i < lst[0]; i++)
        if (lst[1 + i] == id) return true;
    return false;
}

/* Merges the block graph b's level 0 into h's extra links: each block
 * point's new list is its old extra list plus the block neighbours it does
 * not link to yet (main or extra), appended to the pool (the old list
 * becomes garbage).  The room is reserved first, so a failure changes
 * nothing. */
static qv_rc merge_block(qv_hnsw *h, const qv_hnsw *b, qv_err *err) {
    uint64_t want = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t bc = hnsw_links(b, i, 0)[0];
        if (bc) want += 1 + bc + (h->xoff ? hnsw_xlinks(h, b->remap[i])[0] : 0);
    }
    if (!xl_reserve(h, want))
        return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for the links of a block");
    bool linked = false;
    for (uint32_t i = 0; i < b->n; i++) {
        const uint32_t *bl = hnsw_links(b, i, 0);
        if (bl[0] == 0) continue; /* (no room was reserved for it) */
        uint32_t g = b->remap[i];
        const uint32_t *main = hnsw_links(h, g, 0), *old = hnsw_xlinks(h, g);
        uint32_t oc = old[0], k = oc;
        uint32_t *dst = h->xl + h->xl_words;
        memcpy(dst + 1, old + 1, (size_t)oc * sizeof *dst);
        dst[0] = oc;
        for (uint32_t t = 0; t < bl[0]; t++) {
            uint32_t v = b->remap[bl[1 + t]];
            if (v == g || list_has(main, v) || list_has(dst, v)) continue;
            dst[1 + k++] = v;
            dst[0] = k;
        }
        if (k == oc) continue; /* nothing new: keep the old list */
        h->xoff[g] = h->xl_words;
        h->xl_words += 1 + (uint64_t)k;
        h->xl_live += 1 + (uint64_t)k - (oc ? 1 + (uint64_t)oc : 0);
        if (k > h->xmax) h->xmax = k;
        linked = true;
    }
    if (linked) h->nblocks++;
    if (h->xl_words - h->xl_live > h->xl_live) {
        xl_compact(h);
    } else if (h->xl_cap - h->xl_words > h->xl_words / 8) {
        /* give back the growth slack (10 blocks of 10% on man-lsa: 15.5 ->
         * 9.1 MB); a shrinking realloc stays in place */
        uint32_t *xl = realloc(h->xl, (size_t)h->xl_words * sizeof *xl);
        if (xl) {
            h->xl = xl;
            h->xl_cap = h->xl_words;
        }
    }
    return QV_OK;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Checks a block's ids: in range and distinct (sorted copy in tmp). */
static qv_rc block_check(const qv_hnsw *h, const uint32_t *ids, uint32_t n, uint32_t *tmp,
                         qv_err *err) {
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] >= h->n)
            return qv_fail(err, QV_EBADINPUT, "hnsw: block point %u out of range (%u points)",
                           ids[i], h->n);
    memcpy(tmp, ids, (size_t)n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_u32);
    for (uint32_t i = 1; i < n; i++)
        if (tmp[i] == tmp[i - 1])
            return qv_fail(err, QV_EBADINPUT, "hnsw: point %u twice in one block", tmp[i]);
    return QV_OK;
}

/* The block graph is an ordinary qv_hnsw over positions 0..n-1 of the
 * block, reading the main store through remap (hnsw_row), built by the
 * same code as the main graph (parallel, cancellable, repaired), with the
 * main graph's distance and ef_construct and the block's m.  Its level
 * draws are seeded from the main seed and the block's first id and size,
 * so one-thread builds are deterministic.  Its level 0 is merged into the
 * main graph's extra links (merge_block); the rest is freed. */
qv_rc qv_hnsw_add_subgraph(qv_hnsw *h, const uint32_t *ids, uint32_t n, uint32_t m,
                           unsigned nthreads, const atomic_bool *cancel, qv_err *err) {
    if (h->map) return qv_fail(err, QV_EBADINPUT, "hnsw: a mapped graph takes no new links");
    if (m < 2 || m > QV_HNSW_MAX_M)
        return qv_fail(err, QV_EBADINPUT, "hnsw: payload m must be in 2..%d", QV_HNSW_MAX_M);
    if (n > 0 && !ids) return qv_fail(err, QV_EBADINPUT, "hnsw: no block ids");
    if (build_cancelled(cancel)) return build_fail(err, QV_EUNAVAILABLE);
    uint32_t *remap = malloc(((size_t)n + 1) * sizeof *remap);
    uint32_t *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
    qv_rc rc = remap && tmp ? block_check(h, ids, n, tmp, err)
                            : qv_fail(err, QV_ENOMEM, "hnsw: out of memory for a block");
    qv_hnsw *b = NULL;
    if (!rc && n >= 2) {
        memcpy(remap, ids, (size_t)n * sizeof *remap);
        uint64_t seed = h->seed ^ splitmix64((uint64_t)n << 32 | ids[0]);
        rc = hnsw_alloc(h->dim, h->dist, m, h->ef_construct, seed, &h->store, &b, err);
        if (!rc) {
            b->remap = remap;
            rc = qv_hnsw_build_cancellable(b, n, nthreads, cancel, err);
        }
        if (!rc && build_cancelled(cancel)) rc = build_fail(err, QV_EUNAVAILABLE);
        if (!rc) rc = merge_block(h, b, err);
    }
    qv_hnsw_free(b);
    free(remap);
    free(tmp);
    return rc;
}

uint32_t qv_hnsw_subgraph_max_block(const qv_hnsw *h) {
    if (h->m == 0) return UINT32_MAX;
    uint64_t links = 0;
    for (uint32_t i = 0; i < h->n; i++) links += hnsw_links(h, i, 0)[0];
    uint64_t k = h->n ? links / h->n : 0;
    if (k < 1) k = 1;
    uint64_t lim = (uint64_t)h->n / k * 4;
    return lim > UINT32_MAX ? UINT32_MAX : (uint32_t)lim;
}

uint32_t qv_hnsw_subgraph_count(const qv_hnsw *h) {
    return h->nblocks;
}

/* =========================================================================
 * Query search on level 0: extra links, filtered walks, entry points
 * ========================================================================= */

/* What a query's level-0 walk does with the filter (qv_hnsw_walk). */
typedef struct hnsw_walker {
    qv_hnsw_accept_fn accept; /* NULL: no filter */
    void *actx;
    qv_hnsw_walk walk;
    bool extra;   /* follow the extra links as well as the main ones */
    size_t acorn; /* ACORN: most points scored per expanded point */
} hnsw_walker;

/* The lists a walk follows from node c: its main level-0 list and, if the
 * walk follows them, its extra list.  Returns how many (1 or 2). */
static inline int node_lists(const qv_hnsw *h, const hnsw_walker *w, uint32_t c,
                             const uint32_t *out[2]) {
    out[0] = hnsw_links(h, c, 0);
    if (!w->extra) return 1;
    out[1] = hnsw_xlinks(h, c);
    return 2;
}

/* QV_HNSW_WALK_ALL (and no filter): every unvisited neighbour of c is
 * marked and scored.  Their visited tags are prefetched first.  Extra
 * links are followed out of accepted nodes only (or in a no_main graph,
 * where they are the only ones): a rejected node's extra links lead into
 * its own blocks, which this filter does not ask for (following them cost
 * walk-all searches ~30% more distances on man-lsa with 11 blocks). */
static inline uint32_t gather_all(const qv_hnsw *h, hnsw_scratch *s, const hnsw_walker *w,
                                  uint32_t c) {
    uint16_t *const tags = s->tags, ep = s->epoch;
    uint32_t *const todo = s->todo, nt = 0;
    const uint32_t *lists[2];
    int nl = node_lists(h, w, c, lists);
    if (nl == 2 && h->m > 0 && w->accept && !w->accept(w->actx, c)) nl = 1;
    for (int l = 0; l < nl; l++) {
        const uint32_t *lst = lists[l];
        uint32_t cnt = lst[0];
        for (uint32_t i = 0; i < cnt; i++) __builtin_prefetch(&tags[lst[1 + i]], 1, 3);
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t j = lst[1 + i];
            if (tags[j] != ep) {
                tags[j] = ep;
                todo[nt++] = j;
            }
        }
    }
    return nt;
}

/* QV_HNSW_WALK_ACCEPTED: the unvisited neighbours of c are marked; the ones
 * the filter accepts are scored, the others left alone. */
static inline uint32_t gather_accepted(const qv_hnsw *h, hnsw_scratch *s, const hnsw_walker *w,
                                       uint32_t c) {
    uint16_t *const tags = s->tags, ep = s->epoch;
    uint32_t *const todo = s->todo, nt = 0;
    const uint32_t *lists[2];
    int nl = node_lists(h, w, c, lists);
    for (int l = 0; l < nl; l++) {
        const uint32_t *lst = lists[l];
        uint32_t cnt = lst[0];
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t j = lst[1 + i];
            if (tags[j] == ep) continue;
            tags[j] = ep;
            if (w->accept(w->actx, j)) todo[nt++] = j;
        }
    }
    return nt;
}

/* QV_HNSW_WALK_ACORN (ACORN-1, Patel et al. 2024, as Qdrant runs it): the
 * accepted unvisited neighbours of c are scored; each rejected one is looked
 * through instead, in list order, and its own accepted neighbours are scored
 * too, until w->acorn points are taken.  Tags: epoch marks a node scored or
 * looked through (never again from another node); epoch + 1 a rejected node
 * seen two hops away, whose filter answer is not asked again (it may still
 * be looked through later, as a direct neighbour).  The filter is asked at
 * most once per node and pass. */
static uint32_t gather_acorn(const qv_hnsw *h, hnsw_scratch *s, const hnsw_walker *w, uint32_t c) {
    uint16_t *const tags = s->tags, ep = s->epoch;
    uint32_t *const todo = s->todo, *const hop = s->hop, nt = 0, nh = 0;
    const uint32_t cap = (uint32_t)w->acorn;
    const uint32_t *lists[2];
    int nl = node_lists(h, w, c, lists);
    for (int l = 0; l < nl && nt < cap; l++) {
        const uint32_t *lst = lists[l];
        uint32_t cnt = lst[0];
        for (uint32_t i = 0; i < cnt && nt < cap; i++) {
            uint32_t j = lst[1 + i];
            uint16_t t = tags[j];
            if (t == ep) continue;
            tags[j] = ep;
            if (t != (uint16_t)(ep + 1) && w->accept(w->actx, j))
                todo[nt++] = j;
            else
                hop[nh++] = j;
        }
    }
    /* the lists looked through are cache misses: request them all at once
     * (prefetching their ids' tags as well, list i + 1's while list i is
     * read, made no difference measurable on man-lsa-384) */
    for (uint32_t i = 0; i < nh; i++) {
        __builtin_prefetch(hnsw_links(h, hop[i], 0), 0, 3);
        if (w->extra) __builtin_prefetch(&h->xoff[hop[i]], 0, 3);
    }
    for (uint32_t i = 0; i < nh && nt < cap; i++) {
        nl = node_lists(h, w, hop[i], lists);
        for (int l = 0; l < nl && nt < cap; l++) {
            const uint32_t *lst = lists[l];
            uint32_t cnt = lst[0];
            for (uint32_t t = 0; t < cnt && nt < cap; t++) {
                uint32_t j = lst[1 + t];
                uint16_t g = tags[j];
                if (g == ep || g == (uint16_t)(ep + 1)) continue;
                if (w->accept(w->actx, j)) {
                    tags[j] = ep;
                    todo[nt++] = j;
                } else {
                    tags[j] = (uint16_t)(ep + 1);
                }
            }
        }
    }
    return nt;
}

/* Best-first search on level 0 for a query, as search_layer, with the
 * walker's treatment of rejected points (qv_hnsw_walk) and its extra links.
 * In the restricted walks, expansions walk as QV_HNSW_WALK_ALL while no
 * accepted point has been found.  Returns false when the candidate heap
 * could not grow. */
static bool walk_level0(const qv_hnsw *h, hnsw_scratch *s, const float *q, size_t ef,
                        const hnsw_walker *w) {
    float *const dists = s->dists;
    hnsw_pair *cand = s->cand, *const res = s->res;
    size_t ncand = s->ncand, nres = s->nres;
    const bool restricted = w->accept && w->walk != QV_HNSW_WALK_ALL;
    bool ok = true;
    while (ncand > 0) {
        hnsw_pair c = minheap_pop(cand, &ncand);
        if (nres >= ef && pair_less(res[0], c)) break;
        if (ncand > 0) {
            __builtin_prefetch(hnsw_links(h, cand[0].id, 0), 0, 3);
            if (w->extra) __builtin_prefetch(&h->xoff[cand[0].id], 0, 3);
        }
        /* the points gathered for scoring are all accepted, except in a
         * walk over everything */
        bool all = !restricted || nres == 0;
        uint32_t nt = all                                ? gather_all(h, s, w, c.id)
                      : w->walk == QV_HNSW_WALK_ACCEPTED ? gather_accepted(h, s, w, c.id)
                                                         : gather_acorn(h, s, w, c.id);
        if (nt == 0) continue;
        dist_q(h, s, q, s->todo, nt, dists);
        if (ncand + nt > s->ccand) {
            s->ncand = ncand;
            if (!pairs_reserve(&s->cand, &s->ccand, ncand + nt)) {
                ok = false;
                break;
            }
            cand = s->cand;
        }
        const uint32_t *const todo = s->todo;
        for (uint32_t i = 0; i < nt; i++) {
            hnsw_pair x = {dists[i], todo[i]};
            if (nres >= ef && !pair_less(x, res[0])) continue;
            minheap_push(cand, &ncand, x);
            if (all && w->accept && !w->accept(w->actx, x.id)) continue;
            maxheap_push(res, &nres, x);
            if (nres > ef) maxheap_pop(res, &nres);
        }
    }
    s->ncand = ncand;
    s->nres = nres;
    return ok;
}

/* Adds the caller's entry points to the level-0 seeds (scored in batches
 * of the scratch's width; accepted ones also become results, at most ef). */
static bool seed_entries(const qv_hnsw *h, hnsw_scratch *s, const float *q, size_t ef,
                         const hnsw_walker *w, const uint32_t *entries, size_t nentries) {
    for (size_t i = 0; i < nentries;) {
        uint32_t nt = 0;
        for (; i < nentries && nt < s->ncap; i++) {
            uint32_t e = entries[i];
            if (s->tags[e] == s->epoch) continue;
            s->tags[e] = s->epoch;
            s->todo[nt++] = e;
        }
        if (nt == 0) continue;
        dist_q(h, s, q, s->todo, nt, s->dists);
        if (!pairs_reserve(&s->cand, &s->ccand, s->ncand + nt)) return false;
        for (uint32_t t = 0; t < nt; t++) {
            hnsw_pair x = {s->dists[t], s->todo[t]};
            minheap_push(s->cand, &s->ncand, x);
            if (w->accept && !w->accept(w->actx, x.id)) continue;
            maxheap_push(s->res, &s->nres, x);
            if (s->nres > ef) maxheap_pop(s->res, &s->nres);
        }
    }
    return true;
}

/* The walker of a search with these options (validated by the caller). */
static hnsw_walker walker_of(const qv_hnsw *h, const qv_hnsw_search_opts *o) {
    hnsw_walker w = {.accept = o->accept, .actx = o->accept_ctx, .walk = o->walk};
    w.extra = h->xoff && (o->accept || h->m == 0);
    w.acorn = ncap_of(h);
    return w;
}

static const qv_hnsw_search_opts no_opts;

/* Checks a search's options: QV_OK, or QV_EBADINPUT with a message. */
static qv_rc opts_check(const qv_hnsw *h, const qv_hnsw_search_opts *o, qv_err *err) {
    if ((unsigned)o->walk > QV_HNSW_WALK_ACORN)
        return qv_fail(err, QV_EBADINPUT, "hnsw: unknown walk %d", (int)o->walk);
    if (o->nentries && !o->entries) return qv_fail(err, QV_EBADINPUT, "hnsw: no entry ids");
    for (size_t i = 0; i < o->nentries; i++)
        if (o->entries[i] >= h->n)
            return qv_fail(err, QV_EBADINPUT, "hnsw: entry point %u out of range (%u points)",
                           o->entries[i], h->n);
    return QV_OK;
}

/* Both searches' walk: the descent (main graph), the entry points, level
 * 0.  On return s->res holds the ef best accepted nodes found (a max-heap);
 * false when a heap could not grow. */
static bool search_core(const qv_hnsw *h, hnsw_scratch *s, const float *q, size_t ef,
                        const qv_hnsw_search_opts *o) {
    hnsw_walker w = walker_of(h, o);
    if (h->m > 0) {
        if (!descend(h, s, q, ef, o->accept, o->accept_ctx)) return false;
    } else {
        scratch_begin(s);
    }
    return seed_entries(h, s, q, ef, &w, o->entries, o->nentries) && walk_level0(h, s, q, ef, &w);
}

/* The number of results a search of k with candidate list ef can give:
 * ef is raised to k and capped at the graph's size (*ef updated). */
static size_t search_bounds(const qv_hnsw *h, size_t k, size_t *ef) {
    if (*ef < k) *ef = k;
    if (*ef > h->n) *ef = h->n; /* a larger heap could never fill */
    return k < *ef ? k : *ef;
}

typedef struct scored {
    float score;
    uint32_t id;
    bool higher; /* larger score is better */
} scored;

static int scored_cmp(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return (x->score > y->score) == x->higher ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

qv_rc qv_hnsw_search_with(const qv_hnsw *h, const float *query, size_t k, size_t ef,
                          const qv_hnsw_search_opts *opts, uint32_t *ids, float *scores,
                          size_t *found, qv_err *err) {
    *found = 0;
    if (!opts) opts = &no_opts;
    qv_rc rc = opts_check(h, opts, err);
    if (rc) return rc;
    if (k == 0 || h->entry == HNSW_NONE) return QV_OK;
    k = search_bounds(h, k, &ef);
    hnsw_scratch *s = scratch_take(h, ef);
    if (!s) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for a search");
    if (!search_core(h, s, query, ef, opts)) {
        scratch_put(h, s);
        return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for a search");
    }
    /* the k best by internal distance, rescored as the exact scan scores */
    size_t nr = s->nres;
    heap_sort_max(s->res, nr);
    if (nr > k) nr = k;
    scored best[64], *sc = nr <= 64 ? best : malloc(nr * sizeof *sc);
    if (!sc) {
        scratch_put(h, s);
        return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for a search");
    }
    bool higher = qv_distance_higher_is_better(h->dist);
    for (size_t i = 0; i < nr; i++) {
        uint32_t id = s->res[i].id;
        sc[i] = (scored){qv_score(h->kern, h->dist, query, hnsw_fvec(h, id, s->dec), h->dim), id,
                         higher};
    }
    scratch_put(h, s);
    qsort(sc, nr, sizeof *sc, scored_cmp);
    for (size_t i = 0; i < nr; i++) {
        ids[i] = sc[i].id;
        if (scores) scores[i] = sc[i].score;
    }
    if (sc != best) free(sc);
    *found = nr;
    return QV_OK;
}

qv_rc qv_hnsw_search(const qv_hnsw *h, const float *query, size_t k, size_t ef,
                     qv_hnsw_accept_fn accept, void *accept_ctx, uint32_t *ids, float *scores,
                     size_t *found, qv_err *err) {
    qv_hnsw_search_opts o = {.accept = accept, .accept_ctx = accept_ctx};
    return qv_hnsw_search_with(h, query, k, ef, &o, ids, scores, found, err);
}

qv_rc qv_hnsw_search_scored_with(const qv_hnsw *h, const qv_hnsw_scorer *scorer, size_t k,
                                 size_t ef, const qv_hnsw_search_opts *opts, uint32_t *ids,
                                 float *dists, size_t *found, qv_err *err) {
    *found = 0;
    if (!opts) opts = &no_opts;
    qv_rc rc = opts_check(h, opts, err);
    if (rc) return rc;
    if (k == 0 || h->entry == HNSW_NONE) return QV_OK;
    k = search_bounds(h, k, &ef);
    hnsw_scratch *s = scratch_take(h, ef);
    if (!s) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for a search");
    s->scorer = scorer;
    bool ok = search_core(h, s, NULL, ef, opts);
    size_t nr = s->nres;
    if (ok) {
        heap_sort_max(s->res, nr);
        if (nr > k) nr = k;
        for (size_t i = 0; i < nr; i++) {
            ids[i] = s->res[i].id;
            if (dists) dists[i] = s->res[i].d;
        }
    }
    s->scorer = NULL;
    scratch_put(h, s);
    if (!ok) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory for a search");
    *found = nr;
    return QV_OK;
}

qv_rc qv_hnsw_search_scored(const qv_hnsw *h, const qv_hnsw_scorer *scorer, size_t k, size_t ef,
                            qv_hnsw_accept_fn accept, void *accept_ctx, uint32_t *ids, float *dists,
                            size_t *found, qv_err *err) {
    qv_hnsw_search_opts o = {.accept = accept, .accept_ctx = accept_ctx};
    return qv_hnsw_search_scored_with(h, scorer, k, ef, &o, ids, dists, found, err);
}

/* =========================================================================
 * Public: inspection
 * ========================================================================= */

/* Checks one link list; counts problems into rep, remembers the first. */
static void check_list(const qv_hnsw *h, uint32_t id, int level, qv_hnsw_report *rep, qv_err *first,
                       bool *have_first) {
    const uint32_t *lst = hnsw_links(h, id, level);
    uint32_t cnt = lst[0], cap = level ? h->m : h->m0;
    char what[160] = "";
    if (cnt > cap) {
        rep->over_cap++;
        snprintf(what, sizeof what, "node %u level %d: %u links, capacity %u", id, level, cnt, cap);
        cnt = cap;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t j = lst[1 + i];
        if (j >= h->n || h->levels[j] < level) {
            rep->bad_ids++;
            if (!what[0])
                snprintf(what, sizeof what, "node %u level %d: bad link %u", id, level, j);
        } else if (j == id) {
            rep->self_links++;
            if (!what[0]) snprintf(what, sizeof what, "node %u level %d: self link", id, level);
        }
        for (uint32_t t = 0; t < i; t++)
            if (lst[1 + t] == j) {
                rep->duplicates++;
                if (!what[0])
                    snprintf(what, sizeof what, "node %u level %d: duplicate link %u", id, level,
                             j);
                break;
            }
    }
    if (level == 0) rep->links_level0 += cnt;
    if (what[0] && !*have_first) {
        qv_fail(first, QV_ECORRUPT, "hnsw check: %s", what);
        *have_first = true;
    }
}

/* Checks node id's extra links: ids in range, no self link, none twice.
 * (One the main list also has is only redundant: merge_block leaves such
 * links out, but a repair after more inserts may add them to the main list
 * later.) */
static void check_xlist(const qv_hnsw *h, uint32_t id, qv_hnsw_report *rep, qv_err *first,
                        bool *have_first) {
    const uint32_t *lst = hnsw_xlinks(h, id);
    uint32_t cnt = lst[0];
    char what[160] = "";
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t j = lst[1 + i];
        if (j >= h->n) {
            rep->bad_ids++;
            if (!what[0]) snprintf(what, sizeof what, "node %u: bad extra link %u", id, j);
            continue;
        }
        if (j == id) {
            rep->self_links++;
            if (!what[0]) snprintf(what, sizeof what, "node %u: extra self link", id);
        }
        bool dup = false;
        for (uint32_t t = 0; t < i && !dup; t++) dup = lst[1 + t] == j;
        if (dup) {
            rep->duplicates++;
            if (!what[0]) snprintf(what, sizeof what, "node %u: extra link %u twice", id, j);
        }
    }
    rep->links_extra += cnt;
    rep->nodes_extra += cnt > 0;
    if (what[0] && !*have_first) {
        qv_fail(first, QV_ECORRUPT, "hnsw check: %s", what);
        *have_first = true;
    }
}

/* Nodes not reachable from the entry point on level 0 (UINT64_MAX when out
 * of memory); *first_missing is the smallest such id. */
static uint64_t count_unreachable(const qv_hnsw *h, uint32_t *first_missing) {
    uint8_t *seen = calloc(h->n, 1);
    uint32_t *queue = malloc((size_t)h->n * sizeof *queue);
    if (!seen || !queue) {
        free(seen);
        free(queue);
        return UINT64_MAX;
    }
    uint64_t missing = h->n - reach_from(h, h->entry, seen, queue);
    *first_missing = HNSW_NONE;
    for (uint32_t i = 0; i < h->n && missing; i++)
        if (!seen[i]) {
            *first_missing = i;
            break;
        }
    free(seen);
    free(queue);
    return missing;
}

qv_rc qv_hnsw_check(const qv_hnsw *h, qv_hnsw_report *rep, qv_err *err) {
    qv_hnsw_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    qv_err first = {0};
    bool have_first = false;
    if (h->n == 0) {
        if (h->entry != HNSW_NONE) rep->bad_entry++;
    } else if (h->entry >= h->n || h->levels[h->entry] != h->max_level) {
        rep->bad_entry++;
    }
    if (rep->bad_entry) {
        qv_fail(&first, QV_ECORRUPT, "hnsw check: bad entry point");
        have_first = true;
    }
    for (uint32_t id = 0; id < h->n; id++) {
        int lv = h->levels[id];
        if (lv > h->max_level) {
            rep->bad_entry++;
            if (!have_first) {
                qv_fail(&first, QV_ECORRUPT, "hnsw check: node %u above the top level", id);
                have_first = true;
            }
        }
        if (lv > 0) rep->nodes_upper++;
        for (int l = 0; l <= lv; l++) check_list(h, id, l, rep, &first, &have_first);
        if (h->xoff) check_xlist(h, id, rep, &first, &have_first);
    }
    if (h->n > 0 && !rep->bad_entry && h->m > 0) {
        uint32_t miss;
        uint64_t un = count_unreachable(h, &miss);
        if (un == UINT64_MAX) return qv_fail(err, QV_ENOMEM, "hnsw check: out of memory");
        rep->unreachable = un;
        if (un && !have_first) {
            qv_fail(&first, QV_ECORRUPT, "hnsw check: %llu nodes unreachable on level 0 (e.g. %u)",
                    (unsigned long long)un, miss);
            have_first = true;
        }
    }
    if (!have_first) return QV_OK;
    if (err) *err = first;
    return QV_ECORRUPT;
}

uint32_t qv_hnsw_size(const qv_hnsw *h) {
    return h->n;
}

size_t qv_hnsw_dim(const qv_hnsw *h) {
    return h->dim;
}

qv_distance qv_hnsw_distance(const qv_hnsw *h) {
    return h->dist;
}

qv_hnsw_params qv_hnsw_get_params(const qv_hnsw *h) {
    return (qv_hnsw_params){
        .m = h->m, .ef_construct = h->ef_construct, .seed = h->seed, .no_main = h->m == 0};
}

int qv_hnsw_max_level(const qv_hnsw *h) {
    return h->max_level;
}

uint32_t qv_hnsw_entry(const qv_hnsw *h) {
    return h->entry;
}

size_t qv_hnsw_memory(const qv_hnsw *h) {
    size_t b = (size_t)h->cap * (h->slot0 * sizeof(uint32_t) + 1 + sizeof(uint32_t *));
    for (uint32_t i = 0; i < h->n; i++) b += (size_t)h->levels[i] * h->slotu * sizeof(uint32_t);
    if (h->xoff) b += (size_t)h->cap * sizeof *h->xoff + (size_t)h->xl_cap * sizeof *h->xl;
    return b;
}
