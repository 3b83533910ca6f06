/*
 * send_bar.c - the progress bar of `pgsluice send` on a terminal's stderr:
 * one line redrawn every SEND_DRAW_MS, with the rate over the last few
 * seconds, cleared before any other message.
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

/* ---- progress display --------------------------------------------------- */

static int
send_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static void
send_write_stderr(const char *buf, size_t len)
{
	ssize_t n;

	fflush(stderr);
	while (len > 0) {
		n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void
send_bar_clear(struct sender *s)
{
	if (!s->bar_shown)
		return;
	send_write_stderr("\r\033[K", 4);
	s->bar_shown = 0;
}

/* Bytes per second over the last few seconds (since the start at first). */
static double
send_rate(struct sender *s, double now)
{
	struct send_sample *old;

	if (s->n_samples == 0 || now - s->samples[0].t < 0.5)
		return now - s->start > 0.2 ? (double)s->sent / (now - s->start) : 0;
	old = &s->samples[0];
	if (now - old->t < 0.001)
		return 0;
	return (double)(s->sent - old->bytes) / (now - old->t);
}

static void
send_sample(struct sender *s, double now)
{
	if (s->n_samples > 0 && now - s->samples[s->n_samples - 1].t < 1.0)
		return;
	if (s->n_samples == SEND_RATE_SAMPLES) {
		memmove(s->samples, s->samples + 1,
		        (SEND_RATE_SAMPLES - 1) * sizeof(s->samples[0]));
		s->n_samples--;
	}
	s->samples[s->n_samples].t = now;
	s->samples[s->n_samples].bytes = s->sent;
	s->n_samples++;
}

/*
 * Redraw the progress line (terminal only), at most every SEND_DRAW_MS
 * unless force:
 *   [#######.............]  35%  94.1 MB of 267.0 MB, 12.1 MB/s, 0:14 left, COPY public.events 1520 rows
 */
/* Draw line (n bytes, "\r" first) cut to the terminal's width, and clear the rest. */
static void
send_write_line(struct sender *s, char *line, int n, int cols)
{
	if (n > cols) /* "\r" plus cols - 1 characters: no wrap */
		n = cols;
	if (n > SEND_BAR_MAX - 4) /* room for "\033[K" */
		n = SEND_BAR_MAX - 4;
	memcpy(line + n, "\033[K", 3);
	send_write_stderr(line, (size_t)n + 3);
	s->bar_shown = 1;
}

void
send_draw(struct sender *s, int force)
{
	char line[SEND_BAR_MAX], a[32], b[32], r[32], t[32];
	double now = report_now(), rate, pct;
	int n = 0, cols, fill, i;

	if (!s->tty)
		return;
	if (!force && now - s->last_draw < SEND_DRAW_MS / 1000.0)
		return;
	s->last_draw = now;
	cols = send_columns();
	send_sample(s, now);
	rate = send_rate(s, now);
	report_size(s->sent, a, sizeof(a));
	report_size((uint64_t)rate, r, sizeof(r));
	n = snprintf(line, sizeof(line), "\r");
	if (s->in_eof && s->out_len == 0 && strncmp(s->doing, "running ", 8) == 0) {
		/* the daemon's slow half: what runs there matters, not the bytes */
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s sent; %s", a, s->doing + 8);
		send_write_line(s, line, n, cols);
		return;
	} else if (s->in_eof && s->out_len == 0) {
		send_duration(s->input_done_at - s->start, t, sizeof(t));
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		              "%s sent in %s, waiting for the daemon", a, t);
	} else if (s->in_total > 0) {
		pct = (double)s->sent / (double)s->in_total;
		if (pct > 1)
			pct = 1;
		if (cols >= 100) { /* else the table in progress matters more */
			fill = (int)(pct * 20);
			line[n++] = '[';
			for (i = 0; i < 20; i++)
				line[n++] = i < fill ? '#' : '.';
			line[n++] = ']';
			line[n++] = ' ';
		}
		report_size(s->in_total, b, sizeof(b));
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%3d%%  %s of %s, %s/s",
		              (int)(pct * 100), a, b, r);
		if (rate > 1 && s->sent < s->in_total) {
			send_duration((double)(s->in_total - s->sent) / rate, t, sizeof(t));
			n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s left", t);
		}
	} else {
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s sent, %s/s", a, r);
	}
	if (s->doing[0] != '\0' && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s", s->doing);
	send_write_line(s, line, n, cols);
}
