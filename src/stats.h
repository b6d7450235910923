/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Per-index and per-memory-table statistics kept in shared memory
 *	  (src/stats.c).
 *
 * Access methods count into a backend-local EngramScanCounts while a scan
 * runs and hand it over once, when the scan ends or is restarted, so the
 * shared table is touched once per scan, not once per page.
 *
 * src/stats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_STATS_H
#define ENGRAM_STATS_H

#include "portability/instr_time.h"
#include "utils/relcache.h"

#include "statsclock.h"

/* Storage tiers of an engram_hnsw index (src/am/hnsw/README.md) */
typedef enum EngramTier
{
	ENGRAM_TIER_HOT,			/* index pages of nodes with upper layers */
	ENGRAM_TIER_WARM,			/* index pages of layer-0 nodes */
	ENGRAM_TIER_COLD,			/* heap pages read to re-rank results */
	ENGRAM_NTIERS
} EngramTier;

/* Upper bounds, in seconds, of the latency histograms' buckets */
#define ENGRAM_LATENCY_BUCKETS 14
extern const double engram_latency_bounds[ENGRAM_LATENCY_BUCKETS];

/* What one scan did */
typedef struct EngramScanCounts
{
	uint64		tuples;			/* rows handed to the executor */
	uint64		distances;		/* code distances computed */
	uint64		nodes_expanded;
	uint64		hits[ENGRAM_NTIERS];	/* buffer hits per tier */
	uint64		reads[ENGRAM_NTIERS];	/* buffer reads (misses) per tier */
	uint64		restarts;		/* iterative scan widenings */
	EngramTicks elapsed;		/* time spent in the access method */
} EngramScanCounts;

/* The calls of the memory API counted per memory table */
typedef enum EngramMemoryOp
{
	ENGRAM_MEMORY_RECALL,		/* engram.recall() */
	ENGRAM_MEMORY_SPREAD,		/* engram.spread() */
	ENGRAM_MEMORY_NOPS
} EngramMemoryOp;

/* Upper bounds of the activated-nodes histograms' buckets */
#define ENGRAM_NODES_BUCKETS 13
extern const double engram_nodes_bounds[ENGRAM_NODES_BUCKETS];

/* GUCs */
extern bool engram_track_index_stats;
extern bool engram_track_memory_stats;
extern int	engram_stats_max_indexes;
extern int	engram_stats_max_memory_tables;

extern void EngramStatsInit(void);
extern bool EngramStatsActive(void);
extern bool EngramMemoryStatsActive(void);
extern void EngramStatsFlushScan(Relation index, const EngramScanCounts *counts);
extern void EngramStatsCountInsert(Relation index, instr_time start);
extern void EngramStatsCountMemory(Oid relid, EngramMemoryOp op, int64 activated,
								   instr_time start);

#endif							/* ENGRAM_STATS_H */
