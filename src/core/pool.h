/*
 * pool.h - a fixed pool of worker threads for data-parallel loops.
 *
 * qv_pool_run(pool, n, fn, ctx) calls fn(ctx, i) for every i in [0, n),
 * spread over the pool's workers and the calling thread, and returns when
 * all calls have finished.  It is meant for splitting one request's scan
 * over the cores (exact search), so the caller's locks stay held while the
 * workers read: the caller blocks until they are done.
 *
 * Several callers may run loops at once; their tasks share the workers in
 * FIFO order, and each caller also works on its own loop, so a loop always
 * makes progress even when every worker is busy with someone else's.
 */
#ifndef QV_CORE_POOL_H
#define QV_CORE_POOL_H

#include <stddef.h>

typedef struct qv_pool qv_pool;

/* A pool of nthreads workers (0 = one per online CPU, minus the caller's). */
qv_pool *qv_pool_new(unsigned nthreads);

/* Stops and joins the workers; no loop may be running. NULL is a no-op. */
void qv_pool_free(qv_pool *p);

/* Number of threads a loop may use (workers + the caller). */
unsigned qv_pool_width(const qv_pool *p);

/* Runs fn(ctx, i) for i < n as described above.  p may be NULL: then the
 * caller runs every call itself. */
void qv_pool_run(qv_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/* The process-wide pool for search, created on first use. */
qv_pool *qv_pool_search(void);

/* Joins the search pool's threads at process exit (no search may run). */
void qv_pool_search_shutdown(void);

#endif
