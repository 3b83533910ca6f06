/*
 * pgwire_after.c - the end of an import over the PostgreSQL protocol: the
 * final ErrorResponse or CommandComplete, and the messages that come after
 * it (answered or drained until the client goes).
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
