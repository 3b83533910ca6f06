#!/bin/bash
# fault_soak.sh - one daemon (--clear-target), imports back to back: 12 (50
# in the long variant), a seeded mix of complete, truncated, refused and
# failing dumps and vanishing clients, plain and gzip.  After each: a
# complete import equals the source; any other leaves the target as it was
# (the previous complete import).  At the end the daemon's open file
# descriptors and RSS are back to what they were after the first import.
# Then a short run of the same mix under an ASan+UBSan build of the daemon
# (build/asan-pgsluice, LeakSanitizer on): no report, exit 0 on SIGTERM.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

fault_setup || { not_ok "cluster and reference"; exit 1; }
n_imports=12
[ -n "$FAULT_LONG" ] && n_imports=50

# the dumps of the mix
gzip -c -1 "$PLAIN" >"$T/full.sql.gz"
rand_below $((TRAILER - FIRST_INDEX))
awk -v at=$((FIRST_INDEX + R)) 'NR == at && /^CREATE/ { print "ALTER SYSTEM SET work_mem = '"'"'8MB'"'"';"; print "" } { print }' "$PLAIN" >"$T/refused.sql"
if ! grep -q '^ALTER SYSTEM' "$T/refused.sql"; then
	awk -v at="$FIRST_INDEX" 'NR == at { print "ALTER SYSTEM SET work_mem = '"'"'8MB'"'"';"; print "" } { print }' "$PLAIN" >"$T/refused.sql"
fi
rand_below "$(wc -l <"$T/copylines")"
bad=$(sed -n "$((R + 1))p" "$T/copylines")
awk -v at="$bad" 'NR == at { print "a row that does not fit" } { print }' "$PLAIN" | gzip -1 >"$T/failing.sql.gz"
kinds=(complete-plain complete-gzip truncated-plain truncated-gzip refused failing reset)

# run_import KIND ID: one import of that kind; sets WANT (OK or ERROR)
run_import() {
	local kind=$1 size
	case $kind in
	complete-plain) WANT=OK; "$CUT" 127.0.0.1 "$SPORT" "$PLAIN" ;;
	complete-gzip) WANT=OK; "$CUT" 127.0.0.1 "$SPORT" "$T/full.sql.gz" ;;
	truncated-plain) WANT=ERROR; rand_below $((TRAILER_OFF - 1)); "$CUT" -n $((R + 1)) 127.0.0.1 "$SPORT" "$PLAIN" ;;
	truncated-gzip) WANT=ERROR; size=$(stat -c %s "$T/full.sql.gz"); rand_below $((size - 64)); "$CUT" -n $((R + 1)) 127.0.0.1 "$SPORT" "$T/full.sql.gz" ;;
	refused) WANT=ERROR; "$CUT" 127.0.0.1 "$SPORT" "$T/refused.sql" ;;
	failing) WANT=ERROR; "$CUT" 127.0.0.1 "$SPORT" "$T/failing.sql.gz" ;;
	reset) WANT=ERROR; rand_below $((TRAILER_OFF - 1)); "$CUT" -m reset -n $((R + 1)) 127.0.0.1 "$SPORT" "$PLAIN" ;;
	esac >"$T/out" 2>/dev/null
}
TRAILER_OFF=$(line_offset "$PLAIN" "$TRAILER")

# soak ID KIND: run it, check the outcome against $T/state.sql
soak() {
	local id=$1 kind=$2 line
	run_import "$kind"
	line=$(wait_summary "$id" 60) || { not_ok "#$id $kind: a summary"; return; }
	line=${line#*] }
	case $line in
	"$WANT "*) ok "#$id $kind: $WANT" ;;
	*) not_ok "#$id $kind: $WANT (got: $(echo "$line" | cut -c1-200))" ;;
	esac
	tgt_dump >"$T/after.sql"
	if [ -f "$T/state.sql" ]; then
		if cmp -s "$T/state.sql" "$T/after.sql"; then
			ok "#$id $kind: target $([ "$WANT" = OK ] && echo "holds the import" || echo "unchanged")"
		else
			not_ok "#$id $kind: target as expected"; diff "$T/state.sql" "$T/after.sql" | head -10 | sed 's/^/# /'
		fi
	fi
	counts["$kind"]=$((${counts["$kind"]:-0} + 1))
}
declare -A counts

serve_start --progress-interval 0 --clear-target || { not_ok "daemon starts"; exit 1; }
rss_watch "$SPID" "$T/rss"

# the first import: complete; its result is the state every later import
# must leave (again, or untouched)
soak 1 complete-plain
pg_dump_of tgt synapse -O -x -N keep >"$T/public.sql"
check "#1: the import equals the source" cmp -s "$T/ref.sql" "$T/public.sql"
tgt_dump >"$T/state.sql"
sleep 0.5
fd1=$(fd_count "$SPID")
rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status")
rand_below ${#kinds[@]}
k0=$R
for ((i = 2; i <= n_imports; i++)); do
	soak "$i" "${kinds[$(((k0 + i) % ${#kinds[@]}))]}"
	echo "# after #$i: RSS $(awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status") kB, $(fd_count "$SPID") fds"
done
sleep 0.5
fd2=$(fd_count "$SPID")
rss2=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status")
rss_peak=$(rss_max "$T/rss")
check "fds after #$n_imports ($fd2) = after #1 ($fd1)" test "$fd2" -eq "$fd1"
check "RSS after #$n_imports (${rss2} kB) back to after #1 (${rss1} kB, +2 MiB slack)" test "$rss2" -le $((rss1 + 2048))
check "daemon alive" kill -0 "$SPID"
serve_stop
mix=""
for k in "${kinds[@]}"; do mix="$mix $k=${counts[$k]:-0}"; done
echo "# figures: $n_imports imports:$mix; fds $fd1 -> $fd2; RSS $rss1 -> $rss2 kB (peak $rss_peak kB); $((SECONDS - start)) s"

# the short run under ASan+UBSan+LSan
asan_start=$SECONDS
if [ ! -x "$ROOT/build/asan-pgsluice" ]; then
	make -s -C "$ROOT" build/asan-pgsluice >&2 || { not_ok "build build/asan-pgsluice"; exit 1; }
fi
tgt_reset
rm -f "$T/state.sql"
PGSLUICE=$ROOT/build/asan-pgsluice
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 UBSAN_OPTIONS=print_stacktrace=1
# --lock-timeout 2: a statement running for 1 s is watched from a side
# connection (the slow dump's COPY), so that code runs under ASan too;
# --force-replace: the slow dump is not Synapse's, the target is
make_slow_dump "$T/slow.sql" 300 5 100
serve_start --progress-interval 0.5 --clear-target --lock-timeout 2 --force-replace || { not_ok "ASan daemon starts"; exit 1; }
id=0
for kind in complete-gzip truncated-gzip refused reset failing truncated-plain slow; do
	id=$((id + 1))
	if [ "$kind" = slow ]; then
		WANT=OK; "$CUT" 127.0.0.1 "$SPORT" "$T/slow.sql" >"$T/out" 2>/dev/null
	else
		run_import "$kind"
	fi
	line=$(wait_summary "$id" 120) || { not_ok "ASan #$id $kind: a summary"; continue; }
	case ${line#*] } in "$WANT "*) ok "ASan #$id $kind: $WANT" ;; *) not_ok "ASan #$id $kind: $WANT (got: ${line#*] })" ;; esac
done
# SIGTERM while the slow COPY runs: the statement is cancelled from a side
# connection, then the daemon exits
id=$((id + 1))
make_slow_dump "$T/slow3.sql" 1000 5
"$CUT" 127.0.0.1 "$SPORT" "$T/slow3.sql" >"$T/out" 2>/dev/null &
bg_track $!
wait_log "\[#$id .*connected to the target" 30
sleep 1
kill -TERM "$SPID"
wait_pid "$SPID"
rc=$?
check "ASan: SIGTERM during a slow statement: cancelled" grep -q 'cancelling the statement still running on the target' "$T/serve.log"
check "ASan: the daemon exits 0 on SIGTERM" test "$rc" -eq 0
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/serve.log"; then
	not_ok "ASan: no sanitizer report"
	grep -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/serve.log" | head -60 | sed 's/^/# /'
else
	ok "ASan: no sanitizer report (ASan, UBSan, LeakSanitizer at exit)"
fi
echo "# figures: ASan run: $id imports, exit $rc, $((SECONDS - asan_start)) s"
