/*-------------------------------------------------------------------------
 *
 * alexdir.c
 *	  engram_alex: the node directory and the root model.
 *
 * The directory lists the data nodes in key order with their fences and
 * models.  Each backend keeps a copy of it per index, checked against the
 * meta page's dir_version whenever a scan or insert starts; a copy that is
 * current when a scan starts stays usable for the whole scan, because the
 * pages of nodes replaced later keep their contents until no snapshot that
 * old remains (README, "Concurrency").  Copies replaced during a
 * transaction are freed at its end, so scans never see one vanish.
 *
 * src/am/alex/alexdir.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "am/alex/alex.h"

typedef struct DirCacheKey
{
	Oid			dbid;
	Oid			relnode;
} DirCacheKey;

typedef struct DirCacheEntry
{
	DirCacheKey key;
	AlexDir    *dir;
} DirCacheEntry;

static HTAB *dir_cache = NULL;
static MemoryContext dir_cxt = NULL;
static List *stale_dirs = NIL;
static bool xact_callback_registered = false;

static void
FreeDir(AlexDir *dir)
{
	pfree(dir->nodes);
	pfree(dir);
}

/* A copy was replaced: free it now, or when the last scan using it ends */
static void
RetireDir(AlexDir *dir)
{
	if (dir->refcount == 0)
		FreeDir(dir);
	else
	{
		MemoryContext old = MemoryContextSwitchTo(dir_cxt);

		dir->stale = true;
		stale_dirs = lappend(stale_dirs, dir);
		MemoryContextSwitchTo(old);
	}
}

/* Scans pin the copy they started with */
void
AlexDirPin(AlexDir *dir)
{
	dir->refcount++;
}

void
AlexDirUnpin(AlexDir *dir)
{
	Assert(dir->refcount > 0);
	if (--dir->refcount == 0 && dir->stale)
	{
		stale_dirs = list_delete_ptr(stale_dirs, dir);
		FreeDir(dir);
	}
}

/*
 * At transaction end no scan is left (those that errored out never
 * unpinned): free every replaced copy
 */
static void
FreeStaleDirs(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (stale_dirs != NIL)
	{
		MemoryContext old = MemoryContextSwitchTo(dir_cxt);
		ListCell   *lc;

		foreach(lc, stale_dirs)
			FreeDir((AlexDir *) lfirst(lc));
		list_free(stale_dirs);
		stale_dirs = NIL;
		MemoryContextSwitchTo(old);
	}
}

static void
InitDirCache(void)
{
	HASHCTL		ctl;

	dir_cxt = AllocSetContextCreate(TopMemoryContext, "engram_alex directories",
									ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(DirCacheKey);
	ctl.entrysize = sizeof(DirCacheEntry);
	ctl.hcxt = dir_cxt;
	dir_cache = hash_create("engram_alex directory cache", 16, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (!xact_callback_registered)
	{
		RegisterXactCallback(FreeStaleDirs, NULL);
		xact_callback_registered = true;
	}
}

/* The model's predicted slot for key (not clamped) */
double
AlexNodePredict(const AlexDirEntry *node, uint64 key)
{
	double		x = key >= node->model_base ? (double) (key - node->model_base) :
		-(double) (node->model_base - key);

	return node->slope * x + node->intercept;
}

/*
 * The root model: least squares from fence key to directory index over the
 * nodes holding keys (NULL nodes are found by search)
 */
void
AlexDirFit(AlexDir *dir)
{
	int			n = 0;
	double		sx = 0,
				sy = 0,
				sxx = 0,
				sxy = 0;
	double		base;

	while (n < dir->nnodes && !(dir->nodes[n].flags & ALEX_NODE_NULLS))
		n++;
	dir->root_slope = 0;
	dir->root_intercept = 0;
	if (n < 2)
		return;
	base = (double) dir->nodes[1].lo_key;
	for (int i = 1; i < n; i++)
	{
		double		x = (double) dir->nodes[i].lo_key - base;

		sx += x;
		sy += i;
		sxx += x * x;
		sxy += x * i;
	}
	n--;
	if (sxx * n - sx * sx > 0)
	{
		dir->root_slope = (sxy * n - sx * sy) / (sxx * n - sx * sx);
		dir->root_intercept = (sy - dir->root_slope * sx) / n - dir->root_slope * base;
	}
	else
		dir->root_intercept = 1;
}

static inline int
CmpNodePos(const AlexDirEntry *node, const AlexPos *pos)
{
	AlexPos		lo;

	lo.isnull = (node->flags & ALEX_NODE_NULLS) != 0;
	lo.key = node->lo_key;
	lo.tid = node->lo_tid;
	return AlexPosCmp(&lo, pos);
}

/*
 * The node whose range holds pos: the last one whose low fence is <= pos.
 * The root model predicts it; an exponential search corrects the guess.
 */
int
AlexDirLocate(const AlexDir *dir, const AlexPos *pos)
{
	int			n = dir->nnodes;
	int			guess,
				lo,
				hi,
				step;

	if (pos->isnull)
		guess = n - 1;
	else
	{
		double		p = dir->root_slope * (double) pos->key + dir->root_intercept;

		guess = p < 0 ? 0 : p >= n ? n - 1 : (int) p;
	}

	/* invariant sought: fence(lo) <= pos < fence(hi) */
	if (CmpNodePos(&dir->nodes[guess], pos) <= 0)
	{
		lo = guess;
		step = 1;
		hi = guess + 1;
		while (hi < n && CmpNodePos(&dir->nodes[hi], pos) <= 0)
		{
			lo = hi;
			step <<= 1;
			hi = guess + step;
		}
		hi = Min(hi, n);
	}
	else
	{
		hi = guess;
		step = 1;
		lo = guess - 1;
		while (lo > 0 && CmpNodePos(&dir->nodes[lo], pos) > 0)
		{
			hi = lo;
			step <<= 1;
			lo = guess - step;
		}
		lo = Max(lo, 0);
	}
	/* last index in [lo, hi) with fence <= pos; node 0's fence is the minimum */
	while (hi - lo > 1)
	{
		int			mid = lo + (hi - lo) / 2;

		if (CmpNodePos(&dir->nodes[mid], pos) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Read the directory the meta page (locked by the caller) points to */
AlexDir *
AlexDirReadLocked(Relation index, Page metapage)
{
	AlexMetaPageData *meta = AlexPageGetMeta(metapage);
	AlexDir    *dir;
	int			n = 0;

	if (dir_cache == NULL)
		InitDirCache();
	dir = MemoryContextAllocZero(dir_cxt, sizeof(AlexDir));
	dir->version = meta->dir_version;
	dir->build_id = meta->build_id;
	dir->nodes = MemoryContextAllocHuge(dir_cxt,
										sizeof(AlexDirEntry) * Max(meta->nnodes, 1));
	for (uint32 i = 0; i < meta->dir_npages; i++)
	{
		Buffer		buf = ReadBuffer(index, meta->dir_blocks[i]);
		Page		page;
		AlexPageOpaque opaque;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = AlexPageGetOpaque(page);
		if (opaque->kind != ALEX_PAGE_DIR || opaque->node_id != meta->dir_version ||
			(uint64) n + opaque->count > meta->nnodes)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("engram_alex index \"%s\" has a damaged directory page %u",
							RelationGetRelationName(index), meta->dir_blocks[i])));
		memcpy(&dir->nodes[n], PageGetContents(page), sizeof(AlexDirEntry) * opaque->count);
		n += opaque->count;
		UnlockReleaseBuffer(buf);
	}
	if ((uint64) n != meta->nnodes || n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("engram_alex index \"%s\" directory holds %d nodes, meta page says " UINT64_FORMAT,
						RelationGetRelationName(index), n, meta->nnodes)));
	dir->nnodes = n;
	AlexDirFit(dir);
	return dir;
}

/*
 * The current directory of index, for a caller holding the meta page
 * locked (in either mode): the cached copy if its version is the meta
 * page's, else a fresh one.
 */
AlexDir *
AlexDirGetLocked(Relation index, Page metapage)
{
	DirCacheKey key;
	DirCacheEntry *entry;
	bool		found;
	uint64		version;
	uint64		build_id;

	AlexCheckMeta(index, metapage);
	version = AlexPageGetMeta(metapage)->dir_version;
	build_id = AlexPageGetMeta(metapage)->build_id;

	if (dir_cache == NULL)
		InitDirCache();
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relnode = index->rd_node.relNode;
	entry = hash_search(dir_cache, &key, HASH_ENTER, &found);
	if (!found)
		entry->dir = NULL;
	if (entry->dir == NULL || entry->dir->version != version ||
		entry->dir->build_id != build_id)
	{
		AlexDir    *fresh = AlexDirReadLocked(index, metapage);

		if (entry->dir != NULL)
			RetireDir(entry->dir);
		entry->dir = fresh;
	}
	return entry->dir;
}

/*
 * The current directory of index.  The meta page is share-locked while the
 * version is compared (and the directory read, if it changed); with
 * keep_meta_lock the caller gets the locked meta buffer, which keeps out
 * structural changes (inserts and vacuum hold it while they write).
 */
AlexDir *
AlexDirAcquire(Relation index, Buffer *metabuf_out, bool keep_meta_lock)
{
	Buffer		metabuf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	AlexDir    *dir;

	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	dir = AlexDirGetLocked(index, BufferGetPage(metabuf));
	if (keep_meta_lock)
		*metabuf_out = metabuf;
	else
	{
		UnlockReleaseBuffer(metabuf);
		if (metabuf_out)
			*metabuf_out = InvalidBuffer;
	}
	return dir;
}

/*
 * Write a new copy of the directory and switch the meta page (exclusively
 * locked by the caller) to it: the switch is one WAL record, the commit
 * point of a structural change.  The old directory pages are marked dead
 * afterwards.  While building, nothing is WAL-logged (the build logs all
 * pages at its end).
 */
void
AlexDirWrite(Relation index, Buffer metabuf, AlexDirEntry *nodes, int nnodes,
			 uint64 next_node_id, bool building, ForkNumber forknum)
{
	Page		metapage = BufferGetPage(metabuf);
	AlexMetaPageData *meta = AlexPageGetMeta(metapage);
	int			npages = (nnodes + ALEX_DIR_PER_PAGE - 1) / ALEX_DIR_PER_PAGE;
	BlockNumber newblocks[ALEX_MAX_DIR_PAGES];
	BlockNumber oldblocks[ALEX_MAX_DIR_PAGES];
	uint32		oldnpages = meta->dir_npages;
	uint64		version = meta->dir_version + 1;

	if (npages > ALEX_MAX_DIR_PAGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("engram_alex index \"%s\" would need more than %d data nodes",
						RelationGetRelationName(index), ALEX_MAX_DIR_PAGES * ALEX_DIR_PER_PAGE)));

	for (int p = 0; p < npages; p++)
	{
		Buffer		buf = AlexNewBuffer(index, forknum);
		GenericXLogState *state = NULL;
		Page		page;
		int			first = p * ALEX_DIR_PER_PAGE;
		int			count = Min(ALEX_DIR_PER_PAGE, nnodes - first);
		AlexPageOpaque opaque;

		if (building)
			page = BufferGetPage(buf);
		else
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		}
		AlexInitPage(page, ALEX_PAGE_DIR, 0);
		opaque = AlexPageGetOpaque(page);
		opaque->node_id = version;
		opaque->count = count;
		memcpy(PageGetContents(page), &nodes[first], sizeof(AlexDirEntry) * count);
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) +
			sizeof(AlexDirEntry) * count;
		if (building)
			MarkBufferDirty(buf);
		else
			GenericXLogFinish(state);
		newblocks[p] = BufferGetBlockNumber(buf);
		UnlockReleaseBuffer(buf);
	}

	memcpy(oldblocks, meta->dir_blocks, sizeof(BlockNumber) * oldnpages);
	if (building)
	{
		memcpy(meta->dir_blocks, newblocks, sizeof(BlockNumber) * npages);
		meta->dir_npages = npages;
		meta->dir_version = version;
		meta->nnodes = nnodes;
		meta->next_node_id = next_node_id;
		((PageHeader) metapage)->pd_lower = ((char *) meta + sizeof(AlexMetaPageData)) -
			(char *) metapage;
		MarkBufferDirty(metabuf);
	}
	else
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, metabuf, 0);
		AlexMetaPageData *m = AlexPageGetMeta(page);

		memcpy(m->dir_blocks, newblocks, sizeof(BlockNumber) * npages);
		m->dir_npages = npages;
		m->dir_version = version;
		m->nnodes = nnodes;
		m->next_node_id = next_node_id;
		GenericXLogFinish(state);

		for (uint32 i = 0; i < oldnpages; i++)
			AlexMarkDead(index, oldblocks[i], 1);
	}
}
