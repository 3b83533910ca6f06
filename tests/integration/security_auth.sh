#!/bin/bash
# security_auth.sh - token authentication (--token-file): the stream must
# begin with "AUTH <token>"; a missing, wrong, over-long or dribbled AUTH
# line is refused with a clear message, logged with the client's address,
# and nothing reaches the target; repeated failures from one address are
# slowed down (and other addresses are not), without refusing the right
# token from that address; a token file that group or
# others can read stops the daemon at startup; TLS and token together.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0

serve_prologue
TOK=$(openssl rand -hex 32)
printf '%s\n' "$TOK" >"$T/token"

# 1. a token file others can read: refused at startup
chmod 644 "$T/token"
timeout 10 "$PGSLUICE" serve --target "$TARGET" --listen "127.0.0.1:$(free_port)" --token-file "$T/token" >"$T/out0" 2>&1
rc=$?
check "token file mode 644: the daemon refuses to start (status 2)" test "$rc" -eq 2
check "  and says chmod 600" grep -q 'accessible by group or others (mode 0644); run: chmod 600' "$T/out0"
chmod 600 "$T/token"

serve_start --token-file "$T/token" --header-timeout 2 --clear-target --progress-interval 0 ||
	{ not_ok "daemon starts with --token-file"; exit 1; }
idle_fds=$(sec_fds "$SPID")

# 2. the right token: the import runs
{ echo "AUTH $TOK"; cat "$F"; } | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out1"
check "right token (gzip dump after the AUTH line): OK" grep -q '^OK import into synapse committed' "$T/out1"
tgt_dump >"$T/before.sql"
check "right token: the target equals the source" cmp -s "$T/src.sql" "$T/before.sql"
check "right token: logged" grep -q 'AUTH: token accepted' "$T/serve.log"
n_connected=$(grep -c 'connected to the target' "$T/serve.log")

# refused NAME PATTERN < input: an ERROR matching PATTERN, nothing imported.
# Each case from its own source address (127.0.0.1x), so that the
# failures' penalties do not mix.
src=10
refused() {
	local name=$1 pat=$2
	src=$((src + 1))
	timeout 30 nc -N -s "127.0.0.$src" 127.0.0.1 "$SPORT" >"$T/out" 2>&1
	if grep -q "^ERROR $pat" "$T/out"; then ok "$name: refused with a clear message"; else
		not_ok "$name: refused with a clear message"; sed 's/^/# /' "$T/out" | head -5; fi
	check "$name: nothing else is sent back" test "$(grep -vc '^ERROR' "$T/out")" -eq 0
}

# 3. no AUTH line
refused "no AUTH line" 'the stream does not begin with the line "AUTH <token>"' <"$T/full.sql"
wait_log 'AUTH failed from 127.0.0.11: the stream does not begin' 5
check "no AUTH line: logged with the client's address" grep -q 'WARN .*AUTH failed from 127.0.0.11: the stream does not begin' "$T/serve.log"

# 4. a wrong token (the same length, one character off)
refused "wrong token" 'authentication failed: wrong token$' < <(echo "AUTH ${TOK%?}x"; cat "$T/full.sql")
refused "token with a suffix" 'authentication failed: wrong token$' < <(echo "AUTH ${TOK}x"; cat "$T/full.sql")
refused "empty token" 'authentication failed: wrong token$' < <(echo "AUTH "; cat "$T/full.sql")
# 5. an AUTH line of 1 MB
echo 5 >"/proc/$SPID/clear_refs" 2>/dev/null
refused "AUTH line of 1 MB" 'the AUTH line is longer than' < <(printf 'AUTH '; head -c 1048576 /dev/zero | tr '\0' a; echo; cat "$T/full.sql")
hwm=$(sec_hwm_kb "$SPID")
echo "# AUTH line of 1 MB: daemon peak RSS $hwm kB"
check "AUTH line of 1 MB: peak RSS $hwm kB <= 40000 kB (not held: refused at 4 KB)" test "$hwm" -le 40000
check "nothing reached the target: no target connection for the refused" test "$(grep -c 'connected to the target' "$T/serve.log")" -eq "$n_connected"
sec_unchanged "refusals: target unchanged" "$T/before.sql"

# 6. a dribbled AUTH line: closed at --header-timeout (2 s)
{ for c in A U T H ' ' a b c d e f; do printf %s "$c"; sleep 1; done; } | timeout 20 nc 127.0.0.1 "$SPORT" >"$T/out6" 2>&1 &
dribble=$!
check "dribbled AUTH line: closed after --header-timeout (2 s)" wait_log 'no complete AUTH line within 2 s of connecting (--header-timeout)' 4
wait_pid "$dribble"
check "dribbled AUTH line: the client is told" grep -q '^ERROR no complete AUTH line within 2 s of connecting (--header-timeout)' "$T/out6"
# a client that connects and sends nothing
timeout 20 nc 127.0.0.1 "$SPORT" < <(sleep 4) >"$T/out7" 2>&1
check "silent client: closed after --header-timeout" grep -q '^ERROR no complete AUTH line within 2 s' "$T/out7"

# 7. repeated failures from one address are slowed down (5 at once, then
# one a second), and the right token from that address still gets in
secs=()
for i in 1 2 3 4 5 6 7; do
	s=$(date +%s.%N)
	{ echo "AUTH wrong$i"; cat "$T/full.sql"; } | timeout 30 nc -N -s 127.0.0.2 127.0.0.1 "$SPORT" >"$T/out8.$i" 2>&1
	secs+=("$(echo "$(date +%s.%N) - $s" | bc)")
done
echo "# wrong-token attempts from 127.0.0.2 took: ${secs[*]} s"
head -3 "$T"/out8.* | sed 's/^/# /'
check "1st to 5th failure: answered at once" test "$(echo "${secs[0]} < 1 && ${secs[1]} < 1 && ${secs[2]} < 1 && ${secs[3]} < 1 && ${secs[4]} < 1" | bc)" -eq 1
check "7th attempt waits its turn (about 1 s)" test "$(echo "${secs[6]} >= 0.9" | bc)" -eq 1
check "the 7 take at least 2 s in all (5 credits, then one a second)" test "$(echo "${secs[0]} + ${secs[1]} + ${secs[2]} + ${secs[3]} + ${secs[4]} + ${secs[5]} + ${secs[6]} >= 1.9" | bc)" -eq 1
check "each is still refused: wrong token" test "$(grep -l '^ERROR authentication failed: wrong token$' "$T"/out8.* | wc -l)" -eq 7
check "the failures are counted in the log" grep -q 'AUTH failed from 127.0.0.2: .*(failure 7 from this address; its next attempt waits 0.[0-9]* s)' "$T/serve.log"
check "the wait is logged" grep -q 'AUTH attempt from 127.0.0.2 waits its turn' "$T/serve.log"
sec_unchanged "failures: target unchanged" "$T/before.sql"
sec_reset_target
s=$(date +%s.%N)
{ echo "AUTH $TOK"; cat "$T/full.sql"; } | timeout 60 nc -N -s 127.0.0.2 127.0.0.1 "$SPORT" >"$T/out9" 2>&1
echo "# the right token from 127.0.0.2 after its failures: answered in $(echo "$(date +%s.%N) - $s" | bc) s"
check "then the right token from that address is not refused: it waits its turn and imports" grep -q '^OK import into synapse committed' "$T/out9"
# another address is not slowed down by them
for i in 1 2 3 4 5 6; do
	echo "AUTH wrong$i" | timeout 30 nc -N -s 127.0.0.2 127.0.0.1 "$SPORT" >/dev/null 2>&1
done
sec_reset_target
s=$SECONDS
{ echo "AUTH $TOK"; cat "$T/full.sql"; } | timeout 60 nc -N 127.0.0.1 "$SPORT" >"$T/out10"
check "another address: imports at once" grep -q '^OK import into synapse committed' "$T/out10"
sec_wait_fds "$SPID" "$idle_fds" 10
check "fds back to the idle count ($idle_fds)" test "$(sec_fds "$SPID")" -le "$idle_fds"
sec_alive "the daemon runs on"
serve_stop

# 8. TLS and token together (socat)
"$PGSLUICE" gen-cert --host localhost --out "$T" >/dev/null
serve_start --token-file "$T/token" --tls-cert "$T/pgsluice.crt" --tls-key "$T/pgsluice.key" --clear-target --progress-interval 0 ||
	{ not_ok "daemon starts with TLS and a token"; exit 1; }
{ echo "AUTH $TOK"; cat "$F"; } | timeout 120 socat -t 30 - "OPENSSL:localhost:$SPORT,cafile=$T/pgsluice.crt" >"$T/out11" 2>&1
check "TLS + token (socat): OK" grep -q '^OK import into synapse committed' "$T/out11"
{ echo "AUTH nope"; cat "$F"; } | timeout 30 socat -t 10 - "OPENSSL:localhost:$SPORT,cafile=$T/pgsluice.crt" >"$T/out12" 2>&1
check "TLS + wrong token: refused over TLS" grep -q '^ERROR authentication failed: wrong token$' "$T/out12"

# 9. pgsluice send, when built: TLS, the daemon's certificate, the token
if "$PGSLUICE" send --help >/dev/null 2>&1; then
	sec_reset_target
	timeout 120 "$PGSLUICE" send -q --ca "$T/pgsluice.crt" --token-file "$T/token" "localhost:$SPORT" "$F" >"$T/out13" 2>&1
	rc=$?
	check "pgsluice send --ca --token-file: exit 0, OK" bash -c "test $rc -eq 0 && grep -q '^OK import into synapse committed' '$T/out13'"
	printf 'not-the-token\n' >"$T/badtoken"
	chmod 600 "$T/badtoken"
	timeout 30 "$PGSLUICE" send -q --ca "$T/pgsluice.crt" --token-file "$T/badtoken" "localhost:$SPORT" "$F" >"$T/out14" 2>&1
	rc=$?
	check "pgsluice send with a wrong token: exit 1, the refusal printed" bash -c "test $rc -eq 1 && grep -q '^ERROR authentication failed: wrong token' '$T/out14'"
else
	skip "pgsluice send is not built: not tried against TLS and a token"
fi
