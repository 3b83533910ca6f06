#!/bin/bash
# serve_failing.sh - a statement the target rejects (an operator class of an
# extension that is not installed) stops the import: ERROR with statement
# number, input line, excerpt, the server's message and SQLSTATE; the
# target is unchanged.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
gunzip -c "$FIXTURES/synapse/synapse-small-noowner.sql.gz" >"$T/full.sql"
# right before the first CREATE INDEX, after all COPY data
l=$(grep -n -m1 '^CREATE INDEX ' "$T/full.sql" | cut -d: -f1)
{
	head -n $((l - 1)) "$T/full.sql"
	echo "CREATE INDEX events_type_trgm ON public.events"
	echo "    USING gin (type public.gin_trgm_ops);"
	tail -n +"$l" "$T/full.sql"
} >"$T/bad.sql"

serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
tgt_dump >"$T/before.sql"
send_nc "$T/bad.sql" "$T/out"
sed 's/^/# /' "$T/out" | head -12
check "ERROR names the statement number and the input line" grep -q "^ERROR statement [0-9]* at line $l failed: " "$T/out"
check "ERROR has the server's message and SQLSTATE" grep -q 'operator class "public.gin_trgm_ops" does not exist for access method "gin" (SQLSTATE 42704)' "$T/out"
check "ERROR has the statement's excerpt on one line" grep -q '^  statement: CREATE INDEX events_type_trgm ON public.events USING gin (type public.gin_trgm_ops);$' "$T/out"
check "the client is told it was rolled back" grep -q '^  rolled back: the target is as it was before the import$' "$T/out"
tgt_dump >"$T/after.sql"
check "target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
check "no table left in the target" test "$(tgt_count)" -eq 0

# a long statement: the excerpt stops at 200 characters
{
	head -n $((l - 1)) "$T/full.sql"
	printf "CREATE MATERIALIZED VIEW public.m AS SELECT 1/0 AS %s;\n" "$(printf 'x%.0s' $(seq 300))"
	tail -n +"$l" "$T/full.sql"
} >"$T/bad2.sql"
send_nc "$T/bad2.sql" "$T/out2"
ex=$(grep '^  statement: ' "$T/out2" | sed 's/^  statement: //')
check "a long statement's excerpt is its first 200 characters" test "$ex" = "$(printf "CREATE MATERIALIZED VIEW public.m AS SELECT 1/0 AS %s" "$(printf 'x%.0s' $(seq 149))")..."
check "division by zero: SQLSTATE 22012" grep -q '(SQLSTATE 22012)' "$T/out2"
check "the daemon goes on" kill -0 "$SPID"
