/*
 * gen_synth: clustered synthetic embedding vectors as PostgreSQL COPY text.
 *
 * usage: gen_synth --dim D --clusters C --seed S (--rows N | --queries Q)
 *                  [--start-id K] [--sigma X] [--intrinsic-dim R]
 *                  [--category-column P1,P2]
 *
 *   --rows N        write N base rows, ids K..K+N-1
 *   --queries Q     write Q query rows instead, ids K..K+Q-1 (own stream)
 *   --start-id K    first id (default 1); a run with --start-id K --rows N
 *                   prints exactly rows K..K+N-1 of a full run, so big sets
 *                   can be generated in parallel chunks and concatenated
 *   --sigma X       cluster spread (default 1.0; see below)
 *   --intrinsic-dim R  dimensions along which a cluster spreads (default 16)
 *   --category-column P1,P2
 *                   base rows only: add an int column, 1 for a fraction P1 of
 *                   rows, 2 for P2, 0 for the rest (filtered search)
 *
 * Output, one row a line:  id <TAB> [category <TAB>] [x1,...,xD]
 * Components are printed with %.6g; every vector has unit L2 norm (to the
 * printed precision), so cosine, L2 and inner-product orders agree.
 *
 * The mixture (all of it fixed by --seed, --dim, --clusters, --sigma and
 * --intrinsic-dim, shared by base and queries):
 *   centre c_k   uniform on the unit sphere (a normalised Gaussian vector)
 *   weight w_k   proportional to exp(0.5 Z): clusters of unequal size
 *   spread s_k   sigma * exp(0.25 Z): clusters of unequal density
 *   basis  B_k   R random directions: a cluster varies mostly in its own
 *                R-dimensional subspace, as real embeddings have a low
 *                intrinsic dimension
 * A row picks cluster k with probability w_k and is
 *   x = normalise(c_k + s_k (B_k z / sqrt(R) + 0.3 g / sqrt(D)))
 * with z ~ N(0, I_R) and g ~ N(0, I_D) (small isotropic noise, so that no
 * cluster is exactly flat).  An isotropic Gaussian blob in 384+ dimensions
 * would put all of a cluster's points at nearly the same distance from each
 * other, leaving no nearest-neighbour structure to find; the low-dimensional
 * spread gives graded neighbour distances like those of text embeddings.
 * With the defaults, 10,000 x 384 and 100 clusters, a query's 1st, 10th and
 * 100th neighbours have mean cosine similarity 0.77, 0.67 and 0.36, random
 * pairs ~0.01: close to GloVe's 0.74, 0.60 and 0.47 (see README.md).
 *
 * Base and query rows come from separate generator streams; a query equal to
 * a base row would need all D printed components to coincide, which for
 * continuous draws does not happen.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rng.h"

#define MIXTURE_STREAM UINT64_C(0x6d697874757265)	/* "mixture" */
#define BASE_STREAM UINT64_C(0x62617365)	/* "base" */
#define QUERY_STREAM UINT64_C(0x7175657279)	/* "query" */
/* Same stream and rule as glove-to-copy.js, so --categories means the same */
#define CATEGORY_STREAM UINT64_C(0x63617465676f7279)	/* "category" */

#define ISOTROPIC_NOISE 0.3

typedef struct Mixture
{
	int			dim;
	int			clusters;
	int			intrinsic;
	double	   *centres;		/* clusters x dim */
	double	   *bases;			/* clusters x intrinsic x dim */
	double	   *spreads;		/* clusters */
	double	   *cumulative;		/* clusters: cumulative weights, last = 1 */
} Mixture;

typedef struct Options
{
	int			dim;
	int			clusters;
	uint64_t	seed;
	uint64_t	count;
	int			queries;
	uint64_t	start_id;
	double		sigma;
	int			intrinsic;
	int			categories;
	double		fraction[2];
} Options;

static void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n, size);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void
normalise(double *v, int dim)
{
	double		norm = 0.0;

	for (int i = 0; i < dim; i++)
		norm += v[i] * v[i];
	norm = sqrt(norm);
	for (int i = 0; i < dim; i++)
		v[i] /= norm;
}

static Mixture
make_mixture(const Options *o)
{
	Mixture		m;
	Rng			rng = rng_for(o->seed, MIXTURE_STREAM, 0);
	double		total = 0.0;
	double		column_scale = 1.0 / sqrt((double) o->dim);

	m.dim = o->dim;
	m.clusters = o->clusters;
	m.intrinsic = o->intrinsic;
	m.centres = xcalloc((size_t) o->clusters * o->dim, sizeof(double));
	m.bases = xcalloc((size_t) o->clusters * o->intrinsic * o->dim, sizeof(double));
	m.spreads = xcalloc(o->clusters, sizeof(double));
	m.cumulative = xcalloc(o->clusters, sizeof(double));

	for (int k = 0; k < o->clusters; k++)
	{
		double	   *centre = m.centres + (size_t) k * o->dim;
		double	   *basis = m.bases + (size_t) k * o->intrinsic * o->dim;

		for (int i = 0; i < o->dim; i++)
			centre[i] = rng_normal(&rng);
		normalise(centre, o->dim);
		/* columns of ~unit norm; random directions are nearly orthogonal */
		for (size_t i = 0; i < (size_t) o->intrinsic * o->dim; i++)
			basis[i] = rng_normal(&rng) * column_scale;
		m.spreads[k] = o->sigma * exp(0.25 * rng_normal(&rng));
		total += exp(0.5 * rng_normal(&rng));
		m.cumulative[k] = total;
	}
	for (int k = 0; k < o->clusters; k++)
		m.cumulative[k] /= total;
	m.cumulative[o->clusters - 1] = 1.0;
	return m;
}

static int
pick_cluster(const Mixture *m, double u)
{
	int			lo = 0,
				hi = m->clusters - 1;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (u < m->cumulative[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void
sample_row(const Mixture *m, Rng *rng, double *x, double *z)
{
	int			k = pick_cluster(m, rng_uniform(rng));
	const double *centre = m->centres + (size_t) k * m->dim;
	const double *basis = m->bases + (size_t) k * m->intrinsic * m->dim;
	double		spread = m->spreads[k];
	double		along = spread / sqrt((double) m->intrinsic);
	double		across = spread * ISOTROPIC_NOISE / sqrt((double) m->dim);

	for (int j = 0; j < m->intrinsic; j++)
		z[j] = rng_normal(rng) * along;
	for (int i = 0; i < m->dim; i++)
		x[i] = centre[i] + rng_normal(rng) * across;
	for (int j = 0; j < m->intrinsic; j++)
	{
		const double *column = basis + (size_t) j * m->dim;

		for (int i = 0; i < m->dim; i++)
			x[i] += z[j] * column[i];
	}
	normalise(x, m->dim);
}

/* Weyl (golden-ratio) sequence over ids: low-discrepancy, so every prefix
 * and every contiguous id range has the requested fractions to within a few
 * rows.  Same rule as categoryOf() in glove-to-copy.js. */
static int
category_of(uint64_t id, uint64_t offset, const double fraction[2])
{
	uint64_t	x = offset + id * GOLDEN_GAMMA;
	double		u = (double) (x >> 11) * 0x1.0p-53;

	if (u < fraction[0])
		return 1;
	if (u < fraction[0] + fraction[1])
		return 2;
	return 0;
}

static void
parse_fractions(const char *s, double fraction[2])
{
	char	   *copy = strdup(s);
	char	   *comma = copy ? strchr(copy, ',') : NULL;

	if (comma == NULL)
		die("--category-column: expected P1,P2, got %s", s);
	*comma = '\0';
	fraction[0] = parse_double("--category-column", copy);
	fraction[1] = parse_double("--category-column", comma + 1);
	free(copy);
	if (fraction[0] < 0 || fraction[1] < 0 || fraction[0] + fraction[1] > 1)
		die("--category-column: fractions must be >= 0 and add up to at most 1");
}

static int
parse_int(const char *opt, const char *s, int max)
{
	uint64_t	v = parse_u64(opt, s);

	if (v < 1 || v > (uint64_t) max)
		die("%s: must be between 1 and %d", opt, max);
	return (int) v;
}

static Options
parse_options(int argc, char **argv)
{
	Options		o = {.start_id = 1, .sigma = 1.0, .intrinsic = 16};
	int			have_seed = 0,
				have_rows = 0,
				have_queries = 0;

	for (int i = 1; i < argc; i++)
	{
		const char *opt = argv[i];
		const char *v = option_value(argc, argv, &i);

		if (strcmp(opt, "--dim") == 0)
			o.dim = parse_int(opt, v, 16000);
		else if (strcmp(opt, "--clusters") == 0)
			o.clusters = parse_int(opt, v, 1000000);
		else if (strcmp(opt, "--seed") == 0)
			o.seed = parse_u64(opt, v), have_seed = 1;
		else if (strcmp(opt, "--rows") == 0)
			o.count = parse_u64(opt, v), have_rows = 1;
		else if (strcmp(opt, "--queries") == 0)
			o.count = parse_u64(opt, v), have_queries = 1;
		else if (strcmp(opt, "--start-id") == 0)
			o.start_id = parse_u64(opt, v);
		else if (strcmp(opt, "--sigma") == 0)
			o.sigma = parse_double(opt, v);
		else if (strcmp(opt, "--intrinsic-dim") == 0)
			o.intrinsic = parse_int(opt, v, 16000);
		else if (strcmp(opt, "--category-column") == 0)
			parse_fractions(v, o.fraction), o.categories = 1;
		else
			die("unknown option %s (see the usage at the top of gen_synth.c)", opt);
	}
	if (o.dim == 0 || o.clusters == 0 || !have_seed)
		die("--dim, --clusters and --seed are required");
	if (have_rows == have_queries)
		die("give exactly one of --rows N (base rows) or --queries Q (query rows)");
	if (have_queries && o.categories)
		die("--category-column applies to base rows only");
	if (o.start_id < 1 || o.start_id - 1 > (uint64_t) INT64_MAX - o.count)
		die("--start-id: ids must stay within 1..2^63-1");
	if (o.sigma <= 0)
		die("--sigma must be positive");
	o.queries = have_queries;
	return o;
}

int
main(int argc, char **argv)
{
	Options		o;
	Mixture		m;
	double	   *x;
	double	   *z;
	uint64_t	stream;
	uint64_t	category_offset;
	static char outbuf[1 << 20];

	progname = "gen_synth";
	o = parse_options(argc, argv);
	m = make_mixture(&o);
	x = xcalloc(o.dim, sizeof(double));
	z = xcalloc(o.intrinsic, sizeof(double));
	stream = o.queries ? QUERY_STREAM : BASE_STREAM;
	category_offset = mix64(o.seed ^ CATEGORY_STREAM);
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	for (uint64_t id = o.start_id; id < o.start_id + o.count; id++)
	{
		Rng			rng = rng_for(o.seed, stream, id);

		sample_row(&m, &rng, x, z);
		printf("%llu\t", (unsigned long long) id);
		if (o.categories)
			printf("%d\t", category_of(id, category_offset, o.fraction));
		putchar('[');
		for (int i = 0; i < o.dim; i++)
			printf(i ? ",%.6g" : "%.6g", x[i]);
		fputs("]\n", stdout);
		if (ferror(stdout))
			break;
	}
	finish_output();
	return 0;
}
