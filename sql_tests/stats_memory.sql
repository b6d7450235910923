-- Statistics of the memory API (engram.memory_stats_all, engram.reset_stats,
-- the engram_memory_* families of engram.metrics), counted once per call of
-- recall and spread.  Needs engram in shared_preload_libraries, like
-- stats.sql; runs in a database of its own.  Durations are checked only for
-- being counted, never for their value.
SET jit = off;
SELECT current_database() AS regression_db \gset
CREATE DATABASE engram_stats_memory_test;
\c engram_stats_memory_test
SET jit = off;
CREATE EXTENSION engram;

-- 1 -> 3 (0.5, both ways), 3 -> 4 (0.5): from seed 1 a spread reaches 3
-- (0.25) and then 4 (0.0625, below the threshold): 3 memories
CREATE TABLE m (id bigint PRIMARY KEY, embedding vector(3));
INSERT INTO m VALUES (1, '[1,0,0]'), (2, '[1,1,0]'), (3, '[0,1,0]'),
	(4, '[-1,0,0]'), (5, '[3,4,0]');
CREATE INDEX ON m USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('m');
SELECT engram.associate('m', 1, 3, 0.5);
SELECT engram.associate('m', 3, 4, 0.5, bidirectional => false);
SELECT engram.reset_stats();
SELECT count(*) FROM engram.memory_stats_all;

-- two recalls: 3 seeds without hops, then 1 seed reaching 3 memories
SELECT count(*) FROM engram.recall('m', '[1,0,0]', 3, 'similarity');
SELECT count(*) FROM engram.recall('m', '[1,0,0]', 3, 'hybrid', seeds => 1);
-- two spreads: 3 memories, and none (99 is not a row)
SELECT count(*) FROM engram.spread('m', '{1}');
SELECT count(*) FROM engram.spread('m', '{99}');
-- calls that fail count nothing
SELECT count(*) FROM engram.recall('m', '[1,0,0]', 3, 'nope');
SELECT count(*) FROM engram.spread('m', '{1}', max_hops => -1);
SELECT schemaname, tablename, recalls, spreads,
	recall_activated_nodes, spread_activated_nodes,
	recall_activated_buckets, spread_activated_buckets,
	recall_latency_buckets[15] AS recalls_in_histogram,
	spread_latency_buckets[15] AS spreads_in_histogram,
	array_length(recall_latency_buckets, 1) AS latency_buckets,
	recall_seconds > 0 AS recall_timed, spread_seconds > 0 AS spread_timed
FROM engram.memory_stats_all;
SELECT engram.activated_nodes_bucket_bounds();

-- engram.track_memory_stats = off counts nothing
SET engram.track_memory_stats = off;
SELECT count(*) FROM engram.recall('m', '[1,0,0]', 3);
SELECT count(*) FROM engram.spread('m', '{1}');
RESET engram.track_memory_stats;
SELECT recalls, spreads FROM engram.memory_stats_all;

-- Prometheus text format: the engram_memory_* families and exact counts
SELECT line FROM regexp_split_to_table(engram.metrics(), E'\n') AS line
WHERE line ~ '^# TYPE engram_memory' OR line ~ '^engram_memory_(recalls|spreads)_total'
	OR line ~ '^engram_memory_activated_nodes_(sum|count)'
	OR line ~ '^engram_memory_activated_nodes_bucket.*le="(1|5|\+Inf)"'
	OR line ~ '^engram_memory_operation_duration_seconds_count';
SELECT count(*) AS bucket_lines FROM regexp_split_to_table(engram.metrics(), E'\n') AS line
WHERE line LIKE 'engram_memory_%_bucket%';

-- a second table; resetting one table leaves the other
CREATE TABLE m2 (id bigint PRIMARY KEY, embedding vector(3));
INSERT INTO m2 VALUES (1, '[1,0,0]');
CREATE INDEX ON m2 USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('m2');
SELECT count(*) FROM engram.spread('m2', '{1}');
SELECT tablename, recalls, spreads, spread_activated_nodes
FROM engram.memory_stats_all ORDER BY tablename;
SELECT engram.reset_stats('m');
SELECT tablename, recalls, spreads FROM engram.memory_stats_all ORDER BY tablename;
-- a dropped table leaves the view and the metrics
SELECT engram.detach('m2');
DROP TABLE m2;
SELECT count(*) FROM engram.memory_stats_all;
SELECT count(*) FROM regexp_split_to_table(engram.metrics(), E'\n') AS line
WHERE line LIKE '%table="public.m2"%';
SELECT engram.reset_stats();
SELECT count(*) FROM engram.memory_statistics();

\c :regression_db
DROP DATABASE engram_stats_memory_test;
