#!/bin/bash
# run.sh [PATTERN] - run every unit test binary (build/asan/test_*) and every
# integration scenario (tests/integration/*.sh), count their "ok -",
# "not ok -" and "skip -" lines, and end with "N passed, N failed, N skipped".
# A program that exits non-zero without a "not ok" line counts as one failure.
cd "$(dirname "$0")/.." || exit 2
pattern=${1:-}
pass=0 fail=0 skip=0
failed_names=()
scenario_timeout=${PGSLUICE_SCENARIO_TIMEOUT:-900}
[ -n "${PGSLUICE_TEST_LONG:-}" ] && scenario_timeout=${PGSLUICE_SCENARIO_TIMEOUT:-3600}
mkdir -p build/test-logs
run_one() {
	local name=$1; shift
	local log="build/test-logs/${name//\//-}.log"
	local start=$SECONDS
	# a scenario that hangs is stopped (TERM, then KILL) and fails
	timeout -k 10 "$scenario_timeout" "$@" >"$log" 2>&1 </dev/null
	local rc=$?
	[ "$rc" -eq 124 ] && echo "not ok - $name: stopped after $scenario_timeout s (PGSLUICE_SCENARIO_TIMEOUT)" >>"$log"
	local p f s
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^not ok - ' "$log")
	s=$(grep -c '^skip - ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc" >>"$log"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	printf '%-40s %4d ok %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $((SECONDS - start))
	grep -E '^(not ok|skip) - ' "$log" | sed 's/^/    /' | head -40
	if [ "$f" -ne 0 ]; then
		failed_names+=("$name")
		echo "    --- last lines of $log ---"
		grep -v '^ok - ' "$log" | tail -25 | sed 's/^/    | /'
	fi
}
# the Synapse fixture the unit and integration tests read (tests/fixtures/),
# built once here (or found cached in build/fixtures)
if ! bash -c '. tests/lib/common.sh && synapse_fixture' >build/test-logs/fixtures.log 2>&1; then
	echo "not ok - build the Synapse fixture: the tests that read it will fail"
	sed 's/^/    | /' build/test-logs/fixtures.log | tail -20
	fail=$((fail + 1))
	failed_names+=(fixtures)
fi
grep '^# built' build/test-logs/fixtures.log
for t in build/asan/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	[ -n "$pattern" ] && [[ $n != *$pattern* ]] && continue
	run_one "unit/$n" "$t"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ $n != *$pattern* ]] && continue
	run_one "integration/$n" bash "$t"
done
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
