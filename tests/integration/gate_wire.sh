#!/bin/bash
# gate_wire.sh - an import through the PostgreSQL port commits only when
# complete: at the COMMIT that matches the client's outermost BEGIN.
# Against a target that holds a Synapse schema (serve --clear-target):
#   psql -1 -f of a dump with large objects: the dump's own BEGIN/COMMIT
#     pairs nest inside psql's; complete, equal to the source
#   psql -1 -f of a pg_dump -C dump: psql's second connection (\connect)
#     is refused, psql ends the first with Terminate: rolled back, unchanged
#   psql -1 -f of a dump cut inside pre-data, inside a COPY block, between
#     COPY blocks (inside the next COPY line), inside post-data: fails,
#     unchanged; cut before its last line: complete (the summary says
#     that a cut at a statement boundary cannot be seen on this path)
#   psql -f without -1: refused before the import starts, saying to add -1
#   pg_restore -1 of a custom archive with large objects (libpq's lo_open,
#     lowrite, lo_close function calls): complete, equal to the source
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/gate_common.bash"
need_fixtures || exit 0

gate_setup || { not_ok "clusters, fixture and a pre-filled target"; exit 1; }
# large objects in the source (pg_dump writes BEGIN; lo_open ...; COMMIT; for each)
psql_as src synapse -c "SELECT pg_catalog.lo_from_bytea(424242, 'a large object'::bytea)" \
	-c "SELECT pg_catalog.lo_from_bytea(424243, decode(repeat('ab', 40000), 'hex'))" >/dev/null
src_dump >"$T/src.sql"
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres synapse >"$T/lo.sql"
gate_serve --progress-interval 0 --clear-target || { not_ok "daemon starts"; exit 1; }

n_ok() { grep -c 'OK import into synapse committed' "$T/serve.log"; }
n_err() { grep -c '\] ERROR ' "$T/serve.log"; }
wait_count() { # wait_count FN N: until FN prints >= N
	local i
	for ((i = 0; i < 200; i++)); do [ "$($1)" -ge "$2" ] && return 0; sleep 0.1; done
	echo "# timed out waiting for $1 >= $2" >&2; tail -5 "$T/serve.log" >&2; return 1
}

# 1. large objects: the dump's BEGIN/COMMIT pairs nest
gate_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/lo.sql" >"$T/lo.out" 2>"$T/lo.err"
rc=$?
check "psql -1 -f, large objects: exit 0" test "$rc" -eq 0
check "psql -1 -f, large objects: committed once, at psql's COMMIT" test "$(n_ok)" -eq 1
check "psql -1 -f, large objects: the summary says the trailer cannot be seen on this path" \
	grep -q "a file cut short at a statement boundary would not be noticed" "$T/lo.err"
gate_same_as_source "psql -1 -f, large objects: pg_dump -O -x equals the source"
check "psql -1 -f, large objects: both large objects are in" \
	test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_largeobject_metadata WHERE oid IN (424242, 424243)")" -eq 2
check "psql -1 -f, large objects: the indexes are in (post-data after the LO COMMITs)" \
	test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" -eq \
	"$(psql_as src synapse -At -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")"

# 2. a pg_dump -C dump: the \connect is refused, psql's Terminate rolls back
gate_fill
tgt_dump >"$T/before.sql"
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -C synapse >"$T/c.sql"
gate_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/c.sql" >"$T/c.out" 2>"$T/c.err"
rc=$?
check "psql -1 -f of a -C dump: fails" test "$rc" -ne 0
check "psql -1 -f of a -C dump: the second connection is refused, naming pg_dump -C" \
	grep -q 'pg_dump -C runs \\connect, which opens a second connection' "$T/c.err"
# the refused second connection is an "] ERROR " line too: wait for the import's own
wait_log 'ERROR the client ended its session (Terminate)' 20
check "psql -1 -f of a -C dump: the daemon rolls back at the Terminate" \
	grep -q 'ERROR the client ended its session (Terminate) with its transaction open, before its COMMIT' "$T/serve.log"
check "psql -1 -f of a -C dump: the daemon names the refused \\connect" \
	grep -q 'psql runs the \\connect of a dump made with pg_dump -C itself' "$T/serve.log"
gate_unchanged "psql -1 -f of a -C dump: the target is unchanged"

# 3. cut dumps
size=$(stat -c %s "$T/fx.sql")
off_of() { grep -b -m1 -- "$1" "$T/fx.sql" | cut -d: -f1; }
pre=$(( $(off_of '^CREATE TABLE ') + 20 ))
# a COPY of a table with several columns and several rows: cut 1 byte into its second row
copy_line=$(awk '/^COPY public\.events /{print NR; exit}' "$T/fx.sql")
copy_off=$(head -n $((copy_line + 1)) "$T/fx.sql" | wc -c)
incopy=$((copy_off + 1))
# after a COPY block's "\." line, into the next COPY statement
end_copy_line=$(awk -v s="$copy_line" 'NR > s && /^\\\.$/ {print NR; exit}' "$T/fx.sql")
next_copy_line=$(awk -v s="$end_copy_line" 'NR > s && /^COPY /{print NR; exit}' "$T/fx.sql")
between=$(( $(head -n $((next_copy_line - 1)) "$T/fx.sql" | wc -c) + 12 ))
post=$(( $(off_of '^ALTER TABLE ONLY ') + 30 ))
last=$(( size - $(tail -n 1 "$T/fx.sql" | wc -c) ))
for cell in "inside pre-data:$pre" "inside a COPY block:$incopy" "between COPY blocks:$between" \
	"inside post-data:$post"; do
	name=${cell%%:*} off=${cell##*:}
	head -c "$off" "$T/fx.sql" >"$T/cut.sql"
	e0=$(n_err) o0=$(n_ok)
	gate_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/cut.sql" >"$T/cut.out" 2>"$T/cut.err"
	rc=$?
	check "cut $name (byte $off of $size): psql fails" test "$rc" -ne 0
	wait_count n_err $((e0 + 1))
	check "cut $name: not committed" test "$(n_ok)" -eq "$o0"
	gate_unchanged "cut $name: the target is unchanged"
done
head -c "$last" "$T/fx.sql" >"$T/cut.sql"
o0=$(n_ok)
gate_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/cut.sql" >"$T/cut.out" 2>"$T/cut.err"
rc=$?
check "cut before the last line (only the trailer comment lost): exit 0" test "$rc" -eq 0 || head -5 "$T/cut.err" | sed 's/^/# /'
check "cut before the last line: committed" test "$(n_ok)" -eq $((o0 + 1))
psql_as tgt synapse -At -c "SELECT lo_unlink(oid) FROM pg_largeobject_metadata" >/dev/null
check "cut before the last line: the target holds all the dump's tables and rows" \
	test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")" -eq \
	"$(psql_as src synapse -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")"

# 4. psql without -1: refused before the import starts
gate_fill
tgt_dump >"$T/before.sql"
gate_psql -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >"$T/no1.out" 2>"$T/no1.err"
rc=$?
check "psql -f without -1: fails" test "$rc" -ne 0
check "psql -f without -1: told to add -1" grep -q 'psql: add -1 (--single-transaction)' "$T/no1.err"
check "psql -f without -1: told the pg_restore option too" grep -q 'pg_restore: add --single-transaction (-1)' "$T/no1.err"
gate_unchanged "psql -f without -1: the target is unchanged"

# 5. pg_restore -1 of a custom archive with large objects (function calls)
gate_fill
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -Fc -f "$T/lo.custom" synapse
o0=$(n_ok)
PGCONNECT_TIMEOUT=10 timeout 120 pg_restore -h 127.0.0.1 -p "$SPORT" -U importer -d synapse -1 "$T/lo.custom" >"$T/rlo.out" 2>"$T/rlo.err"
rc=$?
check "pg_restore -1, large objects: exit 0 ($(head -c 400 "$T/rlo.err"))" test "$rc" -eq 0
check "pg_restore -1, large objects: committed" test "$(n_ok)" -eq $((o0 + 1))
gate_same_as_source "pg_restore -1, large objects: pg_dump -O -x (large objects included) equals the source"
check "pg_restore -1, large objects: the 40000-byte object is whole" \
	test "$(psql_as tgt synapse -At -c "SELECT length(lo_get(424243))")" -eq 40000
