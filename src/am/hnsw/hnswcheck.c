/*-------------------------------------------------------------------------
 *
 * hnswcheck.c
 *	  engram.hnsw_check() and engram.hnsw_stats(): verify and describe an
 *	  engram_hnsw index.
 *
 * The check reads every page under share locks (one at a time) and reports
 * broken page or node invariants, links to missing, unlinked or too-low
 * nodes, and live nodes that a breadth-first walk of layer 0 from the entry
 * point does not reach.  It takes AccessShareLock, so it runs beside
 * inserts and scans; a concurrent insert can make it see a node that is
 * written but not yet linked, so run it on a quiet index for a verdict.
 *
 * src/am/hnsw/hnswcheck.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"
#include "am/hnsw/hnswgraph.h"

/* One node as the check sees it */
typedef struct CheckNode
{
	ItemPointerData tid;
	uint8		level;
	uint8		flags;
	int			degree0;
	int32		indegree;		/* layer-0 links to it from reached nodes */
	bool		reached;
} CheckNode;

typedef struct CheckState
{
	Relation	index;
	HnswMetaPageData meta;
	BlockNumber nblocks;
	CheckNode  *nodes;			/* in (block, offset) order */
	int			nnodes;
	int			capacity;
	Tuplestorestate *out;
	TupleDesc	outdesc;
	int			nproblems;
	BlockNumber hot_pages;
	BlockNumber warm_pages;
	uint64		bytes;
} CheckState;

#define HNSW_CHECK_MAX_PROBLEMS 1000

static void
Problem(CheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
Problem(CheckState *cs, const char *fmt,...)
{
	va_list		args;
	char		buf[512];
	Datum		value;
	bool		isnull = false;

	if (++cs->nproblems > HNSW_CHECK_MAX_PROBLEMS || cs->out == NULL)
		return;
	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	value = CStringGetTextDatum(buf);
	tuplestore_putvalues(cs->out, cs->outdesc, &value, &isnull);
}

/*
 * Open an index, checking it is engram_hnsw and the caller may read its
 * table
 */
Relation
HnswOpenChecked(Oid indexoid)
{
	Oid			heapoid = IndexGetRelation(indexoid, true);
	Relation	index;

	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", get_rel_name(indexoid))));
	if (pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(heapoid))));

	index = index_open(indexoid, AccessShareLock);
	if (index->rd_rel->relam != get_am_oid("engram_hnsw", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an engram_hnsw index",
						RelationGetRelationName(index))));
	return index;
}

/* bsearch over arrays of structs that start with the position */
static int
CompareLeadingTid(const void *key, const void *elem)
{
	return ItemPointerCompare((ItemPointer) key, (ItemPointer) elem);
}

static CheckNode *
FindNode(CheckState *cs, ItemPointer tid)
{
	return bsearch(tid, cs->nodes, cs->nnodes, sizeof(CheckNode), CompareLeadingTid);
}

/*
 * First pass: page headers, and every node's own invariants
 */
static void
CollectNodes(CheckState *cs, int dim, int m)
{
	int			max_level = HnswMaxLevel(dim, m);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < cs->nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(cs->index, blkno);
		Page		page;
		HnswPageOpaque opaque;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = HnswPageGetOpaque(page);

		/* a page the relation was extended by just before a crash */
		if (PageIsNew(page))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (opaque->page_id != HNSW_PAGE_ID ||
			(opaque->tier != HNSW_TIER_HOT && opaque->tier != HNSW_TIER_WARM))
		{
			Problem(cs, "block %u: not an engram_hnsw node page", blkno);
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (opaque->tier == HNSW_TIER_HOT)
			cs->hot_pages++;
		else
			cs->warm_pages++;

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswNodeHeader *node;
			CheckNode  *cn;

			if (!ItemIdIsNormal(itemid))
				continue;
			node = (HnswNodeHeader *) PageGetItem(page, itemid);
			if (node->level > max_level ||
				ItemIdGetLength(itemid) != HnswNodeSize(dim, m, node->level))
			{
				Problem(cs, "node (%u,%u): level %u and size %u do not match the index",
						blkno, off, node->level, ItemIdGetLength(itemid));
				continue;
			}
			for (int l = 0; l <= node->level; l++)
				if (HnswNodeCounts(node, dim)[l] > HnswLayerSlots(m, l))
					Problem(cs, "node (%u,%u): layer %d has %u neighbours, more than %d slots",
							blkno, off, l, HnswNodeCounts(node, dim)[l], HnswLayerSlots(m, l));
			if (!(node->flags & HNSW_NODE_UNLINKED) && !ItemPointerIsValid(&node->heaptid))
				Problem(cs, "node (%u,%u): invalid heap TID", blkno, off);

			if (cs->nnodes == cs->capacity)
			{
				cs->capacity *= 2;
				cs->nodes = repalloc_huge(cs->nodes, sizeof(CheckNode) * cs->capacity);
			}
			cn = &cs->nodes[cs->nnodes++];
			ItemPointerSet(&cn->tid, blkno, off);
			cn->level = node->level;
			cn->flags = node->flags;
			cn->degree0 = Min(HnswNodeCounts(node, dim)[0], HnswLayerSlots(m, 0));
			cn->reached = false;
			cn->indegree = 0;
			cs->bytes += ItemIdGetLength(itemid) + sizeof(ItemIdData);
		}
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Second pass: every link of every linked node points at a node that is
 * there, not unlinked, not itself, reaches the layer and is not repeated
 */
static void
CheckLinks(CheckState *cs, int dim, int m)
{
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < cs->nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(cs->index, blkno);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemPointerData self;
			CheckNode  *cn;
			HnswNodeHeader *node;

			ItemPointerSet(&self, blkno, off);
			cn = FindNode(cs, &self);
			if (cn == NULL || (cn->flags & HNSW_NODE_UNLINKED))
				continue;
			node = (HnswNodeHeader *) PageGetItem(page, PageGetItemId(page, off));
			for (int l = 0; l <= node->level; l++)
			{
				int			n = Min(HnswNodeCounts(node, dim)[l], HnswLayerSlots(m, l));
				ItemPointerData *nbrs = HnswNodeNeighbors(node, dim, m, l);

				for (int i = 0; i < n; i++)
				{
					CheckNode  *t = FindNode(cs, &nbrs[i]);

					if (t == NULL)
						Problem(cs, "node (%u,%u) layer %d links to (%u,%u), which is not a node",
								blkno, off, l, ItemPointerGetBlockNumberNoCheck(&nbrs[i]),
								ItemPointerGetOffsetNumberNoCheck(&nbrs[i]));
					else if (t->flags & HNSW_NODE_UNLINKED)
						Problem(cs, "node (%u,%u) layer %d links to unlinked node (%u,%u)",
								blkno, off, l, ItemPointerGetBlockNumber(&nbrs[i]),
								ItemPointerGetOffsetNumber(&nbrs[i]));
					else if (t->level < l)
						Problem(cs, "node (%u,%u) layer %d links to (%u,%u) of level %d",
								blkno, off, l, ItemPointerGetBlockNumber(&nbrs[i]),
								ItemPointerGetOffsetNumber(&nbrs[i]), t->level);
					else if (t == cn)
						Problem(cs, "node (%u,%u) layer %d links to itself", blkno, off, l);
					for (int j = 0; j < i; j++)
						if (ItemPointerEquals(&nbrs[i], &nbrs[j]))
							Problem(cs, "node (%u,%u) layer %d links to (%u,%u) twice",
									blkno, off, l, ItemPointerGetBlockNumber(&nbrs[i]),
									ItemPointerGetOffsetNumber(&nbrs[i]));
				}
			}
		}
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Breadth-first walk of layer 0 from the entry point, marking what it
 * reaches; returns the number of live nodes it does not reach, or -1 when
 * the entry point is not a linked node
 */
static int
MarkReached(CheckState *cs, int dim, int m)
{
	CheckNode **queue = palloc(sizeof(CheckNode *) * Max(cs->nnodes, 1));
	int			head = 0;
	int			tail = 0;
	CheckNode  *entry;
	int			unreached = 0;

	if (ItemPointerIsValid(&cs->meta.entry))
	{
		entry = FindNode(cs, &cs->meta.entry);
		if (entry == NULL || (entry->flags & HNSW_NODE_UNLINKED))
			return -1;
		entry->reached = true;
		queue[tail++] = entry;
	}

	while (head < tail)
	{
		CheckNode  *cn = queue[head++];
		HnswNodeHeader *node = HnswFetchNodeCopy(cs->index, &cn->tid);
		int			n = Min(HnswNodeCounts(node, dim)[0], HnswLayerSlots(m, 0));
		ItemPointerData *nbrs = HnswNodeNeighbors(node, dim, m, 0);

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < n; i++)
		{
			CheckNode  *t = FindNode(cs, &nbrs[i]);

			if (t != NULL)
				t->indegree++;
			if (t != NULL && !t->reached && !(t->flags & HNSW_NODE_UNLINKED))
			{
				t->reached = true;
				queue[tail++] = t;
			}
		}
		pfree(node);
	}

	for (int i = 0; i < cs->nnodes; i++)
		if (!cs->nodes[i].reached &&
			!(cs->nodes[i].flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED)))
			unreached++;
	pfree(queue);
	return unreached;
}

/*
 * Third pass: every live node must be reachable from the entry point
 */
static void
CheckReachability(CheckState *cs, int dim, int m)
{
	int			unreached = MarkReached(cs, dim, m);

	if (unreached < 0)
	{
		Problem(cs, "entry point (%u,%u) is not a linked node",
				ItemPointerGetBlockNumber(&cs->meta.entry),
				ItemPointerGetOffsetNumber(&cs->meta.entry));
		return;
	}
	if (ItemPointerIsValid(&cs->meta.entry))
	{
		CheckNode  *entry = FindNode(cs, &cs->meta.entry);

		if (entry->level != cs->meta.entry_level)
			Problem(cs, "entry point has level %d, meta page says %d",
					entry->level, cs->meta.entry_level);
	}
	if (unreached > 0 && !ItemPointerIsValid(&cs->meta.entry))
		Problem(cs, "no entry point, but %d live nodes", unreached);
	else if (unreached > 0)
		Problem(cs, "%d live nodes are not reachable from the entry point on layer 0",
				unreached);
}

/*
 * The live nodes a walk of layer 0 from the entry point does not reach,
 * for vacuum to relink; returns how many are in *out (palloc'd).  With
 * indegrees, also every node's count of layer-0 links from reached nodes,
 * sorted by position (for HnswInDegreeOf), and their number in *nnodes.
 */
int
HnswFindUnreachable(Relation index, ItemPointerData **out,
					HnswInDegree **indegrees, int *nnodes)
{
	CheckState	cs;
	int			n = 0;

	memset(&cs, 0, sizeof(cs));
	cs.index = index;
	HnswReadMeta(index, &cs.meta);
	cs.nblocks = RelationGetNumberOfBlocks(index);
	cs.capacity = 1024;
	cs.nodes = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CheckNode) * cs.capacity);
	CollectNodes(&cs, cs.meta.dim, cs.meta.m);
	*out = palloc(sizeof(ItemPointerData) * Max(cs.nnodes, 1));
	if (MarkReached(&cs, cs.meta.dim, cs.meta.m) > 0)
	{
		for (int i = 0; i < cs.nnodes; i++)
			if (!cs.nodes[i].reached &&
				!(cs.nodes[i].flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED)))
				(*out)[n++] = cs.nodes[i].tid;
	}
	if (indegrees != NULL)
	{
		*indegrees = MemoryContextAllocHuge(CurrentMemoryContext,
											sizeof(HnswInDegree) * Max(cs.nnodes, 1));
		for (int i = 0; i < cs.nnodes; i++)
		{
			(*indegrees)[i].tid = cs.nodes[i].tid;
			(*indegrees)[i].n = cs.nodes[i].indegree;
		}
		*nnodes = cs.nnodes;
	}
	pfree(cs.nodes);
	return n;
}

/* The entry of tid in an array from HnswFindUnreachable, or NULL */
HnswInDegree *
HnswInDegreeOf(HnswInDegree *indegrees, int n, ItemPointer tid)
{
	return bsearch(tid, indegrees, n, sizeof(HnswInDegree), CompareLeadingTid);
}

static void
RunCheck(CheckState *cs, Oid indexoid)
{
	cs->index = HnswOpenChecked(indexoid);
	HnswReadMeta(cs->index, &cs->meta);
	cs->nblocks = RelationGetNumberOfBlocks(cs->index);
	cs->capacity = 1024;
	cs->nodes = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CheckNode) * cs->capacity);

	CollectNodes(cs, cs->meta.dim, cs->meta.m);
	CheckLinks(cs, cs->meta.dim, cs->meta.m);
	CheckReachability(cs, cs->meta.dim, cs->meta.m);
	index_close(cs->index, AccessShareLock);
}

/*
 * engram.hnsw_check(index regclass) RETURNS SETOF text: one row per
 * problem found, none for a sound index
 */
PG_FUNCTION_INFO_V1(engram_hnsw_check);
Datum
engram_hnsw_check(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CheckState	cs;

	memset(&cs, 0, sizeof(cs));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cs.out = rsinfo->setResult;
	cs.outdesc = rsinfo->setDesc;
	RunCheck(&cs, PG_GETARG_OID(0));
	if (cs.nproblems > HNSW_CHECK_MAX_PROBLEMS)
	{
		cs.out = rsinfo->setResult;
		ereport(NOTICE,
				(errmsg("%d more problems not listed", cs.nproblems - HNSW_CHECK_MAX_PROBLEMS)));
	}
	return (Datum) 0;
}

/*
 * engram.hnsw_stats(index regclass): elements, levels, tiers, degree, size
 */
PG_FUNCTION_INFO_V1(engram_hnsw_stats);
Datum
engram_hnsw_stats(PG_FUNCTION_ARGS)
{
	CheckState	cs;
	TupleDesc	desc;
	Datum		values[10];
	bool		nulls[10] = {false};
	int64		live = 0;
	int64		deleted = 0;
	int64		unlinked = 0;
	int64		degree = 0;
	int			max_level = -1;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(&cs, 0, sizeof(cs));
	cs.index = HnswOpenChecked(PG_GETARG_OID(0));
	HnswReadMeta(cs.index, &cs.meta);
	cs.nblocks = RelationGetNumberOfBlocks(cs.index);
	cs.capacity = 1024;
	cs.nodes = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CheckNode) * cs.capacity);
	CollectNodes(&cs, cs.meta.dim, cs.meta.m);
	index_close(cs.index, AccessShareLock);

	for (int i = 0; i < cs.nnodes; i++)
	{
		CheckNode  *cn = &cs.nodes[i];

		if (cn->flags & HNSW_NODE_UNLINKED)
			unlinked++;
		else if (cn->flags & HNSW_NODE_DELETED)
			deleted++;
		else
		{
			live++;
			degree += cn->degree0;
			max_level = Max(max_level, cn->level);
		}
	}

	values[0] = Int64GetDatum(live);
	values[1] = Int64GetDatum(deleted);
	values[2] = Int64GetDatum(unlinked);
	values[3] = Int32GetDatum(max_level + 1);
	values[4] = Int64GetDatum(1);	/* the meta page */
	values[5] = Int64GetDatum(cs.hot_pages);
	values[6] = Int64GetDatum(cs.warm_pages);
	values[7] = Float8GetDatum(live > 0 ? (double) degree / live : 0.0);
	values[8] = Float8GetDatum(live > 0 ? (double) cs.nblocks * BLCKSZ / live : 0.0);
	values[9] = Int32GetDatum(cs.meta.dim);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * engram.hnsw_build_memory(index regclass): the maintenance_work_mem a
 * rebuild needs to build the whole graph in memory, by the measure the build
 * itself applies (HnswGraphBytesPerNode per row of the table, as of its last
 * VACUUM or ANALYZE), twice that when the planner would give the rebuild
 * parallel workers (their graph is a second copy, in shared memory)
 */
PG_FUNCTION_INFO_V1(engram_hnsw_build_memory);
Datum
engram_hnsw_build_memory(PG_FUNCTION_ARGS)
{
	Relation	index = HnswOpenChecked(PG_GETARG_OID(0));
	Relation	heap = relation_open(index->rd_index->indrelid, AccessShareLock);
	HnswIndexInfo info;
	double		rows = heap->rd_rel->reltuples;
	int			copies;

	/* never vacuumed or analyzed: the index's own count, else nothing */
	if (rows < 0)
		rows = Max(index->rd_rel->reltuples, 0);
	HnswGetIndexInfo(index, &info);
	copies = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index)) > 0 ? 2 : 1;
	relation_close(heap, AccessShareLock);
	index_close(index, AccessShareLock);
	PG_RETURN_INT64((int64) (rows * HnswGraphBytesPerNode(&info) * copies));
}
