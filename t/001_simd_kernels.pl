# t/001_simd_kernels.pl
#
# Runs the stand-alone SIMD kernel tests (src/simd/test/simd_test, built by
# "make simd-test", which installcheck depends on) and reports each of its
# TAP lines as a test of its own, so that every (variant, kernel) pair
# counts in prove's totals.  A missing binary is a failure, not a skip.

use strict;
use warnings;
use Test::More;

my $bin = 'src/simd/test/simd_test';

if (!-x $bin)
{
	fail("$bin exists (build it with make simd-test)");
	done_testing();
	exit;
}

open(my $out, '-|', $bin) or die "could not run $bin: $!";

my $planned;
my $seen = 0;
while (my $line = <$out>)
{
	chomp $line;
	if ($line =~ /^1\.\.(\d+)$/)
	{
		$planned = $1;
	}
	elsif ($line =~ /^ok \d+ # SKIP (.*)$/)
	{
		$seen++;
	  SKIP:
		{
			skip($1, 1);
		}
	}
	elsif ($line =~ /^(not )?ok \d+ - (.*)$/)
	{
		$seen++;
		ok(!defined $1, $2);
	}
	elsif ($line =~ /^#/)
	{
		diag($line =~ s/^#\s?//r);
	}
}
close($out);
my $status = $?;

ok(defined $planned && $seen == $planned,
	'simd_test ran all of its ' . ($planned // '?') . ' tests');
is($status, 0, 'simd_test exit status');

done_testing();
