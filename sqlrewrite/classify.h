/*
 * classify.h - what the daemon asks of one complete statement, beside the
 * rules' verdict: its command tag, whether it reads tables or large
 * objects, whether it sets lock_timeout, and what kind of statement it is
 * for the --jobs scheduler.
 *
 * Kept apart from the rules because none of these decide a statement's
 * fate: the PostgreSQL-protocol front end answers with them, the session
 * watches a setting with them, the scheduler orders with them.  Kept in
 * sqlrewrite, beside the tokenizer, so that every reading of a statement's
 * text is in the fuzzed, libc-only library.  Pure: no allocation, no I/O.
 *
 * Every function reads s[0..len) (not NUL-terminated) with the
 * standard_conforming_strings the lexer read it with (the event's
 * std_strings; 1 = standard).
 */
#ifndef SQLREWRITE_CLASSIFY_H
#define SQLREWRITE_CLASSIFY_H

#include <stddef.h>

/* What a statement is to a scheduler that spreads statements over connections. */
enum classify_kind {
	CLASSIFY_OTHER = 0, /* anything else: what it touches decides */
	CLASSIFY_SET,       /* a session setting: SET, RESET, SELECT ...set_config(...) */
	CLASSIFY_TXN,       /* transaction control, or a large-object call (lo_*, lowrite) */
	CLASSIFY_FREE,      /* touches no table: SELECT ...setval(...) */
};

enum classify_kind classify_kind(const char *s, size_t len, int std_strings);

/*
 * The command tag PostgreSQL would answer the statement with, as far as
 * its leading words say ("CREATE TABLE", "ALTER DEFAULT PRIVILEGES",
 * "SELECT 1", "COMMIT" for END); for a statement pgsluice answers without
 * running it.  Writes at most size-1 bytes plus a NUL.
 */
void classify_tag(const char *s, size_t len, int std_strings, char *tag, size_t size);

/*
 * 1 if the statement reads rows a client would get back: TABLE, FETCH,
 * EXPLAIN, or SELECT/WITH with a FROM or TABLE anywhere.  SHOW, VALUES and
 * a SELECT of functions alone (set_config, pg_is_in_recovery) do not.
 */
int classify_reads_tables(const char *s, size_t len, int std_strings);

/* 1 if a word of the statement names a large-object table or function (pg_largeobject*, lo_open). */
int classify_large_objects(const char *s, size_t len, int std_strings);

/* 1 if the statement is SET [SESSION | LOCAL] lock_timeout ... */
int classify_sets_lock_timeout(const char *s, size_t len, int std_strings);

/*
 * 1 if the statement only sets up or asks about the session: SET, RESET,
 * SHOW, SELECT (one that reads tables is to be refused by the caller
 * first), or no statement at all.
 */
int classify_setup(const char *s, size_t len, int std_strings);

#endif
