/*
 * send.h - `pgsluice send`: the client side of an import.
 *
 * Kept apart from cli.h's shared option parsing because send shares no
 * option with filter or serve: it speaks only the daemon's wire protocol
 * (the dump's bytes one way, text lines the other), which nc also speaks.
 */
#ifndef PGSLUICE_SEND_H
#define PGSLUICE_SEND_H

/* Exit statuses of send_main, so scripts can tell the cases apart. */
enum send_exit {
	SEND_EXIT_OK = 0,          /* the server answered OK: the import committed */
	SEND_EXIT_ERROR = 1,       /* the server answered ERROR: nothing was changed */
	SEND_EXIT_LOCAL = 2,       /* usage, input file, token file, connect or TLS
	                          * failure: the import did not start here */
	SEND_EXIT_NO_ANSWER = 3,   /* the connection dropped, or the server closed
	                          * it, before an OK or ERROR line */
	SEND_EXIT_INTERRUPTED = 4, /* SIGINT or SIGTERM before the answer: the
	                          * connection was reset (send_main says what
	                          * the daemon does then) */
};

/*
 * `pgsluice send [options] HOST:PORT [FILE|-]`; argv[0] is "send".
 * Returns one of enum send_exit.
 */
int send_main(int argc, char **argv);

#endif
