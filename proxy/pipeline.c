/*
 * pipeline.c - one dump stream: decoder -> lexer -> rules, and the limits
 * on the stream as a whole (see pipeline.h).
 *
 * The decoded bytes wait in plain[plain_start..plain_end) for the lexer.
 * An event handed out may point into them, so the bytes it used are passed
 * over only when the next event is asked for, and the room is reused only
 * once everything in it is lexed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

#define PIPELINE_DEFAULT_CAP (128 * 1024)

static int
pipeline_set_fail(struct pipeline *p, enum pipeline_error code, uint64_t line, const char *detail)
{
	p->fail.code = code;
	p->fail.line = line;
	p->fail.statement = p->statements;
	p->fail.trailer = p->trailer;
	snprintf(p->fail.detail, sizeof(p->fail.detail), "%s", detail ? detail : "");
	return -1;
}

int
pipeline_init(struct pipeline *p, const struct pipeline_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	if (p->cfg.plain_cap == 0)
		p->cfg.plain_cap = PIPELINE_DEFAULT_CAP;
	decoder_init(&p->dec);
	lexer_init(&p->lx, p->cfg.max_statement);
	p->lx.server_version_num = p->cfg.server_version;
	p->plain = malloc(p->cfg.plain_cap);
	if (p->plain == NULL)
		return pipeline_set_fail(p, PIPELINE_ERR_NO_MEMORY, 0, NULL);
	return 0;
}

void
pipeline_free(struct pipeline *p)
{
	decoder_free(&p->dec);
	lexer_free(&p->lx);
	free(p->plain);
	p->plain = NULL;
}

/*
 * The ratio bound, over the whole stream: the plain bytes may not pass
 * max_ratio x the compressed bytes + an allowance.  Before the first
 * statement the allowance is PIPELINE_RATIO_SLACK: a dump's first statement
 * comes in its first few hundred bytes, so a bomb of zeros (about 1000:1 in
 * gzip, far more in zstd) is stopped after a few MB.  After it,
 * PIPELINE_RATIO_ALLOWANCE: the bytes that pass freely before the ratio
 * counts (a dump's repetitive first tables), so that a bomb later in the
 * stream (blank lines or comments, which the lexer skips without holding
 * them; rows of COPY data) is stopped too.
 */
static int
pipeline_check_ratio(struct pipeline *p)
{
	double allowance = p->statements > 0 ? PIPELINE_RATIO_ALLOWANCE : PIPELINE_RATIO_SLACK;

	if (p->cfg.max_ratio <= 0 || !decoder_compressed(&p->dec))
		return 0;
	if ((double)p->dec.out_total <= p->cfg.max_ratio * (double)p->dec.in_total + allowance)
		return 0;
	return pipeline_set_fail(p, p->statements > 0 ? PIPELINE_ERR_RATIO : PIPELINE_ERR_BOMB,
	                         p->lx.line, NULL);
}

/* Decode in[0..len) into the room after plain_end. */
static int
pipeline_decode(struct pipeline *p, const unsigned char *in, size_t len, size_t *used)
{
	size_t u, produced;
	int r;

	*used = 0;
	while (p->plain_end < p->cfg.plain_cap) {
		if (len == 0 && !decoder_pending(&p->dec))
			break;
		r = decoder_run(&p->dec, in, len, &u, p->plain + p->plain_end,
		                p->cfg.plain_cap - p->plain_end, &produced);
		in += u;
		len -= u;
		*used += u;
		p->plain_end += produced;
		if (r < 0)
			return pipeline_set_fail(p, PIPELINE_ERR_DECODE, p->lx.line,
			                         decoder_error(&p->dec));
		if (pipeline_check_ratio(p) < 0)
			return -1;
		if (u == 0 && produced == 0)
			break;
	}
	if (p->plain_end > 0)
		p->last_nl = p->plain[p->plain_end - 1] == '\n';
	return 0;
}

void
pipeline_set_rules(struct pipeline *p, struct rules *rules, int server_version)
{
	p->cfg.rules = rules;
	p->cfg.server_version = server_version;
	p->lx.server_version_num = server_version;
}

char *
pipeline_room(struct pipeline *p, size_t *cap)
{
	if (!p->ev_out && p->plain_start == p->plain_end)
		p->plain_start = p->plain_end = 0;
	*cap = p->fail.code != PIPELINE_OK ? 0 : p->cfg.plain_cap - p->plain_end;
	return p->plain + p->plain_end;
}

void
pipeline_fed(struct pipeline *p, size_t n)
{
	p->plain_end += n;
	if (n > 0)
		p->last_nl = p->plain[p->plain_end - 1] == '\n';
}

int
pipeline_feed(struct pipeline *p, const void *in, size_t len, size_t *used)
{
	size_t cap;
	char *room = pipeline_room(p, &cap);

	*used = 0;
	if (p->fail.code != PIPELINE_OK)
		return -1;
	if (!p->cfg.plain_only)
		return pipeline_decode(p, in, len, used);
	*used = len < cap ? len : cap;
	memcpy(room, in, *used);
	pipeline_fed(p, *used);
	return 0;
}

/* --max-meta-line for an event (ev) or the meta-command still open (NULL). */
static int
pipeline_check_meta(struct pipeline *p, const struct lexer_event *ev)
{
	uint64_t len;

	if (p->cfg.max_meta_line == 0)
		return 0;
	if (ev != NULL)
		len = ev->type == LEXER_META ? ev->len : 0;
	else
		len = lexer_meta_len(&p->lx);
	if (len <= p->cfg.max_meta_line)
		return 0;
	return pipeline_set_fail(p, PIPELINE_ERR_META_LONG, p->lx.st_line, NULL);
}

/* Fill in the rest of out for the lexer event in out->ev; -1: failed. */
static int
pipeline_verdict(struct pipeline *p, struct pipeline_event *out)
{
	const struct lexer_event *ev = &out->ev;

	out->in_copy = 0;
	out->statement = 0;
	memset(&out->v, 0, sizeof(out->v));
	out->v.action = RULES_FORWARD;
	out->v.text = ev->data;
	out->v.len = ev->len;
	switch (ev->type) {
	case LEXER_STATEMENT:
		out->statement = ++p->statements;
		if (p->ended || (p->trailer && p->cfg.ends_at_trailer))
			return pipeline_set_fail(p, PIPELINE_ERR_AFTER_TRAILER, ev->line, NULL);
		out->in_copy = lexer_in_copy(&p->lx);
		if (p->cfg.own_statement != NULL && p->cfg.own_statement(p->cfg.arg, ev, &out->v))
			break;
		if (p->cfg.rules != NULL)
			rules_apply(p->cfg.rules, ev, &out->v);
		break;
	case LEXER_META:
		if (p->cfg.rules != NULL)
			rules_apply(p->cfg.rules, ev, &out->v);
		if (out->v.action == RULES_REWRITE)
			p->statements++;
		break;
	case LEXER_TRAILER:
		p->trailer = 1;
		break;
	case LEXER_COPY_DATA:
	case LEXER_COPY_END:
		break;
	}
	return 0;
}

/* End of input, everything lexed: the decoder's end, the lexer's, the trailer. */
static enum pipeline_result
pipeline_end(struct pipeline *p, struct pipeline_event *out)
{
	int r;

	if (!p->finished) {
		p->finished = 1;
		lexer_describe(&p->lx, p->fail.where, sizeof(p->fail.where));
		if (decoder_finish(&p->dec) < 0) {
			pipeline_set_fail(p, PIPELINE_ERR_CUT_COMPRESSED, p->lx.line,
			                  decoder_error(&p->dec));
			return PIPELINE_ERROR;
		}
	}
	r = lexer_finish(&p->lx, &out->ev);
	if (r == LEXER_EVENT) {
		p->ev_used = 0;
		p->ev_out = 1;
		return pipeline_verdict(p, out) < 0 ? PIPELINE_ERROR : PIPELINE_EVENT;
	}
	if (r == LEXER_ERROR) {
		pipeline_set_fail(p, PIPELINE_ERR_CUT, p->lx.line, lexer_error(&p->lx));
		return PIPELINE_ERROR;
	}
	if (p->cfg.ends_at_trailer && !p->trailer && !p->ended) {
		pipeline_set_fail(p, PIPELINE_ERR_NO_TRAILER, p->lx.line, NULL);
		return PIPELINE_ERROR;
	}
	p->done = 1;
	return PIPELINE_END;
}

enum pipeline_result
pipeline_next(struct pipeline *p, struct pipeline_event *out)
{
	static const unsigned char none;
	size_t used;
	int r;

	if (p->fail.code != PIPELINE_OK)
		return PIPELINE_ERROR;
	if (p->done)
		return PIPELINE_END;
	if (p->ev_out) {
		p->plain_start += p->ev_used;
		p->ev_out = 0;
	}
	for (;;) {
		if (p->plain_start == p->plain_end) {
			p->plain_start = p->plain_end = 0;
			if (decoder_pending(&p->dec)) {
				if (pipeline_decode(p, &none, 0, &used) < 0)
					return PIPELINE_ERROR;
				if (p->plain_end > 0)
					continue;
			}
			if (p->eof)
				return pipeline_end(p, out);
			return PIPELINE_MORE;
		}
		r = lexer_scan(&p->lx, p->plain + p->plain_start, p->plain_end - p->plain_start,
		               &used, &out->ev);
		if (r == LEXER_EVENT) {
			if (pipeline_check_meta(p, &out->ev) < 0)
				return PIPELINE_ERROR;
			p->ev_used = used;
			p->ev_out = 1;
			return pipeline_verdict(p, out) < 0 ? PIPELINE_ERROR : PIPELINE_EVENT;
		}
		if (r == LEXER_ERROR) {
			pipeline_set_fail(p, PIPELINE_ERR_LEX, p->lx.line, lexer_error(&p->lx));
			return PIPELINE_ERROR;
		}
		if (pipeline_check_meta(p, NULL) < 0)
			return PIPELINE_ERROR;
		p->plain_start += used;
	}
}

void
pipeline_eof(struct pipeline *p)
{
	p->eof = 1;
}

void
pipeline_ended(struct pipeline *p)
{
	p->ended = 1;
}

int
pipeline_complete(const struct pipeline *p)
{
	return (p->trailer || p->ended) && !p->ev_out && p->plain_start == p->plain_end &&
	       decoder_clean_end(&p->dec);
}

int
pipeline_pending(const struct pipeline *p)
{
	return p->plain_start + (p->ev_out ? p->ev_used : 0) < p->plain_end ||
	       decoder_pending(&p->dec);
}

const char *
pipeline_plain(const struct pipeline *p, size_t *len)
{
	*len = p->plain_end - p->plain_start;
	return p->plain + p->plain_start;
}

const struct pipeline_failure *
pipeline_failure(const struct pipeline *p)
{
	return &p->fail;
}

uint64_t
pipeline_last_line(const struct pipeline *p)
{
	return p->lx.line > 1 && p->last_nl ? p->lx.line - 1 : p->lx.line;
}
