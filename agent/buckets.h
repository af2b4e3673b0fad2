/* Histogram bucket bounds: the default latency set and parsing of a user-given list. */
#ifndef AGENT_BUCKETS_H
#define AGENT_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

/* Writes the default bounds (ns, increasing; 5 us .. 10 s, so that in-memory reads and
 * fsync'd writes both resolve) into out[max]. Returns how many were written. */
uint32_t buckets_default(uint64_t *out, uint32_t max);

/*
 * Parses "0.00001,0.001,0.5" (seconds, comma-separated, strictly increasing, > 0, finite,
 * at least 1 ns apart after rounding, at most `max`) into ns bounds.
 * Returns 0 and sets *n, or -EINVAL with a one-line reason in err.
 */
int buckets_parse(const char *list, uint64_t *out, uint32_t max, uint32_t *n, char *err,
		  size_t errlen);

#endif /* AGENT_BUCKETS_H */
