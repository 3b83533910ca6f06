/*
 * rules.c - what happens to each statement of a dump (see rules.h).
 *
 * The decision is a walk down one table, rule_rows[]: the first row whose
 * matcher accepts the statement decides (drop, rewrite or refuse, or
 * forward when an option says so).  A statement no row accepts is
 * forwarded as it is.  Matchers only look at tokens from sqltok.h, so text
 * inside strings, quoted identifiers, comments and dollar-quoted bodies can
 * never match.  Meta-commands (LEXER_META) go through meta_apply() instead.
 *
 * Pure: libc only, no I/O.  The only allocation is r->buf, the rewrite
 * buffer, grown as needed and kept for the next rewrite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "sqltok.h"

/* Rule ids, in the order rules_stats() lists them. */
enum rule_id {
	R_EMPTY,
	R_OWNER,
	R_PRIVILEGES,
	R_SUPERUSER,
	R_META,
	R_PUBLIC_SCHEMA,
	R_TRANSACTION,
	R_UNKNOWN_SETTING,
	R_UNKNOWN_FUNCTION,
	R_REFUSE,
	R_NRULES
};

static const char *const rule_names[R_NRULES] = {
	"empty", "owner", "privileges", "superuser-only", "meta",
	"public-schema", "transaction", "unknown-setting", "unknown-function",
	"refuse",
};

/* counts[] is indexed rule * 3 + (action - 1); RULES_MAX_STATS must fit. */
typedef char rules_counts_fit[(R_NRULES * 3 <= RULES_MAX_STATS) ? 1 : -1];

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
	int ntok;                 /* all tokens (';' included) */
};

/* What the matching row decided; rows preset it, matchers may change it. */
struct hit {
	int rule;
	enum rules_action action;
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
	static const char *const kw[] = {"current_user", "session_user",
	    "current_role", "public", "none", "default", NULL};
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
	if (t->type != SQLTOK_WORD && t->type != SQLTOK_QIDENT &&
	    t->type != SQLTOK_STRING)
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
	static const char *const kw[] = {"all", "analyse", "analyze", "and",
	    "any", "array", "as", "asc", "asymmetric", "authorization",
	    "binary", "both", "case", "cast", "check", "collate", "collation",
	    "column", "concurrently", "constraint", "create", "cross",
	    "current_catalog", "current_date", "current_role",
	    "current_schema", "current_time", "current_timestamp",
	    "current_user", "default", "deferrable", "desc", "distinct", "do",
	    "else", "end", "except", "false", "fetch", "for", "foreign",
	    "freeze", "from", "full", "grant", "group", "having", "ilike", "in",
	    "initially", "inner", "intersect", "into", "is", "isnull", "join",
	    "lateral", "leading", "left", "like", "limit", "localtime",
	    "localtimestamp", "natural", "none", "not", "notnull", "null",
	    "offset", "on", "only", "or", "order", "outer", "overlaps",
	    "placing", "primary", "public", "references", "returning", "right",
	    "select", "session_user", "similar", "some", "symmetric",
	    "system_user", "table", "tablesample", "then", "to", "trailing",
	    "true", "union", "unique", "user", "using", "variadic", "verbose",
	    "when", "where", "window", "with", NULL};
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
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '_'))
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
static const int restrict_relkind_minor[] = {120020, 130016, 140013, 150008,
    160004, 170000, 0};

static const struct setting settings[] = {
	{"check_function_bodies", OLD, 0, NULL},
	{"client_encoding", OLD, 0, NULL},
	{"client_min_messages", OLD, 0, NULL},
	{"datestyle", OLD, 0, NULL},
	{"default_table_access_method", 120000, 0, NULL},
	{"default_tablespace", OLD, 0, NULL},
	{"default_toast_compression", 140000, 0, NULL},
	{"default_transaction_read_only", OLD, 0, NULL},
	{"default_with_oids", OLD, 120000, NULL},
	{"escape_string_warning", 80100, 0, NULL},
	{"extra_float_digits", OLD, 0, NULL},
	{"idle_in_transaction_session_timeout", 90600, 0, NULL},
	{"intervalstyle", 80400, 0, NULL},
	{"lo_compat_privileges", 90000, 0, NULL},
	{"lock_timeout", 90300, 0, NULL},
	{"quote_all_identifiers", 90100, 0, NULL},
	{"restrict_nonsystem_relation_kind", 120020, 0, restrict_relkind_minor},
	{"row_security", 90500, 0, NULL},
	{"search_path", OLD, 0, NULL},
	{"session_replication_role", 80300, 0, NULL},
	{"standard_conforming_strings", 80100, 0, NULL},
	{"statement_timeout", OLD, 0, NULL},
	{"synchronous_commit", 80300, 0, NULL},
	{"timezone", OLD, 0, NULL},
	{"transaction_timeout", 170000, 0, NULL},
	{"xmloption", 80300, 0, NULL},
};

static const struct setting *
setting_find(const char *name)
{
	char low[64];
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
		    (char)(name[i] + ('a' - 'A')) : name[i];
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
	if (W(st, 1, "local") || (W(st, 1, "session") && !W(st, 2,
	    "authorization") && !W(st, 2, "characteristics")))
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
			return is_op(&t, ';') && sqltok_next(&it, &t) ==
			    SQLTOK_END;
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
		name = W(st, 2, "if") && W(st, 3, "exists") ? &st->t[4] :
		    &st->t[2];
	else if (W(st, 0, "comment") && W(st, 1, "on") && W(st, 2, "database"))
		name = &st->t[3];
	else if (W(st, 0, "security") && W(st, 1, "label")) {
		for (i = 2; i + 1 < st->n && !W(st, i, "on"); i++)
			;
		if (!W(st, i + 1, "database"))
			return 0;
		name = &st->t[i + 2];
	} else if (W(st, 0, "alter") && (W(st, 1, "role") || W(st, 1, "user")) &&
	    W(st, 3, "in") && W(st, 4, "database"))
		name = &st->t[5];
	else
		return 0;
	if (name == NULL || name >= st->t + st->n || !is_name_tok(name)) {
		h->rule = R_REFUSE;
		h->action = RULES_REFUSE;
		h->reason = "a statement on a database pgsluice cannot read "
		    "reaches outside the target database";
		return 1;
	}
	sqltok_name(name, h->name, sizeof(h->name));
	same = r->dbname[0] != '\0' && strcmp(r->dbname, h->name) == 0;

	h->rule = R_META;
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
		if (preamble && r->opt.allow_drop && r->dbname[0] == '\0') {
			h->dbname = 1;
			h->reason = "pg_dump -C --clean preamble: the target "
			    "database is never dropped";
			return 1;
		}
		h->reason = r->opt.allow_drop ? "DROP DATABASE reaches outside "
		    "the target database" : "DROP DATABASE reaches outside the "
		    "target database (even --allow-drop forwards only "
		    "pg_dump -C --clean's own, which is dropped)";
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
	h->rule = R_REFUSE;
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

/* CREATE [OR REPLACE] FUNCTION/PROCEDURE ... LANGUAGE c (at depth 0) */
static int
m_c_function(struct rules *r, const struct stmt *st, struct hit *h)
{
	struct sqltok_iter it;
	struct sqltok t;
	char lang[8];
	int i = 1;

	(void)r, (void)h;
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
		if (t.type != SQLTOK_WORD && t.type != SQLTOK_QIDENT &&
		    t.type != SQLTOK_STRING)
			continue;
		lower_name(&t, lang, sizeof(lang));
		if (strcmp(lang, "c") == 0)
			return 1;
	}
	return 0;
}

static int
m_drop(struct rules *r, const struct stmt *st, struct hit *h)
{
	(void)h;
	return W(st, 0, "drop") && !r->opt.allow_drop;
}

static int
m_superuser(struct rules *r, const struct stmt *st, struct hit *h)
{
	char name[64];

	(void)r;
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
		if (W(st, 2, "schema") && st->n > 3 && is_name_tok(&st->t[3]) &&
		    W(st, 4, "is")) {
			sqltok_name(&st->t[3], name, sizeof(name));
			if (strcmp(name, "public") == 0) {
				h->reason = "COMMENT ON SCHEMA public needs the "
				    "schema's owner; the target has its own";
				return 1;
			}
		}
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
	if (W(st, 1, "publication") || W(st, 1, "subscription")) {
		h->reason = "publications and subscriptions need a superuser "
		    "and are not part of the data";
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
	"aggregate", "collation", "conversion", "domain", "event trigger",
	"foreign data wrapper", "foreign table", "function",
	"procedural language", "language", "large object",
	"materialized view", "operator class", "operator family", "operator",
	"procedure", "routine", "schema", "sequence", "server", "statistics",
	"table", "text search configuration", "text search dictionary",
	"type", "view", "index", NULL,
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
	if (!sqltok_is(owner, "owner") || !sqltok_is(&st->tail[1], "to") ||
	    !is_name_tok(role) || !is_op(&st->tail[3], ';') ||
	    owner->depth != 0)
		return NULL;
	kind = owner_kind(st);
	if (kind == 0) {
		/* an object kind this table does not know: the tail decides */
		const struct sqltok *p;
		static const char *const clause[] = {"rename", "column",
		    "constraint", "attribute", "on", "value", "to", NULL};

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
		else if (b >= 0 && W(st, b, "session") &&
		    W(st, b + 1, "authorization"))
			role = st->n > b + 2 ? &st->t[b + 2] : NULL;
		else if (W(st, 0, "reset") && (W(st, 1, "role") ||
		    (W(st, 1, "session") && W(st, 2, "authorization")))) {
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
	static const char *const enders[] = {"with", "granted", "cascade",
	    "restrict", "in", "grant", "revoke", NULL};
	struct sqltok_iter it;
	struct sqltok t;
	const char *to;
	struct rw w;
	int in_list = 0, i, adp;

	adp = W(st, 0, "alter") && W(st, 1, "default") &&
	    W(st, 2, "privileges");
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
			if (sqltok_is(&t, "to") || sqltok_is(&t, "from") ||
			    sqltok_is(&t, "by") ||
			    (adp && sqltok_is(&t, "role")) ||
			    (adp && sqltok_is(&t, "user"))) {
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

static int
m_transaction(struct rules *r, const struct stmt *st, struct hit *h)
{
	int ok;

	if (W(st, 0, "begin"))
		ok = OP(st, 1, ';') || W(st, 1, "work") ||
		    W(st, 1, "transaction") || W(st, 1, "isolation") ||
		    W(st, 1, "read") || W(st, 1, "deferrable") ||
		    W(st, 1, "not");
	else if (W(st, 0, "start"))
		ok = W(st, 1, "transaction");
	else if (W(st, 0, "commit"))
		ok = OP(st, 1, ';') || W(st, 1, "work") ||
		    W(st, 1, "transaction") || W(st, 1, "and");
	else if (W(st, 0, "end"))
		ok = OP(st, 1, ';') || W(st, 1, "work") ||
		    W(st, 1, "transaction");
	else
		return 0;
	if (!ok)
		return 0;
	if (!r->opt.single_transaction)
		h->action = RULES_FORWARD;
	return 1;
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
	if (open < 0 || open + 1 >= st->n ||
	    st->t[open + 1].type != SQLTOK_STRING || !OP(st, open + 2, ',') ||
	    !call_is_whole(st, open))
		return 0;
	lower_name(&st->t[open + 1], name, sizeof(name));
	return !setting_ok(r, name);
}

static int
m_stats_function(struct rules *r, const struct stmt *st, struct hit *h)
{
	static const char *const fns[] = {"pg_restore_relation_stats",
	    "pg_restore_attribute_stats", "pg_clear_relation_stats",
	    "pg_clear_attribute_stats", NULL};
	int i, open;

	(void)h;
	if (r->opt.target_version == 0 || r->opt.target_version >= 180000)
		return 0;
	for (i = 0; fns[i] != NULL; i++)
		if ((open = select_call(st, fns[i])) >= 0)
			return call_is_whole(st, open);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

struct rule_row {
	int rule;
	enum rules_action action;
	int (*match)(struct rules *, const struct stmt *, struct hit *);
	const char *reason; /* default; the matcher may give a sharper one */
};

static const struct rule_row rule_rows[] = {
	{R_EMPTY, RULES_DROP, m_empty,
	    "empty statement (only comments and ';')"},
	{R_META, RULES_DROP, m_database, ""},
	{R_REFUSE, RULES_REFUSE, m_copy, ""},
	{R_REFUSE, RULES_REFUSE, m_alter_system,
	    "ALTER SYSTEM changes the server's configuration; pg_dump never "
	    "emits it"},
	{R_REFUSE, RULES_REFUSE, m_role,
	    "roles live outside the target database; pg_dump never emits "
	    "CREATE/ALTER/DROP ROLE, USER or GROUP (pg_dumpall does)"},
	{R_REFUSE, RULES_REFUSE, m_tablespace,
	    "tablespaces are directories on the database server; pg_dump "
	    "never emits CREATE/ALTER/DROP TABLESPACE (pg_dumpall does)"},
	{R_REFUSE, RULES_REFUSE, m_load,
	    "LOAD loads a shared library into the server; pg_dump never "
	    "emits it"},
	{R_REFUSE, RULES_REFUSE, m_checkpoint,
	    "CHECKPOINT acts on the whole server; pg_dump never emits it"},
	{R_REFUSE, RULES_REFUSE, m_do,
	    "DO runs an anonymous code block; pg_dump never emits it"},
	{R_REFUSE, RULES_REFUSE, m_c_function,
	    "CREATE FUNCTION ... LANGUAGE c loads native code into the "
	    "server; a non-superuser import cannot run it"},
	{R_REFUSE, RULES_REFUSE, m_drop,
	    "DROP statements come only from pg_dump --clean; pass "
	    "--allow-drop to forward them"},
	{R_SUPERUSER, RULES_DROP, m_superuser, ""},
	{R_OWNER, RULES_DROP, m_owner,
	    "object owners and session roles of the source cluster "
	    "(--keep-owners forwards them)"},
	{R_PRIVILEGES, RULES_DROP, m_privileges,
	    "privileges name roles of the source cluster "
	    "(--keep-privileges forwards them)"},
	{R_PUBLIC_SCHEMA, RULES_REWRITE, m_public_schema,
	    "the target database already has a public schema"},
	{R_TRANSACTION, RULES_DROP, m_transaction,
	    "the import runs as one transaction"},
	{R_UNKNOWN_SETTING, RULES_DROP, m_set,
	    "a parameter the target server does not know"},
	{R_UNKNOWN_SETTING, RULES_DROP, m_set_config,
	    "a parameter the target server does not know"},
	{R_UNKNOWN_FUNCTION, RULES_DROP, m_stats_function,
	    "planner statistics functions of PostgreSQL 18 (pg_dump 18); "
	    "the target is older"},
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
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static void
count(struct rules *r, int rule, enum rules_action a)
{
	if (a != RULES_FORWARD)
		r->counts[rule * 3 + (int)a - 1]++;
}

static enum rules_action
verdict(struct rules *r, const struct lexer_event *ev,
        struct rules_verdict *v, int rule, enum rules_action a,
        const char *reason)
{
	count(r, rule, a);
	v->action = a;
	v->rule = rule_names[rule];
	v->reason = reason;
	v->text = NULL;
	v->len = 0;
	if (a == RULES_REFUSE) {
		if (reason != r->reason)
			snprintf(r->reason, sizeof(r->reason), "%s (line %llu)",
			    reason, (unsigned long long)ev->line);
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
meta_apply(struct rules *r, const struct lexer_event *ev,
           struct rules_verdict *v)
{
	const char *p = ev->data, *end = ev->data + ev->len, *cmd;
	char arg[256], name[sizeof(r->dbname)];
	size_t clen;

	if (p < end && *p == '\\')
		p++;
	cmd = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '\r' &&
	    !(p > cmd && *p == '\\'))
		p++;
	clen = (size_t)(p - cmd);
#define CMD(s) (clen == sizeof(s) - 1 && memcmp(cmd, s, clen) == 0)
	if (CMD("restrict") || CMD("unrestrict"))
		return verdict(r, ev, v, R_META, RULES_DROP,
		    "psql's \\restrict/\\unrestrict guard (pg_dump 15.14+), "
		    "not SQL");
	if (CMD("encoding") && (r->dbname[0] != '\0' || r->seen_connect))
		return verdict(r, ev, v, R_META, RULES_DROP,
		    "pg_dump -C preamble: the SET client_encoding that follows "
		    "sets the encoding");
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
		if (!ok || strlen(arg) >= sizeof(name) ||
		    strcmp(arg, "-") == 0) {
			snprintf(r->reason, sizeof(r->reason),
			    "\\connect without a database name pgsluice can "
			    "read (line %llu)", (unsigned long long)ev->line);
			return verdict(r, ev, v, R_META, RULES_REFUSE, r->reason);
		}
		strcpy(name, arg);
		if (!r->seen_connect && (r->dbname[0] == '\0' ||
		    strcmp(r->dbname, name) == 0)) {
			r->seen_connect = 1;
			strcpy(r->dbname, name);
			return verdict(r, ev, v, R_META, RULES_DROP,
			    "pg_dump -C preamble: the import goes into the "
			    "target database, whatever its name");
		}
		if (strcmp(r->dbname, name) == 0)
			return verdict(r, ev, v, R_META, RULES_DROP,
			    "\\connect to the same database again (pg_dump -C)");
		snprintf(r->reason, sizeof(r->reason),
		    "\\connect to database \"%.60s\" after \"%.60s\": a dump of "
		    "several databases (pg_dumpall?) (line %llu)", name,
		    r->dbname, (unsigned long long)ev->line);
		return verdict(r, ev, v, R_META, RULES_REFUSE, r->reason);
	}
#undef CMD
	snprintf(r->reason, sizeof(r->reason),
	    "psql meta-command \\%.*s: pg_dump emits none but \\connect, "
	    "\\restrict and \\unrestrict (line %llu)",
	    (int)(clen > 40 ? 40 : clen), cmd, (unsigned long long)ev->line);
	return verdict(r, ev, v, R_META, RULES_REFUSE, r->reason);
}

enum rules_action
rules_apply(struct rules *r, const struct lexer_event *ev,
            struct rules_verdict *v)
{
	struct stmt st;
	struct hit h;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->text = ev->data;
	v->len = ev->len;
	if (ev->type == LEXER_META)
		return meta_apply(r, ev, v);
	if (ev->type != LEXER_STATEMENT)
		return RULES_FORWARD;

	stmt_init(&st, ev);
	for (i = 0; i < sizeof(rule_rows) / sizeof(rule_rows[0]); i++) {
		const struct rule_row *row = &rule_rows[i];

		memset(&h, 0, sizeof(h));
		h.rule = row->rule;
		h.action = row->action;
		h.reason = row->reason;
		if (!row->match(r, &st, &h))
			continue;
		if (h.dbname)
			strcpy(r->dbname, h.name);
		if (h.action == RULES_FORWARD)
			break;
		verdict(r, ev, v, h.rule, h.action, h.reason);
		if (h.action == RULES_REWRITE) {
			v->text = r->buf;
			v->len = h.rwlen;
			if (!is_setup(&st))
				r->forwarded_any = 1;
		}
		return h.action;
	}
	if (!is_setup(&st))
		r->forwarded_any = 1;
	v->text = ev->data;
	v->len = ev->len;
	return RULES_FORWARD;
}

int
rules_stats(const struct rules *r, struct rules_stat *out, int max)
{
	static const char *const actions[] = {"dropped", "rewritten",
	    "refused"};
	int n = 0, rule, a;

	for (rule = 0; rule < R_NRULES; rule++)
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
