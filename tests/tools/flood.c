/*
 * flood.c - open many TCP connections to a daemon at once and tell what
 * each got back.
 *
 *	flood HOST PORT N HOLD_S [SEND]
 *
 * Opens N connections to HOST:PORT (an IPv4 address) as fast as it can,
 * writes SEND (if given; "\n" escapes allowed) on each, then keeps them all
 * open for HOLD_S seconds, reading what the daemon writes, and never closes
 * one itself before that.  A connection the daemon closes is counted by the
 * first line it received.  At the end one line per outcome:
 *
 *	connected 200          connect() succeeded
 *	connect_failed 0       connect() failed (refused, timeout)
 *	too_many 136           got "ERROR too many connections ..."
 *	evicted 0              got "ERROR closed to make room: ..." (connlimits.h)
 *	busy 63                got "ERROR an import ... is running ..."
 *	other_error 0          got another ERROR line
 *	closed_silent 1        closed by the daemon without a line
 *	open_at_end 0          still open when HOLD_S ran out
 *	max_open 200           the most connections open at once (our side)
 *
 * With FLOOD_SOURCES=K in the environment, connection i comes from one of
 * K loopback addresses (i modulo K): 127.0.0.2 to 127.0.0.251 for K up to
 * 250, else 127.1.X.Y (never 127.0.0.1, the tests' real sender).
 *
 * Used by tests/integration/security_flood.sh and security_unauth.sh.  Exit status 0, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int connecting;
	char first[160];
	size_t first_len;
	int done;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct conn *c;
	struct pollfd *pfd;
	int n, i, open_now = 0, max_open = 0, connected = 0, failed = 0;
	int too_many = 0, evicted = 0, busy = 0, other = 0, silent = 0, open_end = 0;
	int sources = getenv("FLOOD_SOURCES") ? atoi(getenv("FLOOD_SOURCES")) : 0;
	double hold, end;
	char *send_str = NULL, buf[4096];
	ssize_t r;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: flood HOST PORT N HOLD_S [SEND]\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "flood: %s: want an IPv4 address\n", argv[1]);
		return 2;
	}
	n = atoi(argv[3]);
	hold = atof(argv[4]);
	if (n < 1 || n > 5000 || hold <= 0) {
		fprintf(stderr, "flood: bad N or HOLD_S\n");
		return 2;
	}
	if (argc == 6) {
		send_str = argv[5];
		unescape(send_str);
	}
	c = calloc((size_t)n, sizeof(*c));
	pfd = calloc((size_t)n, sizeof(*pfd));
	if (c == NULL || pfd == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c[i].fd < 0) {
			perror("flood: socket");
			c[i].done = 1;
			failed++;
			continue;
		}
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
		if (sources > 0) {
			struct sockaddr_in src;
			int j = i % sources;

			memset(&src, 0, sizeof(src));
			src.sin_family = AF_INET;
			src.sin_addr.s_addr =
				htonl(sources <= 250 ? (127u << 24) | (unsigned)(2 + j)
			                             : (127u << 24) | (1u << 16) |
			                                       ((unsigned)(j / 250) << 8) |
			                                       (unsigned)(1 + j % 250));
			if (bind(c[i].fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
				perror("flood: bind");
				return 2;
			}
		}
		if (connect(c[i].fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
		    errno == EINPROGRESS) {
			c[i].connecting = 1;
			open_now++;
		} else {
			close(c[i].fd);
			c[i].fd = -1;
			c[i].done = 1;
			failed++;
		}
	}
	if (open_now > max_open)
		max_open = open_now;
	end = now_s() + hold;
	while (now_s() < end) {
		int live = 0;

		for (i = 0; i < n; i++) {
			pfd[i].fd = c[i].done ? -1 : c[i].fd;
			pfd[i].events = c[i].connecting ? POLLOUT : POLLIN;
			pfd[i].revents = 0;
			live += !c[i].done;
		}
		if (live == 0)
			break;
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (c[i].done || pfd[i].revents == 0)
				continue;
			if (c[i].connecting) {
				int err = 0;
				socklen_t len = sizeof(err);

				getsockopt(c[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0) {
					failed++;
					c[i].done = 1;
					close(c[i].fd);
					c[i].fd = -1;
					open_now--;
					continue;
				}
				c[i].connecting = 0;
				connected++;
				if (send_str != NULL)
					(void)!write(c[i].fd, send_str, strlen(send_str));
				continue;
			}
			r = read(c[i].fd, buf, sizeof(buf));
			if (r > 0) {
				size_t k = (size_t)r;

				if (c[i].first_len + k > sizeof(c[i].first) - 1)
					k = sizeof(c[i].first) - 1 - c[i].first_len;
				memcpy(c[i].first + c[i].first_len, buf, k);
				c[i].first_len += k;
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			/* closed (or reset) by the daemon */
			c[i].done = 1;
			close(c[i].fd);
			open_now--;
		}
	}
	for (i = 0; i < n; i++) {
		if (c[i].fd < 0)
			continue;
		c[i].first[c[i].first_len] = '\0';
		if (!c[i].done) {
			open_end++;
			close(c[i].fd);
		}
		if (strncmp(c[i].first, "ERROR too many connections", 26) == 0)
			too_many++;
		else if (strncmp(c[i].first, "ERROR closed to make room: ", 27) == 0)
			evicted++;
		else if (strncmp(c[i].first, "ERROR an import ", 16) == 0 &&
		         strstr(c[i].first, " is running since ") != NULL)
			busy++;
		else if (strncmp(c[i].first, "ERROR ", 6) == 0)
			other++;
		else if (c[i].done)
			silent++;
	}
	printf("connected %d\nconnect_failed %d\ntoo_many %d\nevicted %d\nbusy %d\nother_error %d\n"
	       "closed_silent %d\nopen_at_end %d\nmax_open %d\n",
	       connected, failed, too_many, evicted, busy, other, silent, open_end, max_open);
	free(c);
	free(pfd);
	return 0;
}
