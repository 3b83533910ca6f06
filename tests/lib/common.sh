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
	_as_postgres pg_ctl -D "$T/pg-$1" -m fast stop >/dev/null 2>&1
}

pg_restart() {
	_as_postgres pg_ctl -D "$T/pg-$1" -m fast -w restart -l "$T/pg-$1/server.log" >/dev/null 2>&1
}

pg_port() { local v="PORT_$1"; echo "${!v}"; }

psql_as() {
	local name=$1 db=$2; shift 2
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port "$name")" -U postgres -d "$db" "$@"
}

# pg_dump_of NAME DB [args]: a dump normalized for comparison (no \restrict
# keys, no version comments)
pg_dump_of() {
	local name=$1 db=$2; shift 2
	pg_dump -h 127.0.0.1 -p "$(pg_port "$name")" -U postgres "$@" "$db" |
		sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' -e '/^-- Dumped from database version/d' -e '/^-- Dumped by pg_dump version/d'
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
