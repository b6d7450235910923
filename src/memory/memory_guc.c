/*-------------------------------------------------------------------------
 *
 * memory_guc.c
 *	  Settings of the cognitive memory API.
 *
 * src/memory/memory_guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "memory/memory.h"

double		engram_memory_learning_rate = 0.1;
double		engram_memory_prune_below = 0.01;
int			engram_memory_hot_recalls = 3;
int			engram_memory_hot_age = 3600;
int			engram_memory_warm_age = 7 * 86400;
bool		engram_adjacency_cache = true;
int			engram_adjacency_cache_size = 256 * 1024;	/* kB */
double		engram_adjacency_cache_settle = 10;
bool		engram_adjacency_cache_patch = true;
bool		engram_adjacency_cache_background = true;
int			engram_adjacency_change_log = 131072;

/*
 * Define the engram.* settings of the memory API; called from _PG_init
 */
void
EngramMemoryInit(void)
{
	DefineCustomRealVariable("engram.learning_rate",
							 "Hebbian learning rate of engram.recall(reinforce => true).",
							 "w <- w + rate * (1 - w) for associations among recalled memories; new associations start at the rate.",
							 &engram_memory_learning_rate,
							 0.1, 0.001, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomRealVariable("engram.prune_below",
							 "Associations weaker than this are removed by engram.decay_associations().",
							 NULL,
							 &engram_memory_prune_below,
							 0.01, 0.0, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("engram.hot_recalls",
							"Recalls that make a memory hot (with a recall within engram.hot_age).",
							NULL,
							&engram_memory_hot_recalls,
							3, 1, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("engram.hot_age",
							"A hot memory was last recalled at most this long ago.",
							NULL,
							&engram_memory_hot_age,
							3600, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("engram.warm_age",
							"A memory not hot but recalled at most this long ago is warm; others are cold.",
							NULL,
							&engram_memory_warm_age,
							7 * 86400, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("engram.adjacency_cache",
							 "Lets spread and recall read associations from a copy in shared memory.",
							 "Needs engram in shared_preload_libraries; otherwise, or when off, every hop reads the index of engram.associations.",
							 &engram_adjacency_cache,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("engram.adjacency_cache_size",
							"Shared memory the adjacency caches of all memory tables may use together.",
							"A memory table whose associations need more is not cached.",
							&engram_adjacency_cache_size,
							256 * 1024, 0, MAX_KILOBYTES,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomRealVariable("engram.adjacency_cache_settle",
							 "A stale adjacency cache is rebuilt once associations have not changed for this many times its last build time.",
							 "Between changes that come faster, spread reads the index. 0 rebuilds whenever the cache is stale.",
							 &engram_adjacency_cache_settle,
							 10, 0, 1000,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("engram.adjacency_cache_patch",
							 "Lets a stale adjacency cache serve spread and recall, with the out-edges of the sources changed since its build read from the index.",
							 "When off, a stale cache serves nothing until it is rebuilt.",
							 &engram_adjacency_cache_patch,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("engram.adjacency_cache_background",
							 "Adjacency caches are built by a background worker while queries go on.",
							 "Meanwhile a stale cache serves through patches, or the index does. When off, the query that finds a build due runs it, and waits for it.",
							 &engram_adjacency_cache_background,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	/* sizes shared memory: only defined when preloading, like stats.c's */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("engram.adjacency_change_log",
								"Changed associations remembered in shared memory, for patching stale adjacency caches.",
								"Each entry takes 24 bytes. 0: no log, a stale cache is never patched.",
								&engram_adjacency_change_log,
								131072, 0, 64 * 1024 * 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
}
