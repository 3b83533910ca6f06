/*
 * analyze.h - the tables the import created, ready for production: planner
 * statistics, and (with --jobs) frozen and all-visible.
 *
 * Single transaction on one connection: the data went in with COPY FREEZE
 * (rules.h, rule copy-freeze), which writes the rows frozen and sets the
 * visibility map, so only statistics are missing; analyze_sql gives one
 * ANALYZE of every created table, run inside the import's transaction
 * after verification.  With --jobs the data came in batches committed on
 * other connections (no FREEZE possible), and analyze_pass_sql gives two
 * passes of one statement per table, which the engine runs in parallel.
 * The first, VACUUM (FREEZE, ANALYZE), starts once the dump is all read,
 * each table's as soon as what the dump does to it has run, beside the
 * rest of post-data.  Beside it other transactions still run and commit,
 * and VACUUM freezes and marks all-visible a row only when its inserter
 * is older than every running transaction's snapshot and its commit is
 * flushed (the server sets no hint bit before: an asynchronous commit, as
 * the engine's connections make, of an xid near it holds the flush LSN
 * back).  So once all is done and one synchronous commit has flushed the
 * WAL, the second pass, VACUUM (FREEZE, INDEX_CLEANUP false), visits only
 * the pages the first could not mark (it skips all-frozen ones, and the
 * indexes) and takes no xid, so the VACUUMs beside it keep their flush.
 * Neither truncates the table's empty tail (TRUNCATE false, PostgreSQL 12
 * on), whose AccessExclusiveLock would take an xid to log.  A partition is
 * reached through its root, so it is not listed.  No I/O: the session
 * sends the SQL.
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

/* "schema"."table", doubled quotes: two parts of 63 bytes, all quotes */
#define ANALYZE_NAME (4 * 64 + 8)
/* a statement of a pass (analyze_pass_sql) */
#define ANALYZE_SQL_MAX (ANALYZE_NAME + 64)

enum analyze_pass {
	ANALYZE_PASS_FREEZE,          /* VACUUM (FREEZE, ANALYZE, TRUNCATE false) t */
	ANALYZE_PASS_FREEZE_NO_STATS, /* the same without ANALYZE (the dump's statistics) */
	ANALYZE_PASS_VISIBLE,         /* VACUUM (FREEZE, INDEX_CLEANUP false, TRUNCATE false) t */
};

/*
 * The next statement of the pass from table *i on (*i advances past it)
 * into buf (ANALYZE_SQL_MAX bytes), for a server of version server_version (PQserverVersion;
 * before 12, without the options it lacks).  Returns its length, or 0
 * when no table is left.
 */
size_t analyze_pass_sql(const struct rules *r, size_t *i, enum analyze_pass pass,
                        int server_version, char *buf, size_t size);

/* How many statements analyze_sql lists or a pass gives (roots and plain tables). */
size_t analyze_count(const struct rules *r);

#endif
