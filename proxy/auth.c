/*
 * auth.c - the token, the AUTH line and the failure credits (auth.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "auth.h"
#include "log.h"
#include "report.h"
#include "scram.h"

/* A bucket of credits: at most cap, refilled at rate per second. */
struct auth_bucket {
	double credits;
	double stamp; /* monotonic seconds of the last refill */
};

struct auth_entry {
	char host[64]; /* "" : free slot */
	unsigned failures;
	struct auth_bucket b;
};

struct auth {
	unsigned char digest[SHA256_DIGEST_LENGTH]; /* SHA-256 of the token */
	struct scram_secret scram; /* the token as a SCRAM password (PostgreSQL clients) */
	double rate;               /* the daemon's failures per second */
	struct auth_bucket all;    /* the daemon's credits: at most max(1, rate) */
	struct auth_entry table[AUTH_TABLE_SIZE];
};

static int
auth_sha256(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SHA256_DIGEST_LENGTH
	               ? 0
	               : -1;
}

int
auth_read_token(const char *path, char *tok, size_t *len_out, char *err, size_t size)
{
	char buf[AUTH_TOKEN_MAX + 2];
	struct stat st;
	size_t len = 0, i;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, size, "--token-file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, size, "--token-file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, size, "--token-file %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, size,
		         "--token-file %s is accessible by group or others (mode %04o); "
		         "run: chmod 600 %s",
		         path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, size, "--token-file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	for (i = 0; i < len && buf[i] != '\n'; i++)
		;
	if (i == len && len == sizeof(buf) - 1) {
		snprintf(err, size, "--token-file %s: the first line is longer than %d bytes", path,
		         AUTH_TOKEN_MAX);
		goto out;
	}
	len = i;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		snprintf(err, size,
		         "--token-file %s: the first line (the token) is empty; make one "
		         "with: openssl rand -hex 32 > %s",
		         path, path);
		goto out;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			snprintf(err, size, "--token-file %s: control character in the token",
			         path);
			goto out;
		}
	}
	memcpy(tok, buf, len);
	*len_out = len;
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

struct auth *
auth_load(const char *path, char *err, size_t size)
{
	char tok[AUTH_TOKEN_MAX];
	struct auth *a = NULL;
	size_t len;

	if (auth_read_token(path, tok, &len, err, size) < 0)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, size, "out of memory");
		goto out;
	}
	auth_set_failure_rate(a, AUTH_DEFAULT_FAILURE_RATE);
	if (auth_sha256(tok, len, a->digest) < 0 || scram_secret_make(&a->scram, tok, len) < 0) {
		snprintf(err, size, "--token-file %s: SHA-256 is not available (OpenSSL)", path);
		free(a);
		a = NULL;
		goto out;
	}
	if (len < 16)
		log_warn(NULL,
		         "the token in %s is only %zu characters; use a long random one "
		         "(openssl rand -hex 32)",
		         path, len);
out:
	OPENSSL_cleanse(tok, sizeof(tok));
	return a;
}

const struct scram_secret *
auth_scram(const struct auth *a)
{
	return &a->scram;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

enum auth_result
auth_line(struct evbuffer *in, int eof, char *why, size_t size)
{
	char head[5];
	struct evbuffer_ptr eol;
	size_t have = evbuffer_get_length(in), n, len;

	/* the first bytes already tell a stream that does not begin with AUTH */
	n = have < 5 ? have : 5;
	if (evbuffer_copyout(in, head, n) != (ev_ssize_t)n) {
		snprintf(why, size, "cannot read the AUTH line");
		return AUTH_FAIL;
	}
	if (memcmp(head, "AUTH ", n) != 0) {
		snprintf(why, size,
		         "the stream does not begin with the line \"AUTH <token>\" "
		         "(this daemon runs with --token-file: send the token first: "
		         "pgsluice send --token-file FILE ..., or with nc "
		         "{ echo \"AUTH $(cat token)\"; pg_dump ...; } | nc ...)");
		return AUTH_FAIL;
	}
	eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		if (have > AUTH_LINE_MAX) {
			snprintf(why, size, "the AUTH line is longer than %d bytes", AUTH_LINE_MAX);
			return AUTH_FAIL;
		}
		if (eof) {
			snprintf(why, size, "the stream ended inside the AUTH line");
			return AUTH_FAIL;
		}
		return AUTH_MORE;
	}
	if ((size_t)eol.pos > AUTH_LINE_MAX) {
		snprintf(why, size, "the AUTH line is longer than %d bytes", AUTH_LINE_MAX);
		return AUTH_FAIL;
	}
	return AUTH_OK;
}

enum auth_result
auth_check(const struct auth *a, struct evbuffer *in, int eof, char *why, size_t size)
{
	char line[AUTH_LINE_MAX + 1];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	struct evbuffer_ptr eol;
	enum auth_result r = auth_line(in, eof, why, size);
	size_t n, len;
	int good;

	if (r != AUTH_OK)
		return r;
	eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
	n = (size_t)eol.pos;
	evbuffer_remove(in, line, n + len);
	if (n > 5 && line[n - 1] == '\r')
		n--;
	good = auth_sha256(line + 5, n - 5, digest) == 0 &&
	       CRYPTO_memcmp(digest, a->digest, sizeof(digest)) == 0;
	OPENSSL_cleanse(line, sizeof(line));
	if (!good) {
		snprintf(why, size, "authentication failed: wrong token");
		return AUTH_FAIL;
	}
	return AUTH_OK;
}

static void
auth_refill(struct auth_bucket *b, double cap, double rate, double now)
{
	if (now > b->stamp) {
		b->credits += (now - b->stamp) * rate;
		b->stamp = now;
	}
	if (b->credits > cap)
		b->credits = cap;
}

static double
auth_all_cap(const struct auth *a)
{
	return a->rate > 1 ? a->rate : 1;
}

/* Seconds until b holds one credit. */
static double
auth_bucket_wait(const struct auth_bucket *b, double rate)
{
	return b->credits >= 1 ? 0 : (1 - b->credits) / rate;
}

void
auth_set_failure_rate(struct auth *a, double per_second)
{
	a->rate = per_second;
	a->all.credits = auth_all_cap(a);
	a->all.stamp = report_now();
}

/* host's entry, refilled; an entry full again is forgotten.  NULL: none. */
static struct auth_entry *
auth_find(struct auth *a, const char *host, double now)
{
	struct auth_entry *e, *found = NULL;
	size_t i;

	for (i = 0; i < AUTH_TABLE_SIZE; i++) {
		e = &a->table[i];
		if (e->host[0] == '\0')
			continue;
		auth_refill(&e->b, AUTH_ADDR_BURST, 1.0 / AUTH_ADDR_EVERY_S, now);
		if (e->b.credits >= AUTH_ADDR_BURST) {
			e->host[0] = '\0'; /* forgotten */
			continue;
		}
		if (strcmp(e->host, host) == 0)
			found = e;
	}
	return found;
}

double
auth_wait(struct auth *a, const char *host)
{
	double now = report_now(), w_all, w_host;
	struct auth_entry *e = auth_find(a, host, now);

	auth_refill(&a->all, auth_all_cap(a), a->rate, now);
	w_all = auth_bucket_wait(&a->all, a->rate);
	w_host = e != NULL ? auth_bucket_wait(&e->b, 1.0 / AUTH_ADDR_EVERY_S) : 0;
	return w_all > w_host ? w_all : w_host;
}

int
auth_record(struct auth *a, const char *host, int ok)
{
	double now = report_now();
	struct auth_entry *e, *fullest;
	size_t i;

	if (ok)
		return 0;
	e = auth_find(a, host, now);
	auth_refill(&a->all, auth_all_cap(a), a->rate, now);
	a->all.credits -= 1;
	if (e == NULL) {
		fullest = &a->table[0];
		for (i = 0; i < AUTH_TABLE_SIZE; i++) {
			if (a->table[i].host[0] == '\0') {
				fullest = &a->table[i];
				break;
			}
			if (a->table[i].b.credits > fullest->b.credits)
				fullest = &a->table[i];
		}
		e = fullest;
		memset(e, 0, sizeof(*e));
		snprintf(e->host, sizeof(e->host), "%s", host);
		e->b.credits = AUTH_ADDR_BURST;
		e->b.stamp = now;
	}
	e->failures++;
	e->b.credits -= 1;
	return (int)e->failures;
}
