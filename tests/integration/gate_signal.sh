#!/bin/bash
# gate_signal.sh - SIGHUP does not kill an import: the daemon logs that it
# ignores it, and the import commits.  A client that is gone before the
# answer (socat -t 0.5 closes its socket half a second after its input
# ended; the target is still busy then) is logged, and the import is
# rolled back: it could never hear the answer.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/gate_common.bash"
need_fixtures || exit 0

gate_setup || { not_ok "clusters, fixture and a pre-filled target"; exit 1; }
# a slow statement near the end: a materialized view whose REFRESH (post-data)
# sleeps 3 s, in the source too, so that the import still equals it
psql_as src synapse -c "CREATE MATERIALIZED VIEW public.slow_mv AS SELECT pg_catalog.pg_sleep(3) IS NOT NULL AS slept" >/dev/null ||
	{ not_ok "the slow materialized view"; exit 1; }
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O synapse >"$T/slow.sql"
src_dump >"$T/src.sql"
gate_serve --progress-interval 0 --clear-target || { not_ok "daemon starts"; exit 1; }

# SIGHUP while the import runs
timeout 60 nc -N 127.0.0.1 "$SPORT" <"$T/slow.sql" >"$T/hup.out" &
NC=$!
for ((i = 0; i < 300; i++)); do
	[ "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'REFRESH MATERIALIZED VIEW public.slow_mv%'")" -ge 1 ] && break
	sleep 0.1
done
kill -HUP "$SPID"
wait "$NC"
check "SIGHUP: the daemon logs that it ignores it" grep -q 'SIGHUP ignored: pgsluice has no configuration to reload (the import in flight goes on)' "$T/serve.log"
check "SIGHUP: the import commits" grep -q '^OK import into synapse committed' "$T/hup.out"
gate_alive "SIGHUP: the daemon still runs"
gate_same_as_source "SIGHUP: the target equals the source"

# socat -t 0.5: gone before the summary.  It closes its socket wholly half
# a second after its input ended, so the daemon's next line to it comes
# back as a reset: the client can never hear the answer, and nothing is
# committed
timeout 60 socat -t 0.5 - "TCP:127.0.0.1:$SPORT" <"$T/slow.sql" >"$T/socat.out" 2>/dev/null
check "socat -t 0.5: it left before the summary" bash -c "! grep -q '^OK ' '$T/socat.out'"
wait_log 'client left before the answer\|client connection was lost' 20 >/dev/null
check "socat -t 0.5: the daemon logs that the client left before the answer" \
	grep -q 'client left before the answer\|the client connection was lost (reset)' "$T/serve.log"
check "socat -t 0.5: the import was rolled back" test "$(grep -c 'OK import into synapse committed' "$T/serve.log")" -eq 1
gate_same_as_source "socat -t 0.5: the target is as before (the earlier import)"
