/*
 * analyze.c - ANALYZE and VACUUM of the tables the import created (see
 * analyze.h).  Separate from the session so that what is analyzed and
 * how is written once, for both ways of importing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

/* "schema"."table", doubled quotes: two parts of 63 bytes, all quotes */
#define ANALYZE_NAME (4 * 64 + 8)

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
	size_t i, len = 0, cap = 0, k;
	int f, n = 0;

	*oom = 0;
	if (!rules_tables_complete(r)) {
		sql = strdup("ANALYZE;");
		*oom = sql == NULL;
		return sql;
	}
	sql = NULL;
	for (i = 0; i < rules_tables(r); i++) {
		f = rules_table_sql(r, i, name, sizeof(name));
		if (f < 0 || (f & RULES_TABLE_PARTITION))
			continue;
		k = strlen(name);
		if (len + k + 12 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			while (cap < len + k + 12)
				cap *= 2;
			if ((nb = realloc(sql, cap)) == NULL) {
				free(sql);
				*oom = 1;
				return NULL;
			}
			sql = nb;
		}
		len += (size_t)sprintf(sql + len, "%s%s", n++ ? ", " : "ANALYZE ", name);
	}
	if (sql != NULL)
		memcpy(sql + len, ";", 2);
	return sql;
}

int
analyze_pass_sql(const struct rules *r, size_t *i, enum analyze_pass pass, int server_version,
                 char *buf, size_t size)
{
	char name[ANALYZE_NAME];
	int f;

	for (; *i < rules_tables(r); (*i)++) {
		f = rules_table_sql(r, *i, name, sizeof(name));
		if (f < 0 || (f & RULES_TABLE_PARTITION))
			continue;
		if (pass == ANALYZE_PASS_ANALYZE)
			snprintf(buf, size, "ANALYZE %s", name);
		else
			snprintf(buf, size, "VACUUM (FREEZE%s) %s",
			         server_version >= 120000 ? ", TRUNCATE false" : "", name);
		(*i)++;
		return 1;
	}
	return 0;
}
