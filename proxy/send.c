/*
 * send.c - `pgsluice send`: send a dump to a pgsluice daemon and tell how
 * it went.
 *
 *	pg_dump -O synapse | gzip | pgsluice send ees-host:5480
 *
 * The protocol is the one nc speaks, nothing more: the dump's bytes go one
 * way, as they are (plain, gzip, zstd or lz4; the daemon sniffs), preceded by one line
 * "AUTH <token>" when a token file is given; text lines come back:
 * "progress: ..." while the daemon imports, then one line starting "OK" or
 * "ERROR", the summary (indented), and the daemon closes the connection.
 * send adds comfort (a progress bar, TLS with certificate checks, the token
 * line, an exit status a script can test) and no protocol of its own.
 *
 * One thread, one poll(2) loop, a non-blocking socket (OpenSSL on the
 * socket directly for --tls).  The input is read one chunk at a time, and
 * only when the previous chunk has gone out, so memory stays at one chunk
 * whatever the dump's size, and a slow daemon slows the reading down.  The
 * socket is read all along: the daemon may answer ERROR early and close
 * while we still send; then sending stops, its answer is printed, and the
 * EPIPE or reset that follows is not a failure of its own.
 *
 * When the input ends, the write side is shut down (shutdown(SHUT_WR), the
 * EOF `nc -N` gives), and the answer is read until the daemon closes.  The
 * daemon ends a complete dump at pg_dump's trailer line without waiting for
 * that EOF; the EOF is what tells it, at once, that a dump without the
 * trailer is truncated.  With TLS a close_notify goes first, then the same
 * TCP half-close; the answer is still read (TLS allows each side to close
 * its sending half alone).
 *
 * SIGINT or SIGTERM (Ctrl-C) at any point before the answer aborts: the
 * connection is reset (SO_LINGER 0, no FIN, no close_notify), so that the
 * daemon sees a lost client rather than the end of a dump, and send says
 * how far it got and what the daemon does with that.  The handler only
 * notes the signal and wakes the poll loop through a self-pipe.
 *
 * This file holds the command: its options, the address and the token,
 * and the run from connect to exit status.  The connection is in
 * send_conn.c, the data path and the poll loop in send_loop.c, the
 * daemon's lines in send_lines.c, the progress bar in send_bar.c; they
 * share struct sender through send_int.h.
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

static void
send_usage(FILE *f)
{
	fprintf(f,
	        "usage: pgsluice send [options] HOST:PORT [FILE|-]\n"
	        "\n"
	        "Sends a dump (FILE, or stdin when FILE is - or missing; plain SQL,\n"
	        "gzip, zstd or lz4, sent as it is) to a `pgsluice serve` daemon, shows the import's\n"
	        "progress, prints the daemon's answer (OK or ERROR and the summary) on\n"
	        "stdout, and exits with a status a script can test:\n"
	        "\n"
	        "  pg_dump -O synapse | gzip | pgsluice send ees-host:5480\n"
	        "  pgsluice send --tls --ca ca.pem ees-host:5480 synapse.sql.gz\n"
	        "\n"
	        "HOST is a name, an IPv4 address or an IPv6 address in brackets\n"
	        "([2001:db8::1]:5480); PORT defaults to " SEND_DEFAULT_PORT ".\n"
	        "\n"
	        "options:\n"
	        "  --tls                  connect with TLS (1.2 or 1.3); the daemon's\n"
	        "                         certificate is verified against the system's CAs\n"
	        "                         and must name HOST\n"
	        "  --ca FILE              verify the daemon's certificate against the CA\n"
	        "                         certificate(s) in FILE instead (implies --tls);\n"
	        "                         for a self-signed daemon, its own certificate\n"
	        "  --cert FILE            client certificate, when the daemon asks for one\n"
	        "                         (implies --tls)\n"
	        "  --key FILE             its private key (default: in the --cert file)\n"
	        "  --token-file FILE      send \"AUTH <token>\" first, the token being FILE's\n"
	        "                         first line; FILE must not be accessible by group\n"
	        "                         or others (chmod 600)\n"
	        "  --compress zstd[:LEVEL]  compress a plain dump with zstd (LEVEL 1-19,\n"
	        "                         default 3) on its way out, on --threads workers; input\n"
	        "                         that is already gzip, zstd or lz4 goes as it is\n"
	        "  --threads N            zstd worker threads (default: the CPUs online;\n"
	        "                         0: compress in send's own thread)\n"
	        "  -q, --quiet            no progress (the answer is still printed)\n"
	        "  --size BYTES           the dump's size when it comes on a pipe (as pv -s:\n"
	        "                         42M, 3G), for the bar's %% and time left\n"
	        "  --wait[=SECONDS]       while the daemon is busy with another import, wait\n"
	        "                         and try again, for SECONDS (default 3600); the dump\n"
	        "                         is sent only once the daemon is ready for it\n"
	        "  --json                 print the import's result on stdout as one JSON\n"
	        "                         object (README: Machine-readable results); the\n"
	        "                         daemon's text answer goes to stderr\n"
	        "  -v, --verbose          the daemon's progress lines as they come, also on\n"
	        "                         a terminal (instead of the bar)\n"
	        "  --version              print the version and exit\n"
	        "  -h, --help             this text\n"
	        "\n"
	        "Progress goes to stderr: a bar redrawn in place on a terminal (bytes\n"
	        "sent of the file's size, rate, time left, the table being copied),\n"
	        "otherwise the daemon's progress lines as they come.  Other lines the\n"
	        "daemon sends before its answer (what --clear-target dropped, warnings)\n"
	        "go to stderr too; stdout has the answer alone.\n"
	        "\n"
	        "exit status:\n"
	        "  0  the daemon answered OK: the import is committed\n"
	        "  1  the daemon answered ERROR: nothing was changed (see the message)\n"
	        "  2  nothing was imported because of a problem on this side: usage, the\n"
	        "     input or token file, name resolution, connection refused, TLS\n"
	        "  3  the connection dropped, or the daemon closed it, before it answered\n"
	        "     OK or ERROR: the daemon rolls back an import it did not finish,\n"
	        "     but check its log\n"
	        "  4  interrupted (Ctrl-C, SIGINT or SIGTERM) before the daemon answered:\n"
	        "     the connection is reset and send says what the daemon does with\n"
	        "     what it had\n"
	        "\n"
	        "stdin must be a file or a pipe, not a terminal.\n");
}

void
send_warn(struct sender *s, const char *fmt, ...)
{
	va_list ap;

	if (s != NULL)
		send_bar_clear(s);
	fputs("pgsluice send: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
send_duration(double secs, char *buf, size_t size)
{
	unsigned long t = secs < 0 ? 0 : (unsigned long)(secs + 0.5);

	if (t >= 3600)
		snprintf(buf, size, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, size, "%lu:%02lu", t / 60, t % 60);
}

/* ---- options, address, token ------------------------------------------ */

/*
 * "host:port", "[v6]:port", "host" (default port), "2001:db8::1" (a bare
 * IPv6 address: default port).  Returns 0, or -1 with a message.
 */
static int
send_parse_addr(struct sender *s)
{
	const char *a = s->addr, *close, *colon, *port = SEND_DEFAULT_PORT;
	size_t hlen;
	char *end;
	long p;

	if (a[0] == '[') {
		close = strchr(a, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			send_warn(NULL, "%s: want [IPv6]:PORT, like [2001:db8::1]:5480", a);
			return -1;
		}
		a++;
		hlen = (size_t)(close - a);
		if (close[1] == ':')
			port = close + 2;
	} else {
		colon = strrchr(a, ':');
		if (colon != NULL && strchr(a, ':') == colon) {
			hlen = (size_t)(colon - a);
			port = colon + 1;
		} else {
			hlen = strlen(a);
		}
	}
	if (hlen == 0 || hlen >= sizeof(s->host)) {
		send_warn(NULL, "%s: want HOST:PORT, like ees-host:5480", s->addr);
		return -1;
	}
	memcpy(s->host, a, hlen);
	s->host[hlen] = '\0';
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
		send_warn(NULL, "%s: bad port \"%s\" (want 1-65535)", s->addr, port);
		return -1;
	}
	snprintf(s->port, sizeof(s->port), "%ld", p);
	return 0;
}

/*
 * Put "AUTH <token>\n" at the head of the out buffer, the token being the
 * first line of the token file, read and checked as serve reads its own
 * (auth_read_token: a file group or others may access is refused, like
 * ssh's private keys).  Returns 0 or -1 with a message.
 */
static int
send_load_token(struct sender *s)
{
	char tok[AUTH_TOKEN_MAX], err[512];
	size_t len;

	if (auth_read_token(s->token_file, tok, &len, err, sizeof(err)) < 0) {
		send_warn(NULL, "%s", err);
		return -1;
	}
	memcpy(s->out, "AUTH ", 5);
	memcpy(s->out + 5, tok, len);
	s->out[5 + len] = '\n';
	s->out_len = s->auth_left = 5 + len + 1;
	explicit_bzero(tok, sizeof(tok));
	return 0;
}

/* ---- main --------------------------------------------------------------------- */

/* The connection to the daemon (TLS and socket), closed and forgotten. */
static void
send_close_conn(struct sender *s)
{
	if (s->ssl != NULL)
		SSL_free(s->ssl);
	if (s->ctx != NULL)
		SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	s->ssl = NULL;
	s->ctx = NULL;
	s->fd = -1;
}

static void
send_free(struct sender *s)
{
	send_close_conn(s);
	if (s->in_fd > STDIN_FILENO)
		close(s->in_fd);
	sendzstd_free(s->zs);
	explicit_bzero(s->out, sizeof(s->out));
	json_decref(s->result);
	free(s);
}

/* Close without FIN or close_notify: the daemon sees a reset, not an end. */
static void
send_reset(struct sender *s)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (s->fd < 0)
		return;
	setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	if (s->ssl != NULL) {
		SSL_free(s->ssl); /* no SSL_shutdown: no close_notify */
		s->ssl = NULL;
	}
	close(s->fd);
	s->fd = -1;
}

/*
 * SIGINT or SIGTERM came before the answer: reset the connection and say
 * how far the dump got, and what the daemon does with that.
 */
int
send_interrupted(struct sender *s)
{
	const char *sig = send_signal == SIGTERM ? "SIGTERM" : "SIGINT";
	char a[32], b[32], of[48] = "";

	send_bar_clear(s);
	if (s->fd < 0) {
		send_warn(s,
		          "interrupted (%s) before the connection to %s port %s was "
		          "made: nothing was sent",
		          sig, s->host, s->port);
		return SEND_EXIT_INTERRUPTED;
	}
	send_reset(s);
	report_size(s->sent, a, sizeof(a));
	if (s->in_total > 0) {
		report_size(s->in_total, b, sizeof(b));
		snprintf(of, sizeof(of), " of %s (%d%%)", b,
		         (int)(100.0 * (double)s->sent / (double)s->in_total));
	}
	if (s->sent == 0) {
		send_warn(s,
		          "interrupted (%s) before any of the dump was sent: the "
		          "connection to %s port %s is reset; nothing was imported",
		          sig, s->host, s->port);
	} else if (!s->in_eof || s->out_len > 0 || s->in_failed) {
		send_warn(s,
		          "interrupted (%s) after sending %s%s: the connection to "
		          "%s port %s is reset",
		          sig, a, of, s->host, s->port);
		fprintf(stderr, "pgsluice send: the daemon did not get the end of the "
		                "dump, so it rolls the import back and the target stays as it "
		                "was; `pgsluice check` shows the target\n");
	} else {
		send_warn(s,
		          "interrupted (%s) after the whole dump (%s) was sent, "
		          "before the daemon answered: the connection to %s port %s "
		          "is reset",
		          sig, a, s->host, s->port);
		fprintf(stderr, "pgsluice send: the daemon rolls back an import whose "
		                "client is gone before its COMMIT; check with `pgsluice "
		                "check`\n");
	}
	return SEND_EXIT_INTERRUPTED;
}

static int
send_result(struct sender *s)
{
	char a[32], b[32], t[48];

	send_bar_clear(s);
	if (s->answer == SEND_ANSWER_OK)
		return SEND_EXIT_OK;
	if (s->answer == SEND_ANSWER_ERROR)
		return s->in_failed ? SEND_EXIT_LOCAL : SEND_EXIT_ERROR;
	report_size(s->sent, a, sizeof(a));
	if (s->in_total > 0) {
		report_size(s->in_total, b, sizeof(b));
		snprintf(t, sizeof(t), " of %s", b);
	} else {
		t[0] = '\0';
	}
	if (s->tls_error[0] != '\0' && s->got == 0) {
		/* TLS 1.3: a client certificate is checked after our handshake */
		send_warn(s, "the daemon ended the TLS session: %s", s->tls_error);
		if (strstr(s->tls_error, "certificate") != NULL)
			fprintf(stderr, "pgsluice send: it wants a client certificate it "
			                "trusts: --cert FILE [--key FILE]\n");
		return SEND_EXIT_LOCAL;
	}
	if (s->server_reset || s->read_errno != 0)
		send_warn(s,
		          "the connection to %s port %s was lost before the daemon "
		          "answered (%s; %s%s sent)",
		          s->host, s->port,
		          s->tls_error[0] ? s->tls_error : strerror(s->read_errno), a, t);
	else
		send_warn(s,
		          "the daemon closed the connection without answering OK or "
		          "ERROR (%s%s sent)",
		          a, t);
	if (s->got == 0 && s->ssl == NULL)
		fprintf(stderr, "pgsluice send: nothing came back at all: if the daemon "
		                "listens with TLS, add --tls\n");
	else
		fprintf(stderr, "pgsluice send: an import it did not finish is rolled "
		                "back; its log says what happened\n");
	return s->in_failed ? SEND_EXIT_LOCAL : SEND_EXIT_NO_ANSWER;
}

/* After the AUTH line: ask for the RESULT line (--json) and READY (--wait); session.h. */
static void
send_request(struct sender *s)
{
	size_t n = strlen(SESSION_RESULT_REQUEST);

	if (!s->json && s->wait <= 0)
		return;
	memcpy(s->out + s->out_len, SESSION_RESULT_REQUEST, n);
	s->out_len += n;
	s->auth_left += n;
	s->await_ready = s->wait > 0;
}

/* Sleep ms, woken early by SIGINT/SIGTERM: 0, or -1 when interrupted. */
static int
send_pause(int ms)
{
	struct pollfd p = { .fd = send_wake[0], .events = POLLIN };

	(void)poll(&p, 1, ms);
	return send_signal ? -1 : 0;
}

/* --wait: forget the refused connection; the next try starts as the first. */
static int
send_again(struct sender *s)
{
	send_close_conn(s);
	s->read_wants_write = s->write_shut = s->shut_wants_write = s->write_dead = 0;
	s->write_errno = s->server_eof = s->server_reset = s->read_errno = 0;
	s->got = 0;
	s->tls_error[0] = '\0';
	s->out_off = s->out_len = s->auth_left = 0;
	s->line_len = 0;
	s->answer = SEND_ANSWER_NONE;
	json_decref(s->result);
	s->result = NULL;
	s->doing[0] = s->held[0] = '\0';
	s->refused_busy = 0;
	/* the refusal stopped the input (in_eof) before any of it was read */
	s->in_eof = 0;
	s->input_done_at = 0;
	if (s->token_file != NULL && send_load_token(s) < 0)
		return -1;
	send_request(s);
	return 0;
}

int
send_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tls", no_argument, NULL, OPT_TLS },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "wait", optional_argument, NULL, OPT_WAIT },
		{ "compress", required_argument, NULL, OPT_COMPRESS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct sender *s;
	char a[32], t[32];
	double secs;
	long long size = 0;
	double deadline;
	int c, rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		send_warn(NULL, "out of memory");
		return SEND_EXIT_LOCAL;
	}
	s->fd = -1;
	s->in_fd = -1;
	s->threads = -1;
	optind = 1;
	while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts, "pgsluice send")) !=
	       -1) {
		switch (c) {
		case OPT_TLS:
			s->tls = 1;
			break;
		case OPT_CA:
			s->tls = 1;
			s->ca = optarg;
			break;
		case OPT_CERT:
			s->tls = 1;
			s->cert = optarg;
			break;
		case OPT_KEY:
			s->key = optarg;
			break;
		case OPT_TOKEN_FILE:
			s->token_file = optarg;
			break;
		case OPT_COMPRESS:
			s->compress = optarg;
			break;
		case OPT_THREADS: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (end == optarg || *end != '\0' || v < 0 || v > 200) {
				send_warn(NULL, "--threads %s: want a number of threads, 0 to 200",
				          optarg);
				free(s);
				return SEND_EXIT_LOCAL;
			}
			s->threads = (int)v;
			break;
		}
		case 'q':
			s->quiet = 1;
			break;
		case 'v':
			s->verbose = 1;
			break;
		case OPT_JSON:
			s->json = 1;
			break;
		case OPT_WAIT:
			s->wait = SEND_WAIT_DEFAULT_S;
			if (optarg != NULL) {
				char *end;

				s->wait = strtod(optarg, &end);
				if (end == optarg || *end != '\0' || s->wait <= 0 ||
				    s->wait > 7 * 86400) {
					(void)cli_usage_error("pgsluice send",
					                      "--wait=%s: want seconds, e.g. "
					                      "--wait=600 (--wait alone: %d)",
					                      optarg, SEND_WAIT_DEFAULT_S);
					free(s);
					return SEND_EXIT_LOCAL;
				}
			}
			break;
		case OPT_SIZE:
			size = cli_parse_size(optarg);
			if (size <= 0) {
				free(s);
				(void)cli_usage_error("pgsluice send",
				                      "--size %s: want the dump's size in "
				                      "bytes, e.g. 7541318, 900M or 12G",
				                      optarg);
				return SEND_EXIT_LOCAL;
			}
			break;
		case 'h':
			send_usage(stdout);
			free(s);
			return SEND_EXIT_OK;
		default:
			free(s);
			return SEND_EXIT_LOCAL;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		free(s);
		if (optind >= argc)
			(void)cli_usage_error("pgsluice send",
			                      "the daemon's HOST:PORT is missing, "
			                      "e.g. pgsluice send ees-host:5480 dump.sql.gz");
		else
			(void)cli_usage_error("pgsluice send",
			                      "unexpected argument \"%s\" after "
			                      "HOST:PORT FILE",
			                      argv[argc - 1]);
		return SEND_EXIT_LOCAL;
	}
	if (s->key != NULL && s->cert == NULL) {
		send_warn(NULL, "--key needs --cert");
		free(s);
		return SEND_EXIT_LOCAL;
	}
	s->addr = argv[optind];
	s->path = optind + 1 < argc ? argv[optind + 1] : NULL;
	s->tty = !s->quiet && !s->verbose && isatty(STDERR_FILENO);

	signal(SIGPIPE, SIG_IGN);
	if (send_parse_addr(s) < 0 || send_open_input(s) < 0 || send_compressor(s) < 0 ||
	    (s->token_file != NULL && send_load_token(s) < 0) || send_catch_signals() < 0) {
		send_free(s);
		return SEND_EXIT_LOCAL;
	}
	if (size > 0 && s->zs == NULL)
		s->in_total = (uint64_t)size; /* as pv -s: a pipe's size, for % and time left */
	send_request(s);
	deadline = report_now() + s->wait;
	for (;;) {
		s->start = report_now();
		if (send_connect(s) < 0 || (s->tls && send_tls(s) < 0)) {
			rc = send_signal ? send_interrupted(s) : SEND_EXIT_LOCAL;
			if (s->json)
				send_print_json(s, rc);
			send_free(s);
			return rc;
		}
		s->start = s->last_draw = report_now();
		send_draw(s, 1);
		send_loop(s);
		if (!s->refused_busy || send_signal || report_now() + 2 > deadline)
			break;
		/* --wait: the daemon is busy; the dump was not touched: try again */
		send_bar_clear(s);
		if (!s->quiet)
			fprintf(stderr,
			        "pgsluice send: %s\npgsluice send: waiting for it (--wait: %.0f s "
			        "left)\n",
			        s->held, deadline - report_now());
		if (send_pause(SEND_WAIT_PAUSE_MS) < 0 || send_again(s) < 0)
			break;
	}
	if (s->held[0] != '\0') {
		printf("%s\n", s->held); /* the refusal is the answer */
		fflush(stdout);
	}
	if (send_signal && s->answer == SEND_ANSWER_NONE)
		rc = send_interrupted(s);
	else
		rc = send_result(s);
	if (s->json)
		send_print_json(s, rc);
	if (!s->quiet && rc == SEND_EXIT_OK) {
		secs = report_now() - s->start;
		report_size(s->sent, a, sizeof(a));
		send_duration(secs, t, sizeof(t));
		fprintf(stderr, "pgsluice send: %s sent, answered after %s\n", a, t);
	}
	send_free(s);
	return rc;
}
