/*
 * report.h - what an import has done so far, and how it is told.
 *
 * Counters of one import (bytes, statements, COPY rows per table) and the
 * text made from them: the periodic progress line and the body of the final
 * summary.  Kept apart from the session so that the wording of what the
 * operator reads lives in one place.  No I/O: lines go to a callback.
 */
#ifndef PGSLUICE_REPORT_H
#define PGSLUICE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

struct report_table {
	char *name;     /* as the dump wrote it ("public.events") */
	uint64_t rows;  /* from the COPY command tag */
};

/* A phase that ran after the data (ANALYZE, VACUUM), for the summary. */
struct report_phase {
	const char *name; /* "analyze", "vacuum" */
	double secs;
	char note[120];   /* "112 tables, inside the import's transaction" */
};

#define REPORT_PHASES 4

struct report {
	double start;              /* report_now() at report_init */
	uint64_t statements;       /* statements read from the dump */
	uint64_t sent;             /* statements forwarded (as is or rewritten) */
	uint64_t bytes_in;         /* as received (compressed when compression is set) */
	uint64_t bytes_plain;      /* after the decoder */
	const char *compression;   /* "gzip", "zstd", "lz4" (decoder_format_name), or
	                            * NULL: the input was plain */
	int in_copy;               /* a COPY's data is flowing */
	char copy_table[128];
	uint64_t copy_rows;        /* data lines of that COPY so far */
	struct report_table *tables;
	size_t n_tables, cap_tables;
	uint64_t rows;             /* all COPY rows */
	struct report_phase phases[REPORT_PHASES];
	int n_phases;
};

typedef void (*report_emit_fn)(void *arg, const char *line);

void report_init(struct report *r);
void report_free(struct report *r);

/* Seconds since report_init. */
double report_elapsed(const struct report *r);

/* Seconds on the monotonic clock (for durations and deadlines). */
double report_now(void);

/* A COPY block starts / has passed data / ended with rows from its tag. */
void report_copy_start(struct report *r, const char *table);
void report_copy_data(struct report *r, const char *data, size_t len);
void report_copy_done(struct report *r, uint64_t rows);

/*
 * A phase ran for secs (the summary shows "  analyze: 0.4 s (note)").
 * Beyond REPORT_PHASES, ignored.
 */
void report_phase(struct report *r, const char *name, double secs, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The progress line, without newline:
 * "progress: 10.1 MB received (2.7 MB gzip), 3.1 MB/s, 1234 statements,
 *  COPY public.events 1520 rows"
 */
void report_progress(const struct report *r, char *buf, size_t size);

/*
 * The summary body: per-table rows if per_table (non-empty tables, then
 * how many were empty), what each rule did, the elapsed time and rate.  Each line is
 * passed to emit without newline, indented by two spaces.
 */
void report_summary(const struct report *r, const struct rules *rules, int per_table,
                    report_emit_fn emit, void *arg);

/* "12.3 MB", "512 B", ... */
void report_size(uint64_t bytes, char *buf, size_t size);

#endif
