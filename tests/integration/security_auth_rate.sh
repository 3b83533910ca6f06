#!/bin/bash
# security_auth_rate.sh - wrong tokens are rate-limited for the daemon as
# a whole, not only per address: 3,000 wrong tokens from 3,000 loopback
# addresses (127.2.X.Y), 32 at a time, against --auth-failure-rate 300
# take at least (3000 - 300) / 300 = 9 s (one second's worth of credits
# is spent at once); without the limit they take about a second.  During
# them the right token (another address) waits its turn and is let in.
# The right token from an address with failures is not refused unread: it
# waits its turn, and its import runs.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0
AUTHFLOOD=$ROOT/tests/tools/authflood.py

serve_clusters || { not_ok "clusters start"; exit 1; }
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
load_fixture "$F"
src_dump >"$T/src.sql"
sec_token

RATE=300 N=3000
serve_start --token-file "$T/token" --auth-failure-rate $RATE --max-connections 200 --progress-interval 0 ||
	{ not_ok "daemon starts with a token"; exit 1; }
check "the rate is in the startup line" grep -q "$RATE AUTH failures/s" "$T/serve.log"

# 1. 3,000 wrong tokens from 3,000 addresses; 2 s in, the sender (from
# 127.0.0.1) connects with the right token: it waits its turn among them
python3 "$AUTHFLOOD" "$SPORT" $N 32 >"$T/flood.out" &
fl=$!
sleep 2
sec_reset_target
s=$(date +%s.%N)
{ echo "AUTH $TOK"; gunzip -c "$F"; } | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/import.out"
echo "# the right token during the flood: the import answered in $(echo "$(date +%s.%N) - $s" | bc) s"
wait_pid "$fl"
sed 's/^/# /' "$T/flood.out"
get() { awk -v k="$1" '$1 == k { print $2 }' "$T/flood.out"; }
min=$(echo "($N - $RATE) / $RATE" | bc -l)
check "$N wrong tokens: each answered \"wrong token\"" test "$(get wrong_token)" -eq $N
check "$N wrong tokens from $N addresses took $(get elapsed) s >= $(printf %.1f "$min") s (--auth-failure-rate $RATE)" test "$(echo "$(get elapsed) >= $min" | bc)" -eq 1
check "the attempts waited their turn (logged)" grep -q 'AUTH attempt from 127.2.[0-9.]* waits its turn' "$T/serve.log"
check "no attempt was refused unread" test "$(grep -c 'refused after waiting' "$T/serve.log")" -eq 0
if grep -q '^OK import into synapse committed' "$T/import.out"; then ok "the right token during the flood: let in, the import runs"; else
	not_ok "the right token during the flood: let in, the import runs"; head -5 "$T/import.out" | sed 's/^/# /'; fi
tgt_dump >"$T/tgt.sql"
check "  the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
sec_alive "the daemon runs on"

# 2. an address with failures: 5 answered at once, then one a second; the
# right token from it after them is not refused: it waits its turn
python3 "$AUTHFLOOD" "$SPORT" 8 1 127.0.0.9 >"$T/flood9.out"
sed 's/^/# 127.0.0.9: /' "$T/flood9.out"
check "8 failures from 127.0.0.9: the last 3 waited a second each (>= 2.7 s in all)" test "$(echo "$(awk '$1 == "elapsed" { print $2 }' "$T/flood9.out") >= 2.7" | bc)" -eq 1
sec_reset_target
{ echo "AUTH $TOK"; gunzip -c "$F"; } | timeout 120 nc -N -s 127.0.0.9 127.0.0.1 "$SPORT" >"$T/import9.out"
if grep -q '^OK import into synapse committed' "$T/import9.out"; then ok "the right token from 127.0.0.9 after its failures: let in, the import runs"; else
	not_ok "the right token from 127.0.0.9 after its failures: let in, the import runs"; head -5 "$T/import9.out" | sed 's/^/# /'; fi
check "  it waited its turn (logged)" grep -q 'AUTH attempt from 127.0.0.9 waits its turn' "$T/serve.log"
