/*
 * priv.c - drop root for a named user (priv.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "priv.h"

/* The account of user (a name, or a numeric uid), checked; NULL with err. */
static struct passwd *
priv_lookup(const char *user, char *err, size_t size)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		v = strtoul(user, &end, 10);
		if (end != user && *end == '\0')
			pw = getpwuid((uid_t)v);
	}
	if (pw == NULL) {
		snprintf(err, size,
		         "--user %s: no such user%s%s (create it, e.g. useradd --system "
		         "--no-create-home --shell /usr/sbin/nologin %s, or name another)",
		         user, errno ? ": " : "", errno ? strerror(errno) : "", user);
		return NULL;
	}
	if (geteuid() != 0) {
		snprintf(err, size, "--user %s: only root can change user (running as uid %u)",
		         user, (unsigned)geteuid());
		return NULL;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, size, "--user %s: that is root; name an unprivileged user", user);
		return NULL;
	}
	return pw;
}

int
priv_check(const char *user, char *err, size_t size)
{
	return priv_lookup(user, err, size) != NULL ? 0 : -1;
}

int
priv_drop(const char *user, char *err, size_t size)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	pw = priv_lookup(user, err, size);
	if (pw == NULL)
		return -1;
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (initgroups(pw->pw_name, gid) != 0) {
		snprintf(err, size, "--user %s: initgroups: %s", user, strerror(errno));
		return -1;
	}
	if (setgid(gid) != 0) {
		snprintf(err, size, "--user %s: setgid(%u): %s", user, (unsigned)gid,
		         strerror(errno));
		return -1;
	}
	if (setuid(uid) != 0) {
		snprintf(err, size, "--user %s: setuid(%u): %s", user, (unsigned)uid,
		         strerror(errno));
		return -1;
	}
	/* verify: all ids changed, and root cannot be had back */
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
		snprintf(err, size, "--user %s: the user or group did not change", user);
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, size, "--user %s: root could be regained after dropping it", user);
		return -1;
	}
	return 0;
}
