#!/bin/bash
# security_user.sh - serve --user NAME: started as root, the daemon binds
# its port, reads its TLS key and token (root-only files), then becomes
# NAME (all of uid, gid and groups), cannot become root again, and serves
# imports; --user when not root is refused.  Skipped when not run as root.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/security_common.bash"
need_fixtures || exit 0
if [ "$(id -u)" -ne 0 ]; then
	skip "not root: --user cannot be tried"
	exit 0
fi
U=nobody
UID_U=$(id -u "$U") GID_U=$(id -g "$U")
# the checkout may be where $U cannot go (a clone in /root, mode 700): the
# daemon runs from a copy in $T (mode 755), which $U can execute
install -m 755 "$PGSLUICE" "$T/pgsluice"
PGSLUICE=$T/pgsluice
check "$U can execute the copy of the binary" runuser -u "$U" -- "$PGSLUICE" --version

serve_clusters || { not_ok "clusters start"; exit 1; }
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz
load_fixture "$F"
src_dump >"$T/src.sql"
mkdir -m 700 "$T/secret"
"$PGSLUICE" gen-cert --host localhost --out "$T/secret" >/dev/null
openssl rand -hex 24 >"$T/secret/token"
chmod 600 "$T/secret/token"

serve_start --user "$U" --tls-cert "$T/secret/pgsluice.crt" --tls-key "$T/secret/pgsluice.key" \
	--token-file "$T/secret/token" --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
wait_log "running as user $U" 5
check "logs the user it runs as" grep -q "running as user $U (uid $UID_U, gid $GID_U) from now on" "$T/serve.log"
st=/proc/$SPID/status
check "real, effective, saved and fs uid are $U's" test "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" = "$UID_U $UID_U $UID_U $UID_U"
check "real, effective, saved and fs gid are $U's" test "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" = "$GID_U $GID_U $GID_U $GID_U"
groups_now=$(awk '/^Groups:/ { $1 = ""; print }' "$st" | xargs)
check "supplementary groups are $U's ($groups_now), not root's" test "$groups_now" = "$(id -G "$U" | tr ' ' '\n' | grep -vx "$GID_U" | xargs)" -o "$groups_now" = "$(id -G "$U" | xargs)"
check "no capabilities left" test "$(awk '/^CapEff:/ { print $2 }' "$st")" = 0000000000000000
{ echo "AUTH $(cat "$T/secret/token")"; cat "$F"; } |
	timeout 120 socat -t 30 - "OPENSSL:localhost:$SPORT,cafile=$T/secret/pgsluice.crt" >"$T/out" 2>&1
check "imports as $U (TLS and token loaded while root): OK" grep -q '^OK import into synapse committed' "$T/out"
tgt_dump >"$T/tgt.sql"
check "the target equals the source" cmp -s "$T/src.sql" "$T/tgt.sql"
serve_stop

timeout 10 runuser -u "$U" -- "$PGSLUICE" serve --target "$TARGET" --listen "127.0.0.1:$(free_port)" --user "$U" >"$T/out2" 2>&1
rc=$?
check "--user when not root: refused (status 2)" test "$rc" -eq 2
check "  and says why" grep -q 'only root can change user' "$T/out2"
timeout 10 "$PGSLUICE" serve --target "$TARGET" --listen "127.0.0.1:$(free_port)" --user no-such-user-x >"$T/out3" 2>&1
check "--user with an unknown name: refused" grep -q 'no such user' "$T/out3"
