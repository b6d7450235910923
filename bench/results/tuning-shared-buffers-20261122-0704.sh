#!/bin/bash
# shared_buffers: 16MB vs 256MB, and a cold start
cd /work/wt-obs
export PG_BINDIR=/opt/pg-obs/usr/lib/postgresql/15/bin PGHOST=/tmp/dev-obs/cluster PGPORT=54420 PGUSER=postgres
run() { echo "\$ $*"; "$@"; }
restart() { echo "\$ restart with shared_buffers = $1"; runuser -u engram -- $PG_BINDIR/pg_ctl -D /tmp/dev-obs/cluster -l /tmp/dev-obs/cluster/server.log -o "-c shared_buffers=$1" -w restart >/dev/null; }
date -u; uptime
run bench/tuning build "m = 16, ef_construction = 64"
"$PG_BINDIR/psql" -X -d tuning -Atc "SELECT 'index ' || pg_size_pretty(pg_relation_size('items_embedding')) || ', table ' || pg_size_pretty(pg_table_size('items'))"
restart 16MB
run bench/tuning search 40,160 4
run bench/tuning search 40,160 4
restart 256MB
echo "first pass after the restart (cold shared buffers, warm kernel cache):"
run bench/tuning search 40,160 4
echo "second pass:"
run bench/tuning search 40,160 4
date -u; uptime
