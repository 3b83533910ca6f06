/*
 * scram.c - SCRAM-SHA-256, server side (scram.h).
 *
 *   SaltedPassword  = PBKDF2-HMAC-SHA-256(password, salt, i)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = SHA-256(ClientKey)
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature       (sent by the client)
 *   ServerSignature = HMAC(ServerKey, AuthMessage)        (sent back: "v=...")
 *
 * The server checks SHA-256(ClientProof XOR ClientSignature) == StoredKey,
 * in constant time.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "scram.h"

static int
scram_hmac(const unsigned char *key, size_t klen, const void *data, size_t len,
           unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int n = 0;

	return HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n) != NULL && n == SCRAM_KEY_LEN
	               ? 0
	               : -1;
}

static int
scram_sha256(const void *data, size_t len, unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SCRAM_KEY_LEN ? 0
	                                                                                     : -1;
}

int
scram_secret_make(struct scram_secret *sec, const char *password, size_t len)
{
	unsigned char salt[SCRAM_SALT_LEN];

	memset(sec, 0, sizeof(*sec));
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	return scram_secret_salted(sec, password, len, salt, SCRAM_ITERATIONS);
}

int
scram_secret_salted(struct scram_secret *sec, const char *password, size_t len,
                    const unsigned char salt[SCRAM_SALT_LEN], int iterations)
{
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	int r = -1;

	memset(sec, 0, sizeof(*sec));
	if (iterations < 1)
		return -1;
	sec->iterations = iterations;
	memcpy(sec->salt, salt, SCRAM_SALT_LEN);
	if (PKCS5_PBKDF2_HMAC(password, (int)len, sec->salt, sizeof(sec->salt), sec->iterations,
	                      EVP_sha256(), sizeof(salted), salted) != 1)
		goto out;
	if (scram_hmac(salted, sizeof(salted), "Client Key", 10, client_key) < 0 ||
	    scram_sha256(client_key, sizeof(client_key), sec->stored_key) < 0 ||
	    scram_hmac(salted, sizeof(salted), "Server Key", 10, sec->server_key) < 0)
		goto out;
	r = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return r;
}

void
scram_begin(struct scram *sc, const struct scram_secret *sec)
{
	memset(sc, 0, sizeof(*sc));
	sc->sec = sec;
}

void
scram_end(struct scram *sc)
{
	OPENSSL_cleanse(sc, sizeof(*sc));
}

/* base64 of data into out (NUL-terminated); -1 if it does not fit. */
static int
scram_b64(const unsigned char *data, size_t len, char *out, size_t size)
{
	if (4 * ((len + 2) / 3) + 1 > size)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return 0;
}

/* Decode base64 text[0..len) into out; returns the bytes, or -1. */
static int
scram_unb64(const char *text, size_t len, unsigned char *out, size_t size)
{
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || 3 * (len / 4) > size)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
	if (n < 0)
		return -1;
	if (text[len - 1] == '=')
		pad++;
	if (len >= 2 && text[len - 2] == '=')
		pad++;
	return n - pad;
}

/* 1 if a nonce is printable ASCII without ','. */
static int
scram_nonce_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	return 1;
}

int
scram_client_first(struct scram *sc, const char *msg, size_t len, const char **reply, char *why,
                   size_t size)
{
	unsigned char rnd[SCRAM_NONCE_LEN];
	char srv_nonce[4 * ((SCRAM_NONCE_LEN + 2) / 3) + 1];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    scram_b64(rnd, sizeof(rnd), srv_nonce, sizeof(srv_nonce)) < 0) {
		snprintf(why, size, "cannot make a SCRAM nonce (OpenSSL)");
		return -1;
	}
	return scram_client_first_nonce(sc, msg, len, srv_nonce, reply, why, size);
}

int
scram_client_first_nonce(struct scram *sc, const char *msg, size_t len, const char *srv_nonce,
                         const char **reply, char *why, size_t size)
{
	char salt[64];
	const char *p = msg, *end = msg + len, *bare, *r, *rend;

	if (strlen(srv_nonce) > SCRAM_SERVER_NONCE_MAX ||
	    !scram_nonce_ok(srv_nonce, strlen(srv_nonce))) {
		snprintf(why, size, "internal error: a SCRAM server nonce that is not one");
		return -1;
	}
	if (sc->step != 0 || len > SCRAM_MESSAGE_MAX || memchr(msg, '\0', len) != NULL) {
		snprintf(why, size, "malformed SCRAM client-first-message");
		return -1;
	}
	/* gs2-header: "n" / "y" / "p=..." "," [authzid] "," */
	if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
		snprintf(why, size,
		         len > 1 && p[0] == 'p' ? "the client demands SCRAM channel "
		                                  "binding, which pgsluice does not offer"
		                                : "malformed SCRAM gs2 header");
		return -1;
	}
	p += 2;
	if (p < end && *p == 'a') {
		snprintf(why, size, "SCRAM authorization identities are not supported");
		return -1;
	}
	if (p >= end || *p != ',') {
		snprintf(why, size, "malformed SCRAM gs2 header");
		return -1;
	}
	p++;
	sc->gs2[0] = msg[0];
	sc->gs2[1] = ',';
	sc->gs2[2] = ',';
	sc->gs2[3] = '\0';
	bare = p;
	/* client-first-bare: "n=" user "," "r=" nonce ["," extensions] */
	if (end - p < 2 || p[0] != 'n' || p[1] != '=') {
		snprintf(why, size, "malformed SCRAM client-first-message (no user name)");
		return -1;
	}
	r = memchr(p, ',', (size_t)(end - p));
	if (r == NULL || end - r < 4 || r[1] != 'r' || r[2] != '=') {
		snprintf(why, size, "malformed SCRAM client-first-message (no nonce)");
		return -1;
	}
	r += 3;
	rend = memchr(r, ',', (size_t)(end - r));
	if (rend == NULL)
		rend = end;
	if (!scram_nonce_ok(r, (size_t)(rend - r)) || (size_t)(rend - r) > SCRAM_CLIENT_NONCE_MAX) {
		snprintf(why, size, "malformed SCRAM client nonce");
		return -1;
	}
	memcpy(sc->client_first_bare, bare, (size_t)(end - bare));
	sc->client_first_bare[end - bare] = '\0';

	if (scram_b64(sc->sec->salt, sizeof(sc->sec->salt), salt, sizeof(salt)) < 0) {
		snprintf(why, size, "cannot encode the SCRAM salt");
		return -1;
	}
	snprintf(sc->nonce, sizeof(sc->nonce), "%.*s%s", (int)(rend - r), r, srv_nonce);
	snprintf(sc->server_first, sizeof(sc->server_first), "r=%s,s=%s,i=%d", sc->nonce, salt,
	         sc->sec->iterations);
	sc->step = 1;
	*reply = sc->server_first;
	return 0;
}

int
scram_client_final(struct scram *sc, const char *msg, size_t len, const char **reply, char *why,
                   size_t size)
{
	unsigned char proof[SCRAM_KEY_LEN + 4], sig[SCRAM_KEY_LEN], key[SCRAM_KEY_LEN];
	unsigned char stored[SCRAM_KEY_LEN], server_sig[SCRAM_KEY_LEN], cb[16];
	char authmsg[SCRAM_MESSAGE_MAX * 2 + 400], v[64];
	const char *end = msg + len, *p, *nonce, *nend, *pr;
	size_t i, nlen;
	int n, ok;

	if (sc->step != 1 || len > SCRAM_MESSAGE_MAX || memchr(msg, '\0', len) != NULL) {
		snprintf(why, size, "malformed SCRAM client-final-message");
		return -1;
	}
	/* "c=" base64(gs2 header) "," "r=" nonce ["," ext] "," "p=" proof */
	if (len < 2 || msg[0] != 'c' || msg[1] != '=') {
		snprintf(why, size, "malformed SCRAM client-final-message (no channel binding)");
		return -1;
	}
	p = memchr(msg, ',', len);
	if (p == NULL) {
		snprintf(why, size, "malformed SCRAM client-final-message");
		return -1;
	}
	n = scram_unb64(msg + 2, (size_t)(p - msg - 2), cb, sizeof(cb));
	if (n != 3 || memcmp(cb, sc->gs2, 3) != 0) {
		snprintf(why, size, "SCRAM channel binding does not match the gs2 header");
		return -1;
	}
	nonce = p + 1;
	if (end - nonce < 2 || nonce[0] != 'r' || nonce[1] != '=') {
		snprintf(why, size, "malformed SCRAM client-final-message (no nonce)");
		return -1;
	}
	nonce += 2;
	nend = memchr(nonce, ',', (size_t)(end - nonce));
	nlen = strlen(sc->nonce);
	if (nend == NULL || (size_t)(nend - nonce) != nlen || memcmp(nonce, sc->nonce, nlen) != 0) {
		snprintf(why, size, "SCRAM nonce mismatch");
		return -1;
	}
	/* the proof is the last attribute */
	pr = NULL;
	for (p = end - 1; p > msg; p--) {
		if (*p == ',') {
			pr = p;
			break;
		}
	}
	if (pr == NULL || end - pr < 4 || pr[1] != 'p' || pr[2] != '=') {
		snprintf(why, size, "malformed SCRAM client-final-message (no proof)");
		return -1;
	}
	n = scram_unb64(pr + 3, (size_t)(end - pr - 3), proof, sizeof(proof));
	if (n != SCRAM_KEY_LEN) {
		snprintf(why, size, "malformed SCRAM proof");
		return -1;
	}
	n = snprintf(authmsg, sizeof(authmsg), "%s,%s,%.*s", sc->client_first_bare,
	             sc->server_first, (int)(pr - msg), msg);
	if (n < 0 || (size_t)n >= sizeof(authmsg)) {
		snprintf(why, size, "SCRAM message too long");
		return -1;
	}
	if (scram_hmac(sc->sec->stored_key, SCRAM_KEY_LEN, authmsg, (size_t)n, sig) < 0) {
		snprintf(why, size, "HMAC failed (OpenSSL)");
		return -1;
	}
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	if (scram_sha256(key, sizeof(key), stored) < 0) {
		snprintf(why, size, "SHA-256 failed (OpenSSL)");
		return -1;
	}
	ok = CRYPTO_memcmp(stored, sc->sec->stored_key, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok) {
		sc->step = 2;
		return 0;
	}
	if (scram_hmac(sc->sec->server_key, SCRAM_KEY_LEN, authmsg, (size_t)n, server_sig) < 0 ||
	    scram_b64(server_sig, sizeof(server_sig), v, sizeof(v)) < 0) {
		snprintf(why, size, "HMAC failed (OpenSSL)");
		return -1;
	}
	snprintf(sc->reply, sizeof(sc->reply), "v=%s", v);
	sc->step = 2;
	*reply = sc->reply;
	return 1;
}
