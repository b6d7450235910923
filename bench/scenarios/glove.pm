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
# Exact (sequential scan) searches and the ground truth: no index may answer them
our $EXACT_SETUP = 'SET enable_indexscan = off; SET enable_bitmapscan = off;';

our %DEFAULTS = (
	'glove' => { base => 0, queries => 1000, ef => '10,20,40,80,160,320', reps => 3, secs => 10, clients => 2, insert_secs => 20, part => 'search' },
	'glove-quick' => { base => 50000, queries => 200, ef => '10,20,40,80,160,320', reps => 3, build_reps => 1, secs => 3, clients => 2, insert_secs => 10, part => 'search' },
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

	# The server runs with private copies of the libraries (Bench::private_install):
	# check that they are what the backends load
	my %md5_start = map { $_ => Bench::installed_md5($_) } qw(engram vector);
	for my $l ([ 'engram', 'bench_engram', "SELECT '[1]'::vector" ], [ 'vector', 'bench_pgvector', "SELECT '[1]'::vector" ]) {
		next if $l->[0] eq 'vector' && !$db{pgvector_hnsw};
		my $path = $b->loaded_library_path($l->[1], $l->[0], $l->[2]) // '?';
		$b->{info}{pinned_libraries}{ $l->[0] }{loaded_by_backend} = $path;
		$b->note("$l->[0]: the backend loaded $path, not the pinned copy") if $path ne ($b->{info}{pinned_libraries}{ $l->[0] }{path} // '');
	}

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

	if ($part eq 'search') {
		search_part($b, \%db, \@idx, \@ef, $gt, $nq, $nbase);
		insert_part($b, \%db, \@idx) if @idx && $o->{insert_secs};
		$b->{md_body} = search_report($b, \@idx, \@ef, $nq, $nbase);
	}
	elsif ($part eq 'filtered') { filtered_part($b, \%db, \@idx, \@ef, $nq); }
	elsif ($part eq 'mixed') { mixed_part($b, \%db, \@idx, $ef[0], $nq); }

	for my $lib (sort keys %md5_start) {
		my $now = Bench::installed_md5($lib);
		$b->note("the installed $lib.so changed during the run ($md5_start{$lib} -> $now); "
			  . "this run used its pinned copy ($b->{info}{pinned_libraries}{$lib}{md5}) throughout")
		  if $b->{info}{pinned_libraries}{$lib} && $now ne $md5_start{$lib};
	}
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
			$b->{info}{ground_truth} = "reloaded from $f";
			$b->log("ground truth: $f");
			gt_spot_check($b, \%gt, scalar @qids);
			return \%gt;
		}
		$b->log("ground truth $f does not cover the queries: ignored");
	}
	$b->log("computing exact top-100 for $nq queries (sequential scan)");
	my $t0 = time();
	# Index scans off: an ANN index answering the ground-truth query would make
	# every recall 1.  (No vector index exists yet at this point; belt and braces.)
	my $gtq = "SELECT q.id, '{' || array_to_string(array(SELECT i.id FROM items i ORDER BY i.embedding <=> q.embedding, i.id LIMIT 100), ',') || '}'
		FROM queries q ORDER BY q.qn";
	check_exact_plan($b, $gtq, 'ground truth');
	my $out = $b->psql('bench_engram', "$EXACT_SETUP\n$gtq;");
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

# The exact queries must not touch a vector index: die if their plan does
sub check_exact_plan
{
	my ($b, $q, $what) = @_;
	my $pl = $b->explain('bench_engram', $EXACT_SETUP, $q, 'COSTS OFF');
	my $nodes = Bench::plan_nodes($pl->{Plan});
	$b->{info}{plans}{$what} = $nodes;
	die "$what: the exact query uses a vector index: @$nodes\n" if grep { /items_embedding_idx/ } @$nodes;
	return $nodes;
}

# A cached ground truth is checked against an exact scan of a few queries
# (top-10 overlap; near-ties at rank 10 may legitimately differ)
sub gt_spot_check
{
	my ($b, $gt, $nq) = @_;
	my @qn = uniq(map { 1 + int($_ * ($nq - 1) / 4) } 0 .. 4);
	my $q = "SELECT q.id, array_to_string(array(SELECT i.id FROM items i ORDER BY i.embedding <=> q.embedding, i.id LIMIT 10), ',')
		FROM queries q WHERE q.qn IN (" . join(',', @qn) . ") ORDER BY q.qn";
	check_exact_plan($b, $q, 'ground truth spot check');
	my ($hit, $tot) = (0, 0);
	for my $r ($b->psql_rows('bench_engram', "$EXACT_SETUP\n$q;")) {
		my %top = map { $_ => 1 } @{ $gt->{ $r->[0] } }[ 0 .. 9 ];
		$hit += grep { $top{$_} } split /,/, $r->[1];
		$tot += 10;
	}
	$b->{info}{ground_truth_spot_check} = { queries_qn => \@qn, top10_overlap => $tot ? $hit / $tot : undef };
	$b->log(sprintf('ground truth spot check (%d queries, exact scan): top-10 overlap %.3f', scalar @qn, $hit / $tot));
	$b->note(sprintf('the cached ground truth disagrees with an exact scan: top-10 overlap %.3f on %d queries', $hit / $tot, scalar @qn))
	  if $hit < $tot;
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

# Builds alternate between the systems (A, B, A, B), parallel then single
# process; "workers" is max_parallel_maintenance_workers.  The parallel
# workers actually running are sampled from pg_stat_activity during every
# build (workers_seen): engram_hnsw has no parallel build, so its
# "workers = 2" build runs in one process, and the report says so.
sub build_indexes
{
	my ($b, $db, $idx) = @_;
	my $reps = $b->{opts}{build_reps} // $b->{opts}{reps};
	my (%t, %sz, %seen);
	for my $rep (1 .. $reps) {
		for my $w (2, 0) {    # the last build of the loop is single-process: that index is searched
			for my $sys (@$idx) {
				my $d = $db->{$sys};
				$b->psql($d->{db}, 'DROP INDEX IF EXISTS items_embedding_idx; CHECKPOINT;');
				my ($ms, $notices, $maxw) = $b->with_worker_sampling(sub {
					$b->timed_notices($d->{db}, "SET max_parallel_maintenance_workers = $w;", index_sql($d)) });
				push @{ $t{$sys}{$w} }, $ms / 1000;
				push @{ $seen{$sys}{$w} }, $maxw;
				push @{ $sz{$sys}{$w} }, $b->psql($d->{db}, "SELECT pg_relation_size('items_embedding_idx')") / 1048576;
				$b->log(sprintf('build %s workers=%d rep %d: %.2f s, parallel workers seen: %d', $sys, $w, $rep, $ms / 1000, $maxw));
				for my $n (@$notices) {
					push @{ $b->{info}{build_notices}{"$sys workers=$w rep $rep"} }, $n;
					$b->note("build $sys workers=$w rep $rep: $n");
				}
			}
		}
	}
	for my $sys (@$idx) {
		for my $w (0, 2) {
			$b->record(system => $sys, name => 'build_time_s', unit => 's', params => { workers => $w }, samples => $t{$sys}{$w});
			$b->record(system => $sys, name => 'index_size_mb', unit => 'MiB', params => { workers => $w }, samples => $sz{$sys}{$w});
			$b->record(system => $sys, name => 'build_workers_seen', unit => 'processes', params => { workers => $w }, samples => $seen{$sys}{$w});
		}
		my $am = $b->psql($db->{$sys}{db}, "SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'items_embedding_idx'");
		$b->{systems}{$sys}{index_am} = $am;
		$b->psql($db->{$sys}{db}, 'VACUUM ANALYZE items; CHECKPOINT;');
	}
	if ($db->{engram_hnsw} && !grep { $_ > 0 } @{ $seen{engram_hnsw}{2} }) {
		$b->{systems}{engram_hnsw}{parallel_build} = 'none: the build with max_parallel_maintenance_workers = 2 ran in a single process';
		$b->note('engram_hnsw has no parallel build yet: its "2 workers" builds ran single-process (no parallel worker seen); they are reported as measured');
	}
	if ($db->{pgvector_hnsw} && grep { $_ == 0 } @{ $seen{pgvector_hnsw}{2} }) {
		$b->note('pgvector_hnsw: no parallel worker was seen during some "2 workers" builds (sampled every 0.5 s)');
	}
}

sub search_sql { my ($qn) = @_; return "SELECT id FROM items ORDER BY embedding <=> (SELECT embedding FROM queries WHERE qn = $qn) LIMIT 10"; }

sub recall_sql
{
	my ($where) = @_;
	$where //= '';
	return "SELECT q.id, array_to_string(array(SELECT i.id FROM items i $where ORDER BY i.embedding <=> q.embedding LIMIT 10), ',')
		FROM queries q ORDER BY q.qn";
}

# One recall pass: every held-out query, top-10 ids; returns (recall, secs, plan nodes, results)
sub recall_pass
{
	my ($b, $dbn, $setup, $gt, $where) = @_;
	my $q = recall_sql($where);
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

sub find_subplan
{
	my ($p) = @_;
	return $p if ($p->{'Parent Relationship'} // '') eq 'SubPlan';
	for (@{ $p->{Plans} // [] }) { my $s = find_subplan($_); return $s if $s; }
	return undef;
}

# Buffer accesses per query over all held-out queries: EXPLAIN (ANALYZE,
# BUFFERS) of the recall statement; the SubPlan's counts are totals over its
# executions (one per query: its "Actual Loops").  Index and heap pages alike.
sub buffers_per_query
{
	my ($b, $dbn, $setup) = @_;
	my $pl = $b->explain($dbn, $setup, recall_sql(''));
	my $sub = find_subplan($pl->{Plan}) or die "no SubPlan in the plan of the recall statement\n";
	my $loops = $sub->{'Actual Loops'} || 1;
	return ($sub->{'Shared Hit Blocks'} / $loops, $sub->{'Shared Read Blocks'} / $loops, Bench::plan_nodes($pl->{Plan}), $pl->{'Execution Time'} / $loops);
}

sub pgbench_search
{
	my ($b, $dbn, $c, $nq, $pgopt, $seed) = @_;
	return $b->pgbench($dbn, secs => $b->{opts}{secs}, clients => $c, scripts => ["$SQL/glove-search.pgbench"],
		vars => { nq => $nq }, pgoptions => $pgopt, random_seed => $seed);
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

# Settings of an index system's searches: its ef_search, and the index path
# forced (enable_seqscan = off) so that recall and QPS are the index's
sub index_setup { my ($d, $ef) = @_; return "SET $d->{guc} = $ef; SET enable_seqscan = off;"; }
sub index_pgoptions { my ($d, $ef) = @_; return "-c $d->{guc}=$ef -c enable_seqscan=off"; }

sub search_part
{
	my ($b, $db, $idx, $efs, $gt, $nq, $nbase) = @_;
	my $o = $b->{opts};
	my $N = $o->{clients};
	my @cl = uniq(1, $N);

	# the ef_search setting must reach the scan: SET it, run a search (loads the library), SHOW it
	for my $sys (@$idx) {
		my $d = $db->{$sys};
		my $v = $b->psql($d->{db}, index_setup($d, 17) . "\nSELECT count(*) FROM (" . search_sql(1) . ") s;\nSHOW $d->{guc};");
		my ($last) = (split /\n/, $v)[-1];
		$b->note("$sys: SET $d->{guc} = 17 did not stick (SHOW says '$last')") unless $last eq '17';
	}

	# exact: sequential scan on engram's types (the plan is checked: no index)
	{
		my $pgopt = '-c enable_indexscan=off -c enable_bitmapscan=off';
		check_exact_plan($b, recall_sql(''), 'exact recall');
		my $nodes = check_exact_plan($b, search_sql(1), 'exact pgbench');
		my $pl = $b->explain('bench_engram', $EXACT_SETUP, search_sql(1));
		$b->record(system => 'exact', name => 'recall_at_10', unit => 'fraction', params => {}, samples => [1]);
		$b->record(system => 'exact', name => 'explain_shared_hit', unit => 'blocks', params => {}, samples => [ $pl->{Plan}{'Shared Hit Blocks'} ]);
		$b->record(system => 'exact', name => 'explain_shared_read', unit => 'blocks', params => {}, samples => [ $pl->{Plan}{'Shared Read Blocks'} ]);
		$b->record(system => 'exact', name => 'buffers_per_query', unit => 'blocks', params => {},
			samples => [ $pl->{Plan}{'Shared Hit Blocks'} + $pl->{Plan}{'Shared Read Blocks'} ], extra => { source => 'query #1 only' });
		my %runs;
		for my $rep (1 .. $o->{reps}) {
			for my $c (@cl) {
				my $r = pgbench_search($b, 'bench_engram', $c, $nq, $pgopt, 1000 * $rep + $c);
				push @{ $runs{$c} }, $r;
				$b->log(sprintf('exact c=%d rep %d: %.1f tx/s', $c, $rep, $r->{tps}));
			}
		}
		record_pgbench($b, 'exact', { clients => $_ }, $runs{$_}) for @cl;
	}

	for my $ef (@$efs) {
		for my $sys (@$idx) {
			my $d = $db->{$sys};
			my $setup = index_setup($d, $ef);
			my ($rec, $secs, $nodes) = recall_pass($b, $d->{db}, $setup, $gt);
			$b->{info}{plans}{"$sys recall"} //= $nodes;
			if (!grep { /^Index Scan \(items_embedding_idx\)/ } @$nodes) {
				$b->note("$sys ef_search=$ef: the recall statement does not use the index: @$nodes");
				$rec = undef;    # not the index's recall: not reported
			}
			$b->record(system => $sys, name => 'recall_at_10', unit => 'fraction', params => { ef_search => $ef }, samples => [$rec]);
			$b->record(system => $sys, name => 'recall_pass_ms_per_query', unit => 'ms', params => { ef_search => $ef }, samples => [ $secs * 1000 / $nq ]);
			my ($bh, $br, $bnodes, $bms) = buffers_per_query($b, $d->{db}, $setup);
			$b->record(system => $sys, name => 'buffers_hit_per_query', unit => 'blocks', params => { ef_search => $ef }, samples => [$bh]);
			$b->record(system => $sys, name => 'buffers_read_per_query', unit => 'blocks', params => { ef_search => $ef }, samples => [$br]);
			$b->record(system => $sys, name => 'buffers_per_query', unit => 'blocks', params => { ef_search => $ef }, samples => [ $bh + $br ],
				extra => { source => "EXPLAIN (ANALYZE, BUFFERS) of the recall statement, SubPlan totals / loops, all $nq queries" });
			$b->record(system => $sys, name => 'explain_ms_per_query', unit => 'ms', params => { ef_search => $ef }, samples => [$bms]);
			my $pl = $b->explain($d->{db}, $setup, search_sql(1));
			my $pn = Bench::plan_nodes($pl->{Plan});
			$b->{info}{plans}{"$sys pgbench"} //= $pn;
			$b->note("$sys ef_search=$ef: the pgbench query does not use the index: @$pn")
			  unless grep { /^Index Scan \(items_embedding_idx\)/ } @$pn;
			$b->record(system => $sys, name => 'explain_shared_hit', unit => 'blocks', params => { ef_search => $ef }, samples => [ $pl->{Plan}{'Shared Hit Blocks'} ]);
			$b->record(system => $sys, name => 'explain_shared_read', unit => 'blocks', params => { ef_search => $ef }, samples => [ $pl->{Plan}{'Shared Read Blocks'} ]);
			$b->log(sprintf('%s ef_search=%d: recall@10 %.4f, %.1f buffers/query (%.1f read)', $sys, $ef, $rec // -1, $bh + $br, $br));
		}
		my %runs;
		for my $rep (1 .. $o->{reps}) {
			for my $c (@cl) {
				for my $sys (@$idx) {    # A, B, A, B ...; the same query sequence for both
					my $r = pgbench_search($b, $db->{$sys}{db}, $c, $nq, index_pgoptions($db->{$sys}, $ef), 1000 * $rep + $c);
					push @{ $runs{$sys}{$c} }, $r;
					$b->log(sprintf('%s ef_search=%d c=%d rep %d: %.1f tx/s', $sys, $ef, $c, $rep, $r->{tps}));
				}
			}
		}
		for my $sys (@$idx) { record_pgbench($b, $sys, { ef_search => $ef, clients => $_ }, $runs{$sys}{$_}) for @cl; }
	}

	# ---- plot ----------------------------------------------------------------
	my @series = ({ title => 'exact (seq scan)', points => [ [ 1, $b->get('exact', 'qps', clients => 1) ] ] });
	for my $sys (@$idx) {
		push @series, { title => $sys, points => [ map { [ $b->get($sys, 'recall_at_10', ef_search => $_), $b->get($sys, 'qps', ef_search => $_, clients => 1), "ef=$_" ] } @$efs ] };
	}
	$b->{plot} = { title => "$b->{scenario}: GloVe-100 cosine, $nbase rows, top-10, 1 client", xlabel => 'recall@10 (labels: ef_search)',
		ylabel => 'QPS (log scale)', key => 'bottom left', xrange => '*:1.02', series => \@series };
}

# Insert throughput into the indexed table: pgbench, 1 client, batches of 50
# rows (copies of 50 consecutive base rows moved by one of 100 small fixed
# noise vectors: new points near the data, not duplicates), interleaved
# A, B, A, B with the same batch sequence for both systems.  Runs after the
# search measurements (the table grows).
sub insert_part
{
	my ($b, $db, $idx) = @_;
	my $o = $b->{opts};
	my $nsrc;
	for my $sys (@$idx) {
		setup_insert_sources($b, $db->{$sys}{db});
		$nsrc = $b->psql($db->{$sys}{db}, 'SELECT count(*) FROM insert_src');
	}
	my %runs;
	for my $rep (1 .. $o->{reps}) {
		for my $sys (@$idx) {
			my $d = $db->{$sys};
			my $r = $b->pgbench($d->{db}, secs => $o->{insert_secs}, clients => 1, scripts => ["$SQL/glove-insert.pgbench"],
				vars => { nsrc => $nsrc }, random_seed => 2000 + $rep);
			push @{ $runs{$sys} }, $r;
			$b->log(sprintf('%s insert rep %d: %.1f batches/s = %.0f rows/s', $sys, $rep, $r->{tps}, 50 * $r->{tps}));
		}
	}
	for my $sys (@$idx) {
		my $rs = $runs{$sys};
		my $p = { clients => 1, batch => 50 };
		$b->record(system => $sys, name => 'insert_rows_per_s', unit => 'rows/s', params => $p, samples => [ map { 50 * $_->{tps} } @$rs ]);
		for my $pc (50, 95, 99) {
			$b->record(system => $sys, name => "insert_batch_p${pc}_ms", unit => 'ms', params => $p,
				samples => [ map { Bench::pct($pc, $_->{lat_us}) / 1000 } @$rs ]);
		}
		$b->{info}{"rows_after_inserts_$sys"} = $b->psql($db->{$sys}{db}, 'SELECT count(*) FROM items') + 0;
	}
}

# Tables the insert scripts read: insert_src (the base rows numbered) and
# noise (100 small vectors, the same in every database: fixed seed)
sub setup_insert_sources
{
	my ($b, $dbn) = @_;
	$b->psql($dbn, "CREATE TABLE insert_src AS SELECT row_number() OVER (ORDER BY id)::int AS rn, word, embedding FROM items;
		ALTER TABLE insert_src ADD PRIMARY KEY (rn);
		SELECT setseed(0.42);
		CREATE TABLE noise AS SELECT g AS nid, (SELECT array_agg((random() - 0.5) * 0.02)::real[]::vector(100) FROM generate_series(1, 100) x WHERE g > 0) AS v FROM generate_series(1, 100) g;
		ALTER TABLE noise ADD PRIMARY KEY (nid);
		CREATE SEQUENCE items_new_id START 100000000;
		VACUUM ANALYZE insert_src, noise;");
}

# QPS at a recall level, on one system's recall/QPS curve (points in ef_search
# order): log-linear interpolation between the two measured points around the
# first crossing.  Returns (qps, kind, text): kind 'interp', 'lower_bound'
# (already reached at the smallest ef_search: QPS there, a lower bound) or
# 'never' (qps undef).
sub qps_at_recall
{
	my ($pts, $target) = @_;
	my @p = grep { defined $_->[0] && defined $_->[1] && $_->[1] > 0 } @$pts;
	return (undef, 'never', 'not measured') unless @p;
	for my $i (0 .. $#p) {
		my ($r1, $q1, $e1) = @{ $p[$i] };
		next if $r1 < $target;
		return ($q1, 'lower_bound', "reached at the smallest ef_search ($e1, recall " . sprintf('%.4f', $r1) . ")") if $i == 0;
		my ($r0, $q0, $e0) = @{ $p[ $i - 1 ] };
		my $f = $r1 > $r0 ? ($target - $r0) / ($r1 - $r0) : 1;
		my $q = exp(log($q0) + $f * (log($q1) - log($q0)));
		return ($q, 'interp', "ef_search $e0..$e1");
	}
	my ($best) = sort { $b->[0] <=> $a->[0] } @p;
	return (undef, 'never', sprintf('never reached (best %.4f at ef_search %s)', $best->[0], $best->[2]));
}

sub search_report
{
	my ($b, $idx, $efs, $nq, $nbase) = @_;
	my $o = $b->{opts};
	my $N = $o->{clients};
	my @cl = uniq(1, $N);
	my %isidx = map { $_ => 1 } @$idx;
	my $md = '';
	if (@$idx) {
		$md .= "## Index build (median of " . ($o->{build_reps} // $o->{reps}) . "; m = 16, ef_construction = 64; maintenance_work_mem = $b->{pg}{settings}{maintenance_work_mem})\n\n";
		$md .= "\"2 workers\": max_parallel_maintenance_workers = 2 (the table has parallel_workers = 2); \"workers seen\": most parallel worker processes seen in pg_stat_activity during those builds (sampled every 0.5 s).\n\n";
		$md .= Bench::md_table([ 'system', 'build 1 process (s)', 'build 2 workers (s)', 'workers seen', 'size (MiB)' ],
			map {
				my $seen = $b->get($_, 'build_workers_seen', workers => 2);
				my $par = Bench::fmt($b->get($_, 'build_time_s', workers => 2), 2);
				$par .= ' (ran single-process: no parallel build)' if defined $par && $_ eq 'engram_hnsw' && !$seen;
				[ $_, Bench::fmt($b->get($_, 'build_time_s', workers => 0), 2), $par, $seen,
					Bench::fmt($b->get($_, 'index_size_mb', workers => 0), 1) ] } @$idx);
		$md .= "\n";
	}
	$md .= "## Search: top-10 cosine, $nbase base rows, $nq held-out queries\n\n";
	$md .= "QPS: pgbench -M prepared, $o->{secs} s per run, median of $o->{reps} interleaved runs (same query sequence for every system); latency percentiles from per-transaction logs at c=1.  "
	  . "Index systems run with enable_seqscan = off (their plans are checked to use the index).  "
	  . "Buffers/query: shared hit + read per query, EXPLAIN (ANALYZE, BUFFERS) over all $nq queries (exact: query #1); q#1 hit/read: EXPLAIN (ANALYZE, BUFFERS) of the pgbench query for query #1.\n\n";
	my @rows;
	my $row = sub {
		my ($sys, %p) = @_;
		my %p1 = (%p, clients => 1);
		my %pN = (%p, clients => $N);
		return [ $sys, $p{ef_search} // '–', Bench::fmt($b->get($sys, 'recall_at_10', %p), 4),
			Bench::fmt($b->get($sys, 'qps', %p1), 1), ($N > 1 ? Bench::fmt($b->get($sys, 'qps', %pN), 1) : ()),
			map({ Bench::fmt($b->get($sys, "latency_p${_}_ms", %p1), 2) } 50, 95, 99),
			Bench::fmt($b->get($sys, 'buffers_per_query', %p), 1),
			Bench::fmt($b->get($sys, 'explain_shared_hit', %p), 0) . ' / ' . Bench::fmt($b->get($sys, 'explain_shared_read', %p), 0) ];
	};
	push @rows, $row->('exact');
	for my $sys (@$idx) { push @rows, $row->($sys, ef_search => $_) for @$efs; }
	$md .= Bench::md_table([ 'system', 'ef_search', 'recall@10', 'QPS c=1', ($N > 1 ? "QPS c=$N" : ()), 'p50 ms', 'p95 ms', 'p99 ms', 'buffers/query', 'q#1 hit / read' ], @rows);

	# QPS at equal recall
	my %at;
	for my $sys (@$idx) {
		for my $c (@cl) {
			my @pts = map { [ $b->get($sys, 'recall_at_10', ef_search => $_), $b->get($sys, 'qps', ef_search => $_, clients => $c), $_ ] } @$efs;
			for my $t (0.90, 0.95, 0.99) {
				my ($q, $kind, $txt) = qps_at_recall(\@pts, $t);
				$at{$sys}{$c}{$t} = [ $q, $kind, $txt ];
				$b->record(system => $sys, name => 'qps_at_recall', unit => 'tx/s', params => { recall => $t, clients => $c },
					samples => [$q], extra => { kind => $kind, how => $txt }) if defined $q;
			}
		}
	}
	my $cell = sub { my ($a) = @_; return 'never' unless defined $a->[0]; return ($a->[1] eq 'lower_bound' ? '≥ ' : '') . Bench::fmt($a->[0], 1); };
	if (@$idx) {
		$md .= "\n## QPS at equal recall@10\n\nEach system's QPS interpolated at the recall level on its recall/QPS curve (log QPS linear in recall between the two measured ef_search points around the first crossing); "
		  . "'≥' = already reached at the smallest ef_search (QPS there, a lower bound); 'never' = no ef_search reached it.\n\n";
		my @r;
		for my $t (0.90, 0.95, 0.99) {
			for my $c (@cl) {
				my @cells = map { defined $at{$_}{$c}{$t}[0] ? $cell->($at{$_}{$c}{$t}) . " ($at{$_}{$c}{$t}[2])" : $at{$_}{$c}{$t}[2] } @$idx;
				my $ratio = '–';
				if (@$idx == 2) {
					my ($e, $p) = ($at{engram_hnsw}{$c}{$t}, $at{pgvector_hnsw}{$c}{$t});
					if (defined $e->[0] && defined $p->[0]) {
						$ratio = Bench::ratio($e->[0], $p->[0]);
						$ratio .= ' (bounds: indicative)' if $e->[1] eq 'lower_bound' || $p->[1] eq 'lower_bound';
						$b->record(system => 'engram_hnsw/pgvector_hnsw', name => 'qps_at_recall_ratio', unit => 'ratio',
							params => { recall => $t, clients => $c }, samples => [ $e->[0] / $p->[0] ]);
					} elsif (!defined $e->[0] && defined $p->[0]) { $ratio = 'engram never reaches it'; }
					elsif (defined $e->[0] && !defined $p->[0]) { $ratio = 'pgvector never reaches it'; }
					else { $ratio = 'neither reaches it'; }
				}
				push @r, [ $t, $c, @cells, (@$idx == 2 ? ($ratio) : ()) ];
			}
		}
		$md .= Bench::md_table([ 'recall@10', 'clients', (map { "$_ QPS" } @$idx), (@$idx == 2 ? ('engram/pgvector') : ()) ], @r);
	}
	if (@$idx && defined $b->get($idx->[0], 'insert_rows_per_s')) {
		$md .= "\n## Inserts into the indexed table\n\npgbench, 1 client, $o->{insert_secs} s per run, batches of 50 rows (`bench/sql/glove-insert.pgbench`), median of $o->{reps} interleaved runs, after the searches.\n\n";
		$md .= Bench::md_table([ 'system', 'rows/s', 'batch p50 ms', 'batch p95 ms', 'batch p99 ms', 'rows at the end' ],
			map { my $sys = $_; [ $sys, Bench::fmt($b->get($sys, 'insert_rows_per_s'), 0), map({ Bench::fmt($b->get($sys, "insert_batch_p${_}_ms"), 1) } 50, 95, 99),
				$b->{info}{"rows_after_inserts_$sys"} ] } @$idx) if defined $b->get($idx->[0], 'insert_rows_per_s');
	}
	if (@$idx == 2) {
		my ($E, $P) = ('engram_hnsw', 'pgvector_hnsw');
		my $R = sub { my ($m, %p) = @_; return Bench::ratio($b->get($E, $m, %p), $b->get($P, $m, %p)); };
		$md .= "\n## engram_hnsw / pgvector_hnsw\n\nQPS, rows/s: > 1 means engram is faster; times, sizes, buffers: < 1 means engram is smaller/faster.\n\n";
		my $par = $R->('build_time_s', workers => 2);
		$par .= ' (engram single-process vs pgvector parallel)' if defined $par && !$b->get($E, 'build_workers_seen', workers => 2);
		$md .= Bench::md_table([ 'measure', 'engram/pgvector' ],
			[ 'build time, 1 process', $R->('build_time_s', workers => 0) ],
			[ 'build time, 2 workers requested', $par ],
			[ 'index size', $R->('index_size_mb', workers => 0) ],
			(defined $b->get($E, 'insert_rows_per_s') ? ([ 'insert rows/s (1 client, 50-row batches)', $R->('insert_rows_per_s') ]) : ()));
		$md .= "\n";
		my @r;
		for my $ef (@$efs) {
			my %p = (ef_search => $ef);
			push @r, [ $ef, Bench::fmt($b->get($E, 'recall_at_10', %p), 4) . ' / ' . Bench::fmt($b->get($P, 'recall_at_10', %p), 4),
				(map { $R->('qps', %p, clients => $_) } @cl), $R->('latency_p50_ms', %p, clients => 1), $R->('buffers_per_query', %p) ];
		}
		$md .= Bench::md_table([ 'ef_search', 'recall@10 engram / pgvector', (map { "QPS ratio c=$_" } @cl), 'p50 ratio', 'buffers/query ratio' ], @r);
		$md .= "\nAt equal ef_search the recalls differ: the QPS-at-equal-recall table above is the fair comparison.\n";
	}
	return $md;
}

sub filtered_part
{
	my ($b, $db, $idx, $efs, $nq) = @_;
	my @rows;
	for my $cat (1, 2) {
		my $where = "WHERE i.category = $cat";
		my (undef, $secs, $nodes, $exact) = recall_pass($b, 'bench_engram', $EXACT_SETUP, undef, $where);
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
	setup_insert_sources($b, $db->{$_}{db}) for @$idx;
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
