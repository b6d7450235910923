-- halfvec: text I/O, type modifiers, operators, functions and aggregates.
-- Only pgvector-compatible SQL (see t/003_pgvector_compat.pl).
SET extra_float_digits = 0;

-- input and output; elements are rounded to half precision
SELECT '[1,2,3]'::halfvec;
SELECT '[-1,2.5,-3.25]'::halfvec;
SELECT ' [ 1 , 2 , 3 ] '::halfvec;
SELECT '[1.23456789,0.1,65504,-65504,6e-8,1e-8,-0]'::halfvec;
SELECT '[1.0004883,1.0014648,2049,2051]'::halfvec;
SELECT '[1,2,3]'::halfvec(3);

-- malformed input
SELECT '[1,2'::halfvec;
SELECT '[1,,3]'::halfvec;
SELECT '1,2,3'::halfvec;
SELECT ''::halfvec;
SELECT '[1,2,3]9'::halfvec;
SELECT '[]'::halfvec;
SELECT '[NaN,1]'::halfvec;
SELECT '[Infinity,1]'::halfvec;
SELECT '[-Infinity,1]'::halfvec;
SELECT '[65520,1]'::halfvec;
SELECT '[-65520,1]'::halfvec;
SELECT '[65519,1]'::halfvec;
SELECT '[4e38,1]'::halfvec;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::halfvec IS NOT NULL AS max_dims;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::halfvec;

-- type modifiers
SELECT '[1,2,3]'::halfvec(2);
SELECT '[1,2]'::halfvec(0);
SELECT '[1,2]'::halfvec(16001);
SELECT '[1,2]'::halfvec(3,2);

-- distances
SELECT '[1,2,3]'::halfvec <-> '[3,1,2]';
SELECT l2_distance('[0,0]'::halfvec, '[3,4]');
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]');
SELECT '[1,2,3]'::halfvec <#> '[3,1,2]';
SELECT inner_product('[1,2,3]'::halfvec, '[3,1,2]');
SELECT '[1,2]'::halfvec <=> '[2,4]';
SELECT '[1,1]'::halfvec <=> '[1,0]';
SELECT '[0,0]'::halfvec <=> '[1,1]';
SELECT '[1,2,3]'::halfvec <+> '[3,1,2]';
SELECT halfvec_spherical_distance('[1,0]', '[0,1]');
SELECT '[1,2]'::halfvec <-> '[1,2,3]';
SELECT '[1,2]'::halfvec <=> '[1,2,3]';

-- arithmetic
SELECT '[1,2,3]'::halfvec + '[4,5,6]';
SELECT '[1,2,3]'::halfvec - '[4,5,6]';
SELECT '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[1,2]'::halfvec || '[3]';
SELECT '[65504]'::halfvec + '[65504]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[256]'::halfvec * '[256]';
SELECT '[1e-4]'::halfvec * '[1e-4]';
SELECT '[1,2]'::halfvec + '[1,2,3]';

-- functions
SELECT vector_dims('[1,2,3]'::halfvec);
SELECT l2_norm('[3,4]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec);
SELECT l2_normalize('[0,0]'::halfvec);
SELECT binary_quantize('[1,0,-1,2,0.5,-0.5,3,-3,1]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 0);

-- comparison and the btree operator class
SELECT '[1,2,3]'::halfvec < '[1,2,4]', '[1,2,3]'::halfvec = '[1,2,3]',
	'[1,2,3]'::halfvec > '[1,2]', halfvec_cmp('[1,2]', '[1,2,3]');
CREATE TABLE hb (v halfvec);
INSERT INTO hb VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), (NULL);
CREATE INDEX ON hb (v);
SET enable_seqscan = off;
SELECT v FROM hb WHERE v >= '[1,2]' ORDER BY v;
RESET enable_seqscan;
DROP TABLE hb;

-- aggregates
SELECT avg(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]'), (NULL)) t (v);
SELECT avg(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5]')) t (v);
SELECT avg(v) FROM (SELECT '[1]'::halfvec v WHERE false) t;
SELECT sum(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]')) t (v);
SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t (v);
SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t (v);
