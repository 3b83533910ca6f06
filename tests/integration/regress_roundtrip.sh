#!/bin/bash
# regress_roundtrip.sh - PostgreSQL's own regression database (every object
# kind, 500+ tables, partitions, inheritance, C functions from regress.so),
# made at test time (tests/lib/pgregress.sh), dumped, and imported through
# `serve` into a fresh superuser-owned target: once in one transaction and
# five times with --jobs 2 (without its large objects, which --jobs
# refuses by design).  pg_dump of source and target are compared
# entry by entry (tests/tools/dumpdiff.py); the entries that differ for
# reasons of pgsluice's rules or of PostgreSQL itself are listed below with
# their reasons, everything else must be equal, and the five --jobs imports
# must give the same database every time.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pgregress.sh"

pgregress_dump || { not_ok "the regression database is built (PostgreSQL $PGREGRESS_VERSION)"; exit 1; }
ok "the regression database is built (PostgreSQL $PGREGRESS_VERSION, $(grep -c '^CREATE TABLE' "$REGRESS_DUMP") tables)"

# Entries that may differ, with the reason (a regex over dumpdiff's entry
# key, TAB, why).  Each must match something, or dumpdiff says the list is
# stale.
cat >"$T/known" <<'EOF'
Type: PUBLICATION TABLE;	publications are dropped by the superuser-only rule (forwarded only with --allow-publications)
Type: PUBLICATION TABLES IN SCHEMA;	publications are dropped by the superuser-only rule (forwarded only with --allow-publications)
Type: PUBLICATION;	publications are dropped by the superuser-only rule (forwarded only with --allow-publications)
EOF

setup_cluster() {
	pg_start "$1" "max_prepared_transactions = 2" || return 1
	psql -X -q -h 127.0.0.1 -p "$(pg_port "$1")" -U postgres -d postgres -f "$REGRESS_GLOBALS" >/dev/null 2>&1
	psql_as "$1" postgres -c "CREATE DATABASE regression TEMPLATE template0" >/dev/null
}
new_target() {
	psql_as tgt postgres -c "DROP DATABASE IF EXISTS regression" -c "CREATE DATABASE regression TEMPLATE template0" >/dev/null
}
dump_of() { local c=$1; shift; pg_dump_of "$c" regression "$@"; }

setup_cluster src || { not_ok "source cluster"; exit 1; }
psql -X -q -h 127.0.0.1 -p "$(pg_port src)" -U postgres -d regression -f "$REGRESS_DUMP" >"$T/restore.log" 2>&1
check "psql restores the regression dump into the source without an error" sh -c "! grep -q ERROR '$T/restore.log'"
grep ERROR "$T/restore.log" | head -5 | sed 's/^/# /'
dump_of src >"$T/src.sql"
setup_cluster tgt || { not_ok "target cluster"; exit 1; }

OPTS=(--target "host=127.0.0.1 port=$(pg_port tgt) user=postgres dbname=regression"
	--allow-superuser-target --allow-native-code --keep-owners --keep-privileges
	--progress-interval 0)

import() {
	local out=$1 dump=$2 i; shift 2
	start_daemon "$T/serve.log" 127.0.0.1 --once "${OPTS[@]}" "$@" || { echo "# daemon did not start"; tail -5 "$T/serve.log"; return 1; }
	timeout 300 nc -N 127.0.0.1 "$DAEMON_PORT" <"$dump" >"$out"
	# a --once daemon ends after the import: a minute at most
	for ((i = 0; i < 600; i++)); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	grep -q '^OK import into regression committed' "$out" && return 0
	echo "# the import failed; the client saw $(wc -l <"$out") lines; the daemon's log ends:"
	tail -8 "$T/serve.log" | sed 's/^/#   /'
	return 1
}

# one transaction
new_target
if import "$T/out1" "$REGRESS_DUMP"; then
	ok "single transaction: the regression database imports"
else
	not_ok "single transaction: the regression database imports: $(grep -E '^(OK|ERROR)' "$T/out1" | head -1)"
	grep -A3 '^ERROR' "$T/out1" | head -8 | sed 's/^/# /'
fi
dump_of tgt >"$T/single.sql"
python3 "$ROOT/tests/tools/dumpdiff.py" "$T/src.sql" "$T/single.sql" "$T/known" >"$T/diff1"
rc=$?
sed 's/^/# /' "$T/diff1" | grep -v '^# known' | tail -15
grep '^known' "$T/diff1" | cut -d'(' -f2 | sort | uniq -c | sed 's/^/# known: /'
check "single transaction: every entry equals the source but the known differences ($(tail -1 "$T/diff1"))" test "$rc" -eq 0

# five times --jobs 2: the same database every time; large objects are
# refused under --jobs by design, so the dump without them, against the
# source dumped without them
dump_of src -B >"$T/src-noblobs.sql"
same=0 equal=0
for run in 1 2 3 4 5; do
	new_target
	if ! import "$T/out-jobs" "$REGRESS_DUMP_NOBLOBS" --jobs 2; then
		echo "# --jobs 2 run $run: $(grep -E '^(OK|ERROR)' "$T/out-jobs" | head -1)"
		continue
	fi
	dump_of tgt -B >"$T/jobs.sql"
	python3 "$ROOT/tests/tools/dumpdiff.py" "$T/src-noblobs.sql" "$T/jobs.sql" "$T/known" >"$T/diff-jobs" && equal=$((equal + 1))
	grep -v '^known' "$T/diff-jobs" | sed "s/^/# --jobs run $run: /" | tail -5
	[ "$run" -eq 1 ] && cp "$T/jobs.sql" "$T/jobs-first.sql"
	python3 "$ROOT/tests/tools/dumpdiff.py" "$T/jobs-first.sql" "$T/jobs.sql" >/dev/null && same=$((same + 1))
done
check "--jobs 2: 5 of 5 imports equal the source but the known differences ($equal)" test "$equal" -eq 5
check "--jobs 2: 5 of 5 imports give the same database ($same)" test "$same" -eq 5
