/*
 * client.h - the client side of one connection: the transport under a
 * session, as pgbouncer's sbuf is under its clients.
 *
 * It owns the client's bufferevent (plain, or TLS through tls.h, taken
 * over on the same socket after an SSLRequest or a TLS port's first
 * byte), reads a plain socket in bulk while the session streams, turns
 * every end of the connection (EOF, an error, a TLS failure, a write
 * timeout) into one reason, and closes gracefully: the output is let
 * drain, a client that may still be sending is read and discarded until
 * it closes (a linger), and one that had closed is checked for a reset.
 * It knows nothing of imports: what the bytes mean is the session's.
 *
 * The session is told through struct client_events, each called from the
 * event loop (on_closed also from inside client_close, for a client that
 * is gone):
 *
 *   on_input   bytes arrived (client_in), or the socket is readable in bulk
 *              mode; not called once client_close was called
 *   on_tls     the TLS handshake is done (tls_pending is 0 now)
 *   on_end     the client ended (eof set; gone when it cannot be written
 *              to either; why says how); not called once client_close was
 *              called
 *   on_closed  client_close is done: the session may be freed (it calls
 *              client_stop, then frees the client from the loop)
 */
#ifndef PGSLUICE_CLIENT_H
#define PGSLUICE_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct client_events {
	void (*on_input)(void *arg);
	void (*on_tls)(void *arg);
	void (*on_end)(void *arg);
	void (*on_closed)(void *arg);
};

struct client {
	struct event_base *base;
	const char *who; /* log prefix, owned by the caller */
	const struct client_events *cb;
	void *arg;
	struct bufferevent *bev;
	int plain_socket; /* bev reads a socket itself (no TLS, no filter) */
	int tls_pending;  /* a TLS handshake is under way (or the first byte will say) */
	int eof;          /* no more bytes will come */
	int gone;         /* nor can we write to it */
	char why[128];    /* how it ended, for messages */

	int closing; /* client_close was called */
	int lingering;
	int left_logged; /* "client left before the answer" was logged */
	struct event *ev_left, *ev_linger;

	/* bulk mode: the client's socket read here, not by the bufferevent */
	int bulk;
	struct event *ev_read;     /* the socket is readable (one shot) */
	struct event *ev_coalesce; /* a short read: wait a moment for more (one shot) */
	ssize_t last_read;         /* bytes the last read took; 0: none were there */
	char *raw;                 /* CLIENT_BULK_READ bytes read, not yet taken */
	size_t raw_start, raw_end;
};

/* Take bev (freed with the client, also when this fails).  -1: out of memory. */
int client_init(struct client *c, struct event_base *base, struct bufferevent *bev, const char *who,
                const struct client_events *cb, void *arg) __attribute__((warn_unused_result));

/* Free what the client holds (the bufferevent closes the socket). */
void client_free(struct client *c);

/* Disable the bufferevent and its callbacks: nothing is called after this. */
void client_stop(struct client *c);

struct evbuffer *client_in(const struct client *c);
struct evbuffer *client_out(const struct client *c);

/* The socket (-1 when none). */
evutil_socket_t client_fd(const struct client *c);

/* 1 if the connection is a TCP one without TLS yet on a daemon with TLS (ctx set). */
int client_tls_port(const struct client *c, SSL_CTX *ctx);

enum client_tls {
	CLIENT_TLS_OK = 0, /* the TLS handshake is under way (tls_pending) */
	CLIENT_TLS_LEFT,   /* the client left before its 'S' was written */
	CLIENT_TLS_FAILED, /* TLS could not be set up here (descriptors, memory) */
};

/*
 * Go on over TLS on the same socket (answer_s: write the 'S' that accepts
 * an SSLRequest first).  Nothing may be buffered on the plain side.  But
 * for CLIENT_TLS_OK, gone is set and why says what happened.
 */
enum client_tls client_take_tls(struct client *c, SSL_CTX *ctx, int answer_s);

/*
 * Bulk mode for a plain socket (a no-op otherwise): the bufferevent stops
 * reading, client_bulk_read takes up to CLIENT_BULK_READ bytes a call.
 */
void client_bulk_start(struct client *c);
void client_bulk_stop(struct client *c);

/* Read once, if bulk and nothing is left of the last read; EOF and errors set eof/gone. */
void client_bulk_read(struct client *c);

/* Bytes of the last bulk read not taken yet; client_bulk_used takes n of them. */
const char *client_bulk_data(const struct client *c, size_t *len);
void client_bulk_used(struct client *c, size_t n);

/*
 * Nothing more to take: in bulk mode, wait for the socket (after a short
 * read, a moment first, so that the next read takes more); else the
 * bufferevent reads already: nothing to do.
 */
void client_wait(struct client *c);

/* Bytes received but not taken yet (buffered and bulk). */
size_t client_pending(const struct client *c);

/* The client left before its answer: logged once, with why. */
void client_log_left(struct client *c, const char *why);

/*
 * Close: let the output drain (a client that does not read it for
 * write_timeout_s is gone), then close our side and linger, then
 * on_closed.  A gone client is closed at once (on_closed before this returns).
 */
void client_close(struct client *c, int write_timeout_s);

#endif
