/*
 * jobs.c - `serve --jobs N`: the statements and COPY data of one import
 * spread over N target connections (jobs.h).
 *
 * Kept apart from session.c so that the single-transaction path stays as
 * it is: the session hands the engine what it would have sent, and the
 * engine decides where and when it runs.
 *
 * This file holds the engine object and what the session calls; the
 * scheduler is in jobs_sched.c, a connection's items and results in
 * jobs_conn.c, the SQL of the beginning and the end in jobs_sql.c, all
 * sharing struct jobs through jobs_int.h.
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

/* ---- small things ------------------------------------------------------ */

void
jobs_item_free(struct jobs_item *it)
{
	textbuf_free(&it->text);
	textbuf_free(&it->data);
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

void
jobs_notify(struct jobs *j)
{
	j->notify_ready = 1;
	event_active(j->ev_notify, EV_TIMEOUT, 0);
}

void
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
	    jobs_cat(&j->prelude, cfg->lock_set) < 0 || textbuf_add(&j->prelude, "\n", 2) < 0) {
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
	if (textbuf_add(&it.text, text, len) < 0)
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
	if (textbuf_add(&it.text, sql, len) < 0) {
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
	if (textbuf_add(&j->copy_sql, text, len) < 0)
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
	if (textbuf_add(&it.text, j->copy_sql.p, j->copy_sql.len) < 0 ||
	    textbuf_add(&it.data, j->acc.p + n, j->acc.len - n) < 0) {
		jobs_item_free(&it);
		jobs_fail(j, "out of memory");
		return -1;
	}
	/* the batch takes acc's buffer; acc keeps the rest */
	{
		struct textbuf tmp = it.data;

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
	if (textbuf_add(&j->acc, data, len) < 0) {
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

int
jobs_in_data(const struct jobs *j)
{
	return j->phase == JOBS_DATA;
}

int
jobs_pending(const struct jobs *j)
{
	return j->n_queue + jobs_in_flight(j);
}

char *
jobs_end(struct jobs *j, int success, int server_version)
{
	struct textbuf b = { 0 };
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
		textbuf_free(&b);
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
	textbuf_free(&j->prelude);
	textbuf_free(&j->copy_sql);
	textbuf_free(&j->acc);
	free(j->tables);
	deps_free(&j->deps);
	if (j->ev_notify)
		event_free(j->ev_notify);
	free(j);
}
