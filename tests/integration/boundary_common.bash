# boundary_common.bash - sourced by tests/integration/boundary_*.sh, after
# tests/lib/common.sh.  (Not *.sh, so tests/run.sh does not run it.)
#
#	bd_cluster [conf lines]   target cluster "tgt" with log_statement=all:
#	                          non-superuser ees_owner owns database synapse;
#	                          sets TARGET (its conninfo) and TARGET_USER
#	bd_reset                  drop and re-create tgt's database synapse
#	bd_serve [args]           pgsluice serve against $TARGET ($SPORT, $SPID,
#	                          log $T/serve.log)
#	bd_dump FILE BODY         write a small dump: pg_dump's header SETs, BODY
#	                          (printf format), pg_dump's trailer
#	bd_send FILE OUT          nc -N FILE to the daemon, the client's lines in OUT
#	bd_tgt_dump               pg_dump of tgt's synapse (normalized)
#	bd_log_mark / bd_log_new  the server log from the mark on
#	bd_result FILE            the OK/ERROR line of a client's output
TARGET_USER=ees_owner
# PGSLUICE_BIN: run another build (e.g. with sanitizers) of the binary
PGSLUICE=${PGSLUICE_BIN:-$PGSLUICE}

bd_cluster() {
	pg_start tgt "log_statement = 'all'" "log_line_prefix = '%m [%p] '" "$@" || return 1
	psql_as tgt postgres -c "CREATE ROLE $TARGET_USER LOGIN" >/dev/null || return 1
	bd_reset || return 1
	TARGET="host=127.0.0.1 port=$(pg_port tgt) user=$TARGET_USER dbname=synapse"
}

bd_reset() {
	psql_as tgt postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS synapse" \
		-c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}

bd_serve() {
	start_daemon "$T/serve.log" 127.0.0.1 --target "$TARGET" --progress-interval 0 "$@" || {
		echo "# the daemon did not start listening" >&2
		tail -20 "$T/serve.log" >&2
		return 1
	}
	SPORT=$DAEMON_PORT SPID=$DAEMON_PID
}

bd_stop() {
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}

bd_dump() {
	local file=$1 fmt=$2
	shift 2
	{
		printf 'SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET client_encoding = '"'UTF8'"';\nSET standard_conforming_strings = on;\n'
		printf "SELECT pg_catalog.set_config('search_path', '', false);\n"
		# shellcheck disable=SC2059
		printf "$fmt" "$@"
		printf '\n--\n-- PostgreSQL database dump complete\n--\n\n'
	} >"$file"
}

# 240 s: 10,000 sequences took over 60 s on a machine at load 7
bd_send() {
	timeout 240 nc -N 127.0.0.1 "$SPORT" <"$1" >"$2" 2>/dev/null
	[ $? -ne 124 ] || echo "# nc was stopped by its 240 s timeout ($1)" >&2
}

bd_tgt_dump() { pg_dump_of tgt synapse; }

bd_log_mark() { BD_LOG_AT=$(stat -c %s "$T/pg-tgt/server.log"); }
bd_log_new() { tail -c +"$((BD_LOG_AT + 1))" "$T/pg-tgt/server.log"; }

bd_result() { grep -aE '^(OK|ERROR) ' "$1" | head -1; }
