/*-------------------------------------------------------------------------
 *
 * hnswexplain.c
 *	  engram.explain_search(): the counters of one engram_hnsw search and of
 *	  the re-rank that follows it.
 *
 * The graph search is the one an index scan runs (hnswscan.c).  Its
 * candidates then go through what the executor does with a scan's rows for
 * ORDER BY ... LIMIT k (nodeIndexscan.c, IndexNextWithReorder): in order of
 * their lower bounds, fetch each candidate's heap tuple (the cold tier),
 * compute the exact distance with the ORDER BY operator, queue it, and
 * return queued rows whose exact distance is at most the lower bound of the
 * last candidate fetched, until k rows are returned.  The heap buffers those
 * fetches use are counted as the scan statistics count the cold tier (see
 * README, "Statistics").  Iterative scans, which search again wider when the
 * candidates run out, are not replayed: with fewer than k live candidates,
 * every one is re-ranked.
 *
 * src/am/hnsw/hnswexplain.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "funcapi.h"
#include "lib/binaryheap.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "am/hnsw/hnsw.h"

/* The ORDER BY operator of every engram_hnsw operator class */
#define HNSW_DISTANCE_STRATEGY 1

/* What the re-rank of LIMIT k did */
typedef struct ReRankCounts
{
	int			reranked;		/* candidates whose heap tuples were fetched */
	int64		cold_hits;		/* heap buffers found in shared buffers */
	int64		cold_reads;		/* heap buffers read from the kernel */
} ReRankCounts;

/* Candidates in the order the scan hands them out: by lower bound */
static int
CompareLowerBound(const void *a, const void *b)
{
	return float8_cmp_internal(((const HnswCandidate *) a)->lower_bound,
							   ((const HnswCandidate *) b)->lower_bound);
}

/* binaryheap keeps its largest element first: smallest distance wins */
static int
CompareQueued(Datum a, Datum b, void *arg)
{
	return float8_cmp_internal(DatumGetFloat8(b), DatumGetFloat8(a));
}

/*
 * Replay the executor's re-rank of the ncands candidates for LIMIT k against
 * the query (a value of the indexed column's type)
 */
static void
ReRank(Relation index, HnswCandidate *cands, int ncands, Datum query, int k,
	   ReRankCounts *out)
{
	Relation	heap = table_open(index->rd_index->indrelid, AccessShareLock);
	IndexInfo  *ii = BuildIndexInfo(index);
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexFetchTableData *fetch = table_index_fetch_begin(heap);
	Snapshot	snapshot = GetActiveSnapshot();
	Oid			op = get_opfamily_member(index->rd_opfamily[0], index->rd_opcintype[0],
										 index->rd_opcintype[0], HNSW_DISTANCE_STRATEGY);
	FmgrInfo	distance;
	binaryheap *queue = binaryheap_allocate(Max(ncands, 1), CompareQueued, NULL);
	int64		hits0;
	int64		reads0;
	double		last_bound = 0;
	int			next = 0;
	int			returned = 0;

	if (!OidIsValid(op))
		elog(ERROR, "missing ORDER BY operator for engram_hnsw index \"%s\"",
			 RelationGetRelationName(index));
	fmgr_info(get_opcode(op), &distance);
	econtext->ecxt_scantuple = slot;
	qsort(cands, ncands, sizeof(HnswCandidate), CompareLowerBound);
	memset(out, 0, sizeof(ReRankCounts));

	/* from here on only the fetches use buffers: no catalog lookups */
	hits0 = pgBufferUsage.shared_blks_hit;
	reads0 = pgBufferUsage.shared_blks_read;

	while (returned < k)
	{
		HnswCandidate *c;
		bool		call_again = false;
		bool		all_dead = false;
		Datum		value;
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		/* rows no later candidate can come before */
		if (!binaryheap_empty(queue) &&
			(next >= ncands || DatumGetFloat8(binaryheap_first(queue)) <= last_bound))
		{
			(void) binaryheap_remove_first(queue);
			returned++;
			continue;
		}
		if (next >= ncands)
			break;

		c = &cands[next++];
		if (c->deleted)
			continue;
		out->reranked++;
		last_bound = c->lower_bound;
		if (!table_index_fetch_tuple(fetch, &c->heaptid, snapshot, slot,
									 &call_again, &all_dead))
			continue;			/* not visible: the scan moves on */
		ResetExprContext(econtext);
		FormIndexDatum(ii, slot, estate, &value, &isnull);
		if (isnull)
			continue;
		binaryheap_add(queue,
					   FunctionCall2Coll(&distance, index->rd_indcollation[0], value, query));
	}
	out->cold_hits = pgBufferUsage.shared_blks_hit - hits0;
	out->cold_reads = pgBufferUsage.shared_blks_read - reads0;

	binaryheap_free(queue);
	table_index_fetch_end(fetch);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	table_close(heap, AccessShareLock);
}

/*
 * engram.explain_search(index regclass, query anyelement, ef int, k int):
 * run the graph search of a scan once and return its counters (nodes
 * expanded per layer, code distances, index pages per tier, candidates
 * found) and those of the re-rank for LIMIT k (candidates re-ranked, heap
 * pages)
 */
PG_FUNCTION_INFO_V1(engram_hnsw_explain_search);
Datum
engram_hnsw_explain_search(PG_FUNCTION_ARGS)
{
	Relation	index = HnswOpenChecked(PG_GETARG_OID(0));
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	int			ef = PG_GETARG_INT32(2);
	int			k = PG_GETARG_INT32(3);
	HnswIndexInfo info;
	HnswMetaPageData meta;
	HnswSearchStats upper;
	HnswSearchStats layer0;
	HnswQuery	q;
	float	   *x;
	HnswPrepared prepared;
	int			found = 0;
	ReRankCounts rerank;
	TupleDesc	desc;
	Datum		values[11];
	bool		nulls[11] = {false};
	uint64		layer_nodes[HNSW_MAX_LEVEL + 1];
	Datum		per_layer[HNSW_MAX_LEVEL + 1];

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (argtype != TupleDescAttr(RelationGetDescr(index), 0)->atttypid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("query must be of type %s, the type of the indexed column",
						format_type_be(TupleDescAttr(RelationGetDescr(index), 0)->atttypid))));
	if (ef < 1 || ef > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef must be between 1 and 100000")));
	if (k < 1 || k > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 100000")));

	HnswGetIndexInfo(index, &info);
	HnswReadMeta(index, &meta);
	memset(&upper, 0, sizeof(upper));
	memset(&layer0, 0, sizeof(layer0));
	memset(&rerank, 0, sizeof(rerank));
	upper.hot_end = layer0.hot_end = meta.hot_end;
	memset(layer_nodes, 0, sizeof(layer_nodes));
	upper.layer_nodes = layer_nodes;
	x = palloc(sizeof(float) * info.dim);

	prepared = HnswPrepareVector(&info, PG_GETARG_DATUM(1), x);
	if (prepared != HNSW_PREPARED_SKIP && ItemPointerIsValid(&meta.entry))
	{
		HnswCandidate *results = palloc(sizeof(HnswCandidate) * ef);
		HnswVisited *visited = HnswVisitedForIndex(CurrentMemoryContext, index, &info);

		HnswInitQuery(&q, &info, x, prepared == HNSW_PREPARED_UNBOUNDED);
		found = HnswSearchFromTop(index, &info, &q, &meta, ef, engram_hnsw_layer1_ef,
								  results, visited, &upper, &layer0);
		HnswVisitedRelease(visited);
		ReRank(index, results, found, PG_GETARG_DATUM(1), k, &rerank);
	}
	index_close(index, AccessShareLock);

	values[0] = Int64GetDatum(upper.nodes_expanded);
	values[1] = Int64GetDatum(layer0.nodes_expanded);
	values[2] = Int64GetDatum(upper.distances + layer0.distances);
	values[3] = Int64GetDatum(upper.pages_hot + layer0.pages_hot);
	values[4] = Int64GetDatum(upper.pages_warm + layer0.pages_warm);
	values[5] = Int32GetDatum(found);
	values[6] = Int32GetDatum(meta.entry_level);
	/* nodes expanded per layer, layer 0 first */
	layer_nodes[0] = layer0.nodes_expanded;
	for (int l = 0; l <= Max(meta.entry_level, 0); l++)
		per_layer[l] = Int64GetDatum((int64) layer_nodes[l]);
	values[7] = PointerGetDatum(construct_array(per_layer, Max(meta.entry_level, 0) + 1,
												INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE));
	values[8] = Int32GetDatum(rerank.reranked);
	values[9] = Int64GetDatum(rerank.cold_hits);
	values[10] = Int64GetDatum(rerank.cold_reads);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
