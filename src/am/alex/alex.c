/*-------------------------------------------------------------------------
 *
 * alex.c
 *	  engram_alex: access method handler and reloptions.
 *
 * src/am/alex/alex.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/reloptions.h"
#include "access/stratnum.h"
#include "commands/vacuum.h"

#include "am/alex/alex.h"

static relopt_kind alex_relopt_kind;

/* No options yet; registering the kind makes unknown ones an error */
typedef struct AlexOptions
{
	int32		vl_len_;
} AlexOptions;

void
EngramAlexInit(void)
{
	alex_relopt_kind = add_reloption_kind();
}

static bytea *
engram_alex_options(Datum reloptions, bool validate)
{
	return (bytea *) build_reloptions(reloptions, validate, alex_relopt_kind,
									  sizeof(AlexOptions), NULL, 0);
}

/* Every entry holds the column value exactly: index-only scans work */
static bool
engram_alex_canreturn(Relation index, int attno)
{
	return true;
}

PG_FUNCTION_INFO_V1(engram_alex_handler);
Datum
engram_alex_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = BTMaxStrategyNumber;
	amroutine->amsupport = ALEX_NPROC;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = true;
	amroutine->amcanorderbyop = false;
	amroutine->amcanbackward = false;	/* either direction, fixed per scan */
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = true;
	amroutine->amsearchnulls = true;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = engram_alex_build;
	amroutine->ambuildempty = engram_alex_buildempty;
	amroutine->aminsert = engram_alex_insert;
	amroutine->ambulkdelete = engram_alex_bulkdelete;
	amroutine->amvacuumcleanup = engram_alex_vacuumcleanup;
	amroutine->amcanreturn = engram_alex_canreturn;
	amroutine->amcostestimate = engram_alex_costestimate;
	amroutine->amoptions = engram_alex_options;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = NULL;
	amroutine->amvalidate = engram_alex_validate;
#if PG_VERSION_NUM >= 140000
	amroutine->amadjustmembers = NULL;
#endif
	amroutine->ambeginscan = engram_alex_beginscan;
	amroutine->amrescan = engram_alex_rescan;
	amroutine->amgettuple = engram_alex_gettuple;
	amroutine->amgetbitmap = engram_alex_getbitmap;
	amroutine->amendscan = engram_alex_endscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
