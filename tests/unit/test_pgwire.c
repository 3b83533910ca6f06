/*
 * test_pgwire.c - the PostgreSQL protocol front end (proxy/pgwire.c) on
 * the bytes an unauthenticated client sends: the startup packets
 * (SSLRequest, GSSENCRequest, CancelRequest, protocol versions, the
 * parameters), SCRAM-SHA-256 over SASLInitialResponse/SASLResponse, what
 * comes before the dump, and the framing of Query, CopyData, CopyDone,
 * CopyFail, FunctionCall and Terminate in the stream.
 *
 * Every case runs whole, one byte at a time, and split in two at every
 * offset (wiredrive.h); every run must give the text of the whole run,
 * and the whole run must hold the expected pieces in order.  Malformed
 * lengths, oversize and truncated packets are cases like the others.
 */
#include <stdarg.h>
#include <stdint.h>

#include "log.h"
#include "scram.h"
#include "scramclient.h"
#include "t.h"
#include "wiredrive.h"

struct bld {
	unsigned char b[80 * 1024];
	size_t n;
};

static void
b_add(struct bld *b, const void *p, size_t n)
{
	if (b->n + n > sizeof(b->b))
		abort();
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
b_32(struct bld *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		               (unsigned char)(v >> 8), (unsigned char)v };

	b_add(b, c, 4);
}

static void
b_16(struct bld *b, uint16_t v)
{
	unsigned char c[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	b_add(b, c, 2);
}

/* A startup packet: code, then name, value, ... NULL, then the final NUL. */
static void
b_startup(struct bld *b, uint32_t code, ...)
{
	size_t at = b->n;
	const char *s;
	va_list ap;

	b_32(b, 0);
	b_32(b, code);
	va_start(ap, code);
	while ((s = va_arg(ap, const char *)) != NULL)
		b_add(b, s, strlen(s) + 1);
	va_end(ap);
	b_add(b, "", 1);
	b->b[at] = (unsigned char)((b->n - at) >> 24);
	b->b[at + 1] = (unsigned char)((b->n - at) >> 16);
	b->b[at + 2] = (unsigned char)((b->n - at) >> 8);
	b->b[at + 3] = (unsigned char)(b->n - at);
}

/* The usual StartupMessage of psql -1 */
static void
b_hello(struct bld *b)
{
	b_startup(b, 3u << 16, "user", "u", "database", "d", "application_name", "psql", NULL);
}

static void
b_msg(struct bld *b, char type, const void *body, size_t len)
{
	b_add(b, &type, 1);
	b_32(b, (uint32_t)len + 4);
	b_add(b, body, len);
}

static void
b_query(struct bld *b, const char *sql)
{
	b_msg(b, 'Q', sql, strlen(sql) + 1);
}

/* startup, then psql -1's BEGIN and a dump's first statement: the stream starts */
static void
b_to_stream(struct bld *b)
{
	b_hello(b);
	b_query(b, "BEGIN");
	b_query(b, "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n");
}

static struct scram_secret secret;

enum cfg_kind {
	C_PLAIN,
	C_TLS,
	C_TLS_ONLY,
	C_SCRAM,
	C_SMALL_QUERY
};

static struct pgwire_config
cfg_of(enum cfg_kind k)
{
	struct pgwire_config c = { 0, 0, NULL, 0, "test" };

	c.tls_available = k == C_TLS || k == C_TLS_ONLY;
	c.tls_required = k == C_TLS_ONLY;
	c.scram = k == C_SCRAM ? &secret : NULL;
	c.max_query = k == C_SMALL_QUERY ? 100 : 0;
	return c;
}

static int n_runs;

/*
 * Where every run cuts the input besides its own cuts (0: nowhere): a
 * client that asked for TLS sends nothing more before it reads the 'S'.
 */
static size_t must_cut;

/*
 * With PGSLUICE_PGWIRE_SEEDS=DIR, each case's input is also written to
 * DIR as a seed of the fuzz target (tests/fuzz/fuzz_pgwire.c: a byte for
 * the configuration, one for the chunking, then the input).
 */
static void
seed(enum cfg_kind k, const struct bld *b)
{
	const char *dir = getenv("PGSLUICE_PGWIRE_SEEDS");
	char path[4096];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/case-%03d", dir, n_runs);
	f = fopen(path, "wb");
	if (f == NULL || fputc((int)k, f) == EOF || fputc(7, f) == EOF ||
	    fwrite(b->b, 1, b->n, f) != b->n || fclose(f) != 0) {
		printf("not ok - write the seed %s\n", path);
		exit(1);
	}
}

/*
 * Run b whole, byte by byte and split at every offset (at 97 offsets for
 * a long input); wants: pieces the whole run's text holds, in order
 * ("!piece": one it must not hold), NULL-terminated.
 */
static void
check(const char *name, enum cfg_kind k, const struct bld *b, int split, ...)
{
	struct pgwire_config cfg = cfg_of(k);
	size_t *every = malloc((b->n + 1) * sizeof(size_t)), cut, i, at = 0, step;
	char *whole, *other;
	const char *want, *p;
	int same = 1, found = 1;
	va_list ap;

	if (every == NULL)
		abort();
	seed(k, b);
	whole = wd_run(&cfg, b->b, b->n, &must_cut, must_cut > 0);
	n_runs++;
	va_start(ap, split);
	p = whole;
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (want[0] == '!') {
			if (strstr(whole, want + 1) != NULL)
				found = 0;
			continue;
		}
		p = strstr(p, want);
		if (p == NULL) {
			found = 0;
			printf("# %s: wanted \"%s\"\n", name, want);
			break;
		}
		p += strlen(want);
	}
	va_end(ap);
	T_OK(found, "%s: %s", name, whole);
	if (!split) {
		free(whole);
		free(every);
		return;
	}

	for (i = 0; i < b->n; i++)
		every[i] = i + 1;
	other = wd_run(&cfg, b->b, b->n, every, b->n);
	n_runs++;
	T_OK(strcmp(other, whole) == 0, "%s: one byte at a time (%s)", name, other);
	free(other);

	step = b->n > 2000 ? b->n / 97 : 1;
	for (cut = 1; cut < b->n && same; cut += step) {
		size_t two[2] = { cut < must_cut || must_cut == 0 ? cut : must_cut,
			          cut < must_cut || must_cut == 0 ? must_cut : cut };

		other = must_cut == 0 || must_cut == cut ? wd_run(&cfg, b->b, b->n, &cut, 1)
		                                         : wd_run(&cfg, b->b, b->n, two, 2);
		n_runs++;
		if (strcmp(other, whole) != 0) {
			same = 0;
			at = cut;
			printf("# split at %zu: %s\n", cut, other);
		}
		free(other);
	}
	T_OK(same, "%s: split in two at every offset (first difference at %zu)", name, at);
	free(whole);
	free(every);
}

#define AUTH_OK_MSG "R\\x00\\x00\\x00\\x08\\x00\\x00\\x00\\x00"
#define RFQ_IDLE "Z\\x00\\x00\\x00\\x05I"
#define RFQ_TXN "Z\\x00\\x00\\x00\\x05T"

static void
test_startup(void)
{
	struct bld b;

	b.n = 0;
	b_hello(&b);
	check("StartupMessage 3.0", C_PLAIN, &b, 1, AUTH_OK_MSG "[startup u][auth-ok]",
	      "application_name\\x00psql\\x00", "K<key>", RFQ_IDLE, "[wait]", NULL);

	b.n = 0;
	b_32(&b, 8);
	b_32(&b, 80877103);
	b_hello(&b);
	check("SSLRequest without TLS: 'N', then the StartupMessage", C_PLAIN, &b, 1,
	      "N" AUTH_OK_MSG "[startup u]", NULL);
	must_cut = 8;
	check("SSLRequest with TLS: 'S', then the StartupMessage inside TLS", C_TLS, &b, 1,
	      "[tls]S" AUTH_OK_MSG "[startup u]", NULL);
	check("SSLRequest on a TLS-only port", C_TLS_ONLY, &b, 1,
	      "[tls]S" AUTH_OK_MSG "[startup u]", NULL);
	must_cut = 0;

	b.n = 0;
	b_32(&b, 8);
	b_32(&b, 80877103);
	b_32(&b, 8);
	b_32(&b, 80877103);
	b_hello(&b);
	must_cut = 8;
	check("a second SSLRequest inside TLS: 'N'", C_TLS, &b, 1,
	      "[tls]SN" AUTH_OK_MSG "[startup u]", NULL);
	must_cut = 0;
	check("two SSLRequests without TLS", C_PLAIN, &b, 1, "NN" AUTH_OK_MSG "[startup u]", NULL);

	b.n = 0;
	b_32(&b, 8);
	b_32(&b, 80877103);
	b_hello(&b);
	/* bytes behind the SSLRequest before the 'S': only a whole read shows them */
	check("plaintext sent behind an SSLRequest", C_TLS, &b, 0,
	      "[fail received unencrypted data after SSL request]", "E", "08P01", NULL);

	b.n = 0;
	b_32(&b, 8);
	b_32(&b, 80877104);
	b_hello(&b);
	check("GSSENCRequest: 'N'", C_TLS, &b, 1, "N" AUTH_OK_MSG "[startup u]", "!tls", NULL);

	b.n = 0;
	b_32(&b, 16);
	b_32(&b, 80877102);
	b_32(&b, 1234);
	b_32(&b, 5678);
	b_hello(&b);
	check("CancelRequest: closed without a word", C_PLAIN, &b, 1, "[close]", "!startup", NULL);

	b.n = 0;
	b_32(&b, 12);
	b_32(&b, 80877102);
	b_32(&b, 1234);
	check("CancelRequest of the wrong length", C_PLAIN, &b, 1,
	      "[fail unsupported frontend protocol 1234.5678: pgsluice speaks 3.0]", NULL);

	b.n = 0;
	b_32(&b, 12);
	b_32(&b, 80877103);
	b_32(&b, 0);
	check("SSLRequest of the wrong length", C_TLS, &b, 1,
	      "[fail unsupported frontend protocol 1234.5679", "!tls", NULL);

	b.n = 0;
	b_startup(&b, 2u << 16, "user", "u", NULL);
	check("protocol 2.0", C_PLAIN, &b, 1, "[fail unsupported frontend protocol 2.0", NULL);
	b.n = 0;
	b_startup(&b, 4u << 16, "user", "u", NULL);
	check("protocol 4.0", C_PLAIN, &b, 1, "[fail unsupported frontend protocol 4.0", NULL);

	b.n = 0;
	b_startup(&b, 3u << 16 | 2, "user", "u", NULL);
	check("protocol 3.2: NegotiateProtocolVersion 3.0", C_PLAIN, &b, 1,
	      "v\\x00\\x00\\x00\\x0c\\x00\\x03\\x00\\x00\\x00\\x00\\x00\\x00" AUTH_OK_MSG
	      "[startup u]",
	      NULL);
	b.n = 0;
	b_startup(&b, 3u << 16, "user", "u", "_pq_.compression", "on", NULL);
	check("a _pq_ option: named in NegotiateProtocolVersion", C_PLAIN, &b, 1,
	      "v\\x00\\x00\\x00\\x1d\\x00\\x03\\x00\\x00\\x00\\x00\\x00\\x01_pq_.compression\\x00" AUTH_OK_MSG
	      "[startup u]",
	      NULL);

	b.n = 0;
	b_startup(&b, 3u << 16, "user", "u", "replication", "database", NULL);
	check("a replication connection", C_PLAIN, &b, 1,
	      "[fail replication connections are not supported", NULL);
	b.n = 0;
	b_startup(&b, 3u << 16, "user", "u", "replication", "off", NULL);
	check("replication=off", C_PLAIN, &b, 1, "[startup u]", NULL);

	b.n = 0;
	b_hello(&b);
	check("a StartupMessage outside TLS on a TLS-only port", C_TLS_ONLY, &b, 1,
	      "[fail pgsluice takes PostgreSQL clients over TLS only", "!startup", NULL);

	/* malformed lengths and layouts */
	b.n = 0;
	b_32(&b, 4);
	b_32(&b, 3u << 16);
	check("a length under 8", C_PLAIN, &b, 1,
	      "[fail invalid length of startup packet (4 bytes)]", NULL);
	b.n = 0;
	b_32(&b, 0xffffffffu);
	b_32(&b, 3u << 16);
	check("a length of 2^32-1", C_PLAIN, &b, 1,
	      "[fail invalid length of startup packet (4294967295 bytes)]", NULL);
	b.n = 0;
	b_32(&b, PGWIRE_STARTUP_MAX + 1);
	b_32(&b, 3u << 16);
	check("one byte over the startup limit", C_PLAIN, &b, 1,
	      "[fail invalid length of startup packet (10001 bytes)]", NULL);
	b.n = 0;
	b_32(&b, PGWIRE_STARTUP_MAX);
	b_32(&b, 3u << 16);
	b_add(&b, "user\0u\0", 7);
	check("a packet cut short (the limit announced, 15 bytes sent)", C_PLAIN, &b, 1,
	      "[fail incomplete startup packet]", NULL);
	b.n = 0;
	b_32(&b, PGWIRE_STARTUP_MAX);
	b_32(&b, 3u << 16);
	while (b.n + 8 < PGWIRE_STARTUP_MAX - 1)
		b_add(&b, "k\0value\0", 8);
	while (b.n < PGWIRE_STARTUP_MAX - 1)
		b_add(&b, "x", 1);
	b_add(&b, "", 1);
	check("a packet of exactly the limit, its last string unterminated", C_PLAIN, &b, 1,
	      "[fail invalid startup packet layout", NULL);
	b.n = 0;
	b_add(&b, "\0\0\0", 3);
	check("three bytes, then the end", C_PLAIN, &b, 1, "[fail incomplete startup packet]",
	      NULL);
	b.n = 0;
	check("nothing, then the end", C_PLAIN, &b, 1, "[fail incomplete startup packet]", NULL);
	b.n = 0;
	b_32(&b, 8);
	b_32(&b, 3u << 16);
	check("no parameters, no terminator", C_PLAIN, &b, 1,
	      "[fail invalid startup packet layout: expected a terminator", NULL);
	b.n = 0;
	b_32(&b, 14);
	b_32(&b, 3u << 16);
	b_add(&b, "user\0u", 6);
	check("a value without its NUL", C_PLAIN, &b, 1,
	      "[fail invalid startup packet layout: a string is not terminated]", NULL);
	b.n = 0;
	b_32(&b, 14);
	b_32(&b, 3u << 16);
	b_add(&b, "user\0\0", 6);
	check("a name without a value", C_PLAIN, &b, 1,
	      "[fail invalid startup packet layout: expected a terminator", NULL);
	b.n = 0;
	b_startup(&b, 3u << 16, NULL);
	check("no parameters at all", C_PLAIN, &b, 1, "[startup]", "[auth-ok]", NULL);
}

/* The SASLInitialResponse of SCRAM-SHA-256 with client-first */
static void
b_sasl_initial(struct bld *b, const char *mech, const char *first, int32_t dlen)
{
	struct bld body = { .n = 0 };

	b_add(&body, mech, strlen(mech) + 1);
	b_32(&body, (uint32_t)dlen);
	b_add(&body, first, strlen(first));
	b_msg(b, 'p', body.b, body.n);
}

#define SASL_REQ "R\\x00\\x00\\x00\\x17\\x00\\x00\\x00\\x0aSCRAM-SHA-256\\x00\\x00"

static void
test_auth_malformed(void)
{
	struct bld b;

	b.n = 0;
	b_hello(&b);
	check("SCRAM: the client says nothing more", C_SCRAM, &b, 1, "[startup u]", SASL_REQ,
	      "[wait]", "!auth-ok", NULL);

	b.n = 0;
	b_hello(&b);
	b_query(&b, "SELECT 1");
	check("SCRAM: a Query instead of the SASL answer", C_SCRAM, &b, 1,
	      "[auth-fail expected message 'p', got 'Q']", "28P01", NULL);

	b.n = 0;
	b_hello(&b);
	b_add(&b, "p\0\0\0\3", 5);
	check("SCRAM: a message length under 4", C_SCRAM, &b, 1,
	      "[auth-fail invalid message length 3]", NULL);
	b.n = 0;
	b_hello(&b);
	b_add(&b, "p\0\1\0\5", 5);
	check("SCRAM: a message over the small limit", C_SCRAM, &b, 1,
	      "[auth-fail invalid message length 65541]", NULL);

	b.n = 0;
	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc", 31);
	check("SCRAM: another mechanism", C_SCRAM, &b, 1,
	      "[auth-fail the client did not choose SCRAM-SHA-256]", NULL);
	b.n = 0;
	b_hello(&b);
	b_msg(&b, 'p', "SCRAM-SHA-256", 13);
	check("SCRAM: the mechanism without its NUL", C_SCRAM, &b, 1,
	      "[auth-fail the client did not choose SCRAM-SHA-256]", NULL);
	b.n = 0;
	b_hello(&b);
	b_msg(&b, 'p', "SCRAM-SHA-256\0\0\0", 16);
	check("SCRAM: a cut length field", C_SCRAM, &b, 1,
	      "[auth-fail malformed SASLInitialResponse]", NULL);
	b.n = 0;
	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256", "n,,n=,r=abc", 12);
	check("SCRAM: a data length one over the message", C_SCRAM, &b, 1,
	      "[auth-fail malformed SASLInitialResponse]", NULL);
	b.n = 0;
	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256", "n,,n=,r=abc", -1);
	check("SCRAM: a data length of -1", C_SCRAM, &b, 1,
	      "[auth-fail malformed SASLInitialResponse]", NULL);
	b.n = 0;
	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256", "x,,n=,r=abc", 11);
	check("SCRAM: a malformed client-first", C_SCRAM, &b, 1,
	      "[auth-fail malformed SCRAM gs2 header]", NULL);

	b.n = 0;
	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256", "n,,n=,r=abc", 11);
	check("SCRAM: client-first, then nothing", C_SCRAM, &b, 1, SASL_REQ, "R<server-first>",
	      "[wait]", NULL);
	b_msg(&b, 'p', "c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", 59);
	check("SCRAM: a client-final with the client's nonce only", C_SCRAM, &b, 1,
	      "R<server-first>", "[auth-fail SCRAM nonce mismatch]", "28P01", NULL);
	b.n = 0;
	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256", "n,,n=,r=abc", 11);
	b_msg(&b, 'Q', "x", 2);
	check("SCRAM: a Query instead of the client-final", C_SCRAM, &b, 1,
	      "[auth-fail expected message 'p', got 'Q']", NULL);
}

/*
 * A whole SCRAM exchange over the protocol, with the proof computed from
 * the server-first that pgwire sent; its client-final split at every
 * offset.  password: the client's.  Returns the number of runs that did
 * not end as want (1 accepted, 0 refused).
 */
static int
scram_exchange(const char *password, int want, int cut_first, int cut_final, char *last,
               size_t lsize)
{
	struct pgwire_config cfg = cfg_of(C_SCRAM);
	struct pgwire *w = pgwire_new(&cfg);
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct bld b = { .n = 0 }, fin = { .n = 0 };
	char why[512] = "", sf[400], nonce[200], final_bare[300], proof[64], msg[400];
	enum auth_result r = AUTH_MORE;
	unsigned char *o;
	size_t n, k;
	uint32_t len;

	b_hello(&b);
	b_sasl_initial(&b, "SCRAM-SHA-256", "n,,n=,r=clientNONCE", 19);
	/* the startup and the client-first, cut at cut_first */
	evbuffer_add(in, b.b, (size_t)cut_first);
	if (pgwire_startup(w, in, out, 0) != PGWIRE_START_DONE) {
		evbuffer_add(in, b.b + cut_first, b.n - (size_t)cut_first);
		cut_first = (int)b.n;
		if (pgwire_startup(w, in, out, 0) != PGWIRE_START_DONE)
			return 1;
	}
	for (k = 0; k < 3 && r == AUTH_MORE; k++)
		r = pgwire_auth(w, in, out, why, sizeof(why));
	if ((size_t)cut_first < b.n) {
		evbuffer_add(in, b.b + cut_first, b.n - (size_t)cut_first);
		r = pgwire_auth(w, in, out, why, sizeof(why));
	}
	/* AuthenticationOk, AuthenticationSASL, AuthenticationSASLContinue */
	n = evbuffer_get_length(out);
	o = evbuffer_pullup(out, -1);
	sf[0] = '\0';
	for (k = 0; k + 9 <= n; k += 1 + len) {
		len = wd_get32(o + k + 1);
		if (o[k] == 'R' && wd_get32(o + k + 5) == 11 && len - 8 < sizeof(sf))
			snprintf(sf, sizeof(sf), "%.*s", (int)(len - 8), (const char *)o + k + 9);
	}
	evbuffer_drain(out, n);
	if (sf[0] == '\0' || r != AUTH_MORE) {
		snprintf(last, lsize, "no server-first (%s)", why);
		return 1;
	}
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(strchr(sf, ',') - sf - 2), sf + 2);
	snprintf(final_bare, sizeof(final_bare), "c=biws,r=%s", nonce);
	client_proof(password, "n=,r=clientNONCE", sf, final_bare, proof, sizeof(proof));
	snprintf(msg, sizeof(msg), "%s,p=%s", final_bare, proof);
	b_msg(&fin, 'p', msg, strlen(msg));
	evbuffer_add(in, fin.b, (size_t)cut_final);
	r = pgwire_auth(w, in, out, why, sizeof(why));
	if (r == AUTH_MORE) {
		evbuffer_add(in, fin.b + cut_final, fin.n - (size_t)cut_final);
		r = pgwire_auth(w, in, out, why, sizeof(why));
	}
	n = evbuffer_get_length(out);
	o = evbuffer_pullup(out, -1);
	snprintf(last, lsize, "%d %s", (int)r, why);
	/* AuthenticationSASLFinal "v=" + 44 bytes of base64, AuthenticationOk */
	k = want ? (r == AUTH_OK && n == 55 + 9 && o[0] == 'R' && wd_get32(o + 5) == 12 &&
	            memcmp(o + 9, "v=", 2) == 0 && o[55] == 'R' && wd_get32(o + 60) == 0)
	         : (r == AUTH_FAIL &&
	            strstr(why, "password authentication failed for user") != NULL && n == 0);
	pgwire_free(w);
	evbuffer_free(in);
	evbuffer_free(out);
	return k ? 0 : 1;
}

static void
test_auth_exchange(void)
{
	char last[600] = "";
	int bad = 0, cut, total = 0;
	struct bld b = { .n = 0 };

	b_hello(&b);
	for (cut = 1; cut <= (int)b.n + 5 + 14 + 4 + 19; cut++, total++)
		bad += scram_exchange("tok", 1, cut, 1, last, sizeof(last));
	T_OK(bad == 0,
	     "SCRAM over the protocol, the right token, the startup and the "
	     "SASLInitialResponse split at each of %d offsets: AuthenticationSASLFinal, "
	     "AuthenticationOk (%d wrong; last: %s)",
	     total, bad, last);
	bad = 0;
	for (cut = 1, total = 0; cut < 100; cut++, total++)
		bad += scram_exchange("tok", 1, (int)b.n, cut, last, sizeof(last));
	T_OK(bad == 0,
	     "the SASLResponse split at each of %d offsets: accepted (%d wrong; last: "
	     "%s)",
	     total, bad, last);
	bad = scram_exchange("tok2", 0, (int)b.n, 5, last, sizeof(last));
	T_OK(bad == 0, "the wrong token: refused as a wrong password, nothing written (%s)", last);
}

static void
test_predump(void)
{
	struct bld b;
	unsigned char big[PGWIRE_SMALL_MAX];

	b.n = 0;
	b_hello(&b);
	b_query(&b, "BEGIN");
	b_query(&b, "-- a comment\n");
	b_query(&b, "SELECT pg_catalog.set_config('search_path', '', false);");
	b_msg(&b, 'X', "", 0);
	check("BEGIN, a comment, pg_restore's search_path, Terminate", C_PLAIN, &b, 1, "[auth-ok]",
	      "C\\x00\\x00\\x00\\x0aBEGIN\\x00", RFQ_TXN, "I\\x00\\x00\\x00\\x04", RFQ_TXN,
	      "set_config", "SELECT 1", RFQ_TXN, "[terminate]", NULL);

	b.n = 0;
	b_hello(&b);
	b_query(&b, "SELECT 1");
	b_query(&b, "PGDMP\x01\x0e");
	check("a query that is not a dump, then a custom archive's bytes", C_PLAIN, &b, 1, "0A000",
	      "is not the start of a dump", RFQ_IDLE, "custom-format archive", RFQ_IDLE, "[wait]",
	      NULL);

	b.n = 0;
	b_hello(&b);
	b_query(&b, "SET statement_timeout = 0;");
	check("a dump outside BEGIN", C_PLAIN, &b, 1,
	      "[refuse 4 the dump's statements come "
	      "outside a transaction",
	      NULL);

	b.n = 0;
	b_to_stream(&b);
	check("BEGIN, then a dump's first Query", C_PLAIN, &b, 1, RFQ_TXN, "[dump]",
	      "{S SET statement_timeout = 0;}{S SET client_encoding = 'UTF8';}", RFQ_TXN, "[wait]",
	      NULL);

	b.n = 0;
	b_hello(&b);
	b_msg(&b, 'P', "\0SELECT 1\0\0\0", 13);
	b_msg(&b, 'B', "\0\0\0\0\0\0\0\0\0\0", 10);
	b_msg(&b, 'E', "\0\0\0\0\0", 5);
	b_msg(&b, 'S', "", 0);
	b_msg(&b, 'F', "\0\0\3\270\0\0\0\0\0\0", 10);
	check("the extended protocol up to Sync, a FunctionCall", C_PLAIN, &b, 1,
	      "the extended query protocol", RFQ_IDLE, "function calls are not supported", RFQ_IDLE,
	      "[wait]", NULL);

	b.n = 0;
	b_hello(&b);
	b_msg(&b, 'd', "1\n", 2);
	check("CopyData before the dump", C_PLAIN, &b, 1,
	      "[refuse 1 CopyData received outside COPY FROM STDIN]", NULL);
	b.n = 0;
	b_hello(&b);
	b_msg(&b, 'z', "", 0);
	check("an unknown message type", C_PLAIN, &b, 1,
	      "[refuse 1 invalid frontend message type 122 ('z')]", NULL);
	b.n = 0;
	b_hello(&b);
	b_add(&b, "Q\0\0\0\2", 5);
	check("a Query length under 4", C_PLAIN, &b, 1, "[refuse 1 invalid message length 2]",
	      NULL);
	b.n = 0;
	b_hello(&b);
	memset(big, 'x', sizeof(big));
	b_msg(&b, 'P', big, sizeof(big));
	check("a Parse message over the small limit", C_PLAIN, &b, 1,
	      "[refuse 1 invalid message length 65540]", NULL);
	b.n = 0;
	b_hello(&b);
	b_query(&b, "BEGIN");
	memset(big, ' ', 200);
	memcpy(big, "SET a = 1;", 10);
	big[200] = '\0';
	b_msg(&b, 'Q', big, 201);
	check("a Query over --max-statement", C_SMALL_QUERY, &b, 1,
	      "[refuse 1 Query message of 201 bytes: more than --max-statement (100 bytes)]", NULL);
	b.n = 0;
	b_hello(&b);
	b_add(&b, "Q\0\0\0\x10SELECT", 11);
	check("a Query cut short", C_PLAIN, &b, 1, "[auth-ok]", RFQ_IDLE, "[wait]", "!0A000", NULL);
}

static void
test_stream(void)
{
	struct bld b;
	unsigned char body[64];

	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "COPY t (a) FROM stdin;\n");
	b_msg(&b, 'd', "1\n2", 3);
	b_msg(&b, 'd', "\n3\n", 3);
	b_msg(&b, 'c', "", 0);
	b_query(&b, "COMMIT;");
	check("COPY over CopyData and CopyDone", C_PLAIN, &b, 1, "[dump]",
	      "{S COPY t (a) FROM stdin;}G\\x00", "{D 1\\x0a2\\x0a3\\x0a}{E 3}", RFQ_TXN,
	      "{S COMMIT;}", "[wait]", NULL);

	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "COPY t (a) FROM stdin;\n");
	b_msg(&b, 'd', "1\n", 2);
	b_msg(&b, 'f', "no more", 8);
	check("CopyFail", C_PLAIN, &b, 1, "{D 1\\x0a}",
	      "[error the client aborted the COPY "
	      "(CopyFail): no more]",
	      NULL);

	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "COPY t (a) FROM stdin;\n");
	b_query(&b, "SELECT 1;");
	check("a Query inside COPY", C_PLAIN, &b, 1,
	      "[fatal unexpected message type 'Q' during COPY FROM STDIN]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "COPY t (a) FROM stdin;\n");
	b_add(&b, "d\x40\0\0\x05", 5);
	check("a CopyData over the limit", C_PLAIN, &b, 1,
	      "[fatal CopyData message of 1073741825 bytes: more than the limit", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "COPY t (a) FROM stdin;\n");
	b_msg(&b, 'c', "x", 1);
	check("a CopyDone with a body", C_PLAIN, &b, 1, "[fatal invalid CopyDone message]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'Q', "SELECT 1\0;", 11);
	check("a NUL inside a Query's text", C_PLAIN, &b, 1,
	      "[fatal invalid Query message: a NUL byte inside its text]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'Q', "SELECT 1;", 9);
	check("a Query without its NUL", C_PLAIN, &b, 1,
	      "[fatal invalid Query message: its text is not NUL-terminated]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'Q', "", 0);
	check("a Query with no text", C_PLAIN, &b, 1, "[fatal invalid Query message: no text]",
	      NULL);
	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "SELECT 'abc");
	check("a Query that ends inside a string", C_PLAIN, &b, 1,
	      "[error the query ends inside a quoted string", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_query(&b, "SELECT 1 -- no semicolon");
	check("a Query without its ';' (the tail adds it)", C_PLAIN, &b, 1,
	      "{S SELECT 1 -- no semicolon\\x0a;}", RFQ_TXN, NULL);

	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'S', "", 0);
	b_msg(&b, 'H', "", 0);
	b_msg(&b, 'S', "x", 1);
	check("Sync, Flush, then a Sync with a body", C_PLAIN, &b, 1, RFQ_TXN RFQ_TXN,
	      "[fatal invalid message length 5]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'P', "\0SELECT 1\0\0\0", 13);
	check("Parse in the stream", C_PLAIN, &b, 1, "[error the extended query protocol", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'd', "1\n", 2);
	check("CopyData outside COPY", C_PLAIN, &b, 1,
	      "[fatal CopyData received outside COPY FROM STDIN]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_add(&b, "Z\0\0\0\4", 5);
	check("an unknown message type in the stream", C_PLAIN, &b, 1,
	      "[fatal invalid frontend message type 90 ('Z')]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_add(&b, "Q\0\0\0\0", 5);
	check("a length of 0 in the stream", C_PLAIN, &b, 1,
	      "[fatal invalid message length 0 for message 'Q']", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'X', "", 0);
	check("Terminate in the stream", C_PLAIN, &b, 1, "[terminate]", NULL);
	b.n = 0;
	b_to_stream(&b);
	b_msg(&b, 'X', "x", 1);
	check("a Terminate with a body", C_PLAIN, &b, 1, "[fatal invalid Terminate message]", NULL);

	/* FunctionCall: libpq's lo_open(oid, mode) in binary */
	b.n = 0;
	b_to_stream(&b);
	{
		struct bld f = { .n = 0 };

		b_32(&f, 952);
		b_16(&f, 1);
		b_16(&f, 1);
		b_16(&f, 2);
		b_32(&f, 4);
		b_32(&f, 16385);
		b_32(&f, 4);
		b_32(&f, 0x20000);
		memcpy(body, f.b, f.n);
		b_msg(&b, 'F', body, f.n);
		check("a FunctionCall of lo_open", C_PLAIN, &b, 1,
		      "{S SELECT pg_catalog.lo_open(16385, 131072);}", RFQ_TXN, NULL);
		b.n -= 1 + 4 + f.n;
		f.b[3] = 0x99; /* another function */
		b_msg(&b, 'F', f.b, f.n);
		check("a FunctionCall of another function", C_PLAIN, &b, 1,
		      "[error function calls other than libpq's lo_open, lowrite and lo_close",
		      NULL);
		b.n -= 1 + 4 + f.n;
		f.b[3] = 952 & 0xff;
		b_msg(&b, 'F', f.b, f.n - 2); /* its last argument cut */
		check("a FunctionCall whose argument is cut", C_PLAIN, &b, 1,
		      "[error function calls other than", NULL);
	}
}

int
main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	if (scram_secret_make(&secret, "tok", 3) != 0) {
		printf("not ok - the SCRAM secret of the test (OpenSSL)\n");
		return 1;
	}
	test_startup();
	test_auth_malformed();
	test_auth_exchange();
	test_predump();
	test_stream();
	printf("# %d runs of the front end\n", n_runs);
	T_DONE();
}
