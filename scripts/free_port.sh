# free_port.sh - sourced by scripts/demo.sh and tests/lib/common.sh.
#
# free_port: print a loopback TCP port nothing listens on, taken below the
# kernel's ephemeral range so that no outgoing connection (psql, libpq, nc)
# can be holding it when a cluster or the daemon binds it a moment later.
free_port() {
	local p lo=32768 hi
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || :
	[ "$lo" -gt 12000 ] || lo=32768
	while :; do
		p=$((10000 + RANDOM % (lo - 10000)))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
