/*
 * lexer_bench.c - the lexer's throughput on one input, in MB/s.
 *
 * usage: lexer_bench FILE [SECONDS]
 * Reads FILE (plain SQL) into memory and lexes it whole, in 64 KiB chunks
 * as the daemon's reads would come, again and again for about SECONDS
 * (default 2), on one core.  Prints "MB/s events".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lexer.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	FILE *f;
	char *buf;
	long size;
	size_t off, used, n, chunk = 64 * 1024;
	double secs = argc > 2 ? atof(argv[2]) : 2.0, t0, t;
	unsigned long long bytes = 0, events = 0;
	struct lexer lx;
	struct lexer_event ev;
	int r;

	if (argc < 2 || (f = fopen(argv[1], "rb")) == NULL) {
		fprintf(stderr, "usage: lexer_bench FILE [SECONDS]\n");
		return 2;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)size);
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "lexer_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	t0 = now();
	do {
		lexer_init(&lx, 0);
		for (off = 0; off < (size_t)size;) {
			n = (size_t)size - off < chunk ? (size_t)size - off : chunk;
			r = lexer_scan(&lx, buf + off, n, &used, &ev);
			off += used;
			if (r == LEXER_EVENT)
				events++;
			else if (r == LEXER_ERROR) {
				fprintf(stderr, "lexer_bench: %s\n", lexer_error(&lx));
				return 1;
			}
		}
		while (lexer_finish(&lx, &ev) == LEXER_EVENT)
			events++;
		lexer_free(&lx);
		bytes += (unsigned long long)size;
		t = now() - t0;
	} while (t < secs);
	printf("%.0f %llu\n", (double)bytes / t / 1e6, events);
	free(buf);
	return 0;
}
