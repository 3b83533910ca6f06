# wire_common.bash - sourced by tests/integration/wire_*.sh, after
# tests/lib/common.sh, serve_common.bash and security_common.bash.  (Not
# *.sh, so tests/run.sh does not run it.)
#
#	wire_setup            clusters src and tgt (serve_clusters), the Synapse
#	                      fixture (with its owners) restored into src, $T/fx.sql
#	                      (the plain dump, unzipped), $T/src.sql (src's
#	                      pg_dump -O -x, to compare with the target's)
#	wire_custom           $T/fx.custom: pg_dump -Fc of src (owners kept)
#	wire_psql ARGS...     psql to the daemon at $SPORT (-X, no psqlrc)
#	wire_same NAME        ok if the target's pg_dump -O -x equals the source's
#	wire_wait_ok N        wait until the daemon has committed N imports (its
#	                      log): an import that ends at the client's Terminate
#	                      is committed after the client has left
WIRE_FIXTURE=$FIXTURES/synapse/synapse-small.sql.gz

wire_setup() {
	serve_clusters || return 1
	gunzip -c "$WIRE_FIXTURE" >"$T/fx.sql" || return 1
	psql_as src synapse -f "$T/fx.sql" >"$T/fx-load.log" 2>&1 || { tail "$T/fx-load.log"; return 1; }
	src_dump >"$T/src.sql"
}

wire_custom() {
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -Fc -f "$T/fx.custom" synapse
}

wire_psql() {
	PGCONNECT_TIMEOUT=10 timeout 120 psql -X -h 127.0.0.1 -p "$SPORT" -U importer -d synapse "$@"
}

wire_same() {
	tgt_dump >"$T/tgt.sql"
	if cmp -s "$T/src.sql" "$T/tgt.sql"; then
		ok "$1"
	else
		not_ok "$1"; diff "$T/src.sql" "$T/tgt.sql" | head -10 | sed 's/^/# /'
	fi
}

wire_wait_ok() {
	local n=$1 i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c 'OK import into synapse committed' "$T/serve.log")" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "# timed out waiting for $n committed imports in the daemon's log" >&2
	return 1
}
