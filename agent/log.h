/* Agent log lines: leveled, as text ("metastore-agent: MSG") or one JSON object per line. */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Sets the threshold (lines above it are dropped) and the format; defaults: info, text. */
void log_setup(enum log_level level, bool json);

/*
 * Formats one line into buf: text "metastore-agent: MSG\n", or JSON
 * {"ts":"2026-12-01T14:00:00.123Z","level":"info","msg":"MSG"} with MSG escaped. `ts` is
 * the time to show (UTC). Returns buf.
 */
char *log_format(char *buf, size_t len, enum log_level level, bool json, const struct timespec *ts,
		 const char *msg);

/* Writes one line to stderr if `level` is within the threshold. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_msg with a va_list. */
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#endif /* AGENT_LOG_H */
