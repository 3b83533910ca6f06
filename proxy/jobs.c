/*
 * jobs.c - `serve --jobs N`: the statements and COPY data of one import
 * spread over N target connections (jobs.h).
 *
 * Kept apart from session.c so that the single-transaction path stays as
 * it is: the session hands the engine what it would have sent, and the
 * engine decides where and when it runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "deps.h"
#include "jobs.h"
#include "log.h"
#include "pgerr.h"
#include "preflight.h"
#include "target.h"
#include "text.h"

#define JOBS_BATCH (4 * 1024 * 1024) /* a batch is cut at the last line end before this */
#define JOBS_PUT (256 * 1024)        /* COPY data handed to libpq at once */
#define JOBS_EXCERPT 160
#define JOBS_TERMINATE_MS 10000 /* pg_terminate_backend(pid, timeout) */
#define JOBS_QUEUE 64           /* statements that may wait for a connection (look-ahead) */
#define JOBS_QUEUE_BYTES (64 * 1024 * 1024) /* ... and their bytes: no more is taken past this */

/*
 * Every engine connection's own settings.  The parallelism is across the
 * connections: an index build that also started parallel workers would
 * only take cores from the other connections (measured on 2 cores: 8 %
 * slower).  Commits need not wait for the WAL flush: the import is only
 * reported done after the session's own connection commits the end
 * (jobs_end), whose flush covers all the WAL written before it, and a
 * target that crashes before that leaves an import that failed anyway.
 */
#define JOBS_SETTINGS                                                               \
	"SET max_parallel_maintenance_workers = 0; SET synchronous_commit = off;\n" \
	"SET standard_conforming_strings = on;\n" /* the lexer starts so */

enum jobs_phase {
	JOBS_PRE,        /* pre-data on connection 0, in a transaction */
	JOBS_COMMITTING, /* its COMMIT is in flight */
	JOBS_DATA,       /* data and post-data, autocommit on any connection */
};

/* JOBS_BEGIN: connection 0's first item, pgsluice's BEGIN and aside schemas */
enum jobs_kind {
	JOBS_STMT,
	JOBS_BATCH_ITEM,
	JOBS_BEGIN,
	JOBS_COMMIT
};

struct jobs_buf {
	char *p;
	size_t len, cap;
};

struct jobs_item {
	enum jobs_kind kind;
	struct jobs_buf text;    /* the statement, or the batch's COPY command; NUL-terminated */
	struct jobs_buf data;    /* a batch's lines */
	int table;               /* a batch's table (index in tables) */
	struct deps_touch touch; /* the tables it touches */
	int is_set;              /* a session setting: joins the prelude when it starts */
	int own;                 /* pgsluice's own script (simple protocol), not the dump's */
	int std_strings;         /* standard_conforming_strings the lexer assumes after it */
	uint64_t no, line;
};

struct jobs_table {
	char name[DEPS_KEY];
	uint64_t lines, tagged;
	int pending, ended;
};

enum jobs_stage {
	JOBS_ST_FREE,
	JOBS_ST_PRELUDE,
	JOBS_ST_MAIN,
	JOBS_ST_PUT,
	JOBS_ST_END
};

struct jobs_conn {
	struct jobs *j;
	int idx;
	struct target t;
	int up;
	enum jobs_stage stage;
	struct jobs_item it;
	size_t put;
	unsigned prelude_gen;
	size_t prelude_pos;       /* PRELUDE: the piece being sent (offset in prelude) */
	int in_txn;               /* a transaction of ours is open (connection 0, pre-data) */
	struct event *ev_timeout; /* --statement-timeout of the dump's statement in flight */
	char tag[40];             /* the command tag of the last result */
	char who[160];
	struct pgerr srv; /* the server's error for the item in flight */
};

struct jobs {
	struct jobs_config cfg;
	struct jobs_conn conns[JOBS_MAX];
	int n_up;
	enum jobs_phase phase;
	int commit_queued; /* pre-data's COMMIT is queued (once) */
	int failed;
	char error[1500];
	const char *state; /* the target's state when a statement ended pre-data's
	                           * transaction (jobs_state); NULL otherwise */

	/*
	 * Session settings, replayed on each connection: NUL-separated pieces,
	 * each sent alone; the first is pgsluice's own script, the others are
	 * the dump's statements.
	 */
	struct jobs_buf prelude;
	unsigned prelude_gen;

	struct jobs_item queue[JOBS_QUEUE]; /* wait for a connection, in dump order */
	int n_queue;
	int n_queued_batches; /* of them, COPY batches (at most one) */
	size_t queued_bytes;  /* their text and data */
	int finishing;

	/* the COPY being read */
	struct jobs_buf copy_sql;
	struct jobs_buf acc;
	int copy_table;
	uint64_t copy_no, copy_line;
	int copy_std_strings;

	struct jobs_table *tables;
	size_t n_tables, cap_tables;
	struct deps deps; /* the dump's table hierarchies */

	struct event *ev_notify;
	int notify_ready, notify_failed;
	size_t batch; /* JOBS_BATCH, or PGSLUICE_JOBS_BATCH (tests) */
};

static void jobs_kick(struct jobs *j);
static int jobs_cat(struct jobs_buf *b, const char *s);
static void jobs_start_item(struct jobs_conn *c);

/* ---- small things ------------------------------------------------------ */

static int
jobs_buf_add(struct jobs_buf *b, const char *p, size_t n)
{
	size_t cap;
	char *q;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (q == NULL)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static void
jobs_buf_free(struct jobs_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
jobs_item_free(struct jobs_item *it)
{
	jobs_buf_free(&it->text);
	jobs_buf_free(&it->data);
	memset(it, 0, sizeof(*it));
}

static void
jobs_on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *j = arg;
	(void)fd;
	(void)what;

	if (j->notify_failed == 1) {
		j->notify_failed = 2;
		j->notify_ready = 0;
		j->cfg.fn(j->cfg.arg, JOBS_EV_FAILED, j->error);
		return;
	}
	if (j->notify_ready) {
		j->notify_ready = 0;
		j->cfg.fn(j->cfg.arg, JOBS_EV_READY, NULL);
	}
}

static void
jobs_notify(struct jobs *j)
{
	j->notify_ready = 1;
	event_active(j->ev_notify, EV_TIMEOUT, 0);
}

static void jobs_fail(struct jobs *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
jobs_fail(struct jobs *j, const char *fmt, ...)
{
	va_list ap;

	if (j->failed)
		return;
	j->failed = 1;
	va_start(ap, fmt);
	vsnprintf(j->error, sizeof(j->error), fmt, ap);
	va_end(ap);
	j->notify_failed = 1;
	event_active(j->ev_notify, EV_TIMEOUT, 0);
}

/* ---- scheduling ---------------------------------------------------------- */

static int
jobs_in_flight(const struct jobs *j)
{
	int i, n = 0;

	for (i = 0; i < j->cfg.n; i++)
		if (j->conns[i].stage != JOBS_ST_FREE)
			n++;
	return n;
}

/*
 * 1 when queue[q] may start now: beside what runs, and ahead of the items
 * queued before it (it passes them only if it shares no table with them:
 * per table, dump order is kept).
 */
static int
jobs_can_start(const struct jobs *j, int q)
{
	const struct jobs_item *it = &j->queue[q];
	int i;

	if (j->phase == JOBS_COMMITTING)
		return 0;
	if (j->phase == JOBS_PRE || it->kind == JOBS_COMMIT)
		return q == 0 && j->conns[0].up && j->conns[0].stage == JOBS_ST_FREE;
	if (it->touch.barrier && (q > 0 || jobs_in_flight(j) > 0))
		return 0;
	for (i = 0; i < q; i++)
		if (deps_conflict(&j->queue[i].touch, &it->touch))
			return 0;
	for (i = 0; i < j->cfg.n; i++)
		if (j->conns[i].stage != JOBS_ST_FREE &&
		    deps_conflict(&j->conns[i].it.touch, &it->touch))
			return 0;
	return 1;
}

static struct jobs_conn *
jobs_free_conn(struct jobs *j, const struct jobs_item *it)
{
	int i;

	if (j->phase != JOBS_DATA || it->kind == JOBS_COMMIT)
		return j->conns[0].up && j->conns[0].stage == JOBS_ST_FREE ? &j->conns[0] : NULL;
	for (i = 0; i < j->cfg.n; i++)
		if (j->conns[i].up && j->conns[i].stage == JOBS_ST_FREE)
			return &j->conns[i];
	return NULL;
}

/* Start the queued items that may run, on free connections. */
static void
jobs_kick(struct jobs *j)
{
	struct jobs_conn *c;
	int q, started = 0;

	for (q = 0; q < j->n_queue && !j->failed;) {
		if (!jobs_can_start(j, q) || (c = jobs_free_conn(j, &j->queue[q])) == NULL) {
			if (j->phase != JOBS_DATA)
				break;
			q++;
			continue;
		}
		c->it = j->queue[q];
		j->queued_bytes -= c->it.text.len + c->it.data.len;
		if (c->it.kind == JOBS_BATCH_ITEM)
			j->n_queued_batches--;
		if (c->it.is_set) {
			if (jobs_buf_add(&j->prelude, c->it.text.p, c->it.text.len + 1) < 0) {
				jobs_fail(j, "out of memory");
				return;
			}
			j->prelude_gen++;
			if (j->phase == JOBS_PRE)
				c->prelude_gen = j->prelude_gen; /* it runs there now */
		}
		memmove(&j->queue[q], &j->queue[q + 1],
		        (size_t)(j->n_queue - q - 1) * sizeof(j->queue[0]));
		j->n_queue--;
		memset(&j->queue[j->n_queue], 0, sizeof(j->queue[0]));
		if (c->it.kind == JOBS_COMMIT)
			j->phase = JOBS_COMMITTING;
		jobs_start_item(c);
		started = 1;
	}
	if (started)
		jobs_notify(j);
}

/* ---- one connection ------------------------------------------------------ */

/* --statement-timeout: the dump's statement on c has run that long */
static void
jobs_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct jobs_conn *c = arg;
	(void)fd;
	(void)what;

	if (c->t.state != TARGET_BUSY || c->stage == JOBS_ST_FREE)
		return;
	/* the session's ending (jobs_end) terminates the engine's backends */
	jobs_fail(c->j,
	          "statement %llu at line %llu ran longer than --statement-timeout %d s on "
	          "--jobs connection %d: cancelled",
	          (unsigned long long)c->it.no, (unsigned long long)c->it.line,
	          c->j->cfg.statement_timeout, c->idx);
}

/*
 * own: a script of pgsluice's (simple protocol); else one dump statement
 * (target.h), kept: from the item on c, which lives until its results are in.
 */
static void
jobs_send(struct jobs_conn *c, const char *sql, int own, int kept)
{
	struct timeval tv = { c->j->cfg.statement_timeout, 0 };
	int r = own    ? target_send_script(&c->t, sql)
	        : kept ? target_send_kept(&c->t, sql)
	               : target_send(&c->t, sql);

	if (r < 0) {
		jobs_fail(c->j, "--jobs connection %d: %s", c->idx, target_error(&c->t));
		return;
	}
	if (c->ev_timeout != NULL) {
		if (own)
			evtimer_del(c->ev_timeout);
		else
			evtimer_add(c->ev_timeout, &tv);
	}
}

/* The prelude's piece at c->prelude_pos. */
static void
jobs_send_prelude(struct jobs_conn *c)
{
	/* the prelude grows while connections send from it: copied */
	jobs_send(c, c->j->prelude.p + c->prelude_pos, c->prelude_pos == 0, 0);
}

/* The item's own text: pgsluice's (BEGIN, COMMIT, jobs_own), or the dump's. */
static void
jobs_send_item(struct jobs_conn *c)
{
	jobs_send(c, c->it.text.p,
	          c->it.kind == JOBS_BEGIN || c->it.kind == JOBS_COMMIT || c->it.own, 1);
}

/*
 * After a command on c that did not fail: is the connection where the
 * engine thinks it is?  Connection 0's pre-data runs in a transaction of
 * ours (JOBS_BEGIN to JOBS_COMMIT), everything else autocommits; the
 * server's standard_conforming_strings must be what the lexer read the
 * dump with.  0: yes; -1: the import failed (the truth in its message).
 */
static int
jobs_check_conn(struct jobs_conn *c)
{
	struct jobs *j = c->j;
	PGTransactionStatusType ts = PQtransactionStatus(c->t.conn);
	const char *scs = PQparameterStatus(c->t.conn, "standard_conforming_strings");
	int main_stage = c->stage != JOBS_ST_PRELUDE;
	int want_txn = c->in_txn;

	if (main_stage && c->it.kind == JOBS_BEGIN)
		want_txn = 1;
	else if (main_stage && c->it.kind == JOBS_COMMIT)
		want_txn = 0;
	c->in_txn = want_txn;
	if (want_txn && ts != PQTRANS_INTRANS) {
		if (strncmp(c->tag, "ROLLBACK", 8) == 0)
			j->state =
				"the target rolled pre-data back at that statement: it is as it was "
				"before the import (nothing after that statement ran)";
		else if (strcmp(c->tag, "PREPARE TRANSACTION") == 0)
			j->state =
				"pre-data up to that statement is a PREPARED transaction on the "
				"target, holding its locks: pg_prepared_xacts lists it, ROLLBACK "
				"PREPARED undoes it";
		else
			j->state =
				"pre-data up to that statement may be committed (nothing after it "
				"ran): the --jobs undo removes what it created; look at the target";
		jobs_fail(j,
		          "statement %llu at line %llu ended the pre-data transaction on --jobs "
		          "connection %d (the target answered %s and says %s after it): an import "
		          "runs in transactions that only pgsluice ends",
		          (unsigned long long)c->it.no, (unsigned long long)c->it.line, c->idx,
		          c->tag[0] ? c->tag : "?",
		          ts == PQTRANS_IDLE ? "no transaction is open"
		                             : "the transaction is not usable");
		return -1;
	}
	if (!want_txn && ts != PQTRANS_IDLE) {
		jobs_fail(
			j,
			"statement %llu at line %llu left a transaction open on --jobs connection "
			"%d, where every statement commits by itself: nothing of it is kept (the "
			"connection is closed, which rolls it back)",
			(unsigned long long)c->it.no, (unsigned long long)c->it.line, c->idx);
		return -1;
	}
	/* pgsluice's own scripts hold no string the setting changes: only the dump's are checked */
	if (main_stage && c->it.kind != JOBS_BEGIN && c->it.kind != JOBS_COMMIT && !c->it.own &&
	    scs != NULL && (strcmp(scs, "on") == 0) != (c->it.std_strings != 0)) {
		jobs_fail(
			j,
			"statement %llu at line %llu left standard_conforming_strings %s on "
			"--jobs connection %d, but pgsluice reads the dump after it with it %s: the "
			"server would split the rest differently; the import is refused",
			(unsigned long long)c->it.no, (unsigned long long)c->it.line, scs, c->idx,
			c->it.std_strings ? "on" : "off");
		return -1;
	}
	return 0;
}

static void
jobs_start_item(struct jobs_conn *c)
{
	struct jobs *j = c->j;

	c->put = 0;
	pgerr_clear(&c->srv);
	if (c->prelude_gen != j->prelude_gen && c->it.kind != JOBS_COMMIT) {
		c->stage = JOBS_ST_PRELUDE;
		c->prelude_pos = 0;
		jobs_send_prelude(c);
		return;
	}
	c->stage = JOBS_ST_MAIN;
	jobs_send_item(c);
}

static void
jobs_put(struct jobs_conn *c)
{
	size_t n;
	int r;

	while (c->put < c->it.data.len) {
		if (c->t.flushing)
			return; /* TARGET_EV_DRAINED */
		n = c->it.data.len - c->put;
		if (n > JOBS_PUT)
			n = JOBS_PUT;
		r = target_put_copy(&c->t, c->it.data.p + c->put, n);
		if (r == 0)
			return; /* TARGET_EV_DRAINED: the same piece again, and only its rest is sent */
		if (r < 0) {
			if (c->t.state == TARGET_BROKEN)
				jobs_fail(c->j, "--jobs connection %d: %s", c->idx,
				          target_error(&c->t));
			c->stage = JOBS_ST_END; /* the server's error follows */
			return;
		}
		c->put += n;
	}
	if (c->t.flushing)
		return;
	r = target_end_copy(&c->t, NULL);
	if (r == 0)
		return; /* TARGET_EV_DRAINED */
	if (r < 0) {
		jobs_fail(c->j, "--jobs connection %d: %s", c->idx, target_error(&c->t));
		return;
	}
	c->stage = JOBS_ST_END;
}

static void
jobs_check_table(struct jobs *j, struct jobs_table *tb)
{
	if (!tb->ended || tb->pending > 0)
		return;
	if (tb->tagged != tb->lines)
		jobs_fail(j,
		          "COPY of %s: the target took %llu rows in its batches, the dump has %llu "
		          "data lines",
		          tb->name, (unsigned long long)tb->tagged, (unsigned long long)tb->lines);
}

/* The item on c is done (all its results are in). */
static void
jobs_item_done(struct jobs_conn *c)
{
	struct jobs *j = c->j;
	char ex[JOBS_EXCERPT * 4 + 8], *srv;

	if (c->srv.set) {
		text_excerpt(c->it.text.p, c->it.text.len, JOBS_EXCERPT, ex, sizeof(ex));
		srv = pgerr_text(&c->srv);
		if (c->it.kind == JOBS_BATCH_ITEM)
			jobs_fail(j,
			          "COPY at line %llu failed (a batch of %s on connection %d): %s\n"
			          "  statement: %s",
			          (unsigned long long)c->it.line, j->tables[c->it.table].name,
			          c->idx, srv ? srv : "out of memory", ex);
		else if (c->stage == JOBS_ST_PRELUDE)
			jobs_fail(j, "the session settings failed on connection %d: %s", c->idx,
			          srv ? srv : "out of memory");
		else
			jobs_fail(j, "statement %llu at line %llu failed: %s\n  statement: %s",
			          (unsigned long long)c->it.no, (unsigned long long)c->it.line,
			          srv ? srv : "out of memory", ex);
		free(srv);
		return;
	}
	if (jobs_check_conn(c) < 0)
		return;
	if (c->stage == JOBS_ST_PRELUDE) {
		c->prelude_pos += strlen(j->prelude.p + c->prelude_pos) + 1;
		if (c->prelude_pos < j->prelude.len) {
			jobs_send_prelude(c);
			return;
		}
		c->prelude_gen = j->prelude_gen;
		c->stage = JOBS_ST_MAIN;
		jobs_send_item(c);
		return;
	}
	if (c->it.kind == JOBS_COMMIT)
		j->phase = JOBS_DATA;
	if (c->it.kind == JOBS_BATCH_ITEM) {
		j->tables[c->it.table].pending--;
		jobs_check_table(j, &j->tables[c->it.table]);
	}
	jobs_item_free(&c->it);
	c->stage = JOBS_ST_FREE;
	jobs_kick(j);
	jobs_notify(j);
}

static void
jobs_on_target(void *arg, enum target_event ev, PGresult *res)
{
	struct jobs_conn *c = arg;
	struct jobs *j = c->j;
	ExecStatusType st;

	switch (ev) {
	case TARGET_EV_CONNECTED:
		c->up = 1;
		j->n_up++;
		log_debug(c->who, "--jobs connection %d up (backend pid %d)", c->idx,
		          PQbackendPID(c->t.conn));
		if (c->stage != JOBS_ST_FREE)
			jobs_start_item(c); /* connection 0's BEGIN */
		else
			jobs_kick(j);
		jobs_notify(j);
		return;
	case TARGET_EV_RESULT:
		st = PQresultStatus(res);
		snprintf(c->tag, sizeof(c->tag), "%s", PQcmdStatus(res));
		if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
			pgerr_save(&c->srv, res);
		} else if (c->it.kind == JOBS_BATCH_ITEM && c->stage == JOBS_ST_END &&
		           strncmp(PQcmdStatus(res), "COPY", 4) == 0) {
			j->tables[c->it.table].tagged += strtoull(PQcmdTuples(res), NULL, 10);
		}
		return;
	case TARGET_EV_IDLE:
		if (c->stage != JOBS_ST_FREE)
			jobs_item_done(c);
		return;
	case TARGET_EV_COPY:
		if (c->it.kind != JOBS_BATCH_ITEM) {
			jobs_fail(j, "statement %llu at line %llu started a COPY FROM STDIN",
			          (unsigned long long)c->it.no, (unsigned long long)c->it.line);
			return;
		}
		c->stage = JOBS_ST_PUT;
		jobs_put(c);
		return;
	case TARGET_EV_DRAINED:
		if (c->stage == JOBS_ST_PUT)
			jobs_put(c);
		return;
	case TARGET_EV_FAILED:
		c->up = 0;
		jobs_fail(j, "--jobs connection %d: %s", c->idx, target_error(&c->t));
		return;
	}
}

/* ---- SQL of the beginning and the end ---------------------------------- */

/* 'text' with quotes doubled (standard_conforming_strings is on from 9.1) */
static int
jobs_literal(struct jobs_buf *b, const char *s)
{
	if (jobs_buf_add(b, "'", 1) < 0)
		return -1;
	for (; *s; s++)
		if (jobs_buf_add(b, s, 1) < 0 || (*s == '\'' && jobs_buf_add(b, "'", 1) < 0))
			return -1;
	return jobs_buf_add(b, "'", 1);
}

static int
jobs_cat(struct jobs_buf *b, const char *s)
{
	return jobs_buf_add(b, s, strlen(s));
}

/* ARRAY['public','x']::text[] of the target schemas, or of their aside names */
static int
jobs_schema_array(struct jobs *j, struct jobs_buf *b, int aside)
{
	char name[64];
	int i;

	if (jobs_cat(b, "ARRAY[") < 0)
		return -1;
	for (i = 0; i < j->cfg.n_schemas; i++) {
		snprintf(name, sizeof(name), "pgsluice_aside_%d", i);
		if ((i > 0 && jobs_cat(b, ",") < 0) ||
		    jobs_literal(b, aside ? name : j->cfg.schemas[i]) < 0)
			return -1;
	}
	return jobs_cat(b, "]::text[]");
}

/*
 * A DO block.  mode 0: create the aside schemas and (move_aside) move the
 * target schemas' objects into them.  mode 1: where an aside schema exists,
 * drop what its target schema holds now and move the aside objects back,
 * then drop it.
 */
static char *
jobs_do_block(struct jobs *j, int mode, int move)
{
	struct jobs_buf b = { 0 };
	char *core = preflight_sql_objects_core("= src"), *objs;
	size_t n;
	int bad = 0;

	/* the objects of schema `src` (a PL/pgSQL variable) that move on their own */
	if (core == NULL)
		return NULL;
	n = strlen(core) + 96;
	objs = malloc(n);
	if (objs == NULL) {
		free(core);
		return NULL;
	}
	snprintf(objs, n, "SELECT o.kw, o.ident AS id FROM (\n%s) o WHERE NOT o.follows\n", core);
	free(core);
	bad |= jobs_cat(&b, "DO $pgsluice$\nDECLARE\n  r record; i int; src text; dst text;\n"
	                    "  tgt text[] := ");
	bad |= jobs_schema_array(j, &b, 0);
	bad |= jobs_cat(&b, ";\n  aside text[] := ");
	bad |= jobs_schema_array(j, &b, 1);
	bad |= jobs_cat(&b, ";\nBEGIN\n  FOR i IN 1 .. pg_catalog.array_length(tgt, 1) LOOP\n");
	if (mode == 0) {
		bad |= jobs_cat(&b,
		                "    EXECUTE pg_catalog.format('CREATE SCHEMA %I', aside[i]);\n");
		if (move) {
			bad |= jobs_cat(&b, "    src := tgt[i]; dst := aside[i];\n    FOR r IN\n");
			bad |= jobs_cat(&b, objs);
			bad |= jobs_cat(
				&b, "    LOOP\n      EXECUTE pg_catalog.format('ALTER %s %s SET "
				    "SCHEMA %I', r.kw, r.id, dst);\n    END LOOP;\n");
		}
	} else {
		bad |= jobs_cat(
			&b, "    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace"
			    " WHERE nspname = aside[i]);\n");
		bad |= jobs_cat(&b, "    src := tgt[i];\n    FOR r IN\n");
		bad |= jobs_cat(&b, objs);
		bad |= jobs_cat(&b,
		                "    LOOP\n      EXECUTE pg_catalog.format('DROP %s IF EXISTS %s "
		                "CASCADE', r.kw, r.id);\n    END LOOP;\n");
		bad |= jobs_cat(&b, "    src := aside[i]; dst := tgt[i];\n    FOR r IN\n");
		bad |= jobs_cat(&b, objs);
		bad |= jobs_cat(&b, "    LOOP\n      EXECUTE pg_catalog.format('ALTER %s %s SET "
		                    "SCHEMA %I', r.kw, r.id, dst);\n    END LOOP;\n");
		bad |= jobs_cat(&b, "    EXECUTE pg_catalog.format('DROP SCHEMA %I', aside[i]);\n");
	}
	bad |= jobs_cat(&b, "  END LOOP;\nEND\n$pgsluice$;\n");
	free(objs);
	if (bad) {
		jobs_buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* ---- the public side ----------------------------------------------------- */

struct jobs *
jobs_new(const struct jobs_config *cfg, char *err, size_t errsize)
{
	struct jobs *j;
	struct jobs_conn *c;
	char *block;
	int i;

	for (i = 0; i < cfg->n_schemas; i++) {
		if (strstr(cfg->schemas[i], "$pgsluice$") != NULL) {
			snprintf(err, errsize, "--jobs cannot handle the schema name %s",
			         cfg->schemas[i]);
			return NULL;
		}
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	j->cfg = *cfg;
	j->copy_table = -1;
	/* tests cut small batches to exercise the cutting on small fixtures */
	j->batch = getenv("PGSLUICE_JOBS_BATCH") != NULL
	                   ? strtoul(getenv("PGSLUICE_JOBS_BATCH"), NULL, 10)
	                   : JOBS_BATCH;
	if (j->batch < 1024 || j->batch > JOBS_BATCH)
		j->batch = JOBS_BATCH;
	j->ev_notify = event_new(cfg->base, -1, 0, jobs_on_notify, j);
	block = jobs_do_block(j, 0, cfg->move_aside);
	if (j->ev_notify == NULL || block == NULL || jobs_cat(&j->prelude, JOBS_SETTINGS) < 0 ||
	    jobs_cat(&j->prelude, cfg->lock_set) < 0 || jobs_buf_add(&j->prelude, "\n", 2) < 0) {
		free(block);
		jobs_free(j);
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	j->prelude_gen = 1;
	/*
	 * connection 0's first item: BEGIN and the aside schemas, after the
	 * prelude (its settings), as every connection's first item
	 */
	c = &j->conns[0];
	if (jobs_cat(&c->it.text, "BEGIN;\n") < 0 || jobs_cat(&c->it.text, block) < 0) {
		free(block);
		jobs_free(j);
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	free(block);
	c->it.kind = JOBS_BEGIN;
	c->it.touch.barrier = 1;
	c->stage = JOBS_ST_MAIN; /* sent once connected, the prelude first */
	for (i = 0; i < cfg->n; i++) {
		c = &j->conns[i];
		c->j = j;
		c->idx = i;
		snprintf(c->who, sizeof(c->who), "%s job%d", cfg->who, i);
		if (cfg->statement_timeout > 0 &&
		    (c->ev_timeout = evtimer_new(cfg->base, jobs_on_timeout, c)) == NULL) {
			snprintf(err, errsize, "out of memory");
			jobs_free(j);
			return NULL;
		}
		if (target_connect(&c->t, cfg->base, cfg->conninfo, cfg->connect_timeout,
		                   jobs_on_target, c, c->who) < 0) {
			snprintf(err, errsize, "--jobs connection %d: %s", i, target_error(&c->t));
			jobs_free(j);
			return NULL;
		}
	}
	return j;
}

int
jobs_ready(const struct jobs *j)
{
	return !j->failed && j->n_queue < JOBS_QUEUE &&
	       (j->n_queue == 0 || j->queued_bytes < JOBS_QUEUE_BYTES);
}

static int
jobs_queue(struct jobs *j, struct jobs_item *it)
{
	j->queue[j->n_queue++] = *it;
	j->queued_bytes += it->text.len + it->data.len;
	if (it->kind == JOBS_BATCH_ITEM)
		j->n_queued_batches++;
	jobs_kick(j);
	return 0;
}

int
jobs_statement(struct jobs *j, const char *text, size_t len, uint64_t no, uint64_t line,
               int std_strings)
{
	struct jobs_item it;

	if (j->failed)
		return -1;
	memset(&it, 0, sizeof(it));
	it.kind = JOBS_STMT;
	it.no = no;
	it.line = line;
	it.std_strings = std_strings;
	if (deps_learn(&j->deps, text, len, std_strings) < 0)
		goto oom;
	switch (deps_classify(&j->deps, &it.touch, text, len, std_strings)) {
	case CLASSIFY_TXN:
		jobs_fail(j,
		          "statement %llu at line %llu is transaction control or a large object, "
		          "which --jobs cannot spread over connections; import this dump without "
		          "--jobs",
		          (unsigned long long)no, (unsigned long long)line);
		return -1;
	case CLASSIFY_SET:
		/*
		 * Every connection gets it before its next job: it joins the
		 * prelude when it starts (jobs_kick), alone, after what came
		 * before it and before what comes after.
		 */
		it.is_set = 1;
		it.touch.barrier = 1;
		break;
	case CLASSIFY_FREE:
		it.touch.barrier = 0;
		it.touch.n = 0;
		break;
	case CLASSIFY_OTHER:
		break;
	}
	if (jobs_buf_add(&it.text, text, len) < 0)
		goto oom;
	return jobs_queue(j, &it);
oom:
	jobs_item_free(&it);
	jobs_fail(j, "out of memory");
	return -1;
}

int
jobs_own(struct jobs *j, const char *sql, int alone, uint64_t no, int std_strings)
{
	struct jobs_item it;
	size_t len = strlen(sql);

	if (j->failed)
		return -1;
	memset(&it, 0, sizeof(it));
	it.kind = JOBS_STMT;
	it.own = 1;
	it.no = no;
	it.std_strings = std_strings;
	if (alone) {
		it.touch.barrier = 1;
		it.touch.n = 0;
	} else if (deps_classify(&j->deps, &it.touch, sql, len, std_strings) != CLASSIFY_OTHER) {
		jobs_fail(
			j,
			"internal error: pgsluice's own statement \"%s\" is not one the engine can place",
			sql);
		return -1;
	}
	if (jobs_buf_add(&it.text, sql, len) < 0) {
		jobs_item_free(&it);
		jobs_fail(j, "out of memory");
		return -1;
	}
	return jobs_queue(j, &it);
}

int
jobs_copy_begin(struct jobs *j, const char *text, size_t len, const char *table, uint64_t no,
                uint64_t line, int std_strings)
{
	struct jobs_table *tb;
	struct jobs_item it;
	char key[DEPS_KEY];
	size_t cap;

	if (j->failed)
		return -1;
	/* the table as the dump writes it: "COPY public.events (...) FROM stdin;" */
	if (!deps_copy_table(text, len, std_strings, key, sizeof(key)))
		snprintf(key, sizeof(key), "%s", table);
	if (j->n_tables == j->cap_tables) {
		cap = j->cap_tables ? j->cap_tables * 2 : 64;
		tb = realloc(j->tables, cap * sizeof(*tb));
		if (tb == NULL)
			goto oom;
		j->tables = tb;
		j->cap_tables = cap;
	}
	tb = &j->tables[j->n_tables];
	memset(tb, 0, sizeof(*tb));
	snprintf(tb->name, sizeof(tb->name), "%s", key);
	j->copy_table = (int)j->n_tables++;
	j->copy_sql.len = 0;
	j->acc.len = 0;
	j->copy_no = no;
	j->copy_line = line;
	j->copy_std_strings = std_strings;
	if (jobs_buf_add(&j->copy_sql, text, len) < 0)
		goto oom;
	if (j->phase == JOBS_PRE && !j->commit_queued) {
		/* pre-data ends: commit it before any data */
		j->commit_queued = 1;
		memset(&it, 0, sizeof(it));
		it.kind = JOBS_COMMIT;
		it.touch.barrier = 1;
		if (jobs_cat(&it.text, "COMMIT") < 0)
			goto oom;
		return jobs_queue(j, &it);
	}
	return 0;
oom:
	jobs_fail(j, "out of memory");
	return -1;
}

/* Queue acc[0..n) as a batch of the current COPY; the rest stays in acc. */
static int
jobs_batch(struct jobs *j, size_t n)
{
	struct jobs_item it;

	memset(&it, 0, sizeof(it));
	it.kind = JOBS_BATCH_ITEM;
	it.table = j->copy_table;
	deps_batch(&j->deps, &it.touch, j->tables[j->copy_table].name);
	it.no = j->copy_no;
	it.line = j->copy_line;
	it.std_strings = j->copy_std_strings;
	if (jobs_buf_add(&it.text, j->copy_sql.p, j->copy_sql.len) < 0 ||
	    jobs_buf_add(&it.data, j->acc.p + n, j->acc.len - n) < 0) {
		jobs_item_free(&it);
		jobs_fail(j, "out of memory");
		return -1;
	}
	/* the batch takes acc's buffer; acc keeps the rest */
	{
		struct jobs_buf tmp = it.data;

		it.data = j->acc;
		it.data.len = n;
		j->acc = tmp;
	}
	j->tables[j->copy_table].pending++;
	return jobs_queue(j, &it);
}

int
jobs_copy_data(struct jobs *j, const char *data, size_t len)
{
	size_t nl;

	if (j->failed)
		return 1;
	if (j->acc.len > 0 && j->acc.len + len > j->batch) {
		for (nl = j->acc.len; nl > 0 && j->acc.p[nl - 1] != '\n'; nl--)
			;
		if (nl > 0) {
			if (j->n_queued_batches > 0 || j->n_queue == JOBS_QUEUE) {
				jobs_kick(j);
				if (j->n_queued_batches > 0 || j->n_queue == JOBS_QUEUE)
					return 0;
			}
			if (jobs_batch(j, nl) < 0)
				return 1;
		}
	}
	if (jobs_buf_add(&j->acc, data, len) < 0) {
		jobs_fail(j, "out of memory");
		return 1;
	}
	return 1;
}

int
jobs_copy_end(struct jobs *j, uint64_t rows)
{
	struct jobs_table *tb;

	if (j->failed || j->copy_table < 0)
		return 1;
	tb = &j->tables[j->copy_table];
	log_debug(j->cfg.who, "COPY %s: %llu lines in %d batches so far", tb->name,
	          (unsigned long long)rows, tb->pending + (j->acc.len > 0));
	if (j->acc.len > 0) {
		if (j->n_queued_batches > 0 || j->n_queue == JOBS_QUEUE) {
			jobs_kick(j);
			if (j->n_queued_batches > 0 || j->n_queue == JOBS_QUEUE)
				return 0;
		}
		if (jobs_batch(j, j->acc.len) < 0)
			return 1;
	}
	tb->lines = rows;
	tb->ended = 1;
	jobs_check_table(j, tb);
	j->copy_table = -1;
	return 1;
}

void
jobs_finish(struct jobs *j)
{
	struct jobs_item it;

	if (j->finishing || j->failed)
		return;
	j->finishing = 1;
	if (j->phase == JOBS_PRE && !j->commit_queued) {
		j->commit_queued = 1;
		memset(&it, 0, sizeof(it));
		it.kind = JOBS_COMMIT;
		it.touch.barrier = 1;
		if (jobs_cat(&it.text, "COMMIT") < 0) {
			jobs_fail(j, "out of memory");
			return;
		}
		jobs_queue(j, &it);
	}
}

const char *
jobs_state(const struct jobs *j)
{
	return j->state;
}

int
jobs_idle(const struct jobs *j)
{
	return j->n_queue == 0 && jobs_in_flight(j) == 0 && j->phase == JOBS_DATA;
}

char *
jobs_end(struct jobs *j, int success, int server_version)
{
	struct jobs_buf b = { 0 };
	char num[32], *block;
	int i, n = 0, bad = 0;

	if (!success) {
		/* end the engine's backends first: a CREATE INDEX does not notice a closed socket */
		bad |= jobs_cat(&b, "SELECT pg_catalog.pg_terminate_backend(p");
		if (server_version >= 140000) {
			snprintf(num, sizeof(num), ", %d", JOBS_TERMINATE_MS);
			bad |= jobs_cat(&b, num);
		}
		bad |= jobs_cat(&b, ") FROM pg_catalog.unnest('{");
		for (i = 0; i < j->cfg.n; i++) {
			if (j->conns[i].t.conn == NULL ||
			    PQstatus(j->conns[i].t.conn) != CONNECTION_OK)
				continue;
			snprintf(num, sizeof(num), "%s%d", n++ ? "," : "",
			         PQbackendPID(j->conns[i].t.conn));
			bad |= jobs_cat(&b, num);
		}
		bad |= jobs_cat(&b, "}'::int[]) AS p;\n");
		if (n == 0) {
			b.len = 0;
			b.p[0] = '\0';
		}
	}
	for (i = 0; i < j->cfg.n; i++)
		target_close(&j->conns[i].t);
	if (success) {
		for (i = 0; i < j->cfg.n_schemas; i++) {
			snprintf(num, sizeof(num), "pgsluice_aside_%d", i);
			bad |= jobs_cat(&b, "DROP SCHEMA IF EXISTS ");
			bad |= jobs_cat(&b, num);
			bad |= jobs_cat(&b, " CASCADE;\n");
		}
	} else {
		block = jobs_do_block(j, 1, 1);
		bad |= block == NULL || jobs_cat(&b, block) < 0;
		free(block);
	}
	if (bad) {
		jobs_buf_free(&b);
		return NULL;
	}
	return b.p != NULL ? b.p : strdup("");
}

void
jobs_free(struct jobs *j)
{
	int i;

	if (j == NULL)
		return;
	for (i = 0; i < JOBS_MAX; i++) {
		target_close(&j->conns[i].t);
		jobs_item_free(&j->conns[i].it);
		pgerr_clear(&j->conns[i].srv);
		if (j->conns[i].ev_timeout)
			event_free(j->conns[i].ev_timeout);
	}
	for (i = 0; i < j->n_queue; i++)
		jobs_item_free(&j->queue[i]);
	jobs_buf_free(&j->prelude);
	jobs_buf_free(&j->copy_sql);
	jobs_buf_free(&j->acc);
	free(j->tables);
	deps_free(&j->deps);
	if (j->ev_notify)
		event_free(j->ev_notify);
	free(j);
}
