#!/bin/bash
# send_tls.sh - `pgsluice send` with TLS, a client certificate and a token,
# against the real daemon and a real PostgreSQL.
#
#   TLS (serve --tls-cert/--tls-key, a certificate signed by a test CA for
#   localhost and 127.0.0.1):
#	--ca CA, by name and by IP address            0, OK
#	--tls alone (system CAs do not know the CA)   2, "not trusted"
#	--ca of another CA                            2
#	a certificate for another name                2, "hostname mismatch"
#	a truncated dump                              1, ERROR (the close_notify
#	                                              and FIN tell the daemon)
#	an error at the first statement of a large
#	dump (the daemon closes while send sends)     1, ERROR
#	plain send to the TLS port                    1, "ERROR this port speaks
#	                                              TLS: use pgsluice send --ca";
#	                                              the daemon then serves the next
#	--tls to a plaintext daemon                   2
#   mutual TLS (--tls-client-ca): --cert/--key 0; no certificate 2
#   token (--token-file): right token 0; wrong 1; none 1
#
# Skipped, loudly, while the daemon has no TLS or token options.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/send_common.bash"
SEND_LABEL="send tls"

if [ ! -x "$PGSLUICE" ] || ! "$PGSLUICE" send --help >/dev/null 2>&1; then
	not_ok "send tls: $PGSLUICE not built or has no send command"
	exit 1
fi
"$PGSLUICE" serve --help >"$T/serve-help.txt" 2>&1
if ! grep -q -- '--tls-cert' "$T/serve-help.txt"; then
	skip "send tls: pgsluice serve has no --tls-cert yet: TLS NOT TESTED"
	echo "WARNING: pgsluice serve has no TLS options; send's TLS was not tested against it" >&2
	exit 0
fi

# ---- certificates: a CA, the daemon's, another CA, a client's --------------------

mkcert() { # mkcert NAME CA SUBJECT SAN  (CA "-": self-signed CA)
	local n=$1 ca=$2 subj=$3 san=${4:-}
	if [ "$ca" = - ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-keyout "$T/$n.key" -out "$T/$n.pem" -subj "$subj" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	else
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$T/$n.key" -out "$T/$n.csr" -subj "$subj" &&
			printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$san" >"$T/$n.ext" &&
			openssl x509 -req -in "$T/$n.csr" -CA "$T/$ca.pem" -CAkey "$T/$ca.key" \
				-CAcreateserial -days 2 -out "$T/$n.pem" -extfile "$T/$n.ext"
	fi
	chmod 600 "$T/$n.key"
}
{
	mkcert ca - /CN=pgsluice-test-ca &&
		mkcert server ca /CN=localhost "DNS:localhost,IP:127.0.0.1" &&
		mkcert otherca - /CN=other-ca &&
		mkcert othername ca /CN=other.example "DNS:other.example" &&
		mkcert client ca /CN=old-host "DNS:old-host"
} >"$T/certs.log" 2>&1 || { cat "$T/certs.log"; not_ok "send tls: make test certificates"; exit 1; }

# ---- clusters and a dump ----------------------------------------------------------------

pg_start src || { not_ok "send tls: start the source cluster"; exit 1; }
pg_start dst || { not_ok "send tls: start the target cluster"; exit 1; }
psql_as src postgres -c "CREATE ROLE chat_owner LOGIN" -c "CREATE DATABASE sample OWNER chat_owner" &&
	psql_as src sample -f "$ROOT/scripts/demo-sample.sql" >"$T/sample-load.log" 2>&1 ||
	{ cat "$T/sample-load.log"; not_ok "send tls: build the sample database"; exit 1; }
psql_as dst postgres -c "CREATE ROLE synapse_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" \
	-c "CREATE DATABASE target OWNER synapse_user" || { not_ok "send tls: create the target"; exit 1; }
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres sample | gzip >"$T/sample.sql.gz" ||
	{ not_ok "send tls: pg_dump sample"; exit 1; }
gzip -dc "$T/sample.sql.gz" | head -c 100000 >"$T/truncated.sql"
{
	echo "INSERT INTO no_such_table VALUES (1);"
	yes "SELECT 'padding padding padding padding padding padding padding padding';" | head -n 600000
	echo "-- PostgreSQL database dump complete"
} >"$T/early-error.sql"
TARGET="host=127.0.0.1 port=$(pg_port dst) dbname=target user=synapse_user"

# ---- TLS ----------------------------------------------------------------------------------

start_serve tls --tls-cert "$T/server.pem" --tls-key "$T/server.key" ||
	{ not_ok "send tls: start the TLS daemon"; exit 1; }
P=$SERVE_PORT
run_send by-name --ca "$T/ca.pem" "localhost:$P" "$T/sample.sql.gz"
expect by-name 0 '^OK'
run_send by-ip --ca "$T/ca.pem" "127.0.0.1:$P" "$T/sample.sql.gz"
expect by-ip 0 '^OK'
run_send system-cas --tls "localhost:$P" "$T/sample.sql.gz"
expect system-cas 2 '' 'not trusted'
run_send other-ca --ca "$T/otherca.pem" "localhost:$P" "$T/sample.sql.gz"
expect other-ca 2 '' 'not trusted'
start=$SECONDS
run_send truncated --ca "$T/ca.pem" "localhost:$P" "$T/truncated.sql"
expect truncated 1 '^ERROR'
check "send tls truncated: answered in $((SECONDS - start)) s (< 20: the EOF, not a timeout)" \
	test $((SECONDS - start)) -lt 20
run_send early-error --ca "$T/ca.pem" "localhost:$P" "$T/early-error.sql"
expect early-error 1 '^ERROR'
run_send plain-to-tls "127.0.0.1:$P" "$T/sample.sql.gz"
expect plain-to-tls 1 '^ERROR this port speaks TLS: use pgsluice send --ca'
run_send after-plain --ca "$T/ca.pem" "localhost:$P" "$T/sample.sql.gz"
expect after-plain 0 '^OK'
stop_serve

start_serve othername --tls-cert "$T/othername.pem" --tls-key "$T/othername.key" ||
	{ not_ok "send tls: start the daemon with another name's certificate"; exit 1; }
run_send wrong-name --ca "$T/ca.pem" "localhost:$SERVE_PORT" "$T/sample.sql.gz"
expect wrong-name 2 '' 'hostname mismatch'
stop_serve

start_serve plain || { not_ok "send tls: start a plaintext daemon"; exit 1; }
run_send tls-to-plain --ca "$T/ca.pem" "localhost:$SERVE_PORT" "$T/sample.sql.gz"
expect tls-to-plain 2 '' 'TLS'
stop_serve

# ---- mutual TLS ----------------------------------------------------------------------------

if grep -q -- '--tls-client-ca' "$T/serve-help.txt"; then
	start_serve mtls --tls-cert "$T/server.pem" --tls-key "$T/server.key" --tls-client-ca "$T/ca.pem" ||
		{ not_ok "send tls: start the mutual-TLS daemon"; exit 1; }
	run_send client-cert --ca "$T/ca.pem" --cert "$T/client.pem" --key "$T/client.key" \
		"localhost:$SERVE_PORT" "$T/sample.sql.gz"
	expect client-cert 0 '^OK'
	run_send no-client-cert --ca "$T/ca.pem" "localhost:$SERVE_PORT" "$T/sample.sql.gz"
	expect no-client-cert 2 ''
	stop_serve
else
	skip "send tls: serve has no --tls-client-ca: mutual TLS not tested"
fi

# ---- token ----------------------------------------------------------------------------------

if grep -q -- '--token-file' "$T/serve-help.txt"; then
	printf 'the-right-token\n' >"$T/token"
	printf 'a-wrong-token\n' >"$T/wrong-token"
	chmod 600 "$T/token" "$T/wrong-token"
	start_serve token --tls-cert "$T/server.pem" --tls-key "$T/server.key" --token-file "$T/token" ||
		{ not_ok "send tls: start the daemon with a token"; exit 1; }
	run_send token-right --ca "$T/ca.pem" --token-file "$T/token" "localhost:$SERVE_PORT" "$T/sample.sql.gz"
	expect token-right 0 '^OK'
	# failures slow the address down (1 s, 2 s, ...): these two come last
	run_send token-wrong --ca "$T/ca.pem" --token-file "$T/wrong-token" "localhost:$SERVE_PORT" "$T/sample.sql.gz"
	expect token-wrong 1 '^ERROR'
	run_send token-none --ca "$T/ca.pem" "localhost:$SERVE_PORT" "$T/sample.sql.gz"
	expect token-none 1 '^ERROR'
	stop_serve
else
	skip "send tls: serve has no --token-file: the token was not tested"
fi
