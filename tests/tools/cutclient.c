/*
 * cutclient.c - a pgsluice client that misbehaves on purpose.
 *
 *	cutclient [options] HOST PORT FILE
 *
 * Connects to HOST:PORT, sends FILE (or its first -n bytes) and copies what
 * the daemon sends back to stdout, all the while (so progress lines never
 * fill the socket).  Then, as -m says:
 *
 *	-m finish   shutdown(SHUT_WR) and read the reply to its end (like
 *	            nc -N; the default)
 *	-m close    close(2) at once: a FIN, the reply is never read (the
 *	            client vanished)
 *	-m reset    SO_LINGER 0, then close(2): a RST (the client crashed or a
 *	            middlebox dropped the connection)
 *
 * Other options:
 *	-n BYTES    send only the first BYTES bytes of FILE
 *	-p PATH     after -n BYTES, wait until PATH exists, then send the rest
 *	            of FILE (a pause at an exact byte, for faults injected from
 *	            outside: kill a backend, restart the server, signal the
 *	            daemon); "paused at N" goes to stderr when the pause begins
 *	-r RATE     send at most RATE bytes per second ...
 *	-d SECONDS  ... for the first SECONDS, then at full speed (default: all
 *	            the way)
 *	-t SECONDS  give up after SECONDS in all (default 120): exit 3
 *
 * Before close or reset, cutclient waits (at most 2 s) until the kernel has
 * had the bytes it sent acknowledged (SIOCOUTQ 0), so that the cut falls at
 * the byte offset asked for, not earlier; a daemon that stopped reading
 * (backpressure) may leave some unsent, which stderr reports.
 *
 * Exit status: 0 done, 1 connect or I/O error, 2 usage, 3 timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)

enum mode {
	MODE_FINISH,
	MODE_CLOSE,
	MODE_RESET
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cutclient [-m finish|close|reset] [-n BYTES] [-p PATH] [-r RATE "
	                "[-d SECONDS]] [-t SECONDS] HOST PORT FILE\n");
	exit(2);
}

static int
connect_to(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		fprintf(stderr, "cutclient: %s:%s: %s\n", host, port, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, "cutclient: cannot connect to %s:%s: %s\n", host, port,
		        strerror(errno));
	freeaddrinfo(res);
	return fd;
}

/* Copy what the daemon sent to stdout.  Returns 0 at EOF, 1 if more may come, -1 on error. */
static int
drain_reply(int fd)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				return -1;
			fflush(stdout);
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 1;
		return -1;
	}
}

int
main(int argc, char **argv)
{
	enum mode mode = MODE_FINISH;
	long long limit = -1, sent = 0;
	const char *pause_path = NULL;
	double rate = 0, slow_for = -1, timeout = 120, start, deadline, t;
	char *buf;
	size_t have = 0, off = 0;
	int c, fd, file, eof = 0, paused = 0, reply_open = 1, outq;
	struct linger lg;
	struct pollfd pfd;
	struct stat st;

	while ((c = getopt(argc, argv, "m:n:p:r:d:t:")) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "finish") == 0)
				mode = MODE_FINISH;
			else if (strcmp(optarg, "close") == 0)
				mode = MODE_CLOSE;
			else if (strcmp(optarg, "reset") == 0)
				mode = MODE_RESET;
			else
				usage();
			break;
		case 'n':
			limit = atoll(optarg);
			break;
		case 'p':
			pause_path = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'd':
			slow_for = atof(optarg);
			break;
		case 't':
			timeout = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	file = open(argv[optind + 2], O_RDONLY);
	if (file < 0) {
		fprintf(stderr, "cutclient: %s: %s\n", argv[optind + 2], strerror(errno));
		return 1;
	}
	buf = malloc(BUF_SIZE);
	if (buf == NULL)
		return 1;
	fd = connect_to(argv[optind], argv[optind + 1]);
	if (fd < 0)
		return 1;
	start = now();
	deadline = start + timeout;

	/* send, reading the reply as it comes */
	for (;;) {
		long long allowed = LLONG_MAX;
		size_t chunk;
		ssize_t n;

		t = now();
		if (t > deadline) {
			fprintf(stderr, "cutclient: timed out after %.0f s (%lld bytes sent)\n",
			        timeout, sent);
			return 3;
		}
		if (limit >= 0 && sent >= limit && !paused && pause_path != NULL) {
			paused = 1;
			fprintf(stderr, "cutclient: paused at %lld\n", sent);
			while (stat(pause_path, &st) != 0) {
				if (reply_open && drain_reply(fd) <= 0)
					reply_open = 0;
				if (now() > deadline) {
					fprintf(stderr, "cutclient: timed out in the pause\n");
					return 3;
				}
				usleep(20000);
			}
			limit = -1; /* then the rest */
		}
		if (limit >= 0 && sent >= limit)
			break;
		if (have == off) {
			if (eof)
				break;
			n = read(file, buf, BUF_SIZE);
			if (n < 0) {
				fprintf(stderr, "cutclient: read: %s\n", strerror(errno));
				return 1;
			}
			if (n == 0) {
				eof = 1;
				break;
			}
			have = (size_t)n;
			off = 0;
		}
		chunk = have - off;
		if (limit >= 0 && (long long)chunk > limit - sent)
			chunk = (size_t)(limit - sent);
		if (rate > 0 && (slow_for < 0 || t - start < slow_for)) {
			allowed = (long long)(rate * (t - start)) + 1 - sent;
			if (allowed <= 0) {
				if (reply_open && drain_reply(fd) < 0)
					reply_open = 0;
				usleep(10000);
				continue;
			}
			if ((long long)chunk > allowed)
				chunk = (size_t)allowed;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT | (reply_open ? POLLIN : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
			fprintf(stderr, "cutclient: poll: %s\n", strerror(errno));
			return 1;
		}
		if (reply_open && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			if (drain_reply(fd) <= 0)
				reply_open = 0;
		if (!(pfd.revents & POLLOUT))
			continue;
		n = send(fd, buf + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			/* the daemon closed: its reply (read above) says why */
			fprintf(stderr, "cutclient: send after %lld bytes: %s\n", sent,
			        strerror(errno));
			drain_reply(fd);
			return 0;
		}
		off += (size_t)n;
		sent += n;
	}

	if (mode == MODE_FINISH) {
		shutdown(fd, SHUT_WR);
		fprintf(stderr, "cutclient: sent %lld bytes, then finished\n", sent);
		while (reply_open && now() < deadline) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (poll(&pfd, 1, 100) > 0 && drain_reply(fd) <= 0)
				break;
		}
		close(fd);
		return now() < deadline ? 0 : 3;
	}
	/* let the bytes reach the daemon before the cut */
	for (t = now(); now() < t + 2; usleep(5000)) {
		if (ioctl(fd, SIOCOUTQ, &outq) != 0 || outq == 0)
			break;
	}
	if (ioctl(fd, SIOCOUTQ, &outq) != 0)
		outq = 0;
	/* a close with unread input would send a RST, not a FIN */
	if (mode == MODE_CLOSE && reply_open)
		drain_reply(fd);
	if (mode == MODE_RESET) {
		lg.l_onoff = 1;
		lg.l_linger = 0;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
	fprintf(stderr, "cutclient: sent %lld bytes (%d not yet acknowledged), then %s\n", sent,
	        outq, mode == MODE_RESET ? "reset" : "closed");
	return 0;
}
