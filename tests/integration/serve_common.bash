# serve_common.bash - sourced by tests/integration/serve_*.sh, after
# tests/lib/common.sh.  (Not *.sh, so tests/run.sh does not run it.)
#
#	serve_clusters            source cluster "src" (superuser, role synapse,
#	                          database synapse) and target cluster "tgt" where
#	                          the non-superuser ees_owner owns database synapse;
#	                          tgt is PostgreSQL $TARGET_VERSION (common.sh)
#	src_pg_dump [args]        pg_dump $DUMP_VERSION of src's synapse (stdout)
#	load_fixture FILE.gz      restore a fixture dump into src's synapse
#	serve_prologue            serve_clusters, the noowner fixture ($F) in src,
#	                          its pg_dump -O -x in $T/src.sql, the dump in
#	                          $T/full.sql; a failed step fails the scenario
#	serve_start [args]        pgsluice serve against tgt on a free port ($SPORT),
#	                          log in $T/serve.log, pid $SPID
#	send_nc FILE [OUT]        nc -N the file to the daemon; client output to OUT
#	tgt_dump / src_dump       pg_dump -O -x (normalized) of synapse
#	tgt_count                 number of relations in tgt's public schema
#	tgt_aside_count           number of --jobs aside schemas (pgsluice_aside_*) in tgt
#	wait_log PATTERN [SECS]   wait until the daemon's log matches
#	wait_log_more PATTERN N [SECS]  wait until more than N lines of the log match
TARGET_USER=ees_owner
# PGSLUICE_BIN: run another build (e.g. with sanitizers) of the binary
PGSLUICE=${PGSLUICE_BIN:-$PGSLUICE}

serve_clusters() {
	need_versions "$TARGET_VERSION" "$DUMP_VERSION" || return 1
	pg_start src || return 1
	pg_start_v "$TARGET_VERSION" tgt || return 1
	psql_as src postgres -c "CREATE ROLE synapse LOGIN" -c "CREATE DATABASE synapse OWNER synapse TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || return 1
	psql_as tgt postgres -c "CREATE ROLE $TARGET_USER LOGIN" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || return 1
	TARGET="host=127.0.0.1 port=$(pg_port tgt) user=$TARGET_USER dbname=synapse"
}

load_fixture() {
	gunzip -c "$1" | psql_as src synapse >/dev/null
}

# serve_prologue: what most scenarios start from.  The clusters; the
# Synapse-shaped fixture without owners ($F) loaded into the source; the
# source's pg_dump -O -x in $T/src.sql (what the target must equal) and the
# dump itself in $T/full.sql.  A step that fails fails the scenario.
serve_prologue() {
	F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
	serve_clusters || { not_ok "clusters start"; exit 1; }
	load_fixture "$F" || { not_ok "the fixture loads into the source"; exit 1; }
	src_dump >"$T/src.sql"
	gunzip -c "$F" >"$T/full.sql"
}

wait_log() {
	local pat=$1 secs=${2:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pat" "$T/serve.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "# timed out waiting for '$pat' in the daemon's log" >&2
	tail -20 "$T/serve.log" >&2
	return 1
}

wait_log_more() {
	local pat=$1 n=$2 secs=${3:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(grep -c -- "$pat" "$T/serve.log" 2>/dev/null)" -gt "$n" ] && return 0
		sleep 0.1
	done
	echo "# timed out waiting for line $((n + 1)) matching '$pat' in the daemon's log" >&2
	tail -20 "$T/serve.log" >&2
	return 1
}

serve_start() {
	start_daemon "$T/serve.log" 127.0.0.1 --target "$TARGET" "$@" || {
		echo "# the daemon did not start listening" >&2
		tail -20 "$T/serve.log" >&2
		return 1
	}
	SPORT=$DAEMON_PORT SPID=$DAEMON_PID
}

serve_stop() {
	kill -TERM "$SPID" 2>/dev/null
	wait_pid "$SPID" 2>/dev/null
}

send_nc() {
	local out=${2:-/dev/null}
	timeout 120 nc -N 127.0.0.1 "$SPORT" <"$1" >"$out"
}

src_pg_dump() { "$(pg_bin "$DUMP_VERSION" pg_dump)" -h 127.0.0.1 -p "$(pg_port src)" -U postgres "$@" synapse; }

src_dump() { pg_dump_of src synapse -O -x; }
tgt_dump() { pg_dump_of tgt synapse -O -x; }

tgt_aside_count() {
	psql_as tgt synapse -At -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgsluice_aside%'"
}

tgt_count() {
	psql_as tgt synapse -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
}

# first_line FILE: the OK/ERROR line of a client's output
result_line() { grep -E '^(OK|ERROR) ' "$1" | head -1; }
