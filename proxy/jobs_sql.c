/*
 * jobs_sql.c - the SQL the `--jobs` engine runs at the beginning and the
 * end of an import: the DO block that sets the target's schemas aside
 * before the data and moves them back, or undoes them, at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "deps.h"
#include "jobs.h"
#include "log.h"
#include "pgerr.h"
#include "preflight.h"
#include "target.h"
#include "text.h"
#include "jobs_int.h"

/* ---- SQL of the beginning and the end ---------------------------------- */

/* 'text' with quotes doubled (standard_conforming_strings is on from 9.1) */
static int
jobs_literal(struct textbuf *b, const char *s)
{
	if (textbuf_add(b, "'", 1) < 0)
		return -1;
	for (; *s; s++)
		if (textbuf_add(b, s, 1) < 0 || (*s == '\'' && textbuf_add(b, "'", 1) < 0))
			return -1;
	return textbuf_add(b, "'", 1);
}

int
jobs_cat(struct textbuf *b, const char *s)
{
	return textbuf_add(b, s, strlen(s));
}

/* ARRAY['public','x']::text[] of the target schemas, or of their aside names */
static int
jobs_schema_array(struct jobs *j, struct textbuf *b, int aside)
{
	char name[64];
	int i;

	if (jobs_cat(b, "ARRAY[") < 0)
		return -1;
	for (i = 0; i < j->cfg.n_schemas; i++) {
		snprintf(name, sizeof(name), "pgsluice_aside_%d", i);
		if ((i > 0 && jobs_cat(b, ",") < 0) ||
		    jobs_literal(b, aside ? name : j->cfg.schemas[i]) < 0)
			return -1;
	}
	return jobs_cat(b, "]::text[]");
}

/*
 * A DO block.  mode 0: create the aside schemas and (move_aside) move the
 * target schemas' objects into them.  mode 1: where an aside schema exists,
 * drop what its target schema holds now and move the aside objects back,
 * then drop it.
 */
char *
jobs_do_block(struct jobs *j, int mode, int move)
{
	struct textbuf b = { 0 };
	char *core = preflight_sql_objects_core("= src"), *objs;
	size_t n;
	int bad = 0;

	/* the objects of schema `src` (a PL/pgSQL variable) that move on their own */
	if (core == NULL)
		return NULL;
	n = strlen(core) + 96;
	objs = malloc(n);
	if (objs == NULL) {
		free(core);
		return NULL;
	}
	snprintf(objs, n, "SELECT o.kw, o.ident AS id FROM (\n%s) o WHERE NOT o.follows\n", core);
	free(core);
	bad |= jobs_cat(&b, "DO $pgsluice$\nDECLARE\n  r record; i int; src text; dst text;\n"
	                    "  tgt text[] := ");
	bad |= jobs_schema_array(j, &b, 0);
	bad |= jobs_cat(&b, ";\n  aside text[] := ");
	bad |= jobs_schema_array(j, &b, 1);
	bad |= jobs_cat(&b, ";\nBEGIN\n  FOR i IN 1 .. pg_catalog.array_length(tgt, 1) LOOP\n");
	if (mode == 0) {
		bad |= jobs_cat(&b,
		                "    EXECUTE pg_catalog.format('CREATE SCHEMA %I', aside[i]);\n");
		if (move) {
			bad |= jobs_cat(&b, "    src := tgt[i]; dst := aside[i];\n    FOR r IN\n");
			bad |= jobs_cat(&b, objs);
			bad |= jobs_cat(
				&b, "    LOOP\n      EXECUTE pg_catalog.format('ALTER %s %s SET "
				    "SCHEMA %I', r.kw, r.id, dst);\n    END LOOP;\n");
		}
	} else {
		bad |= jobs_cat(
			&b, "    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace"
			    " WHERE nspname = aside[i]);\n");
		bad |= jobs_cat(&b, "    src := tgt[i];\n    FOR r IN\n");
		bad |= jobs_cat(&b, objs);
		bad |= jobs_cat(&b,
		                "    LOOP\n      EXECUTE pg_catalog.format('DROP %s IF EXISTS %s "
		                "CASCADE', r.kw, r.id);\n    END LOOP;\n");
		bad |= jobs_cat(&b, "    src := aside[i]; dst := tgt[i];\n    FOR r IN\n");
		bad |= jobs_cat(&b, objs);
		bad |= jobs_cat(&b, "    LOOP\n      EXECUTE pg_catalog.format('ALTER %s %s SET "
		                    "SCHEMA %I', r.kw, r.id, dst);\n    END LOOP;\n");
		bad |= jobs_cat(&b, "    EXECUTE pg_catalog.format('DROP SCHEMA %I', aside[i]);\n");
	}
	bad |= jobs_cat(&b, "  END LOOP;\nEND\n$pgsluice$;\n");
	free(objs);
	if (bad) {
		textbuf_free(&b);
		return NULL;
	}
	return b.p;
}
