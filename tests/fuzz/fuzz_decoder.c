/*
 * fuzz_decoder.c - libFuzzer target for proxy/decoder.c: any bytes, fed in
 * pieces and drained into output room of the sizes the first two bytes
 * choose, as the daemon does (again with no input while decoder_pending).
 * The third byte picks the mode: mostly the bytes as they are (gzip, zstd,
 * lz4 or plain by their magic, or broken); else the rest compressed here
 * into two zstd, lz4 or gzip frames (split where the fourth byte says),
 * which must decode back to exactly the rest.
 * Properties, besides no crash or sanitizer report: every call makes
 * progress or stops the loop, produced never exceeds the room, the format
 * once told never changes, a plain input comes out byte for byte, a
 * compressed one made here comes out as it went in and ends cleanly, and
 * an error leaves a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <lz4frame.h>
#include <zstd.h>

#include "decoder.h"

#define FUZZ_OUT_MAX (4u << 20) /* stop a bomb after this much output */
#define FUZZ_IN_MAX (1u << 16)  /* compressed inputs made here: up to this */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char made[2 * FUZZ_IN_MAX + 4096];

/* One frame of src[0..len) in format f at dst; its length, 0 on failure. */
static size_t
compress_one(enum decoder_format f, const uint8_t *src, size_t len, unsigned char *dst, size_t cap)
{
	struct isal_zstream z;
	LZ4F_preferences_t prefs;
	size_t r;

	switch (f) {
	case DECODER_ZSTD:
		r = ZSTD_compress(dst, cap, src, len, 1);
		return ZSTD_isError(r) ? 0 : r;
	case DECODER_LZ4:
		memset(&prefs, 0, sizeof(prefs));
		prefs.frameInfo.blockSizeID = LZ4F_max64KB;
		prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
		prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
		r = LZ4F_compressFrame(dst, cap, src, len, &prefs);
		return LZ4F_isError(r) ? 0 : r;
	default:
		isal_deflate_init(&z);
		z.end_of_stream = 1;
		z.flush = NO_FLUSH;
		z.gzip_flag = IGZIP_GZIP;
		z.next_in = (uint8_t *)src;
		z.avail_in = (uint32_t)len;
		z.next_out = dst;
		z.avail_out = (uint32_t)cap;
		return isal_deflate_stateless(&z) == COMP_OK ? z.total_out : 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[65536];
	static const enum decoder_format modes[] = { DECODER_ZSTD, DECODER_LZ4, DECODER_GZIP };
	const uint8_t *orig = NULL, *in;
	struct decoder d;
	enum decoder_format known = DECODER_UNKNOWN, made_as = DECODER_UNKNOWN;
	size_t chunk, room, off = 0, total = 0, used, produced, n, origlen = 0, split, a, b;
	int failed = 0, mode;

	if (size < 4)
		return 0;
	chunk = 1 + data[0] * 37u;
	room = 1 + (size_t)data[1] * 257u % sizeof(out);
	mode = data[2] % 8;
	split = data[3];
	data += 4;
	size -= 4;
	in = data;
	if (mode >= 5) {
		if (size > FUZZ_IN_MAX)
			return 0;
		made_as = modes[mode - 5];
		orig = data;
		origlen = size;
		split = size == 0 ? 0 : split * size / 255;
		a = compress_one(made_as, data, split, made, sizeof(made));
		b = a == 0 ? 0
		           : compress_one(made_as, data + split, size - split, made + a,
		                          sizeof(made) - a);
		if (a == 0 || b == 0)
			abort(); /* the compressors take any input */
		in = made;
		size = a + b;
	}
	decoder_init(&d);
	while ((off < size || decoder_pending(&d)) && total < FUZZ_OUT_MAX) {
		n = size - off < chunk ? size - off : chunk;
		if (decoder_run(&d, in + off, n, &used, out, room, &produced) < 0) {
			if (decoder_error(&d)[0] == '\0')
				abort(); /* an error without a message */
			failed = 1;
			break;
		}
		if (used > n || produced > room)
			abort();
		if (known != DECODER_UNKNOWN && d.kind != known)
			abort(); /* the format is told once */
		known = d.kind;
		if (d.kind == DECODER_PLAIN && total + produced <= size &&
		    memcmp(out, in + total, produced) != 0)
			abort(); /* plain input must come out unchanged */
		if (orig != NULL &&
		    (total + produced > origlen || memcmp(out, orig + total, produced) != 0))
			abort(); /* what was compressed here must come back */
		if (used == 0 && produced == 0 && n > 0)
			abort(); /* no progress with input offered: the loop would spin */
		if (used == 0 && produced == 0 && n == 0)
			break;
		off += used;
		total += produced;
	}
	if (orig != NULL) {
		if (failed || total != origlen || d.kind != made_as || decoder_finish(&d) < 0)
			abort(); /* a stream made here decodes whole and ends cleanly */
	} else if (!failed && off == size && total < FUZZ_OUT_MAX && decoder_finish(&d) < 0 &&
	           decoder_error(&d)[0] == '\0') {
		abort();
	}
	decoder_free(&d);
	return 0;
}
