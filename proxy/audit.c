/*
 * audit.c - the target role and database before and after an import
 * (audit.h).
 *
 * Kept apart from the preflight and the verification: those look at what
 * the dump is meant to create; this looks at what it must leave alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#define AUDIT_SHOWN 240 /* characters of a value in the message */

/* What each column is, for the message; in the order of audit_sql's columns. */
static const char *const audit_names[AUDIT_ITEMS] = {
	"the target role's attributes (pg_roles)",
	"the target role's settings (pg_db_role_setting)",
	"the target role's memberships (pg_auth_members)",
	"the target database (pg_database: owner, connection limit, datallowconn, "
	"datistemplate, ACL)",
	"the target database's settings (pg_db_role_setting)",
};

void
audit_init(struct audit *a)
{
	memset(a, 0, sizeof(*a));
}

void
audit_free(struct audit *a)
{
	int i;

	for (i = 0; i < AUDIT_ITEMS; i++)
		free(a->item[i]);
	audit_init(a);
}

const char *
audit_sql(void)
{
	return "WITH me AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user),\n"
	       "     db AS (SELECT oid FROM pg_catalog.pg_database\n"
	       "             WHERE datname = pg_catalog.current_database())\n"
	       "SELECT (SELECT pg_catalog.row_to_json(r)::text FROM pg_catalog.pg_roles r\n"
	       "         WHERE r.oid = (SELECT oid FROM me)),\n"
	       "       (SELECT COALESCE(pg_catalog.string_agg(t, '; ' ORDER BY t), '') FROM (\n"
	       "          SELECT COALESCE(d.datname, 'every database') || ': ' ||\n"
	       "                 pg_catalog.array_to_string(s.setconfig, ', ') AS t\n"
	       "            FROM pg_catalog.pg_db_role_setting s\n"
	       "            LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase\n"
	       "           WHERE s.setrole = (SELECT oid FROM me)) x),\n"
	       "       (SELECT COALESCE(pg_catalog.string_agg(t, ', ' ORDER BY t), '') FROM (\n"
	       "          SELECT pg_catalog.pg_get_userbyid(m.member) || ' in ' ||\n"
	       "                 pg_catalog.pg_get_userbyid(m.roleid) ||\n"
	       "                 CASE WHEN m.admin_option THEN ' with admin option' ELSE '' END AS t\n"
	       "            FROM pg_catalog.pg_auth_members m\n"
	       "           WHERE m.member = (SELECT oid FROM me) OR m.roleid = (SELECT oid FROM me)) x),\n"
	       "       (SELECT pg_catalog.row_to_json(x)::text FROM (\n"
	       "          SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba) AS owner,\n"
	       "                 d.datconnlimit, d.datallowconn, d.datistemplate, d.datacl::text AS acl\n"
	       "            FROM pg_catalog.pg_database d WHERE d.oid = (SELECT oid FROM db)) x),\n"
	       "       (SELECT COALESCE(pg_catalog.string_agg(t, '; ' ORDER BY t), '') FROM (\n"
	       "          SELECT CASE WHEN s.setrole = 0 THEN 'every role'\n"
	       "                      ELSE pg_catalog.pg_get_userbyid(s.setrole) END || ': ' ||\n"
	       "                 pg_catalog.array_to_string(s.setconfig, ', ') AS t\n"
	       "            FROM pg_catalog.pg_db_role_setting s\n"
	       "           WHERE s.setdatabase = (SELECT oid FROM db)) x)";
}

/* 0 when res is audit_sql's one row */
static int
audit_shape(const PGresult *res)
{
	return PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	                       PQnfields(res) == AUDIT_ITEMS
	               ? 0
	               : -1;
}

int
audit_snapshot(struct audit *a, const PGresult *res, char *err, size_t errsize)
{
	int i;

	audit_free(a);
	if (audit_shape(res) < 0) {
		snprintf(err, errsize, "cannot read the target role and database for the audit");
		return -1;
	}
	for (i = 0; i < AUDIT_ITEMS; i++) {
		a->item[i] = strdup(PQgetisnull(res, 0, i) ? "(none)" : PQgetvalue(res, 0, i));
		if (a->item[i] == NULL) {
			audit_free(a);
			snprintf(err, errsize, "out of memory");
			return -1;
		}
	}
	a->taken = 1;
	return 0;
}

/* "text" in quotes, cut at AUDIT_SHOWN characters, into out */
static void
audit_show(const char *v, char *out, size_t size)
{
	size_t n = strlen(v);

	if (n > AUDIT_SHOWN)
		snprintf(out, size, "\"%.*s...\"", AUDIT_SHOWN, v);
	else
		snprintf(out, size, "\"%s\"", v);
}

int
audit_compare(const struct audit *a, const PGresult *res, char *msg, size_t size)
{
	char was[AUDIT_SHOWN + 8], now[AUDIT_SHOWN + 8];
	const char *v;
	size_t o = 0;
	int i, changed = 0;

	msg[0] = '\0';
	if (!a->taken || audit_shape(res) < 0) {
		snprintf(msg, size, "cannot read the target role and database for the audit");
		return -1;
	}
	for (i = 0; i < AUDIT_ITEMS; i++) {
		v = PQgetisnull(res, 0, i) ? "(none)" : PQgetvalue(res, 0, i);
		if (strcmp(v, a->item[i]) == 0)
			continue;
		audit_show(a->item[i], was, sizeof(was));
		audit_show(v, now, sizeof(now));
		if (o < size)
			o += (size_t)snprintf(msg + o, size - o,
			                      "%s  %s changed: it was %s, it is now %s",
			                      changed ? "\n" : "", audit_names[i], was, now);
		changed = 1;
	}
	return changed;
}
