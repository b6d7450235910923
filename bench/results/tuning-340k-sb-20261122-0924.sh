#!/bin/bash
# docs/tuning.md, full GloVe (340,479 rows; index of tuning-340k-20261122-0911.sh):
# the re-rank of one query by engram.explain_search (after its fix to count
# only the heap fetches), and shared_buffers = 16MB, below the index's 109 MB
cd /work/wt-obs3
export PG_BINDIR=/opt/pg-obs/usr/lib/postgresql/15/bin PGHOST=/tmp/dev-obs/cluster PGPORT=54420 PGUSER=postgres TUNING_DB=tuning340k
run() { echo "\$ $*"; "$@"; }
restart() { echo "\$ restart with shared_buffers = $1"; runuser -u engram -- $PG_BINDIR/pg_ctl -D /tmp/dev-obs/cluster -l /tmp/dev-obs/cluster/log -o "-c shared_buffers=$1" -w restart >/dev/null; }
q() { "$PG_BINDIR/psql" -X -d tuning340k -Atc "$1"; }
date -u; uptime
restart 256MB
echo "re-rank of one query (qn 7, LIMIT 10), engram.explain_search, a new backend, then the same backend:"
q "SELECT format('ef %s: candidates %s, reranked %s, cold hits %s, cold reads %s, hot pages %s, warm pages %s', ef, candidates, reranked, cold_hits, cold_reads, hot_pages_read, warm_pages_read) FROM unnest(ARRAY[40, 40, 160]) ef, engram.explain_search('items_embedding', (SELECT embedding FROM queries WHERE qn = 7), ef, 10)"
echo "the same query through the executor, ef_search 40, engram.index_stats (second run of the backend):"
"$PG_BINDIR/psql" -X -q -d tuning340k -At <<'SQL'
SET enable_seqscan = off;
SET engram.ef_search = 40;
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <=> (SELECT embedding FROM queries WHERE qn = 7) LIMIT 10) s;
SELECT engram.reset_stats('items_embedding');
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <=> (SELECT embedding FROM queries WHERE qn = 7) LIMIT 10) s;
SELECT format('tuples_returned %s, cold hits %s, cold reads %s, hot+warm pages %s', tuples_returned, cold_hits, cold_reads, hot_hits + hot_reads + warm_hits + warm_reads) FROM engram.index_stats WHERE indexname = 'items_embedding';
SQL
restart 16MB
run bench/tuning search 40,160 4
run bench/tuning search 40,160 4
restart 256MB
date -u; uptime
