-- engram_alex against btree: seeded random tables (uniform, sequential,
-- lognormal, heavy duplicates) and thousands of random predicates, after
-- the build, after inserts, after deletes and VACUUM.  Each check runs
-- every predicate on a table indexed by engram_alex and on an identical one
-- indexed by btree (sequential scans off, index and bitmap scans in turn)
-- and fails on the first difference.
SET client_min_messages = warning;

CREATE TABLE da (k int8);
CREATE TABLE db (k int8);

CREATE FUNCTION alex_gen(dist text, n int) RETURNS SETOF int8 LANGUAGE sql AS $$
	SELECT CASE
		WHEN random() < 0.01 THEN NULL
		WHEN dist = 'uniform' THEN (random() * 1e9)::int8 - 500000000
		WHEN dist = 'sequential' THEN g::int8 * 3
		WHEN dist = 'lognormal' THEN exp(random() * 0 + 2 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()))::int8 * 1000
		ELSE (random() * 20)::int8
	END
	FROM generate_series(1, n) g
$$;

-- a random key near the data (or outside it)
CREATE FUNCTION alex_key(lo int8, hi int8) RETURNS int8 LANGUAGE sql AS $$
	SELECT lo + ((hi - lo + 20) * random())::int8 - 10
$$;

CREATE FUNCTION alex_compare(npred int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	lo int8;
	hi int8;
	pred text;
	q text;
	ra text;
	rb text;
	ops text[] := ARRAY['=', '<', '<=', '>', '>='];
	kind int;
BEGIN
	SELECT min(k), max(k) INTO lo, hi FROM db;
	lo := coalesce(lo, 0);
	hi := coalesce(hi, 100);
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR i IN 1 .. npred LOOP
		kind := (random() * 7)::int;
		pred := CASE kind
			WHEN 0 THEN format('k %s %s', ops[1 + (random() * 4)::int], alex_key(lo, hi))
			WHEN 1 THEN format('k BETWEEN %s AND %s', alex_key(lo, hi), alex_key(lo, hi))
			WHEN 2 THEN format('k = ANY (ARRAY[%s, %s, %s, NULL]::int8[])', alex_key(lo, hi),
							   alex_key(lo, hi), alex_key(lo, hi))
			WHEN 3 THEN format('k %s %s AND k %s %s', ops[1 + (random() * 4)::int], alex_key(lo, hi),
							   ops[1 + (random() * 4)::int], alex_key(lo, hi))
			WHEN 4 THEN format('k %s %s::int4', ops[1 + (random() * 4)::int],
							   greatest(least(alex_key(lo, hi), 2147483647), -2147483648))
			WHEN 5 THEN (ARRAY['k IS NULL', 'k IS NOT NULL'])[1 + (random())::int]
			ELSE format('k = ANY (ARRAY[%s, %s]::int2[])', (random() * 30)::int, (random() * 30)::int)
		END;
		PERFORM set_config('enable_bitmapscan', CASE WHEN random() < 0.5 THEN 'on' ELSE 'off' END, true);
		PERFORM set_config('enable_indexscan', CASE WHEN current_setting('enable_bitmapscan') = 'on'
							THEN 'off' ELSE 'on' END, true);
		FOR shape IN 1 .. 3 LOOP
			q := CASE shape
				WHEN 1 THEN 'SELECT count(*) || '' '' || coalesce(sum(k), 0) || '' '' || count(k) FROM %I WHERE ' || pred
				WHEN 2 THEN 'SELECT array_agg(k)::text FROM (SELECT k FROM %I WHERE ' || pred || ' ORDER BY k LIMIT 7) s'
				ELSE 'SELECT array_agg(k)::text FROM (SELECT k FROM %I WHERE ' || pred || ' ORDER BY k DESC LIMIT 7) s'
			END;
			EXECUTE format(q, 'da') INTO ra;
			EXECUTE format(q, 'db') INTO rb;
			IF ra IS DISTINCT FROM rb THEN
				RAISE EXCEPTION 'engram_alex and btree differ on "%": % vs %', format(q, 'da'), ra, rb;
			END IF;
		END LOOP;
	END LOOP;
	RETURN format('%s predicates agree', npred);
END
$$;

CREATE FUNCTION alex_load(dist text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CREATE TEMP TABLE src AS SELECT alex_gen(dist, n) AS k;
	INSERT INTO da SELECT k FROM src;
	INSERT INTO db SELECT k FROM src;
	DROP TABLE src;
END
$$;

CREATE FUNCTION alex_delete(frac float8) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CREATE TEMP TABLE victims AS SELECT DISTINCT k FROM db WHERE random() < frac;
	DELETE FROM da WHERE k IN (SELECT k FROM victims);
	DELETE FROM db WHERE k IN (SELECT k FROM victims);
	DROP TABLE victims;
END
$$;

-- the same steps for each distribution
\set dists 'uniform sequential lognormal duplicates'
SELECT setseed(0.17);

SELECT alex_load('uniform', 6000);
CREATE INDEX da_k ON da USING engram_alex (k);
CREATE INDEX db_k ON db (k);
SELECT alex_compare(400);
SELECT alex_load('uniform', 6000);
SELECT alex_compare(400);
SELECT alex_delete(0.3);
VACUUM da;
VACUUM db;
SELECT alex_compare(400);
SELECT * FROM engram.alex_check('da_k');

TRUNCATE da, db;
SELECT alex_load('sequential', 6000);
REINDEX INDEX da_k;
SELECT alex_compare(400);
SELECT alex_load('sequential', 6000);
SELECT alex_compare(400);
SELECT alex_delete(0.3);
VACUUM da;
VACUUM db;
SELECT alex_compare(400);
SELECT * FROM engram.alex_check('da_k');

TRUNCATE da, db;
SELECT alex_load('lognormal', 6000);
REINDEX INDEX da_k;
SELECT alex_compare(400);
SELECT alex_load('lognormal', 6000);
SELECT alex_compare(400);
SELECT alex_delete(0.3);
VACUUM da;
VACUUM db;
SELECT alex_compare(400);
SELECT * FROM engram.alex_check('da_k');

-- heavy duplicates: 21 distinct keys, built empty and filled by inserts
TRUNCATE da, db;
REINDEX INDEX da_k;
SELECT alex_load('duplicates', 6000);
SELECT alex_compare(300);
SELECT alex_load('duplicates', 6000);
SELECT alex_compare(300);
SELECT alex_delete(0.3);
VACUUM da;
VACUUM db;
SELECT alex_compare(300);
SELECT * FROM engram.alex_check('da_k');
SELECT data_nodes > 1 AS split_duplicates, keys = (SELECT count(k) FROM db) AS all_keys,
	null_keys = (SELECT count(*) - count(k) FROM db) AS all_nulls
FROM engram.alex_stats('da_k');

DROP TABLE da, db;
DROP FUNCTION alex_gen, alex_key, alex_compare, alex_load, alex_delete;
