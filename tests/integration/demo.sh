#!/bin/bash
# demo.sh - `make demo` works with no terminal, as CI runs it: scripts/demo.sh
# exits 0, nc showed the daemon's OK and summary, the verification found
# the same row counts, and no cluster or daemon is left running.
. "$(dirname "$0")/../lib/common.sh"

if [ ! -x "$PGSLUICE" ]; then
	not_ok "demo: $PGSLUICE not built (run make)"
	exit 1
fi
bash "$ROOT/scripts/demo.sh" </dev/null >"$T/demo.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "demo: scripts/demo.sh exits 0 without a terminal"
else
	not_ok "demo: scripts/demo.sh exited $rc"
	tail -n 40 "$T/demo.out" | sed 's/^/    | /'
fi
check "demo: nc showed the daemon's OK line" grep -q '^OK' "$T/demo.out"
check "demo: nc showed the summary's per-table rows" grep -q '^  rows public.events: 840' "$T/demo.out"
check "demo: verification: all five tables and the sequence the same" \
	test "$(grep -cE '^  [a-z_]+ +[0-9]+ +[0-9]+  same$' "$T/demo.out")" -eq 6
check "demo: no DIFFERENT line" bash -c "! grep -q DIFFERENT '$T/demo.out'"
check "demo: everything owned by synapse_user" grep -q 'owner of every object in target.public: synapse_user' "$T/demo.out"
# nothing left behind: no postmaster and no pgsluice from the demo (the
# [x] in each pattern keeps pgrep from matching its own bash -c)
check "demo: no scratch cluster left running" \
	bash -c "! pgrep -f -- '[-]D $ROOT/.demo/pg' >/dev/null && ! pgrep -f -- '[-]D /tmp/pgsluice-demo[.]' >/dev/null"
check "demo: no pgsluice serve left running" \
	bash -c "! pgrep -f -- 'pgsluice [s]erve --once --clear-target --progress-interval 0[.]5' >/dev/null"
