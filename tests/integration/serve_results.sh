#!/bin/bash
# serve_results.sh - what an operator and a script read at the end: the
# summary (verdict, phase table, per-table rows only with --verbose, the
# verdict again last) and the JSON results: serve --summary-json, send
# --json, check --json, parsed with python3's json, on success and failure
# (SQLSTATE, statement number and line).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
gunzip -c "$F" >"$T/full.sql"
eval "$(dump_facts "$T/full.sql")"

serve_clusters || { not_ok "clusters start"; exit 1; }

# jq_py FILE EXPR: evaluate a python expression over the parsed object o
jq_py() {
	python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v)
sys.exit(0 if v not in (False, None) else 1)' "$1" "$2"
}
# check_py NAME FILE EXPR
check_py() {
	local r
	if r=$(jq_py "$2" "$3" 2>&1); then ok "$1"; else not_ok "$1 ($r)"; sed 's/^/#   /' "$2" | head -40; fi
}

serve_start --summary-json "$T/result.json" --progress-interval 0.05 || { not_ok "daemon starts"; exit 1; }
send_nc "$F" "$T/out"
check "the verdict opens the summary: the phase table follows it" sh -c "grep -A1 '^OK import into synapse committed: ' '$T/out' | tail -1 | grep -q '^  phase  *time  what'"
check "the summary's last line is the verdict again" sh -c "tail -1 '$T/out' | grep -qx 'OK import into synapse committed'"
check "a phase table" grep -q '^  phase  *time  what$' "$T/out"
for ph in pre-data data post-data verify analyze commit; do
	check "phase $ph with its wall time" grep -qE "^  $ph +[0-9]+\.[0-9] s" "$T/out"
done
check "data: rows, bytes, tables" grep -qE "^  data +[0-9.]+ s  $FX_ROWS rows, [0-9.]+ [kMG]?B, $FX_COPIES tables\$" "$T/out"
check "post-data: indexes and constraints" grep -qE '^  post-data +[0-9.]+ s  [1-9][0-9]* indexes, [1-9][0-9]* constraints' "$T/out"
check "no per-table rows without --verbose" sh -c "! grep -q '^  rows public\.' '$T/out'"
check "rows in all still there" grep -q "^  rows in all: $FX_ROWS in" "$T/out"
for i in $(seq 50); do [ -s "$T/result.json" ] && break; sleep 0.1; done
check_py "--summary-json: verdict ok, committed" "$T/result.json" 'o["verdict"] == "ok" and o["committed"] is True and o["error"] is None'
check_py "--summary-json: the phases in order, each with seconds" "$T/result.json" \
	'[p["name"] for p in o["phases"]] == ["pre-data", "data", "post-data", "verify", "analyze", "commit"] and all(p["seconds"] >= 0 for p in o["phases"])'
check_py "--summary-json: counts match the dump ($FX_ROWS rows, $FX_COPIES tables)" "$T/result.json" \
	"o['counts']['rows'] == $FX_ROWS and o['counts']['tables'] == $FX_COPIES and sum(t['rows'] for t in o['tables']) == $FX_ROWS"
check_py "--summary-json: per-table rows (public.events $FX_EVENTS)" "$T/result.json" \
	"[t['rows'] for t in o['tables'] if t['name'] == 'public.events'] == [$FX_EVENTS]"
check_py "--summary-json: rules fired" "$T/result.json" 'len(o["rules"]) > 0 and all(r["count"] > 0 for r in o["rules"])'
check_py "--summary-json: verification" "$T/result.json" \
	"o['verification']['verified'] is True and o['verification']['rows_ok'] == $FX_ROWS and o['verification']['sequences'] == $FX_SETVALS"
check_py "--summary-json: the target, the mode" "$T/result.json" \
	"o['target']['database'] == 'synapse' and 'as user $TARGET_USER' in o['target']['description'] and o['mode'] == 'single transaction'"
serve_stop

# --verbose: per-table rows; send --json
psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER" >/dev/null
serve_start --verbose --summary-json "$T/result2.json" --progress-interval 0.05 || { not_ok "daemon starts"; exit 1; }
"$PGSLUICE" send --json "127.0.0.1:$SPORT" "$F" >"$T/send.json" 2>"$T/send.err"
rc=$?
check "send --json: exit 0" test "$rc" -eq 0
check_py "send --json: stdout is one object: ok, phases, counts" "$T/send.json" \
	"o['verdict'] == 'ok' and len(o['phases']) >= 4 and o['counts']['rows'] == $FX_ROWS"
check_py "send --json: what send saw (bytes sent, exit status)" "$T/send.json" \
	"o['client']['exit_status'] == 0 and o['client']['bytes_sent'] == $(stat -c %s "$F")"
check "send --json: the text answer on stderr" grep -q '^OK import into synapse committed' "$T/send.err"
check "send --json: the daemon's READY line is not shown" sh -c "! grep -q '^READY' '$T/send.err' '$T/send.json'"
check "--verbose: per-table rows" grep -q "^  rows public.events: $FX_EVENTS\$" "$T/send.err"
serve_stop

# a failing statement: SQLSTATE, statement number and line
reset_db() { psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER" >/dev/null; }
reset_db
l=$(grep -n -m1 '^COPY ' "$T/full.sql" | cut -d: -f1)
{ head -n $((l - 1)) "$T/full.sql"; echo "SELECT pg_catalog.setval('public.no_such_seq', 1, true);"; tail -n +"$l" "$T/full.sql"; } >"$T/bad.sql"
serve_start --summary-json "$T/bad.json" --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
"$PGSLUICE" send --json "127.0.0.1:$SPORT" "$T/bad.sql" >"$T/sendbad.json" 2>"$T/sendbad.err"
rc=$?
check "send --json of a failing dump: exit 1" test "$rc" -eq 1
stmt=$(sed -n 's/^ERROR statement \([0-9]*\) at line .*/\1/p' "$T/sendbad.err" | head -1)
check "the failure's text names statement $stmt at line $l" grep -q "^ERROR statement $stmt at line $l failed" "$T/sendbad.err"
check "the last line is the verdict with the target's state" sh -c "tail -1 '$T/sendbad.err' | grep -q '^ERROR import into synapse failed: rolled back'"
for f in sendbad.json bad.json; do
	for i in $(seq 50); do [ -s "$T/$f" ] && break; sleep 0.1; done
	check_py "$f: verdict error, SQLSTATE 42P01, statement $stmt, line $l" "$T/$f" \
		"o['verdict'] == 'error' and o['committed'] is False and o['error']['sqlstate'] == '42P01' and o['error']['statement'] == $stmt and o['error']['line'] == $l"
	check_py "$f: the state of the target" "$T/$f" "o['state'].startswith('rolled back')"
done
serve_stop

# send --json with no daemon: still one object
"$PGSLUICE" send --json "127.0.0.1:$(free_port)" "$F" >"$T/nodaemon.json" 2>/dev/null
rc=$?
check_py "send --json, connection refused: an object with exit status $rc" "$T/nodaemon.json" \
	"o['verdict'] == 'no answer' and o['client']['exit_status'] == $rc == 2"

# check --json
reset_db
"$PGSLUICE" check --json -d "$TARGET" >"$T/check.json" 2>"$T/check.err"
rc=$?
check_py "check --json on an empty target: cleared, exit $rc" "$T/check.json" \
	"o['verdict'] == 'cleared' and o['exit_status'] == $rc == 0 and o['objects'] == [] and o['role']['name'] == '$TARGET_USER'"
psql_as tgt synapse -c "CREATE TABLE public.t (a int)" -c "ALTER TABLE public.t OWNER TO $TARGET_USER" >/dev/null
"$PGSLUICE" check --json -d "$TARGET" >"$T/check2.json" 2>/dev/null
rc=$?
check_py "check --json: not cleared, the object, the DROP" "$T/check2.json" \
	"o['verdict'] == 'not cleared' and o['exit_status'] == $rc == 1 and o['objects'][0]['name'] == 'public.t' and 'DROP TABLE' in o['clear_target_sql']"
"$PGSLUICE" check --json -d "host=127.0.0.1 port=$(free_port) dbname=x" >"$T/check3.json" 2>/dev/null
rc=$?
check_py "check --json: cannot connect: verdict error, the reason" "$T/check3.json" \
	"o['verdict'] == 'error' and o['exit_status'] == $rc == 2 and 'cannot connect' in o['error']"
