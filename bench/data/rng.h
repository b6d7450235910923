/*
 * rng.h: the seeded random numbers shared by the data generators.
 *
 * splitmix64 (Steele, Lea, Flood 2014) for uniform 64-bit words and
 * Box-Muller for normal deviates.  Not rand(): the output must be the same on
 * every libc, and one generator state per row (seeded from the row id) lets a
 * range of ids be generated alone and still equal that slice of a full run.
 */
#ifndef BENCH_DATA_RNG_H
#define BENCH_DATA_RNG_H

#include <math.h>
#include <stdint.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

/* splitmix64's output function: a bijective 64-bit mix. */
static inline uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

typedef struct Rng
{
	uint64_t	state;
	double		spare_normal;	/* Box-Muller makes two deviates at a time */
	int			has_spare;
} Rng;

/* A generator for (seed, stream, index): distinct streams never overlap in
 * practice, and index selects e.g. one row within a stream. */
static inline Rng
rng_for(uint64_t seed, uint64_t stream, uint64_t index)
{
	Rng			rng = {mix64(mix64(seed ^ stream) + index * GOLDEN_GAMMA), 0.0, 0};

	return rng;
}

static inline uint64_t
rng_next(Rng *rng)
{
	rng->state += GOLDEN_GAMMA;
	return mix64(rng->state);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double
rng_uniform(Rng *rng)
{
	return (double) (rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0, without modulo bias. */
static inline uint64_t
rng_below(Rng *rng, uint64_t n)
{
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t	r;

	do
		r = rng_next(rng);
	while (r >= limit);
	return r % n;
}

/* Standard normal deviate (Box-Muller). */
static inline double
rng_normal(Rng *rng)
{
	double		u1,
				u2,
				radius;

	if (rng->has_spare)
	{
		rng->has_spare = 0;
		return rng->spare_normal;
	}
	/* u1 in (0, 1] so that log(u1) is finite */
	u1 = (double) ((rng_next(rng) >> 11) + 1) * 0x1.0p-53;
	u2 = rng_uniform(rng);
	radius = sqrt(-2.0 * log(u1));
	rng->spare_normal = radius * sin(2.0 * M_PI * u2);
	rng->has_spare = 1;
	return radius * cos(2.0 * M_PI * u2);
}

/* Exponential deviate with mean 1. */
static inline double
rng_exponential(Rng *rng)
{
	return -log1p(-rng_uniform(rng));
}

#endif
