/*
 * text.c - a string built piece by piece, in an evbuffer (text.h).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "text.h"

void
text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->b == NULL && (t->b = evbuffer_new()) == NULL) {
		t->failed = 1;
		return;
	}
	if (evbuffer_add(t->b, s, n) != 0)
		t->failed = 1;
}

void
text_cat(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

char *
text_take(struct text *t)
{
	size_t n = t->b ? evbuffer_get_length(t->b) : 0;
	char *p = NULL;

	if (!t->failed && (p = malloc(n + 1)) != NULL) {
		if (n > 0)
			evbuffer_remove(t->b, p, n);
		p[n] = '\0';
	}
	if (t->b != NULL)
		evbuffer_free(t->b);
	t->b = NULL;
	t->failed = 0;
	return p;
}

void
text_excerpt(const char *s, size_t len, size_t max_chars, char *out, size_t size)
{
	size_t i, o = 0, chars = 0;
	int space = 0;

	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			if (!space && o > 0) {
				if (chars >= max_chars)
					break;
				out[o++] = ' ';
				chars++;
			}
			space = 1;
			continue;
		}
		space = 0;
		if ((c & 0xC0) != 0x80) { /* a character starts here */
			if (chars >= max_chars)
				break;
			chars++;
		}
		out[o++] = c < 0x20 ? '?' : (char)c;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int
textbuf_add(struct textbuf *b, const void *p, size_t n)
{
	size_t cap;
	char *q;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (q == NULL) {
			b->failed = 1;
			return -1;
		}
		b->p = q;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void
textbuf_free(struct textbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
