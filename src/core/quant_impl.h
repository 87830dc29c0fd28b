/*
 * quant_impl.h - private: the per-ISA integer kernel tables behind quant.h.
 *
 * Each quant_<isa>.c defines one const table; quant.c decides at run time
 * which of them the CPU can execute.  As in distance_impl.h, a table is
 * declared only on the architectures whose file defines it, so naming an
 * x86 table on arm64 is a compile error.  Nothing outside src/core/quant*.c
 * should include this header (the unit test goes through
 * qv_quant_kernels_by_name).
 */
#ifndef QV_CORE_QUANT_IMPL_H
#define QV_CORE_QUANT_IMPL_H

#include "core/quant.h"

/* Plain C loops; the oracle the SIMD tables are tested against. */
extern const qv_quant_kernels qv_quant_kernels_scalar;

#if defined(__x86_64__) || defined(__i386__)
#define QV_QUANT_X86 1
/* Needs avx2. */
extern const qv_quant_kernels qv_quant_kernels_avx2;
/* Needs avx512f, avx512bw, avx512vnni and avx512vpopcntdq (Ice Lake, Zen 4
 * and later); older AVX-512 parts use the avx2 table. */
extern const qv_quant_kernels qv_quant_kernels_avx512;
#endif

#if defined(__aarch64__)
#define QV_QUANT_NEON 1
/* NEON is part of the arm64 baseline, so this table always runs there. */
extern const qv_quant_kernels qv_quant_kernels_neon;
#endif

#endif
