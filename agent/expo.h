/* Exposition: a per-scrape metric registry and its Prometheus / OpenMetrics text renderer. */
#ifndef AGENT_EXPO_H
#define AGENT_EXPO_H

#include <stddef.h>
#include <stdint.h>

enum expo_type { EXPO_COUNTER, EXPO_GAUGE, EXPO_HISTOGRAM };

enum expo_format {
	EXPO_PROMETHEUS, /* text/plain; version=0.0.4 */
	EXPO_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

struct expo_label {
	const char *name;
	const char *value;
};

/* Growable output buffer; zero-initialize, release with expo_buf_free. */
struct expo_buf {
	char *data;
	size_t len;
	size_t cap;
};

struct expo_registry;
struct expo_family;

/* Creates an empty registry. Returns NULL on allocation failure. */
struct expo_registry *expo_registry_new(void);

/* Frees the registry and all its families; NULL is allowed. */
void expo_registry_free(struct expo_registry *reg);

/* Drops every family but keeps the memory for the next scrape; NULL is allowed. */
void expo_registry_reset(struct expo_registry *reg);

/*
 * Adds a family; name and help are copied. Returns NULL on an invalid metric name
 * ([a-zA-Z_:][a-zA-Z0-9_:]*), an unknown type, a name already in the registry, or
 * allocation failure; the series functions accept a NULL family and do nothing (returning
 * -EINVAL), so a collector can add series without checking each family.
 */
struct expo_family *expo_family_add(struct expo_registry *reg, const char *name, const char *help,
				    enum expo_type type);

/* Adds a counter or gauge sample; labels are copied. Integral values render as integers
 * (never 1e+06), others as the shortest round-trip float. Returns 0, -EINVAL (label name
 * not [a-zA-Z_][a-zA-Z0-9_]*, reserved "__" prefix or "le", repeated label name, NULL
 * value, histogram family) or -ENOMEM. */
int expo_series_add_value(struct expo_family *f, const struct expo_label *labels, size_t n,
			  double value);

/* Same as expo_series_add_value for an exact 64-bit integer (counters past 2^53). */
int expo_series_add_u64(struct expo_family *f, const struct expo_label *labels, size_t n,
			uint64_t value);

/*
 * Adds a histogram sample. bounds: nbounds finite, strictly increasing upper bounds in
 * seconds; counts: ncounts == nbounds + 1 non-cumulative bucket counts, the last one above
 * every bound; count is the total (normally the sum of counts). Buckets render cumulative;
 * the +Inf bucket and _count show max(count, sum of counts), so a total read a moment
 * before its buckets never makes the buckets decrease. Everything is copied.
 * Returns 0, -EINVAL or -ENOMEM.
 */
int expo_series_add_hist(struct expo_family *f, const struct expo_label *labels, size_t n,
			 const double *bounds, size_t nbounds, const uint64_t *counts,
			 size_t ncounts, double sum, uint64_t count);

/* Appends the registry in `fmt` to `out` (out->data is non-NULL and NUL-terminated
 * afterwards, even for an empty registry). Families without series render their HELP and
 * TYPE lines only. Returns 0, -EINVAL (unknown format) or -ENOMEM. */
int expo_render(const struct expo_registry *reg, enum expo_format fmt, struct expo_buf *out);

/* Appends a printf-formatted string. Returns 0 or -ENOMEM. */
int expo_buf_printf(struct expo_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Frees the buffer's memory and zeroes it; NULL is allowed. */
void expo_buf_free(struct expo_buf *b);

/* Formats a float as Go's strconv.FormatFloat(v, 'g', -1, 64) does (Prometheus' le and
 * sample values): shortest round-trip digits, "+Inf", "-Inf", "NaN". Returns `out`. */
char *expo_format_double(double v, char *out, size_t len);

#endif /* AGENT_EXPO_H */
