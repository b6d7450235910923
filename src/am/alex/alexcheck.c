/*-------------------------------------------------------------------------
 *
 * alexcheck.c
 *	  engram_alex: engram.alex_check() and engram.alex_stats().
 *
 * Both hold the meta page exclusively, so the index does not change while
 * they read it (inserts and vacuum wait; scans go on).
 *
 * src/am/alex/alexcheck.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "am/alex/alex.h"

static Relation
OpenAlexIndex(Oid relid)
{
	Relation	index = index_open(relid, AccessShareLock);

	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_indam == NULL || index->rd_indam->ambuild != engram_alex_build)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an engram_alex index", RelationGetRelationName(index))));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot access temporary indexes of other sessions")));
	return index;
}

typedef struct CheckState
{
	Relation	index;
	Tuplestorestate *out;
	TupleDesc	desc;
	int			nproblems;
} CheckState;

static void
Problem(CheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
Problem(CheckState *cs, const char *fmt,...)
{
	StringInfoData buf;
	va_list		args;
	Datum		value;
	bool		isnull = false;

	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	value = CStringGetTextDatum(buf.data);
	tuplestore_putvalues(cs->out, cs->desc, &value, &isnull);
	cs->nproblems++;
}

static inline bool
PosLess(bool isnull_a, uint64 ka, ItemPointer ta, bool isnull_b, uint64 kb, ItemPointer tb)
{
	AlexPos		a = {isnull_a, ka, *ta};
	AlexPos		b = {isnull_b, kb, *tb};

	return AlexPosCmp(&a, &b) < 0;
}

/* One data page: bitmap, order, gap fill, summary, fences */
static void
CheckPage(CheckState *cs, const AlexDir *dir, int n, uint32 p, Page page,
		  uint64 *prevmax, bool *seen, AlexSlots *widths, bool *widths_seen)
{
	const AlexDirEntry *node = &dir->nodes[n];
	bool		isnull = (node->flags & ALEX_NODE_NULLS) != 0;
	BlockNumber blkno = node->first_block + p;
	AlexPageOpaque opaque = AlexPageGetOpaque(page);
	AlexSlots	sl;
	uint64		fill;
	int			count = 0;

	if (opaque->kind != ALEX_PAGE_DATA || opaque->node_id != node->node_id ||
		opaque->page_no != p || opaque->page_id != ALEX_PAGE_ID)
	{
		Problem(cs, "block %u: expected page %u of node " UINT64_FORMAT ", found kind %d node " UINT64_FORMAT " page %u",
				blkno, p, node->node_id, opaque->kind, opaque->node_id, opaque->page_no);
		return;
	}
	if (opaque->flags & (ALEX_FLAG_DEAD | ALEX_FLAG_FREE))
		Problem(cs, "block %u: page of live node " UINT64_FORMAT " is marked dead or free",
				blkno, node->node_id);

	/* the encoding (README, "Data pages"): the node's widths, and they fit */
	if (opaque->nslots != node->nslots || opaque->nslots < 1 ||
		opaque->nslots > ALEX_MAX_SLOTS_PER_PAGE ||
		!((opaque->key_bits >= 1 && opaque->key_bits <= 57) ||
		  (opaque->key_bits == 64 && opaque->key_base == 0)) ||
		opaque->tid_bits > 57 || opaque->off_bits < ALEX_MIN_OFF_BITS ||
		opaque->off_bits >= opaque->tid_bits || opaque->off_bits > 16 ||
		AlexSlotsFit(opaque->key_bits, opaque->tid_bits) < opaque->nslots)
	{
		Problem(cs, "block %u: invalid encoding: %d slots (node: %d), %d-bit keys from " UINT64_FORMAT ", %d-bit TIDs with %d-bit offsets",
				blkno, opaque->nslots, node->nslots, opaque->key_bits, opaque->key_base,
				opaque->tid_bits, opaque->off_bits);
		return;
	}
	AlexPageSlots(page, &sl);
	if (((PageHeader) page)->pd_lower != (char *) sl.bitmap + (sl.nslots + 7) / 8 - (char *) page)
		Problem(cs, "block %u: pd_lower is %u, the slot arrays end at %d", blkno,
				((PageHeader) page)->pd_lower,
				(int) ((char *) sl.bitmap + (sl.nslots + 7) / 8 - (char *) page));
	if (*widths_seen &&
		(opaque->key_bits != widths->key_bits || opaque->tid_bits != widths->tid_bits ||
		 opaque->off_bits != widths->off_bits))
		Problem(cs, "block %u: widths differ from those of the node's first page", blkno);
	widths->key_bits = opaque->key_bits;
	widths->tid_bits = opaque->tid_bits;
	widths->off_bits = opaque->off_bits;
	*widths_seen = true;

	fill = sl.key_base + sl.key_mask;
	for (int s = sl.nslots - 1; s >= 0; s--)
	{
		uint64		key = AlexGetKey(&sl, s);

		if (AlexSlotUsed(sl.bitmap, s))
		{
			ItemPointerData tid;

			if (key > fill)
				Problem(cs, "block %u slot %d: key out of order", blkno, s);
			fill = key;
			count++;
			if (isnull && key != 0)
				Problem(cs, "block %u slot %d: NULL entry with key " UINT64_FORMAT, blkno, s, key);
			AlexGetTid(&sl, s, &tid);
			if (!ItemPointerIsValid(&tid))
				Problem(cs, "block %u slot %d: invalid heap TID", blkno, s);
		}
		else if (key != fill)
			Problem(cs, "block %u slot %d: gap holds " UINT64_FORMAT ", expected " UINT64_FORMAT,
					blkno, s, key, fill);
	}
	if (count != opaque->count)
		Problem(cs, "block %u: bitmap has %d entries, page header says %d", blkno, count,
				opaque->count);
	if (count == 0)
		return;
	if (opaque->minkey != fill)
		Problem(cs, "block %u: smallest key is " UINT64_FORMAT ", page header says " UINT64_FORMAT,
				blkno, fill, opaque->minkey);
	if (*seen && fill < *prevmax)
		Problem(cs, "block %u: keys below those of the page before it in node " UINT64_FORMAT,
				blkno, node->node_id);
	*seen = true;

	for (int s = 0; s < sl.nslots; s++)
	{
		ItemPointerData lo_tid = node->lo_tid;
		AlexPos		pos;
		uint64		key;
		ItemPointerData tid;

		if (!AlexSlotUsed(sl.bitmap, s))
			continue;
		key = AlexGetKey(&sl, s);
		AlexGetTid(&sl, s, &tid);
		*prevmax = key;
		/* within the node's fences, and found by the directory there */
		if (PosLess(isnull, key, &tid, isnull, node->lo_key, &lo_tid) ||
			(n + 1 < dir->nnodes &&
			 !PosLess(isnull, key, &tid,
					  (dir->nodes[n + 1].flags & ALEX_NODE_NULLS) != 0,
					  dir->nodes[n + 1].lo_key,
					  (ItemPointer) &dir->nodes[n + 1].lo_tid)))
			Problem(cs, "block %u slot %d: entry outside the fences of node " UINT64_FORMAT,
					blkno, s, node->node_id);
		pos.isnull = isnull;
		pos.key = key;
		pos.tid = tid;
		if (AlexDirLocate(dir, &pos) != n)
			Problem(cs, "block %u slot %d: the root model and directory lead to node %d, not %d",
					blkno, s, AlexDirLocate(dir, &pos), n);
	}
	if (opaque->maxkey != *prevmax)
		Problem(cs, "block %u: largest key is " UINT64_FORMAT ", page header says " UINT64_FORMAT,
				blkno, *prevmax, opaque->maxkey);
}

static void
CheckIndex(CheckState *cs)
{
	Relation	index = cs->index;
	Buffer		metabuf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	AlexDir    *dir;
	int			first_null = -1;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	dir = AlexDirGetLocked(index, BufferGetPage(metabuf));

	for (int n = 0; n < dir->nnodes; n++)
	{
		const AlexDirEntry *node = &dir->nodes[n];
		bool		isnull = (node->flags & ALEX_NODE_NULLS) != 0;
		uint64		prevmax = 0;
		bool		seen = false;
		AlexSlots	widths = {0};
		bool		widths_seen = false;

		CHECK_FOR_INTERRUPTS();
		if (isnull && first_null < 0)
			first_null = n;
		if (!isnull && first_null >= 0)
			Problem(cs, "node %d holds keys but follows the NULL nodes", n);
		if (n > 0 && !PosLess((dir->nodes[n - 1].flags & ALEX_NODE_NULLS) != 0,
							  dir->nodes[n - 1].lo_key,
							  (ItemPointer) &dir->nodes[n - 1].lo_tid, isnull,
							  node->lo_key, (ItemPointer) &node->lo_tid))
			Problem(cs, "node %d: fence not above the fence of node %d", n, n - 1);
		if (node->npages == 0 || node->first_block == ALEX_METAPAGE_BLKNO ||
			node->first_block + node->npages > nblocks)
		{
			Problem(cs, "node %d: pages %u..%u outside the index (%u blocks)", n,
					node->first_block, node->first_block + node->npages - 1, nblocks);
			continue;
		}
		for (uint32 p = 0; p < node->npages; p++)
		{
			Buffer		buf = ReadBuffer(index, node->first_block + p);

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			CheckPage(cs, dir, n, p, BufferGetPage(buf), &prevmax, &seen, &widths,
					  &widths_seen);
			UnlockReleaseBuffer(buf);
		}
	}
	if (first_null < 0)
		Problem(cs, "the directory has no NULL node");
	else if (first_null == 0)
		Problem(cs, "the directory has no node for keys");

	UnlockReleaseBuffer(metabuf);
}

PG_FUNCTION_INFO_V1(engram_alex_check);
Datum
engram_alex_check(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CheckState	cs;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cs.index = OpenAlexIndex(PG_GETARG_OID(0));
	cs.out = rsinfo->setResult;
	cs.desc = rsinfo->setDesc;
	cs.nproblems = 0;
	CheckIndex(&cs);
	index_close(cs.index, AccessShareLock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(engram_alex_stats);
Datum
engram_alex_stats(PG_FUNCTION_ARGS)
{
	Relation	index = OpenAlexIndex(PG_GETARG_OID(0));
	TupleDesc	desc;
	Buffer		metabuf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	AlexDir    *dir;
	int			data_nodes = 0,
				null_nodes = 0;
	int64		keys = 0,
				null_keys = 0,
				slots = 0,
				max_dist = 0;
	double		sum_dist = 0;
	BlockNumber nblocks;
	uint32		dir_pages;
	Datum		values[13];
	bool		nulls[13] = {false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	dir = AlexDirGetLocked(index, BufferGetPage(metabuf));
	dir_pages = AlexPageGetMeta(BufferGetPage(metabuf))->dir_npages;
	nblocks = RelationGetNumberOfBlocks(index);

	for (int n = 0; n < dir->nnodes; n++)
	{
		const AlexDirEntry *node = &dir->nodes[n];
		bool		isnull = (node->flags & ALEX_NODE_NULLS) != 0;
		int64		nslots = (int64) node->npages * node->nslots;

		if (isnull)
			null_nodes++;
		else
			data_nodes++;
		slots += nslots;
		for (uint32 p = 0; p < node->npages; p++)
		{
			Buffer		buf = ReadBuffer(index, node->first_block + p);
			Page		page;
			AlexSlots	sl;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			AlexPageSlots(page, &sl);
			/* alex_check reports a page that is not the node's */
			if (AlexPageGetOpaque(page)->node_id != node->node_id ||
				sl.nslots != node->nslots)
				sl.nslots = 0;
			for (int s = 0; s < sl.nslots; s++)
			{
				double		pred;
				int64		predslot,
							dist;

				if (!AlexSlotUsed(sl.bitmap, s))
					continue;
				if (isnull)
				{
					null_keys++;
					continue;
				}
				keys++;
				pred = AlexNodePredict(node, AlexGetKey(&sl, s));
				predslot = pred < 0 ? 0 : pred >= nslots ? nslots - 1 : (int64) pred;
				dist = llabs((int64) p * node->nslots + s - predslot);
				sum_dist += dist;
				max_dist = Max(max_dist, dist);
			}
			UnlockReleaseBuffer(buf);
		}
		CHECK_FOR_INTERRUPTS();
	}
	UnlockReleaseBuffer(metabuf);

	values[0] = Int32GetDatum(2);	/* the root model, then the data nodes */
	values[1] = Int32GetDatum(1);
	values[2] = Int32GetDatum(data_nodes);
	values[3] = Int32GetDatum(null_nodes);
	values[4] = Int64GetDatum(keys);
	values[5] = Int64GetDatum(null_keys);
	values[6] = Int64GetDatum(slots);
	values[7] = Float8GetDatum(slots > 0 ? (double) (keys + null_keys) / slots : 0);
	values[8] = Float8GetDatum(keys > 0 ? sum_dist / keys : 0);
	values[9] = Int64GetDatum(max_dist);
	values[10] = Int64GetDatum(nblocks);
	values[11] = Int32GetDatum(dir_pages);
	if (keys + null_keys > 0)
		values[12] = Float8GetDatum((double) nblocks * BLCKSZ / (keys + null_keys));
	else
		nulls[12] = true;

	index_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
