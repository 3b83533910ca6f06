#!/bin/bash
# boundary_sequences.sh - a dump that sets 10,000 sequences imports and
# verifies: the values are checked in batches (verify.h), not in one
# UNION ALL query that exceeds the server's stack depth.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

# 10,000 sequences created in one transaction take 10,000 locks (psql -1 needs the same)
bd_cluster "max_locks_per_transaction = 512" || { not_ok "cluster starts"; exit 1; }
bd_serve || { not_ok "daemon starts"; exit 1; }
N=10000
body=$T/body.sql
for ((i = 1; i <= N; i++)); do echo "CREATE SEQUENCE public.s$i;"; done >"$body"
for ((i = 1; i <= N; i++)); do echo "SELECT pg_catalog.setval('public.s$i', $((i * 3)), $([ $((i % 2)) = 0 ] && echo true || echo false));"; done >>"$body"
bd_dump "$T/d.sql" '%s' "$(cat "$body")"
bd_send "$T/d.sql" "$T/out"
if bd_result "$T/out" | grep -q '^OK import into synapse committed'; then ok "$N sequences: OK"; else
	not_ok "$N sequences: OK"; sed 's/^/# /' "$T/out" | head -10; fi
check "$N sequences: all verified" grep -q "verified: .* $N sequences at the dump's setval values" "$T/out"
check "$N sequences: the values are in the target" test "$(psql_as tgt synapse -At -c "SELECT last_value || ' ' || is_called FROM public.s9999 UNION ALL SELECT last_value || ' ' || is_called FROM public.s10000")" = "$(printf '29997 false\n30000 true')"

# a wrong value in the last batch is still caught, and rolls back
bd_reset
# (the verification reads what the target holds: make the target differ from the dump)
bd_dump "$T/d2.sql" '%s\n%s' "$(cat "$body")" "ALTER SEQUENCE public.s9999 RESTART WITH 7;"
bd_send "$T/d2.sql" "$T/out2"
check "a sequence that differs in the last batch fails verification" grep -q "^ERROR verification failed: sequence public.s9999 is at" "$T/out2"
check "... and the import is rolled back" test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_class WHERE relkind = 'S'")" = 0
bd_reset
