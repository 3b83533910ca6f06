# fault_common.bash - sourced by tests/integration/fault_*.sh, after
# tests/lib/common.sh and serve_common.bash.  (Not *.sh: tests/run.sh does
# not run it.)
#
# Each fault scenario injects its fault at points drawn from a seeded
# generator; the seed is printed, and PGSLUICE_FAULT_SEED=N replays a run:
#
#	PGSLUICE_FAULT_SEED=1234 tests/run.sh fault_client
#
# PGSLUICE_TEST_LONG (make test-long) selects the long variants.
#
#	fault_init                 seed the generator, print the seed
#	rand_below N               R=a number in [0, N) (not in $(...): a subshell
#	                           would not advance the generator)
#	fault_setup                one cluster "tgt": role ees_owner owns database
#	                           synapse (the target, with a schema "keep" holding
#	                           one row, owned by ees_owner); database
#	                           "reference" holds the Synapse fixture restored by
#	                           psql ($T/ref.sql: its pg_dump -O -x); the fixture
#	                           as $PLAIN and $GZ; $T/before.sql: the target's
#	                           dump before any import
#	tgt_reset                  the target database as fault_setup left it
#	expect_unchanged NAME      ok if the target's dump equals $T/before.sql
#	expect_complete NAME       ok if the target's public schema dumps like the
#	                           reference, then tgt_reset
#	expect_outcome NAME OUT    OUT holds an OK line: expect_complete; an
#	                           ERROR line: expect_unchanged; neither: not ok
#	wait_summary ID [SECS]     wait until the daemon logged session #ID's
#	                           OK/ERROR summary; prints that line
#	backend_waiting [SECS]     wait until the import's backend waits for us
#	                           (idle in transaction, or reading COPY data)
#	line_offset FILE LINE      byte offset at which LINE (1-based) starts
#	make_slow_dump FILE ROWS MS [BULK_ROWS]
#	                           a dump whose table public.slow has a trigger
#	                           that sleeps MS ms per row (ROWS rows of 1 kB),
#	                           then a table public.bulk of BULK_ROWS 1 kB rows
#	rss_watch PID FILE         sample VmRSS (kB) of PID every 100 ms into FILE,
#	                           in the background (stopped at exit)
#	rss_max FILE               the largest sample, kB
#	fd_count PID               open file descriptors of PID
CUT=$ROOT/build/tools/cutclient
FAULT_LONG=${PGSLUICE_TEST_LONG:-}

fault_init() {
	FAULT_SEED=${PGSLUICE_FAULT_SEED:-$(( ($(date +%s%N) / 1000) % 1000000 ))}
	RANDOM=$FAULT_SEED
	echo "# seed $FAULT_SEED (replay: PGSLUICE_FAULT_SEED=$FAULT_SEED tests/run.sh $(basename "$0" .sh))${FAULT_LONG:+, long variant}"
	if [ ! -x "$CUT" ]; then
		make -s -C "$ROOT" build/tools/cutclient >&2 || { not_ok "build cutclient"; exit 1; }
	fi
}

rand_below() { R=$(( ((RANDOM << 15) | RANDOM) % $1 )); }

fault_setup() {
	pg_start tgt || return 1
	psql_as tgt postgres -c "CREATE ROLE $TARGET_USER LOGIN" \
		-c "CREATE DATABASE reference TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || return 1
	TARGET="host=127.0.0.1 port=$(pg_port tgt) user=$TARGET_USER dbname=synapse"
	GZ=$FIXTURES/synapse/synapse-small-noowner.sql.gz
	PLAIN=$T/full.sql
	gunzip -c "$GZ" >"$PLAIN"
	psql_as tgt reference -f "$PLAIN" >/dev/null || return 1
	pg_dump_of tgt reference -O -x >"$T/ref.sql"
	# the phases of the dump, for phase_offset
	awk '/^COPY /{c=1; next} /^\\\.$/{c=0; next} c{print NR}' "$PLAIN" >"$T/copylines"
	FIRST_COPY=$(grep -n -m1 '^COPY ' "$PLAIN" | cut -d: -f1)
	FIRST_INDEX=$(grep -n -m1 -E '^CREATE (UNIQUE )?INDEX ' "$PLAIN" | cut -d: -f1)
	TRAILER=$(grep -n -m1 '^-- PostgreSQL database dump complete' "$PLAIN" | cut -d: -f1)
	tgt_reset || return 1
	tgt_dump >"$T/before.sql"
}

tgt_reset() {
	PGOPTIONS="-c client_min_messages=warning" psql_as tgt postgres -c "DROP DATABASE IF EXISTS synapse WITH (FORCE)" \
		-c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || return 1
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse \
		-c "CREATE SCHEMA keep" -c "CREATE TABLE keep.t (x int)" -c "INSERT INTO keep.t VALUES (42)" >/dev/null
}

expect_unchanged() {
	tgt_dump >"$T/after.sql"
	if cmp -s "$T/before.sql" "$T/after.sql"; then ok "$1: target unchanged"; else
		not_ok "$1: target unchanged"; diff "$T/before.sql" "$T/after.sql" | head -20 | sed 's/^/# /'
	fi
}

expect_complete() {
	# the target holds the import in public, and keep.t: compare all but keep
	pg_dump_of tgt synapse -O -x -N keep >"$T/after.sql"
	if cmp -s "$T/ref.sql" "$T/after.sql"; then ok "$1: import complete, equals the source"; else
		not_ok "$1: import complete, equals the source"; diff "$T/ref.sql" "$T/after.sql" | head -20 | sed 's/^/# /'
	fi
	tgt_reset
}

expect_outcome() {
	local name=$1 out=$2
	if grep -q '^OK import' "$out"; then
		expect_complete "$name"
	elif grep -q '^ERROR ' "$out"; then
		expect_unchanged "$name"
	else
		not_ok "$name: the client got an OK or ERROR summary"
		sed 's/^/# /' "$out" | head -20
	fi
}

wait_summary() {
	local id=$1 secs=${2:-30} i
	for ((i = 0; i < secs * 10; i++)); do
		if grep -E -m1 "\[#$id [^]]*\] (OK import|ERROR )" "$T/serve.log" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "# timed out waiting for the summary of #$id" >&2
	tail -20 "$T/serve.log" | sed 's/^/# /' >&2
	return 1
}

backend_waiting() {
	local secs=${1:-20} i st
	for ((i = 0; i < secs * 20; i++)); do
		st=$(psql_as tgt postgres -At -c "SELECT state || '/' || COALESCE(wait_event, '') FROM pg_stat_activity WHERE application_name = 'pgsluice'")
		case $st in
		"idle in transaction/"* | "active/ClientRead" | "idle/"*) return 0 ;;
		esac
		sleep 0.05
	done
	echo "# the import's backend is not waiting for the client (state: $st)" >&2
	return 1
}

line_offset() { head -n $(($2 - 1)) "$1" | wc -c; }

# phase_offset pre-data|copy|index: PLINE, a random line of that phase of
# $PLAIN, and OFF, the byte at which it starts
phase_offset() {
	case $1 in
	pre-data) rand_below $((FIRST_COPY - 2)); PLINE=$((R + 2)) ;;
	copy) rand_below "$(wc -l <"$T/copylines")"; PLINE=$(sed -n "$((R + 1))p" "$T/copylines") ;;
	index) rand_below $((TRAILER - FIRST_INDEX)); PLINE=$((FIRST_INDEX + R)) ;;
	*) echo "phase_offset: $1?" >&2; return 1 ;;
	esac
	OFF=$(line_offset "$PLAIN" "$PLINE")
}

# pause_inject NAME CMD...: send $PLAIN to the daemon, pausing at byte
# $OFF; once the import's backend waits there, run CMD (the fault); then
# wait (at most 20 s) for the client's summary, which lands in $T/out,
# before sending the rest.  TOLD: seconds from the fault to the summary.
pause_inject() {
	local name=$1 i t0; shift
	rm -f "$T/go"
	"$CUT" -m finish -n "$OFF" -p "$T/go" 127.0.0.1 "$SPORT" "$PLAIN" >"$T/out" 2>"$T/cut.err" &
	local cpid=$!
	bg_track "$cpid"
	for ((i = 0; i < 400; i++)); do
		grep -q 'paused at' "$T/cut.err" && break
		sleep 0.05
	done
	backend_waiting 20 || true
	t0=$(date +%s.%N)
	"$@"
	TOLD=timeout
	for ((i = 0; i < ${PAUSE_WAIT:-400}; i++)); do
		if grep -q -E '^(OK|ERROR) ' "$T/out"; then
			TOLD=$(echo "$(date +%s.%N) - $t0" | bc | awk '{printf "%.1f", $1}')
			break
		fi
		sleep 0.05
	done
	touch "$T/go"
	wait_pid "$cpid" 2>/dev/null
}

make_slow_dump() {
	local file=$1 rows=$2 ms=$3 bulk=${4:-0}
	{
		sed -n '1,/^SET row_security/p' "$PLAIN"
		cat <<SQL

CREATE FUNCTION public.slow_row(integer) RETURNS boolean
    LANGUAGE plpgsql
    AS \$\$
BEGIN
    PERFORM pg_catalog.pg_sleep($ms / 1000.0);
    RETURN true;
END
\$\$;
CREATE TABLE public.slow (id integer NOT NULL CHECK (public.slow_row(id)), pad text);
CREATE TABLE public.bulk (id integer NOT NULL, pad text);
COPY public.slow (id, pad) FROM stdin;
SQL
		awk -v n="$rows" 'BEGIN { p = sprintf("%1000s", ""); gsub(/ /, "s", p); for (i = 1; i <= n; i++) print i "\t" p }'
		echo '\.'
		echo
		echo 'COPY public.bulk (id, pad) FROM stdin;'
		awk -v n="$bulk" 'BEGIN { p = sprintf("%1000s", ""); gsub(/ /, "b", p); for (i = 1; i <= n; i++) print i "\t" p }'
		echo '\.'
		printf '\n--\n-- PostgreSQL database dump complete\n--\n\n'
	} >"$file"
}

rss_watch() {
	local pid=$1 out=$2
	: >"$out"
	(
		while [ -r "/proc/$pid/status" ]; do
			awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null >>"$out"
			sleep 0.1
		done
	) &
	bg_track $!
}

rss_max() { sort -n "$1" | tail -1; }

fd_count() { ls "/proc/$1/fd" | wc -l; }
