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
	char *name;    /* as the dump wrote it ("public.events") */
	uint64_t rows; /* from the COPY command tag */
};

/*
 * The phases of an import, in their order.  A phase begins when the
 * import gets there and ends when the next begins (or the import ends);
 * one begun again adds to its time.  pre-data, data and post-data follow
 * the dump's statements by themselves (report_sent); the others are begun
 * by the session: clear with the --clear-target drops, verify with the
 * checks before COMMIT, commit with the COMMIT; analyze and vacuum by the
 * step that runs them (report_phase_begin).
 */
enum report_phase {
	REPORT_PHASE_CLEAR = 0,
	REPORT_PHASE_PRE_DATA,
	REPORT_PHASE_DATA,
	REPORT_PHASE_POST_DATA,
	REPORT_PHASE_VERIFY,
	REPORT_PHASE_ANALYZE,
	REPORT_PHASE_VACUUM,
	REPORT_PHASE_COMMIT,
	REPORT_PHASES,
};

struct report_phase_time {
	int seen;
	double start;        /* report_now() when it last began */
	double secs;         /* time spent in it, the current stretch included at its end */
	uint64_t statements; /* statements of the dump sent in it */
	uint64_t bytes;      /* bytes of the dump (after the decoder) read in it */
	uint64_t bytes_mark; /* bytes_plain when it last began */
	char note[192];      /* what it did, for a phase the report cannot count itself
	                      * (analyze: "173 tables"): report_phase_note */
};

struct report {
	double start;            /* report_now() at report_init */
	uint64_t statements;     /* statements read from the dump */
	uint64_t sent;           /* statements forwarded (as is or rewritten) */
	uint64_t bytes_in;       /* as received (compressed when compression is set) */
	uint64_t bytes_plain;    /* after the decoder */
	const char *compression; /* "gzip", "zstd", "lz4" (decoder_format_name), or
	                            * NULL: the input was plain */
	int in_copy;             /* a COPY's data is flowing */
	char copy_table[128];
	uint64_t copy_rows; /* data lines of that COPY so far */
	struct report_table *tables;
	size_t n_tables, cap_tables;
	uint64_t rows; /* all COPY rows */
	struct report_phase_time phase[REPORT_PHASES];
	int phase_now;        /* enum report_phase, or -1 before the first */
	uint64_t indexes;     /* CREATE [UNIQUE] INDEX statements sent */
	uint64_t constraints; /* ALTER TABLE ... ADD CONSTRAINT statements sent */
	uint64_t copies;      /* COPY statements sent */
	char running[160];    /* the statement sent last, while it may run:
	                            * "CREATE INDEX events_ts ON public.events",
	                            * "ADD CONSTRAINT x_pkey ON public.x", "COPY public.x";
	                            * "" once the checks before COMMIT begin */
	double running_since; /* report_now() when it was sent */
	/* the server's figures of an index build in progress (progwatch.h) */
	char index_phase[64]; /* pg_stat_progress_create_index.phase; "": none */
	uint64_t index_blocks_done, index_blocks_total, index_tuples_done, index_tuples_total;
	uint64_t index_builds; /* builds running at once (--jobs) */
};

typedef void (*report_emit_fn)(void *arg, const char *line);

void report_init(struct report *r);
void report_free(struct report *r);

/* Seconds since report_init. */
double report_elapsed(const struct report *r);

/* Seconds on the monotonic clock (for durations and deadlines). */
double report_now(void);

/*
 * End the current phase and begin k (the same phase again: nothing
 * happens).  report_phase_end ends the current one (at the import's end).
 */
void report_phase_begin(struct report *r, enum report_phase k);
void report_phase_end(struct report *r);

/*
 * What phase k did, in the summary's phase table and the JSON ("173
 * tables analyzed"), for the phases whose figures the report does not
 * keep itself (clear, verify, analyze, vacuum, commit).
 */
void report_phase_note(struct report *r, enum report_phase k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "pre-data", "post-data", ... */
const char *report_phase_name(enum report_phase k);

/*
 * A statement of the dump (sql, len bytes) is sent to the target; is_copy:
 * a COPY FROM STDIN.  Counts it, and moves the phase on: the first
 * statement begins pre-data, the first COPY data, and after data, a
 * statement other than a COPY or a sequence's setval begins post-data (as
 * does a CREATE INDEX or ADD CONSTRAINT, in a dump without data).
 */
void report_sent(struct report *r, const char *sql, size_t len, int is_copy);

/*
 * The phase table of the summary: a header, then one line per phase the
 * import went through, with its wall time and what it did, each passed to
 * emit indented by two spaces.
 */
void report_phases(const struct report *r, report_emit_fn emit, void *arg);

/* A COPY block starts / has passed data / ended with rows from its tag. */
void report_copy_start(struct report *r, const char *table);
void report_copy_data(struct report *r, const char *data, size_t len);
void report_copy_done(struct report *r, uint64_t rows);

/*
 * The progress line, without newline:
 * "progress: 10.1 MB received (2.7 MB gzip), 3.1 MB/s, 1234 statements,
 *  COPY public.events 1520 rows"; in post-data, a statement that has run a
 * second or more is named last, with its time and the server's figures:
 * "..., running CREATE INDEX events_ts ON public.events 4.1 s (scanning
 *  table; blocks 1200/5000 24%)", the phase as pg_stat_progress_create_index
 * says it, without its "building index: ".  The last comma-separated
 * part is what is going on (pgsluice send shows it).
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
