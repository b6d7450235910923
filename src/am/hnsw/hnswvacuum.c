/*-------------------------------------------------------------------------
 *
 * hnswvacuum.c
 *	  engram_hnsw: VACUUM.
 *
 * Three passes (README, "Vacuum"):
 *	1. mark the nodes whose heap rows are dead DELETED; scans stop returning
 *	   them at once, but they keep routing searches, so recall holds;
 *	2. under the insert lock, repair every live node that links to a
 *	   deleted one: drop those links and refill the list from the deleted
 *	   nodes' own neighbours with the selection heuristic; move the entry
 *	   point off a deleted node;
 *	3. mark the deleted nodes UNLINKED (nothing links to them any more) and
 *	   record their pages in the free space map, so inserts reuse the slots.
 *
 * src/am/hnsw/hnswvacuum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"

/* breadth of the search that finds a reachable node to link a lost one from */
#define HNSW_REPAIR_EF 64
/* unreachable nodes walked through to find a reachable one near a lost one */
#define HNSW_REPAIR_WALK 1024
/* rounds of LinkUnreachable: each finds the nodes the last one cut off */
#define HNSW_REPAIR_ROUNDS 10

/* A deleted node and what it linked to, for pass 2 */
typedef struct DeletedNode
{
	ItemPointerData tid;
	HnswNodeHeader *copy;
} DeletedNode;

typedef struct VacuumState
{
	Relation	index;
	HnswIndexInfo info;
	BufferAccessStrategy strategy;
	HnswVisited *deleted_set;
	DeletedNode *deleted;
	int			ndeleted;
	int			capacity;
	MemoryContext cxt;
} VacuumState;

static Buffer
ReadPage(VacuumState *vs, BlockNumber blkno)
{
	return ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->strategy);
}

/*
 * Pass 1: flag nodes of dead rows; count live ones.  Also collects every
 * node already DELETED (by this or an earlier, interrupted vacuum).
 */
static void
MarkDeleted(VacuumState *vs, IndexBulkDeleteResult *stats,
			IndexBulkDeleteCallback callback, void *callback_state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadPage(vs, blkno);
		GenericXLogState *state;
		Page		page;
		bool		changed = false;

		vacuum_delay_point();
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (PageIsNew(BufferGetPage(buf)))
		{
			/* extended just before a crash: give it to inserts */
			UnlockReleaseBuffer(buf);
			RecordFreeIndexPage(vs->index, blkno);
			continue;
		}
		state = GenericXLogStart(vs->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswNodeHeader *node = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, off));
			Size		size = ItemIdGetLength(PageGetItemId(page, off));
			ItemPointerData tid;

			if (node->flags & HNSW_NODE_UNLINKED)
				continue;
			if (!(node->flags & HNSW_NODE_DELETED))
			{
				if (!callback(&node->heaptid, callback_state))
				{
					stats->num_index_tuples++;
					continue;
				}
				node->flags |= HNSW_NODE_DELETED;
				stats->tuples_removed++;
				changed = true;
			}

			ItemPointerSet(&tid, blkno, off);
			(void) HnswVisitedTestAndSet(vs->deleted_set, &tid);
			if (vs->ndeleted == vs->capacity)
			{
				vs->capacity *= 2;
				vs->deleted = repalloc_huge(vs->deleted, sizeof(DeletedNode) * vs->capacity);
			}
			vs->deleted[vs->ndeleted].tid = tid;
			vs->deleted[vs->ndeleted].copy = MemoryContextAlloc(vs->cxt, size);
			memcpy(vs->deleted[vs->ndeleted].copy, node, size);
			vs->ndeleted++;
		}

		if (changed)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
}

static HnswNodeHeader *
FindDeleted(VacuumState *vs, ItemPointer tid)
{
	/* deleted[] is in (block, offset) order: binary search */
	int			lo = 0;
	int			hi = vs->ndeleted - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = ItemPointerCompare(&vs->deleted[mid].tid, tid);

		if (c == 0)
			return vs->deleted[mid].copy;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/*
 * Add a live candidate to a repair list unless it is already there or is
 * the node being repaired
 */
static void
AddCandidate(VacuumState *vs, ItemPointer self, ItemPointer cand,
			 ItemPointerData *tids, HnswNodeHeader **nodes, int *n)
{
	if (ItemPointerEquals(cand, self) || FindDeleted(vs, cand) != NULL ||
		HnswListContains(tids, *n, cand))
		return;
	tids[*n] = *cand;
	nodes[(*n)++] = HnswFetchNodeCopy(vs->index, cand);
}

/*
 * New neighbour list on one layer for a live node that links to deleted
 * nodes: its live neighbours and the live neighbours of the deleted ones,
 * thinned by the heuristic.  Returns the count written to out.
 */
static int
RepairList(VacuumState *vs, ItemPointer self, const HnswNodeHeader *node,
		   int layer, ItemPointerData *out)
{
	const HnswIndexInfo *info = &vs->info;
	int			count = HnswNodeCounts(node, info->dim)[layer];
	ItemPointerData *old = HnswNodeNeighbors(node, info->dim, info->m, layer);
	int			maxn = HnswLayerSlots(info->m, layer);
	int			cap = maxn * (maxn + 1);
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * cap);
	HnswNodeHeader **nodes = palloc(sizeof(HnswNodeHeader *) * cap);
	int			n = 0;

	for (int i = 0; i < count; i++)
	{
		HnswNodeHeader *d = FindDeleted(vs, &old[i]);

		if (d == NULL)
			AddCandidate(vs, self, &old[i], tids, nodes, &n);
		else if (layer <= d->level)
		{
			ItemPointerData *dn = HnswNodeNeighbors(d, info->dim, info->m, layer);

			for (int k = 0; k < HnswNodeCounts(d, info->dim)[layer]; k++)
				AddCandidate(vs, self, &dn[k], tids, nodes, &n);
		}
	}
	return HnswSelectFromNodes(info, node, nodes, tids, n, maxn, true, out);
}

static bool
LinksToDeleted(VacuumState *vs, const HnswNodeHeader *node, int layer)
{
	int			count = HnswNodeCounts(node, vs->info.dim)[layer];
	ItemPointerData *nbrs = HnswNodeNeighbors(node, vs->info.dim, vs->info.m, layer);

	for (int i = 0; i < count; i++)
		if (FindDeleted(vs, &nbrs[i]) != NULL)
			return true;
	return false;
}

/*
 * Pass 2: repair the lists of live nodes that link to deleted nodes.  Each
 * page is copied under a share lock, new lists are computed without locks
 * held, then written under an exclusive lock; inserts, the only other
 * writers of lists, are locked out.
 */
static void
RepairGraph(VacuumState *vs)
{
	const HnswIndexInfo *info = &vs->info;
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	char	   *copy = palloc(BLCKSZ);
	ItemPointerData *newlist = palloc(sizeof(ItemPointerData) * 2 * info->m);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadPage(vs, blkno);
		Page		page = (Page) copy;

		vacuum_delay_point();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		memcpy(copy, BufferGetPage(buf), BLCKSZ);
		UnlockReleaseBuffer(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswNodeHeader *node = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, off));

			if (node->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED))
				continue;
			for (int layer = 0; layer <= node->level; layer++)
			{
				int			n;
				Buffer		wbuf;
				GenericXLogState *state;
				Page		wpage;
				HnswNodeHeader *target;
				ItemPointerData self;

				if (!LinksToDeleted(vs, node, layer))
					continue;
				ItemPointerSet(&self, blkno, off);
				n = RepairList(vs, &self, node, layer, newlist);

				wbuf = ReadPage(vs, blkno);
				LockBuffer(wbuf, BUFFER_LOCK_EXCLUSIVE);
				state = GenericXLogStart(vs->index);
				wpage = GenericXLogRegisterBuffer(state, wbuf, 0);
				target = (HnswNodeHeader *) PageGetItem(wpage, PageGetItemId(wpage, off));
				memcpy(HnswNodeNeighbors(target, info->dim, info->m, layer), newlist,
					   sizeof(ItemPointerData) * n);
				HnswNodeCounts(target, info->dim)[layer] = n;
				GenericXLogFinish(state);
				UnlockReleaseBuffer(wbuf);
			}
		}
	}
	pfree(copy);
	pfree(newlist);
}

/*
 * Move the entry point to the live node with the highest level when it was
 * deleted (or clear it when nothing is left)
 */
static void
RepairEntryPoint(VacuumState *vs)
{
	HnswMetaPageData meta;
	ItemPointerData best;
	int			best_level = -1;
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	Buffer		buf;
	GenericXLogState *state;
	HnswMetaPage m;

	HnswReadMeta(vs->index, &meta);
	if (ItemPointerIsValid(&meta.entry) && FindDeleted(vs, &meta.entry) == NULL)
		return;

	ItemPointerSetInvalid(&best);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		b = ReadPage(vs, blkno);
		Page		page;

		LockBuffer(b, BUFFER_LOCK_SHARE);
		page = BufferGetPage(b);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswNodeHeader *node = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, off));

			if (!(node->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED)) &&
				node->level > best_level)
			{
				best_level = node->level;
				ItemPointerSet(&best, blkno, off);
			}
		}
		UnlockReleaseBuffer(b);
	}

	buf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(vs->index);
	m = HnswPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	m->entry = best;
	m->entry_level = best_level;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* A link LinkUnreachable made: it is not replaced again by the same VACUUM */
typedef struct MadeLink
{
	ItemPointerData from;
	ItemPointerData to;
} MadeLink;

static bool
LinkWasMade(HTAB *made, ItemPointer from, ItemPointer to)
{
	MadeLink	key;

	key.from = *from;
	key.to = *to;
	return hash_search(made, &key, HASH_FIND, NULL) != NULL;
}

/*
 * Link node "to" from node "from" on layer 0.  When from's list is full,
 * the link replaced is the last one whose target keeps another incoming
 * link from a reachable node (by indegrees, which this keeps up to date),
 * so that the new link does not cut that node off in turn, else the last
 * one; never one this VACUUM made itself (two cut-off nodes would
 * otherwise take each other's place round after round).  Returns false if
 * every link of from is such a link.
 */
static bool
ForceLink(VacuumState *vs, ItemPointer from, ItemPointer to,
		  HnswInDegree *indegrees, int nnodes, HTAB *made)
{
	const HnswIndexInfo *info = &vs->info;
	int			maxn = HnswLayerSlots(info->m, 0);
	HnswNodeHeader *copy = HnswFetchNodeCopy(vs->index, from);
	int			slot = -1;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	HnswNodeHeader *node;
	uint16	   *count;
	ItemPointerData *nbrs;
	HnswInDegree *d;
	MadeLink	key;

	if (HnswListContains(HnswNodeNeighbors(copy, info->dim, info->m, 0),
						 HnswNodeCounts(copy, info->dim)[0], to))
		return true;
	if (HnswNodeCounts(copy, info->dim)[0] >= maxn)
	{
		ItemPointerData *old = HnswNodeNeighbors(copy, info->dim, info->m, 0);
		int			fallback = -1;

		for (int i = maxn - 1; i >= 0 && slot < 0; i--)
		{
			if (LinkWasMade(made, from, &old[i]))
				continue;
			if (fallback < 0)
				fallback = i;
			d = HnswInDegreeOf(indegrees, nnodes, &old[i]);
			if (d != NULL && d->n >= 2)
				slot = i;
		}
		if (slot < 0)
			slot = fallback;
		if (slot < 0)
			return false;
		if ((d = HnswInDegreeOf(indegrees, nnodes, &old[slot])) != NULL)
			d->n--;
	}
	if ((d = HnswInDegreeOf(indegrees, nnodes, to)) != NULL)
		d->n++;

	/* the list cannot change meanwhile: we hold the insert lock */
	buf = ReadPage(vs, ItemPointerGetBlockNumber(from));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(vs->index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	node = (HnswNodeHeader *) PageGetItem(page,
										  PageGetItemId(page, ItemPointerGetOffsetNumber(from)));
	count = &HnswNodeCounts(node, info->dim)[0];
	nbrs = HnswNodeNeighbors(node, info->dim, info->m, 0);
	if (slot < 0)
		nbrs[(*count)++] = *to;
	else
		nbrs[slot] = *to;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	pfree(copy);

	key.from = *from;
	key.to = *to;
	(void) hash_search(made, &key, HASH_ENTER, NULL);
	return true;
}

/* Sets of node positions for LinkUnreachable */
static HTAB *
TidSetCreate(int nelem)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(ItemPointerData);
	ctl.entrysize = sizeof(ItemPointerData);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("engram_hnsw unreachable nodes", Max(nelem, 16), &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static bool
TidSetContains(HTAB *set, ItemPointer tid)
{
	return hash_search(set, tid, HASH_FIND, NULL) != NULL;
}

/*
 * The first live node that is not unreachable (pending) on the way out of
 * u along layer-0 links, breadth first through unreachable ones: u's
 * neighbours, then theirs.  Links lead to near nodes, so this is a node
 * near u, and usually u's own neighbour.  Invalid if there is none within
 * HNSW_REPAIR_WALK nodes.
 */
static ItemPointerData
ReachedNearby(VacuumState *vs, HTAB *pending, ItemPointer u)
{
	ItemPointerData *queue = palloc(sizeof(ItemPointerData) * HNSW_REPAIR_WALK);
	HnswVisited *seen = HnswVisitedCreate(CurrentMemoryContext, 256);
	int			head = 0;
	int			tail = 0;
	ItemPointerData found;

	ItemPointerSetInvalid(&found);
	queue[tail++] = *u;
	(void) HnswVisitedTestAndSet(seen, u);
	while (head < tail && !ItemPointerIsValid(&found))
	{
		HnswNodeHeader *node = HnswFetchNodeCopy(vs->index, &queue[head++]);
		ItemPointerData *nbrs = HnswNodeNeighbors(node, vs->info.dim, vs->info.m, 0);

		for (int k = 0; k < HnswNodeCounts(node, vs->info.dim)[0]; k++)
		{
			HnswNodeHeader *v;
			bool		live;

			if (HnswVisitedTestAndSet(seen, &nbrs[k]))
				continue;
			v = HnswFetchNodeCopy(vs->index, &nbrs[k]);
			live = !(v->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED));
			pfree(v);
			if (!live)
				continue;
			if (!TidSetContains(pending, &nbrs[k]))
			{
				found = nbrs[k];
				break;
			}
			if (tail < HNSW_REPAIR_WALK)
				queue[tail++] = nbrs[k];
		}
		pfree(node);
	}
	pfree(queue);
	return found;
}

/*
 * The nearest node to q on layer 0 that a search from "from" finds and that
 * is neither u nor unreachable itself (pending); invalid if none is
 */
static ItemPointerData
NearestNotPending(VacuumState *vs, HTAB *pending, const HnswQuery *q,
				  ItemPointerData from, ItemPointer utid)
{
	HnswCandidate found[HNSW_REPAIR_EF];
	int			nfound;

	nfound = HnswSearchLayer(vs->index, &vs->info, q, &from, 1, 0, HNSW_REPAIR_EF, true,
							 found, HnswVisitedCreate(CurrentMemoryContext, 256), NULL);
	for (int i = 0; i < nfound; i++)
		if (!ItemPointerEquals(&found[i].node, utid) &&
			!TidSetContains(pending, &found[i].node))
			return found[i].node;
	ItemPointerSetInvalid(&from);
	return from;
}

/*
 * A reachable node near the unreachable node u to link u from.  A search
 * descending through the upper layers is quick, but it can end in u's own
 * cut-off group, which layer 0 does not lead out of; then a search of
 * layer 0 alone from the entry point, which sees only reachable nodes.
 * (Linking a group from a node far from it would make it reachable but not
 * findable: no search would head there.)
 */
static ItemPointerData
NearestReachable(VacuumState *vs, HTAB *pending, const HnswNodeHeader *u,
				 ItemPointer utid)
{
	const HnswIndexInfo *info = &vs->info;
	float	   *x = palloc(sizeof(float) * info->dim);
	HnswMetaPageData meta;
	HnswQuery	q;
	ItemPointerData from;

	HnswReadMeta(vs->index, &meta);
	if (!ItemPointerIsValid(&meta.entry))
		return meta.entry;
	for (int i = 0; i < info->dim; i++)
		x[i] = HnswNodeCode(u)[i] * u->scale;
	HnswInitQuery(&q, info, x, (u->flags & HNSW_NODE_UNBOUNDED) != 0);
	from = NearestNotPending(vs, pending, &q,
							 HnswGreedyDescend(vs->index, info, &q, meta.entry,
											   meta.entry_level, 0, NULL),
							 utid);
	if (!ItemPointerIsValid(&from))
		from = NearestNotPending(vs, pending, &q, meta.entry, utid);
	pfree(x);
	return ItemPointerIsValid(&from) ? from : meta.entry;
}

/*
 * Remove u and the unreachable nodes u leads to from the pending set: once
 * u is linked from a reachable node, they are reachable too
 */
static void
MarkReachedFrom(VacuumState *vs, HTAB *pending, ItemPointer u)
{
	ItemPointerData *stack = palloc(sizeof(ItemPointerData) * hash_get_num_entries(pending));
	int			n = 0;

	if (hash_search(pending, u, HASH_REMOVE, NULL) == NULL)
		return;
	stack[n++] = *u;
	while (n > 0)
	{
		ItemPointerData cur = stack[--n];
		HnswNodeHeader *node = HnswFetchNodeCopy(vs->index, &cur);
		ItemPointerData *nbrs = HnswNodeNeighbors(node, vs->info.dim, vs->info.m, 0);

		for (int k = 0; k < HnswNodeCounts(node, vs->info.dim)[0]; k++)
			if (hash_search(pending, &nbrs[k], HASH_REMOVE, NULL) != NULL)
				stack[n++] = nbrs[k];
		pfree(node);
	}
	pfree(stack);
}

/*
 * Pruning (by inserts and by the repairs above) can leave a live node
 * whose only incoming links were dropped or came from deleted nodes, and no
 * search would find it again; a group of such nodes can still link to each
 * other.  Link each from a reachable node near it: one of its own live
 * neighbours that is reachable, else what NearestReachable finds;
 * everything the node leads to is then reachable as well, and needs no
 * link of its own.  A link into a full list replaces one whose target
 * keeps another incoming link where there is one (ForceLink); where there
 * is none, that target may be cut off, and the next round finds it.
 */
static void
LinkUnreachable(VacuumState *vs)
{
	HASHCTL		ctl;
	HTAB	   *made;
	int			last_nlost = INT_MAX;

	ctl.keysize = sizeof(MadeLink);
	ctl.entrysize = sizeof(MadeLink);
	ctl.hcxt = CurrentMemoryContext;
	made = hash_create("engram_hnsw links made by vacuum", 64, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	for (int round = 0; round < HNSW_REPAIR_ROUNDS; round++)
	{
		ItemPointerData *lost;
		HnswInDegree *indegrees;
		int			nnodes;
		int			nlost = HnswFindUnreachable(vs->index, &lost, &indegrees, &nnodes);
		HTAB	   *pending;
		bool		stalled = nlost >= last_nlost;
		HnswMetaPageData meta;
		ItemPointerData entry;

		elog(DEBUG1, "engram_hnsw vacuum of \"%s\": %d live nodes unreachable (round %d)",
			 RelationGetRelationName(vs->index), nlost, round + 1);
		if (nlost == 0)
			break;
		last_nlost = nlost;
		HnswReadMeta(vs->index, &meta);
		entry = meta.entry;
		pending = TidSetCreate(nlost);
		for (int i = 0; i < nlost; i++)
			(void) hash_search(pending, &lost[i], HASH_ENTER, NULL);

		for (int i = 0; i < nlost; i++)
		{
			HnswNodeHeader *u;
			ItemPointerData from;
			bool		linked;

			CHECK_FOR_INTERRUPTS();
			if (!TidSetContains(pending, &lost[i]))
				continue;		/* reached through one linked before */
			u = HnswFetchNodeCopy(vs->index, &lost[i]);

			/*
			 * A round that linked nothing new (the node found nearby was
			 * itself cut off by a replaced link, or all its links were made
			 * here) searches for one instead, and then takes the entry point
			 */
			from = stalled ? NearestReachable(vs, pending, u, &lost[i]) :
				ReachedNearby(vs, pending, &lost[i]);
			if (!ItemPointerIsValid(&from))
				from = NearestReachable(vs, pending, u, &lost[i]);
			linked = ItemPointerIsValid(&from) &&
				ForceLink(vs, &from, &lost[i], indegrees, nnodes, made);
			if (!linked && ItemPointerIsValid(&entry) &&
				!ItemPointerEquals(&entry, &lost[i]))
				linked = ForceLink(vs, &entry, &lost[i], indegrees, nnodes, made);
			if (linked)
				MarkReachedFrom(vs, pending, &lost[i]);
			pfree(u);
		}
		hash_destroy(pending);
		pfree(lost);
		pfree(indegrees);
	}
}

/*
 * Pass 3: deleted nodes are unreferenced now; make their slots reusable
 */
static void
UnlinkDeleted(VacuumState *vs)
{
	int			i = 0;

	while (i < vs->ndeleted)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&vs->deleted[i].tid);
		Buffer		buf = ReadPage(vs, blkno);
		GenericXLogState *state;
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(vs->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		for (; i < vs->ndeleted && ItemPointerGetBlockNumber(&vs->deleted[i].tid) == blkno; i++)
		{
			OffsetNumber off = ItemPointerGetOffsetNumber(&vs->deleted[i].tid);
			HnswNodeHeader *node = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, off));

			node->flags |= HNSW_NODE_UNLINKED;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		RecordFreeIndexPage(vs->index, blkno);
	}
}

/*
 * A VACUUM with nothing to delete in the index: nodes cut off by inserts'
 * pruning are linked again all the same.  The search for them runs without the insert
 * lock, which is taken only when there is something to link.
 */
static void
RelinkCutOff(IndexVacuumInfo *info)
{
	ItemPointerData *lost;
	VacuumState vs;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "engram_hnsw vacuum",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	if (HnswFindUnreachable(info->index, &lost, NULL, NULL) > 0)
	{
		memset(&vs, 0, sizeof(vs));
		vs.index = info->index;
		HnswGetIndexInfo(info->index, &vs.info);
		vs.strategy = info->strategy;
		vs.cxt = cxt;
		LockPage(vs.index, HNSW_INSERT_LOCK, ExclusiveLock);
		LinkUnreachable(&vs);
		UnlockPage(vs.index, HNSW_INSERT_LOCK, ExclusiveLock);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

IndexBulkDeleteResult *
engram_hnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
					   IndexBulkDeleteCallback callback, void *callback_state)
{
	VacuumState vs;
	MemoryContext old;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	vs.index = info->index;
	HnswGetIndexInfo(info->index, &vs.info);
	vs.strategy = info->strategy;
	vs.cxt = AllocSetContextCreate(CurrentMemoryContext, "engram_hnsw vacuum",
								   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(vs.cxt);
	vs.deleted_set = HnswVisitedCreate(vs.cxt, 1024);
	vs.capacity = 1024;
	vs.ndeleted = 0;
	vs.deleted = MemoryContextAllocHuge(vs.cxt, sizeof(DeletedNode) * vs.capacity);

	stats->num_index_tuples = 0;
	MarkDeleted(&vs, stats, callback, callback_state);

	if (vs.ndeleted > 0)
	{
		LockPage(vs.index, HNSW_INSERT_LOCK, ExclusiveLock);
		RepairGraph(&vs);
		RepairEntryPoint(&vs);
		UnlinkDeleted(&vs);
		LinkUnreachable(&vs);
		UnlockPage(vs.index, HNSW_INSERT_LOCK, ExclusiveLock);
	}
	else
		RelinkCutOff(info);

	/* make the pages recorded above findable by inserts */
	IndexFreeSpaceMapVacuum(vs.index);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(vs.cxt);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

IndexBulkDeleteResult *
engram_hnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;

	/* no bulkdelete pass ran (nothing to delete): count what is there */
	if (stats == NULL)
	{
		BlockNumber nblocks = RelationGetNumberOfBlocks(info->index);

		stats = palloc0(sizeof(IndexBulkDeleteResult));
		for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
		{
			Buffer		buf = ReadBufferExtended(info->index, MAIN_FORKNUM, blkno,
												 RBM_NORMAL, info->strategy);
			Page		page;

			vacuum_delay_point();
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswNodeHeader *node = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, off));

				if (!(node->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED)))
					stats->num_index_tuples++;
			}
			UnlockReleaseBuffer(buf);
		}
		RelinkCutOff(info);
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
