#!/bin/bash
# filter_psql_statements.sh - `pgsluice filter | psql` makes the server run
# the same statements as psql reading the dump itself, apart from the ones
# the rules dropped or rewrote.
#
# One cluster with log_statement = all and the log as JSON lines (jsonlog:
# each record carries the database name, and multi-line statements stay one
# record).  For each dump:
#
#	psql as the superuser           < dump  -> database direct_N
#	pgsluice filter --explain < dump | psql -1 as ees_owner -> filtered_N
#
# then the statements logged for filtered_N, without the BEGIN/COMMIT that
# psql -1 adds, must be the statements logged for direct_N in the same
# order, except that every statement `--explain` reported as dropped is
# missing and every one it reported as rewritten is replaced; the explain
# line numbers must point at those statements in the dump (their first
# line), and no explained statement may be left unaccounted for.
# Meta-commands (\restrict, \unrestrict) never reach the server either way.
#
# Dumps: the kitchen-sink dump with owners (made here) and
# synapse-small-noowner.sql.gz of the Synapse fixture (ours, and ../shared's
# when it is there).
. "$(dirname "$0")/../lib/common.sh"

if [ ! -x "$PGSLUICE" ]; then
	not_ok "statements: $PGSLUICE not built (run make)"
	exit 1
fi

pg_start logc "log_statement = all" "logging_collector = on" "log_destination = 'jsonlog'" \
	"log_directory = 'log'" "log_filename = 'server.log'" "log_rotation_size = 0" ||
	{ not_ok "statements: start a cluster with log_statement = all"; exit 1; }
psql_as logc postgres -c "CREATE ROLE ees_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" >/dev/null ||
	{ not_ok "statements: create role ees_owner"; exit 1; }


# The comparison.  Arguments: jsonlog file, direct db, filtered db, explain
# output, the plain dump.  Prints "# " diagnostics; exit 0 if equal.
cat >"$T/compare.py" <<'PY'
import json, re, sys
from collections import Counter

logfile, direct_db, filtered_db, explain_file, dump_file = sys.argv[1:]

def statements(db):
    out = []
    with open(logfile, encoding="utf-8", errors="surrogateescape") as f:
        for raw in f:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if rec.get("dbname") != db or rec.get("error_severity") != "LOG":
                continue
            msg = rec.get("message", "")
            if msg.startswith("statement: "):
                out.append(msg[len("statement: "):])
    return out

def short(s, n=160):
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "..."

with open(dump_file, encoding="utf-8", errors="surrogateescape", newline="") as f:
    dump_lines = f.read().split("\n")

explained = []   # (line, action, rule) in input order, meta-commands left out
metas = 0
pat = re.compile(r"^line (\d+): (dropped|rewritten|refused) \(([^)]*)\)")
with open(explain_file, encoding="utf-8", errors="surrogateescape") as f:
    for l in f:
        m = pat.match(l)
        if not m:
            continue
        line, action, rule = int(m.group(1)), m.group(2), m.group(3)
        if action == "refused":
            print("# the filter refused a statement: " + short(l.strip()))
            sys.exit(1)
        if dump_lines[line - 1].startswith("\\"):
            metas += 1       # psql runs meta-commands itself; never logged
            continue
        explained.append((line, action, rule))
explained.sort()

D = statements(direct_db)
F = statements(filtered_db)
print("# %s: %d statements; %s: %d statements; --explain: %d statements, %d meta-commands"
      % (direct_db, len(D), filtered_db, len(F), len(explained), metas))
if len(D) < 10:
    print("# too few statements logged for %s: is log_statement working?" % direct_db)
    sys.exit(1)
if len(F) < 2 or F[0] != "BEGIN" or F[-1] != "COMMIT":
    print("# %s: expected psql -1's BEGIN ... COMMIT around the import, got %s ... %s"
          % (filtered_db, short(F[0] if F else ""), short(F[-1] if F else "")))
    sys.exit(1)
F = F[1:-1]

i = j = k = 0
dropped = Counter()
rewritten = Counter()
bad = 0
while i < len(D):
    if j < len(F) and D[i] == F[j]:
        i += 1; j += 1
        continue
    first = D[i].split("\n", 1)[0]
    if k < len(explained) and dump_lines[explained[k][0] - 1].startswith(first):
        line, action, rule = explained[k]
        if action == "dropped":
            dropped[rule] += 1
            i += 1; k += 1
            continue
        if j < len(F):
            rewritten[rule] += 1
            print("# rewritten (%s) at line %d: %s  ->  %s" % (rule, line, short(D[i], 70), short(F[j], 70)))
            i += 1; j += 1; k += 1
            continue
    print("# statement %d of the direct import is not in the filtered one and not explained:" % (i + 1))
    print("#   direct:   " + short(D[i]))
    print("#   filtered: " + short(F[j] if j < len(F) else "(end)"))
    if k < len(explained):
        print("#   next --explain entry: line %d %s (%s): %s"
              % (explained[k][0], explained[k][1], explained[k][2], short(dump_lines[explained[k][0] - 1])))
    bad = 1
    break
if not bad and j < len(F):
    print("# the filtered import ran statements the direct one did not, from: " + short(F[j]))
    bad = 1
if not bad and k < len(explained):
    print("# --explain reported %d statement(s) that psql ran anyway, first at line %d: %s"
          % (len(explained) - k, explained[k][0], short(dump_lines[explained[k][0] - 1])))
    bad = 1
print("# dropped: %s; rewritten: %s" % (dict(dropped), dict(rewritten)))
sys.exit(bad)
PY

n=0
# compare_statements NAME FILE: both imports of one dump, then compare
compare_statements() {
	local name=$1 file=$2 plain=$2
	n=$((n + 1))
	local direct=direct_$n filtered=filtered_$n log=$T/st-$n
	mkdir -p "$log"
	case $file in
	*.gz) plain=$log/dump.sql; gzip -dc "$file" >"$plain" ;;
	esac

	psql_as logc postgres -c "CREATE DATABASE $direct" -c "CREATE DATABASE $filtered OWNER ees_owner" >/dev/null
	if ! psql_as logc "$direct" -f "$plain" >"$log/direct.out" 2>"$log/direct.err"; then
		not_ok "statements $name: psql < dump as the superuser"
		sed 's/^/#   /' "$log/direct.err" | tail -10
		return
	fi
	"$PGSLUICE" filter --explain <"$file" 2>"$log/explain" |
		psql -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$(pg_port logc)" -U ees_owner -d "$filtered" \
			>"$log/filtered.out" 2>"$log/filtered.err"
	local st=("${PIPESTATUS[@]}")
	if [ "${st[0]}" -ne 0 ] || [ "${st[1]}" -ne 0 ]; then
		not_ok "statements $name: filter | psql -1 as ees_owner (filter exit ${st[0]}, psql exit ${st[1]})"
		sed 's/^/#   /' "$log/explain" | grep -v '^#   line ' | tail -10
		sed 's/^/#   /' "$log/filtered.err" | tail -10
		return
	fi

	# the collector writes asynchronously: wait for a marker logged last
	local marker="statements-test-marker-$n" logfile="" logs
	psql_as logc postgres -c "SELECT '$marker'" >/dev/null
	for _ in $(seq 1 100); do
		logs=("$T"/pg-logc/log/*.json)
		logfile=${logs[0]}
		[ -f "$logfile" ] && grep -q "$marker" "$logfile" && break
		sleep 0.1
	done
	if [ ! -f "$logfile" ] || ! grep -q "$marker" "$logfile"; then
		not_ok "statements $name: the server's JSON log (log_statement = all) is not there"
		return
	fi
	if python3 "$T/compare.py" "$logfile" "$direct" "$filtered" "$log/explain" "$plain" >"$log/compare.out" 2>&1; then
		ok "statements $name: filter | psql runs psql's statements minus the explained drops and rewrites"
		cat "$log/compare.out"
	else
		not_ok "statements $name: filter | psql runs psql's statements minus the explained drops and rewrites"
		cat "$log/compare.out"
	fi
}

if make_kitchen_sink logc "$T"; then
	# the direct import of a dump with owners needs its roles
	compare_statements kitchen-sink "$T/ks.sql"
else
	not_ok "statements: build the kitchen-sink database (tests/fixtures/kitchen-sink.sql)"
fi

if need_fixtures; then
	for dir in $(fixture_corpora); do
		c=""
		[ "$dir" = "$FIXTURES/synapse" ] || c="shared-"
		if [ -f "$dir/synapse-small-noowner.sql.gz" ]; then
			compare_statements "${c}synapse-small-noowner" "$dir/synapse-small-noowner.sql.gz"
		else
			not_ok "statements: fixture $dir/synapse-small-noowner.sql.gz missing"
		fi
	done
fi
exit 0
