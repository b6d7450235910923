/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  engram_hnsw: CREATE INDEX.
 *
 * The build reads the table into memory, builds the graph there with exact
 * float distances, then lays the nodes out in breadth-first order from the
 * entry point (upper-layer nodes first: the hot tier) so that graph
 * neighbours share pages, and writes the pages in one pass, WAL-logging
 * them as whole pages.  When the vectors and the graph no longer fit in
 * maintenance_work_mem, what was read so far is written out and the rest of
 * the table is inserted into the on-disk graph one row at a time.  See
 * README, "Build".
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
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"

/* The in-memory graph */
typedef struct BuildGraph
{
	HnswIndexInfo info;
	int			max_level;		/* cap from the page size */
	int			n;				/* nodes */
	int			capacity;
	float	   *vectors;		/* n x dim */
	ItemPointerData *heaptids;
	uint8	   *levels;
	bool	   *unbounded;		/* HNSW_NODE_UNBOUNDED per node */
	int32	   *layer0;			/* n x 2m neighbour ids */
	uint16	   *count0;
	int32	  **upper;			/* per node, level x m ids, or NULL */
	uint16	  **upper_count;
	int			entry;
	int			entry_level;
	uint32	   *visited;		/* epoch per node */
	uint32		epoch;
} BuildGraph;

typedef struct BuildState
{
	Relation	heap;
	Relation	index;
	ForkNumber	forknum;
	BuildGraph	graph;
	double		indtuples;
	double		reltuples;
	Size		memory_limit;
	bool		on_disk;		/* the graph was flushed; insert the rest */
	float	   *scratch;
	MemoryContext tmpcxt;
} BuildState;

/* A candidate during construction */
typedef struct BuildCand
{
	float		distance;
	int32		id;
} BuildCand;

static Size
BytesPerNode(const HnswIndexInfo *info)
{
	return sizeof(float) * info->dim + sizeof(ItemPointerData) + 1 +
		sizeof(int32) * 2 * info->m + sizeof(uint16) + 2 * sizeof(void *) +
		sizeof(uint32);
}

static void
GraphInit(BuildGraph *g, const HnswIndexInfo *info)
{
	g->info = *info;
	g->max_level = HnswMaxLevel(info->dim, info->m);
	g->n = 0;
	g->capacity = 0;
	g->vectors = NULL;
	g->entry = -1;
	g->entry_level = -1;
	g->epoch = 0;
}

static void
GraphGrow(BuildGraph *g)
{
	int			cap = g->capacity == 0 ? 1024 : g->capacity * 2;
	int			dim = g->info.dim;
	int			m2 = 2 * g->info.m;

	if (g->capacity == 0)
	{
		g->vectors = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * dim * cap);
		g->heaptids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * cap);
		g->levels = MemoryContextAllocHuge(CurrentMemoryContext, cap);
		g->unbounded = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * cap);
		g->layer0 = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * m2 * cap);
		g->count0 = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint16) * cap);
		g->upper = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32 *) * cap);
		g->upper_count = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint16 *) * cap);
		g->visited = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * cap);
	}
	else
	{
		g->vectors = repalloc_huge(g->vectors, sizeof(float) * dim * cap);
		g->heaptids = repalloc_huge(g->heaptids, sizeof(ItemPointerData) * cap);
		g->levels = repalloc_huge(g->levels, cap);
		g->unbounded = repalloc_huge(g->unbounded, sizeof(bool) * cap);
		g->layer0 = repalloc_huge(g->layer0, sizeof(int32) * m2 * cap);
		g->count0 = repalloc_huge(g->count0, sizeof(uint16) * cap);
		g->upper = repalloc_huge(g->upper, sizeof(int32 *) * cap);
		g->upper_count = repalloc_huge(g->upper_count, sizeof(uint16 *) * cap);
		g->visited = repalloc_huge(g->visited, sizeof(uint32) * cap);
	}
	g->capacity = cap;
}

static inline float *
NodeVector(BuildGraph *g, int id)
{
	return g->vectors + (Size) id * g->info.dim;
}

static inline int32 *
NodeNeighbors(BuildGraph *g, int id, int layer, uint16 **count)
{
	if (layer == 0)
	{
		*count = &g->count0[id];
		return g->layer0 + (Size) id * 2 * g->info.m;
	}
	*count = &g->upper_count[id][layer - 1];
	return g->upper[id] + (Size) (layer - 1) * g->info.m;
}

static inline float
Dist(BuildGraph *g, int a, int b)
{
	return HnswExactDistance(g->info.metric, NodeVector(g, a), NodeVector(g, b),
							 g->info.dim);
}

/* Binary heap of BuildCand, min or max by distance */
typedef struct BuildHeap
{
	BuildCand  *items;
	int			n;
	int			capacity;
	bool		max;
} BuildHeap;

static inline bool
BHBefore(const BuildHeap *h, int a, int b)
{
	return h->max ? h->items[a].distance > h->items[b].distance
		: h->items[a].distance < h->items[b].distance;
}

static void
BHPush(BuildHeap *h, float d, int32 id)
{
	int			i;

	if (h->n == h->capacity)
	{
		h->capacity *= 2;
		h->items = repalloc(h->items, sizeof(BuildCand) * h->capacity);
	}
	i = h->n++;
	h->items[i].distance = d;
	h->items[i].id = id;
	while (i > 0 && BHBefore(h, i, (i - 1) / 2))
	{
		BuildCand	tmp = h->items[i];

		h->items[i] = h->items[(i - 1) / 2];
		h->items[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static BuildCand
BHPop(BuildHeap *h)
{
	BuildCand	top = h->items[0];
	int			i = 0;

	h->items[0] = h->items[--h->n];
	for (;;)
	{
		int			l = 2 * i + 1;
		int			best = i;
		BuildCand	tmp;

		if (l < h->n && BHBefore(h, l, best))
			best = l;
		if (l + 1 < h->n && BHBefore(h, l + 1, best))
			best = l + 1;
		if (best == i)
			break;
		tmp = h->items[i];
		h->items[i] = h->items[best];
		h->items[best] = tmp;
		i = best;
	}
	return top;
}

static int
CompareBuildCand(const void *a, const void *b)
{
	float		da = ((const BuildCand *) a)->distance;
	float		db = ((const BuildCand *) b)->distance;

	if (da != db)
		return da < db ? -1 : 1;
	return ((const BuildCand *) a)->id - ((const BuildCand *) b)->id;
}

/*
 * SEARCH-LAYER over the in-memory graph: the ef nearest to node q, sorted,
 * into out (room for ef); returns the count
 */
static int
GraphSearchLayer(BuildGraph *g, int q, const BuildCand *entries, int nentries,
				 int ef, int layer, BuildHeap *cand, BuildHeap *best, BuildCand *out)
{
	int			n;

	if (++g->epoch == 0)
	{
		memset(g->visited, 0, sizeof(uint32) * g->capacity);
		g->epoch = 1;
	}
	cand->n = 0;
	best->n = 0;

	for (int i = 0; i < nentries; i++)
	{
		g->visited[entries[i].id] = g->epoch;
		BHPush(cand, entries[i].distance, entries[i].id);
		BHPush(best, entries[i].distance, entries[i].id);
	}
	while (best->n > ef)
		(void) BHPop(best);

	while (cand->n > 0)
	{
		BuildCand	c = BHPop(cand);
		uint16	   *count;
		int32	   *nbrs;

		if (best->n >= ef && c.distance > best->items[0].distance)
			break;

		nbrs = NodeNeighbors(g, c.id, layer, &count);
		for (int i = 0; i < *count; i++)
		{
			int32		e = nbrs[i];
			float		d;

			if (g->visited[e] == g->epoch)
				continue;
			g->visited[e] = g->epoch;
			d = Dist(g, q, e);
			if (best->n < ef || d < best->items[0].distance)
			{
				BHPush(cand, d, e);
				BHPush(best, d, e);
				if (best->n > ef)
					(void) BHPop(best);
			}
		}
	}

	n = best->n;
	memcpy(out, best->items, sizeof(BuildCand) * n);
	qsort(out, n, sizeof(BuildCand), CompareBuildCand);
	return n;
}

/* Context of HnswSelectNeighbors over in-memory candidates */
typedef struct SelectCtx
{
	BuildGraph *g;
	const BuildCand *cands;
} SelectCtx;

static float
BuildPairDistance(void *ctx, int a, int b)
{
	SelectCtx  *s = (SelectCtx *) ctx;

	return Dist(s->g, s->cands[a].id, s->cands[b].id);
}

/*
 * Choose up to maxn of the sorted candidates with the heuristic; writes
 * their ids to ids[] and returns the count
 */
static int
SelectFromCandidates(BuildGraph *g, const BuildCand *cands, int ncand, int maxn,
					 int32 *ids)
{
	float	   *dist = palloc(sizeof(float) * ncand);
	int		   *sel = palloc(sizeof(int) * maxn);
	SelectCtx	ctx = {g, cands};
	int			nsel;

	for (int i = 0; i < ncand; i++)
		dist[i] = cands[i].distance;
	nsel = HnswSelectNeighbors(ncand, dist, maxn, BuildPairDistance, &ctx, sel);
	for (int i = 0; i < nsel; i++)
		ids[i] = cands[sel[i]].id;
	pfree(dist);
	pfree(sel);
	return nsel;
}

/*
 * Add a back-link from node to newid on layer, pruning node's list with the
 * heuristic when it is full
 */
static void
AddBackLink(BuildGraph *g, int node, int newid, int layer)
{
	uint16	   *count;
	int32	   *nbrs = NodeNeighbors(g, node, layer, &count);
	int			maxn = HnswLayerSlots(g->info.m, layer);
	BuildCand  *cands;

	for (int i = 0; i < *count; i++)
		if (nbrs[i] == newid)
			return;

	if (*count < maxn)
	{
		nbrs[(*count)++] = newid;
		return;
	}

	cands = palloc(sizeof(BuildCand) * (maxn + 1));
	for (int i = 0; i < *count; i++)
	{
		cands[i].id = nbrs[i];
		cands[i].distance = Dist(g, node, nbrs[i]);
	}
	cands[maxn].id = newid;
	cands[maxn].distance = Dist(g, node, newid);
	qsort(cands, maxn + 1, sizeof(BuildCand), CompareBuildCand);
	*count = SelectFromCandidates(g, cands, maxn + 1, maxn, nbrs);
	pfree(cands);
}

/*
 * Insert node id, already holding its vector and level, into the graph
 * (INSERT of the HNSW paper)
 */
static void
GraphInsert(BuildGraph *g, int id, BuildHeap *cand, BuildHeap *best,
			BuildCand *found, int32 *selected)
{
	int			level = g->levels[id];
	int			efc = g->info.ef_construction;
	BuildCand	ep;
	int			nfound;

	if (g->entry < 0)
	{
		g->entry = id;
		g->entry_level = level;
		return;
	}

	ep.id = g->entry;
	ep.distance = Dist(g, id, g->entry);

	/* greedy descent through the layers above the new node's */
	for (int layer = g->entry_level; layer > level; layer--)
	{
		bool		moved = true;

		while (moved)
		{
			uint16	   *count;
			int32	   *nbrs = NodeNeighbors(g, ep.id, layer, &count);

			moved = false;
			for (int i = 0; i < *count; i++)
			{
				float		d = Dist(g, id, nbrs[i]);

				if (d < ep.distance)
				{
					ep.distance = d;
					ep.id = nbrs[i];
					moved = true;
				}
			}
		}
	}

	found[0] = ep;
	nfound = 1;
	for (int layer = Min(level, g->entry_level); layer >= 0; layer--)
	{
		int			maxn = HnswLayerSlots(g->info.m, layer);
		uint16	   *count;
		int32	   *nbrs;
		int			nsel;

		nfound = GraphSearchLayer(g, id, found, nfound, efc, layer, cand, best, found);
		nsel = SelectFromCandidates(g, found, nfound, maxn, selected);

		nbrs = NodeNeighbors(g, id, layer, &count);
		memcpy(nbrs, selected, sizeof(int32) * nsel);
		*count = nsel;
		for (int i = 0; i < nsel; i++)
			AddBackLink(g, selected[i], id, layer);
	}

	if (level > g->entry_level)
	{
		g->entry = id;
		g->entry_level = level;
	}
}

/*
 * Breadth-first walk of layer 0 from the entry point; marks reached[]
 */
static int
MarkReachable(BuildGraph *g, bool *reached, int32 *queue)
{
	int			head = 0;
	int			tail = 0;

	memset(reached, 0, sizeof(bool) * g->n);
	if (g->entry < 0)
		return 0;
	reached[g->entry] = true;
	queue[tail++] = g->entry;
	while (head < tail)
	{
		int			u = queue[head++];

		for (int i = 0; i < g->count0[u]; i++)
		{
			int32		v = g->layer0[(Size) u * 2 * g->info.m + i];

			if (!reached[v])
			{
				reached[v] = true;
				queue[tail++] = v;
			}
		}
	}
	return tail;
}

/*
 * Pruning can leave a node with no incoming link on layer 0, and then no
 * search finds it.  Give each such node a link from its nearest reachable
 * neighbour (replacing that neighbour's farthest link), and repeat until
 * every node is reachable.
 */
static void
GraphEnsureReachable(BuildGraph *g)
{
	bool	   *reached = palloc(sizeof(bool) * Max(g->n, 1));
	int32	   *queue = palloc(sizeof(int32) * Max(g->n, 1));
	int			maxn = 2 * g->info.m;

	for (int round = 0; round < 10 && MarkReachable(g, reached, queue) < g->n; round++)
	{
		for (int u = 0; u < g->n; u++)
		{
			int32	   *from;
			int			v = g->entry;

			if (reached[u])
				continue;
			for (int i = 0; i < g->count0[u]; i++)
			{
				int32		w = g->layer0[(Size) u * 2 * g->info.m + i];

				if (reached[w])
				{
					v = w;
					break;
				}
			}
			from = g->layer0 + (Size) v * maxn;
			if (g->count0[v] < maxn)
				from[g->count0[v]++] = u;
			else
				from[maxn - 1] = u;
		}
	}
	pfree(reached);
	pfree(queue);
}

/*
 * Build the graph over every node read
 */
static void
GraphBuild(BuildGraph *g)
{
	int			efc = g->info.ef_construction;
	BuildHeap	cand = {palloc(sizeof(BuildCand) * 256), 0, 256, false};
	BuildHeap	best = {palloc(sizeof(BuildCand) * (efc + 2)), 0, efc + 2, true};
	BuildCand  *found = palloc(sizeof(BuildCand) * (efc + 1));
	int32	   *selected = palloc(sizeof(int32) * 2 * g->info.m);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_GRAPH);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	memset(g->visited, 0, sizeof(uint32) * g->capacity);

	for (int id = 0; id < g->n; id++)
	{
		CHECK_FOR_INTERRUPTS();
		GraphInsert(g, id, &cand, &best, found, selected);
		if ((id + 1) % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, id + 1);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, g->n);
	GraphEnsureReachable(g);
}

/*
 * Append a node read from the table
 */
static void
GraphAddNode(BuildGraph *g, const float *x, ItemPointer heaptid, bool unbounded)
{
	int			id;
	int			level;

	if (g->n == g->capacity)
		GraphGrow(g);
	id = g->n++;
	memcpy(NodeVector(g, id), x, sizeof(float) * g->info.dim);
	g->heaptids[id] = *heaptid;
	g->unbounded[id] = unbounded;
	level = HnswRandomLevel(g->info.m, g->max_level);
	g->levels[id] = (uint8) level;
	g->count0[id] = 0;
	g->upper[id] = NULL;
	g->upper_count[id] = NULL;
	if (level > 0)
	{
		g->upper[id] = palloc(sizeof(int32) * level * g->info.m);
		g->upper_count[id] = palloc0(sizeof(uint16) * level);
	}
}

/*
 * Placement order: breadth first from the entry point, first over the upper
 * layers (the hot tier), then over layer 0 (the warm tier), then whatever
 * the traversals did not reach.  Returns the number of hot nodes.
 */
static int
PlacementOrder(BuildGraph *g, int32 *order)
{
	bool	   *placed = palloc0(sizeof(bool) * g->n);
	int			norder = 0;
	int			nhot;

	for (int pass = 0; pass < 2; pass++)
	{
		int			head = norder;
		int			layer = pass == 0 ? 1 : 0;

		if (g->entry >= 0 && !placed[g->entry] && g->levels[g->entry] >= layer)
		{
			placed[g->entry] = true;
			order[norder++] = g->entry;
		}
		while (head < norder)
		{
			int			u = order[head++];
			uint16	   *count;
			int32	   *nbrs;

			if (g->levels[u] < layer)
				continue;
			nbrs = NodeNeighbors(g, u, layer, &count);
			for (int i = 0; i < *count; i++)
			{
				int32		v = nbrs[i];

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
 * Write one page through the buffer manager
 */
static void
WritePage(Relation index, ForkNumber forknum, Page page, BlockNumber expected)
{
	Buffer		buf = HnswNewBuffer(index, forknum);

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
	BuildGraph *g = &bs->graph;
	const HnswIndexInfo *info = &g->info;
	int32	   *order = palloc(sizeof(int32) * Max(g->n, 1));
	ItemPointerData *pos = palloc(sizeof(ItemPointerData) * Max(g->n, 1));
	int			nhot = PlacementOrder(g, order);
	Size		usable = BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(HnswPageOpaqueData));
	Size		used = 0;
	BlockNumber blkno = 1;
	OffsetNumber off = FirstOffsetNumber;
	BlockNumber hot_end = 1;
	Page		page = palloc(BLCKSZ);
	HnswNodeHeader *node = palloc0(HNSW_MAX_NODE_SIZE);
	int			next = 0;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);

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

		if (g->entry >= 0)
		{
			meta->entry = pos[g->entry];
			meta->entry_level = g->entry_level;
		}
		meta->hot_end = hot_end;
		meta->insert_page = g->n > 0 ? blkno : InvalidBlockNumber;
		meta->nodes = g->n;
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
			HnswFormNode(node, info, NodeVector(g, id), &g->heaptids[id], level,
						 g->unbounded[id]);
			for (int layer = 0; layer <= level; layer++)
			{
				uint16	   *count;
				int32	   *nbrs = NodeNeighbors(g, id, layer, &count);
				ItemPointerData *out = HnswNodeNeighbors(node, info->dim, info->m, layer);

				for (int k = 0; k < *count; k++)
					out[k] = pos[nbrs[k]];
				HnswNodeCounts(node, info->dim)[layer] = *count;
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
	GraphBuild(&bs->graph);
	GraphWrite(bs);
	bs->on_disk = true;
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

		if (!bs->on_disk &&
			(Size) (bs->graph.n + 1) * BytesPerNode(&bs->graph.info) > bs->memory_limit &&
			bs->graph.n > 0)
			SwitchToOnDisk(bs);

		if (bs->on_disk)
			HnswInsertVector(index, &bs->graph.info, bs->scratch, tid, unbounded);
		else
			GraphAddNode(&bs->graph, bs->scratch, tid, unbounded);
		bs->indtuples++;
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
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
	bs->scratch = palloc(sizeof(float) * info.dim);
	bs->tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "engram_hnsw build tuple",
									   ALLOCSET_DEFAULT_SIZES);
	GraphInit(&bs->graph, &info);

	if (heap != NULL)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
		bs->reltuples = 0;
		table_index_build_scan(heap, index, indexInfo, true, true,
							   BuildCallback, bs, NULL);
	}

	if (!bs->on_disk)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->graph.n);
		GraphBuild(&bs->graph);
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
