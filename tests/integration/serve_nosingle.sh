#!/bin/bash
# serve_nosingle.sh - --no-single-transaction commits as it goes: the
# summary says so; a failure leaves what came before it, and says that too.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
load_fixture "$F"
src_dump >"$T/src.sql"
serve_start --progress-interval 0 --no-single-transaction || { not_ok "daemon starts"; exit 1; }

send_nc "$F" "$T/out"
check "OK, and the summary says it committed statement by statement" \
	grep -q '^OK import into synapse done (--no-single-transaction: committed statement by statement)' "$T/out"
tgt_dump >"$T/tgt.sql"
check "target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"

psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER" >/dev/null
gunzip -c "$F" >"$T/full.sql"
l=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
{ head -n $((l - 1)) "$T/full.sql"; echo "SELECT pg_catalog.setval('public.no_such_seq', 1, true);"; tail -n +"$l" "$T/full.sql"; } >"$T/bad.sql"
send_nc "$T/bad.sql" "$T/out2"
check "a failure: ERROR" grep -q "^ERROR statement [0-9]* at line $l failed" "$T/out2"
check "a failure: the client is told the import is partial" grep -q 'the target holds a partial import' "$T/out2"
check "a failure: what came before stays (tables exist)" test "$(tgt_count)" -gt 0
