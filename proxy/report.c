/*
 * report.c - progress line and summary of an import (report.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

double
report_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->start = report_now();
	r->phase_now = -1;
}

static const char *const report_phase_names[REPORT_PHASES] = {
	"clear", "pre-data", "data", "post-data", "verify", "analyze", "vacuum", "commit",
};

const char *
report_phase_name(enum report_phase k)
{
	return k >= 0 && k < REPORT_PHASES ? report_phase_names[k] : "?";
}

void
report_phase_end(struct report *r)
{
	struct report_phase_time *p;

	if (r->phase_now < 0)
		return;
	p = &r->phase[r->phase_now];
	p->secs += report_now() - p->start;
	p->bytes += r->bytes_plain - p->bytes_mark;
	r->phase_now = -1;
}

void
report_phase_note(struct report *r, enum report_phase k, const char *fmt, ...)
{
	va_list ap;

	if (k < 0 || k >= REPORT_PHASES)
		return;
	r->phase[k].seen = 1; /* "none: --no-analyze" is worth a line too */
	va_start(ap, fmt);
	vsnprintf(r->phase[k].note, sizeof(r->phase[k].note), fmt, ap);
	va_end(ap);
}

void
report_phase_begin(struct report *r, enum report_phase k)
{
	struct report_phase_time *p;

	if (k < 0 || k >= REPORT_PHASES || r->phase_now == (int)k)
		return;
	report_phase_end(r);
	if (k >= REPORT_PHASE_VERIFY)
		r->running[0] = '\0'; /* the dump's statements are done */
	p = &r->phase[k];
	p->seen = 1;
	p->start = report_now();
	p->bytes_mark = r->bytes_plain;
	r->phase_now = (int)k;
}

/* 1 if sql begins with the words of kw (upper case, single spaces) */
static int
report_starts(const char *sql, size_t len, const char *kw)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	for (; *kw != '\0'; kw++) {
		if (*kw == ' ') {
			if (i >= len || !isspace((unsigned char)sql[i]))
				return 0;
			while (i < len && isspace((unsigned char)sql[i]))
				i++;
			continue;
		}
		if (i >= len || toupper((unsigned char)sql[i]) != *kw)
			return 0;
		i++;
	}
	return i >= len || !isalnum((unsigned char)sql[i]);
}

/* 1 if the statement holds " ADD CONSTRAINT " (pg_dump's spelling) */
static int
report_adds_constraint(const char *sql, size_t len)
{
	static const char k[] = "ADD CONSTRAINT ";
	size_t i;

	for (i = 0; i + sizeof(k) - 1 <= len && i < 4096; i++)
		if (memcmp(sql + i, k, sizeof(k) - 1) == 0)
			return 1;
	return 0;
}

/* The next word of sql from i (an identifier, quoted or not), into out. */
static size_t
report_word(const char *sql, size_t len, size_t i, char *out, size_t size)
{
	size_t o = 0;
	int quoted = 0;

	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	for (; i < len && o + 1 < size; i++) {
		if (sql[i] == '"')
			quoted = !quoted;
		else if (!quoted &&
		         (isspace((unsigned char)sql[i]) || sql[i] == '(' || sql[i] == ';'))
			break;
		out[o++] = sql[i];
	}
	out[o] = '\0';
	return i;
}

/* i just after the first occurrence of word (upper case, pg_dump's spelling), or len */
static size_t
report_after(const char *sql, size_t len, const char *word)
{
	size_t n = strlen(word), i;

	for (i = 0; i + n <= len && i < 65536; i++)
		if (memcmp(sql + i, word, n) == 0)
			return i + n;
	return len;
}

/* What r->running says of a statement. */
static void
report_label(struct report *r, const char *sql, size_t len, int index, int constraint)
{
	char name[64], table[96];
	size_t i, o;

	if (index) {
		i = report_after(sql, len, "INDEX ");
		report_word(sql, len, report_word(sql, len, i, name, sizeof(name)), table,
		            sizeof(table));
		if (strcmp(table, "ON") == 0)
			report_word(sql, len, report_after(sql, len, " ON "), table, sizeof(table));
		if (strcmp(table, "ONLY") == 0)
			report_word(sql, len, report_after(sql, len, " ONLY "), table,
			            sizeof(table));
		snprintf(r->running, sizeof(r->running), "CREATE INDEX %.63s ON %.79s", name,
		         table);
		return;
	}
	if (constraint) {
		i = report_after(sql, len, "TABLE ");
		i = report_word(sql, len, i, table, sizeof(table));
		if (strcmp(table, "ONLY") == 0)
			report_word(sql, len, i, table, sizeof(table));
		report_word(sql, len, report_after(sql, len, "ADD CONSTRAINT "), name,
		            sizeof(name));
		snprintf(r->running, sizeof(r->running), "ADD CONSTRAINT %.63s ON %.77s", name,
		         table);
		return;
	}
	/* the first line, spaces folded */
	for (i = 0, o = 0; i < len && o + 1 < 72 && sql[i] != '\n'; i++)
		if (!(isspace((unsigned char)sql[i]) && (o == 0 || r->running[o - 1] == ' ')))
			r->running[o++] = isspace((unsigned char)sql[i]) ? ' ' : sql[i];
	r->running[o] = '\0';
}

void
report_sent(struct report *r, const char *sql, size_t len, int is_copy)
{
	int index = !is_copy && (report_starts(sql, len, "CREATE INDEX") ||
	                         report_starts(sql, len, "CREATE UNIQUE INDEX"));
	int constraint = !is_copy && !index && report_starts(sql, len, "ALTER TABLE") &&
	                 report_adds_constraint(sql, len);

	r->sent++;
	if (is_copy) {
		r->copies++;
		if (r->phase_now < REPORT_PHASE_DATA)
			report_phase_begin(r, REPORT_PHASE_DATA);
	} else if (r->phase_now < REPORT_PHASE_POST_DATA &&
	           (index || constraint ||
	            (r->phase_now == REPORT_PHASE_DATA &&
	             !report_starts(sql, len, "SELECT PG_CATALOG.SETVAL")))) {
		report_phase_begin(r, REPORT_PHASE_POST_DATA);
	} else if (r->phase_now < REPORT_PHASE_PRE_DATA) {
		report_phase_begin(r, REPORT_PHASE_PRE_DATA);
	}
	r->indexes += index;
	r->constraints += constraint;
	if (is_copy)
		snprintf(r->running, sizeof(r->running), "COPY %s", r->copy_table);
	else
		report_label(r, sql, len, index, constraint);
	r->running_since = report_now();
	if (r->phase_now >= 0)
		r->phase[r->phase_now].statements++;
}

/* seconds of phase k so far, the current stretch included */
static double
report_phase_secs(const struct report *r, int k)
{
	return r->phase[k].secs + (r->phase_now == k ? report_now() - r->phase[k].start : 0);
}

void
report_phases(const struct report *r, report_emit_fn emit, void *arg)
{
	char line[512], what[256], size[32];
	uint64_t bytes;
	int k;

	emit(arg, "  phase        time  what");
	for (k = 0; k < REPORT_PHASES; k++) {
		if (!r->phase[k].seen)
			continue;
		bytes = r->phase[k].bytes +
		        (r->phase_now == k ? r->bytes_plain - r->phase[k].bytes_mark : 0);
		report_size(bytes, size, sizeof(size));
		switch (k) {
		case REPORT_PHASE_PRE_DATA:
			snprintf(what, sizeof(what), "%llu statements",
			         (unsigned long long)r->phase[k].statements);
			break;
		case REPORT_PHASE_DATA:
			snprintf(what, sizeof(what), "%llu rows, %s, %zu tables",
			         (unsigned long long)r->rows, size, r->n_tables);
			break;
		case REPORT_PHASE_POST_DATA:
			snprintf(what, sizeof(what),
			         "%llu indexes, %llu constraints, %llu statements",
			         (unsigned long long)r->indexes, (unsigned long long)r->constraints,
			         (unsigned long long)r->phase[k].statements);
			break;
		default:
			snprintf(what, sizeof(what), "%s", r->phase[k].note);
		}
		snprintf(line, sizeof(line), "  %-10s %6.1f s%s%s", report_phase_names[k],
		         report_phase_secs(r, k), what[0] ? "  " : "", what);
		emit(arg, line);
	}
}

void
report_free(struct report *r)
{
	size_t i;

	for (i = 0; i < r->n_tables; i++)
		free(r->tables[i].name);
	free(r->tables);
	memset(r, 0, sizeof(*r));
}

double
report_elapsed(const struct report *r)
{
	return report_now() - r->start;
}

void
report_size(uint64_t bytes, char *buf, size_t size)
{
	if (bytes < 1024)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else if (bytes < 1024 * 1024)
		snprintf(buf, size, "%.1f kB", (double)bytes / 1024);
	else if (bytes < 1024ULL * 1024 * 1024)
		snprintf(buf, size, "%.1f MB", (double)bytes / (1024 * 1024));
	else
		snprintf(buf, size, "%.2f GB", (double)bytes / (1024.0 * 1024 * 1024));
}

void
report_copy_start(struct report *r, const char *table)
{
	r->in_copy = 1;
	r->copy_rows = 0;
	snprintf(r->copy_table, sizeof(r->copy_table), "%s", table);
}

void
report_copy_data(struct report *r, const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		r->copy_rows++;
		p++;
	}
}

void
report_copy_done(struct report *r, uint64_t rows)
{
	struct report_table *nt;
	size_t ncap;

	r->in_copy = 0;
	r->rows += rows;
	if (r->n_tables == r->cap_tables) {
		ncap = r->cap_tables ? r->cap_tables * 2 : 64;
		nt = realloc(r->tables, ncap * sizeof(*nt));
		if (nt == NULL)
			return; /* the table is missing from the summary; rows counted */
		r->tables = nt;
		r->cap_tables = ncap;
	}
	r->tables[r->n_tables].name = strdup(r->copy_table);
	if (r->tables[r->n_tables].name == NULL)
		return;
	r->tables[r->n_tables].rows = rows;
	r->n_tables++;
}

static void
report_rate(const struct report *r, char *buf, size_t size)
{
	double t = report_elapsed(r);
	char sz[32];

	report_size(t > 0.001 ? (uint64_t)((double)r->bytes_plain / t) : 0, sz, sizeof(sz));
	snprintf(buf, size, "%s/s", sz);
}

void
report_progress(const struct report *r, char *buf, size_t size)
{
	char plain[32], in[32], rate[48], part[96], builds[48];
	double secs;
	int n, m;

	report_size(r->bytes_plain, plain, sizeof(plain));
	report_size(r->bytes_in, in, sizeof(in));
	report_rate(r, rate, sizeof(rate));
	if (r->compression != NULL)
		n = snprintf(buf, size, "progress: %s received (%s %s), %s, %llu statements", plain,
		             in, r->compression, rate, (unsigned long long)r->statements);
	else
		n = snprintf(buf, size, "progress: %s received, %s, %llu statements", plain, rate,
		             (unsigned long long)r->statements);
	if (n < 0 || (size_t)n >= size)
		return;
	if (r->in_copy)
		m = snprintf(buf + n, size - (size_t)n, ", COPY %s %llu rows", r->copy_table,
		             (unsigned long long)r->copy_rows);
	else
		m = snprintf(buf + n, size - (size_t)n, ", %llu rows in %zu tables",
		             (unsigned long long)r->rows, r->n_tables);
	if (m < 0 || (size_t)(n + m) >= size || r->in_copy)
		return;
	n += m;
	secs = report_now() - r->running_since;
	if (r->phase_now != REPORT_PHASE_POST_DATA || r->running[0] == '\0' || secs < 1.0)
		return;
	m = snprintf(buf + n, size - (size_t)n, ", running %s %.1f s", r->running, secs);
	if (m < 0 || (size_t)(n + m) >= size || r->index_phase[0] == '\0')
		return;
	n += m;
	if (r->index_blocks_total > 0)
		snprintf(part, sizeof(part), "; blocks %llu/%llu %d%%",
		         (unsigned long long)r->index_blocks_done,
		         (unsigned long long)r->index_blocks_total,
		         (int)(100.0 * (double)r->index_blocks_done /
		               (double)r->index_blocks_total));
	else if (r->index_tuples_total > 0)
		snprintf(part, sizeof(part), "; tuples %llu/%llu %d%%",
		         (unsigned long long)r->index_tuples_done,
		         (unsigned long long)r->index_tuples_total,
		         (int)(100.0 * (double)r->index_tuples_done /
		               (double)r->index_tuples_total));
	else
		part[0] = '\0';
	if (r->index_builds > 1)
		snprintf(builds, sizeof(builds), "; %llu index builds at once",
		         (unsigned long long)r->index_builds);
	else
		builds[0] = '\0';
	snprintf(buf + n, size - (size_t)n, " (%s%s%s)", r->index_phase, part, builds);
}

void
report_summary(const struct report *r, const struct rules *rules, int per_table,
               report_emit_fn emit, void *arg)
{
	struct rules_stat st[RULES_MAX_STATS];
	char line[512], plain[32], in[32], rate[48];
	size_t i, empty = 0;
	int n, k;

	for (i = 0; i < r->n_tables; i++) {
		if (r->tables[i].rows == 0) {
			empty++;
			continue;
		}
		if (!per_table)
			continue;
		snprintf(line, sizeof(line), "  rows %s: %llu", r->tables[i].name,
		         (unsigned long long)r->tables[i].rows);
		emit(arg, line);
	}
	if (r->n_tables > 0) {
		snprintf(line, sizeof(line),
		         "  rows in all: %llu in %zu tables (%zu of them empty)",
		         (unsigned long long)r->rows, r->n_tables, empty);
		emit(arg, line);
	}
	if (rules != NULL) {
		n = rules_stats(rules, st, RULES_MAX_STATS);
		for (k = 0; k < n; k++) {
			snprintf(line, sizeof(line), "  rule %s: %s %llu statement%s", st[k].rule,
			         st[k].action, (unsigned long long)st[k].count,
			         st[k].count == 1 ? "" : "s");
			emit(arg, line);
		}
	}
	report_size(r->bytes_plain, plain, sizeof(plain));
	report_size(r->bytes_in, in, sizeof(in));
	report_rate(r, rate, sizeof(rate));
	if (r->compression != NULL)
		snprintf(line, sizeof(line),
		         "  elapsed %.1f s, %llu statements (%llu sent), %s (%s %s), average %s",
		         report_elapsed(r), (unsigned long long)r->statements,
		         (unsigned long long)r->sent, plain, in, r->compression, rate);
	else
		snprintf(line, sizeof(line),
		         "  elapsed %.1f s, %llu statements (%llu sent), %s, average %s",
		         report_elapsed(r), (unsigned long long)r->statements,
		         (unsigned long long)r->sent, plain, rate);
	emit(arg, line);
}
