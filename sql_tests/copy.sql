-- Binary send/recv: the exact bytes pgvector uses, COPY round trips and
-- rejected payloads.  Only pgvector-compatible SQL.
SET extra_float_digits = 0;

-- int16 dim, int16 unused, then elements in network byte order
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0.5,1e-45]');
SELECT halfvec_send('[1,2,3]');
SELECT halfvec_send('[-0.5,65504]');

-- binary and text COPY round trips
CREATE TABLE cp (id int, v vector(3), h halfvec(3));
INSERT INTO cp VALUES (1, '[1,2,3]', '[1,2,3]'), (2, '[1.5,-2.25,3e-5]', '[1.5,-2.25,3e-5]'), (3, NULL, NULL);
CREATE TABLE cp2 (LIKE cp);
\copy cp TO 'build/regress/copy.bin' WITH (FORMAT binary)
\copy cp2 FROM 'build/regress/copy.bin' WITH (FORMAT binary)
SELECT * FROM cp2 ORDER BY id;
SELECT count(*) FROM cp JOIN cp2 USING (id) WHERE cp.v = cp2.v AND cp.h = cp2.h;
TRUNCATE cp2;
\copy cp TO 'build/regress/copy.txt'
\copy cp2 FROM 'build/regress/copy.txt'
SELECT * FROM cp2 ORDER BY id;

-- crafted payloads: write raw bytes as a bytea column, read them back as a
-- vector column (binary COPY stores both as length + bytes)
CREATE TABLE rawv (b bytea);
CREATE TABLE vin (v vector);
CREATE TABLE hin (v halfvec);
CREATE TABLE v2in (v vector(2));

INSERT INTO rawv VALUES ('\x000200003f80000040000000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
SELECT * FROM vin;

-- unused must be zero
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000200013f80000040000000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)

-- NaN and infinity
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000200007fc0000040000000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x00020000ff80000040000000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)

-- zero and too many dimensions, wrong typmod, short payload
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x00000000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x3e810000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000300003f800000400000003f800000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy v2in FROM 'build/regress/raw.bin' WITH (FORMAT binary)
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000300003f80000040000000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy vin FROM 'build/regress/raw.bin' WITH (FORMAT binary)

-- halfvec payloads
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000200003c004000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy hin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
SELECT * FROM hin;
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000200007c004000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy hin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000200007e004000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy hin FROM 'build/regress/raw.bin' WITH (FORMAT binary)
TRUNCATE rawv;
INSERT INTO rawv VALUES ('\x000200023c004000');
\copy rawv TO 'build/regress/raw.bin' WITH (FORMAT binary)
\copy hin FROM 'build/regress/raw.bin' WITH (FORMAT binary)

DROP TABLE cp, cp2, rawv, vin, hin, v2in;
