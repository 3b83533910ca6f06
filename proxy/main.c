/*
 * main.c - ./pgsluice: dispatch to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "send.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "pgsluice %s - stream a PostgreSQL plain-format dump into a target database\n"
	        "\n"
	        "usage: pgsluice COMMAND [options]\n"
	        "\n"
	        "commands:\n"
	        "  serve    listen on a socket and import each dump sent to it into the\n"
	        "           target, atomically (pg_dump -O db | gzip | nc host 5480)\n"
	        "  check    the preflight alone: can the target take an import?\n"
	        "  filter   rewrite a dump from stdin to stdout (no database needed)\n"
	        "  gen-cert a self-signed TLS certificate and key for serve --tls-cert\n"
	        "  send     send a dump to a serve daemon: progress bar, TLS, exit status\n"
	        "\n"
	        "pgsluice COMMAND --help lists a command's options.\n",
	        PGSLUICE_VERSION);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "pgsluice: a command is missing (serve, send, check, filter, "
		                "gen-cert)\nTry 'pgsluice --help' for more information.\n");
		return 2;
	}
	if (strcmp(argv[1], "filter") == 0)
		return filter_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return check_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "gen-cert") == 0)
		return gencert_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "send") == 0)
		return send_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("pgsluice %s\n", PGSLUICE_VERSION);
		return 0;
	}
	fprintf(stderr,
	        "pgsluice: unknown command \"%s\" (serve, send, check, filter, "
	        "gen-cert)\nTry 'pgsluice --help' for more information.\n",
	        argv[1]);
	return 2;
}
