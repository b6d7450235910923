/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  engram_hnsw: access method handler, reloptions and settings.
 *
 * src/am/hnsw/hnsw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "utils/guc.h"

#include "am/hnsw/hnsw.h"

int			engram_hnsw_ef_search = 40;
int			engram_hnsw_layer1_ef = 1;
int			engram_hnsw_iterative_scan = HNSW_ITERATIVE_OFF;
int			engram_hnsw_max_scan_tuples = 20000;
double		engram_hnsw_scan_mem_multiplier = 1.0;
bool		engram_hnsw_prefetch = true;

static relopt_kind hnsw_relopt_kind;

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", HNSW_ITERATIVE_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_STRICT, false},
	{NULL, 0, false}
};

/*
 * Register reloptions and settings; called from _PG_init
 */
void
EngramHnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Maximum number of neighbours per node on upper layers (twice this on layer 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list while building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("engram.ef_search",
							"Size of the candidate list of engram_hnsw searches.",
							"Larger values find more of the true nearest neighbours, more slowly.",
							&engram_hnsw_ef_search, 40, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("engram.layer1_ef",
							"Width of the search of engram_hnsw scans on layer 1.",
							"1 walks layer 1 greedily, as the layers above; larger values "
							"enter layer 0 from that many nodes, which helps on tightly "
							"clustered data.",
							&engram_hnsw_layer1_ef, 1, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("engram.iterative_scan",
							 "Whether engram_hnsw scans continue past ef_search results.",
							 "relaxed_order returns more rows when filters remove some; "
							 "strict_order also keeps them in exact distance order.",
							 &engram_hnsw_iterative_scan, HNSW_ITERATIVE_OFF,
							 iterative_scan_options, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("engram.max_scan_tuples",
							"Maximum number of nodes an iterative engram_hnsw scan visits.",
							NULL,
							&engram_hnsw_max_scan_tuples, 20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("engram.scan_mem_multiplier",
							 "Multiple of work_mem an iterative engram_hnsw scan may use.",
							 NULL,
							 &engram_hnsw_scan_mem_multiplier, 1.0, 1.0, 1000.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("engram.hnsw_prefetch",
							 "Read ahead the pages engram_hnsw searches are about to read.",
							 "Index pages of each hop and heap pages of the results that are "
							 "not in shared buffers, one batch at a time (see engram.io_uring).",
							 &engram_hnsw_prefetch, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Parse and validate reloptions
 */
static bytea *
engram_hnsw_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(HnswOptions), tab, lengthof(tab));
}

int
HnswGetM(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

/*
 * Names of the build phases for pg_stat_progress_create_index
 */
static char *
engram_hnsw_buildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_HNSW_PHASE_LOAD:
			return "loading tuples";
		case PROGRESS_HNSW_PHASE_GRAPH:
			return "building graph";
		case PROGRESS_HNSW_PHASE_WRITE:
			return "writing pages";
		default:
			return NULL;
	}
}

/*
 * The access method handler
 */
PG_FUNCTION_INFO_V1(engram_hnsw_handler);
Datum
engram_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = 2;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = engram_hnsw_build;
	am->ambuildempty = engram_hnsw_buildempty;
	am->aminsert = engram_hnsw_insert;
	am->ambulkdelete = engram_hnsw_bulkdelete;
	am->amvacuumcleanup = engram_hnsw_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = engram_hnsw_costestimate;
	am->amoptions = engram_hnsw_options;
	am->amproperty = NULL;
	am->ambuildphasename = engram_hnsw_buildphasename;
	am->amvalidate = engram_hnsw_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = engram_hnsw_beginscan;
	am->amrescan = engram_hnsw_rescan;
	am->amgettuple = engram_hnsw_gettuple;
	am->amgetbitmap = NULL;
	am->amendscan = engram_hnsw_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/*
 * Support functions of the operator classes: each returns a pointer to a
 * static description of its metric or column type (see hnswvalidate.c)
 */
#define HNSW_METRIC_SUPPORT(fname, metric) \
PG_FUNCTION_INFO_V1(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	static const HnswMetric value = metric; \
	PG_RETURN_POINTER(&value); \
}

HNSW_METRIC_SUPPORT(engram_hnsw_l2_support, HNSW_METRIC_L2)
HNSW_METRIC_SUPPORT(engram_hnsw_ip_support, HNSW_METRIC_IP)
HNSW_METRIC_SUPPORT(engram_hnsw_cosine_support, HNSW_METRIC_COSINE)
HNSW_METRIC_SUPPORT(engram_hnsw_l1_support, HNSW_METRIC_L1)

/* Column type support: vector */
PG_FUNCTION_INFO_V1(engram_hnsw_vector_support);
Datum
engram_hnsw_vector_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&EngramVectorType);
}

/* Column type support: halfvec */
PG_FUNCTION_INFO_V1(engram_hnsw_halfvec_support);
Datum
engram_hnsw_halfvec_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&EngramHalfvecType);
}
