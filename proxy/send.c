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

#define SEND_DEFAULT_PORT "5480"
#define SEND_CHUNK (128 * 1024)       /* input read and sent at a time */
#define SEND_LINE_MAX (1 << 18)       /* longest server line kept whole (RESULT) */
#define SEND_CONNECT_TIMEOUT_MS 15000 /* TCP connect, and the TLS handshake */
#define SEND_DRAW_MS 250              /* progress bar redraw period */
#define SEND_BAR_MAX 1024             /* bytes of the bar's line */
#define SEND_RATE_SAMPLES 8           /* rate over the last ~8 redraw seconds */
#define SEND_LINGER_S 10              /* wait for the close after the answer */
#define SEND_WAIT_DEFAULT_S 3600      /* --wait without a number */
#define SEND_WAIT_PAUSE_MS 2000       /* between two tries of --wait */

/* the signal that interrupted send (0: none), and the pipe that tells poll */
static volatile sig_atomic_t send_signal;
static int send_wake[2] = { -1, -1 };

enum {
	OPT_TLS = 1000,
	OPT_CA,
	OPT_CERT,
	OPT_KEY,
	OPT_TOKEN_FILE,
	OPT_JSON,
	OPT_SIZE,
	OPT_WAIT,
	OPT_COMPRESS,
	OPT_THREADS,
};

enum send_answer {
	SEND_ANSWER_NONE = 0,
	SEND_ANSWER_OK,
	SEND_ANSWER_ERROR,
};

struct send_sample {
	double t;
	uint64_t bytes;
};

struct sender {
	/* options */
	int tls, quiet, verbose, json;
	double wait; /* --wait: seconds to retry while the daemon is busy; 0: no */
	const char *ca, *cert, *key, *token_file;
	const char *addr, *path;
	char host[256], port[32];

	/* input */
	int in_fd;
	int in_regular; /* a regular file: read without polling */
	int in_eof;
	int in_failed;       /* a read error: the dump was cut short here */
	uint64_t in_total;   /* size when in_regular, else 0 */
	struct sendzstd *zs; /* --compress zstd: read through it (sendzstd.h) */
	const char *compress;
	int threads; /* --threads, -1: the CPUs online */
	int passthrough_told;

	/* connection */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int read_wants_write; /* SSL_read needs the socket writable */
	int write_shut;       /* no more bytes will be written */
	int shut_wants_write; /* SSL_shutdown to retry when writable */
	int write_dead;       /* the peer is gone for writing (EPIPE, reset) */
	int write_errno;
	int server_eof; /* the daemon closed (or reset) its side */
	int server_reset;
	int read_errno;
	uint64_t got;        /* bytes received from the daemon */
	double last_rx;      /* when the daemon last sent something */
	char tls_error[256]; /* the first TLS error after the handshake */

	/* out: one chunk of the dump (the AUTH line first) */
	char out[SEND_CHUNK];
	size_t out_off, out_len;
	size_t auth_left; /* bytes of the AUTH line not written yet */
	uint64_t sent;    /* dump bytes written to the socket */

	/* the daemon's lines */
	char line[SEND_LINE_MAX];
	size_t line_len;
	enum send_answer answer;
	json_t *result;   /* --json: the daemon's RESULT object */
	int await_ready;  /* --wait: the dump waits for the daemon's READY line */
	int refused_busy; /* the daemon's RESULT said: refused, busy */
	char held[1024];  /* --wait: a refusal's ERROR line, printed if no retry */
	char doing[256];  /* from the last progress line: "COPY public.events 1520 rows" */

	/* progress display */
	int tty; /* stderr is a terminal: redraw one line */
	int bar_shown;
	double start, last_draw, input_done_at;
	struct send_sample samples[SEND_RATE_SAMPLES];
	size_t n_samples;
};

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

static void send_bar_clear(struct sender *s);

static void __attribute__((format(printf, 2, 3))) send_warn(struct sender *s, const char *fmt, ...)
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

static void
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

static int
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
static int
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

/* ---- connecting ---------------------------------------------------------- */

/*
 * Wait until fd has one of events, the deadline passes (-1, ETIMEDOUT) or
 * a signal interrupts send (-1, EINTR; send_signal set).
 */
static int
send_wait_fd(int fd, short events, double deadline)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = send_wake[0], .events = POLLIN },
	};
	double left;
	int r;

	for (;;) {
		if (send_signal) {
			errno = EINTR;
			return -1;
		}
		left = deadline - report_now();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(p, 2, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0 && p[0].revents != 0)
			return 0;
	}
}

static void
send_on_signal(int sig)
{
	int saved = errno;
	char c = 0;

	send_signal = sig;
	if (write(send_wake[1], &c, 1) < 0) {
		/* the pipe is full: a wake-up is pending already */
	}
	errno = saved;
}

/*
 * SIGINT and SIGTERM note themselves and wake the poll loop; a second one
 * (the default action again) ends send at once.  Returns 0 or -1.
 */
static int
send_catch_signals(void)
{
	struct sigaction sa;
	int i;

	if (pipe(send_wake) < 0) {
		send_warn(NULL, "pipe: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		fcntl(send_wake[i], F_SETFD, FD_CLOEXEC);
		fcntl(send_wake[i], F_SETFL, O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = send_on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

/* Try each address of HOST:PORT in turn.  Returns 0 or -1 with a message. */
static int
send_connect(struct sender *s)
{
	struct addrinfo hints, *res, *ai;
	char numeric[INET6_ADDRSTRLEN + 8] = "";
	socklen_t elen;
	int fd, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* no AI_ADDRCONFIG: on a loopback-only host it hides 127.0.0.1 and ::1 */
	rc = getaddrinfo(s->host, s->port, &hints, &res);
	if (rc != 0) {
		send_warn(NULL, "cannot resolve %s: %s", s->host,
		          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
		            NI_NUMERICHOST);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				err = errno;
				close(fd);
				continue;
			}
			if (send_wait_fd(fd, POLLOUT,
			                 report_now() + SEND_CONNECT_TIMEOUT_MS / 1000.0) < 0) {
				err = errno;
				close(fd);
				if (send_signal)
					break;
				continue;
			}
			elen = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			if (err != 0) {
				close(fd);
				continue;
			}
		}
		s->fd = fd;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	if (send_signal)
		return -1; /* send_interrupted says so */
	if (numeric[0] == '\0' || strcmp(numeric, s->host) == 0)
		send_warn(NULL, "cannot connect to %s port %s: %s", s->host, s->port,
		          strerror(err));
	else
		send_warn(NULL, "cannot connect to %s port %s (%s): %s", s->host, s->port, numeric,
		          strerror(err));
	if (err == ECONNREFUSED)
		fprintf(stderr, "pgsluice send: is `pgsluice serve` running there, and "
		                "listening on that address (--listen)?\n");
	return -1;
}

static void
send_ssl_errors(void)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "pgsluice send:   %s\n", buf);
	}
}

static int
send_is_ip(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* TLS handshake on s->fd, verifying the daemon's certificate and name. */
static int
send_tls(struct sender *s)
{
	double deadline = report_now() + SEND_CONNECT_TIMEOUT_MS / 1000.0;
	long vr;
	int r, e;

	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL) {
		send_warn(NULL, "TLS: cannot create a context");
		send_ssl_errors();
		return -1;
	}
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	/* a daemon that closes without close_notify still ends the answer */
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if (s->ca != NULL) {
		if (SSL_CTX_load_verify_locations(s->ctx, s->ca, NULL) != 1) {
			send_warn(NULL, "--ca %s: cannot load CA certificates from it", s->ca);
			send_ssl_errors();
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
		send_warn(NULL, "TLS: cannot load the system's CA certificates");
		send_ssl_errors();
		return -1;
	}
	if (s->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(s->ctx, s->cert) != 1) {
			send_warn(NULL, "--cert %s: cannot load a certificate from it", s->cert);
			send_ssl_errors();
			return -1;
		}
		if (SSL_CTX_use_PrivateKey_file(s->ctx, s->key ? s->key : s->cert,
		                                SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(s->ctx) != 1) {
			send_warn(NULL, "--key %s: cannot load the certificate's private key",
			          s->key ? s->key : s->cert);
			send_ssl_errors();
			return -1;
		}
	}
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1) {
		send_warn(NULL, "TLS: cannot set up the connection");
		send_ssl_errors();
		return -1;
	}
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (send_is_ip(s->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host) != 1) {
			send_warn(NULL, "TLS: cannot check the certificate against %s", s->host);
			return -1;
		}
	} else {
		SSL_set_tlsext_host_name(s->ssl, s->host);
		if (SSL_set1_host(s->ssl, s->host) != 1) {
			send_warn(NULL, "TLS: cannot check the certificate against %s", s->host);
			return -1;
		}
	}
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(s->ssl);
		if (r == 1)
			break;
		e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (send_wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			                 deadline) < 0) {
				if (send_signal)
					return -1; /* send_interrupted says so */
				send_warn(NULL, "TLS handshake with %s port %s: %s", s->host,
				          s->port, strerror(errno));
				return -1;
			}
			continue;
		}
		vr = SSL_get_verify_result(s->ssl);
		if (vr != X509_V_OK) {
			send_warn(NULL, "TLS: the certificate of %s port %s is not trusted: %s",
			          s->host, s->port, X509_verify_cert_error_string(vr));
			fprintf(stderr, "pgsluice send: %s\n",
			        s->ca ? "is --ca the CA that signed the daemon's certificate (or, "
			                "self-signed, that certificate itself), and does the "
			                "certificate name the host you connect to?"
			              : "for a private CA or a self-signed daemon, give its "
			                "certificate with --ca FILE");
			return -1;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			send_warn(NULL, "TLS handshake with %s port %s failed: %s", s->host,
			          s->port,
			          errno ? strerror(errno) : "the server closed the connection");
		else
			send_warn(NULL, "TLS handshake with %s port %s failed:", s->host, s->port);
		send_ssl_errors();
		fprintf(stderr, "pgsluice send: does the daemon listen with TLS "
		                "(--tls-cert)? If not, leave out --tls.\n");
		return -1;
	}
	return 0;
}

/* ---- the connection: read and write, plain or TLS ----------------------- */

/* Keep the first TLS error after the handshake (an alert from the daemon). */
static void
send_tls_error(struct sender *s)
{
	unsigned long e = ERR_peek_error();

	if (s->tls_error[0] == '\0' && e != 0)
		ERR_error_string_n(e, s->tls_error, sizeof(s->tls_error));
	ERR_clear_error();
}

/* > 0 bytes, 0 EOF, -2 would block, -1 error (errno set) */
static ssize_t
send_conn_read(struct sender *s, void *buf, size_t len)
{
	ssize_t n;
	int r, e;

	if (s->ssl == NULL) {
		for (;;) {
			n = recv(s->fd, buf, len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -2;
			return n;
		}
	}
	ERR_clear_error();
	r = SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0) {
		s->read_wants_write = 0;
		return r;
	}
	e = SSL_get_error(s->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		s->read_wants_write = 0;
		return -2;
	case SSL_ERROR_WANT_WRITE:
		s->read_wants_write = 1;
		return -2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		return -1;
	default:
		send_tls_error(s);
		errno = EPROTO;
		return -1;
	}
}

/* > 0 bytes, -2 would block, -1 error (errno set) */
static ssize_t
send_conn_write(struct sender *s, const void *buf, size_t len)
{
	ssize_t n;
	int r, e;

	if (s->ssl == NULL) {
		for (;;) {
			n = send(s->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -2;
			return n;
		}
	}
	ERR_clear_error();
	r = SSL_write(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -2;
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		return -1;
	if (e == SSL_ERROR_SSL)
		send_tls_error(s);
	errno = EPIPE;
	return -1;
}

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

static void
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

static void
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
static void
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
static void
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
static void
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
static int
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
