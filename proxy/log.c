/*
 * log.c - timestamped, levelled log records on stderr, one per line (log.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"

#define LOG_MSG_MAX 16384

static enum log_level log_level = LOG_LEVEL_INFO;
static int log_format = -1; /* -1: not chosen yet */

static const char *const log_names[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };
static const char *const log_json_names[] = { "debug", "info", "warning", "error" };
/* syslog(3) priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
static const int log_priorities[] = { 7, 6, 4, 3 };
static const char *const log_prefixes[] = { "<7>", "<6>", "<4>", "<3>" };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

void
log_set_format(enum log_format format)
{
	log_format = (int)format;
}

int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* "2026-12-02T04:41:07.123+01:00" */
static void
log_stamp(char *buf, size_t size)
{
	struct timeval tv;
	struct tm tm;
	char date[24], zone[8];

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm); /* +0100 */
	snprintf(buf, size, "%s.%03ld%.3s:%.2s", date, (long)(tv.tv_usec / 1000), zone,
	         zone[0] != '\0' ? zone + 3 : "00");
}

/*
 * msg (n bytes) made one safe line into out (size > 8): newlines and the
 * indentation after them become " | ", other control characters '?';
 * "..." when it does not fit.  Returns the length.
 */
static size_t
log_fold(const char *msg, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 8 < size; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '\n') {
			while (i + 1 < n && (msg[i + 1] == ' ' || msg[i + 1] == '\t'))
				i++;
			memcpy(out + o, " | ", 3);
			o += 3;
			continue;
		}
		out[o++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

/* The JSON form; NULL when out of memory. */
static char *
log_json(enum log_level level, const char *stamp, const char *who, char *msg)
{
	json_t *o, *m;
	char *s, *p;

	m = json_string(msg);
	if (m == NULL) {
		/* not UTF-8 (a client's bytes): keep ASCII */
		for (p = msg; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		m = json_string(msg);
	}
	o = json_pack("{s:s, s:s, s:i, s:s, s:o*}", "time", stamp, "level", log_json_names[level],
	              "priority", log_priorities[level], "who", who ? who : "-", "msg", m);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

/* One record of message msg (n bytes, no trailing newline). */
static void
log_write(enum log_level level, const char *who, const char *msg, size_t n)
{
	static char line[LOG_MSG_MAX + 256], folded[LOG_MSG_MAX + 16];
	char stamp[64], safe_who[256], *js;
	size_t o;
	int len;

	if (log_format < 0)
		log_format = log_stderr_is_journal() ? LOG_FORMAT_JOURNAL : LOG_FORMAT_TEXT;
	log_stamp(stamp, sizeof(stamp));
	log_fold(who ? who : "-", strlen(who ? who : "-"), safe_who, sizeof(safe_who));
	if (log_format == LOG_FORMAT_JSON) {
		/* jansson escapes what JSON needs; the fold keeps the record one line */
		log_fold(msg, n, folded, sizeof(folded));
		js = log_json(level, stamp, safe_who, folded);
		if (js == NULL)
			return;
		o = strlen(js);
		if (o + 1 < sizeof(line)) {
			memcpy(line, js, o);
			line[o++] = '\n';
			(void)!write(STDERR_FILENO, line, o);
		}
		free(js);
		return;
	}
	len = snprintf(line, sizeof(line), "%s%s %s [%s] ",
	               log_format == LOG_FORMAT_JOURNAL ? log_prefixes[level] : "", stamp,
	               log_names[level], safe_who);
	if (len < 0)
		return;
	o = (size_t)len;
	o += log_fold(msg, n, line + o, sizeof(line) - o - 1);
	line[o++] = '\n';
	(void)!write(STDERR_FILENO, line, o);
}

/* an open group: its messages so far, the highest level, whose */
static struct {
	int open;
	char msg[LOG_MSG_MAX];
	size_t len;
	enum log_level level;
	char who[256];
} log_group;

void
log_group_begin(void)
{
	log_group.open = 1;
	log_group.len = 0;
	log_group.level = LOG_LEVEL_DEBUG;
	log_group.who[0] = '\0';
}

void
log_group_end(void)
{
	if (!log_group.open)
		return;
	log_group.open = 0;
	if (log_group.len > 0)
		log_write(log_group.level, log_group.who[0] ? log_group.who : NULL, log_group.msg,
		          log_group.len);
}

void
log_vmsg(enum log_level level, const char *who, const char *fmt, va_list ap)
{
	static char msg[LOG_MSG_MAX];
	size_t n, room;
	int len;

	if (level < log_level)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		return;
	n = (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1;
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	if (!log_group.open) {
		log_write(level, who, msg, n);
		return;
	}
	if (log_group.len == 0 && who != NULL)
		snprintf(log_group.who, sizeof(log_group.who), "%s", who);
	if (level > log_group.level)
		log_group.level = level;
	room = sizeof(log_group.msg) - log_group.len;
	if (log_group.len > 0 && room > 1) {
		log_group.msg[log_group.len++] = '\n';
		room--;
	}
	if (n > room)
		n = room;
	memcpy(log_group.msg + log_group.len, msg, n);
	log_group.len += n;
}

void
log_msg(enum log_level level, const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, who, fmt, ap);
	va_end(ap);
}
