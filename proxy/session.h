/*
 * session.h - one client connection = one import.
 *
 * A session owns the client's bufferevent (a plain socket, or a
 * bufferevent_openssl made by tls.c: the session only reads and writes
 * through the bufferevent, and asks tls.c what TLS changes), the decoder,
 * lexer and rules of the
 * dump, and its own target connection.  It runs on the daemon's event loop
 * and never blocks.
 *
 * States (session_set_state is the one place that changes them):
 *
 *   HANDSHAKE  the TLS handshake (BEV_EVENT_CONNECTED), then the
 *              "AUTH <token>" line when a token is configured (auth.h:
 *              checked, or held by its address's penalty), both within
 *              --header-timeout; then the daemon's admit callback is asked
 *              whether an import could start (another one runs: refused).
 *   PREDUMP    the first bytes must be a dump's (dumpstart.h for a raw
 *              stream; the first statements for a PostgreSQL client, for
 *              which the target is connected first, running nothing, to
 *              answer its startup with the target's parameters: see
 *              pgwire.h).  A probe, a SELECT, an archive, a client that
 *              sends nothing is told what pgsluice takes and closed: no
 *              admission, no --once count, nothing reaches the target.
 *              Recognised: the admit callback takes the daemon's slot.
 *   CONNECT    the target connection is being opened
 *   LOCK       preflight 1: the advisory import lock, current database
 *   SETTINGS   preflight 2: names in pg_settings, handed to the rules
 *   SYNAPSE    preflight 2b: the target database's encoding and locale, and
 *              its Synapse schema version if it has one (synapse.h)
 *   OBJECTS    preflight 3: what the target schemas hold (refusal if not
 *              cleared and no --clear-target)
 *   BEGIN      BEGIN (single transaction) and the --clear-target DROPs
 *   STREAM     client bytes -> decoder -> lexer -> rules -> target, one
 *              lexer event at a time, as fast as the target takes them
 *   VERIFY     after the trailer, before COMMIT: sequences as the dump set
 *              them (verify.h); a mismatch fails the import
 *   FINISH     COMMIT (after the trailer) or ROLLBACK (after an error)
 *   UNLOCK     the import lock is released
 *   AFTER      a PostgreSQL-protocol client (pgwire.h) was told the outcome
 *              and is answered until its Terminate (--idle-timeout bounds it)
 *   CLOSING    the summary was written; the client's output drains, then
 *              the connection is closed (lingering: input is discarded
 *              until the client closes or a timeout, so it reads it all)
 *
 * Any failure goes through one function, session_fail(reason), which
 * records the first reason and winds the target down (end a COPY, wait for
 * a statement in flight, ROLLBACK, unlock) before the ERROR summary.  A
 * statement still running half a second later is cancelled from a second,
 * short-lived connection (probe.h: pg_cancel_backend, as PQcancel would
 * block the loop).  A statement that runs for half of --lock-timeout is
 * watched from one too (pg_blocking_pids), so that a lock timeout names the
 * session that held the lock.
 */
#ifndef PGSLUICE_SESSION_H
#define PGSLUICE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cli.h"

struct auth;
struct session;
struct ssl_ctx_st;

enum session_admission {
	SESSION_ADMIT = 0,
	SESSION_REFUSE_BUSY,        /* another import is running */
	SESSION_REFUSE_UNAVAILABLE, /* shutting down, or --once has served its import */
};

/*
 * A raw client may send this line first (after its AUTH line, if any):
 * the answer then ends with one more line, "RESULT " and the import's
 * result as one JSON object (jsonout.h).  pgsluice send --json and --wait
 * do.  Such a client is also told when it may send its dump: the line
 * "READY" once the daemon would admit an import (another client can still
 * take the slot first), or, when it is refused before any import, the
 * ERROR line and "RESULT {"verdict": "refused", "reason": "busy" |
 * "unavailable", "message": ...}".
 */
#define SESSION_RESULT_REQUEST "RESULT json\n"
#define SESSION_RESULT_READY "READY\n"

struct jsonout_import;
struct json_t;

struct session_config {
	struct event_base *base;
	const char *conninfo;       /* --target */
	const char *const *schemas; /* --schema (at least one) */
	int n_schemas;
	int clear_target;              /* --clear-target */
	double progress_interval;      /* seconds; <= 0: none */
	int quiet;                     /* --quiet: no progress lines */
	const struct cli_rules *rules; /* rule options; single_transaction too */
	int connect_timeout;           /* seconds for the target connection */
	int synapse;                   /* enum synapse_mode: --synapse/--no-synapse */
	int force_schema_version;      /* --force-schema-version */
	int force_replace;             /* --force-replace: no "is it its replacement?" check */
	int no_analyze;                /* --no-analyze: no ANALYZE (nor VACUUM's) of the tables */
	int lock_timeout;              /* --lock-timeout: seconds a statement may wait
	                                  for a lock (lock_timeout); 0: no limit */
	int jobs;                      /* --jobs N: N > 1 hands the dump to jobs.h */
	int allow_superuser_target;    /* --allow-superuser-target: else a superuser
	                                  target is refused at preflight */
	int statement_timeout;         /* --statement-timeout: seconds one dump
	                                  statement may run on the target; 0: no limit */
	int verbose;                   /* --verbose: the summary lists every table's rows */
	const char *target_desc;       /* where --target leads (connhint_describe) */

	/* the handshake and the limits on what a client may send */
	struct auth *auth;          /* --token-file: the AUTH line; NULL: none */
	struct ssl_ctx_st *tls_ctx; /* --tls-cert: TCP clients speak TLS, raw at once or
	                                * after a PostgreSQL SSLRequest; NULL: none */
	int header_timeout;         /* s for the TLS handshake and AUTH line (0: none) */
	int idle_timeout;           /* s without a client byte while the import
	                                * waits for one: rolled back (0: none) */
	size_t max_meta_line;       /* bytes of one psql meta-command line */
	double max_gzip_ratio;      /* plain/compressed bytes allowed before the
	                                * first statement (0: no limit) */

	/*
	 * Admission.  Called with take 0 when the handshake is done (may an
	 * import start now? nothing is taken), and with take 1 once the first
	 * bytes are recognised as a dump (the import takes the daemon's one
	 * slot and counts for --once).  Returns SESSION_ADMIT, or a refusal
	 * code with a one-line message in msg (sent after "ERROR ").
	 */
	enum session_admission (*admit)(void *arg, struct session *s, int take, char *msg,
	                                size_t size);
	/* The import has ended (target closed); committed: 1 if it did. */
	void (*on_end)(void *arg, struct session *s, int committed);
	/*
	 * The import's result, after its summary (before on_end): res and its
	 * JSON form obj (jsonout.h) are valid during the call only.  May be NULL.
	 */
	void (*on_result)(void *arg, struct session *s, const struct jsonout_import *res,
	                  const struct json_t *obj);
	/* The session is about to be freed (client closed). */
	void (*on_free)(void *arg, struct session *s);
	void *arg;
};

/*
 * A session for an accepted client.  bev is taken over (freed with the
 * session); peer is the client's address for logs and messages.  Returns
 * NULL on out of memory (bev is then freed).  cfg must outlive the session.
 */
struct session *session_new(const struct session_config *cfg, struct bufferevent *bev,
                            const char *peer, uint64_t id);

/* Begin: handshake, admission, then the import. */
void session_start(struct session *s);

/*
 * Stop an import in flight (the daemon is shutting down): rolled back, the
 * client is told reason.  A session that is already closing is left to
 * finish closing.
 */
void session_abort(struct session *s, const char *reason);

/*
 * Close a client that has not authenticated (HANDSHAKE, or PREDUMP before
 * its dump begins) at once, without lingering: the daemon needs its place
 * (connlimits.h).  A raw client gets "ERROR reason" if the socket takes it
 * now.  The session is freed (on_free called) before this returns, so it
 * must not be called from a callback of s's own (serve calls it from the
 * accept callback).  Any other state: nothing.
 */
void session_evict(struct session *s, const char *reason);

/* 1 while the session is an admitted import that has not ended. */
int session_importing(const struct session *s);

/* "an import into synapse from 10.0.0.5 is running since 12:03:11" */
void session_describe(const struct session *s, char *buf, size_t size);

/*
 * A connection that came while running's import ran was refused as busy:
 * remembered, so that running's rollback at its client's Terminate can
 * name the likely cause (psql's \\connect of a pg_dump -C dump).
 */
void session_note_refused_peer(struct session *running);

/* "#3 10.0.0.5:51234", for logs */
const char *session_who(const struct session *s);

/* The import's figures so far (report.h), for the daemon's status surface. */
const struct report *session_progress(const struct session *s);

#endif
