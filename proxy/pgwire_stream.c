/*
 * pgwire_stream.c - the dump's messages during the import: Query,
 * CopyData/CopyDone/CopyFail and FunctionCall read without holding a body
 * whole (their bytes stream into the lexer's buffer, pgwire_refill), and
 * each statement's verdict against the client's transaction
 * (pgwire_statement).
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
