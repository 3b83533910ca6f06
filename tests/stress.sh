#!/bin/bash
# stress.sh [RUNS] [PATTERN...] - `make stress`: run the scenarios that
# match PATTERN (default: jobs_ and serve_, the ones that race a daemon, a
# client and a target) RUNS times in a row (default 20, STRESS_RUNS) while
# a busy loop keeps one core loaded, as on a shared machine, and stop at the
# first run with a failure or a skip.  Each scenario has tests/run.sh's
# timeout, so a hang fails with its log's tail instead of stalling.  Prints
# one line per run and a last line "N consecutive clean runs of M"; exit 0
# only if all M were clean.  Logs of the failing run: build/stress-logs/.
# The NAME@asan runs of tests/run.sh are left out (PGSLUICE_ASAN_RUNS=0),
# and the scenarios run one at a time (PGSLUICE_TEST_JOBS=1).
cd "$(dirname "$0")/.." || exit 2
runs=${1:-${STRESS_RUNS:-20}}
shift 2>/dev/null
patterns=("$@")
[ "${#patterns[@]}" -gt 0 ] || patterns=(jobs_ serve_)
case $runs in '' | *[!0-9]*) echo "stress: RUNS must be a number: $runs" >&2; exit 2 ;; esac

# the second core: a busy shell loop, ended with this script whatever happens
sh -c 'while :; do :; done' &
busy=$!
trap 'kill "$busy" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

mkdir -p build/stress-logs
clean=0
for ((i = 1; i <= runs; i++)); do
	start=$SECONDS
	out=build/stress-logs/run-$i.out
	: >"$out"
	for p in "${patterns[@]}"; do
		PGSLUICE_ASAN_RUNS=0 PGSLUICE_TEST_JOBS=1 tests/run.sh "$p" >>"$out" 2>&1
	done
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" |
		awk '{ p += $1; f += $3; s += $5 } END { printf "%d passed, %d failed, %d skipped", p, f, s }')
	printf 'stress: run %d of %d: %s (%d s, load %s)\n' "$i" "$runs" "$summary" $((SECONDS - start)) \
		"$(cut -d' ' -f1 /proc/loadavg)"
	if [[ $summary != *" 0 failed, 0 skipped" ]] || [[ $summary == "0 passed"* ]]; then
		grep -E -A30 '^ *(not ok|skip) - ' "$out" | head -60
		rm -rf build/stress-logs/test-logs && cp -r build/test-logs build/stress-logs/test-logs
		echo "stress: run $i failed; its output: $out, the scenarios' logs: build/stress-logs/test-logs/"
		break
	fi
	clean=$((clean + 1))
	rm -f "$out"
done
echo "stress: $clean consecutive clean runs of $runs (${patterns[*]}, one core kept busy)"
[ "$clean" -eq "$runs" ]
