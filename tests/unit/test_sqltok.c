/*
 * test_sqltok.c - the token walker over one statement (sqlrewrite/sqltok.c).
 *
 * Each case lists the tokens of a tricky statement as "T<depth>:text"
 * joined by '|', T one of W(ord) Q(uoted identifier) S(tring) N(umber)
 * P(arameter) O(perator).  Each input is copied into a buffer of its exact
 * size so that ASan catches a read past its end.
 */
#include <stdlib.h>

#include "sqltok.h"
#include "t.h"

struct tcase {
	const char *name;
	const char *in;
	int std;
	const char *want;
};

static const struct tcase cases[] = {
	{ "simple", "SELECT 1;", 1, "W0:SELECT|N0:1|O0:;" },
	{ "E'' with \\'", "E'a\\'b' x", 1, "S0:E'a\\'b'|W0:x" },
	{ "e'' lowercase with \\\\", "e'\\\\' y", 1, "S0:e'\\\\'|W0:y" },
	{ "'' with backslash, std on", "'a\\' x", 1, "S0:'a\\'|W0:x" },
	{ "'' with \\', std off", "'a\\'b' x", 0, "S0:'a\\'b'|W0:x" },
	{ "'' doubling", "'it''s' y", 1, "S0:'it''s'|W0:y" },
	{ "U&\"\"", "U&\"d\\0061t\"\"a\" z", 1, "Q0:U&\"d\\0061t\"\"a\"|W0:z" },
	{ "U&''", "u&'\\0041' z", 1, "S0:u&'\\0041'|W0:z" },
	{ "quoted ident", "\"a\"\"b;\" c", 1, "Q0:\"a\"\"b;\"|W0:c" },
	{ "B X N literals", "B'101' X'ff' N'abc'", 1, "S0:B'101'|S0:X'ff'|S0:N'abc'" },
	{ "word then string", "ex'x'", 1, "W0:ex|S0:'x'" },
	{ "dollar tag with nested $x$", "$tag$ a $x$ b; $x$ c $tag$ after", 1,
	  "S0:$tag$ a $x$ b; $x$ c $tag$|W0:after" },
	{ "$$ with $x$ inside", "$$ $x$ ' $$;", 1, "S0:$$ $x$ ' $$|O0:;" },
	{ "tag prefix is not the close", "$a$ $ab$ $a$", 1, "S0:$a$ $ab$ $a$" },
	{ "params", "$1 + $23", 1, "P0:$1|O0:+|P0:$23" },
	{ "identifier with $", "foo$x$ bar", 1, "W0:foo$x$|W0:bar" },
	{ "lone $", "$a", 1, "O0:$|W0:a" },
	{ "nested comments", "a /* x /* y; */ z */ b -- c;\n d", 1, "W0:a|W0:b|W0:d" },
	{ "numbers", "1.5e3 42 0x1F .5 1e-5 0x1e-5 1.", 1,
	  "N0:1.5e3|N0:42|N0:0x1F|N0:.5|N0:1e-5|N0:0x1e|O0:-|N0:5|N0:1." },
	{ "qualified name", "a.b", 1, "W0:a|O0:.|W0:b" },
	{ "depth", "f(a, (b)) c", 1, "W0:f|O0:(|W1:a|O1:,|O1:(|W2:b|O2:)|O1:)|W0:c" },
	{ "cast", "a::int", 1, "W0:a|O0::|O0::|W0:int" },
	{ "unterminated string runs to the end", "x 'abc", 1, "W0:x|S0:'abc" },
	{ "only comments", "-- x\n/* y */  ", 1, "" },
	{ "non-ASCII identifier", "caf\xc3\xa9 = 1", 1, "W0:caf\xc3\xa9|O0:=|N0:1" },
	{ "body with OWNER TO", "AS $$ALTER TABLE t OWNER TO y;$$;", 1,
	  "W0:AS|S0:$$ALTER TABLE t OWNER TO y;$$|O0:;" },
	{ "-- ends at CR", "a -- x\rb", 1, "W0:a|W0:b" },
	{ "E'' continued across a newline", "E'a'\n'b\\'c' x", 1, "S0:E'a'\n'b\\'c'|W0:x" },
	{ "continued across a -- comment", "E'a' -- c\r\n'b' x", 1, "S0:E'a' -- c\r\n'b'|W0:x" },
	{ "no continuation on one line", "E'a' 'b' x", 1, "S0:E'a'|S0:'b'|W0:x" },
	{ "no continuation across a block comment", "'a' /**/\n'b'", 1, "S0:'a'|S0:'b'" },
	{ "B'' has no doubling", "B'1''0'", 1, "S0:B'1'|S0:'0'" },
	{ "B'' continued, no backslashes", "B'1'\n'\\' x", 0, "S0:B'1'\n'\\'|W0:x" },
	{ "N'' continued with std off", "N'a'\n'\\'' x", 0, "S0:N'a'\n'\\''|W0:x" },
	{ "parameter with junk", "$1abc x", 1, "P0:$1abc|W0:x" },
	{ "number with junk", "1xbegin x", 1, "N0:1xbegin|W0:x" },
	{ "number then a dollar quote", "1$$;$$ 1e$x", 1, "N0:1|S0:$$;$$|N0:1e$x" },
};

static void
render(const char *in, int std, char *out, size_t size)
{
	struct sqltok_iter it;
	struct sqltok t;
	size_t len = strlen(in), n = 0;
	char *copy = malloc(len ? len : 1);

	memcpy(copy, in, len);
	out[0] = '\0';
	sqltok_init(&it, copy, len, std);
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		static const char types[] = "?WQSNPO";

		n += (size_t)snprintf(out + n, size - n, "%s%c%d:%.*s", n ? "|" : "", types[t.type],
		                      t.depth, (int)t.len, t.p);
		if (n >= size)
			break;
	}
	free(copy);
}

static void
test_name(void)
{
	struct sqltok_iter it;
	struct sqltok t;
	char out[64];
	const char *s = "SeLeCt \"A\"\"b\" 'it''s' U&\"x\" $q$body$q$";
	size_t n;

	sqltok_init(&it, s, strlen(s), 1);
	sqltok_next(&it, &t);
	sqltok_name(&t, out, sizeof(out));
	T_OK(strcmp(out, "select") == 0, "sqltok_name lowercases a word");
	T_OK(sqltok_is(&t, "select") && !sqltok_is(&t, "sel") && !sqltok_is(&t, "selects"),
	     "sqltok_is compares whole words");
	sqltok_next(&it, &t);
	sqltok_name(&t, out, sizeof(out));
	T_OK(strcmp(out, "A\"b") == 0, "sqltok_name undoubles a quoted identifier");
	T_OK(!sqltok_is(&t, "a\"b"), "sqltok_is never matches a quoted identifier");
	sqltok_next(&it, &t);
	sqltok_name(&t, out, sizeof(out));
	T_OK(strcmp(out, "it's") == 0, "sqltok_name gives a string's contents");
	sqltok_next(&it, &t);
	sqltok_name(&t, out, sizeof(out));
	T_OK(strcmp(out, "x") == 0, "sqltok_name drops U& of U&\"x\"");
	sqltok_next(&it, &t);
	sqltok_name(&t, out, sizeof(out));
	T_OK(strcmp(out, "$q$body$q$") == 0, "sqltok_name keeps a dollar quote whole");
	n = sqltok_name(&t, out, 4);
	T_OK(n == 10 && strcmp(out, "$q$") == 0,
	     "sqltok_name truncates and returns the full length");
}

/* sqltok_value decodes what the server decodes. */
static void
test_value(void)
{
	static const struct {
		const char *in;
		int std;
		char uescape;
		const char *want;
	} v[] = {
		{ "E'\\157ff'", 1, 0, "off" },
		{ "E'a\\'b\\\\c\\n\\x41\\u00e9'", 1, 0, "a'b\\c\nA\xc3\xa9" },
		{ "E'\\q\\x'", 1, 0, "qx" },
		{ "'o'\n'ff'", 1, 0, "off" },
		{ "'o' -- c\r'f''f'", 1, 0, "of'f" },
		{ "'a\\nb'", 1, 0, "a\\nb" },
		{ "'a\\nb'", 0, 0, "a\nb" },
		{ "U&'\\006Fff'", 1, 0, "off" },
		{ "U&'!006F\\!!f'", 1, '!', "o\\!f" },
		{ "U&'\\+00006F\\\\'", 1, 0, "o\\" },
		{ "u&\"d\\0061t\"\"a\"", 1, 0, "dat\"a" },
		{ "\"A\"\"b\"", 1, 0, "A\"b" },
		{ "B'1'\n'0'", 1, 0, "10" },
		{ "$q$ x $q$", 1, 0, " x " },
		{ "$$$$", 1, 0, "" },
		{ "SeLeCt", 1, 0, "select" },
	};
	struct sqltok_iter it;
	struct sqltok t;
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t len = strlen(v[i].in);
		char *copy = malloc(len);

		memcpy(copy, v[i].in, len);
		sqltok_init(&it, copy, len, v[i].std);
		sqltok_next(&it, &t);
		n = sqltok_value(&t, v[i].std, v[i].uescape, out, sizeof(out));
		T_OK(n == strlen(v[i].want) && strcmp(out, v[i].want) == 0,
		     "sqltok_value, case %zu", i);
		if (strcmp(out, v[i].want) != 0)
			printf("# got: %s\n", out);
		free(copy);
	}
	sqltok_init(&it, "E'abcdef'", 9, 1);
	sqltok_next(&it, &t);
	n = sqltok_value(&t, 1, 0, out, 4);
	T_OK(n == 6 && strcmp(out, "abc") == 0,
	     "sqltok_value truncates and returns the full length");
}

static void
test_leading_words(void)
{
	char w[8][32];
	const char *s = "CREATE /* x */ OR REPLACE\nFUNCTION public.f() AS 'x';";
	int n = sqltok_leading_words(s, strlen(s), 1, w, 8);

	T_OK(n == 5 && strcmp(w[0], "create") == 0 && strcmp(w[3], "function") == 0 &&
	             strcmp(w[4], "public") == 0,
	     "sqltok_leading_words stops at the first non-word");
	n = sqltok_leading_words(s, strlen(s), 1, w, 2);
	T_OK(n == 2 && strcmp(w[1], "or") == 0, "sqltok_leading_words honours max");
	s = "/* a */ -- b\r/* c */ COPY t FROM stdin;";
	n = sqltok_leading_words(s, strlen(s), 1, w, 8);
	T_OK(n == 4 && strcmp(w[0], "copy") == 0 && strcmp(w[3], "stdin") == 0,
	     "sqltok_leading_words starts after leading comments");
}

int
main(void)
{
	char got[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		render(cases[i].in, cases[i].std, got, sizeof(got));
		T_OK(strcmp(got, cases[i].want) == 0, "sqltok: %s%s%s%s", cases[i].name,
		     strcmp(got, cases[i].want) ? " got " : "",
		     strcmp(got, cases[i].want) ? got : "", "");
	}
	test_name();
	test_value();
	test_leading_words();
	T_DONE();
}
