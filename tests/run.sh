#!/bin/bash
# run.sh [PATTERN] - run every unit test binary (build/asan/test_*) and every
# integration scenario (tests/integration/*.sh), count their "ok -",
# "not ok -" and "skip -" lines, and end with "N passed, N failed, N skipped".
# A program that exits non-zero without a "not ok" line counts as one failure.
cd "$(dirname "$0")/.." || exit 2
pattern=${1:-}
pass=0 fail=0 skip=0
failed_names=()
mkdir -p build/test-logs
run_one() {
	local name=$1; shift
	local log="build/test-logs/${name//\//-}.log"
	local start=$SECONDS
	"$@" >"$log" 2>&1 </dev/null
	local rc=$?
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
