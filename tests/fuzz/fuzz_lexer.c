/*
 * fuzz_lexer.c - libFuzzer target for the lexer.
 *
 * Property: any chunking of the input gives the same events as the whole
 * buffer.  The first two bytes of the fuzz input seed the chunk sizes; the
 * rest is the dump text.  Also checks that LEXER_MORE consumes all input
 * and that no read goes past a chunk (each chunk is an exact-size heap
 * copy, under ASan).  A small statement cap is used on odd seeds so the
 * cap's error path is fuzzed too, and a PostgreSQL 15 target on seeds with
 * bit 1 set.  Every statement is then walked with sqltok, and every token
 * decoded with sqltok_value, and classified (classify.h), each statement
 * in a buffer of its exact size.
 */
#include <stdint.h>

#include "../unit/lexcollect.h"
#include "classify.h"
#include "sqltok.h"

/* sqltok and sqltok_value over every statement of in[0..len) */
static void
tokens(const char *in, size_t len, int server_version_num)
{
	struct lexer lx;
	struct lexer_event ev;
	struct sqltok_iter it;
	struct sqltok t;
	size_t off = 0, used;
	char out[64], *copy;
	int r;

	lexer_init(&lx, 0);
	lx.server_version_num = server_version_num;
	while (off < len) {
		r = lexer_scan(&lx, in + off, len - off, &used, &ev);
		off += used;
		if (r == LEXER_ERROR)
			break;
		if (r != LEXER_EVENT || ev.type != LEXER_STATEMENT)
			continue;
		copy = malloc(ev.len ? ev.len : 1);
		if (copy == NULL)
			abort();
		memcpy(copy, ev.data, ev.len);
		sqltok_init(&it, copy, ev.len, ev.std_strings);
		while (sqltok_next(&it, &t) != SQLTOK_END) {
			if (t.p < copy || t.p + t.len > copy + ev.len)
				abort();
			sqltok_value(&t, ev.std_strings, t.len > 1 ? t.p[1] : 0, out, sizeof(out));
		}
		(void)classify_kind(copy, ev.len, ev.std_strings);
		classify_tag(copy, ev.len, ev.std_strings, out, sizeof(out));
		(void)classify_reads_tables(copy, ev.len, ev.std_strings);
		(void)classify_large_objects(copy, ev.len, ev.std_strings);
		(void)classify_sets_lock_timeout(copy, ev.len, ev.std_strings);
		(void)classify_setup(copy, ev.len, ev.std_strings);
		free(copy);
	}
	lexer_free(&lx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[64], ncuts = 0, pos = 0, len, cap;
	unsigned seed;
	int version;
	char *whole, *chunked;
	const char *in;

	if (size < 2)
		return 0;
	seed = (unsigned)data[0] << 8 | data[1];
	in = (const char *)data + 2;
	len = size - 2;
	cap = (seed & 1) ? 64 + (seed % 512) : 0;
	version = (seed & 2) ? 150000 : 0;
	while (ncuts < 64 && len > 0) {
		seed = seed * 1103515245u + 12345u;
		pos += 1 + (seed >> 16) % (len < 97 ? len : 97);
		if (pos >= len)
			break;
		cuts[ncuts++] = pos;
	}
	whole = lexcollect_run(in, len, NULL, 0, cap, version);
	chunked = lexcollect_run(in, len, cuts, ncuts, cap, version);
	if (strcmp(whole, chunked) != 0) {
		fprintf(stderr, "chunking changed the events\nwhole:\n%s\nchunked:\n%s\n", whole,
		        chunked);
		abort();
	}
	free(whole);
	free(chunked);
	tokens(in, len, version);
	return 0;
}
