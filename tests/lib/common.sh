# common.sh - sourced by every integration scenario (tests/integration/*.sh).
#
# Gives: $ROOT (the repository), $T (a private temp folder, removed at exit),
# $PGSLUICE (the binary), ok/not_ok/skip/check helpers that print the lines
# tests/run.sh counts, and throwaway PostgreSQL clusters:
#
#	pg_start NAME [postgresql.conf line]...   # sets PORT_NAME, started as postgres
#	psql_as NAME DB [psql args...]            # superuser psql, ON_ERROR_STOP
#	pg_stop NAME                              # also done for all at exit
#
# Clusters listen on a free loopback port with trust authentication for
# local TCP, their data under $T, and are stopped (-m immediate) on exit,
# also when the scenario fails.
#
# Fixtures: $FIXTURES/synapse holds the project's own Synapse-shaped dumps,
# built by need_fixtures from tests/fixtures/ (see synapse_fixture below);
# $SHARED_FIXTURES/synapse (PGSLUICE_SHARED_FIXTURES, default
# ../shared/fixtures) is an extra corpus that tests add when it is there
# (fixture_corpora).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGSLUICE=$ROOT/pgsluice
FIXTURES=$ROOT/build/fixtures
SHARED_FIXTURES=${PGSLUICE_SHARED_FIXTURES:-$ROOT/../shared/fixtures}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$PGBIN:$PATH"
T=$(mktemp -d /tmp/pgsluice-test.XXXXXX)
chmod 755 "$T"
# PGSLUICE_ASAN=1 (the NAME@asan runs of tests/run.sh): pgsluice is the
# build under ASan+UBSan+LSan (build/asan-pgsluice); every process of it
# writes its reports to $T/sanitizer.PID, and _cleanup makes each one a
# failure of the scenario
if [ -n "${PGSLUICE_ASAN:-}" ]; then
	PGSLUICE=$ROOT/build/asan-pgsluice
	if [ ! -x "$PGSLUICE" ]; then
		echo "not ok - $(basename "$0" .sh): no $PGSLUICE (make build/asan-pgsluice)"
		exit 1
	fi
	export ASAN_OPTIONS="detect_leaks=1:log_path=$T/sanitizer"
	export UBSAN_OPTIONS="print_stacktrace=1:log_path=$T/sanitizer"
fi
_clusters=()
_pids=()
# the scenario's stdout and stderr, for the TERM trap: a trap runs where
# the shell is, maybe in a function whose output goes to a file
exec {_stdout}>&1 {_stderr}>&2

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
skip() { echo "skip - $*"; }
# check NAME CMD...: ok if the command succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }

_as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_cleanup() {
	local p c
	# a background child that a signal reached before its exec (it still
	# has these traps) leaves the scenario's clusters and files alone
	[ "$BASHPID" = "$$" ] || return 0
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for c in "${_clusters[@]}"; do
		_as_postgres pg_ctl -D "$T/pg-$c" -m immediate stop >/dev/null 2>&1
	done
	[ -n "${PGSLUICE_ASAN:-}" ] && _sanitizer_reports >&"$_stdout"
	rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT
# TERM: tests/run.sh's timeout for the scenario (or a person): say so, with
# the daemon's last lines, before the clusters are stopped
trap '_on_term; exit 143' TERM
_on_term() {
	[ "$BASHPID" = "$$" ] || return 0
	{
		not_ok "$(basename "$0" .sh): stopped by SIGTERM (the scenario's timeout in tests/run.sh?)"
		_log_tail "$T/serve.log"
	} >&"$_stdout" 2>&"$_stderr"
}

# _sanitizer_reports: under PGSLUICE_ASAN, one "not ok" per report file of
# build/asan-pgsluice with its first lines, or one "ok" when there is none
_sanitizer_reports() {
	local f n=0
	for f in "$T"/sanitizer.*; do
		[ -s "$f" ] || continue
		n=$((n + 1))
		not_ok "$(basename "$0" .sh): sanitizer report (${f##*/})"
		head -n 40 "$f" | sed 's/^/#   /'
	done
	[ "$n" -eq 0 ] && ok "$(basename "$0" .sh): no sanitizer report (ASan, UBSan, LeakSanitizer)"
	return 0
}

# _log_tail FILE: its last 20 lines as "#" comments, when it exists
_log_tail() {
	[ -s "$1" ] || return 0
	echo "# --- last lines of $1 ---"
	tail -n 20 "$1" | sed 's/^/#   /'
}

# wait_pid PID [SECS] [LOG]: wait until the background process PID (a
# daemon, a client) has ended, at most SECS seconds (default 120); return
# its exit status.  One still running then gets a "not ok" line with LOG's
# last lines ($T/serve.log, the daemon's, by default), is killed, and
# wait_pid returns 124.  PID must be a child of this shell.
wait_pid() {
	local pid=$1 secs=${2:-120} log=${3:-$T/serve.log} i state
	for ((i = 0; i < secs * 10; i++)); do
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	if [ -n "$state" ] && [ "$state" != Z ]; then
		not_ok "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)) still running after $secs s: killed"
		_log_tail "$log"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# remember a background pid to kill at exit
bg_track() { _pids+=("$1"); }

. "$ROOT/scripts/free_port.sh"

# start_daemon LOG HOST [serve args]: `pgsluice serve` listening on HOST and
# a free port, its stderr in LOG; another port when the bind finds it taken
# (between free_port and the bind), up to 5 times.  Sets DAEMON_PORT and
# DAEMON_PID; returns 0 once it listens, 1 if it does not (within 10 s).
# Each start writes a fresh LOG: the one of an earlier daemon is moved to
# LOG.N first (N = 1, 2, ...), so that no line of it can be taken for the
# new daemon's "listening on".
start_daemon() {
	local log=$1 host=$2 try i n=1 state
	shift 2
	for try in 1 2 3 4 5; do
		if [ -e "$log" ]; then
			while [ -e "$log.$n" ]; do n=$((n + 1)); done
			mv "$log" "$log.$n"
		fi
		: >"$log"
		DAEMON_PORT=$(free_port)
		"$PGSLUICE" serve --listen "$host:$DAEMON_PORT" "$@" 2>>"$log" &
		DAEMON_PID=$!
		bg_track "$DAEMON_PID"
		for ((i = 0; i < 100; i++)); do
			grep -q "listening on" "$log" && return 0
			state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$DAEMON_PID/status" 2>/dev/null)
			[ -z "$state" ] || [ "$state" = Z ] && break
			sleep 0.1
		done
		if ! grep -q 'Address already in use' "$log"; then
			[ "$i" -eq 100 ] && echo "# start_daemon: no 'listening on' in $log after 10 s" >&2
			break
		fi
		wait "$DAEMON_PID" 2>/dev/null
	done
	return 1
}

# _pg_conf SOCKETDIR [lines]: the settings of every throwaway cluster
_pg_conf() {
	local dir=$1 line
	shift
	echo "listen_addresses = '127.0.0.1'"
	echo "unix_socket_directories = '$dir'"
	echo "fsync = off"
	echo "synchronous_commit = off"
	echo "full_page_writes = off"
	echo "max_connections = 40"
	for line in "$@"; do echo "$line"; done
}

pg_start() {
	local name=$1; shift
	local dir=$T/pg-$name port try line
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	_as_postgres initdb -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$T/initdb-$name.log" 2>&1 ||
		{ cat "$T/initdb-$name.log" >&2; return 1; }
	_pg_conf "$dir" "$@" >>"$dir/postgresql.conf"
	for try in 1 2 3 4 5; do
		port=$(free_port)
		sed -i "/^port = /d" "$dir/postgresql.conf"
		echo "port = $port" >>"$dir/postgresql.conf"
		if _as_postgres pg_ctl -D "$dir" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; then
			_clusters+=("$name")
			printf -v "PORT_$name" '%s' "$port"
			return 0
		fi
	done
	cat "$dir/server.log" >&2
	return 1
}

pg_stop() {
	[ -n "${_pgv_version[$1]:-}" ] && { _pgv_ctl "$1" -m fast stop >/dev/null 2>&1; return; }
	_as_postgres pg_ctl -D "$T/pg-$1" -m fast stop >/dev/null 2>&1
}

pg_restart() {
	[ -n "${_pgv_version[$1]:-}" ] && { _pgv_ctl "$1" -m fast -w restart -l "$_pgv_tmp/pg-$1/server.log" >/dev/null 2>&1; return; }
	_as_postgres pg_ctl -D "$T/pg-$1" -m fast -w restart -l "$T/pg-$1/server.log" >/dev/null 2>&1
}

pg_port() { local v="PORT_$1"; echo "${!v}"; }

# (every psql of the harness ends within PSQL_TIMEOUT seconds, default 300)
psql_as() {
	local name=$1 db=$2; shift 2
	timeout "${PSQL_TIMEOUT:-300}" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port "$name")" -U postgres -d "$db" "$@"
}

# pg_dump_of NAME DB [args]: a dump normalized for comparison (no \restrict
# keys, no version comments, no pg_attver column options), by the newest
# pg_dump started (pg_dump_newest).  pg_attver: Debian's PostgreSQL 15 and
# 17 builds store a server-assigned attribute option pg_attver=N on every
# column, which their own pg_dump leaves out but pg_dump 18 writes; each
# cluster assigns its own N.
pg_dump_of() {
	local name=$1 db=$2; shift 2
	pg_dump_newest -h 127.0.0.1 -p "$(pg_port "$name")" -U postgres "$@" "$db" |
		sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' -e '/^-- Dumped from database version/d' -e '/^-- Dumped by pg_dump version/d' \
			-e 's/pg_attver=[0-9]*, //; s/, pg_attver=[0-9]*)/)/' |
		perl -0pe 's/^ALTER TABLE ONLY (?:[^;"\n]|"(?:[^"]|"")*")+ ALTER COLUMN (?:[^;"\n]|"(?:[^"]|"")*")+ SET \(pg_attver=[0-9]+\);\n//mg'
}

# need_fixtures: $FIXTURES/synapse built (synapse_fixture); "not ok" and
# status 1 if it cannot be
need_fixtures() {
	synapse_fixture || { not_ok "build the Synapse fixture (tests/fixtures/synapse-*.sql): see the lines above"; return 1; }
}

# fixture_corpora: the Synapse fixture folders to run a corpus test over:
# ours, then ../shared's when it is there
fixture_corpora() {
	echo "$FIXTURES/synapse"
	[ -d "$SHARED_FIXTURES/synapse" ] && echo "$SHARED_FIXTURES/synapse"
	return 0
}

# synapse_fixture: build the project's own Synapse-shaped database from
# tests/fixtures/synapse-schema.sql and synapse-fill.sql (as the role
# synapse, in a UTF8/C database it owns, on a cluster of its own) and dump
# it into $FIXTURES/synapse:
#	synapse-small.sql.gz          pg_dump synapse (owners), gzip -9 -n
#	synapse-small-noowner.sql.gz  pg_dump -O -x synapse
#	synapse-schema.sql            pg_dump -s synapse (owners)
# Built once and kept while those two files, this function's version and
# the pg_dump version are the same (a key in $FIXTURES/synapse/key); a
# lock serializes concurrent runs.  Prints how long the build took.
SYNAPSE_FIXTURE_FORMAT=1
synapse_fixture() {
	local dir=$FIXTURES/synapse key
	key="format $SYNAPSE_FIXTURE_FORMAT; $(cat "$ROOT/tests/fixtures/synapse-schema.sql" "$ROOT/tests/fixtures/synapse-fill.sql" |
		md5sum | cut -d' ' -f1); $(pg_dump --version)"
	[ "$(cat "$dir/key" 2>/dev/null)" = "$key" ] && return 0
	mkdir -p "$FIXTURES" || return 1
	(
		flock -w 600 9 || { echo "synapse_fixture: $FIXTURES/.lock is held for 10 min" >&2; exit 1; }
		[ "$(cat "$dir/key" 2>/dev/null)" = "$key" ] && exit 0
		_synapse_fixture_build "$key"
	) 9>"$FIXTURES/.lock"
}

_synapse_fixture_build() {
	local key=$1 dir=$FIXTURES/synapse tmp=$FIXTURES/synapse.tmp.$$ start=$SECONDS port log
	rm -rf "$FIXTURES"/synapse.tmp.* && mkdir -p "$tmp" || return 1
	log=$tmp/build.log
	pg_start fixture >"$log" 2>&1 || { cat "$log" >&2; return 1; }
	port=$(pg_port fixture)
	if psql_as fixture postgres -c "CREATE ROLE synapse LOGIN" \
		-c "CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >>"$log" 2>&1 &&
		timeout 300 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U synapse -d synapse \
			-f "$ROOT/tests/fixtures/synapse-schema.sql" -f "$ROOT/tests/fixtures/synapse-fill.sql" >>"$log" 2>&1 &&
		pg_dump -h 127.0.0.1 -p "$port" -U postgres synapse 2>>"$log" | gzip -9 -n >"$tmp/synapse-small.sql.gz" &&
		pg_dump -h 127.0.0.1 -p "$port" -U postgres -O -x synapse 2>>"$log" | gzip -9 -n >"$tmp/synapse-small-noowner.sql.gz" &&
		pg_dump -h 127.0.0.1 -p "$port" -U postgres -s synapse >"$tmp/synapse-schema.sql" 2>>"$log" &&
		[ "$(gzip -dc "$tmp/synapse-small.sql.gz" | grep -c '^-- PostgreSQL database dump complete$')" -eq 1 ]; then
		pg_stop fixture
		echo "$key" >"$tmp/key"
		rm -rf "$dir" && mv "$tmp" "$dir" || return 1
		echo "# built the Synapse fixture in $FIXTURES/synapse in $((SECONDS - start)) s" >&2
		return 0
	fi
	pg_stop fixture
	echo "synapse_fixture: building the Synapse fixture failed; the last lines of $log:" >&2
	tail -n 20 "$log" >&2
	return 1
}

# dump_facts FILE: what a Synapse fixture dump (plain or gzip) holds, as
# shell assignments for eval: FX_COPIES (COPY blocks), FX_ROWS (their data
# lines), FX_SETVALS, FX_OWNERS ("ALTER ... OWNER TO" lines), FX_EVENTS
# (rows of public.events), FX_USER_SEQ (the setval of public.user_id_seq)
# and FX_USER_SEQ_LINE (its line), FX_PLAIN_BYTES, FX_GZ_BYTES (0 when
# FILE is plain) and FX_SIZES (the summary's "dump size:" wording)
dump_facts() {
	local f=$1 gz=0
	case $f in *.gz) gz=$(stat -c %s "$f") ;; esac
	{ if [ "$gz" -gt 0 ]; then gzip -dc "$f"; else cat "$f"; fi; } | LC_ALL=C awk -v gz="$gz" '
		function size(b) {
			if (b < 1024) return b " B"
			if (b < 1048576) return sprintf("%.1f kB", b / 1024)
			return sprintf("%.1f MB", b / 1048576)
		}
		{ bytes += length($0) + 1 }
		copy && /^\\\.$/ { copy = 0; next }
		copy { rows++; if (tbl == "public.events") events++; next }
		/^COPY / { copy = 1; copies++; tbl = $2; next }
		/^SELECT pg_catalog\.setval\(/ {
			setvals++
			if ($0 ~ /\(.public\.user_id_seq., /) { v = $0; sub(/.*user_id_seq., /, "", v); sub(/,.*/, "", v); useq = v; uline = NR }
		}
		/^ALTER .* OWNER TO / { owners++ }
		END {
			printf "FX_COPIES=%d FX_ROWS=%d FX_SETVALS=%d FX_OWNERS=%d FX_EVENTS=%d FX_USER_SEQ=%s FX_USER_SEQ_LINE=%d\n",
				copies, rows, setvals, owners, events, useq, uline
			printf "FX_PLAIN_BYTES=%d FX_GZ_BYTES=%d\n", bytes, gz
			if (gz > 0) printf "FX_SIZES=\"%s gzip (%d bytes), %s plain (%d bytes)\"\n", size(gz), gz, size(bytes), bytes
			else printf "FX_SIZES=\"%s plain (%d bytes), not compressed\"\n", size(bytes), bytes
		}'
}

# make_kitchen_sink CLUSTER DIR: build the kitchen-sink database on CLUSTER
# and write its dumps into DIR (ks.sql, ks-noowner.sql, ks-ssa.sql,
# ks-inserts.sql): the project's own fixtures (tests/fixtures/kitchen-sink.sql).
make_kitchen_sink() {
	local c=$1 dir=$2 port
	port=$(pg_port "$c")
	psql_as "$c" postgres -c "CREATE DATABASE kitchen_sink" &&
		psql_as "$c" kitchen_sink -f "$ROOT/tests/fixtures/kitchen-sink.sql" >"$dir/ks-build.log" 2>&1 ||
		{ cat "$dir/ks-build.log"; return 1; }
	pg_dump -h 127.0.0.1 -p "$port" -U postgres kitchen_sink >"$dir/ks.sql" &&
		pg_dump -h 127.0.0.1 -p "$port" -U postgres -O -x kitchen_sink >"$dir/ks-noowner.sql" &&
		pg_dump -h 127.0.0.1 -p "$port" -U postgres --use-set-session-authorization kitchen_sink >"$dir/ks-ssa.sql" &&
		pg_dump -h 127.0.0.1 -p "$port" -U postgres --inserts kitchen_sink >"$dir/ks-inserts.sql"
}

# Clusters and clients of other PostgreSQL major versions (tests/lib/pgversions.sh):
#
#	pg_start_v VERSION NAME [conf line]...  pg_start of that version: the
#	                          host's own (PGBIN) when VERSION is the host's,
#	                          else in the version's debootstrap root (built
#	                          the first time, then cached); fails loudly when
#	                          the version cannot be had
#	pg_version NAME           the major version of a started cluster
#	pg_bin VERSION TOOL       a command for TOOL (pg_dump, psql, pg_restore)
#	                          of VERSION, usable from the host with
#	                          -h 127.0.0.1 and stdin/stdout (no file names:
#	                          a root's tool sees the root's files)
#	PGDUMP_15 PGDUMP_17 PGDUMP_18   pg_bin V pg_dump, set by need_versions
#	need_versions VERSION...  build the roots now, set PGDUMP_V; not ok and
#	                          status 1 if one cannot be had
#	pg_dump_newest [args]     pg_dump of the newest version started so far,
#	                          which pg_dump_of uses: both sides of a
#	                          comparison dumped by the same pg_dump, one that
#	                          can read every cluster of the scenario
#
# PGSLUICE_TARGET_VERSION (default: the host's) is the version of the
# scenarios' target cluster (serve_clusters), PGSLUICE_DUMP_VERSION (default:
# the target's) the pg_dump they make their dumps with.
. "$ROOT/tests/lib/pgversions.sh"
HOST_PG_VERSION=$(basename "$(dirname "$PGBIN")")
TARGET_VERSION=${PGSLUICE_TARGET_VERSION:-$HOST_PG_VERSION}
DUMP_VERSION=${PGSLUICE_DUMP_VERSION:-$TARGET_VERSION}
PG_NEWEST=$HOST_PG_VERSION
declare -A _pgv_version=()
# data and socket folders of the root clusters, as seen inside the root
_pgv_tmp=/tmp/$(basename "$T")

pg_version() { echo "${_pgv_version[$1]:-$HOST_PG_VERSION}"; }

pg_bin() {
	local v=$1 tool=$2 w
	if [ "$v" = "$HOST_PG_VERSION" ]; then echo "$PGBIN/$tool"; return; fi
	w=$T/bin/$tool-$v
	if [ ! -x "$w" ]; then
		mkdir -p "$T/bin"
		printf '#!/bin/sh\nexec chroot --userspec=%s %q /usr/bin/env PATH=%q:/usr/bin:/bin HOME=/tmp %q "$@"\n' \
			"$(pgroot_ids "$v")" "$(pgroot_dir "$v")" "$(pgroot_bin "$v")" "$(pgroot_bin "$v")/$tool" >"$w"
		chmod 755 "$w"
	fi
	echo "$w"
}

need_versions() {
	local v
	for v in "$@"; do
		[ "$v" = "$HOST_PG_VERSION" ] && continue
		pgroot_build "$v" || { not_ok "PostgreSQL $v is needed and cannot be had (see the message above; tests/lib/pgversions.sh)"; return 1; }
	done
	for v in "$@"; do
		printf -v "PGDUMP_$v" '%s' "$(pg_bin "$v" pg_dump)"
	done
}

pg_dump_newest() { "$(pg_bin "$PG_NEWEST" pg_dump)" "$@"; }

# _pgv_ctl NAME ARGS...: pg_ctl of a root cluster
_pgv_ctl() {
	local v=${_pgv_version[$1]} n=$1; shift
	pgroot_run "$v" pg_ctl -D "$_pgv_tmp/pg-$n" "$@"
}

pg_start_v() {
	local v=$1 name=$2; shift 2
	if [ "$v" = "$HOST_PG_VERSION" ]; then pg_start "$name" "$@"; return; fi
	pgroot_build "$v" || { echo "pg_start_v: PostgreSQL $v cannot be had (tests/lib/pgversions.sh)" >&2; return 1; }
	local top root ids dir port try line
	root=$(pgroot_dir "$v")
	top=$root$_pgv_tmp
	dir=$_pgv_tmp/pg-$name
	ids=$(pgroot_ids "$v")
	mkdir -p "$root$dir" && chown "$ids" "$top" "$root$dir" || return 1
	_pgv_version[$name]=$v
	pgroot_run "$v" initdb -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$T/initdb-$name.log" 2>&1 ||
		{ cat "$T/initdb-$name.log" >&2; return 1; }
	_pg_conf "$dir" "$@" >>"$root$dir/postgresql.conf"
	for try in 1 2 3 4 5; do
		port=$(free_port)
		sed -i "/^port = /d" "$root$dir/postgresql.conf"
		echo "port = $port" >>"$root$dir/postgresql.conf"
		if _pgv_ctl "$name" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; then
			printf -v "PORT_$name" '%s' "$port"
			[ "$v" -gt "$PG_NEWEST" ] && PG_NEWEST=$v
			return 0
		fi
	done
	echo "pg_start_v: PostgreSQL $v cluster $name did not start; its log ($root$dir/server.log):" >&2
	tail -20 "$root$dir/server.log" >&2
	return 1
}

# _pgv_cleanup: stop the root clusters and remove their files (at exit)
_pgv_cleanup() {
	local n
	for n in "${!_pgv_version[@]}"; do
		_pgv_ctl "$n" -m immediate stop >/dev/null 2>&1
	done
	# only then the files: clusters of one version share a folder
	for n in "${!_pgv_version[@]}"; do
		rm -rf "$(pgroot_dir "${_pgv_version[$n]}")$_pgv_tmp"
	done
}
# (not in a background child that a signal reached before its exec: see _cleanup)
trap '[ "$BASHPID" = "$$" ] && _pgv_cleanup; _cleanup' EXIT

# dump_without_entries TYPES: a pg_dump (stdin to stdout) without the
# entries whose Type matches the extended regular expression TYPES (and
# their comments).  pg_dump writes each entry as "--", "-- Name: ...; Type:
# ...", "--", body.
dump_without_entries() {
	awk -v types="$1" '
	function header(line) {
		if (line ~ ("^-- (Data for )?Name: .*; Type: (" types ");"))
			return 1
		if (line ~ ("^-- Name: (" types ") .*; Type: COMMENT;"))
			return 1
		return 0
	}
	{
		if (held) {
			held = 0
			if ($0 ~ /^-- (Data for )?Name: / || $0 ~ /^-- PostgreSQL database dump complete/)
				skip = header($0)
			if (!skip) print "--"
		}
		if ($0 == "--") { held = 1; next }
		if (!skip) print
	}
	END { if (held && !skip) print "--" }'
}

# dump_without_superuser_only: dump_without_entries of the objects the rules
# drop by design for a non-superuser import (publications, subscriptions,
# event triggers)
dump_without_superuser_only() {
	dump_without_entries 'EVENT TRIGGER|PUBLICATION|PUBLICATION TABLE|PUBLICATION TABLES IN SCHEMA|SUBSCRIPTION'
}
