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
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGSLUICE=$ROOT/pgsluice
FIXTURES=$ROOT/../shared/fixtures
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$PGBIN:$PATH"
T=$(mktemp -d /tmp/pgsluice-test.XXXXXX)
chmod 755 "$T"
_clusters=()
_pids=()

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
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for c in "${_clusters[@]}"; do
		_as_postgres pg_ctl -D "$T/pg-$c" -m immediate stop >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# remember a background pid to kill at exit
bg_track() { _pids+=("$1"); }

. "$ROOT/scripts/free_port.sh"

# start_daemon LOG HOST [serve args]: `pgsluice serve` listening on HOST and
# a free port, its stderr in LOG; another port when the bind finds it taken
# (between free_port and the bind), up to 5 times.  Sets DAEMON_PORT and
# DAEMON_PID; returns 0 once it listens, 1 if it does not.
start_daemon() {
	local log=$1 host=$2 try i
	shift 2
	for try in 1 2 3 4 5; do
		DAEMON_PORT=$(free_port)
		"$PGSLUICE" serve --listen "$host:$DAEMON_PORT" "$@" 2>"$log" &
		DAEMON_PID=$!
		bg_track "$DAEMON_PID"
		for ((i = 0; i < 100; i++)); do
			grep -q "listening on" "$log" && return 0
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		grep -q 'Address already in use' "$log" || break
		wait "$DAEMON_PID" 2>/dev/null
	done
	return 1
}

pg_start() {
	local name=$1; shift
	local dir=$T/pg-$name port try line
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	_as_postgres initdb -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$T/initdb-$name.log" 2>&1 ||
		{ cat "$T/initdb-$name.log" >&2; return 1; }
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir'"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "max_connections = 40"
		for line in "$@"; do echo "$line"; done
	} >>"$dir/postgresql.conf"
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

psql_as() {
	local name=$1 db=$2; shift 2
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port "$name")" -U postgres -d "$db" "$@"
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

need_fixtures() {
	if [ ! -d "$FIXTURES/synapse" ]; then
		skip "fixtures missing: $FIXTURES/synapse not found (tests that need ../shared/fixtures were not run)"
		echo "WARNING: $FIXTURES is missing; fixture tests skipped" >&2
		return 1
	fi
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
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir'"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "max_connections = 40"
		for line in "$@"; do echo "$line"; done
	} >>"$root$dir/postgresql.conf"
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
trap '_pgv_cleanup; _cleanup' EXIT

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
