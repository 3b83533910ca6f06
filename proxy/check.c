/*
 * check.c - `pgsluice check`: the preflight alone, read-only.
 *
 * Connects the way serve would (same connection string handling), runs the
 * same catalog queries (preflight.c) with blocking libpq, and says what an
 * operator wants to know before pointing a dump at the target: server
 * version, the role's standing (superuser, owner of the database and of the
 * schemas, may it create extensions), what the target schemas hold and
 * what --clear-target would drop.  Changes nothing.
 *
 * Exit status: 0 the schemas are cleared, 1 they are not, 2 cannot connect
 * (or a query failed).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "cli.h"
#include "connhint.h"
#include "preflight.h"
#include "synapse.h"
#include "target.h"

enum {
	OPT_TARGET = CLI_OPT_FIRST_FREE,
	OPT_SCHEMA,
	OPT_ROLE,
	OPT_JSON,
};

/* objects listed without --verbose */
#define CHECK_LIST_MAX 40

/* where the details go: stdout, or nowhere with --quiet or --json */
static FILE *check_out;

/* --json: the object being filled, and the first error */
static json_t *check_json;
static char check_err[2048];

/* An error: on stderr, and kept for --json. */
static void __attribute__((format(printf, 1, 2))) check_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (check_err[0] == '\0')
		vsnprintf(check_err, sizeof(check_err), fmt, ap);
	va_end(ap);
	check_err[strcspn(check_err, "\n")] = '\0';
	va_start(ap, fmt);
	fprintf(stderr, "pgsluice check: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* --json: o[key] = v (stolen); nothing without --json */
static void
check_set(const char *key, json_t *v)
{
	if (check_json != NULL && v != NULL)
		json_object_set_new(check_json, key, v);
	else
		json_decref(v);
}

static void
check_usage(FILE *f)
{
	fprintf(f,
	        "usage: pgsluice check --target CONNINFO [options]\n"
	        "\n"
	        "The preflight of `pgsluice serve`, alone and read-only: server version,\n"
	        "the role's standing, what the target schemas hold, and what --clear-target\n"
	        "would drop.  Exit 0 if the schemas are cleared, 1 if not, 2 if the target\n"
	        "cannot be reached.\n"
	        "\n"
	        "  -d, --target CONNINFO  libpq connection string or URI (also --dbname;\n"
	        "                      default: $PGSLUICE_TARGET; PG* variables apply)\n"
	        "  --schema NAME       schema to inspect (repeatable; default public)\n"
	        "  --role ROLE         SET ROLE ROLE after connecting, as serve --role\n"
	        "  -v, --verbose       list every object (default: the first %d)\n"
	        "  -q, --quiet         the verdict line alone\n"
	        "  --json              print one JSON object instead (README: Machine-readable\n"
	        "                      results)\n"
	        "  --version           print the version and exit\n"
	        "  -h, --help          this text\n",
	        CHECK_LIST_MAX);
}

static PGresult *
check_query(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		check_fail("cannot read %s: %s", what, PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * The Synapse part of the preflight (synapse.c): the database's encoding
 * and locale, the target's Synapse schema version, and whether a Synapse
 * dump would be refused.  Informational: the exit status does not change.
 * -1: a query failed.
 */
static int
check_synapse(PGconn *conn, const char *schema)
{
	struct synapse sy;
	PGresult *res;
	char err[256], msg[1536], *sql;
	int r;

	synapse_init(&sy, SYNAPSE_ON, 0, schema);
	while ((r = synapse_preflight_next(&sy, conn, &sql, err, sizeof(err))) > 0) {
		res = check_query(conn, sql, "the Synapse schema version");
		free(sql);
		if (res == NULL)
			return -1;
		r = synapse_preflight_result(&sy, res, err, sizeof(err));
		PQclear(res);
		if (r < 0)
			break;
	}
	if (r < 0) {
		check_fail("%s\n", err);
		return -1;
	}
	if (synapse_target_line(&sy, msg, sizeof(msg)))
		fprintf(check_out, "%s\n", msg);
	if (synapse_locale_refusal(&sy, "pgsluice serve refuses a Synapse dump into it", msg,
	                           sizeof(msg)) < 0)
		fprintf(check_out, "synapse: warning: %s\n", msg);
	return 0;
}

/*
 * The verdict serve's preflight gives on the role (preflight.h), as serve
 * without --allow-superuser-target would.  -1: the query failed.
 */
static int
check_role(PGconn *conn)
{
	struct preflight_role role;
	char msg[768], err[256];
	PGresult *res = check_query(conn, preflight_sql_role(), "the role's attributes");

	if (res == NULL)
		return -1;
	if (preflight_role_load(&role, res, err, sizeof(err)) < 0) {
		check_fail("%s\n", err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	switch (preflight_role_judge(&role, PQuser(conn), 0, msg, sizeof(msg))) {
	case PREFLIGHT_ROLE_REFUSE:
		fprintf(check_out, "role check: serve refuses this target: %s\n", msg);
		break;
	case PREFLIGHT_ROLE_WARN:
		fprintf(check_out, "role check: serve warns: %s\n", msg);
		break;
	default:
		fprintf(check_out,
		        "role check: no superuser, CREATEROLE, BYPASSRLS or server-file roles: "
		        "serve accepts the role\n");
		break;
	}
	return 0;
}

static const char *
yes_no(const char *v)
{
	return v[0] == 't' ? "yes" : "no";
}

int
check_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "dbname", required_argument, NULL, OPT_TARGET },
		{ "schema", required_argument, NULL, OPT_SCHEMA },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *schemas[PREFLIGHT_MAX_SCHEMAS];
	const char *conninfo = NULL, *keys[4], *vals[4];
	struct preflight_objects objs;
	PGconn *conn;
	PGresult *res;
	char err[256], *sql, *counts, *list, *drops;
	char shown[1024], why[2048], advice[512], options[1024];
	int c, n_schemas = 0, i, code = 2, verbose = 0, quiet = 0, json = 0;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "d:" CLI_COMMON_SHORTOPTS, opts, "pgsluice check")) !=
	       -1) {
		switch (c) {
		case OPT_TARGET:
		case 'd':
			conninfo = optarg;
			break;
		case OPT_ROLE:
			target_set_role(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_SCHEMA:
			if (n_schemas == PREFLIGHT_MAX_SCHEMAS) {
				fprintf(stderr, "pgsluice check: more than %d --schema options\n",
				        PREFLIGHT_MAX_SCHEMAS);
				return 2;
			}
			schemas[n_schemas++] = optarg;
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return cli_usage_error("pgsluice check",
		                       "unexpected argument \"%s\" (every "
		                       "option starts with - or --)",
		                       argv[optind]);
	conninfo = cli_target(conninfo);
	if (conninfo == NULL)
		return cli_usage_error("pgsluice check",
		                       "--target is required (or "
		                       "PGSLUICE_TARGET), e.g. --target \"dbname=synapse "
		                       "user=synapse_user\"");
	if (n_schemas == 0)
		schemas[n_schemas++] = "public";
	check_out = quiet || json ? fopen("/dev/null", "w") : stdout;
	if (json && (check_json = json_object()) == NULL) {
		fprintf(stderr, "pgsluice check: out of memory\n");
		return 2;
	}
	if (check_out == NULL) {
		fprintf(stderr, "pgsluice check: cannot open /dev/null: %s\n", strerror(errno));
		return 2;
	}

	connhint_describe(conninfo, shown, sizeof(shown));
	check_set("target", json_pack("{s:s}", "description", shown));
	if (target_params(conninfo, "pgsluice check", keys, vals, options, sizeof(options)) < 0) {
		check_fail("%s\n", options);
		goto done;
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		connhint_mask(conninfo, shown, sizeof(shown));
		connhint_error(conn, why, sizeof(why));
		connhint_advice(conn, advice, sizeof(advice));
		check_fail("cannot connect to the target (--target %s): %s\n", shown, why);
		fprintf(stderr, "pgsluice check: %s\n", advice);
		PQfinish(conn);
		goto done;
	}
	/* read-only, whatever the role's defaults */
	PQclear(PQexec(conn, "SET default_transaction_read_only = on"));

	res = check_query(conn, preflight_sql_standing(), "the role's standing");
	if (res == NULL)
		goto out;
	check_set("target",
	          json_pack("{s:s, s:s, s:s, s:s, s:s}", "description", shown, "database",
	                    PQgetvalue(res, 0, 7), "host", PQhost(conn) ? PQhost(conn) : "", "port",
	                    PQport(conn) ? PQport(conn) : "", "user", PQgetvalue(res, 0, 8)));
	check_set("server", json_pack("{s:s, s:i}", "version", PQgetvalue(res, 0, 0), "version_num",
	                              PQserverVersion(conn)));
	check_set("role",
	          json_pack("{s:s, s:b, s:b, s:s, s:b}", "name", PQgetvalue(res, 0, 8), "superuser",
	                    PQgetvalue(res, 0, 1)[0] == 't', "owns_database",
	                    PQgetvalue(res, 0, 3)[0] == 't', "database_owner",
	                    PQgetvalue(res, 0, 2), "may_create", PQgetvalue(res, 0, 4)[0] == 't'));
	fprintf(check_out, "target: database %s on %s:%s as %s\n", PQgetvalue(res, 0, 7),
	        PQhost(conn) ? PQhost(conn) : "?", PQport(conn) ? PQport(conn) : "?",
	        PQgetvalue(res, 0, 8));
	fprintf(check_out, "server: PostgreSQL %s (server_version_num %d)\n", PQgetvalue(res, 0, 0),
	        PQserverVersion(conn));
	fprintf(check_out,
	        "role %s: superuser: %s; owns the database: %s (owner %s); may CREATE in the "
	        "database: %s\n",
	        PQgetvalue(res, 0, 8), yes_no(PQgetvalue(res, 0, 1)), yes_no(PQgetvalue(res, 0, 3)),
	        PQgetvalue(res, 0, 2), yes_no(PQgetvalue(res, 0, 4)));
	if (PQgetvalue(res, 0, 1)[0] == 't')
		fprintf(check_out, "extensions: may create any available extension (superuser)\n");
	else if (PQgetvalue(res, 0, 4)[0] == 't')
		fprintf(check_out,
		        "extensions: may create trusted extensions only (CREATE on the database): %s\n",
		        PQgetisnull(res, 0, 5) ? "none available" : PQgetvalue(res, 0, 5));
	else
		fprintf(check_out,
		        "extensions: may create none (no CREATE privilege on the database); a dump "
		        "with CREATE EXTENSION will fail\n");
	fprintf(check_out, "extensions installed: %s\n",
	        PQgetisnull(res, 0, 6) ? "none" : PQgetvalue(res, 0, 6));
	PQclear(res);
	if (check_role(conn) < 0)
		goto out;
	if (check_synapse(conn, schemas[0]) < 0)
		goto out;

	sql = preflight_sql_schemas(conn, schemas, n_schemas, err, sizeof(err));
	if (sql == NULL) {
		check_fail("%s\n", err);
		goto out;
	}
	res = check_query(conn, sql, "the target schemas");
	free(sql);
	if (res == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		if (PQgetvalue(res, i, 1)[0] != 't')
			fprintf(check_out, "schema %s: does not exist (the dump may create it)\n",
			        PQgetvalue(res, i, 0));
		else
			fprintf(check_out,
			        "schema %s: owner %s; the role has its rights: %s; may CREATE in it: %s\n",
			        PQgetvalue(res, i, 0), PQgetvalue(res, i, 2),
			        yes_no(PQgetvalue(res, i, 3)), yes_no(PQgetvalue(res, i, 4)));
	}
	PQclear(res);

	sql = preflight_sql_objects(conn, schemas, n_schemas, err, sizeof(err));
	if (sql == NULL) {
		check_fail("%s\n", err);
		goto out;
	}
	res = check_query(conn, sql, "the objects in the target schemas");
	free(sql);
	if (res == NULL)
		goto out;
	if (preflight_objects_load(&objs, res, err, sizeof(err)) < 0) {
		check_fail("%s\n", err);
		PQclear(res);
		goto out;
	}
	PQclear(res);

	if (check_json != NULL) {
		json_t *arr = json_array();
		size_t k;

		for (k = 0; arr != NULL && k < objs.n; k++)
			json_array_append_new(
				arr, json_pack("{s:s, s:s, s:s, s:b}", "kind", objs.v[k].kind,
			                       "name", objs.v[k].ident, "owner", objs.v[k].owner,
			                       "droppable", objs.v[k].mine));
		check_set("objects", arr);
	}
	if (objs.n == 0) {
		fprintf(check_out, "objects: none\n");
		fprintf(check_json ? stderr : stdout, "verdict: cleared: ready for an import\n");
		check_set("verdict", json_string("cleared"));
		code = 0;
	} else {
		counts = preflight_objects_counts(&objs);
		list = preflight_objects_list(&objs, verbose ? objs.n : CHECK_LIST_MAX, "  ");
		drops = preflight_drop_sql(&objs);
		fprintf(check_out, "objects: %zu (%s)\n%s", objs.n, counts ? counts : "?",
		        list ? list : "");
		fprintf(check_out, "--clear-target would run, inside the import's transaction:\n%s",
		        drops ? drops : "?\n");
		if (preflight_objects_foreign(&objs) != NULL)
			fprintf(check_out,
			        "warning: objects marked \"owned by\" belong to another role: "
			        "--clear-target cannot drop them as %s\n",
			        PQuser(conn));
		check_set("verdict", json_string("not cleared"));
		check_set("clear_target_sql", drops ? json_string(drops) : NULL);
		fprintf(check_json ? stderr : stdout,
		        "verdict: not cleared: pgsluice serve refuses an import unless started with "
		        "--clear-target\n");
		free(counts);
		free(list);
		free(drops);
		code = 1;
	}
	preflight_objects_free(&objs);
out:
	PQfinish(conn);
done:
	if (check_out != stdout)
		fclose(check_out);
	if (check_json != NULL) {
		char *text;

		if (code == 2) {
			check_set("verdict", json_string("error"));
			check_set("error",
			          json_string(check_err[0] ? check_err : "a query failed"));
		}
		check_set("exit_status", json_integer(code));
		text = json_dumps(check_json, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(check_json);
	}
	return code;
}
