/* Histogram bucket bounds: the default latency set and parsing of a user-given list. */
#ifndef AGENT_BUCKETS_H
#define AGENT_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

/* Longest accepted text of one bound, and the largest bound (a day would do; 1e6 s keeps
 * the nanosecond value far from overflow). */
#define BUCKETS_ITEM_MAX 64
#define BUCKETS_MAX_SECONDS 1e6

/* Writes the default bounds (ns, increasing; 5 us .. 10 s, so that in-memory reads and
 * fsync'd writes both resolve) into out[max]. Returns how many were written. */
uint32_t buckets_default(uint64_t *out, uint32_t max);

/*
 * Parses "0.00001,0.001,0.5" (seconds, comma-separated, blanks around items allowed;
 * each > 0, finite, <= BUCKETS_MAX_SECONDS, >= 1 ns; strictly increasing after rounding to
 * ns; at most `max`) into out[]. Returns 0 and sets *n, or -EINVAL with a one-line reason
 * in err (e.g. "bounds must increase: '0.1' after '0.5'"); out is then unspecified.
 */
int buckets_parse(const char *list, uint64_t *out, uint32_t max, uint32_t *n, char *err,
		  size_t errlen);

#endif /* AGENT_BUCKETS_H */
