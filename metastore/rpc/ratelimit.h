/* Token bucket for the server's request rate limit. */
#ifndef MS_RATELIMIT_H
#define MS_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ms_ratelimit {
	double rate;   /* tokens per second; 0: no limit */
	double burst;  /* bucket size */
	double tokens;
	uint64_t last_ns;
};

/* Starts a full bucket at now_ns. rate 0 turns the limit off; burst below 1 becomes 1. */
void ms_ratelimit_init(struct ms_ratelimit *r, double rate, double burst, uint64_t now_ns);

/* Takes one token at now_ns (monotonic): true if the request may go ahead. */
bool ms_ratelimit_take(struct ms_ratelimit *r, uint64_t now_ns);

#endif /* MS_RATELIMIT_H */
