/*
 * jobs_conn.c - one target connection of the `--jobs` engine: its prelude
 * of settings and checks, an item sent on it (a statement, or COPY data
 * handed to libpq in JOBS_PUT pieces), --statement-timeout, and the
 * results that end the item.
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
#include "jobs_int.h"

/* ---- one connection ------------------------------------------------------ */

/* --statement-timeout: the dump's statement on c has run that long */
void
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

void
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

void
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

void
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
