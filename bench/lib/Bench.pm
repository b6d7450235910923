# bench/lib/Bench.pm: plumbing shared by the benchmark scenarios.
#
# A throwaway cluster (server runs as the unprivileged user, clients run as
# whoever runs bench/run: root can reach the socket in the 0700 data dir),
# psql / pgbench wrappers, statistics, the result record (JSON), the Markdown
# report and the gnuplot plot.  Core Perl modules only.
package Bench;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname basename);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(strftime floor);
use Time::HiRes qw(time);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $BENCH = "$ROOT/bench";
our $PG_BINDIR = $ENV{PG_BINDIR} // '/usr/lib/postgresql/' . ($ENV{PG_MAJOR} // 15) . '/bin';
our $TEST_USER = $ENV{ENGRAM_TEST_USER} // 'engram';

sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		scenario => $o{scenario},
		opts => $o{opts},
		port => $o{opts}{port},
		started => time(),
		results => [],
		notes => [],
		systems => {},
		info => {},
		md => [],
		}, $class;
	$self->{stamp} = strftime('%Y%m%d-%H%M', localtime);
	$self->{tmp} = tempdir('engram-bench-XXXXXX', TMPDIR => 1, CLEANUP => !$o{opts}{keep});
	return $self;
}

sub log { my ($self, @m) = @_; printf STDERR "==> [%6.1fs] %s\n", time() - $self->{started}, join('', @m); }
sub note { my ($self, $m) = @_; push @{ $self->{notes} }, $m; $self->log("NOTE: $m"); }

sub run_cmd
{
	my (@cmd) = @_;
	system(@cmd) == 0 or die "command failed ($?): @cmd\n";
}

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; my $s = <$fh>; close $fh; return $s; }
sub spew { my ($f, $s) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $s; close $fh or die "$f: $!"; }

# ---- cluster -------------------------------------------------------------

sub as_user
{
	my (@cmd) = @_;
	return ('env', "PATH=$PG_BINDIR:$ENV{PATH}", @cmd) if $> != 0;
	return ('runuser', '-u', $TEST_USER, '--', 'env', "PATH=$PG_BINDIR:$ENV{PATH}", @cmd);
}

sub ensure_user
{
	return if $> != 0;
	system("id -u $TEST_USER >/dev/null 2>&1") == 0
	  or run_cmd('useradd', '--create-home', '--shell', '/bin/bash', $TEST_USER);
}

# Server settings of every run; recorded in the JSON
our %SERVER_CONF = (
	shared_buffers => '2GB',
	work_mem => '64MB',
	maintenance_work_mem => '2GB',
	max_parallel_maintenance_workers => 2,
	max_parallel_workers => 8,
	max_worker_processes => 8,
	jit => 'off',
	fsync => 'off',
	synchronous_commit => 'off',
	full_page_writes => 'off',
	max_wal_size => '8GB',
	checkpoint_timeout => '30min',
	autovacuum => 'off',
	random_page_cost => '1.1',
	effective_cache_size => '8GB',
	max_connections => 50,
	shared_preload_libraries => "''",
);

sub start_cluster
{
	my ($self) = @_;
	ensure_user();
	my $base = $self->{opts}{cluster_dir} // "$BENCH/.cluster";
	my $dir = "$base/" . $self->{scenario};
	if (-d $dir) {
		# A live server here belongs to another bench/run of this scenario (the
		# data directory and port are per scenario): never stop it.  A stale one
		# (postmaster.pid of a dead process) is cleared.
		if (-f "$dir/postmaster.pid") {
			my ($pid) = split /\n/, (eval { slurp("$dir/postmaster.pid") } // '');
			die "a server is running in $dir (pid $pid): another 'bench/run $self->{scenario}' is probably in progress; "
			  . "wait for it to finish or use --cluster-dir and --port\n" if $pid && $pid =~ /^\d+$/ && kill(0, $pid);
		}
		remove_tree($dir);
	}
	make_path($base);
	run_cmd('chown', $TEST_USER, $base) if $> == 0;
	$self->log("initdb $dir");
	system(join(' ', as_user('initdb', '-D', $dir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C')) . ' >/dev/null') == 0 or die "initdb failed\n";
	my $conf = "listen_addresses = ''\nunix_socket_directories = '$dir'\nport = $self->{port}\n";
	$conf .= "$_ = $SERVER_CONF{$_}\n" for sort keys %SERVER_CONF;
	open my $fh, '>>', "$dir/postgresql.conf" or die $!;
	print $fh $conf;
	close $fh;
	my $postgres = $self->private_install($base);
	$self->log("starting server on port $self->{port} ($postgres)");
	system(join(' ', as_user('pg_ctl', '-D', $dir, '-p', $postgres, '-l', "$dir/server.log", '-w', 'start')) . ' >/dev/null') == 0 or die "server start failed: see $dir/server.log\n";
	$self->{datadir} = $dir;
	$self->{host} = $dir;
}

# Bind the backends started from now on to one CPU (they inherit the
# postmaster's affinity), or to every CPU again with undef.  On this VM a
# wakeup across vCPUs costs ~120 µs, so a one-client pgbench whose backend runs
# on the other vCPU measures mostly that, and which vCPU the scheduler picks
# changes from run to run: pgbench -T 3 of "SELECT 1" gave 7,500 tx/s pinned
# across, 80,000 pinned together, 5,000-13,000 unpinned.
sub pin_server
{
	my ($self, $cpu) = @_;
	my ($pid) = split /\n/, slurp("$self->{datadir}/postmaster.pid");
	my $ncpu = () = slurp('/proc/cpuinfo') =~ /^processor\s*:/mg;
	my $list = $cpu // '0-' . ($ncpu - 1);
	system("taskset -pc $list $pid >/dev/null") == 0 or die "taskset -pc $list $pid failed\n";
}

sub stop_cluster
{
	my ($self) = @_;
	return unless $self->{datadir};
	$self->log("stopping server");
	system(join(' ', as_user('pg_ctl', '-D', $self->{datadir}, '-m', 'fast', '-w', 'stop')) . ' >/dev/null');
	remove_tree($self->{datadir}, $self->{info}{private_install} // ()) unless $self->{opts}{keep};
	delete $self->{datadir};
}

# ---- psql / pgbench ------------------------------------------------------

sub conn_args { my ($self, $db) = @_; return ('-h', $self->{host}, '-p', $self->{port}, '-U', 'postgres', '-d', $db); }

# Run SQL (a string, may hold several statements and psql meta-commands) in
# one session; returns stdout (unaligned, tuples only, '|' separated).
sub psql
{
	my ($self, $db, $sql, %o) = @_;
	my $f = "$self->{tmp}/q.sql";
	spew($f, $sql);
	my @cmd = ("$PG_BINDIR/psql", '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', $self->conn_args($db), '-f', $f);
	my $out = '';
	my $pid = open(my $fh, '-|') // die "fork: $!";
	if (!$pid) {
		if ($o{stdin}) { open STDIN, '<', $o{stdin} or die "$o{stdin}: $!"; }
		if ($o{stdin_cmd}) { open STDIN, '-|', $o{stdin_cmd} or die "$o{stdin_cmd}: $!"; }
		if ($o{merge_stderr}) { open STDERR, '>&', \*STDOUT; }
		else { open STDERR, '>', "$self->{tmp}/psql.err"; }
		local $ENV{PGOPTIONS} = '-c client_min_messages=warning ' . ($o{pgoptions} // '');
		exec @cmd or die "exec psql: $!";
	}
	{ local $/; $out = <$fh> // ''; }
	close $fh;
	if ($? != 0) {
		return undef if $o{allow_fail};
		my $err = -f "$self->{tmp}/psql.err" ? slurp("$self->{tmp}/psql.err") : '';
		die "psql failed on $db:\n$sql\n$out\n$err\n";
	}
	chomp $out;
	return $out;
}

sub psql_rows
{
	my ($self, $db, $sql, %o) = @_;
	my $out = $self->psql($db, $sql, %o);
	return () unless defined $out && length $out;
	return map { [ split /\|/, $_, -1 ] } split /\n/, $out;
}

# Time one statement (after optional setup statements) with psql's \timing;
# returns milliseconds.
sub timed
{
	my ($self, $db, $setup, $stmt) = @_;
	my $out = $self->psql($db, "$setup\n\\timing on\n$stmt;\n");
	my @t = ($out =~ /^Time: ([0-9.]+) ms/mg);
	die "no timing in psql output: $out\n" unless @t;
	return $t[-1];
}

# Like timed, but also returns the NOTICE lines the statement raised (e.g.
# "hnsw graph no longer fits into maintenance_work_mem"): (ms, [notices])
sub timed_notices
{
	my ($self, $db, $setup, $stmt) = @_;
	my $out = $self->psql($db, "SET client_min_messages = notice;\n$setup\n\\timing on\n$stmt;\n", merge_stderr => 1);
	my @t = ($out =~ /^Time: ([0-9.]+) ms/mg);
	die "no timing in psql output: $out\n" unless @t;
	my @n = ($out =~ /^.*(?:NOTICE|WARNING):\s*(.+)$/mg);
	return ($t[-1], \@n);
}

# While $code runs, poll pg_stat_activity every 0.5 s from a child process for
# the number of parallel workers; returns ($code's result, max workers seen).
# The sample shows whether a "parallel" build really ran with workers.
sub with_worker_sampling
{
	my ($self, $code) = @_;
	my $f = "$self->{tmp}/workers.max";
	spew($f, "0\n");
	my @cmd = ("$PG_BINDIR/psql", '-X', '-q', '-At', $self->conn_args('postgres'), '-c',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'");
	my $pid = fork() // die "fork: $!";
	if (!$pid) {
		my $max = 0;
		# _exit: no END blocks in the child (File::Temp would remove the temp dir)
		$SIG{TERM} = sub { POSIX::_exit(0); };
		while (1) {
			my $n = '';
			if (open my $ph, '-|', @cmd) { local $/; $n = <$ph> // ''; close $ph; }
			chomp $n;
			if ($n =~ /^\d+$/ && $n > $max) { $max = $n; spew($f, "$max\n"); }
			select(undef, undef, undef, 0.5);
		}
	}
	my @r = eval { $code->() };
	my $err = $@;
	kill 'TERM', $pid;
	waitpid($pid, 0);
	die $err if $err;
	my $max = slurp($f);
	chomp $max;
	return (@r, $max + 0);
}

# A private copy of the PostgreSQL installation for the throwaway server:
# the postgres binary copied, the share directory linked, the library
# directory linked file by file except the extension libraries in
# @PINNED_LIBS, which are copied.  PostgreSQL finds $libdir and its share
# directory relative to its own executable, so this server (and its parallel
# workers, which load '$libdir/vector' by name) keeps using the libraries as
# they were when the run started: other work on the machine reinstalls
# engram while a long run goes on, and every new connection (each pgbench
# run) would otherwise load whatever is installed at that moment.
our @PINNED_LIBS = qw(engram vector);

sub private_install
{
	my ($self, $base) = @_;
	my %cfg;
	for my $k (qw(bindir pkglibdir sharedir)) {
		chomp($cfg{$k} = `$PG_BINDIR/pg_config --$k`);
		die "pg_config --$k failed\n" unless $cfg{$k};
	}
	my $root = "$base/pgroot-$self->{scenario}";
	remove_tree($root);
	my ($bin, $lib, $share) = map { "$root$cfg{$_}" } qw(bindir pkglibdir sharedir);
	make_path($bin, $lib, dirname($share));
	run_cmd('cp', '-p', "$cfg{bindir}/postgres", "$bin/postgres");
	symlink($cfg{sharedir}, $share) or die "symlink $share: $!";
	my %pin = map { ("$_.so" => 1) } @PINNED_LIBS;
	opendir my $dh, $cfg{pkglibdir} or die "$cfg{pkglibdir}: $!";
	for my $f (grep { !/^\.\.?$/ } readdir $dh) {
		if ($pin{$f}) {
			run_cmd('cp', '-p', "$cfg{pkglibdir}/$f", "$lib/$f");
			my $md5 = `md5sum '$lib/$f' | cut -c1-32`;
			chomp $md5;
			(my $name = $f) =~ s/\.so$//;
			$self->{info}{pinned_libraries}{$name} = { copy_of => "$cfg{pkglibdir}/$f", path => "$lib/$f", md5 => $md5,
				installed_mtime => strftime('%Y-%m-%dT%H:%M:%S', localtime((stat "$cfg{pkglibdir}/$f")[9])) };
			$self->log("pinned $cfg{pkglibdir}/$f ($md5)");
		} else {
			symlink("$cfg{pkglibdir}/$f", "$lib/$f") or die "symlink $lib/$f: $!";
		}
	}
	closedir $dh;
	run_cmd('chmod', '-R', 'a+rX', $root);
	$self->{info}{private_install} = $root;
	return "$bin/postgres";
}

# Which file a backend really loaded for a library (from /proc/self/maps)
sub loaded_library_path
{
	my ($self, $db, $name, $load_sql) = @_;
	my $out = $self->psql($db, "$load_sql;\nSELECT DISTINCT regexp_replace(l, '^.* ', '') FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\\n') l WHERE l LIKE '%/$name.so';", allow_fail => 1);
	return undef unless defined $out;
	my @l = split /\n/, $out;
	return $l[-1];
}

# md5 of an installed library (to tell whether it changed during the run)
sub installed_md5
{
	my ($name) = @_;
	my $libdir = `$PG_BINDIR/pg_config --pkglibdir`;
	chomp $libdir;
	my $m = `md5sum '$libdir/$name.so' 2>/dev/null | cut -c1-32`;
	chomp $m;
	return $m;
}

# EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON); returns the decoded top plan
sub explain
{
	my ($self, $db, $setup, $stmt, $opts) = @_;
	$opts //= 'ANALYZE, BUFFERS';
	my $out = $self->psql($db, "$setup\nEXPLAIN ($opts, FORMAT JSON) $stmt;\n");
	my $j = decode_json($out);
	return $j->[0];
}

# Walk a JSON plan: list of node types, and the first value of a key anywhere
sub plan_nodes
{
	my ($plan, $acc) = @_;
	$acc //= [];
	push @$acc, $plan->{'Node Type'} . ($plan->{'Index Name'} ? " ($plan->{'Index Name'})" : '');
	plan_nodes($_, $acc) for @{ $plan->{Plans} // [] };
	return $acc;
}

sub plan_sum
{
	my ($plan, $key) = @_;
	my $s = $plan->{$key} // 0;
	$s += plan_sum($_, $key) for @{ $plan->{Plans} // [] };
	return $s;
}

# pgbench: returns {tps, n, lat_us => [...], by_script => {no => [...]}, out}
sub pgbench
{
	my ($self, $db, %o) = @_;
	my $logdir = tempdir('pgb-XXXXXX', DIR => $self->{tmp}, CLEANUP => 1);
	my @cmd = ((defined $o{cpu} ? ('taskset', '-c', $o{cpu}) : ()), "$PG_BINDIR/pgbench", '-n', '-M', $o{mode} // 'prepared', '-T', $o{secs}, '-c', $o{clients},
		'-j', $o{threads} // $o{clients}, '--log', "--log-prefix=$logdir/pgb", $self->conn_args($db));
	push @cmd, map { ('-D', "$_=$o{vars}{$_}") } sort keys %{ $o{vars} // {} };
	push @cmd, '-r' if $o{per_statement};
	push @cmd, "--random-seed=$o{random_seed}" if defined $o{random_seed};
	push @cmd, map { ('-f', $_) } @{ $o{scripts} };
	my $pid = open(my $fh, '-|') // die "fork: $!";
	if (!$pid) {
		open STDERR, '>&', \*STDOUT;
		local $ENV{PGOPTIONS} = $o{pgoptions} // '';
		exec @cmd or die "exec pgbench: $!";
	}
	my $out;
	{ local $/; $out = <$fh> // ''; }
	close $fh;
	die "pgbench failed (@cmd):\n$out\n" if $? != 0;
	my ($tps) = $out =~ /^tps = ([0-9.]+) \(without initial connection time\)/m;
	die "pgbench: no tps in output:\n$out\n" unless defined $tps;
	my (@lat, %by);
	opendir my $dh, $logdir or die $!;
	for my $f (grep { /^pgb\./ } readdir $dh) {
		open my $lf, '<', "$logdir/$f" or die $!;
		while (<$lf>) {
			my @c = split;
			next unless @c >= 6;
			next if $c[2] eq 'skipped' || $c[2] eq 'failed';
			push @lat, $c[2];
			push @{ $by{ $c[3] } }, $c[2];
		}
		close $lf;
	}
	closedir $dh;
	my %stmt;
	if ($o{per_statement}) {
		# "  0.123  0  SELECT ..." lines under "statement latencies in milliseconds"
		while ($out =~ /^\s+([0-9.]+)\s+\d+\s+(.+)$/mg) { $stmt{$2} = $1 + 0; }
	}
	return { tps => $tps + 0, n => scalar(@lat), lat_us => \@lat, by_script => \%by, stmt_ms => \%stmt };
}

# ---- statistics ----------------------------------------------------------

sub median
{
	my @s = sort { $a <=> $b } grep { defined } @_;
	return undef unless @s;
	return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

sub pct
{
	my ($p, $vals) = @_;
	my @s = sort { $a <=> $b } @$vals;
	return undef unless @s;
	my $i = int($p / 100 * @s + 0.5) - 1;
	$i = 0 if $i < 0;
	$i = $#s if $i > $#s;
	return $s[$i];
}

sub mean { my $n = scalar(@_) or return undef; my $s = 0; $s += $_ for @_; return $s / $n; }

sub r3 { my ($v, $d) = @_; return undef unless defined $v; $d //= 3; return 0 + sprintf("%.${d}f", $v); }

# ---- results -------------------------------------------------------------

# One measurement: system, name, params (hash), unit, samples (list)
sub record
{
	my ($self, %m) = @_;
	my @s = @{ $m{samples} };
	my $r = {
		system => $m{system},
		measurement => $m{name},
		params => $m{params} // {},
		unit => $m{unit},
		samples => [ map { r3($_, 4) } @s ],
		median => r3(median(@s), 4),
	};
	$r->{extra} = $m{extra} if $m{extra};
	push @{ $self->{results} }, $r;
	return $r;
}

sub get
{
	my ($self, $system, $name, %params) = @_;
	R: for my $r (@{ $self->{results} }) {
		next unless $r->{system} eq $system && $r->{measurement} eq $name;
		for (keys %params) { next R unless defined $r->{params}{$_} && $r->{params}{$_} eq $params{$_}; }
		return $r->{median};
	}
	return undef;
}

sub machine_info
{
	my ($self) = @_;
	my $cpu = '?';
	if (open my $fh, '<', '/proc/cpuinfo') { while (<$fh>) { if (/^model name\s*:\s*(.+)$/) { $cpu = $1; last; } } }
	my $mem = '?';
	if (open my $fh, '<', '/proc/meminfo') { while (<$fh>) { if (/^MemTotal:\s+(\d+) kB/) { $mem = sprintf('%.1f GiB', $1 / 1048576); last; } } }
	chomp(my $cores = `nproc 2>/dev/null` // '?');
	chomp(my $kernel = `uname -r` // '?');
	chomp(my $os = `. /etc/os-release 2>/dev/null && echo \$PRETTY_NAME` // '?');
	chomp(my $flags = `grep -m1 -o -w -E 'avx2|avx512f|fma' /proc/cpuinfo | sort -u | tr '\n' ' '`);
	return { cpu_model => $cpu, cores => $cores + 0, ram => $mem, kernel => $kernel, os => $os, cpu_flags => $flags };
}

sub pg_info
{
	my ($self) = @_;
	my $v = $self->psql('postgres', 'SELECT version()');
	my @names = qw(shared_buffers work_mem maintenance_work_mem max_parallel_maintenance_workers
	  max_parallel_workers_per_gather max_parallel_workers max_worker_processes jit fsync
	  synchronous_commit full_page_writes autovacuum random_page_cost effective_cache_size
	  huge_pages wal_level);
	my $in = join(',', map { "'$_'" } @names);
	my %s = map { $_->[0] => $_->[1] . ($_->[2] ? $_->[2] : '') }
	  $self->psql_rows('postgres', "SELECT name, setting, unit FROM pg_settings WHERE name IN ($in)");
	# human-readable sizes
	for (qw(shared_buffers work_mem maintenance_work_mem effective_cache_size)) {
		$s{$_} = $self->psql('postgres', "SHOW $_");
	}
	return { version => $v, settings => \%s };
}

# /proc/loadavg's 1/5/15-minute averages: other work on the machine skews results
sub loadavg
{
	open my $fh, '<', '/proc/loadavg' or return undef;
	my @l = split ' ', <$fh>;
	return "@l[0..2]";
}

sub git_info
{
	my $c = `git -C '$ROOT' rev-parse --short HEAD 2>/dev/null` // '';
	chomp $c;
	my $dirty = `git -C '$ROOT' status --porcelain --untracked-files=no 2>/dev/null` // '';
	return $c ? $c . (length($dirty) ? '+dirty' : '') : 'unknown';
}

sub write_outputs
{
	my ($self, $md_body) = @_;
	my $resdir = $self->{opts}{results_dir} // "$BENCH/results";
	make_path($resdir);
	my $base = "$resdir/$self->{scenario}-$self->{stamp}";
	$self->{info}{runtime_s} = r3(time() - $self->{started}, 1);
	my $doc = {
		scenario => $self->{scenario},
		date => strftime('%Y-%m-%dT%H:%M:%S%z', localtime($self->{started})),
		command => $self->{command},
		options => $self->{opts},
		machine => $self->{machine},
		postgresql => $self->{pg},
		extensions => $self->{extensions},
		systems => $self->{systems},
		notes => $self->{notes},
		info => $self->{info},
		results => $self->{results},
	};
	spew("$base.json", JSON::PP->new->pretty->canonical->encode($doc));
	my $md = $self->md_header . $md_body;
	$md .= "\nTotal runtime: $self->{info}{runtime_s} s.  Raw samples: `" . basename("$base.json") . "`.\n";
	spew("$base.md", $md);
	$self->{out_base} = $base;
	return ($base, $md);
}

sub md_header
{
	my ($self) = @_;
	my $m = $self->{machine};
	my $pg = $self->{pg};
	my $s = $pg->{settings};
	my $h = "# engram benchmark: $self->{scenario} ($self->{stamp})\n\n";
	$h .= "- command: `$self->{command}`\n";
	$h .= "- machine: $m->{cpu_model}, $m->{cores} cores, $m->{ram} RAM, kernel $m->{kernel}\n";
	my ($pgv) = $pg->{version} =~ /^(PostgreSQL \S+)/;
	$h .= "- $pgv; shared_buffers=$s->{shared_buffers}, work_mem=$s->{work_mem}, maintenance_work_mem=$s->{maintenance_work_mem}, jit=$s->{jit}, fsync=$s->{fsync}\n";
	my $e = $self->{extensions};
	$h .= "- extensions: " . join(', ', map { "$_ " . ($e->{$_} // 'n/a') } sort keys %$e) . "\n";
	for my $sys (sort keys %{ $self->{systems} }) {
		my $st = $self->{systems}{$sys};
		$h .= "- $sys: " . ($st->{available} ? 'measured' : "not available ($st->{reason})") . "\n";
	}
	my $pin = $self->{info}{pinned_libraries} // {};
	$h .= "- libraries copied at the start and used for the whole run: " . join(', ', map { "$_.so md5 $pin->{$_}{md5} (installed $pin->{$_}{installed_mtime})" } sort keys %$pin)
	  . "; engram working tree $self->{info}{engram_git}\n" if %$pin;
	$h .= "- load average (1/5/15 min) at start: $self->{info}{loadavg_start}, at end: " . ($self->{info}{loadavg_end} // '?') . " (2 cores: anything above ~0.3 at start means other work was running)\n";
	$h .= "- note: $_\n" for @{ $self->{notes} };
	return "$h\n";
}

# Markdown table from a header list and rows of cells
sub md_table
{
	my ($head, @rows) = @_;
	my $t = '| ' . join(' | ', @$head) . " |\n";
	$t .= '|' . join('|', map { '---' } @$head) . "|\n";
	for my $r (@rows) {
		$t .= '| ' . join(' | ', map { defined $_ ? $_ : '–' } @$r) . " |\n";
	}
	return $t;
}

sub fmt
{
	my ($v, $d) = @_;
	return undef unless defined $v;
	$d //= 1;
	return sprintf("%.${d}f", $v);
}

sub ratio
{
	my ($a, $b, $d) = @_;
	return undef unless defined $a && defined $b && $b != 0;
	return sprintf('%.' . ($d // 2) . 'f', $a / $b);
}

# ---- engram build and extension availability -----------------------------

sub build_engram
{
	my ($self) = @_;
	if ($self->{opts}{no_build}) {
		$self->note('engram not rebuilt (--no-build): using the installed library');
		return;
	}
	$self->log('building and installing engram from the working tree');
	my $rc = system('bash', '-c', "source '$ROOT/scripts/common.sh' && build_and_install >'$self->{tmp}/build.log' 2>&1");
	if ($rc != 0) {
		my ($first) = grep { /error/i } split /\n/, slurp("$self->{tmp}/build.log");
		$first //= 'see make output';
		$first =~ s/^\s+//;
		$self->note("engram build from the working tree failed ($first); using the installed library");
	}
}

# Create a database with an extension; returns (ok, version or error text)
sub create_db_with
{
	my ($self, $db, $ext) = @_;
	$self->psql('postgres', "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;");
	my $conn = join ' ', map { "'$_'" } $self->conn_args($db);
	my $err = `$PG_BINDIR/psql -X -q -At -v ON_ERROR_STOP=1 $conn -c 'CREATE EXTENSION $ext' 2>&1`;
	if ($? != 0) {
		chomp $err;
		return (0, $err);
	}
	return (1, $self->psql($db, "SELECT extversion FROM pg_extension WHERE extname = '$ext'"));
}

sub has_am
{
	my ($self, $db, $am) = @_;
	return $self->psql($db, "SELECT count(*) FROM pg_am WHERE amname = '$am'") eq '1';
}

# ---- plot ----------------------------------------------------------------

# series: [ { title, points => [[x, y], ...] } ]
sub plot
{
	my ($self, $file, %o) = @_;
	if (system('command -v gnuplot >/dev/null 2>&1') != 0) {
		if ($> == 0 && !$self->{opts}{no_install}) {
			$self->log('installing gnuplot-nox');
			system('apt-get install -y -qq gnuplot-nox >/dev/null 2>&1');
		}
		if (system('command -v gnuplot >/dev/null 2>&1') != 0) {
			$self->note('gnuplot not available: no plot');
			return;
		}
	}
	my @plots;
	my $i = 0;
	for my $s (@{ $o{series} }) {
		next unless @{ $s->{points} };
		$i++;
		my $dat = "$self->{tmp}/plot$i.dat";
		my @pts = grep { defined $_->[0] && defined $_->[1] } @{ $s->{points} };
		next unless @pts;
		spew($dat, join('', map { "$_->[0] $_->[1] " . ($_->[2] // '') . "\n" } @pts));
		my $style = @pts > 1 ? 'linespoints' : 'points';
		push @plots, "'$dat' using 1:2 with $style lw 2 pt 7 ps 1.2 lc $i title '$s->{title}'";
		# labels above the points of odd series, below those of even ones: two
		# curves with points at the same ef_search do not print over each other
		my $off = $i % 2 ? '0,0.9' : '0,-0.9';
		push @plots, "'$dat' using 1:2:3 with labels offset $off font ',9' tc lt $i notitle" if grep { defined $_->[2] } @pts;
	}
	return unless @plots;
	my $gp = <<"GP";
set terminal pngcairo size 900,600 noenhanced font 'sans,11'
set output '$file'
set title '$o{title}'
set xlabel '$o{xlabel}'
set ylabel '$o{ylabel}'
set logscale y
set grid xtics ytics mytics
set key $o{key} Left reverse box opaque
set xrange [$o{xrange}]
plot @{[ join(", \\\n     ", @plots) ]}
GP
	my $gpf = "$self->{tmp}/plot.gp";
	spew($gpf, $gp);
	if (system('gnuplot', $gpf) != 0) {
		# pngcairo is absent from some builds: fall back to the gd png terminal
		$gp =~ s/pngcairo size 900,600 noenhanced font 'sans,11'/png size 900,600/;
		spew($gpf, $gp);
		system('gnuplot', $gpf) == 0 or $self->note('gnuplot failed: no plot');
	}
	return $file;
}

1;
