/*
 * distance_impl.h - private: the per-ISA kernel tables behind distance.h.
 *
 * Each distance_<isa>.c defines one const table; distance.c decides at run
 * time which of them the CPU can execute.  A table is declared only on the
 * architectures whose file defines it, so a reference to an x86 table on
 * arm64 (or the reverse) is a compile error rather than a link error.
 *
 * Not part of the public API: nothing outside src/core/distance*.c (and the
 * distance unit test, which goes through qv_kernels_by_name) should include
 * this header.
 */
#ifndef QV_CORE_DISTANCE_IMPL_H
#define QV_CORE_DISTANCE_IMPL_H

#include "core/distance.h"

/* Plain C loops; the oracle the SIMD tables are tested against. */
extern const qv_kernels qv_kernels_scalar;

#if defined(__x86_64__) || defined(__i386__)
#define QV_DISTANCE_X86 1
/* Needs avx2 and fma. */
extern const qv_kernels qv_kernels_avx2;
/* Needs avx512f. */
extern const qv_kernels qv_kernels_avx512;
#endif

#if defined(__aarch64__)
#define QV_DISTANCE_NEON 1
/* NEON is part of the arm64 baseline, so this table always runs there. */
extern const qv_kernels qv_kernels_neon;
#endif

#endif
