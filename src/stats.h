/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Per-index statistics kept in shared memory (src/stats.c).
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
	instr_time	elapsed;		/* time spent in the access method */
} EngramScanCounts;

/* GUCs */
extern bool engram_track_index_stats;
extern int	engram_stats_max_indexes;

extern void EngramStatsInit(void);
extern bool EngramStatsActive(void);
extern void EngramStatsFlushScan(Relation index, const EngramScanCounts *counts);
extern void EngramStatsCountInsert(Relation index, instr_time elapsed);

#endif							/* ENGRAM_STATS_H */
