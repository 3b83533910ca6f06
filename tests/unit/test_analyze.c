/*
 * test_analyze.c - the SQL of analyze.h for the tables a stream created:
 * the single-transaction ANALYZE list and the two --jobs passes, on
 * servers before and from PostgreSQL 12, partitions reached through their
 * root.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "lexer.h"
#include "rules.h"
#include "t.h"

static void
feed(struct rules *r, const char *sql)
{
	struct rules_verdict v;
	struct lexer_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = LEXER_STATEMENT;
	ev.data = sql;
	ev.len = strlen(sql);
	ev.line = 1;
	ev.std_strings = 1;
	rules_apply(r, &ev, &v);
}

/* Every statement of a pass, joined by "|". */
static void
pass(const struct rules *r, enum analyze_pass p, int version, char *out, size_t size)
{
	char sql[ANALYZE_SQL_MAX];
	size_t i = 0, len;

	out[0] = '\0';
	while ((len = analyze_pass_sql(r, &i, p, version, sql, sizeof(sql))) > 0) {
		if (out[0] != '\0')
			strncat(out, "|", size - strlen(out) - 1);
		strncat(out, sql, size - strlen(out) - 1);
		if (len != strlen(sql))
			strncat(out, "(bad length)", size - strlen(out) - 1);
	}
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
main(void)
{
	struct rules_options o;
	struct rules r;
	char out[2048], *sql;
	int oom;

	memset(&o, 0, sizeof(o));
	o.single_transaction = o.copy_freeze = 1;
	rules_init(&r, &o);
	T_OK(analyze_sql(&r, &oom) == NULL && !oom && analyze_count(&r) == 0,
	     "no table created: no ANALYZE");
	feed(&r, "CREATE TABLE public.events (id bigint);");
	feed(&r, "CREATE TABLE public.m (k int) PARTITION BY RANGE (k);");
	feed(&r, "CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (9);");
	feed(&r, "CREATE TABLE \"Odd\".\"x\"\"y\" (a int);");

	sql = analyze_sql(&r, &oom);
	T_OK(sql != NULL && strcmp(sql, "ANALYZE \"public\".\"events\", \"public\".\"m\", "
	                                "\"Odd\".\"x\"\"y\";") == 0,
	     "single transaction: one ANALYZE of the created tables, the partition through its root "
	     "(%s)",
	     sql ? sql : "NULL");
	free(sql);
	T_OK(analyze_count(&r) == 3, "3 statements per pass");

	pass(&r, ANALYZE_PASS_FREEZE, 170000, out, sizeof(out));
	T_OK(strcmp(out, "VACUUM (FREEZE, ANALYZE, TRUNCATE false) \"public\".\"events\"|"
	                 "VACUUM (FREEZE, ANALYZE, TRUNCATE false) \"public\".\"m\"|"
	                 "VACUUM (FREEZE, ANALYZE, TRUNCATE false) \"Odd\".\"x\"\"y\"") == 0,
	     "--jobs, first pass: VACUUM (FREEZE, ANALYZE, TRUNCATE false) per table (%s)", out);
	pass(&r, ANALYZE_PASS_FREEZE_NO_STATS, 170000, out, sizeof(out));
	T_OK(starts(out, "VACUUM (FREEZE, TRUNCATE false) \"public\".\"events\"|"),
	     "--jobs, first pass with the dump's statistics: no ANALYZE (%s)", out);
	pass(&r, ANALYZE_PASS_VISIBLE, 170000, out, sizeof(out));
	T_OK(starts(out,
	            "VACUUM (FREEZE, INDEX_CLEANUP false, TRUNCATE false) \"public\".\"events\"|"),
	     "--jobs, second pass: no index cleanup (%s)", out);
	pass(&r, ANALYZE_PASS_FREEZE, 110000, out, sizeof(out));
	T_OK(starts(out, "VACUUM (FREEZE, ANALYZE) \"public\".\"events\"|"),
	     "PostgreSQL 11: no TRUNCATE option (%s)", out);
	pass(&r, ANALYZE_PASS_VISIBLE, 110000, out, sizeof(out));
	T_OK(starts(out, "VACUUM (FREEZE) \"public\".\"events\"|"),
	     "PostgreSQL 11: no INDEX_CLEANUP option (%s)", out);
	rules_free(&r);
	T_DONE();
}
