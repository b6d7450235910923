# The adjacency cache under MVCC, with two sessions: a reader whose spreads
# may come from its cache, and a writer changing associations.  After every
# step the reader's spread must equal what the index path returns in the
# same transaction (the truth for its snapshot), and show or hide the edge
# the step is about; the cache counters show which path served it.  This
# test is about a cache that is exact or not used at all, so patching is
# off (t/043 tests patched caches).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EngramSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memory_adjacency');
$node->init;
$node->append_conf('postgresql.conf',
	"jit = off\nautovacuum = off\nshared_preload_libraries = 'engram'\n"
	  . "engram.adjacency_cache_patch = off\nengram.adjacency_cache_background = off\n");
$node->start;
memory_table($node, 200);
$node->safe_psql(
	'postgres', q{
	INSERT INTO engram.associations (tbl, src, dst, weight, kind)
	SELECT 'g', i, 1 + (i * 7 + j * 13) % 190, 0.5, 'test'
	FROM generate_series(1, 190) i, generate_series(1, 4) j
	WHERE 1 + (i * 7 + j * 13) % 190 <> i
	ON CONFLICT DO NOTHING;
});

my $reader = session($node);
my $writer = session($node);
query($reader, 'SET engram.adjacency_cache_settle = 0');

my $spread = q{SELECT string_agg(id || ':' || activation || ':' || hops, ' '
	ORDER BY activation DESC, id) FROM engram.spread('g', '{1,2}', 3, 0.5, 0)};

# the reader's spread through its cache and through the index, in the same
# transaction; returns the result and the cache's (builds, hits, misses)
sub read_both
{
	my ($what) = @_;
	my $cached = query($reader, $spread);
	my $counts = query($reader,
		'SELECT builds || \' \' || hits || \' \' || misses FROM engram.adjacency_cache_stats()');
	query($reader, 'SET engram.adjacency_cache = off');
	my $indexed = query($reader, $spread);
	query($reader, 'RESET engram.adjacency_cache');
	is($cached, $indexed, "$what: the same as the index path");
	return ($cached, split(/ /, $counts));
}

sub reaches
{
	my ($result, $id) = @_;
	return $result =~ /(^| )$id:/;
}

my ($r, $builds, $hits, $misses) = read_both('first spread');
is("$builds $hits $misses", '1 1 0', 'first spread builds the cache and uses it');
ok(!reaches($r, 195), 'row 195 is not reached before it is linked');

query($writer, q{SELECT engram.associate('g', 1, 195, 1, bidirectional => false)});
($r, $builds, $hits, $misses) = read_both('committed edge');
ok(reaches($r, 195), 'an edge committed by another session is seen');
is("$builds $hits", '2 2', 'after a rebuild from the cache');

# an edge not yet committed: invisible; no cache is kept while the writer
# is in flight, so the index serves
query($writer, 'BEGIN');
query($writer, q{SELECT engram.associate('g', 2, 196, 1, bidirectional => false)});
($r, $builds, $hits, $misses) = read_both('uncommitted edge');
ok(!reaches($r, 196), 'an uncommitted edge is not seen');
is("$builds $hits $misses", '2 2 1', 'while a writer is in flight the index serves');
query($writer, 'COMMIT');
($r, $builds, $hits, $misses) = read_both('edge committed later');
ok(reaches($r, 196), 'the edge is seen once committed');
is("$builds $hits $misses", '3 3 1', 'from a rebuilt cache');

# a removal rolled back changes nothing
query($writer, 'BEGIN');
query($writer, q{SELECT engram.dissociate('g', 1, 195)});
($r) = read_both('removal in flight');
ok(reaches($r, 195), 'an uncommitted removal hides nothing');
query($writer, 'ROLLBACK');
($r, $builds, $hits, $misses) = read_both('removal rolled back');
ok(reaches($r, 195), 'a rolled back removal hides nothing');
is("$builds $hits", '4 4', 'the cache is rebuilt after the rollback');

# a REPEATABLE READ transaction older than the cache: the writer removes an
# edge, the reader's next spread rebuilds the cache without it, but its own
# snapshot still sees the edge, so the index must serve it
query($reader, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
($r, $builds, $hits, $misses) = read_both('repeatable read, before');
ok(reaches($r, 195), 'repeatable read sees the edge');
is("$builds $hits", '4 5', 'served by the cache while it is current');
query($writer, q{SELECT engram.dissociate('g', 1, 195)});
($r, $builds, $hits, $misses) = read_both('repeatable read, after a removal');
ok(reaches($r, 195), 'repeatable read still sees the removed edge');
is("$builds $hits $misses", '5 5 3',
	'the cache rebuilt from a newer snapshot does not serve the older one');
query($reader, 'COMMIT');
($r, $builds, $hits, $misses) = read_both('after the repeatable read');
ok(!reaches($r, 195), 'a new transaction no longer sees the removed edge');
is("$builds $hits", '5 6', 'and the rebuilt cache serves it');

# the reader's snapshot taken before an insert commits; the writer's commit
# makes the cache stale; the rebuild sees the edge, the snapshot does not
query($reader, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
query($reader, 'SELECT 1');
query($writer, q{SELECT engram.associate('g', 2, 197, 1, bidirectional => false)});
($r, $builds, $hits, $misses) = read_both('repeatable read older than an insert');
ok(!reaches($r, 197), 'repeatable read does not see a later insert');
is("$builds $hits $misses", '6 6 4', 'the index serves it');
query($reader, 'COMMIT');
($r, $builds, $hits, $misses) = read_both('after it');
ok(reaches($r, 197), 'a new transaction sees the insert');
is("$builds $hits", '6 7', 'from the cache built meanwhile');

# the writer's own transaction sees its own change; TRUNCATE is seen too
query($writer, 'BEGIN');
query($writer, q{SELECT engram.associate('g', 1, 198, 1, bidirectional => false)});
like(query($writer, $spread), qr/(^| )198:/, 'a writer sees its own uncommitted edge');
query($writer, 'ROLLBACK');
query($writer, 'TRUNCATE engram.associations');
($r) = read_both('truncate');
is($r, '1:1:0 2:1:0', 'after TRUNCATE only the seeds remain');

# one graph in shared memory serves every session: built once, by the
# first that needs it, and kept after that session ends
query($writer,
	q{INSERT INTO engram.associations (tbl, src, dst, weight, kind)
	SELECT 'g', i, 1 + (i * 7 + 13) % 190, 0.5, 'test' FROM generate_series(1, 190) i
	WHERE 1 + (i * 7 + 13) % 190 <> i});
my $graphs = q{SELECT string_agg(memory_table || ' ' || pinned || ' ' || current, ',')
	|| ' ' || sum(builds) FROM engram.adjacency_cache_graphs()};
($r, $builds) = read_both('a graph for all sessions');
my $shared = query($reader, $graphs);
like($shared, qr/^g true true \d+$/, 'the reader built one shared graph');
my $other = session($node);
query($other, 'SET engram.adjacency_cache_settle = 0');
is(query($other, $spread), $r, 'another session spreads the same');
is( query(
		$other,
		'SELECT builds || \' \' || hits || \' \' || misses FROM engram.adjacency_cache_stats()'),
	'0 1 0',
	'from the reader\'s graph, without building one');
is(query($other, $graphs), $shared, 'no second graph, no second build');
finish($reader);
my $third = session($node);
is(query($third, $spread), $r, 'a new session after the builder ended');
is( query($third, 'SELECT builds || \' \' || hits FROM engram.adjacency_cache_stats()'),
	'0 1', 'still from the graph the ended session built');

# a change makes the graph stale; the next spread unpins it and builds anew
query($writer, q{SELECT engram.associate('g', 1, 199, 1, bidirectional => false)});
my ($n) = $shared =~ / (\d+)$/;
is(query($other, $graphs), "g true false $n", 'after a change the graph is stale');
like(query($other, $spread), qr/(^| )199:/, 'the next spread sees the change');
is(query($third, $graphs), 'g true true ' . ($n + 1),
	'one graph again, current, built once more');
is( query($third, 'SELECT main_segment FROM engram.adjacency_cache_graphs()'),
	'f', 'in a segment of its own: min_dynamic_shared_memory is 0');

finish($_) for ($writer, $other, $third);
$node->stop;
done_testing();
