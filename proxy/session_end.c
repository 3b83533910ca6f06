/*
 * session_end.c - the end of a session: the wind-down of the target
 * (COPY end, ROLLBACK or COMMIT, unlock), the result and the summary
 * (report.h, jsonout.h), the client's close, and freeing.
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
 * Take the target from wherever it is to closed: end a COPY, let a command
 * in flight finish, ROLLBACK (or COMMIT), unlock.  Called again on each
 * target event until done; then the summary.
 */
void
session_wind_down(struct session *s)
{
	struct target *t = &s->target;
	char *sql;
	int r;

	if (s->state == SESSION_CLOSING)
		return;
	switch (t->state) {
	case TARGET_CLOSED:
	case TARGET_BROKEN:
	case TARGET_CONNECTING:
		target_close(t);
		session_report(s);
		return;
	case TARGET_BUSY:
		lockwatch_cancel_later(&s->lw);
		return; /* TARGET_EV_IDLE brings us back */
	case TARGET_COPY_IN:
		if (t->flushing) {
			lockwatch_cancel_later(&s->lw);
			return; /* TARGET_EV_DRAINED brings us back */
		}
		r = target_end_copy(t, "pgsluice: the import was aborted");
		if (r < 0) {
			target_close(t);
			session_report(s);
			return;
		}
		/*
		 * r == 0: retried on TARGET_EV_DRAINED.  Either way the server
		 * still works through the COPY data it has (a slow trigger, say)
		 * before it reads the end: cancel that if it takes long.
		 */
		lockwatch_cancel_later(&s->lw);
		return;
	case TARGET_IDLE:
		if (t->flushing)
			return;
		break;
	}

	/* idle: the next step of the ending */
	if (s->error == NULL && s->state < SESSION_FINISH && s->front->probes_peer &&
	    s->cl.bev != NULL && session_peer_state(s) == 2) {
		/*
		 * The client reset the connection (Ctrl-C on pgsluice send, a
		 * killed nc) while the end of the dump was already in our
		 * buffers: it never hears the answer, so nothing is committed.
		 */
		s->cl.eof = s->cl.gone = 1;
		snprintf(s->cl.why, sizeof(s->cl.why), "the client connection was lost (reset)");
		session_fail(s, "%s before the answer: not committing", s->cl.why);
		return;
	}
	if (s->state < SESSION_FINISH && s->sink->end(s) == 0)
		return; /* the sink's ending is in flight */
	if (s->state < SESSION_FINISH) {
		if (s->in_txn) {
			s->finish_commit = s->error == NULL;
			session_set_state(s, SESSION_FINISH);
			if (s->finish_commit)
				report_phase_begin(&s->rep, REPORT_PHASE_COMMIT);
			if (session_send(s, s->finish_commit ? "COMMIT" : "ROLLBACK") == 0)
				return;
			target_close(t);
			session_report(s);
			return;
		}
		session_set_state(s, SESSION_FINISH);
	}
	if (s->state == SESSION_FINISH) {
		if (s->locked) {
			session_set_state(s, SESSION_UNLOCK);
			/* a good import: pg_database_size after COMMIT, for the summary */
			sql = s->error == NULL ? verify_sql_size(preflight_sql_unlock()) : NULL;
			r = target_send_script(t, sql != NULL ? sql : preflight_sql_unlock());
			free(sql);
			if (r == 0)
				return;
		}
	}
	target_close(t);
	session_report(s);
}

/* ---- the client side ------------------------------------------------- */

void
session_free_now(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->cfg->on_free)
		s->cfg->on_free(s->cfg->arg, s);
	target_close(&s->target);
	client_free(&s->cl);
	if (s->rules_live)
		rules_free(&s->rules);
	pipeline_free(&s->pipe);
	preflight_settings_free(&s->settings);
	preflight_objects_free(&s->objects);
	report_free(&s->rep);
	verify_free(&s->ver);
	audit_free(&s->audit);
	pgerr_clear(&s->srv);
	if (s->ev_progress)
		event_free(s->ev_progress);
	if (s->ev_header)
		event_free(s->ev_header);
	if (s->ev_auth)
		event_free(s->ev_auth);
	if (s->ev_idle)
		event_free(s->ev_idle);
	lockwatch_free(&s->lw);
	progwatch_close(&s->progress);
	if (s->ev_stmt_timeout)
		event_free(s->ev_stmt_timeout);
	if (s->ev_alive)
		event_free(s->ev_alive);
	if (s->ev_sniff)
		event_free(s->ev_sniff);
	s->front->free(s);
	event_free(s->ev_free);
	free(s->cleared);
	s->sink->destroy(s);
	textbuf_free(&s->sql);
	free(s->fixed);
	free(s->error);
	free(s);
}

/* Free the session from the loop, never under a callback of its own. */
void
session_release(struct session *s)
{
	if (s->released)
		return;
	s->released = 1;
	client_stop(&s->cl);
	event_active(s->ev_free, EV_TIMEOUT, 0);
}

/* Summary written (or refusal): let the output drain, then close. */
void
session_close_client(struct session *s)
{
	session_set_state(s, SESSION_CLOSING);
	if (s->ev_progress)
		event_del(s->ev_progress);
	client_close(&s->cl, SESSION_WRITE_TIMEOUT_S);
}

/* ---- the ending ------------------------------------------------------- */

static void
session_emit(void *arg, const char *line)
{
	session_sum(arg, LOG_LEVEL_INFO, "%s", line);
}

/* What state the target is in after a failed import (the summary's last word). */
static const char *
session_end_state(const struct session *s, char *buf, size_t size)
{
	if (!s->sent_any)
		return "nothing was changed in the target";
	if (s->txn_lost)
		return session_txn_lost_state(s);
	if (s->sink->end_state(s) != NULL)
		return s->sink->end_state(s);
	if (s->commit_unknown)
		return "the connection was lost while COMMIT was in flight: the import may or may "
		       "not have been committed; look at the target before sending the dump again";
	if (s->cfg->rules->opt.single_transaction) {
		snprintf(buf, size, "rolled back: the target is as it was before the import%s",
		         s->cleared ? " (the --clear-target drops too)" : "");
		return buf;
	}
	return "--no-single-transaction: the statements before the failing one were committed; "
	       "the target holds a partial import";
}

/* The result as data: to the daemon (on_result), and to a client that asked. */
static void
session_result(struct session *s, const char *state)
{
	struct jsonout_import res;
	char msg[1024];
	json_t *obj;
	size_t n;

	memset(&res, 0, sizeof(res));
	res.ok = s->error == NULL;
	res.committed = s->committed && s->error == NULL;
	n = s->error ? strcspn(s->error, "\n") : 0;
	if (s->error)
		snprintf(msg, sizeof(msg), "%.*s", (int)n, s->error);
	else
		snprintf(msg, sizeof(msg), "import into %s committed", s->dbname);
	res.message = msg;
	res.target = s->cfg->target_desc;
	res.database = s->dbname[0] ? s->dbname : NULL;
	res.jobs = s->cfg->jobs > 1 ? s->cfg->jobs : 1;
	res.mode = s->cfg->jobs > 1                        ? "jobs"
	           : s->cfg->rules->opt.single_transaction ? "single transaction"
	                                                   : "no single transaction";
	res.state = state;
	if (s->error != NULL && s->fail_no > 0) {
		res.sqlstate = s->fail_sqlstate[0] ? s->fail_sqlstate : NULL;
		res.statement = s->fail_no;
		res.line = s->fail_line;
	}
	res.rep = &s->rep;
	res.rules = s->rules_live ? &s->rules : NULL;
	res.ver = s->rules_live ? &s->ver : NULL;
	obj = jsonout_import(&res);
	if (obj == NULL)
		return;
	if (s->cfg->on_result)
		s->cfg->on_result(s->cfg->arg, s, &res, obj);
	if (!s->cl.gone)
		s->front->outcome(s, obj);
	json_decref(obj);
}

/*
 * The target is closed: the summary, then close the client.  It opens
 * with the verdict, then the phases, the checks and the rules, and ends
 * with the verdict again (so a terminal shows it last).
 */
void
session_report(struct session *s)
{
	int single = s->cfg->rules->opt.single_transaction;
	const char *state = NULL;
	enum log_level lvl;
	char plain[32], sbuf[160];

	if (s->state == SESSION_CLOSING || s->state == SESSION_AFTER)
		return;
	if (s->ev_progress)
		event_del(s->ev_progress);
	report_phase_end(&s->rep);
	progwatch_close(&s->progress);
	log_group_begin(); /* the summary is one log record */
	report_size(s->rep.bytes_plain, plain, sizeof(plain));
	if (s->error == NULL && s->committed == 0 && !single)
		s->committed = 1; /* autocommit: what was sent is in */
	lvl = s->error ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO;
	if (s->error == NULL) {
		session_sum(s, lvl,
		            "OK import into %s %s: %llu statements, %llu rows in %zu tables, "
		            "%s in %.1f s",
		            s->dbname,
		            single ? "committed"
		                   : "done (--no-single-transaction: "
		                     "committed statement by statement)",
		            (unsigned long long)s->rep.statements, (unsigned long long)s->rep.rows,
		            s->rep.n_tables, plain, report_elapsed(&s->rep));
		s->front->summary(s, lvl);
	} else {
		state = session_end_state(s, sbuf, sizeof(sbuf));
		session_sum(s, lvl, "ERROR %s", s->error);
		session_sum(s, lvl, "  %s", state);
	}
	if (s->super_allowed)
		session_sum(s, LOG_LEVEL_WARN,
		            "  the target role %s is a superuser "
		            "(--allow-superuser-target)",
		            s->super_allowed_user);
	if (s->rules_live) {
		report_phases(&s->rep, session_emit, s);
		if (s->cleared && !s->txn_lost)
			session_sum(s, LOG_LEVEL_INFO, "  cleared (--clear-target): %s %s",
			            s->cleared,
			            s->committed ? "dropped" : "not dropped (rolled back)");
		synapse_summary(&s->syn, session_emit, s);
		verify_summary(&s->ver, &s->rep, session_emit, s);
		report_summary(&s->rep, &s->rules, s->error == NULL && s->cfg->verbose,
		               session_emit, s);
		if (s->error == NULL)
			session_sum(s, lvl, "OK import into %s %s", s->dbname,
			            single ? "committed" : "done (--no-single-transaction)");
		else
			session_sum(s, lvl, "ERROR import into %s failed: %s", s->dbname, state);
	}
	log_group_end();
	session_result(s, state);
	if (s->cl.gone && s->admitted)
		client_log_left(&s->cl, s->cl.why);
	if (!s->ended && s->admitted) {
		s->ended = 1;
		if (s->cfg->on_end)
			s->cfg->on_end(s->cfg->arg, s, s->committed && s->error == NULL);
	}
	if (!s->cl.gone && s->front->after(s) == 0)
		return;
	session_close_client(s);
}
