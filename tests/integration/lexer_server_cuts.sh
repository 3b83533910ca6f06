#!/bin/bash
# lexer_server_cuts.sh - a differential test of the lexer against the
# server's own scanner: build/tools/lexdiff cuts scripts with the lexer and
# hands each statement to a real server as one Parse message (extended
# protocol), which refuses a text holding more than one command and fails
# one cut in the middle with a syntax error; SET/RESET statements run, and
# the server's standard_conforming_strings must stay what the lexer thinks.
#
# Scripts: the SQL the server package installs (information_schema.sql,
# system_views.sql, ..., every extension script, without its "\echo ...
# \quit" guard line), and a hostile script of constructs where a psql-like
# lexer and the server disagree ("--" ended by CR, continued E'' strings,
# a function named begin, CASE as a label in BEGIN ATOMIC, SET spellings).
# Both: no statement holds two commands, no setting difference; the
# hostile script also parses without a syntax error.  Under make test-long
# also the fuzzer's corpus (build/fuzz-corpus), when make fuzz left one.
. "$(dirname "$0")/../lib/common.sh"

LEXDIFF=$ROOT/build/tools/lexdiff
if [ ! -x "$LEXDIFF" ]; then
	not_ok "server cuts: $LEXDIFF not built (run make build/tools/lexdiff)"
	exit 1
fi
pg_start cuts || { not_ok "server cuts: start a cluster"; exit 1; }
conn="host=127.0.0.1 port=$(pg_port cuts) user=postgres dbname=postgres"
share=$("$PGBIN/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)

mkdir -p "$T/corpus"
for f in "$share"/*.sql "$share"/extension/*.sql; do
	[ -f "$f" ] && sed '/^\\echo /d' "$f" >"$T/corpus/$(basename "$f")"
done
n=$(ls "$T/corpus" | wc -l)
if [ "$n" -lt 10 ]; then
	not_ok "server cuts: the server's SQL scripts under $share (found $n)"
else
	"$LEXDIFF" "$conn" "$T"/corpus/*.sql >"$T/corpus.out" 2>&1
	rc=$?
	grep -v ' syntax error ' "$T/corpus.out" | grep -v '^[0-9]* statements' | head -5 | sed 's/^/# /'
	grep ' syntax error ' "$T/corpus.out" | head -5 | sed 's/^/# (not a cut) /'
	check "server cuts: $n scripts of the server package: $(tail -1 "$T/corpus.out")" test "$rc" -eq 0
fi

printf '%s\n' \
	$'SELECT 1 AS a -- x\r; SELECT 2 AS b;' \
	$'SELECT E\'a\' -- c\n\'\\\';SELECT 3;--\' AS x;' \
	$'SELECT E\'a\'\r\'\\\';SELECT 4;--\';' \
	$'SELECT \'a\'\n-- c\n \f-- d\r\t\'b\' AS x;' \
	$'SELECT B\'1\'\n\'0\' AS x;' \
	$'CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;' \
	'SELECT 5;' \
	$'CREATE FUNCTION public.f2() RETURNS int LANGUAGE sql BEGIN /* x */ ATOMIC SELECT 1 AS case; SELECT t.end FROM (SELECT 1 AS end) t; END;' \
	'SELECT 6;' \
	'/* c */ SET standard_conforming_strings = of;' \
	$'SELECT \'a\\\';SELECT 7;--\';' \
	$'-- c\nSET standard_conforming_strings = \'o\'\n\'n\';' \
	$'SELECT \'b\\\';' \
	$'SET standard_conforming_strings = U&\'!006Fff\' UESCAPE \'!\';' \
	$'SELECT \'c\\\';SELECT 8;--\';' \
	'RESET ALL;' \
	$'SELECT \'d\\\';' >"$T/hostile.sql"
"$LEXDIFF" "$conn" "$T/hostile.sql" >"$T/hostile.out" 2>&1
rc=$?
sed 's/^/# /' "$T/hostile.out" | head -20
check "server cuts: hostile script: one command a statement, the same setting (exit $rc)" test "$rc" -eq 0
check "server cuts: hostile script: 18 statements, no syntax error" \
	grep -q '^18 statements, 0 multiple, 0 syntax errors, 0 setting differences' "$T/hostile.out"

# make test-long: the fuzzer's corpus (build/fuzz-corpus, left by make fuzz),
# thousands of mangled dumps; the server may refuse most statements, but
# none may hold two commands
if [ -n "${PGSLUICE_TEST_LONG:-}" ]; then
	if [ -d "$ROOT/build/fuzz-corpus" ] && [ -n "$(ls "$ROOT/build/fuzz-corpus")" ]; then
		"$LEXDIFF" "$conn" "$ROOT"/build/fuzz-corpus/* >"$T/fuzz.out" 2>/dev/null
		rc=$?
		grep -E ': (multiple commands|standard_conforming_strings) ' "$T/fuzz.out" | head -5 | sed 's/^/# /'
		check "server cuts: the fuzz corpus ($(ls "$ROOT/build/fuzz-corpus" | wc -l) inputs): $(tail -1 "$T/fuzz.out")" \
			test "$rc" -eq 0
	else
		skip "server cuts: no fuzz corpus in build/fuzz-corpus (run make fuzz first)"
	fi
fi
