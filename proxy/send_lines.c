/*
 * send_lines.c - the lines the daemon sends back to `pgsluice send`:
 * progress lines for the bar, the RESULT line of --json, the OK or ERROR
 * answer and its summary, split out of the socket's bytes.
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

/* ---- the daemon's lines --------------------------------------------------- */

static int
send_starts_word(const char *line, const char *word)
{
	size_t n = strlen(word);

	return strncmp(line, word, n) == 0 &&
	       (line[n] == '\0' || line[n] == ' ' || line[n] == ':' || line[n] == '\t');
}

/* From a progress line, what the daemon is doing: the COPY in progress. */
static void
send_progress_line(struct sender *s, const char *line)
{
	const char *p = strstr(line, ", COPY ");

	if (p != NULL) {
		snprintf(s->doing, sizeof(s->doing), "%s", p + 2);
	} else if ((p = strrchr(line, ',')) != NULL) {
		while (*++p == ' ')
			;
		snprintf(s->doing, sizeof(s->doing), "%s", p);
	}
}

/* A RESULT line (session.h): kept for --json; a busy refusal noted for --wait. 1 if taken. */
static int
send_result_line(struct sender *s, const char *text)
{
	json_t *o = json_loads(text, 0, NULL);
	const char *verdict, *reason;

	if (o == NULL)
		return 0;
	verdict = json_string_value(json_object_get(o, "verdict"));
	reason = json_string_value(json_object_get(o, "reason"));
	if (verdict != NULL && reason != NULL && strcmp(verdict, "refused") == 0 &&
	    strcmp(reason, "busy") == 0)
		s->refused_busy = 1;
	if (s->result == NULL)
		s->result = o;
	else
		json_decref(o);
	return 1;
}

static void
send_line(struct sender *s, char *line)
{
	size_t len = strlen(line);

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if ((s->json || s->wait > 0) && s->answer == SEND_ANSWER_NONE &&
	    strcmp(line, "READY") == 0) {
		s->await_ready = 0; /* the dump may go */
		return;
	}
	if (s->await_ready && s->answer == SEND_ANSWER_NONE && send_starts_word(line, "ERROR")) {
		/* a refusal: printed as the answer unless --wait tries again */
		snprintf(s->held, sizeof(s->held), "%s", line);
		s->answer = SEND_ANSWER_ERROR;
		return;
	}
	if (s->answer == SEND_ANSWER_NONE) {
		if (strncmp(line, "progress:", 9) == 0) {
			send_progress_line(s, line);
			if (s->quiet)
				return;
			if (s->tty) {
				send_draw(s, 1);
			} else {
				fprintf(stderr, "%s\n", line);
				fflush(stderr);
			}
			return;
		}
		if (send_starts_word(line, "OK"))
			s->answer = SEND_ANSWER_OK;
		else if (send_starts_word(line, "ERROR"))
			s->answer = SEND_ANSWER_ERROR;
		if (s->answer == SEND_ANSWER_NONE) {
			/* a notice before the answer (a warning, a refusal's detail) */
			send_bar_clear(s);
			fprintf(stderr, "%s\n", line);
			fflush(stderr);
			return;
		}
		send_bar_clear(s);
	}
	if ((s->json || s->wait > 0) && strncmp(line, "RESULT ", 7) == 0 &&
	    send_result_line(s, line + 7))
		return;
	/* with --json, stdout has the object alone: the text answer goes to stderr */
	fprintf(s->json ? stderr : stdout, "%s\n", line);
	fflush(s->json ? stderr : stdout);
}

/*
 * --json: one object on stdout: the daemon's result (jsonout.h), or, when
 * none came, {"verdict": "no answer"}, with what send saw added as
 * "client": bytes sent, seconds, exit status.
 */
void
send_print_json(struct sender *s, int rc)
{
	json_t *o = s->result != NULL
	                    ? json_incref(s->result)
	                    : json_pack("{s:s, s:b}", "verdict",
	                                rc == SEND_EXIT_INTERRUPTED ? "interrupted" : "no answer",
	                                "committed", 0);
	char *text;

	if (o == NULL)
		return;
	json_object_set_new(o, "client",
	                    json_pack("{s:I, s:I, s:f, s:i}", "bytes_sent", (json_int_t)s->sent,
	                              "bytes_received", (json_int_t)s->got, "seconds",
	                              report_now() - s->start, "exit_status", rc));
	text = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (text != NULL) {
		printf("%s\n", text);
		fflush(stdout);
		free(text);
	}
	json_decref(o);
}

static void
send_feed(struct sender *s, const char *buf, size_t len)
{
	const char *nl;
	size_t take;

	while (len > 0) {
		nl = memchr(buf, '\n', len);
		take = nl != NULL ? (size_t)(nl - buf) : len;
		if (take > sizeof(s->line) - 1 - s->line_len)
			take = sizeof(s->line) - 1 - s->line_len;
		memcpy(s->line + s->line_len, buf, take);
		s->line_len += take;
		buf += take;
		len -= take;
		if (len > 0 && *buf == '\n') {
			buf++;
			len--;
		} else if (s->line_len < sizeof(s->line) - 1) {
			continue; /* no newline yet: wait for more */
		}
		/* a whole line, or one too long to keep: pass it on */
		s->line[s->line_len] = '\0';
		send_line(s, s->line);
		s->line_len = 0;
	}
}

/* Read what the daemon sent, until the socket would block. */
void
send_read(struct sender *s)
{
	char buf[16384];
	ssize_t n;

	while (!s->server_eof) {
		n = send_conn_read(s, buf, sizeof(buf));
		if (n == -2)
			return;
		if (n > 0) {
			s->got += (uint64_t)n;
			s->last_rx = report_now();
			send_feed(s, buf, (size_t)n);
			continue;
		}
		s->server_eof = 1;
		if (n < 0) {
			s->read_errno = errno;
			if (errno == ECONNRESET || errno == EPIPE)
				s->server_reset = 1;
		}
		if (s->line_len > 0) { /* a last line without newline */
			s->line[s->line_len] = '\0';
			send_line(s, s->line);
			s->line_len = 0;
		}
	}
}
