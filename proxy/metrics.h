/*
 * metrics.h - serve --metrics-listen HOST:PORT: an HTTP status surface
 * (libevent's evhttp, on the daemon's event loop) apart from the import
 * port, so that Prometheus scrapers and Kubernetes probes have somewhere
 * to go that is not an import.
 *
 *	GET /metrics  Prometheus text format 0.0.4: counters since the daemon
 *	              started (imports started, committed, failed by reason;
 *	              bytes, rows and statements of finished imports; rule
 *	              counters; refused connections by reason; AUTH failures)
 *	              and the import running now (its phase, bytes and rows so
 *	              far, the statement running and for how long)
 *	GET /healthz  "ok": the daemon's loop answers
 *
 * Neither reads from nor writes to an import: the handlers read counters
 * and the running import's report, nothing else, so a probe can never
 * start, change or end an import.  Other paths are 404, other methods 405.
 *
 * One status surface per process: the counters are the module's own
 * state, fed by the hooks below; they only count, so callers need not
 * check whether --metrics-listen was given.
 */
#ifndef PGSLUICE_METRICS_H
#define PGSLUICE_METRICS_H

#include <event2/event.h>

#include "jsonout.h"
#include "report.h"

/* The running import's report, or NULL when none runs. */
typedef const struct report *(*metrics_live_fn)(void *arg);

/*
 * Listen on hostport ("127.0.0.1:9187", "[::1]:9187", ":9187" for all
 * addresses) on base.  live tells the running import.  0, or -1 with a
 * one-line reason in err.
 */
int metrics_start(struct event_base *base, const char *hostport, metrics_live_fn live, void *arg,
                  char *err, size_t size) __attribute__((warn_unused_result));

/* Close the listener (at exit). */
void metrics_stop(void);

/* A dump arrived: an import began. */
void metrics_import_started(void);

/* An import ended with this result (after its summary). */
void metrics_import_ended(const struct jsonout_import *res);

/* A connection was refused before any import: reason is a fixed label
 * ("busy", "shutting_down", "max_connections", ...). */
void metrics_refused(const char *reason);

/* An AUTH line was wrong. */
void metrics_auth_failed(void);

#endif
