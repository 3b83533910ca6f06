#!/bin/bash
# send_exit_codes.sh - `pgsluice send` against the real daemon and a real
# PostgreSQL: what it prints and the status it exits with, for each way an
# import can end.
#
#	0  the daemon answered OK (file, gzip file, stdin pipe, stdin redirect)
#	1  the daemon answered ERROR (a failing statement; a truncated dump; an
#	   error at the first statement of a large dump, where the daemon
#	   closes while send still sends; the daemon stopped by SIGTERM)
#	2  a problem on this side (connection refused, a token file readable
#	   by others, usage)
#	3  the daemon died mid-import (kill -9): no answer
#
# The source is the demo's sample database (scripts/demo-sample.sql) on its
# own cluster, dumped with owners; the target is a database owned by the
# non-superuser synapse_user on a second cluster.  After every failed
# import the target must still hold what the last OK import left.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/send_common.bash"

if [ ! -x "$PGSLUICE" ]; then
	not_ok "send: $PGSLUICE not built (run make)"
	exit 1
fi
if ! "$PGSLUICE" send --help >/dev/null 2>&1; then
	not_ok "send: ./pgsluice has no send command"
	exit 1
fi

pg_start src || { not_ok "send: start the source cluster"; exit 1; }
pg_start dst || { not_ok "send: start the target cluster"; exit 1; }
psql_as src postgres -c "CREATE ROLE chat_owner LOGIN" -c "CREATE DATABASE sample OWNER chat_owner" &&
	psql_as src sample -f "$ROOT/scripts/demo-sample.sql" >"$T/sample-load.log" 2>&1 ||
	{ cat "$T/sample-load.log"; not_ok "send: build the sample database"; exit 1; }
psql_as dst postgres -c "CREATE ROLE synapse_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" \
	-c "CREATE DATABASE target OWNER synapse_user" || { not_ok "send: create the target"; exit 1; }
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres sample >"$T/sample.sql" ||
	{ not_ok "send: pg_dump sample"; exit 1; }
gzip -c "$T/sample.sql" >"$T/sample.sql.gz"

TARGET="host=127.0.0.1 port=$(pg_port dst) dbname=target user=synapse_user"

target_counts() {
	psql_as dst target -At -F ' ' -c "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM rooms),
		(SELECT count(*) FROM events), (SELECT count(*) FROM room_memberships),
		(SELECT count(*) FROM devices), (SELECT last_value FROM event_stream_ordering)" 2>&1
}
WANT_COUNTS="200 20 840 240 200 840"
# target_intact NAME: the target still holds the sample (the last OK import)
target_intact() {
	local got
	got=$(target_counts)
	if [ "$got" = "$WANT_COUNTS" ]; then
		ok "send $1: target unchanged"
	else
		not_ok "send $1: target changed: counts \"$got\", want \"$WANT_COUNTS\""
	fi
}

start_serve main --verbose --progress-interval 0.3 || { not_ok "send: start pgsluice serve"; exit 1; }

# ---- exit 0: OK -------------------------------------------------------------

run_send ok-gzip-file "127.0.0.1:$SERVE_PORT" "$T/sample.sql.gz"
expect ok-gzip-file 0 '^OK'
got=$(target_counts)
check "send ok-gzip-file: target has the sample's rows and sequence ($got)" [ "$got" = "$WANT_COUNTS" ]
check "send ok-gzip-file: summary lines after OK on stdout" grep -q '^  rows public.events: 840' "$T/ok-gzip-file.out"
check "send ok-gzip-file: no progress or notice on stdout" test "$(grep -vc '^OK\|^  ' "$T/ok-gzip-file.out")" -eq 0

# stdin a pipe (process substitution: run_send stays in this shell, so
# RC is its own)
RC=99
run_send ok-stdin-pipe "127.0.0.1:$SERVE_PORT" < <(pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres sample | gzip)
expect ok-stdin-pipe 0 '^OK'

run_send ok-stdin-redirect "localhost:$SERVE_PORT" - <"$T/sample.sql"
expect ok-stdin-redirect 0 '^OK'
target_intact ok-stdin-redirect

# IPv6 loopback, [::1]:PORT
MAIN_PORT=$SERVE_PORT
MAIN_PID=$SERVE_PID
if LISTEN_HOST='[::1]' start_serve v6 >"$T/serve-v6.out" 2>&1; then
	run_send ok-ipv6 "[::1]:$SERVE_PORT" "$T/sample.sql.gz"
	expect ok-ipv6 0 '^OK'
	kill "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
else
	skip "send ok-ipv6: the daemon cannot listen on [::1] here (no IPv6 loopback?): $(tail -n 1 "$T/serve-v6.log")"
fi
SERVE_PORT=$MAIN_PORT
SERVE_PID=$MAIN_PID

# ---- exit 1: ERROR ------------------------------------------------------------

# a failing statement just before the trailer
sed 's/^-- PostgreSQL database dump complete/INSERT INTO no_such_table VALUES (1);\n&/' "$T/sample.sql" >"$T/failing.sql"
grep -q '^INSERT INTO no_such_table' "$T/failing.sql" || not_ok "send: could not build failing.sql"
run_send error-statement "127.0.0.1:$SERVE_PORT" "$T/failing.sql"
expect error-statement 1 '^ERROR'
check "send error-statement: the message names the table" grep -q 'no_such_table' "$T/error-statement.out"
target_intact error-statement

# a truncated dump (half of it, no trailer): send shuts down its side at
# the end of the input, the daemon sees the truncation
head -c $(($(wc -c <"$T/sample.sql") / 2)) "$T/sample.sql" >"$T/truncated.sql"
run_send error-truncated "127.0.0.1:$SERVE_PORT" "$T/truncated.sql"
expect error-truncated 1 '^ERROR'
target_intact error-truncated

# an error at the first statement of a large dump: the daemon answers and
# closes while send is still sending; the EPIPE/reset that follows is not
# reported as a lost connection
{
	echo "INSERT INTO no_such_table VALUES (1);"
	yes "SELECT 'padding padding padding padding padding padding padding padding';" | head -n 600000
	echo "-- PostgreSQL database dump complete"
} >"$T/early-error.sql"
start=$SECONDS
run_send error-early "127.0.0.1:$SERVE_PORT" "$T/early-error.sql"
expect error-early 1 '^ERROR'
check "send error-early: no lost-connection complaint on stderr" \
	test "$(grep -c 'lost\|without answering' "$T/error-early.err")" -eq 0
check "send error-early: done in $((SECONDS - start)) s (< 60)" test $((SECONDS - start)) -lt 60
target_intact error-early

# ---- exit 2: nothing started ------------------------------------------------------

closed=$(free_port)
run_send refused "127.0.0.1:$closed" "$T/sample.sql.gz"
expect refused 2 ''
check "send refused: says connection refused" grep -q 'Connection refused' "$T/refused.err"

printf 'secret\n' >"$T/token"
chmod 644 "$T/token"
run_send token-mode --token-file "$T/token" "127.0.0.1:$SERVE_PORT" "$T/sample.sql.gz"
expect token-mode 2 ''
check "send token-mode: tells to chmod 600" grep -q 'chmod 600' "$T/token-mode.err"

run_send no-file "127.0.0.1:$SERVE_PORT" "$T/does-not-exist.sql"
expect no-file 2 ''
run_send usage
expect usage 2 ''
run_send bad-addr "[::1:$SERVE_PORT" "$T/sample.sql.gz"
expect bad-addr 2 ''
target_intact "exit-2 cases"

# ---- exit 3: the daemon dies mid-import ------------------------------------------

# The dump comes through a pipe that stalls halfway, long enough to kill
# the daemon while the import is open.  Progress lines arrive meanwhile:
# not a terminal, so send passes them on as lines on stderr.
slow_dump() {
	head -c 120000 "$T/sample.sql"
	sleep "$1"
	tail -c +120001 "$T/sample.sql"
}
start_serve die --progress-interval 0.3 || { not_ok "send: start the daemon to kill"; exit 1; }
slow_dump 4 | "$PGSLUICE" send "127.0.0.1:$SERVE_PORT" >"$T/die-kill9.out" 2>"$T/die-kill9.err" &
send_pid=$!
sleep 1.5
kill -9 "$SERVE_PID"
{
	wait "$send_pid"
	RC=$?
	wait "$SERVE_PID"
} 2>/dev/null
expect die-kill9 3 ''
check "send die-kill9: says the connection was lost or closed without an answer" \
	grep -q 'lost\|without answering' "$T/die-kill9.err"
check "send die-kill9: the daemon's progress lines on stderr (not a terminal)" \
	grep -q '^progress: ' "$T/die-kill9.err"
target_intact die-kill9

# the daemon stopped with SIGTERM mid-import: it rolls back and tells us
start_serve term --progress-interval 0.3 || { not_ok "send: start the daemon to stop"; exit 1; }
slow_dump 4 | "$PGSLUICE" send "127.0.0.1:$SERVE_PORT" >"$T/sigterm.out" 2>"$T/sigterm.err" &
send_pid=$!
sleep 1.5
kill -TERM "$SERVE_PID"
wait "$send_pid"
RC=$?
expect sigterm 1 '^ERROR'
wait "$SERVE_PID"
check "send sigterm: the daemon exited 0" test $? -eq 0
target_intact sigterm

# ---- on a terminal: the progress bar -------------------------------------------------

if command -v script >/dev/null; then
	start_serve tty --progress-interval 0.3 || { not_ok "send: start the daemon for the terminal case"; exit 1; }
	script -qec "$PGSLUICE send 127.0.0.1:$SERVE_PORT $T/sample.sql.gz" /dev/null >"$T/tty.out" 2>&1 </dev/null
	RC=$?
	if [ "$RC" -eq 0 ] && grep -aq $'\r' "$T/tty.out" && grep -aq $'\033\\[K' "$T/tty.out" &&
		tr '\r' '\n' <"$T/tty.out" | grep -aq '% .* of .*/s' &&
		tr '\r' '\n' <"$T/tty.out" | sed 's/\x1b\[K//g' | grep -aq '^OK'; then
		ok "send tty: a progress bar redrawn in place (\\r ... \\033[K), then OK; exit 0"
	else
		not_ok "send tty: exit $RC; output:"
		cat -v "$T/tty.out" | head -20
	fi
else
	skip "send tty: no script(1) to give send a terminal (util-linux bsdutils)"
fi
