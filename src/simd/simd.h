/*-------------------------------------------------------------------------
 *
 * simd.h
 *	  Distance kernels and the one dispatch table that selects them.
 *
 * Every distance engram computes goes through EngramKernels.  Each CPU
 * variant (scalar, AVX2+FMA, AVX-512, NEON) fills one table; the table in
 * use is chosen once at load time by CPU detection and can be forced with
 * the superuser GUC engram.simd for testing and comparison.
 *
 * This header and the kernel files depend only on the C standard library,
 * so the kernels can be compiled into a stand-alone test program.
 *
 * src/simd/simd.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_SIMD_H
#define ENGRAM_SIMD_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum EngramSimdVariant
{
	ENGRAM_SIMD_SCALAR = 0,
	ENGRAM_SIMD_AVX2,			/* AVX2 + FMA + F16C */
	ENGRAM_SIMD_AVX512,			/* AVX-512 F/BW/VL (+ VPOPCNTDQ when present) */
	ENGRAM_SIMD_NEON,			/* AArch64 Advanced SIMD */
	ENGRAM_SIMD_NVARIANTS
} EngramSimdVariant;

/*
 * Kernel table.  Lengths are element counts (bytes for hamming).  Float
 * kernels accumulate in single precision like pgvector does; callers widen
 * the result to double.  Half-precision vectors are IEEE binary16 stored as
 * uint16_t.
 */
typedef struct EngramKernels
{
	const char *name;			/* "scalar", "avx2", "avx512", "neon" */
	EngramSimdVariant variant;

	/* float32 */
	float		(*f32_l2sq) (const float *a, const float *b, int n);
	float		(*f32_dot) (const float *a, const float *b, int n);
	float		(*f32_l1) (const float *a, const float *b, int n);
	double		(*f32_cosine_sim) (const float *a, const float *b, int n);

	/* float16 (binary16 in uint16_t), accumulated in float32 */
	float		(*f16_l2sq) (const uint16_t *a, const uint16_t *b, int n);
	float		(*f16_dot) (const uint16_t *a, const uint16_t *b, int n);
	float		(*f16_l1) (const uint16_t *a, const uint16_t *b, int n);
	double		(*f16_cosine_sim) (const uint16_t *a, const uint16_t *b, int n);

	/* quantized codes */
	int32_t		(*i8_dot) (const int8_t *a, const int8_t *b, int n);
	uint32_t	(*i8_l2sq) (const int8_t *a, const int8_t *b, int n);
	uint32_t	(*u8_dot) (const uint8_t *a, const uint8_t *b, int n);
	uint32_t	(*u8_l2sq) (const uint8_t *a, const uint8_t *b, int n);
	uint64_t	(*hamming) (const uint8_t *a, const uint8_t *b, int nbytes);

	/* conversions (round to nearest even, like F16C with imm8 = 0) */
	void		(*f16_to_f32) (const uint16_t *src, float *dst, int n);
	void		(*f32_to_f16) (const float *src, uint16_t *dst, int n);
} EngramKernels;

/* The table in use; never NULL after engram_simd_init() */
extern const EngramKernels *engram_kernels;

/* Detect the CPU and select the best variant it supports */
extern void engram_simd_init(void);

/* Best variant this CPU supports */
extern EngramSimdVariant engram_simd_best(void);

/* Whether this CPU (and OS, for AVX state) supports a variant */
extern bool engram_simd_supported(EngramSimdVariant variant);

/* Table of a variant, or NULL if not compiled in or not supported */
extern const EngramKernels *engram_simd_table(EngramSimdVariant variant);

/* Select a variant; returns false (and changes nothing) if unsupported */
extern bool engram_simd_select(EngramSimdVariant variant);

/* Variant name <-> enum; returns -1 for an unknown name */
extern const char *engram_simd_variant_name(EngramSimdVariant variant);
extern int	engram_simd_variant_from_name(const char *name);

/*
 * CPU features seen by detection, as a NULL-terminated array of static
 * strings such as "avx2", "fma", "f16c", "avx512f", "avx512bw",
 * "avx512vl", "avx512vpopcntdq", "avx512fp16", "neon".
 */
extern const char *const *engram_simd_cpu_features(void);

/* L1 distance of two int8 codes with their own scales (kernels_codes.c) */
extern float engram_i8_scaled_l1(const int8_t *a, float scale_a,
								 const int8_t *b, float scale_b, int n);

/* Shared final step of the cosine kernels: pgvector's formula */
static inline double
engram_cosine_finish(float dot, float norma, float normb)
{
	/* sqrt(a * b) rather than sqrt(a) * sqrt(b), as pgvector does */
	return (double) dot / sqrt((double) norma * (double) normb);
}

#endif							/* ENGRAM_SIMD_H */
