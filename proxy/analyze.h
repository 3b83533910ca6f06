/*
 * analyze.h - the tables the import created, ready for production: planner
 * statistics, and (with --jobs) frozen and all-visible.
 *
 * Single transaction on one connection: the data went in with COPY FREEZE
 * (rules.h, rule copy-freeze), which writes the rows frozen and sets the
 * visibility map, so only statistics are missing; analyze_sql gives one
 * ANALYZE of every created table, run inside the import's transaction
 * after verification.  With --jobs the data came in batches committed on
 * other connections (no FREEZE possible): analyze_vacuum_sql gives one
 * VACUUM (FREEZE, ANALYZE) per table, which the engine runs in parallel
 * once post-data is done.  A partition is reached through its root, so it
 * is not listed.  No I/O: the session sends the SQL.
 */
#ifndef PGSLUICE_ANALYZE_H
#define PGSLUICE_ANALYZE_H

#include <stddef.h>

#include "rules.h"

/*
 * "ANALYZE t1, t2, ...;" for the tables r kept (malloc'd), "ANALYZE;" when
 * r could not keep them all; NULL when the dump created no table, or out
 * of memory (*oom set).
 */
char *analyze_sql(const struct rules *r, int *oom);

/*
 * The next "VACUUM (FREEZE[, ANALYZE]) t" from table *i on (*i advances
 * past it) into buf.  Returns 1, or 0 when no table is left.
 */
int analyze_vacuum_sql(const struct rules *r, size_t *i, int with_analyze, char *buf, size_t size);

/* How many statements analyze_sql lists or analyze_vacuum_sql gives (roots and plain tables). */
size_t analyze_count(const struct rules *r);

#endif
