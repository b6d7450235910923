# Cognitive memory survives pg_dump and restore: the registration, the
# associations and the recall state are extension configuration tables
# (pg_extension_config_dump) whose table column is a regclass, so a restore
# into a new database links them to the restored table's new OID.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memory_dump');
$node->init;
$node->append_conf('postgresql.conf', "jit = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q{
	CREATE EXTENSION engram;
	-- an unrelated table first, so that OIDs differ between the databases
	CREATE TABLE filler (x int);
	CREATE TABLE mem (id bigint PRIMARY KEY, embedding vector(3));
	CREATE INDEX ON mem USING engram_hnsw (embedding vector_cosine_ops);
	SELECT engram.attach('mem', auto_link => 2);
	INSERT INTO mem VALUES (1, '[1,0,0]');
	INSERT INTO mem VALUES (2, '[1,1,0]');
	INSERT INTO mem VALUES (3, '[0,1,0]');
	INSERT INTO mem VALUES (4, '[0,1,1]');
	SELECT engram.associate('mem', 1, 4, 0.5, 'causal', false);
	SELECT count(*) FROM engram.recall('mem', '[1,0.2,0]', 2, reinforce => true);
});

my $state = q{
	SELECT (SELECT string_agg(format('%s %s %s %s', tbl, id_column, embedding_column, auto_link), '; ')
			FROM engram.memory_tables) || ' | ' ||
		   (SELECT string_agg(format('%s %s->%s %s %s', memory_table, src, dst, weight, kind), '; '
							  ORDER BY src, dst) FROM engram.edges) || ' | ' ||
		   (SELECT string_agg(format('%s %s %s', tbl, id, recall_count), '; ' ORDER BY id)
			FROM engram.memory_state) || ' | ' ||
		   (SELECT string_agg(format('%s %s %s', id, activation, hops), '; ')
			FROM engram.spread('mem', '{1}', 2))};
my $before = $node->safe_psql('src', $state);
note $before;

my $dump = $node->basedir . '/memory.sql';
command_ok([ 'pg_dump', '-h', $node->host, '-p', $node->port, '-f', $dump, 'src' ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('dst', 'CREATE TABLE other (x int); CREATE TABLE other2 (x int)');
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
		'-d', 'dst', '-f', $dump ], 'restore');

isnt($node->safe_psql('src', q{SELECT 'mem'::regclass::oid}),
	$node->safe_psql('dst', q{SELECT 'mem'::regclass::oid}),
	'the restored table has another OID');
is($node->safe_psql('dst', $state), $before,
	'registration, associations, recall state and spread are the same after restore');

# the restored triggers work: auto_link and cascade on delete
$node->safe_psql('dst', q{INSERT INTO mem VALUES (5, '[1,0.1,0]')});
is( $node->safe_psql(
		'dst', q{SELECT string_agg(format('%s->%s', src, dst), ' ' ORDER BY src, dst)
				 FROM engram.edges WHERE 5 IN (src, dst)}),
	'1->5 2->5 5->1 5->2', 'auto_link works after restore');
$node->safe_psql('dst', q{DELETE FROM mem WHERE id = 2});
is($node->safe_psql('dst', q{SELECT count(*) FROM engram.edges WHERE 2 IN (src, dst)}),
	'0', 'cascade on delete works after restore');
is($node->safe_psql('dst', q{SELECT count(*) FROM engram.memory_state WHERE id = 2}),
	'0', 'the recall state of the deleted row is gone');

$node->stop;
done_testing();
