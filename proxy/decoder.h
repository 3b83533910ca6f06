/*
 * decoder.h - plain or gzip input, told apart by the first two bytes.
 *
 * A dump arrives either as plain SQL or gzip-compressed (pg_dump | gzip).
 * The decoder sniffs the first two bytes (1f 8b = gzip) and, for gzip,
 * inflates with ISA-L's igzip (isal_inflate: the gzip header and CRC-32 are
 * checked), member after member (a concatenation of gzip streams, as
 * `cat a.gz b.gz` or pigz makes, is one input).  A corrupt stream, or one
 * that ends inside a member, is an error with its compressed offset.
 * Used by `filter` (stdio) and `serve` (evbuffers).
 */
#ifndef PGSLUICE_DECODER_H
#define PGSLUICE_DECODER_H

#include <stddef.h>
#include <stdint.h>

enum decoder_kind {
	DECODER_UNKNOWN = 0, /* fewer than two bytes seen yet */
	DECODER_PLAIN,
	DECODER_GZIP,
};

struct decoder {
	enum decoder_kind kind;
	struct inflate_state *st; /* isal_inflate's state, allocated when gzip is seen */
	int in_member;         /* inside a gzip member (its end not seen) */
	int out_full;          /* the last run filled the output inside a member:
	                        * more may come without more input (decoder_pending) */
	unsigned char sniff[2];
	size_t sniff_len;
	uint64_t in_total;     /* bytes consumed (compressed) */
	uint64_t out_total;    /* bytes produced (plain) */
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
int decoder_run(struct decoder *d, const void *in, size_t inlen, size_t *used,
                void *out, size_t outcap, size_t *produced);

/*
 * 1 when the last decoder_run filled its output inside a gzip member: the
 * inflater may hold decodable input (up to the member's end), so call
 * decoder_run again, with no input if none is left, before deciding that
 * the input is used up.
 */
int decoder_pending(const struct decoder *d);

/*
 * End of input.  Returns 0 if the input ended cleanly (plain, or gzip
 * between members), -1 if it ended inside a gzip member (truncated).
 */
int decoder_finish(struct decoder *d);

const char *decoder_error(const struct decoder *d);

#endif
