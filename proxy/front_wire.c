/*
 * front_wire.c - the PostgreSQL-protocol front end (front.h) over pgwire.h:
 * psql and pg_restore.  The startup packets and SCRAM with the token in
 * place of the AUTH line, the queries before the dump answered by pgwire,
 * Query text and COPY data as the dump's text, the client's own BEGIN and
 * COMMIT (its COMMIT ends the import), the target's results relayed, and
 * the outcome as an ErrorResponse or CommandComplete, answered on until
 * the client's Terminate (state AFTER).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "auth.h"
#include "client.h"
#include "front.h"
#include "pgwire.h"
#include "session_int.h"
#include "text.h"

int
front_wire_begin(struct session *s)
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
	s->front = &front_wire;
	/* its Query text and CopyData are SQL as they are: never decompressed */
	pipeline_free(&s->pipe);
	if (session_pipeline_init(s) < 0) {
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

/* The startup packets (and an SSLRequest's TLS).  1 / 0 / -1. */
static int
front_wire_startup(struct session *s)
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

/* Query text and COPY data from pgwire, written into the pipeline's room. */
static int
front_wire_refill(struct session *s)
{
	size_t cap, produced = 0;
	char *room = pipeline_room(&s->pipe, &cap);
	enum pgwire_input r;

	r = pgwire_refill(s->wire, client_in(&s->cl), client_out(&s->cl), &s->pipe.lx, room, cap,
	                  &produced);
	pipeline_fed(&s->pipe, produced);
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
front_wire_statement(struct session *s, const struct lexer_event *ev, const struct rules_verdict *v,
                     int in_copy)
{
	char why[640];

	switch (pgwire_statement(s->wire, client_out(&s->cl), ev, v, in_copy, why, sizeof(why))) {
	case PGWIRE_ST_GO:
		return 1;
	case PGWIRE_ST_END:
		log_info(s->who, "the client's COMMIT ends the import: committing");
		s->trailer = 1;
		pipeline_ended(&s->pipe);
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
front_wire_after(struct session *s)
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

static void
front_wire_say(struct session *s, enum pgwire_say kind, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	pgwire_say(s->wire, client_out(&s->cl), kind, line);
}

/* An ErrorResponse with the SQLSTATE of the refusal (or only the log, if gone). */
static void
front_wire_refuse(struct session *s, enum log_level level, enum session_admission code,
                  const char *msg)
{
	enum pgwire_refusal why;

	if (s->cl.gone) {
		session_say(s, level, "ERROR %s", msg);
		return;
	}
	log_msg(level, s->who, "ERROR %s", msg);
	why = code == SESSION_REFUSE_BUSY          ? PGWIRE_REFUSE_BUSY
	      : code == SESSION_REFUSE_UNAVAILABLE ? PGWIRE_REFUSE_UNAVAILABLE
	      : s->state == SESSION_PREDUMP        ? pgwire_refusal(s->wire)
	                                           : PGWIRE_REFUSE_DEFAULT;
	pgwire_refuse(s->wire, client_out(&s->cl), why, msg);
}

static void
front_wire_evict(struct session *s, const char *reason)
{
	(void)s;
	(void)reason;
}

static void
front_wire_free(struct session *s)
{
	pgwire_free(s->wire);
	s->wire = NULL;
}

static void
front_wire_tls_started(struct session *s)
{
	pgwire_tls_started(s->wire);
}

static enum auth_result
front_wire_auth_peek(struct session *s, char *why, size_t size)
{
	(void)s;
	(void)why;
	(void)size;
	return AUTH_OK; /* each SCRAM message is taken whole by pgwire_auth */
}

static enum auth_result
front_wire_auth_check(struct session *s, char *why, size_t size)
{
	return pgwire_auth(s->wire, client_in(&s->cl), client_out(&s->cl), why, size);
}

static int
front_wire_options(struct session *s)
{
	(void)s;
	return 1;
}

/* Its startup is answered with the target's parameters: connect, run nothing. */
static void
front_wire_admitted(struct session *s)
{
	if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	                   session_on_target, s, s->who) < 0)
		session_fail(s, "%s\n  check --target, that the server runs, and its pg_hba.conf",
		             target_error(&s->target));
}

/* ReadyForQuery, with the target's ParameterStatus. */
static void
front_wire_connected(struct session *s)
{
	pgwire_ready(s->wire, client_out(&s->cl), s->target.conn);
}

/* The queries before the dump's first statement, answered by pgwire. */
static void
front_wire_predump(struct session *s)
{
	if (s->target.state == TARGET_CONNECTING)
		return; /* ReadyForQuery comes with the target's parameters */
	switch (pgwire_predump(s->wire, client_in(&s->cl), client_out(&s->cl))) {
	case PGWIRE_PRE_WAIT:
		if (s->cl.eof) {
			log_info(s->who, "%s before sending a dump: nothing was done", s->cl.why);
			target_close(&s->target);
			session_close_client(s);
		}
		return;
	case PGWIRE_PRE_DUMP:
		session_begin_import(s);
		return;
	case PGWIRE_PRE_CLOSE:
		log_info(s->who, "the client ended its session (Terminate) before sending a dump: "
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
}

/* The target connection is open already (admitted). */
static void
front_wire_connect(struct session *s)
{
	session_preflight_start(s);
}

/* The trailer is no end here: the client's COMMIT is (front_wire_statement). */
static int
front_wire_input_complete(struct session *s)
{
	(void)s;
	return 1;
}

static void
front_wire_truncated(struct session *s, const char *where, const char *why)
{
	(void)why;
	session_fail(s,
	             "the PostgreSQL client's connection ended without a Terminate "
	             "message (%s, %s): the import is incomplete",
	             s->cl.why, where);
}

/* BEGIN, COMMIT and the like of the client's own: pgwire answers them. */
static int
front_wire_own_statement(struct session *s, const struct lexer_event *ev, struct rules_verdict *v)
{
	(void)s;
	if (!pgwire_client_query(ev))
		return 0;
	memset(v, 0, sizeof(*v));
	v->action = RULES_FORWARD;
	v->text = ev->data;
	v->len = ev->len;
	return 1;
}

/* pg_restore sends it; the client's COMMIT ends the import. */
static void
front_wire_trailer(struct session *s, const struct lexer_event *ev)
{
	(void)ev;
	s->wire_trailer = 1;
}

static void
front_wire_server_result(struct session *s, PGresult *res)
{
	pgwire_result(s->wire, client_out(&s->cl), res);
}

static void
front_wire_copy_in(struct session *s)
{
	pgwire_copy_in(s->wire, client_out(&s->cl));
}

static void
front_wire_outcome(struct session *s, json_t *obj)
{
	(void)s;
	(void)obj;
}

static void
front_wire_summary(struct session *s, enum log_level level)
{
	if (!s->wire_trailer)
		session_sum(s, level,
		            "  the client's COMMIT ended the import: pg_dump's last line "
		            "(\"-- PostgreSQL database dump complete\") does not come over this "
		            "path (psql drops comments), so a file cut short at a statement "
		            "boundary would not be noticed; compare the counts with the source, "
		            "or send the file with pgsluice send, which checks it");
}

/* The answers after the outcome, until Terminate. */
static void
front_wire_after_input(struct session *s)
{
	if (pgwire_after_read(s->wire, client_in(&s->cl), client_out(&s->cl)) == 0)
		session_close_client(s);
}

const struct front_ops front_wire = {
	.name = "PostgreSQL protocol",
	.awaited = "no complete PostgreSQL startup and authentication",
	.bulk_reads = 0,
	.may_jobs = 0,
	.probes_peer = 0,
	.eof_abandons = 1,
	.keeps_event_text = 0,
	.plain_sql = 1,
	.ends_at_trailer = 0,
	.say = front_wire_say,
	.refuse = front_wire_refuse,
	.evict = front_wire_evict,
	.free = front_wire_free,
	.tls_started = front_wire_tls_started,
	.startup = front_wire_startup,
	.auth_peek = front_wire_auth_peek,
	.auth_check = front_wire_auth_check,
	.options = front_wire_options,
	.admitted = front_wire_admitted,
	.connected = front_wire_connected,
	.predump = front_wire_predump,
	.connect = front_wire_connect,
	.refill = front_wire_refill,
	.input_complete = front_wire_input_complete,
	.truncated = front_wire_truncated,
	.own_statement = front_wire_own_statement,
	.statement = front_wire_statement,
	.trailer = front_wire_trailer,
	.server_result = front_wire_server_result,
	.copy_in = front_wire_copy_in,
	.outcome = front_wire_outcome,
	.summary = front_wire_summary,
	.after = front_wire_after,
	.after_input = front_wire_after_input,
};
