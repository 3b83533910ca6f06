/*
 * jsonout.c - an import's result as one JSON object (jsonout.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonout.h"

/* s as a JSON string; bytes that are not UTF-8 (a dump's or a client's) become '?' */
static json_t *
jsonout_str(const char *s)
{
	json_t *j;
	char *c, *p;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	if (j != NULL)
		return j;
	c = strdup(s);
	if (c == NULL)
		return NULL;
	for (p = c; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *
jsonout_phases(const struct report *r)
{
	json_t *a = json_array();
	double secs;
	uint64_t bytes;
	int k;

	for (k = 0; a != NULL && k < REPORT_PHASES; k++) {
		if (!r->phase[k].seen)
			continue;
		secs = r->phase[k].secs +
		       (r->phase_now == k ? report_now() - r->phase[k].start : 0);
		bytes = r->phase[k].bytes +
		        (r->phase_now == k ? r->bytes_plain - r->phase[k].bytes_mark : 0);
		json_array_append_new(a, json_pack("{s:s, s:f, s:I, s:I, s:s?}", "name",
		                                   report_phase_name((enum report_phase)k),
		                                   "seconds", secs, "statements",
		                                   (json_int_t)r->phase[k].statements, "bytes",
		                                   (json_int_t)bytes, "note",
		                                   r->phase[k].note[0] ? r->phase[k].note : NULL));
	}
	return a;
}

static json_t *
jsonout_tables(const struct report *r, json_int_t *empty)
{
	json_t *a = json_array();
	size_t i;

	*empty = 0;
	for (i = 0; a != NULL && i < r->n_tables; i++) {
		*empty += r->tables[i].rows == 0;
		json_array_append_new(a, json_pack("{s:o, s:I}", "name",
		                                   jsonout_str(r->tables[i].name), "rows",
		                                   (json_int_t)r->tables[i].rows));
	}
	return a;
}

static json_t *
jsonout_rules(const struct rules *rules)
{
	struct rules_stat st[RULES_MAX_STATS];
	json_t *a = json_array();
	int n, k;

	if (rules == NULL || a == NULL)
		return a;
	n = rules_stats(rules, st, RULES_MAX_STATS);
	for (k = 0; k < n; k++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "rule", st[k].rule, "action",
		                                   st[k].action, "count", (json_int_t)st[k].count));
	return a;
}

static json_t *
jsonout_verify(const struct verify *v)
{
	if (v == NULL)
		return json_null();
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:o}", "verified", v->verified,
	                 "tables_ok", (json_int_t)v->tables_ok, "rows_ok", (json_int_t)v->rows_ok,
	                 "tables_unchecked", (json_int_t)v->tables_unchecked, "sequences",
	                 (json_int_t)v->n_seqs, "sequences_ok", (json_int_t)v->seqs_ok,
	                 "database_size", v->db_size >= 0 ? json_integer(v->db_size) : json_null());
}

json_t *
jsonout_import(const struct jsonout_import *in)
{
	const struct report *r = in->rep;
	json_t *error = json_null(), *tables, *o;
	json_int_t empty;

	if (!in->ok)
		error = json_pack(
			"{s:o, s:o, s:o, s:o}", "message", jsonout_str(in->message), "sqlstate",
			jsonout_str(in->sqlstate), "statement",
			in->statement ? json_integer((json_int_t)in->statement) : json_null(),
			"line", in->line ? json_integer((json_int_t)in->line) : json_null());
	tables = jsonout_tables(r, &empty);
	o = json_pack(
		"{s:s, s:b, s:o, s:{s:o, s:o}, s:s, s:i, s:o, s:o, s:o,"
		" s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:f},"
		" s:o, s:o, s:o}",
		"verdict", in->ok ? "ok" : "error", "committed", in->committed, "message",
		jsonout_str(in->message), "target", "description", jsonout_str(in->target),
		"database", jsonout_str(in->database), "mode", in->mode, "jobs", in->jobs, "state",
		jsonout_str(in->state), "error", error, "phases", jsonout_phases(r), "counts",
		"statements", (json_int_t)r->statements, "sent", (json_int_t)r->sent, "rows",
		(json_int_t)r->rows, "tables", (json_int_t)r->n_tables, "empty_tables", empty,
		"bytes_in", (json_int_t)r->bytes_in, "bytes_plain", (json_int_t)r->bytes_plain,
		"compression", jsonout_str(r->compression), "indexes", (json_int_t)r->indexes,
		"constraints", (json_int_t)r->constraints, "seconds", report_elapsed(r), "tables",
		tables, "rules", jsonout_rules(in->rules), "verification", jsonout_verify(in->ver));
	return o;
}

char *
jsonout_refusal(const char *reason, const char *message)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "verdict", "refused", "reason", reason, "message",
	                      jsonout_str(message));
	char *line;

	if (o == NULL)
		return NULL;
	line = jsonout_line(o);
	json_decref(o);
	return line;
}

char *
jsonout_line(const json_t *o)
{
	return json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
}

int
jsonout_write_file(const json_t *o, const char *path)
{
	char tmp[4096];
	FILE *f;
	int e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	if (json_dumpf(o, f, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 || fputc('\n', f) == EOF) {
		e = errno;
		fclose(f);
		unlink(tmp);
		errno = e ? e : EIO;
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}
