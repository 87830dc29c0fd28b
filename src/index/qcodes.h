/*
 * qcodes.h - the quantized codes of one segment's vectors (one named
 * vector), built once when an immutable segment is made and scored in
 * place of the float vectors where a query allows it.
 *
 * Kinds: scalar int8 (core/quant.h: one range per segment from the
 * configured quantile, a code byte per dimension and a float correction per
 * vector), binary one-bit (a sign bit per dimension) and product (the
 * dimensions cut into subspaces of `sub` = 1, 2, 4, 8 or 16 dimensions for
 * Qdrant's compression x4 ... x64; per subspace 256 centroids trained by
 * k-means on a sample of the segment, a code byte per subspace; a query is
 * scored by summing per-subspace tables of its partial scores) and turbo
 * (TurboQuant-style: the vector, scaled to unit length, goes through a
 * fixed random rotation - random signs, then a Walsh-Hadamard transform of
 * the dimension padded to a power of two P - after which every coordinate
 * times sqrt(P) is close to a standard normal, and is coded with the
 * Lloyd-Max quantizer of N(0,1): 1 bit (8 coordinates a byte), 1.5 bits
 * (3 levels, 5 coordinates a byte), 2 bits (4 a byte) or 4 bits (2 a byte);
 * the norm is kept per vector.  The query stays in float: its rotated
 * coordinates make one table of 256 partial dot products per code byte,
 * and an estimate is the sum of one lookup per byte, times the norm,
 * divided by the quantizer's shrink factor E[c(Z) Z] so it is unbiased.
 * Euclid uses |x|^2 + |q|^2 - 2 x.q; Manhattan has no turbo codes).  Scores are
 * estimates in core/distance.h's convention (Cosine/Dot: the dot product,
 * larger is better; Euclid: the L2 distance and Manhattan: the L1
 * distance, smaller is better), so a caller ranks them like exact scores
 * and rescoring with the float vectors gives exact scores back.  For binary
 * codes the estimate is a ranking score only: (dim - 2 * hamming) / dim for
 * Cosine/Dot and the Hamming distance for Euclid/Manhattan.
 *
 * File (written next to the segment's vectors, see optimizer.c):
 *   0  8  magic "QVQCODES"
 *   8  4  format version (1)
 *   12 4  kind (1 = scalar int8, 2 = binary one-bit)
 *   16 4  dim
 *   20 4  distance (core/distance.h)
 *   24 8  number of vectors n
 *   32 4  sq_offset (float, scalar) or 0
 *   36 4  sq_alpha (float, scalar) or 0
 *   40 4  quantile the range was estimated with (float, scalar) or 0
 *   44 4  product: dimensions per subspace (sub); turbo: the bits (0 = 1,
 *         1 = 1.5, 2 = 2, 3 = 4); else 0
 *   48 .. n codes of code_bytes each, then (scalar) n float corrections,
 *         (product) the codebooks: per subspace 256 centroids of its width,
 *         (turbo) n float norms
 *   end-4 4 CRC-32C of every byte before it
 * The loader checks magic, version, kind, dim, distance, n, the exact size
 * and the CRC, and that alpha is finite and positive.
 *
 * Threads: built by one thread; afterwards read-only (any number of
 * concurrent scorers, each with its own qv_qquery).
 */
#ifndef QV_INDEX_QCODES_H
#define QV_INDEX_QCODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/distance.h"
#include "core/err.h"
#include "core/quant.h"

typedef enum qv_qcodes_kind {
    QV_QCODES_SCALAR = 1,
    QV_QCODES_BINARY = 2,
    QV_QCODES_PRODUCT = 3,
    QV_QCODES_TURBO = 4,
} qv_qcodes_kind;

typedef struct qv_qcodes {
    qv_qcodes_kind kind;
    qv_distance dist;
    uint32_t dim, n;
    size_t code_bytes; /* bytes per vector's code */
    qv_sq_params sq;   /* scalar */
    float quantile;    /* scalar: what sq was estimated with */
    uint32_t sub;      /* product: dimensions per subspace (the last may be narrower) */
    float *books;      /* product: code_bytes subspaces x 256 centroids x sub floats */
    uint32_t tbits;    /* turbo: 0 = 1 bit, 1 = 1.5 bits, 2 = 2 bits, 3 = 4 bits */
    uint32_t pdim;     /* turbo: the rotated dimension (power of two >= dim) */
    float *norms;      /* turbo: n vector norms */
    uint8_t *codes;    /* n * code_bytes (binary: 64-bit words) */
    float *corr;       /* scalar: n corrections */
    const qv_quant_kernels *k;
} qv_qcodes;

/* Codes of n vectors of dim floats at rows + i * dim (a row of zeros for a
 * missing vector is fine).  param: scalar: the quantile, in [0.5, 1];
 * product: the dimensions per subspace (1, 2, 4, 8 or 16); turbo: the bits
 * (0 = 1, 1 = 1.5, 2 = 2, 3 = 4; not for Manhattan); binary: unused.
 * Product training is deterministic (evenly spaced sample, fixed
 * initialisation, a fixed number of k-means rounds). */
qv_rc qv_qcodes_build(qv_qcodes_kind kind, qv_distance dist, const float *rows, uint32_t n,
                      uint32_t dim, float param, qv_qcodes **out, qv_err *err);
void qv_qcodes_free(qv_qcodes *q);

qv_rc qv_qcodes_save(const qv_qcodes *q, const char *path, qv_err *err);
/* Loads codes for a segment of n vectors of dim with distance dist. */
qv_rc qv_qcodes_load(const char *path, uint32_t n, uint32_t dim, qv_distance dist, qv_qcodes **out,
                     qv_err *err);

/* A query prepared for scoring against codes (its own code). */
typedef struct qv_qquery {
    const qv_qcodes *q;
    uint8_t *code; /* code_bytes, 8-byte aligned */
    float corr;
    float *table; /* product, turbo: code_bytes x 256 partial scores */
    float qnorm2; /* turbo: |query|^2 */
} qv_qquery;

/* Encodes query (dim floats, already normalised for Cosine). */
qv_rc qv_qquery_init(qv_qquery *qq, const qv_qcodes *q, const float *query, qv_err *err);
void qv_qquery_free(qv_qquery *qq);

/* The estimated score of vector id (see above for the convention). */
float qv_qquery_score(const qv_qquery *qq, uint32_t id);

/* Distances for a graph search (index/hnsw.h's qv_hnsw_scorer): for each
 * ids[i], a value that orders points as the estimate does, smaller closer
 * (the negated estimate for Cosine/Dot, the squared L2 estimate, the L1
 * estimate, the Hamming distance for binary codes). */
void qv_qquery_dist_many(void *qq, const uint32_t *ids, size_t n, float *out);

/* Bytes the codes occupy in memory. */
size_t qv_qcodes_memory(const qv_qcodes *q);

#endif
