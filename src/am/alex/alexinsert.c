/*-------------------------------------------------------------------------
 *
 * alexinsert.c
 *	  engram_alex: inserting one entry.
 *
 * The directory sends the entry to its data node, the node's model to a
 * slot; the entry goes into the nearest gap of that page, shifting
 * neighbours by one within the page.  When the page (and the neighbours
 * equal keys may also use) is full, the node is expanded or split
 * (alexnode.c) under the meta page's exclusive lock and the insert is
 * retried.  Locking: meta page shared (keeps structural changes out), the
 * node's first page exclusive (one writer per node), then one data page at
 * a time; see README, "Concurrency".
 *
 * src/am/alex/alexinsert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"

#include "am/alex/alex.h"

#define ALEX_NEIGHBOUR_PAGES 8	/* pages tried either side for equal keys */

typedef enum
{
	INSERT_DONE,
	INSERT_NODE_FULL,
	INSERT_NODE_FULL_APPEND
} InsertResult;

/* What the walk over a node's pages needs of each page */
typedef struct PageSummary
{
	bool		known;
	uint16		count;
	uint64		minkey;
	uint64		maxkey;
} PageSummary;

typedef struct NodeCursor
{
	Relation	index;
	const AlexDirEntry *node;
	Buffer		headbuf;		/* page 0, exclusively locked */
	PageSummary *summary;
} NodeCursor;

static PageSummary *
Summary(NodeCursor *nc, int p)
{
	PageSummary *s = &nc->summary[p];

	if (!s->known)
	{
		Buffer		buf = p == 0 ? nc->headbuf : ReadBuffer(nc->index, nc->node->first_block + p);
		AlexPageOpaque opaque;

		if (p != 0)
			LockBuffer(buf, BUFFER_LOCK_SHARE);
		opaque = AlexPageGetOpaque(BufferGetPage(buf));
		if (opaque->node_id != nc->node->node_id || opaque->page_no != p)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("engram_alex index \"%s\": block %u is not page %d of node " UINT64_FORMAT,
							RelationGetRelationName(nc->index), nc->node->first_block + p,
							p, nc->node->node_id)));
		s->count = opaque->count;
		s->minkey = opaque->minkey;
		s->maxkey = opaque->maxkey;
		s->known = true;
		if (p != 0)
			UnlockReleaseBuffer(buf);
	}
	return s;
}

/* Nearest non-empty page in direction step (-1, +1) from p, or -1 */
static int
NonEmptyFrom(NodeCursor *nc, int p, int step)
{
	for (int q = p + step; q >= 0 && q < (int) nc->node->npages; q += step)
		if (Summary(nc, q)->count > 0)
			return q;
	return -1;
}

/*
 * The page where key belongs: every non-empty page before it ends at or
 * below key, every one after it starts at or above key.
 */
static int
FindInsertPage(NodeCursor *nc, uint64 key, int p)
{
	PageSummary *s = Summary(nc, p);

	/* the usual case: the model's page spans the key, no neighbour needed */
	if (s->count > 0 && s->minkey <= key && key <= s->maxkey)
		return p;
	for (;;)
	{
		int			q = NonEmptyFrom(nc, p, -1);

		if (q < 0 || Summary(nc, q)->maxkey <= key)
			break;
		p = q;
	}
	for (;;)
	{
		int			q = NonEmptyFrom(nc, p, +1);

		if (q < 0 || Summary(nc, q)->minkey >= key)
			break;
		p = q;
	}
	return p;
}

/* Slot to = slot from, as stored */
static inline void
CopySlot(AlexSlots *sl, int to, int from)
{
	AlexBitsSet(sl->keys, sl->key_bits, sl->key_mask, to,
				AlexBitsGet(sl->keys, sl->key_bits, sl->key_mask, from));
	AlexBitsSet(sl->tids, sl->tid_bits, sl->tid_mask, to,
				AlexBitsGet(sl->tids, sl->tid_bits, sl->tid_mask, from));
}

/* Log slots [lo, hi] of a bit array of width bits */
static void
AddSlotRange(AlexDelta *d, Page page, char *array, int bits, int lo, int hi)
{
	uint64		first = ((uint64) lo * bits) >> 3;
	uint64		last = ((uint64) hi * bits) >> 3;

	/* AlexBitsSet writes the 8 bytes from a slot's first byte */
	AlexDeltaAdd(d, page, array + first, (int) (last - first) + sizeof(uint64));
}

/*
 * Put (key, tid) into the page's gapped array near hint; false if the page
 * is full or cannot encode them (a key outside the page's range, a TID
 * beyond the node's width: README, "Data pages"), which both call for a
 * rebuild of the node.  The caller holds the page exclusively.  The change
 * is logged from the slots it touched (alexwal.c).
 */
static bool
InsertIntoPage(Relation index, Buffer buf, uint64 key, ItemPointer tid, int hint)
{
	Page		page = BufferGetPage(buf);
	AlexPageOpaque opaque = AlexPageGetOpaque(page);
	AlexSlots	sl;
	AlexDelta	delta;
	int			n;
	int			pos,
				target,
				lo,
				hi,
				fill_lo;

	AlexPageSlots(page, &sl);
	n = sl.nslots;
	if (opaque->count >= n || !AlexKeyFits(&sl, key) || !AlexTidFits(&sl, tid))
		return false;

	/* where the entry goes, and the run [lo, hi] that moves for it */
	pos = AlexPageLowerBound(&sl, key, hint);
	if (pos < n && !AlexSlotUsed(sl.bitmap, pos))
		target = lo = hi = pos;	/* a gap exactly where the key belongs */
	else
	{
		int			l,
					r;

		/* nearest gaps on either side; slots in between are all used */
		for (r = pos + 1; r < n && AlexSlotUsed(sl.bitmap, r); r++)
			;
		for (l = pos - 1; l >= 0 && AlexSlotUsed(sl.bitmap, l); l--)
			;
		if (r < n && (l < 0 || r - pos <= pos - l))
		{
			target = lo = pos;	/* shift [pos, r) right by one */
			hi = r;
		}
		else
		{
			Assert(l >= 0);
			lo = l;				/* shift (l, pos) left by one */
			target = hi = pos - 1;
		}
	}

	START_CRIT_SECTION();
	if (lo < target)
		for (int i = lo; i < target; i++)
			CopySlot(&sl, i, i + 1);
	else
		for (int i = hi; i > target; i--)
			CopySlot(&sl, i, i - 1);
	AlexSlotSet(sl.bitmap, lo, true);
	AlexSlotSet(sl.bitmap, hi, true);
	AlexSetKey(&sl, target, key);
	AlexSetTid(&sl, target, tid);

	/*
	 * Gaps just left of the new entry held the key that followed them; it
	 * is now this one.  (After a shift to the left, the gaps left of the
	 * shifted run still see the same key, now one slot further left.)
	 */
	fill_lo = target;
	for (int s = target - 1; s >= 0 && !AlexSlotUsed(sl.bitmap, s); s--)
	{
		AlexSetKey(&sl, s, key);
		fill_lo = s;
	}
	if (opaque->count == 0 || key < opaque->minkey)
		opaque->minkey = key;
	if (opaque->count == 0 || key > opaque->maxkey)
		opaque->maxkey = key;
	opaque->count++;

	delta.nranges = 0;
	AddSlotRange(&delta, page, sl.keys, sl.key_bits, Min(fill_lo, lo), hi);
	AddSlotRange(&delta, page, sl.tids, sl.tid_bits, lo, hi);
	AlexDeltaAdd(&delta, page, sl.bitmap + (lo >> 3), (hi >> 3) - (lo >> 3) + 1);
	AlexDeltaAdd(&delta, page, opaque, sizeof(AlexPageOpaqueData));
	AlexLogDelta(index, buf, &delta);
	END_CRIT_SECTION();
	return true;
}

static bool
TryPage(NodeCursor *nc, int p, uint64 key, ItemPointer tid, int hint)
{
	Buffer		buf;
	bool		done;

	if (p == 0)
		return InsertIntoPage(nc->index, nc->headbuf, key, tid, hint);
	buf = ReadBuffer(nc->index, nc->node->first_block + p);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	done = InsertIntoPage(nc->index, buf, key, tid, hint);
	UnlockReleaseBuffer(buf);
	return done;
}

/* Insert into one node; the caller holds the meta page share-locked */
static InsertResult
InsertIntoNode(Relation index, const AlexDirEntry *node, uint64 key, ItemPointer tid)
{
	NodeCursor	nc;
	double		pred = AlexNodePredict(node, key);
	int			per_page = node->nslots;
	int64		nslots = (int64) node->npages * per_page;
	int64		slot = pred < 0 ? 0 : pred >= nslots ? nslots - 1 : (int64) pred;
	int			p;
	InsertResult result = INSERT_NODE_FULL;

	nc.index = index;
	nc.node = node;
	nc.summary = palloc0(sizeof(PageSummary) * node->npages);
	nc.headbuf = ReadBuffer(index, node->first_block);
	LockBuffer(nc.headbuf, BUFFER_LOCK_EXCLUSIVE);

	p = (int) (slot / per_page);
	if (p != 0)
	{
		/*
		 * The usual case in one visit: the model's page spans the key and has
		 * room.  (Exclusive at once: we hold the node's first page, so no
		 * other writer is in the node, and a share lock would only have to
		 * be traded in.)
		 */
		Buffer		buf = ReadBuffer(index, node->first_block + p);
		AlexPageOpaque opaque;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		opaque = AlexPageGetOpaque(BufferGetPage(buf));
		if (opaque->node_id == node->node_id && opaque->count > 0 &&
			opaque->minkey <= key && key <= opaque->maxkey &&
			InsertIntoPage(index, buf, key, tid, (int) (slot - (int64) p * per_page)))
			result = INSERT_DONE;
		UnlockReleaseBuffer(buf);
	}
	if (result != INSERT_DONE)
	{
		p = FindInsertPage(&nc, key, p);
		if (TryPage(&nc, p, key, tid, (int) (slot - (int64) p * per_page)))
			result = INSERT_DONE;
	}
	if (result != INSERT_DONE)
	{
		/* a full page: equal keys may also go to the neighbours */
		for (int step = -1; step <= 1 && result != INSERT_DONE; step += 2)
		{
			int			q = p;

			for (int i = 0; i < ALEX_NEIGHBOUR_PAGES; i++)
			{
				PageSummary *cur = Summary(&nc, q);
				int			next = q + step;

				if (next < 0 || next >= (int) node->npages)
					break;
				if (step < 0 ? key > cur->minkey : key < cur->maxkey)
					break;		/* key must stay after (before) this page */
				if (Summary(&nc, next)->count > 0 &&
					(step < 0 ? Summary(&nc, next)->maxkey > key :
					 Summary(&nc, next)->minkey < key))
					break;
				if (TryPage(&nc, next, key, tid,
							step < 0 ? per_page - 1 : 0))
				{
					result = INSERT_DONE;
					break;
				}
				q = next;
			}
		}
		if (result != INSERT_DONE &&
			NonEmptyFrom(&nc, p, +1) < 0 && key >= Summary(&nc, p)->maxkey)
			result = INSERT_NODE_FULL_APPEND;
	}

	UnlockReleaseBuffer(nc.headbuf);
	pfree(nc.summary);
	return result;
}

/*
 * aminsert
 */
bool
engram_alex_insert(Relation index, Datum *values, bool *isnull,
				   ItemPointer ht_ctid, Relation heapRel,
				   IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
				   bool indexUnchanged,
#endif
				   struct IndexInfo *indexInfo)
{
	const AlexKeyType *kt = AlexGetKeyType(TupleDescAttr(RelationGetDescr(index), 0)->atttypid);
	AlexPos		pos;
	bool		counting = EngramStatsActive();
	instr_time	start;

	INSTR_TIME_SET_ZERO(start);
	if (counting)
		INSTR_TIME_SET_CURRENT(start);
	pos.isnull = isnull[0];
	pos.key = isnull[0] ? 0 : kt->encode(values[0]);
	pos.tid = *ht_ctid;

	for (;;)
	{
		Buffer		metabuf;
		AlexDir    *dir = AlexDirAcquire(index, &metabuf, true);
		int			i = AlexDirLocate(dir, &pos);
		uint64		node_id = dir->nodes[i].node_id;
		InsertResult r = InsertIntoNode(index, &dir->nodes[i], pos.key, &pos.tid);

		UnlockReleaseBuffer(metabuf);
		if (r == INSERT_DONE)
			break;

		/* expand or split the node, unless someone else already did */
		metabuf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		dir = AlexDirGetLocked(index, BufferGetPage(metabuf));
		i = AlexDirLocate(dir, &pos);
		if (dir->nodes[i].node_id == node_id)
			AlexRebuildNode(index, i, dir, metabuf, r == INSERT_NODE_FULL_APPEND,
							heapRel ? RelationGetNumberOfBlocks(heapRel) : 0, &pos.tid);
		UnlockReleaseBuffer(metabuf);
		CHECK_FOR_INTERRUPTS();
	}
	if (counting)
		EngramStatsCountInsert(index, start);
	return false;
}
