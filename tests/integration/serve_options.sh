#!/bin/bash
# serve_options.sh - the PostgreSQL tools' option names on every command:
# -j -v -q -O -x -1 -d/--dbname --role, PGSLUICE_TARGET, --version, usage
# errors as one line and "Try ... --help", destructive options never taken
# abbreviated; `pgsluice serve -j 2 -O -x -d CONNINFO` imports.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz

# usage_error NAME CMD...: exit 2, stderr two lines: "pgsluice CMD: ..." and
# "Try 'pgsluice CMD --help' for more information."
usage_error() {
	local name=$1 rc cmd=$3
	shift
	"$@" >"$T/u.out" 2>"$T/u.err" </dev/null
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/u.err")" -eq 2 ] && [ ! -s "$T/u.out" ] &&
		grep -q "^pgsluice $cmd: " "$T/u.err" &&
		[ "$(tail -1 "$T/u.err")" = "Try 'pgsluice $cmd --help' for more information." ]; then
		ok "$name"
	else
		not_ok "$name (exit $rc)"
		sed 's/^/#   /' "$T/u.err"
	fi
}

for cmd in serve send check filter gen-cert; do
	check "$cmd --version prints one line" test "$("$PGSLUICE" $cmd --version)" = "pgsluice $("$PGSLUICE" --version | cut -d' ' -f2)"
	usage_error "$cmd: an unknown option is one line and Try" "$PGSLUICE" "$cmd" --no-such-option
	usage_error "$cmd: an unknown short option likewise" "$PGSLUICE" "$cmd" -Z
	"$PGSLUICE" $cmd --help >"$T/help" 2>&1
	for o in '-v, --verbose' '-q, --quiet' '--version' '-h, --help'; do
		check "$cmd --help lists $o" grep -qF -- "$o" "$T/help"
	done
done
usage_error "serve: a missing --target" "$PGSLUICE" serve
usage_error "serve: a stray argument" "$PGSLUICE" serve -d x stray
usage_error "serve: -j without a number" "$PGSLUICE" serve -d x -j
usage_error "check: a missing --target" "$PGSLUICE" check
usage_error "send: no address" "$PGSLUICE" send
usage_error "serve: --clear is not --clear-target" "$PGSLUICE" serve -d x --clear
usage_error "serve: --clear-t is not --clear-target" "$PGSLUICE" serve -d x --clear-t
usage_error "serve: --force-rep is not --force-replace" "$PGSLUICE" serve -d x --force-rep
usage_error "serve: --allow-d is not --allow-drop" "$PGSLUICE" serve -d x --allow-d
usage_error "gen-cert: --forc is not --force" "$PGSLUICE" gen-cert --host a --forc
usage_error "serve: -O and --keep-owners contradict" "$PGSLUICE" serve -d x -O --keep-owners
usage_error "serve: -x and --keep-privileges contradict" "$PGSLUICE" serve -d x -x --keep-privileges
usage_error "serve: -1 and --no-single-transaction contradict" "$PGSLUICE" serve -d x -1 --no-single-transaction
"$PGSLUICE" serve --help >"$T/help"
check "serve --help: -O is the default" grep -q -- '-O, --no-owner .*(the default' "$T/help"
check "serve --help: -x is the default" grep -q -- '-x, --no-privileges .*(the default' "$T/help"
check "serve --help: -j, -d, --role, PGSLUICE_TARGET" \
	sh -c "grep -q -- '-j, --jobs N' '$T/help' && grep -q -- '-d, --target' '$T/help' && grep -q -- '--role ROLE' '$T/help' && grep -q PGSLUICE_TARGET '$T/help'"

# filter: -O -x -1 -q accepted; -v is --explain
gunzip -c "$F" >"$T/dump.sql"
"$PGSLUICE" filter -O -x -1 -q <"$T/dump.sql" >"$T/f1.sql" 2>"$T/f1.err"
"$PGSLUICE" filter <"$T/dump.sql" >"$T/f2.sql" 2>/dev/null
check "filter -O -x -1 -q: the same output as no options, no summary" \
	sh -c "cmp -s '$T/f1.sql' '$T/f2.sql' && ! test -s '$T/f1.err'"
"$PGSLUICE" filter -v <"$T/dump.sql" >/dev/null 2>"$T/fv.err"
"$PGSLUICE" filter --explain <"$T/dump.sql" >/dev/null 2>"$T/fe.err"
check "filter -v explains as --explain does" sh -c "cmp -s '$T/fv.err' '$T/fe.err' && grep -q 'line [0-9]' '$T/fv.err'"

# gen-cert -q prints nothing on stdout but the folder; -v the certificate's fields
"$PGSLUICE" gen-cert -q --host a.example --out "$T/c1" >"$T/g1" 2>&1
check "gen-cert -q: files written, no fingerprint" sh -c "test -s '$T/c1/pgsluice.crt' && ! grep -q fingerprint '$T/g1'"
"$PGSLUICE" gen-cert -v --host a.example --out "$T/c2" >"$T/g2" 2>&1
check "gen-cert -v: the certificate's fields" grep -q 'DNS:a.example' "$T/g2"

serve_clusters || { not_ok "clusters start"; exit 1; }
psql_as tgt postgres -c "CREATE ROLE synapse_owner NOLOGIN" -c "GRANT synapse_owner TO $TARGET_USER" \
	-c "GRANT CREATE ON DATABASE synapse TO synapse_owner" -c "ALTER SCHEMA public OWNER TO synapse_owner" \
	-c "CREATE ROLE stranger NOLOGIN" >/dev/null

# check: -d, --dbname, PGSLUICE_TARGET, -q, --role
"$PGSLUICE" check -d "$TARGET" >"$T/c.out" 2>&1
check "check -d CONNINFO" grep -q '^verdict: cleared' "$T/c.out"
"$PGSLUICE" check --dbname "$TARGET" -q >"$T/c.out" 2>&1
check "check --dbname CONNINFO -q: the verdict line alone" \
	sh -c "test \"\$(wc -l <'$T/c.out')\" -eq 1 && grep -q '^verdict: cleared' '$T/c.out'"
PGSLUICE_TARGET=$TARGET "$PGSLUICE" check >"$T/c.out" 2>&1
check "check with PGSLUICE_TARGET" grep -q "as $TARGET_USER\$" "$T/c.out"
"$PGSLUICE" check -d "$TARGET" --role synapse_owner >"$T/c.out" 2>&1
check "check --role: the checks are of that role" grep -q '^role synapse_owner: superuser: no' "$T/c.out"
"$PGSLUICE" check -d "$TARGET" --role stranger >"$T/c.out" 2>&1
rc=$?
check "check --role a role the login cannot become: exit 2, the server's refusal" \
	sh -c "test $rc -eq 2 && grep -q 'permission denied to set role' '$T/c.out'"

# serve -j 2 -O -x -d CONNINFO -q imports
start_daemon "$T/serve.log" 127.0.0.1 -j 2 -O -x -1 -q -d "$TARGET" --progress-interval 0.05 ||
	{ not_ok "serve -j 2 -O -x -1 -q -d starts"; exit 1; }
SPORT=$DAEMON_PORT SPID=$DAEMON_PID
send_nc "$F" "$T/out"
check "serve -j 2 -O -x -d CONNINFO: OK" grep -q '^OK import into synapse committed' "$T/out"
check "serve -q: no progress lines" sh -c "! grep -q '^progress:' '$T/out'"
check "serve -j 2: the startup line says --jobs 2" grep -q 'serving imports .*--jobs 2' "$T/serve.log"
serve_stop

# PGSLUICE_TARGET, --role, -v (debug lines), --dbname
psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER" \
	-c "GRANT CREATE ON DATABASE synapse TO synapse_owner" >/dev/null
psql_as tgt synapse -c "ALTER SCHEMA public OWNER TO synapse_owner" >/dev/null
export PGSLUICE_TARGET=$TARGET
start_daemon "$T/serve.log" 127.0.0.1 --role synapse_owner -v --progress-interval 0 ||
	{ not_ok "serve with PGSLUICE_TARGET, --role, -v starts"; exit 1; }
SPORT=$DAEMON_PORT SPID=$DAEMON_PID
unset PGSLUICE_TARGET
send_nc "$F" "$T/out"
check "PGSLUICE_TARGET --role synapse_owner: OK" grep -q '^OK import into synapse committed' "$T/out"
owners=$(psql_as tgt synapse -At -c "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'public'")
check "--role: every object belongs to the role set ($owners)" test "$owners" = synapse_owner
check "-v: debug lines in the log" grep -q ' DEBUG ' "$T/serve.log"
serve_stop
