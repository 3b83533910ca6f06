/*
 * log.h - the daemon's log: one line per event on stderr.
 *
 * Every line carries a timestamp, a level and who it is about (the import
 * id and client address, "#3 10.0.0.5:51234", or "-" for the daemon
 * itself), so that the lines of concurrent connections can be told apart
 * in `journalctl` or `kubectl logs`.  A line is written with one write(2),
 * so lines never interleave.
 */
#ifndef PGSLUICE_LOG_H
#define PGSLUICE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Lines below level are not written (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);

/*
 * Write one line: "2025-11-25 21:10:05.123 INFO  [who] message".  who may be
 * NULL (the daemon).  A trailing newline in the message is dropped; inner
 * newlines are kept, each following line indented.
 */
void log_msg(enum log_level level, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *who, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_debug(who, ...) log_msg(LOG_LEVEL_DEBUG, who, __VA_ARGS__)
#define log_info(who, ...) log_msg(LOG_LEVEL_INFO, who, __VA_ARGS__)
#define log_warn(who, ...) log_msg(LOG_LEVEL_WARN, who, __VA_ARGS__)
#define log_error(who, ...) log_msg(LOG_LEVEL_ERROR, who, __VA_ARGS__)

#endif
