#!/bin/bash
# run.sh - `make bench`: the lexer's throughput, then whole imports of the
# Synapse benchmark dump (scale $BENCH_SCALE, default 40, ~350 MB plain)
# into fresh databases of one target cluster, alternating the contenders,
# $BENCH_ROUNDS rounds (default 3):
#   (a) psql -1 -f plain          (b) gzip -dc | psql -1
#   (c) pg_restore -j2 custom     (d) pgsluice serve --once <- nc, plain
#   (e) the same, gzip            (f) pgsluice serve --once --jobs 2 <- nc, gzip
#   (g) the same as (f), plain    (h) (d) with zstd (zstd -3)   (i) (d) with lz4
# and prints median wall times, the ratios the issue asks for, pgsluice's
# peak RSS and CPU seconds per plain GB.  The dumps are built once and kept
# in .bench/ (git-ignored).  BENCH_MEMORY_SCALE (default 80) re-runs (e)
# once on a larger dump for the memory figure; 0 skips it.
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
scale=${BENCH_SCALE:-40}
rounds=${BENCH_ROUNDS:-3}
mem_scale=${BENCH_MEMORY_SCALE:-80}
store=$ROOT/.bench
mkdir -p "$store"
chmod 755 "$store"

echo "== lexer"
tests/bench/lexer.sh
# the import benchmark scales ../shared's Synapse fill script (its scale variable)
[ -f "$SHARED_FIXTURES/synapse/synapse-fill.sql" ] || { echo "bench: $SHARED_FIXTURES/synapse missing, import benchmark skipped"; exit 0; }

pg_start bench "shared_buffers = 512MB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" "maintenance_work_mem = 256MB" >/dev/null ||
	{ echo "bench: cannot start a cluster"; exit 1; }

# compressed SCALE: .bench/synapse-sSCALE.sql.{zst,lz4} from the plain dump
compressed() {
	local base=$store/synapse-s$1
	[ -s "$base.sql.zst" ] || { zstd -q -3 -c "$base.sql" >"$base.sql.zst.tmp" && mv "$base.sql.zst.tmp" "$base.sql.zst"; }
	[ -s "$base.sql.lz4" ] || { lz4 -q -c "$base.sql" >"$base.sql.lz4.tmp" && mv "$base.sql.lz4.tmp" "$base.sql.lz4"; }
}

# build_dump SCALE: .bench/synapse-sSCALE.{sql,sql.gz,sql.zst,sql.lz4,custom}
build_dump() {
	local s=$1 base=$store/synapse-s$1
	[ -s "$base.sql" ] && [ -s "$base.sql.gz" ] && [ -s "$base.custom" ] && { compressed "$s"; return; }
	echo "building the scale-$s benchmark dump (once; kept in .bench/)"
	psql_as bench postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS src_$s" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='synapse') THEN CREATE ROLE synapse LOGIN; END IF; END\$\$" \
		-c "CREATE DATABASE src_$s ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER synapse" >/dev/null || return 1
	psql_as bench "src_$s" -f "$SHARED_FIXTURES/synapse/synapse-schema.sql" >/dev/null || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v scale="$s" -h 127.0.0.1 -p "$(pg_port bench)" -U synapse -d "src_$s" \
		-f "$SHARED_FIXTURES/synapse/synapse-fill.sql" >/dev/null || return 1
	pg_dump -h 127.0.0.1 -p "$(pg_port bench)" -U postgres -O "src_$s" >"$base.sql.tmp" && mv "$base.sql.tmp" "$base.sql"
	gzip -6 -c "$base.sql" >"$base.sql.gz.tmp" && mv "$base.sql.gz.tmp" "$base.sql.gz"
	pg_dump -h 127.0.0.1 -p "$(pg_port bench)" -U postgres -O -Fc "src_$s" >"$base.custom.tmp" && mv "$base.custom.tmp" "$base.custom"
	psql_as bench postgres -c "DROP DATABASE src_$s" >/dev/null
	compressed "$s"
}
build_dump "$scale" || { echo "bench: building the dump failed"; exit 1; }
base=$store/synapse-s$scale
plain_bytes=$(stat -c %s "$base.sql")
echo "== import of the scale-$scale Synapse dump: $((plain_bytes / 1000000)) MB plain, $(($(stat -c %s "$base.sql.gz") / 1000000)) MB gzip, $(($(stat -c %s "$base.sql.zst") / 1000000)) MB zstd, $(($(stat -c %s "$base.sql.lz4") / 1000000)) MB lz4"

psql_as bench postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='ees_owner') THEN CREATE ROLE ees_owner LOGIN; END IF; END\$\$" >/dev/null
port=$(pg_port bench)
fresh_db() {
	psql_as bench postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_target" -c "CREATE DATABASE bench_target OWNER ees_owner ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
	sync
}
now() { date +%s.%N; }
have_serve=0
"$PGSLUICE" serve --help >/dev/null 2>&1 && have_serve=1
have_jobs=0
# (no grep -q: under pipefail its early exit makes the help's writer fail on SIGPIPE)
[ $have_serve = 1 ] && "$PGSLUICE" serve --help 2>&1 | grep -c -- '--jobs' >/dev/null && have_jobs=1

# busy CPU seconds of the whole machine so far (user+nice+system+irq+softirq+steal)
machine_busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat; }

# serve_import MODE(plain|gzip|zstd|lz4) [serve args]: prints "wall rss_kb cpu_s machine_cpu_s"
serve_import() {
	local mode=$1; shift
	local lport t0 t1 pid file b0 b1
	lport=$(free_port)
	file=$base.sql
	case $mode in gzip) file=$base.sql.gz ;; zstd) file=$base.sql.zst ;; lz4) file=$base.sql.lz4 ;; esac
	/usr/bin/time -f '%M %U %S' -o "$T/time" "$PGSLUICE" serve --once --quiet \
		--target "host=127.0.0.1 port=$port dbname=bench_target user=ees_owner" \
		--listen "127.0.0.1:$lport" "$@" 2>"$T/serve.log" &
	pid=$!
	for _ in $(seq 200); do grep -q "listening on" "$T/serve.log" 2>/dev/null && break; sleep 0.05; done
	b0=$(machine_busy)
	t0=$(now)
	nc -N 127.0.0.1 "$lport" <"$file" >"$T/client.out"
	wait "$pid"
	t1=$(now)
	b1=$(machine_busy)
	grep -q '^OK' "$T/client.out" || { echo "pgsluice import failed:" >&2; tail -n 5 "$T/client.out" "$T/serve.log" >&2; }
	read -r rss u s < <(tail -n 1 "$T/time")
	echo "$(echo "$t1 - $t0" | bc) $rss $(echo "$u + $s" | bc) $(echo "$b1 - $b0" | bc)"
}
run_contender() {
	local c=$1 t0 t1
	fresh_db
	case $c in
	a) t0=$(now); psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$port" -U ees_owner -d bench_target -f "$base.sql" >/dev/null; t1=$(now)
	   echo "$(echo "$t1 - $t0" | bc)" ;;
	b) t0=$(now); gzip -dc "$base.sql.gz" | psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$port" -U ees_owner -d bench_target >/dev/null; t1=$(now)
	   echo "$(echo "$t1 - $t0" | bc)" ;;
	c) t0=$(now); pg_restore -j2 -O -x -h 127.0.0.1 -p "$port" -U ees_owner -d bench_target "$base.custom"; t1=$(now)
	   echo "$(echo "$t1 - $t0" | bc)" ;;
	d) serve_import plain ;;
	e) serve_import gzip ;;
	f) serve_import gzip --jobs 2 ;;
	g) serve_import plain --jobs 2 ;;
	h) serve_import zstd ;;
	i) serve_import lz4 ;;
	esac
}
contenders="a b c"
[ $have_serve = 1 ] && contenders="$contenders d e h i"
[ $have_jobs = 1 ] && contenders="$contenders f g"
declare -A times rss cpu share
for r in $(seq "$rounds"); do
	for c in $contenders; do
		m='' u='' b=''
		read -r w m u b < <(run_contender "$c")
		times[$c]="${times[$c]:-} $w"
		[ -n "${m:-}" ] && rss[$c]="${rss[$c]:-} $m" && cpu[$c]="${cpu[$c]:-} $u" &&
			share[$c]="${share[$c]:-} $(awk -v u="$u" -v b="$b" 'BEGIN{printf "%.4f", (b > 0 ? u / b : 0)}')"
		printf 'round %d %s %6.2f s\n' "$r" "$c" "$w"
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
max() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
declare -A med
declare -A names=([a]="psql -1 -f (plain)" [b]="gzip -dc | psql -1" [c]="pg_restore -j2 (custom)" [d]="pgsluice, nc plain" [e]="pgsluice, nc gzip" [f]="pgsluice --jobs 2, gzip" [g]="pgsluice --jobs 2, plain" [h]="pgsluice, nc zstd" [i]="pgsluice, nc lz4")
echo
printf '%-28s %10s %12s %14s %14s\n' contender "median s" "peak RSS" "CPU s / GB" "share of CPU"
for c in $contenders; do
	med[$c]=$(echo "${times[$c]}" | median)
	if [ -n "${rss[$c]:-}" ]; then
		m=$(echo "${rss[$c]}" | max)
		u=$(echo "${cpu[$c]}" | median)
		sh=$(echo "${share[$c]}" | median)
		printf '%-28s %10.2f %9d MiB %14.2f %13.1f%%\n' "${names[$c]}" "${med[$c]}" $((m / 1024)) \
			"$(echo "$u * 1000000000 / $plain_bytes" | bc -l)" "$(echo "$sh * 100" | bc -l)"
	else
		printf '%-28s %10.2f %12s %14s %14s\n' "${names[$c]}" "${med[$c]}" - - -
	fi
done
echo "(share of CPU: pgsluice's CPU seconds over the whole machine's busy CPU seconds during"
echo " the import: PostgreSQL's backends, nc and pgsluice; goal <= 5 % in (d))"
ratio() { awk -v a="${med[$1]}" -v b="${med[$2]}" 'BEGIN{printf "%.3f", a/b}'; }
echo
[ $have_serve = 1 ] && echo "(d)/(a) = $(ratio d a)   goal <= 1.02" && echo "(e)/(b) = $(ratio e b)   goal <= 1.02" &&
	echo "(h)/(d) = $(ratio h d)   (i)/(d) = $(ratio i d)   (zstd and lz4 against plain)"
[ $have_jobs = 1 ] && echo "(f)/(a) = $(ratio f a)   goal <= 0.70" && echo "(f)/(c) = $(ratio f c)   goal <= 1.00" &&
	echo "(g)/(a) = $(ratio g a)   (g)/(c) = $(ratio g c)   (the same, the stream plain)"
[ $have_serve = 0 ] && echo "pgsluice serve is not built: only the reference contenders ran"
if [ $have_serve = 1 ] && [ "$mem_scale" != 0 ]; then
	build_dump "$mem_scale" || { echo "bench: building the scale-$mem_scale dump failed"; exit 1; }
	base=$store/synapse-s$mem_scale
	fresh_db
	read -r w m _ < <(serve_import gzip)
	echo "memory: scale $mem_scale ($(($(stat -c %s "$base.sql") / 1000000)) MB plain): pgsluice peak RSS $((m / 1024)) MiB, ${w} s"
	if [ $have_jobs = 1 ]; then
		fresh_db
		read -r w m _ < <(serve_import gzip --jobs 2)
		echo "memory: scale $mem_scale, --jobs 2: pgsluice peak RSS $((m / 1024)) MiB, ${w} s"
	fi
fi
