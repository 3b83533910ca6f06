/*
 * session_handshake.c - a session's handshake and admission: the first
 * byte (raw stream or PostgreSQL client, TLS or not), the TLS takeover,
 * the AUTH line and its hold while another attempt runs, the header
 * timeout, refusals, and the step from admitted client to import
 * (session_begin_import, session_predump).
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

static void session_refuse_code(struct session *s, enum log_level level,
                                enum session_admission code, const char *msg);

/*
 * Go on over TLS on the same socket (client_take_tls).  answer_s: write
 * the 'S' that accepts an SSLRequest first.
 */
void
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
	s->front->tls_started(s);
}

/*
 * TLS port: the first byte, peeked.  0x00: a wire client in plaintext;
 * 0x16 (a TLS handshake record): TLS; anything else: a plaintext raw
 * client, told in plaintext to use TLS.
 */
void
session_on_presniff(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	unsigned char c;
	ssize_t n;
	(void)what;

	if (s->released || s->state != SESSION_HANDSHAKE || s->step != SESSION_STEP_PEEK)
		return;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(s->ev_sniff, NULL);
		return;
	}
	/* the byte decides it all: a TLS raw stream is not sniffed again */
	session_set_step(s, SESSION_STEP_STARTUP);
	if (n == 1 && c == 0x00) {
		s->cl.tls_pending = 0;
		if (front_wire_begin(s) < 0)
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

	if (s->released || s->state != SESSION_HANDSHAKE || s->step != SESSION_STEP_SNIFF)
		return;
	/* silent: a raw stream whose sender is slow to start (pg_dump) */
	session_set_step(s, SESSION_STEP_STARTUP);
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
		if (s->cl.eof)
			return 1;
		if (s->cfg->auth != NULL || s->ev_sniff != NULL)
			return 0;
		s->ev_sniff = evtimer_new(s->cfg->base, session_on_sniff_grace, s);
		if (s->ev_sniff == NULL || evtimer_add(s->ev_sniff, &tv) != 0)
			return 1;
		return 0;
	}
	if (s->ev_sniff != NULL)
		event_del(s->ev_sniff);
	return c == 0x00 ? front_wire_begin(s) : 1;
}

void
session_note_refused_peer(struct session *running)
{
	running->peer_refused = 1;
}

/*
 * Refused before the import began: one ERROR line, logged at level (and to
 * the client when it has a channel to read it on), then close.  Nothing
 * reached the target.
 */
void
session_refuse(struct session *s, enum log_level level, const char *msg)
{
	session_refuse_code(s, level, SESSION_ADMIT, msg);
}

/* session_refuse, for an admission refusal: code says which (SESSION_ADMIT: none). */
static void
session_refuse_code(struct session *s, enum log_level level, enum session_admission code,
                    const char *msg)
{
	if (s->cl.tls_pending)
		s->cl.gone = 1; /* no TLS channel yet to write on */
	s->front->refuse(s, level, code, msg);
	session_close_client(s);
}

void
session_on_header_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char msg[160];
	(void)fd;
	(void)what;

	if (s->state != SESSION_HANDSHAKE)
		return;
	snprintf(msg, sizeof(msg), "%s within %d s of connecting (--header-timeout)",
	         s->cl.tls_pending ? "no TLS handshake" : s->front->awaited,
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
	struct timeval tv = { 0, 0 };
	enum auth_result r;
	char why[600];
	double wait;
	int n;

	if (s->ev_auth != NULL && evtimer_pending(s->ev_auth, NULL))
		return 0; /* held */
	r = s->front->auth_peek(s, why, sizeof(why));
	if (r == AUTH_MORE)
		return 0;
	if (r == AUTH_FAIL) {
		/* no token to guess: answered at once, costs no credit */
		log_warn(s->who, "AUTH failed from %s: %s", s->peer_host, why);
		session_refuse(s, LOG_LEVEL_DEBUG, why);
		return -1;
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
	switch (s->front->auth_check(s, why, sizeof(why))) {
	case AUTH_MORE:
		return 0;
	case AUTH_OK:
		auth_record(s->cfg->auth, s->peer_host, 1);
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
 * HANDSHAKE, step by step (enum session_step): the first byte, the front
 * end's startup, the AUTH line or SCRAM when a token is configured, the
 * RESULT request, then the daemon's admission and PREDUMP.  TLS, when it
 * runs (bufferevent_openssl; BEV_EVENT_CONNECTED ends it), holds the step
 * it came in.  Called again on each event; does nothing outside
 * HANDSHAKE.
 */
void
session_handshake(struct session *s)
{
	enum session_admission code;
	char msg[512];

	if (s->state != SESSION_HANDSHAKE || s->cl.tls_pending)
		return;
	if (s->step == SESSION_STEP_SNIFF) {
		if (session_sniff(s) <= 0)
			return;
		session_set_step(s, SESSION_STEP_STARTUP);
	}
	if (s->step == SESSION_STEP_STARTUP) {
		if (s->front->startup(s) <= 0)
			return;
		session_set_step(s, SESSION_STEP_AUTH);
	}
	if (s->cl.eof && evbuffer_get_length(client_in(&s->cl)) == 0) {
		session_refuse(s, LOG_LEVEL_INFO,
		               "the client closed the connection before "
		               "sending a dump\n  nothing was changed in the target");
		return;
	}
	if (s->step == SESSION_STEP_AUTH) {
		if (s->cfg->auth != NULL && session_auth(s) <= 0)
			return;
		session_set_step(s, SESSION_STEP_OPTIONS);
	}
	if (s->front->options(s) == 0)
		return;
	session_set_step(s, SESSION_STEP_ADMIT);
	if (s->ev_header)
		event_del(s->ev_header);
	/* could an import start now?  (nothing is taken before a dump is seen) */
	code = s->cfg->admit ? s->cfg->admit(s->cfg->arg, s, 0, msg, sizeof(msg)) : SESSION_ADMIT;
	if (code != SESSION_ADMIT) {
		session_refuse_code(s, LOG_LEVEL_WARN, code, msg);
		return;
	}
	session_set_state(s, SESSION_PREDUMP);
	if (s->cfg->idle_timeout > 0) {
		struct timeval tv = { s->cfg->idle_timeout, 0 };

		if (s->ev_idle == NULL)
			s->ev_idle = evtimer_new(s->cfg->base, session_on_idle, s);
		if (s->ev_idle != NULL)
			evtimer_add(s->ev_idle, &tv);
	}
	s->front->admitted(s);
}

/*
 * The first bytes are a dump's: take the daemon's slot (--once counts it),
 * then the preflight on a target connection (a wire client's is open).
 */
void
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
	s->front->connect(s);
}

/*
 * PREDUMP: is this a dump?  The front end looks at the first bytes (a raw
 * stream's decoded bytes, a wire client's messages).  Called on each
 * client event until decided.
 */
void
session_predump(struct session *s)
{
	if (s->state == SESSION_PREDUMP)
		s->front->predump(s);
}
