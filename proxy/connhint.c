/*
 * connhint.c - advice for a refused target connection, and a printable
 * --target (connhint.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "connhint.h"

void
connhint_advice(const PGconn *conn, char *buf, size_t size)
{
	const char *user = conn != NULL ? PQuser(conn) : NULL;

	if (user == NULL || *user == '\0')
		user = "the --target user";
	if (conn != NULL && PQconnectionNeedsPassword(conn))
		snprintf(buf, size, "the server wants a password for %s and none was given: put it "
		         "in PGPASSWORD, or in ~/.pgpass of the user pgsluice runs as "
		         "(host:port:dbname:user:password, mode 600; PGPASSFILE names another file)",
		         user);
	else if (conn != NULL && PQconnectionUsedPassword(conn))
		snprintf(buf, size, "a password for %s was sent (from --target, PGPASSWORD or "
		         ".pgpass): if the server refused it, correct it where it came from", user);
	else
		snprintf(buf, size, "check --target, that the server runs, and its pg_hba.conf");
}

void
connhint_error(const PGconn *conn, char *buf, size_t size)
{
	const char *msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	const char *line, *end, *why, *seen;
	size_t o = 0, len, wlen;
	int dup;

	buf[0] = '\0';
	for (line = msg; *line != '\0' && o + 1 < size; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		len = (size_t)(end - line);
		if (len == 0)
			continue;
		/* "connection to server at X failed: WHY": the same WHY once */
		why = strstr(line, " failed: ");
		why = why != NULL && why < end ? why + 9 : line;
		wlen = (size_t)(end - why);
		dup = 0;
		for (seen = strstr(buf, " failed: "); seen != NULL && !dup;
		     seen = strstr(seen + 1, " failed: "))
			dup = strncmp(seen + 9, why, wlen) == 0 &&
			      (seen[9 + wlen] == '\n' || seen[9 + wlen] == '\0');
		if (dup)
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%s%.*s", o ? "\n  " : "", (int)len, line);
	}
}

/* value, quoted for a conninfo string when it needs it */
static size_t
connhint_put(char *buf, size_t size, size_t o, const char *key, const char *val)
{
	const char *p;
	int quote = *val == '\0' || strpbrk(val, " \t\n'\\") != NULL;

	if (o + 1 >= size)
		return o;
	o += (size_t)snprintf(buf + o, size - o, "%s%s=%s", o ? " " : "", key, quote ? "'" : "");
	for (p = val; *p != '\0' && o + 2 < size; p++) {
		if (quote && (*p == '\'' || *p == '\\'))
			buf[o++] = '\\';
		buf[o++] = *p;
	}
	buf[o] = '\0';
	if (quote && o + 1 < size) {
		buf[o++] = '\'';
		buf[o] = '\0';
	}
	return o;
}

void
connhint_mask(const char *conninfo, char *buf, size_t size)
{
	PQconninfoOption *opts, *o;
	char *err = NULL;
	size_t n = 0;
	int has_password = 0;

	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		n = err != NULL ? strcspn(err, "\n") : 0;
		snprintf(buf, size, "(not shown: libpq cannot parse it%s%.*s)", n ? ": " : "", (int)n,
		         err != NULL ? err : "");
		PQfreemem(err);
		return;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && strcmp(o->keyword, "password") == 0)
			has_password = 1;
	if (!has_password) {
		snprintf(buf, size, "%s", conninfo);
	} else {
		buf[0] = '\0';
		for (o = opts; o->keyword != NULL; o++)
			if (o->val != NULL)
				n = connhint_put(buf, size, n, o->keyword,
				                 strcmp(o->keyword, "password") == 0 ? "***" : o->val);
	}
	PQconninfoFree(opts);
}
