#!/bin/bash
# run.sh SECONDS - run the lexer's libFuzzer target for SECONDS, seeded from
# the project's own cases, its fixtures (tests/fixtures/*.sql) and, when
# they are there, those under ../shared/fixtures; then the decoder's for a
# third of SECONDS, seeded with gzip, zstd and lz4 streams (whole, cut,
# concatenated, with skippable frames) and with inputs the target
# compresses itself; then the PostgreSQL protocol's pre-authentication
# parser (fuzz_pgwire) for SECONDS, seeded with every input of
# test_pgwire's case table and RFC 7677's SCRAM exchange.
# Fails on any crash, leak, sanitizer report or property violation.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
work=build/fuzz-corpus
mkdir -p "$work" build/fuzz-artifacts
seed_file() { # name, content from stdin; two seed bytes in front
	{ printf '\x12\x34'; cat; } >"$work/$1"
}
# the lexer case table's inputs are in tests/unit/test_lexer.c; a few whole
# dumps cut into pieces give realistic seeds: the project's fixtures, and
# ../shared's when they are there
for f in tests/fixtures/*.sql; do
	n=$(basename "$f" .sql)
	head -c 60000 "$f" | split -b 4000 - "$work/own-$n-"
done
for f in "$work"/own-*; do
	case $f in *.seed) continue ;; esac
	{ printf '\x01\x02'; cat "$f"; } >"$f.seed" && rm -f "$f"
done
fx=../shared/fixtures/synapse
if [ -d "$fx" ]; then
	head -c 60000 "$fx/synapse-schema.sql" | split -b 4000 - "$work/schema-"
	(zcat "$fx/synapse-small.sql.gz" || true) | head -c 200000 | tail -c 40000 | split -b 4000 - "$work/data-"
	for f in "$work"/schema-* "$work"/data-*; do
		[ -f "$f" ] || continue
		{ printf '\x01\x02'; cat "$f"; } >"$f.seed" && rm -f "$f"
	done
else
	echo "WARNING: $fx missing: fuzzing from the built-in seeds only" >&2
fi
printf 'SELECT 1;\n' | seed_file s1
printf "COPY t FROM stdin;\n1\t\\\\N\n\\\\.\nSELECT 'a''b';\n" | seed_file s2
printf 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;\n' | seed_file s3
printf 'SELECT $a$ $b$ ; $b$ $a$; /* x /* y */ */ SELECT E'"'"'\\'"'"''"'"';\n\\restrict x\n-- PostgreSQL database dump complete\n' | seed_file s4
printf "SELECT 1 -- x\r; SELECT E'a' -- c\n'\\\\';';\nSET standard_conforming_strings = of;\nSELECT 'a\\\\'' B'1''0';\n" | seed_file s5
printf "/* c */ COPY t FROM stdin;\n1\n\\\\.\nCREATE FUNCTION public.begin() RETURNS int LANGUAGE sql RETURN 1xbegin;\n" | seed_file s6
echo "fuzzing the lexer for ${secs}s" >&2
./build/fuzz_lexer -max_total_time="$secs" -max_len=8192 -timeout=10 \
	-dict=tests/fuzz/lexer.dict -artifact_prefix=build/fuzz-artifacts/ \
	-print_final_stats=1 "$work" 2>build/fuzz.log || {
	tail -60 build/fuzz.log
	echo "fuzz: FAILED (artifacts in build/fuzz-artifacts/)"
	exit 1
}
grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' build/fuzz.log | tail -2
echo "fuzz: no crash, leak or property violation in ${secs}s"

# the decoder: gzip members, zstd and lz4 frames (whole, cut, concatenated,
# skippable frames), a plain one; four seed bytes in front (piece size,
# output room, mode: 0 the bytes as they are, 5/6/7 compressed by the
# target into zstd/lz4/gzip, and where to split them into two frames)
dsecs=$(( (secs + 2) / 3 ))
dwork=build/fuzz-corpus-decoder
mkdir -p "$dwork"
dseed() { { printf '\x07\x05\x00\x00'; cat; } >"$dwork/$1"; }
skippable() { printf "$(printf '\\x5%x' "$1")"'\x2a\x4d\x18\x03\x00\x00\x00abc'; }
printf 'SELECT 1;\n' | gzip -c | dseed g1
{ printf 'COPY t FROM stdin;\n1\tx\n\\.\n' | gzip -c; printf 'SELECT 2;\n' | gzip -c; } | dseed g2
head -c 3000 /dev/zero | gzip -c | dseed g3
printf 'SELECT 1;\n' | gzip -c >"$dwork/whole.tmp"
head -c 20 "$dwork/whole.tmp" | dseed g4 && rm -f "$dwork/whole.tmp"
printf 'SELECT 1;\n' | zstd -q -c | dseed z1
{ printf 'COPY t FROM stdin;\n1\tx\n\\.\n' | zstd -q -c --no-check; skippable 0; printf 'SELECT 2;\n' | zstd -q -c; } | dseed z2
{ skippable 15; head -c 3000 /dev/zero | zstd -q -c; } | dseed z3
printf 'SELECT 1;\nSELECT 2;\n' | zstd -q -c | head -c 14 | dseed z4
printf 'SELECT 1;\n' | lz4 -q -c | dseed l1
{ printf 'COPY t FROM stdin;\n1\tx\n\\.\n' | lz4 -q -c --no-frame-crc; skippable 1; printf 'SELECT 2;\n' | lz4 -q -c -BD -BX; } | dseed l2
{ skippable 10; head -c 3000 /dev/zero | lz4 -q -c; } | dseed l3
printf 'SELECT 1;\nSELECT 2;\n' | lz4 -q -c | head -c 14 | dseed l4
printf 'SELECT 1;\n' | dseed p1
for m in 5 6 7; do
	{ printf '\x03\x09\x0%d\x80' "$m"; printf 'COPY t FROM stdin;\n1\tx\n\\.\nSELECT 2;\n'; } >"$dwork/made$m"
done
[ -f "$fx/synapse-small.sql.gz" ] && head -c 6000 "$fx/synapse-small.sql.gz" | dseed fx1
echo "fuzzing the decoder (gzip, zstd, lz4) for ${dsecs}s" >&2
./build/fuzz_decoder -max_total_time="$dsecs" -max_len=16384 -timeout=10 \
	-artifact_prefix=build/fuzz-artifacts/ -print_final_stats=1 "$dwork" 2>build/fuzz-decoder.log || {
	tail -60 build/fuzz-decoder.log
	echo "fuzz: decoder FAILED (artifacts in build/fuzz-artifacts/)"
	exit 1
}
grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' build/fuzz-decoder.log | tail -2
echo "fuzz: decoder: no crash, leak or property violation in ${dsecs}s"

# the PostgreSQL protocol before authentication: the inputs of test_pgwire's
# cases (build/fuzz_pgwire_seeds, test_pgwire without the sanitizers, writes
# them with PGSLUICE_PGWIRE_SEEDS), and RFC 7677's SCRAM
# messages for the target's SCRAM mode (first byte 8: a length byte, the
# client-first, the client-final)
pwork=build/fuzz-corpus-pgwire
mkdir -p "$pwork"
PGSLUICE_PGWIRE_SEEDS=$pwork ./build/fuzz_pgwire_seeds >build/fuzz-pgwire-seeds.log 2>&1 || {
	tail -20 build/fuzz-pgwire-seeds.log
	echo "fuzz: test_pgwire could not write the seeds"
	exit 1
}
first='n,,n=user,r=rOprNGfwEbeRWgbNEkqO'
final='c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='
{ printf '\x08\x00'; printf "$(printf '\\x%02x' "${#first}")"; printf '%s%s' "$first" "$final"; } >"$pwork/rfc7677"
{ printf '\x08\x00'; printf "$(printf '\\x%02x' "${#first}")"; printf '%s%s' "$first" "${final%=}"; } >"$pwork/rfc7677-cut"
echo "fuzzing the PostgreSQL protocol's startup and authentication for ${secs}s ($(ls "$pwork" | wc -l) seeds)" >&2
./build/fuzz_pgwire -max_total_time="$secs" -max_len=4096 -timeout=10 \
	-dict=tests/fuzz/pgwire.dict -artifact_prefix=build/fuzz-artifacts/ \
	-print_final_stats=1 "$pwork" 2>build/fuzz-pgwire.log || {
	tail -60 build/fuzz-pgwire.log
	echo "fuzz: pgwire FAILED (artifacts in build/fuzz-artifacts/)"
	exit 1
}
grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' build/fuzz-pgwire.log | tail -2
echo "fuzz: pgwire: no crash, leak or property violation in ${secs}s"
