# security_common.bash - sourced by tests/integration/security_*.sh, after
# tests/lib/common.sh and serve_common.bash.  (Not *.sh: run.sh skips it.)
#
#	sec_reset_target          drop and re-create tgt's synapse (empty)
#	sec_fds PID               open file descriptors of a process
#	sec_hwm_kb PID            its peak resident memory (VmHWM), in kB
#	sec_rss_kb PID            its resident memory now (VmRSS), in kB
#	sec_wait_fds PID N [S]    wait until PID has at most N fds (S seconds)
#	sec_alive NAME            ok if the daemon still runs
#	sec_gencert DIR           pgsluice gen-cert --host localhost --host 127.0.0.1
#	sec_client_pki DIR        a client CA (ca.crt) and a client cert/key
#	                          (client.crt/.key, CN=backup-host) signed by it,
#	                          plus a stranger's (other.crt/.key, own CA)
#	sec_unchanged NAME BEFORE ok if tgt_dump equals the file BEFORE

sec_reset_target() {
	psql_as tgt postgres -c "DROP DATABASE IF EXISTS synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}

# sec_token: a new AUTH token in $TOK and in $T/token (mode 600)
sec_token() {
	TOK=$(openssl rand -hex 24)
	printf '%s\n' "$TOK" >"$T/token"
	chmod 600 "$T/token"
}
sec_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
sec_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
sec_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

sec_wait_fds() {
	local pid=$1 n=$2 secs=${3:-15} i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(sec_fds "$pid")" -le "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

sec_alive() { check "$1" kill -0 "$SPID"; }

sec_gencert() {
	"$PGSLUICE" gen-cert --host localhost --host 127.0.0.1 --out "$1" >"$1/gen-cert.out" 2>&1
}

sec_client_pki() {
	local d=$1
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=pgsluice test client CA" -keyout ca.key -out ca.crt
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/O=ops/CN=backup-host" -keyout client.key -out client.csr
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-extfile client.ext -out client.crt
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=stranger" -keyout other.key -out other.crt
	) >"$d/pki.log" 2>&1
}

sec_unchanged() {
	tgt_dump >"$T/now.sql"
	if cmp -s "$2" "$T/now.sql"; then
		ok "$1"
	else
		not_ok "$1"; diff "$2" "$T/now.sql" | head -10 | sed 's/^/# /'
	fi
}
