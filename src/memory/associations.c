/*-------------------------------------------------------------------------
 *
 * associations.c
 *	  Learning and forgetting: Hebbian reinforcement and decay of the
 *	  associations of a memory table.
 *
 * Creating and removing single edges (engram.associate, engram.dissociate)
 * is plain DML and lives in the install script.
 *
 * src/memory/associations.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "memory/memory.h"

static SPIPlanPtr hebbian_plan = NULL;
static SPIPlanPtr recalled_plan = NULL;
static SPIPlanPtr prune_plan = NULL;
static SPIPlanPtr decay_plan = NULL;

/*
 * Strengthen the associations among the n recalled memories in both
 * directions (w <- w + eta (1 - w), new ones at eta) and count the recall.
 * Rows are written in key order so that concurrent recalls and
 * engram.associate() take their row locks in one order and cannot deadlock.
 * Must be called inside SPI.
 */
void
EngramMemoryReinforce(MemoryTable *mt, const int64 *ids, int n)
{
	Oid			argtypes[3] = {OIDOID, INT8ARRAYOID, FLOAT4OID};
	Datum		values[3];
	int64	   *locked = palloc(sizeof(int64) * n);
	int			nlocked = 0;

	/*
	 * Lock the rows (FOR KEY SHARE, in key order) so that none is deleted
	 * under its new edges; rows deleted since the recall drop out here
	 */
	values[0] = PointerGetDatum(EngramInt8Array(ids, n));
	if (SPI_execute_plan(mt->lock_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot lock recalled memories");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		locked[nlocked++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (nlocked == 0)
		return;

	EngramMemoryPrepare(&hebbian_plan,
						"INSERT INTO engram.associations AS a (tbl, src, dst, weight, kind)"
						" SELECT $1, s, d, $3, 'hebbian'"
						" FROM unnest($2) s, unnest($2) d WHERE s <> d ORDER BY s, d"
						" ON CONFLICT (tbl, src, dst) DO UPDATE"
						" SET weight = least(1, a.weight + $3 * (1 - a.weight))",
						3, argtypes);
	EngramMemoryPrepare(&recalled_plan,
						"INSERT INTO engram.memory_state AS m (tbl, id, recall_count, last_recall)"
						" SELECT $1, i, 1, now() FROM unnest($2) i ORDER BY i"
						" ON CONFLICT (tbl, id) DO UPDATE"
						" SET recall_count = m.recall_count + 1, last_recall = now()",
						2, argtypes);
	values[0] = ObjectIdGetDatum(mt->relid);
	values[1] = PointerGetDatum(EngramInt8Array(locked, nlocked));
	values[2] = Float4GetDatum((float4) engram_memory_learning_rate);
	if (SPI_execute_plan(hebbian_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "cannot reinforce associations");
	if (SPI_execute_plan(recalled_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "cannot record recalls");
}

/*
 * engram.decay_associations(tbl, factor): multiply every weight by factor,
 * removing the associations that fall below engram.prune_below; returns the
 * number removed
 */
PG_FUNCTION_INFO_V1(engram_memory_decay_associations);
Datum
engram_memory_decay_associations(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	float4		factor = PG_GETARG_FLOAT4(1);
	Oid			argtypes[3] = {OIDOID, FLOAT8OID, FLOAT8OID};
	Datum		values[3];
	uint64		pruned;

	if (!(factor > 0 && factor <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("decay factor must be greater than 0 and at most 1"),
				 errdetail("The value given was %g.", factor)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	EngramMemoryTableGet(relid, InvalidOid);

	/*
	 * Edges are locked in key order, as every writer of them does, so that
	 * decay cannot deadlock with recalls, associate or deletes.  Products in
	 * double precision, the same in both statements: a weight
	 * below the smallest normal real would underflow when stored, so it is
	 * pruned whatever engram.prune_below says
	 */
	EngramMemoryPrepare(&prune_plan,
						"DELETE FROM engram.associations a WHERE (a.tbl, a.src, a.dst) IN"
						" (SELECT x.tbl, x.src, x.dst FROM engram.associations x"
						"  WHERE x.tbl = $1 AND x.weight::float8 * $2"
						"        < greatest($3, 1.17549435e-38::float8)"
						"  ORDER BY x.src, x.dst FOR UPDATE)",
						3, argtypes);
	EngramMemoryPrepare(&decay_plan,
						"UPDATE engram.associations a SET weight = (a.weight::float8 * $2)::real"
						" WHERE (a.tbl, a.src, a.dst) IN"
						" (SELECT x.tbl, x.src, x.dst FROM engram.associations x"
						"  WHERE x.tbl = $1 AND $2 < 1 ORDER BY x.src, x.dst FOR UPDATE)",
						2, argtypes);
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Float8GetDatum((double) factor);
	values[2] = Float8GetDatum(engram_memory_prune_below);
	if (SPI_execute_plan(prune_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "cannot prune associations");
	pruned = SPI_processed;
	if (SPI_execute_plan(decay_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "cannot decay associations");
	SPI_finish();
	PG_RETURN_INT64((int64) pruned);
}
