/*
 * tls.c - the daemon's TLS context and per-connection helpers (tls.h).
 *
 * Choices, and why:
 *   - TLS 1.2 and 1.3 only (SSL_CTX_set_min_proto_version); OpenSSL 3's
 *     default cipher list, which has no export, RC4, 3DES or anonymous
 *     suites; server cipher preference for TLS 1.2.
 *   - no compression (CRIME) and no renegotiation (a client could make the
 *     server redo handshakes at will: a CPU lever).
 *   - SSL_MODE_RELEASE_BUFFERS: an idle or waiting connection holds no
 *     34 KB read/write buffers, so --max-connections waiting clients cost
 *     little memory.
 *   - a dirty shutdown (TCP FIN without close_notify) is an ordinary EOF:
 *     truncation is detected by pg_dump's trailer, not by TLS, and nc-like
 *     clients close that way.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "tls.h"

/* The first queued OpenSSL error as text, or fallback; the queue is cleared. */
static void
tls_queued_error(unsigned long e, char *buf, size_t size, const char *fallback)
{
	unsigned long more;

	if (e == 0)
		e = ERR_get_error();
	if (e == 0) {
		snprintf(buf, size, "%s", fallback);
		return;
	}
	ERR_error_string_n(e, buf, size);
	while ((more = ERR_get_error()) != 0)
		;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, const char *client_ca, char *err, size_t size)
{
	STACK_OF(X509_NAME) * names;
	SSL_CTX *ctx;
	struct stat st;
	char why[256];

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_queued_error(0, why, sizeof(why), "unknown error");
		snprintf(err, size, "cannot create a TLS context: %s", why);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, size, "cannot restrict TLS to versions 1.2 and 1.3");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_queued_error(0, why, sizeof(why), "unreadable");
		snprintf(err, size,
		         "--tls-cert %s: %s (want a PEM certificate, e.g. from "
		         "pgsluice gen-cert)",
		         cert, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_queued_error(0, why, sizeof(why), "unreadable");
		snprintf(err, size, "--tls-key %s: %s (want a PEM private key)", key, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, size,
		         "--tls-key %s does not belong to the certificate in --tls-cert %s", key,
		         cert);
		goto fail;
	}
	if (stat(key, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		log_warn(NULL,
		         "--tls-key %s is accessible by group or others (mode %04o); "
		         "chmod 600 it",
		         key, (unsigned)(st.st_mode & 07777));
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			tls_queued_error(0, why, sizeof(why), "unreadable");
			snprintf(err, size, "--tls-client-ca %s: %s (want PEM CA certificates)",
			         client_ca, why);
			goto fail;
		}
		names = SSL_load_client_CA_file(client_ca);
		if (names == NULL) {
			snprintf(err, size, "--tls-client-ca %s: no certificate in it", client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_verify_depth(ctx, 4);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

struct bufferevent *
tls_accept(struct event_base *base, SSL_CTX *ctx, evutil_socket_t fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	ssl = SSL_new(ctx);
	if (ssl == NULL) {
		ERR_clear_error();
		evutil_closesocket(fd);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int
tls_active(struct bufferevent *bev)
{
	return bufferevent_openssl_get_ssl(bev) != NULL;
}

void
tls_describe(struct bufferevent *bev, char *buf, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *peer;
	char subject[256], issuer[256];

	if (ssl == NULL) {
		snprintf(buf, size, "plaintext");
		return;
	}
	peer = SSL_get1_peer_certificate(ssl);
	if (peer == NULL) {
		snprintf(buf, size, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
	X509_NAME_oneline(X509_get_issuer_name(peer), issuer, sizeof(issuer));
	snprintf(buf, size, "%s %s, client certificate %s (issuer %s)", SSL_get_version(ssl),
	         SSL_get_cipher_name(ssl), subject, issuer);
	X509_free(peer);
}

void
tls_error(struct bufferevent *bev, char *buf, size_t size)
{
	unsigned long e, last = 0;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long vr;
	char why[256];
	int err = EVUTIL_SOCKET_ERROR();

	/*
	 * libevent hands its errors back last first, and puts the SSL_get_error
	 * code (no library) among them: keep the earliest real one, the cause.
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0 || last == 0)
			last = e;
	if (last != 0) {
		tls_queued_error(last, why, sizeof(why), "?");
		if (ERR_GET_REASON(last) == SSL_R_WRONG_VERSION_NUMBER ||
		    ERR_GET_REASON(last) == SSL_R_HTTP_REQUEST ||
		    ERR_GET_REASON(last) == SSL_R_HTTPS_PROXY_REQUEST)
			snprintf(buf, size, "%s (a plaintext client on the TLS port?)", why);
		else if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
			snprintf(buf, size, "%s (client certificate: %s)", why,
			         X509_verify_cert_error_string(vr));
		else
			snprintf(buf, size, "%s", why);
		return;
	}
	ERR_clear_error();
	if (err != 0)
		snprintf(buf, size, "%s", evutil_socket_error_to_string(err));
	else
		snprintf(buf, size, "the connection was closed");
}

void
tls_shutdown_write(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (ssl != NULL && SSL_is_init_finished(ssl)) {
		/* one close_notify record; the output is drained, so it goes now */
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
}

int
tls_addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	const unsigned char *b;

	switch (sa->sa_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		b = sin6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
	}
	return 0;
}
