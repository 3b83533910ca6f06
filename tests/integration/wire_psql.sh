#!/bin/bash
# wire_psql.sh - psql speaks to pgsluice as if it were the target:
# psql -f without -1 is refused before the import starts (add -1); psql -1
# -f of the Synapse fixture (owners in it) imports it with ownership
# dropped, a NOTICE for each dropped statement, and the target equals the
# source; psql -1 gets its COMMIT answered once pgsluice has committed,
# with the summary as a NOTICE; a failing statement comes back as the
# target's ErrorResponse and everything is rolled back; a preflight
# refusal (target not empty) is a FATAL at the first dump statement, with
# the same text; a
# connection lost without Terminate is rolled back; a raw stream and a
# wire client on the same port, one after the other, both work.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
. "$(dirname "$0")/wire_common.bash"
need_fixtures || exit 0

wire_setup || { not_ok "clusters and fixture"; exit 1; }
eval "$(dump_facts "$T/fx.sql")"
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }

# 1. psql -f without -1: refused at its first dump statement, before the import starts
wire_psql -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >"$T/out1" 2>"$T/err1"
rc=$?
check "psql -f without -1: fails" test "$rc" -ne 0
check "psql -f without -1: told to add -1" grep -q 'psql: add -1 (--single-transaction)' "$T/err1"
check "psql -f without -1: nothing is left in the target" test "$(tgt_count)" -eq 0
check "psql -f without -1: not admitted as an import" bash -c "! grep -q 'the import starts' '$T/serve.log'"

# 2. psql -1: the COMMIT is answered after pgsluice's COMMIT, with the summary
sec_reset_target
wire_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >"$T/out2" 2>"$T/err2"
rc=$?
check "psql -1 -f: exit 0" test "$rc" -eq 0
check "psql -1 -f: a NOTICE for each dropped OWNER TO" \
	test "$(grep -c 'NOTICE:  pgsluice dropped this statement (rule owner)' "$T/err2")" -eq "$FX_OWNERS"
check "psql -1: the summary comes as a NOTICE with the COMMIT" \
	grep -q "NOTICE:  OK import into synapse committed: .* $FX_ROWS rows in $FX_COPIES tables" "$T/err2"
check "psql -1: the summary counts the absorbed COMMIT (psql's BEGIN came before the dump)" grep -q 'rule transaction: dropped 1 statement' "$T/err2"
wire_same "psql -1: the target equals the source"

# 3. a preflight refusal: FATAL at the first dump statement, with the same text as for a raw stream
wire_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >"$T/out3" 2>"$T/err3"
rc=$?
check "not empty: psql exits 2 (connection failed)" test "$rc" -eq 2
check "not empty: FATAL with the preflight's text" \
	grep -q "FATAL:  the target is not empty: schema public of database synapse holds $FX_OWNERS objects" "$T/err3"
wire_same "not empty: the target is unchanged"

# 4. a failing statement: the target's error, rolled back
sec_reset_target
awk '{ print } /^CREATE TABLE public.users \(/ { n = 1 } n && /^\);$/ { print "INSERT INTO public.users (creation_ts) VALUES (\047not a number\047);"; n = 0 }' \
	"$T/fx.sql" >"$T/bad.sql"
wire_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/bad.sql" >"$T/out4" 2>"$T/err4"
rc=$?
check "failing statement: psql exits 3 (ON_ERROR_STOP)" test "$rc" -eq 3
check "failing statement: the target's ERROR and SQLSTATE reach psql" \
	grep -q 'ERROR:  invalid input syntax for type bigint: "not a number"' "$T/err4"
check "failing statement: pgsluice says it rolled back" grep -q 'pgsluice rolled the import back' "$T/err4"
check "failing statement: nothing is left in the target" test "$(tgt_count)" -eq 0

# 5. -1 without ON_ERROR_STOP: the rest is refused, still rolled back
wire_psql -1 -q -f "$T/bad.sql" >"$T/out5" 2>"$T/err5"
check "no ON_ERROR_STOP: later statements are told the import failed" \
	grep -q 'the import has failed and was rolled back' "$T/err5"
check "no ON_ERROR_STOP: nothing is left in the target" test "$(tgt_count)" -eq 0

# 6. a connection lost without Terminate: rolled back
{ head -n 20000 "$T/fx.sql"; sleep 1; } | timeout 20 psql -1 -f - -X -q -h 127.0.0.1 -p "$SPORT" -U importer -d synapse >/dev/null 2>&1 &
pspid=$!
wait_log 'state stream\|connected to the target' 10 >/dev/null 2>&1
sleep 0.5
pkill -KILL -P "$pspid" psql 2>/dev/null; kill -KILL "$pspid" 2>/dev/null
wait_pid "$pspid" 2>/dev/null
# killed between statements the daemon sees a connection lost without a
# Terminate message; killed while a statement runs, a client that closed the
# connection during it: both fail the import and roll back
lost='without a Terminate message\|the client closed the connection while statement'
wait_log "$lost" 10
check "killed psql: the import fails as incomplete (no Terminate)" grep -q "$lost" "$T/serve.log"
check "killed psql: nothing is left in the target" test "$(tgt_count)" -eq 0

# 7. a raw stream, then a wire client, then a raw stream, on the same port
sec_reset_target
send_nc "$T/fx.sql" "$T/raw1"
check "same port: raw stream first: OK" grep -q '^OK import into synapse committed' "$T/raw1"
sec_reset_target
wire_psql -1 -v ON_ERROR_STOP=1 -q -f "$T/fx.sql" >/dev/null 2>"$T/err7"
check "same port: then psql: OK" grep -q 'NOTICE:  OK import into synapse committed' "$T/err7"
wire_same "same port: psql's import equals the source"
sec_reset_target
gzip -c "$T/fx.sql" >"$T/fx2.sql.gz"
send_nc "$T/fx2.sql.gz" "$T/raw2"
check "same port: then a raw gzip stream: OK" grep -q '^OK import into synapse committed' "$T/raw2"
wire_same "same port: the raw import equals the source"
sec_alive "the daemon runs on"
