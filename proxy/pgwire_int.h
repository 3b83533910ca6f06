/*
 * pgwire_int.h - what the files of the PostgreSQL wire-protocol front end
 * (pgwire.c, pgwire_reply.c, pgwire_start.c, pgwire_predump.c,
 * pgwire_stream.c, pgwire_after.c) share: the object and its phases, and
 * the functions one of them calls in another.  Not for other modules:
 * they use pgwire.h.
 *
 * The phases of the stream (enum pgwire_phase), from ReadyForQuery on:
 *
 *   READY      between messages: read the next one
 *   QUERY      a Query's text streams to the lexer (body_left bytes left)
 *   QTAIL1     the text is in: "\n" to the lexer (ends a -- comment, the
 *              line of a COPY ... FROM stdin;)
 *   QTAIL2     ";" if a statement without its ';' is still open
 *   QDONE      every statement is answered: ReadyForQuery, or copy-in
 *   COPY       between CopyData messages
 *   COPYDATA   a CopyData's bytes stream to the lexer
 *   FCALL      a FunctionCall (libpq's lo_open/lowrite/lo_close, as pg_restore
 *              restores large objects) streams to the lexer as the SELECT
 *              that does the same; its row is answered as FunctionCallResponse
 *   CTAIL      CopyDone: "\." to the lexer if the data did not end with it
 *   CDONE      the COPY's result is answered: ReadyForQuery
 *   ENDING     Terminate, or the COMMIT that ends the import: no more input
 *
 * Before the dump (pgwire_predump) the phase is READY, with the messages
 * answered there and never handed to the lexer.
 *   AFTER      the import has ended; pgwire_after_read answers
 */
#ifndef PGWIRE_INT_H
#define PGWIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pgwire.h"
#include "scram.h"
#include "text.h"

#define PGWIRE_SSL_CODE 80877103
#define PGWIRE_GSS_CODE 80877104
#define PGWIRE_CANCEL_CODE 80877102
#define PGWIRE_SUMMARY_MAX (16 * 1024)
#define PGWIRE_NOTICE_MAX 200 /* notices for dropped statements, then one line in the log */

enum pgwire_phase {
	PW_STARTUP,
	PW_AUTH,
	PW_WAITING,
	PW_READY,
	PW_QUERY,
	PW_QTAIL1,
	PW_QTAIL2,
	PW_QDONE,
	PW_COPY,
	PW_COPYDATA,
	PW_FCALL,
	PW_CTAIL,
	PW_CDONE,
	PW_ENDING,
	PW_AFTER,
};

struct pgwire {
	struct pgwire_config cfg;
	enum pgwire_phase phase;
	int in_tls;
	char **params; /* name, value, name, value, ..., NULL */
	int auth_step; /* 0: send the SASL request, 1: first, 2: final */
	struct scram sc;
	uint32_t key_pid, key_secret;
	struct textbuf mb; /* the message being built */
	char error[1024];
	int fatal;
	enum pgwire_refusal refusal; /* what pgwire_predump or the rule of -1 refused */

	/* the stream */
	uint64_t bytes;
	uint32_t body_left; /* QUERY / COPYDATA: body bytes still to read */
	int n_statements;   /* statements of the current Query answered or sent */
	int copy_active;    /* CopyInResponse sent, CopyDone/CopyFail not yet read */
	int copy_any;       /* the COPY had data */
	char copy_last;     /* its last byte */
	int depth;          /* the client's BEGINs open (the dump's own
	                            * BEGIN/COMMIT pairs nest inside psql -1's) */
	int wrap;           /* the outermost BEGIN came before any statement of the
	                            * dump: its COMMIT ends the import */
	int pre_failed;     /* before the dump: a refused query inside the BEGIN */
	int pre_pending;    /* the dump's first Query is not read yet */
	int in_recovery;    /* the target reported in_hot_standby = on */
	char *fcall;        /* FCALL: the SELECT a FunctionCall stands for */
	size_t fcall_len, fcall_off;
	int fcall_active; /* its result is a FunctionCallResponse */
	int data_seen;    /* a statement other than SET/set_config was forwarded */
	int wrap_commit;  /* the import ends at the client's COMMIT */
	int terminated;   /* Terminate came */
	int rolled_back;  /* the client sent ROLLBACK */
	int notices;      /* NoticeResponses for dropped statements so far */
	char *field[128]; /* the target's error fields, by code */
	int have_error;
	char summary[PGWIRE_SUMMARY_MAX];
	size_t summary_len;
	int summary_on;

	/* after the import */
	int committed;
	char *after_error;
	uint32_t skip;      /* body bytes to drain */
	int skip_copy;      /* drain CopyData until CopyDone/CopyFail */
	int skip_sync;      /* drain until Sync */
	int rfq_after_skip; /* ReadyForQuery once the skip is done */
};

/* pgwire_reply.c */
void pgwire_put(struct textbuf *b, const void *data, size_t len);
void pgwire_put32(struct textbuf *b, uint32_t v);
void pgwire_put16(struct textbuf *b, uint16_t v);
void pgwire_puts(struct textbuf *b, const char *s);
void pgwire_send(struct pgwire *w, struct evbuffer *out, char type);
uint32_t pgwire_get32(const unsigned char *p);
void pgwire_rfq(struct pgwire *w, struct evbuffer *out, char status);
char pgwire_status(const struct pgwire *w);
void pgwire_complete(struct pgwire *w, struct evbuffer *out, const char *tag);
void pgwire_report(struct pgwire *w, struct evbuffer *out, char type, const char *severity,
                   const char *code, const char *text, const char *detail, const char *hint,
                   const char *context);
void pgwire_notice(struct pgwire *w, struct evbuffer *out, const char *text);
int pgwire_fail(struct pgwire *w, int fatal, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* pgwire_start.c */
int pgwire_take(struct pgwire *w, struct evbuffer *in, char want, unsigned char **body,
                size_t *len);
void pgwire_single_message(struct pgwire *w, char *why, size_t size);

#endif
