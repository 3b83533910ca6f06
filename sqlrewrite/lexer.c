/*
 * lexer.c - incremental splitter for PostgreSQL plain-format dumps.
 *
 * The contract is in lexer.h.  Statements are cut where psql cuts them
 * (src/fe_utils/psqlscan.l, src/bin/psql/copy.c), and the tokens inside are
 * read as the server's scanner reads them (src/backend/parser/scan.l,
 * PostgreSQL 15 to 18):
 *
 *  - Whitespace and "--" comments before a statement are dropped; a block
 *    comment starts a statement (psql sends it).  Inside a statement every
 *    byte is kept.  A "--" comment ends at \n or \r.
 *  - A ';' ends a statement outside quotes, comments and dollar quotes, at
 *    parenthesis depth 0 and outside a BEGIN ATOMIC ... END body of a
 *    statement that starts CREATE [OR REPLACE] FUNCTION|PROCEDURE (inside
 *    the body CASE opens and END closes, except as a label after AS or '.').
 *  - Strings: '...' ('' doubles; backslash escapes when
 *    standard_conforming_strings is off), E'...' (backslash escapes),
 *    U&'...' (as '...'), B'' and X'' (no escapes, no doubling).  A string
 *    continues when whitespace holding a newline (and maybe "--" comments)
 *    and then a quote follow its closing quote; the continuation is read
 *    with the rules of the string's first part.  "...", U&"...",
 *    $tag$...$tag$ ($1 is a parameter; '$' inside an identifier is part of
 *    it).  Identifier characters glued to a number or a parameter are part
 *    of that (erroneous) token.
 *  - A '\' where a statement would start is a meta-command to end of line.
 *  - After "COPY ... FROM stdin;" the following lines are data up to a line
 *    that is exactly "\." (LF or CRLF).
 *
 * The scanner is one loop over the chunk with a switch on the state; a case
 * either consumes the byte (ADVANCE) or changes state and looks at the same
 * byte again.  Statement bytes are appended to lx->buf in runs, not per byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "sqltok.h"

#define TRAILER "-- PostgreSQL database dump complete"

/* The statement's first token (lx->first_kw). */
enum {
	FK_NONE,
	FK_OTHER,
	FK_COPY,
	FK_SET,
	FK_RESET,
	FK_DISCARD
};

/* What the token before this one was (lx->prev_tok). */
enum {
	PT_OTHER,
	PT_BEGIN,
	PT_LABEL
};

/* The kind of the open single-quoted string (lx->quote_kind). */
enum {
	QK_STD,
	QK_ESC,
	QK_BIT
};

/* scan.l's {space}: \v is one from PostgreSQL 16 on. */
static int
is_space(unsigned char c, int vt)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || (c == '\v' && vt);
}

static int
vt_is_space(const struct lexer *lx)
{
	return lx->server_version_num == 0 || lx->server_version_num >= 160000;
}

static int
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* dolq_cont: ident_cont without '$' */
static int
is_dolq_cont(unsigned char c)
{
	return is_ident_start(c) || is_digit(c);
}

static char
to_lower(unsigned char c)
{
	return (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
}

void
lexer_init(struct lexer *lx, size_t max_statement)
{
	memset(lx, 0, sizeof(*lx));
	lx->state = LX_START;
	lx->line = 1;
	lx->std_strings = 1;
	lx->max_statement = max_statement ? max_statement : LEXER_DEFAULT_MAX_STATEMENT;
}

void
lexer_free(struct lexer *lx)
{
	free(lx->buf);
	lx->buf = NULL;
	lx->len = lx->cap = 0;
}

void
lexer_trim(struct lexer *lx, size_t keep)
{
	if (lx->cap > keep)
		lexer_free(lx);
}

const char *
lexer_error(const struct lexer *lx)
{
	return lx->error;
}

int
lexer_standard_strings(const struct lexer *lx)
{
	return lx->std_strings;
}

int
lexer_in_copy(const struct lexer *lx)
{
	return lx->state == LX_COPY_EOL || lx->state == LX_COPY_EOL_DASH ||
	       lx->state == LX_COPY_EOL_COMMENT || lx->state == LX_COPY_BOL ||
	       lx->state == LX_COPY_DATA;
}

int
lexer_in_copy_data(const struct lexer *lx)
{
	return lx->state == LX_COPY_BOL || lx->state == LX_COPY_DATA;
}

int
lexer_between_statements(const struct lexer *lx)
{
	return lx->state == LX_START || lx->state == LX_START_DASH || lx->state == LX_START_COMMENT;
}

uint64_t
lexer_meta_len(const struct lexer *lx)
{
	return lx->state == LX_META ? lx->offset - lx->st_offset : 0;
}

static int fail(struct lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>

static int
fail(struct lexer *lx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lx->error, sizeof(lx->error), fmt, ap);
	va_end(ap);
	lx->state = LX_FAILED;
	return LEXER_ERROR;
}

static void
size_str(size_t n, char *out, size_t size)
{
	if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
		snprintf(out, size, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(out, size, "%zu KiB", n >> 10);
	else
		snprintf(out, size, "%zu bytes", n);
}

static int
cap_error(struct lexer *lx)
{
	char limit[32];

	size_str(lx->max_statement, limit, sizeof(limit));
	fail(lx,
	     "the statement that began at line %llu is larger than %s "
	     "(the --max-statement limit); raise the limit if the dump "
	     "really holds such a statement",
	     (unsigned long long)lx->st_line, limit);
	return -1;
}

/* Append s[0..n) to the statement; -1 (and the error set) past the cap. */
static int
append(struct lexer *lx, const char *s, size_t n)
{
	size_t need, cap;
	char *nb;

	if (n == 0)
		return 0;
	if (n > lx->max_statement - lx->len)
		return cap_error(lx);
	need = lx->len + n + 1;
	if (need > lx->cap) {
		cap = lx->cap ? lx->cap : 4096;
		while (cap < need)
			cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
		if (cap > lx->max_statement + 1 && need <= lx->max_statement + 1)
			cap = lx->max_statement + 1; /* never hold more than the cap */
		nb = realloc(lx->buf, cap);
		if (nb == NULL) {
			fail(lx,
			     "out of memory holding the statement that began "
			     "at line %llu (%zu bytes)",
			     (unsigned long long)lx->st_line, lx->len + n);
			return -1;
		}
		lx->buf = nb;
		lx->cap = cap;
	}
	memcpy(lx->buf + lx->len, s, n);
	lx->len += n;
	lx->buf[lx->len] = '\0';
	return 0;
}

static int
word_is(const struct lexer *lx, const char *kw)
{
	size_t n = strlen(kw);

	return lx->word_len == n && n <= sizeof(lx->word) && memcmp(lx->word, kw, n) == 0;
}

/* A token that is not an identifier starts at c. */
static void
other_token(struct lexer *lx, unsigned char c)
{
	if (lx->first_kw == FK_NONE)
		lx->first_kw = FK_OTHER;
	lx->prev_tok = c == '.' ? PT_LABEL : PT_OTHER;
}

/*
 * An identifier or keyword ended: note the statement's first word, and
 * follow BEGIN ATOMIC bodies.  The statement is a routine's when its first
 * identifiers are CREATE [OR REPLACE] FUNCTION|PROCEDURE (psqlscan.l's
 * test); there, at parenthesis depth 0, the keyword pair BEGIN ATOMIC opens
 * the body, and inside it CASE opens and END closes, except right after AS
 * or '.' where either is a column label.
 */
static void
count_identifier(struct lexer *lx)
{
	const char *w = lx->word;
	size_t n = lx->word_len;
	int tracked, prev = lx->prev_tok;

	if (lx->first_kw == FK_NONE)
		lx->first_kw = word_is(lx, "copy")      ? FK_COPY
		               : word_is(lx, "set")     ? FK_SET
		               : word_is(lx, "reset")   ? FK_RESET
		               : word_is(lx, "discard") ? FK_DISCARD
		                                        : FK_OTHER;
	lx->prev_tok = PT_OTHER;
	if (lx->identifier_count == 0)
		memset(lx->identifiers, 0, sizeof(lx->identifiers));
	if (lx->identifier_count < sizeof(lx->identifiers)) {
		tracked = (n == 6 && memcmp(w, "create", 6) == 0) ||
		          (n == 8 && memcmp(w, "function", 8) == 0) ||
		          (n == 9 && memcmp(w, "procedure", 9) == 0) ||
		          (n == 2 && memcmp(w, "or", 2) == 0) ||
		          (n == 7 && memcmp(w, "replace", 7) == 0);
		if (tracked)
			lx->identifiers[lx->identifier_count] = w[0];
		lx->identifier_count++;
	}

	if (lx->identifiers[0] == 'c' &&
	    (lx->identifiers[1] == 'f' || lx->identifiers[1] == 'p' ||
	     (lx->identifiers[1] == 'o' && lx->identifiers[2] == 'r' &&
	      (lx->identifiers[3] == 'f' || lx->identifiers[3] == 'p'))) &&
	    lx->paren_depth == 0) {
		/*
		 * psql's count (psqlscan.l): every BEGIN, not only BEGIN ATOMIC, and
		 * CASE and END inside one, labels or not; see the ';' in LX_NORMAL
		 */
		if (word_is(lx, "begin"))
			lx->psql_depth++;
		else if (word_is(lx, "case") && lx->psql_depth > 0)
			lx->psql_depth++;
		else if (word_is(lx, "end") && lx->psql_depth > 0)
			lx->psql_depth--;
		if (lx->begin_depth == 0) {
			if (prev == PT_BEGIN && word_is(lx, "atomic"))
				lx->begin_depth = 1;
			else if (word_is(lx, "begin"))
				lx->prev_tok = PT_BEGIN;
		} else if (prev == PT_LABEL) {
			if (word_is(lx, "case") || word_is(lx, "end"))
				lx->psql_differs = 1;
		} else if (word_is(lx, "case")) {
			lx->begin_depth++;
		} else if (word_is(lx, "end")) {
			lx->begin_depth--;
		} else if (word_is(lx, "as")) {
			lx->prev_tok = PT_LABEL;
		}
	}
}

/* A single-quoted string of that kind opens (or goes on after '' or a gap). */
static void
open_quote(struct lexer *lx, int kind)
{
	static const enum lexer_state states[] = { LX_SQUOTE, LX_EQUOTE, LX_BQUOTE };

	if (lx->state != LX_SQUOTE_END && lx->state != LX_QGAP)
		lx->open_line = lx->line;
	lx->quote_kind = kind;
	lx->state = states[kind];
}

static void
word_add(struct lexer *lx, unsigned char c)
{
	if (lx->word_len < sizeof(lx->word))
		lx->word[lx->word_len] = to_lower(c);
	lx->word_len++;
}

/*
 * parse_bool_with_len (src/backend/utils/adt/bool.c): 1 true, 0 false, -1
 * not a boolean.  Unique prefixes of true/false/yes/no, "on", "of[f]", "1",
 * "0", ASCII case-insensitive, nothing else (no surrounding spaces).
 */
static int
parse_bool(const char *v, size_t n)
{
	static const struct {
		const char *word;
		size_t min;
		int value;
	} words[] = {
		{ "true", 1, 1 }, { "false", 1, 0 }, { "yes", 1, 1 }, { "no", 1, 0 },
		{ "on", 2, 1 },   { "off", 2, 0 },   { "1", 1, 1 },   { "0", 1, 0 },
	};
	size_t k, j;

	for (k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
		if (n < words[k].min || n > strlen(words[k].word))
			continue;
		for (j = 0; j < n && to_lower((unsigned char)v[j]) == words[k].word[j]; j++)
			;
		if (j == n)
			return words[k].value;
	}
	return -1;
}

/*
 * The value token *t of a SET (and a UESCAPE clause after it): 1, 0, or -1
 * when the server would refuse it.  minus: an integer had a '-' before it.
 */
static int
set_value(struct sqltok_iter *it, struct sqltok *t, int std, int minus)
{
	struct sqltok n, e;
	char v[16], esc[4];
	size_t len;
	char uescape = 0;

	if (t->type == SQLTOK_NUMBER) {
		/* an integer constant reaches the setting as its decimal value */
		const char *p = t->p, *end = t->p + t->len;
		int value = 0;

		for (; p < end && is_digit((unsigned char)*p); p++)
			if (value < 10)
				value = value * 10 + (*p - '0');
		if (p != end || value > 1 || (minus && value != 0))
			return -1;
		sqltok_next(it, &n);
		return n.type == SQLTOK_END || (n.type == SQLTOK_OP && *n.p == ';') ? value : -1;
	}
	if (minus)
		return -1;
	if (t->type != SQLTOK_WORD && t->type != SQLTOK_STRING && t->type != SQLTOK_QIDENT)
		return -1;
	sqltok_next(it, &n);
	if (sqltok_is(&n, "uescape")) {
		if (sqltok_next(it, &e) != SQLTOK_STRING ||
		    sqltok_value(&e, std, 0, esc, sizeof(esc)) != 1)
			return -1;
		uescape = esc[0];
		sqltok_next(it, &n);
	}
	if (n.type != SQLTOK_END && !(n.type == SQLTOK_OP && *n.p == ';'))
		return -1; /* a list: the server refuses it for a boolean */
	len = sqltok_value(t, std, uescape, v, sizeof(v));
	if (len >= sizeof(v))
		return -1;
	if (t->type == SQLTOK_WORD && strcmp(v, "default") == 0)
		return 1;
	return parse_bool(v, len);
}

/* A name token equal to standard_conforming_strings (GUC names ignore case)? */
static int
is_scs_name(const struct sqltok *t, int std)
{
	char v[40];
	size_t n;

	if (t->type != SQLTOK_WORD && t->type != SQLTOK_QIDENT)
		return 0;
	n = sqltok_value(t, std, 0, v, sizeof(v));
	if (n != sizeof("standard_conforming_strings") - 1)
		return 0;
	for (char *q = v; *q; q++)
		*q = to_lower((unsigned char)*q);
	return strcmp(v, "standard_conforming_strings") == 0;
}

/*
 * A SET, RESET or DISCARD statement: follow standard_conforming_strings as
 * the server would (gram.y's VariableSetStmt, VariableResetStmt,
 * DiscardStmt), whatever the spelling.
 */
static void
track_std_strings(struct lexer *lx, const char *s, size_t n)
{
	struct sqltok_iter it;
	struct sqltok t;
	int v, minus;

	sqltok_init(&it, s, n, lx->std_strings);
	sqltok_next(&it, &t);
	if (sqltok_is(&t, "discard")) {
		sqltok_next(&it, &t);
		if (sqltok_is(&t, "all"))
			lx->std_strings = 1;
		return;
	}
	if (sqltok_is(&t, "reset")) {
		sqltok_next(&it, &t);
		if (is_scs_name(&t, lx->std_strings) || sqltok_is(&t, "all"))
			lx->std_strings = 1;
		return;
	}
	if (!sqltok_is(&t, "set"))
		return;
	sqltok_next(&it, &t);
	if (sqltok_is(&t, "session") || sqltok_is(&t, "local"))
		sqltok_next(&it, &t);
	if (!is_scs_name(&t, lx->std_strings))
		return;
	sqltok_next(&it, &t);
	if (!(t.type == SQLTOK_OP && t.len == 1 && *t.p == '=') && !sqltok_is(&t, "to"))
		return;
	sqltok_next(&it, &t);
	minus = t.type == SQLTOK_OP && t.len == 1 && *t.p == '-';
	if (t.type == SQLTOK_OP && t.len == 1 && (*t.p == '+' || *t.p == '-')) {
		/* SignedIconst: +1 is 1, -0 is 0 */
		if (sqltok_next(&it, &t) != SQLTOK_NUMBER)
			return;
	}
	v = set_value(&it, &t, lx->std_strings, minus);
	if (v >= 0)
		lx->std_strings = v;
}

/* Is s a "COPY ... FROM STDIN" statement?  Then note its table name. */
static int
is_copy_from_stdin(struct lexer *lx, const char *s, size_t n)
{
	struct sqltok_iter it;
	struct sqltok t;
	size_t tl = 0, k;
	int from = 0, named = 0;

	sqltok_init(&it, s, n, lx->std_strings);
	if (sqltok_next(&it, &t) != SQLTOK_WORD || !sqltok_is(&t, "copy"))
		return 0;
	while (sqltok_next(&it, &t) != SQLTOK_END) {
		if (t.depth == 0 && from && sqltok_is(&t, "stdin"))
			break;
		from = t.depth == 0 && sqltok_is(&t, "from");
		if (from || sqltok_is(&t, "to") || (t.type == SQLTOK_OP && *t.p == '('))
			named = 1;
		if (!named) { /* the table name's tokens, e.g. public . "My T" */
			k = sizeof(lx->copy_table) - 1 - tl;
			k = t.len < k ? t.len : k;
			memcpy(lx->copy_table + tl, t.p, k);
			tl += k;
		}
	}
	lx->copy_table[tl] = '\0';
	return t.type != SQLTOK_END;
}

/* Start a statement whose first byte is at (line, offset). */
static void
begin_statement(struct lexer *lx, uint64_t line, uint64_t offset)
{
	lx->len = 0;
	lx->st_line = line;
	lx->st_offset = offset;
	lx->has_token = 0;
	lx->paren_depth = 0;
	lx->begin_depth = 0;
	lx->psql_depth = 0;
	lx->identifier_count = 0;
	lx->first_kw = FK_NONE;
	lx->prev_tok = PT_OTHER;
	lx->psql_differs = 0;
	lx->state = LX_NORMAL;
}

static void
fill(struct lexer_event *ev, enum lexer_event_type type, const char *data, size_t len,
     uint64_t line, uint64_t offset)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->data = data;
	ev->len = len;
	ev->line = line;
	ev->offset = offset;
}

/* The statement in lx->buf is complete: decide what follows it. */
static void
end_statement(struct lexer *lx, struct lexer_event *ev)
{
	fill(ev, LEXER_STATEMENT, lx->buf, lx->len, lx->st_line, lx->st_offset);
	ev->std_strings = lx->std_strings;
	ev->psql_cut_differs = lx->psql_differs;
	lx->state = LX_START;
	if (lx->first_kw == FK_COPY && is_copy_from_stdin(lx, lx->buf, lx->len)) {
		lx->state = LX_COPY_EOL;
		lx->copy_rows = 0;
		lx->held_len = 0;
	} else if (lx->first_kw == FK_SET || lx->first_kw == FK_RESET ||
	           lx->first_kw == FK_DISCARD) {
		track_std_strings(lx, lx->buf, lx->len);
	}
}

static int
is_trailer(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == sizeof(TRAILER) - 1 && memcmp(s, TRAILER, n) == 0;
}

/*
 * COPY data from p[i]: report the longest run of whole and partial lines
 * that cannot hold the "\." marker.  Called in LX_COPY_DATA/LX_COPY_BOL.
 */
static int
scan_copy(struct lexer *lx, const char *p, size_t len, size_t *ip, struct lexer_event *ev)
{
	size_t i = *ip, start = i;
	uint64_t start_line = lx->line, start_off = lx->offset + i;
	const char *nl;

	for (;;) {
		if (lx->state == LX_COPY_DATA) {
			nl = memchr(p + i, '\n', len - i);
			if (nl == NULL) {
				i = len;
				break;
			}
			i = (size_t)(nl - p) + 1;
			lx->line++;
			lx->copy_rows++;
			lx->state = LX_COPY_BOL;
		}
		/* LX_COPY_BOL with nothing held */
		if (i == len)
			break;
		if (p[i] != '\\') {
			lx->state = LX_COPY_DATA;
			continue;
		}
		/* a line starting with '\': is it the marker? */
		if (i + 1 < len && p[i + 1] != '.') {
			lx->state = LX_COPY_DATA;
			continue;
		}
		if (i + 2 < len && p[i + 2] != '\n' && p[i + 2] != '\r') {
			lx->state = LX_COPY_DATA;
			continue;
		}
		if (i + 3 < len && p[i + 2] == '\r' && p[i + 3] != '\n') {
			lx->state = LX_COPY_DATA;
			continue;
		}
		break; /* the marker, or the start of one cut by the chunk end */
	}
	*ip = i;
	if (i > start) {
		fill(ev, LEXER_COPY_DATA, p + start, i - start, start_line, start_off);
		return LEXER_EVENT;
	}
	return LEXER_MORE;
}

/*
 * At a COPY line start holding lx->held: take byte c.  Returns 1 when the
 * marker is complete, 0 to go on, -1 when the held bytes proved to be data
 * (c not consumed).
 */
static int
copy_marker_byte(struct lexer *lx, unsigned char c)
{
	switch (lx->held_len) {
	case 1: /* "\" */
		if (c != '.')
			return -1;
		break;
	case 2: /* "\." */
		if (c == '\n')
			return 1;
		if (c != '\r')
			return -1;
		break;
	default: /* "\.\r" */
		return c == '\n' ? 1 : -1;
	}
	lx->held[lx->held_len++] = (char)c;
	return 0;
}

int
lexer_scan(struct lexer *lx, const char *buf, size_t len, size_t *used, struct lexer_event *ev)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0, run = (size_t)-1;
	unsigned char c;
	int r = LEXER_MORE, m, vt = vt_is_space(lx);

#define ADVANCE()                   \
	do {                        \
		if (p[i] == '\n')   \
			lx->line++; \
		i++;                \
	} while (0)
#define FLUSH_RUN(upto)                                            \
	do {                                                       \
		if (run != (size_t)-1) {                           \
			if (append(lx, buf + run, (upto)-run) < 0) \
				goto error;                        \
			run = (size_t)-1;                          \
		}                                                  \
	} while (0)

	if (lx->state == LX_FAILED) {
		*used = 0;
		return LEXER_ERROR;
	}
	if (lx->state >= LX_META && lx->state < LX_COPY_EOL)
		run = 0;

	while (i < len) {
		/*
		 * The cap is checked here, between steps, so that where it trips
		 * does not depend on where the chunks end (append() would).
		 */
		if (run != (size_t)-1 && lx->offset + i - lx->st_offset > lx->max_statement) {
			cap_error(lx);
			goto error;
		}
		c = p[i];
		switch (lx->state) {
		case LX_START:
			if (is_space(c, vt)) {
				ADVANCE();
			} else if (c == '-') {
				lx->comment_line = lx->line;
				lx->comment_offset = lx->offset + i;
				lx->state = LX_START_DASH;
				ADVANCE();
			} else if (c == '\\') {
				begin_statement(lx, lx->line, lx->offset + i);
				lx->state = LX_META;
				run = i;
				ADVANCE();
			} else {
				begin_statement(lx, lx->line, lx->offset + i);
				run = i;
			}
			break;
		case LX_START_DASH:
			if (c == '-') {
				memcpy(lx->comment, "--", 2);
				lx->comment_len = 2;
				lx->state = LX_START_COMMENT;
				ADVANCE();
			} else {
				begin_statement(lx, lx->comment_line, lx->comment_offset);
				lx->has_token = 1;
				other_token(lx, '-');
				if (append(lx, "-", 1) < 0)
					goto error;
				run = i;
			}
			break;
		case LX_START_COMMENT:
			if (c == '\n' || c == '\r') {
				ADVANCE();
				lx->state = LX_START;
				if (lx->comment_len <= sizeof(lx->comment) &&
				    is_trailer(lx->comment, lx->comment_len)) {
					fill(ev, LEXER_TRAILER, lx->comment, lx->comment_len,
					     lx->comment_line, lx->comment_offset);
					r = LEXER_EVENT;
					goto out;
				}
			} else {
				if (lx->comment_len < sizeof(lx->comment))
					lx->comment[lx->comment_len] = (char)c;
				if (lx->comment_len <= sizeof(lx->comment))
					lx->comment_len++;
				i++;
			}
			break;
		case LX_META:
			if (c == '\n') {
				FLUSH_RUN(i);
				ADVANCE();
				if (lx->len > 0 && lx->buf[lx->len - 1] == '\r')
					lx->buf[--lx->len] = '\0';
				fill(ev, LEXER_META, lx->buf, lx->len, lx->st_line, lx->st_offset);
				ev->std_strings = lx->std_strings;
				lx->state = LX_START;
				r = LEXER_EVENT;
				goto out;
			}
			i++;
			break;
		case LX_NORMAL:
			if (is_space(c, vt)) {
				ADVANCE();
				break;
			}
			if (c == '-') {
				lx->state = LX_DASH;
				i++;
				break;
			}
			if (c == '/') {
				lx->state = LX_SLASH;
				i++;
				break;
			}
			lx->has_token = 1;
			if (is_ident_start(c)) {
				lx->state = LX_IDENT;
				lx->word_len = 0;
				word_add(lx, c);
				i++;
				break;
			}
			other_token(lx, c);
			if (is_digit(c)) {
				lx->state = LX_NUMBER;
				i++;
			} else if (c == '\'') {
				open_quote(lx, lx->std_strings ? QK_STD : QK_ESC);
				i++;
			} else if (c == '"') {
				lx->state = LX_DQUOTE;
				lx->open_line = lx->line;
				i++;
			} else if (c == '$') {
				lx->state = LX_DOLLAR;
				lx->tag_len = 0;
				lx->open_line = lx->line;
				i++;
			} else if (c == ';') {
				i++;
				/* psql ends the statement here iff its own count is 0 */
				if (lx->paren_depth == 0 &&
				    (lx->psql_depth == 0) != (lx->begin_depth == 0))
					lx->psql_differs = 1;
				if (lx->paren_depth == 0 && lx->begin_depth == 0) {
					FLUSH_RUN(i);
					end_statement(lx, ev);
					r = LEXER_EVENT;
					goto out;
				}
			} else if (c == '(') {
				lx->paren_depth++;
				i++;
			} else if (c == ')') {
				if (lx->paren_depth > 0)
					lx->paren_depth--;
				i++;
			} else if (c == '\\') {
				fail(lx,
				     "line %llu: a backslash outside quotes inside the "
				     "statement that began at line %llu; psql would run it as "
				     "a meta-command, which a dump never holds there",
				     (unsigned long long)lx->line, (unsigned long long)lx->st_line);
				goto error;
			} else {
				i++;
			}
			break;
		case LX_IDENT:
			if (is_ident_start(c) || is_digit(c) || c == '$') {
				word_add(lx, c);
				i++;
				break;
			}
			if (lx->word_len == 1 && c == '\'' && strchr("ebxn", lx->word[0]) != NULL) {
				char w = lx->word[0];
				other_token(lx, c);
				open_quote(lx, w == 'e'                 ? QK_ESC
				               : (w == 'b' || w == 'x') ? QK_BIT
				               : lx->std_strings        ? QK_STD
				                                        : QK_ESC);
				i++;
				break;
			} else if (lx->word_len == 1 && lx->word[0] == 'u' && c == '&') {
				lx->state = LX_UAMP;
				i++;
				break;
			}
			count_identifier(lx);
			lx->state = LX_NORMAL;
			break;
		case LX_UAMP:
			if (c == '\'' || c == '"') {
				other_token(lx, c);
				if (c == '\'')
					open_quote(lx, QK_STD);
				else
					lx->state = LX_DQUOTE;
				lx->open_line = lx->line;
				i++;
			} else {
				count_identifier(lx); /* "u", then '&' an operator */
				lx->state = LX_NORMAL;
			}
			break;
		/*
		 * Numbers and parameters: scan.l's {integer_junk}, {real_junk},
		 * {param_junk} etc. make identifier characters glued to them part of
		 * one token (that the server refuses), never a word of their own.
		 */
		case LX_NUMBER:
			if (is_digit(c) || c == '.') {
				i++;
			} else if (c == 'e' || c == 'E') {
				lx->state = LX_NUMBER_E;
				i++;
			} else if (is_ident_start(c)) {
				lx->state = LX_JUNK;
				i++;
			} else {
				lx->state = LX_NORMAL;
			}
			break;
		case LX_NUMBER_E:
			lx->word_len = 0;
			if (c == '+' || c == '-') {
				lx->state = LX_NUMBER_EXP;
				i++;
			} else if (is_digit(c)) {
				lx->state = LX_NUMBER_EXP;
			} else if (is_ident_start(c) || c == '$') {
				lx->state = LX_JUNK; /* "1e" and an identifier's rest */
			} else {
				lx->state = LX_NORMAL;
			}
			break;
		case LX_NUMBER_EXP:
			if (is_digit(c)) {
				lx->word_len = 1;
				i++;
			} else if (lx->word_len && is_ident_start(c)) {
				lx->state = LX_JUNK;
				i++;
			} else {
				lx->state = LX_NORMAL; /* "1e+" without digits: {realfail} */
			}
			break;
		case LX_PARAM:
			if (is_digit(c)) {
				i++;
			} else if (is_ident_start(c)) {
				lx->state = LX_JUNK;
				i++;
			} else {
				lx->state = LX_NORMAL;
			}
			break;
		case LX_JUNK:
			if (is_dolq_cont(c) || c == '$')
				i++;
			else
				lx->state = LX_NORMAL;
			break;
		case LX_DASH:
			if (c == '-') {
				lx->state = LX_LINE_COMMENT;
				i++;
			} else {
				lx->has_token = 1;
				other_token(lx, '-');
				lx->state = LX_NORMAL;
			}
			break;
		case LX_SLASH:
			if (c == '*') {
				lx->state = LX_BLOCK;
				lx->block_depth = 1;
				lx->open_line = lx->line;
				i++;
			} else {
				lx->has_token = 1;
				other_token(lx, '/');
				lx->state = LX_NORMAL;
			}
			break;
		case LX_LINE_COMMENT:
			/* scan.l's {comment}: to the next \n or \r */
			while (i < len && p[i] != '\n' && p[i] != '\r')
				i++;
			if (i < len)
				lx->state = LX_NORMAL;
			break;
		case LX_BLOCK:
			if (c == '*')
				lx->state = LX_BLOCK_STAR;
			else if (c == '/')
				lx->state = LX_BLOCK_SLASH;
			ADVANCE();
			break;
		case LX_BLOCK_STAR:
			if (c == '/') {
				lx->state = --lx->block_depth == 0 ? LX_NORMAL : LX_BLOCK;
				i++;
			} else if (c == '*') {
				i++;
			} else {
				lx->state = LX_BLOCK;
			}
			break;
		case LX_BLOCK_SLASH:
			if (c == '*') {
				lx->block_depth++;
				lx->state = LX_BLOCK;
				i++;
			} else if (c == '/') {
				i++;
			} else {
				lx->state = LX_BLOCK;
			}
			break;
		case LX_SQUOTE:
			while (i < len && p[i] != '\'')
				ADVANCE();
			if (i < len) {
				lx->state = LX_SQUOTE_END;
				i++;
			}
			break;
		case LX_SQUOTE_END:
			if (c == '\'') {
				open_quote(lx, lx->quote_kind); /* '' */
				i++;
			} else if (is_space(c, vt) || c == '-') {
				lx->state = LX_QGAP;
				lx->gap_newline = 0;
			} else {
				lx->state = LX_NORMAL; /* no gap: what LX_QGAP would say */
			}
			break;
		case LX_EQUOTE:
			while (i < len && p[i] != '\'' && p[i] != '\\')
				ADVANCE();
			if (i < len) {
				lx->state = p[i] == '\'' ? LX_SQUOTE_END : LX_EQUOTE_BS;
				i++;
			}
			break;
		case LX_EQUOTE_BS:
			lx->state = LX_EQUOTE;
			ADVANCE();
			break;
		case LX_BQUOTE:
			while (i < len && p[i] != '\'')
				ADVANCE();
			if (i < len) {
				lx->state = LX_QGAP;
				lx->gap_newline = 0;
				i++;
			}
			break;
		/*
		 * After a string's closing quote, scan.l's {quotecontinue}:
		 * whitespace and "--" comments holding a newline, then a quote,
		 * continue the same string.  Anything else: the string has ended,
		 * and what was read of the gap was whitespace and comments.
		 */
		case LX_QGAP:
			if (is_space(c, vt)) {
				if (c == '\n' || c == '\r')
					lx->gap_newline = 1;
				ADVANCE();
			} else if (c == '-') {
				lx->state = LX_QGAP_DASH;
				i++;
			} else if (c == '\'' && lx->gap_newline) {
				/* psql takes the quote for a new string, read by std_strings */
				if ((lx->quote_kind == QK_ESC) == lx->std_strings)
					lx->psql_differs = 1;
				open_quote(lx, lx->quote_kind);
				i++;
			} else {
				lx->state = LX_NORMAL;
			}
			break;
		case LX_QGAP_DASH:
			if (c == '-') {
				lx->state = LX_QGAP_COMMENT;
				i++;
			} else {
				lx->state = LX_DASH; /* a '-' operator: LX_DASH takes c */
			}
			break;
		case LX_QGAP_COMMENT:
			while (i < len && p[i] != '\n' && p[i] != '\r')
				i++;
			if (i < len)
				lx->state = LX_QGAP;
			break;
		case LX_DQUOTE:
			while (i < len && p[i] != '"')
				ADVANCE();
			if (i < len) {
				lx->state = LX_DQUOTE_END;
				i++;
			}
			break;
		case LX_DQUOTE_END:
			if (c == '"') {
				lx->state = LX_DQUOTE;
				i++;
			} else {
				lx->state = LX_NORMAL;
			}
			break;
		case LX_DOLLAR:
			if (lx->tag_len == 0 && is_digit(c)) {
				lx->state = LX_PARAM;
				i++;
			} else if (c == '$') {
				lx->tag[lx->tag_len] = '\0';
				lx->tag_match = 0;
				lx->state = LX_DOLLAR_BODY;
				i++;
			} else if (lx->tag_len == 0 ? is_ident_start(c) : is_dolq_cont(c)) {
				if (lx->tag_len == LEXER_MAX_DOLLAR_TAG) {
					fail(lx,
					     "line %llu: a dollar-quote tag longer than %d "
					     "bytes ($%.20s...)",
					     (unsigned long long)lx->line, LEXER_MAX_DOLLAR_TAG,
					     lx->tag);
					goto error;
				}
				lx->tag[lx->tag_len++] = (char)c;
				i++;
			} else if (lx->tag_len > 0) {
				/* "$word" without a closing '$': '$' then an identifier */
				size_t k;
				lx->word_len = 0;
				for (k = 0; k < lx->tag_len; k++)
					word_add(lx, (unsigned char)lx->tag[k]);
				lx->state = LX_IDENT;
			} else {
				lx->state = LX_NORMAL;
			}
			break;
		case LX_DOLLAR_BODY: {
			const char *d = memchr(p + i, '$', len - i);
			size_t stop = d ? (size_t)((const unsigned char *)d - p) : len;
			while (i < stop)
				ADVANCE();
			if (d != NULL) {
				lx->tag_match = 0;
				lx->state = LX_DOLLAR_CLOSE;
				i++;
			}
			break;
		}
		case LX_DOLLAR_CLOSE:
			if (lx->tag_match < lx->tag_len) {
				if (c == (unsigned char)lx->tag[lx->tag_match]) {
					lx->tag_match++;
					i++;
				} else if (c == '$') {
					lx->tag_match = 0;
					i++;
				} else {
					lx->state = LX_DOLLAR_BODY;
				}
			} else if (c == '$') {
				lx->state = LX_NORMAL;
				i++;
			} else {
				lx->state = LX_DOLLAR_BODY;
			}
			break;
		/*
		 * The rest of the COPY's line: psql reads it after the data, where
		 * whitespace and a "--" comment (to the newline, as psql reads it)
		 * are nothing; anything else would run after the data.
		 */
		case LX_COPY_EOL:
			if (c == '\n') {
				ADVANCE();
				lx->open_line = lx->line;
				lx->state = LX_COPY_BOL;
			} else if (is_space(c, vt)) {
				i++;
			} else if (c == '-') {
				lx->state = LX_COPY_EOL_DASH;
				i++;
			} else {
				goto copy_line_text;
			}
			break;
		case LX_COPY_EOL_DASH:
			if (c != '-')
				goto copy_line_text;
			lx->state = LX_COPY_EOL_COMMENT;
			i++;
			break;
		case LX_COPY_EOL_COMMENT:
			while (i < len && p[i] != '\n')
				i++;
			if (i < len)
				lx->state = LX_COPY_EOL;
			break;
		copy_line_text:
			fail(lx,
			     "line %llu: text after COPY ... FROM stdin on the "
			     "same line (only a -- comment may follow); COPY data must "
			     "start on the next line",
			     (unsigned long long)lx->line);
			goto error;
		case LX_COPY_BOL:
			if (lx->held_len > 0) {
				m = copy_marker_byte(lx, c);
				if (m == 1) {
					i++;
					fill(ev, LEXER_COPY_END, "", 0, lx->held_line,
					     lx->held_offset);
					ev->rows = lx->copy_rows;
					lx->line++;
					lx->held_len = 0;
					lx->state = LX_START;
					r = LEXER_EVENT;
					goto out;
				}
				if (m == 0) {
					i++;
					break;
				}
				/* what was held is data */
				fill(ev, LEXER_COPY_DATA, lx->held, lx->held_len, lx->held_line,
				     lx->held_offset);
				lx->held_len = 0;
				lx->state = LX_COPY_DATA;
				r = LEXER_EVENT;
				goto out;
			}
			/* FALLTHROUGH */
		case LX_COPY_DATA:
			if (scan_copy(lx, buf, len, &i, ev) == LEXER_EVENT) {
				r = LEXER_EVENT;
				goto out;
			}
			if (i < len) {
				/* at a line start that may be the marker */
				lx->held_line = lx->line;
				lx->held_offset = lx->offset + i;
				lx->held[0] = '\\';
				lx->held_len = 1;
				i++;
			}
			break;
		case LX_FAILED:
			goto error;
		}
	}
	FLUSH_RUN(i);
out:
	*used = i;
	lx->offset += i;
	return r;
error:
	*used = i;
	lx->offset += i;
	lx->state = LX_FAILED;
	return LEXER_ERROR;
#undef ADVANCE
#undef FLUSH_RUN
}

void
lexer_describe(const struct lexer *lx, char *buf, size_t size)
{
	unsigned long long st = (unsigned long long)lx->st_line;
	unsigned long long op = (unsigned long long)lx->open_line;

	switch (lx->state) {
	case LX_START:
	case LX_START_COMMENT:
		snprintf(buf, size, "between statements");
		break;
	case LX_META:
		snprintf(buf, size, "inside a meta-command that began at line %llu", st);
		break;
	case LX_BLOCK:
	case LX_BLOCK_STAR:
	case LX_BLOCK_SLASH:
		snprintf(buf, size,
		         "inside a /* comment */ that began at line %llu "
		         "(in the statement that began at line %llu)",
		         op, st);
		break;
	case LX_SQUOTE:
	case LX_EQUOTE:
	case LX_EQUOTE_BS:
	case LX_BQUOTE:
		snprintf(buf, size,
		         "inside a quoted string that began at line %llu "
		         "(in the statement that began at line %llu)",
		         op, st);
		break;
	case LX_DQUOTE:
		snprintf(buf, size,
		         "inside a quoted identifier that began at line %llu "
		         "(in the statement that began at line %llu)",
		         op, st);
		break;
	case LX_DOLLAR_BODY:
	case LX_DOLLAR_CLOSE:
		snprintf(buf, size,
		         "inside a dollar-quoted string ($%s$) that began "
		         "at line %llu (in the statement that began at line %llu)",
		         lx->tag, op, st);
		break;
	case LX_COPY_EOL:
	case LX_COPY_EOL_DASH:
	case LX_COPY_EOL_COMMENT:
	case LX_COPY_BOL:
	case LX_COPY_DATA:
		snprintf(buf, size,
		         "inside COPY %s (data began at line %llu, %llu "
		         "rows read, no \\. line)",
		         lx->copy_table, op, (unsigned long long)lx->copy_rows);
		break;
	case LX_FAILED:
		snprintf(buf, size, "after an error: %s", lx->error);
		break;
	default:
		snprintf(buf, size,
		         "inside the statement that began at line %llu "
		         "(no terminating semicolon)",
		         st);
		break;
	}
}

int
lexer_finish(struct lexer *lx, struct lexer_event *ev)
{
	char what[200];

	switch (lx->state) {
	case LX_START:
		return LEXER_MORE;
	case LX_START_COMMENT:
		lx->state = LX_START;
		if (lx->comment_len <= sizeof(lx->comment) &&
		    is_trailer(lx->comment, lx->comment_len)) {
			fill(ev, LEXER_TRAILER, lx->comment, lx->comment_len, lx->comment_line,
			     lx->comment_offset);
			return LEXER_EVENT;
		}
		return LEXER_MORE;
	case LX_META:
		if (lx->len > 0 && lx->buf[lx->len - 1] == '\r')
			lx->buf[--lx->len] = '\0';
		fill(ev, LEXER_META, lx->buf ? lx->buf : "", lx->len, lx->st_line, lx->st_offset);
		ev->std_strings = lx->std_strings;
		lx->state = LX_START;
		return LEXER_EVENT;
	case LX_NORMAL:
	case LX_LINE_COMMENT:
		if (!lx->has_token) {
			lx->state = LX_START; /* only comments: psql sends nothing useful */
			return LEXER_MORE;
		}
		break;
	case LX_COPY_BOL:
		if (lx->held_len >= 2) { /* "\." or "\.\r" at the very end */
			fill(ev, LEXER_COPY_END, "", 0, lx->held_line, lx->held_offset);
			ev->rows = lx->copy_rows;
			lx->held_len = 0;
			lx->state = LX_START;
			return LEXER_EVENT;
		}
		break;
	case LX_FAILED:
		return LEXER_ERROR;
	default:
		break;
	}
	lexer_describe(lx, what, sizeof(what));
	return fail(lx, "input ends %s", what);
}
