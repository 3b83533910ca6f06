/*
 * pgwire.c - the PostgreSQL wire protocol front end of an import
 * (pgwire.h).
 *
 * The message reader works on the session's input evbuffer and never
 * holds a Query or a CopyData whole: their bodies stream into the buffer
 * the lexer reads (pgwire_refill), so memory stays bounded as for a raw
 * stream.  Other messages are small (PGWIRE_SMALL_MAX) and read whole.
 *
 * The phases of the stream (enum pgwire_phase), from ReadyForQuery on:
 *
 *   READY      between messages: read the next one
 *   QUERY      a Query's text streams to the lexer (body_left bytes left)
 *   QTAIL1     the text is in: "\n" to the lexer (ends a -- comment, the
 *              line of a COPY ... FROM stdin;)
 *   QTAIL2     ";" if a statement without its ';' is still open
 *   QDONE      every statement is answered: ReadyForQuery, or copy-in
 *   COPY       between CopyData messages
 *   COPYDATA   a CopyData's bytes stream to the lexer
 *   FCALL      a FunctionCall (libpq's lo_open/lowrite/lo_close, as pg_restore
 *              restores large objects) streams to the lexer as the SELECT
 *              that does the same; its row is answered as FunctionCallResponse
 *   CTAIL      CopyDone: "\." to the lexer if the data did not end with it
 *   CDONE      the COPY's result is answered: ReadyForQuery
 *   ENDING     Terminate, or the COMMIT that ends the import: no more input
 *
 * Before the dump (pgwire_predump) the phase is READY, with the messages
 * answered there and never handed to the lexer.
 *   AFTER      the import has ended; pgwire_after_read answers
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

#define PGWIRE_SSL_CODE 80877103
#define PGWIRE_GSS_CODE 80877104
#define PGWIRE_CANCEL_CODE 80877102
#define PGWIRE_SUMMARY_MAX (16 * 1024)
#define PGWIRE_NOTICE_MAX 200 /* notices for dropped statements, then one line in the log */

enum pgwire_phase {
	PW_STARTUP,
	PW_AUTH,
	PW_WAITING,
	PW_READY,
	PW_QUERY,
	PW_QTAIL1,
	PW_QTAIL2,
	PW_QDONE,
	PW_COPY,
	PW_COPYDATA,
	PW_FCALL,
	PW_CTAIL,
	PW_CDONE,
	PW_ENDING,
	PW_AFTER,
};

struct pgwire_buf {
	char *p;
	size_t len, cap;
	int oom;
};

struct pgwire {
	struct pgwire_config cfg;
	enum pgwire_phase phase;
	int in_tls;
	char **params; /* name, value, name, value, ..., NULL */
	int auth_step; /* 0: send the SASL request, 1: first, 2: final */
	struct scram sc;
	uint32_t key_pid, key_secret;
	struct pgwire_buf mb; /* the message being built */
	char error[1024];
	int fatal;
	enum pgwire_refusal refusal; /* what pgwire_predump or the rule of -1 refused */

	/* the stream */
	uint64_t bytes;
	uint32_t body_left; /* QUERY / COPYDATA: body bytes still to read */
	int n_statements;   /* statements of the current Query answered or sent */
	int copy_active;    /* CopyInResponse sent, CopyDone/CopyFail not yet read */
	int copy_any;       /* the COPY had data */
	char copy_last;     /* its last byte */
	int depth;          /* the client's BEGINs open (the dump's own
	                            * BEGIN/COMMIT pairs nest inside psql -1's) */
	int wrap;           /* the outermost BEGIN came before any statement of the
	                            * dump: its COMMIT ends the import */
	int pre_failed;     /* before the dump: a refused query inside the BEGIN */
	int pre_pending;    /* the dump's first Query is not read yet */
	int in_recovery;    /* the target reported in_hot_standby = on */
	char *fcall;        /* FCALL: the SELECT a FunctionCall stands for */
	size_t fcall_len, fcall_off;
	int fcall_active; /* its result is a FunctionCallResponse */
	int data_seen;    /* a statement other than SET/set_config was forwarded */
	int wrap_commit;  /* the import ends at the client's COMMIT */
	int terminated;   /* Terminate came */
	int rolled_back;  /* the client sent ROLLBACK */
	int notices;      /* NoticeResponses for dropped statements so far */
	char *field[128]; /* the target's error fields, by code */
	int have_error;
	char summary[PGWIRE_SUMMARY_MAX];
	size_t summary_len;
	int summary_on;

	/* after the import */
	int committed;
	char *after_error;
	uint32_t skip;      /* body bytes to drain */
	int skip_copy;      /* drain CopyData until CopyDone/CopyFail */
	int skip_sync;      /* drain until Sync */
	int rfq_after_skip; /* ReadyForQuery once the skip is done */
};

/* ---- message building ------------------------------------------------- */

static void
pgwire_put(struct pgwire_buf *b, const void *data, size_t len)
{
	char *p;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + len > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
pgwire_put32(struct pgwire_buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		               (unsigned char)(v >> 8), (unsigned char)v };

	pgwire_put(b, c, 4);
}

static void
pgwire_put16(struct pgwire_buf *b, uint16_t v)
{
	unsigned char c[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	pgwire_put(b, c, 2);
}

static void
pgwire_puts(struct pgwire_buf *b, const char *s)
{
	pgwire_put(b, s, strlen(s) + 1);
}

/* Write the message built in w->mb as type to out; reset w->mb. */
static void
pgwire_send(struct pgwire *w, struct evbuffer *out, char type)
{
	unsigned char h[5];
	uint32_t n = (uint32_t)w->mb.len + 4;

	if (w->mb.oom) {
		log_error(w->cfg.who, "out of memory building a protocol message");
		w->mb.oom = 0;
		w->mb.len = 0;
		return;
	}
	h[0] = (unsigned char)type;
	h[1] = (unsigned char)(n >> 24);
	h[2] = (unsigned char)(n >> 16);
	h[3] = (unsigned char)(n >> 8);
	h[4] = (unsigned char)n;
	evbuffer_add(out, h, 5);
	if (w->mb.len > 0)
		evbuffer_add(out, w->mb.p, w->mb.len);
	w->mb.len = 0;
}

static uint32_t
pgwire_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
pgwire_rfq(struct pgwire *w, struct evbuffer *out, char status)
{
	pgwire_put(&w->mb, &status, 1);
	pgwire_send(w, out, 'Z');
}

static char
pgwire_status(const struct pgwire *w)
{
	return w->depth > 0 ? (w->pre_failed ? 'E' : 'T') : 'I';
}

static void
pgwire_complete(struct pgwire *w, struct evbuffer *out, const char *tag)
{
	pgwire_puts(&w->mb, tag);
	pgwire_send(w, out, 'C');
}

/*
 * An ErrorResponse ('E') or NoticeResponse ('N').  text: its first line
 * is the message, the rest (indentation dropped) the detail, unless
 * detail is given.
 */
static void
pgwire_report(struct pgwire *w, struct evbuffer *out, char type, const char *severity,
              const char *code, const char *text, const char *detail, const char *hint,
              const char *context)
{
	const char *nl = strchr(text, '\n');
	struct pgwire_buf d = { 0 };
	const char *p;

	pgwire_put(&w->mb, "S", 1);
	pgwire_puts(&w->mb, severity);
	pgwire_put(&w->mb, "V", 1);
	pgwire_puts(&w->mb, severity);
	pgwire_put(&w->mb, "C", 1);
	pgwire_puts(&w->mb, code);
	pgwire_put(&w->mb, "M", 1);
	pgwire_put(&w->mb, text, nl ? (size_t)(nl - text) : strlen(text));
	pgwire_put(&w->mb, "", 1);
	if (detail == NULL && nl != NULL) {
		/* the continuation lines, without their two-space indent */
		for (p = nl + 1; *p;) {
			const char *e = strchr(p, '\n');
			size_t n = e ? (size_t)(e - p) : strlen(p);

			while (n > 0 && *p == ' ') {
				p++;
				n--;
			}
			if (d.len > 0)
				pgwire_put(&d, "\n", 1);
			pgwire_put(&d, p, n);
			p += n;
			if (*p == '\n')
				p++;
		}
		pgwire_put(&d, "", 1);
		if (!d.oom)
			detail = d.p;
	}
	if (detail != NULL && *detail) {
		pgwire_put(&w->mb, "D", 1);
		pgwire_puts(&w->mb, detail);
	}
	if (hint != NULL && *hint) {
		pgwire_put(&w->mb, "H", 1);
		pgwire_puts(&w->mb, hint);
	}
	if (context != NULL && *context) {
		pgwire_put(&w->mb, "W", 1);
		pgwire_puts(&w->mb, context);
	}
	pgwire_put(&w->mb, "", 1);
	pgwire_send(w, out, type);
	free(d.p);
}

static void
pgwire_notice(struct pgwire *w, struct evbuffer *out, const char *text)
{
	pgwire_report(w, out, 'N', "NOTICE", "00000", text, NULL, NULL, NULL);
}

static int pgwire_fail(struct pgwire *w, int fatal, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
pgwire_fail(struct pgwire *w, int fatal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->fatal = fatal;
	return -1;
}

/* ---- life ------------------------------------------------------------- */

struct pgwire *
pgwire_new(const struct pgwire_config *cfg)
{
	struct pgwire *w = calloc(1, sizeof(*w));
	unsigned char key[8];

	if (w == NULL)
		return NULL;
	w->cfg = *cfg;
	w->phase = PW_STARTUP;
	if (RAND_bytes(key, sizeof(key)) != 1)
		memset(key, 0x5a, sizeof(key));
	w->key_pid = pgwire_get32(key) & 0x3fffffff;
	w->key_secret = pgwire_get32(key + 4);
	return w;
}

static void
pgwire_clear_error(struct pgwire *w)
{
	size_t i;

	for (i = 0; i < sizeof(w->field) / sizeof(w->field[0]); i++) {
		free(w->field[i]);
		w->field[i] = NULL;
	}
	w->have_error = 0;
}

void
pgwire_free(struct pgwire *w)
{
	char **p;

	if (w == NULL)
		return;
	if (w->params != NULL) {
		for (p = w->params; *p; p++)
			free(*p);
		free(w->params);
	}
	pgwire_clear_error(w);
	scram_end(&w->sc);
	free(w->mb.p);
	free(w->after_error);
	free(w->fcall);
	free(w);
}

const char *
pgwire_error(const struct pgwire *w)
{
	return w->error;
}

int
pgwire_fatal(const struct pgwire *w)
{
	return w->fatal;
}

uint64_t
pgwire_bytes(const struct pgwire *w)
{
	return w->bytes;
}

const char *
pgwire_param(const struct pgwire *w, const char *name)
{
	char **p;

	if (w->params == NULL)
		return NULL;
	for (p = w->params; p[0] && p[1]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

/* ---- startup ---------------------------------------------------------- */

static int
pgwire_parse_startup(struct pgwire *w, const unsigned char *body, size_t len, struct evbuffer *out)
{
	const char *p = (const char *)body, *end = (const char *)body + len;
	struct pgwire_buf unknown = { 0 };
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
static int
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
static void
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

/* ---- before the dump ------------------------------------------------- */

#define PGWIRE_PEEK 2048 /* bytes of a Query's text looked at before the dump */

enum pgwire_first {
	PWF_EMPTY,       /* only comments / white space (pg_restore's header comment) */
	PWF_BEGIN,       /* BEGIN / START TRANSACTION, alone in its Query */
	PWF_COMMIT,      /* COMMIT / END, alone */
	PWF_ROLLBACK,    /* ROLLBACK / ABORT, alone */
	PWF_SEARCH_PATH, /* pg_restore's connection-time set_config('search_path', '', false) */
	PWF_RECOVERY,    /* pg_restore's SELECT pg_catalog.pg_is_in_recovery() */
	PWF_PRELUDE,     /* SET, a SELECT of set_config, or BEGIN with more: the dump starts */
	PWF_CUSTOM,      /* the bytes of a custom archive (psql -f of a pg_dump -Fc file) */
	PWF_OTHER,       /* anything else */
};

/* 1 if text[0..len) holds nothing but white space, ';' and comments. */
static int
pgwire_blank(const char *text, size_t len)
{
	struct sqltok_iter it;
	struct sqltok t;

	sqltok_init(&it, text, len, 1);
	while (sqltok_next(&it, &t) != SQLTOK_END)
		if (!(t.len == 1 && t.p[0] == ';'))
			return 0;
	return 1;
}

/* What the first statement of a Query is; head: the first hlen bytes, whole: all of it. */
static enum pgwire_first
pgwire_first_statement(const char *head, size_t hlen, int whole)
{
	static const char search_path[] = "select pg_catalog.set_config('search_path', '', false)";
	static const char recovery[] = "select pg_catalog.pg_is_in_recovery()";
	char words[2][32];
	const char *semi;
	size_t k, rest;
	int n, alone;

	if (hlen >= 5 && memcmp(head, "PGDMP", 5) == 0)
		return PWF_CUSTOM;
	n = sqltok_leading_words(head, hlen, 1, words, 2);
	if (n == 0)
		return whole && pgwire_blank(head, hlen) ? PWF_EMPTY : PWF_OTHER;
	semi = memchr(head, ';', hlen);
	rest = semi ? hlen - (size_t)(semi + 1 - head) : 0;
	alone = whole && (semi == NULL || pgwire_blank(semi + 1, rest));
	if (strcmp(words[0], "begin") == 0 || strcmp(words[0], "start") == 0)
		return alone ? PWF_BEGIN : PWF_PRELUDE;
	if (strcmp(words[0], "commit") == 0 || strcmp(words[0], "end") == 0)
		return alone ? PWF_COMMIT : PWF_OTHER;
	if (strcmp(words[0], "rollback") == 0 || strcmp(words[0], "abort") == 0)
		return alone ? PWF_ROLLBACK : PWF_OTHER;
	if (strcmp(words[0], "set") == 0)
		return PWF_PRELUDE;
	if (strcmp(words[0], "select") != 0)
		return PWF_OTHER;
	for (k = 0; k < hlen && (head[k] == ' ' || head[k] == '\n' || head[k] == '\t'); k++)
		;
	if (alone && hlen - k >= sizeof(search_path) - 1 &&
	    strncasecmp(head + k, search_path, sizeof(search_path) - 1) == 0 &&
	    (semi == NULL || (size_t)(semi - head) == k + sizeof(search_path) - 1))
		return PWF_SEARCH_PATH;
	if (alone && hlen - k >= sizeof(recovery) - 1 &&
	    strncasecmp(head + k, recovery, sizeof(recovery) - 1) == 0 &&
	    (semi == NULL || (size_t)(semi - head) == k + sizeof(recovery) - 1))
		return PWF_RECOVERY;
	if (n >= 2 &&
	    (strncmp(words[1], "pg_catalog", 10) == 0 ||
	     strncmp(words[1], "set_config", 10) == 0) &&
	    strstr(head, "set_config(") != NULL)
		return PWF_PRELUDE;
	return PWF_OTHER;
}

/* One row, one text column: the answer to a query pgsluice answers itself. */
static void
pgwire_one_value(struct pgwire *w, struct evbuffer *out, const char *name, const char *value)
{
	pgwire_put16(&w->mb, 1);
	pgwire_puts(&w->mb, name);
	pgwire_put32(&w->mb, 0);
	pgwire_put16(&w->mb, 0);
	pgwire_put32(&w->mb, 25); /* text */
	pgwire_put16(&w->mb, (uint16_t)-1);
	pgwire_put32(&w->mb, (uint32_t)-1);
	pgwire_put16(&w->mb, 0);
	pgwire_send(w, out, 'T');
	pgwire_put16(&w->mb, 1);
	pgwire_put32(&w->mb, (uint32_t)strlen(value));
	pgwire_put(&w->mb, value, strlen(value));
	pgwire_send(w, out, 'D');
	pgwire_complete(w, out, "SELECT 1");
}

/* A query before the dump that is not one: an ERROR, and nothing is run. */
static void
pgwire_not_dump(struct pgwire *w, struct evbuffer *out, enum pgwire_first f, const char *head,
                size_t hlen)
{
	char ex[80], msg[600];
	size_t i, o = 0;

	for (i = 0; i < hlen && o < 60 && head[i] != '\0'; i++)
		ex[o++] = (unsigned char)head[i] < 0x20 ? ' ' : head[i];
	ex[o] = '\0';
	if (f == PWF_CUSTOM)
		snprintf(msg, sizeof(msg),
		         "this is a pg_dump custom-format archive (PGDMP), not SQL: "
		         "use pg_restore -1 through this port, or send `pg_restore -f - FILE | "
		         "pgsluice send ...`");
	else
		snprintf(
			msg, sizeof(msg),
			"pgsluice imports pg_dump plain-format dumps and runs "
			"nothing else: \"%s%s\" is not the start of a dump (a dump begins with SET "
			"lines or SELECT pg_catalog.set_config(...))",
			ex, i < hlen ? "..." : "");
	log_info(w->cfg.who, "before any dump: %s; nothing was run", msg);
	pgwire_report(
		w, out, 'E', "ERROR", "0A000", msg, "nothing was run; the target is unchanged",
		"send a dump: psql -1 -v ON_ERROR_STOP=1 -f dump.sql, or pg_restore -1 -d ... "
		"ARCHIVE",
		NULL);
	if (w->depth > 0)
		w->pre_failed = 1;
}

enum pgwire_predump_result
pgwire_predump(struct pgwire *w, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char h[5];
	char head[PGWIRE_PEEK + 1];
	uint32_t n;
	size_t hlen, have;
	enum pgwire_first f;

	for (;;) {
		if (w->skip > 0) {
			have = evbuffer_get_length(in);
			if (have > w->skip)
				have = w->skip;
			evbuffer_drain(in, have);
			w->bytes += have;
			w->skip -= (uint32_t)have;
			if (w->skip > 0)
				return PGWIRE_PRE_WAIT;
		}
		if (w->rfq_after_skip && !w->skip_sync) {
			w->rfq_after_skip = 0;
			pgwire_rfq(w, out, pgwire_status(w));
		}
		if (evbuffer_copyout(in, h, 5) < 5)
			return PGWIRE_PRE_WAIT;
		n = pgwire_get32(h + 1);
		if (n < 4 || (h[0] != 'Q' && n > PGWIRE_SMALL_MAX)) {
			w->refusal = PGWIRE_REFUSE_PROTOCOL;
			pgwire_fail(w, 1, "invalid message length %u", n);
			return PGWIRE_PRE_REFUSE;
		}
		if (w->skip_sync && h[0] != 'S' && h[0] != 'X') {
			evbuffer_drain(in, 5); /* an extended-protocol batch, up to its Sync */
			w->skip = n - 4;
			continue;
		}
		switch (h[0]) {
		case 'X':
			evbuffer_drain(in, 5);
			w->terminated = 1;
			return PGWIRE_PRE_CLOSE;
		case 'S':
			w->skip_sync = 0;
			/* fall through */
		case 'H':
			evbuffer_drain(in, 5);
			w->skip = n - 4;
			if (h[0] == 'S')
				w->rfq_after_skip = 1;
			continue;
		case 'Q':
			break;
		case 'P':
		case 'B':
		case 'E':
		case 'D':
		case 'C':
		case 'F':
			evbuffer_drain(in, 5);
			w->skip = n - 4;
			if (h[0] == 'F')
				w->rfq_after_skip = 1;
			else
				w->skip_sync = w->rfq_after_skip = 1;
			pgwire_report(
				w, out, 'E', "ERROR", "0A000",
				h[0] == 'F'
					? "function calls are not supported: pgsluice imports dumps sent "
					  "as simple queries (psql -1 -f, pg_restore -1)"
					: "the extended query protocol (Parse/Bind/Execute) is not "
					  "supported: pgsluice imports dumps sent as simple queries (psql "
					  "-1 -f, pg_restore -1)",
				"nothing was run", NULL, NULL);
			continue;
		case 'd':
		case 'c':
		case 'f':
			w->refusal = PGWIRE_REFUSE_PROTOCOL;
			pgwire_fail(w, 1, "%s received outside COPY FROM STDIN",
			            h[0] == 'd'   ? "CopyData"
			            : h[0] == 'c' ? "CopyDone"
			                          : "CopyFail");
			return PGWIRE_PRE_REFUSE;
		default:
			w->refusal = PGWIRE_REFUSE_PROTOCOL;
			pgwire_fail(w, 1, "invalid frontend message type %d ('%c')", h[0],
			            h[0] >= 0x20 && h[0] < 0x7f ? h[0] : '?');
			return PGWIRE_PRE_REFUSE;
		}
		if (w->cfg.max_query > 0 && n - 4 > w->cfg.max_query + 1) {
			w->refusal = PGWIRE_REFUSE_PROTOCOL;
			pgwire_fail(w, 1,
			            "Query message of %u bytes: more than --max-statement (%zu "
			            "bytes)",
			            n - 4, w->cfg.max_query);
			return PGWIRE_PRE_REFUSE;
		}
		hlen = n - 4 < PGWIRE_PEEK ? n - 4 : PGWIRE_PEEK;
		if (evbuffer_get_length(in) < 5 + hlen)
			return PGWIRE_PRE_WAIT;
		{
			unsigned char tmp[5 + PGWIRE_PEEK];

			evbuffer_copyout(in, tmp, 5 + hlen);
			memcpy(head, tmp + 5, hlen);
		}
		head[hlen] = '\0';
		hlen = strnlen(head, hlen);
		f = pgwire_first_statement(head, hlen, n - 4 <= PGWIRE_PEEK);
		if (f == PWF_PRELUDE) {
			char words[1][32];

			if (w->depth == 0 && sqltok_leading_words(head, hlen, 1, words, 1) == 1 &&
			    strcmp(words[0], "begin") != 0 && strcmp(words[0], "start") != 0) {
				w->refusal = PGWIRE_REFUSE_NOT_SINGLE;
				pgwire_single_message(w, w->error, sizeof(w->error));
				w->fatal = 0;
				return PGWIRE_PRE_REFUSE;
			}
			if (w->pre_failed) {
				/* psql -1 after a refused query: its transaction is aborted */
				w->refusal = PGWIRE_REFUSE_NOT_DUMP;
				pgwire_fail(
					w, 0,
					"a query before the dump was refused inside the client's "
					"transaction; send the dump alone");
				return PGWIRE_PRE_REFUSE;
			}
			w->pre_pending = 1;
			return PGWIRE_PRE_DUMP; /* the Query stays in: the import reads it */
		}
		/* answered here, run nowhere: drain the message */
		evbuffer_drain(in, 5);
		w->bytes += 5;
		w->skip = n - 4;
		w->rfq_after_skip = 1;
		switch (f) {
		case PWF_EMPTY:
			pgwire_send(w, out, 'I');
			break;
		case PWF_BEGIN:
			w->wrap = 1; /* nothing of the dump came yet: its COMMIT ends the import */
			w->depth++;
			pgwire_complete(w, out,
			                strncasecmp(head + strspn(head, " \t\n"), "start", 5) == 0
			                        ? "START TRANSACTION"
			                        : "BEGIN");
			break;
		case PWF_COMMIT:
		case PWF_ROLLBACK:
			pgwire_complete(w, out,
			                f == PWF_COMMIT && !w->pre_failed ? "COMMIT" : "ROLLBACK");
			w->depth = 0;
			w->wrap = 0;
			w->pre_failed = 0;
			break;
		case PWF_SEARCH_PATH:
			/* pg_restore's, before its BEGIN; the dump sets it again itself */
			pgwire_one_value(w, out, "set_config", "");
			break;
		case PWF_RECOVERY:
			/* pg_restore asks when it connects; the target's in_hot_standby says */
			pgwire_one_value(w, out, "pg_is_in_recovery", w->in_recovery ? "t" : "f");
			break;
		default:
			pgwire_not_dump(w, out, f, head, hlen);
			break;
		}
	}
}

/* ---- the stream ------------------------------------------------------- */

void
pgwire_ready(struct pgwire *w, struct evbuffer *out, PGconn *conn)
{
	static const char *const names[] = {
		"server_version",
		"server_encoding",
		"client_encoding",
		"DateStyle",
		"IntervalStyle",
		"TimeZone",
		"integer_datetimes",
		"standard_conforming_strings",
		"is_superuser",
		"session_authorization",
		"default_transaction_read_only",
		"in_hot_standby",
	};
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = PQparameterStatus(conn, names[i]);
		if (v == NULL)
			continue;
		pgwire_puts(&w->mb, names[i]);
		pgwire_puts(&w->mb, v);
		pgwire_send(w, out, 'S');
	}
	v = PQparameterStatus(conn, "in_hot_standby");
	w->in_recovery = v != NULL && strcmp(v, "on") == 0;
	v = pgwire_param(w, "application_name");
	pgwire_puts(&w->mb, "application_name");
	pgwire_puts(&w->mb, v ? v : "");
	pgwire_send(w, out, 'S');
	pgwire_put32(&w->mb, w->key_pid);
	pgwire_put32(&w->mb, w->key_secret);
	pgwire_send(w, out, 'K');
	pgwire_rfq(w, out, 'I');
	w->phase = PW_READY;
}

/*
 * A FunctionCall of libpq's large-object API (binary arguments, as PQfn
 * sends them) as the SQL that does the same, into w->fcall.  The OIDs are
 * PostgreSQL's built-in ones (pg_proc.dat), which libpq looks up.
 * -1: not one of them, or malformed.
 */
static int
pgwire_fcall_sql(struct pgwire *w, const unsigned char *b, size_t len)
{
	uint32_t fn, a[2] = { 0, 0 }, alen;
	size_t o = 4, i, nfmt, nargs, k;
	const unsigned char *data = NULL;
	size_t dlen = 0;
	char *p;

	if (len < 8)
		return -1;
	fn = pgwire_get32(b);
	nfmt = (size_t)(b[o] << 8 | b[o + 1]);
	o += 2 + 2 * nfmt;
	if (o + 2 > len)
		return -1;
	nargs = (size_t)(b[o] << 8 | b[o + 1]);
	o += 2;
	if (nargs > 2)
		return -1;
	for (i = 0; i < nargs; i++) {
		if (o + 4 > len)
			return -1;
		alen = pgwire_get32(b + o);
		o += 4;
		if (alen == 0xffffffffu || o + alen > len)
			return -1;
		if (fn == 955 && i == 1) { /* lowrite's bytea */
			data = b + o;
			dlen = alen;
		} else if (alen == 4) {
			a[i] = pgwire_get32(b + o);
		} else {
			return -1;
		}
		o += alen;
	}
	free(w->fcall);
	w->fcall = malloc(dlen * 2 + 96);
	if (w->fcall == NULL)
		return -1;
	p = w->fcall;
	switch (fn) {
	case 952: /* lo_open(oid, int4) */
		if (nargs != 2)
			return -1;
		p += sprintf(p, "SELECT pg_catalog.lo_open(%u, %d);", a[0], (int)a[1]);
		break;
	case 953: /* lo_close(int4) */
		if (nargs != 1)
			return -1;
		p += sprintf(p, "SELECT pg_catalog.lo_close(%d);", (int)a[0]);
		break;
	case 955: /* lowrite(int4, bytea) */
		if (nargs != 2 || data == NULL)
			return -1;
		p += sprintf(p, "SELECT pg_catalog.lowrite(%d, '\\x", (int)a[0]);
		for (k = 0; k < dlen; k++)
			p += sprintf(p, "%02x", data[k]);
		p += sprintf(p, "'::bytea);");
		break;
	default:
		return -1;
	}
	w->fcall_len = (size_t)(p - w->fcall);
	w->fcall_off = 0;
	return 0;
}

/* Read the next message's header in phase READY or COPY.  1: dispatched, 0: wait, -1 fail. */
static int
pgwire_next_message(struct pgwire *w, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char h[5], *body = NULL;
	uint32_t n;
	size_t len;
	char t;
	int r;

	if (evbuffer_copyout(in, h, 5) < 5)
		return 0;
	t = (char)h[0];
	n = pgwire_get32(h + 1);
	if (n < 4)
		return pgwire_fail(w, 1, "invalid message length %u for message '%c'", n,
		                   h[0] >= 0x20 && h[0] < 0x7f ? t : '?');
	if (w->phase == PW_COPY) {
		switch (t) {
		case 'd':
			if (n - 4 > PGWIRE_COPYDATA_MAX)
				return pgwire_fail(w, 1,
				                   "CopyData message of %u bytes: more than the "
				                   "limit of %zu",
				                   n - 4, PGWIRE_COPYDATA_MAX);
			evbuffer_drain(in, 5);
			w->bytes += 5;
			w->body_left = n - 4;
			w->phase = PW_COPYDATA;
			return 1;
		case 'c':
			if (n != 4)
				return pgwire_fail(w, 1, "invalid CopyDone message");
			evbuffer_drain(in, 5);
			w->bytes += 5;
			w->copy_active = 0;
			w->phase = PW_CTAIL;
			return 1;
		case 'f':
			r = pgwire_take(w, in, 'f', &body, &len);
			if (r <= 0)
				return r;
			w->copy_active = 0;
			pgwire_fail(w, 0, "the client aborted the COPY (CopyFail): %s",
			            (char *)body);
			free(body);
			return -1;
		case 'H':
		case 'S':
			if (n != 4)
				return pgwire_fail(w, 1, "invalid message length %u", n);
			evbuffer_drain(in, 5);
			return 1;
		default:
			return pgwire_fail(w, 1,
			                   "unexpected message type '%c' during COPY FROM "
			                   "STDIN",
			                   h[0] >= 0x20 && h[0] < 0x7f ? t : '?');
		}
	}
	switch (t) {
	case 'Q':
		if (w->cfg.max_query > 0 && n - 4 > w->cfg.max_query + 1)
			return pgwire_fail(w, 1,
			                   "Query message of %u bytes: more than --max-statement "
			                   "(%zu bytes)",
			                   n - 4, w->cfg.max_query);
		if (n == 4)
			return pgwire_fail(w, 1, "invalid Query message: no text");
		evbuffer_drain(in, 5);
		w->bytes += 5;
		w->body_left = n - 4;
		w->n_statements = 0;
		w->pre_pending = 0;
		w->phase = PW_QUERY;
		return 1;
	case 'X':
		if (n != 4)
			return pgwire_fail(w, 1, "invalid Terminate message");
		evbuffer_drain(in, 5);
		w->terminated = 1;
		w->phase = PW_ENDING;
		return 1;
	case 'S':
	case 'H':
		if (n != 4)
			return pgwire_fail(w, 1, "invalid message length %u", n);
		evbuffer_drain(in, 5);
		if (t == 'S')
			pgwire_rfq(w, out, pgwire_status(w));
		return 1;
	case 'd':
	case 'c':
	case 'f':
		return pgwire_fail(w, 1, "%s received outside COPY FROM STDIN",
		                   t == 'd'   ? "CopyData"
		                   : t == 'c' ? "CopyDone"
		                              : "CopyFail");
	case 'P':
	case 'B':
	case 'E':
	case 'D':
	case 'C':
		if (n > PGWIRE_SMALL_MAX)
			return pgwire_fail(w, 1, "invalid message length %u", n);
		w->skip_sync = 1;
		return pgwire_fail(w, 0,
		                   "the extended query protocol (Parse/Bind/Execute) is not "
		                   "supported: pgsluice imports dumps sent as simple queries (psql "
		                   "-f, pg_restore)");
	case 'F':
		if (n > PGWIRE_SMALL_MAX)
			return pgwire_fail(w, 1, "invalid message length %u", n);
		r = pgwire_take(w, in, 'F', &body, &len);
		if (r <= 0)
			return r;
		r = pgwire_fcall_sql(w, body, len);
		free(body);
		if (r < 0) {
			w->rfq_after_skip = 1;
			return pgwire_fail(w, 0,
			                   "function calls other than libpq's lo_open, lowrite "
			                   "and lo_close are not supported over the PostgreSQL "
			                   "protocol");
		}
		w->n_statements = 0;
		w->fcall_active = 1;
		w->phase = PW_FCALL;
		return 1;
	default:
		return pgwire_fail(w, 1, "invalid frontend message type %d ('%c')", h[0],
		                   h[0] >= 0x20 && h[0] < 0x7f ? t : '?');
	}
}

enum pgwire_input
pgwire_refill(struct pgwire *w, struct evbuffer *in, struct evbuffer *out, const struct lexer *lx,
              char *buf, size_t cap, size_t *produced)
{
	size_t n, have;
	char c;
	int r;

	*produced = 0;
	for (;;) {
		switch (w->phase) {
		case PW_READY:
		case PW_COPY:
			r = pgwire_next_message(w, in, out);
			if (r < 0)
				return PGWIRE_IN_FAIL;
			if (r == 0)
				return PGWIRE_IN_WAIT;
			if (w->phase == PW_ENDING)
				return PGWIRE_IN_TERMINATE;
			continue;
		case PW_QUERY:
		case PW_COPYDATA:
			have = evbuffer_get_length(in);
			if (w->phase == PW_QUERY && w->body_left == 1) {
				/* the Query text's terminating NUL */
				if (have == 0)
					return PGWIRE_IN_WAIT;
				evbuffer_remove(in, &c, 1);
				w->bytes++;
				w->body_left = 0;
				if (c != '\0') {
					pgwire_fail(w, 1,
					            "invalid Query message: its text is not "
					            "NUL-terminated");
					return PGWIRE_IN_FAIL;
				}
				w->phase = PW_QTAIL1;
				continue;
			}
			if (w->phase == PW_COPYDATA && w->body_left == 0) {
				w->phase = PW_COPY;
				continue;
			}
			n = w->body_left - (w->phase == PW_QUERY ? 1 : 0);
			if (n > cap)
				n = cap;
			if (n > have)
				n = have;
			if (n == 0)
				return PGWIRE_IN_WAIT;
			evbuffer_remove(in, buf, n);
			w->bytes += n;
			w->body_left -= (uint32_t)n;
			if (w->phase == PW_QUERY && memchr(buf, '\0', n) != NULL) {
				pgwire_fail(w, 1,
				            "invalid Query message: a NUL byte inside its text");
				return PGWIRE_IN_FAIL;
			}
			if (w->phase == PW_COPYDATA) {
				w->copy_any = 1;
				w->copy_last = buf[n - 1];
			}
			*produced = n;
			return PGWIRE_IN_DATA;
		case PW_FCALL:
			n = w->fcall_len - w->fcall_off;
			if (n > cap)
				n = cap;
			memcpy(buf, w->fcall + w->fcall_off, n);
			w->fcall_off += n;
			if (w->fcall_off == w->fcall_len)
				w->phase = PW_QTAIL1;
			*produced = n;
			return PGWIRE_IN_DATA;
		case PW_QTAIL1:
			w->phase = PW_QTAIL2;
			if (lexer_in_copy_data(lx))
				continue; /* the text ended with the COPY line's newline */
			buf[0] = '\n';
			*produced = 1;
			return PGWIRE_IN_DATA;
		case PW_QTAIL2:
			w->phase = PW_QDONE;
			if (!lexer_between_statements(lx) && !lexer_in_copy(lx)) {
				buf[0] = ';';
				*produced = 1;
				return PGWIRE_IN_DATA;
			}
			continue;
		case PW_QDONE:
			if (w->copy_active) {
				w->phase = PW_COPY;
				continue;
			}
			if (!lexer_between_statements(lx)) {
				char where[200];

				lexer_describe(lx, where, sizeof(where));
				pgwire_fail(w, 0,
				            "the query ends %s (an unterminated string, comment or "
				            "statement)",
				            where);
				return PGWIRE_IN_FAIL;
			}
			if (w->n_statements == 0 && !w->fcall_active)
				pgwire_send(w, out, 'I'); /* EmptyQueryResponse */
			w->fcall_active = 0;
			pgwire_rfq(w, out, pgwire_status(w));
			w->phase = PW_READY;
			continue;
		case PW_CTAIL:
			w->phase = PW_CDONE;
			if (lexer_in_copy(lx)) {
				n = 0;
				if (w->copy_any && w->copy_last != '\n')
					buf[n++] = '\n';
				memcpy(buf + n, "\\.\n", 3);
				*produced = n + 3;
				return PGWIRE_IN_DATA;
			}
			continue;
		case PW_CDONE:
			w->copy_any = 0;
			if (lexer_in_copy(lx)) {
				pgwire_fail(w, 1, "the COPY data did not end where CopyDone came");
				return PGWIRE_IN_FAIL;
			}
			w->phase = PW_QDONE;
			continue;
		default:
			return PGWIRE_IN_WAIT;
		}
	}
}

int
pgwire_client_query(const struct lexer_event *ev)
{
	/* the text libpq's lo_initialize sends, the same since PostgreSQL 9.3 */
	static const char q[] =
		"select proname, oid from pg_catalog.pg_proc where proname in ('lo_open', "
		"'lo_close', 'lo_creat', 'lo_create', 'lo_unlink', 'lo_lseek', 'lo_lseek64', "
		"'lo_tell', 'lo_tell64', 'lo_truncate', 'lo_truncate64', 'loread', 'lowrite') and "
		"pronamespace = (select oid from pg_catalog.pg_namespace where nspname = "
		"'pg_catalog')";
	size_t k = 0, n = ev->len;

	while (k < n && (ev->data[k] == ' ' || ev->data[k] == '\n' || ev->data[k] == '\t'))
		k++;
	while (n > k &&
	       (ev->data[n - 1] == ';' || ev->data[n - 1] == ' ' || ev->data[n - 1] == '\n'))
		n--;
	return n - k == sizeof(q) - 1 && memcmp(ev->data + k, q, sizeof(q) - 1) == 0;
}

enum pgwire_statement_result
pgwire_statement(struct pgwire *w, struct evbuffer *out, const struct lexer_event *ev,
                 const struct rules_verdict *v, int in_copy, char *why, size_t size)
{
	char words[3][32], tag[64], text[512];
	int n;

	if (w->phase != PW_QUERY && w->phase != PW_QTAIL1 && w->phase != PW_QTAIL2 &&
	    w->phase != PW_QDONE) {
		pgwire_fail(w, 1,
		            "a statement after the end-of-data marker (\\.) inside COPY data");
		snprintf(why, size, "%s", w->error);
		return PGWIRE_ST_REFUSE;
	}
	if (v->action == RULES_DROP && v->id == RULES_R_EMPTY)
		return PGWIRE_ST_GO; /* ";" alone: nothing to answer */
	n = sqltok_leading_words(ev->data, ev->len, ev->std_strings, words, 3);
	w->n_statements++;
	if (v->action == RULES_DROP) {
		if (in_copy) {
			snprintf(why, size,
			         "a COPY FROM STDIN that the rules drop (rule %s) cannot be "
			         "skipped over the PostgreSQL protocol",
			         v->rule ? v->rule : "?");
			return PGWIRE_ST_REFUSE;
		}
		if (v->id == RULES_R_TRANSACTION && n > 0) {
			if (strcmp(words[0], "begin") == 0 || strcmp(words[0], "start") == 0) {
				/* the dump's own BEGIN (large objects) nests inside psql -1's */
				if (w->depth == 0 && !w->data_seen)
					w->wrap = 1;
				w->depth++;
				pgwire_complete(w, out,
				                strcmp(words[0], "start") == 0 ? "START TRANSACTION"
				                                               : "BEGIN");
				return PGWIRE_ST_GO;
			}
			/* COMMIT / END: only the outermost one ends the import */
			if (w->depth > 0)
				w->depth--;
			if (w->depth == 0 && w->wrap) {
				w->wrap_commit = 1;
				w->phase = PW_ENDING;
				return PGWIRE_ST_END;
			}
			pgwire_complete(w, out, "COMMIT");
			return PGWIRE_ST_GO;
		}
		if (w->notices < PGWIRE_NOTICE_MAX) {
			snprintf(text, sizeof(text),
			         "pgsluice dropped this statement (rule %s): %s",
			         v->rule ? v->rule : "?", v->reason ? v->reason : "");
			pgwire_notice(w, out, text);
		} else if (w->notices == PGWIRE_NOTICE_MAX) {
			pgwire_notice(w, out,
			              "pgsluice dropped more statements; the summary counts them "
			              "by rule");
		}
		w->notices++;
		classify_tag(ev->data, ev->len, ev->std_strings, tag, sizeof(tag));
		pgwire_complete(w, out, tag);
		return PGWIRE_ST_GO;
	}
	if (v->action != RULES_FORWARD && v->action != RULES_REWRITE)
		return PGWIRE_ST_GO; /* refused: the session fails */
	if (n > 0 && (strcmp(words[0], "rollback") == 0 || strcmp(words[0], "abort") == 0) &&
	    !(n > 1 && (strcmp(words[1], "to") == 0 || strcmp(words[1], "prepared") == 0))) {
		w->rolled_back = 1;
		w->depth = 0;
		snprintf(why, size, "the client sent %s: the import is rolled back",
		         strcmp(words[0], "abort") == 0 ? "ABORT" : "ROLLBACK");
		return PGWIRE_ST_REFUSE;
	}
	/* libpq's lookup of the lo_* functions is relayed; other reads are refused */
	if (n > 0 && !pgwire_client_query(ev) &&
	    classify_reads_tables(ev->data, ev->len, ev->std_strings)) {
		snprintf(why, size,
		         "pgsluice is an import gate, not a general proxy: %s that reads "
		         "tables is not part of a dump and is not run",
		         n > 0 ? words[0] : "a query");
		if (classify_large_objects(ev->data, ev->len, ev->std_strings))
			snprintf(
				why, size,
				"large objects through libpq's large-object functions are "
				"not supported over the PostgreSQL protocol\n  restore a dump with "
				"large objects as SQL: pg_restore -f - DUMP | psql ... (or | pgsluice "
				"send)");
		return PGWIRE_ST_REFUSE;
	}
	if (!classify_setup(ev->data, ev->len, ev->std_strings)) {
		w->data_seen = 1;
		if (!w->wrap) {
			w->refusal = PGWIRE_REFUSE_NOT_SINGLE;
			pgwire_single_message(w, why, size);
			return PGWIRE_ST_REFUSE;
		}
	}
	return PGWIRE_ST_GO;
}

void
pgwire_result(struct pgwire *w, struct evbuffer *out, const PGresult *res)
{
	static const char codes[] = "SVCMDHPpqWstcdnFLR";
	ExecStatusType st = PQresultStatus(res);
	const char *v;
	int i, j, nf, nr;
	size_t k;

	if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
		if (w->have_error)
			return;
		w->have_error = 1;
		for (k = 0; codes[k]; k++) {
			v = PQresultErrorField(res, codes[k]);
			if (v != NULL)
				w->field[(int)codes[k]] = strdup(v);
		}
		if (w->field['M'] == NULL)
			w->field['M'] = strdup(PQresultErrorMessage(res));
		return;
	}
	if (st == PGRES_EMPTY_QUERY) {
		pgwire_send(w, out, 'I');
		return;
	}
	if (w->fcall_active) {
		/* FunctionCallResponse: the int4 result in binary, as PQfn asked */
		if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1) {
			pgwire_put32(&w->mb, 4);
			pgwire_put32(&w->mb, (uint32_t)strtol(PQgetvalue(res, 0, 0), NULL, 10));
			pgwire_send(w, out, 'V');
		}
		return;
	}
	if (st == PGRES_TUPLES_OK && (nf = PQnfields(res)) > 0) {
		pgwire_put16(&w->mb, (uint16_t)nf);
		for (i = 0; i < nf; i++) {
			pgwire_puts(&w->mb, PQfname(res, i));
			pgwire_put32(&w->mb, (uint32_t)PQftable(res, i));
			pgwire_put16(&w->mb, (uint16_t)PQftablecol(res, i));
			pgwire_put32(&w->mb, (uint32_t)PQftype(res, i));
			pgwire_put16(&w->mb, (uint16_t)PQfsize(res, i));
			pgwire_put32(&w->mb, (uint32_t)PQfmod(res, i));
			pgwire_put16(&w->mb, 0);
		}
		pgwire_send(w, out, 'T');
		nr = PQntuples(res);
		if (nr > PGWIRE_MAX_ROWS) {
			log_warn(w->cfg.who,
			         "a statement returned %d rows; the client gets the first %d", nr,
			         PGWIRE_MAX_ROWS);
			nr = PGWIRE_MAX_ROWS;
		}
		for (j = 0; j < nr; j++) {
			pgwire_put16(&w->mb, (uint16_t)nf);
			for (i = 0; i < nf; i++) {
				if (PQgetisnull(res, j, i)) {
					pgwire_put32(&w->mb, 0xffffffffu);
					continue;
				}
				pgwire_put32(&w->mb, (uint32_t)PQgetlength(res, j, i));
				pgwire_put(&w->mb, PQgetvalue(res, j, i),
				           (size_t)PQgetlength(res, j, i));
			}
			pgwire_send(w, out, 'D');
		}
	}
	pgwire_complete(w, out, PQcmdStatus((PGresult *)res));
}

void
pgwire_copy_in(struct pgwire *w, struct evbuffer *out)
{
	pgwire_put(&w->mb, "", 1); /* text format */
	pgwire_put16(&w->mb, 0);   /* columns: not known here; clients do not need them */
	pgwire_send(w, out, 'G');
	w->copy_active = 1;
	w->copy_any = 0;
}

void
pgwire_say(struct pgwire *w, struct evbuffer *out, enum pgwire_say kind, const char *line)
{
	size_t n;

	if (kind == PGWIRE_SAY_PROGRESS)
		return;
	if (kind == PGWIRE_SAY_SUMMARY)
		w->summary_on = 1;
	if (w->summary_on) {
		n = strlen(line);
		if (w->summary_len + n + 2 < sizeof(w->summary)) {
			if (w->summary_len > 0)
				w->summary[w->summary_len++] = '\n';
			memcpy(w->summary + w->summary_len, line, n);
			w->summary_len += n;
			w->summary[w->summary_len] = '\0';
		}
		return;
	}
	if (w->phase < PW_READY)
		return; /* preflight lines: in the log; the client has no session yet */
	pgwire_notice(w, out, line);
}

/* ---- the end ---------------------------------------------------------- */

/* The ErrorResponse of a failed import. */
static void
pgwire_error_response(struct pgwire *w, struct evbuffer *out, const char *error,
                      enum pgwire_failure why)
{
	char *ctx;
	const char *outcome = "pgsluice rolled the import back: the target is as it was before";
	size_t n;

	if (w->have_error && why == PGWIRE_FAIL_STATEMENT) {
		n = (w->field['W'] ? strlen(w->field['W']) : 0) + strlen(error) + strlen(outcome) +
		    32;
		ctx = malloc(n);
		if (ctx != NULL)
			snprintf(ctx, n, "%s%spgsluice: %s\n%s", w->field['W'] ? w->field['W'] : "",
			         w->field['W'] ? "\n" : "", error, outcome);
		pgwire_report(w, out, 'E', "ERROR", w->field['C'] ? w->field['C'] : "XX000",
		              w->field['M'] ? w->field['M'] : error,
		              w->field['D'] ? w->field['D'] : "", w->field['H'],
		              ctx ? ctx : outcome);
		free(ctx);
		return;
	}
	pgwire_report(w, out, 'E', "ERROR", w->rolled_back ? "40000" : "55000", error, NULL, NULL,
	              outcome);
}

int
pgwire_after(struct pgwire *w, struct evbuffer *out, int committed, const char *error,
             enum pgwire_failure why)
{
	enum pgwire_phase was = w->phase;

	w->committed = committed && error == NULL;
	if (error != NULL) {
		w->after_error = strdup(error);
		log_debug(w->cfg.who, "wire: the import ended in phase %d: %s", (int)was, error);
	}
	if (was < PW_READY || w->pre_pending) {
		/*
		 * the client has no session yet, or the preflight refused before its
		 * first dump Query was read: FATAL, and the connection is closed
		 */
		pgwire_report(w, out, 'E', "FATAL", "55000", error ? error : "the import ended",
		              NULL, NULL, NULL);
		return 0;
	}
	w->phase = PW_AFTER;
	if (w->fatal && error != NULL) {
		pgwire_report(w, out, 'E', "FATAL", "08P01", w->error, NULL, NULL,
		              "pgsluice rolled the import back: the target is as it was before");
		return 0;
	}
	if (w->terminated)
		return 0;
	if (error == NULL) {
		if (w->wrap_commit) {
			if (w->summary_len > 0)
				pgwire_notice(w, out, w->summary);
			pgwire_complete(w, out, "COMMIT");
			pgwire_rfq(w, out, 'I');
			return 1;
		}
		return 0;
	}
	/* failed: say so where the client is, then bring it to ReadyForQuery */
	if (w->rolled_back) {
		pgwire_complete(w, out, "ROLLBACK");
	} else {
		pgwire_error_response(w, out, error, why);
		if (was == PW_ENDING && w->wrap_commit)
			w->depth = 0; /* its COMMIT is answered: the transaction is over */
	}
	switch (was) {
	case PW_QUERY:
		w->skip = w->body_left;
		w->rfq_after_skip = 1;
		break;
	case PW_COPY:
	case PW_COPYDATA:
	case PW_CTAIL:
		if (was == PW_COPYDATA)
			w->skip = w->body_left;
		if (w->copy_active) {
			w->skip_copy = 1;
			break;
		}
		pgwire_rfq(w, out, w->depth > 0 ? 'E' : 'I');
		break;
	case PW_READY:
		if (w->skip_sync || w->rfq_after_skip)
			break; /* an extended-protocol message or a function call was refused */
		pgwire_rfq(w, out, w->depth > 0 ? 'E' : 'I');
		break;
	default:
		if (w->copy_active) {
			w->skip_copy = 1;
			break;
		}
		pgwire_rfq(w, out, w->depth > 0 ? 'E' : 'I');
		break;
	}
	return 1;
}

/* The answer to a Query after the import: the head of its text in q (whole: all of it). */
static void
pgwire_after_query(struct pgwire *w, struct evbuffer *out, const char *q, size_t len, int whole)
{
	char words[2][32];
	int n = sqltok_leading_words(q, len, 1, words, 2);
	int end_txn = n > 0 && (strcmp(words[0], "commit") == 0 || strcmp(words[0], "end") == 0);
	int rollback =
		n > 0 && (strcmp(words[0], "rollback") == 0 || strcmp(words[0], "abort") == 0);
	struct sqltok_iter it;
	struct sqltok t;

	sqltok_init(&it, q, len, 1);
	if (whole && sqltok_next(&it, &t) == SQLTOK_END) {
		/* only comments (pg_restore's "-- Completed on ..."): nothing to run */
		pgwire_send(w, out, 'I');
		pgwire_rfq(w, out, w->committed ? 'I' : w->depth > 0 ? 'E' : 'I');
		return;
	}
	if (w->committed) {
		pgwire_report(w, out, 'E', "ERROR", "55000",
		              "the import is complete (committed); "
		              "pgsluice takes one import per connection",
		              NULL, "connect again for another import", NULL);
		pgwire_rfq(w, out, 'I');
		return;
	}
	if (rollback) {
		w->depth = 0;
		pgwire_complete(w, out, "ROLLBACK");
		pgwire_rfq(w, out, 'I');
		return;
	}
	if (end_txn && w->depth > 0) {
		w->depth = 0;
		pgwire_report(w, out, 'E', "ERROR", "40000",
		              "the import failed and was rolled back: "
		              "nothing was committed",
		              w->after_error, NULL, NULL);
		pgwire_rfq(w, out, 'I');
		return;
	}
	pgwire_report(w, out, 'E', "ERROR", "25P02",
	              "the import has failed and was rolled back; "
	              "pgsluice runs no more statements in this connection",
	              w->after_error,
	              "the first error above says why; connect again to import anew", NULL);
	pgwire_rfq(w, out, w->depth > 0 ? 'E' : 'I');
}

int
pgwire_after_read(struct pgwire *w, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char h[5];
	char q[256];
	size_t n;
	uint32_t len;

	for (;;) {
		if (w->skip > 0) {
			n = evbuffer_get_length(in);
			if (n > w->skip)
				n = w->skip;
			evbuffer_drain(in, n);
			w->skip -= (uint32_t)n;
			if (w->skip > 0)
				return 1;
		}
		if (w->rfq_after_skip) {
			w->rfq_after_skip = 0;
			pgwire_rfq(w, out, w->depth > 0 ? 'E' : 'I');
		}
		if (evbuffer_copyout(in, h, 5) < 5)
			return 1;
		len = pgwire_get32(h + 1);
		if (len < 4) {
			pgwire_report(w, out, 'E', "FATAL", "08P01", "invalid message length", NULL,
			              NULL, NULL);
			return 0;
		}
		evbuffer_drain(in, 5);
		w->skip = len - 4;
		switch (h[0]) {
		case 'X':
			return 0;
		case 'd':
			if (!w->skip_copy)
				goto protocol;
			continue;
		case 'c':
		case 'f':
			if (!w->skip_copy)
				goto protocol;
			w->skip_copy = 0;
			w->rfq_after_skip = 1;
			continue;
		case 'S':
			if (w->skip_copy)
				continue;
			w->skip_sync = 0;
			w->rfq_after_skip = 1;
			continue;
		case 'H':
			continue;
		case 'P':
		case 'B':
		case 'E':
		case 'D':
		case 'C':
			if (w->skip_sync || w->skip_copy)
				continue;
			w->skip_sync = 1;
			pgwire_report(w, out, 'E', "ERROR", "0A000",
			              "the extended query protocol is not "
			              "supported",
			              NULL, NULL, NULL);
			continue;
		case 'F':
			pgwire_report(w, out, 'E', "ERROR", "0A000",
			              "function calls are not supported", NULL, NULL, NULL);
			w->rfq_after_skip = 1;
			continue;
		case 'Q':
			if (w->skip_copy)
				goto protocol;
			n = w->skip < sizeof(q) ? w->skip : sizeof(q);
			if (evbuffer_get_length(in) < n) {
				/* wait for the head of the text */
				evbuffer_prepend(in, h, 5);
				w->skip = 0;
				return 1;
			}
			evbuffer_copyout(in, q, n);
			pgwire_after_query(w, out, q, strnlen(q, n), n == w->skip);
			continue;
		default:
			goto protocol;
		}
	}
protocol:
	pgwire_report(w, out, 'E', "FATAL", "08P01", "unexpected message after the import ended",
	              NULL, NULL, NULL);
	return 0;
}
