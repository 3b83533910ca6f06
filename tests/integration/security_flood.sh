#!/bin/bash
# security_flood.sh - 200 connections opened at once from one address
# while an import runs: the import completes (target equals the source);
# --max-unauthenticated-per-address (4) are served (told an import is
# running, or held in the handshake until --header-timeout), each of the
# others closed with one line as newer ones arrive (connlimits.h); the
# daemon's open fd count stays within the limit and returns to its idle
# value.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0
FLOOD=$ROOT/build/tools/flood
[ -x "$FLOOD" ] || { not_ok "build/tools/flood is built (make test builds it)"; exit 1; }

serve_prologue
sec_token

# sample_fds PID SECS: the most fds PID had, sampled every 0.05 s
sample_fds() {
	local pid=$1 secs=$2 max=0 n i
	for ((i = 0; i < secs * 20; i++)); do
		n=$(sec_fds "$pid")
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.05
	done
	echo "$max"
}

# flood_round LABEL AUTH_PREFIX: a slow import, 200 connections during it
flood_round() {
	local label=$1 auth=$2 idle_fds max_fds
	idle_fds=$(sec_fds "$SPID")
	sec_reset_target
	{ printf '%s' "$auth"; head -n 20000 "$T/full.sql"; sleep 5; tail -n +20001 "$T/full.sql"; } |
		timeout 90 nc -N 127.0.0.1 "$SPORT" >"$T/import.out" &
	local imp=$!
	wait_log '\] connected to the target' 10
	sample_fds "$SPID" 7 >"$T/maxfds" &
	local sampler=$!
	"$FLOOD" 127.0.0.1 "$SPORT" 200 7 >"$T/flood.out"
	wait_pid "$sampler"
	max_fds=$(cat "$T/maxfds")
	sed "s/^/# $label: /" "$T/flood.out"
	echo "# $label: daemon fds idle $idle_fds, at most $max_fds during the flood"
	get() { awk -v k="$1" '$1 == k { print $2 }' "$T/flood.out"; }
	check "$label: all 200 connected (none left hanging in the backlog)" test "$(get connected)" -eq 200
	check "$label: every connection answered with one line ($(get evicted) closed to make room, $(get too_many) too many, $(get busy) busy, $(get other_error) other)" \
		test $(($(get evicted) + $(get too_many) + $(get busy) + $(get other_error))) -eq 200
	check "$label: 196 closed to make room for newer ones (4 from one address)" test "$(get evicted)" -eq 196
	check "$label: no connection left open by the daemon" test "$(get open_at_end)" -eq 0
	check "$label: the daemon's fds stayed within the limit ($max_fds <= $idle_fds + 64 + 4)" test "$max_fds" -le $((idle_fds + 68))
	wait_pid "$imp"
	check "$label: the import completes: OK" grep -q '^OK import into synapse committed' "$T/import.out"
	tgt_dump >"$T/tgt.sql"
	check "$label: the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
	sec_wait_fds "$SPID" "$idle_fds" 15
	check "$label: the fd count returns to its idle value ($idle_fds)" test "$(sec_fds "$SPID")" -le "$idle_fds"
	check "$label: the daemon is alive" kill -0 "$SPID"
}

# 1. no token: the 4 kept are told who is importing and closed
serve_start --max-connections 64 --progress-interval 0 ||
	{ not_ok "daemon starts"; exit 1; }
flood_round "no token" ""
check "no token: the 4 kept are told an import is running" test "$(awk '$1 == "busy" { print $2 }' "$T/flood.out")" -eq 4
serve_stop

# 2. with a token: the 4 kept wait in the handshake and are closed at --header-timeout
serve_start --max-connections 64 --header-timeout 2 --token-file "$T/token" --progress-interval 0 ||
	{ not_ok "daemon starts with a token"; exit 1; }
flood_round "token" "AUTH $TOK
"
check "token: 4 are held in the handshake, and closed at --header-timeout" test "$(awk '$1 == "other_error" { print $2 }' "$T/flood.out")" -eq 4
check "token: none refused by --max-connections (the unauthenticated stay below it)" test "$(awk '$1 == "too_many" { print $2 }' "$T/flood.out")" -eq 0
check "the closings are logged (not one line each)" grep -q 'closed to make room: too many connections that have not authenticated from 127.0.0.1 (4, .*; 100 closed so far' "$T/serve.log"
check "token: no busy message leaks to unauthenticated clients" test "$(awk '$1 == "busy" { print $2 }' "$T/flood.out")" -eq 0

# 3. (long) a TLS daemon and 1000 connections that never start the
# handshake, while a TLS import runs
if [ -n "${PGSLUICE_TEST_LONG:-}" ]; then
	serve_stop
	"$PGSLUICE" gen-cert --host localhost --out "$T" >/dev/null
	serve_start --max-connections 64 --header-timeout 2 --tls-cert "$T/pgsluice.crt" --tls-key "$T/pgsluice.key" --progress-interval 0 ||
		{ not_ok "TLS daemon starts"; exit 1; }
	idle_fds=$(sec_fds "$SPID")
	sec_reset_target
	{ head -n 20000 "$T/full.sql"; sleep 5; tail -n +20001 "$T/full.sql"; } |
		timeout 90 openssl s_client -quiet -connect "127.0.0.1:$SPORT" >"$T/import.out" 2>/dev/null &
	imp=$!
	wait_log '\] connected to the target' 10
	"$FLOOD" 127.0.0.1 "$SPORT" 1000 8 >"$T/flood.out"
	sed "s/^/# tls 1000: /" "$T/flood.out"
	check "tls 1000: every connection closed by the daemon" test "$(awk '$1 == "open_at_end" { print $2 }' "$T/flood.out")" -eq 0
	wait_pid "$imp"
	check "tls 1000: the import completes: OK" grep -q '^OK import into synapse committed' "$T/import.out"
	sec_wait_fds "$SPID" "$idle_fds" 15
	check "tls 1000: the fd count returns to its idle value ($idle_fds)" test "$(sec_fds "$SPID")" -le "$idle_fds"
	check "tls 1000: the stalled handshakes were closed at --header-timeout" grep -q 'no TLS handshake within 2 s' "$T/serve.log"
fi
