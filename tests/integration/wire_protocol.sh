#!/bin/bash
# wire_protocol.sh - PostgreSQL clients that break the protocol:
# garbage after the startup packet, a message length of 2 GB, CopyData
# outside COPY, garbage in place of the startup packet: each gets an
# ErrorResponse and is closed, nothing reaches the target, and the daemon
# keeps serving (a psql import works after them).  The extended query
# protocol is refused with an ErrorResponse (the connection stays until
# the client's Terminate).  A CancelRequest is closed without a word.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
. "$(dirname "$0")/wire_common.bash"
need_fixtures || exit 0
WC=$ROOT/build/tools/wireclient
[ -x "$WC" ] || { not_ok "build/tools/wireclient is built (make test builds it)"; exit 1; }

wire_setup || { not_ok "clusters and fixture"; exit 1; }
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }

for mode in garbage oversize copydata startup-garbage; do
	timeout 30 "$WC" 127.0.0.1 "$SPORT" "$mode" >"$T/wc-$mode" 2>&1
	rc=$?
	check "$mode: an ErrorResponse, then closed by the daemon" test "$rc" -eq 0
	check "$mode: the error is FATAL (protocol violation)" grep -q '^E FATAL 08P01 ' "$T/wc-$mode"
	sed 's/^/# /' "$T/wc-$mode" | grep -v '^# [SK]$' | head -4
	check "$mode: nothing reached the target" test "$(tgt_count)" -eq 0
done
check "oversize: the message names the limit" grep -q 'more than --max-statement' "$T/wc-oversize"
check "copydata: the message says CopyData outside COPY" grep -q 'CopyData received outside COPY FROM STDIN' "$T/wc-copydata"

timeout 30 "$WC" 127.0.0.1 "$SPORT" extended >"$T/wc-extended" 2>&1
check "extended query protocol: refused with an ErrorResponse" grep -q '^E ERROR .* the extended query protocol (Parse/Bind/Execute) is not supported' "$T/wc-extended"
check "extended query protocol: ReadyForQuery after the Sync" grep -q '^Z I' "$T/wc-extended"

# a CancelRequest: closed quietly
printf '\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x01\0\0\0\x02' | timeout 10 nc -N 127.0.0.1 "$SPORT" >"$T/cancel.out"
check "CancelRequest: closed without a word" test ! -s "$T/cancel.out"

sec_alive "the daemon runs on after all of them"
wire_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >/dev/null 2>"$T/err-after"
check "then psql imports the fixture" grep -q 'NOTICE:  OK import into synapse committed' "$T/err-after"
wire_same "then: the target equals the source"
