/*-------------------------------------------------------------------------
 *
 * readahead.c
 *	  Batched read-ahead of relation blocks that are not in shared buffers.
 *
 * A graph search learns which pages it needs a hop at a time: the pages of
 * a node's unvisited neighbours, then the heap pages of its results.  When
 * they are not in shared buffers, reading them one by one waits for each
 * read in turn.  Telling the kernel about all of them first overlaps the
 * reads.  Two ways:
 *
 * - PrefetchBuffer, which looks each block up in shared buffers and, when
 *   it is missing, calls posix_fadvise(WILLNEED): one system call per block,
 *   and the kernel starts each read before the call returns.
 * - io_uring (engram.io_uring, where liburing was found at build time and
 *   the kernel lets the backend set up a ring): the blocks are looked up the
 *   same way, then every missing one goes into one submission of fadvise
 *   requests, which the kernel's workers carry out while the backend goes
 *   on.  One system call per batch, and none of the reads' setup on the
 *   backend's path.
 *
 * effective_io_concurrency = 0 turns both off, as it does PostgreSQL's own
 * prefetching.  engram.io_uring is off by default: in the measurements of
 * the hnsw README ("Read-ahead") it was no faster than posix_fadvise.
 *
 * Either way the pages are then read through shared buffers as usual:
 * PostgreSQL 15's buffer manager has no asynchronous read an extension can
 * feed, so io_uring only fills the kernel's page cache ahead of the reads.
 * It is set up lazily, once per backend; if the kernel refuses it (no
 * io_uring, a seccomp filter, no file descriptor left), the backend falls
 * back to PrefetchBuffer for good, silently but for a DEBUG1 line.
 *
 * The ring reads segment files through descriptors of its own, opened with
 * open(2) and counted with AcquireExternalFD() so that fd.c keeps its
 * budget, and closed at the end of every transaction (after waiting for the
 * requests still in the ring), so no descriptor outlives a DROP or a new
 * relfilenode.  A lookup says whether a block is in shared buffers; the
 * answer is only a hint, and a block loaded or evicted in between costs a
 * useless or a missing hint, never a wrong result.
 *
 * src/readahead.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/xact.h"
#include "common/relpath.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/rel.h"

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "readahead.h"

bool		engram_io_uring = false;

/* What this backend did, for engram.readahead_stats() */
static int64 stat_batches;
static int64 stat_blocks_queued;	/* missing blocks handed to the kernel */
static int64 stat_blocks_cached;	/* blocks found in shared buffers */

#ifdef HAVE_LIBURING

#define RING_ENTRIES	64
#define MAX_FILES		16

typedef enum RingState
{
	RING_UNTRIED,
	RING_READY,
	RING_UNAVAILABLE
} RingState;

typedef struct SegmentFile
{
#if PG_VERSION_NUM >= 160000
	RelFileLocator node;
#else
	RelFileNode node;
#endif
	BlockNumber segno;
	int			fd;
} SegmentFile;

static struct io_uring ring;
static RingState ring_state = RING_UNTRIED;
static int	ring_inflight;		/* submitted, completion not reaped */
static SegmentFile files[MAX_FILES];
static int	nfiles;
static bool callback_registered;

static void AtEndOfTransaction(XactEvent event, void *arg);
static void SubmitToRing(EngramReadAhead *ra);

/*
 * Set up this backend's ring, once; false if the kernel refuses
 */
static bool
RingReady(void)
{
	int			rc;

	if (ring_state != RING_UNTRIED)
		return ring_state == RING_READY;

	ring_state = RING_UNAVAILABLE;
	if (!AcquireExternalFD())
	{
		elog(DEBUG1, "engram: no file descriptor for io_uring, using posix_fadvise");
		return false;
	}
	rc = io_uring_queue_init(RING_ENTRIES, &ring, 0);
	if (rc < 0)
	{
		ReleaseExternalFD();
		elog(DEBUG1, "engram: io_uring is not available (%s), using posix_fadvise",
			 strerror(-rc));
		return false;
	}
	if (!callback_registered)
	{
		RegisterXactCallback(AtEndOfTransaction, NULL);
		callback_registered = true;
	}
	ring_state = RING_READY;
	return true;
}

/* Count the completions that arrived; with wait, until none is in flight */
static void
ReapCompletions(bool wait)
{
	struct io_uring_cqe *cqe;

	while (ring_inflight > 0)
	{
		int			rc = wait ? io_uring_wait_cqe(&ring, &cqe) : io_uring_peek_cqe(&ring, &cqe);

		if (rc < 0)
		{
			if (rc == -EINTR)
				continue;
			if (!wait)
				break;
			/* the ring is broken: forget it and fall back */
			elog(DEBUG1, "engram: io_uring wait failed (%s), using posix_fadvise",
				 strerror(-rc));
			io_uring_queue_exit(&ring);
			ReleaseExternalFD();
			ring_state = RING_UNAVAILABLE;
			ring_inflight = 0;
			break;
		}
		/* a failed fadvise (a dropped file, a short segment) is only a lost hint */
		io_uring_cqe_seen(&ring, cqe);
		ring_inflight--;
	}
}

static void
CloseFiles(void)
{
	if (ring_state == RING_READY)
	{
		/* requests prepared but not submitted (an error in between) first */
		if (io_uring_sq_ready(&ring) > 0)
		{
			int			rc = io_uring_submit(&ring);

			if (rc > 0)
				ring_inflight += rc;
		}
		ReapCompletions(true);
	}
	for (int i = 0; i < nfiles; i++)
	{
		close(files[i].fd);
		ReleaseExternalFD();
	}
	nfiles = 0;
}

static void
AtEndOfTransaction(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			CloseFiles();
			break;
		default:
			break;
	}
}

/*
 * A descriptor of the segment of rel holding segno, or -1 (a segment past
 * the end, no descriptor left, or MAX_FILES open already in this
 * transaction: a batch's prepared requests may use the open ones)
 */
static int
SegmentFd(Relation rel, BlockNumber segno)
{
	char	   *path;
	char	   *segpath;
	int			fd;

	for (int i = 0; i < nfiles; i++)
		if (files[i].segno == segno &&
#if PG_VERSION_NUM >= 160000
			RelFileLocatorEquals(files[i].node, rel->rd_locator))
#else
			RelFileNodeEquals(files[i].node, rel->rd_node))
#endif
			return files[i].fd;

	if (nfiles == MAX_FILES || !AcquireExternalFD())
		return -1;

#if PG_VERSION_NUM >= 160000
	path = relpathperm(rel->rd_locator, MAIN_FORKNUM);
#else
	path = relpathperm(rel->rd_node, MAIN_FORKNUM);
#endif
	segpath = segno == 0 ? path : psprintf("%s.%u", path, segno);
	fd = open(segpath, O_RDONLY | PG_BINARY | O_CLOEXEC);
	if (segpath != path)
		pfree(segpath);
	pfree(path);
	if (fd < 0)
	{
		ReleaseExternalFD();
		return -1;
	}
#if PG_VERSION_NUM >= 160000
	files[nfiles].node = rel->rd_locator;
#else
	files[nfiles].node = rel->rd_node;
#endif
	files[nfiles].segno = segno;
	files[nfiles].fd = fd;
	nfiles++;
	return fd;
}

/*
 * The buffer holding blkno of rel's main fork, or InvalidBuffer: a lookup
 * in the buffer mapping table, as PrefetchBuffer does, without the fadvise
 */
static Buffer
LookupBuffer(Relation rel, BlockNumber blkno)
{
	BufferTag	tag;
	uint32		hash;
	LWLock	   *lock;
	int			buf_id;

#if PG_VERSION_NUM >= 160000
	InitBufferTag(&tag, &rel->rd_locator, MAIN_FORKNUM, blkno);
#else
	INIT_BUFFERTAG(tag, rel->rd_node, MAIN_FORKNUM, blkno);
#endif
	hash = BufTableHashCode(&tag);
	lock = BufMappingPartitionLock(hash);
	LWLockAcquire(lock, LW_SHARED);
	buf_id = BufTableLookup(&tag, hash);
	LWLockRelease(lock);
	return buf_id >= 0 ? buf_id + 1 : InvalidBuffer;
}

#endif							/* HAVE_LIBURING */

/*
 * Whether to read ahead at all: effective_io_concurrency = 0 says the
 * storage gains nothing from reads in flight together, as for PostgreSQL's
 * own prefetching
 */
bool
EngramReadAheadEnabled(void)
{
	return effective_io_concurrency > 0;
}

/*
 * Start a batch for rel
 */
void
EngramReadAheadBegin(EngramReadAhead *ra, Relation rel)
{
	ra->rel = rel;
	ra->n = 0;
	ra->added = 0;
	ra->use_uring = false;
#ifdef HAVE_LIBURING
	ra->use_uring = engram_io_uring && !RelationUsesLocalBuffers(rel) && RingReady();
#endif
}

/*
 * Add a block the caller is about to read.  Returns the buffer that holds
 * it when it is in shared buffers (unpinned: a hint, e.g. for
 * ReadRecentBuffer), else InvalidBuffer, and the block is read ahead.
 */
Buffer
EngramReadAheadAdd(EngramReadAhead *ra, BlockNumber blkno)
{
	Buffer		buf = InvalidBuffer;

	ra->added++;
	/* the heap pages of a batch repeat; ask once (both methods alike) */
	for (int i = 0; i < ra->n; i++)
		if (ra->blocks[i] == blkno)
			return InvalidBuffer;

	if (!ra->use_uring)
	{
		PrefetchBufferResult r = PrefetchBuffer(ra->rel, MAIN_FORKNUM, blkno);

		/* recent_buffer is set only when the block is in shared buffers */
		buf = r.recent_buffer;
	}
#ifdef HAVE_LIBURING
	else
		buf = LookupBuffer(ra->rel, blkno);
#endif
	if (BufferIsValid(buf))
	{
		stat_blocks_cached++;
		return buf;
	}

	/* a full list is handed over (io_uring) or forgotten (posix_fadvise) */
	if (ra->n == ENGRAM_READAHEAD_MAX)
	{
#ifdef HAVE_LIBURING
		if (ra->use_uring)
			SubmitToRing(ra);
#endif
		ra->n = 0;
	}
	ra->blocks[ra->n++] = blkno;
	stat_blocks_queued++;
	return InvalidBuffer;
}

/*
 * Hand the queued blocks to the kernel
 */
void
EngramReadAheadSubmit(EngramReadAhead *ra)
{
	if (ra->added > 0)
		stat_batches++;
	ra->added = 0;
#ifdef HAVE_LIBURING
	if (ra->use_uring && ra->n > 0)
		SubmitToRing(ra);
#endif
	ra->n = 0;
}

#ifdef HAVE_LIBURING
/*
 * One fadvise request per queued block, in one submission
 */
static void
SubmitToRing(EngramReadAhead *ra)
{
	int			queued = 0;

	ReapCompletions(false);
	for (int i = 0; i < ra->n && ring_state == RING_READY; i++)
	{
		BlockNumber blkno = ra->blocks[i];
		int			fd = SegmentFd(ra->rel, blkno / RELSEG_SIZE);
		struct io_uring_sqe *sqe;

		if (fd < 0)
			continue;
		/* room in the completion queue for every request in flight */
		if (ring_inflight + queued >= RING_ENTRIES)
		{
			int			rc = queued > 0 ? io_uring_submit(&ring) : 0;

			/* what the kernel did not take stays queued for the next call */
			if (rc > 0)
				ring_inflight += rc;
			queued = 0;
			ReapCompletions(true);
			if (ring_state != RING_READY)
				break;
		}
		sqe = io_uring_get_sqe(&ring);
		if (sqe == NULL)
			break;
		io_uring_prep_fadvise(sqe, fd, (off_t) (blkno % RELSEG_SIZE) * BLCKSZ, BLCKSZ,
							  POSIX_FADV_WILLNEED);
		queued++;
	}
	if (queued > 0)
	{
		int			rc = io_uring_submit(&ring);

		/* likewise */
		if (rc > 0)
			ring_inflight += rc;
	}
}
#endif

void
EngramReadAheadInit(void)
{
	DefineCustomBoolVariable("engram.io_uring",
							 "Read ahead with io_uring where the kernel allows it.",
							 "On, pages engram_hnsw is about to read that are not in shared "
							 "buffers are handed to the kernel in one io_uring submission "
							 "per batch; off, or where io_uring is unavailable, with one "
							 "posix_fadvise call per page (PrefetchBuffer).",
							 &engram_io_uring, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * engram.readahead_stats(): this backend's read-ahead, and the method the
 * next batch would use
 */
PG_FUNCTION_INFO_V1(engram_readahead_stats);

Datum
engram_readahead_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	const char *method = "posix_fadvise";

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
#ifdef HAVE_LIBURING
	if (engram_io_uring && RingReady())
		method = "io_uring";
#endif
	values[0] = CStringGetTextDatum(method);
	values[1] = Int64GetDatum(stat_batches);
	values[2] = Int64GetDatum(stat_blocks_queued);
	values[3] = Int64GetDatum(stat_blocks_cached);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
