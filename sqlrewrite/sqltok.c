/*
 * sqltok.c - tokens of one complete SQL statement (see sqltok.h).
 *
 * The statement was already delimited by the lexer, so every quote and
 * comment in it is closed; this walker only has to recognise token kinds,
 * with the same character classes and string rules as PostgreSQL's scan.l
 * (a continued string is one token; "--" ends at \n or \r).  Whitespace is
 * PostgreSQL 16's, with \v: on a 15 server a \v outside a string or comment
 * fails the whole statement, so reading it as a space changes no decision
 * about a statement that runs.  An unclosed construct (possible only on
 * text not produced by the lexer) runs to the end of the text.
 */
#include <stdint.h>
#include <string.h>

#include "sqltok.h"

static int
ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int
ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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

/* How a quoted run reads: bits of skip_quoted's mode. */
#define Q_BACKSLASH 1 /* backslash escapes (E'', or '' with std_strings off) */
#define Q_NODOUBLE 2  /* no '' doubling (B'', X'') */
#define Q_CONTINUE 4  /* a single-quoted string, that a gap may continue */

/*
 * p is just past a string's closing quote: if whitespace holding a newline
 * (and maybe "--" comments) and then a quote follow, return the position
 * after that quote (the string goes on there), else NULL.
 */
static const char *
continuation(const char *p, const char *end)
{
	int newline = 0;

	while (p < end) {
		if (*p == '\n' || *p == '\r') {
			newline = 1;
			p++;
		} else if (is_space((unsigned char)*p)) {
			p++;
		} else if (*p == '-' && p + 1 < end && p[1] == '-') {
			while (p < end && *p != '\n' && *p != '\r')
				p++;
		} else if (*p == '\'' && newline) {
			return p + 1;
		} else {
			return NULL;
		}
	}
	return NULL;
}

/* Skip a quoted run that opened just before p; return the byte after it. */
static const char *
skip_quoted(const char *p, const char *end, char q, int mode)
{
	const char *next;

	while (p < end) {
		if ((mode & Q_BACKSLASH) && *p == '\\') {
			p += (p + 1 < end) ? 2 : 1;
			continue;
		}
		if (*p == q) {
			if (!(mode & Q_NODOUBLE) && p + 1 < end && p[1] == q) {
				p += 2;
				continue;
			}
			if ((mode & Q_CONTINUE) && (next = continuation(p + 1, end)) != NULL) {
				p = next;
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
			while (p < end && *p != '\n' && *p != '\r')
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
		p = skip_quoted(p + 2, end, '\'', Q_BACKSLASH | Q_CONTINUE);
	} else if ((c == 'u' || c == 'U') && p + 2 < end && p[1] == '&' &&
	           (p[2] == '\'' || p[2] == '"')) {
		t->type = p[2] == '"' ? SQLTOK_QIDENT : SQLTOK_STRING;
		p = skip_quoted(p + 3, end, p[2], p[2] == '\'' ? Q_CONTINUE : 0);
	} else if (strchr("bBxX", c) != NULL && c != '\0' && p + 1 < end && p[1] == '\'') {
		t->type = SQLTOK_STRING;
		p = skip_quoted(p + 2, end, '\'', Q_NODOUBLE | Q_CONTINUE);
	} else if ((c == 'n' || c == 'N') && p + 1 < end && p[1] == '\'') {
		t->type = SQLTOK_STRING;
		p = skip_quoted(p + 2, end, '\'', Q_CONTINUE | (it->std_strings ? 0 : Q_BACKSLASH));
	} else if (ident_start(c)) {
		t->type = SQLTOK_WORD;
		while (p < end && ident_cont((unsigned char)*p))
			p++;
	} else if ((c >= '0' && c <= '9') ||
	           (c == '.' && p + 1 < end && p[1] >= '0' && p[1] <= '9')) {
		/* scan.l: ".5" is a number; "1e-5" is one token, "0x1e-5" not */
		int radix =
			c == '0' && p + 1 < end && strchr("xXoObB", p[1]) != NULL && p[1] != '\0';

		int letters = 0; /* '$' is junk only after a letter: 1$$x$$ is 1, $$x$$ */

		t->type = SQLTOK_NUMBER;
		p++;
		while (p < end) {
			if ((*p >= '0' && *p <= '9') || *p == '.')
				p++;
			else if (ident_start((unsigned char)*p)) {
				letters = 1;
				p++;
			} else if (*p == '$' && letters)
				p++;
			else if ((*p == '+' || *p == '-') && !radix &&
			         (p[-1] == 'e' || p[-1] == 'E') && p + 1 < end && p[1] >= '0' &&
			         p[1] <= '9')
				p++;
			else
				break;
		}
	} else if (c == '\'') {
		t->type = SQLTOK_STRING;
		p = skip_quoted(p + 1, end, '\'', Q_CONTINUE | (it->std_strings ? 0 : Q_BACKSLASH));
	} else if (c == '"') {
		t->type = SQLTOK_QIDENT;
		p = skip_quoted(p + 1, end, '"', 0);
	} else if (c == '$' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
		/* scan.l's param_junk: identifier characters glued on are part of it */
		t->type = SQLTOK_PARAM;
		p++;
		while (p < end && p[0] >= '0' && p[0] <= '9')
			p++;
		if (p < end && ident_start((unsigned char)*p))
			while (p < end && ident_cont((unsigned char)*p))
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
sqltok_leading_words(const char *s, size_t len, int std_strings, char words[][32], int max)
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

/* The logical bytes of a quoted token: '' undoubled, continuations joined. */
struct qread {
	const char *p, *end;
	int mode;
	char q;
};

/* The next byte inside the quotes, or -1 after the closing quote. */
static int
qread_next(struct qread *r)
{
	const char *next;

	while (r->p < r->end && *r->p == r->q) {
		if (!(r->mode & Q_NODOUBLE) && r->p + 1 < r->end && r->p[1] == r->q) {
			r->p += 2;
			return (unsigned char)r->q;
		}
		if (!(r->mode & Q_CONTINUE) || (next = continuation(r->p + 1, r->end)) == NULL) {
			r->p = r->end;
			return -1;
		}
		r->p = next;
	}
	return r->p < r->end ? (unsigned char)*r->p++ : -1;
}

/* The byte after a backslash, taken as it is (even a quote). */
static int
qread_raw(struct qread *r)
{
	return r->p < r->end ? (unsigned char)*r->p++ : -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read exactly n hex digits; -1 (and nothing consumed) if they are not there. */
static long
qread_hex(struct qread *r, int n)
{
	struct qread save = *r;
	long v = 0;
	int d;

	while (n-- > 0) {
		if ((d = hexval(qread_next(r))) < 0) {
			*r = save;
			return -1;
		}
		v = v * 16 + d;
	}
	return v;
}

struct vout {
	char *out;
	size_t size, n;
};

static void
vput(struct vout *o, int c)
{
	if (o->n + 1 < o->size)
		o->out[o->n] = (char)c;
	o->n++;
}

static void
vput_utf8(struct vout *o, long cp)
{
	if (cp < 0x80) {
		vput(o, (int)cp);
	} else if (cp < 0x800) {
		vput(o, (int)(0xc0 | (cp >> 6)));
		vput(o, (int)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		vput(o, (int)(0xe0 | (cp >> 12)));
		vput(o, (int)(0x80 | ((cp >> 6) & 0x3f)));
		vput(o, (int)(0x80 | (cp & 0x3f)));
	} else {
		vput(o, (int)(0xf0 | ((cp >> 18) & 0x07)));
		vput(o, (int)(0x80 | ((cp >> 12) & 0x3f)));
		vput(o, (int)(0x80 | ((cp >> 6) & 0x3f)));
		vput(o, (int)(0x80 | (cp & 0x3f)));
	}
}

/* After a backslash in an E'' string: scan.l's xeescape, xeoctesc, xehexesc, xeunicode. */
static void
escape(struct qread *r, struct vout *o)
{
	static const char from[] = "bfnrtv", to[] = "\b\f\n\r\t\v";
	int c = qread_raw(r), v, k, d;
	const char *m;
	long cp;

	if (c < 0) {
		vput(o, '\\');
		return;
	}
	if (c >= '0' && c <= '7') {
		v = c - '0';
		for (k = 0; k < 2 && r->p < r->end && *r->p >= '0' && *r->p <= '7'; k++)
			v = v * 8 + (*r->p++ - '0');
		vput(o, v & 0xff);
	} else if (c == 'x' && r->p < r->end && hexval((unsigned char)*r->p) >= 0) {
		v = hexval((unsigned char)*r->p++);
		if (r->p < r->end && (d = hexval((unsigned char)*r->p)) >= 0) {
			v = v * 16 + d;
			r->p++;
		}
		vput(o, v);
	} else if ((c == 'u' || c == 'U') && (cp = qread_hex(r, c == 'u' ? 4 : 8)) >= 0) {
		vput_utf8(o, cp);
	} else if (c != '\0' && (m = strchr(from, c)) != NULL) {
		vput(o, to[m - from]);
	} else {
		vput(o, c);
	}
}

size_t
sqltok_value(const struct sqltok *t, int std_strings, char uescape, char *out, size_t size)
{
	struct vout o = { out, size, 0 };
	struct qread r;
	const char *p = t->p, *end = t->p + t->len;
	int unicode = 0, c;
	long cp;
	size_t dl;

	r.end = end;
	r.mode = 0;
	r.q = '\'';
	if (t->type == SQLTOK_WORD) {
		for (; p < end; p++)
			vput(&o, lower((unsigned char)*p));
		goto done;
	}
	if (t->type == SQLTOK_STRING && p < end && *p == '$') {
		dl = dollar_delim(p, end);
		if (dl == 0 || t->len < 2 * dl)
			dl = 0;
		for (p += dl; p < end - dl; p++)
			vput(&o, (unsigned char)*p);
		goto done;
	}
	if (t->type != SQLTOK_STRING && t->type != SQLTOK_QIDENT) {
		for (; p < end; p++)
			vput(&o, (unsigned char)*p);
		goto done;
	}
	c = p < end ? (unsigned char)*p : 0;
	if (c == 'u' || c == 'U') {
		unicode = 1;
		p += 2;
	} else if (c == 'e' || c == 'E') {
		r.mode = Q_BACKSLASH;
		p++;
	} else if (c == 'b' || c == 'B' || c == 'x' || c == 'X') {
		r.mode = Q_NODOUBLE;
		p++;
	} else if (c == 'n' || c == 'N') {
		p++;
	}
	if (p < end && *p == '"') {
		r.q = '"';
	} else {
		r.mode |= Q_CONTINUE;
		if (!std_strings && (c == '\'' || c == 'n' || c == 'N'))
			r.mode |= Q_BACKSLASH;
	}
	r.p = p + 1;
	if (uescape == 0)
		uescape = '\\';
	while ((c = qread_next(&r)) >= 0) {
		if ((r.mode & Q_BACKSLASH) && c == '\\') {
			escape(&r, &o);
		} else if (unicode && c == (unsigned char)uescape) {
			struct qread save = r;
			int n = qread_next(&r);

			if (n == (unsigned char)uescape) {
				vput(&o, n);
			} else if (n == '+' && (cp = qread_hex(&r, 6)) >= 0) {
				vput_utf8(&o, cp);
			} else {
				r = save;
				if ((cp = qread_hex(&r, 4)) >= 0)
					vput_utf8(&o, cp);
				else
					vput(&o, c);
			}
		} else {
			vput(&o, c);
		}
	}
done:
	if (size > 0)
		out[o.n < size ? o.n : size - 1] = '\0';
	return o.n;
}
