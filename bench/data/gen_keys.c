/*
 * gen_keys: int8 keys for learned-index benchmarks, one per line (COPY text).
 *
 * usage: gen_keys --dist sequential [--rows N] [--step K]
 *        gen_keys --dist uniform|lognormal|bursty --seed S [--rows N]
 *                 [--mu M] [--sigma X] [--scale F]      (lognormal only)
 *        gen_keys --probes M --from FILE --seed S
 *
 *   --rows N     number of keys (default 10,000,000)
 *
 * Distributions:
 *   sequential  1, 1+K, 1+2K, ... (--step K, default 1); sorted, no duplicates
 *   uniform     uniform in [0, 2^62); unsorted; duplicates possible but rare
 *               (about N^2 / 2^63: ~1e-5 expected for 10M keys)
 *   lognormal   round(F * exp(M + X Z)), Z standard normal, defaults M = 0,
 *               X = 2, F = 1e9, clamped to [0, 2^63-1]; unsorted, heavily
 *               skewed (median 1e9, 99.9th percentile ~5e11)
 *   bursty      event timestamps as PostgreSQL stores timestamps internally:
 *               int8 microseconds since 2000-01-01 00:00:00, over the 30 days
 *               from 2024-01-01.  Arrivals are a Poisson process whose rate
 *               is modulated by a two-state Markov chain: a quiet state of
 *               base rate r (mean stay 1 hour) and a burst state of rate 100r
 *               (mean stay 5 minutes), stays exponentially distributed, so
 *               ~7% of the time holds ~89% of the events.  Exactly N events
 *               are placed: given the state path, N arrivals of a Poisson
 *               process are N independent draws from its rate profile, taken
 *               here in order (sorted uniform spacings), so r follows from N.
 *               Output is sorted (arrival order); equal timestamps happen
 *               when two events fall in one microsecond, mostly in bursts.
 *
 * Probe mode: M keys drawn uniformly with replacement from the keys in FILE
 * (one int8 a line, e.g. an earlier gen_keys output), for lookup benchmarks.
 *
 * Every random choice comes from splitmix64 streams of --seed (rng.h), so a
 * given command line always prints the same keys.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rng.h"

#define KEY_STREAM UINT64_C(0x6b657973)	/* "keys" */
#define PATH_STREAM UINT64_C(0x70617468)	/* "path": bursty state path */
#define PROBE_STREAM UINT64_C(0x70726f6265)	/* "probe" */

#define DEFAULT_ROWS 10000000

/* bursty: 2024-01-01 00:00:00 as microseconds since 2000-01-01 (8766 days) */
#define BURSTY_START_US (INT64_C(8766) * 86400 * 1000000)
#define BURSTY_SPAN_S (30.0 * 86400)
#define QUIET_MEAN_STAY_S 3600.0
#define BURST_MEAN_STAY_S 300.0
#define BURST_RATE_FACTOR 100.0

typedef enum
{
	DIST_NONE, DIST_SEQUENTIAL, DIST_UNIFORM, DIST_LOGNORMAL, DIST_BURSTY
} Dist;

typedef struct Options
{
	Dist		dist;
	const char *dist_name;
	uint64_t	rows;
	uint64_t	step;
	uint64_t	seed;
	int			have_seed;
	double		mu;
	double		sigma;
	double		scale;
	uint64_t	probes;
	const char *from;
} Options;

/* One stretch of the bursty state path: constant relative rate. */
typedef struct Segment
{
	double		start_s;		/* seconds from the span's start */
	double		rate;			/* 1 quiet, BURST_RATE_FACTOR burst */
	double		intensity_before;	/* integral of rate up to start_s */
} Segment;

static void
sequential(const Options *o)
{
	if (o->rows > 0 && (o->rows - 1) > (uint64_t) (INT64_MAX - 1) / o->step)
		die("--rows x --step overflows int8");
	for (uint64_t i = 0; i < o->rows; i++)
		printf("%" PRIu64 "\n", 1 + i * o->step);
}

static void
uniform(const Options *o)
{
	Rng			rng = rng_for(o->seed, KEY_STREAM, 0);

	for (uint64_t i = 0; i < o->rows; i++)
		printf("%" PRIu64 "\n", rng_next(&rng) >> 2);
}

static void
lognormal(const Options *o)
{
	Rng			rng = rng_for(o->seed, KEY_STREAM, 0);

	for (uint64_t i = 0; i < o->rows; i++)
	{
		double		v = round(o->scale * exp(o->mu + o->sigma * rng_normal(&rng)));
		int64_t		key;

		/* 0x1p63 is the first double above INT64_MAX */
		if (!(v < 0x1p63))
			key = INT64_MAX;
		else if (v < 0)
			key = 0;
		else
			key = (int64_t) v;
		printf("%" PRId64 "\n", key);
	}
}

/* The quiet/burst state path over the whole span; returns the segment count
 * and the total integrated rate in *total. */
static size_t
state_path(uint64_t seed, Segment **out, double *total)
{
	Rng			rng = rng_for(seed, PATH_STREAM, 0);
	size_t		n = 0,
				cap = 1024;
	Segment    *segs = malloc(cap * sizeof(Segment));
	double		t = 0.0,
				intensity = 0.0;
	int			burst = 0;

	if (segs == NULL)
		die("out of memory");
	while (t < BURSTY_SPAN_S)
	{
		double		stay = rng_exponential(&rng) * (burst ? BURST_MEAN_STAY_S : QUIET_MEAN_STAY_S);
		double		end = fmin(t + stay, BURSTY_SPAN_S);
		double		rate = burst ? BURST_RATE_FACTOR : 1.0;

		if (n == cap && (segs = realloc(segs, (cap *= 2) * sizeof(Segment))) == NULL)
			die("out of memory");
		segs[n++] = (Segment) {t, rate, intensity};
		intensity += (end - t) * rate;
		t = end;
		burst = !burst;
	}
	*out = segs;
	*total = intensity;
	return n;
}

static void
bursty(const Options *o)
{
	Segment    *segs;
	double		total_intensity;
	size_t		nsegs = state_path(o->seed, &segs, &total_intensity);
	Rng			rng;
	double		spacing_sum = 0.0,
				cumulative = 0.0;
	size_t		seg = 0;

	/*
	 * N sorted uniforms on [0, 1) are the partial sums of N+1 exponential
	 * spacings divided by their total.  Pass 1 computes the total; pass 2
	 * replays the same stream, so nothing is held in memory.
	 */
	rng = rng_for(o->seed, KEY_STREAM, 0);
	for (uint64_t i = 0; i <= o->rows; i++)
		spacing_sum += rng_exponential(&rng);

	rng = rng_for(o->seed, KEY_STREAM, 0);
	for (uint64_t i = 0; i < o->rows; i++)
	{
		double		position;
		double		seconds;

		cumulative += rng_exponential(&rng);
		position = cumulative / spacing_sum * total_intensity;
		while (seg + 1 < nsegs && segs[seg + 1].intensity_before <= position)
			seg++;
		seconds = segs[seg].start_s + (position - segs[seg].intensity_before) / segs[seg].rate;
		printf("%" PRId64 "\n", BURSTY_START_US + (int64_t) floor(seconds * 1e6));
	}
	free(segs);
}

static int
compare_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

static void
probes(const Options *o)
{
	FILE	   *in = fopen(o->from, "r");
	int64_t    *keys;
	size_t		n = 0,
				cap = 1 << 20;
	char		line[64];
	Rng			rng = rng_for(o->seed, PROBE_STREAM, 0);

	if (in == NULL)
		die("cannot open %s", o->from);
	if ((keys = malloc(cap * sizeof(int64_t))) == NULL)
		die("out of memory");
	while (fgets(line, sizeof(line), in) != NULL)
	{
		char	   *end;

		line[strcspn(line, "\n")] = '\0';
		if (n == cap && (keys = realloc(keys, (cap *= 2) * sizeof(int64_t))) == NULL)
			die("out of memory");
		errno = 0;
		keys[n] = strtoll(line, &end, 10);
		if (errno != 0 || end == line || *end != '\0')
			die("%s line %zu: not an int8 key: %s", o->from, n + 1, line);
		n++;
	}
	if (ferror(in))
		die("read error on %s", o->from);
	fclose(in);
	if (n == 0)
		die("%s holds no keys", o->from);

	/* Sorted first, so the probes depend only on the set of keys in FILE and
	 * not on its line order. */
	qsort(keys, n, sizeof(int64_t), compare_i64);
	for (uint64_t i = 0; i < o->probes; i++)
		printf("%" PRId64 "\n", keys[rng_below(&rng, n)]);
	free(keys);
}

static Dist
parse_dist(const char *s)
{
	static const struct
	{
		const char *name;
		Dist		dist;
	}			names[] = {
		{"sequential", DIST_SEQUENTIAL}, {"uniform", DIST_UNIFORM},
		{"lognormal", DIST_LOGNORMAL}, {"bursty", DIST_BURSTY},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].dist;
	die("--dist: expected sequential, uniform, lognormal or bursty, got %s", s);
	return DIST_NONE;
}

static Options
parse_options(int argc, char **argv)
{
	Options		o = {.rows = DEFAULT_ROWS, .step = 1, .mu = 0.0, .sigma = 2.0, .scale = 1e9};
	int			lognormal_option = 0,
				step_option = 0,
				rows_option = 0;

	for (int i = 1; i < argc; i++)
	{
		const char *opt = argv[i];
		const char *v = option_value(argc, argv, &i);

		if (strcmp(opt, "--dist") == 0)
			o.dist = parse_dist(v), o.dist_name = v;
		else if (strcmp(opt, "--rows") == 0)
			o.rows = parse_u64(opt, v), rows_option = 1;
		else if (strcmp(opt, "--step") == 0)
			o.step = parse_u64(opt, v), step_option = 1;
		else if (strcmp(opt, "--seed") == 0)
			o.seed = parse_u64(opt, v), o.have_seed = 1;
		else if (strcmp(opt, "--mu") == 0)
			o.mu = parse_double(opt, v), lognormal_option = 1;
		else if (strcmp(opt, "--sigma") == 0)
			o.sigma = parse_double(opt, v), lognormal_option = 1;
		else if (strcmp(opt, "--scale") == 0)
			o.scale = parse_double(opt, v), lognormal_option = 1;
		else if (strcmp(opt, "--probes") == 0)
			o.probes = parse_u64(opt, v);
		else if (strcmp(opt, "--from") == 0)
			o.from = v;
		else
			die("unknown option %s (see the usage at the top of gen_keys.c)", opt);
	}

	if (o.from != NULL)
	{
		if (o.dist != DIST_NONE || rows_option)
			die("--from (probe mode) takes --probes and --seed, not --dist or --rows");
		if (o.probes == 0 || !o.have_seed)
			die("probe mode needs --probes M and --seed S");
		return o;
	}
	if (o.dist == DIST_NONE)
		die("--dist is required (or --probes M --from FILE for probe mode)");
	if (o.probes != 0)
		die("--probes needs --from FILE");
	if (o.dist != DIST_SEQUENTIAL && !o.have_seed)
		die("--dist %s needs --seed", o.dist_name);
	if (o.dist != DIST_LOGNORMAL && lognormal_option)
		die("--mu, --sigma and --scale apply to --dist lognormal only");
	if (o.dist != DIST_SEQUENTIAL && step_option)
		die("--step applies to --dist sequential only");
	if (o.step == 0)
		die("--step must be positive");
	return o;
}

int
main(int argc, char **argv)
{
	Options		o;
	static char outbuf[1 << 20];

	progname = "gen_keys";
	o = parse_options(argc, argv);
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (o.from != NULL)
		probes(&o);
	else if (o.dist == DIST_SEQUENTIAL)
		sequential(&o);
	else if (o.dist == DIST_UNIFORM)
		uniform(&o);
	else if (o.dist == DIST_LOGNORMAL)
		lognormal(&o);
	else
		bursty(&o);
	finish_output();
	return 0;
}
