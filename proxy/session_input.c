/*
 * session_input.c - a session's input: the client's bytes through the
 * decoder into plain[] (refilled when used up), the --max-gzip-ratio and
 * meta-command checks, and the next lexer event (session_next_event),
 * with the end of the input and its truncation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "analyze.h"
#include "audit.h"
#include "auth.h"
#include "classify.h"
#include "client.h"
#include "decoder.h"
#include "dumpstart.h"
#include "jsonout.h"
#include "jobs.h"
#include "lexer.h"
#include "lockwatch.h"
#include "log.h"
#include "metrics.h"
#include "pgerr.h"
#include "pgwire.h"
#include "preflight.h"
#include "progwatch.h"
#include "report.h"
#include "rules.h"
#include "session.h"
#include "session_int.h"
#include "sqltok.h"
#include "synapse.h"
#include "target.h"
#include "text.h"
#include "tls.h"
#include "verify.h"

/*
 * --max-gzip-ratio (gzip, zstd and lz4 alike), over the whole stream: the
 * plain bytes may not pass ratio x compressed bytes + an allowance.
 * Before the first statement the allowance is SESSION_GZIP_SLACK: a
 * dump's first statement comes in its first few hundred bytes, so a bomb
 * of zeros (about 1000:1 in gzip, far more in zstd) is stopped after a few
 * MB.  After it, SESSION_GZIP_ALLOWANCE: the bytes that pass freely before
 * the ratio counts (a dump's repetitive first tables), so that a bomb
 * later in the stream (blank lines or comments, which the lexer skips
 * without holding them; rows of COPY data) is stopped too.  -1: failed.
 */
static int
session_check_ratio(struct session *s)
{
	double ratio = s->cfg->max_gzip_ratio;
	double allowance = s->rep.statements > 0 ? SESSION_GZIP_ALLOWANCE : SESSION_GZIP_SLACK;

	if (ratio <= 0 || !decoder_compressed(&s->dec))
		return 0;
	if ((double)s->dec.out_total <= ratio * (double)s->dec.in_total + allowance)
		return 0;
	if (s->rep.statements > 0)
		session_fail(
			s,
			"the compressed input inflates more than %g times: %llu compressed "
			"bytes gave %llu bytes by line %llu (%s %s bomb? a dump compresses far "
			"less; --max-gzip-ratio %g, 0: no limit)",
			ratio, (unsigned long long)s->dec.in_total,
			(unsigned long long)s->dec.out_total, (unsigned long long)s->lx.line,
			s->dec.kind == DECODER_LZ4 ? "an" : "a", decoder_format_name(s->dec.kind),
			ratio);
	else
		session_fail(s,
		             "the input is not a dump: %llu compressed bytes inflate to more than "
		             "%llu bytes without a single complete SQL statement (%s %s bomb? "
		             "--max-gzip-ratio %g)",
		             (unsigned long long)s->dec.in_total,
		             (unsigned long long)s->dec.out_total,
		             s->dec.kind == DECODER_LZ4 ? "an" : "a",
		             decoder_format_name(s->dec.kind), ratio);
	return -1;
}

/* --max-meta-line: a psql meta-command line (\connect ...) is short.  -1: failed. */
static int
session_check_meta(struct session *s, const struct lexer_event *ev)
{
	uint64_t len;

	if (s->cfg->max_meta_line == 0)
		return 0;
	if (ev != NULL)
		len = ev->type == LEXER_META ? ev->len : 0;
	else
		len = lexer_meta_len(&s->lx);
	if (len <= s->cfg->max_meta_line)
		return 0;
	session_fail(s,
	             "the psql meta-command that begins at line %llu is longer than %zu "
	             "bytes (--max-meta-line); pg_dump's are one short line",
	             (unsigned long long)s->lx.st_line, s->cfg->max_meta_line);
	return -1;
}

/* Decode client input into plain[], after what it holds.  -1: failed. */
int
session_decode(struct session *s)
{
	struct evbuffer *in = client_in(&s->cl);
	struct evbuffer_iovec v;
	size_t used, produced;
	int r, from_raw, tried = 0;

	while (s->plain_end < SESSION_PLAIN_CAP) {
		from_raw = evbuffer_get_length(in) == 0;
		if (!from_raw) {
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
				break;
		} else {
			v.iov_base = (void *)client_bulk_data(&s->cl, &v.iov_len);
			if (v.iov_len == 0 && !tried) {
				tried = 1; /* one read per refill */
				client_bulk_read(&s->cl);
				v.iov_base = (void *)client_bulk_data(&s->cl, &v.iov_len);
			}
			/* no bytes left: only what the inflater holds (decoder_pending) */
			if (v.iov_len == 0 && !decoder_pending(&s->dec))
				break;
		}
		r = decoder_run(&s->dec, v.iov_base, v.iov_len, &used, s->plain + s->plain_end,
		                SESSION_PLAIN_CAP - s->plain_end, &produced);
		if (from_raw)
			client_bulk_used(&s->cl, used);
		else
			evbuffer_drain(in, used);
		s->plain_end += produced;
		if (r < 0) {
			session_fail(s, "the input is not a valid dump: %s (after %llu bytes)",
			             decoder_error(&s->dec), (unsigned long long)s->dec.in_total);
			return -1;
		}
		if (session_check_ratio(s) < 0)
			return -1;
		if (used == 0 && produced == 0)
			break;
	}
	if (s->plain_end > 0)
		s->last_nl = s->plain[s->plain_end - 1] == '\n';
	s->rep.bytes_in = s->dec.in_total;
	s->rep.bytes_plain = s->dec.out_total;
	s->rep.compression = decoder_compressed(&s->dec) ? decoder_format_name(s->dec.kind) : NULL;
	return 0;
}

/* Decode client input into plain[] (which is used up).  -1: failed. */
int
session_refill(struct session *s)
{
	return s->front->refill(s);
}

/*
 * Take the next lexer event into s->ev.  Returns 1 with an event, 0 when
 * more input is needed (or the input ended cleanly after the trailer), -1
 * when the import failed.
 */
int
session_next_event(struct session *s)
{
	size_t used;
	int r;

	for (;;) {
		if (s->lexer_done)
			return 0;
		if (s->input_done) {
			r = lexer_finish(&s->lx, &s->ev);
			if (r == LEXER_EVENT) {
				s->ev_used = 0;
				s->ev_pending = 1;
				return 1;
			}
			s->lexer_done = 1;
			if (s->trailer)
				return 0;
			s->front->truncated(s, s->eof_where, NULL);
			return -1;
		}
		if (s->plain_start == s->plain_end) {
			if (session_refill(s) < 0)
				return -1;
			if (s->plain_start == s->plain_end) {
				if (!s->cl.eof || (s->trailer && decoder_clean_end(&s->dec)))
					return 0;
				/* end of input: is it a clean end? */
				lexer_describe(&s->lx, s->eof_where, sizeof(s->eof_where));
				s->input_done = 1;
				if (decoder_finish(&s->dec) < 0) {
					if (s->trailer)
						session_fail(
							s,
							"the dump's SQL came whole, up to pg_dump's last "
							"line, but the input ended inside the compressed "
							"stream, before its end and checksum: %s; send the "
							"whole dump again",
							decoder_error(&s->dec));
					else
						s->front->truncated(s, s->eof_where,
						                    decoder_error(&s->dec));
					return -1;
				}
				continue;
			}
		}
		r = lexer_scan(&s->lx, s->plain + s->plain_start, s->plain_end - s->plain_start,
		               &used, &s->ev);
		if (r == LEXER_EVENT) {
			if (session_check_meta(s, &s->ev) < 0)
				return -1;
			s->ev_used = used;
			s->ev_pending = 1;
			return 1;
		}
		if (r == LEXER_ERROR) {
			session_fail(s, "the dump cannot be read at line %llu: %s",
			             (unsigned long long)s->lx.line, lexer_error(&s->lx));
			return -1;
		}
		if (session_check_meta(s, NULL) < 0)
			return -1;
		s->plain_start += used;
	}
}
