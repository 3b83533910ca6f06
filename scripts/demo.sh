#!/bin/bash
# demo.sh - `make demo`: one import, end to end, on this machine alone.
#
# Starts two scratch PostgreSQL clusters (under .demo/, on free loopback
# ports): the "old host's", with a small chat-server-shaped database owned
# by the role chat_owner (scripts/demo-sample.sql), and the "EES host's",
# with an empty target database owned by the non-superuser synapse_user and
# no chat_owner role.  Starts
#
#	pgsluice serve --once --clear-target --target "... user=synapse_user"
#
# and pipes `pg_dump sample | gzip | nc -N` into it, as an operator would
# from the old host.  nc shows the daemon's progress and summary.  Then it
# compares row counts, the sequence and the owners, prints what happened,
# stops the clusters (also on failure or Ctrl-C) and exits 0 on success.
#
# Needs no terminal (CI runs it) and nothing outside the repository beyond
# the Debian packages `make test-deps` installs (postgresql, netcat-openbsd,
# gzip).  Run as root, the clusters run as the postgres user; when that user
# cannot reach .demo/ (a checkout under /root), they go to a temporary
# folder under /tmp instead, and the demo says so.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGSLUICE=$ROOT/pgsluice
SAMPLE_SQL=$ROOT/scripts/demo-sample.sql
DEMO=$ROOT/.demo

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# The PostgreSQL binaries: 15 (Debian 12's), else the newest installed.
if [ -z "${PGBIN:-}" ]; then
	PGBIN=/usr/lib/postgresql/15/bin
	if [ ! -x "$PGBIN/initdb" ]; then
		PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	fi
fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] ||
	die "PostgreSQL server binaries not found (install the postgresql package, or run make demo as root to have it installed)"
command -v nc >/dev/null || die "nc not found (install netcat-openbsd)"
NC_HELP=$(nc -h 2>&1 || true)
[[ $NC_HELP == *"-N"* ]] || die "this nc has no -N option (shut down after EOF); install netcat-openbsd"
[ -x "$PGSLUICE" ] || die "$PGSLUICE not built: run make demo (or make) first"

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

. "$ROOT/scripts/free_port.sh"

# ---- where the clusters live ------------------------------------------------

mkdir -p "$DEMO"
rm -rf "$DEMO/pg" "$DEMO"/*.log "$DEMO"/*.txt "$DEMO"/*.sql
BASE=$DEMO/pg
TMPBASE=""
mkdir -p "$BASE"
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "no postgres user: install the postgresql package"
	chown postgres: "$BASE"
	if ! runuser -u postgres -- test -w "$BASE"; then
		rmdir "$BASE"
		TMPBASE=$(mktemp -d /tmp/pgsluice-demo.XXXXXX)
		chmod 755 "$TMPBASE"
		BASE=$TMPBASE/pg
		mkdir "$BASE"
		chown postgres: "$BASE"
		echo "demo: the postgres user cannot reach $DEMO (a parent folder is closed to it);"
		echo "demo: the scratch clusters go to $BASE instead (removed at the end)"
	fi
fi

SERVE_PID=""
CLUSTERS=()
OKAY=0
cleanup() {
	local rc=$? c
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	for c in "${CLUSTERS[@]}"; do
		as_pg "$PGBIN/pg_ctl" -D "$BASE/$c" -m fast -w stop >/dev/null 2>&1 ||
			as_pg "$PGBIN/pg_ctl" -D "$BASE/$c" -m immediate stop >/dev/null 2>&1 || true
	done
	if [ "$OKAY" -eq 1 ]; then
		rm -rf "$BASE"
		[ -n "$TMPBASE" ] && rm -rf "$TMPBASE"
	else
		echo "demo: failed; logs are in $DEMO and $BASE/*/server.log" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# start_cluster NAME: initdb and start $BASE/NAME on a free loopback port,
# which is put in PORT_NAME
start_cluster() {
	local name=$1 dir=$BASE/$1 port try
	as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$DEMO/initdb-$name.log" 2>&1 ||
		{ cat "$DEMO/initdb-$name.log" >&2; die "initdb failed"; }
	for try in 1 2 3 4 5; do
		port=$(free_port)
		{
			echo "listen_addresses = '127.0.0.1'"
			echo "port = $port"
			echo "unix_socket_directories = '$dir'"
			echo "fsync = off"
			echo "max_connections = 20"
		} >"$dir/postgresql.auto.conf"
		if as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; then
			CLUSTERS+=("$name")
			printf -v "PORT_$name" '%s' "$port"
			return 0
		fi
	done
	cat "$dir/server.log" >&2 || true
	die "the $name cluster did not start"
}

# psql_at NAME DB [psql args]: superuser psql on cluster NAME
psql_at() {
	local port="PORT_$1" db=$2; shift 2
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${!port}" -U postgres -d "$db" "$@"
}

# ---- two scratch clusters: the old host's and the EES host's -----------------

say "Two scratch PostgreSQL clusters ($("$PGBIN/postgres" --version | sed 's/^postgres (PostgreSQL) //'))"
start_cluster old
start_cluster ees
echo "old host's cluster: 127.0.0.1:$PORT_old    EES host's cluster: 127.0.0.1:$PORT_ees"
echo "(data under $BASE, stopped and removed at the end)"

say "On the old host: database \"sample\", owned by the role chat_owner"
psql_at old postgres <<'SQL'
CREATE ROLE chat_owner LOGIN;
CREATE DATABASE sample OWNER chat_owner;
SQL
psql_at old sample -f "$SAMPLE_SQL" >"$DEMO/sample.log" 2>&1 ||
	{ cat "$DEMO/sample.log" >&2; die "loading $SAMPLE_SQL failed"; }
psql_at old sample -At -F ' ' -c "SELECT c.relname, CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE 'table' END,
	pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v') ORDER BY 1" |
	while read -r rel kind owner; do printf '  %-8s %-24s owner %s\n' "$kind" "$rel" "$owner"; done

say "On the EES host: database \"target\", empty, owned by synapse_user (no superuser, no chat_owner role)"
psql_at ees postgres <<'SQL'
CREATE ROLE synapse_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE target OWNER synapse_user ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
SQL

# ---- the daemon ---------------------------------------------------------------

PORT=$(free_port)
say "pgsluice serve --once --clear-target on 127.0.0.1:$PORT"
"$PGSLUICE" serve --once --clear-target --verbose --progress-interval 0.5 \
	--target "host=127.0.0.1 port=$PORT_ees dbname=target user=synapse_user" \
	--listen "127.0.0.1:$PORT" 2>"$DEMO/serve.log" &
SERVE_PID=$!
for i in $(seq 1 100); do
	grep -q "listening on" "$DEMO/serve.log" 2>/dev/null && break
	kill -0 "$SERVE_PID" 2>/dev/null || { cat "$DEMO/serve.log" >&2; SERVE_PID=""; die "pgsluice serve exited at start"; }
	sleep 0.1
done
grep -q "listening on" "$DEMO/serve.log" || { cat "$DEMO/serve.log" >&2; die "pgsluice serve did not start listening"; }
sed 's/^/  log: /' "$DEMO/serve.log"

# ---- the import ---------------------------------------------------------------

say "pg_dump sample | gzip | nc -N 127.0.0.1 $PORT"
DUMP_BYTES=$("$PGBIN/pg_dump" -h 127.0.0.1 -p "$PORT_old" -U postgres sample | wc -c)
# the pipe an operator runs on the old host
set +e
"$PGBIN/pg_dump" -h 127.0.0.1 -p "$PORT_old" -U postgres sample | gzip | nc -N 127.0.0.1 "$PORT" | tee "$DEMO/answer.txt"
set -e
SERVE_RC=0
wait "$SERVE_PID" || SERVE_RC=$?
SERVE_PID=""
if [ "$SERVE_RC" -ne 0 ] || ! grep -q '^OK' "$DEMO/answer.txt"; then
	echo "--- pgsluice serve's log ---" >&2
	cat "$DEMO/serve.log" >&2
	die "the import did not commit (pgsluice serve exited $SERVE_RC)"
fi

# ---- verification -------------------------------------------------------------

say "Verification: row counts, source vs target"
counts() {
	psql_at "$1" "$2" -At -F ' ' <<'SQL'
SELECT 'users', count(*) FROM users UNION ALL
SELECT 'rooms', count(*) FROM rooms UNION ALL
SELECT 'events', count(*) FROM events UNION ALL
SELECT 'room_memberships', count(*) FROM room_memberships UNION ALL
SELECT 'devices', count(*) FROM devices
SQL
}
counts old sample >"$DEMO/counts-sample.txt"
counts ees target >"$DEMO/counts-target.txt"
paste -d ' ' "$DEMO/counts-sample.txt" "$DEMO/counts-target.txt" |
	while read -r t a _ b; do
		printf '  %-18s %6s %6s  %s\n' "$t" "$a" "$b" "$([ "$a" = "$b" ] && echo same || echo DIFFERENT)"
	done
cmp -s "$DEMO/counts-sample.txt" "$DEMO/counts-target.txt" || die "row counts differ"
SEQ_SRC=$(psql_at old sample -At -c "SELECT last_value FROM event_stream_ordering")
SEQ_DST=$(psql_at ees target -At -c "SELECT last_value FROM event_stream_ordering")
printf '  %-18s %6s %6s  %s\n' "sequence" "$SEQ_SRC" "$SEQ_DST" "$([ "$SEQ_SRC" = "$SEQ_DST" ] && echo same || echo DIFFERENT)"
[ "$SEQ_SRC" = "$SEQ_DST" ] || die "event_stream_ordering differs"
OWNERS=$(psql_at ees target -At -c "SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
echo "  owner of every object in target.public: $OWNERS"
[ "$OWNERS" = "synapse_user" ] || die "objects in the target are owned by $OWNERS, not synapse_user"
BODY=$(psql_at ees target -At -c "SELECT content->>'body' FROM events WHERE event_id = '\$e7'")
printf '  a message body, read back from the target:\n%s\n' "$BODY" | sed '2,$s/^/    | /'

OKAY=1
say "What happened"
cat <<EOF
- On the "old host", pg_dump wrote a $DUMP_BYTES-byte plain dump of "sample",
  with OWNER TO chat_owner lines; gzip compressed it; nc sent it to pgsluice
  on the "EES host", which inflated it on the fly: no copy of the dump was
  written to disk on the way.
- pgsluice checked the target first (role, what the schema holds), then
  replayed the dump in one transaction as synapse_user, dropping the OWNER
  TO lines, so everything is owned by synapse_user; it committed at the
  dump's trailer line and sent the summary above back through nc.
- Row counts, the event sequence and the owners were checked above.
Daemon log: $DEMO/serve.log.  The scratch clusters are stopped and removed.
Next: \`pgsluice send --help\` (the same import, with a progress bar, TLS and
an exit status), and the migration guide in README.md.
EOF
