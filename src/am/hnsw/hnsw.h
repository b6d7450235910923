/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  engram_hnsw: page layout, node tuples and prototypes.
 *
 * The design (tiers, locking, WAL) is described in src/am/hnsw/README.md;
 * comments here point there rather than repeat it.
 *
 * src/am/hnsw/hnsw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_HNSW_H
#define ENGRAM_HNSW_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

#include "simd.h"
#include "types/vector.h"

#define HNSW_MAGIC				0x454E4857	/* "ENHW" */
#define HNSW_VERSION			1
#define HNSW_PAGE_ID			0xFF91	/* last two bytes of special space */

#define HNSW_METAPAGE_BLKNO		0
#define HNSW_MAX_DIM			16000
#define HNSW_MAX_LEVEL			15

/* Largest node tuple a page holds (one item, its line pointer, special) */
#define HNSW_MAX_NODE_SIZE \
	MAXALIGN_DOWN(BLCKSZ - SizeOfPageHeaderData - sizeof(ItemIdData) - \
				  MAXALIGN(sizeof(HnswPageOpaqueData)))

#define HNSW_DEFAULT_M			16
#define HNSW_MIN_M				2
#define HNSW_MAX_M				100
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_MIN_EF_CONSTRUCTION 4
#define HNSW_MAX_EF_CONSTRUCTION 1000

/* Heavyweight lock taken on this (non-existent) page to serialise inserts */
#define HNSW_INSERT_LOCK		((BlockNumber) 0xFFFFFFFE)

/* Support functions of the operator classes */
#define HNSW_METRIC_PROC		1	/* engram.hnsw_<metric>_support */
#define HNSW_TYPE_PROC			2	/* engram.hnsw_<type>_support */

/* Build phases reported in pg_stat_progress_create_index */
#define PROGRESS_HNSW_PHASE_LOAD		2
#define PROGRESS_HNSW_PHASE_GRAPH		3
#define PROGRESS_HNSW_PHASE_WRITE		4

typedef enum HnswMetric
{
	HNSW_METRIC_L2 = 1,
	HNSW_METRIC_IP,
	HNSW_METRIC_COSINE,
	HNSW_METRIC_L1
} HnswMetric;

typedef enum HnswIterativeScan
{
	HNSW_ITERATIVE_OFF,
	HNSW_ITERATIVE_RELAXED,
	HNSW_ITERATIVE_STRICT
} HnswIterativeScan;

/* GUCs (hnsw.c) */
extern int	engram_hnsw_ef_search;
extern int	engram_hnsw_layer1_ef;
extern int	engram_hnsw_iterative_scan;
extern int	engram_hnsw_max_scan_tuples;
extern double engram_hnsw_scan_mem_multiplier;
extern bool engram_hnsw_prefetch;

/* Reloptions */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			ef_construction;
} HnswOptions;

/*
 * Special space of every page.  The page id sits in the last two bytes so
 * pg_filedump can tell engram_hnsw pages apart.
 */
typedef struct HnswPageOpaqueData
{
	uint16		flags;
	uint16		unused;
	uint16		tier;			/* HNSW_TIER_* */
	uint16		page_id;		/* HNSW_PAGE_ID */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HNSW_TIER_META			0
#define HNSW_TIER_HOT			1	/* nodes with upper layers */
#define HNSW_TIER_WARM			2	/* layer-0 only nodes */

#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))

/* Meta page contents */
typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint16		dim;
	uint16		m;
	uint16		ef_construction;
	uint16		metric;			/* HnswMetric */
	uint16		elem_kind;		/* VecElemKind of the indexed column */
	uint16		node_size_l0;	/* size of a level-0 node tuple */
	ItemPointerData entry;		/* entry point, invalid when empty */
	int16		entry_level;
	uint16		unused;
	BlockNumber hot_end;		/* first block after the hot tier */
	BlockNumber insert_page;	/* last page, where new nodes go */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/*
 * Node tuple, one per indexed row, stored as a page item (see README):
 *
 *		HnswNodeHeader
 *		int8   code[dim]			quantized vector
 *		(pad to 2 bytes)
 *		uint16 count[level + 1]		neighbours in use per layer
 *		ItemPointerData nbr[2m + level * m]		layer 0 first, then 1..level
 *
 * Neighbour slots have a fixed size so lists are rewritten in place.
 */
typedef struct HnswNodeHeader
{
	ItemPointerData heaptid;
	uint8		level;
	uint8		flags;			/* HNSW_NODE_* */
	float4		scale;			/* code[i] * scale approximates x[i] */
	float4		norm;			/* |x| of the (normalised, for cosine) vector */
	float4		residual;		/* |x - decoded code| (L1 norm for L1, else L2) */
} HnswNodeHeader;

#define HNSW_NODE_DELETED		0x01	/* heap row gone; still routes searches */
#define HNSW_NODE_UNLINKED		0x02	/* no longer referenced; slot reusable */
#define HNSW_NODE_UNBOUNDED		0x04	/* |x| so large that single-precision
										 * distances overflow: no lower bound */

/* Layout helpers: offsets inside a node tuple */
#define HnswCountsOffset(dim)	TYPEALIGN(2, sizeof(HnswNodeHeader) + (dim))
#define HnswNeighborsOffset(dim, level) \
	TYPEALIGN(2, HnswCountsOffset(dim) + sizeof(uint16) * ((level) + 1))
#define HnswLayerSlots(m, layer) ((layer) == 0 ? 2 * (m) : (m))
#define HnswTotalSlots(m, level) (2 * (m) + (level) * (m))
#define HnswNodeSize(dim, m, level) \
	(HnswNeighborsOffset(dim, level) + sizeof(ItemPointerData) * HnswTotalSlots(m, level))

#define HnswNodeCode(node)		((int8 *) ((char *) (node) + sizeof(HnswNodeHeader)))
#define HnswNodeCounts(node, dim) \
	((uint16 *) ((char *) (node) + HnswCountsOffset(dim)))
#define HnswNodeNeighbors(node, dim, m, layer) \
	((ItemPointerData *) ((char *) (node) + HnswNeighborsOffset(dim, (node)->level) + \
		sizeof(ItemPointerData) * ((layer) == 0 ? 0 : 2 * (m) + ((layer) - 1) * (m))))

/* What an index needs to know about its metric and column type */
typedef struct HnswIndexInfo
{
	HnswMetric	metric;
	const VecType *type;
	int			dim;
	int			m;
	int			ef_construction;
} HnswIndexInfo;

/*
 * A vector prepared for comparison with node codes: its floats (normalised
 * for cosine), its own code and the bounds' ingredients.
 */
typedef struct HnswQuery
{
	int			dim;
	HnswMetric	metric;
	float	   *x;
	int8	   *code;
	float		scale;
	float		norm;
	float		residual;
	bool		unbounded;		/* distances to it may overflow */
} HnswQuery;

/* Distance estimated from codes, and a lower bound of the exact distance */
typedef struct HnswEstimate
{
	float		distance;		/* ordering key for graph navigation */
	double		lower_bound;	/* in the operator's units; <= exact */
} HnswEstimate;

/* hnsw.c */
extern void EngramHnswInit(void);
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);

/* hnswutils.c */
extern void HnswGetIndexInfo(Relation index, HnswIndexInfo *info);
/* What HnswPrepareVector made of a value */
typedef enum HnswPrepared
{
	HNSW_PREPARED_SKIP,			/* not indexed: zero vector under cosine */
	HNSW_PREPARED_OK,
	HNSW_PREPARED_UNBOUNDED		/* indexed, but its distances may overflow */
} HnswPrepared;

extern HnswPrepared HnswPrepareVector(const HnswIndexInfo *info, Datum value, float *x);
extern void HnswQuantize(HnswMetric metric, const float *x, int dim,
						 int8 *code, float *scale, float *norm, float *residual);
extern void HnswInitQuery(HnswQuery *q, const HnswIndexInfo *info, const float *x,
						  bool unbounded);
extern HnswEstimate HnswEstimateNode(const HnswQuery *q, const HnswNodeHeader *node);
extern float HnswEstimateBetween(HnswMetric metric, const HnswNodeHeader *a,
								 const HnswNodeHeader *b, int dim);
extern int	HnswRandomLevel(int m, int max_level);
extern int	HnswMaxLevel(int dim, int m);
extern void HnswCheckDimensions(const HnswIndexInfo *info);
/* Inner product of two codes: what every estimate between codes starts from */
static inline double
HnswCodeDot(const int8 *a, float scale_a, const int8 *b, float scale_b, int dim)
{
	return (double) scale_a * scale_b * engram_kernels->i8_dot(a, b, dim);
}

extern void HnswFormNodeCode(HnswNodeHeader *node, const HnswIndexInfo *info,
							 const float *x, ItemPointer heaptid, int level,
							 bool unbounded);
extern void HnswInitNodeLinks(HnswNodeHeader *node, const HnswIndexInfo *info);
extern bool HnswSameCode(const HnswIndexInfo *info, const HnswNodeHeader *a,
						 const HnswNodeHeader *b);
extern void HnswFormNode(HnswNodeHeader *node, const HnswIndexInfo *info,
						 const float *x, ItemPointer heaptid, int level,
						 bool unbounded);
extern void HnswInitPage(Page page, uint16 tier);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern void HnswInitMetaPage(Page page, const HnswIndexInfo *info);

/* hnswsearch.c: the on-disk graph search shared by scans and inserts */
typedef struct HnswCandidate
{
	ItemPointerData node;		/* the node's tuple */
	ItemPointerData heaptid;
	float		distance;
	double		lower_bound;
	bool		deleted;
} HnswCandidate;

typedef struct HnswSearchStats
{
	/*
	 * Blocks below this are the hot tier (the meta page's hot_end, set by
	 * the caller): telling tiers apart by block number spares reading each
	 * page's special space, a cache miss per page that cost scans 5%.
	 */
	BlockNumber hot_end;
	uint64		distances;		/* node codes compared */
	uint64		nodes_expanded;
	uint64		pages_hot;		/* index pages pinned, per tier */
	uint64		pages_warm;
	uint64		pages_hot_read; /* of which not in shared buffers */
	uint64		pages_warm_read;
	uint64	   *layer_nodes;	/* if set, nodes expanded per upper layer */
} HnswSearchStats;

typedef struct HnswVisited HnswVisited;
typedef struct HnswCodeCopies HnswCodeCopies;

extern HnswCodeCopies *HnswCodeCopiesCreate(MemoryContext cxt, int dim, uint32 nelem);
extern int	HnswCodeCopiesDim(HnswCodeCopies *copies);
extern Size HnswCodeCopiesBytes(HnswCodeCopies *copies);
extern void HnswCodeCopiesReset(HnswCodeCopies *copies);
extern HnswNodeHeader *HnswCodeCopiesGet(HnswCodeCopies *copies, ItemPointer tid);
extern HnswNodeHeader *HnswCodeCopiesAdd(HnswCodeCopies *copies, ItemPointer tid,
										 const HnswNodeHeader *node);
extern HnswVisited *HnswVisitedCreate(MemoryContext cxt, uint32 nelem);
extern HnswVisited *HnswVisitedForIndex(MemoryContext cxt, Relation index,
										const HnswIndexInfo *info);
extern void HnswVisitedRelease(HnswVisited *visited);
extern void HnswVisitedKeepCodes(HnswVisited *visited, HnswCodeCopies *copies);
extern bool HnswVisitedTestAndSet(HnswVisited *visited, ItemPointer node);
extern uint32 HnswVisitedCount(HnswVisited *visited);
extern void HnswVisitedReset(HnswVisited *visited);
extern ItemPointerData HnswGreedyDescend(Relation index, const HnswIndexInfo *info,
										 const HnswQuery *q, ItemPointerData entry,
										 int entry_level, int stop_level,
										 HnswSearchStats *stats);
extern int	HnswSearchLayer(Relation index, const HnswIndexInfo *info,
							const HnswQuery *q, ItemPointerData *entries,
							int nentries, int layer, int ef,
							bool skip_deleted, HnswCandidate *results,
							HnswVisited *visited, HnswSearchStats *stats);
extern int	HnswSearchFromTop(Relation index, const HnswIndexInfo *info,
							  const HnswQuery *q, const HnswMetaPageData *meta,
							  int ef, int layer1_ef, HnswCandidate *results,
							  HnswVisited *visited, HnswSearchStats *upper,
							  HnswSearchStats *layer0);

/* hnswutils.c: neighbour selection, shared by the build and inserts */
typedef float (*HnswPairDistance) (void *ctx, int a, int b);
extern int	HnswSelectNeighbors(HnswMetric metric, int ncand,
								const float *dist_to_new, int m, bool fill,
								HnswPairDistance between, void *ctx,
								int *selected, int8 *kept);
extern bool HnswListContains(const ItemPointerData *list, int n, ItemPointer tid);
extern HnswNodeHeader *HnswFetchNodeCopy(Relation index, ItemPointer tid);
extern int	HnswSelectFromNodes(const HnswIndexInfo *info, const HnswNodeHeader *base,
								HnswNodeHeader **cands, const ItemPointerData *tids,
								int ncand, int maxn, bool fill, ItemPointerData *out);

/* hnswbuild.c */
extern IndexBuildResult *engram_hnsw_build(Relation heap, Relation index,
										   IndexInfo *indexInfo);
extern void engram_hnsw_buildempty(Relation index);

/* hnswinsert.c */
extern bool engram_hnsw_insert(Relation index, Datum *values, bool *isnull,
							   ItemPointer heap_tid, Relation heap,
							   IndexUniqueCheck checkUnique,
							   bool indexUnchanged, IndexInfo *indexInfo);
extern void HnswInsertVector(Relation index, const HnswIndexInfo *info,
							 const float *x, ItemPointer heaptid, bool unbounded);

/* hnswscan.c */
extern IndexScanDesc engram_hnsw_beginscan(Relation index, int nkeys, int norderbys);
extern void engram_hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
							   ScanKey orderbys, int norderbys);
extern bool engram_hnsw_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void engram_hnsw_endscan(IndexScanDesc scan);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *engram_hnsw_bulkdelete(IndexVacuumInfo *info,
													 IndexBulkDeleteResult *stats,
													 IndexBulkDeleteCallback callback,
													 void *callback_state);
extern IndexBulkDeleteResult *engram_hnsw_vacuumcleanup(IndexVacuumInfo *info,
														IndexBulkDeleteResult *stats);

/* hnswcost.c */
extern void engram_hnsw_costestimate(PlannerInfo *root, IndexPath *path,
									 double loop_count, Cost *indexStartupCost,
									 Cost *indexTotalCost,
									 Selectivity *indexSelectivity,
									 double *indexCorrelation, double *indexPages);

/* hnswcheck.c */
typedef struct HnswInDegree
{
	ItemPointerData tid;
	int32		n;
} HnswInDegree;

extern int	HnswFindUnreachable(Relation index, ItemPointerData **out,
								HnswInDegree **indegrees, int *nnodes);
extern HnswInDegree *HnswInDegreeOf(HnswInDegree *indegrees, int n, ItemPointer tid);
extern Relation HnswOpenChecked(Oid indexoid);

/* hnswvalidate.c */
extern bool engram_hnsw_validate(Oid opclassoid);

#endif							/* ENGRAM_HNSW_H */
