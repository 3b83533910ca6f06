/*
 * deps.c - the tables a statement touches and the dump's table
 * hierarchies, for the --jobs scheduler (deps.h).
 *
 * The hierarchies are a union-find over the tables that take part in one:
 * learning `CREATE TABLE c PARTITION OF p` joins c's and p's sets, and a
 * statement's tables are reported with the root of their set, so two
 * statements on members of one hierarchy compare equal.  Only tables in a
 * hierarchy are stored; a dump without partitions or inheritance costs
 * nothing here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deps.h"
#include "sqltok.h"

/* ---- reading names ------------------------------------------------------- */

/* A qualified name at the iterator: its text as written, into key. 0: none. */
static int
deps_name(struct sqltok_iter *it, struct sqltok *t, char *key, size_t size)
{
	const char *start;
	size_t len;
	struct sqltok_iter save;

	if (t->type != SQLTOK_WORD && t->type != SQLTOK_QIDENT)
		return 0;
	start = t->p;
	len = t->len;
	for (;;) {
		save = *it;
		if (sqltok_next(it, t) != SQLTOK_OP || t->len != 1 || t->p[0] != '.') {
			*it = save;
			break;
		}
		if (sqltok_next(it, t) != SQLTOK_WORD && t->type != SQLTOK_QIDENT)
			return 0;
		len = (size_t)(t->p + t->len - start);
	}
	if (len >= size)
		return 0;
	memcpy(key, start, len);
	key[len] = '\0';
	return 1;
}

/* Skip optional words (lowercase) at the iterator; t holds the next token after. */
static void
deps_skip(struct sqltok_iter *it, struct sqltok *t, const char *const *words)
{
	int i, again = 1;

	while (again) {
		again = 0;
		for (i = 0; words[i] != NULL; i++) {
			if (sqltok_is(t, words[i])) {
				sqltok_next(it, t);
				again = 1;
				break;
			}
		}
	}
}

static const char *const deps_only[] = { "only", "if", "exists", NULL };

/* ---- the hierarchies ----------------------------------------------------- */

static int
deps_find(const struct deps *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->rels[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
deps_root(const struct deps *d, int i)
{
	while (d->rels[i].up >= 0)
		i = d->rels[i].up;
	return i;
}

/* The index of name, added when new; -1 when out of memory. */
static int
deps_add(struct deps *d, const char *name)
{
	struct deps_rel *r;
	size_t cap;
	int i = deps_find(d, name);

	if (i >= 0)
		return i;
	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 16;
		r = realloc(d->rels, cap * sizeof(*r));
		if (r == NULL)
			return -1;
		d->rels = r;
		d->cap = cap;
	}
	r = &d->rels[d->n];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, strlen(name) + 1);
	r->up = -1;
	return (int)d->n++;
}

/* child is a partition or inheritance child of parent. */
static int
deps_join(struct deps *d, const char *parent, const char *child)
{
	int p = deps_add(d, parent), c, rp, rc;

	if (p < 0 || (c = deps_add(d, child)) < 0)
		return -1;
	d->rels[p].has_children = 1;
	rp = deps_root(d, p);
	rc = deps_root(d, c);
	if (rp != rc)
		d->rels[rc].up = rp;
	return 0;
}

/* CREATE [GLOBAL|LOCAL] [TEMP|UNLOGGED] [FOREIGN] TABLE [IF NOT EXISTS] name ... */
static int
deps_learn_create(struct deps *d, struct sqltok_iter *i, struct sqltok *t)
{
	static const char *const kinds[] = { "global",   "local",   "temp", "temporary",
		                             "unlogged", "foreign", NULL };
	static const char *const ine[] = { "if", "not", "exists", NULL };
	char child[DEPS_KEY], parent[DEPS_KEY];

	sqltok_next(i, t);
	deps_skip(i, t, kinds);
	if (!sqltok_is(t, "table"))
		return 0;
	sqltok_next(i, t);
	deps_skip(i, t, ine);
	if (!deps_name(i, t, child, sizeof(child)))
		return 0;
	while (sqltok_next(i, t) != SQLTOK_END) {
		if (t->depth != 0)
			continue;
		if (sqltok_is(t, "partition")) {
			if (sqltok_next(i, t) != SQLTOK_WORD || !sqltok_is(t, "of"))
				continue; /* PARTITION BY: its own key */
			sqltok_next(i, t);
			if (deps_name(i, t, parent, sizeof(parent)) &&
			    deps_join(d, parent, child) < 0)
				return -1;
		} else if (sqltok_is(t, "inherits")) {
			if (sqltok_next(i, t) != SQLTOK_OP || t->p[0] != '(')
				return 0;
			while (sqltok_next(i, t) != SQLTOK_END && t->depth > 0) {
				if (t->type == SQLTOK_OP)
					continue; /* the commas */
				if (!deps_name(i, t, parent, sizeof(parent)))
					return 0;
				if (deps_join(d, parent, child) < 0)
					return -1;
			}
		}
	}
	return 0;
}

/* ALTER [FOREIGN] TABLE [ONLY] [IF EXISTS] x {ATTACH PARTITION c | INHERIT p} */
static int
deps_learn_alter(struct deps *d, struct sqltok_iter *i, struct sqltok *t)
{
	char name[DEPS_KEY], other[DEPS_KEY];

	sqltok_next(i, t);
	if (sqltok_is(t, "foreign"))
		sqltok_next(i, t);
	if (!sqltok_is(t, "table"))
		return 0;
	sqltok_next(i, t);
	deps_skip(i, t, deps_only);
	if (!deps_name(i, t, name, sizeof(name)))
		return 0;
	while (sqltok_next(i, t) != SQLTOK_END) {
		if (t->depth != 0 || t->type != SQLTOK_WORD)
			continue;
		if (sqltok_is(t, "attach")) {
			if (sqltok_next(i, t) != SQLTOK_WORD || !sqltok_is(t, "partition"))
				continue;
			sqltok_next(i, t);
			if (deps_name(i, t, other, sizeof(other)))
				return deps_join(d, name, other);
		} else if (sqltok_is(t, "inherit")) {
			sqltok_next(i, t);
			if (deps_name(i, t, other, sizeof(other)))
				return deps_join(d, other, name);
		}
	}
	return 0;
}

int
deps_learn(struct deps *d, const char *text, size_t len, int std_strings)
{
	struct sqltok_iter i;
	struct sqltok t;

	sqltok_init(&i, text, len, std_strings);
	if (sqltok_next(&i, &t) != SQLTOK_WORD)
		return 0;
	if (sqltok_is(&t, "create"))
		return deps_learn_create(d, &i, &t);
	if (sqltok_is(&t, "alter"))
		return deps_learn_alter(d, &i, &t);
	return 0;
}

/* ---- what a statement touches ------------------------------------------- */

/* Add table (as written) to t, with its group. */
static void
deps_touch_add(const struct deps *d, struct deps_touch *t, const char *table)
{
	int k, x;

	for (k = 0; k < t->n; k++)
		if (strcmp(t->table[k], table) == 0)
			return;
	if (t->n == DEPS_TABLES) {
		t->barrier = 1;
		return;
	}
	k = t->n++;
	memcpy(t->table[k], table, strlen(table) + 1);
	x = deps_find(d, table);
	t->leaf[k] = x < 0 || !d->rels[x].has_children;
	if (x >= 0)
		x = deps_root(d, x);
	memcpy(t->group[k], x < 0 ? table : d->rels[x].name,
	       strlen(x < 0 ? table : d->rels[x].name) + 1);
}

int
deps_copy_table(const char *text, size_t len, int std_strings, char *key, size_t size)
{
	struct sqltok_iter i;
	struct sqltok t;

	sqltok_init(&i, text, len, std_strings);
	sqltok_next(&i, &t);
	sqltok_next(&i, &t);
	return deps_name(&i, &t, key, size);
}

void
deps_batch(const struct deps *d, struct deps_touch *t, const char *table)
{
	memset(t, 0, sizeof(*t));
	t->cls = DEPS_CL_BATCH;
	deps_touch_add(d, t, table);
}

enum classify_kind
deps_classify(const struct deps *d, struct deps_touch *out, const char *text, size_t len,
              int std_strings)
{
	static const char *const idx_opts[] = { "concurrently", "if", "not", "exists", NULL };
	enum classify_kind kind = classify_kind(text, len, std_strings);
	struct sqltok_iter i;
	struct sqltok t;
	char key[DEPS_KEY];

	memset(out, 0, sizeof(*out));
	out->barrier = 1;
	out->cls = DEPS_CL_OTHER;
	if (kind != CLASSIFY_OTHER)
		return kind;
	sqltok_init(&i, text, len, std_strings);
	sqltok_next(&i, &t);
	if (sqltok_is(&t, "alter")) {
		sqltok_next(&i, &t);
		if (!sqltok_is(&t, "table"))
			return CLASSIFY_OTHER;
		sqltok_next(&i, &t);
		deps_skip(&i, &t, deps_only);
		if (!deps_name(&i, &t, key, sizeof(key)))
			return CLASSIFY_OTHER;
		out->barrier = 0;
		deps_touch_add(d, out, key);
		/* the table it references, attaches or inherits from */
		while (sqltok_next(&i, &t) != SQLTOK_END) {
			if (sqltok_is(&t, "references") || sqltok_is(&t, "inherit")) {
				sqltok_next(&i, &t);
			} else if (sqltok_is(&t, "partition")) {
				sqltok_next(&i, &t); /* ATTACH / DETACH PARTITION c */
			} else {
				continue;
			}
			if (!deps_name(&i, &t, key, sizeof(key))) {
				out->barrier = 1;
				return CLASSIFY_OTHER;
			}
			deps_touch_add(d, out, key);
		}
		return CLASSIFY_OTHER;
	}
	if (sqltok_is(&t, "vacuum")) {
		/* VACUUM (FREEZE, ...) t: pgsluice's own, one table each */
		sqltok_next(&i, &t);
		if (t.type == SQLTOK_OP && t.p[0] == '(')
			while (sqltok_next(&i, &t) != SQLTOK_END && t.depth > 0)
				;
		if (t.type == SQLTOK_OP && t.p[0] == ')')
			sqltok_next(&i, &t);
		if (!deps_name(&i, &t, key, sizeof(key)) ||
		    (sqltok_next(&i, &t) != SQLTOK_END && !(t.type == SQLTOK_OP && t.p[0] == ';')))
			return CLASSIFY_OTHER;
		out->barrier = 0;
		deps_touch_add(d, out, key);
		return CLASSIFY_OTHER;
	}
	if (sqltok_is(&t, "create")) {
		sqltok_next(&i, &t);
		if (sqltok_is(&t, "unique"))
			sqltok_next(&i, &t);
		if (sqltok_is(&t, "constraint"))
			sqltok_next(&i, &t);
		if (sqltok_is(&t, "index"))
			out->cls = DEPS_CL_INDEX;
		else if (!sqltok_is(&t, "trigger"))
			return CLASSIFY_OTHER;
		sqltok_next(&i, &t);
		if (out->cls == DEPS_CL_INDEX)
			deps_skip(&i, &t, idx_opts);
		/* to the ON at depth 0, then the table */
		for (;;) {
			if (t.type == SQLTOK_END)
				return CLASSIFY_OTHER;
			if (t.depth == 0 && sqltok_is(&t, "on"))
				break;
			sqltok_next(&i, &t);
		}
		sqltok_next(&i, &t);
		deps_skip(&i, &t, deps_only);
		if (!deps_name(&i, &t, key, sizeof(key)))
			return CLASSIFY_OTHER;
		out->barrier = 0;
		deps_touch_add(d, out, key);
		return CLASSIFY_OTHER;
	}
	return CLASSIFY_OTHER;
}

/*
 * Two statements on one hierarchy may overlap only when both are of a
 * sharing class (COPY batches, index builds) and either name the same
 * table or both name leaves: an index build on a parent reaches into its
 * partitions (and may adopt an index built there at the same time), so
 * it runs alone in its hierarchy.
 */
int
deps_conflict(const struct deps_touch *a, const struct deps_touch *b)
{
	int x, y;

	if (a->barrier || b->barrier)
		return 1;
	for (x = 0; x < a->n; x++)
		for (y = 0; y < b->n; y++) {
			if (strcmp(a->group[x], b->group[y]) != 0)
				continue;
			if (a->cls != b->cls || a->cls == DEPS_CL_OTHER)
				return 1;
			if (strcmp(a->table[x], b->table[y]) != 0 && !(a->leaf[x] && b->leaf[y]))
				return 1;
		}
	return 0;
}

void
deps_free(struct deps *d)
{
	free(d->rels);
	memset(d, 0, sizeof(*d));
}
