/*
 * report.c - progress line and summary of an import (report.h).
 */
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
	char plain[32], in[32], rate[48];
	int n;

	report_size(r->bytes_plain, plain, sizeof(plain));
	report_size(r->bytes_in, in, sizeof(in));
	report_rate(r, rate, sizeof(rate));
	if (r->compression != NULL)
		n = snprintf(buf, size, "progress: %s received (%s %s), %s, %llu statements",
		             plain, in, r->compression, rate, (unsigned long long)r->statements);
	else
		n = snprintf(buf, size, "progress: %s received, %s, %llu statements", plain, rate,
		             (unsigned long long)r->statements);
	if (n < 0 || (size_t)n >= size)
		return;
	if (r->in_copy)
		snprintf(buf + n, size - (size_t)n, ", COPY %s %llu rows", r->copy_table,
		         (unsigned long long)r->copy_rows);
	else
		snprintf(buf + n, size - (size_t)n, ", %llu rows in %zu tables",
		         (unsigned long long)r->rows, r->n_tables);
}

void
report_phase(struct report *r, const char *name, double secs, const char *fmt, ...)
{
	struct report_phase *p;
	va_list ap;

	if (r->n_phases >= REPORT_PHASES)
		return;
	p = &r->phases[r->n_phases++];
	p->name = name;
	p->secs = secs;
	va_start(ap, fmt);
	vsnprintf(p->note, sizeof(p->note), fmt, ap);
	va_end(ap);
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
		snprintf(line, sizeof(line), "  rows in all: %llu in %zu tables (%zu of them empty)",
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
	for (k = 0; k < r->n_phases; k++) {
		snprintf(line, sizeof(line), "  %s: %.1f s (%s)", r->phases[k].name,
		         r->phases[k].secs, r->phases[k].note);
		emit(arg, line);
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
