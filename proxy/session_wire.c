/*
 * session_wire.c - a session's PostgreSQL-protocol glue (pgwire.h): the
 * wire client's front end and startup, its input as dump text, the
 * statement hook and what follows the dump.
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

/* A wire client: its front end, and the handshake's time limit. */
int
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

/* HANDSHAKE of a wire client: the startup packets.  1: done, 0: wait, -1: ended. */
int
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
int
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
int
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
int
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
