/*
 * pgwire.c - the PostgreSQL wire protocol front end of an import
 * (pgwire.h): the object's life and what the session reads of it.
 *
 * The front end is cut by what it does, sharing struct pgwire through
 * pgwire_int.h (which also lists the phases): pgwire_start.c (startup,
 * SSLRequest, authentication), pgwire_predump.c (the queries before the
 * dump), pgwire_stream.c (the dump's messages into the lexer),
 * pgwire_reply.c (what goes back to the client), pgwire_after.c (after
 * the import).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "classify.h"
#include "log.h"
#include "pgwire.h"
#include "scram.h"
#include "sqltok.h"
#include "pgwire_int.h"

/* ---- life ------------------------------------------------------------- */

struct pgwire *
pgwire_new(const struct pgwire_config *cfg)
{
	struct pgwire *w = calloc(1, sizeof(*w));
	unsigned char key[8];

	if (w == NULL)
		return NULL;
	w->cfg = *cfg;
	w->phase = PW_STARTUP;
	if (RAND_bytes(key, sizeof(key)) != 1)
		memset(key, 0x5a, sizeof(key));
	w->key_pid = pgwire_get32(key) & 0x3fffffff;
	w->key_secret = pgwire_get32(key + 4);
	return w;
}

static void
pgwire_clear_error(struct pgwire *w)
{
	size_t i;

	for (i = 0; i < sizeof(w->field) / sizeof(w->field[0]); i++) {
		free(w->field[i]);
		w->field[i] = NULL;
	}
	w->have_error = 0;
}

void
pgwire_free(struct pgwire *w)
{
	char **p;

	if (w == NULL)
		return;
	if (w->params != NULL) {
		for (p = w->params; *p; p++)
			free(*p);
		free(w->params);
	}
	pgwire_clear_error(w);
	scram_end(&w->sc);
	free(w->mb.p);
	free(w->after_error);
	free(w->fcall);
	free(w);
}

const char *
pgwire_error(const struct pgwire *w)
{
	return w->error;
}

int
pgwire_fatal(const struct pgwire *w)
{
	return w->fatal;
}

uint64_t
pgwire_bytes(const struct pgwire *w)
{
	return w->bytes;
}

const char *
pgwire_param(const struct pgwire *w, const char *name)
{
	char **p;

	if (w->params == NULL)
		return NULL;
	for (p = w->params; p[0] && p[1]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}
