#!/bin/bash
# jobs_truncate.sh - `serve --jobs 2`: a stream cut in the middle of the
# data (pre-data already committed, batches in) or in pre-data, a client
# reset in the middle of the data, and SIGTERM to the daemon while the
# data loads each fail the import, and the target is as it was before:
# empty, or (--clear-target) the earlier import put back from the aside
# schema.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
CUT=$ROOT/build/tools/cutclient
[ -x "$CUT" ] || make -s -C "$ROOT" build/tools/cutclient >&2 || { not_ok "build cutclient"; exit 1; }

serve_clusters || { not_ok "clusters start"; exit 1; }
gunzip -c "$FIXTURES/synapse/synapse-small.sql.gz" >"$T/full.sql"
# two thirds in: inside the COPY data (post-data is the last few dozen kB)
head -c $(($(stat -c %s "$T/full.sql") * 2 / 3)) "$T/full.sql" >"$T/cut-data.sql"
l=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
head -n $((l - 3)) "$T/full.sql" >"$T/cut-pre.sql"

serve_start --progress-interval 0 --jobs 2 || { not_ok "daemon starts"; exit 1; }
tgt_dump >"$T/empty.sql"
send_nc "$T/cut-data.sql" "$T/out1"
sed 's/^/# /' "$T/out1" | head -4
check "cut in the data: ERROR dump truncated inside a COPY" grep -q '^ERROR dump truncated at line [0-9]*, inside COPY public\.' "$T/out1"
check "cut in the data: told it was rolled back" grep -q '^  rolled back: the target is as it was before the import' "$T/out1"
tgt_dump >"$T/after1.sql"
check "cut in the data: target as before (empty)" cmp -s "$T/empty.sql" "$T/after1.sql"
check "cut in the data: no table left" test "$(tgt_count)" -eq 0
check "cut in the data: no aside schema left" test "$(tgt_aside_count)" -eq 0
send_nc "$T/cut-pre.sql" "$T/out2"
check "cut in pre-data: ERROR dump truncated" grep -q '^ERROR dump truncated' "$T/out2"
check "cut in pre-data: no table left" test "$(tgt_count)" -eq 0
serve_stop

# over an earlier import, with --clear-target: it is put back
serve_start --once --progress-interval 0 || { not_ok "daemon starts (single)"; exit 1; }
send_nc "$T/full.sql" "$T/out3"
wait_pid "$SPID"
check "earlier import: OK" grep -q '^OK import' "$T/out3"
tgt_dump >"$T/before.sql"
serve_start --progress-interval 0 --jobs 2 --clear-target || { not_ok "daemon starts (--clear-target)"; exit 1; }
send_nc "$T/cut-data.sql" "$T/out4"
check "--clear-target, cut in the data: ERROR dump truncated" grep -q '^ERROR dump truncated' "$T/out4"
tgt_dump >"$T/after4.sql"
check "--clear-target, cut in the data: the earlier import is back (pg_dump equal)" cmp -s "$T/before.sql" "$T/after4.sql"
check "--clear-target, cut in the data: no aside schema left" test "$(tgt_aside_count)" -eq 0
send_nc "$T/cut-pre.sql" "$T/out5"
tgt_dump >"$T/after5.sql"
check "--clear-target, cut in pre-data: the earlier import is back" cmp -s "$T/before.sql" "$T/after5.sql"

# the client resets its connection in the middle of the data
"$CUT" -m reset 127.0.0.1 "$SPORT" "$T/cut-data.sql" >"$T/out6" 2>&1
check "--clear-target, client reset in the data: the daemon rolls back (import #3)" \
	wait_log '\[#3 .*rolled back: the target is as it was before the import' 60
tgt_dump >"$T/after6.sql"
check "--clear-target, client reset in the data: the earlier import is back" cmp -s "$T/before.sql" "$T/after6.sql"
check "the daemon goes on" kill -0 "$SPID"

# SIGTERM while the data loads: undone, the client told, exit 0
l=$(grep -n -m1 '^COPY public.events ' "$T/full.sql" | cut -d: -f1)
# (the client holds its connection open until the daemon has exited)
{
	head -n $((l + 50)) "$T/full.sql"
	for ((i = 0; i < 900; i++)); do [ -e "$T/release" ] && break; sleep 0.1; done
} | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out7" &
client=$!
# the data loads: a connection of the import has run a COPY (the client
# stops in public.events, whose rows wait for a full batch)
for ((i = 0; i < 600; i++)); do
	[ "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY public.%'")" -gt 0 ] && break
	sleep 0.1
done
[ "$i" -lt 600 ] || { not_ok "SIGTERM during the data: a COPY of the import reaches the target within 60 s"; _log_tail "$T/serve.log"; }
kill -TERM "$SPID"
wait_pid "$SPID"
rc=$?
touch "$T/release"
wait_pid "$client"
check "SIGTERM during the data: the daemon exits 0" test "$rc" -eq 0
check "SIGTERM during the data: the client is told it was rolled back" grep -q 'rolled back: the target is as it was before the import' "$T/out7"
tgt_dump >"$T/after7.sql"
check "SIGTERM during the data: the earlier import is back" cmp -s "$T/before.sql" "$T/after7.sql"
check "SIGTERM during the data: no aside schema left" test "$(tgt_aside_count)" -eq 0
