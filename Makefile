# pgsluice - stream a PostgreSQL dump from a socket into a target database.
#
#   make            build ./pgsluice (and build/libsqlrewrite.a); installs nothing
#   make deps       install the Debian packages the build needs (root), or say
#                   which (scripts/deps.sh build); demo, test and fuzz install
#                   their own (demo-deps, test-deps, fuzz-deps)
#   make test       unit tests under ASan+UBSan, then integration tests
#                   against throwaway PostgreSQL clusters
#   make test-long  the same with the long fault-injection and soak variants
#   make fuzz       build and run the libFuzzer targets: the lexer and the
#                   PostgreSQL protocol's startup/authentication parser for
#                   FUZZ_SECONDS each, the gzip/zstd/lz4 decoder for a third of that
#   make bench      benchmarks (lexer throughput, import against psql)
#   make demo       a scratch cluster, a sample database, pg_dump | nc into pgsluice
#   make test-fresh README's quick start in a new debootstrap Debian 12 root, as CI
#                   runs it (scripts/test-fresh.sh; root, network to the mirror)
#   make format-check  clang-format --dry-run -Werror over every .c and .h
#   make install    PREFIX=/usr/local DESTDIR= (binary, man pages, README and
#                   deployment examples under share/doc/pgsluice)
#
# `make demo`, `make test` and `make fuzz` install the missing Debian packages
# they need when run as root (scripts/deps.sh), or say what to install; a
# plain `make` only says so.  On a machine without make: sh
# scripts/bootstrap.sh demo|test.
#
# Flags by folder: sqlrewrite/ is compiled with no include path and no
# library flags (libc only), and the build checks that its objects need
# nothing outside libc (build/sqlrewrite.libc-only) and that its unit tests
# link with libsqlrewrite.a alone.  proxy/ gets the pkg-config flags of
# PKGS.  Every object has its -MMD dependency file beside it.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
CLANG_FORMAT ?= clang-format
FUZZ_SECONDS ?= 60

PKGS := libevent libevent_openssl libpq libisal libzstd liblz4 openssl jansson
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
STD := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS ?= -O2 -g
DEPFLAGS = -MMD -MP
# sqlrewrite/: libc only
SQLREWRITE_CFLAGS = $(STD) $(WARN) $(CFLAGS)
# proxy/ and the tools: the libraries' flags come from pkg-config at build time
PROXY_CFLAGS = $(STD) $(WARN) $(CFLAGS) -Isqlrewrite -Iproxy
PKG_CFLAGS = $$($(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $$($(PKG_CONFIG) --libs $(PKGS))
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SQLREWRITE_SRC := $(sort $(wildcard sqlrewrite/*.c))
PROXY_SRC := $(sort $(wildcard proxy/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
# the unit tests of sqlrewrite: compiled and linked like it, libc only
SQLREWRITE_TESTS := test_lexer test_rules test_sqltok

SQLREWRITE_OBJ := $(SQLREWRITE_SRC:%.c=build/%.o)
PROXY_OBJ := $(PROXY_SRC:%.c=build/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=build/tools/%)
ASAN_SQLREWRITE_OBJ := $(SQLREWRITE_OBJ:build/%=build/asan/%)
ASAN_PROXY_OBJ := $(PROXY_OBJ:build/%=build/asan/%)

# keep the sanitizer objects between runs
.SECONDARY:

.PHONY: all deps demo-deps test-deps fuzz-deps format-deps check-deps test test-long \
	test-fresh unit integration fuzz bench stress demo install clean format-check

all: check-deps pgsluice build/sqlrewrite.libc-only

# a plain build installs nothing: it says what is missing (scripts/deps.sh
# as a non-root user would), and `make deps` installs it
check-deps:
	@$(PKG_CONFIG) --exists $(PKGS) 2>/dev/null || { \
		echo "pgsluice: the build needs the development packages of: $(PKGS)" >&2; \
		echo "pgsluice: run \`make deps\` as root to install them (scripts/deps.sh build)" >&2; \
		exit 1; }

deps:
	@scripts/deps.sh build

demo-deps:
	@scripts/deps.sh demo

test-deps:
	@scripts/deps.sh test

fuzz-deps:
	@scripts/deps.sh fuzz

format-deps:
	@scripts/deps.sh format

build/sqlrewrite/%.o: sqlrewrite/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SQLREWRITE_CFLAGS) $(DEPFLAGS) -c $< -o $@

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) $(PKG_CFLAGS) $(DEPFLAGS) -c $< -o $@

build/libsqlrewrite.a: $(SQLREWRITE_OBJ)
	$(AR) rcs $@ $^

# Every symbol sqlrewrite's objects need from outside themselves is one
# that libc defines: no libevent, no OpenSSL, no libpq, no libm.
build/sqlrewrite.libc-only: $(SQLREWRITE_OBJ)
	@libc=$$($(CC) -print-file-name=libc.so.6); \
	[ -f "$$libc" ] || { echo "sqlrewrite libc check: libc.so.6 not found ($$libc)" >&2; exit 1; }; \
	nm --defined-only --format=posix $(SQLREWRITE_OBJ) | awk 'NF >= 2 && $$2 != "U" { print $$1 }' | sort -u >$@.own; \
	nm -D --defined-only --format=posix "$$libc" | awk '{ sub(/@.*/, "", $$1); print $$1 }' | sort -u >$@.libc; \
	nm -u --format=posix $(SQLREWRITE_OBJ) | awk 'NF >= 2 { print $$1 }' | sort -u | \
		comm -23 - $@.own | comm -23 - $@.libc >$@.outside; \
	if [ -s $@.outside ]; then \
		echo "sqlrewrite/ must depend on libc alone; its objects need:" >&2; \
		sed 's/^/  /' $@.outside >&2; rm -f $@.own $@.libc; exit 1; \
	fi; \
	rm -f $@.own $@.libc $@.outside; touch $@

pgsluice: $(PROXY_OBJ) build/libsqlrewrite.a
	$(CC) $(CFLAGS) -o $@ $(PROXY_OBJ) build/libsqlrewrite.a $(PKG_LIBS)

# Unit tests: the sources compiled again with the sanitizers, by folder as
# above.  A test links its own object with the archives, so it takes only
# the modules it calls (and libsqlrewrite's tests nothing but libc).
build/asan/sqlrewrite/%.o: sqlrewrite/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SQLREWRITE_CFLAGS) $(SAN) $(DEPFLAGS) -c $< -o $@

$(SQLREWRITE_TESTS:%=build/asan/tests/unit/%.o): build/asan/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SQLREWRITE_CFLAGS) $(SAN) -Isqlrewrite -Itests/unit $(DEPFLAGS) -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) $(SAN) -Itests/unit $(PKG_CFLAGS) $(DEPFLAGS) -c $< -o $@

build/asan/libsqlrewrite.a: $(ASAN_SQLREWRITE_OBJ)
	$(AR) rcs $@ $^

# every proxy module but main.c
build/asan/libproxy.a: $(filter-out build/asan/proxy/main.o,$(ASAN_PROXY_OBJ))
	$(AR) rcs $@ $^

$(SQLREWRITE_TESTS:%=build/asan/%): build/asan/%: build/asan/tests/unit/%.o build/asan/libsqlrewrite.a
	$(CC) $(SAN) -o $@ $^

build/asan/test_%: build/asan/tests/unit/test_%.o build/asan/libproxy.a build/asan/libsqlrewrite.a
	$(CC) $(SAN) -Wl,--as-needed -o $@ $^ $(PKG_LIBS)

# The daemon under ASan+UBSan (LeakSanitizer on), for the soak test's short
# run (tests/integration/fault_soak.sh).
build/asan-pgsluice: $(ASAN_PROXY_OBJ) $(ASAN_SQLREWRITE_OBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

# Small helper programs the integration tests run (tests/tools/*.c).
build/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) -MMD -MP -MF $@.d -o $@ $<

# lexdiff needs the lexer and libpq; it runs the lexer under ASan+UBSan, as
# the unit tests do, over the large real corpora the tests feed it
build/tools/lexdiff: tests/tools/lexdiff.c build/asan/libsqlrewrite.a
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) $(SAN) $$($(PKG_CONFIG) --cflags libpq) -MMD -MP -MF $@.d -o $@ $< \
		build/asan/libsqlrewrite.a $$($(PKG_CONFIG) --libs libpq)

unit: deps $(UNIT_BIN)

test: test-deps all $(UNIT_BIN) $(TOOL_BIN) build/asan-pgsluice
	@tests/run.sh

# the same, with the long variants of the fault and soak scenarios
test-long: test-deps all $(UNIT_BIN) $(TOOL_BIN) build/asan-pgsluice
	@PGSLUICE_TEST_LONG=1 tests/run.sh

# the jobs_ and serve_ scenarios STRESS_RUNS times in a row, one core kept busy
STRESS_RUNS ?= 20
stress: test-deps all $(UNIT_BIN) $(TOOL_BIN) build/asan-pgsluice
	@tests/stress.sh $(STRESS_RUNS)

build/fuzz_lexer: tests/fuzz/fuzz_lexer.c $(SQLREWRITE_SRC) $(wildcard sqlrewrite/*.h tests/unit/*.h)
	@mkdir -p build
	clang $(STD) $(WARN) -g -O1 -Isqlrewrite -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ tests/fuzz/fuzz_lexer.c $(SQLREWRITE_SRC)

build/fuzz_decoder: tests/fuzz/fuzz_decoder.c proxy/decoder.c proxy/decoder.h
	@mkdir -p build
	clang $(STD) $(WARN) -g -O1 -Iproxy $$($(PKG_CONFIG) --cflags libisal libzstd liblz4) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		tests/fuzz/fuzz_decoder.c proxy/decoder.c $$($(PKG_CONFIG) --libs libisal libzstd liblz4)

# pgwire's parser (every proxy/pgwire*.c) with what it calls: scram, log,
# and the lexer and sqltok
FUZZ_PGWIRE_SRC := tests/fuzz/fuzz_pgwire.c $(sort $(wildcard proxy/pgwire*.c)) proxy/scram.c proxy/log.c proxy/text.c $(SQLREWRITE_SRC)
# (several sources in one clang run: the headers as prerequisites, not -MMD)
build/fuzz_pgwire: $(FUZZ_PGWIRE_SRC) $(wildcard sqlrewrite/*.h proxy/*.h tests/unit/*.h)
	@mkdir -p build
	clang $(STD) $(WARN) -g -O1 -Iproxy -Isqlrewrite $$($(PKG_CONFIG) --cflags libevent libpq openssl jansson) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		$(FUZZ_PGWIRE_SRC) $$($(PKG_CONFIG) --libs libevent libpq openssl jansson)

# test_pgwire without the sanitizers, to write the pgwire target's seeds
# (every input of its case table) without the ASan build of every module
build/fuzz_pgwire_seeds: tests/unit/test_pgwire.c $(filter-out tests/fuzz/%,$(FUZZ_PGWIRE_SRC)) \
		$(wildcard sqlrewrite/*.h proxy/*.h tests/unit/*.h)
	@mkdir -p build
	$(CC) $(PROXY_CFLAGS) -Itests/unit $$($(PKG_CONFIG) --cflags libevent libpq openssl jansson) -o $@ \
		tests/unit/test_pgwire.c $(filter-out tests/fuzz/%,$(FUZZ_PGWIRE_SRC)) \
		$$($(PKG_CONFIG) --libs libevent libpq openssl jansson)

fuzz: fuzz-deps build/fuzz_lexer build/fuzz_decoder build/fuzz_pgwire build/fuzz_pgwire_seeds
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

build/lexer_bench: tests/bench/lexer_bench.c build/libsqlrewrite.a
	$(CC) $(SQLREWRITE_CFLAGS) -Isqlrewrite -MMD -MP -MF $@.d -o $@ $< build/libsqlrewrite.a

bench: test-deps all $(TOOL_BIN) build/lexer_bench
	@tests/bench/run.sh

demo: demo-deps all
	@scripts/demo.sh

test-fresh:
	@scripts/test-fresh.sh

MAN_PAGES := $(sort $(wildcard man/*.1))
DOC_DIR = $(DESTDIR)$(PREFIX)/share/doc/pgsluice

# the binary, the manual pages (man/*.1, mdoc), and under share/doc/pgsluice
# the README (the systemd unit's Documentation=) and the deployment examples
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 pgsluice $(DESTDIR)$(PREFIX)/bin/pgsluice
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DOC_DIR)/deploy/systemd $(DOC_DIR)/deploy/k8s
	install -m 644 README.md $(DOC_DIR)/README.md
	install -m 644 deploy/systemd/* $(DOC_DIR)/deploy/systemd/
	install -m 644 deploy/k8s/* $(DOC_DIR)/deploy/k8s/

# every C file of the project, against .clang-format
FORMAT_SRC = $(sort $(wildcard sqlrewrite/*.[ch] proxy/*.[ch] tests/*/*.[ch]))

format-check: format-deps
	@mkdir -p build; $(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRC) 2>build/format.log || { \
		n=$$(grep -c ': error: code should be clang-formatted' build/format.log); \
		f=$$(grep ': error: code should be clang-formatted' build/format.log | cut -d: -f1 | sort -u | wc -l); \
		head -40 build/format.log; \
		echo "format-check: $$n places in $$f files differ from .clang-format (all: build/format.log)"; \
		exit 1; }; \
	rm -f build/format.log; \
	echo "format-check: $(words $(FORMAT_SRC)) files match .clang-format"

clean:
	rm -rf build pgsluice

# the -MMD dependency files of whatever was built before
-include $(wildcard $(patsubst %.o,%.d,$(SQLREWRITE_OBJ) $(PROXY_OBJ) $(ASAN_SQLREWRITE_OBJ) \
	$(ASAN_PROXY_OBJ) $(UNIT_SRC:%.c=build/asan/%.o)) $(TOOL_BIN:%=%.d) build/lexer_bench.d)
