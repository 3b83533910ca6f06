/*
 * connhint.h - what to tell the operator when the target refuses a
 * connection, and a --target that is safe to print.
 *
 * Kept apart so that check and serve say the same thing: the advice is
 * chosen from libpq's own flags (PQconnectionNeedsPassword,
 * PQconnectionUsedPassword), not from its English, and a password in the
 * connection string (keyword or URI form) never reaches a terminal or a
 * log.
 */
#ifndef PGSLUICE_CONNHINT_H
#define PGSLUICE_CONNHINT_H

#include <stddef.h>

#include <libpq-fe.h>

/*
 * Into buf: one line (no newline) saying what to do about a failed
 * connection attempt conn (CONNECTION_BAD): where a missing password
 * goes, where a refused one came from, or the generic checks.  conn may
 * be NULL (out of memory).
 */
void connhint_advice(const PGconn *conn, char *buf, size_t size);

/*
 * Into buf: libpq's error message of conn on one line per distinct
 * failure (libpq repeats the same refusal for each address and SSL
 * attempt), without the trailing newline.
 */
void connhint_error(const PGconn *conn, char *buf, size_t size);

/*
 * Into buf: conninfo as it may be printed.  Without a password it is
 * conninfo itself; with one (password=..., or user:password@ in a URI)
 * it is rebuilt from its parsed keywords with the password shown as ***.
 * A string libpq cannot parse is replaced by a note saying so.
 */
void connhint_mask(const char *conninfo, char *buf, size_t size);

/*
 * Into buf: where conninfo leads, for the log: "database D on host H port
 * P as user U", each from the string, else libpq's default (the PG*
 * variable, or libpq's built-in value).  Never a password.  A string
 * libpq cannot parse gives a note saying so.
 */
void connhint_describe(const char *conninfo, char *buf, size_t size);

#endif
