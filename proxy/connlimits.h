/*
 * connlimits.h - the pool of connections that have not proved who they are,
 * and how it is kept from taking the daemon's every slot.
 *
 * A connection enters the pool when it is accepted and leaves it when it
 * has authenticated (the AUTH line, or a TLS client certificate), or, on
 * a daemon with neither, when its dump begins.  The pool has two caps,
 * both below --max-connections:
 *
 *   - per address (--max-unauthenticated-per-address): an IPv4 address,
 *     an IPv6 /64 (what one host usually holds), or the Unix socket;
 *   - in all (--max-unauthenticated).
 *
 * A new connection is never refused by the pool: it is the oldest waiting
 * connection that makes room, from the new connection's own address when
 * that address is at its cap, else from the address that holds the most
 * of the pool.  So idle connections cost an attacker a steady stream of
 * new ones to keep, and a sender that connects and sends its AUTH line at
 * once is not the one closed: it is the newest, from an address holding
 * the fewest.
 *
 * Kept apart from serve.c so that the policy is one small file with no
 * libevent state: it holds opaque connection pointers and says which one
 * to close; the caller closes it and calls connlimits_remove.
 */
#ifndef PGSLUICE_CONNLIMITS_H
#define PGSLUICE_CONNLIMITS_H

#include <stddef.h>
#include <sys/socket.h>

#define CONNLIMITS_KEY_LEN 17 /* family byte + 16 address bytes */

struct connlimits;

/*
 * A pool of at most max_pending connections, max_per_addr from one
 * address (both >= 1).  NULL on out of memory.
 */
struct connlimits *connlimits_new(int max_pending, int max_per_addr);

/* Free the pool (the connections in it are the caller's).  l may be NULL. */
void connlimits_free(struct connlimits *l);

/*
 * conn, accepted from sa, enters the pool.  Returns the connection that
 * must now be closed to keep within the caps (never conn itself), or
 * NULL.  The caller closes it and calls connlimits_remove for it.  Returns
 * conn itself only when the pool cannot grow (out of memory): then conn
 * is to be refused.
 */
void *connlimits_add(struct connlimits *l, void *conn, const struct sockaddr *sa);

/* conn leaves the pool (authenticated, or closed).  Not in it: nothing. */
void connlimits_remove(struct connlimits *l, void *conn);

/* Connections in the pool from conn's address (0: conn is not in the pool). */
int connlimits_pending_from(const struct connlimits *l, const void *conn);

/*
 * conn's address as the caps count it, for messages: "127.0.0.1",
 * "2001:db8:1:2::/64", "the Unix socket" ("?": conn is not in the pool).
 */
void connlimits_conn_addr(const struct connlimits *l, const void *conn, char *buf, size_t size);

#endif
