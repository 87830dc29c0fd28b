/*
 * distance.h - vector distance kernels, one implementation per ISA.
 *
 * Every kernel has a scalar reference (distance_scalar.c) and SIMD versions
 * in one file per instruction set (distance_avx2.c: AVX2+FMA,
 * distance_avx512.c: AVX-512F, distance_neon.c: arm64 NEON).  SIMD files use
 * function-level target attributes, so the whole tree builds with one set of
 * flags and a binary runs on any x86-64; qv_kernels_init() picks the best
 * table once at start-up from the CPU's features (overridable with the
 * environment variable QUIVER_KERNELS=scalar|avx2|avx512|neon, for tests and
 * benchmarks).
 *
 * Scores follow Qdrant: Cosine and Dot are dot products of the stored
 * (Cosine: pre-normalised) vectors, larger is better; Euclid is the real L2
 * distance sqrt(sum (a-b)^2) and Manhattan sum |a-b|, smaller is better.
 *
 * Kernels accept any dimension >= 1 and unaligned pointers.  The block
 * kernels score a few stored vectors against up to QV_KERNEL_MAX_BATCH
 * queries at once (register tiles of queries x vectors, so each chunk loaded
 * serves several products) and prefetch what the caller names next: exact
 * search scans with them, one query or a batch sharing the memory traffic
 * of one pass.  The multi-query kernels (one stored vector against nq
 * queries) are the simpler form of the same, kept for callers with one
 * vector at a time.
 */
#ifndef QV_CORE_DISTANCE_H
#define QV_CORE_DISTANCE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum qv_distance {
    QV_DIST_COSINE = 0,
    QV_DIST_EUCLID,
    QV_DIST_DOT,
    QV_DIST_MANHATTAN,
} qv_distance;

/* Most queries a multi-query kernel takes at once. */
#define QV_KERNEL_MAX_BATCH 16

/* Most stored vectors a block kernel takes at once. */
#define QV_KERNEL_BLOCK_NV 4

typedef struct qv_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    float (*dot)(const float *a, const float *b, size_t dim);
    float (*l2sq)(const float *a, const float *b, size_t dim); /* sum (a-b)^2 */
    float (*l1)(const float *a, const float *b, size_t dim);   /* sum |a-b| */
    /* out[q] = dot(queries[q], v) for q < nq (nq <= QV_KERNEL_MAX_BATCH) */
    void (*dot_multi)(const float *const *queries, size_t nq, const float *v, size_t dim,
                      float *out);
    void (*l2sq_multi)(const float *const *queries, size_t nq, const float *v, size_t dim,
                       float *out);
    void (*l1_multi)(const float *const *queries, size_t nq, const float *v, size_t dim,
                     float *out);
    /* Block kernels, GEMM micro-kernel style: out[q * ldo + j] =
     * op(queries[q], vs[j]) for q < nq (nq <= QV_KERNEL_MAX_BATCH) and
     * j < nv (1 <= nv <= QV_KERNEL_BLOCK_NV, nv <= ldo); out is nq rows of
     * ldo floats (row-major by query), of which the first nv are written.
     * Each stored vector chunk is loaded once per tile of queries, which is
     * what lets a batched scan run at memory speed.  A result depends only
     * on its query and stored vector, not on nq, nv or the other vectors,
     * so every batch composition gives the same scores.  pf[0..npf) (npf <=
     * QV_KERNEL_BLOCK_NV, pf may be NULL when npf is 0) are vectors of dim
     * floats the caller will need next: the kernel prefetches them, spread
     * over its arithmetic (a hint only; the scalar table ignores it). */
    void (*dot_block)(const float *const *queries, size_t nq, const float *const *vs, size_t nv,
                      size_t dim, float *out, size_t ldo, const float *const *pf, size_t npf);
    void (*l2sq_block)(const float *const *queries, size_t nq, const float *const *vs, size_t nv,
                       size_t dim, float *out, size_t ldo, const float *const *pf, size_t npf);
    void (*l1_block)(const float *const *queries, size_t nq, const float *const *vs, size_t nv,
                     size_t dim, float *out, size_t ldo, const float *const *pf, size_t npf);
} qv_kernels;

/* Chooses the kernel table for this CPU (idempotent, thread-safe). */
void qv_kernels_init(void);

/* The table chosen by qv_kernels_init (which it calls if needed). */
const qv_kernels *qv_kernels_best(void);

/* A specific table, or NULL if this CPU/build cannot run it.  name is one of
 * "scalar", "avx2", "avx512", "neon". */
const qv_kernels *qv_kernels_by_name(const char *name);

/* Score of stored vector v against query q for a distance (see above). */
float qv_score(const qv_kernels *k, qv_distance d, const float *q, const float *v, size_t dim);

/* True when larger scores are better (Cosine, Dot). */
static inline bool qv_distance_higher_is_better(qv_distance d) {
    return d == QV_DIST_COSINE || d == QV_DIST_DOT;
}

/* Normalises v in place to unit L2 length (Cosine at insert); a vector whose
 * norm is below FLT_EPSILON is left as it is, as Qdrant does. */
void qv_normalize(float *v, size_t dim);

/* Qdrant's names: "Cosine", "Euclid", "Dot", "Manhattan".  Parse returns
 * false for anything else (the match is exact, as serde's is). */
const char *qv_distance_name(qv_distance d);
bool qv_distance_parse(const char *s, qv_distance *out);

#endif
