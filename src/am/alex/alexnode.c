/*-------------------------------------------------------------------------
 *
 * alexnode.c
 *	  engram_alex: data nodes — model training, model-based placement,
 *	  the cost model, and the expand / split of a full node.
 *
 * A data node is a gapped array over npages contiguous pages with a linear
 * model from key to slot.  Keys are placed at their predicted slot, or the
 * next free one (ALEX's model-based insertion), at ALEX_INIT_DENSITY, so
 * that inserts later find a gap near where the model sends them.  The cost
 * of a node is the mean number of exponential-search steps from the
 * predicted slot to the real one, log2(1 + |error|); it decides how big the
 * nodes of a bulk load are and whether a full node is expanded (retrained
 * over more slots) or split in two (README, "Cost model").
 *
 * src/am/alex/alexnode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "am/alex/alex.h"

#define ALEX_INIT_DENSITY	0.8		/* share of slots used when a node is built */
#define ALEX_APPEND_ROOM	1.5		/* extra room when a node grows at its end */
#define ALEX_MAX_NODE_PAGES 32
#define ALEX_MAX_BUILD_COST 3.0		/* bulk load: halve nodes costlier than this */
#define ALEX_SPLIT_FACTOR	1.5		/* expand unless the cost grew this much */
#define ALEX_MAX_PAGE_FILL	0.9		/* nor if a page would be this full */

typedef struct NodeLayout
{
	int			npages;
	int			nslots;			/* per page */
	int			key_bits;
	int			tid_bits;
	double		slope;
	double		intercept;
	uint64		model_base;
	int32	   *pos;			/* slot of each entry */
	uint64	   *page_base;		/* key_base of each page */
	int			page_base_cap;
	double		cost;
	int			max_fill;		/* entries on the fullest page */
} NodeLayout;

/* Least squares rank = a * (key - base) + b, scaled to the slots used */
static void
TrainModel(const uint64 *keys, int64 n, double used_slots, NodeLayout *l)
{
	double		sx = 0,
				sy = 0,
				sxx = 0,
				sxy = 0;
	double		det;

	l->model_base = n > 0 ? keys[0] : 0;
	for (int64 i = 0; i < n; i++)
	{
		double		x = (double) (keys[i] - l->model_base);

		sx += x;
		sy += i;
		sxx += x * x;
		sxy += x * i;
	}
	det = sxx * n - sx * sx;
	if (n > 1 && det > 0 && isfinite(det))
	{
		double		a = (sxy * n - sx * sy) / det;
		double		b = (sy - a * sx) / n;
		double		scale = used_slots / n;

		l->slope = a * scale;
		l->intercept = b * scale;
	}
	else
	{
		/* one distinct key: the model sends it to the start */
		l->slope = 0;
		l->intercept = 0;
	}
}

static inline double
Predict(const NodeLayout *l, uint64 key)
{
	double		x = key >= l->model_base ? (double) (key - l->model_base) :
		-(double) (l->model_base - key);

	return l->slope * x + l->intercept;
}

/*
 * Place keys[0..n) (sorted) at nslots slots per page: size, model, slot of
 * each entry and expected search cost.  Runs of equal keys are spread out
 * at the build density so that inserting more copies finds gaps.
 */
static void
PlaceKeys(const uint64 *keys, int64 n, bool append_room, int nslots_page, NodeLayout *l)
{
	double		slots_needed = Max((double) n / ALEX_INIT_DENSITY, 1);
	int64		nslots;
	int64		prev = -1;
	int64		run_start = 0;
	int64		run_pos = 0;
	double		cost = 0;
	int			fill = 0;
	int64		fill_page = -1;

	l->max_fill = 0;
	l->nslots = nslots_page;
	if (append_room)
		slots_needed *= ALEX_APPEND_ROOM;
	l->npages = (int) Min((slots_needed + nslots_page - 1) / nslots_page,
						  (double) PG_INT32_MAX / ALEX_MAX_SLOTS_PER_PAGE);
	l->npages = Max(l->npages, 1);
	nslots = (int64) l->npages * nslots_page;
	TrainModel(keys, n, append_room ? nslots / ALEX_APPEND_ROOM : (double) nslots, l);

	for (int64 i = 0; i < n; i++)
	{
		double		p = Predict(l, keys[i]);
		int64		want;
		int64		pos;

		if (i > 0 && keys[i] == keys[i - 1])
			p = Max(p, run_pos + (i - run_start) / ALEX_INIT_DENSITY);
		else
			run_start = i;
		want = p < 0 ? 0 : p >= nslots ? nslots - 1 : (int64) p;
		pos = Max(want, prev + 1);
		pos = Min(pos, nslots - (n - i));
		if (i == run_start)
			run_pos = pos;
		l->pos[i] = (int32) pos;
		prev = pos;
		if (pos / nslots_page != fill_page)
		{
			fill_page = pos / nslots_page;
			fill = 0;
		}
		l->max_fill = Max(l->max_fill, ++fill);
		/* steps of an exponential search: floor(log2(1 + distance)) */
		if (pos != want)
			cost += pg_leftmost_one_pos64((uint64) (1 + Abs(pos - want)));
	}
	l->cost = n > 0 ? cost / n : 0;
}

/*
 * Key width of the placement in l: each page stores keys relative to the
 * last key of the pages before it (the node's lo fence for the first), and
 * must hold every key up to the first key of the pages after it (the hi
 * fence for the last): exactly the keys an insert may bring to the page
 * (alexinsert.c, FindInsertPage).  The node's width is its widest page's.
 */
static int
KeyWidth(const uint64 *keys, int64 n, uint64 lo_key, uint64 hi_key, NodeLayout *l)
{
	int64		i = 0;
	int			bits = 1;

	for (int p = 0; p < l->npages; p++)
	{
		uint64		lo = i > 0 ? keys[i - 1] : lo_key;
		uint64		hi;

		while (i < n && l->pos[i] < (int64) (p + 1) * l->nslots)
			i++;
		hi = i < n ? keys[i] : hi_key;
		l->page_base[p] = lo;
		bits = Max(bits, AlexBitsFor(hi - lo));
	}
	/* the arrays are read with 8-byte loads: wider than 57 bits is 64 */
	if (bits > 57)
	{
		bits = 64;
		for (int p = 0; p < l->npages; p++)
			l->page_base[p] = 0;
	}
	return bits;
}

/*
 * Size, model, slots and key width of a node holding keys[0..n) (sorted)
 * between the fences lo_key and hi_key.  The slots per page depend on the
 * key width, which depends on how many keys a page gets: start from the
 * width the node's mean key spacing suggests, and lay out again with
 * fewer slots while the widest page does not fit.  Fewer slots give each
 * page fewer keys, so this ends after a step or two (at worst at the
 * 64-bit width, which always fits).
 */
static int
GuessSlots(const uint64 *keys, int64 n, int tid_bits)
{
	int			nslots_page = AlexSlotsFit(48, tid_bits);

	if (n > 1)
	{
		double		per_page = (double) (keys[n - 1] - keys[0]) / n *
			nslots_page * ALEX_INIT_DENSITY;
		int			bits = per_page < 1 ? 1 : Min((int) ceil(log2(per_page)) + 1, 64);

		nslots_page = AlexSlotsFit(bits > 57 ? 64 : bits, tid_bits);
	}
	return nslots_page;
}

static void
LayoutNode(const uint64 *keys, int64 n, uint64 lo_key, uint64 hi_key, bool append_room,
		   int tid_bits, NodeLayout *l)
{
	int			nslots_page = GuessSlots(keys, n, tid_bits);
	int			bits;

	l->tid_bits = tid_bits;
	for (;;)
	{
		int			fit;

		PlaceKeys(keys, n, append_room, nslots_page, l);
		if (l->npages > l->page_base_cap)
		{
			l->page_base = repalloc(l->page_base, sizeof(uint64) * l->npages);
			l->page_base_cap = l->npages;
		}
		bits = KeyWidth(keys, n, lo_key, hi_key, l);
		fit = AlexSlotsFit(bits, tid_bits);
		if (fit >= nslots_page)
			break;
		nslots_page = fit;
	}
	l->key_bits = bits;
}

static NodeLayout
NewLayout(int64 n)
{
	NodeLayout	l;

	memset(&l, 0, sizeof(l));
	l.pos = palloc_extended(sizeof(int32) * Max(n, 1), MCXT_ALLOC_HUGE);
	l.page_base_cap = ALEX_MAX_NODE_PAGES;
	l.page_base = palloc(sizeof(uint64) * l.page_base_cap);
	return l;
}

static void
FreeLayout(NodeLayout *l)
{
	pfree(l->pos);
	pfree(l->page_base);
}

/*
 * TID width for entries with these TIDs in a heap of heap_blocks blocks:
 * block numbers up to a quarter beyond the heap's end (so that rows added
 * later fit, until the heap has grown by that much; then the node is
 * rebuilt with the new size), offsets up to 255 or the largest there.
 */
void
AlexTidWidth(const ItemPointerData *tids, int64 n, BlockNumber heap_blocks,
			 int *tid_bits, int *off_bits)
{
	uint64		maxblk = heap_blocks;
	OffsetNumber maxoff = 0;

	for (int64 i = 0; i < n; i++)
	{
		maxblk = Max(maxblk, (uint64) ItemPointerGetBlockNumberNoCheck(&tids[i]) + 1);
		maxoff = Max(maxoff, ItemPointerGetOffsetNumberNoCheck(&tids[i]));
	}
	*off_bits = Max(ALEX_MIN_OFF_BITS, AlexBitsFor(maxoff));
	*tid_bits = *off_bits + AlexBitsFor(maxblk + maxblk / 4);
}

/*
 * Bulk load: how many of the sorted entries keys[0..n) the next node takes:
 * the longest run, up to the largest node, whose model fits well enough.
 * The search starts from the length the previous node got (hint) and
 * doubles or halves from there, so a bulk load lays out each node about
 * twice instead of once per halving from the largest size.
 */
int64
AlexPlanNode(const uint64 *keys, int64 n, int64 hint, uint64 lo_key, uint64 hi_key,
			 int tid_bits)
{
	int64		one_page;
	int64		maxlen;
	int64		len;
	NodeLayout	l;

	/* a page's share of the keys, at the width their mean spacing suggests */
	one_page = Max((int64) (GuessSlots(keys, Min(n, ALEX_MAX_NODE_PAGES * ALEX_MAX_SLOTS_PER_PAGE),
										tid_bits) * ALEX_INIT_DENSITY), 1);
	l = NewLayout(Min(n, ALEX_MAX_NODE_PAGES * one_page));
	maxlen = Min(n, ALEX_MAX_NODE_PAGES * one_page);
	len = hint > 0 ? Min(Max(hint, one_page), maxlen) : maxlen;
	if (len <= one_page)
		len = Min(one_page, maxlen);
#define LAYOUT(len) LayoutNode(keys, (len), lo_key, (len) < n ? keys[(len)] : hi_key, \
							   false, tid_bits, &l)
	LAYOUT(len);
	if (l.cost <= ALEX_MAX_BUILD_COST)
	{
		/* one try at twice the length: runs of similar data grow nodes fast */
		if (len < maxlen)
		{
			int64		next = Min(len * 2, maxlen);

			LAYOUT(next);
			if (l.cost <= ALEX_MAX_BUILD_COST)
				len = next;
		}
	}
	else
	{
		while (len > one_page)
		{
			len = Max(len / 2, one_page);
			LAYOUT(len);
			if (l.cost <= ALEX_MAX_BUILD_COST)
				break;
		}
	}
#undef LAYOUT
	FreeLayout(&l);
	return len;
}

/* Pages for a node: appended to the fork, or from the FSM for one page */
static BlockNumber
AllocNodePages(Relation index, int npages, bool building, ForkNumber forknum)
{
	BlockNumber first;
	Buffer		buf;

	if (building)
	{
		for (int i = 0; i < npages; i++)
		{
			buf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
			if (i == 0)
				first = BufferGetBlockNumber(buf);
			ReleaseBuffer(buf);
		}
		return first;
	}
	buf = AlexNewExtent(index, npages, &first);
	UnlockReleaseBuffer(buf);
	return first;
}

/*
 * Write a node for the sorted entries of in, filling *entry (the caller
 * sets the fence).  Outside a build every page is WAL-logged whole; the
 * node is not reachable until the directory points to it.
 */
void
AlexWriteNode(Relation index, const AlexNodeInput *in, AlexDirEntry *entry,
			  uint64 node_id, bool building, ForkNumber forknum)
{
	NodeLayout	l = NewLayout(in->n);
	PGAlignedBlock local;
	Page		img = local.data;
	int64		next = 0;
	int			tid_bits,
				off_bits;

	tid_bits = in->tid_bits;
	off_bits = in->off_bits;
	if (tid_bits == 0)
		AlexTidWidth(in->tids, in->n, in->heap_blocks, &tid_bits, &off_bits);
	LayoutNode(in->keys, in->n, in->lo_key, in->hi_key, in->append_room, tid_bits, &l);

	entry->flags = in->isnull ? ALEX_NODE_NULLS : 0;
	entry->npages = l.npages;
	entry->slope = l.slope;
	entry->intercept = l.intercept;
	entry->model_base = l.model_base;
	entry->node_id = node_id;
	entry->nkeys_built = in->n;
	entry->build_cost = (float4) l.cost;
	entry->nslots = l.nslots;
	entry->first_block = AllocNodePages(index, l.npages, building, forknum);

	for (int p = 0; p < l.npages; p++)
	{
		int64		slot0 = (int64) p * l.nslots;
		AlexSlots	sl;
		AlexPageOpaque opaque;
		Buffer		buf;

		AlexInitDataPage(img, l.nslots, l.page_base[p], l.key_bits, tid_bits, off_bits);
		opaque = AlexPageGetOpaque(img);
		opaque->node_id = node_id;
		opaque->page_no = p;
		AlexPageSlots(img, &sl);
		while (next < in->n && l.pos[next] < slot0 + l.nslots)
		{
			int			s = l.pos[next] - slot0;

			Assert(AlexKeyFits(&sl, in->keys[next]));
			AlexSetKey(&sl, s, in->keys[next]);
			AlexSetTid(&sl, s, &in->tids[next]);
			AlexSlotSet(sl.bitmap, s, true);
			next++;
		}
		AlexFillGaps(img);

		buf = ReadBufferExtended(index, forknum, entry->first_block + p, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (building)
		{
			memcpy(BufferGetPage(buf), img, BLCKSZ);
			MarkBufferDirty(buf);
		}
		else
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

			memcpy(page, img, BLCKSZ);
			GenericXLogFinish(state);
		}
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
	Assert(next == in->n);
	FreeLayout(&l);
}

typedef struct Entry
{
	uint64		key;
	ItemPointerData tid;
} Entry;

static int
EntryCmp(const void *a, const void *b)
{
	const Entry *x = a;
	const Entry *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &x->tid, (ItemPointer) &y->tid);
}

/* Every entry of a node, sorted by (key, tid) */
static Entry *
ReadNodeEntries(Relation index, const AlexDirEntry *node, int64 *n)
{
	int64		cap = (int64) node->npages * node->nslots;
	Entry	   *e = palloc_extended(sizeof(Entry) * cap, MCXT_ALLOC_HUGE);
	int64		count = 0;

	for (uint32 p = 0; p < node->npages; p++)
	{
		Buffer		buf = ReadBuffer(index, node->first_block + p);
		Page		page;
		AlexSlots	sl;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (AlexPageGetOpaque(page)->node_id != node->node_id)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("engram_alex index \"%s\": block %u does not belong to node " UINT64_FORMAT,
							RelationGetRelationName(index), node->first_block + p,
							node->node_id)));
		AlexPageSlots(page, &sl);
		for (int s = 0; s < sl.nslots && count < cap; s++)
			if (AlexSlotUsed(sl.bitmap, s))
			{
				e[count].key = AlexGetKey(&sl, s);
				AlexGetTid(&sl, s, &e[count].tid);
				count++;
			}
		UnlockReleaseBuffer(buf);
	}
	qsort(e, count, sizeof(Entry), EntryCmp);
	*n = count;
	return e;
}

static void
WriteEntries(Relation index, const Entry *e, int64 n, bool isnull, bool append_room,
			 uint64 lo_key, uint64 hi_key, int tid_bits, int off_bits,
			 AlexDirEntry *out, uint64 node_id)
{
	AlexNodeInput in;

	in.tid_bits = tid_bits;
	in.off_bits = off_bits;
	in.n = n;
	in.isnull = isnull;
	in.append_room = append_room;
	in.lo_key = lo_key;
	in.hi_key = hi_key;
	in.heap_blocks = 0;
	in.keys = palloc_extended(sizeof(uint64) * Max(n, 1), MCXT_ALLOC_HUGE);
	in.tids = palloc_extended(sizeof(ItemPointerData) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
	{
		in.keys[i] = e[i].key;
		in.tids[i] = e[i].tid;
	}
	AlexWriteNode(index, &in, out, node_id, false, MAIN_FORKNUM);
	pfree(in.keys);
	pfree(in.tids);
}

/*
 * Replace a full node, by an expanded copy or by two halves, whichever the
 * cost model prefers (README, "Cost model").  The caller holds the meta
 * page exclusively, so no insert or vacuum is working in the index.
 */
void
AlexRebuildNode(Relation index, int node_no, AlexDir *dir, Buffer metabuf, bool append,
				BlockNumber heap_blocks, ItemPointer newtid)
{
	AlexDirEntry old = dir->nodes[node_no];
	AlexMetaPageData *meta = AlexPageGetMeta(BufferGetPage(metabuf));
	uint64		next_id = meta->next_node_id;
	bool		isnull = (old.flags & ALEX_NODE_NULLS) != 0;
	int64		n;
	Entry	   *e = ReadNodeEntries(index, &old, &n);
	uint64	   *keys = palloc_extended(sizeof(uint64) * Max(n, 1), MCXT_ALLOC_HUGE);
	NodeLayout	l = NewLayout(n);
	AlexDirEntry *nodes;
	int			nnew;
	bool		split;
	int			tid_bits,
				off_bits;
	/* the keys this node may hold: up to the next node's fence */
	uint64		lo_key = isnull ? 0 : old.lo_key;
	uint64		hi_key = isnull ? 0 :
		node_no + 1 < dir->nnodes && !(dir->nodes[node_no + 1].flags & ALEX_NODE_NULLS) ?
		dir->nodes[node_no + 1].lo_key : PG_UINT64_MAX;
	ItemPointerData *tids = palloc_extended(sizeof(ItemPointerData) * (n + 1), MCXT_ALLOC_HUGE);

	for (int64 i = 0; i < n; i++)
	{
		keys[i] = e[i].key;
		tids[i] = e[i].tid;
	}
	/* widths for the entry that is waiting to go in, too */
	tids[n] = *newtid;
	AlexTidWidth(tids, n + 1, heap_blocks, &tid_bits, &off_bits);
	pfree(tids);
	LayoutNode(keys, n, lo_key, hi_key, append, tid_bits, &l);
	/*
	 * Expand while the model still fits as well as when the node was built;
	 * split when it fits worse (ALEX's criterion), when the node would grow
	 * too big, or when expanding would leave a page nearly full (the model
	 * crowds a region, and the insert that found it full would fail again).
	 */
	split = n >= 2 &&
		(l.npages > ALEX_MAX_NODE_PAGES ||
		 l.cost > Max(ALEX_SPLIT_FACTOR * old.build_cost, ALEX_MAX_BUILD_COST) ||
		 l.max_fill > l.nslots * ALEX_MAX_PAGE_FILL);
	elog(DEBUG1, "engram_alex: rebuild node %d (" UINT64_FORMAT ") of %d entries, %u pages: %s to %d pages, cost %.2f (built %.2f)%s",
		 node_no, old.node_id, (int) n, old.npages, split ? "split" : "expand", l.npages, l.cost,
		 old.build_cost, append ? ", append" : "");
	FreeLayout(&l);

	nnew = dir->nnodes + (split ? 1 : 0);
	nodes = palloc_extended(sizeof(AlexDirEntry) * nnew, MCXT_ALLOC_HUGE);
	memcpy(nodes, dir->nodes, sizeof(AlexDirEntry) * node_no);
	if (!split)
	{
		nodes[node_no] = old;
		WriteEntries(index, e, n, isnull, append, lo_key, hi_key, tid_bits, off_bits,
					 &nodes[node_no], next_id++);
		nodes[node_no].lo_key = old.lo_key;
		nodes[node_no].lo_tid = old.lo_tid;
	}
	else
	{
		int64		mid = n / 2;

		WriteEntries(index, e, mid, isnull, false, lo_key, isnull ? 0 : e[mid].key, tid_bits,
					 off_bits, &nodes[node_no], next_id++);
		nodes[node_no].lo_key = old.lo_key;
		nodes[node_no].lo_tid = old.lo_tid;
		WriteEntries(index, e + mid, n - mid, isnull, append, isnull ? 0 : e[mid].key, hi_key,
					 tid_bits, off_bits, &nodes[node_no + 1], next_id++);
		nodes[node_no + 1].lo_key = e[mid].key;
		nodes[node_no + 1].lo_tid = e[mid].tid;
	}
	memcpy(&nodes[node_no + (split ? 2 : 1)], &dir->nodes[node_no + 1],
		   sizeof(AlexDirEntry) * (dir->nnodes - node_no - 1));

	AlexDirWrite(index, metabuf, nodes, nnew, next_id, false, MAIN_FORKNUM);
	AlexMarkDead(index, old.first_block, old.npages);

	pfree(nodes);
	pfree(keys);
	pfree(e);
}
