/*
 * sendzstd.c - the compressing reader of `pgsluice send --compress zstd`
 * (see sendzstd.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "sendzstd.h"

#define SENDZSTD_CHUNK (256 * 1024) /* input read at a time */

struct sendzstd {
	ZSTD_CCtx *cctx;
	char in[SENDZSTD_CHUNK];
	size_t in_len, in_pos;
	int in_eof;
	int decided;             /* the first bytes were looked at */
	const char *passthrough; /* their format when already compressed */
	int done;                /* the frame is complete */
	uint64_t read_bytes;
	const char *error;
};

int
sendzstd_parse(const char *spec, int *level, char *err, size_t errsize)
{
	char *end;
	long v;

	*level = 3;
	if (strcmp(spec, "zstd") == 0)
		return 0;
	if (strncmp(spec, "zstd:", 5) == 0) {
		v = strtol(spec + 5, &end, 10);
		if (end != spec + 5 && *end == '\0' && v >= 1 && v <= 19) {
			*level = (int)v;
			return 0;
		}
	}
	snprintf(err, errsize,
	         "--compress %s: want zstd or zstd:LEVEL, LEVEL 1 to 19 (e.g. zstd:3)", spec);
	return -1;
}

struct sendzstd *
sendzstd_new(int level, int threads, char *err, size_t errsize)
{
	struct sendzstd *z = calloc(1, sizeof(*z));
	size_t r;

	if (z == NULL || (z->cctx = ZSTD_createCCtx()) == NULL) {
		free(z);
		snprintf(err, errsize, "out of memory for the zstd compressor");
		return NULL;
	}
	r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r) && threads > 0)
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, threads);
	if (ZSTD_isError(r)) {
		snprintf(err, errsize, "zstd: %s%s", ZSTD_getErrorName(r),
		         threads > 0 ? " (this libzstd may lack threads: try --threads 0)" : "");
		sendzstd_free(z);
		return NULL;
	}
	return z;
}

/* The format of already-compressed input, as the daemon's decoder sniffs it. */
static const char *
sendzstd_sniff(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "gzip";
	if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return "zstd";
	if (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
		return "zstd"; /* a skippable frame first, as pzstd writes */
	if (n >= 4 && p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4d && p[3] == 0x18)
		return "lz4";
	return NULL;
}

/* One read into in[] after what it holds.  Returns 1 data, 0 end, -1 error. */
static int
sendzstd_read(struct sendzstd *z, int fd)
{
	ssize_t n;

	do
		n = read(fd, z->in + z->in_len, sizeof(z->in) - z->in_len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0) {
		z->in_eof = 1;
		return 0;
	}
	z->in_len += (size_t)n;
	z->read_bytes += (uint64_t)n;
	return 1;
}

ssize_t
sendzstd_fill(struct sendzstd *z, int fd, int regular, char *out, size_t room)
{
	ZSTD_inBuffer ib;
	ZSTD_outBuffer ob;
	size_t r, n;
	int did_read = 0;

	if (z->done)
		return 0;
	if (!z->decided) {
		/* the first 4 bytes decide (a pipe may give fewer at first) */
		while (z->in_len < 4 && !z->in_eof) {
			if (sendzstd_read(z, fd) < 0)
				return -1;
			did_read = 1;
		}
		z->decided = 1;
		z->passthrough = sendzstd_sniff((const unsigned char *)z->in, z->in_len);
	}
	if (z->passthrough != NULL) {
		if (z->in_pos == z->in_len) {
			z->in_pos = z->in_len = 0;
			if (!z->in_eof && sendzstd_read(z, fd) < 0)
				return -1;
			if (z->in_len == 0) {
				z->done = 1;
				return 0;
			}
		}
		n = z->in_len - z->in_pos < room ? z->in_len - z->in_pos : room;
		memcpy(out, z->in + z->in_pos, n);
		z->in_pos += n;
		return (ssize_t)n;
	}
	for (;;) {
		if (z->in_pos == z->in_len && !z->in_eof) {
			if (did_read && !regular)
				return -2; /* wait until the pipe has more */
			z->in_pos = z->in_len = 0;
			if (sendzstd_read(z, fd) < 0)
				return -1;
			did_read = 1;
		}
		ib.src = z->in;
		ib.size = z->in_len;
		ib.pos = z->in_pos;
		ob.dst = out;
		ob.size = room;
		ob.pos = 0;
		r = ZSTD_compressStream2(z->cctx, &ob, &ib,
		                         z->in_eof ? ZSTD_e_end : ZSTD_e_continue);
		z->in_pos = ib.pos;
		if (ZSTD_isError(r)) {
			z->error = ZSTD_getErrorName(r);
			errno = EIO;
			return -1;
		}
		if (z->in_eof && r == 0)
			z->done = 1;
		if (ob.pos > 0)
			return (ssize_t)ob.pos;
		if (z->done)
			return 0;
	}
}

const char *
sendzstd_passthrough(const struct sendzstd *z)
{
	return z->passthrough;
}

uint64_t
sendzstd_read_bytes(const struct sendzstd *z)
{
	return z->read_bytes;
}

const char *
sendzstd_error(const struct sendzstd *z)
{
	return z->error != NULL ? z->error : "no error";
}

void
sendzstd_free(struct sendzstd *z)
{
	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	free(z);
}
