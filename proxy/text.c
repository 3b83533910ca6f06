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
