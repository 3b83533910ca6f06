/*
 * front.h - a session's front end: the protocol its client speaks, as an
 * ops table the session calls at each point where the two differ.
 *
 *   front_raw   (front_raw.c)  the raw stream of nc, socat and pgsluice
 *                              send: an optional "AUTH token" line and
 *                              "RESULT json" request, then the dump's bytes
 *                              (plain or compressed); text lines back
 *   front_wire  (front_wire.c) the PostgreSQL protocol of psql and
 *                              pg_restore (pgwire.h): startup, SCRAM with
 *                              the token, the dump as Query and CopyData
 *                              messages; notices and an ErrorResponse or
 *                              CommandComplete back
 *
 * A session starts on front_raw; the first byte (0x00: a startup packet)
 * moves it to front_wire (front_wire_begin) before anything is read.
 * Every member is set in both tables.  The members are called from the
 * session's loop (never from inside another member), with the session's
 * state as the comment of each says; "1 / 0 / -1" is done / wait for more
 * client bytes (the member is called again on the next input) / the
 * session was refused or failed (the member did that itself).
 */
#ifndef PGSLUICE_FRONT_H
#define PGSLUICE_FRONT_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auth.h"
#include "lexer.h"
#include "log.h"
#include "pgwire.h"
#include "rules.h"
#include "session.h"

struct front_ops {
	const char *name; /* for the log: "raw stream", "PostgreSQL protocol" */
	/* what --header-timeout says did not come: "no complete AUTH line" */
	const char *awaited;

	/* ---- properties ---- */
	unsigned bulk_reads : 1;       /* STREAM reads the plain socket in bulk (client.h) */
	unsigned may_jobs : 1;         /* serve --jobs N takes its dump */
	unsigned probes_peer : 1;      /* a reset seen on the socket (TCP_INFO) while a
	                                * statement runs or before COMMIT fails the import:
	                                * its client closes only its sending side at the end */
	unsigned eof_abandons : 1;     /* an EOF while a statement runs means nobody is left
	                                * to hear the outcome: cancel it */
	unsigned keeps_event_text : 1; /* a lexer event's text stays in the lexer's
	                                * NUL-terminated buffer until its results are in
	                                * (session_forward sends it from there) */
	unsigned plain_sql : 1;        /* its bytes are SQL as they are: the pipeline never
	                                * decompresses them (pipeline_config.plain_only) */
	unsigned ends_at_trailer : 1;  /* pg_dump's trailer ends its dump: nothing may
	                                * follow it, and an end without it is a cut */

	/* ---- at any time ---- */
	/* A line to the (present) client, kind for a client that sorts lines. */
	void (*say)(struct session *s, enum pgwire_say kind, const char *fmt, va_list ap);
	/*
	 * Refused before the import began (code: an admission refusal, or
	 * SESSION_ADMIT for any other): log it at level and tell the client;
	 * the session closes the connection after.
	 */
	void (*refuse)(struct session *s, enum log_level level, enum session_admission code,
	               const char *msg);
	/* Evicted in HANDSHAKE or PREDUMP: a last word sent without waiting, if any. */
	void (*evict)(struct session *s, const char *reason);
	/* The session is freed: the front end's own state too. */
	void (*free)(struct session *s);

	/* ---- HANDSHAKE ---- */
	/* TLS runs on the connection now (client_take_tls succeeded). */
	void (*tls_started)(struct session *s);
	/* The protocol's own startup before AUTH.  1 / 0 / -1. */
	int (*startup)(struct session *s);
	/*
	 * Is a complete AUTH attempt in?  AUTH_MORE: wait; AUTH_FAIL: why says
	 * what is wrong with it (answered at once, no credit spent); AUTH_OK:
	 * it is complete, auth_check may compare it.
	 */
	enum auth_result (*auth_peek)(struct session *s, char *why, size_t size);
	/* Compare the attempt with the token (its turn has come: auth_wait). */
	enum auth_result (*auth_check)(struct session *s, char *why, size_t size);
	/* The client's requests after AUTH (the RESULT line).  1 / 0. */
	int (*options)(struct session *s);
	/* Admitted, now PREDUMP: answer the client and look for the dump. */
	void (*admitted)(struct session *s);

	/* ---- PREDUMP ---- */
	/* The target connection opened in PREDUMP (for its parameters). */
	void (*connected)(struct session *s);
	/* Is this a dump?  Calls session_begin_import, or refuses, or waits. */
	void (*predump)(struct session *s);
	/* The import begins (CONNECT): on to the preflight. */
	void (*connect)(struct session *s);

	/* ---- STREAM ---- */
	/*
	 * The pipeline has used up what it holds (PIPELINE_MORE): feed it
	 * from the client's input (nothing, if none is in).  0, or -1 failed.
	 */
	int (*refill)(struct session *s);
	/* The trailer was seen: has the input also ended as it must?  1 / 0. */
	int (*input_complete)(struct session *s);
	/* The input ended before the dump did (where: the lexer's place, why: more). */
	void (*truncated)(struct session *s, const char *where, const char *why);
	/* A statement the client itself runs (v set, the rules skipped).  1 / 0. */
	int (*own_statement)(struct session *s, const struct lexer_event *ev,
	                     struct rules_verdict *v);
	/*
	 * A statement after its verdict: 1 the session forwards it as the
	 * verdict says; 0 it is done (the import may end here); -1 failed.
	 */
	int (*statement)(struct session *s, const struct lexer_event *ev,
	                 const struct rules_verdict *v, int in_copy);
	/* pg_dump's trailer line came. */
	void (*trailer)(struct session *s, const struct lexer_event *ev);
	/* A result of a dump statement from the target (no error so far). */
	void (*server_result)(struct session *s, PGresult *res);
	/* The target takes COPY data now (no error so far). */
	void (*copy_in)(struct session *s);

	/* ---- the end ---- */
	/* The result as JSON (session.h), for a present client that wants it. */
	void (*outcome)(struct session *s, json_t *obj);
	/* Lines of its own after the OK line of a summary. */
	void (*summary)(struct session *s, enum log_level level);
	/* The summary is written: 1 close the client; 0 it is answered on (AFTER). */
	int (*after)(struct session *s);
	/* Client input in AFTER. */
	void (*after_input)(struct session *s);
};

extern const struct front_ops front_raw;
extern const struct front_ops front_wire;

/*
 * The first byte is a PostgreSQL client's: move the session to front_wire
 * (the protocol object, the handshake's time limit).  1, or -1 refused.
 */
int front_wire_begin(struct session *s);

#endif
