/*
 * dribble.c - copy stdin to stdout in small, separate writes.
 *
 *	dribble 1              one byte per write()
 *	dribble random SEED    writes of random sizes (1 byte to 16 KiB, most
 *	                       of them small), the same sizes for the same SEED
 *
 * Used by tests/integration/filter_chunking.sh: a program reading the other
 * end of the pipe gets its input in pieces that end anywhere (mid-token,
 * mid-"\r\n", mid-"\." line, mid-gzip header), which must not change what
 * it does.  Every piece is its own write(2) call.  A pipe would merge the
 * pieces a slower reader has not taken yet, so when stdout is a pipe,
 * dribble waits after each write until the reader has drained it
 * (FIONREAD == 0): each read(2) on the other end then returns exactly one
 * piece.
 *
 * Exit status: 0 when all of stdin was copied, 1 on a read or write error
 * (a reader that exits early gives EPIPE, or POLLERR while dribble waits
 * for it to drain: that is reported, not hidden, within a millisecond or
 * so; a reader that takes nothing for DRAIN_TIMEOUT_S seconds is given up
 * on the same way), 2 on a usage error.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)
#define DRAIN_TIMEOUT_S 30

static uint64_t rng_state;

/* xorshift64*: small, fast, and the same sequence everywhere for a seed */
static uint64_t
rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * UINT64_C(2685821657736338717);
}

/*
 * The next piece size for random mode: a size class first (so that tiny
 * pieces are common), then a size within it.
 */
static size_t
random_size(void)
{
	static const size_t class_max[] = { 1, 2, 7, 64, 512, 4096, 16384 };
	uint64_t r = rng_next();
	size_t max = class_max[(r >> 32) % (sizeof class_max / sizeof class_max[0])];

	return 1 + (size_t)((r & 0xffffffffu) % max);
}

static int
write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dribble: write: %s\n", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 when the reading end has gone away (a pipe's writer sees POLLERR). */
static int
reader_gone(void)
{
	struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

/*
 * Wait until the reader has taken everything out of the pipe.  Spins with
 * sched_yield() for a while (the reader is usually quick), then sleeps in
 * short steps (the reader may be blocked on its own output).  If stdout is
 * not a pipe or a socket, FIONREAD fails and this returns at once.  Returns
 * -1 (with a message) when the reader has closed its end, or has taken
 * nothing for DRAIN_TIMEOUT_S seconds.
 */
static int
wait_drained(void)
{
	const struct timespec step = { 0, 20 * 1000 };
	int queued, last = -1, spins = 0;
	double since = 0;

	while (ioctl(STDOUT_FILENO, FIONREAD, &queued) == 0 && queued > 0) {
		if (reader_gone()) {
			fprintf(stderr,
			        "dribble: the reader closed the pipe with %d bytes unread\n",
			        queued);
			return -1;
		}
		if (queued != last) {
			last = queued;
			since = now_s();
		} else if (spins >= 200 && now_s() - since > DRAIN_TIMEOUT_S) {
			fprintf(stderr,
			        "dribble: the reader took nothing for %d s (%d bytes "
			        "unread); giving up\n",
			        DRAIN_TIMEOUT_S, queued);
			return -1;
		}
		if (spins < 200) {
			spins++;
			sched_yield();
		} else {
			nanosleep(&step, NULL);
		}
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dribble 1 | dribble random SEED\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static char buf[BUF_SIZE];
	int one_byte;
	unsigned long long seed = 0;
	char *end;

	if (argc == 2 && strcmp(argv[1], "1") == 0) {
		one_byte = 1;
	} else if (argc == 3 && strcmp(argv[1], "random") == 0) {
		one_byte = 0;
		errno = 0;
		seed = strtoull(argv[2], &end, 10);
		if (errno != 0 || end == argv[2] || *end != '\0')
			usage();
	} else {
		usage();
	}
	/* xorshift must not start at 0; mix the seed so 1, 2, 3 differ a lot */
	rng_state = (seed ^ UINT64_C(0x9E3779B97F4A7C15)) * UINT64_C(0xBF58476D1CE4E5B9);
	if (rng_state == 0)
		rng_state = 1;
	/* a reader that goes away is an error we report, not a silent death */
	signal(SIGPIPE, SIG_IGN);

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dribble: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		while (off < (size_t)n) {
			size_t piece = one_byte ? 1 : random_size();

			if (piece > (size_t)n - off)
				piece = (size_t)n - off;
			if (write_all(buf + off, piece) < 0 || wait_drained() < 0)
				return 1;
			off += piece;
		}
	}
	return 0;
}
