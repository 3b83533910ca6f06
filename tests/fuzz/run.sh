#!/bin/bash
# run.sh SECONDS - run the lexer's libFuzzer target for SECONDS, seeded from
# the project's own cases and the fixtures under ../shared/fixtures, then
# the gzip decoder's for a third of SECONDS, seeded with gzip streams.
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
# dumps cut into pieces give realistic seeds
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

# the decoder: gzip members (whole, cut, concatenated) and a plain one
dsecs=$(( (secs + 2) / 3 ))
dwork=build/fuzz-corpus-decoder
mkdir -p "$dwork"
dseed() { { printf '\x07\x05'; cat; } >"$dwork/$1"; }
printf 'SELECT 1;\n' | gzip -c | dseed g1
{ printf 'COPY t FROM stdin;\n1\tx\n\\.\n' | gzip -c; printf 'SELECT 2;\n' | gzip -c; } | dseed g2
head -c 3000 /dev/zero | gzip -c | dseed g3
printf 'SELECT 1;\n' | gzip -c >"$dwork/whole.tmp"
head -c 20 "$dwork/whole.tmp" | dseed g4 && rm -f "$dwork/whole.tmp"
printf 'SELECT 1;\n' | dseed p1
[ -f "$fx/synapse-small.sql.gz" ] && head -c 6000 "$fx/synapse-small.sql.gz" | dseed fx1
echo "fuzzing the gzip decoder for ${dsecs}s" >&2
./build/fuzz_decoder -max_total_time="$dsecs" -max_len=16384 -timeout=10 \
	-artifact_prefix=build/fuzz-artifacts/ -print_final_stats=1 "$dwork" 2>build/fuzz-decoder.log || {
	tail -60 build/fuzz-decoder.log
	echo "fuzz: decoder FAILED (artifacts in build/fuzz-artifacts/)"
	exit 1
}
grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' build/fuzz-decoder.log | tail -2
echo "fuzz: decoder: no crash, leak or property violation in ${dsecs}s"
