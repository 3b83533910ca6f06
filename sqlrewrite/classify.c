/*
 * classify.c - what the daemon asks of a statement besides the rules'
 * verdict (classify.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "sqltok.h"

enum classify_kind
classify_kind(const char *s, size_t len, int std_strings)
{
	struct sqltok_iter i;
	struct sqltok t;

	sqltok_init(&i, s, len, std_strings);
	if (sqltok_next(&i, &t) != SQLTOK_WORD)
		return CLASSIFY_OTHER;
	if (sqltok_is(&t, "set") || sqltok_is(&t, "reset"))
		return CLASSIFY_SET;
	if (sqltok_is(&t, "begin") || sqltok_is(&t, "commit") || sqltok_is(&t, "start") ||
	    sqltok_is(&t, "end") || sqltok_is(&t, "rollback") || sqltok_is(&t, "savepoint") ||
	    sqltok_is(&t, "release") || sqltok_is(&t, "abort"))
		return CLASSIFY_TXN;
	if (!sqltok_is(&t, "select"))
		return CLASSIFY_OTHER;
	/* SELECT pg_catalog.set_config(...) / SELECT pg_catalog.setval(...) */
	while (sqltok_next(&i, &t) != SQLTOK_END) {
		if (sqltok_is(&t, "set_config"))
			return CLASSIFY_SET;
		if (sqltok_is(&t, "setval"))
			return CLASSIFY_FREE;
		/* a large object: lo_open's descriptor lives in one transaction */
		if (t.type == SQLTOK_WORD &&
		    ((t.len > 3 && strncasecmp(t.p, "lo_", 3) == 0) || sqltok_is(&t, "lowrite")))
			return CLASSIFY_TXN;
		if (t.type == SQLTOK_OP && t.p[0] == '(')
			break;
	}
	return CLASSIFY_OTHER;
}

static int
classify_word(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return 1;
	return 0;
}

void
classify_tag(const char *s, size_t len, int std_strings, char *tag, size_t size)
{
	static const char *const two[] = { "create", "alter", "drop", "security", "start", NULL };
	static const char *const three[] = { "default", "unique", "materialized", "foreign", NULL };
	char words[3][32];
	size_t i, o = 0;
	int k, n, take = 1;

	n = sqltok_leading_words(s, len, std_strings, words, 3);
	if (n == 0) {
		snprintf(tag, size, "SELECT 0");
		return;
	}
	if (strcmp(words[0], "select") == 0) {
		snprintf(tag, size, "SELECT 1");
		return;
	}
	if (classify_word(words[0], two))
		take = 2;
	if (take == 2 && n >= 3 && strcmp(words[1], "or") == 0) {
		snprintf(tag, size, "CREATE"); /* CREATE OR REPLACE FUNCTION: the kind is later */
		return;
	}
	if (take == 2 && n >= 3 && classify_word(words[1], three))
		take = 3;
	for (k = 0; k < take && k < n; k++) {
		if (strcmp(words[k], "unique") == 0)
			continue;
		if (o > 0 && o + 1 < size)
			tag[o++] = ' ';
		for (i = 0; words[k][i] && o + 1 < size; i++)
			tag[o++] =
				(char)(words[k][i] >= 'a' && words[k][i] <= 'z' ? words[k][i] - 32
			                                                        : words[k][i]);
	}
	tag[o] = '\0';
	if (strcmp(tag, "END") == 0)
		snprintf(tag, size, "COMMIT");
}

int
classify_reads_tables(const char *s, size_t len, int std_strings)
{
	struct sqltok_iter it;
	struct sqltok t;
	char w[1][32];

	if (sqltok_leading_words(s, len, std_strings, w, 1) == 0)
		return 0;
	if (strcmp(w[0], "table") == 0 || strcmp(w[0], "fetch") == 0 ||
	    strcmp(w[0], "explain") == 0)
		return 1;
	if (strcmp(w[0], "select") != 0 && strcmp(w[0], "with") != 0)
		return 0;
	sqltok_init(&it, s, len, std_strings);
	while (sqltok_next(&it, &t) != SQLTOK_END)
		if (sqltok_is(&t, "from") || sqltok_is(&t, "table"))
			return 1;
	return 0;
}

int
classify_large_objects(const char *s, size_t len, int std_strings)
{
	struct sqltok_iter it;
	struct sqltok t;

	sqltok_init(&it, s, len, std_strings);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.type != SQLTOK_WORD)
			continue;
		if ((t.len >= 14 && strncasecmp(t.p, "pg_largeobject", 14) == 0) ||
		    sqltok_is(&t, "lo_open"))
			return 1;
	}
	return 0;
}

int
classify_sets_lock_timeout(const char *s, size_t len, int std_strings)
{
	char w[3][32];
	int n = sqltok_leading_words(s, len, std_strings, w, 3);

	if (n < 2 || strcmp(w[0], "set") != 0)
		return 0;
	if (strcmp(w[1], "lock_timeout") == 0)
		return 1;
	return n == 3 && (strcmp(w[1], "session") == 0 || strcmp(w[1], "local") == 0) &&
	       strcmp(w[2], "lock_timeout") == 0;
}

int
classify_setup(const char *s, size_t len, int std_strings)
{
	static const char *const setup[] = { "set", "reset", "show", "select", NULL };
	char w[1][32];

	return sqltok_leading_words(s, len, std_strings, w, 1) == 0 || classify_word(w[0], setup);
}
