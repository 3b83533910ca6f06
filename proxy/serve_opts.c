/*
 * serve_opts.c - the options of `pgsluice serve`: parsed into struct serve
 * and the session's config, checked against each other, defaults filled
 * in.  The security options are read in serve_security.c.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "auth.h"
#include "cli.h"
#include "connhint.h"
#include "connlimits.h"
#include "jsonout.h"
#include "metrics.h"
#include "log.h"
#include "preflight.h"
#include "priv.h"
#include "jobs.h"
#include "session.h"
#include "synapse.h"
#include "target.h"
#include "tls.h"
#include "serve_int.h"

/* ---- main ------------------------------------------------------------- */

/* A number in [lo, hi] for option name, or -1 with a message. */
int
serve_number(const char *name, const char *arg, double lo, double hi, const char *unit, double *out)
{
	char *end;
	double d;

	d = strtod(arg, &end);
	if (end == arg || *end != '\0' || !(d >= lo && d <= hi)) {
		fprintf(stderr, "pgsluice serve: --%s %s: want %s, %g to %g\n", name, arg, unit, lo,
		        hi);
		return -1;
	}
	*out = d;
	return 0;
}

/* The transport, identity and limit options.  0 or -1. */

int
serve_parse(struct serve *sv, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "dbname", required_argument, NULL, OPT_TARGET },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "summary-json", required_argument, NULL, OPT_SUMMARY_JSON },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "unix", required_argument, NULL, OPT_UNIX },
		{ "schema", required_argument, NULL, OPT_SCHEMA },
		{ "clear-target", no_argument, NULL, OPT_CLEAR_TARGET },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "no-single-transaction", no_argument, NULL, OPT_NO_SINGLE_TRANSACTION },
		{ "progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "insecure-plaintext", no_argument, NULL, OPT_INSECURE_PLAINTEXT },
		{ "user", required_argument, NULL, OPT_USER },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "max-meta-line", required_argument, NULL, OPT_MAX_META_LINE },
		{ "max-gzip-ratio", required_argument, NULL, OPT_MAX_GZIP_RATIO },
		{ "max-unauthenticated", required_argument, NULL, OPT_MAX_UNAUTH },
		{ "max-unauthenticated-per-address", required_argument, NULL,
		  OPT_MAX_UNAUTH_PER_ADDR },
		{ "auth-failure-rate", required_argument, NULL, OPT_AUTH_FAILURE_RATE },
		{ "synapse", no_argument, NULL, OPT_SYNAPSE },
		{ "no-synapse", no_argument, NULL, OPT_NO_SYNAPSE },
		{ "force-schema-version", no_argument, NULL, OPT_FORCE_SCHEMA_VERSION },
		{ "force-replace", no_argument, NULL, OPT_FORCE_REPLACE },
		{ "no-analyze", no_argument, NULL, OPT_NO_ANALYZE },
		{ "jobs", required_argument, NULL, 'j' },
		CLI_RULE_LONGOPTS,
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, r;
	long v;
	double d;

	sv->cfg.progress_interval = 2;
	sv->cfg.connect_timeout = 30;
	sv->max_connections = SERVE_DEFAULT_MAX_CONNECTIONS;
	sv->cfg.header_timeout = SERVE_DEFAULT_HEADER_TIMEOUT;
	sv->cfg.idle_timeout = SERVE_DEFAULT_IDLE_TIMEOUT;
	sv->cfg.max_meta_line = SERVE_DEFAULT_MAX_META_LINE;
	sv->cfg.max_gzip_ratio = SERVE_DEFAULT_MAX_GZIP_RATIO;
	sv->cfg.lock_timeout = 30;
	sv->auth_failure_rate = AUTH_DEFAULT_FAILURE_RATE;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "j:d:" CLI_RULE_SHORTOPTS CLI_COMMON_SHORTOPTS, opts,
	                       "pgsluice serve")) != -1) {
		r = cli_rules_option(&sv->cr, c, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_TARGET:
		case 'd':
			sv->cfg.conninfo = optarg;
			break;
		case OPT_ROLE:
			target_set_role(optarg);
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				log_set_format(LOG_FORMAT_TEXT);
			else if (strcmp(optarg, "json") == 0)
				log_set_format(LOG_FORMAT_JSON);
			else if (strcmp(optarg, "journal") == 0)
				log_set_format(LOG_FORMAT_JOURNAL);
			else
				return cli_usage_error("pgsluice serve",
				                       "--log-format %s: want text, "
				                       "json or journal",
				                       optarg);
			break;
		case OPT_SYSLOG:
			log_set_format(LOG_FORMAT_JOURNAL);
			break;
		case OPT_SUMMARY_JSON:
			sv->summary_json = optarg;
			break;
		case OPT_METRICS_LISTEN:
			sv->metrics_listen = optarg;
			break;
		case OPT_LISTEN:
			if (sv->n_listen == SERVE_MAX_LISTEN) {
				fprintf(stderr, "pgsluice serve: more than %d --listen options\n",
				        SERVE_MAX_LISTEN);
				return 2;
			}
			sv->listen[sv->n_listen++] = optarg;
			break;
		case OPT_UNIX:
			sv->unix_path = optarg;
			break;
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
		case OPT_TLS_CLIENT_CA:
		case OPT_TOKEN_FILE:
		case OPT_INSECURE_PLAINTEXT:
		case OPT_USER:
		case OPT_MAX_CONNECTIONS:
		case OPT_HEADER_TIMEOUT:
		case OPT_IDLE_TIMEOUT:
		case OPT_MAX_META_LINE:
		case OPT_MAX_GZIP_RATIO:
		case OPT_MAX_UNAUTH:
		case OPT_MAX_UNAUTH_PER_ADDR:
		case OPT_AUTH_FAILURE_RATE:
			if (serve_security_option(sv, c, optarg) < 0)
				return 2;
			break;
		case OPT_SCHEMA:
			if (sv->cfg.n_schemas == PREFLIGHT_MAX_SCHEMAS) {
				fprintf(stderr, "pgsluice serve: more than %d --schema options\n",
				        PREFLIGHT_MAX_SCHEMAS);
				return 2;
			}
			sv->schemas[sv->cfg.n_schemas++] = optarg;
			break;
		case OPT_CLEAR_TARGET:
			sv->cfg.clear_target = 1;
			sv->cr.opt.clear_target = 1;
			break;
		case OPT_ONCE:
			sv->once = 1;
			break;
		case OPT_NO_SINGLE_TRANSACTION:
			sv->cr.opt.single_transaction = 0;
			break;
		case OPT_PROGRESS_INTERVAL:
			d = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || d < 0 || d > 86400) {
				fprintf(stderr,
				        "pgsluice serve: --progress-interval %s: want seconds, "
				        "e.g. 2 or 0.5 (0: none)\n",
				        optarg);
				return 2;
			}
			sv->cfg.progress_interval = d;
			break;
		case 'q':
			sv->cfg.quiet = 1;
			break;
		case OPT_CONNECT_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 1 || v > 3600) {
				fprintf(stderr,
				        "pgsluice serve: --connect-timeout %s: want seconds, "
				        "1 to 3600\n",
				        optarg);
				return 2;
			}
			sv->cfg.connect_timeout = (int)v;
			break;
		case OPT_LOCK_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 0 || v > 86400) {
				fprintf(stderr,
				        "pgsluice serve: --lock-timeout %s: want seconds, "
				        "0 to 86400 (0: no limit)\n",
				        optarg);
				return 2;
			}
			sv->cfg.lock_timeout = (int)v;
			break;
		case OPT_STATEMENT_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 0 || v > 7 * 86400) {
				fprintf(stderr,
				        "pgsluice serve: --statement-timeout %s: want seconds, "
				        "0 to 604800 (0: no limit)\n",
				        optarg);
				return 2;
			}
			sv->cfg.statement_timeout = (int)v;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			sv->cfg.verbose = 1;
			break;
		case OPT_SYNAPSE:
			sv->cfg.synapse = SYNAPSE_ON;
			break;
		case OPT_NO_SYNAPSE:
			sv->cfg.synapse = SYNAPSE_OFF;
			break;
		case OPT_FORCE_SCHEMA_VERSION:
			sv->cfg.force_schema_version = 1;
			break;
		case OPT_NO_ANALYZE:
			sv->cfg.no_analyze = 1;
			break;
		case OPT_FORCE_REPLACE:
			sv->cfg.force_replace = 1;
			break;
		case 'j':
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 1 || v > JOBS_MAX) {
				fprintf(stderr,
				        "pgsluice serve: --jobs %s: want 1 to %d connections\n",
				        optarg, JOBS_MAX);
				return 2;
			}
			sv->cfg.jobs = (int)v;
			break;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return cli_usage_error("pgsluice serve",
		                       "unexpected argument \"%s\" (every "
		                       "option starts with - or --)",
		                       argv[optind]);
	sv->cfg.allow_superuser_target = sv->cr.opt.allow_superuser_target;
	if (cli_rules_check(&sv->cr, "pgsluice serve") < 0)
		return 2;
	if (sv->max_unauth > 0 && sv->max_unauth >= sv->max_connections)
		return cli_usage_error("pgsluice serve",
		                       "--max-unauthenticated %d: want fewer than "
		                       "--max-connections (%d), so that clients that have not "
		                       "authenticated never take every place",
		                       sv->max_unauth, sv->max_connections);
	sv->cfg.conninfo = cli_target(sv->cfg.conninfo);
	if (sv->cfg.conninfo == NULL)
		return cli_usage_error("pgsluice serve",
		                       "--target is required (or "
		                       "PGSLUICE_TARGET), e.g. --target \"dbname=synapse "
		                       "user=synapse_user\"");
	if (sv->cfg.n_schemas == 0)
		sv->schemas[sv->cfg.n_schemas++] = "public";
	if (sv->n_listen == 0 && sv->unix_path == NULL)
		sv->listen[sv->n_listen++] = SERVE_DEFAULT_LISTEN;
	return -1;
}
