#!/bin/bash
# fault_lock.sh - another session holds a lock on a table the import needs.
# The import waits up to --lock-timeout (2 s here; default 30), the client
# is told who it waits for, and then the import fails cleanly, naming the
# blocking session and its query (pg_blocking_pids, seen from a second,
# short-lived connection), with the target unchanged:
#   - --clear-target must DROP a table that a reader holds (ACCESS SHARE);
#   - a statement of the dump ALTERs a table another session reads (the
#     dump's own "SET lock_timeout = 0" does not undo --lock-timeout).
# A blocker that lets go in time only delays the import, which completes.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

fault_setup || { not_ok "cluster and reference"; exit 1; }
serve_start --progress-interval 0 --clear-target --lock-timeout 2 || { not_ok "daemon starts"; exit 1; }

as_owner() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse "$@"; }

# a target that holds a table of its own in public (to be cleared)
fill_target() {
	as_owner -c "CREATE TABLE public.rooms (room_id text PRIMARY KEY)" \
		-c "INSERT INTO public.rooms SELECT 'room' || g FROM generate_series(1, 50) g" >/dev/null
	tgt_dump >"$T/before.sql"
}

# blocker SECONDS TABLE: a session (application synapse-worker, as the
# target's owner, as Synapse would be) reads TABLE in a transaction it
# keeps open for SECONDS, then commits
blocker() {
	{
		echo "SET application_name = 'synapse-worker';"
		echo "BEGIN;"
		echo "SELECT count(*) FROM $2;"
		sleep "$1" &
		echo $! >"$T/blocker.sleep"
		wait
		echo "COMMIT;"
	} | as_owner >/dev/null &
	BLOCKER=$!
	bg_track "$BLOCKER"
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'synapse-worker' AND state = 'idle in transaction'")" = 1 ] && return 0
		sleep 0.05
	done
	return 1
}

# the blocker commits now
release_blocker() {
	kill "$(cat "$T/blocker.sleep")" 2>/dev/null
	wait_pid "$BLOCKER" 2>/dev/null
}

# 1. --clear-target's DROP waits for a reader of public.rooms
fill_target
blocker 30 public.rooms || not_ok "the blocker holds its lock"
t0=$SECONDS
"$CUT" -t 60 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
waited=$((SECONDS - t0))
sed 's/^/# /' "$T/out" | grep -E '^# (ERROR|waiting|  )' | head -8
check "clear-target blocked: the client is told what it waits for" grep -q "^waiting: .* has waited [0-9]* s for a lock held by pid [0-9]* (user $TARGET_USER, application synapse-worker" "$T/out"
check "clear-target blocked: fails with lock_timeout (55P03)" grep -q '^ERROR clearing the target schemas (--clear-target) on the target failed: canceling statement due to lock timeout (SQLSTATE 55P03)' "$T/out"
check "clear-target blocked: the ERROR names the blocking query" grep -q "it waited --lock-timeout 2 s for a lock held by pid [0-9]* (user $TARGET_USER, application synapse-worker, .*: SELECT count(\*) FROM public.rooms;" "$T/out"
check "clear-target blocked: after about --lock-timeout (${waited} s)" test "$waited" -le 6
release_blocker
expect_unchanged "clear-target blocked"

# 2. a statement of the dump waits: ALTER TABLE keep.t while keep.t is read
{ sed -n '1,/^SET row_security/p' "$PLAIN"; echo; echo "ALTER TABLE keep.t ADD COLUMN y integer;"; echo; echo "--"; echo "-- PostgreSQL database dump complete"; echo "--"; } >"$T/alter.sql"
grep -q '^SET lock_timeout = 0;' "$T/alter.sql" || not_ok "the test dump sets lock_timeout 0"
blocker 30 keep.t || not_ok "the blocker holds its lock"
t0=$SECONDS
"$CUT" -t 60 127.0.0.1 "$SPORT" "$T/alter.sql" >"$T/out" 2>/dev/null
waited=$((SECONDS - t0))
sed 's/^/# /' "$T/out" | grep -E '^# (ERROR|waiting|  )' | head -8
check "dump statement blocked: fails with lock_timeout despite the dump's SET lock_timeout = 0" grep -q '^ERROR statement [0-9]* at line [0-9]* failed: canceling statement due to lock timeout (SQLSTATE 55P03)' "$T/out"
check "dump statement blocked: the ERROR names the blocking query" grep -q "lock held by pid [0-9]* (user $TARGET_USER, application synapse-worker, .*: SELECT count(\*) FROM keep.t;" "$T/out"
check "dump statement blocked: after about --lock-timeout (${waited} s)" test "$waited" -le 6
release_blocker
expect_unchanged "dump statement blocked"

# 3. a blocker that commits after 1 s: the import waits, then completes
blocker 1 public.rooms || not_ok "the blocker holds its lock"
"$CUT" -t 60 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
wait_pid "$BLOCKER" 2>/dev/null
check "blocker lets go in time: OK" grep -q '^OK import into synapse committed' "$T/out"
expect_complete "blocker lets go in time"
check "daemon alive" kill -0 "$SPID"
serve_stop
echo "# figures: 2 lock waits failed after --lock-timeout 2 s naming the blocker, 1 wait ended in time; $((SECONDS - start)) s"
