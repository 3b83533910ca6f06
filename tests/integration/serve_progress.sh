#!/bin/bash
# serve_progress.sh - the slow half made visible: an import whose post-data
# takes seconds (index builds over a table this test fills) shows progress
# lines naming the running CREATE INDEX, its time, and its phase and
# blocks from pg_stat_progress_create_index (read over a side connection);
# pgsluice send's bar shows it in a pty (tmux) 80 and 200 columns wide;
# send --size gives a pipe a % of its own.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"

if ! command -v tmux >/dev/null; then
	not_ok "serve_progress: tmux is not installed (scripts/deps.sh installs it)"
	exit 1
fi
serve_clusters || { not_ok "clusters start"; exit 1; }
psql_as src synapse -c "CREATE TABLE public.bulk AS SELECT i AS id, md5(i::text) AS t FROM generate_series(1, 400000) i" \
	-c "CREATE INDEX bulk_slow_a ON public.bulk (md5(repeat(t, 120)))" \
	-c "CREATE INDEX bulk_slow_b ON public.bulk (md5(repeat(t, 121)))" >/dev/null ||
	{ not_ok "the source table and its indexes"; exit 1; }
src_pg_dump -O -x >"$T/bulk.sql" || { not_ok "pg_dump of the source"; exit 1; }
# the phases pg_stat_progress_create_index reports for a btree build
PHASE='(initializing|scanning table|sorting live tuples|loading tuples in tree)'

serve_start --clear-target --progress-interval 0.2 || { not_ok "daemon starts"; exit 1; }
send_nc "$T/bulk.sql" "$T/out"
check "the import commits" grep -q '^OK import into synapse committed' "$T/out"
grep 'running CREATE INDEX' "$T/out" | head -3 | sed 's/^/# /'
check "progress lines name the index being built, its table and time" \
	grep -qE 'running CREATE INDEX bulk_slow_[ab] ON public\.bulk [0-9]+\.[0-9] s' "$T/out"
check "... and its phase and blocks from pg_stat_progress_create_index" \
	grep -qE "running CREATE INDEX bulk_slow_[ab] ON public\\.bulk [0-9.]+ s \\($PHASE; blocks [0-9]+/[1-9][0-9]* [0-9]+%\\)" "$T/out"
check "both builds are named" sh -c "grep -q 'running CREATE INDEX bulk_slow_a' '$T/out' && grep -q 'running CREATE INDEX bulk_slow_b' '$T/out'"
check "the summary's post-data: 2 indexes" grep -qE '^  post-data +[0-9.]+ s  2 indexes, ' "$T/out"
side() { psql_as tgt postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgsluice (progress)'"; }
for ((i = 0; i < 50; i++)); do [ "$(side)" -eq 0 ] && break; sleep 0.1; done
check "the side connection is gone after the import" test "$(side)" -eq 0

# send's bar in a terminal of COLS columns: the last screens it drew
bar() {
	local cols=$1 i
	tmux kill-session -t pgs_prog 2>/dev/null
	tmux new-session -d -s pgs_prog -x "$cols" -y 5 \
		"'$PGSLUICE' send 127.0.0.1:$SPORT '$T/bulk.sql' >'$T/send-$cols.out'; echo \$? >'$T/send-$cols.rc'; sleep 60"
	: >"$T/pane-$cols"
	for ((i = 0; i < 600; i++)); do
		tmux capture-pane -p -t pgs_prog >>"$T/pane-$cols" 2>/dev/null
		[ -s "$T/send-$cols.rc" ] && break
		sleep 0.1
	done
	tmux kill-session -t pgs_prog 2>/dev/null
	[ -s "$T/send-$cols.rc" ] || { echo "# send did not end within 60 s" >&2; return 1; }
}
for cols in 80 200; do
	bar "$cols"
	check "send at $cols columns: exit 0" test "$(cat "$T/send-$cols.rc" 2>/dev/null)" = 0
	grep -m2 'CREATE INDEX' "$T/pane-$cols" | sed 's/^/# /'
	check "send at $cols columns: the bar names the index build and its time" \
		grep -qE "sent; CREATE INDEX bulk_slow_[ab] ON public\\.bulk [0-9]+\\.[0-9] s" "$T/pane-$cols"
	check "send at $cols columns: no line wider than the terminal" \
		sh -c "! awk 'length(\$0) > $cols' '$T/pane-$cols' | grep -q ."
done
check "send at 200 columns: the phase and blocks too" \
	grep -qE "sent; CREATE INDEX bulk_slow_[ab] ON public\\.bulk [0-9.]+ s \\($PHASE; blocks [0-9]+/[0-9]+ [0-9]+%\\)" "$T/pane-200"

# send --size on a pipe: a % and the size
tmux new-session -d -s pgs_prog -x 200 -y 5 \
	"{ head -c 1000000 '$T/bulk.sql'; sleep 2; tail -c +1000001 '$T/bulk.sql'; } | '$PGSLUICE' send --size $(stat -c %s "$T/bulk.sql") 127.0.0.1:$SPORT >'$T/size.out'; echo \$? >'$T/size.rc'; sleep 60"
: >"$T/pane-size"
for ((i = 0; i < 600; i++)); do
	tmux capture-pane -p -t pgs_prog >>"$T/pane-size" 2>/dev/null
	[ -s "$T/size.rc" ] && break
	sleep 0.1
done
tmux kill-session -t pgs_prog 2>/dev/null
check "send --size on a pipe: exit 0" test "$(cat "$T/size.rc" 2>/dev/null)" = 0
check "send --size on a pipe: the bar shows a % of the size" grep -qE '[0-9]+%  [0-9.]+ [kMG]?B of [0-9.]+ [kMG]?B' "$T/pane-size"
serve_stop
