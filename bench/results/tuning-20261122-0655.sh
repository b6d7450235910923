#!/bin/bash
cd /work/wt-obs
export PG_BINDIR=/opt/pg-obs/usr/lib/postgresql/15/bin PGHOST=/tmp/dev-obs/cluster PGPORT=54420 PGUSER=postgres
run() { echo "\$ $*"; "$@"; }
date -u; uptime
for m in 8 16 32; do
	run bench/tuning build "m = $m, ef_construction = 64"
	run bench/tuning search 10,20,40,80,160,320 4
done
for efc in 32 128; do
	run bench/tuning build "m = 16, ef_construction = $efc"
	run bench/tuning search 10,20,40,80,160,320 4
done
for w in 0 1 2; do
	run bench/tuning build "m = 16, ef_construction = 64" "max_parallel_maintenance_workers=$w"
done
run bench/tuning build "m = 16, ef_construction = 64" "max_parallel_maintenance_workers=0 maintenance_work_mem=8MB"
run bench/tuning build "m = 16, ef_construction = 64" "max_parallel_maintenance_workers=0 maintenance_work_mem=512MB"
date -u; uptime
