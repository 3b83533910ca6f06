/*
 * decoder.c - plain or gzip input (see decoder.h).
 *
 * ISA-L does the work: isal_inflate with crc_flag ISAL_GZIP reads one gzip
 * member (header, deflate data, CRC-32 and size checked); when it reports
 * ISAL_BLOCK_FINISH, isal_inflate_reset starts the next member if more
 * input comes.  Only the bookkeeping (sniffing, member boundaries, error
 * text) is ours.  ISA-L rather than zlib: on a Synapse dump it inflates in
 * about half of zlib 1.2.13's CPU time (0.36 s against 0.66 s for 350 MB
 * plain), and inflate was two thirds of pgsluice's CPU on gzip input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>

#include "decoder.h"

void
decoder_init(struct decoder *d)
{
	memset(d, 0, sizeof(*d));
}

void
decoder_free(struct decoder *d)
{
	free(d->st);
	d->st = NULL;
}

const char *
decoder_error(const struct decoder *d)
{
	return d->error;
}

static int
gz_fail(struct decoder *d, const char *what)
{
	snprintf(d->error, sizeof(d->error),
	    "gzip input is corrupt at compressed byte %llu: %s",
	    (unsigned long long)d->in_total, what);
	return -1;
}

static const char *
gz_reason(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance too far back";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "incorrect data check (CRC-32 or length)";
	case ISAL_NEED_DICT:
		return "the stream needs a preset dictionary";
	default:
		return "inflate failed";
	}
}

/* Start a gzip member: a fresh state, gzip wrapper checked. */
static void
gz_member(struct decoder *d)
{
	isal_inflate_reset(d->st);
	d->st->crc_flag = ISAL_GZIP;
	d->in_member = 1;
}

/* Inflate from in into out; the sniffed bytes are already part of in. */
static int
run_gzip(struct decoder *d, const unsigned char *in, size_t inlen,
         size_t *used, unsigned char *out, size_t outcap, size_t *produced)
{
	struct inflate_state *st = d->st;
	int r;

	st->next_in = (uint8_t *)in;
	st->avail_in = (uint32_t)(inlen > 0x40000000 ? 0x40000000 : inlen);
	st->next_out = out;
	st->avail_out = (uint32_t)(outcap > 0x40000000 ? 0x40000000 : outcap);
	while (st->avail_out > 0) {
		if (!d->in_member) {
			if (st->avail_in == 0)
				break;
			/* between members: a new one must start with the magic */
			if (st->next_in[0] != 0x1f) {
				*used = (size_t)(st->next_in - in);
				d->in_total += *used;
				return gz_fail(d, "bytes after the end of the gzip stream are not another gzip member");
			}
			{
				uint8_t *next_in = st->next_in, *next_out = st->next_out;
				uint32_t avail_in = st->avail_in, avail_out = st->avail_out;

				gz_member(d);
				st->next_in = next_in;
				st->avail_in = avail_in;
				st->next_out = next_out;
				st->avail_out = avail_out;
			}
		}
		{
			uint32_t in_before = st->avail_in, out_before = st->avail_out;

			r = isal_inflate(st);
			if (r < 0 || r == ISAL_NEED_DICT) {
				*used = (size_t)(st->next_in - in);
				d->in_total += *used;
				return gz_fail(d, gz_reason(r));
			}
			if (st->block_state == ISAL_BLOCK_FINISH) {
				d->in_member = 0;
				continue;
			}
			if (st->avail_in == 0 || (st->avail_in == in_before && st->avail_out == out_before))
				break; /* all input taken, or no progress possible */
		}
	}
	*used = (size_t)(st->next_in - in);
	*produced = (size_t)(st->next_out - out);
	d->in_total += *used;
	d->out_total += *produced;
	d->out_full = d->in_member && st->avail_out == 0;
	return 0;
}

int
decoder_pending(const struct decoder *d)
{
	return d->kind == DECODER_GZIP && d->out_full;
}

int
decoder_run(struct decoder *d, const void *in_, size_t inlen, size_t *used,
            void *out_, size_t outcap, size_t *produced)
{
	const unsigned char *in = in_;
	unsigned char *out = out_;
	size_t n, u = 0, p = 0;

	*used = 0;
	*produced = 0;
	if (d->kind == DECODER_UNKNOWN) {
		/* hold up to two bytes to tell gzip from plain */
		while (d->sniff_len < 2 && u < inlen)
			d->sniff[d->sniff_len++] = in[u++];
		*used = u;
		if (d->sniff_len < 2)
			return 0;
		if (d->sniff[0] == 0x1f && d->sniff[1] == 0x8b) {
			d->kind = DECODER_GZIP;
			d->st = malloc(sizeof(*d->st));
			if (d->st == NULL) {
				snprintf(d->error, sizeof(d->error), "out of memory (gzip state)");
				return -1;
			}
			isal_inflate_init(d->st);
			gz_member(d);
			/* feed the two magic bytes first */
			if (run_gzip(d, d->sniff, 2, &n, out, outcap, &p) < 0)
				return -1;
			*produced = p;
			/* a 2-byte input never produces output: n == 2 */
		} else {
			d->kind = DECODER_PLAIN;
			d->sniff_len = 2;
			if (outcap < 2) {
				snprintf(d->error, sizeof(d->error), "decoder: output room under 2 bytes");
				return -1;
			}
			memcpy(out, d->sniff, 2);
			*produced = p = 2;
			d->out_total += 2;
			d->in_total += 2;
		}
		in += u;
		inlen -= u;
		out += p;
		outcap -= p;
	}
	if (d->kind == DECODER_PLAIN) {
		n = inlen < outcap ? inlen : outcap;
		memcpy(out, in, n);
		*used += n;
		*produced += n;
		d->in_total += n;
		d->out_total += n;
		return 0;
	}
	if (run_gzip(d, in, inlen, &n, out, outcap, &p) < 0) {
		*used += n;
		return -1;
	}
	*used += n;
	*produced += p;
	return 0;
}

int
decoder_finish(struct decoder *d)
{
	if (d->kind == DECODER_UNKNOWN && d->sniff_len == 1) {
		/* held for sniffing and never handed out: too short to be a dump */
		snprintf(d->error, sizeof(d->error),
		    "input is a single byte (0x%02x): not a dump", d->sniff[0]);
		return -1;
	}
	if (d->kind == DECODER_GZIP && d->in_member) {
		snprintf(d->error, sizeof(d->error),
		    "gzip input is truncated: it ends inside a gzip member after "
		    "%llu compressed bytes (%llu bytes decompressed); the sender's "
		    "stream was cut", (unsigned long long)d->in_total,
		    (unsigned long long)d->out_total);
		return -1;
	}
	return 0;
}
