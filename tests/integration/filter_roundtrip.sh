#!/bin/bash
# filter_roundtrip.sh - every fixture dump survives
#
#	pgsluice filter < dump | psql -v ON_ERROR_STOP=1 -1
#
# into a fresh database of a SEPARATE cluster, owned by a non-superuser role
# (ees_owner) that exists nowhere in the dump, connected as that role; and
# the result is the same database: `pg_dump -O -x` of the target equals
# `pg_dump -O -x` of a source database into which a superuser restored the
# same dump with plain psql.
#
# Fixtures: the Synapse fixture, ours and ../shared's when it is there
# (synapse-small.sql.gz with owners,
# synapse-small-noowner.sql.gz, synapse-schema.sql plain), and the
# kitchen-sink dumps made here from tests/fixtures/kitchen-sink.sql (with
# owners, -O -x, --use-set-session-authorization, --inserts, -C, -C --clean
# --if-exists with --allow-drop, and owners mapped with --map-role).
#
# Comparison exceptions (documented in tests/fixtures/README.md): the
# superuser-only objects of the kitchen sink (publications, the
# subscription, the event trigger, and their comments) are dropped by the
# filter's superuser-only rule by design, so their pg_dump entries are left
# out of both sides before comparing.  Nothing else is.
. "$(dirname "$0")/../lib/common.sh"

if [ ! -x "$PGSLUICE" ]; then
	not_ok "roundtrip: $PGSLUICE not built (run make)"
	exit 1
fi

pg_start src || { not_ok "roundtrip: start the source cluster"; exit 1; }
pg_start dst || { not_ok "roundtrip: start the target cluster"; exit 1; }
psql_as dst postgres -c "CREATE ROLE ees_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" ||
	{ not_ok "roundtrip: create role ees_owner"; exit 1; }



# roundtrip NAME FILE [FILTER OPTIONS...]: the scenario for one dump.  With
# $existing_src set, that database of the source cluster is the source (for
# pg_dump -C dumps, which create their own database) instead of a restore.
n=0
existing_src=
# $src_roles get CREATE on each source database (the owners of the dump).
src_roles=postgres
roundtrip() {
	local name=$1 file=$2 cat=cat
	shift 2
	n=$((n + 1))
	local sdb=src_$n tdb=dst_$n log=$T/rt-$n
	mkdir -p "$log"
	case $file in *.gz) cat="gzip -dc" ;; esac

	local rc=1
	if [ -n "$existing_src" ]; then
		sdb=$existing_src
		rc=0
	# a --use-set-session-authorization dump creates schemas as their owner
	elif psql_as src postgres -c "CREATE DATABASE $sdb" >/dev/null &&
		psql_as src postgres -c "GRANT CREATE ON DATABASE $sdb TO $src_roles" >/dev/null; then
		$cat "$file" | psql_as src "$sdb" >"$log/source.out" 2>"$log/source.err"
		rc=${PIPESTATUS[1]}
	fi
	if [ "$rc" -ne 0 ] || [ ! -s "$file" ]; then
		not_ok "roundtrip $name: superuser restore into the source database"
		sed 's/^/# /' "$log/source.err" | tail -20
		return
	fi

	psql_as dst postgres -c "CREATE DATABASE $tdb OWNER ees_owner" >/dev/null
	"$PGSLUICE" filter "$@" <"$file" 2>"$log/filter.err" |
		psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port dst)" -U ees_owner -d "$tdb" \
			>"$log/target.out" 2>"$log/target.err"
	local st=("${PIPESTATUS[@]}")
	if [ "${st[0]}" -ne 0 ] || [ "${st[1]}" -ne 0 ]; then
		not_ok "roundtrip $name: filter${*:+ $*} | psql -1 as non-superuser ees_owner (filter exit ${st[0]}, psql exit ${st[1]})"
		echo "# filter stderr:"; sed 's/^/#   /' "$log/filter.err" | tail -15
		echo "# psql stderr:"; sed 's/^/#   /' "$log/target.err" | tail -15
		return
	fi
	ok "roundtrip $name: filter${*:+ $*} | psql -1 as non-superuser ees_owner"

	pg_dump_of src "$sdb" -O -x | dump_without_superuser_only >"$log/source.dump"
	pg_dump_of dst "$tdb" -O -x | dump_without_superuser_only >"$log/target.dump"
	if [ ! -s "$log/source.dump" ]; then
		not_ok "roundtrip $name: pg_dump of the source"
	elif diff -u "$log/source.dump" "$log/target.dump" >"$log/dump.diff"; then
		ok "roundtrip $name: pg_dump -O -x of target equals source"
	else
		not_ok "roundtrip $name: pg_dump -O -x of target equals source ($(grep -c '^[-+][^-+]' "$log/dump.diff") lines differ)"
		head -40 "$log/dump.diff" | sed 's/^/#   /'
	fi
	# nothing in the target belongs to a role of the source
	local foreign
	foreign=$(psql -X -At -h 127.0.0.1 -p "$(pg_port dst)" -U postgres -d "$tdb" -c "
		SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		  AND c.relowner <> 'ees_owner'::regrole")
	check "roundtrip $name: every relation in the target is owned by ees_owner" [ "$foreign" = 0 ]
}

if make_kitchen_sink src "$T"; then
	src_roles=ks_owner
	roundtrip kitchen-sink "$T/ks.sql"
	roundtrip kitchen-sink-noowner "$T/ks-noowner.sql"
	roundtrip kitchen-sink-set-session-authorization "$T/ks-ssa.sql"
	roundtrip kitchen-sink-inserts "$T/ks-inserts.sql"
	# owners mapped to the target's owner instead of dropped
	roundtrip kitchen-sink-map-role "$T/ks.sql" --map-role ks_owner=ees_owner --map-role postgres=ees_owner
	roundtrip kitchen-sink-set-session-authorization-map-role "$T/ks-ssa.sql" \
		--map-role ks_owner=ees_owner --map-role postgres=ees_owner
	# pg_dump -C (Element's migration tooling), and -C --clean --if-exists:
	# their source is the kitchen_sink database itself
	psql_as src kitchen_sink -c "ALTER DATABASE kitchen_sink SET work_mem = '8MB'" \
		-c "COMMENT ON DATABASE kitchen_sink IS 'the kitchen sink'" \
		-c "GRANT CONNECT ON DATABASE kitchen_sink TO ks_reader" >/dev/null
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -C kitchen_sink >"$T/ks-create.sql"
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -C --clean --if-exists kitchen_sink >"$T/ks-clean.sql"
	existing_src=kitchen_sink
	roundtrip kitchen-sink-create "$T/ks-create.sql"
	roundtrip kitchen-sink-clean "$T/ks-clean.sql" --allow-drop
	existing_src=
else
	not_ok "roundtrip: build the kitchen-sink database (tests/fixtures/kitchen-sink.sql)"
fi

if need_fixtures; then
	psql_as src postgres -c "CREATE ROLE synapse" >/dev/null
	src_roles=synapse
	for dir in $(fixture_corpora); do
		c=""
		[ "$dir" = "$FIXTURES/synapse" ] || c="shared-"
		for f in synapse-small.sql.gz synapse-small-noowner.sql.gz synapse-schema.sql; do
			if [ -f "$dir/$f" ]; then
				roundtrip "$c${f%%.*}" "$dir/$f"
			else
				not_ok "roundtrip: fixture $dir/$f missing"
			fi
		done
	done
fi
exit 0
