# Schemas: engram's types go to the schema CREATE EXTENSION picks and its own
# API to schema "engram"; engram and pgvector work side by side in one
# database, whichever is installed first (the pgvector parts are skipped
# when pgvector is not installed).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('schemas');
$node->init;
$node->start;

# Default: types in public, API in engram
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('plain', 'CREATE EXTENSION engram');
is( $node->safe_psql(
		'plain', "SELECT 'vector'::regtype::text, 'halfvec'::regtype::text"),
	'vector|halfvec',
	'types land in public by default');
is( $node->safe_psql(
		'plain',
		"SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'simd_info'"
	),
	'engram',
	'engram API lives in schema engram');
is($node->safe_psql('plain', "SELECT '[3,4]'::vector <-> '[0,0]'"),
	'5', 'operators work');
$node->safe_psql('plain', 'DROP EXTENSION engram');
is( $node->safe_psql(
		'plain', "SELECT count(*) FROM pg_namespace WHERE nspname = 'engram'"),
	'0',
	'DROP EXTENSION removes schema engram');

# A schema of the user's choosing
$node->safe_psql('postgres', 'CREATE DATABASE chosen');
$node->safe_psql('chosen',
	'CREATE SCHEMA ev; CREATE EXTENSION engram SCHEMA ev');
is( $node->safe_psql(
		'chosen',
		"SELECT ev.l2_distance('[1,1]'::ev.vector, '[4,5]'::ev.vector), "
		  . "'[1,0]'::ev.halfvec OPERATOR(ev.<=>) '[0,1]'::ev.halfvec"),
	'5|1',
	'types and functions in the chosen schema');
my ($ret, $out, $err) =
  $node->psql('chosen', "SELECT '[1,2]'::vector");
like($err, qr/type "vector" does not exist/,
	'nothing leaks into public');

my $have_pgvector = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'");

SKIP:
{
	skip 'pgvector is not installed in this PostgreSQL', 15
	  if $have_pgvector ne '1';

	# pgvector first in public, engram in ev
	$node->safe_psql('postgres', 'CREATE DATABASE pgvector_first');
	$node->safe_psql('pgvector_first',
		'CREATE EXTENSION vector; CREATE SCHEMA ev; CREATE EXTENSION engram SCHEMA ev'
	);
	side_by_side('pgvector_first', 'public', 'ev');

	# engram first in public, pgvector in pv
	$node->safe_psql('postgres', 'CREATE DATABASE engram_first');
	$node->safe_psql('engram_first',
		'CREATE EXTENSION engram; CREATE SCHEMA pv; CREATE EXTENSION vector SCHEMA pv'
	);
	side_by_side('engram_first', 'pv', 'public');

	# engram preloaded: its library is in every backend before pgvector's
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'engram'");
	$node->restart;
	$node->safe_psql('postgres', 'CREATE DATABASE preloaded');
	$node->safe_psql('preloaded',
		'CREATE EXTENSION vector; CREATE SCHEMA ev; CREATE EXTENSION engram SCHEMA ev'
	);
	side_by_side('preloaded', 'public', 'ev');
}

# The library exports only what PostgreSQL looks up by name: a name such as
# HnswSearchLayer exported by both engram and pgvector would bind one's calls
# to the other's code in a backend that loads both.
my $libdir = $node->config_data('--pkglibdir');
my @exported = grep { $_ ne '' } map { (split ' ', $_)[2] // '' }
  split /\n/, `nm -D --defined-only $libdir/engram.so`;
cmp_ok(scalar @exported, '>', 100, 'nm lists engram.so\'s symbols');
is( join(' ',
		grep { !/^(engram_|pg_finfo_engram_|_PG_init$|Pg_magic_func$)/ }
		  @exported),
	'',
	'engram.so exports nothing but engram_*, its info records and magic');

# Both extensions answer in one session, with their own types and the same
# results, and data moves between them through text.
sub side_by_side
{
	my ($db, $pv, $ev) = @_;
	my $sql = qq{
		CREATE TABLE both_kinds (id int, a $pv.vector(3), b $ev.vector(3));
		INSERT INTO both_kinds SELECT i, v::$pv.vector, v::$ev.vector
		  FROM (SELECT i, format('[%s,%s,%s]', i, i % 3, -i) AS v
				FROM generate_series(1, 50) i) s;
		CREATE INDEX ON both_kinds USING hnsw (a $pv.vector_l2_ops);
		CREATE INDEX ON both_kinds USING engram_hnsw (b $ev.vector_l2_ops);
	};
	$node->safe_psql($db, $sql);
	is( $node->safe_psql(
			$db,
			"SELECT count(*) FROM both_kinds WHERE a::text = b::text"),
		'50',
		"$db: same text for both types");
	is( $node->safe_psql(
			$db,
			qq{SELECT count(*) FROM both_kinds x, both_kinds y
			   WHERE x.a OPERATOR($pv.<->) y.a <> x.b OPERATOR($ev.<->) y.b
				  OR x.a OPERATOR($pv.<=>) y.a IS DISTINCT FROM x.b OPERATOR($ev.<=>) y.b
				  OR x.a OPERATOR($pv.<#>) y.a <> x.b OPERATOR($ev.<#>) y.b
				  OR x.a OPERATOR($pv.<+>) y.a <> x.b OPERATOR($ev.<+>) y.b}
		),
		'0',
		"$db: all distances agree");
	foreach my $index ([ 'a', $pv, "pgvector's hnsw index still works" ],
		[ 'b', $ev, 'engram_hnsw works next to it' ])
	{
		my ($col, $schema, $what) = @$index;
		is( $node->safe_psql(
				$db,
				qq{SET enable_seqscan = off;
				   SELECT string_agg(id::text, ',') FROM
				   (SELECT id FROM both_kinds ORDER BY $col OPERATOR($schema.<->) '[10.1,1,-10.1]' LIMIT 3) s}
			),
			'10,11,9',
			"$db: $what");
	}
	is( $node->safe_psql(
			$db,
			qq{SELECT $ev.avg(b)::text || ' ' || $pv.avg(a)::text FROM both_kinds}),
		'[25.5,1.02,-25.5] [25.5,1.02,-25.5]',
		"$db: aggregates of both");
}

$node->stop;
done_testing();
