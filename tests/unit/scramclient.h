/*
 * scramclient.h - the client's side of SCRAM-SHA-256, written for the
 * tests from RFC 5802's formulas with OpenSSL's PBKDF2 and HMAC, so that
 * the server's side (proxy/scram.c) is checked against an independent
 * computation (test_scram.c, test_pgwire.c).
 */
#ifndef PGSLUICE_SCRAMCLIENT_H
#define PGSLUICE_SCRAMCLIENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* base64 text (NUL-terminated) into out; the bytes */
static size_t
unb64(const char *text, unsigned char *out)
{
	size_t len = strlen(text);
	int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);

	if (n < 0)
		return 0;
	while (len > 0 && text[len - 1] == '=') {
		len--;
		n--;
	}
	return (size_t)n;
}

static void
hmac(const unsigned char *key, size_t klen, const void *data, size_t len, unsigned char *out)
{
	unsigned int n = 0;

	HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n);
}

/*
 * The client's side (RFC 5802): the proof of password for the exchange
 * client_first_bare, server_first, final_bare, in base64 into proof.
 */
static void
client_proof(const char *password, const char *client_first_bare, const char *server_first,
             const char *final_bare, char *proof, size_t size)
{
	unsigned char salt[64], salted[32], ckey[32], stored[32], sig[32], p[32];
	char authmsg[2048], salt_b64[80];
	const char *s = strstr(server_first, ",s="), *i = strstr(server_first, ",i=");
	size_t slen, k;
	unsigned int n = 0;

	snprintf(salt_b64, sizeof(salt_b64), "%.*s", (int)(i - s - 3), s + 3);
	slen = unb64(salt_b64, salt);
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)slen, atoi(i + 3),
	                  EVP_sha256(), 32, salted);
	hmac(salted, 32, "Client Key", 10, ckey);
	EVP_Digest(ckey, 32, stored, &n, EVP_sha256(), NULL);
	snprintf(authmsg, sizeof(authmsg), "%s,%s,%s", client_first_bare, server_first, final_bare);
	hmac(stored, 32, authmsg, strlen(authmsg), sig);
	for (k = 0; k < 32; k++)
		p[k] = ckey[k] ^ sig[k];
	if (size >= 45)
		EVP_EncodeBlock((unsigned char *)proof, p, 32);
}

#endif
