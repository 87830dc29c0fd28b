/*
 * pool.c - worker threads for data-parallel loops (see pool.h).
 *
 * A loop is a `job` on the caller's stack: an atomic counter hands out
 * indices, another counts finished calls.  Jobs wait in a FIFO list under
 * the pool mutex; a worker takes the oldest job that still has indices and
 * keeps pulling indices from it.  The caller pulls indices from its own
 * job too, then waits on its condition variable until every call is done
 * and no worker still references the job (`users` drops to zero), since
 * the job lives on the caller's stack.
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct job {
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    atomic_size_t next; /* next index to hand out */
    size_t done;        /* calls finished (under the pool mutex) */
    unsigned users;     /* workers holding a pointer (under the mutex) */
    struct job *link;   /* FIFO of jobs with indices left */
    pthread_cond_t finished;
} job;

struct qv_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;
    job *head, *tail;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
};

/* Unlinks j from the FIFO (it has no indices left). Caller holds mu. */
static void unlink_job(qv_pool *p, job *j) {
    job **pp = &p->head, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->link;
    }
    if (!*pp) return;
    *pp = j->link;
    if (p->tail == j) p->tail = prev;
    j->link = NULL;
}

/* Runs indices of j until none are left; returns how many it ran. */
static size_t drain(job *j) {
    size_t ran = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) return ran;
        j->fn(j->ctx, i);
        ran++;
    }
}

static void *worker(void *arg) {
    qv_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && !p->head) pthread_cond_wait(&p->work, &p->mu);
        if (p->stopping) break;
        job *j = p->head;
        j->users++;
        pthread_mutex_unlock(&p->mu);
        size_t ran = drain(j);
        pthread_mutex_lock(&p->mu);
        unlink_job(p, j); /* drained: no index left for anyone */
        j->done += ran;
        j->users--;
        if (j->done == j->n && j->users == 0) pthread_cond_signal(&j->finished);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

qv_pool *qv_pool_new(unsigned nthreads) {
    if (nthreads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 1 ? (unsigned)(n - 1) : 0;
    }
    qv_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    p->threads = calloc(nthreads ? nthreads : 1, sizeof(pthread_t));
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) break;
        p->nthreads++;
    }
    return p;
}

void qv_pool_free(qv_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    free(p->threads);
    free(p);
}

unsigned qv_pool_width(const qv_pool *p) {
    return p ? p->nthreads + 1 : 1;
}

void qv_pool_run(qv_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx) {
    if (!p || p->nthreads == 0 || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    job j = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&j.next, 0);
    pthread_cond_init(&j.finished, NULL);
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->link = &j;
    else
        p->head = &j;
    p->tail = &j;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    size_t ran = drain(&j);
    pthread_mutex_lock(&p->mu);
    unlink_job(p, &j);
    j.done += ran;
    while (j.done < j.n || j.users > 0) pthread_cond_wait(&j.finished, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&j.finished);
}

static qv_pool *search_pool;
static pthread_once_t search_once = PTHREAD_ONCE_INIT;

static void search_init(void) {
    search_pool = qv_pool_new(0);
}

qv_pool *qv_pool_search(void) {
    pthread_once(&search_once, search_init);
    return search_pool;
}

void qv_pool_search_shutdown(void) {
    qv_pool_free(search_pool);
    search_pool = NULL;
}
