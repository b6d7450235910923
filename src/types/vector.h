/*-------------------------------------------------------------------------
 *
 * vector.h
 *	  The pgvector-compatible vector types: on-disk layout, the element-type
 *	  descriptor and the generic operations behind every SQL function.
 *
 * vector and halfvec share one implementation (vector_core.c) driven by a
 * small descriptor (VecType); vector.c and halfvec.c only instantiate the
 * SQL-callable wrappers from vector_sql.h.  The varlena layout is pgvector's,
 * byte for byte, so existing pgvector columns can be read in place:
 *
 *		int32 vl_len_; int16 dim; int16 unused (always 0); elements[dim]
 *
 * src/types/vector.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_VECTOR_H
#define ENGRAM_VECTOR_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"

#define VECTOR_MAX_DIM 16000
#define HALFVEC_MAX_DIM 16000

typedef uint16 half;			/* IEEE binary16, see src/simd/f16.h */

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

typedef struct HalfVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	half		x[FLEXIBLE_ARRAY_MEMBER];
} HalfVector;

/* The header both types share; generic code sees vectors through it */
typedef struct VecHeader
{
	int32		vl_len_;
	int16		dim;
	int16		unused;
} VecHeader;

#define VEC_DATA(v)		((void *) ((char *) (v) + sizeof(VecHeader)))

#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define DatumGetHalfVector(x)	((HalfVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_HALFVEC_P(x)	DatumGetHalfVector(PG_GETARG_DATUM(x))
#define PG_GETARG_VEC_P(x)		((VecHeader *) PG_DETOAST_DATUM(PG_GETARG_DATUM(x)))

typedef enum VecElemKind
{
	VEC_ELEM_FLOAT4,
	VEC_ELEM_HALF
} VecElemKind;

/* Element-type descriptor: everything the generic code needs to know */
typedef struct VecType
{
	const char *name;			/* SQL type name, used in error messages */
	VecElemKind kind;
	int			elem_size;
	int			max_dim;
} VecType;

extern const VecType EngramVectorType;
extern const VecType EngramHalfvecType;

typedef enum VecMetric
{
	VEC_METRIC_L2,
	VEC_METRIC_L2_SQUARED,
	VEC_METRIC_INNER_PRODUCT,
	VEC_METRIC_NEGATIVE_INNER_PRODUCT,
	VEC_METRIC_COSINE,
	VEC_METRIC_SPHERICAL,
	VEC_METRIC_L1
} VecMetric;

typedef enum VecArithOp
{
	VEC_ADD,
	VEC_SUB,
	VEC_MUL
} VecArithOp;

/* vector_core.c: construction and checks */
extern VecHeader *EngramVecAlloc(const VecType *type, int dim);
extern Vector *EngramVectorAlloc(int dim);
extern void EngramVecCheckDim(const VecType *type, int dim);
extern void EngramVecCheckSameDims(const VecType *type, const VecHeader *a,
								   const VecHeader *b);
extern void EngramVecCheckTypmod(int32 typmod, int dim);
extern float EngramVecGet(const VecType *type, const VecHeader *v, int i);

/* vector_core.c: I/O */
extern VecHeader *EngramVecIn(const VecType *type, char *lit, int32 typmod);
extern char *EngramVecOut(const VecType *type, const VecHeader *v);
extern int32 EngramVecTypmodIn(const VecType *type, ArrayType *ta);
extern VecHeader *EngramVecRecv(const VecType *type, StringInfo buf, int32 typmod);
extern bytea *EngramVecSend(const VecType *type, const VecHeader *v);

/* vector_core.c: casts */
extern VecHeader *EngramVecCoerce(const VecHeader *v, int32 typmod);
extern VecHeader *EngramVecFromArray(const VecType *type, ArrayType *array,
									 int32 typmod);
extern ArrayType *EngramVecToFloat4Array(const VecType *type, const VecHeader *v);
extern VecHeader *EngramVecConvert(const VecType *from, const VecType *to,
								   const VecHeader *v, int32 typmod);

/* vector_core.c: distances, norms and arithmetic */
extern double EngramVecDistance(const VecType *type, const VecHeader *a,
								const VecHeader *b, VecMetric metric);
extern double EngramVecNorm(const VecType *type, const VecHeader *v);
extern VecHeader *EngramVecNormalize(const VecType *type, const VecHeader *v);
extern VecHeader *EngramVecArith(const VecType *type, const VecHeader *a,
								 const VecHeader *b, VecArithOp op);
extern VecHeader *EngramVecConcat(const VecType *type, const VecHeader *a,
								  const VecHeader *b);
extern VecHeader *EngramVecSubvector(const VecType *type, const VecHeader *v,
									 int32 start, int32 count);
extern Datum EngramVecBinaryQuantize(const VecType *type, const VecHeader *v);
extern int	EngramVecCompare(const VecType *type, const VecHeader *a,
							 const VecHeader *b);

/* vector_core.c: aggregates */
extern ArrayType *EngramVecAccum(const VecType *type, ArrayType *state,
								 const VecHeader *v);
extern ArrayType *EngramVecCombine(ArrayType *state1, ArrayType *state2);
extern VecHeader *EngramVecAverage(const VecType *type, ArrayType *state);

#endif							/* ENGRAM_VECTOR_H */
