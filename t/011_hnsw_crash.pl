# engram_hnsw crash safety: the server is killed with SIGKILL while pgbench
# clients insert into an indexed table, and a backend is killed during a
# slowed-down VACUUM of the index.  After crash recovery every committed row
# is found through the index by its own vector, recall holds, and
# engram.hnsw_check() finds nothing wrong with the index.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('hnsw_crash');
$node->init;
# enable_seqscan = off makes plans costly enough to be JIT-compiled: slow.
# Crash recovery after SIGKILL, not an OS crash: fsync = off is fine.
$node->append_conf('postgresql.conf',
	"jit = off\nrestart_after_crash = on\nautovacuum = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION engram');

# 6000 distinct 32-dimensional rows in 40 clusters to insert from, and 50
# queries around the same centres
$node->safe_psql(
	'postgres', q{
	SELECT setseed(0.29);
	CREATE TABLE centres AS
	SELECT c, array(SELECT random() * 2 - 1 FROM generate_series(1, 32) WHERE c >= 0) AS x
	FROM generate_series(0, 39) c;
	CREATE TABLE source (id int PRIMARY KEY, v vector(32));
	INSERT INTO source
	SELECT i, (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
			   FROM centres, generate_series(1, 32) d WHERE c = i % 40)::vector(32)
	FROM generate_series(1, 6000) i;
	CREATE TABLE queries (qid int, v vector(32));
	INSERT INTO queries
	SELECT i, (SELECT array_agg(x[d] + (random() - 0.5) * 0.5 ORDER BY d)
			   FROM centres, generate_series(1, 32) d WHERE c = (i * 7) % 40)::vector(32)
	FROM generate_series(1, 50) i;

	CREATE TABLE items (id int PRIMARY KEY, v vector(32));
	-- written in the same transaction as the rows: what committed
	CREATE TABLE committed (id int PRIMARY KEY);
	CREATE SEQUENCE batch;
	-- an index over a few rows, so inserts start from an existing graph
	INSERT INTO items SELECT id, v FROM source WHERE id <= 200;
	INSERT INTO committed SELECT id FROM items;
	SELECT setval('batch', 40);
	CREATE INDEX items_l2 ON items USING engram_hnsw (v vector_l2_ops);
});

# Five source rows per transaction, recorded in "committed" by the same
# statement
my $insert_script = q{
WITH b AS (SELECT nextval('batch') AS k),
ins AS (INSERT INTO items SELECT s.id, s.v FROM source s, b
		WHERE s.id BETWEEN (b.k - 1) * 5 + 1 AND b.k * 5 RETURNING id)
INSERT INTO committed SELECT id FROM ins;
};
my $script_file = $node->basedir . '/011_insert.sql';
append_to_file($script_file, $insert_script);

# Start pgbench in the background; returns the harness and its outputs
sub start_pgbench
{
	my (@opts) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '--no-vacuum', @opts, '-f', $script_file,
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

# Wait until the table has at least $n rows
sub wait_for_rows
{
	my ($table, $n) = @_;
	$node->poll_query_until('postgres', "SELECT count(*) >= $n FROM $table")
	  or die "timed out waiting for $n rows in $table";
}

# The postmaster and every process it started
sub postgres_pids
{
	my $pm = $node->{_pid};
	my @pids = ($pm);
	opendir(my $dh, '/proc') or die "no /proc: $!";
	foreach my $p (grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close($fh);
		next unless defined $stat;
		# pid (comm) state ppid ...
		push @pids, $p if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $pm;
	}
	closedir($dh);
	return @pids;
}

# After recovery: rows and their tracking agree, every row is found through
# the index by its own vector, recall@10 holds, and the index is sound
sub check_after_crash
{
	my ($what, %opts) = @_;

	is( $node->safe_psql(
			'postgres',
			'SELECT count(*) FROM items i FULL JOIN committed c USING (id) WHERE i.id IS NULL OR c.id IS NULL'
		),
		'0',
		"$what: the committed rows are exactly the table's rows");
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
	note "$what: $rows rows";

	# Whether each row is in the graph, not how good the search is: with
	# ef_search = 100 one node in several thousand of a churned graph can
	# be missed though reachable (hnsw_check below checks reachability),
	# as in 012 and 013, which also look rows up with ef_search = 400.
	my $lost = $node->safe_psql(
		'postgres', q{
		SET enable_seqscan = off;
		SET engram.ef_search = 400;
		SELECT count(*) FROM committed c JOIN items i USING (id)
		WHERE (SELECT i2.id FROM items i2 ORDER BY i2.v <-> i.v LIMIT 1) IS DISTINCT FROM i.id;
	});
	is($lost, '0', "$what: every committed row is found by its own vector");
	is( $node->safe_psql(
			'postgres',
			q{SET enable_seqscan = off;
			  EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1]' LIMIT 1}) =~
		  /Index Scan using items_l2/ ? 1 : 0,
		1,
		"$what: those lookups use the index");

	my $recall = $node->safe_psql(
		'postgres', q{
		SET enable_indexscan = off;
		CREATE TEMP TABLE truth AS
		SELECT qid, array(SELECT id FROM items ORDER BY v <-> q.v, id LIMIT 10) AS ids FROM queries q;
		RESET enable_indexscan;
		SET enable_seqscan = off;
		SET engram.ef_search = 100;
		SELECT sum((SELECT count(*) FROM unnest(array(SELECT id FROM items ORDER BY v <-> q.v LIMIT 10)) g
					WHERE g = ANY (t.ids)))::float8 / (10 * count(*))
		FROM queries q JOIN truth t USING (qid);
	});
	note "$what: recall\@10 = $recall";
	cmp_ok($recall, '>=', 0.95, "$what: recall\@10 >= 0.95");

	# nodes of aborted inserts and deleted rows stay until VACUUM
	my $elements = $node->safe_psql('postgres', "SELECT elements FROM engram.hnsw_stats('items_l2')");
	if ($opts{vacuumed})
	{
		is($elements, $rows, "$what: the index holds one live node per row");
	}
	else
	{
		cmp_ok($elements, '>=', $rows, "$what: the index holds a node for every row");
	}

  SKIP:
	{
		skip 'engram.hnsw_check does not exist', 1
		  unless $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_proc WHERE proname = 'hnsw_check'") eq '1';
		is( $node->safe_psql(
				'postgres', "SELECT string_agg(p, '; ') FROM engram.hnsw_check('items_l2') p"),
			'',
			"$what: hnsw_check finds no problems");
	}
	return $rows;
}

# 1. SIGKILL every server process during concurrent inserts
my ($h, $out, $err) = start_pgbench('--client=4', '--time=60');
wait_for_rows('items', 1500);
my @pids = postgres_pids();
note 'killing ' . scalar(@pids) . ' server processes';
kill 'KILL', @pids;
$node->{_pid} = undef;
ok(!$h->finish, 'pgbench saw the server go away');
# wait for the old processes to be gone before starting again
foreach my $p (@pids)
{
	usleep(100_000) while kill(0, $p);
}
$node->start;
my $rows = check_after_crash('SIGKILL during inserts');
cmp_ok($rows, '>=', 1500, 'the rows committed before the crash survived');

# inserts continue on the recovered index
$node->pgbench('--no-vacuum --client=4 --transactions=25', 0,
	[qr{actually processed: 100/100}], [qr{^$}],
	'inserts after recovery', { '011_insert_after' => $insert_script }, 'postgres');
check_after_crash('inserts after recovery');

# 2. kill -9 one backend in the middle of a VACUUM of the index (slowed
# down with cost-based delays) while inserts go on; the postmaster resets
# every backend and recovers
$node->safe_psql('postgres',
	'DELETE FROM items WHERE id % 10 < 3; DELETE FROM committed WHERE id % 10 < 3');
my ($vout, $verr) = ('', '');
my $vacuum = IPC::Run::start(
	[
		'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		'-c', 'SET vacuum_cost_delay = 20', '-c', 'SET vacuum_cost_limit = 1',
		'-c', 'VACUUM items'
	],
	'>', \$vout, '2>', \$verr);
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass AND phase = 'vacuuming indexes'"
) or die 'VACUUM never reached its index phase';
($h, $out, $err) = start_pgbench('--client=2', '--time=60');
usleep(500_000);
my $vacuum_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass");
ok($vacuum_pid =~ /^\d+$/, 'VACUUM still runs when killed');
kill 'KILL', $vacuum_pid;
ok(!$vacuum->finish, 'the killed VACUUM failed');
$h->finish;
# the postmaster restarts by itself
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
ok( $node->log_contains(qr/server process \(PID $vacuum_pid\) was terminated by signal 9/),
	'the backend was killed and the server reset');
check_after_crash('kill -9 during VACUUM');

# a VACUUM that runs to its end afterwards
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
check_after_crash('VACUUM after recovery', vacuumed => 1);

ok(!$node->log_contains(qr/PANIC|TRAP:|index returned tuples in wrong order/),
	'no PANIC or assertion failure in the server log');
$node->stop;
done_testing();
