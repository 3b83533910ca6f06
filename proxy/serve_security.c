/*
 * serve_security.c - the security options of `pgsluice serve` (TLS, the
 * token file, the caps on unauthenticated connections and failures,
 * --user): read, set up before the listeners (the TLS context, the token,
 * the file descriptor budget), and checked once the daemon has started.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "auth.h"
#include "cli.h"
#include "connhint.h"
#include "connlimits.h"
#include "jsonout.h"
#include "metrics.h"
#include "log.h"
#include "preflight.h"
#include "priv.h"
#include "jobs.h"
#include "session.h"
#include "synapse.h"
#include "target.h"
#include "tls.h"
#include "serve_int.h"

int
serve_security_option(struct serve *sv, int c, const char *arg)
{
	long long size;
	double d;

	switch (c) {
	case OPT_TLS_CERT:
		sv->tls_cert = arg;
		return 0;
	case OPT_TLS_KEY:
		sv->tls_key = arg;
		return 0;
	case OPT_TLS_CLIENT_CA:
		sv->tls_client_ca = arg;
		return 0;
	case OPT_TOKEN_FILE:
		sv->token_file = arg;
		return 0;
	case OPT_INSECURE_PLAINTEXT:
		sv->insecure_plaintext = 1;
		return 0;
	case OPT_USER:
		sv->user = arg;
		return 0;
	case OPT_MAX_CONNECTIONS:
		if (serve_number("max-connections", arg, 1, 10000, "a count", &d) < 0)
			return -1;
		sv->max_connections = (int)d;
		return 0;
	case OPT_HEADER_TIMEOUT:
		if (serve_number("header-timeout", arg, 0, 3600, "seconds", &d) < 0)
			return -1;
		sv->cfg.header_timeout = (int)d;
		return 0;
	case OPT_IDLE_TIMEOUT:
		if (serve_number("idle-timeout", arg, 0, 86400, "seconds", &d) < 0)
			return -1;
		sv->cfg.idle_timeout = (int)d;
		return 0;
	case OPT_MAX_META_LINE:
		size = cli_parse_size(arg);
		if (size < 64 || size > (1LL << 30)) {
			fprintf(stderr,
			        "pgsluice serve: --max-meta-line %s: want a size from 64 to 1G, "
			        "like 16K\n",
			        arg);
			return -1;
		}
		sv->cfg.max_meta_line = (size_t)size;
		return 0;
	case OPT_MAX_GZIP_RATIO:
		if (serve_number("max-gzip-ratio", arg, 0, 1e6, "a ratio (0: no limit)", &d) < 0)
			return -1;
		if (d > 0 && d < 2) {
			fprintf(stderr,
			        "pgsluice serve: --max-gzip-ratio %s: a dump inflates more than "
			        "that; want 2 or more (0: no limit)\n",
			        arg);
			return -1;
		}
		sv->cfg.max_gzip_ratio = d;
		return 0;
	case OPT_MAX_UNAUTH:
		if (serve_number("max-unauthenticated", arg, 1, 9999, "a count", &d) < 0)
			return -1;
		sv->max_unauth = (int)d;
		return 0;
	case OPT_MAX_UNAUTH_PER_ADDR:
		if (serve_number("max-unauthenticated-per-address", arg, 1, 9999, "a count", &d) <
		    0)
			return -1;
		sv->max_unauth_per_addr = (int)d;
		return 0;
	case OPT_AUTH_FAILURE_RATE:
		if (serve_number("auth-failure-rate", arg, 0.01, 1e6, "failures per second", &d) <
		    0)
			return -1;
		sv->auth_failure_rate = d;
		return 0;
	}
	return -1;
}

/*
 * Load what needs root and the files: the token, the TLS context.  Before
 * the listeners, since whether TLS is on decides which addresses are
 * allowed.  0 or -1 (message on stderr).
 */
int
serve_security_setup(struct serve *sv)
{
	char err[512];

	if ((sv->tls_cert == NULL) != (sv->tls_key == NULL)) {
		fprintf(stderr, "pgsluice serve: --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (sv->tls_client_ca != NULL && sv->tls_cert == NULL) {
		fprintf(stderr, "pgsluice serve: --tls-client-ca needs --tls-cert and --tls-key\n");
		return -1;
	}
	if (sv->token_file != NULL) {
		sv->cfg.auth = auth_load(sv->token_file, err, sizeof(err));
		if (sv->cfg.auth == NULL) {
			fprintf(stderr, "pgsluice serve: %s\n", err);
			return -1;
		}
	}
	if (sv->tls_cert != NULL) {
		sv->ssl_ctx = tls_server_ctx(sv->tls_cert, sv->tls_key, sv->tls_client_ca, err,
		                             sizeof(err));
		if (sv->ssl_ctx == NULL) {
			fprintf(stderr, "pgsluice serve: %s\n", err);
			return -1;
		}
		sv->cfg.tls_ctx = sv->ssl_ctx;
	}
	if (sv->user != NULL && priv_check(sv->user, err, sizeof(err)) < 0) {
		fprintf(stderr, "pgsluice serve: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * Each connection costs two descriptors (the client, its target
 * connection), plus the listeners and a margin.  Raise the soft limit
 * towards what --max-connections needs; if the hard limit forbids it,
 * lower --max-connections, so that accept() never fails with EMFILE (which
 * would leave the listener spinning on a connection it cannot take).
 */
static void
serve_fd_budget(struct serve *sv)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)sv->max_connections * 2 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
		rl.rlim_cur = need;
	else
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		sv->max_connections = rl.rlim_cur > 96 ? (int)((rl.rlim_cur - 64) / 2) : 16;
		log_warn(NULL, "the open-files limit is %llu: --max-connections lowered to %d",
		         (unsigned long long)rl.rlim_cur, sv->max_connections);
	}
}

/* After binding: --user, and what the operator should know.  0 or -1. */
int
serve_security_started(struct serve *sv)
{
	char err[512];

	serve_fd_budget(sv);
	if (sv->max_unauth == 0 || sv->max_unauth >= sv->max_connections)
		sv->max_unauth = sv->max_connections > 1 ? sv->max_connections / 2 : 1;
	if (sv->max_unauth_per_addr == 0)
		sv->max_unauth_per_addr = SERVE_DEFAULT_MAX_UNAUTH_PER_ADDR;
	sv->pool = connlimits_new(sv->max_unauth, sv->max_unauth_per_addr);
	if (sv->pool == NULL) {
		fprintf(stderr, "pgsluice serve: out of memory\n");
		return -1;
	}
	if (sv->cfg.auth != NULL)
		auth_set_failure_rate(sv->cfg.auth, sv->auth_failure_rate);
	if (sv->user != NULL) {
		if (priv_drop(sv->user, err, sizeof(err)) < 0) {
			fprintf(stderr, "pgsluice serve: %s\n", err);
			return -1;
		}
		log_info(NULL, "running as user %s (uid %u, gid %u) from now on", sv->user,
		         (unsigned)getuid(), (unsigned)getgid());
	} else if (geteuid() == 0) {
		log_warn(NULL, "running as root; --user NAME drops root once the ports are bound");
	}
	log_info(NULL,
	         "security: %s%s, %s; limits: %d connections (%d not authenticated, %d "
	         "from one address), %g AUTH failures/s, header %d s, idle %d s, meta-command "
	         "line %zu bytes, gzip/zstd/lz4 ratio %g",
	         sv->ssl_ctx ? "TLS" : "no TLS",
	         sv->tls_client_ca ? " with client certificates" : "",
	         sv->cfg.auth ? "AUTH token required" : "no token", sv->max_connections,
	         sv->max_unauth, sv->max_unauth_per_addr, sv->auth_failure_rate,
	         sv->cfg.header_timeout, sv->cfg.idle_timeout, sv->cfg.max_meta_line,
	         sv->cfg.max_gzip_ratio);
	if (sv->cfg.auth == NULL && sv->tls_client_ca == NULL && sv->insecure_plaintext)
		log_warn(NULL, "no --token-file and no --tls-client-ca: anyone who can reach the "
		               "port can import into the target");
	return 0;
}
