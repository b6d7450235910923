# engram_hnsw recall: recall@10 of the index against exact search on 3000
# clustered 32-dimensional vectors, after a build in memory, a build that
# runs out of maintenance_work_mem and continues on disk, inserts into an
# existing index, deleting 30% of the rows with VACUUM, concurrent inserts
# from pgbench, and a build with parallel workers.
#
# The threshold: HNSW with m = 16, ef_construction = 64 and ef_search = 100
# on a few thousand points in 32 dimensions finds well over 99% of the true
# ten nearest neighbours (pgvector and hnswlib both do on such data); the
# scan here also re-checks every candidate's exact distance, so the graph
# search only has to bring the right rows into the ef_search candidates.
# 0.95 leaves room for the random levels of the graph while still failing on
# a graph with broken or missing links (a lost tenth of the graph, or
# searches stopping early, fall well below it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $min_recall = 0.95;

my $node = PostgreSQL::Test::Cluster->new('hnsw_recall');
$node->init;
# enable_seqscan = off makes plans costly enough to be JIT-compiled: slow
$node->append_conf('postgresql.conf', "maintenance_work_mem = '256MB'\njit = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION engram');

# 30 clusters; 3000 rows and 50 queries drawn around their centres
$node->safe_psql(
	'postgres', q{
	SELECT setseed(0.17);
	CREATE TABLE centres AS
	SELECT c, array(SELECT random() * 2 - 1 FROM generate_series(1, 32) WHERE c >= 0) AS x
	FROM generate_series(0, 29) c;
	CREATE TABLE points (id int PRIMARY KEY, v vector(32));
	INSERT INTO points
	SELECT i, (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
			   FROM centres, generate_series(1, 32) d WHERE c = i % 30)::vector(32)
	FROM generate_series(1, 3000) i;
	CREATE TABLE queries (qid int, v vector(32));
	INSERT INTO queries
	SELECT i, (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
			   FROM centres, generate_series(1, 32) d WHERE c = (i * 7) % 30)::vector(32)
	FROM generate_series(1, 50) i;
});

# recall@k of the index on tbl.col with operator op, against a sequential
# scan of the same table; also whether the plan used the index, how many
# queries got fewer than k rows, and how many returned ids are duplicates
# or not (any more) in the table
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION recall_at(tbl text, col text, op text, k int DEFAULT 10,
	OUT recall float8, OUT index_used boolean, OUT short int, OUT bad int)
LANGUAGE plpgsql AS $$
DECLARE
	qtype text := CASE WHEN col = 'h' THEN 'halfvec' ELSE 'vector' END;
	plan text := '';
	line text;
	q record;
	truth int[];
	got int[];
	hits bigint := 0;
	n int := 0;
	b int;
BEGIN
	short := 0;
	bad := 0;
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT id FROM %I ORDER BY %I %s $1::%s LIMIT %s',
							   tbl, col, op, qtype, k)
		USING (SELECT v::text FROM queries LIMIT 1)
	LOOP
		plan := plan || line;
	END LOOP;
	index_used := plan ~ 'Index Scan using';
	FOR q IN SELECT qid, v::text AS x FROM queries ORDER BY qid LOOP
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		PERFORM set_config('enable_bitmapscan', 'off', true);
		EXECUTE format('SELECT array(SELECT id FROM %I ORDER BY %I %s $1::%s, id LIMIT %s)',
					   tbl, col, op, qtype, k) INTO truth USING q.x;
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		EXECUTE format('SELECT array(SELECT id FROM %I ORDER BY %I %s $1::%s LIMIT %s)',
					   tbl, col, op, qtype, k) INTO got USING q.x;
		hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (truth));
		IF cardinality(got) < k THEN
			short := short + 1;
		END IF;
		EXECUTE format('SELECT count(*) FROM unnest($1) g WHERE NOT EXISTS (SELECT 1 FROM %I t WHERE t.id = g)', tbl)
			INTO b USING got;
		bad := bad + b + cardinality(got) - (SELECT count(DISTINCT g) FROM unnest(got) g);
		n := n + 1;
	END LOOP;
	recall := hits::float8 / (n * k);
END $$;
});

# Check recall of an index; $what names the case
sub check_recall
{
	my ($what, $tbl, $col, $op, %opts) = @_;
	my $ef = $opts{ef_search} // 100;
	my $min = $opts{min} // $min_recall;
	my $res = $node->safe_psql('postgres',
		"SET engram.ef_search = $ef; SELECT * FROM recall_at('$tbl', '$col', '$op')");
	my ($recall, $used, $short, $bad) = split /\|/, $res;
	note "$what: recall\@10 = $recall at ef_search = $ef";
	is($used, 't', "$what: the index is used");
	cmp_ok($recall, '>=', $min, "$what: recall\@10 >= $min");
	is($short, '0', "$what: every query gets 10 rows");
	is($bad, '0', "$what: no duplicate or vanished rows returned");
	return $recall;
}

sub check_index
{
	my ($what, $index) = @_;
	is($node->safe_psql('postgres', "SELECT string_agg(p, '; ') FROM engram.hnsw_check('$index') p"),
		'', "$what: hnsw_check finds no problems");
}

# 1. build in memory
$node->safe_psql('postgres',
	'CREATE INDEX points_l2 ON points USING engram_hnsw (v vector_l2_ops)');
check_recall('in-memory build', 'points', 'v', '<->');
check_index('in-memory build', 'points_l2');
# a larger candidate list finds nearly everything
my $r400 = check_recall('in-memory build, ef_search 400', 'points', 'v', '<->', ef_search => 400);
cmp_ok($r400, '>=', 0.99, 'ef_search = 400 finds nearly everything');
$node->safe_psql('postgres', 'DROP INDEX points_l2');

# other operator classes on the same data
$node->safe_psql('postgres',
	'ALTER TABLE points ADD COLUMN h halfvec(32); UPDATE points SET h = v; VACUUM points');
$node->safe_psql('postgres',
	'CREATE INDEX points_hcos ON points USING engram_hnsw (h halfvec_cosine_ops)');
check_recall('halfvec cosine build', 'points', 'h', '<=>');
$node->safe_psql('postgres', 'DROP INDEX points_hcos');
$node->safe_psql('postgres',
	'CREATE INDEX points_ip ON points USING engram_hnsw (v vector_ip_ops)');
check_recall('inner product build', 'points', 'v', '<#>');
$node->safe_psql('postgres', 'DROP INDEX points_ip');
$node->safe_psql('postgres',
	'CREATE INDEX points_l1 ON points USING engram_hnsw (v vector_l1_ops)');
check_recall('L1 build', 'points', 'v', '<+>');
$node->safe_psql('postgres', 'DROP INDEX points_l1');

# 2. a build that runs out of memory: what fits is built in memory and
# written, the rest goes through the on-disk insert path.  With m = 48 a
# 32-dimensional node takes about 970 bytes in memory (hnsw_build_memory),
# so 1MB holds about 1,080 of the 3000 rows.
my ($ret, $out, $err) = $node->psql(
	'postgres', q{
	SET maintenance_work_mem = '1MB';
	SET client_min_messages = notice;
	CREATE INDEX points_small_mem ON points USING engram_hnsw (v vector_l2_ops)
		WITH (m = 48, ef_construction = 96);
});
is($ret, 0, 'low-memory build succeeds');
like(
	$err,
	qr/NOTICE:  engram_hnsw graph no longer fits into maintenance_work_mem after \d+ tuples/,
	'low-memory build says it continues on disk');
my ($in_memory) = $err =~ /after (\d+) tuples/;
ok(defined $in_memory && $in_memory > 0 && $in_memory < 3000,
	'part of the table was built in memory, the rest on disk');
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('points_small_mem')"),
	'3000', 'low-memory build indexed every row');
check_recall('low-memory build', 'points', 'v', '<->');
check_index('low-memory build', 'points_small_mem');
$node->safe_psql('postgres', 'DROP INDEX points_small_mem');

# 3. build on half of the rows, insert the other half
$node->safe_psql(
	'postgres', q{
	CREATE TABLE half (id int PRIMARY KEY, v vector(32)) WITH (autovacuum_enabled = off);
	INSERT INTO half SELECT id, v FROM points WHERE id <= 1500;
	CREATE INDEX half_l2 ON half USING engram_hnsw (v vector_l2_ops);
	INSERT INTO half SELECT id, v FROM points WHERE id > 1500;
});
check_recall('build on half, insert half', 'half', 'v', '<->');
check_index('build on half, insert half', 'half_l2');

# 4. delete 30% of the rows, spread over every cluster (row i is in cluster
# i % 30): before VACUUM the dead rows take some of the ef_search
# candidates, after it they are gone and the graph is repaired
$node->safe_psql('postgres', 'DELETE FROM half WHERE (id / 30) % 10 < 3');
check_recall('30% deleted, before VACUUM', 'half', 'v', '<->');
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) half');
check_recall('30% deleted, after VACUUM', 'half', 'v', '<->');
check_index('30% deleted, after VACUUM', 'half_l2');
is( $node->safe_psql(
		'postgres', "SELECT elements, deleted, reusable FROM engram.hnsw_stats('half_l2')"),
	'2100|0|900',
	'VACUUM leaves the live nodes and makes the deleted ones reusable');
# the rows come back, into the freed slots
$node->safe_psql('postgres',
	'INSERT INTO half SELECT id, v FROM points WHERE (id / 30) % 10 < 3');
check_recall('deleted rows inserted again', 'half', 'v', '<->');
check_index('deleted rows inserted again', 'half_l2');
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('half_l2')"),
	'3000', 'every row is indexed again');

# 5. concurrent inserts: 4 pgbench clients insert the rows, 5 per
# transaction, into an indexed empty table
$node->safe_psql(
	'postgres', q{
	CREATE TABLE conc (id int PRIMARY KEY, v vector(32));
	CREATE INDEX conc_l2 ON conc USING engram_hnsw (v vector_l2_ops);
	CREATE SEQUENCE conc_batch;
});
$node->pgbench(
	'--no-vacuum --client=4 --transactions=150',
	0,
	[qr{number of transactions actually processed: 600/600}],
	[qr{^$}],
	'concurrent inserts with pgbench',
	{
		'010_hnsw_insert' => q{
WITH b AS (SELECT nextval('conc_batch') AS k)
INSERT INTO conc SELECT p.id, p.v FROM points p, b WHERE p.id BETWEEN (b.k - 1) * 5 + 1 AND b.k * 5;
}
	},
	'postgres');
is($node->safe_psql('postgres', 'SELECT count(*) FROM conc'), '3000', 'all rows inserted');
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('conc_l2')"),
	'3000', 'all rows indexed');
check_recall('concurrent inserts', 'conc', 'v', '<->');
check_index('concurrent inserts', 'conc_l2');

# 6. a parallel build: the leader and 2 workers insert into one graph in
# shared memory.  The planner gives a table this small no workers of its
# own accord, hence its parallel_workers.
my ($pret, $pout, $perr) = $node->psql(
	'postgres', q{
	ALTER TABLE points SET (parallel_workers = 2);
	SET max_parallel_maintenance_workers = 2;
	SET client_min_messages = debug1;
	CREATE INDEX points_par ON points USING engram_hnsw (v vector_l2_ops);
});
is($pret, 0, 'parallel build succeeds');
like(
	$perr,
	qr/engram_hnsw build of "points_par": [12] of 2 parallel workers launched/,
	'the build ran with parallel workers');
check_recall('parallel build', 'points', 'v', '<->');
check_recall('parallel build, ef_search 400', 'points', 'v', '<->', ef_search => 400, min => 0.99);
check_index('parallel build', 'points_par');
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('points_par')"),
	'3000', 'parallel build indexed every row');

$node->stop;
done_testing();
