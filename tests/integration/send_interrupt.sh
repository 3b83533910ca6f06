#!/bin/bash
# send_interrupt.sh - Ctrl-C on `pgsluice send`, pressed in a real terminal
# (tmux: the key goes through the pty's line discipline, which sends SIGINT
# to the foreground process), at four points of an import:
#
#	10%      the daemon is stuck early in the data section
#	50%      ... in the middle of it
#	last     the whole dump has left send ("waiting for the daemon"), the
#	         daemon is stuck in the data section with the rest of the dump
#	         (and its trailer) still in its buffers
#	answer   the daemon is stuck on the dump's last statement (a CREATE
#	         INDEX in post-data), the trailer right behind it
#
# The timing is decided by a lock, not by sleeps: the dump's tables carry a
# CHECK (and an index) calling gate(k), which takes the shared advisory lock
# k; the test holds lock k exclusively in a session of its own, so the
# import blocks exactly there.  Once the daemon's statement waits on that
# lock (pg_locks), the test presses Ctrl-C, then releases the lock and waits
# for the daemon's verdict.  Checked each time: send's exit status (4) and
# message, the connection reset (the daemon's log), and the target, which
# must be what it was unless the daemon committed.  Plus SIGTERM, and a
# terminal on stdin refused.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/send_common.bash"

if ! command -v tmux >/dev/null; then
	not_ok "send_interrupt: tmux is not installed (scripts/deps.sh installs it)"
	exit 1
fi

pg_start src || { not_ok "send_interrupt: start the source cluster"; exit 1; }
pg_start dst || { not_ok "send_interrupt: start the target cluster"; exit 1; }
psql_as dst postgres -c "CREATE ROLE synapse_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" \
	-c "CREATE DATABASE target OWNER synapse_user" >/dev/null || { not_ok "send_interrupt: create the target"; exit 1; }

# make_gated DB ROWS_A ROWS_C ROWS_E: tables a_fill, b_gate (gate 1),
# c_fill, d_gate (gate 2), e_fill, f_gate (index through gate 3), rows of
# ~1000 bytes; pg_dump's data section keeps that (name) order.
make_gated() {
	psql_as src postgres -c "CREATE DATABASE $1" >/dev/null && psql_as src "$1" >/dev/null <<EOF
CREATE FUNCTION gate(k integer) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
	AS \$\$BEGIN PERFORM pg_advisory_xact_lock_shared(k); RETURN true; END\$\$;
CREATE TABLE a_fill (id integer, pad text);
CREATE TABLE b_gate (k integer CHECK (gate(k)));
CREATE TABLE c_fill (id integer, pad text);
CREATE TABLE d_gate (k integer CHECK (gate(k)));
CREATE TABLE e_fill (id integer, pad text);
CREATE TABLE f_gate (k integer);
INSERT INTO a_fill SELECT i, repeat(md5(i::text), 31) FROM generate_series(1, $2) i;
INSERT INTO b_gate VALUES (1);
INSERT INTO c_fill SELECT i, repeat(md5(i::text), 31) FROM generate_series(1, $3) i;
INSERT INTO d_gate VALUES (2);
INSERT INTO e_fill SELECT i, repeat(md5(i::text), 31) FROM generate_series(1, $4) i;
INSERT INTO f_gate VALUES (3);
CREATE INDEX f_gate_idx ON f_gate ((gate(k)));
EOF
}
make_gated big 6000 24000 30000 && make_gated small 50 50 1500 ||
	{ not_ok "send_interrupt: build the source databases"; exit 1; }
for db in big small; do
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O -x "$db" >"$T/$db.sql" ||
		{ not_ok "send_interrupt: pg_dump $db"; exit 1; }
done

TARGET="host=127.0.0.1 port=$(pg_port dst) dbname=target user=synapse_user"
start_serve main --progress-interval 0.3 || { not_ok "send_interrupt: start pgsluice serve"; exit 1; }
run_send fill "127.0.0.1:$SERVE_PORT" "$T/small.sql"
expect fill 0 '^OK'
pg_dump_of dst target -O -x >"$T/before.sql"

# a session of our own that holds advisory lock K on the target database
lock_hold() {
	coproc LOCKER { psql -X -q -At -h 127.0.0.1 -p "$(pg_port dst)" -U postgres -d target 2>&1; }
	echo "SELECT 'held', pg_advisory_lock($1);" >&"${LOCKER[1]}"
	local line
	read -r -t 20 line <&"${LOCKER[0]}" && [ "${line%%|*}" = held ]
}
lock_release() {
	echo '\q' >&"${LOCKER[1]}"
	{ wait "$LOCKER_PID"; } 2>/dev/null
}
# wait until some backend waits for advisory lock K
lock_waited() {
	local i n
	for ((i = 0; i < 300; i++)); do
		n=$(psql_as dst target -At -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted")
		[ "$n" -gt 0 ] && return 0
		sleep 0.1
	done
	echo "# nobody waited for advisory lock $1; daemon log:" >&2
	tail -20 "$T/serve-main.log" >&2
	return 1
}
# wait_pane PATTERN: the terminal shows PATTERN
wait_pane() {
	local i
	for ((i = 0; i < 300; i++)); do
		tmux capture-pane -p -t pgs_int | grep -q -- "$1" && return 0
		sleep 0.1
	done
	echo "# the terminal never showed '$1':" >&2
	tmux capture-pane -p -t pgs_int >&2
	return 1
}
wait_file() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_verdict N: the daemon's Nth verdict (an OK or ERROR line) is logged
wait_verdict() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -cE '(^|\] )(OK import|ERROR )' "$T/serve-main.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "# the daemon gave no verdict; its log:" >&2
	tail -20 "$T/serve-main.log" >&2
	return 1
}
verdicts() { grep -cE '(^|\] )(OK import|ERROR )' "$T/serve-main.log"; }

# interrupt NAME DUMP GATE PANE_PATTERN [KEY]: send DUMP in a terminal,
# Ctrl-C (KEY: C-c) once the import waits at GATE and the terminal shows
# PANE_PATTERN; then release the gate and wait for the daemon's verdict.
# Leaves the terminal in $T/NAME.pane, the exit status in $T/NAME.rc.
interrupt() {
	local name=$1 dump=$2 gate=$3 pat=$4 n
	n=$(verdicts)
	lock_hold "$gate" || { not_ok "send $name: hold advisory lock $gate"; return 1; }
	tmux new-session -d -s pgs_int -x 160 -y 20 \
		"'$PGSLUICE' send 127.0.0.1:$SERVE_PORT '$dump'; echo \$? >'$T/$name.rc'; sleep 600"
	if lock_waited "$gate" && wait_pane "$pat"; then
		tmux send-keys -t pgs_int C-c
		wait_file "$T/$name.rc" || echo "# send did not exit after Ctrl-C" >&2
	fi
	tmux capture-pane -p -t pgs_int >"$T/$name.pane"
	tmux kill-session -t pgs_int 2>/dev/null
	lock_release
	wait_verdict $((n + 1))
	sed 's/^/    terminal: /' "$T/$name.pane" | grep -v '^    terminal: $'
}

target_same() {
	pg_dump_of dst target -O -x >"$T/after.sql"
	check "send $1: target unchanged (pg_dump equal before and after)" cmp -s "$T/before.sql" "$T/after.sql"
}
last_verdict() { grep -E '(^|\] )(OK import|ERROR )' "$T/serve-main.log" | tail -1; }

# ---- 10% and 50%: the end of the dump never left send -------------------------

for c in "10 1" "50 2"; do
	set -- $c
	name=sigint-$1
	interrupt "$name" "$T/big.sql" "$2" '%'
	check "send $name: exit status 4" [ "$(cat "$T/$name.rc" 2>/dev/null)" = 4 ]
	check "send $name: says interrupted and how far" grep -q 'interrupted (SIGINT) after sending .* of .*(.*%): the connection to 127.0.0.1 port .* is reset' "$T/$name.pane"
	check "send $name: says the daemon rolls back" grep -q 'rolls the import back' "$T/$name.pane"
	pct=$(grep -o '([0-9]*%)' "$T/$name.pane" | tail -1 | tr -dc 0-9)
	echo "# $name: interrupted at ${pct:-?}% of the dump"
	if [ "$1" = 10 ]; then
		check "send $name: interrupted in the first half (${pct:-?}%)" [ "${pct:-100}" -lt 50 ]
	else
		check "send $name: interrupted after the first gate, before the end (${pct:-?}%)" \
			[ "${pct:-0}" -ge 40 -a "${pct:-100}" -lt 100 ]
	fi
	v=$(last_verdict)
	check "send $name: the daemon rolled back (${v:0:100})" [ "${v/ERROR/}" != "$v" ]
	target_same "$name"
done

# ---- after the last byte, and while waiting for the answer ------------------------

for c in "last 2" "answer 3"; do
	set -- $c
	name=sigint-$1
	interrupt "$name" "$T/small.sql" "$2" 'waiting for the daemon'
	check "send $name: exit status 4" [ "$(cat "$T/$name.rc" 2>/dev/null)" = 4 ]
	check "send $name: says the whole dump was sent and the connection is reset" \
		grep -q 'interrupted (SIGINT) after the whole dump (.*) was sent, before the daemon answered: the connection to 127.0.0.1 port .* is reset' "$T/$name.pane"
	v=$(last_verdict)
	echo "# $name: the daemon's verdict: $v"
	if [[ $v == *ERROR* ]]; then
		check "send $name: says the daemon rolls back" grep -q 'the daemon rolls back an import whose client is gone before its COMMIT' "$T/$name.pane"
		target_same "$name"
	else
		not_ok "send $name: the daemon committed although the client reset the connection before the answer (the dump's end was in its buffers): $v"
		pg_dump_of dst target -O -x >"$T/before.sql"
	fi
done

# ---- SIGTERM (kill, not a key) ------------------------------------------------------

n=$(verdicts)
lock_hold 1 || not_ok "send sigterm: hold advisory lock 1"
"$PGSLUICE" send "127.0.0.1:$SERVE_PORT" "$T/big.sql" >"$T/sigterm.out" 2>"$T/sigterm.err" &
spid=$!
if lock_waited 1; then
	kill -TERM "$spid"
fi
timeout 20 tail --pid="$spid" -f /dev/null
wait "$spid"
RC=$?
lock_release
wait_verdict $((n + 1))
expect sigterm 4 '' 'interrupted (SIGTERM) after sending'
target_same sigterm

# ---- a terminal on stdin ---------------------------------------------------------------

n=$(verdicts)
tmux new-session -d -s pgs_tty -x 160 -y 20 \
	"'$PGSLUICE' send 127.0.0.1:$SERVE_PORT; echo \$? >'$T/tty.rc'; sleep 600"
wait_file "$T/tty.rc"
tmux capture-pane -p -t pgs_tty >"$T/tty.pane"
tmux kill-session -t pgs_tty 2>/dev/null
check "send tty: stdin a terminal is refused with exit 2" [ "$(cat "$T/tty.rc" 2>/dev/null)" = 2 ]
check "send tty: says to pipe a dump in" grep -q 'stdin is a terminal; pipe a dump in' "$T/tty.pane"
check "send tty: the daemon saw no import" [ "$(verdicts)" = "$n" ]

stop_serve
