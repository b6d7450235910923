/*-------------------------------------------------------------------------
 *
 * kernels_neon.c
 *	  Distance kernels for AArch64 Advanced SIMD (NEON).
 *
 * NEON is part of the AArch64 base architecture, so the base table needs
 * no target attribute and no run-time check.  The float loops keep four
 * independent 4-lane accumulators to hide the FMA latency; remainders
 * shorter than a vector are finished one element at a time.
 *
 * The Armv8.2 dot product instructions (SDOT/UDOT) are optional; the byte
 * dot products using them are exported for dispatch.c to patch in when the
 * CPU reports them.  They are only compiled where the compiler can target
 * them per function (see ENGRAM_NEON_DOTPROD in kernels.h).
 *
 * src/simd/kernels_neon.c
 *
 *-------------------------------------------------------------------------
 */
#if defined(__aarch64__)

#include <arm_neon.h>

#include "kernels.h"
#include "f16.h"

/* Eight halves to two vectors of four floats */
static inline float32x4_t
neon_load_ph_low(const uint16_t *p)
{
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t
neon_load_ph_high(const uint16_t *p)
{
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p + 4)));
}

/*
 * Each float kernel is written once as a macro over its element loader,
 * for float and for half inputs: LOAD(p) loads 4 elements, SCALAR(x)
 * widens one element for the tail.
 */
#define F32_LOAD(p)		vld1q_f32(p)
#define F32_SCALAR(x)	(x)
#define F16_LOAD(p)		neon_load_ph_low(p)
#define F16_SCALAR(x)	engram_half_to_float(x)

/* Sum of STEP(x, y, acc) over a and b; SCALAR_STEP(x, y) per tail element */
#define NEON_FLOAT_KERNEL(LOAD, SCALAR, STEP, SCALAR_STEP) \
	do { \
		float32x4_t s0 = vdupq_n_f32(0.0f); \
		float32x4_t s1 = vdupq_n_f32(0.0f); \
		float32x4_t s2 = vdupq_n_f32(0.0f); \
		float32x4_t s3 = vdupq_n_f32(0.0f); \
		float		sum; \
		int			i = 0; \
		for (; i + 16 <= n; i += 16) \
		{ \
			s0 = STEP(LOAD(a + i), LOAD(b + i), s0); \
			s1 = STEP(LOAD(a + i + 4), LOAD(b + i + 4), s1); \
			s2 = STEP(LOAD(a + i + 8), LOAD(b + i + 8), s2); \
			s3 = STEP(LOAD(a + i + 12), LOAD(b + i + 12), s3); \
		} \
		for (; i + 4 <= n; i += 4) \
			s0 = STEP(LOAD(a + i), LOAD(b + i), s0); \
		sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))); \
		for (; i < n; i++) \
			sum += SCALAR_STEP(SCALAR(a[i]), SCALAR(b[i])); \
		return sum; \
	} while (0)

static inline float32x4_t
neon_l2sq_step(float32x4_t x, float32x4_t y, float32x4_t acc)
{
	float32x4_t d = vsubq_f32(x, y);

	return vfmaq_f32(acc, d, d);
}

static inline float
neon_l2sq_scalar(float x, float y)
{
	return (x - y) * (x - y);
}

#define L2SQ_STEP(x, y, acc)	neon_l2sq_step((x), (y), (acc))
#define DOT_STEP(x, y, acc)		vfmaq_f32((acc), (x), (y))
#define L1_STEP(x, y, acc)		vaddq_f32((acc), vabdq_f32((x), (y)))
#define L2SQ_SCALAR(x, y)		neon_l2sq_scalar((x), (y))
#define DOT_SCALAR(x, y)		((x) * (y))
#define L1_SCALAR(x, y)			fabsf((x) - (y))

static float
neon_f32_l2sq(const float *a, const float *b, int n)
{
	NEON_FLOAT_KERNEL(F32_LOAD, F32_SCALAR, L2SQ_STEP, L2SQ_SCALAR);
}

static float
neon_f32_dot(const float *a, const float *b, int n)
{
	NEON_FLOAT_KERNEL(F32_LOAD, F32_SCALAR, DOT_STEP, DOT_SCALAR);
}

static float
neon_f32_l1(const float *a, const float *b, int n)
{
	NEON_FLOAT_KERNEL(F32_LOAD, F32_SCALAR, L1_STEP, L1_SCALAR);
}

static float
neon_f16_l2sq(const uint16_t *a, const uint16_t *b, int n)
{
	NEON_FLOAT_KERNEL(F16_LOAD, F16_SCALAR, L2SQ_STEP, L2SQ_SCALAR);
}

static float
neon_f16_dot(const uint16_t *a, const uint16_t *b, int n)
{
	NEON_FLOAT_KERNEL(F16_LOAD, F16_SCALAR, DOT_STEP, DOT_SCALAR);
}

static float
neon_f16_l1(const uint16_t *a, const uint16_t *b, int n)
{
	NEON_FLOAT_KERNEL(F16_LOAD, F16_SCALAR, L1_STEP, L1_SCALAR);
}

/* Cosine: dot product and both squared norms in one pass */
#define NEON_COSINE_KERNEL(LOAD, SCALAR) \
	do { \
		float32x4_t d0 = vdupq_n_f32(0.0f); \
		float32x4_t d1 = vdupq_n_f32(0.0f); \
		float32x4_t a0 = vdupq_n_f32(0.0f); \
		float32x4_t a1 = vdupq_n_f32(0.0f); \
		float32x4_t b0 = vdupq_n_f32(0.0f); \
		float32x4_t b1 = vdupq_n_f32(0.0f); \
		float32x4_t x; \
		float32x4_t y; \
		float		dot; \
		float		norma; \
		float		normb; \
		int			i = 0; \
		for (; i + 8 <= n; i += 8) \
		{ \
			x = LOAD(a + i); \
			y = LOAD(b + i); \
			d0 = vfmaq_f32(d0, x, y); \
			a0 = vfmaq_f32(a0, x, x); \
			b0 = vfmaq_f32(b0, y, y); \
			x = LOAD(a + i + 4); \
			y = LOAD(b + i + 4); \
			d1 = vfmaq_f32(d1, x, y); \
			a1 = vfmaq_f32(a1, x, x); \
			b1 = vfmaq_f32(b1, y, y); \
		} \
		dot = vaddvq_f32(vaddq_f32(d0, d1)); \
		norma = vaddvq_f32(vaddq_f32(a0, a1)); \
		normb = vaddvq_f32(vaddq_f32(b0, b1)); \
		for (; i < n; i++) \
		{ \
			float		xs = SCALAR(a[i]); \
			float		ys = SCALAR(b[i]); \
			dot += xs * ys; \
			norma += xs * xs; \
			normb += ys * ys; \
		} \
		return engram_cosine_finish(dot, norma, normb); \
	} while (0)

static double
neon_f32_cosine_sim(const float *a, const float *b, int n)
{
	NEON_COSINE_KERNEL(F32_LOAD, F32_SCALAR);
}

static double
neon_f16_cosine_sim(const uint16_t *a, const uint16_t *b, int n)
{
	NEON_COSINE_KERNEL(F16_LOAD, F16_SCALAR);
}

/*
 * Byte kernels, 16 bytes per step.  Products of two bytes fit in 16 bits
 * (|-128 * -128| = 16384, 255 * 255 = 65025 unsigned), and the pairwise
 * add-accumulate (VPADAL) widens them into 32-bit lanes, which wrap modulo
 * 2^32 like the scalar code.  For the squared distances |a - b| (VABD) is
 * at most 255, so it is squared as an unsigned byte in both signednesses.
 */
static int32_t
neon_i8_dot(const int8_t *a, const int8_t *b, int n)
{
	int32x4_t	s = vdupq_n_s32(0);
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		int8x16_t	x = vld1q_s8(a + i);
		int8x16_t	y = vld1q_s8(b + i);

		s = vpadalq_s16(s, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
		s = vpadalq_s16(s, vmull_high_s8(x, y));
	}
	sum = vaddvq_u32(vreinterpretq_u32_s32(s));
	for (; i < n; i++)
		sum += (uint32_t) (a[i] * b[i]);
	return (int32_t) sum;
}

/* Sum of squares of 16 byte differences into 32-bit lanes */
static inline uint32x4_t
neon_square_acc(uint32x4_t acc, uint8x16_t d)
{
	acc = vpadalq_u16(acc, vmull_u8(vget_low_u8(d), vget_low_u8(d)));
	return vpadalq_u16(acc, vmull_high_u8(d, d));
}

static uint32_t
neon_i8_l2sq(const int8_t *a, const int8_t *b, int n)
{
	uint32x4_t	s = vdupq_n_u32(0);
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s = neon_square_acc(s, vreinterpretq_u8_s8(vabdq_s8(vld1q_s8(a + i),
															vld1q_s8(b + i))));
	sum = vaddvq_u32(s);
	for (; i < n; i++)
	{
		int			d = a[i] - b[i];

		sum += (uint32_t) (d * d);
	}
	return sum;
}

static uint32_t
neon_u8_dot(const uint8_t *a, const uint8_t *b, int n)
{
	uint32x4_t	s = vdupq_n_u32(0);
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		uint8x16_t	x = vld1q_u8(a + i);
		uint8x16_t	y = vld1q_u8(b + i);

		s = vpadalq_u16(s, vmull_u8(vget_low_u8(x), vget_low_u8(y)));
		s = vpadalq_u16(s, vmull_high_u8(x, y));
	}
	sum = vaddvq_u32(s);
	for (; i < n; i++)
		sum += (uint32_t) a[i] * b[i];
	return sum;
}

static uint32_t
neon_u8_l2sq(const uint8_t *a, const uint8_t *b, int n)
{
	uint32x4_t	s = vdupq_n_u32(0);
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s = neon_square_acc(s, vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i)));
	sum = vaddvq_u32(s);
	for (; i < n; i++)
	{
		int			d = a[i] - b[i];

		sum += (uint32_t) (d * d);
	}
	return sum;
}

/* Hamming distance: per-byte counts (CNT) widened into 64-bit lanes */
static uint64_t
neon_hamming(const uint8_t *a, const uint8_t *b, int nbytes)
{
	uint64x2_t	s = vdupq_n_u64(0);
	uint64_t	sum;
	int			i = 0;

	for (; i + 16 <= nbytes; i += 16)
	{
		uint8x16_t	c = vcntq_u8(veorq_u8(vld1q_u8(a + i), vld1q_u8(b + i)));

		s = vpadalq_u32(s, vpaddlq_u16(vpaddlq_u8(c)));
	}
	sum = vaddvq_u64(s);
	for (; i < nbytes; i++)
		sum += (uint64_t) __builtin_popcount(a[i] ^ b[i]);
	return sum;
}

#ifdef ENGRAM_NEON_DOTPROD

/* SDOT/UDOT add groups of four byte products into 32-bit lanes */
ENGRAM_NEON_DOTPROD int32_t
engram_neon_i8_dot_dotprod(const int8_t *a, const int8_t *b, int n)
{
	int32x4_t	s0 = vdupq_n_s32(0);
	int32x4_t	s1 = vdupq_n_s32(0);
	uint32_t	sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = vdotq_s32(s0, vld1q_s8(a + i), vld1q_s8(b + i));
		s1 = vdotq_s32(s1, vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
	}
	for (; i + 16 <= n; i += 16)
		s0 = vdotq_s32(s0, vld1q_s8(a + i), vld1q_s8(b + i));
	sum = vaddvq_u32(vreinterpretq_u32_s32(vaddq_s32(s0, s1)));
	for (; i < n; i++)
		sum += (uint32_t) (a[i] * b[i]);
	return (int32_t) sum;
}

ENGRAM_NEON_DOTPROD uint32_t
engram_neon_u8_dot_dotprod(const uint8_t *a, const uint8_t *b, int n)
{
	uint32x4_t	s0 = vdupq_n_u32(0);
	uint32x4_t	s1 = vdupq_n_u32(0);
	uint32_t	sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = vdotq_u32(s0, vld1q_u8(a + i), vld1q_u8(b + i));
		s1 = vdotq_u32(s1, vld1q_u8(a + i + 16), vld1q_u8(b + i + 16));
	}
	for (; i + 16 <= n; i += 16)
		s0 = vdotq_u32(s0, vld1q_u8(a + i), vld1q_u8(b + i));
	sum = vaddvq_u32(vaddq_u32(s0, s1));
	for (; i < n; i++)
		sum += (uint32_t) a[i] * b[i];
	return sum;
}

#endif							/* ENGRAM_NEON_DOTPROD */

static void
neon_f16_to_f32(const uint16_t *src, float *dst, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		vst1q_f32(dst + i, neon_load_ph_low(src + i));
		vst1q_f32(dst + i + 4, neon_load_ph_high(src + i));
	}
	for (; i < n; i++)
		dst[i] = engram_half_to_float(src[i]);
}

/*
 * FCVTN rounds as FPCR says, which is round-to-nearest-even unless
 * something changed the process default; NaNs are quieted keeping their
 * top payload bits, as in engram_float_to_half().
 */
static void
neon_f32_to_f16(const float *src, uint16_t *dst, int n)
{
	int			i = 0;

	for (; i + 4 <= n; i += 4)
		vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
	for (; i < n; i++)
		dst[i] = engram_float_to_half(src[i]);
}

const EngramKernels engram_kernels_neon = {
	.name = "neon",
	.variant = ENGRAM_SIMD_NEON,
	.f32_l2sq = neon_f32_l2sq,
	.f32_dot = neon_f32_dot,
	.f32_l1 = neon_f32_l1,
	.f32_cosine_sim = neon_f32_cosine_sim,
	.f16_l2sq = neon_f16_l2sq,
	.f16_dot = neon_f16_dot,
	.f16_l1 = neon_f16_l1,
	.f16_cosine_sim = neon_f16_cosine_sim,
	.i8_dot = neon_i8_dot,
	.i8_l2sq = neon_i8_l2sq,
	.u8_dot = neon_u8_dot,
	.u8_l2sq = neon_u8_l2sq,
	.hamming = neon_hamming,
	.f16_to_f32 = neon_f16_to_f32,
	.f32_to_f16 = neon_f32_to_f16,
};

#endif							/* __aarch64__ */
