/*
 * target.h - one libpq connection to the target database, driven by a
 * libevent loop.
 *
 * Everything libpq does here is non-blocking: PQconnectStartParams and
 * PQconnectPoll (the socket is re-registered after every poll step, since
 * libpq may switch sockets while it tries hosts and addresses), then
 * PQsendQueryParams (or PQsendQuery, for pgsluice's own scripts) /
 * PQputCopyData / PQputCopyEnd with PQflush, and
 * PQconsumeInput / PQisBusy / PQgetResult on read-ready.  The owner is told
 * what happened through one callback; it never waits.
 *
 * Backpressure: target_ready() is false while a command is in flight or
 * libpq's output buffer still holds unsent bytes.  The owner sends nothing
 * more until then; TARGET_EV_IDLE / TARGET_EV_COPY / TARGET_EV_DRAINED say
 * that it may go on.  So libpq never buffers more than one statement or one
 * COPY piece ahead of the socket.
 *
 * Callback contract: the callback may call target_send(), target_put_copy(),
 * target_end_copy() and target_close() on the same target, but must not
 * free the memory that holds struct target (defer that to the loop).
 */
#ifndef PGSLUICE_TARGET_H
#define PGSLUICE_TARGET_H

#include <event2/event.h>
#include <libpq-fe.h>

#include "parsemsg.h"

enum target_state {
	TARGET_CLOSED = 0, /* no connection (never opened, or closed) */
	TARGET_CONNECTING, /* PQconnectPoll steps */
	TARGET_IDLE,       /* connected, no command in flight */
	TARGET_BUSY,       /* a command was sent; results are being collected */
	TARGET_COPY_IN,    /* the server waits for COPY data */
	TARGET_BROKEN,     /* the connection failed; see target_error() */
};

enum target_event {
	TARGET_EV_CONNECTED, /* connection is up (state IDLE) */
	TARGET_EV_RESULT,    /* res: one result of the command (freed after) */
	TARGET_EV_IDLE,      /* all results of the command are in (state IDLE) */
	TARGET_EV_COPY,      /* the command started COPY FROM STDIN (state COPY_IN) */
	TARGET_EV_DRAINED,   /* libpq's output buffer is flushed again */
	TARGET_EV_FAILED,    /* connect failed or the connection broke */
};

typedef void (*target_event_fn)(void *arg, enum target_event ev, PGresult *res);

struct target {
	struct event_base *base;
	PGconn *conn;
	enum target_state state;
	int flushing; /* libpq holds unsent output */
	PostgresPollingStatusType poll;
	struct event *ev_connect; /* one poll step while connecting */
	struct event *ev_timeout; /* connect timeout */
	struct event *ev_read;    /* persistent, once connected */
	struct event *ev_write;   /* added while flushing */
	const char *put_data;     /* target_put_copy: the piece libpq took part of, */
	size_t put_len, put_done; /* its length and the bytes already queued */
	struct parsemsg direct;   /* a large statement written without libpq's copies, */
	int direct_on;            /* while it is being written */
	target_event_fn fn;
	void *arg;
	const char *who; /* log prefix, owned by the caller */
	char error[512];
};

/*
 * Start connecting to conninfo (a connection string or URI; PG* variables,
 * the service file and .pgpass apply as in psql), with application_name
 * pgsluice.  Returns 0 when the attempt is under way (TARGET_EV_CONNECTED
 * or TARGET_EV_FAILED follows), -1 when it failed at once (target_error()).
 * timeout_s bounds the whole connection attempt (0: none).
 */
int target_connect(struct target *t, struct event_base *base, const char *conninfo, int timeout_s,
                   target_event_fn fn, void *arg, const char *who)
	__attribute__((warn_unused_result));

/* The same with another application_name (side connections: probe.c). */
int target_connect_as(struct target *t, struct event_base *base, const char *conninfo,
                      const char *appname, int timeout_s, target_event_fn fn, void *arg,
                      const char *who) __attribute__((warn_unused_result));

/*
 * Every connection this process opens from now on (imports, side
 * connections, check) acts as role (SET ROLE after connecting, as
 * pg_restore --role): it is given as the startup option "-c role=ROLE",
 * after the connection string's own options (or PGOPTIONS), so the
 * server refuses the connection when the login role may not become it.
 * NULL: none.  role must live as long as the process (an argv string).
 */
void target_set_role(const char *role);

/* The role set by target_set_role(), or NULL. */
const char *target_role_name(void);

/*
 * The keyword/value arrays that target_connect_as() gives to
 * PQconnectStartParams (expand_dbname 1), for a blocking PQconnectdbParams
 * with the same meaning.  opts (optsz bytes) holds the options value when
 * a role is set.  The arrays end with NULL; 0, or -1 if the options do not
 * fit (message in opts).
 */
int target_params(const char *conninfo, const char *appname, const char *keys[4],
                  const char *vals[4], char *opts, size_t optsz)
	__attribute__((warn_unused_result));

/*
 * Send one statement (NUL-terminated) in state IDLE, with the extended
 * query protocol (PQsendQueryParams, no parameters): the server parses the
 * string as one prepared statement and refuses it ("cannot insert multiple
 * commands into a prepared statement", SQLSTATE 42601) if it holds more
 * than one command.  So a statement the lexer cut out of a dump is exactly
 * one statement on the server, whatever the two think of its comments and
 * quotes.  COPY FROM STDIN works through it.  Everything that comes from a
 * dump goes through here.
 *
 * Results arrive as TARGET_EV_RESULT, then TARGET_EV_IDLE (or
 * TARGET_EV_COPY).  Returns 0, or -1 (state BROKEN, target_error() set;
 * TARGET_EV_FAILED is not sent for this).
 */
int target_send(struct target *t, const char *sql) __attribute__((warn_unused_result));

/*
 * The same, for a caller that keeps sql unchanged until the results are in
 * (TARGET_EV_IDLE, TARGET_EV_COPY, or the connection's failure): a
 * statement of a MiB or more then goes out as a Parse message written from
 * sql itself (parsemsg.h), not through libpq's two copies.
 */
int target_send_kept(struct target *t, const char *sql) __attribute__((warn_unused_result));

/*
 * The same for a script of pgsluice's own (the preflight, BEGIN with the
 * --clear-target drops, the checks before COMMIT, the ending): one or more
 * statements in one string, sent with the simple query protocol, where the
 * server runs every statement in it.  Never for text from a dump.
 */
int target_send_script(struct target *t, const char *sql) __attribute__((warn_unused_result));

/*
 * The COPY calls return as libpq's PQputCopyData and PQputCopyEnd do:
 * 1 done, 0 not now (libpq's buffer is full: call again after
 * TARGET_EV_DRAINED, which is sure to come), -1 failed.
 */

/*
 * Queue a piece of COPY data in state COPY_IN.  Returns 1 when all of it
 * is queued.  0: libpq took only part of it, or none; call again with the
 * same piece (the same data and len) after TARGET_EV_DRAINED, and only
 * the rest is queued then: no byte is ever sent twice.  -1 when the COPY
 * is no longer in progress or the connection failed: the state is then
 * BUSY (the server's error follows as results) or BROKEN (also when the
 * call after a 0 gives another piece).
 */
int target_put_copy(struct target *t, const char *data, size_t len)
	__attribute__((warn_unused_result));

/*
 * End the COPY in state COPY_IN (a piece that got 0 is abandoned: the
 * bytes libpq took are sent); errmsg non-NULL makes the server fail it
 * with that message.  Returns 1 when the end is queued: the state is BUSY
 * and the COPY's result follows; 0 when libpq could not queue it yet (call
 * again after TARGET_EV_DRAINED); -1 (BROKEN).
 */
int target_end_copy(struct target *t, const char *errmsg) __attribute__((warn_unused_result));

/* 1 when a new command or COPY piece may be given (IDLE or COPY_IN, flushed). */
int target_ready(const struct target *t);

/* Close the connection (the server rolls back an open transaction). */
void target_close(struct target *t);

const char *target_error(const struct target *t);

#endif
