/*-------------------------------------------------------------------------
 *
 * alexscan.c
 *	  engram_alex: index scans, ordered in either direction, and bitmap
 *	  scans.
 *
 * The scan keys become sorted key ranges (alexkey.c).  For each range the
 * directory locates the first node that can hold it, the node's model the
 * page, and the scan walks pages in order, copying the matching entries of
 * one page at a time under a share lock.  The directory copy is checked
 * against the meta page when the scan starts and then used throughout: a
 * node replaced during the scan keeps its pages, with everything the scan's
 * snapshot can see, until no such snapshot remains (README, "Concurrency").
 * NULLs sort after every key; they are returned when the scan has no key or
 * IS NULL.
 *
 * src/am/alex/alexscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "nodes/tidbitmap.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "am/alex/alex.h"

/*
 * ambeginscan
 */
IndexScanDesc
engram_alex_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	AlexScanOpaque so = palloc0(sizeof(AlexScanOpaqueData));

	so->keytype = AlexGetKeyType(TupleDescAttr(RelationGetDescr(index), 0)->atttypid);
	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "engram_alex scan",
									ALLOCSET_SMALL_SIZES);
	so->items = palloc(sizeof(AlexItem) * ALEX_MAX_SLOTS_PER_PAGE);
	so->metabuf = InvalidBuffer;
	scan->opaque = so;
	scan->xs_itupdesc = RelationGetDescr(index);
	return scan;
}

static void
UnpinDir(AlexScanOpaque so)
{
	if (so->dir)
	{
		AlexDirUnpin(so->dir);
		so->dir = NULL;
	}
}

/* Hand a finished scan's counters to shared memory, once per scan */
static void
FlushScanStats(IndexScanDesc scan)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;

	if (so->started && so->counting)
		EngramStatsFlushScan(scan->indexRelation, &so->counts);
	so->counting = false;
	memset(&so->counts, 0, sizeof(EngramScanCounts));
}

/* Add the time since start, and the rows returned, to the scan's counters */
static inline void
CountScanTime(AlexScanOpaque so, EngramTicks start, int64 tuples)
{
	so->counts.elapsed += EngramClockSince(start);
	so->counts.tuples += tuples;
}

/*
 * amrescan
 */
void
engram_alex_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
				   ScanKey orderbys, int norderbys)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	MemoryContext old;

	FlushScanStats(scan);
	UnpinDir(so);
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));

	MemoryContextReset(so->cxt);
	old = MemoryContextSwitchTo(so->cxt);
	so->ranges = NULL;
	so->nranges = 0;
	so->unsatisfiable = !AlexBuildRanges(scan->indexRelation, scan->keyData,
										 scan->numberOfKeys, so);
	MemoryContextSwitchTo(old);
	so->started = false;
	so->finished = false;
	so->nitems = so->next_item = 0;
}

/* Pin and share-lock page p of node n; checks it is what the directory says */
static Buffer
ReadNodePage(IndexScanDesc scan, int n, int p)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	const AlexDirEntry *node = &so->dir->nodes[n];
	Buffer		buf = ReadBuffer(scan->indexRelation, node->first_block + p);
	AlexPageOpaque opaque;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	opaque = AlexPageGetOpaque(BufferGetPage(buf));
	if (opaque->node_id != node->node_id || opaque->page_no != p)
	{
		/*
		 * Only a standby can get here: the primary recycled pages of a
		 * node replaced after this scan began (it cannot see our snapshot).
		 */
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("engram_alex index \"%s\" changed under the scan",
						RelationGetRelationName(scan->indexRelation)),
				 errdetail("Block %u was recycled while the scan read node " UINT64_FORMAT ".",
						   node->first_block + p, node->node_id),
				 errhint("Retry the query.")));
	}
	return buf;
}

/*
 * Done with a page: release lock and pin.  The entries were copied; a scan
 * never holds a page while it reads the next one, so VACUUM (which holds a
 * node's first page while it waits for cleanup locks on the others) cannot
 * deadlock with it.  See README, "Concurrency", for why copied TIDs stay
 * valid.
 */
static void
ReleaseNodePage(IndexScanDesc scan, Buffer buf)
{
	UnlockReleaseBuffer(buf);
}

static inline int
PredictedSlot(const AlexDirEntry *node, uint64 key)
{
	double		pred = AlexNodePredict(node, key);
	int64		nslots = (int64) node->npages * node->nslots;

	return (int) (pred < 0 ? 0 : pred >= nslots ? nslots - 1 : (int64) pred);
}

/*
 * Position at the start of range r: forward, the first page that may hold
 * entries >= range.lo; backward, the last page that may hold entries <=
 * range.hi.  Returns that page share-locked.  The model's page is usually
 * right, and its min/max keys say so without looking at a neighbour.
 */
static Buffer
StartRange(IndexScanDesc scan)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	AlexRange  *range = &so->ranges[so->range_no];
	bool		forward = ScanDirectionIsForward(so->dir_of_scan);
	int			step = forward ? -1 : 1;
	AlexPos		pos;
	const AlexDirEntry *node;
	int			p;
	Buffer		buf;

	pos.isnull = false;
	pos.key = forward ? range->lo : range->hi;
	if (forward)
		ItemPointerSet(&pos.tid, 0, 0);
	else
		ItemPointerSet(&pos.tid, InvalidBlockNumber, PG_UINT16_MAX);
	so->node_no = AlexDirLocate(so->dir, &pos);
	node = &so->dir->nodes[so->node_no];
	so->slot_hint = PredictedSlot(node, pos.key);
	p = so->slot_hint / node->nslots;
	buf = ReadNodePage(scan, so->node_no, p);

	/*
	 * Never hold one page while waiting for another (VACUUM holds a node's
	 * first page while it waits for the pins on the others): release p
	 * before looking at a neighbour, and read p again if we stay.
	 */
	for (;;)
	{
		AlexPageOpaque opaque = AlexPageGetOpaque(BufferGetPage(buf));
		int			q;
		Buffer		qbuf = InvalidBuffer;

		/* entries on this side of p, if any, cannot be in range */
		if (opaque->count > 0 &&
			(forward ? opaque->minkey < range->lo : opaque->maxkey > range->hi))
			break;
		UnlockReleaseBuffer(buf);
		/* the nearest non-empty page on that side */
		for (q = p + step; q >= 0 && q < (int) node->npages; q += step)
		{
			qbuf = ReadNodePage(scan, so->node_no, q);
			if (AlexPageGetOpaque(BufferGetPage(qbuf))->count > 0)
				break;
			UnlockReleaseBuffer(qbuf);
			qbuf = InvalidBuffer;
		}
		if (BufferIsValid(qbuf))
		{
			opaque = AlexPageGetOpaque(BufferGetPage(qbuf));
			if (forward ? opaque->maxkey >= range->lo : opaque->minkey <= range->hi)
			{
				buf = qbuf;
				p = q;
				continue;
			}
			UnlockReleaseBuffer(qbuf);
		}
		buf = ReadNodePage(scan, so->node_no, p);
		break;
	}
	so->page_no = p;
	so->range_open = true;
	return buf;
}

/*
 * Copy the entries of the current page that fall in the current range,
 * in scan order.  Sets range_open false when the range ends on this page.
 */
static void
LoadPage(IndexScanDesc scan, Buffer buf)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	AlexRange  *range = &so->ranges[so->range_no];
	bool		forward = ScanDirectionIsForward(so->dir_of_scan);
	AlexSlots	sl;
	int			hint = so->slot_hint - so->page_no * so->dir->nodes[so->node_no].nslots;
	int			n = 0;

	if (!BufferIsValid(buf))
		buf = ReadNodePage(scan, so->node_no, so->page_no);
	AlexPageSlots(BufferGetPage(buf), &sl);
	so->slot_hint = forward ? 0 : sl.nslots - 1;
	if (forward)
	{
		int			s = AlexPageLowerBound(&sl, range->lo, hint);

		for (; s < sl.nslots; s++)
		{
			uint64		key;

			if (!AlexSlotUsed(sl.bitmap, s))
				continue;
			key = AlexGetKey(&sl, s);
			if (key > range->hi)
			{
				so->range_open = false;
				break;
			}
			so->items[n].key = key;
			AlexGetTid(&sl, s, &so->items[n].tid);
			so->items[n].isnull = false;
			n++;
		}
	}
	else
	{
		int			s = range->hi == PG_UINT64_MAX ? sl.nslots :
			AlexPageLowerBound(&sl, range->hi + 1, hint);

		for (s--; s >= 0; s--)
		{
			uint64		key;

			if (!AlexSlotUsed(sl.bitmap, s))
				continue;
			key = AlexGetKey(&sl, s);
			if (key < range->lo)
			{
				so->range_open = false;
				break;
			}
			so->items[n].key = key;
			AlexGetTid(&sl, s, &so->items[n].tid);
			so->items[n].isnull = false;
			n++;
		}
	}
	ReleaseNodePage(scan, buf);
	so->nitems = n;
	so->next_item = 0;
}

/* Every entry of the current page of a NULL node, in scan order */
static void
LoadNullPage(IndexScanDesc scan)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	bool		forward = ScanDirectionIsForward(so->dir_of_scan);
	Buffer		buf = ReadNodePage(scan, so->node_no, so->page_no);
	AlexSlots	sl;
	int			n = 0;

	AlexPageSlots(BufferGetPage(buf), &sl);
	for (int i = 0; i < sl.nslots; i++)
	{
		int			s = forward ? i : sl.nslots - 1 - i;

		if (AlexSlotUsed(sl.bitmap, s))
		{
			so->items[n].key = 0;
			AlexGetTid(&sl, s, &so->items[n].tid);
			so->items[n].isnull = true;
			n++;
		}
	}
	ReleaseNodePage(scan, buf);
	so->nitems = n;
	so->next_item = 0;
}

static inline bool
IsNullNode(AlexScanOpaque so, int n)
{
	return (so->dir->nodes[n].flags & ALEX_NODE_NULLS) != 0;
}

/* Step to the next page in scan order; false at the end of the key nodes */
static bool
StepPage(AlexScanOpaque so)
{
	if (ScanDirectionIsForward(so->dir_of_scan))
	{
		if (++so->page_no < (int) so->dir->nodes[so->node_no].npages)
			return true;
		if (++so->node_no >= so->dir->nnodes || IsNullNode(so, so->node_no) != so->in_nulls)
			return false;
		so->page_no = 0;
		return true;
	}
	if (--so->page_no >= 0)
		return true;
	if (--so->node_no < 0 || IsNullNode(so, so->node_no) != so->in_nulls)
		return false;
	so->page_no = so->dir->nodes[so->node_no].npages - 1;
	return true;
}

/* Position on the NULL nodes: first page forward, last page backward */
static void
StartNulls(AlexScanOpaque so)
{
	int			n = so->dir->nnodes - 1;

	while (n > 0 && IsNullNode(so, n - 1))
		n--;
	so->in_nulls = true;
	if (ScanDirectionIsForward(so->dir_of_scan))
	{
		so->node_no = n;
		so->page_no = 0;
	}
	else
	{
		so->node_no = so->dir->nnodes - 1;
		so->page_no = so->dir->nodes[so->node_no].npages - 1;
	}
}

/*
 * After loading a page of a key range: when the range ended on it and
 * nothing follows in scan order (no further range, and no NULLs still to
 * come), the scan is over once the page's entries are handed out.  Knowing
 * it now saves the call that would find that out from being timed as
 * work (statistics: a point lookup then reads the clock twice, not four
 * times).
 */
static void
NoteRangeEnd(AlexScanOpaque so)
{
	if (so->range_open)
		return;
	if (ScanDirectionIsForward(so->dir_of_scan) ?
		so->range_no == so->nranges - 1 && !so->want_nulls :
		so->range_no == 0)
		so->finished = true;
}

/*
 * The phases of a scan in forward order are: key ranges, then NULLs; a
 * backward scan runs them the other way round.
 */
static bool
NextItem(IndexScanDesc scan, AlexItem *item)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	bool		forward = ScanDirectionIsForward(so->dir_of_scan);

	for (;;)
	{
		if (so->next_item < so->nitems)
		{
			*item = so->items[so->next_item++];
			return true;
		}
		if (so->finished)
			return false;
		CHECK_FOR_INTERRUPTS();

		switch (so->phase)
		{
			case ALEX_PHASE_START:
				if (!BufferIsValid(so->metabuf))
					so->metabuf = ReadBuffer(scan->indexRelation, ALEX_METAPAGE_BLKNO);
				LockBuffer(so->metabuf, BUFFER_LOCK_SHARE);
				so->dir = AlexDirGetLocked(scan->indexRelation, BufferGetPage(so->metabuf));
				LockBuffer(so->metabuf, BUFFER_LOCK_UNLOCK);
				AlexDirPin(so->dir);
				if (forward ? so->nranges > 0 : so->want_nulls)
					so->phase = forward ? ALEX_PHASE_RANGE_START : ALEX_PHASE_NULLS_START;
				else
					so->phase = forward ? ALEX_PHASE_NULLS_START : ALEX_PHASE_RANGE_START;
				so->range_no = forward ? 0 : so->nranges - 1;
				break;
			case ALEX_PHASE_RANGE_START:
				if (so->range_no < 0 || so->range_no >= so->nranges)
				{
					if (forward && so->want_nulls)
						so->phase = ALEX_PHASE_NULLS_START;
					else
						so->finished = true;
					break;
				}
				so->in_nulls = false;
				LoadPage(scan, StartRange(scan));
				NoteRangeEnd(so);
				so->phase = ALEX_PHASE_RANGE;
				break;
			case ALEX_PHASE_RANGE:
				if (so->range_open && StepPage(so))
				{
					LoadPage(scan, InvalidBuffer);
					NoteRangeEnd(so);
				}
				else
				{
					so->range_no += forward ? 1 : -1;
					so->phase = ALEX_PHASE_RANGE_START;
				}
				break;
			case ALEX_PHASE_NULLS_START:
				if (!so->want_nulls)
				{
					so->finished = true;
					break;
				}
				StartNulls(so);
				LoadNullPage(scan);
				so->phase = ALEX_PHASE_NULLS;
				break;
			case ALEX_PHASE_NULLS:
				if (StepPage(so))
					LoadNullPage(scan);
				else if (forward)
					so->finished = true;
				else
				{
					so->range_no = so->nranges - 1;
					so->phase = ALEX_PHASE_RANGE_START;
				}
				break;
		}
	}
}

/*
 * The index tuple of an index-only scan.  Keys are fixed-width and passed
 * by value, so one tuple per scan is formed and its value overwritten for
 * each entry, instead of forming (and freeing) a tuple per entry.
 */
static void
FormIndexTuple(IndexScanDesc scan, const AlexItem *item)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	TupleDesc	desc = RelationGetDescr(scan->indexRelation);
	MemoryContext old;
	Datum		value = (Datum) 0;
	bool		isnull = item->isnull;

	if (item->isnull)
	{
		if (so->null_itup == NULL)
		{
			old = MemoryContextSwitchTo(GetMemoryChunkContext(so));
			so->null_itup = index_form_tuple(desc, &value, &isnull);
			MemoryContextSwitchTo(old);
		}
		scan->xs_itup = so->null_itup;
		return;
	}
	value = so->keytype->decode(item->key);
	if (so->key_itup == NULL)
	{
		old = MemoryContextSwitchTo(GetMemoryChunkContext(so));
		so->key_itup = index_form_tuple(desc, &value, &isnull);
		MemoryContextSwitchTo(old);
	}
	else
		store_att_byval((char *) so->key_itup + IndexInfoFindDataOffset(so->key_itup->t_info),
						value, TupleDescAttr(desc, 0)->attlen);
	scan->xs_itup = so->key_itup;
}

/*
 * amgettuple
 */
bool
engram_alex_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	AlexItem	item;
	EngramTicks start = 0;
	bool		found;

	if (so->unsatisfiable)
		return false;
	if (!so->started)
	{
		so->started = true;
		so->counting = EngramStatsActive();
		so->dir_of_scan = ScanDirectionIsBackward(dir) ? BackwardScanDirection :
			ForwardScanDirection;
		so->phase = ALEX_PHASE_START;
		pgstat_count_index_scan(scan->indexRelation);
	}
	else if (ScanDirectionIsBackward(dir) != ScanDirectionIsBackward(so->dir_of_scan))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("engram_alex scans cannot change direction")));

	if (so->next_item < so->nitems)
	{
		/* copied from the page already: too cheap to time */
		item = so->items[so->next_item++];
		found = true;
		if (so->counting)
			so->counts.tuples++;
	}
	else if (so->finished)
		found = false;			/* nothing left to read */
	else
	{
		/* the work: reading pages (timed, two clock reads) */
		if (so->counting)
			start = EngramClockNow();
		found = NextItem(scan, &item);
		if (so->counting)
			CountScanTime(so, start, found ? 1 : 0);
	}
	if (!found)
		return false;
	scan->xs_heaptid = item.tid;
	scan->xs_recheck = false;
	if (scan->xs_want_itup)
		FormIndexTuple(scan, &item);
	return true;
}

/*
 * amgetbitmap
 */
int64
engram_alex_getbitmap(IndexScanDesc scan, TIDBitmap *tbm)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	AlexItem	item;
	int64		ntids = 0;
	EngramTicks start = 0;

	if (so->unsatisfiable)
		return 0;
	so->started = true;
	so->counting = EngramStatsActive();
	if (so->counting)
		start = EngramClockNow();
	so->dir_of_scan = ForwardScanDirection;
	so->phase = ALEX_PHASE_START;
	pgstat_count_index_scan(scan->indexRelation);
	while (NextItem(scan, &item))
	{
		tbm_add_tuples(tbm, &item.tid, 1, false);
		ntids++;
	}
	if (so->counting)
		CountScanTime(so, start, ntids);
	return ntids;
}

/*
 * amendscan
 */
void
engram_alex_endscan(IndexScanDesc scan)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;

	FlushScanStats(scan);
	UnpinDir(so);
	if (BufferIsValid(so->metabuf))
		ReleaseBuffer(so->metabuf);
	if (so->key_itup)
		pfree(so->key_itup);
	if (so->null_itup)
		pfree(so->null_itup);
	scan->xs_itup = NULL;
	MemoryContextDelete(so->cxt);
	pfree(so->items);
	pfree(so);
	scan->opaque = NULL;
}
