/*
 * pgwire.h - the PostgreSQL wire protocol (version 3.0) as a front end of
 * an import, so that psql, pg_restore and any client's COPY FROM STDIN
 * can push a dump through the same session as a raw stream.
 *
 * Kept apart from the session so that the session's import machinery
 * (lexer, rules, target, preflight, verify, report) stays the one import
 * path: this module only turns protocol messages into the plain bytes the
 * lexer reads, and the session's events into protocol answers.  It owns no
 * bufferevent, no socket and no target connection: every call gets the
 * client's input and output evbuffers, and says what the session must do.
 *
 * A connection whose first byte is 0x00 is a wire client (a raw dump
 * starts with text or 1f 8b, a TLS client with 0x16).  Its life, with the
 * session's states:
 *
 *   HANDSHAKE  pgwire_startup: SSLRequest (answered 'S' by the session,
 *              which then starts TLS on the socket, or 'N'),
 *              GSSENCRequest ('N'), CancelRequest (closed quietly), the
 *              StartupMessage (3.0; NegotiateProtocolVersion for a newer
 *              minor).  Then pgwire_auth when a token is configured:
 *              SCRAM-SHA-256 with the token as the password (scram.h).
 *              AuthenticationOk.  A refusal (pgwire_refuse) is a FATAL
 *              ErrorResponse.
 *   PREDUMP    the session connects the target (and runs nothing on it):
 *              pgwire_ready: ParameterStatus (from the target),
 *              BackendKeyData, ReadyForQuery.  pgwire_predump answers
 *              what comes before the dump (BEGIN, pg_restore's set_config)
 *              and refuses what is not a dump, until the first statement
 *              of one: only then is the import admitted.
 *   CONNECT..BEGIN  the preflight; the client waits for the answer to its
 *              first dump Query.  A failure becomes a FATAL ErrorResponse
 *              (pgwire_after), and the connection is closed.
 *   STREAM     pgwire_refill gives the
 *              lexer the text of each Query and the bytes of each CopyData;
 *              the session applies the rules and tells this module about
 *              every statement (pgwire_statement: absorbed BEGIN/COMMIT,
 *              NoticeResponse for a dropped one, refusals), every result
 *              (pgwire_result: RowDescription/DataRow, CommandComplete)
 *              and every COPY that starts (pgwire_copy_in: CopyInResponse).
 *   after the import (session state AFTER)  pgwire_after: the outcome
 *              (CommandComplete COMMIT with the summary as a notice, or the
 *              ErrorResponse), then pgwire_after_read answers what the
 *              client still sends until its Terminate.
 *
 * The import commits only at the COMMIT that matches the outermost BEGIN,
 * which the client sent before any statement of the dump (psql -1,
 * pg_restore -1); BEGIN/COMMIT pairs inside it (a dump's large objects)
 * nest.  That COMMIT is answered only once pgsluice's own COMMIT on the
 * target is done, so the client learns how the import ended.  Terminate,
 * or a lost connection, with the transaction open is a rollback, as
 * PostgreSQL does; a dump whose statements come outside a BEGIN (psql
 * without -1) is refused.
 */
#ifndef PGSLUICE_PGWIRE_H
#define PGSLUICE_PGWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <libpq-fe.h>

#include "auth.h"
#include "lexer.h"
#include "rules.h"

#define PGWIRE_STARTUP_MAX 10000              /* bytes of a startup packet (as PostgreSQL) */
#define PGWIRE_SMALL_MAX (64 * 1024)          /* bytes of any message but Query and CopyData */
#define PGWIRE_COPYDATA_MAX ((size_t)1 << 30) /* bytes of one CopyData message */
#define PGWIRE_MAX_ROWS 1000                  /* rows of a result relayed to the client */

struct pgwire;

struct pgwire_config {
	int tls_available;                /* an SSLRequest may be answered 'S' */
	int tls_required;                 /* a StartupMessage outside TLS is refused */
	const struct scram_secret *scram; /* the token as a password; NULL: no password */
	size_t max_query;                 /* bytes of one Query message (--max-statement) */
	const char *who;                  /* log prefix, owned by the caller */
};

/* A wire front end; NULL on out of memory.  cfg is copied. */
struct pgwire *pgwire_new(const struct pgwire_config *cfg);
void pgwire_free(struct pgwire *w);

/* ---- startup and authentication (session state HANDSHAKE) ---------- */

enum pgwire_startup_result {
	PGWIRE_START_WAIT = 0, /* more bytes needed */
	PGWIRE_START_DONE,     /* the StartupMessage is in: authenticate, admit */
	PGWIRE_START_TLS,      /* an SSLRequest to answer 'S': the session writes the
	                         * 'S', starts TLS, then calls pgwire_tls_started */
	PGWIRE_START_CLOSE,    /* a CancelRequest: close without a word */
	PGWIRE_START_FAIL,     /* refused: pgwire_error() says why; call pgwire_refuse */
};

/*
 * Read the startup packets from in (answers such as 'N' go to out).  eof:
 * no more bytes will come.  After START_DONE the parameters are known
 * (pgwire_param) and, when no password is asked (cfg->scram NULL),
 * AuthenticationOk has been written.
 */
enum pgwire_startup_result pgwire_startup(struct pgwire *w, struct evbuffer *in,
                                          struct evbuffer *out, int eof);

/* The session started TLS after an 'S': the StartupMessage comes next. */
void pgwire_tls_started(struct pgwire *w);

/*
 * The SCRAM exchange (cfg->scram set), one step per call, as auth_check
 * for the AUTH line: AUTH_MORE (waiting for the client), AUTH_OK
 * (AuthenticationOk written), AUTH_FAIL (why holds the reason).
 */
enum auth_result pgwire_auth(struct pgwire *w, struct evbuffer *in, struct evbuffer *out, char *why,
                             size_t size);

/* Why a connection is refused: the SQLSTATE and hint of its FATAL ErrorResponse. */
enum pgwire_refusal {
	PGWIRE_REFUSE_DEFAULT = 0, /* by the phase: 08P01 startup, 28P01 auth, else 57P03 */
	PGWIRE_REFUSE_PROTOCOL,    /* a protocol violation (08P01) */
	PGWIRE_REFUSE_BUSY,        /* another import runs (53300, with the pg_dump -C hint) */
	PGWIRE_REFUSE_UNAVAILABLE, /* shutting down, or --once has served (57P03) */
	PGWIRE_REFUSE_NOT_SINGLE,  /* the dump comes outside BEGIN (psql without -1; 0A000) */
	PGWIRE_REFUSE_NOT_DUMP,    /* what came before the dump is not one (0A000) */
};

/*
 * A refusal (admission, authentication, a timeout, a bad packet, a
 * session that is not an import): a FATAL ErrorResponse with msg (its
 * first line as the message, the rest as detail) is written to out.
 */
void pgwire_refuse(struct pgwire *w, struct evbuffer *out, enum pgwire_refusal why,
                   const char *msg);

/* What the last PGWIRE_PRE_REFUSE or PGWIRE_ST_REFUSE refused. */
enum pgwire_refusal pgwire_refusal(const struct pgwire *w);

/* A startup parameter ("user", "database", "application_name"), or NULL. */
const char *pgwire_param(const struct pgwire *w, const char *name);

/* The last error of pgwire_startup/pgwire_refill, one line or more. */
const char *pgwire_error(const struct pgwire *w);

/* ---- before the dump (session state PREDUMP) ------------------------ */

/*
 * The session has connected the target (nothing is run on it yet):
 * ParameterStatus (values from conn), BackendKeyData, ReadyForQuery.
 */
void pgwire_ready(struct pgwire *w, struct evbuffer *out, PGconn *conn);

enum pgwire_predump_result {
	PGWIRE_PRE_WAIT = 0, /* what came is answered; wait for more */
	PGWIRE_PRE_DUMP,     /* the next Query (left in the input) starts the dump */
	PGWIRE_PRE_CLOSE,    /* Terminate before any dump: nothing happened */
	PGWIRE_PRE_REFUSE,   /* pgwire_error() says why, pgwire_refusal() the code */
};

/*
 * Before the dump: read what the client sends and answer what is not a
 * dump without running anything.  A Query's first statement decides:
 *
 *   BEGIN / START TRANSACTION alone   answered; the client's transaction
 *                                     is open (psql -1 sends it first)
 *   COMMIT / ROLLBACK alone           answered; closed again
 *   only comments                     EmptyQueryResponse (pg_restore's header)
 *   SELECT pg_catalog.set_config('search_path', '', false) alone
 *                                     answered with '' (pg_restore sends it
 *                                     when it connects, before its BEGIN;
 *                                     the dump sets it again itself)
 *   SELECT pg_catalog.pg_is_in_recovery() alone
 *                                     answered from the target's
 *                                     in_hot_standby (pg_restore asks)
 *   SET ..., SELECT ...set_config(...), BEGIN with more statements
 *                                     the dump starts: PGWIRE_PRE_DUMP, or
 *                                     PGWIRE_PRE_REFUSE (NOT_SINGLE) when
 *                                     no BEGIN of the client is open
 *   anything else (SELECT 1, psql's \dt query, a custom archive's bytes)
 *                                     an ERROR saying what pgsluice takes,
 *                                     ReadyForQuery; nothing is run
 *
 * Terminate is PGWIRE_PRE_CLOSE.  The extended protocol and function calls
 * get an ERROR (skipped up to Sync); COPY messages and unknown ones are a
 * protocol violation (PROTOCOL).
 */
enum pgwire_predump_result pgwire_predump(struct pgwire *w, struct evbuffer *in,
                                          struct evbuffer *out);

/* ---- the import (session state STREAM) ------------------------------ */

enum pgwire_input {
	PGWIRE_IN_FAIL = -1,     /* the import fails: pgwire_error(); fatal if
	                         * pgwire_fatal() (a protocol error: the client is
	                         * closed after its ErrorResponse) */
	PGWIRE_IN_WAIT = 0,      /* nothing now: wait for the client */
	PGWIRE_IN_DATA = 1,      /* *produced plain bytes are in buf */
	PGWIRE_IN_TERMINATE = 2, /* Terminate: the client left with its transaction
	                          * open, before its COMMIT: a rollback */
};

/*
 * The next plain bytes for the lexer: the text of a Query, the bytes of a
 * CopyData, and the short tails that end a Query's last statement (";")
 * or a COPY ("\." line) as a raw dump would.  Call only when the lexer
 * has taken all bytes given before and the target is ready (every
 * statement given so far has been answered): ReadyForQuery is written
 * here, when a Query is wholly done.  lx is read, never changed.
 */
enum pgwire_input pgwire_refill(struct pgwire *w, struct evbuffer *in, struct evbuffer *out,
                                const struct lexer *lx, char *buf, size_t cap, size_t *produced);

/* Bytes of protocol input so far (for the progress and summary lines). */
uint64_t pgwire_bytes(const struct pgwire *w);

/* 1 if the last PGWIRE_IN_FAIL or PGWIRE_ST_REFUSE was a protocol error. */
int pgwire_fatal(const struct pgwire *w);

/*
 * 1 if a statement is the client library's own, not the dump's: libpq's
 * lookup of the large-object functions (lo_initialize, before pg_restore's
 * first lo_open), which reads pg_proc only.  The session relays it without
 * the rules, which judge what a dump may do.
 */
int pgwire_client_query(const struct lexer_event *ev);

enum pgwire_statement_result {
	PGWIRE_ST_GO = 0, /* go on as for a raw stream (forward, drop, ...) */
	PGWIRE_ST_END,    /* the client's COMMIT that ends the import: commit
	                         * (its answer waits for pgwire_after) */
	PGWIRE_ST_REFUSE, /* the import fails: why says it */
};

/*
 * A statement from the lexer with the rules' verdict, before the session
 * acts on it.  Answers what the target will not (absorbed BEGIN/COMMIT,
 * NoticeResponse + CommandComplete for a dropped statement) and refuses
 * what an import does not need (ROLLBACK, a SELECT that reads tables).
 * in_copy: the statement is a COPY FROM STDIN.
 */
enum pgwire_statement_result pgwire_statement(struct pgwire *w, struct evbuffer *out,
                                              const struct lexer_event *ev,
                                              const struct rules_verdict *v, int in_copy, char *why,
                                              size_t size);

/*
 * A result of a forwarded statement (before it is freed): rows and
 * CommandComplete go to the client; an error's fields are kept for the
 * ErrorResponse that pgwire_after writes.
 */
void pgwire_result(struct pgwire *w, struct evbuffer *out, const PGresult *res);

/* The target took a COPY FROM STDIN: CopyInResponse. */
void pgwire_copy_in(struct pgwire *w, struct evbuffer *out);

/* What a line the session tells its client is. */
enum pgwire_say {
	PGWIRE_SAY_NOTE = 0, /* a warning, an explain line: a NoticeResponse */
	PGWIRE_SAY_PROGRESS, /* a progress line: left to the log */
	PGWIRE_SAY_SUMMARY,  /* a line of the summary: kept for pgwire_after */
};

/*
 * A line the session tells its client (session_say), of kind kind.  Once
 * a SUMMARY line came, every later line but progress joins the summary.
 * NOTE lines before the client has a session (the preflight) are left to
 * the log.
 */
void pgwire_say(struct pgwire *w, struct evbuffer *out, enum pgwire_say kind, const char *line);

/* ---- the end --------------------------------------------------------- */

/* What an import's failure was, for the ErrorResponse that reports it. */
enum pgwire_failure {
	PGWIRE_FAIL_OTHER = 0, /* the session's own check, a lost connection, ... */
	PGWIRE_FAIL_STATEMENT, /* a statement of the dump failed or was refused: the
	                         * server's error of it (pgwire_result), if one came,
	                         * is the ErrorResponse, the session's text its context */
};

/*
 * The import has ended (target closed, summary said).  committed: it
 * committed; error: the failure, or NULL, and why what it was.  Writes
 * the outcome to out.  Returns 1 when the client is to be answered on
 * (pgwire_after_read until it sends Terminate), 0 when the connection is
 * to be closed now.
 */
int pgwire_after(struct pgwire *w, struct evbuffer *out, int committed, const char *error,
                 enum pgwire_failure why);

/*
 * After the import: answer what the client sends (errors, ReadyForQuery).
 * Returns 1 to go on reading, 0 to close (Terminate, protocol error).
 */
int pgwire_after_read(struct pgwire *w, struct evbuffer *in, struct evbuffer *out);

#endif
