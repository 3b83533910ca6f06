#!/bin/bash
# matrix_versions.sh - the kitchen-sink database (tests/fixtures/kitchen-sink.sql)
# and the Synapse fixture (tests/fixtures/synapse-*.sql, its dump with owners)
# dumped by pg_dump 15, 17 and 18, each against the source servers it
# supports (15, 17, 18), as a plain dump with owners, -O -x, -C, --inserts,
# and --clean --if-exists (and pg_dump 18 --statistics from an 18 source),
# imported by `serve` (raw nc) into PostgreSQL 15, 17 and 18 targets, each
# a database owned by the non-superuser ees_owner.  Every cell: OK, and
# pg_dump -O -x of the target (the newest pg_dump, on both sides) equals
# that of the source, less the superuser-only objects the rules drop by
# design (as in filter_roundtrip.sh).  Then a table: one row per dump kind,
# one column per target version.
#
# Cells that must fail by design: a --clean dump to a daemon without
# --allow-drop, and a column attribute option the target does not know;
# each must be refused with a message that says what to do, the target
# unchanged.  pg_dump 18 --statistics: into 18 the statistics are applied
# (the target's pg_statistic rows equal the source's), into 15 and 17 the
# calls are dropped and counted in the summary.
#
# PGSLUICE_TEST_LONG=1: every cell also through the PostgreSQL port (psql
# of the dump's version, -1 -f -) and with serve --jobs 2.
. "$(dirname "$0")/../lib/common.sh"

need_versions 15 17 18 || exit 1
targets=(15 17 18)
# pg_dump version, source version (PGSLUICE_MATRIX_PAIRS="18:18 17:15" for some)
pairs=("15 15" "17 15" "17 17" "18 15" "18 17" "18 18")
[ -n "${PGSLUICE_MATRIX_PAIRS:-}" ] && read -r -a pairs <<<"${PGSLUICE_MATRIX_PAIRS//:/_}" && pairs=("${pairs[@]//_/ }")
kinds=(owners noowner create inserts clean)
declare -A kind_args=([owners]="" [noowner]="-O -x" [create]="-C" [inserts]="--inserts"
	[clean]="--clean --if-exists" [stats]="--statistics")
long=${PGSLUICE_TEST_LONG:-0}

for v in 15 17 18; do
	pg_start_v "$v" "s$v" || { not_ok "start a PostgreSQL $v source"; exit 1; }
	psql_as "s$v" postgres -c "CREATE DATABASE kitchen_sink" >/dev/null &&
		psql_as "s$v" kitchen_sink -f "$ROOT/tests/fixtures/kitchen-sink.sql" >"$T/ks-$v.log" 2>&1 &&
		psql_as "s$v" kitchen_sink -c "ANALYZE" >/dev/null ||
		{ not_ok "build the kitchen sink on a PostgreSQL $v source"; sed 's/^/# /' "$T/ks-$v.log" | tail; exit 1; }
done
# the Synapse fixture (its owners by role synapse) on each source, when there
dbs=(kitchen_sink)
if need_fixtures; then
	dbs+=(synapse)
	for v in 15 17 18; do
		psql_as "s$v" postgres -c "CREATE ROLE synapse" -c "CREATE DATABASE synapse OWNER synapse TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null &&
			gunzip -c "$FIXTURES/synapse/synapse-small.sql.gz" | psql_as "s$v" synapse >"$T/syn-$v.log" 2>&1 ||
			{ not_ok "load the Synapse fixture into a PostgreSQL $v source"; tail "$T/syn-$v.log" | sed 's/^/# /'; exit 1; }
	done
fi
for v in "${targets[@]}"; do
	pg_start_v "$v" "t$v" || { not_ok "start a PostgreSQL $v target"; exit 1; }
	psql_as "t$v" postgres -c "CREATE ROLE ees_owner LOGIN" >/dev/null || { not_ok "role ees_owner in $v"; exit 1; }
done
# what each cell is compared with: the source database as PostgreSQL's own
# tools carry it to the target's version.  Each source's -O -x dump by its
# own pg_dump, restored by a superuser with psql (of that version) into
# database ref_DB_S of each target, without ON_ERROR_STOP (what a version does
# not know fails alone, as it would for any restore); when source and target
# versions are the same, that reference must equal the source itself.  A
# server writes some definitions differently from another version (view
# bodies: 15 qualifies column names, 16 and later do not), so across
# versions the reference is the fair measure.
for db in "${dbs[@]}"; do for s in 15 17 18; do
	"$(pg_bin "$s" pg_dump)" -h 127.0.0.1 -p "$(pg_port "s$s")" -U postgres -O -x "$db" >"$T/ref-$s.sql" ||
		{ not_ok "pg_dump $s -O -x of the $s source"; exit 1; }
	pg_dump_of "s$s" "$db" -O -x | dump_without_superuser_only >"$T/src-$s.sql"
	for v in "${targets[@]}"; do
		psql_as "t$v" postgres -c "CREATE DATABASE ref_${db}_$s TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null &&
			"$(pg_bin "$s" psql)" -X -q -h 127.0.0.1 -p "$(pg_port "t$v")" -U postgres -d "ref_${db}_$s" -f - \
				<"$T/ref-$s.sql" >"$T/ref-$s-$v.log" 2>&1
		pg_dump_of "t$v" "ref_${db}_$s" -O -x | dump_without_superuser_only >"$T/ref-$db-$s-$v.sql"
		echo "# reference: the $s source of $db restored by psql $s into $v: $(grep -c 'ERROR' "$T/ref-$s-$v.log") statements failed, $(diff "$T/src-$s.sql" "$T/ref-$db-$s-$v.sql" | grep -c '^[<>]') lines differ from the source"
		grep 'ERROR' "$T/ref-$s-$v.log" | sort | uniq -c | head -5 | sed 's/^/#   /'
		# large objects: pg_dump 17 and later group them by owner and
		# privileges, which a restore without owners makes uniform
		if [ "$s" = "$v" ]; then
			if diff -u <(dump_without_entries 'BLOB METADATA|BLOBS' <"$T/src-$s.sql") \
				<(dump_without_entries 'BLOB METADATA|BLOBS' <"$T/ref-$db-$s-$v.sql") >"$T/ref-$s.diff"; then
				ok "reference: $db of the $s source restored into $v equals the source (large objects aside)"
			else
				not_ok "reference: $db of the $s source restored into $v equals the source (large objects aside)"
				head -60 "$T/ref-$s.diff" | sed 's/^/#   /'
			fi
		fi
	done
done; done

# the dumps: $T/d-DUMPER-SOURCE-KIND.sql
for p in "${pairs[@]}"; do
	read -r d s <<<"$p"
	ks=("${kinds[@]}")
	[ "$d" = 18 ] && [ "$s" = 18 ] && ks+=(stats)
	for k in "${ks[@]}"; do
		# shellcheck disable=SC2086 # the options are words
		"$(pg_bin "$d" pg_dump)" -h 127.0.0.1 -p "$(pg_port "s$s")" -U postgres ${kind_args[$k]} kitchen_sink >"$T/d-$d-$s-$k.sql" ||
			{ not_ok "pg_dump $d ${kind_args[$k]} of the $s source"; exit 1; }
	done
	if [[ " ${dbs[*]} " == *" synapse "* ]]; then
		"$(pg_bin "$d" pg_dump)" -h 127.0.0.1 -p "$(pg_port "s$s")" -U postgres synapse >"$T/syn-$d-$s.sql" ||
			{ not_ok "pg_dump $d of the $s source's synapse"; exit 1; }
	fi
done
check "pg_dump 18 --statistics writes pg_restore_relation_stats calls" \
	grep -q 'pg_catalog.pg_restore_relation_stats' "$T/d-18-18-stats.sql"
[ -f "$T/d-17-15-owners.sql" ] && check "pg_dump 17 writes SET transaction_timeout (dropped for a 15 target)" \
	grep -q '^SET transaction_timeout = 0;' "$T/d-17-15-owners.sql"

# daemons: raw imports, with --allow-drop, without it, and --jobs 2 (long)
declare -A port=()
for db in "${dbs[@]}"; do for v in "${targets[@]}"; do
	conn="host=127.0.0.1 port=$(pg_port "t$v") user=ees_owner dbname=$db"
	start_daemon "$T/serve-$db-$v.log" 127.0.0.1 --target "$conn" --progress-interval 0 ||
		{ not_ok "daemon for $v starts"; tail "$T/serve-$v.log"; exit 1; }
	port[$db-$v]=$DAEMON_PORT
	start_daemon "$T/serve-$db-$v-drop.log" 127.0.0.1 --target "$conn" --progress-interval 0 --allow-drop ||
		{ not_ok "daemon for $v (--allow-drop) starts"; exit 1; }
	port[$db-$v-drop]=$DAEMON_PORT
	if [ "$long" = 1 ]; then
		start_daemon "$T/serve-$db-$v-jobs.log" 127.0.0.1 --target "$conn" --progress-interval 0 --allow-drop --jobs 2 ||
			{ not_ok "daemon for $v (--jobs 2) starts"; exit 1; }
		port[$db-$v-jobs]=$DAEMON_PORT
	fi
done; done

reset_target() {
	psql_as "t$1" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
		-c "CREATE DATABASE $db OWNER ees_owner TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}
# the database of the cells now: $db (kitchen_sink or synapse)
db=kitchen_sink
tgt_ks() { pg_dump_of "t$1" "$db" -O -x | dump_without_superuser_only; }

# import VIA V FILE DUMPER OUT: one import; VIA raw, raw-drop, wire or jobs
import() {
	local via=$1 v=$2 file=$3 d=$4 out=$5
	case $via in
	raw) timeout 120 nc -N 127.0.0.1 "${port[$db-$v]}" <"$file" >"$out" 2>&1 ;;
	raw-drop) timeout 120 nc -N 127.0.0.1 "${port[$db-$v-drop]}" <"$file" >"$out" 2>&1 ;;
	jobs) timeout 120 nc -N 127.0.0.1 "${port[$db-$v-jobs]}" <"$file" >"$out" 2>&1 ;;
	wire) PGCONNECT_TIMEOUT=10 timeout 120 "$(pg_bin "$d" psql)" -X -q -o /dev/null -v ON_ERROR_STOP=1 -1 \
		-h 127.0.0.1 -p "${port[$db-$v-drop]}" -U importer -d "$db" -f - <"$file" >"$out" 2>&1 ;;
	esac
}

# cell ROW V VIA FILE DUMPER SOURCE: an import that must commit and equal
# the source; prints its result word into $result
n=0
cell() {
	local row=$1 v=$2 via=$3 file=$4 d=$5 s=$6 out
	n=$((n + 1)); out=$T/out-$n
	reset_target "$v"
	import "$via" "$v" "$file" "$d" "$out"
	local rc=$? committed=0
	case $via in
	wire) [ "$rc" -eq 0 ] && committed=1 ;;
	*) grep -q "^OK import into $db committed" "$out" && committed=1 ;;
	esac
	if [ "$committed" != 1 ]; then
		not_ok "$row into $v ($via): the import commits"
		grep -v -e '^  rows' -e '^rows' -e 'NOTICE:  pgsluice dropped' "$out" | grep -E -A3 'ERROR|FATAL|error' | head -12 | sed 's/^/# /'
		result=FAIL; return
	fi
	tgt_ks "$v" >"$T/tgt-$n.sql"
	if diff -u "$T/ref-$db-$s-$v.sql" "$T/tgt-$n.sql" >"$T/diff-$n"; then
		ok "$row into $v ($via): committed, pg_dump -O -x equals the source's (as restored into $v by psql)"
		result=ok
	else
		not_ok "$row into $v ($via): pg_dump -O -x equals the source's (as restored into $v by psql) ($(grep -c '^[-+][^-+]' "$T/diff-$n") lines differ)"
		head -30 "$T/diff-$n" | sed 's/^/#   /'
		result=DIFF
	fi
}

# refused ROW V VIA FILE DUMPER WHAT FIX: an import that must fail by design,
# with an ERROR matching WHAT, a line matching FIX (what to do), the target
# unchanged
refused() {
	local row=$1 v=$2 via=$3 file=$4 d=$5 what=$6 fix=$7 out before
	n=$((n + 1)); out=$T/out-$n
	reset_target "$v"
	before=$(tgt_ks "$v")
	import "$via" "$v" "$file" "$d" "$out"
	result=refused
	if grep -q -- "$what" "$out" && grep -q -- "$fix" "$out"; then
		ok "$row into $v ($via): refused, saying what to do"
	else
		not_ok "$row into $v ($via): refused with '$what' and '$fix'"
		sed 's/^/# /' "$out" | head -12
		result=BAD
	fi
	if [ "$before" = "$(tgt_ks "$v")" ] && [ "$(psql_as "t$v" "$db" -At -c "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'")" = 0 ]; then
		ok "$row into $v ($via): the target is unchanged"
	else
		not_ok "$row into $v ($via): the target is unchanged"; result=BAD
		diff <(echo "$before") <(tgt_ks "$v") | head -10 | sed 's/^/# /'
	fi
}

# stats_check V N: after cell N of a --statistics dump: into 18 the
# statistics are applied (pg_statistic rows and reltuples as the source's),
# into older targets the calls are dropped and counted in the summary
stats_of() {
	psql_as "$1" kitchen_sink -At -c "
		SELECT count(*) FROM pg_catalog.pg_statistic st JOIN pg_catalog.pg_class c ON c.oid = st.starelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'" \
		-c "SELECT string_agg(n.nspname || '.' || c.relname || '=' || c.reltuples, ' ' ORDER BY n.nspname, c.relname)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'"
}
stats_check() {
	local v=$1 out=$T/out-$2 calls
	calls=$(grep -c '^SELECT \* FROM pg_catalog.pg_restore_\(relation\|attribute\)_stats' "$T/d-18-18-stats.sql")
	if [ "$v" -ge 18 ]; then
		if [ "$(stats_of "t$v")" = "$(stats_of s18)" ] && [ "$(stats_of s18 | head -1)" -gt 0 ]; then
			ok "pg_dump 18 --statistics into $v: the statistics are applied (pg_statistic and reltuples as the source's)"
		else
			not_ok "pg_dump 18 --statistics into $v: the statistics are applied"
			diff <(stats_of s18) <(stats_of "t$v") | head -5 | sed 's/^/# /'
			return 1
		fi
	elif grep -q "^  rule unknown-function: dropped $calls statements" "$out"; then
		ok "pg_dump 18 --statistics into $v: its $calls statistics calls are dropped and counted"
	else
		not_ok "pg_dump 18 --statistics into $v: its $calls statistics calls are dropped and counted"
		grep '^  rule' "$out" | sed 's/^/# /'
		return 1
	fi
}

declare -A table=()
rows=()
label() {
	local d=$1 s=$2 k=$3
	case $k in
	owners) echo "pg_dump $d, $s source" ;;
	*) echo "pg_dump $d ${kind_args[$k]}, $s source" ;;
	esac
}
add() { table[$1|$2]="${table[$1|$2]:+${table[$1|$2]}/}$3"; }

for p in "${pairs[@]}"; do
	read -r d s <<<"$p"
	ks=("${kinds[@]}")
	[ "$d" = 18 ] && [ "$s" = 18 ] && ks+=(stats)
	for k in "${ks[@]}"; do
		row=$(label "$d" "$s" "$k")
		rows+=("$row")
		f=$T/d-$d-$s-$k.sql
		via=raw
		[ "$k" = clean ] && via=raw-drop
		for v in "${targets[@]}"; do
			cell "$row" "$v" "$via" "$f" "$d" "$s"
			if [ "$k" = stats ] && [ "$result" = ok ]; then
				stats_check "$v" "$n" || result=STATS
			fi
			add "$row" "$v" "$result"
			if [ "$long" = 1 ]; then
				cell "$row" "$v" wire "$f" "$d" "$s"; add "$row" "$v" "$result"
				# the kitchen sink has large objects, which --jobs refuses
				refused "$row" "$v" jobs "$f" "$d" 'large object, which --jobs cannot' 'import this dump without --jobs'
				add "$row" "$v" "$result"
			fi
		done
	done
done

# the Synapse fixture: each pg_dump's plain dump (owners in it) of each source
if [[ " ${dbs[*]} " == *" synapse "* ]]; then
	db=synapse
	for p in "${pairs[@]}"; do
		read -r d s <<<"$p"
		row="Synapse fixture, pg_dump $d, $s source"
		rows+=("$row")
		for v in "${targets[@]}"; do
			cell "$row" "$v" raw "$T/syn-$d-$s.sql" "$d" "$s"; add "$row" "$v" "$result"
			if [ "$long" = 1 ]; then
				cell "$row" "$v" wire "$T/syn-$d-$s.sql" "$d" "$s"; add "$row" "$v" "$result"
				cell "$row" "$v" jobs "$T/syn-$d-$s.sql" "$d" "$s"; add "$row" "$v" "$result"
			fi
		done
	done
	db=kitchen_sink
fi

# the cells that must fail by design
row="pg_dump 15 --clean --if-exists, no --allow-drop"
rows+=("$row")
for v in "${targets[@]}"; do
	refused "$row" "$v" raw "$T/d-15-15-clean.sql" 15 '^ERROR .*DROP' 'with serve --clear-target the dump.s own drops are skipped'
	add "$row" "$v" "$result"
done
# a column attribute option the target does not know (no released version
# from 15 to 18 added one to n_distinct and n_distinct_inherited: this is a
# dump from a server that has one)
row="column option the target does not know"
rows+=("$row")
awk '{ print } /^CREATE TABLE ks.parent \(/ { n = 1 } n && /^\);$/ { print "ALTER TABLE ONLY ks.parent ALTER COLUMN note SET (zstd_compression_level = 3);"; n = 0 }' \
	"$T/d-15-15-noowner.sql" >"$T/attopt.sql"
for v in "${targets[@]}"; do
	refused "$row" "$v" raw "$T/attopt.sql" 15 'zstd_compression_level' 'rolled back'
	add "$row" "$v" "$result"
done

# the table
w=0
for r in "${rows[@]}"; do [ ${#r} -gt "$w" ] && w=${#r}; done
mode="serve (nc)"
[ "$long" = 1 ] && mode="nc/psql/--jobs 2"
{
	printf '| %-*s |' "$w" "dump (kitchen sink), by $mode"
	for v in "${targets[@]}"; do printf ' into %s |' "$v"; done
	printf '\n|%s|' "$(printf '%*s' $((w + 2)) '' | tr ' ' -)"
	for v in "${targets[@]}"; do printf -- '---------|'; done
	printf '\n'
	for r in "${rows[@]}"; do
		printf '| %-*s |' "$w" "$r"
		for v in "${targets[@]}"; do printf ' %-7s |' "${table[$r|$v]}"; done
		printf '\n'
	done
} >"$T/table"
sed 's/^/# /' "$T/table"
mkdir -p "$ROOT/build" && cp "$T/table" "$ROOT/build/matrix_versions.table"
