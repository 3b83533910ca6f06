/*
 * send_loop.c - the data path of `pgsluice send`: the input opened (file
 * or pipe, compressed or not), read one chunk at a time and only when the
 * previous chunk has gone out, the write side shut down at its end, and
 * the poll loop that reads the daemon's answer all along.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <jansson.h>

#include "auth.h"
#include "cli.h"
#include "report.h"
#include "send.h"
#include "session.h"
#include "sendzstd.h"
#include "send_int.h"

int
send_open_input(struct sender *s)
{
	struct stat st;
	off_t pos;

	if (s->path == NULL || strcmp(s->path, "-") == 0) {
		if (isatty(STDIN_FILENO)) {
			send_warn(NULL,
			          "stdin is a terminal; pipe a dump in (pg_dump -O "
			          "synapse | pgsluice send %s) or name a file",
			          s->addr);
			return -1;
		}
		s->in_fd = STDIN_FILENO;
		s->path = "stdin";
	} else {
		s->in_fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->in_fd < 0) {
			send_warn(NULL, "%s: %s", s->path, strerror(errno));
			return -1;
		}
	}
	if (fstat(s->in_fd, &st) < 0) {
		send_warn(NULL, "%s: %s", s->path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		send_warn(NULL, "%s: is a directory", s->path);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		s->in_regular = 1;
		pos = lseek(s->in_fd, 0, SEEK_CUR);
		if (pos < 0)
			pos = 0;
		s->in_total = st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
	}
	return 0;
}

/*
 * --compress: the input is read through the compressor (sendzstd.h).  The
 * bar then counts compressed bytes sent, which a plain file's size does
 * not bound: no percentage.
 */
int
send_compressor(struct sender *s)
{
	char err[256];
	int level;
	long cpus;

	if (s->compress == NULL) {
		if (s->threads >= 0) {
			send_warn(NULL, "--threads needs --compress zstd");
			return -1;
		}
		return 0;
	}
	if (sendzstd_parse(s->compress, &level, err, sizeof(err)) < 0) {
		send_warn(NULL, "%s", err);
		return -1;
	}
	if (s->threads < 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		s->threads = cpus > 0 ? (int)cpus : 1;
	}
	if ((s->zs = sendzstd_new(level, s->threads, err, sizeof(err))) == NULL) {
		send_warn(NULL, "%s", err);
		return -1;
	}
	s->in_total = 0;
	return 0;
}

/* ---- input and output ------------------------------------------------------ */

/* Read the next chunk of the dump into the (empty) out buffer. */
static void
send_fill(struct sender *s)
{
	ssize_t n;

	for (;;) {
		if (s->zs != NULL)
			n = sendzstd_fill(s->zs, s->in_fd, s->in_regular, s->out, sizeof(s->out));
		else
			n = read(s->in_fd, s->out, sizeof(s->out));
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (s->zs != NULL && !s->passthrough_told && sendzstd_passthrough(s->zs) != NULL) {
		s->passthrough_told = 1;
		if (!s->quiet)
			send_warn(s, "%s is %s already: sent as it is, not compressed again",
			          s->path, sendzstd_passthrough(s->zs));
	}
	if (n == -2)
		return; /* the compressor holds what it read: more input first */
	if (n < 0) {
		send_warn(s,
		          "reading %s: %s (the dump is cut short: the daemon will "
		          "roll back)",
		          s->path,
		          s->zs != NULL && errno == EIO ? sendzstd_error(s->zs) : strerror(errno));
		s->in_failed = 1;
		s->in_eof = 1;
	} else if (n == 0) {
		s->in_eof = 1;
	} else {
		s->out_off = 0;
		s->out_len = (size_t)n;
	}
	if (s->in_eof)
		s->input_done_at = report_now();
}

/* Write the out buffer until it is empty or the socket would block. */
static void
send_flush(struct sender *s)
{
	ssize_t n;
	size_t a;

	while (s->out_off < s->out_len && !s->write_dead) {
		n = send_conn_write(s, s->out + s->out_off, s->out_len - s->out_off);
		if (n == -2)
			return;
		if (n < 0) {
			s->write_dead = 1;
			s->write_errno = errno;
			return;
		}
		a = (size_t)n < s->auth_left ? (size_t)n : s->auth_left;
		s->auth_left -= a;
		s->sent += (uint64_t)n - a;
		s->out_off += (size_t)n;
	}
	if (s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
}

/*
 * The input is done: half-close.  With TLS, a close_notify first (an
 * OpenSSL peer that sees a FIN without it takes the connection as broken
 * and can no longer write its answer); reading goes on either way.
 * Returns with write_shut set, or unset if SSL_shutdown must be retried
 * when the socket is writable.
 */
static void
send_shut_write(struct sender *s)
{
	int r, e;

	if (s->ssl != NULL && !s->write_dead) {
		ERR_clear_error();
		r = SSL_shutdown(s->ssl);
		if (r < 0) {
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				s->shut_wants_write = 1;
				return;
			}
			s->write_dead = 1;
			s->write_errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPIPE;
		}
		s->shut_wants_write = 0;
	}
	s->write_shut = 1;
	if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
		s->write_dead = 1;
		s->write_errno = errno;
	}
}

/* The poll loop: send the dump, read the answer, until the daemon closes. */
void
send_loop(struct sender *s)
{
	struct pollfd pfd[3];
	int nfd, timeout, r, want_input;

	while (!s->server_eof && !send_signal) {
		if (s->await_ready && s->answer == SEND_ANSWER_NONE &&
		    report_now() - s->start > SEND_CONNECT_TIMEOUT_MS / 1000.0) {
			send_warn(s,
			          "the daemon did not say READY within %d s: --wait needs a daemon "
			          "that knows it (as new as this send)",
			          SEND_CONNECT_TIMEOUT_MS / 1000);
			break;
		}
		if (s->write_dead || s->answer != SEND_ANSWER_NONE) {
			/* no point reading more of the dump: stop sending it */
			if (!s->in_eof)
				s->input_done_at = report_now();
			s->in_eof = 1;
			if (!s->write_shut && (s->write_dead || s->out_len == 0))
				send_shut_write(s);
		}
		if (s->out_len == 0 && !s->in_eof && s->in_regular && !s->await_ready)
			send_fill(s);
		if (s->out_len > 0)
			send_flush(s);
		if (s->out_len == 0 && s->in_eof && !s->write_shut)
			send_shut_write(s);
		if (s->ssl != NULL && SSL_pending(s->ssl) > 0) {
			send_read(s);
			continue;
		}

		want_input = s->out_len == 0 && !s->in_eof && !s->write_dead && !s->await_ready;
		pfd[0].fd = s->fd;
		pfd[0].events = POLLIN;
		if ((s->out_len > 0 && !s->write_dead) || s->read_wants_write ||
		    s->shut_wants_write)
			pfd[0].events |= POLLOUT;
		pfd[0].revents = 0;
		pfd[1].fd = send_wake[0];
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		nfd = 2;
		if (want_input && !s->in_regular) {
			pfd[2].fd = s->in_fd;
			pfd[2].events = POLLIN;
			pfd[2].revents = 0;
			nfd = 3;
		}
		if (want_input && s->in_regular)
			timeout = 0;
		else if (s->tty && !s->quiet)
			timeout = SEND_DRAW_MS;
		else
			timeout = -1;
		if (s->await_ready && (timeout < 0 || timeout > SEND_DRAW_MS))
			timeout = SEND_DRAW_MS;
		if (s->answer != SEND_ANSWER_NONE) {
			/* the daemon closes right after the summary; don't hang if not */
			if (report_now() - s->last_rx > SEND_LINGER_S)
				break;
			if (timeout < 0 || timeout > 1000)
				timeout = 1000;
		}
		r = poll(pfd, (nfds_t)nfd, timeout);
		if (r < 0 && errno != EINTR) {
			send_warn(s, "poll: %s", strerror(errno));
			s->server_eof = 1;
			s->read_errno = errno;
			break;
		}
		if (r > 0 && pfd[0].revents != 0)
			send_read(s);
		if (r > 0 && nfd == 3 && pfd[2].revents != 0 && !s->write_dead &&
		    s->answer == SEND_ANSWER_NONE)
			send_fill(s);
		if (!s->quiet)
			send_draw(s, 0);
	}
}
