/*
 * pgwire_start.c - the start of a PostgreSQL-protocol connection: the
 * startup packet, SSLRequest/GSSENCRequest/CancelRequest, the SCRAM
 * exchange with the token as the password, and the refusals before the
 * dump.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "classify.h"
#include "log.h"
#include "pgwire.h"
#include "scram.h"
#include "sqltok.h"
#include "pgwire_int.h"

/* ---- startup ---------------------------------------------------------- */

static int
pgwire_parse_startup(struct pgwire *w, const unsigned char *body, size_t len, struct evbuffer *out)
{
	const char *p = (const char *)body, *end = (const char *)body + len;
	struct textbuf unknown = { 0 };
	int n = 0, n_unknown = 0, minor;
	char **v;
	size_t i;

	minor = (int)(pgwire_get32(body - 4) & 0xffff);
	/* count the strings first: name\0value\0 ... \0 */
	for (i = 0; p < end && *p; i++) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		if (z == NULL)
			return pgwire_fail(w, 1,
			                   "invalid startup packet layout: a string is not "
			                   "terminated");
		p = z + 1;
		n++;
	}
	if (p >= end || n % 2 != 0)
		return pgwire_fail(w, 1,
		                   "invalid startup packet layout: expected a terminator "
		                   "as the last byte");
	v = calloc((size_t)n + 2, sizeof(*v));
	if (v == NULL)
		return pgwire_fail(w, 1, "out of memory");
	w->params = v;
	for (p = (const char *)body, i = 0; i < (size_t)n; i++) {
		v[i] = strdup(p);
		if (v[i] == NULL)
			return pgwire_fail(w, 1, "out of memory");
		p += strlen(p) + 1;
	}
	for (i = 0; i + 1 < (size_t)n; i += 2) {
		if (strncmp(v[i], "_pq_.", 5) == 0) {
			pgwire_puts(&unknown, v[i]);
			n_unknown++;
		}
	}
	if (minor > 0 || n_unknown > 0) {
		/* NegotiateProtocolVersion: we speak 3.0 */
		pgwire_put32(&w->mb, 3u << 16);
		pgwire_put32(&w->mb, (uint32_t)n_unknown);
		if (unknown.len > 0)
			pgwire_put(&w->mb, unknown.p, unknown.len);
		pgwire_send(w, out, 'v');
	}
	free(unknown.p);
	p = pgwire_param(w, "replication");
	if (p != NULL && strcmp(p, "false") != 0 && strcmp(p, "0") != 0 && strcmp(p, "off") != 0 &&
	    strcmp(p, "no") != 0)
		return pgwire_fail(w, 0,
		                   "replication connections are not supported: pgsluice "
		                   "imports dumps");
	return 0;
}

enum pgwire_startup_result
pgwire_startup(struct pgwire *w, struct evbuffer *in, struct evbuffer *out, int eof)
{
	unsigned char h[8], *body;
	uint32_t len, code;

	for (;;) {
		if (w->phase != PW_STARTUP)
			return PGWIRE_START_DONE;
		if (evbuffer_copyout(in, h, 8) < 8) {
			if (eof) {
				pgwire_fail(w, 1, "incomplete startup packet");
				return PGWIRE_START_FAIL;
			}
			return PGWIRE_START_WAIT;
		}
		len = pgwire_get32(h);
		code = pgwire_get32(h + 4);
		if (len < 8 || len > PGWIRE_STARTUP_MAX) {
			pgwire_fail(w, 1, "invalid length of startup packet (%u bytes)", len);
			return PGWIRE_START_FAIL;
		}
		if (evbuffer_get_length(in) < len) {
			if (eof) {
				pgwire_fail(w, 1, "incomplete startup packet");
				return PGWIRE_START_FAIL;
			}
			return PGWIRE_START_WAIT;
		}
		w->bytes += len;
		if (code == PGWIRE_SSL_CODE && len == 8) {
			evbuffer_drain(in, 8);
			if (w->cfg.tls_available && !w->in_tls) {
				if (evbuffer_get_length(in) > 0) {
					/* bytes sent before the answer: never from a real client */
					pgwire_fail(w, 1,
					            "received unencrypted data after SSL request");
					return PGWIRE_START_FAIL;
				}
				return PGWIRE_START_TLS;
			}
			evbuffer_add(out, "N", 1);
			continue;
		}
		if (code == PGWIRE_GSS_CODE && len == 8) {
			evbuffer_drain(in, 8);
			evbuffer_add(out, "N", 1);
			continue;
		}
		if (code == PGWIRE_CANCEL_CODE && len == 16) {
			evbuffer_drain(in, 16);
			log_info(w->cfg.who, "a CancelRequest: closed (pgsluice does not cancel "
			                     "statements on a client's request)");
			return PGWIRE_START_CLOSE;
		}
		if ((code >> 16) != 3) {
			pgwire_fail(w, 1,
			            "unsupported frontend protocol %u.%u: pgsluice speaks 3.0",
			            code >> 16, code & 0xffff);
			return PGWIRE_START_FAIL;
		}
		if (w->cfg.tls_required && !w->in_tls) {
			pgwire_fail(w, 0,
			            "pgsluice takes PostgreSQL clients over TLS only on this "
			            "port\n  connect with sslmode=require (or verify-full with the "
			            "daemon's certificate as sslrootcert)");
			return PGWIRE_START_FAIL;
		}
		body = malloc(len);
		if (body == NULL) {
			pgwire_fail(w, 1, "out of memory");
			return PGWIRE_START_FAIL;
		}
		evbuffer_remove(in, body, len);
		if (pgwire_parse_startup(w, body + 8, len - 8, out) < 0) {
			free(body);
			return PGWIRE_START_FAIL;
		}
		free(body);
		log_info(w->cfg.who, "PostgreSQL client: user %s, database %s, application %s%s",
		         pgwire_param(w, "user") ? pgwire_param(w, "user") : "?",
		         pgwire_param(w, "database") ? pgwire_param(w, "database") : "(default)",
		         pgwire_param(w, "application_name") ? pgwire_param(w, "application_name")
		                                             : "-",
		         w->in_tls ? ", over TLS" : "");
		if (w->cfg.scram != NULL) {
			w->phase = PW_AUTH;
		} else {
			pgwire_put32(&w->mb, 0);
			pgwire_send(w, out, 'R'); /* AuthenticationOk */
			w->phase = PW_WAITING;
		}
		return PGWIRE_START_DONE;
	}
}

void
pgwire_tls_started(struct pgwire *w)
{
	w->in_tls = 1;
}

/*
 * A whole small message of type want from in: 1 with *body (malloc'd) and
 * *len, 0 when incomplete, -1 on a protocol error.
 */
int
pgwire_take(struct pgwire *w, struct evbuffer *in, char want, unsigned char **body, size_t *len)
{
	unsigned char h[5];
	uint32_t n;

	if (evbuffer_copyout(in, h, 5) < 5)
		return 0;
	n = pgwire_get32(h + 1);
	if (h[0] != (unsigned char)want)
		return pgwire_fail(w, 1, "expected message '%c', got '%c'", want,
		                   h[0] >= 0x20 && h[0] < 0x7f ? h[0] : '?');
	if (n < 4 || n > PGWIRE_SMALL_MAX)
		return pgwire_fail(w, 1, "invalid message length %u", n);
	if (evbuffer_get_length(in) < (size_t)n + 1)
		return 0;
	evbuffer_drain(in, 5);
	*len = n - 4;
	*body = malloc(*len + 1);
	if (*body == NULL)
		return pgwire_fail(w, 1, "out of memory");
	evbuffer_remove(in, *body, *len);
	(*body)[*len] = '\0';
	w->bytes += n + 1;
	return 1;
}

/* pgwire_take gave no message: 0, wait for more; -1, the protocol error. */
static enum auth_result
pgwire_auth_wait(struct pgwire *w, int r, char *why, size_t size)
{
	if (r == 0)
		return AUTH_MORE;
	snprintf(why, size, "%s", w->error);
	return AUTH_FAIL;
}

enum auth_result
pgwire_auth(struct pgwire *w, struct evbuffer *in, struct evbuffer *out, char *why, size_t size)
{
	unsigned char *body = NULL;
	const char *reply;
	size_t len, mlen;
	uint32_t dlen;
	int r;

	if (w->phase != PW_AUTH)
		return AUTH_OK;
	switch (w->auth_step) {
	case 0:
		scram_begin(&w->sc, w->cfg.scram);
		pgwire_put32(&w->mb, 10); /* AuthenticationSASL */
		pgwire_puts(&w->mb, "SCRAM-SHA-256");
		pgwire_put(&w->mb, "", 1);
		pgwire_send(w, out, 'R');
		w->auth_step = 1;
		return AUTH_MORE;
	case 1:
		r = pgwire_take(w, in, 'p', &body, &len);
		if (r <= 0)
			return pgwire_auth_wait(w, r, why, size);
		mlen = strnlen((char *)body, len);
		if (mlen == len || strcmp((char *)body, "SCRAM-SHA-256") != 0) {
			snprintf(why, size, "the client did not choose SCRAM-SHA-256");
			free(body);
			return AUTH_FAIL;
		}
		if (len - mlen - 1 < 4) {
			snprintf(why, size, "malformed SASLInitialResponse");
			free(body);
			return AUTH_FAIL;
		}
		dlen = pgwire_get32(body + mlen + 1);
		if ((size_t)dlen != len - mlen - 5) {
			snprintf(why, size, "malformed SASLInitialResponse");
			free(body);
			return AUTH_FAIL;
		}
		r = scram_client_first(&w->sc, (char *)body + mlen + 5, dlen, &reply, why, size);
		free(body);
		if (r < 0)
			return AUTH_FAIL;
		pgwire_put32(&w->mb, 11); /* AuthenticationSASLContinue */
		pgwire_put(&w->mb, reply, strlen(reply));
		pgwire_send(w, out, 'R');
		w->auth_step = 2;
		return AUTH_MORE;
	default:
		r = pgwire_take(w, in, 'p', &body, &len);
		if (r <= 0)
			return pgwire_auth_wait(w, r, why, size);
		r = scram_client_final(&w->sc, (char *)body, len, &reply, why, size);
		free(body);
		if (r == 0)
			snprintf(why, size,
			         "password authentication failed for user \"%s\": the "
			         "password must be the daemon's token (--token-file)",
			         pgwire_param(w, "user") ? pgwire_param(w, "user") : "");
		if (r <= 0)
			return AUTH_FAIL;
		pgwire_put32(&w->mb, 12); /* AuthenticationSASLFinal */
		pgwire_put(&w->mb, reply, strlen(reply));
		pgwire_send(w, out, 'R');
		pgwire_put32(&w->mb, 0); /* AuthenticationOk */
		pgwire_send(w, out, 'R');
		scram_end(&w->sc);
		w->phase = PW_WAITING;
		return AUTH_OK;
	}
}

void
pgwire_refuse(struct pgwire *w, struct evbuffer *out, enum pgwire_refusal why, const char *msg)
{
	const char *code, *hint = NULL;

	switch (why) {
	case PGWIRE_REFUSE_BUSY:
		code = "53300"; /* too_many_connections */
		hint = "pgsluice takes one import at a time, over one connection; a dump made with "
		       "pg_dump -C runs \\connect, which opens a second connection: make the dump "
		       "without -C (or send it with pgsluice send)";
		break;
	case PGWIRE_REFUSE_UNAVAILABLE:
		code = "57P03"; /* cannot_connect_now */
		break;
	case PGWIRE_REFUSE_PROTOCOL:
		code = "08P01"; /* protocol_violation */
		break;
	case PGWIRE_REFUSE_NOT_SINGLE:
	case PGWIRE_REFUSE_NOT_DUMP:
		code = "0A000"; /* feature_not_supported */
		break;
	case PGWIRE_REFUSE_DEFAULT:
	default:
		code = w->phase == PW_AUTH ? "28P01" : w->phase == PW_STARTUP ? "08P01" : "57P03";
		break;
	}
	pgwire_report(w, out, 'E', "FATAL", code, msg, NULL, hint, NULL);
}

enum pgwire_refusal
pgwire_refusal(const struct pgwire *w)
{
	return w->refusal;
}

/* The refusal of a dump sent outside a transaction (psql without -1). */
void
pgwire_single_message(struct pgwire *w, char *why, size_t size)
{
	const char *app = pgwire_param(w, "application_name");
	int restore = app != NULL && strcmp(app, "pg_restore") == 0;

	snprintf(why, size,
	         "the dump's statements come outside a transaction: pgsluice imports a "
	         "dump as one transaction that ends at the client's COMMIT, and a client that "
	         "does not wrap the dump in BEGIN ... COMMIT cannot be told from one cut short\n"
	         "  %s\n  nothing was changed in the target",
	         restore ? "run pg_restore with --single-transaction (-1), and without -j "
	                   "(parallel restore: pgsluice imports over one connection)"
	                 : "psql: add -1 (--single-transaction): psql -1 -v ON_ERROR_STOP=1 -f "
	                   "dump.sql; pg_restore: add --single-transaction (-1)");
}
