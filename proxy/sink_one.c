/*
 * sink_one.c - the sink (sink.h) of a session without --jobs: the dump
 * goes over the session's own target connection (target.h), in the one
 * transaction BEGIN opened (or autocommit with --no-single-transaction),
 * and the session's own steps do the rest: the check after each
 * statement, ANALYZE, COMMIT or ROLLBACK.
 */
#include <stddef.h>

#include "lexer.h"
#include "session_int.h"
#include "sink.h"
#include "target.h"

static int
sink_one_ready(struct session *s)
{
	return target_ready(&s->target);
}

/* COPY too: the target answers with CopyIn (TARGET_EV_COPY opens it). */
static int
sink_one_send(struct session *s, const char *sql, size_t len, int is_copy)
{
	(void)len;
	(void)is_copy;
	return session_send_as(s, sql, 1) < 0 ? -1 : 1;
}

static int
sink_one_copy_data(struct session *s, const char *data, size_t len)
{
	return target_put_copy(&s->target, data, len);
}

/* The COPY's tag (session_on_result) counts its rows. */
static int
sink_one_copy_end(struct session *s, const struct lexer_event *ev)
{
	int r;

	if (session_copy_ending(s, ev) < 0)
		return -1;
	r = target_end_copy(&s->target, NULL);
	if (r == 0)
		return 0;
	if (r < 0) {
		session_fail(s, "%s", target_error(&s->target));
		return -1;
	}
	s->copy_open = 0;
	session_stmt_timer(s); /* what the server still does with the data */
	return 1;
}

/* Everything ran in order on this connection: nothing waits. */
static int
sink_one_complete(struct session *s)
{
	(void)s;
	return 1;
}

/* The session's COMMIT or ROLLBACK is the ending. */
static int
sink_one_end(struct session *s)
{
	(void)s;
	return 1;
}

/* A failed ROLLBACK: the summary's end state says what the target holds. */
static void
sink_one_end_failed(struct session *s)
{
	(void)s;
}

static const char *
sink_one_end_state(const struct session *s)
{
	(void)s;
	return NULL;
}

static void
sink_one_destroy(struct session *s)
{
	(void)s;
}

const struct sink_ops sink_one = {
	.ready = sink_one_ready,
	.send = sink_one_send,
	.copy_data = sink_one_copy_data,
	.copy_end = sink_one_copy_end,
	.complete = sink_one_complete,
	.end = sink_one_end,
	.end_failed = sink_one_end_failed,
	.end_state = sink_one_end_state,
	.destroy = sink_one_destroy,
	.copy_freeze = 1,
	.check_target = 1,
	.analyze = 1,
	.committed_note = "\n  --no-single-transaction: every statement commits by itself, so "
			  "this change is committed: undo it by hand (its value before the "
			  "import is above)",
};
