/*-------------------------------------------------------------------------
 *
 * kernels_avx512.c
 *	  Distance kernels for x86-64 with AVX-512 F, BW and VL.
 *
 * Like kernels_avx2.c, every function has its own target attribute and
 * dispatch.c only selects this table after checking CPUID and that the OS
 * saves the ZMM and opmask state.
 *
 * Remainders are handled with one masked load per operand: masked-off
 * lanes read as zero (and cannot fault), and zero contributes nothing to
 * any of the sums, so no scalar tail loop is needed.  The float loops keep
 * four independent accumulators (two FMA ports times the 4-cycle latency
 * would want eight, but the loads limit the loop first).
 *
 * The hamming and byte dot product entries of the base table use only
 * F/BW/VL; faster versions using VPOPCNTDQ and VNNI are exported for
 * dispatch.c to patch in when the CPU has them.
 *
 * src/simd/kernels_avx512.c
 *
 *-------------------------------------------------------------------------
 */
#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels.h"

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
#define AVX512_VPOPCNTDQ_TARGET \
	__attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq")))
#define AVX512_VNNI_TARGET \
	__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

/* Masks selecting the first r lanes, 0 < r < lane count */
static inline __mmask16
mask16(int r)
{
	return (__mmask16) ((1u << r) - 1);
}

static inline __mmask32
mask32(int r)
{
	return (__mmask32) ((1u << r) - 1);
}

static inline __mmask64
mask64(int r)
{
	return (__mmask64) ((UINT64_C(1) << r) - 1);
}

/* Sixteen halves to sixteen floats; masked-off lanes become +0.0 */
AVX512_TARGET static inline __m512
avx512_load_ph(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) p));
}

AVX512_TARGET static inline __m512
avx512_maskz_load_ph(__mmask16 m, const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

AVX512_TARGET static inline __m512
avx512_abs_ps(__m512 x)
{
	return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x),
												_mm512_set1_epi32(0x7fffffff)));
}

/*
 * Each float kernel is written once as a macro over its element loader,
 * once for float and once for half inputs: LOAD(p) loads 16 elements,
 * MLOAD(m, p) the first ones selected by the mask.
 */
#define F32_LOAD(p)		_mm512_loadu_ps(p)
#define F32_MLOAD(m, p) _mm512_maskz_loadu_ps((m), (p))
#define F16_LOAD(p)		avx512_load_ph(p)
#define F16_MLOAD(m, p) avx512_maskz_load_ph((m), (p))

/* Sum of STEP(x, y, acc) over a and b into one float */
#define AVX512_FLOAT_KERNEL(LOAD, MLOAD, STEP) \
	do { \
		__m512		s0 = _mm512_setzero_ps(); \
		__m512		s1 = _mm512_setzero_ps(); \
		__m512		s2 = _mm512_setzero_ps(); \
		__m512		s3 = _mm512_setzero_ps(); \
		int			i = 0; \
		for (; i + 64 <= n; i += 64) \
		{ \
			s0 = STEP(LOAD(a + i), LOAD(b + i), s0); \
			s1 = STEP(LOAD(a + i + 16), LOAD(b + i + 16), s1); \
			s2 = STEP(LOAD(a + i + 32), LOAD(b + i + 32), s2); \
			s3 = STEP(LOAD(a + i + 48), LOAD(b + i + 48), s3); \
		} \
		for (; i + 16 <= n; i += 16) \
			s0 = STEP(LOAD(a + i), LOAD(b + i), s0); \
		if (i < n) \
			s1 = STEP(MLOAD(mask16(n - i), a + i), \
					  MLOAD(mask16(n - i), b + i), s1); \
		return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), \
												  _mm512_add_ps(s2, s3))); \
	} while (0)

#define L2SQ_STEP(x, y, acc) \
	avx512_l2sq_step((x), (y), (acc))
#define DOT_STEP(x, y, acc) \
	_mm512_fmadd_ps((x), (y), (acc))
#define L1_STEP(x, y, acc) \
	_mm512_add_ps((acc), avx512_abs_ps(_mm512_sub_ps((x), (y))))

AVX512_TARGET static inline __m512
avx512_l2sq_step(__m512 x, __m512 y, __m512 acc)
{
	__m512		d = _mm512_sub_ps(x, y);

	return _mm512_fmadd_ps(d, d, acc);
}

AVX512_TARGET static float
avx512_f32_l2sq(const float *a, const float *b, int n)
{
	AVX512_FLOAT_KERNEL(F32_LOAD, F32_MLOAD, L2SQ_STEP);
}

AVX512_TARGET static float
avx512_f32_dot(const float *a, const float *b, int n)
{
	AVX512_FLOAT_KERNEL(F32_LOAD, F32_MLOAD, DOT_STEP);
}

AVX512_TARGET static float
avx512_f32_l1(const float *a, const float *b, int n)
{
	AVX512_FLOAT_KERNEL(F32_LOAD, F32_MLOAD, L1_STEP);
}

AVX512_TARGET static float
avx512_f16_l2sq(const uint16_t *a, const uint16_t *b, int n)
{
	AVX512_FLOAT_KERNEL(F16_LOAD, F16_MLOAD, L2SQ_STEP);
}

AVX512_TARGET static float
avx512_f16_dot(const uint16_t *a, const uint16_t *b, int n)
{
	AVX512_FLOAT_KERNEL(F16_LOAD, F16_MLOAD, DOT_STEP);
}

AVX512_TARGET static float
avx512_f16_l1(const uint16_t *a, const uint16_t *b, int n)
{
	AVX512_FLOAT_KERNEL(F16_LOAD, F16_MLOAD, L1_STEP);
}

/*
 * Cosine: dot product and both squared norms in one pass, two sets of
 * three accumulators.
 */
#define AVX512_COSINE_KERNEL(LOAD, MLOAD) \
	do { \
		__m512		d0 = _mm512_setzero_ps(); \
		__m512		d1 = _mm512_setzero_ps(); \
		__m512		a0 = _mm512_setzero_ps(); \
		__m512		a1 = _mm512_setzero_ps(); \
		__m512		b0 = _mm512_setzero_ps(); \
		__m512		b1 = _mm512_setzero_ps(); \
		__m512		x; \
		__m512		y; \
		int			i = 0; \
		for (; i + 32 <= n; i += 32) \
		{ \
			x = LOAD(a + i); \
			y = LOAD(b + i); \
			d0 = _mm512_fmadd_ps(x, y, d0); \
			a0 = _mm512_fmadd_ps(x, x, a0); \
			b0 = _mm512_fmadd_ps(y, y, b0); \
			x = LOAD(a + i + 16); \
			y = LOAD(b + i + 16); \
			d1 = _mm512_fmadd_ps(x, y, d1); \
			a1 = _mm512_fmadd_ps(x, x, a1); \
			b1 = _mm512_fmadd_ps(y, y, b1); \
		} \
		for (; i < n; i += 16) \
		{ \
			__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : mask16(n - i); \
			x = MLOAD(m, a + i); \
			y = MLOAD(m, b + i); \
			d0 = _mm512_fmadd_ps(x, y, d0); \
			a0 = _mm512_fmadd_ps(x, x, a0); \
			b0 = _mm512_fmadd_ps(y, y, b0); \
		} \
		return engram_cosine_finish(_mm512_reduce_add_ps(_mm512_add_ps(d0, d1)), \
									_mm512_reduce_add_ps(_mm512_add_ps(a0, a1)), \
									_mm512_reduce_add_ps(_mm512_add_ps(b0, b1))); \
	} while (0)

AVX512_TARGET static double
avx512_f32_cosine_sim(const float *a, const float *b, int n)
{
	AVX512_COSINE_KERNEL(F32_LOAD, F32_MLOAD);
}

AVX512_TARGET static double
avx512_f16_cosine_sim(const uint16_t *a, const uint16_t *b, int n)
{
	AVX512_COSINE_KERNEL(F16_LOAD, F16_MLOAD);
}

/*
 * Byte kernels: widen 32 bytes to 16-bit lanes, then VPMADDWD multiplies
 * and adds neighbouring pairs into 32-bit lanes (at most 2 * 255^2, no
 * overflow); the lane sums wrap modulo 2^32 like the scalar code.
 * WIDEN(m, p) loads the first bytes selected by the mask and widens them.
 */
AVX512_TARGET static inline __m512i
avx512_widen_i8(__mmask32 m, const int8_t *p)
{
	return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

AVX512_TARGET static inline __m512i
avx512_widen_u8(__mmask32 m, const uint8_t *p)
{
	return _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

AVX512_TARGET static inline __m512i
avx512_dot_step(__m512i x, __m512i y, __m512i acc)
{
	return _mm512_add_epi32(acc, _mm512_madd_epi16(x, y));
}

AVX512_TARGET static inline __m512i
avx512_l2sq_step_epi16(__m512i x, __m512i y, __m512i acc)
{
	__m512i		d = _mm512_sub_epi16(x, y);

	return _mm512_add_epi32(acc, _mm512_madd_epi16(d, d));
}

#define AVX512_BYTE_KERNEL(WIDEN, STEP) \
	do { \
		const __mmask32 all = (__mmask32) 0xffffffff; \
		__m512i		s0 = _mm512_setzero_si512(); \
		__m512i		s1 = _mm512_setzero_si512(); \
		int			i = 0; \
		for (; i + 64 <= n; i += 64) \
		{ \
			s0 = STEP(WIDEN(all, a + i), WIDEN(all, b + i), s0); \
			s1 = STEP(WIDEN(all, a + i + 32), WIDEN(all, b + i + 32), s1); \
		} \
		for (; i < n; i += 32) \
		{ \
			__mmask32	m = n - i >= 32 ? all : mask32(n - i); \
			s0 = STEP(WIDEN(m, a + i), WIDEN(m, b + i), s0); \
		} \
		return (uint32_t) _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)); \
	} while (0)

AVX512_TARGET static int32_t
avx512_i8_dot(const int8_t *a, const int8_t *b, int n)
{
	AVX512_BYTE_KERNEL(avx512_widen_i8, avx512_dot_step);
}

AVX512_TARGET static uint32_t
avx512_i8_l2sq(const int8_t *a, const int8_t *b, int n)
{
	AVX512_BYTE_KERNEL(avx512_widen_i8, avx512_l2sq_step_epi16);
}

AVX512_TARGET static uint32_t
avx512_u8_dot(const uint8_t *a, const uint8_t *b, int n)
{
	AVX512_BYTE_KERNEL(avx512_widen_u8, avx512_dot_step);
}

AVX512_TARGET static uint32_t
avx512_u8_l2sq(const uint8_t *a, const uint8_t *b, int n)
{
	AVX512_BYTE_KERNEL(avx512_widen_u8, avx512_l2sq_step_epi16);
}

/*
 * VNNI's VPDPBUSD multiplies unsigned by signed bytes and adds groups of
 * four products into 32-bit lanes, without saturation.  The other sign
 * combinations are reduced to it by flipping the top bit of one operand,
 * which adds 128 to it (signed -> unsigned) or subtracts 128 (unsigned ->
 * signed), and correcting with 128 times the sum of the other operand:
 *
 *	 sum a*b = sum (a + 128)*b - 128 * sum b	(a, b signed)
 *	 sum a*b = sum a*(b - 128) + 128 * sum a	(a, b unsigned)
 *
 * Padding bytes are zero in both operands, so they add nothing to either
 * sum even after the flip.
 */
AVX512_VNNI_TARGET int32_t
engram_avx512_i8_dot_vnni(const int8_t *a, const int8_t *b, int n)
{
	const __m512i top = _mm512_set1_epi8((char) 0x80);
	const __m512i ones = _mm512_set1_epi8(1);
	__m512i		prod = _mm512_setzero_si512();
	__m512i		sumb = _mm512_setzero_si512();
	int			i = 0;

	for (; i < n; i += 64)
	{
		__mmask64	m = n - i >= 64 ? ~(__mmask64) 0 : mask64(n - i);
		__m512i		x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), top);
		__m512i		y = _mm512_maskz_loadu_epi8(m, b + i);

		prod = _mm512_dpbusd_epi32(prod, x, y); /* (a + 128) * b */
		sumb = _mm512_dpbusd_epi32(sumb, ones, y);	/* b */
	}
	return (int32_t) ((uint32_t) _mm512_reduce_add_epi32(prod) -
					  128u * (uint32_t) _mm512_reduce_add_epi32(sumb));
}

AVX512_VNNI_TARGET uint32_t
engram_avx512_u8_dot_vnni(const uint8_t *a, const uint8_t *b, int n)
{
	const __m512i top = _mm512_set1_epi8((char) 0x80);
	const __m512i ones = _mm512_set1_epi8(1);
	__m512i		prod = _mm512_setzero_si512();
	__m512i		suma = _mm512_setzero_si512();
	int			i = 0;

	for (; i < n; i += 64)
	{
		__mmask64	m = n - i >= 64 ? ~(__mmask64) 0 : mask64(n - i);
		__m512i		x = _mm512_maskz_loadu_epi8(m, a + i);
		__m512i		y = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, b + i), top);

		prod = _mm512_dpbusd_epi32(prod, x, y); /* a * (b - 128) */
		suma = _mm512_dpbusd_epi32(suma, x, ones);	/* a */
	}
	return (uint32_t) _mm512_reduce_add_epi32(prod) +
		128u * (uint32_t) _mm512_reduce_add_epi32(suma);
}

/*
 * Hamming distance by nibble table lookup (VPSHUFB on each 128-bit lane)
 * and VPSADBW into 64-bit lanes: the fallback when VPOPCNTDQ is missing.
 */
AVX512_TARGET static uint64_t
avx512_hamming(const uint8_t *a, const uint8_t *b, int nbytes)
{
	const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3,
															   1, 2, 2, 3, 2, 3, 3, 4));
	const __m512i low4 = _mm512_set1_epi8(0x0f);
	__m512i		s = _mm512_setzero_si512();

	for (int i = 0; i < nbytes; i += 64)
	{
		__mmask64	m = nbytes - i >= 64 ? ~(__mmask64) 0 : mask64(nbytes - i);
		__m512i		x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
										 _mm512_maskz_loadu_epi8(m, b + i));
		__m512i		lo = _mm512_shuffle_epi8(table, _mm512_and_si512(x, low4));
		__m512i		hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(x, 4), low4));

		s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_add_epi8(lo, hi),
												_mm512_setzero_si512()));
	}
	return (uint64_t) _mm512_reduce_add_epi64(s);
}

AVX512_VPOPCNTDQ_TARGET uint64_t
engram_avx512_hamming_vpopcntdq(const uint8_t *a, const uint8_t *b, int nbytes)
{
	__m512i		s0 = _mm512_setzero_si512();
	__m512i		s1 = _mm512_setzero_si512();
	int			i = 0;

	for (; i + 128 <= nbytes; i += 128)
	{
		s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i),
																	   _mm512_loadu_si512(b + i))));
		s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i + 64),
																	   _mm512_loadu_si512(b + i + 64))));
	}
	for (; i < nbytes; i += 64)
	{
		__mmask64	m = nbytes - i >= 64 ? ~(__mmask64) 0 : mask64(nbytes - i);

		s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
																	   _mm512_maskz_loadu_epi8(m, b + i))));
	}
	return (uint64_t) _mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1));
}

AVX512_TARGET static void
avx512_f16_to_f32(const uint16_t *src, float *dst, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dst + i, avx512_load_ph(src + i));
	if (i < n)
		_mm512_mask_storeu_ps(dst + i, mask16(n - i),
							  avx512_maskz_load_ph(mask16(n - i), src + i));
}

AVX512_TARGET static void
avx512_f32_to_f16(const float *src, uint16_t *dst, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *) (dst + i),
							_mm512_cvtps_ph(_mm512_loadu_ps(src + i),
											_MM_FROUND_TO_NEAREST_INT));
	if (i < n)
		_mm256_mask_storeu_epi16(dst + i, mask16(n - i),
								 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(mask16(n - i), src + i),
												 _MM_FROUND_TO_NEAREST_INT));
}

const EngramKernels engram_kernels_avx512 = {
	.name = "avx512",
	.variant = ENGRAM_SIMD_AVX512,
	.f32_l2sq = avx512_f32_l2sq,
	.f32_dot = avx512_f32_dot,
	.f32_l1 = avx512_f32_l1,
	.f32_cosine_sim = avx512_f32_cosine_sim,
	.f16_l2sq = avx512_f16_l2sq,
	.f16_dot = avx512_f16_dot,
	.f16_l1 = avx512_f16_l1,
	.f16_cosine_sim = avx512_f16_cosine_sim,
	.i8_dot = avx512_i8_dot,
	.i8_l2sq = avx512_i8_l2sq,
	.u8_dot = avx512_u8_dot,
	.u8_l2sq = avx512_u8_l2sq,
	.hamming = avx512_hamming,
	.f16_to_f32 = avx512_f16_to_f32,
	.f32_to_f16 = avx512_f32_to_f16,
};

#endif							/* __x86_64__ */
