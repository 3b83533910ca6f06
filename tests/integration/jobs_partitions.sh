#!/bin/bash
# jobs_partitions.sh - `serve --jobs 2` keeps the order of statements on
# one table hierarchy: a trigger created on a partitioned parent (so cloned
# onto every partition), disabled on the parent (which recurses into the
# partitions) and enabled again on one partition, plus an inheritance
# child, indexes on the parent and the partitions, and a foreign key to a
# partitioned table.  Imported twenty times with --jobs 2, each into a new
# database: every trigger's state, and pg_dump of the target, equal the
# source's each time.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"

RUNS=${PGSLUICE_PARTITION_RUNS:-20}
serve_clusters || { not_ok "clusters start"; exit 1; }
psql_as src synapse >/dev/null <<'SQL' || { not_ok "source schema"; exit 1; }
SET ROLE synapse;
CREATE FUNCTION public.note() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TABLE public.m (id integer NOT NULL, k integer NOT NULL, v text) PARTITION BY RANGE (k);
CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (100);
CREATE TABLE public.m2 PARTITION OF public.m FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (k);
CREATE TABLE public.m2a PARTITION OF public.m2 FOR VALUES FROM (100) TO (150);
CREATE TABLE public.m2b PARTITION OF public.m2 FOR VALUES FROM (150) TO (200);
CREATE TABLE public.m3 (id integer NOT NULL, k integer NOT NULL, v text);
ALTER TABLE public.m ATTACH PARTITION public.m3 FOR VALUES FROM (200) TO (300);
INSERT INTO public.m SELECT g, g % 300, repeat('x', g % 50) FROM generate_series(1, 30000) g;
ALTER TABLE public.m ADD PRIMARY KEY (id, k);
CREATE INDEX m_v ON public.m (v);
CREATE INDEX m1_v2 ON public.m1 (id, v);
CREATE TRIGGER t_ins AFTER INSERT ON public.m FOR EACH ROW EXECUTE FUNCTION public.note();
CREATE TRIGGER t_upd AFTER UPDATE ON public.m FOR EACH ROW EXECUTE FUNCTION public.note();
ALTER TABLE public.m DISABLE TRIGGER t_ins;
ALTER TABLE public.m1 ENABLE TRIGGER t_ins;
ALTER TABLE public.m2a ENABLE ALWAYS TRIGGER t_ins;
ALTER TABLE public.m2 DISABLE TRIGGER t_upd;
ALTER TABLE public.m2b ENABLE REPLICA TRIGGER t_upd;
CREATE TABLE public.cities (name text PRIMARY KEY, population integer);
CREATE TABLE public.capitals (state character(2)) INHERITS (public.cities);
INSERT INTO public.capitals SELECT 'c' || g, g, 'st' FROM generate_series(1, 2000) g;
CREATE INDEX capitals_state ON public.capitals (state);
CREATE TRIGGER c_ins AFTER INSERT ON public.capitals FOR EACH ROW EXECUTE FUNCTION public.note();
ALTER TABLE public.cities DISABLE TRIGGER ALL;
ALTER TABLE public.capitals DISABLE TRIGGER c_ins;
CREATE TABLE public.refs (id integer, k integer, FOREIGN KEY (id, k) REFERENCES public.m (id, k));
INSERT INTO public.refs SELECT g, g % 300 FROM generate_series(1, 3000) g;
SQL
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O synapse >"$T/dump.sql"
check "the dump disables the parent's trigger and enables a partition's" \
	grep -q 'ALTER TABLE public.m1 ENABLE TRIGGER t_ins' "$T/dump.sql"

trigger_states() {
	psql_as "$1" synapse -At -c "SELECT c.relname || ' ' || t.tgname || ' ' || t.tgenabled::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1"
}
trigger_states src >"$T/src.triggers"
check "the source has trigger states on 8 tables" test "$(wc -l <"$T/src.triggers")" -ge 8
src_dump | sort >"$T/src.sorted"

serve_start --progress-interval 0 --jobs 2 --verbose || { not_ok "daemon starts (--jobs 2)"; exit 1; }
ok_runs=0 bad_triggers=0 bad_dumps=0 failed=0
for ((run = 1; run <= RUNS; run++)); do
	psql_as tgt postgres -c "DROP DATABASE IF EXISTS synapse" -c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
	send_nc "$T/dump.sql" "$T/out"
	if ! grep -q '^OK import into synapse committed' "$T/out"; then
		failed=$((failed + 1))
		echo "# run $run: $(result_line "$T/out")"
		continue
	fi
	trigger_states tgt >"$T/tgt.triggers"
	if ! cmp -s "$T/src.triggers" "$T/tgt.triggers"; then
		bad_triggers=$((bad_triggers + 1))
		diff "$T/src.triggers" "$T/tgt.triggers" | sed "s/^/# run $run: /" | head -5
		continue
	fi
	if ! cmp -s "$T/src.sorted" <(tgt_dump | sort); then
		bad_dumps=$((bad_dumps + 1))
		continue
	fi
	ok_runs=$((ok_runs + 1))
done
serve_stop
check "--jobs 2: $RUNS imports committed (failed: $failed)" test "$failed" -eq 0
check "--jobs 2: every trigger's state equals the source's in all $RUNS imports (wrong in $bad_triggers)" test "$bad_triggers" -eq 0
check "--jobs 2: pg_dump equals the source in all $RUNS imports (different in $bad_dumps)" test "$bad_dumps" -eq 0
check "--jobs 2: $ok_runs of $RUNS imports equal the source" test "$ok_runs" -eq "$RUNS"
check "--jobs 2: both connections were used" grep -q -- '--jobs connection 1 up' "$T/serve.log"
