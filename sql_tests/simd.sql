-- engram.simd_info() and the engram.simd setting.  The variant in use
-- depends on the CPU, so these checks are written to hold on any machine.

SELECT variant IN ('avx512', 'avx2', 'neon', 'scalar') AS known_variant,
	array_length(cpu_features, 1) IS NOT NULL OR variant = 'scalar' AS features_listed
FROM engram.simd_info();

-- auto picks the best variant the CPU supports
SELECT variant = CASE
		WHEN cpu_features @> '{avx512f,avx512bw,avx512vl}' THEN 'avx512'
		WHEN cpu_features @> '{avx2,fma,f16c}' THEN 'avx2'
		WHEN cpu_features @> '{neon}' THEN 'neon'
		ELSE 'scalar' END AS auto_is_best
FROM engram.simd_info();

-- scalar is always available
SET engram.simd = scalar;
SELECT variant FROM engram.simd_info();
RESET engram.simd;

-- a variant can be forced exactly when the CPU has its features
CREATE FUNCTION pg_temp.settable(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('engram.simd', v, true);
	RETURN (SELECT variant FROM engram.simd_info()) = v;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END $$;
BEGIN;
SELECT v AS variant,
	pg_temp.settable(v) = (cpu_features @> CASE v
		WHEN 'avx512' THEN '{avx512f,avx512bw,avx512vl}'
		WHEN 'avx2' THEN '{avx2,fma,f16c}'
		WHEN 'neon' THEN '{neon}'
		ELSE '{}' END::text[]) AS consistent
FROM engram.simd_info(), unnest(ARRAY['avx512', 'avx2', 'neon', 'scalar']) v;
ROLLBACK;

-- bad values and privileges
SET engram.simd = sse2;
CREATE ROLE engram_simd_user;
SET ROLE engram_simd_user;
SET engram.simd = scalar;
RESET ROLE;
DROP ROLE engram_simd_user;

-- every variant this CPU runs gives the same distances as scalar, within
-- float rounding (the kernel tests in t/001_simd_kernels.pl go further)
CREATE TABLE simd_vecs AS
SELECT i, (SELECT array_agg(sin(i * 7 + j * 13)::real) FROM generate_series(1, 1000 + i % 37) j)::vector AS v
FROM generate_series(1, 40) i;
CREATE TABLE simd_results (variant text, i int, j int, l2 float8, ip float8, cos float8, l1 float8, hl2 float8, hcos float8);
CREATE FUNCTION pg_temp.distances(variant text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT pg_temp.settable(variant) THEN
		RETURN;
	END IF;
	INSERT INTO simd_results
	SELECT variant, a.i, b.i, a.v <-> b.v, a.v <#> b.v, a.v <=> b.v, a.v <+> b.v,
		a.v::halfvec <-> b.v::halfvec, a.v::halfvec <=> b.v::halfvec
	FROM simd_vecs a JOIN simd_vecs b ON vector_dims(a.v) = vector_dims(b.v);
END $$;
BEGIN;
SELECT count(*) AS variants_tried FROM (SELECT pg_temp.distances(v) FROM unnest(ARRAY['scalar', 'avx2', 'avx512', 'neon']) v) s;
COMMIT;
SELECT count(DISTINCT r.variant) >= 1 AS variants_ran,
	count(*) FILTER (WHERE abs(r.l2 - s.l2) > 1e-5 * s.l2 + 1e-6
		OR abs(r.ip - s.ip) > 1e-5 * abs(s.ip) + 1e-4
		OR abs(r.cos - s.cos) > 1e-5
		OR abs(r.l1 - s.l1) > 1e-5 * s.l1 + 1e-6
		OR abs(r.hl2 - s.hl2) > 1e-4 * s.hl2 + 1e-4
		OR abs(r.hcos - s.hcos) > 1e-4) AS mismatches
FROM simd_results r JOIN simd_results s USING (i, j)
WHERE s.variant = 'scalar';
DROP TABLE simd_vecs, simd_results;
