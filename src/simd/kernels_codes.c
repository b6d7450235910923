/*-------------------------------------------------------------------------
 *
 * kernels_codes.c
 *	  Distance estimates between quantized codes that do not reduce to one
 *	  integer kernel of the dispatch table.
 *
 * An int8 code c with scale s stands for the vector s * c.  Inner products
 * and L2 distances between two codes factor into s_a * s_b * (integer
 * kernel), but the L1 distance of two codes with different scales does not,
 * so it is computed here on the decoded values.  Only L1 indexes use it.
 *
 * src/simd/kernels_codes.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "simd.h"

float
engram_i8_scaled_l1(const int8_t *a, float scale_a, const int8_t *b,
					float scale_b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(scale_a * a[i] - scale_b * b[i]);
	return sum;
}
