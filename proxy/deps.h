/*
 * deps.h - what a statement touches, for `serve --jobs N`'s scheduler.
 *
 * jobs.c runs post-data statements on several connections at once; two
 * statements may overlap only when neither can change what the other
 * sees.  This module says which tables a statement touches and knows the
 * table hierarchies the dump builds (partitions, inheritance children), so
 * that a statement on any member of a hierarchy counts as touching the
 * whole hierarchy: an ALTER TABLE on a partitioned parent recurses into
 * its partitions, a CREATE INDEX or CREATE TRIGGER on it creates one on
 * each of them.
 *
 * Kept apart from jobs.c because it is pure (sqltok and libc, no libpq,
 * no event loop), so the ordering rules can be unit-tested alone
 * (tests/unit/test_deps.c).
 */
#ifndef PGSLUICE_DEPS_H
#define PGSLUICE_DEPS_H

#include <stddef.h>

#include "classify.h"

#define DEPS_KEY 160  /* a table name as the dump writes it */
#define DEPS_TABLES 2 /* tables one statement names (its own, and one it references) */

/* what a statement may share its tables with */
enum deps_class {
	DEPS_CL_OTHER, /* nothing: alone on its tables */
	DEPS_CL_BATCH, /* COPY batches of the same table (or of leaf partitions of one hierarchy) */
	DEPS_CL_INDEX, /* CREATE INDEX, likewise */
};

/* One table of a hierarchy; `up` is its parent's index in the union, -1 at a root. */
struct deps_rel {
	char name[DEPS_KEY];
	int up;
	int has_children; /* some table is its partition or inheritance child */
};

/* The hierarchies learnt so far.  Zero-filled is empty. */
struct deps {
	struct deps_rel *rels;
	size_t n, cap;
};

/* The tables one statement touches. */
struct deps_touch {
	char table[DEPS_TABLES][DEPS_KEY]; /* as written */
	char group[DEPS_TABLES]
		  [DEPS_KEY];  /* the root of its hierarchy (the table itself if none) */
	int leaf[DEPS_TABLES]; /* 1: no table is its partition or child */
	int n;
	enum deps_class cls;
	int barrier; /* tables unknown: runs alone, nothing passes it */
};

/*
 * Learn the hierarchy relations a statement creates: CREATE [FOREIGN]
 * TABLE ... PARTITION OF p, ... INHERITS (p, ...), ALTER TABLE p ATTACH
 * PARTITION c, ALTER TABLE c INHERIT p.  Call for every statement, in dump
 * order, before deps_classify of the same statement; std_strings as the
 * lexer read it.  Returns 0, or -1 when out of memory (d unchanged but
 * incomplete: the caller fails).
 */
int deps_learn(struct deps *d, const char *text, size_t len, int std_strings)
	__attribute__((warn_unused_result));

/*
 * Classify a statement (classify_kind); CLASSIFY_OTHER fills *t (tables
 * with their groups as d knows them now, the class; barrier when the
 * tables are not known).
 */
enum classify_kind deps_classify(const struct deps *d, struct deps_touch *t, const char *text,
                                 size_t len, int std_strings);

/* The table of `COPY name ...` as written, into key.  Returns 0 when there is none. */
int deps_copy_table(const char *text, size_t len, int std_strings, char *key, size_t size);

/* *t for a COPY batch of table (as written). */
void deps_batch(const struct deps *d, struct deps_touch *t, const char *table);

/* 1 when a and b may not run at once (and b may not pass a in the queue). */
int deps_conflict(const struct deps_touch *a, const struct deps_touch *b);

void deps_free(struct deps *d);

#endif
