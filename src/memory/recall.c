/*-------------------------------------------------------------------------
 *
 * recall.c
 *	  engram.recall: the memories a cue activates.
 *
 * The cue's nearest rows come from the table's engram_hnsw cosine index
 * (one prepared "ORDER BY embedding <=> cue LIMIT n" query).  In mode
 * 'similarity' they are the answer; in 'spreading' and 'hybrid' they seed a
 * spread (spread.c) with their similarity as activation.
 *
 * src/memory/recall.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "utils/builtins.h"

#include "memory/memory.h"
#include "stats.h"

#define RECALL_MAX_K 1000

typedef enum RecallMode
{
	RECALL_SIMILARITY,
	RECALL_SPREADING,
	RECALL_HYBRID
} RecallMode;

static RecallMode
ParseMode(text *mode)
{
	char	   *m = text_to_cstring(mode);

	if (strcmp(m, "similarity") == 0)
		return RECALL_SIMILARITY;
	if (strcmp(m, "spreading") == 0)
		return RECALL_SPREADING;
	if (strcmp(m, "hybrid") == 0)
		return RECALL_HYBRID;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid recall mode \"%s\"", m),
			 errhint("Valid modes are \"similarity\", \"spreading\" and \"hybrid\".")));
	pg_unreachable();
}

static void
CheckCount(const char *name, int value)
{
	if (value < 1 || value > RECALL_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 1 and %d", name, RECALL_MAX_K),
				 errdetail("The value given was %d.", value)));
}

typedef struct RecallFilter
{
	RecallMode	mode;
	double		threshold;
} RecallFilter;

/*
 * similarity: every seed; hybrid: the seeds and the rows the spread reached
 * with enough activation; spreading: only the latter
 */
static bool
Returnable(const SpreadNode *node, const void *arg)
{
	const RecallFilter *f = (const RecallFilter *) arg;

	if (node->hops == 0)
		return f->mode != RECALL_SPREADING;
	return f->mode != RECALL_SIMILARITY && node->activation >= f->threshold;
}

/*
 * engram.recall(tbl, cue, k, mode, seeds, max_hops, decay, threshold, reinforce)
 */
PG_FUNCTION_INFO_V1(engram_memory_recall);
Datum
engram_memory_recall(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	int			k;
	RecallMode	mode;
	int			nseeds_wanted;
	SpreadParams params;
	bool		reinforce;
	MemoryTable *mt;
	Datum		values[2];
	int			nseeds;
	int64	   *seeds;
	double	   *sims;
	SpreadGraph *graph;
	RecallFilter filter;
	SpreadNode **sorted;
	int			nsorted;
	int64	   *returned;
	int			nreturned = 0;
	bool		counting = EngramMemoryStatsActive();
	instr_time	start;

	INSTR_TIME_SET_ZERO(start);
	if (counting)
		INSTR_TIME_SET_CURRENT(start);

	ARG_NOT_NULL(0, "tbl");
	ARG_NOT_NULL(1, "cue");
	ARG_NOT_NULL(2, "k");
	ARG_NOT_NULL(3, "mode");
	ARG_NOT_NULL(5, "max_hops");
	ARG_NOT_NULL(6, "decay");
	ARG_NOT_NULL(7, "threshold");
	ARG_NOT_NULL(8, "reinforce");
	relid = PG_GETARG_OID(0);
	k = PG_GETARG_INT32(2);
	CheckCount("k", k);
	mode = ParseMode(PG_GETARG_TEXT_PP(3));
	nseeds_wanted = PG_ARGISNULL(4) ? k : PG_GETARG_INT32(4);
	CheckCount("seeds", nseeds_wanted);
	params.max_hops = PG_GETARG_INT32(5);
	EngramSpreadValidate(params.max_hops, PG_GETARG_FLOAT4(6), PG_GETARG_FLOAT4(7));
	params.decay = PG_GETARG_FLOAT4(6);
	params.threshold = PG_GETARG_FLOAT4(7);
	reinforce = PG_GETARG_BOOL(8);
	if (mode == RECALL_SIMILARITY)
		nseeds_wanted = k;

	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mt = EngramMemoryTableGet(relid, get_fn_expr_argtype(fcinfo->flinfo, 1));

	/* the nearest rows: similarity = 1 - cosine distance, in [0, 1] */
	values[0] = PG_GETARG_DATUM(1);
	values[1] = Int64GetDatum(nseeds_wanted);
	if (SPI_execute_plan(mt->knn_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot search memory table");
	seeds = palloc(sizeof(int64) * Max(SPI_processed, 1));
	sims = palloc(sizeof(double) * Max(SPI_processed, 1));
	nseeds = 0;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		idnull;
		bool		dnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		int64		id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &idnull));
		double		d = DatumGetFloat8(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &dnull));

		/* rows without a usable embedding (NULL, zero) have no similarity */
		if (idnull || dnull || isnan(d))
			continue;
		seeds[nseeds] = id;
		sims[nseeds] = Max(0.0, Min(1.0, (double) (float4) (1.0 - d)));
		nseeds++;
	}
	SPI_freetuptable(SPI_tuptable);

	if (mode == RECALL_SIMILARITY)
	{
		/* no hop: a spread of zero hops is exactly the seeds */
		params.max_hops = 0;
	}
	graph = EngramSpread(relid, seeds, sims, nseeds, &params);
	for (int i = 0; i < nseeds; i++)
		graph->nodes[i].similarity = sims[i];	/* seeds come first */
	filter.mode = mode;
	filter.threshold = params.threshold;
	sorted = EngramSpreadSorted(graph, Returnable, &filter, k, &nsorted);

	returned = palloc(sizeof(int64) * k);
	for (int i = 0; i < nsorted && nreturned < k; i++)
	{
		SpreadNode *n = sorted[i];
		Datum		out[4];
		bool		nulls[4] = {false, false, false, false};

		out[0] = Int64GetDatum(n->id);
		out[1] = Float4GetDatum(n->reported);
		if (n->similarity >= 0)
			out[2] = Float4GetDatum((float4) n->similarity);
		else
			nulls[2] = true;
		out[3] = Int32GetDatum(n->hops);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
		returned[nreturned++] = n->id;
	}

	if (reinforce && nreturned > 0)
		EngramMemoryReinforce(mt, returned, nreturned);
	if (counting)
		EngramStatsCountMemory(relid, ENGRAM_MEMORY_RECALL, graph->nnodes, start);
	SPI_finish();
	return (Datum) 0;
}
