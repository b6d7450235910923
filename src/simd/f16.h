/*-------------------------------------------------------------------------
 *
 * f16.h
 *	  Scalar IEEE binary16 <-> binary32 conversion.
 *
 * These are the portable conversions every half-precision path falls back
 * on: the halfvec type uses them for single elements, and the kernels use
 * them for tails.  float -> half rounds to nearest even and is bit-exact
 * with F16C's VCVTPS2PH with imm8 = 0 (also for NaN payloads), so a value
 * converts the same way whichever kernel variant is in use.
 *
 * Depends only on the C standard library so that it can be included both
 * by backend code and by the stand-alone kernel tests.
 *
 * src/simd/f16.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_F16_H
#define ENGRAM_F16_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Widen a binary16 to float.  Every half is exactly representable as a
 * float; NaNs keep their payload and are quieted, as VCVTPH2PS does.
 */
static inline float
engram_half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exponent = (h >> 10) & 0x1f;
	uint32_t	mantissa = h & 0x3ff;
	uint32_t	bits;
	float		result;

	if (exponent == 0x1f)
		bits = sign | 0x7f800000 | (mantissa << 13) |
			(mantissa != 0 ? 0x00400000 : 0);
	else if (exponent != 0)
		bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
	else
	{
		/* zero or subnormal: mantissa * 2^-24 is exact in float */
		result = (float) mantissa * 0x1p-24f;
		memcpy(&bits, &result, sizeof(bits));
		bits |= sign;
	}
	memcpy(&result, &bits, sizeof(result));
	return result;
}

/*
 * Round a float whose magnitude is below the smallest normal half (2^-14)
 * to a half subnormal (or zero, or the smallest normal when it rounds up).
 * abs is the float's bit pattern without the sign.
 */
static inline uint16_t
engram_float_to_half_subnormal(uint32_t abs)
{
	uint32_t	exponent = abs >> 23;
	uint32_t	significand = (abs & 0x7fffff) | 0x800000;
	uint32_t	shift;
	uint32_t	m;
	uint32_t	rest;
	uint32_t	halfway;

	/* below 2^-25 everything rounds to zero; 2^-25 itself ties to zero */
	if (exponent < 102)
		return 0;

	/* value = significand * 2^(exponent - 150) = m * 2^-24 */
	shift = 126 - exponent;		/* 14 .. 24 */
	m = significand >> shift;
	rest = significand & ((1u << shift) - 1);
	halfway = 1u << (shift - 1);
	if (rest > halfway || (rest == halfway && (m & 1)))
		m++;					/* 1024 encodes the smallest normal, as wanted */
	return (uint16_t) m;
}

/*
 * Narrow a float to binary16, rounding to nearest even.  Overflow gives
 * infinity; NaNs keep the top 10 payload bits and are quieted.
 */
static inline uint16_t
engram_float_to_half(float f)
{
	uint32_t	bits;
	uint32_t	abs;
	uint16_t	sign;

	memcpy(&bits, &f, sizeof(bits));
	sign = (uint16_t) ((bits >> 16) & 0x8000);
	abs = bits & 0x7fffffff;

	if (abs > 0x7f800000)		/* NaN */
		return sign | 0x7e00 | ((abs >> 13) & 0x3ff);
	if (abs >= 0x477ff000)		/* >= 65520 (or infinity): infinity */
		return sign | 0x7c00;
	if (abs >= 0x38800000)		/* >= 2^-14: normal half */
	{
		/* round the 13 dropped bits to nearest even; carries are fine */
		abs += 0xfff + ((abs >> 13) & 1);
		return sign | (uint16_t) ((abs - ((uint32_t) (127 - 15) << 23)) >> 13);
	}
	return sign | engram_float_to_half_subnormal(abs);
}

static inline bool
engram_half_is_nan(uint16_t h)
{
	return (h & 0x7fff) > 0x7c00;
}

static inline bool
engram_half_is_inf(uint16_t h)
{
	return (h & 0x7fff) == 0x7c00;
}

#endif							/* ENGRAM_F16_H */
