#!/bin/bash
# boundary_role.sh - the target role is checked in serve's preflight: a
# superuser target is refused unless --allow-superuser-target (then the log
# and the summary say so); CREATEROLE, BYPASSRLS and the server-file roles
# draw a warning; `pgsluice check` gives the same verdict.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

bd_cluster || { not_ok "cluster starts"; exit 1; }
SUPER="host=127.0.0.1 port=$(pg_port tgt) user=postgres dbname=synapse"
bd_dump "$T/d.sql" 'CREATE TABLE public.t (a integer);\nCOPY public.t (a) FROM stdin;\n1\n\\.\n'

# a superuser target, no option: refused before anything is sent
start_daemon "$T/serve.log" 127.0.0.1 --target "$SUPER" --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
SPORT=$DAEMON_PORT SPID=$DAEMON_PID
bd_send "$T/d.sql" "$T/out"
if bd_result "$T/out" | grep -q '^ERROR the target role postgres is a superuser: a dump runs with its rights'; then
	ok "superuser target: refused"
else
	not_ok "superuser target: refused"; sed 's/^/# /' "$T/out" | head -5
fi
check "superuser target: the refusal names the option" grep -q -- '--allow-superuser-target to accept that' "$T/out"
check "superuser target: nothing was changed" grep -q '^  nothing was changed in the target' "$T/out"
check "superuser target: the table is not there" test "$(psql_as tgt synapse -At -c "SELECT to_regclass('public.t') IS NULL")" = t
check "superuser target: the log says why" grep -q 'ERROR the target role postgres is a superuser' "$T/serve.log"
bd_stop

# with --allow-superuser-target: imported, and the log and summary say so
start_daemon "$T/serve.log" 127.0.0.1 --target "$SUPER" --progress-interval 0 --allow-superuser-target || { not_ok "daemon starts"; exit 1; }
SPORT=$DAEMON_PORT SPID=$DAEMON_PID
bd_send "$T/d.sql" "$T/out"
check "--allow-superuser-target: OK" grep -q '^OK import into synapse committed' "$T/out"
check "--allow-superuser-target: the client is warned" grep -q '^warning: the target role postgres is a superuser, allowed by --allow-superuser-target' "$T/out"
check "--allow-superuser-target: the summary says so" grep -q '^  the target role postgres is a superuser (--allow-superuser-target)' "$T/out"
check "--allow-superuser-target: the log says so" grep -q 'superuser, allowed by --allow-superuser-target' "$T/serve.log"
bd_stop
bd_reset

# CREATEROLE, BYPASSRLS, pg_read_server_files: a warning, the import goes on
psql_as tgt postgres -c "ALTER ROLE $TARGET_USER CREATEROLE BYPASSRLS" -c "GRANT pg_read_server_files TO $TARGET_USER" >/dev/null
bd_serve || { not_ok "daemon starts"; exit 1; }
bd_send "$T/d.sql" "$T/out"
check "CREATEROLE BYPASSRLS pg_read_server_files: OK" grep -q '^OK import into synapse committed' "$T/out"
check "CREATEROLE BYPASSRLS pg_read_server_files: warned" grep -q "^warning: the target role $TARGET_USER has CREATEROLE, BYPASSRLS, member of pg_read_server_files" "$T/out"
"$PGSLUICE" check --target "$TARGET" >"$T/check.out" 2>&1
check "check: the same warning" grep -q "^role check: serve warns: the target role $TARGET_USER has CREATEROLE, BYPASSRLS, member of pg_read_server_files" "$T/check.out"
bd_stop
psql_as tgt postgres -c "ALTER ROLE $TARGET_USER NOCREATEROLE NOBYPASSRLS" -c "REVOKE pg_read_server_files FROM $TARGET_USER" >/dev/null
"$PGSLUICE" check --target "$TARGET" >"$T/check.out" 2>&1
check "check: a plain owner is accepted" grep -q '^role check: no superuser, CREATEROLE, BYPASSRLS or server-file roles: serve accepts the role' "$T/check.out"
"$PGSLUICE" check --target "$SUPER" >"$T/check.out" 2>&1
check "check: a superuser is refused as serve would" grep -q '^role check: serve refuses this target: the target role postgres is a superuser' "$T/check.out"
