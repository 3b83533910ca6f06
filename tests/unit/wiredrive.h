/*
 * wiredrive.h - drive the PostgreSQL protocol front end (proxy/pgwire.c)
 * over an input cut into chunks, as the session does, and write what
 * happened as text: for the unit test (test_pgwire.c) and the fuzz target
 * (tests/fuzz/fuzz_pgwire.c), whose property is that any chunking gives
 * the same text as the whole input.
 *
 * The stages, each ending when pgwire says so:
 *
 *   startup   pgwire_startup (after an 'S', pgwire_tls_started: the test's
 *             "TLS" carries the same bytes)
 *   auth      pgwire_auth, when the config has a SCRAM secret
 *   predump   pgwire_ready (no target: no ParameterStatus from one), then
 *             pgwire_predump
 *   stream    pgwire_refill into a lexer; a COPY statement gets
 *             pgwire_copy_in as when the target takes it
 *
 * The text: "[word ...]" for each result that is not "wait for more",
 * between them what pgwire wrote to the client, with bytes outside
 * 0x20..0x7e as \xHH, the random parts masked (BackendKeyData's key as
 * "K<key>", SASLContinue's body as "R<server-first>"), and the lexer's
 * events as "{S text}", "{D data}" (consecutive pieces merged), "{E rows}".
 * After the last chunk, a stage that still waits gets eof (startup) or
 * ends as "[wait]".
 *
 * A Query or CopyData streams to the lexer as it comes, so when the stream
 * fails inside one (a NUL in a Query's text, an unterminated string), how
 * many of its statements were lexed before depends on the chunking (the
 * session has sent them to the target, whose transaction the failure rolls
 * back), and so is which of two faults in it is found first.  With
 * wd_settle set, such a failure drops what came after the last
 * ReadyForQuery and shows as "~[failed]".  Each chunk is copied into a buffer of its exact size
 * before it goes into the evbuffer, so that ASan sees a read past it.
 */
#ifndef PGSLUICE_WIREDRIVE_H
#define PGSLUICE_WIREDRIVE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lexer.h"
#include "pgwire.h"

struct wd_text {
	char *p;
	size_t len, cap;
	int in_data;
	size_t settled; /* len after the last ReadyForQuery */
};

static int wd_settle;

static void
wd_put(struct wd_text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		if (t->p == NULL)
			abort();
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
wd_puts(struct wd_text *t, const char *s)
{
	if (t->in_data) {
		wd_put(t, "}", 1);
		t->in_data = 0;
	}
	wd_put(t, s, strlen(s));
}

static void
wd_bytes(struct wd_text *t, const unsigned char *p, size_t n)
{
	char hex[8];
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			wd_put(t, (const char *)p + i, 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", p[i]);
			wd_put(t, hex, 4);
		}
	}
}

static uint32_t
wd_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * What pgwire wrote, drained from out.  messages: out holds whole
 * protocol messages, whose random parts are masked.
 */
static void
wd_output(struct wd_text *t, struct evbuffer *out, int messages)
{
	size_t n = evbuffer_get_length(out), o = 0;
	unsigned char *p;
	uint32_t len;

	if (n == 0)
		return;
	if (t->in_data)
		wd_puts(t, "");
	p = evbuffer_pullup(out, -1);
	while (messages && o + 5 <= n) {
		len = wd_get32(p + o + 1);
		if (len < 4 || o + 1 + len > n)
			break;
		if (p[o] == 'K') {
			wd_put(t, "K<key>", 6);
		} else if (p[o] == 'R' && len >= 8 && wd_get32(p + o + 5) == 11) {
			wd_put(t, "R<server-first>", 15);
		} else {
			wd_bytes(t, p + o, 1 + len);
			if (p[o] == 'Z')
				t->settled = t->len;
		}
		o += 1 + len;
	}
	wd_bytes(t, p + o, n - o);
	evbuffer_drain(out, n);
}

static void
wd_event(struct wd_text *t, const struct lexer_event *ev)
{
	char head[64];

	switch (ev->type) {
	case LEXER_COPY_DATA:
		if (!t->in_data)
			wd_puts(t, "{D ");
		t->in_data = 1;
		wd_bytes(t, (const unsigned char *)ev->data, ev->len);
		return;
	case LEXER_COPY_END:
		snprintf(head, sizeof(head), "{E %llu}", (unsigned long long)ev->rows);
		wd_puts(t, head);
		return;
	case LEXER_STATEMENT:
		wd_puts(t, "{S ");
		break;
	case LEXER_META:
		wd_puts(t, "{M ");
		break;
	default:
		wd_puts(t, "{T ");
		break;
	}
	wd_bytes(t, (const unsigned char *)ev->data, ev->len);
	wd_puts(t, "}");
}

static void
wd_result(struct wd_text *t, const char *what, const char *detail)
{
	wd_puts(t, "[");
	wd_puts(t, what);
	if (detail != NULL) {
		wd_puts(t, " ");
		wd_bytes(t, (const unsigned char *)detail, strlen(detail));
	}
	wd_puts(t, "]");
}

/*
 * A failure inside a streamed message: with wd_settle, back to the last
 * ReadyForQuery, "~[failed]", and 1; else 0 (the caller says what failed).
 */
static int
wd_unsettled(struct wd_text *t)
{
	if (!wd_settle)
		return 0;
	t->len = t->settled;
	t->p[t->len] = '\0';
	t->in_data = 0;
	wd_put(t, "~[failed]", 9);
	return 1;
}

enum wd_stage {
	WD_STARTUP,
	WD_AUTH,
	WD_PREDUMP,
	WD_STREAM,
	WD_END
};

/*
 * One step of the current stage.  Returns 1 when it got somewhere (a
 * result, or bytes taken or written), 0 when it waits for input.
 */
static int
wd_step(struct pgwire *w, enum wd_stage *stage, struct evbuffer *in, struct evbuffer *out,
        struct lexer *lx, struct wd_text *t, int eof)
{
	size_t before = evbuffer_get_length(in), produced, used, k;
	enum pgwire_startup_result st;
	enum pgwire_predump_result pre;
	enum pgwire_input pin;
	enum auth_result ar;
	struct lexer_event ev;
	char why[512], buf[4096];
	int r, progress;

	switch (*stage) {
	case WD_STARTUP:
		st = pgwire_startup(w, in, out, eof);
		wd_output(t, out, 0);
		switch (st) {
		case PGWIRE_START_WAIT:
			return evbuffer_get_length(in) != before;
		case PGWIRE_START_TLS:
			wd_result(t, "tls", NULL);
			evbuffer_add(out, "S", 1); /* what the session writes */
			wd_output(t, out, 0);
			pgwire_tls_started(w);
			return 1;
		case PGWIRE_START_DONE:
			wd_result(t, "startup", pgwire_param(w, "user"));
			*stage = WD_AUTH;
			return 1;
		case PGWIRE_START_CLOSE:
			wd_result(t, "close", NULL);
			*stage = WD_END;
			return 1;
		default:
			wd_result(t, "fail", pgwire_error(w));
			pgwire_refuse(w, out, PGWIRE_REFUSE_DEFAULT, pgwire_error(w));
			wd_output(t, out, 1);
			*stage = WD_END;
			return 1;
		}
	case WD_AUTH:
		why[0] = '\0';
		ar = pgwire_auth(w, in, out, why, sizeof(why));
		progress = evbuffer_get_length(out) > 0 || evbuffer_get_length(in) != before;
		wd_output(t, out, 1);
		if (ar == AUTH_MORE)
			return progress;
		if (ar == AUTH_FAIL) {
			wd_result(t, "auth-fail", why);
			pgwire_refuse(w, out, PGWIRE_REFUSE_DEFAULT, why);
			wd_output(t, out, 1);
			*stage = WD_END;
			return 1;
		}
		wd_result(t, "auth-ok", NULL);
		pgwire_ready(w, out, NULL);
		wd_output(t, out, 1);
		*stage = WD_PREDUMP;
		return 1;
	case WD_PREDUMP:
		pre = pgwire_predump(w, in, out);
		wd_output(t, out, 1);
		switch (pre) {
		case PGWIRE_PRE_WAIT:
			return evbuffer_get_length(in) != before;
		case PGWIRE_PRE_DUMP:
			wd_result(t, "dump", NULL);
			*stage = WD_STREAM;
			return 1;
		case PGWIRE_PRE_CLOSE:
			wd_result(t, "terminate", NULL);
			*stage = WD_END;
			return 1;
		default:
			snprintf(why, sizeof(why), "%d %s", (int)pgwire_refusal(w),
			         pgwire_error(w));
			wd_result(t, "refuse", why);
			*stage = WD_END;
			return 1;
		}
	case WD_STREAM:
		pin = pgwire_refill(w, in, out, lx, buf, sizeof(buf), &produced);
		wd_output(t, out, 1);
		switch (pin) {
		case PGWIRE_IN_WAIT:
			return evbuffer_get_length(in) != before;
		case PGWIRE_IN_FAIL:
			if (!wd_unsettled(t))
				wd_result(t, pgwire_fatal(w) ? "fatal" : "error", pgwire_error(w));
			*stage = WD_END;
			return 1;
		case PGWIRE_IN_TERMINATE:
			wd_result(t, "terminate", NULL);
			*stage = WD_END;
			return 1;
		default:
			break;
		}
		for (k = 0; k < produced; k += used) {
			r = lexer_scan(lx, buf + k, produced - k, &used, &ev);
			if (r == LEXER_ERROR) {
				if (!wd_unsettled(t))
					wd_result(t, "lexer", lexer_error(lx));
				*stage = WD_END;
				return 1;
			}
			if (r != LEXER_EVENT)
				break;
			wd_event(t, &ev);
			if (ev.type == LEXER_STATEMENT && lexer_in_copy(lx)) {
				pgwire_copy_in(w, out); /* the target took the COPY */
				wd_output(t, out, 1);
			}
		}
		return 1;
	default:
		return 0;
	}
}

/*
 * Drive a front end of cfg over in[0..len), cut where cuts[0..ncuts)
 * say (increasing offsets; the last chunk ends at len).  Returns the
 * malloc'd text.
 */
static char *
wd_run(const struct pgwire_config *cfg, const unsigned char *in, size_t len, const size_t *cuts,
       size_t ncuts)
{
	struct pgwire *w = pgwire_new(cfg);
	struct evbuffer *ein = evbuffer_new(), *eout = evbuffer_new();
	struct wd_text t = { NULL, 0, 0, 0, 0 };
	enum wd_stage stage = WD_STARTUP;
	struct lexer lx;
	size_t start = 0, k = 0, end, n;
	unsigned char *chunk;
	int eof = 0;

	if (w == NULL || ein == NULL || eout == NULL)
		abort();
	lexer_init(&lx, 0);
	wd_put(&t, "", 0);
	for (;;) {
		if (stage == WD_END)
			break;
		if (wd_step(w, &stage, ein, eout, &lx, &t, eof))
			continue;
		if (k <= ncuts) {
			end = k < ncuts ? cuts[k] : len;
			k++;
			if (end < start || end > len)
				continue;
			n = end - start;
			chunk = malloc(n ? n : 1);
			if (chunk == NULL)
				abort();
			memcpy(chunk, in + start, n);
			evbuffer_add(ein, chunk, n);
			free(chunk);
			start = end;
			continue;
		}
		if (stage == WD_STARTUP && !eof) {
			eof = 1;
			continue;
		}
		wd_result(&t, "wait", NULL);
		break;
	}
	wd_puts(&t, "");
	lexer_free(&lx);
	pgwire_free(w);
	evbuffer_free(ein);
	evbuffer_free(eout);
	return t.p;
}

#endif
