/*-------------------------------------------------------------------------
 *
 * alexbuild.c
 *	  engram_alex: bulk load from sorted input.
 *
 * The heap's keys are sorted with tuplesort (spilling to disk beyond
 * maintenance_work_mem), then cut into data nodes in one pass: each node
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

typedef struct AlexBuildState
{
	Relation	index;
	const AlexKeyType *kt;
	Tuplesortstate *keysort;	/* (key, tid) of non-NULL keys */
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
	else
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
	AlexWriteNode(w->index, &in, e, w->next_node_id++, true, w->forknum);

	/* fences: the first node of each kind starts at the kind's minimum */
	if (w->first_of_kind || len == 0)
	{
		e->lo_key = 0;
		ItemPointerSet(&e->lo_tid, 0, 0);
	}
	else
	{
		e->lo_key = w->keys[w->start];
		e->lo_tid = w->tids[w->start];
	}
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
			EmitNode(w, AlexPlanNode(w->keys + w->start, w->n - w->start, w->last_len));
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
		EmitNode(w, AlexPlanNode(w->keys + w->start, w->n - w->start, w->last_len));
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
WriteIndex(Relation index, ForkNumber forknum, AlexBuildState *bs)
{
	NodeWriter	w;
	Buffer		metabuf;

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
	w.bufcap = 4 * 32 * ALEX_SLOTS_PER_PAGE;
	w.keys = palloc(sizeof(uint64) * w.bufcap);
	w.tids = palloc(sizeof(ItemPointerData) * w.bufcap);

	StartKind(&w, false);
	if (bs && bs->keysort)
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
	AttrNumber	attnums[2] = {1, 2};
	Oid			ops[2] = {Int8LessOperator, Int8LessOperator};
	Oid			colls[2] = {InvalidOid, InvalidOid};
	bool		nullsfirst[2] = {false, false};
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
	bs.keysort = tuplesort_begin_heap(desc, 2, attnums, ops, colls, nullsfirst,
									  maintenance_work_mem, NULL, TUPLESORT_NONE);
	bs.nullsort = tuplesort_begin_datum(INT8OID, Int8LessOperator, InvalidOid, false,
										Max(maintenance_work_mem / 8, 1024), NULL,
										TUPLESORT_NONE);

	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, &bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs.indtuples);

	WriteIndex(index, MAIN_FORKNUM, &bs);

	tuplesort_end(bs.keysort);
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
	WriteIndex(index, INIT_FORKNUM, NULL);
}
