#!/bin/sh
# deps.sh build|test - make sure the Debian packages pgsluice needs are here.
# As root, installs what is missing with apt-get; otherwise prints the
# command to run and fails.
set -eu
build="gcc make pkg-config libevent-dev libpq-dev libisal-dev libssl-dev"
test_pkgs="$build postgresql postgresql-client netcat-openbsd socat openssl clang libclang-rt-14-dev gzip python3 procps time bc python3-yaml ncat debootstrap"
case "${1:-build}" in
build) want=$build ;;
test) want=$test_pkgs ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "pgsluice: missing Debian packages:$missing" >&2
	echo "pgsluice: install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "pgsluice: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q $missing >/dev/null
}
