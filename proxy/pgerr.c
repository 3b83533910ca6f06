/*
 * pgerr.c - the server's error for a command (pgerr.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgerr.h"

/* A field without its trailing newlines and spaces, malloc'd; NULL when not sent. */
static char *
pgerr_field(const PGresult *res, int code)
{
	const char *v = PQresultErrorField(res, code);
	char *p;
	size_t n;

	if (v == NULL || *v == '\0')
		return NULL;
	p = strdup(v);
	if (p == NULL)
		return NULL;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
		p[--n] = '\0';
	return p;
}

void
pgerr_save(struct pgerr *e, const PGresult *res)
{
	const char *state;

	if (e->set)
		return;
	e->set = 1;
	e->message = pgerr_field(res, PG_DIAG_MESSAGE_PRIMARY);
	if (e->message == NULL)
		e->message = strdup(PQresultErrorMessage(res));
	e->detail = pgerr_field(res, PG_DIAG_MESSAGE_DETAIL);
	e->hint = pgerr_field(res, PG_DIAG_MESSAGE_HINT);
	e->context = pgerr_field(res, PG_DIAG_CONTEXT);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state ? state : "?????");
}

void
pgerr_clear(struct pgerr *e)
{
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->context);
	memset(e, 0, sizeof(*e));
}

char *
pgerr_text(const struct pgerr *e)
{
	const char *msg = e->message ? e->message : "unknown error";
	char *p;
	size_t n;

	n = strlen(msg) + 64 + (e->detail ? strlen(e->detail) + 16 : 0) +
	    (e->hint ? strlen(e->hint) + 16 : 0) + (e->context ? strlen(e->context) + 16 : 0);
	p = malloc(n);
	if (p == NULL)
		return NULL;
	snprintf(p, n, "%s (SQLSTATE %s)%s%s%s%s%s%s", msg, e->sqlstate,
	         e->detail ? "\n  DETAIL: " : "", e->detail ? e->detail : "",
	         e->hint ? "\n  HINT: " : "", e->hint ? e->hint : "",
	         e->context ? "\n  CONTEXT: " : "", e->context ? e->context : "");
	return p;
}
