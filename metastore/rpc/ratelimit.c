/* Token bucket for the server's request rate limit. */
#include "rpc/ratelimit.h"

void ms_ratelimit_init(struct ms_ratelimit *r, double rate, double burst, uint64_t now_ns)
{
	r->rate = rate > 0 ? rate : 0;
	r->burst = burst >= 1 ? burst : 1;
	r->tokens = r->burst;
	r->last_ns = now_ns;
}

bool ms_ratelimit_take(struct ms_ratelimit *r, uint64_t now_ns)
{
	if (r->rate == 0)
		return true;
	/* A clock that did not move (or went back) adds nothing. */
	if (now_ns > r->last_ns) {
		r->tokens += (double)(now_ns - r->last_ns) * r->rate / 1e9;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->last_ns = now_ns;
	}
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}
