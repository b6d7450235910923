/*-------------------------------------------------------------------------
 *
 * vector_core.c
 *	  The one implementation of the vector types.
 *
 * Every SQL function of vector and halfvec lands here with a VecType that
 * says what an element is.  Behaviour, including every error message and
 * SQLSTATE, follows pgvector 0.8 exactly so that existing clients notice no
 * difference; see sql_tests/vector_type.sql for the cases.
 *
 * Elements are handled as float: a halfvec element is widened on read and
 * rounded to nearest even on write (the same arithmetic pgvector's portable
 * build does).  Distances go to the kernels of src/simd/.
 *
 * src/types/vector_core.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/varbit.h"

#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "f16.h"
#include "simd.h"
#include "types/vector.h"

const VecType EngramVectorType = {"vector", VEC_ELEM_FLOAT4, sizeof(float), VECTOR_MAX_DIM};
const VecType EngramHalfvecType = {"halfvec", VEC_ELEM_HALF, sizeof(half), HALFVEC_MAX_DIM};

/* Aggregate state: float8[] holding { n, sum[0], ..., sum[dim - 1] } */
#define STATE_DIMS(a)	(ARR_DIMS(a)[0] - 1)

/*
 * Allocate a zeroed vector of the given type and dimensions
 */
VecHeader *
EngramVecAlloc(const VecType *type, int dim)
{
	Size		size = add_size(sizeof(VecHeader),
								mul_size(type->elem_size, (Size) dim));
	VecHeader  *result = (VecHeader *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = (int16) dim;
	return result;
}

/*
 * Allocate a zeroed float4 vector (for callers outside the type code)
 */
Vector *
EngramVectorAlloc(int dim)
{
	return (Vector *) EngramVecAlloc(&EngramVectorType, dim);
}

/*
 * Ensure a dimension count is within the type's limits
 */
void
EngramVecCheckDim(const VecType *type, int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", type->name)));

	if (dim > type->max_dim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions",
						type->name, type->max_dim)));
}

/*
 * Ensure both operands of a binary operation have the same dimensions
 */
void
EngramVecCheckSameDims(const VecType *type, const VecHeader *a, const VecHeader *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d",
						type->name, a->dim, b->dim)));
}

/*
 * Ensure the dimensions match a type modifier (-1 means none)
 */
void
EngramVecCheckTypmod(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Ensure an element is finite
 */
static void
CheckElement(const VecType *type, float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in %s", type->name)));

	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in %s", type->name)));
}

/*
 * Element i of a vector, widened to float
 */
float
EngramVecGet(const VecType *type, const VecHeader *v, int i)
{
	if (type->kind == VEC_ELEM_HALF)
		return engram_half_to_float(((const half *) VEC_DATA(v))[i]);
	return ((const float *) VEC_DATA(v))[i];
}

/*
 * Store a float as element i, rounding it to the element type, and return
 * the value as stored (an infinity when a half overflows)
 */
static float
SetElement(const VecType *type, VecHeader *v, int i, float value)
{
	if (type->kind == VEC_ELEM_HALF)
	{
		half		h = engram_float_to_half(value);

		((half *) VEC_DATA(v))[i] = h;
		return engram_half_to_float(h);
	}
	((float *) VEC_DATA(v))[i] = value;
	return value;
}

/*
 * Store a float as element i, reporting a value that does not fit the type
 * the way pgvector's casts do
 */
static void
SetElementChecked(const VecType *type, VecHeader *v, int i, float value)
{
	float		stored = SetElement(type, v, i, value);

	if (unlikely(isinf(stored)) && !isinf(value))
	{
		char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(value, buf);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range for type %s", buf, type->name)));
	}
}

/*
 * Whitespace as the SQL scanner defines it (scanner_isspace)
 */
static inline bool
VecIsSpace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

static inline char *
SkipSpace(char *pt)
{
	while (VecIsSpace(*pt))
		pt++;
	return pt;
}

static void
ReportBadSyntax(const VecType *type, const char *lit)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", type->name, lit)));
}

static int
CountChar(const char *s, char c)
{
	int			n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/*
 * Parse one element at *ptr into v[dim], advancing *ptr past it
 */
static void
ParseElement(const VecType *type, const char *lit, char **ptr,
			 VecHeader *v, int dim)
{
	char	   *pt = SkipSpace(*ptr);
	char	   *end;
	float		val;
	float		stored;

	/* Check for an empty string like float4in */
	if (*pt == '\0')
		ReportBadSyntax(type, lit);

	/* strtof, like float4in, avoids double rounding; LC_NUMERIC is C */
	errno = 0;
	val = strtof(pt, &end);
	if (end == pt)
		ReportBadSyntax(type, lit);

	stored = SetElement(type, v, dim, val);
	if ((errno == ERANGE && isinf(val)) || (isinf(stored) && !isinf(val)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range for type %s",
						pnstrdup(pt, (Size) (end - pt)), type->name)));

	CheckElement(type, stored);
	*ptr = end;
}

/*
 * Text input: '[1,2,3]'
 */
VecHeader *
EngramVecIn(const VecType *type, char *lit, int32 typmod)
{
	VecHeader  *result;
	int			dim = 0;
	char	   *pt = SkipSpace(lit);

	if (*pt != '[')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", type->name, lit),
				 errdetail("Vector contents must start with \"[\".")));

	pt = SkipSpace(pt + 1);
	if (*pt == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", type->name)));

	/* elements are comma-separated, so this bounds the dimensions */
	result = EngramVecAlloc(type, Min(CountChar(pt, ',') + 1, type->max_dim));

	for (;;)
	{
		if (dim == type->max_dim)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s cannot have more than %d dimensions",
							type->name, type->max_dim)));

		ParseElement(type, lit, &pt, result, dim++);

		pt = SkipSpace(pt);
		if (*pt == ',')
			pt++;
		else if (*pt == ']')
		{
			pt++;
			break;
		}
		else
			ReportBadSyntax(type, lit);
	}

	/* Only whitespace is allowed after the closing bracket */
	pt = SkipSpace(pt);
	if (*pt != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", type->name, lit),
				 errdetail("Junk after closing right brace.")));

	EngramVecCheckDim(type, dim);
	EngramVecCheckTypmod(typmod, dim);

	SET_VARSIZE(result, sizeof(VecHeader) + (Size) dim * type->elem_size);
	result->dim = (int16) dim;
	return result;
}

/*
 * Text output in shortest round-trip form: '[1,2.5,-3]'
 */
char *
EngramVecOut(const VecType *type, const VecHeader *v)
{
	/* each element needs at most FLOAT_SHORTEST_DECIMAL_LEN - 1 bytes */
	char	   *buf = palloc(add_size(mul_size(FLOAT_SHORTEST_DECIMAL_LEN, (Size) v->dim), 3));
	char	   *ptr = buf;

	*ptr++ = '[';
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*ptr++ = ',';
		ptr += float_to_shortest_decimal_bufn(EngramVecGet(type, v, i), ptr);
	}
	*ptr++ = ']';
	*ptr = '\0';
	return buf;
}

/*
 * Type modifier input: vector(n)
 */
int32
EngramVecTypmodIn(const VecType *type, ArrayType *ta)
{
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));

	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s must be at least 1", type->name)));

	if (*tl > type->max_dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s cannot exceed %d",
						type->name, type->max_dim)));

	return *tl;
}

/*
 * Binary input: int16 dim, int16 unused (0), elements in network order
 */
VecHeader *
EngramVecRecv(const VecType *type, StringInfo buf, int32 typmod)
{
	int			dim = (int) pq_getmsgint(buf, sizeof(int16));
	int			unused = (int) pq_getmsgint(buf, sizeof(int16));
	VecHeader  *result;

	EngramVecCheckDim(type, dim);
	EngramVecCheckTypmod(typmod, dim);

	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	result = EngramVecAlloc(type, dim);
	for (int i = 0; i < dim; i++)
	{
		if (type->kind == VEC_ELEM_HALF)
			((half *) VEC_DATA(result))[i] = (half) pq_getmsgint(buf, sizeof(half));
		else
			((float *) VEC_DATA(result))[i] = pq_getmsgfloat4(buf);
		CheckElement(type, EngramVecGet(type, result, i));
	}
	return result;
}

/*
 * Binary output, the format EngramVecRecv reads
 */
bytea *
EngramVecSend(const VecType *type, const VecHeader *v)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, (uint16) v->dim);
	pq_sendint16(&buf, (uint16) v->unused);
	for (int i = 0; i < v->dim; i++)
	{
		if (type->kind == VEC_ELEM_HALF)
			pq_sendint16(&buf, ((const half *) VEC_DATA(v))[i]);
		else
			pq_sendfloat4(&buf, ((const float *) VEC_DATA(v))[i]);
	}
	return pq_endtypsend(&buf);
}

/*
 * Length coercion: vector -> vector(n) only checks the dimensions
 */
VecHeader *
EngramVecCoerce(const VecHeader *v, int32 typmod)
{
	EngramVecCheckTypmod(typmod, v->dim);
	return (VecHeader *) v;
}

/*
 * Element i of a deconstructed numeric array, as float
 */
static float
ArrayElementAsFloat(Oid elemtype, Datum d)
{
	switch (elemtype)
	{
		case INT4OID:
			return (float) DatumGetInt32(d);
		case FLOAT8OID:
			return (float) DatumGetFloat8(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case NUMERICOID:
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, d));
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("unsupported array type")));
	}
	pg_unreachable();
}

/*
 * Cast from integer[], real[], double precision[] or numeric[]
 */
VecHeader *
EngramVecFromArray(const VecType *type, ArrayType *array, int32 typmod)
{
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			nelems;
	VecHeader  *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));

	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, NULL, &nelems);

	EngramVecCheckDim(type, nelems);
	EngramVecCheckTypmod(typmod, nelems);

	result = EngramVecAlloc(type, nelems);
	for (int i = 0; i < nelems; i++)
		SetElementChecked(type, result, i, ArrayElementAsFloat(elemtype, elems[i]));

	/* elements of a by-reference array point into the array itself */
	pfree(elems);

	for (int i = 0; i < nelems; i++)
		CheckElement(type, EngramVecGet(type, result, i));

	return result;
}

/*
 * Cast to real[]
 */
ArrayType *
EngramVecToFloat4Array(const VecType *type, const VecHeader *v)
{
	Datum	   *datums = (Datum *) palloc(mul_size(sizeof(Datum), (Size) v->dim));
	ArrayType  *result;

	for (int i = 0; i < v->dim; i++)
		datums[i] = Float4GetDatum(EngramVecGet(type, v, i));

	result = construct_array(datums, v->dim, FLOAT4OID, sizeof(float4),
							 true, TYPALIGN_INT);
	pfree(datums);
	return result;
}

/*
 * Cast between vector types (vector <-> halfvec)
 */
VecHeader *
EngramVecConvert(const VecType *from, const VecType *to, const VecHeader *v,
				 int32 typmod)
{
	VecHeader  *result;

	EngramVecCheckDim(to, v->dim);
	EngramVecCheckTypmod(typmod, v->dim);

	result = EngramVecAlloc(to, v->dim);
	for (int i = 0; i < v->dim; i++)
		SetElementChecked(to, result, i, EngramVecGet(from, v, i));
	return result;
}

/*
 * Distance between two vectors of the same type
 */
double
EngramVecDistance(const VecType *type, const VecHeader *a, const VecHeader *b,
				  VecMetric metric)
{
	const EngramKernels *k = engram_kernels;
	const void *ax = VEC_DATA(a);
	const void *bx = VEC_DATA(b);
	bool		is_half = type->kind == VEC_ELEM_HALF;
	int			n = a->dim;
	double		d;

	EngramVecCheckSameDims(type, a, b);

	switch (metric)
	{
		case VEC_METRIC_L2:
		case VEC_METRIC_L2_SQUARED:
			d = is_half ? k->f16_l2sq(ax, bx, n) : k->f32_l2sq(ax, bx, n);
			return metric == VEC_METRIC_L2 ? sqrt(d) : d;

		case VEC_METRIC_INNER_PRODUCT:
		case VEC_METRIC_NEGATIVE_INNER_PRODUCT:
			d = is_half ? k->f16_dot(ax, bx, n) : k->f32_dot(ax, bx, n);
			return metric == VEC_METRIC_INNER_PRODUCT ? d : -d;

		case VEC_METRIC_COSINE:
			d = is_half ? k->f16_cosine_sim(ax, bx, n) : k->f32_cosine_sim(ax, bx, n);
			/* keep in range; NaN (a zero vector) passes through */
			if (d > 1)
				d = 1.0;
			else if (d < -1)
				d = -1.0;
			return 1.0 - d;

		case VEC_METRIC_SPHERICAL:
			/* angular distance of unit vectors, for spherical k-means */
			d = is_half ? k->f16_dot(ax, bx, n) : k->f32_dot(ax, bx, n);
			if (d > 1)
				d = 1;
			else if (d < -1)
				d = -1;
			return acos(d) / M_PI;

		case VEC_METRIC_L1:
			return is_half ? k->f16_l1(ax, bx, n) : k->f32_l1(ax, bx, n);
	}
	elog(ERROR, "unknown vector metric %d", (int) metric);
	pg_unreachable();
}

/*
 * Euclidean norm, accumulated in double
 */
double
EngramVecNorm(const VecType *type, const VecHeader *v)
{
	double		norm = 0.0;

	for (int i = 0; i < v->dim; i++)
	{
		double		x = EngramVecGet(type, v, i);

		norm += x * x;
	}
	return sqrt(norm);
}

/*
 * Scale to unit Euclidean norm; the zero vector stays zero
 */
VecHeader *
EngramVecNormalize(const VecType *type, const VecHeader *v)
{
	VecHeader  *result = EngramVecAlloc(type, v->dim);
	double		norm = EngramVecNorm(type, v);

	if (norm > 0)
	{
		bool		overflow = false;

		for (int i = 0; i < v->dim; i++)
		{
			float		x = (float) (EngramVecGet(type, v, i) / norm);

			overflow |= isinf(SetElement(type, result, i, x));
		}
		if (overflow)
			float_overflow_error();
	}
	return result;
}

/*
 * Element-wise +, - and *
 */
VecHeader *
EngramVecArith(const VecType *type, const VecHeader *a, const VecHeader *b,
			   VecArithOp op)
{
	VecHeader  *result;

	EngramVecCheckSameDims(type, a, b);
	result = EngramVecAlloc(type, a->dim);

	for (int i = 0; i < a->dim; i++)
	{
		float		x = EngramVecGet(type, a, i);
		float		y = EngramVecGet(type, b, i);
		float		r;

		switch (op)
		{
			case VEC_ADD:
				r = x + y;
				break;
			case VEC_SUB:
				r = x - y;
				break;
			default:
				r = x * y;
				break;
		}

		r = SetElement(type, result, i, r);
		if (isinf(r))
			float_overflow_error();
		if (op == VEC_MUL && r == 0 && !(x == 0 || y == 0))
			float_underflow_error();
	}
	return result;
}

/*
 * Concatenation: a || b
 */
VecHeader *
EngramVecConcat(const VecType *type, const VecHeader *a, const VecHeader *b)
{
	int			dim = a->dim + b->dim;
	Size		asize = (Size) a->dim * type->elem_size;
	VecHeader  *result;

	EngramVecCheckDim(type, dim);
	result = EngramVecAlloc(type, dim);
	memcpy(VEC_DATA(result), VEC_DATA(a), asize);
	memcpy((char *) VEC_DATA(result) + asize, VEC_DATA(b),
		   (Size) b->dim * type->elem_size);
	return result;
}

/*
 * subvector(v, start, count): elements start .. start + count - 1, counting
 * from 1 like substring
 */
VecHeader *
EngramVecSubvector(const VecType *type, const VecHeader *v, int32 start,
				   int32 count)
{
	int32		end;
	int			dim;
	VecHeader  *result;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", type->name)));

	/* start + count > dim, without overflow: dim and count are positive */
	if (start > v->dim - count)
		end = v->dim + 1;
	else
		end = start + count;

	if (start < 1)
		start = 1;
	else if (start > v->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", type->name)));

	dim = end - start;
	EngramVecCheckDim(type, dim);
	result = EngramVecAlloc(type, dim);
	memcpy(VEC_DATA(result),
		   (const char *) VEC_DATA(v) + (Size) (start - 1) * type->elem_size,
		   (Size) dim * type->elem_size);
	return result;
}

/*
 * binary_quantize(v): one bit per element, set where the element is > 0
 */
Datum
EngramVecBinaryQuantize(const VecType *type, const VecHeader *v)
{
	Size		size = VARBITTOTALLEN((Size) v->dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *rx;

	SET_VARSIZE(result, size);
	VARBITLEN(result) = v->dim;
	rx = VARBITS(result);

	for (int i = 0; i < v->dim; i++)
		if (EngramVecGet(type, v, i) > 0)
			rx[i / 8] |= (bits8) (0x80 >> (i % 8));

	return VarBitPGetDatum(result);
}

/*
 * Ordering for btree: element by element, then by dimensions, like arrays
 */
int
EngramVecCompare(const VecType *type, const VecHeader *a, const VecHeader *b)
{
	int			dim = Min(a->dim, b->dim);

	for (int i = 0; i < dim; i++)
	{
		float		x = EngramVecGet(type, a, i);
		float		y = EngramVecGet(type, b, i);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}

	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

/*
 * Validate an aggregate state array and return its values
 */
static float8 *
StateValues(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 ||
		ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(state);
}

static ArrayType *
MakeState(float8 n, const float8 *sums, int dim)
{
	Datum	   *datums = (Datum *) palloc(mul_size(sizeof(Datum), (Size) dim + 1));
	ArrayType  *result;

	datums[0] = Float8GetDatum(n);
	for (int i = 0; i < dim; i++)
		datums[i + 1] = Float8GetDatum(sums[i]);

	result = construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(datums);
	return result;
}

/*
 * Transition function of avg(): add v to the running sums
 */
ArrayType *
EngramVecAccum(const VecType *type, ArrayType *state, const VecHeader *v)
{
	float8	   *values = StateValues(state, "vector_accum");
	int			dim = STATE_DIMS(state);
	bool		first = dim == 0;
	float8	   *sums;
	ArrayType  *result;

	if (first)
		dim = v->dim;
	else
		EngramVecCheckTypmod(dim, v->dim);

	sums = (float8 *) palloc(mul_size(sizeof(float8), (Size) dim));
	for (int i = 0; i < dim; i++)
	{
		double		x = EngramVecGet(type, v, i);

		sums[i] = first ? x : values[i + 1] + x;
		if (isinf(sums[i]))
			float_overflow_error();
	}

	result = MakeState(values[0] + 1.0, sums, dim);
	pfree(sums);
	return result;
}

/*
 * Combine function of avg(): add two partial states
 */
ArrayType *
EngramVecCombine(ArrayType *state1, ArrayType *state2)
{
	float8	   *values1 = StateValues(state1, "vector_combine");
	float8	   *values2 = StateValues(state2, "vector_combine");
	int			dim1 = STATE_DIMS(state1);
	int			dim2 = STATE_DIMS(state2);
	int			dim = dim1 > 0 ? dim1 : dim2;
	float8	   *sums;
	ArrayType  *result;

	if (dim > 0)
		EngramVecCheckDim(&EngramVectorType, dim);
	if (dim1 > 0 && dim2 > 0)
		EngramVecCheckTypmod(dim1, dim2);

	sums = (float8 *) palloc(mul_size(sizeof(float8), (Size) dim + 1));
	for (int i = 0; i < dim; i++)
	{
		if (dim1 == 0)
			sums[i] = values2[i + 1];
		else if (dim2 == 0)
			sums[i] = values1[i + 1];
		else
			sums[i] = values1[i + 1] + values2[i + 1];
		if (isinf(sums[i]))
			float_overflow_error();
	}

	result = MakeState(values1[0] + values2[0], sums, dim);
	pfree(sums);
	return result;
}

/*
 * Final function of avg(); NULL (returned as NULL here) for no rows
 */
VecHeader *
EngramVecAverage(const VecType *type, ArrayType *state)
{
	float8	   *values = StateValues(state, "vector_avg");
	float8		n = values[0];
	int			dim = STATE_DIMS(state);
	VecHeader  *result;

	if (n == 0.0)
		return NULL;

	EngramVecCheckDim(type, dim);
	result = EngramVecAlloc(type, dim);
	for (int i = 0; i < dim; i++)
	{
		SetElementChecked(type, result, i, (float) (values[i + 1] / n));
		CheckElement(type, EngramVecGet(type, result, i));
	}
	return result;
}
