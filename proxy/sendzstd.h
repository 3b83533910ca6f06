/*
 * sendzstd.h - `pgsluice send --compress zstd[:LEVEL] [--threads N]`: the
 * plain dump compressed on its way out, by libzstd's multi-threaded
 * streaming compressor (ZSTD_c_nbWorkers), so that the old host's cores
 * share the work that a `| gzip` does on one.
 *
 * Input that is already compressed (gzip, zstd or lz4 by its magic bytes,
 * as the daemon's decoder sniffs them) is passed through as it is: never
 * compressed twice.  Kept apart from send.c, which only calls
 * sendzstd_fill in place of read(2).
 */
#ifndef PGSLUICE_SENDZSTD_H
#define PGSLUICE_SENDZSTD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sendzstd;

/*
 * "zstd" or "zstd:LEVEL" (1 to 19) into *level (default 3).  Returns 0, or
 * -1 with a message in err.
 */
int sendzstd_parse(const char *spec, int *level, char *err, size_t errsize);

/*
 * A compressor at level with threads workers (0: compress in the caller's
 * thread).  Returns NULL with a message in err.
 */
struct sendzstd *sendzstd_new(int level, int threads, char *err, size_t errsize);

/*
 * Read from fd (at most one read(2) of a pipe per call; a regular file may
 * be read more) and put compressed bytes into out.  Returns the bytes
 * written to out (> 0); -2 when none are ready yet (call again when fd is
 * readable, or at once for a regular file); 0 at the end, once the frame
 * is complete; -1 on a read error (errno) or a compressor error (errno
 * EIO, sendzstd_error says which).
 */
ssize_t sendzstd_fill(struct sendzstd *z, int fd, int regular, char *out, size_t room);

/* NULL while undecided or compressing; "gzip", "zstd" or "lz4" when passed through. */
const char *sendzstd_passthrough(const struct sendzstd *z);

/* Plain bytes read so far. */
uint64_t sendzstd_read_bytes(const struct sendzstd *z);

/* The compressor's last error, for a message. */
const char *sendzstd_error(const struct sendzstd *z);

void sendzstd_free(struct sendzstd *z);

#endif
