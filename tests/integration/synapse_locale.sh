#!/bin/bash
# synapse_locale.sh - Synapse refuses to start on a database that is not
# UTF8 with LC_COLLATE and LC_CTYPE C, so pgsluice refuses to import a
# Synapse dump into one, and says how to create the database right:
#   - a target that already holds a Synapse schema: refused at preflight;
#   - --synapse: refused at preflight, whatever the target holds;
#   - an empty target (auto): refused when the dump shows it is a Synapse
#     dump, rolled back;
#   - SQL_ASCII: refused, the encoding named;
#   - --no-synapse, and a dump that is not Synapse's: imported.
# (en_US.UTF-8 is not installed everywhere; C.UTF-8 is, and Synapse refuses
# it just the same: it wants exactly C.)
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/synapse_common.bash"
need_fixtures || exit 0

synapse_clusters || { not_ok "clusters start"; exit 1; }
load_fixture "$FIX"
eval "$(dump_facts "$FIX")"
psql_as tgt postgres \
	-c "CREATE DATABASE synapse_cu OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'" \
	-c "CREATE DATABASE synapse_ascii OWNER $TARGET_USER TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" \
	-c "CREATE DATABASE holds_synapse OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'" \
	>/dev/null || { not_ok "create the target databases"; exit 1; }
synapse_init_db holds_synapse || { not_ok "initialize a Synapse schema in holds_synapse"; exit 1; }
base_target=$TARGET
count_in() { psql_as tgt "$1" -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"; }
fix_line() { echo "    CREATE DATABASE $1 ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0 OWNER $TARGET_USER;"; }

# 0. check tells the locale, the Synapse schema, and the fix
TARGET="${base_target/dbname=synapse/dbname=holds_synapse}"
"$PGSLUICE" check --target "$TARGET" >"$T/check1" 2>&1
check "check: the locale and the Synapse schema version" \
	grep -q '^synapse: target database holds_synapse: encoding UTF8, collate C.UTF-8, ctype C.UTF-8; Synapse schema version 94 (compat 84, 125 deltas applied, up to 94)$' "$T/check1"
check "check: warns with the fix" grep -q '^synapse: warning: the target database holds_synapse has encoding UTF8, LC_COLLATE C.UTF-8' "$T/check1"
check "check: the fix" grep -qxF "$(fix_line holds_synapse)" "$T/check1"
"$PGSLUICE" check --target "$base_target" >"$T/check2" 2>&1
check "check on a good empty target: no warning" \
	grep -q '^synapse: target database synapse: encoding UTF8, collate C, ctype C (as Synapse requires); no Synapse schema$' "$T/check2"
check "check on a good empty target: exit 0" test "$(grep -c 'warning' "$T/check2")" -eq 0 -a "$(tail -1 "$T/check2" | cut -c1-16)" = "verdict: cleared"

# 1. a target that holds a Synapse schema, wrong collation: refused at preflight
n_before=$(count_in holds_synapse)
serve_once_send "$FIX" "$T/out1" --clear-target || exit 1
check "Synapse target, collation C.UTF-8: refused at preflight" \
	grep -q "^ERROR the target database holds_synapse has encoding UTF8, LC_COLLATE C.UTF-8 and LC_CTYPE C.UTF-8, but Synapse requires encoding UTF8 with LC_COLLATE and LC_CTYPE C, and refuses to start on anything else (the target holds a Synapse schema, version 94)$" "$T/out1"
check "the refusal gives the fix" grep -qxF "$(fix_line holds_synapse)" "$T/out1"
check "the fix drops the database first" grep -qx '    DROP DATABASE holds_synapse;' "$T/out1"
check "nothing was changed (refused before --clear-target)" grep -q '^  nothing was changed in the target$' "$T/out1"
check "the Synapse schema is still there" test "$(count_in holds_synapse)" -eq "$n_before"
check "--once exits 1" test "$rc" -eq 1

# 2. --synapse on an empty database with the wrong collation: refused at preflight
TARGET="${base_target/dbname=synapse/dbname=synapse_cu}"
serve_once_send "$FIX" "$T/out2" --synapse || exit 1
check "--synapse: refused at preflight" \
	grep -q "^ERROR the target database synapse_cu has encoding UTF8, LC_COLLATE C.UTF-8 and LC_CTYPE C.UTF-8, .*(pgsluice serve runs with --synapse)$" "$T/out2"
check "--synapse: the fix" grep -qxF "$(fix_line synapse_cu)" "$T/out2"
check "--synapse: nothing was changed" grep -q '^  nothing was changed in the target$' "$T/out2"
check "--synapse: no statement was read" test "$(grep -c '^  rows in all' "$T/out2")" -eq 0

# 3. auto, empty database with the wrong collation: refused when the dump shows it is Synapse's
serve_once_send "$FIX" "$T/out3" || exit 1
check "auto: refused as the dump's schema_version table arrives" \
	grep -q "^ERROR the target database synapse_cu has encoding UTF8, LC_COLLATE C.UTF-8 and LC_CTYPE C.UTF-8, .*(the dump is a Synapse dump: it holds a schema_version table)$" "$T/out3"
check "auto: the fix" grep -qxF "$(fix_line synapse_cu)" "$T/out3"
check "auto: rolled back" grep -q '^  rolled back: the target is as it was before the import' "$T/out3"
check "auto: the database is still empty" test "$(count_in synapse_cu)" -eq 0

# 4. SQL_ASCII: refused, the encoding named
TARGET="${base_target/dbname=synapse/dbname=synapse_ascii}"
serve_once_send "$FIX" "$T/out4" --synapse || exit 1
check "SQL_ASCII: refused" \
	grep -q "^ERROR the target database synapse_ascii has encoding SQL_ASCII, LC_COLLATE C and LC_CTYPE C, but Synapse requires encoding UTF8" "$T/out4"
check "SQL_ASCII: the fix" grep -qxF "$(fix_line synapse_ascii)" "$T/out4"

# 5. --no-synapse: no Synapse checks, imported
TARGET="${base_target/dbname=synapse/dbname=synapse_cu}"
serve_once_send "$FIX" "$T/out5" --no-synapse || exit 1
check "--no-synapse: OK into a C.UTF-8 database" grep -q '^OK import into synapse_cu committed' "$T/out5"
check "--no-synapse: no Synapse lines" test "$(grep -c 'synapse:' "$T/out5")" -eq 0
check "--no-synapse: still verified" grep -q "^  verified: $FX_COPIES COPY row counts equal the data lines sent ($FX_ROWS rows); $FX_SETVALS sequences at the dump's setval values\$" "$T/out5"

# 6. a dump that is not Synapse's into a C.UTF-8 database (auto): not judged
psql_as src postgres -c "CREATE DATABASE other" >/dev/null
psql_as src other -c "CREATE TABLE notes (id serial PRIMARY KEY, body text)" \
	-c "INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 40) g" \
	-c "CREATE SEQUENCE tickets START 7" -c "SELECT setval('tickets', 7, false)" >/dev/null
pg_dump -h 127.0.0.1 -p "$(pg_port src)" -U postgres -O other >"$T/other.sql"
psql_as tgt postgres -c "CREATE DATABASE other_cu OWNER $TARGET_USER TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'" >/dev/null
TARGET="${base_target/dbname=synapse/dbname=other_cu}"
serve_once_send "$T/other.sql" "$T/out6" || exit 1
check "not a Synapse dump: OK into a C.UTF-8 database" grep -q '^OK import into other_cu committed' "$T/out6"
check "not a Synapse dump: no Synapse lines" test "$(grep -c 'synapse:' "$T/out6")" -eq 0
check "not a Synapse dump: rows and both sequences verified (one not yet called)" \
	grep -q "^  verified: 1 COPY row count equal the data lines sent (40 rows); 2 sequences at the dump's setval values$" "$T/out6"

# 7. an empty UTF8/C target without a Synapse schema: said so
TARGET=$base_target
serve_once_send "$FIX" "$T/out7" || exit 1
check "no Synapse schema in the target: OK" grep -q '^OK import into synapse committed' "$T/out7"
check "no Synapse schema in the target: said so" \
	grep -q "^synapse: the target had no Synapse schema before the import; the dump's schema version 94 is imported as is" "$T/out7"
check "no Synapse schema in the target: summary" \
	grep -q '^  synapse: dump: schema version 94 (compat 84, 125 deltas applied); target before the import: no Synapse schema$' "$T/out7"
