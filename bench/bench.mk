# bench/bench.mk: benchmark targets, included by the top-level Makefile.
# Benchmarks are not tests: they never fail on a number.  See bench/README.md.
#
#   make bench-quick   bench/run glove-quick (50K GloVe rows, < 5 minutes)
#   make bench         bench/run glove        (all 340K GloVe rows)
#   BENCH_OPTS='--no-build --reps 5' make bench   extra bench/run options

.PHONY: bench bench-quick

bench:
	$(CURDIR)/bench/run glove $(BENCH_OPTS)

bench-quick:
	$(CURDIR)/bench/run glove-quick $(BENCH_OPTS)
