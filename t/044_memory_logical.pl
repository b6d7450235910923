# The adjacency cache of a logical replication subscriber: the apply
# worker fires row triggers only (not engram's statement trigger), and
# its replicated changes to engram.associations must still make the
# subscriber's graph stale, so that its spreads see them.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EngramSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = "jit = off\nautovacuum = off\nshared_preload_libraries = 'engram'\n"
  . "engram.adjacency_cache_settle = 1000\nengram.adjacency_cache_background = off\n";

my $pub = PostgreSQL::Test::Cluster->new('memory_pub');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', $conf);
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('memory_sub');
$sub->init;
$sub->append_conf('postgresql.conf', $conf);
$sub->start;

# the same memory table on both (not replicated); the edges are
memory_table($_, 100) for ($pub, $sub);
$pub->safe_psql(
	'postgres', q{
	INSERT INTO engram.associations (tbl, src, dst, weight, kind)
	SELECT 'g', i, 1 + (i * 7) % 90, 0.5, 'test' FROM generate_series(1, 90) i
	WHERE 1 + (i * 7) % 90 <> i;
	CREATE PUBLICATION edges FOR TABLE engram.associations;
});
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION edges CONNECTION '" . $pub->connstr . " dbname=postgres'"
	  . " PUBLICATION edges");
$sub->wait_for_subscription_sync($pub, 'edges');

my $spread = q{SELECT coalesce(string_agg(id || ':' || activation || ':' || hops, ' '
	ORDER BY activation DESC, id), '') FROM engram.spread('g', '{1}', 2, 0.5, 0)};
my $stats = q{SELECT builds || ' ' || hits || ' ' || misses FROM engram.adjacency_cache_stats()};

# the subscriber's spread through its cache and through the index
sub both
{
	my ($what) = @_;
	my $out = $sub->safe_psql(
		'postgres', qq{
		$spread;
		$stats;
		SET engram.adjacency_cache = off;
		$spread;
	});
	my ($cached, $counts, $indexed) = split /\n/, $out;
	is($cached, $indexed, "$what: the same as the index path");
	return ($cached, $counts);
}

my ($r, $counts) = both('after the initial copy');
is($counts, '1 1 0', 'the subscriber built its graph');
unlike($r, qr/(^| )95:/, 'row 95 is not reached yet');

# an edge replicated from the publisher
$pub->safe_psql('postgres', q{SELECT engram.associate('g', 1, 95, 1, bidirectional => false)});
$pub->wait_for_catchup('edges');
($r, $counts) = both('after a replicated insert');
like($r, qr/(^| )95:0.5:1( |$)/, 'the replicated edge is seen through the cache');
is($counts, '0 1 0', 'from the stale graph, patched (a new session: no build)');

# a replicated removal
$pub->safe_psql('postgres', q{SELECT engram.dissociate('g', 1, 95)});
$pub->wait_for_catchup('edges');
($r) = both('after a replicated removal');
unlike($r, qr/(^| )95:/, 'the removed edge is gone');

$sub->stop;
$pub->stop;
done_testing();
