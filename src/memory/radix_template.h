/*-------------------------------------------------------------------------
 *
 * radix_template.h
 *	  A least significant digit first radix sort, for the spread's arrays.
 *
 * Define before including:
 *	  RS_SORT			the function's name
 *	  RS_ELEMENT_TYPE	what is sorted
 *	  RS_KEY(elem)		its uint64 key
 *	  RS_SMALL_SORT		a comparison sort of the same order, for few keys
 *
 * RS_SORT(keys, n, from_bit, to_bit, tmp) sorts by bits from_bit ..
 * to_bit - 1 of the keys (the others must not matter to the order),
 * stably: a pass per 11 bits, skipping digits all keys share; tmp is room
 * for n more keys.  On the spread's thousands of keys a comparison sort is
 * mostly mispredicted branches; this is a few linear passes.
 *
 * src/memory/radix_template.h
 *
 *-------------------------------------------------------------------------
 */

#define RS_RADIX_BITS 11
#define RS_RADIX_MASK ((1 << RS_RADIX_BITS) - 1)
#define RS_MIN 512				/* fewer keys: the comparison sort is faster */

static void
RS_SORT(RS_ELEMENT_TYPE *keys, int n, int from_bit, int to_bit,
		RS_ELEMENT_TYPE *tmp)
{
	RS_ELEMENT_TYPE *from = keys;
	RS_ELEMENT_TYPE *to = tmp;

	if (n < RS_MIN)
	{
		RS_SMALL_SORT(keys, n);
		return;
	}
	for (int shift = from_bit; shift < to_bit; shift += RS_RADIX_BITS)
	{
		int			count[1 << RS_RADIX_BITS] = {0};
		int			pos = 0;
		RS_ELEMENT_TYPE *swap;

		for (int i = 0; i < n; i++)
			count[(RS_KEY(from[i]) >> shift) & RS_RADIX_MASK]++;
		if (count[(RS_KEY(from[0]) >> shift) & RS_RADIX_MASK] == n)
			continue;
		for (int d = 0; d < (1 << RS_RADIX_BITS); d++)
		{
			int			c = count[d];

			count[d] = pos;
			pos += c;
		}
		for (int i = 0; i < n; i++)
			to[count[(RS_KEY(from[i]) >> shift) & RS_RADIX_MASK]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}
	if (from != keys)
		memcpy(keys, from, sizeof(RS_ELEMENT_TYPE) * n);
}

#undef RS_RADIX_BITS
#undef RS_RADIX_MASK
#undef RS_MIN
#undef RS_SORT
#undef RS_ELEMENT_TYPE
#undef RS_KEY
#undef RS_SMALL_SORT
