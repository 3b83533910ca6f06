#!/bin/bash
# jobs_failing.sh - `serve --jobs 2`: a post-data statement the target
# rejects (after all data was committed over two connections) fails the
# import with its statement number, line, message and SQLSTATE, and
# everything the import created is removed: the target is as before,
# also over an earlier import moved aside by --clear-target.  A dump with
# large objects is refused under --jobs.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
gunzip -c "$FIXTURES/synapse/synapse-small-noowner.sql.gz" >"$T/full.sql"
# after the first foreign key: post-data is well under way
l=$(grep -n -m1 'FOREIGN KEY' "$T/full.sql" | cut -d: -f1)
l=$((l + 1))
{
	head -n $((l - 1)) "$T/full.sql"
	echo "ALTER TABLE ONLY public.users ADD CONSTRAINT pgsluice_bogus CHECK (false);"
	tail -n +"$l" "$T/full.sql"
} >"$T/bad.sql"

serve_start --progress-interval 0 --jobs 2 || { not_ok "daemon starts"; exit 1; }
tgt_dump >"$T/empty.sql"
send_nc "$T/bad.sql" "$T/out1"
sed 's/^/# /' "$T/out1" | head -5
check "ERROR names the statement and the input line" grep -q "^ERROR statement [0-9]* at line $l failed: " "$T/out1"
check "ERROR has the server's message and SQLSTATE" grep -q 'check constraint "pgsluice_bogus" of relation "users" is violated by some row (SQLSTATE 23514)' "$T/out1"
check "ERROR has the statement" grep -q '^  statement: ALTER TABLE ONLY public.users ADD CONSTRAINT pgsluice_bogus CHECK (false);$' "$T/out1"
check "told it was rolled back" grep -q '^  rolled back: the target is as it was before the import' "$T/out1"
tgt_dump >"$T/after1.sql"
check "target as before (empty)" cmp -s "$T/empty.sql" "$T/after1.sql"
check "no table left" test "$(tgt_count)" -eq 0
check "no aside schema left" test "$(tgt_aside_count)" -eq 0
check "no connection of the import left on the target" test "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgsluice'")" -eq 0
serve_stop

serve_start --once --progress-interval 0 || { not_ok "daemon starts (single)"; exit 1; }
send_nc "$T/full.sql" "$T/out2"
wait_pid "$SPID"
tgt_dump >"$T/before.sql"
serve_start --progress-interval 0 --jobs 2 --clear-target || { not_ok "daemon starts (--clear-target)"; exit 1; }
send_nc "$T/bad.sql" "$T/out3"
check "--clear-target: the failure is reported" grep -q "^ERROR statement [0-9]* at line $l failed: " "$T/out3"
tgt_dump >"$T/after3.sql"
check "--clear-target: the earlier import is back (pg_dump equal)" cmp -s "$T/before.sql" "$T/after3.sql"
check "--clear-target: no aside schema left" test "$(tgt_aside_count)" -eq 0

# large objects (pg_dump's BEGIN; lo_open; lowrite; COMMIT): refused under --jobs
c=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
{
	head -n $((c - 1)) "$T/full.sql"
	echo "SELECT pg_catalog.lo_create('424242');"
	tail -n +"$c" "$T/full.sql"
} >"$T/txn.sql"
send_nc "$T/txn.sql" "$T/out4"
sed "s/^/# /" "$T/out4" | head -4
check "a large object: refused under --jobs" grep -q 'is transaction control or a large object, which --jobs cannot spread' "$T/out4"
tgt_dump >"$T/after4.sql"
check "a large object: the earlier import is back" cmp -s "$T/before.sql" "$T/after4.sql"
check "the daemon goes on" kill -0 "$SPID"
