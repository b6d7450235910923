# Cognitive memory under concurrency: pgbench clients recall (with and
# without reinforcement), spread, associate, insert (auto_link) and delete
# rows of one memory table, and decay its associations, at once for a
# bounded time, with the adjacency cache rebuilt whenever stale (so
# spreads go through both paths).  No client may see an error (a deadlock included: every
# writer of engram.associations locks edges in key order), and afterwards
# no edge or recall state may refer to a deleted row.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $duration = 15;

my $node = PostgreSQL::Test::Cluster->new('memory_concurrency');
$node->init;
$node->append_conf('postgresql.conf',
	"jit = off\nautovacuum = off\nmax_connections = 20\nlog_min_messages = warning\n"
	  . "shared_preload_libraries = 'engram'\nengram.adjacency_cache_settle = 0\n"
	  . "deadlock_timeout = 100ms\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION engram');

# 1,500 rows near 30 centres, inserted one by one after attach so that
# auto_link builds the graph (5 nearest each)
$node->safe_psql(
	'postgres', q{
	SELECT setseed(0.29);
	CREATE TABLE centres AS
	SELECT c, array(SELECT random() * 2 - 1 FROM generate_series(1, 32) WHERE c >= 0) AS x
	FROM generate_series(0, 29) c;
	CREATE TABLE mem (id bigserial PRIMARY KEY, embedding vector(32));
	CREATE INDEX ON mem USING engram_hnsw (embedding vector_cosine_ops);
	SELECT engram.attach('mem', auto_link => 5);
	CREATE TABLE queries (qid int, v vector(32));
	INSERT INTO queries
	SELECT i, (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
			   FROM centres, generate_series(1, 32) d WHERE c = (i * 7) % 30)::vector(32)
	FROM generate_series(1, 50) i;
});
$node->safe_psql('postgres', q{
	INSERT INTO mem (embedding)
	SELECT (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
			FROM centres, generate_series(1, 32) d WHERE c = i % 30)::vector(32)
	FROM generate_series(1, 1500) i;
});
my $edges = $node->safe_psql('postgres', 'SELECT edges FROM engram.memory_stats(\'mem\')');
note "auto_link made $edges edges";
cmp_ok($edges, '>=', 1500 * 5, 'auto_link linked every row');

# rows 1..1500 are never deleted, so associate always finds its ends;
# rows inserted during the run are deleted, under recalls that may
# reinforce them and auto_link edges that point at them
my %scripts = (
	'recall@6' => q{
\set q random(1, 50)
SELECT count(*) FROM engram.recall('mem', (SELECT v FROM queries WHERE qid = :q), 10, seeds => 5, max_hops => 3);
},
	'reinforce@4' => q{
\set q random(1, 50)
SELECT count(*) FROM engram.recall('mem', (SELECT v FROM queries WHERE qid = :q), 5, 'hybrid', max_hops => 2, reinforce => true);
},
	'spread@3' => q{
\set a random(1, 1500)
SELECT count(*) FROM engram.spread('mem', ARRAY[:a, :a % 1500 + 1]::bigint[], 3, 0.8, 0.05);
},
	'associate@4' => q{
\set a random(1, 1500)
\set b random(1, 1500)
SELECT engram.associate('mem', :a, :b, 0.5) WHERE :a <> :b;
SELECT engram.dissociate('mem', :b, :a) WHERE :a % 3 = 0;
},
	'insert@3' => q{
\set c random(0, 29)
INSERT INTO mem (embedding)
SELECT (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
		FROM centres, generate_series(1, 32) d WHERE c = :c)::vector(32);
},
	'delete@2' => q{
DELETE FROM mem WHERE id = (SELECT id FROM mem WHERE id > 1500 ORDER BY random() LIMIT 1);
},
	'decay@1' => q{
SELECT engram.decay_associations('mem', 0.999);
},);

my $dir = $node->basedir;
my @files;
foreach my $name (sort keys %scripts)
{
	(my $file = "$dir/020_$name") =~ s/\@\d+$//;
	append_to_file($file, $scripts{$name});
	my ($weight) = $name =~ /\@(\d+)$/;
	push @files, '-f', "$file\@$weight";
}

my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');
my ($out, $err) = ('', '');
my $work = IPC::Run::start(
	[ 'pgbench', '--no-vacuum', '--client=6', "--time=$duration", @files, @conn ],
	'>', \$out, '2>', \$err);
my $work_ok = $work->finish;

ok($work_ok, 'workload pgbench succeeded');
is($err, '', 'no errors from the workload clients');
my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
note "workload: " . ($done // 'no') . " transactions";
ok(defined $done && $done > 0, 'the workload ran');
foreach my $name (sort keys %scripts)
{
	(my $short = $name) =~ s/\@\d+$//;
	my ($n) = $out =~ /SQL script \d+: \S*020_\Q$short\E\n(?:.*\n)*?\s*- (\d+) transactions/;
	note "$short: " . ($n // '?') . ' transactions';
}

my $log = slurp_file($node->logfile);
my @bad = grep { /ERROR|PANIC|TRAP:|FATAL|deadlock/ } split /\n/, $log;
is(join("\n", @bad), '', 'no ERROR, FATAL, PANIC or deadlock in the server log');

is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM engram.associations a
		WHERE a.tbl = 'mem'::regclass
		  AND (NOT EXISTS (SELECT FROM mem WHERE id = a.src)
			   OR NOT EXISTS (SELECT FROM mem WHERE id = a.dst))}),
	'0', 'no edge refers to a deleted row');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM engram.memory_state s
		WHERE s.tbl = 'mem'::regclass AND NOT EXISTS (SELECT FROM mem WHERE id = s.id)}),
	'0', 'no recall state of a deleted row');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM engram.associations WHERE NOT (weight > 0 AND weight <= 1)}),
	'0', 'every weight is in (0, 1]');
cmp_ok(
	$node->safe_psql(
		'postgres', q{SELECT count(*) FROM engram.associations WHERE kind = 'hebbian'}),
	'>', 0, 'reinforcement created associations');
cmp_ok(
	$node->safe_psql('postgres', q{SELECT max(recall_count) FROM engram.memory_state}),
	'>', 1, 'recalls were counted');

$node->stop;
done_testing();
