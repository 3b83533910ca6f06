/*
 * client.c - the client side of one connection (client.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "client.h"
#include "log.h"
#include "tls.h"

#define CLIENT_INPUT_HIGH (256 * 1024)  /* bytes buffered before we stop reading */
#define CLIENT_BULK_READ (128 * 1024)   /* bytes taken per bulk read */
#define CLIENT_COALESCE_MIN (32 * 1024) /* a read below this: let more arrive before the next */
#define CLIENT_COALESCE_US 1000         /* ... for this long (microseconds) */
#define CLIENT_LINGER_S 5               /* wait for the client to close after the answer */
#define CLIENT_LEFT_CHECK_MS 250        /* a client that had closed: did it reset on the answer? */

static void client_on_read(struct bufferevent *bev, void *arg);
static void client_on_write(struct bufferevent *bev, void *arg);
static void client_on_event(struct bufferevent *bev, short what, void *arg);

static void
client_setup(struct client *c)
{
	bufferevent_setcb(c->bev, client_on_read, client_on_write, client_on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CLIENT_INPUT_HIGH);
}

int
client_init(struct client *c, struct event_base *base, struct bufferevent *bev, const char *who,
            const struct client_events *cb, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->base = base;
	c->who = who;
	c->cb = cb;
	c->arg = arg;
	c->bev = bev;
	c->plain_socket =
		bufferevent_openssl_get_ssl(bev) == NULL && bufferevent_get_underlying(bev) == NULL;
	client_setup(c);
	return 0;
}

void
client_free(struct client *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->ev_left)
		event_free(c->ev_left);
	if (c->ev_linger)
		event_free(c->ev_linger);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_coalesce)
		event_free(c->ev_coalesce);
	free(c->raw);
	memset(c, 0, sizeof(*c));
}

void
client_stop(struct client *c)
{
	if (c->bev) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	if (c->ev_left)
		event_del(c->ev_left);
	if (c->ev_linger)
		event_del(c->ev_linger);
}

struct evbuffer *
client_in(const struct client *c)
{
	return bufferevent_get_input(c->bev);
}

struct evbuffer *
client_out(const struct client *c)
{
	return bufferevent_get_output(c->bev);
}

evutil_socket_t
client_fd(const struct client *c)
{
	return c->bev ? bufferevent_getfd(c->bev) : -1;
}

/* ---- the end of the connection --------------------------------------- */

static void
client_closed(struct client *c)
{
	c->cb->on_closed(c->arg);
}

void
client_log_left(struct client *c, const char *why)
{
	if (c->left_logged)
		return;
	c->left_logged = 1;
	log_warn(c->who, "client left before the answer (%s): it did not get the summary above",
	         why);
}

static void
client_on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	(void)fd;
	(void)what;

	log_debug(c->who, "client did not close within %d s after the summary", CLIENT_LINGER_S);
	client_closed(c);
}

/*
 * A client that had closed its side before the answer: a peer that had
 * closed its socket wholly (socat -t 0.5 after its input ended, a killed
 * sender) answers it with a reset, which shows as SO_ERROR EPIPE or
 * ECONNRESET a moment later.
 */
static void
client_on_left_check(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	(void)fd;
	(void)what;

	if (getsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    (err == EPIPE || err == ECONNRESET))
		client_log_left(c, "its connection was reset when the summary came");
	client_closed(c);
}

/*
 * The answer has left our buffer.  Close our side; if the client may still
 * be sending (an aborted import), read and discard until it closes, so that
 * closing with unread input does not reset the connection before the
 * client has read the answer.  With TLS a close_notify goes first
 * (tls_shutdown_write), then the FIN.
 */
static void
client_drained(struct client *c)
{
	struct timeval tv = { CLIENT_LINGER_S, 0 };
	struct timeval check = { 0, CLIENT_LEFT_CHECK_MS * 1000 };

	if (c->gone) {
		client_closed(c);
		return;
	}
	if (c->eof) {
		if (c->ev_left != NULL)
			return;
		c->ev_left = evtimer_new(c->base, client_on_left_check, c);
		if (c->ev_left == NULL || evtimer_add(c->ev_left, &check) != 0)
			client_closed(c);
		return;
	}
	if (c->lingering)
		return;
	c->lingering = 1;
	tls_shutdown_write(c->bev);
	evbuffer_drain(client_in(c), evbuffer_get_length(client_in(c)));
	bufferevent_enable(c->bev, EV_READ);
	c->ev_linger = evtimer_new(c->base, client_on_linger, c);
	if (c->ev_linger == NULL || evtimer_add(c->ev_linger, &tv) != 0)
		client_closed(c);
}

void
client_close(struct client *c, int write_timeout_s)
{
	struct timeval tv = { write_timeout_s, 0 };

	c->closing = 1;
	if (c->gone) {
		client_closed(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_WRITE);
	if (evbuffer_get_length(client_out(c)) == 0)
		client_drained(c);
}

/* ---- events ------------------------------------------------------------ */

static void
client_on_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (c->closing) {
		evbuffer_drain(bufferevent_get_input(bev),
		               evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	c->cb->on_input(c->arg);
}

static void
client_on_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_drained(c);
}

static void
client_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	int err = EVUTIL_SOCKET_ERROR();
	char tls[256];

	if (what & BEV_EVENT_CONNECTED) {
		/* the TLS handshake is done (a plain socket never says so) */
		tls_describe(bev, tls, sizeof(tls));
		log_info(c->who, "TLS: %s", tls);
		c->tls_pending = 0;
		c->cb->on_tls(c->arg);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = 1;
		snprintf(c->why, sizeof(c->why), "the client closed the connection");
	} else if (what & BEV_EVENT_ERROR) {
		c->eof = 1;
		c->gone = 1;
		if (tls_active(bev))
			tls_error(bev, tls, sizeof(tls));
		else
			snprintf(tls, sizeof(tls), "%s", evutil_socket_error_to_string(err));
		snprintf(c->why, sizeof(c->why), "the client connection was lost (%.90s)", tls);
		if (c->tls_pending)
			log_warn(c->who, "TLS handshake failed: %s", tls);
	} else if (what & BEV_EVENT_TIMEOUT) {
		c->eof = 1;
		c->gone = 1;
		snprintf(c->why, sizeof(c->why), "the client stopped reading (timeout)");
	} else {
		return;
	}
	log_debug(c->who, "%s", c->why);
	if (c->closing) {
		if (c->gone && (evbuffer_get_length(client_out(c)) > 0 || c->ev_left != NULL))
			client_log_left(c, c->why);
		client_closed(c);
		return;
	}
	c->cb->on_end(c->arg);
}

/* ---- TLS ---------------------------------------------------------------- */

int
client_tls_port(const struct client *c, SSL_CTX *ctx)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (ctx == NULL || tls_active(c->bev))
		return 0;
	if (getsockname(bufferevent_getfd(c->bev), (struct sockaddr *)&ss, &len) < 0)
		return 1;
	return ss.ss_family != AF_UNIX;
}

/*
 * A bufferevent_openssl in the accepting state takes a duplicate of the
 * descriptor (the plain one is freed and closes its own).
 */
enum client_tls
client_take_tls(struct client *c, SSL_CTX *ctx, int answer_s)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev), nfd;
	struct bufferevent *tb;

	if (answer_s && send(fd, "S", 1, MSG_NOSIGNAL) != 1) {
		c->gone = 1;
		snprintf(c->why, sizeof(c->why), "the client left during the SSLRequest");
		return CLIENT_TLS_LEFT;
	}
	nfd = dup(fd);
	if (nfd < 0) {
		c->gone = 1;
		snprintf(c->why, sizeof(c->why), "cannot start TLS: out of file descriptors");
		return CLIENT_TLS_FAILED;
	}
	evutil_make_socket_closeonexec(nfd);
	tb = tls_accept(c->base, ctx, nfd); /* closes nfd on failure */
	if (tb == NULL) {
		c->gone = 1;
		snprintf(c->why, sizeof(c->why), "cannot set up TLS for the connection");
		return CLIENT_TLS_FAILED;
	}
	bufferevent_free(c->bev);
	c->bev = tb;
	client_setup(c);
	c->plain_socket = 0;
	c->tls_pending = 1;
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	return CLIENT_TLS_OK;
}

/* ---- bulk reads ---------------------------------------------------------- */

/*
 * libevent 2.1 reads a socket 4 KiB at a time (EVBUFFER_MAX_READ; the knob
 * to raise it came in 2.2), and each read would cost a whole
 * decode/lex/forward round and a send to the target.  In bulk mode on a
 * plain socket the client is read here (the bufferevent's reading is
 * disabled): one recv of up to CLIENT_BULK_READ, only when the session
 * has taken what the last one gave, so reading stays bounded.
 */
static void
client_on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	(void)fd;
	(void)what;

	if (!c->closing)
		c->cb->on_input(c->arg);
}

void
client_bulk_start(struct client *c)
{
	if (!c->plain_socket || (c->raw = malloc(CLIENT_BULK_READ)) == NULL)
		return;
	c->ev_read = event_new(c->base, bufferevent_getfd(c->bev), EV_READ, client_on_ready, c);
	c->ev_coalesce = evtimer_new(c->base, client_on_ready, c);
	c->bulk = c->ev_read != NULL && c->ev_coalesce != NULL;
	if (c->bulk)
		bufferevent_disable(c->bev, EV_READ);
}

void
client_bulk_stop(struct client *c)
{
	if (!c->bulk)
		return;
	c->bulk = 0;
	event_del(c->ev_read);
	event_del(c->ev_coalesce);
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
}

/* recv never takes more than the kernel holds; 0 is EOF, -1 (but EAGAIN) a lost connection. */
void
client_bulk_read(struct client *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	ssize_t n;
	int err;

	c->last_read = 0;
	if (!c->bulk || c->eof || c->raw_start < c->raw_end || fd < 0)
		return;
	c->raw_start = c->raw_end = 0;
	do
		n = recv(fd, c->raw, CLIENT_BULK_READ, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	err = errno;
	if (n > 0) {
		c->raw_end = (size_t)n;
		c->last_read = n;
		return;
	}
	if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
		return;
	c->eof = 1;
	if (n == 0) {
		snprintf(c->why, sizeof(c->why), "the client closed the connection");
	} else {
		c->gone = 1;
		snprintf(c->why, sizeof(c->why), "the client connection was lost (%.90s)",
		         evutil_socket_error_to_string(err));
	}
	log_debug(c->who, "%s", c->why);
}

const char *
client_bulk_data(const struct client *c, size_t *len)
{
	*len = c->raw_end - c->raw_start;
	return c->raw + c->raw_start;
}

void
client_bulk_used(struct client *c, size_t n)
{
	c->raw_start += n;
}

/*
 * After a short read the sender is slower than we are: wait
 * CLIENT_COALESCE_US so that the next read takes tens of KiB rather than
 * one segment.  After an empty read, or a long one, wait for the socket:
 * an empty one wakes us at the next byte, which is then taken at once.
 */
void
client_wait(struct client *c)
{
	struct timeval tv = { 0, CLIENT_COALESCE_US };

	if (!c->bulk || c->eof)
		return; /* the bufferevent reads */
	if (c->last_read > 0 && c->last_read < CLIENT_COALESCE_MIN)
		evtimer_add(c->ev_coalesce, &tv);
	else
		event_add(c->ev_read, NULL);
}

size_t
client_pending(const struct client *c)
{
	return evbuffer_get_length(client_in(c)) + (c->raw_end - c->raw_start);
}
