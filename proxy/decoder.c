/*
 * decoder.c - plain or gzip input (see decoder.h).
 *
 * zlib does the work: inflateInit2 with 16+MAX_WBITS reads one gzip member;
 * at Z_STREAM_END, inflateReset starts the next member if more input comes.
 * Only the bookkeeping (sniffing, member boundaries, error text) is ours.
 */
#include <stdio.h>
#include <string.h>

#include "decoder.h"

void
decoder_init(struct decoder *d)
{
	memset(d, 0, sizeof(*d));
}

void
decoder_free(struct decoder *d)
{
	if (d->z_live)
		inflateEnd(&d->z);
	d->z_live = 0;
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

/* Inflate from in into out; the sniffed bytes are already part of in. */
static int
run_gzip(struct decoder *d, const unsigned char *in, size_t inlen,
         size_t *used, unsigned char *out, size_t outcap, size_t *produced)
{
	int zr;

	d->z.next_in = (unsigned char *)in;
	d->z.avail_in = (uInt)(inlen > 0x40000000 ? 0x40000000 : inlen);
	d->z.next_out = out;
	d->z.avail_out = (uInt)(outcap > 0x40000000 ? 0x40000000 : outcap);
	while (d->z.avail_out > 0) {
		if (!d->in_member) {
			if (d->z.avail_in == 0)
				break;
			/* between members: a new one must start with the magic */
			if (d->z.next_in[0] != 0x1f) {
				*used = (size_t)(d->z.next_in - in);
				d->in_total += *used;
				return gz_fail(d, "bytes after the end of the gzip stream are not another gzip member");
			}
			if (inflateReset(&d->z) != Z_OK)
				return gz_fail(d, "inflateReset failed");
			d->in_member = 1;
		}
		zr = inflate(&d->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			d->in_member = 0;
			continue;
		}
		if (zr == Z_BUF_ERROR)
			break; /* no progress possible: needs input or room */
		if (zr != Z_OK) {
			*used = (size_t)(d->z.next_in - in);
			d->in_total += *used;
			return gz_fail(d, d->z.msg ? d->z.msg : "inflate failed");
		}
		if (d->z.avail_in == 0)
			break; /* all input taken, all output it gave is out */
	}
	*used = (size_t)(d->z.next_in - in);
	*produced = (size_t)(d->z.next_out - out);
	d->in_total += *used;
	d->out_total += *produced;
	return 0;
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
			if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)
				return gz_fail(d, "inflateInit2 failed");
			d->z_live = 1;
			d->in_member = 1;
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
