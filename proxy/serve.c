/*
 * serve.c - `pgsluice serve`: the daemon.
 *
 * Parses the options, opens the listeners (TCP and/or a Unix socket), and
 * runs one libevent loop on which every session (session.c) lives.  It
 * admits one import at a time: a client that arrives while an import runs
 * is told who is importing since when, and closed.  SIGTERM/SIGINT: stop
 * accepting, abort the import in flight (rolled back, its client told),
 * exit 0 once its summary is out.  --once: exit after the first import, 0
 * if it committed.
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

static void
serve_usage(FILE *f)
{
	fprintf(f,
	        "usage: pgsluice serve --target CONNINFO [options]\n"
	        "\n"
	        "Listens for dumps and imports each one into the target database, in one\n"
	        "transaction, with a preflight check first; progress and a final OK/ERROR\n"
	        "summary go back to the client:\n"
	        "\n"
	        "  pg_dump -O synapse | gzip | nc -N HOST 5480     (or plain, zstd, lz4)\n"
	        "\n"
	        "  -d, --target CONNINFO  libpq connection string or URI of the target database\n"
	        "                         (also --dbname; default: $PGSLUICE_TARGET; PGHOST,\n"
	        "                         PGUSER, PGPASSWORD, PGSERVICE, .pgpass apply)\n"
	        "  --role ROLE            SET ROLE ROLE after connecting (as pg_restore --role):\n"
	        "                         the import creates and owns as ROLE\n"
	        "  --listen HOST:PORT     TCP address to listen on (repeatable; default " SERVE_DEFAULT_LISTEN
	        ")\n"
	        "  --unix PATH            also (or only) listen on a Unix socket\n"
	        "  --schema NAME          schema that must be empty before an import (repeatable;\n"
	        "                         default public)\n"
	        "  --clear-target         drop what the target schemas hold, inside the import's\n"
	        "                         transaction (tables CASCADE, sequences, views,\n"
	        "                         routines, types)\n"
	        "  --once                 serve one import, then exit 0 if it committed, 1 if not\n"
	        "  --no-single-transaction  commit statement by statement (a failure leaves a\n"
	        "                         partial import)\n"
	        "  --no-analyze           leave the imported tables without planner statistics\n"
	        "                         (default: ANALYZE them before COMMIT; with --jobs,\n"
	        "                         VACUUM (FREEZE, ANALYZE) each after post-data)\n"
	        "  --progress-interval S  seconds between progress lines (default 2; 0: none)\n"
	        "  -q, --quiet            no progress lines\n"
	        "  -j, --jobs N           import over N connections (README: Parallel import):\n"
	        "                         pre-data committed first, COPY batches and post-data\n"
	        "                         in parallel; a failure undoes it all, but others see\n"
	        "                         the partial state while it runs (default 1)\n"
	        "  --connect-timeout S    give up connecting to the target after S seconds\n"
	        "                         (default 30)\n"
	        "  --lock-timeout S       a statement that waits S seconds for a lock held by\n"
	        "                         another session fails the import, naming that\n"
	        "                         session's query (default 30; 0: wait for ever)\n"
	        "  --statement-timeout S  a statement of the dump that runs S seconds on the\n"
	        "                         target is cancelled and fails the import (pgsluice's\n"
	        "                         own timer: the dump's SET statement_timeout cannot\n"
	        "                         undo it; COPY data from the client does not count;\n"
	        "                         default 0: no limit)\n"
	        "  -v, --verbose          debug lines in the log; the summary lists the rows of\n"
	        "                         every table\n"
	        "  --metrics-listen HOST:PORT  serve Prometheus /metrics and /healthz over HTTP\n"
	        "                         there (README: Metrics and health)\n"
	        "  --summary-json FILE    write each import's result to FILE as one JSON object\n"
	        "                         (replaced atomically; README: Machine-readable results)\n"
	        "  --log-format F         text (default), json (one object per line) or\n"
	        "                         journal (text behind <3>-style syslog priorities;\n"
	        "                         the default when stderr is the journal)\n"
	        "  --syslog               the same as --log-format journal\n"
	        "  --version              print the version and exit\n"
	        "  -h, --help             this text\n"
	        "\n"
	        "Synapse (README: Synapse checks; on when the dump has public.schema_version):\n"
	        "  --synapse              the target is for Synapse: refuse a database that is not\n"
	        "                         UTF8 with C collation at preflight, whatever the dump\n"
	        "  --no-synapse           no Synapse checks\n"
	        "  --force-schema-version  import a dump whose Synapse schema is newer than the\n"
	        "                         target's\n"
	        "  --force-replace        import a dump that does not look like the database it\n"
	        "                         replaces (README: How it fails): one that creates no\n"
	        "                         table while the target holds tables; with the Synapse\n"
	        "                         checks, one without a Synapse schema or older than the\n"
	        "                         target's compat version\n"
	        "\n"
	        "Security (README: Security):\n"
	        "  --tls-cert FILE        serve TLS (1.2/1.3) on the TCP listeners with this PEM\n"
	        "                         certificate chain (pgsluice gen-cert makes one)\n"
	        "  --tls-key FILE         its private key (PEM)\n"
	        "  --tls-client-ca FILE   require a client certificate signed by these CAs\n"
	        "  --token-file FILE      require the first line \"AUTH <token>\", the token being\n"
	        "                         FILE's first line (FILE must be mode 600)\n"
	        "  --insecure-plaintext   allow a non-loopback --listen without TLS\n"
	        "  --user NAME            when started as root, become NAME after binding\n"
	        "  --max-connections N    clients connected at once, importing or not\n"
	        "                         (default 64); more are refused\n"
	        "  --max-unauthenticated N  of those, clients that have not authenticated yet\n"
	        "                         (no AUTH line, client certificate or dump yet; default\n"
	        "                         half of --max-connections); past it, the one that\n"
	        "                         waited longest from the address holding the most is\n"
	        "                         closed\n"
	        "  --max-unauthenticated-per-address N  the same from one address (an IPv6 /64;\n"
	        "                         default 4): its own oldest is closed\n"
	        "  --auth-failure-rate R  wrong tokens looked at per second, all addresses\n"
	        "                         together (default 10; one address: 1 per second after\n"
	        "                         5); an AUTH line waits its turn, and a right token is\n"
	        "                         let in when its turn comes\n"
	        "  --header-timeout S     seconds for the TLS handshake and the AUTH line\n"
	        "                         (default 10; 0: none)\n"
	        "  --idle-timeout S       roll back an import when the client sends nothing for\n"
	        "                         S seconds while it is awaited (default 300; 0: none)\n"
	        "  --max-meta-line SIZE   longest psql meta-command line (default 16K)\n"
	        "  --max-gzip-ratio R     compressed input (gzip, zstd or lz4) may expand to at\n"
	        "                         most R times its size: +1 MB before the first\n"
	        "                         statement, +64 MB over the whole stream (default\n"
	        "                         100; 0: no limit)\n" CLI_RULE_HELP);
}

/* ---- sessions --------------------------------------------------------- */

/*
 * take 0: could an import start now (the handshake is done)?  take 1: a
 * dump begins; it takes the one slot.  A connection refused while an
 * import runs is noted on that import (session_note_refused_peer).
 */
static enum session_admission
serve_admit(void *arg, struct session *s, int take, char *msg, size_t size)
{
	struct serve *sv = arg;
	char what[256];

	if (sv->stopping) {
		snprintf(msg, size, "pgsluice is shutting down; no new import is accepted");
		metrics_refused("shutting_down");
		return SESSION_REFUSE_UNAVAILABLE;
	}
	if (sv->once && sv->once_done) {
		snprintf(msg, size, "pgsluice runs with --once and has served its import");
		metrics_refused("once_done");
		return SESSION_REFUSE_UNAVAILABLE;
	}
	if (sv->active != NULL && sv->active != s && session_importing(sv->active)) {
		session_describe(sv->active, what, sizeof(what));
		snprintf(msg, size, "%s; try again when it has finished", what);
		log_info(session_who(s), "refused: %s", what);
		session_note_refused_peer(sv->active);
		metrics_refused("busy");
		return SESSION_REFUSE_BUSY;
	}
	if (take) {
		sv->active = s;
		metrics_import_started();
	}
	/* authenticated now: the AUTH line or a client certificate; without either, a dump */
	if (take || sv->cfg.auth != NULL || sv->tls_client_ca != NULL)
		connlimits_remove(sv->pool, s);
	return SESSION_ADMIT;
}

static void
serve_close_listeners(struct serve *sv)
{
	int i;

	for (i = 0; i < sv->n_listeners; i++)
		evconnlistener_free(sv->listeners[i]);
	sv->n_listeners = 0;
	if (sv->unix_bound) {
		unlink(sv->unix_path);
		sv->unix_bound = 0;
	}
}

static void
serve_maybe_exit(struct serve *sv)
{
	if ((sv->stopping || sv->once_done) && sv->n_sessions == 0)
		event_base_loopexit(sv->base, NULL);
}

/* The running import's figures, for /metrics. */
static const struct report *
serve_live(void *arg)
{
	struct serve *sv = arg;

	return sv->active != NULL && session_importing(sv->active) ? session_progress(sv->active)
	                                                           : NULL;
}

/* An import's result: --summary-json FILE holds the last one; /metrics counts it. */
static void
serve_on_result(void *arg, struct session *s, const struct jsonout_import *res,
                const struct json_t *obj)
{
	struct serve *sv = arg;

	if (sv->active != s)
		return; /* no import began (not a dump): nothing to count or write */
	metrics_import_ended(res);
	if (sv->summary_json != NULL && jsonout_write_file(obj, sv->summary_json) < 0)
		log_error(NULL,
		          "--summary-json %s: cannot write the result: %s (is the folder "
		          "there and writable by the daemon's user?)",
		          sv->summary_json, strerror(errno));
}

static void
serve_on_end(void *arg, struct session *s, int committed)
{
	struct serve *sv = arg;

	if (sv->active == s)
		sv->active = NULL;
	if (sv->once && !sv->once_done) {
		sv->once_done = 1;
		sv->once_committed = committed;
		serve_close_listeners(sv);
	}
}

static void
serve_on_free(void *arg, struct session *s)
{
	struct serve *sv = arg;
	size_t i;

	if (sv->active == s)
		sv->active = NULL;
	connlimits_remove(sv->pool, s);
	for (i = 0; i < sv->n_sessions; i++) {
		if (sv->sessions[i] == s) {
			sv->sessions[i] = sv->sessions[--sv->n_sessions];
			break;
		}
	}
	log_debug(session_who(s), "connection closed");
	serve_maybe_exit(sv);
}

static void
serve_peer(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (sa->sa_family == AF_UNIX) {
		snprintf(buf, size, "unix");
		return;
	}
	if (getnameinfo(sa,
	                sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                          : sizeof(struct sockaddr_in),
	                host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/*
 * --max-connections reached: one line (on a plain socket; a TLS client
 * would need a handshake first, which is what is being limited), then
 * close.  What the client already sent is read first, so that the close
 * does not reset the connection before the line is read.
 */
static void
serve_turn_away(struct serve *sv, evutil_socket_t fd, const struct sockaddr *sa, const char *peer)
{
	char buf[4096], line[160];
	int i, n;

	sv->n_refused_busy++;
	metrics_refused("max_connections");
	if (sv->n_refused_busy == 1 || sv->n_refused_busy % 100 == 0)
		log_warn(NULL,
		         "refused the connection from %s: %d clients are connected "
		         "(--max-connections); %llu refused so far",
		         peer, sv->max_connections, (unsigned long long)sv->n_refused_busy);
	else
		log_debug(NULL, "refused the connection from %s (--max-connections)", peer);
	if (sv->ssl_ctx == NULL || sa->sa_family == AF_UNIX) {
		for (i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
			;
		n = snprintf(line, sizeof(line),
		             "ERROR too many connections (%d, the daemon's "
		             "--max-connections); try again later\n",
		             sv->max_connections);
		(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
	}
	evutil_closesocket(fd);
}

/*
 * s enters the pool of connections that have not authenticated; the one
 * connlimits picks makes room (closed at once, with a line).  -1: s
 * itself was refused (out of memory).
 */
static int
serve_pool_add(struct serve *sv, struct session *s, const struct sockaddr *sa)
{
	struct session *victim = connlimits_add(sv->pool, s, sa);
	char addr[80], msg[400];
	int per_addr;

	if (victim == NULL)
		return 0;
	if (victim == s) {
		connlimits_remove(sv->pool, s);
		session_evict(s, "out of memory in the daemon; try again later");
		return -1;
	}
	per_addr = connlimits_pending_from(sv->pool, victim) > sv->max_unauth_per_addr;
	connlimits_conn_addr(sv->pool, victim, addr, sizeof(addr));
	snprintf(msg, sizeof(msg),
	         "closed to make room: too many connections that have not "
	         "authenticated %s%s (%d, the daemon's --max-unauthenticated%s), and this one "
	         "waited longest; send the AUTH line (or the dump) at once after connecting",
	         per_addr ? "from " : "", per_addr ? addr : "in all",
	         per_addr ? sv->max_unauth_per_addr : sv->max_unauth,
	         per_addr ? "-per-address" : "");
	connlimits_remove(sv->pool, victim);
	sv->n_evicted++;
	if (sv->n_evicted == 1 || sv->n_evicted % 100 == 0)
		log_warn(session_who(victim), "%s; %llu closed so far", msg,
		         (unsigned long long)sv->n_evicted);
	else
		log_debug(session_who(victim), "%s", msg);
	session_evict(victim, msg);
	return 0;
}

/* The turn after a burst of accepts (the closed ones' fds are released): listen again. */
static void
serve_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	int i;
	(void)fd;
	(void)what;

	sv->accepts = 0;
	for (i = 0; i < sv->n_listeners; i++)
		if (evconnlistener_enable(sv->listeners[i]) != 0)
			log_error(NULL,
			          "cannot listen again after a burst of connections (libevent)");
}

/* SERVE_ACCEPT_BURST accepts: no more until the loop has turned once. */
static void
serve_pause_listeners(struct serve *sv)
{
	struct timeval now = { 0, 0 };
	int i;

	for (i = 0; i < sv->n_listeners; i++)
		evconnlistener_disable(sv->listeners[i]);
	if (evtimer_add(sv->ev_resume, &now) != 0)
		serve_on_resume(-1, 0, sv);
}

static void
serve_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                void *arg)
{
	struct serve *sv = arg;
	struct bufferevent *bev;
	struct session *s, **ns;
	char peer[128];
	int one = 1;
	size_t ncap;
	(void)l;
	(void)socklen;

	if (++sv->accepts >= SERVE_ACCEPT_BURST)
		serve_pause_listeners(sv);
	serve_peer(sa, peer, sizeof(peer));
	if (sv->max_connections > 0 && sv->n_sessions >= (size_t)sv->max_connections) {
		serve_turn_away(sv, fd, sa, peer);
		return;
	}
	if (sv->ssl_ctx == NULL && !tls_addr_is_loopback(sa))
		log_warn(NULL,
		         "plaintext connection from %s over the network (--insecure-plaintext): "
		         "the dump%s travel%s unencrypted",
		         peer, sv->token_file ? " and the token" : "", sv->token_file ? "" : "s");
	if (sa->sa_family != AF_UNIX) {
		/* notice a client host that vanished without a FIN */
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	if (sv->n_sessions == sv->cap_sessions) {
		ncap = sv->cap_sessions ? sv->cap_sessions * 2 : 8;
		ns = realloc(sv->sessions, ncap * sizeof(*ns));
		if (ns == NULL) {
			log_error(NULL, "out of memory accepting %s", peer);
			evutil_closesocket(fd);
			return;
		}
		sv->sessions = ns;
		sv->cap_sessions = ncap;
	}
	/*
	 * A plain socket even with TLS: the session peeks at the first byte
	 * and starts TLS itself (tls_accept), at once for a raw stream, after
	 * the SSLRequest for a PostgreSQL client (pgwire.h).
	 */
	bev = bufferevent_socket_new(sv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error(NULL, "cannot set up the connection from %s (libevent)", peer);
		evutil_closesocket(fd);
		return;
	}
	s = session_new(&sv->cfg, bev, peer, ++sv->next_id);
	if (s == NULL) {
		log_error(NULL, "out of memory for the connection from %s", peer);
		return;
	}
	sv->sessions[sv->n_sessions++] = s;
	if (serve_pool_add(sv, s, sa) < 0)
		return;
	session_start(s);
}

static void
serve_on_listen_error(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	(void)l;
	(void)arg;

	/* EMFILE and friends: the listener goes on; say so */
	log_error(NULL, "accept failed: %s", evutil_socket_error_to_string(err));
}

static void
serve_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	char reason[128];
	size_t i;
	(void)what;

	if (sv->stopping) {
		log_warn(NULL, "%s again: exiting now", sig == SIGINT ? "SIGINT" : "SIGTERM");
		event_base_loopbreak(sv->base);
		return;
	}
	sv->stopping = 1;
	log_info(NULL, "%s: no new imports; rolling back the import in flight, if any",
	         sig == SIGINT ? "SIGINT" : "SIGTERM");
	serve_close_listeners(sv);
	snprintf(reason, sizeof(reason), "pgsluice is shutting down (%s): the import was stopped",
	         sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* session_abort may end a session at once; walk a snapshot */
	for (i = sv->n_sessions; i > 0; i--)
		if (i - 1 < sv->n_sessions)
			session_abort(sv->sessions[i - 1], reason);
	serve_maybe_exit(sv);
}

/*
 * SIGHUP: a terminal that closed (the daemon started from an ssh session
 * without nohup), or an operator's reflex to "reload".  The daemon has no
 * configuration to reload; killing the import would be silent: ignore it,
 * and say so.
 */
static void
serve_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	(void)sig;
	(void)what;

	log_info(NULL,
	         "SIGHUP ignored: pgsluice has no configuration to reload%s; SIGTERM "
	         "stops it",
	         sv->active != NULL && session_importing(sv->active)
	                 ? " (the import in flight goes on)"
	                 : "");
}

/* ---- listeners -------------------------------------------------------- */

static int
serve_add_listener(struct serve *sv, const struct sockaddr *sa, socklen_t len, const char *name)
{
	struct evconnlistener *l;

	if (sv->n_listeners == (int)(sizeof(sv->listeners) / sizeof(sv->listeners[0]))) {
		fprintf(stderr, "pgsluice serve: too many listening addresses\n");
		return -1;
	}
	l = evconnlistener_new_bind(sv->base, serve_on_accept, sv,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                                    LEV_OPT_REUSEABLE,
	                            SERVE_LISTEN_BACKLOG, sa, (int)len);
	if (l == NULL) {
		int err = EVUTIL_SOCKET_ERROR();

		fprintf(stderr, "pgsluice serve: cannot listen on %s: %s\n", name,
		        evutil_socket_error_to_string(err));
		return -1;
	}
	evconnlistener_set_error_cb(l, serve_on_listen_error);
	sv->listeners[sv->n_listeners++] = l;
	log_info(NULL, "listening on %s", name);
	return 0;
}

static int
serve_listen_tcp(struct serve *sv, const char *spec)
{
	char host[256], name[300];
	const char *port, *colon;
	struct addrinfo hints, *res, *ai;
	int r, n = 0;

	colon = strrchr(spec, ':');
	if (colon == NULL || colon[1] == '\0') {
		fprintf(stderr,
		        "pgsluice serve: --listen %s: want HOST:PORT, e.g. 0.0.0.0:5480 "
		        "or [::1]:5480\n",
		        spec);
		return -1;
	}
	port = colon + 1;
	if (spec[0] == '[' && colon > spec && colon[-1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec - 2), spec + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (r != 0) {
		fprintf(stderr, "pgsluice serve: --listen %s: %s\n", spec, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		serve_peer(ai->ai_addr, name, sizeof(name));
		if (sv->ssl_ctx == NULL && !tls_addr_is_loopback(ai->ai_addr)) {
			if (!sv->insecure_plaintext) {
				fprintf(stderr,
				        "pgsluice serve: --listen %s: %s is not a loopback address, "
				        "and the dump (a whole database) would cross the network in "
				        "plaintext; give --tls-cert and --tls-key (pgsluice gen-cert --host "
				        "NAME makes a pair), or --insecure-plaintext on a network you trust\n",
				        spec, name);
				freeaddrinfo(res);
				return -1;
			}
			log_warn(NULL,
			         "--insecure-plaintext: listening on %s without TLS; dumps%s "
			         "cross the network unencrypted",
			         name, sv->token_file ? " and tokens" : "");
		}
		if (serve_add_listener(sv, ai->ai_addr, ai->ai_addrlen, name) < 0) {
			freeaddrinfo(res);
			return -1;
		}
		n++;
	}
	freeaddrinfo(res);
	return n > 0 ? 0 : -1;
}

static int
serve_listen_unix(struct serve *sv, const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	char name[sizeof(sun.sun_path) + 8];

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "pgsluice serve: --unix %s: path too long (at most %zu bytes)\n",
		        path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	/* a socket left by an earlier run that did not exit cleanly */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "pgsluice serve: --unix %s: exists and is not a socket\n",
			        path);
			return -1;
		}
		unlink(path);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	snprintf(name, sizeof(name), "unix:%s", path);
	if (serve_add_listener(sv, (struct sockaddr *)&sun, sizeof(sun), name) < 0)
		return -1;
	sv->unix_bound = 1;
	return 0;
}

/* ---- main ------------------------------------------------------------- */

/* A number in [lo, hi] for option name, or -1 with a message. */
static int
serve_number(const char *name, const char *arg, double lo, double hi, const char *unit, double *out)
{
	char *end;
	double d;

	d = strtod(arg, &end);
	if (end == arg || *end != '\0' || !(d >= lo && d <= hi)) {
		fprintf(stderr, "pgsluice serve: --%s %s: want %s, %g to %g\n", name, arg, unit, lo,
		        hi);
		return -1;
	}
	*out = d;
	return 0;
}

/* The transport, identity and limit options.  0 or -1. */
static int
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
static int
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
static int
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

static int
serve_parse(struct serve *sv, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "dbname", required_argument, NULL, OPT_TARGET },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "summary-json", required_argument, NULL, OPT_SUMMARY_JSON },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "unix", required_argument, NULL, OPT_UNIX },
		{ "schema", required_argument, NULL, OPT_SCHEMA },
		{ "clear-target", no_argument, NULL, OPT_CLEAR_TARGET },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "no-single-transaction", no_argument, NULL, OPT_NO_SINGLE_TRANSACTION },
		{ "progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "insecure-plaintext", no_argument, NULL, OPT_INSECURE_PLAINTEXT },
		{ "user", required_argument, NULL, OPT_USER },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "max-meta-line", required_argument, NULL, OPT_MAX_META_LINE },
		{ "max-gzip-ratio", required_argument, NULL, OPT_MAX_GZIP_RATIO },
		{ "max-unauthenticated", required_argument, NULL, OPT_MAX_UNAUTH },
		{ "max-unauthenticated-per-address", required_argument, NULL,
		  OPT_MAX_UNAUTH_PER_ADDR },
		{ "auth-failure-rate", required_argument, NULL, OPT_AUTH_FAILURE_RATE },
		{ "synapse", no_argument, NULL, OPT_SYNAPSE },
		{ "no-synapse", no_argument, NULL, OPT_NO_SYNAPSE },
		{ "force-schema-version", no_argument, NULL, OPT_FORCE_SCHEMA_VERSION },
		{ "force-replace", no_argument, NULL, OPT_FORCE_REPLACE },
		{ "no-analyze", no_argument, NULL, OPT_NO_ANALYZE },
		{ "jobs", required_argument, NULL, 'j' },
		CLI_RULE_LONGOPTS,
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, r;
	long v;
	double d;

	sv->cfg.progress_interval = 2;
	sv->cfg.connect_timeout = 30;
	sv->max_connections = SERVE_DEFAULT_MAX_CONNECTIONS;
	sv->cfg.header_timeout = SERVE_DEFAULT_HEADER_TIMEOUT;
	sv->cfg.idle_timeout = SERVE_DEFAULT_IDLE_TIMEOUT;
	sv->cfg.max_meta_line = SERVE_DEFAULT_MAX_META_LINE;
	sv->cfg.max_gzip_ratio = SERVE_DEFAULT_MAX_GZIP_RATIO;
	sv->cfg.lock_timeout = 30;
	sv->auth_failure_rate = AUTH_DEFAULT_FAILURE_RATE;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "j:d:" CLI_RULE_SHORTOPTS CLI_COMMON_SHORTOPTS, opts,
	                       "pgsluice serve")) != -1) {
		r = cli_rules_option(&sv->cr, c, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_TARGET:
		case 'd':
			sv->cfg.conninfo = optarg;
			break;
		case OPT_ROLE:
			target_set_role(optarg);
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				log_set_format(LOG_FORMAT_TEXT);
			else if (strcmp(optarg, "json") == 0)
				log_set_format(LOG_FORMAT_JSON);
			else if (strcmp(optarg, "journal") == 0)
				log_set_format(LOG_FORMAT_JOURNAL);
			else
				return cli_usage_error("pgsluice serve",
				                       "--log-format %s: want text, "
				                       "json or journal",
				                       optarg);
			break;
		case OPT_SYSLOG:
			log_set_format(LOG_FORMAT_JOURNAL);
			break;
		case OPT_SUMMARY_JSON:
			sv->summary_json = optarg;
			break;
		case OPT_METRICS_LISTEN:
			sv->metrics_listen = optarg;
			break;
		case OPT_LISTEN:
			if (sv->n_listen == SERVE_MAX_LISTEN) {
				fprintf(stderr, "pgsluice serve: more than %d --listen options\n",
				        SERVE_MAX_LISTEN);
				return 2;
			}
			sv->listen[sv->n_listen++] = optarg;
			break;
		case OPT_UNIX:
			sv->unix_path = optarg;
			break;
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
		case OPT_TLS_CLIENT_CA:
		case OPT_TOKEN_FILE:
		case OPT_INSECURE_PLAINTEXT:
		case OPT_USER:
		case OPT_MAX_CONNECTIONS:
		case OPT_HEADER_TIMEOUT:
		case OPT_IDLE_TIMEOUT:
		case OPT_MAX_META_LINE:
		case OPT_MAX_GZIP_RATIO:
		case OPT_MAX_UNAUTH:
		case OPT_MAX_UNAUTH_PER_ADDR:
		case OPT_AUTH_FAILURE_RATE:
			if (serve_security_option(sv, c, optarg) < 0)
				return 2;
			break;
		case OPT_SCHEMA:
			if (sv->cfg.n_schemas == PREFLIGHT_MAX_SCHEMAS) {
				fprintf(stderr, "pgsluice serve: more than %d --schema options\n",
				        PREFLIGHT_MAX_SCHEMAS);
				return 2;
			}
			sv->schemas[sv->cfg.n_schemas++] = optarg;
			break;
		case OPT_CLEAR_TARGET:
			sv->cfg.clear_target = 1;
			sv->cr.opt.clear_target = 1;
			break;
		case OPT_ONCE:
			sv->once = 1;
			break;
		case OPT_NO_SINGLE_TRANSACTION:
			sv->cr.opt.single_transaction = 0;
			break;
		case OPT_PROGRESS_INTERVAL:
			d = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || d < 0 || d > 86400) {
				fprintf(stderr,
				        "pgsluice serve: --progress-interval %s: want seconds, "
				        "e.g. 2 or 0.5 (0: none)\n",
				        optarg);
				return 2;
			}
			sv->cfg.progress_interval = d;
			break;
		case 'q':
			sv->cfg.quiet = 1;
			break;
		case OPT_CONNECT_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 1 || v > 3600) {
				fprintf(stderr,
				        "pgsluice serve: --connect-timeout %s: want seconds, "
				        "1 to 3600\n",
				        optarg);
				return 2;
			}
			sv->cfg.connect_timeout = (int)v;
			break;
		case OPT_LOCK_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 0 || v > 86400) {
				fprintf(stderr,
				        "pgsluice serve: --lock-timeout %s: want seconds, "
				        "0 to 86400 (0: no limit)\n",
				        optarg);
				return 2;
			}
			sv->cfg.lock_timeout = (int)v;
			break;
		case OPT_STATEMENT_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 0 || v > 7 * 86400) {
				fprintf(stderr,
				        "pgsluice serve: --statement-timeout %s: want seconds, "
				        "0 to 604800 (0: no limit)\n",
				        optarg);
				return 2;
			}
			sv->cfg.statement_timeout = (int)v;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			sv->cfg.verbose = 1;
			break;
		case OPT_SYNAPSE:
			sv->cfg.synapse = SYNAPSE_ON;
			break;
		case OPT_NO_SYNAPSE:
			sv->cfg.synapse = SYNAPSE_OFF;
			break;
		case OPT_FORCE_SCHEMA_VERSION:
			sv->cfg.force_schema_version = 1;
			break;
		case OPT_NO_ANALYZE:
			sv->cfg.no_analyze = 1;
			break;
		case OPT_FORCE_REPLACE:
			sv->cfg.force_replace = 1;
			break;
		case 'j':
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 1 || v > JOBS_MAX) {
				fprintf(stderr,
				        "pgsluice serve: --jobs %s: want 1 to %d connections\n",
				        optarg, JOBS_MAX);
				return 2;
			}
			sv->cfg.jobs = (int)v;
			break;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return cli_usage_error("pgsluice serve",
		                       "unexpected argument \"%s\" (every "
		                       "option starts with - or --)",
		                       argv[optind]);
	sv->cfg.allow_superuser_target = sv->cr.opt.allow_superuser_target;
	if (cli_rules_check(&sv->cr, "pgsluice serve") < 0)
		return 2;
	if (sv->max_unauth > 0 && sv->max_unauth >= sv->max_connections)
		return cli_usage_error("pgsluice serve",
		                       "--max-unauthenticated %d: want fewer than "
		                       "--max-connections (%d), so that clients that have not "
		                       "authenticated never take every place",
		                       sv->max_unauth, sv->max_connections);
	sv->cfg.conninfo = cli_target(sv->cfg.conninfo);
	if (sv->cfg.conninfo == NULL)
		return cli_usage_error("pgsluice serve",
		                       "--target is required (or "
		                       "PGSLUICE_TARGET), e.g. --target \"dbname=synapse "
		                       "user=synapse_user\"");
	if (sv->cfg.n_schemas == 0)
		sv->schemas[sv->cfg.n_schemas++] = "public";
	if (sv->n_listen == 0 && sv->unix_path == NULL)
		sv->listen[sv->n_listen++] = SERVE_DEFAULT_LISTEN;
	return -1;
}

int
serve_main(int argc, char **argv)
{
	struct serve sv;
	char where[768], mode[160], merr[256];
	int r, i, code = 2;

	memset(&sv, 0, sizeof(sv));
	cli_rules_init(&sv.cr);
	r = serve_parse(&sv, argc, argv);
	if (r >= 0)
		return r;

	signal(SIGPIPE, SIG_IGN);
	sv.base = event_base_new();
	if (sv.base == NULL) {
		fprintf(stderr, "pgsluice serve: cannot set up the event loop (libevent)\n");
		return 2;
	}
	sv.cfg.base = sv.base;
	sv.cfg.schemas = sv.schemas;
	sv.cfg.rules = &sv.cr;
	sv.cfg.admit = serve_admit;
	sv.cfg.on_end = serve_on_end;
	sv.cfg.on_result = serve_on_result;
	sv.cfg.on_free = serve_on_free;
	sv.cfg.arg = &sv;

	if (serve_security_setup(&sv) < 0)
		goto out;
	for (i = 0; i < sv.n_listen; i++)
		if (serve_listen_tcp(&sv, sv.listen[i]) < 0)
			goto out;
	if (sv.unix_path != NULL && serve_listen_unix(&sv, sv.unix_path) < 0)
		goto out;
	if (sv.metrics_listen != NULL) {
		if (metrics_start(sv.base, sv.metrics_listen, serve_live, &sv, merr, sizeof(merr)) <
		    0) {
			fprintf(stderr, "pgsluice serve: %s\n", merr);
			goto out;
		}
		log_info(NULL, "metrics on http://%s/metrics, health on /healthz",
		         sv.metrics_listen);
	}
	sv.ev_term = evsignal_new(sv.base, SIGTERM, serve_on_signal, &sv);
	sv.ev_int = evsignal_new(sv.base, SIGINT, serve_on_signal, &sv);
	sv.ev_hup = evsignal_new(sv.base, SIGHUP, serve_on_hup, &sv);
	sv.ev_resume = evtimer_new(sv.base, serve_on_resume, &sv);
	if (sv.ev_resume == NULL) {
		fprintf(stderr, "pgsluice serve: out of memory (libevent)\n");
		goto out;
	}
	if (sv.ev_term == NULL || sv.ev_int == NULL || sv.ev_hup == NULL ||
	    evsignal_add(sv.ev_term, NULL) != 0 || evsignal_add(sv.ev_int, NULL) != 0 ||
	    evsignal_add(sv.ev_hup, NULL) != 0) {
		fprintf(stderr, "pgsluice serve: cannot catch SIGTERM/SIGINT/SIGHUP (libevent)\n");
		goto out;
	}
	if (serve_security_started(&sv) < 0)
		goto out;
	connhint_describe(sv.cfg.conninfo, sv.target_desc, sizeof(sv.target_desc));
	sv.cfg.target_desc = sv.target_desc;
	snprintf(where, sizeof(where), "%s", sv.target_desc);
	if (sv.cfg.jobs > 1)
		snprintf(mode, sizeof(mode),
		         "--jobs %d: pre-data committed first, data and "
		         "post-data over %d connections, undone on failure",
		         sv.cfg.jobs, sv.cfg.jobs);
	else
		snprintf(mode, sizeof(mode), "%s",
		         sv.cr.opt.single_transaction
		                 ? "single transaction"
		                 : "--no-single-transaction: committed statement by statement");
	log_info(NULL, "pgsluice %s serving imports into %s%s%s (%s%s%s)", PGSLUICE_VERSION, where,
	         target_role_name() ? " with --role " : "",
	         target_role_name() ? target_role_name() : "", mode,
	         sv.cfg.clear_target ? ", --clear-target" : "", sv.once ? ", --once" : "");

	event_base_dispatch(sv.base);

	if (sv.once)
		code = sv.once_done && sv.once_committed ? 0 : 1;
	else
		code = 0;
	log_info(NULL, "exiting (status %d)", code);
out:
	metrics_stop();
	serve_close_listeners(&sv);
	if (sv.ev_term)
		event_free(sv.ev_term);
	if (sv.ev_int)
		event_free(sv.ev_int);
	if (sv.ev_hup)
		event_free(sv.ev_hup);
	if (sv.ev_resume)
		event_free(sv.ev_resume);
	free(sv.sessions);
	event_base_free(sv.base);
	if (sv.ssl_ctx)
		SSL_CTX_free(sv.ssl_ctx);
	auth_free(sv.cfg.auth);
	connlimits_free(sv.pool);
	return code;
}
