#!/bin/bash
# boundary_timeout.sh - a statement that runs on and on:
#   --statement-timeout S: pgsluice's own timer cancels it after S seconds,
#     whatever the dump sets (its SET statement_timeout = 0, a function's
#     own SET statement_timeout = 0), on one connection and with --jobs 2;
#   no timeout, the client leaves (killed while its import runs): the
#     statement is cancelled within seconds, not left running.
# The slow code runs where the statement filter cannot see it: a column
# DEFAULT that COPY evaluates.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

bd_cluster || { not_ok "cluster starts"; exit 1; }
bd_tgt_dump >"$T/before.sql"
bd_dump "$T/d.sql" 'CREATE FUNCTION public.slow() RETURNS integer LANGUAGE plpgsql SET statement_timeout = 0 AS $$BEGIN PERFORM pg_catalog.pg_sleep(120); RETURN 1; END$$;\nCREATE TABLE public.t (a integer, b integer DEFAULT public.slow());\nCOPY public.t (a) FROM stdin;\n1\n\\.\n'

# sleeping: backends of the target that run the slow function now
sleeping() { psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND usename = '$TARGET_USER'"; }
# wait_sleeping N SECS: until N backends sleep (0: none); 1 on timeout
wait_sleeping() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do [ "$(sleeping)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}

for mode in "" "--jobs 2"; do
	name="--statement-timeout 2${mode:+ $mode}"
	# shellcheck disable=SC2086
	bd_serve --statement-timeout 2 $mode || { not_ok "$name: daemon starts"; exit 1; }
	s=$(date +%s.%N)
	bd_send "$T/d.sql" "$T/out"
	secs=$(echo "$(date +%s.%N) - $s" | bc)
	echo "# $name: answered in $secs s"
	if bd_result "$T/out" | grep -q '^ERROR statement [0-9]* at line [0-9]* ran longer than --statement-timeout 2 s'; then
		ok "$name: the import fails on the timeout"
	else
		not_ok "$name: the import fails on the timeout"; sed 's/^/# /' "$T/out" | head -6
	fi
	check "$name: answered within 10 s ($secs s), not after the function's 120 s" test "$(echo "$secs < 10" | bc)" = 1
	check "$name: the statement no longer runs on the target" wait_sleeping 0 10
	bd_tgt_dump >"$T/now.sql"
	check "$name: target unchanged" cmp -s "$T/before.sql" "$T/now.sql"
	bd_stop
done

# no timeout; the client is killed while the statement runs
bd_serve || { not_ok "daemon starts"; exit 1; }
nc -N 127.0.0.1 "$SPORT" <"$T/d.sql" >"$T/out" 2>/dev/null &
ncpid=$!
bg_track "$ncpid"
check "the slow statement runs" wait_sleeping 1 20
kill -9 "$ncpid"
s=$(date +%s.%N)
wait_sleeping 0 20
secs=$(echo "$(date +%s.%N) - $s" | bc)
echo "# the statement stopped $secs s after the client was killed"
check "client gone: the statement is cancelled within 3 s ($secs s)" test "$(echo "$secs < 3" | bc)" = 1
check "client gone: the log says why" grep -q 'ERROR .*the client connection was lost .* while statement [0-9]* at line [0-9]* was running on the target' "$T/serve.log"
bd_tgt_dump >"$T/now.sql"
check "client gone: target unchanged" cmp -s "$T/before.sql" "$T/now.sql"
