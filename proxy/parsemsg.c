/*
 * parsemsg.c - a Parse message written from the caller's buffer onto a
 * plain or TLS socket, without a copy of the statement (parsemsg.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "parsemsg.h"

/*
 * One write hands the kernel (or OpenSSL) at most this much: the same
 * piece again after a WANT_ result, as SSL_write requires, and small
 * enough that a TLS record's copy stays small.
 */
#define PARSEMSG_WRITE_MAX (256 * 1024)

void
parsemsg_init(struct parsemsg *m, const char *text, size_t len)
{
	uint32_t n = (uint32_t)(4 + 1 + len + 1 + 2); /* the length counts itself */

	m->text = text;
	m->len = len;
	m->pos = 0;
	m->head[0] = 'P';
	m->head[1] = (unsigned char)(n >> 24);
	m->head[2] = (unsigned char)(n >> 16);
	m->head[3] = (unsigned char)(n >> 8);
	m->head[4] = (unsigned char)n;
	m->head[5] = '\0'; /* the unnamed statement */
	m->tail[0] = '\0'; /* the text's end */
	m->tail[1] = 0;    /* 0 parameter types, an Int16 */
	m->tail[2] = 0;
}

int
parsemsg_done(const struct parsemsg *m)
{
	return m->pos == PARSEMSG_HEAD + m->len + PARSEMSG_TAIL;
}

/* The next piece to write: where it starts and how long it is (0: done). */
static size_t
parsemsg_piece(const struct parsemsg *m, const void **p)
{
	size_t n;

	if (m->pos < PARSEMSG_HEAD) {
		*p = m->head + m->pos;
		return PARSEMSG_HEAD - m->pos;
	}
	if (m->pos < PARSEMSG_HEAD + m->len) {
		*p = m->text + (m->pos - PARSEMSG_HEAD);
		n = m->len - (m->pos - PARSEMSG_HEAD);
		return n > PARSEMSG_WRITE_MAX ? PARSEMSG_WRITE_MAX : n;
	}
	n = PARSEMSG_HEAD + m->len + PARSEMSG_TAIL - m->pos;
	*p = m->tail + (PARSEMSG_TAIL - n);
	return n;
}

static enum parsemsg_result
parsemsg_write_tls(SSL *ssl, const void *p, size_t n, size_t *wrote, char *err, size_t errsz)
{
	int r;
	unsigned long e;
	const char *why;

	ERR_clear_error();
	r = SSL_write(ssl, p, (int)n);
	if (r > 0) {
		*wrote = (size_t)r;
		return PARSEMSG_DONE;
	}
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		return PARSEMSG_WANT_WRITE;
	case SSL_ERROR_WANT_READ:
		return PARSEMSG_WANT_READ;
	case SSL_ERROR_SYSCALL:
		snprintf(err, errsz, "%s", errno ? strerror(errno) : "the connection was closed");
		return PARSEMSG_FAILED;
	default:
		e = ERR_get_error();
		why = e ? ERR_reason_error_string(e) : NULL;
		snprintf(err, errsz, "TLS: %s", why ? why : "write failed");
		return PARSEMSG_FAILED;
	}
}

enum parsemsg_result
parsemsg_write(struct parsemsg *m, int fd, SSL *ssl, char *err, size_t errsz)
{
	const void *p;
	size_t n, wrote;
	ssize_t r;
	enum parsemsg_result res;

	while ((n = parsemsg_piece(m, &p)) > 0) {
		if (ssl != NULL) {
			res = parsemsg_write_tls(ssl, p, n, &wrote, err, errsz);
			if (res != PARSEMSG_DONE)
				return res;
		} else {
			r = send(fd, p, n, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return PARSEMSG_WANT_WRITE;
				snprintf(err, errsz, "%s", strerror(errno));
				return PARSEMSG_FAILED;
			}
			wrote = (size_t)r;
		}
		m->pos += wrote;
	}
	return PARSEMSG_DONE;
}
