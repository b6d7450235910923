-- engram 0.1.0 install script
--
-- The vector types, their operators, casts and operator classes go into the
-- schema CREATE EXTENSION picks (@extschema@, public by default) under
-- pgvector's names, so SQL written for pgvector runs unchanged.  engram's own
-- API lives in the schema "engram", which the extension creates and owns.
-- Every C symbol carries an engram_ prefix so that pgvector's library can be
-- loaded into the same backend.

\echo Use "CREATE EXTENSION engram" to load this file. \quit

CREATE SCHEMA engram;
COMMENT ON SCHEMA engram IS 'engram extension API';
-- as in schema public: every role may call the API (some functions are
-- revoked from PUBLIC one by one)
GRANT USAGE ON SCHEMA engram TO PUBLIC;

-- vector ----------------------------------------------------------------

CREATE TYPE vector;

CREATE FUNCTION vector_in(cstring, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_in(cstring, oid, integer) IS 'I/O';

CREATE FUNCTION vector_out(vector) RETURNS cstring
	AS 'MODULE_PATHNAME', 'engram_vector_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_out(vector) IS 'I/O';

CREATE FUNCTION vector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME', 'engram_vector_typmod_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_typmod_in(cstring[]) IS 'I/O typmod';

CREATE FUNCTION vector_recv(internal, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_recv(internal, oid, integer) IS 'I/O';

CREATE FUNCTION vector_send(vector) RETURNS bytea
	AS 'MODULE_PATHNAME', 'engram_vector_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_send(vector) IS 'I/O';

CREATE TYPE vector (
	INPUT     = vector_in,
	OUTPUT    = vector_out,
	TYPMOD_IN = vector_typmod_in,
	RECEIVE   = vector_recv,
	SEND      = vector_send,
	STORAGE   = external
);
COMMENT ON TYPE vector IS 'single-precision vector';

CREATE FUNCTION l2_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(vector, vector) IS 'Euclidean distance';

CREATE FUNCTION inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(vector, vector) IS 'inner product';

CREATE FUNCTION cosine_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(vector, vector) IS 'cosine distance';

CREATE FUNCTION l1_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(vector, vector) IS 'taxicab distance';

CREATE FUNCTION vector_dims(vector) RETURNS integer
	AS 'MODULE_PATHNAME', 'engram_vector_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_dims(vector) IS 'number of dimensions';

CREATE FUNCTION vector_norm(vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_norm(vector) IS 'Euclidean norm';

CREATE FUNCTION l2_normalize(vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(vector) IS 'normalize with Euclidean norm';

CREATE FUNCTION binary_quantize(vector) RETURNS bit
	AS 'MODULE_PATHNAME', 'engram_vector_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(vector) IS 'binary quantize';

CREATE FUNCTION subvector(vector, int, int) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvector(vector, int, int) IS 'subvector';

CREATE FUNCTION vector_add(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_add(vector, vector) IS 'implementation of + operator';

CREATE FUNCTION vector_sub(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_sub(vector, vector) IS 'implementation of - operator';

CREATE FUNCTION vector_mul(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_mul' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_mul(vector, vector) IS 'implementation of * operator';

CREATE FUNCTION vector_concat(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_concat' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_concat(vector, vector) IS 'implementation of || operator';

CREATE FUNCTION vector_lt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_vector_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_lt(vector, vector) IS 'implementation of < operator';

CREATE FUNCTION vector_le(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_vector_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_le(vector, vector) IS 'implementation of <= operator';

CREATE FUNCTION vector_eq(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_vector_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_eq(vector, vector) IS 'implementation of = operator';

CREATE FUNCTION vector_ne(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_vector_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_ne(vector, vector) IS 'implementation of <> operator';

CREATE FUNCTION vector_ge(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_vector_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_ge(vector, vector) IS 'implementation of >= operator';

CREATE FUNCTION vector_gt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_vector_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_gt(vector, vector) IS 'implementation of > operator';

CREATE FUNCTION vector_cmp(vector, vector) RETURNS int4
	AS 'MODULE_PATHNAME', 'engram_vector_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_cmp(vector, vector) IS 'less-equal-greater';

CREATE FUNCTION vector_l2_squared_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_l2_squared_distance(vector, vector) IS 'squared Euclidean distance';

CREATE FUNCTION vector_negative_inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_negative_inner_product(vector, vector) IS 'negative inner product';

CREATE FUNCTION vector_spherical_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_vector_spherical_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_spherical_distance(vector, vector) IS 'spherical distance';

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'engram_vector_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_accum(double precision[], vector) IS 'aggregate transition function';

CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_avg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_avg(double precision[]) IS 'aggregate final function';

CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'engram_vector_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_combine(double precision[], double precision[]) IS 'aggregate combine function';

CREATE AGGREGATE avg(vector) (
	SFUNC = vector_accum,
	STYPE = double precision[],
	FINALFUNC = vector_avg,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(vector) IS 'the average (arithmetic mean) as vector of all vector values';

CREATE AGGREGATE sum(vector) (
	SFUNC = vector_add,
	STYPE = vector,
	COMBINEFUNC = vector_add,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(vector) IS 'sum as vector across all vector input values';

CREATE FUNCTION vector(vector, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector(vector, integer, boolean) IS 'adjust vector to typmod';

CREATE FUNCTION array_to_vector(integer[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vector(integer[], integer, boolean) IS 'convert int4 array to vector';

CREATE FUNCTION array_to_vector(real[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vector(real[], integer, boolean) IS 'convert float4 array to vector';

CREATE FUNCTION array_to_vector(double precision[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vector(double precision[], integer, boolean) IS 'convert float8 array to vector';

CREATE FUNCTION array_to_vector(numeric[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_vector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vector(numeric[], integer, boolean) IS 'convert numeric array to vector';

CREATE FUNCTION vector_to_float4(vector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'engram_vector_to_float4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_to_float4(vector, integer, boolean) IS 'convert vector to float4 array';

CREATE CAST (vector AS vector)
	WITH FUNCTION vector(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (vector AS real[])
	WITH FUNCTION vector_to_float4(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (integer[] AS vector)
	WITH FUNCTION array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS vector)
	WITH FUNCTION array_to_vector(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS vector)
	WITH FUNCTION array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS vector)
	WITH FUNCTION array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

CREATE OPERATOR <-> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_negative_inner_product,
	COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);

CREATE OPERATOR + (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_add,
	COMMUTATOR = +
);
COMMENT ON OPERATOR + (vector, vector) IS 'add';

CREATE OPERATOR - (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_sub
);
COMMENT ON OPERATOR - (vector, vector) IS 'subtract';

CREATE OPERATOR * (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_mul,
	COMMUTATOR = *
);
COMMENT ON OPERATOR * (vector, vector) IS 'multiply';

CREATE OPERATOR || (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_concat
);
COMMENT ON OPERATOR || (vector, vector) IS 'concatenate';

CREATE OPERATOR < (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (vector, vector) IS 'less than';

CREATE OPERATOR <= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (vector, vector) IS 'less than or equal';

CREATE OPERATOR = (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
COMMENT ON OPERATOR = (vector, vector) IS 'equal';

CREATE OPERATOR <> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (vector, vector) IS 'not equal';

CREATE OPERATOR >= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (vector, vector) IS 'greater than or equal';

CREATE OPERATOR > (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (vector, vector) IS 'greater than';

CREATE OPERATOR CLASS vector_ops
	DEFAULT FOR TYPE vector USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 vector_cmp(vector, vector);

-- halfvec ---------------------------------------------------------------

CREATE TYPE halfvec;

CREATE FUNCTION halfvec_in(cstring, oid, integer) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_in(cstring, oid, integer) IS 'I/O';

CREATE FUNCTION halfvec_out(halfvec) RETURNS cstring
	AS 'MODULE_PATHNAME', 'engram_halfvec_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_out(halfvec) IS 'I/O';

CREATE FUNCTION halfvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME', 'engram_halfvec_typmod_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_typmod_in(cstring[]) IS 'I/O typmod';

CREATE FUNCTION halfvec_recv(internal, oid, integer) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_recv(internal, oid, integer) IS 'I/O';

CREATE FUNCTION halfvec_send(halfvec) RETURNS bytea
	AS 'MODULE_PATHNAME', 'engram_halfvec_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_send(halfvec) IS 'I/O';

CREATE TYPE halfvec (
	INPUT     = halfvec_in,
	OUTPUT    = halfvec_out,
	TYPMOD_IN = halfvec_typmod_in,
	RECEIVE   = halfvec_recv,
	SEND      = halfvec_send,
	STORAGE   = external
);
COMMENT ON TYPE halfvec IS 'half-precision vector';

CREATE FUNCTION l2_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(halfvec, halfvec) IS 'Euclidean distance';

CREATE FUNCTION inner_product(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(halfvec, halfvec) IS 'inner product';

CREATE FUNCTION cosine_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(halfvec, halfvec) IS 'cosine distance';

CREATE FUNCTION l1_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(halfvec, halfvec) IS 'taxicab distance';

CREATE FUNCTION vector_dims(halfvec) RETURNS integer
	AS 'MODULE_PATHNAME', 'engram_halfvec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_dims(halfvec) IS 'number of dimensions';

CREATE FUNCTION l2_norm(halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_norm(halfvec) IS 'Euclidean norm';

CREATE FUNCTION l2_normalize(halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(halfvec) IS 'normalize with Euclidean norm';

CREATE FUNCTION binary_quantize(halfvec) RETURNS bit
	AS 'MODULE_PATHNAME', 'engram_halfvec_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(halfvec) IS 'binary quantize';

CREATE FUNCTION subvector(halfvec, int, int) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvector(halfvec, int, int) IS 'subvector';

CREATE FUNCTION halfvec_add(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_add(halfvec, halfvec) IS 'implementation of + operator';

CREATE FUNCTION halfvec_sub(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_sub(halfvec, halfvec) IS 'implementation of - operator';

CREATE FUNCTION halfvec_mul(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_mul' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_mul(halfvec, halfvec) IS 'implementation of * operator';

CREATE FUNCTION halfvec_concat(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_concat' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_concat(halfvec, halfvec) IS 'implementation of || operator';

CREATE FUNCTION halfvec_lt(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_halfvec_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_lt(halfvec, halfvec) IS 'implementation of < operator';

CREATE FUNCTION halfvec_le(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_halfvec_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_le(halfvec, halfvec) IS 'implementation of <= operator';

CREATE FUNCTION halfvec_eq(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_halfvec_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_eq(halfvec, halfvec) IS 'implementation of = operator';

CREATE FUNCTION halfvec_ne(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_halfvec_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_ne(halfvec, halfvec) IS 'implementation of <> operator';

CREATE FUNCTION halfvec_ge(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_halfvec_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_ge(halfvec, halfvec) IS 'implementation of >= operator';

CREATE FUNCTION halfvec_gt(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME', 'engram_halfvec_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_gt(halfvec, halfvec) IS 'implementation of > operator';

CREATE FUNCTION halfvec_cmp(halfvec, halfvec) RETURNS int4
	AS 'MODULE_PATHNAME', 'engram_halfvec_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_cmp(halfvec, halfvec) IS 'less-equal-greater';

CREATE FUNCTION halfvec_l2_squared_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_l2_squared_distance(halfvec, halfvec) IS 'squared Euclidean distance';

CREATE FUNCTION halfvec_negative_inner_product(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_negative_inner_product(halfvec, halfvec) IS 'negative inner product';

CREATE FUNCTION halfvec_spherical_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'engram_halfvec_spherical_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_spherical_distance(halfvec, halfvec) IS 'spherical distance';

CREATE FUNCTION halfvec_accum(double precision[], halfvec) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'engram_halfvec_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_accum(double precision[], halfvec) IS 'aggregate transition function';

CREATE FUNCTION halfvec_avg(double precision[]) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_avg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_avg(double precision[]) IS 'aggregate final function';

CREATE FUNCTION halfvec_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'engram_halfvec_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_combine(double precision[], double precision[]) IS 'aggregate combine function';

CREATE AGGREGATE avg(halfvec) (
	SFUNC = halfvec_accum,
	STYPE = double precision[],
	FINALFUNC = halfvec_avg,
	COMBINEFUNC = halfvec_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(halfvec) IS 'the average (arithmetic mean) as halfvec of all halfvec values';

CREATE AGGREGATE sum(halfvec) (
	SFUNC = halfvec_add,
	STYPE = halfvec,
	COMBINEFUNC = halfvec_add,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(halfvec) IS 'sum as halfvec across all halfvec input values';

CREATE FUNCTION halfvec(halfvec, integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec(halfvec, integer, boolean) IS 'adjust halfvec to typmod';

CREATE FUNCTION array_to_halfvec(integer[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_halfvec(integer[], integer, boolean) IS 'convert int4 array to halfvec';

CREATE FUNCTION array_to_halfvec(real[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_halfvec(real[], integer, boolean) IS 'convert float4 array to halfvec';

CREATE FUNCTION array_to_halfvec(double precision[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_halfvec(double precision[], integer, boolean) IS 'convert float8 array to halfvec';

CREATE FUNCTION array_to_halfvec(numeric[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_halfvec_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_halfvec(numeric[], integer, boolean) IS 'convert numeric array to halfvec';

CREATE FUNCTION halfvec_to_float4(halfvec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'engram_halfvec_to_float4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_to_float4(halfvec, integer, boolean) IS 'convert halfvec to float4 array';

CREATE FUNCTION halfvec_to_vector(halfvec, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'engram_halfvec_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfvec_to_vector(halfvec, integer, boolean) IS 'convert halfvec to vector';

CREATE FUNCTION vector_to_halfvec(vector, integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'engram_vector_to_halfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_to_halfvec(vector, integer, boolean) IS 'convert vector to halfvec';

CREATE CAST (halfvec AS halfvec)
	WITH FUNCTION halfvec(halfvec, integer, boolean) AS IMPLICIT;

CREATE CAST (halfvec AS vector)
	WITH FUNCTION halfvec_to_vector(halfvec, integer, boolean) AS ASSIGNMENT;

CREATE CAST (vector AS halfvec)
	WITH FUNCTION vector_to_halfvec(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (halfvec AS real[])
	WITH FUNCTION halfvec_to_float4(halfvec, integer, boolean) AS ASSIGNMENT;

CREATE CAST (integer[] AS halfvec)
	WITH FUNCTION array_to_halfvec(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS halfvec)
	WITH FUNCTION array_to_halfvec(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS halfvec)
	WITH FUNCTION array_to_halfvec(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS halfvec)
	WITH FUNCTION array_to_halfvec(numeric[], integer, boolean) AS ASSIGNMENT;

CREATE OPERATOR <-> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_negative_inner_product,
	COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);

CREATE OPERATOR + (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_add,
	COMMUTATOR = +
);
COMMENT ON OPERATOR + (halfvec, halfvec) IS 'add';

CREATE OPERATOR - (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_sub
);
COMMENT ON OPERATOR - (halfvec, halfvec) IS 'subtract';

CREATE OPERATOR * (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_mul,
	COMMUTATOR = *
);
COMMENT ON OPERATOR * (halfvec, halfvec) IS 'multiply';

CREATE OPERATOR || (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_concat
);
COMMENT ON OPERATOR || (halfvec, halfvec) IS 'concatenate';

CREATE OPERATOR < (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (halfvec, halfvec) IS 'less than';

CREATE OPERATOR <= (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (halfvec, halfvec) IS 'less than or equal';

CREATE OPERATOR = (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
COMMENT ON OPERATOR = (halfvec, halfvec) IS 'equal';

CREATE OPERATOR <> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (halfvec, halfvec) IS 'not equal';

CREATE OPERATOR >= (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (halfvec, halfvec) IS 'greater than or equal';

CREATE OPERATOR > (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (halfvec, halfvec) IS 'greater than';

CREATE OPERATOR CLASS halfvec_ops
	DEFAULT FOR TYPE halfvec USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 halfvec_cmp(halfvec, halfvec);

-- engram API ------------------------------------------------------------

CREATE FUNCTION engram.simd_info(OUT variant text, OUT cpu_features text[])
	RETURNS record
	AS 'MODULE_PATHNAME', 'engram_simd_info' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION engram.simd_info() IS 'distance kernels in use and the CPU features seen';

-- engram_hnsw ------------------------------------------------------------

CREATE FUNCTION engram.hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'engram_hnsw_handler' LANGUAGE C;
COMMENT ON FUNCTION engram.hnsw_handler(internal) IS 'engram_hnsw index access method handler';

CREATE ACCESS METHOD engram_hnsw TYPE INDEX HANDLER engram.hnsw_handler;
COMMENT ON ACCESS METHOD engram_hnsw IS 'HNSW index with tiered pages and quantized codes';

CREATE FUNCTION engram.hnsw_l2_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'engram_hnsw_l2_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION engram.hnsw_ip_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'engram_hnsw_ip_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION engram.hnsw_cosine_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'engram_hnsw_cosine_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION engram.hnsw_l1_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'engram_hnsw_l1_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION engram.hnsw_vector_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'engram_hnsw_vector_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION engram.hnsw_halfvec_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'engram_hnsw_halfvec_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS vector_l2_ops
	FOR TYPE vector USING engram_hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_l2_support(internal),
	FUNCTION 2 engram.hnsw_vector_support(internal);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING engram_hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_ip_support(internal),
	FUNCTION 2 engram.hnsw_vector_support(internal);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING engram_hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_cosine_support(internal),
	FUNCTION 2 engram.hnsw_vector_support(internal);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING engram_hnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_l1_support(internal),
	FUNCTION 2 engram.hnsw_vector_support(internal);

CREATE OPERATOR CLASS halfvec_l2_ops
	FOR TYPE halfvec USING engram_hnsw AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_l2_support(internal),
	FUNCTION 2 engram.hnsw_halfvec_support(internal);

CREATE OPERATOR CLASS halfvec_ip_ops
	FOR TYPE halfvec USING engram_hnsw AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_ip_support(internal),
	FUNCTION 2 engram.hnsw_halfvec_support(internal);

CREATE OPERATOR CLASS halfvec_cosine_ops
	FOR TYPE halfvec USING engram_hnsw AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_cosine_support(internal),
	FUNCTION 2 engram.hnsw_halfvec_support(internal);

CREATE OPERATOR CLASS halfvec_l1_ops
	FOR TYPE halfvec USING engram_hnsw AS
	OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 engram.hnsw_l1_support(internal),
	FUNCTION 2 engram.hnsw_halfvec_support(internal);

CREATE FUNCTION engram.hnsw_check(index regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'engram_hnsw_check' LANGUAGE C STRICT;
COMMENT ON FUNCTION engram.hnsw_check(regclass) IS 'problems found in an engram_hnsw index (none when sound)';

CREATE FUNCTION engram.hnsw_stats(index regclass,
	OUT elements bigint, OUT deleted bigint, OUT reusable bigint, OUT levels int,
	OUT meta_pages bigint, OUT hot_pages bigint, OUT warm_pages bigint,
	OUT mean_degree float8, OUT bytes_per_element float8, OUT dimensions int)
	RETURNS record
	AS 'MODULE_PATHNAME', 'engram_hnsw_stats' LANGUAGE C STRICT;
COMMENT ON FUNCTION engram.hnsw_stats(regclass) IS 'size and shape of an engram_hnsw index';

CREATE FUNCTION engram.readahead_stats(
	OUT method text, OUT batches bigint, OUT blocks_read_ahead bigint,
	OUT blocks_in_buffers bigint)
	RETURNS record
	AS 'MODULE_PATHNAME', 'engram_readahead_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION engram.readahead_stats() IS 'this backend''s read-ahead of pages not in shared buffers: the method (io_uring or posix_fadvise), batches, blocks handed to the kernel, blocks found in shared buffers';

CREATE FUNCTION engram.explain_search(index regclass, query anyelement,
	ef int DEFAULT current_setting('engram.ef_search')::int, k int DEFAULT 10,
	OUT upper_nodes_expanded bigint, OUT layer0_nodes_expanded bigint,
	OUT distances bigint, OUT hot_pages_read bigint, OUT warm_pages_read bigint,
	OUT candidates int, OUT entry_level int, OUT nodes_per_layer bigint[],
	OUT reranked int, OUT cold_hits bigint, OUT cold_reads bigint)
	RETURNS record
	AS 'MODULE_PATHNAME', 'engram_hnsw_explain_search' LANGUAGE C STRICT;
COMMENT ON FUNCTION engram.explain_search(regclass, anyelement, int, int) IS 'counters of one engram_hnsw graph search and of its re-rank for LIMIT k';

-- statistics and tuning -------------------------------------------------------

CREATE FUNCTION engram.index_statistics(
	OUT dbid oid, OUT indexrelid oid, OUT scans bigint, OUT tuples_returned bigint,
	OUT distance_computations bigint, OUT nodes_expanded bigint,
	OUT hot_hits bigint, OUT hot_reads bigint, OUT warm_hits bigint, OUT warm_reads bigint,
	OUT cold_hits bigint, OUT cold_reads bigint, OUT iterative_restarts bigint,
	OUT inserts bigint, OUT scan_seconds float8, OUT insert_seconds float8,
	OUT scan_latency_buckets bigint[], OUT insert_latency_buckets bigint[],
	OUT stats_since timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'engram_index_statistics' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION engram.index_statistics() IS 'counters of every index engram tracks, in every database (needs shared_preload_libraries)';

CREATE FUNCTION engram.latency_bucket_bounds() RETURNS float8[]
	AS 'MODULE_PATHNAME', 'engram_latency_bucket_bounds' LANGUAGE C STRICT IMMUTABLE;
COMMENT ON FUNCTION engram.latency_bucket_bounds() IS 'upper bounds in seconds of the latency histogram buckets';

CREATE FUNCTION engram.activated_nodes_bucket_bounds() RETURNS float8[]
	AS 'MODULE_PATHNAME', 'engram_activated_nodes_bucket_bounds' LANGUAGE C STRICT IMMUTABLE;
COMMENT ON FUNCTION engram.activated_nodes_bucket_bounds() IS 'upper bounds of the activated-memories histogram buckets';

CREATE VIEW engram.index_stats AS
	SELECT n.nspname AS schemaname, t.relname AS tablename, i.relname AS indexname,
		s.indexrelid, s.scans, s.tuples_returned, s.distance_computations,
		s.nodes_expanded, s.hot_hits, s.hot_reads, s.warm_hits, s.warm_reads,
		s.cold_hits, s.cold_reads, s.iterative_restarts, s.inserts,
		s.scan_seconds, s.insert_seconds, s.scan_latency_buckets,
		s.insert_latency_buckets, s.stats_since
	FROM engram.index_statistics() s
	JOIN pg_catalog.pg_class i ON i.oid = s.indexrelid
	JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
	JOIN pg_catalog.pg_index x ON x.indexrelid = i.oid
	JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
	WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database
					WHERE datname = pg_catalog.current_database());
COMMENT ON VIEW engram.index_stats IS 'scans, distances, buffers per tier, inserts and latency of this database''s engram indexes';

CREATE FUNCTION engram.reset_stats(index regclass DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'engram_reset_stats' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION engram.reset_stats(regclass) IS 'forget the statistics of one index or memory table, or of all when NULL';
REVOKE ALL ON FUNCTION engram.reset_stats(regclass) FROM PUBLIC;

CREATE FUNCTION engram.metrics() RETURNS text
	AS 'MODULE_PATHNAME', 'engram_metrics' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION engram.metrics() IS 'statistics of this database''s engram indexes and memory tables in Prometheus text format';

CREATE FUNCTION engram.hnsw_build_memory(index regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'engram_hnsw_build_memory' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION engram.hnsw_build_memory(regclass) IS 'bytes of maintenance_work_mem a rebuild of an engram_hnsw index needs to build in memory';

-- The ordering operator of an index's operator class, its column and type
CREATE FUNCTION engram.index_order_by(index regclass,
	OUT tbl regclass, OUT col name, OUT coltype regtype, OUT op text)
	RETURNS record LANGUAGE sql STABLE STRICT AS $$
	SELECT x.indrelid::regclass, a.attname, a.atttypid::regtype,
		o.oid::regoperator::text
	FROM pg_catalog.pg_index x
	JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
	JOIN pg_catalog.pg_opclass c ON c.oid = x.indclass[0]
	JOIN pg_catalog.pg_amop ao ON ao.amopfamily = c.opcfamily AND ao.amoppurpose = 'o'
		AND ao.amopstrategy = 1 AND ao.amoplefttype = a.atttypid
	JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
	WHERE x.indexrelid = $1
$$;

CREATE FUNCTION engram.tune(index regclass, target_recall real DEFAULT 0.95,
	k int DEFAULT 10, sample int DEFAULT 200, queries regclass DEFAULT NULL)
	RETURNS TABLE (ef_search int, recall float8, mean_latency_ms float8, meets_target bool)
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	ob record;
	qcol name;
	source text;
	vecs text[];
	selves tid[];
	thresholds float8[];
	opname text;
	exact_sql text;
	ann_sql text;
	plan json;
	saved text[];
	gucs CONSTANT text[] := ARRAY['engram.ef_search', 'engram.iterative_scan',
		'enable_seqscan', 'enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan'];
	thr float8;
	found int;
	hits int;
	total int;
	t0 timestamptz;
	elapsed float8;
	ef int;
BEGIN
	IF (SELECT am.amname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_am am ON am.oid = c.relam
		WHERE c.oid = index) IS DISTINCT FROM 'engram_hnsw' THEN
		RAISE EXCEPTION '"%" is not an engram_hnsw index', index USING ERRCODE = 'wrong_object_type';
	END IF;
	IF target_recall IS NULL OR target_recall <= 0 OR target_recall > 1 THEN
		RAISE EXCEPTION 'target_recall must be greater than 0 and at most 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF k IS NULL OR k < 1 OR k > 1000 THEN
		RAISE EXCEPTION 'k must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF sample IS NULL OR sample < 1 OR sample > 100000 THEN
		RAISE EXCEPTION 'sample must be between 1 and 100000' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	ob := engram.index_order_by(index);
	opname := pg_catalog.split_part(ob.op, '(', 1);

	-- the query vectors: a sample of the table, or the first column of the
	-- indexed column's type of the given table.  A sampled row is left out
	-- of its own answers (exact and approximate): finding itself would be
	-- too easy.
	IF queries IS NULL THEN
		source := pg_catalog.format('SELECT %1$I AS v, ctid AS self FROM %2$s
			WHERE %1$I IS NOT NULL ORDER BY random()', ob.col, ob.tbl);
	ELSE
		SELECT a.attname INTO qcol FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = queries AND a.atttypid = ob.coltype AND a.attnum > 0
			AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1;
		IF qcol IS NULL THEN
			RAISE EXCEPTION 'table % has no column of type %', queries, ob.coltype
				USING ERRCODE = 'undefined_column';
		END IF;
		source := pg_catalog.format('SELECT %1$I AS v, NULL::tid AS self FROM %2$s
			WHERE %1$I IS NOT NULL', qcol, queries);
	END IF;
	EXECUTE pg_catalog.format('SELECT array_agg(v::text), array_agg(self) FROM (%s LIMIT %s) s',
		source, sample) INTO vecs, selves;
	IF vecs IS NULL THEN
		RAISE EXCEPTION 'no query vectors: the table is empty' USING ERRCODE = 'no_data_found';
	END IF;

	-- every setting changed here is put back at the end (set_config local:
	-- nothing is written, so this runs read-only and on a replica)
	SELECT array_agg(pg_catalog.current_setting(g)) INTO saved FROM unnest(gucs) g;

	-- exact answers: the k-th smallest distance per query, by a full scan
	PERFORM pg_catalog.set_config('enable_indexscan', 'off', true),
		pg_catalog.set_config('enable_bitmapscan', 'off', true),
		pg_catalog.set_config('enable_indexonlyscan', 'off', true),
		pg_catalog.set_config('enable_seqscan', 'on', true);
	exact_sql := pg_catalog.format('SELECT max(d), count(*) FROM (SELECT %1$I OPERATOR(%5$s) $1::%3$s AS d
		FROM %2$s WHERE %1$I IS NOT NULL AND ($2 IS NULL OR ctid <> $2) ORDER BY 1 LIMIT %4$s) s',
		ob.col, ob.tbl, ob.coltype, k, opname);
	thresholds := '{}';
	total := 0;
	FOR i IN 1 .. pg_catalog.array_length(vecs, 1) LOOP
		EXECUTE exact_sql INTO thr, found USING vecs[i], selves[i];
		thresholds := thresholds || thr;
		total := total + found;
	END LOOP;

	-- searches through the index with increasing ef_search
	PERFORM pg_catalog.set_config('enable_indexscan', 'on', true),
		pg_catalog.set_config('enable_seqscan', 'off', true),
		pg_catalog.set_config('engram.iterative_scan', 'off', true);
	-- k + 1 rows, so that k remain when the query's own row is left out
	ann_sql := pg_catalog.format('SELECT %1$I OPERATOR(%4$s) $1::%3$s AS d, ctid AS c FROM %2$s
		ORDER BY %1$I OPERATOR(%4$s) $1::%3$s LIMIT %5$s',
		ob.col, ob.tbl, ob.coltype, opname, k + 1);
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || ann_sql INTO plan USING vecs[1];
	IF pg_catalog.strpos(plan::text, pg_catalog.format('"Index Name": %s',
			pg_catalog.to_json((SELECT relname FROM pg_catalog.pg_class WHERE oid = index)))) = 0 THEN
		RAISE EXCEPTION 'the planner does not use index % for ORDER BY %', index, opname
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Another index on the same column may be preferred; drop it or tune on a copy.';
	END IF;
	FOREACH ef IN ARRAY ARRAY[10, 20, 40, 60, 80, 120, 160, 200, 300, 400, 600, 800, 1000] LOOP
		CONTINUE WHEN ef < k AND ef < 1000;
		PERFORM pg_catalog.set_config('engram.ef_search', ef::text, true);
		found := 0;
		elapsed := 0;
		FOR i IN 1 .. pg_catalog.array_length(vecs, 1) LOOP
			t0 := pg_catalog.clock_timestamp();
			EXECUTE pg_catalog.format('SELECT count(*) FILTER (WHERE d <= $2) FROM (SELECT d FROM (%s) r
				WHERE $3 IS NULL OR c <> $3 ORDER BY d LIMIT %s) s', ann_sql, k)
				INTO hits USING vecs[i], thresholds[i], selves[i];
			elapsed := elapsed + extract(epoch FROM pg_catalog.clock_timestamp() - t0);
			found := found + hits;
		END LOOP;
		ef_search := ef;
		recall := CASE WHEN total = 0 THEN 1 ELSE found::float8 / total END;
		mean_latency_ms := elapsed * 1000 / pg_catalog.array_length(vecs, 1);
		meets_target := recall >= target_recall;
		RETURN NEXT;
		EXIT WHEN meets_target;
	END LOOP;

	FOR i IN 1 .. pg_catalog.array_length(gucs, 1) LOOP
		PERFORM pg_catalog.set_config(gucs[i], saved[i], true);
	END LOOP;
END
$$;
COMMENT ON FUNCTION engram.tune(regclass, real, int, int, regclass) IS 'recall@k and latency of an engram_hnsw index for increasing ef_search, up to the first that meets the target';

-- A setting's value in bytes (for memory settings)
CREATE FUNCTION engram.setting_bytes(name text) RETURNS bigint
	LANGUAGE sql STABLE STRICT AS $$
	SELECT s.setting::bigint * CASE s.unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024
		WHEN '8kB' THEN 8192 WHEN 'MB' THEN 1048576 ELSE NULL END
	FROM pg_catalog.pg_settings s WHERE s.name = $1
$$;

-- Whole megabytes at least this many bytes, as a setting value
CREATE FUNCTION engram.megabytes(bytes bigint) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT ceil($1 / 1048576.0)::bigint || 'MB'
$$;

-- Advice on a memory setting that should hold need bytes (NULL: no index)
CREATE FUNCTION engram.memory_advice(name text, need bigint, enough text, short text,
	OUT setting text, OUT current text, OUT suggested text, OUT reason text)
	LANGUAGE sql STABLE AS $$
	SELECT $1, pg_catalog.current_setting($1),
		CASE WHEN $2 > engram.setting_bytes($1) THEN engram.megabytes($2)
			ELSE pg_catalog.current_setting($1) END,
		CASE WHEN $2 IS NULL THEN 'no engram_hnsw index in this database'
			WHEN $2 > engram.setting_bytes($1) THEN $4 ELSE $3 END
$$;

CREATE FUNCTION engram.advise()
	RETURNS TABLE (setting text, current text, suggested text, reason text)
	LANGUAGE plpgsql STABLE AS $$
DECLARE
	nindexes int;
	index_bytes bigint;
	largest regclass;
	build_bytes bigint;
	value bigint;
BEGIN
	SELECT count(*), coalesce(sum(pg_catalog.pg_relation_size(c.oid)), 0)
	INTO nindexes, index_bytes
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_am am ON am.oid = c.relam
	WHERE am.amname = 'engram_hnsw' AND c.relkind = 'i';
	SELECT i.indexrelid::regclass, engram.hnsw_build_memory(i.indexrelid)
	INTO largest, build_bytes
	FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
	JOIN pg_catalog.pg_am am ON am.oid = c.relam
	WHERE am.amname = 'engram_hnsw'
		AND pg_catalog.has_table_privilege(i.indrelid, 'SELECT')
	ORDER BY 2 DESC, 1 LIMIT 1;

	setting := 'shared_preload_libraries';
	current := pg_catalog.current_setting(setting);
	IF 'engram' = ANY (SELECT pg_catalog.regexp_replace(pg_catalog.btrim(l), '^\$libdir/', '')
					   FROM pg_catalog.unnest(pg_catalog.string_to_array(current, ',')) l) THEN
		suggested := current;
		reason := 'engram is preloaded: engram.index_stats and engram.metrics() collect statistics';
	ELSE
		suggested := CASE WHEN current = '' THEN 'engram' ELSE current || ', engram' END;
		reason := 'engram.index_stats and engram.metrics() need engram preloaded (takes a restart)';
	END IF;
	RETURN NEXT;

	-- the index pages (hot and warm tiers) should stay in shared buffers,
	-- with a quarter left for the heap pages re-ranking reads (cold tier)
	RETURN QUERY SELECT * FROM engram.memory_advice('shared_buffers',
		CASE WHEN nindexes > 0 THEN index_bytes * 4 / 3 END,
		pg_catalog.format('the engram_hnsw indexes (%s, hot and warm tiers) fit with room for the heap pages re-ranking reads',
						  pg_catalog.pg_size_pretty(index_bytes)),
		pg_catalog.format('the engram_hnsw indexes take %s (hot and warm tiers); searches read them through shared buffers and re-rank from heap pages: keep the indexes under three quarters of it (takes a restart)',
						  pg_catalog.pg_size_pretty(index_bytes)));

	RETURN QUERY SELECT * FROM engram.memory_advice('maintenance_work_mem', build_bytes,
		pg_catalog.format('a rebuild of %s, the largest engram_hnsw index, builds its graph in memory (needs %s)',
						  largest, pg_catalog.pg_size_pretty(build_bytes)),
		pg_catalog.format('a rebuild of %s needs %s to build its graph in memory; with less it inserts the rows that do not fit one by one, much more slowly',
						  largest, pg_catalog.pg_size_pretty(build_bytes)));

	setting := 'max_parallel_maintenance_workers';
	current := pg_catalog.current_setting(setting);
	value := current::bigint;
	suggested := current;
	IF nindexes = 0 THEN
		reason := 'no engram_hnsw index in this database';
	ELSIF value = 0 THEN
		suggested := least(2, pg_catalog.current_setting('max_parallel_workers')::int)::text;
		reason := 'engram_hnsw builds the graph in parallel workers (2 workers: 0.55 of the single-process build time on GloVe 340K, README)';
	ELSIF value > pg_catalog.current_setting('max_parallel_workers')::int THEN
		suggested := pg_catalog.current_setting('max_parallel_workers');
		reason := 'no more workers than max_parallel_workers can start';
	ELSE
		reason := 'index builds may use parallel workers';
	END IF;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION engram.advise() IS 'settings checked against the engram indexes of this database: current value, suggested value, reason';

-- engram_alex -------------------------------------------------------------

CREATE FUNCTION engram.alex_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'engram_alex_handler' LANGUAGE C;
COMMENT ON FUNCTION engram.alex_handler(internal) IS 'engram_alex index access method handler';

CREATE ACCESS METHOD engram_alex TYPE INDEX HANDLER engram.alex_handler;
COMMENT ON ACCESS METHOD engram_alex IS 'ALEX-style learned index for ordered keys';

-- The families mirror btree's (integer_ops, float_ops, datetime_ops), with
-- btree's own comparison functions as support function 1.
CREATE OPERATOR FAMILY integer_ops USING engram_alex;
CREATE OPERATOR FAMILY float_ops USING engram_alex;
CREATE OPERATOR FAMILY datetime_ops USING engram_alex;

CREATE OPERATOR CLASS int2_ops
	DEFAULT FOR TYPE int2 USING engram_alex FAMILY integer_ops AS
	OPERATOR 1 < (int2, int2),
	OPERATOR 2 <= (int2, int2),
	OPERATOR 3 = (int2, int2),
	OPERATOR 4 >= (int2, int2),
	OPERATOR 5 > (int2, int2),
	FUNCTION 1 (int2, int2) btint2cmp(int2, int2);

CREATE OPERATOR CLASS int4_ops
	DEFAULT FOR TYPE int4 USING engram_alex FAMILY integer_ops AS
	OPERATOR 1 < (int4, int4),
	OPERATOR 2 <= (int4, int4),
	OPERATOR 3 = (int4, int4),
	OPERATOR 4 >= (int4, int4),
	OPERATOR 5 > (int4, int4),
	FUNCTION 1 (int4, int4) btint4cmp(int4, int4);

CREATE OPERATOR CLASS int8_ops
	DEFAULT FOR TYPE int8 USING engram_alex FAMILY integer_ops AS
	OPERATOR 1 < (int8, int8),
	OPERATOR 2 <= (int8, int8),
	OPERATOR 3 = (int8, int8),
	OPERATOR 4 >= (int8, int8),
	OPERATOR 5 > (int8, int8),
	FUNCTION 1 (int8, int8) btint8cmp(int8, int8);

ALTER OPERATOR FAMILY integer_ops USING engram_alex ADD
	OPERATOR 1 < (int2, int4),
	OPERATOR 2 <= (int2, int4),
	OPERATOR 3 = (int2, int4),
	OPERATOR 4 >= (int2, int4),
	OPERATOR 5 > (int2, int4),
	FUNCTION 1 (int2, int4) btint24cmp(int2, int4);

ALTER OPERATOR FAMILY integer_ops USING engram_alex ADD
	OPERATOR 1 < (int2, int8),
	OPERATOR 2 <= (int2, int8),
	OPERATOR 3 = (int2, int8),
	OPERATOR 4 >= (int2, int8),
	OPERATOR 5 > (int2, int8),
	FUNCTION 1 (int2, int8) btint28cmp(int2, int8);

ALTER OPERATOR FAMILY integer_ops USING engram_alex ADD
	OPERATOR 1 < (int4, int2),
	OPERATOR 2 <= (int4, int2),
	OPERATOR 3 = (int4, int2),
	OPERATOR 4 >= (int4, int2),
	OPERATOR 5 > (int4, int2),
	FUNCTION 1 (int4, int2) btint42cmp(int4, int2);

ALTER OPERATOR FAMILY integer_ops USING engram_alex ADD
	OPERATOR 1 < (int4, int8),
	OPERATOR 2 <= (int4, int8),
	OPERATOR 3 = (int4, int8),
	OPERATOR 4 >= (int4, int8),
	OPERATOR 5 > (int4, int8),
	FUNCTION 1 (int4, int8) btint48cmp(int4, int8);

ALTER OPERATOR FAMILY integer_ops USING engram_alex ADD
	OPERATOR 1 < (int8, int2),
	OPERATOR 2 <= (int8, int2),
	OPERATOR 3 = (int8, int2),
	OPERATOR 4 >= (int8, int2),
	OPERATOR 5 > (int8, int2),
	FUNCTION 1 (int8, int2) btint82cmp(int8, int2);

ALTER OPERATOR FAMILY integer_ops USING engram_alex ADD
	OPERATOR 1 < (int8, int4),
	OPERATOR 2 <= (int8, int4),
	OPERATOR 3 = (int8, int4),
	OPERATOR 4 >= (int8, int4),
	OPERATOR 5 > (int8, int4),
	FUNCTION 1 (int8, int4) btint84cmp(int8, int4);

CREATE OPERATOR CLASS float4_ops
	DEFAULT FOR TYPE float4 USING engram_alex FAMILY float_ops AS
	OPERATOR 1 < (float4, float4),
	OPERATOR 2 <= (float4, float4),
	OPERATOR 3 = (float4, float4),
	OPERATOR 4 >= (float4, float4),
	OPERATOR 5 > (float4, float4),
	FUNCTION 1 (float4, float4) btfloat4cmp(float4, float4);

CREATE OPERATOR CLASS float8_ops
	DEFAULT FOR TYPE float8 USING engram_alex FAMILY float_ops AS
	OPERATOR 1 < (float8, float8),
	OPERATOR 2 <= (float8, float8),
	OPERATOR 3 = (float8, float8),
	OPERATOR 4 >= (float8, float8),
	OPERATOR 5 > (float8, float8),
	FUNCTION 1 (float8, float8) btfloat8cmp(float8, float8);

ALTER OPERATOR FAMILY float_ops USING engram_alex ADD
	OPERATOR 1 < (float4, float8),
	OPERATOR 2 <= (float4, float8),
	OPERATOR 3 = (float4, float8),
	OPERATOR 4 >= (float4, float8),
	OPERATOR 5 > (float4, float8),
	FUNCTION 1 (float4, float8) btfloat48cmp(float4, float8);

ALTER OPERATOR FAMILY float_ops USING engram_alex ADD
	OPERATOR 1 < (float8, float4),
	OPERATOR 2 <= (float8, float4),
	OPERATOR 3 = (float8, float4),
	OPERATOR 4 >= (float8, float4),
	OPERATOR 5 > (float8, float4),
	FUNCTION 1 (float8, float4) btfloat84cmp(float8, float4);

CREATE OPERATOR CLASS date_ops
	DEFAULT FOR TYPE date USING engram_alex FAMILY datetime_ops AS
	OPERATOR 1 < (date, date),
	OPERATOR 2 <= (date, date),
	OPERATOR 3 = (date, date),
	OPERATOR 4 >= (date, date),
	OPERATOR 5 > (date, date),
	FUNCTION 1 (date, date) date_cmp(date, date);

CREATE OPERATOR CLASS timestamp_ops
	DEFAULT FOR TYPE timestamp USING engram_alex FAMILY datetime_ops AS
	OPERATOR 1 < (timestamp, timestamp),
	OPERATOR 2 <= (timestamp, timestamp),
	OPERATOR 3 = (timestamp, timestamp),
	OPERATOR 4 >= (timestamp, timestamp),
	OPERATOR 5 > (timestamp, timestamp),
	FUNCTION 1 (timestamp, timestamp) timestamp_cmp(timestamp, timestamp);

CREATE OPERATOR CLASS timestamptz_ops
	DEFAULT FOR TYPE timestamptz USING engram_alex FAMILY datetime_ops AS
	OPERATOR 1 < (timestamptz, timestamptz),
	OPERATOR 2 <= (timestamptz, timestamptz),
	OPERATOR 3 = (timestamptz, timestamptz),
	OPERATOR 4 >= (timestamptz, timestamptz),
	OPERATOR 5 > (timestamptz, timestamptz),
	FUNCTION 1 (timestamptz, timestamptz) timestamptz_cmp(timestamptz, timestamptz);

ALTER OPERATOR FAMILY datetime_ops USING engram_alex ADD
	OPERATOR 1 < (date, timestamp),
	OPERATOR 2 <= (date, timestamp),
	OPERATOR 3 = (date, timestamp),
	OPERATOR 4 >= (date, timestamp),
	OPERATOR 5 > (date, timestamp),
	FUNCTION 1 (date, timestamp) date_cmp_timestamp(date, timestamp);

ALTER OPERATOR FAMILY datetime_ops USING engram_alex ADD
	OPERATOR 1 < (date, timestamptz),
	OPERATOR 2 <= (date, timestamptz),
	OPERATOR 3 = (date, timestamptz),
	OPERATOR 4 >= (date, timestamptz),
	OPERATOR 5 > (date, timestamptz),
	FUNCTION 1 (date, timestamptz) date_cmp_timestamptz(date, timestamptz);

ALTER OPERATOR FAMILY datetime_ops USING engram_alex ADD
	OPERATOR 1 < (timestamp, date),
	OPERATOR 2 <= (timestamp, date),
	OPERATOR 3 = (timestamp, date),
	OPERATOR 4 >= (timestamp, date),
	OPERATOR 5 > (timestamp, date),
	FUNCTION 1 (timestamp, date) timestamp_cmp_date(timestamp, date);

ALTER OPERATOR FAMILY datetime_ops USING engram_alex ADD
	OPERATOR 1 < (timestamp, timestamptz),
	OPERATOR 2 <= (timestamp, timestamptz),
	OPERATOR 3 = (timestamp, timestamptz),
	OPERATOR 4 >= (timestamp, timestamptz),
	OPERATOR 5 > (timestamp, timestamptz),
	FUNCTION 1 (timestamp, timestamptz) timestamp_cmp_timestamptz(timestamp, timestamptz);

ALTER OPERATOR FAMILY datetime_ops USING engram_alex ADD
	OPERATOR 1 < (timestamptz, date),
	OPERATOR 2 <= (timestamptz, date),
	OPERATOR 3 = (timestamptz, date),
	OPERATOR 4 >= (timestamptz, date),
	OPERATOR 5 > (timestamptz, date),
	FUNCTION 1 (timestamptz, date) timestamptz_cmp_date(timestamptz, date);

ALTER OPERATOR FAMILY datetime_ops USING engram_alex ADD
	OPERATOR 1 < (timestamptz, timestamp),
	OPERATOR 2 <= (timestamptz, timestamp),
	OPERATOR 3 = (timestamptz, timestamp),
	OPERATOR 4 >= (timestamptz, timestamp),
	OPERATOR 5 > (timestamptz, timestamp),
	FUNCTION 1 (timestamptz, timestamp) timestamptz_cmp_timestamp(timestamptz, timestamp);

CREATE FUNCTION engram.alex_check(index regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'engram_alex_check' LANGUAGE C STRICT;
COMMENT ON FUNCTION engram.alex_check(regclass) IS 'problems found in an engram_alex index (none when sound)';

CREATE FUNCTION engram.alex_stats(index regclass,
	OUT depth int, OUT model_nodes int, OUT data_nodes int, OUT null_nodes int,
	OUT keys bigint, OUT null_keys bigint, OUT slots bigint, OUT density float8,
	OUT mean_search_distance float8, OUT max_search_distance bigint,
	OUT pages bigint, OUT directory_pages int, OUT bytes_per_key float8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'engram_alex_stats' LANGUAGE C STRICT;
COMMENT ON FUNCTION engram.alex_stats(regclass) IS 'size and shape of an engram_alex index';

-- cognitive memory ---------------------------------------------------------
--
-- A memory table is a user table with a bigint key and a vector column,
-- registered in engram.memory_tables.  Associations and per-row recall state
-- live in tables of their own, keyed by the memory table's OID, so that the
-- user's table keeps its shape.  All three tables hold user data and are
-- dumped by pg_dump (pg_extension_config_dump).  src/memory/ holds the C side:
-- spreading activation, recall, decay and statistics.

CREATE TABLE engram.memory_tables (
	tbl regclass PRIMARY KEY,
	id_column name NOT NULL,
	embedding_column name NOT NULL,
	auto_link int NOT NULL CHECK (auto_link >= 0)
);
COMMENT ON TABLE engram.memory_tables IS 'tables attached as engram memory';

-- tbl is a regclass in all three tables: pg_dump writes it as the table's
-- name, so a restore links the rows to the restored table's new OID
CREATE TABLE engram.associations (
	tbl regclass NOT NULL,
	src bigint NOT NULL,
	dst bigint NOT NULL,
	weight real NOT NULL CHECK (weight > 0 AND weight <= 1),
	kind text NOT NULL,
	-- spread reads a node's edges from this index alone (src/memory/edges.c)
	PRIMARY KEY (tbl, src, dst) INCLUDE (weight)
);
-- deleting a memory row removes the edges that end at it too
CREATE INDEX associations_dst ON engram.associations (tbl, dst);
COMMENT ON TABLE engram.associations IS 'directed, weighted edges between rows of a memory table';

CREATE TABLE engram.memory_state (
	tbl regclass NOT NULL,
	id bigint NOT NULL,
	recall_count bigint NOT NULL,
	last_recall timestamptz NOT NULL,
	PRIMARY KEY (tbl, id)
);
COMMENT ON TABLE engram.memory_state IS 'recall count and last recall time of memory rows';

-- Every change of the associations, by any path, tells the backends'
-- adjacency caches (src/memory/edgeversion.c): before the statement's first
-- row, once per transaction.  ENABLE ALWAYS: also under
-- session_replication_role = replica.
CREATE FUNCTION engram.memory_edges_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'engram_memory_edges_changed' LANGUAGE C;
CREATE TRIGGER engram_edges_changed
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON engram.associations
	FOR EACH STATEMENT EXECUTE FUNCTION engram.memory_edges_changed();
ALTER TABLE engram.associations ENABLE ALWAYS TRIGGER engram_edges_changed;
-- ... and names each changed row's source in the change log, from which a
-- stale cache is patched (src/memory/patch.c)
CREATE FUNCTION engram.memory_edge_rows_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'engram_memory_edge_rows_changed' LANGUAGE C;
CREATE TRIGGER engram_edge_rows_changed
	AFTER INSERT OR UPDATE OR DELETE ON engram.associations
	FOR EACH ROW EXECUTE FUNCTION engram.memory_edge_rows_changed();
ALTER TABLE engram.associations ENABLE ALWAYS TRIGGER engram_edge_rows_changed;
-- (firing a trigger needs no EXECUTE; creating one does)
REVOKE ALL ON FUNCTION engram.memory_edges_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION engram.memory_edge_rows_changed() FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('engram.memory_tables', '');
SELECT pg_catalog.pg_extension_config_dump('engram.associations', '');
SELECT pg_catalog.pg_extension_config_dump('engram.memory_state', '');

CREATE VIEW engram.edges AS
	SELECT a.tbl AS memory_table, a.src, a.dst, a.weight, a.kind
	FROM engram.associations a;
COMMENT ON VIEW engram.edges IS 'associations with the memory table by name';

-- the registration of tbl, or an error
CREATE FUNCTION engram.memory_table(tbl regclass) RETURNS engram.memory_tables
	LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r engram.memory_tables;
BEGIN
	SELECT * INTO r FROM engram.memory_tables m WHERE m.tbl = memory_table.tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table "%" is not attached as engram memory', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Call engram.attach() first.';
	END IF;
	RETURN r;
END
$$;

-- AFTER INSERT, per row: link the new row with its k nearest other rows
-- (TG_ARGV[0]: the schema of engram's operators)
CREATE FUNCTION engram.memory_auto_link() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m engram.memory_tables := engram.memory_table(TG_RELID);
BEGIN
	IF m.auto_link = 0 THEN
		RETURN NULL;
	END IF;
	-- k + 1 nearest through the cosine index, less the row itself; both
	-- directions, as engram.associate() does by default.  The neighbours
	-- are locked (FOR KEY SHARE) so that none is deleted under its new
	-- edges, and edges are written in key order (see engram.associate)
	EXECUTE format(
		'INSERT INTO engram.associations (tbl, src, dst, weight, kind)
		 SELECT $1, e.src, e.dst, least(1, 1 - n.d)::real, ''auto''
		 FROM (SELECT c.id, c.d
			   FROM (SELECT t.%1$I AS id, t.%2$I OPERATOR(%4$s.<=>) ($2).%2$I AS d
					 FROM %3$s t ORDER BY t.%2$I OPERATOR(%4$s.<=>) ($2).%2$I LIMIT $3 + 1
					 FOR KEY SHARE OF t) c
			   WHERE c.id <> ($2).%1$I ORDER BY c.d LIMIT $3) n,
			  LATERAL (VALUES (($2).%1$I, n.id), (n.id, ($2).%1$I)) e(src, dst)
		 WHERE n.d < 1
		 ORDER BY e.src, e.dst
		 ON CONFLICT (tbl, src, dst) DO NOTHING',
		m.id_column, m.embedding_column, TG_RELID::regclass, quote_ident(TG_ARGV[0]))
	USING TG_RELID::oid, NEW, m.auto_link;
	RETURN NULL;
END
$$;

-- AFTER DELETE, per statement: remove the edges and state of deleted rows
CREATE FUNCTION engram.memory_forget_deleted() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m engram.memory_tables := engram.memory_table(TG_RELID);
BEGIN
	-- edges are locked in key order, as every writer of them does
	EXECUTE format(
		'WITH gone AS (SELECT %1$I AS id FROM deleted_rows),
			  e AS (DELETE FROM engram.associations a
					WHERE (a.tbl, a.src, a.dst) IN
						(SELECT x.tbl, x.src, x.dst FROM engram.associations x, gone
						 WHERE x.tbl = $1 AND (x.src = gone.id OR x.dst = gone.id)
						 ORDER BY x.src, x.dst FOR UPDATE OF x))
		 DELETE FROM engram.memory_state s USING gone
		 WHERE s.tbl = $1 AND s.id = gone.id', m.id_column)
	USING TG_RELID::oid;
	RETURN NULL;
END
$$;

-- AFTER TRUNCATE: forget every edge and state of the table
CREATE FUNCTION engram.memory_forget_all() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	DELETE FROM engram.associations a WHERE a.tbl = TG_RELID;
	DELETE FROM engram.memory_state s WHERE s.tbl = TG_RELID;
	RETURN NULL;
END
$$;

-- BEFORE UPDATE OF the key: edges are keyed by it, so it must not change
CREATE FUNCTION engram.memory_keep_key() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF to_jsonb(NEW) -> TG_ARGV[0] IS DISTINCT FROM to_jsonb(OLD) -> TG_ARGV[0] THEN
		RAISE EXCEPTION 'cannot change the key of a row of memory table "%"', TG_RELID::regclass
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Associations refer to rows by their key.';
	END IF;
	RETURN NEW;
END
$$;

-- DROP TABLE of a memory table: forget its registration, edges and state
-- (an OID can be reused by a later table)
CREATE FUNCTION engram.memory_forget_dropped() RETURNS event_trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	dropped oid[];
BEGIN
	SELECT array_agg(d.objid) INTO dropped
	FROM pg_event_trigger_dropped_objects() d
	WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
	  AND d.object_type IN ('table', 'partitioned table');
	IF dropped IS NULL THEN
		RETURN;
	END IF;
	DELETE FROM engram.associations a WHERE a.tbl::oid = ANY (dropped);
	DELETE FROM engram.memory_state s WHERE s.tbl::oid = ANY (dropped);
	DELETE FROM engram.memory_tables m WHERE m.tbl::oid = ANY (dropped);
END
$$;
CREATE EVENT TRIGGER engram_memory_forget_dropped ON sql_drop
	EXECUTE FUNCTION engram.memory_forget_dropped();

CREATE FUNCTION engram.attach(tbl regclass, id_column name DEFAULT 'id',
	embedding_column name DEFAULT 'embedding', auto_link int DEFAULT 0)
	RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	id_att int2;
	emb_att int2;
	vec_schema name;
	t name;
BEGIN
	IF tbl IS NULL OR id_column IS NULL OR embedding_column IS NULL OR auto_link IS NULL THEN
		RAISE EXCEPTION 'arguments of engram.attach must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF auto_link < 0 OR auto_link > 1000 THEN
		RAISE EXCEPTION 'auto_link must be between 0 and 1000'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', tbl
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF EXISTS (SELECT FROM engram.memory_tables m WHERE m.tbl = attach.tbl) THEN
		RAISE EXCEPTION 'table "%" is already attached as engram memory', tbl
			USING ERRCODE = 'duplicate_object';
	END IF;

	SELECT a.attnum, a.atttypid::regtype::name INTO id_att, t
	FROM pg_attribute a
	WHERE a.attrelid = tbl AND a.attname = id_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of table "%" does not exist', id_column, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	IF t <> 'bigint' THEN
		RAISE EXCEPTION 'key column "%" of a memory table must be bigint, not %', id_column, t
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_index i
				   WHERE i.indrelid = tbl AND i.indisunique AND i.indpred IS NULL
					 AND i.indexprs IS NULL AND i.indnatts = 1 AND i.indkey[0] = id_att) THEN
		RAISE EXCEPTION 'key column "%" of a memory table needs a unique index', id_column
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Make it the primary key.';
	END IF;

	SELECT a.attnum, n.nspname INTO emb_att, vec_schema
	FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
		 JOIN pg_namespace n ON n.oid = ty.typnamespace
	WHERE a.attrelid = tbl AND a.attname = embedding_column AND a.attnum > 0
	  AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of table "%" does not exist', embedding_column, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	IF (SELECT a.atttypid FROM pg_attribute a
		WHERE a.attrelid = tbl AND a.attnum = emb_att) IS DISTINCT FROM
	   (SELECT ty.oid FROM pg_type ty JOIN pg_extension x ON x.extnamespace = ty.typnamespace
		WHERE x.extname = 'engram' AND ty.typname = 'vector') THEN
		RAISE EXCEPTION 'embedding column "%" of a memory table must be of type vector', embedding_column
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	-- recall and auto_link find neighbours through this index
	IF NOT EXISTS (SELECT FROM pg_index i
				   JOIN pg_class ic ON ic.oid = i.indexrelid
				   JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'engram_hnsw'
				   JOIN pg_opclass oc ON oc.oid = i.indclass[0] AND oc.opcname = 'vector_cosine_ops'
				   WHERE i.indrelid = tbl AND i.indnatts = 1 AND i.indpred IS NULL
					 AND i.indkey[0] = emb_att AND i.indisvalid) THEN
		RAISE EXCEPTION 'table "%" has no engram_hnsw index on "%" with vector_cosine_ops', tbl, embedding_column
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = format('CREATE INDEX ON %s USING engram_hnsw (%I vector_cosine_ops);', tbl, embedding_column);
	END IF;

	INSERT INTO engram.memory_tables VALUES (tbl, id_column, embedding_column, auto_link);
	EXECUTE format('CREATE TRIGGER engram_memory_auto_link AFTER INSERT ON %s
					FOR EACH ROW EXECUTE FUNCTION engram.memory_auto_link(%L)', tbl, vec_schema);
	EXECUTE format('CREATE TRIGGER engram_memory_forget_deleted AFTER DELETE ON %s
					REFERENCING OLD TABLE AS deleted_rows
					FOR EACH STATEMENT EXECUTE FUNCTION engram.memory_forget_deleted()', tbl);
	EXECUTE format('CREATE TRIGGER engram_memory_forget_all AFTER TRUNCATE ON %s
					FOR EACH STATEMENT EXECUTE FUNCTION engram.memory_forget_all()', tbl);
	EXECUTE format('CREATE TRIGGER engram_memory_keep_key BEFORE UPDATE OF %I ON %s
					FOR EACH ROW EXECUTE FUNCTION engram.memory_keep_key(%L)', id_column, tbl, id_column);
END
$$;
COMMENT ON FUNCTION engram.attach(regclass, name, name, int) IS 'register a table as engram memory';

CREATE FUNCTION engram.detach(tbl regclass) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM engram.memory_table(tbl);
	EXECUTE format('DROP TRIGGER engram_memory_auto_link ON %s', tbl);
	EXECUTE format('DROP TRIGGER engram_memory_forget_deleted ON %s', tbl);
	EXECUTE format('DROP TRIGGER engram_memory_forget_all ON %s', tbl);
	EXECUTE format('DROP TRIGGER engram_memory_keep_key ON %s', tbl);
	DELETE FROM engram.associations a WHERE a.tbl = detach.tbl;
	DELETE FROM engram.memory_state s WHERE s.tbl = detach.tbl;
	DELETE FROM engram.memory_tables m WHERE m.tbl = detach.tbl;
END
$$;
COMMENT ON FUNCTION engram.detach(regclass) IS 'unregister a memory table and drop its associations';

CREATE FUNCTION engram.associate(tbl regclass, src bigint, dst bigint,
	weight real DEFAULT 1.0, kind text DEFAULT 'semantic', bidirectional boolean DEFAULT true)
	RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m engram.memory_tables;
	key bigint;
	present boolean;
BEGIN
	IF tbl IS NULL OR src IS NULL OR dst IS NULL OR weight IS NULL
	   OR kind IS NULL OR bidirectional IS NULL THEN
		RAISE EXCEPTION 'arguments of engram.associate must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	m := engram.memory_table(tbl);
	IF NOT (weight > 0 AND weight <= 1) THEN
		RAISE EXCEPTION 'association weight must be greater than 0 and at most 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The weight given was %s.', weight);
	END IF;
	IF src = dst THEN
		RAISE EXCEPTION 'a memory cannot be associated with itself'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- lock both rows (in key order) so neither is deleted under the edge
	FOREACH key IN ARRAY ARRAY[least(src, dst), greatest(src, dst)] LOOP
		EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %I = $1 FOR KEY SHARE)', tbl, m.id_column)
			INTO present USING key;
		IF NOT present THEN
			RAISE EXCEPTION 'memory % does not exist in table "%"', key, tbl
				USING ERRCODE = 'foreign_key_violation';
		END IF;
	END LOOP;
	-- both directions in one statement, in key order: concurrent writers
	-- (recall with reinforce, other associate calls) lock edges in one order
	INSERT INTO engram.associations AS a (tbl, src, dst, weight, kind)
	SELECT associate.tbl, e.s, e.d, associate.weight, associate.kind
	FROM (VALUES (associate.src, associate.dst), (associate.dst, associate.src)) e(s, d)
	WHERE bidirectional OR e.s = associate.src
	ORDER BY e.s, e.d
	ON CONFLICT ON CONSTRAINT associations_pkey
	DO UPDATE SET weight = EXCLUDED.weight, kind = EXCLUDED.kind;
END
$$;
COMMENT ON FUNCTION engram.associate(regclass, bigint, bigint, real, text, boolean) IS 'create or update an association';

CREATE FUNCTION engram.dissociate(tbl regclass, src bigint, dst bigint) RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM engram.memory_table(tbl);
	DELETE FROM engram.associations a
	WHERE a.tbl = dissociate.tbl AND a.src = dissociate.src AND a.dst = dissociate.dst;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION engram.dissociate(regclass, bigint, bigint) IS 'remove the association src -> dst';

CREATE FUNCTION engram.spread(tbl regclass, seeds bigint[], max_hops int DEFAULT 3,
	decay real DEFAULT 0.5, threshold real DEFAULT 0.1, seed_activation real[] DEFAULT NULL)
	RETURNS TABLE (id bigint, activation real, hops int)
	AS 'MODULE_PATHNAME', 'engram_memory_spread' LANGUAGE C STABLE;
COMMENT ON FUNCTION engram.spread(regclass, bigint[], int, real, real, real[]) IS 'spreading activation from seed memories';

CREATE FUNCTION engram.recall(tbl regclass, cue vector, k int DEFAULT 10,
	mode text DEFAULT 'hybrid', seeds int DEFAULT NULL, max_hops int DEFAULT 2,
	decay real DEFAULT 0.5, threshold real DEFAULT 0.1, reinforce boolean DEFAULT false)
	RETURNS TABLE (id bigint, activation real, similarity real, hops int)
	AS 'MODULE_PATHNAME', 'engram_memory_recall' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION engram.recall(regclass, vector, int, text, int, int, real, real, boolean) IS 'memories most activated by a cue';

CREATE FUNCTION engram.decay_associations(tbl regclass, factor real) RETURNS bigint
	AS 'MODULE_PATHNAME', 'engram_memory_decay_associations' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION engram.decay_associations(regclass, real) IS 'weaken all associations, prune those below engram.prune_below';

CREATE FUNCTION engram.memory_stats(tbl regclass,
	OUT memories bigint, OUT hot bigint, OUT warm bigint, OUT cold bigint,
	OUT edges bigint, OUT mean_degree float8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'engram_memory_stats' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION engram.memory_stats(regclass) IS 'memories per tier, edges and mean out-degree';

CREATE FUNCTION engram.adjacency_cache_stats(
	OUT memory_table regclass, OUT valid boolean, OUT nodes bigint, OUT edges bigint,
	OUT bytes bigint, OUT builds bigint, OUT hits bigint, OUT misses bigint,
	OUT patched_hits bigint, OUT patch_sources bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'engram_adjacency_cache_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION engram.adjacency_cache_stats() IS 'this backend''s use of the adjacency caches: graph mapped, its builds, spreads served (hits, of which patched_hits through a patch) and not (misses), sources its patch holds';

CREATE FUNCTION engram.adjacency_cache_graphs(
	OUT memory_table regclass, OUT pinned boolean, OUT current boolean,
	OUT bytes bigint, OUT builds bigint, OUT build_seconds float8,
	OUT building_pid integer, OUT main_segment boolean)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'engram_adjacency_cache_graphs' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION engram.adjacency_cache_graphs() IS 'the adjacency graphs in shared memory for this database''s memory tables';

CREATE FUNCTION engram.memory_statistics(
	OUT dbid oid, OUT relid oid, OUT recalls bigint, OUT spreads bigint,
	OUT recall_activated_nodes bigint, OUT spread_activated_nodes bigint,
	OUT recall_seconds float8, OUT spread_seconds float8,
	OUT recall_activated_buckets bigint[], OUT spread_activated_buckets bigint[],
	OUT recall_latency_buckets bigint[], OUT spread_latency_buckets bigint[],
	OUT stats_since timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'engram_memory_statistics' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION engram.memory_statistics() IS 'counters of every memory table engram tracks, in every database (needs shared_preload_libraries)';

CREATE VIEW engram.memory_stats_all AS
	SELECT n.nspname AS schemaname, c.relname AS tablename, s.relid,
		s.recalls, s.spreads, s.recall_activated_nodes, s.spread_activated_nodes,
		s.recall_seconds, s.spread_seconds, s.recall_activated_buckets,
		s.spread_activated_buckets, s.recall_latency_buckets,
		s.spread_latency_buckets, s.stats_since
	FROM engram.memory_statistics() s
	JOIN pg_catalog.pg_class c ON c.oid = s.relid
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database
					WHERE datname = pg_catalog.current_database());
COMMENT ON VIEW engram.memory_stats_all IS 'recalls, spreads, activated memories and latency of this database''s memory tables';
