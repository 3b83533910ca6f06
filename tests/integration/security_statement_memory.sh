#!/bin/bash
# security_statement_memory.sh - one statement of 250 MiB, under the
# default --max-statement (256 MiB), is held by the daemon once: in the
# lexer's buffer, from which its Parse message is written onto the target
# connection (proxy/parsemsg.c), with none of libpq's copies (its output
# buffer and the query text it keeps).  So the daemon's peak resident
# memory (VmHWM) stays below 1.25 x 250 MiB + 32 MiB over its idle size,
# and once the import has ended its resident memory is back near idle (the
# lexer does not keep a 256 MiB buffer).  The statement reaches the server
# whole, once (log_statement = all), and the import commits.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"
. "$(dirname "$0")/security_common.bash"

bd_cluster || { not_ok "cluster starts (log_statement = all)"; exit 1; }
bd_serve || { not_ok "daemon starts"; exit 1; }
base_kb=$(sec_hwm_kb "$SPID")
MB=${PGSLUICE_TEST_STATEMENT_MB:-250}
# CREATE TABLE with a comment of 250 MiB inside: the server's scanner
# skips it, so the server's own cost stays small
{
	printf -- '--\n-- PostgreSQL database dump\n--\n\n'
	printf 'SET statement_timeout = 0;\nSET client_encoding = '"'UTF8'"';\nSET standard_conforming_strings = on;\n'
	printf 'CREATE TABLE public.big (id int /* '
	head -c $((MB * 1024 * 1024)) /dev/zero | tr '\0' x
	printf ' */);\n\n--\n-- PostgreSQL database dump complete\n--\n\n'
} >"$T/big.sql"
bd_log_mark
echo 5 >"/proc/$SPID/clear_refs" 2>/dev/null
bd_send "$T/big.sql" "$T/out"
hwm=$(sec_hwm_kb "$SPID")
echo "# one $MB MiB statement: daemon peak RSS $hwm kB (idle $base_kb kB): $(((hwm - base_kb) / 1024)) MiB for the statement"
if bd_result "$T/out" | grep -q '^OK import into synapse committed'; then ok "$MB MiB statement: OK"; else
	not_ok "$MB MiB statement: OK"; grep -v "^running:" "$T/out" | head -5 | sed 's/^/# /'; fi
check "the server got it whole, once (log_statement = all)" test "$(bd_log_new | grep -c 'CREATE TABLE public.big (id int /\* xxxx')" -eq 1
check "the table is there" test "$(psql_as tgt synapse -At -c "SELECT count(*) FROM pg_class WHERE relname = 'big'")" -eq 1
bound=$((5 * MB * 1024 / 4 + 32 * 1024))
check "peak RSS for the statement $(((hwm - base_kb) / 1024)) MiB <= 1.25 x $MB MiB + 32 MiB" test $((hwm - base_kb)) -le "$bound"
rss=$(sec_rss_kb "$SPID")
echo "# after the import: RSS $rss kB"
check "after the import: RSS $((rss / 1024)) MiB is back within 32 MiB of idle ($((base_kb / 1024)) MiB)" test "$rss" -le $((base_kb + 32 * 1024))
