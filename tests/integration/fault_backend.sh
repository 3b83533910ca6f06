#!/bin/bash
# fault_backend.sh - the import's backend on the target is killed
# (pg_terminate_backend of the session with application_name pgsluice) at a
# random line of each phase of the Synapse dump: pre-data (CREATE TABLE
# ...), COPY data, index builds.  Each time: the client is told at once,
# the target is as it was, and the next import (a new connection) succeeds.
# The long variant kills at three points of each phase.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

fault_setup || { not_ok "cluster and reference"; exit 1; }
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
rounds=1
[ -n "$FAULT_LONG" ] && rounds=3

kill_backend() {
	psql_as tgt postgres -At -c "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'pgsluice'" >"$T/killed"
}

n=0 told=""
for ((r = 1; r <= rounds; r++)); do
	for phase in pre-data copy index; do
		phase_offset "$phase"
		name="backend killed in $phase (line $PLINE, byte $OFF)"
		n=$((n + 1))
		pause_inject "$name" kill_backend
		check "$name: one backend was killed" test "$(cat "$T/killed")" = 1
		if grep -q -E '^ERROR .*(terminating connection due to administrator command|lost the target connection)' "$T/out"; then
			ok "$name: the client is told ($TOLD s after the kill)"
		else
			not_ok "$name: the client is told"; sed 's/^/# /' "$T/out" | head
		fi
		grep -E '^(ERROR|  )' "$T/out" | head -4 | sed 's/^/# /'
		told="$told $TOLD"
		expect_unchanged "$name"
	done
done

# the next import opens a new connection and succeeds
"$CUT" 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
check "then a complete import: OK" grep -q '^OK import into synapse committed' "$T/out"
expect_complete "then a complete import"
check "daemon alive" kill -0 "$SPID"
serve_stop
echo "# figures: $n backends killed (pre-data, COPY, index builds), all rolled back; client told after (s):$told; $((SECONDS - start)) s"
