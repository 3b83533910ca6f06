/*
 * dumpstart.c - is this the start of a pg_dump plain-format dump?
 * (dumpstart.h: the recogniser, step by step.)
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dumpstart.h"

#define DUMPSTART_TAR_AT 257

static const char dumpstart_header[] = "-- PostgreSQL database dump";
static const char dumpstart_cluster[] = "-- PostgreSQL database cluster dump";
static const char dumpstart_search_path[] = "SELECT pg_catalog.set_config('search_path'";
static const char dumpstart_restrict[] = "\\restrict ";

/* 1: buf[0..len) equals want; 0: it does not; -1: it is a prefix of want (more) */
static int
dumpstart_prefix(const char *buf, size_t len, const char *want, int nocase)
{
	size_t n = strlen(want);
	size_t k = len < n ? len : n;

	if ((nocase ? strncasecmp(buf, want, k) : strncmp(buf, want, k)) != 0)
		return 0;
	return len < n ? -1 : 1;
}

/* The first text after blanks and "--" lines: its offset, or len if none yet. */
static size_t
dumpstart_skip_comments(const char *buf, size_t len, int *header, int *cluster, int *open_line)
{
	size_t i = 0, e, n;

	*header = *cluster = *open_line = 0;
	while (i < len) {
		char c = buf[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c != '-')
			return i;
		if (i + 1 >= len) {
			*open_line = 1;
			return len;
		}
		if (buf[i + 1] != '-')
			return i;
		for (e = i; e < len && buf[e] != '\n'; e++)
			;
		if (e == len) {
			*open_line = 1;
			return len;
		}
		n = e - i;
		while (n > 0 && (buf[i + n - 1] == '\r' || buf[i + n - 1] == ' '))
			n--;
		if (n == sizeof(dumpstart_header) - 1 && memcmp(buf + i, dumpstart_header, n) == 0)
			*header = 1;
		if (n == sizeof(dumpstart_cluster) - 1 &&
		    memcmp(buf + i, dumpstart_cluster, n) == 0)
			*cluster = 1;
		if (*header || *cluster)
			return i;
		i = e + 1;
	}
	return len;
}

enum dumpstart_kind
dumpstart_classify(const char *buf, size_t len, int eof)
{
	int header, cluster, open_line, r;
	size_t at, rest;
	const char *p;

	if (len > DUMPSTART_MAX)
		len = DUMPSTART_MAX;
	r = dumpstart_prefix(buf, len, "PGDMP", 0);
	if (r == 1)
		return DUMPSTART_CUSTOM;
	if (r < 0 && len > 0 && !eof)
		return DUMPSTART_MORE;
	if (len >= DUMPSTART_TAR_AT + 5 && memcmp(buf + DUMPSTART_TAR_AT, "ustar", 5) == 0)
		return DUMPSTART_TAR;
	at = dumpstart_skip_comments(buf, len, &header, &cluster, &open_line);
	if (header)
		return DUMPSTART_DUMP;
	if (cluster)
		return DUMPSTART_DUMPALL;
	if (at == len) {
		if (eof)
			return len == 0 || !open_line ? DUMPSTART_EMPTY : DUMPSTART_OTHER;
		return len >= DUMPSTART_MAX ? DUMPSTART_OTHER : DUMPSTART_MORE;
	}
	p = buf + at;
	rest = len - at;
	/* SET followed by white space */
	r = dumpstart_prefix(p, rest, "set", 1);
	if (r == 1 && rest > 3 && strchr(" \t\r\n", p[3]) != NULL && p[3] != '\0')
		return DUMPSTART_DUMP;
	if (r != 0 && rest <= 3 && !eof)
		return DUMPSTART_MORE;
	r = dumpstart_prefix(p, rest, dumpstart_search_path, 0);
	if (r == 1)
		return DUMPSTART_DUMP;
	if (r < 0 && !eof)
		return DUMPSTART_MORE;
	r = dumpstart_prefix(p, rest, dumpstart_restrict, 0);
	if (r == 1)
		return DUMPSTART_DUMP;
	if (r < 0 && !eof)
		return DUMPSTART_MORE;
	/* not a dump's text: a tar header is told apart once 262 bytes are in */
	if (!eof && len < DUMPSTART_TAR_AT + 5)
		return DUMPSTART_MORE;
	return DUMPSTART_OTHER;
}

void
dumpstart_excerpt(const char *buf, size_t len, char *out, size_t size)
{
	int header, cluster, open_line;
	size_t at, o = 0;

	if (len > DUMPSTART_MAX)
		len = DUMPSTART_MAX;
	at = dumpstart_skip_comments(buf, len, &header, &cluster, &open_line);
	if (at == len)
		at = 0;
	for (; at < len && buf[at] != '\n' && o + 4 < size && o < 60; at++) {
		unsigned char c = (unsigned char)buf[at];

		out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (at < len && buf[at] != '\n' && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

void
dumpstart_message(enum dumpstart_kind kind, const char *buf, size_t len, char *out, size_t size)
{
	char ex[80];

	switch (kind) {
	case DUMPSTART_CUSTOM:
		snprintf(
			out, size,
			"this is a pg_dump custom-format archive (it begins with PGDMP), "
			"not a plain-format dump: send `pg_restore -f - FILE | pgsluice send ...` or "
			"use pg_restore through the PostgreSQL port\n  nothing was changed in the "
			"target");
		return;
	case DUMPSTART_TAR:
		snprintf(
			out, size,
			"this is a tar archive (pg_dump -Ft?), not a plain-format dump: "
			"send `pg_restore -f - FILE | pgsluice send ...` or use pg_restore through "
			"the PostgreSQL port\n  nothing was changed in the target");
		return;
	case DUMPSTART_DUMPALL:
		snprintf(out, size,
		         "this is pg_dumpall's output (a whole cluster), not one "
		         "database's dump: send `pg_dump DBNAME` (roles: create them on the target "
		         "first)\n  nothing was changed in the target");
		return;
	case DUMPSTART_EMPTY:
		snprintf(out, size,
		         "the input ended before any SQL statement (nothing, or only "
		         "comments): no dump came\n  nothing was changed in the target");
		return;
	default:
		dumpstart_excerpt(buf, len, ex, sizeof(ex));
		snprintf(out, size,
		         "this is not a pg_dump plain-format dump: it begins with \"%s\"; "
		         "a dump begins with pg_dump's header \"-- PostgreSQL database dump\" or "
		         "its SET lines\n  send the output of pg_dump (plain format, the default)\n"
		         "  nothing was changed in the target",
		         ex);
		return;
	}
}
