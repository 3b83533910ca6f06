/*
 * parsemsg.h - one PostgreSQL Parse message (the extended query protocol's
 * "prepare this text as the unnamed statement") written straight from the
 * caller's buffer onto a connection's socket, plain or TLS.
 *
 * libpq's PQsendQueryParams holds a statement twice beside the caller's
 * copy: in its output buffer, and as the query text it keeps for error
 * positions.  For a statement of hundreds of MiB that triples the memory.
 * Writing the Parse message here and then letting libpq send the rest
 * (PQsendQueryPrepared of the unnamed statement: Bind, Describe, Execute,
 * Sync) keeps one copy: libpq ignores the server's ParseComplete outside
 * PQprepare, and the server's answer to a Parse it refused arrives as the
 * result of that query, since the server skips to the Sync.
 *
 * The message must go out while libpq's own output buffer is empty, so
 * that nothing libpq queued comes between.  The socket is non-blocking.
 */
#ifndef PGSLUICE_PARSEMSG_H
#define PGSLUICE_PARSEMSG_H

#include <stddef.h>

#include <openssl/ssl.h>

#define PARSEMSG_HEAD 6 /* 'P', length, the empty statement name */
#define PARSEMSG_TAIL 3 /* the text's NUL, no parameter types */

/* The largest text one message carries (the server's own bound, 1 GiB - 1, less the framing). */
#define PARSEMSG_MAX_TEXT ((size_t)0x3fffffff - 16)

struct parsemsg {
	const char *text; /* the caller's statement, len bytes, kept until written */
	size_t len;
	size_t pos; /* bytes of the whole message (head, text, tail) written */
	unsigned char head[PARSEMSG_HEAD];
	unsigned char tail[PARSEMSG_TAIL];
};

/* Frame text (len <= PARSEMSG_MAX_TEXT bytes, no NUL inside) as one Parse message. */
void parsemsg_init(struct parsemsg *m, const char *text, size_t len);

enum parsemsg_result {
	PARSEMSG_DONE,       /* the whole message is written */
	PARSEMSG_WANT_WRITE, /* the socket takes no more now: call again when writable */
	PARSEMSG_WANT_READ,  /* TLS must read first: call again when readable */
	PARSEMSG_FAILED,     /* the connection failed: err says how */
};

/*
 * Write what the socket takes of the rest of the message: through ssl when
 * it is non-NULL (the connection's own TLS session; a retry after a WANT_
 * result repeats the same write, as OpenSSL requires), else with send() on
 * fd.
 */
enum parsemsg_result parsemsg_write(struct parsemsg *m, int fd, SSL *ssl, char *err, size_t errsz);

/* 1 when the whole message is written. */
int parsemsg_done(const struct parsemsg *m);

#endif
