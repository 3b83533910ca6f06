#!/bin/bash
# pgversions.sh - PostgreSQL servers and clients of other major versions than
# the host's, for the tests: each in a minimal Debian root of its own.
#
# Sourced by tests/lib/common.sh (or run: `bash tests/lib/pgversions.sh
# build 17 18` builds the roots and prints where they are).
#
#	pgroot_build VERSION...   make the roots (in parallel) unless cached
#	pgroot_dir VERSION        the root of a version (built or not)
#	pgroot_bin VERSION        its /usr/lib/postgresql/V/bin, seen from inside
#	pgroot_run VERSION CMD... run CMD inside the root as its postgres user
#
# A root is `debootstrap --variant=minbase SUITE` of the Debian suite that
# ships the version (17: trixie, 18: sid) from the mirror apt uses, plus that
# suite's postgresql-V package, in $PGSLUICE_PGROOTS (default .cache/pgroots
# in the checkout, ignored by git).  A stamp file marks a finished root, so a
# second build is a no-op; a lock per version keeps two test scripts from
# building the same root at once; an interrupted build is started again from
# nothing.  The build's output goes to a log file named in every error.
#
# Nothing is mounted into a root: the clusters' files live under the root
# (ROOT/tmp/...), the programs reach servers over TCP on 127.0.0.1 (the
# chroot shares the host's network), and the root's own /dev nodes (made by
# debootstrap) are enough for initdb and postgres.

PGROOTS=${PGSLUICE_PGROOTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/pgroots}
PGROOT_MIRROR=${PGSLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# pgroot_suite VERSION: the Debian suite whose postgresql-VERSION we install
pgroot_suite() {
	case $1 in
	17) echo trixie ;;
	18) echo sid ;;
	*) return 1 ;;
	esac
}

pgroot_dir() { echo "$PGROOTS/$1"; }
pgroot_bin() { echo "/usr/lib/postgresql/$1/bin"; }

# pgroot_ready VERSION: the root is complete
pgroot_ready() { [ -f "$PGROOTS/$1/.pgsluice-ready" ]; }

# _pgroot_make VERSION LOG: build one root; called with the lock held
_pgroot_make() {
	local v=$1 log=$2 suite dir tmp
	suite=$(pgroot_suite "$v") || { echo "no Debian suite known for PostgreSQL $v" >>"$log"; return 1; }
	dir=$PGROOTS/$v
	tmp=$PGROOTS/$v.building
	rm -rf "$tmp"
	{
		echo "== debootstrap --variant=minbase $suite $tmp $PGROOT_MIRROR"
		debootstrap --variant=minbase "$suite" "$tmp" "$PGROOT_MIRROR" || return 1
		# no cluster from the package's postinst, no service started in the root
		mkdir -p "$tmp/etc/postgresql-common/createcluster.d"
		echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.d/pgsluice.conf"
		printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
		chmod 755 "$tmp/usr/sbin/policy-rc.d"
		# postgresql-common's postinst runs systemd-tmpfiles, which wants
		# /proc (sid): nothing in the root needs what it would create
		chroot "$tmp" dpkg-divert --local --rename --add /usr/bin/systemd-tmpfiles || return 1
		ln -s /bin/true "$tmp/usr/bin/systemd-tmpfiles"
		echo "== apt-get install postgresql-$v"
		DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -q --no-install-recommends "postgresql-$v" || return 1
		chroot "$tmp" apt-get clean
		chroot "$tmp" "$(pgroot_bin "$v")/postgres" --version || return 1
	} >>"$log" 2>&1 || return 1
	rm -rf "$dir"
	mv "$tmp" "$dir" && date -u +"%F %T postgresql-$v from $suite" >"$dir/.pgsluice-ready"
}

# _pgroot_build_one VERSION: build one root unless it is there, under its lock
_pgroot_build_one() {
	local v=$1 log=$PGROOTS/$1.log start=$SECONDS
	pgroot_ready "$v" && return 0
	mkdir -p "$PGROOTS" || return 1
	(
		flock -w 1800 9 || { echo "pgversions: waited 30 min for the lock $PGROOTS/$v.lock" >&2; exit 1; }
		pgroot_ready "$v" && exit 0
		: >"$log"
		if ! _pgroot_make "$v" "$log"; then
			echo "pgversions: building the PostgreSQL $v root failed; see $log:" >&2
			tail -15 "$log" | sed 's/^/pgversions:   /' >&2
			exit 1
		fi
		echo "pgversions: built the PostgreSQL $v root in $((SECONDS - start)) s ($PGROOTS/$v, log $log)" >&2
	) 9>"$PGROOTS/$v.lock"
}

pgroot_build() {
	local v pids=() rc=0 p
	if [ "$(id -u)" -ne 0 ]; then
		for v in "$@"; do
			pgroot_ready "$v" && continue
			echo "pgversions: the PostgreSQL $v root ($PGROOTS/$v) is missing and only root can build it (debootstrap, chroot)" >&2
			return 1
		done
		return 0
	fi
	command -v debootstrap >/dev/null || {
		for v in "$@"; do pgroot_ready "$v" || {
			echo "pgversions: debootstrap is not installed (apt-get install debootstrap; scripts/deps.sh test); cannot build the PostgreSQL $v root" >&2
			return 1
		}; done
		return 0
	}
	for v in "$@"; do
		_pgroot_build_one "$v" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}

# the postgres user's uid:gid inside a root (files and processes)
pgroot_ids() {
	local pw
	pw=$(grep '^postgres:' "$PGROOTS/$1/etc/passwd") || return 1
	echo "$pw" | cut -d: -f3,4
}

pgroot_run() {
	local v=$1; shift
	chroot --userspec="$(pgroot_ids "$v")" "$PGROOTS/$v" env -i LANG=C.UTF-8 PATH="$(pgroot_bin "$v"):/usr/bin:/bin" HOME=/tmp "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	build)
		shift
		[ $# -gt 0 ] || set -- 17 18
		pgroot_build "$@" || exit 1
		for v in "$@"; do echo "$v $(pgroot_dir "$v") $(cat "$(pgroot_dir "$v")/.pgsluice-ready")"; done
		;;
	*) echo "usage: $0 build [VERSION...]" >&2; exit 2 ;;
	esac
fi
