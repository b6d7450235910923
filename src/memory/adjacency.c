/*-------------------------------------------------------------------------
 *
 * adjacency.c
 *	  Adjacency cache: a memory table's associations in shared memory.
 *
 * A 3-hop spread reads tens of thousands of edges; from the btree of
 * engram.associations that costs ~0.6 us an edge.  The cache holds a
 * table's whole graph in compressed sparse rows: each node's out-edges at
 * offsets[i] .. offsets[i + 1] of one array of (destination as a node
 * index, weight).  A spread then costs an array walk per edge.  Nodes are
 * numbered in depth-first order so that neighbours are near each other
 * (NumberByLocality); the node ids are kept sorted, and a node's position
 * among them, its rank, is what spreads order by, as the index path orders
 * by id.
 *
 * The graph is built once per version of the associations, by a
 * background worker the first backend that needs it launches (or by that
 * backend, with engram.adjacency_cache_background off or no worker to be
 * had), into a dynamic shared memory segment that stays pinned after its
 * builder ends (PostgreSQL carves it out of the main shared memory segment,
 * in huge pages when that is, while min_dynamic_shared_memory has room);
 * every backend attaches it read only and keeps only a scratch array of 8
 * bytes per node for its spreads.  While the graph is built, spreads read
 * the index or patch a stale graph: nobody waits.  At 1M memories the
 * graph is 144 MB and takes seconds to read, so one copy per server
 * instead of one per connection is what makes it usable with many
 * connections.
 *
 * A cache is correct for a query only under the rules of edgeversion.c:
 * built from a fresh snapshot while no modifier was in flight, used while
 * no modifier began since and the query's snapshot sees every ended one.
 * Anything else uses the index (edges.c), which is always correct.  A
 * segment's header names the table and the version it holds, so that an
 * attach that raced with its replacement is noticed.
 *
 * Rebuilding costs a read of all edges of the table; with a steady trickle
 * of writes it would run all the time.  So a stale graph is rebuilt only
 * once the version has been stable for engram.adjacency_cache_settle (s)
 * times as long as its last build took: rebuilding then costs at most about
 * 1 / (s + 1) of the time, and between writes that come faster the index
 * path serves (as without the cache).
 *
 * A stale graph that patches (patch.c) still serve is also rebuilt once
 * the change log has moved on by half its size since its build.
 *
 * The pinned graphs together stay within engram.adjacency_cache_size (a
 * build that would pass it is abandoned, and not tried again at that
 * version unless the setting grows; others' graphs are unpinned, least
 * recently used first, to make room).  A stale graph is unpinned by the
 * next backend that notices it; its memory is freed when the last backend
 * mapping it detaches, which each does at its next spread.
 *
 * src/memory/adjacency.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqsignal.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pg_shmem.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "memory/memory.h"

/* memory tables whose graphs shared memory can describe at once */
#define SHARED_GRAPHS 64

/* a transparent huge page on x86-64 and arm64 with 4 kB pages */
#define HUGE_PAGE_BYTES (2 * 1024 * 1024)

/* shared: one memory table's graph */
typedef struct SharedGraph
{
	Oid			dbid;			/* InvalidOid: a free slot */
	Oid			relid;
	dsm_handle	handle;			/* DSM_HANDLE_INVALID: no graph pinned */
	EdgeVersion built;			/* what the pinned graph holds */
	Size		bytes;			/* of the pinned segment */
	bool		main_segment;	/* it is in the main shared memory segment */
	bool		hinted;			/* a graph outside it was logged (once) */
	int			builder;		/* pid of a backend building it, or 0 */
	TimestampTz launched;		/* a background rebuild was asked for, or 0 */
	double		build_seconds;	/* of the last build */
	uint64		oversized_version;	/* too big at this version */
	Size		oversized_limit;	/* for this engram.adjacency_cache_size */
	uint64		tried_log_pos;	/* the change log's end at the last try */
	uint64		builds;			/* since the slot was taken */
	uint64		last_used;		/* clock of the last use */
} SharedGraph;

typedef struct AdjacencyShared
{
	slock_t		mutex;
	uint64		clock;			/* counts uses, for least recently used */
	SharedGraph graphs[SHARED_GRAPHS];
} AdjacencyShared;

/* the start of a graph's segment; the arrays follow at these offsets */
typedef struct GraphHeader
{
	Oid			dbid;
	Oid			relid;
	uint64		version;
	int32		nnodes;
	int64		nedges;
	Size		ids_off;
	Size		node_of_rank_off;
	Size		rank_of_node_off;
	Size		offsets_off;
	Size		edges_off;
} GraphHeader;

/*
 * A graph built in local memory, before it is copied to its segment: rows
 * by rank (the position of a node's id among the ascending ids), and the
 * node index each rank gets in the segment
 */
typedef struct LocalGraph
{
	int64	   *ids;
	int64	   *offsets;
	int32	   *dst;			/* ranks */
	float4	   *weight;
	int32	   *node_of_rank;
	int32	   *rank_of_node;
	int			nnodes;
	int64		nedges;
} LocalGraph;

/* a background rebuild not begun by then is asked for again */
#define BACKGROUND_BUILD_TIMEOUT_MS 60000

static Adjacency *Entry(Oid relid);
static bool LaunchBuilder(Oid relid);
static void SetLaunched(Oid relid, TimestampTz when);

static AdjacencyShared *adjacency_shared = NULL;
static HTAB *adjacency_caches = NULL;
static MemoryContext adjacency_context = NULL;

Size
EngramAdjacencyShmemSize(void)
{
	return MAXALIGN(sizeof(AdjacencyShared));
}

/* Called by stats.c's shmem startup hook with AddinShmemInitLock held */
void
EngramAdjacencyShmemStartup(void)
{
	bool		found;

	adjacency_shared = ShmemInitStruct("engram adjacency graphs",
									   sizeof(AdjacencyShared), &found);
	if (!found)
	{
		SpinLockInit(&adjacency_shared->mutex);
		adjacency_shared->clock = 0;
		for (int i = 0; i < SHARED_GRAPHS; i++)
		{
			memset(&adjacency_shared->graphs[i], 0, sizeof(SharedGraph));
			adjacency_shared->graphs[i].handle = DSM_HANDLE_INVALID;
		}
	}
}

/* a build in progress: the edges as the primary key returns them */
typedef struct AdjBuild
{
	MemoryContext cxt;			/* everything below, freed after publishing */
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
 * What the finished cache will need at least: ids, offsets and the two
 * numberings per node, a destination index and a weight per edge (the
 * 64-bit destinations read meanwhile are freed when the rows are built, so
 * the build needs up to 8 bytes per edge more for a while)
 */
static Size
BuildBytes(const AdjBuild *b)
{
	return (Size) b->nsrcs * (2 * sizeof(int64) + 2 * sizeof(int32)) +
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

/* The number of the n ascending ids below id */
int
EngramAdjacencyIdsBelow(const int64 *ids, int n, int64 id)
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
	return lo;
}

/* The position of id in the n ascending ids, or -1 */
int
EngramAdjacencyFind(const int64 *ids, int n, int64 id)
{
	int			lo = EngramAdjacencyIdsBelow(ids, n, id);

	return (lo < n && ids[lo] == id) ? lo : -1;
}

/*
 * Positions of ids in an ascending array, for the build's one lookup per
 * edge.  Keys are mostly dense (serial ids, a few deleted): then a table
 * indexed by id - min answers from a few MB instead of a 20-step binary
 * search over 8 MB per edge (at 1M memories, 85% of a build's time).
 */
typedef struct IdLookup
{
	const int64 *ids;
	int			n;
	int64		min;
	uint64		range;
	int32	   *table;			/* position of min + i, or -1; NULL: search */
} IdLookup;

static void
IdLookupInit(IdLookup *l, const int64 *ids, int n, MemoryContext cxt)
{
	uint64		range;

	l->ids = ids;
	l->n = n;
	l->table = NULL;
	if (n == 0)
		return;
	l->min = ids[0];
	range = (uint64) ids[n - 1] - (uint64) ids[0] + 1;
	if (range > (uint64) n * 4 + 1024)
		return;					/* sparse keys: binary search */
	l->range = range;
	l->table = MemoryContextAllocHuge(cxt, sizeof(int32) * range);
	memset(l->table, 0xFF, sizeof(int32) * range);
	for (int i = 0; i < n; i++)
		l->table[(uint64) ids[i] - (uint64) l->min] = i;
}

static inline int
IdLookupFind(const IdLookup *l, int64 id)
{
	uint64		off;

	if (l->table == NULL)
		return EngramAdjacencyFind(l->ids, l->n, id);
	off = (uint64) id - (uint64) l->min;	/* below min wraps past range */
	return off < l->range ? l->table[off] : -1;
}

static void
IdLookupFree(IdLookup *l)
{
	if (l->table != NULL)
		pfree(l->table);
}

/* qsort order of int64 */
int
EngramCompareInt64(const void *a, const void *b)
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
BuildRows(AdjBuild *b, LocalGraph *g)
{
	int64	   *extra = NULL;
	int			nextra = 0;
	int			extra_size = 0;
	int32	   *dst = MemoryContextAllocHuge(b->cxt, sizeof(int32) * Max(b->nedges, 1));
	int		   *shift;
	int			n;
	IdLookup	lookup;

	/* destinations as positions among the sources; sinks set aside */
	IdLookupInit(&lookup, b->srcs, b->nsrcs, b->cxt);
	for (int64 e = 0; e < b->nedges; e++)
	{
		int			k = IdLookupFind(&lookup, b->dst_ids[e]);

		if ((e & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		dst[e] = k;
		if (k < 0)
		{
			if (nextra == extra_size)
			{
				extra_size = Max(64, extra_size * 2);
				extra = extra ? repalloc_huge(extra, sizeof(int64) * extra_size)
					: MemoryContextAllocHuge(b->cxt, sizeof(int64) * extra_size);
			}
			extra[nextra++] = b->dst_ids[e];
		}
	}
	IdLookupFree(&lookup);
	if (nextra > 0)
	{
		int			m = 1;

		qsort(extra, nextra, sizeof(int64), EngramCompareInt64);
		for (int i = 1; i < nextra; i++)
			if (extra[i] != extra[m - 1])
				extra[m++] = extra[i];
		nextra = m;
	}

	/* all node ids, ascending: the sources merged with the sinks */
	n = b->nsrcs + nextra;
	g->ids = MemoryContextAllocHuge(b->cxt, sizeof(int64) * Max(n, 1));
	g->offsets = MemoryContextAllocHuge(b->cxt, sizeof(int64) * (n + 1));
	shift = MemoryContextAllocHuge(b->cxt, sizeof(int) * Max(b->nsrcs, 1));
	{
		int			i = 0;
		int			j = 0;
		int			k = 0;

		while (i < b->nsrcs || j < nextra)
		{
			if (j >= nextra || (i < b->nsrcs && b->srcs[i] < extra[j]))
			{
				shift[i] = j;	/* sinks before this source */
				g->ids[k] = b->srcs[i];
				g->offsets[k] = b->starts[i];
				i++;
			}
			else
			{
				g->ids[k] = extra[j];
				/* no out-edges: where the next source's start */
				g->offsets[k] = i < b->nsrcs ? b->starts[i] : b->nedges;
				j++;
			}
			k++;
		}
	}
	g->offsets[n] = b->nedges;

	for (int64 e = 0; e < b->nedges; e++)
	{
		if (dst[e] >= 0)
			dst[e] += shift[dst[e]];
		else
			dst[e] = EngramAdjacencyFind(g->ids, n, b->dst_ids[e]);
	}
	pfree(shift);
	if (extra)
		pfree(extra);
	pfree(b->dst_ids);
	pfree(b->srcs);
	pfree(b->starts);

	g->dst = dst;
	g->weight = b->weights;
	g->nnodes = n;
	g->nedges = b->nedges;
}

/* depth-first numbering: a node on the stack */
typedef struct DfsFrame
{
	int32		node;
	int64		next;			/* its next edge to follow */
} DfsFrame;

/* Give v the next number and put it on the stack, to follow its edges */
static inline void
NumberNode(const LocalGraph *g, int32 v, int32 *number, int32 *rank_of,
		   int *next_number, DfsFrame *stack, int *depth)
{
	if ((*next_number & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
	number[v] = *next_number;
	rank_of[(*next_number)++] = v;
	stack[*depth].node = v;
	stack[(*depth)++].next = g->offsets[v];
}

/*
 * Number the nodes so that neighbours get nearby indexes: depth-first
 * preorder over the out-edges, roots in rank order.  A spread touches the
 * slot and the row of every node it reaches; with nodes numbered by id
 * those are all over the arrays (at 1M memories, a cache line and a page
 * of rows per node reached), in this order a third fewer lines and half
 * the pages (bench/memory, 300 random 3-hop spreads).
 */
static void
NumberByLocality(LocalGraph *g, MemoryContext cxt)
{
	int			n = g->nnodes;
	DfsFrame   *stack = MemoryContextAllocHuge(cxt, sizeof(DfsFrame) * Max(n, 1));
	int32	   *number = MemoryContextAllocHuge(cxt, sizeof(int32) * Max(n, 1));
	int32	   *rank_of = MemoryContextAllocHuge(cxt, sizeof(int32) * Max(n, 1));
	int			next_number = 0;

	memset(number, 0xFF, sizeof(int32) * Max(n, 1));
	for (int root = 0; root < n; root++)
	{
		int			depth = 0;

		if (number[root] >= 0)
			continue;
		NumberNode(g, root, number, rank_of, &next_number, stack, &depth);
		while (depth > 0)
		{
			DfsFrame   *top = &stack[depth - 1];
			int32		v;

			if (top->next == g->offsets[top->node + 1])
			{
				depth--;
				continue;
			}
			v = g->dst[top->next++];
			if (number[v] < 0)
				NumberNode(g, v, number, rank_of, &next_number, stack, &depth);
		}
	}
	Assert(next_number == n);
	pfree(stack);
	g->node_of_rank = number;
	g->rank_of_node = rank_of;
}

/* The bytes of a graph's segment: the header, then the five arrays */
static Size
SegmentLayout(const LocalGraph *g, GraphHeader *h)
{
	Size		off = MAXALIGN(sizeof(GraphHeader));

	h->ids_off = off;
	off += MAXALIGN(sizeof(int64) * Max(g->nnodes, 1));
	h->node_of_rank_off = off;
	off += MAXALIGN(sizeof(int32) * Max(g->nnodes, 1));
	h->rank_of_node_off = off;
	off += MAXALIGN(sizeof(int32) * Max(g->nnodes, 1));
	h->offsets_off = off;
	off += MAXALIGN(sizeof(int64) * (g->nnodes + 1));
	h->edges_off = off;
	off += MAXALIGN(sizeof(AdjacencyEdge) * Max(g->nedges, 1));
	return off;
}

/*
 * This backend's scratch slots for a graph of nnodes, zeroed.  Every edge a
 * spread follows touches the slot of its destination at random (8 MB at 1M
 * memories), so they are mapped on their own and, where the kernel offers
 * transparent huge pages on request, in 2 MB pages: a TLB miss less per
 * edge (1M memories: spread 1.42 against 1.51 ms a call, 3 of 3 rounds).
 * Outside any memory context; Detach unmaps them.
 */
static void
AllocSlots(Adjacency *adj, int nnodes)
{
	Size		bytes = TYPEALIGN(HUGE_PAGE_BYTES, sizeof(AdjacencySlot) * Max(nnodes, 1));
	void	   *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu for the adjacency cache.", bytes)));
#ifdef MADV_HUGEPAGE
	(void) madvise(p, bytes, MADV_HUGEPAGE);
#endif
	adj->slots = p;
	adj->slots_bytes = bytes;
}

static void Detach(Adjacency *adj);

/* Point adj at the graph of seg, built under v; a fresh scratch array */
static void
SetGraph(Adjacency *adj, dsm_segment *seg, const EdgeVersion *v)
{
	char	   *base = dsm_segment_address(seg);
	GraphHeader *h = (GraphHeader *) base;

	Detach(adj);				/* the graph it replaces, if any */
	adj->seg = seg;
	adj->built = *v;
	adj->nnodes = h->nnodes;
	adj->nedges = h->nedges;
	adj->ids = (const int64 *) (base + h->ids_off);
	adj->node_of_rank = (const int32 *) (base + h->node_of_rank_off);
	adj->rank_of_node = (const int32 *) (base + h->rank_of_node_off);
	adj->offsets = (const int64 *) (base + h->offsets_off);
	adj->edges = (const AdjacencyEdge *) (base + h->edges_off);
	adj->bytes = dsm_segment_map_length(seg);
	/* stamp and node side by side: one cache line per edge followed */
	AllocSlots(adj, h->nnodes);
	adj->generation = 0;
	adj->valid = true;
}

/* Forget the graph this backend maps (its counters stay) */
static void
Detach(Adjacency *adj)
{
	EngramPatchFree(adj);
	if (adj->seg != NULL)
		dsm_detach(adj->seg);
	if (adj->slots != NULL)
		munmap(adj->slots, adj->slots_bytes);
	adj->seg = NULL;
	adj->slots = NULL;
	adj->valid = false;
	adj->bytes = 0;
	adj->nnodes = 0;
	adj->nedges = 0;
}

/* This database's slot of relid, or NULL; mutex held */
static SharedGraph *
FindShared(Oid relid)
{
	for (int i = 0; i < SHARED_GRAPHS; i++)
	{
		SharedGraph *g = &adjacency_shared->graphs[i];

		if (g->relid == relid && g->dbid == MyDatabaseId)
			return g;
	}
	return NULL;
}

/*
 * The slot of relid, taken if there is none: a free one, else the least
 * recently used one nobody is building (whose graph *unpin receives).
 * NULL when every slot is being built.  mutex held.
 */
static SharedGraph *
ClaimShared(Oid relid, dsm_handle *unpin)
{
	SharedGraph *victim = FindShared(relid);

	if (victim != NULL)
		return victim;
	for (int i = 0; i < SHARED_GRAPHS; i++)
	{
		SharedGraph *g = &adjacency_shared->graphs[i];

		if (g->dbid == InvalidOid)
		{
			victim = g;
			break;
		}
		if (g->builder == 0 && (victim == NULL || g->last_used < victim->last_used))
			victim = g;
	}
	if (victim == NULL)
		return NULL;
	*unpin = victim->handle;
	memset(victim, 0, sizeof(SharedGraph));
	victim->handle = DSM_HANDLE_INVALID;
	victim->dbid = MyDatabaseId;
	victim->relid = relid;
	return victim;
}

/* the change log's bounds, read before taking the graphs' mutex */
typedef struct LogBounds
{
	bool		exists;
	uint64		oldest;			/* graphs built here or later: patchable */
	uint64		end;
} LogBounds;

static void
ReadLogBounds(LogBounds *b)
{
	b->exists = EngramEdgeLogBounds(&b->oldest, &b->end);
}

/*
 * Whether a graph built under v can serve a query at version now: as it
 * is, or patched (patch.c)
 */
static bool
Servable(const EdgeVersion *v, uint64 now, const LogBounds *log)
{
	return v->version == now || (log->exists && v->log_pos >= log->oldest);
}

/*
 * Unpin every graph built before version now that the change log cannot
 * patch: none can serve a query again (versions only grow, the log only
 * moves on), and the last backend mapping one frees it
 */
static void
UnpinStale(uint64 now)
{
	dsm_handle	stale[SHARED_GRAPHS];
	int			n = 0;
	LogBounds	log;

	ReadLogBounds(&log);
	SpinLockAcquire(&adjacency_shared->mutex);
	for (int i = 0; i < SHARED_GRAPHS; i++)
	{
		SharedGraph *g = &adjacency_shared->graphs[i];

		if (g->handle != DSM_HANDLE_INVALID && !Servable(&g->built, now, &log))
		{
			stale[n++] = g->handle;
			g->handle = DSM_HANDLE_INVALID;
			g->bytes = 0;
		}
	}
	SpinLockRelease(&adjacency_shared->mutex);
	for (int i = 0; i < n; i++)
		dsm_unpin_segment(stale[i]);
}

/*
 * Unpin other tables' graphs, least recently used first, until size bytes
 * more fit in limit
 */
static void
MakeRoom(const SharedGraph *self, Size size, Size limit)
{
	for (;;)
	{
		dsm_handle	victim = DSM_HANDLE_INVALID;
		SharedGraph *lru = NULL;
		Size		total = 0;

		SpinLockAcquire(&adjacency_shared->mutex);
		for (int i = 0; i < SHARED_GRAPHS; i++)
		{
			SharedGraph *g = &adjacency_shared->graphs[i];

			if (g == self || g->handle == DSM_HANDLE_INVALID)
				continue;
			total += g->bytes;
			if (lru == NULL || g->last_used < lru->last_used)
				lru = g;
		}
		if (lru != NULL && total + size > limit)
		{
			victim = lru->handle;
			lru->handle = DSM_HANDLE_INVALID;
			lru->bytes = 0;
		}
		SpinLockRelease(&adjacency_shared->mutex);
		if (victim == DSM_HANDLE_INVALID)
			return;
		dsm_unpin_segment(victim);
	}
}

/*
 * Map the graph of adj's table if shared memory holds one that can serve
 * version now
 */
static bool
Attach(Adjacency *adj, uint64 now)
{
	dsm_handle	handle = DSM_HANDLE_INVALID;
	EdgeVersion built = {0};
	SharedGraph *g;
	dsm_segment *seg;
	GraphHeader *h;
	LogBounds	log;

	ReadLogBounds(&log);
	SpinLockAcquire(&adjacency_shared->mutex);
	g = FindShared(adj->relid);
	if (g != NULL && g->handle != DSM_HANDLE_INVALID &&
		(g->built.version == now ||
		 (engram_adjacency_cache_patch && Servable(&g->built, now, &log))))
	{
		handle = g->handle;
		built = g->built;
	}
	SpinLockRelease(&adjacency_shared->mutex);
	if (handle == DSM_HANDLE_INVALID)
		return false;

	/* NULL: unpinned and freed since; another header: the handle reused */
	seg = dsm_attach(handle);
	if (seg == NULL)
		return false;
	h = (GraphHeader *) dsm_segment_address(seg);
	if (h->dbid != MyDatabaseId || h->relid != adj->relid || h->version != built.version)
	{
		dsm_detach(seg);
		return false;
	}
	dsm_pin_mapping(seg);		/* mapped for the session, not the query */
	SetGraph(adj, seg, &built);
	return true;
}

/*
 * A new segment of size bytes mapped for the session, or NULL when there
 * is no room (the implementation reports a full /dev/shm as an ERROR; it
 * must not fail the spread, which reads the index instead)
 */
static dsm_segment *
CreateSegment(Size size)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	dsm_segment *volatile seg = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		seg = dsm_create(size, DSM_CREATE_NULL_IF_MAXSEGMENTS);
		if (seg != NULL)
			dsm_pin_mapping(seg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ereport(LOG,
				(errmsg("engram adjacency cache: no shared memory segment of %zu bytes: %s",
						size, edata->message)));
		FreeErrorData(edata);
		seg = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return seg;
}

/*
 * The graph went to a segment of its own, in pages of 4 kB, while the main
 * segment is in huge pages: at 1M memories, 1-client spreads had a p99
 * about a quarter lower with the graph in the main segment (README,
 * "Cognitive memory").  PostgreSQL carves segments out of the main one up
 * to min_dynamic_shared_memory; a rebuild makes the new graph while the
 * old one is still mapped, hence twice the size.  Said once per memory
 * table (while shared memory describes its graph), not at every rebuild.
 */
#if PG_VERSION_NUM >= 140000
static void
HintMainSegment(Oid relid, Size size)
{
	char	   *name = get_rel_name(relid);

	ereport(LOG,
			(errmsg("engram adjacency cache: the graph of \"%s\" (%zu MB) is not in huge pages",
					name ? name : "?", size / (1024 * 1024) + 1),
			 errhint("Set min_dynamic_shared_memory to at least %zu MB to place it in the main shared memory segment.",
					 2 * (size / (1024 * 1024) + 1))));
}
#endif

/* qsort order of edges: by destination */
static int
CompareEdges(const void *a, const void *b)
{
	int32		x = ((const AdjacencyEdge *) a)->dst;
	int32		y = ((const AdjacencyEdge *) b)->dst;

	return (x > y) - (x < y);
}

/* rows up to this long are sorted by insertion */
#define SHORT_ROW 32

/*
 * The arrays of g into seg, after its header: the rows in node order, each
 * sorted by destination node (the order the spread's prefetches run in).
 * No interrupts: the segment is not pinned yet, and its mapping would stay
 * until the backend exits.
 */
static void
CopyGraph(dsm_segment *seg, const GraphHeader *layout, const LocalGraph *g)
{
	char	   *base = dsm_segment_address(seg);
	int64	   *offsets = (int64 *) (base + layout->offsets_off);
	AdjacencyEdge *edges = (AdjacencyEdge *) (base + layout->edges_off);
	int64		e = 0;

	memcpy(base, layout, sizeof(GraphHeader));
	memcpy(base + layout->ids_off, g->ids, sizeof(int64) * g->nnodes);
	memcpy(base + layout->node_of_rank_off, g->node_of_rank, sizeof(int32) * g->nnodes);
	memcpy(base + layout->rank_of_node_off, g->rank_of_node, sizeof(int32) * g->nnodes);
	for (int node = 0; node < g->nnodes; node++)
	{
		int32		rank = g->rank_of_node[node];
		int64		row = e;

		int64		len = g->offsets[rank + 1] - g->offsets[rank];

		offsets[node] = row;
		for (int64 r = g->offsets[rank]; r < g->offsets[rank + 1]; r++)
		{
			AdjacencyEdge edge = {g->node_of_rank[g->dst[r]], g->weight[r]};
			int64		pos = e++;

			/* insertion for the usual short rows (auto_link k gives ~2k) */
			while (len <= SHORT_ROW && pos > row && edges[pos - 1].dst > edge.dst)
			{
				edges[pos] = edges[pos - 1];
				pos--;
			}
			edges[pos] = edge;
		}
		if (len > SHORT_ROW)
			qsort(&edges[row], len, sizeof(AdjacencyEdge), CompareEdges);
	}
	offsets[g->nnodes] = e;
	Assert(e == g->nedges);
}

/* Not building slot's graph any more (also on error and exit) */
static void
ReleaseClaim(int code, Datum arg)
{
	SharedGraph *slot = (SharedGraph *) DatumGetPointer(arg);

	SpinLockAcquire(&adjacency_shared->mutex);
	if (slot->builder == MyProcPid)
		slot->builder = 0;
	SpinLockRelease(&adjacency_shared->mutex);
}

/*
 * Remember that the graph at version did not fit in limit, or in shared
 * memory: it is not tried again at that version unless limit grows
 */
static void
MarkOversized(SharedGraph *slot, const EdgeVersion *v, Size limit)
{
	SpinLockAcquire(&adjacency_shared->mutex);
	slot->oversized_version = v->version;
	slot->oversized_limit = limit;
	slot->tried_log_pos = v->log_pos;
	SpinLockRelease(&adjacency_shared->mutex);
	elog(DEBUG1, "engram adjacency cache of relation %u: more than engram.adjacency_cache_size or than shared memory holds",
		 slot->relid);
}

/*
 * Read the table's edges from a fresh snapshot, copy them into a segment of
 * their own and publish it in slot, which this backend has claimed; false
 * when they do not fit in the size limit or shared memory
 */
static bool
Build(Adjacency *adj, const EdgeVersion *v, SharedGraph *slot)
{
	Size		limit = (Size) engram_adjacency_cache_size * 1024;
	MemoryContext old;
	AdjBuild	b;
	LocalGraph	g;
	GraphHeader layout;
	Size		size = 0;
	Snapshot	snapshot;
	EdgeReader *reader;
	dsm_segment *seg = NULL;
	dsm_handle	replaced;
	bool		in_main;
	bool		hint;
	instr_time	start;
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(start);
	b.cxt = AllocSetContextCreate(CurrentMemoryContext, "engram adjacency build",
								  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(b.cxt);
	b.srcs_size = 1024;
	b.edges_size = 8192;
	b.srcs = MemoryContextAllocHuge(b.cxt, sizeof(int64) * b.srcs_size);
	b.starts = MemoryContextAllocHuge(b.cxt, sizeof(int64) * b.srcs_size);
	b.dst_ids = MemoryContextAllocHuge(b.cxt, sizeof(int64) * b.edges_size);
	b.weights = MemoryContextAllocHuge(b.cxt, sizeof(float4) * b.edges_size);
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
	MemoryContextSwitchTo(old);

	if (!b.overflow)
	{
		BuildRows(&b, &g);
		NumberByLocality(&g, b.cxt);
		size = SegmentLayout(&g, &layout);
		layout.dbid = MyDatabaseId;
		layout.relid = adj->relid;
		layout.version = v->version;
		layout.nnodes = g.nnodes;
		layout.nedges = g.nedges;
	}
	if (!b.overflow && size <= limit)
	{
		MakeRoom(slot, size, limit);
		seg = CreateSegment(size);	/* NULL: no room in shared memory */
	}
	if (seg == NULL)
	{
		MemoryContextDelete(b.cxt);
		MarkOversized(slot, v, limit);
		return false;
	}
	in_main = ShmemAddrIsValid(dsm_segment_address(seg));
	CopyGraph(seg, &layout, &g);
	MemoryContextDelete(b.cxt);
	dsm_pin_segment(seg);		/* outlives this backend */
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	SpinLockAcquire(&adjacency_shared->mutex);
	replaced = slot->handle;
	slot->handle = dsm_segment_handle(seg);
	slot->built = *v;
	slot->bytes = size;
	slot->main_segment = in_main;
	hint = !in_main && !slot->hinted && huge_pages == HUGE_PAGES_ON;
	slot->hinted |= hint;
	slot->build_seconds = INSTR_TIME_GET_DOUBLE(elapsed);
	slot->builds++;
	slot->last_used = ++adjacency_shared->clock;
	slot->builder = 0;
	SpinLockRelease(&adjacency_shared->mutex);
	if (replaced != DSM_HANDLE_INVALID)
		dsm_unpin_segment(replaced);

	SetGraph(adj, seg, v);
	adj->builds++;
#if PG_VERSION_NUM >= 140000
	if (hint)
		HintMainSegment(adj->relid, size);
#endif
	elog(DEBUG1, "engram adjacency cache of relation %u: %d nodes, %lld edges, %zu bytes in %.3f s",
		 adj->relid, adj->nnodes, (long long) adj->nedges, size,
		 INSTR_TIME_GET_DOUBLE(elapsed));
	return true;
}

/*
 * Build with the claim on slot given up whatever happens (not inlined: the
 * caller's variables would live across the setjmp)
 */
static pg_noinline bool
BuildClaimed(Adjacency *adj, const EdgeVersion *v, SharedGraph *slot)
{
	bool		ok;

	PG_ENSURE_ERROR_CLEANUP(ReleaseClaim, PointerGetDatum(slot));
	{
		ok = Build(adj, v, slot);
	}
	PG_END_ENSURE_ERROR_CLEANUP(ReleaseClaim, PointerGetDatum(slot));
	ReleaseClaim(0, PointerGetDatum(slot));
	return ok;
}

/*
 * Build the graph of adj's table if the rules allow it and it pays off;
 * true when adj then maps a graph (built here or, meanwhile, elsewhere).
 * A graph adj maps stays mapped unless another replaces it.
 *
 * A stale graph is rebuilt once the version has settled (see the top of
 * the file) or, when it is patched, once the change log has moved on by
 * half its size since the build (or further: the graph could not be
 * patched any more and was unpinned): patches then stay small, and the
 * log rarely overwrites what they need.
 *
 * A newer graph replaces adj's only if it can serve snapshot (when given):
 * a REPEATABLE READ transaction older than the newer graph's build keeps
 * the graph it has, patched, rather than read the index from then on.
 */
static bool
MaybeBuild(Adjacency *adj, bool force, Snapshot snapshot)
{
	Size		limit = (Size) engram_adjacency_cache_size * 1024;
	EdgeVersion v;
	TimestampTz changed;
	TimestampTz now;
	SharedGraph *slot;
	dsm_handle	unpin = DSM_HANDLE_INVALID;
	bool		build = false;
	bool		attach = false;
	bool		launch = false;
	bool		newer = false;
	EdgeVersion newer_built;

	if (!EngramEdgeVersionRead(&v, &changed))
		return adj->valid;		/* a modifier is in flight */
	now = GetCurrentTimestamp();

	SpinLockAcquire(&adjacency_shared->mutex);
	slot = ClaimShared(adj->relid, &unpin);
	if (slot != NULL && slot->builder == 0)
	{
		bool		pinned = slot->handle != DSM_HANDLE_INVALID;

		if (pinned && (slot->built.version == v.version ||
					   (adj->valid && slot->built.version > adj->built.version)))
		{
			/* current, or newer than adj's: patches less */
			attach = true;
			newer = adj->valid;
			newer_built = slot->built;
		}
		else if (!(slot->oversized_version == v.version && slot->oversized_limit >= limit) &&
				 (force || slot->builds == 0 ||
				  TimestampDifferenceExceeds(changed, now,
											 (int) (slot->build_seconds * 1000 *
													engram_adjacency_cache_settle)) ||
				  (engram_adjacency_cache_patch &&
				   v.log_pos - Max(slot->built.log_pos, slot->tried_log_pos) >
				   (uint64) engram_adjacency_change_log / 2)))
		{
			if (engram_adjacency_cache_background && !force)
			{
				/*
				 * Build in the background, once; meanwhile adj serves
				 * (patched) or the index does
				 */
				if (slot->launched == 0 ||
					TimestampDifferenceExceeds(slot->launched, now, BACKGROUND_BUILD_TIMEOUT_MS))
				{
					slot->launched = now;
					launch = true;
				}
			}
			else
			{
				slot->builder = MyProcPid;
				slot->launched = 0;
				build = true;
			}
		}
	}
	SpinLockRelease(&adjacency_shared->mutex);
	if (unpin != DSM_HANDLE_INVALID)
		dsm_unpin_segment(unpin);
	if (newer && snapshot != NULL && !EngramEdgeSnapshotCurrent(snapshot, &newer_built))
		return adj->valid;
	if (attach)
		return Attach(adj, EngramEdgeVersionNow()) || adj->valid;
	if (launch && !LaunchBuilder(adj->relid) && !adj->valid)
	{
		/* no worker to be had: build here rather than read the index */
		SetLaunched(adj->relid, 0);
		return MaybeBuild(adj, true, NULL);
	}
	if (!build)
		return adj->valid;
	return BuildClaimed(adj, &v, slot) || adj->valid;
}

/* when a background build of relid's graph was asked for (0: none is) */
static void
SetLaunched(Oid relid, TimestampTz when)
{
	SharedGraph *slot;

	SpinLockAcquire(&adjacency_shared->mutex);
	slot = FindShared(relid);
	if (slot != NULL)
		slot->launched = when;
	SpinLockRelease(&adjacency_shared->mutex);
}

/* what a background builder needs of the backend that asked for it */
typedef struct BuilderArgs
{
	Oid			dbid;
	int			cache_size;		/* the asker's engram.adjacency_cache_size */
} BuilderArgs;

StaticAssertDecl(sizeof(BuilderArgs) <= BGW_EXTRALEN, "BuilderArgs must fit in bgw_extra");

/*
 * Ask the postmaster for a background worker that builds the graph of
 * relid, so that no query waits seconds for the build: meanwhile a stale
 * graph serves patched, or the index serves.  false if none can start.
 */
static bool
LaunchBuilder(Oid relid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BuilderArgs args;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "engram");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "engram_adjacency_build_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "engram adjacency build of %u", relid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "engram adjacency build");
	worker.bgw_main_arg = ObjectIdGetDatum(relid);
	memset(&args, 0, sizeof(args));
	args.dbid = MyDatabaseId;
	args.cache_size = engram_adjacency_cache_size;
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = 0;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		elog(DEBUG1, "engram: no background worker for the adjacency build of relation %u", relid);
		return false;
	}
	elog(DEBUG1, "engram: background build of the adjacency graph of relation %u asked for", relid);
	return true;
}

/* whether a backend is building the graph of relid */
static bool
BuildUnderWay(Oid relid)
{
	SharedGraph *slot;
	bool		busy;

	SpinLockAcquire(&adjacency_shared->mutex);
	slot = FindShared(relid);
	busy = slot != NULL && slot->builder != 0;
	SpinLockRelease(&adjacency_shared->mutex);
	return busy;
}

static bool builder_built = false;	/* this background worker built */

/*
 * The end of a background build: built, the next stale graph may launch
 * another at once; else (writes never paused, the graph does not fit, an
 * error) not before BACKGROUND_BUILD_TIMEOUT_MS from now
 */
static void
BuilderDone(int code, Datum arg)
{
	SetLaunched(DatumGetObjectId(arg), builder_built ? 0 : GetCurrentTimestamp());
}

/*
 * The background worker: rebuild the graph of the memory table as soon as
 * no modifier is in flight, polling shared memory every 10 ms for up to
 * BACKGROUND_BUILD_TIMEOUT_MS before it connects (a connection would hold
 * off DROP DATABASE meanwhile).  It stops once it has built, or when a
 * build it could start did not happen (the graph does not fit, another
 * backend built it): nothing is gained by trying again at once.
 */
PGDLLEXPORT void engram_adjacency_build_main(Datum arg);

void
engram_adjacency_build_main(Datum arg)
{
	Oid			relid = DatumGetObjectId(arg);
	BuilderArgs args;
	bool		connected = false;
	bool		stop = false;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	/* die(), not bgworker_die(): no FATAL inside a signal handler */
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	before_shmem_exit(BuilderDone, ObjectIdGetDatum(relid));
	for (int attempt = 0; attempt < BACKGROUND_BUILD_TIMEOUT_MS / 10 && !stop; attempt++)
	{
		CHECK_FOR_INTERRUPTS();
		if (EngramEdgeVersionQuiet())
		{
			if (!connected)
			{
				BackgroundWorkerInitializeConnectionByOid(args.dbid, InvalidOid, 0);
				engram_adjacency_cache_size = args.cache_size;
				connected = true;
			}
			StartTransactionCommand();
			builder_built = MaybeBuild(Entry(relid), true, NULL);
			CommitTransactionCommand();
			/* false while quiet and nobody building: nothing to do */
			stop = builder_built || (EngramEdgeVersionQuiet() && !BuildUnderWay(relid));
		}
		if (!stop)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	proc_exit(0);
}

/* A use of the graph, for the choice of what to unpin when room is short */
static void
Touch(Adjacency *adj)
{
	SharedGraph *g;

	SpinLockAcquire(&adjacency_shared->mutex);
	g = FindShared(adj->relid);
	if (g != NULL)
		g->last_used = ++adjacency_shared->clock;
	SpinLockRelease(&adjacency_shared->mutex);
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
	uint64		now;
	uint64		log_end;

	if (!engram_adjacency_cache || !EngramEdgeVersionAvailable() ||
		adjacency_shared == NULL)
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

	now = EngramEdgeVersionNow();
	if (adj->valid && adj->built.version != now &&
		!(engram_adjacency_cache_patch && EngramEdgeLogPatchable(adj->built.log_pos, &log_end)))
		Detach(adj);			/* stale for good: a modifier began since */
	if (adj->valid && adj->built.version != now)
		(void) MaybeBuild(adj, false, snapshot);	/* stale but patchable: a newer graph? */
	if (!adj->valid)
	{
		Detach(adj);			/* what an error in SetGraph may have left */
		UnpinStale(now);
		if (!Attach(adj, now) && !MaybeBuild(adj, false, snapshot))
		{
			adj->misses++;
			return NULL;
		}
	}
	if (!EngramEdgeSnapshotCurrent(snapshot, &adj->built))
	{
		adj->misses++;			/* an older snapshot than the build's */
		return NULL;
	}
	if (adj->built.version == EngramEdgeVersionNow())
		adj->patched = false;	/* no modifier began since the build */
	else if (!EngramPatchRefresh(adj, snapshot))
	{
		adj->misses++;			/* a change since that no patch covers */
		return NULL;
	}
	Touch(adj);
	adj->hits++;
	if (adj->patched)
		adj->patched_hits++;
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
		Datum		values[10];
		bool		nulls[10] = {0};

		values[0] = ObjectIdGetDatum(a->relid);
		values[1] = BoolGetDatum(a->valid);
		values[2] = Int64GetDatum((int64) a->nnodes);
		values[3] = Int64GetDatum(a->nedges);
		values[4] = Int64GetDatum((int64) a->bytes);
		values[5] = Int64GetDatum((int64) a->builds);
		values[6] = Int64GetDatum((int64) a->hits);
		values[7] = Int64GetDatum((int64) a->misses);
		values[8] = Int64GetDatum((int64) a->patched_hits);
		values[9] = Int64GetDatum(EngramPatchSources(a));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * engram.adjacency_cache_graphs(): the graphs shared memory describes for
 * this database's memory tables, whoever built them
 */
PG_FUNCTION_INFO_V1(engram_adjacency_cache_graphs);
Datum
engram_adjacency_cache_graphs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SharedGraph graphs[SHARED_GRAPHS];
	uint64		now = EngramEdgeVersionNow();

	InitMaterializedSRF(fcinfo, 0);
	if (adjacency_shared == NULL)
		return (Datum) 0;
	SpinLockAcquire(&adjacency_shared->mutex);
	memcpy(graphs, adjacency_shared->graphs, sizeof(graphs));
	SpinLockRelease(&adjacency_shared->mutex);
	for (int i = 0; i < SHARED_GRAPHS; i++)
	{
		SharedGraph *g = &graphs[i];
		bool		pinned = g->handle != DSM_HANDLE_INVALID;
		Datum		values[8];
		bool		nulls[8] = {0};

		if (g->dbid != MyDatabaseId)
			continue;
		values[0] = ObjectIdGetDatum(g->relid);
		values[1] = BoolGetDatum(pinned);
		values[2] = BoolGetDatum(pinned && g->built.version == now);
		values[3] = Int64GetDatum((int64) g->bytes);
		values[4] = Int64GetDatum((int64) g->builds);
		values[5] = Float8GetDatum(g->build_seconds);
		values[6] = Int32GetDatum(g->builder);
		nulls[6] = g->builder == 0;
		values[7] = BoolGetDatum(pinned && g->main_segment);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
