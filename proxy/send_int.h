/*
 * send_int.h - what the files of `pgsluice send` (send.c, send_conn.c,
 * send_loop.c, send_lines.c, send_bar.c) share: struct sender and the
 * functions one of them calls in another.  Not for other modules: they use
 * send.h.
 */
#ifndef SEND_INT_H
#define SEND_INT_H

#include <stddef.h>
#include <signal.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "send.h"

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

/* the signal that interrupted send (0: none), and the pipe that tells poll
 * (send_conn.c) */
extern volatile sig_atomic_t send_signal;
extern int send_wake[2];

/* send.c */
void send_warn(struct sender *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void send_duration(double secs, char *buf, size_t size);
int send_interrupted(struct sender *s);

/* send_conn.c */
int send_catch_signals(void);
int send_connect(struct sender *s);
int send_tls(struct sender *s);
ssize_t send_conn_read(struct sender *s, void *buf, size_t len);
ssize_t send_conn_write(struct sender *s, const void *buf, size_t len);

/* send_loop.c */
int send_open_input(struct sender *s);
int send_compressor(struct sender *s);
void send_loop(struct sender *s);

/* send_lines.c */
void send_print_json(struct sender *s, int rc);
void send_read(struct sender *s);

/* send_bar.c */
void send_bar_clear(struct sender *s);
void send_draw(struct sender *s, int force);

#endif
