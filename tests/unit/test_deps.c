/*
 * test_deps.c - the --jobs scheduler's ordering rules (proxy/deps.c): the
 * hierarchies a pg_dump pre-data section builds (partitions attached both
 * ways, a sub-partition, inheritance, multiple inheritance) and, for every
 * pair of post-data statements, whether they may run at once.  The
 * scheduler (jobs.c) starts a statement only when it conflicts with
 * nothing in flight and nothing queued before it, so "no two statements
 * on one hierarchy at once" holds exactly when this matrix is right.
 */
#include <string.h>

#include "deps.h"
#include "t.h"

static const char *const pre_data[] = {
	"CREATE TABLE public.measurement (city_id integer, logdate date, peaktemp integer) "
	"PARTITION BY RANGE (logdate);",
	"CREATE TABLE public.measurement_y2006 (city_id integer, logdate date, peaktemp integer);",
	"ALTER TABLE ONLY public.measurement ATTACH PARTITION public.measurement_y2006 "
	"FOR VALUES FROM ('2006-01-01') TO ('2007-01-01');",
	"CREATE TABLE public.measurement_y2007 PARTITION OF public.measurement "
	"FOR VALUES FROM ('2007-01-01') TO ('2008-01-01') PARTITION BY RANGE (logdate);",
	"CREATE TABLE public.m2007_q1 PARTITION OF public.measurement_y2007 "
	"FOR VALUES FROM ('2007-01-01') TO ('2007-04-01');",
	"CREATE TABLE public.cities (name text, population real);",
	"CREATE TABLE public.capitals (state character(2)) INHERITS (public.cities);",
	"CREATE TABLE public.other (id integer);",
	"CREATE TABLE public.other2 (x integer);",
	"CREATE TABLE public.both_ (y integer) INHERITS (public.other2, public.lonely);",
	"CREATE UNLOGGED TABLE IF NOT EXISTS public.alone (a integer) PARTITION BY LIST (a);",
};

/* group bits */
enum {
	G_MEAS = 1,
	G_CITY = 2,
	G_OTHER = 4,
	G_O2 = 8,
	G_ALONE = 16
};

static const struct {
	const char *sql;
	int groups; /* hierarchies it touches; 0 with barrier */
	int barrier;
} post_data[] = {
	/* 0 */ { "ALTER TABLE ONLY public.measurement ADD CONSTRAINT measurement_pkey "
	          "PRIMARY KEY (city_id, logdate);",
	          G_MEAS, 0 },
	/* 1 */
	{ "ALTER TABLE ONLY public.measurement_y2006 ADD CONSTRAINT m6_pkey "
	  "PRIMARY KEY (city_id, logdate);",
	  G_MEAS, 0 },
	/* 2 */
	{ "CREATE INDEX m_idx ON ONLY public.measurement USING btree (peaktemp);", G_MEAS, 0 },
	/* 3 */
	{ "CREATE INDEX m6_idx ON public.measurement_y2006 USING btree (peaktemp);", G_MEAS, 0 },
	/* 4 */ { "CREATE INDEX q1_idx ON public.m2007_q1 USING btree (peaktemp);", G_MEAS, 0 },
	/* 5 */ { "ALTER INDEX public.m_idx ATTACH PARTITION public.m6_idx;", 0, 1 },
	/* 6 */
	{ "CREATE TRIGGER t AFTER INSERT ON public.m2007_q1 FOR EACH ROW "
	  "EXECUTE FUNCTION public.f();",
	  G_MEAS, 0 },
	/* 7 */ { "ALTER TABLE public.measurement DISABLE TRIGGER t;", G_MEAS, 0 },
	/* 8 */ { "CREATE INDEX c_idx ON public.capitals USING btree (state);", G_CITY, 0 },
	/* 9 */ { "CREATE INDEX ci_idx ON public.cities USING btree (name);", G_CITY, 0 },
	/* 10 */
	{ "ALTER TABLE ONLY public.other ADD CONSTRAINT other_pkey PRIMARY KEY (id);", G_OTHER, 0 },
	/* 11 */ { "CREATE INDEX o_idx ON public.other USING btree (id);", G_OTHER, 0 },
	/* 12 */
	{ "ALTER TABLE ONLY public.other ADD CONSTRAINT fk FOREIGN KEY (id) "
	  "REFERENCES public.measurement_y2006(city_id);",
	  G_OTHER | G_MEAS, 0 },
	/* 13 */
	{ "CREATE INDEX m6_idx2 ON public.measurement_y2006 USING btree (city_id);", G_MEAS, 0 },
	/* 14 */ { "CREATE INDEX l_idx ON public.lonely USING btree (a);", G_O2, 0 },
	/* 15 */ { "CREATE INDEX b_idx ON public.both_ USING btree (y);", G_O2, 0 },
	/* 16 */ { "CREATE INDEX a_idx ON public.alone USING btree (a);", G_ALONE, 0 },
	/* 17 */ { "REFRESH MATERIALIZED VIEW public.mv;", 0, 1 },
};

#define N_POST (sizeof(post_data) / sizeof(post_data[0]))

/* pairs that share a hierarchy and may still run at once: index builds on leaves or on one table */
static int
shareable(size_t a, size_t b)
{
	static const size_t pairs[][2] = { { 3, 4 }, { 3, 13 }, { 4, 13 } };
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if ((pairs[i][0] == a && pairs[i][1] == b) ||
		    (pairs[i][0] == b && pairs[i][1] == a))
			return 1;
	return 0;
}

static void
test_matrix(void)
{
	struct deps d;
	struct deps_touch t[N_POST];
	size_t i, k, bad = 0;
	int learnt = 1;

	memset(&d, 0, sizeof(d));
	for (i = 0; i < sizeof(pre_data) / sizeof(pre_data[0]); i++)
		if (deps_learn(&d, pre_data[i], strlen(pre_data[i]), 1) < 0)
			learnt = 0;
	T_OK(learnt, "pre-data learnt");
	for (i = 0; i < N_POST; i++) {
		T_OK(deps_learn(&d, post_data[i].sql, strlen(post_data[i].sql), 1) == 0,
		     "post-data %zu learnt", i);
		T_OK(deps_classify(&d, &t[i], post_data[i].sql, strlen(post_data[i].sql), 1) ==
		                     CLASSIFY_OTHER &&
		             t[i].barrier == post_data[i].barrier,
		     "post-data %zu classified (barrier %d)", i, post_data[i].barrier);
	}
	for (i = 0; i < N_POST; i++)
		for (k = 0; k < N_POST; k++) {
			int want, got;

			if (i == k)
				continue;
			want = post_data[i].barrier || post_data[k].barrier ||
			       ((post_data[i].groups & post_data[k].groups) && !shareable(i, k));
			got = deps_conflict(&t[i], &t[k]);
			if (want != got) {
				bad++;
				printf("# post-data %zu vs %zu: conflict %d, want %d\n", i, k, got,
				       want);
			}
		}
	T_OK(bad == 0,
	     "every pair of post-data statements: conflict iff they share a hierarchy "
	     "(%zu wrong)",
	     bad);
	T_OK(strcmp(t[4].group[0], "public.measurement") == 0,
	     "a sub-partition's group is the top parent (%s)", t[4].group[0]);
	T_OK(t[16].n == 1 && strcmp(t[16].group[0], "public.alone") == 0 && t[16].leaf[0],
	     "PARTITION BY names no parent");
	deps_free(&d);
}

static void
test_batches(void)
{
	static const char *const pre[] = {
		"CREATE TABLE public.p (a integer) PARTITION BY LIST (a);",
		"CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES IN (1);",
		"CREATE TABLE public.p2 PARTITION OF public.p FOR VALUES IN (2);",
	};
	static const char *const idx = "CREATE INDEX i ON public.p1 USING btree (a);";
	struct deps d;
	struct deps_touch b1, b1b, b2, bp, ix;
	char key[DEPS_KEY];
	size_t i;
	int ok = 1;

	memset(&d, 0, sizeof(d));
	for (i = 0; i < 3; i++)
		ok &= deps_learn(&d, pre[i], strlen(pre[i]), 1) == 0;
	T_OK(ok, "batches: pre-data learnt");
	deps_batch(&d, &b1, "public.p1");
	deps_batch(&d, &b1b, "public.p1");
	deps_batch(&d, &b2, "public.p2");
	deps_batch(&d, &bp, "public.p");
	deps_classify(&d, &ix, idx, strlen(idx), 1);
	T_OK(!deps_conflict(&b1, &b1b), "two batches of one table run at once");
	T_OK(!deps_conflict(&b1, &b2), "batches of two leaf partitions run at once");
	T_OK(deps_conflict(&b1, &bp), "a batch into the parent waits for a partition's batch");
	T_OK(deps_conflict(&b2, &ix), "an index build waits for a batch of its hierarchy");
	T_OK(deps_copy_table("COPY public.p1 (a) FROM stdin;", 30, 1, key, sizeof(key)) &&
	             strcmp(key, "public.p1") == 0,
	     "the table of a COPY statement");
	deps_free(&d);
}

/* pgsluice's own VACUUMs after the dump (analyze.h), one table each. */
static void
test_vacuum(void)
{
	static const char *const v1 =
		"VACUUM (FREEZE, ANALYZE, TRUNCATE false) \"public\".\"events\"";
	static const char *const v2 = "VACUUM (FREEZE) \"public\".\"Odd \"\"x\"\"\"";
	static const char *const v3 =
		"VACUUM (FREEZE, INDEX_CLEANUP false, TRUNCATE false) public.events";
	static const char *const all = "VACUUM (FREEZE)";
	static const char *const an = "ANALYZE public.rooms";
	static const char *const ix = "CREATE INDEX e_i ON public.events USING btree (id)";
	struct deps d;
	struct deps_touch a, b, c, e, f;

	memset(&d, 0, sizeof(d));
	T_OK(deps_classify(&d, &a, v1, strlen(v1), 1) == CLASSIFY_OTHER && !a.barrier && a.n == 1 &&
	             strcmp(a.table[0], "\"public\".\"events\"") == 0,
	     "VACUUM (FREEZE, ANALYZE, TRUNCATE false) t touches t");
	deps_classify(&d, &b, v2, strlen(v2), 1);
	T_OK(!b.barrier && b.n == 1 && !deps_conflict(&a, &b), "VACUUMs of two tables run at once");
	deps_classify(&d, &e, v3, strlen(v3), 1);
	T_OK(!e.barrier && e.n == 1 && strcmp(e.table[0], "public.events") == 0 &&
	             !deps_conflict(&b, &e),
	     "VACUUM (FREEZE, INDEX_CLEANUP false, TRUNCATE false) t touches t");
	deps_classify(&d, &f, ix, strlen(ix), 1);
	T_OK(deps_conflict(&f, &e), "a VACUUM of t waits for an index on t before it");
	deps_classify(&d, &c, all, strlen(all), 1);
	T_OK(c.barrier, "a VACUUM without a table runs alone");
	deps_classify(&d, &f, an, strlen(an), 1);
	T_OK(f.barrier, "an ANALYZE (never the dump's) runs alone");
	deps_free(&d);
}

int
main(void)
{
	test_matrix();
	test_batches();
	test_vacuum();
	T_DONE();
}
