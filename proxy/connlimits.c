/*
 * connlimits.c - the unauthenticated connection pool and its caps (connlimits.h).
 *
 * The pool is an array in arrival order, oldest first: a cap is at most a
 * few thousand, and each accept looks at it once or twice.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "connlimits.h"

struct connlimits_entry {
	void *conn;
	unsigned char key[CONNLIMITS_KEY_LEN];
};

struct connlimits {
	int max_pending, max_per_addr;
	struct connlimits_entry *e; /* n entries, oldest first; room for max_pending + 1 */
	int n;
};

/* The address as counted: IPv4 whole, IPv6 by its /64, every Unix client as one. */
static void
connlimits_key(const struct sockaddr *sa, unsigned char key[CONNLIMITS_KEY_LEN])
{
	memset(key, 0, CONNLIMITS_KEY_LEN);
	key[0] = (unsigned char)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 8);
}

struct connlimits *
connlimits_new(int max_pending, int max_per_addr)
{
	struct connlimits *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->max_pending = max_pending > 0 ? max_pending : 1;
	l->max_per_addr = max_per_addr > 0 ? max_per_addr : 1;
	l->e = calloc((size_t)l->max_pending + 1, sizeof(*l->e));
	if (l->e == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void
connlimits_free(struct connlimits *l)
{
	if (l == NULL)
		return;
	free(l->e);
	free(l);
}

static int
connlimits_count(const struct connlimits *l, const unsigned char *key)
{
	int i, n = 0;

	for (i = 0; i < l->n; i++)
		if (memcmp(l->e[i].key, key, CONNLIMITS_KEY_LEN) == 0)
			n++;
	return n;
}

/* The oldest entry with key, or -1. */
static int
connlimits_oldest(const struct connlimits *l, const unsigned char *key)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (memcmp(l->e[i].key, key, CONNLIMITS_KEY_LEN) == 0)
			return i;
	return -1;
}

void *
connlimits_add(struct connlimits *l, void *conn, const struct sockaddr *sa)
{
	unsigned char key[CONNLIMITS_KEY_LEN];
	int i, c, best = -1, best_n = 0;

	connlimits_key(sa, key);
	if (l->n > l->max_pending)
		return conn; /* cannot happen: every add makes room before it returns */
	l->e[l->n].conn = conn;
	memcpy(l->e[l->n].key, key, CONNLIMITS_KEY_LEN);
	l->n++;
	/* the new one's address is over its cap: its own oldest makes room */
	if (connlimits_count(l, key) > l->max_per_addr)
		return l->e[connlimits_oldest(l, key)].conn;
	if (l->n <= l->max_pending)
		return NULL;
	/*
	 * The pool is over: the address that holds the most gives its oldest;
	 * among equals, the one whose oldest came first (the scan is in
	 * arrival order, so the first found wins a tie).
	 */
	for (i = 0; i < l->n - 1; i++) {
		if (connlimits_oldest(l, l->e[i].key) != i)
			continue; /* counted at its address's first entry */
		c = connlimits_count(l, l->e[i].key);
		if (c > best_n) {
			best_n = c;
			best = i;
		}
	}
	return l->e[best >= 0 ? best : 0].conn;
}

void
connlimits_remove(struct connlimits *l, void *conn)
{
	int i;

	for (i = 0; i < l->n; i++) {
		if (l->e[i].conn == conn) {
			memmove(&l->e[i], &l->e[i + 1], (size_t)(l->n - i - 1) * sizeof(*l->e));
			l->n--;
			return;
		}
	}
}

int
connlimits_pending_from(const struct connlimits *l, const void *conn)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].conn == conn)
			return connlimits_count(l, l->e[i].key);
	return 0;
}

/* The text of a key: "127.0.0.1", "2001:db8:1:2::/64", "the Unix socket". */
static void
connlimits_key_text(const unsigned char key[CONNLIMITS_KEY_LEN], char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;

	if (key[0] == AF_INET) {
		memcpy(&a4, key + 1, 4);
		snprintf(buf, size, "%s", inet_ntop(AF_INET, &a4, host, sizeof(host)) ? host : "?");
	} else if (key[0] == AF_INET6) {
		memcpy(&a6, key + 1, 16);
		if (inet_ntop(AF_INET6, &a6, host, sizeof(host)))
			snprintf(buf, size, "%s/64", host);
		else
			snprintf(buf, size, "?");
	} else if (key[0] == AF_UNIX) {
		snprintf(buf, size, "the Unix socket");
	} else {
		snprintf(buf, size, "?");
	}
}

void
connlimits_conn_addr(const struct connlimits *l, const void *conn, char *buf, size_t size)
{
	int i;

	for (i = 0; i < l->n; i++) {
		if (l->e[i].conn == conn) {
			connlimits_key_text(l->e[i].key, buf, size);
			return;
		}
	}
	snprintf(buf, size, "?");
}
