/*
 * tls.h - the daemon's TLS: the server context and the per-connection
 * helpers the session needs.
 *
 * Kept apart from serve.c and session.c so that every OpenSSL call of the
 * daemon lives in one file: the context is built once at startup (TLS 1.2
 * and 1.3 only, no compression, no renegotiation, OpenSSL's default secure
 * ciphers; with a client CA, a client certificate is required and
 * verified), and each accepted TCP connection gets a bufferevent_openssl in
 * the accepting state.  The session only reads and writes through the
 * bufferevent; it asks this module for the three things TLS changes: what
 * to log when the handshake is done, why a handshake failed, and how to
 * close its sending side.
 */
#ifndef PGSLUICE_TLS_H
#define PGSLUICE_TLS_H

#include <stddef.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

/*
 * A server context from a certificate chain file and a key file (PEM).
 * client_ca non-NULL: clients must present a certificate that chains to
 * it (mutual TLS).  Returns NULL with a one-line reason in err.  Read the
 * files before dropping privileges.  Free with SSL_CTX_free.
 */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, const char *client_ca, char *err,
                        size_t size);

/*
 * A bufferevent for an accepted socket that runs the TLS handshake as the
 * server.  BEV_OPT_CLOSE_ON_FREE: freeing it frees the SSL and closes fd.
 * Returns NULL (fd closed) on failure.
 */
struct bufferevent *tls_accept(struct event_base *base, SSL_CTX *ctx, evutil_socket_t fd);

/* 1 if bev is a TLS bufferevent (of tls_accept). */
int tls_active(struct bufferevent *bev);

/*
 * The handshake is done: "TLSv1.3 TLS_AES_256_GCM_SHA384" and, when the
 * client gave a certificate, ", client certificate CN=..., issuer ...".
 */
void tls_describe(struct bufferevent *bev, char *buf, size_t size);

/* Why the connection failed (OpenSSL's queued errors), one line. */
void tls_error(struct bufferevent *bev, char *buf, size_t size);

/*
 * Close the sending side after the last byte: a TLS close_notify first
 * when bev is TLS, then shutdown(SHUT_WR).  Reading goes on.
 */
void tls_shutdown_write(struct bufferevent *bev);

/* 1 if sa is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or AF_UNIX. */
int tls_addr_is_loopback(const struct sockaddr *sa);

#endif
