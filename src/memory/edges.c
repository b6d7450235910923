/*-------------------------------------------------------------------------
 *
 * edges.c
 *	  Reading the out-edges of a set of memories, for spreading activation.
 *
 * A spread hop needs every edge out of its frontier: hundreds of sources
 * and thousands of edges at the third hop of a dense graph.  Through SPI
 * each edge would pass the executor and be copied into a result table;
 * here the primary key of engram.associations, (tbl, src, dst) INCLUDE
 * (weight), is scanned directly with "tbl = relid AND src = ANY(frontier)"
 * (btree handles the array key itself, one descent per source).  As in an
 * index-only scan, the values come from the index tuple; the heap is
 * visited only for pages the visibility map does not show all-visible.
 *
 * src/memory/edges.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "memory/memory.h"

/* columns of engram.associations and of its primary key */
#define EDGE_TBL 1
#define EDGE_SRC 2
#define EDGE_DST 3
#define EDGE_WEIGHT 4

struct EdgeReader
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Buffer		vmbuffer;
	Snapshot	snapshot;
	Oid			relid;
};

/*
 * Open engram.associations and its primary key for reading the edges of
 * the memory table relid under snapshot: with EngramEdgeReaderScanAll when
 * all, else with EngramEdgeReaderScan
 */
EdgeReader *
EngramEdgeReaderOpen(Oid relid, Snapshot snapshot, bool all)
{
	EdgeReader *r = palloc0(sizeof(EdgeReader));
	Oid			nsp = get_namespace_oid("engram", false);
	Oid			heapid = get_relname_relid("associations", nsp);
	Oid			indexid = get_relname_relid("associations_pkey", nsp);

	if (!OidIsValid(heapid) || !OidIsValid(indexid))
		elog(ERROR, "engram.associations or its primary key is missing");
	r->heap = table_open(heapid, AccessShareLock);
	r->index = index_open(indexid, AccessShareLock);
	r->snapshot = snapshot;
	r->scan = index_beginscan(r->heap, r->index, r->snapshot, all ? 1 : 2, 0);
	r->scan->xs_want_itup = true;
	r->slot = table_slot_create(r->heap, NULL);
	r->vmbuffer = InvalidBuffer;
	r->relid = relid;
	return r;
}

/*
 * Read the visible edges the scan keys select, in (src, dst) order, until
 * fn or until_fn returns false
 */
static void
ReadEdges(EdgeReader *r, ScanKey keys, int nkeys, EdgeCallback fn,
		  EdgeUntilCallback until_fn, void *arg)
{
	ItemPointer tid;

	index_rescan(r->scan, keys, nkeys, NULL, 0);
	while ((tid = index_getnext_tid(r->scan, ForwardScanDirection)) != NULL)
	{
		IndexTuple	itup;
		TupleDesc	desc;
		bool		isnull;
		int64		src;
		int64		dst;
		float4		weight;

		CHECK_FOR_INTERRUPTS();
		if (!VM_ALL_VISIBLE(r->heap, ItemPointerGetBlockNumber(tid), &r->vmbuffer))
		{
			/* the version this index entry points to must be visible */
			if (!index_fetch_heap(r->scan, r->slot))
				continue;
			ExecClearTuple(r->slot);
		}
		else
			PredicateLockPage(r->heap, ItemPointerGetBlockNumber(tid), r->snapshot);

		/* weight is an INCLUDE column: each version has its own entry */
		itup = r->scan->xs_itup;
		desc = r->scan->xs_itupdesc;
		src = DatumGetInt64(index_getattr(itup, EDGE_SRC, desc, &isnull));
		dst = DatumGetInt64(index_getattr(itup, EDGE_DST, desc, &isnull));
		weight = DatumGetFloat4(index_getattr(itup, EDGE_WEIGHT, desc, &isnull));
		if (until_fn != NULL)
		{
			if (!until_fn(arg, src, dst, weight))
				break;
		}
		else
			fn(arg, src, dst, weight);
	}
}

/*
 * Call fn(arg, src, dst, weight) for every visible edge out of the ids
 */
void
EngramEdgeReaderScan(EdgeReader *r, ArrayType *ids, EdgeCallback fn, void *arg)
{
	ScanKeyData keys[2];

	ScanKeyInit(&keys[0], EDGE_TBL, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(r->relid));
	ScanKeyInit(&keys[1], EDGE_SRC, BTEqualStrategyNumber, F_INT8EQ,
				PointerGetDatum(ids));
	keys[1].sk_flags |= SK_SEARCHARRAY;
	ReadEdges(r, keys, 2, fn, NULL, arg);
}

/*
 * Call fn(arg, src, dst, weight) for every visible edge of the table, in
 * (src, dst) order, until it returns false
 */
void
EngramEdgeReaderScanAll(EdgeReader *r, EdgeUntilCallback fn, void *arg)
{
	ScanKeyData key;

	ScanKeyInit(&key, EDGE_TBL, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(r->relid));
	ReadEdges(r, &key, 1, NULL, fn, arg);
}

void
EngramEdgeReaderClose(EdgeReader *r)
{
	if (BufferIsValid(r->vmbuffer))
		ReleaseBuffer(r->vmbuffer);
	ExecDropSingleTupleTableSlot(r->slot);
	index_endscan(r->scan);
	index_close(r->index, AccessShareLock);
	table_close(r->heap, AccessShareLock);
	pfree(r);
}
