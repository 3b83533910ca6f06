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
	CLI_OPT_KEEP_OWNERS = 1000,
	CLI_OPT_KEEP_PRIVILEGES,
	CLI_OPT_ALLOW_DROP,
	CLI_OPT_MAP_ROLE,
	CLI_OPT_EXPLAIN,
	CLI_OPT_MAX_STATEMENT,
	CLI_OPT_ALLOW_SUPERUSER_TARGET,
	CLI_OPT_ALLOW_NATIVE_CODE,
	CLI_OPT_ALLOW_PUBLICATIONS,
	CLI_OPT_FIRST_FREE, /* subcommands number their own options from here */
};

/* Put these entries in a subcommand's struct option table. */
#define CLI_RULE_LONGOPTS                                                    \
	{ "keep-owners", no_argument, NULL, CLI_OPT_KEEP_OWNERS },           \
	{ "keep-privileges", no_argument, NULL, CLI_OPT_KEEP_PRIVILEGES },   \
	{ "allow-drop", no_argument, NULL, CLI_OPT_ALLOW_DROP },             \
	{ "map-role", required_argument, NULL, CLI_OPT_MAP_ROLE },           \
	{ "explain", no_argument, NULL, CLI_OPT_EXPLAIN },                   \
	{ "max-statement", required_argument, NULL, CLI_OPT_MAX_STATEMENT },  \
	{ "allow-superuser-target", no_argument, NULL,                       \
	  CLI_OPT_ALLOW_SUPERUSER_TARGET },                                  \
	{ "allow-native-code", no_argument, NULL, CLI_OPT_ALLOW_NATIVE_CODE }, \
	{ "allow-publications", no_argument, NULL, CLI_OPT_ALLOW_PUBLICATIONS }

/* Help text for those entries, to print in a subcommand's --help. */
#define CLI_RULE_HELP                                                              \
	"  --keep-owners          forward ALTER ... OWNER TO, SET ROLE and SET SESSION\n" \
	"                         AUTHORIZATION (default: drop them)\n"                  \
	"  --map-role OLD=NEW     rewrite role OLD to NEW in what is kept (repeatable);\n" \
	"                         implies --keep-owners for OLD's OWNER TO\n"            \
	"  --keep-privileges      forward GRANT, REVOKE, ALTER DEFAULT PRIVILEGES\n"     \
	"  --allow-drop           forward DROP statements (pg_dump --clean dumps);\n"    \
	"                         default: refuse them\n"                                \
	"  --explain              list every dropped, rewritten or refused statement\n"  \
	"                         with its input line\n"                                  \
	"  --max-statement SIZE   largest statement accepted (default 256M; K, M, G)\n" \
	"  --allow-superuser-target  the target role may be a superuser (serve refuses\n" \
	"                         one otherwise); needed by the two options below\n"   \
	"  --allow-native-code    forward LANGUAGE c and internal functions (native\n"  \
	"                         code; needs --allow-superuser-target)\n"             \
	"  --allow-publications   forward CREATE/ALTER PUBLICATION (needs\n"           \
	"                         --allow-superuser-target)\n"

struct cli_rules {
	struct rules_options opt;
	struct rules_role_map maps[CLI_MAX_ROLE_MAPS];
	int explain;
	size_t max_statement; /* 0: the lexer's default */
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

/* Parse "256M", "64K", "1G", "1048576" into bytes; -1 if malformed. */
long long cli_parse_size(const char *s);

#endif
