/*
 * quant.h - quantized vector codes and their integer kernels.
 *
 * Two code families, both built from float vectors and both cheap to score
 * with integer SIMD; neither is wired into search yet (this file gives the
 * codes and the kernels, the segment and query layers come later).
 *
 * Scalar int8 (Qdrant's `scalar` quantization, type int8).  One range per
 * collection (or named vector): the central `quantile` fraction of the
 * values of a sample, [lo, hi], mapped linearly onto the 256 levels of a
 * byte.  With offset = lo and alpha = (hi - lo) / 255,
 *
 *     code_i = clamp(round((x_i - offset) / alpha), 0, 255)
 *     x_i   ~= offset + alpha * code_i
 *
 * so a dot product expands to
 *
 *     x.y ~= alpha^2 * sum(cx_i * cy_i)
 *            + [alpha * offset * sum(cx_i) + dim * offset^2 / 2]
 *            + [alpha * offset * sum(cy_i) + dim * offset^2 / 2]
 *
 * where the bracketed terms depend on one vector only: each code carries
 * its bracket as a float "correction", computed once at encode time, and a
 * score is one exact integer dot product plus a multiply and two adds.
 * Squared L2 and L1 need no correction (the offset cancels): alpha^2 times
 * the integer sum of squared code differences, and alpha times the sum of
 * absolute code differences.  Values outside [lo, hi] clamp; that is the
 * point of the quantile (a few outliers would otherwise stretch alpha for
 * everyone).
 *
 * Binary (Qdrant's `binary` quantization, one_bit).  Bit i of a code is set
 * when x_i > 0; codes are arrays of uint64_t words, bit i in word i / 64 at
 * position i % 64, unused high bits of the last word zero.  Two codes are
 * compared by the Hamming distance (popcount of the XOR); as a ranking
 * score for Dot/Cosine the estimate is dim - 2 * hamming, which is the dot
 * product of the two vectors' sign vectors (+1/-1).
 *
 * Bit planes (asymmetric binary scoring, index/qcodes.h's scalar4bits and
 * scalar8bits query encodings).  A query quantized to B bits per bit
 * position is stored as B planes shaped like a code, plane p holding bit p
 * of every position's level k_j; bits_xor_planes sums popcount(code XOR
 * plane p) << p, which is sum_j (code bit j ? 2^B - 1 - k_j : k_j), i.e.
 * (2^B - 1) times the L1 distance between the code's bits and the levels
 * scaled to [0, 1] - B popcounts per word instead of extracting bits.
 *
 * Kernels.  Every integer kernel has a scalar reference (quant_scalar.c)
 * and SIMD versions per instruction set (quant_avx2.c, quant_avx512.c with
 * AVX-512BW + VNNI + VPOPCNTDQ, quant_neon.c), dispatched once at start-up
 * like the float kernels of distance.h and overridden by the same
 * environment variable, QUIVER_KERNELS=scalar|avx2|avx512|neon.  The
 * integer results are exact, so every table returns exactly what the
 * scalar one does; the unit test checks equality, not a tolerance.
 *
 * Dimensions are limited to QV_QUANT_MAX_DIM (Qdrant's limit), which keeps
 * every integer sum within uint32_t (65536 * 255 * 255 < 2^32).
 */
#ifndef QV_CORE_QUANT_H
#define QV_CORE_QUANT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest dimension the codes and kernels accept. */
#define QV_QUANT_MAX_DIM 65536

/* Qdrant's default `quantile` for scalar quantization. */
#define QV_SQ_DEFAULT_QUANTILE 0.99f

/* Most values qv_sq_estimate_range looks at (whole vectors, evenly
 * spaced over the input, at least one vector). */
#define QV_SQ_SAMPLE_VALUES (1u << 18)

/* ---- integer kernels, one table per instruction set ----------------------- */

typedef struct qv_quant_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    /* sum a_i * b_i over dim bytes (exact). */
    uint32_t (*u8_dot)(const uint8_t *a, const uint8_t *b, size_t dim);
    /* sum (a_i - b_i)^2 (exact). */
    uint32_t (*u8_l2sq)(const uint8_t *a, const uint8_t *b, size_t dim);
    /* sum |a_i - b_i| (exact). */
    uint32_t (*u8_l1)(const uint8_t *a, const uint8_t *b, size_t dim);
    /* Number of differing bits over nwords 64-bit words. */
    uint32_t (*bits_hamming)(const uint64_t *a, const uint64_t *b, size_t nwords);
    /* Bit-plane score of a bit code against a query of nplanes (1..8) bit
     * planes, plane p at planes + p * nwords: sum over p of
     * popcount(code XOR plane p) << p (exact).  With the query's value
     * k_i = sum_p bit i of plane p << p, this is sum_i (code bit i ?
     * (2^nplanes - 1) - k_i : k_i). */
    uint32_t (*bits_xor_planes)(const uint64_t *code, const uint64_t *planes, size_t nwords,
                                unsigned nplanes);
} qv_quant_kernels;

/* The table for this CPU, chosen once (thread-safe; honours
 * QUIVER_KERNELS like qv_kernels_best). */
const qv_quant_kernels *qv_quant_kernels_best(void);

/* A specific table, or NULL if this CPU/build cannot run it.  name is one
 * of "scalar", "avx2", "avx512", "neon". */
const qv_quant_kernels *qv_quant_kernels_by_name(const char *name);

/* ---- scalar int8 codes ---------------------------------------------------- */

/* The range of one collection's codes: x ~= sq_offset + sq_alpha * code. */
typedef struct qv_sq_params {
    float sq_offset; /* value of code 0 (the low quantile) */
    float sq_alpha;  /* step between codes, > 0 */
    uint32_t sq_dim; /* dimension of the vectors */
} qv_sq_params;

/* Estimates the range from n vectors of dim floats stored one after the
 * other (vecs[j * dim + i]).  quantile in (0.5, 1] is the central fraction
 * of the sampled values that the 256 levels cover (1 = min..max); values
 * that are not finite are ignored.  The result depends only on the input
 * (no randomness): the sample is up to QV_SQ_SAMPLE_VALUES values of evenly
 * spaced vectors.  A range of zero width (all values equal) gets alpha 1.
 * Fails with QV_EBADINPUT for n or dim of 0, dim above QV_QUANT_MAX_DIM, a
 * quantile out of range or no finite value; QV_ENOMEM on allocation. */
qv_rc qv_sq_estimate_range(const float *vecs, size_t n, size_t dim, float quantile,
                           qv_sq_params *out, qv_err *err);

/* Encodes one vector of p->sq_dim floats into p->sq_dim codes and returns
 * its correction term (see above); NaN encodes as code 0. */
float qv_sq_encode(const qv_sq_params *p, const float *x, uint8_t *codes);

/* The correction of an existing code (what qv_sq_encode returned). */
float qv_sq_correction(const qv_sq_params *p, const uint8_t *codes);

/* Decodes codes back to floats: x_i = offset + alpha * code_i. */
void qv_sq_decode(const qv_sq_params *p, const uint8_t *codes, float *x);

/* Estimated dot product of the vectors behind two codes. */
float qv_sq_dot(const qv_quant_kernels *k, const qv_sq_params *p, const uint8_t *a, float corr_a,
                const uint8_t *b, float corr_b);

/* Estimated squared L2 distance and L1 distance (no corrections needed). */
float qv_sq_l2sq(const qv_quant_kernels *k, const qv_sq_params *p, const uint8_t *a,
                 const uint8_t *b);
float qv_sq_l1(const qv_quant_kernels *k, const qv_sq_params *p, const uint8_t *a,
               const uint8_t *b);

/* ---- binary codes --------------------------------------------------------- */

/* 64-bit words in the binary code of a dim-dimensional vector. */
static inline size_t qv_bq_words(size_t dim) {
    return (dim + 63) / 64;
}

/* Writes the qv_bq_words(dim) words of x's code (bit set when x_i > 0). */
void qv_bq_encode(const float *x, size_t dim, uint64_t *code);

/* Number of dimensions where the two codes agree. */
uint32_t qv_bq_matching(const qv_quant_kernels *k, const uint64_t *a, const uint64_t *b,
                        size_t dim);

/* The ranking score for Dot/Cosine: dim - 2 * hamming, the dot product of
 * the two sign vectors; larger is better.  Dividing by dim gives a value in
 * [-1, 1] comparable across dimensions (which is what this returns when
 * scaled is true). */
float qv_bq_dot(const qv_quant_kernels *k, const uint64_t *a, const uint64_t *b, size_t dim,
                bool scaled);

#endif
