/*
 * cli.c - parsing of the options that filter and serve share (cli.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_rules_init(struct cli_rules *cr)
{
	memset(cr, 0, sizeof(*cr));
	cr->opt.single_transaction = 1;
	cr->opt.role_map = cr->maps;
}

long long
cli_parse_size(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		return v;
	case 'K':
		v <<= 10;
		break;
	case 'M':
		v <<= 20;
		break;
	case 'G':
		v <<= 30;
		break;
	default:
		return -1;
	}
	if (end[1] != '\0' && !(toupper((unsigned char)end[1]) == 'B' && end[2] == '\0'))
		return -1;
	return v;
}

int
cli_rules_option(struct cli_rules *cr, int c, const char *arg)
{
	const char *eq;
	long long v;

	switch (c) {
	case CLI_OPT_KEEP_OWNERS:
		cr->opt.keep_owners = 1;
		return 1;
	case CLI_OPT_KEEP_PRIVILEGES:
		cr->opt.keep_privileges = 1;
		return 1;
	case CLI_OPT_ALLOW_DROP:
		cr->opt.allow_drop = 1;
		return 1;
	case 'O':
		cr->no_owner = 1;
		return 1;
	case 'x':
		cr->no_privileges = 1;
		return 1;
	case '1':
		cr->single_given = 1;
		return 1;
	case CLI_OPT_EXPLAIN:
		cr->explain = 1;
		return 1;
	case CLI_OPT_ALLOW_SUPERUSER_TARGET:
		cr->opt.allow_superuser_target = 1;
		return 1;
	case CLI_OPT_ALLOW_NATIVE_CODE:
		cr->opt.allow_native_code = 1;
		return 1;
	case CLI_OPT_ALLOW_PUBLICATIONS:
		cr->opt.allow_publications = 1;
		return 1;
	case CLI_OPT_MAX_STATEMENT:
		v = cli_parse_size(arg);
		if (v < 1024) {
			fprintf(stderr,
			        "pgsluice: --max-statement %s: want a size of at least 1K, like 256M\n",
			        arg);
			return -1;
		}
		cr->max_statement = (size_t)v;
		return 1;
	case CLI_OPT_MAP_ROLE:
		eq = strchr(arg, '=');
		if (eq == NULL || eq == arg || eq[1] == '\0') {
			fprintf(stderr,
			        "pgsluice: --map-role %s: want OLD=NEW, e.g. --map-role synapse=synapse_user\n",
			        arg);
			return -1;
		}
		if (cr->opt.n_role_map == CLI_MAX_ROLE_MAPS) {
			fprintf(stderr, "pgsluice: more than %d --map-role options\n",
			        CLI_MAX_ROLE_MAPS);
			return -1;
		}
		/* argv strings live as long as the process: split in place */
		*(char *)eq = '\0';
		cr->maps[cr->opt.n_role_map].from = arg;
		cr->maps[cr->opt.n_role_map].to = eq + 1;
		cr->opt.n_role_map++;
		return 1;
	}
	return 0;
}

int
cli_rules_check(const struct cli_rules *cr, const char *prog)
{
	const char *clash = cr->no_owner && cr->opt.keep_owners ? "-O/--no-owner and --keep-owners"
	                    : cr->no_privileges && cr->opt.keep_privileges
	                            ? "-x/--no-privileges and --keep-privileges"
	                    : cr->single_given && !cr->opt.single_transaction
	                            ? "-1/--single-transaction and --no-single-transaction"
	                            : NULL;
	const char *opt;

	if (clash != NULL) {
		(void)cli_usage_error(prog, "%s contradict each other: choose one", clash);
		return -1;
	}
	opt = cr->opt.allow_native_code    ? "--allow-native-code"
	      : cr->opt.allow_publications ? "--allow-publications"
	                                   : NULL;

	if (opt == NULL || cr->opt.allow_superuser_target)
		return 0;
	fprintf(stderr,
	        "%s: %s needs --allow-superuser-target: only a superuser "
	        "target can create what it lets through, and pgsluice refuses a "
	        "superuser target unless told\n",
	        prog, opt);
	return -1;
}

/*
 * Options that change or destroy what the target holds, or lower a
 * safeguard: getopt_long would take any unique prefix of them (--clear for
 * --clear-target), so a typo or a guess could clear a database.  These are
 * only accepted written in full.
 */
static const char *const cli_exact_only[] = {
	"clear-target",
	"force-replace",
	"force-schema-version",
	"allow-drop",
	"allow-superuser-target",
	"allow-native-code",
	"allow-publications",
	"insecure-plaintext",
	"force",
	"no-single-transaction",
};

static void
cli_try(const char *prog)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
}

int
cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
           const char *prog)
{
	char *argv0 = argv[0];
	const char *arg;
	size_t i;
	int c, idx = -1;

	/* getopt's messages start with argv[0] */
	argv[0] = (char *)prog;
	c = getopt_long(argc, argv, shortopts, opts, &idx);
	argv[0] = argv0;
	if (c == '?' || c == ':') {
		cli_try(prog);
		return '?';
	}
	if (c == CLI_OPT_VERSION) {
		printf("pgsluice %s\n", PGSLUICE_VERSION);
		exit(0);
	}
	if (c == -1 || idx < 0 || opts[idx].has_arg != no_argument)
		return c;
	/* a long option without argument is the element just read */
	arg = argv[optind - 1];
	for (i = 0; i < sizeof(cli_exact_only) / sizeof(cli_exact_only[0]); i++) {
		if (strcmp(opts[idx].name, cli_exact_only[i]) != 0)
			continue;
		if (strncmp(arg, "--", 2) == 0 && strcmp(arg + 2, opts[idx].name) != 0) {
			fprintf(stderr,
			        "%s: %s: write --%s in full (options that change what the "
			        "target holds are never abbreviated)\n",
			        prog, arg, opts[idx].name);
			cli_try(prog);
			return '?';
		}
	}
	return c;
}

int
cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_try(prog);
	return 2;
}

const char *
cli_target(const char *given)
{
	const char *env;

	if (given != NULL)
		return given;
	env = getenv("PGSLUICE_TARGET");
	return env != NULL && env[0] != '\0' ? env : NULL;
}
