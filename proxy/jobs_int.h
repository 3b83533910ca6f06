/*
 * jobs_int.h - what the files of the `--jobs` engine (jobs.c,
 * jobs_sched.c, jobs_conn.c, jobs_sql.c) share: struct jobs, its items,
 * tables and connections, and the functions one of them calls in another.
 * Not for other modules: they use jobs.h.
 */
#ifndef JOBS_INT_H
#define JOBS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "jobs.h"
#include "target.h"
#include "text.h"

#define JOBS_BATCH (4 * 1024 * 1024) /* a batch is cut at the last line end before this */
#define JOBS_PUT (256 * 1024)        /* COPY data handed to libpq at once */
#define JOBS_EXCERPT 160
#define JOBS_TERMINATE_MS 10000 /* pg_terminate_backend(pid, timeout) */
/*
 * Statements that may wait for a connection (look-ahead): enough for the
 * whole post-data of a large schema (Synapse's: 363), so that the dump's
 * end, and the VACUUM phase, comes as soon as its last COPY is queued.
 */
#define JOBS_QUEUE 1024
#define JOBS_QUEUE_BYTES (64 * 1024 * 1024) /* ... and their bytes: no more is taken past this */

/*
 * Every engine connection's own settings.  The parallelism is across the
 * connections: an index build that also started parallel workers would
 * only take cores from the other connections (measured on 2 cores: 8 %
 * slower).  Commits need not wait for the WAL flush: the import is only
 * reported done after the session's own connection commits the end
 * (jobs_end), whose flush covers all the WAL written before it, and a
 * target that crashes before that leaves an import that failed anyway.
 */
#define JOBS_SETTINGS                                                               \
	"SET max_parallel_maintenance_workers = 0; SET synchronous_commit = off;\n" \
	"SET standard_conforming_strings = on;\n" /* the lexer starts so */

enum jobs_phase {
	JOBS_PRE,        /* pre-data on connection 0, in a transaction */
	JOBS_COMMITTING, /* its COMMIT is in flight */
	JOBS_DATA,       /* data and post-data, autocommit on any connection */
};

/* JOBS_BEGIN: connection 0's first item, pgsluice's BEGIN and aside schemas */
enum jobs_kind {
	JOBS_STMT,
	JOBS_BATCH_ITEM,
	JOBS_BEGIN,
	JOBS_COMMIT
};

struct jobs_item {
	enum jobs_kind kind;
	struct textbuf text;     /* the statement, or the batch's COPY command; NUL-terminated */
	struct textbuf data;     /* a batch's lines */
	int table;               /* a batch's table (index in tables) */
	struct deps_touch touch; /* the tables it touches */
	int is_set;              /* a session setting: joins the prelude when it starts */
	int own;                 /* pgsluice's own script (simple protocol), not the dump's */
	int std_strings;         /* standard_conforming_strings the lexer assumes after it */
	uint64_t no, line;
};

struct jobs_table {
	char name[DEPS_KEY];
	uint64_t lines, tagged;
	int pending, ended;
};

enum jobs_stage {
	JOBS_ST_FREE,
	JOBS_ST_PRELUDE,
	JOBS_ST_MAIN,
	JOBS_ST_PUT,
	JOBS_ST_END
};

struct jobs_conn {
	struct jobs *j;
	int idx;
	struct target t;
	int up;
	enum jobs_stage stage;
	struct jobs_item it;
	size_t put;
	unsigned prelude_gen;
	size_t prelude_pos;       /* PRELUDE: the piece being sent (offset in prelude) */
	int in_txn;               /* a transaction of ours is open (connection 0, pre-data) */
	struct event *ev_timeout; /* --statement-timeout of the dump's statement in flight */
	char tag[40];             /* the command tag of the last result */
	char who[160];
	struct pgerr srv; /* the server's error for the item in flight */
};

struct jobs {
	struct jobs_config cfg;
	struct jobs_conn conns[JOBS_MAX];
	int n_up;
	enum jobs_phase phase;
	int commit_queued; /* pre-data's COMMIT is queued (once) */
	int failed;
	char error[1500];
	const char *state; /* the target's state when a statement ended pre-data's
	                           * transaction (jobs_state); NULL otherwise */

	/*
	 * Session settings, replayed on each connection: NUL-separated pieces,
	 * each sent alone; the first is pgsluice's own script, the others are
	 * the dump's statements.
	 */
	struct textbuf prelude;
	unsigned prelude_gen;

	struct jobs_item queue[JOBS_QUEUE]; /* wait for a connection, in dump order */
	int n_queue;
	int n_queued_batches; /* of them, COPY batches (at most one) */
	size_t queued_bytes;  /* their text and data */
	int finishing;

	/* the COPY being read */
	struct textbuf copy_sql;
	struct textbuf acc;
	int copy_table;
	uint64_t copy_no, copy_line;
	int copy_std_strings;

	struct jobs_table *tables;
	size_t n_tables, cap_tables;
	struct deps deps; /* the dump's table hierarchies */

	struct event *ev_notify;
	int notify_ready, notify_failed;
	size_t batch; /* JOBS_BATCH, or PGSLUICE_JOBS_BATCH (tests) */
};

/* jobs.c */
void jobs_item_free(struct jobs_item *it);
void jobs_notify(struct jobs *j);
void jobs_fail(struct jobs *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* jobs_sched.c */
int jobs_in_flight(const struct jobs *j);
void jobs_kick(struct jobs *j);

/* jobs_conn.c */
void jobs_on_timeout(evutil_socket_t fd, short what, void *arg);
void jobs_start_item(struct jobs_conn *c);
void jobs_check_table(struct jobs *j, struct jobs_table *tb);
void jobs_on_target(void *arg, enum target_event ev, PGresult *res);

/* jobs_sql.c */
int jobs_cat(struct textbuf *b, const char *s);
char *jobs_do_block(struct jobs *j, int mode, int move);

#endif
