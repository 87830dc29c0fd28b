/*
 * membw.c - read bandwidth of this machine: T threads sum disjoint parts of
 * a 1 GiB (or MEMBW_BYTES) array of float32 (first touched by the same threads), best of
 * several passes.  Prints one JSON line with GB/s for 1 thread and for
 * nproc threads (or the counts given as arguments).
 *
 *   cc -O3 -march=native -pthread bench/membw.c -o bench/out/membw
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 1 GiB unless MEMBW_BYTES says otherwise (e.g. a dataset's own size,
 * which a large last-level cache may hold) */
static size_t BYTES = (size_t)1 << 30;
#define PASSES 6

static float *g_a;
static size_t g_n;

typedef struct {
    size_t lo, hi;
    int init;
    double sum;
} part_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run(void *arg) {
    part_t *p = arg;
    if (p->init) {
        for (size_t i = p->lo; i < p->hi; i++) g_a[i] = (float)(i & 1023) * 0.001f;
        return NULL;
    }
    /* 8 independent accumulators of 16 lanes: the compiler vectorises this */
    float acc[8][16];
    memset(acc, 0, sizeof acc);
    size_t i = p->lo;
    for (; i + 128 <= p->hi; i += 128)
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 16; k++) acc[j][k] += g_a[i + (size_t)j * 16 + (size_t)k];
    double s = 0;
    for (; i < p->hi; i++) s += g_a[i];
    for (int j = 0; j < 8; j++)
        for (int k = 0; k < 16; k++) s += acc[j][k];
    p->sum = s;
    return NULL;
}

static double pass(int t, int init) {
    pthread_t th[64];
    part_t pt[64];
    size_t per = g_n / (size_t)t;
    double t0 = now();
    for (int i = 0; i < t; i++) {
        pt[i].lo = (size_t)i * per;
        pt[i].hi = i + 1 == t ? g_n : (size_t)(i + 1) * per;
        pt[i].init = init;
        pthread_create(&th[i], NULL, run, &pt[i]);
    }
    double s = 0;
    for (int i = 0; i < t; i++) {
        pthread_join(th[i], NULL);
        s += pt[i].sum;
    }
    double el = now() - t0;
    if (s == 12345.678) puts("");
    return el;
}

int main(int argc, char **argv) {
    int counts[8], nc = 0;
    for (int i = 1; i < argc && nc < 8; i++) counts[nc++] = atoi(argv[i]);
    if (!nc) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        counts[nc++] = 1;
        if (np > 1) counts[nc++] = (int)(np > 64 ? 64 : np);
    }
    if (getenv("MEMBW_BYTES")) BYTES = (strtoull(getenv("MEMBW_BYTES"), NULL, 10) + 63) / 64 * 64;
    g_n = BYTES / sizeof(float);
    g_a = aligned_alloc(64, BYTES);
    if (!g_a) return 1;
    int maxt = 1;
    for (int i = 0; i < nc; i++)
        if (counts[i] > maxt) maxt = counts[i];
    pass(maxt, 1);
    printf("{\"bytes\":%zu", BYTES);
    for (int c = 0; c < nc; c++) {
        double best = 1e9;
        for (int r = 0; r < PASSES; r++) {
            double el = pass(counts[c], 0);
            if (el < best) best = el;
        }
        printf(",\"gbps_%dt\":%.2f", counts[c], (double)BYTES / best / 1e9);
    }
    printf("}\n");
    return 0;
}
