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

#include "am/hnsw/hnsw.h"
#include "memory/memory.h"
#include "simd.h"
#include "simd_guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Pick the distance kernels for this CPU and define engram's settings
 */
void
_PG_init(void)
{
	engram_simd_init();
	EngramSimdDefineGuc();
	EngramHnswInit();
	EngramMemoryInit();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("engram");
#endif
}
