/*
 * test_target.c - target_put_copy and target_end_copy (proxy/target.c)
 * when libpq cannot take everything: no byte of COPY data is sent twice,
 * none is lost, and "not now" comes only when TARGET_EV_DRAINED will.
 *
 * libpq's buffer is full only when it cannot grow it, which a test cannot
 * make a real connection do at a chosen call.  So this program defines
 * the few libpq functions those two calls use (PQputCopyData,
 * PQputCopyEnd, PQflush, PQstatus, PQisBusy, PQerrorMessage): the
 * executable's definitions come before libpq's.  PQputCopyData records
 * the bytes it takes and answers 0 ("would block") at the calls the test
 * picks.
 */
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "t.h"
#include "target.h"

static struct {
	unsigned char *sent; /* every byte PQputCopyData took, in order */
	size_t len, cap;
	int calls;       /* PQputCopyData calls so far */
	int block_at[8]; /* calls (1-based) that answer 0 */
	int fail_at;     /* a call that answers -1 */
	int pending;     /* PQflush: 1 while unsent bytes are "held" */
	int end_block;   /* PQputCopyEnd answers 0 this many times */
	int ends;        /* PQputCopyEnd calls that queued the end */
} lp;

int
PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
	int i;

	(void)conn;
	lp.calls++;
	if (lp.calls == lp.fail_at)
		return -1;
	for (i = 0; i < 8; i++)
		if (lp.block_at[i] == lp.calls)
			return 0;
	if (lp.len + (size_t)nbytes > lp.cap) {
		lp.cap = (lp.len + (size_t)nbytes) * 2;
		lp.sent = realloc(lp.sent, lp.cap);
		if (lp.sent == NULL)
			abort();
	}
	memcpy(lp.sent + lp.len, buffer, (size_t)nbytes);
	lp.len += (size_t)nbytes;
	return 1;
}

int
PQputCopyEnd(PGconn *conn, const char *errormsg)
{
	(void)conn;
	(void)errormsg;
	if (lp.end_block > 0) {
		lp.end_block--;
		return 0;
	}
	lp.ends++;
	return 1;
}

int
PQflush(PGconn *conn)
{
	(void)conn;
	return lp.pending;
}

ConnStatusType
PQstatus(const PGconn *conn)
{
	(void)conn;
	return CONNECTION_OK;
}

int
PQisBusy(PGconn *conn)
{
	(void)conn;
	return 1;
}

char *
PQerrorMessage(const PGconn *conn)
{
	(void)conn;
	return (char *)"";
}

static void
on_event(void *arg, enum target_event ev, PGresult *res)
{
	(void)arg;
	(void)ev;
	(void)res;
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

#define PIECE (200 * 1024) /* five of target.c's 48 KiB chunks */

static struct event_base *base;
static int pipefd[2];

/* A target in COPY_IN over the stubs (the events are never run). */
static void
copy_in(struct target *t)
{
	unsigned char *sent = lp.sent;
	size_t cap = lp.cap;

	memset(t, 0, sizeof(*t));
	memset(&lp, 0, sizeof(lp));
	lp.sent = sent;
	lp.cap = cap;
	t->base = base;
	t->conn = (PGconn *)&lp; /* never read: every libpq call here is a stub */
	t->state = TARGET_COPY_IN;
	t->fn = on_event;
	t->who = "test";
	t->ev_write = event_new(base, pipefd[1], EV_WRITE | EV_PERSIST, on_io, NULL);
	if (t->ev_write == NULL)
		abort();
}

static void
done(struct target *t)
{
	if (t->ev_write != NULL)
		event_free(t->ev_write);
	t->ev_write = NULL;
}

/* What TARGET_EV_DRAINED follows: libpq's buffer went out. */
static void
drained(struct target *t)
{
	lp.pending = 0;
	event_del(t->ev_write);
	t->flushing = 0;
}

int
main(void)
{
	struct target t;
	char *piece = malloc(PIECE), *other = malloc(PIECE);
	size_t i;
	int r, r2, tries;

	log_set_level(LOG_LEVEL_ERROR);
	base = event_base_new();
	if (piece == NULL || other == NULL || base == NULL || pipe(pipefd) != 0) {
		printf("not ok - set up\n");
		return 1;
	}
	for (i = 0; i < PIECE; i++)
		piece[i] = (char)(i * 7 + i / 251);
	memcpy(other, piece, PIECE);

	/* the third chunk would block: the first two are queued, and stay queued */
	copy_in(&t);
	lp.block_at[0] = 3;
	lp.pending = 1;
	r = target_put_copy(&t, piece, PIECE);
	T_OK(r == 0 && t.flushing && t.state == TARGET_COPY_IN && lp.len == 2 * 48 * 1024,
	     "a piece of 200 KiB whose third chunk would block: 0 (not now), two chunks "
	     "queued, waiting for the drain (r %d, %zu bytes, flushing %d)",
	     r, lp.len, t.flushing);
	drained(&t);
	r = target_put_copy(&t, piece, PIECE);
	T_OK(r == 1 && lp.len == PIECE && memcmp(lp.sent, piece, PIECE) == 0,
	     "called again with the same piece: 1, and libpq got every byte once, in order "
	     "(%zu bytes of %d)",
	     lp.len, PIECE);
	r = target_put_copy(&t, "x\n", 2);
	T_OK(r == 1 && lp.len == PIECE + 2 && memcmp(lp.sent + PIECE, "x\n", 2) == 0,
	     "the next piece goes on from there");
	done(&t);

	/* would-block at every other call: many retries, still each byte once */
	copy_in(&t);
	for (i = 0; i < 8; i++)
		lp.block_at[i] = (int)(2 * i + 1);
	lp.pending = 1;
	for (tries = 0; tries < 20; tries++) {
		r = target_put_copy(&t, piece, PIECE);
		if (r != 0)
			break;
		drained(&t);
		lp.pending = 1;
	}
	T_OK(r == 1 && tries == 5 && lp.len == PIECE && memcmp(lp.sent, piece, PIECE) == 0,
	     "would-block before each chunk: done after %d retries, every byte once (%zu bytes)",
	     tries, lp.len);
	done(&t);

	/* a would-block at the first chunk queues nothing */
	copy_in(&t);
	lp.block_at[0] = 1;
	lp.pending = 1;
	r = target_put_copy(&t, piece, 100);
	drained(&t);
	r2 = target_put_copy(&t, piece, 100);
	T_OK(r == 0 && r2 == 1 && lp.len == 100 && memcmp(lp.sent, piece, 100) == 0,
	     "a small piece refused whole, then taken: once (%d %d, %zu bytes)", r, r2, lp.len);
	done(&t);

	/* after a 0, another piece is a caller's error, not silently mixed data */
	copy_in(&t);
	lp.block_at[0] = 2;
	lp.pending = 1;
	r = target_put_copy(&t, piece, PIECE);
	drained(&t);
	r2 = target_put_copy(&t, other, PIECE);
	T_OK(r == 0 && r2 == -1 && t.state == TARGET_BROKEN && lp.len == 48 * 1024 &&
	             strstr(target_error(&t), "not the rest of that piece") != NULL,
	     "another piece after a 0: -1, the connection is given up (%s)", target_error(&t));
	done(&t);

	/* libpq refuses with nothing to flush: no drain would come, so fail now */
	copy_in(&t);
	lp.block_at[0] = 1;
	lp.pending = 0;
	r = target_put_copy(&t, piece, 100);
	T_OK(r == -1 && t.state == TARGET_BROKEN &&
	             strstr(target_error(&t), "out of memory") != NULL,
	     "a refusal with an empty output buffer: -1, not a wait that never ends (%s)",
	     target_error(&t));
	done(&t);

	/* the server ended the COPY: BUSY, the piece is forgotten */
	copy_in(&t);
	lp.fail_at = 2;
	r = target_put_copy(&t, piece, PIECE);
	T_OK(r == -1 && t.state == TARGET_BUSY && t.put_done == 0,
	     "PQputCopyData -1 on a live connection: -1, BUSY (its error follows as results)");
	done(&t);

	/* the end: not now, then done; a partial piece is dropped for it */
	copy_in(&t);
	lp.block_at[0] = 2;
	lp.pending = 1;
	r = target_put_copy(&t, piece, PIECE);
	drained(&t);
	lp.end_block = 1;
	lp.pending = 1;
	r = target_end_copy(&t, "aborted");
	T_OK(r == 0 && t.state == TARGET_COPY_IN && t.flushing && lp.ends == 0,
	     "target_end_copy when libpq cannot queue the end: 0, waiting for the drain");
	drained(&t);
	r = target_end_copy(&t, "aborted");
	T_OK(r == 1 && t.state == TARGET_BUSY && lp.ends == 1 && t.put_done == 0,
	     "called again: 1, the COPY's result follows (BUSY)");
	r = target_put_copy(&t, piece, 10);
	T_OK(r == -1 && lp.len == 48 * 1024, "no COPY data after the end: -1, nothing queued");
	done(&t);

	copy_in(&t);
	r = target_end_copy(&t, NULL);
	T_OK(r == 1 && t.state == TARGET_BUSY, "target_end_copy at once: 1 (BUSY)");
	done(&t);

	free(piece);
	free(other);
	free(lp.sent);
	close(pipefd[0]);
	close(pipefd[1]);
	event_base_free(base);
	T_DONE();
}
