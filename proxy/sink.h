/*
 * sink.h - where a session's dump statements and COPY data go: the
 * session's own target connection (sink_one.c) or the `serve --jobs N`
 * engine (sink_jobs.c, over jobs.h).  The variation sits behind one ops
 * table, as pgbouncer's SBufIO does for plain and TLS sockets: the session
 * holds `const struct sink_ops *sink`, sink_one until its stream starts
 * with --jobs (sink_start_jobs), and calls s->sink->...; it never asks
 * which one it has.  Both are parts of the session and share its layout
 * (session_int.h); the engine's fields of struct session (jobs, jobs_*,
 * vacuum_*) are touched only by sink_jobs.c.
 *
 * Return convention of the int-returning members: 1 done (taken), 0 not
 * now: the session calls again once the sink calls back (TARGET_EV_IDLE,
 * TARGET_EV_DRAINED or TARGET_EV_COPY on the session's connection,
 * JOBS_EV_READY from the engine), -1 failed: session_fail was called, or
 * what the member says follows.
 */
#ifndef PGSLUICE_SINK_H
#define PGSLUICE_SINK_H

#include <stddef.h>

struct session;
struct lexer_event;

struct sink_ops {
	/*
	 * STREAM, each turn of the pump: 1 when the sink takes the next
	 * dump statement, COPY data or COPY end; 0 not now (the pump runs
	 * again when the sink calls back).  No -1.
	 */
	int (*ready)(struct session *s);

	/*
	 * A dump statement to run, when ready(): sql is NUL-terminated, len
	 * bytes, and stays as it is until its results are in (the sink may
	 * send it from there); s->cur_no, cur_line, cur_excerpt describe it.
	 * is_copy: a COPY ... FROM stdin whose data follows through
	 * copy_data and copy_end; s->copy_open is set once the data may
	 * come (here, or on TARGET_EV_COPY).  1 taken, -1 failed.
	 */
	int (*send)(struct session *s, const char *sql, size_t len, int is_copy);

	/*
	 * A piece of the open COPY's data, when ready().  1 taken, 0 not
	 * now, -1 the COPY ended: the session clears copy_open and fails
	 * if s->target is broken, else the server's error follows
	 * (TARGET_EV_IDLE).
	 */
	int (*copy_data)(struct session *s, const char *data, size_t len);

	/*
	 * The open COPY's "\." (ev: the LEXER_COPY_END event, its rows),
	 * when ready(): the COPY's end checks (session_copy_ending) and the
	 * end itself; clears s->copy_open when done.  1 done, 0 not now
	 * (the event is retried whole), -1 failed.
	 */
	int (*copy_end)(struct session *s, const struct lexer_event *ev);

	/*
	 * session_complete: the whole dump is in (after the trailer),
	 * before the verification queries.  The sink's own work after the
	 * data.  1 done: verify now; 0 not yet: the sink calls
	 * session_complete again.  No -1 (a failure comes as session_fail).
	 */
	int (*complete)(struct session *s);

	/*
	 * session_wind_down, once, the session's connection idle and the
	 * state before FINISH, success (s->error NULL) or failure: the
	 * sink's own ending.  1: go on: unless the sink set FINISH itself
	 * (with s->finish_commit and s->committed), the session's COMMIT
	 * or ROLLBACK (if a transaction is open) follows, then the unlock;
	 * 0: the sink set FINISH and s->finish_commit and sent SQL on the
	 * session's connection, whose result the FINISH step takes as a
	 * COMMIT's or ROLLBACK's.  No -1.
	 */
	int (*end)(struct session *s);

	/*
	 * FINISH after a failure: the statement that undoes the import (the
	 * session's ROLLBACK, or end()'s SQL) failed, s->srv holds why.
	 * Tell the client what the target holds now, if the sink knows.
	 */
	void (*end_failed)(struct session *s);

	/*
	 * The summary of a failed import: what the target holds, when the
	 * sink knows better than the session (one line, owned by the
	 * sink); NULL: the session says.
	 */
	const char *(*end_state)(const struct session *s);

	/* The session is freed (in any state): free what the sink holds. */
	void (*destroy)(struct session *s);

	/*
	 * 1: the dump runs in the session's one transaction (with
	 * single_transaction), so the tables it creates take COPY FREEZE
	 * (rules.h: copy_freeze).
	 */
	int copy_freeze;
	/*
	 * 1: after each dump statement the session checks its own
	 * connection (session_check_target: the transaction still open,
	 * standard_conforming_strings as the lexer reads); 0: the sink
	 * checks the connections it runs the dump on itself.
	 */
	int check_target;
	/*
	 * 1: the session runs ANALYZE of the tables the import created on
	 * its own connection after verification; 0: complete() saw to the
	 * statistics.
	 */
	int analyze;
	/*
	 * The audit found the role or database changed and no transaction
	 * of the import is open: why the change is committed already (a
	 * line for the failure, starting "\n  ").
	 */
	const char *committed_note;
};

/* The session's own target connection: one transaction, or autocommit. */
extern const struct sink_ops sink_one;

/* `serve --jobs N`: the engine (jobs.h); set by sink_start_jobs. */
extern const struct sink_ops sink_jobs;

/*
 * The objects step is done and the stream starts with --jobs: start the
 * engine (its connections, pre-data's transaction), make it s->sink and
 * start the stream (session_start_stream).  On failure session_fail is
 * called and s->sink stays sink_one.
 */
void sink_start_jobs(struct session *s);

#endif
