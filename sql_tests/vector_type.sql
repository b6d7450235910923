-- vector: text I/O, type modifiers, operators, functions and aggregates.
-- Only pgvector-compatible SQL: t/003_pgvector_compat.pl runs this file
-- against pgvector too and requires identical output.
SET extra_float_digits = 0;

-- input and output, shortest round-trip form
SELECT '[1,2,3]'::vector;
SELECT '[-1,2.5,-3.25]'::vector;
SELECT ' [ 1 , 2 , 3 ] '::vector;
SELECT '[1.23456789,0.1,1e-10,3e38,-0]'::vector;
SELECT '[1,2,3]'::vector(3);

-- every malformed input gets pgvector's message and SQLSTATE
\set VERBOSITY default
SELECT '[1,2'::vector;
SELECT '[1,,3]'::vector;
SELECT '1,2,3'::vector;
SELECT ''::vector;
SELECT '[1,2,3]9'::vector;
SELECT '[]'::vector;
SELECT '['::vector;
SELECT '[1 2]'::vector;
SELECT '[a]'::vector;
SELECT '[NaN,1]'::vector;
SELECT '[Infinity,1]'::vector;
SELECT '[-Infinity,1]'::vector;
SELECT '[4e38,1]'::vector;
SELECT '[-4e38,1]'::vector;
SELECT '[1e-50]'::vector;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector IS NOT NULL AS max_dims;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;

-- SQLSTATEs, as clients see them
\set VERBOSITY sqlstate
SELECT '[1,2'::vector;
SELECT '[]'::vector;
SELECT '[4e38,1]'::vector;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2]'::vector(0);
\set VERBOSITY default

-- type modifiers
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2]'::vector(0);
SELECT '[1,2]'::vector(16001);
SELECT '[1,2]'::vector(3,2);
SELECT '[1,2]'::vector(16000) IS NOT NULL AS typmod_max;
CREATE TABLE vt (id int, v vector(3));
INSERT INTO vt VALUES (1, '[1,2,3]');
INSERT INTO vt VALUES (2, '[1,2]');
INSERT INTO vt VALUES (3, '[1,2,3,4]'::vector);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vt'::regclass AND attname = 'v';
DROP TABLE vt;

-- distances
SELECT '[1,2,3]'::vector <-> '[3,1,2]';
SELECT '[0,0]'::vector <-> '[3,4]';
SELECT l2_distance('[0,0]'::vector, '[3,4]');
SELECT vector_l2_squared_distance('[0,0]', '[3,4]');
SELECT '[1,2,3]'::vector <#> '[3,1,2]';
SELECT inner_product('[1,2,3]'::vector, '[3,1,2]');
SELECT vector_negative_inner_product('[1,2,3]', '[3,1,2]');
SELECT '[1,2]'::vector <=> '[2,4]';
SELECT '[1,2]'::vector <=> '[-1,-2]';
SELECT '[1,1]'::vector <=> '[1,0]';
SELECT '[0,0]'::vector <=> '[1,1]';
SELECT cosine_distance('[1,2]'::vector, '[2,4]');
SELECT '[1,2,3]'::vector <+> '[3,1,2]';
SELECT l1_distance('[0,0]'::vector, '[3,-4]');
SELECT vector_spherical_distance('[1,0]', '[0,1]');
SELECT vector_spherical_distance('[1,0]', '[1,0]');
SELECT '[1,2]'::vector <-> '[1,2,3]';
SELECT '[1,2]'::vector <#> '[1,2,3]';
SELECT '[1,2]'::vector <=> '[1,2,3]';
SELECT '[1,2]'::vector <+> '[1,2,3]';

-- arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1,2]'::vector || '[3]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e38]'::vector * '[1e38]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[1,2]'::vector + '[1,2,3]';
SELECT '[1,2]'::vector - '[1,2,3]';
SELECT '[1,2]'::vector * '[1,2,3]';
SELECT ('[' || array_to_string(array_fill(1, ARRAY[8000]), ',') || ']')::vector ||
	('[' || array_to_string(array_fill(1, ARRAY[8001]), ',') || ']')::vector;

-- functions
SELECT vector_dims('[1,2,3]'::vector);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,0]');
SELECT l2_normalize('[3,4]'::vector);
SELECT l2_normalize('[0,0]'::vector);
SELECT l2_normalize('[3e38,3e38]'::vector);
SELECT binary_quantize('[1,0,-1,2,0.5,-0.5,3,-3,1]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 0, 2);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 9);
SELECT subvector('[1,2,3,4,5]'::vector, 5, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 0);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 2);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 10);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2147483647);

-- comparison and the btree operator class
SELECT '[1,2,3]'::vector < '[1,2,4]', '[1,2,3]'::vector <= '[1,2,3]',
	'[1,2,3]'::vector = '[1,2,3]', '[1,2,3]'::vector <> '[1,2,3]',
	'[1,2,3]'::vector >= '[1,2]', '[1,2,3]'::vector > '[1,3]';
SELECT vector_cmp('[1,2]', '[1,2,3]'), vector_cmp('[2]', '[1,2,3]'), vector_cmp('[1,2]', '[1,2]');
CREATE TABLE vb (v vector);
INSERT INTO vb VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), ('[-1,100]'), (NULL);
CREATE INDEX ON vb (v);
SET enable_seqscan = off;
SELECT v FROM vb WHERE v > '[0,0]' ORDER BY v;
SELECT DISTINCT v FROM vb ORDER BY v DESC NULLS LAST;
RESET enable_seqscan;
DROP TABLE vb;

-- aggregates
SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]'), (NULL)) t (v);
SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5]')) t (v);
SELECT avg(v) FROM (SELECT '[1]'::vector v WHERE false) t;
SELECT sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]'), (NULL)) t (v);
SELECT sum(v) FROM (SELECT '[1]'::vector v WHERE false) t;
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t (v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t (v);
SELECT avg(v) FROM (VALUES ('[1e38]'::vector), ('[3e38]'), ('[3e38]'), ('[3e38]')) t (v);

-- parallel aggregation uses the combine functions
CREATE TABLE va AS SELECT ('[' || i % 7 || ',' || i % 11 || ',1]')::vector AS v FROM generate_series(1, 60000) i;
ANALYZE va;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM va;
SELECT avg(v), sum(v) FROM va;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP TABLE va;
