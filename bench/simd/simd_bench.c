/*-------------------------------------------------------------------------
 *
 * simd_bench.c
 *	  Micro-benchmark of the SIMD distance kernels (not a test).
 *
 * Reports nanoseconds per distance for each kernel variant this CPU runs,
 * at 100, 768 and 1536 dimensions, in two settings:
 *
 *	 L1   the same pair of vectors over and over (operands stay in L1)
 *	 RAM  consecutive pairs from a buffer much larger than the caches
 *
 * Each figure is the median of REPS timed repetitions.  Byte codes use one
 * byte per dimension (i8, u8) or one bit per dimension (hamming), which is
 * what a d-dimensional vector quantizes to.
 *
 * For AVX-512 float kernels with L1-resident operands it also prints the
 * bound set by the loop's instruction stream, measured in core cycles
 * from a dependent-add loop (perf counters are often unavailable in VMs).
 *
 * Usage: simd_bench [--label NAME] [--ram-mib N] [variant ...]
 *
 * bench/simd/simd_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "f16.h"
#include "simd.h"

#define REPS		7
#define NDIMS		3
#define L1_TARGET_NS 20e6		/* time per L1 repetition */

static const int dims[NDIMS] = {100, 768, 1536};

typedef enum ElemType
{
	T_F32,
	T_F16,
	T_BYTE,
	T_BIT
} ElemType;

typedef enum BenchKernel
{
	B_F32_L2SQ,
	B_F32_DOT,
	B_F32_COSINE,
	B_F32_L1,
	B_F16_L2SQ,
	B_F16_DOT,
	B_U8_DOT,
	B_I8_DOT,
	B_HAMMING,
	NBENCH
} BenchKernel;

typedef struct BenchInfo
{
	const char *name;
	ElemType	type;
} BenchInfo;

static const BenchInfo bench_info[NBENCH] = {
	{"f32 l2sq", T_F32},
	{"f32 dot", T_F32},
	{"f32 cosine", T_F32},
	{"f32 l1", T_F32},
	{"f16 l2sq", T_F16},
	{"f16 dot", T_F16},
	{"u8 dot", T_BYTE},
	{"i8 dot", T_BYTE},
	{"hamming", T_BIT},
};

/* Results: ns per distance [variant][kernel][dim][0 = L1, 1 = RAM] */
static double results[ENGRAM_SIMD_NVARIANTS][NBENCH][NDIMS][2];

static unsigned char *buffer;
static size_t buffer_bytes;
static volatile double sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Bytes of one vector of a kernel at a dimension */
static size_t
vector_bytes(ElemType type, int dim)
{
	switch (type)
	{
		case T_F32:
			return dim * sizeof(float);
		case T_F16:
			return dim * sizeof(uint16_t);
		case T_BYTE:
			return dim;
		case T_BIT:
			return (dim + 7) / 8;
	}
	return 0;
}

/*
 * Fills the buffer with values of the type: floats and halves in [-1, 1]
 * (no subnormal products to slow anything down), random bytes otherwise.
 */
static void
fill_buffer(ElemType type)
{
	uint64_t	state = 88172645463325252u;

	for (size_t i = 0; i + 4 <= buffer_bytes; i += 4)
	{
		float		f;
		uint16_t	h;
		uint32_t	r;

		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		r = (uint32_t) state;
		f = (float) ((double) r / 2147483648.0 - 1.0);
		if (type == T_F32)
			memcpy(buffer + i, &f, 4);
		else if (type == T_F16)
		{
			h = engram_float_to_half(f);
			memcpy(buffer + i, &h, 2);
			memcpy(buffer + i + 2, &h, 2);
		}
		else
			memcpy(buffer + i, &r, 4);
	}
}

/* One distance of a kernel between the vectors at a and b */
static double
distance(const EngramKernels *k, BenchKernel kern, const void *a,
		 const void *b, int dim)
{
	switch (kern)
	{
		case B_F32_L2SQ:
			return k->f32_l2sq(a, b, dim);
		case B_F32_DOT:
			return k->f32_dot(a, b, dim);
		case B_F32_COSINE:
			return k->f32_cosine_sim(a, b, dim);
		case B_F32_L1:
			return k->f32_l1(a, b, dim);
		case B_F16_L2SQ:
			return k->f16_l2sq(a, b, dim);
		case B_F16_DOT:
			return k->f16_dot(a, b, dim);
		case B_U8_DOT:
			return k->u8_dot(a, b, dim);
		case B_I8_DOT:
			return k->i8_dot(a, b, dim);
		case B_HAMMING:
			return (double) k->hamming(a, b, (dim + 7) / 8);
		case NBENCH:
			break;
	}
	return 0.0;
}

/*
 * ns per distance, median of REPS (and the fastest in *fastest).  In L1 mode one pair is reused; in RAM
 * mode each repetition walks once through every pair the buffer holds
 * (vectors rounded up to 64 bytes, so each starts on a cache line).
 */
static double
measure(const EngramKernels *k, BenchKernel kern, int dim, bool ram,
		double *fastest)
{
	size_t		stride = (vector_bytes(bench_info[kern].type, dim) + 63) / 64 * 64;
	size_t		npairs = ram ? buffer_bytes / (2 * stride) : 1;
	size_t		iters = npairs;
	double		times[REPS];
	double		acc = 0.0;

	if (!ram)
	{
		double		start = now_ns();

		/* calibrate: how many calls take about L1_TARGET_NS */
		iters = 1000;
		for (size_t i = 0; i < iters; i++)
			acc += distance(k, kern, buffer, buffer + stride, dim);
		iters = (size_t) (iters * L1_TARGET_NS / (now_ns() - start + 1)) + 1;
	}
	for (int r = 0; r < REPS; r++)
	{
		double		start = now_ns();

		for (size_t i = 0; i < iters; i++)
		{
			const unsigned char *a = buffer + (i % npairs) * 2 * stride;

			acc += distance(k, kern, a, a + stride, dim);
		}
		times[r] = (now_ns() - start) / iters;
	}
	sink = acc;
	qsort(times, REPS, sizeof(double), compare_double);
	if (fastest != NULL)
		*fastest = times[0];
	return times[REPS / 2];
}

/*
 * Core clock in GHz, from a chain of dependent multiplies (3 cycles each
 * on x86-64 cores since Nehalem; dependent adds of an immediate can be
 * folded by recent cores' renamers, so they are not used) or, on AArch64,
 * of dependent register adds (1 cycle).
 */
static double
clock_ghz(void)
{
	double		best = 0.0;

	for (int r = 0; r < REPS; r++)
	{
		uint64_t	x = 1;
		uint64_t	one = 1;
		double		start = now_ns();
		double		cycles = 0.0;
		double		ghz;

		for (int i = 0; i < 20000; i++)
		{
#if defined(__x86_64__)
			__asm__ volatile (".rept 100\n\timulq %1, %0\n\t.endr" : "+r" (x) : "r" (one));
			cycles += 300;
#elif defined(__aarch64__)
			__asm__ volatile (".rept 100\n\tadd %0, %0, %1\n\t.endr" : "+r" (x) : "r" (one));
			cycles += 100;
#endif
		}
		ghz = cycles / (now_ns() - start);
		if (ghz > best)
			best = ghz;
	}
	return best;
}

/*
 * Cycles of the main AVX-512 loop per pair: per 16 floats the loop issues
 * two 512-bit loads and `vector_ops` 512-bit FP/logic operations; a core
 * like Ice Lake or Sapphire Rapids server sustains two of each per cycle
 * (two load ports, FMA/ALU ports 0 and 5).  Excludes the call and the
 * final horizontal sum.
 */
static double
avx512_bound_cycles(BenchKernel kern, int dim)
{
	static const double vector_ops[] = {
		[B_F32_L2SQ] = 2,		/* sub, fma */
		[B_F32_DOT] = 1,		/* fma */
		[B_F32_COSINE] = 3,		/* 3 fma */
		[B_F32_L1] = 3,			/* sub, and, add */
	};
	double		blocks = (dim + 15) / 16;
	double		loads = 2.0 / 2.0;
	double		ops = vector_ops[kern] / 2.0;

	return blocks * (loads > ops ? loads : ops);
}

static void
print_results(const char *label, const bool *run)
{
	printf("\n| kernel | dim |");
	for (int v = 0; v < ENGRAM_SIMD_NVARIANTS; v++)
	{
		if (run[v])
			printf(" %s L1 | %s RAM |", v == ENGRAM_SIMD_SCALAR && label ? label
				   : engram_simd_variant_name(v),
				   v == ENGRAM_SIMD_SCALAR && label ? label : engram_simd_variant_name(v));
	}
	printf("\n|---|---:|");
	for (int v = 0; v < ENGRAM_SIMD_NVARIANTS; v++)
	{
		if (run[v])
			printf("---:|---:|");
	}
	printf("\n");
	for (int kern = 0; kern < NBENCH; kern++)
	{
		for (int d = 0; d < NDIMS; d++)
		{
			printf("| %s | %d |", bench_info[kern].name, dims[d]);
			for (int v = 0; v < ENGRAM_SIMD_NVARIANTS; v++)
			{
				if (run[v])
					printf(" %.1f | %.1f |", results[v][kern][d][0],
						   results[v][kern][d][1]);
			}
			printf("\n");
		}
	}
}

static void
print_speedups(const bool *run)
{
	printf("\nL1-resident speed-up over scalar:\n\n| kernel | dim |");
	for (int v = 1; v < ENGRAM_SIMD_NVARIANTS; v++)
	{
		if (run[v])
			printf(" %s |", engram_simd_variant_name(v));
	}
	printf("\n|---|---:|");
	for (int v = 1; v < ENGRAM_SIMD_NVARIANTS; v++)
	{
		if (run[v])
			printf("---:|");
	}
	printf("\n");
	for (int kern = 0; kern < NBENCH; kern++)
	{
		for (int d = 0; d < NDIMS; d++)
		{
			printf("| %s | %d |", bench_info[kern].name, dims[d]);
			for (int v = 1; v < ENGRAM_SIMD_NVARIANTS; v++)
			{
				if (run[v])
					printf(" %.1fx |", results[0][kern][d][0] / results[v][kern][d][0]);
			}
			printf("\n");
		}
	}
}

/*
 * The clock varies (turbo, a shared host), so each figure here is measured
 * again between two clock measurements and converted at their mean.
 */
static void
print_bound(void)
{
	const EngramKernels *k = engram_simd_table(ENGRAM_SIMD_AVX512);

	printf("\nAVX-512, L1-resident, against the issue bound of the main loop "
		   "(clock from a dependent-multiply chain around each measurement):\n\n"
		   "| kernel | dim | median ns | fastest ns | GHz | median cycles | "
		   "bound cycles | ratio (median) | ratio (fastest) |\n"
		   "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fill_buffer(T_F32);
	for (int kern = B_F32_L2SQ; kern <= B_F32_L1; kern++)
	{
		for (int d = 0; d < NDIMS; d++)
		{
			double		ghz = clock_ghz();
			double		fastest;
			double		ns = measure(k, kern, dims[d], false, &fastest);
			double		bound = avx512_bound_cycles(kern, dims[d]);

			ghz = (ghz + clock_ghz()) / 2;
			printf("| %s | %d | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f | %.2f |\n",
				   bench_info[kern].name, dims[d], ns, fastest, ghz, ns * ghz,
				   bound, ns * ghz / bound, fastest * ghz / bound);
		}
	}
}

int
main(int argc, char **argv)
{
	bool		run[ENGRAM_SIMD_NVARIANTS] = {false};
	bool		any = false;
	const char *label = NULL;
	size_t		ram_mib = 512;

	engram_simd_init();
	for (int i = 1; i < argc; i++)
	{
		int			v;

		if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
			label = argv[++i];
		else if (strcmp(argv[i], "--ram-mib") == 0 && i + 1 < argc)
			ram_mib = (size_t) atol(argv[++i]);
		else if ((v = engram_simd_variant_from_name(argv[i])) >= 0 &&
				 engram_simd_supported(v))
			run[v] = any = true;
		else
		{
			fprintf(stderr, "usage: %s [--label NAME] [--ram-mib N] [variant ...]\n"
					"(variants this CPU supports)\n", argv[0]);
			return 2;
		}
	}
	for (int v = 0; v < ENGRAM_SIMD_NVARIANTS && !any; v++)
		run[v] = engram_simd_supported(v);

	buffer_bytes = ram_mib << 20;
	buffer = aligned_alloc(64, buffer_bytes);
	if (buffer == NULL)
	{
		fprintf(stderr, "could not allocate %zu MiB\n", ram_mib);
		return 1;
	}

	for (int kern = 0; kern < NBENCH; kern++)
	{
		if (kern == 0 || bench_info[kern].type != bench_info[kern - 1].type)
			fill_buffer(bench_info[kern].type);
		for (int v = 0; v < ENGRAM_SIMD_NVARIANTS; v++)
		{
			for (int d = 0; d < NDIMS && run[v]; d++)
			{
				const EngramKernels *k = engram_simd_table(v);

				results[v][kern][d][0] = measure(k, kern, dims[d], false, NULL);
				results[v][kern][d][1] = measure(k, kern, dims[d], true, NULL);
			}
		}
	}

	printf("ns per distance, median of %d; RAM: pairs streamed from a %zu MiB buffer\n",
		   REPS, ram_mib);
	print_results(label, run);
	if (run[ENGRAM_SIMD_SCALAR] && (run[ENGRAM_SIMD_AVX2] || run[ENGRAM_SIMD_AVX512] ||
									run[ENGRAM_SIMD_NEON]))
		print_speedups(run);
	if (run[ENGRAM_SIMD_AVX512])
		print_bound();
	free(buffer);
	return 0;
}
