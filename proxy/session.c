/*
 * session.c - one import, from the client's first byte to the summary
 * (session.h).
 *
 * The data path, one lexer event at a time:
 *
 *   bufferevent input (read high mark SESSION_INPUT_HIGH: the kernel holds
 *   the rest, the client's TCP window closes); on a plain socket in STREAM
 *   the session's own reads into raw[] instead (session_read_client)
 *     -> decoder_run into plain[] (SESSION_PLAIN_CAP; refilled only when
 *        used up)
 *     -> lexer_scan: one event
 *     -> rules_apply (statements, meta-commands) / COPY data as it is
 *     -> target_send / target_put_copy / target_end_copy
 *
 * Before every event the pump asks target_ready(): while a statement is in
 * flight or libpq holds unsent bytes, nothing more is taken from plain[],
 * nothing more is decoded, the input buffer stays full and libevent stops
 * reading the socket.  When the target catches up (TARGET_EV_IDLE, _COPY,
 * _DRAINED) the pump goes on.  Memory is so bounded by the two buffers,
 * libpq's buffers (one statement or one COPY piece) and the lexer's
 * statement buffer (--max-statement).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "analyze.h"
#include "audit.h"
#include "auth.h"
#include "decoder.h"
#include "dumpstart.h"
#include "jsonout.h"
#include "jobs.h"
#include "lexer.h"
#include "log.h"
#include "metrics.h"
#include "pgwire.h"
#include "preflight.h"
#include "probe.h"
#include "progwatch.h"
#include "report.h"
#include "rules.h"
#include "session.h"
#include "sqltok.h"
#include "synapse.h"
#include "target.h"
#include "tls.h"
#include "verify.h"

#define SESSION_INPUT_HIGH (256 * 1024) /* client bytes buffered before we stop reading */
#define SESSION_PLAIN_CAP (128 * 1024)  /* decoded bytes handed to the lexer at once */
#define SESSION_BULK_READ (128 * 1024)  /* client bytes taken per read on a plain socket */
#define SESSION_COALESCE_MIN (32 * 1024) /* a read below this: let more arrive before the next */
#define SESSION_COALESCE_US 1000         /* ... for this long (microseconds) */
#define SESSION_STMT_KEEP (1024 * 1024) /* statement buffers kept between statements */
#define SESSION_EXCERPT 200             /* characters of a statement in an error */
#define SESSION_LINGER_S 5              /* wait for the client to close after the summary */
#define SESSION_LEFT_CHECK_MS 250       /* a client that had closed: did it reset on the summary? */
#define SESSION_WRITE_TIMEOUT_S 60      /* a client that does not read its summary */
#define SESSION_GZIP_SLACK (1024 * 1024) /* plain bytes --max-gzip-ratio lets pass
                                          * before the first statement, */
#define SESSION_GZIP_ALLOWANCE (64.0 * 1024 * 1024) /* ... and in all after it */
#define SESSION_AUTH_HOLD_MAX_S 30      /* an AUTH attempt waits its turn (auth_wait)
                                         * at most this long in all */
#define SESSION_CANCEL_AFTER_MS 500     /* a failed import's statement still running: cancel */
#define SESSION_WATCH_MAX_S 15.0        /* a statement running this long: who blocks it? */
#define SESSION_SNIFF_GRACE_MS 300      /* wait this long for a first byte (wire or raw?) */
#define SESSION_ALIVE_MS 250            /* the dump is all in and a statement runs: look
                                         * this often whether the client is still there, */
#define SESSION_ALIVE_SAY_S 1.0         /* ... and tell it this often what runs */

enum session_state {
	SESSION_HANDSHAKE,
	SESSION_PREDUMP,
	SESSION_CONNECT,
	SESSION_LOCK,
	SESSION_SETTINGS,
	SESSION_ROLE,
	SESSION_SYNAPSE,
	SESSION_OBJECTS,
	SESSION_BEGIN,
	SESSION_STREAM,
	SESSION_VERIFY,
	SESSION_FINISH,
	SESSION_UNLOCK,
	SESSION_AFTER,
	SESSION_CLOSING,
};

static const char *const session_state_names[] = {
	"handshake", "predump", "connect", "lock", "settings", "role", "synapse", "objects", "begin",
	"stream", "verify", "finish", "unlock", "after", "closing",
};

/* The server's answer to the command in flight, when it was an error. */
struct session_srv_error {
	int set;
	char sqlstate[8];
	char *message, *detail, *hint, *context;
};

struct session {
	const struct session_config *cfg;
	uint64_t id;
	char who[112];
	char peer[80];
	char peer_host[64];
	time_t started;
	enum session_state state;
	int admitted;
	int plain_socket;          /* bev reads a socket itself (no TLS, no filter) */
	/* the PostgreSQL protocol (pgwire.h): NULL for a raw stream */
	struct pgwire *wire;
	int sniffed;               /* the first byte said: raw stream or wire client */
	int tls_port;              /* TLS is configured and this is a TCP connection */
	struct event *ev_sniff;    /* TLS port: the first byte (peeked); else a short grace */
	int peer_refused;          /* a connection was refused as busy during this import */
	int wire_trailer;          /* a wire client's Query held pg_dump's trailer comment */
	uint64_t dump_tables;      /* CREATE TABLE statements of the dump forwarded */
	size_t target_tables;      /* tables the target schemas held (preflight 3) */
	int ended;                 /* on_end was called */
	int released;              /* freeing is scheduled */

	struct bufferevent *bev;
	int client_eof;            /* no more bytes will come from the client */
	int client_gone;           /* nor can we write to it */
	char client_why[128];
	int lingering;
	int left_logged;           /* "client left before the answer" was logged */
	struct event *ev_left;     /* SESSION_LEFT_CHECK_MS after the summary went out */
	/* the handshake (TLS, AUTH line) and the client limits: issue 4 */
	int tls_pending;           /* the TLS handshake is not done yet */
	int auth_pending;          /* the AUTH line is not checked yet */
	int want_result;           /* the client asked for the RESULT line (session.h) */
	char fail_sqlstate[8];     /* the failing dump statement's SQLSTATE ("": none) */
	uint64_t fail_no, fail_line; /* and its number and line (0: no statement failed) */
	struct event *ev_header;   /* --header-timeout, while in HANDSHAKE */
	struct event *ev_auth;     /* an AUTH attempt waiting its turn (auth_wait) */
	double auth_held;          /* seconds it has waited so far */
	struct event *ev_idle;     /* --idle-timeout, while STREAM waits for the client */

	struct target target;
	char dbname[128];
	int locked;                /* we hold the import lock */
	int in_txn;                /* BEGIN succeeded (single transaction) */
	int sent_any;              /* a dump statement (or a DROP) reached the target */
	int finish_commit;         /* FINISH: COMMIT (1) or ROLLBACK (0) */
	int committed;

	struct decoder dec;
	struct lexer lx;
	struct rules rules;
	struct rules_options ropt;
	int pipeline_live;         /* lexer and rules are initialised */
	struct preflight_settings settings;
	struct preflight_objects objects;
	char *cleared;             /* "173 tables, 21 sequences" dropped by --clear-target */
	struct report rep;
	struct synapse syn;        /* Synapse-aware checks (synapse.h) */
	struct verify ver;         /* checks before COMMIT (verify.h) */
	struct preflight_role role; /* the target role's standing */
	int role_results;          /* results of the ROLE step so far */
	int super_allowed;         /* a superuser target, --allow-superuser-target */
	char super_allowed_user[64];
	struct audit audit;        /* role and database before the import (audit.h) */
	int auditing;              /* the audit query before COMMIT is in flight */
	int audited;               /* ... and it found nothing changed */

	char *plain;
	size_t plain_start, plain_end;
	struct lexer_event ev;
	int ev_pending;            /* ev is taken but not yet done */
	size_t ev_used;            /* bytes of plain[] that ev consumed */
	int input_done;            /* decoder_finish was called */
	int lexer_done;            /* lexer_finish said the input ended cleanly */
	int trailer;               /* pg_dump's trailer was seen */
	int last_nl;               /* the last decoded byte was a newline */
	char eof_where[200];       /* lexer_describe at the end of the input */
	int skip_copy;             /* COPY data of a statement that was dropped */
	int copy_open;             /* a forwarded COPY takes the data */

	char *sql;                 /* NUL-terminated copy of what is sent */
	char *fixed;               /* a statement pgsluice rewrote itself */
	size_t sql_cap;
	/* the statement in flight, for its error */
	uint64_t cur_no, cur_line;
	int cur_is_copy;
	char cur_excerpt[SESSION_EXCERPT * 4 + 8];
	char cur_tag[40];          /* the command tag of its last result */
	int txn_lost;              /* a dump statement ended the import's transaction */
	struct session_srv_error srv;

	char *error;               /* the first failure: the import fails */
	int commit_unknown;        /* the target was lost while COMMIT was in flight */

	/*
	 * Side connections (probe.c) while a statement runs: who holds the lock
	 * it waits for (named when lock_timeout strikes), and the cancel of a
	 * statement still running when the import has already failed.
	 */
	struct probe *probe_blocker, *probe_cancel;
	struct progwatch progress; /* index builds seen by the server (progwatch.h) */
	struct event *ev_watch, *ev_cancel;
	struct event *ev_stmt_timeout; /* --statement-timeout, re-armed by each dump statement */
	struct event *ev_alive;    /* SESSION_ALIVE_MS while STREAM */
	double alive_said;         /* when the last "running:" line was written */
	uint64_t busy_gen;         /* statements sent so far (our own and the dump's) */
	double busy_since;         /* when the last one was sent (monotonic seconds) */
	uint64_t blocker_gen;      /* the statement blocker[] was seen for */
	char blocker[640];         /* "pid 123 (user ..., ...): query" */
	int cancel_armed;
	char lock_set[48];         /* "SET lock_timeout = '30s';" (--lock-timeout) */

	struct event *ev_progress, *ev_free, *ev_linger;
	int in_pump, pump_again;

	/*
	 * STREAM on a plain socket: the session reads the client itself
	 * (session_read_client), not the bufferevent, so that one read takes
	 * what the kernel holds, not 4 KiB.
	 */
	int own_read;              /* the bufferevent does not read; ev_read/ev_coalesce do */
	struct event *ev_read;     /* the client socket is readable (one shot) */
	struct event *ev_coalesce; /* a short read: wait a moment for more (one shot) */
	ssize_t last_read;         /* bytes the last read took; 0: none were there */
	char *raw;                 /* SESSION_BULK_READ client bytes read, not yet decoded */
	size_t raw_start, raw_end;

	/* --jobs N: the dump's statements and COPY data go to the engine (jobs.h) */
	struct jobs *jobs;
	int jobs_complete;         /* the trailer came: verify when the engine is idle */
	int jobs_ended;            /* jobs_end's SQL was sent */
	/* statistics after the data (analyze.h): 0 not yet, 1 running, 2 done */
	int analyze_step;
	int vacuum_fed;            /* --jobs: every VACUUM was handed to the engine */
	size_t vacuum_next;        /* ... the next table of the rules' list */
};

static void session_pump(struct session *s);
static void session_own_read_stop(struct session *s);
static void session_handshake(struct session *s);
static void session_wind_down(struct session *s);
static int session_peer_state(struct session *s);
static int session_sniff(struct session *s);
static int session_tls_port(struct session *s);
static void session_on_presniff(evutil_socket_t fd, short what, void *arg);
static int session_wire_startup(struct session *s);
static int session_wire_refill(struct session *s);
static int session_wire_statement(struct session *s, const struct lexer_event *ev,
                                  const struct rules_verdict *v, int in_copy);
static int session_wire_after(struct session *s);
static void session_predump(struct session *s);
static void session_preflight_start(struct session *s);
static void session_on_idle(evutil_socket_t fd, short what, void *arg);
static void session_refuse_code(struct session *s, enum log_level level,
                                enum session_admission code, const char *msg);
static void session_refuse(struct session *s, enum log_level level, const char *msg);
static void session_on_header_timeout(evutil_socket_t fd, short what, void *arg);
static void session_report(struct session *s);
static void session_release(struct session *s);
static void session_fail(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const struct report *
session_progress(const struct session *s)
{
	return &s->rep;
}

const char *
session_who(const struct session *s)
{
	return s->who;
}

static void
session_set_state(struct session *s, enum session_state st)
{
	if (s->state == st)
		return;
	log_debug(s->who, "state %s -> %s", session_state_names[s->state],
	          session_state_names[st]);
	if (s->state == SESSION_STREAM)
		session_own_read_stop(s);
	s->state = st;
}

/* One line to the client (if it is still there) and to the log. */
static void
session_say(struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
session_say(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, s->who, fmt, ap);
	va_end(ap);
	if (s->client_gone)
		return;
	if (s->wire != NULL) {
		char line[2048];

		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		pgwire_say(s->wire, bufferevent_get_output(s->bev), line);
		return;
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(s->bev), "\n", 1);
}

static char *
session_vstrdup(const char *fmt, va_list ap)
{
	va_list ap2;
	char *p;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	p = malloc((size_t)n + 1);
	if (p != NULL)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

static void
session_srv_clear(struct session_srv_error *e)
{
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->context);
	memset(e, 0, sizeof(*e));
}

static char *
session_field(const PGresult *res, int code)
{
	const char *v = PQresultErrorField(res, code);
	char *p;
	size_t n;

	if (v == NULL || *v == '\0')
		return NULL;
	p = strdup(v);
	if (p == NULL)
		return NULL;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
		p[--n] = '\0';
	return p;
}

/* Keep the first server error of the command in flight. */
static void
session_srv_save(struct session *s, const PGresult *res)
{
	const char *state;

	if (s->srv.set)
		return;
	s->srv.set = 1;
	s->srv.message = session_field(res, PG_DIAG_MESSAGE_PRIMARY);
	if (s->srv.message == NULL)
		s->srv.message = strdup(PQresultErrorMessage(res));
	s->srv.detail = session_field(res, PG_DIAG_MESSAGE_DETAIL);
	s->srv.hint = session_field(res, PG_DIAG_MESSAGE_HINT);
	s->srv.context = session_field(res, PG_DIAG_CONTEXT);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(s->srv.sqlstate, sizeof(s->srv.sqlstate), "%s", state ? state : "?????");
}

/* "message (SQLSTATE x)" plus DETAIL/HINT/CONTEXT lines, malloc'd */
static char *
session_srv_text(const struct session_srv_error *e)
{
	const char *msg = e->message ? e->message : "unknown error";
	char *p;
	size_t n;

	n = strlen(msg) + 64 + (e->detail ? strlen(e->detail) + 16 : 0) +
	    (e->hint ? strlen(e->hint) + 16 : 0) + (e->context ? strlen(e->context) + 16 : 0);
	p = malloc(n);
	if (p == NULL)
		return NULL;
	snprintf(p, n, "%s (SQLSTATE %s)%s%s%s%s%s%s", msg, e->sqlstate,
	         e->detail ? "\n  DETAIL: " : "", e->detail ? e->detail : "",
	         e->hint ? "\n  HINT: " : "", e->hint ? e->hint : "",
	         e->context ? "\n  CONTEXT: " : "", e->context ? e->context : "");
	return p;
}

/* First SESSION_EXCERPT characters of a statement, on one line. */
static void
session_excerpt(const char *text, size_t len, char *out, size_t size)
{
	size_t i, o = 0, chars = 0;
	int space = 0;

	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			if (!space && o > 0) {
				out[o++] = ' ';
				chars++;
			}
			space = 1;
			continue;
		}
		space = 0;
		if ((c & 0xC0) != 0x80) { /* a character starts here */
			if (chars == SESSION_EXCERPT)
				break;
			chars++;
		}
		out[o++] = c < 0x20 ? '?' : (char)c;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/*
 * The import failed: keep the first reason (a printf format), then wind the
 * target down.  Safe to call in any state, several times.
 */
static void
session_fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->error == NULL) {
		va_start(ap, fmt);
		s->error = session_vstrdup(fmt, ap);
		va_end(ap);
		if (s->error == NULL)
			s->error = strdup("out of memory");
		log_debug(s->who, "failing in state %s", session_state_names[s->state]);
	}
	if (s->state == SESSION_CLOSING)
		return;
	session_wind_down(s);
}

/* ---- side connections: who blocks us, cancel ------------------------- */

static struct timeval
session_tv(double secs)
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
session_watch_period(const struct session *s)
{
	double p = s->cfg->lock_timeout > 0 ? s->cfg->lock_timeout / 2.0 : SESSION_WATCH_MAX_S;

	if (p < 0.25)
		p = 0.25;
	return p > SESSION_WATCH_MAX_S ? SESSION_WATCH_MAX_S : p;
}

static void
session_on_blocker(void *arg, const PGresult *res, const char *error)
{
	struct session *s = arg;
	char text[sizeof(s->blocker)], more[48] = "";
	const char *query;
	int n;

	s->probe_blocker = NULL;
	if (error != NULL) {
		log_debug(s->who, "cannot ask the target who blocks the statement: %s", error);
		return;
	}
	if (PQntuples(res) < 1 || PQnfields(res) < 8 || s->state == SESSION_CLOSING)
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
	if (s->blocker_gen == s->busy_gen && strcmp(text, s->blocker) == 0)
		return;
	snprintf(s->blocker, sizeof(s->blocker), "%s", text);
	s->blocker_gen = s->busy_gen;
	if (s->state == SESSION_STREAM)
		session_say(s, LOG_LEVEL_WARN, "waiting: statement %llu at line %llu has waited %.0f s "
		            "for a lock held by %s",
		            (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
		            report_now() - s->busy_since, s->blocker);
	else
		session_say(s, LOG_LEVEL_WARN, "waiting: %s has waited %.0f s for a lock held by %s",
		            session_state_names[s->state], report_now() - s->busy_since, s->blocker);
}

/* A statement has run for a watch period: ask who blocks it, if anyone. */
static void
session_on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct timeval tv = session_tv(session_watch_period(s));
	char sql[900];
	(void)fd;
	(void)what;

	if (s->state == SESSION_CLOSING || s->target.conn == NULL ||
	    s->target.state != TARGET_BUSY)
		return; /* the next statement sent arms the watch again */
	if (s->probe_blocker == NULL) {
		snprintf(sql, sizeof(sql),
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
		         PQbackendPID(s->target.conn));
		s->probe_blocker = probe_start(s->cfg->base, s->cfg->conninfo, "pgsluice (lock watch)",
		                               s->cfg->connect_timeout, sql, session_on_blocker, s,
		                               s->who);
	}
	evtimer_add(s->ev_watch, &tv);
}

/* A statement went out: note when, and watch it. */
static void
session_watch(struct session *s)
{
	struct timeval tv = session_tv(session_watch_period(s));

	s->busy_gen++;
	s->busy_since = report_now();
	if (s->ev_watch == NULL)
		s->ev_watch = evtimer_new(s->cfg->base, session_on_watch, s);
	if (s->ev_watch != NULL)
		evtimer_add(s->ev_watch, &tv);
}

/* "\n  it waited ... held by pid 123 (...): query" after a lock timeout, or "" */
static void
session_lock_note(const struct session *s, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!s->srv.set || strcmp(s->srv.sqlstate, "55P03") != 0)
		return;
	if (s->blocker[0] != '\0' && s->blocker_gen == s->busy_gen)
		snprintf(buf, size, "\n  it waited --lock-timeout %d s for a lock held by %s"
		         "\n  end that session or let it finish, then send the dump again",
		         s->cfg->lock_timeout, s->blocker);
	else
		snprintf(buf, size, "\n  it waited --lock-timeout %d s for a lock that another session "
		         "holds (pg_locks on the target shows which)", s->cfg->lock_timeout);
}

static void
session_on_cancelled(void *arg, const PGresult *res, const char *error)
{
	struct session *s = arg;

	s->probe_cancel = NULL;
	if (error != NULL)
		log_warn(s->who, "cannot cancel the statement running on the target: %s", error);
	else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		log_warn(s->who, "the target did not cancel the statement (pg_cancel_backend said no)");
}

static void
session_on_cancel_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct target *t = &s->target;
	char sql[96];
	(void)fd;
	(void)what;

	if (s->state >= SESSION_FINISH || t->conn == NULL || s->probe_cancel != NULL)
		return;
	if (t->state != TARGET_BUSY && !(t->state == TARGET_COPY_IN && t->flushing))
		return;
	log_info(s->who, "the import has failed; cancelling the statement still running on the "
	         "target (backend pid %d)", PQbackendPID(t->conn));
	snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_cancel_backend(%d)", PQbackendPID(t->conn));
	s->probe_cancel = probe_start(s->cfg->base, s->cfg->conninfo, "pgsluice (cancel)",
	                              s->cfg->connect_timeout, sql, session_on_cancelled, s, s->who);
}

/*
 * The import has failed while a statement (or COPY data) is still in
 * flight: what it does is rolled back anyway, so do not wait for it to end
 * by itself.  If it still runs a moment later, cancel it from a side
 * connection (PQcancel would block the loop; PostgreSQL 15's libpq has no
 * non-blocking cancel).
 */
static void
session_cancel_later(struct session *s)
{
	struct timeval tv = { 0, SESSION_CANCEL_AFTER_MS * 1000 };

	if (s->cancel_armed || s->state >= SESSION_FINISH)
		return;
	s->cancel_armed = 1;
	s->ev_cancel = evtimer_new(s->cfg->base, session_on_cancel_timer, s);
	if (s->ev_cancel != NULL)
		evtimer_add(s->ev_cancel, &tv);
}

/*
 * The import has failed because of the statement still running (it ran
 * too long, or the client is gone): cancel it at once.
 */
static void
session_cancel_now(struct session *s)
{
	session_on_cancel_timer(-1, 0, s);
}

/* --statement-timeout: the dump statement sent last has run that long. */
static void
session_on_stmt_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM || s->error != NULL || s->target.state != TARGET_BUSY)
		return; /* it ended; a COPY waiting for the client's data does not count */
	session_fail(s, "statement %llu at line %llu ran longer than --statement-timeout %d s on "
	             "the target: cancelled\n  statement: %s",
	             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
	             s->cfg->statement_timeout, s->cur_excerpt);
	session_cancel_now(s);
}

/* A dump statement (or a COPY's end) went out: its time starts. */
static void
session_stmt_timer(struct session *s)
{
	struct timeval tv = { s->cfg->statement_timeout, 0 };

	if (s->cfg->statement_timeout <= 0)
		return;
	if (s->ev_stmt_timeout == NULL)
		s->ev_stmt_timeout = evtimer_new(s->cfg->base, session_on_stmt_timeout, s);
	if (s->ev_stmt_timeout != NULL)
		evtimer_add(s->ev_stmt_timeout, &tv);
}

/* The statement in flight failed on the server. */
static void
session_fail_statement(struct session *s)
{
	char *srv = session_srv_text(&s->srv), note[sizeof(s->blocker) + 200];

	session_lock_note(s, note, sizeof(note));
	if (s->error == NULL) {
		snprintf(s->fail_sqlstate, sizeof(s->fail_sqlstate), "%s", s->srv.sqlstate);
		s->fail_no = s->cur_no;
		s->fail_line = s->cur_line;
	}
	session_fail(s, "statement %llu at line %llu failed: %s\n  statement: %s%s",
	             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
	             srv ? srv : "out of memory", s->cur_excerpt, note);
	free(srv);
}

/*
 * Send SQL: a script of our own (preflight, BEGIN, COMMIT, ...: the simple
 * protocol) or, dump != 0, one statement of the dump (the extended
 * protocol: the server refuses a string that holds two; target.h).
 */
static int
session_send_as(struct session *s, const char *sql, int dump)
{
	session_srv_clear(&s->srv);
	if ((dump ? target_send(&s->target, sql) : target_send_script(&s->target, sql)) < 0) {
		session_fail(s, "%s", target_error(&s->target));
		return -1;
	}
	session_watch(s);
	if (dump)
		session_stmt_timer(s);
	return 0;
}

static int
session_send(struct session *s, const char *sql)
{
	return session_send_as(s, sql, 0);
}

/*
 * Take the target from wherever it is to closed: end a COPY, let a command
 * in flight finish, ROLLBACK (or COMMIT), unlock.  Called again on each
 * target event until done; then the summary.
 */
static void
session_wind_down(struct session *s)
{
	struct target *t = &s->target;
	char *sql;
	int r;

	if (s->state == SESSION_CLOSING)
		return;
	switch (t->state) {
	case TARGET_CLOSED:
	case TARGET_BROKEN:
	case TARGET_CONNECTING:
		target_close(t);
		session_report(s);
		return;
	case TARGET_BUSY:
		session_cancel_later(s);
		return; /* TARGET_EV_IDLE brings us back */
	case TARGET_COPY_IN:
		if (t->flushing) {
			session_cancel_later(s);
			return; /* TARGET_EV_DRAINED brings us back */
		}
		r = target_end_copy(t, "pgsluice: the import was aborted");
		if (r < 0) {
			target_close(t);
			session_report(s);
			return;
		}
		/*
		 * r == 0: retried on TARGET_EV_DRAINED.  Either way the server
		 * still works through the COPY data it has (a slow trigger, say)
		 * before it reads the end: cancel that if it takes long.
		 */
		session_cancel_later(s);
		return;
	case TARGET_IDLE:
		if (t->flushing)
			return;
		break;
	}

	/* idle: the next step of the ending */
	if (s->error == NULL && s->state < SESSION_FINISH && s->wire == NULL && s->bev != NULL &&
	    session_peer_state(s) == 2) {
		/*
		 * The client reset the connection (Ctrl-C on pgsluice send, a
		 * killed nc) while the end of the dump was already in our
		 * buffers: it never hears the answer, so nothing is committed.
		 */
		s->client_eof = s->client_gone = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client connection was lost (reset)");
		session_fail(s, "%s before the answer: not committing", s->client_why);
		return;
	}
	if (s->jobs != NULL && !s->jobs_ended && s->state < SESSION_FINISH) {
		/* --jobs: keep (drop the aside schemas) or undo (jobs.h) */
		s->jobs_ended = 1;
		s->finish_commit = s->error == NULL;
		if (s->finish_commit)
			report_phase_begin(&s->rep, REPORT_PHASE_COMMIT);
		sql = jobs_end(s->jobs, s->finish_commit, PQserverVersion(t->conn));
		session_set_state(s, SESSION_FINISH);
		if (sql == NULL) {
			session_fail(s, "out of memory");
			s->finish_commit = 0;
		} else if (sql[0] != '\0') {
			s->in_txn = 1; /* its result decides what the summary says */
			r = session_send(s, sql);
			free(sql);
			if (r == 0)
				return;
		} else {
			free(sql);
			s->committed = s->finish_commit;
		}
	}
	if (s->state < SESSION_FINISH) {
		if (s->in_txn) {
			s->finish_commit = s->error == NULL;
			session_set_state(s, SESSION_FINISH);
			if (s->finish_commit)
				report_phase_begin(&s->rep, REPORT_PHASE_COMMIT);
			if (session_send(s, s->finish_commit ? "COMMIT" : "ROLLBACK") == 0)
				return;
			target_close(t);
			session_report(s);
			return;
		}
		session_set_state(s, SESSION_FINISH);
	}
	if (s->state == SESSION_FINISH) {
		if (s->locked) {
			session_set_state(s, SESSION_UNLOCK);
			/* a good import: pg_database_size after COMMIT, for the summary */
			sql = s->error == NULL ? verify_sql_size(preflight_sql_unlock()) : NULL;
			r = target_send_script(t, sql != NULL ? sql : preflight_sql_unlock());
			free(sql);
			if (r == 0)
				return;
		}
	}
	target_close(t);
	session_report(s);
}

/* ---- the client side ------------------------------------------------- */

static void
session_free_now(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->cfg->on_free)
		s->cfg->on_free(s->cfg->arg, s);
	target_close(&s->target);
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->pipeline_live) {
		lexer_free(&s->lx);
		rules_free(&s->rules);
	}
	decoder_free(&s->dec);
	preflight_settings_free(&s->settings);
	preflight_objects_free(&s->objects);
	report_free(&s->rep);
	verify_free(&s->ver);
	audit_free(&s->audit);
	session_srv_clear(&s->srv);
	if (s->ev_progress)
		event_free(s->ev_progress);
	if (s->ev_linger)
		event_free(s->ev_linger);
	if (s->ev_left)
		event_free(s->ev_left);
	if (s->ev_header)
		event_free(s->ev_header);
	if (s->ev_auth)
		event_free(s->ev_auth);
	if (s->ev_idle)
		event_free(s->ev_idle);
	probe_cancel(s->probe_blocker);
	probe_cancel(s->probe_cancel);
	progwatch_close(&s->progress);
	if (s->ev_watch)
		event_free(s->ev_watch);
	if (s->ev_cancel)
		event_free(s->ev_cancel);
	if (s->ev_stmt_timeout)
		event_free(s->ev_stmt_timeout);
	if (s->ev_alive)
		event_free(s->ev_alive);
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_coalesce)
		event_free(s->ev_coalesce);
	if (s->ev_sniff)
		event_free(s->ev_sniff);
	pgwire_free(s->wire);
	event_free(s->ev_free);
	free(s->cleared);
	jobs_free(s->jobs);
	free(s->plain);
	free(s->raw);
	free(s->sql);
	free(s->fixed);
	free(s->error);
	free(s);
}

/* Free the session from the loop, never under a callback of its own. */
static void
session_release(struct session *s)
{
	if (s->released)
		return;
	s->released = 1;
	if (s->bev) {
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
	}
	event_active(s->ev_free, EV_TIMEOUT, 0);
}

static void
session_on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	log_debug(s->who, "client did not close within %d s after the summary", SESSION_LINGER_S);
	session_release(s);
}

/* The client is gone at the end: say so, once, in the log (it cannot read it). */
static void
session_log_left(struct session *s, const char *why)
{
	if (s->left_logged)
		return;
	s->left_logged = 1;
	log_warn(s->who, "client left before the answer (%s): it did not get the summary above",
	         why);
}

/*
 * A client that had closed its side before the summary: a peer that had
 * closed its socket wholly (socat -t 0.5 after its input ended, a killed
 * sender) answers the summary with a reset, which shows as SO_ERROR
 * EPIPE/ECONNRESET a moment later.  Then release.
 */
static void
session_on_left_check(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	(void)fd;
	(void)what;

	if (getsockopt(bufferevent_getfd(s->bev), SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    (err == EPIPE || err == ECONNRESET))
		session_log_left(s, "its connection was reset when the summary came");
	session_release(s);
}

/*
 * The summary has left our buffer.  Close our side; if the client may still
 * be sending (an aborted import), read and discard until it closes, so that
 * closing with unread input does not reset the connection before the
 * client has read the summary.  With TLS a close_notify goes first
 * (tls_shutdown_write), then the FIN.
 */
static void
session_client_drained(struct session *s)
{
	struct timeval tv = { SESSION_LINGER_S, 0 };
	struct timeval check = { 0, SESSION_LEFT_CHECK_MS * 1000 };

	if (s->client_gone) {
		session_release(s);
		return;
	}
	if (s->client_eof) {
		if (s->ev_left != NULL)
			return;
		s->ev_left = evtimer_new(s->cfg->base, session_on_left_check, s);
		if (s->ev_left == NULL || evtimer_add(s->ev_left, &check) != 0)
			session_release(s);
		return;
	}
	if (s->lingering)
		return;
	s->lingering = 1;
	tls_shutdown_write(s->bev);
	evbuffer_drain(bufferevent_get_input(s->bev),
	               evbuffer_get_length(bufferevent_get_input(s->bev)));
	bufferevent_enable(s->bev, EV_READ);
	s->ev_linger = evtimer_new(s->cfg->base, session_on_linger, s);
	if (s->ev_linger == NULL || evtimer_add(s->ev_linger, &tv) != 0)
		session_release(s);
}

/* Summary written (or refusal): let the output drain, then close. */
static void
session_close_client(struct session *s)
{
	struct timeval tv = { SESSION_WRITE_TIMEOUT_S, 0 };

	session_set_state(s, SESSION_CLOSING);
	if (s->ev_progress)
		event_del(s->ev_progress);
	if (s->client_gone) {
		session_release(s);
		return;
	}
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_client_drained(s);
}

static void
session_on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_CLOSING) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (s->state == SESSION_AFTER) {
		if (pgwire_after_read(s->wire, bufferevent_get_input(bev),
		                      bufferevent_get_output(bev)) == 0)
			session_close_client(s);
		return;
	}
	if (s->state == SESSION_STREAM)
		session_pump(s);
	else if (s->state == SESSION_HANDSHAKE)
		session_handshake(s);
	else if (s->state == SESSION_PREDUMP)
		session_predump(s);
	/* before STREAM: bytes wait in the input buffer (bounded by its high mark) */
}

static void
session_on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_client_drained(s);
}

static void
session_on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	char tls[256];

	if (what & BEV_EVENT_CONNECTED) {
		/* the TLS handshake is done (a plain socket never says so) */
		tls_describe(bev, tls, sizeof(tls));
		log_info(s->who, "TLS: %s", tls);
		s->tls_pending = 0;
		if (s->state == SESSION_HANDSHAKE)
			session_handshake(s);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		s->client_eof = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client closed the connection");
	} else if (what & BEV_EVENT_ERROR) {
		s->client_eof = 1;
		s->client_gone = 1;
		if (tls_active(bev))
			tls_error(bev, tls, sizeof(tls));
		else
			snprintf(tls, sizeof(tls), "%s", evutil_socket_error_to_string(err));
		snprintf(s->client_why, sizeof(s->client_why), "the client connection was lost (%.90s)",
		         tls);
		if (s->tls_pending)
			log_warn(s->who, "TLS handshake failed: %s", tls);
	} else if (what & BEV_EVENT_TIMEOUT) {
		s->client_eof = 1;
		s->client_gone = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client stopped reading (timeout)");
	} else {
		return;
	}
	log_debug(s->who, "%s", s->client_why);

	switch (s->state) {
	case SESSION_CLOSING:
		if (s->client_gone &&
		    (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 || s->ev_left != NULL))
			session_log_left(s, s->client_why);
		session_release(s);
		return;
	case SESSION_AFTER:
		session_close_client(s);
		return;
	case SESSION_STREAM:
		if (s->error == NULL && !target_ready(&s->target) && s->target.state == TARGET_BUSY &&
		    (s->client_gone || s->wire != NULL)) {
			/* nobody is left to tell the outcome: do not let the statement run on */
			session_fail(s, "%s while statement %llu at line %llu was running on the target",
			             s->client_why, (unsigned long long)s->cur_no,
			             (unsigned long long)s->cur_line);
			session_cancel_now(s);
			return;
		}
		session_pump(s);
		return;
	case SESSION_VERIFY:
	case SESSION_FINISH:
	case SESSION_UNLOCK:
		return; /* the ending goes on; the summary is logged */
	case SESSION_HANDSHAKE:
		if (s->client_gone || s->tls_pending)
			session_close_client(s);
		else
			session_handshake(s); /* decides on what came before the EOF */
		return;
	case SESSION_PREDUMP:
		if (s->client_gone) {
			log_info(s->who, "%s before sending a dump: nothing was done", s->client_why);
			target_close(&s->target);
			session_close_client(s);
		} else {
			session_predump(s); /* decides on what came before the EOF */
		}
		return;
	default:
		/*
		 * the preflight: the dump's first bytes are in (PREDUMP saw them);
		 * a client that closed its side is read to the end in STREAM
		 */
		if (s->client_gone)
			session_fail(s, "%s during the preflight, before the import began", s->client_why);
		return;
	}
}

static void
session_on_progress(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char line[512];
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM)
		return;
	progwatch_tick(&s->progress, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	               &s->rep, s->who);
	report_progress(&s->rep, line, sizeof(line));
	session_say(s, LOG_LEVEL_INFO, "%s", line);
}

/* ---- the data path ---------------------------------------------------- */

/*
 * libevent 2.1 reads a socket 4 KiB at a time (EVBUFFER_MAX_READ; the knob
 * to raise it came in 2.2), and each read would cost a whole
 * decode/lex/forward round and a send to the target.  In STREAM on a plain
 * socket the session reads the client itself (own_read; the bufferevent's
 * reading is disabled): one recv of up to SESSION_BULK_READ into raw[]
 * (decoded after what the bufferevent had read before STREAM), only when
 * the pump has used up what it had, so reading stays bounded as before.  recv never takes more than the kernel holds; 0
 * is the client's EOF and -1 (but EAGAIN) a lost connection, noted as
 * session_on_client_event would.  s->last_read: bytes taken, 0 if none.
 */
static void
session_read_client(struct session *s)
{
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	ssize_t n;
	int err;

	s->last_read = 0;
	if (!s->own_read || s->client_eof || s->raw_start < s->raw_end || fd < 0)
		return;
	s->raw_start = s->raw_end = 0;
	do
		n = recv(fd, s->raw, SESSION_BULK_READ, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	err = errno;
	if (n > 0) {
		s->raw_end = (size_t)n;
		s->last_read = n;
		return;
	}
	if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
		return;
	s->client_eof = 1;
	if (n == 0) {
		snprintf(s->client_why, sizeof(s->client_why), "the client closed the connection");
	} else {
		s->client_gone = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client connection was lost (%.90s)",
		         evutil_socket_error_to_string(err));
	}
	log_debug(s->who, "%s", s->client_why);
}

/* Client bytes taken in but not decoded yet. */
static size_t
session_input_pending(struct session *s)
{
	return evbuffer_get_length(bufferevent_get_input(s->bev)) + (s->raw_end - s->raw_start);
}

static void
session_on_client_ready(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->state == SESSION_STREAM)
		session_pump(s);
}

/*
 * own_read: the pump used up all the client sent.  After a short read the
 * sender is slower than we are: wait SESSION_COALESCE_US so that the next
 * read takes tens of KiB rather than one segment (the kernel's buffers
 * hold that much; the target still has what was sent).  After an empty
 * read, or a long one, wait for the socket: an empty one wakes us at the
 * next byte, which is then taken at once (a trailer is never held back).
 */
static void
session_own_read_wait(struct session *s)
{
	struct timeval tv = { 0, SESSION_COALESCE_US };

	if (s->last_read > 0 && s->last_read < SESSION_COALESCE_MIN)
		evtimer_add(s->ev_coalesce, &tv);
	else
		event_add(s->ev_read, NULL);
}

/* Leaving STREAM: the bufferevent reads again (lingering, EOF), unless the client is done. */
static void
session_own_read_stop(struct session *s)
{
	if (!s->own_read)
		return;
	s->own_read = 0;
	event_del(s->ev_read);
	event_del(s->ev_coalesce);
	if (!s->client_eof)
		bufferevent_enable(s->bev, EV_READ);
}

/*
 * --max-gzip-ratio (gzip, zstd and lz4 alike), over the whole stream: the
 * plain bytes may not pass ratio x compressed bytes + an allowance.
 * Before the first statement the allowance is SESSION_GZIP_SLACK: a
 * dump's first statement comes in its first few hundred bytes, so a bomb
 * of zeros (about 1000:1 in gzip, far more in zstd) is stopped after a few
 * MB.  After it, SESSION_GZIP_ALLOWANCE: the bytes that pass freely before
 * the ratio counts (a dump's repetitive first tables), so that a bomb
 * later in the stream (blank lines or comments, which the lexer skips
 * without holding them; rows of COPY data) is stopped too.  -1: failed.
 */
static int
session_check_ratio(struct session *s)
{
	double ratio = s->cfg->max_gzip_ratio;
	double allowance = s->rep.statements > 0 ? SESSION_GZIP_ALLOWANCE : SESSION_GZIP_SLACK;

	if (ratio <= 0 || !decoder_compressed(&s->dec))
		return 0;
	if ((double)s->dec.out_total <= ratio * (double)s->dec.in_total + allowance)
		return 0;
	if (s->rep.statements > 0)
		session_fail(s, "the compressed input inflates more than %g times: %llu compressed "
		             "bytes gave %llu bytes by line %llu (%s %s bomb? a dump compresses far "
		             "less; --max-gzip-ratio %g, 0: no limit)",
		             ratio, (unsigned long long)s->dec.in_total,
		             (unsigned long long)s->dec.out_total, (unsigned long long)s->lx.line,
		             s->dec.kind == DECODER_LZ4 ? "an" : "a",
		             decoder_format_name(s->dec.kind), ratio);
	else
		session_fail(s, "the input is not a dump: %llu compressed bytes inflate to more than "
		             "%llu bytes without a single complete SQL statement (%s %s bomb? "
		             "--max-gzip-ratio %g)",
		             (unsigned long long)s->dec.in_total, (unsigned long long)s->dec.out_total,
		             s->dec.kind == DECODER_LZ4 ? "an" : "a", decoder_format_name(s->dec.kind),
		             ratio);
	return -1;
}

/* --max-meta-line: a psql meta-command line (\connect ...) is short.  -1: failed. */
static int
session_check_meta(struct session *s, const struct lexer_event *ev)
{
	uint64_t len;

	if (s->cfg->max_meta_line == 0)
		return 0;
	if (ev != NULL)
		len = ev->type == LEXER_META ? ev->len : 0;
	else
		len = s->lx.state == LX_META ? s->lx.offset - s->lx.st_offset : 0;
	if (len <= s->cfg->max_meta_line)
		return 0;
	session_fail(s, "the psql meta-command that begins at line %llu is longer than %zu "
	             "bytes (--max-meta-line); pg_dump's are one short line",
	             (unsigned long long)s->lx.st_line, s->cfg->max_meta_line);
	return -1;
}

/* Decode client input into plain[], after what it holds.  -1: failed. */
static int
session_decode(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v;
	size_t used, produced;
	int r, from_raw, tried = 0;

	while (s->plain_end < SESSION_PLAIN_CAP) {
		from_raw = evbuffer_get_length(in) == 0;
		if (!from_raw) {
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
				break;
		} else {
			if (s->raw_start == s->raw_end && s->own_read && !tried) {
				tried = 1; /* one read per refill */
				session_read_client(s);
			}
			/* no bytes left: only what the inflater holds (decoder_pending) */
			if (s->raw_start == s->raw_end && !decoder_pending(&s->dec))
				break;
			v.iov_base = s->raw + s->raw_start;
			v.iov_len = s->raw_end - s->raw_start;
		}
		r = decoder_run(&s->dec, v.iov_base, v.iov_len, &used, s->plain + s->plain_end,
		                SESSION_PLAIN_CAP - s->plain_end, &produced);
		if (from_raw)
			s->raw_start += used;
		else
			evbuffer_drain(in, used);
		s->plain_end += produced;
		if (r < 0) {
			session_fail(s, "the input is not a valid dump: %s (after %llu bytes)",
			             decoder_error(&s->dec), (unsigned long long)s->dec.in_total);
			return -1;
		}
		if (session_check_ratio(s) < 0)
			return -1;
		if (used == 0 && produced == 0)
			break;
	}
	if (s->plain_end > 0)
		s->last_nl = s->plain[s->plain_end - 1] == '\n';
	s->rep.bytes_in = s->dec.in_total;
	s->rep.bytes_plain = s->dec.out_total;
	s->rep.compression = decoder_compressed(&s->dec) ? decoder_format_name(s->dec.kind) : NULL;
	return 0;
}

/* Decode client input into plain[] (which is used up).  -1: failed. */
static int
session_refill(struct session *s)
{
	if (s->wire != NULL)
		return session_wire_refill(s);
	s->plain_start = s->plain_end = 0;
	return session_decode(s);
}

/* The client's bytes are all in and processed, and no trailer came. */
static void
session_truncated(struct session *s, const char *where, const char *why)
{
	/* the last line received: lx.line is where the next byte would be */
	uint64_t line = s->lx.line > 1 && s->last_nl ? s->lx.line - 1 : s->lx.line;
	char bytes[32];

	if (s->wire != NULL) {
		session_fail(s, "the PostgreSQL client's connection ended without a Terminate "
		             "message (%s, %s): the import is incomplete", s->client_why, where);
		return;
	}
	snprintf(bytes, sizeof(bytes), "%llu bytes", (unsigned long long)s->dec.out_total);

	session_fail(s,
	             "dump truncated at line %llu, %s: %s before pg_dump's last line "
	             "\"-- PostgreSQL database dump complete\"%s%s\n"
	             "  (%llu bytes received%s%s%s%s%s; was pg_dump or the connection cut? send the "
	             "whole dump again)",
	             (unsigned long long)line, where, s->client_why, why ? "; " : "",
	             why ? why : "", (unsigned long long)s->dec.in_total,
	             decoder_compressed(&s->dec) ? " (" : "",
	             decoder_compressed(&s->dec) ? decoder_format_name(s->dec.kind) : "",
	             decoder_compressed(&s->dec) ? ", " : "",
	             decoder_compressed(&s->dec) ? bytes : "",
	             decoder_compressed(&s->dec) ? " of SQL)" : "");
}

/*
 * Take the next lexer event into s->ev.  Returns 1 with an event, 0 when
 * more input is needed (or the input ended cleanly after the trailer), -1
 * when the import failed.
 */
static int
session_next_event(struct session *s)
{
	size_t used;
	int r;

	for (;;) {
		if (s->lexer_done)
			return 0;
		if (s->input_done) {
			r = lexer_finish(&s->lx, &s->ev);
			if (r == LEXER_EVENT) {
				s->ev_used = 0;
				s->ev_pending = 1;
				return 1;
			}
			s->lexer_done = 1;
			if (s->trailer)
				return 0;
			session_truncated(s, s->eof_where, NULL);
			return -1;
		}
		if (s->plain_start == s->plain_end) {
			if (session_refill(s) < 0)
				return -1;
			if (s->plain_start == s->plain_end) {
				if (!s->client_eof || (s->trailer && decoder_clean_end(&s->dec)))
					return 0;
				/* end of input: is it a clean end? */
				lexer_describe(&s->lx, s->eof_where, sizeof(s->eof_where));
				s->input_done = 1;
				if (decoder_finish(&s->dec) < 0) {
					if (s->trailer)
						session_fail(s, "the dump's SQL came whole, up to pg_dump's last "
						             "line, but the input ended inside the compressed "
						             "stream, before its end and checksum: %s; send the "
						             "whole dump again", decoder_error(&s->dec));
					else
						session_truncated(s, s->eof_where, decoder_error(&s->dec));
					return -1;
				}
				continue;
			}
		}
		r = lexer_scan(&s->lx, s->plain + s->plain_start, s->plain_end - s->plain_start,
		               &used, &s->ev);
		if (r == LEXER_EVENT) {
			if (session_check_meta(s, &s->ev) < 0)
				return -1;
			s->ev_used = used;
			s->ev_pending = 1;
			return 1;
		}
		if (r == LEXER_ERROR) {
			session_fail(s, "the dump cannot be read at line %llu: %s",
			             (unsigned long long)s->lx.line, lexer_error(&s->lx));
			return -1;
		}
		if (session_check_meta(s, NULL) < 0)
			return -1;
		s->plain_start += used;
	}
}

static void
session_explain(struct session *s, const struct lexer_event *ev, const struct rules_verdict *v,
                const char *what)
{
	if (s->cfg->rules->explain)
		session_say(s, LOG_LEVEL_INFO, "explain: line %llu: rule %s %s: %s",
		            (unsigned long long)ev->line, v->rule ? v->rule : "?", what,
		            v->reason ? v->reason : "");
}

/* text as a NUL-terminated copy in s->sql (a rewrite, a wire query).  -1: failed. */
static int
session_sql_copy(struct session *s, const struct lexer_event *ev, const char *text, size_t len)
{
	char *p;
	size_t cap;

	if (len + 1 > s->sql_cap) {
		cap = s->sql_cap ? s->sql_cap : 4096;
		while (cap < len + 1)
			cap *= 2;
		p = realloc(s->sql, cap);
		if (p == NULL) {
			session_fail(s, "out of memory for statement %llu at line %llu (%zu bytes)",
			             (unsigned long long)s->rep.statements,
			             (unsigned long long)ev->line, len);
			return -1;
		}
		s->sql = p;
		s->sql_cap = cap;
	}
	memcpy(s->sql, text, len);
	s->sql[len] = '\0';
	return 0;
}

/*
 * Forward text (a statement, or a rewrite) as the statement in flight.
 * libpq (or jobs.h) takes its own copy before this returns.
 */
static int
session_forward(struct session *s, const struct lexer_event *ev, const char *text, size_t len,
                int is_copy)
{
	const char *sql;

	if (memchr(text, '\0', len) != NULL) {
		session_fail(s, "statement %llu at line %llu holds a NUL byte, which PostgreSQL "
		             "cannot take (is this a text dump?)",
		             (unsigned long long)s->rep.statements, (unsigned long long)ev->line);
		return -1;
	}
	if (text == s->ev.data && s->wire == NULL) {
		/* the lexer's own buffer, NUL-terminated (lexer.h): sent from there */
		sql = text;
	} else if (session_sql_copy(s, ev, text, len) < 0) {
		return -1;
	} else {
		sql = s->sql;
	}
	s->cur_no = s->rep.statements;
	s->cur_line = ev->line;
	s->cur_is_copy = is_copy;
	s->cur_tag[0] = '\0';
	session_excerpt(text, len, s->cur_excerpt, sizeof(s->cur_excerpt));
	if (is_copy)
		report_copy_start(&s->rep, s->lx.copy_table);
	report_sent(&s->rep, text, len, is_copy);
	s->sent_any = 1;
	if (s->jobs != NULL) {
		if (is_copy) {
			s->copy_open = 1;
			return jobs_copy_begin(s->jobs, sql, len, s->lx.copy_table, s->cur_no,
			                       s->cur_line, lexer_standard_strings(&s->lx));
		}
		return jobs_statement(s->jobs, sql, len, s->cur_no, s->cur_line,
		                      lexer_standard_strings(&s->lx));
	}
	return session_send_as(s, sql, 1);
}

/* ---- Synapse checks and verification (synapse.h, verify.h) ---------- */

/* A statement about to be forwarded: what the checks learn from it.  -1: failed. */
static int
session_inspect(struct session *s, const struct lexer_event *ev, const char *text, size_t len)
{
	char msg[1536], w[4][32];
	int n = sqltok_leading_words(text, len, ev->std_strings, w, 4);

	if (n >= 2 && strcmp(w[0], "create") == 0 &&
	    (strcmp(w[1], "table") == 0 ||
	     (n >= 3 && strcmp(w[2], "table") == 0 &&
	      (strcmp(w[1], "unlogged") == 0 || strcmp(w[1], "foreign") == 0))))
		s->dump_tables++;
	if (synapse_statement(&s->syn, text, len, ev->std_strings, msg, sizeof(msg)) < 0) {
		session_fail(s, "%s", msg);
		return -1;
	}
	if (verify_statement(&s->ver, text, len, ev->std_strings, ev->line) < 0) {
		session_fail(s, "out of memory remembering the dump's sequences");
		return -1;
	}
	return 0;
}

/* A forwarded COPY's "\." arrived: rows counted; Synapse versions compared.  -1: failed. */
static int
session_copy_ending(struct session *s, const struct lexer_event *ev)
{
	char msg[1024];

	verify_copy_end(&s->ver, ev->rows);
	switch (synapse_copy_end(&s->syn, ev->rows, msg, sizeof(msg))) {
	case SYNAPSE_NOTE_REFUSE:
		session_fail(s, "%s", msg);
		return -1;
	case SYNAPSE_NOTE_WARN:
		session_say(s, LOG_LEVEL_WARN, "warning: synapse: %s", msg);
		return 0;
	case SYNAPSE_NOTE_INFO:
		session_say(s, LOG_LEVEL_INFO, "synapse: %s", msg);
		return 0;
	default:
		return 0;
	}
}

/*
 * The whole dump is in, before COMMIT: does it look like the database it
 * replaces?  A dump that creates no table while the target held tables
 * (pg_dump of the wrong database, a data-only dump), and with the Synapse
 * checks in effect (--synapse, or a target that held a Synapse schema) a
 * dump without a Synapse schema or older than the target's compat version
 * would throw the target away: refused unless --force-replace.  -1: failed.
 */
static int
session_replacement_check(struct session *s)
{
	const struct synapse *sy = &s->syn;
	int synapse_on = sy->mode == SYNAPSE_ON || (sy->mode == SYNAPSE_AUTO && sy->target.present);
	const char *fix = "\n  is it the right dump?  To import it all the same, start pgsluice "
	                  "serve with --force-replace";

	if (s->cfg->force_replace)
		return 0;
	if (s->target_tables > 0 && s->dump_tables == 0) {
		session_fail(s, "the dump creates no table, and the target held %zu table%s in "
		             "schema%s %s of database %s: importing it would replace that database "
		             "with one without tables (pg_dump of the wrong database, or a data-only "
		             "dump?)%s",
		             s->target_tables, s->target_tables == 1 ? "" : "s",
		             s->cfg->n_schemas > 1 ? "s" : "", s->cfg->schemas[0], s->dbname, fix);
		return -1;
	}
	if (synapse_on && !sy->dump_synapse) {
		session_fail(s, "the dump has no Synapse schema (no %s.schema_version), and %s: "
		             "importing it would replace Synapse's database with another one (pg_dump "
		             "of the wrong database?)%s%s",
		             sy->schema, sy->target.present ? "the target held one"
		                                            : "--synapse says the target is for Synapse",
		             fix, sy->mode == SYNAPSE_AUTO ? ", or with --no-synapse if the target is "
		                                           "no longer for Synapse" : "");
		return -1;
	}
	if (synapse_on && sy->target.present && sy->target.compat >= 0 && sy->dump.version >= 0 &&
	    sy->dump.version < sy->target.compat) {
		session_fail(s, "the dump's Synapse schema version %d is older than the target's "
		             "compat version %d: the Synapse that runs on the target cannot run on "
		             "it (a dump of an older Synapse, or of the wrong server?)%s",
		             sy->dump.version, sy->target.compat, fix);
		return -1;
	}
	return 0;
}

/* Why the tables get no ANALYZE of ours, or NULL. */
static const char *
session_no_analyze(const struct session *s)
{
	if (s->cfg->no_analyze)
		return "--no-analyze";
	if (rules_stats_calls(&s->rules) > 0)
		return "the dump's pg_dump 18 statistics were applied";
	return NULL;
}

/*
 * After verification, before the audit: ANALYZE of the tables the import
 * created (analyze.h), inside its transaction; with --jobs, the VACUUM
 * phase did it.  Returns 1 while it runs.
 */
static int
session_analyze(struct session *s)
{
	const char *why = session_no_analyze(s);
	char *sql;
	int oom;

	if (s->analyze_step == 1) {
		s->analyze_step = 2;
		report_phase_note(&s->rep, REPORT_PHASE_ANALYZE, "%zu tables, %s",
		                  analyze_count(&s->rules),
		                  s->in_txn ? "inside the import's transaction" : "after the import");
		report_phase_begin(&s->rep, REPORT_PHASE_VERIFY); /* the audit is a check too */
	}
	if (s->analyze_step == 2 || s->jobs != NULL)
		return 0;
	s->analyze_step = 2;
	if (why != NULL) {
		report_phase_note(&s->rep, REPORT_PHASE_ANALYZE, "none: %s", why);
		return 0;
	}
	if ((sql = analyze_sql(&s->rules, &oom)) == NULL) {
		if (oom)
			session_fail(s, "out of memory");
		return oom;
	}
	s->analyze_step = 1;
	report_phase_begin(&s->rep, REPORT_PHASE_ANALYZE);
	session_send(s, sql);
	free(sql);
	return 1;
}

/*
 * The batches committed with synchronous_commit off, and VACUUM marks a
 * page all-visible only once the commits of its rows are flushed.  A
 * synchronous commit that wrote WAL flushes them all: the ANALYZE of the
 * first table, alone (the engine runs a statement it cannot place alone),
 * with synchronous_commit on for what follows.  Without ANALYZE (the
 * dump's statistics) there is none: the walwriter flushes within a
 * fraction of a second, and pages it had not reached stay for autovacuum.
 */
static int
session_vacuum_flush(struct session *s, int analyze)
{
	static const char sync[] = "SET synchronous_commit = on";
	char sql[600], name[300];
	size_t i;
	int f;

	if (jobs_statement(s->jobs, sync, sizeof(sync) - 1, s->rep.statements, 0,
	                   lexer_standard_strings(&s->lx)) < 0)
		return -1;
	for (i = 0; analyze && i < rules_tables(&s->rules); i++) {
		f = rules_table_sql(&s->rules, i, name, sizeof(name));
		if (f < 0 || (f & RULES_TABLE_PARTITION))
			continue;
		snprintf(sql, sizeof(sql), "ANALYZE %s", name);
		return jobs_statement(s->jobs, sql, strlen(sql), s->rep.statements, 0,
		                      lexer_standard_strings(&s->lx));
	}
	return 0;
}

/*
 * --jobs, the dump is all in and the engine idle: VACUUM (FREEZE, ANALYZE)
 * of each table the import created, in parallel on the engine's
 * connections (the batches committed elsewhere: no COPY FREEZE).  Returns
 * 1 while it runs (JOBS_EV_READY calls again).
 */
static int
session_vacuum(struct session *s)
{
	const char *why = session_no_analyze(s);
	char sql[600];

	if (s->analyze_step == 2)
		return 0;
	if (s->analyze_step == 0) {
		s->analyze_step = 1;
		if (s->cfg->no_analyze) {
			s->analyze_step = 2;
			report_phase_note(&s->rep, REPORT_PHASE_VACUUM, "none: --no-analyze");
			return 0;
		}
		report_phase_begin(&s->rep, REPORT_PHASE_VACUUM);
		if (session_vacuum_flush(s, why == NULL) < 0)
			return 1;
	}
	while (!s->vacuum_fed && jobs_ready(s->jobs)) {
		if (!analyze_vacuum_sql(&s->rules, &s->vacuum_next, why == NULL,
		                        sql, sizeof(sql))) {
			s->vacuum_fed = 1;
			break;
		}
		if (jobs_statement(s->jobs, sql, strlen(sql), s->rep.statements, 0,
		                   lexer_standard_strings(&s->lx)) < 0)
			return 1; /* JOBS_EV_FAILED follows */
	}
	if (!s->vacuum_fed || !jobs_idle(s->jobs))
		return 1;
	s->analyze_step = 2;
	report_phase_note(&s->rep, REPORT_PHASE_VACUUM,
	             "VACUUM (FREEZE%s) of %zu tables on %d connections%s%s", why ? "" : ", ANALYZE",
	             analyze_count(&s->rules), s->cfg->jobs, why ? ", no ANALYZE: " : "",
	             why ? why : "");
	return 0;
}

/*
 * After the trailer (and after each verification query): the next query
 * of verify.h, or, when all passed, the ending (COMMIT).
 */
static void
session_verify_next(struct session *s)
{
	char err[1024], *sql;
	int r;

	if (s->state == SESSION_STREAM) {
		if (session_replacement_check(s) < 0)
			return;
		if (synapse_dump_end(&s->syn, err, sizeof(err)) == SYNAPSE_NOTE_WARN)
			session_say(s, LOG_LEVEL_WARN, "warning: synapse: %s", err);
		session_set_state(s, SESSION_VERIFY);
		report_phase_begin(&s->rep, REPORT_PHASE_VERIFY);
	}
	r = verify_next(&s->ver, s->target.conn, &sql, err, sizeof(err));
	if (r < 0) {
		session_fail(s, "%s", err);
		return;
	}
	if (r == 0 && session_analyze(s))
		return;
	if (r == 0 && !s->audited && !s->auditing) {
		/* last: has the dump changed the role or the database? (audit.h) */
		s->auditing = 1;
		session_send(s, audit_sql());
		return;
	}
	if (r == 0) {
		session_wind_down(s); /* commits when there is no error */
		return;
	}
	session_send(s, sql);
	free(sql);
}

/* The audit's answer before COMMIT. */
static void
session_audit_result(struct session *s, const PGresult *res)
{
	char msg[2048];

	switch (audit_compare(&s->audit, res, msg, sizeof(msg))) {
	case 0:
		s->audited = 1;
		return;
	case 1:
		session_fail(s, "the dump changed the target role or database, which an import must "
		             "leave alone (its own functions, triggers or defaults run with the "
		             "role's rights):\n%s%s", msg,
		             s->in_txn ? ""
		                       : s->jobs != NULL
		                             ? "\n  --jobs: pre-data and every COPY batch commit by "
		                               "themselves, so this change is committed: undo it by "
		                               "hand (its value before the import is above)"
		                             : "\n  --no-single-transaction: every statement commits by "
		                               "itself, so this change is committed: undo it by hand "
		                               "(its value before the import is above)");
		return;
	default:
		session_fail(s, "%s", msg);
		return;
	}
}

/* Preflight: the target role's standing and the audit's snapshot (one script). */
static void
session_role_start(struct session *s)
{
	char *sql;
	size_t n = strlen(preflight_sql_role()) + strlen(audit_sql()) + 4;

	session_set_state(s, SESSION_ROLE);
	s->role_results = 0;
	sql = malloc(n);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		return;
	}
	snprintf(sql, n, "%s;\n%s", preflight_sql_role(), audit_sql());
	session_send(s, sql);
	free(sql);
}

/* One result of the ROLE step: the role's standing, then the snapshot. */
static void
session_role_result(struct session *s, const PGresult *res)
{
	char err[256];
	int r;

	if (s->role_results++ == 0)
		r = preflight_role_load(&s->role, res, err, sizeof(err));
	else
		r = audit_snapshot(&s->audit, res, err, sizeof(err));
	if (r < 0)
		session_fail(s, "%s", err);
}

/* The ROLE step is in: refuse a superuser target, or warn.  -1: failed. */
static int
session_role_done(struct session *s)
{
	char msg[768], *srv;

	if (s->srv.set || !s->audit.taken) {
		srv = session_srv_text(&s->srv);
		session_fail(s, "cannot read the target role's standing: %s", srv ? srv : "?");
		free(srv);
		return -1;
	}
	switch (preflight_role_judge(&s->role, PQuser(s->target.conn),
	                             s->cfg->allow_superuser_target, msg, sizeof(msg))) {
	case PREFLIGHT_ROLE_REFUSE:
		session_fail(s, "%s", msg);
		return -1;
	case PREFLIGHT_ROLE_SUPER_OK:
		s->super_allowed = 1;
		snprintf(s->super_allowed_user, sizeof(s->super_allowed_user), "%s",
		         PQuser(s->target.conn));
		session_say(s, LOG_LEVEL_WARN, "warning: %s", msg);
		return 0;
	case PREFLIGHT_ROLE_WARN:
		session_say(s, LOG_LEVEL_WARN, "warning: %s", msg);
		return 0;
	case PREFLIGHT_ROLE_OK:
		return 0;
	}
	return 0;
}

/*
 * Preflight 2b (SYNAPSE): the next Synapse query, or its verdict.  Returns
 * 1 when a query is in flight, -1 when the import failed, 0 to go on.
 */
static int
session_synapse_step(struct session *s)
{
	char err[256], msg[1536], *sql, *srv;
	int r;

	if (s->srv.set) {
		srv = session_srv_text(&s->srv);
		session_fail(s, "cannot read the target's Synapse schema version: %s\n  (pgsluice "
		             "serve --no-synapse skips the Synapse checks)", srv ? srv : "?");
		free(srv);
		return -1;
	}
	r = synapse_preflight_next(&s->syn, s->target.conn, &sql, err, sizeof(err));
	if (r < 0) {
		session_fail(s, "%s", err);
		return -1;
	}
	if (r > 0) {
		r = session_send(s, sql);
		free(sql);
		return r < 0 ? -1 : 1;
	}
	if (synapse_preflight_verdict(&s->syn, msg, sizeof(msg)) < 0) {
		session_fail(s, "%s", msg);
		return -1;
	}
	if (synapse_target_line(&s->syn, msg, sizeof(msg)))
		session_say(s, LOG_LEVEL_INFO, "%s", msg);
	return 0;
}

/* 1 if a statement is "SET [SESSION|LOCAL] lock_timeout ...". */
static int
session_sets_lock_timeout(const char *text, size_t len)
{
	char w[3][32];
	int n = sqltok_leading_words(text, len, 1, w, 3);

	if (n < 2 || strcmp(w[0], "set") != 0)
		return 0;
	if (strcmp(w[1], "lock_timeout") == 0)
		return 1;
	return n == 3 && (strcmp(w[1], "session") == 0 || strcmp(w[1], "local") == 0) &&
	       strcmp(w[2], "lock_timeout") == 0;
}

/*
 * --clear-target empties a --schema but keeps it: a dump that creates that
 * schema (pg_dump writes "CREATE SCHEMA extra;" for every schema but
 * public) would fail on "already exists".  Such a statement is sent as
 * CREATE SCHEMA IF NOT EXISTS (into s->fixed).  1: rewritten.
 */
static int
session_schema_exists_fix(struct session *s, const struct lexer_event *ev, const char *text,
                          size_t len)
{
	struct sqltok_iter it;
	struct sqltok t;
	char name[128];
	size_t at;
	int i;

	if (!s->cfg->clear_target || s->cleared == NULL)
		return 0;
	sqltok_init(&it, text, len, ev->std_strings);
	if (sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "create") ||
	    sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "schema"))
		return 0;
	at = (size_t)(t.p + t.len - text);
	if (sqltok_next(&it, &t) != SQLTOK_WORD && t.type != SQLTOK_QIDENT)
		return 0;
	if (sqltok_is(&t, "if"))
		return 0;
	sqltok_name(&t, name, sizeof(name));
	for (i = 0; i < s->cfg->n_schemas; i++) {
		if (strcmp(name, s->cfg->schemas[i]) != 0)
			continue;
		free(s->fixed);
		s->fixed = malloc(len + 32);
		if (s->fixed == NULL)
			return 0;
		snprintf(s->fixed, len + 32, "CREATE SCHEMA IF NOT EXISTS%.*s", (int)(len - at),
		         text + at);
		if (s->cfg->rules->explain)
			session_say(s, LOG_LEVEL_INFO, "explain: line %llu: pgsluice rewrote: CREATE "
			            "SCHEMA %s becomes CREATE SCHEMA IF NOT EXISTS (--clear-target emptied "
			            "it and kept it)", (unsigned long long)ev->line, name);
		return 1;
	}
	return 0;
}

/*
 * Act on s->ev.  Returns 1 when it is done (its bytes may be dropped), 0
 * when it must be retried once the target drains, -1 when the import
 * failed.
 */
static int
session_handle(struct session *s)
{
	const struct lexer_event *ev = &s->ev;
	struct rules_verdict v;
	int r, in_copy;

	switch (ev->type) {
	case LEXER_STATEMENT:
		s->rep.statements++;
		if (s->trailer) {
			session_fail(s, "statement %llu at line %llu comes after the dump's trailer "
			             "(\"-- PostgreSQL database dump complete\"): two dumps in one stream?",
			             (unsigned long long)s->rep.statements, (unsigned long long)ev->line);
			return -1;
		}
		in_copy = lexer_in_copy(&s->lx);
		if (s->wire != NULL && pgwire_client_query(ev)) {
			memset(&v, 0, sizeof(v));
			v.action = RULES_FORWARD;
			v.text = ev->data;
			v.len = ev->len;
		} else {
			rules_apply(&s->rules, ev, &v);
		}
		if (s->wire != NULL && session_wire_statement(s, ev, &v, in_copy) <= 0)
			return s->error != NULL ? -1 : 1;
		switch (v.action) {
		case RULES_DROP:
			session_explain(s, ev, &v, "dropped");
			if (in_copy)
				s->skip_copy = 1;
			return 1;
		case RULES_REFUSE:
			session_excerpt(ev->data, ev->len, s->cur_excerpt, sizeof(s->cur_excerpt));
			session_fail(s, "statement %llu at line %llu refused (rule %s): %s\n  statement: %s",
			             (unsigned long long)s->rep.statements, (unsigned long long)ev->line,
			             v.rule ? v.rule : "?", v.reason ? v.reason : "", s->cur_excerpt);
			return -1;
		case RULES_REWRITE:
			session_explain(s, ev, &v, "rewrote");
			/* fall through */
		case RULES_FORWARD:
			if (session_inspect(s, ev, v.text, v.len) < 0)
				return -1;
			if (session_sets_lock_timeout(v.text, v.len)) {
				/* pg_dump's "SET lock_timeout = 0" would undo --lock-timeout */
				if (s->cfg->rules->explain)
					session_say(s, LOG_LEVEL_INFO, "explain: line %llu: pgsluice rewrote: "
					            "the dump's SET lock_timeout becomes %s (--lock-timeout)",
					            (unsigned long long)ev->line, s->lock_set);
				return session_forward(s, ev, s->lock_set, strlen(s->lock_set), 0) < 0 ? -1
				                                                                        : 1;
			}
			if (session_schema_exists_fix(s, ev, v.text, v.len))
				return session_forward(s, ev, s->fixed, strlen(s->fixed), 0) < 0 ? -1 : 1;
			return session_forward(s, ev, v.text, v.len, in_copy) < 0 ? -1 : 1;
		}
		return 1;

	case LEXER_COPY_DATA:
		if (s->skip_copy)
			return 1;
		if (!s->copy_open) {
			session_fail(s, "internal error: COPY data at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		if (s->jobs != NULL)
			r = jobs_copy_data(s->jobs, ev->data, ev->len);
		else
			r = target_put_copy(&s->target, ev->data, ev->len);
		if (r == 1) {
			s->rep.copy_rows = s->lx.copy_rows; /* the lexer counts the lines already */
			synapse_copy_data(&s->syn, ev->data, ev->len);
			return 1;
		}
		if (r == 0)
			return 0;
		s->copy_open = 0;
		if (s->target.state == TARGET_BROKEN) {
			session_fail(s, "%s", target_error(&s->target));
			return -1;
		}
		return 0; /* the server ended the COPY: its error follows (TARGET_EV_IDLE) */

	case LEXER_COPY_END:
		if (s->skip_copy) {
			s->skip_copy = 0;
			return 1;
		}
		if (!s->copy_open) {
			session_fail(s, "internal error: end of COPY at line %llu with no COPY open",
			             (unsigned long long)ev->line);
			return -1;
		}
		if (s->jobs != NULL) {
			char verr[512];

			if (jobs_copy_end(s->jobs, ev->rows) == 0)
				return 0;
			if (session_copy_ending(s, ev) < 0)
				return -1;
			s->copy_open = 0;
			/* the engine checks the batches' tags against ev->rows */
			report_copy_done(&s->rep, ev->rows);
			if (verify_copy_result(&s->ver, s->rep.copy_table, ev->rows, verr,
			                       sizeof(verr)) < 0) {
				session_fail(s, "%s", verr);
				return -1;
			}
			return 1;
		}
		if (session_copy_ending(s, ev) < 0)
			return -1;
		r = target_end_copy(&s->target, NULL);
		if (r == 0)
			return 0;
		if (r < 0) {
			session_fail(s, "%s", target_error(&s->target));
			return -1;
		}
		s->copy_open = 0;
		session_stmt_timer(s); /* what the server still does with the data */
		return 1;

	case LEXER_META:
		rules_apply(&s->rules, ev, &v);
		switch (v.action) {
		case RULES_DROP:
			session_explain(s, ev, &v, "dropped");
			return 1;
		case RULES_REWRITE:
			session_explain(s, ev, &v, "rewrote");
			s->rep.statements++;
			return session_forward(s, ev, v.text, v.len, 0) < 0 ? -1 : 1;
		case RULES_REFUSE:
		case RULES_FORWARD:
			session_excerpt(ev->data, ev->len, s->cur_excerpt, sizeof(s->cur_excerpt));
			session_fail(s, "psql meta-command at line %llu refused (rule %s): %s\n  line: %s",
			             (unsigned long long)ev->line, v.rule ? v.rule : "meta",
			             v.action == RULES_REFUSE && v.reason ? v.reason
			                                              : "pgsluice cannot run meta-commands",
			             s->cur_excerpt);
			return -1;
		}
		return 1;

	case LEXER_TRAILER:
		if (s->wire != NULL) {
			s->wire_trailer = 1; /* pg_restore sends it; the client's COMMIT ends the import */
			return 1;
		}
		s->trailer = 1;
		log_info(s->who, "end-of-dump trailer at line %llu", (unsigned long long)ev->line);
		return 1;
	}
	return 1;
}

/*
 * --idle-timeout.  The pump is starved: everything the client sent is
 * processed and the target waits for more.  (Re)arm the timer; every
 * starvation after new bytes re-arms it, so it fires only after that long
 * without a byte while the import waited for one.  Time the target spends
 * on a statement does not count.
 */
static void
session_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t line = s->lx.line > 1 && s->last_nl ? s->lx.line - 1 : s->lx.line;
	(void)fd;
	(void)what;

	if (s->state == SESSION_PREDUMP) {
		char msg[160];

		snprintf(msg, sizeof(msg), "no dump within %d s of connecting (--idle-timeout)\n  "
		         "nothing was changed in the target", s->cfg->idle_timeout);
		target_close(&s->target);
		session_refuse(s, LOG_LEVEL_INFO, msg);
		return;
	}
	if (s->state != SESSION_STREAM || s->error != NULL || s->client_eof || s->ev_pending ||
	    !target_ready(&s->target) || s->plain_start != s->plain_end ||
	    session_input_pending(s) > 0)
		return; /* not waiting for the client: the pump re-arms when it is */
	session_fail(s, "no data from the client for %d s in the middle of the dump, after line "
	             "%llu (--idle-timeout): is the sender stuck?",
	             s->cfg->idle_timeout, (unsigned long long)line);
}

static void
session_wait_client(struct session *s)
{
	struct timeval tv = { s->cfg->idle_timeout, 0 };

	if (s->own_read && !s->client_eof)
		session_own_read_wait(s);
	if (s->cfg->idle_timeout <= 0 || s->client_eof)
		return;
	if (s->ev_idle == NULL)
		s->ev_idle = evtimer_new(s->cfg->base, session_on_idle, s);
	if (s->ev_idle != NULL)
		evtimer_add(s->ev_idle, &tv);
}

/* Done with the input after the trailer: commit. */
static void
session_complete(struct session *s)
{
	if (s->ev_progress)
		event_del(s->ev_progress);
	if (s->jobs != NULL) {
		/* --jobs: everything the engine runs ends first (JOBS_EV_READY) */
		s->jobs_complete = 1;
		jobs_finish(s->jobs);
		if (!jobs_idle(s->jobs) || session_vacuum(s))
			return;
	}
	/* the checks of verify.h, then session_wind_down commits */
	session_verify_next(s);
}

static void
session_pump_once(struct session *s)
{
	int r;

	while (s->state == SESSION_STREAM && s->error == NULL) {
		if (s->jobs != NULL ? !jobs_ready(s->jobs) : !target_ready(&s->target))
			return; /* the target calls back when it has caught up */
		if (!s->ev_pending) {
			r = session_next_event(s);
			if (r < 0)
				return;
			if (r == 0) {
				/* a compressed stream ends (and is checked) after the trailer */
				if (s->trailer && (s->lexer_done || s->wire != NULL ||
				                   (session_input_pending(s) == 0 &&
				                    decoder_clean_end(&s->dec))))
					session_complete(s);
				else
					session_wait_client(s);
				return; /* else: wait for the client */
			}
		}
		r = session_handle(s);
		if (r <= 0)
			return;
		s->plain_start += s->ev_used;
		s->ev_pending = 0;
		/* a large statement has been passed on: not held until the next one */
		lexer_trim(&s->lx, SESSION_STMT_KEEP);
		if (s->sql_cap > SESSION_STMT_KEEP) {
			free(s->sql);
			s->sql = NULL;
			s->sql_cap = 0;
		}
	}
}

static void
session_pump(struct session *s)
{
	if (s->in_pump) {
		s->pump_again = 1;
		return;
	}
	s->in_pump = 1;
	do {
		s->pump_again = 0;
		session_pump_once(s);
	} while (s->pump_again && s->state == SESSION_STREAM && s->error == NULL);
	s->in_pump = 0;
}

/* ---- preflight -------------------------------------------------------- */

/*
 * Every SESSION_ALIVE_MS in STREAM, while a dump statement runs on the
 * target and the client has sent all it will (EOF or its FIN): once the
 * statement has run SESSION_ALIVE_SAY_S, say so to the client, once per
 * SESSION_ALIVE_SAY_S.  Besides telling the sender what it waits for, the
 * write is how a client that closed its whole connection (not only its
 * sending side, as nc -N does) is noticed: its kernel answers the line
 * with a reset, the next tick sees the socket closed, and the statement
 * is cancelled at once.  (Nothing else tells a half-closed connection from
 * a closed one.)
 */
static void session_on_alive(evutil_socket_t fd, short what, void *arg);

/*
 * Where the client's connection is, even if the session has not read up
 * to its end (it reads only as fast as the target takes the dump): 0 open,
 * 1 the client closed its sending side (TCP says CLOSE_WAIT once the FIN
 * is in, whatever data is buffered before it), 2 gone (reset: what was
 * written to it came back refused).
 */
static int
session_peer_state(struct session *s)
{
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char c;

	if (fd < 0)
		return s->client_eof;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		if (ti.tcpi_state == TCP_CLOSE)
			return 2;
		return s->client_eof || ti.tcpi_state == TCP_CLOSE_WAIT;
	}
	/* a Unix socket: EOF only shows when nothing is buffered before it */
	return s->client_eof || recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void
session_on_alive(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	double ran;
	(void)fd;
	(void)what;

	if (s->state != SESSION_STREAM || s->error != NULL || s->client_gone || s->wire != NULL ||
	    s->target.state != TARGET_BUSY)
		return;
	switch (session_peer_state(s)) {
	case 0:
		return;
	case 2:
		s->client_eof = s->client_gone = 1;
		snprintf(s->client_why, sizeof(s->client_why), "the client connection was lost (reset)");
		session_fail(s, "%s while statement %llu at line %llu was running on the target",
		             s->client_why, (unsigned long long)s->cur_no,
		             (unsigned long long)s->cur_line);
		session_cancel_now(s);
		return;
	}
	ran = report_now() - s->busy_since;
	if (ran >= SESSION_ALIVE_SAY_S && report_now() - s->alive_said >= SESSION_ALIVE_SAY_S) {
		s->alive_said = report_now();
		session_say(s, LOG_LEVEL_DEBUG, "running: statement %llu at line %llu, %.0f s on the "
		            "target so far (the dump is all in)",
		            (unsigned long long)s->cur_no, (unsigned long long)s->cur_line, ran);
	}
}

static void
session_start_stream(struct session *s)
{
	struct timeval tv, alive = { 0, SESSION_ALIVE_MS * 1000 };

	s->ropt = s->cfg->rules->opt;
	s->ropt.target_version = PQserverVersion(s->target.conn);
	s->ropt.known_setting = preflight_setting_known;
	s->ropt.known_arg = &s->settings;
	/* one transaction on this connection: the tables the dump creates take COPY FREEZE */
	s->ropt.copy_freeze = s->ropt.single_transaction && s->jobs == NULL;
	lexer_init(&s->lx, s->cfg->rules->max_statement);
	s->lx.server_version_num = s->ropt.target_version;
	rules_init(&s->rules, &s->ropt);
	s->pipeline_live = 1;
	report_init(&s->rep);
	session_set_state(s, SESSION_STREAM);
	if (!s->cfg->quiet && s->cfg->progress_interval > 0) {
		tv.tv_sec = (time_t)s->cfg->progress_interval;
		tv.tv_usec = (suseconds_t)((s->cfg->progress_interval - (double)tv.tv_sec) * 1e6);
		s->ev_progress = event_new(s->cfg->base, -1, EV_PERSIST, session_on_progress, s);
		if (s->ev_progress != NULL)
			event_add(s->ev_progress, &tv);
	}
	if (s->plain_socket && s->wire == NULL && (s->raw = malloc(SESSION_BULK_READ)) != NULL) {
		s->ev_read = event_new(s->cfg->base, bufferevent_getfd(s->bev), EV_READ,
		                       session_on_client_ready, s);
		s->ev_coalesce = evtimer_new(s->cfg->base, session_on_client_ready, s);
		s->own_read = s->ev_read != NULL && s->ev_coalesce != NULL;
	}
	s->ev_alive = event_new(s->cfg->base, -1, EV_PERSIST, session_on_alive, s);
	if (s->ev_alive != NULL)
		event_add(s->ev_alive, &alive);
	if (s->own_read)
		bufferevent_disable(s->bev, EV_READ);
	else
		bufferevent_enable(s->bev, EV_READ);
	session_pump(s);
}

static void
session_on_jobs(void *arg, enum jobs_event ev, const char *msg)
{
	struct session *s = arg;

	if (ev == JOBS_EV_FAILED) {
		session_fail(s, "%s", msg);
		return;
	}
	if (s->state != SESSION_STREAM || s->error != NULL)
		return;
	if (s->jobs_complete)
		session_complete(s); /* verifies once the engine is idle */
	else
		session_pump(s);
}

/*
 * --jobs N: the engine (jobs.h) opens its connections and takes the dump;
 * this connection keeps the import lock and runs the checks and the end.
 */
static void
session_start_jobs(struct session *s)
{
	struct jobs_config jc;
	char err[256];

	memset(&jc, 0, sizeof(jc));
	jc.base = s->cfg->base;
	jc.conninfo = s->cfg->conninfo;
	jc.n = s->cfg->jobs;
	jc.connect_timeout = s->cfg->connect_timeout;
	jc.lock_set = s->lock_set;
	jc.schemas = s->cfg->schemas;
	jc.n_schemas = s->cfg->n_schemas;
	jc.move_aside = s->objects.n > 0;
	jc.statement_timeout = s->cfg->statement_timeout;
	jc.who = s->who;
	jc.fn = session_on_jobs;
	jc.arg = s;
	s->jobs = jobs_new(&jc, err, sizeof(err));
	if (s->jobs == NULL) {
		session_fail(s, "%s", err);
		return;
	}
	s->sent_any = 1;
	if (s->cleared)
		session_say(s, LOG_LEVEL_INFO, "--clear-target: moving %s aside until the import "
		            "has committed (--jobs %d)", s->cleared, s->cfg->jobs);
	session_start_stream(s);
}

/* Preflight 3 is in: cleared, or clear it, or refuse. */
static void
session_after_objects(struct session *s)
{
	const struct preflight_object *fo;
	char *counts, *list, *drops, *sql;
	size_t n;

	counts = preflight_objects_counts(&s->objects);
	s->target_tables = preflight_objects_tables(&s->objects);
	if (s->objects.n > 0 && !s->cfg->clear_target) {
		list = preflight_objects_list(&s->objects, PREFLIGHT_LIST_MAX, "  ");
		session_fail(s, "the target is not empty: schema%s %s of database %s hold%s %zu "
		             "object%s (%s)\n%s"
		             "  to drop them inside the import's transaction, start pgsluice serve "
		             "with --clear-target (pgsluice check shows what it would drop)",
		             s->cfg->n_schemas > 1 ? "s" : "", s->cfg->schemas[0], s->dbname,
		             s->cfg->n_schemas > 1 ? "" : "s", s->objects.n,
		             s->objects.n == 1 ? "" : "s", counts ? counts : "?", list ? list : "");
		free(list);
		free(counts);
		return;
	}
	if (s->objects.n > 0 && (fo = preflight_objects_foreign(&s->objects)) != NULL) {
		session_fail(s, "--clear-target cannot drop %s %s: it is owned by %s, and pgsluice "
		             "connects as %s; drop it as its owner or a superuser first",
		             fo->kind, fo->ident, fo->owner, PQuser(s->target.conn));
		free(counts);
		return;
	}
	drops = s->objects.n > 0 ? preflight_drop_sql(&s->objects) : strdup("");
	if (drops == NULL) {
		free(counts);
		session_fail(s, "out of memory building the --clear-target statements");
		return;
	}
	if (s->objects.n > 0) {
		s->cleared = counts;
		counts = NULL;
		log_info(s->who, "--clear-target: dropping %s", s->cleared);
		report_phase_begin(&s->rep, REPORT_PHASE_CLEAR);
	}
	free(counts);
	if (s->cfg->jobs > 1 && s->wire == NULL) {
		free(drops);
		session_start_jobs(s);
		return;
	}
	if (!s->cfg->rules->opt.single_transaction && s->objects.n == 0) {
		free(drops);
		session_start_stream(s);
		return;
	}
	n = strlen(drops) + 16;
	sql = malloc(n);
	if (sql == NULL) {
		free(drops);
		session_fail(s, "out of memory building the --clear-target statements");
		return;
	}
	snprintf(sql, n, "%s%s", s->cfg->rules->opt.single_transaction ? "BEGIN;\n" : "", drops);
	free(drops);
	session_set_state(s, SESSION_BEGIN);
	if (s->objects.n > 0)
		s->sent_any = 1;
	session_send(s, sql);
	free(sql);
}

/*
 * A dump statement ran without error: is the target where the import
 * thinks it is?  Its transaction must still be open (single transaction),
 * and its standard_conforming_strings must be what the lexer reads the
 * rest of the dump with.  0: yes; -1: the import failed, telling the truth.
 */
static int
session_check_target(struct session *s)
{
	PGTransactionStatusType ts = PQtransactionStatus(s->target.conn);
	const char *scs = PQparameterStatus(s->target.conn, "standard_conforming_strings");

	if (s->in_txn && ts != PQTRANS_INTRANS) {
		s->in_txn = 0; /* nothing of ours is open any more: no ROLLBACK */
		s->txn_lost = 1;
		session_fail(s, "statement %llu at line %llu ended the import's transaction (the "
		             "target answered %s and says %s): an import runs in one transaction "
		             "that only pgsluice ends\n  statement: %s",
		             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
		             s->cur_tag[0] ? s->cur_tag : "?",
		             ts == PQTRANS_IDLE ? "no transaction is open after it"
		                                : "its state is not usable after it",
		             s->cur_excerpt);
		return -1;
	}
	if (scs != NULL && (strcmp(scs, "on") == 0) != (lexer_standard_strings(&s->lx) != 0)) {
		session_fail(s, "statement %llu at line %llu left standard_conforming_strings %s on "
		             "the target, but pgsluice reads the dump after it with it %s: the server "
		             "would split the rest differently; the import is refused\n  statement: %s",
		             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line, scs,
		             lexer_standard_strings(&s->lx) ? "on" : "off", s->cur_excerpt);
		return -1;
	}
	return 0;
}

/* What the target holds after a dump statement ended the import's transaction. */
static const char *
session_txn_lost_state(const struct session *s)
{
	if (strncmp(s->cur_tag, "ROLLBACK", 8) == 0)
		return "the target rolled the import back at that statement: it is as it was before "
		       "the import (nothing after that statement ran)";
	if (strcmp(s->cur_tag, "COMMIT") == 0)
		return "what the import did up to that statement is COMMITTED: the target holds a "
		       "partial import (nothing after that statement ran)";
	if (strcmp(s->cur_tag, "PREPARE TRANSACTION") == 0)
		return "the import up to that statement is a PREPARED transaction on the target, "
		       "holding its locks: pg_prepared_xacts lists it, ROLLBACK PREPARED undoes it";
	return "what the import did up to that statement may be committed: look at the target "
	       "before sending the dump again";
}

/* A command of ours finished (TARGET_EV_IDLE). */
static void
session_step_done(struct session *s)
{
	char *sql, err[256], *srv;

	if (s->error != NULL) {
		session_wind_down(s);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK:
		if (s->srv.set) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "the preflight query on the target failed: %s", srv ? srv : "?");
			free(srv);
			return;
		}
		if (!s->locked) {
			session_fail(s, "another import into %s is running (the import lock on the "
			             "database is held by another session, e.g. another pgsluice); "
			             "try again when it has finished",
			             s->dbname);
			return;
		}
		session_set_state(s, SESSION_SETTINGS);
		session_send(s, preflight_sql_settings());
		return;
	case SESSION_SETTINGS:
		if (s->srv.set || s->settings.names == NULL) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "cannot read pg_settings on the target: %s", srv ? srv : "?");
			free(srv);
			return;
		}
		session_role_start(s);
		return;
	case SESSION_ROLE:
		if (session_role_done(s) < 0)
			return;
		session_set_state(s, SESSION_SYNAPSE);
		/* fall through */
	case SESSION_SYNAPSE:
		if (session_synapse_step(s) != 0)
			return; /* a query is in flight, or the import failed */
		session_set_state(s, SESSION_OBJECTS);
		sql = preflight_sql_objects(s->target.conn, s->cfg->schemas, s->cfg->n_schemas, err,
		                            sizeof(err));
		if (sql == NULL) {
			session_fail(s, "%s", err);
			return;
		}
		session_send(s, sql);
		free(sql);
		return;
	case SESSION_OBJECTS:
		if (s->srv.set) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "cannot list the objects in the target schemas: %s", srv ? srv : "?");
			free(srv);
			return;
		}
		session_after_objects(s);
		return;
	case SESSION_BEGIN:
		if (s->srv.set) {
			char note[sizeof(s->blocker) + 200];

			srv = session_srv_text(&s->srv);
			session_lock_note(s, note, sizeof(note));
			session_fail(s, "%s on the target failed: %s%s",
			             s->cleared ? "clearing the target schemas (--clear-target)" : "BEGIN",
			             srv ? srv : "?", note);
			free(srv);
			return;
		}
		s->in_txn = s->cfg->rules->opt.single_transaction;
		if (s->cleared)
			session_say(s, LOG_LEVEL_INFO, "cleared (--clear-target): dropped %s%s", s->cleared,
			            s->in_txn ? " inside the import's transaction" : "");
		session_start_stream(s);
		return;
	case SESSION_STREAM:
		if (s->srv.set) {
			session_fail_statement(s);
			return;
		}
		if (s->jobs == NULL && session_check_target(s) < 0)
			return;
		if (s->cur_is_copy && s->rep.in_copy) {
			/* a COPY statement that ended without data: cannot happen */
			session_fail(s, "statement %llu at line %llu: the target did not start the COPY",
			             (unsigned long long)s->cur_no, (unsigned long long)s->cur_line);
			return;
		}
		session_pump(s);
		return;
	case SESSION_VERIFY:
		if (s->srv.set) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "%s failed: %s",
			             s->analyze_step == 1 ? "ANALYZE of the imported tables (--no-analyze "
			                                    "skips it)" : "verification query",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_verify_next(s);
		return;
	case SESSION_FINISH:
		if (s->srv.set && s->finish_commit) {
			srv = session_srv_text(&s->srv);
			session_fail(s, "COMMIT failed: %s", srv ? srv : "?");
			free(srv);
		} else if (s->finish_commit) {
			s->committed = 1;
		} else if (s->srv.set && s->jobs != NULL) {
			srv = session_srv_text(&s->srv);
			session_say(s, LOG_LEVEL_ERROR, "  --jobs: undoing the import failed: %s\n  the "
			            "target holds a partial import; pgsluice_aside_N schemas hold what "
			            "--clear-target moved aside", srv ? srv : "?");
			free(srv);
		}
		s->in_txn = 0;
		session_wind_down(s);
		return;
	case SESSION_UNLOCK:
		s->locked = 0;
		target_close(&s->target);
		session_report(s);
		return;
	default:
		return;
	}
}

static void
session_on_result(struct session *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	char err[256];
	const char *tag;

	if (s->wire != NULL && s->state == SESSION_STREAM && s->error == NULL)
		pgwire_result(s->wire, bufferevent_get_output(s->bev), res);
	if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
		session_srv_save(s, res);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK: {
		struct preflight_lock l;

		if (st == PGRES_COMMAND_OK)
			return; /* SET lock_timeout */
		if (preflight_lock_load(&l, res, err, sizeof(err)) < 0) {
			session_fail(s, "%s", err);
			return;
		}
		s->locked = l.locked;
		snprintf(s->dbname, sizeof(s->dbname), "%s", l.dbname);
		return;
	}
	case SESSION_SETTINGS:
		preflight_settings_free(&s->settings);
		if (preflight_settings_load(&s->settings, res) < 0)
			log_warn(s->who, "cannot read pg_settings' names; the unknown-setting rule uses "
			         "its built-in table");
		return;
	case SESSION_OBJECTS:
		preflight_objects_free(&s->objects);
		if (preflight_objects_load(&s->objects, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_STREAM:
		tag = PQcmdStatus(res);
		snprintf(s->cur_tag, sizeof(s->cur_tag), "%s", tag);
		if (s->cur_is_copy && strncmp(tag, "COPY", 4) == 0) {
			char verr[512];
			uint64_t rows = strtoull(PQcmdTuples(res), NULL, 10);

			report_copy_done(&s->rep, rows);
			if (verify_copy_result(&s->ver, s->rep.copy_table, rows, verr, sizeof(verr)) < 0)
				session_fail(s, "%s", verr);
		}
		return;
	case SESSION_ROLE:
		session_role_result(s, res);
		return;
	case SESSION_SYNAPSE:
		if (synapse_preflight_result(&s->syn, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_VERIFY: {
		char verr[1024];

		if (s->auditing) {
			session_audit_result(s, res);
			return;
		}
		if (s->analyze_step == 1)
			return; /* ANALYZE */
		if (verify_result(&s->ver, res, verr, sizeof(verr)) < 0)
			session_fail(s, "%s", verr);
		return;
	}
	case SESSION_UNLOCK:
		verify_size_result(&s->ver, res);
		return;
	default:
		return;
	}
}

/* Preflight 1: the import lock, with --lock-timeout for the whole session. */
static void
session_preflight_start(struct session *s)
{
	/* standard_conforming_strings as the lexer begins to read the dump */
	static const char scs_on[] = "SET standard_conforming_strings = on;\n";
	char *sql = malloc(strlen(preflight_sql_lock()) + sizeof(s->lock_set) + sizeof(scs_on) + 2);

	session_set_state(s, SESSION_LOCK);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		return;
	}
	/* the dump's own SET lock_timeout is rewritten */
	sprintf(sql, "%s\n%s%s", s->lock_set, scs_on, preflight_sql_lock());
	session_send(s, sql);
	free(sql);
}

static void
session_on_target(void *arg, enum target_event ev, PGresult *res)
{
	struct session *s = arg;

	switch (ev) {
	case TARGET_EV_CONNECTED:
		snprintf(s->dbname, sizeof(s->dbname), "%s", PQdb(s->target.conn));
		log_info(s->who, "connected to the target: database %s, user %s, server %d",
		         PQdb(s->target.conn), PQuser(s->target.conn),
		         PQserverVersion(s->target.conn));
		if (s->error != NULL) {
			session_wind_down(s);
			return;
		}
		if (s->state == SESSION_PREDUMP) {
			/* a wire client: its startup is answered; the dump decides the rest */
			pgwire_ready(s->wire, bufferevent_get_output(s->bev), s->target.conn);
			session_predump(s);
			return;
		}
		session_preflight_start(s);
		return;
	case TARGET_EV_RESULT:
		session_on_result(s, res);
		return;
	case TARGET_EV_IDLE:
		session_step_done(s);
		return;
	case TARGET_EV_COPY:
		s->copy_open = 1;
		if (s->wire != NULL && s->error == NULL)
			pgwire_copy_in(s->wire, bufferevent_get_output(s->bev));
		if (s->error != NULL)
			session_wind_down(s);
		else
			session_pump(s);
		return;
	case TARGET_EV_DRAINED:
		if (s->error != NULL)
			session_wind_down(s);
		else if (s->state == SESSION_STREAM)
			session_pump(s);
		return;
	case TARGET_EV_FAILED:
		if (s->state == SESSION_FINISH && s->finish_commit && s->in_txn)
			s->commit_unknown = 1;
		if (s->state == SESSION_CONNECT)
			session_fail(s, "%s\n  check --target, that the server runs, and its "
			             "pg_hba.conf",
			             target_error(&s->target));
		else
			session_fail(s, "%s", target_error(&s->target));
		return;
	}
}

/* ---- the ending ------------------------------------------------------- */

static void
session_emit(void *arg, const char *line)
{
	session_say(arg, LOG_LEVEL_INFO, "%s", line);
}

/* What state the target is in after a failed import (the summary's last word). */
static const char *
session_end_state(const struct session *s, char *buf, size_t size)
{
	if (!s->sent_any)
		return "nothing was changed in the target";
	if (s->txn_lost)
		return session_txn_lost_state(s);
	if (s->jobs != NULL && jobs_state(s->jobs) != NULL)
		return jobs_state(s->jobs);
	if (s->commit_unknown)
		return "the connection was lost while COMMIT was in flight: the import may or may "
		       "not have been committed; look at the target before sending the dump again";
	if (s->cfg->rules->opt.single_transaction) {
		snprintf(buf, size, "rolled back: the target is as it was before the import%s",
		         s->cleared ? " (the --clear-target drops too)" : "");
		return buf;
	}
	return "--no-single-transaction: the statements before the failing one were committed; "
	       "the target holds a partial import";
}

/* The result as data: to the daemon (on_result), and to a client that asked. */
static void
session_result(struct session *s, const char *state)
{
	struct jsonout_import res;
	char msg[1024], *line;
	json_t *obj;
	size_t n;

	memset(&res, 0, sizeof(res));
	res.ok = s->error == NULL;
	res.committed = s->committed && s->error == NULL;
	n = s->error ? strcspn(s->error, "\n") : 0;
	if (s->error)
		snprintf(msg, sizeof(msg), "%.*s", (int)n, s->error);
	else
		snprintf(msg, sizeof(msg), "import into %s committed", s->dbname);
	res.message = msg;
	res.target = s->cfg->target_desc;
	res.database = s->dbname[0] ? s->dbname : NULL;
	res.jobs = s->cfg->jobs > 1 ? s->cfg->jobs : 1;
	res.mode = s->cfg->jobs > 1 ? "jobs" : s->cfg->rules->opt.single_transaction ?
	           "single transaction" : "no single transaction";
	res.state = state;
	if (s->error != NULL && s->fail_no > 0) {
		res.sqlstate = s->fail_sqlstate[0] ? s->fail_sqlstate : NULL;
		res.statement = s->fail_no;
		res.line = s->fail_line;
	}
	res.rep = &s->rep;
	res.rules = s->pipeline_live ? &s->rules : NULL;
	res.ver = s->pipeline_live ? &s->ver : NULL;
	obj = jsonout_import(&res);
	if (obj == NULL)
		return;
	if (s->cfg->on_result)
		s->cfg->on_result(s->cfg->arg, s, &res, obj);
	if (s->want_result && s->wire == NULL && !s->client_gone &&
	    (line = jsonout_line(obj)) != NULL) {
		evbuffer_add_printf(bufferevent_get_output(s->bev), "RESULT %s\n", line);
		free(line);
	}
	json_decref(obj);
}

/*
 * The target is closed: the summary, then close the client.  It opens
 * with the verdict, then the phases, the checks and the rules, and ends
 * with the verdict again (so a terminal shows it last).
 */
static void
session_report(struct session *s)
{
	int single = s->cfg->rules->opt.single_transaction;
	const char *state = NULL;
	enum log_level lvl;
	char plain[32], sbuf[160];

	if (s->state == SESSION_CLOSING || s->state == SESSION_AFTER)
		return;
	if (s->ev_progress)
		event_del(s->ev_progress);
	report_phase_end(&s->rep);
	progwatch_close(&s->progress);
	log_group_begin(); /* the summary is one log record */
	report_size(s->rep.bytes_plain, plain, sizeof(plain));
	if (s->error == NULL && s->committed == 0 && !single)
		s->committed = 1; /* autocommit: what was sent is in */
	lvl = s->error ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO;
	if (s->error == NULL) {
		session_say(s, lvl, "OK import into %s %s: %llu statements, %llu rows in %zu tables, "
		            "%s in %.1f s",
		            s->dbname, single ? "committed" : "done (--no-single-transaction: "
		                                               "committed statement by statement)",
		            (unsigned long long)s->rep.statements, (unsigned long long)s->rep.rows,
		            s->rep.n_tables, plain, report_elapsed(&s->rep));
		if (s->wire != NULL && !s->wire_trailer)
			session_say(s, lvl, "  the client's COMMIT ended the import: pg_dump's last line "
			            "(\"-- PostgreSQL database dump complete\") does not come over this "
			            "path (psql drops comments), so a file cut short at a statement "
			            "boundary would not be noticed; compare the counts with the source, "
			            "or send the file with pgsluice send, which checks it");
	} else {
		state = session_end_state(s, sbuf, sizeof(sbuf));
		session_say(s, lvl, "ERROR %s", s->error);
		session_say(s, lvl, "  %s", state);
	}
	if (s->super_allowed)
		session_say(s, LOG_LEVEL_WARN, "  the target role %s is a superuser "
		            "(--allow-superuser-target)", s->super_allowed_user);
	if (s->pipeline_live) {
		report_phases(&s->rep, session_emit, s);
		if (s->cleared && !s->txn_lost)
			session_say(s, LOG_LEVEL_INFO, "  cleared (--clear-target): %s %s", s->cleared,
			            s->committed ? "dropped" : "not dropped (rolled back)");
		synapse_summary(&s->syn, session_emit, s);
		verify_summary(&s->ver, &s->rep, session_emit, s);
		report_summary(&s->rep, &s->rules, s->error == NULL && s->cfg->verbose, session_emit,
		               s);
		if (s->error == NULL)
			session_say(s, lvl, "OK import into %s %s", s->dbname,
			            single ? "committed" : "done (--no-single-transaction)");
		else
			session_say(s, lvl, "ERROR import into %s failed: %s", s->dbname, state);
	}
	log_group_end();
	session_result(s, state);
	if (s->client_gone && s->admitted)
		session_log_left(s, s->client_why);
	if (!s->ended && s->admitted) {
		s->ended = 1;
		if (s->cfg->on_end)
			s->cfg->on_end(s->cfg->arg, s, s->committed && s->error == NULL);
	}
	if (s->wire != NULL && !s->client_gone && session_wire_after(s) == 0)
		return;
	session_close_client(s);
}

/* ---- the public side -------------------------------------------------- */

struct session *
session_new(const struct session_config *cfg, struct bufferevent *bev, const char *peer,
            uint64_t id)
{
	struct session *s;
	char *colon;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	s->plain = malloc(SESSION_PLAIN_CAP);
	s->ev_free = event_new(cfg->base, -1, 0, session_free_now, s);
	if (s->plain == NULL || s->ev_free == NULL) {
		free(s->plain);
		if (s->ev_free)
			event_free(s->ev_free);
		free(s);
		bufferevent_free(bev);
		return NULL;
	}
	s->cfg = cfg;
	s->id = id;
	s->bev = bev;
	s->started = time(NULL);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	/* "10.0.0.5:51234" -> "10.0.0.5", "[::1]:51234" -> "::1", "unix" as is */
	if (peer[0] == '[') {
		snprintf(s->peer_host, sizeof(s->peer_host), "%s", peer + 1);
		colon = strchr(s->peer_host, ']');
	} else {
		snprintf(s->peer_host, sizeof(s->peer_host), "%s", peer);
		colon = strrchr(s->peer_host, ':');
	}
	if (colon != NULL)
		*colon = '\0';
	snprintf(s->who, sizeof(s->who), "#%llu %s", (unsigned long long)id, peer);
	snprintf(s->lock_set, sizeof(s->lock_set), "SET lock_timeout = '%ds';", cfg->lock_timeout);
	decoder_init(&s->dec);
	report_init(&s->rep);
	synapse_init(&s->syn, (enum synapse_mode)cfg->synapse, cfg->force_schema_version,
	             cfg->schemas != NULL && cfg->n_schemas > 0 ? cfg->schemas[0] : "public");
	verify_init(&s->ver);
	audit_init(&s->audit);
	bufferevent_setcb(bev, session_on_read, session_on_write, session_on_client_event, s);
	bufferevent_setwatermark(bev, EV_READ, 0, SESSION_INPUT_HIGH);
	s->plain_socket = bufferevent_openssl_get_ssl(bev) == NULL &&
	                  bufferevent_get_underlying(bev) == NULL;
	return s;
}

/* ---- the PostgreSQL protocol (pgwire.h) ------------------------------ */

/*
 * A TCP connection of a daemon with TLS: the session reads nothing until
 * the first byte is known (peeked, not taken), since a PostgreSQL client
 * asks for TLS in plaintext (SSLRequest) and a raw client starts TLS at
 * once.
 */
static int
session_tls_port(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (s->cfg->tls_ctx == NULL || tls_active(s->bev))
		return 0;
	if (getsockname(bufferevent_getfd(s->bev), (struct sockaddr *)&ss, &len) < 0)
		return 1;
	return ss.ss_family != AF_UNIX;
}

/*
 * Go on over TLS on the same socket: a bufferevent_openssl in the
 * accepting state takes a duplicate of the descriptor (the plain one is
 * freed and closes its own).  answer_s: write the 'S' that accepts an
 * SSLRequest first.  Nothing must be buffered on the plain side.
 */
static void
session_take_tls(struct session *s, int answer_s)
{
	evutil_socket_t fd = bufferevent_getfd(s->bev), nfd;
	struct bufferevent *tb;

	if (answer_s && send(fd, "S", 1, MSG_NOSIGNAL) != 1) {
		s->client_gone = 1;
		session_refuse(s, LOG_LEVEL_INFO, "the client left during the SSLRequest");
		return;
	}
	nfd = dup(fd);
	if (nfd < 0) {
		s->client_gone = 1;
		session_refuse(s, LOG_LEVEL_ERROR, "cannot start TLS: out of file descriptors");
		return;
	}
	evutil_make_socket_closeonexec(nfd);
	tb = tls_accept(s->cfg->base, s->cfg->tls_ctx, nfd); /* closes nfd on failure */
	if (tb == NULL) {
		s->client_gone = 1;
		session_refuse(s, LOG_LEVEL_ERROR, "cannot set up TLS for the connection");
		return;
	}
	bufferevent_free(s->bev);
	s->bev = tb;
	bufferevent_setcb(tb, session_on_read, session_on_write, session_on_client_event, s);
	bufferevent_setwatermark(tb, EV_READ, 0, SESSION_INPUT_HIGH);
	s->plain_socket = 0;
	s->tls_pending = 1;
	if (s->wire != NULL)
		pgwire_tls_started(s->wire);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

/* A wire client: its front end, and the handshake's time limit. */
static int
session_wire_begin(struct session *s)
{
	struct pgwire_config wc;
	struct timeval tv = { s->cfg->header_timeout, 0 };

	memset(&wc, 0, sizeof(wc));
	wc.tls_available = s->tls_port;
	wc.tls_required = s->tls_port;
	wc.scram = s->cfg->auth != NULL ? auth_scram(s->cfg->auth) : NULL;
	wc.max_query = s->cfg->rules->max_statement ? s->cfg->rules->max_statement
	                                            : LEXER_DEFAULT_MAX_STATEMENT;
	wc.who = s->who;
	s->wire = pgwire_new(&wc);
	if (s->wire == NULL) {
		session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
		return -1;
	}
	log_info(s->who, "a PostgreSQL-protocol client");
	s->plain_socket = 0; /* the bufferevent reads: messages, not a bulk stream */
	if (s->ev_header == NULL && s->cfg->header_timeout > 0) {
		s->ev_header = evtimer_new(s->cfg->base, session_on_header_timeout, s);
		if (s->ev_header == NULL || evtimer_add(s->ev_header, &tv) != 0) {
			session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
			return -1;
		}
	}
	return 1;
}

/*
 * TLS port: the first byte, peeked.  0x00: a wire client in plaintext;
 * 0x16 (a TLS handshake record): TLS; anything else: a plaintext raw
 * client, told in plaintext to use TLS.
 */
static void
session_on_presniff(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	unsigned char c;
	ssize_t n;
	(void)what;

	if (s->released || s->state != SESSION_HANDSHAKE || s->sniffed)
		return;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(s->ev_sniff, NULL);
		return;
	}
	s->sniffed = 1;
	if (n == 1 && c == 0x00) {
		s->tls_pending = 0;
		if (session_wire_begin(s) < 0)
			return;
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		session_handshake(s);
		return;
	}
	if (n == 1 && c != 0x16) {
		/* not a TLS handshake record: a plaintext raw client (nc, send without --tls) */
		s->tls_pending = 0;
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		session_refuse(s, LOG_LEVEL_WARN, "this port speaks TLS: use pgsluice send --ca "
		               "pgsluice.crt HOST:PORT (or socat ... OPENSSL:HOST:PORT,cafile=pgsluice.crt)");
		return;
	}
	/* TLS, or the end: the handshake says what it is */
	session_take_tls(s, 0);
}

static void
session_on_sniff_grace(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;

	if (s->released || s->state != SESSION_HANDSHAKE || s->sniffed)
		return;
	s->sniffed = 1; /* silent: a raw stream whose sender is slow to start (pg_dump) */
	session_handshake(s);
}

/*
 * The first byte of the client's stream: 0x00 is a PostgreSQL client
 * (every startup packet begins with a length below 2^24); a dump begins
 * with text or 1f 8b, an AUTH line with 'A'.  Returns 1 when decided, 0
 * to wait (a silent client is taken as raw after SESSION_SNIFF_GRACE_MS,
 * or, with a token, waits for its AUTH line), -1 when refused.
 */
static int
session_sniff(struct session *s)
{
	struct timeval tv = { 0, SESSION_SNIFF_GRACE_MS * 1000 };
	unsigned char c;

	if (evbuffer_copyout(bufferevent_get_input(s->bev), &c, 1) < 1) {
		if (s->client_eof) {
			s->sniffed = 1;
			return 1;
		}
		if (s->auth_pending || s->ev_sniff != NULL)
			return 0;
		s->ev_sniff = evtimer_new(s->cfg->base, session_on_sniff_grace, s);
		if (s->ev_sniff == NULL || evtimer_add(s->ev_sniff, &tv) != 0) {
			s->sniffed = 1;
			return 1;
		}
		return 0;
	}
	s->sniffed = 1;
	if (s->ev_sniff != NULL)
		event_del(s->ev_sniff);
	return c == 0x00 ? session_wire_begin(s) : 1;
}

/* HANDSHAKE of a wire client: the startup packets.  1: done, 0: wait, -1: ended. */
static int
session_wire_startup(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	switch (pgwire_startup(s->wire, in, bufferevent_get_output(s->bev), s->client_eof)) {
	case PGWIRE_START_WAIT:
		return 0;
	case PGWIRE_START_DONE:
		return 1;
	case PGWIRE_START_TLS:
		session_take_tls(s, 1);
		return 0;
	case PGWIRE_START_CLOSE:
		session_close_client(s);
		return -1;
	case PGWIRE_START_FAIL:
		break;
	}
	session_refuse(s, LOG_LEVEL_WARN, pgwire_error(s->wire));
	return -1;
}

/* session_refill for a wire client: Query text and COPY data from pgwire. */
static int
session_wire_refill(struct session *s)
{
	size_t produced = 0;
	enum pgwire_input r;

	s->plain_start = s->plain_end = 0;
	r = pgwire_refill(s->wire, bufferevent_get_input(s->bev), bufferevent_get_output(s->bev),
	                  &s->lx, s->plain, SESSION_PLAIN_CAP, &produced);
	s->plain_end = produced;
	s->rep.bytes_in = s->rep.bytes_plain = pgwire_bytes(s->wire);
	if (r == PGWIRE_IN_FAIL) {
		session_fail(s, "%s", pgwire_error(s->wire));
		return -1;
	}
	if (r == PGWIRE_IN_TERMINATE) {
		session_fail(s, "the client ended its session (Terminate) with its transaction open, "
		             "before its COMMIT: the import is rolled back, as PostgreSQL does%s",
		             s->peer_refused ? "\n  a second connection was refused meanwhile: "
		             "psql runs the \\connect of a dump made with pg_dump -C itself, and "
		             "pgsluice takes one connection per import; make the dump without -C, "
		             "or send it with pgsluice send" : "");
		return -1;
	}
	return 0;
}

/*
 * A statement of a wire client, after the rules: what pgwire answers
 * itself, or refuses.  1: the session goes on as for a raw stream; 0: the
 * statement is done (the import ends here); -1: the import failed.
 */
static int
session_wire_statement(struct session *s, const struct lexer_event *ev,
                       const struct rules_verdict *v, int in_copy)
{
	char why[640];

	switch (pgwire_statement(s->wire, bufferevent_get_output(s->bev), ev, v, in_copy, why,
	                         sizeof(why))) {
	case PGWIRE_ST_GO:
		return 1;
	case PGWIRE_ST_END:
		log_info(s->who, "the client's COMMIT ends the import: committing");
		s->trailer = 1;
		return 0;
	case PGWIRE_ST_REFUSE:
		break;
	}
	session_excerpt(ev->data, ev->len, s->cur_excerpt, sizeof(s->cur_excerpt));
	session_fail(s, "statement %llu at line %llu refused: %s\n  statement: %s",
	             (unsigned long long)s->rep.statements, (unsigned long long)ev->line, why,
	             s->cur_excerpt);
	return -1;
}

/*
 * The import of a wire client has ended: pgwire tells the outcome.  0 when
 * the client is answered on (state AFTER, until its Terminate), 1 when it
 * is to be closed.
 */
static int
session_wire_after(struct session *s)
{
	struct timeval tv = { s->cfg->idle_timeout, 0 };

	if (pgwire_after(s->wire, bufferevent_get_output(s->bev), s->committed && s->error == NULL,
	                 s->error) == 0)
		return 1;
	session_set_state(s, SESSION_AFTER);
	if (s->cfg->idle_timeout > 0)
		bufferevent_set_timeouts(s->bev, &tv, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (pgwire_after_read(s->wire, bufferevent_get_input(s->bev),
	                      bufferevent_get_output(s->bev)) == 0)
		session_close_client(s);
	return 0;
}

void
session_note_refused_peer(struct session *running)
{
	running->peer_refused = 1;
}

/* ---- the handshake: TLS, the AUTH line, admission -------------------- */

/*
 * Refused before the import began: one ERROR line, logged at level (and to
 * the client when it has a channel to read it on), then close.  Nothing
 * reached the target.
 */
static void
session_refuse(struct session *s, enum log_level level, const char *msg)
{
	session_refuse_code(s, level, SESSION_ADMIT, msg);
}

/* The RESULT line of a refusal before any import (session.h), when asked for. */
static void
session_result_refused(struct session *s, enum session_admission code, const char *msg)
{
	char *line = jsonout_refusal(code == SESSION_REFUSE_BUSY          ? "busy"
	                             : code == SESSION_REFUSE_UNAVAILABLE ? "unavailable"
	                                                                  : "refused",
	                             msg);

	if (line != NULL)
		evbuffer_add_printf(bufferevent_get_output(s->bev), "RESULT %s\n", line);
	free(line);
}

/* session_refuse, for an admission refusal: code says which (SESSION_ADMIT: none). */
static void
session_refuse_code(struct session *s, enum log_level level, enum session_admission code,
                    const char *msg)
{
	enum pgwire_refusal why;

	if (s->tls_pending)
		s->client_gone = 1; /* no TLS channel yet to write on */
	if (s->wire != NULL && !s->client_gone) {
		log_msg(level, s->who, "ERROR %s", msg);
		why = code == SESSION_REFUSE_BUSY          ? PGWIRE_REFUSE_BUSY
		      : code == SESSION_REFUSE_UNAVAILABLE ? PGWIRE_REFUSE_UNAVAILABLE
		      : s->state == SESSION_PREDUMP        ? pgwire_refusal(s->wire)
		                                           : PGWIRE_REFUSE_DEFAULT;
		pgwire_refuse(s->wire, bufferevent_get_output(s->bev), why, msg);
	} else {
		session_say(s, level, "ERROR %s", msg);
		if (s->want_result && !s->client_gone)
			session_result_refused(s, code, msg);
	}
	session_close_client(s);
}

static void
session_on_header_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char msg[160];
	(void)fd;
	(void)what;

	if (s->state != SESSION_HANDSHAKE)
		return;
	snprintf(msg, sizeof(msg), "%s within %d s of connecting (--header-timeout)",
	         s->tls_pending ? "no TLS handshake"
	         : s->wire != NULL ? "no complete PostgreSQL startup and authentication"
	                           : "no complete AUTH line",
	         s->cfg->header_timeout);
	session_refuse(s, LOG_LEVEL_WARN, msg);
}

static void
session_on_auth_hold(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_handshake(arg);
}

/*
 * The AUTH step: 1 passed, 0 wait (more bytes, or its turn), -1 refused.
 * A complete AUTH line (a PostgreSQL client: each SCRAM message) waits
 * until auth_wait lets it be compared, then the outcome is recorded at
 * once; a right token is never refused unread.  The wait does not count
 * against --header-timeout; past SESSION_AUTH_HOLD_MAX_S in all it is
 * refused.
 */
static int
session_auth(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct timeval tv = { 0, 0 };
	enum auth_result r;
	char why[600];
	double wait;
	int n;

	if (s->ev_auth != NULL && evtimer_pending(s->ev_auth, NULL))
		return 0; /* held */
	if (s->wire == NULL) {
		r = auth_line(in, s->client_eof, why, sizeof(why));
		if (r == AUTH_MORE)
			return 0;
		if (r == AUTH_FAIL) {
			/* no token to guess: answered at once, costs no credit */
			log_warn(s->who, "AUTH failed from %s: %s", s->peer_host, why);
			session_refuse(s, LOG_LEVEL_DEBUG, why);
			return -1;
		}
	}
	wait = auth_wait(s->cfg->auth, s->peer_host);
	if (wait > 0) {
		if (s->auth_held + wait > SESSION_AUTH_HOLD_MAX_S) {
			log_warn(s->who, "AUTH attempt from %s refused after waiting %.0f s for its turn: "
			         "failed attempts keep arriving (--auth-failure-rate)", s->peer_host,
			         s->auth_held);
			snprintf(why, sizeof(why), "too many failed AUTH attempts (from %s or in all); "
			         "try again later", s->peer_host);
			session_refuse(s, LOG_LEVEL_DEBUG, why);
			return -1;
		}
		if (s->ev_auth == NULL)
			s->ev_auth = evtimer_new(s->cfg->base, session_on_auth_hold, s);
		/*
		 * Those waiting for the same credit wake in the order they came:
		 * the longer one has waited, the less is added to its wait.
		 */
		wait += 0.001 + 0.02 / (1 + 10 * s->auth_held);
		tv.tv_sec = (time_t)wait;
		tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
		if (s->ev_auth != NULL && evtimer_add(s->ev_auth, &tv) == 0) {
			/* the wait is ours: it does not count against --header-timeout */
			if (s->ev_header != NULL) {
				struct timeval th = { tv.tv_sec + s->cfg->header_timeout, tv.tv_usec };

				evtimer_add(s->ev_header, &th);
			}
			if (s->auth_held == 0)
				log_info(s->who, "AUTH attempt from %s waits its turn (%.2f s; earlier "
				         "failures)", s->peer_host, wait);
			s->auth_held += wait;
			return 0;
		}
	}
	switch (s->wire != NULL ? pgwire_auth(s->wire, in, bufferevent_get_output(s->bev), why,
	                                      sizeof(why))
	                        : auth_check(s->cfg->auth, in, s->client_eof, why, sizeof(why))) {
	case AUTH_MORE:
		return 0;
	case AUTH_OK:
		auth_record(s->cfg->auth, s->peer_host, 1);
		s->auth_pending = 0;
		log_info(s->who, "AUTH: token accepted");
		return 1;
	case AUTH_FAIL:
		break;
	}
	n = auth_record(s->cfg->auth, s->peer_host, 0);
	metrics_auth_failed();
	log_warn(s->who, "AUTH failed from %s: %s (failure %d from this address; its next "
	         "attempt waits %.2f s)", s->peer_host, why, n,
	         auth_wait(s->cfg->auth, s->peer_host));
	session_refuse(s, LOG_LEVEL_DEBUG, why);
	return -1;
}

/*
 * After the AUTH step: a raw client's "RESULT json" line (session.h).
 * 1: taken or absent, 0: wait for the rest of it.
 */
static int
session_result_request(struct session *s)
{
	static const char req[] = SESSION_RESULT_REQUEST;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	char buf[sizeof(req) - 1];
	size_t n = evbuffer_get_length(in);

	if (n > sizeof(buf))
		n = sizeof(buf);
	if (evbuffer_copyout(in, buf, n) != (ev_ssize_t)n || memcmp(buf, req, n) != 0)
		return 1;
	if (n < sizeof(buf))
		return s->client_eof ? 1 : 0;
	evbuffer_drain(in, sizeof(buf));
	s->want_result = 1;
	return 1;
}

/*
 * HANDSHAKE: TLS (bufferevent_openssl runs it; BEV_EVENT_CONNECTED ends
 * it), then the AUTH line when a token is configured, then the daemon's
 * admission, then the target connection.  Called again on each step's
 * event; does nothing outside HANDSHAKE.
 */
static void
session_handshake(struct session *s)
{
	enum session_admission code;
	char msg[512];

	if (s->state != SESSION_HANDSHAKE || s->tls_pending)
		return;
	if (!s->sniffed && session_sniff(s) <= 0)
		return;
	if (s->wire != NULL && session_wire_startup(s) <= 0)
		return;
	if (s->client_eof && evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
		session_refuse(s, LOG_LEVEL_INFO, "the client closed the connection before "
		               "sending a dump\n  nothing was changed in the target");
		return;
	}
	if (s->auth_pending && session_auth(s) <= 0)
		return;
	if (s->wire == NULL && session_result_request(s) == 0)
		return;
	if (s->ev_header)
		event_del(s->ev_header);
	/* could an import start now?  (nothing is taken before a dump is seen) */
	code = s->cfg->admit ? s->cfg->admit(s->cfg->arg, s, 0, msg, sizeof(msg)) : SESSION_ADMIT;
	if (code != SESSION_ADMIT) {
		session_refuse_code(s, LOG_LEVEL_WARN, code, msg);
		return;
	}
	session_set_state(s, SESSION_PREDUMP);
	if (s->want_result && s->wire == NULL)
		evbuffer_add(bufferevent_get_output(s->bev), SESSION_RESULT_READY,
		             strlen(SESSION_RESULT_READY));
	if (s->cfg->idle_timeout > 0) {
		struct timeval tv = { s->cfg->idle_timeout, 0 };

		if (s->ev_idle == NULL)
			s->ev_idle = evtimer_new(s->cfg->base, session_on_idle, s);
		if (s->ev_idle != NULL)
			evtimer_add(s->ev_idle, &tv);
	}
	if (s->wire != NULL) {
		/* its startup is answered with the target's parameters: connect, run nothing */
		if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo,
		                   s->cfg->connect_timeout, session_on_target, s, s->who) < 0)
			session_fail(s, "%s\n  check --target, that the server runs, and its "
			             "pg_hba.conf", target_error(&s->target));
		return;
	}
	session_predump(s);
}

/*
 * The first bytes are a dump's: take the daemon's slot (--once counts it),
 * then the preflight on a target connection (a wire client's is open).
 */
static void
session_begin_import(struct session *s)
{
	enum session_admission code;
	char msg[512];

	if (s->ev_idle != NULL)
		event_del(s->ev_idle);
	code = s->cfg->admit ? s->cfg->admit(s->cfg->arg, s, 1, msg, sizeof(msg)) : SESSION_ADMIT;
	if (code != SESSION_ADMIT) {
		target_close(&s->target);
		session_refuse_code(s, LOG_LEVEL_WARN, code, msg);
		return;
	}
	s->admitted = 1;
	log_info(s->who, "a dump: the import starts");
	session_set_state(s, SESSION_CONNECT);
	if (s->wire != NULL) {
		session_preflight_start(s);
		return;
	}
	if (target_connect(&s->target, s->cfg->base, s->cfg->conninfo, s->cfg->connect_timeout,
	                   session_on_target, s, s->who) < 0)
		session_fail(s, "%s\n  check --target, that the server runs, and its pg_hba.conf",
		             target_error(&s->target));
}

/*
 * PREDUMP: is this a dump?  A raw stream's first decoded bytes go to
 * dumpstart_classify (and stay in plain[] for the lexer); a wire client's
 * messages to pgwire_predump.  Called on each client event until decided.
 */
static void
session_predump(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	enum dumpstart_kind k;
	char msg[700];
	int eof;

	if (s->state != SESSION_PREDUMP)
		return;
	if (s->wire != NULL) {
		if (s->target.state == TARGET_CONNECTING)
			return; /* ReadyForQuery comes with the target's parameters */
		switch (pgwire_predump(s->wire, in, bufferevent_get_output(s->bev))) {
		case PGWIRE_PRE_WAIT:
			if (s->client_eof) {
				log_info(s->who, "%s before sending a dump: nothing was done", s->client_why);
				target_close(&s->target);
				session_close_client(s);
			}
			return;
		case PGWIRE_PRE_DUMP:
			session_begin_import(s);
			return;
		case PGWIRE_PRE_CLOSE:
			log_info(s->who, "the client ended its session (Terminate) before sending a dump: "
			         "nothing was done");
			target_close(&s->target);
			s->client_eof = 1;
			session_close_client(s);
			return;
		case PGWIRE_PRE_REFUSE:
			target_close(&s->target);
			session_refuse(s, LOG_LEVEL_WARN, pgwire_error(s->wire));
			return;
		}
		return;
	}
	if (session_decode(s) < 0)
		return;
	eof = s->client_eof && evbuffer_get_length(in) == 0 && !decoder_pending(&s->dec);
	k = dumpstart_classify(s->plain, s->plain_end, eof);
	if (k == DUMPSTART_MORE)
		return;
	if (k == DUMPSTART_DUMP) {
		session_begin_import(s);
		return;
	}
	dumpstart_message(k, s->plain, s->plain_end, msg, sizeof(msg));
	session_refuse(s, k == DUMPSTART_EMPTY ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, msg);
}

void
session_start(struct session *s)
{
	struct timeval tv = { s->cfg->header_timeout, 0 };

	log_info(s->who, "client connected");
	s->tls_pending = tls_active(s->bev);
	s->tls_port = session_tls_port(s);
	if (s->tls_port)
		s->tls_pending = 1; /* the first byte says: TLS, or a PostgreSQL client */
	s->auth_pending = s->cfg->auth != NULL;
	if (!s->tls_port)
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if ((s->tls_pending || s->auth_pending) && s->cfg->header_timeout > 0) {
		s->ev_header = evtimer_new(s->cfg->base, session_on_header_timeout, s);
		if (s->ev_header == NULL || evtimer_add(s->ev_header, &tv) != 0) {
			session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
			return;
		}
	}
	if (s->tls_port) {
		s->ev_sniff = event_new(s->cfg->base, bufferevent_getfd(s->bev), EV_READ,
		                        session_on_presniff, s);
		if (s->ev_sniff == NULL || event_add(s->ev_sniff, NULL) != 0)
			session_refuse(s, LOG_LEVEL_ERROR, "out of memory");
		return;
	}
	session_handshake(s);
}

void
session_abort(struct session *s, const char *reason)
{
	if (s->state == SESSION_CLOSING)
		return;
	if (s->state == SESSION_AFTER) {
		session_close_client(s); /* the import has ended; its client is told no more */
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		session_refuse(s, LOG_LEVEL_INFO, reason);
		return;
	}
	/*
	 * COMMIT or ROLLBACK is in flight: let it end and report what it did
	 * (an error set now would report a rollback after a COMMIT went in).
	 */
	if (s->state == SESSION_FINISH || s->state == SESSION_UNLOCK)
		return;
	session_fail(s, "%s", reason);
}

void
session_evict(struct session *s, const char *reason)
{
	char line[600];
	int n;

	if ((s->state != SESSION_HANDSHAKE && s->state != SESSION_PREDUMP) || s->admitted)
		return;
	if (s->state == SESSION_PREDUMP)
		target_close(&s->target);
	if (s->wire == NULL && !s->tls_pending && !tls_active(s->bev)) {
		n = snprintf(line, sizeof(line), "ERROR %s\n", reason);
		if (n > 0 && (size_t)n < sizeof(line))
			(void)!send(bufferevent_getfd(s->bev), line, (size_t)n,
			            MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	/* freed now, not from the loop: a burst of accepts must find its place free */
	session_set_state(s, SESSION_CLOSING);
	s->released = 1;
	session_free_now(-1, 0, s);
}

int
session_importing(const struct session *s)
{
	return s->admitted && !s->ended;
}

void
session_describe(const struct session *s, char *buf, size_t size)
{
	struct tm tm;
	char since[16];

	localtime_r(&s->started, &tm);
	strftime(since, sizeof(since), "%H:%M:%S", &tm);
	snprintf(buf, size, "an import into %s from %s is running since %s",
	         s->dbname[0] ? s->dbname : "the target", s->peer_host, since);
}
