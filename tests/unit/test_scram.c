/*
 * test_scram.c - the server side of SCRAM-SHA-256 (proxy/scram.c).
 *
 * RFC 7677's example exchange (user "user", password "pencil", its salt,
 * its client and server nonces): the server-first-message and the
 * server-final-message must be the RFC's, byte for byte.  Then a client
 * written here from RFC 5802's formulas (OpenSSL's PBKDF2 and HMAC) runs
 * exchanges against random salts and nonces, and malformed
 * client-first/client-final messages, every truncation of a good one and
 * messages out of order must be refused without a proof being accepted.
 */
#include <stdlib.h>

#include "scram.h"
#include "scramclient.h"
#include "t.h"

#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_NONCE "rOprNGfwEbeRWgbNEkqO" RFC_SERVER_NONCE
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SERVER_FIRST "r=" RFC_NONCE ",s=" RFC_SALT ",i=4096"
#define RFC_CLIENT_FINAL_BARE "c=biws,r=" RFC_NONCE
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_CLIENT_FINAL RFC_CLIENT_FINAL_BARE ",p=" RFC_PROOF
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static int
first(struct scram *sc, const char *msg, const char **reply, char *why, size_t size)
{
	return scram_client_first(sc, msg, strlen(msg), reply, why, size);
}

static int
final(struct scram *sc, const char *msg, const char **reply, char *why, size_t size)
{
	return scram_client_final(sc, msg, strlen(msg), reply, why, size);
}

static void
test_rfc7677(void)
{
	struct scram_secret sec, wrong;
	struct scram sc;
	unsigned char salt[32];
	const char *reply = NULL;
	char why[256] = "", msg[300];
	size_t n;
	int r;

	n = unb64(RFC_SALT, salt);
	T_OK(n == SCRAM_SALT_LEN, "RFC 7677: its salt is %d bytes (%zu)", SCRAM_SALT_LEN, n);
	T_OK(scram_secret_salted(&sec, "pencil", 6, salt, 4096) == 0,
	     "RFC 7677: the secret of \"pencil\"");

	scram_begin(&sc, &sec);
	r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
	                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
	T_OK(r == 0 && strcmp(reply, RFC_SERVER_FIRST) == 0,
	     "RFC 7677: the server-first-message is the RFC's (%d: %s %s)", r, r == 0 ? reply : "",
	     why);
	r = final(&sc, RFC_CLIENT_FINAL, &reply, why, sizeof(why));
	T_OK(r == 1 && strcmp(reply, RFC_SERVER_FINAL) == 0,
	     "RFC 7677: the proof is accepted and the server-final-message is the RFC's (%d: %s %s)",
	     r, r == 1 ? reply : "", why);
	scram_end(&sc);

	/* the client of this file gives the RFC's proof */
	client_proof("pencil", RFC_CLIENT_FIRST + 3, RFC_SERVER_FIRST, RFC_CLIENT_FINAL_BARE, msg,
	             sizeof(msg));
	T_OK(strcmp(msg, RFC_PROOF) == 0, "the test's client computes the RFC's proof (%s)", msg);

	/* one bit of the proof changed: a wrong password, not a malformed message */
	scram_begin(&sc, &sec);
	r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
	                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
	snprintf(msg, sizeof(msg), "%s", RFC_CLIENT_FINAL);
	msg[strlen(msg) - 3] ^= 1; /* "V" -> "W" */
	reply = NULL;
	r = final(&sc, msg, &reply, why, sizeof(why));
	T_OK(r == 0 && reply == NULL,
	     "RFC 7677 with one proof bit changed: refused as a wrong "
	     "password (%d)",
	     r);
	scram_end(&sc);

	/* the RFC's messages against the secret of another password */
	T_OK(scram_secret_salted(&wrong, "pencil2", 7, salt, 4096) == 0,
	     "the secret of \"pencil2\"");
	scram_begin(&sc, &wrong);
	r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
	                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
	r = r == 0 ? final(&sc, RFC_CLIENT_FINAL, &reply, why, sizeof(why)) : -2;
	T_OK(r == 0, "RFC 7677's proof against another password's secret: refused (%d)", r);
	scram_end(&sc);

	T_OK(scram_secret_salted(&wrong, "pencil", 6, salt, 0) < 0, "0 iterations: refused");
	scram_begin(&sc, &sec);
	r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), "a,b", &reply,
	                             why, sizeof(why));
	T_OK(r < 0, "a server nonce with ',' is refused (%s)", why);
	scram_end(&sc);
}

/*
 * A whole exchange with the real scram_client_first (random nonce) and a
 * secret made by scram_secret_make; the client-first is first_msg (with
 * gs2 header), cb the c= attribute.  Returns scram_client_final's answer.
 */
static int
exchange(const struct scram_secret *sec, const char *password, const char *first_msg,
         const char *cb, char *why, size_t size)
{
	struct scram sc;
	const char *reply, *bare = strchr(strchr(first_msg, ',') + 1, ',') + 1;
	char nonce[200], final_bare[300], proof[64], msg[400];
	int r;

	scram_begin(&sc, sec);
	r = first(&sc, first_msg, &reply, why, size);
	if (r < 0) {
		scram_end(&sc);
		return -2;
	}
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(strchr(reply, ',') - reply - 2), reply + 2);
	snprintf(final_bare, sizeof(final_bare), "c=%s,r=%s", cb, nonce);
	client_proof(password, bare, reply, final_bare, proof, sizeof(proof));
	snprintf(msg, sizeof(msg), "%s,p=%s", final_bare, proof);
	r = final(&sc, msg, &reply, why, size);
	scram_end(&sc);
	return r;
}

static void
test_exchanges(void)
{
	struct scram_secret a, b;
	struct scram sc;
	const char *reply;
	char why[256] = "", why2[256] = "";
	int r, r2;

	T_OK(scram_secret_make(&a, "0123456789abcdef", 16) == 0 &&
	             scram_secret_make(&b, "0123456789abcdef", 16) == 0,
	     "two secrets of one token");
	T_OK(a.iterations == SCRAM_ITERATIONS && memcmp(a.salt, b.salt, SCRAM_SALT_LEN) != 0 &&
	             memcmp(a.stored_key, b.stored_key, SCRAM_KEY_LEN) != 0,
	     "each secret has its own random salt, so its own keys");

	r = exchange(&a, "0123456789abcdef", "n,,n=,r=abcDEF123+/", "biws", why, sizeof(why));
	T_OK(r == 1, "libpq's client-first (empty user name), the right token: accepted (%d %s)", r,
	     why);
	r = exchange(&a, "0123456789abcdeF", "n,,n=,r=abcDEF123+/", "biws", why, sizeof(why));
	T_OK(r == 0, "the wrong token: refused as a wrong password (%d %s)", r, why);
	r = exchange(&a, "0123456789abcdef", "y,,n=user,r=xyz,ext=1", "eSws", why, sizeof(why));
	T_OK(r == 1,
	     "\"y\" (the client could bind, the server does not offer it), an extension "
	     "after the nonce: accepted (%d %s)",
	     r, why);
	r = exchange(&a, "0123456789abcdef", "y,,n=user,r=xyz", "biws", why, sizeof(why));
	T_OK(r == -1 && strstr(why, "channel binding") != NULL,
	     "c= that is not the gs2 header sent (y vs n): malformed (%s)", why);

	/* two exchanges get different server nonces */
	scram_begin(&sc, &a);
	r = first(&sc, "n,,n=,r=abc", &reply, why, sizeof(why));
	snprintf(why2, sizeof(why2), "%s", r == 0 ? reply : "");
	scram_end(&sc);
	scram_begin(&sc, &a);
	r2 = first(&sc, "n,,n=,r=abc", &reply, why, sizeof(why));
	T_OK(r == 0 && r2 == 0 && strcmp(why2, reply) != 0 && strncmp(reply, "r=abc", 5) == 0 &&
	             strlen(reply) == strlen(why2),
	     "each exchange draws its own server nonce after the client's (%s / %s)", why2, reply);
	scram_end(&sc);
}

static void
test_malformed_first(void)
{
	static const struct {
		const char *msg;
		const char *why; /* a word of the reason */
	} cases[] = {
		{ "", "malformed" },
		{ "n", "gs2" },
		{ "n,", "gs2" },
		{ "n,,", "user" },
		{ "x,,n=user,r=abc", "gs2" },
		{ "p=tls-server-end-point,,n=user,r=abc", "channel binding" },
		{ "n,a=admin,n=user,r=abc", "authorization" },
		{ "n,x,n=user,r=abc", "gs2" },
		{ "n,,r=abc", "user" },
		{ "n,,n=user", "nonce" },
		{ "n,,n=user,", "nonce" },
		{ "n,,n=user,r=", "nonce" },
		{ "n,,n=user,s=abc", "nonce" },
		{ "n,,n=user,r=a b", "nonce" },
		{ "n,,n=user,r=a\x7f", "nonce" },
		{ "n,,n=user,r=\xc3\xa9", "nonce" },
		{ "n,,n=user,r=,x", "nonce" },
	};
	struct scram_secret sec;
	struct scram sc;
	const char *reply;
	char why[256], msg[SCRAM_MESSAGE_MAX + 200];
	size_t i, k;
	int r, bad = 0;

	T_OK(scram_secret_make(&sec, "t", 1) == 0, "a secret with a random salt");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scram_begin(&sc, &sec);
		why[0] = '\0';
		r = first(&sc, cases[i].msg, &reply, why, sizeof(why));
		T_OK(r == -1 && strstr(why, cases[i].why) != NULL && sc.step == 0,
		     "client-first \"%s\": refused, \"%s\" (%s)", cases[i].msg, cases[i].why, why);
		scram_end(&sc);
	}

	/* a NUL inside, and the limits */
	scram_begin(&sc, &sec);
	r = scram_client_first(&sc, "n,,n=us\0er,r=abc", 16, &reply, why, sizeof(why));
	T_OK(r == -1, "client-first with a NUL byte: refused (%s)", why);
	scram_end(&sc);
	snprintf(msg, sizeof(msg), "n,,n=,r=");
	for (k = 0; k < SCRAM_CLIENT_NONCE_MAX; k++)
		strcat(msg, "a");
	scram_begin(&sc, &sec);
	r = first(&sc, msg, &reply, why, sizeof(why));
	T_OK(r == 0, "a client nonce of %d bytes: taken (%s)", SCRAM_CLIENT_NONCE_MAX,
	     r ? why : reply);
	scram_end(&sc);
	strcat(msg, "a");
	scram_begin(&sc, &sec);
	r = first(&sc, msg, &reply, why, sizeof(why));
	T_OK(r == -1, "a client nonce of %d bytes: refused (%s)", SCRAM_CLIENT_NONCE_MAX + 1, why);
	scram_end(&sc);
	snprintf(msg, sizeof(msg), "n,,n=");
	for (k = strlen(msg); k < SCRAM_MESSAGE_MAX - 6; k++)
		msg[k] = 'u';
	msg[k] = '\0';
	strcat(msg, ",r=abc");
	scram_begin(&sc, &sec);
	r = first(&sc, msg, &reply, why, sizeof(why));
	T_OK(strlen(msg) == SCRAM_MESSAGE_MAX && r == 0,
	     "a client-first of %d bytes (the limit): taken (%s)", SCRAM_MESSAGE_MAX, r ? why : "");
	scram_end(&sc);
	strcat(msg, "c");
	scram_begin(&sc, &sec);
	r = first(&sc, msg, &reply, why, sizeof(why));
	T_OK(r == -1, "a client-first of %d bytes: refused (%s)", SCRAM_MESSAGE_MAX + 1, why);
	scram_end(&sc);

	/* every prefix of the RFC's client-first: refused, or taken with what it holds */
	for (k = 0; k <= strlen(RFC_CLIENT_FIRST); k++) {
		scram_begin(&sc, &sec);
		r = scram_client_first(&sc, RFC_CLIENT_FIRST, k, &reply, why, sizeof(why));
		if (r == 0 && (k < 13 || strncmp(reply + 2, RFC_CLIENT_FIRST + 12, k - 12) != 0))
			bad++;
		if (r != 0 && (r != -1 || k >= 13))
			bad++;
		scram_end(&sc);
	}
	T_OK(bad == 0,
	     "every prefix of RFC 7677's client-first: refused before the nonce, taken "
	     "with the nonce as far as it goes (%d wrong)",
	     bad);

	/* out of order */
	scram_begin(&sc, &sec);
	r = final(&sc, RFC_CLIENT_FINAL, &reply, why, sizeof(why));
	T_OK(r == -1, "a client-final before any client-first: refused (%s)", why);
	r = first(&sc, "n,,n=,r=abc", &reply, why, sizeof(why));
	r = r == 0 ? first(&sc, "n,,n=,r=abc", &reply, why, sizeof(why)) : -2;
	T_OK(r == -1, "a second client-first: refused (%s)", why);
	scram_end(&sc);
}

static void
test_malformed_final(void)
{
	static const char *const cases[] = {
		"",
		"c",
		"c=",
		"c=biws",
		"p=" RFC_PROOF,
		"c=biws,p=" RFC_PROOF,
		"c=eSws,r=" RFC_NONCE ",p=" RFC_PROOF,        /* y,, after n,, */
		"c=bix3,r=" RFC_NONCE ",p=" RFC_PROOF,        /* not the gs2 header */
		"c=biw,r=" RFC_NONCE ",p=" RFC_PROOF,         /* not base64 */
		"c=biws,r=" RFC_NONCE "x,p=" RFC_PROOF,       /* another nonce */
		"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" RFC_PROOF, /* the client's part only */
		"c=biws,r=" RFC_NONCE,
		"c=biws,r=" RFC_NONCE ",",
		"c=biws,r=" RFC_NONCE ",p=",
		"c=biws,r=" RFC_NONCE ",p=dHzb",
		"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF "AAAA",
		"c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
		"c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And!Q=",
		"c=biws,r=" RFC_NONCE ",x=" RFC_PROOF,
		"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF ",x=1",
		"c=biws,n=" RFC_NONCE ",p=" RFC_PROOF,
	};
	struct scram_secret sec;
	struct scram sc;
	unsigned char salt[32];
	const char *reply;
	char why[256];
	size_t i, k, len = strlen(RFC_CLIENT_FINAL);
	int r, accepted = 0, again;

	unb64(RFC_SALT, salt);
	T_OK(scram_secret_salted(&sec, "pencil", 6, salt, 4096) == 0, "RFC 7677's secret again");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scram_begin(&sc, &sec);
		r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
		                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
		why[0] = '\0';
		reply = NULL;
		r = r == 0 ? final(&sc, cases[i], &reply, why, sizeof(why)) : -2;
		T_OK(r == -1 && reply == NULL && why[0] != '\0',
		     "client-final \"%s\": malformed (%s)", cases[i], why);
		scram_end(&sc);
	}
	/* every cut of the RFC's good message, and a NUL at every place */
	for (k = 0; k < len; k++) {
		char msg[sizeof(RFC_CLIENT_FINAL)];

		scram_begin(&sc, &sec);
		r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
		                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
		if (r == 0 &&
		    scram_client_final(&sc, RFC_CLIENT_FINAL, k, &reply, why, sizeof(why)) == 1)
			accepted++;
		scram_end(&sc);
		memcpy(msg, RFC_CLIENT_FINAL, sizeof(msg));
		msg[k] = '\0';
		scram_begin(&sc, &sec);
		r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
		                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
		if (r == 0 && scram_client_final(&sc, msg, len, &reply, why, sizeof(why)) != -1)
			accepted++;
		scram_end(&sc);
	}
	T_OK(accepted == 0,
	     "each of the %zu cuts of RFC 7677's client-final, and a NUL at each "
	     "place: none accepted (%d were)",
	     len, accepted);

	/* one exchange answers one client-final */
	scram_begin(&sc, &sec);
	r = scram_client_first_nonce(&sc, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
	                             RFC_SERVER_NONCE, &reply, why, sizeof(why));
	r = r == 0 ? final(&sc, RFC_CLIENT_FINAL, &reply, why, sizeof(why)) : -2;
	again = final(&sc, RFC_CLIENT_FINAL, &reply, why, sizeof(why));
	T_OK(r == 1 && again == -1, "the good client-final a second time: refused (%d, %d)", r,
	     again);
	scram_end(&sc);
}

int
main(void)
{
	test_rfc7677();
	test_exchanges();
	test_malformed_first();
	test_malformed_final();
	T_DONE();
}
