/*
 * cli.h - the subcommands of ./pgsluice and the options they share.
 *
 * main.c dispatches on argv[1]; each subcommand parses the rest of argv with
 * getopt_long.  The rule options (--keep-owners, --keep-privileges,
 * --allow-drop, --map-role OLD=NEW, --explain, --allow-superuser-target,
 * --allow-native-code, --allow-publications) mean the same in filter and
 * serve, so they are parsed here, once.
 */
#ifndef PGSLUICE_CLI_H
#define PGSLUICE_CLI_H

#include <getopt.h>

#include "rules.h"

#define PGSLUICE_VERSION "0.1.0"
#define CLI_MAX_ROLE_MAPS 64

int filter_main(int argc, char **argv);
int serve_main(int argc, char **argv);
int check_main(int argc, char **argv);
int gencert_main(int argc, char **argv);

/* getopt_long values for the shared options (above any short option) */
enum {
	CLI_OPT_VERSION = 999,
	CLI_OPT_KEEP_OWNERS = 1000,
	CLI_OPT_KEEP_PRIVILEGES,
	CLI_OPT_ALLOW_DROP,
	CLI_OPT_MAP_ROLE,
	CLI_OPT_EXPLAIN,
	CLI_OPT_MAX_STATEMENT,
	CLI_OPT_ALLOW_SUPERUSER_TARGET,
	CLI_OPT_ALLOW_NATIVE_CODE,
	CLI_OPT_ALLOW_PUBLICATIONS,
	CLI_OPT_SINGLE_TRANSACTION,
	CLI_OPT_FIRST_FREE, /* subcommands number their own options from here */
};

/* Put these entries in a subcommand's struct option table. */
#define CLI_RULE_LONGOPTS                                                                          \
	{ "keep-owners", no_argument, NULL, CLI_OPT_KEEP_OWNERS },                                 \
		{ "keep-privileges", no_argument, NULL, CLI_OPT_KEEP_PRIVILEGES },                 \
		{ "allow-drop", no_argument, NULL, CLI_OPT_ALLOW_DROP },                           \
		{ "map-role", required_argument, NULL, CLI_OPT_MAP_ROLE },                         \
		{ "explain", no_argument, NULL, CLI_OPT_EXPLAIN },                                 \
		{ "max-statement", required_argument, NULL, CLI_OPT_MAX_STATEMENT },               \
		{ "allow-superuser-target", no_argument, NULL, CLI_OPT_ALLOW_SUPERUSER_TARGET },   \
		{ "allow-native-code", no_argument, NULL, CLI_OPT_ALLOW_NATIVE_CODE },             \
		{ "allow-publications", no_argument, NULL, CLI_OPT_ALLOW_PUBLICATIONS },           \
		{ "no-owner", no_argument, NULL, 'O' },                                            \
		{ "no-privileges", no_argument, NULL, 'x' }, { "no-acl", no_argument, NULL, 'x' }, \
	{                                                                                          \
		"single-transaction", no_argument, NULL, '1'                                       \
	}

/* The short options of those entries, for getopt_long's optstring. */
#define CLI_RULE_SHORTOPTS "Ox1"

/* Every command's table ends with these (before the NULL entry). */
#define CLI_COMMON_LONGOPTS                                                                       \
	{ "version", no_argument, NULL, CLI_OPT_VERSION }, { "verbose", no_argument, NULL, 'v' }, \
		{ "quiet", no_argument, NULL, 'q' },                                              \
	{                                                                                         \
		"help", no_argument, NULL, 'h'                                                    \
	}

/* The short options of those entries. */
#define CLI_COMMON_SHORTOPTS "vqh"

/* Help text for those entries, to print in a subcommand's --help. */
#define CLI_RULE_HELP                                                                      \
	"  -O, --no-owner         drop ALTER ... OWNER TO and SET ROLE (the default, as\n" \
	"                         pg_restore -O; the objects belong to the target role)\n" \
	"  -x, --no-privileges    drop GRANT and REVOKE (the default, as pg_restore -x)\n" \
	"  -1, --single-transaction  one transaction for the whole dump (the default)\n"   \
	"  --keep-owners          forward ALTER ... OWNER TO, SET ROLE and SET SESSION\n"  \
	"                         AUTHORIZATION (default: drop them)\n"                    \
	"  --map-role OLD=NEW     rewrite role OLD to NEW in what is kept (repeatable);\n" \
	"                         implies --keep-owners for OLD's OWNER TO\n"              \
	"  --keep-privileges      forward GRANT, REVOKE, ALTER DEFAULT PRIVILEGES\n"       \
	"  --allow-drop           forward DROP statements (pg_dump --clean dumps);\n"      \
	"                         default: refuse them\n"                                  \
	"  --explain              list every dropped, rewritten or refused statement\n"    \
	"                         with its input line\n"                                   \
	"  --max-statement SIZE   largest statement accepted (default 256M; K, M, G)\n"    \
	"  --allow-superuser-target  the target role may be a superuser (serve refuses\n"  \
	"                         one otherwise); needed by the two options below\n"       \
	"  --allow-native-code    forward LANGUAGE c and internal functions (native\n"     \
	"                         code; needs --allow-superuser-target)\n"                 \
	"  --allow-publications   forward CREATE/ALTER PUBLICATION (needs\n"               \
	"                         --allow-superuser-target)\n"

struct cli_rules {
	struct rules_options opt;
	struct rules_role_map maps[CLI_MAX_ROLE_MAPS];
	int explain;
	int no_owner, no_privileges, single_given; /* -O, -x, -1: the defaults, stated */
	size_t max_statement;                      /* 0: the lexer's default */
};

/* Zero *cr and set the defaults (single transaction on). */
void cli_rules_init(struct cli_rules *cr);

/*
 * Handle a shared option c with argument arg.  Returns 1 if c was one of
 * them, 0 if not, -1 on a bad argument (message already on stderr).
 */
int cli_rules_option(struct cli_rules *cr, int c, const char *arg);

/*
 * After all options: 0 if the rule options fit together, -1 (message on
 * stderr, prefixed with prog) if one needs another that is missing.
 */
int cli_rules_check(const struct cli_rules *cr, const char *prog);

/*
 * getopt_long for every command: prog is "pgsluice serve" and the like.
 * getopt's own complaints are prefixed with prog, and any usage error
 * (getopt's, or an abbreviated destructive option such as --clear for
 * --clear-target, which is refused: those are written in full) is followed
 * by "Try 'PROG --help' for more information."; it then returns '?'.
 * --version prints the version and exits 0.  Otherwise as getopt_long.
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
               const char *prog);

/*
 * A usage error after the options: "PROG: MESSAGE" and the Try line on
 * stderr.  Returns 2, the exit status of a usage error.
 */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The target's connection string: --target/--dbname if given, else the
 * PGSLUICE_TARGET environment variable, else NULL.
 */
const char *cli_target(const char *given);

/* Parse "256M", "64K", "1G", "1048576" into bytes; -1 if malformed. */
long long cli_parse_size(const char *s);

#endif
