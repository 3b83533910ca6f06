/*
 * test_rules.c - the rules engine (sqlrewrite/rules.c), case by case.
 *
 * One table of single statements, each run on fresh rules with one of a
 * few option profiles: the action and rule expected, and for rewrites the
 * exact new text.  Every rule has positive and negative cases.  Then
 * sequences that need state: pg_dump -C preambles taken from real pg_dump
 * 15.18 output, pg_dumpall's second \connect, and the statistics rows.
 */
#include <stdlib.h>

#include "rules.h"
#include "t.h"

enum profile {
	P_DEF, /* defaults: target version unknown */
	P_KEEP_OWNERS,
	P_KEEP_PRIV,
	P_DROP,     /* --allow-drop */
	P_SINGLE,   /* single transaction */
	P_MAP,      /* --map-role */
	P_MAP_KEEP, /* --map-role --keep-owners --keep-privileges */
	P_V11,
	P_V12,
	P_V16,
	P_V17,
	P_V18,
	P_V150007,
	P_V150008,
	P_V160003,
	P_V110022,
	P_CALLBACK,    /* known_setting: only work_mem and search_path */
	P_CLEAR,       /* --clear-target (serve) */
	P_SUPER,       /* --allow-superuser-target alone */
	P_NATIVE,      /* --allow-superuser-target --allow-native-code */
	P_NATIVE_ONLY, /* --allow-native-code without a superuser target */
	P_PUB,         /* --allow-superuser-target --allow-publications */
	P_PUB_ONLY,    /* --allow-publications without a superuser target */
	P_FREEZE,      /* single transaction on one connection: copy_freeze */
};

static const struct rules_role_map role_map[] = {
	{ "synapse", "synapse_user" },
	{ "Synapse User", "Neu \"Rolle\"" },
	{ "reader", "select" },
	{ "x", "1abc" },
};

static int
known_cb(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "work_mem") == 0 || strcmp(name, "search_path") == 0;
}

static void
profile(enum profile p, struct rules_options *o)
{
	static const int versions[] = {
		[P_V11] = 110000,     [P_V12] = 120000,     [P_V16] = 160000,
		[P_V17] = 170000,     [P_V18] = 180000,     [P_V150007] = 150007,
		[P_V150008] = 150008, [P_V160003] = 160003, [P_V110022] = 110022,
	};

	memset(o, 0, sizeof(*o));
	switch (p) {
	case P_KEEP_OWNERS:
		o->keep_owners = 1;
		break;
	case P_KEEP_PRIV:
		o->keep_privileges = 1;
		break;
	case P_DROP:
		o->allow_drop = 1;
		break;
	case P_SINGLE:
		o->single_transaction = 1;
		break;
	case P_MAP_KEEP:
		o->keep_owners = o->keep_privileges = 1;
		/* FALLTHROUGH */
	case P_MAP:
		o->role_map = role_map;
		o->n_role_map = sizeof(role_map) / sizeof(role_map[0]);
		break;
	case P_CALLBACK:
		o->known_setting = known_cb;
		o->target_version = 110000; /* the callback wins */
		break;
	case P_CLEAR:
		o->clear_target = 1;
		break;
	case P_SUPER:
		o->allow_superuser_target = 1;
		break;
	case P_NATIVE:
		o->allow_superuser_target = o->allow_native_code = 1;
		break;
	case P_NATIVE_ONLY:
		o->allow_native_code = 1;
		break;
	case P_PUB:
		o->allow_superuser_target = o->allow_publications = 1;
		break;
	case P_PUB_ONLY:
		o->allow_publications = 1;
		break;
	case P_FREEZE:
		o->single_transaction = o->copy_freeze = 1;
		break;
	default:
		if ((size_t)p < sizeof(versions) / sizeof(versions[0]))
			o->target_version = versions[p];
		break;
	}
}

#define F RULES_FORWARD
#define D RULES_DROP
#define RW RULES_REWRITE
#define RF RULES_REFUSE

struct rcase {
	enum profile p;
	const char *in;
	enum rules_action want;
	const char *rule; /* expected rule, NULL for a plain forward */
	const char *out;  /* REWRITE: the new text */
	int std;          /* 0: standard_conforming_strings off */
};

#define STD 1

static const struct rcase cases[] = {
	/* empty */
	{ P_DEF, ";", D, "empty", NULL, STD },
	{ P_DEF, "/* nothing */ ;", D, "empty", NULL, STD },
	{ P_DEF, "-- a comment\n;", D, "empty", NULL, STD },
	{ P_DEF, "SELECT 1;", RF, "refuse", NULL, STD },

	/* owner */
	{ P_DEF, "ALTER TABLE public.t OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_KEEP_OWNERS, "ALTER TABLE public.t OWNER TO synapse;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);", F, NULL, NULL,
	  STD },
	{ P_DEF, "alter   table\n/* c */ public.t\n  owner -- x\n to synapse ;", D, "owner", NULL,
	  STD },
	{ P_DEF, "ALTER MATERIALIZED VIEW s.mv OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER FOREIGN TABLE s.ft OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER FOREIGN DATA WRAPPER fdw OWNER TO postgres;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER TEXT SEARCH CONFIGURATION s.tsc OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER TEXT SEARCH DICTIONARY s.d OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER LARGE OBJECT 4242 OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER FUNCTION public.f(integer, text) OWNER TO \"Synapse User\";", D, "owner",
	  NULL, STD },
	{ P_DEF, "ALTER AGGREGATE public.a(integer ORDER BY text) OWNER TO synapse;", D, "owner",
	  NULL, STD },
	{ P_DEF, "ALTER OPERATOR public.=== (integer, integer) OWNER TO synapse;", D, "owner", NULL,
	  STD },
	{ P_DEF, "ALTER OPERATOR CLASS public.c USING btree OWNER TO synapse;", D, "owner", NULL,
	  STD },
	{ P_DEF, "ALTER OPERATOR FAMILY public.f USING gist OWNER TO synapse;", D, "owner", NULL,
	  STD },
	{ P_DEF, "ALTER SCHEMA public OWNER TO pg_database_owner;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER SCHEMA rename OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER TABLE public.owner OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER TABLE IF EXISTS ONLY t OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER PROPERTY GRAPH g OWNER TO synapse;", D, "owner", NULL, STD },
	{ P_DEF, "ALTER TABLE t RENAME owner TO x;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER TABLE t RENAME COLUMN owner TO x;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER TYPE t RENAME ATTRIBUTE owner TO x;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER PROPERTY GRAPH g RENAME owner TO x;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER POLICY p ON public.t TO synapse;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER TABLE t ALTER COLUMN c SET DEFAULT 'OWNER TO x';", F, NULL, NULL, STD },
	{ P_DEF, "SET SESSION AUTHORIZATION 'synapse';", D, "owner", NULL, STD },
	{ P_DEF, "SET SESSION AUTHORIZATION DEFAULT;", D, "owner", NULL, STD },
	{ P_DEF, "RESET SESSION AUTHORIZATION;", D, "owner", NULL, STD },
	{ P_DEF, "SET ROLE synapse;", D, "owner", NULL, STD },
	{ P_DEF, "SET LOCAL ROLE synapse;", D, "owner", NULL, STD },
	{ P_DEF, "RESET ROLE;", D, "owner", NULL, STD },
	{ P_KEEP_OWNERS, "SET SESSION AUTHORIZATION 'synapse';", F, NULL, NULL, STD },
	{ P_KEEP_OWNERS, "RESET ROLE;", F, NULL, NULL, STD },
	{ P_DEF, "SET role_x = 1;", F, NULL, NULL, STD },
	/* owner with --map-role */
	{ P_MAP, "ALTER TABLE public.t OWNER TO synapse;", RW, "owner",
	  "ALTER TABLE public.t OWNER TO synapse_user;", STD },
	{ P_MAP, "ALTER TABLE public.t OWNER TO SYNAPSE;", RW, "owner",
	  "ALTER TABLE public.t OWNER TO synapse_user;", STD },
	{ P_MAP, "ALTER TABLE public.t OWNER TO \"SYNAPSE\";", D, "owner", NULL, STD },
	{ P_MAP, "ALTER TABLE public.t OWNER TO \"Synapse User\";", RW, "owner",
	  "ALTER TABLE public.t OWNER TO \"Neu \"\"Rolle\"\"\";", STD },
	{ P_MAP, "ALTER TABLE t OWNER TO reader;", RW, "owner",
	  "ALTER TABLE t OWNER TO \"select\";", STD },
	{ P_MAP, "ALTER TABLE t OWNER TO x;", RW, "owner", "ALTER TABLE t OWNER TO \"1abc\";",
	  STD },
	{ P_MAP, "ALTER TABLE t OWNER TO /* c */ synapse ;", RW, "owner",
	  "ALTER TABLE t OWNER TO /* c */ synapse_user ;", STD },
	{ P_MAP, "ALTER TABLE t OWNER TO other;", D, "owner", NULL, STD },
	{ P_MAP, "ALTER TABLE t OWNER TO CURRENT_USER;", D, "owner", NULL, STD },
	{ P_MAP_KEEP, "ALTER TABLE t OWNER TO other;", F, NULL, NULL, STD },
	{ P_MAP, "SET SESSION AUTHORIZATION 'synapse';", RW, "owner",
	  "SET SESSION AUTHORIZATION 'synapse_user';", STD },
	{ P_MAP, "SET SESSION AUTHORIZATION 'Synapse User';", RW, "owner",
	  "SET SESSION AUTHORIZATION 'Neu \"Rolle\"';", STD },
	{ P_MAP, "SET SESSION AUTHORIZATION DEFAULT;", D, "owner", NULL, STD },
	{ P_MAP, "RESET SESSION AUTHORIZATION;", F, NULL, NULL, STD },
	{ P_MAP, "SET ROLE synapse;", RW, "owner", "SET ROLE synapse_user;", STD },
	{ P_MAP, "SET LOCAL ROLE \"Synapse User\";", RW, "owner",
	  "SET LOCAL ROLE \"Neu \"\"Rolle\"\"\";", STD },

	/* privileges */
	{ P_DEF, "GRANT SELECT ON TABLE s.t TO reader;", D, "privileges", NULL, STD },
	{ P_DEF, "REVOKE USAGE ON SCHEMA public FROM PUBLIC;", D, "privileges", NULL, STD },
	{ P_DEF,
	  "ALTER DEFAULT PRIVILEGES FOR ROLE synapse IN SCHEMA s GRANT SELECT ON TABLES  TO reader;",
	  D, "privileges", NULL, STD },
	{ P_KEEP_PRIV, "GRANT SELECT ON TABLE s.t TO reader;", F, NULL, NULL, STD },
	{ P_KEEP_PRIV, "REVOKE USAGE ON SCHEMA public FROM PUBLIC;", F, NULL, NULL, STD },
	{ P_DEF, "COMMENT ON TABLE t IS 'GRANT ALL ON t TO x';", F, NULL, NULL, STD },
	{ P_DEF, "CREATE TABLE t (\"grant\" int, revoke int);", F, NULL, NULL, STD },
	{ P_MAP, "GRANT SELECT ON TABLE s.t TO synapse;", D, "privileges", NULL, STD },
	{ P_MAP_KEEP,
	  "GRANT SELECT ON TABLE public.synapse TO reader, synapse, PUBLIC WITH GRANT OPTION;", RW,
	  "privileges",
	  "GRANT SELECT ON TABLE public.synapse TO \"select\", synapse_user, PUBLIC WITH GRANT OPTION;",
	  STD },
	{ P_MAP_KEEP, "GRANT SELECT(v) ON TABLE s.t TO \"Synapse User\";", RW, "privileges",
	  "GRANT SELECT(v) ON TABLE s.t TO \"Neu \"\"Rolle\"\"\";", STD },
	{ P_MAP_KEEP, "REVOKE ALL ON TABLE t FROM synapse GRANTED BY synapse CASCADE;", RW,
	  "privileges", "REVOKE ALL ON TABLE t FROM synapse_user GRANTED BY synapse_user CASCADE;",
	  STD },
	{ P_MAP_KEEP,
	  "ALTER DEFAULT PRIVILEGES FOR ROLE synapse IN SCHEMA synapse GRANT SELECT ON TABLES TO GROUP reader;",
	  RW, "privileges",
	  "ALTER DEFAULT PRIVILEGES FOR ROLE synapse_user IN SCHEMA synapse GRANT SELECT ON TABLES TO GROUP \"select\";",
	  STD },
	{ P_MAP_KEEP, "GRANT ALL ON FUNCTION public.f(synapse integer) TO other;", F, NULL, NULL,
	  STD },

	/* superuser-only */
	{ P_DEF, "COMMENT ON EXTENSION pg_trgm IS 'x';", D, "superuser-only", NULL, STD },
	{ P_DEF, "COMMENT ON SCHEMA public IS 'standard public schema';", D, "superuser-only", NULL,
	  STD },
	{ P_DEF, "COMMENT ON SCHEMA \"public\" IS 'x';", D, "superuser-only", NULL, STD },
	{ P_DEF, "COMMENT ON SCHEMA s IS 'x';", F, NULL, NULL, STD },
	{ P_DEF, "COMMENT ON TABLE public.t IS 'COMMENT ON EXTENSION x';", F, NULL, NULL, STD },
	{ P_DEF, "CREATE PUBLICATION pub WITH (publish = 'insert, update, delete, truncate');", D,
	  "superuser-only", NULL, STD },
	{ P_DEF, "ALTER PUBLICATION pub ADD TABLE ONLY s.t;", D, "superuser-only", NULL, STD },
	{ P_DEF, "ALTER PUBLICATION pub OWNER TO postgres;", D, "superuser-only", NULL, STD },
	{ P_DEF,
	  "CREATE SUBSCRIPTION sub CONNECTION 'host=x' PUBLICATION pub WITH (connect = false, slot_name = 'sub');",
	  D, "superuser-only", NULL, STD },
	{ P_DEF, "ALTER SUBSCRIPTION sub OWNER TO postgres;", D, "superuser-only", NULL, STD },
	{ P_DEF, "CREATE EVENT TRIGGER et ON ddl_command_start\n   EXECUTE FUNCTION s.f();", D,
	  "superuser-only", NULL, STD },
	{ P_DEF, "ALTER EVENT TRIGGER et OWNER TO postgres;", D, "superuser-only", NULL, STD },
	{ P_DEF, "SECURITY LABEL FOR selinux ON TABLE t IS 'system_u';", D, "superuser-only", NULL,
	  STD },
	{ P_DEF,
	  "CREATE TRIGGER event_trigger BEFORE INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION public.f();",
	  F, NULL, NULL, STD },
	{ P_DEF, "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;", F, NULL, NULL, STD },

	/* column-option: pg_attver, assigned by some servers, written out by pg_dump 18 */
	{ P_DEF, "ALTER TABLE ONLY public.t ALTER COLUMN a SET (pg_attver=26490688);", D,
	  "column-option", NULL, STD },
	{ P_DEF, "ALTER TABLE ONLY public.t ALTER COLUMN a SET (pg_attver=1, n_distinct=20);", RW,
	  "column-option", "ALTER TABLE ONLY public.t ALTER COLUMN a SET (n_distinct=20);", STD },
	{ P_DEF, "ALTER TABLE ONLY public.t ALTER COLUMN a SET (n_distinct=20, pg_attver=1);", RW,
	  "column-option", "ALTER TABLE ONLY public.t ALTER COLUMN a SET (n_distinct=20);", STD },
	{ P_DEF,
	  "ALTER TABLE ONLY public.t ALTER COLUMN a SET (n_distinct=20, pg_attver=1, n_distinct_inherited=5);",
	  RW, "column-option",
	  "ALTER TABLE ONLY public.t ALTER COLUMN a SET (n_distinct=20, n_distinct_inherited=5);",
	  STD },
	{ P_DEF, "ALTER TABLE ONLY public.t ALTER COLUMN a SET (n_distinct=20);", F, NULL, NULL,
	  STD },
	{ P_DEF,
	  "ALTER TABLE ONLY public.t ALTER COLUMN a SET (pg_attver=1), ALTER COLUMN b SET NOT NULL;",
	  F, NULL, NULL, STD },
	/* public-schema */
	{ P_DEF, "CREATE SCHEMA public;", RW, "public-schema",
	  "CREATE SCHEMA IF NOT EXISTS public;", STD },
	{ P_DEF, "create  schema /* x */ PUBLIC\n;", RW, "public-schema",
	  "CREATE SCHEMA IF NOT EXISTS public;", STD },
	{ P_DEF, "CREATE SCHEMA \"public\";", RW, "public-schema",
	  "CREATE SCHEMA IF NOT EXISTS public;", STD },
	{ P_DEF, "CREATE SCHEMA \"Public\";", F, NULL, NULL, STD },
	{ P_DEF, "CREATE SCHEMA s;", F, NULL, NULL, STD },
	{ P_DEF, "CREATE SCHEMA public AUTHORIZATION synapse;", F, NULL, NULL, STD },

	/* transaction */
	{ P_SINGLE, "BEGIN;", D, "transaction", NULL, STD },
	{ P_SINGLE, "COMMIT;", D, "transaction", NULL, STD },
	{ P_SINGLE, "END;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "begin transaction;", D, "transaction", NULL, STD },
	{ P_SINGLE, "BEGIN WORK;", D, "transaction", NULL, STD },
	{ P_SINGLE, "COMMIT WORK;", D, "transaction", NULL, STD },
	{ P_SINGLE, "COMMIT TRANSACTION;", D, "transaction", NULL, STD },
	{ P_SINGLE, "START TRANSACTION ISOLATION LEVEL SERIALIZABLE;", RF, "refuse", NULL, STD },
	{ P_DEF, "BEGIN;", F, NULL, NULL, STD },
	{ P_DEF, "COMMIT;", F, NULL, NULL, STD },
	{ P_SINGLE, "ROLLBACK;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "COMMIT PREPARED 'x';", RF, "refuse", NULL, STD },
	{ P_SINGLE, "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END;", F, NULL, NULL,
	  STD },

	/* unknown-setting */
	{ P_V16, "SET transaction_timeout = 0;", D, "unknown-setting", NULL, STD },
	{ P_V16, "SET SESSION transaction_timeout TO 0;", D, "unknown-setting", NULL, STD },
	{ P_V16, "SET LOCAL \"Transaction_Timeout\" = 0;", D, "unknown-setting", NULL, STD },
	{ P_V17, "SET transaction_timeout = 0;", F, NULL, NULL, STD },
	{ P_DEF, "SET transaction_timeout = 0;", F, NULL, NULL, STD },
	{ P_V11, "SET idle_in_transaction_session_timeout = 0;", F, NULL, NULL, STD },
	{ P_V11, "SET default_table_access_method = heap;", D, "unknown-setting", NULL, STD },
	{ P_V12, "SET default_table_access_method = heap;", F, NULL, NULL, STD },
	{ P_V11, "SET default_with_oids = false;", F, NULL, NULL, STD },
	{ P_V12, "SET default_with_oids = false;", D, "unknown-setting", NULL, STD },
	{ P_V11, "SET DateStyle = ISO;", F, NULL, NULL, STD },
	{ P_V16, "SET foo_bar = 1;", F, NULL, NULL, STD },
	{ P_V16, "SET myext.setting = 1;", F, NULL, NULL, STD },
	{ P_V16, "SET TIME ZONE 'UTC';", F, NULL, NULL, STD },
	{ P_V16, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;", RF, "refuse", NULL, STD },
	{ P_V16, "SELECT pg_catalog.set_config('transaction_timeout', '0', false);", D,
	  "unknown-setting", NULL, STD },
	{ P_V16, "SELECT set_config('transaction_timeout', '0', false);", RF, "refuse", NULL, STD },
	{ P_V16, "SELECT pg_catalog.set_config('search_path', '', false);", F, NULL, NULL, STD },
	{ P_V16, "SELECT pg_catalog.set_config('transaction_timeout', '0', false), 1;", RF,
	  "refuse", NULL, STD },
	{ P_V150007, "SET restrict_nonsystem_relation_kind = view;", D, "unknown-setting", NULL,
	  STD },
	{ P_V150008, "SET restrict_nonsystem_relation_kind = view;", F, NULL, NULL, STD },
	{ P_V160003, "SET restrict_nonsystem_relation_kind = view;", D, "unknown-setting", NULL,
	  STD },
	{ P_V110022, "SET restrict_nonsystem_relation_kind = view;", D, "unknown-setting", NULL,
	  STD },
	{ P_V17, "SET restrict_nonsystem_relation_kind = view;", F, NULL, NULL, STD },
	{ P_CALLBACK, "SET work_mem = '1MB';", F, NULL, NULL, STD },
	{ P_CALLBACK, "SET \"Search_Path\" = public;", F, NULL, NULL, STD },
	{ P_CALLBACK, "SET statement_timeout = 0;", D, "unknown-setting", NULL, STD },
	{ P_CALLBACK, "SELECT pg_catalog.set_config('lock_timeout', '0', false);", D,
	  "unknown-setting", NULL, STD },
	{ P_CALLBACK, "SET myext.x = 1;", F, NULL, NULL, STD },

	/* unknown-function */
	{ P_V17,
	  "SELECT * FROM pg_catalog.pg_restore_relation_stats(\n\t'version', '180000'::integer,\n"
	  "\t'relation', 'public.t'::regclass,\n\t'relpages', '1'::integer\n);",
	  D, "unknown-function", NULL, STD },
	{ P_V17,
	  "SELECT * FROM pg_catalog.pg_restore_attribute_stats(\n\t'relation', 'public.t'::regclass,\n"
	  "\t'attname', 'id'::name,\n\t'null_frac', '0'::real\n);",
	  D, "unknown-function", NULL, STD },
	{ P_V16, "SELECT pg_catalog.pg_clear_relation_stats('public', 't');", RF, "refuse", NULL,
	  STD },
	{ P_V18,
	  "SELECT * FROM pg_catalog.pg_restore_relation_stats('relation', 'public.t'::regclass);",
	  F, NULL, NULL, STD },
	{ P_DEF,
	  "SELECT * FROM pg_catalog.pg_restore_relation_stats('relation', 'public.t'::regclass);",
	  F, NULL, NULL, STD },
	{ P_V17, "SELECT pg_catalog.setval('public.s', 1, true);", F, NULL, NULL, STD },

	/* refuse */
	{ P_DEF, "COPY public.t (id, v) FROM stdin;", F, NULL, NULL, STD },
	{ P_DEF, "COPY public.t FROM STDIN WITH (FORMAT csv);", F, NULL, NULL, STD },
	{ P_DEF, "COPY t FROM PROGRAM 'rm -rf /';", RF, "refuse", NULL, STD },
	{ P_DEF, "COPY t TO PROGRAM 'curl x';", RF, "refuse", NULL, STD },
	{ P_DEF, "COPY t FROM '/etc/passwd';", RF, "refuse", NULL, STD },
	{ P_DEF, "COPY t (a) TO '/tmp/x' WITH (FORMAT csv);", RF, "refuse", NULL, STD },
	{ P_DEF, "COPY t TO STDOUT;", RF, "refuse", NULL, STD },
	{ P_DEF, "COPY (SELECT 'FROM stdin') TO STDOUT;", RF, "refuse", NULL, STD },
	{ P_DEF, "ALTER SYSTEM SET work_mem = '1GB';", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE ROLE synapse;", RF, "refuse", NULL, STD },
	{ P_DEF, "ALTER ROLE synapse WITH SUPERUSER;", RF, "refuse", NULL, STD },
	{ P_DROP, "DROP ROLE synapse;", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE USER u PASSWORD 'x';", RF, "refuse", NULL, STD },
	{ P_DEF, "ALTER USER u SET search_path = x;", RF, "refuse", NULL, STD },
	{ P_DROP, "DROP USER IF EXISTS u;", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE GROUP g;", RF, "refuse", NULL, STD },
	{ P_DEF, "ALTER GROUP g ADD USER u;", RF, "refuse", NULL, STD },
	{ P_DROP, "DROP GROUP g;", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE USER MAPPING FOR synapse SERVER srv;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER USER MAPPING FOR synapse SERVER srv OPTIONS (user 'x');", F, NULL, NULL,
	  STD },
	{ P_DEF, "DROP DATABASE synapse;", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE TABLESPACE ts LOCATION '/tmp';", RF, "refuse", NULL, STD },
	{ P_DEF, "ALTER TABLESPACE ts OWNER TO synapse;", RF, "refuse", NULL, STD },
	{ P_DROP, "DROP TABLESPACE ts;", RF, "refuse", NULL, STD },
	{ P_DEF, "LOAD 'auto_explain';", RF, "refuse", NULL, STD },
	{ P_DEF, "CHECKPOINT;", RF, "refuse", NULL, STD },
	{ P_DEF, "VACUUM;", F, NULL, NULL, STD },
	{ P_DEF, "DO $$ BEGIN PERFORM 1; END $$;", RF, "refuse", NULL, STD },
	{ P_DEF,
	  "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE c\n    AS '$libdir/x', 'f';",
	  RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE OR REPLACE FUNCTION f() RETURNS int AS 'x', 'f' LANGUAGE 'c';", RF,
	  "refuse", NULL, STD },
	{ P_DEF, "CREATE PROCEDURE p() AS 'x', 'p' LANGUAGE \"c\";", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE C STRICT AS 'x';", RF, "refuse", NULL,
	  STD },
	{ P_DEF,
	  "CREATE FUNCTION f(language text) RETURNS text\n    LANGUAGE plpgsql\n    AS $$\nBEGIN\n"
	  "    -- LANGUAGE c\n    RETURN 'LANGUAGE c';\nEND;\n$$;",
	  F, NULL, NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$ SELECT 1 $_$;", F, NULL, NULL,
	  STD },
	{ P_DEF, "DROP TABLE public.t;", RF, "refuse", NULL, STD },
	{ P_DEF, "DROP SCHEMA IF EXISTS s;", RF, "refuse", NULL, STD },
	{ P_DROP, "DROP TABLE IF EXISTS public.t;", F, NULL, NULL, STD },
	{ P_DROP, "DROP INDEX public.i;", F, NULL, NULL, STD },
	{ P_DEF, "ALTER TABLE ONLY public.t DROP CONSTRAINT t_pkey;", F, NULL, NULL, STD },

	/* SELECT: only pg_dump's own pg_catalog calls */
	{ P_DEF, "SELECT pg_catalog.set_config('search_path', '', false);", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.set_config('search_path', '', false)", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('public.s', 1, true);", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('public.\"S\"', -9223372036854775808, false);", F, NULL,
	  NULL, STD },
	{ P_DEF, "SELECT pg_catalog.lo_create('16385');", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.lo_open('16385', 131072);", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.lowrite(0, '\\x48656c6c6f');", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.lowrite(0, E'\\\\x4865');", F, NULL, NULL, 0 },
	{ P_DEF, "SELECT pg_catalog.lo_close(0);", F, NULL, NULL, STD },
	{ P_V18,
	  "SELECT * FROM pg_catalog.pg_restore_relation_stats(\n\t'version', '180006'::integer,\n\t'schemaname', 'public',\n"
	  "\t'relname', 'named',\n\t'relpages', '0'::integer,\n\t'reltuples', '-1'::real,\n\t'relallvisible', '0'::integer,\n"
	  "\t'relallfrozen', '0'::integer\n);",
	  F, NULL, NULL, STD },
	{ P_V17,
	  "SELECT * FROM pg_catalog.pg_restore_relation_stats(\n\t'version', '180006'::integer,\n\t'schemaname', 'public',\n"
	  "\t'relname', 'named',\n\t'relpages', '0'::integer\n);",
	  D, "unknown-function", NULL, STD },
	{ P_V18,
	  "SELECT * FROM pg_catalog.pg_restore_attribute_stats(\n\t'version', '180003'::integer,\n\t'schemaname', 'public',\n"
	  "\t'relname', 'album',\n\t'attname', 'id'::name,\n\t'inherited', 'f'::boolean,\n\t'null_frac', '0'::real,\n"
	  "\t'avg_width', '4'::integer,\n\t'n_distinct', '-1'::real,\n\t'histogram_bounds', '{1,2,3}'::text,\n"
	  "\t'most_common_freqs', '{0.5}'::real[],\n\t'elem_count_histogram', '{0.2}'::double precision[],\n"
	  "\t'correlation', '1'::pg_catalog.float4\n);",
	  F, NULL, NULL, STD },
	{ P_V18,
	  "SELECT pg_catalog.pg_restore_attribute_stats('relation', 'public.t'::regclass, 'attnum', '1'::smallint);",
	  F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.pg_is_in_recovery()", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_catalog.pg_is_in_recovery(1);", F, NULL, NULL, STD },
	{ P_DEF, "SELECT pg_is_in_recovery();", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_sleep(1e6);", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.pg_sleep(1e6);", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_advisory_unlock_all();", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity;",
	  RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT query_to_xml('select rolname from pg_roles', true, true, '');", RF,
	  "refuse", NULL, STD },
	{ P_DEF, "SELECT public.f();", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT * FROM pg_catalog.pg_read_file('/etc/passwd');", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT \"pg_catalog\".setval('s', 1, true);", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.binary_upgrade_set_next_pg_type_oid('16386'::pg_catalog.oid);",
	  RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.lo_from_bytea(0, '\\x00');", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.lo_unlink('16385');", RF, "refuse", NULL, STD },
	{ P_DEF, "select PG_CATALOG.setval('s', (SELECT max(id) FROM t), true);", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('s', pg_catalog.nextval('s'), true);", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('s', 1, true) FROM t;", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('s', 1 + 1, true);", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('s', 1, true), pg_sleep(1);", RF, "refuse", NULL, STD },
	{ P_DEF, "SELECT pg_catalog.setval('s', current_user::regclass, true);", RF, "refuse", NULL,
	  STD },
	{ P_DEF, "SELECT pg_catalog.setval('s', 1, true) UNION SELECT 1;", RF, "refuse", NULL,
	  STD },
	{ P_DEF, "SELECT pg_catalog.lo_open(pg_catalog.lo_create('1'), 131072);", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "SELECT pg_catalog.set_config('search_path', '', false)::text;", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "SELECT pg_catalog.set_config('search_path', '', false) INTO t;", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "SELECT;", RF, "refuse", NULL, STD },
	{ P_DEF, "CALL public.p();", RF, "refuse", NULL, STD },
	{ P_DEF, "WITH x AS (SELECT public.f()) SELECT * FROM x;", RF, "refuse", NULL, STD },
	{ P_DEF, "VALUES (public.f());", RF, "refuse", NULL, STD },
	{ P_DEF, "TABLE pg_authid;", RF, "refuse", NULL, STD },
	{ P_DEF, "EXPLAIN ANALYZE SELECT public.f();", RF, "refuse", NULL, STD },
	{ P_DEF, "PREPARE p AS SELECT public.f();", RF, "refuse", NULL, STD },
	{ P_DEF, "EXECUTE p;", RF, "refuse", NULL, STD },
	{ P_DEF, "UPDATE public.t SET a = public.f();", RF, "refuse", NULL, STD },
	{ P_DEF, "DELETE FROM public.t;", RF, "refuse", NULL, STD },
	{ P_DEF, "NOTIFY x;", RF, "refuse", NULL, STD },
	{ P_DEF, "REFRESH MATERIALIZED VIEW public.mv;", F, NULL, NULL, STD },

	/* transaction control beyond pg_dump's BEGIN/COMMIT pairs */
	{ P_SINGLE, "BEGIN", D, "transaction", NULL, STD },
	{ P_SINGLE, "COMMIT", D, "transaction", NULL, STD },
	{ P_SINGLE, "START TRANSACTION;", D, "transaction", NULL, STD },
	{ P_SINGLE, "ROLLBACK WORK;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "rollback transaction;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "ABORT;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "ROLLBACK AND CHAIN;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "ROLLBACK TO SAVEPOINT s;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "ROLLBACK WORK TO s;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "ROLLBACK PREPARED 'x';", RF, "refuse", NULL, STD },
	{ P_SINGLE, "SAVEPOINT s;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "RELEASE SAVEPOINT s;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "RELEASE s;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "PREPARE TRANSACTION 'x';", RF, "refuse", NULL, STD },
	{ P_SINGLE, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "SET TRANSACTION SNAPSHOT '00000003-0000001B-1';", RF, "refuse", NULL, STD },
	{ P_SINGLE, "BEGIN ISOLATION LEVEL SERIALIZABLE;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "BEGIN TRANSACTION READ ONLY;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "START TRANSACTION READ ONLY;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "COMMIT AND CHAIN;", RF, "refuse", NULL, STD },
	{ P_SINGLE, "END WORK;", RF, "refuse", NULL, STD },
	{ P_DEF, "ROLLBACK;", RF, "refuse", NULL, STD },
	{ P_DEF, "END;", RF, "refuse", NULL, STD },
	{ P_DEF, "SAVEPOINT pg_psql_temporary_savepoint;", RF, "refuse", NULL, STD },

	/* LANGUAGE, decoded */
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE $$c$$ AS 'x', 'f';", RF, "refuse", NULL,
	  STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE $x$C$x$ AS 'x', 'f';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE U&\"\\0063\" AS 'x', 'f';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE u&\"\\+000063\" AS 'x', 'f';", RF,
	  "refuse", NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE U&\"!0063\" UESCAPE '!' AS 'x', 'f';",
	  RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS text LANGUAGE U&'\\0069nternal' AS 'textout';", RF,
	  "refuse", NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE E'\\x63' AS 'x', 'f';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE E'\\143' AS 'x', 'f';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE e'\\u0043' AS 'x', 'f';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE '\\x63' AS 'x', 'f';", RF, "refuse",
	  NULL, 0 },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE N'c' AS 'x', 'f';", RF, "refuse", NULL,
	  STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE ''\n'c' AS 'x', 'f';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE B'1' AS 'x';", RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE U&\"\\00\" AS 'x';", RF, "refuse", NULL,
	  STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS text LANGUAGE internal AS 'textout';", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS text AS 'textout' LANGUAGE INTERNAL;", RF, "refuse",
	  NULL, STD },
	{ P_DEF, "CREATE OR REPLACE FUNCTION f() RETURNS text LANGUAGE \"internal\" AS 'textout';",
	  RF, "refuse", NULL, STD },
	{ P_DEF, "CREATE PROCEDURE p() LANGUAGE c AS 'x', 'p';", RF, "refuse", NULL, STD },
	{ P_DEF,
	  "CREATE FUNCTION f() RETURNS int LANGUAGE U&\"plpgsql\" AS $$ BEGIN RETURN 1; END $$;", F,
	  NULL, NULL, STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE $$sql$$ AS 'SELECT 1';", F, NULL, NULL,
	  STD },
	{ P_DEF, "CREATE FUNCTION f() RETURNS int LANGUAGE 'cc' AS 'SELECT 1';", F, NULL, NULL,
	  STD },
	{ P_DEF, "CREATE FUNCTION f(internal) RETURNS int LANGUAGE sql AS 'SELECT 1';", F, NULL,
	  NULL, STD },
	{ P_NATIVE,
	  "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE c\n    AS '$libdir/regress', 'f';",
	  F, NULL, NULL, STD },
	{ P_NATIVE, "CREATE FUNCTION f() RETURNS text LANGUAGE internal AS 'textout';", F, NULL,
	  NULL, STD },
	{ P_NATIVE_ONLY,
	  "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE c\n    AS '$libdir/regress', 'f';",
	  RF, "refuse", NULL, STD },
	{ P_SUPER,
	  "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE c\n    AS '$libdir/regress', 'f';",
	  RF, "refuse", NULL, STD },

	/* publications */
	{ P_PUB, "CREATE PUBLICATION pub WITH (publish = 'insert, update, delete, truncate');", F,
	  NULL, NULL, STD },
	{ P_PUB, "ALTER PUBLICATION pub ADD TABLE ONLY s.t;", F, NULL, NULL, STD },
	{ P_PUB, "COMMENT ON PUBLICATION pub IS 'x';", F, NULL, NULL, STD },
	{ P_PUB, "ALTER PUBLICATION pub OWNER TO postgres;", D, "owner", NULL, STD },
	{ P_PUB,
	  "CREATE SUBSCRIPTION sub CONNECTION 'host=x' PUBLICATION pub WITH (connect = false);", D,
	  "superuser-only", NULL, STD },
	{ P_PUB_ONLY, "CREATE PUBLICATION pub;", D, "superuser-only", NULL, STD },
	{ P_SUPER, "ALTER PUBLICATION pub ADD TABLE ONLY s.t;", D, "superuser-only", NULL, STD },

	/* clean: pg_dump --clean's drops, in a fresh dump's prelude */
	{ P_CLEAR, "DROP TABLE IF EXISTS public.t;", D, "clean", NULL, STD },
	{ P_CLEAR, "DROP TABLE public.t;", D, "clean", NULL, STD },
	{ P_CLEAR, "DROP SCHEMA IF EXISTS s;", D, "clean", NULL, STD },
	{ P_CLEAR, "DROP USER MAPPING IF EXISTS FOR synapse SERVER srv;", D, "clean", NULL, STD },
	{ P_CLEAR, "ALTER TABLE IF EXISTS ONLY public.t DROP CONSTRAINT IF EXISTS t_pkey;", D,
	  "clean", NULL, STD },
	{ P_CLEAR, "ALTER TABLE ONLY public.t DROP CONSTRAINT t_pkey;", D, "clean", NULL, STD },
	{ P_CLEAR, "ALTER TABLE IF EXISTS public.t ALTER COLUMN id DROP DEFAULT;", D, "clean", NULL,
	  STD },
	{ P_CLEAR, "ALTER FOREIGN TABLE IF EXISTS ft ALTER COLUMN \"Id\" DROP DEFAULT;", D, "clean",
	  NULL, STD },
	{ P_CLEAR, "ALTER TABLE ONLY public.t DROP CONSTRAINT a, DROP CONSTRAINT b;", F, NULL, NULL,
	  STD },
	{ P_CLEAR,
	  "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16385';",
	  F, NULL, NULL, STD },
	{ P_CLEAR, "SELECT pg_catalog.lo_unlink('16385');", RW, "clean",
	  "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16385';",
	  STD },
	{ P_CLEAR,
	  "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = 'x';",
	  RF, "refuse", NULL, STD },
	{ P_CLEAR, "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;", RF,
	  "refuse", NULL, STD },
	{ P_CLEAR, "DROP ROLE synapse;", RF, "refuse", NULL, STD },
	{ P_CLEAR, "DROP TABLESPACE ts;", RF, "refuse", NULL, STD },
	{ P_DEF, "ALTER TABLE IF EXISTS ONLY public.t DROP CONSTRAINT IF EXISTS t_pkey;", F, NULL,
	  NULL, STD },
	{ P_DEF,
	  "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16385';",
	  RF, "refuse", NULL, STD },
	{ P_DROP, "SELECT pg_catalog.lo_unlink('16385');", F, NULL, NULL, STD },
	{ P_DROP,
	  "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16385';",
	  F, NULL, NULL, STD },

	/* INSERT as pg_dump --inserts writes it */
	{ P_DEF, "INSERT INTO public.t VALUES (1, 'a', NULL, true, -2.5e3, B'0101', DEFAULT);", F,
	  NULL, NULL, STD },
	{ P_DEF, "INSERT INTO public.t (a, \"B\") VALUES (1, E'x\\'y');", F, NULL, NULL, STD },
	{ P_DEF, "INSERT INTO public.t OVERRIDING SYSTEM VALUE VALUES (1);", F, NULL, NULL, STD },
	{ P_DEF, "INSERT INTO public.t (a) OVERRIDING SYSTEM VALUE VALUES\n\t(1),\n\t(2);", F, NULL,
	  NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (1) ON CONFLICT DO NOTHING;", F, NULL, NULL, STD },
	{ P_DEF, "INSERT INTO t VALUES ('NaN')", F, NULL, NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (public.f());", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES ((SELECT 1));", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (1 + 1);", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES ('1'::int);", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t SELECT * FROM pg_authid;", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (1) RETURNING public.f();", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (1) ON CONFLICT (a) DO UPDATE SET a = public.f();",
	  RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO ks.no_columns DEFAULT VALUES;", F, NULL, NULL, STD },
	{ P_DEF, "INSERT INTO public.t DEFAULT VALUES RETURNING public.f();", RF, "refuse", NULL,
	  STD },
	{ P_DEF, "INSERT INTO public.t (a) DEFAULT;", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (1);;", RF, "refuse", NULL, STD },
	{ P_DEF, "INSERT INTO public.t VALUES (current_user);", RF, "refuse", NULL, STD },
	{ P_DEF, "WITH x AS (INSERT INTO public.t VALUES (1)) SELECT 1;", RF, "refuse", NULL, STD },

	/* bodies, strings and comments never match */
	{ P_DEF,
	  "CREATE FUNCTION public.f() RETURNS void\n    LANGUAGE plpgsql\n    AS $$\nBEGIN\n"
	  "GRANT ALL ON t TO x;\nALTER TABLE t OWNER TO y;\nDROP TABLE z;\nCOPY t TO '/tmp/x';\nEND;\n$$;",
	  F, NULL, NULL, STD },
	{ P_DEF, "COMMENT ON TABLE t IS 'ALTER TABLE x OWNER TO y; DROP TABLE z;';", F, NULL, NULL,
	  STD },
	{ P_DEF, "COMMENT ON TABLE t IS E'it\\'s; ALTER TABLE x OWNER TO y';", F, NULL, NULL, STD },
	{ P_DEF, "COMMENT ON TABLE t IS 'a\\' OWNER TO x';", F, NULL, NULL, 0 },
	{ P_DEF, "/* ALTER TABLE t OWNER TO y; */ CREATE TABLE t (a int);", F, NULL, NULL, STD },
	{ P_DEF, "CREATE TABLE \"DROP TABLE x;\" (\"OWNER TO\" int);", F, NULL, NULL, STD },
};

/* The first bytes of s on one line, for a test's name. */
static const char *
oneline(const char *s)
{
	static char buf[72];
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(buf); i++)
		buf[i] = (s[i] == '\n' || s[i] == '\t') ? ' ' : s[i];
	buf[i] = '\0';
	return buf;
}

static void
run_case(size_t i, const struct rcase *c)
{
	struct rules_options o;
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	size_t len = strlen(c->in);
	char *copy = malloc(len ? len : 1);
	enum rules_action a;
	int ok;

	memcpy(copy, c->in, len);
	profile(c->p, &o);
	rules_init(&r, &o);
	memset(&ev, 0, sizeof(ev));
	ev.type = LEXER_STATEMENT;
	ev.data = copy;
	ev.len = len;
	ev.line = 812;
	ev.std_strings = c->std;
	a = rules_apply(&r, &ev, &v);
	ok = a == c->want && v.action == c->want;
	if (c->rule == NULL)
		ok = ok && v.rule == NULL;
	else
		ok = ok && v.rule != NULL && strcmp(v.rule, c->rule) == 0;
	if (c->want == F)
		ok = ok && v.text == copy && v.len == len;
	if (c->want == RW)
		ok = ok && c->out != NULL && v.len == strlen(c->out) &&
		     memcmp(v.text, c->out, v.len) == 0;
	if (c->want != F)
		ok = ok && v.reason != NULL && v.reason[0] != '\0' &&
		     strchr(v.reason, '\n') == NULL;
	if (c->want == RF)
		ok = ok && strstr(v.reason, "(line 812)") != NULL;
	T_OK(ok, "case %zu (%s): %s -> %d %s", i, c->rule ? c->rule : "forward", oneline(c->in),
	     (int)a, v.rule ? v.rule : "");
	rules_free(&r);
	free(copy);
}

/* A sequence of events on one struct rules. */
struct step {
	char type; /* 'S' statement, 'M' meta-command */
	const char *in;
	enum rules_action want;
	const char *rule;
	const char *reason_has; /* substring of the reason, or NULL */
};

static void
run_steps(const char *name, enum profile p, const struct step *s, size_t n, struct rules *keep)
{
	struct rules_options o;
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	size_t i;
	int ok = 1;

	profile(p, &o);
	rules_init(&r, &o);
	for (i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = s[i].type == 'M' ? LEXER_META : LEXER_STATEMENT;
		ev.data = s[i].in;
		ev.len = strlen(s[i].in);
		ev.line = (uint64_t)i + 1;
		ev.std_strings = 1;
		rules_apply(&r, &ev, &v);
		if (v.action != s[i].want || (s[i].rule == NULL) != (v.rule == NULL) ||
		    (s[i].rule != NULL && strcmp(s[i].rule, v.rule) != 0) ||
		    (s[i].reason_has != NULL &&
		     (v.reason == NULL || strstr(v.reason, s[i].reason_has) == NULL))) {
			printf("# %s: step %zu (%s) got action %d rule %s reason %s\n", name, i,
			       s[i].in, (int)v.action, v.rule ? v.rule : "-",
			       v.reason ? v.reason : "-");
			ok = 0;
		}
	}
	T_OK(ok, "sequence: %s", name);
	if (keep != NULL)
		*keep = r;
	else
		rules_free(&r);
}

#define STEPS(name, p, arr) run_steps(name, p, arr, sizeof(arr) / sizeof(arr[0]), NULL)

/* pg_dump 15.18 -C of a database named "my db", with its properties. */
static const struct step preamble_complex[] = {
	{ 'M', "\\restrict Ivkfm8ZbDpng88g6Ohb9xAjNB5vXeUKOSIodKDhJoa1lzyXX82TXYO7nKnaQ3sg", D,
	  "meta", NULL },
	{ 'S', "SET statement_timeout = 0;", F, NULL, NULL },
	{ 'S', "SELECT pg_catalog.set_config('search_path', '', false);", F, NULL, NULL },
	{ 'S',
	  "CREATE DATABASE \"my db\" WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';",
	  D, "meta", NULL },
	{ 'S', "ALTER DATABASE \"my db\" OWNER TO synapse;", D, "meta", NULL },
	{ 'M', "\\unrestrict Ivkfm8ZbDpng88g6Ohb9xAjNB5vXeUKOSIodKDhJoa1lzyXX82TXYO7nKnaQ3sg", D,
	  "meta", NULL },
	{ 'M', "\\encoding SQL_ASCII", D, "meta", NULL },
	{ 'M', "\\connect -reuse-previous=on \"dbname='my db'\"", D, "meta", NULL },
	{ 'M', "\\restrict Ivkfm8ZbDpng88g6Ohb9xAjNB5vXeUKOSIodKDhJoa1lzyXX82TXYO7nKnaQ3sg", D,
	  "meta", NULL },
	{ 'S', "SET client_encoding = 'UTF8';", F, NULL, NULL },
	{ 'S', "COMMENT ON DATABASE \"my db\" IS 'test db';", D, "meta", NULL },
	{ 'S', "ALTER DATABASE \"my db\" SET work_mem TO '8MB';", D, "meta", NULL },
	{ 'S', "ALTER ROLE synapse IN DATABASE \"my db\" SET search_path TO s;", D, "meta", NULL },
	{ 'S', "SECURITY LABEL FOR selinux ON DATABASE \"my db\" IS 'x';", D, "meta", NULL },
	{ 'M', "\\unrestrict Ivkfm8ZbDpng88g6Ohb9xAjNB5vXeUKOSIodKDhJoa1lzyXX82TXYO7nKnaQ3sg", D,
	  "meta", NULL },
	{ 'M', "\\encoding SQL_ASCII", D, "meta", NULL },
	{ 'M', "\\connect -reuse-previous=on \"dbname='my db'\"", D, "meta", NULL },
	{ 'S', "CREATE SCHEMA s;", F, NULL, NULL },
	{ 'S', "ALTER DATABASE other SET work_mem TO '8MB';", RF, "refuse", "line 19" },
	{ 'S', "CREATE DATABASE x;", RF, "refuse", "CREATE DATABASE" },
	{ 'M', "\\connect other", RF, "meta", "pg_dumpall" },
	{ 'M', "\\! rm -rf /", RF, "meta", "\\!" },
};

/* pg_dump 15.18 -C of "Plain" and of "Other""DB". */
static const struct step preamble_plain[] = {
	{ 'S',
	  "CREATE DATABASE \"Plain\" WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';",
	  D, "meta", NULL },
	{ 'S', "ALTER DATABASE \"Plain\" OWNER TO postgres;", D, "meta", NULL },
	{ 'M', "\\connect \"Plain\"", D, "meta", NULL },
	{ 'S', "CREATE TABLE t (a int);", F, NULL, NULL },
	{ 'M', "\\connect Plain", D, "meta", NULL },
	{ 'M', "\\connect plain", RF, "meta", NULL },
};

static const struct step preamble_quote[] = {
	{ 'S', "CREATE DATABASE \"Other\"\"DB\" WITH TEMPLATE = template0;", D, "meta", NULL },
	{ 'S', "ALTER DATABASE \"Other\"\"DB\" OWNER TO postgres;", D, "meta", NULL },
	{ 'M', "\\connect -reuse-previous=on \"dbname='Other\"\"DB'\"", D, "meta", NULL },
	{ 'M', "\\connect -reuse-previous=on \"dbname='Other\"\"DB' host=x\"", D, "meta", NULL },
};

/* pg_dump -C --clean, with --allow-drop */
static const struct step preamble_clean[] = {
	{ 'S', "SET lock_timeout = 0;", F, NULL, NULL },
	{ 'S', "DROP DATABASE IF EXISTS \"my db\";", D, "meta", NULL },
	{ 'S', "CREATE DATABASE \"my db\" WITH TEMPLATE = template0;", D, "meta", NULL },
	{ 'S', "ALTER DATABASE \"my db\" OWNER TO synapse;", D, "meta", NULL },
	{ 'M', "\\connect -reuse-previous=on \"dbname='my db'\"", D, "meta", NULL },
	{ 'S', "DROP TABLE IF EXISTS public.t;", F, NULL, NULL },
	{ 'S', "DROP DATABASE \"my db\";", RF, "refuse", NULL },
};

static const struct step clean_no_allow[] = {
	{ 'S', "DROP DATABASE IF EXISTS \"my db\";", RF, "refuse", "--allow-drop" },
};

/* CREATE DATABASE once a real statement went out */
static const struct step late_create[] = {
	{ 'S', "SET statement_timeout = 0;", F, NULL, NULL },
	{ 'S', "CREATE TABLE t (a int);", F, NULL, NULL },
	{ 'S', "CREATE DATABASE x;", RF, "refuse", "line 3" },
};

static const struct step create_after_connect[] = {
	{ 'M', "\\connect synapse", D, "meta", NULL },
	{ 'S', "CREATE DATABASE synapse;", RF, "refuse", NULL },
	{ 'S', "ALTER DATABASE synapse SET work_mem = '1MB';", D, "meta", NULL },
};

static const struct step connect_mismatch[] = {
	{ 'S', "CREATE DATABASE a;", D, "meta", NULL },
	{ 'M', "\\connect b", RF, "meta", NULL },
	{ 'S', "ALTER DATABASE b OWNER TO x;", RF, "refuse", NULL },
};

/* pg_dumpall 15.18: roles, then \connect template1, ... */
static const struct step dumpall[] = {
	{ 'S', "SET default_transaction_read_only = off;", F, NULL, NULL },
	{ 'S', "CREATE ROLE \"Synapse User\";", RF, "refuse", "line 2" },
	{ 'M', "\\connect template1", D, "meta", NULL },
	{ 'S', "SET statement_timeout = 0;", F, NULL, NULL },
	{ 'M', "\\connect postgres", RF, "meta", "pg_dumpall" },
};

static const struct step metas[] = {
	{ 'M', "\\encoding UTF8", RF, "meta", "\\encoding" },
	{ 'M', "\\copy t from '/etc/passwd'", RF, "meta", "\\copy" },
	{ 'M', "\\set ON_ERROR_STOP off", RF, "meta", "\\set" },
	{ 'M', "\\i /etc/passwd", RF, "meta", "line 4" },
	{ 'M', "\\connect postgresql://host/db", RF, "meta", NULL },
	{ 'M', "\\connect", RF, "meta", NULL },
	{ 'M', "\\restrict abc", D, "meta", NULL },
	{ 'M', "\\unrestrict abc", D, "meta", NULL },
};

/* pg_dump 15 --clean --if-exists into a --clear-target import */
static const struct step clean_clear[] = {
	{ 'M', "\\restrict k", D, "meta", NULL },
	{ 'S', "SET statement_timeout = 0;", F, NULL, NULL },
	{ 'S', "SELECT pg_catalog.set_config('search_path', '', false);", F, NULL, NULL },
	{ 'S', "ALTER TABLE IF EXISTS ONLY public.t DROP CONSTRAINT IF EXISTS t_fk;", D, "clean",
	  "cleared" },
	{ 'S', "DROP INDEX IF EXISTS public.t_i;", D, "clean", NULL },
	{ 'S',
	  "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16385';",
	  F, NULL, NULL },
	{ 'S', "ALTER TABLE IF EXISTS public.t ALTER COLUMN id DROP DEFAULT;", D, "clean", NULL },
	{ 'S', "DROP TABLE IF EXISTS public.t;", D, "clean", NULL },
	{ 'S', "DROP SCHEMA IF EXISTS s;", D, "clean", NULL },
	{ 'S', "SET default_tablespace = '';", F, NULL, NULL },
	{ 'S', "CREATE SCHEMA s;", F, NULL, NULL },
	{ 'S', "ALTER TABLE IF EXISTS ONLY public.t DROP CONSTRAINT IF EXISTS t_fk;", F, NULL,
	  NULL },
	{ 'S', "DROP TABLE IF EXISTS public.t;", RF, "refuse", "after the dump's first object" },
};

/* the same without --clear-target or --allow-drop: refused, saying what to do */
static const struct step clean_default[] = {
	{ 'S', "SET statement_timeout = 0;", F, NULL, NULL },
	{ 'S', "ALTER TABLE IF EXISTS ONLY public.t DROP CONSTRAINT IF EXISTS t_fk;", F, NULL,
	  NULL },
	{ 'S', "DROP TABLE IF EXISTS public.t;", RF, "refuse", "--clear-target" },
};

/* pg_dump -C --clean into a --clear-target import */
static const struct step preamble_clean_clear[] = {
	{ 'S', "DROP DATABASE IF EXISTS \"my db\";", D, "meta", NULL },
	{ 'S', "CREATE DATABASE \"my db\" WITH TEMPLATE = template0;", D, "meta", NULL },
	{ 'M', "\\connect -reuse-previous=on \"dbname='my db'\"", D, "meta", NULL },
	{ 'S', "CREATE TABLE public.t (a int);", F, NULL, NULL },
};

/* A trigger created before the data would fire on every row COPY loads. */
static const struct step trigger_first[] = {
	{ 'S', "CREATE TABLE public.t (a int);", F, NULL, NULL },
	{ 'S',
	  "CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;",
	  F, NULL, NULL },
	{ 'S',
	  "CREATE TRIGGER trg BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();",
	  F, NULL, NULL },
	{ 'S', "COPY public.t (a) FROM stdin;", RF, "refuse", "CREATE TRIGGER trg BEFORE INSERT" },
	{ 'S', "INSERT INTO public.t VALUES (1);", RF, "refuse", "line 3" },
};

/* pg_dump's own order: pre-data, data, post-data */
static const struct step dump_order[] = {
	{ 'S', "CREATE TABLE public.t (a int CHECK (a > 0));", F, NULL, NULL },
	{ 'S', "CREATE MATERIALIZED VIEW public.mv AS SELECT a FROM public.t WITH NO DATA;", F,
	  NULL, NULL },
	{ 'S', "ALTER TABLE ONLY public.t ALTER COLUMN a SET DEFAULT 1;", F, NULL, NULL },
	{ 'S', "COPY public.t (a) FROM stdin;", F, NULL, NULL },
	{ 'S', "INSERT INTO public.t VALUES (2);", F, NULL, NULL },
	{ 'S', "BEGIN;", F, NULL, NULL },
	{ 'S', "SELECT pg_catalog.lo_open('16385', 131072);", F, NULL, NULL },
	{ 'S', "SELECT pg_catalog.lowrite(0, '\\x00');", F, NULL, NULL },
	{ 'S', "SELECT pg_catalog.lo_close(0);", F, NULL, NULL },
	{ 'S', "COMMIT;", F, NULL, NULL },
	{ 'S', "SELECT pg_catalog.setval('public.s', 1, true);", F, NULL, NULL },
	{ 'S', "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (a);", F, NULL, NULL },
	{ 'S', "CREATE INDEX t_i ON public.t USING btree (a);", F, NULL, NULL },
	{ 'S',
	  "SELECT * FROM pg_catalog.pg_restore_relation_stats('version', '180000'::integer, 'schemaname', 'public', 'relname', 't_i');",
	  F, NULL, NULL },
	{ 'S', "REFRESH MATERIALIZED VIEW public.mv;", F, NULL, NULL },
	{ 'S', "COPY public.t (a) FROM stdin;", RF, "refuse",
	  "ALTER TABLE ONLY public.t ADD CONSTRAINT" },
};

static void
test_stats(void)
{
	static const struct step s[] = {
		{ 'S', ";", D, "empty", NULL },
		{ 'S', "ALTER TABLE t OWNER TO a;", D, "owner", NULL },
		{ 'S', "ALTER TABLE u OWNER TO a;", D, "owner", NULL },
		{ 'S', "CREATE SCHEMA public;", RW, "public-schema", NULL },
		{ 'M', "\\restrict k", D, "meta", NULL },
		{ 'M', "\\! ls", RF, "meta", NULL },
		{ 'S', "CREATE TABLE t (a int);", F, NULL, NULL },
	};
	struct rules r;
	struct rules_stat st[RULES_MAX_STATS];
	int n;

	run_steps("statistics", P_DEF, s, sizeof(s) / sizeof(s[0]), &r);
	n = rules_stats(&r, st, RULES_MAX_STATS);
	T_OK(n == 5 && strcmp(st[0].rule, "empty") == 0 && st[0].count == 1 &&
	             strcmp(st[1].rule, "owner") == 0 && strcmp(st[1].action, "dropped") == 0 &&
	             st[1].count == 2 && strcmp(st[2].rule, "meta") == 0 &&
	             strcmp(st[2].action, "dropped") == 0 && strcmp(st[3].rule, "meta") == 0 &&
	             strcmp(st[3].action, "refused") == 0 &&
	             strcmp(st[4].rule, "public-schema") == 0 &&
	             strcmp(st[4].action, "rewritten") == 0,
	     "rules_stats lists each rule and action that acted, in table order");
	T_OK(rules_stats(&r, st, 2) == 2, "rules_stats honours max");
	rules_free(&r);
}

/*
 * COPY FREEZE: a sequence of statements, each with the text expected to be
 * sent ("=" the statement as it is), and the tables kept for ANALYZE.
 */
static void
test_freeze(void)
{
	static const struct {
		const char *in, *out;
	} s[] = {
		{ "CREATE TABLE public.events (a int);", "=" },
		{ "CREATE UNLOGGED TABLE \"Odd\".\"We\"\"ird\" (a int);", "=" },
		{ "CREATE TABLE public.m (a int) PARTITION BY RANGE (a);", "=" },
		{ "CREATE TABLE public.m_1 PARTITION OF public.m FOR VALUES FROM (1) TO (2);",
		  "=" },
		{ "CREATE TABLE public.m_2 (a int);", "=" },
		{ "ALTER TABLE ONLY public.m ATTACH PARTITION public.m_2 FOR VALUES FROM (2) TO (3);",
		  "=" },
		{ "CREATE TABLE IF NOT EXISTS public.maybe (a int);", "=" },
		{ "CREATE TABLE public.\"partition\" (by int, \"partition\" int);", "=" },
		{ "CREATE TABLE public.sub (a int) PARTITION BY LIST (a);", "=" },
		{ "COPY public.events (a) FROM stdin;",
		  "COPY public.events (a) FROM stdin WITH (FREEZE);" },
		{ "COPY Public.\"events\" FROM STDIN;",
		  "COPY Public.\"events\" FROM STDIN WITH (FREEZE);" },
		{ "COPY \"Odd\".\"We\"\"ird\" (a) FROM stdin;",
		  "COPY \"Odd\".\"We\"\"ird\" (a) FROM stdin WITH (FREEZE);" },
		{ "COPY public.m_1 (a) FROM stdin;",
		  "COPY public.m_1 (a) FROM stdin WITH (FREEZE);" },
		{ "COPY public.m_2 (a) FROM stdin;",
		  "COPY public.m_2 (a) FROM stdin WITH (FREEZE);" },
		{ "COPY public.\"partition\" (by) FROM stdin;",
		  "COPY public.\"partition\" (by) FROM stdin WITH (FREEZE);" },
		{ "COPY public.m (a) FROM stdin;", "=" }, /* partitioned: refused by the server */
		{ "COPY public.sub (a) FROM stdin;", "=" },
		{ "COPY public.maybe (a) FROM stdin;",
		  "=" }, /* IF NOT EXISTS may not have created it */
		{ "COPY public.other (a) FROM stdin;", "=" }, /* not created by the stream */
		{ "COPY events (a) FROM stdin;", "=" }, /* another spelling may be another table */
		{ "COPY \"odd\".\"We\"\"ird\" (a) FROM stdin;", "=" },
		{ "COPY public.events (a) FROM stdin WITH (FORMAT csv);", "=" },
	};
	static const char *const analyze[] = {
		"\"public\".\"events\"",    "\"Odd\".\"We\"\"ird\"", "\"public\".\"m\"",
		"\"public\".\"partition\"", "\"public\".\"sub\"",
	};
	struct rules_options o;
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	char name[256];
	size_t i, k = 0;
	int ok = 1, f, parts = 0;

	profile(P_FREEZE, &o);
	rules_init(&r, &o);
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		const char *want = strcmp(s[i].out, "=") == 0 ? s[i].in : s[i].out;

		memset(&ev, 0, sizeof(ev));
		ev.type = LEXER_STATEMENT;
		ev.data = s[i].in;
		ev.len = strlen(s[i].in);
		ev.line = i + 1;
		ev.std_strings = 1;
		rules_apply(&r, &ev, &v);
		if (v.action == RULES_REFUSE || v.len != strlen(want) ||
		    memcmp(v.text, want, v.len) != 0 ||
		    (want != s[i].in) !=
		            (v.action == RULES_REWRITE && strcmp(v.rule, "copy-freeze") == 0)) {
			printf("# freeze: step %zu (%s) got %d %.*s\n", i, s[i].in, (int)v.action,
			       (int)v.len, v.text);
			ok = 0;
		}
	}
	T_OK(ok, "COPY FREEZE only into tables the stream created, never a partitioned one");
	for (i = 0; i < rules_tables(&r); i++) {
		f = rules_table_sql(&r, i, name, sizeof(name));
		if (f & RULES_TABLE_PARTITION) {
			parts++;
			continue;
		}
		if (k >= sizeof(analyze) / sizeof(analyze[0]) || strcmp(name, analyze[k++]) != 0) {
			printf("# freeze: table %zu is %s\n", i, name);
			ok = 0;
		}
	}
	T_OK(ok && k == sizeof(analyze) / sizeof(analyze[0]) && parts == 2 &&
	             rules_tables_complete(&r),
	     "the tables to analyze: created ones, partitions covered by their root");
	T_OK(rules_table_sql(&r, 1, name, 8) == -1, "rules_table_sql says when out is too small");
	rules_free(&r);

	/* off (--jobs, filter): the COPY is left alone, the tables are still kept */
	profile(P_SINGLE, &o);
	rules_init(&r, &o);
	for (i = 0; i < 2; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = LEXER_STATEMENT;
		ev.data = i == 0 ? s[0].in : s[9].in;
		ev.len = strlen(ev.data);
		ev.std_strings = 1;
		rules_apply(&r, &ev, &v);
	}
	T_OK(v.action == RULES_FORWARD && rules_tables(&r) == 1,
	     "without copy_freeze the COPY is forwarded as it is");
	rules_free(&r);

	/* many tables: the set grows */
	profile(P_FREEZE, &o);
	rules_init(&r, &o);
	ok = 1;
	for (i = 0; i < 6000; i++) {
		char sql[96];
		size_t t = i < 3000 ? i : i - 3000;

		snprintf(sql, sizeof(sql),
		         i < 3000 ? "CREATE TABLE s.t%zu (a int);" : "COPY s.t%zu FROM stdin;", t);
		memset(&ev, 0, sizeof(ev));
		ev.type = LEXER_STATEMENT;
		ev.data = sql;
		ev.len = strlen(sql);
		ev.std_strings = 1;
		rules_apply(&r, &ev, &v);
		if (i >= 3000 && v.action != RULES_REWRITE)
			ok = 0;
	}
	T_OK(ok && rules_tables(&r) == 3000, "3000 created tables are all found again");
	rules_free(&r);
}

/* pg_dump 18's statistics calls are counted when forwarded, not when dropped. */
static void
test_stats_calls(void)
{
	static const char sql[] = "SELECT * FROM pg_catalog.pg_restore_relation_stats('version', "
				  "'180000'::integer, 'schemaname', 'public', 'relname', 't');";
	struct rules_options o;
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	int n;

	memset(&ev, 0, sizeof(ev));
	ev.type = LEXER_STATEMENT;
	ev.data = sql;
	ev.len = strlen(sql);
	ev.std_strings = 1;
	profile(P_V18, &o);
	rules_init(&r, &o);
	rules_apply(&r, &ev, &v);
	n = (int)rules_stats_calls(&r);
	rules_free(&r);
	profile(P_V17, &o);
	rules_init(&r, &o);
	rules_apply(&r, &ev, &v);
	T_OK(n == 1 && rules_stats_calls(&r) == 0 && v.action == RULES_DROP,
	     "statistics calls: counted on an 18 target, not when dropped for a 17 one");
	rules_free(&r);
}

static void
test_misc(void)
{
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	struct rules_options o;
	char big[8192];
	size_t n = 0;
	int i;

	/* other event types pass untouched */
	rules_init(&r, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.type = LEXER_COPY_DATA;
	ev.data = "1\tOWNER TO x\n";
	ev.len = strlen(ev.data);
	T_OK(rules_apply(&r, &ev, &v) == F && v.text == ev.data && v.len == ev.len,
	     "COPY data is forwarded unchanged");

	/* more tokens than the rules keep in their head */
	n += (size_t)snprintf(big + n, sizeof(big) - n, "ALTER FUNCTION public.f(");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%sinteger", i ? ", " : "");
	n += (size_t)snprintf(big + n, sizeof(big) - n, ") OWNER TO synapse;");
	ev.type = LEXER_STATEMENT;
	ev.data = big;
	ev.len = n;
	T_OK(rules_apply(&r, &ev, &v) == D && strcmp(v.rule, "owner") == 0,
	     "ALTER FUNCTION with 100 arguments OWNER TO is dropped");
	rules_free(&r);

	/* a long grantee list grows the rewrite buffer */
	profile(P_MAP_KEEP, &o);
	rules_init(&r, &o);
	n = (size_t)snprintf(big, sizeof(big), "GRANT SELECT ON TABLE t TO synapse");
	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, ", synapse");
	n += (size_t)snprintf(big + n, sizeof(big) - n, ";");
	ev.len = n;
	T_OK(rules_apply(&r, &ev, &v) == RW && v.len == n + 301 * 5 &&
	             memcmp(v.text, "GRANT SELECT ON TABLE t TO synapse_user, synapse_user", 53) ==
	                     0 &&
	             memcmp(v.text + v.len - 13, "synapse_user;", 13) == 0,
	     "a grantee list of 301 roles is rewritten whole");
	rules_free(&r);

	/* the built-in settings table */
	T_OK(rules_setting_since("transaction_timeout") == 170000 &&
	             rules_setting_since("idle_in_transaction_session_timeout") == 90600 &&
	             rules_setting_since("lock_timeout") == 90300 &&
	             rules_setting_since("row_security") == 90500 &&
	             rules_setting_since("default_table_access_method") == 120000 &&
	             rules_setting_since("DateStyle") > 0 &&
	             rules_setting_since("no_such_thing") == 0,
	     "rules_setting_since knows what pg_dump emits");
	T_OK(rules_setting_known("default_with_oids", 110000) == 1 &&
	             rules_setting_known("default_with_oids", 120000) == 0 &&
	             rules_setting_known("restrict_nonsystem_relation_kind", 130016) == 1 &&
	             rules_setting_known("restrict_nonsystem_relation_kind", 130015) == 0 &&
	             rules_setting_known("restrict_nonsystem_relation_kind", 180000) == 1 &&
	             rules_setting_known("no_such_thing", 150000) == -1,
	     "rules_setting_known: removed parameters and back-patched ones");
}

/* Each post-data object kind ends the data; the other ALTER TABLEs do not. */
static void
test_post_data(void)
{
	static const char *const markers[] = {
		"CREATE TRIGGER t AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();",
		"CREATE CONSTRAINT TRIGGER t AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();",
		"CREATE OR REPLACE TRIGGER t AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();",
		"CREATE RULE r AS ON INSERT TO public.t DO INSTEAD NOTHING;",
		"CREATE POLICY p ON public.t USING (public.f());",
		"CREATE INDEX i ON public.t USING btree (public.f(a));",
		"CREATE UNIQUE INDEX i ON public.t USING btree (a);",
		"ALTER TABLE ONLY public.t ADD CONSTRAINT t_fk FOREIGN KEY (a) REFERENCES public.u(a);",
		"ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (a);",
		"ALTER TABLE ONLY public.t ADD CONSTRAINT t_key UNIQUE (a);",
		"ALTER TABLE ONLY public.t ADD CONSTRAINT t_ex EXCLUDE USING gist (public.f(a) WITH =);",
		"CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION public.f();",
	};
	static const char *const others[] = {
		"ALTER TABLE ONLY public.t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;",
		"ALTER TABLE ONLY public.t ALTER COLUMN a SET DEFAULT nextval('public.s'::regclass);",
		"ALTER TABLE ONLY public.t REPLICA IDENTITY FULL;",
		"CREATE VIEW public.v AS SELECT 1 AS unique;",
		"COMMENT ON INDEX public.i IS 'x';",
		"CREATE TABLE public.\"index\" (a int);",
	};
	static const char *const data[] = { "COPY public.t (a) FROM stdin;",
		                            "INSERT INTO public.t VALUES (1);",
		                            "insert into public.t (a) values (1);" };
	struct rules_options o;
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	size_t i, k;
	int ok = 1;

	for (i = 0; i < sizeof(markers) / sizeof(markers[0]) + sizeof(others) / sizeof(others[0]);
	     i++) {
		int marker = i < sizeof(markers) / sizeof(markers[0]);
		const char *in =
			marker ? markers[i] : others[i - sizeof(markers) / sizeof(markers[0])];

		for (k = 0; k < sizeof(data) / sizeof(data[0]); k++) {
			profile(P_DEF, &o);
			rules_init(&r, &o);
			memset(&ev, 0, sizeof(ev));
			ev.type = LEXER_STATEMENT;
			ev.std_strings = 1;
			ev.data = in;
			ev.len = strlen(in);
			ev.line = 7;
			rules_apply(&r, &ev, &v);
			ev.data = data[k];
			ev.len = strlen(data[k]);
			ev.line = 8;
			rules_apply(&r, &ev, &v);
			if ((v.action == RF) != marker ||
			    (marker && strstr(v.reason, "line 7") == NULL)) {
				printf("# after %s: %s -> %d %s\n", in, data[k], (int)v.action,
				       v.reason ? v.reason : "-");
				ok = 0;
			}
			rules_free(&r);
		}
	}
	T_OK(ok, "COPY and INSERT after each post-data object kind are refused, after others not");
}

/* One verdict on fresh rules. */
static void
one(enum profile p, const char *in, struct rules *r, struct rules_verdict *v)
{
	struct rules_options o;
	struct lexer_event ev;

	profile(p, &o);
	rules_init(r, &o);
	memset(&ev, 0, sizeof(ev));
	ev.type = LEXER_STATEMENT;
	ev.data = in;
	ev.len = strlen(in);
	ev.line = 42;
	ev.std_strings = 1;
	rules_apply(r, &ev, v);
}

static void
test_txn_codes(void)
{
	static const struct {
		enum profile p;
		const char *in;
		enum rules_txn txn;
		enum rules_action a;
	} c[] = {
		{ P_SINGLE, "BEGIN;", RULES_TXN_BEGIN, D },
		{ P_DEF, "BEGIN;", RULES_TXN_BEGIN, F },
		{ P_SINGLE, "START TRANSACTION", RULES_TXN_BEGIN, D },
		{ P_SINGLE, "COMMIT;", RULES_TXN_COMMIT, D },
		{ P_DEF, "COMMIT WORK;", RULES_TXN_COMMIT, F },
		{ P_SINGLE, "END;", RULES_TXN_COMMIT, RF },
		{ P_SINGLE, "ROLLBACK;", RULES_TXN_ROLLBACK, RF },
		{ P_SINGLE, "ABORT WORK;", RULES_TXN_ROLLBACK, RF },
		{ P_SINGLE, "ROLLBACK TO s;", RULES_TXN_OTHER, RF },
		{ P_SINGLE, "SAVEPOINT s;", RULES_TXN_OTHER, RF },
		{ P_SINGLE, "PREPARE TRANSACTION 'x';", RULES_TXN_OTHER, RF },
		{ P_SINGLE, "COMMIT PREPARED 'x';", RULES_TXN_OTHER, RF },
		{ P_SINGLE, "SET TRANSACTION READ ONLY;", RULES_TXN_OTHER, RF },
		{ P_SINGLE, "CREATE TABLE t (a int);", RULES_TXN_NONE, F },
		{ P_SINGLE, "SELECT pg_sleep(1);", RULES_TXN_NONE, RF },
	};
	struct rules r;
	struct rules_verdict v;
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		one(c[i].p, c[i].in, &r, &v);
		if (v.txn != c[i].txn || v.action != c[i].a) {
			printf("# %s: txn %d action %d\n", c[i].in, (int)v.txn, (int)v.action);
			ok = 0;
		}
		rules_free(&r);
	}
	T_OK(ok,
	     "rules_verdict.txn tells BEGIN, COMMIT, ROLLBACK and the rest apart, whatever the action");
}

/* A refusal says what the statement is, why, and what to do. */
static void
test_messages(void)
{
	static const struct {
		enum profile p;
		const char *in;
		const char *starts, *has;
	} c[] = {
		{ P_DEF, "SELECT pg_sleep(1e6);", "SELECT pg_sleep(...): ", "No option allows it" },
		{ P_DEF, "SELECT pg_catalog.pg_terminate_backend(1);",
		  "SELECT pg_catalog.pg_terminate_backend(...): ",
		  "pg_catalog.pg_terminate_backend is not one of" },
		{ P_DEF, "select pg_catalog.setval('s', (select 1), true);",
		  "select pg_catalog.setval(...): ", "literal" },
		{ P_SINGLE, "ROLLBACK;", "ROLLBACK: ", "end the import's transaction" },
		{ P_SINGLE, "SAVEPOINT pg_psql_temporary_savepoint;",
		  "SAVEPOINT pg_psql_temporary_savepoint: ", "ON_ERROR_ROLLBACK" },
		{ P_DEF, "CREATE FUNCTION public.f() RETURNS int LANGUAGE $$c$$ AS 'x', 'f';",
		  "CREATE FUNCTION public.f(...): ",
		  "--allow-superuser-target --allow-native-code" },
		{ P_DEF, "CREATE FUNCTION f() RETURNS text LANGUAGE internal AS 'textout';",
		  "CREATE FUNCTION f(...): LANGUAGE internal", "(line 42)" },
		{ P_DEF, "DROP TABLE IF EXISTS public.t;",
		  "DROP TABLE IF EXISTS public.t: ", "--clear-target" },
		{ P_DEF, "CALL public.p();", "CALL public.p(...): ", "pg_dump never writes" },
		{ P_DEF, "COPY t TO PROGRAM 'id';", "COPY t TO PROGRAM 'id': ", "PROGRAM" },
	};
	struct rules r;
	struct rules_verdict v;
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		one(c[i].p, c[i].in, &r, &v);
		if (v.action != RF || strncmp(v.reason, c[i].starts, strlen(c[i].starts)) != 0 ||
		    strstr(v.reason, c[i].has) == NULL || strstr(v.reason, "(line 42)") == NULL) {
			printf("# %s: %s\n", c[i].in, v.reason ? v.reason : "-");
			ok = 0;
		}
		rules_free(&r);
	}
	T_OK(ok, "refusals start with the statement's first words and say why and what to do");
}

/*
 * Every prefix of every case, as a statement and as a meta-command, under
 * every profile, each in a buffer of its exact size: ASan and UBSan watch
 * for reads past the end on truncated input.
 */
static void
test_prefixes(void)
{
	static const char *const extra[] = { "ALTER",
		                             "SET",
		                             "COMMENT ON",
		                             "SECURITY LABEL",
		                             "DROP DATABASE IF EXISTS",
		                             "ALTER ROLE x IN",
		                             "\\connect \"",
		                             "\\connect -reuse-previous=on \"dbname='",
		                             "\\connect \"dbname=x",
		                             "SELECT set_config(",
		                             "COPY t FROM",
		                             "CREATE FUNCTION f() LANGUAGE",
		                             "GRANT x ON t TO \"",
		                             "$$",
		                             "E'\\" };
	struct rules_options o;
	struct rules r;
	struct rules_verdict v;
	struct lexer_event ev;
	size_t i, k, n = sizeof(cases) / sizeof(cases[0]);
	unsigned long runs = 0;
	int p, meta;

	for (i = 0; i < n + sizeof(extra) / sizeof(extra[0]); i++) {
		const char *in = i < n ? cases[i].in : extra[i - n];
		size_t len = strlen(in);

		for (k = 0; k <= len; k++)
			for (p = P_DEF; p <= P_PUB_ONLY; p++)
				for (meta = 0; meta < 2; meta++) {
					char *copy = malloc(k ? k : 1);

					memcpy(copy, in, k);
					profile((enum profile)p, &o);
					rules_init(&r, &o);
					memset(&ev, 0, sizeof(ev));
					ev.type = meta ? LEXER_META : LEXER_STATEMENT;
					ev.data = copy;
					ev.len = k;
					ev.std_strings = (int)(k & 1);
					rules_apply(&r, &ev, &v);
					rules_free(&r);
					free(copy);
					runs++;
				}
	}
	T_OK(runs > 0, "%lu truncated inputs under every profile run clean", runs);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(i, &cases[i]);
	STEPS("pg_dump -C preamble, database \"my db\"", P_DEF, preamble_complex);
	STEPS("pg_dump -C preamble, database \"Plain\"", P_DEF, preamble_plain);
	STEPS("pg_dump -C preamble, database \"Other\"\"DB\"", P_DEF, preamble_quote);
	STEPS("pg_dump -C --clean preamble with --allow-drop", P_DROP, preamble_clean);
	STEPS("pg_dump -C --clean preamble without --allow-drop", P_DEF, clean_no_allow);
	STEPS("CREATE DATABASE after the preamble", P_DEF, late_create);
	STEPS("CREATE DATABASE after \\connect", P_DEF, create_after_connect);
	STEPS("\\connect to another database than the one created", P_DEF, connect_mismatch);
	STEPS("pg_dumpall: second \\connect refused", P_DEF, dumpall);
	STEPS("other meta-commands", P_DEF, metas);
	STEPS("pg_dump --clean --if-exists with --clear-target", P_CLEAR, clean_clear);
	STEPS("pg_dump --clean --if-exists without options", P_DEF, clean_default);
	STEPS("pg_dump -C --clean with --clear-target", P_CLEAR, preamble_clean_clear);
	STEPS("a trigger before the data", P_DEF, trigger_first);
	STEPS("pg_dump's section order", P_DEF, dump_order);
	test_post_data();
	test_txn_codes();
	test_messages();
	test_stats();
	test_misc();
	test_freeze();
	test_stats_calls();
	test_prefixes();
	T_DONE();
}
