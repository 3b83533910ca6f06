/*
 * test_dumpstart.c - the recogniser of a dump's first bytes (dumpstart.h):
 * each case whole, and every prefix of it (a prefix says MORE or the same
 * verdict, never another one), and at the end of the input.
 */
#include <stdio.h>
#include <string.h>

#include "dumpstart.h"

static int failures;

/* a literal's bytes, without its NUL */
#define EXPECT(what, lit, want) expect(what, lit, sizeof(lit) - 1, want)

static const char *
name(enum dumpstart_kind k)
{
	static const char *const n[] = { "MORE",    "DUMP",  "CUSTOM", "TAR",
		                         "DUMPALL", "EMPTY", "OTHER" };

	return n[k];
}

static void
expect(const char *what, const char *buf, size_t len, enum dumpstart_kind want)
{
	enum dumpstart_kind k = dumpstart_classify(buf, len, 1), p;
	size_t i;

	if (k != want) {
		printf("not ok - %s: %s, want %s\n", what, name(k), name(want));
		failures++;
		return;
	}
	for (i = 0; i < len; i++) {
		p = dumpstart_classify(buf, i, 0);
		if (p != DUMPSTART_MORE && p != want) {
			printf("not ok - %s: the first %zu bytes say %s, the whole %s\n", what, i,
			       name(p), name(want));
			failures++;
			return;
		}
	}
	printf("ok - %s: %s\n", what, name(want));
}

int
main(void)
{
	char tar[600], big[DUMPSTART_MAX + 10], msg[700];
	size_t i;

	EXPECT("pg_dump's header", "--\n-- PostgreSQL database dump\n--\n\nSET x = 1;\n",
	       DUMPSTART_DUMP);
	EXPECT("the header with CRLF", "--\r\n-- PostgreSQL database dump\r\n--\r\n",
	       DUMPSTART_DUMP);
	EXPECT("a SET first (comments stripped)", "SET statement_timeout = 0;\n", DUMPSTART_DUMP);
	EXPECT("set in lower case after blank lines", "\n\n  set client_encoding = 'UTF8';",
	       DUMPSTART_DUMP);
	EXPECT("set_config of search_path first",
	       "SELECT pg_catalog.set_config('search_path', '', false);\n", DUMPSTART_DUMP);
	EXPECT("psql's \\restrict first", "\\restrict abc\n", DUMPSTART_DUMP);
	EXPECT("pg_dumpall", "--\n-- PostgreSQL database cluster dump\n--\n", DUMPSTART_DUMPALL);
	EXPECT("a custom archive", "PGDMP\x01\x0e\x00", DUMPSTART_CUSTOM);
	memset(tar, 0, sizeof(tar));
	memcpy(tar, "toc.dat", 7);
	memcpy(tar + 257, "ustar", 5);
	expect("a tar archive", tar, sizeof(tar), DUMPSTART_TAR);
	EXPECT("a SELECT", "select 1;\n", DUMPSTART_OTHER);
	EXPECT("a SETTING word is not SET", "SETTINGS;\n", DUMPSTART_OTHER);
	EXPECT("other comments, then a DROP", "-- my notes\nDROP TABLE x;\n", DUMPSTART_OTHER);
	EXPECT("nothing", "", DUMPSTART_EMPTY);
	EXPECT("only comments", "-- one\n-- two\n\n", DUMPSTART_EMPTY);
	memset(big, ' ', sizeof(big));
	if (dumpstart_classify(big, sizeof(big), 0) != DUMPSTART_OTHER) {
		printf("not ok - more than DUMPSTART_MAX blanks decide OTHER\n");
		failures++;
	} else {
		printf("ok - more than DUMPSTART_MAX blanks decide OTHER\n");
	}
	dumpstart_message(DUMPSTART_OTHER, "DROP TABLE x;\n", 14, msg, sizeof(msg));
	if (strstr(msg, "it begins with \"DROP TABLE x;\"") == NULL) {
		printf("not ok - the message quotes the start: %s\n", msg);
		failures++;
	} else {
		printf("ok - the message quotes the start\n");
	}
	dumpstart_message(DUMPSTART_CUSTOM, "PGDMP", 5, msg, sizeof(msg));
	i = strstr(msg, "pg_restore -f - FILE | pgsluice send") != NULL;
	printf("%s - the PGDMP message gives the pg_restore line\n", i ? "ok" : "not ok");
	failures += !i;
	return failures ? 1 : 0;
}
