# bench/scenarios/keys.pm: ordered indexes on int8 keys (keys, keys-quick):
# btree, and engram_alex once the access method exists.  See bench/README.md.
package BenchScenario::keys;

use strict;
use warnings;
use JSON::PP;
use Time::HiRes qw(time);
use Bench;

my $SQL = "$Bench::BENCH/sql";
my $GEN = "$Bench::BENCH/data/gen_keys";

our %DEFAULTS = (
	'keys' => { rows => 10_000_000, dists => 'sequential,uniform,lognormal,bursty', reps => 3, secs => 10, probes => 100_000 },
	'keys-quick' => { rows => 1_000_000, dists => 'sequential,uniform,lognormal,bursty', reps => 3, secs => 3, probes => 100_000 },
);

# SQL fallback when bench/data/gen_keys is absent; u(x) maps a 64-bit hash to [0, 1)
my $U = sub { my ($x) = @_; return "((($x) >> 11) & 9007199254740991)::float8 / 9007199254740992.0"; };
my %SQL_KEYS = (
	sequential => 'i',
	uniform => 'floor(' . $U->('hashint8extended(i, 1)') . ' * 4611686018427387904.0)::int8',
	lognormal => 'round(1e9 * exp(2 * sqrt(-2 * ln(1 - ' . $U->('hashint8extended(i, 2)') . ')) * cos(2 * pi() * '
	  . $U->('hashint8extended(i, 3)') . ')))::int8',
	bursty => 'floor(' . $U->('hashint8extended(i / 1000, 4)') . ' * 281474976710656.0)::int8 * 1000 + i % 1000',
);

my @RANGES = ([ '0.01%', 0.0001 ], [ '1%', 0.01 ], [ '10%', 0.10 ]);
my @STARTS = (0.1, 0.3, 0.5, 0.7, 0.85);

sub run
{
	my ($b) = @_;
	my $o = $b->{opts};
	my $n = $o->{rows};
	my @dists = split /,/, $o->{dists};
	my $db = 'bench_keys';
	my ($ok, $ver) = $b->create_db_with($db, 'engram');
	$b->{extensions}{engram} = $ok ? $ver : undef;
	$b->note("engram extension not available ($ver): btree only") unless $ok;
	my @sys = ('btree');
	$b->{systems}{btree} = { available => JSON::PP::true, detail => 'CREATE INDEX ... USING btree (k)' };
	if ($ok && $b->has_am($db, 'engram_alex')) {
		push @sys, 'engram_alex';
		$b->{systems}{engram_alex} = { available => JSON::PP::true, detail => 'CREATE INDEX ... USING engram_alex (k)' };
	} else {
		$b->{systems}{engram_alex} = { available => JSON::PP::false, reason => 'access method engram_alex does not exist yet' };
	}
	my $use_gen = -x $GEN;
	$b->{info}{key_source} = $use_gen
	  ? "bench/data/gen_keys --dist D --rows $n (--seed 42 except sequential), COPY into t_D (k); v left NULL"
	  : "SQL generate_series with hashint8extended(i, seed) as the random source: " . JSON::PP->new->canonical->encode(\%SQL_KEYS);
	$b->{info}{probes} = "$o->{probes} keys sampled from the table: ORDER BY hashint8extended(k, 7) LIMIT $o->{probes}";

	my @rows;
	for my $d (@dists) {
		die "unknown distribution $d\n" unless $SQL_KEYS{$d};
		my $t = "t_$d";
		my $t0 = time();
		$b->psql($db, "DROP TABLE IF EXISTS $t, probes; CREATE TABLE $t (k int8, v int8);");
		if ($use_gen) {
			my $args = $d eq 'sequential' ? "--dist $d --rows $n" : "--dist $d --rows $n --seed 42";
			$b->psql($db, "\\copy $t (k) FROM pstdin", stdin_cmd => "'$GEN' $args");
		} else {
			$b->psql($db, "INSERT INTO $t SELECT $SQL_KEYS{$d}, i FROM generate_series(1, $n) i;");
		}
		# a second VACUUM: the first one after the load leaves the visibility map unset here
		$b->psql($db, "VACUUM (FREEZE, ANALYZE) $t; VACUUM $t;
			CREATE TABLE probes AS SELECT (row_number() OVER ())::int AS rn, k
				FROM (SELECT k FROM $t ORDER BY hashint8extended(k, 7), k LIMIT $o->{probes}) s;
			ALTER TABLE probes ADD PRIMARY KEY (rn); VACUUM ANALYZE probes; CHECKPOINT;");
		my $load = time() - $t0;
		my $np = $b->psql($db, 'SELECT count(*) FROM probes');
		my ($relpages, $allvis) = @{ ($b->psql_rows($db, "SELECT relpages, relallvisible FROM pg_class WHERE relname = '$t'"))[0] };
		my ($kmin, $kmax, $nd) = @{ ($b->psql_rows($db, "SELECT min(k), max(k), count(DISTINCT k) FROM $t"))[0] };
		my $qs = join(',', map { my $s = $_; map { ($s, $s + $_->[1]) } @RANGES } @STARTS);
		my $qv = $b->psql($db, "SELECT percentile_disc(ARRAY[$qs]::float8[]) WITHIN GROUP (ORDER BY k) FROM $t");
		$qv =~ s/[{}]//g;
		my @qv = split /,/, $qv;
		$b->{info}{dists}{$d} = { rows => $n, distinct => $nd + 0, min => $kmin, max => $kmax, load_s => Bench::r3($load, 1), relpages => $relpages, relallvisible => $allvis };
		$b->log("$d: loaded $n rows ($nd distinct) in " . sprintf('%.1f', $load) . ' s');

		my %m;    # system => measurement => [samples]
		my $lookup = "$b->{tmp}/lookup-$t.pgbench";
		my $insert = "$b->{tmp}/insert-$t.pgbench";
		for my $f ([ "$SQL/keys-lookup.pgbench", $lookup ], [ "$SQL/keys-insert.pgbench", $insert ]) {
			(my $s = Bench::slurp($f->[0])) =~ s/\@TABLE\@/$t/g;
			Bench::spew($f->[1], $s);
		}
		for my $rep (1 .. $o->{reps}) {
			for my $sys (@sys) {    # A, B, A, B ...
				$b->psql($db, "DROP INDEX IF EXISTS ${t}_k_idx; CHECKPOINT;");
				my $ms = $b->timed($db, 'SET max_parallel_maintenance_workers = 0;', "CREATE INDEX ${t}_k_idx ON $t USING $sys (k)");
				push @{ $m{$sys}{build_time_s} }, $ms / 1000;
				push @{ $m{$sys}{index_size_mb} }, $b->psql($db, "SELECT pg_relation_size('${t}_k_idx')") / 1048576;
				$b->psql($db, "ANALYZE $t;");

				my $r = $b->pgbench($db, secs => $o->{secs}, clients => 1, scripts => [$lookup], vars => { np => $np }, per_statement => 1);
				push @{ $m{$sys}{lookup_tps} }, $r->{tps};
				my ($st) = grep { /^SELECT v FROM/ } keys %{ $r->{stmt_ms} };
				push @{ $m{$sys}{lookup_stmt_us} }, $st ? $r->{stmt_ms}{$st} * 1000 : undef;
				push @{ $m{$sys}{lookup_p99_us} }, Bench::pct(99, $r->{lat_us});

				my $nl = 'SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_seqscan = off; SET enable_bitmapscan = off;';
				for my $j ([ 'join_heap', "SELECT count(t.v) FROM probes p JOIN $t t ON t.k = p.k" ],
					[ 'join_ios', "SELECT count(*) FROM probes p JOIN $t t ON t.k = p.k" ]) {
					my $setup = $j->[0] eq 'join_ios' ? $nl : "$nl SET enable_indexonlyscan = off;";
					my $pl = $b->explain($db, $setup, $j->[1], 'ANALYZE, TIMING OFF, BUFFERS');
					push @{ $m{$sys}{"$j->[0]_us_per_probe"} }, $pl->{'Execution Time'} * 1000 / $np;
					push @{ $m{$sys}{"$j->[0]_heap_fetches_per_probe"} }, Bench::plan_sum($pl->{Plan}, 'Heap Fetches') / $np
					  if $j->[0] eq 'join_ios';    # plain index scans do not count heap fetches
					push @{ $m{$sys}{"$j->[0]_buffers_per_probe"} },
					  ($pl->{Plan}{'Shared Hit Blocks'} + $pl->{Plan}{'Shared Read Blocks'}) / $np;
					$b->{info}{plans}{"$d $sys $j->[0]"} //= Bench::plan_nodes($pl->{Plan});
				}

				for my $ri (0 .. $#RANGES) {
					my @ms;
					for my $si (0 .. $#STARTS) {
						my ($lo, $hi) = @qv[ 2 * ($si * @RANGES + $ri), 2 * ($si * @RANGES + $ri) + 1 ];
						my $pl = $b->explain($db, $nl, "SELECT count(*) FROM $t WHERE k BETWEEN $lo AND $hi", 'ANALYZE, TIMING OFF');
						push @ms, $pl->{'Execution Time'};
						$b->{info}{plans}{"$d $sys range"} //= Bench::plan_nodes($pl->{Plan});
					}
					push @{ $m{$sys}{"range_$RANGES[$ri][0]_ms"} }, Bench::median(@ms);
				}

				$r = $b->pgbench($db, secs => $o->{secs}, clients => 1, scripts => [$insert], vars => { kmin => $kmin, kmax => $kmax });
				push @{ $m{$sys}{insert_tps} }, $r->{tps};
				$b->psql($db, "DELETE FROM $t WHERE v = -1; VACUUM $t; VACUUM $t;");
				$b->log(sprintf('%s %s rep %d: build %.2f s, lookup %.0f tx/s, insert %.0f tx/s', $d, $sys, $rep, $ms / 1000,
					$m{$sys}{lookup_tps}[-1], $r->{tps}));
			}
		}
		$b->psql($db, "DROP TABLE $t, probes;");
		for my $sys (@sys) {
			for my $name (sort keys %{ $m{$sys} }) {
				my $unit = $name =~ /_s$/ ? 's' : $name =~ /_ms$/ ? 'ms' : $name =~ /_us/ ? 'us' : $name =~ /tps/ ? 'tx/s' : $name =~ /mb$/ ? 'MiB' : 'count';
				$b->record(system => $sys, name => $name, unit => $unit, params => { dist => $d, rows => $n }, samples => $m{$sys}{$name});
			}
			my $g = sub { $b->get($sys, $_[0], dist => $d) };
			push @rows, [ $d, $sys, Bench::fmt($g->('build_time_s'), 2), Bench::fmt($g->('index_size_mb'), 1),
				Bench::fmt($g->('lookup_tps'), 0), Bench::fmt($g->('lookup_stmt_us'), 1),
				Bench::fmt($g->('join_heap_us_per_probe'), 2), Bench::fmt($g->('join_heap_buffers_per_probe'), 2),
				Bench::fmt($g->('join_ios_us_per_probe'), 2), Bench::fmt($g->('join_ios_heap_fetches_per_probe'), 2),
				map({ Bench::fmt($g->("range_$_->[0]_ms"), 2) } @RANGES), Bench::fmt($g->('insert_tps'), 0) ];
		}
	}
	my $md = "## Ordered index on int8 keys: $n rows per distribution\n\n";
	$md .= "Keys: " . ($use_gen ? 'bench/data/gen_keys' : 'SQL generate_series + hashint8extended') . ".  Median of $o->{reps} interleaved repetitions (each rebuilds the index).  ";
	$md .= "Lookups: pgbench -M prepared, 1 client, $o->{secs} s; tx = probe-key fetch + lookup, 'lookup µs' = the indexed statement alone (pgbench -r).  ";
	$md .= "Joins: $o->{probes} probes, nested loop forced (enable_hashjoin/mergejoin = off), heap = index scan reading v, IOS = index-only count(*) after VACUUM; from EXPLAIN (ANALYZE, TIMING OFF).  ";
	$md .= "Ranges: count(*) over key ranges holding that fraction of rows (median of 5 ranges).  Inserts: pgbench, 1 client, one random key per tx.\n\n";
	$md .= Bench::md_table([ 'dist', 'index', 'build s', 'size MiB', 'lookup tx/s', 'lookup µs', 'join heap µs/probe', 'join heap buffers/probe',
		'join IOS µs/probe', 'IOS heap fetch/probe', map({ "range $_->[0] ms" } @RANGES), 'insert tx/s' ], @rows);
	if (@sys > 1) {
		$md .= "\n## engram_alex / btree\n\n";
		$md .= Bench::md_table([ 'dist', 'build', 'size', 'lookup tx/s', 'join heap', 'join IOS', 'insert tx/s' ],
			map { my $d = $_; [ $d, map { Bench::ratio($b->get('engram_alex', $_, dist => $d), $b->get('btree', $_, dist => $d)) }
				qw(build_time_s index_size_mb lookup_tps join_heap_us_per_probe join_ios_us_per_probe insert_tps) ] } @dists);
	}
	$b->{md_body} = $md;
}

1;
