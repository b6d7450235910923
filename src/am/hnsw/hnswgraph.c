/*-------------------------------------------------------------------------
 *
 * hnswgraph.c
 *	  engram_hnsw: building the graph in memory, serially or in parallel.
 *
 * CREATE INDEX reads every vector into an HnswBuildGraph (hnswbuild.c) as
 * the header and int8 code its node will carry, then inserts them all into
 * the graph here with distances between codes (INSERT of the HNSW paper with
 * the neighbour selection heuristic), before laying the pages out.
 *
 * With max_parallel_maintenance_workers > 0 the graph moves into a dynamic
 * shared memory segment and the leader and its workers insert nodes taken
 * from a shared counter.  Each node's neighbour lists are guarded by an
 * LWLock of its own: searches copy a list under a shared lock, links are
 * added and lists pruned under an exclusive one; no process holds two of
 * these locks at once.  The entry point is guarded by a spinlock.  Two
 * inserts racing on one list can lose a link, which costs a little graph
 * quality, never correctness; the final reachability pass repairs what
 * matters.  See README, "Build".
 *
 * src/am/hnsw/hnswgraph.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/shm_toc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnswgraph.h"

#define PARALLEL_KEY_GRAPH	UINT64CONST(0xE4A0000000000001)

/* A candidate during construction */
typedef struct BuildCand
{
	float		distance;
	int32		id;
} BuildCand;

/* Binary heap of BuildCand, min or max by distance */
typedef struct BuildHeap
{
	BuildCand  *items;
	int			n;
	int			capacity;
	bool		max;
} BuildHeap;

/* Scratch space of one inserting process */
typedef struct InsertScratch
{
	BuildHeap	cand;
	BuildHeap	best;
	BuildCand  *found;
	int32	   *selected;
	int32	   *list;			/* copy of one neighbour list */
	BuildCand  *prune;
	float	   *dist;
	int		   *sel;
	int8	   *kept;
} InsertScratch;

/* Bytes of a node's code record, padded to keep the records aligned */
static int
HnswGraphCodeStride(int dim)
{
	return MAXALIGN(sizeof(HnswGraphCode) + dim);
}

void
HnswGraphInit(HnswBuildGraph *g, const HnswIndexInfo *info)
{
	memset(g, 0, sizeof(HnswBuildGraph));
	g->info = *info;
	g->max_level = HnswMaxLevel(info->dim, info->m);
	g->local_entry = -1;
	g->local_entry_level = -1;
	g->entry = &g->local_entry;
	g->entry_level = &g->local_entry_level;
	g->code_stride = HnswGraphCodeStride(info->dim);
}

/* Bytes of one slot of a list: the link, its distance, the decision */
#define SLOT_BYTES (sizeof(int32) + sizeof(float) + sizeof(int8))

/*
 * Bytes of a node's share of the per-node arrays: code record, level,
 * layer-0 list, offset into the upper-layer pool, visited mark
 */
static Size
NodeArrayBytes(const HnswIndexInfo *info)
{
	return HnswGraphCodeStride(info->dim) + 1 + SLOT_BYTES * (2 * info->m + 1) +
		sizeof(int64) + sizeof(uint32);
}

/*
 * Memory a node needs on average, for maintenance_work_mem: its share of
 * the arrays and of the upper-layer pool (a node has 1 / (m - 1) upper
 * layers on average, each of m + 1 slots)
 */
Size
HnswGraphBytesPerNode(const HnswIndexInfo *info)
{
	return NodeArrayBytes(info) +
		(SLOT_BYTES * (info->m + 1) + info->m - 2) / (info->m - 1);
}

/*
 * Whether the graph stays within memory_limit with one more node: what its
 * arrays would need for it, and the upper-layer pool as allocated
 */
bool
HnswGraphFits(const HnswBuildGraph *g, Size memory_limit)
{
	return (Size) (g->n + 1) * NodeArrayBytes(&g->info) +
		(Size) g->upper_capacity * SLOT_BYTES <= memory_limit;
}

static void *
GrowArray(void *p, Size elem, int oldcap, int newcap)
{
	if (oldcap == 0)
		return MemoryContextAllocHuge(CurrentMemoryContext, elem * newcap);
	return repalloc_huge(p, elem * newcap);
}

static void
GraphGrow(HnswBuildGraph *g)
{
	int			cap = g->capacity == 0 ? 1024 : g->capacity * 2;
	int			old = g->capacity;

	/* doubling must not take the arrays past the build's memory limit */
	if (g->memory_limit > 0)
	{
		Size		room = g->memory_limit -
			Min(g->memory_limit, (Size) g->upper_capacity * SLOT_BYTES);
		int			fit = (int) Min(room / NodeArrayBytes(&g->info), (Size) INT_MAX);

		cap = Max(Min(cap, fit), old + 1);
	}

	g->codes = GrowArray(g->codes, g->code_stride, old, cap);
	g->levels = GrowArray(g->levels, 1, old, cap);
	g->layer0 = GrowArray(g->layer0, sizeof(int32) * (2 * g->info.m + 1), old, cap);
	g->layer0_dist = GrowArray(g->layer0_dist, sizeof(float) * (2 * g->info.m + 1), old, cap);
	g->layer0_kept = GrowArray(g->layer0_kept, sizeof(int8) * (2 * g->info.m + 1), old, cap);
	g->upper_offset = GrowArray(g->upper_offset, sizeof(int64), old, cap);
	g->capacity = cap;
}

/*
 * Append a vector read from the table, with its random level and empty
 * neighbour lists
 */
void
HnswGraphAdd(HnswBuildGraph *g, const float *x, ItemPointer heaptid, bool unbounded)
{
	int			id;
	int			level;
	HnswGraphCode *c;

	if (g->n == g->capacity)
		GraphGrow(g);
	id = g->n++;
	level = HnswRandomLevel(g->info.m, g->max_level);
	g->levels[id] = (uint8) level;

	/*
	 * The node's code as its page will hold it, and the squared norm of the
	 * decoded code, so that Dist() gives exactly 0 between equal codes
	 */
	c = HnswGraphCodeOf(g, id);
	memset(c, 0, g->code_stride);
	HnswFormNodeCode(&c->node, &g->info, x, heaptid, level, unbounded);
	c->sqnorm = HnswCodeDot(HnswNodeCode(&c->node), c->node.scale,
							HnswNodeCode(&c->node), c->node.scale, g->info.dim);
	g->layer0[(Size) id * (2 * g->info.m + 1)] = 0;
	g->layer0_kept[(Size) id * (2 * g->info.m + 1)] = 1;
	g->upper_offset[id] = -1;

	if (level > 0)
	{
		int64		need = (int64) level * (g->info.m + 1);

		if (g->upper_used + need > g->upper_capacity)
		{
			int64		cap = Max(g->upper_capacity * 2, 1024 + need);

			g->upper_pool = GrowArray(g->upper_pool, sizeof(int32), g->upper_capacity, cap);
			g->upper_dist = GrowArray(g->upper_dist, sizeof(float), g->upper_capacity, cap);
			g->upper_kept = GrowArray(g->upper_kept, sizeof(int8), g->upper_capacity, cap);
			g->upper_capacity = cap;
		}
		g->upper_offset[id] = g->upper_used;
		for (int l = 0; l < level; l++)
		{
			g->upper_pool[g->upper_used + (int64) l * (g->info.m + 1)] = 0;
			g->upper_kept[g->upper_used + (int64) l * (g->info.m + 1)] = 1;
		}
		g->upper_used += need;
	}
}

/*
 * Where a node's list on a layer starts in its array (layer0 or upper_pool;
 * the distance and decision arrays beside them have the same shape)
 */
static inline int64
ListOffset(HnswBuildGraph *g, int id, int layer)
{
	if (layer == 0)
		return (int64) id * (2 * g->info.m + 1);
	return g->upper_offset[id] + (int64) (layer - 1) * (g->info.m + 1);
}

/*
 * Neighbour list of a node on a layer: list[0] is the count, list + 1 the ids
 */
int32 *
HnswGraphList(HnswBuildGraph *g, int id, int layer)
{
	return (layer == 0 ? g->layer0 : g->upper_pool) + ListOffset(g, id, layer);
}

/* The distances and heuristic decisions beside a neighbour list */
static void
ListInfo(HnswBuildGraph *g, int id, int layer, float **dist, int8 **kept)
{
	int64		off = ListOffset(g, id, layer);

	*dist = (layer == 0 ? g->layer0_dist : g->upper_dist) + off;
	*kept = (layer == 0 ? g->layer0_kept : g->upper_kept) + off;
}

static inline void
LockNode(HnswBuildGraph *g, int id, LWLockMode mode)
{
	if (g->locks)
		LWLockAcquire(&g->locks[id], mode);
}

static inline void
UnlockNode(HnswBuildGraph *g, int id)
{
	if (g->locks)
		LWLockRelease(&g->locks[id]);
}

/* Copy a list under a shared lock; returns the count */
static int
CopyList(HnswBuildGraph *g, int id, int layer, int32 *out)
{
	int32	   *list;
	int			n;

	LockNode(g, id, LW_SHARED);
	list = HnswGraphList(g, id, layer);
	n = list[0];
	memcpy(out, list + 1, sizeof(int32) * n);
	UnlockNode(g, id);
	return n;
}

static void
GetEntry(HnswBuildGraph *g, int32 *entry, int32 *level)
{
	if (g->entry_mutex)
		SpinLockAcquire(g->entry_mutex);
	*entry = *g->entry;
	*level = *g->entry_level;
	if (g->entry_mutex)
		SpinLockRelease(g->entry_mutex);
}

/* Make id the entry point if it is the first node or reaches higher */
static void
MaybeSetEntry(HnswBuildGraph *g, int32 id, int32 level)
{
	if (g->entry_mutex)
		SpinLockAcquire(g->entry_mutex);
	if (*g->entry < 0 || level > *g->entry_level)
	{
		*g->entry = id;
		*g->entry_level = level;
	}
	if (g->entry_mutex)
		SpinLockRelease(g->entry_mutex);
}

/*
 * Distance between two nodes as the graph is built: between their int8
 * codes, the same codes the searches of the index compare.  A code is a
 * quarter of the vector's bytes, and the build spent half its time waiting
 * for vectors from memory.  L2 and cosine use the decoded codes' own norms
 * (so equal codes are at distance exactly 0, which the heuristic's rule for
 * copies relies on); for cosine, 1 - a.b = |a - b|^2 / 2 on unit vectors.
 */
static inline float
Dist(HnswBuildGraph *g, int a, int b)
{
	const HnswGraphCode *ca = HnswGraphCodeOf(g, a);
	const HnswGraphCode *cb = HnswGraphCodeOf(g, b);
	double		sq;

	if (g->info.metric != HNSW_METRIC_L2 && g->info.metric != HNSW_METRIC_COSINE)
		return HnswEstimateBetween(g->info.metric, &ca->node, &cb->node, g->info.dim);
	sq = ca->sqnorm + cb->sqnorm -
		2.0 * HnswCodeDot(HnswNodeCode(&ca->node), ca->node.scale,
						  HnswNodeCode(&cb->node), cb->node.scale, g->info.dim);
	return (float) (g->info.metric == HNSW_METRIC_L2 ? sq : sq / 2.0);
}

/*
 * Bring a node's code into the cache ahead of its distance.  Always
 * inlined: GCC drops calls to a function that only prefetches (it takes it
 * for pure), as it did to this one until that was found.
 */
static pg_attribute_always_inline void
PrefetchCode(HnswBuildGraph *g, int id)
{
	const char *v = (const char *) HnswGraphCodeOf(g, id);
	Size		len = g->code_stride;

	for (Size off = 0; off < len; off += 64)
		__builtin_prefetch(v + off);
	__builtin_prefetch(v + len - 1);
}

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

static void
ScratchInit(InsertScratch *s, const HnswIndexInfo *info)
{
	int			efc = info->ef_construction;
	int			m2 = 2 * info->m;

	s->cand.items = palloc(sizeof(BuildCand) * 256);
	s->cand.n = 0;
	s->cand.capacity = 256;
	s->cand.max = false;
	s->best.items = palloc(sizeof(BuildCand) * (efc + 2));
	s->best.n = 0;
	s->best.capacity = efc + 2;
	s->best.max = true;
	s->found = palloc(sizeof(BuildCand) * (efc + 1));
	s->selected = palloc(sizeof(int32) * m2);
	s->list = palloc(sizeof(int32) * (m2 + 1));
	s->prune = palloc(sizeof(BuildCand) * (m2 + 1));
	s->dist = palloc(sizeof(float) * Max(efc + 1, m2 + 1));
	s->sel = palloc(sizeof(int) * m2);
	s->kept = palloc(sizeof(int8) * Max(efc + 1, m2 + 1));
}

/*
 * SEARCH-LAYER over the in-memory graph: the ef nearest to node q, sorted,
 * into out (room for ef); returns the count
 */
static int
SearchLayer(HnswBuildGraph *g, int q, const BuildCand *entries, int nentries,
			int ef, int layer, InsertScratch *s, BuildCand *out)
{
	BuildHeap  *cand = &s->cand;
	BuildHeap  *best = &s->best;
	int			n;

	if (++g->epoch == 0)
	{
		memset(g->visited, 0, sizeof(uint32) * g->n);
		g->epoch = 1;
	}
	cand->n = 0;
	best->n = 0;

	/*
	 * Never q itself: in a parallel build another process can find a node
	 * through the upper-layer links it already has and link to it on a lower
	 * layer before the node's own search there, which would then reach the
	 * node and link it to itself
	 */
	g->visited[q] = g->epoch;
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
		int			count;
		int			nnew;

		if (best->n >= ef && c.distance > best->items[0].distance)
			break;

		/*
		 * The unvisited neighbours first, their codes prefetched, then the
		 * distances: the codes are random reads from memory, and asking for
		 * all of them at once overlaps the misses
		 */
		count = CopyList(g, c.id, layer, s->list);
		nnew = 0;
		for (int i = 0; i < count; i++)
		{
			int32		e = s->list[i];

			if (g->visited[e] == g->epoch)
				continue;
			g->visited[e] = g->epoch;
			PrefetchCode(g, e);
			s->list[nnew++] = e;
		}
		for (int i = 0; i < nnew; i++)
		{
			int32		e = s->list[i];
			float		d = Dist(g, q, e);

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
	HnswBuildGraph *g;
	const BuildCand *cands;
} SelectCtx;

static float
BuildPairDistance(void *ctx, int a, int b)
{
	SelectCtx  *c = (SelectCtx *) ctx;

	return Dist(c->g, c->cands[a].id, c->cands[b].id);
}

/*
 * Choose up to maxn of the sorted candidates with the heuristic, given what
 * it decided for them before (s->kept, -1 for new ones; updated).  Leaves
 * the chosen positions in s->sel in candidate order and returns the count.
 */
static int
SelectFromCandidates(HnswBuildGraph *g, const BuildCand *cands, int ncand,
					 int maxn, InsertScratch *s)
{
	SelectCtx	ctx = {g, cands};
	int			nsel;

	for (int i = 0; i < ncand; i++)
		s->dist[i] = cands[i].distance;
	nsel = HnswSelectNeighbors(g->info.metric, ncand, s->dist, maxn, true,
							   BuildPairDistance, &ctx, s->sel, s->kept);
	for (int i = 1; i < nsel; i++)
	{
		int			v = s->sel[i];
		int			j;

		for (j = i; j > 0 && s->sel[j - 1] > v; j--)
			s->sel[j] = s->sel[j - 1];
		s->sel[j] = v;
	}
	return nsel;
}

/* Write a list from the chosen candidates, sorted, with their decisions */
static void
WriteList(HnswBuildGraph *g, int id, int layer, const BuildCand *cands,
		  const int *chosen, int n, const int8 *kept)
{
	int32	   *list = HnswGraphList(g, id, layer);
	float	   *dist;
	int8	   *lkept;

	ListInfo(g, id, layer, &dist, &lkept);
	for (int i = 0; i < n; i++)
	{
		list[1 + i] = cands[chosen[i]].id;
		dist[1 + i] = cands[chosen[i]].distance;
		lkept[1 + i] = kept[chosen[i]];
	}
	list[0] = n;
	lkept[0] = 1;
}

/*
 * Add a back-link from node to newid (at distance d) on a layer, pruning
 * node's list with the heuristic when it is full.  The list is kept sorted
 * by distance, so the new link is merged in and the heuristic reuses its
 * earlier decisions (see hnswgraph.h).
 */
static void
AddBackLink(HnswBuildGraph *g, int node, int newid, float d, int layer,
			InsertScratch *s)
{
	int			maxn = HnswLayerSlots(g->info.m, layer);
	int32	   *list;
	float	   *dist;
	int8	   *kept;
	int			n;
	int			pos;

	LockNode(g, node, LW_EXCLUSIVE);
	list = HnswGraphList(g, node, layer);
	ListInfo(g, node, layer, &dist, &kept);
	n = list[0];
	for (int i = 0; i < n; i++)
	{
		if (list[1 + i] == newid)
		{
			UnlockNode(g, node);
			return;
		}
	}

	/* the list as candidates, sorted */
	for (int i = 0; i < n; i++)
	{
		s->prune[i].id = list[1 + i];
		s->prune[i].distance = kept[0] ? dist[1 + i] : Dist(g, node, list[1 + i]);
		s->kept[i] = kept[0] ? kept[1 + i] : -1;
	}
	if (!kept[0])
		qsort(s->prune, n, sizeof(BuildCand), CompareBuildCand);

	/* merge the new link in after those no farther */
	for (pos = n; pos > 0 && s->prune[pos - 1].distance > d; pos--)
	{
		s->prune[pos] = s->prune[pos - 1];
		s->kept[pos] = s->kept[pos - 1];
	}
	s->prune[pos].id = newid;
	s->prune[pos].distance = d;
	s->kept[pos] = -1;
	n++;

	if (n <= maxn)
	{
		for (int i = 0; i < n; i++)
			s->sel[i] = i;
	}
	else
		n = SelectFromCandidates(g, s->prune, n, maxn, s);
	WriteList(g, node, layer, s->prune, s->sel, n, s->kept);
	UnlockNode(g, node);
}

/* A list written out of distance order: its next pruning starts afresh */
static void
MarkListUnsorted(HnswBuildGraph *g, int id, int layer)
{
	float	   *dist;
	int8	   *kept;

	ListInfo(g, id, layer, &dist, &kept);
	kept[0] = 0;
}

/*
 * An exact copy of node orig: take its layer-0 links plus one back to it,
 * and have it link to the copy in place of its last link.  The selection
 * heuristic keeps at most one copy of a vector per list, so copies linked
 * the usual way end up unreachable; chained, everything orig reached is
 * still reached through the copy (hnswinsert.c does the same on disk).
 */
static void
ChainDuplicate(HnswBuildGraph *g, int id, int orig, InsertScratch *s)
{
	int			maxn = 2 * g->info.m;
	int			n = CopyList(g, orig, 0, s->list);
	int32	   *list;

	/* keep the last link: it leads to the previous copy of the chain */
	if (n < maxn)
		s->list[n++] = orig;
	else
		s->list[maxn - 2] = orig;
	LockNode(g, id, LW_EXCLUSIVE);
	list = HnswGraphList(g, id, 0);
	memcpy(list + 1, s->list, sizeof(int32) * n);
	list[0] = n;
	MarkListUnsorted(g, id, 0);
	UnlockNode(g, id);

	LockNode(g, orig, LW_EXCLUSIVE);
	list = HnswGraphList(g, orig, 0);
	if (list[0] < maxn)
		list[1 + list[0]++] = id;
	else
		list[maxn] = id;
	MarkListUnsorted(g, orig, 0);
	UnlockNode(g, orig);
}

/*
 * Insert node id, already holding its vector and level, into the graph
 */
static void
GraphInsert(HnswBuildGraph *g, int id, InsertScratch *s)
{
	int			level = g->levels[id];
	int			efc = g->info.ef_construction;
	int32		entry;
	int32		entry_level;
	BuildCand	ep;
	int			nfound;

	GetEntry(g, &entry, &entry_level);
	if (entry < 0)
	{
		MaybeSetEntry(g, id, level);
		return;
	}

	ep.id = entry;
	ep.distance = Dist(g, id, entry);

	/* greedy descent through the layers above the new node's */
	for (int layer = entry_level; layer > level; layer--)
	{
		bool		moved = true;

		while (moved)
		{
			int			count = CopyList(g, ep.id, layer, s->list);

			moved = false;
			for (int i = 0; i < count; i++)
			{
				float		d = Dist(g, id, s->list[i]);

				if (d < ep.distance)
				{
					ep.distance = d;
					ep.id = s->list[i];
					moved = true;
				}
			}
		}
	}

	s->found[0] = ep;
	nfound = 1;
	for (int layer = Min(level, entry_level); layer >= 0; layer--)
	{
		int			maxn = HnswLayerSlots(g->info.m, layer);
		int			nsel;

		nfound = SearchLayer(g, id, s->found, nfound, efc, layer, s, s->found);
		if (level == 0 && nfound > 0 && s->found[0].distance == 0 &&
			HnswSameCode(&g->info, &HnswGraphCodeOf(g, id)->node,
						 &HnswGraphCodeOf(g, s->found[0].id)->node))
		{
			ChainDuplicate(g, id, s->found[0].id, s);
			return;
		}
		for (int i = 0; i < nfound; i++)
			s->kept[i] = -1;
		nsel = SelectFromCandidates(g, s->found, nfound, maxn, s);

		LockNode(g, id, LW_EXCLUSIVE);
		WriteList(g, id, layer, s->found, s->sel, nsel, s->kept);
		UnlockNode(g, id);

		/* AddBackLink reuses the scratch arrays */
		for (int i = 0; i < nsel; i++)
			s->selected[i] = s->sel[i];
		for (int i = 0; i < nsel; i++)
			AddBackLink(g, s->found[s->selected[i]].id, id,
						s->found[s->selected[i]].distance, layer, s);
	}

	if (level > entry_level)
		MaybeSetEntry(g, id, level);
}

/*
 * Breadth-first walk of layer 0 from the entry point; marks reached[]
 */
static int
MarkReachable(HnswBuildGraph *g, bool *reached, int32 *queue)
{
	int			head = 0;
	int			tail = 0;

	memset(reached, 0, sizeof(bool) * g->n);
	if (*g->entry < 0)
		return 0;
	reached[*g->entry] = true;
	queue[tail++] = *g->entry;
	while (head < tail)
	{
		int32	   *list = HnswGraphList(g, queue[head++], 0);

		for (int i = 0; i < list[0]; i++)
		{
			int32		v = list[1 + i];

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
 * Where to link an unreachable node u from: a reachable neighbour of u with
 * a free slot, else one whose list holds a node with other incoming links
 * (that link is replaced: its target stays reachable).  Returns the
 * neighbour and sets *slot; -1 if there is none.
 */
static int
LinkSource(HnswBuildGraph *g, int u, const bool *reached, const int32 *indegree,
		   int *slot)
{
	int32	   *own = HnswGraphList(g, u, 0);
	int			maxn = 2 * g->info.m;

	for (int i = 0; i < own[0]; i++)
	{
		int			v = own[1 + i];
		int32	   *from = HnswGraphList(g, v, 0);

		if (!reached[v])
			continue;
		if (from[0] < maxn)
		{
			*slot = from[0];
			return v;
		}
		for (int k = maxn - 1; k >= 0; k--)
		{
			if (indegree[from[1 + k]] > 1)
			{
				*slot = k;
				return v;
			}
		}
	}
	return -1;
}

/*
 * Pruning can leave a node with no incoming link on layer 0, and then no
 * search finds it.  Give each such node a link from a reachable neighbour,
 * taking a slot whose target keeps another incoming link, and repeat until
 * every node is reachable (a node linked from another unreachable one is
 * reached in a later round).  Runs after all inserts, in the leader only.
 */
static void
EnsureReachable(HnswBuildGraph *g)
{
	bool	   *reached = palloc(sizeof(bool) * Max(g->n, 1));
	int32	   *queue = palloc(sizeof(int32) * Max(g->n, 1));
	int32	   *indegree = palloc(sizeof(int32) * Max(g->n, 1));

	for (int round = 0; round < 20 && MarkReachable(g, reached, queue) < g->n; round++)
	{
		CHECK_FOR_INTERRUPTS();
		memset(indegree, 0, sizeof(int32) * g->n);
		for (int v = 0; v < g->n; v++)
		{
			int32	   *list = HnswGraphList(g, v, 0);

			for (int i = 0; i < list[0]; i++)
				indegree[list[1 + i]]++;
		}

		for (int u = 0; u < g->n; u++)
		{
			int			slot;
			int			v;
			int32	   *from;

			if (reached[u])
				continue;
			v = LinkSource(g, u, reached, indegree, &slot);
			if (v < 0)
			{
				/* no good source: the entry point's last link */
				v = *g->entry;
				slot = Min(HnswGraphList(g, v, 0)[0], 2 * g->info.m - 1);
			}
			from = HnswGraphList(g, v, 0);
			if (slot < from[0])
				indegree[from[1 + slot]]--;
			else
				from[0]++;
			from[1 + slot] = u;
			MarkListUnsorted(g, v, 0);
			indegree[u]++;
		}
	}
	pfree(reached);
	pfree(queue);
	pfree(indegree);
}

/*
 * Insert nodes taken from *next until none is left; shared by the serial
 * build, the leader and the workers
 */
static void
InsertLoop(HnswBuildGraph *g, pg_atomic_uint32 *next, bool report)
{
	InsertScratch s;

	ScratchInit(&s, &g->info);
	g->visited = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * Max(g->n, 1));
	memset(g->visited, 0, sizeof(uint32) * Max(g->n, 1));
	g->epoch = 0;

	for (;;)
	{
		uint32		id = pg_atomic_fetch_add_u32(next, 1);

		if (id >= (uint32) g->n)
			break;
		CHECK_FOR_INTERRUPTS();
		GraphInsert(g, id, &s);
		if (report && (id + 1) % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, id + 1);
	}
	pfree(g->visited);
	g->visited = NULL;
}

/* What the leader puts in the DSM segment, followed by the arrays */
typedef struct ParallelGraphShared
{
	HnswIndexInfo info;			/* type pointer is process-local: re-derived */
	int			max_level;
	int			n;
	int64		upper_used;
	int			lwlock_tranche;
	slock_t		entry_mutex;
	int32		entry;
	int32		entry_level;
	pg_atomic_uint32 next;
	/* then: codes, layer0 (ids, distances, kept), upper_offset, upper_pool (the same), levels, locks */
} ParallelGraphShared;

static Size
ArraysSize(const HnswIndexInfo *info, int n, int64 upper_used)
{
	Size		size = MAXALIGN(sizeof(ParallelGraphShared));

	size = add_size(size, MAXALIGN(mul_size(HnswGraphCodeStride(info->dim), n)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(int32) * (2 * info->m + 1), n)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(float) * (2 * info->m + 1), n)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(int8) * (2 * info->m + 1), n)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(int64), n)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(int32), Max(upper_used, 1))));
	size = add_size(size, MAXALIGN(mul_size(sizeof(float), Max(upper_used, 1))));
	size = add_size(size, MAXALIGN(mul_size(sizeof(int8), Max(upper_used, 1))));
	size = add_size(size, MAXALIGN(n));
	size = add_size(size, MAXALIGN(mul_size(sizeof(LWLock), n)));
	return size;
}

/*
 * Point a graph at the arrays that follow the shared header
 */
static void
AttachShared(HnswBuildGraph *g, ParallelGraphShared *sh)
{
	char	   *p = (char *) sh + MAXALIGN(sizeof(ParallelGraphShared));
	int			n = sh->n;

	g->codes = p;
	g->code_stride = HnswGraphCodeStride(sh->info.dim);
	p += MAXALIGN((Size) g->code_stride * n);
	g->layer0 = (int32 *) p;
	p += MAXALIGN(sizeof(int32) * (2 * sh->info.m + 1) * (Size) n);
	g->layer0_dist = (float *) p;
	p += MAXALIGN(sizeof(float) * (2 * sh->info.m + 1) * (Size) n);
	g->layer0_kept = (int8 *) p;
	p += MAXALIGN(sizeof(int8) * (2 * sh->info.m + 1) * (Size) n);
	g->upper_offset = (int64 *) p;
	p += MAXALIGN(sizeof(int64) * (Size) n);
	g->upper_pool = (int32 *) p;
	p += MAXALIGN(sizeof(int32) * Max(sh->upper_used, 1));
	g->upper_dist = (float *) p;
	p += MAXALIGN(sizeof(float) * Max(sh->upper_used, 1));
	g->upper_kept = (int8 *) p;
	p += MAXALIGN(sizeof(int8) * Max(sh->upper_used, 1));
	g->levels = (uint8 *) p;
	p += MAXALIGN(n);
	g->locks = (LWLock *) p;
	g->n = n;
	g->entry = &sh->entry;
	g->entry_level = &sh->entry_level;
	g->entry_mutex = &sh->entry_mutex;
}

/*
 * Entry point of a parallel build worker
 */
PGDLLEXPORT void engram_hnsw_build_worker(dsm_segment *seg, shm_toc *toc);

void
engram_hnsw_build_worker(dsm_segment *seg, shm_toc *toc)
{
	ParallelGraphShared *sh = shm_toc_lookup(toc, PARALLEL_KEY_GRAPH, false);
	HnswBuildGraph g;

	LWLockRegisterTranche(sh->lwlock_tranche, "engram_hnsw_build");
	memset(&g, 0, sizeof(g));
	g.info = sh->info;
	g.info.type = NULL;			/* only distances are needed here */
	g.max_level = sh->max_level;
	AttachShared(&g, sh);
	InsertLoop(&g, &sh->next, false);
}

/*
 * Copy the graph into shared memory, insert with the workers, and copy the
 * neighbour lists back
 */
static void
BuildParallel(HnswBuildGraph *g, Relation index, int nworkers)
{
	ParallelContext *pcxt;
	ParallelGraphShared *sh;
	Size		size = ArraysSize(&g->info, g->n, g->upper_used);
	HnswBuildGraph shared;

	EnterParallelMode();
	pcxt = CreateParallelContext("engram", "engram_hnsw_build_worker", nworkers);
	shm_toc_estimate_chunk(&pcxt->estimator, size);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);

	sh = shm_toc_allocate(pcxt->toc, size);
	sh->info = g->info;
	sh->max_level = g->max_level;
	sh->n = g->n;
	sh->upper_used = g->upper_used;
	sh->lwlock_tranche = LWLockNewTrancheId();
	LWLockRegisterTranche(sh->lwlock_tranche, "engram_hnsw_build");
	SpinLockInit(&sh->entry_mutex);
	sh->entry = -1;
	sh->entry_level = -1;
	pg_atomic_init_u32(&sh->next, 0);

	memset(&shared, 0, sizeof(shared));
	AttachShared(&shared, sh);
	memcpy(shared.codes, g->codes, (Size) g->code_stride * g->n);
	memcpy(shared.layer0, g->layer0, sizeof(int32) * (2 * g->info.m + 1) * (Size) g->n);
	memcpy(shared.layer0_kept, g->layer0_kept, sizeof(int8) * (2 * g->info.m + 1) * (Size) g->n);
	memcpy(shared.upper_offset, g->upper_offset, sizeof(int64) * (Size) g->n);
	if (g->upper_used > 0)
	{
		memcpy(shared.upper_pool, g->upper_pool, sizeof(int32) * g->upper_used);
		memcpy(shared.upper_kept, g->upper_kept, sizeof(int8) * g->upper_used);
	}
	memcpy(shared.levels, g->levels, g->n);
	for (int i = 0; i < g->n; i++)
		LWLockInitialize(&shared.locks[i], sh->lwlock_tranche);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_GRAPH, sh);

	LaunchParallelWorkers(pcxt);
	ereport(DEBUG1,
			(errmsg_internal("engram_hnsw build of \"%s\": %d of %d parallel workers launched",
							 RelationGetRelationName(index), pcxt->nworkers_launched,
							 nworkers)));
	shared.info = g->info;
	shared.max_level = g->max_level;
	InsertLoop(&shared, &sh->next, true);
	WaitForParallelWorkersToFinish(pcxt);

	/*
	 * Copy the lists and the entry point back, and leave parallel mode
	 * before any page is written
	 */
	memcpy(g->layer0, shared.layer0, sizeof(int32) * (2 * g->info.m + 1) * (Size) g->n);
	if (g->upper_used > 0)
		memcpy(g->upper_pool, shared.upper_pool, sizeof(int32) * g->upper_used);
	*g->entry = sh->entry;
	*g->entry_level = sh->entry_level;

	DestroyParallelContext(pcxt);
	ExitParallelMode();
}

/*
 * Insert every node read into the graph, with parallel workers when the
 * planner allows them, then make every node reachable
 */
void
HnswGraphBuild(HnswBuildGraph *g, Relation index, int nworkers)
{
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_GRAPH);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);

	/* workers pay off only on a graph of some size */
	if (g->n <= 1000)
		nworkers = 0;
	if (nworkers > 0)
		BuildParallel(g, index, nworkers);
	else
	{
		pg_atomic_uint32 next;

		pg_atomic_init_u32(&next, 0);
		InsertLoop(g, &next, true);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, g->n);
	EnsureReachable(g);
}
