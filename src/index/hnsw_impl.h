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
    uint32_t m, m0, ef_construct;
    uint64_t seed;
    double level_mult; /* 1 / ln(m) */
    qv_hnsw_store store;
    const qv_kernels *kern;
    uint32_t slot0; /* words per level-0 slot: 1 (count) + m0 ids */
    uint32_t slotu; /* words per upper-level slot: 1 + m */

    /* ---- the graph (changed only by insert/build/load) ---- */
    uint32_t n;         /* points inserted: ids 0..n-1 */
    uint32_t cap;       /* room in l0, levels and upper */
    uint32_t *l0;       /* cap * slot0 words: [count, id...] per node */
    uint8_t *levels;    /* cap levels */
    uint32_t **upper;   /* cap pointers: levels[i] slots of slotu words, or NULL */
    qv_arena upper_mem; /* owns every upper[] block */
    uint32_t entry;     /* entry point, HNSW_NONE when empty */
    int max_level;      /* levels[entry], -1 when empty */
    /* a graph loaded through a mapping of its file (qv_hnsw_load_placed):
     * levels, l0 and the upper blocks point into it, read-only; NULL when
     * the graph is on the heap */
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

/* An empty index with the given (validated) parameters and no store; used
 * by qv_hnsw_new and the loader. */
qv_rc hnsw_alloc(size_t dim, qv_distance dist, uint32_t m, uint32_t ef_construct, uint64_t seed,
                 const qv_hnsw_store *store, qv_hnsw **out, qv_err *err);

/* Grows l0/levels/upper to cap entries (zeroed). */
qv_rc hnsw_grow(qv_hnsw *h, uint32_t cap, qv_err *err);

#endif
