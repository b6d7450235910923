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

#define ALEX_INIT_DENSITY	0.75	/* share of slots used when a node is built */
#define ALEX_APPEND_ROOM	1.5		/* extra room when a node grows at its end */
#define ALEX_MAX_NODE_PAGES 32
#define ALEX_MAX_BUILD_COST 3.0		/* bulk load: halve nodes costlier than this */
#define ALEX_SPLIT_FACTOR	1.5		/* expand unless the cost grew this much */
#define ALEX_MAX_PAGE_FILL	0.9		/* nor if a page would be this full */

typedef struct NodeLayout
{
	int			npages;
	double		slope;
	double		intercept;
	uint64		model_base;
	int32	   *pos;			/* slot of each entry */
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
 * Size, model and slots of a node holding keys[0..n) (sorted), and its
 * expected search cost.  Runs of equal keys are spread out at the build
 * density so that inserting more copies finds gaps.
 */
static void
LayoutNode(const uint64 *keys, int64 n, bool append_room, NodeLayout *l)
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
	if (append_room)
		slots_needed *= ALEX_APPEND_ROOM;
	l->npages = (int) Min((slots_needed + ALEX_SLOTS_PER_PAGE - 1) / ALEX_SLOTS_PER_PAGE,
						  (double) PG_INT32_MAX);
	l->npages = Max(l->npages, 1);
	nslots = (int64) l->npages * ALEX_SLOTS_PER_PAGE;
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
		if (pos / ALEX_SLOTS_PER_PAGE != fill_page)
		{
			fill_page = pos / ALEX_SLOTS_PER_PAGE;
			fill = 0;
		}
		l->max_fill = Max(l->max_fill, ++fill);
		/* steps of an exponential search: floor(log2(1 + distance)) */
		if (pos != want)
			cost += pg_leftmost_one_pos64((uint64) (1 + Abs(pos - want)));
	}
	l->cost = n > 0 ? cost / n : 0;
}

static NodeLayout
NewLayout(int64 n)
{
	NodeLayout	l;

	memset(&l, 0, sizeof(l));
	l.pos = palloc_extended(sizeof(int32) * Max(n, 1), MCXT_ALLOC_HUGE);
	return l;
}

/*
 * Bulk load: how many of the sorted entries keys[0..n) the next node takes:
 * the longest run, up to the largest node, whose model fits well enough.
 * The search starts from the length the previous node got (hint) and
 * doubles or halves from there, so a bulk load lays out each node about
 * twice instead of once per halving from the largest size.
 */
int64
AlexPlanNode(const uint64 *keys, int64 n, int64 hint)
{
	int64		one_page = (int64) (ALEX_SLOTS_PER_PAGE * ALEX_INIT_DENSITY);
	int64		maxlen = Min(n, (int64) (ALEX_MAX_NODE_PAGES * ALEX_SLOTS_PER_PAGE * ALEX_INIT_DENSITY));
	int64		len = hint > 0 ? Min(Max(hint, one_page), maxlen) : maxlen;
	NodeLayout	l = NewLayout(maxlen);

	if (len <= one_page)
		len = Min(one_page, maxlen);
	LayoutNode(keys, len, false, &l);
	if (l.cost <= ALEX_MAX_BUILD_COST)
	{
		/* one try at twice the length: runs of similar data grow nodes fast */
		if (len < maxlen)
		{
			int64		next = Min(len * 2, maxlen);

			LayoutNode(keys, next, false, &l);
			if (l.cost <= ALEX_MAX_BUILD_COST)
				len = next;
		}
	}
	else
	{
		while (len > one_page)
		{
			len = Max(len / 2, one_page);
			LayoutNode(keys, len, false, &l);
			if (l.cost <= ALEX_MAX_BUILD_COST)
				break;
		}
	}
	pfree(l.pos);
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

	LayoutNode(in->keys, in->n, in->append_room, &l);

	entry->flags = in->isnull ? ALEX_NODE_NULLS : 0;
	entry->npages = l.npages;
	entry->slope = l.slope;
	entry->intercept = l.intercept;
	entry->model_base = l.model_base;
	entry->node_id = node_id;
	entry->nkeys_built = in->n;
	entry->build_cost = (float4) l.cost;
	entry->first_block = AllocNodePages(index, l.npages, building, forknum);

	for (int p = 0; p < l.npages; p++)
	{
		int64		slot0 = (int64) p * ALEX_SLOTS_PER_PAGE;
		uint64	   *keys;
		ItemPointerData *tids;
		uint8	   *bitmap;
		AlexPageOpaque opaque;
		Buffer		buf;

		AlexInitPage(img, ALEX_PAGE_DATA, 0);
		opaque = AlexPageGetOpaque(img);
		opaque->node_id = node_id;
		opaque->page_no = p;
		keys = AlexPageKeys(img);
		tids = AlexPageTids(img);
		bitmap = AlexPageBitmap(img);
		while (next < in->n && l.pos[next] < slot0 + ALEX_SLOTS_PER_PAGE)
		{
			int			s = l.pos[next] - slot0;

			keys[s] = in->keys[next];
			tids[s] = in->tids[next];
			AlexSlotSet(bitmap, s, true);
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
	pfree(l.pos);
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
	int64		cap = (int64) node->npages * ALEX_SLOTS_PER_PAGE;
	Entry	   *e = palloc_extended(sizeof(Entry) * cap, MCXT_ALLOC_HUGE);
	int64		count = 0;

	for (uint32 p = 0; p < node->npages; p++)
	{
		Buffer		buf = ReadBuffer(index, node->first_block + p);
		Page		page;
		uint64	   *keys;
		ItemPointerData *tids;
		uint8	   *bitmap;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (AlexPageGetOpaque(page)->node_id != node->node_id)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("engram_alex index \"%s\": block %u does not belong to node " UINT64_FORMAT,
							RelationGetRelationName(index), node->first_block + p,
							node->node_id)));
		keys = AlexPageKeys(page);
		tids = AlexPageTids(page);
		bitmap = AlexPageBitmap(page);
		for (int s = 0; s < ALEX_SLOTS_PER_PAGE; s++)
			if (AlexSlotUsed(bitmap, s))
			{
				e[count].key = keys[s];
				e[count].tid = tids[s];
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
			 AlexDirEntry *out, uint64 node_id)
{
	AlexNodeInput in;

	in.n = n;
	in.isnull = isnull;
	in.append_room = append_room;
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
AlexRebuildNode(Relation index, int node_no, AlexDir *dir, Buffer metabuf, bool append)
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

	for (int64 i = 0; i < n; i++)
		keys[i] = e[i].key;
	LayoutNode(keys, n, append, &l);
	/*
	 * Expand while the model still fits as well as when the node was built;
	 * split when it fits worse (ALEX's criterion), when the node would grow
	 * too big, or when expanding would leave a page nearly full (the model
	 * crowds a region, and the insert that found it full would fail again).
	 */
	split = n >= 2 &&
		(l.npages > ALEX_MAX_NODE_PAGES ||
		 l.cost > Max(ALEX_SPLIT_FACTOR * old.build_cost, ALEX_MAX_BUILD_COST) ||
		 l.max_fill > ALEX_SLOTS_PER_PAGE * ALEX_MAX_PAGE_FILL);
	elog(DEBUG1, "engram_alex: rebuild node %d (" UINT64_FORMAT ") of %d entries, %u pages: %s to %d pages, cost %.2f (built %.2f)%s",
		 node_no, old.node_id, (int) n, old.npages, split ? "split" : "expand", l.npages, l.cost,
		 old.build_cost, append ? ", append" : "");
	pfree(l.pos);

	nnew = dir->nnodes + (split ? 1 : 0);
	nodes = palloc_extended(sizeof(AlexDirEntry) * nnew, MCXT_ALLOC_HUGE);
	memcpy(nodes, dir->nodes, sizeof(AlexDirEntry) * node_no);
	if (!split)
	{
		nodes[node_no] = old;
		WriteEntries(index, e, n, isnull, append, &nodes[node_no], next_id++);
		nodes[node_no].lo_key = old.lo_key;
		nodes[node_no].lo_tid = old.lo_tid;
	}
	else
	{
		int64		mid = n / 2;

		WriteEntries(index, e, mid, isnull, false, &nodes[node_no], next_id++);
		nodes[node_no].lo_key = old.lo_key;
		nodes[node_no].lo_tid = old.lo_tid;
		WriteEntries(index, e + mid, n - mid, isnull, append, &nodes[node_no + 1], next_id++);
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
