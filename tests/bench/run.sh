#!/bin/bash
# run.sh - `make bench`: the lexer's throughput, then the import benchmark of
# issue "downtime is import plus the time until the database is fast", on
# the Synapse benchmark dump at each scale of BENCH_SCALES (default
# "40 80 235": about 0.35, 0.7 and 2 GB plain) into fresh databases of a
# PostgreSQL target of each version of BENCH_VERSIONS (default "17 15"),
# BENCH_ROUNDS rounds (default 3) with the contenders alternating; each
# figure is the median with [min-max].  What it prints, with the goals:
#   (a) single connection: pgsluice (nc plain) / psql -1 -f     <= 1.00
#   (b) --jobs 2: pgsluice / psql                                <= 0.65
#       and / pg_restore -j2 from a custom file                  <= 1.00
#   (c) time to ready: pgsluice (COPY FREEZE + ANALYZE; --jobs 2 with its
#       VACUUM phase) / psql -1 -f + vacuumdb --analyze-only + VACUUM (FREEZE)
#                                                  <= 0.75 single, <= 0.55 --jobs 2
#       with the first full scan of the 3 largest tables after each import
#       (hint-bit writes show there) and relallvisible / relpages right
#       after it
#   (d) the sender alone (plain file to a listener that discards):
#       gzip -6 | send vs send --compress zstd, throughput and ratio:
#       zstd >= 3 x gzip's throughput at a size within 10 % of gzip -6's;
#       and the end-to-end import of each
#   (e) pgsluice's peak RSS (<= 16 MiB single, <= 48 MiB --jobs 2, flat
#       over the scales), its share of the machine's busy CPU in (a)
#       (<= 5 %) and CPU seconds per plain GB on zstd input (<= 1.5)
# The dumps are built once per scale and kept in .bench/ (git-ignored);
# BENCH_ROUNDS=0 only builds them.
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
scales=${BENCH_SCALES:-40 80 235}
versions=${BENCH_VERSIONS:-17 15}
rounds=${BENCH_ROUNDS:-3}
store=$ROOT/.bench
mkdir -p "$store"
chmod 755 "$store"

echo "== lexer"
tests/bench/lexer.sh
# the import benchmark scales ../shared's Synapse fill script (its scale variable)
[ -f "$SHARED_FIXTURES/synapse/synapse-fill.sql" ] || { echo "bench: $SHARED_FIXTURES/synapse missing, import benchmark skipped"; exit 0; }
"$PGSLUICE" serve --help 2>&1 | grep -c -- '--no-analyze' >/dev/null ||
	{ echo "bench: $PGSLUICE has no serve --no-analyze (build it: make)"; exit 1; }

conf=("shared_buffers = 512MB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" "maintenance_work_mem = 256MB" "autovacuum = off")
# the dumps come from the host's cluster; each target version has its own
pg_start src "${conf[@]}" >/dev/null || { echo "bench: cannot start the source cluster"; exit 1; }
for v in $versions; do
	pg_start_v "$v" "t$v" "${conf[@]}" >/dev/null || { echo "bench: cannot start a PostgreSQL $v cluster"; exit 1; }
	psql_as "t$v" postgres -c "CREATE ROLE ees_owner LOGIN" >/dev/null
done

# build_dump SCALE: .bench/synapse-sSCALE.{sql,sql.gz,custom}
build_dump() {
	local s=$1 base=$store/synapse-s$1
	[ -s "$base.sql" ] && [ -s "$base.sql.gz" ] && [ -s "$base.custom" ] && return
	echo "building the scale-$s benchmark dump (once; kept in .bench/)"
	psql_as src postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS src_$s" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='synapse') THEN CREATE ROLE synapse LOGIN; END IF; END\$\$" \
		-c "CREATE DATABASE src_$s ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER synapse" >/dev/null || return 1
	psql_as src "src_$s" -f "$SHARED_FIXTURES/synapse/synapse-schema.sql" >/dev/null || return 1
	# The fill script multiplies int4 counters by large constants (uid *
	# 60000, g * 3600000): past scale 119 some products leave int4 and the
	# fill stops with "integer out of range".  The bench runs a copy with
	# each 5-digit-or-longer constant factor cast to bigint; where nothing
	# overflowed, the values (and the dump) are the same.
	sed -E 's/ \* ([0-9]{5,})([^0-9:]|$)/ * \1::bigint\2/g' "$SHARED_FIXTURES/synapse/synapse-fill.sql" >"$T/fill.sql"
	psql -X -q -v ON_ERROR_STOP=1 -v scale="$s" -h 127.0.0.1 -p "$(pg_port src)" -U synapse -d "src_$s" \
		-f "$T/fill.sql" >/dev/null || return 1
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O "src_$s" >"$base.sql.tmp" && mv "$base.sql.tmp" "$base.sql"
	gzip -6 -c "$base.sql" >"$base.sql.gz.tmp" && mv "$base.sql.gz.tmp" "$base.sql.gz"
	pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O -Fc "src_$s" >"$base.custom.tmp" && mv "$base.custom.tmp" "$base.custom"
	psql_as src postgres -c "DROP DATABASE src_$s" >/dev/null
}

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
# busy CPU seconds of the whole machine so far (user+nice+system+irq+softirq+steal)
machine_busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat; }

# Per contender, figures are appended to fig[KEY] (space-separated) and
# printed as median [min-max].
declare -A fig
add() { fig[$1]="${fig[$1]:-} $2"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{if (NR == 0) print "nan"; else print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mn() { tr ' ' '\n' | grep -v '^$' | sort -g | head -1; }
mx() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
med() { echo "${fig[$1]:-}" | median; }
mmx() { printf '%s [%s-%s]' "$(printf '%.2f' "$(med "$1")")" "$(printf '%.2f' "$(echo "${fig[$1]:-}" | mn)")" "$(printf '%.2f' "$(echo "${fig[$1]:-}" | mx)")"; }
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN{printf "%.3f", (b > 0 ? a/b : 0)}'; }
verdict() { awk -v r="$1" -v g="$2" -v d="${3:-le}" 'BEGIN{ok = d == "le" ? r <= g : r >= g; printf "%s", ok ? "met" : "NOT met"}'; }

fresh_db() { # VERSION
	psql_as "t$1" postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_target" -c "CREATE DATABASE bench_target OWNER ees_owner ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
	psql_as "t$1" postgres -c "CHECKPOINT" >/dev/null
	sync
}
target_conninfo() { echo "host=127.0.0.1 port=$(pg_port "t$1") dbname=bench_target user=ees_owner"; }
tq() { psql_as "t$1" bench_target -At -c "$2"; }
# relallvisible / relpages of the tables, in %, as pg_class has it now
visible_pct() { tq "$1" "SELECT round(100.0 * sum(relallvisible) / greatest(sum(relpages), 1), 1) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"; }
# the first full scan of the 3 largest tables (sequential, no index-only scan)
first_scan() {
	local t0 t
	t0=$(now)
	for t in $(tq "$1" "SELECT oid::regclass FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_relation_size(oid) DESC LIMIT 3"); do
		psql_as "t$1" bench_target -c "SET enable_indexscan = off" -c "SET enable_indexonlyscan = off" -c "SET enable_bitmapscan = off" \
			-c "SELECT count(*) FROM $t" >/dev/null
	done
	since "$t0"
}

# serve_import VERSION KEY INPUT-CMD [serve args]: one pgsluice import; INPUT-CMD
# writes to the daemon's port ($1 of it).  Adds KEY.wall, KEY.rss (KiB),
# KEY.cpu (s), KEY.share (% of the machine's busy CPU).
serve_import() {
	local v=$1 key=$2 input=$3 lport t0 pid b0 b1 w rss u s
	shift 3
	lport=$(free_port)
	/usr/bin/time -f '%M %U %S' -o "$T/time" "$PGSLUICE" serve --once --quiet \
		--target "$(target_conninfo "$v")" --listen "127.0.0.1:$lport" "$@" 2>"$T/serve.log" &
	pid=$!
	for _ in $(seq 600); do grep -q "listening on" "$T/serve.log" 2>/dev/null && break; sleep 0.05; done
	b0=$(machine_busy)
	t0=$(now)
	$input "$lport" >"$T/client.out" 2>"$T/client.err"
	# a client that could not connect leaves the --once daemon waiting
	[ -s "$T/client.out" ] || kill "$pid" 2>/dev/null
	wait "$pid"
	w=$(since "$t0")
	b1=$(machine_busy)
	grep -q '^OK' "$T/client.out" || { echo "pgsluice import failed:" >&2; tail -n 5 "$T/client.out" "$T/client.err" "$T/serve.log" >&2; }
	read -r rss u s < <(tail -n 1 "$T/time")
	add "$key.wall" "$w"
	add "$key.rss" "$rss"
	add "$key.cpu" "$(echo "$u + $s" | bc)"
	add "$key.share" "$(awk -v u="$(echo "$u + $s" | bc)" -v b="$(echo "$b1 - $b0" | bc)" 'BEGIN{printf "%.2f", (b > 0 ? 100 * u / b : 0)}')"
}
in_plain() { nc -N 127.0.0.1 "$1" <"$base.sql"; }
in_zstd() { "$PGSLUICE" send -q --compress zstd "127.0.0.1:$1" "$base.sql"; }
in_gzip() { gzip -6 -c "$base.sql" | "$PGSLUICE" send -q "127.0.0.1:$1"; }

# a listener that discards what it gets (the sender alone)
sink_start() {
	SINK_PORT=$(free_port)
	{ timeout 600 nc -d -l 127.0.0.1 "$SINK_PORT" | wc -c >"$T/sink.size"; } &
	SINK_PID=$!
	bg_track "$SINK_PID"
	sleep 0.2
}
sender_alone() { # KEY
	local t0
	sink_start
	t0=$(now)
	case $1 in
	gzip) gzip -6 -c "$base.sql" | "$PGSLUICE" send -q "127.0.0.1:$SINK_PORT" >/dev/null 2>&1 ;;
	zstd) "$PGSLUICE" send -q --compress zstd "127.0.0.1:$SINK_PORT" "$base.sql" >/dev/null 2>&1 ;;
	esac
	add "d.$1.wall" "$(since "$t0")"
	wait "$SINK_PID" 2>/dev/null
	add "d.$1.size" "$(cat "$T/sink.size")"
}

contender() { # VERSION NAME
	local v=$1 c=$2 t0 t
	fresh_db "$v"
	case $c in
	psql)
		t0=$(now)
		psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port "t$v")" -U ees_owner -d bench_target -f "$base.sql" >/dev/null
		t=$(since "$t0")
		add psql.wall "$t"
		add psql.vis "$(visible_pct "$v")"
		t0=$(now)
		vacuumdb -q --analyze-only -h 127.0.0.1 -p "$(pg_port "t$v")" -U ees_owner -d bench_target 2>/dev/null
		psql_as "t$v" bench_target -c "VACUUM (FREEZE)" >/dev/null 2>&1
		add psql.ready "$(echo "$t + $(since "$t0")" | bc)"
		add psql.scan "$(first_scan "$v")" # after VACUUM: hint bits are set
		# the scan right after a plain psql -1 -f, in another database
		fresh_db "$v"
		psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port "t$v")" -U ees_owner -d bench_target -f "$base.sql" >/dev/null
		add psql.rawscan "$(first_scan "$v")" ;;
	restore)
		t0=$(now)
		pg_restore -j2 -O -x -h 127.0.0.1 -p "$(pg_port "t$v")" -U ees_owner -d bench_target "$base.custom"
		add restore.wall "$(since "$t0")" ;;
	single)
		serve_import "$v" single in_plain
		add single.vis "$(visible_pct "$v")"
		add single.scan "$(first_scan "$v")" ;;
	jobs)
		serve_import "$v" jobs in_plain --jobs 2
		add jobs.vis "$(visible_pct "$v")"
		add jobs.scan "$(first_scan "$v")" ;;
	zstd) serve_import "$v" zstd in_zstd ;;
	gzip) serve_import "$v" gzip in_gzip ;;
	esac
}

declare -A rss_single rss_jobs
for s in $scales; do
	build_dump "$s" || { echo "bench: building the scale-$s dump failed"; exit 1; }
	base=$store/synapse-s$s
	plain_bytes=$(stat -c %s "$base.sql")
	gz_bytes=$(stat -c %s "$base.sql.gz")
	echo "scale $s: $((plain_bytes / 1000000)) MB plain, $((gz_bytes / 1000000)) MB gzip -6 in .bench/synapse-s$s.*"
	[ "$rounds" -gt 0 ] || continue # BENCH_ROUNDS=0: build the dumps only
	for v in $versions; do
		fig=()
		echo
		echo "== PostgreSQL $v target, scale $s: $((plain_bytes / 1000000)) MB plain, $((gz_bytes / 1000000)) MB gzip -6; $rounds rounds, median [min-max]"
		for r in $(seq "$rounds"); do
			for c in psql single jobs restore zstd gzip; do
				contender "$v" "$c"
			done
			sender_alone gzip
			sender_alone zstd
			echo "  round $r: psql $(echo "${fig[psql.wall]}" | awk '{print $NF}') s, pgsluice $(echo "${fig[single.wall]}" | awk '{print $NF}') s, --jobs 2 $(echo "${fig[jobs.wall]}" | awk '{print $NF}') s, pg_restore -j2 $(echo "${fig[restore.wall]}" | awk '{print $NF}') s"
		done
		gb=$(echo "$plain_bytes / 1000000000" | bc -l)
		zb=$(med d.zstd.size)
		r=$(ratio single.wall psql.wall)
		echo "(a) single connection: pgsluice $(mmx single.wall) s, psql -1 -f $(mmx psql.wall) s: $r (goal <= 1.00: $(verdict "$r" 1.00))"
		r=$(ratio jobs.wall psql.wall); r2=$(ratio jobs.wall restore.wall)
		echo "(b) --jobs 2: $(mmx jobs.wall) s; pg_restore -j2 $(mmx restore.wall) s: / psql $r (goal <= 0.65: $(verdict "$r" 0.65)), / pg_restore -j2 $r2 (goal <= 1.00: $(verdict "$r2" 1.00))"
		r=$(ratio single.wall psql.ready); r2=$(ratio jobs.wall psql.ready)
		echo "(c) time to ready: psql -1 -f + vacuumdb --analyze-only + VACUUM (FREEZE) $(mmx psql.ready) s; pgsluice $r (goal <= 0.75: $(verdict "$r" 0.75)), --jobs 2 $r2 (goal <= 0.55: $(verdict "$r2" 0.55))"
		echo "    first full scan of the 3 largest tables: after psql -1 -f $(mmx psql.rawscan) s, after it + VACUUM $(mmx psql.scan) s, after pgsluice $(mmx single.scan) s, after --jobs 2 $(mmx jobs.scan) s"
		echo "    relallvisible / relpages right after the import: psql -1 -f $(med psql.vis) %, pgsluice $(med single.vis) %, --jobs 2 $(med jobs.vis) %"
		gt=$(awk -v b="$plain_bytes" -v t="$(med d.gzip.wall)" 'BEGIN{printf "%.0f", b / t / 1e6}')
		zt=$(awk -v b="$plain_bytes" -v t="$(med d.zstd.wall)" 'BEGIN{printf "%.0f", b / t / 1e6}')
		x=$(awk -v a="$gt" -v b="$zt" 'BEGIN{printf "%.2f", (a > 0 ? b / a : 0)}')
		sz=$(awk -v z="$zb" -v g="$gz_bytes" 'BEGIN{printf "%.3f", z / g}')
		echo "(d) sender alone: gzip -6 | send $gt MB/s of plain (ratio $(awk -v g="$gz_bytes" -v p="$plain_bytes" 'BEGIN{printf "%.3f", g / p}')), send --compress zstd $zt MB/s (ratio $(awk -v z="$zb" -v p="$plain_bytes" 'BEGIN{printf "%.3f", z / p}')): $x x (goal >= 3: $(verdict "$x" 3 ge)), size / gzip's $sz (goal <= 1.10: $(verdict "$sz" 1.10))"
		echo "    end to end: send --compress zstd $(mmx zstd.wall) s, gzip -6 | send $(mmx gzip.wall) s, nc plain $(mmx single.wall) s"
		m1=$(( $(echo "${fig[single.rss]}" | mx) / 1024 )); m2=$(( $(echo "${fig[jobs.rss]}" | mx) / 1024 ))
		rss_single[$v]="${rss_single[$v]:-} $s:${m1}"; rss_jobs[$v]="${rss_jobs[$v]:-} $s:${m2}"
		sh=$(med single.share)
		cz=$(awk -v c="$(med zstd.cpu)" -v g="$gb" 'BEGIN{printf "%.2f", c / g}')
		echo "(e) pgsluice peak RSS $m1 MiB single (goal <= 16: $(verdict "$m1" 16)), $m2 MiB --jobs 2 (goal <= 48: $(verdict "$m2" 48)); share of the machine's busy CPU in (a) $sh % (goal <= 5: $(verdict "$sh" 5)); $cz CPU-s per plain GB on zstd input (goal <= 1.5: $(verdict "$cz" 1.5)); single $(awk -v c="$(med single.cpu)" -v g="$gb" 'BEGIN{printf "%.2f", c / g}') CPU-s per GB plain"
	done
done
echo
[ "$rounds" -gt 0 ] || exit 0
for v in $versions; do
	echo "(e) peak RSS over the scales (scale:MiB), PostgreSQL $v: single${rss_single[$v]}, --jobs 2${rss_jobs[$v]}"
done
