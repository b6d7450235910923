/*-------------------------------------------------------------------------
 *
 * alexkey.c
 *	  engram_alex: order-preserving key encodings and scan key ranges.
 *
 * Every indexed value becomes a uint64 whose unsigned order is the type's
 * btree order, so pages, models and searches deal with one key type.
 * Integers and dates are stored as their value with the sign bit flipped;
 * timestamps likewise.  Floats use the IEEE bit trick (negatives inverted,
 * positives with the sign bit set); NaNs are made one canonical NaN, which
 * sorts above +Infinity as in PostgreSQL.  -0 and +0 stay distinct (index-
 * only scans return what was stored) and are adjacent, so a scan key on
 * zero becomes the range covering both.
 *
 * Scan keys become a list of inclusive uint64 ranges.  A key of the index's
 * own type, or of a type that converts exactly (any integer for an integer
 * column, float4 for float8 and back), is encoded directly; other
 * cross-type keys (date against timestamp, timestamp against timestamptz)
 * are turned into bounds by a binary search over the column type's encoded
 * domain with the family's cross-type comparison function, which keeps
 * btree's semantics (infinities, overflow, time zones) exactly.
 *
 * src/am/alex/alexkey.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/skey.h"
#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/rel.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "am/alex/alex.h"

#define SIGN_BIT	(UINT64CONST(1) << 63)

static inline uint64
EncodeInt64(int64 v)
{
	return ((uint64) v) ^ SIGN_BIT;
}

static inline int64
DecodeInt64(uint64 k)
{
	return (int64) (k ^ SIGN_BIT);
}

static uint64
EncodeDouble(double d)
{
	union
	{
		double		d;
		uint64		u;
	}			v;

	if (isnan(d))
		d = get_float8_nan();
	v.d = d;
	if (v.u & SIGN_BIT)
		return ~v.u;
	return v.u | SIGN_BIT;
}

static double
DecodeDouble(uint64 k)
{
	union
	{
		double		d;
		uint64		u;
	}			v;

	v.u = (k & SIGN_BIT) ? (k & ~SIGN_BIT) : ~k;
	return v.d;
}

static uint64
enc_int2(Datum d)
{
	return EncodeInt64(DatumGetInt16(d));
}
static Datum
dec_int2(uint64 k)
{
	return Int16GetDatum((int16) DecodeInt64(k));
}
static uint64
enc_int4(Datum d)
{
	return EncodeInt64(DatumGetInt32(d));
}
static Datum
dec_int4(uint64 k)
{
	return Int32GetDatum((int32) DecodeInt64(k));
}
static uint64
enc_int8(Datum d)
{
	return EncodeInt64(DatumGetInt64(d));
}
static Datum
dec_int8(uint64 k)
{
	return Int64GetDatum(DecodeInt64(k));
}
static uint64
enc_float4(Datum d)
{
	return EncodeDouble((double) DatumGetFloat4(d));
}
static Datum
dec_float4(uint64 k)
{
	return Float4GetDatum((float4) DecodeDouble(k));
}
static uint64
enc_float8(Datum d)
{
	return EncodeDouble(DatumGetFloat8(d));
}
static Datum
dec_float8(uint64 k)
{
	return Float8GetDatum(DecodeDouble(k));
}
static uint64
enc_date(Datum d)
{
	return EncodeInt64(DatumGetDateADT(d));
}
static Datum
dec_date(uint64 k)
{
	return DateADTGetDatum((DateADT) DecodeInt64(k));
}
static uint64
enc_timestamp(Datum d)
{
	return EncodeInt64(DatumGetTimestamp(d));
}
static Datum
dec_timestamp(uint64 k)
{
	return TimestampGetDatum((Timestamp) DecodeInt64(k));
}

static const AlexKeyType key_types[] = {
	{INT2OID, enc_int2, dec_int2},
	{INT4OID, enc_int4, dec_int4},
	{INT8OID, enc_int8, dec_int8},
	{FLOAT4OID, enc_float4, dec_float4},
	{FLOAT8OID, enc_float8, dec_float8},
	{DATEOID, enc_date, dec_date},
	{TIMESTAMPOID, enc_timestamp, dec_timestamp},
	{TIMESTAMPTZOID, enc_timestamp, dec_timestamp},
};

/*
 * The encoding of a column type, or an error for types engram_alex cannot
 * index (only reachable through a hand-made operator class)
 */
const AlexKeyType *
AlexGetKeyType(Oid typid)
{
	for (int i = 0; i < (int) lengthof(key_types); i++)
		if (key_types[i].typid == typid)
			return &key_types[i];
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("engram_alex does not support type %s", format_type_be(typid))));
	return NULL;				/* keep compiler quiet */
}

/* Order of positions: NULLs last, then key, then heap TID */
int
AlexPosCmp(const AlexPos *a, const AlexPos *b)
{
	if (a->isnull != b->isnull)
		return a->isnull ? 1 : -1;
	if (!a->isnull && a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid);
}

typedef enum
{
	DOMAIN_INT,					/* int2, int4, int8 */
	DOMAIN_FLOAT,				/* float4, float8 */
	DOMAIN_DATE,
	DOMAIN_TIMESTAMP,
	DOMAIN_TIMESTAMPTZ
} KeyDomain;

static KeyDomain
DomainOf(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return DOMAIN_INT;
		case FLOAT4OID:
		case FLOAT8OID:
			return DOMAIN_FLOAT;
		case DATEOID:
			return DOMAIN_DATE;
		case TIMESTAMPOID:
			return DOMAIN_TIMESTAMP;
		default:
			return DOMAIN_TIMESTAMPTZ;
	}
}

/* The encoded values a column of this type can hold */
static void
DomainBounds(Oid typid, uint64 *lo, uint64 *hi)
{
	switch (typid)
	{
		case INT2OID:
			*lo = EncodeInt64(PG_INT16_MIN);
			*hi = EncodeInt64(PG_INT16_MAX);
			break;
		case INT4OID:
		case DATEOID:
			*lo = EncodeInt64(PG_INT32_MIN);
			*hi = EncodeInt64(PG_INT32_MAX);
			break;
		default:
			*lo = 0;
			*hi = PG_UINT64_MAX;
			break;
	}
}

/*
 * The inclusive range of encoded column values v with "v <strategy> arg",
 * false when empty
 */
static bool
KeyRange(Relation index, const AlexKeyType *kt, StrategyNumber strategy,
		 Oid argtype, Datum arg, Oid collation, uint64 *lo, uint64 *hi)
{
	uint64		dlo,
				dhi,
				ge,				/* first value >= arg */
				gt;				/* first value > arg */
	bool		ge_none = false,	/* no value >= arg */
				gt_none = false;

	DomainBounds(kt->typid, &dlo, &dhi);

	if (argtype == kt->typid ||
		(DomainOf(argtype) == DomainOf(kt->typid) &&
		 (DomainOf(argtype) == DOMAIN_INT || DomainOf(argtype) == DOMAIN_FLOAT)))
	{
		/* exact conversion: ge and gt follow from the encoding itself */
		uint64		e;
		bool		zero = false;

		switch (argtype)
		{
			case INT2OID:
				e = EncodeInt64(DatumGetInt16(arg));
				break;
			case INT4OID:
				e = EncodeInt64(DatumGetInt32(arg));
				break;
			case INT8OID:
				e = EncodeInt64(DatumGetInt64(arg));
				break;
			case FLOAT4OID:
			case FLOAT8OID:
				{
					double		d = argtype == FLOAT4OID ?
						(double) DatumGetFloat4(arg) : DatumGetFloat8(arg);

					zero = (d == 0.0);
					e = EncodeDouble(zero ? -0.0 : d);
					break;
				}
			case DATEOID:
				e = EncodeInt64(DatumGetDateADT(arg));
				break;
			default:
				e = EncodeInt64(DatumGetTimestamp(arg));
				break;
		}
		ge = e;
		/* -0 and +0 are equal: +0 is the encoding right after -0 */
		gt = zero ? e + 2 : e + 1;
		gt_none = zero ? false : (e == PG_UINT64_MAX);
	}
	else
	{
		/* binary search with the family's cross-type comparison */
		Oid			cmpproc = get_opfamily_proc(index->rd_opfamily[0], kt->typid,
												argtype, ALEX_CMP_PROC);
		FmgrInfo	flinfo;
		uint64		a,
					b;

		if (!OidIsValid(cmpproc))
			elog(ERROR, "missing support function %d(%u,%u) in opfamily %u",
				 ALEX_CMP_PROC, kt->typid, argtype, index->rd_opfamily[0]);
		fmgr_info(cmpproc, &flinfo);

		for (int pass = 0; pass < 2; pass++)
		{
			/* first v in [dlo, dhi] with cmp(v, arg) >= pass */
			a = dlo;
			b = dhi;
			if (DatumGetInt32(FunctionCall2Coll(&flinfo, collation, kt->decode(b), arg)) < pass)
			{
				if (pass == 0)
					ge_none = true;
				else
					gt_none = true;
				continue;
			}
			while (a < b)
			{
				uint64		mid = a + (b - a) / 2;

				if (DatumGetInt32(FunctionCall2Coll(&flinfo, collation,
													kt->decode(mid), arg)) >= pass)
					b = mid;
				else
					a = mid + 1;
			}
			if (pass == 0)
				ge = a;
			else
				gt = a;
		}
	}

	*lo = dlo;
	*hi = dhi;
	switch (strategy)
	{
		case BTLessStrategyNumber:
			if (ge_none)
				return true;
			if (ge == 0)
				return false;
			*hi = ge - 1;
			break;
		case BTLessEqualStrategyNumber:
			if (gt_none)
				return true;
			if (gt == 0)
				return false;
			*hi = gt - 1;
			break;
		case BTEqualStrategyNumber:
			if (ge_none)
				return false;
			*lo = ge;
			if (!gt_none)
			{
				if (gt == 0)
					return false;
				*hi = gt - 1;
			}
			break;
		case BTGreaterEqualStrategyNumber:
			if (ge_none)
				return false;
			*lo = ge;
			break;
		case BTGreaterStrategyNumber:
			if (gt_none)
				return false;
			*lo = gt;
			break;
		default:
			elog(ERROR, "unrecognized engram_alex strategy %d", strategy);
	}
	*lo = Max(*lo, dlo);
	*hi = Min(*hi, dhi);
	return *lo <= *hi;
}

static int
RangeCmp(const void *a, const void *b)
{
	const AlexRange *x = a;
	const AlexRange *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* Sort ranges and merge overlapping ones; returns the new count */
static int
NormalizeRanges(AlexRange *r, int n)
{
	int			out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(AlexRange), RangeCmp);
	for (int i = 1; i < n; i++)
	{
		if (r[i].lo <= r[out].hi || r[i].lo == r[out].hi + 1)
			r[out].hi = Max(r[out].hi, r[i].hi);
		else
			r[++out] = r[i];
	}
	return out + 1;
}

/* Intersection of two sorted lists of disjoint ranges, into a */
static int
IntersectRanges(AlexRange *a, int na, const AlexRange *b, int nb)
{
	AlexRange  *out = palloc(sizeof(AlexRange) * (na + nb + 1));
	int			n = 0,
				i = 0,
				j = 0;

	while (i < na && j < nb)
	{
		uint64		lo = Max(a[i].lo, b[j].lo);
		uint64		hi = Min(a[i].hi, b[j].hi);

		if (lo <= hi)
			out[n++] = (AlexRange) {lo, hi};
		if (a[i].hi < b[j].hi)
			i++;
		else
			j++;
	}
	memcpy(a, out, sizeof(AlexRange) * n);
	pfree(out);
	return n;
}

/*
 * Turn the scan keys into so->ranges (sorted, disjoint) and the NULL
 * flags.  Returns false when nothing can match.
 */
bool
AlexBuildRanges(Relation index, ScanKey keys, int nkeys, AlexScanOpaque so)
{
	const AlexKeyType *kt = so->keytype;
	uint64		glo,
				ghi;
	AlexRange  *ranges = NULL;
	int			nranges = -1;	/* -1: no array key yet */
	bool		any_value_key = false;
	bool		want_nonnull = true;

	DomainBounds(kt->typid, &glo, &ghi);
	so->want_nulls = true;

	for (int i = 0; i < nkeys; i++)
	{
		ScanKey		key = &keys[i];

		if (key->sk_flags & SK_ISNULL)
		{
			if (key->sk_flags & SK_SEARCHNULL)
				want_nonnull = false;
			else if (key->sk_flags & SK_SEARCHNOTNULL)
				so->want_nulls = false;
			else
				return false;	/* comparison with NULL: never true */
			continue;
		}
		so->want_nulls = false;
		any_value_key = true;

		if (key->sk_flags & SK_SEARCHARRAY)
		{
			ArrayType  *arr = DatumGetArrayTypeP(key->sk_argument);
			Oid			elemtype = ARR_ELEMTYPE(arr);
			int16		elmlen;
			bool		elmbyval;
			char		elmalign;
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;
			AlexRange  *mine;
			int			nmine = 0;

			get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
			deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
							  &elems, &nulls, &nelems);
			mine = palloc(sizeof(AlexRange) * Max(nelems, 1));
			for (int j = 0; j < nelems; j++)
			{
				uint64		lo,
							hi;

				if (nulls[j])
					continue;
				if (KeyRange(index, kt, key->sk_strategy, elemtype, elems[j],
							 key->sk_collation, &lo, &hi))
					mine[nmine++] = (AlexRange) {lo, hi};
			}
			if (key->sk_strategy != BTEqualStrategyNumber)
			{
				/* x < ANY(...) etc: one range covering every element's */
				for (int j = 1; j < nmine; j++)
				{
					mine[0].lo = Min(mine[0].lo, mine[j].lo);
					mine[0].hi = Max(mine[0].hi, mine[j].hi);
				}
				nmine = Min(nmine, 1);
			}
			nmine = NormalizeRanges(mine, nmine);
			if (nranges < 0)
			{
				ranges = mine;
				nranges = nmine;
			}
			else
			{
				nranges = IntersectRanges(ranges, nranges, mine, nmine);
				pfree(mine);
			}
			if (nranges == 0)
				return false;
		}
		else
		{
			uint64		lo,
						hi;

			if (!KeyRange(index, kt, key->sk_strategy, key->sk_subtype == InvalidOid ?
						  kt->typid : key->sk_subtype, key->sk_argument,
						  key->sk_collation, &lo, &hi))
				return false;
			glo = Max(glo, lo);
			ghi = Min(ghi, hi);
			if (glo > ghi)
				return false;
		}
	}

	if (!want_nonnull && !so->want_nulls)
		return false;
	if (!any_value_key && !want_nonnull)
	{
		so->nranges = 0;
		return true;
	}
	if (nranges < 0)
	{
		ranges = palloc(sizeof(AlexRange));
		ranges[0] = (AlexRange) {glo, ghi};
		nranges = 1;
	}
	else
	{
		AlexRange	g = {glo, ghi};

		nranges = IntersectRanges(ranges, nranges, &g, 1);
	}
	so->ranges = ranges;
	so->nranges = nranges;
	if (!so->want_nulls && nranges == 0)
		return false;
	return true;
}
