# Index and memory statistics: exact counts under concurrent scans and inserts (no
# update lost between backends), a full statistics table, the error every
# statistics function raises when engram was not preloaded; engram.tune on a
# streaming replica.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('stats');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf',
	"jit = off\nautovacuum = off\nmax_connections = 20\n"
	  . "shared_preload_libraries = 'engram'\nengram.stats_max_indexes = 10\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION engram');
$node->safe_psql(
	'postgres', q{
	CREATE TABLE items (id serial PRIMARY KEY, v vector(16));
	INSERT INTO items (v)
	SELECT array(SELECT random() FROM generate_series(1, 16) WHERE i > 0)::vector
	FROM generate_series(1, 3000) i;
	CREATE INDEX items_v ON items USING engram_hnsw (v vector_l2_ops);
	ANALYZE items;
	SELECT engram.reset_stats();
});

# 4 clients x 50 scans and 2 clients x 25 single-row inserts, at once
my $dir = $node->basedir;
append_to_file(
	"$dir/020_scan", q{
\set id random(1, 3000)
SET enable_seqscan = off;
SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = :id) LIMIT 5;
});
append_to_file(
	"$dir/020_insert", q{
INSERT INTO items (v) SELECT array(SELECT random() FROM generate_series(1, 16))::vector;
});
my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');
my ($sout, $serr, $iout, $ierr) = ('', '', '', '');
my $scans = IPC::Run::start(
	[ 'pgbench', '--no-vacuum', '--client=4', '--transactions=50', '-f', "$dir/020_scan", @conn ],
	'>', \$sout, '2>', \$serr);
my $inserts = IPC::Run::start(
	[ 'pgbench', '--no-vacuum', '--client=2', '--transactions=25', '-f', "$dir/020_insert", @conn ],
	'>', \$iout, '2>', \$ierr);
ok($scans->finish, 'scan clients succeeded');
ok($inserts->finish, 'insert clients succeeded');
is($serr . $ierr, '', 'no client errors');

is( $node->safe_psql(
		'postgres', q{
		SELECT scans, scan_latency_buckets[15], inserts, insert_latency_buckets[15],
			tuples_returned >= 5 * scans, distance_computations > 0,
			hot_hits + hot_reads + warm_hits + warm_reads > 0
		FROM engram.index_stats WHERE indexname = 'items_v'}),
	'200|200|50|50|t|t|t',
	'every concurrent scan and insert counted once');

# the metrics carry the same counts
my $metrics = $node->safe_psql('postgres', 'SELECT engram.metrics()');
like($metrics, qr/^engram_scans_total\{index="\w+\.items_v"\} 200$/m, 'metrics: scans');
like($metrics, qr/^engram_inserts_total\{index="\w+\.items_v"\} 50$/m, 'metrics: inserts');
like(
	$metrics,
	qr/^engram_operation_duration_seconds_count\{operation="scan",index="\w+\.items_v"\} 200$/m,
	'metrics: scan histogram count');

# engram.stats_max_indexes = 10: the eleventh index goes untracked
$node->safe_psql('postgres', 'SELECT engram.reset_stats()');
foreach my $i (1 .. 11)
{
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLE small$i AS
		SELECT array(SELECT random() FROM generate_series(1, 4) WHERE g > 0)::vector(4) AS v
		FROM generate_series(1, 50) g;
		CREATE INDEX small${i}_v ON small$i USING engram_hnsw (v vector_l2_ops);
		SET enable_seqscan = off;
		SELECT v FROM small$i ORDER BY v <-> '[0,0,0,0]' LIMIT 1;
	});
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM engram.index_stats'),
	'10', 'ten indexes tracked');
like(
	$node->safe_psql('postgres', 'SELECT engram.metrics()'),
	qr/^engram_stats_untracked_total [1-9]\d*$/m,
	'scans of the eleventh index counted as untracked');

# engram.tune on a hot standby: it only reads and sets settings locally
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
my ($ret, $out, $err) = $standby->psql('postgres',
	"SELECT max(ef_search) > 0, bool_or(meets_target) FROM engram.tune('items_v', 0.5, 10, 20)");
is($ret, 0, 'tune runs on a standby');
is($err, '', 'tune on a standby: no error');
is($out, 't|t', 'tune on a standby finds an ef_search');
$standby->stop;

# without preloading: a clear error, and scans and inserts still work
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$node->restart;
foreach my $sql ('SELECT * FROM engram.index_stats', 'SELECT engram.metrics()',
	'SELECT engram.reset_stats()', 'SELECT * FROM engram.index_statistics()',
	'SELECT * FROM engram.memory_stats_all')
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "not preloaded: $sql fails");
	like($err, qr/ERROR:  55000: engram statistics are not available/,
		"not preloaded: $sql says why (SQLSTATE 55000)");
	like($err, qr/HINT:  Add engram to shared_preload_libraries and restart the server\./,
		"not preloaded: $sql hints at the fix");
}
is( $node->safe_psql(
		'postgres', q{
		INSERT INTO items (v) SELECT array_fill(0.5::real, ARRAY[16])::vector;
		SET enable_seqscan = off;
		SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> array_fill(0.5::real, ARRAY[16])::vector LIMIT 3) s}),
	'3',
	'not preloaded: scans and inserts work');
like(
	$node->safe_psql(
		'postgres', q{
		CREATE TABLE m (id bigint PRIMARY KEY, embedding vector(2));
		INSERT INTO m VALUES (1, '[1,0]'), (2, '[0,1]');
		CREATE INDEX ON m USING engram_hnsw (embedding vector_cosine_ops);
		SELECT engram.attach('m');
		SELECT engram.associate('m', 1, 2);
		SELECT (SELECT count(*) FROM engram.recall('m', '[1,0]', 2)) || ' '
			|| (SELECT count(*) FROM engram.spread('m', '{1}'))}),
	qr/^2 2$/m,
	'not preloaded: recall and spread work');
like($node->safe_psql('postgres', "SELECT setting FROM engram.advise() WHERE suggested LIKE '%engram%'"),
	qr/shared_preload_libraries/, 'not preloaded: advise suggests preloading');

$node->stop;
done_testing();
