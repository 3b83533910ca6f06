#!/bin/bash
# boundary_transaction.sh - a dump that ends the import's transaction
# (ROLLBACK, ABORT, ROLLBACK WORK, PREPARE TRANSACTION): the rules refuse
# it, or, where one reaches the server, the daemon sees the transaction
# closed after that statement (PQtransactionStatus) and fails the import at
# once, telling the truth about the target; nothing after it runs.  Also
# with --jobs 2.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/boundary_common.bash"

bd_cluster "max_prepared_transactions = 2" || { not_ok "cluster starts"; exit 1; }
bd_tgt_dump >"$T/before.sql"

# run NAME STATEMENT [serve args]: CREATE TABLE a; STATEMENT; CREATE TABLE b
run() {
	local name=$1 stmt=$2
	bd_dump "$T/d.sql" 'CREATE TABLE public.a (x integer);\n%s\nCREATE TABLE public.b (x integer);\n' "$stmt"
	bd_send "$T/d.sql" "$T/out"
	if bd_result "$T/out" | grep -Eq "^ERROR (statement [0-9]+ at line [0-9]+ refused|statement 7 at line 7 ended the (import's|pre-data) transaction|statement 7 at line 7 is transaction control)"; then
		ok "$name: the import fails: $(bd_result "$T/out" | cut -c7-130)"
	else
		not_ok "$name: the import fails"; sed 's/^/# /' "$T/out" | head -6
	fi
	check "$name: the statement after it never ran" test "$(psql_as tgt synapse -At -c "SELECT to_regclass('public.b') IS NULL")" = t
}

# same NAME: the target is as before
same() {
	bd_tgt_dump >"$T/now.sql"
	if cmp -s "$T/before.sql" "$T/now.sql"; then ok "$1: target unchanged"; else
		not_ok "$1: target unchanged"; diff "$T/before.sql" "$T/now.sql" | head -6 | sed 's/^/# /'; fi
}

for mode in "" "--jobs 2"; do
	# shellcheck disable=SC2086
	bd_serve $mode || { not_ok "daemon starts $mode"; exit 1; }
	for stmt in "ROLLBACK;" "ABORT;" "ROLLBACK WORK;"; do
		name="${mode:+$mode: }$stmt"
		run "$name" "$stmt"
		if grep -q "ended the import's transaction" "$T/out"; then
			check "$name: the client is told the target rolled back" grep -q '^  the target rolled the import back at that statement: it is as it was before the import' "$T/out"
		fi
		same "$name"
		bd_reset
	done

	name="${mode:+$mode: }PREPARE TRANSACTION"
	run "$name" "PREPARE TRANSACTION 'pgsluice_test';"
	if grep -Eq "ended the (import's|pre-data) transaction" "$T/out"; then
		check "$name: the client is told of the prepared transaction" grep -Eq '^  (the import|pre-data) up to that statement is a PREPARED transaction on the target, holding its locks' "$T/out"
		check "$name: it is there, as told" test "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'pgsluice_test'")" = 1
		psql_as tgt synapse -c "ROLLBACK PREPARED 'pgsluice_test'" >/dev/null
	else
		check "$name: no prepared transaction is left" test "$(psql_as tgt postgres -At -c "SELECT count(*) FROM pg_prepared_xacts")" = 0
	fi
	same "$name"
	bd_reset
	bd_stop
done
