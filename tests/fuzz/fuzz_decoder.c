/*
 * fuzz_decoder.c - libFuzzer target for proxy/decoder.c: any bytes, fed in
 * pieces and drained into output room of the sizes the first two bytes
 * choose, as the daemon does (again with no input while decoder_pending).
 * Properties, besides no crash or sanitizer report: every call makes
 * progress or stops the loop, produced never exceeds the room, a plain
 * input comes out byte for byte, and an error leaves a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"

#define FUZZ_OUT_MAX (4u << 20) /* stop a bomb after this much output */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[65536];
	struct decoder d;
	size_t chunk, room, off = 0, total = 0, used, produced, n;
	int failed = 0;

	if (size < 2)
		return 0;
	chunk = 1 + data[0] * 37u;
	room = 1 + (size_t)data[1] * 257u % sizeof(out);
	data += 2;
	size -= 2;
	decoder_init(&d);
	while ((off < size || decoder_pending(&d)) && total < FUZZ_OUT_MAX) {
		n = size - off < chunk ? size - off : chunk;
		if (decoder_run(&d, data + off, n, &used, out, room, &produced) < 0) {
			if (decoder_error(&d)[0] == '\0')
				abort(); /* an error without a message */
			failed = 1;
			break;
		}
		if (used > n || produced > room)
			abort();
		if (d.kind == DECODER_PLAIN && total + produced <= size &&
		    memcmp(out, data + total, produced) != 0)
			abort(); /* plain input must come out unchanged */
		if (used == 0 && produced == 0 && n > 0)
			abort(); /* no progress with input offered: the loop would spin */
		if (used == 0 && produced == 0 && n == 0)
			break;
		off += used;
		total += produced;
	}
	if (!failed && off == size && total < FUZZ_OUT_MAX && decoder_finish(&d) < 0 &&
	    decoder_error(&d)[0] == '\0')
		abort();
	decoder_free(&d);
	return 0;
}
