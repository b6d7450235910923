/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  engram_hnsw: CREATE INDEX.
 *
 * The build reads the table into memory as the nodes' int8 codes, builds
 * the graph there with distances between codes, then lays the nodes out in
 * breadth-first order from the entry point (upper-layer nodes first: the
 * hot tier) so that graph neighbours share pages, and writes the pages in
 * one pass, WAL-logging them as whole pages.  When the codes and the graph
 * no longer fit in maintenance_work_mem, what was read so far is written out
 * and the rest of the table is inserted into the on-disk graph one row at a
 * time.  See README, "Build".
 *
 * src/am/hnsw/hnswbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnswgraph.h"
#include "pageutil.h"

typedef struct BuildState
{
	Relation	heap;
	Relation	index;
	ForkNumber	forknum;
	HnswBuildGraph graph;
	double		indtuples;
	double		reltuples;
	Size		memory_limit;	/* for the in-memory graph */
	int			nworkers;		/* parallel workers the planner allows */
	bool		on_disk;		/* the graph was flushed; insert the rest */
	double		load_total;		/* tuples to load, as last reported */
	float	   *scratch;
	MemoryContext tmpcxt;
} BuildState;

/*
 * Placement order: breadth first from the entry point, first over the upper
 * layers (the hot tier), then over layer 0 (the warm tier), then whatever
 * the traversals did not reach.  Returns the number of hot nodes.
 */
static int
PlacementOrder(HnswBuildGraph *g, int32 *order)
{
	bool	   *placed = palloc0(sizeof(bool) * g->n);
	int			norder = 0;
	int			nhot = 0;

	for (int pass = 0; pass < 2; pass++)
	{
		int			head = norder;
		int			layer = pass == 0 ? 1 : 0;

		if (*g->entry >= 0 && !placed[*g->entry] && g->levels[*g->entry] >= layer)
		{
			placed[*g->entry] = true;
			order[norder++] = *g->entry;
		}
		while (head < norder)
		{
			int			u = order[head++];
			int32	   *list;

			if (g->levels[u] < layer)
				continue;
			list = HnswGraphList(g, u, layer);
			for (int i = 0; i < list[0]; i++)
			{
				int32		v = list[1 + i];

				if (!placed[v] && g->levels[v] >= layer)
				{
					placed[v] = true;
					order[norder++] = v;
				}
			}
		}
		/* upper-layer nodes the layer-1 walk missed stay in the hot tier */
		for (int id = 0; id < g->n; id++)
		{
			if (!placed[id] && g->levels[id] >= layer)
			{
				placed[id] = true;
				order[norder++] = id;
			}
		}
		if (pass == 0)
			nhot = norder;
	}
	pfree(placed);
	return nhot;
}

/*
 * Regroup the warm tier's breadth-first order page by page: each page
 * starts with the first node of that order not placed yet and is filled
 * breadth first from it, with its nearest unplaced neighbours first (lists
 * are sorted by distance), so that the nodes on a page are close to each
 * other and a search finds more of a node's neighbours on pages it already
 * holds.
 */
static void
ClusterPages(HnswBuildGraph *g, int32 *order, int n, int per_page)
{
	int32	   *bfs = palloc(sizeof(int32) * Max(n, 1));
	int32	   *queue = palloc(sizeof(int32) * Max(n, 1));
	bool	   *placed = palloc(sizeof(bool) * Max(g->n, 1));
	int			norder = 0;

	/* the hot tier's nodes count as placed: they are not on these pages */
	memcpy(bfs, order, sizeof(int32) * n);
	memset(placed, true, sizeof(bool) * g->n);
	for (int i = 0; i < n; i++)
		placed[bfs[i]] = false;

	for (int s = 0; s < n; s++)
	{
		int			head = 0;
		int			tail = 0;
		int			on_page = 0;

		if (placed[bfs[s]])
			continue;
		placed[bfs[s]] = true;
		order[norder++] = bfs[s];
		queue[tail++] = bfs[s];
		on_page++;
		while (head < tail && on_page < per_page)
		{
			int32	   *list = HnswGraphList(g, queue[head++], 0);

			for (int i = 0; i < list[0] && on_page < per_page; i++)
			{
				int32		v = list[1 + i];

				if (placed[v])
					continue;
				placed[v] = true;
				order[norder++] = v;
				queue[tail++] = v;
				on_page++;
			}
		}
	}
	Assert(norder == n);
	pfree(bfs);
	pfree(queue);
	pfree(placed);
}

/*
 * Write one page through the buffer manager
 */
static void
WritePage(Relation index, ForkNumber forknum, Page page, BlockNumber expected)
{
	Buffer		buf = EngramExtendByOnePage(index, forknum);

	if (BufferGetBlockNumber(buf) != expected)
		elog(ERROR, "engram_hnsw build of \"%s\" expected block %u, got %u",
			 RelationGetRelationName(index), expected, BufferGetBlockNumber(buf));
	memcpy(BufferGetPage(buf), page, BLCKSZ);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/*
 * Lay out and write the in-memory graph: the meta page, then node pages in
 * placement order
 */
static void
GraphWrite(BuildState *bs)
{
	HnswBuildGraph *g = &bs->graph;
	const HnswIndexInfo *info = &g->info;
	int32	   *order = palloc(sizeof(int32) * Max(g->n, 1));
	ItemPointerData *pos = palloc(sizeof(ItemPointerData) * Max(g->n, 1));
	int			nhot = PlacementOrder(g, order);
	Size		usable = BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(HnswPageOpaqueData));
	Size		need0 = MAXALIGN(HnswNodeSize(info->dim, info->m, 0)) + sizeof(ItemIdData);
	Size		used = 0;
	BlockNumber blkno = 1;
	OffsetNumber off = FirstOffsetNumber;
	BlockNumber hot_end = 1;
	Page		page = palloc(BLCKSZ);
	HnswNodeHeader *node = palloc0(HNSW_MAX_NODE_SIZE);
	int			next = 0;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);
	ClusterPages(g, order + nhot, g->n - nhot, (int) (usable / need0));

	/* positions first: neighbour pointers need them */
	for (int i = 0; i < g->n; i++)
	{
		Size		need = MAXALIGN(HnswNodeSize(info->dim, info->m, g->levels[order[i]])) +
			sizeof(ItemIdData);

		if (used + need > usable || (i == nhot && i > 0 && used > 0))
		{
			blkno++;
			off = FirstOffsetNumber;
			used = 0;
		}
		if (i == nhot)
			hot_end = blkno;
		ItemPointerSet(&pos[order[i]], blkno, off);
		off++;
		used += need;
	}
	if (nhot == g->n)
		hot_end = g->n > 0 ? blkno + 1 : 1;

	/* the meta page */
	HnswInitMetaPage(page, info);
	{
		HnswMetaPage meta = HnswPageGetMeta(page);

		if (*g->entry >= 0)
		{
			meta->entry = pos[*g->entry];
			meta->entry_level = *g->entry_level;
		}
		meta->hot_end = hot_end;
		meta->insert_page = g->n > 0 ? blkno : InvalidBlockNumber;
	}
	WritePage(bs->index, bs->forknum, page, HNSW_METAPAGE_BLKNO);

	/* node pages */
	for (BlockNumber b = 1; g->n > 0 && b <= blkno; b++)
	{
		HnswInitPage(page, b < hot_end ? HNSW_TIER_HOT : HNSW_TIER_WARM);
		while (next < g->n && ItemPointerGetBlockNumber(&pos[order[next]]) == b)
		{
			int			id = order[next++];
			int			level = g->levels[id];
			Size		size = HnswNodeSize(info->dim, info->m, level);

			memset(node, 0, size);
			memcpy(node, &HnswGraphCodeOf(g, id)->node, sizeof(HnswNodeHeader) + info->dim);
			HnswInitNodeLinks(node, info);
			for (int layer = 0; layer <= level; layer++)
			{
				int32	   *list = HnswGraphList(g, id, layer);
				ItemPointerData *out = HnswNodeNeighbors(node, info->dim, info->m, layer);

				for (int k = 0; k < list[0]; k++)
					out[k] = pos[list[1 + k]];
				HnswNodeCounts(node, info->dim)[layer] = list[0];
			}
			if (PageAddItem(page, (Item) node, size, InvalidOffsetNumber, false, false) !=
				ItemPointerGetOffsetNumber(&pos[id]))
				elog(ERROR, "engram_hnsw build of \"%s\" failed to place a node",
					 RelationGetRelationName(bs->index));
		}
		WritePage(bs->index, bs->forknum, page, b);
		CHECK_FOR_INTERRUPTS();
	}

	if (RelationNeedsWAL(bs->index) || bs->forknum == INIT_FORKNUM)
		log_newpage_range(bs->index, bs->forknum, 0,
						  RelationGetNumberOfBlocksInFork(bs->index, bs->forknum), true);

	pfree(order);
	pfree(pos);
	pfree(page);
	pfree(node);
}

/*
 * Tuples to load, for pg_stat_progress_create_index: the planner's estimate
 * of the table's rows (none before its first VACUUM or ANALYZE), or the
 * rows loaded so far if more
 */
static void
ReportLoadTotal(BuildState *bs)
{
	double		estimate = bs->heap ? bs->heap->rd_rel->reltuples : 0;

	bs->load_total = Max(estimate, bs->indtuples);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs->load_total);
}

/*
 * Write out what is in memory and continue on disk
 */
static void
SwitchToOnDisk(BuildState *bs)
{
	ereport(NOTICE,
			(errmsg("engram_hnsw graph no longer fits into maintenance_work_mem after " INT64_FORMAT " tuples",
					(int64) bs->indtuples),
			 errdetail("Building will take significantly more time."),
			 errhint("Increase maintenance_work_mem to speed up builds.")));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->graph.n);
	HnswGraphBuild(&bs->graph, bs->index, bs->nworkers);
	GraphWrite(bs);
	bs->on_disk = true;
	ReportLoadTotal(bs);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
}

/*
 * Per-row callback of the table scan
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	BuildState *bs = (BuildState *) state;
	MemoryContext old;
	HnswPrepared prepared;

	bs->reltuples++;
	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpcxt);
	prepared = HnswPrepareVector(&bs->graph.info, values[0], bs->scratch);
	MemoryContextSwitchTo(old);
	if (prepared != HNSW_PREPARED_SKIP)
	{
		bool		unbounded = prepared == HNSW_PREPARED_UNBOUNDED;

		if (!bs->on_disk && bs->graph.n > 0 && !HnswGraphFits(&bs->graph, bs->memory_limit))
			SwitchToOnDisk(bs);

		if (bs->on_disk)
			HnswInsertVector(index, &bs->graph.info, bs->scratch, tid, unbounded);
		else
			HnswGraphAdd(&bs->graph, bs->scratch, tid, unbounded);
		bs->indtuples++;
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
		if (bs->indtuples > bs->load_total)
			ReportLoadTotal(bs);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpcxt);
}

static void
BuildIndex(Relation heap, Relation index, IndexInfo *indexInfo, BuildState *bs,
		   ForkNumber forknum)
{
	HnswIndexInfo info;

	HnswGetIndexInfo(index, &info);
	HnswCheckDimensions(&info);
	if (info.ef_construction < 2 * info.m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m")));

	memset(bs, 0, sizeof(BuildState));
	bs->heap = heap;
	bs->index = index;
	bs->forknum = forknum;
	bs->memory_limit = (Size) maintenance_work_mem * 1024;

	/*
	 * A parallel build copies the graph into shared memory for its workers:
	 * with two copies, each gets half of maintenance_work_mem
	 */
	if (heap != NULL)
		bs->nworkers = plan_create_index_workers(RelationGetRelid(heap),
												 RelationGetRelid(index));
	if (bs->nworkers > 0)
		bs->memory_limit /= 2;
	bs->scratch = palloc(sizeof(float) * info.dim);
	bs->tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "engram_hnsw build tuple",
									   ALLOCSET_DEFAULT_SIZES);
	HnswGraphInit(&bs->graph, &info);
	bs->graph.memory_limit = bs->memory_limit;

	if (heap != NULL)
	{
		/* the total first: no sample of the phase without one */
		ReportLoadTotal(bs);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
		bs->reltuples = 0;
		table_index_build_scan(heap, index, indexInfo, true, true,
							   BuildCallback, bs, NULL);
	}

	if (!bs->on_disk)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->graph.n);
		HnswGraphBuild(&bs->graph, bs->index, bs->nworkers);
		GraphWrite(bs);
	}
	MemoryContextDelete(bs->tmpcxt);
}

/*
 * ambuild
 */
IndexBuildResult *
engram_hnsw_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	BuildState	bs;
	IndexBuildResult *result;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	BuildIndex(heap, index, indexInfo, &bs, MAIN_FORKNUM);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * ambuildempty: the init fork of an unlogged index, an empty meta page
 */
void
engram_hnsw_buildempty(Relation index)
{
	BuildState	bs;

	BuildIndex(NULL, index, NULL, &bs, INIT_FORKNUM);
}
