/*-------------------------------------------------------------------------
 *
 * kernels_avx2.c
 *	  Distance kernels for x86-64 with AVX2, FMA and F16C.
 *
 * Every function carries its own target attribute instead of the file
 * being compiled with -mavx2: the rest of the extension must run on any
 * x86-64, and dispatch.c only selects this table after checking CPUID and
 * that the OS saves the YMM state.
 *
 * The float loops keep four independent 8-lane accumulators so that the
 * 4-cycle FMA latency does not serialize the loop; remainders shorter than
 * a vector are finished one element at a time.
 *
 * src/simd/kernels_avx2.c
 *
 *-------------------------------------------------------------------------
 */
#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels.h"
#include "f16.h"

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static inline float
avx2_hsum_ps(__m256 v)
{
	__m128		x = _mm_add_ps(_mm256_castps256_ps128(v),
							   _mm256_extractf128_ps(v, 1));

	x = _mm_add_ps(x, _mm_movehl_ps(x, x));
	x = _mm_add_ss(x, _mm_movehdup_ps(x));
	return _mm_cvtss_f32(x);
}

AVX2_TARGET static inline uint32_t
avx2_hsum_epi32(__m256i v)
{
	__m128i		x = _mm_add_epi32(_mm256_castsi256_si128(v),
								  _mm256_extracti128_si256(v, 1));

	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
	return (uint32_t) _mm_cvtsi128_si32(x);
}

/* Eight halves to eight floats */
AVX2_TARGET static inline __m256
avx2_load_ph(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

AVX2_TARGET static float
avx2_f32_l2sq(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

AVX2_TARGET static float
avx2_f32_dot(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

/* |x - y| (clearing the sign bit) added to acc */
AVX2_TARGET static inline __m256
avx2_l1_step(__m256 x, __m256 y, __m256 acc)
{
	return _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0f),
											   _mm256_sub_ps(x, y)));
}

AVX2_TARGET static float
avx2_f32_l1(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = avx2_l1_step(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = avx2_l1_step(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = avx2_l1_step(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = avx2_l1_step(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = avx2_l1_step(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	sum = avx2_hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

AVX2_TARGET static double
avx2_f32_cosine_sim(const float *a, const float *b, int n)
{
	__m256		dot = _mm256_setzero_ps();
	__m256		na = _mm256_setzero_ps();
	__m256		nb = _mm256_setzero_ps();
	float		d;
	float		sa;
	float		sb;
	int			i = 0;

	/* three accumulators already hide most of the FMA latency */
	for (; i + 8 <= n; i += 8)
	{
		__m256		x = _mm256_loadu_ps(a + i);
		__m256		y = _mm256_loadu_ps(b + i);

		dot = _mm256_fmadd_ps(x, y, dot);
		na = _mm256_fmadd_ps(x, x, na);
		nb = _mm256_fmadd_ps(y, y, nb);
	}
	d = avx2_hsum_ps(dot);
	sa = avx2_hsum_ps(na);
	sb = avx2_hsum_ps(nb);
	for (; i < n; i++)
	{
		d += a[i] * b[i];
		sa += a[i] * a[i];
		sb += b[i] * b[i];
	}
	return engram_cosine_finish(d, sa, sb);
}

AVX2_TARGET static float
avx2_f16_l2sq(const uint16_t *a, const uint16_t *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(avx2_load_ph(a + i), avx2_load_ph(b + i));
		__m256		d1 = _mm256_sub_ps(avx2_load_ph(a + i + 8), avx2_load_ph(b + i + 8));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(avx2_load_ph(a + i), avx2_load_ph(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	sum = avx2_hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = engram_half_to_float(a[i]) - engram_half_to_float(b[i]);

		sum += d * d;
	}
	return sum;
}

AVX2_TARGET static float
avx2_f16_dot(const uint16_t *a, const uint16_t *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_fmadd_ps(avx2_load_ph(a + i), avx2_load_ph(b + i), s0);
		s1 = _mm256_fmadd_ps(avx2_load_ph(a + i + 8), avx2_load_ph(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(avx2_load_ph(a + i), avx2_load_ph(b + i), s0);
	sum = avx2_hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += engram_half_to_float(a[i]) * engram_half_to_float(b[i]);
	return sum;
}

AVX2_TARGET static float
avx2_f16_l1(const uint16_t *a, const uint16_t *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		s0 = avx2_l1_step(avx2_load_ph(a + i), avx2_load_ph(b + i), s0);
		s1 = avx2_l1_step(avx2_load_ph(a + i + 8), avx2_load_ph(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = avx2_l1_step(avx2_load_ph(a + i), avx2_load_ph(b + i), s0);
	sum = avx2_hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += fabsf(engram_half_to_float(a[i]) - engram_half_to_float(b[i]));
	return sum;
}

AVX2_TARGET static double
avx2_f16_cosine_sim(const uint16_t *a, const uint16_t *b, int n)
{
	__m256		dot = _mm256_setzero_ps();
	__m256		na = _mm256_setzero_ps();
	__m256		nb = _mm256_setzero_ps();
	float		d;
	float		sa;
	float		sb;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		x = avx2_load_ph(a + i);
		__m256		y = avx2_load_ph(b + i);

		dot = _mm256_fmadd_ps(x, y, dot);
		na = _mm256_fmadd_ps(x, x, na);
		nb = _mm256_fmadd_ps(y, y, nb);
	}
	d = avx2_hsum_ps(dot);
	sa = avx2_hsum_ps(na);
	sb = avx2_hsum_ps(nb);
	for (; i < n; i++)
	{
		float		x = engram_half_to_float(a[i]);
		float		y = engram_half_to_float(b[i]);

		d += x * y;
		sa += x * x;
		sb += y * y;
	}
	return engram_cosine_finish(d, sa, sb);
}

/*
 * Byte kernels: widen 16 bytes to 16-bit lanes, then VPMADDWD multiplies
 * and adds neighbouring pairs into 32-bit lanes.  No pair sum can overflow
 * (at most 2 * 255^2), and the 32-bit lane sums wrap like the scalar code.
 */
AVX2_TARGET static inline __m256i
avx2_load_epi8_epi16(const int8_t *p)
{
	return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) p));
}

AVX2_TARGET static inline __m256i
avx2_load_epu8_epi16(const uint8_t *p)
{
	return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) p));
}

AVX2_TARGET static int32_t
avx2_i8_dot(const int8_t *a, const int8_t *b, int n)
{
	__m256i		s = _mm256_setzero_si256();
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s = _mm256_add_epi32(s, _mm256_madd_epi16(avx2_load_epi8_epi16(a + i),
												  avx2_load_epi8_epi16(b + i)));
	sum = avx2_hsum_epi32(s);
	for (; i < n; i++)
		sum += (uint32_t) (a[i] * b[i]);
	return (int32_t) sum;
}

AVX2_TARGET static uint32_t
avx2_i8_l2sq(const int8_t *a, const int8_t *b, int n)
{
	__m256i		s = _mm256_setzero_si256();
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256i		d = _mm256_sub_epi16(avx2_load_epi8_epi16(a + i),
										 avx2_load_epi8_epi16(b + i));

		s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
	}
	sum = avx2_hsum_epi32(s);
	for (; i < n; i++)
	{
		int			d = a[i] - b[i];

		sum += (uint32_t) (d * d);
	}
	return sum;
}

AVX2_TARGET static uint32_t
avx2_u8_dot(const uint8_t *a, const uint8_t *b, int n)
{
	__m256i		s = _mm256_setzero_si256();
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s = _mm256_add_epi32(s, _mm256_madd_epi16(avx2_load_epu8_epi16(a + i),
												  avx2_load_epu8_epi16(b + i)));
	sum = avx2_hsum_epi32(s);
	for (; i < n; i++)
		sum += (uint32_t) a[i] * b[i];
	return sum;
}

AVX2_TARGET static uint32_t
avx2_u8_l2sq(const uint8_t *a, const uint8_t *b, int n)
{
	__m256i		s = _mm256_setzero_si256();
	uint32_t	sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256i		d = _mm256_sub_epi16(avx2_load_epu8_epi16(a + i),
										 avx2_load_epu8_epi16(b + i));

		s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
	}
	sum = avx2_hsum_epi32(s);
	for (; i < n; i++)
	{
		int			d = a[i] - b[i];

		sum += (uint32_t) (d * d);
	}
	return sum;
}

/*
 * Hamming distance by nibble table lookup (VPSHUFB), with VPSADBW adding
 * the byte counts into 64-bit lanes.  AVX2 does not imply POPCNT, so the
 * tail uses a portable bit count.
 */
AVX2_TARGET static uint64_t
avx2_hamming(const uint8_t *a, const uint8_t *b, int nbytes)
{
	const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
										   0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
	const __m256i low4 = _mm256_set1_epi8(0x0f);
	__m256i		s = _mm256_setzero_si256();
	__m128i		s128;
	uint64_t	sum;
	int			i = 0;

	for (; i + 32 <= nbytes; i += 32)
	{
		__m256i		x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *) (a + i)),
										 _mm256_loadu_si256((const __m256i *) (b + i)));
		__m256i		lo = _mm256_shuffle_epi8(table, _mm256_and_si256(x, low4));
		__m256i		hi = _mm256_shuffle_epi8(table,
											 _mm256_and_si256(_mm256_srli_epi16(x, 4), low4));

		s = _mm256_add_epi64(s, _mm256_sad_epu8(_mm256_add_epi8(lo, hi),
												_mm256_setzero_si256()));
	}
	s128 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
	sum = (uint64_t) _mm_cvtsi128_si64(s128) + (uint64_t) _mm_extract_epi64(s128, 1);
	for (; i < nbytes; i++)
	{
		uint32_t	x = (uint32_t) (a[i] ^ b[i]);

		x = x - ((x >> 1) & 0x55);
		x = (x & 0x33) + ((x >> 2) & 0x33);
		sum += (x + (x >> 4)) & 0x0f;
	}
	return sum;
}

AVX2_TARGET static void
avx2_f16_to_f32(const uint16_t *src, float *dst, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, avx2_load_ph(src + i));
	for (; i < n; i++)
		dst[i] = engram_half_to_float(src[i]);
}

AVX2_TARGET static void
avx2_f32_to_f16(const float *src, uint16_t *dst, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *) (dst + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		dst[i] = engram_float_to_half(src[i]);
}

const EngramKernels engram_kernels_avx2 = {
	.name = "avx2",
	.variant = ENGRAM_SIMD_AVX2,
	.f32_l2sq = avx2_f32_l2sq,
	.f32_dot = avx2_f32_dot,
	.f32_l1 = avx2_f32_l1,
	.f32_cosine_sim = avx2_f32_cosine_sim,
	.f16_l2sq = avx2_f16_l2sq,
	.f16_dot = avx2_f16_dot,
	.f16_l1 = avx2_f16_l1,
	.f16_cosine_sim = avx2_f16_cosine_sim,
	.i8_dot = avx2_i8_dot,
	.i8_l2sq = avx2_i8_l2sq,
	.u8_dot = avx2_u8_dot,
	.u8_l2sq = avx2_u8_l2sq,
	.hamming = avx2_hamming,
	.f16_to_f32 = avx2_f16_to_f32,
	.f32_to_f16 = avx2_f32_to_f16,
};

#endif							/* __x86_64__ */
