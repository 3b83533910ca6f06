#!/bin/bash
# gate_replace.sh - a dump that would throw a database away must look like
# its replacement.  Into a target that holds a Synapse schema, with
# --clear-target: a dump that creates no table, a dump of another
# (non-Synapse) database, and a Synapse dump older than the target's
# compat version are each refused before COMMIT, the target unchanged,
# with a message naming --force-replace; with --force-replace each is
# imported.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/gate_common.bash"
need_fixtures || exit 0

gate_setup || { not_ok "clusters, fixture and a pre-filled target"; exit 1; }
# the wrong databases: an empty one, and a shop
psql_as src postgres -c "CREATE DATABASE shop" >/dev/null
psql_as src shop -c "CREATE TABLE item (id int PRIMARY KEY, name text)" -c "INSERT INTO item VALUES (1, 'a'), (2, 'b')" >/dev/null
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O postgres >"$T/empty.sql"
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O shop >"$T/shop.sql"

# run_case NAME FILE PATTERN: refused (PATTERN in the ERROR line), unchanged; then imported with --force-replace
run_case() {
	local name=$1 file=$2 pat=$3 rc
	gate_serve --progress-interval 0 --clear-target --once || { not_ok "$name: daemon starts"; return; }
	send_nc "$file" "$T/out"
	wait "$SPID"
	rc=$?
	check "$name: refused" grep -q "^ERROR $pat" "$T/out"
	check "$name: the message names --force-replace" grep -q -- '--force-replace' "$T/out"
	check "$name: rolled back, the --clear-target drops too" grep -q '^  rolled back: the target is as it was before the import (the --clear-target drops too)' "$T/out"
	check "$name: --once exits 1" test "$rc" -eq 1
	gate_unchanged "$name: the target is unchanged"
	gate_serve --progress-interval 0 --clear-target --once --force-replace || { not_ok "$name: daemon starts"; return; }
	send_nc "$file" "$T/out2"
	wait "$SPID"
	rc=$?
	check "$name, --force-replace: committed" grep -q '^OK import into synapse committed' "$T/out2"
	check "$name, --force-replace: --once exits 0" test "$rc" -eq 0
}

run_case "a dump without tables" "$T/empty.sql" 'the dump creates no table, and the target held [0-9]* tables in schema public of database synapse'
check "a dump without tables, --force-replace: the target holds no table now" test "$(tgt_count)" -eq 0
gate_fill
run_case "a non-Synapse dump" "$T/shop.sql" 'the dump has no Synapse schema (no public.schema_version), and the target held one'
check "a non-Synapse dump, --force-replace: the target holds the shop" test "$(psql_as tgt synapse -At -c 'SELECT count(*) FROM public.item')" -eq 2
gate_fill
psql_as tgt synapse -c "INSERT INTO public.schema_compat_version (lock, compat_version) VALUES ('X', 100)" >/dev/null
tgt_dump >"$T/before.sql"
run_case "a Synapse dump older than the target's compat version" "$T/fx.sql" "the dump's Synapse schema version 94 is older than the target's compat version 100"
gate_same_as_source "an older Synapse dump, --force-replace: the target equals the source"

# the right dump needs no override
gate_fill
gate_serve --progress-interval 0 --clear-target --once || { not_ok "daemon starts"; exit 1; }
send_nc "$T/fx.sql" "$T/out3"
wait "$SPID"
check "the Synapse dump into the Synapse target: committed without --force-replace" grep -q '^OK import into synapse committed' "$T/out3"
gate_same_as_source "the Synapse dump: the target equals the source"
