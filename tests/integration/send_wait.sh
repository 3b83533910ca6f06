#!/bin/bash
# send_wait.sh - pgsluice send --wait: while the daemon is busy with
# another import, send waits and tries again, and sends its dump (from a
# pipe: nothing of it may be lost to a refused try) once the daemon is
# ready; without --wait a busy daemon is an ERROR at once.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
gunzip -c "$F" >"$T/full.sql"

serve_clusters || { not_ok "clusters start"; exit 1; }
serve_start --clear-target --progress-interval 0.5 || { not_ok "daemon starts"; exit 1; }

check "--wait=0 is a usage error" sh -c "'$PGSLUICE' send --wait=0 127.0.0.1:$SPORT '$F' 2>&1 | grep -q \"^Try 'pgsluice send --help'\""

# busy: an import that pauses for 5 s inside its dump
l=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
{ head -n $((l + 1)) "$T/full.sql"; sleep 5; tail -n +$((l + 2)) "$T/full.sql"; } |
	timeout 60 nc -N 127.0.0.1 "$SPORT" >"$T/first.out" &
first=$!
bg_track "$first"
wait_log 'the import starts' 20 || not_ok "the first import starts"

"$PGSLUICE" send "127.0.0.1:$SPORT" "$F" >"$T/nowait.out" 2>"$T/nowait.err"
check "without --wait: a busy daemon is exit 1 at once" test "$?" -eq 1
check "without --wait: the refusal is the answer" grep -q '^ERROR ' "$T/nowait.out"

start=$SECONDS
gunzip -c "$F" | "$PGSLUICE" send --wait=60 "127.0.0.1:$SPORT" >"$T/wait.out" 2>"$T/wait.err"
rc=$?
check "--wait from a pipe: exit 0 once the daemon was free" test "$rc" -eq 0
check "--wait: it waited, saying for what" grep -q 'waiting for it (--wait: [0-9]* s left)' "$T/wait.err"
check "--wait: it named the running import" grep -q '^pgsluice send: ERROR ' "$T/wait.err"
check "--wait: stdout has one answer, OK" \
	sh -c "test \"\$(grep -c '^OK import into synapse committed: ' '$T/wait.out')\" -eq 1 && ! grep -q '^ERROR' '$T/wait.out'"
check "--wait: no READY line shown" sh -c "! grep -q '^READY' '$T/wait.out' '$T/wait.err'"
wait_pid "$first" 60 >/dev/null
check "the first import committed too" grep -q '^OK import into synapse committed' "$T/first.out"
check "--wait: the whole dump arrived (its rows are in the target)" \
	test "$(psql_as tgt synapse -At -c 'SELECT count(*) FROM public.events')" = "$(dump_facts "$T/full.sql" | sed -n 's/.*FX_EVENTS=\([0-9]*\).*/\1/p')"
echo "# --wait took $((SECONDS - start)) s"

# --wait against a daemon that stays busy for longer than --wait
{ head -n $((l + 1)) "$T/full.sql"; sleep 8; tail -n +$((l + 2)) "$T/full.sql"; } |
	timeout 60 nc -N 127.0.0.1 "$SPORT" >/dev/null &
first=$!
bg_track "$first"
sleep 1
"$PGSLUICE" send --wait=3 "127.0.0.1:$SPORT" "$F" >"$T/short.out" 2>"$T/short.err"
check "--wait=3 on a daemon busy for longer: exit 1, the refusal as the answer" \
	sh -c "test $? -eq 1 && grep -q '^ERROR ' '$T/short.out'"
wait_pid "$first" 60 >/dev/null
serve_stop
