-- Casts between vector, halfvec and arrays, with pgvector's contexts.
-- Only pgvector-compatible SQL (see t/003_pgvector_compat.pl).
SET extra_float_digits = 0;

-- arrays to vector
SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.5,2.5,3.5]::real[]::vector;
SELECT ARRAY[1.5,2.5,3.5]::double precision[]::vector;
SELECT ARRAY[1.5,2.5,3.5]::numeric[]::vector;
SELECT '{1,2,3}'::real[]::vector(3);
SELECT '{1,2,3}'::real[]::vector(2);
SELECT '{{1,2},{3,4}}'::real[]::vector;
SELECT '{1,NULL,3}'::real[]::vector;
SELECT '{}'::real[]::vector;
SELECT '{NaN}'::real[]::vector;
SELECT '{Infinity}'::real[]::vector;
SELECT '{-Infinity}'::real[]::vector;
SELECT '{4e38}'::double precision[]::vector;
SELECT '{1e-50}'::double precision[]::vector;
SELECT '{4e38}'::numeric[]::vector;
SELECT array_fill(1, ARRAY[16001])::vector;
SELECT array_to_vector('{1,2}'::int[], -1, false);

-- assignment casts apply on INSERT; explicit only elsewhere
CREATE TABLE ct (v vector(3), h halfvec(3));
INSERT INTO ct VALUES (ARRAY[1,2,3], ARRAY[4,5,6]);
INSERT INTO ct VALUES ('{1,2,3}'::real[], '{4,5,6}'::double precision[]);
INSERT INTO ct VALUES (ARRAY[1,2], NULL);
SELECT v, h FROM ct;
DROP TABLE ct;

-- vector to real[] (implicit)
SELECT '[1,2,3]'::vector::real[];
SELECT array_length('[1,2,3]'::vector, 1);

-- arrays to halfvec
SELECT ARRAY[1,2,3]::halfvec;
SELECT ARRAY[1.5,2.5,3.5]::real[]::halfvec;
SELECT '{65520}'::real[]::halfvec;
SELECT '{1e10}'::double precision[]::halfvec;
SELECT '{NaN}'::real[]::halfvec;
SELECT '{Infinity}'::real[]::halfvec;
SELECT '{1,NULL}'::real[]::halfvec;
SELECT '{{1}}'::real[]::halfvec;
SELECT '[1,2,3]'::halfvec::real[];

-- vector <-> halfvec
SELECT '[1.1,2.2,3.3]'::vector::halfvec;
SELECT '[1.1,2.2,3.3]'::halfvec::vector;
SELECT '[1,2,3]'::vector::halfvec(2);
SELECT '[1,2,3]'::halfvec::vector(2);
SELECT '[65520]'::vector::halfvec;
SELECT '[1e-8]'::vector::halfvec;
SELECT '[1,2,3]'::vector <-> '[1,2,4]'::halfvec;
