/*-------------------------------------------------------------------------
 *
 * adjacency.c
 *	  Per-backend adjacency cache of a memory table's associations.
 *
 * A 3-hop spread reads tens of thousands of edges; from the btree of
 * engram.associations that costs ~0.6 us an edge.  The cache holds a
 * table's whole graph in compressed sparse rows: the node ids sorted, each
 * node's out-edges at offsets[i] .. offsets[i + 1] of two arrays (the
 * destination as a node index, the weight), sorted by (src, dst) like the
 * primary key.  A spread then costs an array walk per edge.
 *
 * A cache is correct for a query only under the rules of edgeversion.c:
 * built from a fresh snapshot while no modifier was in flight, used while
 * no modifier began since and the query's snapshot sees every ended one.
 * Anything else uses the index (edges.c), which is always correct.
 *
 * Rebuilding costs a read of all edges of the table; with a steady trickle
 * of writes every backend would rebuild all the time.  So a stale cache is
 * rebuilt only once the version has been stable for
 * engram.adjacency_cache_settle (s) times as long as its last build took:
 * rebuilding then costs at most about 1 / (s + 1) of the time, and between
 * writes that come faster the index path serves (as without the cache).
 *
 * Each table's arrays live in a memory context of their own; the caches of
 * a backend together stay within engram.adjacency_cache_size (a build that
 * would pass it is abandoned, and not tried again at that version unless
 * the setting grows).  While a table is built, the other tables' graphs
 * are still held; they are dropped after it if the total is too large.
 *
 * src/memory/adjacency.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "memory/memory.h"

static HTAB *adjacency_caches = NULL;
static MemoryContext adjacency_context = NULL;

/* a build in progress: the edges as the primary key returns them */
typedef struct AdjBuild
{
	Adjacency  *adj;
	int64	   *srcs;			/* distinct sources, ascending */
	int64	   *starts;			/* first edge of each source */
	int			nsrcs;
	int			srcs_size;
	int64	   *dst_ids;		/* per edge */
	float4	   *weights;
	int64		nedges;
	int64		edges_size;
	Size		limit;
	bool		overflow;
} AdjBuild;

/*
 * What the finished cache will need at least: ids and offsets per node, a
 * destination index and a weight per edge (the 64-bit destinations read
 * meanwhile are freed when the rows are built, so the build needs up to
 * 8 bytes per edge more for a while)
 */
static Size
BuildBytes(const AdjBuild *b)
{
	return (Size) b->nsrcs * 2 * sizeof(int64) +
		(Size) b->nedges * (sizeof(int32) + sizeof(float4));
}

/*
 * Add one edge; false (stop) once the cache would pass its size limit
 */
static bool
AddEdge(void *arg, int64 src, int64 dst, float4 weight)
{
	AdjBuild   *b = (AdjBuild *) arg;

	if (b->nsrcs == 0 || b->srcs[b->nsrcs - 1] != src)
	{
		if (b->nsrcs == b->srcs_size)
		{
			b->srcs_size *= 2;
			if (BuildBytes(b) > b->limit)
			{
				b->overflow = true;
				return false;
			}
			b->srcs = repalloc_huge(b->srcs, sizeof(int64) * b->srcs_size);
			b->starts = repalloc_huge(b->starts, sizeof(int64) * b->srcs_size);
		}
		b->srcs[b->nsrcs] = src;
		b->starts[b->nsrcs] = b->nedges;
		b->nsrcs++;
	}
	if (b->nedges == b->edges_size)
	{
		b->edges_size *= 2;
		if (BuildBytes(b) > b->limit)
		{
			b->overflow = true;
			return false;
		}
		b->dst_ids = repalloc_huge(b->dst_ids, sizeof(int64) * b->edges_size);
		b->weights = repalloc_huge(b->weights, sizeof(float4) * b->edges_size);
	}
	b->dst_ids[b->nedges] = dst;
	b->weights[b->nedges] = weight;
	b->nedges++;
	return true;
}

/* The position of id in the n ascending ids, or -1 */
int
EngramAdjacencyFind(const int64 *ids, int n, int64 id)
{
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < n && ids[lo] == id) ? lo : -1;
}

/* qsort order of int64 */
static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Turn the edges read into compressed sparse rows.  Destinations that are
 * no source (sinks) become nodes without out-edges.
 */
static void
BuildRows(AdjBuild *b)
{
	Adjacency  *adj = b->adj;
	int64	   *extra = NULL;
	int			nextra = 0;
	int			extra_size = 0;
	int32	   *dst = MemoryContextAllocHuge(adj->cxt, sizeof(int32) * Max(b->nedges, 1));
	int		   *shift;
	int			n;

	/* destinations as positions among the sources; sinks set aside */
	for (int64 e = 0; e < b->nedges; e++)
	{
		int			k = EngramAdjacencyFind(b->srcs, b->nsrcs, b->dst_ids[e]);

		if ((e & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		dst[e] = k;
		if (k < 0)
		{
			if (nextra == extra_size)
			{
				extra_size = Max(64, extra_size * 2);
				extra = extra ? repalloc_huge(extra, sizeof(int64) * extra_size)
					: MemoryContextAllocHuge(adj->cxt, sizeof(int64) * extra_size);
			}
			extra[nextra++] = b->dst_ids[e];
		}
	}
	if (nextra > 0)
	{
		int			m = 1;

		qsort(extra, nextra, sizeof(int64), CompareInt64);
		for (int i = 1; i < nextra; i++)
			if (extra[i] != extra[m - 1])
				extra[m++] = extra[i];
		nextra = m;
	}

	/* all node ids, ascending: the sources merged with the sinks */
	n = b->nsrcs + nextra;
	adj->ids = MemoryContextAllocHuge(adj->cxt, sizeof(int64) * Max(n, 1));
	adj->offsets = MemoryContextAllocHuge(adj->cxt, sizeof(int64) * (n + 1));
	shift = MemoryContextAllocHuge(adj->cxt, sizeof(int) * Max(b->nsrcs, 1));
	{
		int			i = 0;
		int			j = 0;
		int			k = 0;

		while (i < b->nsrcs || j < nextra)
		{
			if (j >= nextra || (i < b->nsrcs && b->srcs[i] < extra[j]))
			{
				shift[i] = j;	/* sinks before this source */
				adj->ids[k] = b->srcs[i];
				adj->offsets[k] = b->starts[i];
				i++;
			}
			else
			{
				adj->ids[k] = extra[j];
				/* no out-edges: where the next source's start */
				adj->offsets[k] = i < b->nsrcs ? b->starts[i] : b->nedges;
				j++;
			}
			k++;
		}
	}
	adj->offsets[n] = b->nedges;

	for (int64 e = 0; e < b->nedges; e++)
	{
		if (dst[e] >= 0)
			dst[e] += shift[dst[e]];
		else
			dst[e] = EngramAdjacencyFind(adj->ids, n, b->dst_ids[e]);
	}
	pfree(shift);
	if (extra)
		pfree(extra);
	pfree(b->dst_ids);
	pfree(b->srcs);
	pfree(b->starts);

	adj->dst = dst;
	adj->weight = b->weights;
	adj->nnodes = n;
	adj->nedges = b->nedges;
	/* stamp and node side by side: one cache line per edge followed */
	adj->slots = MemoryContextAllocHuge(adj->cxt, sizeof(AdjacencySlot) * Max(n, 1));
	memset(adj->slots, 0, sizeof(AdjacencySlot) * Max(n, 1));
	adj->generation = 0;
}

/* Forget a table's graph (its counters stay) */
static void
Discard(Adjacency *adj)
{
	if (adj->cxt != NULL)
		MemoryContextDelete(adj->cxt);
	adj->cxt = NULL;
	adj->valid = false;
	adj->bytes = 0;
	adj->nnodes = 0;
	adj->nedges = 0;
}

/* Bytes the other tables' caches of this backend hold */
static Size
OtherBytes(Oid relid)
{
	HASH_SEQ_STATUS seq;
	Adjacency  *a;
	Size		total = 0;

	hash_seq_init(&seq, adjacency_caches);
	while ((a = hash_seq_search(&seq)) != NULL)
		if (a->relid != relid)
			total += a->bytes;
	return total;
}

/* Drop the other tables' graphs if they hold more than limit bytes */
static void
EvictOthers(Oid relid, Size limit)
{
	HASH_SEQ_STATUS seq;
	Adjacency  *a;
	Size		total = OtherBytes(relid);

	if (total <= limit)
		return;
	hash_seq_init(&seq, adjacency_caches);
	while ((a = hash_seq_search(&seq)) != NULL)
		if (a->relid != relid)
			Discard(a);
}

/*
 * Read relid's edges from a fresh snapshot into adj; false when they do
 * not fit in the size limit
 */
static bool
Build(Adjacency *adj, const EdgeVersion *v)
{
	Size		limit = (Size) engram_adjacency_cache_size * 1024;
	AdjBuild	b;
	Snapshot	snapshot;
	EdgeReader *reader;
	instr_time	start;
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(start);
	Discard(adj);
	adj->cxt = AllocSetContextCreate(adjacency_context, "engram adjacency",
									 ALLOCSET_DEFAULT_SIZES);
	b.adj = adj;
	b.srcs_size = 1024;
	b.edges_size = 8192;
	b.srcs = MemoryContextAllocHuge(adj->cxt, sizeof(int64) * b.srcs_size);
	b.starts = MemoryContextAllocHuge(adj->cxt, sizeof(int64) * b.srcs_size);
	b.dst_ids = MemoryContextAllocHuge(adj->cxt, sizeof(int64) * b.edges_size);
	b.weights = MemoryContextAllocHuge(adj->cxt, sizeof(float4) * b.edges_size);
	b.nsrcs = 0;
	b.nedges = 0;
	b.limit = limit;
	b.overflow = false;

	/* taken after the version was read: see edgeversion.c */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	reader = EngramEdgeReaderOpen(adj->relid, snapshot, true);
	EngramEdgeReaderScanAll(reader, AddEdge, &b);
	EngramEdgeReaderClose(reader);
	UnregisterSnapshot(snapshot);

	if (!b.overflow)
	{
		BuildRows(&b);
		adj->bytes = MemoryContextMemAllocated(adj->cxt, true);
	}
	if (b.overflow || adj->bytes > limit)
	{
		Discard(adj);
		adj->oversized_version = v->version;
		adj->oversized_limit = limit;
		elog(DEBUG1, "engram adjacency cache of relation %u: more than engram.adjacency_cache_size",
			 adj->relid);
		return false;
	}
	/* the other tables' graphs had to stay during the build */
	EvictOthers(adj->relid, limit > adj->bytes ? limit - adj->bytes : 0);
	adj->built = *v;
	adj->valid = true;
	adj->builds++;
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	adj->build_seconds = INSTR_TIME_GET_DOUBLE(elapsed);
	elog(DEBUG1, "engram adjacency cache of relation %u: %d nodes, %lld edges, %zu bytes in %.3f s",
		 adj->relid, adj->nnodes, (long long) adj->nedges, adj->bytes, adj->build_seconds);
	return true;
}

static Adjacency *
Entry(Oid relid)
{
	Adjacency  *adj;
	bool		found;

	if (adjacency_caches == NULL)
	{
		HASHCTL		ctl;

		adjacency_context = AllocSetContextCreate(TopMemoryContext,
												  "engram adjacency caches",
												  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Adjacency);
		ctl.hcxt = adjacency_context;
		adjacency_caches = hash_create("engram adjacency caches", 16, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	adj = hash_search(adjacency_caches, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(adj, 0, sizeof(Adjacency));
		adj->relid = relid;
	}
	return adj;
}

/*
 * The graph of relid as the active snapshot sees it, or NULL when the
 * cache cannot serve this query (then read the index)
 */
Adjacency *
EngramAdjacencyGet(Oid relid)
{
	Adjacency  *adj;
	Snapshot	snapshot;
	EdgeVersion v;
	TimestampTz changed;

	if (!engram_adjacency_cache || !EngramEdgeVersionAvailable())
		return NULL;
	adj = Entry(relid);

	/*
	 * Its own changes are visible to a modifier; SERIALIZABLE needs the
	 * predicate locks of the index path; a standby's cache would not learn
	 * of the primary's changes; a parallel worker does not know whether its
	 * leader is a modifier (spread and recall are parallel unsafe anyway)
	 */
	if (EngramEdgeXactIsModifier() || IsolationIsSerializable() ||
		RecoveryInProgress() || IsParallelWorker() || !ActiveSnapshotSet())
	{
		adj->misses++;
		return NULL;
	}
	snapshot = GetActiveSnapshot();

	if (adj->valid && adj->built.version != EngramEdgeVersionNow())
		Discard(adj);			/* a modifier began since: never valid again */
	if (adj->valid)
	{
		if (EngramEdgeSnapshotCurrent(snapshot, &adj->built))
		{
			adj->hits++;
			return adj;
		}
		adj->misses++;			/* an older snapshot */
		return NULL;
	}

	/* stale or never built: rebuild if the rules allow and it pays off */
	if (!EngramEdgeVersionRead(&v, &changed) ||
		(adj->oversized_version == v.version &&
		 adj->oversized_limit >= (Size) engram_adjacency_cache_size * 1024) ||
		(adj->builds > 0 &&
		 !TimestampDifferenceExceeds(changed, GetCurrentTimestamp(),
									 (int) (adj->build_seconds * 1000 *
											   engram_adjacency_cache_settle))) ||
		!Build(adj, &v))
	{
		adj->misses++;
		return NULL;
	}
	if (adj->built.version != EngramEdgeVersionNow() ||
		!EngramEdgeSnapshotCurrent(snapshot, &adj->built))
	{
		adj->misses++;
		return NULL;
	}
	adj->hits++;
	return adj;
}

/*
 * engram.adjacency_cache_stats(): this backend's caches
 */
PG_FUNCTION_INFO_V1(engram_adjacency_cache_stats);
Datum
engram_adjacency_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	Adjacency  *a;

	InitMaterializedSRF(fcinfo, 0);
	if (adjacency_caches == NULL)
		return (Datum) 0;
	hash_seq_init(&seq, adjacency_caches);
	while ((a = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, false, false, false, false};

		values[0] = ObjectIdGetDatum(a->relid);
		values[1] = BoolGetDatum(a->valid);
		values[2] = Int64GetDatum((int64) a->nnodes);
		values[3] = Int64GetDatum(a->nedges);
		values[4] = Int64GetDatum((int64) a->bytes);
		values[5] = Int64GetDatum((int64) a->builds);
		values[6] = Int64GetDatum((int64) a->hits);
		values[7] = Int64GetDatum((int64) a->misses);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
