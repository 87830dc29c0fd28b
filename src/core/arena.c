/*
 * arena.c - bump allocator (see arena.h).
 *
 * Chunks start at 4 KiB and double up to 1 MiB; a request larger than the
 * next chunk size gets a chunk of its own, so a 12 MB vector batch costs one
 * malloc rather than thousands.
 */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct qv_arena_chunk {
    qv_arena_chunk *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

#define ARENA_MIN_CHUNK 4096u
#define ARENA_MAX_CHUNK (1u << 20)

void qv_arena_init(qv_arena *a) {
    memset(a, 0, sizeof *a);
}

void qv_arena_init_cap(qv_arena *a, size_t bytes) {
    qv_arena_init(a);
    a->first = bytes;
}

void qv_arena_free(qv_arena *a) {
    qv_arena_chunk *c = a->head;
    while (c) {
        qv_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    size_t first = a->first;
    qv_arena_init(a);
    a->first = first;
}

void *qv_arena_alloc(qv_arena *a, size_t n) {
    n = qv_arena_need(n);
    if (!a->head || a->cap - a->used < n) {
        size_t want = a->head ? a->head->size * 2 : a->first ? a->first : ARENA_MIN_CHUNK;
        if (want > ARENA_MAX_CHUNK) want = ARENA_MAX_CHUNK;
        if (want < n) want = n;
        if (want > SIZE_MAX - sizeof(qv_arena_chunk)) return NULL;
        qv_arena_chunk *c = malloc(sizeof(qv_arena_chunk) + want);
        if (!c) return NULL;
        c->size = want;
        c->next = a->head;
        a->head = c;
        a->used = 0;
        a->cap = want;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    a->total += n;
    return p;
}

void *qv_arena_calloc(qv_arena *a, size_t n) {
    void *p = qv_arena_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *qv_arena_strndup(qv_arena *a, const char *s, size_t n) {
    char *p = qv_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
