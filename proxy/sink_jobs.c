/*
 * sink_jobs.c - the sink (sink.h) of `serve --jobs N`: the dump's
 * statements and COPY data go to the engine (jobs.h), which runs them on
 * its own connections; the session's connection keeps the import lock,
 * the verification queries and the ending.  Also the engine's part after
 * the dump (the VACUUM phase of analyze.h, fed through jobs_own) and its
 * ending (jobs_end's SQL, run on the session's connection).  The only
 * file of the session that touches s->jobs and its flags.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "jobs.h"
#include "lexer.h"
#include "log.h"
#include "pgerr.h"
#include "report.h"
#include "rules.h"
#include "session_int.h"
#include "sink.h"
#include "target.h"
#include "verify.h"

/* The engine's events (jobs.h): the import failed, or it takes more. */
static void
sink_jobs_on_event(void *arg, enum jobs_event ev, const char *msg)
{
	struct session *s = arg;

	if (ev == JOBS_EV_FAILED) {
		session_fail(s, "%s", msg);
		return;
	}
	if (s->state != SESSION_STREAM || s->error != NULL)
		return;
	if (s->jobs_complete)
		session_complete(s); /* verifies once the engine is idle */
	else
		session_pump(s);
}

/*
 * --jobs N: the engine (jobs.h) opens its connections and takes the dump;
 * this connection keeps the import lock and runs the checks and the end.
 */
void
sink_start_jobs(struct session *s)
{
	struct jobs_config jc;
	char err[256];

	memset(&jc, 0, sizeof(jc));
	jc.base = s->cfg->base;
	jc.conninfo = s->cfg->conninfo;
	jc.n = s->cfg->jobs;
	jc.connect_timeout = s->cfg->connect_timeout;
	jc.lock_set = s->lock_set;
	jc.schemas = s->cfg->schemas;
	jc.n_schemas = s->cfg->n_schemas;
	jc.move_aside = s->objects.n > 0;
	jc.statement_timeout = s->cfg->statement_timeout;
	jc.who = s->who;
	jc.fn = sink_jobs_on_event;
	jc.arg = s;
	s->jobs = jobs_new(&jc, err, sizeof(err));
	if (s->jobs == NULL) {
		session_fail(s, "%s", err);
		return;
	}
	s->sink = &sink_jobs;
	s->sent_any = 1;
	if (s->cleared)
		session_say(s, LOG_LEVEL_INFO,
		            "--clear-target: moving %s aside until the import "
		            "has committed (--jobs %d)",
		            s->cleared, s->cfg->jobs);
	session_start_stream(s);
}

/*
 * Between the two passes (analyze.h): the engine's commits are
 * asynchronous, so, alone, the ANALYZE of the smallest table with rows
 * with synchronous_commit on: its commit wrote WAL (pg_statistic) and
 * flushes all before it.  (A transaction that only takes an xid commits
 * asynchronously whatever the setting.)  Without ANALYZE (the dump's
 * statistics) there is no flush: the walwriter flushes within a fraction
 * of a second, and pages it had not reached stay for autovacuum.
 */
static int
sink_jobs_vacuum_flush(struct session *s)
{
	const struct report_table *least = NULL;
	char sql[ANALYZE_SQL_MAX];
	size_t i;

	for (i = 0; i < s->rep.n_tables; i++)
		if (s->rep.tables[i].rows > 0 &&
		    (least == NULL || s->rep.tables[i].rows < least->rows))
			least = &s->rep.tables[i];
	if (least == NULL ||
	    (size_t)snprintf(sql, sizeof(sql), "SET synchronous_commit = on; ANALYZE %s",
	                     least->name) >= sizeof(sql))
		return 0;
	return jobs_own(s->jobs, sql, 1, s->rep.statements, lexer_standard_strings(&s->pipe.lx));
}

/*
 * --jobs, the dump is all read: the two passes of analyze.h over the
 * tables the import created, on the engine's connections; the first
 * beside what is left of post-data (the engine starts each table's
 * VACUUM once the dump's statements on that table have run), the second
 * once all is done.  Returns 1 while the engine has work (the dump's or
 * the passes'); JOBS_EV_READY calls again.
 */
static int
sink_jobs_vacuum(struct session *s)
{
	const char *why = session_no_analyze(s);
	char sql[ANALYZE_SQL_MAX];

	if (s->analyze_step == 0) {
		if (s->cfg->no_analyze) {
			s->analyze_step = 2;
			report_phase_note(&s->rep, REPORT_PHASE_VACUUM, "none: --no-analyze");
		} else if (!jobs_in_data(s->jobs)) {
			return 1; /* pre-data's COMMIT first: VACUUM runs in no transaction */
		} else {
			s->analyze_step = 1;
			s->vacuum_pass = why ? ANALYZE_PASS_FREEZE_NO_STATS : ANALYZE_PASS_FREEZE;
			s->vacuum_behind = jobs_pending(s->jobs);
			report_phase_begin(&s->rep, REPORT_PHASE_VACUUM);
		}
	}
	while (s->analyze_step == 1) {
		while (!s->vacuum_fed && jobs_ready(s->jobs)) {
			if (analyze_pass_sql(&s->rules, &s->vacuum_next, s->vacuum_pass,
			                     PQserverVersion(s->target.conn), sql,
			                     sizeof(sql)) == 0) {
				s->vacuum_fed = 1;
				break;
			}
			if (jobs_own(s->jobs, sql, 0, s->rep.statements,
			             lexer_standard_strings(&s->pipe.lx)) < 0)
				return 1; /* JOBS_EV_FAILED follows */
		}
		if (!s->vacuum_fed || !jobs_idle(s->jobs))
			return 1;
		if (s->vacuum_pass == ANALYZE_PASS_VISIBLE) {
			s->analyze_step = 2;
			report_phase_note(
				&s->rep, REPORT_PHASE_VACUUM,
				"VACUUM (FREEZE%s) of %zu tables on %d connections, begun with %d "
				"statements of the dump left%s%s",
				why ? "" : ", ANALYZE", analyze_count(&s->rules), s->cfg->jobs,
				s->vacuum_behind, why ? "; no ANALYZE: " : "", why ? why : "");
			break;
		}
		if (why == NULL && sink_jobs_vacuum_flush(s) < 0)
			return 1;
		s->vacuum_pass = ANALYZE_PASS_VISIBLE;
		s->vacuum_next = 0;
		s->vacuum_fed = 0;
	}
	return !jobs_idle(s->jobs);
}

static int
sink_jobs_ready(struct session *s)
{
	return jobs_ready(s->jobs);
}

/* The engine takes its own copy of sql. */
static int
sink_jobs_send(struct session *s, const char *sql, size_t len, int is_copy)
{
	if (is_copy) {
		s->copy_open = 1;
		return jobs_copy_begin(s->jobs, sql, len, s->pipe.lx.copy_table, s->cur_no,
		                       s->cur_line, lexer_standard_strings(&s->pipe.lx)) < 0
		               ? -1
		               : 1;
	}
	return jobs_statement(s->jobs, sql, len, s->cur_no, s->cur_line,
	                      lexer_standard_strings(&s->pipe.lx)) < 0
	               ? -1
	               : 1;
}

static int
sink_jobs_copy_data(struct session *s, const char *data, size_t len)
{
	return jobs_copy_data(s->jobs, data, len);
}

static int
sink_jobs_copy_end(struct session *s, const struct lexer_event *ev)
{
	char verr[512];

	if (jobs_copy_end(s->jobs, ev->rows) == 0)
		return 0;
	if (session_copy_ending(s, ev) < 0)
		return -1;
	s->copy_open = 0;
	/* the engine checks the batches' tags against ev->rows */
	report_copy_done(&s->rep, ev->rows);
	if (verify_copy_result(&s->ver, s->rep.copy_table, ev->rows, verr, sizeof(verr)) < 0) {
		session_fail(s, "%s", verr);
		return -1;
	}
	return 1;
}

/* The VACUUM phase begins; verification waits for all the engine runs (JOBS_EV_READY). */
static int
sink_jobs_complete(struct session *s)
{
	s->jobs_complete = 1;
	jobs_finish(s->jobs);
	return !sink_jobs_vacuum(s);
}

/* Keep (drop the aside schemas) or undo (jobs.h), on the session's connection. */
static int
sink_jobs_end(struct session *s)
{
	char *sql;
	int r;

	if (s->jobs_ended)
		return 1;
	s->jobs_ended = 1;
	s->finish_commit = s->error == NULL;
	if (s->finish_commit)
		report_phase_begin(&s->rep, REPORT_PHASE_COMMIT);
	sql = jobs_end(s->jobs, s->finish_commit, PQserverVersion(s->target.conn));
	session_set_state(s, SESSION_FINISH);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		s->finish_commit = 0;
	} else if (sql[0] != '\0') {
		s->in_txn = 1; /* its result decides what the summary says */
		r = session_send(s, sql);
		free(sql);
		if (r == 0)
			return 0;
	} else {
		free(sql);
		s->committed = s->finish_commit;
	}
	return 1;
}

static void
sink_jobs_end_failed(struct session *s)
{
	char *srv = pgerr_text(&s->srv);

	session_say(s, LOG_LEVEL_ERROR,
	            "  --jobs: undoing the import failed: %s\n  the "
	            "target holds a partial import; pgsluice_aside_N schemas hold what "
	            "--clear-target moved aside",
	            srv ? srv : "?");
	free(srv);
}

static const char *
sink_jobs_end_state(const struct session *s)
{
	return jobs_state(s->jobs);
}

static void
sink_jobs_destroy(struct session *s)
{
	jobs_free(s->jobs);
}

const struct sink_ops sink_jobs = {
	.ready = sink_jobs_ready,
	.send = sink_jobs_send,
	.copy_data = sink_jobs_copy_data,
	.copy_end = sink_jobs_copy_end,
	.complete = sink_jobs_complete,
	.end = sink_jobs_end,
	.end_failed = sink_jobs_end_failed,
	.end_state = sink_jobs_end_state,
	.destroy = sink_jobs_destroy,
	.copy_freeze = 0,
	.check_target = 0,
	.analyze = 0,
	.committed_note = "\n  --jobs: pre-data and every COPY batch commit by themselves, so this "
			  "change is committed: undo it by hand (its value before the import "
			  "is above)",
};
