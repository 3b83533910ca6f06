#!/bin/bash
# decoder_formats.sh - zstd and lz4 dumps, made at test time by the zstd,
# pzstd and lz4 tools from a pg_dump of the source, import through every
# way in: `serve` (nc -N, also with --jobs 2), `pgsluice send` (a file and
# a pipe) and `filter | psql -1`; each target equals its source (pg_dump -O -x), and
# the progress line, the summary and filter's summary name the format.
# The dumps: one frame each, two frames with a skippable frame between,
# pzstd's (a skippable frame before each frame), and pg_dump | zstd | nc
# straight.  A cut and a corrupted dump of each format, and a zstd and an
# lz4 bomb, are refused with the target unchanged; so is a zstd, lz4 or
# gzip dump cut in its last bytes (the checksum), though its SQL, up to
# pg_dump's last line, came whole.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
for tool in zstd pzstd lz4; do
	command -v "$tool" >/dev/null || { not_ok "the $tool tool is installed (scripts/deps.sh test)"; exit 1; }
done

serve_clusters || { not_ok "clusters start"; exit 1; }
serve_start --progress-interval 0.05 || { not_ok "daemon starts"; exit 1; }
load_fixture "$FIXTURES/synapse/synapse-small.sql.gz"
src_dump >"$T/src.sql"
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O synapse >"$T/dump.sql" || { not_ok "pg_dump of the source"; exit 1; }

# the compressed dumps
half=$(($(wc -l <"$T/dump.sql") / 2))
head -n "$half" "$T/dump.sql" >"$T/a.sql"
tail -n +$((half + 1)) "$T/dump.sql" >"$T/b.sql"
skippable() { printf '\x5a\x2a\x4d\x18\x05\x00\x00\x00hello'; }
zstd -q -c "$T/dump.sql" >"$T/dump.zst"
lz4 -q -c "$T/dump.sql" >"$T/dump.lz4"
{ zstd -q -c -19 "$T/a.sql"; skippable; zstd -q -c --no-check "$T/b.sql"; } >"$T/two.zst"
{ lz4 -q -c -B4 "$T/a.sql"; skippable; lz4 -q -c -BD -BX "$T/b.sql"; } >"$T/two.lz4"
pzstd -q -c -p 2 "$T/dump.sql" >"$T/dump.pzst"
check "pzstd's output starts with a skippable frame" test "$(head -c 4 "$T/dump.pzst" | od -An -tx1 | tr -d ' ')" = 502a4d18
echo "# dump: $(stat -c %s "$T/dump.sql") bytes plain, $(stat -c %s "$T/dump.zst") zstd, $(stat -c %s "$T/dump.lz4") lz4"

reset_target() {
	psql_as tgt postgres -c "DROP DATABASE synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}

# same NAME: the target equals the source
same() {
	tgt_dump >"$T/tgt.sql"
	if cmp -s "$T/src.sql" "$T/tgt.sql"; then
		ok "$1: pg_dump -O -x of the target equals the source's"
	else
		not_ok "$1: pg_dump -O -x of the target equals the source's"
		diff "$T/src.sql" "$T/tgt.sql" | head -20 | sed 's/^/# /'
	fi
}

# imported NAME OUT FORMAT: OK, the format named, the target equals the source
imported() {
	local name=$1 out=$2 fmt=$3
	if grep -q '^OK import into synapse committed' "$out"; then ok "$name: OK"; else
		not_ok "$name: OK"; sed 's/^/# /' "$out" | head -20; fi
	check "$name: the summary names $fmt" grep -Eq "^  dump size: [0-9.]+ [kMG]?B $fmt \\([0-9]+ bytes\\), [0-9.]+ [kMG]?B plain" "$out"
	same "$name"
}

# through serve, nc -N
for f in dump.zst:zstd dump.lz4:lz4 two.zst:zstd two.lz4:lz4 dump.pzst:zstd; do
	file=${f%%:*} fmt=${f##*:}
	reset_target
	send_nc "$T/$file" "$T/out"
	imported "nc -N $file" "$T/out" "$fmt"
	[ "$file" = dump.zst ] &&
		check "nc -N $file: the progress line names zstd" grep -Eq '^progress: .* received \([0-9.]+ [kMG]?B zstd\)' "$T/out"
done
# nc without -N never closes its sending side: the trailer, then the end of
# the frame around it, end the import
for f in dump.zst:zstd dump.lz4:lz4; do
	file=${f%%:*} fmt=${f##*:}
	reset_target
	timeout 60 nc 127.0.0.1 "$SPORT" <"$T/$file" >"$T/out"
	check "nc without -N $file: returns by itself (not killed by timeout)" test $? -ne 124
	imported "nc without -N $file" "$T/out" "$fmt"
done
reset_target
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O synapse | zstd -q -c | timeout 120 nc -N 127.0.0.1 "$SPORT" >"$T/out"
imported "pg_dump | zstd | nc -N" "$T/out" zstd

# through pgsluice send: a file, and a pipe
reset_target
timeout 120 "$PGSLUICE" send "127.0.0.1:$SPORT" "$T/dump.zst" >"$T/out" 2>"$T/err"
check "send dump.zst: exit 0" test $? -eq 0
imported "send dump.zst" "$T/out" zstd
reset_target
lz4 -q -c "$T/dump.sql" | timeout 120 "$PGSLUICE" send "127.0.0.1:$SPORT" >"$T/out" 2>"$T/err"
check "lz4 | send: exit 0" test $? -eq 0
imported "lz4 | send" "$T/out" lz4

# through a --jobs 2 daemon
start_daemon "$T/serve-jobs.log" 127.0.0.1 --target "$TARGET" --jobs 2 --progress-interval 0 ||
	{ not_ok "the --jobs 2 daemon starts"; tail -20 "$T/serve-jobs.log" | sed 's/^/# /'; exit 1; }
for f in two.zst:zstd two.lz4:lz4; do
	file=${f%%:*} fmt=${f##*:}
	reset_target
	timeout 120 nc -N 127.0.0.1 "$DAEMON_PORT" <"$T/$file" >"$T/out"
	imported "--jobs 2, nc -N $file" "$T/out" "$fmt"
done
kill -TERM "$DAEMON_PID" 2>/dev/null
wait "$DAEMON_PID" 2>/dev/null

# through filter | psql -1, as the target's owner
filtered() {
	local name=$1 file=$2 fmt=$3
	reset_target
	"$PGSLUICE" filter <"$file" 2>"$T/ferr" |
		psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse >/dev/null 2>"$T/perr"
	check "filter $name | psql -1: both exit 0" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
	check "filter $name: its summary names $fmt" grep -Eq "bytes read \($fmt\), [0-9]+ bytes of SQL" "$T/ferr"
	same "filter $name"
}
filtered two.zst "$T/two.zst" zstd
filtered dump.lz4 "$T/dump.lz4" lz4
filtered two.lz4 "$T/two.lz4" lz4

# refused: cut and corrupted streams, and bombs; the target (empty but for
# a schema of its own) as it was
reset_target
psql_as tgt synapse -c "CREATE SCHEMA keep" -c "CREATE TABLE keep.t (x int)" -c "INSERT INTO keep.t VALUES (42)" \
	-c "ALTER SCHEMA keep OWNER TO $TARGET_USER" -c "ALTER TABLE keep.t OWNER TO $TARGET_USER" >/dev/null
tgt_dump >"$T/before.sql"
size_z=$(stat -c %s "$T/dump.zst") size_l=$(stat -c %s "$T/dump.lz4")
head -c $((size_z * 2 / 3)) "$T/dump.zst" >"$T/cut.zst"
head -c $((size_l * 2 / 3)) "$T/dump.lz4" >"$T/cut.lz4"
# cut in the last bytes (the checksum): all the SQL is there, trailer included
head -c $((size_z - 2)) "$T/dump.zst" >"$T/tail.zst"
head -c $((size_l - 3)) "$T/dump.lz4" >"$T/tail.lz4"
gzip -c "$T/dump.sql" | head -c -4 >"$T/tail.gz"
corrupt() { # FILE OFFSET OUT: a copy with one byte flipped
	cp "$1" "$3"
	printf "$(printf '\\x%02x' $(($(od -An -tu1 -j "$2" -N1 "$1") ^ 0x5a)))" |
		dd of="$3" bs=1 seek="$2" conv=notrunc status=none
}
corrupt "$T/dump.zst" $((size_z / 2)) "$T/bad.zst"
corrupt "$T/dump.lz4" $((size_l / 3)) "$T/bad.lz4"
check "the corrupted copies differ from the dumps" test "$(cmp -l "$T/dump.zst" "$T/bad.zst" | wc -l)$(cmp -l "$T/dump.lz4" "$T/bad.lz4" | wc -l)" = 11
# pg_dump's header first, so that the stream is taken as a dump and the ratio limit is what stops it
{ printf -- '--\n-- PostgreSQL database dump\n--\n\n'; head -c 200M /dev/zero; } | zstd -q -c >"$T/bomb.zst"
{ printf -- '--\n-- PostgreSQL database dump\n--\n\n'; head -c 200M /dev/zero; } | lz4 -q -c >"$T/bomb.lz4"

# refused NAME FILE PATTERN [early]: ERROR matching PATTERN, rolled back
# (unless early: refused before the first statement), target unchanged
refused() {
	local name=$1 file=$2 pat=$3 early=${4:-}
	send_nc "$file" "$T/out"
	echo "# $name: $(result_line "$T/out")"
	if grep -Eq -- "$pat" "$T/out"; then ok "$name: ERROR says why"; else
		not_ok "$name: ERROR says why (want: $pat)"; sed 's/^/# /' "$T/out" | head; fi
	[ -n "$early" ] ||
		check "$name: says it was rolled back" grep -q 'rolled back: the target is as it was before the import' "$T/out"
	tgt_dump >"$T/after.sql"
	check "$name: target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
}
refused "cut zstd" "$T/cut.zst" '^ERROR dump truncated at line [0-9]+, .*zstd input is truncated: it ends inside a zstd frame .*the zstd stream was cut'
refused "cut lz4" "$T/cut.lz4" '^ERROR dump truncated at line [0-9]+, .*lz4 input is truncated: it ends inside an lz4 frame .*the lz4 stream was cut'
tail_pat='^ERROR the dump.s SQL came whole, up to pg_dump.s last line, but the input ended inside the compressed stream, before its end and checksum: '
refused "zstd cut in its checksum" "$T/tail.zst" "${tail_pat}zstd input is truncated"
refused "lz4 cut in its checksum" "$T/tail.lz4" "${tail_pat}lz4 input is truncated"
refused "gzip cut in its CRC-32 and length" "$T/tail.gz" "${tail_pat}gzip input is truncated"
refused "corrupted zstd" "$T/bad.zst" '^ERROR .*zstd input is corrupt at compressed byte [0-9]+: .*\(.+\)'
refused "corrupted lz4" "$T/bad.lz4" '^ERROR .*lz4 input is corrupt at compressed byte [0-9]+: .*\(ERROR_.+\)'
refused "zstd bomb (200 MB of zeros)" "$T/bomb.zst" '^ERROR .*without a single complete SQL statement \(a zstd bomb\? --max-gzip-ratio 100\)' early
refused "lz4 bomb (200 MB of zeros)" "$T/bomb.lz4" '^ERROR .*without a single complete SQL statement \(an lz4 bomb\? --max-gzip-ratio 100\)' early

# filter refuses them too, and psql -1 then commits nothing
for f in cut.zst cut.lz4 tail.lz4 bad.zst bad.lz4; do
	"$PGSLUICE" filter <"$T/$f" 2>"$T/ferr" |
		psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse >/dev/null 2>"$T/perr"
	rcs="${PIPESTATUS[0]}${PIPESTATUS[1]}"
	check "filter $f: exits 1 with the decoder's reason, psql fails (exit statuses $rcs)" \
		eval "[ '$rcs' = 13 ] && grep -Eq 'input is (truncated|corrupt)' '$T/ferr'"
	tgt_dump >"$T/after.sql"
	check "filter $f | psql -1: target unchanged" cmp -s "$T/before.sql" "$T/after.sql"
done

check "daemon still running" kill -0 "$SPID"
serve_stop
