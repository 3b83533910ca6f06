/*
 * session_steps.c - the import's own steps on the target: the preflight,
 * each target event and result (session_on_target, session_on_result),
 * the step after each one (session_step_done), the role, Synapse, objects
 * and audit steps, the target check, and the start of the stream (its
 * sink: sink.h).
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

/* The audit's answer before COMMIT. */
static void
session_audit_result(struct session *s, const PGresult *res)
{
	char msg[2048];

	switch (audit_compare(&s->audit, res, msg, sizeof(msg))) {
	case 0:
		s->audited = 1;
		return;
	case 1:
		session_fail(s,
		             "the dump changed the target role or database, which an import must "
		             "leave alone (its own functions, triggers or defaults run with the "
		             "role's rights):\n%s%s",
		             msg, s->in_txn ? "" : s->sink->committed_note);
		return;
	default:
		session_fail(s, "%s", msg);
		return;
	}
}

/* Preflight: the target role's standing and the audit's snapshot (one script). */
static void
session_role_start(struct session *s)
{
	char *sql;
	size_t n = strlen(preflight_sql_role()) + strlen(audit_sql()) + 4;

	session_set_state(s, SESSION_ROLE);
	s->role_results = 0;
	sql = malloc(n);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		return;
	}
	snprintf(sql, n, "%s;\n%s", preflight_sql_role(), audit_sql());
	session_send(s, sql);
	free(sql);
}

/* One result of the ROLE step: the role's standing, then the snapshot. */
static void
session_role_result(struct session *s, const PGresult *res)
{
	char err[256];
	int r;

	if (s->role_results++ == 0)
		r = preflight_role_load(&s->role, res, err, sizeof(err));
	else
		r = audit_snapshot(&s->audit, res, err, sizeof(err));
	if (r < 0)
		session_fail(s, "%s", err);
}

/* The ROLE step is in: refuse a superuser target, or warn.  -1: failed. */
static int
session_role_done(struct session *s)
{
	char msg[768], *srv;

	if (s->srv.set || !s->audit.taken) {
		srv = pgerr_text(&s->srv);
		session_fail(s, "cannot read the target role's standing: %s", srv ? srv : "?");
		free(srv);
		return -1;
	}
	switch (preflight_role_judge(&s->role, PQuser(s->target.conn),
	                             s->cfg->allow_superuser_target, msg, sizeof(msg))) {
	case PREFLIGHT_ROLE_REFUSE:
		session_fail(s, "%s", msg);
		return -1;
	case PREFLIGHT_ROLE_SUPER_OK:
		s->super_allowed = 1;
		snprintf(s->super_allowed_user, sizeof(s->super_allowed_user), "%s",
		         PQuser(s->target.conn));
		session_say(s, LOG_LEVEL_WARN, "warning: %s", msg);
		return 0;
	case PREFLIGHT_ROLE_WARN:
		session_say(s, LOG_LEVEL_WARN, "warning: %s", msg);
		return 0;
	case PREFLIGHT_ROLE_OK:
		return 0;
	}
	return 0;
}

/*
 * Preflight 2b (SYNAPSE): the next Synapse query, or its verdict.  Returns
 * 1 when a query is in flight, -1 when the import failed, 0 to go on.
 */
static int
session_synapse_step(struct session *s)
{
	char err[256], msg[1536], *sql, *srv;
	int r;

	if (s->srv.set) {
		srv = pgerr_text(&s->srv);
		session_fail(s,
		             "cannot read the target's Synapse schema version: %s\n  (pgsluice "
		             "serve --no-synapse skips the Synapse checks)",
		             srv ? srv : "?");
		free(srv);
		return -1;
	}
	r = synapse_preflight_next(&s->syn, s->target.conn, &sql, err, sizeof(err));
	if (r < 0) {
		session_fail(s, "%s", err);
		return -1;
	}
	if (r > 0) {
		r = session_send(s, sql);
		free(sql);
		return r < 0 ? -1 : 1;
	}
	if (synapse_preflight_verdict(&s->syn, msg, sizeof(msg)) < 0) {
		session_fail(s, "%s", msg);
		return -1;
	}
	if (synapse_target_line(&s->syn, msg, sizeof(msg)))
		session_say(s, LOG_LEVEL_INFO, "%s", msg);
	return 0;
}

void
session_start_stream(struct session *s)
{
	struct timeval tv, alive = { 0, SESSION_ALIVE_MS * 1000 };

	s->ropt = s->cfg->rules->opt;
	s->ropt.target_version = PQserverVersion(s->target.conn);
	s->ropt.known_setting = preflight_setting_known;
	s->ropt.known_arg = &s->settings;
	/* one transaction on this connection: the tables the dump creates take COPY FREEZE */
	s->ropt.copy_freeze = s->ropt.single_transaction && s->sink->copy_freeze;
	rules_init(&s->rules, &s->ropt);
	s->rules_live = 1;
	pipeline_set_rules(&s->pipe, &s->rules, s->ropt.target_version);
	report_init(&s->rep);
	session_set_state(s, SESSION_STREAM);
	if (!s->cfg->quiet && s->cfg->progress_interval > 0) {
		tv.tv_sec = (time_t)s->cfg->progress_interval;
		tv.tv_usec = (suseconds_t)((s->cfg->progress_interval - (double)tv.tv_sec) * 1e6);
		s->ev_progress = event_new(s->cfg->base, -1, EV_PERSIST, session_on_progress, s);
		if (s->ev_progress != NULL)
			event_add(s->ev_progress, &tv);
	}
	s->ev_alive = event_new(s->cfg->base, -1, EV_PERSIST, session_on_alive, s);
	if (s->ev_alive != NULL)
		event_add(s->ev_alive, &alive);
	if (s->front->bulk_reads)
		client_bulk_start(&s->cl);
	if (!s->cl.bulk)
		bufferevent_enable(s->cl.bev, EV_READ);
	session_pump(s);
}

/* Preflight 3 is in: cleared, or clear it, or refuse. */
static void
session_after_objects(struct session *s)
{
	const struct preflight_object *fo;
	char *counts, *list, *drops, *sql;
	size_t n;

	counts = preflight_objects_counts(&s->objects);
	s->target_tables = preflight_objects_tables(&s->objects);
	if (s->objects.n > 0 && !s->cfg->clear_target) {
		list = preflight_objects_list(&s->objects, PREFLIGHT_LIST_MAX, "  ");
		session_fail(s,
		             "the target is not empty: schema%s %s of database %s hold%s %zu "
		             "object%s (%s)\n%s"
		             "  to drop them inside the import's transaction, start pgsluice serve "
		             "with --clear-target (pgsluice check shows what it would drop)",
		             s->cfg->n_schemas > 1 ? "s" : "", s->cfg->schemas[0], s->dbname,
		             s->cfg->n_schemas > 1 ? "" : "s", s->objects.n,
		             s->objects.n == 1 ? "" : "s", counts ? counts : "?", list ? list : "");
		free(list);
		free(counts);
		return;
	}
	if (s->objects.n > 0 && (fo = preflight_objects_foreign(&s->objects)) != NULL) {
		session_fail(s,
		             "--clear-target cannot drop %s %s: it is owned by %s, and pgsluice "
		             "connects as %s; drop it as its owner or a superuser first",
		             fo->kind, fo->ident, fo->owner, PQuser(s->target.conn));
		free(counts);
		return;
	}
	drops = s->objects.n > 0 ? preflight_drop_sql(&s->objects) : strdup("");
	if (drops == NULL) {
		free(counts);
		session_fail(s, "out of memory building the --clear-target statements");
		return;
	}
	if (s->objects.n > 0) {
		s->cleared = counts;
		counts = NULL;
		log_info(s->who, "--clear-target: dropping %s", s->cleared);
		report_phase_begin(&s->rep, REPORT_PHASE_CLEAR);
	}
	free(counts);
	if (s->cfg->jobs > 1 && s->front->may_jobs) {
		free(drops);
		sink_start_jobs(s);
		return;
	}
	if (!s->cfg->rules->opt.single_transaction && s->objects.n == 0) {
		free(drops);
		session_start_stream(s);
		return;
	}
	n = strlen(drops) + 16;
	sql = malloc(n);
	if (sql == NULL) {
		free(drops);
		session_fail(s, "out of memory building the --clear-target statements");
		return;
	}
	snprintf(sql, n, "%s%s", s->cfg->rules->opt.single_transaction ? "BEGIN;\n" : "", drops);
	free(drops);
	session_set_state(s, SESSION_BEGIN);
	if (s->objects.n > 0)
		s->sent_any = 1;
	session_send(s, sql);
	free(sql);
}

/*
 * A dump statement ran without error: is the target where the import
 * thinks it is?  Its transaction must still be open (single transaction),
 * and its standard_conforming_strings must be what the lexer reads the
 * rest of the dump with.  0: yes; -1: the import failed, telling the truth.
 */
static int
session_check_target(struct session *s)
{
	PGTransactionStatusType ts = PQtransactionStatus(s->target.conn);
	const char *scs = PQparameterStatus(s->target.conn, "standard_conforming_strings");

	if (s->in_txn && ts != PQTRANS_INTRANS) {
		s->in_txn = 0; /* nothing of ours is open any more: no ROLLBACK */
		s->txn_lost = 1;
		session_fail_stmt(
			s,
			"statement %llu at line %llu ended the import's transaction (the "
			"target answered %s and says %s): an import runs in one transaction "
			"that only pgsluice ends\n  statement: %s",
			(unsigned long long)s->cur_no, (unsigned long long)s->cur_line,
			s->cur_tag[0] ? s->cur_tag : "?",
			ts == PQTRANS_IDLE ? "no transaction is open after it"
					   : "its state is not usable after it",
			s->cur_excerpt);
		return -1;
	}
	if (scs != NULL && (strcmp(scs, "on") == 0) != (lexer_standard_strings(&s->pipe.lx) != 0)) {
		session_fail_stmt(
			s,
			"statement %llu at line %llu left standard_conforming_strings %s on "
			"the target, but pgsluice reads the dump after it with it %s: the server "
			"would split the rest differently; the import is refused\n  statement: %s",
			(unsigned long long)s->cur_no, (unsigned long long)s->cur_line, scs,
			lexer_standard_strings(&s->pipe.lx) ? "on" : "off", s->cur_excerpt);
		return -1;
	}
	return 0;
}

/* What the target holds after a dump statement ended the import's transaction. */
const char *
session_txn_lost_state(const struct session *s)
{
	if (strncmp(s->cur_tag, "ROLLBACK", 8) == 0)
		return "the target rolled the import back at that statement: it is as it was before "
		       "the import (nothing after that statement ran)";
	if (strcmp(s->cur_tag, "COMMIT") == 0)
		return "what the import did up to that statement is COMMITTED: the target holds a "
		       "partial import (nothing after that statement ran)";
	if (strcmp(s->cur_tag, "PREPARE TRANSACTION") == 0)
		return "the import up to that statement is a PREPARED transaction on the target, "
		       "holding its locks: pg_prepared_xacts lists it, ROLLBACK PREPARED undoes it";
	return "what the import did up to that statement may be committed: look at the target "
	       "before sending the dump again";
}

/* A command of ours finished (TARGET_EV_IDLE). */
static void
session_step_done(struct session *s)
{
	char *sql, err[256], *srv;

	if (s->error != NULL) {
		session_wind_down(s);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK:
		if (s->srv.set) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "the preflight query on the target failed: %s",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		if (!s->locked) {
			session_fail(s,
			             "another import into %s is running (the import lock on the "
			             "database is held by another session, e.g. another pgsluice); "
			             "try again when it has finished",
			             s->dbname);
			return;
		}
		session_set_state(s, SESSION_SETTINGS);
		session_send(s, preflight_sql_settings());
		return;
	case SESSION_SETTINGS:
		if (s->srv.set || s->settings.names == NULL) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "cannot read pg_settings on the target: %s",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_role_start(s);
		return;
	case SESSION_ROLE:
		if (session_role_done(s) < 0)
			return;
		session_set_state(s, SESSION_SYNAPSE);
		/* fall through */
	case SESSION_SYNAPSE:
		if (session_synapse_step(s) != 0)
			return; /* a query is in flight, or the import failed */
		session_set_state(s, SESSION_OBJECTS);
		sql = preflight_sql_objects(s->target.conn, s->cfg->schemas, s->cfg->n_schemas, err,
		                            sizeof(err));
		if (sql == NULL) {
			session_fail(s, "%s", err);
			return;
		}
		session_send(s, sql);
		free(sql);
		return;
	case SESSION_OBJECTS:
		if (s->srv.set) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "cannot list the objects in the target schemas: %s",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_after_objects(s);
		return;
	case SESSION_BEGIN:
		if (s->srv.set) {
			char note[sizeof(s->lw.blocker) + 200];

			srv = pgerr_text(&s->srv);
			session_lock_note(s, note, sizeof(note));
			session_fail(s, "%s on the target failed: %s%s",
			             s->cleared ? "clearing the target schemas (--clear-target)"
			                        : "BEGIN",
			             srv ? srv : "?", note);
			free(srv);
			return;
		}
		s->in_txn = s->cfg->rules->opt.single_transaction;
		if (s->cleared)
			session_say(s, LOG_LEVEL_INFO, "cleared (--clear-target): dropped %s%s",
			            s->cleared,
			            s->in_txn ? " inside the import's transaction" : "");
		session_start_stream(s);
		return;
	case SESSION_STREAM:
		if (s->srv.set) {
			session_fail_statement(s);
			return;
		}
		if (s->sink->check_target && session_check_target(s) < 0)
			return;
		if (s->cur_is_copy && s->rep.in_copy) {
			/* a COPY statement that ended without data: cannot happen */
			session_fail_stmt(
				s, "statement %llu at line %llu: the target did not start the COPY",
				(unsigned long long)s->cur_no, (unsigned long long)s->cur_line);
			return;
		}
		session_pump(s);
		return;
	case SESSION_VERIFY:
		if (s->srv.set) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "%s failed: %s",
			             s->analyze_step == 1
			                     ? "ANALYZE of the imported tables (--no-analyze "
			                       "skips it)"
			                     : "verification query",
			             srv ? srv : "?");
			free(srv);
			return;
		}
		session_verify_next(s);
		return;
	case SESSION_FINISH:
		if (s->srv.set && s->finish_commit) {
			srv = pgerr_text(&s->srv);
			session_fail(s, "COMMIT failed: %s", srv ? srv : "?");
			free(srv);
		} else if (s->finish_commit) {
			s->committed = 1;
		} else if (s->srv.set) {
			s->sink->end_failed(s);
		}
		s->in_txn = 0;
		session_wind_down(s);
		return;
	case SESSION_UNLOCK:
		s->locked = 0;
		target_close(&s->target);
		session_report(s);
		return;
	default:
		return;
	}
}

static void
session_on_result(struct session *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	char err[256];
	const char *tag;

	if (s->state == SESSION_STREAM && s->error == NULL)
		s->front->server_result(s, res);
	if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
		pgerr_save(&s->srv, res);
		return;
	}
	switch (s->state) {
	case SESSION_LOCK: {
		struct preflight_lock l;

		if (st == PGRES_COMMAND_OK)
			return; /* SET lock_timeout */
		if (preflight_lock_load(&l, res, err, sizeof(err)) < 0) {
			session_fail(s, "%s", err);
			return;
		}
		s->locked = l.locked;
		snprintf(s->dbname, sizeof(s->dbname), "%s", l.dbname);
		return;
	}
	case SESSION_SETTINGS:
		preflight_settings_free(&s->settings);
		if (preflight_settings_load(&s->settings, res) < 0)
			log_warn(s->who,
			         "cannot read pg_settings' names; the unknown-setting rule uses "
			         "its built-in table");
		return;
	case SESSION_OBJECTS:
		preflight_objects_free(&s->objects);
		if (preflight_objects_load(&s->objects, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_STREAM:
		tag = PQcmdStatus(res);
		snprintf(s->cur_tag, sizeof(s->cur_tag), "%s", tag);
		if (s->cur_is_copy && strncmp(tag, "COPY", 4) == 0) {
			char verr[512];
			uint64_t rows = strtoull(PQcmdTuples(res), NULL, 10);

			report_copy_done(&s->rep, rows);
			if (verify_copy_result(&s->ver, s->rep.copy_table, rows, verr,
			                       sizeof(verr)) < 0)
				session_fail(s, "%s", verr);
		}
		return;
	case SESSION_ROLE:
		session_role_result(s, res);
		return;
	case SESSION_SYNAPSE:
		if (synapse_preflight_result(&s->syn, res, err, sizeof(err)) < 0)
			session_fail(s, "%s", err);
		return;
	case SESSION_VERIFY: {
		char verr[1024];

		if (s->auditing) {
			session_audit_result(s, res);
			return;
		}
		if (s->analyze_step == 1)
			return; /* ANALYZE */
		if (verify_result(&s->ver, res, verr, sizeof(verr)) < 0)
			session_fail(s, "%s", verr);
		return;
	}
	case SESSION_UNLOCK:
		verify_size_result(&s->ver, res);
		return;
	default:
		return;
	}
}

/* Preflight 1: the import lock, with --lock-timeout for the whole session. */
void
session_preflight_start(struct session *s)
{
	/* standard_conforming_strings as the lexer begins to read the dump */
	static const char scs_on[] = "SET standard_conforming_strings = on;\n";
	char *sql = malloc(strlen(preflight_sql_lock()) + sizeof(s->lock_set) + sizeof(scs_on) + 2);

	session_set_state(s, SESSION_LOCK);
	if (sql == NULL) {
		session_fail(s, "out of memory");
		return;
	}
	/* the dump's own SET lock_timeout is rewritten */
	sprintf(sql, "%s\n%s%s", s->lock_set, scs_on, preflight_sql_lock());
	session_send(s, sql);
	free(sql);
}

void
session_on_target(void *arg, enum target_event ev, PGresult *res)
{
	struct session *s = arg;

	switch (ev) {
	case TARGET_EV_CONNECTED:
		snprintf(s->dbname, sizeof(s->dbname), "%s", PQdb(s->target.conn));
		log_info(s->who, "connected to the target: database %s, user %s, server %d",
		         PQdb(s->target.conn), PQuser(s->target.conn),
		         PQserverVersion(s->target.conn));
		if (s->error != NULL) {
			session_wind_down(s);
			return;
		}
		if (s->state == SESSION_PREDUMP) {
			/* a wire client: its startup is answered; the dump decides the rest */
			s->front->connected(s);
			session_predump(s);
			return;
		}
		session_preflight_start(s);
		return;
	case TARGET_EV_RESULT:
		session_on_result(s, res);
		return;
	case TARGET_EV_IDLE:
		session_step_done(s);
		return;
	case TARGET_EV_COPY:
		s->copy_open = 1;
		if (s->error == NULL)
			s->front->copy_in(s);
		if (s->error != NULL)
			session_wind_down(s);
		else
			session_pump(s);
		return;
	case TARGET_EV_DRAINED:
		if (s->error != NULL)
			session_wind_down(s);
		else if (s->state == SESSION_STREAM)
			session_pump(s);
		return;
	case TARGET_EV_FAILED:
		if (s->state == SESSION_FINISH && s->finish_commit && s->in_txn)
			s->commit_unknown = 1;
		if (s->state == SESSION_CONNECT)
			session_fail(s,
			             "%s\n  check --target, that the server runs, and its "
			             "pg_hba.conf",
			             target_error(&s->target));
		else
			session_fail(s, "%s", target_error(&s->target));
		return;
	}
}
