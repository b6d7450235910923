/*-------------------------------------------------------------------------
 *
 * alexwal.c
 *	  engram_alex: logging a page change whose byte ranges are known.
 *
 * GenericXLog finds what changed by copying the page and comparing the two
 * images byte by byte: about 8 KB of work for every insert into a data
 * page, the largest item of an insert's profile.  An insert knows which
 * slots it touched, so it writes the same generic WAL record (resource
 * manager RM_GENERIC_ID, replayed by PostgreSQL's generic_redo) from those
 * ranges directly.  The record's block data is generic_xlog.c's delta
 * format: fragments of (offset, length, bytes), applied in order at replay,
 * after which the hole between pd_lower and pd_upper is zeroed (a data
 * page's hole is always zero).  Structural changes and VACUUM keep using
 * GenericXLog: they are rare, or rewrite most of a page anyway.
 *
 * src/am/alex/alexwal.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/rmgr.h"
#include "access/xloginsert.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

#include "am/alex/alex.h"

StaticAssertDecl(BLCKSZ <= PG_UINT16_MAX, "delta offsets are 16 bits");

/* Note that bytes [start, start + len) of the page changed */
void
AlexDeltaAdd(AlexDelta *d, Page page, const void *start, int len)
{
	int			off = (const char *) start - (const char *) page;

	Assert(off >= 0 && len > 0 && off + len <= BLCKSZ);
	if (d->nranges >= ALEX_DELTA_MAX_RANGES)
		elog(ERROR, "engram_alex: too many ranges in a page delta");
	d->ranges[d->nranges][0] = (uint16) off;
	d->ranges[d->nranges][1] = (uint16) len;
	d->nranges++;
}

/*
 * The page of buf was changed in the ranges of d, inside the caller's
 * critical section: mark it dirty and log the ranges as they are now.
 */
void
AlexLogDelta(Relation index, Buffer buf, AlexDelta *d)
{
	Page		page = BufferGetPage(buf);

	Assert(CritSectionCount > 0);
	MarkBufferDirty(buf);
	if (RelationNeedsWAL(index))
	{
		XLogRecPtr	lsn;

		XLogBeginInsert();
		XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
		for (int i = 0; i < d->nranges; i++)
		{
			/* fragment header: offset and length (OffsetNumber each) */
			XLogRegisterBufData(0, (char *) d->ranges[i], 2 * sizeof(uint16));
			XLogRegisterBufData(0, (char *) page + d->ranges[i][0], d->ranges[i][1]);
		}
		lsn = XLogInsert(RM_GENERIC_ID, 0);
		PageSetLSN(page, lsn);
	}
}
