/*-------------------------------------------------------------------------
 *
 * spread.c
 *	  Spreading activation over the associations of a memory table.
 *
 * The definition (README.md, "Cognitive memory"): seeds start with their
 * activation and hop 0; every hop sends the energy of the frontier along
 * the outgoing edges, scaled by weight and decay; a node's activation grows
 * by what arrives (capped at 1), and only arrivals of at least the threshold
 * carry on.  The edges come from the backend's adjacency cache of the
 * table when it may serve the query (adjacency.c), where nodes are found
 * by their index in the cache; otherwise each hop is one index scan over
 * engram.associations for the whole frontier ("src = ANY(frontier)" on the
 * primary key's index, read directly: edges.c), and a hash table finds the
 * nodes.  Both visit a hop's sources in ascending id order (a source sends
 * a node energy along one edge at most, so the order of a source's edges
 * does not matter), so the sums are added in the same order and the
 * results are the same to the bit.
 * Sums are kept in double precision; results are reported as real.
 *
 * src/memory/spread.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"

#include "memory/memory.h"
#include "stats.h"

#define SPREAD_MAX_HOPS 10

/*
 * The working arrays of spreads, kept by the backend from one spread to the
 * next.  Allocated and freed per call, glibc now and then gave their pages
 * back to the kernel and the next spread faulted them in again: at 100K
 * memories, the 3% of spreads that took page faults took 1.5 to 3.5 times
 * as long as the others, and made the p99.  The node array was also copied
 * at every doubling.  Lent to one spread at a time, until the memory
 * context that spread ran in goes away (another spread meanwhile, say from
 * a trigger that reinforce fires, allocates its own); kept while they take
 * at most SCRATCH_KEEP bytes.
 */
typedef enum ScratchArray
{
	SCRATCH_NODES,
	SCRATCH_TOUCHED,
	SCRATCH_FRONTIER,
	SCRATCH_FRONTIER_SORT,		/* the frontier's radix sort's second array */
	SCRATCH_KEPT,
	SCRATCH_RESULT,
	SCRATCH_KEYS,
	SCRATCH_KEYS_SORT,
	SCRATCH_ARRAYS
} ScratchArray;

typedef struct SpreadScratch
{
	MemoryContext cxt;			/* the arrays' context, once made */
	bool		lent;
	bool		known;			/* where every array is, and its size */
	MemoryContextCallback giveback;
	void	   *array[SCRATCH_ARRAYS];
	Size		bytes[SCRATCH_ARRAYS];
} SpreadScratch;

#define SCRATCH_KEEP (8 * 1024 * 1024)

static SpreadScratch scratch;

static void
ScratchForget(void)
{
	MemoryContextReset(scratch.cxt);
	memset(scratch.array, 0, sizeof(scratch.array));
	memset(scratch.bytes, 0, sizeof(scratch.bytes));
}

/* the borrower's memory context goes away */
static void
ScratchGiveBack(void *arg)
{
	Size		total = 0;

	for (int i = 0; i < SCRATCH_ARRAYS; i++)
		total += scratch.bytes[i];
	/* after an error in a spread, arrays may have moved unrecorded */
	if (!scratch.known || total > SCRATCH_KEEP)
		ScratchForget();
	scratch.lent = false;
}

/*
 * Borrow the arrays until CurrentMemoryContext is reset or deleted; false
 * if another spread has them
 */
static bool
ScratchBorrow(void)
{
	if (scratch.lent)
		return false;
	if (scratch.cxt == NULL)
		scratch.cxt = AllocSetContextCreate(TopMemoryContext, "engram spread scratch",
											ALLOCSET_SMALL_SIZES);
	scratch.lent = true;
	scratch.known = false;		/* until the spread records its grown arrays */
	scratch.giveback.func = ScratchGiveBack;
	scratch.giveback.arg = NULL;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &scratch.giveback);
	return true;
}

/*
 * Room for at least bytes in one of the borrowed arrays (its contents are
 * not kept); *bytes_out says how much there is
 */
static void *
ScratchGet(ScratchArray which, Size bytes, Size *bytes_out)
{
	Assert(scratch.lent);
	if (scratch.bytes[which] < bytes)
	{
		if (scratch.array[which] != NULL)
			pfree(scratch.array[which]);
		/* recorded as empty in case the allocation fails */
		scratch.array[which] = NULL;
		scratch.bytes[which] = 0;
		scratch.array[which] = MemoryContextAlloc(scratch.cxt, bytes);
		scratch.bytes[which] = bytes;
	}
	if (bytes_out)
		*bytes_out = scratch.bytes[which];
	return scratch.array[which];
}

/*
 * An array of a spread: a borrowed one, or one of the current context
 */
static void *
SpreadArray(bool borrowed, ScratchArray which, Size bytes, Size *bytes_out)
{
	if (borrowed)
		return ScratchGet(which, bytes, bytes_out);
	if (bytes_out)
		*bytes_out = bytes;
	return palloc(bytes);
}

/* the end of the use of an array of SpreadArray() */
static void
SpreadArrayDone(bool borrowed, void *array)
{
	if (!borrowed)
		pfree(array);
}

/*
 * Record where an array the spread grew (by repalloc) is now
 */
static void
ScratchKeep(ScratchArray which, void *array, Size bytes)
{
	scratch.array[which] = array;
	scratch.bytes[which] = bytes;
}

/*
 * Check the parameters of a spread, with the errors the SQL API documents
 */
void
EngramSpreadValidate(int max_hops, float4 decay, float4 threshold)
{
	if (max_hops < 0 || max_hops > SPREAD_MAX_HOPS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_hops must be between 0 and %d", SPREAD_MAX_HOPS),
				 errdetail("The value given was %d.", max_hops)));
	/* written so that NaN fails too */
	if (!(decay > 0 && decay <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("decay must be greater than 0 and at most 1"),
				 errdetail("The value given was %g.", decay)));
	if (!(threshold >= 0 && threshold <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold must be between 0 and 1"),
				 errdetail("The value given was %g.", threshold)));
}

/* id -> position in the node array (nodes move when the array grows) */
typedef struct NodeSlot
{
	int64		id;
	uint32		node;
	char		status;
} NodeSlot;

#define SH_PREFIX nodemap
#define SH_ELEMENT_TYPE NodeSlot
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* a spread in progress: what the edge callback needs */
typedef struct SpreadState
{
	nodemap_hash *map;
	SpreadNode *nodes;
	int			nnodes;
	int			nodes_size;
	int		   *touched;		/* nodes that received energy this hop */
	int			ntouched;
	int			touched_size;
	int			hop;
	double		decay;
	int64		nedges;			/* edges read this hop */
	int			from;			/* source of the previous edge (edges come */
	int64		from_id;		/* grouped by source), -1 if none */
	bool		borrowed;		/* the arrays are the backend's scratch */
	int64	   *frontier_sort;	/* room for the frontier's radix sort */
} SpreadState;

/*
 * A new node: activation 0, no hop
 */
static inline int
NewNode(SpreadState *st, int64 id, int32 cidx, int32 rank)
{
	SpreadNode *n;

	if (st->nnodes == st->nodes_size)
	{
		st->nodes_size *= 2;
		st->nodes = repalloc(st->nodes, sizeof(SpreadNode) * st->nodes_size);
	}
	n = &st->nodes[st->nnodes];
	n->id = id;
	n->activation = 0;
	n->energy = 0;
	n->incoming = 0;
	n->similarity = -1;
	n->hops = -1;
	n->stamp = 0;
	n->cidx = cidx;
	n->rank = rank;
	return st->nnodes++;
}

/*
 * The node of id, added if new (index path)
 */
static inline int
NodeFor(SpreadState *st, int64 id)
{
	bool		found;
	NodeSlot   *slot = nodemap_insert(st->map, id, &found);

	if (!found)
		slot->node = NewNode(st, id, -1, -1);
	return slot->node;
}

/*
 * The node of the cache's node index cidx, added if new (cache path).  Its
 * id is looked up only if it is returned (EngramSpreadSorted): here it
 * would be one more cache miss on the critical path of every new node.
 */
static inline int
NodeForIndex(SpreadState *st, Adjacency *adj, int32 cidx)
{
	AdjacencySlot *slot = &adj->slots[cidx];

	if (slot->stamp != adj->generation)
	{
		slot->stamp = adj->generation;
		slot->node = NewNode(st, 0, cidx, adj->rank_of_node[cidx]);
	}
	return slot->node;
}

/*
 * incoming[to] += energy * w * decay
 */
static inline void
AddIncoming(SpreadState *st, int to, double energy, float4 weight)
{
	SpreadNode *n = &st->nodes[to];

	if (n->stamp != st->hop)
	{
		n->stamp = st->hop;
		n->incoming = 0;
		if (st->ntouched == st->touched_size)
		{
			st->touched_size *= 2;
			st->touched = repalloc(st->touched, sizeof(int) * st->touched_size);
		}
		st->touched[st->ntouched++] = to;
	}
	n->incoming += energy * (double) weight * st->decay;
}

/*
 * One edge out of the frontier, as the index returns it (index path)
 */
static void
ReceiveEnergy(void *arg, int64 src, int64 dst, float4 weight)
{
	SpreadState *st = (SpreadState *) arg;
	int			to;

	st->nedges++;
	if (st->from < 0 || st->from_id != src)
	{
		NodeSlot   *slot = nodemap_lookup(st->map, src);

		Assert(slot != NULL);
		st->from = slot->node;
		st->from_id = src;
	}
	to = NodeFor(st, dst);		/* may move the nodes */
	AddIncoming(st, to, st->nodes[st->from].energy, weight);
}

/*
 * A hop's frontier on the cache path in ascending order: by a radix sort of
 * the bits that hold the rank, few entries by a comparison sort.  Entries
 * compare as unsigned: 2 rank + 1 takes bit 31 of the high half from 2^30
 * nodes on.
 */
#define ST_SORT sort_frontier
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) (((uint64) *(a) > (uint64) *(b)) - ((uint64) *(a) < (uint64) *(b)))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

#define RS_SORT RadixSortFrontier
#define RS_ELEMENT_TYPE int64
#define RS_KEY(elem) ((uint64) (elem))
#define RS_SMALL_SORT sort_frontier
#include "memory/radix_template.h"

/*
 * A cache path frontier entry sorts by id: 2 rank + 1 in the high half for
 * a node of the cache (rank: its position among the cache's ids), with its
 * node index in the low half.  A node outside the cache, reached through a
 * patch, has 2 lb there, lb being the number of cache ids below its own,
 * so that it sorts between the right cache nodes, and its position in the
 * spread's node array, flagged, in the low half; several such nodes with
 * the same lb are put in id order after the sort (OrderOutsideTies).
 */
#define FRONTIER_OUTSIDE 0x80000000
#define FRONTIER_HIGH(entry) ((uint64) (entry) >> 32)
#define FRONTIER_NODE(entry) ((int32) ((entry) & PG_INT32_MAX))

static inline int64
FrontierEntry(const SpreadNode *node, int index)
{
	if (node->cidx >= 0)
		return (int64) ((((uint64) node->rank * 2 + 1) << 32) | (uint32) node->cidx);
	return (int64) ((((uint64) node->rank * 2) << 32) | FRONTIER_OUTSIDE | (uint32) index);
}

/* the bits of a frontier entry the sort needs to look at */
static inline int
FrontierBits(const Adjacency *adj)
{
	return 32 + pg_leftmost_one_pos64((uint64) adj->nnodes * 2 + 1) + 1;
}

/* how far ahead a hop prefetches: a source's row bounds, edges, destinations */
#define PREFETCH_OFFSETS_AHEAD 12
#define PREFETCH_EDGES_AHEAD 6
#define PREFETCH_SLOTS_AHEAD 3

/*
 * The node of an id the cache does not hold, added if new (patched cache
 * path); its rank field holds the number of cache ids below it
 */
static inline int
NodeOutside(SpreadState *st, Adjacency *adj, int64 id)
{
	bool		found;
	NodeSlot   *slot = nodemap_insert(st->map, id, &found);

	if (!found)
		slot->node = NewNode(st, id, -1, EngramAdjacencyIdsBelow(adj->ids, adj->nnodes, id));
	return slot->node;
}

/* The spread's node of a cache path frontier entry */
static inline int
FrontierIndex(const Adjacency *adj, int64 entry)
{
	if (entry & FRONTIER_OUTSIDE)
		return FRONTIER_NODE(entry);
	return adj->slots[FRONTIER_NODE(entry)].node;
}

static int
CompareNodeIds(const void *a, const void *b, void *arg)
{
	const SpreadNode *nodes = (const SpreadNode *) arg;
	int64		x = nodes[FRONTIER_NODE(*(const int64 *) a)].id;
	int64		y = nodes[FRONTIER_NODE(*(const int64 *) b)].id;

	return (x > y) - (x < y);
}

/*
 * After the sort, put each run of nodes outside the cache that share
 * their place among the cache's ids in id order (new memories all come
 * after the cache's largest id, so such runs are common)
 */
static void
OrderOutsideTies(const SpreadState *st, int64 *frontier, int nfrontier)
{
	for (int i = 0; i < nfrontier;)
	{
		int			j = i + 1;

		if (frontier[i] & FRONTIER_OUTSIDE)
		{
			while (j < nfrontier && FRONTIER_HIGH(frontier[j]) == FRONTIER_HIGH(frontier[i]))
				j++;
			if (j - i > 1)
				qsort_arg(&frontier[i], j - i, sizeof(int64), CompareNodeIds, st->nodes);
		}
		i = j;
	}
}

/*
 * The out-edges of a source the patch holds: a node whose edges changed
 * since the build, or one the cache does not hold (new memories are found
 * by id)
 */
static void
PatchedSource(SpreadState *st, Adjacency *adj, int64 entry)
{
	SpreadNode *u = &st->nodes[FrontierIndex(adj, entry)];
	double		energy = u->energy;
	int64		id = u->cidx >= 0 ? adj->ids[u->rank] : u->id;
	int			count = 0;
	const PatchEdge *edges = EngramPatchRow(adj, id, &count);

	if (edges == NULL)
		return;					/* outside the cache and unchanged: no edges */
	for (int e = 0; e < count; e++)
		AddIncoming(st, edges[e].cidx >= 0 ? NodeForIndex(st, adj, edges[e].cidx) :
					NodeOutside(st, adj, edges[e].dst),
					energy, edges[e].weight);
	st->nedges += count;
}

/* a node index of the cache to prefetch the row of, or -1 */
static inline int32
CachedAhead(const int64 *frontier, int nfrontier, int i)
{
	if (i >= nfrontier || (frontier[i] & FRONTIER_OUTSIDE))
		return -1;
	return FRONTIER_NODE(frontier[i]);
}

/*
 * One hop over the cache: the frontier holds node indexes, visited in
 * ascending order of their ranks (= ascending id, as the index path visits
 * them).  Each source's row is a cache miss, so the rows of the sources a
 * few places ahead are prefetched: first their bounds, then (once those
 * have arrived) their edges, then their destinations' slots and ranks (a
 * new node's rank unprefetched was a third of the hop's time).  With a
 * patch (adj->patched), the sources it holds take their edges from it.
 */
static void
HopCached(SpreadState *st, Adjacency *adj, int64 *frontier, int nfrontier)
{
	const int64 *offsets = adj->offsets;
	const AdjacencyEdge *edges = adj->edges;
	bool		patched = adj->patched;

	RadixSortFrontier(frontier, nfrontier, 32, FrontierBits(adj), st->frontier_sort);
	if (patched)
		OrderOutsideTies(st, frontier, nfrontier);
	for (int i = 0; i < nfrontier; i++)
	{
		int32		u;
		int32		w;
		double		energy;
		int64		end;

		if ((w = CachedAhead(frontier, nfrontier, i + PREFETCH_OFFSETS_AHEAD)) >= 0)
			__builtin_prefetch(&offsets[w]);
		if ((w = CachedAhead(frontier, nfrontier, i + PREFETCH_EDGES_AHEAD)) >= 0)
			__builtin_prefetch(&edges[offsets[w]]);
		if ((w = CachedAhead(frontier, nfrontier, i + PREFETCH_SLOTS_AHEAD)) >= 0)
		{
			for (int64 e = offsets[w]; e < offsets[w + 1]; e++)
			{
				__builtin_prefetch(&adj->slots[edges[e].dst]);
				__builtin_prefetch(&adj->rank_of_node[edges[e].dst]);
			}
		}
		CHECK_FOR_INTERRUPTS();
		if (patched && ((frontier[i] & FRONTIER_OUTSIDE) ||
						EngramPatchOverrides(adj, FRONTIER_NODE(frontier[i]))))
		{
			PatchedSource(st, adj, frontier[i]);
			continue;
		}
		u = FRONTIER_NODE(frontier[i]);
		energy = st->nodes[adj->slots[u].node].energy;
		end = offsets[u + 1];
		for (int64 e = offsets[u]; e < end; e++)
			AddIncoming(st, NodeForIndex(st, adj, edges[e].dst), energy, edges[e].weight);
		st->nedges += end - offsets[u];
	}
}

/*
 * Run the spread from nseeds distinct seeds over the edges of relid, in the
 * current memory context
 */
SpreadGraph *
EngramSpread(Oid relid, const int64 *seeds, const double *seed_act, int nseeds,
			 const SpreadParams *params)
{
	SpreadState st;
	SpreadGraph *graph = palloc(sizeof(SpreadGraph));
	int64	   *frontier;		/* ids, or FrontierEntry()s of the cache */
	int			nfrontier;
	int			frontier_size;
	EdgeReader *reader = NULL;
	Adjacency  *adj = NULL;
	int			expected_nodes = Max(256, nseeds * 64);
	Size		bytes;

	if (params->max_hops > 0 && nseeds > 0)
		adj = EngramAdjacencyGet(relid);
	st.borrowed = ScratchBorrow();
	st.nodes = SpreadArray(st.borrowed, SCRATCH_NODES,
						   sizeof(SpreadNode) * expected_nodes, &bytes);
	st.nodes_size = bytes / sizeof(SpreadNode);
	/* sized for this spread, not for the largest the scratch has seen */
	st.map = adj && !adj->patched ? NULL :
		nodemap_create(CurrentMemoryContext, adj ? 64 : expected_nodes, NULL);
	st.nnodes = 0;
	st.touched = SpreadArray(st.borrowed, SCRATCH_TOUCHED, sizeof(int) * st.nodes_size, &bytes);
	st.touched_size = bytes / sizeof(int);
	st.decay = params->decay;
	if (adj != NULL && ++adj->generation == 0)
	{
		/* after 2^32 spreads: no stale stamp may match */
		memset(adj->slots, 0, sizeof(AdjacencySlot) * Max(adj->nnodes, 1));
		adj->generation = 1;
	}

	frontier = SpreadArray(st.borrowed, SCRATCH_FRONTIER, sizeof(int64) * Max(16, nseeds), &bytes);
	frontier_size = bytes / sizeof(int64);
	st.frontier_sort = SpreadArray(st.borrowed, SCRATCH_FRONTIER_SORT, bytes, NULL);
	nfrontier = 0;
	for (int i = 0; i < nseeds; i++)
	{
		SpreadNode *n;

		if (adj != NULL)
		{
			int32		rank = EngramAdjacencyFind(adj->ids, adj->nnodes, seeds[i]);
			int			index;

			/*
			 * A seed the cache does not hold had no edges at the build: it
			 * spreads nothing, unless a patch gave it some
			 */
			if (rank >= 0)
				index = NodeForIndex(&st, adj, adj->node_of_rank[rank]);
			else if (adj->patched)
				index = NodeOutside(&st, adj, seeds[i]);
			else
				index = NewNode(&st, seeds[i], -1, -1);
			n = &st.nodes[index];
			if (rank >= 0 || adj->patched)
				frontier[nfrontier++] = FrontierEntry(n, index);
		}
		else
		{
			n = &st.nodes[NodeFor(&st, seeds[i])];
			frontier[nfrontier++] = seeds[i];
		}
		Assert(st.nnodes == i + 1);
		n->activation = seed_act[i];
		n->energy = seed_act[i];
		n->hops = 0;
	}

	for (int h = 1; h <= params->max_hops && nfrontier > 0; h++)
	{
		st.hop = h;
		st.ntouched = 0;
		st.nedges = 0;
		st.from = -1;
		if (adj != NULL)
			HopCached(&st, adj, frontier, nfrontier);
		else
		{
			ArrayType  *ids = EngramInt8Array(frontier, nfrontier);

			if (reader == NULL)
				reader = EngramEdgeReaderOpen(relid, GetActiveSnapshot(), false);
			EngramEdgeReaderScan(reader, ids, ReceiveEnergy, &st);
			pfree(ids);
		}
		elog(DEBUG1, "engram spread hop %d: %d sources, %lld edges, %d nodes reached%s",
			 h, nfrontier, (long long) st.nedges, st.ntouched,
			 adj ? (adj->patched ? " (adjacency cache, patched)" : " (adjacency cache)") : "");

		/* a(v) grows by what arrived; strong enough arrivals carry on */
		nfrontier = 0;
		if (st.ntouched > frontier_size)
		{
			frontier_size = st.touched_size;
			frontier = repalloc(frontier, sizeof(int64) * frontier_size);
			SpreadArrayDone(st.borrowed, st.frontier_sort);
			st.frontier_sort = SpreadArray(st.borrowed, SCRATCH_FRONTIER_SORT,
										   sizeof(int64) * frontier_size, NULL);
		}
		for (int i = 0; i < st.ntouched; i++)
		{
			SpreadNode *n = &st.nodes[st.touched[i]];

			n->activation = Min(1.0, n->activation + n->incoming);
			if (n->hops < 0)
				n->hops = h;
			if (n->incoming >= params->threshold)
			{
				n->energy = n->incoming;
				frontier[nfrontier++] = adj ? FrontierEntry(n, st.touched[i]) : n->id;
			}
		}
	}
	if (reader != NULL)
		EngramEdgeReaderClose(reader);
	if (st.map != NULL)
		nodemap_destroy(st.map);
	if (st.borrowed)
	{
		ScratchKeep(SCRATCH_NODES, st.nodes, sizeof(SpreadNode) * st.nodes_size);
		ScratchKeep(SCRATCH_TOUCHED, st.touched, sizeof(int) * st.touched_size);
		ScratchKeep(SCRATCH_FRONTIER, frontier, sizeof(int64) * frontier_size);
		scratch.known = true;
	}
	else
	{
		pfree(frontier);
		pfree(st.frontier_sort);
		pfree(st.touched);
	}
	graph->borrowed = st.borrowed;
	graph->nodes = st.nodes;
	graph->cache_ids = adj ? adj->ids : NULL;
	graph->cache_nodes = adj ? adj->nnodes : 0;
	graph->nnodes = st.nnodes;
	return graph;
}

/* what the result is sorted by, next to each other (no pointer chasing) */
typedef struct SortKey
{
	float4		reported;
	int64		id;
	SpreadNode *node;
} SortKey;

/*
 * Activation as reported (the real values) descending, then id ascending;
 * a sort specialised for it (with a comparator call per comparison and
 * the keys behind pointers it was a third of a cached spread)
 */
#define ST_SORT sort_by_activation
#define ST_ELEMENT_TYPE SortKey
#define ST_COMPARE(a, b) \
	((a)->reported != (b)->reported ? ((a)->reported > (b)->reported ? -1 : 1) : \
	 ((a)->id < (b)->id ? -1 : (a)->id > (b)->id ? 1 : 0))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The same order as one integer, for nodes found through the cache: the
 * cache's ids ascend with the rank, and a non-negative real's bits ascend
 * with its value, so (activation desc, id asc) is the order of
 * (2^32 - 1 - bits(activation), rank) read as 64 bits
 */
typedef struct PackedKey
{
	uint64		key;
	SpreadNode *node;
} PackedKey;

#define ST_SORT sort_packed
#define ST_ELEMENT_TYPE PackedKey
#define ST_COMPARE(a, b) (((a)->key > (b)->key) - ((a)->key < (b)->key))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

static inline uint64
PackKey(const SpreadNode *node, int index_bits)
{
	uint32		bits = 0;

	if (node->reported != 0)	/* +0 for -0 */
		memcpy(&bits, &node->reported, sizeof(bits));
	return ((uint64) (PG_UINT32_MAX - bits) << index_bits) | (uint32) node->rank;
}

#define RS_SORT RadixSortPacked
#define RS_ELEMENT_TYPE PackedKey
#define RS_KEY(elem) ((elem).key)
#define RS_SMALL_SORT sort_packed
#include "memory/radix_template.h"

/* a limit up to which the best are kept by insertion instead of a sort */
#define TOP_BY_INSERTION 64

/*
 * The best limit of the n keys, in order, into top.  In spread order (seeds,
 * then hop by hop) activations mostly fall, so most keys lose to the worst
 * one kept at the first comparison.
 */
static int
SelectTop(const PackedKey *keys, int n, int limit, PackedKey *top)
{
	int			kept = 0;

	for (int i = 0; i < n; i++)
	{
		int			pos;

		if (kept == limit && keys[i].key >= top[limit - 1].key)
			continue;
		pos = kept < limit ? kept++ : limit - 1;
		while (pos > 0 && keys[i].key < top[pos - 1].key)
		{
			top[pos] = top[pos - 1];
			pos--;
		}
		top[pos] = keys[i];
	}
	return kept;
}

/*
 * The nodes found through the cache in order, into result; only the first
 * limit if that is few (and then their number is returned)
 */
static int
OrderPacked(SpreadNode **kept_nodes, int n, int limit, int index_bits,
			SpreadNode **result, bool borrowed)
{
	PackedKey  *keys = SpreadArray(borrowed, SCRATCH_KEYS, sizeof(PackedKey) * Max(n, 1), NULL);

	for (int i = 0; i < n; i++)
	{
		keys[i].key = PackKey(kept_nodes[i], index_bits);
		keys[i].node = kept_nodes[i];
	}
	if (limit > 0 && limit <= TOP_BY_INSERTION && n > limit)
	{
		PackedKey	top[TOP_BY_INSERTION];

		n = SelectTop(keys, n, limit, top);
		memcpy(keys, top, sizeof(PackedKey) * n);
	}
	else
	{
		PackedKey  *tmp = SpreadArray(borrowed, SCRATCH_KEYS_SORT,
									  sizeof(PackedKey) * Max(n, 1), NULL);

		RadixSortPacked(keys, n, 0, 32 + index_bits, tmp);
		SpreadArrayDone(borrowed, tmp);
	}
	for (int i = 0; i < n; i++)
		result[i] = keys[i].node;
	SpreadArrayDone(borrowed, keys);
	return n;
}

/*
 * The same for nodes that need their ids compared (the index path, or a
 * seed the cache does not hold)
 */
static int
OrderById(SpreadNode **kept_nodes, int n, SpreadNode **result)
{
	SortKey    *keys = palloc(sizeof(SortKey) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		keys[i].reported = kept_nodes[i]->reported;
		keys[i].id = kept_nodes[i]->id;
		keys[i].node = kept_nodes[i];
	}
	sort_by_activation(keys, n);
	for (int i = 0; i < n; i++)
		result[i] = keys[i].node;
	pfree(keys);
	return n;
}

/*
 * The nodes of a spread that keep() accepts, by activation descending then
 * id ascending; only the first limit of them when limit > 0.  The ids of
 * nodes found through the cache are looked up here, for those returned
 * (or, when some node has no node index, for all kept, to compare them).
 */
SpreadNode **
EngramSpreadSorted(SpreadGraph *graph, SpreadFilter keep, const void *arg,
				   int limit, int *count)
{
	SpreadNode **kept = SpreadArray(graph->borrowed, SCRATCH_KEPT,
									sizeof(SpreadNode *) * Max(graph->nnodes, 1), NULL);
	SpreadNode **result;
	bool		packed = graph->cache_ids != NULL;
	int			n = 0;

	for (int i = 0; i < graph->nnodes; i++)
	{
		SpreadNode *node = &graph->nodes[i];

		if (!keep(node, arg))
			continue;
		node->reported = (float4) node->activation;
		kept[n++] = node;
		if (node->cidx < 0)
			packed = false;		/* a seed the cache does not hold */
	}
	result = SpreadArray(graph->borrowed, SCRATCH_RESULT, sizeof(SpreadNode *) * Max(n, 1), NULL);
	if (packed)
		n = OrderPacked(kept, n, limit, pg_leftmost_one_pos32(Max(graph->cache_nodes, 1)) + 1,
						result, graph->borrowed);
	else
	{
		if (graph->cache_ids != NULL)
			for (int i = 0; i < n; i++)
				if (kept[i]->cidx >= 0)
					kept[i]->id = graph->cache_ids[kept[i]->rank];
		n = OrderById(kept, n, result);
	}
	if (limit > 0 && n > limit)
		n = limit;
	if (packed)
		for (int i = 0; i < n; i++)
			result[i]->id = graph->cache_ids[result[i]->rank];
	SpreadArrayDone(graph->borrowed, kept);
	*count = n;
	return result;
}

/* spread's result: a(v) >= threshold */
static bool
ActivatedEnough(const SpreadNode *node, const void *arg)
{
	return node->activation >= *(const double *) arg;
}

/*
 * Read a one-dimensional array argument without nulls
 */
static void
DeconstructArg(ArrayType *arr, const char *name, Oid elemtype, int elemlen,
			   bool byval, char align, Datum **elems, int *n)
{
	bool	   *nulls;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	deconstruct_array(arr, elemtype, elemlen, byval, align, elems, &nulls, n);
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", name)));
}

/*
 * engram.spread(tbl, seeds, max_hops, decay, threshold, seed_activation)
 */
PG_FUNCTION_INFO_V1(engram_memory_spread);
Datum
engram_memory_spread(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	Datum	   *seed_elems;
	int			nseeds;
	int64	   *seeds;
	double	   *seed_act;
	int			nkept;
	SpreadParams params;
	MemoryTable *mt;
	HTAB	   *present;
	HASHCTL		ctl;
	SpreadGraph *graph;
	SpreadNode **sorted;
	int			nsorted;
	bool		counting = EngramMemoryStatsActive();
	instr_time	start;

	INSTR_TIME_SET_ZERO(start);
	if (counting)
		INSTR_TIME_SET_CURRENT(start);

	ARG_NOT_NULL(0, "tbl");
	ARG_NOT_NULL(1, "seeds");
	ARG_NOT_NULL(2, "max_hops");
	ARG_NOT_NULL(3, "decay");
	ARG_NOT_NULL(4, "threshold");
	relid = PG_GETARG_OID(0);
	params.max_hops = PG_GETARG_INT32(2);
	EngramSpreadValidate(params.max_hops, PG_GETARG_FLOAT4(3), PG_GETARG_FLOAT4(4));
	params.decay = PG_GETARG_FLOAT4(3);
	params.threshold = PG_GETARG_FLOAT4(4);

	DeconstructArg(PG_GETARG_ARRAYTYPE_P(1), "seeds", INT8OID, sizeof(int64),
				   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &seed_elems, &nseeds);
	seeds = palloc(sizeof(int64) * Max(nseeds, 1));
	seed_act = palloc(sizeof(double) * Max(nseeds, 1));
	for (int i = 0; i < nseeds; i++)
	{
		seeds[i] = DatumGetInt64(seed_elems[i]);
		seed_act[i] = 1.0;
	}
	if (!PG_ARGISNULL(5))
	{
		Datum	   *act_elems;
		int			nact;

		DeconstructArg(PG_GETARG_ARRAYTYPE_P(5), "seed_activation", FLOAT4OID,
					   sizeof(float4), true, TYPALIGN_INT, &act_elems, &nact);
		if (nact != nseeds)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("seeds and seed_activation must have the same length"),
					 errdetail("seeds has %d elements, seed_activation %d.",
							   nseeds, nact)));
		for (int i = 0; i < nact; i++)
		{
			float4		a = DatumGetFloat4(act_elems[i]);

			if (!(a >= 0 && a <= 1))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("seed activations must be between 0 and 1"),
						 errdetail("The value given was %g.", a)));
			seed_act[i] = a;
		}
	}

	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mt = EngramMemoryTableGet(relid, InvalidOid);

	/* seeds that are not rows of the table are ignored; repeats are errors */
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(int64);
	ctl.hcxt = CurrentMemoryContext;
	present = hash_create("engram spread seeds", Max(16, nseeds), &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < nseeds; i++)
	{
		bool		found;

		hash_search(present, &seeds[i], HASH_ENTER, &found);
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("seed %lld appears more than once", (long long) seeds[i])));
	}
	hash_destroy(present);
	present = hash_create("engram spread seeds", Max(16, nseeds), &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (nseeds > 0)
	{
		Datum		values[1];

		values[0] = PointerGetDatum(EngramInt8Array(seeds, nseeds));
		if (SPI_execute_plan(mt->exists_plan, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "cannot read memory table");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));

			hash_search(present, &id, HASH_ENTER, NULL);
		}
	}
	nkept = 0;
	for (int i = 0; i < nseeds; i++)
	{
		if (hash_search(present, &seeds[i], HASH_FIND, NULL) == NULL)
			continue;
		seeds[nkept] = seeds[i];
		seed_act[nkept] = seed_act[i];
		nkept++;
	}

	graph = EngramSpread(relid, seeds, seed_act, nkept, &params);
	sorted = EngramSpreadSorted(graph, ActivatedEnough, &params.threshold, 0, &nsorted);
	for (int i = 0; i < nsorted; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int64GetDatum(sorted[i]->id);
		values[1] = Float4GetDatum(sorted[i]->reported);
		values[2] = Int32GetDatum(sorted[i]->hops);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (counting)
		EngramStatsCountMemory(relid, ENGRAM_MEMORY_SPREAD, graph->nnodes, start);
	SPI_finish();
	return (Datum) 0;
}
