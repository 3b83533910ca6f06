#!/bin/bash
# serve_metrics.sh - serve --metrics-listen: /metrics (Prometheus text)
# scraped during and after an import, its counters equal to the summary's
# JSON; /healthz answers during an import; repeated probes never start,
# change or end an import, also against a --once daemon.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
gunzip -c "$F" >"$T/full.sql"

serve_clusters || { not_ok "clusters start"; exit 1; }

scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$MPORT$1"; }
# metric NAME{LABELS}: its value in $T/m (the last scrape)
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/m"; }

MPORT=$(free_port)
serve_start --metrics-listen "127.0.0.1:$MPORT" --summary-json "$T/result.json" --progress-interval 0.2 ||
	{ not_ok "daemon starts"; exit 1; }
check "the log names the metrics address" grep -q "metrics on http://127.0.0.1:$MPORT/metrics" "$T/serve.log"
scrape /metrics >"$T/m"
check "/metrics is text (no NUL or control bytes)" sh -c "! LC_ALL=C grep -q '[^[:print:][:space:]]' '$T/m'"
check "/metrics before any import: Prometheus text, nothing started" \
	sh -c "grep -q '^# TYPE pgsluice_imports_started_total counter' '$T/m' && test \"\$(awk '\$1 == \"pgsluice_imports_started_total\" {print \$2}' '$T/m')\" = 0"
check "/healthz: ok" test "$(scrape /healthz)" = ok
check "another path: 404" sh -c "! curl -fsS --max-time 5 'http://127.0.0.1:$MPORT/' >/dev/null 2>&1"
check "POST: refused (405 or 501)" sh -c "curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST 'http://127.0.0.1:$MPORT/metrics' | grep -qx '40[05]\|501'"

# an import that pauses inside a COPY for 4 s
l=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
{ head -n $((l + 1)) "$T/full.sql"; sleep 4; tail -n +$((l + 2)) "$T/full.sql"; } |
	timeout 60 nc -N 127.0.0.1 "$SPORT" >"$T/out" &
ncpid=$!
bg_track "$ncpid"
wait_log 'the import starts' 20 || not_ok "the import starts"
for ((i = 0; i < 50; i++)); do
	scrape /metrics >"$T/m" && [ "$(metric 'pgsluice_import_phase{phase="data"}')" = 1 ] && break
	sleep 0.1
done
check "during the import: running 1" test "$(metric pgsluice_import_running)" = 1
check "during the import: phase data" test "$(metric 'pgsluice_import_phase{phase="data"}')" = 1
check "during the import: started 1, none committed yet" \
	test "$(metric pgsluice_imports_started_total)/$(metric pgsluice_imports_committed_total)" = 1/0
check "during the import: the statement running and its time" \
	grep -qE '^pgsluice_statement_running_seconds\{statement="COPY public\.[a-z_]+"\} [0-9.]+$' "$T/m"
check "during the import: text only (no NUL or control bytes)" sh -c "! LC_ALL=C grep -q '[^[:print:][:space:]]' '$T/m'"
check "during the import: bytes and statements so far" \
	sh -c "test \"\$(awk '\$1 == \"pgsluice_import_statements\" {print \$2}' '$T/m')\" -gt 0"
# a second client is refused (busy); probes all the while
timeout 20 nc -N 127.0.0.1 "$SPORT" <"$T/full.sql" >"$T/out2"
check "a second import is refused as busy" grep -q '^ERROR ' "$T/out2"
bad=0
for ((i = 0; i < 30; i++)); do
	[ "$(scrape /healthz)" = ok ] || bad=$((bad + 1))
	scrape /metrics >/dev/null || bad=$((bad + 1))
done
check "30 /healthz and /metrics probes during the import all answer" test "$bad" -eq 0
wait_pid "$ncpid" 60 >/dev/null
check "the import commits all the same" grep -q '^OK import into synapse committed' "$T/out"
for ((i = 0; i < 50; i++)); do [ -s "$T/result.json" ] && break; sleep 0.1; done
scrape /metrics >"$T/m"
check "after: running 0, started 1, committed 1" \
	test "$(metric pgsluice_import_running)/$(metric pgsluice_imports_started_total)/$(metric pgsluice_imports_committed_total)" = 0/1/1
for pair in rows_in:rows bytes_in:bytes_in bytes_plain:bytes_plain statements:statements; do
	m=${pair%%:*} j=${pair#*:}
	want=$(python3 -c "import json; print(json.load(open('$T/result.json'))['counts']['$j'])")
	check "after: pgsluice_${m}_total equals the summary's $j ($want)" test "$(metric "pgsluice_${m}_total")" = "$want"
done
python3 -c "import json
for r in json.load(open('$T/result.json'))['rules']:
    print('pgsluice_rule_statements_total{rule=\"%s\",action=\"%s\"} %d' % (r['rule'], r['action'], r['count']))" >"$T/rules.want"
check "after: the rule counters equal the summary's ($(wc -l <"$T/rules.want") rules)" \
	sh -c "test -s '$T/rules.want' && grep '^pgsluice_rule_statements_total{' '$T/m' | diff - '$T/rules.want'"
check "after: the busy refusal is counted" test "$(metric 'pgsluice_connections_refused_total{reason="busy"}')" = 1
check "after: no statement running" sh -c "! grep -q '^pgsluice_statement_running_seconds{' '$T/m'"

# a failing import: by reason and SQLSTATE
psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER" >/dev/null
{ head -n $((l - 1)) "$T/full.sql"; echo "SELECT pg_catalog.setval('public.no_such_seq', 1, true);"; tail -n +"$l" "$T/full.sql"; } >"$T/bad.sql"
send_nc "$T/bad.sql" "$T/out3"
scrape /metrics >"$T/m"
check "a failed import: failed{reason=statement,sqlstate=42P01} 1" \
	test "$(metric 'pgsluice_imports_failed_total{reason="statement",sqlstate="42P01"}')" = 1
check "a failed import: started 2, committed 1" \
	test "$(metric pgsluice_imports_started_total)/$(metric pgsluice_imports_committed_total)" = 2/1
serve_stop

# --once: probes neither start nor end its one import
MPORT=$(free_port)
serve_start --once --metrics-listen "127.0.0.1:$MPORT" --clear-target --progress-interval 0 ||
	{ not_ok "--once daemon starts"; exit 1; }
bad=0
for ((i = 0; i < 20; i++)); do
	[ "$(scrape /healthz)" = ok ] || bad=$((bad + 1))
	scrape /metrics >"$T/m" || bad=$((bad + 1))
done
check "--once: 20 probes answered" test "$bad" -eq 0
check "--once: the probes started no import" test "$(metric pgsluice_imports_started_total)" = 0
check "--once: the daemon still runs after the probes" kill -0 "$SPID"
send_nc "$F" "$T/out4"
check "--once: the import commits" grep -q '^OK import into synapse committed' "$T/out4"
wait_pid "$SPID" 30
check "--once: the daemon exits 0 after its import" test "$?" -eq 0

# AUTH failures
printf 'right-token\n' >"$T/token"
chmod 600 "$T/token"
MPORT=$(free_port)
serve_start --metrics-listen "127.0.0.1:$MPORT" --token-file "$T/token" --progress-interval 0 ||
	{ not_ok "token daemon starts"; exit 1; }
printf 'AUTH wrong-token\n' | timeout 20 nc -N 127.0.0.1 "$SPORT" >/dev/null
scrape /metrics >"$T/m"
check "a wrong AUTH line is counted" test "$(metric pgsluice_auth_failures_total)" = 1
serve_stop
