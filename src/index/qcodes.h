/*
 * qcodes.h - the quantized codes of one segment's vectors (one named
 * vector), built once when an immutable segment is made and scored in
 * place of the float vectors where a query allows it.
 *
 * Kinds: scalar int8 (core/quant.h: a code byte per dimension, with one
 * range per segment or a range per dimension, see below), binary (one, one
 * and a half or two bits per dimension, see below) and product (the
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
 * Euclid uses |x|^2 + |q|^2 - 2 x.q; Manhattan has no turbo codes).  Scores
 * are estimates in core/distance.h's convention (Cosine/Dot: the dot
 * product, larger is better; Euclid: the L2 distance and Manhattan: the L1
 * distance, smaller is better), so a caller ranks them like exact scores
 * and rescoring with the float vectors gives exact scores back.  For binary
 * codes the estimate is a ranking score only: with X the code distance
 * below, (dim - 2 X) / dim for Cosine/Dot and X for Euclid/Manhattan.
 *
 * Scalar ranges.  Global (format version 1's only kind): one [offset,
 * alpha] from the configured quantile of a sample of all values, a float
 * correction per vector, symmetric scoring (the query coded like a vector,
 * core/quant.h's kernels).  Per dimension: dimension i has its own offset
 * o_i and scale s_i from the configured quantile of that dimension's values
 * (at most 8192 evenly spaced vectors), x_i ~ o_i + s_i c_i.  Scoring is
 * asymmetric: w_i = s_i q_i is coded with the query's own range, w_i ~ lo +
 * a k_i (8 bits), so x^.q = sum o_i q_i + lo sum c_i + a (c . k): a
 * per-query constant, the vector's sum of codes (its stored float) and the
 * same u8 dot kernel.  Euclid keeps |x^|^2 per vector (x^ the decoded
 * vector) and estimates |x^|^2 - 2 x^.q + |q|^2 (its signed square root: an
 * estimate below zero, near duplicates and the query's rounding, stays
 * negative so such points keep their order); Cosine/Dot keep (|x|^2 -
 * |x^|^2) / 2 and estimate x^.q + that, i.e. (|x|^2 + |q|^2 - |x^ - q|^2)
 * / 2, exact at q = x, which gives back what clipping took from a vector in
 * its own direction.  Manhattan: sum |o_i + s_i c_i - q_i| in float (no
 * integer kernel takes per-dimension weights), so Manhattan defaults to the
 * global range.  Errors: half a step s_i / 2 per dimension inside the range
 * plus a / 2 times the sum of codes for the query's code (unit tests check
 * both bounds).  Measured recall@10 after rescoring the best 10 x
 * oversampling estimates (a one-off program over this header, not in the
 * tree: full scan, exact float rescoring; man-lsa-384's own Cosine ground
 * truth, brute force elsewhere):
 *                                      1x     2x     3x     5x
 *   man-lsa-384 (100k x 384, 300 queries), quantile 0.99:
 *     Cosine    global               0.726  0.853  0.885  0.906
 *     Cosine    per dimension        0.902  0.989  0.993  0.997
 *     Euclid    global               0.592  0.726  0.772  0.819
 *     Euclid    per dimension        0.902  0.989  0.994  0.997
 *     Manhattan global               0.806  0.923  0.953  0.974
 *     Manhattan per dimension        0.932  0.999  1.000  1.000
 *   man-lsa-384, quantile 1.0:
 *     Cosine    global               0.935  0.973  0.980  0.986
 *     Cosine    per dimension        0.968  0.993  0.996  0.997
 *     Euclid    global               0.958  0.992  0.996  0.999
 *     Euclid    per dimension        0.969  0.993  0.996  0.997
 *   uniform [-1, 1], 20k x 128, 300 queries, quantile 0.99: global and
 *     per dimension within 0.003 of each other for every distance (0.984
 *     .. 0.988 at 1x, 1.000 from 2x);
 *   clusters, per-dimension spreads e^-2.5 .. e^2.5, offset 0.3, 20k x 128:
 *     Dot       global               0.698  0.896  0.955  0.992
 *     Dot       per dimension        0.980  1.000  1.000  1.000
 *     Euclid    global               0.774  0.979  0.996  1.000
 *     Euclid    per dimension        0.957  1.000  1.000  1.000
 *     Manhattan global               0.839  0.993  1.000  1.000
 *     Manhattan per dimension        0.973  1.000  1.000  1.000
 * (before the (|x|^2 - |x^|^2) / 2 term, per-dimension Cosine on
 * man-lsa-384 was 0.937 / 0.958 at 2x / 3x).  Cost of a graph-walk
 * distance (qv_qquery_dist_many, dim 384, 50k codes, shared 2-core AVX-512
 * machine, noisy): 85 .. 125 ns global or per dimension for Cosine and
 * Euclid, 100 ns global and 980 ns per dimension for Manhattan (the float
 * loop).  So new segments get per-dimension ranges for Cosine, Dot and
 * Euclid and keep the global range for Manhattan (optimizer.c; per
 * dimension there is an option of qv_qcodes_build_opts); segments with
 * global ranges keep them (both load, and the ranges are not
 * configuration, so no rebuild).
 *
 * Binary encodings (Qdrant's `encoding`).  one_bit: bit i = x_i > 0.
 * two_bits: from the z-score z = (x_i - mean_i) / sd_i against the
 * segment's per-dimension mean and (population) standard deviation: 00 for
 * z <= -2/3, 10 for -2/3 < z < 2/3, 11 for z >= 2/3 (a dimension with sd
 * below FLT_EPSILON: the sign bit, then 0), so data need not be
 * zero-centred.  one_and_half_bits: the first bits as for two bits, and one
 * second bit per pair of dimensions, the OR of their second bits (Qdrant's
 * packing: dim + ceil(dim / 2) bits).  A code is 64-bit words: the first
 * bits (bit i in word i / 64) in bq_w1 = ceil(dim / 64) words, then the
 * second bits in ceil(dim / 64) (two bits) or ceil(dim / 128) (one and a
 * half) words; unused bits are 0.
 *
 * Binary query encodings (Qdrant's `query_encoding`).  default (Qdrant's
 * default: the same as binary) and binary: the query is encoded like the
 * stored vectors and X is the Hamming distance over all the words.
 * scalar4bits / scalar8bits: every bit position of the code gets a query
 * value (first bits: v_i; second bits: v_i for two bits, max(v_2j,
 * v_2j+1) for one and a half), quantized over [-max|v|, max|v|] to L = 15
 * or 255 levels; the levels' bits are laid out as L's bit planes shaped
 * like the code, and X = sum over planes p of popcount(code XOR plane p)
 * << p, divided by L: the sum over positions of |code bit - level / L|
 * (quant.h's bits_xor_planes kernel; ranking by it is ranking by sum of
 * set bits x value).  v_i = q_i for one bit; with statistics v_i = (q_i -
 * mean_i) sd_i, the query's deviation weighted so that sum level x v
 * follows the part of the dot product that varies between stored vectors
 * (Qdrant quantizes q_i itself; on non-centred data that ranked worse than
 * one bit: recall 0.68 against 0.72 for Cosine in the test below, 0.77
 * with the weighting).  Measured recall@10 after rescoring with 4x
 * oversampling, tests/unit/test_qcodes.c (3000 x 64, 40 clusters, every
 * dimension offset by 0.2 .. 1.0):
 *                         query:  binary  scalar4  scalar8
 *   Cosine one_bit                0.623   0.715    0.713
 *          two_bits               0.812   0.772    0.777
 *          one_and_half_bits      0.805   0.720    0.723
 *   Dot    one_bit                0.440   0.547    0.545
 *          two_bits               0.605   0.695    0.695
 *          one_and_half_bits      0.623   0.665    0.655
 *   Euclid one_bit                0.618   0.715    0.708
 *          two_bits               0.800   0.738    0.743
 *          one_and_half_bits      0.762   0.695    0.693
 * The graph walk's distance (qv_qquery_dist_many) is X.
 *
 * File (written next to the segment's vectors, see optimizer.c), format
 * version 2; version 1 files (written by older releases) still load:
 *   0  8  magic "QVQCODES"
 *   8  4  format version (2; 1 has the 48-byte header without 48..63)
 *   12 4  kind (1 = scalar int8, 2 = binary, 3 = product, 4 = turbo)
 *   16 4  dim
 *   20 4  distance (core/distance.h)
 *   24 8  number of vectors n
 *   32 4  sq_offset (float, scalar with global ranges) or 0
 *   36 4  sq_alpha (float, scalar with global ranges) or 0
 *   40 4  quantile the ranges were estimated with (float, scalar) or 0
 *   44 4  product: dimensions per subspace (sub); turbo: the bits (0 = 1,
 *         1 = 1.5, 2 = 2, 3 = 4); else 0
 *   48 4  binary: the encoding (0 one_bit, 1 two_bits, 2 one_and_half_bits)
 *   52 4  binary: the query encoding as configured (0 default, 1 binary,
 *         2 scalar4bits, 3 scalar8bits)
 *   56 4  scalar: the ranges (0 global, 1 per dimension)
 *   60 4  0 (reserved)
 *   64 .. n codes of code_bytes each, then float arrays: (scalar) n
 *         corrections (per dimension: n sums of codes), (scalar per
 *         dimension, not Manhattan) n corr2, (scalar per dimension) dim
 *         offsets then dim scales, (binary two / one and a half bits) dim
 *         means then dim deviations, (product) the codebooks: per subspace
 *         256 centroids of its width, (turbo) n float norms
 *   end-4 4 CRC-32C of every byte before it
 * Version 1 is the same with the body at 48, binary one_bit, global ranges.
 * The loader checks magic, version (1 or 2), kind, dim, distance, n, every
 * option field (in range for its kind, 0 for other kinds and reserved), the
 * exact size and the CRC, then the values: global alpha finite and
 * positive (0 and 0 with per-dimension ranges), quantile in [0.5, 1],
 * per-dimension offsets finite and scales positive, sums of codes within
 * [0, 255 dim], corr2 finite (Euclid: not negative), binary statistics
 * finite with deviations not negative, codebooks and norms finite.
 *
 * Placement: built codes are on the heap; loaded codes are on the heap or
 * served from a read-only mapping of their file, cold or cached
 * (qv_qcodes_load_placed; optimizer.c picks from the collection's `memory`
 * settings).
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

/* Binary storage encodings (the numbers of collection/quant_config.h's
 * qv_bq_encoding and of Qdrant's gRPC enum). */
typedef enum qv_qcodes_bq_encoding {
    QV_QCODES_BQ_ONE_BIT = 0,
    QV_QCODES_BQ_TWO_BITS = 1,
    QV_QCODES_BQ_ONE_AND_HALF_BITS = 2,
} qv_qcodes_bq_encoding;

/* Binary query encodings (the numbers of qv_bq_query_encoding). */
typedef enum qv_qcodes_bq_query {
    QV_QCODES_BQ_QUERY_DEFAULT = 0, /* Qdrant's default: as the stored vectors (binary) */
    QV_QCODES_BQ_QUERY_BINARY = 1,
    QV_QCODES_BQ_QUERY_SCALAR4 = 2,
    QV_QCODES_BQ_QUERY_SCALAR8 = 3,
} qv_qcodes_bq_query;

/* Scalar ranges. */
typedef enum qv_qcodes_sq_ranges {
    QV_QCODES_SQ_GLOBAL = 0,  /* one [offset, alpha] for every dimension */
    QV_QCODES_SQ_PER_DIM = 1, /* an offset and a scale per dimension */
} qv_qcodes_sq_ranges;

/* What a build is asked for besides kind and distance. */
typedef struct qv_qcodes_opts {
    float param;         /* as qv_qcodes_build's param */
    uint8_t bq_encoding; /* binary: qv_qcodes_bq_encoding */
    uint8_t bq_query;    /* binary: qv_qcodes_bq_query */
    uint8_t sq_ranges;   /* scalar: qv_qcodes_sq_ranges */
} qv_qcodes_opts;

typedef struct qv_qcodes {
    qv_qcodes_kind kind;
    qv_distance dist;
    uint32_t dim, n;
    size_t code_bytes;  /* bytes per vector's code */
    qv_sq_params sq;    /* scalar, global ranges */
    float quantile;     /* scalar: what the ranges were estimated with */
    uint32_t sq_ranges; /* scalar: qv_qcodes_sq_ranges */
    float *sq_dimp;     /* scalar per dimension: dim offsets, then dim scales */
    float *corr2;       /* scalar per dimension but Manhattan: n floats, Euclid: |x^|^2,
                           Cosine/Dot: (|x|^2 - |x^|^2) / 2 (see above) */
    uint32_t bq_enc;    /* binary: qv_qcodes_bq_encoding */
    uint32_t bq_query;  /* binary: qv_qcodes_bq_query as configured */
    uint32_t bq_w1;     /* binary: 64-bit words of the first bit plane (dim bits) */
    float *bq_stats;    /* binary two / one and a half bits: dim means, then dim deviations */
    uint32_t sub;       /* product: dimensions per subspace (the last may be narrower) */
    float *books;       /* product: code_bytes subspaces x 256 centroids x sub floats */
    uint32_t tbits;     /* turbo: 0 = 1 bit, 1 = 1.5 bits, 2 = 2 bits, 3 = 4 bits */
    uint32_t pdim;      /* turbo: the rotated dimension (power of two >= dim) */
    float *norms;       /* turbo: n vector norms */
    uint8_t *codes;     /* n * code_bytes (binary: 64-bit words); read-only when mapped */
    float *corr;        /* scalar: n corrections (per dimension: n sums of codes) */
    const qv_quant_kernels *k;
    void *map;      /* loaded mapped (qv_qcodes_load_placed): the file's read-only
                       mapping, codes point into it; NULL = codes on the heap */
    size_t map_len; /* bytes mapped */
} qv_qcodes;

/* Codes of n vectors of dim floats at rows + i * dim (a row of zeros for a
 * missing vector is fine).  param: scalar: the quantile, in (0.5, 1];
 * product: the dimensions per subspace (1, 2, 4, 8 or 16); turbo: the bits
 * (0 = 1, 1 = 1.5, 2 = 2, 3 = 4; not for Manhattan); binary: unused.
 * Product training is deterministic (evenly spaced sample, fixed
 * initialisation, a fixed number of k-means rounds). */
qv_rc qv_qcodes_build(qv_qcodes_kind kind, qv_distance dist, const float *rows, uint32_t n,
                      uint32_t dim, float param, qv_qcodes **out, qv_err *err);
/* The same with the options (qv_qcodes_build is this with opts->param =
 * param and every other option 0: one_bit binary codes with the default
 * query, global scalar ranges).  Options out of range fail with
 * QV_EBADINPUT; other kinds ignore the binary and scalar options. */
qv_rc qv_qcodes_build_opts(qv_qcodes_kind kind, qv_distance dist, const float *rows, uint32_t n,
                           uint32_t dim, const qv_qcodes_opts *opts, qv_qcodes **out, qv_err *err);
void qv_qcodes_free(qv_qcodes *q);

qv_rc qv_qcodes_save(const qv_qcodes *q, const char *path, qv_err *err);
/* Loads codes for a segment of n vectors of dim with distance dist (into
 * heap memory: qv_qcodes_load_placed with QV_QCODES_HEAP). */
qv_rc qv_qcodes_load(const char *path, uint32_t n, uint32_t dim, qv_distance dist, qv_qcodes **out,
                     qv_err *err);

/* Where loaded codes live (Qdrant's Memory placement of quantized vectors):
 * HEAP ("pinned": copied into process memory), MAP_COLD (a read-only shared
 * mapping of the file, paged in on use) or MAP_CACHED (the same mapping,
 * populated at load: pre-loaded, but evictable like any page cache).  Only
 * the codes are mapped; the small float arrays after them are always
 * copied.  Every placement validates the same things (the list above, CRC
 * included); a mapped load then drops the pages the check touched from the
 * process (cold) or keeps them (cached). */
typedef enum qv_qcodes_place {
    QV_QCODES_HEAP = 0,
    QV_QCODES_MAP_COLD = 1,
    QV_QCODES_MAP_CACHED = 2,
} qv_qcodes_place;
qv_rc qv_qcodes_load_placed(const char *path, uint32_t n, uint32_t dim, qv_distance dist,
                            qv_qcodes_place place, qv_qcodes **out, qv_err *err);
/* Re-advises mapped codes for placement cold (dropped from the process,
 * paged in on use) or cached (populated now); a no-op for heap codes. */
void qv_qcodes_advise(qv_qcodes *q, bool cached);

/* A query prepared for scoring against codes (its own code). */
typedef struct qv_qquery {
    const qv_qcodes *q;
    uint8_t *code; /* code_bytes (binary scalar query: nplanes x code_bytes), 64-byte aligned */
    float corr;    /* scalar: the query's correction (per dimension: sum offset_i q_i) */
    float *table;  /* product, turbo: code_bytes x 256 partial scores; scalar per
                      dimension, Manhattan: the query */
    float qnorm2;  /* turbo, scalar per dimension: |query|^2 */
    float qoff, qscale; /* scalar per dimension: the query's own range */
    uint32_t nplanes;   /* binary: 1 = a binary query, else the bits of a scalar query */
} qv_qquery;

/* Encodes query (dim floats, already normalised for Cosine). */
qv_rc qv_qquery_init(qv_qquery *qq, const qv_qcodes *q, const float *query, qv_err *err);
void qv_qquery_free(qv_qquery *qq);

/* The estimated score of vector id (see above for the convention). */
float qv_qquery_score(const qv_qquery *qq, uint32_t id);

/* Distances for a graph search (index/hnsw.h's qv_hnsw_scorer): for each
 * ids[i], a value that orders points as the estimate does, smaller closer
 * (the negated estimate for Cosine/Dot, the squared L2 estimate, the L1
 * estimate, X for binary codes: the Hamming distance over every bit plane
 * or, for a scalar query, the bit-plane distance divided by L). */
void qv_qquery_dist_many(void *qq, const uint32_t *ids, size_t n, float *out);

/* Bytes the codes occupy in memory. */
size_t qv_qcodes_memory(const qv_qcodes *q);

#endif
