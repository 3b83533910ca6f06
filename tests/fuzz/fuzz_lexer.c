/*
 * fuzz_lexer.c - libFuzzer target for the lexer.
 *
 * Property: any chunking of the input gives the same events as the whole
 * buffer.  The first two bytes of the fuzz input seed the chunk sizes; the
 * rest is the dump text.  Also checks that LEXER_MORE consumes all input
 * and that no read goes past a chunk (each chunk is an exact-size heap
 * copy, under ASan).  A small statement cap is used on odd seeds so the
 * cap's error path is fuzzed too.
 */
#include <stdint.h>

#include "../unit/lexcollect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[64], ncuts = 0, pos = 0, len, cap;
	unsigned seed;
	char *whole, *chunked;
	const char *in;

	if (size < 2)
		return 0;
	seed = (unsigned)data[0] << 8 | data[1];
	in = (const char *)data + 2;
	len = size - 2;
	cap = (seed & 1) ? 64 + (seed % 512) : 0;
	while (ncuts < 64 && len > 0) {
		seed = seed * 1103515245u + 12345u;
		pos += 1 + (seed >> 16) % (len < 97 ? len : 97);
		if (pos >= len)
			break;
		cuts[ncuts++] = pos;
	}
	whole = lexcollect_run(in, len, NULL, 0, cap, 0);
	chunked = lexcollect_run(in, len, cuts, ncuts, cap, 0);
	if (strcmp(whole, chunked) != 0) {
		fprintf(stderr, "chunking changed the events\nwhole:\n%s\nchunked:\n%s\n",
		    whole, chunked);
		abort();
	}
	free(whole);
	free(chunked);
	return 0;
}
