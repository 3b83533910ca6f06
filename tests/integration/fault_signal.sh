#!/bin/bash
# fault_signal.sh - the daemon is stopped in the middle of an import.
#   SIGTERM at a random line of the Synapse dump: rolled back, the client
#     told, exit 0.
#   SIGTERM while the target is busy with a slow statement (a trigger that
#     sleeps per row): the statement is cancelled (from a side connection),
#     so the rollback does not wait for it to end.
#   A client that resets its connection while the target is slow: the
#     bytes already received (kernel buffers) are still imported, then the
#     dump is found truncated and rolled back.
#   SIGKILL at a random line: the server ends the transaction when the
#     connection goes; the next daemon finds the target unchanged and the
#     import lock free, and its import succeeds.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

fault_setup || { not_ok "cluster and reference"; exit 1; }

random_phase() { rand_below 3; PHASE=$(echo pre-data copy index | cut -d' ' -f$((R + 1))); }

# 1. SIGTERM at a random point
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
random_phase
phase_offset "$PHASE"
name="SIGTERM in $PHASE (line $PLINE, byte $OFF)"
term_daemon() { kill -TERM "$SPID"; }
pause_inject "$name" term_daemon
wait_pid "$SPID"
check "$name: the daemon exits 0" test "$?" -eq 0
check "$name: the client is told ($TOLD s)" grep -q '^ERROR pgsluice is shutting down (SIGTERM): the import was stopped' "$T/out"
check "$name: the client is told it was rolled back" grep -q 'rolled back: the target is as it was before the import' "$T/out"
expect_unchanged "$name"

# 2. SIGTERM while the target is busy: 2000 rows x 5 ms = 10 s of trigger work
make_slow_dump "$T/slow.sql" 2000 5 2000
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
"$CUT" -t 60 127.0.0.1 "$SPORT" "$T/slow.sql" >"$T/out" 2>/dev/null &
cpid=$!
bg_track "$cpid"
wait_log 'connected to the target' 10
sleep 1.5
t0=$(date +%s%N)
kill -TERM "$SPID"
wait_pid "$SPID"
rc=$?
term_ms=$((($(date +%s%N) - t0) / 1000000))
wait_pid "$cpid"
check "SIGTERM, target busy: exits 0" test "$rc" -eq 0
check "SIGTERM, target busy: the statement is cancelled, the daemon is gone in ${term_ms} ms (the COPY had ~8 s to go)" test "$term_ms" -lt 4000
check "SIGTERM, target busy: the client is told" grep -q '^ERROR pgsluice is shutting down (SIGTERM)' "$T/out"
check "SIGTERM, target busy: the log says it cancelled" grep -q 'cancelling the statement still running on the target' "$T/serve.log"
expect_unchanged "SIGTERM, target busy"

# 3. the client resets while the target is slow (400 rows x 5 ms = 2 s)
make_slow_dump "$T/slow2.sql" 400 5 2000
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
t0=$(date +%s%N)
"$CUT" -t 60 -m reset -n $(($(stat -c %s "$T/slow2.sql") - 100)) 127.0.0.1 "$SPORT" "$T/slow2.sql" >/dev/null 2>&1
line=$(wait_summary 1 30)
gone_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# ${line#*] }" | cut -c1-200
# the reset is seen either as a cut dump or, while a statement runs, as the lost client
check "client reset, target slow: truncated, rolled back (${gone_ms} ms)" grep -Eq 'ERROR (dump truncated|the client connection was lost .* while statement [0-9]+ at line [0-9]+ was running on the target)' <<<"$line"
expect_unchanged "client reset, target slow"
"$CUT" 127.0.0.1 "$SPORT" "$T/slow2.sql" >"$T/out" 2>/dev/null
check "client reset, target slow: then the same dump whole: OK" grep -q '^OK import into synapse committed' "$T/out"
tgt_reset
serve_stop

# 4. SIGKILL at a random point
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
random_phase
phase_offset "$PHASE"
name="SIGKILL in $PHASE (line $PLINE, byte $OFF)"
kill_daemon() { kill -KILL "$SPID"; }
PAUSE_WAIT=10 pause_inject "$name" kill_daemon
wait_pid "$SPID" 2>/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgsluice'")" = 0 ] && break
	sleep 0.1
done
check "$name: the server ended the import's session ($((i / 10)).$((i % 10)) s)" test "$i" -lt 100
check "$name: the import lock is free" test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0
expect_unchanged "$name"
serve_start --progress-interval 0 || { not_ok "daemon starts again"; exit 1; }
"$CUT" 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
check "$name: the next daemon's import: OK" grep -q '^OK import into synapse committed' "$T/out"
expect_complete "$name: the next daemon's import"
serve_stop
echo "# figures: SIGTERM exit 0 rolled back; SIGTERM with the target busy: gone in $term_ms ms; client reset with the target slow: rolled back in $gone_ms ms; SIGKILL: session ended by the server, lock free; $((SECONDS - start)) s"
