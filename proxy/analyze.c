/*
 * analyze.c - ANALYZE and VACUUM of the tables the import created (see
 * analyze.h).  Separate from the session so that what is analyzed and
 * how is written once, for both ways of importing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "text.h"

size_t
analyze_count(const struct rules *r)
{
	char name[ANALYZE_NAME];
	size_t i, n = 0;

	for (i = 0; i < rules_tables(r); i++)
		if (!(rules_table_sql(r, i, name, sizeof(name)) & RULES_TABLE_PARTITION))
			n++;
	return n;
}

char *
analyze_sql(const struct rules *r, int *oom)
{
	char name[ANALYZE_NAME], *sql;
	struct text t = { 0 };
	size_t i;
	int f, n = 0;

	*oom = 0;
	if (!rules_tables_complete(r)) {
		sql = strdup("ANALYZE;");
		*oom = sql == NULL;
		return sql;
	}
	for (i = 0; i < rules_tables(r); i++) {
		f = rules_table_sql(r, i, name, sizeof(name));
		if (f < 0 || (f & RULES_TABLE_PARTITION))
			continue;
		text_cat(&t, n++ ? ", " : "ANALYZE ");
		text_cat(&t, name);
	}
	text_cat(&t, ";");
	sql = text_take(&t);
	if (sql == NULL)
		*oom = 1;
	else if (n == 0) {
		free(sql);
		sql = NULL;
	}
	return sql;
}

size_t
analyze_pass_sql(const struct rules *r, size_t *i, enum analyze_pass pass, int server_version,
                 char *buf, size_t size)
{
	static const char *const opts[][2] = {
		/* before 12, from 12 on */
		[ANALYZE_PASS_FREEZE] = { "FREEZE, ANALYZE", "FREEZE, ANALYZE, TRUNCATE false" },
		[ANALYZE_PASS_FREEZE_NO_STATS] = { "FREEZE", "FREEZE, TRUNCATE false" },
		[ANALYZE_PASS_VISIBLE] = { "FREEZE",
		                           "FREEZE, INDEX_CLEANUP false, TRUNCATE false" },
	};
	char name[ANALYZE_NAME];
	int f, n;

	for (; *i < rules_tables(r); (*i)++) {
		f = rules_table_sql(r, *i, name, sizeof(name));
		if (f < 0 || (f & RULES_TABLE_PARTITION))
			continue;
		n = snprintf(buf, size, "VACUUM (%s) %s", opts[pass][server_version >= 120000],
		             name);
		(*i)++;
		return n > 0 ? (size_t)n : 0;
	}
	return 0;
}
