#!/bin/bash
# Counting overhead, this branch (TSC clock): engram_alex lookups fetched to
# the end (two amgettuple calls), and engram_hnsw at ef_search 40 with the
# order-balanced per-query figure (bench/tuning, "overhead").
cd /work/wt-obs3
export PG_BINDIR=/opt/pg-obs/usr/lib/postgresql/15/bin PGHOST=/tmp/dev-obs/cluster PGPORT=54420 PGUSER=postgres
date -u; uptime
"$PG_BINDIR/psql" -X -d alexstats -Atc "SELECT 'stats_clock = ' || current_setting('engram.stats_clock')"
for m in "" control "" control; do
	echo "\$ ALEX_STATS_PROBES=50 ALEX_STATS_FETCH=all bench/alex-stats-overhead run 4000 $m"
	ALEX_STATS_PROBES=50 ALEX_STATS_FETCH=all bench/alex-stats-overhead run 4000 $m | sed -n '1,3p'
done
date -u; uptime
for m in "" control; do
	echo "\$ bench/tuning overhead 60 $m"
	bench/tuning overhead 60 $m
done
date -u; uptime
