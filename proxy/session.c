/*
 * session.c - one import, from the client's first byte to the summary
 * (session.h): its states and their setter, the pump, the one failure
 * path into the wind-down, sending to the target, and the public side.
 * The other parts of a session are in session_*.c (session_int.h).
 *
 * The data path, one lexer event at a time:
 *
 *   the client's input (client.h: a bufferevent with a read high mark, so
 *   that the kernel holds the rest and the client's TCP window closes; on
 *   a plain socket in STREAM, bulk reads instead)
 *     -> the front end's refill: pipeline_feed (raw stream: decoded) or
 *        pgwire's message bodies written into the pipeline's room, only
 *        when the pipeline has used up what it holds (PIPELINE_MORE)
 *     -> pipeline_next (pipeline.h): one lexer event with the rules'
 *        verdict (statements, meta-commands) / COPY data as it is
 *     -> target_send / target_put_copy / target_end_copy
 *
 * Before every event the pump asks target_ready(): while a statement is in
 * flight or libpq holds unsent bytes, the event in hand is kept, nothing
 * more is taken from the pipeline, nothing more is decoded, the input
 * buffer stays full and libevent stops reading the socket.  When the
 * target catches up (TARGET_EV_IDLE, _COPY, _DRAINED) the pump goes on.
 * Memory is so bounded by the two buffers, libpq's buffers (one statement
 * or one COPY piece) and the lexer's statement buffer (--max-statement).
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

static const char *const session_step_names[] = {
	"peek", "sniff", "startup", "auth", "options", "admit",
};

/* The handshake goes on to step (never back). */
void
session_set_step(struct session *s, enum session_step step)
{
	if (step <= s->step)
		return;
	log_debug(s->who, "handshake %s -> %s", session_step_names[s->step],
	          session_step_names[step]);
	s->step = step;
}

void
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
	if (!s->cl.gone)
		s->front->say(s, kind, fmt, ap);
}

/* A line of any kind but the summary's or progress. */
void
session_say(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vsay(s, PGWIRE_SAY_NOTE, level, fmt, ap);
	va_end(ap);
}

/* A line of the summary (session_report). */
void
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

void
session_fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(s, PGWIRE_FAIL_OTHER, fmt, ap);
	va_end(ap);
}

/* session_fail for a statement of the dump that failed or was refused. */
void
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
void
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
void
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
void
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
int
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

int
session_send(struct session *s, const char *sql)
{
	return session_send_as(s, sql, 0);
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
		s->front->after_input(s);
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
		    s->target.state == TARGET_BUSY && (s->cl.gone || s->front->eof_abandons)) {
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

void
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

/*
 * --idle-timeout.  The pump is starved: everything the client sent is
 * processed and the target waits for more.  (Re)arm the timer; every
 * starvation after new bytes re-arms it, so it fires only after that long
 * without a byte while the import waited for one.  Time the target spends
 * on a statement does not count.
 */
void
session_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t line = pipeline_last_line(&s->pipe);
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
	    !target_ready(&s->target) || pipeline_pending(&s->pipe) || client_pending(&s->cl) > 0)
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
void
session_complete(struct session *s)
{
	if (s->ev_progress)
		event_del(s->ev_progress);
	if (s->sink->complete(s) == 0)
		return; /* what the sink runs ends first: it calls again */
	/* the checks of verify.h, then session_wind_down commits */
	session_verify_next(s);
}

void
session_pump_once(struct session *s)
{
	int r;

	while (s->state == SESSION_STREAM && s->error == NULL) {
		if (!s->sink->ready(s))
			return; /* the target calls back when it has caught up */
		if (s->trim_due) {
			/*
			 * The last event's results are in: its text (in the
			 * lexer's buffer or s->sql, sent from there) is not
			 * needed any more, and a large one is not held until the
			 * next one.
			 */
			s->trim_due = 0;
			lexer_trim(&s->pipe.lx, SESSION_STMT_KEEP);
			if (s->sql.cap > SESSION_STMT_KEEP)
				textbuf_free(&s->sql);
		}
		if (!s->ev_pending) {
			r = session_next_event(s);
			if (r < 0)
				return;
			if (r == 0) {
				if (s->trailer && s->front->input_complete(s))
					session_complete(s);
				else
					session_wait_client(s);
				return; /* else: wait for the client */
			}
		}
		r = session_handle(s);
		if (r <= 0)
			return;
		s->ev_pending = 0;
		s->trim_due = 1;
	}
}

void
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
 * Where the client's connection is, even if the session has not read up
 * to its end (it reads only as fast as the target takes the dump): 0 open,
 * 1 the client closed its sending side (TCP says CLOSE_WAIT once the FIN
 * is in, whatever data is buffered before it), 2 gone (reset: what was
 * written to it came back refused).
 */
int
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
void
session_on_alive(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	double ran;
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM || s->error != NULL || s->cl.gone ||
	    !s->front->probes_peer || s->target.state != TARGET_BUSY)
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
	s->cfg = cfg;
	s->front = &front_raw;
	s->ev_free = event_new(cfg->base, -1, 0, session_free_now, s);
	if (session_pipeline_init(s) < 0 || s->ev_free == NULL) {
		pipeline_free(&s->pipe);
		if (s->ev_free)
			event_free(s->ev_free);
		free(s);
		bufferevent_free(bev);
		return NULL;
	}
	s->id = id;
	s->sink = &sink_one; /* until a stream starts with --jobs */
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
		pipeline_free(&s->pipe);
		event_free(s->ev_free);
		free(s);
		return NULL;
	}
	return s;
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
	s->step = s->tls_port ? SESSION_STEP_PEEK : SESSION_STEP_SNIFF;
	if (!s->tls_port)
		bufferevent_enable(s->cl.bev, EV_READ | EV_WRITE);
	if ((s->cl.tls_pending || s->cfg->auth != NULL) && s->cfg->header_timeout > 0) {
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
	if ((s->state != SESSION_HANDSHAKE && s->state != SESSION_PREDUMP) || s->admitted)
		return;
	if (s->state == SESSION_PREDUMP)
		target_close(&s->target);
	s->front->evict(s, reason);
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
