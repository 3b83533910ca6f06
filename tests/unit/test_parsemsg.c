/*
 * test_parsemsg.c - the Parse message written from the caller's buffer
 * (proxy/parsemsg.c): its framing byte for byte, over a plain socket and
 * over TLS, when the socket takes only a little at a time (small send
 * buffers, a reader that lags), and a peer that went away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "parsemsg.h"
#include "t.h"

#define TEXT_LEN (3 * 1024 * 1024 + 17)

static char *
make_text(size_t n)
{
	char *p = malloc(n + 1);
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		p[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	if (p != NULL)
		p[n] = '\0';
	return p;
}

static void
pair(int fd[2], int sndbuf)
{
	int i;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0)
		abort();
	for (i = 0; i < 2; i++) {
		fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
		setsockopt(fd[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		setsockopt(fd[i], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	}
}

/* The message as the server reads it: 'P', Int32 length, "" , text, NUL, Int16 0. */
static int
check_framing(const unsigned char *got, size_t n, const char *text, size_t len, char *why)
{
	uint32_t l;

	if (n != 1 + 4 + 1 + len + 1 + 2) {
		sprintf(why, "%zu bytes, not %zu", n, len + 9);
		return 0;
	}
	l = (uint32_t)got[1] << 24 | (uint32_t)got[2] << 16 | (uint32_t)got[3] << 8 | got[4];
	if (got[0] != 'P' || l != n - 1 || got[5] != 0) {
		sprintf(why, "header %c %u %d", got[0], l, got[5]);
		return 0;
	}
	if (memcmp(got + 6, text, len) != 0) {
		sprintf(why, "the text differs");
		return 0;
	}
	if (got[6 + len] != 0 || got[7 + len] != 0 || got[8 + len] != 0) {
		sprintf(why, "tail %d %d %d", got[6 + len], got[7 + len], got[8 + len]);
		return 0;
	}
	return 1;
}

/* Plain: written in small pieces while the reader drains a little at a time. */
static void
test_plain(const char *text, size_t len)
{
	int fd[2], want_writes = 0;
	struct parsemsg m;
	unsigned char *got = malloc(len + 64);
	size_t n = 0;
	ssize_t r;
	char err[128], why[128] = "";
	enum parsemsg_result res = PARSEMSG_WANT_WRITE;

	pair(fd, 4096);
	parsemsg_init(&m, text, len);
	while (res == PARSEMSG_WANT_WRITE) {
		res = parsemsg_write(&m, fd[0], NULL, err, sizeof(err));
		if (res == PARSEMSG_WANT_WRITE)
			want_writes++;
		while ((r = read(fd[1], got + n, 3000)) > 0 && n + (size_t)r <= len + 64)
			n += (size_t)r;
	}
	while ((r = read(fd[1], got + n, 65536)) > 0)
		n += (size_t)r;
	T_OK(res == PARSEMSG_DONE && parsemsg_done(&m), "plain: the whole message is written");
	T_OK(want_writes > 10, "plain: the socket took it in pieces (%d would-blocks)",
	     want_writes);
	T_OK(check_framing(got, n, text, len, why), "plain: the server reads one Parse message %s",
	     why);
	close(fd[0]);
	close(fd[1]);

	/* a peer that went away: failed, with why */
	pair(fd, 4096);
	close(fd[1]);
	parsemsg_init(&m, text, len);
	res = parsemsg_write(&m, fd[0], NULL, err, sizeof(err));
	T_OK(res == PARSEMSG_FAILED && err[0] != '\0', "plain: a closed peer fails (%s)",
	     res == PARSEMSG_FAILED ? err : "?");
	close(fd[0]);

	/* a small statement: one write, done */
	pair(fd, 65536);
	parsemsg_init(&m, "SELECT 1", 8);
	res = parsemsg_write(&m, fd[0], NULL, err, sizeof(err));
	n = (size_t)read(fd[1], got, 64);
	T_OK(res == PARSEMSG_DONE && check_framing(got, n, "SELECT 1", 8, why),
	     "plain: a small statement in one go %s", why);
	close(fd[0]);
	close(fd[1]);
	free(got);
}

static SSL_CTX *
server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, key);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/* TLS over a socketpair: WANT_WRITE retried with the same write, the reader lagging. */
static void
test_tls(const char *text, size_t len)
{
	int fd[2], i, cr = 0, sr = 0, want_writes = 0;
	SSL_CTX *sctx = server_ctx(), *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	struct parsemsg m;
	unsigned char *got = malloc(len + 64);
	size_t n = 0;
	int r;
	char err[128] = "", why[128] = "";
	enum parsemsg_result res = PARSEMSG_WANT_WRITE;

	pair(fd, 16384);
	SSL_set_fd(cli, fd[0]);
	SSL_set_fd(srv, fd[1]);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	for (i = 0; i < 100 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(cli);
		if (sr != 1)
			sr = SSL_do_handshake(srv);
	}
	T_OK(cr == 1 && sr == 1, "tls: the handshake is done");
	parsemsg_init(&m, text, len);
	for (i = 0; i < 1000000 && res != PARSEMSG_DONE && res != PARSEMSG_FAILED; i++) {
		res = parsemsg_write(&m, fd[0], cli, err, sizeof(err));
		if (res == PARSEMSG_WANT_WRITE)
			want_writes++;
		/* the reader takes one record at most per turn */
		if ((r = SSL_read(srv, got + n, 8192)) > 0 && n + (size_t)r <= len + 64)
			n += (size_t)r;
	}
	while ((r = SSL_read(srv, got + n, 65536)) > 0)
		n += (size_t)r;
	T_OK(res == PARSEMSG_DONE, "tls: the whole message is written (%s)", err);
	T_OK(want_writes > 10, "tls: in pieces, each retried as it was (%d would-blocks)",
	     want_writes);
	T_OK(check_framing(got, n, text, len, why), "tls: the server reads one Parse message %s",
	     why);
	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(fd[0]);
	close(fd[1]);
	free(got);
}

int
main(void)
{
	char *text = make_text(TEXT_LEN);

	signal(SIGPIPE, SIG_IGN);
	test_plain(text, TEXT_LEN);
	test_tls(text, TEXT_LEN);
	free(text);
	T_DONE();
}
