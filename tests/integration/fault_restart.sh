#!/bin/bash
# fault_restart.sh - the target server restarts (pg_ctl restart -m fast)
# in the middle of an import, at a random line of a random phase of the
# Synapse dump (all three phases in the long variant): the client is told,
# the target is as it was once the server is back, and the next import
# succeeds.  Then the server is down when an import starts: the client is
# told at once, with libpq's message, and nothing hangs.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

fault_setup || { not_ok "cluster and reference"; exit 1; }
serve_start --progress-interval 0 --connect-timeout 10 || { not_ok "daemon starts"; exit 1; }

restart_target() { pg_restart tgt; }

if [ -n "$FAULT_LONG" ]; then
	phases="pre-data copy index"
else
	rand_below 3
	phases=$(echo pre-data copy index | cut -d' ' -f$((R + 1)))
fi
told=""
for phase in $phases; do
	phase_offset "$phase"
	name="target restarted in $phase (line $PLINE, byte $OFF)"
	pause_inject "$name" restart_target
	if grep -q -E '^ERROR .*(terminating connection due to administrator command|lost the target connection)' "$T/out"; then
		ok "$name: the client is told ($TOLD s after the restart began)"
	else
		not_ok "$name: the client is told"; sed 's/^/# /' "$T/out" | head
	fi
	grep -E '^(ERROR|  )' "$T/out" | head -3 | sed 's/^/# /'
	told="$told $TOLD"
	expect_unchanged "$name"
	"$CUT" 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
	check "$name: the next import: OK" grep -q '^OK import into synapse committed' "$T/out"
	expect_complete "$name: the next import"
done

# the server is down when the import starts
pg_stop tgt
t0=$(date +%s%N)
"$CUT" -t 60 127.0.0.1 "$SPORT" "$PLAIN" >"$T/out" 2>/dev/null
down_ms=$((($(date +%s%N) - t0) / 1000000))
if grep -q '^ERROR cannot connect to the target: .*Connection refused' "$T/out"; then
	ok "target down: ERROR with libpq's message"
else
	not_ok "target down: ERROR with libpq's message"; sed 's/^/# /' "$T/out" | head
fi
check "target down: the client is told at once (in ${down_ms} ms)" test "$down_ms" -lt 5000
check "target down: nothing changed" grep -q 'nothing was changed in the target' "$T/out"
_as_postgres pg_ctl -D "$T/pg-tgt" -l "$T/pg-tgt/server.log" -w start >/dev/null 2>&1
expect_unchanged "target down, then up again"
"$CUT" 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
check "target up again: the next import: OK" grep -q '^OK import into synapse committed' "$T/out"
expect_complete "target up again: the next import"
check "daemon alive" kill -0 "$SPID"
serve_stop
echo "# figures: restarts in [$phases], client told after (s):$told; target down: told in $down_ms ms; $((SECONDS - start)) s"
