#!/bin/bash
# boundary_desync.sh - statements whose comments and quotes the lexer and
# the server's scanner may read differently, each hiding
# COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned-...' from the rules, against
# a target role that could run it (a member of pg_execute_server_program)
# and a server with log_statement = all:
#
#   a "--" comment ended by \r           E'' continued across a "--" comment
#   CREATE FUNCTION public.begin()      standard_conforming_strings turned
#     (psql's BEGIN ATOMIC heuristic)     off by other spellings: "= f",
#                                         "= of", a leading comment, SET LOCAL,
#                                         set_config(), SAVEPOINT / SET off /
#                                         ROLLBACK TO
#
# sent raw (nc), raw with --jobs 2, and by psql -f through the daemon's
# PostgreSQL port.  In each: the import fails (refused by a rule, by the
# server, which takes one command per statement from pgsluice, or by the
# daemon's standard_conforming_strings check), no statement that holds the
# COPY ran on the server, the file never appears, the target is unchanged.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

bd_cluster || { not_ok "cluster starts"; exit 1; }
psql_as tgt postgres -c "GRANT pg_execute_server_program TO $TARGET_USER" >/dev/null
bd_tgt_dump >"$T/before.sql"
PWN=/tmp/pwned-boundary-$$
rm -f "$PWN"*
trap 'rm -f "$PWN"*; _cleanup' EXIT
HIDE="COPY (SELECT 1) TO PROGRAM \$\$touch $PWN\$\$;"

# case NAME BODY: one attack, as a small dump in $T/case-NAME.sql
declare -a NAMES
mk() { NAMES+=("$1"); bd_dump "$T/case-$1.sql" '%b' "$2"; }
mk cr-comment "CREATE TABLE public.a (x integer) -- x\r; $HIDE -- y\n;\n"
mk econt-comment "CREATE TABLE public.b (x text DEFAULT E'a'\n-- c\n'\\\\''); $HIDE -- ' )\n;\n"
mk begin-function "CREATE FUNCTION public.begin() RETURNS integer LANGUAGE sql AS \$\$SELECT 1\$\$;\n$HIDE\nEND;\n"
payload="CREATE TABLE public.d (x text DEFAULT 'a\\\\'); $HIDE -- ');\n"
mk scs-f "SET standard_conforming_strings = f;\n$payload"
mk scs-of "SET standard_conforming_strings = of;\n$payload"
mk scs-comment "/* c */ SET standard_conforming_strings = off;\n$payload"
mk scs-local "SET LOCAL standard_conforming_strings = off;\n$payload"
mk scs-set-config "SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false);\n$payload"
mk scs-savepoint "SAVEPOINT a;\nSET standard_conforming_strings = off;\nROLLBACK TO a;\n$payload"

# slog: the daemon's log since the case began
slog() { tail -c +"$((SL_AT + 1))" "$T/serve.log"; }
# entries: the server log since the mark, one entry per line
entries() {
	bd_log_new | awk '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { if (e != "") print e; e = $0; next } { e = e "\\n" $0 } END { if (e != "") print e }' |
		cat
}
# ran: statements the server ran since the mark (simple or extended protocol)
ran() { entries | grep -a -E '(LOG:  statement: |LOG:  execute [^:]*: )'; }

# verdict PATH NAME OUT: the checks of one run.  Either the import failed
# (then no statement holding the COPY ran, and the target is unchanged), or
# the lexer read the statements as the server does (the harmless form: the
# server ran exactly the dump statements pgsluice sent, the COPY's text in
# a string of one of them).  The file never appears.
verdict() {
	local path=$1 name=$2 out=$3 n sent
	check "$path $name: $PWN was never created" test ! -e "$PWN"
	if slog | grep -q 'OK import into synapse committed' ; then
		sent=$(slog | grep -o 'statements ([0-9]* sent)' | tail -1 | grep -o '[0-9]*')
		n=$(ran | grep -a -c 'execute <unnamed>: ')
		check "$path $name: committed as the lexer read it: the server ran $n dump statements, pgsluice sent $sent" test "$n" = "$sent"
		check "$path $name: the COPY is text in a string, not a statement" test "$(ran | grep -a 'TO PROGRAM' | grep -a -c -v "'a")" = 0
		bd_reset
		return
	fi
	ok "$path $name: the import fails: $(slog | grep -a -o 'ERROR \[#[0-9]* [^]]*\] ERROR .*' | head -1 | cut -d' ' -f5- | cut -c1-110)"
	n=$(ran | grep -a -c 'TO PROGRAM')
	check "$path $name: no statement holding the COPY ran on the server ($n)" test "$n" = 0
	bd_tgt_dump >"$T/now.sql"
	if cmp -s "$T/before.sql" "$T/now.sql"; then ok "$path $name: target unchanged"; else
		not_ok "$path $name: target unchanged"; diff "$T/before.sql" "$T/now.sql" | head -6 | sed 's/^/# /'; fi
	bd_reset
}

for path in raw jobs psql; do
	case $path in
	raw) bd_serve ;;
	jobs) bd_serve --jobs 2 ;;
	psql) bd_serve --no-synapse ;;
	esac || { not_ok "$path: daemon starts"; exit 1; }
	for name in "${NAMES[@]}"; do
		SL_AT=$(stat -c %s "$T/serve.log")
		bd_log_mark
		if [ "$path" = psql ]; then
			PGCONNECT_TIMEOUT=10 timeout 60 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SPORT" -U "$TARGET_USER" -d synapse \
				-f "$T/case-$name.sql" >"$T/out" 2>&1
			rc=$?
			echo "# psql exit status $rc"
		else
			bd_send "$T/case-$name.sql" "$T/out"
		fi
		# the daemon's summary (a wire import ends when psql leaves)
		for ((i = 0; i < 100; i++)); do slog | grep -q 'ERROR \[#[0-9]* .*\] ERROR \|OK import' && break; sleep 0.1; done
		verdict "$path" "$name" "$T/out"
	done
	bd_stop
done
