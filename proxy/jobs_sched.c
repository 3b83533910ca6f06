/*
 * jobs_sched.c - the scheduler of the `--jobs` engine: which queued item
 * may start now (none that conflicts with one in flight or queued before
 * it, barriers alone) and on which free connection.
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

/* ---- scheduling ---------------------------------------------------------- */

int
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
void
jobs_kick(struct jobs *j)
{
	struct jobs_conn *c;
	int q, started = 0;

	for (q = 0; q < j->n_queue && !j->failed;) {
		c = jobs_free_conn(j, &j->queue[q]);
		if (c == NULL || !jobs_can_start(j, q)) {
			/*
			 * Before the data one item at a time; after, a later one
			 * may pass, unless no connection is free or this one is
			 * a barrier (nothing passes it)
			 */
			if (j->phase != JOBS_DATA || c == NULL || j->queue[q].touch.barrier)
				break;
			q++;
			continue;
		}
		c->it = j->queue[q];
		j->queued_bytes -= c->it.text.len + c->it.data.len;
		if (c->it.kind == JOBS_BATCH_ITEM)
			j->n_queued_batches--;
		if (c->it.is_set) {
			if (textbuf_add(&j->prelude, c->it.text.p, c->it.text.len + 1) < 0) {
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
