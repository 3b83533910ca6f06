/*
 * cli.c - parsing of the options that filter and serve share (cli.h).
 */
#include <ctype.h>
#include <errno.h>
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
	case '\0': return v;
	case 'K': v <<= 10; break;
	case 'M': v <<= 20; break;
	case 'G': v <<= 30; break;
	default: return -1;
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
			fprintf(stderr, "pgsluice: --max-statement %s: want a size of at least 1K, like 256M\n", arg);
			return -1;
		}
		cr->max_statement = (size_t)v;
		return 1;
	case CLI_OPT_MAP_ROLE:
		eq = strchr(arg, '=');
		if (eq == NULL || eq == arg || eq[1] == '\0') {
			fprintf(stderr, "pgsluice: --map-role %s: want OLD=NEW, e.g. --map-role synapse=synapse_user\n", arg);
			return -1;
		}
		if (cr->opt.n_role_map == CLI_MAX_ROLE_MAPS) {
			fprintf(stderr, "pgsluice: more than %d --map-role options\n", CLI_MAX_ROLE_MAPS);
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
	const char *opt = cr->opt.allow_native_code ? "--allow-native-code" :
	    cr->opt.allow_publications ? "--allow-publications" : NULL;

	if (opt == NULL || cr->opt.allow_superuser_target)
		return 0;
	fprintf(stderr, "%s: %s needs --allow-superuser-target: only a superuser "
	    "target can create what it lets through, and pgsluice refuses a "
	    "superuser target unless told\n", prog, opt);
	return -1;
}
