/*
 * dumpstart.h - is this the start of a pg_dump plain-format dump?
 *
 * An import begins (admission, preflight, BEGIN, the --clear-target drops)
 * only once the first bytes of a raw stream are recognised as a plain
 * dump, so that a probe, a scanner or a wrong file changes nothing.  Kept
 * apart from the session: a pure function of the decoded bytes, with no
 * I/O, tested on its own (tests/unit/test_dumpstart.c).
 *
 * The recogniser, on the decoded (gunzipped, ...) bytes from the first:
 *
 *   1. "PGDMP" at offset 0: a pg_dump custom-format archive (-Fc).
 *   2. "ustar" at offset 257: a tar archive (pg_dump -Ft).
 *   3. Blank lines and "--" comment lines are skipped.  A comment line that
 *      is exactly "-- PostgreSQL database dump" (pg_dump 11..18 and
 *      pg_restore -f write it as their second line) is a dump; one that is
 *      "-- PostgreSQL database cluster dump" is pg_dumpall's output.
 *   4. Otherwise the first text after the comments decides: the word SET
 *      (any case) followed by white space, the bytes
 *      "SELECT pg_catalog.set_config('search_path'", or psql's
 *      "\restrict " line (pg_dump 17.6+ and 15.14+) are a dump's prelude,
 *      so a dump whose comments were stripped is accepted; anything else
 *      is not a dump.
 *
 * The decision needs at most DUMPSTART_MAX bytes (comments longer than
 * that are not a dump's) and waits for 262 bytes (or the end) before
 * saying "not a dump", so that a tar header is named as such.
 */
#ifndef PGSLUICE_DUMPSTART_H
#define PGSLUICE_DUMPSTART_H

#include <stddef.h>

#define DUMPSTART_MAX (64 * 1024)

enum dumpstart_kind {
	DUMPSTART_MORE = 0, /* the bytes so far could still be either: give more */
	DUMPSTART_DUMP,     /* a plain-format dump */
	DUMPSTART_CUSTOM,   /* a pg_dump custom-format archive (PGDMP) */
	DUMPSTART_TAR,      /* a tar archive (pg_dump -Ft) */
	DUMPSTART_DUMPALL,  /* pg_dumpall's output: a cluster, not one database */
	DUMPSTART_EMPTY,    /* the input ended with nothing but blanks and comments */
	DUMPSTART_OTHER,    /* something else */
};

/*
 * Classify the first len bytes of the input; eof: no more will come.
 * Returns DUMPSTART_MORE only when !eof and len < DUMPSTART_MAX.
 */
enum dumpstart_kind dumpstart_classify(const char *buf, size_t len, int eof);

/*
 * For DUMPSTART_OTHER: the first line of text after the comments, quoted
 * for a message ("select 1", non-printable bytes as '?', at most 60
 * characters), into out.
 */
void dumpstart_excerpt(const char *buf, size_t len, char *out, size_t size);

/*
 * The refusal for a kind other than DUMP and MORE: what came and what
 * pgsluice expects, for the sender (several lines, indented by two
 * spaces after the first).  buf/len: the bytes, for the excerpt.
 */
void dumpstart_message(enum dumpstart_kind kind, const char *buf, size_t len, char *out,
                       size_t size);

#endif
