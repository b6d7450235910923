/*-------------------------------------------------------------------------
 *
 * alexbuild.c
 *	  engram_alex: bulk load from sorted input.
 *
 * The heap's keys are sorted, in memory as an array of (key, tid) pairs
 * while that fits in maintenance_work_mem, else with tuplesort (which
 * spills to disk), then cut into data nodes in one pass: each node
 * takes as many of the next entries as the cost model accepts (alexnode.c),
 * its pages are filled by model-based placement and written through the
 * buffer manager without WAL; the directory and the meta page follow, and
 * the whole relation is WAL-logged at the end, as other bulk builds do.
 *
 * src/am/alex/alexbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/tupdesc.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "commands/progress.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/tuplesort.h"

#include "am/alex/alex.h"

#define SIGN_BIT	(UINT64CONST(1) << 63)

/* A (key, tid) pair sorted in memory while they fit maintenance_work_mem */
typedef struct SortEntry
{
	uint64		key;
	uint64		tid;			/* PackTid() */
} SortEntry;

#define ST_SORT sort_entries
#define ST_ELEMENT_TYPE SortEntry
#define ST_COMPARE(a, b) ((a)->key < (b)->key ? -1 : (a)->key > (b)->key ? 1 : \
						  (a)->tid < (b)->tid ? -1 : (a)->tid > (b)->tid ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

typedef struct AlexBuildState
{
	Relation	index;
	const AlexKeyType *kt;
	SortEntry  *entries;		/* non-NULL keys, while they fit in memory */
	int64		nentries;
	int64		maxentries;
	Tuplesortstate *keysort;	/* non-NULL keys once they no longer fit */
	int			keysort_mem;
	Tuplesortstate *nullsort;	/* tids of NULL keys */
	TupleTableSlot *putslot;	/* virtual, to feed keysort */
	TupleTableSlot *slot;		/* minimal, to read it back */
	double		indtuples;
	int64		nnulls;
} AlexBuildState;

typedef struct NodeWriter
{
	Relation	index;
	ForkNumber	forknum;
	AlexDirEntry *nodes;
	int			nnodes;
	int			cap;
	uint64		next_node_id;
	/* entries waiting to be cut into nodes */
	uint64	   *keys;
	ItemPointerData *tids;
	int64		start;			/* first waiting entry */
	int64		n;				/* end of the waiting entries */
	int64		bufcap;
	bool		isnull;
	bool		first_of_kind;
	int64		last_len;		/* entries the previous node took */
	BlockNumber heap_blocks;	/* for the TID width */
	int			tid_bits;
} NodeWriter;

static inline int64
PackTid(ItemPointer tid)
{
	return ((int64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline void
UnpackTid(int64 v, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (v >> 16), (OffsetNumber) (v & 0xFFFF));
}

/* Sorting in memory no longer fits: move to an external tuplesort */
static void
SpillToTuplesort(AlexBuildState *bs)
{
	TupleDesc	desc = bs->putslot->tts_tupleDescriptor;
	AttrNumber	attnums[2] = {1, 2};
	Oid			ops[2] = {Int8LessOperator, Int8LessOperator};
	Oid			colls[2] = {InvalidOid, InvalidOid};
	bool		nullsfirst[2] = {false, false};

	bs->keysort = tuplesort_begin_heap(desc, 2, attnums, ops, colls, nullsfirst,
									   bs->keysort_mem, NULL, TUPLESORT_NONE);
	for (int64 i = 0; i < bs->nentries; i++)
	{
		TupleTableSlot *slot = bs->putslot;

		ExecClearTuple(slot);
		slot->tts_values[0] = Int64GetDatum((int64) (bs->entries[i].key ^ SIGN_BIT));
		slot->tts_values[1] = Int64GetDatum((int64) bs->entries[i].tid);
		slot->tts_isnull[0] = slot->tts_isnull[1] = false;
		ExecStoreVirtualTuple(slot);
		tuplesort_puttupleslot(bs->keysort, slot);
	}
	pfree(bs->entries);
	bs->entries = NULL;
	bs->nentries = 0;
}

static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	AlexBuildState *bs = (AlexBuildState *) state;

	if (isnull[0])
	{
		tuplesort_putdatum(bs->nullsort, Int64GetDatum(PackTid(tid)), false);
		bs->nnulls++;
	}
	else if (bs->keysort == NULL)
	{
		if (bs->nentries == bs->maxentries)
		{
			/* double the array while twice its size fits the memory budget */
			if ((Size) bs->maxentries * 2 * sizeof(SortEntry) > (Size) bs->keysort_mem * 1024)
				SpillToTuplesort(bs);
			else
			{
				bs->maxentries *= 2;
				bs->entries = repalloc_huge(bs->entries, sizeof(SortEntry) * bs->maxentries);
			}
		}
		if (bs->keysort == NULL)
		{
			bs->entries[bs->nentries].key = bs->kt->encode(values[0]);
			bs->entries[bs->nentries].tid = (uint64) PackTid(tid);
			bs->nentries++;
		}
	}
	if (bs->keysort != NULL && !isnull[0])
	{
		TupleTableSlot *slot = bs->putslot;

		ExecClearTuple(slot);
		slot->tts_values[0] = Int64GetDatum((int64) (bs->kt->encode(values[0]) ^ SIGN_BIT));
		slot->tts_values[1] = Int64GetDatum(PackTid(tid));
		slot->tts_isnull[0] = slot->tts_isnull[1] = false;
		ExecStoreVirtualTuple(slot);
		tuplesort_puttupleslot(bs->keysort, slot);
	}
	bs->indtuples += 1;
	if ((int64) bs->indtuples % 10000 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
}

/* The lowest key the next node may hold: its fence */
static uint64
NodeLo(NodeWriter *w)
{
	return w->first_of_kind || w->n == w->start ? 0 : w->keys[w->start];
}

/* The highest key a node of the next len entries may hold: the next fence */
static uint64
NodeHi(NodeWriter *w, int64 len)
{
	if (w->isnull)
		return 0;
	return w->start + len < w->n ? w->keys[w->start + len] : PG_UINT64_MAX;
}

static int64
PlanNode(NodeWriter *w)
{
	return AlexPlanNode(w->keys + w->start, w->n - w->start, w->last_len, NodeLo(w),
						NodeHi(w, w->n - w->start), w->tid_bits);
}

/* Cut the first node off the waiting entries and write it */
static void
EmitNode(NodeWriter *w, int64 len)
{
	AlexNodeInput in;
	AlexDirEntry *e;

	if (w->nnodes == w->cap)
	{
		w->cap *= 2;
		w->nodes = repalloc_huge(w->nodes, sizeof(AlexDirEntry) * w->cap);
	}
	e = &w->nodes[w->nnodes++];
	memset(e, 0, sizeof(AlexDirEntry));
	in.keys = w->keys + w->start;
	in.tids = w->tids + w->start;
	in.n = len;
	in.isnull = w->isnull;
	in.append_room = false;
	in.lo_key = NodeLo(w);
	in.hi_key = NodeHi(w, len);
	in.heap_blocks = w->heap_blocks;
	in.tid_bits = in.off_bits = 0;
	AlexWriteNode(w->index, &in, e, w->next_node_id++, true, w->forknum);

	/* fences: the first node of each kind starts at the kind's minimum */
	e->lo_key = in.lo_key;
	if (w->first_of_kind || len == 0)
		ItemPointerSet(&e->lo_tid, 0, 0);
	else
		e->lo_tid = w->tids[w->start];
	w->first_of_kind = false;
	w->last_len = len;

	w->start += len;
}

static void
AddEntry(NodeWriter *w, uint64 key, ItemPointer tid)
{
	if (w->n == w->bufcap)
	{
		/* keep at least one full node waiting so the cut sees enough */
		while (w->n - w->start >= w->bufcap / 2)
			EmitNode(w, PlanNode(w));
		/* move what waits to the front, once per refill */
		memmove(w->keys, w->keys + w->start, sizeof(uint64) * (w->n - w->start));
		memmove(w->tids, w->tids + w->start, sizeof(ItemPointerData) * (w->n - w->start));
		w->n -= w->start;
		w->start = 0;
		CHECK_FOR_INTERRUPTS();
	}
	w->keys[w->n] = key;
	w->tids[w->n] = *tid;
	w->n++;
}

/* Write what is waiting; every kind gets at least one (maybe empty) node */
static void
FlushNodes(NodeWriter *w)
{
	if (w->n == w->start && w->first_of_kind)
		EmitNode(w, 0);
	while (w->n > w->start)
		EmitNode(w, PlanNode(w));
}

static void
StartKind(NodeWriter *w, bool isnull)
{
	w->isnull = isnull;
	w->first_of_kind = true;
	w->n = w->start = 0;
}

/*
 * Write the index from the sorted inputs (either may be NULL: an empty
 * index) into forknum: meta page, data nodes, directory.
 */
static void
WriteIndex(Relation index, ForkNumber forknum, AlexBuildState *bs, BlockNumber heap_blocks)
{
	NodeWriter	w;
	Buffer		metabuf;
	int			off_bits;

	metabuf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
	Assert(BufferGetBlockNumber(metabuf) == ALEX_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	AlexInitMetaPage(BufferGetPage(metabuf), TupleDescAttr(RelationGetDescr(index), 0)->atttypid);
	MarkBufferDirty(metabuf);

	memset(&w, 0, sizeof(w));
	w.index = index;
	w.forknum = forknum;
	w.cap = 64;
	w.nodes = palloc(sizeof(AlexDirEntry) * w.cap);
	w.next_node_id = 1;
	w.bufcap = 4 * 32 * ALEX_MAX_SLOTS_PER_PAGE;
	w.heap_blocks = heap_blocks;
	AlexTidWidth(NULL, 0, heap_blocks, &w.tid_bits, &off_bits);
	w.keys = palloc(sizeof(uint64) * w.bufcap);
	w.tids = palloc(sizeof(ItemPointerData) * w.bufcap);

	StartKind(&w, false);
	if (bs && bs->entries)
	{
		sort_entries(bs->entries, bs->nentries);
		for (int64 i = 0; i < bs->nentries; i++)
		{
			ItemPointerData tid;

			UnpackTid((int64) bs->entries[i].tid, &tid);
			AddEntry(&w, bs->entries[i].key, &tid);
		}
	}
	else if (bs && bs->keysort)
	{
		tuplesort_performsort(bs->keysort);
		while (tuplesort_gettupleslot(bs->keysort, true, false, bs->slot, NULL))
		{
			bool		isnull;
			uint64		key = (uint64) DatumGetInt64(slot_getattr(bs->slot, 1, &isnull)) ^ SIGN_BIT;
			ItemPointerData tid;

			UnpackTid(DatumGetInt64(slot_getattr(bs->slot, 2, &isnull)), &tid);
			AddEntry(&w, key, &tid);
		}
	}
	FlushNodes(&w);

	StartKind(&w, true);
	if (bs && bs->nullsort)
	{
		Datum		v;
		bool		isnull;

		tuplesort_performsort(bs->nullsort);
		while (tuplesort_getdatum(bs->nullsort, true, &v, &isnull, NULL))
		{
			ItemPointerData tid;

			UnpackTid(DatumGetInt64(v), &tid);
			AddEntry(&w, 0, &tid);
		}
	}
	FlushNodes(&w);

	AlexDirWrite(index, metabuf, w.nodes, w.nnodes, w.next_node_id, true, forknum);
	UnlockReleaseBuffer(metabuf);

	if (RelationNeedsWAL(index) || forknum == INIT_FORKNUM)
		log_newpage_range(index, forknum, 0,
						  RelationGetNumberOfBlocksInFork(index, forknum), true);

	pfree(w.nodes);
	pfree(w.keys);
	pfree(w.tids);
}

/*
 * ambuild
 */
IndexBuildResult *
engram_alex_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	AlexBuildState bs;
	TupleDesc	desc;
	double		reltuples;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	if (indexInfo->ii_NumIndexAttrs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("engram_alex indexes one column")));

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.kt = AlexGetKeyType(TupleDescAttr(RelationGetDescr(index), 0)->atttypid);

	desc = CreateTemplateTupleDesc(2);
	TupleDescInitEntry(desc, 1, "key", INT8OID, -1, 0);
	TupleDescInitEntry(desc, 2, "tid", INT8OID, -1, 0);
	bs.putslot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	bs.slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	bs.keysort_mem = maintenance_work_mem;
	bs.maxentries = 1024;
	bs.entries = palloc(sizeof(SortEntry) * bs.maxentries);
	bs.nullsort = tuplesort_begin_datum(INT8OID, Int8LessOperator, InvalidOid, false,
										Max(maintenance_work_mem / 8, 1024), NULL,
										TUPLESORT_NONE);

	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, &bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs.indtuples);

	WriteIndex(index, MAIN_FORKNUM, &bs, RelationGetNumberOfBlocks(heap));

	if (bs.keysort)
		tuplesort_end(bs.keysort);
	if (bs.entries)
		pfree(bs.entries);
	tuplesort_end(bs.nullsort);
	ExecDropSingleTupleTableSlot(bs.slot);
	ExecDropSingleTupleTableSlot(bs.putslot);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * ambuildempty: the init fork of an unlogged index
 */
void
engram_alex_buildempty(Relation index)
{
	WriteIndex(index, INIT_FORKNUM, NULL, 0);
}
