#!/bin/bash
# security_tls.sh - TLS through bufferevent_openssl, with real clients:
# openssl s_client and socat import the Synapse fixture and the target
# equals the source; a plaintext client on the TLS port is refused cleanly
# (a plaintext line telling it to use TLS, no crash, nothing imported); TLS 1.1 is refused; the certificate comes
# from pgsluice gen-cert; mutual TLS (--tls-client-ca) wants a client
# certificate from the right CA and logs its subject; a non-loopback
# --listen without TLS is refused unless --insecure-plaintext.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0

serve_prologue
mkdir -p "$T/pki"

# gen-cert
sec_gencert "$T/pki"
check "gen-cert writes a certificate and a key" test -s "$T/pki/pgsluice.crt" -a -s "$T/pki/pgsluice.key"
check "gen-cert: the key file is mode 600" test "$(stat -c %a "$T/pki/pgsluice.key")" = 600
check "gen-cert: SAN has the name and the IP address" \
	bash -c "openssl x509 -in '$T/pki/pgsluice.crt' -noout -ext subjectAltName | grep -q 'DNS:localhost, IP Address:127.0.0.1'"
check "gen-cert: the certificate verifies as its own anchor" bash -c "openssl verify -CAfile '$T/pki/pgsluice.crt' '$T/pki/pgsluice.crt' >/dev/null"
check "gen-cert refuses to overwrite without --force" bash -c "! '$PGSLUICE' gen-cert --host localhost --out '$T/pki' 2>/dev/null"
CRT=$T/pki/pgsluice.crt KEY=$T/pki/pgsluice.key

serve_start --tls-cert "$CRT" --tls-key "$KEY" --clear-target --progress-interval 0 ||
	{ not_ok "daemon starts with TLS"; exit 1; }
idle_fds=$(sec_fds "$SPID")

# 1. openssl s_client -quiet (it keeps reading after its input ends)
timeout 120 openssl s_client -quiet -verify_return_error -CAfile "$CRT" -verify_hostname localhost \
	-connect "127.0.0.1:$SPORT" <"$T/full.sql" >"$T/out1" 2>"$T/err1"
if grep -q '^OK import into synapse committed' "$T/out1"; then ok "s_client: OK"; else
	not_ok "s_client: OK"; sed 's/^/# /' "$T/out1" "$T/err1" | head; fi
tgt_dump >"$T/tgt.sql"
check "s_client: the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
check "the log names the TLS version and cipher" grep -q 'TLS: TLSv1.3 TLS_' "$T/serve.log"

# 2. socat, gzip input, hostname and CA checked by socat
sec_reset_target
timeout 120 socat -t 30 - "OPENSSL:localhost:$SPORT,cafile=$CRT" <"$F" >"$T/out2" 2>"$T/err2"
if grep -q '^OK import into synapse committed' "$T/out2"; then ok "socat (gzip): OK"; else
	not_ok "socat (gzip): OK"; sed 's/^/# /' "$T/out2" "$T/err2" | head; fi
tgt_dump >"$T/tgt.sql"
check "socat: the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"

# 3. ncat --ssl, when installed
if command -v ncat >/dev/null; then
	sec_reset_target
	timeout 120 ncat --no-shutdown --ssl --ssl-verify --ssl-trustfile "$CRT" localhost "$SPORT" <"$F" >"$T/out3" 2>&1
	check "ncat --ssl: OK" grep -q '^OK import into synapse committed' "$T/out3"
else
	skip "ncat not installed: ncat --ssl not tried"
fi

# 3b. the tail of a stream arriving while the target is busy (read high
# mark reached with TLS records half read): the import must not stall
for extra in 6 14; do
	{
		printf 'SET statement_timeout = 0;\nCREATE TABLE public.tail_t (a integer, b text);\n'
		printf 'CREATE FUNCTION public.nap() RETURNS boolean LANGUAGE sql AS $$SELECT pg_catalog.pg_sleep(1) IS NOT NULL$$;\n'
		printf 'CREATE TABLE public.nap_t (a integer CHECK (public.nap()));\nINSERT INTO public.nap_t VALUES (1);\n'
		echo 'COPY public.tail_t (a, b) FROM stdin;'
		i=0
		while [ $((i * 107)) -lt $(((256 + extra) * 1024)) ]; do printf '%06d\t%0100d\n' "$i" 0; i=$((i + 1)); done
		echo '\.'
		printf '\n--\n-- PostgreSQL database dump complete\n--\n\n'
	} >"$T/tail.sql"
	sec_reset_target
	timeout 30 openssl s_client -quiet -connect "127.0.0.1:$SPORT" <"$T/tail.sql" >"$T/outt" 2>/dev/null
	check "TLS, the stream's last 256+${extra} KB arrive while the target sleeps: no stall" grep -q '^OK import into synapse committed' "$T/outt"
done

# 4. a plaintext client on the TLS port: refused, nothing imported, no crash
tgt_dump >"$T/before.sql"
timeout 20 nc -N 127.0.0.1 "$SPORT" <"$T/full.sql" >"$T/out4" 2>&1
rc=$?
check "plaintext client on the TLS port: closed (not hung)" test "$rc" -ne 124
check "plaintext client: no OK" bash -c "! grep -q '^OK' '$T/out4'"
check "plaintext client: told in plaintext to use TLS" grep -q '^ERROR this port speaks TLS: use pgsluice send --ca' "$T/out4"
wait_log 'ERROR this port speaks TLS' 5
check "plaintext client: logged" grep -q 'ERROR this port speaks TLS' "$T/serve.log"
sec_unchanged "plaintext client: target unchanged" "$T/before.sql"
sec_alive "plaintext client: the daemon runs on"

# 5. TLS 1.1 (and 1.0) are refused; compression is off
echo | timeout 10 openssl s_client -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' -connect "127.0.0.1:$SPORT" >"$T/out5" 2>&1
check "TLS 1.1 client: no session" grep -q 'Cipher is (NONE)' "$T/out5"
wait_log 'TLS handshake failed: .*unsupported protocol' 5
check "TLS 1.1 client: logged as an unsupported protocol" grep -q 'TLS handshake failed: .*unsupported protocol' "$T/serve.log"
echo | timeout 10 openssl s_client -tls1_2 -CAfile "$CRT" -connect "127.0.0.1:$SPORT" >"$T/out6" 2>&1
check "TLS 1.2 client: accepted, no compression" bash -c "grep -q 'Protocol *: TLSv1.2' '$T/out6' && grep -q 'Compression: NONE' '$T/out6'"

# 6. a stalled handshake (a TCP client that sends nothing) is closed at --header-timeout
serve_stop
serve_start --tls-cert "$CRT" --tls-key "$KEY" --header-timeout 2 --progress-interval 0 ||
	{ not_ok "daemon restarts"; exit 1; }
start=$SECONDS
timeout 20 nc 127.0.0.1 "$SPORT" </dev/null >/dev/null 2>&1 &
ncpid=$!
sleep 0.3
# half a ClientHello
{ printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'; sleep 8; } | timeout 20 nc 127.0.0.1 "$SPORT" >/dev/null 2>&1 &
dribble=$!
wait_log 'no TLS handshake within 2 s' 6
check "a stalled TLS handshake is closed after --header-timeout" grep -q 'no TLS handshake within 2 s of connecting (--header-timeout)' "$T/serve.log"
wait_pid "$dribble" 2>/dev/null
wait_pid "$ncpid" 2>/dev/null
check "a handshake that stalls half-way is closed too" test "$(grep -c 'no TLS handshake within 2 s' "$T/serve.log")" -ge 2
sec_wait_fds "$SPID" "$idle_fds" 10
check "fds back to the idle count ($idle_fds)" test "$(sec_fds "$SPID")" -le "$idle_fds"

# 7. mutual TLS
serve_stop
sec_client_pki "$T/pki" || { not_ok "client PKI"; cat "$T/pki/pki.log"; }
sec_reset_target
serve_start --tls-cert "$CRT" --tls-key "$KEY" --tls-client-ca "$T/pki/ca.crt" --progress-interval 0 ||
	{ not_ok "daemon starts with --tls-client-ca"; exit 1; }
timeout 20 socat -t 10 - "OPENSSL:localhost:$SPORT,cafile=$CRT" <"$F" >"$T/out7" 2>&1
check "mutual TLS: no client certificate: refused" bash -c "! grep -q '^OK' '$T/out7'"
timeout 20 socat -t 10 - "OPENSSL:localhost:$SPORT,cafile=$CRT,cert=$T/pki/other.crt,key=$T/pki/other.key" <"$F" >"$T/out8" 2>&1
check "mutual TLS: a certificate from another CA: refused" bash -c "! grep -q '^OK' '$T/out8'"
wait_log 'TLS handshake failed: .*certificate' 5
check "mutual TLS: the refusal is logged with the reason" grep -q 'TLS handshake failed: .*certificate' "$T/serve.log"
check "mutual TLS: nothing reached the target" test "$(tgt_count)" -eq 0
timeout 120 socat -t 30 - "OPENSSL:localhost:$SPORT,cafile=$CRT,cert=$T/pki/client.crt,key=$T/pki/client.key" <"$F" >"$T/out9" 2>&1
check "mutual TLS: the right client certificate: OK" grep -q '^OK import into synapse committed' "$T/out9"
check "mutual TLS: the client certificate's subject is logged" grep -q 'client certificate .*CN *= *backup-host' "$T/serve.log"
if "$PGSLUICE" send --help >/dev/null 2>&1; then
	sec_reset_target
	timeout 120 "$PGSLUICE" send -q --ca "$CRT" --cert "$T/pki/client.crt" --key "$T/pki/client.key" "localhost:$SPORT" "$F" >"$T/out9b" 2>&1
	rc=$?
	check "mutual TLS: pgsluice send --cert --key: exit 0, OK" bash -c "test $rc -eq 0 && grep -q '^OK import into synapse committed' '$T/out9b'"
else
	skip "pgsluice send is not built: not tried with a client certificate"
fi
serve_stop

# 8. non-loopback without TLS
P=$(free_port)
timeout 10 "$PGSLUICE" serve --target "$TARGET" --listen "0.0.0.0:$P" >"$T/out10" 2>&1
rc=$?
check "a non-loopback --listen without TLS: refused at startup (status 2)" test "$rc" -eq 2
check "  and says why and what to do" grep -q 'is not a loopback address.*--tls-cert.*--insecure-plaintext' "$T/out10"
"$PGSLUICE" serve --target "$TARGET" --listen "0.0.0.0:$P" --insecure-plaintext 2>"$T/serve-insecure.log" &
ipid=$!
bg_track "$ipid"
for i in $(seq 50); do grep -q 'listening on' "$T/serve-insecure.log" && break; sleep 0.1; done
check "--insecure-plaintext: starts, with a warning" grep -q 'WARN .*--insecure-plaintext: listening on 0.0.0.0' "$T/serve-insecure.log"
kill "$ipid"; wait_pid "$ipid" 2>/dev/null
