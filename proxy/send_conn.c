/*
 * send_conn.c - the connection of `pgsluice send` to the daemon: the
 * signals that interrupt it (noted, and the poll loop woken through a
 * self-pipe), the TCP connect with its deadline, the TLS handshake with
 * the certificate checks, and reads and writes on the socket, plain or
 * TLS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <jansson.h>

#include "auth.h"
#include "cli.h"
#include "report.h"
#include "send.h"
#include "session.h"
#include "sendzstd.h"
#include "send_int.h"

volatile sig_atomic_t send_signal;
int send_wake[2] = { -1, -1 };

/* ---- connecting ---------------------------------------------------------- */

/*
 * Wait until fd has one of events, the deadline passes (-1, ETIMEDOUT) or
 * a signal interrupts send (-1, EINTR; send_signal set).
 */
static int
send_wait_fd(int fd, short events, double deadline)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = send_wake[0], .events = POLLIN },
	};
	double left;
	int r;

	for (;;) {
		if (send_signal) {
			errno = EINTR;
			return -1;
		}
		left = deadline - report_now();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(p, 2, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0 && p[0].revents != 0)
			return 0;
	}
}

static void
send_on_signal(int sig)
{
	int saved = errno;
	char c = 0;

	send_signal = sig;
	if (write(send_wake[1], &c, 1) < 0) {
		/* the pipe is full: a wake-up is pending already */
	}
	errno = saved;
}

/*
 * SIGINT and SIGTERM note themselves and wake the poll loop; a second one
 * (the default action again) ends send at once.  Returns 0 or -1.
 */
int
send_catch_signals(void)
{
	struct sigaction sa;
	int i;

	if (pipe(send_wake) < 0) {
		send_warn(NULL, "pipe: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		fcntl(send_wake[i], F_SETFD, FD_CLOEXEC);
		fcntl(send_wake[i], F_SETFL, O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = send_on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

/* Try each address of HOST:PORT in turn.  Returns 0 or -1 with a message. */
int
send_connect(struct sender *s)
{
	struct addrinfo hints, *res, *ai;
	char numeric[INET6_ADDRSTRLEN + 8] = "";
	socklen_t elen;
	int fd, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* no AI_ADDRCONFIG: on a loopback-only host it hides 127.0.0.1 and ::1 */
	rc = getaddrinfo(s->host, s->port, &hints, &res);
	if (rc != 0) {
		send_warn(NULL, "cannot resolve %s: %s", s->host,
		          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
		            NI_NUMERICHOST);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				err = errno;
				close(fd);
				continue;
			}
			if (send_wait_fd(fd, POLLOUT,
			                 report_now() + SEND_CONNECT_TIMEOUT_MS / 1000.0) < 0) {
				err = errno;
				close(fd);
				if (send_signal)
					break;
				continue;
			}
			elen = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			if (err != 0) {
				close(fd);
				continue;
			}
		}
		s->fd = fd;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	if (send_signal)
		return -1; /* send_interrupted says so */
	if (numeric[0] == '\0' || strcmp(numeric, s->host) == 0)
		send_warn(NULL, "cannot connect to %s port %s: %s", s->host, s->port,
		          strerror(err));
	else
		send_warn(NULL, "cannot connect to %s port %s (%s): %s", s->host, s->port, numeric,
		          strerror(err));
	if (err == ECONNREFUSED)
		fprintf(stderr, "pgsluice send: is `pgsluice serve` running there, and "
		                "listening on that address (--listen)?\n");
	return -1;
}

static void
send_ssl_errors(void)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "pgsluice send:   %s\n", buf);
	}
}

static int
send_is_ip(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* TLS handshake on s->fd, verifying the daemon's certificate and name. */
int
send_tls(struct sender *s)
{
	double deadline = report_now() + SEND_CONNECT_TIMEOUT_MS / 1000.0;
	long vr;
	int r, e;

	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL) {
		send_warn(NULL, "TLS: cannot create a context");
		send_ssl_errors();
		return -1;
	}
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	/* a daemon that closes without close_notify still ends the answer */
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if (s->ca != NULL) {
		if (SSL_CTX_load_verify_locations(s->ctx, s->ca, NULL) != 1) {
			send_warn(NULL, "--ca %s: cannot load CA certificates from it", s->ca);
			send_ssl_errors();
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
		send_warn(NULL, "TLS: cannot load the system's CA certificates");
		send_ssl_errors();
		return -1;
	}
	if (s->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(s->ctx, s->cert) != 1) {
			send_warn(NULL, "--cert %s: cannot load a certificate from it", s->cert);
			send_ssl_errors();
			return -1;
		}
		if (SSL_CTX_use_PrivateKey_file(s->ctx, s->key ? s->key : s->cert,
		                                SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(s->ctx) != 1) {
			send_warn(NULL, "--key %s: cannot load the certificate's private key",
			          s->key ? s->key : s->cert);
			send_ssl_errors();
			return -1;
		}
	}
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1) {
		send_warn(NULL, "TLS: cannot set up the connection");
		send_ssl_errors();
		return -1;
	}
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (send_is_ip(s->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host) != 1) {
			send_warn(NULL, "TLS: cannot check the certificate against %s", s->host);
			return -1;
		}
	} else {
		SSL_set_tlsext_host_name(s->ssl, s->host);
		if (SSL_set1_host(s->ssl, s->host) != 1) {
			send_warn(NULL, "TLS: cannot check the certificate against %s", s->host);
			return -1;
		}
	}
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(s->ssl);
		if (r == 1)
			break;
		e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (send_wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			                 deadline) < 0) {
				if (send_signal)
					return -1; /* send_interrupted says so */
				send_warn(NULL, "TLS handshake with %s port %s: %s", s->host,
				          s->port, strerror(errno));
				return -1;
			}
			continue;
		}
		vr = SSL_get_verify_result(s->ssl);
		if (vr != X509_V_OK) {
			send_warn(NULL, "TLS: the certificate of %s port %s is not trusted: %s",
			          s->host, s->port, X509_verify_cert_error_string(vr));
			fprintf(stderr, "pgsluice send: %s\n",
			        s->ca ? "is --ca the CA that signed the daemon's certificate (or, "
			                "self-signed, that certificate itself), and does the "
			                "certificate name the host you connect to?"
			              : "for a private CA or a self-signed daemon, give its "
			                "certificate with --ca FILE");
			return -1;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			send_warn(NULL, "TLS handshake with %s port %s failed: %s", s->host,
			          s->port,
			          errno ? strerror(errno) : "the server closed the connection");
		else
			send_warn(NULL, "TLS handshake with %s port %s failed:", s->host, s->port);
		send_ssl_errors();
		fprintf(stderr, "pgsluice send: does the daemon listen with TLS "
		                "(--tls-cert)? If not, leave out --tls.\n");
		return -1;
	}
	return 0;
}

/* ---- the connection: read and write, plain or TLS ----------------------- */

/* Keep the first TLS error after the handshake (an alert from the daemon). */
static void
send_tls_error(struct sender *s)
{
	unsigned long e = ERR_peek_error();

	if (s->tls_error[0] == '\0' && e != 0)
		ERR_error_string_n(e, s->tls_error, sizeof(s->tls_error));
	ERR_clear_error();
}

/* > 0 bytes, 0 EOF, -2 would block, -1 error (errno set) */
ssize_t
send_conn_read(struct sender *s, void *buf, size_t len)
{
	ssize_t n;
	int r, e;

	if (s->ssl == NULL) {
		for (;;) {
			n = recv(s->fd, buf, len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -2;
			return n;
		}
	}
	ERR_clear_error();
	r = SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0) {
		s->read_wants_write = 0;
		return r;
	}
	e = SSL_get_error(s->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		s->read_wants_write = 0;
		return -2;
	case SSL_ERROR_WANT_WRITE:
		s->read_wants_write = 1;
		return -2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		return -1;
	default:
		send_tls_error(s);
		errno = EPROTO;
		return -1;
	}
}

/* > 0 bytes, -2 would block, -1 error (errno set) */
ssize_t
send_conn_write(struct sender *s, const void *buf, size_t len)
{
	ssize_t n;
	int r, e;

	if (s->ssl == NULL) {
		for (;;) {
			n = send(s->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -2;
			return n;
		}
	}
	ERR_clear_error();
	r = SSL_write(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -2;
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		return -1;
	if (e == SSL_ERROR_SSL)
		send_tls_error(s);
	errno = EPIPE;
	return -1;
}
