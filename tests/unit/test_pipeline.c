/*
 * test_pipeline.c - the decoder -> lexer -> rules pipeline (proxy/pipeline.c):
 * a dump, plain and zstd-compressed, fed whole, split at every offset and
 * one byte at a time, into a roomy and a tiny buffer, gives the same events
 * and a clean end; every failure code comes with its position; the rules'
 * verdict rides on the events; a plain_only stream (a wire client's text)
 * is never decompressed, may be written in place, and ends by its caller's
 * word.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "cli.h"
#include "pipeline.h"
#include "t.h"

static const char dump[] = "--\n"
			   "-- PostgreSQL database dump\n"
			   "--\n"
			   "\n"
			   "SET statement_timeout = 0;\n"
			   "\\connect other\n"
			   "CREATE TABLE t (a int, b text);\n"
			   "COPY t (a, b) FROM stdin;\n"
			   "1\tone\n"
			   "2\ttwo;\n"
			   "\\.\n"
			   "BEGIN;\n"
			   "SELECT 'a;\nb';\n"
			   "--\n"
			   "-- PostgreSQL database dump complete\n"
			   "--\n"
			   "\n";

static const char *const type_name[] = { "?", "S", "D", "E", "M", "T" };

struct outcome {
	enum pipeline_result r;
	struct pipeline_failure f;
	uint64_t in_total, out_total;
	char sig[4096];
};

static void
sig_add(struct outcome *o, const struct pipeline_event *pe, int *last_data)
{
	const struct lexer_event *ev = &pe->ev;
	size_t n = strlen(o->sig);

	/* COPY data comes in pieces that follow the input's: join them */
	if (ev->type == LEXER_COPY_DATA && *last_data)
		snprintf(o->sig + n, sizeof(o->sig) - n, "%.*s", (int)ev->len, ev->data);
	else if (ev->type == LEXER_COPY_DATA)
		snprintf(o->sig + n, sizeof(o->sig) - n, "D:%.*s", (int)ev->len, ev->data);
	else
		snprintf(o->sig + n, sizeof(o->sig) - n, "|%s%llu:%d:%d:%llu:%.*s",
		         type_name[ev->type], (unsigned long long)ev->line, pe->v.action,
		         pe->in_copy, (unsigned long long)pe->statement, (int)pe->v.len,
		         pe->v.text);
	*last_data = ev->type == LEXER_COPY_DATA;
}

/*
 * Run in[0..len) through a pipeline: a first piece of cut bytes, then the
 * rest in pieces of step (0: at once), then the end.
 */
static void
run(const struct pipeline_config *cfg, const void *in_, size_t len, size_t cut, size_t step,
    struct outcome *o)
{
	const unsigned char *in = in_;
	struct pipeline p;
	struct pipeline_event ev;
	size_t off = 0, piece, used;
	int last_data = 0;

	memset(o, 0, sizeof(*o));
	if (pipeline_init(&p, cfg) < 0) {
		o->r = PIPELINE_ERROR;
		o->f = *pipeline_failure(&p);
		pipeline_free(&p);
		return;
	}
	while (off < len) {
		piece = off == 0 && cut > 0 ? cut : step > 0 ? step : len - off;
		if (piece > len - off)
			piece = len - off;
		while (piece > 0) {
			if (pipeline_feed(&p, in + off, piece, &used) < 0)
				goto out;
			off += used;
			piece -= used;
			while ((o->r = pipeline_next(&p, &ev)) == PIPELINE_EVENT)
				sig_add(o, &ev, &last_data);
			if (o->r == PIPELINE_ERROR)
				goto out;
		}
	}
	pipeline_eof(&p);
	while ((o->r = pipeline_next(&p, &ev)) == PIPELINE_EVENT)
		sig_add(o, &ev, &last_data);
out:
	if (o->r != PIPELINE_ERROR && pipeline_failure(&p)->code != PIPELINE_OK)
		o->r = PIPELINE_ERROR;
	o->f = *pipeline_failure(&p);
	o->in_total = p.dec.in_total;
	o->out_total = p.dec.out_total;
	pipeline_free(&p);
}

static size_t
zstd_of(const void *src, size_t len, unsigned char **dst)
{
	size_t cap = ZSTD_compressBound(len), n;

	*dst = malloc(cap);
	if (*dst == NULL)
		return 0;
	n = ZSTD_compress(*dst, cap, src, len, 3);
	return ZSTD_isError(n) ? 0 : n;
}

static struct pipeline_config
config(size_t cap)
{
	struct pipeline_config c;

	memset(&c, 0, sizeof(c));
	c.plain_cap = cap;
	c.ends_at_trailer = 1;
	return c;
}

/* Whole, at every split, byte by byte: the same events, and the end. */
static void
test_splits(const char *name, const void *in, size_t len)
{
	static const size_t caps[] = { 64 * 1024, 5 };
	struct outcome whole, o;
	struct pipeline_config c;
	size_t ci, cut, bad;

	for (ci = 0; ci < 2; ci++) {
		c = config(caps[ci]);
		run(&c, in, len, 0, 0, &whole);
		T_OK(whole.r == PIPELINE_END && whole.out_total == sizeof(dump) - 1,
		     "%s, room %zu: the whole dump ends cleanly (%d, code %d)", name, caps[ci],
		     whole.r, whole.f.code);
		for (cut = 1, bad = 0; cut < len; cut++) {
			run(&c, in, len, cut, 0, &o);
			if (o.r != PIPELINE_END || strcmp(o.sig, whole.sig) != 0)
				bad = bad ? bad : cut;
		}
		T_OK(bad == 0,
		     "%s, room %zu: split at every offset, the same events (first bad: %zu)", name,
		     caps[ci], bad);
		run(&c, in, len, 0, 1, &o);
		T_OK(o.r == PIPELINE_END && strcmp(o.sig, whole.sig) == 0,
		     "%s, room %zu: one byte at a time, the same events", name, caps[ci]);
	}
	T_OK(strstr(whole.sig, "|S5:0:0:1:SET statement_timeout = 0;") != NULL &&
	             strstr(whole.sig, "|M6:0:0:0:\\connect other") != NULL &&
	             strstr(whole.sig,
	                    "|S8:0:1:3:COPY t (a, b) FROM stdin;D:1\tone\n2\ttwo;\n|E") != NULL &&
	             strstr(whole.sig, "|S13:0:0:5:SELECT 'a;\nb';|T") != NULL,
	     "%s: statements, meta-command, COPY data, trailer, as expected", name);
}

/* The rules' verdict comes with each statement. */
static void
test_rules(void)
{
	struct cli_rules cr;
	struct rules rules;
	struct pipeline_config c = config(0);
	struct outcome o;

	cli_rules_init(&cr);
	rules_init(&rules, &cr.opt);
	c.rules = &rules;
	run(&c, dump, sizeof(dump) - 1, 0, 0, &o);
	T_OK(o.r == PIPELINE_END && strstr(o.sig, "|S12:1:0:4:") != NULL,
	     "with the rules, BEGIN is dropped (single transaction)");
	rules_free(&rules);
}

static void
expect(const char *what, const struct outcome *o, enum pipeline_error code, uint64_t line)
{
	T_OK(o->r == PIPELINE_ERROR && o->f.code == code && o->f.line == line,
	     "%s: code %d (want %d), line %llu (want %llu); where \"%s\", detail \"%s\"", what,
	     o->f.code, code, (unsigned long long)o->f.line, (unsigned long long)line, o->f.where,
	     o->f.detail);
}

/* Each failure code, and where it is. */
static void
test_errors(void)
{
	static char text[8192];
	struct pipeline_config c = config(0);
	struct outcome o;
	unsigned char *z = NULL, *big;
	size_t n, zn, cut;
	const char *tail = strstr(dump, "--\n-- PostgreSQL database dump complete");
	const size_t head = (size_t)(tail - dump);

	/* cut between statements: no trailer */
	run(&c, dump, head, 0, 0, &o);
	expect("cut before the trailer", &o, PIPELINE_ERR_NO_TRAILER, 15);
	T_OK(o.f.trailer == 0 && o.f.statement == 5, "... 5 statements, no trailer");

	/* cut inside a statement and inside a COPY row */
	n = (size_t)(strstr(dump, "'a;") - dump) + 3;
	run(&c, dump, n, 0, 0, &o);
	expect("cut inside a string", &o, PIPELINE_ERR_CUT, 13);
	T_OK(strstr(o.f.where, "line 13") != NULL, "... with where it stopped: %s", o.f.where);
	n = (size_t)(strstr(dump, "2\ttwo") - dump) + 3;
	run(&c, dump, n, 0, 0, &o);
	expect("cut inside a COPY row", &o, PIPELINE_ERR_CUT, 10);

	/* a statement after the trailer */
	snprintf(text, sizeof(text), "%sSELECT 1;\n", dump);
	run(&c, text, strlen(text), 0, 0, &o);
	expect("a statement after the trailer", &o, PIPELINE_ERR_AFTER_TRAILER, 19);
	T_OK(o.f.statement == 6 && o.f.trailer, "... statement 6, after the trailer");
	c.ends_at_trailer = 0;
	run(&c, text, strlen(text), 0, 0, &o);
	T_OK(o.r == PIPELINE_END, "not a dump (ends_at_trailer 0): statements may follow it");
	run(&c, dump, head, 0, 0, &o);
	T_OK(o.r == PIPELINE_END, "not a dump: no trailer needed");
	c.ends_at_trailer = 1;

	/* the lexer's own limit */
	c.max_statement = 16;
	run(&c, dump, sizeof(dump) - 1, 0, 0, &o);
	expect("a statement over max_statement", &o, PIPELINE_ERR_LEX, 5);
	c.max_statement = 0;

	/* meta-command lines: a whole one, and one still open */
	c.max_meta_line = 10;
	run(&c, dump, sizeof(dump) - 1, 0, 0, &o);
	expect("a meta-command over max_meta_line", &o, PIPELINE_ERR_META_LONG, 6);
	memset(text, 0, sizeof(text));
	memcpy(text, "\\connect ", 9);
	memset(text + 9, 'x', 100);
	run(&c, text, strlen(text), 0, 7, &o);
	expect("an open meta-command over max_meta_line", &o, PIPELINE_ERR_META_LONG, 1);
	c.max_meta_line = 0;

	/* compressed: cut inside the frame, before and after the trailer */
	zn = zstd_of(dump, sizeof(dump) - 1, &z);
	T_OK(zn > 0, "zstd of the dump: %zu bytes", zn);
	run(&c, z, zn - 3, 0, 0, &o);
	T_OK(o.r == PIPELINE_ERROR &&
	             (o.f.code == PIPELINE_ERR_CUT_COMPRESSED || o.f.code == PIPELINE_ERR_DECODE),
	     "zstd cut in its last block: code %d: %s", o.f.code, o.f.detail);
	free(z);
	snprintf(text, sizeof(text), "%s", dump);
	n = strlen(text);
	memset(text + n, '\n', 4000);
	zn = zstd_of(text, n + 4000, &z);
	{
		unsigned char *both = malloc(zn * 2);
		size_t dn;
		unsigned char *zd = NULL;

		dn = zstd_of(dump, sizeof(dump) - 1, &zd);
		memcpy(both, zd, dn);
		memcpy(both + dn, z, zn);
		run(&c, both, dn + zn / 2, 0, 0, &o);
		expect("a second zstd frame cut short, after the trailer", &o,
		       PIPELINE_ERR_CUT_COMPRESSED, o.f.line);
		T_OK(o.f.trailer && o.f.detail[0] != '\0', "... the trailer was seen: %s",
		     o.f.detail);
		for (cut = 1; cut < dn; cut++) {
			run(&c, both, cut, 0, 0, &o);
			if (o.r != PIPELINE_ERROR || o.f.code != PIPELINE_ERR_CUT_COMPRESSED)
				break;
		}
		T_OK(cut == dn, "a zstd dump cut at any offset is CUT_COMPRESSED (first not: %zu)",
		     cut);
		free(both);
		free(zd);
	}
	free(z);

	/* corrupt compressed input */
	memcpy(text, "\x28\xb5\x2f\xfd garbage garbage", 20);
	run(&c, text, 20, 0, 0, &o);
	expect("corrupt zstd", &o, PIPELINE_ERR_DECODE, 1);

	/* the ratio bound: before the first statement, and after it */
	c.max_ratio = 10;
	n = 8 * 1024 * 1024;
	big = malloc(n);
	memset(big, '\n', n);
	zn = zstd_of(big, n, &z);
	run(&c, z, zn, 0, 0, &o);
	expect("a zstd bomb before any statement", &o, PIPELINE_ERR_BOMB, o.f.line);
	T_OK(o.out_total <= 10 * o.in_total + PIPELINE_RATIO_SLACK + 128 * 1024,
	     "... stopped after %llu plain bytes", (unsigned long long)o.out_total);
	free(z);
	free(big);
	n = 80 * 1024 * 1024;
	big = malloc(n);
	memset(big, '\n', n);
	memcpy(big, "SELECT 1;\n", 10);
	zn = zstd_of(big, n, &z);
	run(&c, z, zn, 0, 0, &o);
	expect("a zstd bomb after a statement", &o, PIPELINE_ERR_RATIO, o.f.line);
	T_OK(o.f.statement == 1 && o.out_total > PIPELINE_RATIO_ALLOWANCE && o.out_total < n,
	     "... after statement 1, at %llu plain bytes", (unsigned long long)o.out_total);
	c.max_ratio = 0;
	run(&c, z, zn, 0, 0, &o);
	T_OK(o.r == PIPELINE_ERROR && o.f.code == PIPELINE_ERR_NO_TRAILER,
	     "max_ratio 0: no bound (code %d)", o.f.code);
	free(z);
	free(big);
}

/* A dump's stream may end once its trailer is in and everything is lexed. */
static void
test_complete(void)
{
	struct pipeline_config c = config(0);
	struct pipeline p;
	struct pipeline_event ev;
	size_t used, n = sizeof(dump) - 1, plen;
	int complete_before;

	T_OK(pipeline_init(&p, &c) == 0, "pipeline_init");
	T_OK(pipeline_feed(&p, dump, 10, &used) == 0 && used == 10, "feed 10 bytes");
	T_OK(pipeline_plain(&p, &plen) != NULL && plen == 10 && pipeline_pending(&p),
	     "the decoded bytes can be looked at before the lexer: %zu", plen);
	while (pipeline_next(&p, &ev) == PIPELINE_EVENT)
		;
	complete_before = pipeline_complete(&p);
	T_OK(pipeline_feed(&p, dump + 10, n - 10, &used) == 0 && used == n - 10, "feed the rest");
	while (pipeline_next(&p, &ev) == PIPELINE_EVENT)
		;
	T_OK(!complete_before && pipeline_complete(&p) && !pipeline_pending(&p),
	     "complete after the trailer, not before");
	T_OK(pipeline_last_line(&p) == 18, "the last whole line: %llu",
	     (unsigned long long)pipeline_last_line(&p));
	pipeline_eof(&p);
	T_OK(pipeline_next(&p, &ev) == PIPELINE_END && pipeline_next(&p, &ev) == PIPELINE_END,
	     "then the end, and the end again");
	pipeline_free(&p);
}

/* The caller's own statements: BEGIN skips the rules. */
static int
own_begin(void *arg, const struct lexer_event *ev, struct rules_verdict *v)
{
	int *calls = arg;

	(*calls)++;
	if (ev->len < 5 || memcmp(ev->data, "BEGIN", 5) != 0)
		return 0;
	memset(v, 0, sizeof(*v));
	v->action = RULES_FORWARD;
	v->text = ev->data;
	v->len = ev->len;
	return 1;
}

/*
 * plain_only: text that starts with gzip's magic stays text; bytes written
 * into the room count as fed; own_statement skips the rules; after
 * pipeline_ended a statement is refused, and no trailer is needed.
 */
static void
test_plain_only(void)
{
	static const char gz_text[] = "\x1f\x8b;\nBEGIN;\nSELECT 1;\n";
	struct cli_rules cr;
	struct rules rules;
	struct pipeline_config c = config(0);
	struct pipeline p;
	struct pipeline_event ev;
	size_t used, cap;
	char *room;
	int calls = 0, n = 0, begin_kept = 0;
	enum pipeline_result r;

	c.plain_only = 1;
	c.ends_at_trailer = 0;
	c.own_statement = own_begin;
	c.arg = &calls;
	cli_rules_init(&cr);
	rules_init(&rules, &cr.opt);
	T_OK(pipeline_init(&p, &c) == 0, "pipeline_init (plain_only)");
	pipeline_set_rules(&p, &rules, 170000);
	T_OK(p.lx.server_version_num == 170000, "the lexer's server version is set");
	T_OK(pipeline_feed(&p, gz_text, sizeof(gz_text) - 1, &used) == 0 &&
	             used == sizeof(gz_text) - 1,
	     "feed: copied as it is");
	while ((r = pipeline_next(&p, &ev)) == PIPELINE_EVENT) {
		if (n == 0)
			T_OK(ev.ev.type == LEXER_STATEMENT && ev.ev.len == 3 &&
			             (unsigned char)ev.ev.data[0] == 0x1f,
			     "the 1f 8b text is a statement, not a gzip stream");
		if (ev.ev.type == LEXER_STATEMENT && memcmp(ev.ev.data, "BEGIN", 5) == 0)
			begin_kept = ev.v.action == RULES_FORWARD;
		n++;
	}
	T_OK(r == PIPELINE_MORE && n == 3 && calls == 3 && begin_kept,
	     "3 statements, each offered to own_statement; BEGIN forwarded past the rules "
	     "(which drop it): r %d, %d events, %d calls",
	     r, n, calls);
	T_OK(!decoder_compressed(&p.dec) && p.dec.in_total == 0, "the decoder never ran");
	room = pipeline_room(&p, &cap);
	T_OK(room != NULL && cap == 128 * 1024, "the room is free: %zu bytes", cap);
	memcpy(room, "COMMIT;\n", 8);
	pipeline_fed(&p, 8);
	T_OK(pipeline_next(&p, &ev) == PIPELINE_EVENT && ev.ev.type == LEXER_STATEMENT &&
	             ev.statement == 4,
	     "bytes written into the room are lexed");
	pipeline_ended(&p);
	T_OK(pipeline_next(&p, &ev) == PIPELINE_MORE && pipeline_complete(&p),
	     "complete after pipeline_ended, with no trailer");
	room = pipeline_room(&p, &cap);
	memcpy(room, "SELECT 2;\n", 10);
	pipeline_fed(&p, 10);
	T_OK(pipeline_next(&p, &ev) == PIPELINE_ERROR &&
	             pipeline_failure(&p)->code == PIPELINE_ERR_AFTER_TRAILER &&
	             pipeline_failure(&p)->line == 5 && pipeline_failure(&p)->statement == 5,
	     "a statement after pipeline_ended: AFTER_TRAILER at line %llu",
	     (unsigned long long)pipeline_failure(&p)->line);
	pipeline_free(&p);

	/* without pipeline_ended, a plain_only stream with no trailer ends cleanly */
	c.own_statement = NULL;
	T_OK(pipeline_init(&p, &c) == 0, "pipeline_init (plain_only, again)");
	T_OK(pipeline_feed(&p, "SELECT 1;\n", 10, &used) == 0 && used == 10, "feed");
	while (pipeline_next(&p, &ev) == PIPELINE_EVENT)
		;
	pipeline_eof(&p);
	T_OK(pipeline_next(&p, &ev) == PIPELINE_END && !pipeline_complete(&p),
	     "the end, with no trailer, not complete");
	pipeline_free(&p);
	rules_free(&rules);
}

int
main(void)
{
	unsigned char *z = NULL;
	size_t zn;

	test_splits("plain", dump, sizeof(dump) - 1);
	zn = zstd_of(dump, sizeof(dump) - 1, &z);
	test_splits("zstd", z, zn);
	free(z);
	test_rules();
	test_errors();
	test_complete();
	test_plain_only();
	T_DONE();
}
