/*
 * pgwire_reply.c - what the front end sends back to the client: message
 * building, ErrorResponse and NoticeResponse, CommandComplete and
 * ReadyForQuery, the target's results as the client expects them
 * (pgwire_result), CopyInResponse, and pgsluice's own lines (pgwire_say).
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

/* ---- message building ------------------------------------------------- */

void
pgwire_put(struct textbuf *b, const void *data, size_t len)
{
	if (!b->failed)
		(void)textbuf_add(b, data, len);
}

void
pgwire_put32(struct textbuf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		               (unsigned char)(v >> 8), (unsigned char)v };

	pgwire_put(b, c, 4);
}

void
pgwire_put16(struct textbuf *b, uint16_t v)
{
	unsigned char c[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	pgwire_put(b, c, 2);
}

void
pgwire_puts(struct textbuf *b, const char *s)
{
	pgwire_put(b, s, strlen(s) + 1);
}

/* Write the message built in w->mb as type to out; reset w->mb. */
void
pgwire_send(struct pgwire *w, struct evbuffer *out, char type)
{
	unsigned char h[5];
	uint32_t n = (uint32_t)w->mb.len + 4;

	if (w->mb.failed) {
		log_error(w->cfg.who, "out of memory building a protocol message");
		w->mb.failed = 0;
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

uint32_t
pgwire_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
pgwire_rfq(struct pgwire *w, struct evbuffer *out, char status)
{
	pgwire_put(&w->mb, &status, 1);
	pgwire_send(w, out, 'Z');
}

char
pgwire_status(const struct pgwire *w)
{
	return w->depth > 0 ? (w->pre_failed ? 'E' : 'T') : 'I';
}

void
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
void
pgwire_report(struct pgwire *w, struct evbuffer *out, char type, const char *severity,
              const char *code, const char *text, const char *detail, const char *hint,
              const char *context)
{
	const char *nl = strchr(text, '\n');
	struct textbuf d = { 0 };
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
		if (!d.failed)
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

void
pgwire_notice(struct pgwire *w, struct evbuffer *out, const char *text)
{
	pgwire_report(w, out, 'N', "NOTICE", "00000", text, NULL, NULL, NULL);
}

int
pgwire_fail(struct pgwire *w, int fatal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->fatal = fatal;
	return -1;
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
