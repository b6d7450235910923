/*-------------------------------------------------------------------------
 *
 * engram.c
 *	  Module entry point: library magic and load-time initialisation.
 *
 * src/engram.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "am/alex/alex.h"
#include "am/hnsw/hnsw.h"
#include "memory/memory.h"
#include "simd.h"
#include "simd_guc.h"
#include "readahead.h"
#include "stats.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Pick the distance kernels for this CPU, define engram's settings and,
 * when preloading, reserve the shared memory of the statistics
 */
void
_PG_init(void)
{
	engram_simd_init();
	EngramSimdDefineGuc();
	EngramHnswInit();
	EngramMemoryInit();			/* before the statistics size shared memory */
	EngramStatsInit();
	EngramAlexInit();
	EngramReadAheadInit();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("engram");
#endif
}
