#!/bin/bash
# security_auth_rate.sh - wrong tokens are rate-limited for the daemon as
# a whole, not only per address: 3,000 wrong tokens from 3,000 loopback
# addresses (127.2.X.Y), 32 at a time, against --auth-failure-rate 300
# take at least (3000 - 300) / 300 = 9 s (one second's worth of credits
# is spent at once); without the limit they take about a second.  While
# an address keeps sending wrong tokens, the right token from that same
# address is still let in (it waits its turn; it is never refused
# unread), and its import runs.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0
AUTHFLOOD=$ROOT/tests/tools/authflood.py

serve_clusters || { not_ok "clusters start"; exit 1; }
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
load_fixture "$F"
src_dump >"$T/src.sql"
TOK=$(openssl rand -hex 24)
printf '%s\n' "$TOK" >"$T/token"
chmod 600 "$T/token"

RATE=300 N=3000
serve_start --token-file "$T/token" --auth-failure-rate $RATE --max-connections 200 --progress-interval 0 ||
	{ not_ok "daemon starts with a token"; exit 1; }
check "the rate is in the startup line" grep -q "$RATE AUTH failures/s" "$T/serve.log"

# 1. 3,000 wrong tokens from 3,000 addresses
python3 "$AUTHFLOOD" "$SPORT" $N 32 >"$T/flood.out"
sed 's/^/# /' "$T/flood.out"
get() { awk -v k="$1" '$1 == k { print $2 }' "$T/flood.out"; }
min=$(echo "($N - $RATE) / $RATE" | bc -l)
check "$N wrong tokens: each answered \"wrong token\"" test "$(get wrong_token)" -eq $N
check "$N wrong tokens from $N addresses took $(get elapsed) s >= $(printf %.1f "$min") s (--auth-failure-rate $RATE)" test "$(echo "$(get elapsed) >= $min" | bc)" -eq 1
check "the attempts waited their turn (logged)" grep -q 'AUTH attempt from 127.2.[0-9.]* waits its turn' "$T/serve.log"
check "no attempt was refused unread" test "$(grep -c 'refused after waiting' "$T/serve.log")" -eq 0
sec_alive "the daemon runs on"

# 2. an address that keeps failing does not lock out the right token from it
python3 "$AUTHFLOOD" "$SPORT" 40 4 127.0.0.9 >"$T/flood9.out" &
fl=$!
sleep 2
sec_reset_target
s=$(date +%s.%N)
{ echo "AUTH $TOK"; gunzip -c "$F"; } | timeout 120 nc -N -s 127.0.0.9 127.0.0.1 "$SPORT" >"$T/import.out"
echo "# the right token from 127.0.0.9 among its failures: answered in $(echo "$(date +%s.%N) - $s" | bc) s"
wait_pid "$fl"
sed 's/^/# 127.0.0.9: /' "$T/flood9.out"
if grep -q '^OK import into synapse committed' "$T/import.out"; then ok "the right token among failures from its address: let in, the import runs"; else
	not_ok "the right token among failures from its address: let in, the import runs"; head -5 "$T/import.out" | sed 's/^/# /'; fi
tgt_dump >"$T/tgt.sql"
check "  the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
check "  the failures from 127.0.0.9 were slowed down (40 at 1 a second after 5: >= 30 s)" test "$(echo "$(awk '$1 == "elapsed" { print $2 }' "$T/flood9.out") >= 30" | bc)" -eq 1
