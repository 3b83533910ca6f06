#!/bin/bash
# serve_busy.sh - a second client while an import runs is refused with who
# is importing since when, and the first import completes.  A second
# daemon process on the same target is refused by the advisory lock.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_prologue
serve_start --progress-interval 0.5 || { not_ok "daemon starts"; exit 1; }

# the first import, held in the middle of the dump (at least 4 s) until
# the checks below are done ($T/release), at most 60 s
{
	head -n 20000 "$T/full.sql"
	for ((i = 0; i < 600; i++)); do
		[ "$i" -ge 40 ] && [ -e "$T/release" ] && break
		sleep 0.1
	done
	tail -n +20001 "$T/full.sql"
} | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out1" &
first=$!
wait_log '\[#1 .*connected to the target' 60 || not_ok "the first import connects to the target"

# a second client of the same daemon
send_nc "$T/full.sql" "$T/out2"
if grep -q "^ERROR an import into synapse from 127.0.0.1 is running since [0-2][0-9]:[0-5][0-9]:[0-5][0-9]; try again when it has finished$" "$T/out2"; then
	ok "second client refused with who and since when"
else
	not_ok "second client refused with who and since when"; sed 's/^/# /' "$T/out2"
fi
check "second client gets nothing else" test "$(wc -l <"$T/out2")" -eq 1

# a second daemon process on the same target: the advisory lock refuses
start_daemon "$T/serve2.log" 127.0.0.1 --target "$TARGET" --once --quiet ||
	{ not_ok "second daemon starts"; _log_tail "$T/serve2.log"; }
pid2=$DAEMON_PID
timeout 30 nc -N 127.0.0.1 "$DAEMON_PORT" <"$T/full.sql" >"$T/out3"
wait_pid "$pid2" 60 "$T/serve2.log"
rc=$?
check "second daemon: refused by the import lock" grep -q '^ERROR another import into synapse is running' "$T/out3"
check "second daemon: nothing changed" grep -q 'nothing was changed in the target' "$T/out3"
check "second daemon (--once): exits 1" test "$rc" -eq 1
touch "$T/release"

wait_pid "$first"
check "the first import completes: OK" grep -q '^OK import into synapse committed' "$T/out1"
check "the first import's client saw progress lines" grep -q '^progress: ' "$T/out1"
tgt_dump >"$T/tgt.sql"
check "the first import: target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
