/*-------------------------------------------------------------------------
 *
 * patch.c
 *	  Patches: a stale adjacency cache made exact for a snapshot by the
 *	  out-edges of the sources changed since its build, read from the index.
 *
 * A cache built at version V (adjacency.c) is exact only while no modifier
 * has begun since.  Under a steady trickle of writes that is never, and
 * every spread would read the index, ten times slower.  The change log
 * (edgeversion.c) names every source a modifier changed since the build,
 * with its top-level xid.  For a snapshot S that sees everything the build
 * saw (EngramEdgeSnapshotCurrent), S's edges are the cache's except for
 * the logged sources, whose out-edges are read from the index under S: the
 * patch.  A spread consults the patch for those sources (one bit per node
 * index says which) and reads the cache for the others.
 *
 * Each backend keeps its patch across queries and brings it forward: a
 * new query reads only the entries logged since the last one, plus the
 * sources whose writer was still running for the last snapshot and has
 * ended for this one (the pending list).  That is exact as long as each
 * snapshot follows the one before (every transaction that had ended for
 * the older one has ended for the newer one), which SnapshotFollows
 * checks; a snapshot that does not (an older one held by a cursor, say)
 * starts the patch over from the build.
 *
 * src/memory/patch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "memory/memory.h"

#define SH_PREFIX patchrows
#define SH_ELEMENT_TYPE PatchRow
#define SH_KEY_TYPE int64
#define SH_KEY src
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* a source read while its writer was running: read again once it ends */
typedef struct PatchPending
{
	int64		src;
	TransactionId xid;
} PatchPending;

struct AdjacencyPatch
{
	MemoryContext cxt;			/* everything below */
	uint64		upto;			/* log entries before this are applied */
	bool		updating;		/* an error interrupted an update */
	patchrows_hash *rows;
	uint64	   *overridden;		/* bit per node index of the cache */
	PatchEdge  *edges;			/* rows point into this */
	int64		nedges;
	int64		edges_size;
	int64		live;			/* edges some row points at */
	PatchPending *pending;
	int			npending;
	int			pending_size;
	/* the snapshot of the last update: its xmax and running xids */
	bool		has_snapshot;
	TransactionId xmax;
	TransactionId *xip;
	uint32		xcnt;
	uint32		xip_size;
};

/* log entries copied at a time */
#define LOG_CHUNK 1024

static AdjacencyPatch *
PatchCreate(Adjacency *adj)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "engram adjacency patch",
											  ALLOCSET_DEFAULT_SIZES);
	AdjacencyPatch *p = MemoryContextAllocZero(cxt, sizeof(AdjacencyPatch));

	p->cxt = cxt;
	p->upto = adj->built.log_pos;
	p->rows = patchrows_create(cxt, 64, NULL);
	p->overridden = MemoryContextAllocExtended(cxt, sizeof(uint64) * (adj->nnodes / 64 + 1),
											   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	p->edges_size = 1024;
	p->edges = MemoryContextAllocHuge(cxt, sizeof(PatchEdge) * p->edges_size);
	p->pending_size = 64;
	p->pending = MemoryContextAlloc(cxt, sizeof(PatchPending) * p->pending_size);
	adj->patch = p;
	adj->overridden = p->overridden;
	return p;
}

/* Forget adj's patch */
void
EngramPatchFree(Adjacency *adj)
{
	if (adj->patch != NULL)
		MemoryContextDelete(adj->patch->cxt);
	adj->patch = NULL;
	adj->overridden = NULL;
	adj->patched = false;
}

/* Sources adj's patch holds rows for */
int64
EngramPatchSources(const Adjacency *adj)
{
	return adj->patch ? adj->patch->rows->members : 0;
}

/* The patched out-edges of src, or NULL if the cache's row holds */
const PatchEdge *
EngramPatchRow(const Adjacency *adj, int64 src, int *count)
{
	PatchRow   *row = patchrows_lookup(adj->patch->rows, src);

	if (row == NULL)
		return NULL;
	*count = row->count;
	return adj->patch->edges + Max(row->first, 0);
}

/*
 * Whether every transaction that had ended for the snapshot of the last
 * update has ended for snapshot too: its xmax is no earlier, and each xid
 * it sees running below the old xmax was running for the old one.
 */
static bool
SnapshotFollows(Snapshot snapshot, const AdjacencyPatch *p)
{
	if (!p->has_snapshot)
		return true;
	if (TransactionIdPrecedes(snapshot->xmax, p->xmax))
		return false;
	for (uint32 i = 0; i < snapshot->xcnt; i++)
	{
		TransactionId xid = snapshot->xip[i];

		if (TransactionIdPrecedes(xid, p->xmax) &&
			bsearch(&xid, p->xip, p->xcnt, sizeof(TransactionId), xidComparator) == NULL)
			return false;
	}
	return true;
}

static void
RememberSnapshot(AdjacencyPatch *p, Snapshot snapshot)
{
	if (snapshot->xcnt > p->xip_size)
	{
		p->xip_size = Max(snapshot->xcnt, 2 * p->xip_size);
		p->xip = p->xip ? repalloc(p->xip, sizeof(TransactionId) * p->xip_size)
			: MemoryContextAlloc(p->cxt, sizeof(TransactionId) * p->xip_size);
	}
	if (snapshot->xcnt > 0)
	{
		memcpy(p->xip, snapshot->xip, sizeof(TransactionId) * snapshot->xcnt);
		/* sorted for SnapshotFollows' searches (by value: only equality) */
		qsort(p->xip, snapshot->xcnt, sizeof(TransactionId), xidComparator);
	}
	p->xcnt = snapshot->xcnt;
	p->xmax = snapshot->xmax;
	p->has_snapshot = true;
}

/* a set of sources to read, built up as a growing array */
typedef struct SourceList
{
	int64	   *srcs;
	int			n;
	int			size;
} SourceList;

static void
AddSource(SourceList *l, int64 src)
{
	if (l->n == l->size)
	{
		l->size *= 2;
		l->srcs = repalloc_huge(l->srcs, sizeof(int64) * l->size);
	}
	l->srcs[l->n++] = src;
}

static void
AddPending(AdjacencyPatch *p, int64 src, TransactionId xid)
{
	if (p->npending == p->pending_size)
	{
		p->pending_size *= 2;
		p->pending = repalloc_huge(p->pending, sizeof(PatchPending) * p->pending_size);
	}
	p->pending[p->npending].src = src;
	p->pending[p->npending].xid = xid;
	p->npending++;
}

/* The node index of id in adj's cache, or -1 */
static int32
NodeIndex(const Adjacency *adj, int64 id)
{
	int			rank = EngramAdjacencyFind(adj->ids, adj->nnodes, id);

	return rank >= 0 ? adj->node_of_rank[rank] : -1;
}

/* the edge callback's state */
typedef struct ReadState
{
	Adjacency  *adj;
	AdjacencyPatch *p;
	PatchRow   *row;			/* of the previous edge */
} ReadState;

static void
AddPatchEdge(void *arg, int64 src, int64 dst, float4 weight)
{
	ReadState  *rs = (ReadState *) arg;
	AdjacencyPatch *p = rs->p;
	PatchEdge  *e;

	if (rs->row == NULL || rs->row->src != src)
		rs->row = patchrows_lookup(p->rows, src);
	if (rs->row == NULL)
		elog(ERROR, "engram patch: edge of source " INT64_FORMAT " not asked for", src);
	if (rs->row->count == 0)
		rs->row->first = p->nedges;
	else if (rs->row->first + rs->row->count != p->nedges)
		elog(ERROR, "engram patch: edges of source " INT64_FORMAT " not together", src);
	if (p->nedges == p->edges_size)
	{
		p->edges_size *= 2;
		p->edges = repalloc_huge(p->edges, sizeof(PatchEdge) * p->edges_size);
	}
	e = &p->edges[p->nedges++];
	e->dst = dst;
	e->cidx = NodeIndex(rs->adj, dst);
	e->weight = weight;
	rs->row->count++;
	p->live++;
}

/* Copy the rows' edges to a new array once most of the old one is garbage */
static void
Compact(AdjacencyPatch *p)
{
	PatchEdge  *edges = MemoryContextAllocHuge(p->cxt, sizeof(PatchEdge) * Max(p->live, 1024));
	int64		n = 0;
	patchrows_iterator it;
	PatchRow   *row;

	patchrows_start_iterate(p->rows, &it);
	while ((row = patchrows_iterate(p->rows, &it)) != NULL)
	{
		if (row->count > 0)
			memcpy(&edges[n], &p->edges[row->first], sizeof(PatchEdge) * row->count);
		row->first = n;
		n += row->count;
	}
	pfree(p->edges);
	p->edges = edges;
	p->nedges = n;
	p->edges_size = Max(p->live, 1024);
}

/* Read the out-edges of the sorted distinct sources under snapshot */
static void
ReadRows(Adjacency *adj, AdjacencyPatch *p, Snapshot snapshot, const int64 *srcs, int n)
{
	ReadState	rs = {adj, p, NULL};
	EdgeReader *reader;

	for (int i = 0; i < n; i++)
	{
		bool		found;
		PatchRow   *row = patchrows_insert(p->rows, srcs[i], &found);
		int32		cidx;

		if (found)
			p->live -= row->count;
		row->first = -1;
		row->count = 0;
		cidx = NodeIndex(adj, srcs[i]);
		if (cidx >= 0)
			p->overridden[cidx >> 6] |= UINT64CONST(1) << (cidx & 63);
	}
	/* in the query's context; the arrays grow in their own (repalloc) */
	reader = EngramEdgeReaderOpen(adj->relid, snapshot, false);
	EngramEdgeReaderScan(reader, EngramInt8Array(srcs, n), AddPatchEdge, &rs);
	EngramEdgeReaderClose(reader);
	if (p->nedges > 2 * p->live + 65536)
		Compact(p);
}

/*
 * Bring adj's patch forward to snapshot, which sees everything the build
 * saw; false when the log cannot (a TRUNCATE, entries overwritten, or
 * patching off): then the cache cannot serve the query.
 */
bool
EngramPatchRefresh(Adjacency *adj, Snapshot snapshot)
{
	AdjacencyPatch *p = adj->patch;
	uint64		end;
	SourceList	list;
	EdgeChange *buf;
	int			keep = 0;

	adj->patched = false;
	if (!engram_adjacency_cache_patch ||
		!EngramEdgeLogPatchable(adj->built.log_pos, &end))
	{
		EngramPatchFree(adj);
		return false;
	}
	if (p != NULL && (p->updating || !SnapshotFollows(snapshot, p)))
	{
		EngramPatchFree(adj);
		p = NULL;
	}
	if (p == NULL)
		p = PatchCreate(adj);
	p->updating = true;

	list.size = 64;
	list.n = 0;
	list.srcs = palloc(sizeof(int64) * list.size);

	/* sources whose writer has ended for this snapshot: read again */
	for (int i = 0; i < p->npending; i++)
	{
		if (XidInMVCCSnapshot(p->pending[i].xid, snapshot))
			p->pending[keep++] = p->pending[i];
		else
			AddSource(&list, p->pending[i].src);
	}
	p->npending = keep;

	/* the entries logged since the last update */
	buf = palloc(sizeof(EdgeChange) * LOG_CHUNK);
	for (uint64 from = p->upto; from < end; from += LOG_CHUNK)
	{
		uint64		upto = Min(end, from + LOG_CHUNK);

		CHECK_FOR_INTERRUPTS();
		if (!EngramEdgeLogRead(from, upto, buf))
		{
			EngramPatchFree(adj);
			return false;
		}
		for (uint64 i = 0; i < upto - from; i++)
		{
			if (buf[i].dbid != MyDatabaseId || buf[i].relid != adj->relid)
				continue;
			AddSource(&list, buf[i].src);
			if (XidInMVCCSnapshot(buf[i].xid, snapshot))
				AddPending(p, buf[i].src, buf[i].xid);
		}
	}
	pfree(buf);

	if (list.n > 0)
	{
		int			n = 1;

		qsort(list.srcs, list.n, sizeof(int64), EngramCompareInt64);
		for (int i = 1; i < list.n; i++)
			if (list.srcs[i] != list.srcs[n - 1])
				list.srcs[n++] = list.srcs[i];
		ReadRows(adj, p, snapshot, list.srcs, n);
	}
	pfree(list.srcs);
	p->upto = end;
	RememberSnapshot(p, snapshot);
	p->updating = false;
	adj->patched = p->rows->members > 0;
	return true;
}
