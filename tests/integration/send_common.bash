# send_common.bash - sourced by the send_*.sh scenarios (after common.sh):
# a daemon to send to, and `pgsluice send` runs checked by exit status and
# output.  The caller sets TARGET (the daemon's --target) first.
#
#	start_serve NAME [serve args...]  daemon on ${LISTEN_HOST:-127.0.0.1}, log
#	                                  $T/serve-NAME.log; sets SERVE_PORT, SERVE_PID
#	stop_serve
#	run_send NAME [send args...]      $T/NAME.out, $T/NAME.err, exit status in RC
#	expect NAME WANT_RC [STDOUT_RE] [STDERR_PATTERN]
#	                                  ok if RC is WANT_RC, stdout's first line
#	                                  matches STDOUT_RE (empty: stdout empty) and
#	                                  stderr holds STDERR_PATTERN; labelled with
#	                                  $SEND_LABEL ("send" by default)

start_serve() {
	local name=$1
	shift
	start_daemon "$T/serve-$name.log" "${LISTEN_HOST:-127.0.0.1}" --target "$TARGET" \
		--clear-target "$@" || { cat "$T/serve-$name.log"; return 1; }
	SERVE_PORT=$DAEMON_PORT SERVE_PID=$DAEMON_PID
}

stop_serve() { kill "$SERVE_PID" 2>/dev/null; { wait "$SERVE_PID"; } 2>/dev/null; }

run_send() {
	local name=$1
	shift
	timeout 120 "$PGSLUICE" send "$@" >"$T/$name.out" 2>"$T/$name.err"
	RC=$?
}

expect() {
	local name=$1 want=$2 pat=${3:-} epat=${4:-} first good=1
	first=$(head -n 1 "$T/$name.out")
	[ "$RC" -eq "$want" ] || good=0
	if [ -n "$pat" ] && ! [[ $first =~ $pat ]]; then good=0; fi
	if [ -z "$pat" ] && [ -n "$first" ]; then good=0; fi
	if [ -n "$epat" ] && ! grep -q -- "$epat" "$T/$name.err"; then good=0; fi
	if [ "$good" -eq 1 ]; then
		ok "${SEND_LABEL:-send} $name: exit $RC${first:+, \"${first:0:70}\"}"
	else
		not_ok "${SEND_LABEL:-send} $name: exit $RC (want $want), stdout \"$first\" (want /$pat/)${epat:+, stderr want /$epat/}"
		sed 's/^/    stdout: /' "$T/$name.out" | head -20
		sed 's/^/    stderr: /' "$T/$name.err" | head -20
	fi
}
