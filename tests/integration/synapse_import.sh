#!/bin/bash
# synapse_import.sh - the Synapse migration onto an EES target: the target
# database is owned by the non-superuser synapse_user and already holds an
# initialized Synapse schema (version 94).  The fixture dump (owners by role
# synapse) imported with --clear-target: OK, pg_dump -O -x equals the
# source's, row counts and sequences verified, schema versions, sizes and
# elapsed time in the summary.  Then the same dump with its schema_version
# raised above the target's: refused, target unchanged; older: a warning;
# --force-schema-version; and a sequence that moved after its setval: the
# verification fails and everything is rolled back.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/synapse_common.bash"
need_fixtures || exit 0

synapse_clusters || { not_ok "clusters start"; exit 1; }
load_fixture "$FIX"
eval "$(dump_facts "$FIX")"
src_dump >"$T/src.sql"
synapse_init_db synapse || { not_ok "initialize a Synapse schema in the target"; exit 1; }
check "the target holds Synapse schema version 94" \
	test "$(psql_as tgt synapse -At -c 'SELECT version FROM schema_version')" = 94

# 1. the migration: same schema version
serve_once_send "$FIX" "$T/out1" --clear-target --verbose || exit 1
check "import: OK" grep -q '^OK import into synapse committed' "$T/out1"
check "import: --once exits 0" test "$rc" -eq 0
tgt_dump >"$T/after1.sql"
if cmp -s "$T/src.sql" "$T/after1.sql"; then ok "import: pg_dump -O -x of the target equals the source's"; else
	not_ok "import: pg_dump -O -x of the target equals the source's"; diff "$T/src.sql" "$T/after1.sql" | head | sed 's/^/# /'; fi
check "preflight: the target's locale and Synapse schema are told" \
	grep -q '^synapse: target database synapse: encoding UTF8, collate C, ctype C (as Synapse requires); Synapse schema version 94 (compat 84, 125 deltas applied, up to 94)$' "$T/out1"
check "the versions are compared as the dump's schema_version arrives" \
	grep -q "^synapse: the dump's Synapse schema version 94 equals the target's" "$T/out1"
check "summary: schema versions of the dump and of the target" \
	grep -q '^  synapse: dump: schema version 94 (compat 84, 125 deltas applied); target before the import: schema version 94 (compat 84, 125 deltas applied, up to 94)$' "$T/out1"
check "summary: the target database's locale" \
	grep -q '^  synapse: target database synapse: encoding UTF8, collate C, ctype C (as Synapse requires)$' "$T/out1"
check "summary: row counts and sequences verified ($FX_COPIES COPYs, $FX_ROWS rows, $FX_SETVALS sequences)" \
	grep -q "^  verified: $FX_COPIES COPY row counts equal the data lines sent ($FX_ROWS rows); $FX_SETVALS sequences at the dump's setval values\$" "$T/out1"
check "summary: the dump's sizes, gzip and plain" \
	grep -qxF "  dump size: $FX_SIZES" "$T/out1"
size_line=$(grep '^  target database size after the import: ' "$T/out1")
reported=$(sed -n 's/.*(\([0-9]*\) bytes, pg_database_size)$/\1/p' <<<"$size_line")
actual=$(psql_as tgt synapse -At -c 'SELECT pg_database_size(current_database())')
check "summary: the target database size after the import (pg_database_size, within 5%)" \
	test -n "$reported" -a "$((reported * 100 / actual))" -ge 95 -a "$((reported * 100 / actual))" -le 105
check "summary: per-table rows" grep -q "^  rows public.events: $FX_EVENTS\$" "$T/out1"
check "summary: elapsed time" grep -q '^  elapsed [0-9.]* s, ' "$T/out1"
check "sequences in the target as the dump set them" \
	test "$(psql_as tgt synapse -At -c 'SELECT last_value FROM user_id_seq')" = "$FX_USER_SEQ"
grep -E '^(OK|  verified|  dump size|  target database size|  elapsed)' "$T/out1" | sed 's/^/# /'

# 2. the dump's schema_version raised above the target's: refused, unchanged
dump_with_version 95 "$T/v95.sql" || { not_ok "make a dump with schema_version 95"; exit 1; }
tgt_dump >"$T/before2.sql"
serve_once_send "$T/v95.sql" "$T/out2" --clear-target || exit 1
check "newer schema: refused" \
	grep -q "^ERROR the dump's Synapse schema version 95 (its schema_compat_version is 84) is newer than the target's 94" "$T/out2"
check "newer schema: the refusal says what to do" \
	grep -q -- '^  fix: upgrade EES until its Synapse is at schema version 95 or later, then send the dump again (or start pgsluice serve with --force-schema-version' "$T/out2"
check "newer schema: rolled back" grep -q '^  rolled back: the target is as it was before the import' "$T/out2"
check "newer schema: --once exits 1" test "$rc" -eq 1
tgt_dump >"$T/after2.sql"
check "newer schema: target unchanged" cmp -s "$T/before2.sql" "$T/after2.sql"
check "newer schema: the target's schema_version is still 94" \
	test "$(psql_as tgt synapse -At -c 'SELECT version FROM schema_version')" = 94

# 3. older: a warning, imported
dump_with_version 93 "$T/v93.sql" || { not_ok "make a dump with schema_version 93"; exit 1; }
serve_once_send "$T/v93.sql" "$T/out3" --clear-target || exit 1
check "older schema: OK" grep -q '^OK import into synapse committed' "$T/out3"
check "older schema: warned that Synapse will migrate on first start" \
	grep -q "^warning: synapse: the dump's Synapse schema version 93 is older than the target's 94: the EES Synapse will run its database migrations (93 to 94) on its first start; upgrading the old server" "$T/out3"
check "older schema: in the summary" grep -q "^  synapse: the dump's Synapse schema version 93 is older" "$T/out3"

# 4. newer with --force-schema-version: imported, with a warning
serve_once_send "$T/v95.sql" "$T/out4" --clear-target --force-schema-version || exit 1
check "--force-schema-version: OK" grep -q '^OK import into synapse committed' "$T/out4"
check "--force-schema-version: warned" \
	grep -q "^warning: synapse: --force-schema-version: the dump's Synapse schema version 95 (its schema_compat_version is 84) is newer than the target's 93" "$T/out4"
check "--force-schema-version: the target holds version 95" \
	test "$(psql_as tgt synapse -At -c 'SELECT version FROM schema_version')" = 95

# 5. a sequence moved after the dump set it: verification fails, rolled back
# (moved by a CHECK constraint's function, as the rules refuse a bare nextval)
gunzip -c "$FIX" | sed "/^SELECT pg_catalog.setval('public.user_id_seq', $FX_USER_SEQ, true);\$/a CREATE FUNCTION public.bump() RETURNS boolean LANGUAGE sql AS \$\$SELECT pg_catalog.nextval('public.user_id_seq') > 0\$\$; CREATE TABLE public.bump_t (a integer CHECK (public.bump())); INSERT INTO public.bump_t VALUES (1);" >"$T/moved.sql"
tgt_dump >"$T/before5.sql"
serve_once_send "$T/moved.sql" "$T/out5" --clear-target || exit 1
check "sequence check: ERROR" \
	grep -q "^ERROR verification failed: sequence public.user_id_seq is at $((FX_USER_SEQ + 1)) (is_called true) in the target, but the dump's setval at line $FX_USER_SEQ_LINE set $FX_USER_SEQ (is_called true)\$" "$T/out5"
check "sequence check: rolled back" grep -q '^  rolled back: the target is as it was before the import' "$T/out5"
check "sequence check: no verified line" test "$(grep -c '^  verified:' "$T/out5")" -eq 0
tgt_dump >"$T/after5.sql"
check "sequence check: target unchanged" cmp -s "$T/before5.sql" "$T/after5.sql"
