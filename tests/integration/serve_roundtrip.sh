#!/bin/bash
# serve_roundtrip.sh - every real client, every fixture: the import ends in
# OK and pg_dump -O -x of the target equals that of the source.
#
# Clients: cat | nc -N (plain), gzip | nc -N, nc without -N (the trailer
# alone ends the import), socat, and pg_dump | nc straight from the source.
# The target is a database owned by the non-superuser ees_owner.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
serve_start --verbose --progress-interval 0.05 --unix "$T/pgsluice.sock" || { not_ok "daemon starts"; exit 1; }

reset_target() {
	psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}

# compare NAME OUT: OK line, then the same dump as the source
compare() {
	local name=$1 out=$2
	if grep -q '^OK import into synapse committed' "$out"; then
		ok "$name: OK"
	else
		not_ok "$name: OK"; sed 's/^/# /' "$out" | head -20
	fi
	tgt_dump >"$T/tgt.sql"
	if cmp -s "$T/src.sql" "$T/tgt.sql"; then
		ok "$name: pg_dump -O -x of the target equals the source's"
	else
		not_ok "$name: pg_dump -O -x of the target equals the source's"
		diff "$T/src.sql" "$T/tgt.sql" | head -20 | sed 's/^/# /'
	fi
}

for fx in synapse-small synapse-small-noowner; do
	psql_as src postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER synapse TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
	load_fixture "$FIXTURES/synapse/$fx.sql.gz"
	src_dump >"$T/src.sql"
	gunzip -c "$FIXTURES/synapse/$fx.sql.gz" >"$T/$fx.sql"
	eval "$(dump_facts "$T/$fx.sql")"

	reset_target
	start=$(date +%s.%N)
	timeout 120 nc -N 127.0.0.1 "$SPORT" <"$T/$fx.sql" >"$T/out"
	echo "# $fx plain import: $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || true) s"
	compare "$fx: cat | nc -N" "$T/out"
	check "$fx: progress lines reach the client" grep -q '^progress: .* received' "$T/out"

	reset_target
	timeout 120 nc -N 127.0.0.1 "$SPORT" <"$FIXTURES/synapse/$fx.sql.gz" >"$T/out"
	compare "$fx: gzip | nc -N" "$T/out"
	check "$fx: the summary counts rows per table" grep -q "^  rows public.events: $FX_EVENTS\$" "$T/out"
done

# nc without -N never closes its sending side: the trailer must end it
reset_target
timeout 60 nc 127.0.0.1 "$SPORT" <"$T/synapse-small-noowner.sql" >"$T/out"
rc=$?
check "nc without -N: returns by itself (not killed by timeout)" test "$rc" -ne 124
compare "nc without -N" "$T/out"

reset_target
timeout 60 socat -t 30 - "TCP:127.0.0.1:$SPORT" <"$FIXTURES/synapse/synapse-small-noowner.sql.gz" >"$T/out"
compare "socat" "$T/out"

reset_target
timeout 60 socat -t 30 - "UNIX-CONNECT:$T/pgsluice.sock" <"$FIXTURES/synapse/synapse-small-noowner.sql.gz" >"$T/out"
compare "socat over the Unix socket (--unix)" "$T/out"

reset_target
src_pg_dump -O | gzip -1 | timeout 60 nc -N 127.0.0.1 "$SPORT" >"$T/out"
compare "pg_dump $DUMP_VERSION | gzip | nc -N from the source cluster" "$T/out"

check "daemon still running after all imports" kill -0 "$SPID"
serve_stop
check "the Unix socket is removed at exit" test ! -e "$T/pgsluice.sock"
check "daemon log has the import ids and client addresses" grep -q '\[#[0-9]* 127.0.0.1:[0-9]*\] OK import' "$T/serve.log"
