-- cognitive memory, part 2: recall in its three modes, reinforcement
-- (Hebbian update, recall counts), tiers in memory_stats, decay and
-- pruning, auto_link.  Similarities come from the distance kernels, so they
-- are shown rounded; activations reached by spreading are exact.
SET jit = off;
\set VERBOSITY default

-- cue [1,0,0]: similarity 1 (1), 0.8 (8), 0.7071 (2), 0.6 (5), 0.4472 (6),
-- 0 (3, 7) and -1, clamped to 0 (4)
CREATE TABLE m (id bigint PRIMARY KEY, embedding vector(3), note text);
INSERT INTO m VALUES (1, '[1,0,0]', 'one'), (2, '[1,1,0]', 'two'), (3, '[0,1,0]', 'three'),
	(4, '[-1,0,0]', 'four'), (5, '[3,4,0]', 'five'), (6, '[1,0,2]', 'six'),
	(7, '[0,0,1]', 'seven'), (8, '[4,3,0]', 'eight');
CREATE INDEX ON m USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('m');
SELECT engram.associate('m', 1, 3, 0.5);
SELECT engram.associate('m', 3, 4, 0.5, bidirectional => false);
SELECT engram.associate('m', 8, 7, 1, bidirectional => false);

-- similarity: the k nearest, activation = similarity, hops 0
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[1,0,0]', 3, 'similarity');
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[1,0,0]', 8, 'similarity');
-- hybrid: seeds 1 (1.0) and 8 (0.8); hop 1: 3 gets 1*0.5*0.5, 7 gets
-- 0.8*1*0.5; hop 2: 1 gets 0.0625 (capped), 4 gets 0.0625 (below 0.1)
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[1,0,0]', 3, 'hybrid', seeds => 2);
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[1,0,0]', 10, seeds => 2);
-- spreading: only what the spread reached (hops >= 1, a >= threshold)
SELECT id, round(activation::numeric, 4) AS activation, similarity, hops
FROM engram.recall('m', '[1,0,0]', 10, 'spreading', seeds => 2);
SELECT id, round(activation::numeric, 4) AS activation, similarity, hops
FROM engram.recall('m', '[1,0,0]', 10, 'spreading', seeds => 2, threshold => 0.05);
SELECT id, round(activation::numeric, 4) AS activation, similarity, hops
FROM engram.recall('m', '[1,0,0]', 1, 'spreading', seeds => 2);
SELECT * FROM engram.recall('m', '[1,0,0]', 10, 'spreading', seeds => 2, max_hops => 0);
-- seeds default to k; hybrid returns seeds below the threshold too
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[1,0,0]', 8);
-- cue [0,1,0]: seed 3 sends 1 * 0.5 * 0.5 to 1 and to 4
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[0,1,0]', 3, seeds => 1);
-- a zero cue has no similarity to anything
SELECT * FROM engram.recall('m', '[0,0,0]', 3);
-- recall alone changes nothing
SELECT count(*) FROM engram.memory_state;

-- recall errors
SELECT * FROM engram.recall('m', '[1,0,0]', 0);
SELECT * FROM engram.recall('m', '[1,0,0]', 1001);
SELECT * FROM engram.recall('m', '[1,0,0]', 3, 'associative');
SELECT * FROM engram.recall('m', '[1,0,0]', 3, seeds => 0);
SELECT * FROM engram.recall('m', '[1,0,0]', 3, max_hops => 11);
SELECT * FROM engram.recall('m', '[1,0,0]', 3, decay => 0);
SELECT * FROM engram.recall('m', '[1,0,0]', 3, threshold => 2);
SELECT * FROM engram.recall('m', NULL, 3);
SELECT * FROM engram.recall('m', '[1,0,0]', NULL);
SELECT * FROM engram.recall('m', '[1,0,0]', 3, NULL);
SELECT * FROM engram.recall('m', '[1,0,0]', 3, reinforce => NULL);
SELECT * FROM engram.recall('m', '[1,0]', 3);
SELECT * FROM engram.recall('pg_class', '[1,0,0]', 3);

-- reinforce: the returned 1, 8, 7 are linked pairwise; new edges at the
-- learning rate 0.1, 8 -> 7 stays 1 (1 + 0.1 * 0)
BEGIN;
SELECT id FROM engram.recall('m', '[1,0,0]', 3, seeds => 2, reinforce => true);
SELECT src, dst, weight, kind FROM engram.edges ORDER BY src, dst;
SELECT id, recall_count, last_recall = now() AS just_now FROM engram.memory_state ORDER BY id;
COMMIT;
-- w <- w + eta (1 - w) with eta 0.5: 0.1 -> 0.55
SET engram.learning_rate = 0.5;
SELECT id FROM engram.recall('m', '[1,0,0]', 3, seeds => 2, reinforce => true);
SELECT src, dst, weight, kind FROM engram.edges ORDER BY src, dst;
SELECT id, recall_count FROM engram.memory_state ORDER BY id;
SET engram.learning_rate = 0;
SET engram.learning_rate = 1.5;
RESET engram.learning_rate;
-- the learned edges carry a single seed's activation to 7 and 8: 0.275
-- each at hop 1, then 8 -> 7 adds 0.1375 and 7 -> 8 adds 0.075625
SELECT id, round(activation::numeric, 4) AS activation,
	   round(similarity::numeric, 4) AS similarity, hops
FROM engram.recall('m', '[1,0,0]', 3, seeds => 1);

-- tiers ------------------------------------------------------------------
SHOW engram.hot_recalls;
SHOW engram.hot_age;
SHOW engram.warm_age;
-- 1, 7, 8 recalled twice: warm while hot needs 3 recalls
SELECT * FROM engram.memory_stats('m');
SET engram.hot_recalls = 2;
SELECT * FROM engram.memory_stats('m');
-- 7 recalled two hours ago: warm; 8 eight days ago: cold
UPDATE engram.memory_state SET last_recall = now() - interval '2 hours' WHERE id = 7;
UPDATE engram.memory_state SET last_recall = now() - interval '8 days' WHERE id = 8;
SELECT * FROM engram.memory_stats('m');
SET engram.hot_age = '3h';
SET engram.warm_age = '10d';
SELECT * FROM engram.memory_stats('m');
RESET engram.hot_recalls;
RESET engram.hot_age;
RESET engram.warm_age;
SELECT * FROM engram.memory_stats('pg_class');

-- decay ------------------------------------------------------------------
-- halve every weight (0.55 -> 0.275, 0.5 -> 0.25, 1 -> 0.5): none falls
-- below 0.2
SET engram.prune_below = 0.2;
SELECT engram.decay_associations('m', 0.5);
SELECT src, dst, weight FROM engram.edges ORDER BY src, dst;
-- factor 1 only prunes
SET engram.prune_below = 0.26;
SELECT engram.decay_associations('m', 1);
SELECT src, dst, weight FROM engram.edges ORDER BY src, dst;
RESET engram.prune_below;
SELECT engram.decay_associations('m', 0);
SELECT engram.decay_associations('m', 1.5);
SELECT engram.decay_associations('m', 'NaN');
SELECT engram.decay_associations('pg_class', 0.5);
-- weights too small for a real are pruned even when prune_below is 0:
-- 0.275 -> 2.75e-31 -> 2.75e-61 (gone)
SET engram.prune_below = 0;
SELECT sum(engram.decay_associations('m', 1e-30)) FROM generate_series(1, 3);
SELECT count(*) FROM engram.edges;
RESET engram.prune_below;

-- auto_link --------------------------------------------------------------
CREATE TABLE a (id bigserial PRIMARY KEY, embedding vector(2));
CREATE INDEX ON a USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('a', auto_link => 2);
INSERT INTO a (embedding) VALUES ('[1,0]');       -- nothing to link to
INSERT INTO a (embedding) VALUES ('[0,1]');       -- similarity 0: no edge
INSERT INTO a (embedding) VALUES ('[1,1]');       -- 0.7071 to both
INSERT INTO a (embedding) VALUES ('[1,0.1]');     -- nearest: 1 and 3
INSERT INTO a (embedding) VALUES (NULL), ('[0,0]'); -- no similarity
SELECT src, dst, round(weight::numeric, 4) AS weight, kind FROM engram.edges
WHERE memory_table = 'a'::regclass ORDER BY src, dst;
SELECT memories, edges, mean_degree FROM engram.memory_stats('a');
DELETE FROM a WHERE id = 3;
SELECT src, dst FROM engram.edges WHERE memory_table = 'a'::regclass ORDER BY src, dst;

-- spread and recall read edges past the executor: they check that the
-- caller may read the memory table
CREATE ROLE regress_memory_reader;
GRANT USAGE ON SCHEMA engram TO regress_memory_reader;
GRANT SELECT ON engram.memory_tables TO regress_memory_reader;
SET ROLE regress_memory_reader;
SELECT * FROM engram.spread('m', '{1}');
SELECT * FROM engram.recall('m', '[1,0,0]', 3);
RESET ROLE;
GRANT SELECT ON m TO regress_memory_reader;
SET ROLE regress_memory_reader;
SELECT * FROM engram.spread('m', '{1}');
RESET ROLE;
DROP OWNED BY regress_memory_reader;
DROP ROLE regress_memory_reader;

-- a spread while a recall's spread result is still in use (here from a
-- trigger that reinforce fires): each has working arrays of its own, and
-- the recall returns what it returns without the inner spreads
BEGIN;
SELECT string_agg(id || ':' || activation || ':' || coalesce(similarity::text, '-') || ':' || hops, ' ')
	AS alone FROM engram.recall('m', '[0,1,0]', 4, reinforce => true) \gset
ROLLBACK;
CREATE TEMP TABLE inner_spreads (src bigint, dst bigint, reached bigint, top text);
CREATE FUNCTION pg_temp.spread_on_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO inner_spreads
	SELECT NEW.src, NEW.dst, count(*),
		   string_agg(id || ':' || round(activation::numeric, 4), ' ' ORDER BY activation DESC, id)
	FROM engram.spread('m', ARRAY[NEW.src], 2, threshold => 0);
	RETURN NEW;
END $$;
CREATE TRIGGER spread_on_link AFTER INSERT OR UPDATE ON engram.associations
	FOR EACH ROW EXECUTE FUNCTION pg_temp.spread_on_link();
CREATE TEMP TABLE with_inner AS
SELECT * FROM engram.recall('m', '[0,1,0]', 4, reinforce => true);
DROP TRIGGER spread_on_link ON engram.associations;
SELECT id, round(activation::numeric, 4) AS activation, hops FROM with_inner ORDER BY activation DESC, id;
SELECT string_agg(id || ':' || activation || ':' || coalesce(similarity::text, '-') || ':' || hops, ' ')
	= :'alone' AS same_as_alone FROM with_inner;
SELECT * FROM inner_spreads ORDER BY src, dst;

SELECT engram.detach('a'), engram.detach('m');
DROP TABLE a, m;
