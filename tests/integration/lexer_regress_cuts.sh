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
# tests/integration/lexer_regress_cuts.expected (tests/tools/regresscuts.py)
# explains it: the queries a meta-command sends, the branches \if skips,
# psql's backslash commands inside a statement (which the lexer refuses),
# variables holding statements, psql's own savepoints and cursors, a \c the
# server refused.  Every other stretch fails the test, and so does a rule
# that explained nothing (the list stays short and true).  What the
# comparison means, then: every statement psql sent to the server is one
# lexer statement with the same text, except where a meta-command made
# psql send something the script does not hold as a statement.
#
# Also: no crash, no hang and no sanitizer report from lexdiff, which links
# the same ASan+UBSan build of sqlrewrite as build/asan-pgsluice (filter
# itself would stop at a script's first SELECT, which its rules refuse).
# Every run has a timeout.
. "$(dirname "$0")/../lib/common.sh"
. "$ROOT/tests/lib/pgregress.sh"

LEXDIFF=$ROOT/build/tools/lexdiff
EXPECTED=$ROOT/tests/integration/lexer_regress_cuts.expected
[ -x "$LEXDIFF" ] || { not_ok "regress cuts: $LEXDIFF not built (make build/tools/lexdiff)"; exit 1; }
pgregress_scripts || { not_ok "regress cuts: the regression suite's scripts (see the pgregress lines above)"; exit 1; }

pg_start rcut "log_statement = all" "log_duration = on" "log_min_error_statement = error" \
	"logging_collector = on" "log_destination = 'jsonlog'" "log_directory = 'log'" \
	"log_filename = 'server.log'" "log_rotation_size = 0" "max_prepared_transactions = 2" ||
	{ not_ok "regress cuts: start a cluster with log_statement = all"; exit 1; }
port=$(pg_port rcut)

version=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "SHOW server_version_num")

# The lexer takes the lines after COPY ... FROM stdin as its data up to \.,
# also when the server refused the COPY: so does psql since the fix for
# CVE-2026-6464 (Debian 12: 15.20 has it, 15.18 not); an older psql runs them
# as SQL, and this comparison would show every refused COPY of the suite.
leak=$(printf 'COPY pg_catalog.pgsluice_no_such_table FROM stdin;\nSELECT 42 AS ran_as_sql;\n\\.\n' |
	psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres 2>/dev/null)
check "regress cuts: psql $(psql -V | sed "s/^psql (PostgreSQL) //") takes the lines after a refused COPY FROM stdin as its data, not as SQL (the CVE-2026-6464 fix; an older psql: upgrade postgresql-client-$PGREGRESS_MAJOR from Debian's security suite)" \
	test -z "$leak"

# The scripts pg_regress does not run (not in its schedule), and those of
# the modules and languages: psql -a per script, as pg_regress runs it, one
# database per folder, the folders three at a time, while pg_regress runs
# the schedule.  run_scripts DB FILE...: the files in order, in DB.
run_scripts() {
	local db=$1 f rc
	shift
	psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null 2>&1
	for f in "$@"; do
		# statement_timeout: worker_spi waits for a background worker that is not loaded
		PGAPPNAME="m/$db/$(basename "$f" .sql)" PGOPTIONS="-c statement_timeout=10s" \
			timeout -k 5 60 psql -X -a -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" \
			<"$f" >/dev/null 2>&1
		rc=$?
		[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "$f: stopped by its 60 s timeout"
	done
	return 0
}
export -f run_scripts
export port
: >"$T/jobs"
for f in "$PGREGRESS_SRC"/sql/*.sql; do
	grep -q -E "^test:.*[[:space:]]$(basename "$f" .sql)([[:space:]]|\$)" "$PGREGRESS_SRC/parallel_schedule" ||
		echo "m_unscheduled $f" >>"$T/jobs"
done
for dir in $(find "$PGREGRESS_MODULES" -type d -name sql | sed 's,/sql$,,' | sort); do
	db=m_$(basename "$dir")
	[ "$db" = m_src ] && db=m_$(basename "$(dirname "$dir")") # src/pl/plpgsql/src
	echo "$db" "$dir"/sql/*.sql >>"$T/jobs"
done
start=$SECONDS
# one line a job; the second field on are its files
tr '\n' '\0' <"$T/jobs" | xargs -0 -P 3 -I{} bash -c 'run_scripts {}' >"$T/modules.log" 2>&1 &
modules=$!

# pg_regress, as pgregress.sh runs it (application_name pg_regress/TEST)
regress=$PGBIN/../lib/pgxs/src/test/regress/pg_regress
[ -x "$regress" ] || regress=/usr/lib/postgresql/$PGREGRESS_MAJOR/lib/pgxs/src/test/regress/pg_regress
mkdir -p "$T/regress-out" && chmod 777 "$T/regress-out"
(cd "$PGREGRESS_SRC" && timeout -k 5 300 runuser -u postgres -- "$regress" --inputdir=. \
	--outputdir="$T/regress-out" --bindir="$PGBIN" --dlpath=. --host=127.0.0.1 \
	--port="$port" --user=postgres --schedule=parallel_schedule \
	--max-concurrent-tests=20) >"$T/pg_regress.log" 2>&1
rc=$?
check "regress cuts: pg_regress ran the schedule within 300 s (exit $rc, $((SECONDS - start)) s; failed tests do not matter)" \
	test "$rc" -ne 124 -a "$rc" -ne 137
wait_pid "$modules" 300 "$T/modules.log"
sed 's/^/# /' "$T/modules.log" | head -5
check "regress cuts: the other scripts ran (modules, languages, unscheduled), none stopped by its 60 s timeout ($((SECONDS - start)) s)" \
	test ! -s "$T/modules.log"
pg_stop rcut # the log is complete

: >"$T/scripts.map"
for name in $(sed -n 's/^test: *//p' "$PGREGRESS_SRC/parallel_schedule"); do
	printf 'pg_regress/%s\t%s\n' "$name" "$PGREGRESS_SRC/sql/$name.sql" >>"$T/scripts.map"
done
while read -r db files; do
	for f in $files; do
		printf 'm/%s/%s\t%s\n' "$db" "$(basename "$f" .sql)" "$f" >>"$T/scripts.map"
	done
done <"$T/jobs"
nscripts=$(wc -l <"$T/scripts.map")

# the lexer's cuts, under ASan+UBSan
start=$SECONDS
cut -f2 "$T/scripts.map" | xargs timeout -k 5 120 "$LEXDIFF" --cuts "$version" >"$T/cuts.out" 2>"$T/cuts.err"
rc=$?
check "regress cuts: lexdiff --cuts over $nscripts scripts: no crash, no hang, no sanitizer report (exit $rc, $((SECONDS - start)) s)" \
	test "$rc" -eq 0 -a ! -s "$T/cuts.err"
head -5 "$T/cuts.err" | sed 's/^/# /'

logs=("$T"/pg-rcut/log/*.json)
timeout -k 5 120 python3 "$ROOT/tests/tools/regresscuts.py" "${logs[0]}" "$T/cuts.out" \
	"$T/scripts.map" "$EXPECTED" >"$T/compare.out" 2>&1
rc=$?
grep '^#' "$T/compare.out" | head -60
check "regress cuts: $(grep -v '^#' "$T/compare.out" | tail -1)" test "$rc" -eq 0

# make test-long: the same comparison over the fuzzer's corpus
# (build/fuzz-corpus, left by make fuzz), each input without its two seed
# bytes and cut at its first NUL byte or invalid UTF-8 (psql drops the rest
# of a line after a NUL, the server refuses invalid UTF-8 before it logs
# anything).  Only the inputs without a backslash: psql would run a mangled
# meta-command (\! runs a shell command, \o and \w write files, \g |cmd
# pipes), which a test must not do; the lexer refuses a backslash outside
# quotes inside a statement anyway.  psql runs them as a non-superuser owner
# of its database, with standard_conforming_strings pinned by the
# connection (a mangled ALTER ROLE ... SET cannot change it for the next
# input) and a 2 s statement_timeout; each input is compared up to the
# lexer's first refusal (regresscuts.py --corpus).
if [ -n "${PGSLUICE_TEST_LONG:-}" ]; then
	if [ -d "$ROOT/build/fuzz-corpus" ] && [ -n "$(ls "$ROOT/build/fuzz-corpus")" ]; then
		mkdir -p "$T/fuzz"
		python3 - "$ROOT/build/fuzz-corpus" "$T/fuzz" >"$T/fuzz.map" <<'PY'
import os, sys
src, dst = sys.argv[1:]
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as f:
        data = f.read()[2:]
    if b"\\" in data:
        continue
    data = data.split(b"\0", 1)[0]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        data = data[:e.start]
    path = os.path.join(dst, name[:50] + ".sql")
    with open(path, "wb") as f:
        f.write(data)
    print("f/%s\t%s" % (name[:50], path))
PY
		pg_start fcut "log_statement = all" "log_duration = on" "log_min_error_statement = error" \
			"logging_collector = on" "log_destination = 'jsonlog'" "log_directory = 'log'" \
			"log_filename = 'server.log'" "log_rotation_size = 0" ||
			{ not_ok "regress cuts: fuzz corpus: start a cluster"; exit 1; }
		export fport=$(pg_port fcut)
		psql_as fcut postgres -c "CREATE ROLE fuzz_owner LOGIN" -c "CREATE DATABASE fuzz OWNER fuzz_owner" >/dev/null
		start=$SECONDS
		tr '\n' '\0' <"$T/fuzz.map" | xargs -0 -P 2 -I{} sh -c '
			app=${1%%	*}; f=${1#*	}
			PGAPPNAME=$app PGOPTIONS="-c statement_timeout=2s -c standard_conforming_strings=on" \
				timeout -k 5 30 psql -X -q -h 127.0.0.1 -p "$fport" -U fuzz_owner -d fuzz <"$f" >/dev/null 2>&1
			[ $? -eq 124 ] && echo "$f: stopped by its 30 s timeout"; exit 0' sh {} >"$T/fuzz-psql.log" 2>&1
		n=$(wc -l <"$T/fuzz.map")
		head -5 "$T/fuzz-psql.log" | sed 's/^/# /'
		check "regress cuts: fuzz corpus: psql ran $n inputs without a backslash, none stopped by its timeout ($((SECONDS - start)) s)" \
			test ! -s "$T/fuzz-psql.log"
		pg_stop fcut
		cut -f2 "$T/fuzz.map" | xargs timeout -k 5 300 "$LEXDIFF" --cuts "$version" >"$T/fuzz-cuts.out" 2>"$T/fuzz-cuts.err"
		rc=$?
		head -5 "$T/fuzz-cuts.err" | sed 's/^/# /'
		check "regress cuts: fuzz corpus: lexdiff --cuts: no crash, no hang, no sanitizer report (exit $rc)" \
			test "$rc" -eq 0 -a ! -s "$T/fuzz-cuts.err"
		logs=("$T"/pg-fcut/log/*.json)
		timeout -k 5 300 python3 "$ROOT/tests/tools/regresscuts.py" --corpus "${logs[0]}" \
			"$T/fuzz-cuts.out" "$T/fuzz.map" "$EXPECTED" >"$T/fuzz-compare.out" 2>&1
		rc=$?
		grep '^# DIFFERENT' "$T/fuzz-compare.out" | head -20
		grep '^# rule' "$T/fuzz-compare.out"
		check "regress cuts: fuzz corpus: $(grep -v '^#' "$T/fuzz-compare.out" | tail -1)" test "$rc" -eq 0
	else
		not_ok "regress cuts: no fuzz corpus in build/fuzz-corpus (run make fuzz first)"
	fi
fi
