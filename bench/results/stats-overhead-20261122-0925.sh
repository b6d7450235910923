#!/bin/bash
# Counting overhead after the TSC clock (README, "Statistics"): engram_alex
# point lookups with this branch's build and with the build before it
# (e14d1bd, clock_gettime), alternating, then engram_hnsw at ef_search 40.
# The alexstats database was loaded with: bench/alex-stats-overhead load 1000000
cd /work/wt-obs3
export PG_BINDIR=/opt/pg-obs/usr/lib/postgresql/15/bin PGHOST=/tmp/dev-obs/cluster PGPORT=54420 PGUSER=postgres
restart() { runuser -u engram -- $PG_BINDIR/pg_ctl -D /tmp/dev-obs/cluster -l /tmp/dev-obs/cluster/log -w restart >/dev/null; }
install_new() { echo "== this branch (TSC)"; make -s PG_CONFIG=$PG_BINDIR/pg_config install && restart; }
install_old() { echo "== e14d1bd (clock_gettime)"; make -s -C /tmp/obs3/old PG_CONFIG=$PG_BINDIR/pg_config install && restart; }
alex() { echo "\$ ALEX_STATS_PROBES=50 bench/alex-stats-overhead run 4000 $*"; ALEX_STATS_PROBES=50 bench/alex-stats-overhead run 4000 "$@" | sed -n '1,3p;7,9p'; }
date -u; uptime
for build in new old new old new; do
	install_$build
	"$PG_BINDIR/psql" -X -d alexstats -Atc "SELECT 'stats_clock = ' || coalesce(current_setting('engram.stats_clock', true), '(none)')"
	alex
	alex control
done
echo "\$ bench/alex-stats-overhead run 400   (500 keys per batch, as before)"
bench/alex-stats-overhead run 400 | sed -n '1,3p'
date -u; uptime
echo "\$ bench/tuning overhead 100"
bench/tuning overhead 100
echo "\$ bench/tuning overhead 100 control"
bench/tuning overhead 100 control
date -u; uptime
