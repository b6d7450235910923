/*-------------------------------------------------------------------------
 *
 * hnswsearch.c
 *	  engram_hnsw: greedy search over the on-disk graph, shared by index
 *	  scans and inserts.
 *
 * Distances here are estimates from the nodes' int8 codes, so one hop reads
 * only node tuples, never the heap (README, "Search").  Pages are read
 * through a cursor that keeps the current page pinned and share-locked while
 * consecutive nodes live on it, which BFS placement makes the common case;
 * at most one page lock is held at a time.
 *
 * src/am/hnsw/hnswsearch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "am/hnsw/hnsw.h"

/* Visited set: open-addressing hash of node positions (simplehash) */
typedef struct VisitedEntry
{
	uint64		key;
	char		status;
} VisitedEntry;

#define SH_PREFIX visitedhash
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((key) >> 32) * 2654435761u)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

struct HnswVisited
{
	visitedhash_hash *hash;
};

static inline uint64
NodeKey(ItemPointer node)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(node) << 16) |
		ItemPointerGetOffsetNumberNoCheck(node);
}

HnswVisited *
HnswVisitedCreate(MemoryContext cxt, uint32 nelem)
{
	HnswVisited *v = MemoryContextAlloc(cxt, sizeof(HnswVisited));

	v->hash = visitedhash_create(cxt, nelem, NULL);
	return v;
}

/* Mark a node visited; true if it already was */
bool
HnswVisitedTestAndSet(HnswVisited *visited, ItemPointer node)
{
	bool		found;

	visitedhash_insert(visited->hash, NodeKey(node), &found);
	return found;
}

uint32
HnswVisitedCount(HnswVisited *visited)
{
	return visited->hash->members;
}

void
HnswVisitedReset(HnswVisited *visited)
{
	visitedhash_reset(visited->hash);
}

/* Page cursor: one pinned, share-locked page at a time */
typedef struct PageCursor
{
	Relation	index;
	Buffer		buf;
	BlockNumber blkno;
	BlockNumber hot_end;
	HnswSearchStats *stats;
} PageCursor;

static void
CursorInit(PageCursor *c, Relation index, HnswSearchStats *stats)
{
	c->index = index;
	c->buf = InvalidBuffer;
	c->blkno = InvalidBlockNumber;
	c->hot_end = 1;
	c->stats = stats;
}

static void
CursorRelease(PageCursor *c)
{
	if (BufferIsValid(c->buf))
		UnlockReleaseBuffer(c->buf);
	c->buf = InvalidBuffer;
	c->blkno = InvalidBlockNumber;
}

/*
 * The node tuple at tid, valid until the cursor moves to another page.
 * Returns NULL for a slot that holds no node (line pointer unused).
 */
static HnswNodeHeader *
CursorGetNode(PageCursor *c, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Page		page;
	ItemId		itemid;

	if (blkno != c->blkno)
	{
		CursorRelease(c);
		c->buf = ReadBuffer(c->index, blkno);
		LockBuffer(c->buf, BUFFER_LOCK_SHARE);
		c->blkno = blkno;
		if (c->stats)
		{
			if (HnswPageGetOpaque(BufferGetPage(c->buf))->tier == HNSW_TIER_HOT)
				c->stats->pages_hot++;
			else
				c->stats->pages_warm++;
		}
	}

	page = BufferGetPage(c->buf);
	if (off > PageGetMaxOffsetNumber(page))
		return NULL;
	itemid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(itemid))
		return NULL;
	return (HnswNodeHeader *) PageGetItem(page, itemid);
}

/*
 * Copy a node's neighbour list on one layer; returns the count
 */
static int
CopyNeighbors(const HnswNodeHeader *node, int dim, int m, int layer,
			  ItemPointerData *out)
{
	int			n;

	if (layer > node->level)
		return 0;
	n = Min(HnswNodeCounts(node, dim)[layer], HnswLayerSlots(m, layer));
	memcpy(out, HnswNodeNeighbors(node, dim, m, layer), sizeof(ItemPointerData) * n);
	return n;
}

/*
 * Walk down from the entry point to stop_level, moving greedily to the
 * nearest neighbour on each layer above it; returns the node reached
 */
ItemPointerData
HnswGreedyDescend(Relation index, const HnswIndexInfo *info, const HnswQuery *q,
				  ItemPointerData entry, int entry_level, int stop_level,
				  HnswSearchStats *stats)
{
	PageCursor	c;
	ItemPointerData cur = entry;
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * 2 * info->m);
	HnswNodeHeader *node;
	float		best;

	CursorInit(&c, index, stats);
	node = CursorGetNode(&c, &cur);
	if (node == NULL)
		elog(ERROR, "engram_hnsw entry point (%u,%u) of index \"%s\" is missing",
			 ItemPointerGetBlockNumber(&cur), ItemPointerGetOffsetNumber(&cur),
			 RelationGetRelationName(index));
	best = HnswEstimateNode(q, node).distance;

	for (int layer = entry_level; layer > stop_level; layer--)
	{
		bool		moved = true;

		while (moved)
		{
			int			n;

			CHECK_FOR_INTERRUPTS();
			moved = false;
			node = CursorGetNode(&c, &cur);
			n = node ? CopyNeighbors(node, info->dim, info->m, layer, nbrs) : 0;
			if (stats)
				stats->nodes_expanded++;

			for (int i = 0; i < n; i++)
			{
				HnswNodeHeader *nb = CursorGetNode(&c, &nbrs[i]);
				float		d;

				if (nb == NULL || (nb->flags & HNSW_NODE_UNLINKED))
					continue;
				d = HnswEstimateNode(q, nb).distance;
				if (stats)
					stats->distances++;
				if (d < best)
				{
					best = d;
					cur = nbrs[i];
					moved = true;
				}
			}
		}
	}

	CursorRelease(&c);
	pfree(nbrs);
	return cur;
}

/* Binary heaps of candidates, by distance: min-heap or max-heap */
typedef struct CandHeap
{
	HnswCandidate *items;
	int			n;
	int			capacity;
	bool		max;
} CandHeap;

static void
HeapInit(CandHeap *h, int capacity, bool max)
{
	h->items = palloc(sizeof(HnswCandidate) * capacity);
	h->n = 0;
	h->capacity = capacity;
	h->max = max;
}

static inline bool
HeapBefore(const CandHeap *h, int a, int b)
{
	return h->max ? h->items[a].distance > h->items[b].distance
		: h->items[a].distance < h->items[b].distance;
}

static void
HeapPush(CandHeap *h, const HnswCandidate *c)
{
	int			i;

	if (h->n == h->capacity)
	{
		h->capacity *= 2;
		h->items = repalloc(h->items, sizeof(HnswCandidate) * h->capacity);
	}
	i = h->n++;
	h->items[i] = *c;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;
		HnswCandidate tmp;

		if (!HeapBefore(h, i, parent))
			break;
		tmp = h->items[i];
		h->items[i] = h->items[parent];
		h->items[parent] = tmp;
		i = parent;
	}
}

static HnswCandidate
HeapPop(CandHeap *h)
{
	HnswCandidate top = h->items[0];
	int			i = 0;

	h->items[0] = h->items[--h->n];
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			best = i;
		HnswCandidate tmp;

		if (l < h->n && HeapBefore(h, l, best))
			best = l;
		if (r < h->n && HeapBefore(h, r, best))
			best = r;
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
CompareBlocks(const void *a, const void *b)
{
	BlockNumber ba = ItemPointerGetBlockNumberNoCheck((ItemPointer) a);
	BlockNumber bb = ItemPointerGetBlockNumberNoCheck((ItemPointer) b);

	return ba < bb ? -1 : ba > bb ? 1 : 0;
}

static int
CompareDistance(const void *a, const void *b)
{
	float		da = ((const HnswCandidate *) a)->distance;
	float		db = ((const HnswCandidate *) b)->distance;

	return da < db ? -1 : da > db ? 1 : 0;
}

/*
 * Fill a candidate from a node
 */
static void
MakeCandidate(HnswCandidate *c, const HnswQuery *q, ItemPointer tid,
			  const HnswNodeHeader *node)
{
	HnswEstimate e = HnswEstimateNode(q, node);

	c->node = *tid;
	c->heaptid = node->heaptid;
	c->distance = e.distance;
	c->lower_bound = e.lower_bound;
	c->deleted = (node->flags & HNSW_NODE_DELETED) != 0;
}

/*
 * The ef nearest nodes to q on one layer, found from the entries (the
 * SEARCH-LAYER procedure of the HNSW paper).  Deleted nodes route the search
 * but are left out of the results when skip_deleted.  Results go to
 * results[] (room for ef) sorted by estimated distance; returns how many.
 */
int
HnswSearchLayer(Relation index, const HnswIndexInfo *info, const HnswQuery *q,
				ItemPointerData *entries, int nentries, int layer, int ef,
				bool skip_deleted, HnswCandidate *results,
				HnswVisited *visited, HnswSearchStats *stats)
{
	PageCursor	c;
	CandHeap	cand;
	CandHeap	best;
	int			maxslots = HnswLayerSlots(info->m, layer);
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * maxslots);
	int			nresults;

	HeapInit(&cand, 64, false);
	HeapInit(&best, ef + 1, true);
	CursorInit(&c, index, stats);

	for (int i = 0; i < nentries; i++)
	{
		HnswNodeHeader *node;
		HnswCandidate e;

		if (HnswVisitedTestAndSet(visited, &entries[i]))
			continue;
		node = CursorGetNode(&c, &entries[i]);
		if (node == NULL || (node->flags & HNSW_NODE_UNLINKED))
			continue;
		MakeCandidate(&e, q, &entries[i], node);
		HeapPush(&cand, &e);
		if (!(skip_deleted && e.deleted))
			HeapPush(&best, &e);
	}

	while (cand.n > 0)
	{
		HnswCandidate cur = HeapPop(&cand);
		HnswNodeHeader *node;
		int			n;

		if (best.n >= ef && cur.distance > best.items[0].distance)
			break;

		CHECK_FOR_INTERRUPTS();
		node = CursorGetNode(&c, &cur.node);
		n = node ? CopyNeighbors(node, info->dim, info->m, layer, nbrs) : 0;
		if (stats)
			stats->nodes_expanded++;

		/* visit neighbours page by page */
		qsort(nbrs, n, sizeof(ItemPointerData), CompareBlocks);
		for (int i = 0; i < n; i++)
		{
			HnswNodeHeader *nb;
			HnswCandidate e;

			if (HnswVisitedTestAndSet(visited, &nbrs[i]))
				continue;
			nb = CursorGetNode(&c, &nbrs[i]);
			if (nb == NULL || (nb->flags & HNSW_NODE_UNLINKED))
				continue;
			MakeCandidate(&e, q, &nbrs[i], nb);
			if (stats)
				stats->distances++;

			if (best.n < ef || e.distance < best.items[0].distance)
			{
				HeapPush(&cand, &e);
				if (skip_deleted && e.deleted)
					continue;
				HeapPush(&best, &e);
				if (best.n > ef)
					(void) HeapPop(&best);
			}
		}
	}
	CursorRelease(&c);

	nresults = best.n;
	memcpy(results, best.items, sizeof(HnswCandidate) * nresults);
	qsort(results, nresults, sizeof(HnswCandidate), CompareDistance);

	pfree(cand.items);
	pfree(best.items);
	pfree(nbrs);
	return nresults;
}
