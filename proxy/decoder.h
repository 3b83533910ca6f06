/*
 * decoder.h - plain, gzip, zstd or lz4 input, told apart by its first bytes.
 *
 * A dump arrives as plain SQL or compressed: pg_dump | gzip, pg_dump | zstd,
 * pg_dump | lz4, or pg_dump -Fp -Z zstd|lz4 (pg_dump 16+).  The decoder
 * sniffs the magic once, from the first bytes (gzip 1f 8b; zstd frame
 * 28 b5 2f fd; lz4 frame 04 22 4d 18; anything else is plain), and decodes
 * streaming into the caller's output room (skippable frames before the
 * first zstd or lz4 frame, as pzstd writes, are passed over while sniffing):
 *   gzip: ISA-L's igzip (isal_inflate: header and CRC-32 checked), member
 *         after member (`cat a.gz b.gz`, pigz);
 *   zstd: libzstd's ZSTD_decompressStream, frame after frame, skippable
 *         frames (50 2a 4d 18 .. 5f 2a 4d 18) passed over, checksums checked;
 *   lz4:  liblz4's LZ4F_decompress, frame after frame, skippable frames
 *         passed over, block and content checksums checked when present.
 * A corrupt stream, or one that ends inside a member or frame, is an error
 * with its compressed offset.  Used by `filter` (stdio) and `serve`.
 */
#ifndef PGSLUICE_DECODER_H
#define PGSLUICE_DECODER_H

#include <stddef.h>
#include <stdint.h>

enum decoder_format {
	DECODER_UNKNOWN = 0, /* not enough bytes seen yet to tell */
	DECODER_PLAIN,
	DECODER_GZIP,
	DECODER_ZSTD,
	DECODER_LZ4,
};

#define DECODER_SNIFF_MAX 8 /* a skippable frame's header; the longest magic is 4 */

struct decoder {
	enum decoder_format kind;
	struct inflate_state *st; /* isal_inflate's state, allocated when gzip is seen */
	struct ZSTD_DCtx_s *zst;  /* libzstd's stream, when zstd is seen */
	struct LZ4F_dctx_s *lz;   /* liblz4's frame context, when lz4 is seen */
	int in_member;            /* inside a gzip member or zstd/lz4 frame (its end not seen) */
	int out_full;             /* the last run filled the output inside a member:
	                        * more may come without more input (decoder_pending) */
	unsigned char sniff[DECODER_SNIFF_MAX];
	size_t sniff_len;   /* bytes held while the format is unknown */
	size_t sniff_out;   /* plain: held bytes already handed out */
	uint64_t skip_left; /* bytes left of a skippable frame before the first data frame */
	int skipped;        /* the input started with skippable frames: zstd or lz4 follows */
	uint64_t in_total;  /* bytes consumed (compressed) */
	uint64_t out_total; /* bytes produced (plain) */
	char error[256];
};

void decoder_init(struct decoder *d);
void decoder_free(struct decoder *d);

/*
 * Decode in[0..inlen) into out[0..outcap).  *used and *produced say how much
 * of each was taken and filled.  Call again with the rest of the input (and
 * fresh output room) until *used == inlen and *produced < outcap.  Plain
 * input is copied through.  Returns 0, or -1 with decoder_error() set.
 */
int decoder_run(struct decoder *d, const void *in, size_t inlen, size_t *used, void *out,
                size_t outcap, size_t *produced);

/*
 * 1 when the last decoder_run filled its output inside a member or frame
 * (the decompressor may hold decodable input), or before the bytes held
 * for sniffing plain input were all handed out: call decoder_run again,
 * with no input if none is left, before deciding that the input is used up.
 */
int decoder_pending(const struct decoder *d);

/*
 * End of input.  Returns 0 if the input ended cleanly (plain, or between
 * gzip members / zstd or lz4 frames), -1 if it ended inside one (truncated)
 * or before its format could be told (under 2 bytes, or a prefix of a zstd
 * or lz4 magic).
 */
int decoder_finish(struct decoder *d);

/*
 * 1 when the input so far ends cleanly, as decoder_finish would find it:
 * plain, or between gzip members / zstd or lz4 frames (the last one's
 * checksum checked).  0 inside one, or while the format is still unknown.
 */
int decoder_clean_end(const struct decoder *d);

const char *decoder_error(const struct decoder *d);

/* "plain", "gzip", "zstd", "lz4" ("unknown" before the first bytes). */
const char *decoder_format_name(enum decoder_format f);

/* 1 for gzip, zstd and lz4 input. */
int decoder_compressed(const struct decoder *d);

#endif
