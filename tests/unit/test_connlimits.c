/*
 * test_connlimits.c - proxy/connlimits.c: the unauthenticated pool's caps.  The
 * address's own oldest makes room at the per-address cap; at the pool's
 * cap, the oldest of the address holding the most; never the newcomer;
 * IPv6 counted by /64; removal and counts.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "connlimits.h"
#include "t.h"

static struct sockaddr_in
v4(const char *a, int port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons((unsigned short)port);
	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static struct sockaddr_in6
v6(const char *a)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s.sin6_addr);
	return s;
}

int
main(void)
{
	struct connlimits *l = connlimits_new(4, 2);
	struct sockaddr_in a = v4("10.0.0.1", 1), a2 = v4("10.0.0.1", 2), b = v4("10.0.0.2", 1),
			   c = v4("10.0.0.3", 1);
	struct sockaddr_in6 x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"),
			    z = v6("2001:db8:1:3::1");
	int conn[16], i, all_null = 1;
	char buf[64];
	void *v;

	T_OK(l != NULL, "a pool of 4, 2 per address");
	T_OK(connlimits_add(l, &conn[0], (struct sockaddr *)&a) == NULL, "first from A: room");
	T_OK(connlimits_add(l, &conn[1], (struct sockaddr *)&a2) == NULL,
	     "second from A (another port): room");
	T_OK(connlimits_pending_from(l, &conn[1]) == 2, "A holds 2 (the port does not count)");
	v = connlimits_add(l, &conn[2], (struct sockaddr *)&a);
	T_OK(v == &conn[0], "third from A: A's oldest makes room");
	connlimits_remove(l, v);
	T_OK(connlimits_pending_from(l, &conn[1]) == 2 && connlimits_pending_from(l, &conn[0]) == 0,
	     "after the removal A holds 2, the removed one is gone");
	T_OK(connlimits_add(l, &conn[3], (struct sockaddr *)&b) == NULL, "B: room");
	T_OK(connlimits_add(l, &conn[4], (struct sockaddr *)&b) == NULL,
	     "B again: room (pool full)");
	v = connlimits_add(l, &conn[5], (struct sockaddr *)&c);
	T_OK(v == &conn[1], "C on a full pool: the oldest of the address holding the most "
	                    "(A and B hold 2; A's came first)");
	connlimits_remove(l, v);
	v = connlimits_add(l, &conn[6], (struct sockaddr *)&c);
	T_OK(v == &conn[3], "C again: now B holds the most: B's oldest");
	connlimits_remove(l, v);
	connlimits_remove(l, &conn[6]);
	connlimits_remove(l, &conn[6]);
	T_OK(connlimits_pending_from(l, &conn[6]) == 0 && connlimits_pending_from(l, &conn[5]) == 1,
	     "removing twice removes once (C holds 1)");
	connlimits_free(l);

	/* a newcomer is never the one closed */
	l = connlimits_new(3, 3);
	for (i = 0; i < 3; i++)
		all_null &= connlimits_add(l, &conn[i], (struct sockaddr *)&a) == NULL;
	T_OK(all_null, "3 from A fill a pool of 3");
	for (i = 3; i < 12; i++) {
		v = connlimits_add(l, &conn[i], (struct sockaddr *)&a);
		if (v == &conn[i] || v == NULL)
			break;
		connlimits_remove(l, v);
	}
	T_OK(i == 12, "9 more from A: each closes the oldest, never itself");
	v = connlimits_add(l, &conn[12], (struct sockaddr *)&b);
	T_OK(v == &conn[9], "B on a pool A fills: A's oldest makes room");
	connlimits_remove(l, v);
	T_OK(connlimits_pending_from(l, &conn[12]) == 1, "B holds its one place");
	connlimits_free(l);

	/* IPv6: one /64 is one address */
	l = connlimits_new(8, 1);
	T_OK(connlimits_add(l, &conn[0], (struct sockaddr *)&x) == NULL, "IPv6 X: room");
	T_OK(connlimits_add(l, &conn[1], (struct sockaddr *)&y) == &conn[0],
	     "Y in X's /64 counts as X: X makes room");
	connlimits_remove(l, &conn[0]);
	T_OK(connlimits_add(l, &conn[2], (struct sockaddr *)&z) == NULL, "Z in the next /64: room");
	connlimits_conn_addr(l, &conn[1], buf, sizeof(buf));
	T_OK(strcmp(buf, "2001:db8:1:2::/64") == 0, "IPv6 text is the /64 (%s)", buf);
	T_OK(connlimits_add(l, &conn[3], (struct sockaddr *)&a) == NULL, "IPv4 A: room");
	connlimits_conn_addr(l, &conn[3], buf, sizeof(buf));
	T_OK(strcmp(buf, "10.0.0.1") == 0, "IPv4 text is the address (%s)", buf);
	connlimits_conn_addr(l, &conn[9], buf, sizeof(buf));
	T_OK(strcmp(buf, "?") == 0, "not in the pool: ?");
	connlimits_free(l);
	T_DONE();
}
