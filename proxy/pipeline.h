/*
 * pipeline.h - one dump stream: decoder -> lexer -> rules, as a pull loop.
 *
 * Every front door that reads a plain-format pg_dump (`pgsluice filter` on
 * stdin, a `serve` session on its socket) runs the same pipeline, so that
 * what a stream may contain is decided in one place: the decoder (plain,
 * gzip, zstd, lz4), the lexer, the rules' verdict, and the limits on the
 * stream as a whole (the compression ratio, meta-command lines, nothing
 * after the dump's trailer, a clean end).  It does no I/O and uses no
 * libevent, OpenSSL or libpq.
 *
 *	pipeline_init(&p, &cfg);
 *	for each chunk of input:
 *		while (chunk left) {
 *			if (pipeline_feed(&p, chunk, len, &used) < 0) fail;
 *			chunk += used; len -= used;
 *			while ((r = pipeline_next(&p, &ev)) == PIPELINE_EVENT) handle(&ev);
 *			if (r == PIPELINE_ERROR) fail;
 *		}
 *	pipeline_eof(&p);
 *	while ((r = pipeline_next(&p, &ev)) == PIPELINE_EVENT) handle(&ev);
 *	r == PIPELINE_END: the dump came whole; PIPELINE_ERROR: pipeline_failure()
 *
 * A failure is a code with its position (struct pipeline_failure); the
 * callers word their own messages from it.
 *
 * A front door whose bytes are SQL already (the PostgreSQL protocol's
 * Query text and CopyData) sets plain_only: nothing is decompressed, and
 * it may write its bytes straight into the room (pipeline_room,
 * pipeline_fed) instead of feeding a copy.
 */
#ifndef PGSLUICE_PIPELINE_H
#define PGSLUICE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "decoder.h"
#include "lexer.h"
#include "rules.h"

/* plain bytes the ratio bound lets pass before the first statement, */
#define PIPELINE_RATIO_SLACK (1024.0 * 1024)
/* ... and in all after it */
#define PIPELINE_RATIO_ALLOWANCE (64.0 * 1024 * 1024)

struct pipeline_config {
	struct rules *rules;  /* the verdicts; caller-owned, NULL: every event forwarded */
	size_t max_statement; /* the lexer's bound; 0: its default */
	int server_version;   /* the lexer's server_version_num; 0: the newest */
	size_t plain_cap;     /* decoded bytes handed to the lexer at once */
	size_t max_meta_line; /* bytes of a psql meta-command line; 0: no limit */
	double max_ratio;     /* plain / compressed bytes (gzip, zstd, lz4); 0: none */
	int ends_at_trailer;  /* a dump: nothing may follow its trailer, and its end
	                        * needs one */
	int plain_only;       /* the input is SQL as it is: never decompressed (a
	                        * Query text that starts 1f 8b stays text) */
	/*
	 * A statement the caller answers itself (a wire client's BEGIN and
	 * COMMIT): 1 with *v set, and the rules are skipped for it; 0: the
	 * rules judge it.  NULL: every statement goes to the rules.
	 */
	int (*own_statement)(void *arg, const struct lexer_event *ev, struct rules_verdict *v);
	void *arg; /* own_statement's */
};

enum pipeline_error {
	PIPELINE_OK = 0,
	PIPELINE_ERR_DECODE,         /* corrupt compressed input (detail: the decoder's) */
	PIPELINE_ERR_BOMB,           /* over max_ratio before the first statement */
	PIPELINE_ERR_RATIO,          /* over max_ratio after it */
	PIPELINE_ERR_LEX,            /* the lexer refused the SQL (detail: the lexer's) */
	PIPELINE_ERR_META_LONG,      /* a meta-command line over max_meta_line */
	PIPELINE_ERR_AFTER_TRAILER,  /* a statement after the dump's trailer */
	PIPELINE_ERR_CUT_COMPRESSED, /* the input ended inside a compressed member or
	                              * frame (detail: the decoder's) */
	PIPELINE_ERR_CUT,            /* it ended inside a statement, COPY data or a
	                              * quote (detail: the lexer's) */
	PIPELINE_ERR_NO_TRAILER,     /* it ended between statements, without the trailer */
	PIPELINE_ERR_NO_MEMORY,
};

struct pipeline_failure {
	enum pipeline_error code;
	uint64_t line;      /* the input line: the statement's, the meta-command's
	                     * first, or where the next byte would be */
	uint64_t statement; /* statements seen so far (AFTER_TRAILER: with it) */
	int trailer;        /* the trailer had been seen */
	char where[200];    /* lexer_describe at the end of the input, set once
	                     * pipeline_eof's end is checked (whatever came of it) */
	char detail[256];   /* the decoder's or the lexer's own message, or "" */
};

struct pipeline_event {
	struct lexer_event ev;
	/* STATEMENT and META: the rules' verdict (FORWARD of ev's text with no rules) */
	struct rules_verdict v;
	int in_copy;        /* STATEMENT: it opens COPY data (lexer_in_copy) */
	uint64_t statement; /* STATEMENT: its number */
};

enum pipeline_result {
	PIPELINE_ERROR = -1, /* see pipeline_failure(); nothing more is accepted */
	PIPELINE_MORE = 0,   /* the fed input is used up: feed more, or pipeline_eof */
	PIPELINE_EVENT = 1,  /* *ev is filled in */
	PIPELINE_END = 2,    /* after pipeline_eof: the stream ended cleanly */
};

struct pipeline {
	struct pipeline_config cfg;
	struct decoder dec; /* read-only for callers: in_total, out_total, kind */
	struct lexer lx;    /* read-only for callers (line, copy_rows, lexer_in_copy),
	                     * but for lexer_trim between events */
	char *plain;
	size_t plain_start, plain_end; /* decoded bytes not yet lexed */
	size_t ev_used;                /* plain bytes of the event handed out last */
	int ev_out;                    /* an event was handed out and not yet passed */
	int last_nl;                   /* the last decoded byte was a newline */
	int trailer;                   /* the dump's trailer was seen */
	int ended;                     /* pipeline_ended: the caller's word for the end */
	int eof, finished, done;       /* pipeline_eof; decoder_finish ran; END returned */
	uint64_t statements;           /* statements and rewritten meta-commands */
	struct pipeline_failure fail;
};

/*
 * Set up p for one stream (cfg is copied).  Returns 0, or -1 when out of
 * memory (p is then safe to pipeline_free).
 */
int pipeline_init(struct pipeline *p, const struct pipeline_config *cfg);
void pipeline_free(struct pipeline *p);

/*
 * The rules and the lexer's server version, for a caller that learns them
 * only after its first bytes were fed (a session asks its target, after
 * its look at the dump's start).  Call before the first pipeline_next.
 */
void pipeline_set_rules(struct pipeline *p, struct rules *rules, int server_version);

/*
 * Decode in[0..len) (compressed or plain, told apart by the first bytes;
 * plain_only: copied as it is) into the pipeline's room; *used says how
 * much was taken, which is less than len when the room filled: take the
 * events (pipeline_next), then feed the rest.  Call it only after
 * pipeline_next said PIPELINE_MORE (as often as there is input and room),
 * or before the first pipeline_next.  Returns 0, or -1 on a failure
 * (PIPELINE_ERR_DECODE, _BOMB, _RATIO).
 */
int pipeline_feed(struct pipeline *p, const void *in, size_t len, size_t *used);

/*
 * The room pipeline_feed would fill now: *cap bytes at the pointer
 * returned (0 when it is full or the pipeline failed).  A plain_only
 * caller may write its bytes there itself and pass them with pipeline_fed
 * (the same calling rule as pipeline_feed).
 */
char *pipeline_room(struct pipeline *p, size_t *cap);
void pipeline_fed(struct pipeline *p, size_t n);

/*
 * The stream ends here by the caller's word (a wire client's COMMIT, with
 * no trailer needed): a statement after it is PIPELINE_ERR_AFTER_TRAILER,
 * as after a dump's trailer, and pipeline_complete counts it as one.
 */
void pipeline_ended(struct pipeline *p);

/*
 * The next event.  ev (its data, the verdict's text) is valid until the
 * next pipeline_next or pipeline_feed; a caller that cannot take the
 * event now keeps it and calls pipeline_next once it has.
 */
enum pipeline_result pipeline_next(struct pipeline *p, struct pipeline_event *ev);

/* No more input: the next pipeline_next calls check the end. */
void pipeline_eof(struct pipeline *p);

/*
 * 1 when a dump's stream may end here: its trailer was seen (or
 * pipeline_ended), every fed byte is lexed and the compressed stream, if
 * any, is between frames.
 */
int pipeline_complete(const struct pipeline *p);

/* 1 when decoded bytes wait to be lexed, or the decoder holds some. */
int pipeline_pending(const struct pipeline *p);

/* The decoded bytes not yet lexed, for a look before the first event. */
const char *pipeline_plain(const struct pipeline *p, size_t *len);

/* The failure after PIPELINE_ERROR or a -1 (code PIPELINE_OK before). */
const struct pipeline_failure *pipeline_failure(const struct pipeline *p);

/* The last input line that has been read in full: where a cut stream stops. */
uint64_t pipeline_last_line(const struct pipeline *p);

#endif
