/* The store's event clock: CLOCK_MONOTONIC ns, read through the TSC between 1 ms anchors. */
#ifndef MS_PROBE_CLOCK_H
#define MS_PROBE_CLOCK_H

#include <stdint.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define ms_clock_ticks() __rdtsc()
#else
/* no TSC: 0 ticks, and the clocksource is never "tsc", so every read is clock_gettime */
#define ms_clock_ticks() 0ull
#endif

/*
 * A clock_gettime costs about twice a bare rdtsc here (the vDSO's fences and conversion),
 * and the store takes 4-6 timestamps per call while the batch probe is attached. So while
 * the kernel's clocksource is the TSC (synchronized and constant-rate, or the kernel would
 * not use it), a timestamp is the last anchor (a real CLOCK_MONOTONIC read, at most 1 ms old)
 * plus the TSC ticks since, at the rate measured between anchors. Per thread: no locks.
 */
struct ms_clock {
	uint64_t anchor_ns;  /* CLOCK_MONOTONIC at the anchor */
	uint64_t anchor_tsc; /* the TSC at the anchor */
	uint64_t max_ticks;  /* ticks after which the anchor is too old (1 ms); 0: no TSC */
	uint64_t mult;       /* ns per tick, times 2^32 */
};

extern __thread struct ms_clock ms_clock_tls;

/* Takes a new anchor and returns CLOCK_MONOTONIC in ns (clock.c). */
uint64_t ms_clock_anchor(void);

/* CLOCK_MONOTONIC in ns (the clock of bpf_ktime_get_ns()), within a few ns when read
 * through the TSC. */
static inline uint64_t ms_clock_now(void)
{
	struct ms_clock *c = &ms_clock_tls;

	if (__builtin_expect(c->max_ticks != 0, 1)) {
		uint64_t d = ms_clock_ticks() - c->anchor_tsc;

		if (d < c->max_ticks)
			return c->anchor_ns + ((d * c->mult) >> 32);
	}
	return ms_clock_anchor();
}

/* Whether timestamps are read through the TSC now (for tests and diagnostics). */
int ms_clock_uses_tsc(void);

#endif /* MS_PROBE_CLOCK_H */
