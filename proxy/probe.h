/*
 * probe.h - one short query on a short-lived second connection to the
 * target, on the event loop.
 *
 * The import's own connection cannot ask questions while a statement runs
 * on it, yet that is when they matter: which session holds the lock the
 * statement waits for (pg_blocking_pids), or "stop that statement now"
 * (pg_cancel_backend: PQcancel would block the loop).  A probe connects
 * with the same conninfo, sends one query, hands the first result row to
 * its callback and closes.  Nothing here blocks.
 */
#ifndef PGSLUICE_PROBE_H
#define PGSLUICE_PROBE_H

#include <event2/event.h>
#include <libpq-fe.h>

struct probe;

/*
 * Called once per probe: res is the query's result (PGRES_TUPLES_OK, rows
 * may be 0) and error NULL; or res NULL and error says what failed
 * (connect, query).  res is freed after the call.  The probe frees itself
 * after the callback; the owner must forget its pointer then.
 */
typedef void (*probe_fn)(void *arg, const PGresult *res, const char *error);

/*
 * Connect to conninfo as application_name appname (timeout_s bounds the
 * connection attempt), run sql (copied), report through fn.  Returns NULL
 * when nothing could be started (out of memory, bad conninfo): fn is then
 * not called.  who is a log prefix that must outlive the probe.
 */
struct probe *probe_start(struct event_base *base, const char *conninfo, const char *appname,
                          int timeout_s, const char *sql, probe_fn fn, void *arg, const char *who);

/* Drop a probe whose callback has not run yet: it is not called. */
void probe_cancel(struct probe *p);

#endif
