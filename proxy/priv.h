/*
 * priv.h - dropping root after the listening sockets are bound (serve
 * --user NAME).
 *
 * Kept apart because it is the one place the daemon changes who it is:
 * supplementary groups (initgroups), then the group, then the user, in
 * that order (the reverse would leave root's groups, or fail), and a check
 * that it cannot come back.
 */
#ifndef PGSLUICE_PRIV_H
#define PGSLUICE_PRIV_H

#include <stddef.h>

/*
 * Check, before anything is bound, that priv_drop(user) can work: the user
 * exists (a name, or a numeric uid), is not root, and we are root.
 * Returns 0, or -1 with a one-line reason in err.
 */
int priv_check(const char *user, char *err, size_t size) __attribute__((warn_unused_result));

/*
 * Become user (a name, or a numeric uid).  Must be root.  Returns 0, or -1
 * with a one-line reason in err (no such user, not root, a set*id call
 * failed, or root could be regained).
 */
int priv_drop(const char *user, char *err, size_t size) __attribute__((warn_unused_result));

#endif
