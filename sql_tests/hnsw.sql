-- engram_hnsw: options, settings, dimension limits, planner use, exact
-- results on small tables for every operator class, NULLs and zero vectors,
-- empty/unlogged/truncated/reindexed indexes, duplicates, iterative scans,
-- deletes with VACUUM.  Graph levels are random, so every check here is
-- written to hold whatever graph the build makes: with ef_search at least
-- the number of rows a search reaches every node and the results are exact.
SET extra_float_digits = 0;
-- enable_seqscan = off makes plans costly enough to be JIT-compiled: slow
SET jit = off;
\set VERBOSITY default

-- options ----------------------------------------------------------------
CREATE TABLE hnsw_opt (id int, v vector(3));
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 1);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 101);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (ef_construction = 3);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (ef_construction = 1001);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 3);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (foo = 1);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 'x');
-- the limits themselves are accepted
CREATE INDEX hnsw_opt_lo ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 2, ef_construction = 4);
CREATE INDEX hnsw_opt_hi ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 100, ef_construction = 1000);
CREATE INDEX hnsw_opt_eq ON hnsw_opt USING engram_hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 32);
SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'hnsw_opt_%' ORDER BY relname;
-- a column type without an operator class, and more than one column
CREATE INDEX ON hnsw_opt USING engram_hnsw (id);
CREATE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops, v vector_l2_ops);
CREATE UNIQUE INDEX ON hnsw_opt USING engram_hnsw (v vector_l2_ops);
DROP TABLE hnsw_opt;

-- settings ---------------------------------------------------------------
SHOW engram.ef_search;
SHOW engram.iterative_scan;
SHOW engram.max_scan_tuples;
SHOW engram.scan_mem_multiplier;
SHOW engram.hnsw_prefetch;
SET engram.iterative_scan = bogus;
SET engram.ef_search = 0;
SET engram.ef_search = 1001;
SHOW engram.layer1_ef;
SET engram.layer1_ef = 0;
SET engram.layer1_ef = 1001;
SET engram.max_scan_tuples = 0;
SET engram.scan_mem_multiplier = 0.5;
SET engram.scan_mem_multiplier = 1001;
SET engram.hnsw_prefetch = maybe;
SET engram.ef_search = 1000;
SET engram.iterative_scan = strict_order;
SET engram.iterative_scan = relaxed_order;
SET engram.iterative_scan = off;
RESET engram.ef_search;
RESET engram.iterative_scan;

-- dimensions -------------------------------------------------------------
CREATE TABLE hnsw_nodim (v vector, h halfvec);
CREATE INDEX ON hnsw_nodim USING engram_hnsw (v vector_l2_ops);
CREATE INDEX ON hnsw_nodim USING engram_hnsw (h halfvec_l2_ops);
DROP TABLE hnsw_nodim;
-- with m = 16 a layer-0 node of 7938 dimensions just fits a page
CREATE TABLE hnsw_maxdim (id int, v vector(7938), h halfvec(7938));
CREATE INDEX hnsw_maxdim_v ON hnsw_maxdim USING engram_hnsw (v vector_l2_ops);
CREATE INDEX hnsw_maxdim_h ON hnsw_maxdim USING engram_hnsw (h halfvec_cosine_ops);
INSERT INTO hnsw_maxdim SELECT i, array_fill(i::real, ARRAY[7938]), array_fill(i::real, ARRAY[7938])
FROM generate_series(1, 3) i;
SET enable_seqscan = off;
SELECT id FROM hnsw_maxdim ORDER BY v <-> array_fill(2.1::real, ARRAY[7938])::vector LIMIT 1;
SELECT count(*) FROM (SELECT id FROM hnsw_maxdim ORDER BY h <=> array_fill(1::real, ARRAY[7938])::halfvec LIMIT 5) s;
RESET enable_seqscan;
DROP TABLE hnsw_maxdim;
CREATE TABLE hnsw_toomany (v vector(7939), h halfvec(7939), w vector(6931));
CREATE INDEX ON hnsw_toomany USING engram_hnsw (v vector_l2_ops);
CREATE INDEX ON hnsw_toomany USING engram_hnsw (h halfvec_ip_ops);
-- fewer with a larger m
CREATE INDEX ON hnsw_toomany USING engram_hnsw (w vector_l2_ops) WITH (m = 100, ef_construction = 200);
CREATE INDEX ON hnsw_toomany USING engram_hnsw ((w::vector(6930)) vector_l2_ops) WITH (m = 100, ef_construction = 200);
DROP TABLE hnsw_toomany;

-- small tables: the index gives exactly the results of a sequential scan ---
SELECT setseed(0.42);
CREATE TABLE hnsw_small (id int, v vector(16), h halfvec(16));
INSERT INTO hnsw_small
SELECT i, x::vector(16), x::halfvec(16)
FROM (SELECT i, array(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE i > 0)::real[] AS x
	  FROM generate_series(1, 300) i) s;
-- more rows, for inserts after deletes
CREATE TABLE hnsw_more (id int, v vector(16), h halfvec(16));
INSERT INTO hnsw_more
SELECT 1000 + i, x::vector(16), x::halfvec(16)
FROM (SELECT i, array(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE i > 0)::real[] AS x
	  FROM generate_series(1, 300) i) s;
CREATE TABLE hnsw_queries (qid int, v vector(16), h halfvec(16));
INSERT INTO hnsw_queries
SELECT i, x::vector(16), x::halfvec(16)
FROM (SELECT i, array(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE i > 0)::real[] AS x
	  FROM generate_series(1, 20) i) s;

-- For each query: the first 5 ids through the index and by a sequential
-- scan; returns whether the plan used the index and how many queries
-- disagree.
CREATE FUNCTION pg_temp.hnsw_vs_exact(tbl text, col text, op text, lim int DEFAULT 5)
RETURNS TABLE (index_used boolean, queries bigint, mismatches bigint)
LANGUAGE plpgsql AS $$
DECLARE
	qcol text := CASE WHEN col = 'h' THEN 'h' ELSE 'v' END;
	qtype text := CASE WHEN col = 'h' THEN 'halfvec' ELSE 'vector' END;
	plan text := '';
	line text;
	q record;
	via_index int[];
	exact int[];
BEGIN
	queries := 0;
	mismatches := 0;
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	FOR line IN EXECUTE format(
		'EXPLAIN (COSTS OFF) SELECT id FROM %I ORDER BY %I %s $1::%s LIMIT %s', tbl, col, op, qtype, lim)
		USING (SELECT v::text FROM hnsw_queries LIMIT 1)
	LOOP
		plan := plan || line || E'\n';
	END LOOP;
	index_used := plan ~ 'Index Scan using';
	FOR q IN EXECUTE format('SELECT qid, %I::text AS x FROM hnsw_queries ORDER BY qid', qcol) LOOP
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		EXECUTE format('SELECT array(SELECT id FROM %I ORDER BY %I %s $1::%s LIMIT %s)', tbl, col, op, qtype, lim)
			INTO via_index USING q.x;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE format('SELECT array(SELECT id FROM %I ORDER BY %I %s $1::%s, id LIMIT %s)', tbl, col, op, qtype, lim)
			INTO exact USING q.x;
		queries := queries + 1;
		IF via_index IS DISTINCT FROM exact THEN
			mismatches := mismatches + 1;
			RAISE NOTICE 'query %: index % exact %', q.qid, via_index, exact;
		END IF;
	END LOOP;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	RETURN NEXT;
END $$;

SET engram.ef_search = 1000;
CREATE INDEX hnsw_small_v_l2 ON hnsw_small USING engram_hnsw (v vector_l2_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<->');
-- layer 1 searched with a beam: still exact at ef_search 1000; with more
-- layer-1 nodes than ef_search, layer 0 starts from the nearest ef of them
SET engram.layer1_ef = 32;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<->');
CREATE TEMP TABLE beam AS
SELECT * FROM engram.explain_search('hnsw_small_v_l2', (SELECT v FROM hnsw_queries LIMIT 1));
SET engram.layer1_ef = 1;
SELECT b.entry_level > 0 AS has_layer1,
	   b.nodes_per_layer[2] > g.nodes_per_layer[2] AS beam_expands_more_on_layer1
FROM beam b, engram.explain_search('hnsw_small_v_l2', (SELECT v FROM hnsw_queries LIMIT 1)) g;
DROP TABLE beam;
SET engram.layer1_ef = 32;
SET engram.ef_search = 5;
SET enable_seqscan = off;
SELECT count(*) AS rows, bool_and(d >= coalesce(prev, 0)) AS in_order
FROM (SELECT d, lag(d) OVER (ORDER BY n) AS prev
	  FROM (SELECT row_number() OVER () AS n, v <-> (SELECT v FROM hnsw_queries LIMIT 1) AS d
			FROM (SELECT v FROM hnsw_small ORDER BY v <-> (SELECT v FROM hnsw_queries LIMIT 1) LIMIT 5) r) s) t;
RESET enable_seqscan;
SET engram.ef_search = 1000;
RESET engram.layer1_ef;
DROP INDEX hnsw_small_v_l2;
CREATE INDEX hnsw_small_v_ip ON hnsw_small USING engram_hnsw (v vector_ip_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<#>');
DROP INDEX hnsw_small_v_ip;
CREATE INDEX hnsw_small_v_cos ON hnsw_small USING engram_hnsw (v vector_cosine_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<=>');
DROP INDEX hnsw_small_v_cos;
CREATE INDEX hnsw_small_v_l1 ON hnsw_small USING engram_hnsw (v vector_l1_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<+>');
DROP INDEX hnsw_small_v_l1;
CREATE INDEX hnsw_small_h_l2 ON hnsw_small USING engram_hnsw (h halfvec_l2_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'h', '<->');
DROP INDEX hnsw_small_h_l2;
CREATE INDEX hnsw_small_h_ip ON hnsw_small USING engram_hnsw (h halfvec_ip_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'h', '<#>');
DROP INDEX hnsw_small_h_ip;
CREATE INDEX hnsw_small_h_cos ON hnsw_small USING engram_hnsw (h halfvec_cosine_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'h', '<=>');
DROP INDEX hnsw_small_h_cos;
CREATE INDEX hnsw_small_h_l1 ON hnsw_small USING engram_hnsw (h halfvec_l1_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'h', '<+>');
DROP INDEX hnsw_small_h_l1;
-- a smaller m
CREATE INDEX hnsw_small_m8 ON hnsw_small USING engram_hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 16);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<->');
DROP INDEX hnsw_small_m8;
-- the whole table, in exact order, and a sound graph
CREATE INDEX hnsw_small_v_l2 ON hnsw_small USING engram_hnsw (v vector_l2_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<->', 300);
SELECT * FROM engram.hnsw_check('hnsw_small_v_l2');
SELECT elements, deleted, reusable, dimensions FROM engram.hnsw_stats('hnsw_small_v_l2');
-- the shape: levels and the entry point's layers are random, what they add
-- up to is not
SELECT levels >= 1 AS upper_layers, meta_pages = 1 AS one_meta_page,
       hot_pages >= 1 AS hot_tier, warm_pages >= 1 AS warm_tier,
       (meta_pages + hot_pages + warm_pages) * current_setting('block_size')::int =
         pg_relation_size('hnsw_small_v_l2') AS pages_add_up,
       abs(bytes_per_element - pg_relation_size('hnsw_small_v_l2')::float8 / elements) < 1e-9
         AS bytes_per_element,
       mean_degree > 8 AND mean_degree <= 32 AS mean_degree_in_range
FROM engram.hnsw_stats('hnsw_small_v_l2');
DROP INDEX hnsw_small_v_l2;
-- without heap prefetching
SET engram.hnsw_prefetch = off;
CREATE INDEX hnsw_small_v_l2 ON hnsw_small USING engram_hnsw (v vector_l2_ops);
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_small', 'v', '<->');
RESET engram.hnsw_prefetch;

-- the planner ---------------------------------------------------------------
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]';
-- nothing the index can answer
EXPLAIN (COSTS OFF) SELECT count(*) FROM hnsw_small;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small WHERE v = '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]';
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small WHERE v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' < 1;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small ORDER BY v <#> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_small ORDER BY h <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
RESET enable_seqscan;

-- the query vector ------------------------------------------------------------
SET enable_seqscan = off;
-- NULL: a constant NULL is folded away by the planner (every row sorts
-- alike, no index scan); one the index scan gets returns no rows and no
-- error (as pgvector's hnsw)
SELECT id FROM hnsw_small ORDER BY v <-> NULL LIMIT 3;
SELECT id FROM hnsw_small ORDER BY v <-> (SELECT NULL::vector) LIMIT 3;
-- wrong number of dimensions
SELECT id FROM hnsw_small ORDER BY v <-> '[1,2,3]' LIMIT 3;
SELECT id FROM hnsw_small ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]' LIMIT 3;
RESET enable_seqscan;
DROP INDEX hnsw_small_v_l2;

-- NULLs and zero vectors are not indexed --------------------------------------
CREATE TABLE hnsw_nz (id int, v vector(3), h halfvec(3));
INSERT INTO hnsw_nz SELECT i, format('[%s,%s,%s]', i, i % 7, 10 - i)::vector, format('[%s,%s,%s]', i, i % 7, 10 - i)::halfvec
FROM generate_series(1, 9) i;
INSERT INTO hnsw_nz VALUES (100, NULL, NULL), (101, '[0,0,0]', '[0,0,0]'), (102, NULL, NULL);
CREATE INDEX hnsw_nz_cos ON hnsw_nz USING engram_hnsw (v vector_cosine_ops);
CREATE INDEX hnsw_nz_hcos ON hnsw_nz USING engram_hnsw (h halfvec_cosine_ops);
CREATE INDEX hnsw_nz_l2 ON hnsw_nz USING engram_hnsw (v vector_l2_ops);
-- and inserted after the build
INSERT INTO hnsw_nz VALUES (103, '[0,0,0]', '[0,0,0]'), (104, NULL, NULL), (105, '[-0,0,-0]', '[-0,0,-0]');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_nz ORDER BY v <=> '[1,2,3]' LIMIT 20;
SELECT id, round((v <=> '[1,2,3]')::numeric, 6) AS dist FROM hnsw_nz ORDER BY v <=> '[1,2,3]' LIMIT 20;
SELECT array(SELECT id FROM hnsw_nz ORDER BY h <=> '[1,2,3]' LIMIT 20) AS halfvec_cosine;
-- L2 indexes zero vectors but not NULLs
SELECT id, dist FROM (SELECT id, v <-> '[0,0,0]' AS dist FROM hnsw_nz ORDER BY v <-> '[0,0,0]' LIMIT 20) s
ORDER BY dist, id;
-- a zero query vector under cosine: no error
SELECT count(*) <= 20 AS no_error FROM (SELECT id FROM hnsw_nz ORDER BY v <=> '[0,0,0]' LIMIT 20) s;
RESET enable_seqscan;
DROP TABLE hnsw_nz;

-- exactly representable vectors: a query equal to an indexed vector is at
-- distance 0, and the index must not claim a larger lower bound than that
-- (the executor would fail with "index returned tuples in wrong order")
CREATE TABLE hnsw_ints (id int, v vector(2), w vector(3));
INSERT INTO hnsw_ints VALUES (1, '[1,1]', '[127,5,3]'), (2, '[0,1]', '[1,0,1]'), (3, '[-1,1]', '[0,1,1]');
CREATE INDEX ON hnsw_ints USING engram_hnsw (v vector_l2_ops);
CREATE INDEX ON hnsw_ints USING engram_hnsw (w vector_l2_ops);
SET enable_seqscan = off;
SELECT id, v <-> '[1,1]' AS dist FROM hnsw_ints ORDER BY v <-> '[1,1]' LIMIT 3;
SELECT id, round((w <-> '[127,5,3]')::numeric, 4) AS dist FROM hnsw_ints ORDER BY w <-> '[127,5,3]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE hnsw_ints;
-- 0/1 vectors, each looked up by itself
SELECT setseed(0.3);
CREATE TABLE hnsw_bits (id int, v vector(16));
INSERT INTO hnsw_bits SELECT i, array(SELECT (random() < 0.5)::int FROM generate_series(1, 16) WHERE i > 0)::real[]
FROM generate_series(1, 200) i;
CREATE INDEX ON hnsw_bits USING engram_hnsw (v vector_l2_ops);
SET enable_seqscan = off;
DO $$
DECLARE
	r record;
	failed int := 0;
	wrong int := 0;
BEGIN
	FOR r IN SELECT id, v FROM hnsw_bits ORDER BY id LOOP
		BEGIN
			IF (SELECT v <-> r.v FROM hnsw_bits ORDER BY v <-> r.v LIMIT 1) <> 0 THEN
				wrong := wrong + 1;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			failed := failed + 1;
		END;
	END LOOP;
	RAISE NOTICE 'self lookups: % failed, % wrong', failed, wrong;
END $$;
RESET enable_seqscan;
DROP TABLE hnsw_bits;

-- an index built on an empty table, then filled ---------------------------------
CREATE TABLE hnsw_empty (id int, v vector(16));
CREATE INDEX hnsw_empty_idx ON hnsw_empty USING engram_hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SELECT id FROM hnsw_empty ORDER BY v <-> (SELECT v FROM hnsw_queries WHERE qid = 1) LIMIT 5;
INSERT INTO hnsw_empty VALUES (1, (SELECT v FROM hnsw_small WHERE id = 1));
SELECT id FROM hnsw_empty ORDER BY v <-> (SELECT v FROM hnsw_queries WHERE qid = 1) LIMIT 5;
INSERT INTO hnsw_empty SELECT id, v FROM hnsw_small WHERE id > 1;
RESET enable_seqscan;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_empty', 'v', '<->', 10);

-- TRUNCATE empties the index; REINDEX rebuilds it
TRUNCATE hnsw_empty;
SET enable_seqscan = off;
SELECT id FROM hnsw_empty ORDER BY v <-> (SELECT v FROM hnsw_queries WHERE qid = 1) LIMIT 5;
RESET enable_seqscan;
INSERT INTO hnsw_empty SELECT id, v FROM hnsw_small WHERE id <= 150;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_empty', 'v', '<->', 10);
REINDEX INDEX hnsw_empty_idx;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_empty', 'v', '<->', 10);
REINDEX TABLE hnsw_empty;
INSERT INTO hnsw_empty SELECT id, v FROM hnsw_small WHERE id > 150;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_empty', 'v', '<->', 10);
DROP TABLE hnsw_empty;

-- unlogged tables -----------------------------------------------------------------
CREATE UNLOGGED TABLE hnsw_unlogged (id int, v vector(16), h halfvec(16));
CREATE INDEX hnsw_unlogged_v ON hnsw_unlogged USING engram_hnsw (v vector_cosine_ops);
INSERT INTO hnsw_unlogged SELECT id, v, h FROM hnsw_small WHERE id <= 150;
CREATE INDEX hnsw_unlogged_h ON hnsw_unlogged USING engram_hnsw (h halfvec_l2_ops);
INSERT INTO hnsw_unlogged SELECT id, v, h FROM hnsw_small WHERE id > 150;
SELECT relpersistence FROM pg_class WHERE relname IN ('hnsw_unlogged_v', 'hnsw_unlogged_h');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_unlogged', 'v', '<=>');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_unlogged', 'h', '<->');
DROP TABLE hnsw_unlogged;

-- duplicates: every copy of a repeated vector is found -----------------------------
CREATE TABLE hnsw_dup (id int, v vector(16));
INSERT INTO hnsw_dup SELECT id, v FROM hnsw_small;
INSERT INTO hnsw_dup SELECT 1000 + i, (SELECT v FROM hnsw_small WHERE id = 7) FROM generate_series(1, 100) i;
CREATE INDEX hnsw_dup_idx ON hnsw_dup USING engram_hnsw (v vector_l2_ops);
INSERT INTO hnsw_dup SELECT 2000 + i, (SELECT v FROM hnsw_small WHERE id = 7) FROM generate_series(1, 100) i;
SET enable_seqscan = off;
SELECT count(*) AS found, count(*) FILTER (WHERE id = 7 OR id > 1000) AS copies, count(DISTINCT id) AS distinct_ids
FROM (SELECT id FROM hnsw_dup ORDER BY v <-> (SELECT v FROM hnsw_small WHERE id = 7) LIMIT 201) s;
-- the rest of the graph is still reachable
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_dup', 'v', '<->');
SELECT * FROM engram.hnsw_check('hnsw_dup_idx');
RESET enable_seqscan;
DROP TABLE hnsw_dup;

-- iterative scans with a filter ---------------------------------------------------
SELECT setseed(0.5);
CREATE TABLE hnsw_iter (id int, v vector(16));
INSERT INTO hnsw_iter
SELECT i, array(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE i > 0)::real[]
FROM generate_series(1, 2000) i;
CREATE INDEX hnsw_iter_idx ON hnsw_iter USING engram_hnsw (v vector_l2_ops);
CREATE TEMP TABLE hnsw_iter_q AS SELECT v AS q FROM hnsw_queries WHERE qid = 3;
SET enable_seqscan = off;
SET engram.ef_search = 10;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_iter WHERE id % 10 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 10;
SET engram.iterative_scan = off;
SELECT count(*) < 10 AS fewer FROM (SELECT id FROM hnsw_iter WHERE id % 10 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 10) s;
SET engram.iterative_scan = relaxed_order;
SELECT count(*) AS relaxed FROM (SELECT id FROM hnsw_iter WHERE id % 10 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 10) s;
-- the limit on visited nodes stops the widening
SET engram.max_scan_tuples = 1;
SELECT count(*) < 10 AS stopped FROM (SELECT id FROM hnsw_iter WHERE id % 10 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 10) s;
RESET engram.max_scan_tuples;
SET engram.iterative_scan = strict_order;
CREATE TEMP TABLE hnsw_strict AS
SELECT row_number() OVER () AS rn, id, dist
FROM (SELECT id, v <-> (SELECT q FROM hnsw_iter_q) AS dist FROM hnsw_iter WHERE id % 10 = 0
	  ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 10) s;
SELECT count(*) AS strict, count(*) FILTER (WHERE id % 10 <> 0) AS unfiltered FROM hnsw_strict;
SELECT bool_and(a.dist <= b.dist) AS in_distance_order FROM hnsw_strict a JOIN hnsw_strict b ON b.rn = a.rn + 1;
-- every row of a filter that keeps few of them, with the widening reaching
-- the whole graph
SELECT count(*) AS all_of_them FROM (SELECT id FROM hnsw_iter WHERE id % 100 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 50) s;
-- the memory limit stops the widening: with 64kB of work_mem a round of
-- more than 512 candidates is not started, and 320 of the 2000 rows hold
-- few of the 20 that pass the filter
SET work_mem = '64kB';
SET engram.scan_mem_multiplier = 1;
SELECT count(*) < 20 AS capped_by_memory FROM (SELECT id FROM hnsw_iter WHERE id % 100 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 50) s;
SET engram.scan_mem_multiplier = 10;
SELECT count(*) AS all_of_them FROM (SELECT id FROM hnsw_iter WHERE id % 100 = 0 ORDER BY v <-> (SELECT q FROM hnsw_iter_q) LIMIT 50) s;
RESET engram.scan_mem_multiplier;
RESET work_mem;
RESET engram.iterative_scan;
RESET engram.ef_search;
RESET enable_seqscan;
DROP TABLE hnsw_iter;

-- deletes, VACUUM, and inserts into the freed slots -----------------------------------
CREATE TABLE hnsw_vac (id int, v vector(16), h halfvec(16)) WITH (autovacuum_enabled = off);
INSERT INTO hnsw_vac SELECT id, v, h FROM hnsw_small;
CREATE INDEX hnsw_vac_v ON hnsw_vac USING engram_hnsw (v vector_l2_ops);
CREATE INDEX hnsw_vac_h ON hnsw_vac USING engram_hnsw (h halfvec_cosine_ops);
DELETE FROM hnsw_vac WHERE id % 2 = 0;
-- before VACUUM the index still holds the dead rows; they are not returned
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'v', '<->');
VACUUM (INDEX_CLEANUP ON) hnsw_vac;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'v', '<->');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'h', '<=>');
SELECT * FROM engram.hnsw_check('hnsw_vac_v');
SELECT elements, deleted, reusable FROM engram.hnsw_stats('hnsw_vac_v');
-- twice as many rows as freed slots: every slot is taken (a layer-0 node
-- fits any slot, and most new nodes are layer-0 only)
INSERT INTO hnsw_vac SELECT id, v, h FROM hnsw_more WHERE id % 2 = 0;
INSERT INTO hnsw_vac SELECT id, v, h FROM hnsw_more WHERE id % 2 = 1;
SELECT elements, deleted, reusable FROM engram.hnsw_stats('hnsw_vac_v');
SELECT elements, deleted, reusable FROM engram.hnsw_stats('hnsw_vac_h');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'v', '<->');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'h', '<=>');
SELECT * FROM engram.hnsw_check('hnsw_vac_v');
-- updates are deletes plus inserts
UPDATE hnsw_vac SET v = v + '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]',
	h = h + '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' WHERE id % 3 = 0;
VACUUM (INDEX_CLEANUP ON) hnsw_vac;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'v', '<->');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'h', '<=>');
SELECT * FROM engram.hnsw_check('hnsw_vac_v');
SELECT * FROM engram.hnsw_check('hnsw_vac_h');
-- everything deleted: the index is empty, then usable again
DELETE FROM hnsw_vac;
VACUUM (INDEX_CLEANUP ON) hnsw_vac;
SET enable_seqscan = off;
SELECT id FROM hnsw_vac ORDER BY v <-> (SELECT v FROM hnsw_queries WHERE qid = 1) LIMIT 5;
RESET enable_seqscan;
SELECT elements, deleted, levels FROM engram.hnsw_stats('hnsw_vac_v');
INSERT INTO hnsw_vac SELECT id, v, h FROM hnsw_small WHERE id <= 100;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'v', '<->');
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'h', '<=>');
-- VACUUM FULL rebuilds
VACUUM FULL hnsw_vac;
SELECT * FROM pg_temp.hnsw_vs_exact('hnsw_vac', 'v', '<->');
DROP TABLE hnsw_vac;

-- an insert's pruning can drop a node's last incoming link (often at a tiny
-- m: 136 to 404 of these 3,000 rows were cut off in trial runs); VACUUM,
-- with nothing to delete, links them again
CREATE TABLE hnsw_cut (id int, v vector(4)) WITH (autovacuum_enabled = off);
CREATE INDEX hnsw_cut_v ON hnsw_cut USING engram_hnsw (v vector_l2_ops)
	WITH (m = 2, ef_construction = 4);
INSERT INTO hnsw_cut SELECT i, ARRAY[random(), random(), random(), random()]::real[]::vector
	FROM generate_series(1, 3000) i;
SELECT count(*) AS problems FROM engram.hnsw_check('hnsw_cut_v') p
	WHERE p LIKE '% live nodes are not reachable from the entry point on layer 0';
VACUUM hnsw_cut;
SELECT * FROM engram.hnsw_check('hnsw_cut_v');
DROP TABLE hnsw_cut;

-- engram.explain_search: the counters of one graph search
CREATE INDEX hnsw_small_explain ON hnsw_small USING engram_hnsw (v vector_l2_ops);
SELECT candidates, layer0_nodes_expanded > 0 AS expanded, distances >= candidates AS counted,
	hot_pages_read + warm_pages_read > 0 AS pages_read
FROM engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 1), 20);
SELECT candidates FROM engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 1), 1000);
-- per layer: layer 0 first, one element per layer down from the entry level,
-- adding up to the two totals
SELECT array_length(nodes_per_layer, 1) = entry_level + 1 AS one_per_layer,
	nodes_per_layer[1] = layer0_nodes_expanded AS layer0,
	(SELECT sum(n) FROM unnest(nodes_per_layer[2:]) n) IS NOT DISTINCT FROM
		CASE WHEN entry_level > 0 THEN upper_nodes_expanded END AS upper
FROM engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 2), 20);
-- the re-rank of LIMIT k: with ef above the table's 300 rows the search
-- finds every row, so what the re-rank fetches depends only on the vectors
-- and the heap's layout: exact figures.  Heap pages were all read by now.
SELECT k, candidates, reranked, cold_hits, cold_reads
FROM generate_series(1, 4) k,
	engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 3), 400, k);
SELECT k, reranked, cold_hits, cold_reads
FROM unnest(ARRAY[5, 10, 50, 300, 1000]) k,
	engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 3), 400, k);
-- a row deleted (not yet vacuumed) is still a candidate: the re-rank
-- fetches its heap tuple, finds it invisible and needs one candidate more
BEGIN;
DELETE FROM hnsw_small WHERE id = (SELECT id FROM hnsw_small
	ORDER BY v <-> (SELECT v FROM hnsw_queries WHERE qid = 3) LIMIT 1);
SELECT reranked FROM engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 3), 400, 1);
ROLLBACK;
SELECT * FROM engram.explain_search('hnsw_small_explain', '[1,2,3]'::halfvec, 10);
SELECT * FROM engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 1), 0);
SELECT * FROM engram.explain_search('hnsw_small_explain', (SELECT v FROM hnsw_queries WHERE qid = 1), 10, 0);
SELECT * FROM engram.explain_search('hnsw_small', (SELECT v FROM hnsw_queries WHERE qid = 1), 10);
DROP INDEX hnsw_small_explain;

DROP TABLE hnsw_small, hnsw_more, hnsw_queries;
RESET engram.ef_search;
