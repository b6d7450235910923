/*-------------------------------------------------------------------------
 *
 * edgeversion.c
 *	  When may a backend's copy of engram.associations be trusted: the
 *	  shared version counter of the adjacency cache.
 *
 * The protocol (README.md, "Adjacency cache"):
 *
 *	- One counter `version`, one count `inflight` of transactions that have
 *	  changed engram.associations and not yet ended, and `latest_xid`, the
 *	  newest transaction id any such transaction used, in shared memory under
 *	  a spinlock.
 *	- A statement-level trigger on engram.associations (every INSERT,
 *	  UPDATE, DELETE, TRUNCATE and COPY, whoever runs it) marks the
 *	  transaction as a modifier before its first change: version++,
 *	  inflight++.  When the transaction ends, after its effects became
 *	  visible or were discarded (XACT_EVENT_COMMIT / ABORT run after the
 *	  proc array was updated): version++, inflight--, and at commit
 *	  latest_xid = max(latest_xid, its newest xid).
 *	- A cache is built only when inflight was 0, reading (version V,
 *	  latest_xid X) BEFORE taking the fresh snapshot it is built from: every
 *	  modifier had then ended, so that snapshot sees exactly the committed
 *	  edges.
 *	- A query with snapshot S uses the cache only if its transaction is
 *	  not a modifier, version is still V (no modifier began since) and S
 *	  sees every modifier up to X as ended (EngramEdgeSnapshotCurrent).  S
 *	  then sees exactly the edges the cache holds.
 *
 * Writers never wait: marking costs a spinlock once per transaction.
 *
 * The change log lets a cache built at version V serve later snapshots
 * too (adjacency.c, "patches").  An AFTER ROW trigger appends, for every
 * row changed, (database, memory table, source, top-level xid) to a ring
 * of engram.adjacency_change_log entries, before the transaction can
 * commit; `log_next` counts the entries ever appended, and a build reads
 * it with the version, as `log_pos`.  Every modifier that began after a
 * build's read logs at positions from log_pos on, so the sources whose
 * edges a snapshot may see differently from the build are among the
 * entries from log_pos to the end of the log as read after the snapshot
 * was taken.  A TRUNCATE changes every source at once: it sets
 * `log_reset`, and no graph built before it can be patched.  Nor can one
 * whose entries the ring has overwritten.
 * The shared state is reserved with the statistics' (stats.c), only when
 * engram is in shared_preload_libraries; without it nothing is tracked and
 * no cache is used.
 *
 * src/memory/edgeversion.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "memory/memory.h"

typedef struct EdgeVersionShared
{
	slock_t		mutex;
	uint64		version;
	int			inflight;		/* modifiers that have not ended */
	TransactionId latest_xid;	/* newest xid of an ended modifier */
	TimestampTz changed;		/* last change of version */
	uint64		log_next;		/* entries ever appended to log */
	uint64		log_reset;		/* graphs built before this: not patchable */
	int			log_size;		/* entries log holds (0: no log) */
	EdgeChange	log[FLEXIBLE_ARRAY_MEMBER];
} EdgeVersionShared;

static EdgeVersionShared *edge_version = NULL;
static bool xact_is_modifier = false;
static bool callback_registered = false;

/* the last entry this backend logged, not to log a source twice in a row */
static EdgeChange last_logged;

/* Shared memory to reserve; stats.c reserves it with its own */
Size
EngramEdgeVersionShmemSize(void)
{
	return MAXALIGN(add_size(offsetof(EdgeVersionShared, log),
							 mul_size(sizeof(EdgeChange), engram_adjacency_change_log)));
}

/*
 * Find or create the shared state; called by stats.c's shmem startup hook
 * with AddinShmemInitLock held
 */
void
EngramEdgeVersionShmemStartup(void)
{
	bool		found;

	edge_version = ShmemInitStruct("engram edge version", EngramEdgeVersionShmemSize(),
								   &found);
	if (!found)
	{
		SpinLockInit(&edge_version->mutex);
		edge_version->version = 1;
		edge_version->inflight = 0;
		edge_version->latest_xid = InvalidTransactionId;
		edge_version->changed = 0;
		edge_version->log_next = 0;
		edge_version->log_reset = 0;
		edge_version->log_size = engram_adjacency_change_log;
	}
}

/* Whether versions are tracked at all (engram was preloaded) */
bool
EngramEdgeVersionAvailable(void)
{
	return edge_version != NULL;
}

/* Whether this transaction changed engram.associations */
bool
EngramEdgeXactIsModifier(void)
{
	return xact_is_modifier;
}

static void
EdgeVersionXactCallback(XactEvent event, void *arg)
{
	TransactionId latest = InvalidTransactionId;

	if (!xact_is_modifier)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:

			/*
			 * COMMIT PREPARED runs in another backend, after this one has
			 * forgotten the transaction: nothing would end the modifier
			 */
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that has modified engram.associations"),
					 errdetail("engram's adjacency caches cannot follow a prepared transaction.")));
			break;
		case XACT_EVENT_COMMIT:
			{
				TransactionId top = GetTopTransactionIdIfAny();
				TransactionId *children;
				int			nchildren = xactGetCommittedChildren(&children);

				if (TransactionIdIsValid(top))
					latest = TransactionIdLatest(top, nchildren, children);
			}
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
			SpinLockAcquire(&edge_version->mutex);
			edge_version->version++;
			edge_version->inflight--;
			if (TransactionIdIsValid(latest) &&
				(!TransactionIdIsValid(edge_version->latest_xid) ||
				 TransactionIdFollows(latest, edge_version->latest_xid)))
				edge_version->latest_xid = latest;
			SpinLockRelease(&edge_version->mutex);
			xact_is_modifier = false;
			break;
		default:
			break;
	}
}

/*
 * Mark this transaction as a modifier of engram.associations, once
 */
static void
MarkModifier(void)
{
	TimestampTz now;

	if (edge_version == NULL || xact_is_modifier)
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(EdgeVersionXactCallback, NULL);
		callback_registered = true;
	}
	now = GetCurrentTimestamp();
	SpinLockAcquire(&edge_version->mutex);
	edge_version->version++;
	edge_version->inflight++;
	edge_version->changed = now;
	SpinLockRelease(&edge_version->mutex);
	xact_is_modifier = true;
}

/*
 * The triggers read engram.associations' columns by position: refuse them
 * on any other table
 */
static void
CheckAssociations(Relation rel, const char *function)
{
	Oid			nsp = get_namespace_oid("engram", true);

	if (RelationGetNamespace(rel) != nsp ||
		strcmp(RelationGetRelationName(rel), "associations") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called on engram.associations", function)));
}

/*
 * Whether engram's row trigger names the sources of the rows rel's
 * statement changes in the log: enabled for this session, after insert,
 * update and delete of each row
 */
static bool
ChangesLogged(Relation rel)
{
	TriggerDesc *triggers = rel->trigdesc;
	int16		events = TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE;

	for (int i = 0; triggers != NULL && i < triggers->numtriggers; i++)
	{
		Trigger    *t = &triggers->triggers[i];
		char	   *function;
		bool		ours;

		if (strcmp(t->tgname, "engram_edge_rows_changed") != 0)
			continue;
		function = get_func_name(t->tgfoid);
		ours = function != NULL && strcmp(function, "memory_edge_rows_changed") == 0 &&
			get_func_namespace(t->tgfoid) == RelationGetNamespace(rel) &&
			TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_AFTER(t->tgtype) &&
			(t->tgtype & events) == events;
		if (!ours || t->tgenabled == TRIGGER_DISABLED)
			return false;
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
			return t->tgenabled != TRIGGER_FIRES_ON_ORIGIN;
		return t->tgenabled != TRIGGER_FIRES_ON_REPLICA;
	}
	return false;
}

/* No graph read before now can be patched: the log misses changes */
static void
ResetLog(void)
{
	SpinLockAcquire(&edge_version->mutex);
	edge_version->log_reset = edge_version->log_next + 1;
	edge_version->log_next++;	/* no graph is built at log_reset - 1 */
	SpinLockRelease(&edge_version->mutex);
}

/*
 * engram.memory_edges_changed(): BEFORE ... FOR EACH STATEMENT trigger on
 * engram.associations
 */
PG_FUNCTION_INFO_V1(engram_memory_edges_changed);
Datum
engram_memory_edges_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("engram.memory_edges_changed() must be called as a BEFORE statement trigger")));
	CheckAssociations(trigdata->tg_relation, "engram.memory_edges_changed()");
	MarkModifier();
	/* TRUNCATE changes every source; a disabled row trigger logs none */
	if (edge_version != NULL && edge_version->log_size > 0 &&
		(TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ||
		 !ChangesLogged(trigdata->tg_relation)))
		ResetLog();
	return PointerGetDatum(NULL);
}

/* Append the source of one changed row of engram.associations */
static void
LogChange(HeapTuple tuple, TupleDesc desc)
{
	EdgeChange	change;
	bool		isnull;
	Datum		tbl = heap_getattr(tuple, 1, desc, &isnull);
	Datum		src;

	if (isnull)
		return;					/* NOT NULL: cannot happen */
	src = heap_getattr(tuple, 2, desc, &isnull);
	if (isnull)
		return;
	memset(&change, 0, sizeof(change));
	change.dbid = MyDatabaseId;
	change.relid = DatumGetObjectId(tbl);
	change.xid = GetTopTransactionId();
	change.src = DatumGetInt64(src);
	if (memcmp(&change, &last_logged, sizeof(change)) == 0)
		return;					/* this transaction's previous entry */
	SpinLockAcquire(&edge_version->mutex);
	edge_version->log[edge_version->log_next % edge_version->log_size] = change;
	edge_version->log_next++;
	SpinLockRelease(&edge_version->mutex);
	last_logged = change;
}

/*
 * engram.memory_edge_rows_changed(): AFTER ... FOR EACH ROW trigger on
 * engram.associations; logs the source of the old and the new row
 */
PG_FUNCTION_INFO_V1(engram_memory_edge_rows_changed);
Datum
engram_memory_edge_rows_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("engram.memory_edge_rows_changed() must be called as an AFTER row trigger")));
	CheckAssociations(trigdata->tg_relation, "engram.memory_edge_rows_changed()");
	/* where statement triggers do not fire (logical replication's apply) */
	MarkModifier();
	if (edge_version == NULL || edge_version->log_size == 0)
		return PointerGetDatum(NULL);
	desc = RelationGetDescr(trigdata->tg_relation);
	LogChange(trigdata->tg_trigtuple, desc);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		LogChange(trigdata->tg_newtuple, desc);
	return PointerGetDatum(NULL);
}

/*
 * The change log's bounds: a graph built at log position oldest or later
 * can be patched up to end (no TRUNCATE since, nothing overwritten).
 * false when there is no log.
 */
bool
EngramEdgeLogBounds(uint64 *oldest, uint64 *end)
{
	uint64		size;

	if (edge_version == NULL || edge_version->log_size == 0)
		return false;
	size = (uint64) edge_version->log_size;
	SpinLockAcquire(&edge_version->mutex);
	*end = edge_version->log_next;
	*oldest = Max(edge_version->log_reset,
				  edge_version->log_next > size ? edge_version->log_next - size : 0);
	SpinLockRelease(&edge_version->mutex);
	return true;
}

/* Whether a graph built at log position from can be patched up to *end */
bool
EngramEdgeLogPatchable(uint64 from, uint64 *end)
{
	uint64		oldest;

	return EngramEdgeLogBounds(&oldest, end) && from >= oldest;
}

/*
 * Copy the entries at positions from .. upto - 1 (upto no later than an
 * end EngramEdgeLogPatchable returned); false if writers overwrote some
 * meanwhile.  The copy runs without the lock: entries below the end read
 * are complete, and one overwritten while copied shows in log_next after.
 */
bool
EngramEdgeLogRead(uint64 from, uint64 upto, EdgeChange *out)
{
	uint64		next;
	int			size = edge_version->log_size;

	for (uint64 p = from; p < upto; p++)
		out[p - from] = edge_version->log[p % size];
	pg_read_barrier();
	SpinLockAcquire(&edge_version->mutex);
	next = edge_version->log_next;
	SpinLockRelease(&edge_version->mutex);
	return next - from <= (uint64) size;
}

/*
 * The state a cache is built under: false when a modifier is in flight (a
 * fresh snapshot could then miss edges about to commit, so no cache may be
 * kept).  Otherwise the version, the newest modifier xid, and how long ago
 * the version last changed.  Call BEFORE taking the build's snapshot.
 */
bool
EngramEdgeVersionRead(EdgeVersion *v, TimestampTz *changed)
{
	bool		quiet;

	if (edge_version == NULL)
		return false;
	SpinLockAcquire(&edge_version->mutex);
	v->version = edge_version->version;
	v->latest_xid = edge_version->latest_xid;
	v->log_pos = edge_version->log_next;
	quiet = edge_version->inflight == 0;
	*changed = edge_version->changed;
	SpinLockRelease(&edge_version->mutex);
	return quiet && !xact_is_modifier;
}

/* Whether no modifier is in flight */
bool
EngramEdgeVersionQuiet(void)
{
	bool		quiet;

	if (edge_version == NULL)
		return false;
	SpinLockAcquire(&edge_version->mutex);
	quiet = edge_version->inflight == 0;
	SpinLockRelease(&edge_version->mutex);
	return quiet;
}

/* The current version (0 without shared memory) */
uint64
EngramEdgeVersionNow(void)
{
	uint64		v;

	if (edge_version == NULL)
		return 0;
	SpinLockAcquire(&edge_version->mutex);
	v = edge_version->version;
	SpinLockRelease(&edge_version->mutex);
	return v;
}

/*
 * Whether snapshot sees every modifier that ended before a build at v as
 * ended: then, with no modifier begun since (the version is still
 * v->version), it sees exactly the edges that build read.
 *
 * A modifier M is visible to snapshot S unless S was taken before M ended:
 * then M's newest xid is at or past S->xmax, or M's top-level xid is among
 * S's running xids (subtransactions' xids are judged through their parent,
 * which is listed whenever they are).  Every xid of M is at most
 * v->latest_xid.  So S is current when latest_xid < S->xmax and every xid
 * at most latest_xid that S thinks running is still running now (it is
 * then no ended modifier; it cannot become one without changing the
 * version).
 */
bool
EngramEdgeSnapshotCurrent(Snapshot snapshot, const EdgeVersion *v)
{
	if (snapshot->snapshot_type != SNAPSHOT_MVCC || snapshot->takenDuringRecovery)
		return false;
	if (!TransactionIdIsValid(v->latest_xid))
		return true;			/* no modifier ended since the server started */
	if (TransactionIdPrecedes(v->latest_xid, snapshot->xmin))
		return true;
	if (!TransactionIdPrecedes(v->latest_xid, snapshot->xmax))
		return false;
	for (uint32 i = 0; i < snapshot->xcnt; i++)
	{
		TransactionId xid = snapshot->xip[i];

		if (TransactionIdPrecedesOrEquals(xid, v->latest_xid) &&
			!TransactionIdIsInProgress(xid))
			return false;
	}
	return true;
}
