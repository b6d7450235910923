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
 *
 * Beside each list, in arrays of the same shape, every link's distance and
 * what the selection heuristic last decided for it (kept, pruned, unknown),
 * so that pruning a full list compares only the new link with the kept ones
 * (HnswSelectNeighbors).  Element 0 of the kept array says whether the list
 * is sorted by those distances (1) or was written some other way (0) and
 * is recomputed when it is next pruned.
 */
typedef struct HnswBuildGraph
{
	HnswIndexInfo info;
	int			max_level;		/* cap from the page size */
	int			n;				/* nodes */
	int			capacity;
	char	   *codes;			/* n x code_stride: HnswGraphCode */
	int			code_stride;
	uint8	   *levels;
	int32	   *layer0;			/* n x (2m + 1) */
	float	   *layer0_dist;	/* the same shape */
	int8	   *layer0_kept;
	int64	   *upper_offset;	/* into upper_pool, -1 for level-0 nodes */
	int32	   *upper_pool;
	float	   *upper_dist;		/* the same shape as upper_pool */
	int8	   *upper_kept;
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

	Size		memory_limit;	/* arrays grow no further; 0: no limit */
} HnswBuildGraph;

extern void HnswGraphInit(HnswBuildGraph *g, const HnswIndexInfo *info);
extern Size HnswGraphBytesPerNode(const HnswIndexInfo *info);
extern bool HnswGraphFits(const HnswBuildGraph *g, Size memory_limit);
extern void HnswGraphAdd(HnswBuildGraph *g, const float *x, ItemPointer heaptid,
						 bool unbounded);
extern void HnswGraphBuild(HnswBuildGraph *g, Relation index, int nworkers);
extern int32 *HnswGraphList(HnswBuildGraph *g, int id, int layer);

/*
 * What the build keeps of a vector: the header and int8 code of its node
 * as its page will hold them, and the squared norm of the decoded code
 * (for the build's distances), in one record of code_stride bytes
 */
typedef struct HnswGraphCode
{
	double		sqnorm;			/* |decoded code|^2 */
	HnswNodeHeader node;		/* followed by the code */
} HnswGraphCode;

static inline HnswGraphCode *
HnswGraphCodeOf(HnswBuildGraph *g, int id)
{
	return (HnswGraphCode *) (g->codes + (Size) id * g->code_stride);
}

#endif							/* ENGRAM_HNSW_GRAPH_H */
