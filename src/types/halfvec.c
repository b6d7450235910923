/*-------------------------------------------------------------------------
 *
 * halfvec.c
 *	  SQL functions of the halfvec type (half precision).
 *
 * src/types/halfvec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "types/vector.h"

#define VEC_SQL_PREFIX halfvec
#define VEC_SQL_TYPE (&EngramHalfvecType)
#include "types/vector_sql.h"
