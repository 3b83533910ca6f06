#!/bin/bash
# serve_clear.sh - a target that already holds an initialized Synapse schema
# (as a fresh EES install has): `check` says so; the import is refused
# without --clear-target, listing the objects, and nothing changes; with
# --clear-target the import replaces it and equals the source.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
load_fixture "$FIXTURES/synapse/synapse-small.sql.gz"
src_dump >"$T/src.sql"

# check on the empty target: cleared, exit 0
"$PGSLUICE" check --target "$TARGET" >"$T/check0" 2>&1
rc=$?
check "check on an empty target exits 0" test "$rc" -eq 0
check "check names the server version" grep -q '^server: PostgreSQL 15' "$T/check0"
check "check tells the role is not a superuser and owns the database" \
	grep -q "^role $TARGET_USER: superuser: no; owns the database: yes" "$T/check0"
check "check tells which extensions the role may create" grep -q '^extensions: may create trusted extensions only' "$T/check0"
check "check says cleared" grep -q '^verdict: cleared' "$T/check0"

# an initialized Synapse schema, owned by the target role (schema only, no rows)
sed -e '/OWNER TO/d' -e '/^\\restrict /d' -e '/^\\unrestrict /d' "$FIXTURES/synapse/synapse-schema.sql" |
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse >/dev/null ||
	{ not_ok "load the Synapse schema into the target"; exit 1; }
psql_as tgt synapse -c "INSERT INTO public.users (name, creation_ts) VALUES ('@ees:example.org', 1)" >/dev/null
tgt_dump >"$T/before.sql"
n_before=$(tgt_count)

"$PGSLUICE" check --verbose --target "$TARGET" >"$T/check1" 2>&1
rc=$?
check "check on an initialized schema exits 1" test "$rc" -eq 1
check "check lists the tables" grep -q '^  table public.events$' "$T/check1"
check "check shows what --clear-target would drop" grep -q '^DROP TABLE IF EXISTS public.access_tokens, ' "$T/check1"
check "check lists the functions with their arguments" grep -q '^  function public.check_event_stream_ordering()$' "$T/check1"
"$PGSLUICE" check --target "$TARGET" >"$T/check1s" 2>&1
check "check without --verbose: 40 objects and how many more" \
	sh -c "test \"\$(grep -c '^  [a-z]* public\.' '$T/check1s')\" -eq 40 && grep -q '^  \.\.\. and [0-9]* more\$' '$T/check1s'"
"$PGSLUICE" check --target "host=127.0.0.1 port=1 user=nobody dbname=nothing" >"$T/check2" 2>&1
rc=$?
check "check exits 2 when it cannot connect" test "$rc" -eq 2
check "check's connection error has libpq's message" grep -q 'cannot connect to the target.*Connection refused' "$T/check2"

# refused without --clear-target
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
send_nc "$FIXTURES/synapse/synapse-small.sql.gz" "$T/out1"
check "refused without --clear-target: ERROR line" grep -q '^ERROR the target is not empty: schema public of database synapse holds [0-9]* objects' "$T/out1"
check "the refusal lists objects" grep -q '^  table public.access_tokens$' "$T/out1"
check "the refusal lists at most 20 and says how many more" grep -q '^  \.\.\. and [0-9]* more$' "$T/out1"
check "the refusal points to --clear-target" grep -q -- '--clear-target' "$T/out1"
check "the refusal says nothing was changed" grep -q "^  nothing was changed in the target$" "$T/out1"
listed=$(grep -c '^  [a-z]* public\.' "$T/out1")
check "20 objects listed" test "$listed" -eq 20
tgt_dump >"$T/after1.sql"
check "target unchanged after the refusal" cmp -s "$T/before.sql" "$T/after1.sql"
serve_stop

# --clear-target
serve_start --progress-interval 0 --clear-target --once || { not_ok "daemon starts"; exit 1; }
send_nc "$FIXTURES/synapse/synapse-small.sql.gz" "$T/out2"
wait_pid "$SPID"
rc=$?
check "--clear-target: OK" grep -q '^OK import into synapse committed' "$T/out2"
check "--clear-target: the client is told what was dropped" grep -q '^cleared (--clear-target): dropped [0-9]* tables, [0-9]* sequences, [0-9]* functions' "$T/out2"
check "--once exits 0 after a committed import" test "$rc" -eq 0
tgt_dump >"$T/after2.sql"
if cmp -s "$T/src.sql" "$T/after2.sql"; then ok "--clear-target: target equals the source"; else
	not_ok "--clear-target: target equals the source"; diff "$T/src.sql" "$T/after2.sql" | head | sed 's/^/# /'; fi
check "the pre-existing row is gone" test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM users WHERE name = '@ees:example.org'")" -eq 0

# --clear-target, then a failure: the drops are rolled back too
tgt_dump >"$T/before3.sql"
# the failing statement goes right before the first COPY, the trailer stays
gunzip -c "$FIXTURES/synapse/synapse-small.sql.gz" >"$T/full.sql"
first_copy=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
{ head -n $((first_copy - 1)) "$T/full.sql"; echo "SELECT pg_catalog.setval('public.no_such_seq', 1, true);"; tail -n +"$first_copy" "$T/full.sql"; } >"$T/bad.sql"
serve_start --progress-interval 0 --clear-target --once || { not_ok "daemon starts"; exit 1; }
send_nc "$T/bad.sql" "$T/out3"
wait_pid "$SPID"
rc=$?
check "--clear-target then an error: ERROR naming the statement" grep -q "^ERROR statement [0-9]* at line $first_copy failed: relation \"public.no_such_seq\" does not exist (SQLSTATE 42P01)" "$T/out3"
check "--once exits 1 after a failed import" test "$rc" -eq 1
check "the summary says the drops were rolled back" grep -q 'rolled back.*--clear-target' "$T/out3"
tgt_dump >"$T/after3.sql"
check "target unchanged (the clear was rolled back)" cmp -s "$T/before3.sql" "$T/after3.sql"
