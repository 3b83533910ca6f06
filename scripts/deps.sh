#!/bin/sh
# deps.sh build|demo|test|fuzz|format - make sure the Debian packages that pgsluice's
# make target needs are here.  As root, installs what is missing with
# apt-get install --no-install-recommends (running apt-get update first when
# the package lists are missing or out of date), its output in build/apt.log,
# which an error names; as another user, prints the command to run and fails.
#
#	build  make, the C compiler and the libraries ./pgsluice links with
#	demo   build + what `make demo` runs: PostgreSQL, nc (-N), gzip
#	test   build + what `make test` runs (clusters, clients, the tools the
#	       scenarios use, debootstrap for the other PostgreSQL versions,
#	       bzip2 for the PostgreSQL source that regress_roundtrip unpacks)
#	fuzz   build + clang and its libFuzzer runtime
#	format clang-format (make format-check)
set -eu
build="make gcc libc6-dev pkg-config libevent-dev libpq-dev libisal-dev libzstd-dev liblz4-dev libssl-dev libjansson-dev"
demo_pkgs="$build postgresql netcat-openbsd gzip"
fuzz_pkgs="$build clang libclang-rt-14-dev"
format_pkgs="clang-format"
test_pkgs="$build postgresql postgresql-server-dev-15 postgresql-client netcat-openbsd socat openssl clang libclang-rt-14-dev gzip bzip2 zstd lz4 python3 procps time bc python3-yaml ncat tmux debootstrap systemd curl man-db groff-base"
case "${1:-build}" in
build) want=$build ;;
demo) want=$demo_pkgs ;;
test) want=$test_pkgs ;;
fuzz) want=$fuzz_pkgs ;;
format) want=$format_pkgs ;;
*) echo "usage: $0 build|demo|test|fuzz|format" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "pgsluice: missing Debian packages:$missing" >&2
	echo "pgsluice: install them with: sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/build"
log=$root/build/apt.log
echo "pgsluice: installing$missing (apt-get's output: $log)" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is wanted
install() { apt-get install -y -q --no-install-recommends $missing; }
{
	echo "== $(date -u '+%Y-%m-%d %H:%M:%S') apt-get install --no-install-recommends$missing"
	# no package lists yet (a fresh root): update first; an install that
	# fails on old lists: update, and again
	if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || ! install; then
		apt-get update -q && install
	fi
} >>"$log" 2>&1 || {
	echo "pgsluice: apt-get could not install$missing; its output is in $log:" >&2
	tail -n 15 "$log" | sed 's/^/  | /' >&2
	exit 1
}
