#!/bin/bash
# deploy_install.sh - make install DESTDIR=... installs the binary, a
# manual page for pgsluice and each command (each renders with man -l,
# without warnings), the README the systemd unit points at, and the
# deployment examples under share/doc/pgsluice.
. "$(dirname "$0")/../lib/common.sh"

D=$T/root
make -s -C "$ROOT" install DESTDIR="$D" PREFIX=/usr/local >"$T/install.log" 2>&1
rc=$?
check "make install DESTDIR=... exits 0" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/install.log" | tail -10
check "the binary" test -x "$D/usr/local/bin/pgsluice"
for page in pgsluice pgsluice-serve pgsluice-send pgsluice-check pgsluice-filter pgsluice-gen-cert; do
	f=$D/usr/local/share/man/man1/$page.1
	check "$page.1 installed" test -s "$f"
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" >"$T/$page.txt" 2>"$T/$page.err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$T/$page.err" ] && grep -q '^NAME' "$T/$page.txt" && grep -q '^SYNOPSIS' "$T/$page.txt"; then
		ok "man -l $page.1 renders (NAME, SYNOPSIS, no warning)"
	else
		not_ok "man -l $page.1 renders (exit $rc)"
		sed 's/^/#   /' "$T/$page.err" | head -5
	fi
done
check "man finds pgsluice-serve under the installed MANPATH" \
	sh -c "MANPATH='$D/usr/local/share/man' man -w pgsluice-serve | grep -q '$D/usr/local/share/man/man1/pgsluice-serve.1'"
# every long option of serve's --help is in its manual page
"$ROOT/pgsluice" serve --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$T/serve-opts"
missing=$(while read -r o; do grep -qF -- "$o" "$T/pgsluice-serve.txt" || echo "$o"; done <"$T/serve-opts" | tr '\n' ' ')
check "pgsluice-serve(1) names every option of serve --help${missing:+ (missing: $missing)}" test -z "$missing"
"$ROOT/pgsluice" send --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$T/send-opts"
missing=$(while read -r o; do grep -qF -- "$o" "$T/pgsluice-send.txt" || echo "$o"; done <"$T/send-opts" | tr '\n' ' ')
check "pgsluice-send(1) names every option of send --help${missing:+ (missing: $missing)}" test -z "$missing"
doc=$D/usr/local/share/doc/pgsluice
check "README under share/doc/pgsluice" cmp -s "$ROOT/README.md" "$doc/README.md"
unit_doc=$(sed -n 's|^Documentation=file://||p' "$ROOT/deploy/systemd/pgsluice.service")
check "the systemd unit's Documentation= file is installed ($unit_doc)" test -s "$D$unit_doc"
for f in deploy/systemd/pgsluice.service deploy/systemd/pgsluice.env.example deploy/k8s/pgsluice-job.yaml deploy/k8s/pgsluice-service.yaml deploy/k8s/README.md; do
	check "$f under share/doc/pgsluice" cmp -s "$ROOT/$f" "$doc/$f"
done
