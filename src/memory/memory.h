/*-------------------------------------------------------------------------
 *
 * memory.h
 *	  Cognitive memory: shared declarations of src/memory/.
 *
 * A memory table is a user table registered in engram.memory_tables; its
 * associations live in engram.associations and its recall state in
 * engram.memory_state (see the "cognitive memory" section of the install
 * script and README.md).
 *
 * src/memory/memory.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_MEMORY_H
#define ENGRAM_MEMORY_H

#include "executor/spi.h"
#include "utils/array.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

/* SQL functions that take defaults are not strict: NULL is an error */
#define ARG_NOT_NULL(n, name) \
	do { \
		if (PG_ARGISNULL(n)) \
			ereport(ERROR, \
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), \
					 errmsg("%s must not be null", name))); \
	} while (0)

/* memory_guc.c */
extern double engram_memory_learning_rate;
extern double engram_memory_prune_below;
extern int	engram_memory_hot_recalls;
extern int	engram_memory_hot_age;
extern int	engram_memory_warm_age;
extern bool engram_adjacency_cache;
extern int	engram_adjacency_cache_size;
extern double engram_adjacency_cache_settle;
extern bool engram_adjacency_cache_patch;
extern bool engram_adjacency_cache_background;
extern int	engram_adjacency_change_log;

extern void EngramMemoryInit(void);

/* registry.c: a registered table and the queries prepared for it */
typedef struct MemoryTable
{
	Oid			relid;			/* hash key */
	char		qualname[2 * NAMEDATALEN + 8];	/* quoted schema.table */
	NameData	idcol;
	NameData	embcol;
	Oid			cuetype;		/* vector type of the kNN plan's cue */
	SPIPlanPtr	exists_plan;	/* ids among $1 present in the table */
	SPIPlanPtr	lock_plan;		/* the same, locked FOR KEY SHARE in order */
	SPIPlanPtr	knn_plan;		/* $2 nearest rows to $1, cosine */
} MemoryTable;

extern MemoryTable *EngramMemoryTableGet(Oid relid, Oid cuetype);
extern SPIPlanPtr EngramMemoryPrepare(SPIPlanPtr *cache, const char *query,
									  int nargs, Oid *argtypes);
extern ArrayType *EngramInt8Array(const int64 *ids, int n);

/* edges.c: the out-edges of a set of memories, read from the index */
typedef struct EdgeReader EdgeReader;
typedef void (*EdgeCallback) (void *arg, int64 src, int64 dst, float4 weight);
typedef bool (*EdgeUntilCallback) (void *arg, int64 src, int64 dst, float4 weight);

extern EdgeReader *EngramEdgeReaderOpen(Oid relid, Snapshot snapshot, bool all);
extern void EngramEdgeReaderScan(EdgeReader *r, ArrayType *ids,
								 EdgeCallback fn, void *arg);
extern void EngramEdgeReaderScanAll(EdgeReader *r, EdgeUntilCallback fn, void *arg);
extern void EngramEdgeReaderClose(EdgeReader *r);

/* edgeversion.c: when a cached graph may serve a query */
typedef struct EdgeVersion
{
	uint64		version;		/* of engram.associations, shared */
	TransactionId latest_xid;	/* newest xid of an ended modifier */
	uint64		log_pos;		/* end of the change log */
} EdgeVersion;

/* an entry of the change log: a source whose out-edges may have changed */
typedef struct EdgeChange
{
	Oid			dbid;
	Oid			relid;			/* the memory table */
	TransactionId xid;			/* top-level xid of the writer */
	int64		src;
} EdgeChange;

extern Size EngramEdgeVersionShmemSize(void);
extern void EngramEdgeVersionShmemStartup(void);
extern bool EngramEdgeVersionAvailable(void);
extern bool EngramEdgeXactIsModifier(void);
extern bool EngramEdgeVersionRead(EdgeVersion *v, TimestampTz *changed);
extern bool EngramEdgeVersionQuiet(void);
extern uint64 EngramEdgeVersionNow(void);
extern bool EngramEdgeSnapshotCurrent(Snapshot snapshot, const EdgeVersion *v);
extern bool EngramEdgeLogBounds(uint64 *oldest, uint64 *end);
extern bool EngramEdgeLogPatchable(uint64 from, uint64 *end);
extern bool EngramEdgeLogRead(uint64 from, uint64 upto, EdgeChange *out);

/* adjacency.c: a table's graph in compressed sparse rows, shared */
typedef struct AdjacencySlot
{
	uint32		stamp;			/* generation of the spread that set node */
	int32		node;
} AdjacencySlot;

/* an out-edge: destination and weight side by side, one miss per row */
typedef struct AdjacencyEdge
{
	int32		dst;			/* the destination's node index */
	float4		weight;
} AdjacencyEdge;

/* patch.c: a source's out-edges as the current snapshot sees them */
typedef struct PatchEdge
{
	int64		dst;
	int32		cidx;			/* the destination's node index, or -1 */
	float4		weight;
} PatchEdge;

typedef struct PatchRow
{
	int64		src;			/* hash key */
	int64		first;			/* its edges in the patch's array */
	int32		count;
	char		status;			/* for simplehash */
} PatchRow;

typedef struct AdjacencyPatch AdjacencyPatch;

typedef struct Adjacency
{
	Oid			relid;			/* hash key */
	struct dsm_segment *seg;	/* the shared graph mapped, or NULL */
	bool		valid;
	EdgeVersion built;			/* what it was built under */
	int			nnodes;
	int64		nedges;
	/*
	 * Node ids ascending; a node's position among them is its rank.  Nodes
	 * are numbered so that neighbours are near each other, and these map
	 * one numbering onto the other.
	 */
	const int64 *ids;			/* by rank */
	const int32 *node_of_rank;
	const int32 *rank_of_node;
	const int64 *offsets;		/* node i's edges: offsets[i] .. offsets[i + 1] */
	const AdjacencyEdge *edges;
	/* a spread's node of each node index, valid where stamp == generation */
	AdjacencySlot *slots;		/* this backend's */
	Size		slots_bytes;
	uint32		generation;
	Size		bytes;			/* of the shared segment */
	/* the changes since the build, when the graph is stale (patch.c) */
	AdjacencyPatch *patch;
	const uint64 *overridden;	/* bit per node index: its row is patched */
	bool		patched;		/* the current query must consult the patch */
	uint64		builds;			/* by this backend */
	uint64		hits;
	uint64		patched_hits;	/* hits that consulted a patch */
	uint64		misses;
} Adjacency;

extern Size EngramAdjacencyShmemSize(void);
extern void EngramAdjacencyShmemStartup(void);
extern Adjacency *EngramAdjacencyGet(Oid relid);
extern int	EngramAdjacencyIdsBelow(const int64 *ids, int n, int64 id);
extern int	EngramAdjacencyFind(const int64 *ids, int n, int64 id);
extern int	EngramCompareInt64(const void *a, const void *b);

extern bool EngramPatchRefresh(Adjacency *adj, Snapshot snapshot);
extern void EngramPatchFree(Adjacency *adj);
extern int64 EngramPatchSources(const Adjacency *adj);
extern const PatchEdge *EngramPatchRow(const Adjacency *adj, int64 src, int *count);

/* whether node index cidx's out-edges come from the patch */
static inline bool
EngramPatchOverrides(const Adjacency *adj, int32 cidx)
{
	return (adj->overridden[cidx >> 6] >> (cidx & 63)) & 1;
}

/* spread.c: spreading activation over engram.associations */
typedef struct SpreadNode
{
	int64		id;				/* found through the cache: see SpreadGraph */
	double		activation;		/* a(v) */
	double		energy;			/* energy carried out of v this hop */
	double		incoming;		/* energy arriving in the current hop */
	double		similarity;		/* recall: similarity of a seed, else -1 */
	float4		reported;		/* activation as reported (real) */
	int			hops;			/* hops(v), -1 while unset */
	int			stamp;			/* hop in which incoming was last reset */
	int32		cidx;			/* node index in the adjacency cache, or -1 */
	int32		rank;			/* and its rank there (see Adjacency) */
} SpreadNode;

/* every node a spread reached; the seeds first, in the order given */
typedef struct SpreadGraph
{
	SpreadNode *nodes;
	int			nnodes;
	/* the cache's node ids: a node's id is cache_ids[rank] where cidx >= 0 */
	const int64 *cache_ids;
	int			cache_nodes;	/* node indexes are below this */
	bool		borrowed;		/* nodes, and the sorted result, are the
								 * backend's scratch until the memory context
								 * of the spread goes away */
} SpreadGraph;

typedef struct SpreadParams
{
	int			max_hops;
	double		decay;
	double		threshold;
} SpreadParams;

typedef bool (*SpreadFilter) (const SpreadNode *node, const void *arg);

extern void EngramSpreadValidate(int max_hops, float4 decay, float4 threshold);
extern SpreadGraph *EngramSpread(Oid relid, const int64 *seeds, const double *seed_act,
								 int nseeds, const SpreadParams *params);
extern SpreadNode **EngramSpreadSorted(SpreadGraph *graph, SpreadFilter keep,
									   const void *arg, int limit, int *count);

/* associations.c */
extern void EngramMemoryReinforce(MemoryTable *mt, const int64 *ids, int n);

#endif							/* ENGRAM_MEMORY_H */
