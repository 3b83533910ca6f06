/*
 * log.c - timestamped, levelled log lines on stderr (log.h).
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_level = LOG_LEVEL_INFO;

static const char *const log_names[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

void
log_vmsg(enum log_level level, const char *who, const char *fmt, va_list ap)
{
	char line[4096], msg[3072], stamp[32];
	struct timeval tv;
	struct tm tm;
	size_t n, i, o;
	int len;

	if (level < log_level)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);

	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		return;
	n = (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1;
	while (n > 0 && msg[n - 1] == '\n')
		n--;

	len = snprintf(line, sizeof(line), "%s.%03ld %s [%s] ", stamp,
	               (long)(tv.tv_usec / 1000), log_names[level], who ? who : "-");
	if (len < 0)
		return;
	o = (size_t)len;
	/*
	 * copy the message, indenting continuation lines; other control
	 * characters (a client's bytes quoted in a server error: CR, ESC)
	 * become '?', so that no one can forge or hide a log line
	 */
	for (i = 0; i < n && o < sizeof(line) - 8; i++) {
		line[o++] = ((unsigned char)msg[i] < 0x20 && msg[i] != '\n' && msg[i] != '\t') ||
		                    msg[i] == 0x7f
		                ? '?'
		                : msg[i];
		if (msg[i] == '\n') {
			line[o++] = ' ';
			line[o++] = ' ';
			line[o++] = ' ';
			line[o++] = ' ';
		}
	}
	if (i < n) {
		memcpy(line + o, "...", 3);
		o += 3;
	}
	line[o++] = '\n';
	(void)!write(STDERR_FILENO, line, o);
}

void
log_msg(enum log_level level, const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, who, fmt, ap);
	va_end(ap);
}
