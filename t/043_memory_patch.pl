# Patched adjacency caches (src/memory/patch.c): a cache gone stale serves
# spreads with the out-edges of the sources changed since its build read
# from the index.  After every step a reader's spread through the cache
# must equal the index path's in the same transaction (the truth for its
# snapshot); the counters show that the patch, not a rebuild, served it.
# Then random interleavings of two writers and a reader, in READ COMMITTED
# and REPEATABLE READ, with commits and rollbacks; then a change log too
# small for the changes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EngramSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('memory_patch');
$node->init;
$node->append_conf('postgresql.conf',
	"jit = off\nautovacuum = off\nshared_preload_libraries = 'engram'\n"
	  . "engram.adjacency_cache_settle = 1000\nengram.adjacency_cache_background = off\n");
# the graphs in the main shared memory segment, carved out of
# min_dynamic_shared_memory (t/042 has them in segments of their own)
$node->append_conf('postgresql.conf', "min_dynamic_shared_memory = 16MB\n")
  if $node->pg_version >= 14;
$node->start;
memory_table($node, 200);
$node->safe_psql(
	'postgres', q{
	INSERT INTO engram.associations (tbl, src, dst, weight, kind)
	SELECT 'g', i, 1 + (i * 7 + j * 13) % 190, 0.5 + j / 10.0, 'test'
	FROM generate_series(1, 190) i, generate_series(1, 4) j
	WHERE 1 + (i * 7 + j * 13) % 190 <> i
	ON CONFLICT DO NOTHING;
});

my $reader = session($node);
my $writer = session($node);

my $seeds = '{1,2}';
sub spread_sql
{
	return "SELECT coalesce(string_agg(id || ':' || activation || ':' || hops, ' '
		ORDER BY activation DESC, id), '') FROM engram.spread('g', '$seeds', 3, 0.5, 0)";
}

my $stats = q{SELECT builds || ' ' || hits || ' ' || misses || ' ' || patched_hits
	FROM engram.adjacency_cache_stats()};

# the reader's spread through its cache and through the index, in the same
# transaction; returns the result and (builds, hits, misses, patched hits)
sub read_both
{
	my ($what, $s) = @_;
	$s //= $reader;
	my $cached = query($s, spread_sql());
	my $counts = query($s, $stats);
	query($s, 'SET engram.adjacency_cache = off');
	my $indexed = query($s, spread_sql());
	query($s, 'RESET engram.adjacency_cache');
	is($cached, $indexed, "$what: the same as the index path");
	return ($cached, split(/ /, $counts));
}

sub reaches
{
	my ($result, $id) = @_;
	return $result =~ /(^| )$id:/;
}

my ($r, $builds, $hits, $misses, $patched) = read_both('first spread');
is("$builds $hits $misses $patched", '1 1 0 0', 'the first spread builds the cache');
my $in_main = q{SELECT bool_and(main_segment) FROM engram.adjacency_cache_graphs()};
is(query($reader, $in_main), 't', 'the graph is in the main shared memory segment')
  if $node->pg_version >= 14;
ok(!reaches($r, 195), 'row 195 is not reached before it is linked');

query($writer, q{SELECT engram.associate('g', 1, 195, 1, bidirectional => false)});
($r, $builds, $hits, $misses, $patched) = read_both('committed edge');
ok(reaches($r, 195), 'an edge committed by another session is seen');
is("$builds $hits $misses $patched", '1 2 0 1', 'through a patch, without a rebuild');

# a writer in flight: its edge is not seen, the patch still serves
query($writer, 'BEGIN');
query($writer, q{SELECT engram.associate('g', 2, 196, 1, bidirectional => false)});
($r, $builds, $hits, $misses, $patched) = read_both('uncommitted edge');
ok(!reaches($r, 196), 'an uncommitted edge is not seen');
is("$builds $hits $misses $patched", '1 3 0 2', 'while a writer is in flight');
query($writer, 'COMMIT');
($r, $builds, $hits, $misses, $patched) = read_both('edge committed later');
ok(reaches($r, 196), 'the edge is seen once committed (its source read again)');
is("$builds $hits $misses", '1 4 0', 'still the same graph');

# a removal rolled back changes nothing; a committed one does
query($writer, 'BEGIN');
query($writer, q{SELECT engram.dissociate('g', 1, 195)});
($r) = read_both('removal in flight');
ok(reaches($r, 195), 'an uncommitted removal hides nothing');
query($writer, 'ROLLBACK');
($r) = read_both('removal rolled back');
ok(reaches($r, 195), 'a rolled back removal hides nothing');

# REPEATABLE READ: a snapshot older than later changes keeps seeing the
# edges it saw, from the same patch
query($reader, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
($r) = read_both('repeatable read, before');
ok(reaches($r, 195), 'repeatable read sees the edge');
query($writer, q{SELECT engram.dissociate('g', 1, 195)});
query($writer, q{SELECT engram.associate('g', 2, 197, 1, bidirectional => false)});
($r, $builds, $hits, $misses, $patched) = read_both('repeatable read, after a removal');
ok(reaches($r, 195), 'repeatable read still sees the removed edge');
ok(!reaches($r, 197), 'and not the later insert');
is($misses, 0, 'the patch serves the older snapshot too');
query($reader, 'COMMIT');
($r) = read_both('after the repeatable read');
ok(!reaches($r, 195), 'a new transaction no longer sees the removed edge');
ok(reaches($r, 197), 'and sees the insert');

# memories the cache does not hold: a new row linked in, as a destination,
# a source and a seed; a deleted row takes its edges along
query($writer, q{INSERT INTO g VALUES (201, '[1,201]'), (202, '[1,202]')});
query($writer, q{SELECT engram.associate('g', 2, 201, 1)});
query($writer, q{SELECT engram.associate('g', 201, 202, 0.9)});
query($writer, q{SELECT engram.associate('g', 202, 150, 0.8, bidirectional => false)});
($r) = read_both('new memories');
ok(reaches($r, 202), 'a new memory two hops away is reached');
$seeds = '{202,1}';
($r) = read_both('a new memory as a seed');
ok(reaches($r, 150), 'a new seed spreads along its new edge');
$seeds = '{1,2}';
query($writer, 'DELETE FROM g WHERE id = 201');
($r) = read_both('a memory deleted');
ok(!reaches($r, 201) && !reaches($r, 202), 'a deleted memory and what hung on it are gone');
query($writer, q{SELECT engram.associate('g', 1, 3, 0.2, bidirectional => false)});
query($writer, q{SELECT engram.decay_associations('g', 0.9)});
($r, $builds, $hits, $misses, $patched) = read_both('a weight changed, all weights decayed');
is("$builds $misses", '1 0', 'all of it from the first graph');
ok($patched >= 9, "patched hits ($patched)");

# another session maps the same stale graph and patches it itself
my $other = session($node);
($r, $builds, $hits, $misses, $patched) = read_both('another session', $other);
is("$builds $hits $misses $patched", '0 1 0 1', 'maps the shared graph, patched');

# REPEATABLE READ across a rebuild: the new graph, built after the
# transaction's snapshot, cannot serve it; the graph it has still does
query($reader, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
read_both('repeatable read, before a rebuild');
query($writer, q{SELECT engram.associate('g', 3, 198, 1, bidirectional => false)});
query($other, 'SET engram.adjacency_cache_settle = 0');
($r, $builds) = read_both('another session rebuilds', $other);
is($builds, 1, 'the other session rebuilt the graph');
query($other, 'RESET engram.adjacency_cache_settle');
my ($misses_before, $rr_patched) = ($misses, $patched);
($r, $builds, $hits, $misses, $patched) = read_both('repeatable read, after a rebuild');
ok(!reaches($r, 198), 'the older snapshot does not see the new edge');
is($misses, $misses_before, 'served by the graph it had, not the index');
ok($patched > $rr_patched, 'patched');
query($reader, 'COMMIT');
($r, $builds, $hits, $misses, $patched) = read_both('after the repeatable read');
ok(reaches($r, 198), 'a new transaction sees the new edge');
is($misses, $misses_before, 'from the new graph');

# with patching off a stale graph serves nothing
query($writer, q{SELECT engram.associate('g', 4, 199, 1, bidirectional => false)});
query($reader, 'SET engram.adjacency_cache_patch = off');
($r, $builds, $hits, $misses) = read_both('patching off');
ok($misses > 0, 'patching off: the index serves');
query($reader, 'RESET engram.adjacency_cache_patch');

# TRUNCATE: no graph built before it can be patched
query($writer, 'TRUNCATE engram.associations');
($r, $builds, $hits, $misses) = read_both('after TRUNCATE');
is($r, '1:1:0 2:1:0', 'after TRUNCATE only the seeds remain');
$node->safe_psql(
	'postgres', q{
	INSERT INTO engram.associations (tbl, src, dst, weight, kind)
	SELECT 'g', i, 1 + (i * 7 + j * 13) % 190, 0.5 + j / 10.0, 'test'
	FROM generate_series(1, 190) i, generate_series(1, 4) j
	WHERE 1 + (i * 7 + j * 13) % 190 <> i
	ON CONFLICT DO NOTHING;
});
query($reader, 'SET engram.adjacency_cache_settle = 0');
($r, $builds) = read_both('rebuilt after TRUNCATE');
is($builds, 2, 'a graph built anew');
query($reader, 'RESET engram.adjacency_cache_settle');
finish($other);

# Random interleavings: two writers change edges inside transactions that
# commit or roll back, a reader compares cache and index in READ COMMITTED
# and in REPEATABLE READ transactions that span several writes
srand(43);
my @writers = ($writer, session($node));
my @open = (0, 0);
my $reader_in_rr = 0;
my ($compared, $differ) = (0, 0);
for my $step (1 .. 800)
{
	my $w = int(rand(2));
	my $roll = rand();
	if ($roll < 0.45)
	{
		my ($a, $b) = (1 + int(rand(196)), 1 + int(rand(196)));
		next if $a == $b;
		if (!$open[$w] && rand() < 0.6)
		{
			query($writers[$w], 'BEGIN');
			$open[$w] = 1;
		}
		my $sql =
		  rand() < 0.6
		  ? sprintf(q{SELECT engram.associate('g', %d, %d, %.2f, bidirectional => %s)},
			$a, $b, 0.1 + rand(0.9), rand() < 0.5 ? 'true' : 'false')
		  : sprintf(q{SELECT engram.dissociate('g', %d, %d)}, $a, $b);
		# the other writer may hold the row: skip what would wait for it
		query($writers[$w], 'SET lock_timeout = 50') if $step <= 2;
		if (!defined try_query($writers[$w], $sql) && $open[$w])
		{
			query($writers[$w], 'ROLLBACK');
			$open[$w] = 0;
		}
	}
	elsif ($roll < 0.6)
	{
		next unless $open[$w];
		query($writers[$w], rand() < 0.75 ? 'COMMIT' : 'ROLLBACK');
		$open[$w] = 0;
	}
	elsif ($roll < 0.7)
	{
		query($reader,
			$reader_in_rr ? 'COMMIT' : 'BEGIN ISOLATION LEVEL REPEATABLE READ');
		$reader_in_rr = !$reader_in_rr;
	}
	else
	{
		$seeds = '{' . (1 + int(rand(196))) . ',' . (1 + int(rand(196))) . '}';
		next if $seeds =~ /^\{(\d+),\1\}$/;
		my $cached = query($reader, spread_sql());
		query($reader, 'SET engram.adjacency_cache = off');
		my $indexed = query($reader, spread_sql());
		query($reader, 'RESET engram.adjacency_cache');
		$compared++;
		$differ++ if $cached ne $indexed;
	}
}
for my $w (0, 1)
{
	query($writers[$w], 'COMMIT') if $open[$w];
}
query($reader, 'COMMIT') if $reader_in_rr;
is($differ, 0, "random interleavings: cache and index agree ($compared spreads)");
($r, $builds, $hits, $misses, $patched) = read_both('after the interleavings');
note("builds $builds, hits $hits, misses $misses, patched hits $patched");
ok($patched > $compared / 2, 'most of them served through a patch');
finish($_) for ($reader, @writers);

# A change log of 16 entries: more changes than it holds cannot be
# patched; the index serves, and the next quiet spread rebuilds (the log
# has moved on by more than half its size)
$node->append_conf('postgresql.conf', "engram.adjacency_change_log = 16\n");
$node->restart;
$reader = session($node);
$seeds = '{1,2}';
($r, $builds, $hits, $misses, $patched) = read_both('small log: first spread');
is("$builds $hits $misses", '1 1 0', 'built');
$node->safe_psql('postgres',
	q{SELECT engram.associate('g', 3, 4 + i, 0.7, bidirectional => false) FROM generate_series(1, 5) i});
($r, $builds, $hits, $misses, $patched) = read_both('small log: 5 changes');
is("$builds $hits $misses $patched", '1 2 0 1', 'patched');
$node->safe_psql('postgres',
	q{SELECT engram.associate('g', 5 + i, 1, 0.7, bidirectional => false) FROM generate_series(1, 20) i});
($r, $builds, $hits, $misses, $patched) = read_both('small log: 20 more changes');
is("$builds $hits $misses", '2 3 0', 'past the log: rebuilt');
my $bystander = session($node);
query($bystander, 'BEGIN');
query($bystander, q{SELECT engram.associate('g', 7, 8, 0.3, bidirectional => false)});
$node->safe_psql('postgres',
	q{SELECT engram.associate('g', 10 + i, 9, 0.7, bidirectional => false) FROM generate_series(1, 20) i});
($r, $builds, $hits, $misses, $patched) = read_both('small log: overwritten while a writer runs');
is("$builds $misses", '2 1', 'no patch, no rebuild: the index serves');
query($bystander, 'COMMIT');
($r, $builds, $hits, $misses, $patched) = read_both('small log: writer ended');
is("$builds $misses", '3 1', 'rebuilt once quiet');

# a graph that still serves, patched, is rebuilt by a background worker
# once the log has moved on by half its size: no query waits for it
query($reader, 'SET engram.adjacency_cache_background = on');
my $graph_builds = q{SELECT sum(builds) || ' ' || bool_and(current) FROM engram.adjacency_cache_graphs()};
my ($before) = split / /, query($reader, $graph_builds);
$node->safe_psql('postgres',
	q{SELECT engram.associate('g', 30 + i, 9, 0.6, bidirectional => false) FROM generate_series(1, 10) i});
($r, $builds, $hits, $misses, $patched) = read_both('small log: 10 changes');
is("$builds $misses", '3 1', 'served patched, not rebuilt by the reader');
my $after;
for (1 .. 100)
{
	$after = query($reader, $graph_builds);
	last if $after eq ($before + 1) . ' true';
	usleep(100_000);
}
is($after, ($before + 1) . ' true', 'a background worker rebuilt the graph');
my $patched_before = $patched;
($r, $builds, $hits, $misses, $patched) = read_both('small log: after the background rebuild');
is("$builds $misses $patched", "3 1 $patched_before",
	'the reader maps the new graph: current, no patch');
is(query($reader, $in_main), 't', 'the rebuilt graph is in the main segment too')
  if $node->pg_version >= 14;
finish($_) for ($reader, $bystander);

# no graph at all, as after a restart: the first spread reads the index
# and a background worker builds the graph meanwhile
$node->restart;
$reader = session($node);
query($reader, 'SET engram.adjacency_cache_background = on');
($r, $builds, $hits, $misses, $patched) = read_both('restarted: first spread');
is("$builds $hits $misses", '0 0 1', 'the index serves the first spread');
for (1 .. 100)
{
	$after = query($reader, $graph_builds);
	last if $after eq '1 true';
	usleep(100_000);
}
is($after, '1 true', 'a background worker built the graph');
($r, $builds, $hits, $misses, $patched) = read_both('restarted: after the background build');
is("$builds $hits $misses", '0 1 1', 'the reader maps the graph the worker built');
finish($reader);

$node->stop;
done_testing();
