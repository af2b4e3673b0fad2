/* Agent log lines: leveled, as text ("metastore-agent: MSG") or one JSON object per line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static enum log_level threshold = LOG_INFO;
static bool as_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_setup(enum log_level level, bool json)
{
	threshold = level;
	as_json = json;
}

/* Appends `s` as the inside of a JSON string: quotes, backslashes and controls escaped. */
static size_t json_escape(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

char *log_format(char *buf, size_t len, enum log_level level, bool json, const struct timespec *ts,
		 const char *msg)
{
	char when[32], esc[1024];
	struct tm tm;

	if (!json) {
		snprintf(buf, len, "metastore-agent: %s\n", msg);
		return buf;
	}
	gmtime_r(&ts->tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	json_escape(esc, sizeof(esc), msg);
	snprintf(buf, len, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"}\n", when,
		 ts->tv_nsec / 1000000, level_names[level], esc);
	return buf;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[768], line[1200];
	struct timespec ts;

	if (level > threshold)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	/* one write per line: lines of the agent and its helper do not interleave */
	fputs(log_format(line, sizeof(line), level, as_json, &ts, msg), stderr);
	fflush(stderr);
}
