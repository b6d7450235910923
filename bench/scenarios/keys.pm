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
	'keys' => { rows => 10_000_000, dists => 'sequential,uniform,lognormal,bursty', reps => 3, secs => 10, probes => 100_000,
		lookup_rounds => 6, lookup_secs => 5 },
	'keys-quick' => { rows => 1_000_000, dists => 'sequential,uniform,lognormal,bursty', reps => 3, secs => 3, probes => 100_000,
		lookup_rounds => 4, lookup_secs => 3 },
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

				# pinned to one CPU with its backend, then free (see measure_lookups)
				$b->pin_server(1);
				my $r = $b->pgbench($db, secs => $o->{secs}, clients => 1, scripts => [$insert], vars => { kmin => $kmin, kmax => $kmax }, cpu => 1);
				push @{ $m{$sys}{insert_tps} }, $r->{tps};
				$b->pin_server(undef);
				my $ru = $b->pgbench($db, secs => $o->{secs}, clients => 1, scripts => [$insert], vars => { kmin => $kmin, kmax => $kmax });
				push @{ $m{$sys}{insert_tps_unpinned} }, $ru->{tps};
				$b->psql($db, "DELETE FROM $t WHERE v = -1; VACUUM $t; VACUUM $t;");
				$b->log(sprintf('%s %s rep %d: build %.2f s, insert %.0f tx/s pinned, %.0f unpinned', $d, $sys, $rep, $ms / 1000, $r->{tps}, $ru->{tps}));
			}
		}
		$b->psql($db, "DROP INDEX IF EXISTS ${t}_k_idx;");
		measure_lookups($b, $db, $t, $np, $lookup, \@sys, \%m);
		$b->psql($db, "DROP TABLE $t, probes;");
		for my $sys (@sys) {
			for my $name (sort keys %{ $m{$sys} }) {
				my $unit = $name =~ /_ratio$/ ? 'ratio' : $name =~ /_s$/ ? 's' : $name =~ /_ms$/ ? 'ms' : $name =~ /_us/ ? 'us' : $name =~ /tps/ ? 'tx/s' : $name =~ /mb$/ ? 'MiB' : 'count';
				$b->record(system => $sys, name => $name, unit => $unit, params => { dist => $d, rows => $n }, samples => $m{$sys}{$name});
			}
			my $g = sub { $b->get($sys, $_[0], dist => $d) };
			push @rows, [ $d, $sys, Bench::fmt($g->('build_time_s'), 2), Bench::fmt($g->('index_size_mb'), 1),
				Bench::fmt($g->('lookup_tps'), 0), Bench::fmt($g->('lookup_stmt_us'), 1), Bench::fmt($g->('lookup_tps_unpinned'), 0),
				Bench::fmt($g->('lookup_server_us'), 2),
				Bench::fmt($g->('join_heap_us_per_probe'), 2), Bench::fmt($g->('join_heap_buffers_per_probe'), 2),
				Bench::fmt($g->('join_ios_us_per_probe'), 2), Bench::fmt($g->('join_ios_heap_fetches_per_probe'), 2),
				map({ Bench::fmt($g->("range_$_->[0]_ms"), 2) } @RANGES), Bench::fmt($g->('insert_tps'), 0),
				Bench::fmt($g->('insert_tps_unpinned'), 0) ];
		}
	}
	my $md = "## Ordered index on int8 keys: $n rows per distribution\n\n";
	$md .= "Keys: " . ($use_gen ? 'bench/data/gen_keys' : 'SQL generate_series + hashint8extended') . ".  Median of $o->{reps} interleaved repetitions (each rebuilds the index).  ";
	$md .= "Lookups: one copy of the table per index (same rows, same order), both indexed at once and prewarmed into shared buffers (pg_prewarm), "
	  . "then $o->{lookup_rounds} rounds of pgbench -M prepared, 1 client, $o->{lookup_secs} s per index, the order alternating (A B, B A, ...), "
	  . "pgbench and the server's backends on one CPU ('lookup tx/s': on this VM a wakeup across vCPUs costs ~120 µs and would be most of a lookup's time) "
	  . "and then unpinned; "
	  . "tx = probe-key fetch + lookup, 'lookup µs' = the indexed statement alone (pgbench -r), 'server µs' = one lookup in a PL/pgSQL loop over the "
	  . "$o->{probes} probe keys (prepared plan, executor start and end included, no client round trip).  ";
	$md .= "Joins: $o->{probes} probes, nested loop forced (enable_hashjoin/mergejoin = off), heap = index scan reading v, IOS = index-only count(*) after VACUUM; from EXPLAIN (ANALYZE, TIMING OFF).  ";
	$md .= "Ranges: count(*) over key ranges holding that fraction of rows (median of 5 ranges).  Inserts: pgbench, 1 client, one random key per tx, $o->{secs} s pinned to one CPU with its backend, then $o->{secs} s unpinned.\n\n";
	$md .= Bench::md_table([ 'dist', 'index', 'build s', 'size MiB', 'lookup tx/s', 'lookup µs', 'lookup tx/s unpinned', 'server µs', 'join heap µs/probe', 'join heap buffers/probe',
		'join IOS µs/probe', 'IOS heap fetch/probe', map({ "range $_->[0] ms" } @RANGES), 'insert tx/s', 'insert tx/s unpinned' ], @rows);
	if (@sys > 1) {
		$md .= "\n## engram_alex / btree\n\n";
		$md .= Bench::md_table([ 'dist', 'build', 'size', 'lookup tx/s', 'lookup tx/s, mixed', 'paired', 'unpinned, paired', 'server µs', 'join heap', 'join IOS', 'insert tx/s', 'insert unpinned' ],
			map {
				my $d = $_;
				my $rt = sub { Bench::ratio($b->get('engram_alex', $_[0], dist => $d), $b->get('btree', $_[0], dist => $d)) };
				[ $d, (map { $rt->($_) } qw(build_time_s index_size_mb lookup_tps)),
					(map { Bench::fmt($b->get('engram_alex', $_, dist => $d), 2) } qw(lookup_tps_ratio_mixed lookup_tps_ratio lookup_tps_ratio_unpinned)),
					map { $rt->($_) } qw(lookup_server_us join_heap_us_per_probe join_ios_us_per_probe insert_tps insert_tps_unpinned) ]
			} @dists);
		$md .= "\n'mixed': one pinned pgbench run per round with both lookup scripts, each transaction's drawn at random; "
		  . "btree's mean transaction latency divided by engram_alex's, median over the rounds.  "
		  . "'paired': median over the rounds of engram_alex's tx/s divided by btree's in the same round (pinned, then unpinned).\n";
	}
	$b->{md_body} = $md;
}

# Point lookups through each system's index, side by side: every system gets a
# copy of the table (same rows in the same physical order) with its index, all
# of them and the probe table are read into shared buffers first, and the
# pgbench runs alternate between the systems, in the opposite order every other
# round, so that drift and noise on this shared machine fall on all of them.
# A lookup costs a few microseconds of the ~150 µs a pgbench statement takes
# (two round trips), so a cold cache or a rebuild just before would decide the
# figure; the server-side loop measures the lookup without the client.
sub measure_lookups
{
	my ($b, $db, $t, $np, $lookup, $sys, $m) = @_;
	my $o = $b->{opts};
	my %tbl;
	$b->psql($db, 'CREATE EXTENSION IF NOT EXISTS pg_prewarm;');
	for my $i (0 .. $#$sys) {
		my $lt = "${t}_l$i";
		$tbl{ $sys->[$i] } = $lt;
		$b->psql($db, "SET synchronize_seqscans = off; DROP TABLE IF EXISTS $lt; CREATE TABLE $lt AS SELECT * FROM $t;
			CREATE INDEX ${lt}_k_idx ON $lt USING $sys->[$i] (k);");
		$b->psql($db, "VACUUM (FREEZE, ANALYZE) $lt; VACUUM $lt;");
		(my $s = Bench::slurp($lookup)) =~ s/\b$t\b/$lt/g;
		Bench::spew("$b->{tmp}/lookup-$lt.pgbench", $s);
		$b->psql($db, "CREATE OR REPLACE FUNCTION bench_lookup_$lt() RETURNS float8 LANGUAGE plpgsql AS \$f\$
			DECLARE ks int8[]; r int8; t0 timestamptz;
			BEGIN
				SELECT array_agg(k ORDER BY rn) INTO ks FROM probes;
				t0 := clock_timestamp();
				FOR i IN 1 .. array_length(ks, 1) LOOP
					SELECT v INTO r FROM $lt WHERE k = ks[i];
				END LOOP;
				RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / array_length(ks, 1);
			END \$f\$;");
	}
	$b->psql($db, "CHECKPOINT; SELECT sum(pg_prewarm(c)) FROM unnest(ARRAY['probes', 'probes_pkey', "
		  . join(', ', map { ("'$_'", "'${_}_k_idx'") } sort values %tbl) . "]::regclass[]) c;");
	# Each round: pgbench and its backend on one CPU (what a lookup costs the
	# server, see Bench::pin_server), then free to run anywhere (what a client
	# on this VM sees).
	my %tps;
	for my $round (1 .. $o->{lookup_rounds}) {
		my @order = $round % 2 ? @$sys : reverse @$sys;
		for my $pin (1, 0) {
			my $sfx = $pin ? '' : '_unpinned';
			$b->pin_server($pin ? 1 : undef);
			for my $s (@order) {
				my $lt = $tbl{$s};
				my $r = $b->pgbench($db, secs => $o->{lookup_secs}, clients => 1, scripts => ["$b->{tmp}/lookup-$lt.pgbench"],
					vars => { np => $np }, per_statement => 1, cpu => $pin ? 1 : undef);
				push @{ $m->{$s}{"lookup_tps$sfx"} }, $r->{tps};
				$tps{$sfx}{$s}[ $round - 1 ] = $r->{tps};
				my ($st) = grep { /^SELECT v FROM/ } keys %{ $r->{stmt_ms} };
				push @{ $m->{$s}{"lookup_stmt_us$sfx"} }, $st ? $r->{stmt_ms}{$st} * 1000 : undef;
				push @{ $m->{$s}{"lookup_p99_us$sfx"} }, Bench::pct(99, $r->{lat_us});
			}
		}
		# one pgbench run drawing each transaction's script at random: both
		# indexes see the same moments of the machine, transaction by
		# transaction; tx/s ratio = inverse ratio of the mean latencies
		$b->pin_server(1);
		my $r = $b->pgbench($db, secs => $o->{lookup_secs}, clients => 1, cpu => 1, vars => { np => $np },
			scripts => [ map { "$b->{tmp}/lookup-$tbl{$_}.pgbench" } @$sys ]);
		$b->pin_server(undef);
		for my $i (0 .. $#$sys) {
			push @{ $m->{ $sys->[$i] }{lookup_mixed_us} }, Bench::mean(@{ $r->{by_script}{$i} // [] });
		}
		push @{ $m->{$_}{lookup_server_us} }, $b->psql($db, "SELECT bench_lookup_$tbl{$_}();") for @order;
		$b->log(sprintf('lookups round %d: %s', $round, join(', ', map { my $s = $_;
			sprintf('%s %.0f tx/s pinned, %.0f unpinned', $s, $tps{''}{$s}[ $round - 1 ], $tps{_unpinned}{$s}[ $round - 1 ]) } @$sys)));
	}
	if (@$sys > 1) {
		my $mx = [ map { $m->{ $sys->[0] }{lookup_mixed_us}[$_] / $m->{ $sys->[1] }{lookup_mixed_us}[$_] } 0 .. $o->{lookup_rounds} - 1 ];
		$m->{ $sys->[1] }{lookup_tps_ratio_mixed} = $mx;
		for my $sfx ('', '_unpinned') {
			my $t = $tps{$sfx};
			$m->{ $sys->[1] }{"lookup_tps_ratio$sfx"} = [ map { $t->{ $sys->[1] }[$_] / $t->{ $sys->[0] }[$_] } 0 .. $o->{lookup_rounds} - 1 ];
		}
	}
	$b->psql($db, 'DROP TABLE ' . join(', ', sort values %tbl) . '; ' . join(' ', map { "DROP FUNCTION bench_lookup_$_();" } sort values %tbl));
}

1;
