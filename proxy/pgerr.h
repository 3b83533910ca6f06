/*
 * pgerr.h - the server's error for a command, kept from its PGresult.
 *
 * One capture for every module that reports a server error (the session,
 * the --jobs engine): the first error result of a command is kept, and
 * its text is always written the same way, "message (SQLSTATE x)" and a
 * DETAIL, HINT and CONTEXT line for each field the server sent.
 */
#ifndef PGSLUICE_PGERR_H
#define PGSLUICE_PGERR_H

#include <libpq-fe.h>

struct pgerr {
	int set;                                 /* an error is kept */
	char sqlstate[8];                        /* "?????" when the server sent none */
	char *message, *detail, *hint, *context; /* NULL when not sent */
};

/* Keep res's error fields, unless an error is kept already.  A zeroed struct is empty. */
void pgerr_save(struct pgerr *e, const PGresult *res);

/* Forget the kept error (free its fields); *e is empty after. */
void pgerr_clear(struct pgerr *e);

/* The kept error as text (see above), malloc'd; NULL when out of memory. */
char *pgerr_text(const struct pgerr *e);

#endif
