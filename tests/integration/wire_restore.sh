#!/bin/bash
# wire_restore.sh - pg_restore speaks to pgsluice as if it were the target
# (issue 8): a custom-format dump made from the source (owners in it) is
# restored with ownership dropped and the target equals the source, with
# and without -1 (--single-transaction); pg_restore -j is refused with a
# message that says -j is not supported, and nothing is left in the target.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
. "$(dirname "$0")/wire_common.bash"
need_fixtures || exit 0

wire_setup || { not_ok "clusters and fixture"; exit 1; }
wire_custom || { not_ok "pg_dump -Fc of the source"; exit 1; }
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }

restore() { PGCONNECT_TIMEOUT=10 timeout 120 pg_restore -h 127.0.0.1 -p "$SPORT" -U importer -d synapse "$@" "$T/fx.custom"; }

# 1. pg_restore (the import ends at its Terminate)
restore >"$T/out1" 2>"$T/err1"
rc=$?
check "pg_restore: exit 0" test "$rc" -eq 0
wire_wait_ok 1
check "pg_restore: the commit waits a moment for pg_restore -j workers" grep -q 'pg_restore ended its session: committing in 1500 ms' "$T/serve.log"
wire_same "pg_restore: the target equals the source (pg_dump -O -x)"
check "pg_restore: the daemon committed one import" test "$(grep -c 'OK import into synapse committed' "$T/serve.log")" -eq 1

# 2. pg_restore -1 (the import ends at its COMMIT, answered after pgsluice's)
sec_reset_target
restore -1 -v >"$T/out2" 2>"$T/err2"
rc=$?
check "pg_restore -1: exit 0" test "$rc" -eq 0
wire_same "pg_restore -1: the target equals the source"
check "pg_restore -1 -v: the daemon's summary reaches pg_restore as a notice" \
	grep -q 'OK import into synapse committed' "$T/err2"

# 3. pg_restore --exit-on-error into a target that is not empty: refused at connect
restore -e >"$T/out3" 2>"$T/err3"
rc=$?
check "not empty: pg_restore fails" test "$rc" -ne 0
check "not empty: it is told why" grep -q 'the target is not empty' "$T/err3"

# 4. pg_restore -j 2: refused, saying -j is not supported; rolled back
sec_reset_target
restore -j 2 >"$T/out4" 2>"$T/err4"
rc=$?
check "pg_restore -j 2: fails" test "$rc" -ne 0
check "pg_restore -j 2: told that -j is not supported" grep -q 'pg_restore -j (parallel restore) is not supported' "$T/err4"
check "pg_restore -j 2: the daemon says why too" grep -q 'pg_restore -j (parallel restore) is not supported' "$T/serve.log"
wait_log 'ERROR pg_restore -j (parallel restore) is not supported: a second' 10
check "pg_restore -j 2: its first connection's import is rolled back" grep -q 'ERROR pg_restore -j (parallel restore) is not supported: a second' "$T/serve.log"
check "pg_restore -j 2: nothing is left in the target" test "$(tgt_count)" -eq 0

# 5. after all that, a plain pg_restore still works
restore >"$T/out5" 2>"$T/err5"
check "then pg_restore: exit 0" test $? -eq 0
wire_wait_ok 3
wire_same "then pg_restore: the target equals the source"
sec_alive "the daemon runs on"
