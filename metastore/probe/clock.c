/* Anchors and rate of the TSC-read event clock (probe/clock.h). */
#include "probe/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

__thread struct ms_clock ms_clock_tls;

/* Per thread: the first anchor (the rate's baseline), when the clocksource was checked and
 * when a rate-less clock tries its next anchor pair. */
static __thread uint64_t base_ns, base_tsc, checked_ns, next_pair_ns;
static __thread int tsc_ok;

#define ANCHOR_NS 1000000ull     /* the longest extrapolation: 1 ms */
#define BASELINE_NS 10000000ull  /* a rate is trusted once measured over 10 ms */
#define RECHECK_NS 1000000000ull /* the clocksource is read again every second */
#define PAIR_MAX_TICKS 2000      /* a clean anchor pair: both TSC reads within ~1 us */
#define DRIFT_MAX_NS 1000        /* an anchor carried 1-4 ms forward is off by more: re-measure */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the kernel keeps time with the TSC (it stops when its watchdog finds it unstable,
 * and the store then stops extrapolating with it). */
static int clocksource_is_tsc(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strcmp(buf, "tsc\n") == 0;
}

/* A CLOCK_MONOTONIC read and the TSC at the same moment: the TSC is read on both sides, and
 * of three tries the narrowest pair is kept (an interrupt or a preemption widens one).
 * Returns 0 when even that one is wider than PAIR_MAX_TICKS. */
static int anchor_pair(uint64_t *ns, uint64_t *tsc)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 3; i++) {
		uint64_t t1 = ms_clock_ticks(), n = mono_ns(), t2 = ms_clock_ticks();

		if (t2 > t1 && t2 - t1 < best) {
			best = t2 - t1;
			*ns = n;
			*tsc = t1 + (t2 - t1) / 2;
		}
	}
	return best < PAIR_MAX_TICKS;
}

/* Whether the anchor in use, carried forward to (ns, tsc), misses CLOCK_MONOTONIC by more
 * than DRIFT_MAX_NS: the two clocks stopped running at the measured rate (a paused VM, a TSC
 * the kernel no longer trusts), so the rate is measured afresh. */
static int off_rate(const struct ms_clock *c, uint64_t ns, uint64_t tsc)
{
	uint64_t d = tsc - c->anchor_tsc, want;

	if (!c->max_ticks || tsc < c->anchor_tsc || d >= 4 * c->max_ticks)
		return 0; /* no rate yet, or too long ago to tell */
	want = c->anchor_ns + ((d * c->mult) >> 32);
	return want > ns + DRIFT_MAX_NS || ns > want + DRIFT_MAX_NS;
}

uint64_t ms_clock_anchor(void)
{
	struct ms_clock *c = &ms_clock_tls;
	uint64_t tsc = 0, ns = mono_ns();

	if (!checked_ns || ns - checked_ns >= RECHECK_NS) {
		checked_ns = ns;
		tsc_ok = clocksource_is_tsc();
	}
	/* Without a rate (no TSC; or until the baseline is 10 ms old, or 1 ms after a pair that
	 * came out disturbed) a timestamp is this one plain read: pairs cost three. */
	if (!tsc_ok || (!c->max_ticks && ns < next_pair_ns)) {
		c->max_ticks = 0;
		return ns;
	}
	if (!anchor_pair(&ns, &tsc)) {
		c->max_ticks = 0;
		next_pair_ns = ns + ANCHOR_NS;
		return ns;
	}
	if (!base_ns || tsc <= base_tsc || off_rate(c, ns, tsc)) {
		base_ns = ns;
		base_tsc = tsc;
		c->max_ticks = 0;
		next_pair_ns = ns + BASELINE_NS;
		return ns;
	}
	/* the rate over everything since the baseline: its error shrinks as the baseline grows */
	c->mult = (uint64_t)(((unsigned __int128)(ns - base_ns) << 32) / (tsc - base_tsc));
	c->max_ticks = c->mult ? (ANCHOR_NS << 32) / c->mult : 0;
	c->anchor_ns = ns;
	c->anchor_tsc = tsc;
	return ns;
}

int ms_clock_uses_tsc(void)
{
	return ms_clock_tls.max_ticks != 0;
}
