#!/bin/bash
# security_hostile.sh - hostile input, one case at a time, against a daemon
# whose target holds a whole database (and --clear-target, so that every
# attack first drops it all inside the import's transaction):
#
#   random bytes; a valid gzip of random bytes; gzip bombs (10 GB of zeros,
#   and zeros after a valid first statement); 100 MB without a newline (a
#   statement, a meta-command); NUL bytes inside a statement; invalid UTF-8
#   in a UTF8 dump (the server's error is passed on); 100,000 nested /*;
#   a dollar quote that never closes; a COPY block that never ends (the
#   client goes quiet: --idle-timeout; the client closes: truncated).
#
# Input whose first bytes are no dump's is refused before the import starts;
# the limits are reached after pg_dump's header.  Each case: a clear ERROR
# to the client and in the log (a refusal before the import: WARN), the target
# unchanged (pg_dump before/after), the daemon alive, its peak memory
# (VmHWM, reset before each case when /proc/PID/clear_refs allows) under a
# bound.  Then the daemon serves a real import.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0
export LC_ALL=C # server messages quote the attack's bytes: match them as bytes

MAXSTMT_MB=32
serve_prologue
serve_start --clear-target --progress-interval 0 --idle-timeout 3 --max-statement "${MAXSTMT_MB}M" ||
	{ not_ok "daemon starts"; exit 1; }
send_nc "$F" "$T/out0"
check "a first real import: OK" grep -q '^OK import into synapse committed' "$T/out0"
tgt_dump >"$T/before.sql"
check "the target holds the source's database" cmp -s "$T/src.sql" "$T/before.sql"
base_kb=$(sec_rss_kb "$SPID")
echo "# daemon RSS after a real import: $base_kb kB"

# attack NAME PATTERN MAX_KB: feed stdin to the daemon; the client must get
# an ERROR line matching PATTERN (a grep -E), the log too; the target is
# unchanged, the daemon alive, its peak RSS during the case under MAX_KB.
attack() {
	local name=$1 pat=$2 max_kb=$3 s hwm
	echo 5 >"/proc/$SPID/clear_refs" 2>/dev/null
	s=$(date +%s.%N)
	timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out" 2>/dev/null
	secs=$(echo "$(date +%s.%N) - $s" | bc)
	hwm=$(sec_hwm_kb "$SPID")
	echo "# $name: answered in $secs s; peak RSS $hwm kB"
	if grep -Eq "^ERROR $pat" "$T/out"; then ok "$name: a clear ERROR to the client"; else
		not_ok "$name: a clear ERROR to the client"; sed 's/^/# /' "$T/out" | head -8; fi
	check "$name: the ERROR is logged" grep -Eq "(ERROR|WARN) +\[#[0-9]+ .*\] ERROR $pat" "$T/serve.log"
	check "$name: the client is told it was rolled back" grep -Eq '^  (rolled back|nothing was changed)' "$T/out"
	sec_unchanged "$name: target unchanged" "$T/before.sql"
	check "$name: the daemon is alive" kill -0 "$SPID"
	check "$name: peak RSS $hwm kB <= $max_kb kB" test "${hwm:-0}" -le "$max_kb"
}
SMALL=$((base_kb + 20000)) # bytes held are bounded by the buffers: 256K + 128K + one statement

# random bytes, plain and gzip
head -c 1048576 /dev/urandom >"$T/random.bin"
# (the first bytes are no dump's: refused before the import starts)
RANDOM_ERR='(this is not a pg_dump plain-format dump|this is a (tar|pg_dump custom-format) archive|the input is not)'
attack "random bytes" "$RANDOM_ERR" "$SMALL" <"$T/random.bin"
gzip -c "$T/random.bin" >"$T/random.gz"
attack "gzip of random bytes" "$RANDOM_ERR" "$SMALL" <"$T/random.gz"

# gzip bomb: pg_dump's header, then 100 members of 100 MB of zeros each =
# 10 GB (10 MB compressed); the header makes it a dump's start, the zeros
# then never make a statement
HEADER='--\n-- PostgreSQL database dump\n--\n'
head -c 100M /dev/zero | gzip -9 >"$T/z100.gz"
{ printf -- "$HEADER" | gzip -9; for i in $(seq 100); do cat "$T/z100.gz"; done; } >"$T/bomb.gz"
echo "# gzip bomb: $(stat -c %s "$T/bomb.gz") bytes of gzip, 10 GB of zeros"
attack "gzip bomb (10 GB of zeros)" 'the input is not a dump: [0-9]+ compressed bytes inflate to more than [0-9]+ bytes without a single complete SQL statement \(a gzip bomb\? --max-gzip-ratio 100\)' "$SMALL" <"$T/bomb.gz"
bomb_s=$secs
# the same zeros after a valid first statement: --max-statement stops them
{ printf 'SET statement_timeout = 0;\n' | gzip -9; cat "$T/bomb.gz"; } >"$T/bomb2.gz"
attack "gzip bomb after a valid statement" 'the dump cannot be read at line 5: the statement that began at line 5 is larger than 32 MiB' $((base_kb + 3 * MAXSTMT_MB * 1024)) <"$T/bomb2.gz"

# 100 MB without a newline
head -c 100M /dev/zero | tr '\0' a >"$T/long.txt"
attack "100 MB without a newline" "the dump cannot be read at line 4: the statement that began at line 4 is larger than $MAXSTMT_MB MiB" $((base_kb + 3 * MAXSTMT_MB * 1024)) < <(printf -- "$HEADER"; cat "$T/long.txt")
attack "a meta-command line of 100 MB" 'the psql meta-command that begins at line 4 is longer than 16384 bytes \(--max-meta-line\)' "$SMALL" < <(printf -- "$HEADER\\"; cat "$T/long.txt")

# NUL bytes inside a statement
l=$(grep -n -m1 '^CREATE TABLE ' "$T/full.sql" | cut -d: -f1)
{ head -n $((l - 1)) "$T/full.sql"; printf "CREATE TABLE public.nul_t (t text DEFAULT 'a\0b');\n"; tail -n +"$l" "$T/full.sql"; } >"$T/nul.sql"
attack "NUL byte inside a statement" "statement [0-9]+ at line $l holds a NUL byte" "$SMALL" <"$T/nul.sql"

# invalid UTF-8 in a UTF8 dump: the server's error is passed on (spliced
# before the first CREATE TABLE: data after post-data would be refused)
tl=$l
{
	head -n $((tl - 1)) "$T/full.sql"
	printf 'CREATE TABLE public.bad_utf8 (t text);\nCOPY public.bad_utf8 (t) FROM stdin;\nok\nbad \xff\xfe here\n\\.\n'
	tail -n +"$tl" "$T/full.sql"
} >"$T/utf8.sql"
attack "invalid UTF-8 in COPY data" 'statement [0-9]+ at line [0-9]+ failed: invalid byte sequence for encoding "UTF8": 0xff( 0xfe)? \(SQLSTATE 22021\)' "$SMALL" <"$T/utf8.sql"
{ head -n $((tl - 1)) "$T/full.sql"; printf "CREATE TABLE public.bad_utf8b (t text DEFAULT 'caf\xc3\x28');\n"; tail -n +"$tl" "$T/full.sql"; } >"$T/utf8b.sql"
attack "invalid UTF-8 in a statement" 'statement [0-9]+ at line [0-9]+ failed: invalid byte sequence for encoding "UTF8": 0xc3 0x28 \(SQLSTATE 22021\)' "$SMALL" <"$T/utf8b.sql"

# 100,000 nested /* (never closed; then closed, and the statement runs)
{ head -n $((l - 1)) "$T/full.sql"; printf 'SELECT 1 '; for i in $(seq 1000); do printf '/*%.0s' $(seq 100); done; } >"$T/nest.sql"
attack "100,000 nested /* never closed" "dump truncated at line $l, inside a /\\* comment \\*/ that began at line $l" "$SMALL" <"$T/nest.sql"

# a dollar quote that never closes
{ head -n $((l - 1)) "$T/full.sql"; printf 'CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $body$\n'; head -c 20M /dev/zero | tr '\0' '\n'; } >"$T/dollar.sql"
attack "a dollar quote that never closes" "dump truncated at line [0-9]+, inside a dollar" $((base_kb + 3 * MAXSTMT_MB * 1024)) <"$T/dollar.sql"

# a COPY block that never ends: the client goes quiet (--idle-timeout 3)
cl=$(grep -n -m1 '^COPY public.events ' "$T/full.sql" | cut -d: -f1)
attack "a COPY block that never ends (client goes quiet)" "no data from the client for 3 s in the middle of the dump, after line $((cl + 100)) \(--idle-timeout\)" "$SMALL" < <(head -n $((cl + 100)) "$T/full.sql"; sleep 5)
# and the client closes: truncated
attack "a COPY block that never ends (client closes)" "dump truncated at line $((cl + 100)), inside COPY public.events" "$SMALL" < <(head -n $((cl + 100)) "$T/full.sql")

echo "# time to refuse the 10 GB gzip bomb: $bomb_s s"
check "the gzip bomb is refused within 5 s" test "$(echo "$bomb_s < 5" | bc)" -eq 1

# the daemon serves the next import
sec_reset_target
send_nc "$F" "$T/out9"
check "then a real import: OK" grep -q '^OK import into synapse committed' "$T/out9"
tgt_dump >"$T/tgt.sql"
check "then a real import: the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
echo "# daemon peak RSS over the whole run: $(awk '/^VmPeak|^VmHWM/' "/proc/$SPID/status" | tr -s ' \t' ' ' | paste -sd' ')"
