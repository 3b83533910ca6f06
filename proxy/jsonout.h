/*
 * jsonout.h - the machine-readable result of an import and of check, as
 * one JSON object (jansson), for serve --summary-json, send --json and
 * check --json.
 *
 * Kept apart from the session and the report so that the field names a
 * script depends on are written in one place, and so that the text
 * summary and the JSON come from the same figures.  No I/O except
 * jsonout_write_file.
 *
 * The import object:
 *	{"verdict": "ok"|"error", "committed": bool, "message": first line,
 *	 "target": {"description", "database"}, "mode", "jobs",
 *	 "state": what state the target is in (on failure),
 *	 "error": {"message", "sqlstate", "statement", "line"} or null,
 *	 "phases": [{"name", "seconds", "statements", "bytes", "note"?}...],
 *	 "counts": {"statements", "sent", "rows", "tables", "empty_tables",
 *	            "bytes_in", "bytes_plain", "compression", "indexes",
 *	            "constraints", "seconds"},
 *	 "tables": [{"name", "rows"}...], "rules": [{"rule", "action", "count"}...],
 *	 "verification": {"verified", "tables_ok", "rows_ok", "tables_unchecked",
 *	                  "sequences", "sequences_ok", "database_size"}}
 */
#ifndef PGSLUICE_JSONOUT_H
#define PGSLUICE_JSONOUT_H

#include <stdint.h>

#include <jansson.h>

#include "report.h"
#include "rules.h"
#include "verify.h"

struct jsonout_import {
	int ok, committed;
	const char *message;  /* the summary's first line, without "OK "/"ERROR " */
	const char *target;   /* connhint_describe's text */
	const char *database; /* the target database's name */
	const char *mode;     /* "single transaction", "jobs", "no single transaction" */
	int jobs;
	const char *state;        /* what state the target is in, or NULL */
	const char *sqlstate;     /* of the server's error, or NULL */
	uint64_t statement, line; /* of the failing statement; 0: none */
	const struct report *rep;
	const struct rules *rules; /* may be NULL (the import ended before the rules) */
	const struct verify *ver;  /* likewise */
};

/* The object (a new reference), or NULL when out of memory. */
json_t *jsonout_import(const struct jsonout_import *in);

/*
 * A refusal before any import as one line (malloc'd), or NULL:
 * {"verdict": "refused", "reason": reason, "message": message}.
 */
char *jsonout_refusal(const char *reason, const char *message);

/* json_dumps(o) on one line (malloc'd), or NULL. */
char *jsonout_line(const json_t *o);

/*
 * Write o to path atomically (path.tmp, then rename), mode 0644, with a
 * newline.  0, or -1 with errno set.
 */
int jsonout_write_file(const json_t *o, const char *path);

#endif
