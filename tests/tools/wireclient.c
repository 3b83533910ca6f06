/*
 * wireclient.c - a PostgreSQL-protocol client that misbehaves on purpose,
 * to see that pgsluice answers with an ErrorResponse and closes.
 *
 *	wireclient HOST PORT MODE
 *
 * Connects to HOST:PORT (IPv4), sends a StartupMessage (protocol 3.0,
 * user "wire", database "synapse"), reads until ReadyForQuery (no
 * password: the daemon runs without a token), then sends, by MODE:
 *
 *	garbage     "hello, this is not a protocol message\n"
 *	oversize    a Query whose length says 2 GB - 1
 *	copydata    a CopyData outside COPY
 *	extended    a Parse message (the extended query protocol)
 *	startup-garbage   garbage in place of the StartupMessage
 *	terminate   Terminate at once (a health probe)
 *
 * and reads what comes back until the daemon closes.  Prints one line per
 * message received ("E FATAL 08P01 message", "Z I", ...) and "closed" at
 * the end.  Exit status: 0 if an ErrorResponse came (terminate: if none
 * came) and the connection was closed by the daemon within 10 s, 1 if
 * not, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes within the deadline; 0 ok, -1 closed/error, -2 timeout. */
static int
recv_all(int fd, unsigned char *buf, size_t len)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;

	while (got < len) {
		ssize_t n;
		int r = poll(&pfd, 1, 10000);

		if (r == 0)
			return -2;
		if (r < 0 && errno == EINTR)
			continue;
		n = recv(fd, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Read one message; print it.  Returns its type, 0 when closed, -2 on timeout. */
static int
read_message(int fd, int *saw_error)
{
	unsigned char h[5], *body;
	uint32_t len;
	int r = recv_all(fd, h, 5);

	if (r < 0)
		return r == -2 ? -2 : 0;
	len = get32(h + 1);
	if (len < 4 || len > (1u << 24)) {
		printf("bad length %u\n", len);
		return 0;
	}
	body = malloc(len - 4 + 1);
	if (body == NULL)
		return 0;
	if (recv_all(fd, body, len - 4) < 0) {
		free(body);
		return 0;
	}
	body[len - 4] = '\0';
	if (h[0] == 'E' || h[0] == 'N') {
		const char *sev = "", *code = "", *msg = "";
		unsigned char *p = body;

		while (*p && p < body + len - 4) {
			char f = (char)*p++;

			if (f == 'S')
				sev = (char *)p;
			else if (f == 'C')
				code = (char *)p;
			else if (f == 'M')
				msg = (char *)p;
			p += strlen((char *)p) + 1;
		}
		printf("%c %s %s %s\n", h[0], sev, code, msg);
		if (h[0] == 'E')
			*saw_error = 1;
	} else if (h[0] == 'Z') {
		printf("Z %c\n", body[0]);
	} else {
		printf("%c\n", h[0]);
	}
	free(body);
	return h[0];
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	unsigned char buf[256];
	const char *mode;
	size_t n;
	int fd, t, saw_error = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: wireclient HOST PORT garbage|oversize|copydata|extended|"
		                "startup-garbage|terminate\n");
		return 2;
	}
	mode = argv[3];
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "wireclient: bad address %s\n", argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("wireclient: connect");
		return 1;
	}
	if (strcmp(mode, "startup-garbage") == 0) {
		/* a length that says 8 bytes, then a code that is no protocol */
		static const unsigned char g[] = { 0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78 };

		if (send_all(fd, g, sizeof(g)) < 0)
			return 1;
	} else {
		static const char params[] = "user\0wire\0database\0synapse\0application_name\0"
					     "wireclient\0";

		n = 8 + sizeof(params) - 1 + 1;
		put32(buf, (uint32_t)n);
		put32(buf + 4, 3u << 16);
		memcpy(buf + 8, params, sizeof(params) - 1);
		buf[n - 1] = '\0';
		if (send_all(fd, buf, n) < 0)
			return 1;
		for (;;) {
			t = read_message(fd, &saw_error);
			if (t == 'Z')
				break;
			if (t <= 0) {
				printf("closed before ReadyForQuery\n");
				return 1;
			}
		}
		if (strcmp(mode, "garbage") == 0) {
			static const char g[] = "hello, this is not a protocol message\n";

			if (send_all(fd, g, sizeof(g) - 1) < 0)
				return 1;
		} else if (strcmp(mode, "oversize") == 0) {
			buf[0] = 'Q';
			put32(buf + 1, 0x7fffffffu);
			memcpy(buf + 5, "SELECT 1", 8);
			if (send_all(fd, buf, 13) < 0)
				return 1;
		} else if (strcmp(mode, "copydata") == 0) {
			buf[0] = 'd';
			put32(buf + 1, 4 + 6);
			memcpy(buf + 5, "1\tabc\n", 6);
			if (send_all(fd, buf, 11) < 0)
				return 1;
		} else if (strcmp(mode, "terminate") == 0) {
			static const unsigned char x[] = { 'X', 0, 0, 0, 4 };

			if (send_all(fd, x, sizeof(x)) < 0)
				return 1;
		} else if (strcmp(mode, "extended") == 0) {
			/* Parse: unnamed statement "SELECT 1", no parameter types; then Sync */
			static const unsigned char p[] = { 'P', 0,   0,   0,   15,  0,   'S', 'E',
				                           'L', 'E', 'C', 'T', ' ', '1', 0,   0,
				                           0,   'S', 0,   0,   0,   4 };

			if (send_all(fd, p, sizeof(p)) < 0)
				return 1;
		} else {
			fprintf(stderr, "wireclient: unknown mode %s\n", mode);
			return 2;
		}
	}
	for (;;) {
		t = read_message(fd, &saw_error);
		if (t == -2) {
			printf("timeout: the daemon did not close\n");
			return 1;
		}
		if (t == 0)
			break;
		if (t == 'Z' && strcmp(mode, "extended") == 0) {
			/* the extended protocol is refused without closing: end politely */
			static const unsigned char x[] = { 'X', 0, 0, 0, 4 };

			(void)send_all(fd, x, sizeof(x));
		}
	}
	printf("closed\n");
	close(fd);
	if (strcmp(mode, "terminate") == 0)
		return saw_error ? 1 : 0;
	return saw_error ? 0 : 1;
}
