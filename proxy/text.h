/*
 * text.h - a string built piece by piece (SQL for the target, lists for
 * messages), the one growable contiguous buffer, and the one excerpt of a
 * statement for messages.
 *
 * One helper for the modules that build text (preflight, verify), so that
 * none of them grows buffers by hand: the bytes go into a libevent evbuffer,
 * and an allocation failure anywhere makes text_take return NULL, so a
 * half-built statement is never sent.
 */
#ifndef PGSLUICE_TEXT_H
#define PGSLUICE_TEXT_H

#include <stddef.h>

struct evbuffer;

struct text {
	struct evbuffer *b; /* created on first use */
	int failed;
};

/* Append n bytes / a C string.  A zeroed struct text is ready to use. */
void text_add(struct text *t, const char *s, size_t n);
void text_cat(struct text *t, const char *s);

/*
 * The text as a malloc'd NUL-terminated string ("" if nothing was added),
 * or NULL if any append or this copy ran out of memory.  *t is emptied
 * either way (ready for reuse); the caller frees the string.
 */
char *text_take(struct text *t);

/*
 * A growable contiguous buffer of bytes, kept NUL-terminated, for what must
 * be handed on whole (a statement, a COPY batch, a protocol message).  A
 * zeroed struct textbuf is empty and ready to use.
 */
struct textbuf {
	char *p;
	size_t len, cap;
	int failed; /* an append ran out of memory (and left the buffer as it was) */
};

/* Append n bytes (p[len] stays '\0').  0, or -1 out of memory (failed set). */
int textbuf_add(struct textbuf *b, const void *p, size_t n);
/* Free what b holds; b is empty again. */
void textbuf_free(struct textbuf *b);

/*
 * An excerpt of s[0..len) for a message, on one line: at most max_chars
 * characters (UTF-8), each run of white space as one space, any other
 * control character as '?', and "..." when it is cut.  out is always
 * NUL-terminated; it holds at most size - 1 bytes (size >= 8).
 */
void text_excerpt(const char *s, size_t len, size_t max_chars, char *out, size_t size);

#endif
