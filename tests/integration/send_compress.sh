#!/bin/bash
# send_compress.sh - `pgsluice send --compress zstd[:LEVEL] [--threads N]`.
# What send puts on the wire, caught by a listener that keeps it, is one
# zstd stream that the zstd tool decodes to the input byte for byte (a
# file, a pipe; 0, 1 and 2 worker threads; a level); input that is already
# gzip, zstd or lz4 goes out as it is, never compressed twice; imports
# through the real daemon commit and equal the source, the daemon naming
# the format; a dump cut short is compressed whole but refused as
# truncated, the target unchanged; bad options are usage errors.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/send_common.bash"

pg_start src || { not_ok "start the source cluster"; exit 1; }
pg_start dst || { not_ok "start the target cluster"; exit 1; }
psql_as src postgres -c "CREATE ROLE chat_owner LOGIN" -c "CREATE DATABASE sample OWNER chat_owner" &&
	psql_as src sample -f "$ROOT/scripts/demo-sample.sql" >"$T/sample-load.log" 2>&1 ||
	{ cat "$T/sample-load.log"; not_ok "build the sample database"; exit 1; }
# some bulk, so that the frame spans several of zstd's jobs
psql_as src sample -c "CREATE TABLE bulk AS SELECT g, md5(g::text) AS h FROM generate_series(1, 300000) g" \
	-c "ALTER TABLE bulk OWNER TO chat_owner" >/dev/null || { not_ok "bulk table"; exit 1; }
psql_as dst postgres -c "CREATE ROLE synapse_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" \
	-c "CREATE DATABASE target OWNER synapse_user" >/dev/null || { not_ok "create the target"; exit 1; }
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O sample >"$T/sample.sql" || { not_ok "pg_dump"; exit 1; }
gzip -c "$T/sample.sql" >"$T/sample.sql.gz"
zstd -q -c "$T/sample.sql" >"$T/sample.sql.zst"
lz4 -q -c "$T/sample.sql" >"$T/sample.sql.lz4" 2>/dev/null || lz4 -c "$T/sample.sql" >"$T/sample.sql.lz4"
TARGET="host=127.0.0.1 port=$(pg_port dst) user=synapse_user dbname=target"
dump_of() { pg_dump_of "$1" "$2" -O -x; }

# a listener that keeps every byte it gets, then closes (send exits 3: no answer)
KEEP_PY='import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[2] + ".tmp", "w").write(str(s.getsockname()[1])); __import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
s.settimeout(60); c,_=s.accept(); c.settimeout(60)
with open(sys.argv[1], "wb") as f:
    while True:
        b=c.recv(65536)
        if not b: break
        f.write(b)
c.close()'
keep_start() { # FILE: sets KEEP_PORT, KEEP_PID
	local i
	rm -f "$T/keep.port"
	timeout 90 python3 -c "$KEEP_PY" "$1" "$T/keep.port" &
	KEEP_PID=$!
	bg_track "$KEEP_PID"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/keep.port" ] && break
		sleep 0.1
	done
	KEEP_PORT=$(cat "$T/keep.port" 2>/dev/null)
	[ -n "$KEEP_PORT" ] || echo "# the keeping listener did not start within 10 s" >&2
}
wire() { # NAME INPUT-FILE|pipe:FILE [send args]: $T/NAME.wire
	local name=$1 in=$2
	shift 2
	keep_start "$T/$name.wire"
	if [[ $in == pipe:* ]]; then
		cat "${in#pipe:}" | timeout 60 "$PGSLUICE" send "$@" "127.0.0.1:$KEEP_PORT" >"$T/$name.out" 2>"$T/$name.err"
	else
		timeout 60 "$PGSLUICE" send "$@" "127.0.0.1:$KEEP_PORT" "$in" >"$T/$name.out" 2>"$T/$name.err"
	fi
	RC=$?
	wait "$KEEP_PID" 2>/dev/null
}

plain_size=$(stat -c %s "$T/sample.sql")
for v in "file --compress zstd" "pipe --compress zstd" "file --compress zstd:9 --threads 0" \
	"pipe --compress zstd --threads 1" "file --compress zstd:1 --threads 2"; do
	set -- $v
	how=$1
	shift
	in=$T/sample.sql
	[ "$how" = pipe ] && in=pipe:$T/sample.sql
	wire rt "$in" "$@"
	if zstd -q -d -c "$T/rt.wire" | cmp -s - "$T/sample.sql"; then
		ok "$how $*: the wire holds zstd that decodes to the input ($plain_size -> $(stat -c %s "$T/rt.wire") bytes)"
	else
		not_ok "$how $*: the wire holds zstd that decodes to the input"
		head -c 16 "$T/rt.wire" | od -An -tx1 | sed 's/^/# /'
		sed 's/^/# stderr: /' "$T/rt.err" | head -5
	fi
done

for f in gz zst lz4; do
	for how in file pipe; do
		in=$T/sample.sql.$f
		[ "$how" = pipe ] && in=pipe:$in
		wire pass "$in" --compress zstd
		check "$f ($how): passed through byte for byte, not compressed twice" cmp -s "$T/pass.wire" "$T/sample.sql.$f"
		check "$f ($how): send says so" grep -q "is $( case $f in gz) echo gzip ;; zst) echo zstd ;; *) echo lz4 ;; esac) already: sent as it is" "$T/pass.err"
	done
done
head -c 3 "$T/sample.sql" >"$T/tiny.sql"
wire tiny "$T/tiny.sql" --compress zstd
check "an input of 3 bytes round-trips" sh -c "zstd -q -d -c '$T/tiny.wire' | cmp -s - '$T/tiny.sql'"

# through the daemon
start_serve real --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
dump_of src sample >"$T/src.dump"
run_send file --compress zstd "127.0.0.1:$SERVE_PORT" "$T/sample.sql"
expect file 0 '^OK import into target committed'
check "daemon: the import came as zstd" grep -q '^  elapsed .*zstd' "$T/file.out"
check "daemon: the target equals the source" cmp -s "$T/src.dump" <(dump_of dst target)
RC=0; cat "$T/sample.sql" | timeout 120 "$PGSLUICE" send --compress zstd:5 --threads 2 "127.0.0.1:$SERVE_PORT" >"$T/pipe.out" 2>"$T/pipe.err" || RC=$?
expect pipe 0 '^OK import into target committed'
run_send gz --compress zstd "127.0.0.1:$SERVE_PORT" "$T/sample.sql.gz"
expect gz 0 '^OK import into target committed' 'is gzip already: sent as it is'
check "daemon: the gzip input arrived as gzip" grep -q '^  elapsed .*gzip' "$T/gz.out"

# a cut dump: compressed whole, refused as truncated, target unchanged
dump_of dst target >"$T/before.dump"
head -c $((plain_size / 2)) "$T/sample.sql" >"$T/cut.sql"
run_send cut --compress zstd "127.0.0.1:$SERVE_PORT" "$T/cut.sql"
expect cut 1 '^ERROR .*truncated'
check "cut: the target is unchanged" cmp -s "$T/before.dump" <(dump_of dst target)
stop_serve

run_send badlevel --compress zstd:30 127.0.0.1:1 "$T/sample.sql"
expect badlevel 2 '' 'want zstd or zstd:LEVEL'
run_send badname --compress gzip 127.0.0.1:1 "$T/sample.sql"
expect badname 2 '' 'want zstd or zstd:LEVEL'
run_send threads --threads 2 127.0.0.1:1 "$T/sample.sql"
expect threads 2 '' '--threads needs --compress zstd'
