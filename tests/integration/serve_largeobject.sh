#!/bin/bash
# serve_largeobject.sh - pg_dump's large-object section (BEGIN; lo_open,
# lowrite, lo_close; COMMIT;) runs inside the import's one transaction: a
# failing statement after it leaves the target unchanged (no large object
# left behind); without the failure the objects arrive intact.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"

serve_clusters || { not_ok "clusters start"; exit 1; }
psql_as src synapse \
	-c "CREATE TABLE public.docs (id int PRIMARY KEY, blob oid)" \
	-c "INSERT INTO public.docs VALUES (1, lo_from_bytea(0, 'hello large object'::bytea))" \
	-c "INSERT INTO public.docs VALUES (2, lo_from_bytea(0, decode(repeat('0123456789abcdef', 20000), 'hex')))" >/dev/null
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O synapse >"$T/lo.sql"
check "the dump has a large-object section" grep -q '^SELECT pg_catalog.lowrite(0, ' "$T/lo.sql"
src_dump >"$T/src.sql"

# the failing statement right after the section's COMMIT: one the rules
# let through (a call pg_dump writes) and the server fails
l=$(grep -n '^COMMIT;$' "$T/lo.sql" | tail -1 | cut -d: -f1)
{ head -n "$l" "$T/lo.sql"; echo "SELECT pg_catalog.setval('public.no_such_seq', 1, true);"; tail -n +$((l + 1)) "$T/lo.sql"; } >"$T/bad.sql"

serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
tgt_dump >"$T/before.sql"
send_nc "$T/bad.sql" "$T/out1"
check "failing statement after the LO section: ERROR at its line" grep -q "^ERROR statement [0-9]* at line $((l + 1)) failed: relation \"public.no_such_seq\" does not exist" "$T/out1"
check "the section's BEGIN/COMMIT were dropped (one transaction)" grep -q '^  rule transaction: dropped 2 statements' "$T/out1"
tgt_dump >"$T/after.sql"
check "target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
check "no large object left in the target" test "$(psql_as tgt synapse -At -c 'SELECT count(*) FROM pg_largeobject_metadata')" -eq 0

send_nc "$T/lo.sql" "$T/out2"
check "the whole dump: OK" grep -q '^OK import into synapse committed' "$T/out2"
tgt_dump >"$T/after.sql"
check "the whole dump: target equals the source (large objects included)" cmp -s "$T/src.sql" "$T/after.sql"
q="SELECT id, md5(lo_get(blob)) FROM public.docs ORDER BY id"
check "large objects' contents intact" test "$(psql_as src synapse -At -c "$q")" = "$(psql_as tgt synapse -At -c "$q")"
