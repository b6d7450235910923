/*-------------------------------------------------------------------------
 *
 * hnswutils.c
 *	  engram_hnsw: index metadata, quantized codes and distance estimates,
 *	  page helpers.
 *
 * Codes are per-vector int8 scalar quantization (README, "Codes and
 * bounds"): x[i] ~ scale * code[i] with scale = max|x| / 127.  Each node also
 * keeps |x| and the residual |x - scale * code|, which turn the estimate
 * into a guaranteed lower bound of the exact distance; scans hand that
 * bound to the executor, which re-checks the ORDER BY on the heap tuple.
 *
 * src/am/hnsw/hnswutils.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/generic_xlog.h"
#include "common/pg_prng.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/rel.h"

#include "am/hnsw/hnsw.h"
#include "simd.h"

/*
 * Relative slack subtracted from every lower bound: the exact distance the
 * executor compares against is itself computed in single precision.
 */
#define HNSW_BOUND_EPSILON		1e-4

/*
 * Metric and column type, from the operator class's support functions, and
 * the build parameters
 */
void
HnswGetIndexInfo(Relation index, HnswIndexInfo *info)
{
	FmgrInfo   *metric_proc = index_getprocinfo(index, 1, HNSW_METRIC_PROC);
	FmgrInfo   *type_proc = index_getprocinfo(index, 1, HNSW_TYPE_PROC);

	info->metric = *(const HnswMetric *)
		DatumGetPointer(FunctionCall1(metric_proc, PointerGetDatum(NULL)));
	info->type = (const VecType *)
		DatumGetPointer(FunctionCall1(type_proc, PointerGetDatum(NULL)));
	info->dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	info->m = HnswGetM(index);
	info->ef_construction = HnswGetEfConstruction(index);
}

/*
 * Widen an indexed value to floats, normalised for cosine.  Says whether
 * the index holds it (not a zero vector under cosine), and whether its norm
 * is so large that the single-precision distance functions overflow on it,
 * in which case no lower bound of those results can be promised.
 */
HnswPrepared
HnswPrepareVector(const HnswIndexInfo *info, Datum value, float *x)
{
	VecHeader  *v = (VecHeader *) PG_DETOAST_DATUM(value);
	double		norm = 0.0;
	HnswPrepared result;

	if (v->dim != info->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", info->dim, v->dim)));

	if (info->type->kind == VEC_ELEM_HALF)
		engram_kernels->f16_to_f32(VEC_DATA(v), x, v->dim);
	else
		memcpy(x, VEC_DATA(v), sizeof(float) * v->dim);

	for (int i = 0; i < v->dim; i++)
		norm += (double) x[i] * x[i];
	result = norm < FLT_MAX / 4 ? HNSW_PREPARED_OK : HNSW_PREPARED_UNBOUNDED;

	if (info->metric == HNSW_METRIC_COSINE)
	{
		norm = sqrt(norm);
		if (norm == 0.0 || isnan(norm))
			result = HNSW_PREPARED_SKIP;
		else
			for (int i = 0; i < v->dim; i++)
				x[i] = (float) (x[i] / norm);
	}

	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	return result;
}

/*
 * Quantize x into an int8 code; compute its norm and the residual the
 * lower bounds need (L1 residual for L1, L2 residual otherwise)
 */
void
HnswQuantize(HnswMetric metric, const float *x, int dim, int8 *code,
			 float *scale, float *norm, float *residual)
{
	float		maxabs = 0.0f;
	double		sumsq = 0.0;
	double		res = 0.0;
	float		s;

	for (int i = 0; i < dim; i++)
	{
		maxabs = Max(maxabs, fabsf(x[i]));
		sumsq += (double) x[i] * x[i];
	}

	s = maxabs > 0 ? maxabs / 127.0f : 1.0f;
	for (int i = 0; i < dim; i++)
	{
		long		c = lrintf(x[i] / s);
		double		err;

		c = Min(127, Max(-127, c));
		code[i] = (int8) c;
		err = (double) x[i] - (double) s * c;
		res += metric == HNSW_METRIC_L1 ? fabs(err) : err * err;
	}

	*scale = s;
	*norm = (float) sqrt(sumsq);
	/* round up so the bounds stay bounds */
	*residual = (float) ((metric == HNSW_METRIC_L1 ? res : sqrt(res)) * (1.0 + 1e-6)) + 1e-12f;
}

/*
 * Prepare a query (or a vector being inserted) for comparison with codes
 */
void
HnswInitQuery(HnswQuery *q, const HnswIndexInfo *info, const float *x,
			  bool unbounded)
{
	q->unbounded = unbounded;
	q->dim = info->dim;
	q->metric = info->metric;
	q->x = palloc(sizeof(float) * info->dim);
	memcpy(q->x, x, sizeof(float) * info->dim);
	q->code = palloc(info->dim);
	HnswQuantize(info->metric, x, info->dim, q->code, &q->scale, &q->norm,
				 &q->residual);
}

/*
 * Estimate of the distance from q to a node, and a lower bound of the exact
 * distance in the operator's units (README, "Codes and bounds")
 */
static inline HnswEstimate
FiniteBound(HnswEstimate e, const HnswQuery *q, const HnswNodeHeader *node)
{
	if (q->unbounded || (node->flags & HNSW_NODE_UNBOUNDED))
		e.lower_bound = -get_float8_infinity();
	/* overflowing norms give no bound; -inf is always a valid one */
	if (isnan(e.lower_bound) || isinf(e.lower_bound))
		e.lower_bound = -get_float8_infinity();
	if (isnan(e.distance))
		e.distance = get_float4_infinity();
	return e;
}

HnswEstimate
HnswEstimateNode(const HnswQuery *q, const HnswNodeHeader *node)
{
	HnswEstimate e;
	const int8 *code = HnswNodeCode(node);
	double		dot;
	double		slack;
	double		lb;

	if (q->metric == HNSW_METRIC_L1)
	{
		float		d = engram_i8_scaled_l1(code, node->scale, q->code, q->scale, q->dim);

		e.distance = d;
		lb = d - node->residual - q->residual;
		e.lower_bound = lb - HNSW_BOUND_EPSILON * (fabs(lb) + d + 1.0);
		return FiniteBound(e, q, node);
	}

	/* |a.q - a'.q'| <= |a - a'| |q| + |a'| |q - q'| and |a'| <= |a| + res */
	dot = HnswCodeDot(code, node->scale, q->code, q->scale, q->dim);
	slack = (double) node->residual * q->norm +
		((double) node->norm + node->residual) * q->residual;

	switch (q->metric)
	{
		case HNSW_METRIC_L2:
			{
				double		n2 = (double) node->norm * node->norm + (double) q->norm * q->norm;
				double		lb2 = n2 - 2.0 * (dot + slack);

				/*
				 * n2 - 2 dot cancels: the float rounding of the norms alone
				 * is worth a few FLT_EPSILON * n2 before the square root
				 */
				e.distance = (float) (n2 - 2.0 * dot);
				lb2 -= 8.0 * FLT_EPSILON * n2;
				lb = sqrt(Max(lb2, 0.0));
				e.lower_bound = lb - HNSW_BOUND_EPSILON * (lb + 1.0);
				return FiniteBound(e, q, node);
			}
		case HNSW_METRIC_IP:
			e.distance = (float) -dot;
			lb = -dot - slack;
			break;
		default:				/* cosine, on normalised vectors */
			e.distance = (float) (1.0 - dot);
			lb = 1.0 - dot - slack;
			break;
	}
	/* the exact dot product rounds relative to |a| |q|, not to itself */
	e.lower_bound = lb - HNSW_BOUND_EPSILON *
		(fabs(lb) + (double) node->norm * q->norm + 1.0);
	return FiniteBound(e, q, node);
}

/*
 * Estimated distance between two nodes, for neighbour selection
 */
float
HnswEstimateBetween(HnswMetric metric, const HnswNodeHeader *a,
					const HnswNodeHeader *b, int dim)
{
	double		dot;

	if (metric == HNSW_METRIC_L1)
		return engram_i8_scaled_l1(HnswNodeCode(a), a->scale, HnswNodeCode(b),
								   b->scale, dim);

	dot = HnswCodeDot(HnswNodeCode(a), a->scale, HnswNodeCode(b), b->scale, dim);
	if (metric == HNSW_METRIC_L2)
		return (float) ((double) a->norm * a->norm + (double) b->norm * b->norm - 2.0 * dot);
	if (metric == HNSW_METRIC_IP)
		return (float) -dot;
	return (float) (1.0 - dot);
}

/*
 * Level of a new node: floor(-ln(U) * mL) with mL = 1 / ln(m), capped where
 * the node would no longer fit in a page
 */
int
HnswRandomLevel(int m, int max_level)
{
	double		u = pg_prng_double(&pg_global_prng_state);
	int			level;

	if (u <= 0.0)
		u = DBL_MIN;
	level = (int) floor(-log(u) / log((double) m));
	return Min(level, max_level);
}

/*
 * Highest level whose node tuple still fits in a page; -1 if not even a
 * level-0 node does
 */
int
HnswMaxLevel(int dim, int m)
{
	int			level = -1;

	while (level < HNSW_MAX_LEVEL &&
		   HnswNodeSize(dim, m, level + 1) <= HNSW_MAX_NODE_SIZE)
		level++;
	return level;
}

/*
 * Refuse columns the index cannot hold
 */
void
HnswCheckDimensions(const HnswIndexInfo *info)
{
	if (info->dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions")));

	if (HnswMaxLevel(info->dim, info->m) < 0)
	{
		int			maxdim = 1;

		while (HnswNodeSize(maxdim + 1, info->m, 0) <= HNSW_MAX_NODE_SIZE)
			maxdim++;
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for engram_hnsw index with m = %d",
						maxdim, info->m)));
	}
}

/*
 * Fill the header and code of a node for vector x (sizeof(HnswNodeHeader)
 * + dim bytes)
 */
void
HnswFormNodeCode(HnswNodeHeader *node, const HnswIndexInfo *info, const float *x,
				 ItemPointer heaptid, int level, bool unbounded)
{
	node->heaptid = *heaptid;
	node->level = (uint8) level;
	node->flags = unbounded ? HNSW_NODE_UNBOUNDED : 0;
	HnswQuantize(info->metric, x, info->dim, HnswNodeCode(node), &node->scale,
				 &node->norm, &node->residual);
}

/*
 * Empty neighbour lists after a node's header and code
 */
void
HnswInitNodeLinks(HnswNodeHeader *node, const HnswIndexInfo *info)
{
	uint16	   *counts = HnswNodeCounts(node, info->dim);
	ItemPointerData *nbrs = HnswNodeNeighbors(node, info->dim, info->m, 0);

	for (int l = 0; l <= node->level; l++)
		counts[l] = 0;
	for (int i = 0; i < HnswTotalSlots(info->m, node->level); i++)
		ItemPointerSetInvalid(&nbrs[i]);
}

/*
 * Fill a node tuple (of HnswNodeSize bytes, zeroed) for vector x
 */
void
HnswFormNode(HnswNodeHeader *node, const HnswIndexInfo *info, const float *x,
			 ItemPointer heaptid, int level, bool unbounded)
{
	HnswFormNodeCode(node, info, x, heaptid, level, unbounded);
	HnswInitNodeLinks(node, info);
}

/*
 * Whether live node b carries the same code, scale, norm and residual as a.
 * Such nodes are interchangeable for every estimate and every bound (the
 * bounds depend on nothing else), so a row whose vector quantizes like an
 * existing node's is treated as a copy of it.
 */
bool
HnswSameCode(const HnswIndexInfo *info, const HnswNodeHeader *a, const HnswNodeHeader *b)
{
	return a->scale == b->scale && a->norm == b->norm &&
		a->residual == b->residual &&
		(a->flags & HNSW_NODE_UNBOUNDED) == (b->flags & HNSW_NODE_UNBOUNDED) &&
		!(b->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED)) &&
		memcmp(HnswNodeCode(a), HnswNodeCode(b), info->dim) == 0;
}

/*
 * Initialize an empty page of the given tier
 */
void
HnswInitPage(Page page, uint16 tier)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->flags = 0;
	opaque->unused = 0;
	opaque->tier = tier;
	opaque->page_id = HNSW_PAGE_ID;
}

/*
 * Initialize the meta page of an empty index
 */
void
HnswInitMetaPage(Page page, const HnswIndexInfo *info)
{
	HnswMetaPage meta;

	HnswInitPage(page, HNSW_TIER_META);
	meta = HnswPageGetMeta(page);
	memset(meta, 0, sizeof(HnswMetaPageData));
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->dim = info->dim;
	meta->m = info->m;
	meta->ef_construction = info->ef_construction;
	meta->metric = info->metric;
	meta->elem_kind = info->type->kind;
	meta->node_size_l0 = HnswNodeSize(info->dim, info->m, 0);
	ItemPointerSetInvalid(&meta->entry);
	meta->entry_level = -1;
	meta->hot_end = 1;
	meta->insert_page = InvalidBlockNumber;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/*
 * Copy of the meta page, checked
 */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(meta, HnswPageGetMeta(BufferGetPage(buf)), sizeof(HnswMetaPageData));
	UnlockReleaseBuffer(buf);

	if (meta->magic != HNSW_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an engram_hnsw index",
						RelationGetRelationName(index))));
	if (meta->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has engram_hnsw version %u, expected %u",
						RelationGetRelationName(index), meta->version, HNSW_VERSION),
				 errhint("REINDEX the index.")));
}

/*
 * The neighbour selection heuristic of the HNSW paper (algorithm 4): walk
 * the candidates nearest first and keep one only if it is closer to the new
 * node than to every neighbour kept so far, which spreads the links over
 * directions instead of spending them all on one cluster.  Of several
 * exact copies of the node itself only the last is kept, or copies of one
 * vector would fill each other's lists and cut themselves off.
 *
 * With fill, slots the heuristic leaves empty take the nearest candidates it
 * pruned: vacuum uses this so repairs do not thin the graph, and inner
 * product always does, because -dot is no metric: next to a neighbour of
 * large norm every candidate looks "closer to it", the heuristic alone keeps
 * almost nothing and the graph falls apart.
 *
 * Candidates come sorted by dist_to_new; returns how many were selected
 * into selected[].
 *
 * kept, when not NULL, makes the selection incremental (pgvector's
 * build does the same): on input kept[i] says what an earlier run over the
 * same list decided for candidate i (1 kept, 0 pruned, -1 unknown: a new
 * candidate), on output what this run decided (-1 where it stopped before
 * reaching i).  A candidate kept before stays kept unless one of the
 * candidates newly kept ahead of it is closer to it; one pruned before stays
 * pruned unless a kept one ahead of it was dropped.  So only new candidates
 * are compared with every kept one, and the result is exactly what a full
 * run gives.  With an exact copy of the node among the candidates the copy
 * rule can swap kept candidates, so every candidate is then treated as new.
 */
int
HnswSelectNeighbors(HnswMetric metric, int ncand, const float *dist_to_new,
					int m, bool fill, HnswPairDistance between, void *ctx,
					int *selected, int8 *kept)
{
	bool		taken_buf[128];
	int			newly_buf[128];
	bool	   *taken = taken_buf;
	int		   *newly = newly_buf;	/* kept now, not before, in order */
	int			nselected = 0;
	int			nnewly = 0;
	bool		removed_any = false;
	bool		incremental = kept != NULL;
	int			looked = -1;	/* the last candidate decided */

	/* inner product keeps its lists full (see above) */
	if (metric == HNSW_METRIC_IP)
		fill = true;

	for (int i = 0; incremental && i < ncand; i++)
		if (dist_to_new[i] == 0)
			incremental = false;

	if (ncand > (int) lengthof(taken_buf))
	{
		taken = palloc(sizeof(bool) * ncand);
		newly = palloc(sizeof(int) * ncand);
	}
	memset(taken, 0, sizeof(bool) * Max(ncand, 0));
	for (int i = 0; i < ncand && nselected < m; i++)
	{
		int			before = incremental ? kept[i] : -1;
		bool		keep = true;

		looked = i;
		if (before == 0 && !removed_any)
			continue;
		if (before == 1)
		{
			/* kept before: only the newly kept ahead of it can change that */
			for (int j = 0; j < nnewly && keep; j++)
				keep = !(between(ctx, i, newly[j]) < dist_to_new[i]);
			if (keep)
			{
				selected[nselected++] = i;
				taken[i] = true;
			}
			else
				removed_any = true;
			continue;
		}
		for (int j = 0; j < nselected; j++)
		{
			float		d = between(ctx, i, selected[j]);

			if (d == 0 && dist_to_new[i] == 0)
			{
				/*
				 * Another copy of the node itself: keep only the later one,
				 * which is the head of the chain of copies (hnswinsert.c).
				 * Never in incremental mode, so newly[] needs no update.
				 */
				taken[selected[j]] = false;
				selected[j] = i;
				taken[i] = true;
				keep = false;
				break;
			}
			if (d < dist_to_new[i])
			{
				keep = false;
				break;
			}
		}
		if (keep)
		{
			selected[nselected++] = i;
			taken[i] = true;
			newly[nnewly++] = i;
		}
	}

	if (kept != NULL)
		for (int i = 0; i < ncand; i++)
			kept[i] = taken[i] ? 1 : i <= looked ? 0 : -1;

	for (int i = 0; fill && i < ncand && nselected < m; i++)
		if (!taken[i])
			selected[nselected++] = i;
	if (taken != taken_buf)
	{
		pfree(taken);
		pfree(newly);
	}
	return nselected;
}

/* Whether tid is among the n positions of list */
bool
HnswListContains(const ItemPointerData *list, int n, ItemPointer tid)
{
	for (int i = 0; i < n; i++)
		if (ItemPointerEquals((ItemPointer) &list[i], tid))
			return true;
	return false;
}

/*
 * A private copy of the node tuple at tid
 */
HnswNodeHeader *
HnswFetchNodeCopy(Relation index, ItemPointer tid)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	Page		page;
	ItemId		itemid;
	HnswNodeHeader *copy;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(tid));
	copy = palloc(ItemIdGetLength(itemid));
	memcpy(copy, PageGetItem(page, itemid), ItemIdGetLength(itemid));
	UnlockReleaseBuffer(buf);
	return copy;
}

/* HnswSelectNeighbors over node copies */
typedef struct CodeSelectCtx
{
	HnswMetric	metric;
	int			dim;
	HnswNodeHeader **nodes;
} CodeSelectCtx;

static float
CodePairDistance(void *ctx, int a, int b)
{
	CodeSelectCtx *c = (CodeSelectCtx *) ctx;

	return HnswEstimateBetween(c->metric, c->nodes[a], c->nodes[b], c->dim);
}

/*
 * Choose at most maxn neighbours for base among candidate nodes (with their
 * positions tids), skipping deleted ones, by the heuristic on estimated
 * distances (filling empty slots when fill).  Writes the chosen positions to
 * out (which may be tids) and returns how many.
 */
int
HnswSelectFromNodes(const HnswIndexInfo *info, const HnswNodeHeader *base,
					HnswNodeHeader **cands, const ItemPointerData *tids,
					int ncand, int maxn, bool fill, ItemPointerData *out)
{
	HnswNodeHeader **nodes = palloc(sizeof(HnswNodeHeader *) * Max(ncand, 1));
	ItemPointerData *pos = palloc(sizeof(ItemPointerData) * Max(ncand, 1));
	float	   *dist = palloc(sizeof(float) * Max(ncand, 1));
	int		   *sel = palloc(sizeof(int) * maxn);
	CodeSelectCtx ctx;
	int			n = 0;
	int			nsel;

	/* live candidates, insertion-sorted by distance to base */
	for (int i = 0; i < ncand; i++)
	{
		float		d;
		int			j;

		if (cands[i]->flags & (HNSW_NODE_DELETED | HNSW_NODE_UNLINKED))
			continue;
		d = HnswEstimateBetween(info->metric, base, cands[i], info->dim);
		for (j = n; j > 0 && dist[j - 1] > d; j--)
		{
			dist[j] = dist[j - 1];
			nodes[j] = nodes[j - 1];
			pos[j] = pos[j - 1];
		}
		dist[j] = d;
		nodes[j] = cands[i];
		pos[j] = tids[i];
		n++;
	}

	ctx.metric = info->metric;
	ctx.dim = info->dim;
	ctx.nodes = nodes;
	nsel = HnswSelectNeighbors(info->metric, n, dist, maxn, fill, CodePairDistance,
							   &ctx, sel, NULL);
	for (int i = 0; i < nsel; i++)
		out[i] = pos[sel[i]];

	pfree(nodes);
	pfree(pos);
	pfree(dist);
	pfree(sel);
	return nsel;
}
