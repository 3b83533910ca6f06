#!/bin/bash
# security_unauth.sh - connections that never authenticate cannot take the
# daemon's places: 500 idle connections from one address, then 500 from
# 200 loopback addresses (127.0.0.2-201), are held to
# --max-unauthenticated-per-address (4) and --max-unauthenticated (32,
# half of --max-connections 64), each newcomer closing the one that waited
# longest with one line; meanwhile a real sender with the token connects
# (from 127.0.0.1, the flood's own address in the first round) and its
# import runs.  The same without a token, where a client counts as
# unauthenticated until its dump begins.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0
FLOOD=$ROOT/build/tools/flood
[ -x "$FLOOD" ] || { not_ok "build/tools/flood is built (make test builds it)"; exit 1; }

serve_clusters || { not_ok "clusters start"; exit 1; }
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
load_fixture "$F"
src_dump >"$T/src.sql"
sec_token

# round LABEL SOURCES MAX_OPEN MARK AUTH_PREFIX: 500 idle connections held
# 20 s; once they are in (the daemon's log counts MARK closings so far),
# the sender imports
round() {
	local label=$1 sources=$2 max_open=$3 mark=$4 auth=$5 idle_fds fl get
	idle_fds=$(sec_fds "$SPID")
	sec_reset_target
	FLOOD_SOURCES=$sources "$FLOOD" 127.0.0.1 "$SPORT" 500 20 >"$T/flood.out" &
	fl=$!
	wait_log "; $mark closed so far" 15
	sleep 0.5
	echo "# $label: daemon fds idle $idle_fds, $(sec_fds "$SPID") with the flood in"
	check "$label: the flood holds at most $max_open of the daemon's places" test "$(sec_fds "$SPID")" -le $((idle_fds + max_open + 2))
	{ printf '%s' "$auth"; gunzip -c "$F"; } | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/import.out"
	if grep -q '^OK import into synapse committed' "$T/import.out"; then ok "$label: the sender's import runs: OK"; else
		not_ok "$label: the sender's import runs: OK"; head -5 "$T/import.out" | sed 's/^/# /'; tail -5 "$T/serve.log" | sed 's/^/# log: /'; fi
	tgt_dump >"$T/tgt.sql"
	check "$label: the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
	wait_pid "$fl"
	sed "s/^/# $label: /" "$T/flood.out"
	get() { awk -v k="$1" '$1 == k { print $2 }' "$T/flood.out"; }
	check "$label: all 500 connected" test "$(get connected)" -eq 500
	check "$label: at most $max_open left open at the end" test "$(get open_at_end)" -le "$max_open"
	check "$label: the others were closed to make room, with one line ($(get evicted))" test "$(get evicted)" -ge $((500 - max_open - 1))
	check "$label: none refused by --max-connections" test "$(get too_many)" -eq 0
	sec_wait_fds "$SPID" "$idle_fds" 15
	check "$label: the fd count returns to its idle value ($idle_fds)" test "$(sec_fds "$SPID")" -le "$idle_fds"
}

serve_start --max-connections 64 --header-timeout 60 --token-file "$T/token" --progress-interval 0 ||
	{ not_ok "daemon starts with a token"; exit 1; }
check "the limits are in the startup line" grep -q 'limits: 64 connections (32 not authenticated, 4 from one address)' "$T/serve.log"
round "token, one address" 0 4 400 "AUTH $TOK
"
check "token, one address: the closings are logged (not one line each)" grep -q 'closed to make room: too many connections that have not authenticated from 127.0.0.1 (4, the daemon.s --max-unauthenticated-per-address).*; 100 closed so far' "$T/serve.log"
round "token, 200 addresses" 200 32 900 "AUTH $TOK
"
check "token, 200 addresses: the closings name the cap in all" grep -q 'closed to make room: too many connections that have not authenticated in all (32, the daemon.s --max-unauthenticated)' "$T/serve.log"
sec_alive "the daemon runs on"
serve_stop

# without a token: idle connections wait for a dump, and count until it begins
serve_start --max-connections 64 --progress-interval 0 ||
	{ not_ok "daemon starts without a token"; exit 1; }
round "no token, 200 addresses" 200 32 400 ""
sec_alive "no token: the daemon runs on"

# an explicit cap at or above --max-connections is refused at startup
timeout 10 "$PGSLUICE" serve --target "$TARGET" --listen "127.0.0.1:$(free_port)" --max-connections 10 --max-unauthenticated 10 >"$T/out0" 2>&1
rc=$?
check "--max-unauthenticated 10 with --max-connections 10: refused (status 2)" test "$rc" -eq 2
check "  and says why" grep -q 'want fewer than --max-connections (10)' "$T/out0"
