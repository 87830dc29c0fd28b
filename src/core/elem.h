/*
 * elem.h - element types of stored vectors: float32, float16 and uint8.
 *
 * Qdrant's `datatype` decides how a named vector's components are stored.
 * Quiver keeps float16 and uint8 rows in their own width (2 and 1 bytes a
 * component instead of 4), so a collection that asks for them takes half or
 * a quarter of the memory and of the bandwidth a scan needs.
 *
 * Arithmetic stays float32: a stored row is decoded (exactly: every float16
 * and uint8 value is a float32) into a small float buffer right before the
 * float32 kernels of core/distance.h score it.  So a float16 row scores bit
 * for bit as the same values stored as float32 would (the rounding happens
 * once, at insert, in qv_f32_to_f16), every kernel table serves every
 * element type, and the SIMD tests of the float kernels cover them.  The
 * decoding is the one per-ISA piece here: F16C's vcvtph2ps on x86 (picked at
 * run time, like the kernel tables), a portable bit-exact loop elsewhere;
 * uint8 widening is a plain loop the compiler vectorises.
 *
 * Threads: all functions are pure; the dispatch is set up once under
 * pthread_once.
 */
#ifndef QV_CORE_ELEM_H
#define QV_CORE_ELEM_H

#include <stddef.h>
#include <stdint.h>

#include "core/distance.h"

typedef enum qv_elem {
    QV_ELEM_F32 = 0,
    QV_ELEM_F16 = 1, /* IEEE 754 binary16 */
    QV_ELEM_U8 = 2,  /* unsigned byte, 0..255 */
} qv_elem;

/* Bytes per component. */
static inline size_t qv_elem_size(qv_elem e) {
    return e == QV_ELEM_F32 ? 4 : e == QV_ELEM_F16 ? 2 : 1;
}

/* float32 -> binary16, rounding to nearest even; values beyond the largest
 * finite half (65504) become +-65504 (a huge input stays finite, as the
 * insert path wants), NaN stays NaN.  binary16 -> float32 is exact. */
uint16_t qv_f32_to_f16(float x);
float qv_f16_to_f32(uint16_t h);

/* n components of element type e at in -> float32 at out (exact). */
void qv_elem_decode(qv_elem e, const void *in, float *out, size_t n);

/* n float32 components -> element type e at out.  For float16 this rounds
 * (qv_f32_to_f16); for uint8 the values must already be integers in
 * 0..255 (the insert path saturates first) and are converted as they are. */
void qv_elem_encode(qv_elem e, const float *in, void *out, size_t n);

/* The score of stored row v (element type e, dim components) against the
 * float query q, as qv_score would give for the decoded row.  scratch holds
 * dim floats (unused for float32). */
float qv_score_elem(const qv_kernels *k, qv_distance d, const float *q, const void *v, qv_elem e,
                    size_t dim, float *scratch);

#endif
