/*
 * test_connhint.c - proxy/connhint.c: a --target with a password in any
 * form libpq takes is printed with password=***, one without is printed as
 * given, one libpq cannot parse is not printed; a refusal libpq repeats
 * for each host of a list is said once; the advice without a password
 * the server wanted.  No server: a refused connection to a closed port.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "connhint.h"
#include "t.h"

static int
masked(const char *conninfo, const char *secret, const char *want)
{
	char buf[1024];

	connhint_mask(conninfo, buf, sizeof(buf));
	if (strstr(buf, secret) != NULL)
		return 0;
	return want == NULL || strstr(buf, want) != NULL;
}

int
main(void)
{
	char buf[2048];
	PGconn *conn;
	const char *p;
	int n;

	T_OK(masked("host=db user=u password=S3cret dbname=synapse", "S3cret", "password=***"),
	     "keyword form: the password is ***");
	T_OK(masked("host=db user=u password=S3cret dbname=synapse", "S3cret", "host=db"),
	     "keyword form: the rest is kept");
	T_OK(masked("host=db password='two words S3cret'", "S3cret", "password=***"),
	     "keyword form, quoted password: ***");
	T_OK(masked("postgresql://u:S3cret@db:5432/synapse", "S3cret", "user=u"),
	     "URI user:password@: the password is gone, the user kept");
	T_OK(masked("postgres://u@db/synapse?password=S3cret&sslmode=require", "S3cret",
	            "sslmode=require"),
	     "URI ?password=: gone, the other parameters kept");
	T_OK(masked("host=db application_name='a b'  password=S3cret", "S3cret",
	            "application_name='a b'"),
	     "a value with a space is quoted again");
	connhint_mask("host=db dbname=synapse user=u", buf, sizeof(buf));
	T_OK(strcmp(buf, "host=db dbname=synapse user=u") == 0,
	     "no password: printed as given (%s)", buf);
	T_OK(masked("host=db password=S3cret 'broken", "S3cret", "not shown"),
	     "a string libpq cannot parse: not shown, password included");

	/* two hosts, both refused: libpq says it twice, we once */
	conn = PQconnectdb("host=127.0.0.1,127.0.0.1 port=1,1 connect_timeout=5 dbname=x");
	T_OK(conn != NULL && PQstatus(conn) == CONNECTION_BAD, "a connection to port 1 is refused");
	connhint_error(conn, buf, sizeof(buf));
	for (n = 0, p = buf; (p = strstr(p, " failed: ")) != NULL; p++)
		n++;
	T_OK(n == 1, "the same refusal for two hosts is said once (%d times: %s)", n, buf);
	T_OK(strchr(buf, '\n') == NULL || buf[strlen(buf) - 1] != '\n', "no trailing newline");
	connhint_advice(conn, buf, sizeof(buf));
	T_OK(strstr(buf, "pg_hba.conf") != NULL, "no password involved: the generic advice (%s)",
	     buf);
	PQfinish(conn);
	connhint_advice(NULL, buf, sizeof(buf));
	T_OK(strstr(buf, "check --target") != NULL, "no connection at all: the generic advice");
	T_DONE();
}
