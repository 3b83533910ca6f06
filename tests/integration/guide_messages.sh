#!/bin/bash
# guide_messages.sh - what a newcomer following the README sees when a step
# goes wrong, checked word for word where it tells them what to do:
#
#	gen-cert --out DIR      creates DIR (mode 700) when its parent exists,
#	                        else names the missing folder, and writes nothing
#	serve --user NOBODY     refused before binding: never says "listening"
#	check, no password      the libpq error once, then PGPASSWORD / .pgpass
#	check, wrong password   the refusal once (libpq tries each host of a
#	                        list), the password never printed (keyword and
#	                        URI forms), the hint says where it came from
#	send without the token  the refusal names send's --token-file
#	send, nc on a TLS port  a plaintext ERROR line naming send --ca; send
#	                        exits 1 with it, nc prints it
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/send_common.bash"

# ---- gen-cert --out ------------------------------------------------------------

"$PGSLUICE" gen-cert --host localhost --out "$T/pki" >"$T/gc1.out" 2>&1
check "gen-cert --out a missing folder: created" test -d "$T/pki" -a -s "$T/pki/pgsluice.crt" -a -s "$T/pki/pgsluice.key"
check "gen-cert --out: the folder is mode 700" test "$(stat -c %a "$T/pki")" = 700
check "gen-cert --out: says it created the folder" grep -q "created the folder $T/pki (mode 700)" "$T/gc1.out"
"$PGSLUICE" gen-cert --host localhost --out "$T/no/such/dir" >"$T/gc2.out" 2>&1
rc=$?
check "gen-cert --out under a missing folder: fails ($rc)" [ "$rc" -ne 0 ]
check "gen-cert --out under a missing folder: names the first missing one" \
	grep -q "the folder $T/no does not exist; create it (mkdir -p -m 700 $T/no/such/dir)" "$T/gc2.out"
check "gen-cert --out under a missing folder: writes nothing" test ! -e "$T/no"
check "gen-cert: the client line uses pgsluice send --ca" grep -q 'pgsluice send --ca pgsluice.crt localhost:5480' "$T/gc1.out"

# ---- serve --user ------------------------------------------------------------------

port=$(free_port)
timeout 10 "$PGSLUICE" serve --target "dbname=x" --listen "127.0.0.1:$port" --user no-such-user-x >"$T/user.out" 2>&1
rc=$?
check "serve --user unknown: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "serve --user unknown: says no such user" grep -q -- '--user no-such-user-x: no such user' "$T/user.out"
check "serve --user unknown: refused before binding (no \"listening\")" bash -c "! grep -q 'listening' '$T/user.out'"

# ---- check: passwords -----------------------------------------------------------------

pg_start pw "password_encryption = 'scram-sha-256'" || { not_ok "guide: start a cluster"; exit 1; }
psql_as pw postgres -c "CREATE ROLE synapse_user LOGIN PASSWORD 'Right-Pw-1'" \
	-c "CREATE DATABASE synapse OWNER synapse_user" >/dev/null || { not_ok "guide: create the role"; exit 1; }
{
	echo "host all postgres 127.0.0.1/32 trust"
	echo "host all all 127.0.0.1/32 scram-sha-256"
} >"$T/pg-pw/pg_hba.conf"
psql_as pw postgres -qAt -c "SELECT pg_reload_conf()" >/dev/null
P=$(pg_port pw)
export PGPASSFILE=$T/no-pgpass

env -u PGPASSWORD "$PGSLUICE" check --target "host=127.0.0.1 port=$P dbname=synapse user=synapse_user" >"$T/c1.out" 2>"$T/c1.err"
rc=$?
check "check, no password: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "check, no password: libpq's reason" grep -q 'no password supplied' "$T/c1.err"
check "check, no password: says PGPASSWORD and .pgpass" grep -q 'none was given: put it in PGPASSWORD, or in ~/.pgpass' "$T/c1.err"

env -u PGPASSWORD "$PGSLUICE" check --target "host=127.0.0.1,127.0.0.1 port=$P,$P dbname=synapse user=synapse_user password=Wrong-Pw-7" >"$T/c2.out" 2>"$T/c2.err"
rc=$?
check "check, wrong password: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "check, wrong password: the refusal once (two hosts tried)" [ "$(grep -c 'password authentication failed' "$T/c2.err")" -eq 1 ]
check "check, wrong password: not printed (keyword form)" bash -c "! grep -q 'Wrong-Pw-7' '$T/c2.err' '$T/c2.out'"
check "check, wrong password: shown as ***" grep -q 'password=\*\*\*' "$T/c2.err"
check "check, wrong password: says where a password comes from" grep -q 'a password for synapse_user was sent (from --target, PGPASSWORD or .pgpass)' "$T/c2.err"

env -u PGPASSWORD "$PGSLUICE" check --target "postgresql://synapse_user:Wrong-Pw-8@127.0.0.1:$P/synapse" >"$T/c3.out" 2>"$T/c3.err"
check "check, URI with a wrong password: not printed" bash -c "! grep -q 'Wrong-Pw-8' '$T/c3.err' '$T/c3.out'"
check "check, URI with a wrong password: refused once" [ "$(grep -c 'password authentication failed' "$T/c3.err")" -eq 1 ]

PGPASSWORD=Right-Pw-1 "$PGSLUICE" check --target "host=127.0.0.1 port=$P dbname=synapse user=synapse_user" >"$T/c4.out" 2>"$T/c4.err"
rc=$?
check "check, PGPASSWORD right: connects (exit $rc, 0 or 1)" [ "$rc" -le 1 ]
check "check, PGPASSWORD right: prints the target" grep -q '^target: database synapse on 127.0.0.1' "$T/c4.out"

# ---- what the sender is told ---------------------------------------------------------

export PGPASSWORD=Right-Pw-1
TARGET="host=127.0.0.1 port=$P dbname=synapse user=synapse_user"
openssl rand -hex 16 >"$T/token"
chmod 600 "$T/token"
printf -- '-- PostgreSQL database dump\nSET client_encoding = %s;\n' "'UTF8'" >"$T/tiny.sql"
start_serve tok --token-file "$T/token" || { not_ok "guide: start serve with a token"; exit 1; }
run_send notoken "127.0.0.1:$SERVE_PORT" "$T/tiny.sql"
expect notoken 1 '^ERROR ' ''
check "send without the token: told to use pgsluice send --token-file" grep -q 'pgsluice send --token-file FILE' "$T/notoken.out"
stop_serve

start_serve tls --tls-cert "$T/pki/pgsluice.crt" --tls-key "$T/pki/pgsluice.key" ||
	{ not_ok "guide: start serve with TLS"; exit 1; }
run_send plain-on-tls "127.0.0.1:$SERVE_PORT" "$T/tiny.sql"
expect plain-on-tls 1 '^ERROR this port speaks TLS: use pgsluice send --ca'
timeout 20 nc -N 127.0.0.1 "$SERVE_PORT" <"$T/tiny.sql" >"$T/nc-on-tls.out" 2>&1
check "nc on the TLS port: prints the line saying to use TLS" grep -q '^ERROR this port speaks TLS' "$T/nc-on-tls.out"
run_send tls-ok --ca "$T/pki/pgsluice.crt" "localhost:$SERVE_PORT" "$T/tiny.sql"
check "send --ca on the TLS port: gets past TLS (an answer from the daemon: $RC)" grep -qE '^(OK|ERROR) ' "$T/tls-ok.out"
check "send --ca on the TLS port: not told to use TLS" bash -c "! grep -q 'this port speaks TLS' '$T/tls-ok.out'"
stop_serve
