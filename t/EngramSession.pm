# Interactive psql sessions for TAP tests that interleave transactions:
# a session keeps one connection open, query() sends SQL and returns its
# output once psql echoes a marker after it.  Also the small memory table
# the adjacency cache tests share (memory_table).
package EngramSession;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(session query try_query finish memory_table);

# a session connected to database postgres of node
sub session
{
	my ($node) = @_;
	my %s = (in => '', out => '', err => '');
	$s{h} = IPC::Run::start(
		[
			'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=0',
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%s;
}

# the output of sql, or undef on an error
sub try_query
{
	my ($s, $sql) = @_;
	$s->{out} = '';
	$s->{err} = '';
	$s->{in} .= "$sql;\n\\echo __done__\n";
	$s->{h}->pump until $s->{out} =~ /__done__\n/;
	return undef if $s->{err} =~ /ERROR/;
	(my $r = $s->{out}) =~ s/__done__\n//;
	chomp $r;
	return $r;
}

# the output of sql; dies on an error
sub query
{
	my ($s, $sql) = @_;
	my $r = try_query($s, $sql);
	die "psql error: $s->{err}" unless defined $r;
	return $r;
}

sub finish
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}

# engram in database postgres of node, and memory table g: ids 1..rows with
# 2-d embeddings, an engram_hnsw index, attached
sub memory_table
{
	my ($node, $rows) = @_;
	$node->safe_psql(
		'postgres', qq{
		CREATE EXTENSION engram;
		CREATE TABLE g (id bigint PRIMARY KEY, embedding vector(2));
		INSERT INTO g SELECT i, ARRAY[1, i]::vector FROM generate_series(1, $rows) i;
		CREATE INDEX ON g USING engram_hnsw (embedding vector_cosine_ops);
		SELECT engram.attach('g');
	});
	return;
}

1;
