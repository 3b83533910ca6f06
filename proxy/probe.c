/*
 * probe.c - one query on a short-lived side connection (probe.h).
 *
 * Kept apart from the session: a session may run several probes in its
 * life (who blocks us, cancel), each with its own target connection, and
 * none of them may touch the import's own connection or its state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe.h"
#include "target.h"

struct probe {
	struct target t;
	char *sql;
	PGresult *res; /* the first result of the query */
	probe_fn fn;
	void *arg;
	int reported; /* fn was called (or the probe was cancelled) */
	struct event *ev_free;
};

static void
probe_free(struct probe *p)
{
	target_close(&p->t);
	if (p->res)
		PQclear(p->res);
	if (p->ev_free)
		event_free(p->ev_free);
	free(p->sql);
	free(p);
}

static void
probe_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	probe_free(arg);
}

/* Report once, close, and free from the loop (we are under a target callback). */
static void
probe_finish(struct probe *p, const char *error)
{
	target_close(&p->t);
	if (!p->reported) {
		p->reported = 1;
		if (p->res == NULL && error == NULL)
			error = "the query returned no result";
		p->fn(p->arg, error ? NULL : p->res, error);
	}
	event_active(p->ev_free, EV_TIMEOUT, 0);
}

static void
probe_on_target(void *arg, enum target_event ev, PGresult *res)
{
	struct probe *p = arg;
	char err[600];

	switch (ev) {
	case TARGET_EV_CONNECTED:
		if (target_send(&p->t, p->sql) < 0)
			probe_finish(p, target_error(&p->t));
		return;
	case TARGET_EV_RESULT:
		if (p->res != NULL)
			return;
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			snprintf(err, sizeof(err), "%s", PQresultErrorMessage(res));
			err[strcspn(err, "\n")] = '\0';
			probe_finish(p, err[0] ? err : "the query failed");
			return;
		}
		p->res = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		if (p->res == NULL)
			probe_finish(p, "out of memory");
		return;
	case TARGET_EV_IDLE:
		probe_finish(p, NULL);
		return;
	case TARGET_EV_COPY:
	case TARGET_EV_DRAINED:
		return;
	case TARGET_EV_FAILED:
		probe_finish(p, target_error(&p->t));
		return;
	}
}

struct probe *
probe_start(struct event_base *base, const char *conninfo, const char *appname, int timeout_s,
            const char *sql, probe_fn fn, void *arg, const char *who)
{
	struct probe *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->fn = fn;
	p->arg = arg;
	p->sql = strdup(sql);
	p->ev_free = event_new(base, -1, 0, probe_free_cb, p);
	if (p->sql == NULL || p->ev_free == NULL) {
		probe_free(p);
		return NULL;
	}
	if (target_connect_as(&p->t, base, conninfo, appname, timeout_s, probe_on_target, p, who) <
	    0) {
		log_debug(who, "probe not started: %s", target_error(&p->t));
		probe_free(p);
		return NULL;
	}
	return p;
}

void
probe_cancel(struct probe *p)
{
	if (p == NULL)
		return;
	p->reported = 1;
	probe_free(p);
}
