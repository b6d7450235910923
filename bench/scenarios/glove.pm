# bench/scenarios/glove.pm: vector search on GloVe 100-d (glove, glove-quick,
# glove-filtered, glove-mixed).  See bench/README.md for what is measured.
package BenchScenario::glove;

use strict;
use warnings;
use JSON::PP;
use List::Util qw(sum min max);
use Time::HiRes qw(time);
use Bench;

my $CACHE = "$Bench::BENCH/data/cache";
my $SQL = "$Bench::BENCH/sql";

our %DEFAULTS = (
	'glove' => { base => 0, queries => 1000, ef => '10,20,40,80,160,320', reps => 3, secs => 10, clients => 2, part => 'search' },
	'glove-quick' => { base => 50000, queries => 200, ef => '10,20,40,80,160,320', reps => 3, build_reps => 1, secs => 3, clients => 2, part => 'search' },
	'glove-filtered' => { base => 0, queries => 200, ef => '40,160,320', reps => 1, secs => 0, clients => 1, part => 'filtered' },
	'glove-mixed' => { base => 0, queries => 1000, ef => '40', reps => 3, secs => 60, clients => 8, part => 'mixed' },
);

my @DBS = (
	{ system => 'pgvector_hnsw', db => 'bench_pgvector', ext => 'vector', am => 'hnsw', guc => 'hnsw.ef_search' },
	{ system => 'engram_hnsw', db => 'bench_engram', ext => 'engram', am => 'engram_hnsw', guc => 'engram.ef_search' },
);

sub run
{
	my ($b) = @_;
	my $o = $b->{opts};
	my $part = $o->{part};
	my @ef = split /,/, $o->{ef};

	# ---- data --------------------------------------------------------------
	ensure_data($b);
	my ($base_file, $base_cmd, $nbase) = base_source($b);
	my $qfile = "$CACHE/glove-queries.tsv";
	my $nq_all = count_lines($qfile);
	my $nq = $o->{queries} && $o->{queries} < $nq_all ? $o->{queries} : $nq_all;
	my $first = first_line($base_file);
	my $file_has_cat = (() = $first =~ /\t/g) >= 3;
	$b->{info}{data} = { base_rows => $nbase, base_source => $base_cmd, queries => $nq, queries_file => $qfile,
		category_column_in_file => $file_has_cat ? JSON::PP::true : JSON::PP::false };
	$b->log("data: $nbase base rows ($base_cmd), $nq queries");

	# ---- databases -----------------------------------------------------------
	my (%db);    # system => db descriptor
	my ($ok, $ver) = $b->create_db_with('bench_engram', 'engram');
	$b->{extensions}{engram} = $ok ? $ver : undef;
	die "engram: CREATE EXTENSION failed: $ver\n" unless $ok;
	$b->{systems}{exact} = { available => JSON::PP::true, db => 'bench_engram', detail => 'sequential scan, engram types' };
	($ok, $ver) = $b->create_db_with('bench_pgvector', 'vector');
	$b->{extensions}{pgvector} = $ok ? $ver : undef;
	if ($ok) {
		$b->{systems}{pgvector_hnsw} = { available => JSON::PP::true, db => 'bench_pgvector',
			detail => 'hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)' };
		$db{pgvector_hnsw} = $DBS[0];
	} else {
		$b->{systems}{pgvector_hnsw} = { available => JSON::PP::false, reason => "pgvector: not available ($ver)" };
		$b->note("pgvector: not available: $ver");
		$b->psql('postgres', 'DROP DATABASE IF EXISTS bench_pgvector');
	}
	if ($b->has_am('bench_engram', 'engram_hnsw')) {
		my $opc = $b->psql('bench_engram', "SELECT opcname FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
			WHERE a.amname = 'engram_hnsw' AND opcname LIKE '%cosine%' ORDER BY opcname = 'vector_cosine_ops' DESC LIMIT 1")
		  || 'vector_cosine_ops';
		$b->{systems}{engram_hnsw} = { available => JSON::PP::true, db => 'bench_engram',
			detail => "engram_hnsw (embedding $opc) WITH (m = 16, ef_construction = 64)", opclass => $opc };
		$db{engram_hnsw} = { %{ $DBS[1] }, opclass => $opc };
	} else {
		$b->{systems}{engram_hnsw} = { available => JSON::PP::false, reason => 'access method engram_hnsw does not exist yet' };
	}
	$db{pgvector_hnsw}{opclass} = 'vector_cosine_ops' if $db{pgvector_hnsw};
	my @idx = grep { $db{$_} } qw(pgvector_hnsw engram_hnsw);    # interleaving order

	# ---- load ----------------------------------------------------------------
	my $cat_col = $part eq 'filtered' ? ', category int' : '';
	my $schema = Bench::slurp("$SQL/glove-schema.sql");
	$schema =~ s/:cat_col/$cat_col/g;
	for my $dbn (uniq('bench_engram', map { $db{$_}{db} } @idx)) {
		my $t0 = time();
		$b->psql($dbn, $schema);
		my $cols = $file_has_cat ? '(id, word, category, embedding)' : '(id, word, embedding)';
		if ($file_has_cat && $part ne 'filtered') {
			$b->psql($dbn, 'ALTER TABLE items ADD COLUMN category int');
		}
		if (!$file_has_cat && $part eq 'filtered') { $cols = '(id, word, embedding)'; }
		$b->psql($dbn, "\\copy items $cols FROM pstdin", stdin_cmd => $base_cmd);
		$b->psql($dbn, "\\copy queries (id, word, embedding) FROM pstdin", stdin_cmd => "head -n $nq '$qfile'");
		if ($part eq 'filtered' && !$file_has_cat) {
			# 1% category 2, 10% category 1, deterministic from id
			$b->psql($dbn, "UPDATE items SET category = CASE WHEN abs(hashint8extended(id, 42)) % 1000 < 10 THEN 2
				WHEN abs(hashint8extended(id, 42)) % 1000 < 110 THEN 1 ELSE 0 END");
		}
		$b->psql($dbn, 'ALTER TABLE items SET (parallel_workers = 2); VACUUM (FREEZE, ANALYZE) items; VACUUM ANALYZE queries;');
		$b->record(system => $dbn eq 'bench_engram' ? 'exact' : 'pgvector_hnsw', name => 'load_time_s', unit => 's',
			samples => [ time() - $t0 ], params => { db => $dbn });
		$b->log("loaded $dbn in " . sprintf('%.1f', time() - $t0) . ' s');
	}
	if ($part eq 'filtered') {
		my %c = map { $_->[0] => $_->[1] } $b->psql_rows('bench_engram', 'SELECT category, count(*) FROM items GROUP BY 1');
		$b->{info}{category_rows} = \%c;
		$b->{info}{category_rule} = $file_has_cat ? 'from the base file (fetch-glove --categories)'
		  : 'abs(hashint8extended(id, 42)) % 1000: < 10 -> 2, < 110 -> 1, else 0';
	}

	# ---- ground truth (cosine) -------------------------------------------------
	my $gt = $part eq 'filtered' ? undef : ground_truth($b, $nbase, $nq, $base_cmd, $qfile);

	# ---- builds (interleaved, kept index = last single-process build) -----------
	build_indexes($b, \%db, \@idx) if @idx;

	if ($part eq 'search') { search_part($b, \%db, \@idx, \@ef, $gt, $nq, $nbase); }
	elsif ($part eq 'filtered') { filtered_part($b, \%db, \@idx, \@ef, $nq); }
	elsif ($part eq 'mixed') { mixed_part($b, \%db, \@idx, $ef[0], $nq); }
}

sub uniq { my %s; return grep { !$s{$_}++ } @_; }
sub count_lines { my ($f) = @_; my $n = `wc -l < '$f'`; chomp $n; return $n + 0; }
sub first_line { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; my $l = <$fh>; close $fh; return $l; }

sub ensure_data
{
	my ($b) = @_;
	return if -s "$CACHE/glove-base.tsv" && -s "$CACHE/glove-queries.tsv";
	my $fetch = "$Bench::BENCH/data/fetch-glove";
	die "$CACHE/glove-base.tsv is missing and $fetch does not exist yet\n" unless -x $fetch;
	$b->log("fetching GloVe: $fetch");
	Bench::run_cmd($fetch);
}

# The base rows: (file whose layout we read, shell command printing the rows, rows)
sub base_source
{
	my ($b) = @_;
	my $full = "$CACHE/glove-base.tsv";
	my $n = $b->{opts}{base};
	my $total = count_lines($full);
	return ($full, "cat '$full'", $total) if !$n || $n >= $total;
	my $lim = "$CACHE/glove-base-$n.tsv";
	return ($lim, "cat '$lim'", $n) if -s $lim && count_lines($lim) == $n;
	# glove-base-N.tsv (fetch-glove --limit N) is the first N rows of the base set
	return ($full, "head -n $n '$full'", $n);
}

# Exact top-100 per query, cosine: bench/data/cache/glove-gt-cosine.tsv (from
# bench/data/ground-truth) for the full base set, else computed here by exact
# scan and cached as glove-base-<N>-gt-cosine.tsv with the checksum of its inputs.
sub ground_truth
{
	my ($b, $nbase, $nq, $base_cmd, $qfile) = @_;
	my @qids = map { $_->[0] } $b->psql_rows('bench_engram', 'SELECT id FROM queries ORDER BY qn');
	my $full = count_lines("$CACHE/glove-base.tsv");
	my @cands;
	push @cands, "$CACHE/glove-gt-cosine.tsv" if $nbase == $full;
	my $mine = "$CACHE/glove-base-$nbase-gt-cosine.tsv";
	my $key = `($base_cmd; cat '$qfile') | sha256sum | cut -c1-64`;
	chomp $key;
	push @cands, $mine if -s "$mine.key" && Bench::slurp("$mine.key") eq $key;
	for my $f (@cands) {
		next unless -s $f;
		my %gt = read_gt($f);
		if (!grep { !$gt{$_} } @qids) {
			$b->{info}{ground_truth} = $f;
			$b->log("ground truth: $f");
			return \%gt;
		}
		$b->log("ground truth $f does not cover the queries: ignored");
	}
	$b->log("computing exact top-100 for $nq queries (sequential scan)");
	my $t0 = time();
	my $out = $b->psql('bench_engram', "SET enable_indexscan = off;
		SELECT q.id, '{' || array_to_string(array(SELECT i.id FROM items i ORDER BY i.embedding <=> q.embedding, i.id LIMIT 100), ',') || '}'
		FROM queries q ORDER BY q.qn;", pgoptions => '-c enable_indexscan=off');
	$out =~ s/\|/\t/g;
	if (-w $CACHE) {
		Bench::spew("$mine.tmp", "$out\n");
		rename "$mine.tmp", $mine;
		Bench::spew("$mine.key", $key);
	}
	$b->{info}{ground_truth} = "computed in the run by exact scan ("
	  . sprintf('%.1f', time() - $t0) . " s), cached as $mine";
	return { read_gt($mine) };
}

sub read_gt
{
	my ($f) = @_;
	my %gt;
	open my $fh, '<', $f or die "$f: $!";
	while (<$fh>) {
		chomp;
		my ($q, $ids) = split /\t/;
		next unless defined $ids;
		$ids =~ s/[{}\[\]]//g;
		$gt{$q} = [ split /,/, $ids ];
	}
	close $fh;
	return %gt;
}

sub index_sql
{
	my ($d) = @_;
	return "CREATE INDEX items_embedding_idx ON items USING $d->{am} (embedding $d->{opclass}) WITH (m = 16, ef_construction = 64)";
}

sub build_indexes
{
	my ($b, $db, $idx) = @_;
	my $reps = $b->{opts}{build_reps} // $b->{opts}{reps};
	my (%t, %sz);
	for my $rep (1 .. $reps) {
		for my $w (2, 0) {    # the last build of the loop is single-process: that index is searched
			for my $sys (@$idx) {
				my $d = $db->{$sys};
				$b->psql($d->{db}, 'DROP INDEX IF EXISTS items_embedding_idx; CHECKPOINT;');
				my $ms = $b->timed($d->{db}, "SET max_parallel_maintenance_workers = $w;", index_sql($d));
				push @{ $t{$sys}{$w} }, $ms / 1000;
				push @{ $sz{$sys}{$w} }, $b->psql($d->{db}, "SELECT pg_relation_size('items_embedding_idx')") / 1048576;
				$b->log(sprintf('build %s workers=%d rep %d: %.2f s', $sys, $w, $rep, $ms / 1000));
			}
		}
	}
	for my $sys (@$idx) {
		for my $w (0, 2) {
			$b->record(system => $sys, name => 'build_time_s', unit => 's', params => { workers => $w }, samples => $t{$sys}{$w});
			$b->record(system => $sys, name => 'index_size_mb', unit => 'MiB', params => { workers => $w }, samples => $sz{$sys}{$w});
		}
		$b->psql($db->{$sys}{db}, 'VACUUM ANALYZE items; CHECKPOINT;');
	}
}

sub search_sql { my ($qn) = @_; return "SELECT id FROM items ORDER BY embedding <=> (SELECT embedding FROM queries WHERE qn = $qn) LIMIT 10"; }

# One recall pass: every held-out query, top-10 ids; returns (recall, secs, plan nodes)
sub recall_pass
{
	my ($b, $dbn, $setup, $gt, $where, $pgopt) = @_;
	$where //= '';
	my $q = "SELECT q.id, array_to_string(array(SELECT i.id FROM items i $where ORDER BY i.embedding <=> q.embedding LIMIT 10), ',')
		FROM queries q ORDER BY q.qn";
	my $plan = $b->explain($dbn, $setup, $q, 'COSTS OFF');
	my $t0 = time();
	my @rows = $b->psql_rows($dbn, "$setup\n$q;");
	my $secs = time() - $t0;
	my %res = map { $_->[0] => [ grep { length } split /,/, ($_->[1] // '') ] } @rows;
	my ($hit, $n) = (0, 0);
	if ($gt) {
		for my $qid (keys %res) {
			my %top = map { $_ => 1 } @{ $gt->{$qid} }[ 0 .. 9 ];
			$hit += grep { $top{$_} } @{ $res{$qid} };
			$n += 10;
		}
	}
	return ($n ? $hit / $n : undef, $secs, Bench::plan_nodes($plan->{Plan}), \%res);
}

sub pgbench_search
{
	my ($b, $dbn, $c, $nq, $pgopt) = @_;
	return $b->pgbench($dbn, secs => $b->{opts}{secs}, clients => $c, scripts => ["$SQL/glove-search.pgbench"],
		vars => { nq => $nq }, pgoptions => $pgopt);
}

sub record_pgbench
{
	my ($b, $sys, $params, $runs) = @_;
	$b->record(system => $sys, name => 'qps', unit => 'tx/s', params => $params, samples => [ map { $_->{tps} } @$runs ]);
	for my $p (50, 95, 99) {
		$b->record(system => $sys, name => "latency_p${p}_ms", unit => 'ms', params => $params,
			samples => [ map { Bench::pct($p, $_->{lat_us}) / 1000 } @$runs ]);
	}
	$b->record(system => $sys, name => 'transactions', unit => 'count', params => $params, samples => [ map { $_->{n} } @$runs ]);
}

sub search_part
{
	my ($b, $db, $idx, $efs, $gt, $nq, $nbase) = @_;
	my $o = $b->{opts};
	my $N = $o->{clients};
	my @cl = uniq(1, $N);

	# exact: sequential scan on engram's types
	{
		my $pgopt = '-c enable_indexscan=off -c enable_bitmapscan=off';
		my (undef, $secs, $nodes) = recall_pass($b, 'bench_engram', 'SET enable_indexscan = off;', undef);
		$b->{info}{plans}{exact} = $nodes;
		my $pl = $b->explain('bench_engram', 'SET enable_indexscan = off;', search_sql(1));
		$b->{info}{plans}{exact_pgbench} = Bench::plan_nodes($pl->{Plan});
		$b->record(system => 'exact', name => 'recall_at_10', unit => 'fraction', params => {}, samples => [1]);
		$b->record(system => 'exact', name => 'explain_shared_hit', unit => 'blocks', params => {}, samples => [ $pl->{Plan}{'Shared Hit Blocks'} ]);
		$b->record(system => 'exact', name => 'explain_shared_read', unit => 'blocks', params => {}, samples => [ $pl->{Plan}{'Shared Read Blocks'} ]);
		my %runs;
		for my $rep (1 .. $o->{reps}) {
			for my $c (@cl) {
				my $r = pgbench_search($b, 'bench_engram', $c, $nq, $pgopt);
				push @{ $runs{$c} }, $r;
				$b->log(sprintf('exact c=%d rep %d: %.1f tx/s', $c, $rep, $r->{tps}));
			}
		}
		record_pgbench($b, 'exact', { clients => $_ }, $runs{$_}) for @cl;
	}

	for my $ef (@$efs) {
		my %pgopt = map { $_ => "-c $db->{$_}{guc}=$ef" } @$idx;
		for my $sys (@$idx) {
			my $d = $db->{$sys};
			my $setup = "SET $d->{guc} = $ef;";
			my ($rec, $secs, $nodes) = recall_pass($b, $d->{db}, $setup, $gt);
			$b->{info}{plans}{"$sys recall"} //= $nodes;
			$b->record(system => $sys, name => 'recall_at_10', unit => 'fraction', params => { ef_search => $ef }, samples => [$rec]);
			$b->record(system => $sys, name => 'recall_pass_ms_per_query', unit => 'ms', params => { ef_search => $ef }, samples => [ $secs * 1000 / $nq ]);
			my $pl = $b->explain($d->{db}, $setup, search_sql(1));
			$b->{info}{plans}{"$sys pgbench"} //= Bench::plan_nodes($pl->{Plan});
			$b->note("$sys: the pgbench query does not use the index: @{ Bench::plan_nodes($pl->{Plan}) }")
			  if $ef == $efs->[0] && !grep { /items_embedding_idx/ } @{ Bench::plan_nodes($pl->{Plan}) };
			$b->record(system => $sys, name => 'explain_shared_hit', unit => 'blocks', params => { ef_search => $ef }, samples => [ $pl->{Plan}{'Shared Hit Blocks'} ]);
			$b->record(system => $sys, name => 'explain_shared_read', unit => 'blocks', params => { ef_search => $ef }, samples => [ $pl->{Plan}{'Shared Read Blocks'} ]);
			$b->log(sprintf('%s ef_search=%d: recall@10 %.4f', $sys, $ef, $rec // -1));
		}
		my %runs;
		for my $rep (1 .. $o->{reps}) {
			for my $c (@cl) {
				for my $sys (@$idx) {    # A, B, A, B ...
					my $r = pgbench_search($b, $db->{$sys}{db}, $c, $nq, $pgopt{$sys});
					push @{ $runs{$sys}{$c} }, $r;
					$b->log(sprintf('%s ef_search=%d c=%d rep %d: %.1f tx/s', $sys, $ef, $c, $rep, $r->{tps}));
				}
			}
		}
		for my $sys (@$idx) { record_pgbench($b, $sys, { ef_search => $ef, clients => $_ }, $runs{$sys}{$_}) for @cl; }
	}

	# ---- report --------------------------------------------------------------
	my $md = '';
	if (@$idx) {
		$md .= "## Index build (median of " . ($o->{build_reps} // $o->{reps}) . "; m = 16, ef_construction = 64)\n\n";
		$md .= Bench::md_table([ 'system', 'build 1 process (s)', 'build 2 workers (s)', 'size (MiB)' ],
			map { [ $_, Bench::fmt($b->get($_, 'build_time_s', workers => 0), 2), Bench::fmt($b->get($_, 'build_time_s', workers => 2), 2),
					Bench::fmt($b->get($_, 'index_size_mb', workers => 0), 1) ] } @$idx);
		$md .= "\n";
	}
	$md .= "## Search: top-10 cosine, $nbase base rows, $nq held-out queries\n\n";
	$md .= "QPS: pgbench -M prepared, $o->{secs} s per run, median of $o->{reps} interleaved runs; latency percentiles from per-transaction logs at c=1.  Buffers: EXPLAIN (ANALYZE, BUFFERS) of query #1.\n\n";
	my @rows;
	my $row = sub {
		my ($sys, %p) = @_;
		my %p1 = (%p, clients => 1);
		my %pN = (%p, clients => $N);
		return [ $sys, $p{ef_search} // '–', Bench::fmt($b->get($sys, 'recall_at_10', %p), 4),
			Bench::fmt($b->get($sys, 'qps', %p1), 1), ($N > 1 ? Bench::fmt($b->get($sys, 'qps', %pN), 1) : ()),
			map({ Bench::fmt($b->get($sys, "latency_p${_}_ms", %p1), 2) } 50, 95, 99),
			Bench::fmt($b->get($sys, 'explain_shared_hit', %p), 0), Bench::fmt($b->get($sys, 'explain_shared_read', %p), 0) ];
	};
	push @rows, $row->('exact');
	for my $sys (@$idx) { push @rows, $row->($sys, ef_search => $_) for @$efs; }
	$md .= Bench::md_table([ 'system', 'ef_search', 'recall@10', 'QPS c=1', ($N > 1 ? "QPS c=$N" : ()), 'p50 ms', 'p95 ms', 'p99 ms', 'shared hit', 'shared read' ], @rows);
	if (@$idx == 2) {
		$md .= "\n## engram_hnsw / pgvector_hnsw\n\n";
		my @r;
		for my $ef (@$efs) {
			my %p = (ef_search => $ef);
			push @r, [ $ef, map({ Bench::ratio($b->get('engram_hnsw', 'recall_at_10', %p), $b->get('pgvector_hnsw', 'recall_at_10', %p), 3) } 1),
				map { Bench::ratio($b->get('engram_hnsw', 'qps', %p, clients => $_), $b->get('pgvector_hnsw', 'qps', %p, clients => $_)) } @cl ];
		}
		$md .= Bench::md_table([ 'ef_search', 'recall ratio', map { "QPS ratio c=$_" } @cl ], @r);
		$md .= "\nBuild time ratio (1 process / 2 workers): "
		  . (Bench::ratio($b->get('engram_hnsw', 'build_time_s', workers => 0), $b->get('pgvector_hnsw', 'build_time_s', workers => 0)) // '–') . ' / '
		  . (Bench::ratio($b->get('engram_hnsw', 'build_time_s', workers => 2), $b->get('pgvector_hnsw', 'build_time_s', workers => 2)) // '–') . "\n";
	}
	$b->{md_body} = $md;

	# ---- plot ----------------------------------------------------------------
	my @series = ({ title => 'exact (seq scan)', points => [ [ 1, $b->get('exact', 'qps', clients => 1) ] ] });
	for my $sys (@$idx) {
		push @series, { title => $sys, points => [ map { [ $b->get($sys, 'recall_at_10', ef_search => $_), $b->get($sys, 'qps', ef_search => $_, clients => 1), "ef=$_" ] } @$efs ] };
	}
	$b->{plot} = { title => "$b->{scenario}: GloVe-100 cosine, $nbase rows, top-10, 1 client", xlabel => 'recall@10 (labels: ef_search)',
		ylabel => 'QPS (log scale)', key => 'bottom left', xrange => '*:1.02', series => \@series };
}

sub filtered_part
{
	my ($b, $db, $idx, $efs, $nq) = @_;
	my @rows;
	for my $cat (1, 2) {
		my $where = "WHERE i.category = $cat";
		my (undef, $secs, $nodes, $exact) = recall_pass($b, 'bench_engram', 'SET enable_indexscan = off;', undef, $where);
		my %gt = map { $_ => $exact->{$_} } keys %$exact;
		my $stats = sub {
			my ($sys, $params, $res, $secs) = @_;
			my @n = map { scalar @{ $res->{$_} } } keys %$res;
			my ($hit, $tot) = (0, 0);
			for my $q (keys %$res) {
				my %top = map { $_ => 1 } @{ $gt{$q} };
				$hit += grep { $top{$_} } @{ $res->{$q} };
				$tot += scalar @{ $gt{$q} };
			}
			my %p = (%$params, category => $cat);
			$b->record(system => $sys, name => 'rows_returned_mean', unit => 'rows', params => \%p, samples => [ Bench::mean(@n) ]);
			$b->record(system => $sys, name => 'fraction_short', unit => 'fraction', params => \%p, samples => [ scalar(grep { $_ < 10 } @n) / @n ]);
			$b->record(system => $sys, name => 'recall_at_10', unit => 'fraction', params => \%p, samples => [ $tot ? $hit / $tot : 1 ]);
			$b->record(system => $sys, name => 'ms_per_query', unit => 'ms', params => \%p, samples => [ $secs * 1000 / $nq ]);
			push @rows, [ $sys, $cat, $params->{ef_search} // '–', Bench::fmt(Bench::mean(@n), 2),
				Bench::fmt(scalar(grep { $_ < 10 } @n) / @n, 3), Bench::fmt($tot ? $hit / $tot : 1, 4), Bench::fmt($secs * 1000 / $nq, 2) ];
		};
		$stats->('exact', {}, $exact, $secs);
		$b->{info}{plans}{"exact category=$cat"} = $nodes;
		for my $ef (@$efs) {
			for my $sys (@$idx) {
				my $d = $db->{$sys};
				my @variants = $sys eq 'pgvector_hnsw' ? ([ 'pgvector_hnsw', 'SET hnsw.iterative_scan = off;' ],
					[ 'pgvector_hnsw_relaxed', 'SET hnsw.iterative_scan = relaxed_order;' ]) : ([ $sys, '' ]);
				for my $v (@variants) {
					# the index path is forced (enable_seqscan = off): the planner would
					# often choose an exact scan for 1%, which says nothing about the index
					my $setup = "SET $d->{guc} = $ef; SET enable_seqscan = off; $v->[1]";
					my (undef, $s, $n, $res) = recall_pass($b, $d->{db}, $setup, undef, $where);
					$b->{info}{plans}{"$v->[0] category=$cat"} //= $n;
					$stats->($v->[0], { ef_search => $ef }, $res, $s);
					$b->log("$v->[0] category=$cat ef_search=$ef done");
				}
			}
		}
	}
	$b->{systems}{pgvector_hnsw_relaxed} = { available => JSON::PP::true, db => 'bench_pgvector', detail => 'pgvector_hnsw index, hnsw.iterative_scan = relaxed_order' }
	  if $db->{pgvector_hnsw};
	my %c = %{ $b->{info}{category_rows} };
	my $md = "## Filtered search: WHERE category = c ORDER BY embedding <=> q LIMIT 10, $nq queries\n\n";
	$md .= "category 1: $c{1} rows, category 2: $c{2} rows ($b->{info}{category_rule}).  Recall against the exact filtered top-10; index path forced (enable_seqscan = off); one pass over all queries (no repetitions); ms/query from that pass.\n\n";
	$md .= Bench::md_table([ 'system', 'category', 'ef_search', 'rows returned (mean)', 'fraction < 10 rows', 'recall@10', 'ms/query' ], @rows);
	$b->{md_body} = $md;
}

sub mixed_part
{
	my ($b, $db, $idx, $ef, $nq) = @_;
	my $o = $b->{opts};
	$b->{systems}{exact}{available} = JSON::PP::false;
	$b->{systems}{exact}{reason} = 'not part of glove-mixed';
	for my $sys (@$idx) {
		my $d = $db->{$sys};
		$b->psql($d->{db}, "CREATE TABLE insert_src AS SELECT row_number() OVER (ORDER BY id)::int AS rn, word, embedding FROM items;
			ALTER TABLE insert_src ADD PRIMARY KEY (rn);
			SELECT setseed(0.42);
			CREATE TABLE noise AS SELECT g AS nid, (SELECT array_agg((random() - 0.5) * 0.02)::real[]::vector(100) FROM generate_series(1, 100) x WHERE g > 0) AS v FROM generate_series(1, 100) g;
			ALTER TABLE noise ADD PRIMARY KEY (nid);
			CREATE SEQUENCE items_new_id START 100000000;
			VACUUM ANALYZE insert_src, noise;");
	}
	my $nsrc = $b->psql('bench_engram', 'SELECT count(*) FROM items');
	my %runs;
	for my $rep (1 .. $o->{reps}) {
		for my $sys (@$idx) {
			my $d = $db->{$sys};
			my $r = $b->pgbench($d->{db}, secs => $o->{secs}, clients => $o->{clients}, threads => 2,
				scripts => [ "$SQL/glove-search.pgbench\@9", "$SQL/glove-insert.pgbench\@1" ],
				vars => { nq => $nq, nsrc => $nsrc }, pgoptions => "-c $d->{guc}=$ef");
			push @{ $runs{$sys} }, $r;
			$b->log(sprintf('%s mixed rep %d: %.1f tx/s', $sys, $rep, $r->{tps}));
		}
	}
	my @rows;
	for my $sys (@$idx) {
		my $p = { clients => $o->{clients}, ef_search => $ef };
		my $rs = $runs{$sys};
		$b->record(system => $sys, name => 'qps_total', unit => 'tx/s', params => $p, samples => [ map { $_->{tps} } @$rs ]);
		for my $s ([ 0, 'search' ], [ 1, 'insert50' ]) {
			my %pp = (%$p, statement => $s->[1]);
			$b->record(system => $sys, name => 'tx_per_s', unit => 'tx/s', params => \%pp,
				samples => [ map { scalar(@{ $_->{by_script}{ $s->[0] } // [] }) / $o->{secs} } @$rs ]);
			for my $pc (50, 95, 99) {
				$b->record(system => $sys, name => "latency_p${pc}_ms", unit => 'ms', params => \%pp,
					samples => [ map { (Bench::pct($pc, $_->{by_script}{ $s->[0] } // []) // 0) / 1000 } @$rs ]);
			}
			push @rows, [ $sys, $s->[1], Bench::fmt($b->get($sys, 'tx_per_s', %pp), 1),
				map { Bench::fmt($b->get($sys, "latency_p${_}_ms", %pp), 2) } 50, 95, 99 ];
		}
		my $n = $b->psql($db->{$sys}{db}, 'SELECT count(*) FROM items');
		$b->{info}{"rows_after_$sys"} = $n;
	}
	my $md = "## Mixed: 90% top-10 searches / 10% inserts of 50 rows, $o->{clients} clients, $o->{secs} s, ef_search = $ef\n\n";
	$md .= "pgbench -M prepared -f glove-search.pgbench\@9 -f glove-insert.pgbench\@1; median of $o->{reps} interleaved runs (the table grows across runs).\n\n";
	$md .= Bench::md_table([ 'system', 'statement', 'tx/s', 'p50 ms', 'p95 ms', 'p99 ms' ], @rows);
	$md .= "\n" . Bench::md_table([ 'system', 'total tx/s' ], map { [ $_, Bench::fmt($b->get($_, 'qps_total'), 1) ] } @$idx) if @$idx;
	$md .= "\nNo index system is available: nothing measured.\n" unless @$idx;
	$b->{md_body} = $md;
}

1;
