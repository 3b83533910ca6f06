#!/bin/bash
# guide_steps.sh - README's migration guide, run as printed.
#
# The code blocks of the section "Migrating a Synapse homeserver to EES"
# are taken from README.md itself, step by step (steps 0, 2, 3 and 4; 1
# and 6 are prose, 5 shows output), and run in order with bash, on two
# loopback "hosts": the EES host is the folder $T/ees (its / for /etc and
# /usr/local) and the target cluster, the old host is the folder $T/old
# (its working folder and /usr/local/bin) and the source cluster.  Only
# names are substituted, never a command or an option:
#
#	ees.example.org, ees-host   localhost
#	/etc/, /usr/local           the host's folder
#	POSTGRES_HOST               127.0.0.1 port=<the target cluster's port>
#	PGPASSWORD=...              synapse_user's password
#	0.0.0.0:5480, :5480         127.0.0.1 and a free port
#	scp HOST:PATH DEST          cp PATH DEST (the hosts share a disk)
#	apt-get install PKGS        dpkg -s PKGS (installed here already), and
#	                            each library the binary needs must come
#	                            from one of PKGS (or what they depend on)
#
# The serve command of step 3 runs in the background until it listens.
# The import must then commit and the target equal the source.
. "$(dirname "$0")/../lib/common.sh"

README=$ROOT/README.md
EES=$T/ees OLD=$T/old
mkdir -p "$EES/etc" "$EES/usr/local" "$EES/home" "$OLD/usr/local/bin" "$OLD/home"

# ---- the guide's blocks, from README.md --------------------------------------------

awk -v dir="$T" '
	/^## Migrating a Synapse homeserver to EES/ { on = 1; next }
	on && /^## / { on = 0 }
	!on { next }
	match($0, /^\*\*[0-9]+\./) { step = substr($0, 3, RLENGTH - 3); blk = 0; inblk = 0; next }
	/^    / && step != "" {
		if (!inblk) { blk++; inblk = 1 }
		print substr($0, 5) >> (dir "/step-" step "-" blk ".sh")
		next
	}
	/^$/ { next }
	{ inblk = 0 }
' "$README"
for s in 0 2 3 4; do
	check "guide: README step $s has a command block" test -s "$T/step-$s-1.sh"
done

PW=Synapse-Pw-$RANDOM
pg_start src || { not_ok "guide: start the old host's cluster"; exit 1; }
pg_start tgt "password_encryption = 'scram-sha-256'" || { not_ok "guide: start the EES cluster"; exit 1; }
psql_as src postgres -c "CREATE ROLE chat_owner LOGIN" -c "CREATE DATABASE synapse OWNER chat_owner" >/dev/null &&
	psql_as src synapse -f "$ROOT/scripts/demo-sample.sql" >"$T/sample.log" 2>&1 ||
	{ cat "$T/sample.log"; not_ok "guide: build the old host's database"; exit 1; }
# the EES database: owned by synapse_user (password auth), holding what a
# first start left (a schema of its own)
psql_as tgt postgres -c "CREATE ROLE synapse_user LOGIN PASSWORD '$PW'" \
	-c "CREATE DATABASE synapse OWNER synapse_user TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null &&
	psql -X -q -h 127.0.0.1 -p "$(pg_port tgt)" -U synapse_user -d synapse \
		-c "CREATE TABLE users (name text PRIMARY KEY)" -c "INSERT INTO users VALUES ('@old:ees')" ||
	{ not_ok "guide: prepare the EES database"; exit 1; }
{
	echo "host all postgres 127.0.0.1/32 trust"
	echo "host all all 127.0.0.1/32 scram-sha-256"
} >"$T/pg-tgt/pg_hba.conf"
psql_as tgt postgres -qAt -c "SELECT pg_reload_conf()" >/dev/null
PORT=$(free_port)

# subst HOST_DIR < block: the block with the names of this machine
# (a path after "scp HOST:" is the EES host's)
subst() {
	sed -e "s#scp [A-Za-z0-9.-]*:#cp @REMOTE@#g" \
		-e "s#ees\.example\.org#localhost#g" -e "s#ees-host#localhost#g" \
		-e "s#/etc/#$1/etc/#g" -e "s#/usr/local#$1/usr/local#g" \
		-e "s#@REMOTE@$1#$EES#g" \
		-e "s#POSTGRES_HOST#127.0.0.1 port=$(pg_port tgt)#g" \
		-e "s#PGPASSWORD=\.\.\.#PGPASSWORD=$PW#g" \
		-e "s#0\.0\.0\.0:5480#127.0.0.1:$PORT#g" -e "s#:5480#:$PORT#g"
}
# on HOST_DIR BLOCK_FILE: run a block on a host: its bin on PATH, its home
# (or $ON_DIR) the working folder; the old host's pg_dump reaches the source
on() {
	local host=$1 file=$2
	subst "$host" <"$file" >"$file.run"
	echo "# on ${host#"$T"/}: $(tr '\n' ' ' <"$file.run")"
	(
		cd "${ON_DIR:-$host/home}" || exit 1
		export PATH="$host/usr/local/bin:$PATH"
		unset PGPASSWORD
		if [ "$host" = "$OLD" ]; then
			export PGHOST=127.0.0.1 PGPORT=$(pg_port src) PGUSER=postgres
		fi
		bash -e -o pipefail "$file.run"
	)
}

# ---- step 0: pgsluice on PATH on both hosts ----------------------------------------------

# the EES host: make install as printed; the old host: the copy and the packages
ON_DIR=$ROOT on "$EES" "$T/step-0-1.sh" >"$T/s0-ees.log" 2>&1
check "guide step 0, EES host: make install puts pgsluice in /usr/local/bin" test -x "$EES/usr/local/bin/pgsluice"
[ -x "$EES/usr/local/bin/pgsluice" ] || { sed 's/^/    /' "$T/s0-ees.log"; exit 1; }
# the old host: the binary comes from the EES host
grep -v '^apt-get ' "$T/step-0-2.sh" >"$T/s0-old.sh"
on "$OLD" "$T/s0-old.sh" >"$T/s0-old.log" 2>&1
check "guide step 0, old host: the copied binary runs (pgsluice --version)" \
	env PATH="$OLD/usr/local/bin:$PATH" bash -c 'command -v pgsluice | grep -q "^'"$OLD"'" && pgsluice --version >/dev/null'
pkgs=$(sed -n 's/^apt-get install -y --no-install-recommends //p' "$T/step-0-2.sh")
check "guide step 0: the apt-get line names packages ($pkgs)" test -n "$pkgs"
check "guide step 0: those packages are installed here (dpkg -s)" bash -c "dpkg -s $pkgs >/dev/null 2>&1"
# each library pgsluice links to (NEEDED) is in one of them, or libc
missing=""
for lib in $(readelf -d "$PGSLUICE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
	case " $pkgs libc6 " in *" $pkg "*) ;; *) missing="$missing $lib($pkg)" ;; esac
done
check "guide step 0: every library pgsluice needs comes from those packages${missing:+ (not:$missing)}" test -z "$missing"

# ---- step 2: check ------------------------------------------------------------------------

on "$EES" "$T/step-2-1.sh" >"$T/s2.out" 2>&1
rc=$?
check "guide step 2: pgsluice check runs (exit $rc: 1, not cleared)" [ "$rc" -eq 1 ]
check "guide step 2: it connected and lists the table EES made" grep -q 'table public.users' "$T/s2.out"

# ---- step 3: gen-cert, token, serve ---------------------------------------------------------

head -n 2 "$T/step-3-1.sh" >"$T/s3a.sh"
tail -n +3 "$T/step-3-1.sh" >"$T/s3b.sh"
check "guide step 3: /etc/pgsluice is missing before gen-cert" test ! -e "$EES/etc/pgsluice"
on "$EES" "$T/s3a.sh" >"$T/s3a.out" 2>&1
check "guide step 3: gen-cert and the token work as printed" test -s "$EES/etc/pgsluice/pgsluice.key" -a -s "$EES/etc/pgsluice/token"
check "guide step 3: the folder is mode 700" test "$(stat -c %a "$EES/etc/pgsluice")" = 700
[ -s "$EES/etc/pgsluice/token" ] || sed 's/^/    /' "$T/s3a.out"
on "$EES" "$T/s3b.sh" >"$T/s3b.out" 2>&1 &
SERVE=$!
bg_track "$SERVE"
for ((i = 0; i < 100; i++)); do
	grep -q 'listening on' "$T/s3b.out" && break
	kill -0 "$SERVE" 2>/dev/null || break
	sleep 0.1
done
check "guide step 3: serve says it is listening" grep -q "listening on 127.0.0.1:$PORT" "$T/s3b.out"

# ---- step 4: send ------------------------------------------------------------------------------

on "$OLD" "$T/step-4-1.sh" >"$T/s4.out" 2>&1
rc=$?
check "guide step 4: the certificate and the token are copied" test -s "$OLD/home/pgsluice.crt" -a -s "$OLD/home/token"
check "guide step 4: pgsluice send exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "guide step 4: the answer is OK ... committed" grep -q '^OK import into synapse committed' "$T/s4.out"
[ "$rc" -eq 0 ] || { sed 's/^/    send: /' "$T/s4.out" | tail -20; tail -20 "$T/s3b.out" | sed 's/^/    serve: /'; }
timeout 30 tail --pid="$SERVE" -f /dev/null
wait "$SERVE"
rc=$?
check "guide step 3's serve --once exits 0 after the import (got $rc)" [ "$rc" -eq 0 ]
pg_dump_of src synapse -O -x >"$T/src.sql"
pg_dump_of tgt synapse -O -x >"$T/tgt.sql"
check "guide: the EES database equals the old host's (pg_dump -O -x)" cmp -s "$T/src.sql" "$T/tgt.sql"
