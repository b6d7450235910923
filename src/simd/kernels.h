/*-------------------------------------------------------------------------
 *
 * kernels.h
 *	  The per-variant kernel tables, for dispatch.c and the kernel tests.
 *
 * Each kernels_<variant>.c file defines one base table.  Where an optional
 * CPU extension gives a faster version of a single entry (VPOPCNTDQ for
 * hamming, VNNI or the Arm dot product for byte dot products), that
 * function is exported too and dispatch.c patches it into a copy of the
 * base table at init, after checking the CPU has the extension.  Nothing
 * outside src/simd/ should include this header; use simd.h.
 *
 * src/simd/kernels.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_KERNELS_H
#define ENGRAM_KERNELS_H

#include "simd.h"

extern const EngramKernels engram_kernels_scalar;

#if defined(__x86_64__)
extern const EngramKernels engram_kernels_avx2;

/* AVX-512 F/BW/VL only */
extern const EngramKernels engram_kernels_avx512;

/* AVX-512 VPOPCNTDQ */
extern uint64_t engram_avx512_hamming_vpopcntdq(const uint8_t *a,
												const uint8_t *b, int nbytes);

/* AVX-512 VNNI */
extern int32_t engram_avx512_i8_dot_vnni(const int8_t *a, const int8_t *b,
										 int n);
extern uint32_t engram_avx512_u8_dot_vnni(const uint8_t *a, const uint8_t *b,
										  int n);
#endif

#if defined(__aarch64__)
extern const EngramKernels engram_kernels_neon;

/*
 * Armv8.2 dot product (FEAT_DotProd; only Armv8.2 and later CPUs have it,
 * hence the arch= that arm_neon.h also uses).  GCC enables it per function;
 * clang before 16 only defines its intrinsics when the whole file is built
 * for it, so with clang the functions exist only in such builds.
 */
#if defined(__ARM_FEATURE_DOTPROD)
#define ENGRAM_NEON_DOTPROD
#elif defined(__GNUC__) && !defined(__clang__)
#define ENGRAM_NEON_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

#ifdef ENGRAM_NEON_DOTPROD
extern int32_t engram_neon_i8_dot_dotprod(const int8_t *a, const int8_t *b,
										  int n);
extern uint32_t engram_neon_u8_dot_dotprod(const uint8_t *a,
										   const uint8_t *b, int n);
#endif
#endif

#endif							/* ENGRAM_KERNELS_H */
