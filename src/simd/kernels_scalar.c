/*-------------------------------------------------------------------------
 *
 * kernels_scalar.c
 *	  Portable distance kernels: the reference and the fallback.
 *
 * Plain loops, accumulating in float in element order like pgvector's
 * scalar code.  This table is used before engram_simd_init() runs, on CPUs
 * without AVX2 and on architectures without a SIMD variant.
 *
 * The kernels are kept out of GCC's auto-vectorizer.  pgvector builds its
 * scalar loops with -ftree-vectorize -fassociative-math and so gets SSE
 * code; our "scalar" variant is meant to be the true one-element-at-a-time
 * reference (its summation order is the one the tests and users can
 * reason about) and the honest baseline in bench/simd.  The bench can be
 * built with ENGRAM_SCALAR_AUTOVEC defined to measure what auto-vectorized
 * code would give instead (see bench/simd/RESULTS.md).
 *
 * src/simd/kernels_scalar.c
 *
 *-------------------------------------------------------------------------
 */
#include "kernels.h"
#include "f16.h"

#if defined(__GNUC__) && !defined(__clang__) && !defined(ENGRAM_SCALAR_AUTOVEC)
#define SCALAR_KERNEL __attribute__((optimize("no-tree-vectorize")))
#else
#define SCALAR_KERNEL
#endif

SCALAR_KERNEL static float
scalar_f32_l2sq(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		diff = a[i] - b[i];

		sum += diff * diff;
	}
	return sum;
}

SCALAR_KERNEL static float
scalar_f32_dot(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

SCALAR_KERNEL static float
scalar_f32_l1(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

SCALAR_KERNEL static double
scalar_f32_cosine_sim(const float *a, const float *b, int n)
{
	float		dot = 0.0f;
	float		norma = 0.0f;
	float		normb = 0.0f;

	for (int i = 0; i < n; i++)
	{
		dot += a[i] * b[i];
		norma += a[i] * a[i];
		normb += b[i] * b[i];
	}
	return engram_cosine_finish(dot, norma, normb);
}

SCALAR_KERNEL static float
scalar_f16_l2sq(const uint16_t *a, const uint16_t *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		diff = engram_half_to_float(a[i]) - engram_half_to_float(b[i]);

		sum += diff * diff;
	}
	return sum;
}

SCALAR_KERNEL static float
scalar_f16_dot(const uint16_t *a, const uint16_t *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += engram_half_to_float(a[i]) * engram_half_to_float(b[i]);
	return sum;
}

SCALAR_KERNEL static float
scalar_f16_l1(const uint16_t *a, const uint16_t *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(engram_half_to_float(a[i]) - engram_half_to_float(b[i]));
	return sum;
}

SCALAR_KERNEL static double
scalar_f16_cosine_sim(const uint16_t *a, const uint16_t *b, int n)
{
	float		dot = 0.0f;
	float		norma = 0.0f;
	float		normb = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		x = engram_half_to_float(a[i]);
		float		y = engram_half_to_float(b[i]);

		dot += x * y;
		norma += x * x;
		normb += y * y;
	}
	return engram_cosine_finish(dot, norma, normb);
}

/*
 * The integer kernels accumulate in uint32_t so that sums too large for
 * 32 bits wrap the same way in every variant instead of being undefined.
 */
SCALAR_KERNEL static int32_t
scalar_i8_dot(const int8_t *a, const int8_t *b, int n)
{
	uint32_t	sum = 0;

	for (int i = 0; i < n; i++)
		sum += (uint32_t) (a[i] * b[i]);
	return (int32_t) sum;
}

SCALAR_KERNEL static uint32_t
scalar_i8_l2sq(const int8_t *a, const int8_t *b, int n)
{
	uint32_t	sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			diff = a[i] - b[i];

		sum += (uint32_t) (diff * diff);
	}
	return sum;
}

SCALAR_KERNEL static uint32_t
scalar_u8_dot(const uint8_t *a, const uint8_t *b, int n)
{
	uint32_t	sum = 0;

	for (int i = 0; i < n; i++)
		sum += (uint32_t) a[i] * b[i];
	return sum;
}

SCALAR_KERNEL static uint32_t
scalar_u8_l2sq(const uint8_t *a, const uint8_t *b, int n)
{
	uint32_t	sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			diff = a[i] - b[i];

		sum += (uint32_t) (diff * diff);
	}
	return sum;
}

/* Bit count of one byte, without relying on a POPCNT instruction */
static inline uint32_t
scalar_popcount8(uint8_t x)
{
	x = (uint8_t) (x - ((x >> 1) & 0x55));
	x = (uint8_t) ((x & 0x33) + ((x >> 2) & 0x33));
	return (x + (x >> 4)) & 0x0f;
}

SCALAR_KERNEL static uint64_t
scalar_hamming(const uint8_t *a, const uint8_t *b, int nbytes)
{
	uint64_t	sum = 0;

	for (int i = 0; i < nbytes; i++)
		sum += scalar_popcount8(a[i] ^ b[i]);
	return sum;
}

SCALAR_KERNEL static void
scalar_f16_to_f32(const uint16_t *src, float *dst, int n)
{
	for (int i = 0; i < n; i++)
		dst[i] = engram_half_to_float(src[i]);
}

SCALAR_KERNEL static void
scalar_f32_to_f16(const float *src, uint16_t *dst, int n)
{
	for (int i = 0; i < n; i++)
		dst[i] = engram_float_to_half(src[i]);
}

const EngramKernels engram_kernels_scalar = {
	.name = "scalar",
	.variant = ENGRAM_SIMD_SCALAR,
	.f32_l2sq = scalar_f32_l2sq,
	.f32_dot = scalar_f32_dot,
	.f32_l1 = scalar_f32_l1,
	.f32_cosine_sim = scalar_f32_cosine_sim,
	.f16_l2sq = scalar_f16_l2sq,
	.f16_dot = scalar_f16_dot,
	.f16_l1 = scalar_f16_l1,
	.f16_cosine_sim = scalar_f16_cosine_sim,
	.i8_dot = scalar_i8_dot,
	.i8_l2sq = scalar_i8_l2sq,
	.u8_dot = scalar_u8_dot,
	.u8_l2sq = scalar_u8_l2sq,
	.hamming = scalar_hamming,
	.f16_to_f32 = scalar_f16_to_f32,
	.f32_to_f16 = scalar_f32_to_f16,
};
