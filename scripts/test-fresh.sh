#!/bin/bash
# test-fresh.sh - `make test-fresh`: README's quick start, word for word, on
# a new minimal Debian 12, as a newcomer would run it:
#
#	debootstrap --variant=minbase bookworm, plus git and ca-certificates,
#	with the apt sources of Debian 12's own images and installer
#	(bookworm, bookworm-updates, bookworm-security: an installed Debian 12
#	gets its security fixes, and so do the PostgreSQL packages the two
#	commands install)
#	git clone <this repository> /root/pgsluice      (root's home: mode 700)
#	cd /root/pgsluice && sh scripts/bootstrap.sh demo && sh scripts/bootstrap.sh test
#
# in a chroot (proc, sys and dev mounted inside, unmounted on exit whatever
# happens), without ../shared beside the clone.  Fails unless both commands
# succeed and the test summary says "N passed, 0 failed, 0 skipped" with
# N > 0.  Needs root, debootstrap, and the network to reach the Debian
# mirror (PGSLUICE_DEBIAN_MIRROR, default: the one apt uses; the security
# suite from PGSLUICE_DEBIAN_SECURITY_MIRROR, default deb.debian.org).
# `scripts/test-fresh.sh --prepare` only makes the cached bare root.
#
# What is kept between runs, in $PGSLUICE_CACHE (default /var/cache/pgsluice,
# outside the checkout so that CI's fresh clones find it):
#	bookworm-minbase.tar   the bare root: minbase + git + ca-certificates,
#	                       nothing else installed (rebuilt when missing)
#	apt-archives/          the .deb files apt downloads inside the root
#	                       (a download cache: every package is installed
#	                       afresh in each run)
#	pgroots/               tests/lib/pgversions.sh's PostgreSQL 17/18 roots
#	                       (PGSLUICE_PGROOTS inside), unless
#	                       PGSLUICE_FRESH_PGROOTS=1 builds them in the clone
# The clone is of the committed HEAD of this checkout (what CI tests; a
# git bundle that the root's git clones), its test logs copied to
# build/test-fresh-logs/.  The
# root is made under $PGSLUICE_FRESH_DIR (default /var/tmp) and removed at
# the end unless PGSLUICE_FRESH_KEEP=1.  Timings of each step are printed;
# the whole output is also in build/test-fresh.log.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PGSLUICE_CACHE:-/var/cache/pgsluice}
MIRROR=${PGSLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TARBALL=$CACHE/bookworm-minbase.tar
LOG=$ROOT/build/test-fresh.log

die() { echo "test-fresh: $*" >&2; exit 1; }
step() { printf '\n=== %s (at %d s)\n' "$*" $((SECONDS - T0)); }
T0=$SECONDS

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"
mkdir -p "$ROOT/build" "$CACHE/apt-archives" "$CACHE/pgroots"
exec > >(tee "$LOG") 2>&1
if ! command -v debootstrap >/dev/null; then
	step "installing debootstrap on the host"
	apt-get install -y -q --no-install-recommends debootstrap >>"$ROOT/build/apt.log" 2>&1 ||
		{ apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap; } >>"$ROOT/build/apt.log" 2>&1 ||
		die "could not install debootstrap (see $ROOT/build/apt.log)"
fi
git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null || die "$ROOT is not a git checkout with a commit"

# ---- the bare root, cached --------------------------------------------------
(
	flock -w 1800 9 || die "the cache lock $CACHE/.lock is held for 30 min"
	[ -s "$TARBALL" ] && exit 0
	step "debootstrap --variant=minbase --include=git,ca-certificates bookworm (cached in $TARBALL)"
	b=$CACHE/bootstrap.$$
	rm -rf "$CACHE"/bootstrap.*
	debootstrap --variant=minbase --include=git,ca-certificates bookworm "$b" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$CACHE/debootstrap.log"; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
	rm -rf "$b"/var/cache/apt/archives/*.deb
	tar -C "$b" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
	rm -rf "$b"
) 9>"$CACHE/.lock"
[ "${1:-}" = --prepare ] && { echo "test-fresh: the bare root is in $TARBALL"; exit 0; }

# ---- this run's root ----------------------------------------------------------
W=$(mktemp -d "${PGSLUICE_FRESH_DIR:-/var/tmp}/pgsluice-fresh.XXXXXX")
MOUNTS=()
mounted_under() { awk -v w="$W" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/self/mounts; }
cleanup() {
	local rc=$? p i m
	# processes left in the root (a cluster, a daemon): ours, ended by pid
	for i in 1 2 3; do
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$W" ] && kill -KILL "${p#/proc/}" 2>/dev/null
		done
		sleep 0.5
	done
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" 2>/dev/null || true
	done
	m=$(mounted_under)
	if [ -n "$m" ]; then
		echo "test-fresh: still mounted, $W NOT removed: $m" >&2
		rc=1
	elif [ "${PGSLUICE_FRESH_KEEP:-}" = 1 ]; then
		echo "test-fresh: the root is kept in $W"
	else
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

step "a fresh root in $W"
tar -C "$W" -xf "$TARBALL"
cp /etc/resolv.conf "$W/etc/resolv.conf"
# debootstrap writes one line for bookworm alone; Debian 12's images and
# installer also list bookworm-updates and bookworm-security
# (its package lists are of bookworm alone: dropped, so that the first
# apt-get reads all three, as on an installed system)
rm -f "$W/etc/apt/sources.list"
rm -rf "$W"/var/lib/apt/lists/*
cat >"$W/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${PGSLUICE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# a chroot has no init: services that packages would start (PostgreSQL's
# main cluster) are not started, as in any Debian chroot
printf '#!/bin/sh\nexit 101\n' >"$W/usr/sbin/policy-rc.d"
chmod 755 "$W/usr/sbin/policy-rc.d"
bind() { mkdir -p "$W$2"; mount "${@:3}" "$1" "$W$2"; MOUNTS+=("$W$2"); }
bind proc /proc -t proc
bind sysfs /sys -t sysfs
bind /dev /dev --rbind
mount --make-rslave "$W/dev"
bind "$CACHE/apt-archives" /var/cache/apt/archives --bind
pgroots_env=""
if [ "${PGSLUICE_FRESH_PGROOTS:-}" != 1 ]; then
	bind "$CACHE/pgroots" /var/cache/pgsluice-pgroots --bind
	pgroots_env="PGSLUICE_PGROOTS=/var/cache/pgsluice-pgroots"
fi
# the committed HEAD, as a bundle the root's own git clones from
git -C "$ROOT" bundle create -q "$W/tmp/pgsluice.bundle" HEAD

step "git clone into /root/pgsluice (inside the root, HEAD $(git -C "$ROOT" rev-parse --short HEAD))"
# inside CMD: CMD in the root, as a newcomer's root shell; in the
# background and waited for, so that a signal to this script acts at once
# (the trap then ends what runs in the root)
inside() {
	chroot "$W" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 TERM=dumb CI="${CI:-}" $pgroots_env /bin/sh -c "$1" </dev/null &
	wait $!
}
inside "git -c advice.detachedHead=false clone -q /tmp/pgsluice.bundle /root/pgsluice && rm /tmp/pgsluice.bundle && ls -ld /root"
[ ! -e "$W/root/shared" ] || die "../shared exists beside the clone"

step "README's first command: sh scripts/bootstrap.sh demo"
t=$SECONDS
inside "cd /root/pgsluice && sh scripts/bootstrap.sh demo" || die "sh scripts/bootstrap.sh demo failed (in the root: /root/pgsluice/build/apt.log, .demo/)"
demo_s=$((SECONDS - t))

step "README's second command: sh scripts/bootstrap.sh test"
t=$SECONDS
set +e
inside "cd /root/pgsluice && sh scripts/bootstrap.sh test"
test_rc=$?
set -e
test_s=$((SECONDS - t))
rm -rf "$ROOT/build/test-fresh-logs"
cp -r "$W/root/pgsluice/build/test-logs" "$ROOT/build/test-fresh-logs" 2>/dev/null || true

step "result"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$LOG" | tail -1 || true)
echo "timings: root and clone $((t - T0 - demo_s)) s, demo $demo_s s, test $test_s s, in all $((SECONDS - T0)) s"
[ "$test_rc" -eq 0 ] || die "sh scripts/bootstrap.sh test failed (exit $test_rc): ${summary:-no summary}"
[[ $summary =~ ^[1-9][0-9]*\ passed,\ 0\ failed,\ 0\ skipped$ ]] || die "the summary must be 'N passed, 0 failed, 0 skipped': ${summary:-none}"
echo "test-fresh: ok: $summary"
