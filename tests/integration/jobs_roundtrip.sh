#!/bin/bash
# jobs_roundtrip.sh - `serve --jobs 2`: the small Synapse dump (plain and
# gzip) imports to the same database as the single-transaction mode
# (pg_dump of both equal, as sorted lines: rows loaded in parallel batches
# can be stored in another order), COPY batches are spread over both connections,
# and --clear-target over an earlier import leaves no aside schema.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
load_fixture "$FIXTURES/synapse/synapse-small.sql.gz" || { not_ok "fixture loads"; exit 1; }
src_pg_dump -O >"$T/dump.sql"
gzip -c "$T/dump.sql" >"$T/dump.sql.gz"
eval "$(dump_facts "$T/dump.sql")"

# the reference: the single-transaction mode
serve_start --once --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
send_nc "$T/dump.sql" "$T/out1"
wait_pid "$SPID"
check "single transaction: OK" grep -q '^OK import into synapse committed' "$T/out1"
tgt_dump >"$T/single.sql"
psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null

# small batches (64 KiB instead of 4 MiB): the big tables are cut into many
PGSLUICE_JOBS_BATCH=65536 serve_start --once --progress-interval 0 --jobs 2 --verbose ||
	{ not_ok "daemon starts (--jobs 2)"; exit 1; }
send_nc "$T/dump.sql" "$T/out2"
wait_pid "$SPID"
rc=$?
sed 's/^/# /' "$T/out2" | grep -v '^#   rows' | head -8
check "--jobs 2 plain: OK, exit 0" test "$rc" -eq 0
check "--jobs 2 plain: the summary says committed" grep -q "^OK import into synapse committed: .* $FX_ROWS rows in $FX_COPIES tables" "$T/out2"
check "--jobs 2: row counts verified" grep -q "verified: $FX_COPIES COPY row counts equal the data lines sent" "$T/out2"
check "--jobs 2: both connections were used" test "$(grep -c -- '--jobs connection [01] up' "$T/serve.log")" -eq 2
check "--jobs 2: pre-data committed once (no COMMIT outside a transaction)" sh -c "! grep -q 'no transaction in progress' '$T/serve.log'"
check "--jobs 2: a big table was cut into batches" grep -q 'COPY public.event_json: [0-9]* lines in [0-9][0-9]* batches' "$T/serve.log"
tgt_dump >"$T/jobs.sql"
# batches load in parallel: rows can land in another physical order, which
# pg_dump's COPY output follows, so the dumps are compared as sorted lines
check "--jobs 2 plain: pg_dump equals the single-transaction import (as sorted lines)" cmp -s <(sort "$T/single.sql") <(sort "$T/jobs.sql")
check "--jobs 2 plain: the schema part is identical" cmp -s <(grep -v -P '\t|^\\\.$' "$T/single.sql") <(grep -v -P '\t|^\\\.$' "$T/jobs.sql")
check "--jobs 2: no aside schema left" test "$(tgt_aside_count)" -eq 0

# gzip, over the earlier import, with --clear-target
serve_start --once --progress-interval 0 --jobs 2 --clear-target || { not_ok "daemon starts (--jobs 2 --clear-target)"; exit 1; }
send_nc "$T/dump.sql.gz" "$T/out3"
wait_pid "$SPID"
check "--jobs 2 gzip --clear-target: OK" grep -q '^OK import into synapse committed' "$T/out3"
check "--clear-target says it moves aside" grep -q -- "--clear-target: moving $FX_COPIES tables, .* aside until the import has committed (--jobs 2)" "$T/out3"
tgt_dump >"$T/jobs2.sql"
check "--jobs 2 gzip --clear-target: pg_dump equals the single-transaction import (as sorted lines)" cmp -s <(sort "$T/single.sql") <(sort "$T/jobs2.sql")
check "--jobs 2 --clear-target: the aside schema is dropped after success" test "$(tgt_aside_count)" -eq 0

# --jobs 1 is the single-transaction mode
serve_start --once --progress-interval 0 --jobs 1 --clear-target || { not_ok "daemon starts (--jobs 1)"; exit 1; }
send_nc "$T/dump.sql" "$T/out4"
wait_pid "$SPID"
check "--jobs 1 is the single-transaction mode" grep -q '^OK import into synapse committed' "$T/out4"
check "--jobs 1 drops inside the transaction (no moving aside)" grep -q 'inside the import.s transaction' "$T/out4"
