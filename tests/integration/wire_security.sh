#!/bin/bash
# wire_security.sh - PostgreSQL clients and the daemon's security:
# with --tls-cert, psql sslmode=require (and verify-full against the
# gen-cert certificate) imports over TLS on the same port where raw TLS
# clients still work; a plaintext PostgreSQL client there is refused; with
# --token-file the token is the password (SCRAM-SHA-256: PGPASSWORD=token
# psql ...), a wrong password is refused and nothing is imported, and the
# raw "AUTH token" stream still works on the same port.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
. "$(dirname "$0")/wire_common.bash"
need_fixtures || exit 0

wire_setup || { not_ok "clusters and fixture"; exit 1; }
mkdir -p "$T/pki"
sec_gencert "$T/pki" || { not_ok "gen-cert"; exit 1; }
CRT=$T/pki/pgsluice.crt KEY=$T/pki/pgsluice.key
sec_token

serve_start --tls-cert "$CRT" --tls-key "$KEY" --token-file "$T/token" --progress-interval 0 ||
	{ not_ok "daemon starts with TLS and a token"; exit 1; }

# 1. psql over TLS with the token as the password
PGPASSWORD=$TOK PGSSLMODE=require wire_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >"$T/out1" 2>"$T/err1"
rc=$?
check "psql sslmode=require, token as password: exit 0" test "$rc" -eq 0
check "psql: the import committed (the summary came as a NOTICE)" grep -q 'NOTICE:  OK import into synapse committed' "$T/err1"
wire_same "psql over TLS: the target equals the source"
check "the log names TLS for the PostgreSQL client" grep -q 'TLS: TLSv1.3' "$T/serve.log"
check "the log says the client authenticated (SCRAM)" grep -q 'AUTH: token accepted' "$T/serve.log"

# 2. verify-full against the daemon's certificate (BEGIN: answered before any dump, nothing runs)
sec_reset_target
PGPASSWORD=$TOK PGSSLMODE=verify-full PGSSLROOTCERT=$CRT wire_psql -v ON_ERROR_STOP=1 -q -c 'BEGIN' >"$T/out2" 2>"$T/err2"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/err2"
check "psql sslmode=verify-full (gen-cert certificate): connects" test "$rc" -eq 0

# 3. a wrong password: refused, nothing imported
wire_wait_ok 2 2>/dev/null
sec_reset_target
PGPASSWORD=wrong-$TOK PGSSLMODE=require wire_psql -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >"$T/out3" 2>"$T/err3"
rc=$?
check "wrong password: psql exits 2" test "$rc" -eq 2
check "wrong password: FATAL password authentication failed" grep -q 'FATAL:  password authentication failed' "$T/err3"
check "wrong password: nothing reached the target" test "$(tgt_count)" -eq 0
check "wrong password: logged with the address's penalty" grep -q 'AUTH failed from 127.0.0.1: password authentication failed' "$T/serve.log"

# 4. no TLS from a PostgreSQL client on the TLS port: refused
sleep 1.2 # the penalty of the failure above
PGPASSWORD=$TOK PGSSLMODE=disable wire_psql -q -c 'SELECT 1' >"$T/out4" 2>"$T/err4"
check "sslmode=disable on the TLS port: refused" grep -q 'FATAL:  pgsluice takes PostgreSQL clients over TLS only' "$T/err4"

# 5. the raw TLS stream with its AUTH line still works on the same port
sleep 1
{ echo "AUTH $TOK"; cat "$T/fx.sql"; } | timeout 120 openssl s_client -quiet -connect "127.0.0.1:$SPORT" >"$T/out5" 2>/dev/null
check "raw TLS + AUTH line on the same port: OK" grep -q '^OK import into synapse committed' "$T/out5"
wire_same "raw TLS: the target equals the source"
serve_stop

# 6. mutual TLS only (no token): a client certificate from the right CA
sec_client_pki "$T/pki" || { not_ok "client PKI"; exit 1; }
sec_reset_target
serve_start --tls-cert "$CRT" --tls-key "$KEY" --tls-client-ca "$T/pki/ca.crt" --progress-interval 0 ||
	{ not_ok "daemon starts with --tls-client-ca"; exit 1; }
chmod 600 "$T/pki/client.key"
PGSSLMODE=require PGSSLCERT=$T/pki/client.crt PGSSLKEY=$T/pki/client.key wire_psql -q -c 'BEGIN' >"$T/out6" 2>"$T/err6"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/err6"
check "mutual TLS: psql with the client certificate connects" test "$rc" -eq 0
PGSSLMODE=require wire_psql -q -c 'BEGIN' >"$T/out7" 2>"$T/err7"
check "mutual TLS: psql without a client certificate is refused" test $? -ne 0
sec_alive "the daemon runs on"
