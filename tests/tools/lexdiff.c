/*
 * lexdiff.c - compare the lexer's statement cuts with a real server's.
 *
 *	lexdiff CONNINFO FILE...
 *
 * Cuts each FILE with the lexer (lexer_scan, server_version_num from the
 * connection) and hands every statement to the server as one Parse message
 * of the extended query protocol (PQprepare, unnamed), which parses the
 * text with the server's own scanner and grammar and refuses a text that
 * holds more than one command.  So a statement the lexer cut too coarsely
 * (a second command hidden in what the lexer took for a string or a
 * comment) shows as "multiple commands", one cut too finely as a syntax
 * error.  SET, RESET and DISCARD statements are run (PQexec), so that the
 * server's standard_conforming_strings follows the script; after each, the
 * server's reported value must equal lexer_standard_strings().  COPY data
 * and meta-commands are skipped; nothing else is executed.
 *
 *	lexdiff --cuts SERVER_VERSION_NUM FILE...
 *
 * Only cuts, no server: writes for each FILE a record "F <path>", then one
 * record per lexer event, for a comparison with the statements psql sent
 * (tests/integration/lexer_regress_cuts.sh): "S <line> <len>" and "M
 * <line> <len>", each followed by the statement's or meta-command's <len>
 * bytes and a newline ("P" instead of "S" for a statement the lexer says
 * psql would cut elsewhere, lexer_event.psql_cut_differs); "C <line>
 * <rows>" at the end of a COPY block.  A
 * lexer error gives "E <line> <len>" and the bytes of the statement it
 * stopped (from its first byte up to the byte that failed), then "X <msg>";
 * the cutting goes on with a new lexer at the next line, so one refused
 * construct does not hide the rest of the file.  Exit status 0, or 2 on a
 * usage or file error.
 *
 * Prints one line per problem ("FILE:LINE: multiple commands: ...",
 * "FILE:LINE: syntax error: ...", "FILE:LINE: standard_conforming_strings
 * ...") and a last line "N statements, M multiple, S syntax errors, D
 * setting differences".  Exit status: 0 if M and D are 0, 1 if not, 2 on
 * usage, connection or file errors.  Syntax errors are reported and
 * counted, but do not fail the run (a script may hold statements for
 * another server version): the caller decides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "lexer.h"

struct counts {
	unsigned long statements, multiple, syntax, setting;
};

static void
excerpt(const char *s, size_t n, char *out, size_t size)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 4 < size; i++)
		out[k++] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
	if (i < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

static int
first_word_is_setting(const char *s, size_t n)
{
	static const char *const words[] = { "set", "reset", "discard" };
	size_t i, k, w;

	for (i = 0; i < n;) { /* skip whitespace and comments */
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
		    s[i] == '\v') {
			i++;
		} else if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
			while (i < n && s[i] != '\n' && s[i] != '\r')
				i++;
		} else if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
			int depth = 1;

			for (i += 2; i < n && depth > 0; i++) {
				if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
					depth++;
					i++;
				} else if (i + 1 < n && s[i] == '*' && s[i + 1] == '/') {
					depth--;
					i++;
				}
			}
		} else {
			break;
		}
	}
	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		k = strlen(words[w]);
		if (n - i > k && strncasecmp(s + i, words[w], k) == 0 &&
		    (s[i + k] == ' ' || s[i + k] == '\t' || s[i + k] == '\n' || s[i + k] == '\r' ||
		     s[i + k] == '/' || s[i + k] == '-' || s[i + k] == '"'))
			return 1;
	}
	return 0;
}

static void
statement(PGconn *conn, const struct lexer *lx, const char *file, const struct lexer_event *ev,
          struct counts *c)
{
	char *text = malloc(ev->len + 1), ex[120];
	const char *state, *msg, *scs;
	PGresult *res;

	if (text == NULL) {
		fprintf(stderr, "lexdiff: out of memory\n");
		exit(2);
	}
	memcpy(text, ev->data, ev->len);
	text[ev->len] = '\0';
	c->statements++;
	if (first_word_is_setting(text, ev->len))
		res = PQexec(conn, text);
	else
		res = PQprepare(conn, "", text, 0, NULL);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	excerpt(text, ev->len, ex, sizeof(ex));
	if (msg != NULL && strstr(msg, "multiple commands") != NULL) {
		c->multiple++;
		printf("%s:%llu: multiple commands: %s\n", file, (unsigned long long)ev->line, ex);
	} else if (state != NULL && strcmp(state, "42601") == 0) {
		c->syntax++;
		printf("%s:%llu: syntax error (%s): %s\n", file, (unsigned long long)ev->line,
		       msg ? msg : "", ex);
	}
	PQclear(res);
	scs = PQparameterStatus(conn, "standard_conforming_strings");
	if (scs != NULL && (strcmp(scs, "on") == 0) != (lexer_standard_strings(lx) == 1)) {
		c->setting++;
		printf("%s:%llu: standard_conforming_strings is %s on the server, %s for "
		       "the lexer, after: %s\n",
		       file, (unsigned long long)ev->line, scs,
		       lexer_standard_strings(lx) ? "on" : "off", ex);
	}
	free(text);
}

static int
one_file(PGconn *conn, const char *file, struct counts *c)
{
	static char buf[1 << 16];
	struct lexer lx;
	struct lexer_event ev;
	FILE *f = fopen(file, "rb");
	size_t n, off, used;
	int r = LEXER_MORE;
	PGresult *res;

	if (f == NULL) {
		perror(file);
		return -1;
	}
	res = PQexec(conn, "RESET ALL");
	PQclear(res);
	lexer_init(&lx, 0);
	lx.server_version_num = PQserverVersion(conn);
	while (r != LEXER_ERROR && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (off = 0; off < n;) {
			r = lexer_scan(&lx, buf + off, n - off, &used, &ev);
			off += used;
			if (r == LEXER_ERROR)
				break;
			if (r == LEXER_EVENT && ev.type == LEXER_STATEMENT)
				statement(conn, &lx, file, &ev, c);
		}
	}
	while (r != LEXER_ERROR && (r = lexer_finish(&lx, &ev)) == LEXER_EVENT)
		;
	if (r == LEXER_ERROR)
		printf("%s: lexer: %s\n", file, lexer_error(&lx));
	lexer_free(&lx);
	fclose(f);
	return 0;
}

static void
record(char kind, uint64_t line, const char *s, size_t n)
{
	printf("%c %llu %zu\n", kind, (unsigned long long)line, n);
	fwrite(s, 1, n, stdout);
	putchar('\n');
}

/* One file for --cuts: read whole, cut, restart after each error's line. */
static int
cuts_file(const char *file, int server_version_num)
{
	struct lexer lx;
	struct lexer_event ev;
	FILE *f = fopen(file, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, off = 0, used, got;
	uint64_t line = 1;
	int r;

	if (f == NULL) {
		perror(file);
		return -1;
	}
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			if ((buf = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "lexdiff: out of memory\n");
				exit(2);
			}
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	printf("F %s\n", file);
	while (off <= n) {
		lexer_init(&lx, 0);
		lx.server_version_num = server_version_num;
		lx.line = line;
		lx.offset = off;
		r = LEXER_MORE;
		while (off < n) {
			r = lexer_scan(&lx, buf + off, n - off, &used, &ev);
			off += used;
			if (r == LEXER_ERROR)
				break;
			if (r != LEXER_EVENT)
				continue;
			if (ev.type == LEXER_STATEMENT)
				record(ev.psql_cut_differs ? 'P' : 'S', ev.line, ev.data, ev.len);
			else if (ev.type == LEXER_META)
				record('M', ev.line, ev.data, ev.len);
			else if (ev.type == LEXER_COPY_END)
				printf("C %llu %llu\n", (unsigned long long)ev.line,
				       (unsigned long long)ev.rows);
		}
		while (r != LEXER_ERROR && (r = lexer_finish(&lx, &ev)) == LEXER_EVENT)
			if (ev.type == LEXER_META)
				record('M', ev.line, ev.data, ev.len);
		if (r != LEXER_ERROR) {
			lexer_free(&lx);
			break;
		}
		/* the stopped statement's bytes, then on after the failing line */
		record('E', lx.st_line, buf + lx.st_offset,
		       off > lx.st_offset ? off - lx.st_offset : 0);
		printf("X %s\n", lexer_error(&lx));
		while (off < n && buf[off] != '\n')
			off++;
		off++;
		line = 1;
		for (got = 0; got < off && got < n; got++)
			line += buf[got] == '\n';
		lexer_free(&lx);
	}
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct counts c = { 0, 0, 0, 0 };
	PGconn *conn;
	int i;

	if (argc >= 3 && strcmp(argv[1], "--cuts") == 0) {
		for (i = 3; i < argc; i++)
			if (cuts_file(argv[i], atoi(argv[2])) < 0)
				return 2;
		return fflush(stdout) == 0 ? 0 : 2;
	}

	if (argc < 3) {
		fprintf(stderr, "usage: lexdiff CONNINFO FILE...\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "lexdiff: %s", PQerrorMessage(conn));
		return 2;
	}
	for (i = 2; i < argc; i++)
		if (one_file(conn, argv[i], &c) < 0)
			return 2;
	printf("%lu statements, %lu multiple, %lu syntax errors, %lu setting differences\n",
	       c.statements, c.multiple, c.syntax, c.setting);
	PQfinish(conn);
	return c.multiple == 0 && c.setting == 0 ? 0 : 1;
}
