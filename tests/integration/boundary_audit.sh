#!/bin/bash
# boundary_audit.sh - a dump's own code changes the target role or
# database: the audit before COMMIT (audit.h) rolls the import back and
# names the change; the target role and database are as before.
#
# The code runs where the statement filter cannot see it: a column DEFAULT
# that COPY evaluates for every row, a CHECK constraint's function, and a
# trigger created before the data (which the rules may refuse outright:
# then that is the refusal).  With --jobs 2 (pre-data and every COPY batch
# commit by themselves) and --no-single-transaction, the audit finds the
# change and says it is committed.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

bd_cluster || { not_ok "cluster starts"; exit 1; }
bd_serve || { not_ok "daemon starts"; exit 1; }

# state: what the audit guards, as psql sees it from outside
state() {
	psql_as tgt postgres -At -c "SELECT coalesce(array_to_string(rolconfig, ','), '-') FROM pg_roles WHERE rolname = '$TARGET_USER'" \
		-c "SELECT datconnlimit FROM pg_database WHERE datname = 'synapse'" \
		-c "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'synapse'"
}
state >"$T/state0"
bd_tgt_dump >"$T/before.sql"

FN_ROLE='CREATE FUNCTION public.f() RETURNS integer LANGUAGE plpgsql AS $$BEGIN ALTER ROLE CURRENT_USER SET default_transaction_read_only = on; RETURN 1; END$$;\n'
FN_DB='CREATE FUNCTION public.f() RETURNS integer LANGUAGE plpgsql AS $$BEGIN ALTER DATABASE synapse CONNECTION LIMIT 0; RETURN 1; END$$;\n'
FN_DBSET='CREATE FUNCTION public.f() RETURNS integer LANGUAGE plpgsql AS $$BEGIN ALTER DATABASE synapse SET work_mem = '"'64kB'"'; RETURN 1; END$$;\n'

# attack NAME EXPECT DUMP-BODY [serve-jobs]: the import fails (the audit, or
# a rule), the role and the database are unchanged, and so is the target
attack() {
	local name=$1 expect=$2 body=$3
	bd_dump "$T/d.sql" "$body"
	bd_send "$T/d.sql" "$T/out"
	if bd_result "$T/out" | grep -Eq "^ERROR ($expect|statement [0-9]+ at line [0-9]+ refused)"; then
		ok "$name: the import fails"
	else
		not_ok "$name: the import fails"; sed 's/^/# /' "$T/out" | head -8
	fi
	state >"$T/state1"
	if cmp -s "$T/state0" "$T/state1"; then ok "$name: role and database unchanged"; else
		not_ok "$name: role and database unchanged"; diff "$T/state0" "$T/state1" | sed 's/^/# /'; fi
	tgt_now=$T/now.sql
	bd_tgt_dump >"$tgt_now"
	if cmp -s "$T/before.sql" "$tgt_now"; then ok "$name: target unchanged"; else
		not_ok "$name: target unchanged"; diff "$T/before.sql" "$tgt_now" | head -10 | sed 's/^/# /'; fi
}
AUDIT_ROLE="the dump changed the target role or database, which an import must leave alone"

attack "ALTER ROLE in a column default run by COPY" "$AUDIT_ROLE" \
	"${FN_ROLE}CREATE TABLE public.t (a integer, b integer DEFAULT public.f());\nCOPY public.t (a) FROM stdin;\n1\n2\n\\\\.\n"
check "ALTER ROLE: the change is named" grep -q "the target role's settings (pg_db_role_setting) changed: it was \"\", it is now \"every database: default_transaction_read_only=on\"" "$T/out"
check "ALTER ROLE: rolled back" grep -q '^  rolled back: the target is as it was before the import' "$T/out"

attack "ALTER DATABASE CONNECTION LIMIT in a CHECK constraint's function" "$AUDIT_ROLE" \
	"${FN_DB}CREATE TABLE public.t (a integer CHECK (public.f() = 1));\nCOPY public.t (a) FROM stdin;\n1\n\\\\.\n"
check "CONNECTION LIMIT: the change is named" grep -q 'the target database (pg_database: .*) changed: it was ".*"datconnlimit":-1.*", it is now ".*"datconnlimit":0' "$T/out"

attack "ALTER DATABASE SET in a column default" "$AUDIT_ROLE" \
	"${FN_DBSET}CREATE TABLE public.t (a integer, b integer DEFAULT public.f());\nCOPY public.t (a) FROM stdin;\n1\n\\\\.\n"
check "ALTER DATABASE SET: the change is named" grep -q "the target database's settings (pg_db_role_setting) changed: it was \"\", it is now \"every role: work_mem=64kB\"" "$T/out"

attack "ALTER ROLE in a trigger created before the data" "$AUDIT_ROLE" \
	'CREATE FUNCTION public.tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN ALTER ROLE CURRENT_USER SET default_transaction_read_only = on; RETURN NEW; END$$;\nCREATE TABLE public.t (a integer);\nCREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.tf();\nCOPY public.t (a) FROM stdin;\n1\n\\.\n'

# a dump that leaves them alone imports as ever (the audit passes)
bd_dump "$T/d.sql" 'CREATE TABLE public.t (a integer);\nCOPY public.t (a) FROM stdin;\n1\n\\.\n'
bd_send "$T/d.sql" "$T/out"
check "a harmless dump: OK (the audit passes)" grep -q '^OK import into synapse committed' "$T/out"
bd_stop
bd_reset
bd_tgt_dump >"$T/before.sql"

# --jobs 2: pre-data is committed before the data and every COPY batch
# commits by itself, so the audit can only find the change, not undo it:
# the import fails, says so, and the --jobs undo removes what it created
bd_serve --jobs 2 || { not_ok "daemon starts (--jobs 2)"; exit 1; }
bd_dump "$T/d.sql" "${FN_ROLE}CREATE TABLE public.t (a integer, b integer DEFAULT public.f());\nCOPY public.t (a) FROM stdin;\n1\n2\n\\\\.\n"
bd_send "$T/d.sql" "$T/out"
check "--jobs 2: ALTER ROLE in a column default: the import fails on the audit" grep -q "^ERROR $AUDIT_ROLE" "$T/out"
check "--jobs 2: the change is named" grep -q "the target role's settings (pg_db_role_setting) changed" "$T/out"
check "--jobs 2: the client is told it is committed and to undo it by hand" grep -q '^  --jobs: .* so this change is committed: undo it by hand' "$T/out"
bd_tgt_dump >"$T/now.sql"
check "--jobs 2: what the import created is undone" cmp -s "$T/before.sql" "$T/now.sql"
bd_stop
bd_reset
psql_as tgt postgres -c "ALTER ROLE $TARGET_USER RESET ALL" >/dev/null

# --no-single-transaction: the same, every statement commits by itself
bd_serve --no-single-transaction || { not_ok "daemon starts (--no-single-transaction)"; exit 1; }
bd_send "$T/d.sql" "$T/out"
check "--no-single-transaction: ALTER ROLE in a column default: the import fails on the audit" grep -q "^ERROR $AUDIT_ROLE" "$T/out"
check "--no-single-transaction: the client is told it is committed and to undo it by hand" grep -q '^  --no-single-transaction: every statement commits by itself, so this change is committed: undo it by hand' "$T/out"
psql_as tgt postgres -c "ALTER ROLE $TARGET_USER RESET ALL" >/dev/null
