#!/bin/bash
# jobs_memory.sh - `serve --jobs 2`: statements that wait for a connection
# (the look-ahead) cannot pile up in memory.  After a small table and its
# COPY, 40 statements of 6 MB each (a long string literal) that each run
# for 0.15 s and touch no known table, so they run one at a time and the
# rest wait: 240 MB if they were all taken.  The daemon's RSS, sampled every
# 100 ms, must stay under 160 MiB (the look-ahead stops taking statements
# at 64 MiB), and the import must commit.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"

BOUND_KB=$((160 * 1024))
serve_clusters || { not_ok "clusters start"; exit 1; }
python3 - "$T/big.sql" <<'PY'
import sys
big = "x" * (6 * 1024 * 1024)
with open(sys.argv[1], "w") as f:
    f.write("SET statement_timeout = 0;\n")
    f.write("CREATE TABLE public.t (i integer);\n")
    f.write("COPY public.t (i) FROM stdin;\n1\n2\n\\.\n")
    f.write("CREATE FUNCTION public.nap() RETURNS boolean LANGUAGE sql AS $$SELECT pg_catalog.pg_sleep(0.15) IS NOT NULL$$;\n")
    f.write("CREATE TABLE public.big (i integer, b text CHECK (public.nap()));\n")
    for i in range(40):
        f.write("INSERT INTO public.big VALUES (%d, '%s');\n" % (i, big))
    f.write("-- PostgreSQL database dump complete\n")
PY
serve_start --once --progress-interval 0 --jobs 2 || { not_ok "daemon starts"; exit 1; }
rss_watch "$SPID" "$T/rss"
send_nc "$T/big.sql" "$T/out"
wait_pid "$SPID"
rc=$?
max_kb=$(rss_max "$T/rss")
sed 's/^/# /' "$T/out" | head -3
check "40 statements of 6 MB under --jobs 2: OK" grep -q '^OK import into synapse committed' "$T/out"
check "--once: exit 0" test "$rc" -eq 0
check "max RSS ${max_kb} kB < $BOUND_KB kB (240 MB of statements)" test "$max_kb" -lt "$BOUND_KB"
check "the rows are in" test "$(psql_as tgt synapse -At -c 'SELECT count(*) FROM public.t')" -eq 2
echo "# figures: max RSS ${max_kb} kB for 40 x 6 MB statements under --jobs 2"
