#!/bin/bash
# lexer_regress_cuts.sh - the lexer cuts PostgreSQL's own regression suite
# where psql does: every script of src/test/regress/sql (run by pg_regress,
# as the suite is meant to run, with its parallel schedule) and of
# src/test/modules/*/sql and src/pl/*/sql (psql -a per script, one database
# per folder), from the installed server's Debian source package
# (tests/lib/pgregress.sh).
#
# psql's cuts: what the server received.  One cluster with log_statement =
# all, log_duration and the log as JSON lines; each script's psql has its
# own application_name.  A statement is a "statement:" record, or an error
# record's statement when the text never got that far (a syntax error: no
# "statement:" record since the last "duration:" one).
# The lexer's cuts: build/tools/lexdiff --cuts, the lexer under ASan+UBSan
# with the server's server_version_num; where the lexer refuses (a
# backslash inside a statement), lexdiff reports what it stopped and cuts on
# from the next line.
#
# The comparison, per script: the lexer's statements and psql's in order,
# aligned (equal texts, modulo leading and trailing whitespace; a psql
# variable reference :name, :'name', :"name" in the lexer's text matches
# any text, since psql sends the value).  The scripts are full of psql
# meta-commands, which the lexer passes over as lines and psql runs; so a
# stretch where the two differ is allowed only when a rule of
# tests/integration/lexer_regress_cuts.expected explains it (see there:
# the server's statements a meta-command sends, the branches \if skips,
# psql's backslash commands inside a statement, psql running the data of a
# COPY FROM stdin that failed, ...); every other stretch fails the test,
# and so does a rule that explained nothing (the list stays short and true).
#
# Also: no crash and no hang of lexdiff, and of `asan-pgsluice filter` (the
# rules refuse the suite's SELECTs, so filter stops early there; it must stop
# with exit 1 and a message, never a sanitizer report).  Every run has a
# timeout.
. "$(dirname "$0")/../lib/common.sh"
. "$ROOT/tests/lib/pgregress.sh"

LEXDIFF=$ROOT/build/tools/lexdiff
ASAN_PGSLUICE=$ROOT/build/asan-pgsluice
EXPECTED=$ROOT/tests/integration/lexer_regress_cuts.expected
for b in "$LEXDIFF" "$ASAN_PGSLUICE"; do
	[ -x "$b" ] || { not_ok "regress cuts: $b not built (make build/tools/lexdiff build/asan-pgsluice)"; exit 1; }
done
pgregress_scripts || { not_ok "regress cuts: the regression suite's scripts (see the pgregress lines above)"; exit 1; }

pg_start rcut "log_statement = all" "log_duration = on" "log_min_error_statement = error" \
	"logging_collector = on" "log_destination = 'jsonlog'" "log_directory = 'log'" \
	"log_filename = 'server.log'" "log_rotation_size = 0" "max_prepared_transactions = 2" ||
	{ not_ok "regress cuts: start a cluster with log_statement = all"; exit 1; }
port=$(pg_port rcut)

version=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "SHOW server_version_num")

# pg_regress, as pgregress.sh runs it (application_name pg_regress/TEST)
regress=$PGBIN/../lib/pgxs/src/test/regress/pg_regress
[ -x "$regress" ] || regress=/usr/lib/postgresql/$PGREGRESS_MAJOR/lib/pgxs/src/test/regress/pg_regress
mkdir -p "$T/regress-out" && chmod 777 "$T/regress-out"
start=$SECONDS
(cd "$PGREGRESS_SRC" && timeout -k 5 300 runuser -u postgres -- "$regress" --inputdir=. \
	--outputdir="$T/regress-out" --bindir="$PGBIN" --dlpath=. --host=127.0.0.1 \
	--port="$port" --user=postgres --schedule=parallel_schedule \
	--max-concurrent-tests=20) >"$T/pg_regress.log" 2>&1
rc=$?
check "regress cuts: pg_regress ran the schedule within 300 s (exit $rc, $((SECONDS - start)) s; failed tests do not matter)" \
	test "$rc" -ne 124 -a "$rc" -ne 137
: >"$T/scripts.map"
for f in "$PGREGRESS_SRC"/sql/*.sql; do
	printf 'pg_regress/%s\t%s\n' "$(basename "$f" .sql)" "$f" >>"$T/scripts.map"
done

# the modules' and languages' scripts: one database per folder, its
# scripts in order, the folders side by side
start=$SECONDS
# run_folder DIR: every DIR/sql/*.sql through psql -a, as pg_regress would
run_folder() {
	local dir=$1 db f name rc
	db=m_$(basename "$dir")
	[ "$db" = m_src ] && db=m_$(basename "$(dirname "$dir")")
	psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null 2>&1
	for f in "$dir"/sql/*.sql; do
		name=${f#"$PGREGRESS_MODULES"/}
		# worker_spi waits for a background worker that is not loaded
		PGAPPNAME="m/$db/$(basename "$f" .sql)" PGOPTIONS="-c statement_timeout=10s" timeout -k 5 60 \
			psql -X -a -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" <"$f" >/dev/null 2>&1
		rc=$?
		[ "$rc" -eq 124 ] && echo "hang $name"
	done
}
export -f run_folder
export PGREGRESS_MODULES port
folders=$(find "$PGREGRESS_MODULES" -type d -name sql | sed 's,/sql$,,' | sort)
printf '%s\n' $folders | xargs -P 3 -I{} bash -c 'run_folder {}' >"$T/modules.log" 2>&1
sed 's/^/# /' "$T/modules.log" | head -5
check "regress cuts: the modules' and languages' scripts ran, none stopped by its 60 s timeout ($((SECONDS - start)) s)" \
	test ! -s "$T/modules.log"
for dir in $folders; do
	db=m_$(basename "$dir")
	[ "$db" = m_src ] && db=m_$(basename "$(dirname "$dir")")
	for f in "$dir"/sql/*.sql; do
		printf 'm/%s/%s\t%s\n' "$db" "$(basename "$f" .sql)" "$f" >>"$T/scripts.map"
	done
done
nscripts=$(wc -l <"$T/scripts.map")
pg_stop rcut # the log is complete

# the lexer's cuts, under ASan+UBSan
start=$SECONDS
cut -f2 "$T/scripts.map" | xargs timeout -k 5 120 "$LEXDIFF" --cuts "$version" >"$T/cuts.out" 2>"$T/cuts.err"
rc=$?
check "regress cuts: lexdiff --cuts over $nscripts scripts: no crash, no hang, no sanitizer report (exit $rc, $((SECONDS - start)) s)" \
	test "$rc" -eq 0 -a ! -s "$T/cuts.err"
head -5 "$T/cuts.err" | sed 's/^/# /'

start=$SECONDS
# filter under ASan+UBSan over every script: ends with exit 0 or 1 and no
# sanitizer report (two at a time, each with a timeout)
cut -f2 "$T/scripts.map" | xargs -P 2 -I{} sh -c '
	timeout -k 5 60 "$1" filter -q --target-version "$2" <"$3" >/dev/null 2>"$4/f.$$.err"
	rc=$?
	if [ "$rc" -gt 1 ] || grep -q -E "runtime error|Sanitizer" "$4/f.$$.err"; then
		echo "$3: exit $rc: $(grep -m1 -E "runtime error|Sanitizer|error" "$4/f.$$.err")"
	fi
	rm -f "$4/f.$$.err"' sh "$ASAN_PGSLUICE" "$version" {} "$T" >"$T/filter.bad" 2>&1
head -5 "$T/filter.bad" | sed 's/^/# /'
check "regress cuts: asan-pgsluice filter over $nscripts scripts: every run ends, with exit 0 or 1, no sanitizer report ($((SECONDS - start)) s)" \
	test ! -s "$T/filter.bad"

logs=("$T"/pg-rcut/log/*.json)
timeout -k 5 120 python3 "$ROOT/tests/tools/regresscuts.py" "${logs[0]}" "$T/cuts.out" \
	"$T/scripts.map" "$EXPECTED" >"$T/compare.out" 2>&1
rc=$?
grep '^#' "$T/compare.out" | head -60
check "regress cuts: $(grep -v '^#' "$T/compare.out" | tail -1)" test "$rc" -eq 0
