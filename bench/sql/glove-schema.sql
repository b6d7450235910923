-- Tables of the glove scenarios; the same in the engram and the pgvector
-- database (both provide the type "vector").  :cat_col is either empty or
-- ", category int" (glove-filtered).
CREATE TABLE items (id bigint, word text, embedding vector(100) :cat_col);
CREATE TABLE queries (qn serial PRIMARY KEY, id bigint NOT NULL, word text, embedding vector(100));
