/*
 * distance.c - kernel dispatch, scores, normalisation and distance names
 * (see distance.h).
 *
 * The table is picked once, under pthread_once, from what the CPU reports
 * (__builtin_cpu_supports on x86, which also checks that the OS saves the
 * wider registers; NEON is baseline on arm64).  QUIVER_KERNELS names a table
 * to use instead; when that table does not exist or cannot run here the best
 * one is used silently, because the override is a testing and benchmarking
 * aid and a server must never fail to start over it.
 *
 * It deliberately holds no arithmetic of its own beyond qv_normalize: every
 * score goes through a table, so the SIMD tests cover what search uses.
 */
#include "core/distance.h"
#include "core/distance_impl.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t dist_once = PTHREAD_ONCE_INIT;
static const qv_kernels *dist_best;

/* Whether this CPU can execute table k (all tables built here exist). */
static bool dist_runnable(const qv_kernels *k) {
#if defined(QV_DISTANCE_X86)
    __builtin_cpu_init();
    if (k == &qv_kernels_avx512) return __builtin_cpu_supports("avx512f");
    if (k == &qv_kernels_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return true;
}

/* The table called name in this build, runnable or not. */
static const qv_kernels *dist_lookup(const char *name) {
    static const qv_kernels *const all[] = {
        &qv_kernels_scalar,
#if defined(QV_DISTANCE_X86)
        &qv_kernels_avx2,
        &qv_kernels_avx512,
#endif
#if defined(QV_DISTANCE_NEON)
        &qv_kernels_neon,
#endif
    };
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}

/* Fastest first; the first runnable one wins. */
static const qv_kernels *dist_autodetect(void) {
    static const char *const order[] = {"avx512", "avx2", "neon"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const qv_kernels *k = qv_kernels_by_name(order[i]);
        if (k) return k;
    }
    return &qv_kernels_scalar;
}

static void dist_init_once(void) {
    const qv_kernels *k = qv_kernels_by_name(getenv("QUIVER_KERNELS"));
    dist_best = k ? k : dist_autodetect();
}

void qv_kernels_init(void) {
    pthread_once(&dist_once, dist_init_once);
}

const qv_kernels *qv_kernels_best(void) {
    qv_kernels_init();
    return dist_best;
}

const qv_kernels *qv_kernels_by_name(const char *name) {
    const qv_kernels *k = dist_lookup(name);
    return k && dist_runnable(k) ? k : NULL;
}

float qv_score(const qv_kernels *k, qv_distance d, const float *q, const float *v, size_t dim) {
    switch (d) {
    case QV_DIST_COSINE: /* stored vectors are normalised at insert */
    case QV_DIST_DOT:
        return k->dot(q, v, dim);
    case QV_DIST_EUCLID:
        return sqrtf(k->l2sq(q, v, dim));
    case QV_DIST_MANHATTAN:
        return k->l1(q, v, dim);
    }
    return NAN; /* not a qv_distance: poison rather than a plausible score */
}

void qv_normalize(float *v, size_t dim) {
    /* Sum of squares in float with the SIMD dot kernel (as Qdrant's
     * preprocessing sums with SIMD accumulators on CPUs that have them),
     * then sqrtf and a per-component divide.  A sequential sum cost more
     * than a tenth of a 1536-d upsert over gRPC. */
    float sq = qv_kernels_best()->dot(v, v, dim);
    float norm = sqrtf(sq);
    if (norm < FLT_EPSILON) return;
    for (size_t i = 0; i < dim; i++) v[i] /= norm;
}

static const char *const dist_names[] = {
    [QV_DIST_COSINE] = "Cosine",
    [QV_DIST_EUCLID] = "Euclid",
    [QV_DIST_DOT] = "Dot",
    [QV_DIST_MANHATTAN] = "Manhattan",
};

const char *qv_distance_name(qv_distance d) {
    if ((unsigned)d >= sizeof dist_names / sizeof dist_names[0]) return NULL;
    return dist_names[d];
}

bool qv_distance_parse(const char *s, qv_distance *out) {
    if (!s) return false;
    for (size_t i = 0; i < sizeof dist_names / sizeof dist_names[0]; i++) {
        if (strcmp(dist_names[i], s) == 0) {
            *out = (qv_distance)i;
            return true;
        }
    }
    return false;
}
