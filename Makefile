# pgsluice - stream a PostgreSQL dump from a socket into a target database.
#
#   make            build ./pgsluice (and build/libsqlrewrite.a)
#   make test       unit tests under ASan+UBSan, then integration tests
#                   against throwaway PostgreSQL clusters
#   make test-long  the same with the long fault-injection and soak variants
#   make fuzz       build and run the libFuzzer targets: the lexer for FUZZ_SECONDS,
#                   the gzip/zstd/lz4 decoder for a third of that
#   make bench      benchmarks (lexer throughput, import against psql)
#   make demo       a scratch cluster, a sample database, pg_dump | nc into pgsluice
#   make test-fresh README's quick start in a new debootstrap Debian 12 root, as CI
#                   runs it (scripts/test-fresh.sh; root, network to the mirror)
#   make install    PREFIX=/usr/local DESTDIR= (binary, man pages, README and
#                   deployment examples under share/doc/pgsluice)
#
# `make`, `make demo` and `make test` install the missing Debian packages they
# need when run as root (scripts/deps.sh), or say what to install.  On a
# machine without make: sh scripts/bootstrap.sh demo|test.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 60

PKGS := libevent libevent_openssl libpq libisal libzstd liblz4 openssl jansson
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
STD := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) -Isqlrewrite -Iproxy
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SQLREWRITE_SRC := $(sort $(wildcard sqlrewrite/*.c))
PROXY_SRC := $(sort $(wildcard proxy/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

SQLREWRITE_OBJ := $(SQLREWRITE_SRC:%.c=build/%.o)
PROXY_OBJ := $(PROXY_SRC:%.c=build/%.o)
# proxy objects without main(), for unit tests of proxy modules
PROXY_LIB_OBJ := $(filter-out build/proxy/main.o,$(PROXY_OBJ))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=build/tools/%)

# keep the sanitizer objects between runs
.SECONDARY:

.PHONY: all deps demo-deps test-deps fuzz-deps test test-long test-fresh unit integration fuzz bench demo install clean

all: deps pgsluice

deps:
	@scripts/deps.sh build

demo-deps:
	@scripts/deps.sh demo

test-deps:
	@scripts/deps.sh test

fuzz-deps:
	@scripts/deps.sh fuzz

build/%.o: %.c $(wildcard sqlrewrite/*.h proxy/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $$($(PKG_CONFIG) --cflags $(PKGS)) -c $< -o $@

build/libsqlrewrite.a: $(SQLREWRITE_OBJ)
	$(AR) rcs $@ $^

pgsluice: $(PROXY_OBJ) build/libsqlrewrite.a
	$(CC) $(CFLAGS) -o $@ $(PROXY_OBJ) build/libsqlrewrite.a $$($(PKG_CONFIG) --libs $(PKGS))

# Unit tests: every source compiled again with the sanitizers.
build/asan/%.o: %.c $(wildcard sqlrewrite/*.h proxy/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -Itests/unit $$($(PKG_CONFIG) --cflags $(PKGS)) -c $< -o $@

build/asan/test_%: build/asan/tests/unit/test_%.o $(SQLREWRITE_OBJ:build/%=build/asan/%) $(PROXY_LIB_OBJ:build/%=build/asan/%)
	$(CC) $(SAN) -o $@ $^ $$($(PKG_CONFIG) --libs $(PKGS))

# The daemon under ASan+UBSan (LeakSanitizer on), for the soak test's short
# run (tests/integration/fault_soak.sh).
build/asan-pgsluice: $(PROXY_OBJ:build/%=build/asan/%) $(SQLREWRITE_OBJ:build/%=build/asan/%)
	$(CC) $(SAN) -o $@ $^ $$($(PKG_CONFIG) --libs $(PKGS))

# Small helper programs the integration tests run (tests/tools/*.c).
build/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<

# lexdiff needs the lexer and libpq
build/tools/lexdiff: tests/tools/lexdiff.c build/libsqlrewrite.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $$($(PKG_CONFIG) --cflags libpq) -o $@ $< build/libsqlrewrite.a $$($(PKG_CONFIG) --libs libpq)

unit: deps $(UNIT_BIN)

test: all test-deps $(UNIT_BIN) $(TOOL_BIN) build/asan-pgsluice
	@tests/run.sh

# the same, with the long variants of the fault and soak scenarios
test-long: all test-deps $(UNIT_BIN) $(TOOL_BIN) build/asan-pgsluice
	@PGSLUICE_TEST_LONG=1 tests/run.sh

build/fuzz_lexer: tests/fuzz/fuzz_lexer.c $(SQLREWRITE_SRC) $(wildcard sqlrewrite/*.h)
	@mkdir -p build
	clang $(STD) $(WARN) -g -O1 -Isqlrewrite -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ tests/fuzz/fuzz_lexer.c $(SQLREWRITE_SRC)

build/fuzz_decoder: tests/fuzz/fuzz_decoder.c proxy/decoder.c proxy/decoder.h
	@mkdir -p build
	clang $(STD) $(WARN) -g -O1 -Iproxy $$($(PKG_CONFIG) --cflags libisal libzstd liblz4) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		tests/fuzz/fuzz_decoder.c proxy/decoder.c $$($(PKG_CONFIG) --libs libisal libzstd liblz4)

fuzz: fuzz-deps build/fuzz_lexer build/fuzz_decoder
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

build/lexer_bench: tests/bench/lexer_bench.c build/libsqlrewrite.a
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libsqlrewrite.a

bench: all test-deps $(TOOL_BIN) build/lexer_bench
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

clean:
	rm -rf build pgsluice
