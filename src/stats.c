/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Per-index and per-memory-table statistics in shared memory:
 *	  engram.index_stats, engram.memory_stats_all, engram.reset_stats() and
 *	  engram.metrics().
 *
 * Two shared hash tables, keyed by (database, relation), hold one entry of
 * counters per index and per memory table.  They exist only when engram is
 * loaded through shared_preload_libraries (the memory is reserved at server
 * start); the SQL functions raise an error saying so otherwise, and the
 * access methods and the memory API then count nothing.
 *
 * Scans and inserts add their counters to backend-local pending counts per
 * index, which go to the shared entries at the end of each transaction
 * (and before this backend reads them), under each entry's spinlock; the
 * table's LWLock is held in shared mode meanwhile, so that a reset (which
 * removes entries, in exclusive mode) cannot free an entry being updated.
 * recall() and spread() add to the shared entry once per call.  One LWLock covers
 * both tables.  A full table leaves new relations untracked and counts how
 * often that happened.  Scans are timed with the clock of statsclock.c,
 * chosen and calibrated here while preloading.  The same hooks reserve the
 * memory API's shared edge version (src/memory/edgeversion.c).
 *
 * src/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "memory/memory.h"
#include "stats.h"

/* 100 us .. 2.5 s; slower operations land in the +Inf bucket */
const double engram_latency_bounds[ENGRAM_LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
};

/* memories a recall or spread reached: 1 .. 10000, then +Inf */
const double engram_nodes_bounds[ENGRAM_NODES_BUCKETS] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000
};

static const char *const tier_names[ENGRAM_NTIERS] = {"hot", "warm", "cold"};
static const char *const memory_op_names[ENGRAM_MEMORY_NOPS] = {"recall", "spread"};

bool		engram_track_index_stats = true;
bool		engram_track_memory_stats = true;
int			engram_stats_max_indexes = 1000;
int			engram_stats_max_memory_tables = 100;
static char *engram_stats_clock = NULL;

/* engram_latency_bounds in ticks of the statistics clock */
static EngramTicks latency_bounds_ticks[ENGRAM_LATENCY_BUCKETS];

typedef struct StatsKey
{
	Oid			dbid;
	Oid			relid;			/* index or memory table */
} StatsKey;

/* What the entries of both tables start with */
typedef struct StatsEntryHeader
{
	StatsKey	key;			/* hash key, must be first */
	slock_t		mutex;			/* protects the counters that follow */
	TimestampTz created;		/* first counted, or last reset */
} StatsEntryHeader;

typedef struct IndexStatsCounters
{
	uint64		scans;
	uint64		tuples;
	uint64		distances;
	uint64		nodes_expanded;
	uint64		hits[ENGRAM_NTIERS];
	uint64		reads[ENGRAM_NTIERS];
	uint64		restarts;
	uint64		inserts;
	/* per bucket, not cumulative; the last one is above every bound */
	uint64		scan_buckets[ENGRAM_LATENCY_BUCKETS + 1];
	uint64		insert_buckets[ENGRAM_LATENCY_BUCKETS + 1];
	double		scan_seconds;
	double		insert_seconds;
} IndexStatsCounters;

typedef struct IndexStatsEntry
{
	StatsEntryHeader h;
	IndexStatsCounters c;
} IndexStatsEntry;

/* Per memory table, each array indexed by EngramMemoryOp */
typedef struct MemoryStatsCounters
{
	uint64		calls[ENGRAM_MEMORY_NOPS];
	uint64		nodes[ENGRAM_MEMORY_NOPS];	/* activated memories, summed */
	/* per bucket, not cumulative; the last one is above every bound */
	uint64		node_buckets[ENGRAM_MEMORY_NOPS][ENGRAM_NODES_BUCKETS + 1];
	uint64		latency_buckets[ENGRAM_MEMORY_NOPS][ENGRAM_LATENCY_BUCKETS + 1];
	double		seconds[ENGRAM_MEMORY_NOPS];
} MemoryStatsCounters;

typedef struct MemoryStatsEntry
{
	StatsEntryHeader h;
	MemoryStatsCounters c;
} MemoryStatsEntry;

typedef struct StatsShared
{
	LWLock	   *lock;			/* both hash tables' membership */
	uint64		untracked;		/* flushes lost to a full table */
} StatsShared;

static StatsShared *stats_shared = NULL;
static HTAB *stats_hash = NULL;
static HTAB *memory_hash = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
StatsShmemSize(void)
{
	return add_size(add_size(MAXALIGN(sizeof(StatsShared)),
							 hash_estimate_size(engram_stats_max_indexes,
												sizeof(IndexStatsEntry))),
					hash_estimate_size(engram_stats_max_memory_tables,
									   sizeof(MemoryStatsEntry)));
}

static void
StatsShmemRequest(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(StatsShmemSize());
	RequestAddinShmemSpace(EngramEdgeVersionShmemSize());
	RequestAddinShmemSpace(EngramAdjacencyShmemSize());
	RequestNamedLWLockTranche("engram_stats", 1);
}

static void
StatsShmemStartup(void)
{
	HASHCTL		ctl;
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stats_shared = ShmemInitStruct("engram stats", sizeof(StatsShared), &found);
	if (!found)
	{
		stats_shared->lock = &(GetNamedLWLockTranche("engram_stats"))->lock;
		stats_shared->untracked = 0;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(StatsKey);
	ctl.entrysize = sizeof(IndexStatsEntry);
	stats_hash = ShmemInitHash("engram index stats",
							   engram_stats_max_indexes, engram_stats_max_indexes,
							   &ctl, HASH_ELEM | HASH_BLOBS);
	ctl.entrysize = sizeof(MemoryStatsEntry);
	memory_hash = ShmemInitHash("engram memory stats",
								engram_stats_max_memory_tables,
								engram_stats_max_memory_tables,
								&ctl, HASH_ELEM | HASH_BLOBS);
	EngramEdgeVersionShmemStartup();
	EngramAdjacencyShmemStartup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Define the settings; reserve shared memory when preloading.  Called from
 * _PG_init.
 */
void
EngramStatsInit(void)
{
	DefineCustomBoolVariable("engram.track_index_stats",
							 "Collects per-index statistics of engram scans and inserts.",
							 "Needs engram in shared_preload_libraries.",
							 &engram_track_index_stats, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("engram.track_memory_stats",
							 "Collects per-memory-table statistics of recall and spread.",
							 "Needs engram in shared_preload_libraries.",
							 &engram_track_memory_stats, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	/* a server-start setting can only be defined while preloading */
	if (!process_shared_preload_libraries_in_progress)
		return;

	EngramClockInit();
	for (int i = 0; i < ENGRAM_LATENCY_BUCKETS; i++)
		latency_bounds_ticks[i] = (EngramTicks) (engram_latency_bounds[i] /
												 engram_clock_seconds_per_tick);
	DefineCustomStringVariable("engram.stats_clock",
							   "The clock that times scans for engram's statistics.",
							   "tsc: the CPU's invariant time-stamp counter; clock_gettime: CLOCK_MONOTONIC.",
							   &engram_stats_clock,
							   engram_clock_tsc ? "tsc" : "clock_gettime",
							   PGC_INTERNAL, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("engram.stats_max_indexes",
							"Number of indexes engram keeps statistics for.",
							NULL,
							&engram_stats_max_indexes, 1000, 10, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("engram.stats_max_memory_tables",
							"Number of memory tables engram keeps statistics for.",
							NULL,
							&engram_stats_max_memory_tables, 100, 10, 100000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = StatsShmemRequest;
#else
	StatsShmemRequest();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = StatsShmemStartup;
}

/* Whether scans and inserts should count */
bool
EngramStatsActive(void)
{
	return stats_hash != NULL && engram_track_index_stats;
}

/* Whether recall and spread should count */
bool
EngramMemoryStatsActive(void)
{
	return memory_hash != NULL && engram_track_memory_stats;
}

static void
RequireStats(void)
{
	if (stats_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("engram statistics are not available"),
				 errdetail("engram was not loaded through shared_preload_libraries when the server started."),
				 errhint("Add engram to shared_preload_libraries and restart the server.")));
}

/* The histogram bucket of value: the first bound it does not exceed */
static inline int
Bucket(const double *bounds, int nbounds, double value)
{
	int			i = 0;

	while (i < nbounds && value > bounds[i])
		i++;
	return i;
}

static double
SecondsSince(instr_time start)
{
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	return INSTR_TIME_GET_DOUBLE(elapsed);
}

/*
 * The relation's entry in hash (of entries of entrysize, at most max), created
 * with zero counters if missing; returned with the tables' lock held (shared,
 * or exclusive when the entry was just created), so no reset frees it
 * meanwhile.  NULL, with the lock released, when the table is full.
 */
static StatsEntryHeader *
AcquireEntry(HTAB *hash, long max, Size entrysize, Oid relid)
{
	StatsKey	key;
	StatsEntryHeader *entry;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	entry = hash_search(hash, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;
	LWLockRelease(stats_shared->lock);

	/* the table may grow past its size into spare shared memory: cap it */
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	entry = NULL;
	if (hash_get_num_entries(hash) < max)
		entry = hash_search(hash, &key, HASH_ENTER_NULL, &found);
	else
		entry = hash_search(hash, &key, HASH_FIND, &found);
	if (entry == NULL)
	{
		stats_shared->untracked++;
		LWLockRelease(stats_shared->lock);
		return NULL;
	}
	if (!found)
	{
		SpinLockInit(&entry->mutex);
		memset((char *) entry + sizeof(StatsEntryHeader), 0,
			   entrysize - sizeof(StatsEntryHeader));
		entry->created = GetCurrentTimestamp();
	}
	return entry;
}

/*
 * Counts of this backend not yet added to shared memory, per index.  Scans
 * and inserts add to them without any lock; they go to shared memory at the
 * end of every transaction and before this backend reads the statistics.
 * (A flush per scan, a shared lock, a shared hash lookup and a spinlock,
 * cost point lookups on engram_alex 4.5%; this costs a local add.)
 */
typedef struct PendingIndexStats
{
	Oid			relid;
	IndexStatsCounters c;
	EngramTicks scan_ticks;		/* scan time not yet in c.scan_seconds */
} PendingIndexStats;

static HTAB *pending_hash = NULL;
static PendingIndexStats *pending_last = NULL;

static void PendingXactCallback(XactEvent event, void *arg);

static PendingIndexStats *
PendingFor(Oid relid)
{
	bool		found;

	if (pending_last != NULL && pending_last->relid == relid)
		return pending_last;
	if (pending_hash == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PendingIndexStats);
		ctl.hcxt = TopMemoryContext;
		pending_hash = hash_create("engram pending index statistics", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		RegisterXactCallback(PendingXactCallback, NULL);
	}
	pending_last = hash_search(pending_hash, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(&pending_last->c, 0, sizeof(IndexStatsCounters));
		pending_last->scan_ticks = 0;
	}
	return pending_last;
}

static void
AddCounters(IndexStatsCounters *to, const IndexStatsCounters *from)
{
	to->scans += from->scans;
	to->tuples += from->tuples;
	to->distances += from->distances;
	to->nodes_expanded += from->nodes_expanded;
	for (int t = 0; t < ENGRAM_NTIERS; t++)
	{
		to->hits[t] += from->hits[t];
		to->reads[t] += from->reads[t];
	}
	to->restarts += from->restarts;
	to->inserts += from->inserts;
	for (int b = 0; b <= ENGRAM_LATENCY_BUCKETS; b++)
	{
		to->scan_buckets[b] += from->scan_buckets[b];
		to->insert_buckets[b] += from->insert_buckets[b];
	}
	to->scan_seconds += from->scan_seconds;
	to->insert_seconds += from->insert_seconds;
}

/* Add this backend's pending counts to shared memory, and forget them */
static void
FlushPending(void)
{
	HASH_SEQ_STATUS seq;
	PendingIndexStats *p;

	if (pending_hash == NULL || hash_get_num_entries(pending_hash) == 0)
		return;
	hash_seq_init(&seq, pending_hash);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		IndexStatsEntry *entry = NULL;

		p->c.scan_seconds += EngramTicksToSeconds(p->scan_ticks);
		if (stats_hash != NULL)
			entry = (IndexStatsEntry *) AcquireEntry(stats_hash, engram_stats_max_indexes,
													 sizeof(IndexStatsEntry), p->relid);
		if (entry != NULL)
		{
			SpinLockAcquire(&entry->h.mutex);
			AddCounters(&entry->c, &p->c);
			SpinLockRelease(&entry->h.mutex);
			LWLockRelease(stats_shared->lock);
		}
		hash_search(pending_hash, &p->relid, HASH_REMOVE, NULL);
	}
	pending_last = NULL;
}

/* Forget this backend's pending counts (a reset) */
static void
DiscardPending(Oid relid)
{
	if (pending_hash == NULL)
		return;
	if (OidIsValid(relid))
		hash_search(pending_hash, &relid, HASH_REMOVE, NULL);
	else
	{
		HASH_SEQ_STATUS seq;
		PendingIndexStats *p;

		hash_seq_init(&seq, pending_hash);
		while ((p = hash_seq_search(&seq)) != NULL)
			hash_search(pending_hash, &p->relid, HASH_REMOVE, NULL);
	}
	pending_last = NULL;
}

static void
PendingXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			FlushPending();
			break;
		default:
			break;
	}
}

/*
 * Add one finished (or restarted) scan's counters to the index's pending
 * counts.  This runs once per scan, a few microseconds on engram_alex: its
 * time stays in clock ticks, compared with bounds in ticks, and becomes
 * seconds when the pending counts are flushed.
 */
void
EngramStatsFlushScan(Relation index, const EngramScanCounts *scan)
{
	PendingIndexStats *p;
	IndexStatsCounters *c;
	int			bucket = 0;

	if (stats_hash == NULL)
		return;
	p = PendingFor(RelationGetRelid(index));
	c = &p->c;
	while (bucket < ENGRAM_LATENCY_BUCKETS && scan->elapsed > latency_bounds_ticks[bucket])
		bucket++;
	c->scans++;
	c->tuples += scan->tuples;
	c->distances += scan->distances;
	c->nodes_expanded += scan->nodes_expanded;
	for (int t = 0; t < ENGRAM_NTIERS; t++)
	{
		c->hits[t] += scan->hits[t];
		c->reads[t] += scan->reads[t];
	}
	c->restarts += scan->restarts;
	c->scan_buckets[bucket]++;
	p->scan_ticks += scan->elapsed;
}

/* Count one insert into the index, begun at start */
void
EngramStatsCountInsert(Relation index, instr_time start)
{
	double		seconds = SecondsSince(start);
	IndexStatsCounters *c;

	if (stats_hash == NULL)
		return;
	c = &PendingFor(RelationGetRelid(index))->c;
	c->inserts++;
	c->insert_buckets[Bucket(engram_latency_bounds, ENGRAM_LATENCY_BUCKETS, seconds)]++;
	c->insert_seconds += seconds;
}

/*
 * Count one recall or spread over the memory table relid, begun at start,
 * that reached activated memories
 */
void
EngramStatsCountMemory(Oid relid, EngramMemoryOp op, int64 activated,
					   instr_time start)
{
	double		seconds = SecondsSince(start);
	MemoryStatsEntry *entry;

	if (memory_hash == NULL)
		return;
	entry = (MemoryStatsEntry *) AcquireEntry(memory_hash, engram_stats_max_memory_tables,
											  sizeof(MemoryStatsEntry), relid);
	if (entry == NULL)
		return;

	SpinLockAcquire(&entry->h.mutex);
	entry->c.calls[op]++;
	entry->c.nodes[op] += activated;
	entry->c.node_buckets[op][Bucket(engram_nodes_bounds, ENGRAM_NODES_BUCKETS,
									 (double) activated)]++;
	entry->c.latency_buckets[op][Bucket(engram_latency_bounds, ENGRAM_LATENCY_BUCKETS,
										seconds)]++;
	entry->c.seconds[op] += seconds;
	SpinLockRelease(&entry->h.mutex);

	LWLockRelease(stats_shared->lock);
}

/*
 * Copy the entries of hash (of this database only, when current_db) into an
 * array of entries of entrysize; returns the count
 */
static int
SnapshotTable(HTAB *hash, Size entrysize, bool current_db, void **out)
{
	HASH_SEQ_STATUS seq;
	StatsEntryHeader *entry;
	char	   *snap;
	int			n = 0;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	snap = palloc(entrysize * Max(hash_get_num_entries(hash), 1));
	hash_seq_init(&seq, hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (current_db && entry->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&entry->mutex);
		memcpy(snap + n * entrysize, entry, entrysize);
		SpinLockRelease(&entry->mutex);
		n++;
	}
	LWLockRelease(stats_shared->lock);
	*out = snap;
	return n;
}

/* What the snapshots of both tables start with, for sorting by name */
typedef struct RelNames
{
	char	   *schema;
	char	   *name;
} RelNames;

/* A copy of one entry, taken so no lock is held while reading catalogs */
typedef struct EntrySnapshot
{
	char	   *schema;			/* as in RelNames */
	char	   *name;
	StatsKey	key;
	IndexStatsCounters c;
	TimestampTz created;
} EntrySnapshot;

/*
 * Copy the index entries (of this database only, when current_db); returns
 * the count
 */
static int
SnapshotEntries(bool current_db, EntrySnapshot **out)
{
	IndexStatsEntry *entries;
	EntrySnapshot *snap;
	int			n = SnapshotTable(stats_hash, sizeof(IndexStatsEntry), current_db,
								  (void **) &entries);

	snap = palloc(sizeof(EntrySnapshot) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		snap[i].key = entries[i].h.key;
		snap[i].c = entries[i].c;
		snap[i].created = entries[i].h.created;
		snap[i].schema = NULL;
		snap[i].name = NULL;
	}
	pfree(entries);
	*out = snap;
	return n;
}

/* The histogram of nbuckets buckets as bigint[] of cumulative counts */
static Datum
CumulativeArray(const uint64 *buckets, int nbuckets)
{
	Datum	   *d = palloc(sizeof(Datum) * nbuckets);
	uint64		sum = 0;

	for (int i = 0; i < nbuckets; i++)
	{
		sum += buckets[i];
		d[i] = Int64GetDatum((int64) sum);
	}
	return PointerGetDatum(construct_array(d, nbuckets, INT8OID,
										   sizeof(int64), FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/*
 * engram.index_statistics(): the raw counters of every tracked index in
 * every database (the view engram.index_stats adds names)
 */
PG_FUNCTION_INFO_V1(engram_index_statistics);
Datum
engram_index_statistics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EntrySnapshot *snap;
	int			n;

	RequireStats();
	FlushPending();
	InitMaterializedSRF(fcinfo, 0);
	n = SnapshotEntries(false, &snap);
	for (int i = 0; i < n; i++)
	{
		IndexStatsCounters *c = &snap[i].c;
		Datum		values[19];
		bool		nulls[19] = {false};
		int			k = 0;

		values[k++] = ObjectIdGetDatum(snap[i].key.dbid);
		values[k++] = ObjectIdGetDatum(snap[i].key.relid);
		values[k++] = Int64GetDatum((int64) c->scans);
		values[k++] = Int64GetDatum((int64) c->tuples);
		values[k++] = Int64GetDatum((int64) c->distances);
		values[k++] = Int64GetDatum((int64) c->nodes_expanded);
		for (int t = 0; t < ENGRAM_NTIERS; t++)
		{
			values[k++] = Int64GetDatum((int64) c->hits[t]);
			values[k++] = Int64GetDatum((int64) c->reads[t]);
		}
		values[k++] = Int64GetDatum((int64) c->restarts);
		values[k++] = Int64GetDatum((int64) c->inserts);
		values[k++] = Float8GetDatum(c->scan_seconds);
		values[k++] = Float8GetDatum(c->insert_seconds);
		values[k++] = CumulativeArray(c->scan_buckets, ENGRAM_LATENCY_BUCKETS + 1);
		values[k++] = CumulativeArray(c->insert_buckets, ENGRAM_LATENCY_BUCKETS + 1);
		values[k++] = TimestampTzGetDatum(snap[i].created);
		Assert(k == lengthof(values));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * engram.memory_statistics(): the raw counters of every tracked memory table
 * in every database (the view engram.memory_stats_all adds names)
 */
PG_FUNCTION_INFO_V1(engram_memory_statistics);
Datum
engram_memory_statistics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryStatsEntry *snap;
	int			n;

	RequireStats();
	InitMaterializedSRF(fcinfo, 0);
	n = SnapshotTable(memory_hash, sizeof(MemoryStatsEntry), false, (void **) &snap);
	for (int i = 0; i < n; i++)
	{
		MemoryStatsCounters *c = &snap[i].c;
		Datum		values[3 + 5 * ENGRAM_MEMORY_NOPS];
		bool		nulls[3 + 5 * ENGRAM_MEMORY_NOPS] = {false};
		int			k = 0;

		values[k++] = ObjectIdGetDatum(snap[i].h.key.dbid);
		values[k++] = ObjectIdGetDatum(snap[i].h.key.relid);
		/* recalls, spreads, then each column for recall and for spread */
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
			values[k++] = Int64GetDatum((int64) c->calls[op]);
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
			values[k++] = Int64GetDatum((int64) c->nodes[op]);
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
			values[k++] = Float8GetDatum(c->seconds[op]);
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
			values[k++] = CumulativeArray(c->node_buckets[op], ENGRAM_NODES_BUCKETS + 1);
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
			values[k++] = CumulativeArray(c->latency_buckets[op], ENGRAM_LATENCY_BUCKETS + 1);
		values[k++] = TimestampTzGetDatum(snap[i].h.created);
		Assert(k == lengthof(values));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* The bounds as float8[], +Infinity last */
static ArrayType *
BoundsArray(const double *bounds, int nbounds)
{
	Datum	   *d = palloc(sizeof(Datum) * (nbounds + 1));

	for (int i = 0; i < nbounds; i++)
		d[i] = Float8GetDatum(bounds[i]);
	d[nbounds] = Float8GetDatum(get_float8_infinity());
	return construct_array(d, nbounds + 1, FLOAT8OID, sizeof(float8),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * engram.latency_bucket_bounds(): upper bounds of the latency histograms'
 * buckets in seconds, +Infinity last
 */
PG_FUNCTION_INFO_V1(engram_latency_bucket_bounds);
Datum
engram_latency_bucket_bounds(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(BoundsArray(engram_latency_bounds, ENGRAM_LATENCY_BUCKETS));
}

/*
 * engram.activated_nodes_bucket_bounds(): upper bounds of the buckets of the
 * activated-memories histograms, +Infinity last
 */
PG_FUNCTION_INFO_V1(engram_activated_nodes_bucket_bounds);
Datum
engram_activated_nodes_bucket_bounds(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(BoundsArray(engram_nodes_bounds, ENGRAM_NODES_BUCKETS));
}

/* Remove every entry of hash; the caller holds the lock exclusively */
static void
RemoveAll(HTAB *hash)
{
	HASH_SEQ_STATUS seq;
	StatsEntryHeader *entry;

	hash_seq_init(&seq, hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
		hash_search(hash, &entry->key, HASH_REMOVE, NULL);
}

/*
 * engram.reset_stats(rel regclass DEFAULT NULL): forget the counters of one
 * index or memory table of this database, or of everything when NULL
 */
PG_FUNCTION_INFO_V1(engram_reset_stats);
Datum
engram_reset_stats(PG_FUNCTION_ARGS)
{
	RequireStats();
	DiscardPending(PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0));
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	if (PG_ARGISNULL(0))
	{
		RemoveAll(stats_hash);
		RemoveAll(memory_hash);
		stats_shared->untracked = 0;
	}
	else
	{
		StatsKey	key;

		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.relid = PG_GETARG_OID(0);
		hash_search(stats_hash, &key, HASH_REMOVE, NULL);
		hash_search(memory_hash, &key, HASH_REMOVE, NULL);
	}
	LWLockRelease(stats_shared->lock);
	PG_RETURN_VOID();
}

static void
AppendLabelValue(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		if (*s == '\\' || *s == '"')
			appendStringInfoChar(buf, '\\');
		if (*s == '\n')
			appendStringInfoString(buf, "\\n");
		else
			appendStringInfoChar(buf, *s);
	}
}

/* label="schema.name" */
static void
AppendRelLabel(StringInfo buf, const char *label, const char *schema, const char *name)
{
	appendStringInfo(buf, "%s=\"", label);
	AppendLabelValue(buf, schema);
	appendStringInfoChar(buf, '.');
	AppendLabelValue(buf, name);
	appendStringInfoChar(buf, '"');
}

static void
AppendIndexLabel(StringInfo buf, const EntrySnapshot *e)
{
	AppendRelLabel(buf, "index", e->schema, e->name);
}

static void
AppendFamily(StringInfo buf, const char *name, const char *type, const char *help)
{
	appendStringInfo(buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef enum CounterField
{
	FIELD_SCANS,
	FIELD_TUPLES,
	FIELD_DISTANCES,
	FIELD_NODES,
	FIELD_RESTARTS,
	FIELD_INSERTS
} CounterField;

static uint64
GetField(const IndexStatsCounters *c, CounterField f)
{
	switch (f)
	{
		case FIELD_SCANS:
			return c->scans;
		case FIELD_TUPLES:
			return c->tuples;
		case FIELD_DISTANCES:
			return c->distances;
		case FIELD_NODES:
			return c->nodes_expanded;
		case FIELD_RESTARTS:
			return c->restarts;
		case FIELD_INSERTS:
			return c->inserts;
	}
	return 0;
}

/*
 * The series of one histogram of family: labels (already formatted) and le
 * for each of the nbounds buckets and +Inf, then the sum (formatted) and the
 * count
 */
static void
AppendHistogram(StringInfo buf, const char *family, const char *labels,
				const double *bounds, int nbounds, const uint64 *buckets,
				const char *sum)
{
	uint64		count = 0;

	for (int i = 0; i <= nbounds; i++)
	{
		count += buckets[i];
		appendStringInfo(buf, "%s_bucket{%s,", family, labels);
		if (i < nbounds)
			appendStringInfo(buf, "le=\"%g\"} " UINT64_FORMAT "\n", bounds[i], count);
		else
			appendStringInfo(buf, "le=\"+Inf\"} " UINT64_FORMAT "\n", count);
	}
	appendStringInfo(buf, "%s_sum{%s} %s\n", family, labels, sum);
	appendStringInfo(buf, "%s_count{%s} " UINT64_FORMAT "\n", family, labels, count);
}

/* A latency histogram: labels operation="...", then rel="schema.name" */
static void
AppendLatencyHistogram(StringInfo buf, const char *family, const char *operation,
					   const char *rel, const char *schema, const char *name,
					   const uint64 *buckets, double seconds)
{
	StringInfoData labels;
	char		sum[64];

	initStringInfo(&labels);
	appendStringInfo(&labels, "operation=\"%s\",", operation);
	AppendRelLabel(&labels, rel, schema, name);
	snprintf(sum, sizeof(sum), "%.9g", seconds);
	AppendHistogram(buf, family, labels.data, engram_latency_bounds,
					ENGRAM_LATENCY_BUCKETS, buckets, sum);
	pfree(labels.data);
}

/* The current schema and name of relid; false if it was dropped */
static bool
RelationNames(Oid relid, char **schema, char **name)
{
	*name = get_rel_name(relid);
	if (*name == NULL)
		return false;
	*schema = get_namespace_name(get_rel_namespace(relid));
	return *schema != NULL;
}

/* A copy of a memory table's entry with its names */
typedef struct MemorySnapshot
{
	char	   *schema;			/* as in RelNames */
	char	   *name;
	MemoryStatsCounters c;
} MemorySnapshot;

/* qsort order of snapshots: by schema, then name */
static int
CompareNames(const void *a, const void *b)
{
	const RelNames *ea = a;
	const RelNames *eb = b;
	int			r = strcmp(ea->schema, eb->schema);

	return r != 0 ? r : strcmp(ea->name, eb->name);
}

/* The engram_memory_* families of this database's memory tables */
static void
AppendMemoryMetrics(StringInfo buf)
{
	MemoryStatsEntry *entries;
	MemorySnapshot *snap;
	int			nall = SnapshotTable(memory_hash, sizeof(MemoryStatsEntry), true,
									 (void **) &entries);
	int			n = 0;

	snap = palloc(sizeof(MemorySnapshot) * Max(nall, 1));
	for (int i = 0; i < nall; i++)
	{
		if (!RelationNames(entries[i].h.key.relid, &snap[n].schema, &snap[n].name))
			continue;
		snap[n].c = entries[i].c;
		n++;
	}
	qsort(snap, n, sizeof(MemorySnapshot), CompareNames);

	for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
	{
		const char *name = op == ENGRAM_MEMORY_RECALL ?
			"engram_memory_recalls_total" : "engram_memory_spreads_total";

		AppendFamily(buf, name, "counter", op == ENGRAM_MEMORY_RECALL ?
					 "Calls of engram.recall per memory table." :
					 "Calls of engram.spread per memory table.");
		for (int i = 0; i < n; i++)
		{
			appendStringInfo(buf, "%s{", name);
			AppendRelLabel(buf, "table", snap[i].schema, snap[i].name);
			appendStringInfo(buf, "} " UINT64_FORMAT "\n", snap[i].c.calls[op]);
		}
	}
	AppendFamily(buf, "engram_memory_activated_nodes", "histogram",
				 "Memories a recall or spread reached, seeds included, per call.");
	for (int i = 0; i < n; i++)
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
		{
			StringInfoData labels;
			char		sum[32];

			initStringInfo(&labels);
			appendStringInfo(&labels, "operation=\"%s\",", memory_op_names[op]);
			AppendRelLabel(&labels, "table", snap[i].schema, snap[i].name);
			snprintf(sum, sizeof(sum), UINT64_FORMAT, snap[i].c.nodes[op]);
			AppendHistogram(buf, "engram_memory_activated_nodes", labels.data,
							engram_nodes_bounds, ENGRAM_NODES_BUCKETS,
							snap[i].c.node_buckets[op], sum);
			pfree(labels.data);
		}
	AppendFamily(buf, "engram_memory_operation_duration_seconds", "histogram",
				 "Time per call of engram.recall or engram.spread.");
	for (int i = 0; i < n; i++)
		for (int op = 0; op < ENGRAM_MEMORY_NOPS; op++)
			AppendLatencyHistogram(buf, "engram_memory_operation_duration_seconds",
								   memory_op_names[op], "table", snap[i].schema,
								   snap[i].name, snap[i].c.latency_buckets[op],
								   snap[i].c.seconds[op]);
}

/*
 * engram.metrics(): the statistics of this database's indexes in the
 * Prometheus text exposition format (version 0.0.4)
 */
PG_FUNCTION_INFO_V1(engram_metrics);
Datum
engram_metrics(PG_FUNCTION_ARGS)
{
	static const struct
	{
		const char *name;
		CounterField field;
		const char *help;
	}			counters[] = {
		{"engram_scans_total", FIELD_SCANS, "Index scans."},
		{"engram_tuples_returned_total", FIELD_TUPLES, "Rows index scans handed to the executor."},
		{"engram_distance_computations_total", FIELD_DISTANCES, "Distances computed by index scans."},
		{"engram_nodes_expanded_total", FIELD_NODES, "Graph nodes whose neighbours index scans read."},
		{"engram_iterative_scan_restarts_total", FIELD_RESTARTS, "Searches repeated wider by iterative scans."},
		{"engram_inserts_total", FIELD_INSERTS, "Rows inserted into indexes."},
	};
	EntrySnapshot *all;
	EntrySnapshot *snap;
	int			nall;
	int			n = 0;
	StringInfoData buf;
	uint64		untracked;

	RequireStats();
	FlushPending();
	nall = SnapshotEntries(true, &all);
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	untracked = stats_shared->untracked;
	LWLockRelease(stats_shared->lock);

	/* keep the indexes that still exist, by name */
	snap = palloc(sizeof(EntrySnapshot) * Max(nall, 1));
	for (int i = 0; i < nall; i++)
	{
		snap[n] = all[i];
		if (RelationNames(all[i].key.relid, &snap[n].schema, &snap[n].name))
			n++;
	}
	qsort(snap, n, sizeof(EntrySnapshot), CompareNames);

	initStringInfo(&buf);
	for (int f = 0; f < (int) lengthof(counters); f++)
	{
		AppendFamily(&buf, counters[f].name, "counter", counters[f].help);
		for (int i = 0; i < n; i++)
		{
			appendStringInfo(&buf, "%s{", counters[f].name);
			AppendIndexLabel(&buf, &snap[i]);
			appendStringInfo(&buf, "} " UINT64_FORMAT "\n",
							 GetField(&snap[i].c, counters[f].field));
		}
	}
	for (int hits = 1; hits >= 0; hits--)
	{
		const char *name = hits ? "engram_buffer_hits_total" : "engram_buffer_reads_total";

		AppendFamily(&buf, name, "counter",
					 hits ? "Buffer hits of index scans per tier (cold: heap pages read to re-rank)."
					 : "Buffer reads of index scans per tier (cold: heap pages read to re-rank).");
		for (int i = 0; i < n; i++)
			for (int t = 0; t < ENGRAM_NTIERS; t++)
			{
				appendStringInfo(&buf, "%s{", name);
				AppendIndexLabel(&buf, &snap[i]);
				appendStringInfo(&buf, ",tier=\"%s\"} " UINT64_FORMAT "\n", tier_names[t],
								 hits ? snap[i].c.hits[t] : snap[i].c.reads[t]);
			}
	}
	AppendFamily(&buf, "engram_operation_duration_seconds", "histogram",
				 "Time spent in the access method per scan or insert.");
	for (int i = 0; i < n; i++)
	{
		AppendLatencyHistogram(&buf, "engram_operation_duration_seconds", "scan",
							   "index", snap[i].schema, snap[i].name,
							   snap[i].c.scan_buckets, snap[i].c.scan_seconds);
		AppendLatencyHistogram(&buf, "engram_operation_duration_seconds", "insert",
							   "index", snap[i].schema, snap[i].name,
							   snap[i].c.insert_buckets, snap[i].c.insert_seconds);
	}
	AppendMemoryMetrics(&buf);
	AppendFamily(&buf, "engram_stats_untracked_total", "counter",
				 "Operations not counted because their statistics table (engram.stats_max_indexes, engram.stats_max_memory_tables) is full.");
	appendStringInfo(&buf, "engram_stats_untracked_total " UINT64_FORMAT "\n", untracked);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
