/*
 * sqltok.c - tokens of one complete SQL statement (see sqltok.h).
 *
 * The statement was already delimited by the lexer, so every quote and
 * comment in it is closed; this walker only has to recognise token kinds,
 * with the same character classes as PostgreSQL's scan.l.  An unclosed
 * construct (possible only on text not produced by the lexer) runs to the
 * end of the text.
 */
#include <string.h>

#include "sqltok.h"

static int
ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c >= 0x80;
}

static int
ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static int
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

void
sqltok_init(struct sqltok_iter *it, const char *s, size_t len, int std_strings)
{
	it->p = s;
	it->end = s + len;
	it->std_strings = std_strings;
	it->depth = 0;
}

/* Skip a quoted run that opened just before p; return the byte after it. */
static const char *
skip_quoted(const char *p, const char *end, char q, int backslashes)
{
	while (p < end) {
		if (backslashes && *p == '\\') {
			p += (p + 1 < end) ? 2 : 1;
			continue;
		}
		if (*p == q) {
			if (p + 1 < end && p[1] == q) {
				p += 2;
				continue;
			}
			return p + 1;
		}
		p++;
	}
	return end;
}

/* If p is at "$tag$", return the length of the delimiter, else 0. */
static size_t
dollar_delim(const char *p, const char *end)
{
	const char *q = p + 1;

	if (q < end && *q == '$')
		return 2;
	if (q >= end || !ident_start((unsigned char)*q))
		return 0;
	while (q < end && ident_cont((unsigned char)*q) && *q != '$')
		q++;
	if (q < end && *q == '$')
		return (size_t)(q - p) + 1;
	return 0;
}

static const char *
skip_comments_and_space(const char *p, const char *end)
{
	int depth;

	for (;;) {
		while (p < end && is_space((unsigned char)*p))
			p++;
		if (p + 1 < end && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (p + 1 < end && p[0] == '/' && p[1] == '*') {
			p += 2;
			depth = 1;
			while (p < end && depth > 0) {
				if (p + 1 < end && p[0] == '/' && p[1] == '*') {
					depth++;
					p += 2;
				} else if (p + 1 < end && p[0] == '*' && p[1] == '/') {
					depth--;
					p += 2;
				} else {
					p++;
				}
			}
			continue;
		}
		return p;
	}
}

enum sqltok_type
sqltok_next(struct sqltok_iter *it, struct sqltok *t)
{
	const char *p, *end = it->end;
	unsigned char c;
	size_t dl;

	p = skip_comments_and_space(it->p, end);
	t->p = p;
	t->depth = it->depth;
	if (p >= end) {
		t->type = SQLTOK_END;
		t->len = 0;
		it->p = p;
		return SQLTOK_END;
	}
	c = (unsigned char)*p;
	if ((c == 'e' || c == 'E') && p + 1 < end && p[1] == '\'') {
		t->type = SQLTOK_STRING;
		p = skip_quoted(p + 2, end, '\'', 1);
	} else if ((c == 'u' || c == 'U') && p + 2 < end && p[1] == '&' &&
	    (p[2] == '\'' || p[2] == '"')) {
		t->type = p[2] == '"' ? SQLTOK_QIDENT : SQLTOK_STRING;
		p = skip_quoted(p + 3, end, p[2], 0);
	} else if (strchr("bBxXnN", c) != NULL && c != '\0' && p + 1 < end &&
	    p[1] == '\'') {
		t->type = SQLTOK_STRING;
		p = skip_quoted(p + 2, end, '\'', 0);
	} else if (ident_start(c)) {
		t->type = SQLTOK_WORD;
		while (p < end && ident_cont((unsigned char)*p))
			p++;
	} else if ((c >= '0' && c <= '9') || (c == '.' && p + 1 < end &&
	    p[1] >= '0' && p[1] <= '9')) {
		/* scan.l: ".5" is a number; "1e-5" is one token, "0x1e-5" not */
		int radix = c == '0' && p + 1 < end &&
		    strchr("xXoObB", p[1]) != NULL && p[1] != '\0';

		t->type = SQLTOK_NUMBER;
		p++;
		while (p < end) {
			if (ident_cont((unsigned char)*p) || *p == '.')
				p++;
			else if ((*p == '+' || *p == '-') && !radix &&
			    (p[-1] == 'e' || p[-1] == 'E') && p + 1 < end &&
			    p[1] >= '0' && p[1] <= '9')
				p++;
			else
				break;
		}
	} else if (c == '\'') {
		t->type = SQLTOK_STRING;
		p = skip_quoted(p + 1, end, '\'', !it->std_strings);
	} else if (c == '"') {
		t->type = SQLTOK_QIDENT;
		p = skip_quoted(p + 1, end, '"', 0);
	} else if (c == '$' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
		t->type = SQLTOK_PARAM;
		p++;
		while (p < end && p[0] >= '0' && p[0] <= '9')
			p++;
	} else if (c == '$' && (dl = dollar_delim(p, end)) > 0) {
		const char *tag = p, *q = p + dl;

		t->type = SQLTOK_STRING;
		p = end;
		while (q + dl <= end) {
			const char *d = memchr(q, '$', (size_t)(end - q));
			if (d == NULL || d + dl > end)
				break;
			if (memcmp(d, tag, dl) == 0) {
				p = d + dl;
				break;
			}
			q = d + 1;
		}
	} else {
		t->type = SQLTOK_OP;
		if (c == '(')
			it->depth++;
		else if (c == ')' && it->depth > 0)
			it->depth--;
		p++;
	}
	t->len = (size_t)(p - t->p);
	it->p = p;
	return t->type;
}

int
sqltok_is(const struct sqltok *t, const char *kw)
{
	size_t i;

	if (t->type != SQLTOK_WORD)
		return 0;
	for (i = 0; i < t->len; i++)
		if (kw[i] == '\0' || lower((unsigned char)t->p[i]) != kw[i])
			return 0;
	return kw[i] == '\0';
}

size_t
sqltok_name(const struct sqltok *t, char *out, size_t size)
{
	const char *p = t->p, *end = t->p + t->len;
	size_t n = 0;
	char q = 0;

	switch (t->type) {
	case SQLTOK_QIDENT:
		if (p < end && *p != '"')
			p += 2; /* U& */
		q = '"';
		break;
	case SQLTOK_STRING:
		if (p < end && *p == '$')
			break; /* dollar quote: take it as is */
		if (p < end && *p != '\'')
			p += (p + 1 < end && p[1] == '&') ? 2 : 1; /* E B X N U& */
		q = '\'';
		break;
	default:
		break;
	}
	if (q != 0) {
		p++;
		if (end > p && end[-1] == q)
			end--;
	}
	for (; p < end; p++) {
		char c = *p;
		if (q != 0 && c == q && p + 1 < end && p[1] == q)
			p++;
		else if (t->type == SQLTOK_WORD)
			c = (char)lower((unsigned char)c);
		if (n + 1 < size)
			out[n] = c;
		n++;
	}
	if (size > 0)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

int
sqltok_leading_words(const char *s, size_t len, int std_strings,
                     char words[][32], int max)
{
	struct sqltok_iter it;
	struct sqltok t;
	int n = 0;

	sqltok_init(&it, s, len, std_strings);
	while (n < max && sqltok_next(&it, &t) == SQLTOK_WORD) {
		sqltok_name(&t, words[n], 32);
		n++;
	}
	return n;
}
