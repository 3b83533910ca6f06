/*
 * test_lexer.c - the lexer's case table.  Every case runs whole, one byte at
 * a time, and split in two at every offset; all runs must give the expected
 * events (see lexcollect.h for the notation).  An expected text that starts
 * with "!" is an error: the actual events must end with an error line that
 * contains the rest.
 */
#include <stdint.h>

#include "lexcollect.h"
#include "t.h"

struct lcase {
	const char *name;
	const char *in;
	const char *want;
	size_t max_statement;
	int server_version_num; /* 0: the newest */
};

static const struct lcase cases[] = {
	{ "simple", "SELECT 1;", "S1 SELECT 1;\n", 0, 0 },
	{ "two on a line, leading comment dropped", "  -- c\nSELECT 1; SELECT 2;\n",
	  "S2 SELECT 1;\nS2 SELECT 2;\n", 0, 0 },
	{ "semicolon in string", "SELECT 'a;b';", "S1 SELECT 'a;b';\n", 0, 0 },
	{ "doubled quote", "SELECT 'it''s;';", "S1 SELECT 'it''s;';\n", 0, 0 },
	{ "E string backslash quote", "SELECT E'\\';x';", "S1 SELECT E'\\';x';\n", 0, 0 },
	{ "e string lower case", "SELECT e'\\\\';", "S1 SELECT e'\\\\';\n", 0, 0 },
	{ "identifier ending in e is not E string", "SELECT some'\\';x';",
	  "S1 SELECT some'\\';\n!inside a quoted string", 0, 0 },
	{ "standard_conforming_strings off",
	  "SET standard_conforming_strings = off;\nSELECT 'a\\';b';\n",
	  "S1 SET standard_conforming_strings = off;\nS2 SELECT 'a\\';b';\n", 0, 0 },
	{ "standard_conforming_strings back on",
	  "SET standard_conforming_strings TO 'off';\nSET standard_conforming_strings = on;\nSELECT 'a\\';\n",
	  "S1 SET standard_conforming_strings TO 'off';\nS2 SET standard_conforming_strings = on;\nS3 SELECT 'a\\';\n",
	  0, 0 },
	{ "backslash is plain when standard", "SELECT 'a\\';b';",
	  "S1 SELECT 'a\\';\n!inside a quoted string that began at line 1", 0, 0 },
	{ "quoted identifier", "SELECT \"a;\"\"b\";", "S1 SELECT \"a;\"\"b\";\n", 0, 0 },
	{ "unicode string", "SELECT U&'a;\\0041';", "S1 SELECT U&'a;\\0041';\n", 0, 0 },
	{ "unicode identifier", "SELECT u&\"a;\";", "S1 SELECT u&\"a;\";\n", 0, 0 },
	{ "u and an operator", "SELECT u&1;", "S1 SELECT u&1;\n", 0, 0 },
	{ "bit and hex strings", "SELECT B'1;', X'F;';", "S1 SELECT B'1;', X'F;';\n", 0, 0 },
	{ "dollar quote", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;",
	  "S1 CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n", 0, 0 },
	{ "nested dollar tags", "SELECT $a$ $b$ ; $b$ ; $a$;\nSELECT 2;",
	  "S1 SELECT $a$ $b$ ; $b$ ; $a$;\nS2 SELECT 2;\n", 0, 0 },
	{ "dollar close after a false start", "SELECT $ab$ x$a$ab$;", "S1 SELECT $ab$ x$a$ab$;\n",
	  0, 0 },
	{ "dollar in body", "SELECT $a$ $ $$ $b $a$;", "S1 SELECT $a$ $ $$ $b $a$;\n", 0, 0 },
	{ "parameter and identifier with dollar", "SELECT $1, foo$x$;", "S1 SELECT $1, foo$x$;\n",
	  0, 0 },
	{ "number then dollar quote", "SELECT 1$$;$$;", "S1 SELECT 1$$;$$;\n", 0, 0 },
	{ "nested block comments", "SELECT 1 /* a /* b; */ c; */;",
	  "S1 SELECT 1 /* a /* b; */ c; */;\n", 0, 0 },
	{ "leading block comment kept", "/* c */ SELECT 1;", "S1 /* c */ SELECT 1;\n", 0, 0 },
	{ "line comment inside a statement kept", "SELECT 1 -- x;\n;", "S1 SELECT 1 -- x;\n;\n", 0,
	  0 },
	{ "parentheses", "SELECT (1;2);", "S1 SELECT (1;2);\n", 0, 0 },
	{ "BEGIN ATOMIC with CASE",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE 2 END; SELECT 2; END;\nSELECT 3;",
	  "S1 CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE 2 END; SELECT 2; END;\nS2 SELECT 3;\n",
	  0, 0 },
	{ "CREATE OR REPLACE PROCEDURE atomic",
	  "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\nSELECT 1;",
	  "S1 CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\nS2 SELECT 1;\n",
	  0, 0 },
	{ "transaction statements split", "BEGIN;\nSELECT 1;\nEND;",
	  "S1 BEGIN;\nS2 SELECT 1;\nS3 END;\n", 0, 0 },
	{ "COPY", "COPY t (a) FROM stdin;\n1\n2\n\\.\nSELECT 1;\n",
	  "S1 COPY t (a) FROM stdin;\nD 1\n2\n\nE4 2\nS5 SELECT 1;\n", 0, 0 },
	{ "COPY with CRLF", "COPY t FROM stdin;\r\n1\r\n\\.\r\nSELECT 1;",
	  "S1 COPY t FROM stdin;\nD 1\r\n\nE3 1\nS4 SELECT 1;\n", 0, 0 },
	{ "COPY lines that look like the end",
	  "COPY t FROM stdin;\n\\N\n\\.x\n\\\\.\n \\.\n\\.\r\r\n\\.\n",
	  "S1 COPY t FROM stdin;\nD \\N\n\\.x\n\\\\.\n \\.\n\\.\r\r\n\nE7 5\n", 0, 0 },
	{ "empty COPY", "COPY t FROM stdin;\n\\.\n", "S1 COPY t FROM stdin;\nE2 0\n", 0, 0 },
	{ "COPY data that looks like SQL", "COPY t FROM stdin;\nDROP TABLE x; 'a\n\\.\n",
	  "S1 COPY t FROM stdin;\nD DROP TABLE x; 'a\n\nE3 1\n", 0, 0 },
	{ "COPY end marker at end of input without newline", "COPY t FROM stdin;\n1\n\\.",
	  "S1 COPY t FROM stdin;\nD 1\n\nE3 1\n", 0, 0 },
	{ "COPY TO stdout is no data", "COPY t TO stdout;\nSELECT 1;",
	  "S1 COPY t TO stdout;\nS2 SELECT 1;\n", 0, 0 },
	{ "COPY (query) is no data", "COPY (SELECT 'from stdin') TO STDOUT;",
	  "S1 COPY (SELECT 'from stdin') TO STDOUT;\n", 0, 0 },
	{ "COPY quoted table csv", "copy \"My T\" from STDIN with (format csv);\n\"a\nb\"\n\\.\n",
	  "S1 copy \"My T\" from STDIN with (format csv);\nD \"a\nb\"\n\nE4 2\n", 0, 0 },
	{ "COPY truncated", "COPY public.events (id) FROM stdin;\n1\n2\n",
	  "S1 COPY public.events (id) FROM stdin;\nD 1\n2\n\n!input ends inside COPY public.events (data began at line 2, 2 rows read",
	  0, 0 },
	{ "text after COPY", "COPY t FROM stdin; x\n", "S1 COPY t FROM stdin;\n!text after COPY", 0,
	  0 },
	{ "comment after COPY on its line", "COPY t FROM stdin; -- fail; DROP TABLE x\r\n1\n\\.\n",
	  "S1 COPY t FROM stdin;\nD 1\n\nE3 1\n", 0, 0 },
	{ "comment after COPY, no space", "COPY t FROM stdin;--\n\\.\nSELECT 1;",
	  "S1 COPY t FROM stdin;\nE2 0\nS3 SELECT 1;\n", 0, 0 },
	{ "a minus after COPY is text", "COPY t FROM stdin; -1\n",
	  "S1 COPY t FROM stdin;\n!text after COPY", 0, 0 },
	{ "comment after COPY, input ends", "COPY t FROM stdin; -- c",
	  "S1 COPY t FROM stdin;\n!input ends inside COPY t", 0, 0 },
	{ "meta-commands", "\\restrict abc\nSELECT 1;\n\\unrestrict abc\n",
	  "M1 \\restrict abc\nS2 SELECT 1;\nM3 \\unrestrict abc\n", 0, 0 },
	{ "meta-command at end without newline", "SELECT 1;\n\\connect db",
	  "S1 SELECT 1;\nM2 \\connect db\n", 0, 0 },
	{ "meta-command CRLF", "\\connect db\r\nSELECT 1;", "M1 \\connect db\nS2 SELECT 1;\n", 0,
	  0 },
	{ "trailer", "SELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k\n",
	  "S1 SELECT 1;\nT3\nM6 \\unrestrict k\n", 0, 0 },
	{ "trailer without newline", "SELECT 1;\n-- PostgreSQL database dump complete",
	  "S1 SELECT 1;\nT2\n", 0, 0 },
	{ "not the trailer", "-- PostgreSQL database dump complete or not\nSELECT 1;",
	  "S2 SELECT 1;\n", 0, 0 },
	{ "trailer text inside a statement", "SELECT 1\n-- PostgreSQL database dump complete\n;",
	  "S1 SELECT 1\n-- PostgreSQL database dump complete\n;\n", 0, 0 },
	{ "lines", "\n\nSELECT\n1;\n\nSELECT 2;", "S3 SELECT\n1;\nS6 SELECT 2;\n", 0, 0 },
	{ "lone semicolon", ";", "S1 ;\n", 0, 0 },
	{ "statement starting with a minus", "-- c\n-1;", "S2 -1;\n", 0, 0 },
	{ "only a comment at the end", "SELECT 1;\n/* c */", "S1 SELECT 1;\n", 0, 0 },
	{ "realfail is not a comment", "SELECT 1e--x;", "S1 SELECT 1e--x;\n", 0, 0 },
	{ "integer then comment", "SELECT 1--x;\n;", "S1 SELECT 1--x;\n;\n", 0, 0 },
	{ "E string continuation keeps backslashes", "SELECT E'a'\n'b\\';c';",
	  "s1 SELECT E'a'\n'b\\';c';\n", 0, 0 },
	{ "plain string continuation does not", "SELECT 'a'\n'b\\';c';",
	  "S1 SELECT 'a'\n'b\\';\n!inside a quoted string", 0, 0 },
	{ "unterminated quote", "SELECT 1;\nSELECT 'abc",
	  "S1 SELECT 1;\n!input ends inside a quoted string that began at line 2", 0, 0 },
	{ "unterminated dollar quote", "SELECT $$abc",
	  "!input ends inside a dollar-quoted string ($$) that began at line 1", 0, 0 },
	{ "unterminated comment", "SELECT /* abc",
	  "!input ends inside a /* comment */ that began at line 1", 0, 0 },
	{ "unterminated identifier", "SELECT \"abc", "!inside a quoted identifier", 0, 0 },
	{ "no semicolon", "SELECT 1",
	  "!input ends inside the statement that began at line 1 (no terminating semicolon)", 0,
	  0 },
	{ "dollar tag too long",
	  "SELECT $a234567890123456789012345678901234567890123456789012345678901234$ x;",
	  "!dollar-quote tag longer than 63 bytes", 0, 0 },
	{ "dollar tag of 63 bytes",
	  "SELECT $a23456789012345678901234567890123456789012345678901234567890123$;$a23456789012345678901234567890123456789012345678901234567890123$;",
	  "S1 SELECT $a23456789012345678901234567890123456789012345678901234567890123$;$a23456789012345678901234567890123456789012345678901234567890123$;\n",
	  0, 0 },
	{ "statement cap", "SELECT 1;\nSELECT 12345678901234567890;",
	  "S1 SELECT 1;\n!is larger than 16 bytes", 16, 0 },
	{ "backslash inside a statement", "SELECT 1 \\g\n", "!a backslash outside quotes", 0, 0 },
	{ "dollar word then E string", "SELECT $e'\\';';", "S1 SELECT $e'\\';';\n", 0, 0 },
	{ "high bytes are identifier characters", "SELECT \xc3\xa9$x$;", "S1 SELECT \xc3\xa9$x$;\n",
	  0, 0 },

	/* "--" comments end at \r as well as \n (scan.l's non_newline) */
	{ "line comment ends at CR",
	  "SELECT 1 AS a -- x\r; COPY (SELECT 1) TO PROGRAM $$id$$; -- y\n;",
	  "S1 SELECT 1 AS a -- x\r;\nS1 COPY (SELECT 1) TO PROGRAM $$id$$;\nS2 ;\n", 0, 0 },
	{ "line comment between statements ends at CR", "-- x\rSELECT 1;\n-- y\r\nSELECT 2;",
	  "S1 SELECT 1;\nS3 SELECT 2;\n", 0, 0 },
	{ "trailer ended by CR", "SELECT 1;\n-- PostgreSQL database dump complete\rDROP TABLE t;",
	  "S1 SELECT 1;\nT2\nS2 DROP TABLE t;\n", 0, 0 },
	{ "trailer with CRLF", "SELECT 1;\r\n-- PostgreSQL database dump complete\r\n",
	  "S1 SELECT 1;\nT2\n", 0, 0 },

	/* string continuation (scan.l's quotecontinue) */
	{ "E string continues across a -- comment", "SELECT E'a' -- c\n'b\\';c';",
	  "s1 SELECT E'a' -- c\n'b\\';c';\n", 0, 0 },
	{ "E string continues across CR", "SELECT E'a'\r'b\\';c';", "s1 SELECT E'a'\r'b\\';c';\n",
	  0, 0 },
	{ "E string continues across comment lines", "SELECT E'a'\n-- c\n \f -- d\r\t'b\\';c';",
	  "s1 SELECT E'a'\n-- c\n \f -- d\r\t'b\\';c';\n", 0, 0 },
	{ "E string continues after a doubled quote", "SELECT E'it''s'\n'\\';x';",
	  "s1 SELECT E'it''s'\n'\\';x';\n", 0, 0 },
	{ "E string does not continue on the same line", "SELECT E'a' 'b\\';c';",
	  "S1 SELECT E'a' 'b\\';\n!inside a quoted string", 0, 0 },
	{ "E string does not continue across a block comment", "SELECT E'a' /* */\n'b\\';c';",
	  "S1 SELECT E'a' /* */\n'b\\';\n!inside a quoted string", 0, 0 },
	{ "E string does not continue across one dash", "SELECT E'a' -\n'b\\';c';",
	  "S1 SELECT E'a' -\n'b\\';\n!inside a quoted string", 0, 0 },
	{ "comment in the gap ends the input", "SELECT E'a' -- c", "!no terminating semicolon", 0,
	  0 },
	{ "std off: a plain string continues with backslashes",
	  "SET standard_conforming_strings = off;\nSELECT 'a'\n'b\\';c';",
	  "S1 SET standard_conforming_strings = off;\nS2 SELECT 'a'\n'b\\';c';\n", 0, 0 },
	{ "U& string continues as a plain one", "SELECT U&'a'\n'b\\';c';",
	  "S1 SELECT U&'a'\n'b\\';\n!inside a quoted string", 0, 0 },
	{ "B string has no doubling", "SET standard_conforming_strings = off;\nSELECT B'1''\\';x';",
	  "S1 SET standard_conforming_strings = off;\nS2 SELECT B'1''\\';x';\n", 0, 0 },
	{ "B string continues without backslashes",
	  "SET standard_conforming_strings = off;\nSELECT B'1'\n'\\';\nSELECT 2;",
	  "S1 SET standard_conforming_strings = off;\ns2 SELECT B'1'\n'\\';\nS4 SELECT 2;\n", 0,
	  0 },
	{ "X string then an empty string", "SELECT X'1F''';", "S1 SELECT X'1F''';\n", 0, 0 },

	/* BEGIN ATOMIC only as the keyword pair in a routine */
	{ "function named begin",
	  "CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\nSELECT 2;",
	  "s1 CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\nS2 SELECT 2;\n",
	  0, 0 },
	{ "function named begin, then COPY data psql would read as SQL",
	  "CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\nCOPY t FROM stdin;\nend; x\n\\.\n",
	  "s1 CREATE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\nS2 COPY t FROM stdin;\n"
	  "D end; x\n\nE4 1\n",
	  0, 0 },
	{ "procedure named Begin, quoted begin not counted",
	  "CREATE OR REPLACE PROCEDURE s.Begin() LANGUAGE sql AS 'SELECT 1';\nCREATE FUNCTION \"begin\"() RETURNS int LANGUAGE sql AS 'SELECT 1';\n",
	  "s1 CREATE OR REPLACE PROCEDURE s.Begin() LANGUAGE sql AS 'SELECT 1';\n"
	  "S2 CREATE FUNCTION \"begin\"() RETURNS int LANGUAGE sql AS 'SELECT 1';\n",
	  0, 0 },
	{ "begin inside parentheses is not counted",
	  "CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql RETURN begin;\n",
	  "s1 CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql RETURN begin;\n", 0, 0 },
	{ "bare begin then end: psql's count is back to 0",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN begin + end;\nSELECT 2;",
	  "S1 CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN begin + end;\nS2 SELECT 2;\n", 0,
	  0 },
	{ "BEGIN ATOMIC with an end label psql would cut inside",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS x; SELECT t.end FROM t; SELECT 2; END;\n",
	  "s1 CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS x; SELECT t.end FROM t; SELECT 2; END;\n",
	  0, 0 },
	{ "begin as a setting value",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1' SET search_path = begin;\nSELECT 2;",
	  "s1 CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1' SET search_path = begin;\nS2 SELECT 2;\n",
	  0, 0 },
	{ "BEGIN and ATOMIC apart",
	  "CREATE PROCEDURE p() LANGUAGE sql BEGIN /* x */ -- y\n ATOMIC SELECT 1; END;\nSELECT 2;",
	  "S1 CREATE PROCEDURE p() LANGUAGE sql BEGIN /* x */ -- y\n ATOMIC SELECT 1; END;\nS3 SELECT 2;\n",
	  0, 0 },
	{ "CASE and END as labels in a body",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; SELECT t.end FROM t; END;\nSELECT 2;",
	  "s1 CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; SELECT t.end FROM t; END;\nS2 SELECT 2;\n",
	  0, 0 },
	{ "BEGIN ATOMIC outside a routine", "SELECT begin atomic;\nSELECT 2;",
	  "S1 SELECT begin atomic;\nS2 SELECT 2;\n", 0, 0 },

	/* numbers and parameters with identifier characters glued on */
	{ "RETURN 1xbegin",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1xbegin;\nSELECT 2;",
	  "S1 CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1xbegin;\nS2 SELECT 2;\n", 0, 0 },
	{ "RETURN 1ebegin",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1ebegin;\nSELECT 2;",
	  "S1 CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1ebegin;\nS2 SELECT 2;\n", 0, 0 },
	{ "RETURN 1.5e3begin",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1.5e3begin;\nSELECT 2;",
	  "S1 CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1.5e3begin;\nS2 SELECT 2;\n", 0,
	  0 },
	{ "RETURN $1_begin",
	  "CREATE FUNCTION f(int) RETURNS int LANGUAGE sql RETURN $1_begin;\nSELECT 2;",
	  "S1 CREATE FUNCTION f(int) RETURNS int LANGUAGE sql RETURN $1_begin;\nS2 SELECT 2;\n", 0,
	  0 },
	{ "RETURN 1xbegin on 15",
	  "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1xbegin;\nSELECT 2;",
	  "S1 CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1xbegin;\nS2 SELECT 2;\n", 0,
	  150000 },

	/* a statement's keywords after its leading comments */
	{ "block comment before COPY", "/* c */ COPY t FROM stdin;\nDROP TABLE x;\n\\.\nSELECT 1;",
	  "S1 /* c */ COPY t FROM stdin;\nD DROP TABLE x;\n\nE3 1\nS4 SELECT 1;\n", 0, 0 },
	{ "line comment before COPY", "-- x\n COPY t FROM stdin;\n1\n\\.\n",
	  "S2 COPY t FROM stdin;\nD 1\n\nE4 1\n", 0, 0 },
	{ "two comments before copy", "/* a */ -- b\n/* c */ copy t from stdin;\n\\.\n",
	  "S1 /* a */ -- b\n/* c */ copy t from stdin;\nE3 0\n", 0, 0 },
	{ "block comment before SET",
	  "/* c */ SET standard_conforming_strings = off;\nSELECT 'a\\';b';",
	  "S1 /* c */ SET standard_conforming_strings = off;\nS2 SELECT 'a\\';b';\n", 0, 0 },

	/* whitespace by server version */
	{ "vertical tab is whitespace on 16+", "\vSELECT\v1;", "S1 SELECT\v1;\n", 0, 160000 },
	{ "vertical tab is no whitespace on 15", "\vSELECT 1;", "S1 \vSELECT 1;\n", 0, 150000 },
	{ "form feed is whitespace", "\fSELECT 1;", "S1 SELECT 1;\n", 0, 150000 },
	{ "vertical tab in a continuation on 16+", "SELECT E'a'\v\n'b\\';c';",
	  "s1 SELECT E'a'\v\n'b\\';c';\n", 0, 0 },
	{ "vertical tab ends a continuation on 15", "SELECT E'a'\v\n'b\\';c';",
	  "S1 SELECT E'a'\v\n'b\\';\n!inside a quoted string", 0, 150000 },
};

static int
matches(const char *got, const char *want)
{
	const char *bang = strchr(want, '!');
	size_t pre;

	if (bang == NULL || (bang != want && bang[-1] != '\n'))
		return strcmp(got, want) == 0;
	pre = (size_t)(bang - want);
	if (strncmp(got, want, pre) != 0 || got[pre] != '!')
		return 0;
	return strstr(got + pre, bang + 1) != NULL;
}

static void
run_case(const struct lcase *c)
{
	size_t len = strlen(c->in), k, *cuts;
	char *got;
	int ok = 1;

	got = lexcollect_run(c->in, len, NULL, 0, c->max_statement, c->server_version_num);
	T_OK(matches(got, c->want), "%s: whole", c->name);
	if (!matches(got, c->want))
		printf("# want: %s\n# got:  %s\n", c->want, got);
	free(got);

	cuts = malloc((len + 1) * sizeof(*cuts));
	for (k = 0; k < len; k++)
		cuts[k] = k + 1;
	got = lexcollect_run(c->in, len, cuts, len, c->max_statement, c->server_version_num);
	T_OK(matches(got, c->want), "%s: one byte at a time", c->name);
	if (!matches(got, c->want))
		printf("# got:  %s\n", got);
	free(got);

	for (k = 1; k < len && ok; k++) {
		got = lexcollect_run(c->in, len, &k, 1, c->max_statement, c->server_version_num);
		if (!matches(got, c->want)) {
			printf("# split at %zu got: %s\n", k, got);
			ok = 0;
		}
		free(got);
	}
	T_OK(ok, "%s: split at every offset", c->name);
	free(cuts);
}

/* Run in through the lexer; the standard_conforming_strings it ends with. */
static int
std_after(const char *in)
{
	struct lexer lx;
	struct lexer_event ev;
	size_t used, off = 0, len = strlen(in);
	int r = LEXER_MORE, std;

	lexer_init(&lx, 0);
	while (off < len && (r = lexer_scan(&lx, in + off, len - off, &used, &ev)) != LEXER_ERROR)
		off += used;
	std = r == LEXER_ERROR ? -1 : lexer_standard_strings(&lx);
	lexer_free(&lx);
	return std;
}

/* Every spelling of SET standard_conforming_strings the server takes, and some it refuses. */
static void
test_std_strings(void)
{
	static const char off[] = "SET standard_conforming_strings = off;\n";
	static const struct {
		const char *sql;
		int from, want;
	} v[] = {
		{ "SET standard_conforming_strings = off;", 1, 0 },
		{ "SET standard_conforming_strings = f;", 1, 0 },
		{ "SET standard_conforming_strings = of;", 1, 0 },
		{ "SET standard_conforming_strings = 'of';", 1, 0 },
		{ "SET standard_conforming_strings TO \"OFF\";", 1, 0 },
		{ "set standard_conforming_strings to FALSE;", 1, 0 },
		{ "SET standard_conforming_strings = no;", 1, 0 },
		{ "SET standard_conforming_strings = N;", 1, 0 },
		{ "SET standard_conforming_strings = 0;", 1, 0 },
		{ "SET standard_conforming_strings = -0;", 1, 0 },
		{ "SET standard_conforming_strings = 00;", 1, 0 },
		{ "SET standard_conforming_strings = E'\\157ff';", 1, 0 },
		{ "SET standard_conforming_strings = U&'\\006Fff';", 1, 0 },
		{ "SET standard_conforming_strings = U&'!006Fff' UESCAPE '!';", 1, 0 },
		{ "SET standard_conforming_strings = 'o'\n'ff';", 1, 0 },
		{ "SET SESSION standard_conforming_strings = off;", 1, 0 },
		{ "SET LOCAL standard_conforming_strings TO off;", 1, 0 },
		{ "/* c */ SET standard_conforming_strings = off;", 1, 0 },
		{ "-- c\nSET standard_conforming_strings = off;", 1, 0 },
		{ "set Standard_Conforming_Strings=off;", 1, 0 },
		{ "SET \"Standard_conforming_strings\" = off;", 1, 0 },
		{ "SET /* x */ standard_conforming_strings -- y\r= off;", 1, 0 },
		{ "SET standard_conforming_strings = on;", 0, 1 },
		{ "SET standard_conforming_strings = t;", 0, 1 },
		{ "SET standard_conforming_strings = 'TRU';", 0, 1 },
		{ "SET standard_conforming_strings = YES;", 0, 1 },
		{ "SET standard_conforming_strings = y;", 0, 1 },
		{ "SET standard_conforming_strings = 1;", 0, 1 },
		{ "SET standard_conforming_strings = +1;", 0, 1 },
		{ "SET standard_conforming_strings = DEFAULT;", 0, 1 },
		{ "SET standard_conforming_strings TO default;", 0, 1 },
		{ "RESET standard_conforming_strings;", 0, 1 },
		{ "RESET \"standard_conforming_strings\";", 0, 1 },
		{ "RESET ALL;", 0, 1 },
		{ "DISCARD ALL;", 0, 1 },
		{ "/* x */ reset all;", 0, 1 },
		/* refused by the server: nothing changes */
		{ "SET standard_conforming_strings = o;", 0, 0 },
		{ "SET standard_conforming_strings = 'on ';", 0, 0 },
		{ "SET standard_conforming_strings = on, off;", 0, 0 },
		{ "SET standard_conforming_strings = 2;", 0, 0 },
		{ "SET standard_conforming_strings = -1;", 0, 0 },
		{ "SET standard_conforming_strings = 1.0;", 0, 0 },
		{ "SET standard_conforming_strings = 'onx';", 0, 0 },
		{ "SET standard_conforming_strings = \"default\";", 0, 0 },
		{ "SET standard_conforming_strings = '';", 0, 0 },
		{ "SET standard_conforming_strings FROM CURRENT;", 0, 0 },
		{ "SET standard_conforming_strings_x = on;", 0, 0 },
		{ "RESET search_path;", 0, 0 },
		{ "DISCARD PLANS;", 0, 0 },
		{ "SELECT set_config('standard_conforming_strings', 'on', false);", 0, 0 },
	};
	char in[256];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(in, sizeof(in), "%s%s\n", v[i].from ? "" : off, v[i].sql);
		T_OK(std_after(in) == v[i].want, "standard_conforming_strings %s after: %s",
		     v[i].want ? "on" : "off", v[i].sql);
	}
	T_OK(std_after(off) == 0 && std_after("SELECT 1;") == 1,
	     "lexer_standard_strings starts on");
}

/* An event carries the setting it was read with, not the one it sets. */
static void
test_event_std(void)
{
	static const char in[] = "SET standard_conforming_strings = off;\nSELECT 1;\n";
	struct lexer lx;
	struct lexer_event ev;
	size_t used, off = 0;
	int stds[2], n = 0;

	lexer_init(&lx, 0);
	while (off < sizeof(in) - 1 && n < 2) {
		if (lexer_scan(&lx, in + off, sizeof(in) - 1 - off, &used, &ev) == LEXER_EVENT)
			stds[n++] = ev.std_strings;
		off += used;
	}
	lexer_free(&lx);
	T_OK(n == 2 && stds[0] == 1 && stds[1] == 0,
	     "events carry the setting they were read with");
}

/* Events carry byte offsets: check them on a small input. */
static void
test_offsets(void)
{
	static const char in[] = "-- x\nSELECT 1;\nCOPY t FROM stdin;\nab\n\\.\n";
	struct lexer lx;
	struct lexer_event ev;
	size_t used, off = 0;
	uint64_t offs[8];
	int n = 0, r;

	lexer_init(&lx, 0);
	while (off < sizeof(in) - 1) {
		r = lexer_scan(&lx, in + off, sizeof(in) - 1 - off, &used, &ev);
		off += used;
		if (r == LEXER_EVENT && n < 8)
			offs[n++] = ev.offset;
		if (r != LEXER_EVENT)
			break;
	}
	lexer_free(&lx);
	T_OK(n == 4 && offs[0] == 5 && offs[1] == 15 && offs[2] == 34 && offs[3] == 37,
	     "event byte offsets");
}

/* lexer_describe names what is open, for truncation reports. */
static void
test_describe(void)
{
	static const char in[] = "SELECT 1;\nCOPY public.events (a) FROM stdin;\n1\n";
	struct lexer lx;
	struct lexer_event ev;
	size_t used, off = 0;
	char what[200];

	lexer_init(&lx, 0);
	while (off < sizeof(in) - 1 &&
	       lexer_scan(&lx, in + off, sizeof(in) - 1 - off, &used, &ev) != LEXER_ERROR)
		off += used;
	lexer_describe(&lx, what, sizeof(what));
	T_OK(strstr(what, "inside COPY public.events") != NULL, "describe: %s", what);
	T_OK(lexer_in_copy(&lx), "in copy");
	lexer_free(&lx);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_offsets();
	test_describe();
	test_std_strings();
	test_event_std();
	T_DONE();
}
