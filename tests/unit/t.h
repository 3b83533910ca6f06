/*
 * t.h - the unit tests' tiny harness.  Each check prints one TAP-like line
 * ("ok - name" / "not ok - name: why"); tests/run.sh counts them.  A test
 * program exits 1 if any check failed.
 */
#ifndef PGSLUICE_T_H
#define PGSLUICE_T_H

#include <stdio.h>
#include <string.h>

static int t_failed;

#define T_OK(cond, ...)                                                      \
	do {                                                                 \
		if (cond) {                                                  \
			printf("ok - ");                                     \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
		} else {                                                     \
			t_failed++;                                          \
			printf("not ok - ");                                 \
			printf(__VA_ARGS__);                                 \
			printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond); \
		}                                                            \
	} while (0)

#define T_DONE() return t_failed ? 1 : 0

#endif
