/*
 * front_raw.c - the raw stream front end (front.h): what nc, socat and
 * pgsluice send speak.  An optional "AUTH token" line, an optional
 * "RESULT json" request (answered "READY", then a "RESULT {...}" line at
 * the end), then the dump's bytes, plain or compressed, to the end of the
 * stream; the session's lines go back as text, one per line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "auth.h"
#include "client.h"
#include "decoder.h"
#include "dumpstart.h"
#include "front.h"
#include "jsonout.h"
#include "session_int.h"
#include "tls.h"

static void
front_raw_say(struct session *s, enum pgwire_say kind, const char *fmt, va_list ap)
{
	(void)kind;
	evbuffer_add_vprintf(client_out(&s->cl), fmt, ap);
	evbuffer_add(client_out(&s->cl), "\n", 1);
}

/* The RESULT line of a refusal before any import (session.h). */
static void
front_raw_result_refused(struct session *s, enum session_admission code, const char *msg)
{
	char *line = jsonout_refusal(code == SESSION_REFUSE_BUSY          ? "busy"
	                             : code == SESSION_REFUSE_UNAVAILABLE ? "unavailable"
	                                                                  : "refused",
	                             msg);

	if (line != NULL)
		evbuffer_add_printf(client_out(&s->cl), "RESULT %s\n", line);
	free(line);
}

static void
front_raw_refuse(struct session *s, enum log_level level, enum session_admission code,
                 const char *msg)
{
	session_say(s, level, "ERROR %s", msg);
	if (s->want_result && !s->cl.gone)
		front_raw_result_refused(s, code, msg);
}

/* The ERROR line written at once (the session is freed right after). */
static void
front_raw_evict(struct session *s, const char *reason)
{
	char line[600];
	int n;

	if (s->cl.tls_pending || tls_active(s->cl.bev))
		return;
	n = snprintf(line, sizeof(line), "ERROR %s\n", reason);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!send(bufferevent_getfd(s->cl.bev), line, (size_t)n,
		            MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
front_raw_nothing(struct session *s)
{
	(void)s;
}

static int
front_raw_startup(struct session *s)
{
	(void)s;
	return 1;
}

static enum auth_result
front_raw_auth_peek(struct session *s, char *why, size_t size)
{
	return auth_line(client_in(&s->cl), s->cl.eof, why, size);
}

static enum auth_result
front_raw_auth_check(struct session *s, char *why, size_t size)
{
	return auth_check(s->cfg->auth, client_in(&s->cl), s->cl.eof, why, size);
}

/*
 * After the AUTH step: the "RESULT json" line (session.h).  1: taken or
 * absent, 0: wait for the rest of it.
 */
static int
front_raw_options(struct session *s)
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

static void
front_raw_admitted(struct session *s)
{
	if (s->want_result)
		evbuffer_add(client_out(&s->cl), SESSION_RESULT_READY,
		             strlen(SESSION_RESULT_READY));
	session_predump(s);
}

/*
 * The client's bytes into the pipeline, decoded, up to its room: the
 * input buffer first, then (STREAM, a plain socket) the bulk reads, one
 * read per call.  The rep's byte counts follow.  0, or -1 failed.
 */
static int
front_raw_feed(struct session *s)
{
	struct evbuffer *in = client_in(&s->cl);
	struct evbuffer_iovec v;
	size_t used, room;
	int r, from_raw, tried = 0;

	for (;;) {
		(void)pipeline_room(&s->pipe, &room);
		if (room == 0)
			break;
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
			if (v.iov_len == 0)
				break;
		}
		r = pipeline_feed(&s->pipe, v.iov_base, v.iov_len, &used);
		if (from_raw)
			client_bulk_used(&s->cl, used);
		else
			evbuffer_drain(in, used);
		if (r < 0) {
			session_pipeline_fail(s);
			return -1;
		}
		if (used < v.iov_len)
			break; /* the room is full */
	}
	s->rep.bytes_in = s->pipe.dec.in_total;
	s->rep.bytes_plain = s->pipe.dec.out_total;
	s->rep.compression =
		decoder_compressed(&s->pipe.dec) ? decoder_format_name(s->pipe.dec.kind) : NULL;
	return 0;
}

/*
 * The first decoded bytes go to dumpstart_classify and stay in the
 * pipeline for the lexer.
 */
static void
front_raw_predump(struct session *s)
{
	enum dumpstart_kind k;
	const char *plain;
	size_t len;
	char msg[700];
	int eof;

	if (front_raw_feed(s) < 0)
		return;
	plain = pipeline_plain(&s->pipe, &len);
	eof = s->cl.eof && evbuffer_get_length(client_in(&s->cl)) == 0 &&
	      !decoder_pending(&s->pipe.dec);
	k = dumpstart_classify(plain, len, eof);
	if (k == DUMPSTART_MORE)
		return;
	if (k == DUMPSTART_DUMP) {
		session_begin_import(s);
		return;
	}
	dumpstart_message(k, plain, len, msg, sizeof(msg));
	session_refuse(s, k == DUMPSTART_EMPTY ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, msg);
}

static void
front_raw_connect(struct session *s)
{
	if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	                   session_on_target, s, s->who) < 0)
		session_fail(s, "%s\n  check --target, that the server runs, and its pg_hba.conf",
		             target_error(&s->target));
}

/* A compressed stream ends (and is checked) after the trailer. */
static int
front_raw_input_complete(struct session *s)
{
	return s->pipe.done || (client_pending(&s->cl) == 0 && decoder_clean_end(&s->pipe.dec));
}

static void
front_raw_truncated(struct session *s, const char *where, const char *why)
{
	/* the last line received, not where the next byte would be */
	uint64_t line = pipeline_last_line(&s->pipe);
	const struct decoder *d = &s->pipe.dec;
	int z = decoder_compressed(d);
	char bytes[32];

	snprintf(bytes, sizeof(bytes), "%llu bytes", (unsigned long long)d->out_total);
	session_fail(s,
	             "dump truncated at line %llu, %s: %s before pg_dump's last line "
	             "\"-- PostgreSQL database dump complete\"%s%s\n"
	             "  (%llu bytes received%s%s%s%s%s; was pg_dump or the connection cut? send "
	             "the whole dump again)",
	             (unsigned long long)line, where, s->cl.why, why ? "; " : "", why ? why : "",
	             (unsigned long long)d->in_total, z ? " (" : "",
	             z ? decoder_format_name(d->kind) : "", z ? ", " : "", z ? bytes : "",
	             z ? " of SQL)" : "");
}

static int
front_raw_own_statement(struct session *s, const struct lexer_event *ev, struct rules_verdict *v)
{
	(void)s;
	(void)ev;
	(void)v;
	return 0;
}

static int
front_raw_statement(struct session *s, const struct lexer_event *ev, const struct rules_verdict *v,
                    int in_copy)
{
	(void)s;
	(void)ev;
	(void)v;
	(void)in_copy;
	return 1;
}

static void
front_raw_trailer(struct session *s, const struct lexer_event *ev)
{
	s->trailer = 1;
	log_info(s->who, "end-of-dump trailer at line %llu", (unsigned long long)ev->line);
}

static void
front_raw_server_result(struct session *s, PGresult *res)
{
	(void)s;
	(void)res;
}

static void
front_raw_outcome(struct session *s, json_t *obj)
{
	char *line;

	if (!s->want_result || (line = jsonout_line(obj)) == NULL)
		return;
	evbuffer_add_printf(client_out(&s->cl), "RESULT %s\n", line);
	free(line);
}

static void
front_raw_summary(struct session *s, enum log_level level)
{
	(void)s;
	(void)level;
}

static int
front_raw_after(struct session *s)
{
	(void)s;
	return 1;
}

const struct front_ops front_raw = {
	.name = "raw stream",
	.awaited = "no complete AUTH line",
	.bulk_reads = 1,
	.may_jobs = 1,
	.probes_peer = 1,
	.eof_abandons = 0,
	.keeps_event_text = 1,
	.plain_sql = 0,
	.ends_at_trailer = 1,
	.say = front_raw_say,
	.refuse = front_raw_refuse,
	.evict = front_raw_evict,
	.free = front_raw_nothing,
	.tls_started = front_raw_nothing,
	.startup = front_raw_startup,
	.auth_peek = front_raw_auth_peek,
	.auth_check = front_raw_auth_check,
	.options = front_raw_options,
	.admitted = front_raw_admitted,
	.connected = front_raw_nothing,
	.predump = front_raw_predump,
	.connect = front_raw_connect,
	.refill = front_raw_feed,
	.input_complete = front_raw_input_complete,
	.truncated = front_raw_truncated,
	.own_statement = front_raw_own_statement,
	.statement = front_raw_statement,
	.trailer = front_raw_trailer,
	.server_result = front_raw_server_result,
	.copy_in = front_raw_nothing,
	.outcome = front_raw_outcome,
	.summary = front_raw_summary,
	.after = front_raw_after,
	.after_input = session_close_client,
};
