#!/bin/bash
# lexer_psql_desync.sh - the lexer cuts statements where the server's own
# scanner does, so a statement the rules refuse cannot ride inside what the
# lexer takes for a comment or a string, through `pgsluice filter | psql`.
#
# One cluster with log_statement = all.  Each hostile dump below hides a
# `DROP TABLE victim` (or data) behind a construct where a psql-like lexer
# and the server disagree: a "--" comment ended by a carriage return, an
# E'' string continued on the next line (psql, reading a line at a time,
# never continues a string, the server does), a function named "begin"
# (not a BEGIN ATOMIC body for the server, but one for psql, which then
# reads a COPY's data after it as SQL), RETURN 1xbegin (one token), a leading comment
# before COPY and before SET standard_conforming_strings.  For each:
# `filter | psql -v ON_ERROR_STOP=1 -1` as a non-superuser owner, then the
# table must still be there, the server's log must show no DROP TABLE
# victim run as a statement, and filter must have refused (exit 1) where
# it should (after SET standard_conforming_strings = off, the hidden text is
# inside one string for the server too: forwarded, harmless).
. "$(dirname "$0")/../lib/common.sh"

if [ ! -x "$PGSLUICE" ]; then
	not_ok "desync: $PGSLUICE not built (run make)"
	exit 1
fi
pg_start dsy "log_statement = all" ||
	{ not_ok "desync: start a cluster with log_statement = all"; exit 1; }
LOG=$T/pg-dsy/server.log
psql_as dsy postgres -c "CREATE ROLE dsy_owner LOGIN" -c "CREATE DATABASE dsy OWNER dsy_owner" >/dev/null &&
	psql -X -q -h 127.0.0.1 -p "$(pg_port dsy)" -U dsy_owner -d dsy \
		-c "CREATE TABLE victim (x int)" -c "INSERT INTO victim VALUES (1)" >/dev/null ||
	{ not_ok "desync: make the victim table"; exit 1; }
TRAILER=$'\n--\n-- PostgreSQL database dump complete\n--\n'

# run NAME WANT_FILTER_RC DUMP: filter the dump into psql; check the victim
run() {
	local name=$1 want=$2 dump=$3 rc n
	# each case starts from one victim row, whatever the one before did
	psql -X -q -h 127.0.0.1 -p "$(pg_port dsy)" -U dsy_owner -d dsy -c "CREATE TABLE IF NOT EXISTS victim (x int)" \
		-c "TRUNCATE victim" -c "INSERT INTO victim VALUES (1)" >/dev/null 2>&1
	printf '%s%s' "$dump" "$TRAILER" >"$T/$name.sql"
	"$PGSLUICE" filter -q <"$T/$name.sql" 2>"$T/$name.err" >"$T/$name.out"
	rc=$?
	psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port dsy)" -U dsy_owner -d dsy \
		<"$T/$name.out" >"$T/$name.psql" 2>&1
	check "desync $name: filter exits $want (got $rc: $(head -c 300 "$T/$name.err"))" test "$rc" -eq "$want"
	n=$(psql -X -At -h 127.0.0.1 -p "$(pg_port dsy)" -U dsy_owner -d dsy \
		-c "SELECT count(*) FROM victim" 2>&1)
	check "desync $name: the victim table is untouched (count: $n)" test "$n" = 1
}

run cr-comment 1 $'SELECT 1 AS a -- x\r; DROP TABLE victim; -- y\n;\n'
run e-continuation 1 $'SELECT E\'a\'\n\'\\\';DROP TABLE victim;--\' AS x;\n'
run e-continuation-comment 1 $'SELECT E\'a\' -- c\n\'\\\';DROP TABLE victim;--\' AS x;\n'
run function-begin 1 $'CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\nDROP TABLE victim;\nSELECT 1 AS end;\n'
run function-begin-copy 1 $'CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\nCOPY public.victim (x) FROM stdin;\nend; DROP TABLE victim;\n\\.\n'
run return-junk 1 $'CREATE FUNCTION public.f() RETURNS int LANGUAGE sql RETURN 1xbegin;\nDROP TABLE victim;\nSELECT 1 AS end;\n'
run set-comment 0 $'/* c */ SET standard_conforming_strings = off;\nCOMMENT ON TABLE victim IS \'a\\\';DROP TABLE victim;--\';\nCOMMENT ON TABLE victim IS \'\\\'\';\n'
if grep -q "LOG:  statement: DROP TABLE victim" "$LOG"; then
	not_ok "desync: the server's log shows no DROP TABLE victim run ($(grep -m1 'LOG:  statement: DROP TABLE victim' "$LOG"))"
else
	ok "desync: the server's log shows no DROP TABLE victim run"
fi
check "desync: the server got the hidden text only inside a string" \
	grep -q "statement: COMMENT ON TABLE victim IS 'a\\\\';DROP TABLE victim;--';" "$LOG"

# a leading comment before COPY: the data lines are data, for the lexer and the server
printf '/* c */ COPY public.victim (x) FROM stdin;\n2\n3\n\\.\n%s' "$TRAILER" >"$T/copy.sql"
"$PGSLUICE" filter -q <"$T/copy.sql" >"$T/copy.out" 2>"$T/copy.err"
rc=$?
check "desync copy-comment: filter exits 0 (got $rc: $(head -c 300 "$T/copy.err"))" test "$rc" -eq 0
psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port dsy)" -U dsy_owner -d dsy <"$T/copy.out" >"$T/copy.psql" 2>&1
n=$(psql -X -At -h 127.0.0.1 -p "$(pg_port dsy)" -U dsy_owner -d dsy -c "SELECT string_agg(x::text, ',' ORDER BY x) FROM victim" 2>&1)
check "desync copy-comment: the COPY after a comment loads its rows (got $n)" test "$n" = "1,2,3"
