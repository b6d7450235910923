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
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"

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
	if (ItemPointerEquals(cand, self) || FindDeleted(vs, cand) != NULL)
		return;
	for (int j = 0; j < *n; j++)
		if (ItemPointerEquals(&tids[j], cand))
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

/*
 * Link node "to" from node "from" on layer 0, replacing from's last link
 * when its list is full
 */
static void
ForceLink(VacuumState *vs, ItemPointer from, ItemPointer to)
{
	const HnswIndexInfo *info = &vs->info;
	Buffer		buf = ReadPage(vs, ItemPointerGetBlockNumber(from));
	GenericXLogState *state;
	Page		page;
	HnswNodeHeader *node;
	uint16	   *count;
	ItemPointerData *nbrs;
	int			maxn = HnswLayerSlots(info->m, 0);
	bool		present = false;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(vs->index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	node = (HnswNodeHeader *) PageGetItem(page,
										  PageGetItemId(page, ItemPointerGetOffsetNumber(from)));
	count = &HnswNodeCounts(node, info->dim)[0];
	nbrs = HnswNodeNeighbors(node, info->dim, info->m, 0);
	for (int i = 0; i < *count; i++)
		present |= ItemPointerEquals(&nbrs[i], to);
	if (present)
	{
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		return;
	}
	if (*count < maxn)
		nbrs[(*count)++] = *to;
	else
		nbrs[maxn - 1] = *to;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Repairs can leave a live node whose only incoming links came from deleted
 * nodes, and no search would find it again.  Link every such node from one
 * of its own live neighbours (or the entry point), and check again: a node
 * linked from another unreachable one becomes reachable in a later round.
 */
static void
LinkUnreachable(VacuumState *vs)
{
	for (int round = 0; round < 5; round++)
	{
		ItemPointerData *lost;
		int			nlost = HnswFindUnreachable(vs->index, &lost);
		HnswMetaPageData meta;

		if (nlost == 0)
			break;
		HnswReadMeta(vs->index, &meta);
		for (int i = 0; i < nlost; i++)
		{
			HnswNodeHeader *u = HnswFetchNodeCopy(vs->index, &lost[i]);
			ItemPointerData from = meta.entry;
			ItemPointerData *nbrs = HnswNodeNeighbors(u, vs->info.dim, vs->info.m, 0);

			for (int k = 0; k < HnswNodeCounts(u, vs->info.dim)[0]; k++)
			{
				HnswNodeHeader *v = HnswFetchNodeCopy(vs->index, &nbrs[k]);
				bool		live = !(v->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED));

				pfree(v);
				if (live)
				{
					from = nbrs[k];
					break;
				}
			}
			if (ItemPointerIsValid(&from) && !ItemPointerEquals(&from, &lost[i]))
				ForceLink(vs, &from, &lost[i]);
			pfree(u);
		}
		pfree(lost);
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
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
