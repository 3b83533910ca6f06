#!/bin/bash
# wire_restore.sh - pg_restore speaks to pgsluice as if it were the target:
# a custom-format dump made from the source (owners in it) is
# restored with -1 (--single-transaction), ownership dropped, and the target
# equals the source; without -1, and with -j (which cannot be combined with
# -1), it is refused before the import starts, with a message that says to
# use -1 without -j, and nothing is left in the target.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
. "$(dirname "$0")/wire_common.bash"
need_fixtures || exit 0

wire_setup || { not_ok "clusters and fixture"; exit 1; }
wire_custom || { not_ok "pg_dump -Fc of the source"; exit 1; }
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }

restore() { PGCONNECT_TIMEOUT=10 timeout 120 pg_restore -h 127.0.0.1 -p "$SPORT" -U importer -d synapse "$@" "$T/fx.custom"; }

# 1. pg_restore without -1: refused before the import starts
restore >"$T/out1" 2>"$T/err1"
rc=$?
check "pg_restore without -1: fails" test "$rc" -ne 0
check "pg_restore without -1: told to add --single-transaction" grep -q 'run pg_restore with --single-transaction (-1), and without -j' "$T/err1"
check "pg_restore without -1: nothing is left in the target" test "$(tgt_count)" -eq 0
check "pg_restore without -1: not admitted as an import" bash -c "! grep -q 'the import starts' '$T/serve.log'"

# 2. pg_restore -1 (the import ends at its COMMIT, answered after pgsluice's)
sec_reset_target
restore -1 -v >"$T/out2" 2>"$T/err2"
rc=$?
check "pg_restore -1: exit 0" test "$rc" -eq 0
wire_same "pg_restore -1: the target equals the source"
check "pg_restore -1 -v: the daemon's summary reaches pg_restore as a notice" \
	grep -q 'OK import into synapse committed' "$T/err2"

# 3. pg_restore --exit-on-error into a target that is not empty: refused at connect
restore -1 -e >"$T/out3" 2>"$T/err3"
rc=$?
check "not empty: pg_restore fails" test "$rc" -ne 0
check "not empty: it is told why" grep -q 'the target is not empty' "$T/err3"

# 4. pg_restore -j 2: its first connection sends the dump outside a transaction: refused
sec_reset_target
restore -j 2 >"$T/out4" 2>"$T/err4"
rc=$?
check "pg_restore -j 2: fails" test "$rc" -ne 0
check "pg_restore -j 2: told to run without -j, with -1" grep -q 'and without -j (parallel restore: pgsluice imports over one connection)' "$T/err4"
check "pg_restore -j 2: the daemon says why too" grep -q "ERROR the dump's statements come outside a transaction" "$T/serve.log"
check "pg_restore -j 2: nothing is left in the target" test "$(tgt_count)" -eq 0

# 5. after all that, a plain pg_restore still works
restore -1 >"$T/out5" 2>"$T/err5"
check "then pg_restore -1: exit 0" test $? -eq 0
wire_wait_ok 2
wire_same "then pg_restore -1: the target equals the source"
sec_alive "the daemon runs on"
