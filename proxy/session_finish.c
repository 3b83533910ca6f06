/*
 * session_finish.c - a session after the whole dump is in: the
 * replacement check, ANALYZE, and the checks before COMMIT (verify.h).
 * The sink's own work after the data (--jobs: the VACUUM phase) comes
 * first (sink.h: complete).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "analyze.h"
#include "audit.h"
#include "auth.h"
#include "classify.h"
#include "client.h"
#include "decoder.h"
#include "dumpstart.h"
#include "jsonout.h"
#include "jobs.h"
#include "lexer.h"
#include "lockwatch.h"
#include "log.h"
#include "metrics.h"
#include "pgerr.h"
#include "pgwire.h"
#include "preflight.h"
#include "progwatch.h"
#include "report.h"
#include "rules.h"
#include "session.h"
#include "session_int.h"
#include "sqltok.h"
#include "synapse.h"
#include "target.h"
#include "text.h"
#include "tls.h"
#include "verify.h"

/*
 * The whole dump is in, before COMMIT: does it look like the database it
 * replaces?  A dump that creates no table while the target held tables
 * (pg_dump of the wrong database, a data-only dump), and with the Synapse
 * checks in effect (--synapse, or a target that held a Synapse schema) a
 * dump without a Synapse schema or older than the target's compat version
 * would throw the target away: refused unless --force-replace.  -1: failed.
 */
static int
session_replacement_check(struct session *s)
{
	const struct synapse *sy = &s->syn;
	int synapse_on = sy->mode == SYNAPSE_ON || (sy->mode == SYNAPSE_AUTO && sy->target.present);
	const char *fix = "\n  is it the right dump?  To import it all the same, start pgsluice "
			  "serve with --force-replace";

	if (s->cfg->force_replace)
		return 0;
	if (s->target_tables > 0 && s->dump_tables == 0) {
		session_fail(
			s,
			"the dump creates no table, and the target held %zu table%s in "
			"schema%s %s of database %s: importing it would replace that database "
			"with one without tables (pg_dump of the wrong database, or a data-only "
			"dump?)%s",
			s->target_tables, s->target_tables == 1 ? "" : "s",
			s->cfg->n_schemas > 1 ? "s" : "", s->cfg->schemas[0], s->dbname, fix);
		return -1;
	}
	if (synapse_on && !sy->dump_synapse) {
		session_fail(
			s,
			"the dump has no Synapse schema (no %s.schema_version), and %s: "
			"importing it would replace Synapse's database with another one (pg_dump "
			"of the wrong database?)%s%s",
			sy->schema,
			sy->target.present ? "the target held one"
					   : "--synapse says the target is for Synapse",
			fix,
			sy->mode == SYNAPSE_AUTO ? ", or with --no-synapse if the target is "
						   "no longer for Synapse"
						 : "");
		return -1;
	}
	if (synapse_on && sy->target.present && sy->target.compat >= 0 && sy->dump.version >= 0 &&
	    sy->dump.version < sy->target.compat) {
		session_fail(s,
		             "the dump's Synapse schema version %d is older than the target's "
		             "compat version %d: the Synapse that runs on the target cannot run on "
		             "it (a dump of an older Synapse, or of the wrong server?)%s",
		             sy->dump.version, sy->target.compat, fix);
		return -1;
	}
	return 0;
}

/* Why the tables get no ANALYZE of ours, or NULL. */
const char *
session_no_analyze(const struct session *s)
{
	if (s->cfg->no_analyze)
		return "--no-analyze";
	if (rules_stats_calls(&s->rules) > 0)
		return "the dump's pg_dump 18 statistics were applied";
	return NULL;
}

/*
 * After verification, before the audit: ANALYZE of the tables the import
 * created (analyze.h), inside its transaction; unless the sink sees to the
 * statistics (sink.h: analyze; --jobs: its VACUUM phase).  Returns 1
 * while it runs.
 */
static int
session_analyze(struct session *s)
{
	const char *why = session_no_analyze(s);
	char *sql;
	int oom;

	if (s->analyze_step == 1) {
		s->analyze_step = 2;
		report_phase_note(
			&s->rep, REPORT_PHASE_ANALYZE, "%zu tables, %s", analyze_count(&s->rules),
			s->in_txn ? "inside the import's transaction" : "after the import");
		report_phase_begin(&s->rep, REPORT_PHASE_VERIFY); /* the audit is a check too */
	}
	if (s->analyze_step == 2 || !s->sink->analyze)
		return 0;
	s->analyze_step = 2;
	if (why != NULL) {
		report_phase_note(&s->rep, REPORT_PHASE_ANALYZE, "none: %s", why);
		return 0;
	}
	if ((sql = analyze_sql(&s->rules, &oom)) == NULL) {
		if (oom)
			session_fail(s, "out of memory");
		return oom;
	}
	s->analyze_step = 1;
	report_phase_begin(&s->rep, REPORT_PHASE_ANALYZE);
	session_send(s, sql);
	free(sql);
	return 1;
}

/*
 * After the trailer (and after each verification query): the next query
 * of verify.h, or, when all passed, the ending (COMMIT).
 */
void
session_verify_next(struct session *s)
{
	char err[1024], *sql;
	int r;

	if (s->state == SESSION_STREAM) {
		if (session_replacement_check(s) < 0)
			return;
		if (synapse_dump_end(&s->syn, err, sizeof(err)) == SYNAPSE_NOTE_WARN)
			session_say(s, LOG_LEVEL_WARN, "warning: synapse: %s", err);
		session_set_state(s, SESSION_VERIFY);
		report_phase_begin(&s->rep, REPORT_PHASE_VERIFY);
	}
	r = verify_next(&s->ver, s->target.conn, &sql, err, sizeof(err));
	if (r < 0) {
		session_fail(s, "%s", err);
		return;
	}
	if (r == 0 && session_analyze(s))
		return;
	if (r == 0 && !s->audited && !s->auditing) {
		/* last: has the dump changed the role or the database? (audit.h) */
		s->auditing = 1;
		session_send(s, audit_sql());
		return;
	}
	if (r == 0) {
		session_wind_down(s); /* commits when there is no error */
		return;
	}
	session_send(s, sql);
	free(sql);
}
