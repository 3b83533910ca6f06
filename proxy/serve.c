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
 *
 * This file holds the usage, the session callbacks (admission, result,
 * end), the signals and the run; the options are read in serve_opts.c and
 * serve_security.c, the listeners and accepts are in serve_listen.c, all
 * sharing struct serve through serve_int.h.
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

void
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
	        "                         VACUUM (FREEZE, ANALYZE) each once its post-data ran)\n"
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
