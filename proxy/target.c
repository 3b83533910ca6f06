/*
 * target.c - the target database connection on the event loop (target.h).
 *
 * Kept apart from the session so that the libpq state machine (connect
 * steps, flushing, result collection) lives in one place and the session
 * only sees "connected", "a result", "done", "may send more".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parsemsg.h"
#include "target.h"

/*
 * COPY data is handed to libpq in pieces of at most this size.  Each
 * PQputCopyData copies the piece into libpq's output buffer and sends the
 * buffer's whole 8 KiB blocks; when the kernel takes only part of a send,
 * libpq moves the unsent rest to the front of its buffer.  Measured on the
 * 350 MB benchmark dump: with the lexer's 128 KiB pieces pgsluice spent
 * 0.21-0.24 user CPU-s (a third of it in that copying), with 48 KiB
 * pieces 0.10, for 2.3 times as many (cheap) sends.
 */
#define TARGET_PUT_CHUNK (48 * 1024)

/*
 * A statement of at least this size goes out as a Parse message written
 * from the caller's buffer (parsemsg.h) instead of through
 * PQsendQueryParams, which would hold it twice more.  Below it the copies
 * cost less than the extra write.
 */
#define TARGET_DIRECT_MIN (1024 * 1024)

static void target_connect_step(struct target *t);
static void target_on_io(evutil_socket_t fd, short what, void *arg);
static int target_direct(struct target *t);

/* "what: libpq's message", its continuation lines indented by two spaces */
static void
target_set_error(struct target *t, const char *what, const char *detail)
{
	size_t n, o;
	const char *p;

	snprintf(t->error, sizeof(t->error), "%s%s", what, detail && *detail ? ": " : "");
	o = strlen(t->error);
	for (p = detail; p && *p && o + 4 < sizeof(t->error); p++) {
		if (*p == '\n') {
			while (p[1] == '\t' || p[1] == ' ')
				p++;
			if (p[1] == '\0')
				break;
			t->error[o++] = '\n';
			t->error[o++] = ' ';
			t->error[o++] = ' ';
			continue;
		}
		t->error[o++] = *p;
	}
	t->error[o] = '\0';
	n = strlen(t->error);
	while (n > 0 && (t->error[n - 1] == '\n' || t->error[n - 1] == ' '))
		t->error[--n] = '\0';
}

static void
target_free_events(struct target *t)
{
	if (t->ev_connect) {
		event_free(t->ev_connect);
		t->ev_connect = NULL;
	}
	if (t->ev_timeout) {
		event_free(t->ev_timeout);
		t->ev_timeout = NULL;
	}
	if (t->ev_read) {
		event_free(t->ev_read);
		t->ev_read = NULL;
	}
	if (t->ev_write) {
		event_free(t->ev_write);
		t->ev_write = NULL;
	}
}

/* The connection is unusable: say so once, what and why.  notify: tell the owner. */
static void
target_break_why(struct target *t, const char *what, const char *why, int notify)
{
	if (t->state == TARGET_BROKEN || t->state == TARGET_CLOSED)
		return;
	target_set_error(t, what, why);
	target_free_events(t);
	t->state = TARGET_BROKEN;
	t->flushing = 0;
	t->direct_on = 0;
	if (notify)
		t->fn(t->arg, TARGET_EV_FAILED, NULL);
}

/* The same with libpq's message as the why. */
static void
target_break(struct target *t, const char *what, int notify)
{
	target_break_why(t, what, t->conn ? PQerrorMessage(t->conn) : NULL, notify);
}

static void
target_notice(void *arg, const char *message)
{
	struct target *t = arg;

	log_info(t->who, "target says: %s", message);
}

static void
target_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;
	(void)fd;
	(void)what;

	if (t->state == TARGET_CONNECTING) {
		snprintf(t->error, sizeof(t->error), "timed out connecting to the target");
		target_free_events(t);
		t->state = TARGET_BROKEN;
		t->fn(t->arg, TARGET_EV_FAILED, NULL);
	}
}

static void
target_on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;
	(void)fd;
	(void)what;

	t->poll = PQconnectPoll(t->conn);
	target_connect_step(t);
}

/* Act on the last PQconnectPoll result. */
static void
target_connect_step(struct target *t)
{
	evutil_socket_t fd;

	if (t->ev_connect) {
		event_free(t->ev_connect);
		t->ev_connect = NULL;
	}
	switch (t->poll) {
	case PGRES_POLLING_READING:
	case PGRES_POLLING_WRITING:
		/* the socket may have changed: register it anew every step */
		fd = PQsocket(t->conn);
		if (fd < 0) {
			target_break(t, "cannot connect to the target", 1);
			return;
		}
		t->ev_connect = event_new(t->base, fd,
		                          t->poll == PGRES_POLLING_READING ? EV_READ : EV_WRITE,
		                          target_on_connect, t);
		if (t->ev_connect == NULL || event_add(t->ev_connect, NULL) != 0) {
			target_break(t, "cannot wait for the target connection (libevent)", 1);
			return;
		}
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		target_break(t, "cannot connect to the target", 1);
		return;
	}

	if (t->ev_timeout) {
		event_free(t->ev_timeout);
		t->ev_timeout = NULL;
	}
	if (PQsetnonblocking(t->conn, 1) != 0) {
		target_break(t, "cannot make the target connection non-blocking", 1);
		return;
	}
	PQsetNoticeProcessor(t->conn, target_notice, t);
	fd = PQsocket(t->conn);
	t->ev_read = event_new(t->base, fd, EV_READ | EV_PERSIST, target_on_io, t);
	t->ev_write = event_new(t->base, fd, EV_WRITE | EV_PERSIST, target_on_io, t);
	if (t->ev_read == NULL || t->ev_write == NULL || event_add(t->ev_read, NULL) != 0) {
		target_break(t, "cannot watch the target connection (libevent)", 1);
		return;
	}
	t->state = TARGET_IDLE;
	t->fn(t->arg, TARGET_EV_CONNECTED, NULL);
}

int
target_connect(struct target *t, struct event_base *base, const char *conninfo, int timeout_s,
               target_event_fn fn, void *arg, const char *who)
{
	return target_connect_as(t, base, conninfo, "pgsluice", timeout_s, fn, arg, who);
}

static const char *target_role;

void
target_set_role(const char *role)
{
	target_role = role;
}

const char *
target_role_name(void)
{
	return target_role;
}

/* The options the connection would have without us: the string's, or PGOPTIONS. */
static const char *
target_own_options(const char *conninfo, PQconninfoOption **parsed)
{
	PQconninfoOption *o;

	*parsed = PQconninfoParse(conninfo, NULL);
	for (o = *parsed; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val != NULL)
			return o->val;
	return getenv("PGOPTIONS");
}

int
target_params(const char *conninfo, const char *appname, const char *keys[4], const char *vals[4],
              char *opts, size_t optsz)
{
	PQconninfoOption *parsed;
	const char *own, *r;
	size_t o = 0;
	int n = 0, len;

	/* dbname first, so that expand_dbname lets the string set everything;
	 * application_name (and the role) after it, so that they are ours */
	keys[n] = "dbname";
	vals[n++] = conninfo;
	keys[n] = "application_name";
	vals[n++] = appname;
	if (target_role != NULL) {
		own = target_own_options(conninfo, &parsed);
		len = snprintf(opts, optsz, "%s%s-c role=", own ? own : "", own && *own ? " " : "");
		o = len < 0 ? optsz : (size_t)len;
		/* the server splits options at spaces; a backslash escapes one */
		for (r = target_role; *r != '\0' && o + 3 < optsz; r++) {
			if (*r == ' ' || *r == '\\')
				opts[o++] = '\\';
			opts[o++] = *r;
		}
		PQconninfoFree(parsed);
		if (*r != '\0' || o >= optsz) {
			snprintf(opts, optsz,
			         "--role %s: the role name and the connection's options "
			         "are too long",
			         target_role);
			return -1;
		}
		opts[o] = '\0';
		keys[n] = "options";
		vals[n++] = opts;
	}
	keys[n] = vals[n] = NULL;
	return 0;
}

int
target_connect_as(struct target *t, struct event_base *base, const char *conninfo,
                  const char *appname, int timeout_s, target_event_fn fn, void *arg,
                  const char *who)
{
	const char *keys[4], *vals[4];
	char opts[1024];
	struct timeval tv;

	memset(t, 0, sizeof(*t));
	t->base = base;
	t->fn = fn;
	t->arg = arg;
	t->who = who;
	t->state = TARGET_CONNECTING;
	if (target_params(conninfo, appname, keys, vals, opts, sizeof(opts)) < 0) {
		snprintf(t->error, sizeof(t->error), "%.500s", opts);
		t->state = TARGET_BROKEN;
		return -1;
	}
	t->conn = PQconnectStartParams(keys, vals, 1);
	if (t->conn == NULL) {
		snprintf(t->error, sizeof(t->error), "cannot connect to the target: out of memory");
		t->state = TARGET_BROKEN;
		return -1;
	}
	if (PQstatus(t->conn) == CONNECTION_BAD) {
		target_break(t, "cannot connect to the target", 0);
		return -1;
	}
	if (timeout_s > 0) {
		t->ev_timeout = evtimer_new(base, target_on_timeout, t);
		tv.tv_sec = timeout_s;
		tv.tv_usec = 0;
		if (t->ev_timeout == NULL || evtimer_add(t->ev_timeout, &tv) != 0) {
			target_break(t, "cannot arm the connect timeout (libevent)", 0);
			return -1;
		}
	}
	/* as libpq's docs say: behave as if the last poll said WRITING */
	t->poll = PGRES_POLLING_WRITING;
	target_connect_step(t);
	return t->state == TARGET_BROKEN ? -1 : 0;
}

/* After sending: push what libpq holds; watch for write-ready if needed. */
static int
target_flush(struct target *t)
{
	int r = PQflush(t->conn);

	if (r < 0) {
		target_break(t, "lost the target connection while sending", 0);
		return -1;
	}
	if (r == 1) {
		if (!t->flushing && event_add(t->ev_write, NULL) != 0) {
			target_break(t, "cannot watch the target connection (libevent)", 0);
			return -1;
		}
		t->flushing = 1;
	} else if (t->flushing) {
		event_del(t->ev_write);
		t->flushing = 0;
	}
	return 0;
}

/* Collect results while they are complete; stop when libpq needs input. */
static void
target_collect(struct target *t)
{
	PGresult *res;
	ExecStatusType st;

	while (t->conn != NULL && t->state == TARGET_BUSY) {
		if (PQisBusy(t->conn))
			return;
		res = PQgetResult(t->conn);
		if (res == NULL) {
			t->state = TARGET_IDLE;
			t->fn(t->arg, TARGET_EV_IDLE, NULL);
			return;
		}
		st = PQresultStatus(res);
		if (st == PGRES_COPY_IN) {
			PQclear(res);
			t->state = TARGET_COPY_IN;
			t->fn(t->arg, TARGET_EV_COPY, NULL);
			return;
		}
		if (st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			/* never sent by us; a dump cannot answer it */
			PQclear(res);
			snprintf(
				t->error, sizeof(t->error),
				"the target started a COPY TO STDOUT, which an import cannot serve");
			target_free_events(t);
			t->state = TARGET_BROKEN;
			t->fn(t->arg, TARGET_EV_FAILED, NULL);
			return;
		}
		t->fn(t->arg, TARGET_EV_RESULT, res);
		PQclear(res);
	}
}

static void
target_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;
	int was_flushing;
	(void)fd;

	if (t->conn == NULL ||
	    (t->state != TARGET_IDLE && t->state != TARGET_BUSY && t->state != TARGET_COPY_IN))
		return;
	if (what & EV_READ) {
		if (!PQconsumeInput(t->conn)) {
			target_break(t, "lost the target connection", 1);
			return;
		}
	}
	if (t->direct_on) {
		/* the server's answer waits in libpq's buffer until the statement is out */
		if (target_direct(t) < 0) {
			t->fn(t->arg, TARGET_EV_FAILED, NULL);
			return;
		}
		if (t->direct_on || t->state != TARGET_BUSY)
			return;
	}
	was_flushing = t->flushing;
	if (t->flushing) {
		if (target_flush(t) < 0) {
			t->fn(t->arg, TARGET_EV_FAILED, NULL);
			return;
		}
	}
	if (t->state == TARGET_BUSY) {
		target_collect(t);
		if (t->conn == NULL || t->state == TARGET_BROKEN)
			return;
	}
	if (was_flushing && !t->flushing && (t->state == TARGET_IDLE || t->state == TARGET_COPY_IN))
		t->fn(t->arg, TARGET_EV_DRAINED, NULL);
}

/*
 * Write what the socket takes of the Parse message of a large statement;
 * once it is all out, libpq sends Bind, Describe, Execute and Sync of the
 * unnamed statement.  0 (done or under way: write- or read-ready calls
 * again), or -1 (BROKEN).
 */
static int
target_direct(struct target *t)
{
	char why[256];
	SSL *ssl = PQsslInUse(t->conn) ? PQsslStruct(t->conn, "OpenSSL") : NULL;

	switch (parsemsg_write(&t->direct, PQsocket(t->conn), ssl, why, sizeof(why))) {
	case PARSEMSG_DONE:
		break;
	case PARSEMSG_WANT_WRITE:
		if (!t->flushing && event_add(t->ev_write, NULL) != 0) {
			target_break(t, "cannot watch the target connection (libevent)", 0);
			return -1;
		}
		t->flushing = 1;
		return 0;
	case PARSEMSG_WANT_READ:
		/* the persistent read event calls again */
		if (t->flushing)
			event_del(t->ev_write);
		t->flushing = 1;
		return 0;
	case PARSEMSG_FAILED:
		target_break_why(t, "lost the target connection while sending", why, 0);
		return -1;
	}
	t->direct_on = 0;
	if (!PQsendQueryPrepared(t->conn, "", 0, NULL, NULL, NULL, 0)) {
		target_break(t, "cannot send to the target", 0);
		return -1;
	}
	return target_flush(t);
}

enum target_send_mode {
	TARGET_SEND_SCRIPT, /* the simple query protocol (several statements) */
	TARGET_SEND_COPIED, /* the extended one, through libpq's copies */
	TARGET_SEND_KEPT,   /* the same; the caller keeps sql until the results are in */
};

static int
target_send_as(struct target *t, const char *sql, enum target_send_mode mode)
{
	int sent;
	size_t len;

	if (t->state != TARGET_IDLE || t->flushing) {
		snprintf(t->error, sizeof(t->error),
		         "internal error: query sent while the target is busy");
		return -1;
	}
	if (mode == TARGET_SEND_KEPT && (len = strlen(sql)) >= TARGET_DIRECT_MIN &&
	    len <= PARSEMSG_MAX_TEXT && !PQgssEncInUse(t->conn)) {
		parsemsg_init(&t->direct, sql, len);
		t->direct_on = 1;
		t->state = TARGET_BUSY;
		return target_direct(t);
	}
	if (mode == TARGET_SEND_SCRIPT)
		sent = PQsendQuery(t->conn, sql);
	else
		sent = PQsendQueryParams(t->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (!sent) {
		target_break(t, "cannot send to the target", 0);
		return -1;
	}
	t->state = TARGET_BUSY;
	return target_flush(t);
}

int
target_send(struct target *t, const char *sql)
{
	return target_send_as(t, sql, TARGET_SEND_COPIED);
}

int
target_send_kept(struct target *t, const char *sql)
{
	return target_send_as(t, sql, TARGET_SEND_KEPT);
}

int
target_send_script(struct target *t, const char *sql)
{
	return target_send_as(t, sql, TARGET_SEND_SCRIPT);
}

/*
 * libpq could not take more now.  It holds unsent bytes, or it could not
 * grow its buffer for nothing: flush, so that TARGET_EV_DRAINED comes, or
 * fail when it will not.  Returns 0 or -1.
 */
static int
target_would_block(struct target *t, const char *what)
{
	if (target_flush(t) < 0)
		return -1;
	if (!t->flushing) {
		target_break(t, what, 0);
		return -1;
	}
	return 0;
}

int
target_put_copy(struct target *t, const char *data, size_t len)
{
	size_t n;
	int r;

	if (t->state != TARGET_COPY_IN)
		return -1;
	if (t->put_done > 0 && (data != t->put_data || len != t->put_len)) {
		t->put_done = 0;
		target_break(t,
		             "internal error: COPY data given after a partial piece is not the "
		             "rest of that piece",
		             0);
		return -1;
	}
	while (t->put_done < len) {
		n = len - t->put_done > TARGET_PUT_CHUNK ? TARGET_PUT_CHUNK : len - t->put_done;
		r = PQputCopyData(t->conn, data + t->put_done, (int)n);
		if (r == 0) {
			t->put_data = data;
			t->put_len = len;
			return target_would_block(
				t, "out of memory queueing COPY data for the target");
		}
		if (r < 0) {
			t->put_done = 0;
			if (PQstatus(t->conn) == CONNECTION_BAD) {
				target_break(t, "lost the target connection during COPY", 0);
				return -1;
			}
			/* the COPY ended on the server's side: collect its error */
			t->state = TARGET_BUSY;
			target_collect(t);
			return -1;
		}
		t->put_done += n;
	}
	t->put_done = 0;
	t->put_data = NULL;
	return target_flush(t) < 0 ? -1 : 1;
}

int
target_end_copy(struct target *t, const char *errmsg)
{
	int r;

	if (t->state != TARGET_COPY_IN)
		return -1;
	t->put_done = 0;
	t->put_data = NULL;
	r = PQputCopyEnd(t->conn, errmsg);
	if (r == 0)
		return target_would_block(t,
		                          "out of memory queueing the end of COPY for the target");
	if (r < 0) {
		target_break(t, "cannot end the COPY on the target", 0);
		return -1;
	}
	t->state = TARGET_BUSY;
	if (target_flush(t) < 0)
		return -1;
	/* results may already be buffered */
	return 1;
}

int
target_ready(const struct target *t)
{
	return (t->state == TARGET_IDLE || t->state == TARGET_COPY_IN) && !t->flushing;
}

void
target_close(struct target *t)
{
	target_free_events(t);
	if (t->conn) {
		PQfinish(t->conn);
		t->conn = NULL;
	}
	t->state = TARGET_CLOSED;
	t->flushing = 0;
	t->direct_on = 0;
}

const char *
target_error(const struct target *t)
{
	return t->error;
}
