#!/bin/sh
# bootstrap.sh demo|test - README's quick start on a bare Debian 12 (nothing
# but git and ca-certificates needed):
#
#	sh scripts/bootstrap.sh demo     # then: make demo
#	sh scripts/bootstrap.sh test     # then: make test
#
# Installs `make` and the other Debian packages the target needs
# (scripts/deps.sh: apt-get install --no-install-recommends, the output in
# build/apt.log), then runs the make target and exits with its status.
# Plain sh: it runs before anything is installed.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
demo | test) target=$1 ;;
*)
	echo "usage: sh scripts/bootstrap.sh demo|test" >&2
	exit 2
	;;
esac
sh "$root/scripts/deps.sh" "$target"
exec make -C "$root" "$target"
