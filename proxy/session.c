/*
 * session.c - one import, from the client's first byte to the summary
 * (session.h).
 *
 * The data path, one lexer event at a time:
 *
 *   bufferevent input (read high mark SESSION_INPUT_HIGH: the kernel holds
 *   the rest, the client's TCP window closes)
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
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "decoder.h"
#include "lexer.h"
#include "log.h"
#include "preflight.h"
#include "report.h"
#include "rules.h"
#include "session.h"
#include "target.h"

#define SESSION_INPUT_HIGH (256 * 1024) /* client bytes buffered before we stop reading */
#define SESSION_PLAIN_CAP (128 * 1024)  /* decoded bytes handed to the lexer at once */
#define SESSION_EXCERPT 200             /* characters of a statement in an error */
#define SESSION_LINGER_S 5              /* wait for the client to close after the summary */
#define SESSION_WRITE_TIMEOUT_S 60      /* a client that does not read its summary */

enum session_state {
	SESSION_HANDSHAKE,
	SESSION_CONNECT,
	SESSION_LOCK,
	SESSION_SETTINGS,
	SESSION_OBJECTS,
	SESSION_BEGIN,
	SESSION_STREAM,
	SESSION_FINISH,
	SESSION_UNLOCK,
	SESSION_CLOSING,
};

static const char *const session_state_names[] = {
	"handshake", "connect", "lock", "settings", "objects", "begin",
	"stream", "finish", "unlock", "closing",
};

/* The server's answer to the command in flight, when it was an error. */
struct session_srv_error {
	int set;
	char sqlstate[8];
	char *message, *detail, *hint, *context;
};

struct session {
	const struct session_config *cfg;
	uint64_t id;
	char who[112];
	char peer[80];
	char peer_host[64];
	time_t started;
	enum session_state state;
	int admitted;
	int ended;                 /* on_end was called */
	int released;              /* freeing is scheduled */

	struct bufferevent *bev;
	int client_eof;            /* no more bytes will come from the client */
	int client_gone;           /* nor can we write to it */
	char client_why[128];
	int lingering;

	struct target target;
	char dbname[128];
	int locked;                /* we hold the import lock */
	int in_txn;                /* BEGIN succeeded (single transaction) */
	int sent_any;              /* a dump statement (or a DROP) reached the target */
	int finish_commit;         /* FINISH: COMMIT (1) or ROLLBACK (0) */
	int committed;

	struct decoder dec;
	struct lexer lx;
	struct rules rules;
	struct rules_options ropt;
	int pipeline_live;         /* lexer and rules are initialised */
	struct preflight_settings settings;
	struct preflight_objects objects;
	char *cleared;             /* "173 tables, 21 sequences" dropped by --clear-target */
	struct report rep;

	char *plain;
	size_t plain_start, plain_end;
	struct lexer_event ev;
	int ev_pending;            /* ev is taken but not yet done */
	size_t ev_used;            /* bytes of plain[] that ev consumed */
	int input_done;            /* decoder_finish was called */
	int lexer_done;            /* lexer_finish said the input ended cleanly */
	int trailer;               /* pg_dump's trailer was seen */
	int last_nl;               /* the last decoded byte was a newline */
	char eof_where[200];       /* lexer_describe at the end of the input */
	int skip_copy;             /* COPY data of a statement that was dropped */
	int copy_open;             /* a forwarded COPY takes the data */

	char *sql;                 /* NUL-terminated copy of what is sent */
	size_t sql_cap;
	/* the statement in flight, for its error */
	uint64_t cur_no, cur_line;
	int cur_is_copy;
	char cur_excerpt[SESSION_EXCERPT * 4 + 8];
	struct session_srv_error srv;

	char *error;               /* the first failure: the import fails */

	struct event *ev_progress, *ev_free, *ev_linger;
	int in_pump, pump_again;
};

static void session_pump(struct session *s);
static void session_wind_down(struct session *s);
static void session_report(struct session *s);
static void session_release(struct session *s);
static void session_fail(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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
	log_debug(s->who, "state %s -> %s", session_state_names[s->state],
	          session_state_names[st]);
	s->state = st;
}

/* One line to the client (if it is still there) and to the log. */
static void
session_say(struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
session_say(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, s->who, fmt, ap);
	va_end(ap);
	if (s->client_gone)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(s->bev), "\n", 1);
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

static void
session_srv_clear(struct session_srv_error *e)
{
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->context);
	memset(e, 0, sizeof(*e));
}

static char *
session_field(const PGresult *res, int code)
{
	const char *v = PQresultErrorField(res, code);
	char *p;
	size_t n;

	if (v == NULL || *v == '\0')
		return NULL;
	p = strdup(v);
	if (p == NULL)
		return NULL;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
		p[--n] = '\0';
	return p;
}

/* Keep the first server error of the command in flight. */
static void
session_srv_save(struct session *s, const PGresult *res)
{
	const char *state;

	if (s->srv.set)
		return;
	s->srv.set = 1;
	s->srv.message = session_field(res, PG_DIAG_MESSAGE_PRIMARY);
	if (s->srv.message == NULL)
		s->srv.message = strdup(PQresultErrorMessage(res));
	s->srv.detail = session_field(res, PG_DIAG_MESSAGE_DETAIL);
	s->srv.hint = session_field(res, PG_DIAG_MESSAGE_HINT);
	s->srv.context = session_field(res, PG_DIAG_CONTEXT);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(s->srv.sqlstate, sizeof(s->srv.sqlstate), "%s", state ? state : "?????");
}

/* "message (SQLSTATE x)" plus DETAIL/HINT/CONTEXT lines, malloc'd */
static char *
session_srv_text(const struct session_srv_error *e)
{
	const char *msg = e->message ? e->message : "unknown error";
	char *p;
	size_t n;

	n = strlen(msg) + 64 + (e->detail ? strlen(e->detail) + 16 : 0) +
	    (e->hint ? strlen(e->hint) + 16 : 0) + (e->context ? strlen(e->context) + 16 : 0);
	p = malloc(n);
	if (p == NULL)
		return NULL;
	snprintf(p, n, "%s (SQLSTATE %s)%s%s%s%s%s%s", msg, e->sqlstate,
	         e->detail ? "\n  DETAIL: " : "", e->detail ? e->detail : "",
	         e->hint ? "\n  HINT: " : "", e->hint ? e->hint : "",
	         e->context ? "\n  CONTEXT: " : "", e->context ? e->context : "");
	return p;
}

/* First SESSION_EXCERPT characters of a statement, on one line. */
static void
session_excerpt(const char *text, size_t len, char *out, size_t size)
{
	size_t i, o = 0, chars = 0;
	int space = 0;

	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			if (!space && o > 0) {
				out[o++] = ' ';
				chars++;
			}
			space = 1;
			continue;
		}
		space = 0;
		if ((c & 0xC0) != 0x80) { /* a character starts here */
			if (chars == SESSION_EXCERPT)
				break;
			chars++;
		}
		out[o++] = c < 0x20 ? '?' : (char)c;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/*
 * The import failed: keep the first reason (a printf format), then wind the
 * target down.  Safe to call in any state, several times.
 */
static void
session_fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->error == NULL) {
		va_start(ap, fmt);
		s->error = session_vstrdup(fmt, ap);
		va_end(ap);
		if (s->error == NULL)
			s->error = strdup("out of memory");
		log_debug(s->who, "failing in state %s", session_state_names[s->state]);
	}
	if (s->state == SESSION_CLOSING)
		return;
	session_wind_down(s);
}

/* The statement in flight failed on the server. */
static void
session_fail_statement(struct session *s)
{
	char *srv = session_srv_text(&s->srv);

	session_fail(s, "statement %llu at line %llu failed: %s\n  statement: %s",
	             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
	             srv ? srv : "out of memory", s->cur_excerpt);
	free(srv);
}

/* Send a query of our own (preflight, BEGIN, COMMIT, ...). */
static int
session_send(struct session *s, const char *sql)
{
	session_srv_clear(&s->srv);
	if (target_send(&s->target, sql) < 0) {
		session_fail(s, "%s", target_error(&s->target));
		return -1;
	}
	return 0;
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
		return; /* TARGET_EV_IDLE brings us back */
	case TARGET_COPY_IN:
		if (t->flushing)
			return; /* TARGET_EV_DRAINED brings us back */
		r = target_end_copy(t, "pgsluice: the import was aborted");
		if (r < 0) {
			target_close(t);
			session_report(s);
		}
		/* r == 1: retried on TARGET_EV_DRAINED */
		return;
	case TARGET_IDLE:
		if (t->flushing)
			return;
		break;
	}

	/* idle: the next step of the ending */
	if (s->state < SESSION_FINISH) {
		if (s->in_txn) {
			s->finish_commit = s->error == NULL;
			session_set_state(s, SESSION_FINISH);
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
			if (target_send(t, preflight_sql_unlock()) == 0)
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
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->pipeline_live) {
		lexer_free(&s->lx);
		rules_free(&s->rules);
	}
	decoder_free(&s->dec);
	preflight_settings_free(&s->settings);
	preflight_objects_free(&s->objects);
	report_free(&s->rep);
	session_srv_clear(&s->srv);
	if (s->ev_progress)
		event_free(s->ev_progress);
	if (s->ev_linger)
		event_free(s->ev_linger);
	event_free(s->ev_free);
	free(s->cleared);
	free(s->plain);
	free(s->sql);
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
	if (s->bev) {
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
	}
	event_active(s->ev_free, EV_TIMEOUT, 0);
}

static void
session_on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	log_debug(s->who, "client did not close within %d s after the summary", SESSION_LINGER_S);
	session_release(s);
}

/*
 * The summary has left our buffer.  Close our side; if the client may still
 * be sending (an aborted import), read and discard until it closes, so that
 * closing with unread input does not reset the connection before the
 * client has read the summary.
 * (TLS, issue 4: the shutdown must become SSL_shutdown through the
 * bufferevent_openssl, not shutdown(2) on the socket.)
 */
static void
session_client_drained(struct session *s)
{
	struct timeval tv = { SESSION_LINGER_S, 0 };

	if (s->client_eof || s->client_gone) {
		session_release(s);
		return;
	}
	if (s->lingering)
		return;
	s->lingering = 1;
	shutdown(bufferevent_getfd(s->bev), SHUT_WR);
	evbuffer_drain(bufferevent_get_input(s->bev),
	               evbuffer_get_length(bufferevent_get_input(s->bev)));
	bufferevent_enable(s->bev, EV_READ);
	s->ev_linger = evtimer_new(s->cfg->base, session_on_linger, s);
	if (s->ev_linger == NULL || evtimer_add(s->ev_linger, &tv) != 0)
		session_release(s);
}

/* Summary written (or refusal): let the output drain, then close. */
static void
session_close_client(struct session *s)
{
	struct timeval tv = { SESSION_WRITE_TIMEOUT_S, 0 };

	session_set_state(s, SESSION_CLOSING);
	if (s->ev_progress)
		event_del(s->ev_progress);
	if (s->client_gone) {
		session_release(s);
		return;
	}
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_client_drained(s);
}

static void
session_on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_CLOSING) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (s->state == SESSION_STREAM)
		session_pump(s);
	/* before STREAM: bytes wait in the input buffer (bounded by its high mark) */
}

static void
session_on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_client_drained(s);
}

static void
session_on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	(void)bev;

	if (what & BEV_EVENT_EOF) {
		s->client_eof = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client closed the connection");
	} else if (what & BEV_EVENT_ERROR) {
		s->client_eof = 1;
		s->client_gone = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client connection was lost (%s)",
		         evutil_socket_error_to_string(err));
	} else if (what & BEV_EVENT_TIMEOUT) {
		s->client_eof = 1;
		s->client_gone = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client stopped reading (timeout)");
	} else {
		return;
	}
	log_debug(s->who, "%s", s->client_why);

	switch (s->state) {
	case SESSION_CLOSING:
		session_release(s);
		return;
	case SESSION_STREAM:
		session_pump(s);
		return;
	case SESSION_FINISH:
	case SESSION_UNLOCK:
		return; /* the ending goes on; the summary is logged */
	default:
		/* before the dump flows: a client that left, or sent nothing */
		if (s->client_gone ||
		    evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
			if (s->state == SESSION_HANDSHAKE)
				session_close_client(s);
			else
				session_fail(s, "%s before sending a dump", s->client_why);
		}
		return;
	}
}

static void
session_on_progress(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char line[512];
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM)
		return;
	report_progress(&s->rep, line, sizeof(line));
	session_say(s, LOG_LEVEL_INFO, "%s", line);
}

/* ---- the data path ---------------------------------------------------- */

/* Decode client input into plain[] (which is empty).  -1: failed. */
static int
session_refill(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v;
	size_t used, produced;
	int r;

	s->plain_start = s->plain_end = 0;
	while (s->plain_end < SESSION_PLAIN_CAP) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		r = decoder_run(&s->dec, v.iov_base, v.iov_len, &used, s->plain + s->plain_end,
		                SESSION_PLAIN_CAP - s->plain_end, &produced);
		evbuffer_drain(in, used);
		s->plain_end += produced;
		if (r < 0) {
			session_fail(s, "the input is not a valid dump: %s (after %llu bytes)",
			             decoder_error(&s->dec), (unsigned long long)s->dec.in_total);
			return -1;
		}
		if (used == 0 && produced == 0)
			break;
	}
	if (s->plain_end > 0)
		s->last_nl = s->plain[s->plain_end - 1] == '\n';
	s->rep.bytes_in = s->dec.in_total;
	s->rep.bytes_plain = s->dec.out_total;
	s->rep.gzip = s->dec.kind == DECODER_GZIP;
	return 0;
}

/* The client's bytes are all in and processed, and no trailer came. */
static void
session_truncated(struct session *s, const char *where, const char *why)
{
	/* the last line received: lx.line is where the next byte would be */
	uint64_t line = s->lx.line > 1 && s->last_nl ? s->lx.line - 1 : s->lx.line;

	session_fail(s,
	             "dump truncated at line %llu, %s: %s before pg_dump's last line "
	             "\"-- PostgreSQL database dump complete\"%s%s\n"
	             "  (was pg_dump or the connection cut? send the whole dump again)",
	             (unsigned long long)line, where, s->client_why, why ? "; " : "",
	             why ? why : "");
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
				if (!s->client_eof || s->trailer)
					return 0;
				/* end of input: is it a clean end? */
				lexer_describe(&s->lx, s->eof_where, sizeof(s->eof_where));
				s->input_done = 1;
				if (decoder_finish(&s->dec) < 0) {
					session_truncated(s, s->eof_where, decoder_error(&s->dec));
					return -1;
				}
				continue;
			}
		}
		r = lexer_scan(&s->lx, s->plain + s->plain_start, s->plain_end - s->plain_start,
		               &used, &s->ev);
		if (r == LEXER_EVENT) {
			s->ev_used = used;
			s->ev_pending = 1;
			return 1;
		}
		if (r == LEXER_ERROR) {
			session_fail(s, "the dump cannot be read at line %llu: %s",
			             (unsigned long long)s->lx.line, lexer_error(&s->lx));
			return -1;
		}
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

/* Forward text (a statement, or a rewrite) as the statement in flight. */
static int
session_forward(struct session *s, const struct lexer_event *ev, const char *text, size_t len,
                int is_copy)
{
	char *p;
	size_t cap;

	if (memchr(text, '\0', len) != NULL) {
		session_fail(s, "statement %llu at line %llu holds a NUL byte, which PostgreSQL "
		             "cannot take (is this a text dump?)",
		             (unsigned long long)s->rep.statements, (unsigned long long)ev->line);
		return -1;
	}
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
	s->cur_no = s->rep.statements;
	s->cur_line = ev->line;
	s->cur_is_copy = is_copy;
	session_excerpt(text, len, s->cur_excerpt, sizeof(s->cur_excerpt));
	if (is_copy)
		report_copy_start(&s->rep, s->lx.copy_table);
	s->rep.sent++;
	s->sent_any = 1;
	return session_send(s, s->sql);
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
			session_fail(s, "statement %llu at line %llu comes after the dump's trailer "
			             "(\"-- PostgreSQL database dump complete\"): two dumps in one stream?",
			             (unsigned long long)s->rep.statements, (unsigned long long)ev->line);
			return -1;
		}
		in_copy = lexer_in_copy(&s->lx);
		rules_apply(&s->rules, ev, &v);
		switch (v.action) {
		case RULES_DROP:
			session_explain(s, ev, &v, "dropped");
			if (in_copy)
				s->skip_copy = 1;
			return 1;
		case RULES_REFUSE:
			session_excerpt(ev->data, ev->len, s->cur_excerpt, sizeof(s->cur_excerpt));
			session_fail(s, "statement %llu at line %llu refused (rule %s): %s\n  statement: %s",
			             (unsigned long long)s->rep.statements, (unsigned long long)ev->line,
			             v.rule ? v.rule : "?", v.reason ? v.reason : "", s->cur_excerpt);
			return -1;
		case RULES_REWRITE:
			session_explain(s, ev, &v, "rewrote");
			/* fall through */
		case RULES_FORWARD:
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
		r = target_put_copy(&s->target, ev->data, ev->len);
		if (r == 1) {
			report_copy_data(&s->rep, ev->data, ev->len);
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
			session_fail(s, "internal error: end of COPY at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		r = target_end_copy(&s->target, NULL);
		if (r == 1)
			return 0;
		if (r < 0) {
			session_fail(s, "%s", target_error(&s->target));
			return -1;
		}
		s->copy_open = 0;
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
			session_excerpt(ev->data, ev->len, s->cur_excerpt, sizeof(s->cur_excerpt));
			session_fail(s, "psql meta-command at line %llu refused (rule %s): %s\n  line: %s",
			             (unsigned long long)ev->line, v.rule ? v.rule : "meta",
			             v.action == RULES_REFUSE && v.reason ? v.reason
			                                              : "pgsluice cannot run meta-commands",
			             s->cur_excerpt);
			return -1;
		}
		return 1;

	case LEXER_TRAILER:
		s->trailer = 1;
		log_info(s->who, "end-of-dump trailer at line %llu", (unsigned long long)ev->line);
		return 1;
	}
	return 1;
}

/* Done with the input after the trailer: commit. */
static void
session_complete(struct session *s)
{
	if (s->ev_progress)
		event_del(s->ev_progress);
	/* session_wind_down commits when there is no error */
	session_wind_down(s);
}

static void
session_pump_once(struct session *s)
{
	int r;

	while (s->state == SESSION_STREAM && s->error == NULL) {
		if (!target_ready(&s->target))
			return; /* the target calls back when it has caught up */
		if (!s->ev_pending) {
			r = session_next_event(s);
			if (r < 0)
				return;
			if (r == 0) {
				if (s->trailer && (s->lexer_done ||
				                   evbuffer_get_length(bufferevent_get_input(s->bev)) == 0))
					session_complete(s);
				return; /* else: wait for the client */
			}
		}
		r = session_handle(s);
		if (r <= 0)
			return;
		s->plain_start += s->ev_used;
		s->ev_pending = 0;
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

static void
session_start_stream(struct session *s)
{
	struct timeval tv;

	s->ropt = s->cfg->rules->opt;
	s->ropt.target_version = PQserverVersion(s->target.conn);
	s->ropt.known_setting = preflight_setting_known;
	s->ropt.known_arg = &s->settings;
	lexer_init(&s->lx, s->cfg->rules->max_statement);
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
	bufferevent_enable(s->bev, EV_READ);
	session_pump(s);
}

/* Preflight 3 is in: cleared, or clear it, or refuse. */
static void
session_after_objects(struct session *s)
{
	const struct preflight_object *fo;
	char *counts, *list, *drops, *sql;
	size_t n;

	counts = preflight_objects_counts(&s->objects);
	if (s->objects.n > 0 && !s->cfg->clear_target) {
		list = preflight_objects_list(&s->objects, PREFLIGHT_LIST_MAX, "  ");
		session_fail(s, "the target is not empty: schema%s %s of database %s hold%s %zu "
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
		session_fail(s, "--clear-target cannot drop %s %s: it is owned by %s, and pgsluice "
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
	}
	free(counts);
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
			srv = session_srv_text(&s->srv);
			session_fail(s, "the preflight query on the target failed: %s", srv ? srv : "?");
			free(srv);
			return;
		}
		if (!s->locked) {
			session_fail(s, "another import into %s is running (the import lock on the "
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
			srv = session_srv_text(&s->srv);
			session_fail(s, "cannot read pg_settings on the target: %s", srv ? srv : "?");
			free(srv);
			return;
		}
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
			srv = session_srv_text(&s->srv);
			session_fail(s, "cannot list the objects in the target schemas: %s", srv ? srv : "?");
			free(srv);
			return;
		}
		session_after_objects(s);
		return;
	case SESSION_BEGIN:
		if (s->srv.set) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "%s on the target failed: %s",
			             s->cleared ? "clearing the target schemas (--clear-target)" : "BEGIN",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		s->in_txn = s->cfg->rules->opt.single_transaction;
		if (s->cleared)
			session_say(s, LOG_LEVEL_INFO, "cleared (--clear-target): dropped %s%s", s->cleared,
			            s->in_txn ? " inside the import's transaction" : "");
		session_start_stream(s);
		return;
	case SESSION_STREAM:
		if (s->srv.set) {
			session_fail_statement(s);
			return;
		}
		if (s->cur_is_copy && s->rep.in_copy) {
			/* a COPY statement that ended without data: cannot happen */
			session_fail(s, "statement %llu at line %llu: the target did not start the COPY",
			             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line);
			return;
		}
		session_pump(s);
		return;
	case SESSION_FINISH:
		if (s->srv.set && s->finish_commit) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "COMMIT failed: %s", srv ? srv : "?");
			free(srv);
		} else if (s->finish_commit) {
			s->committed = 1;
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

	if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
		session_srv_save(s, res);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK: {
		struct preflight_lock l;

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
			log_warn(s->who, "cannot read pg_settings' names; the unknown-setting rule uses "
			         "its built-in table");
		return;
	case SESSION_OBJECTS:
		preflight_objects_free(&s->objects);
		if (preflight_objects_load(&s->objects, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_STREAM:
		tag = PQcmdStatus(res);
		if (s->cur_is_copy && strncmp(tag, "COPY", 4) == 0)
			report_copy_done(&s->rep, strtoull(PQcmdTuples(res), NULL, 10));
		return;
	default:
		return;
	}
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
		session_set_state(s, SESSION_LOCK);
		session_send(s, preflight_sql_lock());
		return;
	case TARGET_EV_RESULT:
		session_on_result(s, res);
		return;
	case TARGET_EV_IDLE:
		session_step_done(s);
		return;
	case TARGET_EV_COPY:
		s->copy_open = 1;
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
		if (s->state == SESSION_CONNECT)
			session_fail(s, "%s\n  check --target, that the server runs, and its "
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
	session_say(arg, LOG_LEVEL_INFO, "%s", line);
}

/* The target is closed: the summary, then close the client. */
static void
session_report(struct session *s)
{
	int single = s->cfg->rules->opt.single_transaction;
	enum log_level lvl;
	char plain[32];

	if (s->state == SESSION_CLOSING)
		return;
	if (s->ev_progress)
		event_del(s->ev_progress);
	report_size(s->rep.bytes_plain, plain, sizeof(plain));
	if (s->error == NULL && s->committed == 0 && !single)
		s->committed = 1; /* autocommit: what was sent is in */
	lvl = s->error ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO;
	if (s->error == NULL) {
		session_say(s, lvl, "OK import into %s %s: %llu statements, %llu rows in %zu tables, "
		            "%s in %.1f s",
		            s->dbname, single ? "committed" : "done (--no-single-transaction: "
		                                               "committed statement by statement)",
		            (unsigned long long)s->rep.statements, (unsigned long long)s->rep.rows,
		            s->rep.n_tables, plain, report_elapsed(&s->rep));
	} else {
		session_say(s, lvl, "ERROR %s", s->error);
		if (!s->sent_any)
			session_say(s, lvl, "  nothing was changed in the target");
		else if (single)
			session_say(s, lvl, "  rolled back: the target is as it was before the import%s",
			            s->cleared ? " (the --clear-target drops too)" : "");
		else
			session_say(s, lvl, "  --no-single-transaction: the statements before the failing "
			            "one were committed; the target holds a partial import");
	}
	if (s->pipeline_live) {
		if (s->cleared)
			session_say(s, LOG_LEVEL_INFO, "  cleared (--clear-target): %s %s", s->cleared,
			            s->committed ? "dropped" : "not dropped (rolled back)");
		report_summary(&s->rep, &s->rules, s->error == NULL, session_emit, s);
	}
	if (!s->ended && s->admitted) {
		s->ended = 1;
		if (s->cfg->on_end)
			s->cfg->on_end(s->cfg->arg, s, s->committed && s->error == NULL);
	}
	session_close_client(s);
}

/* ---- the public side -------------------------------------------------- */

struct session *
session_new(const struct session_config *cfg, struct bufferevent *bev, const char *peer,
            uint64_t id)
{
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
	s->bev = bev;
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
	decoder_init(&s->dec);
	report_init(&s->rep);
	bufferevent_setcb(bev, session_on_read, session_on_write, session_on_client_event, s);
	bufferevent_setwatermark(bev, EV_READ, 0, SESSION_INPUT_HIGH);
	return s;
}

void
session_start(struct session *s)
{
	char msg[512];

	log_info(s->who, "client connected");
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	/* HANDSHAKE: TLS and the AUTH line (issue 4) will run here first */
	if (s->cfg->admit && s->cfg->admit(s->cfg->arg, s, msg, sizeof(msg)) < 0) {
		session_say(s, LOG_LEVEL_WARN, "ERROR %s", msg);
		session_close_client(s);
		return;
	}
	s->admitted = 1;
	session_set_state(s, SESSION_CONNECT);
	if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	                   session_on_target, s, s->who) < 0)
		session_fail(s, "%s\n  check --target, that the server runs, and its pg_hba.conf",
		             target_error(&s->target));
}

void
session_abort(struct session *s, const char *reason)
{
	if (s->state == SESSION_CLOSING || s->state == SESSION_HANDSHAKE)
		return;
	session_fail(s, "%s", reason);
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
