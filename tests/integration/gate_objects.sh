#!/bin/bash
# gate_objects.sh - one catalog query for what the target schemas hold,
# seen alike by check, --clear-target and the --jobs aside/undo.  A
# target whose schema public holds a partitioned table with two
# partitions (with rows) and whose extra schema (named with --schema)
# holds a table: check lists them all and says not cleared;
# --clear-target imports a dump of the same shape over them; a --jobs 2
# import that fails after its first COPY leaves pg_dump of the target as
# it was.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/gate_common.bash"

serve_clusters || { not_ok "clusters start"; exit 1; }
shape="CREATE TABLE public.payment (id int, paid date NOT NULL, amount int) PARTITION BY RANGE (paid);
CREATE TABLE public.payment_2020 PARTITION OF public.payment FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE public.payment_2021 PARTITION OF public.payment FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE public.customer (id serial PRIMARY KEY, name text);
CREATE TABLE extra.note (id int PRIMARY KEY, body text);"
psql_as src synapse -c "CREATE SCHEMA extra" -c "$shape" \
	-c "INSERT INTO public.payment SELECT g, DATE '2020-06-01' + g, g FROM generate_series(1, 400) g" \
	-c "INSERT INTO public.customer (name) SELECT 'c' || g FROM generate_series(1, 50) g" \
	-c "INSERT INTO extra.note VALUES (1, 'source')" >/dev/null || { not_ok "the source"; exit 1; }
# the target: the same shape, owned by the target role, other rows
psql_as tgt synapse -c "CREATE SCHEMA extra AUTHORIZATION $TARGET_USER" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse -c "$shape" \
	-c "INSERT INTO public.payment VALUES (9, '2020-02-02', 9), (10, '2021-03-03', 10)" \
	-c "INSERT INTO extra.note VALUES (7, 'target')" >/dev/null || { not_ok "the target"; exit 1; }
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O synapse >"$T/dump.sql"
dump_both() { pg_dump_of "$1" synapse -O -x; }
dump_both src >"$T/src.sql"
dump_both tgt >"$T/before.sql"

"$PGSLUICE" check --target "$TARGET" --schema public --schema extra >"$T/check" 2>&1
rc=$?
check "check: exit 1 (not cleared)" test "$rc" -eq 1
check "check: lists the partitioned table" grep -q '^  partitioned table public.payment$' "$T/check"
check "check: lists its partitions" grep -q '^  table public.payment_2020$' "$T/check"
check "check: lists the second partition" grep -q '^  table public.payment_2021$' "$T/check"
check "check: lists the table of the extra schema" grep -q '^  table extra.note$' "$T/check"
check "check: does not say cleared" bash -c "! grep -q '^verdict: cleared' '$T/check'"

# --jobs 2, failing after its first COPY: everything moved aside comes back
first_copy_end=$(awk '/^COPY /{c=1} c && /^\\\.$/ {print NR; exit}' "$T/dump.sql")
{ head -n "$first_copy_end" "$T/dump.sql"; echo "SELECT no_such_function();"; tail -n +$((first_copy_end + 1)) "$T/dump.sql"; } >"$T/bad.sql"
gate_serve --progress-interval 0 --clear-target --schema public --schema extra --jobs 2 --once || { not_ok "daemon starts"; exit 1; }
send_nc "$T/bad.sql" "$T/jobs.out"
wait "$SPID"
check "--jobs 2, failing after the first COPY: ERROR naming the statement" grep -q '^ERROR .*no_such_function' "$T/jobs.out"
dump_both tgt >"$T/after-jobs.sql"
if cmp -s "$T/before.sql" "$T/after-jobs.sql"; then ok "--jobs 2 failed: pg_dump of the target equals before"; else
	not_ok "--jobs 2 failed: pg_dump of the target equals before"; diff "$T/before.sql" "$T/after-jobs.sql" | head | sed 's/^/# /'; fi
check "--jobs 2 failed: no aside schema is left" test "$(tgt_aside_count)" -eq 0

# serve agrees with check: refused without --clear-target, listing the partitioned table
gate_serve --progress-interval 0 --schema public --schema extra --once || { not_ok "daemon starts"; exit 1; }
send_nc "$T/dump.sql" "$T/refused.out"
wait "$SPID"
check "serve without --clear-target: refused as not empty" grep -q '^ERROR the target is not empty' "$T/refused.out"
check "serve without --clear-target: lists the partitioned table" grep -q '^  partitioned table public.payment$' "$T/refused.out"

# --clear-target over them
gate_serve --progress-interval 0 --clear-target --schema public --schema extra --once || { not_ok "daemon starts"; exit 1; }
send_nc "$T/dump.sql" "$T/clear.out"
wait "$SPID"
rc=$?
check "--clear-target over a partitioned table: committed" grep -q '^OK import into synapse committed' "$T/clear.out"
check "--clear-target: --once exits 0" test "$rc" -eq 0
check "--clear-target: the partitions were dropped too" grep -q 'cleared (--clear-target): dropped .*partitioned table' "$T/clear.out"
dump_both tgt >"$T/after.sql"
if cmp -s "$T/src.sql" "$T/after.sql"; then ok "--clear-target: the target equals the source"; else
	not_ok "--clear-target: the target equals the source"; diff "$T/src.sql" "$T/after.sql" | head | sed 's/^/# /'; fi
