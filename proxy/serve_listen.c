/*
 * serve_listen.c - the daemon's doors: the TCP and Unix listeners, and
 * each accepted connection turned into a session (or turned away) under
 * the caps on connections that have not authenticated, with the
 * listeners paused for a loop turn after a burst of accepts.
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
void
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

int
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

int
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
