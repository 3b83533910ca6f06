#!/bin/bash
# security_ratio.sh - --max-gzip-ratio bounds the whole stream, not only
# its start: after pg_dump's header and a first real statement, 4 GiB of
# blank lines (which the lexer skips without holding them) in gzip, zstd
# and lz4 are refused once the plain bytes pass 100 x the compressed bytes
# + 64 MiB; the daemon stops reading early (the message says how much it
# had read), the target is unchanged (pg_dump before/after), and the
# first statement, which the server ran, is rolled back.  A stream under
# the bound (a real dump, gzip) still imports.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

bd_cluster || { not_ok "cluster starts (log_statement = all)"; exit 1; }
bd_tgt_dump >"$T/before.sql"
bd_serve || { not_ok "daemon starts"; exit 1; }
bd_log_mark

# 100 MiB of newlines compressed once; the bomb is 41 copies (41 x 100 MiB
# = 4.0 GiB plain), concatenated members/frames
head -c 100M /dev/zero | tr '\0' '\n' >"$T/nl"
gzip -1 -c "$T/nl" >"$T/nl.gz"
zstd -q -1 -c "$T/nl" >"$T/nl.zst"
lz4 -q -1 -c "$T/nl" >"$T/nl.lz4"
rm -f "$T/nl"
FIRST='--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.bomb_first (id int);\n'

# bomb NAME COMPRESSOR FILE
bomb() {
	local name=$1 comp=$2 file=$3 s secs plain
	s=$(date +%s.%N)
	{ printf -- "$FIRST" | $comp -q -c; for i in $(seq 41); do cat "$file"; done; } 2>/dev/null |
		timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out.$name" 2>/dev/null
	secs=$(echo "$(date +%s.%N) - $s" | bc)
	echo "# $name bomb of 4.0 GiB ($(stat -c %s "$file") x 41 compressed bytes): answered in $secs s"
	sed 's/^/# /' "$T/out.$name" | head -3
	if grep -Eq "^ERROR the compressed input inflates more than 100 times: [0-9]+ compressed bytes gave [0-9]+ bytes by line [0-9]+ \(an? $name bomb\? .*--max-gzip-ratio 100" "$T/out.$name"; then
		ok "$name bomb after a first statement: refused, saying why"
	else
		not_ok "$name bomb after a first statement: refused, saying why"
	fi
	plain=$(sed -n 's/^ERROR .* compressed bytes gave \([0-9]*\) bytes.*/\1/p' "$T/out.$name")
	check "$name: stopped early: ${plain:-?} plain bytes read of 4.0 GiB (< 256 MiB)" test "${plain:-0}" -gt 0 -a "${plain:-0}" -lt $((256 * 1024 * 1024))
	check "$name: the client is told it was rolled back" grep -q '^  rolled back' "$T/out.$name"
	bd_tgt_dump >"$T/now.sql"
	check "$name: the target is unchanged (pg_dump before/after)" cmp -s "$T/before.sql" "$T/now.sql"
}
bomb gzip gzip "$T/nl.gz"
bomb zstd zstd "$T/nl.zst"
bomb lz4 lz4 "$T/nl.lz4"
check "the server ran the first statement (log_statement = all), in the rolled-back import" test "$(bd_log_new | grep -c 'CREATE TABLE public.bomb_first')" -eq 3
check "the daemon is alive" kill -0 "$SPID"

# a dump under the bound still imports
{ printf -- '--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.fine (id int);\nCOPY public.fine (id) FROM stdin;\n'; seq 1 200000; printf '\\.\n\n-- PostgreSQL database dump complete\n'; } | gzip -9 |
	timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out.fine"
check "a real gzip stream (200,000 rows, ratio about 5): OK" grep -q '^OK import into synapse committed' "$T/out.fine"
