#!/bin/bash
# gate_signal.sh - SIGHUP does not kill an import: the daemon logs that it
# ignores it, and the import commits.  A client that is gone when the
# summary comes (socat -t 0.5 closes its socket half a second after its
# input ended; the target is still busy then) is logged as "client left
# before the answer".
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/gate_common.bash"
need_fixtures || exit 0

gate_setup || { not_ok "clusters, fixture and a pre-filled target"; exit 1; }
# a slow statement before the trailer: the target is busy for 3 s after the last byte
end=$(grep -n -m1 '^-- PostgreSQL database dump complete' "$T/fx.sql" | cut -d: -f1)
{ head -n $((end - 2)) "$T/fx.sql"; echo "SELECT pg_catalog.pg_sleep(3);"; tail -n +$((end - 1)) "$T/fx.sql"; } >"$T/slow.sql"
gate_serve --progress-interval 0 --clear-target || { not_ok "daemon starts"; exit 1; }

# SIGHUP while the import runs
timeout 60 nc -N 127.0.0.1 "$SPORT" <"$T/slow.sql" >"$T/hup.out" &
NC=$!
for ((i = 0; i < 300; i++)); do
	[ "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_catalog.pg_sleep%'")" -ge 1 ] && break
	sleep 0.1
done
kill -HUP "$SPID"
wait "$NC"
check "SIGHUP: the daemon logs that it ignores it" grep -q 'SIGHUP ignored: pgsluice has no configuration to reload (the import in flight goes on)' "$T/serve.log"
check "SIGHUP: the import commits" grep -q '^OK import into synapse committed' "$T/hup.out"
gate_alive "SIGHUP: the daemon still runs"
gate_same_as_source "SIGHUP: the target equals the source"

# socat -t 0.5: gone before the summary
timeout 60 socat -t 0.5 - "TCP:127.0.0.1:$SPORT" <"$T/slow.sql" >"$T/socat.out" 2>/dev/null
check "socat -t 0.5: it left before the summary" bash -c "! grep -q '^OK ' '$T/socat.out'"
wait_log 'client left before the answer' 20 >/dev/null
check "socat -t 0.5: the daemon logs \"client left before the answer\"" grep -q 'client left before the answer' "$T/serve.log"
check "socat -t 0.5: the import was committed all the same" test "$(grep -c 'OK import into synapse committed' "$T/serve.log")" -eq 2
