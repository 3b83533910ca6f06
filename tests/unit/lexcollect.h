/*
 * lexcollect.h - run the lexer over an input cut into chunks and write its
 * events as text, for tests (test_lexer.c) and the fuzz target.
 *
 * One line per event: "S<line> <text>" ("s<line> <text>" when psql would
 * cut the statement elsewhere), "M<line> <text>", "T<line>",
 * "E<line> <rows>", and "D <data>" for COPY data, where consecutive data
 * pieces are merged (how data is cut into pieces depends on the chunking;
 * the bytes do not).  An error ends the text with "!<message>".  Each chunk
 * is copied into a buffer of its exact size, so that ASan catches a read
 * past its end.
 */
#ifndef PGSLUICE_LEXCOLLECT_H
#define PGSLUICE_LEXCOLLECT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"

struct lexcollect {
	char *out;
	size_t len, cap;
	int in_data;
};

static void
lc_put(struct lexcollect *c, const char *s, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->out = realloc(c->out, c->cap);
		if (c->out == NULL)
			abort();
	}
	memcpy(c->out + c->len, s, n);
	c->len += n;
	c->out[c->len] = '\0';
}

static void
lc_event(struct lexcollect *c, const struct lexer_event *ev)
{
	char head[64];
	int n;

	if (ev->type != LEXER_COPY_DATA && c->in_data) {
		lc_put(c, "\n", 1);
		c->in_data = 0;
	}
	switch (ev->type) {
	case LEXER_COPY_DATA:
		if (!c->in_data)
			lc_put(c, "D ", 2);
		c->in_data = 1;
		lc_put(c, ev->data, ev->len);
		return;
	case LEXER_STATEMENT:
		n = snprintf(head, sizeof(head), "%c%llu ", ev->psql_cut_differs ? 's' : 'S',
		             (unsigned long long)ev->line);
		break;
	case LEXER_META:
		n = snprintf(head, sizeof(head), "M%llu ", (unsigned long long)ev->line);
		break;
	case LEXER_TRAILER:
		n = snprintf(head, sizeof(head), "T%llu\n", (unsigned long long)ev->line);
		lc_put(c, head, (size_t)n);
		return;
	case LEXER_COPY_END:
		n = snprintf(head, sizeof(head), "E%llu %llu\n", (unsigned long long)ev->line,
		             (unsigned long long)ev->rows);
		lc_put(c, head, (size_t)n);
		return;
	default:
		n = snprintf(head, sizeof(head), "?%d\n", (int)ev->type);
		lc_put(c, head, (size_t)n);
		return;
	}
	lc_put(c, head, (size_t)n);
	lc_put(c, ev->data, ev->len);
	lc_put(c, "\n", 1);
}

static void
lc_error(struct lexcollect *c, const struct lexer *lx)
{
	if (c->in_data) {
		lc_put(c, "\n", 1);
		c->in_data = 0;
	}
	lc_put(c, "!", 1);
	lc_put(c, lexer_error(lx), strlen(lexer_error(lx)));
	lc_put(c, "\n", 1);
}

/*
 * Lex in[0..len) in chunks: cuts[] holds ncuts increasing offsets where a
 * chunk ends (the last chunk ends at len), for a target server of that
 * server_version_num (0: the newest).  Returns the malloc'd text.
 */
static char *
lexcollect_run(const char *in, size_t len, const size_t *cuts, size_t ncuts, size_t max_statement,
               int server_version_num)
{
	struct lexcollect c = { NULL, 0, 0, 0 };
	struct lexer lx;
	struct lexer_event ev;
	size_t start = 0, k, used, n;
	char *chunk;
	const char *p;
	int r = LEXER_MORE;

	lc_put(&c, "", 0);
	lexer_init(&lx, max_statement);
	lx.server_version_num = server_version_num;
	for (k = 0; k <= ncuts && r != LEXER_ERROR; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		if (end < start || end > len)
			continue;
		n = end - start;
		chunk = malloc(n ? n : 1);
		if (chunk == NULL)
			abort();
		memcpy(chunk, in + start, n);
		p = chunk;
		while (n > 0) {
			r = lexer_scan(&lx, p, n, &used, &ev);
			if (used > n)
				abort();
			p += used;
			n -= used;
			if (r == LEXER_ERROR)
				break;
			if (r == LEXER_EVENT)
				lc_event(&c, &ev);
			else if (n != 0)
				abort(); /* LEXER_MORE must consume everything */
		}
		free(chunk);
		start = end;
	}
	if (r == LEXER_ERROR) {
		lc_error(&c, &lx);
	} else {
		while ((r = lexer_finish(&lx, &ev)) == LEXER_EVENT)
			lc_event(&c, &ev);
		if (r == LEXER_ERROR)
			lc_error(&c, &lx);
		else if (c.in_data)
			lc_put(&c, "\n", 1);
	}
	lexer_free(&lx);
	return c.out;
}

#endif
