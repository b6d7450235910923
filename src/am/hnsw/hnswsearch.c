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
#include "executor/instrument.h"
#include "miscadmin.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "am/hnsw/hnsw.h"
#include "readahead.h"

/*
 * Sets of node positions (the visited set, the index of HnswCodeCopies):
 * open-addressing hashes (simplehash) keyed by block and offset, with room
 * in the entry's padding for a number (a copy's, in HnswCodeCopies)
 */
typedef struct NodeEntry
{
	uint64		key;
	uint32		copy;
	char		status;
} NodeEntry;

#define SH_PREFIX nodehash
#define SH_ELEMENT_TYPE NodeEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((key) >> 32) * 2654435761u)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

/*
 * A bitmap over an index's node slots, kept by the backend per index (see
 * IndexLocal) and lent to one visited set at a time.  Slot numbers are
 * block * slots_per_page + offset - 1, where slots_per_page is how many of
 * the smallest node (a level-0 one) a page can hold, so every line pointer
 * of a node page has a bit.  Words set since the last clear are listed, so
 * that clearing costs what the search touched, not the index's size.
 */
typedef struct SlotBitmap
{
	uint64	   *words;
	uint32		nwords;
	uint32	   *touched;		/* words made non-zero since the last clear */
	uint32		ntouched;
	uint32		maxtouched;
	bool		overflowed;		/* touched[] is incomplete: clear all words */
	bool		lent;
} SlotBitmap;

struct HnswVisited
{
	nodehash_hash *hash;		/* the set, or what the bitmap cannot hold */
	SlotBitmap *bitmap;			/* borrowed, or NULL */
	uint32		slots_per_page;
	uint32		members;
	MemoryContext cxt;
	MemoryContextCallback giveback; /* returns the bitmap if cxt goes first */
	HnswCodeCopies *copies;		/* if set, copies of the nodes estimated */
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
	HnswVisited *v = MemoryContextAllocZero(cxt, sizeof(HnswVisited));

	v->cxt = cxt;
	v->hash = nodehash_create(cxt, nelem, NULL);
	return v;
}

/*
 * Have searches through this visited set keep a copy of the header and
 * code of every node they estimate (inserts prune the new node's
 * neighbours' lists with them)
 */
void
HnswVisitedKeepCodes(HnswVisited *visited, HnswCodeCopies *copies)
{
	visited->copies = copies;
}

static void
SlotBitmapClear(SlotBitmap *b)
{
	if (b->overflowed)
		memset(b->words, 0, sizeof(uint64) * b->nwords);
	else
		for (uint32 i = 0; i < b->ntouched; i++)
			b->words[b->touched[i]] = 0;
	b->ntouched = 0;
	b->overflowed = false;
}

/* Make room for word w; false if that would be unreasonable */
static bool
SlotBitmapCover(SlotBitmap *b, uint64 w)
{
	uint64		nwords;

	if (w < b->nwords)
		return true;
	/* links point into the index; far beyond its end is not worth a bitmap */
	if (w >= (uint64) 2 * b->nwords + 1024 || w >= PG_UINT32_MAX / 2)
		return false;
	nwords = Max(w + 1, (uint64) 2 * b->nwords);
	b->words = b->words ?
		repalloc(b->words, sizeof(uint64) * nwords) :
		MemoryContextAlloc(TopMemoryContext, sizeof(uint64) * nwords);
	memset(b->words + b->nwords, 0, sizeof(uint64) * (nwords - b->nwords));
	b->nwords = (uint32) nwords;
	/* listing touched words pays only while it is cheaper than a memset */
	b->maxtouched = Max(b->nwords / 8, 256);
	b->touched = b->touched ?
		repalloc(b->touched, sizeof(uint32) * b->maxtouched) :
		MemoryContextAlloc(TopMemoryContext, sizeof(uint32) * b->maxtouched);
	b->overflowed = b->overflowed || b->ntouched > b->maxtouched;
	return true;
}

static void
VisitedGiveBack(void *arg)
{
	HnswVisited *v = (HnswVisited *) arg;

	if (v->bitmap)
	{
		SlotBitmapClear(v->bitmap);
		v->bitmap->lent = false;
		v->bitmap = NULL;
	}
}

/*
 * Mark a node visited; true if it already was
 */
bool
HnswVisitedTestAndSet(HnswVisited *visited, ItemPointer node)
{
	bool		found;

	if (visited->bitmap)
	{
		SlotBitmap *b = visited->bitmap;
		OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(node);
		uint64		slot;
		uint64		w;
		uint64		bit;

		if (off >= FirstOffsetNumber && off <= visited->slots_per_page)
		{
			slot = (uint64) ItemPointerGetBlockNumberNoCheck(node) *
				visited->slots_per_page + off - 1;
			w = slot >> 6;
			bit = UINT64CONST(1) << (slot & 63);
			if (SlotBitmapCover(b, w))
			{
				if (b->words[w] & bit)
					return true;
				if (b->words[w] == 0)
				{
					if (b->ntouched < b->maxtouched)
						b->touched[b->ntouched++] = (uint32) w;
					else
						b->overflowed = true;
				}
				b->words[w] |= bit;
				visited->members++;
				return false;
			}
		}
	}
	if (visited->hash == NULL)
		visited->hash = nodehash_create(visited->cxt, 64, NULL);
	nodehash_insert(visited->hash, NodeKey(node), &found);
	if (!found)
		visited->members++;
	return found;
}

uint32
HnswVisitedCount(HnswVisited *visited)
{
	return visited->members;
}

void
HnswVisitedReset(HnswVisited *visited)
{
	if (visited->bitmap)
		SlotBitmapClear(visited->bitmap);
	if (visited->hash)
		nodehash_reset(visited->hash);
	visited->members = 0;
}

/*
 * Give a visited set's bitmap back to the backend; the set must not be used
 * again
 */
void
HnswVisitedRelease(HnswVisited *visited)
{
	VisitedGiveBack(visited);
}

/*
 * Copies of node headers and codes, by position: what estimates between
 * nodes read (HnswEstimateBetween), without the neighbour lists.  Copy
 * number i lives in chunk i / per_chunk; chunks are kept over resets.
 */
#define CODE_COPIES_CHUNK (64 * 1024)

struct HnswCodeCopies
{
	nodehash_hash *hash;		/* position -> copy number */
	MemoryContext cxt;
	int			dim;
	Size		size;			/* bytes per copy */
	uint32		per_chunk;
	uint32		ncopies;
	int			nchunks;
	int			maxchunks;
	char	  **chunks;
};

/*
 * A store for nodes of dim dimensions.  It can be reset and used again, so
 * that a backend inserting many rows keeps its memory rather than asking
 * malloc for it (and faulting it in) once per row.
 */
HnswCodeCopies *
HnswCodeCopiesCreate(MemoryContext cxt, int dim, uint32 nelem)
{
	HnswCodeCopies *c = MemoryContextAlloc(cxt, sizeof(HnswCodeCopies));

	c->hash = nodehash_create(cxt, nelem, NULL);
	c->cxt = cxt;
	c->dim = dim;
	c->size = MAXALIGN(sizeof(HnswNodeHeader) + dim);
	c->per_chunk = CODE_COPIES_CHUNK / c->size;
	Assert(c->per_chunk > 0);
	c->ncopies = 0;
	c->nchunks = 0;
	c->maxchunks = 8;
	c->chunks = MemoryContextAlloc(cxt, sizeof(char *) * c->maxchunks);
	return c;
}

int
HnswCodeCopiesDim(HnswCodeCopies *copies)
{
	return copies->dim;
}

/* Memory the copies hold */
Size
HnswCodeCopiesBytes(HnswCodeCopies *copies)
{
	return (Size) copies->nchunks * CODE_COPIES_CHUNK;
}

/* Forget every copy, keeping the memory */
void
HnswCodeCopiesReset(HnswCodeCopies *copies)
{
	nodehash_reset(copies->hash);
	copies->ncopies = 0;
}

static inline HnswNodeHeader *
CodeCopy(HnswCodeCopies *copies, uint32 i)
{
	return (HnswNodeHeader *) (copies->chunks[i / copies->per_chunk] +
							   (i % copies->per_chunk) * copies->size);
}

/* The copy of the node at tid, or NULL */
HnswNodeHeader *
HnswCodeCopiesGet(HnswCodeCopies *copies, ItemPointer tid)
{
	NodeEntry  *e = nodehash_lookup(copies->hash, NodeKey(tid));

	return e ? CodeCopy(copies, e->copy) : NULL;
}

/* Copy the header and code of the node at tid, unless already there */
HnswNodeHeader *
HnswCodeCopiesAdd(HnswCodeCopies *copies, ItemPointer tid,
				  const HnswNodeHeader *node)
{
	bool		found;
	NodeEntry  *e = nodehash_insert(copies->hash, NodeKey(tid), &found);

	if (found)
		return CodeCopy(copies, e->copy);
	if (copies->ncopies / copies->per_chunk >= (uint32) copies->nchunks)
	{
		if (copies->nchunks == copies->maxchunks)
		{
			copies->maxchunks *= 2;
			copies->chunks = repalloc(copies->chunks, sizeof(char *) * copies->maxchunks);
		}
		copies->chunks[copies->nchunks++] = MemoryContextAlloc(copies->cxt,
															   CODE_COPIES_CHUNK);
	}
	e->copy = copies->ncopies++;
	memcpy(CodeCopy(copies, e->copy), node, copies->size);
	return CodeCopy(copies, e->copy);
}

/*
 * What a backend keeps per index between searches (IndexLocal), up to
 * LOCAL_INDEXES indexes:
 *
 * Recent buffers: which shared buffer last held each block.  Searches pin
 * it again with ReadRecentBuffer, which only checks the buffer's tag: a
 * graph search reads hundreds of pages, and the buffer mapping lookup of
 * ReadBuffer was its largest single cost.  A stale entry is harmless (the
 * tag check fails and ReadBuffer runs).
 *
 * A slot bitmap, lent to one visited set at a time (HnswVisitedForIndex):
 * a test is one bit in a few tens of kilobytes where a hash table probe was
 * 16% of a search, and it is cleared word by word after each search
 * instead of being allocated and freed.
 */
#define LOCAL_INDEXES 8

typedef struct IndexLocal
{
	Oid			relfilenode;	/* InvalidOid: free slot */
	Oid			dbnode;
	BlockNumber size;
	Buffer	   *buffers;		/* per block, InvalidBuffer if unknown */
	SlotBitmap	visited;
} IndexLocal;

static IndexLocal local_indexes[LOCAL_INDEXES];
static int	local_next_victim = 0;

static IndexLocal *
GetIndexLocal(Relation index)
{
#if PG_VERSION_NUM >= 160000
	Oid			relnumber = index->rd_locator.relNumber;
	Oid			dbnode = index->rd_locator.dbOid;
#else
	Oid			relnumber = index->rd_node.relNode;
	Oid			dbnode = index->rd_node.dbNode;
#endif
	IndexLocal *r = NULL;

	for (int i = 0; i < LOCAL_INDEXES; i++)
		if (local_indexes[i].relfilenode == relnumber &&
			local_indexes[i].dbnode == dbnode)
			return &local_indexes[i];

	/* a victim whose bitmap is not lent out */
	for (int i = 0; i < LOCAL_INDEXES && r == NULL; i++)
	{
		IndexLocal *cand = &local_indexes[local_next_victim];

		local_next_victim = (local_next_victim + 1) % LOCAL_INDEXES;
		if (!cand->visited.lent)
			r = cand;
	}
	if (r == NULL)
		elog(ERROR, "engram_hnsw: more than %d indexes searched at once", LOCAL_INDEXES);
	if (r->buffers)
		pfree(r->buffers);
	if (r->visited.words)
		pfree(r->visited.words);
	if (r->visited.touched)
		pfree(r->visited.touched);
	memset(r, 0, sizeof(IndexLocal));
	r->relfilenode = relnumber;
	r->dbnode = dbnode;
	return r;
}

/*
 * A visited set for searches of index: the backend's slot bitmap for it
 * when that is free, a hash table otherwise.  HnswVisitedRelease gives the
 * bitmap back; if cxt is reset first (an error), that gives it back.
 */
HnswVisited *
HnswVisitedForIndex(MemoryContext cxt, Relation index, const HnswIndexInfo *info)
{
	HnswVisited *v = MemoryContextAllocZero(cxt, sizeof(HnswVisited));
	IndexLocal *r = GetIndexLocal(index);
	Size		usable = BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(HnswPageOpaqueData));

	v->cxt = cxt;
	if (r->visited.lent)
	{
		v->hash = nodehash_create(cxt, 1024, NULL);
		return v;
	}
	v->bitmap = &r->visited;
	v->bitmap->lent = true;
	v->slots_per_page = usable / (MAXALIGN(HnswNodeSize(info->dim, info->m, 0)) +
								  sizeof(ItemIdData));
	v->giveback.func = VisitedGiveBack;
	v->giveback.arg = v;
	MemoryContextRegisterResetCallback(cxt, &v->giveback);
	return v;
}

/* Remember that buf held blkno */
static void
RecentBuffersSet(IndexLocal *r, BlockNumber blkno, Buffer buf)
{
	if (blkno >= r->size)
	{
		BlockNumber newsize = Max(blkno + 1, r->size * 2);

		if (r->buffers == NULL)
			r->buffers = MemoryContextAlloc(TopMemoryContext, sizeof(Buffer) * newsize);
		else
			r->buffers = repalloc(r->buffers, sizeof(Buffer) * newsize);
		for (BlockNumber b = r->size; b < newsize; b++)
			r->buffers[b] = InvalidBuffer;
		r->size = newsize;
	}
	r->buffers[blkno] = buf;
}

static inline bool
RecentBuffersKnow(const IndexLocal *r, BlockNumber blkno)
{
	return blkno < r->size && BufferIsValid(r->buffers[blkno]);
}

static Buffer
ReadBufferRecent(Relation index, IndexLocal *r, BlockNumber blkno)
{
	Buffer		buf;

	if (RecentBuffersKnow(r, blkno) &&
#if PG_VERSION_NUM >= 160000
		ReadRecentBuffer(index->rd_locator, MAIN_FORKNUM, blkno, r->buffers[blkno]))
#else
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, r->buffers[blkno]))
#endif
		return r->buffers[blkno];

	buf = ReadBuffer(index, blkno);
	RecentBuffersSet(r, blkno, buf);
	return buf;
}

/*
 * Page cursor.  One page at a time is share-locked; the pins of recently
 * used pages are kept (a small direct-mapped cache) until the search ends,
 * so revisiting a page costs a lock, not a buffer mapping lookup.
 */
#define CURSOR_PINS 4			/* power of two; PostgreSQL tracks up to 8 pins without a hash table */

typedef struct PageCursor
{
	Relation	index;
	IndexLocal *recent;
	Buffer		locked;			/* share-locked buffer, or InvalidBuffer */
	BlockNumber locked_blkno;
	BlockNumber pinned_blkno[CURSOR_PINS];
	Buffer		pinned[CURSOR_PINS];
	HnswSearchStats *stats;
} PageCursor;

static void
CursorInit(PageCursor *c, Relation index, HnswSearchStats *stats)
{
	c->index = index;
	c->recent = GetIndexLocal(index);
	c->locked = InvalidBuffer;
	c->locked_blkno = InvalidBlockNumber;
	for (int i = 0; i < CURSOR_PINS; i++)
	{
		c->pinned_blkno[i] = InvalidBlockNumber;
		c->pinned[i] = InvalidBuffer;
	}
	c->stats = stats;
}

static void
CursorRelease(PageCursor *c)
{
	if (BufferIsValid(c->locked))
		LockBuffer(c->locked, BUFFER_LOCK_UNLOCK);
	c->locked = InvalidBuffer;
	c->locked_blkno = InvalidBlockNumber;
	for (int i = 0; i < CURSOR_PINS; i++)
	{
		if (BufferIsValid(c->pinned[i]))
			ReleaseBuffer(c->pinned[i]);
		c->pinned[i] = InvalidBuffer;
		c->pinned_blkno[i] = InvalidBlockNumber;
	}
}

/*
 * Share-lock block blkno, unlocking the previous page
 */
static Page
CursorLockPage(PageCursor *c, BlockNumber blkno)
{
	int			slot = blkno & (CURSOR_PINS - 1);

	if (blkno == c->locked_blkno)
		return BufferGetPage(c->locked);

	if (BufferIsValid(c->locked))
		LockBuffer(c->locked, BUFFER_LOCK_UNLOCK);

	if (c->pinned_blkno[slot] != blkno)
	{
		int64		reads = pgBufferUsage.shared_blks_read;

		if (BufferIsValid(c->pinned[slot]))
			ReleaseBuffer(c->pinned[slot]);
		c->pinned[slot] = ReadBufferRecent(c->index, c->recent, blkno);
		c->pinned_blkno[slot] = blkno;
		if (c->stats)
		{
			/* the buffer manager counts a miss in this backend's usage */
			bool		read = pgBufferUsage.shared_blks_read != reads;

			if (blkno < c->stats->hot_end)
			{
				c->stats->pages_hot++;
				c->stats->pages_hot_read += read;
			}
			else
			{
				c->stats->pages_warm++;
				c->stats->pages_warm_read += read;
			}
		}
	}
	c->locked = c->pinned[slot];
	c->locked_blkno = blkno;
	LockBuffer(c->locked, BUFFER_LOCK_SHARE);
	return BufferGetPage(c->locked);
}

/*
 * The node tuple at tid, valid until the cursor moves to another page.
 * Returns NULL for a slot that holds no node (line pointer unused).
 */
static HnswNodeHeader *
CursorGetNode(PageCursor *c, ItemPointer tid)
{
	Page		page = CursorLockPage(c, ItemPointerGetBlockNumber(tid));
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	ItemId		itemid;

	if (off > PageGetMaxOffsetNumber(page))
		return NULL;
	itemid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(itemid))
		return NULL;
	return (HnswNodeHeader *) PageGetItem(page, itemid);
}

/*
 * The pages of a hop that this backend has not read yet: remember the
 * buffers of those in shared buffers, and hand the others to the kernel in
 * one batch (readahead.c) before the hop reads them one by one.  tids are
 * sorted by block.  Once a backend has seen every page of the index, the
 * steady state of a cached index, this finds nothing to do.
 */
static void
ReadAheadUnseenPages(PageCursor *c, const ItemPointerData *tids, int n)
{
	EngramReadAhead ra;
	bool		begun = false;

	for (int i = 0; i < n; i++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&tids[i]);
		Buffer		buf;

		/* a repeat is known by now, or dropped by the batch */
		if (RecentBuffersKnow(c->recent, blkno))
			continue;
		if (!begun)
		{
			EngramReadAheadBegin(&ra, c->index);
			begun = true;
		}
		buf = EngramReadAheadAdd(&ra, blkno);
		if (BufferIsValid(buf))
			RecentBuffersSet(c->recent, blkno, buf);
	}
	if (begun)
		EngramReadAheadSubmit(&ra);
}

/*
 * Ask the CPU to start loading what reading node tid will touch: the
 * buffer descriptor (pinned and locked first), the page header and line
 * pointer; returns where the tuple should be, for the callers below to
 * prefetch what they read of it (NULL: unknown).  A graph search is bound by cache
 * misses, and the atomic operations of pinning and locking a buffer let no
 * load after them start early, so a miss that was not prefetched costs its
 * whole latency.
 *
 * The tuple's address is not read from its line pointer, which would wait
 * for that line first: a page that holds only level-0 nodes, the warm tier
 * as the build wrote it, has item i at special - i * node_size.  Elsewhere
 * the guess can be wrong, which costs a useless prefetch.  Pages are not
 * locked here (a prefetch never faults), and only blocks whose buffer this
 * backend has seen are touched.
 *
 * These helpers are always inlined: GCC takes a function whose only effect
 * is prefetching for a pure one and drops calls to it, and did so to every
 * prefetch of the graph search until this was found (search time down by a
 * third with the prefetches really issued).
 */
static pg_attribute_always_inline const char *
PrefetchNodePage(const IndexLocal *r, ItemPointer tid, Size node_size0)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);
	Buffer		buf;
	char	   *page;
	Size		special = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));

	if (blkno >= r->size || !BufferIsValid(r->buffers[blkno]) ||
		off < FirstOffsetNumber || off * node_size0 > special - SizeOfPageHeaderData)
		return NULL;
	buf = r->buffers[blkno];
	page = BufferGetPage(buf);
	__builtin_prefetch(GetBufferDescriptor(buf - 1));
	__builtin_prefetch(page);
	__builtin_prefetch(PageGetItemId((Page) page, off));
	return page + special - off * node_size0;
}

/* Prefetch len bytes from p */
static pg_attribute_always_inline void
PrefetchBytes(const char *p, Size len)
{
	for (Size b = 0; b < len; b += 64)
		__builtin_prefetch(p + b);
	__builtin_prefetch(p + len - 1);
}

/* What an estimate of node tid reads: its header and code */
static pg_attribute_always_inline void
PrefetchNodeCode(const IndexLocal *r, ItemPointer tid, Size node_size0, Size code_span)
{
	const char *tuple = PrefetchNodePage(r, tid, node_size0);

	if (tuple)
		PrefetchBytes(tuple, code_span);
}

/* What expanding node tid reads: its header, counts and layer-0 list */
static pg_attribute_always_inline void
PrefetchNodeList(const IndexLocal *r, ItemPointer tid, const HnswIndexInfo *info,
				 Size node_size0)
{
	const char *tuple = PrefetchNodePage(r, tid, node_size0);
	Size		counts = HnswCountsOffset(info->dim);

	if (tuple)
	{
		PrefetchBytes(tuple, sizeof(HnswNodeHeader));
		PrefetchBytes(tuple + counts,
					  HnswNeighborsOffset(info->dim, 0) - counts +
					  sizeof(ItemPointerData) * HnswLayerSlots(info->m, 0));
	}
}

/* how many neighbours ahead of the one being read a hop prefetches */
#define PREFETCH_AHEAD 8

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
			{
				stats->nodes_expanded++;
				if (stats->layer_nodes)
					stats->layer_nodes[layer]++;
			}

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

/*
 * Order a neighbour list by block so that neighbours on one page are read
 * under one lock (insertion sort: lists are short)
 */
static void
SortByBlock(ItemPointerData *tids, int n)
{
	for (int i = 1; i < n; i++)
	{
		ItemPointerData t = tids[i];
		BlockNumber b = ItemPointerGetBlockNumberNoCheck(&t);
		int			j = i;

		while (j > 0 && ItemPointerGetBlockNumberNoCheck(&tids[j - 1]) > b)
		{
			tids[j] = tids[j - 1];
			j--;
		}
		tids[j] = t;
	}
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
	Size		node_size0 = MAXALIGN(HnswNodeSize(info->dim, info->m, 0));
	/* an estimate reads the header and code; beyond 4 lines, the CPU streams */
	Size		code_span = Min(sizeof(HnswNodeHeader) + info->dim, 256);
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
		if (visited->copies)
			HnswCodeCopiesAdd(visited->copies, &entries[i], node);
		HeapPush(&cand, &e);
		if (!(skip_deleted && e.deleted))
			HeapPush(&best, &e);
		if (best.n > ef)		/* more entries than ef: keep the nearest */
			(void) HeapPop(&best);
	}

	while (cand.n > 0)
	{
		HnswCandidate cur = HeapPop(&cand);
		HnswNodeHeader *node;
		int			n;
		int			nnew;

		if (best.n >= ef && cur.distance > best.items[0].distance)
			break;
		/* the likely next node to expand, whose list this hop will not touch */
		if (cand.n > 0)
			PrefetchNodeList(c.recent, &cand.items[0].node, info, node_size0);

		CHECK_FOR_INTERRUPTS();
		node = CursorGetNode(&c, &cur.node);
		n = node ? CopyNeighbors(node, info->dim, info->m, layer, nbrs) : 0;
		if (stats)
		{
			stats->nodes_expanded++;
			if (stats->layer_nodes)
				stats->layer_nodes[layer]++;
		}

		/* the neighbours not seen yet, visited page by page */
		SortByBlock(nbrs, n);
		nnew = 0;
		for (int i = 0; i < n; i++)
			if (!HnswVisitedTestAndSet(visited, &nbrs[i]))
				nbrs[nnew++] = nbrs[i];
		if (engram_hnsw_prefetch && EngramReadAheadEnabled())
			ReadAheadUnseenPages(&c, nbrs, nnew);
		for (int i = 0; i < Min(nnew, PREFETCH_AHEAD); i++)
			PrefetchNodeCode(c.recent, &nbrs[i], node_size0, code_span);
		for (int i = 0; i < nnew; i++)
		{
			HnswNodeHeader *nb;
			HnswCandidate e;

			if (i + PREFETCH_AHEAD < nnew)
				PrefetchNodeCode(c.recent, &nbrs[i + PREFETCH_AHEAD], node_size0, code_span);
			nb = CursorGetNode(&c, &nbrs[i]);
			if (nb == NULL || (nb->flags & HNSW_NODE_UNLINKED))
				continue;
			MakeCandidate(&e, q, &nbrs[i], nb);
			if (stats)
				stats->distances++;
			if (visited->copies)
				HnswCodeCopiesAdd(visited->copies, &nbrs[i], nb);

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

/*
 * The ef nearest nodes to q, from the entry point of the meta page down:
 * greedily to layer 1, then (when layer1_ef > 1) layer 1 with a beam of
 * layer1_ef nodes, all of which enter layer 0; then layer 0 with ef.  On
 * tightly clustered data a greedy walk on layer 1 can end in the wrong
 * cluster, and a search on layer 0 rarely leaves a cluster of ef nodes:
 * 200K points in 100 clusters, 100-d, reached recall@10 0.95 to 0.96 with
 * layer1_ef 1 and 0.98 with 32 (bench/layer1, hnsw README).  The upper layers count in
 * upper, layer 0 in layer0 (either may be NULL, or both the same).
 */
int
HnswSearchFromTop(Relation index, const HnswIndexInfo *info, const HnswQuery *q,
				  const HnswMetaPageData *meta, int ef, int layer1_ef,
				  HnswCandidate *results, HnswVisited *visited,
				  HnswSearchStats *upper, HnswSearchStats *layer0)
{
	ItemPointerData entry;
	ItemPointerData *entries;
	HnswCandidate *found;
	int			nfound;
	int			nresults;

	if (layer1_ef <= 1 || meta->entry_level < 1)
	{
		entry = HnswGreedyDescend(index, info, q, meta->entry, meta->entry_level, 0, upper);
		return HnswSearchLayer(index, info, q, &entry, 1, 0, ef, true, results,
							   visited, layer0);
	}
	entry = HnswGreedyDescend(index, info, q, meta->entry, meta->entry_level, 1, upper);
	found = palloc(sizeof(HnswCandidate) * layer1_ef);
	nfound = HnswSearchLayer(index, info, q, &entry, 1, 1, layer1_ef, false, found,
							 visited, upper);
	entries = palloc(sizeof(ItemPointerData) * Max(nfound, 1));
	for (int i = 0; i < nfound; i++)
		entries[i] = found[i].node;
	HnswVisitedReset(visited);
	nresults = HnswSearchLayer(index, info, q, entries, nfound, 0, ef, true, results,
							   visited, layer0);
	pfree(entries);
	pfree(found);
	return nresults;
}
