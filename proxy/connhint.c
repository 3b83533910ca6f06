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
		snprintf(
			buf, size,
			"the server wants a password for %s and none was given: put it "
			"in PGPASSWORD, or in ~/.pgpass of the user pgsluice runs as "
			"(host:port:dbname:user:password, mode 600; PGPASSFILE names another file)",
			user);
	else if (conn != NULL && PQconnectionUsedPassword(conn))
		snprintf(buf, size,
		         "a password for %s was sent (from --target, PGPASSWORD or "
		         ".pgpass): if the server refused it, correct it where it came from",
		         user);
	else
		snprintf(buf, size, "check --target, that the server runs, and its pg_hba.conf");
}

/* the part of a libpq error line that repeats: after "...failed: " */
static const char *
connhint_why(const char *line, const char *end)
{
	const char *why = strstr(line, " failed: ");

	return why != NULL && why < end ? why + 9 : line;
}

void
connhint_error(const PGconn *conn, char *buf, size_t size)
{
	const char *msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	const char *line, *end, *why, *seen[32], *seen_end[32];
	size_t o = 0, n_seen = 0, i;
	int dup;

	buf[0] = '\0';
	for (line = msg; *line != '\0'; line = *end ? end + 1 : end) {
		while (*line == ' ' || *line == '\t')
			line++;
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (end == line)
			continue;
		/* "connection to server at X failed: WHY": each WHY (and hint) once */
		why = connhint_why(line, end);
		dup = 0;
		for (i = 0; i < n_seen && !dup; i++)
			dup = seen_end[i] - seen[i] == end - why &&
			      memcmp(seen[i], why, (size_t)(end - why)) == 0;
		if (dup)
			continue;
		if (n_seen < sizeof(seen) / sizeof(seen[0])) {
			seen[n_seen] = why;
			seen_end[n_seen++] = end;
		}
		if (o + 1 < size)
			o += (size_t)snprintf(buf + o, size - o, "%s%.*s", o ? "\n  " : "",
			                      (int)(end - line), line);
		if (o >= size)
			o = size - 1;
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
		snprintf(buf, size, "(not shown: libpq cannot parse it%s%.*s)", n ? ": " : "",
		         (int)n, err != NULL ? err : "");
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
				                 strcmp(o->keyword, "password") == 0 ? "***"
				                                                     : o->val);
	}
	PQconninfoFree(opts);
}

/* keyword's value in opts, or NULL */
static const char *
connhint_value(const PQconninfoOption *opts, const char *keyword)
{
	const PQconninfoOption *o;

	for (o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL && o->val[0] != '\0')
			return o->val;
	return NULL;
}

/* from the string, else libpq's default (its PG* variable, or built in) */
static const char *
connhint_either(const PQconninfoOption *given, const PQconninfoOption *dflt, const char *kw)
{
	const char *v = connhint_value(given, kw);

	return v != NULL ? v : connhint_value(dflt, kw);
}

void
connhint_describe(const char *conninfo, char *buf, size_t size)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	PQconninfoOption *dflt = PQconndefaults();
	const char *host, *port, *db, *user, *svc;

	if (opts == NULL) {
		snprintf(buf, size, "a target libpq cannot parse (check --target)");
		PQconninfoFree(dflt);
		return;
	}
	host = connhint_either(opts, dflt, "host");
	if (host == NULL)
		host = connhint_either(opts, dflt, "hostaddr");
	port = connhint_either(opts, dflt, "port");
	user = connhint_either(opts, dflt, "user");
	db = connhint_either(opts, dflt, "dbname");
	if (db == NULL)
		db = user; /* libpq's rule */
	svc = connhint_either(opts, dflt, "service");
	snprintf(buf, size, "database %s on host %s port %s as user %s%s%s", db ? db : "?",
	         host ? host : "(the default socket)", port ? port : "5432", user ? user : "?",
	         svc ? ", service " : "", svc ? svc : "");
	PQconninfoFree(opts);
	PQconninfoFree(dflt);
}
