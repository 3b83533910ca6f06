/*
 * session.c - one import, from the client's first byte to the summary
 * (session.h).
 *
 * The data path, one lexer event at a time:
 *
 *   the client's input (client.h: a bufferevent with a read high mark, so
 *   that the kernel holds the rest and the client's TCP window closes; on
 *   a plain socket in STREAM, bulk reads instead)
 *     -> decoder_run into plain[] (SESSION_PLAIN_CAP; refilled only when
 *        used up)
 *     -> lexer_scan: one event
 *     -> rules_apply (statements, meta-commands) / COPY data as it is
 *     -> target_send / target_put_copy / target_end_copy
 *
 * Before every event the pump asks target_ready(): while a statement is in
 * flight or libpq holds unsent bytes, nothing more is taken from plain[],
 * nothing more is decoded, the input buffer stays full and libevent stops
 * reading the socket.  When the target catches up (TARGET_EV_IDLE, _COPY,
 * _DRAINED) the pump goes on.  Memory is so bounded by the two buffers,
 * libpq's buffers (one statement or one COPY piece) and the lexer's
 * statement buffer (--max-statement).
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

static const char *const session_state_names[] = {
	"handshake", "predump", "connect", "lock",   "settings", "role",  "synapse", "objects",
	"begin",     "stream",  "verify",  "finish", "unlock",   "after", "closing",
};

static void session_pump(struct session *s);
static void session_handshake(struct session *s);
static void session_wind_down(struct session *s);
static int session_peer_state(struct session *s);
static int session_sniff(struct session *s);
static void session_on_presniff(evutil_socket_t fd, short what, void *arg);
static int session_wire_startup(struct session *s);
static int session_wire_refill(struct session *s);
static int session_wire_statement(struct session *s, const struct lexer_event *ev,
                                  const struct rules_verdict *v, int in_copy);
static int session_wire_after(struct session *s);
static void session_predump(struct session *s);
static void session_preflight_start(struct session *s);
static void session_on_idle(evutil_socket_t fd, short what, void *arg);
static void session_refuse_code(struct session *s, enum log_level level,
                                enum session_admission code, const char *msg);
static void session_refuse(struct session *s, enum log_level level, const char *msg);
static void session_on_header_timeout(evutil_socket_t fd, short what, void *arg);
static void session_report(struct session *s);
static void session_release(struct session *s);
static void session_fail(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void session_fail_stmt(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const struct report *
session_progress(const struct session *s)
{
	return &s->rep;
}

const char *
session_who(const struct session *s)
{
	return s->who;
}

static void
session_set_state(struct session *s, enum session_state st)
{
	if (s->state == st)
		return;
	log_debug(s->who, "state %s -> %s", session_state_names[s->state], session_state_names[st]);
	if (s->state == SESSION_STREAM)
		client_bulk_stop(&s->cl);
	s->state = st;
}

/*
 * One line to the client (if it is still there) and to the log; kind says
 * what it is to a client that sorts lines (the PostgreSQL protocol).
 */
static void
session_vsay(struct session *s, enum pgwire_say kind, enum log_level level, const char *fmt,
             va_list ap)
{
	va_list ap2;

	va_copy(ap2, ap);
	log_vmsg(level, s->who, fmt, ap2);
	va_end(ap2);
	if (s->cl.gone)
		return;
	if (s->wire != NULL) {
		char line[2048];

		vsnprintf(line, sizeof(line), fmt, ap);
		pgwire_say(s->wire, client_out(&s->cl), kind, line);
		return;
	}
	evbuffer_add_vprintf(client_out(&s->cl), fmt, ap);
	evbuffer_add(client_out(&s->cl), "\n", 1);
}

/* A line of any kind but the summary's or progress. */
static void session_say(struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
session_say(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vsay(s, PGWIRE_SAY_NOTE, level, fmt, ap);
	va_end(ap);
}

/* A line of the summary (session_report). */
static void session_sum(struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
session_sum(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vsay(s, PGWIRE_SAY_SUMMARY, level, fmt, ap);
	va_end(ap);
}

/* A progress line. */
static void session_say_progress(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
session_say_progress(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vsay(s, PGWIRE_SAY_PROGRESS, LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

static char *
session_vstrdup(const char *fmt, va_list ap)
{
	va_list ap2;
	char *p;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	p = malloc((size_t)n + 1);
	if (p != NULL)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

/*
 * The import failed: keep the first reason (a printf format) and what it
 * was, then wind the target down.  Safe to call in any state, several
 * times.
 */
static void
session_vfail(struct session *s, enum pgwire_failure why, const char *fmt, va_list ap)
{
	if (s->error == NULL) {
		s->error = session_vstrdup(fmt, ap);
		if (s->error == NULL)
			s->error = strdup("out of memory");
		s->error_why = why;
		log_debug(s->who, "failing in state %s", session_state_names[s->state]);
	}
	if (s->state == SESSION_CLOSING)
		return;
	session_wind_down(s);
}

static void
session_fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(s, PGWIRE_FAIL_OTHER, fmt, ap);
	va_end(ap);
}

/* session_fail for a statement of the dump that failed or was refused. */
static void
session_fail_stmt(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(s, PGWIRE_FAIL_STATEMENT, fmt, ap);
	va_end(ap);
}

/* ---- side connections: who blocks us, cancel (lockwatch.h) ----------- */

static void
session_on_blocked(void *arg, const char *blocker, double waited)
{
	struct session *s = arg;

	if (s->state == SESSION_STREAM)
		session_say(s, LOG_LEVEL_WARN,
		            "waiting: statement %llu at line %llu has waited %.0f s "
		            "for a lock held by %s",
		            (unsigned long long)s->cur_no, (unsigned long long)s->cur_line, waited,
		            blocker);
	else
		session_say(s, LOG_LEVEL_WARN,
		            "waiting: %s has waited %.0f s for a lock held by %s",
		            session_state_names[s->state], waited, blocker);
}

static int
session_may_cancel(void *arg)
{
	const struct session *s = arg;

	return s->state < SESSION_FINISH;
}

static int
session_may_watch(void *arg)
{
	const struct session *s = arg;

	return s->state != SESSION_CLOSING;
}

/* "\n  it waited ... held by pid 123 (...): query" after a lock timeout, or "" */
static void
session_lock_note(const struct session *s, char *buf, size_t size)
{
	lockwatch_note(&s->lw, s->srv.set ? s->srv.sqlstate : NULL, buf, size);
}

/* --statement-timeout: the dump statement sent last has run that long. */
static void
session_on_stmt_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM || s->error != NULL || s->target.state != TARGET_BUSY)
		return; /* it ended; a COPY waiting for the client's data does not count */
	session_fail_stmt(s,
	                  "statement %llu at line %llu ran longer than --statement-timeout %d s on "
	                  "the target: cancelled\n  statement: %s",
	                  (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
	                  s->cfg->statement_timeout, s->cur_excerpt);
	lockwatch_cancel_now(&s->lw);
}

/* A dump statement (or a COPY's end) went out: its time starts. */
static void
session_stmt_timer(struct session *s)
{
	struct timeval tv = { s->cfg->statement_timeout, 0 };

	if (s->cfg->statement_timeout <= 0)
		return;
	if (s->ev_stmt_timeout == NULL)
		s->ev_stmt_timeout = evtimer_new(s->cfg->base, session_on_stmt_timeout, s);
	if (s->ev_stmt_timeout != NULL)
		evtimer_add(s->ev_stmt_timeout, &tv);
}

/* The statement in flight failed on the server. */
static void
session_fail_statement(struct session *s)
{
	char *srv = pgerr_text(&s->srv), note[sizeof(s->lw.blocker) + 200];

	session_lock_note(s, note, sizeof(note));
	if (s->error == NULL) {
		snprintf(s->fail_sqlstate, sizeof(s->fail_sqlstate), "%s", s->srv.sqlstate);
		s->fail_no = s->cur_no;
		s->fail_line = s->cur_line;
	}
	session_fail_stmt(s, "statement %llu at line %llu failed: %s\n  statement: %s%s",
	                  (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
	                  srv ? srv : "out of memory", s->cur_excerpt, note);
	free(srv);
}

/*
 * Send SQL: a script of our own (preflight, BEGIN, COMMIT, ...: the simple
 * protocol) or, dump != 0, one statement of the dump (the extended
 * protocol: the server refuses a string that holds two; target.h).
 */
static int
session_send_as(struct session *s, const char *sql, int dump)
{
	pgerr_clear(&s->srv);
	if ((dump ? target_send_kept(&s->target, sql) : target_send_script(&s->target, sql)) < 0) {
		session_fail(s, "%s", target_error(&s->target));
		return -1;
	}
	lockwatch_sent(&s->lw);
	if (dump)
		session_stmt_timer(s);
	return 0;
}

static int
session_send(struct session *s, const char *sql)
{
	return session_send_as(s, sql, 0);
}

/*
 * Take the target from wherever it is to closed: end a COPY, let a command
 * in flight finish, ROLLBACK (or COMMIT), unlock.  Called again on each
 * target event until done; then the summary.
 */
static void
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
	if (s->error == NULL && s->state < SESSION_FINISH && s->wire == NULL && s->cl.bev != NULL &&
	    session_peer_state(s) == 2) {
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
	if (s->jobs != NULL && !s->jobs_ended && s->state < SESSION_FINISH) {
		/* --jobs: keep (drop the aside schemas) or undo (jobs.h) */
		s->jobs_ended = 1;
		s->finish_commit = s->error == NULL;
		if (s->finish_commit)
			report_phase_begin(&s->rep, REPORT_PHASE_COMMIT);
		sql = jobs_end(s->jobs, s->finish_commit, PQserverVersion(t->conn));
		session_set_state(s, SESSION_FINISH);
		if (sql == NULL) {
			session_fail(s, "out of memory");
			s->finish_commit = 0;
		} else if (sql[0] != '\0') {
			s->in_txn = 1; /* its result decides what the summary says */
			r = session_send(s, sql);
			free(sql);
			if (r == 0)
				return;
		} else {
			free(sql);
			s->committed = s->finish_commit;
		}
	}
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

static void
session_free_now(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->cfg->on_free)
		s->cfg->on_free(s->cfg->arg, s);
	target_close(&s->target);
	client_free(&s->cl);
	if (s->pipeline_live) {
		lexer_free(&s->lx);
		rules_free(&s->rules);
	}
	decoder_free(&s->dec);
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
	pgwire_free(s->wire);
	event_free(s->ev_free);
	free(s->cleared);
	jobs_free(s->jobs);
	free(s->plain);
	free(s->sql);
	free(s->fixed);
	free(s->error);
	free(s);
}

/* Free the session from the loop, never under a callback of its own. */
static void
session_release(struct session *s)
{
	if (s->released)
		return;
	s->released = 1;
	client_stop(&s->cl);
	event_active(s->ev_free, EV_TIMEOUT, 0);
}

/* Summary written (or refusal): let the output drain, then close. */
static void
session_close_client(struct session *s)
{
	session_set_state(s, SESSION_CLOSING);
	if (s->ev_progress)
		event_del(s->ev_progress);
	client_close(&s->cl, SESSION_WRITE_TIMEOUT_S);
}

static void
session_on_closed(void *arg)
{
	session_release(arg);
}

static void
session_on_input(void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_AFTER) {
		if (pgwire_after_read(s->wire, client_in(&s->cl), client_out(&s->cl)) == 0)
			session_close_client(s);
		return;
	}
	if (s->state == SESSION_STREAM)
		session_pump(s);
	else if (s->state == SESSION_HANDSHAKE)
		session_handshake(s);
	else if (s->state == SESSION_PREDUMP)
		session_predump(s);
	/* before STREAM: bytes wait in the input buffer (bounded by its high mark) */
}

static void
session_on_tls(void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_HANDSHAKE)
		session_handshake(s);
}

/* The client ended (client.h: eof, gone, why). */
static void
session_on_end(void *arg)
{
	struct session *s = arg;

	switch (s->state) {
	case SESSION_CLOSING:
		return; /* the client closes itself (on_closed) */
	case SESSION_AFTER:
		session_close_client(s);
		return;
	case SESSION_STREAM:
		if (s->error == NULL && !target_ready(&s->target) &&
		    s->target.state == TARGET_BUSY && (s->cl.gone || s->wire != NULL)) {
			/* nobody is left to tell the outcome: do not let the statement run on */
			session_fail(
				s, "%s while statement %llu at line %llu was running on the target",
				s->cl.why, (unsigned long long)s->cur_no,
				(unsigned long long)s->cur_line);
			lockwatch_cancel_now(&s->lw);
			return;
		}
		session_pump(s);
		return;
	case SESSION_VERIFY:
	case SESSION_FINISH:
	case SESSION_UNLOCK:
		return; /* the ending goes on; the summary is logged */
	case SESSION_HANDSHAKE:
		if (s->cl.gone || s->cl.tls_pending)
			session_close_client(s);
		else
			session_handshake(s); /* decides on what came before the EOF */
		return;
	case SESSION_PREDUMP:
		if (s->cl.gone) {
			log_info(s->who, "%s before sending a dump: nothing was done", s->cl.why);
			target_close(&s->target);
			session_close_client(s);
		} else {
			session_predump(s); /* decides on what came before the EOF */
		}
		return;
	default:
		/*
		 * the preflight: the dump's first bytes are in (PREDUMP saw them);
		 * a client that closed its side is read to the end in STREAM
		 */
		if (s->cl.gone)
			session_fail(s, "%s during the preflight, before the import began",
			             s->cl.why);
		return;
	}
}

static const struct client_events session_client_events = {
	session_on_input,
	session_on_tls,
	session_on_end,
	session_on_closed,
};

static void
session_on_progress(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char line[512];
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM)
		return;
	progwatch_tick(&s->progress, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	               &s->rep, s->who);
	report_progress(&s->rep, line, sizeof(line));
	session_say_progress(s, "%s", line);
}

/* ---- the data path ---------------------------------------------------- */

/*
 * --max-gzip-ratio (gzip, zstd and lz4 alike), over the whole stream: the
 * plain bytes may not pass ratio x compressed bytes + an allowance.
 * Before the first statement the allowance is SESSION_GZIP_SLACK: a
 * dump's first statement comes in its first few hundred bytes, so a bomb
 * of zeros (about 1000:1 in gzip, far more in zstd) is stopped after a few
 * MB.  After it, SESSION_GZIP_ALLOWANCE: the bytes that pass freely before
 * the ratio counts (a dump's repetitive first tables), so that a bomb
 * later in the stream (blank lines or comments, which the lexer skips
 * without holding them; rows of COPY data) is stopped too.  -1: failed.
 */
static int
session_check_ratio(struct session *s)
{
	double ratio = s->cfg->max_gzip_ratio;
	double allowance = s->rep.statements > 0 ? SESSION_GZIP_ALLOWANCE : SESSION_GZIP_SLACK;

	if (ratio <= 0 || !decoder_compressed(&s->dec))
		return 0;
	if ((double)s->dec.out_total <= ratio * (double)s->dec.in_total + allowance)
		return 0;
	if (s->rep.statements > 0)
		session_fail(
			s,
			"the compressed input inflates more than %g times: %llu compressed "
			"bytes gave %llu bytes by line %llu (%s %s bomb? a dump compresses far "
			"less; --max-gzip-ratio %g, 0: no limit)",
			ratio, (unsigned long long)s->dec.in_total,
			(unsigned long long)s->dec.out_total, (unsigned long long)s->lx.line,
			s->dec.kind == DECODER_LZ4 ? "an" : "a", decoder_format_name(s->dec.kind),
			ratio);
	else
		session_fail(s,
		             "the input is not a dump: %llu compressed bytes inflate to more than "
		             "%llu bytes without a single complete SQL statement (%s %s bomb? "
		             "--max-gzip-ratio %g)",
		             (unsigned long long)s->dec.in_total,
		             (unsigned long long)s->dec.out_total,
		             s->dec.kind == DECODER_LZ4 ? "an" : "a",
		             decoder_format_name(s->dec.kind), ratio);
	return -1;
}

/* --max-meta-line: a psql meta-command line (\connect ...) is short.  -1: failed. */
static int
session_check_meta(struct session *s, const struct lexer_event *ev)
{
	uint64_t len;

	if (s->cfg->max_meta_line == 0)
		return 0;
	if (ev != NULL)
		len = ev->type == LEXER_META ? ev->len : 0;
	else
		len = lexer_meta_len(&s->lx);
	if (len <= s->cfg->max_meta_line)
		return 0;
	session_fail(s,
	             "the psql meta-command that begins at line %llu is longer than %zu "
	             "bytes (--max-meta-line); pg_dump's are one short line",
	             (unsigned long long)s->lx.st_line, s->cfg->max_meta_line);
	return -1;
}

/* Decode client input into plain[], after what it holds.  -1: failed. */
static int
session_decode(struct session *s)
{
	struct evbuffer *in = client_in(&s->cl);
	struct evbuffer_iovec v;
	size_t used, produced;
	int r, from_raw, tried = 0;

	while (s->plain_end < SESSION_PLAIN_CAP) {
		from_raw = evbuffer_get_length(in) == 0;
		if (!from_raw) {
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
				break;
		} else {
			v.iov_base = (void *)client_bulk_data(&s->cl, &v.iov_len);
			if (v.iov_len == 0 && !tried) {
				tried = 1; /* one read per refill */
				client_bulk_read(&s->cl);
				v.iov_base = (void *)client_bulk_data(&s->cl, &v.iov_len);
			}
			/* no bytes left: only what the inflater holds (decoder_pending) */
			if (v.iov_len == 0 && !decoder_pending(&s->dec))
				break;
		}
		r = decoder_run(&s->dec, v.iov_base, v.iov_len, &used, s->plain + s->plain_end,
		                SESSION_PLAIN_CAP - s->plain_end, &produced);
		if (from_raw)
			client_bulk_used(&s->cl, used);
		else
			evbuffer_drain(in, used);
		s->plain_end += produced;
		if (r < 0) {
			session_fail(s, "the input is not a valid dump: %s (after %llu bytes)",
			             decoder_error(&s->dec), (unsigned long long)s->dec.in_total);
			return -1;
		}
		if (session_check_ratio(s) < 0)
			return -1;
		if (used == 0 && produced == 0)
			break;
	}
	if (s->plain_end > 0)
		s->last_nl = s->plain[s->plain_end - 1] == '\n';
	s->rep.bytes_in = s->dec.in_total;
	s->rep.bytes_plain = s->dec.out_total;
	s->rep.compression = decoder_compressed(&s->dec) ? decoder_format_name(s->dec.kind) : NULL;
	return 0;
}

/* Decode client input into plain[] (which is used up).  -1: failed. */
static int
session_refill(struct session *s)
{
	if (s->wire != NULL)
		return session_wire_refill(s);
	s->plain_start = s->plain_end = 0;
	return session_decode(s);
}

/* The client's bytes are all in and processed, and no trailer came. */
static void
session_truncated(struct session *s, const char *where, const char *why)
{
	/* the last line received: lx.line is where the next byte would be */
	uint64_t line = s->lx.line > 1 && s->last_nl ? s->lx.line - 1 : s->lx.line;
	char bytes[32];

	if (s->wire != NULL) {
		session_fail(s,
		             "the PostgreSQL client's connection ended without a Terminate "
		             "message (%s, %s): the import is incomplete",
		             s->cl.why, where);
		return;
	}
	snprintf(bytes, sizeof(bytes), "%llu bytes", (unsigned long long)s->dec.out_total);

	session_fail(
		s,
		"dump truncated at line %llu, %s: %s before pg_dump's last line "
		"\"-- PostgreSQL database dump complete\"%s%s\n"
		"  (%llu bytes received%s%s%s%s%s; was pg_dump or the connection cut? send the "
		"whole dump again)",
		(unsigned long long)line, where, s->cl.why, why ? "; " : "", why ? why : "",
		(unsigned long long)s->dec.in_total, decoder_compressed(&s->dec) ? " (" : "",
		decoder_compressed(&s->dec) ? decoder_format_name(s->dec.kind) : "",
		decoder_compressed(&s->dec) ? ", " : "", decoder_compressed(&s->dec) ? bytes : "",
		decoder_compressed(&s->dec) ? " of SQL)" : "");
}

/*
 * Take the next lexer event into s->ev.  Returns 1 with an event, 0 when
 * more input is needed (or the input ended cleanly after the trailer), -1
 * when the import failed.
 */
static int
session_next_event(struct session *s)
{
	size_t used;
	int r;

	for (;;) {
		if (s->lexer_done)
			return 0;
		if (s->input_done) {
			r = lexer_finish(&s->lx, &s->ev);
			if (r == LEXER_EVENT) {
				s->ev_used = 0;
				s->ev_pending = 1;
				return 1;
			}
			s->lexer_done = 1;
			if (s->trailer)
				return 0;
			session_truncated(s, s->eof_where, NULL);
			return -1;
		}
		if (s->plain_start == s->plain_end) {
			if (session_refill(s) < 0)
				return -1;
			if (s->plain_start == s->plain_end) {
				if (!s->cl.eof || (s->trailer && decoder_clean_end(&s->dec)))
					return 0;
				/* end of input: is it a clean end? */
				lexer_describe(&s->lx, s->eof_where, sizeof(s->eof_where));
				s->input_done = 1;
				if (decoder_finish(&s->dec) < 0) {
					if (s->trailer)
						session_fail(
							s,
							"the dump's SQL came whole, up to pg_dump's last "
							"line, but the input ended inside the compressed "
							"stream, before its end and checksum: %s; send the "
							"whole dump again",
							decoder_error(&s->dec));
					else
						session_truncated(s, s->eof_where,
						                  decoder_error(&s->dec));
					return -1;
				}
				continue;
			}
		}
		r = lexer_scan(&s->lx, s->plain + s->plain_start, s->plain_end - s->plain_start,
		               &used, &s->ev);
		if (r == LEXER_EVENT) {
			if (session_check_meta(s, &s->ev) < 0)
				return -1;
			s->ev_used = used;
			s->ev_pending = 1;
			return 1;
		}
		if (r == LEXER_ERROR) {
			session_fail(s, "the dump cannot be read at line %llu: %s",
			             (unsigned long long)s->lx.line, lexer_error(&s->lx));
			return -1;
		}
		if (session_check_meta(s, NULL) < 0)
			return -1;
		s->plain_start += used;
	}
}

static void
session_explain(struct session *s, const struct lexer_event *ev, const struct rules_verdict *v,
                const char *what)
{
	if (s->cfg->rules->explain)
		session_say(s, LOG_LEVEL_INFO, "explain: line %llu: rule %s %s: %s",
		            (unsigned long long)ev->line, v->rule ? v->rule : "?", what,
		            v->reason ? v->reason : "");
}

/* text as a NUL-terminated copy in s->sql (a rewrite, a wire query).  -1: failed. */
static int
session_sql_copy(struct session *s, const struct lexer_event *ev, const char *text, size_t len)
{
	char *p;
	size_t cap;

	if (len + 1 > s->sql_cap) {
		cap = s->sql_cap ? s->sql_cap : 4096;
		while (cap < len + 1)
			cap *= 2;
		p = realloc(s->sql, cap);
		if (p == NULL) {
			session_fail(s, "out of memory for statement %llu at line %llu (%zu bytes)",
			             (unsigned long long)s->rep.statements,
			             (unsigned long long)ev->line, len);
			return -1;
		}
		s->sql = p;
		s->sql_cap = cap;
	}
	memcpy(s->sql, text, len);
	s->sql[len] = '\0';
	return 0;
}

/*
 * Forward text (a statement, or a rewrite) as the statement in flight.
 * It is sent from the lexer's buffer or s->sql, which stay as they are
 * until its results are in (session_pump_once trims them only then);
 * jobs.h takes its own copy.
 */
static int
session_forward(struct session *s, const struct lexer_event *ev, const char *text, size_t len,
                int is_copy)
{
	const char *sql;

	if (memchr(text, '\0', len) != NULL) {
		session_fail_stmt(s,
		                  "statement %llu at line %llu holds a NUL byte, which PostgreSQL "
		                  "cannot take (is this a text dump?)",
		                  (unsigned long long)s->rep.statements,
		                  (unsigned long long)ev->line);
		return -1;
	}
	if (text == s->ev.data && s->wire == NULL) {
		/* the lexer's own buffer, NUL-terminated (lexer.h): sent from there */
		sql = text;
	} else if (session_sql_copy(s, ev, text, len) < 0) {
		return -1;
	} else {
		sql = s->sql;
	}
	s->cur_no = s->rep.statements;
	s->cur_line = ev->line;
	s->cur_is_copy = is_copy;
	s->cur_tag[0] = '\0';
	text_excerpt(text, len, SESSION_EXCERPT, s->cur_excerpt, sizeof(s->cur_excerpt));
	if (is_copy)
		report_copy_start(&s->rep, s->lx.copy_table);
	report_sent(&s->rep, text, len, is_copy);
	s->sent_any = 1;
	if (s->jobs != NULL) {
		if (is_copy) {
			s->copy_open = 1;
			return jobs_copy_begin(s->jobs, sql, len, s->lx.copy_table, s->cur_no,
			                       s->cur_line, lexer_standard_strings(&s->lx));
		}
		return jobs_statement(s->jobs, sql, len, s->cur_no, s->cur_line,
		                      lexer_standard_strings(&s->lx));
	}
	return session_send_as(s, sql, 1);
}

/* ---- Synapse checks and verification (synapse.h, verify.h) ---------- */

/* A statement about to be forwarded: what the checks learn from it.  -1: failed. */
static int
session_inspect(struct session *s, const struct lexer_event *ev, const char *text, size_t len)
{
	char msg[1536], w[4][32];
	int n = sqltok_leading_words(text, len, ev->std_strings, w, 4);

	if (n >= 2 && strcmp(w[0], "create") == 0 &&
	    (strcmp(w[1], "table") == 0 ||
	     (n >= 3 && strcmp(w[2], "table") == 0 &&
	      (strcmp(w[1], "unlogged") == 0 || strcmp(w[1], "foreign") == 0))))
		s->dump_tables++;
	if (synapse_statement(&s->syn, text, len, ev->std_strings, msg, sizeof(msg)) < 0) {
		session_fail(s, "%s", msg);
		return -1;
	}
	if (verify_statement(&s->ver, text, len, ev->std_strings, ev->line) < 0) {
		session_fail(s, "out of memory remembering the dump's sequences");
		return -1;
	}
	return 0;
}

/* A forwarded COPY's "\." arrived: rows counted; Synapse versions compared.  -1: failed. */
static int
session_copy_ending(struct session *s, const struct lexer_event *ev)
{
	char msg[1024];

	verify_copy_end(&s->ver, ev->rows);
	switch (synapse_copy_end(&s->syn, ev->rows, msg, sizeof(msg))) {
	case SYNAPSE_NOTE_REFUSE:
		session_fail(s, "%s", msg);
		return -1;
	case SYNAPSE_NOTE_WARN:
		session_say(s, LOG_LEVEL_WARN, "warning: synapse: %s", msg);
		return 0;
	case SYNAPSE_NOTE_INFO:
		session_say(s, LOG_LEVEL_INFO, "synapse: %s", msg);
		return 0;
	default:
		return 0;
	}
}

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
static const char *
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
 * created (analyze.h), inside its transaction; with --jobs, the VACUUM
 * phase did it.  Returns 1 while it runs.
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
	if (s->analyze_step == 2 || s->jobs != NULL)
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
 * The batches and the post-data committed with synchronous_commit off, and
 * VACUUM marks a page all-visible only when it may set its rows' hint
 * bits, which it may not while the commit LSN the server keeps for their
 * transaction's group of 32 xids is not flushed.  So, alone, the ANALYZE
 * of the table with the most rows with synchronous_commit on: its commit
 * wrote WAL (pg_statistic) and flushes all before it.  (A transaction that
 * only takes an xid commits asynchronously whatever the setting.)  Then
 * the VACUUMs, which take no xid (analyze.h), and only after them the
 * other ANALYZEs, whose asynchronous commits would move the LSN again.  Without
 * ANALYZE (the dump's statistics) there is no flush: the walwriter
 * flushes within a fraction of a second, and pages it had not reached
 * stay for autovacuum.
 */
static int
session_vacuum_flush(struct session *s)
{
	const struct report_table *most = NULL;
	char sql[600];
	size_t i;

	for (i = 0; i < s->rep.n_tables; i++)
		if (s->rep.tables[i].rows > 0 &&
		    (most == NULL || s->rep.tables[i].rows > most->rows))
			most = &s->rep.tables[i];
	if (most == NULL ||
	    (size_t)snprintf(sql, sizeof(sql), "SET synchronous_commit = on; ANALYZE %s",
	                     most->name) >= sizeof(sql))
		return 0;
	return jobs_own(s->jobs, sql, 1, s->rep.statements, lexer_standard_strings(&s->lx));
}

/*
 * --jobs, the dump is all in and the engine idle: VACUUM (FREEZE) of each
 * table the import created, then (unless the dump's statistics replace
 * it) ANALYZE of each, in parallel on the engine's connections (the
 * batches committed elsewhere: no COPY FREEZE).  Returns 1 while it runs
 * (JOBS_EV_READY calls again).
 */
static int
session_vacuum(struct session *s)
{
	const char *why = session_no_analyze(s);
	char sql[600];

	if (s->analyze_step == 2)
		return 0;
	if (s->analyze_step == 0) {
		s->analyze_step = 1;
		if (s->cfg->no_analyze) {
			s->analyze_step = 2;
			report_phase_note(&s->rep, REPORT_PHASE_VACUUM, "none: --no-analyze");
			return 0;
		}
		report_phase_begin(&s->rep, REPORT_PHASE_VACUUM);
		if (why == NULL && session_vacuum_flush(s) < 0)
			return 1;
	}
	for (;;) {
		while (!s->vacuum_fed && jobs_ready(s->jobs)) {
			if (!analyze_pass_sql(&s->rules, &s->vacuum_next, s->vacuum_pass,
			                      PQserverVersion(s->target.conn), sql, sizeof(sql))) {
				s->vacuum_fed = 1;
				break;
			}
			if (jobs_own(s->jobs, sql, 0, s->rep.statements,
			             lexer_standard_strings(&s->lx)) < 0)
				return 1; /* JOBS_EV_FAILED follows */
		}
		if (!s->vacuum_fed || !jobs_idle(s->jobs))
			return 1;
		if (s->vacuum_pass == ANALYZE_PASS_ANALYZE || why != NULL)
			break;
		s->vacuum_pass = ANALYZE_PASS_ANALYZE;
		s->vacuum_next = 0;
		s->vacuum_fed = 0;
	}
	s->analyze_step = 2;
	report_phase_note(&s->rep, REPORT_PHASE_VACUUM,
	                  "VACUUM (FREEZE%s) of %zu tables on %d connections%s%s",
	                  why ? "" : ", ANALYZE", analyze_count(&s->rules), s->cfg->jobs,
	                  why ? ", no ANALYZE: " : "", why ? why : "");
	return 0;
}

/*
 * After the trailer (and after each verification query): the next query
 * of verify.h, or, when all passed, the ending (COMMIT).
 */
static void
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

/* The audit's answer before COMMIT. */
static void
session_audit_result(struct session *s, const PGresult *res)
{
	char msg[2048];

	switch (audit_compare(&s->audit, res, msg, sizeof(msg))) {
	case 0:
		s->audited = 1;
		return;
	case 1:
		session_fail(s,
		             "the dump changed the target role or database, which an import must "
		             "leave alone (its own functions, triggers or defaults run with the "
		             "role's rights):\n%s%s",
		             msg,
		             s->in_txn ? ""
		             : s->jobs != NULL
		                     ? "\n  --jobs: pre-data and every COPY batch commit by "
		                       "themselves, so this change is committed: undo it by "
		                       "hand (its value before the import is above)"
		                     : "\n  --no-single-transaction: every statement commits by "
		                       "itself, so this change is committed: undo it by hand "
		                       "(its value before the import is above)");
		return;
	default:
		session_fail(s, "%s", msg);
		return;
	}
}

/* Preflight: the target role's standing and the audit's snapshot (one script). */
static void
session_role_start(struct session *s)
{
	char *sql;
	size_t n = strlen(preflight_sql_role()) + strlen(audit_sql()) + 4;

	session_set_state(s, SESSION_ROLE);
	s->role_results = 0;
	sql = malloc(n);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		return;
	}
	snprintf(sql, n, "%s;\n%s", preflight_sql_role(), audit_sql());
	session_send(s, sql);
	free(sql);
}

/* One result of the ROLE step: the role's standing, then the snapshot. */
static void
session_role_result(struct session *s, const PGresult *res)
{
	char err[256];
	int r;

	if (s->role_results++ == 0)
		r = preflight_role_load(&s->role, res, err, sizeof(err));
	else
		r = audit_snapshot(&s->audit, res, err, sizeof(err));
	if (r < 0)
		session_fail(s, "%s", err);
}

/* The ROLE step is in: refuse a superuser target, or warn.  -1: failed. */
static int
session_role_done(struct session *s)
{
	char msg[768], *srv;

	if (s->srv.set || !s->audit.taken) {
		srv = pgerr_text(&s->srv);
		session_fail(s, "cannot read the target role's standing: %s", srv ? srv : "?");
		free(srv);
		return -1;
	}
	switch (preflight_role_judge(&s->role, PQuser(s->target.conn),
	                             s->cfg->allow_superuser_target, msg, sizeof(msg))) {
	case PREFLIGHT_ROLE_REFUSE:
		session_fail(s, "%s", msg);
		return -1;
	case PREFLIGHT_ROLE_SUPER_OK:
		s->super_allowed = 1;
		snprintf(s->super_allowed_user, sizeof(s->super_allowed_user), "%s",
		         PQuser(s->target.conn));
		session_say(s, LOG_LEVEL_WARN, "warning: %s", msg);
		return 0;
	case PREFLIGHT_ROLE_WARN:
		session_say(s, LOG_LEVEL_WARN, "warning: %s", msg);
		return 0;
	case PREFLIGHT_ROLE_OK:
		return 0;
	}
	return 0;
}

/*
 * Preflight 2b (SYNAPSE): the next Synapse query, or its verdict.  Returns
 * 1 when a query is in flight, -1 when the import failed, 0 to go on.
 */
static int
session_synapse_step(struct session *s)
{
	char err[256], msg[1536], *sql, *srv;
	int r;

	if (s->srv.set) {
		srv = pgerr_text(&s->srv);
		session_fail(s,
		             "cannot read the target's Synapse schema version: %s\n  (pgsluice "
		             "serve --no-synapse skips the Synapse checks)",
		             srv ? srv : "?");
		free(srv);
		return -1;
	}
	r = synapse_preflight_next(&s->syn, s->target.conn, &sql, err, sizeof(err));
	if (r < 0) {
		session_fail(s, "%s", err);
		return -1;
	}
	if (r > 0) {
		r = session_send(s, sql);
		free(sql);
		return r < 0 ? -1 : 1;
	}
	if (synapse_preflight_verdict(&s->syn, msg, sizeof(msg)) < 0) {
		session_fail(s, "%s", msg);
		return -1;
	}
	if (synapse_target_line(&s->syn, msg, sizeof(msg)))
		session_say(s, LOG_LEVEL_INFO, "%s", msg);
	return 0;
}

/*
 * --clear-target empties a --schema but keeps it: a dump that creates that
 * schema (pg_dump writes "CREATE SCHEMA extra;" for every schema but
 * public) would fail on "already exists".  Such a statement is sent as
 * CREATE SCHEMA IF NOT EXISTS (into s->fixed).  1: rewritten.
 */
static int
session_schema_exists_fix(struct session *s, const struct lexer_event *ev, const char *text,
                          size_t len)
{
	struct sqltok_iter it;
	struct sqltok t;
	char name[128];
	size_t at;
	int i;

	if (!s->cfg->clear_target || s->cleared == NULL)
		return 0;
	sqltok_init(&it, text, len, ev->std_strings);
	if (sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "create") ||
	    sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "schema"))
		return 0;
	at = (size_t)(t.p + t.len - text);
	if (sqltok_next(&it, &t) != SQLTOK_WORD && t.type != SQLTOK_QIDENT)
		return 0;
	if (sqltok_is(&t, "if"))
		return 0;
	sqltok_name(&t, name, sizeof(name));
	for (i = 0; i < s->cfg->n_schemas; i++) {
		if (strcmp(name, s->cfg->schemas[i]) != 0)
			continue;
		free(s->fixed);
		s->fixed = malloc(len + 32);
		if (s->fixed == NULL)
			return 0;
		snprintf(s->fixed, len + 32, "CREATE SCHEMA IF NOT EXISTS%.*s", (int)(len - at),
		         text + at);
		if (s->cfg->rules->explain)
			session_say(
				s, LOG_LEVEL_INFO,
				"explain: line %llu: pgsluice rewrote: CREATE "
				"SCHEMA %s becomes CREATE SCHEMA IF NOT EXISTS (--clear-target emptied "
				"it and kept it)",
				(unsigned long long)ev->line, name);
		return 1;
	}
	return 0;
}

/*
 * Act on s->ev.  Returns 1 when it is done (its bytes may be dropped), 0
 * when it must be retried once the target drains, -1 when the import
 * failed.
 */
static int
session_handle(struct session *s)
{
	const struct lexer_event *ev = &s->ev;
	struct rules_verdict v;
	int r, in_copy;

	switch (ev->type) {
	case LEXER_STATEMENT:
		s->rep.statements++;
		if (s->trailer) {
			session_fail_stmt(
				s,
				"statement %llu at line %llu comes after the dump's trailer "
				"(\"-- PostgreSQL database dump complete\"): two dumps in one stream?",
				(unsigned long long)s->rep.statements,
				(unsigned long long)ev->line);
			return -1;
		}
		in_copy = lexer_in_copy(&s->lx);
		if (s->wire != NULL && pgwire_client_query(ev)) {
			memset(&v, 0, sizeof(v));
			v.action = RULES_FORWARD;
			v.text = ev->data;
			v.len = ev->len;
		} else {
			rules_apply(&s->rules, ev, &v);
		}
		if (s->wire != NULL && session_wire_statement(s, ev, &v, in_copy) <= 0)
			return s->error != NULL ? -1 : 1;
		switch (v.action) {
		case RULES_DROP:
			session_explain(s, ev, &v, "dropped");
			if (in_copy)
				s->skip_copy = 1;
			return 1;
		case RULES_REFUSE:
			text_excerpt(ev->data, ev->len, SESSION_EXCERPT, s->cur_excerpt,
			             sizeof(s->cur_excerpt));
			session_fail_stmt(
				s,
				"statement %llu at line %llu refused (rule %s): %s\n  statement: %s",
				(unsigned long long)s->rep.statements, (unsigned long long)ev->line,
				v.rule ? v.rule : "?", v.reason ? v.reason : "", s->cur_excerpt);
			return -1;
		case RULES_REWRITE:
			session_explain(s, ev, &v, "rewrote");
			/* fall through */
		case RULES_FORWARD:
			if (session_inspect(s, ev, v.text, v.len) < 0)
				return -1;
			if (classify_sets_lock_timeout(v.text, v.len, ev->std_strings)) {
				/* pg_dump's "SET lock_timeout = 0" would undo --lock-timeout */
				if (s->cfg->rules->explain)
					session_say(
						s, LOG_LEVEL_INFO,
						"explain: line %llu: pgsluice rewrote: "
						"the dump's SET lock_timeout becomes %s (--lock-timeout)",
						(unsigned long long)ev->line, s->lock_set);
				return session_forward(s, ev, s->lock_set, strlen(s->lock_set), 0) <
				                       0
				               ? -1
				               : 1;
			}
			if (session_schema_exists_fix(s, ev, v.text, v.len))
				return session_forward(s, ev, s->fixed, strlen(s->fixed), 0) < 0
				               ? -1
				               : 1;
			return session_forward(s, ev, v.text, v.len, in_copy) < 0 ? -1 : 1;
		}
		return 1;

	case LEXER_COPY_DATA:
		if (s->skip_copy)
			return 1;
		if (!s->copy_open) {
			session_fail(s, "internal error: COPY data at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		if (s->jobs != NULL)
			r = jobs_copy_data(s->jobs, ev->data, ev->len);
		else
			r = target_put_copy(&s->target, ev->data, ev->len);
		if (r == 1) {
			s->rep.copy_rows = s->lx.copy_rows; /* the lexer counts the lines already */
			synapse_copy_data(&s->syn, ev->data, ev->len);
			return 1;
		}
		if (r == 0)
			return 0;
		s->copy_open = 0;
		if (s->target.state == TARGET_BROKEN) {
			session_fail(s, "%s", target_error(&s->target));
			return -1;
		}
		return 0; /* the server ended the COPY: its error follows (TARGET_EV_IDLE) */

	case LEXER_COPY_END:
		if (s->skip_copy) {
			s->skip_copy = 0;
			return 1;
		}
		if (!s->copy_open) {
			session_fail(s,
			             "internal error: end of COPY at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		if (s->jobs != NULL) {
			char verr[512];

			if (jobs_copy_end(s->jobs, ev->rows) == 0)
				return 0;
			if (session_copy_ending(s, ev) < 0)
				return -1;
			s->copy_open = 0;
			/* the engine checks the batches' tags against ev->rows */
			report_copy_done(&s->rep, ev->rows);
			if (verify_copy_result(&s->ver, s->rep.copy_table, ev->rows, verr,
			                       sizeof(verr)) < 0) {
				session_fail(s, "%s", verr);
				return -1;
			}
			return 1;
		}
		if (session_copy_ending(s, ev) < 0)
			return -1;
		r = target_end_copy(&s->target, NULL);
		if (r == 0)
			return 0;
		if (r < 0) {
			session_fail(s, "%s", target_error(&s->target));
			return -1;
		}
		s->copy_open = 0;
		session_stmt_timer(s); /* what the server still does with the data */
		return 1;

	case LEXER_META:
		rules_apply(&s->rules, ev, &v);
		switch (v.action) {
		case RULES_DROP:
			session_explain(s, ev, &v, "dropped");
			return 1;
		case RULES_REWRITE:
			session_explain(s, ev, &v, "rewrote");
			s->rep.statements++;
			return session_forward(s, ev, v.text, v.len, 0) < 0 ? -1 : 1;
		case RULES_REFUSE:
		case RULES_FORWARD:
			text_excerpt(ev->data, ev->len, SESSION_EXCERPT, s->cur_excerpt,
			             sizeof(s->cur_excerpt));
			session_fail(
				s,
				"psql meta-command at line %llu refused (rule %s): %s\n  line: %s",
				(unsigned long long)ev->line, v.rule ? v.rule : "meta",
				v.action == RULES_REFUSE && v.reason
					? v.reason
					: "pgsluice cannot run meta-commands",
				s->cur_excerpt);
			return -1;
		}
		return 1;

	case LEXER_TRAILER:
		if (s->wire != NULL) {
			s->wire_trailer =
				1; /* pg_restore sends it; the client's COMMIT ends the import */
			return 1;
		}
		s->trailer = 1;
		log_info(s->who, "end-of-dump trailer at line %llu", (unsigned long long)ev->line);
		return 1;
	}
	return 1;
}

/*
 * --idle-timeout.  The pump is starved: everything the client sent is
 * processed and the target waits for more.  (Re)arm the timer; every
 * starvation after new bytes re-arms it, so it fires only after that long
 * without a byte while the import waited for one.  Time the target spends
 * on a statement does not count.
 */
static void
session_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t line = s->lx.line > 1 && s->last_nl ? s->lx.line - 1 : s->lx.line;
	(void)fd;
	(void)what;

	if (s->state == SESSION_PREDUMP) {
		char msg[160];

		snprintf(msg, sizeof(msg),
		         "no dump within %d s of connecting (--idle-timeout)\n  "
		         "nothing was changed in the target",
		         s->cfg->idle_timeout);
		target_close(&s->target);
		session_refuse(s, LOG_LEVEL_INFO, msg);
		return;
	}
	if (s->state != SESSION_STREAM || s->error != NULL || s->cl.eof || s->ev_pending ||
	    !target_ready(&s->target) || s->plain_start != s->plain_end ||
	    client_pending(&s->cl) > 0)
		return; /* not waiting for the client: the pump re-arms when it is */
	session_fail(s,
	             "no data from the client for %d s in the middle of the dump, after line "
	             "%llu (--idle-timeout): is the sender stuck?",
	             s->cfg->idle_timeout, (unsigned long long)line);
}

static void
session_wait_client(struct session *s)
{
	struct timeval tv = { s->cfg->idle_timeout, 0 };

	client_wait(&s->cl);
	if (s->cfg->idle_timeout <= 0 || s->cl.eof)
		return;
	if (s->ev_idle == NULL)
		s->ev_idle = evtimer_new(s->cfg->base, session_on_idle, s);
	if (s->ev_idle != NULL)
		evtimer_add(s->ev_idle, &tv);
}

/* Done with the input after the trailer: commit. */
static void
session_complete(struct session *s)
{
	if (s->ev_progress)
		event_del(s->ev_progress);
	if (s->jobs != NULL) {
		/* --jobs: everything the engine runs ends first (JOBS_EV_READY) */
		s->jobs_complete = 1;
		jobs_finish(s->jobs);
		if (!jobs_idle(s->jobs) || session_vacuum(s))
			return;
	}
	/* the checks of verify.h, then session_wind_down commits */
	session_verify_next(s);
}

static void
session_pump_once(struct session *s)
{
	int r;

	while (s->state == SESSION_STREAM && s->error == NULL) {
		if (s->jobs != NULL ? !jobs_ready(s->jobs) : !target_ready(&s->target))
			return; /* the target calls back when it has caught up */
		if (s->trim_due) {
			/*
			 * The last event's results are in: its text (in the
			 * lexer's buffer or s->sql, sent from there) is not
			 * needed any more, and a large one is not held until the
			 * next one.
			 */
			s->trim_due = 0;
			lexer_trim(&s->lx, SESSION_STMT_KEEP);
			if (s->sql_cap > SESSION_STMT_KEEP) {
				free(s->sql);
				s->sql = NULL;
				s->sql_cap = 0;
			}
		}
		if (!s->ev_pending) {
			r = session_next_event(s);
			if (r < 0)
				return;
			if (r == 0) {
				/* a compressed stream ends (and is checked) after the trailer */
				if (s->trailer &&
				    (s->lexer_done || s->wire != NULL ||
				     (client_pending(&s->cl) == 0 && decoder_clean_end(&s->dec))))
					session_complete(s);
				else
					session_wait_client(s);
				return; /* else: wait for the client */
			}
		}
		r = session_handle(s);
		if (r <= 0)
			return;
		s->plain_start += s->ev_used;
		s->ev_pending = 0;
		s->trim_due = 1;
	}
}

static void
session_pump(struct session *s)
{
	if (s->in_pump) {
		s->pump_again = 1;
		return;
	}
	s->in_pump = 1;
	do {
		s->pump_again = 0;
		session_pump_once(s);
	} while (s->pump_again && s->state == SESSION_STREAM && s->error == NULL);
	s->in_pump = 0;
}

/* ---- preflight -------------------------------------------------------- */

/*
 * Every SESSION_ALIVE_MS in STREAM, while a dump statement runs on the
 * target and the client has sent all it will (EOF or its FIN): once the
 * statement has run SESSION_ALIVE_SAY_S, say so to the client, once per
 * SESSION_ALIVE_SAY_S.  Besides telling the sender what it waits for, the
 * write is how a client that closed its whole connection (not only its
 * sending side, as nc -N does) is noticed: its kernel answers the line
 * with a reset, the next tick sees the socket closed, and the statement
 * is cancelled at once.  (Nothing else tells a half-closed connection from
 * a closed one.)
 */
static void session_on_alive(evutil_socket_t fd, short what, void *arg);

/*
 * Where the client's connection is, even if the session has not read up
 * to its end (it reads only as fast as the target takes the dump): 0 open,
 * 1 the client closed its sending side (TCP says CLOSE_WAIT once the FIN
 * is in, whatever data is buffered before it), 2 gone (reset: what was
 * written to it came back refused).
 */
static int
session_peer_state(struct session *s)
{
	evutil_socket_t fd = bufferevent_getfd(s->cl.bev);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char c;

	if (fd < 0)
		return s->cl.eof;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		if (ti.tcpi_state == TCP_CLOSE)
			return 2;
		return s->cl.eof || ti.tcpi_state == TCP_CLOSE_WAIT;
	}
	/* a Unix socket: EOF only shows when nothing is buffered before it */
	return s->cl.eof || recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void
session_on_alive(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	double ran;
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM || s->error != NULL || s->cl.gone || s->wire != NULL ||
	    s->target.state != TARGET_BUSY)
		return;
	switch (session_peer_state(s)) {
	case 0:
		return;
	case 2:
		s->cl.eof = s->cl.gone = 1;
		snprintf(s->cl.why, sizeof(s->cl.why), "the client connection was lost (reset)");
		session_fail(s, "%s while statement %llu at line %llu was running on the target",
		             s->cl.why, (unsigned long long)s->cur_no,
		             (unsigned long long)s->cur_line);
		lockwatch_cancel_now(&s->lw);
		return;
	}
	ran = lockwatch_running(&s->lw);
	if (ran >= SESSION_ALIVE_SAY_S && report_now() - s->alive_said >= SESSION_ALIVE_SAY_S) {
		s->alive_said = report_now();
		session_say(s, LOG_LEVEL_DEBUG,
		            "running: statement %llu at line %llu, %.0f s on the "
		            "target so far (the dump is all in)",
		            (unsigned long long)s->cur_no, (unsigned long long)s->cur_line, ran);
	}
}

static void
session_start_stream(struct session *s)
{
	struct timeval tv, alive = { 0, SESSION_ALIVE_MS * 1000 };

	s->ropt = s->cfg->rules->opt;
	s->ropt.target_version = PQserverVersion(s->target.conn);
	s->ropt.known_setting = preflight_setting_known;
	s->ropt.known_arg = &s->settings;
	/* one transaction on this connection: the tables the dump creates take COPY FREEZE */
	s->ropt.copy_freeze = s->ropt.single_transaction && s->jobs == NULL;
	lexer_init(&s->lx, s->cfg->rules->max_statement);
	s->lx.server_version_num = s->ropt.target_version;
	rules_init(&s->rules, &s->ropt);
	s->pipeline_live = 1;
	report_init(&s->rep);
	session_set_state(s, SESSION_STREAM);
	if (!s->cfg->quiet && s->cfg->progress_interval > 0) {
		tv.tv_sec = (time_t)s->cfg->progress_interval;
		tv.tv_usec = (suseconds_t)((s->cfg->progress_interval - (double)tv.tv_sec) * 1e6);
		s->ev_progress = event_new(s->cfg->base, -1, EV_PERSIST, session_on_progress, s);
		if (s->ev_progress != NULL)
			event_add(s->ev_progress, &tv);
	}
	s->ev_alive = event_new(s->cfg->base, -1, EV_PERSIST, session_on_alive, s);
	if (s->ev_alive != NULL)
		event_add(s->ev_alive, &alive);
	if (s->wire == NULL)
		client_bulk_start(&s->cl);
	if (!s->cl.bulk)
		bufferevent_enable(s->cl.bev, EV_READ);
	session_pump(s);
}

static void
session_on_jobs(void *arg, enum jobs_event ev, const char *msg)
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
static void
session_start_jobs(struct session *s)
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
	jc.fn = session_on_jobs;
	jc.arg = s;
	s->jobs = jobs_new(&jc, err, sizeof(err));
	if (s->jobs == NULL) {
		session_fail(s, "%s", err);
		return;
	}
	s->sent_any = 1;
	if (s->cleared)
		session_say(s, LOG_LEVEL_INFO,
		            "--clear-target: moving %s aside until the import "
		            "has committed (--jobs %d)",
		            s->cleared, s->cfg->jobs);
	session_start_stream(s);
}

/* Preflight 3 is in: cleared, or clear it, or refuse. */
static void
session_after_objects(struct session *s)
{
	const struct preflight_object *fo;
	char *counts, *list, *drops, *sql;
	size_t n;

	counts = preflight_objects_counts(&s->objects);
	s->target_tables = preflight_objects_tables(&s->objects);
	if (s->objects.n > 0 && !s->cfg->clear_target) {
		list = preflight_objects_list(&s->objects, PREFLIGHT_LIST_MAX, "  ");
		session_fail(s,
		             "the target is not empty: schema%s %s of database %s hold%s %zu "
		             "object%s (%s)\n%s"
		             "  to drop them inside the import's transaction, start pgsluice serve "
		             "with --clear-target (pgsluice check shows what it would drop)",
		             s->cfg->n_schemas > 1 ? "s" : "", s->cfg->schemas[0], s->dbname,
		             s->cfg->n_schemas > 1 ? "" : "s", s->objects.n,
		             s->objects.n == 1 ? "" : "s", counts ? counts : "?", list ? list : "");
		free(list);
		free(counts);
		return;
	}
	if (s->objects.n > 0 && (fo = preflight_objects_foreign(&s->objects)) != NULL) {
		session_fail(s,
		             "--clear-target cannot drop %s %s: it is owned by %s, and pgsluice "
		             "connects as %s; drop it as its owner or a superuser first",
		             fo->kind, fo->ident, fo->owner, PQuser(s->target.conn));
		free(counts);
		return;
	}
	drops = s->objects.n > 0 ? preflight_drop_sql(&s->objects) : strdup("");
	if (drops == NULL) {
		free(counts);
		session_fail(s, "out of memory building the --clear-target statements");
		return;
	}
	if (s->objects.n > 0) {
		s->cleared = counts;
		counts = NULL;
		log_info(s->who, "--clear-target: dropping %s", s->cleared);
		report_phase_begin(&s->rep, REPORT_PHASE_CLEAR);
	}
	free(counts);
	if (s->cfg->jobs > 1 && s->wire == NULL) {
		free(drops);
		session_start_jobs(s);
		return;
	}
	if (!s->cfg->rules->opt.single_transaction && s->objects.n == 0) {
		free(drops);
		session_start_stream(s);
		return;
	}
	n = strlen(drops) + 16;
	sql = malloc(n);
	if (sql == NULL) {
		free(drops);
		session_fail(s, "out of memory building the --clear-target statements");
		return;
	}
	snprintf(sql, n, "%s%s", s->cfg->rules->opt.single_transaction ? "BEGIN;\n" : "", drops);
	free(drops);
	session_set_state(s, SESSION_BEGIN);
	if (s->objects.n > 0)
		s->sent_any = 1;
	session_send(s, sql);
	free(sql);
}

/*
 * A dump statement ran without error: is the target where the import
 * thinks it is?  Its transaction must still be open (single transaction),
 * and its standard_conforming_strings must be what the lexer reads the
 * rest of the dump with.  0: yes; -1: the import failed, telling the truth.
 */
static int
session_check_target(struct session *s)
{
	PGTransactionStatusType ts = PQtransactionStatus(s->target.conn);
	const char *scs = PQparameterStatus(s->target.conn, "standard_conforming_strings");

	if (s->in_txn && ts != PQTRANS_INTRANS) {
		s->in_txn = 0; /* nothing of ours is open any more: no ROLLBACK */
		s->txn_lost = 1;
		session_fail_stmt(
			s,
			"statement %llu at line %llu ended the import's transaction (the "
			"target answered %s and says %s): an import runs in one transaction "
			"that only pgsluice ends\n  statement: %s",
			(unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
			s->cur_tag[0] ? s->cur_tag : "?",
			ts == PQTRANS_IDLE ? "no transaction is open after it"
					   : "its state is not usable after it",
			s->cur_excerpt);
		return -1;
	}
	if (scs != NULL && (strcmp(scs, "on") == 0) != (lexer_standard_strings(&s->lx) != 0)) {
		session_fail_stmt(
			s,
			"statement %llu at line %llu left standard_conforming_strings %s on "
			"the target, but pgsluice reads the dump after it with it %s: the server "
			"would split the rest differently; the import is refused\n  statement: %s",
			(unsigned long long)s->cur_no, (unsigned long long)s->cur_line, scs,
			lexer_standard_strings(&s->lx) ? "on" : "off", s->cur_excerpt);
		return -1;
	}
	return 0;
}

/* What the target holds after a dump statement ended the import's transaction. */
static const char *
session_txn_lost_state(const struct session *s)
{
	if (strncmp(s->cur_tag, "ROLLBACK", 8) == 0)
		return "the target rolled the import back at that statement: it is as it was before "
		       "the import (nothing after that statement ran)";
	if (strcmp(s->cur_tag, "COMMIT") == 0)
		return "what the import did up to that statement is COMMITTED: the target holds a "
		       "partial import (nothing after that statement ran)";
	if (strcmp(s->cur_tag, "PREPARE TRANSACTION") == 0)
		return "the import up to that statement is a PREPARED transaction on the target, "
		       "holding its locks: pg_prepared_xacts lists it, ROLLBACK PREPARED undoes it";
	return "what the import did up to that statement may be committed: look at the target "
	       "before sending the dump again";
}

/* A command of ours finished (TARGET_EV_IDLE). */
static void
session_step_done(struct session *s)
{
	char *sql, err[256], *srv;

	if (s->error != NULL) {
		session_wind_down(s);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK:
		if (s->srv.set) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "the preflight query on the target failed: %s",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		if (!s->locked) {
			session_fail(s,
			             "another import into %s is running (the import lock on the "
			             "database is held by another session, e.g. another pgsluice); "
			             "try again when it has finished",
			             s->dbname);
			return;
		}
		session_set_state(s, SESSION_SETTINGS);
		session_send(s, preflight_sql_settings());
		return;
	case SESSION_SETTINGS:
		if (s->srv.set || s->settings.names == NULL) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "cannot read pg_settings on the target: %s",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_role_start(s);
		return;
	case SESSION_ROLE:
		if (session_role_done(s) < 0)
			return;
		session_set_state(s, SESSION_SYNAPSE);
		/* fall through */
	case SESSION_SYNAPSE:
		if (session_synapse_step(s) != 0)
			return; /* a query is in flight, or the import failed */
		session_set_state(s, SESSION_OBJECTS);
		sql = preflight_sql_objects(s->target.conn, s->cfg->schemas, s->cfg->n_schemas, err,
		                            sizeof(err));
		if (sql == NULL) {
			session_fail(s, "%s", err);
			return;
		}
		session_send(s, sql);
		free(sql);
		return;
	case SESSION_OBJECTS:
		if (s->srv.set) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "cannot list the objects in the target schemas: %s",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_after_objects(s);
		return;
	case SESSION_BEGIN:
		if (s->srv.set) {
			char note[sizeof(s->lw.blocker) + 200];

			srv = pgerr_text(&s->srv);
			session_lock_note(s, note, sizeof(note));
			session_fail(s, "%s on the target failed: %s%s",
			             s->cleared ? "clearing the target schemas (--clear-target)"
			                        : "BEGIN",
			             srv ? srv : "?", note);
			free(srv);
			return;
		}
		s->in_txn = s->cfg->rules->opt.single_transaction;
		if (s->cleared)
			session_say(s, LOG_LEVEL_INFO, "cleared (--clear-target): dropped %s%s",
			            s->cleared,
			            s->in_txn ? " inside the import's transaction" : "");
		session_start_stream(s);
		return;
	case SESSION_STREAM:
		if (s->srv.set) {
			session_fail_statement(s);
			return;
		}
		if (s->jobs == NULL && session_check_target(s) < 0)
			return;
		if (s->cur_is_copy && s->rep.in_copy) {
			/* a COPY statement that ended without data: cannot happen */
			session_fail_stmt(
				s, "statement %llu at line %llu: the target did not start the COPY",
				(unsigned long long)s->cur_no, (unsigned long long)s->cur_line);
			return;
		}
		session_pump(s);
		return;
	case SESSION_VERIFY:
		if (s->srv.set) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "%s failed: %s",
			             s->analyze_step == 1
			                     ? "ANALYZE of the imported tables (--no-analyze "
			                       "skips it)"
			                     : "verification query",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_verify_next(s);
		return;
	case SESSION_FINISH:
		if (s->srv.set && s->finish_commit) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "COMMIT failed: %s", srv ? srv : "?");
			free(srv);
		} else if (s->finish_commit) {
			s->committed = 1;
		} else if (s->srv.set && s->jobs != NULL) {
			srv = pgerr_text(&s->srv);
			session_say(
				s, LOG_LEVEL_ERROR,
				"  --jobs: undoing the import failed: %s\n  the "
				"target holds a partial import; pgsluice_aside_N schemas hold what "
				"--clear-target moved aside",
				srv ? srv : "?");
			free(srv);
		}
		s->in_txn = 0;
		session_wind_down(s);
		return;
	case SESSION_UNLOCK:
		s->locked = 0;
		target_close(&s->target);
		session_report(s);
		return;
	default:
		return;
	}
}

static void
session_on_result(struct session *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	char err[256];
	const char *tag;

	if (s->wire != NULL && s->state == SESSION_STREAM && s->error == NULL)
		pgwire_result(s->wire, client_out(&s->cl), res);
	if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
		pgerr_save(&s->srv, res);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK: {
		struct preflight_lock l;

		if (st == PGRES_COMMAND_OK)
			return; /* SET lock_timeout */
		if (preflight_lock_load(&l, res, err, sizeof(err)) < 0) {
			session_fail(s, "%s", err);
			return;
		}
		s->locked = l.locked;
		snprintf(s->dbname, sizeof(s->dbname), "%s", l.dbname);
		return;
	}
	case SESSION_SETTINGS:
		preflight_settings_free(&s->settings);
		if (preflight_settings_load(&s->settings, res) < 0)
			log_warn(s->who,
			         "cannot read pg_settings' names; the unknown-setting rule uses "
			         "its built-in table");
		return;
	case SESSION_OBJECTS:
		preflight_objects_free(&s->objects);
		if (preflight_objects_load(&s->objects, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_STREAM:
		tag = PQcmdStatus(res);
		snprintf(s->cur_tag, sizeof(s->cur_tag), "%s", tag);
		if (s->cur_is_copy && strncmp(tag, "COPY", 4) == 0) {
			char verr[512];
			uint64_t rows = strtoull(PQcmdTuples(res), NULL, 10);

			report_copy_done(&s->rep, rows);
			if (verify_copy_result(&s->ver, s->rep.copy_table, rows, verr,
			                       sizeof(verr)) < 0)
				session_fail(s, "%s", verr);
		}
		return;
	case SESSION_ROLE:
		session_role_result(s, res);
		return;
	case SESSION_SYNAPSE:
		if (synapse_preflight_result(&s->syn, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_VERIFY: {
		char verr[1024];

		if (s->auditing) {
			session_audit_result(s, res);
			return;
		}
		if (s->analyze_step == 1)
			return; /* ANALYZE */
		if (verify_result(&s->ver, res, verr, sizeof(verr)) < 0)
			session_fail(s, "%s", verr);
		return;
	}
	case SESSION_UNLOCK:
		verify_size_result(&s->ver, res);
		return;
	default:
		return;
	}
}

/* Preflight 1: the import lock, with --lock-timeout for the whole session. */
static void
session_preflight_start(struct session *s)
{
	/* standard_conforming_strings as the lexer begins to read the dump */
	static const char scs_on[] = "SET standard_conforming_strings = on;\n";
	char *sql = malloc(strlen(preflight_sql_lock()) + sizeof(s->lock_set) + sizeof(scs_on) + 2);

	session_set_state(s, SESSION_LOCK);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		return;
	}
	/* the dump's own SET lock_timeout is rewritten */
	sprintf(sql, "%s\n%s%s", s->lock_set, scs_on, preflight_sql_lock());
	session_send(s, sql);
	free(sql);
}

static void
session_on_target(void *arg, enum target_event ev, PGresult *res)
{
	struct session *s = arg;

	switch (ev) {
	case TARGET_EV_CONNECTED:
		snprintf(s->dbname, sizeof(s->dbname), "%s", PQdb(s->target.conn));
		log_info(s->who, "connected to the target: database %s, user %s, server %d",
		         PQdb(s->target.conn), PQuser(s->target.conn),
		         PQserverVersion(s->target.conn));
		if (s->error != NULL) {
			session_wind_down(s);
			return;
		}
		if (s->state == SESSION_PREDUMP) {
			/* a wire client: its startup is answered; the dump decides the rest */
			pgwire_ready(s->wire, client_out(&s->cl), s->target.conn);
			session_predump(s);
			return;
		}
		session_preflight_start(s);
		return;
	case TARGET_EV_RESULT:
		session_on_result(s, res);
		return;
	case TARGET_EV_IDLE:
		session_step_done(s);
		return;
	case TARGET_EV_COPY:
		s->copy_open = 1;
		if (s->wire != NULL && s->error == NULL)
			pgwire_copy_in(s->wire, client_out(&s->cl));
		if (s->error != NULL)
			session_wind_down(s);
		else
			session_pump(s);
		return;
	case TARGET_EV_DRAINED:
		if (s->error != NULL)
			session_wind_down(s);
		else if (s->state == SESSION_STREAM)
			session_pump(s);
		return;
	case TARGET_EV_FAILED:
		if (s->state == SESSION_FINISH && s->finish_commit && s->in_txn)
			s->commit_unknown = 1;
		if (s->state == SESSION_CONNECT)
			session_fail(s,
			             "%s\n  check --target, that the server runs, and its "
			             "pg_hba.conf",
			             target_error(&s->target));
		else
			session_fail(s, "%s", target_error(&s->target));
		return;
	}
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
	if (s->jobs != NULL && jobs_state(s->jobs) != NULL)
		return jobs_state(s->jobs);
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
	char msg[1024], *line;
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
	res.rules = s->pipeline_live ? &s->rules : NULL;
	res.ver = s->pipeline_live ? &s->ver : NULL;
	obj = jsonout_import(&res);
	if (obj == NULL)
		return;
	if (s->cfg->on_result)
		s->cfg->on_result(s->cfg->arg, s, &res, obj);
	if (s->want_result && s->wire == NULL && !s->cl.gone &&
	    (line = jsonout_line(obj)) != NULL) {
		evbuffer_add_printf(client_out(&s->cl), "RESULT %s\n", line);
		free(line);
	}
	json_decref(obj);
}

/*
 * The target is closed: the summary, then close the client.  It opens
 * with the verdict, then the phases, the checks and the rules, and ends
 * with the verdict again (so a terminal shows it last).
 */
static void
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
		if (s->wire != NULL && !s->wire_trailer)
			session_sum(
				s, lvl,
				"  the client's COMMIT ended the import: pg_dump's last line "
				"(\"-- PostgreSQL database dump complete\") does not come over this "
				"path (psql drops comments), so a file cut short at a statement "
				"boundary would not be noticed; compare the counts with the source, "
				"or send the file with pgsluice send, which checks it");
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
	if (s->pipeline_live) {
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
	if (s->wire != NULL && !s->cl.gone && session_wire_after(s) == 0)
		return;
	session_close_client(s);
}

/* ---- the public side -------------------------------------------------- */

struct session *
session_new(const struct session_config *cfg, struct bufferevent *bev, const char *peer,
            uint64_t id)
{
	struct lockwatch_config lc;
	struct session *s;
	char *colon;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	s->plain = malloc(SESSION_PLAIN_CAP);
	s->ev_free = event_new(cfg->base, -1, 0, session_free_now, s);
	if (s->plain == NULL || s->ev_free == NULL) {
		free(s->plain);
		if (s->ev_free)
			event_free(s->ev_free);
		free(s);
		bufferevent_free(bev);
		return NULL;
	}
	s->cfg = cfg;
	s->id = id;
	s->started = time(NULL);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	/* "10.0.0.5:51234" -> "10.0.0.5", "[::1]:51234" -> "::1", "unix" as is */
	if (peer[0] == '[') {
		snprintf(s->peer_host, sizeof(s->peer_host), "%s", peer + 1);
		colon = strchr(s->peer_host, ']');
	} else {
		snprintf(s->peer_host, sizeof(s->peer_host), "%s", peer);
		colon = strrchr(s->peer_host, ':');
	}
	if (colon != NULL)
		*colon = '\0';
	snprintf(s->who, sizeof(s->who), "#%llu %s", (unsigned long long)id, peer);
	snprintf(s->lock_set, sizeof(s->lock_set), "SET lock_timeout = '%ds';", cfg->lock_timeout);
	decoder_init(&s->dec);
	report_init(&s->rep);
	synapse_init(&s->syn, (enum synapse_mode)cfg->synapse, cfg->force_schema_version,
	             cfg->schemas != NULL && cfg->n_schemas > 0 ? cfg->schemas[0] : "public");
	verify_init(&s->ver);
	audit_init(&s->audit);
	memset(&lc, 0, sizeof(lc));
	lc.base = cfg->base;
	lc.conninfo = cfg->conninfo;
	lc.connect_timeout = cfg->connect_timeout;
	lc.lock_timeout = cfg->lock_timeout;
	lc.who = s->who;
	lc.target = &s->target;
	lc.blocked = session_on_blocked;
	lc.may_cancel = session_may_cancel;
	lc.may_watch = session_may_watch;
	lc.arg = s;
	lockwatch_init(&s->lw, &lc);
	if (client_init(&s->cl, cfg->base, bev, s->who, &session_client_events, s) < 0) {
		client_free(&s->cl);
		free(s->plain);
		event_free(s->ev_free);
		free(s);
		return NULL;
	}
	return s;
}

/* ---- the PostgreSQL protocol (pgwire.h) ------------------------------ */

/*
 * Go on over TLS on the same socket (client_take_tls).  answer_s: write
 * the 'S' that accepts an SSLRequest first.
 */
static void
session_take_tls(struct session *s, int answer_s)
{
	switch (client_take_tls(&s->cl, s->cfg->tls_ctx, answer_s)) {
	case CLIENT_TLS_OK:
		break;
	case CLIENT_TLS_LEFT:
		session_refuse(s, LOG_LEVEL_INFO, s->cl.why);
		return;
	case CLIENT_TLS_FAILED:
		session_refuse(s, LOG_LEVEL_ERROR, s->cl.why);
		return;
	}
	if (s->wire != NULL)
		pgwire_tls_started(s->wire);
}

/* A wire client: its front end, and the handshake's time limit. */
static int
session_wire_begin(struct session *s)
{
	struct pgwire_config wc;
	struct timeval tv = { s->cfg->header_timeout, 0 };

	memset(&wc, 0, sizeof(wc));
	wc.tls_available = s->tls_port;
	wc.tls_required = s->tls_port;
	wc.scram = s->cfg->auth != NULL ? auth_scram(s->cfg->auth) : NULL;
	wc.max_query = s->cfg->rules->max_statement ? s->cfg->rules->max_statement
	                                            : LEXER_DEFAULT_MAX_STATEMENT;
	wc.who = s->who;
	s->wire = pgwire_new(&wc);
	if (s->wire == NULL) {
		session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
		return -1;
	}
	log_info(s->who, "a PostgreSQL-protocol client");
	s->cl.plain_socket = 0; /* the bufferevent reads: messages, not a bulk stream */
	if (s->ev_header == NULL && s->cfg->header_timeout > 0) {
		s->ev_header = evtimer_new(s->cfg->base, session_on_header_timeout, s);
		if (s->ev_header == NULL || evtimer_add(s->ev_header, &tv) != 0) {
			session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
			return -1;
		}
	}
	return 1;
}

/*
 * TLS port: the first byte, peeked.  0x00: a wire client in plaintext;
 * 0x16 (a TLS handshake record): TLS; anything else: a plaintext raw
 * client, told in plaintext to use TLS.
 */
static void
session_on_presniff(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	unsigned char c;
	ssize_t n;
	(void)what;

	if (s->released || s->state != SESSION_HANDSHAKE || s->sniffed)
		return;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(s->ev_sniff, NULL);
		return;
	}
	s->sniffed = 1;
	if (n == 1 && c == 0x00) {
		s->cl.tls_pending = 0;
		if (session_wire_begin(s) < 0)
			return;
		bufferevent_enable(s->cl.bev, EV_READ | EV_WRITE);
		session_handshake(s);
		return;
	}
	if (n == 1 && c != 0x16) {
		/* not a TLS handshake record: a plaintext raw client (nc, send without --tls) */
		s->cl.tls_pending = 0;
		bufferevent_enable(s->cl.bev, EV_READ | EV_WRITE);
		session_refuse(
			s, LOG_LEVEL_WARN,
			"this port speaks TLS: use pgsluice send --ca "
			"pgsluice.crt HOST:PORT (or socat ... OPENSSL:HOST:PORT,cafile=pgsluice.crt)");
		return;
	}
	/* TLS, or the end: the handshake says what it is */
	session_take_tls(s, 0);
}

static void
session_on_sniff_grace(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->released || s->state != SESSION_HANDSHAKE || s->sniffed)
		return;
	s->sniffed = 1; /* silent: a raw stream whose sender is slow to start (pg_dump) */
	session_handshake(s);
}

/*
 * The first byte of the client's stream: 0x00 is a PostgreSQL client
 * (every startup packet begins with a length below 2^24); a dump begins
 * with text or 1f 8b, an AUTH line with 'A'.  Returns 1 when decided, 0
 * to wait (a silent client is taken as raw after SESSION_SNIFF_GRACE_MS,
 * or, with a token, waits for its AUTH line), -1 when refused.
 */
static int
session_sniff(struct session *s)
{
	struct timeval tv = { 0, SESSION_SNIFF_GRACE_MS * 1000 };
	unsigned char c;

	if (evbuffer_copyout(client_in(&s->cl), &c, 1) < 1) {
		if (s->cl.eof) {
			s->sniffed = 1;
			return 1;
		}
		if (s->auth_pending || s->ev_sniff != NULL)
			return 0;
		s->ev_sniff = evtimer_new(s->cfg->base, session_on_sniff_grace, s);
		if (s->ev_sniff == NULL || evtimer_add(s->ev_sniff, &tv) != 0) {
			s->sniffed = 1;
			return 1;
		}
		return 0;
	}
	s->sniffed = 1;
	if (s->ev_sniff != NULL)
		event_del(s->ev_sniff);
	return c == 0x00 ? session_wire_begin(s) : 1;
}

/* HANDSHAKE of a wire client: the startup packets.  1: done, 0: wait, -1: ended. */
static int
session_wire_startup(struct session *s)
{
	struct evbuffer *in = client_in(&s->cl);

	switch (pgwire_startup(s->wire, in, client_out(&s->cl), s->cl.eof)) {
	case PGWIRE_START_WAIT:
		return 0;
	case PGWIRE_START_DONE:
		return 1;
	case PGWIRE_START_TLS:
		session_take_tls(s, 1);
		return 0;
	case PGWIRE_START_CLOSE:
		session_close_client(s);
		return -1;
	case PGWIRE_START_FAIL:
		break;
	}
	session_refuse(s, LOG_LEVEL_WARN, pgwire_error(s->wire));
	return -1;
}

/* session_refill for a wire client: Query text and COPY data from pgwire. */
static int
session_wire_refill(struct session *s)
{
	size_t produced = 0;
	enum pgwire_input r;

	s->plain_start = s->plain_end = 0;
	r = pgwire_refill(s->wire, client_in(&s->cl), client_out(&s->cl), &s->lx, s->plain,
	                  SESSION_PLAIN_CAP, &produced);
	s->plain_end = produced;
	s->rep.bytes_in = s->rep.bytes_plain = pgwire_bytes(s->wire);
	if (r == PGWIRE_IN_FAIL) {
		session_fail(s, "%s", pgwire_error(s->wire));
		return -1;
	}
	if (r == PGWIRE_IN_TERMINATE) {
		session_fail(
			s,
			"the client ended its session (Terminate) with its transaction open, "
			"before its COMMIT: the import is rolled back, as PostgreSQL does%s",
			s->peer_refused
				? "\n  a second connection was refused meanwhile: "
				  "psql runs the \\connect of a dump made with pg_dump -C itself, and "
				  "pgsluice takes one connection per import; make the dump without -C, "
				  "or send it with pgsluice send"
				: "");
		return -1;
	}
	return 0;
}

/*
 * A statement of a wire client, after the rules: what pgwire answers
 * itself, or refuses.  1: the session goes on as for a raw stream; 0: the
 * statement is done (the import ends here); -1: the import failed.
 */
static int
session_wire_statement(struct session *s, const struct lexer_event *ev,
                       const struct rules_verdict *v, int in_copy)
{
	char why[640];

	switch (pgwire_statement(s->wire, client_out(&s->cl), ev, v, in_copy, why, sizeof(why))) {
	case PGWIRE_ST_GO:
		return 1;
	case PGWIRE_ST_END:
		log_info(s->who, "the client's COMMIT ends the import: committing");
		s->trailer = 1;
		return 0;
	case PGWIRE_ST_REFUSE:
		break;
	}
	text_excerpt(ev->data, ev->len, SESSION_EXCERPT, s->cur_excerpt, sizeof(s->cur_excerpt));
	session_fail_stmt(s, "statement %llu at line %llu refused: %s\n  statement: %s",
	                  (unsigned long long)s->rep.statements, (unsigned long long)ev->line, why,
	                  s->cur_excerpt);
	return -1;
}

/*
 * The import of a wire client has ended: pgwire tells the outcome.  0 when
 * the client is answered on (state AFTER, until its Terminate), 1 when it
 * is to be closed.
 */
static int
session_wire_after(struct session *s)
{
	struct timeval tv = { s->cfg->idle_timeout, 0 };

	if (pgwire_after(s->wire, client_out(&s->cl), s->committed && s->error == NULL, s->error,
	                 s->error_why) == 0)
		return 1;
	session_set_state(s, SESSION_AFTER);
	if (s->cfg->idle_timeout > 0)
		bufferevent_set_timeouts(s->cl.bev, &tv, NULL);
	bufferevent_enable(s->cl.bev, EV_READ | EV_WRITE);
	if (pgwire_after_read(s->wire, client_in(&s->cl), client_out(&s->cl)) == 0)
		session_close_client(s);
	return 0;
}

void
session_note_refused_peer(struct session *running)
{
	running->peer_refused = 1;
}

/* ---- the handshake: TLS, the AUTH line, admission -------------------- */

/*
 * Refused before the import began: one ERROR line, logged at level (and to
 * the client when it has a channel to read it on), then close.  Nothing
 * reached the target.
 */
static void
session_refuse(struct session *s, enum log_level level, const char *msg)
{
	session_refuse_code(s, level, SESSION_ADMIT, msg);
}

/* The RESULT line of a refusal before any import (session.h), when asked for. */
static void
session_result_refused(struct session *s, enum session_admission code, const char *msg)
{
	char *line = jsonout_refusal(code == SESSION_REFUSE_BUSY          ? "busy"
	                             : code == SESSION_REFUSE_UNAVAILABLE ? "unavailable"
	                                                                  : "refused",
	                             msg);

	if (line != NULL)
		evbuffer_add_printf(client_out(&s->cl), "RESULT %s\n", line);
	free(line);
}

/* session_refuse, for an admission refusal: code says which (SESSION_ADMIT: none). */
static void
session_refuse_code(struct session *s, enum log_level level, enum session_admission code,
                    const char *msg)
{
	enum pgwire_refusal why;

	if (s->cl.tls_pending)
		s->cl.gone = 1; /* no TLS channel yet to write on */
	if (s->wire != NULL && !s->cl.gone) {
		log_msg(level, s->who, "ERROR %s", msg);
		why = code == SESSION_REFUSE_BUSY          ? PGWIRE_REFUSE_BUSY
		      : code == SESSION_REFUSE_UNAVAILABLE ? PGWIRE_REFUSE_UNAVAILABLE
		      : s->state == SESSION_PREDUMP        ? pgwire_refusal(s->wire)
		                                           : PGWIRE_REFUSE_DEFAULT;
		pgwire_refuse(s->wire, client_out(&s->cl), why, msg);
	} else {
		session_say(s, level, "ERROR %s", msg);
		if (s->want_result && !s->cl.gone)
			session_result_refused(s, code, msg);
	}
	session_close_client(s);
}

static void
session_on_header_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char msg[160];
	(void)fd;
	(void)what;

	if (s->state != SESSION_HANDSHAKE)
		return;
	snprintf(msg, sizeof(msg), "%s within %d s of connecting (--header-timeout)",
	         s->cl.tls_pending ? "no TLS handshake"
	         : s->wire != NULL ? "no complete PostgreSQL startup and authentication"
	                           : "no complete AUTH line",
	         s->cfg->header_timeout);
	session_refuse(s, LOG_LEVEL_WARN, msg);
}

static void
session_on_auth_hold(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_handshake(arg);
}

/*
 * The AUTH step: 1 passed, 0 wait (more bytes, or its turn), -1 refused.
 * A complete AUTH line (a PostgreSQL client: each SCRAM message) waits
 * until auth_wait lets it be compared, then the outcome is recorded at
 * once; a right token is never refused unread.  The wait does not count
 * against --header-timeout; past SESSION_AUTH_HOLD_MAX_S in all it is
 * refused.
 */
static int
session_auth(struct session *s)
{
	struct evbuffer *in = client_in(&s->cl);
	struct timeval tv = { 0, 0 };
	enum auth_result r;
	char why[600];
	double wait;
	int n;

	if (s->ev_auth != NULL && evtimer_pending(s->ev_auth, NULL))
		return 0; /* held */
	if (s->wire == NULL) {
		r = auth_line(in, s->cl.eof, why, sizeof(why));
		if (r == AUTH_MORE)
			return 0;
		if (r == AUTH_FAIL) {
			/* no token to guess: answered at once, costs no credit */
			log_warn(s->who, "AUTH failed from %s: %s", s->peer_host, why);
			session_refuse(s, LOG_LEVEL_DEBUG, why);
			return -1;
		}
	}
	wait = auth_wait(s->cfg->auth, s->peer_host);
	if (wait > 0) {
		if (s->auth_held + wait > SESSION_AUTH_HOLD_MAX_S) {
			log_warn(s->who,
			         "AUTH attempt from %s refused after waiting %.0f s for its turn: "
			         "failed attempts keep arriving (--auth-failure-rate)",
			         s->peer_host, s->auth_held);
			snprintf(why, sizeof(why),
			         "too many failed AUTH attempts (from %s or in all); "
			         "try again later",
			         s->peer_host);
			session_refuse(s, LOG_LEVEL_DEBUG, why);
			return -1;
		}
		if (s->ev_auth == NULL)
			s->ev_auth = evtimer_new(s->cfg->base, session_on_auth_hold, s);
		/*
		 * Those waiting for the same credit wake in the order they came:
		 * the longer one has waited, the less is added to its wait.
		 */
		wait += 0.001 + 0.02 / (1 + 10 * s->auth_held);
		tv.tv_sec = (time_t)wait;
		tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
		if (s->ev_auth != NULL && evtimer_add(s->ev_auth, &tv) == 0) {
			/* the wait is ours: it does not count against --header-timeout */
			if (s->ev_header != NULL) {
				struct timeval th = { tv.tv_sec + s->cfg->header_timeout,
					              tv.tv_usec };

				evtimer_add(s->ev_header, &th);
			}
			if (s->auth_held == 0)
				log_info(s->who,
				         "AUTH attempt from %s waits its turn (%.2f s; earlier "
				         "failures)",
				         s->peer_host, wait);
			s->auth_held += wait;
			return 0;
		}
	}
	switch (s->wire != NULL ? pgwire_auth(s->wire, in, client_out(&s->cl), why, sizeof(why))
	                        : auth_check(s->cfg->auth, in, s->cl.eof, why, sizeof(why))) {
	case AUTH_MORE:
		return 0;
	case AUTH_OK:
		auth_record(s->cfg->auth, s->peer_host, 1);
		s->auth_pending = 0;
		log_info(s->who, "AUTH: token accepted");
		return 1;
	case AUTH_FAIL:
		break;
	}
	n = auth_record(s->cfg->auth, s->peer_host, 0);
	metrics_auth_failed();
	log_warn(s->who,
	         "AUTH failed from %s: %s (failure %d from this address; its next "
	         "attempt waits %.2f s)",
	         s->peer_host, why, n, auth_wait(s->cfg->auth, s->peer_host));
	session_refuse(s, LOG_LEVEL_DEBUG, why);
	return -1;
}

/*
 * After the AUTH step: a raw client's "RESULT json" line (session.h).
 * 1: taken or absent, 0: wait for the rest of it.
 */
static int
session_result_request(struct session *s)
{
	static const char req[] = SESSION_RESULT_REQUEST;
	struct evbuffer *in = client_in(&s->cl);
	char buf[sizeof(req) - 1];
	size_t n = evbuffer_get_length(in);

	/*
	 * Nothing more yet: no request (send writes it with its AUTH line, or
	 * first, before the sniff's grace ends); a silent client gets its
	 * answer now (busy, say) instead of waiting for bytes.
	 */
	if (n == 0)
		return 1;
	if (n > sizeof(buf))
		n = sizeof(buf);
	if (evbuffer_copyout(in, buf, n) != (ev_ssize_t)n || memcmp(buf, req, n) != 0)
		return 1;
	if (n < sizeof(buf))
		return s->cl.eof ? 1 : 0;
	evbuffer_drain(in, sizeof(buf));
	s->want_result = 1;
	return 1;
}

/*
 * HANDSHAKE: TLS (bufferevent_openssl runs it; BEV_EVENT_CONNECTED ends
 * it), then the AUTH line when a token is configured, then the daemon's
 * admission, then the target connection.  Called again on each step's
 * event; does nothing outside HANDSHAKE.
 */
static void
session_handshake(struct session *s)
{
	enum session_admission code;
	char msg[512];

	if (s->state != SESSION_HANDSHAKE || s->cl.tls_pending)
		return;
	if (!s->sniffed && session_sniff(s) <= 0)
		return;
	if (s->wire != NULL && session_wire_startup(s) <= 0)
		return;
	if (s->cl.eof && evbuffer_get_length(client_in(&s->cl)) == 0) {
		session_refuse(s, LOG_LEVEL_INFO,
		               "the client closed the connection before "
		               "sending a dump\n  nothing was changed in the target");
		return;
	}
	if (s->auth_pending && session_auth(s) <= 0)
		return;
	if (s->wire == NULL && session_result_request(s) == 0)
		return;
	if (s->ev_header)
		event_del(s->ev_header);
	/* could an import start now?  (nothing is taken before a dump is seen) */
	code = s->cfg->admit ? s->cfg->admit(s->cfg->arg, s, 0, msg, sizeof(msg)) : SESSION_ADMIT;
	if (code != SESSION_ADMIT) {
		session_refuse_code(s, LOG_LEVEL_WARN, code, msg);
		return;
	}
	session_set_state(s, SESSION_PREDUMP);
	if (s->want_result && s->wire == NULL)
		evbuffer_add(client_out(&s->cl), SESSION_RESULT_READY,
		             strlen(SESSION_RESULT_READY));
	if (s->cfg->idle_timeout > 0) {
		struct timeval tv = { s->cfg->idle_timeout, 0 };

		if (s->ev_idle == NULL)
			s->ev_idle = evtimer_new(s->cfg->base, session_on_idle, s);
		if (s->ev_idle != NULL)
			evtimer_add(s->ev_idle, &tv);
	}
	if (s->wire != NULL) {
		/* its startup is answered with the target's parameters: connect, run nothing */
		if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo,
		                   s->cfg->connect_timeout, session_on_target, s, s->who) < 0)
			session_fail(s,
			             "%s\n  check --target, that the server runs, and its "
			             "pg_hba.conf",
			             target_error(&s->target));
		return;
	}
	session_predump(s);
}

/*
 * The first bytes are a dump's: take the daemon's slot (--once counts it),
 * then the preflight on a target connection (a wire client's is open).
 */
static void
session_begin_import(struct session *s)
{
	enum session_admission code;
	char msg[512];

	if (s->ev_idle != NULL)
		event_del(s->ev_idle);
	code = s->cfg->admit ? s->cfg->admit(s->cfg->arg, s, 1, msg, sizeof(msg)) : SESSION_ADMIT;
	if (code != SESSION_ADMIT) {
		target_close(&s->target);
		session_refuse_code(s, LOG_LEVEL_WARN, code, msg);
		return;
	}
	s->admitted = 1;
	log_info(s->who, "a dump: the import starts");
	session_set_state(s, SESSION_CONNECT);
	if (s->wire != NULL) {
		session_preflight_start(s);
		return;
	}
	if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	                   session_on_target, s, s->who) < 0)
		session_fail(s, "%s\n  check --target, that the server runs, and its pg_hba.conf",
		             target_error(&s->target));
}

/*
 * PREDUMP: is this a dump?  A raw stream's first decoded bytes go to
 * dumpstart_classify (and stay in plain[] for the lexer); a wire client's
 * messages to pgwire_predump.  Called on each client event until decided.
 */
static void
session_predump(struct session *s)
{
	struct evbuffer *in = client_in(&s->cl);
	enum dumpstart_kind k;
	char msg[700];
	int eof;

	if (s->state != SESSION_PREDUMP)
		return;
	if (s->wire != NULL) {
		if (s->target.state == TARGET_CONNECTING)
			return; /* ReadyForQuery comes with the target's parameters */
		switch (pgwire_predump(s->wire, in, client_out(&s->cl))) {
		case PGWIRE_PRE_WAIT:
			if (s->cl.eof) {
				log_info(s->who, "%s before sending a dump: nothing was done",
				         s->cl.why);
				target_close(&s->target);
				session_close_client(s);
			}
			return;
		case PGWIRE_PRE_DUMP:
			session_begin_import(s);
			return;
		case PGWIRE_PRE_CLOSE:
			log_info(s->who,
			         "the client ended its session (Terminate) before sending a dump: "
			         "nothing was done");
			target_close(&s->target);
			s->cl.eof = 1;
			session_close_client(s);
			return;
		case PGWIRE_PRE_REFUSE:
			target_close(&s->target);
			session_refuse(s, LOG_LEVEL_WARN, pgwire_error(s->wire));
			return;
		}
		return;
	}
	if (session_decode(s) < 0)
		return;
	eof = s->cl.eof && evbuffer_get_length(in) == 0 && !decoder_pending(&s->dec);
	k = dumpstart_classify(s->plain, s->plain_end, eof);
	if (k == DUMPSTART_MORE)
		return;
	if (k == DUMPSTART_DUMP) {
		session_begin_import(s);
		return;
	}
	dumpstart_message(k, s->plain, s->plain_end, msg, sizeof(msg));
	session_refuse(s, k == DUMPSTART_EMPTY ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, msg);
}

void
session_start(struct session *s)
{
	struct timeval tv = { s->cfg->header_timeout, 0 };

	log_info(s->who, "client connected");
	s->cl.tls_pending = tls_active(s->cl.bev);
	s->tls_port = client_tls_port(&s->cl, s->cfg->tls_ctx);
	if (s->tls_port)
		s->cl.tls_pending = 1; /* the first byte says: TLS, or a PostgreSQL client */
	s->auth_pending = s->cfg->auth != NULL;
	if (!s->tls_port)
		bufferevent_enable(s->cl.bev, EV_READ | EV_WRITE);
	if ((s->cl.tls_pending || s->auth_pending) && s->cfg->header_timeout > 0) {
		s->ev_header = evtimer_new(s->cfg->base, session_on_header_timeout, s);
		if (s->ev_header == NULL || evtimer_add(s->ev_header, &tv) != 0) {
			session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
			return;
		}
	}
	if (s->tls_port) {
		s->ev_sniff = event_new(s->cfg->base, bufferevent_getfd(s->cl.bev), EV_READ,
		                        session_on_presniff, s);
		if (s->ev_sniff == NULL || event_add(s->ev_sniff, NULL) != 0)
			session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
		return;
	}
	session_handshake(s);
}

void
session_abort(struct session *s, const char *reason)
{
	if (s->state == SESSION_CLOSING)
		return;
	if (s->state == SESSION_AFTER) {
		session_close_client(s); /* the import has ended; its client is told no more */
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		session_refuse(s, LOG_LEVEL_INFO, reason);
		return;
	}
	/*
	 * COMMIT or ROLLBACK is in flight: let it end and report what it did
	 * (an error set now would report a rollback after a COMMIT went in).
	 */
	if (s->state == SESSION_FINISH || s->state == SESSION_UNLOCK)
		return;
	session_fail(s, "%s", reason);
}

void
session_evict(struct session *s, const char *reason)
{
	char line[600];
	int n;

	if ((s->state != SESSION_HANDSHAKE && s->state != SESSION_PREDUMP) || s->admitted)
		return;
	if (s->state == SESSION_PREDUMP)
		target_close(&s->target);
	if (s->wire == NULL && !s->cl.tls_pending && !tls_active(s->cl.bev)) {
		n = snprintf(line, sizeof(line), "ERROR %s\n", reason);
		if (n > 0 && (size_t)n < sizeof(line))
			(void)!send(bufferevent_getfd(s->cl.bev), line, (size_t)n,
			            MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	/* freed now, not from the loop: a burst of accepts must find its place free */
	session_set_state(s, SESSION_CLOSING);
	s->released = 1;
	session_free_now(-1, 0, s);
}

int
session_importing(const struct session *s)
{
	return s->admitted && !s->ended;
}

void
session_describe(const struct session *s, char *buf, size_t size)
{
	struct tm tm;
	char since[16];

	localtime_r(&s->started, &tm);
	strftime(since, sizeof(since), "%H:%M:%S", &tm);
	snprintf(buf, size, "an import into %s from %s is running since %s",
	         s->dbname[0] ? s->dbname : "the target", s->peer_host, since);
}
