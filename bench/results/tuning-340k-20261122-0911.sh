#!/bin/bash
# docs/tuning.md on the full GloVe 100-d (340,479 rows, 200 held-out
# queries): ef_search curve and shared_buffers, m = 16, ef_construction = 64.
# Loaded before with: TUNING_DB=tuning340k bench/tuning load 340479 200
cd /work/wt-obs3
export PG_BINDIR=/opt/pg-obs/usr/lib/postgresql/15/bin PGHOST=/tmp/dev-obs/cluster PGPORT=54420 PGUSER=postgres TUNING_DB=tuning340k
run() { echo "\$ $*"; "$@"; }
restart() { echo "\$ restart with shared_buffers = $1"; runuser -u engram -- $PG_BINDIR/pg_ctl -D /tmp/dev-obs/cluster -l /tmp/dev-obs/cluster/log -o "-c shared_buffers=$1" -w restart >/dev/null; }
q() { "$PG_BINDIR/psql" -X -d tuning340k -Atc "$1"; }
date -u; uptime
run bench/tuning build "m = 16, ef_construction = 64"
q "SELECT 'index ' || pg_size_pretty(pg_relation_size('items_embedding')) || ', table ' || pg_size_pretty(pg_table_size('items'))"
q "SELECT format('hot %s pages, warm %s pages', hot_pages, warm_pages) FROM engram.hnsw_stats('items_embedding')"
date -u; uptime
run bench/tuning search 10,20,40,80,160,320 4
echo "re-rank of one query (qn 7, LIMIT 10), engram.explain_search:"
q "SELECT format('ef %s: candidates %s, reranked %s, cold hits %s, cold reads %s, hot pages %s, warm pages %s', ef, candidates, reranked, cold_hits, cold_reads, hot_pages_read, warm_pages_read) FROM unnest(ARRAY[40, 160]) ef, engram.explain_search('items_embedding', (SELECT embedding FROM queries WHERE qn = 7), ef, 10)"
date -u; uptime
restart 128MB
run bench/tuning search 40,160 4
run bench/tuning search 40,160 4
restart 1GB
echo "first pass after the restart (cold shared buffers, warm kernel cache):"
run bench/tuning search 40,160 4
echo "second pass:"
run bench/tuning search 40,160 4
restart 256MB
date -u; uptime
