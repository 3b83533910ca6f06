/*
 * synapse.c - Synapse-aware checks of an import (synapse.h).
 *
 * Kept out of the session so that the session stays a generic dump pump:
 * it only hands statements, COPY data and preflight results over here and
 * acts on the verdicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqltok.h"
#include "synapse.h"

enum {
	SYNAPSE_COPY_NONE = 0,
	SYNAPSE_COPY_VERSION, /* schema_version (lock, version, upgraded) */
	SYNAPSE_COPY_COMPAT,  /* schema_compat_version (lock, compat_version) */
	SYNAPSE_COPY_DELTAS,  /* applied_schema_deltas (version, file) */
};

/* preflight steps */
enum {
	SYNAPSE_STEP_LOCALE = 0, /* query 1 next: locale, which tables exist */
	SYNAPSE_STEP_LOCALE_SENT,
	SYNAPSE_STEP_VERSION_SENT, /* query 2 sent: the versions */
	SYNAPSE_STEP_DONE,
};

static void
synapse_schema_reset(struct synapse_schema *v)
{
	memset(v, 0, sizeof(*v));
	v->version = -1;
	v->upgraded = -1;
	v->compat = -1;
	v->deltas = -1;
	v->max_delta = -1;
}

void
synapse_init(struct synapse *sy, enum synapse_mode mode, int force, const char *schema)
{
	memset(sy, 0, sizeof(*sy));
	sy->mode = mode;
	sy->force = force;
	snprintf(sy->schema, sizeof(sy->schema), "%s", schema ? schema : "public");
	sy->locale_ok = 1;
	synapse_schema_reset(&sy->target);
	synapse_schema_reset(&sy->dump);
}

const char *
synapse_mode_name(enum synapse_mode mode)
{
	switch (mode) {
	case SYNAPSE_ON:
		return "--synapse";
	case SYNAPSE_OFF:
		return "--no-synapse";
	default:
		return "auto";
	}
}

/* ---- preflight -------------------------------------------------------- */

static char *
synapse_sql_locale(struct synapse *sy, PGconn *conn, char *err, size_t errsize)
{
	static const char fmt[] =
		"SELECT pg_catalog.quote_ident(d.datname),\n"
		"       pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.datdba)),\n"
		"       pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype,\n"
		"       pg_catalog.to_regclass(pg_catalog.format('%%I.schema_version', %s)) IS NOT NULL,\n"
		"       pg_catalog.to_regclass(pg_catalog.format('%%I.schema_compat_version', %s))\n"
		"         IS NOT NULL,\n"
		"       pg_catalog.to_regclass(pg_catalog.format('%%I.applied_schema_deltas', %s))\n"
		"         IS NOT NULL\n"
		"  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()";
	char *lit, *sql;
	size_t n;

	lit = PQescapeLiteral(conn, sy->schema, strlen(sy->schema));
	if (lit == NULL) {
		snprintf(err, errsize, "cannot quote schema name %s: %s", sy->schema,
		         PQerrorMessage(conn));
		return NULL;
	}
	n = sizeof(fmt) + 3 * strlen(lit);
	sql = malloc(n);
	if (sql != NULL)
		snprintf(sql, n, fmt, lit, lit, lit);
	else
		snprintf(err, errsize, "out of memory");
	PQfreemem(lit);
	return sql;
}

static char *
synapse_sql_version(struct synapse *sy, PGconn *conn, char *err, size_t errsize)
{
	static const char fmt[] = "SELECT (SELECT version FROM %s.schema_version LIMIT 1),\n"
				  "       (SELECT upgraded FROM %s.schema_version LIMIT 1),\n"
				  "       %s%s%s,\n"
				  "       %s%s%s,\n"
				  "       %s%s%s";
	char *id, *sql;
	size_t n;

	id = PQescapeIdentifier(conn, sy->schema, strlen(sy->schema));
	if (id == NULL) {
		snprintf(err, errsize, "cannot quote schema name %s: %s", sy->schema,
		         PQerrorMessage(conn));
		return NULL;
	}
	n = sizeof(fmt) + 5 * strlen(id) + 256;
	sql = malloc(n);
	if (sql == NULL) {
		snprintf(err, errsize, "out of memory");
		PQfreemem(id);
		return NULL;
	}
	snprintf(sql, n, fmt, id, id,
	         sy->has_compat ? "(SELECT compat_version FROM " : "NULL::integer",
	         sy->has_compat ? id : "", sy->has_compat ? ".schema_compat_version LIMIT 1)" : "",
	         sy->has_deltas ? "(SELECT count(*) FROM " : "NULL::bigint",
	         sy->has_deltas ? id : "", sy->has_deltas ? ".applied_schema_deltas)" : "",
	         sy->has_deltas ? "(SELECT max(version) FROM " : "NULL::integer",
	         sy->has_deltas ? id : "", sy->has_deltas ? ".applied_schema_deltas)" : "");
	PQfreemem(id);
	return sql;
}

int
synapse_preflight_next(struct synapse *sy, PGconn *conn, char **sql, char *err, size_t errsize)
{
	*sql = NULL;
	if (sy->mode == SYNAPSE_OFF)
		sy->step = SYNAPSE_STEP_DONE;
	switch (sy->step) {
	case SYNAPSE_STEP_LOCALE:
		*sql = synapse_sql_locale(sy, conn, err, errsize);
		if (*sql == NULL)
			return -1;
		sy->step = SYNAPSE_STEP_LOCALE_SENT;
		return 1;
	case SYNAPSE_STEP_LOCALE_SENT:
		if (!sy->target.present) {
			sy->step = SYNAPSE_STEP_DONE;
			return 0;
		}
		*sql = synapse_sql_version(sy, conn, err, errsize);
		if (*sql == NULL)
			return -1;
		sy->step = SYNAPSE_STEP_VERSION_SENT;
		return 1;
	default:
		sy->step = SYNAPSE_STEP_DONE;
		return 0;
	}
}

static int
synapse_int(const PGresult *res, int col, long *out)
{
	char *end;

	if (PQgetisnull(res, 0, col))
		return 0;
	*out = strtol(PQgetvalue(res, 0, col), &end, 10);
	return *end == '\0';
}

int
synapse_preflight_result(struct synapse *sy, const PGresult *res, char *err, size_t errsize)
{
	long v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(err, errsize, "unexpected answer to the Synapse preflight query");
		return -1;
	}
	if (sy->step == SYNAPSE_STEP_LOCALE_SENT) {
		if (PQnfields(res) != 8) {
			snprintf(err, errsize, "unexpected answer to the database locale query");
			return -1;
		}
		snprintf(sy->dbname, sizeof(sy->dbname), "%s", PQgetvalue(res, 0, 0));
		snprintf(sy->owner, sizeof(sy->owner), "%s", PQgetvalue(res, 0, 1));
		snprintf(sy->encoding, sizeof(sy->encoding), "%s", PQgetvalue(res, 0, 2));
		snprintf(sy->collate, sizeof(sy->collate), "%s", PQgetvalue(res, 0, 3));
		snprintf(sy->ctype, sizeof(sy->ctype), "%s", PQgetvalue(res, 0, 4));
		sy->target.present = PQgetvalue(res, 0, 5)[0] == 't';
		sy->has_compat = PQgetvalue(res, 0, 6)[0] == 't';
		sy->has_deltas = PQgetvalue(res, 0, 7)[0] == 't';
		/* what Synapse's PostgresEngine.check_database insists on */
		sy->locale_ok = strcmp(sy->encoding, "UTF8") == 0 &&
		                strcmp(sy->collate, "C") == 0 && strcmp(sy->ctype, "C") == 0;
		sy->read = 1;
		return 0;
	}
	if (sy->step == SYNAPSE_STEP_VERSION_SENT) {
		if (PQnfields(res) != 5) {
			snprintf(err, errsize,
			         "unexpected answer to the Synapse schema version query");
			return -1;
		}
		if (synapse_int(res, 0, &v))
			sy->target.version = (int)v;
		if (!PQgetisnull(res, 0, 1))
			sy->target.upgraded = PQgetvalue(res, 0, 1)[0] == 't';
		if (synapse_int(res, 2, &v))
			sy->target.compat = (int)v;
		if (synapse_int(res, 3, &v))
			sy->target.deltas = v;
		if (synapse_int(res, 4, &v))
			sy->target.max_delta = (int)v;
		return 0;
	}
	snprintf(err, errsize, "internal error: Synapse preflight result out of turn");
	return -1;
}

/* The locale refusal, with its fix. */
static void
synapse_locale_msg(const struct synapse *sy, const char *why, char *msg, size_t size)
{
	snprintf(msg, size,
	         "the target database %s has encoding %s, LC_COLLATE %s and LC_CTYPE %s, but "
	         "Synapse requires encoding UTF8 with LC_COLLATE and LC_CTYPE C, and refuses to "
	         "start on anything else (%s)\n"
	         "  fix: create the target database anew, as a superuser (it is to be replaced "
	         "by the import anyway):\n"
	         "    DROP DATABASE %s;\n"
	         "    CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' "
	         "TEMPLATE template0 OWNER %s;\n"
	         "  then send the dump again (pgsluice serve --no-synapse skips this check)",
	         sy->dbname, sy->encoding, sy->collate, sy->ctype, why, sy->dbname, sy->dbname,
	         sy->owner);
}

int
synapse_locale_refusal(const struct synapse *sy, const char *why, char *msg, size_t size)
{
	if (!sy->read || sy->locale_ok)
		return 0;
	synapse_locale_msg(sy, why, msg, size);
	return -1;
}

int
synapse_preflight_verdict(const struct synapse *sy, char *msg, size_t size)
{
	char why[128];

	if (sy->mode == SYNAPSE_OFF || !sy->read || sy->locale_ok)
		return 0;
	if (sy->mode == SYNAPSE_ON) {
		synapse_locale_msg(sy, "pgsluice serve runs with --synapse", msg, size);
		return -1;
	}
	if (sy->target.present) {
		if (sy->target.version >= 0)
			snprintf(why, sizeof(why), "the target holds a Synapse schema, version %d",
			         sy->target.version);
		else
			snprintf(why, sizeof(why), "the target holds a Synapse schema");
		synapse_locale_msg(sy, why, msg, size);
		return -1;
	}
	return 0; /* AUTO: judged when the dump shows what it is */
}

/* "version 94 (compat 84, 125 deltas applied, up to 94)" */
static void
synapse_version_text(const struct synapse_schema *v, char *buf, size_t size)
{
	int n;

	if (v->version < 0) {
		snprintf(buf, size, "no version row");
		return;
	}
	n = snprintf(buf, size, "version %d", v->version);
	if (n < 0 || (size_t)n >= size)
		return;
	if (v->compat >= 0 || v->deltas >= 0) {
		n += snprintf(buf + n, size - (size_t)n, " (");
		if (v->compat >= 0 && (size_t)n < size)
			n += snprintf(buf + n, size - (size_t)n, "compat %d%s", v->compat,
			              v->deltas >= 0 ? ", " : "");
		if (v->deltas >= 0 && (size_t)n < size)
			n += snprintf(buf + n, size - (size_t)n, "%ld delta%s applied", v->deltas,
			              v->deltas == 1 ? "" : "s");
		if (v->max_delta >= 0 && (size_t)n < size)
			n += snprintf(buf + n, size - (size_t)n, ", up to %d", v->max_delta);
		if ((size_t)n < size)
			snprintf(buf + n, size - (size_t)n, ")");
	}
}

int
synapse_target_line(const struct synapse *sy, char *buf, size_t size)
{
	char ver[128];

	if (sy->mode == SYNAPSE_OFF || !sy->read)
		return 0;
	if (sy->mode == SYNAPSE_AUTO && !sy->target.present)
		return 0; /* not known to be for Synapse (yet): the dump will tell */
	if (sy->target.present)
		synapse_version_text(&sy->target, ver, sizeof(ver));
	snprintf(buf, size,
	         "synapse: target database %s: encoding %s, collate %s, ctype %s%s; %s%s",
	         sy->dbname, sy->encoding, sy->collate, sy->ctype,
	         sy->locale_ok ? " (as Synapse requires)" : "",
	         sy->target.present ? "Synapse schema " : "no Synapse schema",
	         sy->target.present ? ver : "");
	return 1;
}

/* ---- the dump --------------------------------------------------------- */

/*
 * Read a possibly qualified name starting at token *t; on return *t is the
 * token after it.  schema is "" when unqualified.  Returns 0, or -1 when
 * *t is not a name.
 */
static int
synapse_read_name(struct sqltok_iter *it, struct sqltok *t, char *schema, size_t ssize, char *name,
                  size_t nsize)
{
	if (t->type != SQLTOK_WORD && t->type != SQLTOK_QIDENT)
		return -1;
	sqltok_name(t, name, nsize);
	schema[0] = '\0';
	sqltok_next(it, t);
	if (t->type == SQLTOK_OP && t->len == 1 && t->p[0] == '.') {
		snprintf(schema, ssize, "%s", name);
		if (sqltok_next(it, t) != SQLTOK_WORD && t->type != SQLTOK_QIDENT)
			return -1;
		sqltok_name(t, name, nsize);
		sqltok_next(it, t);
	}
	return 0;
}

static int
synapse_table(const struct synapse *sy, const char *schema, const char *name)
{
	if (schema[0] != '\0' && strcmp(schema, sy->schema) != 0)
		return SYNAPSE_COPY_NONE;
	if (strcmp(name, "schema_version") == 0)
		return SYNAPSE_COPY_VERSION;
	if (strcmp(name, "schema_compat_version") == 0)
		return SYNAPSE_COPY_COMPAT;
	if (strcmp(name, "applied_schema_deltas") == 0)
		return SYNAPSE_COPY_DELTAS;
	return SYNAPSE_COPY_NONE;
}

/* The dump is a Synapse dump: is the target's locale one Synapse takes? */
static int
synapse_seen(struct synapse *sy, char *msg, size_t size)
{
	sy->dump_synapse = 1;
	sy->dump.present = 1;
	if (sy->read && !sy->locale_ok) {
		synapse_locale_msg(sy,
		                   "the dump is a Synapse dump: it holds a schema_version table",
		                   msg, size);
		return -1;
	}
	return 0;
}

/* COPY name (a, b, ...) FROM stdin: where the columns of interest are. */
static void
synapse_copy_columns(struct synapse *sy, struct sqltok_iter *it, struct sqltok *t)
{
	const char *want_a, *want_b = NULL;
	char col[64];
	int i = 0;

	/* without a column list: the order of Synapse's CREATE TABLE */
	switch (sy->copy) {
	case SYNAPSE_COPY_VERSION:
		want_a = "version";
		want_b = "upgraded";
		sy->col_a = 1;
		sy->col_b = 2;
		break;
	case SYNAPSE_COPY_COMPAT:
		want_a = "compat_version";
		sy->col_a = 1;
		sy->col_b = -1;
		break;
	default:
		want_a = "version";
		sy->col_a = 0;
		sy->col_b = -1;
		break;
	}
	if (t->type != SQLTOK_OP || t->p[0] != '(')
		return;
	sy->col_a = sy->col_b = -1;
	while (sqltok_next(it, t) != SQLTOK_END) {
		if (t->type == SQLTOK_OP && t->p[0] == ')')
			break;
		if (t->type == SQLTOK_OP && t->p[0] == ',') {
			i++;
			continue;
		}
		sqltok_name(t, col, sizeof(col));
		if (strcmp(col, want_a) == 0)
			sy->col_a = i;
		else if (want_b != NULL && strcmp(col, want_b) == 0)
			sy->col_b = i;
	}
}

int
synapse_statement(struct synapse *sy, const char *text, size_t len, int std_strings, char *msg,
                  size_t size)
{
	struct sqltok_iter it;
	struct sqltok t;
	char schema[64], name[64];
	int kind;

	if (sy->mode == SYNAPSE_OFF)
		return 0;
	sqltok_init(&it, text, len, std_strings);
	if (sqltok_next(&it, &t) != SQLTOK_WORD)
		return 0;
	if (sqltok_is(&t, "create")) {
		sqltok_next(&it, &t);
		if (sqltok_is(&t, "unlogged"))
			sqltok_next(&it, &t);
		if (!sqltok_is(&t, "table"))
			return 0;
		sqltok_next(&it, &t);
		if (sqltok_is(&t, "if")) {
			sqltok_next(&it, &t); /* not */
			sqltok_next(&it, &t); /* exists */
			sqltok_next(&it, &t);
		}
		if (synapse_read_name(&it, &t, schema, sizeof(schema), name, sizeof(name)) < 0)
			return 0;
		if (synapse_table(sy, schema, name) == SYNAPSE_COPY_VERSION)
			return synapse_seen(sy, msg, size);
		return 0;
	}
	if (!sqltok_is(&t, "copy"))
		return 0;
	sqltok_next(&it, &t);
	if (synapse_read_name(&it, &t, schema, sizeof(schema), name, sizeof(name)) < 0)
		return 0;
	kind = synapse_table(sy, schema, name);
	if (kind == SYNAPSE_COPY_NONE)
		return 0;
	sy->copy = kind;
	sy->row_len = 0;
	sy->row_done = 0;
	sy->row[0] = '\0';
	synapse_copy_columns(sy, &it, &t);
	if (kind == SYNAPSE_COPY_VERSION)
		return synapse_seen(sy, msg, size);
	return 0;
}

void
synapse_copy_data(struct synapse *sy, const char *data, size_t len)
{
	const char *nl;
	size_t n;

	if ((sy->copy != SYNAPSE_COPY_VERSION && sy->copy != SYNAPSE_COPY_COMPAT) || sy->row_done)
		return;
	nl = memchr(data, '\n', len);
	n = nl != NULL ? (size_t)(nl - data) : len;
	if (n > sizeof(sy->row) - 1 - sy->row_len)
		n = sizeof(sy->row) - 1 - sy->row_len;
	memcpy(sy->row + sy->row_len, data, n);
	sy->row_len += n;
	sy->row[sy->row_len] = '\0';
	if (nl != NULL)
		sy->row_done = 1;
}

/* Field col of a text-format COPY line; 1 when it is there and not NULL. */
static int
synapse_field(const char *row, int col, char *out, size_t size)
{
	const char *p = row, *tab;
	size_t n;
	int i;

	if (col < 0)
		return 0;
	for (i = 0; i < col; i++) {
		p = strchr(p, '\t');
		if (p == NULL)
			return 0;
		p++;
	}
	tab = strchr(p, '\t');
	n = tab != NULL ? (size_t)(tab - p) : strlen(p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return strcmp(out, "\\N") != 0;
}

static int
synapse_field_int(const char *row, int col, int *out)
{
	char buf[32], *end;
	long v;

	if (!synapse_field(row, col, buf, sizeof(buf)))
		return 0;
	v = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || v < 0 || v > 1000000)
		return 0;
	*out = (int)v;
	return 1;
}

/* The dump's schema_version has arrived: compare it with the target's. */
static enum synapse_note
synapse_compare(struct synapse *sy)
{
	const struct synapse_schema *d = &sy->dump, *tg = &sy->target;
	char compat[64] = "";

	sy->compared = 1;
	if (d->version < 0) {
		snprintf(sy->note, sizeof(sy->note),
		         "the dump's schema_version table has no row: "
		         "Synapse will not know which schema it has");
		return SYNAPSE_NOTE_WARN;
	}
	if (!tg->present || tg->version < 0) {
		snprintf(sy->note, sizeof(sy->note),
		         "the target had no Synapse schema%s before the import; the dump's schema "
		         "version %d is imported as is (the EES Synapse must support it)",
		         tg->present ? " version (its schema_version table had no row)" : "",
		         d->version);
		return SYNAPSE_NOTE_INFO;
	}
	if (d->version > tg->version) {
		if (d->compat >= 0)
			snprintf(compat, sizeof(compat), " (its schema_compat_version is %d)",
			         d->compat);
		if (sy->force) {
			snprintf(
				sy->note, sizeof(sy->note),
				"--force-schema-version: the dump's Synapse schema version %d%s is newer "
				"than the target's %d; imported anyway: the EES Synapse may refuse to "
				"start on it",
				d->version, compat, tg->version);
			return SYNAPSE_NOTE_WARN;
		}
		snprintf(
			sy->note, sizeof(sy->note),
			"the dump's Synapse schema version %d%s is newer than the target's %d: the "
			"dump comes from a newer Synapse than the one that set up the target (EES), "
			"which would not start on it\n"
			"  fix: upgrade EES until its Synapse is at schema version %d or later, then "
			"send the dump again (or start pgsluice serve with --force-schema-version to "
			"import it anyway)",
			d->version, compat, tg->version, d->version);
		return SYNAPSE_NOTE_REFUSE;
	}
	if (d->version < tg->version) {
		snprintf(
			sy->note, sizeof(sy->note),
			"the dump's Synapse schema version %d is older than the target's %d: the EES "
			"Synapse will run its database migrations (%d to %d) on its first start; "
			"upgrading the old server to the same Synapse release before the dump is "
			"recommended",
			d->version, tg->version, d->version, tg->version);
		return SYNAPSE_NOTE_WARN;
	}
	snprintf(
		sy->note, sizeof(sy->note),
		"the dump's Synapse schema version %d equals the target's: the EES Synapse runs on "
		"it without migrations",
		d->version);
	return SYNAPSE_NOTE_INFO;
}

enum synapse_note
synapse_copy_end(struct synapse *sy, uint64_t rows, char *msg, size_t size)
{
	int kind = sy->copy, v;
	enum synapse_note note = SYNAPSE_NOTE_NONE;

	sy->copy = SYNAPSE_COPY_NONE;
	switch (kind) {
	case SYNAPSE_COPY_DELTAS:
		sy->dump.deltas = (long)rows;
		break;
	case SYNAPSE_COPY_COMPAT:
		if (rows > 0 && synapse_field_int(sy->row, sy->col_a, &v))
			sy->dump.compat = v;
		break;
	case SYNAPSE_COPY_VERSION:
		if (rows > 0 && synapse_field_int(sy->row, sy->col_a, &v))
			sy->dump.version = v;
		if (rows > 0 && synapse_field(sy->row, sy->col_b, msg, size))
			sy->dump.upgraded = msg[0] == 't';
		note = synapse_compare(sy);
		sy->verdict = note;
		snprintf(msg, size, "%s", sy->note);
		break;
	default:
		break;
	}
	return note;
}

enum synapse_note
synapse_dump_end(struct synapse *sy, char *msg, size_t size)
{
	if (sy->mode != SYNAPSE_ON || sy->compared)
		return SYNAPSE_NOTE_NONE;
	snprintf(sy->note, sizeof(sy->note),
	         "--synapse: the dump holds no %s.schema_version row: is it a Synapse database?",
	         sy->schema);
	snprintf(msg, size, "%s", sy->note);
	return SYNAPSE_NOTE_WARN;
}

void
synapse_summary(const struct synapse *sy, report_emit_fn emit, void *arg)
{
	char line[900], dv[128], tv[128];

	if (sy->mode == SYNAPSE_OFF)
		return;
	if (!sy->dump_synapse && !sy->target.present && sy->mode != SYNAPSE_ON)
		return;
	synapse_version_text(&sy->dump, dv, sizeof(dv));
	if (sy->target.present)
		synapse_version_text(&sy->target, tv, sizeof(tv));
	snprintf(line, sizeof(line), "  synapse: dump: %s%s; target before the import: %s%s",
	         sy->dump_synapse ? "schema " : "no Synapse schema", sy->dump_synapse ? dv : "",
	         sy->target.present ? "schema " : "no Synapse schema",
	         sy->target.present ? tv : "");
	emit(arg, line);
	if (sy->note[0] != '\0') {
		/* the first line of the note (the fix, if any, was in the ERROR) */
		snprintf(line, sizeof(line), "  synapse: %.*s", (int)strcspn(sy->note, "\n"),
		         sy->note);
		emit(arg, line);
	}
	if (sy->read) {
		snprintf(line, sizeof(line),
		         "  synapse: target database %s: encoding %s, collate %s, "
		         "ctype %s%s",
		         sy->dbname, sy->encoding, sy->collate, sy->ctype,
		         sy->locale_ok ? " (as Synapse requires)" : " (Synapse refuses this)");
		emit(arg, line);
	}
}
