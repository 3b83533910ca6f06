#!/bin/bash
# lexer_dribble.sh - build/tools/dribble, the test tool that feeds the
# lexer's chunking tests one piece per read, ends when its reader goes
# away: piped into a reader that exits after 10 bytes (`head -c 10`) it
# must stop within 2 s, say why on stderr and exit 1, in one-byte and in
# random mode; into a reader that takes everything it must exit 0 with the
# bytes unchanged.
. "$(dirname "$0")/../lib/common.sh"

DRIBBLE=$ROOT/build/tools/dribble
if [ ! -x "$DRIBBLE" ]; then
	not_ok "dribble: $DRIBBLE not built (run make build/tools/dribble)"
	exit 1
fi
head -c 200000 /dev/urandom >"$T/in"

# early MODE...: dribble MODE < $T/in | head -c 10, with a 2 s limit
early() {
	local what="dribble $*: ends within 2 s of its reader exiting early"
	local start end rc
	start=$(date +%s%N)
	timeout 10 "$DRIBBLE" "$@" <"$T/in" 2>"$T/err" | head -c 10 >"$T/out"
	rc=${PIPESTATUS[0]}
	end=$(date +%s%N)
	if [ "$rc" -eq 124 ]; then
		not_ok "$what (still running after 10 s)"
	elif [ $(((end - start) / 1000000)) -gt 2000 ]; then
		not_ok "$what (took $(((end - start) / 1000000)) ms)"
	else
		ok "$what ($(((end - start) / 1000000)) ms)"
	fi
	check "dribble $*: exit status 1 when the reader went away (got $rc)" test "$rc" -eq 1
	if grep -q "reader closed\|Broken pipe" "$T/err"; then
		ok "dribble $*: says the reader went away"
	else
		not_ok "dribble $*: says the reader went away (stderr: $(head -c 200 "$T/err"))"
	fi
	check "dribble $*: the reader got its 10 bytes" test "$(stat -c %s "$T/out")" -eq 10
}

early 1
early random 7

timeout 60 "$DRIBBLE" random 11 <"$T/in" | cat >"$T/all"
rc=${PIPESTATUS[0]}
check "dribble random 11: exit 0 to a reader that takes everything (got $rc)" test "$rc" -eq 0
check "dribble random 11: the bytes arrive unchanged" cmp -s "$T/in" "$T/all"
