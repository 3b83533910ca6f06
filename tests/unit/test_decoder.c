/*
 * test_decoder.c - the input decoder (proxy/decoder.c): plain copied
 * through, gzip inflated member after member, zstd and lz4 frame after
 * frame (skippable frames passed over), at any split of the input and any
 * output room (down to one byte, which leaves input inside the
 * decompressor: decoder_pending), the format told from the first bytes,
 * and every broken, cut or corrupt stream an error.  The gzip members are
 * made here with ISA-L's deflate, the zstd and lz4 frames with libzstd's
 * and liblz4's compressors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <lz4frame.h>
#include <zstd.h>

#include "decoder.h"
#include "t.h"

#define PLAIN_LEN (300 * 1024)

static unsigned char plain[PLAIN_LEN];
static unsigned char gz[2 * PLAIN_LEN + 1024];
static unsigned char out[4 * PLAIN_LEN];
static unsigned char cz[3 * PLAIN_LEN + 4096]; /* zstd and lz4 streams */
static enum decoder_format last_format;        /* what the last decode() sniffed */

/* A dump-like text: COPY rows with some repetition, some noise. */
static void
make_plain(void)
{
	uint32_t x = 12345;
	size_t i = 0;

	while (i < PLAIN_LEN) {
		int n = snprintf((char *)plain + i, PLAIN_LEN - i,
		                 "%zu\t@user%u:example.org\t{\"k\": %u}\n", i, x % 1000, x);
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
	last_format = d.kind;
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

static unsigned char twice[2 * PLAIN_LEN];

static void
test_gzip(void)
{
	static const size_t chunks[] = { 1, 2, 7, 4096, 65536, SIZE_MAX };
	static const size_t rooms[] = { 1, 3, 8, 4096, 131072 };
	char err[300];
	size_t gzlen, gzlen2, outlen, i, k;
	int r;

	gzlen = make_gzip(plain, PLAIN_LEN, gz, sizeof(gz));
	T_OK(gzlen > 20 && gz[0] == 0x1f && gz[1] == 0x8b, "a gzip member is made (%zu bytes)",
	     gzlen);

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
		T_OK(r < 0 && strstr(err, "truncated") != NULL, "cut at %zu of %zu bytes: %s", cut,
		     gzlen, err);
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
	T_OK(r < 0 && strstr(err, "corrupt") != NULL, "a method other than deflate is an error: %s",
	     err);
	gz[2] = 8;
	memcpy(gz + gzlen, "GARBAGE!", 8);
	r = decode(gz, gzlen + 8, 4096, 131072, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "not another gzip member") != NULL,
	     "bytes after the last member are an error: %s", err);
	gz[gzlen / 2] ^= 0xff;
	r = decode(gz, gzlen, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0, "a flipped byte in the deflate data is an error: %s", err);
}

/*
 * One zstd frame of src (content checksum on; variant 1: no checksum,
 * content size unknown, as `pg_dump | zstd` streams it); its length.
 */
static size_t
make_zstd(const unsigned char *src, size_t len, unsigned char *dst, size_t cap, int variant)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_inBuffer ib = { src, len, 0 };
	ZSTD_outBuffer ob = { dst, cap, 0 };
	size_t r;

	if (c == NULL)
		return 0;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, variant == 0);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, variant == 0);
	do
		r = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
	while (r != 0 && !ZSTD_isError(r) && ob.pos < ob.size);
	ZSTD_freeCCtx(c);
	return r == 0 ? ob.pos : 0;
}

/*
 * One lz4 frame of src in 64 KB blocks with a content checksum (variant 1:
 * block checksums too, and the content size in the header); its length.
 */
static size_t
make_lz4(const unsigned char *src, size_t len, unsigned char *dst, size_t cap, int variant)
{
	LZ4F_preferences_t prefs;
	size_t r;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	if (variant == 1) {
		prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
		prefs.frameInfo.contentSize = len;
	}
	r = LZ4F_compressFrame(dst, cap, src, len, &prefs);
	return LZ4F_isError(r) ? 0 : r;
}

/* A skippable frame (shared by zstd and lz4): magic 0x184D2A5n, length, bytes. */
static size_t
make_skippable(unsigned n, uint32_t len, unsigned char *dst)
{
	dst[0] = (unsigned char)(0x50 | n);
	dst[1] = 0x2a;
	dst[2] = 0x4d;
	dst[3] = 0x18;
	dst[4] = (unsigned char)len;
	dst[5] = (unsigned char)(len >> 8);
	dst[6] = (unsigned char)(len >> 16);
	dst[7] = (unsigned char)(len >> 24);
	memset(dst + 8, 0x28, len); /* the zstd magic's first byte: must not matter */
	return 8 + len;
}

typedef size_t (*make_fn)(const unsigned char *, size_t, unsigned char *, size_t, int);

/* The same cuts as for gzip, for one frame format. */
static void
test_frames(const char *name, enum decoder_format want, make_fn make, int variants)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 4096, 65536, SIZE_MAX };
	static const size_t rooms[] = { 1, 3, 8, 4096, 131072 };
	char err[300], what[64];
	size_t len, len0, len2, skip, outlen, i, k, pos;
	int r, v;

	for (v = 0; v < variants; v++) {
		snprintf(what, sizeof(what), "%s (variant %d)", name, v);
		len = make(plain, PLAIN_LEN, cz, sizeof(cz), v);
		T_OK(len > 20, "%s: a frame is made (%zu bytes)", what, len);
		for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
			for (k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
				if (chunks[i] == 1 && rooms[k] > 8)
					continue; /* slow and adds nothing */
				r = decode(cz, len, chunks[i], rooms[k], &outlen, err, sizeof(err));
				T_OK(r == 0 && same(outlen, plain, PLAIN_LEN) &&
				             last_format == want,
				     "%s, input in %zu-byte pieces, output room %zu: the plain text back, "
				     "format %s %s",
				     what, chunks[i] == SIZE_MAX ? len : chunks[i], rooms[k],
				     decoder_format_name(last_format), err);
			}
		}
	}
	len = make(plain, PLAIN_LEN, cz, sizeof(cz), 0);

	/* frames in a row, an empty one and skippable ones between them */
	len0 = make(plain, 0, cz + len, sizeof(cz) - len, 0);
	T_OK(len0 > 0, "%s: an empty frame is made (%zu bytes)", name, len0);
	pos = len + len0;
	pos += make_skippable(0, 10, cz + pos);
	pos += make_skippable(15, 0, cz + pos);
	len2 = make(plain, PLAIN_LEN, cz + pos, sizeof(cz) - pos, variants - 1);
	pos += len2;
	for (i = 0; i < 3; i++) {
		size_t chunk = i == 0 ? 1 : i == 1 ? 5 : 65536;

		for (k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
			if (chunk == 1 && rooms[k] > 8)
				continue;
			r = decode(cz, pos, chunk, rooms[k], &outlen, err, sizeof(err));
			T_OK(r == 0 && same(outlen, twice, 2 * PLAIN_LEN),
			     "%s: two frames, an empty and two skippable frames between, input in "
			     "%zu-byte pieces, output room %zu: both texts %s",
			     name, chunk, rooms[k], err);
		}
	}

	/* skippable frames before the first data frame (pzstd writes them) */
	skip = make_skippable(0, 5, cz);
	skip += make_skippable(10, 300, cz + skip);
	len = make(plain, PLAIN_LEN, cz + skip, sizeof(cz) - skip, 0);
	for (i = 0; i < 3; i++) {
		size_t chunk = i == 0 ? 1 : i == 1 ? 3 : 65536;

		r = decode(cz, skip + len, chunk, 8, &outlen, err, sizeof(err));
		T_OK(r == 0 && same(outlen, plain, PLAIN_LEN) && last_format == want,
		     "%s: skippable frames first, input in %zu-byte pieces: the plain text back, "
		     "format %s %s",
		     name, chunk, decoder_format_name(last_format), err);
	}
	r = decode(cz, skip, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "skippable") != NULL && strstr(err, "not a dump") != NULL,
	     "%s: skippable frames and nothing else are not a dump: %s", name, err);
	r = decode(cz, skip - 100, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "inside one") != NULL,
	     "%s: input that ends inside a skippable frame is not a dump: %s", name, err);

	/* cut anywhere inside the frame: an error, never a clean end */
	len = make(plain, PLAIN_LEN, cz, sizeof(cz), 0);
	for (i = 1; i < 12; i++) {
		size_t cut = i < 10 ? len * i / 10 : len - (i == 10 ? 1 : 4);

		r = decode(cz, cut, 4096, 4096, &outlen, err, sizeof(err));
		T_OK(r < 0 && strstr(err, "truncated") != NULL &&
		             strstr(err, "stream was cut") != NULL && strstr(err, name) != NULL,
		     "%s: cut at %zu of %zu bytes: %s", name, cut, len, err);
	}
	for (i = 1; i < 4; i++) {
		r = decode(cz, i, 1, 16, &outlen, err, sizeof(err));
		T_OK(r < 0 && strstr(err, "not a dump") != NULL,
		     "%s: the first %zu byte%s of the magic alone are not a dump: %s", name, i,
		     i == 1 ? "" : "s", err);
	}
	/* a cut frame followed by the next one: corrupt, not two frames */
	memmove(cz + len / 2, cz, len);
	r = decode(cz, len / 2 + len, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0, "%s: a frame cut short and another after it is an error: %s", name, err);

	/* corrupt: the content checksum, a byte in the data, garbage after the end */
	len = make(plain, PLAIN_LEN, cz, sizeof(cz), 0);
	cz[len - 2] ^= 0x20;
	r = decode(cz, len, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "corrupt") != NULL && strstr(err, "checksum") != NULL,
	     "%s: a wrong content checksum is an error that says so: %s", name, err);
	cz[len - 2] ^= 0x20;
	for (i = 1; i < 6; i++) {
		pos = len * i / 6;
		cz[pos] ^= 0x55;
		r = decode(cz, len, 4096, 4096, &outlen, err, sizeof(err));
		T_OK(r < 0 && strstr(err, "corrupt") != NULL,
		     "%s: a flipped byte at %zu of %zu is an error: %s", name, pos, len, err);
		cz[pos] ^= 0x55;
	}
	cz[4] ^= 0xff; /* the frame header's descriptor */
	r = decode(cz, len, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "corrupt") != NULL, "%s: a broken frame header is an error: %s",
	     name, err);
	cz[4] ^= 0xff;
	memcpy(cz + len, "GARBAGE!", 8);
	r = decode(cz, len + 8, 4096, 131072, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "not another") != NULL && strstr(err, name) != NULL,
	     "%s: bytes after the last frame are an error: %s", name, err);
	r = decode(cz, len, 4096, 4096, &outlen, err, sizeof(err));
	T_OK(r == 0 && same(outlen, plain, PLAIN_LEN), "%s: the frame, restored, decodes %s", name,
	     err);
}

/* The format is told from the first bytes, and only from them. */
static void
test_sniff(void)
{
	static const char *const plains[] = {
		"(SELECT 1);\n",   "\x28\xb5 not zstd\n",          "\x04\x22 not lz4\n",
		"\x1f not gzip\n", "\x50\x2a\x4d not skippable\n", "SE",
	};
	unsigned char buf[64];
	char err[300];
	size_t i, len, outlen, chunk;
	int r;

	for (i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
		len = strlen(plains[i]);
		for (chunk = 1; chunk <= 4; chunk += 3) {
			r = decode((const unsigned char *)plains[i], len, chunk, 1, &outlen, err,
			           sizeof(err));
			T_OK(r == 0 && same(outlen, (const unsigned char *)plains[i], len) &&
			             last_format == DECODER_PLAIN,
			     "plain input %zu that begins like a magic, in %zu-byte pieces into 1-byte "
			     "room, is copied through %s",
			     i, chunk, err);
		}
	}
	/* a skippable frame, then gzip or plain: neither zstd nor lz4 */
	len = make_skippable(1, 4, buf);
	memcpy(buf + len, "\x1f\x8b\x08\x00", 4);
	r = decode(buf, len + 4, 3, 16, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "neither zstd nor lz4") != NULL,
	     "a skippable frame before gzip is an error: %s", err);
	memcpy(buf + len, "SELECT 1;\n", 10);
	r = decode(buf, len + 10, 4096, 16, &outlen, err, sizeof(err));
	T_OK(r < 0 && strstr(err, "neither zstd nor lz4") != NULL,
	     "a skippable frame before plain text is an error: %s", err);
	T_OK(strcmp(decoder_format_name(DECODER_ZSTD), "zstd") == 0 &&
	             strcmp(decoder_format_name(DECODER_LZ4), "lz4") == 0 &&
	             strcmp(decoder_format_name(DECODER_GZIP), "gzip") == 0 &&
	             strcmp(decoder_format_name(DECODER_PLAIN), "plain") == 0,
	     "decoder_format_name names each format");
}

/*
 * A gzip member whose data is whole but whose CRC-32 is wrong: decoder_run
 * fails only after inflating it all, and still says how much it produced
 * (the session appends *produced to its buffer on failure too).
 */
static void
test_gzip_error_produced(void)
{
	struct decoder d;
	size_t len, used = 0, produced = (size_t)-1;
	int r;

	len = make_gzip(plain, PLAIN_LEN, gz, sizeof(gz));
	gz[len - 8] ^= 0xff; /* the trailer: CRC-32, then ISIZE */
	decoder_init(&d);
	r = decoder_run(&d, gz, len, &used, out, sizeof(out), &produced);
	T_OK(r < 0 && produced == PLAIN_LEN && d.out_total == PLAIN_LEN &&
	             memcmp(out, plain, PLAIN_LEN) == 0,
	     "a gzip inflate error reports what was produced before it: r %d, produced %zu, "
	     "out_total %llu (%s)",
	     r, produced, (unsigned long long)d.out_total, decoder_error(&d));
	decoder_free(&d);
}

int
main(void)
{
	make_plain();
	memcpy(twice, plain, PLAIN_LEN);
	memcpy(twice + PLAIN_LEN, plain, PLAIN_LEN);
	test_gzip();
	test_gzip_error_produced();
	test_frames("zstd", DECODER_ZSTD, make_zstd, 2);
	test_frames("lz4", DECODER_LZ4, make_lz4, 2);
	test_sniff();
	T_DONE();
}
