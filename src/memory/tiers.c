/*-------------------------------------------------------------------------
 *
 * tiers.c
 *	  Memory tiers and engram.memory_stats.
 *
 * A memory is hot when it was recalled at least engram.hot_recalls times
 * and last within engram.hot_age, warm when otherwise recalled within
 * engram.warm_age, and cold otherwise (never recalled included).  Recalls
 * are counted by engram.recall(reinforce => true) in engram.memory_state.
 *
 * src/memory/tiers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "memory/memory.h"

static SPIPlanPtr tiers_plan = NULL;

static int64
FirstInt8(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * engram.memory_stats(tbl): memories, hot, warm, cold, edges, mean_degree
 */
PG_FUNCTION_INFO_V1(engram_memory_stats);
Datum
engram_memory_stats(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	TupleDesc	tupdesc;
	MemoryTable *mt;
	char	   *query;
	Oid			argtypes[4] = {OIDOID, INT8OID, INT4OID, INT4OID};
	Datum		values[4];
	int64		memories;
	int64		hot;
	int64		warm;
	int64		edges;
	Datum		out[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mt = EngramMemoryTableGet(relid, InvalidOid);

	query = psprintf("SELECT count(*) FROM %s", mt->qualname);
	if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot count memories");
	memories = FirstInt8(1);

	/* state rows of deleted memories are removed with them */
	EngramMemoryPrepare(&tiers_plan,
						"SELECT count(*) FILTER (WHERE hot),"
						"       count(*) FILTER (WHERE NOT hot AND last_recall >= now() - make_interval(secs => $4)),"
						"       (SELECT count(*) FROM engram.associations WHERE tbl = $1)"
						" FROM (SELECT last_recall, recall_count >= $2"
						"              AND last_recall >= now() - make_interval(secs => $3) AS hot"
						"       FROM engram.memory_state WHERE tbl = $1) s",
						4, argtypes);
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum((int64) engram_memory_hot_recalls);
	values[2] = Int32GetDatum(engram_memory_hot_age);
	values[3] = Int32GetDatum(engram_memory_warm_age);
	if (SPI_execute_plan(tiers_plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot read engram.memory_state");
	hot = FirstInt8(1);
	warm = FirstInt8(2);
	edges = FirstInt8(3);
	SPI_finish();

	out[0] = Int64GetDatum(memories);
	out[1] = Int64GetDatum(hot);
	out[2] = Int64GetDatum(warm);
	out[3] = Int64GetDatum(Max(0, memories - hot - warm));
	out[4] = Int64GetDatum(edges);
	if (memories > 0)
		out[5] = Float8GetDatum((double) edges / (double) memories);
	else
		nulls[5] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, out, nulls)));
}
