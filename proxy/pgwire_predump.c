/*
 * pgwire_predump.c - the queries a client sends before the dump's first
 * statement (psql's and pg_restore's setup, the BEGIN of -1): answered by
 * pgsluice itself, never handed to the lexer, until the first Query that
 * is the dump.
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
