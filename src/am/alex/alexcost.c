/*-------------------------------------------------------------------------
 *
 * alexcost.c
 *	  engram_alex: cost estimates for the planner.
 *
 * Like btree's, minus the descent through inner pages: the directory and
 * root model are cached in each backend, so a probe reads one data page
 * (sometimes a neighbour) where btree reads its height in pages.  The
 * column's correlation is used as btree uses it, so that range scans over
 * well-ordered data are costed alike.
 *
 * src/am/alex/alexcost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "am/alex/alex.h"

static double
ColumnCorrelation(PlannerInfo *root, IndexOptInfo *index)
{
	RangeTblEntry *rte;
	HeapTuple	tuple;
	AttStatsSlot sslot;
	double		correlation = 0;

	if (index->indexkeys[0] == 0)
		return 0;				/* an expression */
	rte = planner_rt_fetch(index->rel->relid, root);
	if (rte->rtekind != RTE_RELATION)
		return 0;
	tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(rte->relid),
							Int16GetDatum(index->indexkeys[0]), BoolGetDatum(rte->inh));
	if (!HeapTupleIsValid(tuple))
		return 0;
	if (get_attstatsslot(&sslot, tuple, STATISTIC_KIND_CORRELATION, InvalidOid,
						 ATTSTATSSLOT_NUMBERS))
	{
		if (sslot.nnumbers > 0)
			correlation = sslot.numbers[0];
		free_attstatsslot(&sslot);
	}
	ReleaseSysCache(tuple);
	return correlation;
}

/*
 * amcostestimate
 */
void
engram_alex_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
						 Cost *indexStartupCost, Cost *indexTotalCost,
						 Selectivity *indexSelectivity, double *indexCorrelation,
						 double *indexPages)
{
	IndexOptInfo *index = path->indexinfo;
	GenericCosts costs;
	Cost		descent;

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/* the model and a short search over the directory: a few comparisons */
	descent = (index->tuples > 1 ? ceil(log2(index->tuples / ALEX_MAX_SLOTS_PER_PAGE + 2)) : 1) *
		cpu_operator_cost;
	costs.indexStartupCost += descent;
	costs.indexTotalCost += costs.num_sa_scans * descent;

	*indexStartupCost = costs.indexStartupCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = ColumnCorrelation(root, index);
	*indexPages = costs.numIndexPages;
}
