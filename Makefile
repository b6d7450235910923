# engram: PGXS build
#
#   make && make install        build and install into $(pg_config --pkglibdir)
#   make installcheck           pg_regress (sql_tests/ + expected/) and TAP (t/)
#                               against a running server (PGHOST, PGPORT, ...)
#   make simd-check             stand-alone SIMD kernel tests (no server)
#   make bench-quick / bench    benchmarks against pgvector and btree (bench/)

EXTENSION = engram
MODULE_big = engram
DATA = $(wildcard sql/engram--*.sql)

SRCS = $(wildcard src/*.c src/types/*.c src/simd/*.c src/am/*/*.c src/memory/*.c)
OBJS = $(SRCS:.c=.o)

PG_CONFIG ?= pg_config

# Portable by default: faster paths are chosen at run time (src/simd/).
# PostgreSQL's own headers are not -Wextra clean (sign-compare in macros such
# as ARR_DATA_PTR); reading them as system headers keeps -Wextra -Werror
# aimed at engram's code.
PG_CPPFLAGS += -I$(srcdir)/src -I$(srcdir)/src/simd -isystem $(includedir_server)
# -Wextra minus unused-parameter: access method and fmgr callbacks have
# signatures fixed by PostgreSQL, and most use only some of their arguments.
PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter
ifdef WERROR
PG_CFLAGS += -Werror
endif

# Export only what PostgreSQL looks up (src/exports.map): engram must load
# into one backend with pgvector, whose internal names overlap engram's.
SHLIB_LINK += -Wl,--version-script=$(srcdir)/src/exports.map

# pg_regress on PostgreSQL 15 reads <inputdir>/sql and <inputdir>/expected and
# has no --expecteddir, while sql/ here holds the install scripts.  Give it a
# directory of its own whose sql/ and expected/ point at sql_tests/ and
# expected/.
REGRESS = $(patsubst sql_tests/%.sql,%,$(sort $(wildcard sql_tests/*.sql)))
REGRESS_DIR = build/regress
REGRESS_OPTS = --inputdir=$(REGRESS_DIR) --outputdir=$(REGRESS_DIR) --load-extension=engram
REGRESS_PREP = regress-dir

TAP_TESTS = 1

# No LLVM bitcode for JIT inlining: it would need clang at build time and
# the distance functions gain nothing from being inlined into JIT code.
override with_llvm = no

# Rebuild objects when a header they include changes (PGXS leaves this off
# unless PostgreSQL itself was configured with --enable-depend); stale
# objects compiled against an older struct layout corrupt memory.
override autodepend = yes

# io_uring read-ahead (src/readahead.c) when liburing is installed
# (liburing-dev); without it the read-ahead uses posix_fadvise only.
HAVE_LIBURING := $(shell printf '\043include <liburing.h>\nint main(void) { return io_uring_queue_init(1, 0, 0); }\n' | \
	$(CC) -x c - -o /dev/null -luring >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_LIBURING),yes)
PG_CPPFLAGS += -DHAVE_LIBURING
SHLIB_LINK += -luring
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: regress-dir
regress-dir:
	@mkdir -p $(REGRESS_DIR)
	@ln -sfn $(abspath sql_tests) $(REGRESS_DIR)/sql
	@ln -sfn $(abspath expected) $(REGRESS_DIR)/expected

$(shlib): src/exports.map

-include src/simd/simd.mk
-include bench/bench.mk

clean: clean-engram
.PHONY: clean-engram
clean-engram:
	rm -rf build
