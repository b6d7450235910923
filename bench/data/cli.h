/*
 * cli.h: strict option-value parsing and output checks for the generators.
 * Any malformed value is fatal: a benchmark run on silently wrong data is
 * worse than none.
 */
#ifndef BENCH_DATA_CLI_H
#define BENCH_DATA_CLI_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *progname;

static void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t
parse_u64(const char *opt, const char *s)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		die("%s: not an unsigned integer: %s", opt, s);
	return (uint64_t) v;
}

static double
parse_double(const char *opt, const char *s)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v != v)
		die("%s: not a number: %s", opt, s);
	return v;
}

/* The value after option argv[*i], advancing *i past it. */
static const char *
option_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		die("%s needs a value", argv[*i]);
	return argv[++*i];
}

/* Flush stdout and fail loudly on a write error (disk full, closed pipe). */
static void
finish_output(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write error on standard output");
}

#endif
