# gate_common.bash - sourced by tests/integration/gate_*.sh, after
# tests/lib/common.sh and serve_common.bash.  (Not *.sh, so tests/run.sh
# does not run it.)
#
#	gate_setup        clusters src and tgt (serve_clusters), the Synapse fixture
#	                  in src ($T/fx.sql: its plain dump, $T/src.sql: pg_dump -O -x),
#	                  and the target pre-filled with the Synapse schema and one row
#	                  ($T/before.sql: its pg_dump -O -x)
#	gate_unchanged NAME   ok if the target's pg_dump -O -x equals $T/before.sql
#	gate_psql ARGS...     psql to the daemon at $SPORT (-X, no psqlrc)
gate_setup() {
	serve_clusters || return 1
	gunzip -c "$FIXTURES/synapse/synapse-small.sql.gz" >"$T/fx.sql" || return 1
	psql_as src synapse -f "$T/fx.sql" >"$T/fx-load.log" 2>&1 || { tail "$T/fx-load.log"; return 1; }
	src_dump >"$T/src.sql"
	gate_fill
}

# gate_fill: the target's schema public holds the Synapse schema and one
# row again, as EES leaves it; $T/before.sql its pg_dump -O -x
gate_fill() {
	psql_as tgt synapse -c "DROP OWNED BY $TARGET_USER CASCADE" >/dev/null 2>&1 || return 1
	psql_as tgt synapse -At -c "SELECT lo_unlink(oid) FROM pg_largeobject_metadata" >/dev/null || return 1
	sed -e '/OWNER TO/d' -e '/^\\restrict /d' -e '/^\\unrestrict /d' "$FIXTURES/synapse/synapse-schema.sql" |
		psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse >/dev/null || return 1
	psql_as tgt synapse -c "INSERT INTO public.users (name, creation_ts) VALUES ('@ees:example.org', 1)" >/dev/null || return 1
	tgt_dump >"$T/before.sql"
}

gate_unchanged() {
	tgt_dump >"$T/now.sql"
	if cmp -s "$T/before.sql" "$T/now.sql"; then
		ok "$1"
	else
		not_ok "$1"; diff "$T/before.sql" "$T/now.sql" | head -10 | sed 's/^/# /'
	fi
}

gate_same_as_source() {
	tgt_dump >"$T/now.sql"
	if cmp -s "$T/src.sql" "$T/now.sql"; then
		ok "$1"
	else
		not_ok "$1"; diff "$T/src.sql" "$T/now.sql" | head -10 | sed 's/^/# /'
	fi
}

gate_psql() {
	PGCONNECT_TIMEOUT=10 timeout 120 psql -X -h 127.0.0.1 -p "$SPORT" -U importer -d synapse "$@"
}

# gate_alive NAME: ok if the daemon still runs
gate_alive() { check "$1" kill -0 "$SPID"; }

# gate_serve ARGS: serve_start with a fresh log (start_daemon waits for
# "listening on" in the log: an old daemon's line must not be there)
gate_serve() { rm -f "$T/serve.log"; serve_start "$@"; }
