#!/bin/bash
# fault_space.sh - the target runs out of space.  The target database lives
# in a tablespace on a small tmpfs (mounted here, as root; skipped loudly
# when mounting is not permitted), with room for its catalogs and a few MB
# more, less than the Synapse fixture needs.  The import must fail with the
# server's error (SQLSTATE 53100) reaching the client, the target as it
# was, the space given back, and the daemon serving the next import.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

SPACE=$T/space
mkdir -p "$SPACE"
# the cluster must stop before the tmpfs goes, and the tmpfs before $T
space_cleanup() {
	_as_postgres pg_ctl -D "$T/pg-tgt" -m immediate stop >/dev/null 2>&1
	mountpoint -q "$SPACE" && umount "$SPACE"
	_cleanup
}
trap space_cleanup EXIT

fault_setup || { not_ok "cluster and reference"; exit 1; }
# room for a new database's catalogs (template0) and 4 MB more
t0_kb=$(psql_as tgt postgres -At -c "SELECT pg_database_size('template0') / 1024")
ref_kb=$(psql_as tgt postgres -At -c "SELECT pg_database_size('reference') / 1024")
size_mb=$(((t0_kb + 1023) / 1024 + 4))
if ! mount -t tmpfs -o "size=${size_mb}m,mode=0700" tmpfs "$SPACE" 2>"$T/mount.err"; then
	skip "out of space: cannot mount a tmpfs here ($(cat "$T/mount.err")); run as root with CAP_SYS_ADMIN to test it"
	echo "WARNING: fault_space skipped: mount -t tmpfs is not permitted" >&2
	exit 0
fi
chown postgres: "$SPACE"
echo "# tmpfs of $size_mb MB for the target database (template0 is $((t0_kb / 1024)) MB, the fixture restored $((ref_kb / 1024)) MB)"
psql_as tgt postgres -c "CREATE TABLESPACE small LOCATION '$SPACE'" >/dev/null || { not_ok "tablespace on the tmpfs"; exit 1; }

# the target database in that tablespace: its tables go there too (the
# dump's SET default_tablespace = '' means the database's own)
tgt_reset() {
	PGOPTIONS="-c client_min_messages=warning" psql_as tgt postgres -c "DROP DATABASE IF EXISTS synapse WITH (FORCE)" \
		-c "CREATE DATABASE synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TABLESPACE small" >/dev/null || return 1
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port tgt)" -U "$TARGET_USER" -d synapse \
		-c "CREATE SCHEMA keep" -c "CREATE TABLE keep.t (x int)" -c "INSERT INTO keep.t VALUES (42)" >/dev/null
}
tgt_reset || { not_ok "target database in the small tablespace"; exit 1; }
tgt_dump >"$T/before.sql"
free_before=$(df -k --output=avail "$SPACE" | tail -1)
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }

"$CUT" -t 120 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
grep -E '^(ERROR|  )' "$T/out" | head -5 | sed 's/^/# /'
check "out of space: the server's error reaches the client (53100)" grep -q '^ERROR .*No space left on device (SQLSTATE 53100)' "$T/out"
check "out of space: rolled back" grep -q 'rolled back: the target is as it was before the import' "$T/out"
expect_unchanged "out of space"
free_after=$(df -k --output=avail "$SPACE" | tail -1)
# the aborted tables' files are truncated at ROLLBACK; the catalogs keep
# the dead rows of their definitions until VACUUM (about 1.5 MB here)
check "out of space: the space is given back (${free_before} kB free before, ${free_after} kB after)" test "$free_after" -ge $((free_before - 2560))

# the daemon goes on: a dump that fits
cat >"$T/small.sql" <<'SQL'
SET lock_timeout = 0;
CREATE TABLE public.small (id integer PRIMARY KEY, name text);
COPY public.small (id, name) FROM stdin;
1	one
2	two
\.

--
-- PostgreSQL database dump complete
--
SQL
"$CUT" 127.0.0.1 "$SPORT" "$T/small.sql" >"$T/out" 2>/dev/null
check "then a dump that fits: OK" grep -q '^OK import into synapse committed' "$T/out"
check "then a dump that fits: its rows are in" test "$(psql_as tgt synapse -At -c 'SELECT count(*) FROM public.small')" = 2
check "daemon alive" kill -0 "$SPID"
serve_stop
echo "# figures: tmpfs ${size_mb} MB; the import failed with 53100 and was rolled back; $((SECONDS - start)) s"
