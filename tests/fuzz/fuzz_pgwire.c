/*
 * fuzz_pgwire.c - libFuzzer target for what an unauthenticated PostgreSQL
 * client sends: pgwire_startup, pgwire_auth (SCRAM), pgwire_predump and
 * pgwire_refill's message framing, driven as the session drives them
 * (../unit/wiredrive.h), and scram.c's message parsers directly.
 *
 * The first byte chooses the configuration (bits 0-2: 0 plain, 1 TLS
 * offered, 2 TLS only, 3 SCRAM, 4 a 100-byte --max-statement) or, with bit
 * 3, the SCRAM parsers alone; the second seeds the chunk sizes (0: one byte
 * at a time).  The rest is the client's bytes.
 *
 * Property: any chunking gives the same transcript (results, answers,
 * lexer events) as the whole input, except where TLS is started (a client
 * sends nothing after its SSLRequest until it reads the 'S', so a whole
 * read sees bytes that a cut one does not), and with the statements of a
 * message that fails half-streamed left out (wd_settle).  In the SCRAM mode, the third
 * byte is the length of the client-first-message, the rest the
 * client-final; the server nonce is RFC 7677's, the secret that of its
 * "pencil", so that the RFC's messages pass and their mutations reach the
 * proof.  Crashes, leaks and sanitizer reports fail as usual.
 */
#include <stdint.h>

#include "../unit/wiredrive.h"
#include "log.h"
#include "scram.h"

static struct scram_secret secret, rfc_secret;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* RFC 7677's salt: W22ZaJ0SNY7soEsUEjb6gQ== */
	static const unsigned char salt[SCRAM_SALT_LEN] = {
		0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
		0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
	};
	(void)argc;
	(void)argv;

	log_set_level(LOG_LEVEL_ERROR);
	wd_settle = 1;
	if (scram_secret_make(&secret, "token", 5) != 0 ||
	    scram_secret_salted(&rfc_secret, "pencil", 6, salt, 4096) != 0)
		abort();
	return 0;
}

static void
fuzz_scram(const uint8_t *data, size_t size)
{
	struct scram sc;
	const char *reply;
	char why[256], *fin;
	size_t n;

	if (size < 1)
		return;
	n = data[0] < size - 1 ? data[0] : size - 1;
	scram_begin(&sc, &rfc_secret);
	if (scram_client_first_nonce(&sc, (const char *)data + 1, n,
	                             "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", &reply, why,
	                             sizeof(why)) == 0) {
		if (strlen(reply) > sizeof(sc.server_first))
			abort();
		/* the rest in a buffer of its exact size */
		fin = malloc(size - 1 - n ? size - 1 - n : 1);

		if (fin == NULL)
			abort();
		memcpy(fin, data + 1 + n, size - 1 - n);
		if (scram_client_final(&sc, fin, size - 1 - n, &reply, why, sizeof(why)) == 1 &&
		    strncmp(reply, "v=", 2) != 0)
			abort();
		free(fin);
	}
	scram_end(&sc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgwire_config cfg = { 0, 0, NULL, 0, "fuzz" };
	size_t *cuts, ncuts = 0, at = 0;
	uint32_t rnd;
	char *whole, *cut;
	int kind;

	if (size < 2)
		return 0;
	if (data[0] & 8) {
		fuzz_scram(data + 2, size - 2);
		return 0;
	}
	kind = data[0] & 7;
	cfg.tls_available = kind == 1 || kind == 2;
	cfg.tls_required = kind == 2;
	cfg.scram = kind == 3 ? &secret : NULL;
	cfg.max_query = kind == 4 ? 100 : 0;
	rnd = data[1];
	data += 2;
	size -= 2;

	cuts = malloc((size + 1) * sizeof(*cuts));
	if (cuts == NULL)
		abort();
	while (at < size) {
		if (rnd == 0) {
			at++;
		} else {
			rnd = rnd * 1103515245u + 12345u;
			at += 1 + (rnd >> 16) % 64;
		}
		if (at < size)
			cuts[ncuts++] = at;
		else
			break;
	}
	whole = wd_run(&cfg, data, size, NULL, 0);
	cut = wd_run(&cfg, data, size, cuts, ncuts);
	if (strcmp(whole, cut) != 0 && strstr(whole, "[tls]") == NULL &&
	    strstr(cut, "[tls]") == NULL) {
		fprintf(stderr, "whole:   %s\nchunked: %s\n", whole, cut);
		abort();
	}
	free(whole);
	free(cut);
	free(cuts);
	return 0;
}
