# engram_hnsw read-ahead (src/readahead.c): after a restart nothing is in
# shared buffers, so searches hand the index pages of each hop and the heap
# pages of the results to the kernel before reading them, through io_uring
# (engram.io_uring = on, where the kernel allows a ring) or posix_fadvise.
# Checks, each after a restart: the blocks are counted as read ahead, the
# method is the one asked for (io_uring falls back to posix_fadvise only
# when the kernel refuses it, and then says so), results are the same rows
# in the same order with either method and with read-ahead off (also at
# ef_search 500, whose batches overflow a ring submission), and
# engram.hnsw_prefetch = off or effective_io_concurrency = 0 read nothing
# ahead.  Results are compared with the same searches in a session whose
# pages were all in shared buffers (the graph search does not depend on
# read-ahead), not with exact search: on uniform random data the index
# need not find every true neighbour.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_readahead');
$node->init;
$node->append_conf('postgresql.conf', "jit = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION engram');
$node->safe_psql(
	'postgres', q{
	SELECT setseed(0.3);
	CREATE TABLE items (id int PRIMARY KEY, v vector(64));
	INSERT INTO items
	SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) WHERE i > 0)::vector(64)
	FROM generate_series(1, 6000) i;
	CREATE TABLE queries AS
	SELECT q, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) WHERE q > 0)::vector(64) AS v
	FROM generate_series(1, 20) q;
	CREATE INDEX ON items USING engram_hnsw (v vector_l2_ops);
	CHECKPOINT;
});

# the 20 queries' top 10, in order, then this backend's read-ahead counters
my $searches = q{
	SELECT string_agg(r.ids, ';' ORDER BY q.q)
	FROM queries q,
		 LATERAL (SELECT string_agg(id::text, ',' ORDER BY d, id) AS ids
				  FROM (SELECT id, v <-> q.v AS d FROM items ORDER BY v <-> q.v LIMIT 10) s) r;
};
my $counters = 'SELECT method, batches, blocks_read_ahead, blocks_in_buffers FROM engram.readahead_stats()';

sub cold_run
{
	my ($settings) = @_;
	$node->restart;
	my $out = $node->safe_psql('postgres',
		"SET enable_seqscan = off; $settings; SELECT 1 FROM queries LIMIT 1; SELECT * FROM engram.readahead_stats(); $searches; $counters; $searches; $counters");
	my @lines = split /\n/, $out;
	my %r;
	@r{qw(before first after_first second after_second)} = @lines[ 1 .. 5 ];
	return \%r;
}

my $exact = $node->safe_psql('postgres', "SET enable_seqscan = off; $searches; $searches");
$exact = (split /\n/, $exact)[1];

my $fadvise = cold_run('SET engram.io_uring = off');
is($fadvise->{before}, 'posix_fadvise|0|0|0', 'nothing read ahead before the searches');
is($fadvise->{first}, $exact, 'posix_fadvise: the same results');
my ($method, $batches, $ahead, $cached) = split /\|/, $fadvise->{after_first};
is($method, 'posix_fadvise', 'posix_fadvise when engram.io_uring is off');
cmp_ok($ahead, '>', 20, "posix_fadvise: blocks read ahead after a restart ($ahead in $batches batches)");
is($fadvise->{second}, $exact, 'posix_fadvise: the same results, second pass');

my $uring = cold_run('SET engram.io_uring = on');
($method, $batches, $ahead, $cached) = split /\|/, $uring->{after_first};
ok($method eq 'io_uring' || $method eq 'posix_fadvise', "a method is reported ($method)");
note("io_uring unavailable here: the fallback is what is tested") if $method ne 'io_uring';
cmp_ok($ahead, '>', 20, "$method: blocks read ahead after a restart ($ahead in $batches batches)");
is($uring->{first}, $exact, "$method: the same results");
my (undef, @f) = split /\|/, $fadvise->{after_first};
is(join('|', $batches, $ahead, $cached), join('|', @f), 'the same batches and blocks with either method');
my (undef, @f2) = split /\|/, $fadvise->{after_second};
my (undef, @u2) = split /\|/, $uring->{after_second};
is(join('|', @u2), join('|', @f2), 'the same again after the second pass');

# ef_search 500: batches of hundreds of heap pages, more than one ring
# submission (64 blocks) holds and more requests than its completion queue
my $wide_ref = (split /\n/, $node->safe_psql('postgres', "SET enable_seqscan = off; SET engram.ef_search = 500; $searches; $searches"))[1];
my $wide_f = cold_run('SET engram.io_uring = off; SET engram.ef_search = 500');
my $wide_u = cold_run('SET engram.io_uring = on; SET engram.ef_search = 500');
is($wide_f->{first}, $wide_ref, 'ef_search 500, posix_fadvise: the same results');
is($wide_u->{first}, $wide_ref, 'ef_search 500, io_uring: the same results');
my (undef, undef, $wide_ahead) = split /\|/, $wide_u->{after_first};
cmp_ok($wide_ahead, '>', 200, "ef_search 500: $wide_ahead blocks read ahead");
is((split /\|/, $wide_u->{after_first}, 2)[1], (split /\|/, $wide_f->{after_first}, 2)[1],
	'ef_search 500: the same batches and blocks with either method');

my $off = cold_run('SET engram.hnsw_prefetch = off');
like($off->{after_first}, qr/\|0\|0\|0$/, 'engram.hnsw_prefetch = off: nothing read ahead');
is($off->{first}, $exact, 'read-ahead off: the same results');

my $eic = cold_run('SET effective_io_concurrency = 0');
like($eic->{after_first}, qr/\|0\|0\|0$/, 'effective_io_concurrency = 0: nothing read ahead');

$node->stop;
done_testing();
