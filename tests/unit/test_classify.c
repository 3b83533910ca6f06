/*
 * test_classify.c - what the daemon asks of a statement beside the rules
 * (sqlrewrite/classify.c): the scheduler's kinds, the command tag of a
 * statement answered without running it, reads of tables and large
 * objects, SET lock_timeout, session setup; each with the
 * standard_conforming_strings the statement was read with, since a quote
 * that a backslash escapes hides the words after it only when the
 * setting is off.
 */
#include <string.h>

#include "classify.h"
#include "t.h"

static void
test_kind(void)
{
	static const struct {
		const char *sql;
		int std;
		enum classify_kind want;
	} c[] = {
		{ "SET search_path = '';", 1, CLASSIFY_SET },
		{ "reset all;", 1, CLASSIFY_SET },
		{ "SELECT pg_catalog.set_config('search_path', '', false);", 1, CLASSIFY_SET },
		{ "SELECT pg_catalog.setval('public.s', 1, true);", 1, CLASSIFY_FREE },
		{ "SELECT pg_catalog.lo_open('16385', 131072);", 1, CLASSIFY_TXN },
		{ "SELECT pg_catalog.lowrite(0, '\\x00');", 1, CLASSIFY_TXN },
		{ "BEGIN;", 1, CLASSIFY_TXN },
		{ "commit;", 1, CLASSIFY_TXN },
		{ "SAVEPOINT a;", 1, CLASSIFY_TXN },
		{ "/* c */ ABORT;", 1, CLASSIFY_TXN },
		{ "SELECT count(*) FROM t;", 1, CLASSIFY_OTHER },
		{ "CREATE INDEX i ON public.t (a);", 1, CLASSIFY_OTHER },
		{ "\"set\" x;", 1, CLASSIFY_OTHER },
		{ ";", 1, CLASSIFY_OTHER },
		{ "", 1, CLASSIFY_OTHER },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		T_OK(classify_kind(c[i].sql, strlen(c[i].sql), c[i].std) == c[i].want,
		     "kind of %s is %d", c[i].sql, (int)c[i].want);
}

static void
test_tag(void)
{
	static const struct {
		const char *sql, *want;
	} c[] = {
		{ "CREATE TABLE public.t (a int);", "CREATE TABLE" },
		{ "create unique index i on t (a);", "CREATE INDEX" },
		{ "CREATE OR REPLACE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql;",
		  "CREATE" },
		{ "CREATE MATERIALIZED VIEW v AS SELECT 1;", "CREATE MATERIALIZED VIEW" },
		{ "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO r;",
		  "ALTER DEFAULT PRIVILEGES" },
		{ "CREATE FOREIGN TABLE ft (a int) SERVER s;", "CREATE FOREIGN TABLE" },
		{ "ALTER TABLE t OWNER TO r;", "ALTER TABLE" },
		{ "DROP TABLE t;", "DROP TABLE" },
		{ "SECURITY LABEL ON TABLE t IS 'x';", "SECURITY LABEL" },
		{ "START TRANSACTION;", "START TRANSACTION" },
		{ "BEGIN;", "BEGIN" },
		{ "END;", "COMMIT" },
		{ "GRANT ALL ON t TO r;", "GRANT" },
		{ "SELECT pg_catalog.set_config('a', 'b', false);", "SELECT 1" },
		{ ";", "SELECT 0" },
	};
	char tag[64];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		classify_tag(c[i].sql, strlen(c[i].sql), 1, tag, sizeof(tag));
		T_OK(strcmp(tag, c[i].want) == 0, "tag of %s is %s (%s)", c[i].sql, c[i].want, tag);
	}
	classify_tag("CREATE TABLE t (a int);", 23, 1, tag, 5);
	T_OK(strcmp(tag, "CREA") == 0, "a tag is cut to its room (%s)", tag);
}

static void
test_reads(void)
{
	/* with std_strings off, 'a\' FROM t; --' is one string: FROM is no word */
	static const char esc[] = "SELECT 'a\\' FROM t; --'";

	T_OK(classify_reads_tables("SELECT * FROM public.t;", 23, 1), "SELECT ... FROM reads");
	T_OK(classify_reads_tables("TABLE t;", 8, 1), "TABLE reads");
	T_OK(classify_reads_tables("WITH x AS (SELECT 1) TABLE x;", 29, 1), "WITH ... TABLE reads");
	T_OK(classify_reads_tables("EXPLAIN SELECT 1;", 17, 1), "EXPLAIN reads");
	T_OK(!classify_reads_tables("SELECT pg_catalog.pg_is_in_recovery();", 38, 1),
	     "a SELECT of a function reads nothing");
	T_OK(!classify_reads_tables("SELECT 'FROM t';", 16, 1), "FROM inside a string is no FROM");
	T_OK(!classify_reads_tables("SHOW search_path;", 17, 1), "SHOW reads nothing");
	T_OK(!classify_reads_tables("VALUES (1);", 11, 1), "VALUES reads nothing");
	T_OK(classify_reads_tables(esc, strlen(esc), 1),
	     "standard strings: the string ends after the backslash, FROM is a word");
	T_OK(!classify_reads_tables(esc, strlen(esc), 0),
	     "backslash escapes: the quote is escaped, FROM is in the string");
	T_OK(classify_large_objects("SELECT oid FROM pg_largeobject_metadata;", 40, 1),
	     "pg_largeobject_metadata is a large-object table");
	T_OK(classify_large_objects("SELECT pg_catalog.lo_open(1, 2);", 32, 1), "lo_open");
	T_OK(!classify_large_objects("SELECT 'lo_open';", 17, 1),
	     "a string that says lo_open names nothing");
}

static void
test_setup(void)
{
	T_OK(classify_sets_lock_timeout("SET lock_timeout = 0;", 21, 1), "SET lock_timeout");
	T_OK(classify_sets_lock_timeout("set session lock_timeout to '1s';", 33, 1),
	     "SET SESSION lock_timeout");
	T_OK(classify_sets_lock_timeout("SET LOCAL lock_timeout = 0;", 27, 1),
	     "SET LOCAL lock_timeout");
	T_OK(!classify_sets_lock_timeout("SET statement_timeout = 0;", 26, 1), "another setting");
	T_OK(!classify_sets_lock_timeout("SHOW lock_timeout;", 18, 1), "SHOW is no SET");
	T_OK(classify_setup("SET a = 1;", 10, 1) && classify_setup("RESET a;", 8, 1) &&
	             classify_setup("SHOW a;", 7, 1) && classify_setup("SELECT 1;", 9, 1) &&
	             classify_setup("-- nothing", 10, 1),
	     "SET, RESET, SHOW, SELECT and nothing are setup");
	T_OK(!classify_setup("CREATE TABLE t ();", 18, 1), "CREATE TABLE is not setup");
}

int
main(void)
{
	test_kind();
	test_tag();
	test_reads();
	test_setup();
	T_DONE();
}
