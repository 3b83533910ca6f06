/*
 * sqltok.h - tokens of one complete SQL statement.
 *
 * The lexer (lexer.c) finds where statements end; this module walks the
 * tokens inside one of them, skipping whitespace and comments, so that the
 * rules can look at leading keywords and identifiers without ever matching
 * text inside a string, a quoted identifier, a comment or a function body.
 * Pure: no allocation, no I/O, libc only.
 */
#ifndef SQLREWRITE_SQLTOK_H
#define SQLREWRITE_SQLTOK_H

#include <stddef.h>

enum sqltok_type {
	SQLTOK_END = 0, /* no more tokens */
	SQLTOK_WORD,    /* unquoted identifier or keyword */
	SQLTOK_QIDENT,  /* "quoted identifier" (or U&"...") */
	SQLTOK_STRING,  /* '...', E'...', U&'...', B'', X'', N'', $tag$...$tag$ */
	SQLTOK_NUMBER,  /* numeric literal (with any trailing junk) */
	SQLTOK_PARAM,   /* $1 (with any trailing junk) */
	SQLTOK_OP,      /* one punctuation or operator character: ( ) , ; . = ... */
};

struct sqltok {
	enum sqltok_type type;
	const char *p; /* the token's text inside the statement */
	size_t len;
	int depth; /* parenthesis depth before the token */
};

struct sqltok_iter {
	const char *p, *end;
	int std_strings;
	int depth;
};

/* Walk s[0..len); std_strings as the lexer had it (1 = standard). */
void sqltok_init(struct sqltok_iter *it, const char *s, size_t len, int std_strings);

/* Fill *t with the next token; returns its type (SQLTOK_END at the end). */
enum sqltok_type sqltok_next(struct sqltok_iter *it, struct sqltok *t);

/* 1 if t is an unquoted word equal to kw (ASCII case-insensitive; kw lower). */
int sqltok_is(const struct sqltok *t, const char *kw);

/*
 * The identifier's name as PostgreSQL sees it: a WORD lowercased (ASCII),
 * a QIDENT without its quotes and with "" undoubled, a STRING's contents
 * for '...' literals without escapes.  Writes at most size-1 bytes plus a
 * NUL into out; returns the full length (truncated if >= size).
 */
size_t sqltok_name(const struct sqltok *t, char *out, size_t size);

/*
 * The text a token stands for, as the server reads it: a WORD lowercased
 * (ASCII); a QIDENT without its quotes, "" undoubled; a STRING's value with
 * every part of a continued string joined, '' undoubled, E'' escapes (and,
 * with std_strings 0, those of '' and N'') decoded, a dollar quote's body;
 * U&'' and U&"" escapes decoded with escape character uescape (0: '\', for
 * a token without a UESCAPE clause), code points written as UTF-8; any
 * other token as it is.  An escape the server would refuse is kept as
 * written.  Writes at most size-1 bytes plus a NUL into out; returns the
 * full length (truncated if >= size).
 */
size_t sqltok_value(const struct sqltok *t, int std_strings, char uescape, char *out, size_t size);

/*
 * Convenience: read up to max leading words of s (unquoted words only,
 * lowercased, each at most 31 bytes) into words[], after any leading
 * comments; stops at the first token that is not a WORD.  Returns how many
 * were read.
 */
int sqltok_leading_words(const char *s, size_t len, int std_strings, char words[][32], int max);

#endif
