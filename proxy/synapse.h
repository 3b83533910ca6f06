/*
 * synapse.h - what pgsluice knows about Matrix Synapse databases.
 *
 * Synapse keeps its schema version in three tables of its schema (public
 * unless the first --schema says otherwise): schema_version (lock, version,
 * upgraded), schema_compat_version (lock, compat_version) and
 * applied_schema_deltas (version, file).  And it refuses to start on a
 * database whose encoding is not UTF8 or whose LC_COLLATE / LC_CTYPE are
 * not C.  This module turns that into checks around an import:
 *
 *   preflight  read the target database's encoding and locale, and the
 *              target's Synapse schema version if it has one (before
 *              --clear-target drops it);
 *   stream     notice that the dump is a Synapse dump (CREATE TABLE or COPY
 *              of <schema>.schema_version), read the dump's version rows as
 *              their COPY data passes, and compare them with the target's;
 *   summary    the versions, and what the comparison means.
 *
 * Modes (serve --synapse / --no-synapse; default auto):
 *   AUTO  a locale mismatch is refused at preflight when the target already
 *         holds a Synapse schema, else as soon as the dump shows that it is
 *         a Synapse dump (before anything is committed: the import is one
 *         transaction).  A dump that is not a Synapse dump is not judged.
 *   ON    the target is for Synapse: a locale mismatch is refused at
 *         preflight, whatever the dump.
 *   OFF   no Synapse checks and no Synapse queries.
 *
 * The dump's schema version against the target's: newer is refused (unless
 * force, --force-schema-version), older is a warning (Synapse will migrate
 * on first start), equal is said.
 *
 * No I/O: SQL text in, PGresults and dump bytes in, verdicts and lines out.
 */
#ifndef PGSLUICE_SYNAPSE_H
#define PGSLUICE_SYNAPSE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "report.h"

enum synapse_mode {
	SYNAPSE_AUTO = 0,
	SYNAPSE_ON,
	SYNAPSE_OFF,
};

/* One side's Synapse schema state. */
struct synapse_schema {
	int present;   /* schema_version exists (target) / was seen (dump) */
	int version;   /* schema_version.version; -1: no row (yet) */
	int upgraded;  /* schema_version.upgraded (1/0); -1: unknown */
	int compat;    /* schema_compat_version.compat_version; -1: none */
	long deltas;   /* rows in applied_schema_deltas; -1: no such table */
	int max_delta; /* max(applied_schema_deltas.version); -1: unknown */
};

/* What synapse_copy_end has to say. */
enum synapse_note {
	SYNAPSE_NOTE_NONE = 0, /* nothing */
	SYNAPSE_NOTE_INFO,     /* msg: say it */
	SYNAPSE_NOTE_WARN,     /* msg: say it as a warning */
	SYNAPSE_NOTE_REFUSE,   /* msg: the import must fail with it */
};

struct synapse {
	enum synapse_mode mode;
	int force;       /* --force-schema-version */
	char schema[64]; /* where Synapse's tables live */

	/* preflight */
	int step;                     /* preflight queries done */
	int read;                     /* the target was read */
	char dbname[192], owner[192]; /* quoted (quote_ident) for the fix */
	char encoding[32], collate[96], ctype[96];
	int locale_ok;              /* UTF8, C, C */
	int has_compat, has_deltas; /* target tables present */
	struct synapse_schema target;

	/* the dump */
	int dump_synapse; /* the dump is a Synapse dump */
	struct synapse_schema dump;
	int copy;         /* SYNAPSE_COPY_* of the COPY in progress */
	int col_a, col_b; /* column positions of interest in that COPY */
	char row[160];    /* its first data line (cut) */
	size_t row_len;
	int row_done;              /* the first line is complete */
	int compared;              /* the versions were compared */
	enum synapse_note verdict; /* the comparison's outcome */
	char note[640];            /* the comparison, in words */
};

/*
 * Set up *sy for one import.  schema is where Synapse's tables are
 * expected (the first --schema).
 */
void synapse_init(struct synapse *sy, enum synapse_mode mode, int force, const char *schema);

/*
 * The next preflight query.  Returns 1 with *sql (malloc'd, the caller
 * frees it) to run next; 0 when the preflight part is done (also at once in
 * mode OFF); -1 with a message in err.  conn is used for quoting only.
 * Run each query, hand its result to synapse_preflight_result, then ask
 * again.
 */
int synapse_preflight_next(struct synapse *sy, PGconn *conn, char **sql, char *err, size_t errsize)
	__attribute__((warn_unused_result));

/* Read a preflight query's result.  Returns 0, or -1 with a message in err. */
int synapse_preflight_result(struct synapse *sy, const PGresult *res, char *err, size_t errsize)
	__attribute__((warn_unused_result));

/*
 * The preflight verdict, once synapse_preflight_next said 0.  Returns 0 to
 * go on, -1 to refuse the import with msg (the mismatch and its fix).
 */
int synapse_preflight_verdict(const struct synapse *sy, char *msg, size_t size)
	__attribute__((warn_unused_result));

/*
 * The locale refusal and its fix, whatever the mode (why: the reason in
 * parentheses), once the preflight has read the target.  Returns 0 when the
 * locale is one Synapse takes, -1 with msg otherwise.  For `pgsluice check`.
 */
int synapse_locale_refusal(const struct synapse *sy, const char *why, char *msg, size_t size);

/*
 * One line about the target for the client, e.g. "synapse: target database
 * synapse: UTF8, collate C, ctype C; Synapse schema version 94 (125 deltas
 * applied)"; 0 if there is nothing worth saying (mode OFF, or no Synapse
 * schema in the target in mode AUTO), else 1.
 */
int synapse_target_line(const struct synapse *sy, char *buf, size_t size);

/*
 * A statement that goes to the target (text as sent).  Notices the dump's
 * Synapse tables and the COPY that fills them.  Returns 0 to go on, -1 to
 * refuse the import with msg (a Synapse dump into a database whose locale
 * Synapse refuses).
 */
int synapse_statement(struct synapse *sy, const char *text, size_t len, int std_strings, char *msg,
                      size_t size) __attribute__((warn_unused_result));

/* COPY data of the COPY in progress, as it passes. */
void synapse_copy_data(struct synapse *sy, const char *data, size_t len);

/*
 * The COPY in progress ended (rows: its data lines).  When it was the
 * dump's schema_version, the versions are compared: the answer says what to
 * tell, with msg.  Calling it again for the same COPY returns
 * SYNAPSE_NOTE_NONE.
 */
enum synapse_note synapse_copy_end(struct synapse *sy, uint64_t rows, char *msg, size_t size);

/*
 * The end of the dump: a last word when the mode is ON and the dump held no
 * Synapse schema version (SYNAPSE_NOTE_WARN), else SYNAPSE_NOTE_NONE.
 */
enum synapse_note synapse_dump_end(struct synapse *sy, char *msg, size_t size);

/* Summary lines (indented by two spaces), if there is anything Synapse. */
void synapse_summary(const struct synapse *sy, report_emit_fn emit, void *arg);

/* "serve --synapse"-style name of a mode. */
const char *synapse_mode_name(enum synapse_mode mode);

#endif
