# synapse_common.bash - sourced by tests/integration/synapse_*.sh, after
# tests/lib/common.sh and serve_common.bash.  (Not *.sh, so tests/run.sh
# does not run it.)
#
#	synapse_clusters          serve_clusters with the target role synapse_user,
#	                          as the EES Helm chart has it
#	synapse_init_db DB        an initialized Synapse schema in tgt's DB, as a
#	                          first start of the EES Synapse leaves it: the
#	                          fixture's schema owned by synapse_user, and its
#	                          schema_version (94), schema_compat_version and
#	                          applied_schema_deltas rows (taken from src)
#	dump_with_version V OUT   the fixture dump (plain) with schema_version V
#	serve_once_send FILE OUT [serve args]   one --once import sent with
#	                                        pgsluice send; sets $rc (daemon) and $send_rc
TARGET_USER=synapse_user
FIX=$FIXTURES/synapse/synapse-small.sql.gz

synapse_clusters() {
	serve_clusters || return 1
}

synapse_init_db() {
	local db=$1 t
	sed -e '/OWNER TO/d' -e '/^\\restrict /d' -e '/^\\unrestrict /d' "$FIXTURES/synapse/synapse-schema.sql" |
		psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d "$db" >/dev/null ||
		return 1
	for t in schema_version schema_compat_version applied_schema_deltas; do
		psql_as src synapse -c "COPY public.$t TO STDOUT" |
			psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d "$db" \
				-c "COPY public.$t FROM STDIN" || return 1
	done
}

dump_with_version() {
	gunzip -c "$FIX" | sed "/^COPY public.schema_version /{n;s/^X\t94\tt\$/X\t$1\tt/}" >"$2"
	grep -q "^X	$1	t\$" "$2"
}

serve_once_send() {
	local file=$1 out=$2; shift 2
	serve_start --progress-interval 0 --once "$@" || { not_ok "daemon starts"; return 1; }
	# the client is pgsluice send: its exit status must agree with the answer
	timeout 120 "$PGSLUICE" send -q "127.0.0.1:$SPORT" "$file" >"$out" 2>&1
	send_rc=$?
	wait_pid "$SPID"
	rc=$?
	if grep -q '^OK ' "$out"; then
		check "send exits 0 on OK" test "$send_rc" -eq 0
	else
		check "send exits 1 on ERROR" test "$send_rc" -eq 1
	fi
}
