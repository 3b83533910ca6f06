/*
 * session_int.h - the import object's layout (struct session), shared by
 * the files that make up a session: session.c (states, the pump, failure
 * and wind-down), the parts split from it, and the sinks its dump goes
 * to (sink.h: sink_one.c, sink_jobs.c).  Not for use outside a session's
 * own files; everyone else goes through session.h.
 */
#ifndef PGSLUICE_SESSION_INT_H
#define PGSLUICE_SESSION_INT_H

#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "analyze.h"
#include "audit.h"
#include "client.h"
#include "front.h"
#include "jobs.h"
#include "lexer.h"
#include "lockwatch.h"
#include "log.h"
#include "pgerr.h"
#include "pgwire.h"
#include "pipeline.h"
#include "preflight.h"
#include "progwatch.h"
#include "report.h"
#include "rules.h"
#include "session.h"
#include "sink.h"
#include "synapse.h"
#include "target.h"
#include "text.h"
#include "verify.h"

#define SESSION_STMT_KEEP (1024 * 1024) /* statement buffers kept between statements */
#define SESSION_EXCERPT 200             /* characters of a statement in an error */
#define SESSION_WRITE_TIMEOUT_S 60      /* a client that does not read its summary */
#define SESSION_AUTH_HOLD_MAX_S \
	30                         /* an AUTH attempt waits its turn (auth_wait)
                                         * at most this long in all */
#define SESSION_SNIFF_GRACE_MS 300 /* wait this long for a first byte (wire or raw?) */
#define SESSION_ALIVE_MS \
	250                     /* the dump is all in and a statement runs: look
                                         * this often whether the client is still there, */
#define SESSION_ALIVE_SAY_S 1.0 /* ... and tell it this often what runs */

/*
 * HANDSHAKE's steps, in order (session_handshake); each may wait for the
 * client.  TLS is the transport's own wait beside them (client.h:
 * tls_pending): a TLS port's first byte asks for it, an SSLRequest in
 * STARTUP too.
 */
enum session_step {
	SESSION_STEP_PEEK,    /* a TLS port: the first byte, peeked (TLS or not?) */
	SESSION_STEP_SNIFF,   /* the first byte: raw stream or PostgreSQL client */
	SESSION_STEP_STARTUP, /* the front end's startup (a wire client's packets) */
	SESSION_STEP_AUTH,    /* the AUTH line or SCRAM, held by auth_wait */
	SESSION_STEP_OPTIONS, /* the raw client's RESULT request */
	SESSION_STEP_ADMIT,   /* the daemon's admission; then PREDUMP */
};

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

struct session {
	const struct session_config *cfg;
	uint64_t id;
	char who[112];
	char peer[80];
	char peer_host[64];
	time_t started;
	enum session_state state;
	int admitted;
	/* the client's protocol (front.h): front_raw until the first byte says otherwise */
	const struct front_ops *front;
	struct pgwire *wire;    /* front_wire's protocol object (pgwire.h) */
	enum session_step step; /* in HANDSHAKE: its step (session_set_step) */
	int tls_port;           /* TLS is configured and this is a TCP connection */
	struct event *ev_sniff; /* TLS port: the first byte (peeked); else a short grace */
	int peer_refused;       /* a connection was refused as busy during this import */
	int wire_trailer;       /* front_wire: a Query held pg_dump's trailer comment */
	uint64_t dump_tables;   /* CREATE TABLE statements of the dump forwarded */
	size_t target_tables;   /* tables the target schemas held (preflight 3) */
	int ended;              /* on_end was called */
	int released;           /* freeing is scheduled */

	struct client cl; /* the client's connection (client.h) */
	/* the handshake (TLS, AUTH line) and the client limits */
	int want_result;             /* the client asked for the RESULT line (session.h) */
	char fail_sqlstate[8];       /* the failing dump statement's SQLSTATE ("": none) */
	uint64_t fail_no, fail_line; /* and its number and line (0: no statement failed) */
	struct event *ev_header;     /* --header-timeout, while in HANDSHAKE */
	struct event *ev_auth;       /* an AUTH attempt waiting its turn (auth_wait) */
	double auth_held;            /* seconds it has waited so far */
	struct event *ev_idle;       /* --idle-timeout, while STREAM waits for the client */

	struct target target;
	char dbname[128];
	int locked;        /* we hold the import lock */
	int in_txn;        /* BEGIN succeeded (single transaction) */
	int sent_any;      /* a dump statement (or a DROP) reached the target */
	int finish_commit; /* FINISH: COMMIT (1) or ROLLBACK (0) */
	int committed;

	/* the dump stream: decoder, lexer, the rules' verdicts (pipeline.h) */
	struct pipeline pipe;
	struct rules rules;
	struct rules_options ropt;
	int rules_live; /* the rules are initialised (the stream began) */
	struct preflight_settings settings;
	struct preflight_objects objects;
	char *cleared; /* "173 tables, 21 sequences" dropped by --clear-target */
	struct report rep;
	struct synapse syn;         /* Synapse-aware checks (synapse.h) */
	struct verify ver;          /* checks before COMMIT (verify.h) */
	struct preflight_role role; /* the target role's standing */
	int role_results;           /* results of the ROLE step so far */
	int super_allowed;          /* a superuser target, --allow-superuser-target */
	char super_allowed_user[64];
	struct audit audit; /* role and database before the import (audit.h) */
	int auditing;       /* the audit query before COMMIT is in flight */
	int audited;        /* ... and it found nothing changed */

	struct pipeline_event pev; /* the event in hand, with its verdict */
	int ev_pending;            /* pev is taken but not yet done */
	int trim_due;              /* an event was done: trim the lexer once its results are in */
	int trailer;   /* the dump's end came: pg_dump's trailer, or the client's COMMIT */
	int skip_copy; /* COPY data of a statement that was dropped */
	int copy_open; /* a forwarded COPY takes the data */

	struct textbuf sql; /* a NUL-terminated copy of what is sent (text.h) */
	char *fixed;        /* a statement pgsluice rewrote itself */
	/* the statement in flight, for its error */
	uint64_t cur_no, cur_line;
	int cur_is_copy;
	char cur_excerpt[SESSION_EXCERPT * 4 + 8];
	char cur_tag[40]; /* the command tag of its last result */
	int txn_lost;     /* a dump statement ended the import's transaction */
	struct pgerr srv; /* the server's error for the command in flight */

	char *error;                   /* the first failure: the import fails */
	enum pgwire_failure error_why; /* what it was */
	int commit_unknown;            /* the target was lost while COMMIT was in flight */

	struct lockwatch lw;           /* who blocks the statement in flight; its cancel */
	struct progwatch progress;     /* index builds seen by the server (progwatch.h) */
	struct event *ev_stmt_timeout; /* --statement-timeout, re-armed by each dump statement */
	struct event *ev_alive;        /* SESSION_ALIVE_MS while STREAM */
	double alive_said;             /* when the last "running:" line was written */
	char lock_set[48];             /* "SET lock_timeout = '30s';" (--lock-timeout) */

	struct event *ev_progress, *ev_free;
	int in_pump, pump_again;

	/* where the dump's statements and COPY data go (sink.h) */
	const struct sink_ops *sink;
	/* --jobs N: the engine (jobs.h); these and vacuum_* are sink_jobs.c's */
	struct jobs *jobs;
	int jobs_complete; /* the trailer came: verify when the engine is idle */
	int jobs_ended;    /* jobs_end's SQL was sent */
	/* statistics after the data (analyze.h): 0 not yet, 1 running, 2 done */
	int analyze_step;
	enum analyze_pass vacuum_pass; /* --jobs: the pass being fed (analyze.h) */
	int vacuum_fed;     /* ... every statement of the pass was handed to the engine */
	size_t vacuum_next; /* ... the next table of the rules' list */
	int vacuum_behind;  /* ... the engine's items left when the phase began */
};

/* session.c: states, the setter, the pump, failure, sending */
void session_set_state(struct session *s, enum session_state st);
void session_set_step(struct session *s, enum session_step step);
void session_say(struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_sum(struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_fail(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_fail_stmt(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void session_lock_note(const struct session *s, char *buf, size_t size);
void session_stmt_timer(struct session *s);
void session_fail_statement(struct session *s);
int session_send_as(struct session *s, const char *sql, int dump);
int session_send(struct session *s, const char *sql);
void session_on_progress(evutil_socket_t fd, short what, void *arg);
void session_on_idle(evutil_socket_t fd, short what, void *arg);
void session_complete(struct session *s);
void session_pump_once(struct session *s);
void session_pump(struct session *s);
int session_peer_state(struct session *s);
void session_on_alive(evutil_socket_t fd, short what, void *arg);

/* session_handshake.c: sniffing, TLS, AUTH, refusals, admission */
void session_take_tls(struct session *s, int answer_s);
void session_on_presniff(evutil_socket_t fd, short what, void *arg);
void session_refuse(struct session *s, enum log_level level, const char *msg);
void session_on_header_timeout(evutil_socket_t fd, short what, void *arg);
void session_handshake(struct session *s);
void session_predump(struct session *s);
void session_begin_import(struct session *s);

/* session_stream.c: the pipeline's events (pipeline.h) through to the target */
int session_pipeline_init(struct session *s);
void session_pipeline_fail(struct session *s);
int session_next_event(struct session *s);
int session_handle(struct session *s);
int session_copy_ending(struct session *s, const struct lexer_event *ev);

/* session_steps.c: the import's steps on the target */
const char *session_txn_lost_state(const struct session *s);
void session_preflight_start(struct session *s);
void session_start_stream(struct session *s);
void session_on_target(void *arg, enum target_event ev, PGresult *res);

/* session_finish.c: after the data: replacement check, ANALYZE, verify */
const char *session_no_analyze(const struct session *s);
void session_verify_next(struct session *s);

/* session_end.c: wind-down, the result, the summary, freeing */
void session_wind_down(struct session *s);
void session_free_now(evutil_socket_t fd, short what, void *arg);
void session_release(struct session *s);
void session_close_client(struct session *s);
void session_report(struct session *s);

#endif
