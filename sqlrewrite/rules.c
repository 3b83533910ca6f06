/*
 * rules.c - what happens to each statement of a dump (see rules.h).
 *
 * The decision is a walk down one table, rule_rows[]: the first row whose
 * matcher accepts the statement decides (drop, rewrite or refuse, or
 * forward when an option says so).  A statement no row accepts is
 * forwarded as it is.  Matchers only look at tokens from sqltok.h, so text
 * inside strings, quoted identifiers, comments and dollar-quoted bodies can
 * never match.  Meta-commands (LEXER_META) go through meta_apply() instead.
 * Between statements the rules keep only what pg_dump's order makes
 * meaningful: whether --clean's drops may still come (past_clean) and where
 * post-data began (post_data_line).
 *
 * Pure: libc only, no I/O.  The allocations are r->buf, the rewrite
 * buffer, grown as needed and kept for the next rewrite, and the set of
 * tables the stream created (r->created), grown by doubling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "sqltok.h"

static const char *const rule_names[RULES_R_NRULES] = {
	NULL,
	"empty",
	"owner",
	"privileges",
	"superuser-only",
	"meta",
	"public-schema",
	"transaction",
	"unknown-setting",
	"unknown-function",
	"column-option",
	"clean",
	"refuse",
	"copy-freeze",
};

/* counts[] is indexed rule * 3 + (action - 1); RULES_MAX_STATS must fit. */
typedef char rules_counts_fit[(RULES_R_NRULES * 3 <= RULES_MAX_STATS) ? 1 : -1];

/* ------------------------------------------------------------------ */
/* A statement, tokenized once                                         */

#define ST_HEAD 48 /* leading tokens kept */

struct stmt {
	const char *s;
	size_t len;
	int std;
	uint64_t line;
	struct sqltok t[ST_HEAD]; /* the first tokens */
	int n;                    /* how many of them are in t[] */
	struct sqltok tail[4];    /* the last tokens, tail[ntail - 1] last */
	int ntail;
	int ntok;  /* all tokens (';' included) */
	int clean; /* enum clean_form: a pg_dump --clean drop */
};

/* What the matching row decided; rows preset it, matchers may change it. */
struct hit {
	enum rules_id rule;
	enum rules_action action;
	enum rules_txn txn;
	const char *reason;
	size_t rwlen; /* RULES_REWRITE: bytes of the new text in r->buf */
	int dbname;   /* set r->dbname from name[] */
	char name[64];
};

static void
stmt_init(struct stmt *st, const struct lexer_event *ev)
{
	struct sqltok_iter it;
	struct sqltok t, ring[4];
	int i;

	st->s = ev->data;
	st->len = ev->len;
	st->std = ev->std_strings;
	st->line = ev->line;
	st->n = st->ntail = st->ntok = 0;
	sqltok_init(&it, st->s, st->len, st->std);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (st->n < ST_HEAD)
			st->t[st->n++] = t;
		ring[st->ntok % 4] = t;
		st->ntok++;
	}
	st->ntail = st->ntok < 4 ? st->ntok : 4;
	for (i = 0; i < st->ntail; i++)
		st->tail[i] = ring[(st->ntok - st->ntail + i) % 4];
}

static int
W(const struct stmt *st, int i, const char *kw)
{
	return i >= 0 && i < st->n && sqltok_is(&st->t[i], kw);
}

static int
is_op(const struct sqltok *t, char c)
{
	return t->type == SQLTOK_OP && t->len == 1 && t->p[0] == c;
}

static int
OP(const struct stmt *st, int i, char c)
{
	return i >= 0 && i < st->n && is_op(&st->t[i], c);
}

static int
is_name_tok(const struct sqltok *t)
{
	return t->type == SQLTOK_WORD || t->type == SQLTOK_QIDENT;
}

/* Name of a token with ASCII lowercasing also for quoted ones (settings). */
static void
lower_name(const struct sqltok *t, char *out, size_t size)
{
	size_t i;

	sqltok_name(t, out, size);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] + ('a' - 'A'));
}

/* A role token is a keyword (CURRENT_USER, PUBLIC, ...), not a name. */
static int
role_keyword(const struct sqltok *t)
{
	static const char *const kw[] = {
		"current_user", "session_user", "current_role", "public", "none", "default", NULL
	};
	int i;

	for (i = 0; kw[i] != NULL; i++)
		if (sqltok_is(t, kw[i]))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Role mapping and the rewrite buffer                                 */

/* The role map's new name for token t, or NULL if t is not mapped. */
static const char *
map_role(const struct rules *r, const struct sqltok *t)
{
	char name[256];
	size_t i, n;

	if (r->opt.n_role_map == 0)
		return NULL;
	if (t->type == SQLTOK_WORD && role_keyword(t))
		return NULL;
	if (t->type != SQLTOK_WORD && t->type != SQLTOK_QIDENT && t->type != SQLTOK_STRING)
		return NULL;
	n = sqltok_name(t, name, sizeof(name));
	if (n >= sizeof(name))
		return NULL;
	for (i = 0; i < r->opt.n_role_map; i++)
		if (strcmp(r->opt.role_map[i].from, name) == 0)
			return r->opt.role_map[i].to;
	return NULL;
}

struct rw {
	struct rules *r;
	const char *src;
	size_t done; /* bytes of src copied so far */
	size_t len;  /* bytes in r->buf */
	int oom;
	int changed;
};

static void
rw_put(struct rw *w, const char *p, size_t n)
{
	struct rules *r = w->r;

	if (w->oom)
		return;
	if (w->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		char *nb;

		while (cap < w->len + n + 1)
			cap *= 2;
		nb = realloc(r->buf, cap);
		if (nb == NULL) {
			w->oom = 1;
			return;
		}
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + w->len, p, n);
	w->len += n;
	r->buf[w->len] = '\0';
}

static void
rw_init(struct rw *w, struct rules *r, const char *src)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->src = src;
}

/* Words that must be quoted as role names (reserved and type/function). */
static int
reserved_word(const char *s)
{
	static const char *const kw[] = { "all",
		                          "analyse",
		                          "analyze",
		                          "and",
		                          "any",
		                          "array",
		                          "as",
		                          "asc",
		                          "asymmetric",
		                          "authorization",
		                          "binary",
		                          "both",
		                          "case",
		                          "cast",
		                          "check",
		                          "collate",
		                          "collation",
		                          "column",
		                          "concurrently",
		                          "constraint",
		                          "create",
		                          "cross",
		                          "current_catalog",
		                          "current_date",
		                          "current_role",
		                          "current_schema",
		                          "current_time",
		                          "current_timestamp",
		                          "current_user",
		                          "default",
		                          "deferrable",
		                          "desc",
		                          "distinct",
		                          "do",
		                          "else",
		                          "end",
		                          "except",
		                          "false",
		                          "fetch",
		                          "for",
		                          "foreign",
		                          "freeze",
		                          "from",
		                          "full",
		                          "grant",
		                          "group",
		                          "having",
		                          "ilike",
		                          "in",
		                          "initially",
		                          "inner",
		                          "intersect",
		                          "into",
		                          "is",
		                          "isnull",
		                          "join",
		                          "lateral",
		                          "leading",
		                          "left",
		                          "like",
		                          "limit",
		                          "localtime",
		                          "localtimestamp",
		                          "natural",
		                          "none",
		                          "not",
		                          "notnull",
		                          "null",
		                          "offset",
		                          "on",
		                          "only",
		                          "or",
		                          "order",
		                          "outer",
		                          "overlaps",
		                          "placing",
		                          "primary",
		                          "public",
		                          "references",
		                          "returning",
		                          "right",
		                          "select",
		                          "session_user",
		                          "similar",
		                          "some",
		                          "symmetric",
		                          "system_user",
		                          "table",
		                          "tablesample",
		                          "then",
		                          "to",
		                          "trailing",
		                          "true",
		                          "union",
		                          "unique",
		                          "user",
		                          "using",
		                          "variadic",
		                          "verbose",
		                          "when",
		                          "where",
		                          "window",
		                          "with",
		                          NULL };
	int i;

	for (i = 0; kw[i] != NULL; i++)
		if (strcmp(kw[i], s) == 0)
			return 1;
	return 0;
}

/* Append name as an identifier, quoted only if it has to be. */
static void
rw_ident(struct rw *w, const char *name)
{
	const char *p;
	int bare = name[0] != '\0' && !(name[0] >= '0' && name[0] <= '9');

	for (p = name; *p != '\0' && bare; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			bare = 0;
	if (bare && !reserved_word(name)) {
		rw_put(w, name, strlen(name));
		return;
	}
	rw_put(w, "\"", 1);
	for (p = name; *p != '\0'; p++)
		rw_put(w, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
	rw_put(w, "\"", 1);
}

/* Append name as a string literal as the statement reads them. */
static void
rw_literal(struct rw *w, const char *name, int std)
{
	const char *p;

	rw_put(w, "'", 1);
	for (p = name; *p != '\0'; p++) {
		if (*p == '\'')
			rw_put(w, "''", 2);
		else if (*p == '\\' && !std)
			rw_put(w, "\\\\", 2);
		else
			rw_put(w, p, 1);
	}
	rw_put(w, "'", 1);
}

/* Replace token t (inside w->src) by the role name new, same form. */
static void
rw_role(struct rw *w, const struct sqltok *t, const char *newname, int std)
{
	rw_put(w, w->src + w->done, (size_t)(t->p - (w->src + w->done)));
	if (t->type == SQLTOK_STRING)
		rw_literal(w, newname, std);
	else
		rw_ident(w, newname);
	w->done = (size_t)(t->p + t->len - w->src);
	w->changed = 1;
}

static void
rw_finish(struct rw *w, size_t srclen)
{
	rw_put(w, w->src + w->done, srclen - w->done);
	w->done = srclen;
}

/*
 * Finish a rewrite of a statement srclen bytes long into the verdict:
 * RULES_REWRITE with reason, or RULES_REFUSE if the rewrite ran out of
 * memory.  Returns 1 (the rule matched).
 */
static int
rw_verdict(struct rw *w, size_t srclen, struct hit *h, const char *reason)
{
	rw_finish(w, srclen);
	if (w->oom) {
		h->action = RULES_REFUSE;
		h->reason = "out of memory rewriting a statement";
		return 1;
	}
	h->action = RULES_REWRITE;
	h->rwlen = w->len;
	h->reason = reason;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Built-in settings table                                             */

#define OLD 80000 /* "8.0 or older": every server pgsluice can talk to */

struct setting {
	const char *name; /* lowercase */
	int since;        /* first server_version_num that knows it */
	int until;        /* first that does not any more, 0: still known */
	const int *minor; /* back-patched into these minor releases */
};

/* CVE-2024-7348 (August 2024): 12.20, 13.16, 14.13, 15.8, 16.4, 17.0. */
static const int restrict_relkind_minor[] = { 120020, 130016, 140013, 150008, 160004, 170000, 0 };

static const struct setting settings[] = {
	{ "check_function_bodies", OLD, 0, NULL },
	{ "client_encoding", OLD, 0, NULL },
	{ "client_min_messages", OLD, 0, NULL },
	{ "datestyle", OLD, 0, NULL },
	{ "default_table_access_method", 120000, 0, NULL },
	{ "default_tablespace", OLD, 0, NULL },
	{ "default_toast_compression", 140000, 0, NULL },
	{ "default_transaction_read_only", OLD, 0, NULL },
	{ "default_with_oids", OLD, 120000, NULL },
	{ "escape_string_warning", 80100, 0, NULL },
	{ "extra_float_digits", OLD, 0, NULL },
	{ "idle_in_transaction_session_timeout", 90600, 0, NULL },
	{ "intervalstyle", 80400, 0, NULL },
	{ "lo_compat_privileges", 90000, 0, NULL },
	{ "lock_timeout", 90300, 0, NULL },
	{ "quote_all_identifiers", 90100, 0, NULL },
	{ "restrict_nonsystem_relation_kind", 120020, 0, restrict_relkind_minor },
	{ "row_security", 90500, 0, NULL },
	{ "search_path", OLD, 0, NULL },
	{ "session_replication_role", 80300, 0, NULL },
	{ "standard_conforming_strings", 80100, 0, NULL },
	{ "statement_timeout", OLD, 0, NULL },
	{ "synchronous_commit", 80300, 0, NULL },
	{ "timezone", OLD, 0, NULL },
	{ "transaction_timeout", 170000, 0, NULL },
	{ "xmloption", 80300, 0, NULL },
};

static const struct setting *
setting_find(const char *name)
{
	char low[64];
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + ('a' - 'A'))
		                                            : name[i];
	if (name[i] != '\0')
		return NULL;
	low[i] = '\0';
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(settings[i].name, low) == 0)
			return &settings[i];
	return NULL;
}

int
rules_setting_since(const char *name)
{
	const struct setting *s = setting_find(name);

	return s != NULL ? s->since : 0;
}

int
rules_setting_known(const char *name, int version)
{
	const struct setting *s = setting_find(name);
	int i;

	if (s == NULL)
		return -1;
	if (version < s->since || (s->until != 0 && version >= s->until))
		return 0;
	if (s->minor == NULL)
		return 1;
	for (i = 0; s->minor[i] != 0; i++) {
		int last = s->minor[i + 1] == 0;

		if (version / 10000 == s->minor[i] / 10000 || last)
			return version >= s->minor[i];
	}
	return 0;
}

/* 1 if the target knows the parameter (or we cannot tell), 0 if not. */
static int
setting_ok(const struct rules *r, const char *name)
{
	if (strchr(name, '.') != NULL)
		return 1; /* custom (extension) parameter: not ours to judge */
	if (r->opt.known_setting != NULL)
		return r->opt.known_setting(r->opt.known_arg, name) != 0;
	if (r->opt.target_version == 0)
		return 1;
	return rules_setting_known(name, r->opt.target_version) != 0;
}

/* ------------------------------------------------------------------ */
/* Matchers.  Each returns 1 when its row applies (h may be adjusted).  */

static int
m_empty(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return st->ntok == 0 || (st->ntok == 1 && OP(st, 0, ';'));
}

/* Index of the first token after SET [SESSION|LOCAL], or -1. */
static int
set_body(const struct stmt *st)
{
	if (!W(st, 0, "set"))
		return -1;
	if (W(st, 1, "local") ||
	    (W(st, 1, "session") && !W(st, 2, "authorization") && !W(st, 2, "characteristics")))
		return 2;
	return 1;
}

/* "SELECT [pg_catalog.]fn(" ; returns the index of '(' or -1. */
static int
select_call(const struct stmt *st, const char *fn)
{
	int i = 1;

	if (!W(st, 0, "select"))
		return -1;
	if (OP(st, 1, '*') && W(st, 2, "from"))
		i = 3;
	if (W(st, i, "pg_catalog") && OP(st, i + 1, '.'))
		i += 2;
	if (!W(st, i, fn) || !OP(st, i + 1, '('))
		return -1;
	return i + 1;
}

/* The call whose '(' is st->t[open] is all the statement ("...);"). */
static int
call_is_whole(const struct stmt *st, int open)
{
	struct sqltok_iter it;
	struct sqltok t;
	const char *p = st->t[open].p;

	sqltok_init(&it, p, st->len - (size_t)(p - st->s), st->std);
	sqltok_next(&it, &t); /* '(' */
	while (sqltok_next(&it, &t) != SQLTOK_END)
		if (t.depth == 0)
			return is_op(&t, ';') && sqltok_next(&it, &t) == SQLTOK_END;
	return 0;
}

/* SET name = / SELECT set_config('name', ...): the only setup statements. */
static int
is_setup(const struct stmt *st)
{
	int open;

	if (W(st, 0, "set") || W(st, 0, "reset"))
		return 1;
	open = select_call(st, "set_config");
	return open >= 0 && call_is_whole(st, open);
}

/*
 * -C preamble: CREATE DATABASE, ALTER DATABASE, DROP DATABASE (--clean),
 * COMMENT ON DATABASE, SECURITY LABEL ON DATABASE, ALTER ROLE ... IN
 * DATABASE.  Drops (rule meta) what belongs to the preamble and refuses
 * the rest (rule refuse).
 */
static int
m_database(struct rules *r, const struct stmt *st, struct hit *h)
{
	const struct sqltok *name = NULL;
	int same, preamble = !r->seen_connect && !r->forwarded_any;
	int i;

	if ((W(st, 0, "create") || W(st, 0, "alter")) && W(st, 1, "database"))
		name = st->n > 2 ? &st->t[2] : NULL;
	else if (W(st, 0, "drop") && W(st, 1, "database"))
		name = W(st, 2, "if") && W(st, 3, "exists") ? &st->t[4] : &st->t[2];
	else if (W(st, 0, "comment") && W(st, 1, "on") && W(st, 2, "database"))
		name = &st->t[3];
	else if (W(st, 0, "security") && W(st, 1, "label")) {
		for (i = 2; i + 1 < st->n && !W(st, i, "on"); i++)
			;
		if (!W(st, i + 1, "database"))
			return 0;
		name = &st->t[i + 2];
	} else if (W(st, 0, "alter") && (W(st, 1, "role") || W(st, 1, "user")) && W(st, 3, "in") &&
	           W(st, 4, "database"))
		name = &st->t[5];
	else
		return 0;
	if (name == NULL || name >= st->t + st->n || !is_name_tok(name)) {
		h->rule = RULES_R_REFUSE;
		h->action = RULES_REFUSE;
		h->reason = "a statement on a database pgsluice cannot read "
			    "reaches outside the target database";
		return 1;
	}
	sqltok_name(name, h->name, sizeof(h->name));
	same = r->dbname[0] != '\0' && strcmp(r->dbname, h->name) == 0;

	h->rule = RULES_R_META;
	h->action = RULES_DROP;
	if (W(st, 0, "create")) {
		if (preamble && (r->dbname[0] == '\0' || same)) {
			h->dbname = 1;
			h->reason = "pg_dump -C preamble: the import goes into "
				    "the target database, whatever its name";
			return 1;
		}
		h->reason = "CREATE DATABASE beyond pg_dump -C's preamble "
			    "reaches outside the target database";
	} else if (W(st, 0, "drop")) {
		if (preamble && (r->opt.allow_drop || r->opt.clear_target) &&
		    r->dbname[0] == '\0') {
			h->dbname = 1;
			h->reason = "pg_dump -C --clean preamble: the target "
				    "database is never dropped";
			return 1;
		}
		h->reason = r->opt.allow_drop || r->opt.clear_target
		                    ? "DROP "
		                      "DATABASE reaches outside the target database"
		                    : "DROP "
		                      "DATABASE reaches outside the target database (pg_dump -C "
		                      "--clean's own, first in the dump, is skipped with "
		                      "--clear-target or --allow-drop)";
	} else if (W(st, 0, "comment")) {
		/* older pg_dump (< 11) emits it even without -C */
		h->reason = "COMMENT ON DATABASE describes the source database; "
			    "the import goes into the target database";
		return 1;
	} else if (same) {
		h->reason = "a database-level property of the source database "
			    "(pg_dump -C); the import goes into the target database";
		return 1;
	} else if (W(st, 0, "security")) {
		return 0; /* superuser-only drops it */
	} else if (W(st, 1, "database")) {
		h->reason = "ALTER DATABASE on a database the dump did not create "
			    "reaches outside the target database";
	} else {
		h->reason = "ALTER ROLE changes a role, outside the target "
			    "database; pg_dump never emits it";
	}
	h->rule = RULES_R_REFUSE;
	h->action = RULES_REFUSE;
	return 1;
}

static int
m_copy(struct rules *r, const struct stmt *st, struct hit *h)
{
	struct sqltok_iter it;
	struct sqltok t;
	int dir = 0; /* 'f' FROM, 't' TO */

	(void)r;
	if (!W(st, 0, "copy"))
		return 0;
	sqltok_init(&it, st->s, st->len, st->std);
	sqltok_next(&it, &t);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.depth != 0)
			continue;
		if (sqltok_is(&t, "from") || sqltok_is(&t, "to")) {
			dir = sqltok_is(&t, "from") ? 'f' : 't';
			break;
		}
	}
	if (dir != 0)
		sqltok_next(&it, &t);
	if (dir == 'f' && sqltok_is(&t, "stdin"))
		return 0;
	if (dir != 0 && sqltok_is(&t, "program"))
		h->reason = "COPY ... PROGRAM runs a program on the database "
			    "server; pg_dump never emits it";
	else if (dir != 0 && t.type == SQLTOK_STRING)
		h->reason = "COPY ... FROM/TO a file reads or writes a file on "
			    "the database server; pg_dump never emits it";
	else
		h->reason = "COPY other than COPY ... FROM stdin; pg_dump never "
			    "emits it";
	return 1;
}

static int
m_alter_system(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return W(st, 0, "alter") && W(st, 1, "system");
}

static int
m_role(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	if (!W(st, 0, "create") && !W(st, 0, "alter") && !W(st, 0, "drop"))
		return 0;
	if (W(st, 1, "user") && W(st, 2, "mapping"))
		return 0; /* CREATE USER MAPPING: pg_dump emits it */
	return W(st, 1, "role") || W(st, 1, "user") || W(st, 1, "group");
}

static int
m_tablespace(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return (W(st, 0, "create") || W(st, 0, "alter") || W(st, 0, "drop")) &&
	       W(st, 1, "tablespace");
}

static int
m_load(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return W(st, 0, "load");
}

static int
m_checkpoint(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return W(st, 0, "checkpoint");
}

static int
m_do(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return W(st, 0, "do");
}

/* The statement is over at token i: nothing but an optional ';' follows. */
static int
ends_at(const struct stmt *st, int i)
{
	return st->ntok == i || (st->ntok == i + 1 && OP(st, i, ';'));
}

/* ------------------------------------------------------------------ */
/* SELECT: only the pg_catalog calls pg_dump writes                    */

/*
 * The functions pg_dump (11 .. 18) calls with SELECT, each with the first
 * pg_dump version that writes it (pg_dump and pg_restore share the
 * archiver that writes them).  target: the server has it only from
 * that version on, so a call into an older target is dropped
 * (unknown-function).  lo_unlink is not here: pg_dump writes it only as a
 * --clean drop, and the clean rule reads its two forms.  binary_upgrade_*
 * (pg_dump --binary-upgrade, for pg_upgrade) are not here on purpose.
 */
struct dump_call {
	const char *name; /* in pg_catalog */
	int since;        /* first pg_dump version (server_version_num) */
	int target;       /* 1: a target older than since lacks it */
};

static const struct dump_call dump_calls[] = {
	/* the prelude, since the CVE-2018-1058 releases (10.3, 9.6.8, ...) */
	{ "set_config", 100003, 0 },
	{ "setval", OLD, 0 },      /* SEQUENCE SET */
	{ "lo_create", 90000, 0 }, /* BLOB / BLOB METADATA */
	{ "lo_open", OLD, 0 },     /* BLOBS: large-object data */
	{ "lowrite", OLD, 0 },
	{ "lo_close", OLD, 0 },
	{ "pg_restore_relation_stats", 180000, 1 }, /* STATISTICS DATA */
	{ "pg_restore_attribute_stats", 180000, 1 },
	/*
	 * Not in a dump: pg_restore (pg_dump's archiver) asks it on every
	 * connection to a 9.0+ server, through the PostgreSQL port.
	 */
	{ "pg_is_in_recovery", 90000, 0 },
};

static const struct dump_call *
dump_call_find(const struct sqltok *t)
{
	char name[64];
	size_t i;

	if (t->type != SQLTOK_WORD)
		return NULL;
	sqltok_name(t, name, sizeof(name));
	for (i = 0; i < sizeof(dump_calls) / sizeof(dump_calls[0]); i++)
		if (strcmp(dump_calls[i].name, name) == 0)
			return &dump_calls[i];
	return NULL;
}

/*
 * "SELECT [* FROM] pg_catalog.fn(" as pg_dump writes it: the index of the
 * '(' and the function's token in *fn, or -1.
 */
static int
catalog_call(const struct stmt *st, const struct sqltok **fn)
{
	int i = 1;

	if (!W(st, 0, "select"))
		return -1;
	if (OP(st, 1, '*') && W(st, 2, "from"))
		i = 3;
	if (!W(st, i, "pg_catalog") || !OP(st, i + 1, '.') || i + 3 >= st->n ||
	    st->t[i + 2].type != SQLTOK_WORD || !OP(st, i + 3, '('))
		return -1;
	*fn = &st->t[i + 2];
	return i + 3;
}

/*
 * The call opened by st->t[open] has only literal arguments, each with
 * optional casts ('1'::integer, '{0.5}'::real[], false::boolean, -5), and
 * is all the statement: ")" then an optional ';'.  A subquery, a column,
 * an operator or a nested call is code pg_dump never writes there.
 */
static int
call_args_literal(const struct stmt *st, int open)
{
	struct sqltok_iter it;
	struct sqltok t;
	const char *p = st->t[open].p;
	enum {
		VALUE,
		AFTER,
		CAST2,
		TYPE,
		TYPE_MORE,
		BRACKET
	} want = VALUE;
	int nargs = 0;

	sqltok_init(&it, p, st->len - (size_t)(p - st->s), st->std);
	sqltok_next(&it, &t); /* '(' */
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (is_op(&t, ')') &&
		    (want == AFTER || want == TYPE_MORE || (want == VALUE && nargs == 0))) {
			if (sqltok_next(&it, &t) == SQLTOK_END)
				return 1;
			return is_op(&t, ';') && sqltok_next(&it, &t) == SQLTOK_END;
		}
		switch (want) {
		case VALUE:
			if (is_op(&t, '-'))
				continue; /* a negative number: setval('s', -5, ...) */
			if (t.type != SQLTOK_STRING && t.type != SQLTOK_NUMBER &&
			    !sqltok_is(&t, "true") && !sqltok_is(&t, "false") &&
			    !sqltok_is(&t, "null"))
				return 0;
			nargs++;
			want = AFTER;
			break;
		case AFTER:
		case TYPE_MORE:
			if (is_op(&t, ','))
				want = VALUE;
			else if (is_op(&t, ':'))
				want = CAST2;
			else if (want == TYPE_MORE && is_op(&t, '['))
				want = BRACKET;
			else if (want == TYPE_MORE && is_op(&t, '.'))
				want = TYPE;
			else if (want == TYPE_MORE && t.type == SQLTOK_WORD)
				; /* double precision, character varying */
			else
				return 0;
			break;
		case CAST2:
			if (!is_op(&t, ':'))
				return 0;
			want = TYPE;
			break;
		case TYPE:
			if (!is_name_tok(&t))
				return 0;
			want = TYPE_MORE;
			break;
		case BRACKET:
			if (!is_op(&t, ']'))
				return 0;
			want = TYPE_MORE;
			break;
		}
	}
	return 0;
}

static int
m_select(struct rules *r, const struct stmt *st, struct hit *h)
{
	const struct sqltok *fn = NULL;
	int open;

	if (!W(st, 0, "select"))
		return 0;
	open = catalog_call(st, &fn);
	if (open < 0) {
		h->reason = "pg_dump's only SELECT statements are calls of its "
			    "own pg_catalog functions (set_config, setval, large-object "
			    "and statistics functions); any other SELECT runs code on "
			    "the target. No option allows it: remove it from the dump";
		return 1;
	}
	if (dump_call_find(fn) == NULL) {
		snprintf(r->reason, sizeof(r->reason),
		         "pg_catalog.%.*s is not "
		         "one of the functions pg_dump calls (set_config, setval, "
		         "lo_create, lo_open, lowrite, lo_close, "
		         "pg_restore_relation_stats, pg_restore_attribute_stats; "
		         "pg_restore's pg_is_in_recovery). No "
		         "option allows it: remove it from the dump",
		         (int)(fn->len > 64 ? 64 : fn->len), fn->p);
		h->reason = r->reason;
		return 1;
	}
	if (!call_args_literal(st, open)) {
		h->reason = "pg_dump writes these calls alone, with literal "
			    "arguments; a subquery, column, operator or other call in "
			    "them runs code on the target. No option allows it: remove "
			    "it from the dump";
		return 1;
	}
	return 0; /* one of pg_dump's calls: the rows below decide */
}

/*
 * Statements that pg_dump never writes and that run code or queries:
 * CALL, WITH, VALUES, TABLE, EXPLAIN, PREPARE/EXECUTE, UPDATE, DELETE,
 * MERGE, cursors, NOTIFY/LISTEN.
 */
static int
m_not_dump(struct rules *r, const struct stmt *st, struct hit *h)
{
	static const char *const kw[] = { "call",    "with",    "values",     "table",  "explain",
		                          "execute", "prepare", "deallocate", "update", "delete",
		                          "merge",   "declare", "fetch",      "move",   "close",
		                          "notify",  "listen",  "unlisten",   NULL };
	int i;

	(void)r, (void)h;
	if (W(st, 0, "prepare") && W(st, 1, "transaction"))
		return 0; /* the transaction rule says more */
	for (i = 0; kw[i] != NULL; i++)
		if (W(st, 0, kw[i]))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Data after post-data                                                */

/*
 * The objects of pg_dump's post-data section that act on rows written
 * after them: triggers, rules, policies, indexes (their expressions run
 * on every row), index-backed and foreign-key constraints, event
 * triggers.  pg_dump writes every COPY and INSERT before the first of
 * them.
 */
static int
post_data_object(const struct stmt *st)
{
	struct sqltok_iter it;
	struct sqltok t, prev;
	int i = 1, add = 0;

	if (W(st, 0, "create")) {
		if (W(st, 1, "or") && W(st, 2, "replace"))
			i = 3;
		if (W(st, i, "constraint") || W(st, i, "event"))
			i++;
		if (W(st, i, "unique"))
			return W(st, i + 1, "index");
		return W(st, i, "trigger") || W(st, i, "rule") || W(st, i, "policy") ||
		       W(st, i, "index");
	}
	if (!W(st, 0, "alter") || !W(st, 1, "table"))
		return 0;
	sqltok_init(&it, st->s, st->len, st->std);
	memset(&prev, 0, sizeof(prev));
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.depth != 0 || t.type != SQLTOK_WORD)
			continue;
		if (sqltok_is(&t, "add"))
			add = 1;
		else if (add && (sqltok_is(&t, "primary") || sqltok_is(&t, "unique") ||
		                 sqltok_is(&t, "exclude") ||
		                 (sqltok_is(&t, "key") && sqltok_is(&prev, "foreign"))))
			return 1;
		prev = t;
	}
	return 0;
}

static int
m_data_after_post(struct rules *r, const struct stmt *st, struct hit *h)
{
	if (r->post_data_line == 0 || (!W(st, 0, "copy") && !W(st, 0, "insert")))
		return 0;
	snprintf(r->reason, sizeof(r->reason),
	         "data after the first post-data "
	         "object (%s, line %llu): pg_dump writes every COPY and INSERT "
	         "before its triggers, rules, policies, indexes and constraints, so "
	         "that none of them acts on the rows being loaded. No option allows "
	         "it: make the dump with pg_dump, unreordered",
	         r->post_data, (unsigned long long)r->post_data_line);
	h->reason = r->reason;
	return 1;
}

/*
 * INSERT as pg_dump --inserts / --column-inserts writes it: INSERT INTO
 * name [(columns)] [OVERRIDING SYSTEM VALUE] VALUES (literal, ...)[, ...]
 * [ON CONFLICT DO NOTHING], or INSERT INTO name DEFAULT VALUES (a table
 * without columns), each literal a number, a string, NULL, true,
 * false or DEFAULT.  1 if st is one.
 */
static int
insert_is_literal(const struct stmt *st)
{
	struct sqltok_iter it;
	struct sqltok t;
	enum {
		NAME,
		AFTER_NAME,
		COLS,
		ROW,
		VALUE,
		AFTER_VALUE,
		AFTER_ROW,
		DONE
	} want = NAME;
	int n = 0;

	sqltok_init(&it, st->s, st->len, st->std);
	sqltok_next(&it, &t); /* INSERT */
	if (sqltok_next(&it, &t) == SQLTOK_END || !sqltok_is(&t, "into"))
		return 0;
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		n++;
		switch (want) {
		case NAME:
			if (!is_name_tok(&t))
				return 0;
			want = AFTER_NAME;
			break;
		case AFTER_NAME:
			if (is_op(&t, '.') && n == 2)
				want = NAME;
			else if (is_op(&t, '(') && t.depth == 0)
				want = COLS;
			else if (sqltok_is(&t, "overriding")) {
				if (sqltok_next(&it, &t) == SQLTOK_END ||
				    (!sqltok_is(&t, "system") && !sqltok_is(&t, "user")) ||
				    sqltok_next(&it, &t) == SQLTOK_END || !sqltok_is(&t, "value"))
					return 0;
			} else if (sqltok_is(&t, "values"))
				want = ROW;
			else if (sqltok_is(&t, "default")) {
				/* a table without columns: DEFAULT VALUES */
				if (sqltok_next(&it, &t) == SQLTOK_END || !sqltok_is(&t, "values"))
					return 0;
				want = AFTER_ROW;
			} else
				return 0;
			break;
		case COLS:
			if (is_op(&t, ')'))
				want = AFTER_NAME;
			else if (!is_name_tok(&t) && !is_op(&t, ','))
				return 0;
			break;
		case ROW:
			if (!is_op(&t, '(') || t.depth != 0)
				return 0;
			want = VALUE;
			break;
		case VALUE:
			if (is_op(&t, '-'))
				continue;
			if (t.type != SQLTOK_STRING && t.type != SQLTOK_NUMBER &&
			    !sqltok_is(&t, "null") && !sqltok_is(&t, "true") &&
			    !sqltok_is(&t, "false") && !sqltok_is(&t, "default"))
				return 0;
			want = AFTER_VALUE;
			break;
		case AFTER_VALUE:
			if (is_op(&t, ','))
				want = VALUE;
			else if (is_op(&t, ')'))
				want = AFTER_ROW;
			else
				return 0;
			break;
		case AFTER_ROW:
			if (is_op(&t, ','))
				want = ROW;
			else if (is_op(&t, ';'))
				want = DONE;
			else if (sqltok_is(&t, "on")) {
				if (sqltok_next(&it, &t) == SQLTOK_END ||
				    !sqltok_is(&t, "conflict") ||
				    sqltok_next(&it, &t) == SQLTOK_END || !sqltok_is(&t, "do") ||
				    sqltok_next(&it, &t) == SQLTOK_END || !sqltok_is(&t, "nothing"))
					return 0;
			} else
				return 0;
			break;
		case DONE:
			return 0;
		}
	}
	return want == AFTER_ROW || want == DONE;
}

static int
m_insert(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)r, (void)h;
	return W(st, 0, "insert") && !insert_is_literal(st);
}

/* ------------------------------------------------------------------ */
/* LANGUAGE, decoded                                                   */

/*
 * The value of the name or string t as the server reads it (sqltok_value:
 * continued strings joined, escapes decoded), ASCII lowercased (LANGUAGE C
 * and "C" are refused alike), into out; *next is the iterator just after t
 * and is moved past a UESCAPE clause.  Returns 0 when t is not a form
 * pgsluice can read (B'', X'', a value longer than out, a string followed
 * by another string).
 */
static int
decode_value(const struct sqltok *t, struct sqltok_iter *next, int std, char *out, size_t size)
{
	const char *p = t->p;
	struct sqltok_iter peek = *next;
	struct sqltok u, e;
	char esc = 0;
	size_t o;

	if (t->type != SQLTOK_WORD && t->type != SQLTOK_QIDENT && t->type != SQLTOK_STRING)
		return 0;
	if (t->type == SQLTOK_STRING && (p[0] == 'b' || p[0] == 'B' || p[0] == 'x' || p[0] == 'X'))
		return 0;
	if (t->len >= 3 && (p[0] == 'u' || p[0] == 'U') && p[1] == '&' &&
	    sqltok_next(&peek, &u) == SQLTOK_WORD && sqltok_is(&u, "uescape")) {
		if (sqltok_next(&peek, &e) != SQLTOK_STRING || e.len != 3 || e.p[0] != '\'')
			return 0;
		esc = e.p[1];
		*next = peek;
	}
	if (sqltok_value(t, std, esc, out, size) >= size)
		return 0;
	if (p[0] == 'u' || p[0] == 'U') {
		/* an escape the server would refuse is kept as written: refuse it too */
		for (o = 0; out[o] != '\0'; o++)
			if (out[o] == (esc ? esc : '\\'))
				return 0;
	}
	for (o = 0; out[o] != '\0'; o++)
		if (out[o] >= 'A' && out[o] <= 'Z')
			out[o] = (char)(out[o] + ('a' - 'A'));
	peek = *next;
	if (t->type == SQLTOK_STRING && sqltok_next(&peek, &u) == SQLTOK_STRING)
		return 0; /* 'c' 'x' on one line: not one literal; the server refuses it */
	return 1;
}

/*
 * CREATE [OR REPLACE] FUNCTION/PROCEDURE ... LANGUAGE x, x decoded: c and
 * internal are native code (refused unless --allow-native-code with
 * --allow-superuser-target); a LANGUAGE pgsluice cannot read is refused.
 */
static int
m_native_code(struct rules *r, const struct stmt *st, struct hit *h)
{
	struct sqltok_iter it;
	struct sqltok t;
	char lang[16];
	int i = 1;

	if (!W(st, 0, "create"))
		return 0;
	if (W(st, 1, "or") && W(st, 2, "replace"))
		i = 3;
	if (!W(st, i, "function") && !W(st, i, "procedure"))
		return 0;
	sqltok_init(&it, st->s, st->len, st->std);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.depth != 0 || !sqltok_is(&t, "language"))
			continue;
		if (sqltok_next(&it, &t) == SQLTOK_END)
			break;
		if (t.type != SQLTOK_WORD && t.type != SQLTOK_QIDENT && t.type != SQLTOK_STRING)
			continue;
		if (!decode_value(&t, &it, st->std, lang, sizeof(lang))) {
			h->reason = "LANGUAGE written in a form pgsluice cannot "
				    "read (pg_dump writes a plain or \"quoted\" name). "
				    "No option allows it: fix the dump";
			return 1;
		}
		if (strcmp(lang, "c") != 0 && strcmp(lang, "internal") != 0)
			continue;
		if (r->opt.allow_native_code && r->opt.allow_superuser_target)
			return 0;
		snprintf(r->reason, sizeof(r->reason),
		         "LANGUAGE %s loads native "
		         "code into the server; only a superuser can create it, and "
		         "it runs with the server's rights. To restore it into a "
		         "superuser target: --allow-superuser-target "
		         "--allow-native-code",
		         lang);
		h->reason = r->reason;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* pg_dump --clean's drops                                             */

enum clean_form {
	CF_NONE = 0,
	CF_DROP,         /* DROP ... */
	CF_ALTER,        /* ALTER TABLE ... DROP CONSTRAINT / DROP DEFAULT */
	CF_LO_IF_EXISTS, /* SELECT pg_catalog.lo_unlink(oid) FROM ... WHERE oid = 'N' */
	CF_LO,           /* SELECT pg_catalog.lo_unlink('N') */
};

static int
is_oid_literal(const struct sqltok *t)
{
	size_t i;

	if (t->type != SQLTOK_STRING || t->len < 3 || t->p[0] != '\'' || t->p[t->len - 1] != '\'')
		return 0;
	for (i = 1; i + 1 < t->len; i++)
		if (t->p[i] < '0' || t->p[i] > '9')
			return 0;
	return 1;
}

/* Which of pg_dump --clean's drop statements st is (pg_backup_archiver.c). */
static int
clean_form(const struct stmt *st)
{
	int i = 2;

	if (W(st, 0, "drop"))
		return CF_DROP;
	if (W(st, 0, "select") && W(st, 1, "pg_catalog") && OP(st, 2, '.') &&
	    W(st, 3, "lo_unlink") && OP(st, 4, '(')) {
		if (st->n > 5 && is_oid_literal(&st->t[5]) && OP(st, 6, ')') && ends_at(st, 7))
			return CF_LO;
		if (W(st, 5, "oid") && OP(st, 6, ')') && W(st, 7, "from") &&
		    W(st, 8, "pg_catalog") && OP(st, 9, '.') &&
		    W(st, 10, "pg_largeobject_metadata") && W(st, 11, "where") &&
		    W(st, 12, "oid") && OP(st, 13, '=') && st->n > 14 &&
		    is_oid_literal(&st->t[14]) && ends_at(st, 15))
			return CF_LO_IF_EXISTS;
		return CF_NONE;
	}
	/* ALTER [FOREIGN] TABLE [IF EXISTS] [ONLY] name ... */
	if (!W(st, 0, "alter"))
		return CF_NONE;
	if (W(st, 1, "foreign"))
		i = 3;
	if (!W(st, i - 1, "table"))
		return CF_NONE;
	if (W(st, i, "if") && W(st, i + 1, "exists"))
		i += 2;
	if (W(st, i, "only"))
		i++;
	if (i >= st->n || !is_name_tok(&st->t[i]))
		return CF_NONE;
	i++;
	if (OP(st, i, '.') && i + 1 < st->n && is_name_tok(&st->t[i + 1]))
		i += 2;
	if (W(st, i, "drop") && W(st, i + 1, "constraint")) {
		i += 2;
		if (W(st, i, "if") && W(st, i + 1, "exists"))
			i += 2;
		return i < st->n && is_name_tok(&st->t[i]) && ends_at(st, i + 1) ? CF_ALTER
		                                                                 : CF_NONE;
	}
	if (W(st, i, "alter") && W(st, i + 1, "column") && i + 2 < st->n &&
	    is_name_tok(&st->t[i + 2]) && W(st, i + 3, "drop") && W(st, i + 4, "default") &&
	    ends_at(st, i + 5))
		return CF_ALTER;
	return CF_NONE;
}

/*
 * pg_dump --clean writes its drops first, right after the SET prelude.
 * --allow-drop forwards them; with --clear-target (the target schemas
 * emptied in the same transaction) those of the prelude are dropped,
 * except large objects, which --clear-target keeps: their unlink is
 * forwarded in its conditional form.  Otherwise a DROP is refused.
 */
static int
m_clean(struct rules *r, const struct stmt *st, struct hit *h)
{
	static const char lo_head[] = "SELECT pg_catalog.lo_unlink(oid) FROM "
				      "pg_catalog.pg_largeobject_metadata WHERE oid = ";
	struct rw w;

	if (st->clean == CF_NONE)
		return 0;
	if (r->opt.allow_drop) {
		h->action = RULES_FORWARD;
		return 1;
	}
	if (r->opt.clear_target && !r->past_clean) {
		switch (st->clean) {
		case CF_LO_IF_EXISTS:
			h->action = RULES_FORWARD;
			return 1;
		case CF_LO:
			h->rule = RULES_R_CLEAN;
			rw_init(&w, r, lo_head);
			rw_put(&w, lo_head, sizeof(lo_head) - 1);
			rw_put(&w, st->t[5].p, st->t[5].len);
			rw_put(&w, ";", 1);
			w.done = sizeof(lo_head) - 1;
			return rw_verdict(&w, sizeof(lo_head) - 1, h,
			                  "pg_dump --clean: --clear-target keeps large "
			                  "objects, so the unlink runs only if it exists");
		}
		h->rule = RULES_R_CLEAN;
		h->action = RULES_DROP;
		h->reason = "pg_dump --clean: the target was cleared in this "
			    "transaction (--clear-target)";
		return 1;
	}
	if (st->clean == CF_ALTER)
		return 0; /* forwarded, as any ALTER TABLE */
	h->reason = r->opt.clear_target
	                    ? "pg_dump --clean writes its drops "
	                      "before everything else; this one comes after the dump's first "
	                      "object, so --clear-target does not skip it. --allow-drop forwards "
	                      "DROP statements"
	                    : "DROP statements come from pg_dump --clean: "
	                      "with serve --clear-target the dump's own drops are skipped (the "
	                      "target is emptied in the same transaction); --allow-drop forwards "
	                      "them";
	return 1;
}

/*
 * Transaction control.  pg_dump writes only "BEGIN;" and "COMMIT;" (around
 * large-object data, and pg_restore --transaction-size batches); psql -1
 * and pg_restore -1 send BEGIN and COMMIT.  Those are dropped in
 * single-transaction mode and forwarded otherwise; everything else that
 * would end, split or shape the import's transaction is refused.
 */
static int
m_transaction(struct rules *r, const struct stmt *st, struct hit *h)
{
	int b = set_body(st), noise = W(st, 1, "work") || W(st, 1, "transaction");

	if (W(st, 0, "begin") || W(st, 0, "start") || W(st, 0, "commit")) {
		h->txn = W(st, 0, "commit") ? RULES_TXN_COMMIT : RULES_TXN_BEGIN;
		if (W(st, 0, "start") ? W(st, 1, "transaction") && ends_at(st, 2)
		                      : ends_at(st, 1 + noise)) {
			if (!r->opt.single_transaction)
				h->action = RULES_FORWARD;
			return 1;
		}
		if (W(st, 0, "commit") && W(st, 1, "prepared")) {
			h->txn = RULES_TXN_OTHER;
			h->reason = "COMMIT PREPARED commits another transaction; "
				    "pg_dump never writes it. No option allows it";
		} else if (W(st, 0, "commit")) {
			h->txn = RULES_TXN_OTHER;
			h->reason = "pg_dump writes a plain COMMIT; AND CHAIN "
				    "starts a new transaction. No option allows it";
		} else if (W(st, 0, "start") && !W(st, 1, "transaction")) {
			return 0;
		} else {
			h->reason = "pg_dump writes a plain BEGIN; transaction "
				    "modes (isolation level, READ ONLY, DEFERRABLE) would "
				    "change the import's transaction. No option allows it";
		}
	} else if (W(st, 0, "end") && (ends_at(st, 1 + noise) || W(st, 1 + noise, "and"))) {
		h->txn = RULES_TXN_COMMIT;
		h->reason = "END commits; pg_dump ends its transactions with "
			    "COMMIT and never writes END. No option allows it";
	} else if (W(st, 0, "rollback") || W(st, 0, "abort")) {
		if (W(st, 1, "prepared")) {
			h->txn = RULES_TXN_OTHER;
			h->reason = "ROLLBACK PREPARED ends another transaction; "
				    "pg_dump never writes it. No option allows it";
		} else if (W(st, 1 + noise, "to")) {
			h->txn = RULES_TXN_OTHER;
			h->reason = "ROLLBACK TO SAVEPOINT undoes part of the "
				    "import; pg_dump never writes it (psql sends it with "
				    "ON_ERROR_ROLLBACK: turn that off). No option allows "
				    "it";
		} else {
			h->txn = RULES_TXN_ROLLBACK;
			h->reason = "ROLLBACK would end the import's transaction, "
				    "and what follows would commit piecemeal; pg_dump "
				    "never writes it. No option allows it";
		}
	} else if (W(st, 0, "savepoint") || W(st, 0, "release")) {
		h->txn = RULES_TXN_OTHER;
		h->reason = "savepoints let part of the import be undone; pg_dump "
			    "never writes them (psql sends them with ON_ERROR_ROLLBACK: "
			    "turn that off). No option allows them";
	} else if (W(st, 0, "prepare") && W(st, 1, "transaction")) {
		h->txn = RULES_TXN_OTHER;
		h->reason = "PREPARE TRANSACTION would leave the import prepared, "
			    "holding its locks, outside pgsluice's control; pg_dump "
			    "never writes it. No option allows it";
	} else if ((b >= 0 && W(st, b, "transaction")) ||
	           (W(st, 0, "set") && W(st, 1, "session") && W(st, 2, "characteristics"))) {
		h->txn = RULES_TXN_OTHER;
		h->reason = "SET TRANSACTION and SET SESSION CHARACTERISTICS change "
			    "the import's transaction; pg_dump never writes them. No "
			    "option allows them";
	} else {
		return 0;
	}
	h->rule = RULES_R_REFUSE;
	h->action = RULES_REFUSE;
	return 1;
}

/* --allow-publications, which needs --allow-superuser-target */
static int
publications_allowed(const struct rules *r)
{
	return r->opt.allow_publications && r->opt.allow_superuser_target;
}

static int
m_superuser(struct rules *r, const struct stmt *st, struct hit *h)
{
	char name[64];

	if (W(st, 0, "security") && W(st, 1, "label")) {
		h->reason = "SECURITY LABEL needs a label provider and a "
			    "superuser";
		return 1;
	}
	if (W(st, 0, "comment") && W(st, 1, "on")) {
		if (W(st, 2, "extension")) {
			h->reason = "COMMENT ON EXTENSION needs the extension's "
				    "owner (a superuser); the extension has its own";
			return 1;
		}
		if (W(st, 2, "schema") && st->n > 3 && is_name_tok(&st->t[3]) && W(st, 4, "is")) {
			sqltok_name(&st->t[3], name, sizeof(name));
			if (strcmp(name, "public") == 0) {
				h->reason = "COMMENT ON SCHEMA public needs the "
					    "schema's owner; the target has its own";
				return 1;
			}
		}
		if (W(st, 2, "publication") && publications_allowed(r))
			return 0;
		if (W(st, 2, "publication") || W(st, 2, "subscription") ||
		    (W(st, 2, "event") && W(st, 3, "trigger"))) {
			h->reason = "comment on an object a database owner "
				    "cannot create (dropped with it)";
			return 1;
		}
		return 0;
	}
	if (!W(st, 0, "create") && !W(st, 0, "alter"))
		return 0;
	if (W(st, 1, "publication") && publications_allowed(r))
		return 0;
	if (W(st, 1, "publication") || W(st, 1, "subscription")) {
		h->reason = "publications and subscriptions need a superuser "
			    "and are not part of the data (--allow-publications with "
			    "--allow-superuser-target forwards publications)";
		return 1;
	}
	if (W(st, 1, "event") && W(st, 2, "trigger")) {
		h->reason = "event triggers need a superuser";
		return 1;
	}
	return 0;
}

/*
 * Object kinds of ALTER ... OWNER TO, longest first where one is the
 * prefix of another.  Used to find where the object's name ends.
 */
static const char *const owner_kinds[] = {
	"aggregate",
	"collation",
	"conversion",
	"domain",
	"event trigger",
	"foreign data wrapper",
	"foreign table",
	"function",
	"procedural language",
	"language",
	"large object",
	"materialized view",
	"operator class",
	"operator family",
	"operator",
	"procedure",
	"routine",
	"schema",
	"sequence",
	"server",
	"statistics",
	"table",
	"text search configuration",
	"text search dictionary",
	"type",
	"view",
	"index",
	NULL,
};

/* Number of tokens at st->t[1..] that spell a kind, or 0. */
static int
owner_kind(const struct stmt *st)
{
	int k, i;

	for (k = 0; owner_kinds[k] != NULL; k++) {
		const char *p = owner_kinds[k];
		char w[32];

		for (i = 1;; i++) {
			size_t n = strcspn(p, " ");

			memcpy(w, p, n);
			w[n] = '\0';
			if (!W(st, i, w))
				break;
			if (p[n] == '\0')
				return i;
			p += n + 1;
		}
	}
	return 0;
}

/*
 * ALTER <kind> <name> OWNER TO <role>;  The role token, or NULL.  The
 * first clause keyword after the object's name must be the OWNER of the
 * tail (so "ALTER TABLE t RENAME owner TO x;" is not one).
 */
static const struct sqltok *
owner_to(const struct stmt *st)
{
	const struct sqltok *owner, *role;
	struct sqltok_iter it;
	struct sqltok t, prev;
	int kind, i, named = 0;

	if (!W(st, 0, "alter") || st->ntail != 4 || st->ntok < 6)
		return NULL;
	owner = &st->tail[0];
	role = &st->tail[2];
	if (!sqltok_is(owner, "owner") || !sqltok_is(&st->tail[1], "to") || !is_name_tok(role) ||
	    !is_op(&st->tail[3], ';') || owner->depth != 0)
		return NULL;
	kind = owner_kind(st);
	if (kind == 0) {
		/* an object kind this table does not know: the tail decides */
		const struct sqltok *p;
		static const char *const clause[] = { "rename", "column", "constraint", "attribute",
			                              "on",     "value",  "to",         NULL };

		if (st->ntok < 5)
			return NULL;
		sqltok_init(&it, st->s, st->len, st->std);
		for (i = 0; i < st->ntok - 4; i++)
			sqltok_next(&it, &t);
		p = &t;
		for (i = 0; clause[i] != NULL; i++)
			if (sqltok_is(p, clause[i]))
				return NULL;
		return role;
	}
	sqltok_init(&it, st->s, st->len, st->std);
	for (i = 0; i <= kind; i++)
		sqltok_next(&it, &prev);
	if (sqltok_next(&it, &t) != SQLTOK_END && sqltok_is(&t, "if")) {
		sqltok_next(&it, &t); /* EXISTS */
		sqltok_next(&it, &t);
	}
	if (sqltok_is(&t, "only"))
		sqltok_next(&it, &t);
	for (; t.type != SQLTOK_END; prev = t, sqltok_next(&it, &t)) {
		if (t.depth != 0 || is_op(&prev, '.'))
			continue;
		if (!named) {
			named = !is_op(&t, '.');
			continue;
		}
		if (t.type != SQLTOK_WORD)
			continue;
		if (sqltok_is(&t, "using")) { /* operator class/family */
			sqltok_next(&it, &t);
			continue;
		}
		return t.p == owner->p ? role : NULL;
	}
	return NULL;
}

static int
m_owner(struct rules *r, const struct stmt *st, struct hit *h)
{
	const struct sqltok *role = NULL;
	const char *to;
	struct rw w;
	int b;

	if ((role = owner_to(st)) == NULL) {
		b = set_body(st);
		if (b >= 0 && W(st, b, "role"))
			role = st->n > b + 1 ? &st->t[b + 1] : NULL;
		else if (b >= 0 && W(st, b, "session") && W(st, b + 1, "authorization"))
			role = st->n > b + 2 ? &st->t[b + 2] : NULL;
		else if (W(st, 0, "reset") &&
		         (W(st, 1, "role") || (W(st, 1, "session") && W(st, 2, "authorization")))) {
			/* undoes a SET that was forwarded only if these hold */
			if (r->opt.keep_owners || r->opt.n_role_map > 0)
				h->action = RULES_FORWARD;
			return 1;
		} else
			return 0;
		if (role == NULL)
			return 0;
	}
	to = map_role(r, role);
	if (to == NULL) {
		if (r->opt.keep_owners)
			h->action = RULES_FORWARD;
		return 1;
	}
	rw_init(&w, r, st->s);
	rw_role(&w, role, to, st->std);
	return rw_verdict(&w, st->len, h, "role renamed by --map-role");
}

/*
 * GRANT / REVOKE / ALTER DEFAULT PRIVILEGES: with --keep-privileges,
 * forwarded, with --map-role applied to the roles after TO, FROM, GRANTED
 * BY and (default privileges) FOR ROLE/USER.
 */
static int
m_privileges(struct rules *r, const struct stmt *st, struct hit *h)
{
	static const char *const enders[] = { "with", "granted", "cascade", "restrict",
		                              "in",   "grant",   "revoke",  NULL };
	struct sqltok_iter it;
	struct sqltok t;
	const char *to;
	struct rw w;
	int in_list = 0, i, adp;

	adp = W(st, 0, "alter") && W(st, 1, "default") && W(st, 2, "privileges");
	if (!adp && !W(st, 0, "grant") && !W(st, 0, "revoke"))
		return 0;
	if (!r->opt.keep_privileges)
		return 1;
	h->action = RULES_FORWARD;
	if (r->opt.n_role_map == 0)
		return 1;
	rw_init(&w, r, st->s);
	sqltok_init(&it, st->s, st->len, st->std);
	sqltok_next(&it, &t);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.depth != 0)
			continue;
		if (t.type == SQLTOK_WORD) {
			if (sqltok_is(&t, "to") || sqltok_is(&t, "from") || sqltok_is(&t, "by") ||
			    (adp && sqltok_is(&t, "role")) || (adp && sqltok_is(&t, "user"))) {
				in_list = 1;
				continue;
			}
			for (i = 0; enders[i] != NULL; i++)
				if (sqltok_is(&t, enders[i]))
					in_list = 0;
			if (!in_list || sqltok_is(&t, "group"))
				continue;
		} else if (t.type != SQLTOK_QIDENT || !in_list)
			continue;
		if ((to = map_role(r, &t)) != NULL)
			rw_role(&w, &t, to, st->std);
	}
	if (!w.changed)
		return 1;
	return rw_verdict(&w, st->len, h, "grantee renamed by --map-role");
}

static int
m_public_schema(struct rules *r, const struct stmt *st, struct hit *h)
{
	static const char text[] = "CREATE SCHEMA IF NOT EXISTS public;";
	char name[8];
	struct rw w;

	if (!W(st, 0, "create") || !W(st, 1, "schema") || st->ntok != 4 ||
	    !is_name_tok(&st->t[2]) || !OP(st, 3, ';'))
		return 0;
	sqltok_name(&st->t[2], name, sizeof(name));
	if (strcmp(name, "public") != 0)
		return 0;
	rw_init(&w, r, text);
	rw_finish(&w, sizeof(text) - 1);
	h->rwlen = w.len;
	if (w.oom) {
		h->action = RULES_REFUSE;
		h->reason = "out of memory rewriting a statement";
	}
	return 1;
}

/*
 * ALTER TABLE [ONLY] t ALTER [COLUMN] c SET (..., pg_attver=N, ...): a
 * value some servers assign to every column by themselves (not an option
 * anyone sets), which pg_dump 18 writes out and a server that does not know
 * it refuses.  Dropped with the statement when it is the list's only
 * option, cut out of the list otherwise.
 */
static int
m_column_option(struct rules *r, const struct stmt *st, struct hit *h)
{
	struct sqltok_iter it;
	struct sqltok t, opt, eq, val, after;
	const char *cut_from, *cut_to;
	char name[16];
	int in_list = 0, options = 0, found = 0, subcommands = 0;
	struct rw w;

	if (!W(st, 0, "alter") || !W(st, 1, "table"))
		return 0;
	cut_from = cut_to = NULL;
	sqltok_init(&it, st->s, st->len, st->std);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.depth == 0 && is_op(&t, ','))
			subcommands++;
		if (t.depth == 0 && is_op(&t, '(')) {
			in_list = 1;
			continue;
		}
		if (t.depth == 1 && in_list && is_op(&t, ','))
			continue;
		if (t.depth == 1 && is_op(&t, ')')) {
			in_list = 0;
			continue;
		}
		if (!in_list || t.depth != 1)
			continue;
		/* an option: name [= value] */
		opt = t;
		options++;
		sqltok_name(&opt, name, sizeof(name));
		{
			struct sqltok_iter save = it;

			if (sqltok_next(&it, &eq) != SQLTOK_OP || !is_op(&eq, '=')) {
				it = save;
				continue;
			}
			if (sqltok_next(&it, &val) == SQLTOK_END)
				return 0;
		}
		if (found || strcmp(name, "pg_attver") != 0 ||
		    (val.type != SQLTOK_NUMBER && val.type != SQLTOK_STRING))
			continue;
		found = 1;
		cut_from = opt.p;
		cut_to = val.p + val.len;
		/* with the comma after it, or else the one before it */
		{
			struct sqltok_iter save = it;

			if (sqltok_next(&it, &after) == SQLTOK_OP && is_op(&after, ',')) {
				struct sqltok next;

				cut_to = after.p + after.len;
				if (sqltok_next(&it, &next) != SQLTOK_END)
					cut_to = next.p;
			} else {
				const char *p = cut_from;

				while (p > st->s &&
				       (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n'))
					p--;
				if (p > st->s && p[-1] == ',')
					cut_from = p - 1;
			}
			it = save;
		}
	}
	if (!found)
		return 0;
	if (options == 1) {
		if (subcommands > 0)
			return 0; /* other subcommands in the statement: leave it to the server */
		h->action = RULES_DROP;
		return 1;
	}
	rw_init(&w, r, st->s);
	rw_put(&w, st->s, (size_t)(cut_from - st->s));
	w.done = (size_t)(cut_to - st->s);
	w.changed = 1;
	return rw_verdict(&w, st->len, h,
	                  "pg_attver, a value the source server assigned to the "
	                  "column by itself, cut out of the options");
}

static int
m_set(struct rules *r, const struct stmt *st, struct hit *h)
{
	char name[64];
	int b = set_body(st);

	(void)h;
	if (b < 0 || b + 1 >= st->n || !is_name_tok(&st->t[b]))
		return 0;
	if (!OP(st, b + 1, '=') && !W(st, b + 1, "to"))
		return 0; /* SET TIME ZONE, SET ROLE, custom "a.b", ... */
	lower_name(&st->t[b], name, sizeof(name));
	return !setting_ok(r, name);
}

static int
m_set_config(struct rules *r, const struct stmt *st, struct hit *h)
{
	char name[64];
	int open = select_call(st, "set_config");

	(void)h;
	if (open < 0 || open + 1 >= st->n || st->t[open + 1].type != SQLTOK_STRING ||
	    !OP(st, open + 2, ',') || !call_is_whole(st, open))
		return 0;
	lower_name(&st->t[open + 1], name, sizeof(name));
	return !setting_ok(r, name);
}

/* A pg_dump call a target older than the function cannot run. */
static int
m_stats_function(struct rules *r, const struct stmt *st, struct hit *h)
{
	const struct sqltok *fn = NULL;
	const struct dump_call *c;

	(void)h;
	if (r->opt.target_version == 0 || catalog_call(st, &fn) < 0)
		return 0;
	c = dump_call_find(fn);
	return c != NULL && c->target && r->opt.target_version < c->since;
}

/* ------------------------------------------------------------------ */
/* The tables the stream created, and COPY FREEZE                      */

#define KEY_PART 64 /* NAMEDATALEN: a longer name is not kept */
#define KEY_MAX (3 * KEY_PART)

/*
 * A name at token *t (a, s.a or d.s.a; words or plain "quoted"
 * identifiers) as a key: its decoded parts joined by NUL.  Returns the
 * key's length, 0 when it is not such a name (U&"" spellings and parts of
 * 64 bytes or more are not kept: no key, no FREEZE); *t is left on the
 * token after the name.
 */
static size_t
qname_key(struct sqltok_iter *it, struct sqltok *t, char *key)
{
	size_t n = 0, k;
	int parts = 0;

	for (;;) {
		if (t->type != SQLTOK_WORD && !(t->type == SQLTOK_QIDENT && t->p[0] == '"'))
			return 0;
		k = sqltok_name(t, key + n, KEY_PART);
		if (k == 0 || k >= KEY_PART)
			return 0;
		n += k;
		parts++;
		sqltok_next(it, t);
		if (!is_op(t, '.'))
			return n;
		if (parts == 3)
			return 0;
		key[n++] = '\0';
		sqltok_next(it, t);
	}
}

static size_t
key_hash(const char *key, size_t n)
{
	size_t h = 2166136261u, i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/* Index of the created table with that key, or -1. */
static long
created_find(const struct rules_created *c, const char *key, size_t n)
{
	size_t h, e;

	if (c->n_slot == 0)
		return -1;
	for (h = key_hash(key, n) & (c->n_slot - 1); (e = c->slot[h]) != 0;
	     h = (h + 1) & (c->n_slot - 1)) {
		const struct rules_created_ent *x = &c->ent[e - 1];

		if (x->klen == n && memcmp(c->names + x->off, key, n) == 0)
			return (long)(e - 1);
	}
	return -1;
}

static void
created_slot(struct rules_created *c, size_t i)
{
	const struct rules_created_ent *x = &c->ent[i];
	size_t h = key_hash(c->names + x->off, x->klen) & (c->n_slot - 1);

	while (c->slot[h] != 0)
		h = (h + 1) & (c->n_slot - 1);
	c->slot[h] = i + 1;
}

/* Keep a created table (or add flags to one kept).  Returns 0, -1 out of memory. */
static int
created_add(struct rules_created *c, const char *key, size_t n, unsigned flags)
{
	long f = created_find(c, key, n);
	size_t i;

	if (f >= 0) {
		c->ent[f].flags |= (unsigned char)flags;
		return 0;
	}
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *nb;

		while (cap < c->len + n)
			cap *= 2;
		if ((nb = realloc(c->names, cap)) == NULL)
			return -1;
		c->names = nb;
		c->cap = cap;
	}
	if (c->n == c->cap_ent) {
		size_t cap = c->cap_ent ? c->cap_ent * 2 : 64;
		struct rules_created_ent *ne = realloc(c->ent, cap * sizeof(*ne));

		if (ne == NULL)
			return -1;
		c->ent = ne;
		c->cap_ent = cap;
	}
	if ((c->n + 1) * 2 > c->n_slot) {
		size_t ns = c->n_slot ? c->n_slot * 2 : 128;
		size_t *nsl = calloc(ns, sizeof(*nsl));

		if (nsl == NULL)
			return -1;
		free(c->slot);
		c->slot = nsl;
		c->n_slot = ns;
		for (i = 0; i < c->n; i++)
			created_slot(c, i);
	}
	memcpy(c->names + c->len, key, n);
	c->ent[c->n].off = c->len;
	c->ent[c->n].klen = (unsigned short)n;
	c->ent[c->n].flags = (unsigned char)flags;
	c->len += n;
	created_slot(c, c->n);
	c->n++;
	return 0;
}

/*
 * After a forwarded statement: CREATE [UNLOGGED] TABLE name ... (not IF
 * NOT EXISTS, which may not create it) is kept, PARTITION OF and PARTITION
 * BY noted; ALTER TABLE ... ATTACH PARTITION c marks c a partition.
 */
static void
created_learn(struct rules *r, const struct stmt *st)
{
	struct sqltok_iter it;
	struct sqltok t;
	char key[KEY_MAX];
	size_t n;
	unsigned flags = 0;
	int k, prev_partition = 0;

	if (W(st, 0, "create")) {
		int i = W(st, 1, "unlogged") ? 2 : 1;

		if (!W(st, i, "table") || W(st, i + 1, "if"))
			return;
		sqltok_init(&it, st->s, st->len, st->std);
		for (k = 0; k <= i + 1; k++)
			sqltok_next(&it, &t);
		if ((n = qname_key(&it, &t, key)) == 0)
			return;
		if (sqltok_is(&t, "partition"))
			flags |= RULES_TABLE_PARTITION; /* PARTITION OF parent */
		for (; t.type != SQLTOK_END; sqltok_next(&it, &t)) {
			if (t.depth == 0 && prev_partition && sqltok_is(&t, "by"))
				flags |= RULES_TABLE_PARTITIONED;
			prev_partition = t.depth == 0 && sqltok_is(&t, "partition");
		}
	} else if (W(st, 0, "alter") && W(st, 1, "table")) {
		sqltok_init(&it, st->s, st->len, st->std);
		while (sqltok_next(&it, &t) != SQLTOK_END)
			if (t.depth == 0 && sqltok_is(&t, "attach")) {
				sqltok_next(&it, &t);
				if (!sqltok_is(&t, "partition"))
					return;
				sqltok_next(&it, &t);
				if ((n = qname_key(&it, &t, key)) == 0 ||
				    created_find(&r->created, key, n) < 0)
					return;
				flags = RULES_TABLE_PARTITION;
				break;
			}
		if (flags == 0)
			return;
	} else {
		return;
	}
	if (created_add(&r->created, key, n, flags) < 0)
		r->created_oom = 1;
}

/*
 * COPY name [(columns)] FROM stdin[;] into a table the stream created,
 * in one transaction (copy_freeze): add WITH (FREEZE), so that the rows
 * are written frozen and, from PostgreSQL 14 on, the visibility map set.
 * Not on a partitioned table (the server refuses FREEZE there).
 */
static int
m_copy_freeze(struct rules *r, const struct stmt *st, struct hit *h)
{
	static const char with[] = " WITH (FREEZE)";
	struct sqltok_iter it;
	struct sqltok t;
	const struct sqltok *stdin_tok;
	char key[KEY_MAX];
	size_t n, at;
	long f;
	int last;
	struct rw w;

	if (!r->opt.copy_freeze || !W(st, 0, "copy"))
		return 0;
	last = st->ntail - 1;
	if (last >= 0 && is_op(&st->tail[last], ';'))
		last--;
	if (last < 1 || !sqltok_is(&st->tail[last], "stdin") ||
	    !sqltok_is(&st->tail[last - 1], "from") || st->tail[last - 1].depth != 0)
		return 0;
	stdin_tok = &st->tail[last];
	sqltok_init(&it, st->s, st->len, st->std);
	sqltok_next(&it, &t);
	sqltok_next(&it, &t);
	if ((n = qname_key(&it, &t, key)) == 0 || (f = created_find(&r->created, key, n)) < 0 ||
	    r->created.ent[f].flags & RULES_TABLE_PARTITIONED)
		return 0;
	at = (size_t)(stdin_tok->p + stdin_tok->len - st->s);
	rw_init(&w, r, st->s);
	rw_put(&w, st->s, at);
	rw_put(&w, with, sizeof(with) - 1);
	w.done = at;
	return rw_verdict(&w, st->len, h, h->reason);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

struct rule_row {
	enum rules_id rule;
	enum rules_action action;
	int (*match)(struct rules *, const struct stmt *, struct hit *);
	const char *reason; /* default; the matcher may give a sharper one */
};

static const struct rule_row rule_rows[] = {
	{ RULES_R_EMPTY, RULES_DROP, m_empty, "empty statement (only comments and ';')" },
	{ RULES_R_META, RULES_DROP, m_database, "" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_copy, "" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_data_after_post, "" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_insert,
	  "pg_dump --inserts writes only literal values (numbers, strings, "
	  "NULL, true, false, DEFAULT); an expression, call or subquery "
	  "there runs code on the target. No option allows it: remove it "
	  "from the dump" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_alter_system,
	  "ALTER SYSTEM changes the server's configuration; pg_dump never "
	  "emits it" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_role,
	  "roles live outside the target database; pg_dump never emits "
	  "CREATE/ALTER/DROP ROLE, USER or GROUP (pg_dumpall does)" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_tablespace,
	  "tablespaces are directories on the database server; pg_dump "
	  "never emits CREATE/ALTER/DROP TABLESPACE (pg_dumpall does)" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_load,
	  "LOAD loads a shared library into the server; pg_dump never "
	  "emits it" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_checkpoint,
	  "CHECKPOINT acts on the whole server; pg_dump never emits it" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_do,
	  "DO runs an anonymous code block; pg_dump never emits it" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_native_code, "" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_clean, "" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_select, "" },
	{ RULES_R_REFUSE, RULES_REFUSE, m_not_dump,
	  "pg_dump never writes this statement, and it runs code or "
	  "queries on the target. No option allows it: remove it from the "
	  "dump" },
	{ RULES_R_TRANSACTION, RULES_DROP, m_transaction, "the import runs as one transaction" },
	{ RULES_R_SUPERUSER_ONLY, RULES_DROP, m_superuser, "" },
	{ RULES_R_OWNER, RULES_DROP, m_owner,
	  "object owners and session roles of the source cluster "
	  "(--keep-owners forwards them)" },
	{ RULES_R_PRIVILEGES, RULES_DROP, m_privileges,
	  "privileges name roles of the source cluster "
	  "(--keep-privileges forwards them)" },
	{ RULES_R_PUBLIC_SCHEMA, RULES_REWRITE, m_public_schema,
	  "the target database already has a public schema" },
	{ RULES_R_UNKNOWN_SETTING, RULES_DROP, m_set,
	  "a parameter the target server does not know" },
	{ RULES_R_UNKNOWN_SETTING, RULES_DROP, m_set_config,
	  "a parameter the target server does not know" },
	{ RULES_R_COLUMN_OPTION, RULES_DROP, m_column_option,
	  "pg_attver, a value the source server assigned to the column by "
	  "itself; targets that do not know it refuse it" },
	{ RULES_R_UNKNOWN_FUNCTION, RULES_DROP, m_stats_function,
	  "planner statistics functions of PostgreSQL 18 (pg_dump 18); "
	  "the target is older" },
	{ RULES_R_COPY_FREEZE, RULES_REWRITE, m_copy_freeze,
	  "the import created the table in its transaction: its rows are "
	  "written frozen and all-visible" },
};

/* ------------------------------------------------------------------ */

void
rules_init(struct rules *r, const struct rules_options *opt)
{
	memset(r, 0, sizeof(*r));
	if (opt != NULL)
		r->opt = *opt;
}

void
rules_free(struct rules *r)
{
	free(r->created.names);
	free(r->created.ent);
	free(r->created.slot);
	memset(&r->created, 0, sizeof(r->created));
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static void
count(struct rules *r, enum rules_id rule, enum rules_action a)
{
	if (a != RULES_FORWARD)
		r->counts[rule * 3 + (int)a - 1]++;
}

/*
 * The statement's first words, for a message: "SELECT pg_catalog.pg_sleep(...)",
 * "ROLLBACK", "CREATE FUNCTION public.f(...)".
 */
static void
stmt_head(const struct stmt *st, char *out, size_t size)
{
	const struct sqltok *prev = NULL;
	size_t o = 0, k, n;
	int i;

	for (i = 0; i < st->n && i < 10 && o + 8 < size; prev = &st->t[i], i++) {
		const struct sqltok *t = &st->t[i];

		if (is_op(t, ';'))
			break;
		if (prev != NULL && !is_op(prev, '.') && !is_op(t, '.') && !is_op(t, '('))
			out[o++] = ' ';
		if (is_op(t, '(')) {
			memcpy(out + o, "(...)", 5);
			o += 5;
			break;
		}
		n = t->len > 32 ? 32 : t->len;
		for (k = 0; k < n && o + 5 < size; k++)
			out[o++] = (t->p[k] == '\n' || t->p[k] == '\r' || t->p[k] == '\t')
			                   ? ' '
			                   : t->p[k];
		if (n < t->len) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
	}
	if (o == 0) {
		memcpy(out, "statement", 9);
		o = 9;
	}
	out[o] = '\0';
}

/*
 * Record verdict a of rule for ev in *v.  A refusal's reason becomes
 * "<first words>: <why>. <what to do> (line N)" when head is given (a
 * statement); meta-commands build their own.
 */
static enum rules_action
verdict(struct rules *r, const struct lexer_event *ev, struct rules_verdict *v, enum rules_id rule,
        enum rules_action a, const char *reason, const char *head)
{
	char why[sizeof(r->reason)];

	count(r, rule, a);
	v->action = a;
	v->id = rule;
	v->rule = rule_names[rule];
	v->reason = reason;
	v->text = NULL;
	v->len = 0;
	if (a == RULES_REFUSE) {
		if (head != NULL) {
			snprintf(why, sizeof(why), "%s", reason);
			snprintf(r->reason, sizeof(r->reason), "%.100s: %.480s (line %llu)", head,
			         why, (unsigned long long)ev->line);
		} else if (reason != r->reason) {
			snprintf(r->reason, sizeof(r->reason), "%s (line %llu)", reason,
			         (unsigned long long)ev->line);
		}
		v->reason = r->reason;
	}
	return a;
}

/*
 * psql's reading of one meta-command argument at *pp: unquoted up to
 * white space, or "..." with "" for a quote.  Returns 0 at the end.
 */
static int
meta_arg(const char **pp, const char *end, char *out, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p >= end)
		return 0;
	while (p < end && *p != ' ' && *p != '\t' && *p != '\r') {
		if (*p == '"') {
			for (p++; p < end; p++) {
				if (*p == '"' && !(p + 1 < end && p[1] == '"'))
					break;
				if (*p == '"')
					p++;
				if (n + 1 < size)
					out[n++] = *p;
			}
			if (p < end)
				p++;
			continue;
		}
		if (n + 1 < size)
			out[n++] = *p;
		p++;
	}
	out[n] = '\0';
	*pp = p;
	return 1;
}

/* dbname of a libpq "key=value ..." string; 0 if there is none. */
static int
conninfo_dbname(const char *s, char *out, size_t size)
{
	while (*s != '\0') {
		const char *key;
		size_t klen, n = 0;

		while (*s == ' ')
			s++;
		key = s;
		while (*s != '\0' && *s != '=' && *s != ' ')
			s++;
		klen = (size_t)(s - key);
		while (*s == ' ')
			s++;
		if (*s != '=')
			return 0;
		s++;
		while (*s == ' ')
			s++;
		if (*s == '\'') {
			for (s++; *s != '\0' && *s != '\''; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (n + 1 < size)
					out[n++] = *s;
			}
			if (*s == '\'')
				s++;
		} else {
			for (; *s != '\0' && *s != ' '; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (n + 1 < size)
					out[n++] = *s;
			}
		}
		out[n] = '\0';
		if (klen == 6 && memcmp(key, "dbname", 6) == 0)
			return 1;
	}
	return 0;
}

static enum rules_action
meta_apply(struct rules *r, const struct lexer_event *ev, struct rules_verdict *v)
{
	const char *p = ev->data, *end = ev->data + ev->len, *cmd;
	char arg[256], name[sizeof(r->dbname)];
	size_t clen;

	if (p < end && *p == '\\')
		p++;
	cmd = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && !(p > cmd && *p == '\\'))
		p++;
	clen = (size_t)(p - cmd);
#define CMD(s) (clen == sizeof(s) - 1 && memcmp(cmd, s, clen) == 0)
	if (CMD("restrict") || CMD("unrestrict"))
		return verdict(r, ev, v, RULES_R_META, RULES_DROP,
		               "psql's \\restrict/\\unrestrict guard (pg_dump 15.14+), "
		               "not SQL",
		               NULL);
	if (CMD("encoding") && (r->dbname[0] != '\0' || r->seen_connect))
		return verdict(r, ev, v, RULES_R_META, RULES_DROP,
		               "pg_dump -C preamble: the SET client_encoding that follows "
		               "sets the encoding",
		               NULL);
	if (CMD("connect") || CMD("c")) {
		int ok = meta_arg(&p, end, arg, sizeof(arg));

		if (ok && strncmp(arg, "-reuse-previous", 15) == 0)
			ok = meta_arg(&p, end, arg, sizeof(arg));
		if (ok && (strncmp(arg, "postgresql://", 13) == 0 ||
		           strncmp(arg, "postgres://", 11) == 0))
			ok = 0; /* a URI: not read */
		else if (ok && strchr(arg, '=') != NULL) {
			/* a connection string (psql's test: it has a '=') */
			ok = conninfo_dbname(arg, name, sizeof(name));
			if (ok)
				strcpy(arg, name);
		}
		if (!ok || strlen(arg) >= sizeof(name) || strcmp(arg, "-") == 0) {
			snprintf(r->reason, sizeof(r->reason),
			         "\\connect without a database name pgsluice can "
			         "read (line %llu)",
			         (unsigned long long)ev->line);
			return verdict(r, ev, v, RULES_R_META, RULES_REFUSE, r->reason, NULL);
		}
		strcpy(name, arg);
		if (!r->seen_connect && (r->dbname[0] == '\0' || strcmp(r->dbname, name) == 0)) {
			r->seen_connect = 1;
			strcpy(r->dbname, name);
			return verdict(r, ev, v, RULES_R_META, RULES_DROP,
			               "pg_dump -C preamble: the import goes into the "
			               "target database, whatever its name",
			               NULL);
		}
		if (strcmp(r->dbname, name) == 0)
			return verdict(r, ev, v, RULES_R_META, RULES_DROP,
			               "\\connect to the same database again (pg_dump -C)", NULL);
		snprintf(r->reason, sizeof(r->reason),
		         "\\connect to database \"%.60s\" after \"%.60s\": a dump of "
		         "several databases (pg_dumpall?) (line %llu)",
		         name, r->dbname, (unsigned long long)ev->line);
		return verdict(r, ev, v, RULES_R_META, RULES_REFUSE, r->reason, NULL);
	}
#undef CMD
	snprintf(r->reason, sizeof(r->reason),
	         "psql meta-command \\%.*s: pg_dump emits none but \\connect, "
	         "\\restrict and \\unrestrict (line %llu)",
	         (int)(clen > 40 ? 40 : clen), cmd, (unsigned long long)ev->line);
	return verdict(r, ev, v, RULES_R_META, RULES_REFUSE, r->reason, NULL);
}

/*
 * After a statement's verdict: the state the next statements are judged
 * by (whether pg_dump --clean's drops can still come, the first post-data
 * object).
 */
static void
rules_after(struct rules *r, const struct stmt *st, enum rules_action a)
{
	const struct sqltok *fn;
	const struct dump_call *c;

	if (a == RULES_REFUSE)
		return;
	if (a != RULES_DROP) {
		created_learn(r, st);
		if (catalog_call(st, &fn) >= 0 && (c = dump_call_find(fn)) != NULL &&
		    strncmp(c->name, "pg_restore_", 11) == 0)
			r->stats_calls++;
	}
	if (st->clean == CF_NONE && !is_setup(st) && !m_empty(r, st, NULL))
		r->past_clean = 1;
	if (r->post_data_line == 0 && post_data_object(st)) {
		r->post_data_line = st->line;
		stmt_head(st, r->post_data, sizeof(r->post_data));
	}
}

enum rules_action
rules_apply(struct rules *r, const struct lexer_event *ev, struct rules_verdict *v)
{
	struct stmt st;
	struct hit h;
	char head[96];
	size_t i;

	memset(v, 0, sizeof(*v));
	v->text = ev->data;
	v->len = ev->len;
	if (ev->type == LEXER_META)
		return meta_apply(r, ev, v);
	if (ev->type != LEXER_STATEMENT)
		return RULES_FORWARD;

	stmt_init(&st, ev);
	st.clean = clean_form(&st);
	for (i = 0; i < sizeof(rule_rows) / sizeof(rule_rows[0]); i++) {
		const struct rule_row *row = &rule_rows[i];

		memset(&h, 0, sizeof(h));
		h.rule = row->rule;
		h.action = row->action;
		h.reason = row->reason;
		if (!row->match(r, &st, &h))
			continue;
		v->txn = h.txn;
		if (h.dbname)
			strcpy(r->dbname, h.name);
		if (h.action == RULES_FORWARD)
			break;
		stmt_head(&st, head, sizeof(head));
		verdict(r, ev, v, h.rule, h.action, h.reason, head);
		v->txn = h.txn;
		if (h.action == RULES_REWRITE) {
			v->text = r->buf;
			v->len = h.rwlen;
			if (!is_setup(&st))
				r->forwarded_any = 1;
		}
		rules_after(r, &st, h.action);
		return h.action;
	}
	if (!is_setup(&st))
		r->forwarded_any = 1;
	rules_after(r, &st, RULES_FORWARD);
	v->text = ev->data;
	v->len = ev->len;
	return RULES_FORWARD;
}

int
rules_stats(const struct rules *r, struct rules_stat *out, int max)
{
	static const char *const actions[] = { "dropped", "rewritten", "refused" };
	int n = 0, rule, a;

	for (rule = RULES_R_EMPTY; rule < RULES_R_NRULES; rule++)
		for (a = 0; a < 3; a++) {
			uint64_t c = r->counts[rule * 3 + a];

			if (c == 0 || n >= max)
				continue;
			out[n].rule = rule_names[rule];
			out[n].action = actions[a];
			out[n].count = c;
			n++;
		}
	return n;
}

size_t
rules_tables(const struct rules *r)
{
	return r->created.n;
}

int
rules_tables_complete(const struct rules *r)
{
	return !r->created_oom;
}

int
rules_table_sql(const struct rules *r, size_t i, char *out, size_t size)
{
	const struct rules_created_ent *x = &r->created.ent[i];
	const char *p = r->created.names + x->off, *end = p + x->klen;
	size_t o = 0;

	if (size < 3)
		return -1;
	out[o++] = '"';
	for (; p < end; p++) {
		if (o + 4 > size)
			return -1;
		if (*p == '\0') {
			memcpy(out + o, "\".\"", 3);
			o += 3;
			continue;
		}
		if (*p == '"')
			out[o++] = '"';
		out[o++] = *p;
	}
	out[o++] = '"';
	out[o] = '\0';
	return x->flags;
}

uint64_t
rules_stats_calls(const struct rules *r)
{
	return r->stats_calls;
}
