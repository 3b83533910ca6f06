/*
 * verify.h - checks made after the dump is in and before COMMIT.
 *
 * An import is reported OK only when the target holds what the dump said:
 *
 *   rows       each COPY's command tag ("COPY 3170") equals the data lines
 *              the lexer counted for that block (text format: one line is
 *              one row); checked as each COPY ends.
 *   sequences  every sequence the dump sets (SELECT pg_catalog.setval('x',
 *              v, called)) exists in the target with that last_value and
 *              is_called; collected as the statements pass, checked after
 *              the trailer (one query: which relations the names are; then
 *              their values, VERIFY_BATCH sequences per query, since the
 *              server parses a long UNION ALL recursively and runs out of
 *              stack near a few thousand arms), inside the import's
 *              transaction, so a mismatch rolls everything back.
 *
 * Plus the figures the summary gives about the result: the target
 * database's size after the import.
 *
 * No I/O: statements and results in, SQL text and verdicts out.
 */
#ifndef PGSLUICE_VERIFY_H
#define PGSLUICE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "report.h"

#define VERIFY_BATCH 500 /* sequences per values query */

struct verify_seq {
	char *name; /* the setval argument as written ('public.x_seq' unquoted) */
	char *rel;  /* the relation it names in the target (regclass text) */
	long long value;
	int is_called;
	uint64_t line; /* input line of the setval */
};

struct verify {
	struct verify_seq *seqs;
	size_t n_seqs, cap_seqs;
	int step;                  /* sequence queries done */
	size_t batch_lo, batch_hi; /* the values query in flight: seqs[lo..hi) */
	size_t seqs_ok;            /* sequences found as set */

	/* the COPY in progress */
	int copy_countable; /* text format: lines are rows */
	int copy_ended;     /* copy_lines is its count */
	uint64_t copy_lines;
	uint64_t tables_ok, rows_ok; /* COPYs whose tag matched, their rows */
	uint64_t tables_unchecked;   /* COPYs not in text format */

	int verified;      /* all checks ran and passed */
	long long db_size; /* pg_database_size after the import; -1: unknown */
};

void verify_init(struct verify *v);
void verify_free(struct verify *v);

/*
 * A statement that goes to the target (text as sent; line: its input
 * line).  A setval is remembered; a COPY ... FROM stdin starts a block.
 * Returns 0, or -1 when out of memory.
 */
int verify_statement(struct verify *v, const char *text, size_t len, int std_strings, uint64_t line)
	__attribute__((warn_unused_result));

/* The COPY block ended after lines data lines (LEXER_COPY_END's rows). */
void verify_copy_end(struct verify *v, uint64_t lines);

/*
 * The COPY's command tag said rows.  Returns 0, or -1 with a message in
 * err when it differs from the lines sent.
 */
int verify_copy_result(struct verify *v, const char *table, uint64_t rows, char *err,
                       size_t errsize) __attribute__((warn_unused_result));

/*
 * The next query of the final check.  Returns 1 with *sql (malloc'd) to
 * run; 0 when all checks are done (v->verified is then set); -1 with a
 * message in err.  conn is used for quoting only.  Hand each result to
 * verify_result, then ask again.
 */
int verify_next(struct verify *v, PGconn *conn, char **sql, char *err, size_t errsize)
	__attribute__((warn_unused_result));

/* Read a result of the final check.  Returns 0, or -1 with the mismatch in err. */
int verify_result(struct verify *v, const PGresult *res, char *err, size_t errsize)
	__attribute__((warn_unused_result));

/*
 * "SELECT pg_catalog.pg_database_size(...); <then>" (malloc'd, NULL when out
 * of memory): the size query to run after COMMIT, ahead of then.
 */
char *verify_sql_size(const char *then);

/*
 * Read the database size, when res is the answer to a query whose first
 * column is named pg_database_size (a no-op otherwise).
 */
void verify_size_result(struct verify *v, const PGresult *res);

/*
 * Summary lines (indented by two spaces): what was verified, the dump's
 * sizes (from r), the database size.
 */
void verify_summary(const struct verify *v, const struct report *r, report_emit_fn emit, void *arg);

#endif
