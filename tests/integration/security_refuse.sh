#!/bin/bash
# security_refuse.sh - the refuse rule as a security boundary, on a real
# dump (the Synapse fixture), through the daemon:
#
#   each statement pg_dump never emits (COPY to/from a file, COPY PROGRAM,
#   ALTER SYSTEM, CREATE/ALTER/DROP ROLE/USER/GROUP, CREATE/ALTER/DROP
#   DATABASE, CREATE/DROP TABLESPACE, LOAD, a C-language or internal
#   function in any spelling of LANGUAGE, DO, a SELECT other than
#   pg_dump's own pg_catalog calls, CALL, an INSERT that calls a function,
#   transaction control beyond BEGIN/COMMIT), spliced into the middle of
#   the dump, ends the import: refused, named with its input line, nothing
#   of it done, the target unchanged;
#
#   a trigger created before the data: the COPY after it is refused;
#
#   a pg_dump --clean --if-exists dump into --clear-target: its own drops
#   are skipped, and it commits equal to the source;
#
#   the same texts inside a string, a comment, a dollar-quoted function
#   body and COPY data are not refused, and arrive intact.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0

serve_prologue
serve_start --clear-target --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
send_nc "$F" "$T/out0"
check "a first real import: OK" grep -q '^OK import into synapse committed' "$T/out0"
tgt_dump >"$T/before.sql"
psql_as tgt postgres -At -c "SHOW work_mem" >"$T/work_mem.before"

# the middle of the dump: right before the COPY of public.events
mid=$(grep -n -m1 '^COPY public.events ' "$T/full.sql" | cut -d: -f1)
echo "# spliced at line $mid of $(wc -l <"$T/full.sql")"

cat >"$T/refused.txt" <<'SQL'
COPY public.events TO '/tmp/pgsluice-pwned-copy';
COPY public.users FROM '/etc/passwd';
COPY public.users FROM PROGRAM 'touch /tmp/pgsluice-pwned-program';
COPY (SELECT 1) TO PROGRAM 'touch /tmp/pgsluice-pwned-program';
ALTER SYSTEM SET work_mem = '1GB';
CREATE ROLE pgsluice_evil SUPERUSER LOGIN PASSWORD 'x';
CREATE USER pgsluice_evil;
ALTER ROLE ees_owner SUPERUSER;
ALTER USER ees_owner CREATEROLE;
DROP ROLE synapse;
CREATE GROUP pgsluice_evil;
CREATE DATABASE pgsluice_evil;
ALTER DATABASE synapse SET search_path = pgsluice_evil;
DROP DATABASE postgres;
CREATE TABLESPACE pgsluice_evil LOCATION '/tmp';
DROP TABLESPACE pg_default;
LOAD 'auto_explain';
CREATE FUNCTION public.pgsluice_evil() RETURNS int AS '/tmp/evil.so', 'evil' LANGUAGE c;
CREATE OR REPLACE FUNCTION public.pgsluice_evil(int) RETURNS int LANGUAGE C AS 'libc.so.6', 'system';
DO $$ BEGIN EXECUTE 'ALTER ROLE ees_owner SUPERUSER'; END $$;
DO LANGUAGE plpgsql $do$ BEGIN PERFORM 1; END $do$;
CREATE FUNCTION public.pgsluice_evil() RETURNS int LANGUAGE $$c$$ AS 'libc.so.6', 'system';
CREATE FUNCTION public.pgsluice_evil() RETURNS int LANGUAGE U&"!0063" UESCAPE '!' AS 'libc.so.6', 'system';
CREATE FUNCTION public.pgsluice_evil(cstring) RETURNS int LANGUAGE internal AS 'int4in';
SELECT pg_sleep(1e6);
SELECT pg_catalog.pg_advisory_unlock_all();
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = current_user;
SELECT query_to_xml('select rolname from pg_roles', true, true, '');
SELECT public.pgsluice_evil();
SELECT pg_catalog.setval('public.event_push_summary_stream_ordering_seq', (SELECT 1), true);
CALL public.pgsluice_evil();
INSERT INTO public.users (name) VALUES (public.pgsluice_evil());
ROLLBACK;
ABORT;
END;
SAVEPOINT pgsluice_evil;
PREPARE TRANSACTION 'pgsluice_evil';
COMMIT PREPARED 'pgsluice_evil';
SQL

n=0
while IFS= read -r stmt; do
	n=$((n + 1))
	{ head -n $((mid - 1)) "$T/full.sql"; printf '%s\n' "$stmt"; tail -n +"$mid" "$T/full.sql"; } >"$T/bad.sql"
	send_nc "$T/bad.sql" "$T/out"
	short=${stmt:0:60}
	if grep -Eq "^ERROR statement [0-9]+ at line $mid refused \(rule [a-z-]+\): " "$T/out"; then
		ok "refused, named with its line $mid: $short"
	else
		not_ok "refused, named with its line $mid: $short"; sed 's/^/# /' "$T/out" | head -5
	fi
	check "  the client sees the statement: $short" grep -qF "  statement: ${stmt:0:150}" "$T/out"
	check "  rolled back: $short" grep -q '^  rolled back: the target is as it was before the import' "$T/out"
	sec_unchanged "  target unchanged: $short" "$T/before.sql"
done <"$T/refused.txt"
check "every refusal is in the log" test "$(grep -Ec 'ERROR \[#[0-9]+ .*\] ERROR statement [0-9]+ at line [0-9]+ refused' "$T/serve.log")" -eq "$n"
check "no role pgsluice_evil was made" test -z "$(psql_as tgt postgres -At -c "SELECT 1 FROM pg_roles WHERE rolname = 'pgsluice_evil'")"
check "ees_owner is no superuser" test "$(psql_as tgt postgres -At -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'ees_owner'")" = f
check "ALTER SYSTEM did nothing" test "$(psql_as tgt postgres -At -c "SHOW work_mem")" = "$(cat "$T/work_mem.before")"
check "no program ran" test ! -e /tmp/pgsluice-pwned-program
check "no file was written" test ! -e /tmp/pgsluice-pwned-copy
check "no database was made" test -z "$(psql_as tgt postgres -At -c "SELECT 1 FROM pg_database WHERE datname = 'pgsluice_evil'")"

# the same texts where they are data: not refused, intact
sq() { sed "s/'/''/g"; }
{
	head -n $((mid - 1)) "$T/full.sql"
	echo "CREATE TABLE public.pgsluice_probe (k integer, how text, v text);"
	# in a string
	k=0
	while IFS= read -r stmt; do
		k=$((k + 1))
		printf "INSERT INTO public.pgsluice_probe VALUES (%d, 'string', '%s');\n" "$k" "$(printf '%s' "$stmt" | sq)"
	done <"$T/refused.txt"
	# in comments: between statements, and inside one
	while IFS= read -r stmt; do
		printf -- '-- %s\n/* %s */\n' "$stmt" "$stmt"
	done <"$T/refused.txt"
	printf 'CREATE TABLE public.pgsluice_probe2 (\n    a integer -- %s\n    /* %s */\n);\n' "$(head -1 "$T/refused.txt")" "$(tail -1 "$T/refused.txt")"
	# in a dollar-quoted function body
	printf 'CREATE FUNCTION public.pgsluice_probe_fn() RETURNS SETOF text LANGUAGE sql AS $fn$\n'
	while IFS= read -r stmt; do
		printf "  -- %s\n  SELECT '%s'\n  UNION ALL\n" "$stmt" "$(printf '%s' "$stmt" | sq)"
	done <"$T/refused.txt"
	printf "  SELECT NULL WHERE false\n\$fn\$;\n"
	# in COPY data
	echo "COPY public.pgsluice_probe (k, how, v) FROM stdin;"
	k=0
	while IFS= read -r stmt; do
		k=$((k + 1))
		printf '%d\tcopy\t%s\n' "$k" "$stmt"
	done <"$T/refused.txt"
	echo '\.'
	tail -n +"$mid" "$T/full.sql"
} >"$T/data.sql"
sec_reset_target
send_nc "$T/data.sql" "$T/out"
if grep -q '^OK import into synapse committed' "$T/out"; then ok "as data: not refused, OK"; else
	not_ok "as data: not refused, OK"; sed 's/^/# /' "$T/out" | head -8; fi
for how in string copy; do
	psql_as tgt synapse -At -c "SELECT v FROM public.pgsluice_probe WHERE how = '$how' ORDER BY k" >"$T/got.$how"
	check "inside $how: arrived intact" cmp -s "$T/refused.txt" "$T/got.$how"
done
psql_as tgt synapse -At -c "SELECT * FROM public.pgsluice_probe_fn()" >"$T/got.fn"
check "inside a dollar-quoted function body: arrived intact" cmp -s "$T/refused.txt" "$T/got.fn"
psql_as tgt synapse -At -c "SELECT prosrc FROM pg_proc WHERE proname = 'pgsluice_probe_fn'" >"$T/got.src"
check "  with its -- comments" grep -qF -- "-- $(head -1 "$T/refused.txt")" "$T/got.src"
check "inside a statement's comments: the statement ran" test -n "$(psql_as tgt synapse -At -c "SELECT 1 FROM pg_class WHERE relname = 'pgsluice_probe2'")"
check "and still: no role, no program" bash -c "test ! -e /tmp/pgsluice-pwned-program && test -z \"\$(psql -X -h 127.0.0.1 -p $(pg_port tgt) -U postgres -At -c \"SELECT 1 FROM pg_roles WHERE rolname = 'pgsluice_evil'\" postgres)\""

# a trigger created before the data: COPY would fire it on every row
sec_reset_target
send_nc "$F" "$T/out"
tgt_dump >"$T/before2.sql"
{
	head -n $((mid - 1)) "$T/full.sql"
	echo 'CREATE FUNCTION public.pgsluice_evil_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;'
	echo 'CREATE TRIGGER pgsluice_evil BEFORE INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION public.pgsluice_evil_trg();'
	tail -n +"$mid" "$T/full.sql"
} >"$T/trg.sql"
send_nc "$T/trg.sql" "$T/out"
if grep -qF "refused (rule refuse): COPY public.events(...): data after the first post-data object (CREATE TRIGGER pgsluice_evil BEFORE INSERT ON public.events, line $((mid + 1)))" "$T/out" &&
	grep -q "^ERROR statement [0-9]* at line $((mid + 2)) refused" "$T/out"; then
	ok "trigger before the data: the COPY after it is refused"
else
	not_ok "trigger before the data: the COPY after it is refused"; sed 's/^/# /' "$T/out" | head -5
fi
sec_unchanged "trigger before the data: target unchanged" "$T/before2.sql"

# pg_dump --clean --if-exists (and --clean alone) into --clear-target
for opts in "--clean --if-exists" "--clean"; do
	# shellcheck disable=SC2086
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O $opts synapse >"$T/clean.sql"
	send_nc "$T/clean.sql" "$T/out"
	check "pg_dump $opts with --clear-target: OK" grep -q '^OK import into synapse committed' "$T/out"
	check "pg_dump $opts: its drops were skipped (rule clean)" grep -q '^  rule clean: dropped [0-9]* statements' "$T/out"
	tgt_dump >"$T/after.sql"
	check "pg_dump $opts: the target equals the source" cmp -s "$T/src.sql" "$T/after.sql"
done
