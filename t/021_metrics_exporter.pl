# engram's metrics through the real prometheus-postgres-exporter (Debian
# package): start it with monitoring/postgres-exporter-queries.yaml against
# a cluster with engram preloaded and find engram's metrics, with the exact
# counts, in its /metrics output.
use strict;
use warnings;
use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my ($exporter) = grep { -x $_ }
  map { "$_/prometheus-postgres-exporter" } split(/:/, $ENV{PATH}), '/usr/bin';
plan skip_all => 'prometheus-postgres-exporter is not installed (scripts/common.sh DEB_PACKAGES)'
  unless $exporter;

my $queries = dirname(__FILE__) . '/../monitoring/postgres-exporter-queries.yaml';
ok(-f $queries, 'query file exists');

my $node = PostgreSQL::Test::Cluster->new('exporter');
$node->init;
$node->append_conf('postgresql.conf',
	"jit = off\nautovacuum = off\nshared_preload_libraries = 'engram'\n");
$node->start;
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION engram;
	CREATE TABLE public.items (id serial PRIMARY KEY, v vector(8));
	INSERT INTO public.items (v)
	SELECT array(SELECT random() FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1, 500) i;
	CREATE INDEX items_v ON public.items USING engram_hnsw (v vector_l2_ops);
	SELECT engram.reset_stats();
	INSERT INTO public.items (v) VALUES ('[1,2,3,4,5,6,7,8]'), ('[8,7,6,5,4,3,2,1]');
	SET enable_seqscan = off;
	SELECT id FROM public.items ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 5;
	SELECT id FROM public.items ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5;
	SELECT id FROM public.items ORDER BY v <-> '[2,2,2,2,2,2,2,2]' LIMIT 5;
	RESET enable_seqscan;
	CREATE TABLE public.m (id bigint PRIMARY KEY, embedding vector(2));
	INSERT INTO public.m VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[1,1]');
	CREATE INDEX ON public.m USING engram_hnsw (embedding vector_cosine_ops);
	SELECT engram.attach('public.m');
	SELECT engram.associate('public.m', 1, 2);
	SELECT count(*) FROM engram.recall('public.m', '[1,0]', 1, 'hybrid');
	SELECT count(*) FROM engram.spread('public.m', '{1}');
	SELECT count(*) FROM engram.spread('public.m', '{3}');
});

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d user=%s dbname=postgres sslmode=disable',
	$node->host, $node->port, scalar getpwuid($<));
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		$exporter, "--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$queries", '--disable-default-metrics',
		'--disable-settings-metrics'
	],
	'>', \$out, '2>', \$err,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

# the exporter connects on the first scrape; wait for it to listen
my $http = HTTP::Tiny->new(timeout => 10);
my $body = '';
for (my $i = 0; $i < 100; $i++)
{
	my $res = $http->get("http://127.0.0.1:$port/metrics");
	if ($res->{success} && $res->{content} =~ /^engram_scans_total/m)
	{
		$body = $res->{content};
		last;
	}
	sleep 0.2;
}
$h->kill_kill;
note "exporter stderr:\n$err" if $body eq '';

# label order is the exporter's (alphabetical), so each check names them all
like($body, qr/^engram_scans_total\{index="public\.items_v",server="[^"]+"\} 3$/m,
	'scans counted');
like($body, qr/^engram_inserts_total\{index="public\.items_v",server="[^"]+"\} 2$/m,
	'inserts counted');
like($body, qr/^engram_distance_computations_total\{index="public\.items_v",server="[^"]+"\} [1-9]\d*$/m,
	'distance computations');
like($body, qr/^engram_buffer_reads_total\{index="public\.items_v",server="[^"]+",tier="cold"\} \d+$/m,
	'cold tier buffer reads');
like($body, qr/^engram_buffer_hits_total\{index="public\.items_v",server="[^"]+",tier="warm"\} [1-9]\d*$/m,
	'warm tier buffer hits');
like(
	$body,
	qr/^engram_operation_duration_seconds_bucket\{index="public\.items_v",operation="scan",server="[^"]+",le="\+Inf"\} 3$/m,
	'scan latency histogram');
like(
	$body,
	qr/^engram_operation_duration_seconds_count\{index="public\.items_v",operation="insert",server="[^"]+"\} 2$/m,
	'insert latency histogram');
# memory tables: a recall reaching 2 memories, spreads reaching 2 and 1
like($body, qr/^engram_memory_recalls_total\{server="[^"]+",table="public\.m"\} 1$/m,
	'recalls counted');
like($body, qr/^engram_memory_spreads_total\{server="[^"]+",table="public\.m"\} 2$/m,
	'spreads counted');
like(
	$body,
	qr/^engram_memory_activated_nodes_bucket\{operation="spread",server="[^"]+",table="public\.m",le="1"\} 1$/m,
	'activated memories histogram');
like(
	$body,
	qr/^engram_memory_activated_nodes_sum\{operation="spread",server="[^"]+",table="public\.m"\} 3$/m,
	'activated memories summed');
like(
	$body,
	qr/^engram_memory_operation_duration_seconds_count\{operation="recall",server="[^"]+",table="public\.m"\} 1$/m,
	'recall latency histogram');
my @buckets = $body =~ /^engram_operation_duration_seconds_bucket\{[^}]*operation="scan"[^}]*\}/mg;
is(scalar @buckets, 15, 'fourteen bounds and +Inf');

$node->stop;
done_testing();
