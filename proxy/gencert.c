/*
 * gencert.c - `pgsluice gen-cert`: a self-signed certificate and its key,
 * so that TLS is as easy to turn on as it is to leave off.
 *
 *	pgsluice gen-cert --host ees.example.org [--host 10.0.0.7] [--out DIR]
 *
 * An EC P-256 key (every TLS 1.2/1.3 client takes it; small and fast), a
 * certificate whose subjectAltName lists each --host (a DNS name, or an IP
 * address when it parses as one), signed by its own key.  The client
 * trusts it by name: `pgsluice send --ca pgsluice.crt host:5480`.
 * The key file is created 0600 and never overwritten without --force;
 * --out DIR is created (0700) when it is missing and its parent exists.
 * Kept out of serve.c: it runs once, by hand, and has its own options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"

#define GENCERT_MAX_HOSTS 16
#define GENCERT_DEFAULT_DAYS 825 /* the longest validity clients still accept */

enum {
	GENCERT_OPT_HOST = 1000,
	GENCERT_OPT_OUT,
	GENCERT_OPT_DAYS,
	GENCERT_OPT_FORCE,
};

static void
gencert_usage(FILE *f)
{
	fprintf(f,
	        "usage: pgsluice gen-cert --host NAME [--host NAME]... [--out DIR] [--days N] [--force]\n"
	        "\n"
	        "Makes a self-signed TLS certificate and key for pgsluice serve:\n"
	        "DIR/pgsluice.crt (give it to the clients) and DIR/pgsluice.key (mode 600).\n"
	        "\n"
	        "  --host NAME    the name or IP address clients connect to (repeatable; the\n"
	        "                 certificate is valid for each)\n"
	        "  --out DIR      where to write the two files (default: the current directory);\n"
	        "                 created, mode 700, if missing (its parent must exist)\n"
	        "  --days N       validity in days (default %d)\n"
	        "  --force        overwrite existing files\n"
	        "  -q, --quiet    print nothing (errors still go to stderr)\n"
	        "  -v, --verbose  print the certificate's fields too\n"
	        "  --version      print the version and exit\n"
	        "  -h, --help     this text\n"
	        "\n"
	        "Then:\n"
	        "  pgsluice serve --tls-cert DIR/pgsluice.crt --tls-key DIR/pgsluice.key ...\n"
	        "  pg_dump -O db | gzip | pgsluice send --ca pgsluice.crt NAME:5480\n",
	        GENCERT_DEFAULT_DAYS);
}

static void
gencert_ssl_error(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown error");
	fprintf(stderr, "pgsluice gen-cert: %s: %s\n", what, buf);
	ERR_clear_error();
}

/* Add one v3 extension from its config text ("critical,CA:FALSE"). */
static int
gencert_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL) {
		gencert_ssl_error(value);
		return -1;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* "DNS:a.example,IP:10.0.0.7" from the --host names; -1 on a bad name. */
static int
gencert_san(char *const *hosts, int n, char *out, size_t size)
{
	unsigned char addr[16];
	size_t o = 0;
	int i, w;
	const char *h, *p;

	for (i = 0; i < n; i++) {
		h = hosts[i];
		for (p = h; *p; p++) {
			if (!(*p == '.' || *p == '-' || *p == ':' || *p == '*' || *p == '_' ||
			      (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= 'A' && *p <= 'Z'))) {
				fprintf(stderr,
				        "pgsluice gen-cert: --host %s: want a host name or an IP "
				        "address\n",
				        h);
				return -1;
			}
		}
		if (*h == '\0' || strlen(h) > 253) {
			fprintf(stderr,
			        "pgsluice gen-cert: --host \"%s\": want a host name or an IP "
			        "address\n",
			        h);
			return -1;
		}
		if (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1)
			w = snprintf(out + o, size - o, "%sIP:%s", i ? "," : "", h);
		else if (strchr(h, ':') != NULL) {
			fprintf(stderr, "pgsluice gen-cert: --host %s: not an IP address\n", h);
			return -1;
		} else
			w = snprintf(out + o, size - o, "%sDNS:%s", i ? "," : "", h);
		if (w < 0 || (size_t)w >= size - o) {
			fprintf(stderr, "pgsluice gen-cert: too many --host names\n");
			return -1;
		}
		o += (size_t)w;
	}
	return 0;
}

static X509 *
gencert_make(EVP_PKEY *key, char *const *hosts, int n, long days)
{
	X509 *x;
	X509_NAME *name;
	BIGNUM *serial = NULL;
	char san[GENCERT_MAX_HOSTS * 270];
	const char *cn = strlen(hosts[0]) <= 64 ? hosts[0] : "pgsluice";

	if (gencert_san(hosts, n, san, sizeof(san)) < 0)
		return NULL;
	x = X509_new();
	serial = BN_new();
	if (x == NULL || serial == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pgsluice",
	                               -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;
	/*
	 * It is its own trust anchor (the client's cafile) and the server's
	 * certificate: CA:TRUE so verifiers accept it as an anchor, serverAuth
	 * for the TLS server use.
	 */
	if (gencert_ext(x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    gencert_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    gencert_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    gencert_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    gencert_ext(x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    gencert_ext(x, NID_subject_alt_name, san) < 0)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	BN_free(serial);
	return x;
fail:
	gencert_ssl_error("cannot make the certificate");
	BN_free(serial);
	X509_free(x);
	return NULL;
}

/* Create path with mode (refusing an existing file unless force); a FILE. */
static FILE *
gencert_create(const char *path, mode_t mode, int force)
{
	int fd, flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
	FILE *f;

	flags |= force ? O_TRUNC : O_EXCL;
	fd = open(path, flags, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "pgsluice gen-cert: %s exists; --force overwrites it\n",
			        path);
		else
			fprintf(stderr, "pgsluice gen-cert: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	/* an existing file (--force) keeps its mode otherwise */
	if (fchmod(fd, mode) != 0) {
		fprintf(stderr, "pgsluice gen-cert: %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "w");
	if (f == NULL)
		close(fd);
	return f;
}

/*
 * --out DIR: make it (mode 700) when it is missing and its parent exists;
 * else say which folder is missing.  Returns 0 or -1 with a message.
 */
static int
gencert_out_dir(const char *dir)
{
	char path[4096], *p;
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		fprintf(stderr, "pgsluice gen-cert: --out %s is not a folder\n", dir);
		return -1;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "pgsluice gen-cert: --out %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (mkdir(dir, 0700) == 0) {
		printf("created the folder %s (mode 700)\n", dir);
		return 0;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "pgsluice gen-cert: cannot create the folder %s: %s\n", dir,
		        strerror(errno));
		return -1;
	}
	/* the parent is missing: name the first missing folder on the way */
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (stat(path, &st) != 0)
			break;
		*p = '/';
	}
	fprintf(stderr,
	        "pgsluice gen-cert: --out %s: the folder %s does not exist; create it "
	        "(mkdir -p -m 700 %s) or choose another --out\n",
	        dir, path, dir);
	return -1;
}

int
gencert_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, GENCERT_OPT_HOST },
		{ "out", required_argument, NULL, GENCERT_OPT_OUT },
		{ "days", required_argument, NULL, GENCERT_OPT_DAYS },
		{ "force", no_argument, NULL, GENCERT_OPT_FORCE },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	char *hosts[GENCERT_MAX_HOSTS], crt_path[4096], key_path[4096], *end;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	const char *out = ".";
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	FILE *fk = NULL, *fc = NULL;
	int c, n = 0, force = 0, rc = 1, quiet = 0, verbose = 0;
	long days = GENCERT_DEFAULT_DAYS;

	optind = 1;
	while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, opts, "pgsluice gen-cert")) !=
	       -1) {
		switch (c) {
		case GENCERT_OPT_HOST:
			if (n == GENCERT_MAX_HOSTS) {
				fprintf(stderr, "pgsluice gen-cert: more than %d --host options\n",
				        GENCERT_MAX_HOSTS);
				return 2;
			}
			hosts[n++] = optarg;
			break;
		case GENCERT_OPT_OUT:
			out = optarg;
			break;
		case GENCERT_OPT_DAYS:
			days = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || days < 1 || days > 36500) {
				fprintf(stderr, "pgsluice gen-cert: --days %s: want 1 to 36500\n",
				        optarg);
				return 2;
			}
			break;
		case GENCERT_OPT_FORCE:
			force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			gencert_usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return cli_usage_error("pgsluice gen-cert", "unexpected argument \"%s\"",
		                       argv[optind]);
	if (n == 0)
		return cli_usage_error("pgsluice gen-cert",
		                       "--host is required: the name or "
		                       "address the clients connect to, e.g. --host "
		                       "ees.example.org");
	if (gencert_out_dir(out) < 0)
		return 1;
	snprintf(crt_path, sizeof(crt_path), "%s/pgsluice.crt", out);
	snprintf(key_path, sizeof(key_path), "%s/pgsluice.key", out);

	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		gencert_ssl_error("cannot make an EC P-256 key");
		goto done;
	}
	x = gencert_make(key, hosts, n, days);
	if (x == NULL)
		goto done;
	fk = gencert_create(key_path, 0600, force);
	if (fk == NULL)
		goto done;
	if (PEM_write_PrivateKey(fk, key, NULL, NULL, 0, NULL, NULL) != 1) {
		gencert_ssl_error(key_path);
		goto done;
	}
	if (fclose(fk) != 0) {
		fk = NULL;
		fprintf(stderr, "pgsluice gen-cert: %s: %s\n", key_path, strerror(errno));
		goto done;
	}
	fk = NULL;
	fc = gencert_create(crt_path, 0644, force);
	if (fc == NULL)
		goto done;
	if (PEM_write_X509(fc, x) != 1) {
		gencert_ssl_error(crt_path);
		goto done;
	}
	if (fclose(fc) != 0) {
		fc = NULL;
		fprintf(stderr, "pgsluice gen-cert: %s: %s\n", crt_path, strerror(errno));
		goto done;
	}
	fc = NULL;
	rc = 0;
	if (quiet)
		goto done;
	if (verbose)
		X509_print_fp(stdout, x);
	X509_digest(x, EVP_sha256(), md, &mdlen);
	printf("wrote %s (the certificate, valid %ld days, for", crt_path, days);
	for (c = 0; c < n; c++)
		printf(" %s", hosts[c]);
	printf(")\nwrote %s (its private key, mode 600: keep it on the server)\n", key_path);
	printf("SHA-256 fingerprint: ");
	for (i = 0; i < mdlen; i++)
		printf("%02X%s", md[i], i + 1 < mdlen ? ":" : "\n");
	printf("\nserver:  pgsluice serve --tls-cert %s --tls-key %s --listen 0.0.0.0:5480 ...\n"
	       "client:  copy %s (not the key) to the sending host, then\n"
	       "         pg_dump -O db | gzip | pgsluice send --ca pgsluice.crt %s:5480\n",
	       crt_path, key_path, crt_path, hosts[0]);
done:
	if (fk)
		fclose(fk);
	if (fc)
		fclose(fc);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
