-- cognitive memory, part 3: the adjacency cache (src/memory/adjacency.c).
-- Needs engram in shared_preload_libraries (as scripts/test runs it).
-- spread and recall must return exactly what the index path returns, and
-- every way of changing engram.associations must make the next spread see
-- the change (the cache is rebuilt: builds grows).
SET jit = off;
\set VERBOSITY default
-- rebuild whenever stale, so that the counts below do not depend on timing
SET engram.adjacency_cache_settle = 0;
-- and in this backend, not in a background worker
SET engram.adjacency_cache_background = off;

CREATE TABLE r (id bigint PRIMARY KEY, embedding vector(3));
INSERT INTO r SELECT i, ARRAY[1 + i % 7, 1 + i % 11, 1 + i % 13]::vector
FROM generate_series(1, 300) i;
CREATE INDEX ON r USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('r');
-- 6 edges out of most rows, weights in (0, 1]; rows 291..300 are sinks
INSERT INTO engram.associations (tbl, src, dst, weight, kind)
SELECT 'r', i, 1 + (hashint4(i * 31 + j) & 2147483647) % 300,
	   (1 + (hashint4(i * 17 + j) & 1023)) / 1024.0, 'test'
FROM generate_series(1, 290) i, generate_series(1, 6) j
WHERE 1 + (hashint4(i * 31 + j) & 2147483647) % 300 <> i
ON CONFLICT DO NOTHING;

SELECT * FROM engram.adjacency_cache_stats();
SELECT count(*) FROM engram.spread('r', '{1,2,3}');
SELECT memory_table, valid, nodes, edges, builds, hits, misses
FROM engram.adjacency_cache_stats();

-- the cache against the index path: 40 seed sets, several parameter sets,
-- and recall in both spreading modes
CREATE FUNCTION spreads() RETURNS TABLE (g int, p int, id bigint, activation real, hops int)
LANGUAGE sql AS $$
	SELECT g, p, s.*
	FROM generate_series(1, 40) g, generate_series(1, 3) p,
		 LATERAL engram.spread('r',
			array(SELECT DISTINCT 1 + (hashint4(g * 10 + i) & 2147483647) % 300::bigint
				  FROM generate_series(1, 1 + g % 5) i),
			max_hops => 1 + p, decay => 0.25 * (p + 1), threshold => 0.05 * p) s
$$;
CREATE FUNCTION recalls() RETURNS TABLE (g int, mode text, id bigint, activation real,
										 similarity real, hops int)
LANGUAGE sql AS $$
	SELECT g, m, s.*
	FROM generate_series(1, 20) g, unnest(ARRAY['hybrid', 'spreading']) m,
		 LATERAL engram.recall('r', ARRAY[1 + g % 5, 2, 1 + g % 3]::vector, 10, m,
							   seeds => 5, max_hops => 3) s
$$;
CREATE TEMP TABLE cached AS SELECT * FROM spreads();
CREATE TEMP TABLE cached_recall AS SELECT * FROM recalls();
SET engram.adjacency_cache = off;
CREATE TEMP TABLE indexed AS SELECT * FROM spreads();
CREATE TEMP TABLE indexed_recall AS SELECT * FROM recalls();
RESET engram.adjacency_cache;
SELECT (SELECT count(*) FROM cached) AS rows,
	   (SELECT count(*) FROM cached WHERE hops = 3) AS at_hop_3,
	   (SELECT count(*) FROM (TABLE cached EXCEPT ALL TABLE indexed) x) AS only_cached,
	   (SELECT count(*) FROM (TABLE indexed EXCEPT ALL TABLE cached) x) AS only_indexed;
SELECT (SELECT count(*) FROM cached_recall) AS rows,
	   (SELECT count(*) FROM cached_recall WHERE similarity IS NULL) > 100 AS spread_rows,
	   (SELECT count(*) FROM (TABLE cached_recall EXCEPT ALL TABLE indexed_recall) x) AS only_cached,
	   (SELECT count(*) FROM (TABLE indexed_recall EXCEPT ALL TABLE cached_recall) x) AS only_indexed;
-- all 120 spreads and 40 recalls above came from one build
SELECT valid, nodes, edges, builds, hits, misses FROM engram.adjacency_cache_stats();

-- every path that changes engram.associations is seen at once --------------
CREATE FUNCTION reached(seed bigint, target bigint) RETURNS text
LANGUAGE sql AS $$
	SELECT coalesce((SELECT activation || ' at hop ' || hops
					 FROM engram.spread('r', ARRAY[seed], max_hops => 1, threshold => 0)
					 WHERE id = target), 'not reached')
		   || ', builds ' || (SELECT builds FROM engram.adjacency_cache_stats())
$$;
SELECT reached(1, 300);
SELECT engram.associate('r', 1, 300, 0.5);
SELECT reached(1, 300);
UPDATE engram.associations SET weight = 0.25 WHERE tbl = 'r'::regclass AND src = 1 AND dst = 300;
SELECT reached(1, 300);
SELECT engram.dissociate('r', 1, 300);
SELECT reached(1, 300);
INSERT INTO engram.associations VALUES ('r', 1, 300, 0.125, 'plain');
SELECT reached(1, 300);
DELETE FROM engram.associations WHERE tbl = 'r'::regclass AND src = 1 AND dst = 300;
SELECT reached(1, 300);
COPY engram.associations FROM stdin;
r	1	300	0.75	copied
\.
SELECT reached(1, 300);
SELECT engram.decay_associations('r', 0.5);
SELECT reached(1, 300);
-- reinforce: recall of rows 1 and 300 links them (their similarity is 1)
DELETE FROM engram.associations WHERE tbl = 'r'::regclass AND src = 1 AND dst = 300;
SELECT reached(1, 300);
UPDATE r SET embedding = '[1,0,0]' WHERE id IN (1, 300);
SELECT count(*) FROM engram.recall('r', '[1,0,0]', k => 2, mode => 'similarity', reinforce => true);
SELECT reached(1, 300);
-- deleting a memory row removes its edges (trigger on the memory table)
DELETE FROM r WHERE id = 300;
SELECT reached(1, 300);
-- even with triggers off for replication, the edge trigger fires
SET session_replication_role = replica;
INSERT INTO engram.associations VALUES ('r', 1, 299, 0.5, 'replica');
RESET session_replication_role;
SELECT reached(1, 299);

-- inside a transaction that changed associations: its own changes, through
-- the index (misses grows), and none of them after a rollback
BEGIN;
SELECT engram.associate('r', 2, 299, 1);
SELECT reached(2, 299);
SELECT misses FROM engram.adjacency_cache_stats();
ROLLBACK;
SELECT reached(2, 299);
SELECT misses FROM engram.adjacency_cache_stats();

-- a transaction that changed associations cannot be prepared
BEGIN;
SELECT engram.associate('r', 2, 299, 1);
PREPARE TRANSACTION 'engram_adjacency';
SELECT reached(2, 299);

-- SERIALIZABLE reads the index (predicate locks)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT misses FROM engram.adjacency_cache_stats();
SELECT reached(1, 299);
SELECT misses FROM engram.adjacency_cache_stats();
COMMIT;

-- a graph larger than engram.adjacency_cache_size is not cached (the stale
-- graph is not patched, so that a rebuild is what serves)
TRUNCATE engram.associations;
SELECT reached(1, 299);
SELECT engram.associate('r', 1, 299, 0.5);
SET engram.adjacency_cache_patch = off;
SET engram.adjacency_cache_size = 0;
SELECT reached(1, 299);
SELECT valid, nodes, edges, bytes, misses FROM engram.adjacency_cache_stats();
RESET engram.adjacency_cache_size;
SELECT reached(1, 299);
SELECT valid, nodes, edges, bytes > 0 AS bytes FROM engram.adjacency_cache_stats();
RESET engram.adjacency_cache_patch;

-- with the row trigger disabled no changed source is logged: a stale graph
-- cannot be patched then (no rebuild either, as the changes have not
-- settled), and the index serves
SET engram.adjacency_cache_settle = 1000;
ALTER TABLE engram.associations DISABLE TRIGGER engram_edge_rows_changed;
UPDATE engram.associations SET weight = 1 WHERE tbl = 'r'::regclass AND src = 1 AND dst = 299;
ALTER TABLE engram.associations ENABLE ALWAYS TRIGGER engram_edge_rows_changed;
SELECT misses, patched_hits FROM engram.adjacency_cache_stats();
SELECT reached(1, 299);
SELECT misses, patched_hits FROM engram.adjacency_cache_stats();
RESET engram.adjacency_cache_settle;

-- the trigger functions read engram.associations' columns by position and
-- refuse other tables
CREATE TABLE not_edges (tbl oid, src bigint);
CREATE TRIGGER rows_changed AFTER INSERT ON not_edges
	FOR EACH ROW EXECUTE FUNCTION engram.memory_edge_rows_changed();
INSERT INTO not_edges VALUES (1, 1);
DROP TRIGGER rows_changed ON not_edges;
CREATE TRIGGER changed BEFORE INSERT ON not_edges
	FOR EACH STATEMENT EXECUTE FUNCTION engram.memory_edges_changed();
INSERT INTO not_edges VALUES (1, 1);
DROP TABLE not_edges;

SELECT engram.detach('r');
DROP FUNCTION spreads(), recalls(), reached(bigint, bigint);
DROP TABLE r;

-- results of 512 rows or more are ordered by a radix sort of packed keys;
-- they must come in the index path's order, ties (weights of four values)
-- by ascending id.  The ids are sparse (multiples of 1000), so the build
-- finds destinations by binary search (the table above has dense ids, found
-- through a direct table).
CREATE TABLE big (id bigint PRIMARY KEY, embedding vector(2));
INSERT INTO big SELECT i * 1000, ARRAY[1, i]::vector FROM generate_series(1, 3000) i;
CREATE INDEX ON big USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('big');
INSERT INTO engram.associations (tbl, src, dst, weight, kind)
SELECT 'big', i * 1000, (1 + (hashint4(i * 31 + j) & 2147483647) % 3000) * 1000,
	   0.25 * (1 + (hashint4(i * 17 + j) & 3)), 'test'
FROM generate_series(1, 3000) i, generate_series(1, 5) j
WHERE 1 + (hashint4(i * 31 + j) & 2147483647) % 3000 <> i
UNION ALL				-- a hub: a row longer than insertion sorts
SELECT 'big', 2999000, i * 7000, 0.5, 'test' FROM generate_series(1, 400) i
ON CONFLICT DO NOTHING;
CREATE TEMP TABLE big_cached AS
SELECT * FROM engram.spread('big', '{1000,2000,3000,4000}', 4, 0.9, 0) WITH ORDINALITY;
SELECT valid, builds, hits FROM engram.adjacency_cache_stats()
WHERE memory_table = 'big'::regclass;
SET engram.adjacency_cache = off;
CREATE TEMP TABLE big_indexed AS
SELECT * FROM engram.spread('big', '{1000,2000,3000,4000}', 4, 0.9, 0) WITH ORDINALITY;
RESET engram.adjacency_cache;
SELECT (SELECT count(*) FROM big_cached) >= 512 AS radix,
	   (SELECT count(*) FROM big_cached) = (SELECT count(DISTINCT activation) FROM big_cached) AS no_ties,
	   (SELECT count(*) FROM (TABLE big_cached EXCEPT ALL TABLE big_indexed) x) AS only_cached,
	   (SELECT count(*) FROM (TABLE big_indexed EXCEPT ALL TABLE big_cached) x) AS only_indexed;
-- a hop's frontier of 512 nodes or more is ordered by a radix sort of its
-- ranks: at threshold 0, every node first reached at hop 4 is a source at
-- hop 5
CREATE TEMP TABLE big6_cached AS
SELECT * FROM engram.spread('big', '{1000,2000,3000,4000}', 6, 0.3, 0) WITH ORDINALITY;
SET engram.adjacency_cache = off;
CREATE TEMP TABLE big6_indexed AS
SELECT * FROM engram.spread('big', '{1000,2000,3000,4000}', 6, 0.3, 0) WITH ORDINALITY;
RESET engram.adjacency_cache;
SELECT (SELECT count(*) FROM big6_cached WHERE hops = 4) >= 512 AS radix_frontier,
	   (SELECT count(*) FROM big6_cached) AS reached,
	   (SELECT count(*) FROM (TABLE big6_cached EXCEPT ALL TABLE big6_indexed) x) AS only_cached,
	   (SELECT count(*) FROM (TABLE big6_indexed EXCEPT ALL TABLE big6_cached) x) AS only_indexed;
SELECT engram.detach('big');
DROP TABLE big;
