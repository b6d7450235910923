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
 * nodes.  Both visit a hop's sources in ascending id order and each one's
 * edges in ascending destination order, so the sums are added in the same
 * order and the results are the same to the bit.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"

#include "memory/memory.h"
#include "stats.h"

#define SPREAD_MAX_HOPS 10

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
} SpreadState;

/*
 * A new node: activation 0, no hop
 */
static inline int
NewNode(SpreadState *st, int64 id, int32 cidx)
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
		slot->node = NewNode(st, id, -1);
	return slot->node;
}

/*
 * The node of the cache's node index cidx, added if new (cache path)
 */
static inline int
NodeForIndex(SpreadState *st, Adjacency *adj, int32 cidx)
{
	AdjacencySlot *slot = &adj->slots[cidx];

	if (slot->stamp != adj->generation)
	{
		slot->stamp = adj->generation;
		slot->node = NewNode(st, adj->ids[cidx], cidx);
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

/* a hop's frontier in ascending order */
#define ST_SORT sort_int64
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * One hop over the cache: the frontier holds node indexes, visited in
 * ascending order (= ascending id, as the index path visits them)
 */
static void
HopCached(SpreadState *st, Adjacency *adj, int64 *frontier, int nfrontier)
{
	sort_int64(frontier, nfrontier);
	for (int i = 0; i < nfrontier; i++)
	{
		int32		u = (int32) frontier[i];
		double		energy = st->nodes[adj->slots[u].node].energy;
		int64		end = adj->offsets[u + 1];

		CHECK_FOR_INTERRUPTS();
		for (int64 e = adj->offsets[u]; e < end; e++)
			AddIncoming(st, NodeForIndex(st, adj, adj->dst[e]), energy, adj->weight[e]);
		st->nedges += end - adj->offsets[u];
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
	int64	   *frontier;		/* ids, or node indexes of the cache */
	int			nfrontier;
	int			frontier_size;
	EdgeReader *reader = NULL;
	Adjacency  *adj = NULL;

	if (params->max_hops > 0 && nseeds > 0)
		adj = EngramAdjacencyGet(relid);
	st.nodes_size = Max(256, nseeds * 64);
	st.map = adj ? NULL : nodemap_create(CurrentMemoryContext, st.nodes_size, NULL);
	st.nodes = palloc(sizeof(SpreadNode) * st.nodes_size);
	st.nnodes = 0;
	st.touched_size = st.nodes_size;
	st.touched = palloc(sizeof(int) * st.touched_size);
	st.decay = params->decay;
	if (adj != NULL && ++adj->generation == 0)
	{
		/* after 2^32 spreads: no stale stamp may match */
		memset(adj->slots, 0, sizeof(AdjacencySlot) * Max(adj->nnodes, 1));
		adj->generation = 1;
	}

	frontier_size = Max(16, nseeds);
	frontier = palloc(sizeof(int64) * frontier_size);
	nfrontier = 0;
	for (int i = 0; i < nseeds; i++)
	{
		SpreadNode *n;

		if (adj != NULL)
		{
			int32		cidx = EngramAdjacencyFind(adj->ids, adj->nnodes, seeds[i]);

			/* a seed without edges is not in the cache: it spreads nothing */
			n = &st.nodes[cidx >= 0 ? NodeForIndex(&st, adj, cidx) :
						  NewNode(&st, seeds[i], -1)];
			if (cidx >= 0)
				frontier[nfrontier++] = cidx;
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
			 adj ? " (adjacency cache)" : "");

		/* a(v) grows by what arrived; strong enough arrivals carry on */
		nfrontier = 0;
		if (st.ntouched > frontier_size)
		{
			frontier_size = st.touched_size;
			frontier = repalloc(frontier, sizeof(int64) * frontier_size);
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
				frontier[nfrontier++] = adj ? n->cidx : n->id;
			}
		}
	}
	if (reader != NULL)
		EngramEdgeReaderClose(reader);
	if (st.map != NULL)
		nodemap_destroy(st.map);
	pfree(frontier);
	pfree(st.touched);
	graph->nodes = st.nodes;
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
 * The nodes of a spread that keep() accepts, by activation descending then
 * id ascending
 */
SpreadNode **
EngramSpreadSorted(SpreadGraph *graph, SpreadFilter keep, const void *arg, int *count)
{
	SortKey    *keys = palloc(sizeof(SortKey) * Max(graph->nnodes, 1));
	SpreadNode **result;
	int			n = 0;

	for (int i = 0; i < graph->nnodes; i++)
	{
		SpreadNode *node = &graph->nodes[i];

		if (!keep(node, arg))
			continue;
		node->reported = (float4) node->activation;
		keys[n].reported = node->reported;
		keys[n].id = node->id;
		keys[n].node = node;
		n++;
	}
	sort_by_activation(keys, n);
	result = palloc(sizeof(SpreadNode *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		result[i] = keys[i].node;
	pfree(keys);
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
	sorted = EngramSpreadSorted(graph, ActivatedEnough, &params.threshold, &nsorted);
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
