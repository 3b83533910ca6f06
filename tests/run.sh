#!/bin/bash
# run.sh [PATTERN] - run every unit test binary (build/asan/test_*) and every
# integration scenario (tests/integration/*.sh), count their "ok -",
# "not ok -" and "skip -" lines, and end with "N passed, N failed, N skipped";
# a scenario's "# |" lines (a table) are shown too.
# A program that exits non-zero without a "not ok" line counts as one failure.
#
# The scenarios in $version_scenarios run once for each target version in
# PGSLUICE_TARGET_VERSIONS (default "15 17": the host's PostgreSQL and one
# from tests/lib/pgversions.sh), named NAME@VERSION, with
# PGSLUICE_TARGET_VERSION set; PATTERN matches that name, so
# `tests/run.sh @17` runs one version's scenarios alone.
#
# The scenarios in $asan_scenarios also run once with the daemon under
# ASan+UBSan+LeakSanitizer (build/asan-pgsluice), on the default target
# version, named NAME@asan, with PGSLUICE_ASAN set (tests/lib/common.sh):
# any sanitizer report fails them.  `tests/run.sh @asan` runs them alone;
# PGSLUICE_ASAN_RUNS=0 leaves them out (tests/stress.sh).
#
# PGSLUICE_TEST_JOBS=N (default: the machine's cores, at most 2) runs up
# to N scenarios at once; each has its own clusters, ports, daemon and
# temporary folder.  The scenarios in $alone_scenarios (a connection
# flood, bounds on elapsed time) run with nothing beside them.  A scenario's lines are printed when it ends.
cd "$(dirname "$0")/.." || exit 2
pattern=${1:-}
pass=0 fail=0 skip=0
failed_names=()
scenario_timeout=${PGSLUICE_SCENARIO_TIMEOUT:-900}
[ -n "${PGSLUICE_TEST_LONG:-}" ] && scenario_timeout=${PGSLUICE_SCENARIO_TIMEOUT:-3600}
mkdir -p build/test-logs
# run_one NAME CMD...: run one test program to its log, then write what is
# printed of it to $log.out and its counts ("passed failed skipped") to
# $log.counts
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
	{
		printf '%-40s %4d ok %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $((SECONDS - start))
		grep -E '^(not ok|skip) - ' "$log" | sed 's/^/    /' | head -40
		# a table a scenario prints for the reader ("# |" lines: matrix_versions)
		grep '^# |' "$log" | sed 's/^# /    /'
		if [ "$f" -ne 0 ]; then
			echo "    --- last lines of $log ---"
			grep -v '^ok - ' "$log" | tail -25 | sed 's/^/    | /'
		fi
	} >"$log.out"
	echo "$p $f $s" >"$log.counts.tmp" && mv "$log.counts.tmp" "$log.counts"
}
# tally NAME: print a finished run_one's lines and add its counts
tally() {
	local log="build/test-logs/${1//\//-}.log" p f s
	cat "$log.out" 2>/dev/null || printf '%-40s its runner ended without a result\n' "$1"
	read -r p f s 2>/dev/null <"$log.counts" || { p=0 f=1 s=0; }
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	[ "$f" -ne 0 ] && failed_names+=("$1")
	rm -f "$log.out" "$log.counts"
}
# the pool of scenarios running at once: pid -> name
declare -A running=()
# reap: wait for one of the running scenarios to end (its counts file is
# the last thing it writes) and tally it
reap() {
	local pid
	while :; do
		for pid in "${!running[@]}"; do
			# (a runner that died without its counts counts as a failure)
			[ -f "build/test-logs/${running[$pid]//\//-}.log.counts" ] ||
				! kill -0 "$pid" 2>/dev/null || continue
			wait "$pid"
			tally "${running[$pid]}"
			unset "running[$pid]"
			return
		done
		sleep 0.2
	done
}
# start NAME CMD...: run it beside the others, once a place is free
start() {
	while [ "${#running[@]}" -ge "$test_jobs" ]; do reap; done
	rm -f "build/test-logs/${1//\//-}.log.counts"
	run_one "$@" &
	running[$!]=$1
}
drain() { while [ "${#running[@]}" -gt 0 ]; do reap; done; }
cores=$(nproc 2>/dev/null || echo 1)
test_jobs=${PGSLUICE_TEST_JOBS:-$((cores < 2 ? cores : 2))}
case $test_jobs in '' | *[!0-9]* | 0) echo "run.sh: PGSLUICE_TEST_JOBS must be a number >= 1" >&2; exit 2 ;; esac
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
	tally "unit/$n"
done
version_scenarios=" serve_roundtrip synapse_import wire_psql wire_restore jobs_roundtrip serve_freeze "
# every wire_ and jobs_ scenario but jobs_memory, whose RSS bounds are the
# plain build's
asan_scenarios=" wire_protocol wire_psql wire_restore wire_security jobs_failing jobs_partitions jobs_roundtrip jobs_truncate "
versions=${PGSLUICE_TARGET_VERSIONS:-15 17}
runs=()
asan_runs=()
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t" .sh)
	if [ "${PGSLUICE_ASAN_RUNS:-1}" != 0 ] && [[ $asan_scenarios == *" $n "* ]] && { [ -z "$pattern" ] || [[ $n@asan == *$pattern* ]]; }; then
		asan_runs+=("$n@asan")
	fi
	if [[ $version_scenarios == *" $n "* ]]; then
		for v in $versions; do
			[ -n "$pattern" ] && [[ $n@$v != *$pattern* ]] && continue
			runs+=("$n@$v")
		done
	else
		[ -n "$pattern" ] && [[ $n != *$pattern* ]] && continue
		runs+=("$n")
	fi
done
# the sanitizer runs after the others
runs+=("${asan_runs[@]}")
# the PostgreSQL roots the runs need, built (or found cached) before the
# first scenario; a failure here shows in every scenario that needs them
host_version=$(basename "$(dirname "${PGBIN:-/usr/lib/postgresql/15/bin}")")
need=()
for r in "${runs[@]}"; do
	case $r in *@asan) ;; *@*) need+=("${r#*@}") ;; matrix_*) need+=(17 18) ;; esac
done
mapfile -t need < <(printf '%s\n' "${need[@]}" | grep -vx -e "$host_version" -e '' | sort -u)
if [ ${#need[@]} -gt 0 ]; then
	start=$SECONDS
	if bash tests/lib/pgversions.sh build "${need[@]}" >build/test-logs/pgroots.log 2>&1; then
		printf '%-40s %3ds\n' "PostgreSQL roots: ${need[*]}" $((SECONDS - start))
	else
		echo "PostgreSQL roots: FAILED; the scenarios that need them will fail:"
		sed 's/^/    | /' build/test-logs/pgroots.log
	fi
fi
# a connection flood, and upper bounds on elapsed time (memory and
# descriptor bounds are the daemon's own, and hold beside another scenario)
alone_scenarios=" security_flood security_auth_rate boundary_timeout "
for r in "${runs[@]}"; do
	n=${r%@*}
	[[ $alone_scenarios == *" $n "* ]] && drain
	case $r in
	*@asan) start "integration/$r" env PGSLUICE_ASAN=1 bash "tests/integration/$n.sh" ;;
	*@*) start "integration/$r" env PGSLUICE_TARGET_VERSION="${r#*@}" bash "tests/integration/$n.sh" ;;
	*) start "integration/$r" bash "tests/integration/$r.sh" ;;
	esac
	[[ $alone_scenarios == *" $n "* ]] && drain
done
drain
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
