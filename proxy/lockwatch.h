/*
 * lockwatch.h - side connections for the statement an import has in
 * flight: who holds the lock it waits for, and the cancel of a statement
 * that still runs when the import has already failed.
 *
 * Kept apart from the session because both work beside the import's own
 * connection (probe.h: one query on a short-lived second connection,
 * never blocking the loop) and need nothing of the session but its target
 * connection and a way to tell the client.
 *
 *	lockwatch_init(&lw, &cfg);
 *	lockwatch_sent(&lw);            after each statement goes out
 *	lockwatch_note(&lw, sqlstate)   after it failed: the lock it waited for
 *	lockwatch_cancel_later(&lw)     the import failed while it runs
 *	lockwatch_free(&lw);
 */
#ifndef PGSLUICE_LOCKWATCH_H
#define PGSLUICE_LOCKWATCH_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "target.h"

struct lockwatch_config {
	struct event_base *base;
	const char *conninfo; /* the target, for the side connections */
	int connect_timeout;
	int lock_timeout;      /* --lock-timeout (s): the watch asks at half of it */
	const char *who;       /* log prefix */
	struct target *target; /* the import's connection: its backend is watched */
	/*
	 * The statement in flight has waited waited_s for a lock held by
	 * blocker (one line): tell the client.  Called once per statement and
	 * holder.
	 */
	void (*blocked)(void *arg, const char *blocker, double waited_s);
	/* 1 while a statement of the import may still be cancelled (not in its ending) */
	int (*may_cancel)(void *arg);
	/* 1 while a blocker is worth asking about (the session is not closing) */
	int (*may_watch)(void *arg);
	void *arg;
};

struct lockwatch {
	struct lockwatch_config cfg;
	struct probe *probe_blocker, *probe_cancel;
	struct event *ev_watch, *ev_cancel;
	uint64_t busy_gen;    /* statements sent so far (our own and the dump's) */
	double busy_since;    /* when the last one was sent (monotonic seconds) */
	uint64_t blocker_gen; /* the statement blocker[] was seen for */
	char blocker[640];    /* "pid 123 (user ..., ...): query" */
	int cancel_armed;
};

/* cfg is copied.  Nothing is started until lockwatch_sent. */
void lockwatch_init(struct lockwatch *lw, const struct lockwatch_config *cfg);

/* Stop the side connections and timers. */
void lockwatch_free(struct lockwatch *lw);

/* A statement went out on the target: note when, and watch it. */
void lockwatch_sent(struct lockwatch *lw);

/* Seconds the statement sent last has run. */
double lockwatch_running(const struct lockwatch *lw);

/*
 * After a statement failed with sqlstate: for a lock timeout (55P03),
 * "\n  it waited --lock-timeout N s for a lock held by ..." (and what to
 * do) into buf; "" for anything else.
 */
void lockwatch_note(const struct lockwatch *lw, const char *sqlstate, char *buf, size_t size);

/*
 * The import has failed while a statement (or COPY data) is still in
 * flight: what it does is rolled back anyway, so if it still runs a
 * moment later, cancel it from a side connection (PQcancel would block the
 * loop; PostgreSQL 15's libpq has no non-blocking cancel).  Once.
 */
void lockwatch_cancel_later(struct lockwatch *lw);

/* The same at once: the import failed because of the statement itself. */
void lockwatch_cancel_now(struct lockwatch *lw);

#endif
