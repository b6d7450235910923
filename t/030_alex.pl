# engram_alex under concurrency, on a streaming replica and through crashes
# (with wal_consistency_checking: every replayed page must equal the page
# the primary wrote, which checks the hand-built insert records, alexwal.c):
#  1. pgbench clients insert, delete, scan and VACUUM at once for a bounded
#     time: no error, engram.alex_check() clean, index answers = seq scan's;
#  2. the standby answers every query exactly as the primary does;
#  3. every server process is killed with SIGKILL during concurrent
#     inserts; after recovery no committed row is lost and the index is
#     sound, and inserts go on.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $primary = PostgreSQL::Test::Cluster->new('alex_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf',
	"jit = off\nrestart_after_crash = on\nautovacuum = off\n"
	  . "wal_consistency_checking = generic\n");
$primary->start;
$primary->safe_psql(
	'postgres', q{
	CREATE EXTENSION engram;
	SELECT setseed(0.5);
	CREATE SEQUENCE ids;
	CREATE TABLE items (id int8 PRIMARY KEY DEFAULT nextval('ids'), k int8);
	-- written in the same transaction as the rows: what committed
	CREATE TABLE committed (id int8 PRIMARY KEY, k int8);
	INSERT INTO items (k)
	SELECT CASE WHEN random() < 0.01 THEN NULL ELSE (random() * 1e9)::int8 END
	FROM generate_series(1, 20000);
	INSERT INTO committed SELECT id, k FROM items;
	CREATE INDEX items_k ON items USING engram_alex (k);
});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('alex_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# Five rows per transaction, recorded in "committed" by the same
# statement: random keys, a few NULLs, a few copies of one key, and runs of
# ascending keys (appends at the end of the key space)
my $insert = q{
WITH ins AS (
	INSERT INTO items (k)
	SELECT CASE WHEN r < 0.02 THEN NULL WHEN r < 0.1 THEN 424242
				WHEN r < 0.3 THEN 1000000000 + nextval('ids') ELSE (random() * 1e9)::int8 END
	FROM (SELECT random() AS r FROM generate_series(1, 5)) s
	RETURNING id, k)
INSERT INTO committed SELECT id, k FROM ins;
};
my $delete = q{
\set lo random(0, 1000000000)
WITH del AS (DELETE FROM items WHERE k BETWEEN :lo AND :lo + 200000 RETURNING id)
DELETE FROM committed WHERE id IN (SELECT id FROM del);
};
my $scan = q{
\set lo random(0, 1000000000)
SET enable_seqscan = off;
SELECT count(*) FROM items WHERE k BETWEEN :lo AND :lo + 5000000;
SELECT k FROM items WHERE k >= :lo ORDER BY k LIMIT 20;
SELECT k FROM items WHERE k <= :lo ORDER BY k DESC LIMIT 20;
SELECT count(*) FROM items WHERE k = ANY (ARRAY[424242, :lo]);
};
my $vacuum = q{
VACUUM items;
};

# index answers against sequential scans, and the structural check
sub check_index
{
	my ($node, $what) = @_;
	my @preds = (
		'k IS NOT NULL', 'k IS NULL', 'k = 424242', 'k < 300000000',
		'k BETWEEN 250000000 AND 750000000', 'k > 1000000000',
		'k = ANY (ARRAY[424242, 1000000005, 7])');
	my $diff = 0;
	foreach my $p (@preds)
	{
		my $q = "SELECT count(*) || ' ' || coalesce(sum(k), 0) FROM items WHERE $p";
		my $via_index = $node->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_bitmapscan = off; $q");
		my $via_bitmap = $node->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_indexscan = off; SET enable_indexonlyscan = off; $q");
		my $via_heap = $node->safe_psql('postgres',
			"SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; $q");
		if ($via_index ne $via_heap || $via_bitmap ne $via_heap)
		{
			diag "$what: $p: index $via_index, bitmap $via_bitmap, heap $via_heap";
			$diff++;
		}
	}
	is($diff, 0, "$what: index and bitmap scans agree with the heap");
	my $ordered = $node->safe_psql(
		'postgres', q{
		SET enable_seqscan = off;
		SELECT count(*) FROM (SELECT k, lag(k) OVER () AS prev FROM
			(SELECT k FROM items WHERE k IS NOT NULL ORDER BY k) s) t WHERE prev > k});
	is($ordered, '0', "$what: ORDER BY through the index is ordered");
	is($node->safe_psql('postgres', "SELECT string_agg(p, '; ') FROM engram.alex_check('items_k') p"),
		'', "$what: alex_check finds no problems");
}

# 1. concurrent insert + delete + scan + VACUUM for a bounded time
$primary->pgbench(
	'--no-vacuum --client=5 --time=12',
	0,
	[qr{processed: [1-9]}],
	[qr{^$}],
	'concurrent inserts, deletes, scans and VACUUM',
	{
		'020_insert@6' => $insert,
		'020_delete@1' => $delete,
		'020_scan@6' => $scan,
		'020_vacuum@1' => $vacuum
	},
	'postgres');
check_index($primary, 'after concurrent work');
cmp_ok($primary->safe_psql('postgres', "SELECT data_nodes FROM engram.alex_stats('items_k')"),
	'>', 1, 'the index has several data nodes');

# 2. the standby equals the primary
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $same = 0;
my @queries = (
	'SELECT count(*), sum(k) FROM items WHERE k BETWEEN 100000000 AND 600000000',
	'SELECT array_agg(k) FROM (SELECT k FROM items WHERE k >= 777777 ORDER BY k LIMIT 50) s',
	'SELECT array_agg(k) FROM (SELECT k FROM items ORDER BY k DESC LIMIT 50) s',
	'SELECT count(*) FROM items WHERE k IS NULL',
	'SELECT count(*) FROM items WHERE k = 424242');
foreach my $q (@queries)
{
	my $sql = "SET enable_seqscan = off; $q";
	$same++ if $primary->safe_psql('postgres', $sql) eq $standby->safe_psql('postgres', $sql);
}
is($same, scalar(@queries), 'the standby answers as the primary does');
is($standby->safe_psql('postgres', "SELECT string_agg(p, '; ') FROM engram.alex_check('items_k') p"),
	'', 'alex_check finds no problems on the standby');
$standby->stop;

# 3. SIGKILL every server process during concurrent inserts
my $script_file = $primary->basedir . '/020_insert.sql';
append_to_file($script_file, $insert);
my $before = $primary->safe_psql('postgres', 'SELECT count(*) FROM committed');
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'pgbench', '--no-vacuum', '--client=4', '--time=60', '-f', $script_file,
		'-h', $primary->host, '-p', $primary->port, 'postgres'
	],
	'>', \$out, '2>', \$err);
$primary->poll_query_until('postgres', 'SELECT count(*) >= ' . ($before + 3000) . ' FROM committed')
  or die 'timed out waiting for inserts';
my $pm = $primary->{_pid};
my @pids = ($pm);
opendir(my $dh, '/proc') or die "no /proc: $!";
foreach my $p (grep { /^\d+$/ } readdir($dh))
{
	open(my $fh, '<', "/proc/$p/stat") or next;
	my $stat = <$fh>;
	close($fh);
	push @pids, $p if defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $pm;
}
closedir($dh);
note 'killing ' . scalar(@pids) . ' server processes';
kill 'KILL', @pids;
$primary->{_pid} = undef;
ok(!$h->finish, 'pgbench saw the server go away');
foreach my $p (@pids)
{
	usleep(100_000) while kill(0, $p);
}
$primary->start;

is( $primary->safe_psql(
		'postgres', q{
		SET enable_seqscan = off; SET enable_bitmapscan = off;
		SELECT count(*) FROM committed c
		WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.k = c.k AND i.id = c.id)
		  AND c.k IS NOT NULL}),
	'0',
	'after the crash every committed row is found through the index by its key');
is( $primary->safe_psql(
		'postgres',
		'SELECT count(*) FROM items i FULL JOIN committed c USING (id) WHERE i.id IS NULL OR c.id IS NULL'),
	'0',
	'after the crash the committed rows are exactly the rows');
check_index($primary, 'after the crash');

# inserts and VACUUM go on on the recovered index
$primary->pgbench('--no-vacuum --client=3 --transactions=200', 0,
	[qr{actually processed: 600/600}], [qr{^$}],
	'inserts after recovery', { '020_insert_after' => $insert }, 'postgres');
$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0; VACUUM items; VACUUM items');
check_index($primary, 'after recovery, deletes and VACUUM');

ok(!$primary->log_contains(qr/PANIC|TRAP:/), 'no PANIC or assertion failure in the server log');
$primary->stop;
done_testing();
