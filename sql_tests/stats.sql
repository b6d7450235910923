-- Statistics (engram.index_stats, engram.reset_stats, engram.metrics),
-- engram.tune and engram.advise.  Needs engram in shared_preload_libraries
-- (scripts/common.sh start_cluster sets it; t/020_stats.pl tests the error
-- without it).  Graph levels are random, so counters that depend on the
-- graph's shape are checked for plausibility, the others exactly.  The
-- checks run in a database of their own: advice depends on every index of
-- the database.
SET extra_float_digits = 0;
SET jit = off;
SELECT current_database() AS regression_db \gset
CREATE DATABASE engram_stats_test;
\c engram_stats_test
SET jit = off;
CREATE EXTENSION engram;

SELECT setseed(0.42);
CREATE TABLE items (id int PRIMARY KEY, v vector(16));
INSERT INTO items
SELECT i, array(SELECT round(random()::numeric, 3)::real FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 2000) i;
CREATE INDEX items_v ON items USING engram_hnsw (v vector_l2_ops);
ANALYZE items;
SELECT engram.reset_stats();
SELECT count(*) FROM engram.index_stats;

-- three scans of five rows
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 1) LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 2) LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 3) LIMIT 5) s;
SELECT schemaname, tablename, indexname, scans,
	tuples_returned >= 15 AS tuples_ok,
	distance_computations >= nodes_expanded AND nodes_expanded > 0 AS search_ok,
	hot_hits + hot_reads + warm_hits + warm_reads >= nodes_expanded AS pages_ok,
	cold_hits + cold_reads BETWEEN 1 AND tuples_returned AS cold_ok,
	iterative_restarts, inserts,
	scan_latency_buckets[15] AS scans_in_histogram,
	array_length(scan_latency_buckets, 1) AS buckets,
	scan_seconds > 0 AND scan_seconds < 5 AS timed, insert_seconds
FROM engram.index_stats;
-- scans are timed with the CPU's counter where that is safe (src/statsclock.c);
-- the choice is made at server start and cannot be changed
SELECT current_setting('engram.stats_clock') IN ('tsc', 'clock_gettime') AS known_clock;
SET engram.stats_clock = 'tsc';

-- iterative scans widen the search when the filter rejects rows
SET engram.iterative_scan = relaxed_order;
SET engram.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 50 = 0
	ORDER BY v <-> (SELECT v FROM items WHERE id = 1) LIMIT 10) s;
RESET engram.iterative_scan;
RESET engram.ef_search;
SELECT scans, iterative_restarts > 0 AS widened FROM engram.index_stats;

-- inserts, counted per row
INSERT INTO items SELECT i, array_fill(i::real / 3000, ARRAY[16])::vector
FROM generate_series(2001, 2007) i;
SELECT inserts, insert_latency_buckets[15] AS inserts_in_histogram,
	insert_seconds > 0 AS timed FROM engram.index_stats;

-- engram.track_index_stats = off counts nothing
SET engram.track_index_stats = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 4) LIMIT 5) s;
INSERT INTO items VALUES (2008, array_fill(0.5::real, ARRAY[16])::vector);
RESET engram.track_index_stats;
SELECT scans, inserts FROM engram.index_stats;

-- Prometheus text format: families, types, the exact counters
SELECT line FROM regexp_split_to_table(engram.metrics(), E'\n') AS line
WHERE line ~ '^# TYPE' OR line ~ '^engram_(scans|inserts)_total'
	OR line ~ 'operation="insert".*le="(0.0001|\+Inf)"|_count|untracked';
SELECT count(*) AS bucket_lines FROM regexp_split_to_table(engram.metrics(), E'\n') AS line
WHERE line LIKE 'engram_operation_duration_seconds_bucket%';
SELECT engram.latency_bucket_bounds();

-- a second index; resetting one index leaves the other
CREATE INDEX items_v_ip ON items USING engram_hnsw (v vector_ip_ops);
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <#> (SELECT v FROM items WHERE id = 1) LIMIT 3) s;
SELECT indexname, scans FROM engram.index_stats ORDER BY indexname;
SELECT engram.reset_stats('items_v');
SELECT indexname, scans FROM engram.index_stats ORDER BY indexname;
-- a dropped index leaves the view
DROP INDEX items_v_ip;
SELECT count(*) FROM engram.index_stats;
SELECT engram.reset_stats();
SELECT count(*) FROM engram.index_stats;

-- engram.explain_search replays the executor's re-rank of LIMIT k: the same
-- rows handed out and the same heap (cold) buffers as a real scan with the
-- same ef, as counted here (the first query warms this backend's caches)
SET engram.ef_search = 40;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 7) LIMIT 10) s;
SELECT engram.reset_stats();
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 7) LIMIT 10) s;
SELECT e.reranked = s.tuples_returned AS same_rows,
	e.reranked > 10 AS read_ahead,
	e.cold_hits + e.cold_reads = s.cold_hits + s.cold_reads AS same_cold_pages,
	e.hot_pages_read + e.warm_pages_read = s.hot_hits + s.hot_reads + s.warm_hits + s.warm_reads AS same_index_pages
FROM engram.index_stats s,
	engram.explain_search('items_v', (SELECT v FROM items WHERE id = 7), 40, 10) e;
-- the same on an expression index (the re-rank evaluates the expression)
CREATE TABLE items_h AS SELECT id, v FROM items WHERE id <= 500;
CREATE INDEX items_h_v ON items_h USING engram_hnsw ((v::halfvec(16)) halfvec_l2_ops);
SELECT count(*) FROM (SELECT id FROM items_h ORDER BY v::halfvec(16) <-> (SELECT v::halfvec(16) FROM items WHERE id = 9) LIMIT 5) s;
SELECT engram.reset_stats();
SELECT count(*) FROM (SELECT id FROM items_h ORDER BY v::halfvec(16) <-> (SELECT v::halfvec(16) FROM items WHERE id = 9) LIMIT 5) s;
SELECT e.reranked = s.tuples_returned AS same_rows,
	e.cold_hits + e.cold_reads = s.cold_hits + s.cold_reads AS same_cold_pages
FROM engram.index_stats s,
	engram.explain_search('items_h_v', (SELECT v::halfvec(16) FROM items WHERE id = 9), 40, 5) e;
DROP TABLE items_h;
RESET engram.ef_search;
SELECT engram.reset_stats();

-- engram_alex indexes: scans, rows, inserts and latency; no graph, no tiers
CREATE TABLE keys (k int);
INSERT INTO keys SELECT generate_series(1, 1000);
CREATE INDEX keys_k ON keys USING engram_alex (k);
ANALYZE keys;
SELECT k FROM keys WHERE k = 5;
SELECT count(*) FROM keys WHERE k BETWEEN 10 AND 19;
SET enable_indexscan = off;
SELECT count(*) FROM keys WHERE k BETWEEN 10 AND 29;
RESET enable_indexscan;
SELECT count(*) FROM keys WHERE k = 0;
INSERT INTO keys VALUES (2000), (3000);
SELECT indexname, scans, tuples_returned, distance_computations, nodes_expanded,
	hot_hits + hot_reads + warm_hits + warm_reads + cold_hits + cold_reads AS tier_pages,
	iterative_restarts, inserts, scan_latency_buckets[15] AS scans_in_histogram,
	insert_latency_buckets[15] AS inserts_in_histogram,
	scan_seconds > 0 AS scans_timed, insert_seconds > 0 AS inserts_timed
FROM engram.index_stats;
SELECT line FROM regexp_split_to_table(engram.metrics(), E'\n') AS line
WHERE line ~ '^engram_(scans|tuples_returned|inserts)_total'
	OR line ~ '^engram_operation_duration_seconds_count';
DROP TABLE keys;
SELECT count(*) FROM engram.index_stats;
-- resetting needs the privilege
CREATE ROLE engram_stats_reader;
GRANT USAGE ON SCHEMA engram TO engram_stats_reader;
SET ROLE engram_stats_reader;
SELECT engram.reset_stats();
RESET ROLE;
REVOKE USAGE ON SCHEMA engram FROM engram_stats_reader;
DROP ROLE engram_stats_reader;
RESET enable_seqscan;

-- tune ---------------------------------------------------------------------
CREATE TABLE queries (qid int, q vector(16));
INSERT INTO queries
SELECT i, array(SELECT round(random()::numeric, 3)::real FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 40) i;
CREATE TABLE tuned AS SELECT * FROM engram.tune('items_v', 0.98, 10, 40, 'queries');
-- ef_search grows, only the last step meets the target, latencies are measured
SELECT count(*) > 0 AS steps,
	bool_and(meets_target = (ef_search = (SELECT max(ef_search) FROM tuned))) AS last_meets,
	bool_and(mean_latency_ms > 0) AS timed
FROM tuned;
-- the recall of the chosen ef_search, measured here independently
SET enable_indexscan = off;
CREATE TABLE exact AS
SELECT qid, array(SELECT id FROM items ORDER BY v <-> q LIMIT 10) AS ids FROM queries;
RESET enable_indexscan;
SELECT set_config('engram.ef_search', max(ef_search)::text, false) IS NOT NULL AS set FROM tuned;
SET enable_seqscan = off;
CREATE TABLE approx AS
SELECT qid, array(SELECT id FROM items ORDER BY v <-> q LIMIT 10) AS ids FROM queries;
RESET enable_seqscan;
RESET engram.ef_search;
SELECT e.recall >= 0.98 AS meets_target, abs(e.recall - t.recall) < 1e-9 AS same_as_tune
FROM (SELECT sum((SELECT count(*) FROM unnest(a.ids) i WHERE i = ANY (x.ids)))::float8 / 400 AS recall
	  FROM exact x JOIN approx a USING (qid)) e,
	 (SELECT recall FROM tuned ORDER BY ef_search DESC LIMIT 1) t;
-- sampled from the table, in a read-only transaction; settings are restored
BEGIN READ ONLY;
SET LOCAL engram.ef_search = 33;
SELECT count(*) > 0 AS steps FROM engram.tune('items_v', 0.5, 5, 20);
SHOW engram.ef_search;
SHOW enable_seqscan;
COMMIT;
-- errors (terse: no PL/pgSQL line numbers)
\set VERBOSITY terse
SELECT * FROM engram.tune('items', 0.9);
SELECT * FROM engram.tune('items_pkey', 0.9);
SELECT * FROM engram.tune('items_v', 0);
SELECT * FROM engram.tune('items_v', 1.5);
SELECT * FROM engram.tune('items_v', 0.9, 0);
SELECT * FROM engram.tune('items_v', 0.9, 10, 0);
SELECT * FROM engram.tune('items_v', 0.9, 10, 10, 'items_pkey');
SELECT * FROM engram.tune('items_v', 0.9, 10, 10, 'tuned');
CREATE TABLE empty (v vector(2));
CREATE INDEX empty_v ON empty USING engram_hnsw (v vector_l2_ops);
SELECT * FROM engram.tune('empty_v');
\set VERBOSITY default

-- advise on a known configuration ---------------------------------------------
-- 2,000 rows of 1000 dimensions: a rebuild needs about 2.6 MB
CREATE TABLE wide (v vector(1000));
INSERT INTO wide SELECT array_fill((i % 97)::real, ARRAY[1000])::vector FROM generate_series(1, 2000) i;
CREATE INDEX wide_v ON wide USING engram_hnsw (v vector_l2_ops);
ANALYZE wide;
SET maintenance_work_mem = '1MB';
SET max_parallel_maintenance_workers = 0;
SELECT setting, suggested, reason FROM engram.advise() WHERE setting <> 'shared_buffers';
SELECT setting, current = suggested AS unchanged,
	reason LIKE 'the engram_hnsw indexes (% kB, hot and warm tiers) fit with room %' AS fits
FROM engram.advise() WHERE setting = 'shared_buffers';
-- what a too small setting gets (shared_buffers cannot change here)
SELECT * FROM engram.memory_advice('shared_buffers', 1000000000000, 'enough', 'too small');
SELECT * FROM engram.memory_advice('shared_buffers', 1000, 'enough', 'too small');
SET maintenance_work_mem = '64MB';
SET max_parallel_maintenance_workers = 2;
SELECT setting, current, suggested FROM engram.advise()
WHERE setting IN ('maintenance_work_mem', 'max_parallel_maintenance_workers');
SELECT engram.hnsw_build_memory('items_v');
SELECT engram.hnsw_build_memory('items');
DROP TABLE items, empty, wide;
SELECT setting, suggested, reason FROM engram.advise() WHERE setting <> 'shared_preload_libraries';

\c :regression_db
DROP DATABASE engram_stats_test;
