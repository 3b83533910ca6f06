#!/bin/bash
# serve_signal.sh - SIGTERM during an import: the daemon stops accepting,
# rolls the import back, tells its client, and exits 0.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0

serve_clusters || { not_ok "clusters start"; exit 1; }
gunzip -c "$FIXTURES/synapse/synapse-small-noowner.sql.gz" >"$T/full.sql"
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
tgt_dump >"$T/before.sql"

# an import that stalls in the middle of a COPY until the daemon has
# exited ($T/release), at most 90 s
l=$(grep -n -m1 '^COPY public.events ' "$T/full.sql" | cut -d: -f1)
{
	head -n $((l + 50)) "$T/full.sql"
	for ((i = 0; i < 900; i++)); do [ -e "$T/release" ] && break; sleep 0.1; done
} | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out" &
client=$!
wait_log '\[#1 .*connected to the target' 60 || not_ok "the import connects to the target"
sleep 1
kill -TERM "$SPID"
wait_pid "$SPID"
rc=$?
touch "$T/release"
check "SIGTERM: the daemon exits 0" test "$rc" -eq 0
wait_pid "$client"
check "SIGTERM: the client is told" grep -q '^ERROR pgsluice is shutting down (SIGTERM): the import was stopped' "$T/out"
check "SIGTERM: the client is told it was rolled back" grep -q 'rolled back: the target is as it was before the import' "$T/out"
tgt_dump >"$T/after.sql"
check "SIGTERM: target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
check "SIGTERM: the log says so" grep -q 'SIGTERM: no new imports' "$T/serve.log"

# idle daemon: SIGINT exits 0 at once
serve_start || { not_ok "daemon starts"; exit 1; }
kill -INT "$SPID"
wait_pid "$SPID"
check "SIGINT on an idle daemon: exits 0" test "$?" -eq 0

# an unreachable target: the client is told at once with libpq's message
TARGET="host=127.0.0.1 port=$(free_port) user=$TARGET_USER dbname=synapse"
serve_start --once || { not_ok "daemon starts"; exit 1; }
send_nc "$T/full.sql" "$T/out2"
wait_pid "$SPID"
rc=$?
check "unreachable target: ERROR with libpq's message" grep -q '^ERROR cannot connect to the target: .*Connection refused' "$T/out2"
sed "s/^/# /" "$T/out2"
check "unreachable target: nothing changed" grep -q 'nothing was changed in the target' "$T/out2"
check "unreachable target, --once: exits 1" test "$rc" -eq 1
