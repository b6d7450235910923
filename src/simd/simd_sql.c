/*-------------------------------------------------------------------------
 *
 * simd_sql.c
 *	  PostgreSQL glue of the SIMD kernels: the engram.simd setting and
 *	  the engram.simd_info() function.
 *
 * engram.simd (superuser, default "auto") forces one kernel variant, so
 * that results and speed of the variants can be compared on one machine.
 * Setting a variant this CPU cannot run is refused, rather than silently
 * falling back, so that a comparison never measures the wrong kernels.
 *
 * src/simd/simd_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "simd.h"
#include "simd_guc.h"

/* engram.simd value meaning "the best variant this CPU supports" */
#define SIMD_AUTO	(-1)

static const struct config_enum_entry simd_options[] = {
	{"auto", SIMD_AUTO, false},
	{"avx512", ENGRAM_SIMD_AVX512, false},
	{"avx2", ENGRAM_SIMD_AVX2, false},
	{"neon", ENGRAM_SIMD_NEON, false},
	{"scalar", ENGRAM_SIMD_SCALAR, false},
	{NULL, 0, false}
};

static int	simd_setting = SIMD_AUTO;

static bool
check_simd(int *newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == SIMD_AUTO || engram_simd_supported(*newval))
		return true;
	GUC_check_errdetail("This CPU does not support the %s kernels.",
						engram_simd_variant_name(*newval));
	return false;
}

static void
assign_simd(int newval, void *extra)
{
	(void) extra;
	/* the check hook has made sure the variant is supported */
	(void) engram_simd_select(newval == SIMD_AUTO ? engram_simd_best()
							  : (EngramSimdVariant) newval);
}

void
EngramSimdDefineGuc(void)
{
	DefineCustomEnumVariable("engram.simd",
							 "Selects the SIMD variant of the distance kernels.",
							 "\"auto\" uses the best variant this CPU supports.",
							 &simd_setting,
							 SIMD_AUTO,
							 simd_options,
							 PGC_SUSET,
							 0,
							 check_simd,
							 assign_simd,
							 NULL);
}

/* The CPU features seen by detection, as a text[] */
static ArrayType *
cpu_features_array(void)
{
	const char *const *features = engram_simd_cpu_features();
	int			n = 0;
	Datum	   *elems;

	while (features[n] != NULL)
		n++;
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(features[i]);
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * engram.simd_info(OUT variant text, OUT cpu_features text[]): the kernel
 * variant in use and the CPU features detection saw, to check what
 * engram.simd = auto picked and why.
 */
PG_FUNCTION_INFO_V1(engram_simd_info);

Datum
engram_simd_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = CStringGetTextDatum(engram_kernels->name);
	values[1] = PointerGetDatum(cpu_features_array());
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
