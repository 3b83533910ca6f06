#!/bin/bash
# serve_truncate.sh - a dump cut at five points (inside a statement, inside
# a quoted string, inside COPY data, inside the gzip stream, just before the
# trailer) ends in ERROR naming the line, leaves the target as it was, and
# the daemon (not --once) then serves a complete import.  Two dumps in one
# stream are refused at the second one's first statement, by serve and by
# filter alike.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_prologue
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }

# something in the target before, to see it is untouched
psql_as tgt synapse -c "CREATE SCHEMA keep" -c "CREATE TABLE keep.t (x int)" -c "INSERT INTO keep.t VALUES (42)" >/dev/null
psql_as tgt synapse -c "ALTER SCHEMA keep OWNER TO $TARGET_USER" -c "ALTER TABLE keep.t OWNER TO $TARGET_USER" >/dev/null
tgt_dump >"$T/before.sql"

# truncate NAME FILE PATTERN: send FILE, expect ERROR matching PATTERN, target unchanged
truncate_case() {
	local name=$1 file=$2 pat=$3
	send_nc "$file" "$T/out"
	if grep -q -- "$pat" "$T/out"; then ok "$name: ERROR names the line"; else
		not_ok "$name: ERROR names the line (want: $pat)"; sed 's/^/# /' "$T/out" | head; fi
	check "$name: says it was rolled back" grep -q 'rolled back: the target is as it was before the import' "$T/out"
	tgt_dump >"$T/after.sql"
	check "$name: target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
}

# 1. inside a statement: in the middle of CREATE TABLE public.events
l=$(grep -n -m1 '^CREATE TABLE public.events (' "$T/full.sql" | cut -d: -f1)
head -n $((l + 3)) "$T/full.sql" >"$T/cut1.sql"
truncate_case "inside a statement" "$T/cut1.sql" "^ERROR dump truncated at line $((l + 3)), inside the statement that began at line $l"

# 2. inside a quoted string: a COMMENT ON whose literal spans lines
l=$(grep -n "^COMMENT ON .* IS '" "$T/full.sql" | grep -v "';$" | head -1 | cut -d: -f1)
head -n "$l" "$T/full.sql" >"$T/cut2.sql"
truncate_case "inside a quoted string" "$T/cut2.sql" "^ERROR dump truncated at line $l, inside a quoted string that began at line $l"

# 3. inside COPY data, mid-line
l=$(grep -n -m1 '^COPY public.events ' "$T/full.sql" | cut -d: -f1)
{ head -n $((l + 100)) "$T/full.sql"; sed -n "$((l + 101))p" "$T/full.sql" | head -c 20; } >"$T/cut3.sql"
truncate_case "inside COPY data" "$T/cut3.sql" "^ERROR dump truncated at line $((l + 101)), inside COPY public.events (data began at line $((l + 1))"

# 4. inside the gzip stream
size=$(stat -c %s "$F")
head -c $((size / 2)) "$F" >"$T/cut4.sql.gz"
truncate_case "inside the gzip stream" "$T/cut4.sql.gz" "^ERROR dump truncated at line [0-9]*, .*gzip"

# 5. just before the trailer
l=$(grep -n -m1 '^-- PostgreSQL database dump complete' "$T/full.sql" | cut -d: -f1)
head -n $((l - 1)) "$T/full.sql" >"$T/cut5.sql"
truncate_case "just before the trailer" "$T/cut5.sql" "^ERROR dump truncated at line $((l - 1)), between statements"

# 6. two dumps in one stream: serve and filter both refuse what follows the first trailer
cat "$T/full.sql" "$T/full.sql" >"$T/two.sql"
l=$(grep -n -m1 '^SET ' "$T/full.sql" | cut -d: -f1)
lines=$(wc -l <"$T/full.sql")
send_nc "$T/two.sql" "$T/out"
check "two dumps: serve refuses the second" grep -q "^ERROR statement [0-9]* at line $((lines + l)) comes after the dump's trailer" "$T/out"
tgt_dump >"$T/after.sql"
check "two dumps: target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
"$PGSLUICE" filter <"$T/two.sql" >"$T/two.out" 2>"$T/two.err"
check "two dumps: filter fails too (exit 1)" test $? -eq 1
check "two dumps: filter names the line" grep -q "error: line $((lines + l)): a statement comes after the dump's trailer" "$T/two.err"
check "two dumps: filter's output fails in psql" grep -q "^DO \$pgsluice\$BEGIN RAISE EXCEPTION" "$T/two.out"

# a vanished client: nc without -N keeps the connection open after its
# input; it is killed in the middle of the dump, once the daemon has its
# first bytes (the import's target connection is made)
n_err=$(grep -c 'ERROR dump truncated' "$T/serve.log")
n_conn=$(grep -c 'connected to the target' "$T/serve.log")
head -n $((l / 2)) "$T/full.sql" >"$T/cut6.sql"
nc 127.0.0.1 "$SPORT" <"$T/cut6.sql" >/dev/null &
ncpid=$!
wait_log_more 'connected to the target' "$n_conn" 60
kill -9 "$ncpid" 2>/dev/null
wait_pid "$ncpid" 2>/dev/null
check "killed client: logged as truncated" wait_log_more 'ERROR dump truncated' "$n_err" 60
tgt_dump >"$T/after.sql"
grep "ERROR" "$T/serve.log" | sed "s/^/# /"
check "killed client: target unchanged" cmp -s "$T/before.sql" "$T/after.sql"

# the daemon then serves a complete import
psql_as tgt synapse -c "DROP SCHEMA keep CASCADE" >/dev/null 2>&1
send_nc "$F" "$T/out"
check "then a complete import: OK" grep -q '^OK import into synapse committed' "$T/out"
tgt_dump >"$T/after.sql"
check "then a complete import: target equals the source" cmp -s "$T/src.sql" "$T/after.sql"
check "daemon alive" kill -0 "$SPID"
