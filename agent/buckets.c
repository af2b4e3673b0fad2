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

int buckets_parse(const char *list, uint64_t *out, uint32_t max, uint32_t *n, char *err,
		  size_t errlen)
{
	const char *p = list;
	uint32_t k = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		char item[64], *end;
		double s;

		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errlen, "empty or overlong bound in '%s'", list);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		errno = 0;
		s = strtod(item, &end);
		if (*end || errno || !isfinite(s) || s <= 0 || s > 1e6) {
			snprintf(err, errlen, "'%s' is not a number of seconds in (0, 1e6]", item);
			return -EINVAL;
		}
		if (k == max) {
			snprintf(err, errlen, "at most %u bounds", max);
			return -EINVAL;
		}
		out[k] = (uint64_t)llround(s * 1e9);
		if (out[k] == 0 || (k && out[k] <= out[k - 1])) {
			snprintf(err, errlen, "bounds must increase (at ns resolution): '%s'", item);
			return -EINVAL;
		}
		k++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*n = k;
	return 0;
}
