/*
 * hnsw_impl.h - the HNSW index's private structure, shared by hnsw.c (graph,
 * build, search, check) and hnsw_io.c (the file format).  Nothing outside
 * src/index/hnsw*.c includes it; see the design comment in hnsw.c.
 */
#ifndef QV_INDEX_HNSW_IMPL_H
#define QV_INDEX_HNSW_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "core/arena.h"
#include "index/hnsw.h"

/* "No node": the entry point of an empty graph. */
#define HNSW_NONE UINT32_MAX

/* Link lists are guarded by striped mutexes during a parallel build: node
 * id uses hnsw_stripes[id % HNSW_STRIPES]. */
#define HNSW_STRIPES 1024

typedef struct hnsw_scratch hnsw_scratch;

struct qv_hnsw {
    /* ---- fixed at creation ---- */
    size_t dim;
    qv_distance dist;
    uint32_t m, m0, ef_construct; /* m = m0 = 0: a no_main graph */
    uint64_t seed;
    double level_mult; /* 1 / ln(m); 0 for a no_main graph (every level is 0) */
    qv_hnsw_store store;
    const qv_kernels *kern;
    uint32_t slot0; /* words per level-0 slot: 1 (count) + m0 ids */
    uint32_t slotu; /* words per upper-level slot: 1 + m */
    /* a block graph under construction (qv_hnsw_add_subgraph): its id i is
     * the main graph's point remap[i], whose row the store holds; NULL in
     * every other graph */
    const uint32_t *remap;

    /* ---- the graph (changed only by insert/build/load) ---- */
    uint32_t n;         /* points inserted: ids 0..n-1 */
    uint32_t cap;       /* room in l0, levels and upper */
    uint32_t *l0;       /* cap * slot0 words: [count, id...] per node */
    uint8_t *levels;    /* cap levels */
    uint32_t **upper;   /* cap pointers: levels[i] slots of slotu words, or NULL */
    qv_arena upper_mem; /* owns every upper[] block */
    uint32_t entry;     /* entry point, HNSW_NONE when empty */
    int max_level;      /* levels[entry], -1 when empty */
    /* extra level-0 links (qv_hnsw_add_subgraph), NULL/0 until the first
     * block: node i's list is xl + xoff[i], [count, ids...]; xl[0] is the
     * shared empty list (count 0) every node without extra links points
     * at.  Lists are replaced by appending (the old one becomes garbage,
     * xl_live counts the words still in use; compacted when garbage
     * outgrows them); saved compacted, in id order. */
    uint64_t *xoff; /* cap entries (zero: no extra links) */
    uint32_t *xl;   /* xl_words words used of xl_cap */
    uint64_t xl_words, xl_cap, xl_live;
    uint32_t xmax;    /* longest extra list (sizes the search scratch) */
    uint32_t nblocks; /* qv_hnsw_add_subgraph calls that linked something */
    /* a graph loaded through a mapping of its file (qv_hnsw_load_placed):
     * levels, l0, the upper blocks, xoff and xl point into it, read-only;
     * NULL when the graph is on the heap */
    void *map;
    size_t map_len;

    /* ---- synchronisation ---- */
    pthread_mutex_t entry_lock;   /* entry, max_level during a parallel build */
    pthread_mutex_t scratch_lock; /* scratch_free */
    hnsw_scratch *scratch_free;   /* idle per-search scratch, a stack */
    pthread_mutex_t stripes[HNSW_STRIPES];
};

/* Link list of node id on level (0 or 1..levels[id]): [count, ids...]. */
static inline uint32_t *hnsw_links(const qv_hnsw *h, uint32_t id, int level) {
    if (level == 0) return h->l0 + (size_t)id * h->slot0;
    return h->upper[id] + (size_t)(level - 1) * h->slotu;
}

/* Extra links of node id: [count, ids...] (the shared empty list when it
 * has none); only when h->xoff is set. */
static inline const uint32_t *hnsw_xlinks(const qv_hnsw *h, uint32_t id) {
    return h->xl + h->xoff[id];
}

/* An empty index with the given (validated) parameters and no store; used
 * by qv_hnsw_new and the loader (m = 0: a no_main graph). */
qv_rc hnsw_alloc(size_t dim, qv_distance dist, uint32_t m, uint32_t ef_construct, uint64_t seed,
                 const qv_hnsw_store *store, qv_hnsw **out, qv_err *err);

/* Grows l0/levels/upper (and xoff, if any) to cap entries (zeroed). */
qv_rc hnsw_grow(qv_hnsw *h, uint32_t cap, qv_err *err);

#endif
