/*
 * lockwatch.c - who blocks the statement in flight, and its cancel
 * (lockwatch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockwatch.h"
#include "log.h"
#include "probe.h"
#include "report.h"

#define LOCKWATCH_CANCEL_AFTER_MS 500 /* a failed import's statement still running: cancel */
#define LOCKWATCH_MAX_S 15.0          /* a statement running this long: who blocks it? */

static struct timeval
lockwatch_tv(double secs)
{
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	return tv;
}

/*
 * How long a statement runs before we ask who blocks it: half the lock
 * timeout, so that the answer is in before lock_timeout strikes.
 */
static double
lockwatch_period(const struct lockwatch *lw)
{
	double p = lw->cfg.lock_timeout > 0 ? lw->cfg.lock_timeout / 2.0 : LOCKWATCH_MAX_S;

	if (p < 0.25)
		p = 0.25;
	return p > LOCKWATCH_MAX_S ? LOCKWATCH_MAX_S : p;
}

void
lockwatch_init(struct lockwatch *lw, const struct lockwatch_config *cfg)
{
	memset(lw, 0, sizeof(*lw));
	lw->cfg = *cfg;
}

void
lockwatch_free(struct lockwatch *lw)
{
	probe_cancel(lw->probe_blocker);
	probe_cancel(lw->probe_cancel);
	if (lw->ev_watch)
		event_free(lw->ev_watch);
	if (lw->ev_cancel)
		event_free(lw->ev_cancel);
	lw->probe_blocker = lw->probe_cancel = NULL;
	lw->ev_watch = lw->ev_cancel = NULL;
}

static void
lockwatch_on_blocker(void *arg, const PGresult *res, const char *error)
{
	struct lockwatch *lw = arg;
	char text[sizeof(lw->blocker)], more[48] = "";
	const char *query;
	int n;

	lw->probe_blocker = NULL;
	if (error != NULL) {
		log_debug(lw->cfg.who, "cannot ask the target who blocks the statement: %s", error);
		return;
	}
	if (PQntuples(res) < 1 || PQnfields(res) < 8 || !lw->cfg.may_watch(lw->cfg.arg))
		return; /* running, not waiting for a lock */
	query = PQgetvalue(res, 0, 7);
	n = atoi(PQgetvalue(res, 0, 6));
	if (n > 1)
		snprintf(more, sizeof(more), " (and %d more session%s)", n - 1, n > 2 ? "s" : "");
	snprintf(text, sizeof(text),
	         "pid %s (user %s, application %s, from %s, %s, transaction open %s s)%s: %s%s",
	         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
	         PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), more,
	         query[0] ? query : "(no query)",
	         strcmp(query, "<insufficient privilege>") == 0
	                 ? " (the query of another role's session is hidden: grant pgsluice's role "
	                   "pg_read_all_stats to see it)"
	                 : "");
	if (lw->blocker_gen == lw->busy_gen && strcmp(text, lw->blocker) == 0)
		return;
	snprintf(lw->blocker, sizeof(lw->blocker), "%s", text);
	lw->blocker_gen = lw->busy_gen;
	lw->cfg.blocked(lw->cfg.arg, lw->blocker, report_now() - lw->busy_since);
}

/* A statement has run for a watch period: ask who blocks it, if anyone. */
static void
lockwatch_on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct lockwatch *lw = arg;
	struct target *t = lw->cfg.target;
	struct timeval tv = lockwatch_tv(lockwatch_period(lw));
	char sql[900];
	(void)fd;
	(void)what;

	if (!lw->cfg.may_watch(lw->cfg.arg) || t->conn == NULL || t->state != TARGET_BUSY)
		return; /* the next statement sent arms the watch again */
	if (lw->probe_blocker == NULL) {
		snprintf(
			sql, sizeof(sql),
			"SELECT a.pid, COALESCE(a.usename, '?'),"
			" COALESCE(NULLIF(a.application_name, ''), '-'),"
			" COALESCE(pg_catalog.host(a.client_addr), 'local'), COALESCE(a.state, '?'),"
			" COALESCE(pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.now() -"
			" a.xact_start))::int, 0), pg_catalog.count(*) OVER (),"
			" pg_catalog.left(pg_catalog.regexp_replace(COALESCE(a.query, ''),"
			" '\\s+', ' ', 'g'), 300)"
			" FROM pg_catalog.pg_stat_activity a"
			" WHERE a.pid = ANY (pg_catalog.pg_blocking_pids(%d))"
			" ORDER BY a.xact_start NULLS LAST LIMIT 1",
			PQbackendPID(t->conn));
		lw->probe_blocker = probe_start(lw->cfg.base, lw->cfg.conninfo,
		                                "pgsluice (lock watch)", lw->cfg.connect_timeout,
		                                sql, lockwatch_on_blocker, lw, lw->cfg.who);
	}
	evtimer_add(lw->ev_watch, &tv);
}

void
lockwatch_sent(struct lockwatch *lw)
{
	struct timeval tv = lockwatch_tv(lockwatch_period(lw));

	lw->busy_gen++;
	lw->busy_since = report_now();
	if (lw->ev_watch == NULL)
		lw->ev_watch = evtimer_new(lw->cfg.base, lockwatch_on_watch, lw);
	if (lw->ev_watch != NULL)
		evtimer_add(lw->ev_watch, &tv);
}

double
lockwatch_running(const struct lockwatch *lw)
{
	return report_now() - lw->busy_since;
}

void
lockwatch_note(const struct lockwatch *lw, const char *sqlstate, char *buf, size_t size)
{
	buf[0] = '\0';
	if (sqlstate == NULL || strcmp(sqlstate, "55P03") != 0)
		return;
	if (lw->blocker[0] != '\0' && lw->blocker_gen == lw->busy_gen)
		snprintf(buf, size,
		         "\n  it waited --lock-timeout %d s for a lock held by %s"
		         "\n  end that session or let it finish, then send the dump again",
		         lw->cfg.lock_timeout, lw->blocker);
	else
		snprintf(buf, size,
		         "\n  it waited --lock-timeout %d s for a lock that another session "
		         "holds (pg_locks on the target shows which)",
		         lw->cfg.lock_timeout);
}

static void
lockwatch_on_cancelled(void *arg, const PGresult *res, const char *error)
{
	struct lockwatch *lw = arg;

	lw->probe_cancel = NULL;
	if (error != NULL)
		log_warn(lw->cfg.who, "cannot cancel the statement running on the target: %s",
		         error);
	else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		log_warn(lw->cfg.who, "the target did not cancel the statement (pg_cancel_backend "
		                      "said no)");
}

static void
lockwatch_on_cancel_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lockwatch *lw = arg;
	struct target *t = lw->cfg.target;
	char sql[96];
	(void)fd;
	(void)what;

	if (!lw->cfg.may_cancel(lw->cfg.arg) || t->conn == NULL || lw->probe_cancel != NULL)
		return;
	if (t->state != TARGET_BUSY && !(t->state == TARGET_COPY_IN && t->flushing))
		return;
	log_info(lw->cfg.who,
	         "the import has failed; cancelling the statement still running on "
	         "the target (backend pid %d)",
	         PQbackendPID(t->conn));
	snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_cancel_backend(%d)",
	         PQbackendPID(t->conn));
	lw->probe_cancel =
		probe_start(lw->cfg.base, lw->cfg.conninfo, "pgsluice (cancel)",
	                    lw->cfg.connect_timeout, sql, lockwatch_on_cancelled, lw, lw->cfg.who);
}

void
lockwatch_cancel_later(struct lockwatch *lw)
{
	struct timeval tv = { 0, LOCKWATCH_CANCEL_AFTER_MS * 1000 };

	if (lw->cancel_armed || !lw->cfg.may_cancel(lw->cfg.arg))
		return;
	lw->cancel_armed = 1;
	lw->ev_cancel = evtimer_new(lw->cfg.base, lockwatch_on_cancel_timer, lw);
	if (lw->ev_cancel != NULL)
		evtimer_add(lw->ev_cancel, &tv);
}

void
lockwatch_cancel_now(struct lockwatch *lw)
{
	lockwatch_on_cancel_timer(-1, 0, lw);
}
