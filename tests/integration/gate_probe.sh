#!/bin/bash
# gate_probe.sh - the import starts when a dump starts, not when a client
# connects.  Against a target that holds a Synapse schema and a daemon
# with --once --clear-target: pg_isready, psql -c 'select 1', psql -c
# '\dt', nc -z, a bare connect-and-close, a startup packet then
# Terminate, a custom-format and a tar-format archive, and a text that is
# not a dump each change nothing, drop nothing, are not counted by
# --once, and the ones that can read get a message saying what was
# expected; the daemon then serves the next import, which commits.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/gate_common.bash"
need_fixtures || exit 0
WC=$ROOT/build/tools/wireclient
[ -x "$WC" ] || { not_ok "build/tools/wireclient is built (make test builds it)"; exit 1; }

gate_setup || { not_ok "clusters, fixture and a pre-filled target"; exit 1; }
gate_serve --progress-interval 0 --once --clear-target || { not_ok "daemon starts"; exit 1; }

# pg_isready: the daemon answers (the target's parameters), nothing runs
pg_isready -h 127.0.0.1 -p "$SPORT" -t 10 >"$T/isready" 2>&1
rc=$?
check "pg_isready: accepting connections (exit 0)" test "$rc" -eq 0
wait_log 'before sending a dump: nothing was done' 10 >/dev/null
check "pg_isready: the daemon logs that nothing was done" grep -q 'Terminate) before sending a dump: nothing was done' "$T/serve.log"
gate_unchanged "pg_isready: the target is unchanged"
gate_alive "pg_isready: the --once daemon still runs"

# psql -c 'select 1': an ERROR saying what pgsluice takes
gate_psql -c 'select 1' >"$T/sel.out" 2>"$T/sel.err"
rc=$?
check "psql -c 'select 1': fails (exit 1)" test "$rc" -eq 1
check "psql -c 'select 1': told it is not the start of a dump" grep -q 'ERROR:  pgsluice imports pg_dump plain-format dumps and runs nothing else: "select 1" is not the start of a dump' "$T/sel.err"
check "psql -c 'select 1': told how to send a dump" grep -q 'HINT:  send a dump: psql -1' "$T/sel.err"
gate_unchanged "psql -c 'select 1': the target is unchanged"

# psql -c '\dt': its catalog query is refused the same way
gate_psql -c '\dt' >"$T/dt.out" 2>"$T/dt.err"
rc=$?
check "psql -c '\\dt': fails" test "$rc" -ne 0
check "psql -c '\\dt': told it is not the start of a dump" grep -q 'is not the start of a dump' "$T/dt.err"
gate_unchanged "psql -c '\\dt': the target is unchanged"

# nc -z, and a bare connect-and-close
nc -z 127.0.0.1 "$SPORT"
check "nc -z: the port is open" test $? -eq 0
exec 3<>"/dev/tcp/127.0.0.1/$SPORT" && exec 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$SPORT" && exec 3<&-
gate_unchanged "nc -z and a bare connect-and-close: the target is unchanged"

# a startup packet, then Terminate
"$WC" 127.0.0.1 "$SPORT" terminate >"$T/wc.out" 2>&1
check "startup then Terminate: closed without an error" test $? -eq 0
gate_unchanged "startup then Terminate: the target is unchanged"

# a custom-format archive: named as such, with the pg_restore line
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -Fc -f "$T/fx.custom" synapse
send_nc "$T/fx.custom" "$T/custom.out"
check "custom archive: refused as a custom-format archive" grep -q '^ERROR this is a pg_dump custom-format archive (it begins with PGDMP)' "$T/custom.out"
check "custom archive: the pg_restore -f - line" grep -q 'send `pg_restore -f - FILE | pgsluice send ...` or use pg_restore through the PostgreSQL port' "$T/custom.out"
check "custom archive: nothing was changed" grep -q '^  nothing was changed in the target$' "$T/custom.out"
gate_unchanged "custom archive: the target is unchanged"

# a tar archive
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -Ft -f "$T/fx.tar" synapse
send_nc "$T/fx.tar" "$T/tar.out"
check "tar archive: refused as a tar archive" grep -q '^ERROR this is a tar archive (pg_dump -Ft?), not a plain-format dump' "$T/tar.out"
gate_unchanged "tar archive: the target is unchanged"

# gzip of a custom archive: the decoded bytes decide
gzip -c "$T/fx.custom" >"$T/fx.custom.gz"
send_nc "$T/fx.custom.gz" "$T/customgz.out"
check "gzip'd custom archive: refused as a custom-format archive" grep -q '^ERROR this is a pg_dump custom-format archive' "$T/customgz.out"

# a text that is not a dump
printf 'DROP TABLE public.users;\n' >"$T/notdump.sql"
send_nc "$T/notdump.sql" "$T/notdump.out"
check "a text that is not a dump: refused, quoting its start" grep -q '^ERROR this is not a pg_dump plain-format dump: it begins with "DROP TABLE public.users;"' "$T/notdump.out"
gate_unchanged "a text that is not a dump: the target is unchanged"

check "nothing was dropped by any of them" bash -c "! grep -q 'dropping\|dropped' '$T/serve.log'"
if grep -q 'the import starts' "$T/serve.log"; then
	not_ok "none was admitted as an import"; grep -B3 'the import starts' "$T/serve.log" | sed 's/^/# /'
else ok "none was admitted as an import"; fi
gate_alive "after all of them, the --once daemon still runs"

# the next import: a dump, committed; --once exits 0
send_nc "$T/fx.sql" "$T/import.out"
wait "$SPID"
rc=$?
check "the dump after them: OK committed" grep -q '^OK import into synapse committed' "$T/import.out"
check "the dump after them: --once exits 0" test "$rc" -eq 0
gate_same_as_source "the dump after them: the target equals the source"
