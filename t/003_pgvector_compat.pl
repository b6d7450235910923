# Differential test against pgvector: every pgvector-compatible pg_regress
# file gives byte-identical output on engram and on pgvector.  Needs
# pgvector installed in the same PostgreSQL; skipped when it is not.
use strict;
use warnings;
use File::Temp qw(tempdir);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# sql_tests files written in pgvector-compatible SQL only
my @files = qw(vector_type halfvec_type cast copy);

my $node = PostgreSQL::Test::Cluster->new('compat');
$node->init;
$node->start;

my $have_pgvector = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'");
if ($have_pgvector ne '1')
{
	$node->stop;
	plan skip_all => 'pgvector is not installed in this PostgreSQL';
}

$node->safe_psql('postgres', 'CREATE DATABASE with_engram');
$node->safe_psql('postgres', 'CREATE DATABASE with_pgvector');
$node->safe_psql('with_engram', 'CREATE EXTENSION engram');
$node->safe_psql('with_pgvector', 'CREATE EXTENSION vector');
note 'pgvector '
  . $node->safe_psql('with_pgvector',
	"SELECT extversion FROM pg_extension WHERE extname = 'vector'");

# Run a file the way pg_regress does: on stdin, echoed, errors interleaved.
# COPY files go to build/regress/ under a scratch directory.
sub run_file
{
	my ($db, $file) = @_;
	my $scratch = tempdir(CLEANUP => 1);
	mkdir "$scratch/build";
	mkdir "$scratch/build/regress";
	my $out = '';
	IPC::Run::run(
		[
			'psql', '-X', '-a', '-q',
			'-h', $node->host, '-p', $node->port, '-d', $db
		],
		'<', "sql_tests/$file.sql",
		'>&', \$out,
		init => sub { chdir $scratch });
	return $out;
}

foreach my $file (@files)
{
	my $engram = run_file('with_engram', $file);
	my $pgvector = run_file('with_pgvector', $file);
	ok(length($engram) > 0, "$file: engram produced output");
	is($engram, $pgvector, "$file: same output as pgvector");
}

$node->stop;
done_testing();
