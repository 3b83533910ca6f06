/*
 * serve_int.h - what the files of `pgsluice serve` (serve.c, serve_opts.c,
 * serve_security.c, serve_listen.c) share: struct serve, its option codes
 * and defaults, and the functions one of them calls in another.  Not for
 * other modules.
 */
#ifndef SERVE_INT_H
#define SERVE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "session.h"

#define SERVE_MAX_LISTEN 16
#define SERVE_DEFAULT_LISTEN "127.0.0.1:5480"
/* limits on clients; each has an option */
#define SERVE_DEFAULT_MAX_CONNECTIONS 64
/*
 * The kernel's accept queue: deep enough that a burst of connections is
 * accepted at once and answered (served, or refused by --max-connections
 * with a line) rather than left half-open in the kernel for seconds.
 */
#define SERVE_LISTEN_BACKLOG 1024
#define SERVE_DEFAULT_HEADER_TIMEOUT 10
#define SERVE_DEFAULT_IDLE_TIMEOUT 300
#define SERVE_DEFAULT_MAX_META_LINE (16 * 1024)
#define SERVE_DEFAULT_MAX_GZIP_RATIO 100.0
/* connections that have not authenticated, from one address (connlimits.h) */
#define SERVE_DEFAULT_MAX_UNAUTH_PER_ADDR 4
/*
 * The listeners pause for one turn of the loop after this many accepts: a
 * connection closed to make room for a newer one keeps its fd until the
 * loop runs libevent's finalizers, and a backlog of hundreds accepted in
 * one turn would hold all of theirs at once.
 */
#define SERVE_ACCEPT_BURST 16

enum {
	OPT_TARGET = CLI_OPT_FIRST_FREE,
	OPT_ROLE,
	OPT_LOG_FORMAT,
	OPT_SYSLOG,
	OPT_SUMMARY_JSON,
	OPT_METRICS_LISTEN,
	OPT_LISTEN,
	OPT_UNIX,
	OPT_SCHEMA,
	OPT_CLEAR_TARGET,
	OPT_ONCE,
	OPT_NO_SINGLE_TRANSACTION,
	OPT_PROGRESS_INTERVAL,
	OPT_CONNECT_TIMEOUT,
	OPT_LOCK_TIMEOUT,
	OPT_STATEMENT_TIMEOUT,
	OPT_SYNAPSE,
	OPT_NO_SYNAPSE,
	OPT_FORCE_SCHEMA_VERSION,
	OPT_FORCE_REPLACE,
	OPT_NO_ANALYZE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CLIENT_CA,
	OPT_TOKEN_FILE,
	OPT_INSECURE_PLAINTEXT,
	OPT_USER,
	OPT_MAX_CONNECTIONS,
	OPT_HEADER_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_META_LINE,
	OPT_MAX_GZIP_RATIO,
	OPT_MAX_UNAUTH,
	OPT_MAX_UNAUTH_PER_ADDR,
	OPT_AUTH_FAILURE_RATE,
};

struct serve {
	struct event_base *base;
	struct session_config cfg;
	struct cli_rules cr;
	const char *schemas[PREFLIGHT_MAX_SCHEMAS];
	const char *listen[SERVE_MAX_LISTEN];
	int n_listen;
	const char *unix_path;
	int unix_bound;
	struct evconnlistener *listeners[SERVE_MAX_LISTEN * 4 + 1];
	int n_listeners;
	struct event *ev_term, *ev_int, *ev_hup;
	struct event *ev_resume;    /* the listeners' pause (SERVE_ACCEPT_BURST) ends */
	int accepts;                /* since the listeners last paused */
	const char *summary_json;   /* --summary-json FILE */
	const char *metrics_listen; /* --metrics-listen HOST:PORT */
	char target_desc[768];
	struct session **sessions;
	size_t n_sessions, cap_sessions;
	struct session *active; /* the import in progress */
	uint64_t next_id;
	int once, once_done, once_committed;
	int stopping;
	/* transport and identity */
	const char *tls_cert, *tls_key, *tls_client_ca, *token_file, *user;
	int insecure_plaintext;
	int max_connections;
	SSL_CTX *ssl_ctx;
	uint64_t n_refused_busy; /* connections turned away by --max-connections */
	/* the connections that have not authenticated (connlimits.h) */
	int max_unauth, max_unauth_per_addr; /* 0: the default */
	double auth_failure_rate;
	struct connlimits *pool;
	uint64_t n_evicted; /* pool members closed to make room */
};

/* serve.c */
void serve_usage(FILE *f);

/* serve_listen.c */
void serve_on_resume(evutil_socket_t fd, short what, void *arg);
int serve_listen_tcp(struct serve *sv, const char *spec);
int serve_listen_unix(struct serve *sv, const char *path);

/* serve_opts.c */
int serve_number(const char *name, const char *arg, double lo, double hi, const char *unit,
                 double *out);
int serve_parse(struct serve *sv, int argc, char **argv);

/* serve_security.c */
int serve_security_option(struct serve *sv, int c, const char *arg);
int serve_security_setup(struct serve *sv);
int serve_security_started(struct serve *sv);

#endif
