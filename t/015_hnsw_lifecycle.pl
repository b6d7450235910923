# engram_hnsw around the graph: build progress as pg_stat_progress_create_index
# shows it (in memory, and a build that runs out of maintenance_work_mem),
# an unlogged index after a crash (reset from its init fork, then usable),
# and engram.hnsw_check on an index damaged on disk.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_lifecycle');
$node->init;
$node->append_conf('postgresql.conf',
	"maintenance_work_mem = '256MB'\nmax_parallel_maintenance_workers = 0\njit = off\n");
$node->start;
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION engram;
	SELECT setseed(0.29);
	CREATE TABLE big (id int PRIMARY KEY, v vector(32));
	INSERT INTO big SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 32) WHERE i > 0)::vector
	FROM generate_series(1, 40000) i;
	CREATE TABLE mid AS SELECT * FROM big WHERE id <= 10000;
	VACUUM ANALYZE big, mid;
	CREATE TABLE samples (n serial, phase text, done bigint, total bigint);
});

# Sample the progress of a build on table tbl every 5 ms from another
# session until the build has come and gone; returns the distinct (phase,
# done, total) rows of engram_hnsw's phases, in order
sub sample_build
{
	my ($tbl, $create) = @_;
	my ($out, $err) = ('', '');
	$node->safe_psql('postgres', 'TRUNCATE samples');
	my $sampler = IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $node->host,
			'-p', $node->port, '-d', 'postgres', '-c', qq{
		DO \$\$
		DECLARE
			seen boolean := false;
		BEGIN
			FOR i IN 1 .. 24000 LOOP
				PERFORM pg_stat_clear_snapshot();
				INSERT INTO samples (phase, done, total)
				SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index
				WHERE relid = '$tbl'::regclass;
				EXIT WHEN seen AND NOT FOUND;
				seen := seen OR FOUND;
				PERFORM pg_sleep(0.005);
			END LOOP;
		END \$\$}
		],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	# the sampler is polling before the build starts
	sleep 1;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $create);
	$sampler->finish;
	is($ret, 0, "build succeeds: $create");
	is($err, '', 'the sampler ran without error');
	my $rows = $node->safe_psql(
		'postgres', q{
		SELECT phase, done, total FROM samples
		WHERE phase IN ('building index: loading tuples', 'building index: building graph',
						'building index: writing pages')
		GROUP BY 1, 2, 3 ORDER BY min(n)});
	return map { [ split /\|/ ] } split /\n/, $rows;
}

# 1. in memory: the rows to load are the planner's estimate, the graph's
# are those loaded; done never exceeds total
my @rows = sample_build('big', 'CREATE INDEX big_v ON big USING engram_hnsw (v vector_l2_ops)');
note scalar(@rows) . ' distinct samples';
ok((grep { $_->[0] eq 'building index: loading tuples' && $_->[2] == 40000 } @rows),
	'loading: the total is the table\'s estimated rows');
ok((grep { $_->[0] eq 'building index: building graph' && $_->[2] == 40000 && $_->[1] > 0 } @rows),
	'building the graph: done rises towards the rows loaded');
is((grep { $_->[1] > $_->[2] || $_->[2] == 0 } @rows), 0, 'every sample has a total, done within it');
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('big_v')"),
	'40000', 'every row indexed');
$node->safe_psql('postgres', 'DROP INDEX big_v');

# 2. out of memory: the graph of what fits, then loading again with the rest
# inserted one by one, the total back at the table's rows
@rows = sample_build('mid',
	"SET maintenance_work_mem = '1MB'; CREATE INDEX mid_v ON mid USING engram_hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8)");
note scalar(@rows) . ' distinct samples';
my ($graph_at) = grep { $rows[$_][0] eq 'building index: building graph' } 0 .. $#rows;
ok(defined $graph_at, 'low memory: the graph of what fit was built');
ok( defined $graph_at
	  && (grep { $_->[0] eq 'building index: loading tuples' && $_->[2] == 10000 && $_->[1] > $rows[$graph_at][2] }
		@rows[ $graph_at .. $#rows ]),
	'low memory: then loading goes on past the graph, out of the table\'s rows');
is((grep { $_->[1] > $_->[2] || $_->[2] == 0 } @rows), 0, 'low memory: every sample has a total, done within it');
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('mid_v')"),
	'10000', 'low memory: every row indexed');
$node->safe_psql('postgres', 'DROP INDEX mid_v');

# 3. an unlogged table's index after a crash: recovery resets both from their
# init forks, and the empty index takes rows and finds them again
$node->safe_psql(
	'postgres', q{
	CREATE UNLOGGED TABLE ul (id int PRIMARY KEY, v vector(32));
	INSERT INTO ul SELECT id, v FROM big WHERE id <= 2000;
	CREATE INDEX ul_v ON ul USING engram_hnsw (v vector_l2_ops);
	INSERT INTO ul SELECT id, v FROM big WHERE id BETWEEN 2001 AND 2500;
});
is($node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('ul_v')"),
	'2500', 'unlogged index holds its rows before the crash');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM ul'), '0', 'the unlogged table is empty after the crash');
is($node->safe_psql('postgres', "SELECT elements, levels FROM engram.hnsw_stats('ul_v')"),
	'0|0', 'its index is the empty one of the init fork');
$node->safe_psql('postgres', 'INSERT INTO ul SELECT id, v FROM big WHERE id <= 1000');
is( $node->safe_psql(
		'postgres', q{
	SET enable_seqscan = off;
	SET engram.ef_search = 200;
	SELECT count(*) FROM big b
	WHERE b.id <= 1000
	  AND (SELECT u.id FROM ul u ORDER BY u.v <-> b.v LIMIT 1) = b.id}),
	'1000', 'after the reset, inserted rows are found through the index by their own vectors');
like(
	$node->safe_psql('postgres',
		"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM ul ORDER BY v <-> (SELECT v FROM big WHERE id = 1) LIMIT 1"),
	qr/Index Scan using ul_v/,
	'those searches use the index');
is($node->safe_psql('postgres', "SELECT count(*) FROM engram.hnsw_check('ul_v')"),
	'0', 'hnsw_check finds no problems after the reset');

# 4. an index damaged on disk: a node that links to itself and a page whose
# special space is not engram_hnsw's
$node->safe_psql(
	'postgres', q{
	CREATE TABLE small (id int PRIMARY KEY, v vector(8));
	INSERT INTO small SELECT id, subvector(v, 1, 8) FROM big WHERE id <= 2000;
	CREATE INDEX small_v ON small USING engram_hnsw (v vector_l2_ops);
});
is($node->safe_psql('postgres', "SELECT count(*) FROM engram.hnsw_check('small_v')"),
	'0', 'the index is sound before the damage');
my $file = $node->data_dir . '/' . $node->safe_psql('postgres', "SELECT pg_relation_filepath('small_v')");
my $last = $node->safe_psql('postgres',
	"SELECT pg_relation_size('small_v') / current_setting('block_size')::int - 1");
$node->stop;

open my $fh, '+<:raw', $file or die "open $file: $!";
my $page;
# block 2, item 1: its first layer-0 neighbour becomes itself.  Node tuple:
# heap TID (6), level (1), flags (1), scale, norm, residual (3 x 4), code
# (8), counts (2 per layer), then the neighbour TIDs (see hnsw.h)
sysseek($fh, 2 * 8192, 0) or die;
sysread($fh, $page, 8192) == 8192 or die;
my $lp = unpack('V', substr($page, 24, 4));
my $off = $lp & 0x7fff;
my $level = unpack('C', substr($page, $off + 6, 1));
my $counts = $off + 20 + 8;
my $nbrs = $counts + 2 * ($level + 1);
$nbrs += $nbrs % 2;
substr($page, $nbrs, 6) = pack('vvv', 0, 2, 1);
sysseek($fh, 2 * 8192, 0) or die;
syswrite($fh, $page, 8192) == 8192 or die;
# the last block: its page id (last two bytes of the special space)
sysseek($fh, $last * 8192 + 8190, 0) or die;
syswrite($fh, pack('v', 0x1234), 2) == 2 or die;
close $fh;

$node->start;
my $problems = $node->safe_psql('postgres', "SELECT p FROM engram.hnsw_check('small_v') p");
like($problems, qr/^node \(2,1\) layer 0 links to itself$/m, 'hnsw_check reports the self-link');
like($problems, qr/^block $last: not an engram_hnsw node page$/m, 'hnsw_check reports the foreign page');

$node->stop;
done_testing();
