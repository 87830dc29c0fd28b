/*
 * arena.h - bump allocator for request-scoped and document-scoped memory.
 *
 * A parsed JSON request, a decoded operation and a stored payload document
 * each live in one arena and are released together with qv_arena_free().
 * Allocation is a pointer bump inside a chunk; chunks grow geometrically.
 * Nothing is freed individually.  An arena is not thread-safe: it belongs to
 * one request or one immutable document.
 */
#ifndef QV_CORE_ARENA_H
#define QV_CORE_ARENA_H

#include <stddef.h>

typedef struct qv_arena_chunk qv_arena_chunk;

typedef struct qv_arena {
    qv_arena_chunk *head; /* current chunk (newest first) */
    size_t used;          /* bytes used in head */
    size_t cap;           /* bytes available in head */
    size_t total;         /* bytes handed out over the arena's life */
    size_t first;         /* size of the first chunk (0 = the default 4 KiB) */
} qv_arena;

/* An empty arena; allocates nothing until the first qv_arena_alloc. */
void qv_arena_init(qv_arena *a);

/* An empty arena whose first chunk holds exactly `bytes` (as counted by
 * qv_arena_need); for documents whose size is known in advance, so that a
 * small stored payload does not pin a 4 KiB chunk. */
void qv_arena_init_cap(qv_arena *a, size_t bytes);

/* What qv_arena_alloc(n) consumes of a chunk (n rounded up to 16). */
static inline size_t qv_arena_need(size_t n) {
    return n == 0 ? 16 : (n + 15u) & ~(size_t)15u;
}

/* Frees every chunk; the arena is empty again and may be reused. */
void qv_arena_free(qv_arena *a);

/* Returns n bytes aligned to 16, or NULL when memory is exhausted.
 * The memory is uninitialised and stays valid until qv_arena_free. */
void *qv_arena_alloc(qv_arena *a, size_t n);

/* As qv_arena_alloc, zero-filled. */
void *qv_arena_calloc(qv_arena *a, size_t n);

/* Copies n bytes into the arena and appends a NUL (returns NULL on OOM). */
char *qv_arena_strndup(qv_arena *a, const char *s, size_t n);

#endif
