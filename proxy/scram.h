/*
 * scram.h - the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as
 * PostgreSQL speaks it, so that a PostgreSQL client (psql, pg_restore)
 * proves it knows the daemon's token without sending it.
 *
 * Kept apart from the wire protocol (pgwire.c) and from the token file
 * (auth.c): this file holds the arithmetic and the message syntax only.
 * No I/O, no libevent; OpenSSL for PBKDF2, HMAC, SHA-256 and random bytes.
 *
 * The secret is made once from the token (auth_load): a random salt,
 * SCRAM_ITERATIONS rounds of PBKDF2, and from the salted password the
 * StoredKey and ServerKey; the token itself is not kept.  Each connection
 * then runs one exchange:
 *
 *	struct scram sc;
 *	scram_begin(&sc, secret);
 *	scram_client_first(&sc, msg, len, &reply, why, size);   // server-first
 *	scram_client_final(&sc, msg, len, &reply, why, size);   // server-final
 *	scram_end(&sc);
 *
 * Channel binding (SCRAM-SHA-256-PLUS) is not offered; a client that
 * supports it says "y" and is accepted, one that demands it ("p=") is not.
 * The password is not SASLprep'd: for an ASCII token (openssl rand -hex)
 * libpq's SASLprep is the identity.
 */
#ifndef PGSLUICE_SCRAM_H
#define PGSLUICE_SCRAM_H

#include <stddef.h>

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_LEN 16
#define SCRAM_ITERATIONS 4096
#define SCRAM_NONCE_LEN 18         /* random bytes of the server's nonce */
#define SCRAM_MESSAGE_MAX 1024     /* bytes of a client message we accept */
#define SCRAM_CLIENT_NONCE_MAX 100 /* bytes of the client's nonce we accept */
#define SCRAM_SERVER_NONCE_MAX \
	56 /* bytes of the server's nonce (base64 of the random
                                      * bytes: 24) */

struct scram_secret {
	unsigned char salt[SCRAM_SALT_LEN];
	int iterations;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Make the secret of password (random salt).  Returns 0, or -1 (OpenSSL failed). */
int scram_secret_make(struct scram_secret *sec, const char *password, size_t len)
	__attribute__((warn_unused_result));

/*
 * The same with the salt and the rounds given (scram_secret_make draws the
 * salt; RFC 7677's test vector gives one).  Returns 0, or -1 (OpenSSL
 * failed, or iterations < 1).
 */
int scram_secret_salted(struct scram_secret *sec, const char *password, size_t len,
                        const unsigned char salt[SCRAM_SALT_LEN], int iterations)
	__attribute__((warn_unused_result));

struct scram {
	const struct scram_secret *sec;
	int step;        /* 0: want client-first, 1: want client-final, 2: done */
	char gs2[4];     /* the client's "n,," or "y,," */
	char nonce[160]; /* client nonce + server nonce */
	char client_first_bare[SCRAM_MESSAGE_MAX + 1];
	char server_first[320];
	char reply[160]; /* the last server message */
};

/* Start an exchange against sec (borrowed: it must outlive sc). */
void scram_begin(struct scram *sc, const struct scram_secret *sec);

/*
 * The client-first-message (msg[0..len), not NUL-terminated).  Returns 0
 * with the server-first-message in *reply (NUL-terminated, in sc), or -1
 * with a one-line reason in why (malformed, channel binding demanded).
 */
int scram_client_first(struct scram *sc, const char *msg, size_t len, const char **reply, char *why,
                       size_t size) __attribute__((warn_unused_result));

/*
 * The same with the server's part of the nonce given (NUL-terminated,
 * printable ASCII without ',', at most SCRAM_SERVER_NONCE_MAX bytes):
 * scram_client_first passes SCRAM_NONCE_LEN random bytes in base64;
 * RFC 7677's test vector gives one.
 */
int scram_client_first_nonce(struct scram *sc, const char *msg, size_t len,
                             const char *server_nonce, const char **reply, char *why, size_t size)
	__attribute__((warn_unused_result));

/*
 * The client-final-message.  Returns 1 when the proof is right, with the
 * server-final-message ("v=...") in *reply; 0 when it is wrong (the wrong
 * password); -1 when the message is malformed (why says how).
 */
int scram_client_final(struct scram *sc, const char *msg, size_t len, const char **reply, char *why,
                       size_t size) __attribute__((warn_unused_result));

/* Wipe the exchange's state. */
void scram_end(struct scram *sc);

#endif
