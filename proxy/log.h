/*
 * log.h - the daemon's log: one record per line on stderr.
 *
 * Every record carries an ISO-8601 timestamp with the UTC offset, a level
 * and who it is about (the import id and client address, "#3
 * 10.0.0.5:51234", or "-" for the daemon itself), so that the records of
 * concurrent connections can be told apart in `journalctl` or `kubectl
 * logs`.  A record is one line, whatever the message holds (its inner
 * newlines are folded into " | "), written with one write(2), so records
 * never interleave and a log shipper that reads lines reads records.
 *
 * Three forms (log_set_format):
 *	text     2026-12-02T04:41:07.123+01:00 ERROR [#3 10.0.0.5:51234] message
 *	journal  the same behind a syslog priority, "<3>2026-...": journald (and
 *	         syslog's stderr readers) take the priority from it, so
 *	         `journalctl -p err` finds the errors; chosen by --syslog, or
 *	         by itself when stderr is the journal (JOURNAL_STREAM names
 *	         stderr's device and inode, as systemd sets it)
 *	json     one JSON object per line (jansson): {"time": ISO-8601,
 *	         "level": "error", "priority": 3, "who": "#3 ...", "msg": "..."}
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

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JOURNAL,
	LOG_FORMAT_JSON,
};

/* Records below level are not written (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);

/* The form of every record from now on (default: journal when stderr is
 * the journal, else text). */
void log_set_format(enum log_format format);

/* 1 when stderr is the journal (JOURNAL_STREAM matches it), else 0. */
int log_stderr_is_journal(void);

/*
 * Write one record.  who may be NULL (the daemon).  Trailing newlines of
 * the message are dropped; inner ones and the indentation after them
 * become " | "; other control characters (a client's bytes quoted in a
 * server error: CR, ESC) become '?', so that no one can forge or hide a
 * record.
 */
void log_msg(enum log_level level, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *who, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Between log_group_begin() and log_group_end(), the messages logged make
 * one record, written at the end: the lines of a summary, with the
 * highest level among them and the first message's who.  Groups do not
 * nest; log_group_end() without a group does nothing.
 */
void log_group_begin(void);
void log_group_end(void);

#define log_debug(who, ...) log_msg(LOG_LEVEL_DEBUG, who, __VA_ARGS__)
#define log_info(who, ...) log_msg(LOG_LEVEL_INFO, who, __VA_ARGS__)
#define log_warn(who, ...) log_msg(LOG_LEVEL_WARN, who, __VA_ARGS__)
#define log_error(who, ...) log_msg(LOG_LEVEL_ERROR, who, __VA_ARGS__)

#endif
