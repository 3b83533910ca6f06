/*
 * session_stream.c - the dump stream through to the target: the session's
 * pipeline (pipeline.h: decoder, lexer, rules and the limits on the whole
 * stream) set up for its front end, pulled and fed from the client
 * (session_next_event), its failures worded, and each event acted on
 * (session_handle): forwarding, COPY data and its end, the statements
 * pgsluice rewrites (a schema that exists), and the checks a forwarded
 * statement feeds (Synapse, verification).
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

/* The pipeline's own_statement: the front end's (a wire client's BEGIN, COMMIT). */
static int
session_own_statement(void *arg, const struct lexer_event *ev, struct rules_verdict *v)
{
	struct session *s = arg;

	return s->front->own_statement(s, ev, v);
}

/*
 * The pipeline for s->front's bytes: decoded unless they are SQL already,
 * ended by pg_dump's trailer if the front end says so; the rules come with
 * the stream (session_start_stream).  0, or -1 out of memory.
 */
int
session_pipeline_init(struct session *s)
{
	struct pipeline_config pc;

	memset(&pc, 0, sizeof(pc));
	pc.max_statement = s->cfg->rules->max_statement;
	pc.max_meta_line = s->cfg->max_meta_line;
	pc.max_ratio = s->cfg->max_gzip_ratio;
	pc.ends_at_trailer = s->front->ends_at_trailer;
	pc.plain_only = s->front->plain_sql;
	pc.own_statement = session_own_statement;
	pc.arg = s;
	return pipeline_init(&s->pipe, &pc);
}

/* The pipeline failed (pipeline_feed's -1, PIPELINE_ERROR): say why. */
void
session_pipeline_fail(struct session *s)
{
	const struct pipeline_failure *pf = pipeline_failure(&s->pipe);
	const struct decoder *d = &s->pipe.dec;
	double ratio = s->cfg->max_gzip_ratio;

	switch (pf->code) {
	case PIPELINE_OK:
		return;
	case PIPELINE_ERR_DECODE:
		session_fail(s, "the input is not a valid dump: %s (after %llu bytes)",
		             decoder_error(d), (unsigned long long)d->in_total);
		return;
	case PIPELINE_ERR_RATIO:
		session_fail(
			s,
			"the compressed input inflates more than %g times: %llu compressed "
			"bytes gave %llu bytes by line %llu (%s %s bomb? a dump compresses far "
			"less; --max-gzip-ratio %g, 0: no limit)",
			ratio, (unsigned long long)d->in_total, (unsigned long long)d->out_total,
			(unsigned long long)pf->line, d->kind == DECODER_LZ4 ? "an" : "a",
			decoder_format_name(d->kind), ratio);
		return;
	case PIPELINE_ERR_BOMB:
		session_fail(s,
		             "the input is not a dump: %llu compressed bytes inflate to more than "
		             "%llu bytes without a single complete SQL statement (%s %s bomb? "
		             "--max-gzip-ratio %g)",
		             (unsigned long long)d->in_total, (unsigned long long)d->out_total,
		             d->kind == DECODER_LZ4 ? "an" : "a", decoder_format_name(d->kind),
		             ratio);
		return;
	case PIPELINE_ERR_LEX:
		session_fail(s, "the dump cannot be read at line %llu: %s",
		             (unsigned long long)pf->line, lexer_error(&s->pipe.lx));
		return;
	case PIPELINE_ERR_META_LONG:
		session_fail(s,
		             "the psql meta-command that begins at line %llu is longer than %zu "
		             "bytes (--max-meta-line); pg_dump's are one short line",
		             (unsigned long long)pf->line, s->cfg->max_meta_line);
		return;
	case PIPELINE_ERR_AFTER_TRAILER:
		s->rep.statements = pf->statement; /* the refused statement was read */
		session_fail_stmt(
			s,
			"statement %llu at line %llu comes after the dump's trailer "
			"(\"-- PostgreSQL database dump complete\"): two dumps in one stream?",
			(unsigned long long)pf->statement, (unsigned long long)pf->line);
		return;
	case PIPELINE_ERR_CUT_COMPRESSED:
		if (s->trailer)
			session_fail(
				s,
				"the dump's SQL came whole, up to pg_dump's last line, but the "
				"input ended inside the compressed stream, before its end and "
				"checksum: %s; send the whole dump again",
				decoder_error(d));
		else
			s->front->truncated(s, pf->where, decoder_error(d));
		return;
	case PIPELINE_ERR_CUT:
	case PIPELINE_ERR_NO_TRAILER:
		s->front->truncated(s, pf->where, NULL);
		return;
	case PIPELINE_ERR_NO_MEMORY:
		session_fail(s, "out of memory");
		return;
	}
}

/*
 * Take the next event into s->pev, feeding the pipeline from the client
 * (s->front->refill) once it has used up what it holds.  Returns 1 with
 * an event, 0 when more input is needed (or the input ended cleanly after
 * the dump's end), -1 when the import failed.
 */
int
session_next_event(struct session *s)
{
	for (;;) {
		switch (pipeline_next(&s->pipe, &s->pev)) {
		case PIPELINE_EVENT:
			s->ev_pending = 1;
			return 1;
		case PIPELINE_ERROR:
			session_pipeline_fail(s);
			return -1;
		case PIPELINE_END:
			if (s->trailer)
				return 0;
			/* a wire client's stream needs no trailer, but its COMMIT */
			s->front->truncated(s, pipeline_failure(&s->pipe)->where, NULL);
			return -1;
		case PIPELINE_MORE:
			break;
		}
		if (s->front->refill(s) < 0)
			return -1;
		if (pipeline_pending(&s->pipe))
			continue;
		if (!s->cl.eof || (s->trailer && pipeline_complete(&s->pipe)))
			return 0;
		pipeline_eof(&s->pipe); /* the end of the input: is it a clean end? */
	}
}

static void
session_explain(struct session *s, const struct lexer_event *ev, const struct rules_verdict *v,
                const char *what)
{
	if (s->cfg->rules->explain)
		session_say(s, LOG_LEVEL_INFO, "explain: line %llu: rule %s %s: %s",
		            (unsigned long long)ev->line, v->rule ? v->rule : "?", what,
		            v->reason ? v->reason : "");
}

/* text as a NUL-terminated copy in s->sql (a rewrite, a wire query).  -1: failed. */
static int
session_sql_copy(struct session *s, const struct lexer_event *ev, const char *text, size_t len)
{
	s->sql.len = 0;
	if (textbuf_add(&s->sql, text, len) == 0)
		return 0;
	session_fail(s, "out of memory for statement %llu at line %llu (%zu bytes)",
	             (unsigned long long)s->rep.statements, (unsigned long long)ev->line, len);
	return -1;
}

/*
 * Forward text (a statement, or a rewrite) as the statement in flight.
 * It is sent from the lexer's buffer or s->sql, which stay as they are
 * until its results are in (session_pump_once trims them only then).
 */
static int
session_forward(struct session *s, const struct lexer_event *ev, const char *text, size_t len,
                int is_copy)
{
	const char *sql;

	if (memchr(text, '\0', len) != NULL) {
		session_fail_stmt(s,
		                  "statement %llu at line %llu holds a NUL byte, which PostgreSQL "
		                  "cannot take (is this a text dump?)",
		                  (unsigned long long)s->rep.statements,
		                  (unsigned long long)ev->line);
		return -1;
	}
	if (text == s->pev.ev.data && s->front->keeps_event_text) {
		/* the lexer's own buffer, NUL-terminated (lexer.h): sent from there */
		sql = text;
	} else if (session_sql_copy(s, ev, text, len) < 0) {
		return -1;
	} else {
		sql = s->sql.p;
	}
	s->cur_no = s->rep.statements;
	s->cur_line = ev->line;
	s->cur_is_copy = is_copy;
	s->cur_tag[0] = '\0';
	text_excerpt(text, len, SESSION_EXCERPT, s->cur_excerpt, sizeof(s->cur_excerpt));
	if (is_copy)
		report_copy_start(&s->rep, s->pipe.lx.copy_table);
	report_sent(&s->rep, text, len, is_copy);
	s->sent_any = 1;
	return s->sink->send(s, sql, len, is_copy);
}

/* ---- Synapse checks and verification (synapse.h, verify.h) ---------- */

/* A statement about to be forwarded: what the checks learn from it.  -1: failed. */
static int
session_inspect(struct session *s, const struct lexer_event *ev, const char *text, size_t len)
{
	char msg[1536], w[4][32];
	int n = sqltok_leading_words(text, len, ev->std_strings, w, 4);

	if (n >= 2 && strcmp(w[0], "create") == 0 &&
	    (strcmp(w[1], "table") == 0 ||
	     (n >= 3 && strcmp(w[2], "table") == 0 &&
	      (strcmp(w[1], "unlogged") == 0 || strcmp(w[1], "foreign") == 0))))
		s->dump_tables++;
	if (synapse_statement(&s->syn, text, len, ev->std_strings, msg, sizeof(msg)) < 0) {
		session_fail(s, "%s", msg);
		return -1;
	}
	if (verify_statement(&s->ver, text, len, ev->std_strings, ev->line) < 0) {
		session_fail(s, "out of memory remembering the dump's sequences");
		return -1;
	}
	return 0;
}

/* A forwarded COPY's "\." arrived: rows counted; Synapse versions compared.  -1: failed. */
int
session_copy_ending(struct session *s, const struct lexer_event *ev)
{
	char msg[1024];

	verify_copy_end(&s->ver, ev->rows);
	switch (synapse_copy_end(&s->syn, ev->rows, msg, sizeof(msg))) {
	case SYNAPSE_NOTE_REFUSE:
		session_fail(s, "%s", msg);
		return -1;
	case SYNAPSE_NOTE_WARN:
		session_say(s, LOG_LEVEL_WARN, "warning: synapse: %s", msg);
		return 0;
	case SYNAPSE_NOTE_INFO:
		session_say(s, LOG_LEVEL_INFO, "synapse: %s", msg);
		return 0;
	default:
		return 0;
	}
}

/*
 * --clear-target empties a --schema but keeps it: a dump that creates that
 * schema (pg_dump writes "CREATE SCHEMA extra;" for every schema but
 * public) would fail on "already exists".  Such a statement is sent as
 * CREATE SCHEMA IF NOT EXISTS (into s->fixed).  1: rewritten.
 */
static int
session_schema_exists_fix(struct session *s, const struct lexer_event *ev, const char *text,
                          size_t len)
{
	struct sqltok_iter it;
	struct sqltok t;
	char name[128];
	size_t at;
	int i;

	if (!s->cfg->clear_target || s->cleared == NULL)
		return 0;
	sqltok_init(&it, text, len, ev->std_strings);
	if (sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "create") ||
	    sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "schema"))
		return 0;
	at = (size_t)(t.p + t.len - text);
	if (sqltok_next(&it, &t) != SQLTOK_WORD && t.type != SQLTOK_QIDENT)
		return 0;
	if (sqltok_is(&t, "if"))
		return 0;
	sqltok_name(&t, name, sizeof(name));
	for (i = 0; i < s->cfg->n_schemas; i++) {
		if (strcmp(name, s->cfg->schemas[i]) != 0)
			continue;
		free(s->fixed);
		s->fixed = malloc(len + 32);
		if (s->fixed == NULL)
			return 0;
		snprintf(s->fixed, len + 32, "CREATE SCHEMA IF NOT EXISTS%.*s", (int)(len - at),
		         text + at);
		if (s->cfg->rules->explain)
			session_say(
				s, LOG_LEVEL_INFO,
				"explain: line %llu: pgsluice rewrote: CREATE "
				"SCHEMA %s becomes CREATE SCHEMA IF NOT EXISTS (--clear-target emptied "
				"it and kept it)",
				(unsigned long long)ev->line, name);
		return 1;
	}
	return 0;
}

/*
 * Act on s->pev (its verdict given by the pipeline).  Returns 1 when it is
 * done (the pipeline may pass over its bytes), 0 when it must be retried
 * once the target drains, -1 when the import failed.
 */
int
session_handle(struct session *s)
{
	const struct lexer_event *ev = &s->pev.ev;
	const struct rules_verdict *v = &s->pev.v;
	int r, in_copy = s->pev.in_copy;

	switch (ev->type) {
	case LEXER_STATEMENT:
		s->rep.statements++;
		if (s->front->statement(s, ev, v, in_copy) <= 0)
			return s->error != NULL ? -1 : 1;
		switch (v->action) {
		case RULES_DROP:
			session_explain(s, ev, v, "dropped");
			if (in_copy)
				s->skip_copy = 1;
			return 1;
		case RULES_REFUSE:
			text_excerpt(ev->data, ev->len, SESSION_EXCERPT, s->cur_excerpt,
			             sizeof(s->cur_excerpt));
			session_fail_stmt(
				s,
				"statement %llu at line %llu refused (rule %s): %s\n  statement: %s",
				(unsigned long long)s->rep.statements, (unsigned long long)ev->line,
				v->rule ? v->rule : "?", v->reason ? v->reason : "",
				s->cur_excerpt);
			return -1;
		case RULES_REWRITE:
			session_explain(s, ev, v, "rewrote");
			/* fall through */
		case RULES_FORWARD:
			if (session_inspect(s, ev, v->text, v->len) < 0)
				return -1;
			if (classify_sets_lock_timeout(v->text, v->len, ev->std_strings)) {
				/* pg_dump's "SET lock_timeout = 0" would undo --lock-timeout */
				if (s->cfg->rules->explain)
					session_say(
						s, LOG_LEVEL_INFO,
						"explain: line %llu: pgsluice rewrote: "
						"the dump's SET lock_timeout becomes %s (--lock-timeout)",
						(unsigned long long)ev->line, s->lock_set);
				return session_forward(s, ev, s->lock_set, strlen(s->lock_set), 0) <
				                       0
				               ? -1
				               : 1;
			}
			if (session_schema_exists_fix(s, ev, v->text, v->len))
				return session_forward(s, ev, s->fixed, strlen(s->fixed), 0) < 0
				               ? -1
				               : 1;
			return session_forward(s, ev, v->text, v->len, in_copy) < 0 ? -1 : 1;
		}
		return 1;

	case LEXER_COPY_DATA:
		if (s->skip_copy)
			return 1;
		if (!s->copy_open) {
			session_fail(s, "internal error: COPY data at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		r = s->sink->copy_data(s, ev->data, ev->len);
		if (r == 1) {
			s->rep.copy_rows =
				s->pipe.lx.copy_rows; /* the lexer counts the lines already */
			synapse_copy_data(&s->syn, ev->data, ev->len);
			return 1;
		}
		if (r == 0)
			return 0;
		s->copy_open = 0;
		if (s->target.state == TARGET_BROKEN) {
			session_fail(s, "%s", target_error(&s->target));
			return -1;
		}
		return 0; /* the server ended the COPY: its error follows (TARGET_EV_IDLE) */

	case LEXER_COPY_END:
		if (s->skip_copy) {
			s->skip_copy = 0;
			return 1;
		}
		if (!s->copy_open) {
			session_fail(s,
			             "internal error: end of COPY at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		return s->sink->copy_end(s, ev);

	case LEXER_META:
		switch (v->action) {
		case RULES_DROP:
			session_explain(s, ev, v, "dropped");
			return 1;
		case RULES_REWRITE:
			session_explain(s, ev, v, "rewrote");
			s->rep.statements++;
			return session_forward(s, ev, v->text, v->len, 0) < 0 ? -1 : 1;
		case RULES_REFUSE:
		case RULES_FORWARD:
			text_excerpt(ev->data, ev->len, SESSION_EXCERPT, s->cur_excerpt,
			             sizeof(s->cur_excerpt));
			session_fail(
				s,
				"psql meta-command at line %llu refused (rule %s): %s\n  line: %s",
				(unsigned long long)ev->line, v->rule ? v->rule : "meta",
				v->action == RULES_REFUSE && v->reason
					? v->reason
					: "pgsluice cannot run meta-commands",
				s->cur_excerpt);
			return -1;
		}
		return 1;

	case LEXER_TRAILER:
		s->front->trailer(s, ev);
		return 1;
	}
	return 1;
}
