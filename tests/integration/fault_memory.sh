#!/bin/bash
# fault_memory.sh - the daemon's memory stays flat whatever the pace of
# either side (relayd's slow-consumer test, both ways).  Its RSS is sampled
# from /proc every 100 ms; the largest sample must stay under 64 MiB.
#   slow client: the Synapse dump at 1 KB/s for 5 s (30 s in the long
#     variant), then at full speed;
#   slow target: a dump whose first table has a trigger that sleeps 2 ms per
#     row (1500 rows; 10000 in the long variant), followed by 40 MB of COPY
#     data (150 MB long) that the client pushes as fast as it can: the
#     daemon must stop reading, not buffer it.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS
BOUND_KB=$((64 * 1024))

fault_setup || { not_ok "cluster and reference"; exit 1; }
serve_start --progress-interval 1 || { not_ok "daemon starts"; exit 1; }
rss_watch "$SPID" "$T/rss"
sleep 0.3
idle_kb=$(rss_max "$T/rss")

# slow client
slow_s=5 slow_rows=1500 bulk_rows=40000
[ -n "$FAULT_LONG" ] && slow_s=30 slow_rows=10000 bulk_rows=150000
: >"$T/rss"
t0=$SECONDS
"$CUT" -t 300 -r 1024 -d "$slow_s" 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
client_s=$((SECONDS - t0))
client_kb=$(rss_max "$T/rss")
check "slow client (1 KB/s for $slow_s s): OK" grep -q '^OK import into synapse committed' "$T/out"
check "slow client: it took the pace ($client_s s)" test "$client_s" -ge "$slow_s"
expect_complete "slow client"
check "slow client: max RSS ${client_kb} kB < $BOUND_KB kB" test "$client_kb" -lt "$BOUND_KB"

# slow target
make_slow_dump "$T/slow.sql" "$slow_rows" 2 "$bulk_rows"
dump_mb=$(($(stat -c %s "$T/slow.sql") / 1048576))
: >"$T/rss"
t0=$SECONDS
"$CUT" -t 600 127.0.0.1 "$SPORT" "$T/slow.sql" >"$T/out" 2>/dev/null
target_s=$((SECONDS - t0))
target_kb=$(rss_max "$T/rss")
check "slow target ($slow_rows rows x 2 ms, then $dump_mb MB): OK" grep -q '^OK import into synapse committed' "$T/out"
check "slow target: all rows in" test "$(psql_as tgt synapse -At -c "SELECT (SELECT count(*) FROM public.slow) || ' ' || (SELECT count(*) FROM public.bulk)")" = "$slow_rows $bulk_rows"
check "slow target: max RSS ${target_kb} kB < $BOUND_KB kB" test "$target_kb" -lt "$BOUND_KB"
grep '^progress' "$T/out" | head -3 | sed 's/^/# /'
tgt_reset
check "daemon alive" kill -0 "$SPID"
serve_stop
echo "# figures: RSS idle ${idle_kb} kB; slow client ${client_s} s, max RSS ${client_kb} kB; slow target ${target_s} s ($dump_mb MB), max RSS ${target_kb} kB; bound $BOUND_KB kB; $((SECONDS - start)) s"
