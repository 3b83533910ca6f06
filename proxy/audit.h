/*
 * audit.h - what a dump may not change outside its schemas: the target
 * role and database, compared before COMMIT with a snapshot from the
 * preflight.
 *
 * A dump's own code (a function it creates and calls, a trigger or a
 * column default that COPY runs, a CHECK constraint's function) runs with
 * the target role's rights, and a role may change itself and, as owner,
 * its database: ALTER ROLE CURRENT_USER SET default_transaction_read_only
 * = on (every later session of the role, in every database), ALTER
 * DATABASE ... CONNECTION LIMIT 0, ALTER DATABASE ... SET ...  The
 * statement filter cannot see what a function body does, so the daemon
 * looks at the result instead: the snapshot is taken in the preflight,
 * outside the import's transaction; the comparison runs inside it, right
 * before COMMIT, so that any change rolls the whole import back.
 *
 * What is compared is what a non-superuser may read:
 *   the role's pg_roles row (attributes, connection limit, validity, its
 *       settings in every database as rolconfig),
 *   its pg_db_role_setting rows (in any database),
 *   its pg_auth_members rows (as member and as group),
 *   the database's pg_database row (owner, datconnlimit, datallowconn,
 *       datistemplate, ACL),
 *   the database's pg_db_role_setting rows (for any role).
 * Not readable, so not compared: the role's password (pg_authid is for
 * superusers; a role may change its own password).
 *
 * No I/O: SQL text out, PGresults in, verdicts out.
 */
#ifndef PGSLUICE_AUDIT_H
#define PGSLUICE_AUDIT_H

#include <stddef.h>
#include <libpq-fe.h>

#define AUDIT_ITEMS 5

struct audit {
	char *item[AUDIT_ITEMS]; /* the snapshot, one text per item; NULL: not taken */
	int taken;
};

void audit_init(struct audit *a);
void audit_free(struct audit *a);

/* The query of both the snapshot and the comparison: one row, AUDIT_ITEMS text columns. */
const char *audit_sql(void);

/* Keep its result as the snapshot.  Returns 0, or -1 with a message in err. */
int audit_snapshot(struct audit *a, const PGresult *res, char *err, size_t errsize)
	__attribute__((warn_unused_result));

/*
 * Compare its result now with the snapshot.  Returns 0 when nothing
 * changed, 1 when something did (msg: what, before and after, one line
 * per item), -1 when the result cannot be read (msg says so).
 */
int audit_compare(const struct audit *a, const PGresult *res, char *msg, size_t size)
	__attribute__((warn_unused_result));

#endif
