/*
 * What one read of each clock engram's statistics can use costs on this
 * machine (README, "Statistics"): clock_gettime(CLOCK_MONOTONIC), rdtsc and
 * rdtscp, 10 million reads each in a loop; and whether CPUID reports an
 * invariant TSC.  x86-64 only.
 *
 *   cc -O2 -o /tmp/clock-cost bench/stats/clock-cost.c && /tmp/clock-cost
 */
#include <cpuid.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

#define READS 10000000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(void)
{
	unsigned int a, b, c, d, aux;
	volatile unsigned long long sink = 0;
	struct timespec ts;
	double		t0;

	if (__get_cpuid(0x80000007, &a, &b, &c, &d))
		printf("invariant TSC: %s\n", (d >> 8) & 1 ? "yes" : "no");
	else
		printf("invariant TSC: unknown (no CPUID leaf 0x80000007)\n");

	t0 = now();
	for (int i = 0; i < READS; i++)
	{
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sink += ts.tv_nsec;
	}
	printf("clock_gettime: %.1f ns\n", (now() - t0) / READS * 1e9);

	t0 = now();
	for (int i = 0; i < READS; i++)
		sink += __rdtsc();
	printf("rdtsc:         %.1f ns\n", (now() - t0) / READS * 1e9);

	t0 = now();
	for (int i = 0; i < READS; i++)
		sink += __rdtscp(&aux);
	printf("rdtscp:        %.1f ns\n", (now() - t0) / READS * 1e9);
	return 0;
}
