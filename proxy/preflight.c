/*
 * preflight.c - catalog queries run before an import, and their results
 * (preflight.h).  Shared by `check` and `serve` so that both judge the
 * target the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preflight.h"
#include "text.h"

/* advisory lock keys: 'pgsl' and a hash of the database name */
#define PREFLIGHT_LOCK_CLASS "1885827948"

const char *
preflight_sql_lock(void)
{
	return "SELECT pg_catalog.pg_try_advisory_lock(" PREFLIGHT_LOCK_CLASS
	       ", pg_catalog.hashtext(pg_catalog.current_database())),"
	       " pg_catalog.current_database(), current_user";
}

const char *
preflight_sql_unlock(void)
{
	return "SELECT pg_catalog.pg_advisory_unlock(" PREFLIGHT_LOCK_CLASS
	       ", pg_catalog.hashtext(pg_catalog.current_database()))";
}

static void
preflight_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int
preflight_lock_load(struct preflight_lock *l, const PGresult *res, char *err, size_t errsize)
{
	memset(l, 0, sizeof(*l));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 3) {
		snprintf(err, errsize, "unexpected answer to the lock query");
		return -1;
	}
	l->locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	preflight_copy(l->dbname, sizeof(l->dbname), PQgetvalue(res, 0, 1));
	preflight_copy(l->user, sizeof(l->user), PQgetvalue(res, 0, 2));
	return 0;
}

const char *
preflight_sql_settings(void)
{
	return "SELECT name FROM pg_catalog.pg_settings";
}

static int
preflight_strcasecmp_p(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

int
preflight_settings_load(struct preflight_settings *s, const PGresult *res)
{
	int i, n;

	memset(s, 0, sizeof(*s));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) < 1)
		return -1;
	n = PQntuples(res);
	s->names = calloc((size_t)n + 1, sizeof(char *));
	if (s->names == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		s->names[i] = strdup(PQgetvalue(res, i, 0));
		if (s->names[i] == NULL) {
			preflight_settings_free(s);
			return -1;
		}
		s->n++;
	}
	qsort(s->names, s->n, sizeof(char *), preflight_strcasecmp_p);
	return 0;
}

void
preflight_settings_free(struct preflight_settings *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

int
preflight_setting_known(void *arg, const char *name)
{
	const struct preflight_settings *s = arg;

	if (s == NULL || s->names == NULL)
		return 1;
	return bsearch(&name, s->names, s->n, sizeof(char *), preflight_strcasecmp_p) != NULL;
}

/* "ARRAY['public','x']::text[]" with each name quoted by libpq */
static char *
preflight_schema_array(PGconn *conn, const char *const *schemas, int n, char *err, size_t errsize)
{
	char *out, *lit;
	size_t len = 16, used;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(schemas[i]) * 2 + 8;
	out = malloc(len);
	if (out == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	used = (size_t)snprintf(out, len, "ARRAY[");
	for (i = 0; i < n; i++) {
		lit = PQescapeLiteral(conn, schemas[i], strlen(schemas[i]));
		if (lit == NULL) {
			snprintf(err, errsize, "cannot quote schema name %s: %s", schemas[i],
			         PQerrorMessage(conn));
			free(out);
			return NULL;
		}
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", lit);
		PQfreemem(lit);
	}
	snprintf(out + used, len - used, "]::text[]");
	return out;
}

/*
 * What the target schemas hold: one query for check, --clear-target and
 * the --jobs aside/undo.  Rows: kind (for people), kw (for DROP/ALTER),
 * ident (schema-qualified, with the arguments of a routine), owner, mine
 * (the connected role may drop it), follows (it goes with another row:
 * a sequence owned by a column moves and drops with its table), ord (drop
 * order).  @NSP@ is the condition on the schema name.
 *
 * Everything a dump can create in a schema: tables of every kind (plain,
 * partitioned and their partitions, foreign), sequences, views,
 * materialized views, routines, domains, types, collations, conversions,
 * text search configurations and dictionaries.  Left out: extension
 * members (dropped with their extension, which is not in a schema),
 * objects internal to another (an identity column's sequence, a range
 * type's constructors, an array or row type), and what goes with its table (indexes, constraints,
 * triggers, policies, statistics).  The internal dependencies of a
 * partitioned table on its own key columns do not hide it.
 */
static const char preflight_objects_core[] =
	"SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'\n"
	"        WHEN 'f' THEN 'foreign table' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'\n"
	"        ELSE 'materialized view' END AS kind,\n"
	"        CASE c.relkind WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE'\n"
	"        WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kw,\n"
	"        pg_catalog.format('%I.%I', n.nspname, c.relname) AS ident,\n"
	"        pg_catalog.pg_get_userbyid(c.relowner) AS owner,\n"
	"        pg_catalog.pg_has_role(c.relowner, 'USAGE') AS mine,\n"
	"        c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid\n"
	"           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"           AND d.refobjid <> c.oid AND d.deptype = 'a') AS follows,\n"
	"        CASE c.relkind WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'f' THEN 2\n"
	"        WHEN 'S' THEN 3 ELSE 4 END AS ord\n"
	"   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
	"  WHERE n.nspname @NSP@ AND c.relkind IN ('r','p','f','S','v','m')\n"
	"    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"           AND d.objid = c.oid AND (d.deptype = 'e'\n"
	"            OR (d.deptype = 'i' AND d.refobjid <> c.oid)))\n"
	" UNION ALL\n"
	" SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'\n"
	"        ELSE 'function' END,\n"
	"        CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'\n"
	"        ELSE 'FUNCTION' END,\n"
	"        pg_catalog.format('%I.%I(%s)', n.nspname, p.proname,\n"
	"                          pg_catalog.pg_get_function_identity_arguments(p.oid)),\n"
	"        pg_catalog.pg_get_userbyid(p.proowner),\n"
	"        pg_catalog.pg_has_role(p.proowner, 'USAGE'), false, 5\n"
	"   FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n"
	"  WHERE n.nspname @NSP@\n"
	"    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass\n"
	"           AND d.objid = p.oid AND d.deptype IN ('e', 'i'))\n"
	" UNION ALL\n"
	" SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END,\n"
	"        CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,\n"
	"        pg_catalog.format('%I.%I', n.nspname, t.typname),\n"
	"        pg_catalog.pg_get_userbyid(t.typowner),\n"
	"        pg_catalog.pg_has_role(t.typowner, 'USAGE'), false,\n"
	"        CASE t.typtype WHEN 'd' THEN 6 ELSE 7 END\n"
	"   FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n"
	"  WHERE n.nspname @NSP@\n"
	"    AND (t.typrelid = 0 OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c\n"
	"         WHERE c.oid = t.typrelid AND c.relkind = 'c'))\n"
	"    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)\n"
	"    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass\n"
	"           AND d.objid = t.oid AND d.deptype IN ('e', 'i'))\n"
	" UNION ALL\n"
	" SELECT 'collation', 'COLLATION', pg_catalog.format('%I.%I', n.nspname, o.collname),\n"
	"        pg_catalog.pg_get_userbyid(o.collowner), pg_catalog.pg_has_role(o.collowner, 'USAGE'),\n"
	"        false, 8\n"
	"   FROM pg_catalog.pg_collation o JOIN pg_catalog.pg_namespace n ON n.oid = o.collnamespace\n"
	"  WHERE n.nspname @NSP@ AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_collation'::pg_catalog.regclass\n"
	"           AND d.objid = o.oid AND d.deptype = 'e')\n"
	" UNION ALL\n"
	" SELECT 'conversion', 'CONVERSION', pg_catalog.format('%I.%I', n.nspname, o.conname),\n"
	"        pg_catalog.pg_get_userbyid(o.conowner), pg_catalog.pg_has_role(o.conowner, 'USAGE'),\n"
	"        false, 8\n"
	"   FROM pg_catalog.pg_conversion o JOIN pg_catalog.pg_namespace n ON n.oid = o.connamespace\n"
	"  WHERE n.nspname @NSP@ AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_conversion'::pg_catalog.regclass\n"
	"           AND d.objid = o.oid AND d.deptype = 'e')\n"
	" UNION ALL\n"
	" SELECT 'text search configuration', 'TEXT SEARCH CONFIGURATION',\n"
	"        pg_catalog.format('%I.%I', n.nspname, o.cfgname),\n"
	"        pg_catalog.pg_get_userbyid(o.cfgowner), pg_catalog.pg_has_role(o.cfgowner, 'USAGE'),\n"
	"        false, 9\n"
	"   FROM pg_catalog.pg_ts_config o JOIN pg_catalog.pg_namespace n ON n.oid = o.cfgnamespace\n"
	"  WHERE n.nspname @NSP@ AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_ts_config'::pg_catalog.regclass\n"
	"           AND d.objid = o.oid AND d.deptype = 'e')\n"
	" UNION ALL\n"
	" SELECT 'text search dictionary', 'TEXT SEARCH DICTIONARY',\n"
	"        pg_catalog.format('%I.%I', n.nspname, o.dictname),\n"
	"        pg_catalog.pg_get_userbyid(o.dictowner), pg_catalog.pg_has_role(o.dictowner, 'USAGE'),\n"
	"        false, 10\n"
	"   FROM pg_catalog.pg_ts_dict o JOIN pg_catalog.pg_namespace n ON n.oid = o.dictnamespace\n"
	"  WHERE n.nspname @NSP@ AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"         WHERE d.classid = 'pg_catalog.pg_ts_dict'::pg_catalog.regclass\n"
	"           AND d.objid = o.oid AND d.deptype = 'e')\n";

char *
preflight_sql_objects_core(const char *nsp_cond)
{
	struct text t = { 0 };
	const char *p = preflight_objects_core, *at;

	while ((at = strstr(p, "@NSP@")) != NULL) {
		text_add(&t, p, (size_t)(at - p));
		text_cat(&t, nsp_cond);
		p = at + 5;
	}
	text_cat(&t, p);
	return text_take(&t);
}

char *
preflight_sql_objects(PGconn *conn, const char *const *schemas, int n_schemas, char *err,
                      size_t errsize)
{
	struct text t = { 0 };
	char *arr, *cond, *core;

	arr = preflight_schema_array(conn, schemas, n_schemas, err, errsize);
	if (arr == NULL)
		return NULL;
	text_cat(&t, "= ANY (");
	text_cat(&t, arr);
	text_cat(&t, ")");
	free(arr);
	cond = text_take(&t);
	core = cond != NULL ? preflight_sql_objects_core(cond) : NULL;
	free(cond);
	if (core == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	text_cat(&t, "SELECT o.kind, o.kw, o.ident, o.owner, o.mine FROM (\n");
	text_cat(&t, core);
	text_cat(&t, ") o ORDER BY o.ord, o.kind, o.ident");
	free(core);
	arr = text_take(&t);
	if (arr == NULL)
		snprintf(err, errsize, "out of memory");
	return arr;
}

int
preflight_objects_load(struct preflight_objects *o, const PGresult *res, char *err, size_t errsize)
{
	int i, n;

	memset(o, 0, sizeof(*o));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 5) {
		snprintf(err, errsize, "unexpected answer to the schema query");
		return -1;
	}
	n = PQntuples(res);
	if (n == 0)
		return 0;
	o->v = calloc((size_t)n, sizeof(*o->v));
	if (o->v == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		struct preflight_object *ob = &o->v[i];

		ob->kind = strdup(PQgetvalue(res, i, 0));
		ob->kw = strdup(PQgetvalue(res, i, 1));
		ob->ident = strdup(PQgetvalue(res, i, 2));
		ob->owner = strdup(PQgetvalue(res, i, 3));
		ob->mine = strcmp(PQgetvalue(res, i, 4), "t") == 0;
		o->n++;
		if (ob->kind == NULL || ob->kw == NULL || ob->ident == NULL || ob->owner == NULL)
			goto oom;
	}
	return 0;
oom:
	preflight_objects_free(o);
	snprintf(err, errsize, "out of memory reading the schema query");
	return -1;
}

void
preflight_objects_free(struct preflight_objects *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].kind);
		free(o->v[i].kw);
		free(o->v[i].ident);
		free(o->v[i].owner);
	}
	free(o->v);
	memset(o, 0, sizeof(*o));
}

static const char *
preflight_plural(const char *kind, size_t n, char *buf, size_t size)
{
	size_t len = strlen(kind);

	if (n == 1)
		return kind;
	/* "materialized view" -> "materialized views", "type" -> "types" */
	snprintf(buf, size, "%s%s", kind, len > 0 && kind[len - 1] == 's' ? "es" : "s");
	return buf;
}

char *
preflight_objects_counts(const struct preflight_objects *o)
{
	struct text s = { 0 };
	char num[32], pl[64];
	size_t i, j, n;

	if (o->n == 0)
		return strdup("nothing");
	for (i = 0; i < o->n; i = j) {
		/* the list is ordered by kind within each group: count a run */
		n = 0;
		for (j = i; j < o->n && strcmp(o->v[j].kind, o->v[i].kind) == 0; j++)
			n++;
		snprintf(num, sizeof(num), "%s%zu ", i ? ", " : "", n);
		text_cat(&s, num);
		text_cat(&s, preflight_plural(o->v[i].kind, n, pl, sizeof(pl)));
	}
	return text_take(&s);
}

char *
preflight_objects_list(const struct preflight_objects *o, size_t max, const char *indent)
{
	struct text s = { 0 };
	char more[64];
	size_t i;

	for (i = 0; i < o->n && i < max; i++) {
		text_cat(&s, indent);
		text_cat(&s, o->v[i].kind);
		text_cat(&s, " ");
		text_cat(&s, o->v[i].ident);
		if (!o->v[i].mine) {
			text_cat(&s, " (owned by ");
			text_cat(&s, o->v[i].owner);
			text_cat(&s, ")");
		}
		text_cat(&s, "\n");
	}
	if (o->n > max) {
		snprintf(more, sizeof(more), "... and %zu more\n", o->n - max);
		text_cat(&s, indent);
		text_cat(&s, more);
	}
	return text_take(&s);
}

const struct preflight_object *
preflight_objects_foreign(const struct preflight_objects *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (!o->v[i].mine)
			return &o->v[i];
	return NULL;
}

char *
preflight_drop_sql(const struct preflight_objects *o)
{
	struct text s = { 0 };
	const char *kw, *prev = NULL;
	size_t i;

	/*
	 * IF EXISTS: a CASCADE from an earlier group may have taken an object
	 * already (a sequence owned by a table, a view over a table).
	 */
	for (i = 0; i < o->n; i++) {
		kw = o->v[i].kw;
		if (prev == NULL || strcmp(prev, kw) != 0) {
			if (prev != NULL)
				text_cat(&s, " CASCADE;\n");
			text_cat(&s, "DROP ");
			text_cat(&s, kw);
			text_cat(&s, " IF EXISTS ");
		} else {
			text_cat(&s, ", ");
		}
		text_cat(&s, o->v[i].ident);
		prev = kw;
	}
	if (prev != NULL)
		text_cat(&s, " CASCADE;\n");
	return text_take(&s);
}

const char *
preflight_sql_standing(void)
{
	return "SELECT pg_catalog.current_setting('server_version'), r.rolsuper,\n"
	       "       pg_catalog.pg_get_userbyid(d.datdba),\n"
	       "       pg_catalog.pg_has_role(d.datdba, 'USAGE'),\n"
	       "       pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'),\n"
	       "       (SELECT pg_catalog.string_agg(DISTINCT v.name, ', ' ORDER BY v.name)\n"
	       "          FROM pg_catalog.pg_available_extension_versions v WHERE v.trusted),\n"
	       "       (SELECT pg_catalog.string_agg(e.extname || ' ' || e.extversion, ', '\n"
	       "                                     ORDER BY e.extname)\n"
	       "          FROM pg_catalog.pg_extension e),\n"
	       "       pg_catalog.current_database(), current_user\n"
	       "  FROM pg_catalog.pg_roles r, pg_catalog.pg_database d\n"
	       " WHERE r.rolname = current_user AND d.datname = pg_catalog.current_database()";
}

char *
preflight_sql_schemas(PGconn *conn, const char *const *schemas, int n_schemas, char *err,
                      size_t errsize)
{
	static const char fmt[] =
		"SELECT s.name, n.oid IS NOT NULL, pg_catalog.pg_get_userbyid(n.nspowner),\n"
		"       COALESCE(pg_catalog.pg_has_role(n.nspowner, 'USAGE'), false),\n"
		"       COALESCE(pg_catalog.has_schema_privilege(n.oid, 'CREATE'), false)\n"
		"  FROM pg_catalog.unnest(%s) WITH ORDINALITY AS s(name, i)\n"
		"  LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.name\n"
		" ORDER BY s.i";
	char *arr, *sql;
	size_t len;

	arr = preflight_schema_array(conn, schemas, n_schemas, err, errsize);
	if (arr == NULL)
		return NULL;
	len = sizeof(fmt) + strlen(arr);
	sql = malloc(len);
	if (sql == NULL) {
		snprintf(err, errsize, "out of memory");
		free(arr);
		return NULL;
	}
	snprintf(sql, len, fmt, arr);
	free(arr);
	return sql;
}

const char *
preflight_sql_role(void)
{
	return "SELECT r.rolsuper, r.rolcreaterole, r.rolbypassrls,\n"
	       "       COALESCE((SELECT pg_catalog.string_agg(g.rolname, ',' ORDER BY g.rolname)\n"
	       "                   FROM pg_catalog.pg_roles g\n"
	       "                  WHERE g.rolname IN ('pg_write_server_files',\n"
	       "                                      'pg_execute_server_program',\n"
	       "                                      'pg_read_server_files', 'pg_signal_backend')\n"
	       "                    AND pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')), '')\n"
	       "  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";
}

int
preflight_role_load(struct preflight_role *r, const PGresult *res, char *err, size_t errsize)
{
	memset(r, 0, sizeof(*r));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 4) {
		snprintf(err, errsize, "cannot read the target role's attributes (pg_roles)");
		return -1;
	}
	r->super = PQgetvalue(res, 0, 0)[0] == 't';
	r->createrole = PQgetvalue(res, 0, 1)[0] == 't';
	r->bypassrls = PQgetvalue(res, 0, 2)[0] == 't';
	preflight_copy(r->members, sizeof(r->members), PQgetvalue(res, 0, 3));
	return 0;
}

enum preflight_role_verdict
preflight_role_judge(const struct preflight_role *r, const char *user, int allow_super, char *msg,
                     size_t size)
{
	char what[320];

	if (r->super && !allow_super) {
		snprintf(
			msg, size,
			"the target role %s is a superuser: a dump runs with its rights, "
			"and a hostile dump could then run OS commands on the database host, read "
			"and write its files and change every database; connect as the database's "
			"owner, a role without SUPERUSER (README: Security), or start pgsluice serve "
			"with --allow-superuser-target to accept that",
			user);
		return PREFLIGHT_ROLE_REFUSE;
	}
	if (r->super) {
		snprintf(msg, size,
		         "the target role %s is a superuser, allowed by "
		         "--allow-superuser-target: the dump runs with every right on the server",
		         user);
		return PREFLIGHT_ROLE_SUPER_OK;
	}
	snprintf(what, sizeof(what), "%s%s%s%s%s", r->createrole ? "CREATEROLE" : "",
	         r->createrole && r->bypassrls ? ", " : "", r->bypassrls ? "BYPASSRLS" : "",
	         (r->createrole || r->bypassrls) && r->members[0] ? ", member of "
	         : r->members[0]                                  ? "member of "
	                                                          : "",
	         r->members);
	if (what[0] == '\0') {
		msg[0] = '\0';
		return PREFLIGHT_ROLE_OK;
	}
	snprintf(msg, size,
	         "the target role %s has %s: a dump runs with these rights too (roles, "
	         "row security, server files, other sessions); an import needs none of them",
	         user, what);
	return PREFLIGHT_ROLE_WARN;
}

size_t
preflight_objects_tables(const struct preflight_objects *o)
{
	size_t i, n = 0;

	for (i = 0; i < o->n; i++)
		if (strstr(o->v[i].kind, "table") != NULL)
			n++;
	return n;
}
