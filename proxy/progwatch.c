/*
 * progwatch.c - pg_stat_progress_create_index over a side connection
 * (progwatch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progwatch.h"

/* seconds a post-data statement runs before the server is asked (the line names
 * it from 1 s on: the first answer is there by then) */
#define PROGWATCH_AFTER_S 0.5

/* the index builds of pgsluice's connections to this database, biggest first */
static const char progwatch_sql[] =
	"SELECT p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total,"
	" count(*) OVER ()"
	" FROM pg_catalog.pg_stat_progress_create_index p"
	" JOIN pg_catalog.pg_stat_activity a ON a.pid = p.pid"
	" WHERE a.application_name = 'pgsluice' AND a.datname = pg_catalog.current_database()"
	" ORDER BY p.blocks_total DESC NULLS LAST LIMIT 1";

static void
progwatch_give_up(struct progwatch *w, const char *why)
{
	if (!w->failed)
		log_warn(w->who, "no index build progress from the server (%s); the import goes on",
		         why);
	w->failed = 1;
	w->busy = 0;
	if (w->rep != NULL)
		w->rep->index_phase[0] = '\0';
	target_close(&w->t);
}

static unsigned long long
progwatch_num(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 : strtoull(PQgetvalue(res, 0, col), NULL, 10);
}

static void
progwatch_on_target(void *arg, enum target_event ev, PGresult *res)
{
	struct progwatch *w = arg;
	struct report *r = w->rep;
	const char *phase;

	switch (ev) {
	case TARGET_EV_CONNECTED:
		w->busy = 1;
		if (target_send_script(&w->t, progwatch_sql) < 0)
			progwatch_give_up(w, target_error(&w->t));
		return;
	case TARGET_EV_RESULT:
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			progwatch_give_up(w,
			                  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
			                          ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
			                          : "query failed");
			return;
		}
		if (r == NULL)
			return;
		if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
			r->index_phase[0] = '\0';
			return;
		}
		/* "building index: scanning table" -> "scanning table" (the line names the build) */
		phase = PQgetvalue(res, 0, 0);
		if (strncmp(phase, "building index: ", 16) == 0)
			phase += 16;
		snprintf(r->index_phase, sizeof(r->index_phase), "%s", phase);
		r->index_blocks_done = progwatch_num(res, 1);
		r->index_blocks_total = progwatch_num(res, 2);
		r->index_tuples_done = progwatch_num(res, 3);
		r->index_tuples_total = progwatch_num(res, 4);
		r->index_builds = progwatch_num(res, 5);
		return;
	case TARGET_EV_IDLE:
		w->busy = 0;
		return;
	case TARGET_EV_FAILED:
		progwatch_give_up(w, target_error(&w->t));
		return;
	case TARGET_EV_COPY:
	case TARGET_EV_DRAINED:
		return;
	}
}

void
progwatch_tick(struct progwatch *w, struct event_base *base, const char *conninfo, int timeout_s,
               struct report *rep, const char *who)
{
	w->rep = rep;
	w->who = who;
	if (w->failed || w->busy)
		return;
	if (rep->phase_now != REPORT_PHASE_POST_DATA || rep->running[0] == '\0' ||
	    strncmp(rep->running, "COPY ", 5) == 0 ||
	    report_now() - rep->running_since < PROGWATCH_AFTER_S) {
		rep->index_phase[0] = '\0';
		return;
	}
	if (!w->open) {
		w->open = 1;
		w->busy = 1;
		if (target_connect_as(&w->t, base, conninfo, "pgsluice (progress)", timeout_s,
		                      progwatch_on_target, w, who) < 0)
			progwatch_give_up(w, target_error(&w->t));
		return;
	}
	if (w->t.state != TARGET_IDLE)
		return;
	w->busy = 1;
	if (target_send_script(&w->t, progwatch_sql) < 0)
		progwatch_give_up(w, target_error(&w->t));
}

void
progwatch_close(struct progwatch *w)
{
	if (w->open)
		target_close(&w->t);
	w->open = 0;
	w->busy = 0;
	w->rep = NULL;
}
