/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Per-index statistics in shared memory: engram.index_stats,
 *	  engram.reset_stats() and engram.metrics().
 *
 * A shared hash table, keyed by (database, index), holds one entry of
 * counters per index.  It exists only when engram is loaded through
 * shared_preload_libraries (the memory is reserved at server start); the
 * SQL functions raise an error saying so otherwise, and the access methods
 * then count nothing.
 *
 * Scans accumulate their counters in backend-local memory and add them to
 * the entry once, at endscan or rescan, under the entry's spinlock; the
 * table's LWLock is held in shared mode meanwhile, so that a reset (which
 * removes entries, in exclusive mode) cannot free an entry being updated.
 * A full table leaves new indexes untracked and counts how often that
 * happened.
 *
 * src/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

#include "stats.h"

/* 100 us .. 2.5 s; slower operations land in the +Inf bucket */
const double engram_latency_bounds[ENGRAM_LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
};

static const char *const tier_names[ENGRAM_NTIERS] = {"hot", "warm", "cold"};

bool		engram_track_index_stats = true;
int			engram_stats_max_indexes = 1000;

typedef struct IndexStatsKey
{
	Oid			dbid;
	Oid			indexid;
} IndexStatsKey;

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
	IndexStatsKey key;			/* hash key, must be first */
	slock_t		mutex;			/* protects c */
	IndexStatsCounters c;
	TimestampTz created;		/* first counted, or last reset */
} IndexStatsEntry;

typedef struct StatsShared
{
	LWLock	   *lock;			/* the hash table's membership */
	uint64		untracked;		/* flushes lost to a full table */
} StatsShared;

static StatsShared *stats_shared = NULL;
static HTAB *stats_hash = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
StatsShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(StatsShared)),
					hash_estimate_size(engram_stats_max_indexes,
									   sizeof(IndexStatsEntry)));
}

static void
StatsShmemRequest(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(StatsShmemSize());
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
	ctl.keysize = sizeof(IndexStatsKey);
	ctl.entrysize = sizeof(IndexStatsEntry);
	stats_hash = ShmemInitHash("engram index stats",
							   engram_stats_max_indexes, engram_stats_max_indexes,
							   &ctl, HASH_ELEM | HASH_BLOBS);
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

	/* a server-start setting can only be defined while preloading */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("engram.stats_max_indexes",
							"Number of indexes engram keeps statistics for.",
							NULL,
							&engram_stats_max_indexes, 1000, 10, 1000000,
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

static inline int
LatencyBucket(double seconds)
{
	int			i = 0;

	while (i < ENGRAM_LATENCY_BUCKETS && seconds > engram_latency_bounds[i])
		i++;
	return i;
}

/*
 * The index's entry, created if missing; returned with the table's lock held
 * (shared, or exclusive when the entry was just created), so no reset frees
 * it meanwhile.  NULL, with the lock released, when the table is full.
 */
static IndexStatsEntry *
AcquireEntry(Relation index)
{
	IndexStatsKey key;
	IndexStatsEntry *entry;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.indexid = RelationGetRelid(index);

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	entry = hash_search(stats_hash, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;
	LWLockRelease(stats_shared->lock);

	/* the table may grow past its size into spare shared memory: cap it */
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	entry = NULL;
	if (hash_get_num_entries(stats_hash) < engram_stats_max_indexes)
		entry = hash_search(stats_hash, &key, HASH_ENTER_NULL, &found);
	else
		entry = hash_search(stats_hash, &key, HASH_FIND, &found);
	if (entry == NULL)
	{
		stats_shared->untracked++;
		LWLockRelease(stats_shared->lock);
		return NULL;
	}
	if (!found)
	{
		SpinLockInit(&entry->mutex);
		memset(&entry->c, 0, sizeof(entry->c));
		entry->created = GetCurrentTimestamp();
	}
	return entry;
}

/*
 * Add one scan's counters (or, with scan NULL, one insert) and its duration
 * to the index's entry
 */
static void
CountOperation(Relation index, const EngramScanCounts *scan, instr_time elapsed)
{
	IndexStatsEntry *entry;
	double		seconds = INSTR_TIME_GET_DOUBLE(elapsed);
	int			bucket = LatencyBucket(seconds);

	if (stats_hash == NULL)
		return;
	entry = AcquireEntry(index);
	if (entry == NULL)
		return;

	SpinLockAcquire(&entry->mutex);
	if (scan == NULL)
	{
		entry->c.inserts++;
		entry->c.insert_buckets[bucket]++;
		entry->c.insert_seconds += seconds;
	}
	else
	{
		entry->c.scans++;
		entry->c.tuples += scan->tuples;
		entry->c.distances += scan->distances;
		entry->c.nodes_expanded += scan->nodes_expanded;
		for (int t = 0; t < ENGRAM_NTIERS; t++)
		{
			entry->c.hits[t] += scan->hits[t];
			entry->c.reads[t] += scan->reads[t];
		}
		entry->c.restarts += scan->restarts;
		entry->c.scan_buckets[bucket]++;
		entry->c.scan_seconds += seconds;
	}
	SpinLockRelease(&entry->mutex);

	LWLockRelease(stats_shared->lock);
}

/* Add one finished (or restarted) scan's counters to the index's entry */
void
EngramStatsFlushScan(Relation index, const EngramScanCounts *counts)
{
	CountOperation(index, counts, counts->elapsed);
}

/* Count one insert into the index and its duration */
void
EngramStatsCountInsert(Relation index, instr_time elapsed)
{
	CountOperation(index, NULL, elapsed);
}

/* A copy of one entry, taken so no lock is held while reading catalogs */
typedef struct EntrySnapshot
{
	IndexStatsKey key;
	IndexStatsCounters c;
	TimestampTz created;
	char	   *schema;
	char	   *name;
} EntrySnapshot;

/*
 * Copy the entries (of this database only, when current_db); returns the
 * count
 */
static int
SnapshotEntries(bool current_db, EntrySnapshot **out)
{
	HASH_SEQ_STATUS seq;
	IndexStatsEntry *entry;
	EntrySnapshot *snap;
	int			n = 0;
	long		capacity;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	capacity = Max(hash_get_num_entries(stats_hash), 1);
	snap = palloc(sizeof(EntrySnapshot) * capacity);
	hash_seq_init(&seq, stats_hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (current_db && entry->key.dbid != MyDatabaseId)
			continue;
		snap[n].key = entry->key;
		SpinLockAcquire(&entry->mutex);
		snap[n].c = entry->c;
		snap[n].created = entry->created;
		SpinLockRelease(&entry->mutex);
		snap[n].schema = NULL;
		snap[n].name = NULL;
		n++;
	}
	LWLockRelease(stats_shared->lock);
	*out = snap;
	return n;
}

static Datum
CumulativeArray(const uint64 *buckets)
{
	Datum		d[ENGRAM_LATENCY_BUCKETS + 1];
	uint64		sum = 0;

	for (int i = 0; i <= ENGRAM_LATENCY_BUCKETS; i++)
	{
		sum += buckets[i];
		d[i] = Int64GetDatum((int64) sum);
	}
	return PointerGetDatum(construct_array(d, ENGRAM_LATENCY_BUCKETS + 1, INT8OID,
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
	InitMaterializedSRF(fcinfo, 0);
	n = SnapshotEntries(false, &snap);
	for (int i = 0; i < n; i++)
	{
		IndexStatsCounters *c = &snap[i].c;
		Datum		values[19];
		bool		nulls[19] = {false};
		int			k = 0;

		values[k++] = ObjectIdGetDatum(snap[i].key.dbid);
		values[k++] = ObjectIdGetDatum(snap[i].key.indexid);
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
		values[k++] = CumulativeArray(c->scan_buckets);
		values[k++] = CumulativeArray(c->insert_buckets);
		values[k++] = TimestampTzGetDatum(snap[i].created);
		Assert(k == lengthof(values));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * engram.latency_bucket_bounds(): upper bounds of the histogram buckets in
 * seconds, +Infinity last
 */
PG_FUNCTION_INFO_V1(engram_latency_bucket_bounds);
Datum
engram_latency_bucket_bounds(PG_FUNCTION_ARGS)
{
	Datum		d[ENGRAM_LATENCY_BUCKETS + 1];

	for (int i = 0; i < ENGRAM_LATENCY_BUCKETS; i++)
		d[i] = Float8GetDatum(engram_latency_bounds[i]);
	d[ENGRAM_LATENCY_BUCKETS] = Float8GetDatum(get_float8_infinity());
	PG_RETURN_ARRAYTYPE_P(construct_array(d, ENGRAM_LATENCY_BUCKETS + 1, FLOAT8OID,
										  sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/*
 * engram.reset_stats(index regclass DEFAULT NULL): forget the counters of
 * one index of this database, or of every index when NULL
 */
PG_FUNCTION_INFO_V1(engram_reset_stats);
Datum
engram_reset_stats(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	IndexStatsEntry *entry;

	RequireStats();
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	if (PG_ARGISNULL(0))
	{
		hash_seq_init(&seq, stats_hash);
		while ((entry = hash_seq_search(&seq)) != NULL)
			hash_search(stats_hash, &entry->key, HASH_REMOVE, NULL);
		stats_shared->untracked = 0;
	}
	else
	{
		IndexStatsKey key;

		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.indexid = PG_GETARG_OID(0);
		hash_search(stats_hash, &key, HASH_REMOVE, NULL);
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

static void
AppendIndexLabel(StringInfo buf, const EntrySnapshot *e)
{
	appendStringInfoString(buf, "index=\"");
	AppendLabelValue(buf, e->schema);
	appendStringInfoChar(buf, '.');
	AppendLabelValue(buf, e->name);
	appendStringInfoChar(buf, '"');
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

static void
AppendHistogram(StringInfo buf, const EntrySnapshot *e, const char *operation,
				const uint64 *buckets, double seconds)
{
	uint64		sum = 0;

	for (int i = 0; i <= ENGRAM_LATENCY_BUCKETS; i++)
	{
		sum += buckets[i];
		appendStringInfo(buf, "engram_operation_duration_seconds_bucket{operation=\"%s\",",
						 operation);
		AppendIndexLabel(buf, e);
		if (i < ENGRAM_LATENCY_BUCKETS)
			appendStringInfo(buf, ",le=\"%g\"} " UINT64_FORMAT "\n",
							 engram_latency_bounds[i], sum);
		else
			appendStringInfo(buf, ",le=\"+Inf\"} " UINT64_FORMAT "\n", sum);
	}
	appendStringInfo(buf, "engram_operation_duration_seconds_sum{operation=\"%s\",", operation);
	AppendIndexLabel(buf, e);
	appendStringInfo(buf, "} %.9g\n", seconds);
	appendStringInfo(buf, "engram_operation_duration_seconds_count{operation=\"%s\",", operation);
	AppendIndexLabel(buf, e);
	appendStringInfo(buf, "} " UINT64_FORMAT "\n", sum);
}

static int
CompareSnapshotNames(const void *a, const void *b)
{
	const EntrySnapshot *ea = a;
	const EntrySnapshot *eb = b;
	int			r = strcmp(ea->schema, eb->schema);

	return r != 0 ? r : strcmp(ea->name, eb->name);
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
	nall = SnapshotEntries(true, &all);
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	untracked = stats_shared->untracked;
	LWLockRelease(stats_shared->lock);

	/* keep the indexes that still exist, by name */
	snap = palloc(sizeof(EntrySnapshot) * Max(nall, 1));
	for (int i = 0; i < nall; i++)
	{
		char	   *name = get_rel_name(all[i].key.indexid);

		if (name == NULL)
			continue;
		snap[n] = all[i];
		snap[n].name = name;
		snap[n].schema = get_namespace_name(get_rel_namespace(all[i].key.indexid));
		if (snap[n].schema == NULL)
			continue;
		n++;
	}
	qsort(snap, n, sizeof(EntrySnapshot), CompareSnapshotNames);

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
		AppendHistogram(&buf, &snap[i], "scan", snap[i].c.scan_buckets,
						snap[i].c.scan_seconds);
		AppendHistogram(&buf, &snap[i], "insert", snap[i].c.insert_buckets,
						snap[i].c.insert_seconds);
	}
	AppendFamily(&buf, "engram_stats_untracked_total", "counter",
				 "Scans and inserts not counted because engram.stats_max_indexes indexes are tracked.");
	appendStringInfo(&buf, "engram_stats_untracked_total " UINT64_FORMAT "\n", untracked);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
