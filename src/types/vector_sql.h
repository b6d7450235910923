/*-------------------------------------------------------------------------
 *
 * vector_sql.h
 *	  Template of the SQL-callable functions of one vector type.
 *
 * Include this after defining
 *		VEC_SQL_PREFIX	the type's name as a token (vector, halfvec)
 *		VEC_SQL_TYPE	a pointer to its VecType descriptor
 * and it defines engram_<prefix>_<function> for every SQL function of the
 * type, each a thin wrapper over vector_core.c.  The install script binds
 * pgvector's SQL names to these symbols; the engram_ prefix keeps them from
 * colliding with pgvector's own symbols when both libraries are loaded into
 * one backend.
 *
 * src/types/vector_sql.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VEC_SQL_PREFIX
#error "VEC_SQL_PREFIX must be defined before including vector_sql.h"
#endif

#define VEC_SQL_NAME_(prefix, fn)	engram_##prefix##_##fn
#define VEC_SQL_NAME(prefix, fn)	VEC_SQL_NAME_(prefix, fn)
#define VEC_SQL_DEFINE_(name) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS)
#define VEC_SQL_FUNCTION(fn)	VEC_SQL_DEFINE_(VEC_SQL_NAME(VEC_SQL_PREFIX, fn))

#define T VEC_SQL_TYPE
#define ARG(n) PG_GETARG_VEC_P(n)

/* Text input */
VEC_SQL_FUNCTION(in)
{
	PG_RETURN_POINTER(EngramVecIn(T, PG_GETARG_CSTRING(0), PG_GETARG_INT32(2)));
}

/* Text output */
VEC_SQL_FUNCTION(out)
{
	PG_RETURN_CSTRING(EngramVecOut(T, ARG(0)));
}

/* Type modifier input */
VEC_SQL_FUNCTION(typmod_in)
{
	PG_RETURN_INT32(EngramVecTypmodIn(T, PG_GETARG_ARRAYTYPE_P(0)));
}

/* Binary input */
VEC_SQL_FUNCTION(recv)
{
	PG_RETURN_POINTER(EngramVecRecv(T, (StringInfo) PG_GETARG_POINTER(0),
									PG_GETARG_INT32(2)));
}

/* Binary output */
VEC_SQL_FUNCTION(send)
{
	PG_RETURN_BYTEA_P(EngramVecSend(T, ARG(0)));
}

/* Length coercion to a type modifier */
VEC_SQL_FUNCTION(coerce)
{
	PG_RETURN_POINTER(EngramVecCoerce(ARG(0), PG_GETARG_INT32(1)));
}

/* Cast from a numeric array */
VEC_SQL_FUNCTION(from_array)
{
	PG_RETURN_POINTER(EngramVecFromArray(T, PG_GETARG_ARRAYTYPE_P(0),
										 PG_GETARG_INT32(1)));
}

/* Cast to real[] */
VEC_SQL_FUNCTION(to_float4)
{
	PG_RETURN_ARRAYTYPE_P(EngramVecToFloat4Array(T, ARG(0)));
}

/* Euclidean distance */
VEC_SQL_FUNCTION(l2_distance)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1), VEC_METRIC_L2));
}

/* Squared Euclidean distance */
VEC_SQL_FUNCTION(l2_squared_distance)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1), VEC_METRIC_L2_SQUARED));
}

/* Inner product */
VEC_SQL_FUNCTION(inner_product)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1), VEC_METRIC_INNER_PRODUCT));
}

/* Negative inner product, the <#> operator */
VEC_SQL_FUNCTION(negative_inner_product)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1),
									   VEC_METRIC_NEGATIVE_INNER_PRODUCT));
}

/* Cosine distance */
VEC_SQL_FUNCTION(cosine_distance)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1), VEC_METRIC_COSINE));
}

/* Angular distance of unit vectors */
VEC_SQL_FUNCTION(spherical_distance)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1), VEC_METRIC_SPHERICAL));
}

/* Taxicab distance */
VEC_SQL_FUNCTION(l1_distance)
{
	PG_RETURN_FLOAT8(EngramVecDistance(T, ARG(0), ARG(1), VEC_METRIC_L1));
}

/* Number of dimensions */
VEC_SQL_FUNCTION(dims)
{
	PG_RETURN_INT32(ARG(0)->dim);
}

/* Euclidean norm */
VEC_SQL_FUNCTION(norm)
{
	PG_RETURN_FLOAT8(EngramVecNorm(T, ARG(0)));
}

/* Normalize to unit Euclidean norm */
VEC_SQL_FUNCTION(l2_normalize)
{
	PG_RETURN_POINTER(EngramVecNormalize(T, ARG(0)));
}

/* Binary quantization to bit(n) */
VEC_SQL_FUNCTION(binary_quantize)
{
	PG_RETURN_DATUM(EngramVecBinaryQuantize(T, ARG(0)));
}

/* Subvector */
VEC_SQL_FUNCTION(subvector)
{
	PG_RETURN_POINTER(EngramVecSubvector(T, ARG(0), PG_GETARG_INT32(1),
										 PG_GETARG_INT32(2)));
}

/* The + operator */
VEC_SQL_FUNCTION(add)
{
	PG_RETURN_POINTER(EngramVecArith(T, ARG(0), ARG(1), VEC_ADD));
}

/* The - operator */
VEC_SQL_FUNCTION(sub)
{
	PG_RETURN_POINTER(EngramVecArith(T, ARG(0), ARG(1), VEC_SUB));
}

/* The * operator */
VEC_SQL_FUNCTION(mul)
{
	PG_RETURN_POINTER(EngramVecArith(T, ARG(0), ARG(1), VEC_MUL));
}

/* The || operator */
VEC_SQL_FUNCTION(concat)
{
	PG_RETURN_POINTER(EngramVecConcat(T, ARG(0), ARG(1)));
}

/* The < operator */
VEC_SQL_FUNCTION(lt)
{
	PG_RETURN_BOOL(EngramVecCompare(T, ARG(0), ARG(1)) < 0);
}

/* The <= operator */
VEC_SQL_FUNCTION(le)
{
	PG_RETURN_BOOL(EngramVecCompare(T, ARG(0), ARG(1)) <= 0);
}

/* The = operator */
VEC_SQL_FUNCTION(eq)
{
	PG_RETURN_BOOL(EngramVecCompare(T, ARG(0), ARG(1)) == 0);
}

/* The <> operator */
VEC_SQL_FUNCTION(ne)
{
	PG_RETURN_BOOL(EngramVecCompare(T, ARG(0), ARG(1)) != 0);
}

/* The >= operator */
VEC_SQL_FUNCTION(ge)
{
	PG_RETURN_BOOL(EngramVecCompare(T, ARG(0), ARG(1)) >= 0);
}

/* The > operator */
VEC_SQL_FUNCTION(gt)
{
	PG_RETURN_BOOL(EngramVecCompare(T, ARG(0), ARG(1)) > 0);
}

/* btree support: less-equal-greater */
VEC_SQL_FUNCTION(cmp)
{
	PG_RETURN_INT32(EngramVecCompare(T, ARG(0), ARG(1)));
}

/* avg() transition */
VEC_SQL_FUNCTION(accum)
{
	PG_RETURN_ARRAYTYPE_P(EngramVecAccum(T, PG_GETARG_ARRAYTYPE_P(0), ARG(1)));
}

/* avg() combine */
VEC_SQL_FUNCTION(combine)
{
	PG_RETURN_ARRAYTYPE_P(EngramVecCombine(PG_GETARG_ARRAYTYPE_P(0),
										   PG_GETARG_ARRAYTYPE_P(1)));
}

/* avg() final */
VEC_SQL_FUNCTION(avg)
{
	VecHeader  *result = EngramVecAverage(T, PG_GETARG_ARRAYTYPE_P(0));

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(result);
}

#undef T
#undef ARG
#undef VEC_SQL_FUNCTION
#undef VEC_SQL_DEFINE_
#undef VEC_SQL_NAME
#undef VEC_SQL_NAME_
#undef VEC_SQL_PREFIX
#undef VEC_SQL_TYPE
