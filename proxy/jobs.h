/*
 * jobs.h - `serve --jobs N`: one import over N target connections.
 *
 * The session keeps its stream (decoder, lexer, rules, checks) and its own
 * connection (the import lock, the verification queries, the ending); what
 * it would send to the target goes to the engine instead:
 *
 *   pre-data   (statements before the first COPY) on connection 0, inside
 *              one transaction that begins by moving aside what the target
 *              schemas hold (--clear-target) into pgsluice_aside_<i>, a
 *              schema that is created in any case: it marks that pre-data
 *              committed.  Committed before the first COPY.
 *   data       each COPY block's lines are cut into batches at line ends
 *              (text format: one line, one row) and each batch is sent as
 *              "COPY table (cols) FROM stdin" on whichever connection is
 *              free; the command tags of a table's batches must add up to
 *              the lines the lexer counted.
 *   post-data  each statement goes to a free connection as soon as no
 *              statement in flight touches one of its tables (CREATE INDEX
 *              shares a table with other CREATE INDEX, a COPY batch with
 *              other batches of its table); a statement whose tables are
 *              not known runs alone.  Dump order is kept otherwise, so a
 *              table's PRIMARY KEY is in before a FOREIGN KEY that
 *              references it starts.
 *
 * Session settings (SET, set_config) are replayed on each connection
 * before its next job.  The engine holds up to 64 statements that wait for
 * a connection (a look-ahead; no more is taken once they hold 64 MiB, so
 * that a few huge statements cannot pile up), at most one waiting COPY
 * batch, one batch being filled and one batch per connection: memory is
 * bounded by about 64 MiB + (N + 2) x JOBS_BATCH (plus a single longer
 * row).
 *
 * All or nothing as seen after the import: jobs_end() gives the SQL that
 * the session runs on its own connection at the end: on success, drop the
 * aside schemas; on failure, end the engine's backends, then (if pre-data
 * committed) drop what the import created in the target schemas and move
 * back what was moved aside.  Others can see the partial state while the
 * import runs.
 *
 * Callbacks (jobs_event_fn) come from the event loop, never from inside a
 * jobs_* call; the owner may call any jobs_* function from them.
 */
#ifndef PGSLUICE_JOBS_H
#define PGSLUICE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define JOBS_MAX 16

struct jobs;

enum jobs_event {
	JOBS_EV_READY,  /* an item was dispatched or finished: jobs_ready() may be 1 again */
	JOBS_EV_FAILED, /* msg: the import failed (once) */
};

typedef void (*jobs_event_fn)(void *arg, enum jobs_event ev, const char *msg);

struct jobs_config {
	struct event_base *base;
	const char *conninfo;
	int n; /* connections, 2..JOBS_MAX */
	int connect_timeout;
	const char *lock_set;       /* "SET lock_timeout = ...;" for every connection */
	const char *const *schemas; /* the target schemas (--schema) */
	int n_schemas;
	int move_aside;        /* --clear-target found objects: move them aside */
	int statement_timeout; /* --statement-timeout: seconds one of the dump's
	                                 statements may run; 0: no limit */
	const char *who;       /* log prefix, outlives the engine */
	jobs_event_fn fn;
	void *arg;
};

/*
 * Start the engine: N connections are opened, connection 0 begins the
 * pre-data transaction.  Returns NULL with a message in err on failure.
 * cfg's strings must outlive the engine.
 */
struct jobs *jobs_new(const struct jobs_config *cfg, char *err, size_t errsize);

/* 1 when the engine takes a new statement, COPY or COPY end. */
int jobs_ready(const struct jobs *j);

/*
 * A statement to run (text as sent, not NUL-terminated; no, line: for its
 * error), sent alone with the extended protocol (target_send).
 * std_strings: standard_conforming_strings as the lexer reads the dump
 * after it; the server's value must match once it ran, or the import
 * fails.  Likewise the connection's transaction state (pre-data on
 * connection 0 in the engine's transaction, the rest autocommit).
 * Returns 0 when taken, -1 when the import failed (JOBS_EV_FAILED
 * follows, or came).  Call only when jobs_ready().
 */
int jobs_statement(struct jobs *j, const char *text, size_t len, uint64_t no, uint64_t line,
                   int std_strings) __attribute__((warn_unused_result));

/*
 * A statement of pgsluice's own (ANALYZE, VACUUM), sent as a script with
 * the simple protocol like BEGIN and COMMIT, never counted as the dump's.
 * alone: it runs after everything queued before it and before anything
 * after (as a barrier); else the engine places it by the tables it names.
 * no: the statement count it follows, for its error.  Returns as
 * jobs_statement.
 */
int jobs_own(struct jobs *j, const char *sql, int alone, uint64_t no, int std_strings)
	__attribute__((warn_unused_result));

/* A COPY ... FROM stdin statement: its data follows.  Same arguments and returns. */
int jobs_copy_begin(struct jobs *j, const char *text, size_t len, const char *table, uint64_t no,
                    uint64_t line, int std_strings) __attribute__((warn_unused_result));

/* COPY data (any piece).  Returns 1 when taken, 0 when not now (retry on JOBS_EV_READY). */
int jobs_copy_data(struct jobs *j, const char *data, size_t len);

/* The COPY's "\." after rows lines.  Returns 1 when taken, 0 when not now. */
int jobs_copy_end(struct jobs *j, uint64_t rows);

/*
 * The input is complete (after the trailer): commit pre-data if no COPY
 * came.  Then wait for jobs_idle().
 */
void jobs_finish(struct jobs *j);

/*
 * After JOBS_EV_FAILED: when a statement of the dump ended pre-data's
 * transaction, what the target holds now (one line, for the summary in
 * place of "rolled back"); NULL otherwise.
 */
const char *jobs_state(const struct jobs *j);

/* 1 when nothing waits or runs (after jobs_finish: ready for verification). */
int jobs_idle(const struct jobs *j);

/* 1 once pre-data committed: statements run in autocommit (VACUUM may). */
int jobs_in_data(const struct jobs *j);

/* How many items wait or run. */
int jobs_pending(const struct jobs *j);

/*
 * The end: close the engine's connections and return the SQL for the
 * session's connection (malloc'd; "" when there is nothing to do; NULL when
 * out of memory).  backend_version: PQserverVersion of that connection.
 */
char *jobs_end(struct jobs *j, int success, int server_version);

void jobs_free(struct jobs *j);

#endif
