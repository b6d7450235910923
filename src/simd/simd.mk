# src/simd/simd.mk: stand-alone builds of the SIMD kernels (no server).
# Included by the main Makefile after PGXS.
#
#   make simd-test     build src/simd/test/simd_test
#   make simd-check    build and run it (TAP on stdout)
#   make simd-bench    build and run bench/simd/simd_bench
#
# No -march: the kernels enable their instruction sets per function and the
# programs must run, like the extension, on any CPU of the architecture.

SIMD_DIR = src/simd
SIMD_SRCS = $(SIMD_DIR)/dispatch.c $(SIMD_DIR)/kernels_scalar.c \
	$(SIMD_DIR)/kernels_avx2.c $(SIMD_DIR)/kernels_avx512.c \
	$(SIMD_DIR)/kernels_neon.c
SIMD_DEPS = $(SIMD_SRCS) $(wildcard $(SIMD_DIR)/*.h)
SIMD_CFLAGS = -O2 -Wall -Wextra -Werror -I $(SIMD_DIR)

# The flags pgvector builds its scalar loops with: auto-vectorized SSE
SIMD_AUTOVEC_CFLAGS = -DENGRAM_SCALAR_AUTOVEC -ftree-vectorize \
	-fassociative-math -fno-signed-zeros -fno-trapping-math

.PHONY: simd-test simd-check simd-bench

simd-test: $(SIMD_DIR)/test/simd_test

$(SIMD_DIR)/test/simd_test: $(SIMD_DIR)/test/simd_test.c $(SIMD_DEPS)
	$(CC) $(SIMD_CFLAGS) -o $@ $< $(SIMD_SRCS) -lm

simd-check: simd-test
	$(SIMD_DIR)/test/simd_test

# The TAP wrapper t/001_simd_kernels.pl runs the binary
installcheck: simd-test

bench/simd/simd_bench: bench/simd/simd_bench.c $(SIMD_DEPS)
	$(CC) $(SIMD_CFLAGS) -o $@ $< $(SIMD_SRCS) -lm

# Same program, with kernels_scalar.c built the way pgvector builds its code
bench/simd/simd_bench_autovec: bench/simd/simd_bench.c $(SIMD_DEPS)
	$(CC) $(SIMD_CFLAGS) -c -o bench/simd/kernels_scalar_autovec.o \
		$(SIMD_AUTOVEC_CFLAGS) $(SIMD_DIR)/kernels_scalar.c
	$(CC) $(SIMD_CFLAGS) -o $@ $< bench/simd/kernels_scalar_autovec.o \
		$(filter-out %/kernels_scalar.c,$(SIMD_SRCS)) -lm

simd-bench: bench/simd/simd_bench bench/simd/simd_bench_autovec
	bench/simd/simd_bench
	bench/simd/simd_bench_autovec --label scalar-autovec scalar

# Not EXTRA_CLEAN: PGXS tests "ifdef EXTRA_CLEAN" while being read, before
# this fragment is included, so an addition here would be ignored.
.PHONY: clean-simd
clean: clean-simd
clean-simd:
	rm -f $(SIMD_DIR)/test/simd_test bench/simd/simd_bench \
		bench/simd/simd_bench_autovec bench/simd/kernels_scalar_autovec.o
