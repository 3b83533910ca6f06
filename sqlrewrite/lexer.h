/*
 * lexer.h - incremental splitter for PostgreSQL plain-format dumps.
 *
 * The lexer cuts a byte stream into the units psql would act on: SQL
 * statements, COPY data, backslash meta-commands, and pg_dump's trailer
 * comment.  A ';' ends a statement only outside quotes, comments, dollar
 * quotes, parentheses and BEGIN ATOMIC bodies; COPY data ends at a line
 * that is exactly "\." (LF or CRLF).
 *
 * Inside a statement it reads tokens as the target server's own scanner
 * (src/backend/parser/scan.l) does, not as psql does, so that no statement
 * can hide in what the lexer takes for a comment or a string.  Where the
 * server versions differ, the lexer follows lx->server_version_num:
 *
 *  - whitespace is space, \t, \n, \r, \f, and \v from PostgreSQL 16 on
 *    (15's scanner has no \v: there it is a character that fails the
 *    statement);
 *  - that whitespace is also what may stand, with "--" comments and at
 *    least one newline, between the parts of a continued string
 *    ('a'<newline>'b' is one string, read with the first part's rules).
 *
 * The rest is the same in 15 to 18: "--" comments end at \n or \r; a
 * number or $n followed by identifier characters is one (erroneous) token;
 * B'' and X'' have no '' doubling; BEGIN ATOMIC opens a body only as the
 * keyword pair in a CREATE [OR REPLACE] FUNCTION|PROCEDURE statement.
 * standard_conforming_strings follows the statements that set it (see
 * lexer_standard_strings()).
 *
 * It is fed chunks of any size, keeps a caller-owned state struct, does no
 * I/O and depends on libc only.  The one allocation it makes is the buffer
 * that holds the statement being collected, grown geometrically up to
 * max_statement; COPY data is never buffered (at most 3 bytes held back at
 * a line start, to tell "\." from data).
 *
 * Pull interface, one event at a time, so that a caller with a slow
 * consumer can stop between events (backpressure):
 *
 *	struct lexer lx;
 *	lexer_init(&lx, 0);
 *	while (have input) {
 *		r = lexer_scan(&lx, buf, len, &used, &ev);
 *		buf += used; len -= used;
 *		if (r == LEXER_EVENT) handle(&ev);
 *		else if (r == LEXER_ERROR) fail(lexer_error(&lx));
 *		else read more;		// LEXER_MORE: buf fully consumed
 *	}
 *	while ((r = lexer_finish(&lx, &ev)) == LEXER_EVENT) handle(&ev);
 *	if (r == LEXER_ERROR) fail(lexer_error(&lx));
 *	lexer_free(&lx);
 */
#ifndef SQLREWRITE_LEXER_H
#define SQLREWRITE_LEXER_H

#include <stddef.h>
#include <stdint.h>

#define LEXER_DEFAULT_MAX_STATEMENT ((size_t)256 << 20)
#define LEXER_MAX_DOLLAR_TAG 63

enum lexer_event_type {
	LEXER_STATEMENT = 1, /* data: the statement, from its first token to its ';' */
	LEXER_COPY_DATA,     /* data: a piece of COPY data (may end mid-line) */
	LEXER_COPY_END,      /* the "\." line; data empty, rows = data lines seen */
	LEXER_META,          /* data: a meta-command line from its '\', no newline */
	LEXER_TRAILER,       /* "-- PostgreSQL database dump complete"; data: that line */
};

struct lexer_event {
	enum lexer_event_type type;
	const char *data; /* valid until the next lexer call (or lexer_trim); a
	                   * LEXER_STATEMENT's or LEXER_META's is followed by a
	                   * NUL byte (data[len] == '\0'), the others' are not */
	size_t len;
	uint64_t line;   /* 1-based input line where the event starts */
	uint64_t offset; /* byte offset in the whole input where it starts */
	uint64_t rows;   /* LEXER_COPY_END: number of data lines in the block */
	int std_strings; /* standard_conforming_strings the event was read with */
	/*
	 * LEXER_STATEMENT: psql, which reads its input a line at a time, would
	 * cut this statement elsewhere than the server reads it: a string goes
	 * on across a newline with rules that change how the rest is read
	 * (psql never sees a continuation), CASE or END stands as a label in
	 * a BEGIN ATOMIC body (psql counts it), or a routine's statement holds
	 * the word BEGIN without ATOMIC (a function named begin: psql counts
	 * it and runs on past the ';', reading any COPY data after it as SQL).
	 * A program whose output psql runs must refuse such a statement.
	 */
	int psql_cut_differs;
};

enum lexer_result {
	LEXER_ERROR = -1, /* see lexer_error(); the lexer is stuck until lexer_init */
	LEXER_MORE = 0,   /* input used up; feed more (lexer_finish: clean end) */
	LEXER_EVENT = 1,  /* *ev is filled in */
};

/* Where a statement's text stands, for the open-construct error message. */
enum lexer_state {
	LX_START,            /* between statements */
	LX_START_DASH,       /* between statements, saw '-' */
	LX_START_COMMENT,    /* '--' comment between statements */
	LX_META,             /* backslash meta-command, to end of line */
	LX_NORMAL,           /* inside a statement, between tokens */
	LX_IDENT,            /* inside an identifier or keyword */
	LX_NUMBER,           /* inside a number */
	LX_NUMBER_E,         /* number, right after its 'e' */
	LX_NUMBER_EXP,       /* number, in its exponent */
	LX_PARAM,            /* $1 */
	LX_DASH,             /* saw '-' inside a statement */
	LX_SLASH,            /* saw '/' (at start or inside a statement) */
	LX_LINE_COMMENT,     /* '--' comment inside a statement */
	LX_BLOCK,            /* inside a (nested) block comment */
	LX_BLOCK_STAR,       /* block comment, saw '*' */
	LX_BLOCK_SLASH,      /* block comment, saw '/' */
	LX_JUNK,             /* identifier characters glued to a number or $n */
	LX_SQUOTE,           /* '...' string, '' escapes only (also U&'') */
	LX_SQUOTE_END,       /* saw the closing-or-doubled quote of a string */
	LX_EQUOTE,           /* '...' string with backslash escapes (E'', or scs off) */
	LX_EQUOTE_BS,        /* E'' string, right after a backslash */
	LX_BQUOTE,           /* B'' or X'' string: no escapes, no doubling */
	LX_QGAP,             /* after a string: whitespace that may continue it */
	LX_QGAP_DASH,        /* that whitespace, saw '-' */
	LX_QGAP_COMMENT,     /* that whitespace, in a '--' comment */
	LX_DQUOTE,           /* "..." identifier */
	LX_DQUOTE_END,       /* saw the closing-or-doubled '"' */
	LX_UAMP,             /* saw identifier "u" then '&' */
	LX_DOLLAR,           /* saw '$' at a token start: tag, parameter, or nothing */
	LX_DOLLAR_BODY,      /* inside a dollar-quoted string */
	LX_DOLLAR_CLOSE,     /* inside a dollar quote, matching the closing tag */
	LX_COPY_EOL,         /* after "COPY ... FROM stdin;", rest of that line */
	LX_COPY_EOL_DASH,    /* that rest, saw '-' */
	LX_COPY_EOL_COMMENT, /* that rest, in a '--' comment */
	LX_COPY_BOL,         /* COPY data, at a line start (matching "\.") */
	LX_COPY_DATA,        /* COPY data, inside a line */
	LX_FAILED,           /* an error was reported */
};

struct lexer {
	enum lexer_state state;
	uint64_t line, offset; /* position of the next byte */
	size_t max_statement;
	/*
	 * Option: the target server's server_version_num (150000 and up), set
	 * after lexer_init and before the first lexer_scan; 0 (lexer_init's
	 * value) reads as the newest version.
	 */
	int server_version_num;

	/* the statement being collected */
	char *buf;
	size_t len, cap;
	uint64_t st_line, st_offset;
	int has_token;   /* statement holds more than comments */
	int std_strings; /* standard_conforming_strings, see lexer_standard_strings */
	int first_kw;    /* the statement's first token, when a word (lexer.c) */

	/* BEGIN ATOMIC bodies (psql's CREATE ... FUNCTION|PROCEDURE test) */
	int paren_depth, begin_depth;
	int psql_depth; /* psql's BEGIN count, which also counts a bare BEGIN */
	unsigned identifier_count;
	char identifiers[4];
	int prev_tok;     /* what the last token was, for BEGIN ATOMIC and labels */
	int psql_differs; /* see lexer_event.psql_cut_differs */

	/* current identifier token, lowercased prefix; digits of an exponent */
	char word[12];
	size_t word_len;

	/* strings: which kind is open, and the gap that may continue it */
	int quote_kind;
	int gap_newline; /* LX_QGAP*: a newline was seen */

	/* block comments and quoted things: where they began */
	int block_depth;
	uint64_t open_line; /* line of the open quote/comment/COPY */

	/* dollar quotes */
	char tag[LEXER_MAX_DOLLAR_TAG + 1];
	size_t tag_len, tag_match;

	/* comment between statements, kept to recognize the trailer */
	char comment[40];
	size_t comment_len;
	uint64_t comment_line, comment_offset;

	/* COPY data */
	char held[4]; /* "\", "\.", "\.\r" held back at a line start */
	size_t held_len;
	uint64_t held_line, held_offset;
	uint64_t copy_rows;
	char copy_table[64]; /* table name for messages, truncated */

	char error[256];
};

/*
 * Set up *lx.  max_statement caps the bytes one statement may have (0: the
 * default, 256 MiB).  No allocation happens until the first statement.
 */
void lexer_init(struct lexer *lx, size_t max_statement);

/* Release the statement buffer.  *lx may be lexer_init'ed again after. */
void lexer_free(struct lexer *lx);

/*
 * Between events: release the statement buffer if its capacity passed
 * keep bytes (the next statement starts a new one), so that one large
 * statement is not held after it has been passed on.  The last event's
 * data is invalid after this.
 */
void lexer_trim(struct lexer *lx, size_t keep);

/*
 * Scan buf[0..len).  *used is set to the bytes consumed (always, also on
 * LEXER_EVENT, when it may be less than len: call again with the rest).
 * On LEXER_EVENT *ev is filled; ev->data points into buf or into *lx and
 * is valid until the next call on *lx (and, if into buf, while buf is).
 * LEXER_MORE: all of buf was consumed and no event completed.
 * LEXER_ERROR: lexer_error() says what and where; nothing more is accepted.
 */
int lexer_scan(struct lexer *lx, const char *buf, size_t len, size_t *used, struct lexer_event *ev);

/*
 * End of input.  Returns LEXER_EVENT for a last meta-command or trailer
 * without a final newline (or held-back COPY bytes that the end of input
 * proves were data; the block is still an error after), LEXER_MORE when
 * the input ended cleanly between statements, and LEXER_ERROR when a
 * statement, quote, comment, dollar quote or COPY block is still open.
 */
int lexer_finish(struct lexer *lx, struct lexer_event *ev);

/* The last error, or "" if none. */
const char *lexer_error(const struct lexer *lx);

/*
 * A description of what is open at this point of the input, with the line
 * where it began ("inside COPY public.events that began at line 812", "inside
 * a dollar-quoted string that began at line 10", "between statements").
 * Used for truncation reports.  Writes into buf (always NUL-terminated).
 */
void lexer_describe(const struct lexer *lx, char *buf, size_t size);

/* True while the lexer is between COPY ... FROM stdin; and its "\." line. */
int lexer_in_copy(const struct lexer *lx);

/* True inside COPY data proper: past the newline that ends the COPY line. */
int lexer_in_copy_data(const struct lexer *lx);

/* True between statements: nothing is open but, perhaps, a "--" comment. */
int lexer_between_statements(const struct lexer *lx);

/* Bytes of the meta-command line read so far (0 when none is open). */
uint64_t lexer_meta_len(const struct lexer *lx);

/*
 * 1 if the lexer now reads '...' with standard_conforming_strings on, 0 if
 * it reads them with backslash escapes.  It starts at 1 and follows every
 * statement that changes the setting as the server would: SET [SESSION |
 * LOCAL] standard_conforming_strings {TO | =} value (any spelling the
 * server's parse_bool takes, quoted or not, or DEFAULT), RESET
 * standard_conforming_strings, RESET ALL and DISCARD ALL, after any leading
 * comments.  It cannot see a change made any other way (set_config(), a
 * function's SET clause at call time, ROLLBACK TO SAVEPOINT, a database or
 * role default for DEFAULT): a caller that runs the statements compares
 * this value after every statement with the server's own (libpq's
 * PQparameterStatus(conn, "standard_conforming_strings"), "on" = 1) and
 * fails at the first statement where they differ, since from there on the
 * lexer and the server would cut strings differently.
 */
int lexer_standard_strings(const struct lexer *lx);

#endif
