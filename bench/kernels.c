/*
 * kernels.c - micro-benchmark of the distance kernel tables.
 *
 * For every table this CPU can run, times dot and l2sq of one query against
 * each vector of a buffer, dot_multi / l2sq_multi with 8 and 16 queries (one
 * call per stored vector) and dot_block / l2sq_block with 1, 8 and 16
 * queries (one call per QV_KERNEL_BLOCK_NV stored vectors), at dims 384 and
 * 1536.  Two buffers: 100k vectors (streams from DRAM, so it
 * measures bandwidth) and ~256 KiB (stays in L2, so it measures arithmetic).
 * Prints GFLOP/s (dot counts 2 flops per element, l2sq 3, times the queries)
 * and GB/s of stored vectors read.  Best of several passes, timed in
 * thread CPU time, so time slices lost to other processes on a busy machine
 * do not count (their competition for caches and memory still does).
 *
 * The block cases pass the next block as the kernels' prefetch hint while
 * scoring this one, as the search scan does; BENCH_PREFETCH=0 turns that
 * off.
 *
 * Not a test and not built by `make`; it checks no results (the unit test
 * does).  Build and run:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc bench/kernels.c \
 *       src/core/distance*.c -o /tmp/bench_kernels -lm && /tmp/bench_kernels [table]
 */
#include "core/distance.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NQ      16 /* most queries timed */
#define BENCH_BIG     100000u
#define BENCH_SMALL_B (256u * 1024u)
#define BENCH_PASSES  5

static bool bench_prefetch;       /* pass the next block as the prefetch hint */
static volatile float bench_sink; /* keeps the compiler from dropping the work */

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

typedef enum { OP_SINGLE, OP_MULTI, OP_BLOCK } bench_kind;

typedef struct {
    const char *name;
    bench_kind kind;
    bool l2; /* l2sq rather than dot */
    size_t nq;
} bench_op;

static const bench_op bench_ops[] = {
    {"dot", OP_SINGLE, false, 1},         {"l2sq", OP_SINGLE, true, 1},
    {"dot_block1", OP_BLOCK, false, 1},   {"dot_multi8", OP_MULTI, false, 8},
    {"dot_block8", OP_BLOCK, false, 8},   {"dot_multi16", OP_MULTI, false, 16},
    {"dot_block16", OP_BLOCK, false, 16}, {"l2sq_multi8", OP_MULTI, true, 8},
    {"l2sq_block8", OP_BLOCK, true, 8},   {"l2sq_block16", OP_BLOCK, true, 16},
};

/* One pass over the buffer. */
static void bench_pass(const bench_case *c, const bench_op *op) {
    float acc = 0.0f, out[BENCH_NQ * QV_KERNEL_BLOCK_NV];
    size_t step = op->kind == OP_BLOCK ? QV_KERNEL_BLOCK_NV : 1;
    for (size_t i = 0; i < c->n; i += step) {
        const float *v = c->base + i * c->dim;
        switch (op->kind) {
        case OP_SINGLE:
            acc += (op->l2 ? c->k->l2sq : c->k->dot)(c->qs[0], v, c->dim);
            break;
        case OP_MULTI:
            (op->l2 ? c->k->l2sq_multi : c->k->dot_multi)(c->qs, op->nq, v, c->dim, out);
            acc += out[0];
            break;
        case OP_BLOCK: {
            size_t nv = c->n - i < QV_KERNEL_BLOCK_NV ? c->n - i : QV_KERNEL_BLOCK_NV;
            const float *vs[QV_KERNEL_BLOCK_NV], *pf[QV_KERNEL_BLOCK_NV];
            for (size_t j = 0; j < nv; j++) vs[j] = v + j * c->dim;
            /* What a scan does: fetch the next block while this one runs. */
            size_t npf = 0;
            if (bench_prefetch && i + 2 * QV_KERNEL_BLOCK_NV <= c->n)
                for (; npf < QV_KERNEL_BLOCK_NV; npf++)
                    pf[npf] = v + (QV_KERNEL_BLOCK_NV + npf) * c->dim;
            (op->l2 ? c->k->l2sq_block : c->k->dot_block)(c->qs, op->nq, vs, nv, c->dim, out, nv,
                                                          pf, npf);
            acc += out[0];
            break;
        }
        }
    }
    bench_sink = acc;
}

static void bench_one(const bench_case *c, const bench_op *op, const char *where) {
    double flops = (op->l2 ? 3.0 : 2.0) * (double)op->nq;
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
           op->name, elems * flops / best * 1e-9, elems * 4.0 / best * 1e-9);
}

int main(int argc, char **argv) {
    static const char *const tables[] = {"scalar", "avx2", "avx512", "neon"};
    static const size_t dims[] = {384, 1536};
    bench_prefetch = !getenv("BENCH_PREFETCH") || atoi(getenv("BENCH_PREFETCH")) != 0;
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
            if (!k || (argc > 1 && strcmp(argv[1], tables[t]) != 0)) continue;
            bench_case big = {k, base, qs, BENCH_BIG, dim};
            bench_case small = {k, base, qs, BENCH_SMALL_B / (dim * sizeof(float)), dim};
            size_t nops = sizeof bench_ops / sizeof bench_ops[0];
            for (size_t op = 0; op < nops; op++) bench_one(&big, &bench_ops[op], "dram");
            for (size_t op = 0; op < nops; op++) bench_one(&small, &bench_ops[op], "l2");
        }
        free(base);
        free(qbuf);
    }
    return 0;
}
