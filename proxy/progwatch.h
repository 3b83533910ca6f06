/*
 * progwatch.h - what the server says of the slow half of an import:
 * pg_stat_progress_create_index of the import's index builds, read over a
 * side connection of its own while the import's connections are busy.
 *
 * Post-data (CREATE INDEX, ADD CONSTRAINT) is often more than half of an
 * import's time, and the import's own connection can ask nothing while a
 * statement runs on it.  The watcher keeps one more connection to the
 * target (application_name "pgsluice (progress)"), opened the first time
 * an index build has run for a while, and on each progress tick asks the
 * server for the index builds of pgsluice's connections to this database
 * (application_name "pgsluice": the import's, and each --jobs connection),
 * one query at a time; the last answer is put into the import's report
 * (report.h: index_phase and its counts) for the progress line and
 * /metrics.  It changes nothing on the server, and a failure only turns
 * the figures off (logged once): the import goes on.
 */
#ifndef PGSLUICE_PROGWATCH_H
#define PGSLUICE_PROGWATCH_H

#include <event2/event.h>

#include "report.h"
#include "target.h"

struct progwatch {
	struct target t;
	int open;   /* t was connected (or is connecting) */
	int busy;   /* a query is in flight */
	int failed; /* given up: no more figures for this import */
	struct report *rep;
	const char *who;
};

/*
 * A progress tick of the import whose report is rep: when an index build
 * or constraint has run for half a second or more, ask (connecting first, on
 * base, with conninfo and timeout_s, if needed); otherwise clear the
 * figures.  who (a log prefix) and rep must outlive the watcher.
 */
void progwatch_tick(struct progwatch *w, struct event_base *base, const char *conninfo,
                    int timeout_s, struct report *rep, const char *who);

/* Close the side connection (the import has ended). */
void progwatch_close(struct progwatch *w);

#endif
