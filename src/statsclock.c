/*-------------------------------------------------------------------------
 *
 * statsclock.c
 *	  The clock that times index scans for engram's statistics: the CPU's
 *	  time-stamp counter where that is safe, else CLOCK_MONOTONIC.
 *
 * The counter is used when all of these hold (the conditions under which
 * the Linux kernel itself keeps time with it):
 *	- x86-64, and CPUID says the counter is invariant (it ticks at one rate
 *	  whatever the CPU's frequency or sleep state);
 *	- the kernel's current clocksource is "tsc", i.e. the kernel found the
 *	  counters of all CPUs in step and trusts them (on a machine where it
 *	  does not, it falls back to hpet or a hypervisor clock, and so do we);
 *	- a calibration against CLOCK_MONOTONIC over 20 ms gives a plausible
 *	  frequency.
 * Reading the counter costs one unprivileged instruction where
 * clock_gettime() costs a vDSO call that reads the counter too and then
 * scales it: about half the time on the development machine (README,
 * "Statistics").
 *
 * The calibration runs once, in the postmaster while engram is preloaded
 * (statistics exist only then); backends inherit the result.
 *
 * src/statsclock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "statsclock.h"

#ifdef ENGRAM_HAVE_TSC
#include <cpuid.h>
#endif

bool		engram_clock_tsc = false;
double		engram_clock_seconds_per_tick = 1e-9;

#ifdef ENGRAM_HAVE_TSC

/* CPUID leaf 0x80000007, EDX bit 8: invariant TSC */
static bool
TscInvariant(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (__get_cpuid_max(0x80000000, NULL) < 0x80000007)
		return false;
	__cpuid(0x80000007, eax, ebx, ecx, edx);
	return (edx & (1 << 8)) != 0;
}

/* Whether the kernel keeps time with the TSC */
static bool
KernelUsesTsc(void)
{
	FILE	   *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	char		name[64] = "";
	bool		tsc;

	if (f == NULL)
		return false;
	tsc = fgets(name, sizeof(name), f) != NULL && strcmp(name, "tsc\n") == 0;
	fclose(f);
	return tsc;
}

static uint64
MonotonicNanoseconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * UINT64CONST(1000000000) + (uint64) ts.tv_nsec;
}

/*
 * A counter reading and a CLOCK_MONOTONIC reading taken at the same moment:
 * of five tries, the one whose two counter reads around the clock read lie
 * closest together (an interrupt in between spoils a try), with the middle
 * of the two
 */
static void
PairedReading(uint64 *tsc, uint64 *ns)
{
	uint64		best = PG_UINT64_MAX;

	for (int i = 0; i < 5; i++)
	{
		uint64		before = __rdtsc();
		uint64		now = MonotonicNanoseconds();
		uint64		after = __rdtsc();

		if (after > before && after - before < best)
		{
			best = after - before;
			*tsc = before + (after - before) / 2;
			*ns = now;
		}
	}
}

/* Counter ticks per second over 20 ms; 0 when the result is implausible */
static double
CalibrateTsc(void)
{
	uint64		tsc0 = 0,
				ns0 = 0,
				tsc1 = 0,
				ns1 = 0;
	double		hz;

	PairedReading(&tsc0, &ns0);
	pg_usleep(20000);
	PairedReading(&tsc1, &ns1);
	if (ns1 <= ns0 + 10000000 || tsc1 <= tsc0)
		return 0;
	hz = (double) (tsc1 - tsc0) * 1e9 / (double) (ns1 - ns0);
	/* 100 MHz .. 100 GHz */
	if (hz < 1e8 || hz > 1e11)
		return 0;
	return hz;
}
#endif							/* ENGRAM_HAVE_TSC */

/*
 * Choose the clock of the statistics; called from _PG_init while
 * preloading
 */
void
EngramClockInit(void)
{
#ifdef ENGRAM_HAVE_TSC
	double		hz;

	if (!TscInvariant() || !KernelUsesTsc())
		return;
	hz = CalibrateTsc();
	if (hz == 0)
		return;
	engram_clock_seconds_per_tick = 1.0 / hz;
	engram_clock_tsc = true;
	elog(DEBUG1, "engram statistics time scans with the TSC at %.1f MHz", hz / 1e6);
#endif
}
