/* Histogram bucket bounds: the default latency set and parsing of a user-given list. */
#include "buckets.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t default_ns[] = {
	5000,       10000,      25000,      50000,      100000,      250000,     500000,
	1000000,    2500000,    5000000,    10000000,   25000000,    50000000,   100000000,
	250000000,  500000000,  1000000000, 2500000000, 5000000000,  10000000000,
};

uint32_t buckets_default(uint64_t *out, uint32_t max)
{
	uint32_t n = sizeof(default_ns) / sizeof(default_ns[0]);

	if (n > max)
		n = max;
	memcpy(out, default_ns, n * sizeof(*out));
	return n;
}

/* Copies item [p, p+len) without surrounding blanks into buf; returns its length. */
static size_t trim_item(const char *p, size_t len, char *buf, size_t cap)
{
	while (len && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return len;
}

static int parse_list(const char *list, uint64_t *out, uint32_t max, uint32_t *n, char *err,
		      size_t errlen)
{
	const char *p = list;
	char prev[BUCKETS_ITEM_MAX] = "";
	uint32_t k = 0;

	if (!list || !*list) {
		snprintf(err, errlen, "empty bucket list");
		return -EINVAL;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		char item[BUCKETS_ITEM_MAX], *end;
		double s;

		if (len >= sizeof(item)) {
			snprintf(err, errlen, "bound %u is too long", k + 1);
			return -EINVAL;
		}
		if (trim_item(p, len, item, sizeof(item)) == 0) {
			snprintf(err, errlen, "bound %u is empty", k + 1);
			return -EINVAL;
		}
		errno = 0;
		s = strtod(item, &end);
		if (*end || end == item) {
			snprintf(err, errlen, "'%s' is not a number of seconds", item);
			return -EINVAL;
		}
		if (!isfinite(s)) {
			snprintf(err, errlen, "'%s' is not finite", item);
			return -EINVAL;
		}
		if (signbit(s) || (s == 0 && !errno)) {
			snprintf(err, errlen, "'%s' is not positive", item);
			return -EINVAL;
		}
		if (s > BUCKETS_MAX_SECONDS) {
			snprintf(err, errlen, "'%s' is above %g seconds", item, BUCKETS_MAX_SECONDS);
			return -EINVAL;
		}
		/* errno here means strtod underflowed: a tiny positive number. */
		if (errno || llround(s * 1e9) == 0) {
			snprintf(err, errlen, "'%s' is below 1 ns", item);
			return -EINVAL;
		}
		if (k == max) {
			snprintf(err, errlen, "more than %u bounds", max);
			return -EINVAL;
		}
		out[k] = (uint64_t)llround(s * 1e9);
		if (k && out[k] <= out[k - 1]) {
			snprintf(err, errlen, "bounds must increase: '%s' after '%s'", item, prev);
			return -EINVAL;
		}
		memcpy(prev, item, sizeof(prev));
		k++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*n = k;
	return 0;
}

int buckets_parse(const char *list, uint64_t *out, uint32_t max, uint32_t *n, char *err,
		  size_t errlen)
{
	int e = parse_list(list, out, max, n, err, errlen);

	/* The reason quotes the input: a newline or CR in it must not split the line. */
	for (char *p = err; e && errlen && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return e;
}
