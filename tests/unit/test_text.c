/*
 * test_text.c - the one excerpt of a statement for messages
 * (text_excerpt): one line, white space runs folded, control characters
 * shown as '?', cut at a character count (UTF-8) or at the room given,
 * never inside a character, "..." when cut.
 */
#include <string.h>

#include "t.h"
#include "text.h"

int
main(void)
{
	char out[64], big[1000];
	const char *s;
	size_t i;

	s = "CREATE TABLE t (\n\ta int,\r\n  b text\n);";
	text_excerpt(s, strlen(s), 200, out, sizeof(out));
	T_OK(strcmp(out, "CREATE TABLE t ( a int, b text );") == 0, "one line: %s", out);
	s = "SELECT '\x01\x7f';";
	text_excerpt(s, strlen(s), 200, out, sizeof(out));
	T_OK(strcmp(out, "SELECT '?\x7f';") == 0, "control characters become '?'");
	s = "SELECT 1234567890;";
	text_excerpt(s, strlen(s), 6, out, sizeof(out));
	T_OK(strcmp(out, "SELECT...") == 0, "cut at 6 characters, before a space: %s", out);
	text_excerpt(s, strlen(s), 7, out, sizeof(out));
	T_OK(strcmp(out, "SELECT ...") == 0, "cut at 7 characters, after it: %s", out);
	s = "SELECT '\xc3\xa9\xc3\xa9\xc3\xa9';";
	text_excerpt(s, strlen(s), 9, out, sizeof(out));
	T_OK(strcmp(out, "SELECT '\xc3\xa9...") == 0,
	     "a character counts once, whatever its bytes");
	for (i = 0; i < sizeof(big); i++)
		big[i] = 'x';
	text_excerpt(big, sizeof(big), 200, out, sizeof(out));
	T_OK(strlen(out) < sizeof(out) && strcmp(out + strlen(out) - 3, "...") == 0,
	     "cut at the room given (%zu bytes)", strlen(out));
	text_excerpt("", 0, 200, out, sizeof(out));
	T_OK(out[0] == '\0', "nothing gives nothing");

	/* textbuf: contiguous, NUL-terminated, grown as needed, emptied by free */
	{
		struct textbuf b = { 0 };
		size_t n = 0;
		int bad = 0;

		T_OK(textbuf_add(&b, "", 0) == 0 && b.p != NULL && b.p[0] == '\0' && b.len == 0,
		     "textbuf: an empty append leaves an empty C string");
		for (i = 0; i < 10000; i++) {
			bad |= textbuf_add(&b, "abc", 3);
			n += 3;
		}
		T_OK(bad == 0 && b.len == n && b.cap > n && b.p[n] == '\0' && !b.failed,
		     "textbuf: 10000 appends grow it to %zu bytes, NUL-terminated", b.len);
		T_OK(memcmp(b.p + n - 6, "abcabc", 6) == 0 && memcmp(b.p, "abcabc", 6) == 0,
		     "textbuf: every byte kept in order");
		b.len = 0;
		T_OK(textbuf_add(&b, big, 10) == 0 && b.len == 10 && b.p[10] == '\0',
		     "textbuf: reused from length 0");
		textbuf_free(&b);
		T_OK(b.p == NULL && b.len == 0 && b.cap == 0, "textbuf: free empties it");
	}
	T_DONE();
}
