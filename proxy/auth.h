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
 *   - Rate: a wrong token costs its address one credit and the daemon
 *     one.  An address holds AUTH_ADDR_BURST credits and gets one back
 *     every AUTH_ADDR_EVERY_S; the daemon holds one second's worth of
 *     --auth-failure-rate.  An AUTH line is read whole, then waits until
 *     both its address and the daemon have a credit, and only then is it
 *     compared: a right token costs nothing and is let in at its turn, so
 *     failures from the sender's own address (NAT, a port-forward) slow
 *     the sender down but never refuse its token unread, while guesses
 *     from any number of addresses together get --auth-failure-rate
 *     answers a second.  The table holds at most AUTH_TABLE_SIZE
 *     addresses; an address whose credits are full again is forgotten,
 *     and when the table is full the one closest to full is replaced (the
 *     daemon's credit still counts its failures).
 */
#ifndef PGSLUICE_AUTH_H
#define PGSLUICE_AUTH_H

#include <stddef.h>

#include <event2/buffer.h>

#define AUTH_TOKEN_MAX 4096                /* bytes of a token (pgsluice send's limit too) */
#define AUTH_LINE_MAX (AUTH_TOKEN_MAX + 8) /* "AUTH " + token + CRLF */
#define AUTH_TABLE_SIZE 256
#define AUTH_ADDR_BURST 5              /* wrong tokens an address may send at once */
#define AUTH_ADDR_EVERY_S 1.0          /* ... and one more per this many seconds */
#define AUTH_DEFAULT_FAILURE_RATE 10.0 /* wrong tokens a second, all addresses */

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
 * Is the AUTH line complete at the head of in?  AUTH_OK: yes (nothing is
 * drained or compared); AUTH_MORE: not yet; AUTH_FAIL: it cannot be one
 * (not "AUTH ", too long, the stream ended), why says so.
 */
enum auth_result auth_line(struct evbuffer *in, int eof, char *why, size_t size);

/*
 * Look at the head of in for the AUTH line and check it.  Decides as soon
 * as it can: the first bytes are not "AUTH " (AUTH_FAIL at once), the line
 * passes AUTH_LINE_MAX without a newline (AUTH_FAIL), or the line is
 * complete (AUTH_OK or AUTH_FAIL).  eof: no more bytes will come.
 */
enum auth_result auth_check(const struct auth *a, struct evbuffer *in, int eof, char *why,
                            size_t size);

/*
 * Wrong tokens looked at per second, all addresses together (serve's
 * --auth-failure-rate; > 0).  The daemon's credits start full.
 */
void auth_set_failure_rate(struct auth *a, double per_second);

/*
 * Seconds before an AUTH attempt from host may be compared (0: now):
 * until host and the daemon each have a credit.  The caller compares only
 * at 0, and records the outcome with auth_record at once.
 */
double auth_wait(struct auth *a, const char *host);

/*
 * Record the outcome of an attempt from host.  A failure takes a credit
 * from host and one from the daemon, and returns how many failures host
 * has had since it was last forgotten (for the log); a success takes
 * nothing and returns 0.
 */
int auth_record(struct auth *a, const char *host, int ok);

#endif
