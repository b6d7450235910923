/*-------------------------------------------------------------------------
 *
 * hnswgraph.h
 *	  engram_hnsw: the in-memory graph CREATE INDEX builds before it writes
 *	  pages (hnswgraph.c), serially or with parallel workers.
 *
 * src/am/hnsw/hnswgraph.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_HNSW_GRAPH_H
#define ENGRAM_HNSW_GRAPH_H

#include "storage/lwlock.h"
#include "storage/spin.h"

#include "am/hnsw/hnsw.h"

/*
 * Neighbour lists are int32 arrays whose first element is the count:
 * layer 0 has 2m slots per node (array of n x (2m + 1)), each upper layer
 * m slots, in a pool addressed by upper_offset[node].
 */
typedef struct HnswBuildGraph
{
	HnswIndexInfo info;
	int			max_level;		/* cap from the page size */
	int			n;				/* nodes */
	int			capacity;
	float	   *vectors;		/* n x dim */
	ItemPointerData *heaptids;
	uint8	   *levels;
	bool	   *unbounded;		/* HNSW_NODE_UNBOUNDED per node */
	int32	   *layer0;			/* n x (2m + 1) */
	int64	   *upper_offset;	/* into upper_pool, -1 for level-0 nodes */
	int32	   *upper_pool;
	int64		upper_used;
	int64		upper_capacity;

	/* entry point; in a parallel build these live in shared memory */
	int32	   *entry;
	int32	   *entry_level;
	int32		local_entry;
	int32		local_entry_level;
	slock_t    *entry_mutex;	/* NULL when serial */
	LWLock	   *locks;			/* per node, NULL when serial */

	/* per process */
	uint32	   *visited;		/* epoch per node */
	uint32		epoch;
} HnswBuildGraph;

extern void HnswGraphInit(HnswBuildGraph *g, const HnswIndexInfo *info);
extern Size HnswGraphBytesPerNode(const HnswIndexInfo *info);
extern void HnswGraphAdd(HnswBuildGraph *g, const float *x, ItemPointer heaptid,
						 bool unbounded);
extern void HnswGraphBuild(HnswBuildGraph *g, Relation heap, Relation index);
extern int32 *HnswGraphList(HnswBuildGraph *g, int id, int layer);

static inline float *
HnswGraphVector(HnswBuildGraph *g, int id)
{
	return g->vectors + (Size) id * g->info.dim;
}

#endif							/* ENGRAM_HNSW_GRAPH_H */
