#!/bin/bash
# serve_logs.sh - a log a shipper can read: one record per line with an
# ISO-8601 timestamp and offset, syslog priorities with --syslog or when
# stderr is the journal (JOURNAL_STREAM), --log-format json (each line one
# JSON object), the target and the mode named at startup, never a password.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
need_fixtures || exit 0
F=$FIXTURES/synapse/synapse-small-noowner.sql.gz

serve_clusters || { not_ok "clusters start"; exit 1; }

# parse_log FORM FILE: every line one record of that form (text, journal,
# json); prints what it found, exits 1 on the first line that is not one
parse_log() {
	python3 - "$1" "$2" <<'EOF'
import json, re, sys
form, path = sys.argv[1], sys.argv[2]
stamp = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d'
text = re.compile(r'^(<[0-7]>)?(' + stamp + r') (DEBUG|INFO |WARN |ERROR) \[[^\]]*\] \S')
prio = {'DEBUG': 7, 'INFO ': 6, 'WARN ': 4, 'ERROR': 3}
n = errors = 0
for no, line in enumerate(open(path, encoding='utf-8', errors='replace'), 1):
    line = line.rstrip('\n')
    n += 1
    if form == 'json':
        try:
            o = json.loads(line)
        except ValueError as e:
            sys.exit('line %d is no JSON object (%s): %s' % (no, e, line[:200]))
        if sorted(o) != ['level', 'msg', 'priority', 'time', 'who'] or not re.fullmatch(stamp, o['time']):
            sys.exit('line %d: keys or time wrong: %s' % (no, line[:200]))
        if {'debug': 7, 'info': 6, 'warning': 4, 'error': 3}[o['level']] != o['priority']:
            sys.exit('line %d: level and priority disagree: %s' % (no, line[:200]))
        errors += o['priority'] == 3
        continue
    m = text.match(line)
    if not m:
        sys.exit('line %d is not one record: %s' % (no, line[:200]))
    if form == 'journal' and m.group(1) != '<%d>' % prio[m.group(3)]:
        sys.exit('line %d: priority %s for level %s' % (no, m.group(1), m.group(3)))
    if form == 'text' and m.group(1):
        sys.exit('line %d: a priority prefix in the text form' % no)
    errors += m.group(3) == 'ERROR'
print('%d records, %d errors' % (n, errors))
sys.exit(0 if n > 0 and errors > 0 else 1)
EOF
}

# one daemon per form: an import that cannot connect (a multi-line error)
# and one that commits
run_form() {
	local form=$1
	shift
	start_daemon "$T/serve.log" 127.0.0.1 --target "host=127.0.0.1 port=$(free_port) dbname=synapse user=x password=s3cr3t-pw" --connect-timeout 5 "$@" ||
		{ not_ok "$form: daemon starts"; return 1; }
	SPORT=$DAEMON_PORT SPID=$DAEMON_PID
	send_nc "$F" "$T/out-$form-fail"
	check "$form: the import that cannot connect fails" grep -q '^ERROR' "$T/out-$form-fail"
	serve_stop
	cp "$T/serve.log" "$T/log-$form-fail"
	start_daemon "$T/serve.log" 127.0.0.1 --target "$TARGET" --clear-target --progress-interval 0.05 "$@" ||
		{ not_ok "$form: daemon starts"; return 1; }
	SPORT=$DAEMON_PORT SPID=$DAEMON_PID
	send_nc "$F" "$T/out-$form"
	check "$form: the import commits" grep -q '^OK' "$T/out-$form"
	serve_stop
	cat "$T/log-$form-fail" "$T/serve.log" >"$T/log-$form"
	if r=$(parse_log "$form" "$T/log-$form" 2>&1); then
		ok "$form: every line is one record, errors among them ($r)"
	else
		not_ok "$form: $r"
	fi
	check "$form: no password in the log" sh -c "! grep -q s3cr3t-pw '$T/log-$form'"
}

run_form text
check "text: the summary is one record" sh -c "grep -c 'OK import into synapse committed' '$T/log-text' | grep -qx 1 && ! grep -q '^ ' '$T/log-text'"
check "text: the failed connection's advice is in the error's record" \
	grep -q 'ERROR .*cannot connect.* | ' "$T/log-text-fail"
check "text: the startup line names the target and the mode" \
	grep -q "serving imports into database synapse on host 127.0.0.1 port $(pg_port tgt) as user $TARGET_USER (single transaction, --clear-target)" "$T/log-text"
run_form journal --syslog
check "journal: errors are <3>" grep -q '^<3>.* ERROR ' "$T/log-journal"
check "journal: progress is <6>" grep -q '^<6>.* INFO  .*progress' "$T/log-journal"
run_form json --log-format json
check "json: the startup record names the target" \
	grep -q '"msg":"pgsluice [^"]* serving imports into database synapse on host 127.0.0.1' "$T/log-json"

# stderr is the journal: JOURNAL_STREAM names its device and inode
: >"$T/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.log") "$PGSLUICE" serve --target "$TARGET" --listen 127.0.0.1:"$(free_port)" -j 2 2>>"$T/journal.log" &
pid=$!
bg_track "$pid"
for ((i = 0; i < 100; i++)); do grep -q 'serving imports' "$T/journal.log" && break; sleep 0.1; done
kill -TERM "$pid"
wait_pid "$pid" 20 "$T/journal.log" >/dev/null
check "JOURNAL_STREAM is stderr: priorities without --syslog" grep -q '^<6>.*serving imports' "$T/journal.log"
check "--jobs 2 named at startup" grep -q 'serving imports .*(--jobs 2: ' "$T/journal.log"
: >"$T/other.log"
JOURNAL_STREAM=1:1 "$PGSLUICE" serve --target "$TARGET" --listen 127.0.0.1:"$(free_port)" 2>>"$T/other.log" &
pid=$!
bg_track "$pid"
for ((i = 0; i < 100; i++)); do grep -q 'serving imports' "$T/other.log" && break; sleep 0.1; done
kill -TERM "$pid"
wait_pid "$pid" 20 "$T/other.log" >/dev/null
check "JOURNAL_STREAM of another file: no priorities" grep -q '^20[0-9-]*T.*serving imports' "$T/other.log"
