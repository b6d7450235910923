/*-------------------------------------------------------------------------
 *
 * statsclock.h
 *	  The clock that times index scans for engram's statistics
 *	  (src/statsclock.c).
 *
 * An engram_alex point lookup takes a few microseconds, and two reads of
 * clock_gettime() cost a few percent of that.  Where the CPU's time-stamp
 * counter is invariant and the kernel itself keeps time with it, scans read
 * the counter instead (one instruction, no system call) and convert ticks to
 * seconds with a frequency measured against CLOCK_MONOTONIC when the server
 * starts.  Elsewhere a tick is a nanosecond of CLOCK_MONOTONIC.  Every scan
 * is timed either way: nothing is sampled.
 *
 * src/statsclock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_STATSCLOCK_H
#define ENGRAM_STATSCLOCK_H

#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
#define ENGRAM_HAVE_TSC 1
#endif

typedef uint64 EngramTicks;

/* Set once, by EngramClockInit in the postmaster; inherited by backends */
extern bool engram_clock_tsc;
extern double engram_clock_seconds_per_tick;

extern void EngramClockInit(void);

/* The time now, in ticks */
static inline EngramTicks
EngramClockNow(void)
{
	struct timespec ts;

#ifdef ENGRAM_HAVE_TSC
	if (likely(engram_clock_tsc))
		return __rdtsc();
#endif
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * UINT64CONST(1000000000) + (uint64) ts.tv_nsec;
}

/*
 * Ticks since start.  The kernel uses the counter only when it is in step
 * on every CPU, but a backend moved to another CPU must never see time run
 * backwards into a huge unsigned difference.
 */
static inline EngramTicks
EngramClockSince(EngramTicks start)
{
	EngramTicks now = EngramClockNow();

	return now > start ? now - start : 0;
}

static inline double
EngramTicksToSeconds(EngramTicks ticks)
{
	return (double) ticks * engram_clock_seconds_per_tick;
}

#endif							/* ENGRAM_STATSCLOCK_H */
