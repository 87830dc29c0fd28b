/*
 * kernels.c - micro-benchmark of the distance kernel tables.
 *
 * For every table this CPU can run, times dot and l2sq of one query against
 * each vector of a buffer, and dot_multi / l2sq_multi with 8 queries, at
 * dims 384 and 1536.  Two buffers: 100k vectors (streams from DRAM, so it
 * measures bandwidth) and ~256 KiB (stays in L2, so it measures arithmetic).
 * Prints GFLOP/s (dot counts 2 flops per element, l2sq 3, times the queries)
 * and GB/s of stored vectors read.  Best of several passes.
 *
 * Not a test and not built by `make`; it checks no results (the unit test
 * does).  Build and run:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc bench/kernels.c \
 *       src/core/distance*.c -o /tmp/bench_kernels -lm && /tmp/bench_kernels
 */
#include "core/distance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_NQ      8
#define BENCH_BIG     100000u
#define BENCH_SMALL_B (256u * 1024u)
#define BENCH_PASSES  5

static volatile float bench_sink; /* keeps the compiler from dropping the work */

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Uniform in [0, 1]; the values do not matter for speed. */
static float bench_rand(void) {
    return (float)((double)rand() / RAND_MAX);
}

typedef struct {
    const qv_kernels *k;
    const float *base, *const *qs;
    size_t n, dim;
} bench_case;

/* One pass over the buffer: 0 = dot, 1 = l2sq, 2 = dot_multi, 3 = l2sq_multi. */
static void bench_pass(const bench_case *c, int op) {
    float acc = 0.0f, out[BENCH_NQ];
    for (size_t i = 0; i < c->n; i++) {
        const float *v = c->base + i * c->dim;
        switch (op) {
        case 0:
            acc += c->k->dot(c->qs[0], v, c->dim);
            break;
        case 1:
            acc += c->k->l2sq(c->qs[0], v, c->dim);
            break;
        case 2:
            c->k->dot_multi(c->qs, BENCH_NQ, v, c->dim, out), acc += out[0];
            break;
        default:
            c->k->l2sq_multi(c->qs, BENCH_NQ, v, c->dim, out), acc += out[0];
            break;
        }
    }
    bench_sink = acc;
}

static void bench_one(const bench_case *c, int op, const char *where) {
    static const char *const names[] = {"dot", "l2sq", "dot_multi8", "l2sq_multi8"};
    static const double flops[] = {2, 3, 2 * BENCH_NQ, 3 * BENCH_NQ};
    size_t reps = c->n >= BENCH_BIG ? 1 : (BENCH_BIG * 4) / c->n; /* small: ~same work */
    double best = 1e30;
    for (int p = 0; p < BENCH_PASSES; p++) {
        double t0 = bench_now();
        for (size_t r = 0; r < reps; r++) bench_pass(c, op);
        double t = (bench_now() - t0) / (double)reps;
        if (t < best) best = t;
    }
    double elems = (double)c->n * (double)c->dim;
    printf("%-7s %-5s dim %4zu %-12s %7.1f GFLOP/s %7.1f GB/s\n", c->k->name, where, c->dim,
           names[op], elems * flops[op] / best * 1e-9, elems * 4.0 / best * 1e-9);
}

int main(void) {
    static const char *const tables[] = {"scalar", "avx2", "avx512", "neon"};
    static const size_t dims[] = {384, 1536};
    srand(1);
    for (size_t d = 0; d < 2; d++) {
        size_t dim = dims[d];
        float *base = malloc((size_t)BENCH_BIG * dim * sizeof(float));
        float *qbuf = malloc(BENCH_NQ * dim * sizeof(float));
        const float *qs[BENCH_NQ];
        if (!base || !qbuf) return 1;
        for (size_t i = 0; i < (size_t)BENCH_BIG * dim; i++) base[i] = bench_rand();
        for (size_t i = 0; i < BENCH_NQ * dim; i++) qbuf[i] = bench_rand();
        for (size_t q = 0; q < BENCH_NQ; q++) qs[q] = qbuf + q * dim;
        for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
            const qv_kernels *k = qv_kernels_by_name(tables[t]);
            if (!k) continue;
            bench_case big = {k, base, qs, BENCH_BIG, dim};
            bench_case small = {k, base, qs, BENCH_SMALL_B / (dim * sizeof(float)), dim};
            for (int op = 0; op < 4; op++) bench_one(&big, op, "dram");
            for (int op = 0; op < 4; op++) bench_one(&small, op, "l2");
        }
        free(base);
        free(qbuf);
    }
    return 0;
}
