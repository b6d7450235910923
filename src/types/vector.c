/*-------------------------------------------------------------------------
 *
 * vector.c
 *	  SQL functions of the vector type (single precision), and the casts
 *	  between vector and halfvec.
 *
 * src/types/vector.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "types/vector.h"

#define VEC_SQL_PREFIX vector
#define VEC_SQL_TYPE (&EngramVectorType)
#include "types/vector_sql.h"

/* Cast vector to halfvec */
PG_FUNCTION_INFO_V1(engram_vector_to_halfvec);
Datum
engram_vector_to_halfvec(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(EngramVecConvert(&EngramVectorType, &EngramHalfvecType,
									   PG_GETARG_VEC_P(0), PG_GETARG_INT32(1)));
}

/* Cast halfvec to vector */
PG_FUNCTION_INFO_V1(engram_halfvec_to_vector);
Datum
engram_halfvec_to_vector(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(EngramVecConvert(&EngramHalfvecType, &EngramVectorType,
									   PG_GETARG_VEC_P(0), PG_GETARG_INT32(1)));
}
