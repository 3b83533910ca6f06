/*
 * preflight.h - what is checked in the target before an import, and how.
 *
 * The catalog queries and the reading of their results, shared by
 * `pgsluice check` (blocking libpq, once) and `pgsluice serve` (the same
 * SQL sent asynchronously by the session before any byte of a dump goes
 * out).  No I/O here beyond building SQL text and reading PGresults.
 *
 * The steps, in the order serve runs them:
 *   1. preflight_sql_lock: take the import lock (a session-level advisory
 *      lock keyed on the target database) and read who we are.
 *   2. preflight_sql_settings: names of the parameters the server knows,
 *      for the rules' unknown-setting check.
 *   2b. preflight_sql_role: the role's standing (a superuser is refused
 *      without --allow-superuser-target), sent with the audit's snapshot
 *      (audit.h).
 *   3. preflight_sql_objects: what the target schemas hold.  Not cleared
 *      and no --clear-target: the import is refused.  With it,
 *      preflight_drop_sql is run inside the import's transaction.
 */
#ifndef PGSLUICE_PREFLIGHT_H
#define PGSLUICE_PREFLIGHT_H

#include <stddef.h>
#include <libpq-fe.h>

#define PREFLIGHT_MAX_SCHEMAS 32
#define PREFLIGHT_LIST_MAX 20 /* objects listed in a refusal */

/* One object in a target schema. */
struct preflight_object {
	char *kind;  /* "table", "sequence", "view", "function", "type", ... */
	char *kw;    /* its keyword in DROP and ALTER: "TABLE", "TEXT SEARCH DICTIONARY" */
	char *ident; /* quoted, schema-qualified; with argument types for routines */
	char *owner; /* role name */
	int mine;    /* the connected role may drop it (owner or member of the owner) */
};

struct preflight_objects {
	struct preflight_object *v;
	size_t n;
};

/* The names in pg_settings, sorted, for rules_options.known_setting. */
struct preflight_settings {
	char **names;
	size_t n;
};

/* Result of the lock step. */
struct preflight_lock {
	int locked;       /* the lock was taken */
	char dbname[128]; /* current_database() */
	char user[128];   /* current_user */
};

/* SQL of step 1; one row: locked bool, current_database, current_user. */
const char *preflight_sql_lock(void);
/* Releases the import lock (run after COMMIT/ROLLBACK). */
const char *preflight_sql_unlock(void);
/* Read step 1's result.  Returns 0, or -1 with a message in err. */
int preflight_lock_load(struct preflight_lock *l, const PGresult *res, char *err, size_t errsize);

/* SQL of step 2; one column: name. */
const char *preflight_sql_settings(void);
int preflight_settings_load(struct preflight_settings *s, const PGresult *res);
void preflight_settings_free(struct preflight_settings *s);
/* rules_options.known_setting: 1 if name (any case) is in *arg. */
int preflight_setting_known(void *arg, const char *name);

/*
 * The one catalog query of what schemas hold (check, --clear-target, the
 * --jobs aside/undo), malloc'd (NULL: out of memory), for the schema
 * names that satisfy nsp_cond (SQL after "nspname ", e.g. "= src").
 * Columns: kind, kw, ident, owner, mine, follows (moves and drops with
 * another row: an owned sequence), ord (drop order).  Partitioned tables
 * and their partitions are in; extension members are not.
 */
char *preflight_sql_objects_core(const char *nsp_cond);

/*
 * SQL of step 3 for the given schemas (malloc'd; NULL on out of memory or
 * escaping failure, with a message in err).  conn is used for quoting only.
 * Columns: kind, kw, ident, owner, mine; in drop order: tables, foreign
 * tables, sequences, views, routines, domains, types, and the rest.
 */
char *preflight_sql_objects(PGconn *conn, const char *const *schemas, int n_schemas, char *err,
                            size_t errsize);
int preflight_objects_load(struct preflight_objects *o, const PGresult *res, char *err,
                           size_t errsize);
void preflight_objects_free(struct preflight_objects *o);

/* How many of the objects are tables (of any kind: partitioned, foreign, ...). */
size_t preflight_objects_tables(const struct preflight_objects *o);

/* "173 tables, 21 sequences, 4 functions" (or "nothing"), malloc'd. */
char *preflight_objects_counts(const struct preflight_objects *o);

/*
 * The first max objects, one per line: indent, "table public.events", and
 * "... and N more" when cut; malloc'd, each line ends in '\n'.
 */
char *preflight_objects_list(const struct preflight_objects *o, size_t max, const char *indent);

/* First object the connected role cannot drop, or NULL. */
const struct preflight_object *preflight_objects_foreign(const struct preflight_objects *o);

/*
 * DROP statements that clear the objects (each group "DROP <KIND> IF EXISTS
 * a, b CASCADE;", in the order of the list), malloc'd; "" if nothing.
 */
char *preflight_drop_sql(const struct preflight_objects *o);

/*
 * `check` only: the role's standing.  One row: server_version, superuser,
 * db_owner name, owns_db, create_on_db (may CREATE in the database, so may
 * create trusted extensions), trusted (comma list of available trusted
 * extensions), installed (comma list "name version").
 */
const char *preflight_sql_standing(void);
/* Per schema: name, exists, owner, owns (member of owner), can_create. */
char *preflight_sql_schemas(PGconn *conn, const char *const *schemas, int n_schemas, char *err,
                            size_t errsize);

/*
 * The target role's standing, as serve's preflight (and check) judge it.
 * A dump is code that runs with the role's rights: a superuser target lets
 * a hostile dump run OS commands, read and write files on the database
 * host and reach every database; CREATEROLE, BYPASSRLS and the predefined
 * roles below give a part of that.
 *
 * SQL: one row: rolsuper, rolcreaterole, rolbypassrls, and the comma list
 * of the predefined roles pg_write_server_files, pg_execute_server_program,
 * pg_read_server_files, pg_signal_backend the role is a member of.
 */
struct preflight_role {
	int super, createrole, bypassrls;
	char members[160]; /* "pg_read_server_files,pg_signal_backend" or "" */
};

enum preflight_role_verdict {
	PREFLIGHT_ROLE_OK = 0,   /* nothing to say */
	PREFLIGHT_ROLE_WARN,     /* msg: a warning (CREATEROLE, BYPASSRLS, members) */
	PREFLIGHT_ROLE_SUPER_OK, /* msg: a superuser, allowed by --allow-superuser-target */
	PREFLIGHT_ROLE_REFUSE,   /* msg: a superuser without --allow-superuser-target */
};

const char *preflight_sql_role(void);
/* Read its result.  Returns 0, or -1 with a message in err. */
int preflight_role_load(struct preflight_role *r, const PGresult *res, char *err, size_t errsize);
/*
 * The verdict on role user (its name, for the message) and the message
 * (one or more lines, no trailing newline) in msg; allow_super:
 * --allow-superuser-target.
 */
enum preflight_role_verdict preflight_role_judge(const struct preflight_role *r, const char *user,
                                                 int allow_super, char *msg, size_t size);

#endif
