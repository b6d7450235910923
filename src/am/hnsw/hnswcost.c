/*-------------------------------------------------------------------------
 *
 * hnswcost.c
 *	  engram_hnsw: cost estimate for the planner.
 *
 * The index is useful only for ORDER BY col <op> value; without an ORDER BY
 * it must never be chosen.  A scan visits on the order of
 * ef_search * 2m * (levels + 1) nodes and touches one warm page per
 * expanded node in the worst case; rows then come from the heap.  The
 * startup cost carries the search, as the rows arrive once it is done.
 *
 * src/am/hnsw/hnswcost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

#include "am/hnsw/hnsw.h"

void
engram_hnsw_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
						 Cost *indexStartupCost, Cost *indexTotalCost,
						 Selectivity *indexSelectivity, double *indexCorrelation,
						 double *indexPages)
{
	GenericCosts costs;
	double		tuples = path->indexinfo->tuples;
	double		visited;
	double		ratio;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/* nodes a search looks at, as a share of the index */
	if (tuples > 1)
	{
		double		levels = log(tuples) / log((double) HNSW_DEFAULT_M);

		visited = engram_hnsw_ef_search * 2.0 * HNSW_DEFAULT_M * 0.3 * (1.0 + levels);
		ratio = Min(1.0, visited / tuples);
	}
	else
		ratio = 1.0;

	/* the search happens before the first row: it is all startup */
	*indexStartupCost = costs.indexTotalCost * ratio;
	*indexTotalCost = costs.indexTotalCost * ratio;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages * ratio;
}
