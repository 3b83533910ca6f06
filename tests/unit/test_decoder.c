/*
 * test_decoder.c - the input decoder (proxy/decoder.c): plain copied
 * through, gzip inflated member after member, at any split of the input
 * and any output room (down to one byte, which leaves input inside the
 * inflater: decoder_pending), and every broken gzip stream an error.
 * The gzip members are made here with ISA-L's deflate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>

#include "decoder.h"
#include "t.h"

#define PLAIN_LEN (300 * 1024)

static unsigned char plain[PLAIN_LEN];
static unsigned char gz[2 * PLAIN_LEN + 1024];
static unsigned char out[4 * PLAIN_LEN];

/* A dump-like text: COPY rows with some repetition, some noise. */
static void
make_plain(void)
{
	uint32_t x = 12345;
	size_t i = 0;

	while (i < PLAIN_LEN) {
		int n = snprintf((char *)plain + i, PLAIN_LEN - i, "%zu\t@user%u:example.org\t{\"k\": %u}\n",
		                 i, x % 1000, x);
		if (n < 0 || (size_t)n >= PLAIN_LEN - i)
			break;
		i += (size_t)n;
		x = x * 1103515245u + 12345u;
	}
	while (i < PLAIN_LEN)
		plain[i++] = '\n';
}

/* One gzip member of src into dst; its length. */
static size_t
make_gzip(const unsigned char *src, size_t len, unsigned char *dst, size_t cap)
{
	struct isal_zstream z;

	isal_deflate_init(&z);
	z.end_of_stream = 1;
	z.flush = NO_FLUSH;
	z.gzip_flag = IGZIP_GZIP;
	z.next_in = (uint8_t *)src;
	z.avail_in = (uint32_t)len;
	z.next_out = dst;
	z.avail_out = (uint32_t)cap;
	if (isal_deflate_stateless(&z) != COMP_OK)
		return 0;
	return z.total_out;
}

/*
 * Decode in[0..len) fed `chunk` bytes at a time into output room of `room`
 * bytes at a time, as the daemon does (again with no input while
 * decoder_pending).  Returns 0 and the output length, or -1 (the error in
 * err), having called decoder_finish at the end.
 */
static int
decode(const unsigned char *in, size_t len, size_t chunk, size_t room, size_t *outlen, char *err,
       size_t errsize)
{
	struct decoder d;
	size_t off = 0, o = 0, used, produced, n;
	int rc = 0;

	decoder_init(&d);
	err[0] = '\0';
	while (off < len || decoder_pending(&d)) {
		n = len - off < chunk ? len - off : chunk;
		if (o + room > sizeof(out)) {
			snprintf(err, errsize, "output larger than expected");
			rc = -1;
			break;
		}
		if (decoder_run(&d, in + off, n, &used, out + o, room, &produced) < 0) {
			snprintf(err, errsize, "%s", decoder_error(&d));
			rc = -1;
			break;
		}
		off += used;
		o += produced;
		if (used == 0 && produced == 0 && n > 0) {
			snprintf(err, errsize, "no progress at input byte %zu", off);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && decoder_finish(&d) < 0) {
		snprintf(err, errsize, "%s", decoder_error(&d));
		rc = -1;
	}
	decoder_free(&d);
	*outlen = o;
	return rc;
}

static int
same(size_t outlen, const unsigned char *want, size_t wantlen)
{
	return outlen == wantlen && memcmp(out, want, wantlen) == 0;
}

int
main(void)
{
	static unsigned char twice[2 * PLAIN_LEN];
	static const size_t chunks[] = { 1, 2, 7, 4096, 65536, SIZE_MAX };
	static const size_t rooms[] = { 1, 3, 8, 4096, 131072 };
	char err[300];
	size_t gzlen, gzlen2, outlen, i, k;
	int r;

	make_plain();
	gzlen = make_gzip(plain, PLAIN_LEN, gz, sizeof(gz));
	T_OK(gzlen > 20 && gz[0] == 0x1f && gz[1] == 0x8b, "a gzip member is made (%zu bytes)", gzlen);

	/* plain passes through */
	r = decode(plain, PLAIN_LEN, 65536, 131072, &outlen, err, sizeof(err));
	T_OK(r == 0 && same(outlen, plain, PLAIN_LEN), "plain input is copied through %s", err);
	r = decode((const unsigned char *)"S", 1, 1, 16, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "single byte") != NULL, "a single byte is not a dump: %s", err);

	/* gzip at every split of the input and every output room */
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		for (k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
			if (chunks[i] == 1 && rooms[k] > 8)
				continue; /* slow and adds nothing */
			r = decode(gz, gzlen, chunks[i], rooms[k], &outlen, err, sizeof(err));
			T_OK(r == 0 && same(outlen, plain, PLAIN_LEN),
			     "gzip, input in %zu-byte pieces, output room %zu: the plain text back %s",
			     chunks[i] == SIZE_MAX ? gzlen : chunks[i], rooms[k], err);
		}
	}

	/* two members in a row are one input */
	memcpy(gz + gzlen, gz, gzlen);
	memcpy(twice, plain, PLAIN_LEN);
	memcpy(twice + PLAIN_LEN, plain, PLAIN_LEN);
	for (k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
		r = decode(gz, 2 * gzlen, 4096, rooms[k], &outlen, err, sizeof(err));
		T_OK(r == 0 && same(outlen, twice, 2 * PLAIN_LEN),
		     "two gzip members, output room %zu: both texts %s", rooms[k], err);
	}

	/* an empty member between two */
	gzlen2 = make_gzip(plain, 0, gz + gzlen, sizeof(gz) - gzlen);
	memcpy(gz + gzlen + gzlen2, gz, gzlen);
	r = decode(gz, 2 * gzlen + gzlen2, 65536, 131072, &outlen, err, sizeof(err));
	T_OK(r == 0 && same(outlen, twice, 2 * PLAIN_LEN), "an empty member between two %s", err);

	/* cut anywhere inside the member: an error, never a clean end */
	for (i = 1; i < 12; i++) {
		size_t cut = i < 10 ? gzlen * i / 10 : gzlen - (i == 10 ? 1 : 4);

		r = decode(gz, cut, 4096, 4096, &outlen, err, sizeof(err));
		T_OK(r < 0 && strstr(err, "truncated") != NULL, "cut at %zu of %zu bytes: %s", cut, gzlen,
		     err);
	}

	/* a wrong CRC-32, a wrong length, a broken header, garbage after the end */
	gz[gzlen - 6] ^= 0x55;
	r = decode(gz, gzlen, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "corrupt") != NULL, "a wrong CRC-32 is an error: %s", err);
	gz[gzlen - 6] ^= 0x55;
	gz[gzlen - 2] ^= 0x01;
	r = decode(gz, gzlen, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "corrupt") != NULL, "a wrong length is an error: %s", err);
	gz[gzlen - 2] ^= 0x01;
	gz[2] = 7; /* compression method other than deflate */
	r = decode(gz, gzlen, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "corrupt") != NULL, "a method other than deflate is an error: %s", err);
	gz[2] = 8;
	memcpy(gz + gzlen, "GARBAGE!", 8);
	r = decode(gz, gzlen + 8, 4096, 131072, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "not another gzip member") != NULL,
	     "bytes after the last member are an error: %s", err);
	gz[gzlen / 2] ^= 0xff;
	r = decode(gz, gzlen, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0, "a flipped byte in the deflate data is an error: %s", err);
	T_DONE();
}
