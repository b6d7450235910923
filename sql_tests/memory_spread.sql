-- cognitive memory, part 1: attach and its errors, associations, the spread
-- definition on hand-built graphs (exact activations: weights and decay are
-- binary fractions unless said otherwise), every spread error, cascade on
-- delete and truncate, detach.
SET jit = off;
\set VERBOSITY default

CREATE TABLE g (id bigint PRIMARY KEY, embedding vector(2));
INSERT INTO g SELECT i, ARRAY[1, i]::vector FROM generate_series(1, 20) i;

-- attach: every precondition ----------------------------------------------
SELECT engram.attach('g');               -- no cosine index yet
CREATE INDEX g_l2 ON g USING engram_hnsw (embedding vector_l2_ops);
SELECT engram.attach('g');               -- an L2 index is not enough
CREATE INDEX g_cos ON g USING engram_hnsw (embedding vector_cosine_ops);
SELECT engram.attach('g', 'nope');
SELECT engram.attach('g', embedding_column => 'nope');
SELECT engram.attach('g', auto_link => -1);
SELECT engram.attach('g', auto_link => 1001);
SELECT engram.attach('g', NULL);
CREATE TABLE g_int (id int PRIMARY KEY, embedding vector(2));
SELECT engram.attach('g_int');
CREATE TABLE g_nokey (id bigint, embedding vector(2));
SELECT engram.attach('g_nokey');
CREATE TABLE g_arr (id bigint PRIMARY KEY, embedding real[]);
SELECT engram.attach('g_arr');
CREATE VIEW g_view AS SELECT * FROM g;
SELECT engram.attach('g_view');
SELECT engram.spread('g', '{1}');        -- not attached
SELECT engram.attach('g');
SELECT engram.attach('g');               -- twice
SELECT tbl, id_column, embedding_column, auto_link FROM engram.memory_tables;

-- associations --------------------------------------------------------------
SELECT engram.associate('g', 1, 2, 0);
SELECT engram.associate('g', 1, 2, 1.5);
SELECT engram.associate('g', 1, 2, 'NaN');
SELECT engram.associate('g', 1, 1);
SELECT engram.associate('g', 1, 99);
SELECT engram.associate('g', 99, 1);
SELECT engram.associate('g', 1, NULL);
SELECT engram.associate('g_int', 1, 2);
SELECT engram.associate('g', 1, 2, 0.25, 'episodic');
SELECT * FROM engram.edges ORDER BY src, dst;
-- upsert: weight and kind change, one direction only
SELECT engram.associate('g', 2, 1, 0.75, 'causal', bidirectional => false);
SELECT * FROM engram.edges ORDER BY src, dst;
SELECT engram.dissociate('g', 1, 2), engram.dissociate('g', 1, 2);
SELECT engram.dissociate('g', 2, 1);
SELECT count(*) FROM engram.edges;

-- the spread definition ----------------------------------------------------
-- a cycle 1 -> 2 -> 3 -> 1, weights 1
SELECT engram.associate('g', 1, 2, 1, bidirectional => false),
	   engram.associate('g', 2, 3, 1, bidirectional => false),
	   engram.associate('g', 3, 1, 1, bidirectional => false);
-- hop 3 brings 0.125 back to the seed: capped at 1, hops stays 0
SELECT * FROM engram.spread('g', '{1}');
-- hop 4 reaches 2 again with 0.0625: a(2) = 0.5625, below the threshold it
-- carries no energy, so the spread stops early (hops 5..10 do nothing)
SELECT * FROM engram.spread('g', '{1}', max_hops => 10);
SELECT * FROM engram.spread('g', '{1}', max_hops => 4)
EXCEPT ALL SELECT * FROM engram.spread('g', '{1}', max_hops => 10);
-- a weaker seed: the returning energy adds to the seed's activation
SELECT * FROM engram.spread('g', '{1}', seed_activation => '{0.5}');
-- max_hops 0: the seeds only
SELECT * FROM engram.spread('g', '{1,2}', max_hops => 0);
-- threshold cut-off: 2 gets 0.5 (kept), 3 gets 0.25 < 0.3: a(3) counts but
-- is not returned and carries nothing on
SELECT * FROM engram.spread('g', '{1}', threshold => 0.3);
SELECT * FROM engram.spread('g', '{1}', threshold => 0.5);
-- decay 1: the whole cycle at full strength
SELECT * FROM engram.spread('g', '{1}', decay => 1);
-- seeds that are not rows are ignored; a seed below the threshold spreads
-- (seeds always carry their energy) but is not returned
SELECT * FROM engram.spread('g', '{99,1,-5}');
SELECT * FROM engram.spread('g', '{1,4}', seed_activation => '{1,0.05}');
SELECT * FROM engram.spread('g', '{}');
SELECT * FROM engram.spread('g', '{99}');

-- fan-in: 10, 11, 12 -> 13 at 0.5; 13 -> 14 at 0.5
SELECT engram.associate('g', s, 13, 0.5, bidirectional => false) FROM generate_series(10, 12) s;
SELECT engram.associate('g', 13, 14, 0.5, bidirectional => false);
-- decay 1: 13 receives 1.5, a(13) is capped at 1 but the energy 1.5 is not,
-- so 14 receives 0.75
SELECT * FROM engram.spread('g', '{10,11,12}', decay => 1);
-- decay 0.5: 13 receives 0.75, 14 0.1875
SELECT * FROM engram.spread('g', '{10,11,12}');
-- each arrival alone is below the threshold, their sum is not:
-- 10, 11 -> 15 at 0.125 send 0.0625 each; 15 gets 0.125 and carries on to
-- 16 (0.0625: reached, below the threshold, not returned)
SELECT engram.associate('g', 10, 15, 0.125, bidirectional => false),
	   engram.associate('g', 11, 15, 0.125, bidirectional => false),
	   engram.associate('g', 15, 16, 1, bidirectional => false);
SELECT * FROM engram.spread('g', '{10,11}');
SELECT * FROM engram.spread('g', '{10,11}', threshold => 0);
-- an arrival equal to the threshold carries on: 15 gets 0.0625 and sends
-- 0.03125 to 16 (not returned); at 0.07, 15 and 14 are cut off
SELECT * FROM engram.spread('g', '{10}', threshold => 0.0625);
SELECT * FROM engram.spread('g', '{10}', threshold => 0.07);
-- inputs that are not binary fractions: sums in double precision from the
-- real inputs, reported as real (19: 0.7*0.3*0.9 + 0.7*0.8*0.9*0.8*0.9)
SELECT engram.associate('g', 17, 18, 0.8, bidirectional => false),
	   engram.associate('g', 18, 19, 0.8, bidirectional => false),
	   engram.associate('g', 17, 19, 0.3, bidirectional => false);
SELECT * FROM engram.spread('g', '{17}', decay => 0.9, seed_activation => '{0.7}');

-- spread errors -------------------------------------------------------------
SELECT * FROM engram.spread('g', '{1}', max_hops => -1);
SELECT * FROM engram.spread('g', '{1}', max_hops => 11);
SELECT * FROM engram.spread('g', '{1}', decay => 0);
SELECT * FROM engram.spread('g', '{1}', decay => 1.5);
SELECT * FROM engram.spread('g', '{1}', decay => 'NaN');
SELECT * FROM engram.spread('g', '{1}', threshold => -0.1);
SELECT * FROM engram.spread('g', '{1}', threshold => 1.01);
SELECT * FROM engram.spread('g', '{1}', threshold => 'NaN');
SELECT * FROM engram.spread('g', '{1,2}', seed_activation => '{1}');
SELECT * FROM engram.spread('g', '{1}', seed_activation => '{1,1}');
SELECT * FROM engram.spread('g', '{1}', seed_activation => '{1.5}');
SELECT * FROM engram.spread('g', '{1}', seed_activation => '{-0.5}');
SELECT * FROM engram.spread('g', '{1}', seed_activation => '{NULL}');
SELECT * FROM engram.spread('g', '{1,NULL}');
SELECT * FROM engram.spread('g', '{{1,2},{3,4}}');
SELECT * FROM engram.spread('g', '{1,2,1}');
SELECT * FROM engram.spread('g', NULL);
SELECT * FROM engram.spread(NULL, '{1}');
SELECT * FROM engram.spread('g', '{1}', max_hops => NULL);
SELECT * FROM engram.spread('g', '{1}', decay => NULL);
SELECT * FROM engram.spread('g', '{1}', threshold => NULL);

-- deleting a row removes its edges (both ends) and its recall state --------
INSERT INTO engram.memory_state VALUES ('g'::regclass, 13, 1, now()), ('g'::regclass, 14, 1, now());
SELECT src, dst FROM engram.edges WHERE 13 IN (src, dst) ORDER BY 1, 2;
DELETE FROM g WHERE id IN (13, 20);
SELECT count(*) FROM engram.edges WHERE 13 IN (src, dst);
SELECT id FROM engram.memory_state ORDER BY id;
SELECT * FROM engram.spread('g', '{10,11,12}', decay => 1);
-- the key cannot change under its edges; other columns can
UPDATE g SET id = 100 WHERE id = 1;
UPDATE g SET embedding = '[2,1]' WHERE id = 1;
-- truncate forgets everything of the table
SELECT count(*) FROM engram.edges;
TRUNCATE g;
SELECT count(*) FROM engram.edges;
SELECT count(*) FROM engram.memory_state;

-- detach --------------------------------------------------------------------
INSERT INTO g SELECT i, ARRAY[1, i]::vector FROM generate_series(1, 3) i;
SELECT engram.associate('g', 1, 2);
SELECT engram.detach('g');
SELECT count(*) FROM engram.edges;
SELECT count(*) FROM engram.memory_tables;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'g'::regclass;
SELECT engram.detach('g');
SELECT engram.associate('g', 1, 2);
DELETE FROM g;                           -- no trigger left
-- attached again, the table starts without associations
SELECT engram.attach('g');
SELECT * FROM engram.spread('g', '{1}');
DROP VIEW g_view;
DROP TABLE g_int, g_nokey, g_arr;
SELECT engram.detach('g');
-- dropping an attached table forgets it, its edges and its recall state
SELECT engram.attach('g');
INSERT INTO g VALUES (1, '[1,1]'), (2, '[1,2]');
SELECT engram.associate('g', 1, 2);
INSERT INTO engram.memory_state VALUES ('g'::regclass, 1, 1, now());
DROP TABLE g;
SELECT (SELECT count(*) FROM engram.memory_tables) AS tables,
	   (SELECT count(*) FROM engram.associations) AS edges,
	   (SELECT count(*) FROM engram.memory_state) AS states;
