/*
 * test_synapse.c - the parts of proxy/synapse.c and proxy/verify.c that
 * read the dump: setval statements, COPY headers, the schema_version row
 * (fed whole and split at every offset), the version comparison, the row
 * count check, and the locale refusal's fix.  No server: the preflight's
 * findings are set in the structs directly.
 */
#include <stdlib.h>
#include <string.h>

#include "synapse.h"
#include "t.h"
#include "verify.h"

static int
setval_of(const char *sql, const char *name, long long value, int called)
{
	struct verify v;
	int ok;

	verify_init(&v);
	if (verify_statement(&v, sql, strlen(sql), 1, 7) < 0) {
		verify_free(&v);
		return 0;
	}
	if (name == NULL)
		ok = v.n_seqs == 0;
	else
		ok = v.n_seqs == 1 && strcmp(v.seqs[0].name, name) == 0 &&
		     v.seqs[0].value == value && v.seqs[0].is_called == called &&
		     v.seqs[0].line == 7;
	verify_free(&v);
	return ok;
}

static void
test_setval(void)
{
	struct verify v;

	T_OK(setval_of("SELECT pg_catalog.setval('public.user_id_seq', 1148, true);",
	               "public.user_id_seq", 1148, 1),
	     "setval: pg_dump's form");
	T_OK(setval_of("SELECT pg_catalog.setval('public.x', 1, false);", "public.x", 1, 0),
	     "setval: is_called false");
	T_OK(setval_of("select setval('x', 5)", "x", 5, 1), "setval: two arguments, unqualified");
	T_OK(setval_of("SELECT pg_catalog.setval('public.\"Odd''s seq\"', -3, true);",
	               "public.\"Odd's seq\"", -3, 1),
	     "setval: quoted name with a quote, negative");
	T_OK(setval_of("SELECT pg_catalog.setval('public.x', 5, true), 1;", NULL, 0, 0),
	     "setval among other expressions: not taken");
	T_OK(setval_of("SELECT pg_catalog.nextval('public.x');", NULL, 0, 0), "nextval: not taken");
	T_OK(setval_of("SELECT pg_catalog.set_config('search_path', '', false);", NULL, 0, 0),
	     "set_config: not taken");

	verify_init(&v);
	T_OK(verify_statement(&v, "SELECT setval('a', 1);", 22, 1, 1) == 0 &&
	             verify_statement(&v, "SELECT setval('a', 9, false);", 29, 1, 2) == 0 &&
	             v.n_seqs == 1 && v.seqs[0].value == 9 && v.seqs[0].is_called == 0 &&
	             v.seqs[0].line == 2,
	     "setval twice: the last one wins");
	verify_free(&v);
}

static void
test_copy_counts(void)
{
	struct verify v;
	char err[256];
	const char *copy = "COPY public.events (a, b) FROM stdin;";
	const char *csv = "COPY public.t (a) FROM stdin WITH (FORMAT csv);";

	verify_init(&v);
	T_OK(verify_statement(&v, copy, strlen(copy), 1, 1) == 0, "COPY header");
	verify_copy_end(&v, 3170);
	T_OK(verify_copy_result(&v, "public.events", 3170, err, sizeof(err)) == 0 &&
	             v.tables_ok == 1 && v.rows_ok == 3170,
	     "COPY tag equals the lines sent");
	T_OK(verify_statement(&v, copy, strlen(copy), 1, 1) == 0, "COPY header again");
	verify_copy_end(&v, 10);
	T_OK(verify_copy_result(&v, "public.events", 9, err, sizeof(err)) < 0 &&
	             strstr(err, "took 9 rows, but the dump sent 10 data lines") != NULL,
	     "COPY tag differs: failed (%s)", err);
	T_OK(verify_statement(&v, csv, strlen(csv), 1, 1) == 0, "CSV COPY header");
	verify_copy_end(&v, 10);
	T_OK(verify_copy_result(&v, "public.t", 7, err, sizeof(err)) == 0 &&
	             v.tables_unchecked == 1,
	     "CSV: lines are not rows, not checked");
	verify_free(&v);
}

/* Feed a COPY of schema_version split at cut; returns the verdict. */
static enum synapse_note
feed_version(struct synapse *sy, const char *header, const char *data, size_t cut, char *msg,
             size_t size)
{
	size_t n = strlen(data);

	if (synapse_statement(sy, header, strlen(header), 1, msg, size) < 0)
		return (enum synapse_note) - 1;
	if (cut > n)
		cut = n;
	if (cut > 0)
		synapse_copy_data(sy, data, cut);
	if (n > cut)
		synapse_copy_data(sy, data + cut, n - cut);
	return synapse_copy_end(sy, 1, msg, size);
}

static void
target94(struct synapse *sy, enum synapse_mode mode, int force)
{
	synapse_init(sy, mode, force, "public");
	sy->read = 1;
	sy->locale_ok = 1;
	sy->target.present = 1;
	sy->target.version = 94;
}

static void
test_versions(void)
{
	static const char hdr[] =
		"COPY public.schema_version (lock, version, upgraded) FROM stdin;";
	static const char rev[] =
		"COPY public.schema_version (upgraded, version, lock) FROM stdin;";
	struct synapse sy;
	char msg[1024];
	size_t cut;
	int all = 1;

	for (cut = 0; cut <= 7; cut++) {
		target94(&sy, SYNAPSE_AUTO, 0);
		if (feed_version(&sy, hdr, "X\t95\tt\n", cut, msg, sizeof(msg)) !=
		            SYNAPSE_NOTE_REFUSE ||
		    sy.dump.version != 95 || sy.dump.upgraded != 1 || !sy.dump_synapse)
			all = 0;
	}
	T_OK(all, "newer (95 > 94), row split at every offset: refused");
	T_OK(strstr(msg, "--force-schema-version") != NULL,
	     "the refusal names --force-schema-version");

	target94(&sy, SYNAPSE_AUTO, 1);
	T_OK(feed_version(&sy, hdr, "X\t95\tt\n", 3, msg, sizeof(msg)) == SYNAPSE_NOTE_WARN,
	     "newer with --force-schema-version: a warning");
	target94(&sy, SYNAPSE_AUTO, 0);
	T_OK(feed_version(&sy, hdr, "X\t93\tf\n", 2, msg, sizeof(msg)) == SYNAPSE_NOTE_WARN &&
	             strstr(msg, "migrations (93 to 94)") != NULL && sy.dump.upgraded == 0,
	     "older: a warning about the migrations");
	target94(&sy, SYNAPSE_AUTO, 0);
	T_OK(feed_version(&sy, rev, "t\t94\tX\n", 0, msg, sizeof(msg)) == SYNAPSE_NOTE_INFO &&
	             strstr(msg, "equals the target's") != NULL,
	     "equal, columns in another order: said");
	synapse_init(&sy, SYNAPSE_AUTO, 0, "public");
	sy.read = 1;
	T_OK(feed_version(&sy, hdr, "X\t94\tt\n", 0, msg, sizeof(msg)) == SYNAPSE_NOTE_INFO &&
	             strstr(msg, "the target had no Synapse schema") != NULL,
	     "no Synapse schema in the target: said");
	target94(&sy, SYNAPSE_OFF, 0);
	T_OK(feed_version(&sy, hdr, "X\t99\tt\n", 0, msg, sizeof(msg)) == SYNAPSE_NOTE_NONE &&
	             !sy.dump_synapse,
	     "--no-synapse: not judged");
	target94(&sy, SYNAPSE_AUTO, 0);
	T_OK(feed_version(&sy, "COPY other.schema_version (lock, version, upgraded) FROM stdin;",
	                  "X\t99\tt\n", 0, msg, sizeof(msg)) == SYNAPSE_NOTE_NONE,
	     "schema_version of another schema: not Synapse's");
}

static void
test_locale(void)
{
	static const char create[] = "CREATE TABLE public.schema_version (\n"
				     "    lock character(1) DEFAULT 'X'::bpchar NOT NULL\n);";
	struct synapse sy;
	char msg[1536];

	synapse_init(&sy, SYNAPSE_AUTO, 0, "public");
	sy.read = 1;
	sy.locale_ok = 0;
	strcpy(sy.dbname, "synapse");
	strcpy(sy.owner, "synapse_user");
	strcpy(sy.encoding, "UTF8");
	strcpy(sy.collate, "en_US.UTF-8");
	strcpy(sy.ctype, "en_US.UTF-8");
	T_OK(synapse_preflight_verdict(&sy, msg, sizeof(msg)) == 0,
	     "auto, no Synapse schema in the target: not refused at preflight");
	T_OK(synapse_statement(&sy, "CREATE TABLE public.users (name text);", 38, 1, msg,
	                       sizeof(msg)) == 0,
	     "auto: another table passes");
	T_OK(synapse_statement(&sy, create, strlen(create), 1, msg, sizeof(msg)) < 0,
	     "auto: refused at CREATE TABLE public.schema_version");
	T_OK(strstr(msg, "CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' "
	                 "TEMPLATE template0 OWNER synapse_user;") != NULL,
	     "the refusal gives the fix");
	sy.mode = SYNAPSE_ON;
	T_OK(synapse_preflight_verdict(&sy, msg, sizeof(msg)) < 0,
	     "--synapse: refused at preflight");
	sy.mode = SYNAPSE_AUTO;
	sy.target.present = 1;
	T_OK(synapse_preflight_verdict(&sy, msg, sizeof(msg)) < 0,
	     "auto, a Synapse schema in the target: refused at preflight");
}

int
main(void)
{
	test_setval();
	test_copy_counts();
	test_versions();
	test_locale();
	T_DONE();
}
