/*-------------------------------------------------------------------------
 *
 * alexvacuum.c
 *	  engram_alex: VACUUM — removing dead heap TIDs and recycling pages.
 *
 * Bulk delete walks the nodes in key order, each under the meta page's
 * share lock (so it is not replaced meanwhile) and a cleanup lock on each of
 * its pages (no scan is reading the page; scans hold one page at a time,
 * so the waits end).  It resumes at the next node's fence, so nodes
 * split or expanded between two steps are neither missed nor repeated.
 * Cleanup recycles the pages of replaced nodes once no snapshot can still
 * read them, and pages a crash left unreferenced (README, "VACUUM").
 *
 * src/am/alex/alexvacuum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/transam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "utils/snapmgr.h"

#include "am/alex/alex.h"

/* Remove the dead TIDs of one page; returns the entries left */
static int
VacuumPage(Relation index, Buffer buf, IndexBulkDeleteCallback callback,
		   void *callback_state, IndexBulkDeleteResult *stats)
{
	Page		page = BufferGetPage(buf);
	AlexSlots	sl;
	int			dead[ALEX_MAX_SLOTS_PER_PAGE];
	int			ndead = 0;

	AlexPageSlots(page, &sl);
	for (int s = 0; s < sl.nslots; s++)
	{
		ItemPointerData tid;

		if (!AlexSlotUsed(sl.bitmap, s))
			continue;
		AlexGetTid(&sl, s, &tid);
		if (callback(&tid, callback_state))
			dead[ndead++] = s;
	}

	if (ndead > 0)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		copy = GenericXLogRegisterBuffer(state, buf, 0);

		AlexPageSlots(copy, &sl);
		for (int i = 0; i < ndead; i++)
			AlexSlotSet(sl.bitmap, dead[i], false);
		AlexFillGaps(copy);
		GenericXLogFinish(state);
		stats->tuples_removed += ndead;
	}
	return AlexPageGetOpaque(page)->count;
}

static void
VacuumNode(Relation index, const AlexDirEntry *node, IndexBulkDeleteCallback callback,
		   void *callback_state, IndexBulkDeleteResult *stats)
{
	Buffer		head = ReadBufferExtended(index, MAIN_FORKNUM, node->first_block,
										  RBM_NORMAL, GetAccessStrategy(BAS_VACUUM));

	/* the first page's lock also keeps inserts out of the node */
	LockBufferForCleanup(head);
	for (uint32 p = 0; p < node->npages; p++)
	{
		Buffer		buf = head;

		if (p > 0)
		{
			buf = ReadBuffer(index, node->first_block + p);
			LockBufferForCleanup(buf);
		}
		if (AlexPageGetOpaque(BufferGetPage(buf))->node_id != node->node_id)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("engram_alex index \"%s\": block %u does not belong to node " UINT64_FORMAT,
							RelationGetRelationName(index), node->first_block + p,
							node->node_id)));
		stats->num_index_tuples += VacuumPage(index, buf, callback, callback_state, stats);
		if (p > 0)
			UnlockReleaseBuffer(buf);
		vacuum_delay_point();
	}
	UnlockReleaseBuffer(head);
}

/*
 * ambulkdelete
 */
IndexBulkDeleteResult *
engram_alex_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
					   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	AlexPos		pos;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;

	pos.isnull = false;
	pos.key = 0;
	ItemPointerSet(&pos.tid, 0, 0);
	for (;;)
	{
		Buffer		metabuf;
		AlexDir    *dir = AlexDirAcquire(index, &metabuf, true);
		int			i = AlexDirLocate(dir, &pos);
		bool		more = i + 1 < dir->nnodes;

		VacuumNode(index, &dir->nodes[i], callback, callback_state, stats);
		if (more)
		{
			pos.isnull = (dir->nodes[i + 1].flags & ALEX_NODE_NULLS) != 0;
			pos.key = dir->nodes[i + 1].lo_key;
			pos.tid = dir->nodes[i + 1].lo_tid;
		}
		UnlockReleaseBuffer(metabuf);
		if (!more)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return stats;
}

/* Set a page's flags (DEAD with the current xid, or FREE), WAL-logged */
static void
SetPageState(Relation index, Buffer buf, uint16 flag)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);
	AlexPageOpaque opaque;

	if (PageIsNew(page))
		AlexInitPage(page, ALEX_PAGE_DATA, 0);
	opaque = AlexPageGetOpaque(page);
	if (flag == ALEX_FLAG_DEAD)
	{
		FullTransactionId fxid = ReadNextFullTransactionId();

		opaque->dead_xid = XidFromFullTransactionId(fxid);
		opaque->dead_epoch = EpochFromFullTransactionId(fxid);
		opaque->flags = ALEX_FLAG_DEAD;
	}
	else
		opaque->flags = ALEX_FLAG_FREE;
	GenericXLogFinish(state);
}

/* Pages the current directory references (meta, directory, nodes) */
static bool *
ReferencedPages(Relation index, Page metapage, BlockNumber nblocks)
{
	AlexMetaPageData *meta = AlexPageGetMeta(metapage);
	AlexDir    *dir = AlexDirGetLocked(index, metapage);
	bool	   *ref = palloc0(sizeof(bool) * Max(nblocks, 1));

	ref[ALEX_METAPAGE_BLKNO] = true;
	for (uint32 i = 0; i < meta->dir_npages; i++)
		if (meta->dir_blocks[i] < nblocks)
			ref[meta->dir_blocks[i]] = true;
	for (int n = 0; n < dir->nnodes; n++)
		for (uint32 p = 0; p < dir->nodes[n].npages; p++)
			if (dir->nodes[n].first_block + p < nblocks)
				ref[dir->nodes[n].first_block + p] = true;
	return ref;
}

/*
 * amvacuumcleanup: recycle dead pages no snapshot can read any more, and
 * mark dead the pages nothing references (left by a crash in the middle of
 * a structural change); they are recycled by a later VACUUM.
 */
IndexBulkDeleteResult *
engram_alex_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	BlockNumber nblocks;
	Buffer		metabuf;
	bool	   *ref;
	BlockNumber *orphans;
	int			norphans = 0;
	bool		count_tuples = (stats == NULL);

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	metabuf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	nblocks = RelationGetNumberOfBlocks(index);
	ref = ReferencedPages(index, BufferGetPage(metabuf), nblocks);
	UnlockReleaseBuffer(metabuf);

	orphans = palloc(sizeof(BlockNumber) * Max(nblocks, 1));
	if (count_tuples)
		stats->num_index_tuples = 0;
	stats->pages_free = 0;

	for (BlockNumber b = 1; b < nblocks; b++)
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, b, RBM_NORMAL, info->strategy);
		Page		page;
		AlexPageOpaque opaque;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		opaque = AlexPageGetOpaque(page);
		if (PageIsNew(page) || (opaque->flags & ALEX_FLAG_FREE))
		{
			if (!ref[b])
			{
				RecordFreeIndexPage(index, b);
				stats->pages_free++;
			}
		}
		else if (opaque->flags & ALEX_FLAG_DEAD)
		{
			FullTransactionId fxid = FullTransactionIdFromEpochAndXid(opaque->dead_epoch,
																	   opaque->dead_xid);

			if (!ref[b] && GlobalVisCheckRemovableFullXid(NULL, fxid))
			{
				SetPageState(index, buf, ALEX_FLAG_FREE);
				RecordFreeIndexPage(index, b);
				stats->pages_free++;
				stats->pages_deleted++;
			}
		}
		else if (!ref[b])
			orphans[norphans++] = b;
		else if (count_tuples && opaque->kind == ALEX_PAGE_DATA)
			stats->num_index_tuples += opaque->count;
		UnlockReleaseBuffer(buf);
		vacuum_delay_point();
	}

	/* orphans: check again under the meta lock, which structural changes hold */
	if (norphans > 0)
	{
		metabuf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_SHARE);
		pfree(ref);
		ref = ReferencedPages(index, BufferGetPage(metabuf), nblocks);
		for (int i = 0; i < norphans; i++)
		{
			Buffer		buf;
			AlexPageOpaque opaque;

			if (ref[orphans[i]])
				continue;
			buf = ReadBuffer(index, orphans[i]);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			opaque = AlexPageGetOpaque(BufferGetPage(buf));
			if (!(opaque->flags & (ALEX_FLAG_DEAD | ALEX_FLAG_FREE)))
				SetPageState(index, buf, ALEX_FLAG_DEAD);
			UnlockReleaseBuffer(buf);
		}
		UnlockReleaseBuffer(metabuf);
	}

	IndexFreeSpaceMapVacuum(index);
	stats->num_pages = nblocks;
	pfree(ref);
	pfree(orphans);
	return stats;
}
