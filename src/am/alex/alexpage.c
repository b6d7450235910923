/*-------------------------------------------------------------------------
 *
 * alexpage.c
 *	  engram_alex: pages, page allocation, the meta page and the gapped
 *	  array of a data page.
 *
 * src/am/alex/alexpage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/transam.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/timestamp.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"

#include "am/alex/alex.h"
#include "pageutil.h"

StaticAssertDecl(sizeof(AlexMetaPageData) <= BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - 64,
				 "meta page does not fit");

void
AlexInitPage(Page page, uint8 kind, uint16 flags)
{
	AlexPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(AlexPageOpaqueData));
	opaque = AlexPageGetOpaque(page);
	opaque->kind = kind;
	opaque->flags = flags;
	opaque->page_id = ALEX_PAGE_ID;
}

/* Bits to hold v (at least one) */
int
AlexBitsFor(uint64 v)
{
	return v == 0 ? 1 : pg_leftmost_one_pos64(v) + 1;
}

static int
SlotArrayBytes(int nslots, int key_bits, int tid_bits)
{
	return AlexBitArrayBytes(nslots, key_bits) + AlexBitArrayBytes(nslots, tid_bits) +
		(nslots + 7) / 8;
}

/* The most slots a data page holds with these widths */
int
AlexSlotsFit(int key_bits, int tid_bits)
{
	int			n = Min(ALEX_MAX_SLOTS_PER_PAGE,
						(int) ((int64) (ALEX_SLOT_AREA - 24) * 8 / (key_bits + tid_bits + 1)));

	while (n > 1 && SlotArrayBytes(n, key_bits, tid_bits) > ALEX_SLOT_AREA)
		n--;
	return n;
}

/*
 * A data page of nslots slots, all gaps.  key_bits is 1..57 or 64 (then
 * key_base is 0): the arrays are read with 8-byte loads (alex.h).
 */
void
AlexInitDataPage(Page page, int nslots, uint64 key_base, int key_bits, int tid_bits,
				 int off_bits)
{
	AlexPageOpaque opaque;
	int			len = SlotArrayBytes(nslots, key_bits, tid_bits);

	Assert((key_bits >= 1 && key_bits <= 57) || (key_bits == 64 && key_base == 0));
	Assert(tid_bits <= 57 && off_bits < tid_bits && len <= ALEX_SLOT_AREA);
	AlexInitPage(page, ALEX_PAGE_DATA, 0);
	opaque = AlexPageGetOpaque(page);
	opaque->nslots = nslots;
	opaque->key_base = key_base;
	opaque->key_bits = key_bits;
	opaque->tid_bits = tid_bits;
	opaque->off_bits = off_bits;
	/* the arrays are page contents, not a hole GenericXLog may skip */
	((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + len;
	memset(PageGetContents(page), 0, len);
	/* every slot a last gap: all ones */
	memset(PageGetContents(page), 0xFF, ((int64) nslots * key_bits + 7) / 8);
}

void
AlexPageSlots(Page page, AlexSlots *sl)
{
	AlexPageOpaque opaque = AlexPageGetOpaque(page);
	char	   *base = PageGetContents(page);

	sl->nslots = opaque->nslots;
	sl->key_base = opaque->key_base;
	sl->key_bits = opaque->key_bits;
	sl->tid_bits = opaque->tid_bits;
	sl->off_bits = opaque->off_bits;
	sl->key_mask = sl->key_bits >= 64 ? PG_UINT64_MAX : (UINT64CONST(1) << sl->key_bits) - 1;
	sl->tid_mask = (UINT64CONST(1) << sl->tid_bits) - 1;
	sl->keys = base;
	sl->tids = base + AlexBitArrayBytes(sl->nslots, sl->key_bits);
	sl->bitmap = (uint8 *) sl->tids + AlexBitArrayBytes(sl->nslots, sl->tid_bits);
}

/*
 * A page for a one-page node or the directory: a recycled one from the FSM
 * if any, else a new one.  Returned exclusively locked; the caller writes
 * it whole.
 */
Buffer
AlexNewBuffer(Relation index, ForkNumber forknum)
{
	Buffer		buf;

	if (forknum == MAIN_FORKNUM)
	{
		for (;;)
		{
			BlockNumber blkno = GetFreeIndexPage(index);

			if (blkno == InvalidBlockNumber)
				break;
			buf = ReadBuffer(index, blkno);
			if (ConditionalLockBuffer(buf))
			{
				Page		page = BufferGetPage(buf);

				if (PageIsNew(page) ||
					(AlexPageGetOpaque(page)->flags & ALEX_FLAG_FREE))
					return buf;
				LockBuffer(buf, BUFFER_LOCK_UNLOCK);
			}
			ReleaseBuffer(buf);
		}
	}

	return EngramExtendByOnePage(index, forknum);
}

/*
 * npages contiguous new pages at the end of the relation, for a data node.
 * Returns the first; the pages are zero (a crash before they are written
 * leaves new pages, which vacuum recycles).  Structural changes are
 * serialised by the meta page lock, the extension lock keeps out the
 * one-page allocations of nobody else, so the run is contiguous.
 */
Buffer
AlexNewExtent(Relation index, int npages, BlockNumber *first)
{
	Buffer		firstbuf = InvalidBuffer;
	bool		needLock = !RELATION_IS_LOCAL(index);

	if (npages == 1)
	{
		firstbuf = AlexNewBuffer(index, MAIN_FORKNUM);
		*first = BufferGetBlockNumber(firstbuf);
		return firstbuf;
	}

	if (needLock)
		LockRelationForExtension(index, ExclusiveLock);
	for (int i = 0; i < npages; i++)
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);

		if (i == 0)
		{
			firstbuf = buf;
			*first = BufferGetBlockNumber(buf);
		}
		else
		{
			if (BufferGetBlockNumber(buf) != *first + i)
				elog(ERROR, "engram_alex index \"%s\" was extended concurrently",
					 RelationGetRelationName(index));
			ReleaseBuffer(buf);
		}
	}
	if (needLock)
		UnlockRelationForExtension(index, ExclusiveLock);
	LockBuffer(firstbuf, BUFFER_LOCK_EXCLUSIVE);
	return firstbuf;
}

void
AlexInitMetaPage(Page page, Oid keytype)
{
	AlexMetaPageData *meta;

	AlexInitPage(page, ALEX_PAGE_META, 0);
	meta = AlexPageGetMeta(page);
	memset(meta, 0, sizeof(AlexMetaPageData));
	meta->magic = ALEX_MAGIC;
	meta->version = ALEX_VERSION;
	meta->keytype = keytype;
	meta->next_node_id = 1;
	/* a relfilenode can be reused: caches must not mistake a new index for an old one */
	meta->build_id = ((uint64) GetCurrentTimestamp() << 16) ^ (uint64) MyProcPid ^
		((uint64) random() << 32);
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(AlexMetaPageData)) - (char *) page;
}

void
AlexCheckMeta(Relation index, Page page)
{
	AlexMetaPageData *meta = AlexPageGetMeta(page);

	if (PageIsNew(page) || AlexPageGetOpaque(page)->kind != ALEX_PAGE_META ||
		meta->magic != ALEX_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an engram_alex index",
						RelationGetRelationName(index))));
	if (meta->version != ALEX_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("engram_alex index \"%s\" has version %u, expected %u",
						RelationGetRelationName(index), meta->version, ALEX_VERSION),
				 errhint("REINDEX the index.")));
}

/*
 * Re-derive what follows from the bitmap: gap fill keys (each gap holds the
 * key of the next occupied slot, so the keys array stays sorted), count,
 * smallest and largest key.  One pass over 570-odd slots; cheaper than
 * getting local updates right after every shift.
 */
void
AlexFillGaps(Page page)
{
	AlexPageOpaque opaque = AlexPageGetOpaque(page);
	AlexSlots	sl;
	uint64		fill;
	int			count = 0;
	bool		seen = false;

	AlexPageSlots(page, &sl);
	fill = sl.key_base + sl.key_mask;
	for (int i = sl.nslots - 1; i >= 0; i--)
	{
		if (AlexSlotUsed(sl.bitmap, i))
		{
			fill = AlexGetKey(&sl, i);
			if (!seen)
				opaque->maxkey = fill;
			seen = true;
			count++;
		}
		else
			AlexSetKey(&sl, i, fill);
	}
	opaque->count = count;
	opaque->minkey = count > 0 ? fill : 0;
	if (count == 0)
		opaque->maxkey = 0;
}

/*
 * First slot whose key is >= key (nslots if none): an exponential search
 * outwards from the predicted slot, then a binary search in the bracket
 * found.  The keys array is sorted, gaps included.
 */
int
AlexPageLowerBound(const AlexSlots *sl, uint64 key, int hint)
{
	int			n = sl->nslots;
	int			lo,
				hi;

	hint = Max(0, Min(hint, n - 1));
	if (AlexGetKey(sl, hint) >= key)
	{
		/* answer in [lo, hint] */
		int			step = 1;

		hi = hint;
		lo = hint - step;
		while (lo > 0 && AlexGetKey(sl, lo) >= key)
		{
			hi = lo;
			step <<= 1;
			lo = hint - step;
		}
		lo = Max(lo, 0);
	}
	else
	{
		/* answer in (hint, hi] */
		int			step = 1;

		lo = hint + 1;
		hi = hint + step;
		while (hi < n && AlexGetKey(sl, hi) < key)
		{
			lo = hi + 1;
			step <<= 1;
			hi = hint + step;
		}
		hi = Min(hi, n);
	}
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (AlexGetKey(sl, mid) >= key)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Mark the pages of a replaced node (or directory) dead.  Scans that
 * started before the replacement may still read them, so they are
 * recycled only once no snapshot can be that old (see README).
 */
void
AlexMarkDead(Relation index, BlockNumber first, int npages)
{
	FullTransactionId fxid = ReadNextFullTransactionId();

	for (int i = 0; i < npages; i++)
	{
		Buffer		buf = ReadBuffer(index, first + i);
		GenericXLogState *state;
		Page		page;
		AlexPageOpaque opaque;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		if (PageIsNew(page))
			AlexInitPage(page, ALEX_PAGE_DATA, 0);
		opaque = AlexPageGetOpaque(page);
		opaque->flags |= ALEX_FLAG_DEAD;
		opaque->dead_xid = XidFromFullTransactionId(fxid);
		opaque->dead_epoch = EpochFromFullTransactionId(fxid);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
}
