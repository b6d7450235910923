/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  engram_hnsw: index scans for ORDER BY col <op> value.
 *
 * The graph search runs on the nodes' codes.  Each result goes back with a
 * lower bound of its exact distance and xs_recheckorderby set, so the
 * executor computes the exact distance from the heap tuple (the cold tier)
 * and returns rows in exact order; the heap pages of a batch of results are
 * prefetched together first.  Iterative scans widen the search (doubling
 * ef) when the executor wants more rows than a search found, skipping rows
 * already returned.  See README, "Search" and "Iterative scans".
 *
 * src/am/hnsw/hnswscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relscan.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"
#include "readahead.h"
#include "stats.h"

typedef struct HnswScanOpaqueData
{
	HnswIndexInfo info;
	MemoryContext cxt;			/* reset on rescan */
	bool		started;
	bool		exhausted;
	HnswQuery	query;
	int			ef;
	HnswCandidate *results;		/* sorted by lower bound */
	int			nresults;
	int			next;
	int			prefetched;		/* results whose heap pages were read ahead */
	HnswVisited *returned;		/* nodes handed out (iterative scans) */
	double		last_bound;		/* strict_order: bounds never go down */
	uint64		visited;		/* nodes the scan's searches looked at */

	/* statistics (src/stats.c), when counting */
	bool		counting;
	HnswSearchStats stats;
	EngramScanCounts counts;
	bool		gap_open;		/* a row was returned; its heap fetch follows */
	int64		gap_hits;		/* pgBufferUsage when the row was returned */
	int64		gap_reads;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

IndexScanDesc
engram_hnsw_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	HnswGetIndexInfo(index, &so->info);
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "engram_hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

/*
 * Buffer use since the last row was returned: the executor's fetch of that
 * row's heap tuple, the cold tier (see README, "Statistics")
 */
static void
CloseColdGap(HnswScanOpaque so)
{
	if (!so->gap_open)
		return;
	so->counts.hits[ENGRAM_TIER_COLD] += pgBufferUsage.shared_blks_hit - so->gap_hits;
	so->counts.reads[ENGRAM_TIER_COLD] += pgBufferUsage.shared_blks_read - so->gap_reads;
	so->gap_open = false;
}

/*
 * Hand a finished scan's counters to shared memory, once per scan
 */
static void
FlushScanStats(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	EngramScanCounts *c = &so->counts;

	if (!so->started || !so->counting)
		return;
	CloseColdGap(so);
	c->distances = so->stats.distances;
	c->nodes_expanded = so->stats.nodes_expanded;
	c->hits[ENGRAM_TIER_HOT] = so->stats.pages_hot - so->stats.pages_hot_read;
	c->reads[ENGRAM_TIER_HOT] = so->stats.pages_hot_read;
	c->hits[ENGRAM_TIER_WARM] = so->stats.pages_warm - so->stats.pages_warm_read;
	c->reads[ENGRAM_TIER_WARM] = so->stats.pages_warm_read;
	EngramStatsFlushScan(scan->indexRelation, c);
	so->counting = false;
}

void
engram_hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
				   ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	FlushScanStats(scan);
	MemoryContextReset(so->cxt);
	so->started = false;
	so->exhausted = false;
	so->results = NULL;
	so->nresults = 0;
	so->next = 0;
	so->prefetched = 0;
	so->visited = 0;
	so->returned = NULL;
	so->last_bound = -get_float8_infinity();
	memset(&so->stats, 0, sizeof(HnswSearchStats));
	memset(&so->counts, 0, sizeof(EngramScanCounts));
	so->gap_open = false;
}

static int
CompareLowerBound(const void *a, const void *b)
{
	double		la = ((const HnswCandidate *) a)->lower_bound;
	double		lb = ((const HnswCandidate *) b)->lower_bound;

	return la < lb ? -1 : la > lb ? 1 : 0;
}

/*
 * Read ahead the heap pages of the next batch of results, in the order the
 * executor will fetch them.  A query with LIMIT k fetches about 2k rows
 * of ef_search results (the re-rank stops once no bound can beat the rows
 * it holds), so a batch at a time rather than all ef: a lookup in the
 * buffer mapping table for each of 200 results was 5% of a search.
 */
#define HEAP_READAHEAD_BATCH 16

static void
ReadAheadResults(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	EngramReadAhead ra;
	int			end = Min(so->nresults, so->next + HEAP_READAHEAD_BATCH);

	if (!engram_hnsw_prefetch || !EngramReadAheadEnabled() || scan->heapRelation == NULL)
		return;
	if (so->prefetched >= end)
		return;
	EngramReadAheadBegin(&ra, scan->heapRelation);
	for (int i = Max(so->prefetched, so->next); i < end; i++)
		(void) EngramReadAheadAdd(&ra, ItemPointerGetBlockNumber(&so->results[i].heaptid));
	EngramReadAheadSubmit(&ra);
	so->prefetched = end;
}

/*
 * One search with the current ef; results sorted by lower bound, the heap
 * pages of the first ones read ahead
 */
static void
RunSearch(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswIndexInfo *info = &so->info;
	HnswMetaPageData meta;
	HnswVisited *visited;
	HnswSearchStats *stats = so->counting ? &so->stats : NULL;

	HnswReadMeta(scan->indexRelation, &meta);
	so->stats.hot_end = meta.hot_end;
	so->nresults = 0;
	so->next = 0;
	if (!ItemPointerIsValid(&meta.entry))
		return;

	visited = HnswVisitedForIndex(so->cxt, scan->indexRelation, info);
	so->results = MemoryContextAlloc(so->cxt, sizeof(HnswCandidate) * so->ef);
	so->nresults = HnswSearchFromTop(scan->indexRelation, info, &so->query, &meta,
									 so->ef, engram_hnsw_layer1_ef, so->results,
									 visited, stats, stats);
	so->visited += HnswVisitedCount(visited);
	HnswVisitedRelease(visited);
	qsort(so->results, so->nresults, sizeof(HnswCandidate), CompareLowerBound);
	so->prefetched = 0;
	ReadAheadResults(scan);
}

/*
 * Whether an iterative scan may search again, wider
 */
static bool
CanWiden(HnswScanOpaque so)
{
	Size		limit = (Size) (work_mem * 1024.0 * engram_hnsw_scan_mem_multiplier);
	Size		need = (Size) so->ef * 2 * (sizeof(HnswCandidate) + 32);

	if (engram_hnsw_iterative_scan == HNSW_ITERATIVE_OFF)
		return false;
	if (so->nresults < so->ef)
		return false;			/* the search already reached every node */
	if (so->visited >= (uint64) engram_hnsw_max_scan_tuples)
		return false;
	return need <= limit;
}

/*
 * Prepare the ORDER BY value; false when nothing can be returned (NULL, or
 * a zero vector under cosine)
 */
static bool
PrepareQuery(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	float	   *x;
	HnswPrepared prepared;

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("engram_hnsw indexes can only be scanned with ORDER BY")));
	if (scan->orderByData[0].sk_flags & SK_ISNULL)
		return false;

	x = MemoryContextAlloc(so->cxt, sizeof(float) * so->info.dim);
	prepared = HnswPrepareVector(&so->info, scan->orderByData[0].sk_argument, x);
	if (prepared == HNSW_PREPARED_SKIP)
		return false;
	HnswInitQuery(&so->query, &so->info, x, prepared == HNSW_PREPARED_UNBOUNDED);
	return true;
}

bool
engram_hnsw_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->cxt);
	bool		iterative = engram_hnsw_iterative_scan != HNSW_ITERATIVE_OFF;
	bool		found = false;
	EngramTicks start = 0;

	if (!so->started)
		so->counting = EngramStatsActive();
	if (so->counting)
	{
		start = EngramClockNow();
		CloseColdGap(so);
	}

	if (!so->started)
	{
		so->started = true;
		so->exhausted = !PrepareQuery(scan);
		if (!so->exhausted)
		{
			so->ef = engram_hnsw_ef_search;
			if (iterative)
				so->returned = HnswVisitedCreate(so->cxt, 1024);
			RunSearch(scan);
			pgstat_count_index_scan(scan->indexRelation);
		}
	}

	while (!so->exhausted && !found)
	{
		while (so->next < so->nresults)
		{
			HnswCandidate *c;

			/* keep a batch ahead of the executor's heap fetches */
			if (so->next + HEAP_READAHEAD_BATCH / 2 >= so->prefetched)
				ReadAheadResults(scan);
			c = &so->results[so->next++];

			if (c->deleted)
				continue;
			if (iterative && HnswVisitedTestAndSet(so->returned, &c->node))
				continue;
			if (engram_hnsw_iterative_scan == HNSW_ITERATIVE_STRICT &&
				c->lower_bound < so->last_bound)
				continue;
			so->last_bound = Max(so->last_bound, c->lower_bound);

			scan->xs_heaptid = c->heaptid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = true;
			scan->xs_orderbyvals[0] = Float8GetDatum(c->lower_bound);
			scan->xs_orderbynulls[0] = false;
			found = true;
			break;
		}

		if (found)
			break;
		if (!CanWiden(so))
			so->exhausted = true;
		else
		{
			so->ef *= 2;
			so->counts.restarts++;
			RunSearch(scan);
		}
	}

	if (so->counting)
	{
		so->counts.elapsed += EngramClockSince(start);
		if (found)
		{
			so->counts.tuples++;
			so->gap_open = true;
			so->gap_hits = pgBufferUsage.shared_blks_hit;
			so->gap_reads = pgBufferUsage.shared_blks_read;
		}
	}
	MemoryContextSwitchTo(old);
	return found;
}

void
engram_hnsw_endscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	FlushScanStats(scan);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
