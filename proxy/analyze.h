/*
 * analyze.h - the tables the import created, ready for production: planner
 * statistics, and (with --jobs) frozen and all-visible.
 *
 * Single transaction on one connection: the data went in with COPY FREEZE
 * (rules.h, rule copy-freeze), which writes the rows frozen and sets the
 * visibility map, so only statistics are missing; analyze_sql gives one
 * ANALYZE of every created table, run inside the import's transaction
 * after verification.  With --jobs the data came in batches committed on
 * other connections (no FREEZE possible): analyze_pass_sql gives one
 * VACUUM (FREEZE) per table, and then one ANALYZE per table, which the
 * engine runs in parallel once post-data is done.  VACUUM sets a page
 * all-visible only if it may set its rows' hint bits, which it may not
 * while an asynchronous commit (as the engine's connections make) of an
 * xid near theirs is not flushed; so nothing that takes an xid runs
 * beside the VACUUMs: the ANALYZEs come after them, and the VACUUMs do not
 * truncate the table's empty tail (TRUNCATE false, PostgreSQL 12 on),
 * whose AccessExclusiveLock would take an xid to log.  A partition is reached through its root, so it
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

enum analyze_pass {
	ANALYZE_PASS_VACUUM,  /* VACUUM (FREEZE, TRUNCATE false) t */
	ANALYZE_PASS_ANALYZE, /* ANALYZE t */
};

/*
 * The next statement of the pass from table *i on (*i advances past it)
 * into buf, for a server of version server_version (PQserverVersion).
 * Returns 1, or 0 when no table is left.
 */
int analyze_pass_sql(const struct rules *r, size_t *i, enum analyze_pass pass, int server_version,
                     char *buf, size_t size);

/* How many statements analyze_sql lists or a pass gives (roots and plain tables). */
size_t analyze_count(const struct rules *r);

#endif
