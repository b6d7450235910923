/*-------------------------------------------------------------------------
 *
 * hnswinsert.c
 *	  engram_hnsw: inserting rows into the on-disk graph.
 *
 * Inserts are serialised by a heavyweight lock on a pseudo page of the index
 * (HNSW_INSERT_LOCK), so a node's neighbour lists only change under it and
 * an insert can read a list, decide, and rewrite it without racing another
 * writer.  Scans take no heavyweight lock: they read one page at a time
 * under a share lock and always see either the old or the new version of a
 * list.  The new node is written, with its own links, before any node
 * links to it.  Every page change is WAL-logged with GenericXLog.  See
 * README, "Insert" and "Locking".
 *
 * src/am/hnsw/hnswinsert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"
#include "pageutil.h"
#include "stats.h"

/*
 * Copies of the headers and codes of the nodes one insert reads, by
 * position.  The new node's neighbours are close to each other and to it,
 * so the nodes in their lists are mostly nodes the insert's own search has
 * just estimated: the search keeps copies of them (HnswVisitedKeepCodes),
 * and pruning the neighbours' lists reads those instead of the pages.  The
 * copies serve only for their codes and flags; a list about to be rewritten
 * is always read from its page.  Under the insert lock no node's code
 * changes and no slot is reused.  A DELETED flag that VACUUM's first pass
 * sets meanwhile is missed, as by any copy taken a moment earlier; its
 * repair pass runs under the insert lock, after this insert, and removes
 * such links.
 */
static MemoryContext insert_copies_cxt = NULL;
static HnswCodeCopies *insert_copies = NULL;

/* kept between inserts up to this size (an insert at m = 16 needs ~250 kB) */
#define INSERT_COPIES_KEEP (4 * 1024 * 1024)

/*
 * The store, empty, for an index of dim dimensions.  It outlives the insert
 * (it is reset, not freed): a backend inserting rows one by one would
 * otherwise ask malloc for the memory, and fault it in, once per row.
 */
static HnswCodeCopies *
InsertCopies(int dim)
{
	if (insert_copies != NULL &&
		(HnswCodeCopiesDim(insert_copies) != dim ||
		 HnswCodeCopiesBytes(insert_copies) > INSERT_COPIES_KEEP))
	{
		MemoryContextDelete(insert_copies_cxt);
		insert_copies = NULL;
	}
	if (insert_copies == NULL)
	{
		insert_copies_cxt = AllocSetContextCreate(TopMemoryContext,
												  "engram_hnsw insert copies",
												  ALLOCSET_DEFAULT_SIZES);
		insert_copies = HnswCodeCopiesCreate(insert_copies_cxt, dim, 2048);
	}
	else
		HnswCodeCopiesReset(insert_copies);
	return insert_copies;
}

static HnswNodeHeader *
CachedNode(HnswCodeCopies *copies, Relation index, ItemPointer tid)
{
	HnswNodeHeader *copy = HnswCodeCopiesGet(copies, tid);

	if (copy == NULL)
	{
		HnswNodeHeader *node = HnswFetchNodeCopy(index, tid);

		copy = HnswCodeCopiesAdd(copies, tid, node);
		pfree(node);
	}
	return copy;
}

/*
 * Put pages that still have reusable slots back into the free space map,
 * and make them findable there at once (a recorded page is only found once
 * the map's upper levels know of it)
 */
static void
ReturnFreePages(Relation index, const BlockNumber *pages, int n)
{
	for (int i = 0; i < n; i++)
	{
		RecordFreeIndexPage(index, pages[i]);
		FreeSpaceMapVacuumRange(index, pages[i], pages[i] + 1);
	}
}

/*
 * Put a node tuple on a page: an unlinked slot that vacuum freed if the FSM
 * knows one, else the insert page, else a new page.  Returns its position.
 */
static ItemPointerData
PlaceNode(Relation index, HnswNodeHeader *node, Size size)
{
	ItemPointerData tid;
	BlockNumber blkno;
	Buffer		buf;
	Buffer		metabuf;
	GenericXLogState *state;
	Page		page;
	Page		metapage;
	HnswMetaPage meta;
	OffsetNumber off;
	BlockNumber skipped[8];
	int			nskipped;

	/*
	 * Reuse a slot of a deleted node.  A page whose free slots are all too
	 * small for this node goes back into the free space map afterwards, for
	 * smaller nodes; a few pages are tried at most.
	 */
	nskipped = 0;
	while (nskipped < (int) lengthof(skipped) &&
		   (blkno = GetFreeIndexPage(index)) != InvalidBlockNumber)
	{
		bool		more = false;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		off = InvalidOffsetNumber;
		if (PageIsNew(page))
		{
			/* left empty by a crash right after extending: take it */
			HnswInitPage(page, HNSW_TIER_WARM);
			off = PageAddItem(page, (Item) node, size, InvalidOffsetNumber, false, false);
		}
		else if (HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID &&
				 HnswPageGetOpaque(page)->tier != HNSW_TIER_META)
		{
			for (OffsetNumber i = FirstOffsetNumber; i <= PageGetMaxOffsetNumber(page); i++)
			{
				HnswNodeHeader *old = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, i));

				if (!(old->flags & HNSW_NODE_UNLINKED))
					continue;
				if (off == InvalidOffsetNumber &&
					PageIndexTupleOverwrite(page, i, (Item) node, size))
					off = i;
				else
					more = true;
			}
		}
		if (off != InvalidOffsetNumber)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);

		if (more)
			skipped[nskipped++] = blkno;
		if (off != InvalidOffsetNumber)
		{
			ReturnFreePages(index, skipped, nskipped);
			ItemPointerSet(&tid, blkno, off);
			return tid;
		}
	}
	ReturnFreePages(index, skipped, nskipped);

	/* the insert page, or a new one; the meta page says which */
	metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	blkno = HnswPageGetMeta(BufferGetPage(metabuf))->insert_page;
	if (blkno != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (PageGetFreeSpace(BufferGetPage(buf)) >= MAXALIGN(size))
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			off = PageAddItem(page, (Item) node, size, InvalidOffsetNumber, false, false);
			if (off == InvalidOffsetNumber)
				elog(ERROR, "failed to add node to engram_hnsw index \"%s\"",
					 RelationGetRelationName(index));
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			UnlockReleaseBuffer(metabuf);
			ItemPointerSet(&tid, blkno, off);
			return tid;
		}
		UnlockReleaseBuffer(buf);
	}

	buf = EngramExtendByOnePage(index, MAIN_FORKNUM);
	blkno = BufferGetBlockNumber(buf);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	HnswInitPage(page, HNSW_TIER_WARM);
	off = PageAddItem(page, (Item) node, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add node to engram_hnsw index \"%s\"",
			 RelationGetRelationName(index));
	metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
	meta = HnswPageGetMeta(metapage);
	meta->insert_page = blkno;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(metabuf);
	ItemPointerSet(&tid, blkno, off);
	return tid;
}

/* A neighbour list to write: the node's position, the layer, the list */
typedef struct ListWrite
{
	ItemPointerData tid;
	int			layer;
	int			n;
	ItemPointerData *nbrs;
} ListWrite;

static int
CompareListWriteBlocks(const void *a, const void *b)
{
	BlockNumber ba = ItemPointerGetBlockNumber(&((const ListWrite *) a)->tid);
	BlockNumber bb = ItemPointerGetBlockNumber(&((const ListWrite *) b)->tid);

	return ba < bb ? -1 : ba > bb ? 1 : 0;
}

/*
 * Rewrite neighbour lists, the lists on one page under one exclusive lock
 * and in one WAL record: GenericXLogFinish compares the whole page with its
 * copy, which cost an insert more than any list it wrote.  A reader still
 * sees each list either old or new.  Sorts writes[] by block.
 */
static void
WriteNeighborLists(Relation index, const HnswIndexInfo *info,
				   ListWrite *writes, int nwrites)
{
	qsort(writes, nwrites, sizeof(ListWrite), CompareListWriteBlocks);
	for (int i = 0; i < nwrites;)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&writes[i].tid);
		Buffer		buf = ReadBuffer(index, blkno);
		GenericXLogState *state;
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		for (; i < nwrites && ItemPointerGetBlockNumber(&writes[i].tid) == blkno; i++)
		{
			ListWrite  *w = &writes[i];
			ItemId		itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(&w->tid));
			HnswNodeHeader *node = (HnswNodeHeader *) PageGetItem(page, itemid);

			memcpy(HnswNodeNeighbors(node, info->dim, info->m, w->layer), w->nbrs,
				   sizeof(ItemPointerData) * w->n);
			HnswNodeCounts(node, info->dim)[w->layer] = w->n;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * The list of node "target" on one layer with a link to the new node added;
 * when the list is full, the best of the old neighbours and the new node by
 * the heuristic.  Sets *w to the list to write (w->n = -1: nothing to write)
 * and returns whether the target will link to the new node.
 */
static bool
ChooseBackLink(Relation index, const HnswIndexInfo *info, HnswCodeCopies *cache,
			   ItemPointer target, ItemPointer newtid, HnswNodeHeader *newnode,
			   int layer, bool force, ListWrite *w)
{
	HnswNodeHeader *t = HnswFetchNodeCopy(index, target);
	int			maxn = HnswLayerSlots(info->m, layer);
	int			count;
	ItemPointerData *nbrs;
	HnswNodeHeader **nodes;
	int			nsel;

	w->tid = *target;
	w->layer = layer;
	w->n = -1;
	if (layer > t->level || (t->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED)))
		return false;
	count = HnswNodeCounts(t, info->dim)[layer];
	nbrs = palloc(sizeof(ItemPointerData) * (maxn + 1));
	memcpy(nbrs, HnswNodeNeighbors(t, info->dim, info->m, layer),
		   sizeof(ItemPointerData) * count);
	w->nbrs = nbrs;

	if (count < maxn)
	{
		nbrs[count] = *newtid;
		w->n = count + 1;
		return true;
	}

	/* full: choose among the live old neighbours and the new node */
	nodes = palloc(sizeof(HnswNodeHeader *) * (maxn + 1));
	nbrs[count] = *newtid;
	for (int i = 0; i <= count; i++)
		nodes[i] = i == count ? newnode : CachedNode(cache, index, &nbrs[i]);
	nsel = HnswSelectFromNodes(info, t, nodes, nbrs, count + 1, maxn, true, nbrs);

	/*
	 * The heuristic fills every slot, so a list of live nodes that drops the
	 * new node keeps all its old links and stays as it is on the page (about
	 * 15 of an insert's 33 back-links on GloVe, each a page diff in
	 * GenericXLog).  But a node nobody links to on layer 0 cannot be found:
	 * when the last of its neighbours drops it too, it replaces that
	 * neighbour's farthest link.
	 */
	if (!HnswListContains(nbrs, nsel, newtid))
	{
		Assert(nsel == count);
		if (!force)
			return false;
		if (nsel == maxn)
			nsel--;
		nbrs[nsel++] = *newtid;
	}
	w->n = nsel;
	return true;
}

/*
 * Duplicates.  Copies of one vector are at distance 0 from each other, the
 * selection heuristic keeps at most one of them per list, and copies
 * inserted one by one would end up with no incoming link.  Instead a new
 * copy N of node D takes D's layer-0 links plus a link back to D, and D
 * links to N in place of its last link: everything D reached is still
 * reached through N, and the copies form a chain behind D.
 */
static int
InheritLinks(const HnswIndexInfo *info, const HnswNodeHeader *original,
			 ItemPointer original_tid, ItemPointerData *links)
{
	int			maxn = HnswLayerSlots(info->m, 0);
	int			n = HnswNodeCounts(original, info->dim)[0];

	memcpy(links, HnswNodeNeighbors(original, info->dim, info->m, 0),
		   sizeof(ItemPointerData) * n);
	/* keep the last link: it leads to the previous copy of the chain */
	if (n < maxn)
		links[n++] = *original_tid;
	else
		links[maxn - 2] = *original_tid;
	return n;
}

static void
LinkFromOriginal(Relation index, const HnswIndexInfo *info,
				 ItemPointer original, ItemPointer copy)
{
	HnswNodeHeader *d = HnswFetchNodeCopy(index, original);
	int			maxn = HnswLayerSlots(info->m, 0);
	int			n = HnswNodeCounts(d, info->dim)[0];
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * maxn);
	ListWrite	w;

	memcpy(nbrs, HnswNodeNeighbors(d, info->dim, info->m, 0), sizeof(ItemPointerData) * n);
	if (n == maxn)
		n--;
	nbrs[n++] = *copy;
	w.tid = *original;
	w.layer = 0;
	w.n = n;
	w.nbrs = nbrs;
	WriteNeighborLists(index, info, &w, 1);
}

/*
 * Make the new node the entry point when it reaches higher than the current
 * one (or the index was empty)
 */
static void
MaybeUpdateEntry(Relation index, ItemPointer tid, int level)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	HnswMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	if (!ItemPointerIsValid(&meta->entry) || level > meta->entry_level)
	{
		meta->entry = *tid;
		meta->entry_level = level;
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Insert one prepared vector (normalised for cosine) into the graph
 */
void
HnswInsertVector(Relation index, const HnswIndexInfo *info, const float *x,
				 ItemPointer heaptid, bool unbounded)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext,
											  "engram_hnsw insert",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	HnswMetaPageData meta;
	HnswQuery	q;
	int			level;
	Size		size;
	HnswNodeHeader *node;
	ItemPointerData tid;
	int			efc = info->ef_construction;
	HnswCandidate *found = palloc(sizeof(HnswCandidate) * efc);
	ItemPointerData *entries = palloc(sizeof(ItemPointerData) * efc);
	int			nentries;
	int			top;
	ItemPointerData **links;
	int		   *nlinks;
	HnswVisited *visited;
	HnswCodeCopies *cache;
	ListWrite  *writes;
	int			nwrites;
	ItemPointerData duplicate_of;

	LockPage(index, HNSW_INSERT_LOCK, ExclusiveLock);
	HnswReadMeta(index, &meta);
	ItemPointerSetInvalid(&duplicate_of);

	HnswInitQuery(&q, info, x, unbounded);
	level = HnswRandomLevel(info->m, HnswMaxLevel(info->dim, info->m));
	size = HnswNodeSize(info->dim, info->m, level);
	node = palloc0(size);
	HnswFormNode(node, info, x, heaptid, level, unbounded);

	if (!ItemPointerIsValid(&meta.entry))
	{
		tid = PlaceNode(index, node, size);
		MaybeUpdateEntry(index, &tid, level);
		goto done;
	}

	/* find the neighbours on every layer the node joins */
	entries[0] = HnswGreedyDescend(index, info, &q, meta.entry, meta.entry_level,
								   level, NULL);
	nentries = 1;
	top = Min(level, meta.entry_level);
	links = palloc0(sizeof(ItemPointerData *) * (top + 1));
	nlinks = palloc0(sizeof(int) * (top + 1));
	visited = HnswVisitedForIndex(tmp, index, info);
	cache = InsertCopies(info->dim);
	HnswVisitedKeepCodes(visited, cache);

	for (int layer = top; layer >= 0; layer--)
	{
		int			maxn = HnswLayerSlots(info->m, layer);
		int			nfound;
		HnswNodeHeader **copies;

		HnswVisitedReset(visited);
		nfound = HnswSearchLayer(index, info, &q, entries, nentries, layer, efc,
								 true, found, visited, NULL);

		copies = palloc(sizeof(HnswNodeHeader *) * Max(nfound, 1));
		for (int i = 0; i < nfound; i++)
			copies[i] = CachedNode(cache, index, &found[i].node);
		/* the next layer down starts from what this one found */
		if (nfound > 0)
		{
			for (int i = 0; i < nfound; i++)
				entries[i] = found[i].node;
			nentries = nfound;
		}

		links[layer] = palloc(sizeof(ItemPointerData) * maxn);
		if (layer == 0 && level == 0 && nfound > 0 && HnswSameCode(info, node, copies[0]))
		{
			/* an exact copy of a node: chain it in (see InsertDuplicate) */
			duplicate_of = found[0].node;
			nlinks[0] = InheritLinks(info, HnswFetchNodeCopy(index, &duplicate_of),
									 &duplicate_of, links[0]);
		}
		else
			nlinks[layer] = HnswSelectFromNodes(info, node, copies, entries, nfound,
												maxn, true, links[layer]);

		memcpy(HnswNodeNeighbors(node, info->dim, info->m, layer), links[layer],
			   sizeof(ItemPointerData) * nlinks[layer]);
		HnswNodeCounts(node, info->dim)[layer] = nlinks[layer];
	}
	HnswVisitedRelease(visited);

	/* the node with its own links first, then the links to it */
	tid = PlaceNode(index, node, size);
	if (ItemPointerIsValid(&duplicate_of))
	{
		LinkFromOriginal(index, info, &duplicate_of, &tid);
		goto done;
	}
	/* every back-link chosen first (from copies), then written page by page */
	writes = palloc(sizeof(ListWrite) * HnswTotalSlots(info->m, top));
	nwrites = 0;
	for (int layer = top; layer >= 0; layer--)
	{
		bool		linked = false;

		for (int i = 0; i < nlinks[layer]; i++)
		{
			bool		last = i == nlinks[layer] - 1;

			linked |= ChooseBackLink(index, info, cache, &links[layer][i], &tid, node,
									 layer, layer == 0 && last && !linked,
									 &writes[nwrites]);
			if (writes[nwrites].n >= 0)
				nwrites++;
		}
	}
	WriteNeighborLists(index, info, writes, nwrites);

	if (level > meta.entry_level)
		MaybeUpdateEntry(index, &tid, level);

done:
	UnlockPage(index, HNSW_INSERT_LOCK, ExclusiveLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/*
 * aminsert
 */
bool
engram_hnsw_insert(Relation index, Datum *values, bool *isnull,
				   ItemPointer heap_tid, Relation heap,
				   IndexUniqueCheck checkUnique, bool indexUnchanged,
				   IndexInfo *indexInfo)
{
	HnswIndexInfo *info = (HnswIndexInfo *) indexInfo->ii_AmCache;
	float	   *x;
	HnswPrepared prepared;

	if (isnull[0])
		return false;

	/* look the support functions up once per statement */
	if (info == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(indexInfo->ii_Context);

		info = palloc(sizeof(HnswIndexInfo));
		HnswGetIndexInfo(index, info);
		indexInfo->ii_AmCache = info;
		MemoryContextSwitchTo(old);
	}

	x = palloc(sizeof(float) * info->dim);
	prepared = HnswPrepareVector(info, values[0], x);
	if (prepared != HNSW_PREPARED_SKIP)
	{
		bool		counting = EngramStatsActive();
		instr_time	start;

		INSTR_TIME_SET_ZERO(start);
		if (counting)
			INSTR_TIME_SET_CURRENT(start);
		HnswInsertVector(index, info, x, heap_tid,
						 prepared == HNSW_PREPARED_UNBOUNDED);
		if (counting)
			EngramStatsCountInsert(index, start);
	}
	pfree(x);
	return false;
}
