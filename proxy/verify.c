/*
 * verify.c - the checks that stand between the end of a dump and OK
 * (verify.h).
 *
 * Kept apart from the session so that what "verified" means is written in
 * one place, and can be tested without a daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqltok.h"
#include "text.h"
#include "verify.h"

enum {
	VERIFY_STEP_RESOLVE = 0, /* which relations the setval names are: next */
	VERIFY_STEP_RESOLVE_SENT,
	VERIFY_STEP_VALUES_SENT, /* the values of one batch: sent */
	VERIFY_STEP_DONE,
};

void
verify_init(struct verify *v)
{
	memset(v, 0, sizeof(*v));
	v->db_size = -1;
}

void
verify_free(struct verify *v)
{
	size_t i;

	for (i = 0; i < v->n_seqs; i++) {
		free(v->seqs[i].name);
		free(v->seqs[i].rel);
	}
	free(v->seqs);
	memset(v, 0, sizeof(*v));
	v->db_size = -1;
}

static int
verify_op(const struct sqltok *t, char c)
{
	return t->type == SQLTOK_OP && t->len == 1 && t->p[0] == c;
}

/* Remember setval(name, value, called); the last one for a name wins. */
static int
verify_add_seq(struct verify *v, const char *name, long long value, int called, uint64_t line)
{
	struct verify_seq *ns;
	size_t i, ncap;

	for (i = 0; i < v->n_seqs; i++) {
		if (strcmp(v->seqs[i].name, name) == 0) {
			v->seqs[i].value = value;
			v->seqs[i].is_called = called;
			v->seqs[i].line = line;
			return 0;
		}
	}
	if (v->n_seqs == v->cap_seqs) {
		ncap = v->cap_seqs ? v->cap_seqs * 2 : 32;
		ns = realloc(v->seqs, ncap * sizeof(*ns));
		if (ns == NULL)
			return -1;
		v->seqs = ns;
		v->cap_seqs = ncap;
	}
	ns = &v->seqs[v->n_seqs];
	memset(ns, 0, sizeof(*ns));
	ns->name = strdup(name);
	if (ns->name == NULL)
		return -1;
	ns->value = value;
	ns->is_called = called;
	ns->line = line;
	v->n_seqs++;
	return 0;
}

/*
 * SELECT [pg_catalog.]setval('name', [-]N[, true|false]);
 * Anything else (other arguments, a setval among other expressions) is not
 * a sequence setting pg_dump writes, and is not verified.
 */
static int
verify_setval(struct verify *v, struct sqltok_iter *it, uint64_t line)
{
	struct sqltok t;
	char name[512], num[32], *end;
	long long value;
	int called = 1, neg = 0;

	sqltok_next(it, &t);
	if (sqltok_is(&t, "pg_catalog")) {
		if (!verify_op((sqltok_next(it, &t), &t), '.'))
			return 0;
		sqltok_next(it, &t);
	}
	if (!sqltok_is(&t, "setval") || !verify_op((sqltok_next(it, &t), &t), '('))
		return 0;
	if (sqltok_next(it, &t) != SQLTOK_STRING || t.len < 2 || t.p[0] != '\'')
		return 0;
	if (sqltok_name(&t, name, sizeof(name)) >= sizeof(name))
		return 0;
	if (!verify_op((sqltok_next(it, &t), &t), ','))
		return 0;
	sqltok_next(it, &t);
	if (verify_op(&t, '-')) {
		neg = 1;
		sqltok_next(it, &t);
	}
	if (t.type != SQLTOK_NUMBER || t.len >= sizeof(num))
		return 0;
	memcpy(num, t.p, t.len);
	num[t.len] = '\0';
	value = strtoll(num, &end, 10);
	if (*end != '\0')
		return 0;
	if (neg)
		value = -value;
	sqltok_next(it, &t);
	if (verify_op(&t, ',')) {
		sqltok_next(it, &t);
		if (sqltok_is(&t, "true"))
			called = 1;
		else if (sqltok_is(&t, "false"))
			called = 0;
		else
			return 0;
		sqltok_next(it, &t);
	}
	if (!verify_op(&t, ')'))
		return 0;
	sqltok_next(it, &t);
	if (verify_op(&t, ';'))
		sqltok_next(it, &t);
	if (t.type != SQLTOK_END)
		return 0;
	return verify_add_seq(v, name, value, called, line);
}

/* COPY ... FROM stdin [WITH (FORMAT csv|binary) | CSV | BINARY] */
static void
verify_copy_start(struct verify *v, struct sqltok_iter *it)
{
	struct sqltok t;

	v->copy_countable = 1;
	v->copy_ended = 0;
	v->copy_lines = 0;
	while (sqltok_next(it, &t) != SQLTOK_END) {
		/* CSV, BINARY, WITH (FORMAT csv); a column named so only costs the check */
		if (sqltok_is(&t, "csv") || sqltok_is(&t, "binary"))
			v->copy_countable = 0;
	}
}

int
verify_statement(struct verify *v, const char *text, size_t len, int std_strings, uint64_t line)
{
	struct sqltok_iter it;
	struct sqltok t;

	sqltok_init(&it, text, len, std_strings);
	if (sqltok_next(&it, &t) != SQLTOK_WORD)
		return 0;
	if (sqltok_is(&t, "select"))
		return verify_setval(v, &it, line);
	if (sqltok_is(&t, "copy"))
		verify_copy_start(v, &it);
	return 0;
}

void
verify_copy_end(struct verify *v, uint64_t lines)
{
	v->copy_ended = 1;
	v->copy_lines = lines;
}

int
verify_copy_result(struct verify *v, const char *table, uint64_t rows, char *err, size_t errsize)
{
	if (!v->copy_ended || !v->copy_countable) {
		v->tables_unchecked++;
		v->copy_ended = 0;
		return 0;
	}
	v->copy_ended = 0;
	if (rows != v->copy_lines) {
		snprintf(err, errsize,
		         "verification failed: COPY %s: the target took %llu rows, but "
		         "the dump sent %llu data lines for it",
		         table, (unsigned long long)rows, (unsigned long long)v->copy_lines);
		return -1;
	}
	v->tables_ok++;
	v->rows_ok += rows;
	return 0;
}

/* The query text, or the out-of-memory error. */
static char *
verify_sql_done(struct text *s, char *err, size_t errsize)
{
	char *sql = text_take(s);

	if (sql == NULL)
		snprintf(err, errsize, "out of memory building the verification query");
	return sql;
}

/* Which relation each setval name is: (i, regclass text or NULL, relkind). */
static char *
verify_sql_resolve(const struct verify *v, PGconn *conn, char *err, size_t errsize)
{
	struct text s = { 0 };
	char num[32], *lit;
	size_t i;

	text_cat(&s, "SELECT v.i, c.oid::pg_catalog.regclass::pg_catalog.text, c.relkind\n"
	             "  FROM (VALUES ");
	for (i = 0; i < v->n_seqs; i++) {
		lit = PQescapeLiteral(conn, v->seqs[i].name, strlen(v->seqs[i].name));
		if (lit == NULL) {
			free(text_take(&s));
			snprintf(err, errsize, "cannot quote sequence name %s: %s", v->seqs[i].name,
			         PQerrorMessage(conn));
			return NULL;
		}
		snprintf(num, sizeof(num), "%s(%zu, ", i ? ", " : "", i);
		text_cat(&s, num);
		text_cat(&s, lit);
		text_cat(&s, ")");
		PQfreemem(lit);
	}
	text_cat(&s, ") AS v(i, name)\n"
	             "  LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(v.name)\n"
	             " ORDER BY v.i");
	return verify_sql_done(&s, err, errsize);
}

/*
 * The values of seqs[lo..hi).  The names are the server's own regclass
 * output (quoted as needed), never text from the dump.
 */
static char *
verify_sql_values(const struct verify *v, size_t lo, size_t hi, char *err, size_t errsize)
{
	struct text s = { 0 };
	char num[96];
	size_t i;

	for (i = lo; i < hi; i++) {
		snprintf(num, sizeof(num), "%sSELECT %zu, last_value, is_called FROM ",
		         i > lo ? "\nUNION ALL " : "", i);
		text_cat(&s, num);
		text_cat(&s, v->seqs[i].rel);
	}
	text_cat(&s, "\nORDER BY 1");
	return verify_sql_done(&s, err, errsize);
}

int
verify_next(struct verify *v, PGconn *conn, char **sql, char *err, size_t errsize)
{
	*sql = NULL;
	if (v->n_seqs == 0)
		v->step = VERIFY_STEP_DONE;
	switch (v->step) {
	case VERIFY_STEP_RESOLVE:
		*sql = verify_sql_resolve(v, conn, err, errsize);
		if (*sql == NULL)
			return -1;
		v->step = VERIFY_STEP_RESOLVE_SENT;
		return 1;
	case VERIFY_STEP_RESOLVE_SENT:
	case VERIFY_STEP_VALUES_SENT:
		v->batch_lo = v->step == VERIFY_STEP_VALUES_SENT ? v->batch_hi : 0;
		if (v->batch_lo < v->n_seqs) {
			v->batch_hi = v->n_seqs - v->batch_lo > VERIFY_BATCH
			                      ? v->batch_lo + VERIFY_BATCH
			                      : v->n_seqs;
			*sql = verify_sql_values(v, v->batch_lo, v->batch_hi, err, errsize);
			if (*sql == NULL)
				return -1;
			v->step = VERIFY_STEP_VALUES_SENT;
			return 1;
		}
		/* all batches are in */
		/* fall through */
	default:
		v->step = VERIFY_STEP_DONE;
		v->verified = 1;
		return 0;
	}
}

int
verify_result(struct verify *v, const PGresult *res, char *err, size_t errsize)
{
	struct verify_seq *q;
	long long got;
	size_t i, lo, hi;
	int n, called;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 3) {
		snprintf(err, errsize, "unexpected answer to the verification query");
		return -1;
	}
	lo = v->step == VERIFY_STEP_RESOLVE_SENT ? 0 : v->batch_lo;
	hi = v->step == VERIFY_STEP_RESOLVE_SENT ? v->n_seqs : v->batch_hi;
	n = PQntuples(res);
	if ((size_t)n != hi - lo) {
		snprintf(err, errsize, "verification query: %d rows for %zu sequences", n, hi - lo);
		return -1;
	}
	for (i = lo; i < hi; i++) {
		int row = (int)(i - lo);

		q = &v->seqs[i];
		if (strtoull(PQgetvalue(res, row, 0), NULL, 10) != i) {
			snprintf(err, errsize, "verification query: rows out of order");
			return -1;
		}
		if (v->step == VERIFY_STEP_RESOLVE_SENT) {
			if (PQgetisnull(res, row, 1)) {
				snprintf(
					err, errsize,
					"verification failed: the dump sets sequence %s "
					"(setval at line %llu), but there is no such relation in the target",
					q->name, (unsigned long long)q->line);
				return -1;
			}
			if (PQgetvalue(res, row, 2)[0] != 'S') {
				snprintf(
					err, errsize,
					"verification failed: the dump sets sequence %s "
					"(setval at line %llu), but in the target it is not a sequence",
					q->name, (unsigned long long)q->line);
				return -1;
			}
			free(q->rel);
			q->rel = strdup(PQgetvalue(res, row, 1));
			if (q->rel == NULL) {
				snprintf(err, errsize, "out of memory");
				return -1;
			}
			continue;
		}
		got = strtoll(PQgetvalue(res, row, 1), NULL, 10);
		called = PQgetvalue(res, row, 2)[0] == 't';
		if (got != q->value || called != q->is_called) {
			snprintf(
				err, errsize,
				"verification failed: sequence %s is at %lld (is_called "
				"%s) in the target, but the dump's setval at line %llu set %lld (is_called "
				"%s)",
				q->rel, got, called ? "true" : "false", (unsigned long long)q->line,
				q->value, q->is_called ? "true" : "false");
			return -1;
		}
		v->seqs_ok++;
	}
	return 0;
}

char *
verify_sql_size(const char *then)
{
	static const char size_sql[] =
		"SELECT pg_catalog.pg_database_size(pg_catalog.current_database());\n";
	size_t n = sizeof(size_sql) + strlen(then);
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s%s", size_sql, then);
	return p;
}

void
verify_size_result(struct verify *v, const PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 1 || PQntuples(res) != 1 ||
	    strcmp(PQfname(res, 0), "pg_database_size") != 0 || PQgetisnull(res, 0, 0))
		return;
	v->db_size = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

void
verify_summary(const struct verify *v, const struct report *r, report_emit_fn emit, void *arg)
{
	char line[512], plain[32], in[32], db[32];

	if (v->verified) {
		snprintf(line, sizeof(line),
		         "  verified: %llu COPY row count%s equal the data lines "
		         "sent (%llu rows)%s; %zu sequence%s at the dump's setval value%s",
		         (unsigned long long)v->tables_ok, v->tables_ok == 1 ? "" : "s",
		         (unsigned long long)v->rows_ok,
		         v->tables_unchecked ? " (COPYs not in text format were not counted)" : "",
		         v->seqs_ok, v->seqs_ok == 1 ? "" : "s", v->seqs_ok == 1 ? "" : "s");
		emit(arg, line);
	}
	report_size(r->bytes_plain, plain, sizeof(plain));
	if (r->compression != NULL) {
		report_size(r->bytes_in, in, sizeof(in));
		snprintf(line, sizeof(line),
		         "  dump size: %s %s (%llu bytes), %s plain (%llu bytes)", in,
		         r->compression, (unsigned long long)r->bytes_in, plain,
		         (unsigned long long)r->bytes_plain);
	} else {
		snprintf(line, sizeof(line), "  dump size: %s plain (%llu bytes), not compressed",
		         plain, (unsigned long long)r->bytes_plain);
	}
	emit(arg, line);
	if (v->db_size >= 0) {
		report_size((uint64_t)v->db_size, db, sizeof(db));
		snprintf(line, sizeof(line),
		         "  target database size after the import: %s (%lld bytes, "
		         "pg_database_size)",
		         db, v->db_size);
		emit(arg, line);
	}
}
