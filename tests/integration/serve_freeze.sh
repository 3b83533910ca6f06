#!/bin/bash
# serve_freeze.sh - the state an import leaves the tables in.  A source
# with plain, unlogged, TOASTed, empty and oddly named tables, a
# partitioned table (a PARTITION OF leaf, an attached leaf, a
# sub-partitioned one), an inheritance child.  Single transaction: every
# COPY into a table the dump created is rewritten to COPY FREEZE (never the
# partitioned root of --load-via-partition-root, never a table the dump did
# not create: the server would refuse both), every page with rows is
# counted in relallvisible and all-frozen in pg_visibility, and every table
# is analyzed (last_analyze); --no-analyze leaves them unanalyzed (and,
# with --jobs, unvacuumed); --jobs 2 runs the vacuum phase, with the same
# result, each table's VACUUM beside the post-data left on other tables
# (an index whose build takes 3 s); the imported data equals the source
# each time.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"

serve_clusters || { not_ok "clusters start"; exit 1; }
psql_as src synapse >/dev/null <<'SQL' || { not_ok "source schema"; exit 1; }
SET ROLE synapse;
CREATE TABLE public.events (id bigint PRIMARY KEY, body text);
INSERT INTO public.events SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 40000) g;
CREATE TABLE public.blobs (id int, big text);
INSERT INTO public.blobs SELECT g, (SELECT string_agg(md5((g * 1000 + k)::text), '') FROM generate_series(1, 200) k) FROM generate_series(1, 300) g;
CREATE UNLOGGED TABLE public.cache (k text, v int);
INSERT INTO public.cache SELECT 'k' || g, g FROM generate_series(1, 5000) g;
CREATE TABLE public."Odd ""Name""" (a int);
INSERT INTO public."Odd ""Name""" SELECT generate_series(1, 3000);
CREATE TABLE public.empty (a int);
CREATE TABLE public.m (id int NOT NULL, k int NOT NULL, v text) PARTITION BY RANGE (k);
CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (100);
CREATE TABLE public.m2 PARTITION OF public.m FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (k);
CREATE TABLE public.m2a PARTITION OF public.m2 FOR VALUES FROM (100) TO (200);
CREATE TABLE public.m3 (id int NOT NULL, k int NOT NULL, v text);
ALTER TABLE public.m ATTACH PARTITION public.m3 FOR VALUES FROM (200) TO (300);
INSERT INTO public.m SELECT g, g % 300, md5(g::text) FROM generate_series(1, 30000) g;
CREATE INDEX m_v ON public.m (v);
CREATE TABLE public.cities (name text PRIMARY KEY, population int);
CREATE TABLE public.capitals (state char(2)) INHERITS (public.cities);
INSERT INTO public.cities SELECT 'x' || g, g FROM generate_series(1, 2000) g;
INSERT INTO public.capitals SELECT 'c' || g, g, 'st' FROM generate_series(1, 2000) g;
SQL
src_pg_dump -O >"$T/dump.sql"
src_pg_dump -O --load-via-partition-root >"$T/root.sql"
src_dump | sort >"$T/src.sorted"
n_copy=$(grep -c '^COPY ' "$T/dump.sql")
n_root_copy=$(grep -c '^COPY public.m ' "$T/root.sql")
check "the dump has COPY blocks ($n_copy)" test "$n_copy" -ge 10
check "--load-via-partition-root loads the leaves through public.m ($n_root_copy)" test "$n_root_copy" -eq 3

absent() { ! grep -q "$@"; }

fresh_target() {
	psql_as tgt postgres -c "DROP DATABASE IF EXISTS synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}

# The plain tables (relkind r) of public, and per table the pages that hold
# rows but are not all-visible in pg_class.relallvisible's count, or not
# all-frozen in the visibility map (pg_visibility).  Pages without rows are
# not counted: from PostgreSQL 16 on, COPY extends a table by several new
# pages at once, and a new page is left out of the map by COPY FREEZE and
# VACUUM alike.
plain_tables() {
	psql_as tgt synapse -At -c "SELECT c.oid::regclass FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1"
}
row_pages() { # TABLE
	psql_as tgt synapse -At -c "SELECT count(DISTINCT (ctid::text::point)[0]) FROM $1"
}
not_all_visible() {
	local t rp av out=
	while read -r t; do
		rp=$(row_pages "$t")
		av=$(psql_as tgt synapse -At -c "SELECT relallvisible FROM pg_class WHERE oid = '$t'::regclass")
		[ "$av" -ge "$rp" ] || out+="$t $av/$rp "
	done < <(plain_tables)
	echo "$out"
}
not_frozen() {
	local t n out=
	psql_as tgt synapse -c "CREATE EXTENSION IF NOT EXISTS pg_visibility" >/dev/null
	while read -r t; do
		n=$(psql_as tgt synapse -At -c "SELECT count(*) FROM (SELECT DISTINCT (ctid::text::point)[0]::bigint AS b FROM $t) p LEFT JOIN pg_visibility_map('$t'::regclass) v ON v.blkno = p.b WHERE NOT coalesce(v.all_frozen, false)")
		[ "$n" -eq 0 ] || out+="$t ($n pages) "
	done < <(plain_tables)
	psql_as tgt synapse -c "DROP EXTENSION pg_visibility" >/dev/null
	echo "$out"
}
n_pages() {
	psql_as tgt synapse -At -c "SELECT sum(relpages) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
}
# tables (r, p) of public never analyzed
not_analyzed() {
	psql_as tgt synapse -At -c "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'public' AND last_analyze IS NULL AND last_autoanalyze IS NULL"
}
n_tables() {
	psql_as tgt synapse -At -c "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'public'"
}
same_as_source() {
	cmp -s "$T/src.sorted" <(tgt_dump | sort)
}
# check_ready LABEL: the import left every table frozen, all-visible,
# analyzed, and the data equal to the source
check_ready() {
	local bad
	bad=$(not_all_visible)
	check "$1: every page with rows of every plain table is counted in relallvisible ($(n_pages) pages)${bad:+: $bad}" test -z "$bad"
	bad=$(not_frozen)
	check "$1: pg_visibility: every page all-frozen${bad:+: not $bad}" test -z "$bad"
	check "$1: every table analyzed ($(n_tables) tables)" test "$(not_analyzed)" -eq 0
	check "$1: the target equals the source" same_as_source
}

# single transaction
fresh_target
psql_as tgt synapse -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
send_nc "$T/dump.sql" "$T/out1"
check "single: OK" grep -q '^OK import into synapse committed' "$T/out1"
n_freeze=$(sed -n 's/^  rule copy-freeze: rewritten \([0-9]*\) statements$/\1/p' "$T/out1")
check "single: every COPY took FREEZE ($n_freeze of $n_copy)" test "${n_freeze:-0}" -eq "$n_copy"
check "single: the summary shows the analyze phase" grep -Eq "^  analyze +[0-9.]+ s  [0-9]+ tables, inside the import's transaction$" "$T/out1"
check_ready "single"

# --load-via-partition-root: the partitioned root is loaded without FREEZE
fresh_target
send_nc "$T/root.sql" "$T/out2"
check "--load-via-partition-root: OK" grep -q '^OK import into synapse committed' "$T/out2"
n_freeze=$(sed -n 's/^  rule copy-freeze: rewritten \([0-9]*\) statements$/\1/p' "$T/out2")
check "--load-via-partition-root: FREEZE on all but the partitioned root ($n_freeze)" \
	test "${n_freeze:-0}" -eq $(($(grep -c '^COPY ' "$T/root.sql") - n_root_copy))
check "--load-via-partition-root: the target equals the source" same_as_source

# a table the dump did not create (another schema, not cleared): no FREEZE
fresh_target
psql_as tgt synapse -c "CREATE SCHEMA keep AUTHORIZATION $TARGET_USER" -c "CREATE TABLE keep.t (a int)" -c "ALTER TABLE keep.t OWNER TO $TARGET_USER" >/dev/null
awk '!done && /^COPY /{print "COPY keep.t (a) FROM stdin;"; print "1"; print "2"; print "\\."; print ""; done=1} {print}' "$T/dump.sql" >"$T/keep.sql"
send_nc "$T/keep.sql" "$T/out3"
check "a table the dump did not create: OK" grep -q '^OK import into synapse committed' "$T/out3"
n_freeze=$(sed -n 's/^  rule copy-freeze: rewritten \([0-9]*\) statements$/\1/p' "$T/out3")
check "a table the dump did not create: loaded without FREEZE ($n_freeze of $((n_copy + 1)))" test "${n_freeze:-0}" -eq "$n_copy"
check "a table the dump did not create: its rows are in" test "$(psql_as tgt synapse -At -c 'SELECT count(*) FROM keep.t')" -eq 2
serve_stop

# --no-analyze
fresh_target
serve_start --progress-interval 0 --no-analyze || { not_ok "daemon starts (--no-analyze)"; exit 1; }
send_nc "$T/dump.sql" "$T/out4"
serve_stop
check "--no-analyze: OK" grep -q '^OK import into synapse committed' "$T/out4"
check "--no-analyze: the summary says so" grep -Eq '^  analyze +0\.0 s  none: --no-analyze$' "$T/out4"
check "--no-analyze: no table analyzed" test "$(not_analyzed)" -eq "$(n_tables)"

# --jobs 2: the vacuum phase
fresh_target
serve_start --progress-interval 0 --jobs 2 || { not_ok "daemon starts (--jobs 2)"; exit 1; }
send_nc "$T/dump.sql" "$T/out5"
serve_stop
check "--jobs 2: OK" grep -q '^OK import into synapse committed' "$T/out5"
check "--jobs 2: no COPY FREEZE (batches commit on other connections)" absent 'copy-freeze' "$T/out5"
check "--jobs 2: the summary shows the vacuum phase" grep -Eq '^  vacuum +[0-9.]+ s  VACUUM \(FREEZE, ANALYZE\) of [0-9]+ tables on 2 connections, begun with [0-9]+ statements of the dump left$' "$T/out5"
check_ready "--jobs 2"

# --jobs 2 --no-analyze: no vacuum phase either
fresh_target
serve_start --progress-interval 0 --jobs 2 --no-analyze || { not_ok "daemon starts (--jobs 2 --no-analyze)"; exit 1; }
send_nc "$T/dump.sql" "$T/out6"
serve_stop
check "--jobs 2 --no-analyze: OK, no vacuum phase" grep -Eq '^  vacuum +0\.0 s  none: --no-analyze$' "$T/out6"
check "--jobs 2 --no-analyze: no table analyzed" test "$(not_analyzed)" -eq "$(n_tables)"

# --jobs 2: a table's VACUUM (FREEZE, ANALYZE) runs as soon as the dump's
# statements on it have, beside the rest of post-data: here an index whose
# predicate sleeps 1.5 s per row while an index is built (3 s; not while
# ANALYZE evaluates it); every other table is analyzed during that build
# (before the engine was idle: the vacuum phase used to begin only then),
# and still every page ends all-visible.  Without the partitioned table:
# its ALTER INDEX ... ATTACH PARTITION names no table, so it runs alone,
# after the index and before the VACUUMs.
psql_as src synapse >/dev/null <<'SQL' || { not_ok "source: the slow index"; exit 1; }
SET ROLE synapse;
CREATE FUNCTION public.slow(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
	AS $$BEGIN
		IF pg_catalog.current_query() ~* '^\s*CREATE INDEX' THEN PERFORM pg_catalog.pg_sleep(1.5); END IF;
		RETURN $1 > 0;
	END$$;
CREATE TABLE public.zslow (a int);
INSERT INTO public.zslow VALUES (1), (2);
CREATE INDEX zslow_i ON public.zslow (a) WHERE public.slow(a);
SQL
src_pg_dump -O -T 'public.m*' >"$T/slow.sql"
pg_dump_of src synapse -O -x -T 'public.m*' | sort >"$T/src.sorted"
fresh_target
serve_start --progress-interval 0 --jobs 2 || { not_ok "daemon starts (--jobs 2, slow index)"; exit 1; }
send_nc "$T/slow.sql" "$T/out7"
serve_stop
check "--jobs 2, slow index: OK" grep -q '^OK import into synapse committed' "$T/out7"
left=$(sed -n 's/^  vacuum .* begun with \([0-9]*\) statements of the dump left$/\1/p' "$T/out7")
check "--jobs 2, slow index: the vacuum phase began with the index left (${left:-?} statements)" test "${left:-0}" -ge 1
# seconds from the last other table's ANALYZE to zslow's (but the one
# analyzed again after all, whose synchronous commit flushes the WAL)
gap=$(psql_as tgt synapse -At -c "SELECT extract(epoch FROM max(last_analyze) FILTER (WHERE relname = 'zslow') - max(last_analyze) FILTER (WHERE relname <> 'zslow' AND analyze_count = 1))::numeric(6,2) FROM pg_stat_user_tables WHERE schemaname = 'public'")
n_again=$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'public' AND analyze_count > 1")
check "--jobs 2, slow index: at most one table analyzed twice ($n_again)" test "$n_again" -le 1
check "--jobs 2, slow index: every other table analyzed during the index build (${gap:-?} s before zslow)" awk -v g="${gap:-0}" 'BEGIN { exit !(g >= 1.5) }'
check_ready "--jobs 2, slow index"
