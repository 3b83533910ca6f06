/*
 * metrics.c - /metrics and /healthz over evhttp (metrics.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "metrics.h"

#define METRICS_MAX_LABELS 64 /* distinct (rule, action) and failure reasons kept */

struct metrics_count {
	char a[64], b[64]; /* the labels' values */
	uint64_t n;
};

static struct {
	struct evhttp *http;
	metrics_live_fn live;
	void *arg;
	uint64_t started, committed, bytes_in, bytes_plain, rows, statements, auth_failures;
	struct metrics_count failed[METRICS_MAX_LABELS];  /* reason, sqlstate */
	struct metrics_count rules[METRICS_MAX_LABELS];   /* rule, action */
	struct metrics_count refused[METRICS_MAX_LABELS]; /* reason */
	struct metrics_count phase_secs[REPORT_PHASES];   /* seconds * 1000, by phase */
} metrics;

/* Add n to the count of (a, b) in table t; when t is full, to an "other" slot. */
static void
metrics_add(struct metrics_count *t, const char *a, const char *b, uint64_t n)
{
	int i;

	for (i = 0; i < METRICS_MAX_LABELS - 1; i++) {
		if (t[i].n == 0) {
			snprintf(t[i].a, sizeof(t[i].a), "%s", a);
			snprintf(t[i].b, sizeof(t[i].b), "%s", b);
			break;
		}
		if (strcmp(t[i].a, a) == 0 && strcmp(t[i].b, b) == 0)
			break;
	}
	if (i == METRICS_MAX_LABELS - 1) {
		snprintf(t[i].a, sizeof(t[i].a), "other");
		snprintf(t[i].b, sizeof(t[i].b), "other");
	}
	t[i].n += n;
}

void
metrics_import_started(void)
{
	metrics.started++;
}

void
metrics_import_ended(const struct jsonout_import *res)
{
	struct rules_stat st[RULES_MAX_STATS];
	int k, n;

	if (res->ok)
		metrics.committed++;
	else
		metrics_add(metrics.failed, res->sqlstate ? "statement" : "import",
		            res->sqlstate ? res->sqlstate : "", 1);
	metrics.bytes_in += res->rep->bytes_in;
	metrics.bytes_plain += res->rep->bytes_plain;
	metrics.rows += res->rep->rows;
	metrics.statements += res->rep->statements;
	for (k = 0; k < REPORT_PHASES; k++)
		if (res->rep->phase[k].seen)
			metrics.phase_secs[k].n += (uint64_t)(res->rep->phase[k].secs * 1000 + 0.5);
	if (res->rules != NULL) {
		n = rules_stats(res->rules, st, RULES_MAX_STATS);
		for (k = 0; k < n; k++)
			metrics_add(metrics.rules, st[k].rule, st[k].action, st[k].count);
	}
}

void
metrics_refused(const char *reason)
{
	metrics_add(metrics.refused, reason, "", 1);
}

void
metrics_auth_failed(void)
{
	metrics.auth_failures++;
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
metrics_label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
metrics_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_one(struct evbuffer *b, const char *name, const char *type, const char *help, uint64_t v)
{
	metrics_head(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void
metrics_table(struct evbuffer *b, const char *name, const char *help, const char *la,
              const char *lb, const struct metrics_count *t)
{
	int i;

	metrics_head(b, name, "counter", help);
	for (i = 0; i < METRICS_MAX_LABELS && t[i].n > 0; i++) {
		evbuffer_add_printf(b, "%s{%s=\"", name, la);
		metrics_label(b, t[i].a);
		if (lb != NULL) {
			evbuffer_add_printf(b, "\",%s=\"", lb);
			metrics_label(b, t[i].b);
		}
		evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)t[i].n);
	}
}

static void
metrics_live_part(struct evbuffer *b)
{
	const struct report *r = metrics.live ? metrics.live(metrics.arg) : NULL;
	int k;

	metrics_one(b, "pgsluice_import_running", "gauge", "1 while an import runs.", r != NULL);
	metrics_head(b, "pgsluice_import_phase", "gauge",
	             "The running import's phase (1), the others 0.");
	for (k = 0; k < REPORT_PHASES; k++)
		evbuffer_add_printf(b, "pgsluice_import_phase{phase=\"%s\"} %d\n",
		                    report_phase_name((enum report_phase)k),
		                    r != NULL && r->phase_now == k);
	metrics_one(b, "pgsluice_import_bytes_in", "gauge",
	            "Bytes the running import has received (as sent).", r ? r->bytes_in : 0);
	metrics_one(b, "pgsluice_import_rows", "gauge",
	            "COPY rows of the running import's finished tables.", r ? r->rows : 0);
	metrics_one(b, "pgsluice_import_statements", "gauge",
	            "Statements the running import has read.", r ? r->statements : 0);
	metrics_head(b, "pgsluice_import_seconds", "gauge", "How long the running import has run.");
	evbuffer_add_printf(b, "pgsluice_import_seconds %.3f\n", r ? report_elapsed(r) : 0.0);
	metrics_head(b, "pgsluice_statement_running_seconds", "gauge",
	             "The statement the running import waits for, and how long it has run.");
	if (r != NULL && r->running[0] != '\0') {
		evbuffer_add_printf(b, "pgsluice_statement_running_seconds{statement=\"");
		metrics_label(b, r->running);
		evbuffer_add_printf(b, "\"} %.3f\n", report_now() - r->running_since);
	}
}

static void
metrics_on_metrics(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	int k;
	(void)arg;

	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	metrics_one(b, "pgsluice_imports_started_total", "counter",
	            "Imports begun (a dump arrived).", metrics.started);
	metrics_one(b, "pgsluice_imports_committed_total", "counter", "Imports committed.",
	            metrics.committed);
	metrics_table(b, "pgsluice_imports_failed_total",
	              "Imports that failed: reason statement (the server refused a statement of "
	              "the dump, with its SQLSTATE) or import (pgsluice ended it).",
	              "reason", "sqlstate", metrics.failed);
	metrics_one(b, "pgsluice_bytes_in_total", "counter",
	            "Bytes received by finished imports, as sent (compressed or not).",
	            metrics.bytes_in);
	metrics_one(b, "pgsluice_bytes_plain_total", "counter",
	            "Bytes of SQL of finished imports, after decompression.", metrics.bytes_plain);
	metrics_one(b, "pgsluice_rows_in_total", "counter", "COPY rows of finished imports.",
	            metrics.rows);
	metrics_one(b, "pgsluice_statements_total", "counter",
	            "Statements read by finished imports.", metrics.statements);
	metrics_head(b, "pgsluice_phase_seconds_total", "counter",
	             "Wall time of finished imports in each phase.");
	for (k = 0; k < REPORT_PHASES; k++)
		evbuffer_add_printf(b, "pgsluice_phase_seconds_total{phase=\"%s\"} %.3f\n",
		                    report_phase_name((enum report_phase)k),
		                    (double)metrics.phase_secs[k].n / 1000);
	metrics_table(b, "pgsluice_rule_statements_total",
	              "Statements of finished imports that a rule dropped, rewrote or refused.",
	              "rule", "action", metrics.rules);
	metrics_table(b, "pgsluice_connections_refused_total",
	              "Connections refused before an import could begin, by reason.", "reason",
	              NULL, metrics.refused);
	metrics_one(b, "pgsluice_auth_failures_total", "counter", "AUTH lines with a wrong token.",
	            metrics.auth_failures);
	metrics_live_part(b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void
metrics_on_healthz(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	(void)arg;

	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evbuffer_add(b, "ok\n", 3);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void
metrics_on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, HTTP_NOTFOUND, "/metrics or /healthz");
}

int
metrics_start(struct event_base *base, const char *hostport, metrics_live_fn live, void *arg,
              char *err, size_t size)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	char *end;
	long port;
	size_t hl;

	if (colon == NULL || colon[1] == '\0') {
		snprintf(err, size, "--metrics-listen %s: want HOST:PORT, e.g. 127.0.0.1:9187",
		         hostport);
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	hl = (size_t)(colon - hostport);
	if (*end != '\0' || port < 1 || port > 65535 || hl >= sizeof(host)) {
		snprintf(err, size,
		         "--metrics-listen %s: want HOST:PORT with a port from 1 to 65535",
		         hostport);
		return -1;
	}
	if (hl >= 2 && hostport[0] == '[' && hostport[hl - 1] == ']') {
		memcpy(host, hostport + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		memcpy(host, hostport, hl);
		host[hl] = '\0';
	}
	metrics.http = evhttp_new(base);
	if (metrics.http == NULL) {
		snprintf(err, size, "--metrics-listen: cannot set up HTTP (libevent)");
		return -1;
	}
	evhttp_set_allowed_methods(metrics.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(metrics.http, 10);
	if (evhttp_set_cb(metrics.http, "/metrics", metrics_on_metrics, NULL) != 0 ||
	    evhttp_set_cb(metrics.http, "/healthz", metrics_on_healthz, NULL) != 0) {
		snprintf(err, size, "--metrics-listen: cannot set up HTTP (libevent)");
		metrics_stop();
		return -1;
	}
	evhttp_set_gencb(metrics.http, metrics_on_other, NULL);
	if (evhttp_bind_socket_with_handle(metrics.http, host[0] ? host : "0.0.0.0",
	                                   (ev_uint16_t)port) == NULL) {
		snprintf(err, size,
		         "--metrics-listen %s: cannot listen there (in use, or not an "
		         "address of this host?)",
		         hostport);
		metrics_stop();
		return -1;
	}
	metrics.live = live;
	metrics.arg = arg;
	return 0;
}

void
metrics_stop(void)
{
	if (metrics.http != NULL)
		evhttp_free(metrics.http);
	metrics.http = NULL;
	metrics.live = NULL;
}
