-- engram_alex: every type and operator, NULLs, duplicates, empty tables,
-- ORDER BY both ways, index-only and bitmap scans, errors, maintenance.
SET enable_seqscan = off;

-- int8 with NULLs and duplicates
CREATE TABLE ti (id int, k int8);
INSERT INTO ti SELECT g, (g % 50) * 10 FROM generate_series(1, 1000) g;
INSERT INTO ti VALUES (1001, NULL), (1002, NULL), (1003, -9223372036854775808), (1004, 9223372036854775807);
CREATE INDEX ti_k ON ti USING engram_alex (k);
SELECT * FROM engram.alex_check('ti_k');
SELECT depth, model_nodes, data_nodes, null_nodes, keys, null_keys FROM engram.alex_stats('ti_k');

EXPLAIN (COSTS OFF) SELECT k FROM ti WHERE k = 40;
SELECT count(*) FROM ti WHERE k = 40;
SELECT count(*) FROM ti WHERE k < 40;
SELECT count(*) FROM ti WHERE k <= 40;
SELECT count(*) FROM ti WHERE k > 450;
SELECT count(*) FROM ti WHERE k >= 450;
SELECT count(*) FROM ti WHERE k BETWEEN 100 AND 200;
SELECT count(*) FROM ti WHERE k = ANY (ARRAY[0, 10, 15, NULL]);
SELECT count(*) FROM ti WHERE k IS NULL;
SELECT count(*) FROM ti WHERE k IS NOT NULL;
SELECT count(*) FROM ti WHERE k = NULL;
SELECT count(*) FROM ti WHERE k > 300 AND k < 100;
-- cross-type within the integer family
SELECT count(*) FROM ti WHERE k = 40::int2;
SELECT count(*) FROM ti WHERE k < 40::int4;
SELECT count(*) FROM ti WHERE k >= 2147483648::int8;
-- ORDER BY both ways, NULLs last ascending and first descending
EXPLAIN (COSTS OFF) SELECT k FROM ti ORDER BY k LIMIT 3;
SELECT k FROM ti ORDER BY k LIMIT 3;
EXPLAIN (COSTS OFF) SELECT k FROM ti ORDER BY k DESC LIMIT 4;
SELECT k FROM ti ORDER BY k DESC LIMIT 4;
SELECT k FROM ti WHERE k > 470 ORDER BY k DESC;
SELECT id, k FROM ti WHERE k IS NULL ORDER BY k;
-- bitmap scans
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ti WHERE k BETWEEN 100 AND 200;
SELECT count(*) FROM ti WHERE k BETWEEN 100 AND 200;
SELECT count(*) FROM ti WHERE k IS NULL;
RESET enable_indexscan;
RESET enable_indexonlyscan;
-- without ORDER BY or a condition the index is not chosen
RESET enable_seqscan;
EXPLAIN (COSTS OFF) SELECT k FROM ti;
SET enable_seqscan = off;

-- every other type, with its edge values
CREATE TABLE tt (i2 int2, i4 int4, f4 float4, f8 float8, d date, ts timestamp, tz timestamptz);
INSERT INTO tt VALUES
	(-32768, -2147483648, '-Infinity', '-Infinity', '-infinity', '-infinity', '-infinity'),
	(-1, -1, '-0', '-0', '1999-12-31', '1999-12-31 23:59:59.999999', '1999-12-31 23:59:59.999999+00'),
	(0, 0, '0', '0', '2000-01-01', '2000-01-01 00:00', '2000-01-01 00:00+00'),
	(1, 1, '1.5', '1.5', '2000-01-02', '2000-01-01 12:00', '2000-01-01 12:00+00'),
	(32767, 2147483647, 'Infinity', 'Infinity', 'infinity', 'infinity', 'infinity'),
	(NULL, NULL, 'NaN', 'NaN', NULL, NULL, NULL);
CREATE INDEX tt_i2 ON tt USING engram_alex (i2);
CREATE INDEX tt_i4 ON tt USING engram_alex (i4);
CREATE INDEX tt_f4 ON tt USING engram_alex (f4);
CREATE INDEX tt_f8 ON tt USING engram_alex (f8);
CREATE INDEX tt_d ON tt USING engram_alex (d);
CREATE INDEX tt_ts ON tt USING engram_alex (ts);
CREATE INDEX tt_tz ON tt USING engram_alex (tz);
SET TimeZone = 'UTC';
SELECT i2 FROM tt ORDER BY i2;
SELECT i4 FROM tt WHERE i4 > -5 ORDER BY i4 DESC;
SELECT count(*) FROM tt WHERE i2 = 32767::int8;
SELECT count(*) FROM tt WHERE i2 < 100000::int4;
SELECT count(*) FROM tt WHERE i4 > 3000000000::int8;
-- floats: -0 = 0, NaN above Infinity, index-only scans return -0
SELECT f8 FROM tt ORDER BY f8;
SELECT f4 FROM tt ORDER BY f4 DESC;
SELECT f8 FROM tt WHERE f8 = 0;
SELECT f8 FROM tt WHERE f8 > 0;
SELECT f8 FROM tt WHERE f8 < 0;
SELECT f4 FROM tt WHERE f4 <= 0;
SELECT f8 FROM tt WHERE f8 = 'NaN';
SELECT f8 FROM tt WHERE f8 > 'Infinity';
SELECT f4 FROM tt WHERE f4 = 1.5::float8;
SELECT f4 FROM tt WHERE f4 < 1.5000001::float8 AND f4 > 1.4999999::float8;
SELECT f8 FROM tt WHERE f8 = 1.5::float4;
-- dates and timestamps, with cross-type comparisons
SELECT d FROM tt ORDER BY d;
SELECT d FROM tt WHERE d < '2000-01-01 00:00:01'::timestamp ORDER BY d;
SELECT d FROM tt WHERE d = '2000-01-01 00:00'::timestamp;
SELECT d FROM tt WHERE d = '2000-01-01 00:00:01'::timestamp;
SELECT d FROM tt WHERE d >= '2000-01-01 12:00+00'::timestamptz;
SELECT ts FROM tt WHERE ts >= '2000-01-01'::date ORDER BY ts;
SELECT ts FROM tt WHERE ts < '2000-01-01 12:00+00'::timestamptz ORDER BY ts DESC;
SELECT tz FROM tt WHERE tz > '2000-01-01'::date ORDER BY tz;
SELECT tz FROM tt WHERE tz <= '2000-01-01 00:00'::timestamp ORDER BY tz;
SELECT tz FROM tt WHERE tz = ANY (ARRAY['2000-01-01 12:00', 'infinity']::timestamp[]);
SET TimeZone = 'America/New_York';
SELECT tz FROM tt WHERE tz <= '1999-12-31 19:00'::timestamp ORDER BY tz;
RESET TimeZone;
EXPLAIN (COSTS OFF) SELECT d FROM tt WHERE d < '2000-01-01 00:00:01'::timestamp;
SELECT * FROM engram.alex_check('tt_tz');

-- empty tables, inserts into an empty index, unlogged tables
CREATE UNLOGGED TABLE te (k int4);
CREATE INDEX te_k ON te USING engram_alex (k);
SELECT count(*) FROM te WHERE k > 0;
SELECT k FROM te ORDER BY k DESC LIMIT 1;
INSERT INTO te SELECT g FROM generate_series(1, 5000) g;
INSERT INTO te SELECT NULL FROM generate_series(1, 700);
SELECT count(*), min(k), max(k) FROM te WHERE k > 0;
SELECT count(*) FROM te WHERE k IS NULL;
SELECT k FROM te ORDER BY k DESC LIMIT 2;
SELECT * FROM engram.alex_check('te_k');
TRUNCATE te;
SELECT count(*) FROM te WHERE k > 0;
INSERT INTO te VALUES (7);
SELECT k FROM te WHERE k = 7;
REINDEX INDEX te_k;
SELECT k FROM te WHERE k >= 7;

-- delete, VACUUM, and reuse
DELETE FROM ti WHERE k < 250;
VACUUM ti;
SELECT count(*) FROM ti WHERE k < 250;
SELECT count(*) FROM ti WHERE k >= 250;
INSERT INTO ti SELECT g, (g % 25) * 10 FROM generate_series(1, 500) g;
SELECT count(*) FROM ti WHERE k < 250;
SELECT * FROM engram.alex_check('ti_k');

-- the encoding: bit-packed keys and TIDs (README, "Data pages")
CREATE TABLE tp (k int8);
INSERT INTO tp SELECT (hashint8extended(g, 1) >> 2) & 4611686018427387903
FROM generate_series(1, 50000) g;
CREATE INDEX tp_k ON tp USING engram_alex (k);
SELECT * FROM engram.alex_check('tp_k');
-- 14-byte slots (8-byte key, 6-byte TID) at 80% would be 17.5 bytes per key;
-- these keys span ~56 bits a page, the TIDs 17 bits
SELECT keys, bytes_per_key < 14 AS packed FROM engram.alex_stats('tp_k');
-- a heap that outgrows the TID width the nodes were written with: the
-- inserts that do not fit rebuild their node with wider TIDs
CREATE TABLE tw (k int8);
INSERT INTO tw SELECT g FROM generate_series(1, 100) g;
CREATE INDEX tw_k ON tw USING engram_alex (k);
INSERT INTO tw SELECT g % 100 FROM generate_series(1, 20000) g;
SELECT * FROM engram.alex_check('tw_k');
SELECT count(*), count(DISTINCT k) FROM tw WHERE k BETWEEN 10 AND 19;
SELECT k, count(*) FROM tw WHERE k = 99 GROUP BY k;
DROP TABLE tp, tw;

-- errors
CREATE TABLE terr (a int4, b int4, s text);
CREATE INDEX ON terr USING engram_alex (a, b);
CREATE INDEX ON terr USING engram_alex (s);
CREATE INDEX ON terr USING engram_alex (a) WITH (fillfactor = 50);
CREATE UNIQUE INDEX ON terr USING engram_alex (a);
CREATE INDEX terr_a ON terr USING btree (a);
SELECT * FROM engram.alex_check('terr_a');
SELECT * FROM engram.alex_stats('terr');
DROP TABLE terr;

-- an index expression, a partial index
CREATE TABLE tx (k int4);
INSERT INTO tx SELECT g FROM generate_series(1, 2000) g;
CREATE INDEX tx_neg ON tx USING engram_alex ((-k)) WHERE k % 2 = 0;
SELECT k FROM tx WHERE -k > -7 AND k % 2 = 0 ORDER BY -k;
DROP TABLE ti, tt, te, tx;

-- the planner: engram_alex where btree would be used, a sequential scan
-- where btree would not be used either
RESET enable_seqscan;
CREATE TABLE tp (k int4, pad text);
INSERT INTO tp SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
VACUUM ANALYZE tp;
CREATE FUNCTION scan_kind(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	plan json;
	node json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
	node := plan -> 0 -> 'Plan';
	WHILE node -> 'Plans' IS NOT NULL LOOP
		node := node -> 'Plans' -> 0;
	END LOOP;
	RETURN node ->> 'Node Type';
END
$$;
CREATE TEMP TABLE queries (n int, q text);
INSERT INTO queries VALUES
	(1, 'SELECT * FROM tp WHERE k = 77'),
	(2, 'SELECT * FROM tp WHERE k BETWEEN 100 AND 150'),
	(3, 'SELECT * FROM tp WHERE k > 100'),
	(4, 'SELECT * FROM tp ORDER BY k LIMIT 5'),
	(5, 'SELECT * FROM tp ORDER BY k DESC LIMIT 5'),
	(6, 'SELECT k FROM tp WHERE k < 1000'),
	(7, 'SELECT * FROM tp WHERE k = ANY (ARRAY[5, 500, 5000])'),
	(8, 'SELECT * FROM tp'),
	(9, 'SELECT count(*) FROM tp WHERE k % 7 = 0');
CREATE INDEX tp_k ON tp USING engram_alex (k);
CREATE TEMP TABLE alex_plans AS SELECT n, scan_kind(q) AS alex FROM queries;
DROP INDEX tp_k;
CREATE INDEX tp_k ON tp USING btree (k);
SELECT q, alex, scan_kind(q) AS btree FROM queries JOIN alex_plans USING (n) ORDER BY n;
DROP TABLE tp;
DROP FUNCTION scan_kind;
