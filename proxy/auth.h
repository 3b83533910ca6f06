/*
 * auth.h - token authentication: the "AUTH <token>" line a stream must
 * begin with when serve runs with --token-file, and the slowing down of
 * addresses that keep getting it wrong.
 *
 * Kept apart from the session so that the secret, its comparison and the
 * per-address penalty table live in one small file with no libevent state
 * of their own (the session owns the timers; this module only says how
 * long to wait).
 *
 *   - The token is the first line of the token file (a trailing CR is
 *     dropped), 1 to AUTH_TOKEN_MAX bytes, no control characters.  The
 *     file must not be accessible by group or others (like ssh with a
 *     private key), or the daemon refuses to start.
 *   - The comparison is constant-time in the token's content and length:
 *     both sides are hashed with SHA-256 and the digests compared with
 *     CRYPTO_memcmp.
 *   - Penalties: each failure from an address doubles the time during
 *     which that address's next attempt is not even looked at (1 s, 2 s,
 *     4 s ... up to AUTH_PENALTY_MAX_S); a success clears it, and an
 *     address with no failure for AUTH_FORGET_S is forgotten.  The table
 *     holds at most AUTH_TABLE_SIZE addresses; when full, the one whose
 *     last failure is oldest is replaced.
 */
#ifndef PGSLUICE_AUTH_H
#define PGSLUICE_AUTH_H

#include <stddef.h>

#include <event2/buffer.h>

#define AUTH_TOKEN_MAX 4096          /* bytes of a token (pgsluice send's limit too) */
#define AUTH_LINE_MAX (AUTH_TOKEN_MAX + 8) /* "AUTH " + token + CRLF */
#define AUTH_TABLE_SIZE 256
#define AUTH_PENALTY_MAX_S 300
#define AUTH_FORGET_S 900

struct auth;
struct scram_secret;

/*
 * Load the token from path.  Returns NULL with a one-line reason in err
 * (unreadable, group/other access, empty, too long, control characters).
 * Load it before dropping privileges.
 */
struct auth *auth_load(const char *path, char *err, size_t size);

/*
 * Read the token alone (what auth_load checks: a private regular file,
 * first line, 1 to AUTH_TOKEN_MAX bytes, no control characters) into tok
 * (AUTH_TOKEN_MAX bytes), for pgsluice send.  Returns 0, or -1 with a
 * one-line reason in err.  The caller wipes tok after use.
 */
int auth_read_token(const char *path, char *tok, size_t *len, char *err, size_t size);

/* Forget the token (wiped) and the table.  a may be NULL. */
void auth_free(struct auth *a);

enum auth_result {
	AUTH_MORE = 0,  /* the line is not complete yet; nothing was drained */
	AUTH_OK = 1,    /* the token matched; the line was drained from in */
	AUTH_FAIL = -1, /* missing, malformed or wrong: why holds a one-line reason */
};

/*
 * The token as a SCRAM-SHA-256 secret (scram.h), made at auth_load, for
 * PostgreSQL-protocol clients (pgwire.h) that give the token as their
 * password.  Valid while a lives.
 */
const struct scram_secret *auth_scram(const struct auth *a);

/*
 * Look at the head of in for the AUTH line and check it.  Decides as soon
 * as it can: the first bytes are not "AUTH " (AUTH_FAIL at once), the line
 * passes AUTH_LINE_MAX without a newline (AUTH_FAIL), or the line is
 * complete (AUTH_OK or AUTH_FAIL).  eof: no more bytes will come.
 */
enum auth_result auth_check(const struct auth *a, struct evbuffer *in, int eof, char *why,
                            size_t size);

/*
 * Seconds (rounded up) before an attempt from host is looked at; 0: now.
 */
int auth_penalty(struct auth *a, const char *host);

/*
 * Record the outcome of an attempt from host.  A failure returns how many
 * failures host has now (for the log), a success 0.
 */
int auth_record(struct auth *a, const char *host, int ok);

#endif
