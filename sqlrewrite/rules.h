/*
 * rules.h - what happens to each statement of a dump on its way to the target.
 *
 * A table of named rules (owner, privileges, superuser-only, meta,
 * public-schema, transaction, unknown-setting, unknown-function, clean,
 * refuse, empty); each matches on a statement's leading keywords and the identifiers
 * that matter (through sqltok.h, never a regex over raw text) and decides:
 * forward, drop, rewrite or refuse.  Pure: libc only, no I/O.
 *
 *	struct rules r;
 *	rules_init(&r, &opts);
 *	for each LEXER_STATEMENT or LEXER_META event ev:
 *		rules_apply(&r, &ev, &v);
 *		switch (v.action) { forward v.text/v.len, or drop, or fail(v.reason) }
 *	rules_free(&r);
 *
 * COPY data and COPY_END events are not given to the rules: the COPY
 * statement that opens a block is, and a refused or dropped COPY statement
 * makes the caller skip (refuse: stop at) its data.
 */
#ifndef SQLREWRITE_RULES_H
#define SQLREWRITE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "lexer.h"

enum rules_action {
	RULES_FORWARD = 0, /* send the statement as it is */
	RULES_DROP,        /* do not send it; counted, with a reason */
	RULES_REWRITE,     /* send v.text instead */
	RULES_REFUSE,      /* stop the import: v.reason says why */
};

struct rules_role_map {
	const char *from, *to; /* role names as PostgreSQL stores them */
};

struct rules_options {
	int keep_owners;     /* --keep-owners: forward OWNER TO, SET ROLE, ... */
	int keep_privileges; /* --keep-privileges: forward GRANT/REVOKE/... */
	int allow_drop;      /* --allow-drop: forward DROP ... (pg_dump --clean) */
	/*
	 * --clear-target (serve): the target schemas are emptied in the same
	 * transaction before the dump runs, so the DROP statements of a
	 * pg_dump --clean dump (all before its first CREATE) are dropped.
	 */
	int clear_target;
	/*
	 * --allow-superuser-target: the operator accepts a superuser target.
	 * The rules need it only as the precondition of the two below (the
	 * daemon's role check reads it too).
	 */
	int allow_superuser_target;
	int allow_native_code;  /* --allow-native-code: LANGUAGE c / internal */
	int allow_publications; /* --allow-publications: forward publications */
	int single_transaction; /* import is one transaction: drop BEGIN/COMMIT */
	/*
	 * The statements run in one transaction on one connection (serve's
	 * single-transaction mode without --jobs): a COPY ... FROM stdin into
	 * a table whose CREATE TABLE this stream forwarded is rewritten to
	 * COPY ... FROM stdin WITH (FREEZE) (rule copy-freeze).
	 */
	int copy_freeze;
	const struct rules_role_map *role_map; /* --map-role OLD=NEW */
	size_t n_role_map;
	/*
	 * The target server's version as server_version_num (150018), or 0 if
	 * unknown.  Decides unknown-function, and unknown-setting when
	 * known_setting is NULL (built-in table of what pg_dump emits).
	 */
	int target_version;
	/* Parameters the target knows (from pg_settings): 1 known, 0 not. */
	int (*known_setting)(void *arg, const char *name);
	void *known_arg;
};

/*
 * What kind of transaction control a statement is, whatever the action:
 * the PostgreSQL-protocol front end counts BEGIN/COMMIT depth with it.
 * Stable codes: callers switch on them.
 */
enum rules_txn {
	RULES_TXN_NONE = 0, /* not transaction control */
	RULES_TXN_BEGIN,    /* BEGIN [WORK|TRANSACTION], START TRANSACTION */
	RULES_TXN_COMMIT,   /* COMMIT [WORK|TRANSACTION] (END is refused) */
	RULES_TXN_ROLLBACK, /* ROLLBACK / ABORT (always refused) */
	RULES_TXN_OTHER,    /* savepoints, two-phase, SET TRANSACTION, ... (refused) */
};

/* The rules of the table, in the order rules_stats() lists them. */
enum rules_id {
	RULES_R_NONE = 0,         /* no rule acted: a plain forward */
	RULES_R_EMPTY,            /* "empty" */
	RULES_R_OWNER,            /* "owner" */
	RULES_R_PRIVILEGES,       /* "privileges" */
	RULES_R_SUPERUSER_ONLY,   /* "superuser-only" */
	RULES_R_META,             /* "meta" */
	RULES_R_PUBLIC_SCHEMA,    /* "public-schema" */
	RULES_R_TRANSACTION,      /* "transaction" */
	RULES_R_UNKNOWN_SETTING,  /* "unknown-setting" */
	RULES_R_UNKNOWN_FUNCTION, /* "unknown-function" */
	RULES_R_COLUMN_OPTION,    /* "column-option" */
	RULES_R_CLEAN,            /* "clean" */
	RULES_R_REFUSE,           /* "refuse" */
	RULES_R_COPY_FREEZE,      /* "copy-freeze" */
	RULES_R_NRULES
};

struct rules_verdict {
	enum rules_action action;
	enum rules_id id;   /* the rule that acted (RULES_R_NONE: a plain forward) */
	enum rules_txn txn; /* set for transaction control, any action */
	const char *rule;   /* the rule's name ("owner", ...); NULL for a plain forward */
	const char *reason; /* one line, for drop, rewrite and refuse */
	const char *text;   /* FORWARD/REWRITE: the text to send; valid until the */
	size_t len;         /* next rules call (points into ev->data for FORWARD) */
};

/* One row of the summary: how often a rule acted. */
struct rules_stat {
	const char *rule;   /* id */
	const char *action; /* "dropped", "rewritten", "refused" */
	uint64_t count;
};

#define RULES_MAX_STATS 48

/*
 * The tables this stream created (CREATE [UNLOGGED] TABLE forwarded), for
 * COPY FREEZE and for the ANALYZE or VACUUM after the data.  A name is
 * kept decoded, component by component ("schema\0table"), so that any
 * spelling of it matches.  Storage grows by doubling; none per byte.
 */
struct rules_created {
	char *names; /* the keys, back to back */
	size_t len, cap;
	struct rules_created_ent {
		size_t off; /* in names */
		unsigned short klen;
		unsigned char flags; /* RULES_TABLE_* */
	} * ent;
	size_t n, cap_ent;
	size_t *slot;  /* open addressing: entry index + 1, 0 empty */
	size_t n_slot; /* a power of two, or 0 */
};

#define RULES_TABLE_PARTITIONED 1 /* PARTITION BY: COPY FREEZE is refused there */
#define RULES_TABLE_PARTITION 2   /* PARTITION OF, or ATTACH PARTITION'd: its root covers it */

struct rules {
	struct rules_options opt;
	uint64_t counts[RULES_MAX_STATS];
	int seen_connect;        /* a \connect was dropped already */
	int forwarded_any;       /* a statement other than SET/set_config went out */
	int past_clean;          /* a statement other than setup and pg_dump
	                         * --clean's drops was seen */
	uint64_t post_data_line; /* line of the first post-data object, 0: none */
	char post_data[64];      /* its first words */
	char dbname[64];         /* the database a -C preamble created */
	struct rules_created created;
	int created_oom;      /* a name could not be kept: created is incomplete */
	uint64_t stats_calls; /* pg_dump 18 statistics calls forwarded */
	char *buf;            /* rewrite buffer */
	size_t cap;
	char reason[640]; /* reasons built at run time */
};

/* Copy *opt (the role map is referenced, not copied: keep it alive). */
void rules_init(struct rules *r, const struct rules_options *opt);
void rules_free(struct rules *r);

/*
 * Decide the fate of a LEXER_STATEMENT or LEXER_META event (other event
 * types are forwarded unchanged).  Returns the action, also stored in v.
 */
enum rules_action rules_apply(struct rules *r, const struct lexer_event *ev,
                              struct rules_verdict *v);

/*
 * Rows for the rules that acted at least once, in table order; returns how
 * many were written to out (at most max).
 */
int rules_stats(const struct rules *r, struct rules_stat *out, int max);

/*
 * The tables this stream created, in dump order: how many, and the i-th
 * (i < rules_tables) as SQL ("\"public\".\"events\"") into out; returns
 * its RULES_TABLE_* flags, or -1 when out is too small.  Partitions come
 * with RULES_TABLE_PARTITION: ANALYZE or VACUUM of their root reaches them.
 * A name that could not be kept (out of memory) makes rules_tables_complete
 * 0: the caller should then analyze without a list.
 */
size_t rules_tables(const struct rules *r);
int rules_table_sql(const struct rules *r, size_t i, char *out, size_t size);
int rules_tables_complete(const struct rules *r);

/* pg_dump 18 statistics calls (pg_restore_relation_stats, ...) forwarded. */
uint64_t rules_stats_calls(const struct rules *r);

/* Built-in knowledge: the server version (server_version_num) that first
 * knew a parameter pg_dump emits, or 0 if the table does not list it. */
int rules_setting_since(const char *name);

/*
 * Whether a server of that version (server_version_num) knows a parameter
 * of the built-in table: 1 yes, 0 no (too old, removed since, or a minor
 * release before a back-patch), -1 the table does not list it.
 */
int rules_setting_known(const char *name, int version);

#endif
