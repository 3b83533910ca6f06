/*
 * filter.c - `pgsluice filter`: the rewriting pipeline on stdin/stdout.
 *
 * stdin -> the pipeline (pipeline.h: decoder, lexer, rules) -> stdout, with a
 * summary on stderr.  The output is SQL that psql runs the way it would
 * have run the input, minus what the rules dropped:
 *
 *	pgsluice filter < dump.sql.gz | psql -v ON_ERROR_STOP=1 -1
 *
 * When the input is bad (a lexer error, a refusal, a truncated dump) the
 * filter exits 1 and also ends its output with a statement that fails, so
 * that a psql reading the pipe with ON_ERROR_STOP and -1 rolls back instead
 * of committing half a dump.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline.h"
#include "text.h"

#define FILTER_CHUNK (256 * 1024)

enum {
	OPT_TARGET_VERSION = CLI_OPT_FIRST_FREE,
	OPT_NO_SINGLE_TRANSACTION,
};

struct filter {
	struct cli_rules cr;
	struct rules rules;
	struct pipeline pl;
	int quiet;
	int skip_copy;    /* inside the data of a COPY that was not forwarded */
	int copy_open;    /* a forwarded COPY's data is being written */
	int copy_midline; /* the last data byte written was not a newline */
	uint64_t st_in, st_out, copy_blocks, copy_rows;
	char error[512];
};

static void
filter_usage(FILE *f)
{
	fprintf(f, "usage: pgsluice filter [options] < dump.sql[.gz] > out.sql\n"
	           "\n"
	           "Reads a plain-format pg_dump on stdin (plain, gzip, zstd or lz4, told\n"
	           "apart by its first bytes), rewrites it for the target server and writes SQL\n"
	           "on stdout; a summary goes to stderr.  Exit 1 on a malformed or\n"
	           "truncated dump or a refused statement.\n"
	           "\n"
	           "  pgsluice filter < dump.sql.gz | psql -v ON_ERROR_STOP=1 -1 -d target\n"
	           "\n"
	           "psql needs -v ON_ERROR_STOP=1: after a failed COPY, psql without it runs\n"
	           "the COPY's data lines as SQL.\n"
	           "\n"
	           "options:\n" CLI_RULE_HELP
	           "  --target-version V     the target server's version (15, 9.6, 17.2 or\n"
	           "                         150004): drop SET lines for parameters it lacks\n"
	           "                         and statistics calls it cannot run\n"
	           "  --no-single-transaction  keep BEGIN/COMMIT found in the dump (default:\n"
	           "                         drop them, for psql -1)\n"
	           "  -q, --quiet            no summary on stderr\n"
	           "  -v, --verbose          the same as --explain\n"
	           "  --version              print the version and exit\n"
	           "  -h, --help             this text\n");
}

/* "15" -> 150000, "9.6" -> 90600, "17.2" -> 170002, "150004" as is */
static int
parse_version(const char *s)
{
	char *end;
	long major, minor = 0;

	major = strtol(s, &end, 10);
	if (end == s || major <= 0)
		return -1;
	if (*end == '\0')
		return major >= 10000 ? (int)major : (int)(major * 10000);
	if (*end != '.')
		return -1;
	minor = strtol(end + 1, &end, 10);
	if (*end != '\0' || minor < 0 || minor > 99)
		return -1;
	return major >= 10 ? (int)(major * 10000 + minor) : (int)(major * 10000 + minor * 100);
}

static int
out_write(struct filter *f, const char *s, size_t n)
{
	if (n > 0 && fwrite(s, 1, n, stdout) != n) {
		snprintf(f->error, sizeof(f->error), "writing the output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
explain(struct filter *f, const struct lexer_event *ev, const struct rules_verdict *v)
{
	static const char *const verb[] = { "forwarded", "dropped", "rewritten", "refused" };
	char ex[100];

	if (!f->cr.explain || v->action == RULES_FORWARD)
		return;
	text_excerpt(ev->data, ev->len, sizeof(ex), ex, sizeof(ex));
	fprintf(stderr, "line %llu: %s (%s): %s: %s\n", (unsigned long long)ev->line,
	        verb[v->action], v->rule ? v->rule : "-", v->reason ? v->reason : "", ex);
}

static int
on_event(struct filter *f, const struct pipeline_event *pe)
{
	const struct lexer_event *ev = &pe->ev;
	const struct rules_verdict *v = &pe->v;
	char ex[100];

	switch (ev->type) {
	case LEXER_STATEMENT:
	case LEXER_META:
		f->st_in++;
		explain(f, ev, v);
		if (v->action == RULES_REFUSE) {
			text_excerpt(ev->data, ev->len, sizeof(ex), ex, sizeof(ex));
			snprintf(f->error, sizeof(f->error),
			         "line %llu: refused by rule %s: %s\n  statement: %s",
			         (unsigned long long)ev->line, v->rule ? v->rule : "-",
			         v->reason ? v->reason : "", ex);
			return -1;
		}
		if (ev->type == LEXER_STATEMENT && ev->psql_cut_differs &&
		    v->action != RULES_DROP) {
			text_excerpt(ev->data, ev->len, sizeof(ex), ex, sizeof(ex));
			snprintf(
				f->error, sizeof(f->error),
				"line %llu: psql would cut this statement where the server does not "
				"(a string continued on a new line, CASE/END as a label in a BEGIN "
				"ATOMIC body, or a routine named begin, which psql takes for a body "
				"and runs past its ';', reading COPY data after it as SQL); import "
				"the dump with pgsluice serve, which sends each statement to the "
				"server itself\n  statement: %s",
				(unsigned long long)ev->line, ex);
			return -1;
		}
		if (pe->in_copy) {
			f->skip_copy = v->action == RULES_DROP;
			f->copy_open = !f->skip_copy;
			f->copy_midline = 0;
		}
		if (v->action == RULES_DROP)
			return 0;
		f->st_out++;
		if (out_write(f, v->text, v->len) < 0 || out_write(f, "\n", 1) < 0)
			return -1;
		return 0;
	case LEXER_COPY_DATA:
		if (f->skip_copy || ev->len == 0)
			return 0;
		f->copy_midline = ev->data[ev->len - 1] != '\n';
		return out_write(f, ev->data, ev->len);
	case LEXER_COPY_END:
		f->copy_open = 0;
		if (f->skip_copy) {
			f->skip_copy = 0;
			return 0;
		}
		f->copy_blocks++;
		f->copy_rows += ev->rows;
		return out_write(f, "\\.\n", 3);
	case LEXER_TRAILER:
		return 0;
	}
	return 0;
}

/*
 * Make the output fail in psql: close an open COPY, then a statement that
 * raises the error.  The message goes in a dollar quote whose tag cannot
 * occur in it.
 */
static void
poison_output(struct filter *f, const char *msg)
{
	char ex[300];
	size_t i;

	text_excerpt(msg, strlen(msg), sizeof(ex), ex, sizeof(ex));
	for (i = 0; ex[i]; i++)
		if (ex[i] == '$')
			ex[i] = '?';
	if (f->copy_open)
		printf("%s\\.\n", f->copy_midline ? "\n" : "");
	printf("DO $pgsluice$BEGIN RAISE EXCEPTION 'pgsluice filter: %%', "
	       "$msg$%s$msg$; END$pgsluice$;\n",
	       ex);
	fflush(stdout);
}

static void
summary(struct filter *f)
{
	struct rules_stat st[RULES_MAX_STATS];
	int i, n;

	if (f->quiet)
		return;
	fprintf(stderr,
	        "pgsluice filter: %llu statements in, %llu out; %llu COPY "
	        "blocks, %llu rows; %llu bytes read (%s), %llu bytes of SQL\n",
	        (unsigned long long)f->st_in, (unsigned long long)f->st_out,
	        (unsigned long long)f->copy_blocks, (unsigned long long)f->copy_rows,
	        (unsigned long long)f->pl.dec.in_total,
	        decoder_compressed(&f->pl.dec) ? decoder_format_name(f->pl.dec.kind) : "plain",
	        (unsigned long long)f->pl.dec.out_total);
	n = rules_stats(&f->rules, st, RULES_MAX_STATS);
	for (i = 0; i < n; i++)
		fprintf(stderr, "  %-18s %8llu %s\n", st[i].rule, (unsigned long long)st[i].count,
		        st[i].action);
}

/* The pipeline's failure as the filter's message. */
static void
failure_message(struct filter *f)
{
	const struct pipeline_failure *pf = pipeline_failure(&f->pl);

	switch (pf->code) {
	case PIPELINE_ERR_AFTER_TRAILER:
		f->st_in++; /* the refused statement was read */
		snprintf(f->error, sizeof(f->error),
		         "line %llu: a statement comes after the dump's trailer (\"-- PostgreSQL "
		         "database dump complete\"): two dumps in one stream?",
		         (unsigned long long)pf->line);
		break;
	case PIPELINE_ERR_CUT_COMPRESSED:
		snprintf(f->error, sizeof(f->error), "%s; the SQL stops at line %llu, %s",
		         pf->detail, (unsigned long long)pf->line, pf->where);
		break;
	case PIPELINE_ERR_CUT:
		snprintf(f->error, sizeof(f->error), "dump truncated: %s", pf->detail);
		break;
	case PIPELINE_ERR_NO_TRAILER:
		snprintf(f->error, sizeof(f->error),
		         "dump truncated: the input ended at "
		         "line %llu without pg_dump's \"-- PostgreSQL database dump complete\" "
		         "trailer; the dump was cut short (or is not a pg_dump plain dump)",
		         (unsigned long long)pf->line);
		break;
	case PIPELINE_ERR_NO_MEMORY:
		snprintf(f->error, sizeof(f->error), "out of memory");
		break;
	default: /* the decoder's or the lexer's own message */
		snprintf(f->error, sizeof(f->error), "%s", pf->detail);
		break;
	}
}

/* Take the pipeline's events until it needs more input or ends. */
static int
drain(struct filter *f)
{
	struct pipeline_event ev;
	enum pipeline_result r;

	while ((r = pipeline_next(&f->pl, &ev)) == PIPELINE_EVENT)
		if (on_event(f, &ev) < 0)
			return -1;
	if (r == PIPELINE_ERROR) {
		failure_message(f);
		return -1;
	}
	return 0;
}

static int
run(struct filter *f)
{
	static char in[FILTER_CHUNK];
	size_t off, used;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(f->error, sizeof(f->error), "reading stdin: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		for (off = 0; off < (size_t)n; off += used) {
			if (pipeline_feed(&f->pl, in + off, (size_t)n - off, &used) < 0) {
				failure_message(f);
				return -1;
			}
			if (drain(f) < 0)
				return -1;
		}
	}
	pipeline_eof(&f->pl);
	if (drain(f) < 0)
		return -1;
	if (out_write(f, "--\n-- PostgreSQL database dump complete\n--\n", 43) < 0)
		return -1;
	if (fflush(stdout) != 0) {
		snprintf(f->error, sizeof(f->error), "writing the output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
filter_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_RULE_LONGOPTS,
		{ "target-version", required_argument, NULL, OPT_TARGET_VERSION },
		{ "no-single-transaction", no_argument, NULL, OPT_NO_SINGLE_TRANSACTION },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	static struct filter f;
	struct pipeline_config pc;
	int c, rc;

	cli_rules_init(&f.cr);
	while ((c = cli_getopt(argc, argv, CLI_RULE_SHORTOPTS CLI_COMMON_SHORTOPTS, longopts,
	                       "pgsluice filter")) != -1) {
		switch (cli_rules_option(&f.cr, c, optarg)) {
		case 1:
			continue;
		case -1:
			return 2;
		}
		switch (c) {
		case OPT_TARGET_VERSION:
			f.cr.opt.target_version = parse_version(optarg);
			if (f.cr.opt.target_version < 0) {
				fprintf(stderr,
				        "pgsluice filter: --target-version %s: want a "
				        "version like 15, 9.6 or 150004\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_NO_SINGLE_TRANSACTION:
			f.cr.opt.single_transaction = 0;
			break;
		case 'q':
			f.quiet = 1;
			break;
		case 'v':
			f.cr.explain = 1;
			break;
		case 'h':
			filter_usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return cli_usage_error("pgsluice filter",
		                       "unexpected argument %s (the dump is read "
		                       "on stdin)",
		                       argv[optind]);
	if (cli_rules_check(&f.cr, "pgsluice filter") < 0)
		return 2;
	if (isatty(STDIN_FILENO)) {
		fprintf(stderr, "pgsluice filter: stdin is a terminal; pipe a dump in "
		                "(pgsluice filter < dump.sql)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	rules_init(&f.rules, &f.cr.opt);
	memset(&pc, 0, sizeof(pc));
	pc.rules = &f.rules;
	pc.max_statement = f.cr.max_statement;
	pc.server_version = f.cr.opt.target_version;
	pc.plain_cap = FILTER_CHUNK;
	pc.ends_at_trailer = 1;
	rc = pipeline_init(&f.pl, &pc) < 0 ? -1 : run(&f);
	if (rc < 0 && f.error[0] == '\0')
		failure_message(&f);
	if (rc < 0) {
		poison_output(&f, f.error);
		fprintf(stderr, "pgsluice filter: error: %s\n", f.error);
	}
	summary(&f);
	pipeline_free(&f.pl);
	rules_free(&f.rules);
	return rc < 0 ? 1 : 0;
}
