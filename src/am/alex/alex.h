/*-------------------------------------------------------------------------
 *
 * alex.h
 *	  engram_alex: an ALEX-style learned index for ordered scalar keys.
 *
 * The design (pages, models, cost model, locking, WAL) is described in
 * src/am/alex/README.md; comments in the code refer to it.
 *
 * src/am/alex/alex.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_ALEX_H
#define ENGRAM_ALEX_H

#include "access/amapi.h"
#include "access/genam.h"
#include "access/itup.h"
#include "access/sdir.h"
#include "lib/stringinfo.h"
#include "nodes/pathnodes.h"
#include "storage/block.h"
#include "storage/buf.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "common/relpath.h"
#include "utils/rel.h"

#include "stats.h"

#define ALEX_MAGIC			0x414c4558	/* "ALEX" */
#define ALEX_VERSION		2
#define ALEX_PAGE_ID		0xFF83		/* last two bytes of every page */

#define ALEX_METAPAGE_BLKNO 0

/* support function 1: btree-style three-way comparison, also cross-type */
#define ALEX_CMP_PROC		1
#define ALEX_NPROC			1

/* page kinds (AlexPageOpaque.kind) */
#define ALEX_PAGE_META		1
#define ALEX_PAGE_DIR		2		/* node directory (the root model's input) */
#define ALEX_PAGE_DATA		3		/* one page of a data node's gapped array */

/* page flags */
#define ALEX_FLAG_DEAD		0x0001	/* replaced; recyclable after dead_xid */
#define ALEX_FLAG_FREE		0x0002	/* recycled, recorded in the FSM */

/* data node flags (AlexDirEntry.flags) */
#define ALEX_NODE_NULLS		0x0001	/* holds the NULL keys (all keys 0) */

/*
 * Slots of a data page (README, "Data pages"): keys, heap TIDs and an
 * occupancy bitmap, as separate arrays so that the search touches only the
 * keys.  Keys are stored as key - key_base in key_bits bits, TIDs as
 * (block << off_bits | offset) in tid_bits bits, both bit-packed; the
 * widths are the node's and nslots (slots per page) follows from them, the
 * base is the page's.  A gap holds a copy of the nearest occupied key to
 * its right (ALEX's gap fill), or all ones (the largest key the page can
 * hold) after the last one, so the keys array stays sorted and the search
 * needs no bitmap; the bitmap tells real entries from gaps.
 */
#define ALEX_SLOT_AREA \
	((int) (BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(AlexPageOpaqueData))))
#define ALEX_MAX_SLOTS_PER_PAGE 2048	/* bounds the arrays a scan keeps */
#define ALEX_MIN_OFF_BITS	8			/* heap pages of up to 255 rows */

typedef struct AlexPageOpaqueData
{
	uint64		node_id;		/* data/dir pages: owning node (or dir version) */
	uint64		minkey;			/* data pages: smallest occupied key */
	uint64		maxkey;			/* data pages: largest occupied key */
	uint64		key_base;		/* data pages: slots store key - key_base */
	TransactionId dead_xid;		/* next xid when the page was replaced */
	uint32		dead_epoch;		/* its epoch, to form a FullTransactionId */
	uint16		page_no;		/* data pages: index within the node */
	uint16		count;			/* data pages: occupied slots; dir: entries */
	uint16		flags;			/* ALEX_FLAG_* */
	uint16		nslots;			/* data pages: slots (the node's) */
	uint8		kind;			/* ALEX_PAGE_* */
	uint8		key_bits;		/* data pages: bits per key (1..57 or 64) */
	uint8		tid_bits;		/* data pages: bits per heap TID */
	uint8		off_bits;		/* of which the offset's */
	uint16		unused;
	uint16		page_id;		/* ALEX_PAGE_ID */
} AlexPageOpaqueData;

typedef AlexPageOpaqueData *AlexPageOpaque;

#define AlexPageGetOpaque(page) ((AlexPageOpaque) PageGetSpecialPointer(page))

/* A position in the index order: NULLs last, then key, then heap TID */
typedef struct AlexPos
{
	bool		isnull;
	uint64		key;
	ItemPointerData tid;
} AlexPos;

/*
 * One data node in the directory.  Nodes partition the position space;
 * node i holds the positions in [lo_i, lo_{i+1}).  A live node's range
 * never changes: a split or an expansion replaces it by new nodes.
 */
typedef struct AlexDirEntry
{
	uint64		lo_key;
	ItemPointerData lo_tid;
	uint16		flags;			/* ALEX_NODE_* */
	BlockNumber first_block;	/* the node's pages are contiguous */
	uint32		npages;
	double		slope;			/* the node's model: slot = slope * (key - */
	double		intercept;		/* model_base) + intercept */
	uint64		node_id;
	uint64		model_base;		/* the model reads key - model_base */
	uint64		nkeys_built;	/* entries when the node was (re)built */
	float4		build_cost;		/* expected search steps then (cost model) */
	uint16		nslots;			/* slots per page (AlexSlotsFit) */
	uint16		unused;
} AlexDirEntry;

#define ALEX_DIR_PER_PAGE \
	((int) ((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(AlexPageOpaqueData))) \
			/ sizeof(AlexDirEntry)))

/*
 * Meta page.  The directory lives on dir_npages pages listed here; a
 * structural change writes a new copy of the directory and then switches
 * this page to it in one WAL record, which is the commit point.
 */
#define ALEX_MAX_DIR_PAGES 1500

typedef struct AlexMetaPageData
{
	uint32		magic;
	uint32		version;
	Oid			keytype;		/* the indexed column's type */
	uint32		dir_npages;
	uint64		build_id;		/* random, tells builds of a relfilenode apart */
	uint64		dir_version;	/* bumped by every structural change */
	uint64		next_node_id;
	uint64		nnodes;
	BlockNumber dir_blocks[ALEX_MAX_DIR_PAGES];
} AlexMetaPageData;

#define AlexPageGetMeta(page) ((AlexMetaPageData *) PageGetContents(page))

/*
 * The directory as a backend caches it (alexdir.c), with the root model: a
 * linear model from key to directory index, corrected by an exponential
 * search over the fences.
 */
typedef struct AlexDir
{
	uint64		build_id;
	uint64		version;
	int			nnodes;
	int			refcount;		/* scans using this copy */
	bool		stale;			/* replaced; free when refcount drops */
	double		root_slope;
	double		root_intercept;
	AlexDirEntry *nodes;
} AlexDir;

/* Key encoding for one type (alexkey.c) */
typedef struct AlexKeyType
{
	Oid			typid;
	uint64		(*encode) (Datum value);
	Datum		(*decode) (uint64 key);
} AlexKeyType;

/* One inclusive key range of a scan; the scan walks them in order */
typedef struct AlexRange
{
	uint64		lo;
	uint64		hi;
} AlexRange;

/* A matching entry copied out of a data page */
typedef struct AlexItem
{
	uint64		key;
	ItemPointerData tid;
	bool		isnull;
} AlexItem;

typedef enum AlexScanPhase
{
	ALEX_PHASE_START,
	ALEX_PHASE_RANGE_START,
	ALEX_PHASE_RANGE,
	ALEX_PHASE_NULLS_START,
	ALEX_PHASE_NULLS
} AlexScanPhase;

typedef struct AlexScanOpaqueData
{
	const AlexKeyType *keytype;
	AlexDir    *dir;			/* directory copy, set when the scan starts */
	/* what to return */
	bool		unsatisfiable;
	AlexRange  *ranges;			/* sorted, disjoint */
	int			nranges;
	bool		want_nulls;
	/* where we are */
	bool		started;
	bool		finished;
	AlexScanPhase phase;
	ScanDirection dir_of_scan;
	int			range_no;		/* current range */
	bool		range_open;		/* more of it may follow on the next page */
	int			node_no;		/* current node in dir */
	int			page_no;		/* current page within the node */
	int			slot_hint;		/* predicted slot in the node, first page */
	bool		in_nulls;		/* walking the NULL nodes */
	Buffer		metabuf;		/* meta page, pinned across rescans */
	IndexTuple	key_itup;		/* index-only scans: reused for every key */
	IndexTuple	null_itup;		/* and for NULL */
	/* entries of the current page, in scan order */
	AlexItem   *items;
	int			nitems;
	int			next_item;
	MemoryContext cxt;
	/* statistics (src/stats.c), when counting: handed over once per scan */
	bool		counting;
	EngramScanCounts counts;
} AlexScanOpaqueData;

typedef AlexScanOpaqueData *AlexScanOpaque;

/*
 * The slot arrays of a data page, decoded from its header (AlexPageSlots).
 * Keys and TIDs are read with one unaligned 8-byte load and a shift, so a
 * field is at most 57 bits or exactly 64 (byte-aligned); each array ends
 * with 8 spare bytes for the last load.
 */
typedef struct AlexSlots
{
	char	   *keys;
	char	   *tids;
	uint8	   *bitmap;
	uint64		key_base;
	uint64		key_mask;
	uint64		tid_mask;
	int			key_bits;
	int			tid_bits;
	int			off_bits;
	int			nslots;
} AlexSlots;

static inline int
AlexBitArrayBytes(int nslots, int bits)
{
	return TYPEALIGN(8, ((int64) nslots * bits + 7) / 8) + 8;
}

static inline uint64
AlexBitsGet(const char *base, int bits, uint64 mask, int s)
{
	uint64		bit = (uint64) s * bits;
	uint64		w;

	memcpy(&w, base + (bit >> 3), sizeof(w));
	return (w >> (bit & 7)) & mask;
}

static inline void
AlexBitsSet(char *base, int bits, uint64 mask, int s, uint64 v)
{
	uint64		bit = (uint64) s * bits;
	uint64		w;

	memcpy(&w, base + (bit >> 3), sizeof(w));
	w &= ~(mask << (bit & 7));
	w |= v << (bit & 7);
	memcpy(base + (bit >> 3), &w, sizeof(w));
}

static inline uint64
AlexGetKey(const AlexSlots *sl, int s)
{
	return sl->key_base + AlexBitsGet(sl->keys, sl->key_bits, sl->key_mask, s);
}

/* Only for keys that AlexKeyFits */
static inline void
AlexSetKey(AlexSlots *sl, int s, uint64 key)
{
	AlexBitsSet(sl->keys, sl->key_bits, sl->key_mask, s, key - sl->key_base);
}

static inline bool
AlexKeyFits(const AlexSlots *sl, uint64 key)
{
	return key >= sl->key_base && key - sl->key_base <= sl->key_mask;
}

static inline void
AlexGetTid(const AlexSlots *sl, int s, ItemPointer tid)
{
	uint64		v = AlexBitsGet(sl->tids, sl->tid_bits, sl->tid_mask, s);

	ItemPointerSet(tid, (BlockNumber) (v >> sl->off_bits),
				   (OffsetNumber) (v & ((UINT64CONST(1) << sl->off_bits) - 1)));
}

static inline bool
AlexTidFits(const AlexSlots *sl, ItemPointer tid)
{
	uint64		v = ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << sl->off_bits) |
		ItemPointerGetOffsetNumberNoCheck(tid);

	return ItemPointerGetOffsetNumberNoCheck(tid) < (UINT64CONST(1) << sl->off_bits) &&
		v <= sl->tid_mask;
}

/* Only for TIDs that AlexTidFits */
static inline void
AlexSetTid(AlexSlots *sl, int s, ItemPointer tid)
{
	uint64		v = ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << sl->off_bits) |
		ItemPointerGetOffsetNumberNoCheck(tid);

	AlexBitsSet(sl->tids, sl->tid_bits, sl->tid_mask, s, v);
}

static inline bool
AlexSlotUsed(const uint8 *bitmap, int slot)
{
	return (bitmap[slot >> 3] & (1 << (slot & 7))) != 0;
}

static inline void
AlexSlotSet(uint8 *bitmap, int slot, bool used)
{
	if (used)
		bitmap[slot >> 3] |= (1 << (slot & 7));
	else
		bitmap[slot >> 3] &= ~(1 << (slot & 7));
}

/* alex.c */
extern void EngramAlexInit(void);

/* alexkey.c */
extern const AlexKeyType *AlexGetKeyType(Oid typid);
extern int	AlexPosCmp(const AlexPos *a, const AlexPos *b);
extern bool AlexBuildRanges(Relation index, ScanKey keys, int nkeys,
							AlexScanOpaque so);

/* alexpage.c */
extern void AlexInitPage(Page page, uint8 kind, uint16 flags);
extern Buffer AlexNewBuffer(Relation index, ForkNumber forknum);
extern Buffer AlexNewExtent(Relation index, int npages, BlockNumber *first);
extern void AlexInitMetaPage(Page page, Oid keytype);
extern void AlexCheckMeta(Relation index, Page page);
extern int	AlexBitsFor(uint64 v);
extern int	AlexSlotsFit(int key_bits, int tid_bits);
extern void AlexInitDataPage(Page page, int nslots, uint64 key_base, int key_bits,
							 int tid_bits, int off_bits);
extern void AlexPageSlots(Page page, AlexSlots *sl);
extern void AlexFillGaps(Page page);
extern int	AlexPageLowerBound(const AlexSlots *sl, uint64 key, int hint);
extern void AlexMarkDead(Relation index, BlockNumber first, int npages);

/* alexwal.c: a page change logged from its known byte ranges */
#define ALEX_DELTA_MAX_RANGES 8		/* two data chunks each, of XLR_NORMAL_RDATAS */

typedef struct AlexDelta
{
	int			nranges;
	uint16		ranges[ALEX_DELTA_MAX_RANGES][2];	/* offset, length */
} AlexDelta;

extern void AlexDeltaAdd(AlexDelta *d, Page page, const void *start, int len);
extern void AlexLogDelta(Relation index, Buffer buf, AlexDelta *d);

/* alexdir.c */
extern AlexDir *AlexDirAcquire(Relation index, Buffer *metabuf_out, bool keep_meta_lock);
extern AlexDir *AlexDirGetLocked(Relation index, Page metapage);
extern void AlexDirPin(AlexDir *dir);
extern void AlexDirUnpin(AlexDir *dir);
extern int	AlexDirLocate(const AlexDir *dir, const AlexPos *pos);
extern AlexDir *AlexDirReadLocked(Relation index, Page metapage);
extern void AlexDirFit(AlexDir *dir);
extern void AlexDirWrite(Relation index, Buffer metabuf, AlexDirEntry *nodes, int nnodes,
						 uint64 next_node_id, bool building, ForkNumber forknum);
extern double AlexNodePredict(const AlexDirEntry *node, uint64 key);

/* alexnode.c: building data nodes, the cost model */
typedef struct AlexNodeInput
{
	uint64	   *keys;
	ItemPointerData *tids;
	int64		n;
	bool		isnull;
	bool		append_room;	/* leave room at the right for appends */
	uint64		lo_key;			/* the node's fences: keys it may hold */
	uint64		hi_key;
	BlockNumber heap_blocks;	/* the heap's size, for the TID width */
	int			tid_bits;		/* or 0: from the TIDs and heap_blocks */
	int			off_bits;
} AlexNodeInput;

extern void AlexTidWidth(const ItemPointerData *tids, int64 n, BlockNumber heap_blocks,
						 int *tid_bits, int *off_bits);
extern int64 AlexPlanNode(const uint64 *keys, int64 n, int64 hint, uint64 lo_key,
						  uint64 hi_key, int tid_bits);
extern void AlexWriteNode(Relation index, const AlexNodeInput *in, AlexDirEntry *entry,
						  uint64 node_id, bool building, ForkNumber forknum);
extern void AlexRebuildNode(Relation index, int node_no, AlexDir *dir, Buffer metabuf,
							bool append, BlockNumber heap_blocks, ItemPointer newtid);

/* alexbuild.c */
extern IndexBuildResult *engram_alex_build(Relation heap, Relation index,
										   struct IndexInfo *indexInfo);
extern void engram_alex_buildempty(Relation index);

/* alexinsert.c */
extern bool engram_alex_insert(Relation index, Datum *values, bool *isnull,
							   ItemPointer ht_ctid, Relation heapRel,
							   IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
							   bool indexUnchanged,
#endif
							   struct IndexInfo *indexInfo);

/* alexscan.c */
extern IndexScanDesc engram_alex_beginscan(Relation index, int nkeys, int norderbys);
extern void engram_alex_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
							   ScanKey orderbys, int norderbys);
extern bool engram_alex_gettuple(IndexScanDesc scan, ScanDirection dir);
extern int64 engram_alex_getbitmap(IndexScanDesc scan, TIDBitmap *tbm);
extern void engram_alex_endscan(IndexScanDesc scan);

/* alexvacuum.c */
extern IndexBulkDeleteResult *engram_alex_bulkdelete(IndexVacuumInfo *info,
													 IndexBulkDeleteResult *stats,
													 IndexBulkDeleteCallback callback,
													 void *callback_state);
extern IndexBulkDeleteResult *engram_alex_vacuumcleanup(IndexVacuumInfo *info,
														IndexBulkDeleteResult *stats);

/* alexcost.c */
extern void engram_alex_costestimate(PlannerInfo *root, IndexPath *path,
									 double loop_count, Cost *indexStartupCost,
									 Cost *indexTotalCost, Selectivity *indexSelectivity,
									 double *indexCorrelation, double *indexPages);

/* alexvalidate.c */
extern bool engram_alex_validate(Oid opclassoid);

#endif							/* ENGRAM_ALEX_H */
