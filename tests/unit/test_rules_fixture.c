/*
 * test_rules_fixture.c - the rules over real pg_dump output.
 *
 * Lexes the Synapse fixtures (the project's own, build/fixtures/synapse,
 * made by tests/lib/common.sh from tests/fixtures/, and ../shared's when
 * it is there: plain schema-only, and the gzip'ed full dumps with and
 * without owners) and feeds every statement and meta-command to the rules.  Everything must
 * be forwarded unchanged except the "OWNER TO" statements and the
 * \restrict/\unrestrict lines; with --map-role those statements are
 * rewritten instead.  The expected counts are taken from the file itself
 * (lines that start with ALTER and contain " OWNER TO "), so the test
 * follows the fixture.  Our fixture missing is a failure (tests/run.sh
 * builds it first); ../shared missing is not tried.
 */
#include <stdlib.h>

#include "decoder.h"
#include "lexer.h"
#include "rules.h"
#include "t.h"

/* folders with the fixture files; PGSLUICE_SHARED_FIXTURES moves the second */
#define OUR_FIXTURES "build/fixtures/synapse"
#define SHARED_FIXTURES "../shared/fixtures"

struct tally {
	unsigned long statements, metas, forwarded, owner, meta, rewritten, other, bad_forward,
		bad_rewrite;
	unsigned long owner_lines; /* "ALTER ... OWNER TO" lines in the file */
};

static const struct rules_role_map map[] = { { "synapse", "synapse_user" } };

static void
apply(struct rules *r, const struct lexer_event *ev, struct tally *t, int mapped)
{
	struct rules_verdict v;
	static const char tail[] = " OWNER TO synapse_user;";

	if (ev->type != LEXER_STATEMENT && ev->type != LEXER_META)
		return;
	if (ev->type == LEXER_STATEMENT)
		t->statements++;
	else
		t->metas++;
	rules_apply(r, ev, &v);
	switch (v.action) {
	case RULES_FORWARD:
		t->forwarded++;
		if (v.text != ev->data || v.len != ev->len || v.rule != NULL)
			t->bad_forward++;
		break;
	case RULES_DROP:
		if (v.rule != NULL && strcmp(v.rule, "owner") == 0 && !mapped)
			t->owner++;
		else if (v.rule != NULL && strcmp(v.rule, "meta") == 0 && ev->type == LEXER_META)
			t->meta++;
		else {
			t->other++;
			printf("# line %llu dropped by %s: %.*s\n", (unsigned long long)ev->line,
			       v.rule, (int)(ev->len > 60 ? 60 : ev->len), ev->data);
		}
		break;
	case RULES_REWRITE:
		t->rewritten++;
		if (!mapped || v.len < sizeof(tail) - 1 ||
		    memcmp(v.text + v.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0 ||
		    v.len != ev->len + strlen("_user") ||
		    memcmp(v.text, ev->data, ev->len - strlen("synapse;")) != 0)
			t->bad_rewrite++;
		break;
	case RULES_REFUSE:
		t->other++;
		printf("# line %llu refused: %s\n", (unsigned long long)ev->line, v.reason);
		break;
	}
}

/* Count the lines that start with "ALTER " and contain " OWNER TO ". */
static void
count_lines(const char *buf, size_t len, struct tally *t, int *bol, char *line, size_t *llen,
            size_t lcap)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			line[*llen] = '\0';
			if (*bol && strncmp(line, "ALTER ", 6) == 0 &&
			    strstr(line, " OWNER TO ") != NULL)
				t->owner_lines++;
			*llen = 0;
			*bol = 1;
			continue;
		}
		if (*llen + 1 < lcap)
			line[(*llen)++] = buf[i];
	}
}

/* Lex a (possibly gzip'ed) file through the rules; -1 if it is missing. */
static int
run_file(const char *path, const struct rules_options *o, struct tally *t, char *err,
         size_t errsize)
{
	static char in[65536], buf[131072], line[512];
	struct lexer lx;
	struct lexer_event ev;
	struct rules r;
	struct decoder dec;
	size_t llen = 0, n = 0, off = 0, produced;
	int rc = 0, bol = 1;
	FILE *f = fopen(path, "rb");

	memset(t, 0, sizeof(*t));
	err[0] = '\0';
	if (f == NULL)
		return -1;
	lexer_init(&lx, 0);
	rules_init(&r, o);
	decoder_init(&dec);
	/* the daemon's decoder (proxy/decoder.c) reads the .gz */
	while (rc == 0) {
		const char *p = buf;
		size_t left, used;

		if (off == n && !decoder_pending(&dec)) {
			n = fread(in, 1, sizeof(in), f);
			off = 0;
			if (n == 0)
				break;
		}
		if (decoder_run(&dec, in + off, n - off, &used, buf, sizeof(buf), &produced) < 0) {
			snprintf(err, errsize, "%s", decoder_error(&dec));
			rc = 1;
			break;
		}
		off += used;
		left = produced;
		count_lines(buf, produced, t, &bol, line, &llen, sizeof(line));
		while (left > 0) {
			int lr = lexer_scan(&lx, p, left, &used, &ev);

			p += used;
			left -= used;
			if (lr == LEXER_ERROR) {
				snprintf(err, errsize, "%s", lexer_error(&lx));
				rc = 1;
				break;
			}
			if (lr == LEXER_EVENT)
				apply(&r, &ev, t, o->n_role_map > 0);
		}
	}
	if (rc == 0 && decoder_finish(&dec) < 0) {
		snprintf(err, errsize, "%s", decoder_error(&dec));
		rc = 1;
	}
	if (rc == 0) {
		int lr;

		while ((lr = lexer_finish(&lx, &ev)) == LEXER_EVENT)
			apply(&r, &ev, t, o->n_role_map > 0);
		if (lr == LEXER_ERROR) {
			snprintf(err, errsize, "%s", lexer_error(&lx));
			rc = 1;
		}
	}
	fclose(f);
	decoder_free(&dec);
	rules_free(&r);
	lexer_free(&lx);
	return rc;
}

static void
check(const char *dir, const char *file, int owners, int must)
{
	char path[512], err[256];
	struct rules_options o;
	struct tally t;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	memset(&o, 0, sizeof(o));
	o.single_transaction = 1;
	o.target_version = 150000;
	rc = run_file(path, &o, &t, err, sizeof(err));
	if (rc < 0) {
		if (must)
			T_OK(0, "%s: fixture missing (tests/run.sh builds it)", path);
		return;
	}
	T_OK(rc == 0, "%s: lexed without error%s%s", file, err[0] ? ": " : "", err);
	T_OK(owners ? t.owner_lines > 0 : t.owner_lines == 0,
	     "%s: the file has %lu ALTER ... OWNER TO lines", file, t.owner_lines);
	T_OK(t.owner == t.owner_lines, "%s: %lu owner drops (%lu in the file)", file, t.owner,
	     t.owner_lines);
	T_OK(t.meta == 2 && t.metas == 2,
	     "%s: \\restrict and \\unrestrict dropped "
	     "(%lu of %lu meta-commands)",
	     file, t.meta, t.metas);
	T_OK(t.other == 0 && t.rewritten == 0,
	     "%s: nothing else dropped, "
	     "rewritten or refused (%lu)",
	     file, t.other + t.rewritten);
	T_OK(t.bad_forward == 0 && t.forwarded == t.statements - t.owner,
	     "%s: the other %lu statements forwarded byte for byte", file, t.forwarded);

	/* --keep-owners: all forwarded */
	o.keep_owners = 1;
	run_file(path, &o, &t, err, sizeof(err));
	T_OK(t.owner == 0 && t.forwarded == t.statements && t.other == 0,
	     "%s: --keep-owners forwards all %lu statements", file, t.statements);

	/* --map-role synapse=synapse_user: every OWNER TO rewritten */
	o.keep_owners = 0;
	o.role_map = map;
	o.n_role_map = 1;
	run_file(path, &o, &t, err, sizeof(err));
	T_OK(t.rewritten == t.owner_lines && t.bad_rewrite == 0 && t.other == 0,
	     "%s: --map-role rewrites the %lu OWNER TO statements exactly", file, t.rewritten);
}

int
main(void)
{
	const char *env = getenv("PGSLUICE_SHARED_FIXTURES");
	char shared[512];

	check(OUR_FIXTURES, "synapse-schema.sql", 1, 1);
	check(OUR_FIXTURES, "synapse-small.sql.gz", 1, 1);
	check(OUR_FIXTURES, "synapse-small-noowner.sql.gz", 0, 1);
	snprintf(shared, sizeof(shared), "%s/synapse", env && *env ? env : SHARED_FIXTURES);
	check(shared, "synapse-schema.sql", 1, 0);
	check(shared, "synapse-small.sql.gz", 1, 0);
	check(shared, "synapse-small-noowner.sql.gz", 0, 0);
	T_DONE();
}
