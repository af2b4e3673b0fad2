/* Load generator: the store's batch probe (or a Go target's uprobes) switched off and on in short interleaved phases, with the target's CPU per call in each. */
#include "lg_phases.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lg_phase_ctl.h"
#include "schedstat.h"

struct lg_phases {
	pid_t pid;
	int mem_fd;
	uint64_t sem_addr;
	uint16_t attached; /* the semaphore's value while the agent is attached */
	bool sem_off;      /* we wrote 0 and have not written `attached` back */
	uint64_t phase_ns;
	size_t cap, n;
	struct lg_probe_phase *ph;
	const atomic_uint_fast64_t *calls;
	uint64_t t_start;
	pthread_t th;
	bool running;
	int err;
	char why[256];
	/* the switcher backend (else NULL): the uprobes themselves detached and attached */
	struct lg_phase_ctl *ctl;
	bool ctl_off;     /* the last answered switch was to off */
	uint64_t end_ns;  /* no phase past t_start + this */
	size_t opened;    /* the phase the last switch opened (its hits come with the next) */
	uint64_t hits_on; /* the switcher's hit count after that switch */
	/* windows only (lg_phases_new_windows): nothing switched, windows start on multiples
	 * of their length on CLOCK_MONOTONIC; first_window is the first one's number */
	bool windows;
	uint64_t first_window;
};

static int sem_write(struct lg_phases *p, uint16_t v)
{
	if (pwrite(p->mem_fd, &v, sizeof(v), (off_t)p->sem_addr) != (ssize_t)sizeof(v))
		return -errno;
	p->sem_off = v == 0;
	return 0;
}

/* The parts both backends share: p with room for the phases that fit in `seconds`. */
static int phases_alloc(struct lg_phases **out, pid_t pid, unsigned phase_ms, double seconds)
{
	struct lg_phases *p;

	*out = NULL;
	if (pid <= 0 || !phase_ms || !(seconds > 0))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->mem_fd = -1;
	p->pid = pid;
	p->phase_ns = (uint64_t)phase_ms * 1000000u;
	p->end_ns = (uint64_t)(seconds * 1e9);
	p->opened = SIZE_MAX; /* no phase opened yet */
	/* whole pairs only: each pair has one phase of each kind */
	p->cap = (size_t)(seconds * 1e9 / (double)p->phase_ns) & ~(size_t)1;
	if (p->cap)
		p->ph = calloc(p->cap, sizeof(*p->ph));
	if (!p->ph) {
		int err = p->cap ? -ENOMEM : -EINVAL;

		free(p);
		return err;
	}
	*out = p;
	return 0;
}

int lg_phases_new(struct lg_phases **out, pid_t pid, uint64_t sem_addr, unsigned phase_ms,
		  double seconds)
{
	struct lg_phases *p;
	char path[64];
	int err;

	*out = NULL;
	if (!sem_addr)
		return -EINVAL;
	err = phases_alloc(&p, pid, phase_ms, seconds);
	if (err)
		return err;
	p->sem_addr = sem_addr;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	p->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->mem_fd < 0) {
		err = -errno;
		goto cleanup;
	}
	if (pread(p->mem_fd, &p->attached, sizeof(p->attached), (off_t)sem_addr) !=
	    (ssize_t)sizeof(p->attached)) {
		err = -errno;
		goto cleanup;
	}
	if (!p->attached) {
		err = -ENOENT;
		goto cleanup;
	}
	*out = p;
	return 0;
cleanup:
	lg_phases_free(p);
	return err;
}

int lg_phases_new_windows(struct lg_phases **out, pid_t pid, unsigned window_ms, double seconds)
{
	struct lg_phases *p;
	size_t fit;
	int err;

	*out = NULL;
	if (!window_ms || !(seconds > 0))
		return -EINVAL;
	/* the first window waits for the next boundary: one less than fits in the run */
	fit = (size_t)(seconds * 1e3 / window_ms);
	if (fit < 2)
		return -EINVAL;
	err = phases_alloc(&p, pid, window_ms, seconds);
	if (err)
		return err;
	p->windows = true;
	p->cap = fit - 1;
	*out = p;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Switches through the switcher and records how long it took; the error's line in p->why. */
static int ctl_switch(struct lg_phases *p, bool on, struct lg_phase_ack *ack, uint64_t *ns)
{
	uint64_t t0 = mono_ns();
	int err = lg_phase_ctl_set(p->ctl, on, ack, p->why, sizeof(p->why));

	*ns = mono_ns() - t0;
	if (!err)
		p->ctl_off = !on;
	return err;
}

int lg_phases_new_ctl(struct lg_phases **out, pid_t pid, struct lg_phase_ctl *ctl,
		      unsigned phase_ms, double seconds, char *why, size_t why_len)
{
	struct lg_phase_ack ack;
	struct lg_phases *p;
	uint64_t ns;
	int err;

	*out = NULL;
	err = ctl ? phases_alloc(&p, pid, phase_ms, seconds) : -EINVAL;
	if (err) {
		snprintf(why, why_len, "bad phase settings or no switcher: %s", strerror(-err));
		lg_phase_ctl_free(ctl);
		return err;
	}
	p->ctl = ctl;
	err = ctl_switch(p, true, &ack, &ns);
	if (err) {
		snprintf(why, why_len, "%s", p->why);
		lg_phases_free(p);
		return err;
	}
	*out = p;
	return 0;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u),
			       .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * Pair k runs off then on for even k, on then off for odd k (ABBA), with the switcher too:
 * its detach closes uprobe_multi links in parallel (tens of ms, as short as an attach
 * against a phase of 200 ms), so a drift over the run cancels between a pair and the next.
 * Two phases of the same state in a row still get their command each: its answer closes
 * the first one's hits.
 */
static bool phase_on(const struct lg_phases *p, size_t i)
{
	if (p->windows)
		return true;
	return ((i / 2) % 2 == 0) == (i % 2 == 1);
}

/* The switcher's answer closes the phase the previous switch opened: its hits. */
static void ctl_close_hits(struct lg_phases *p, const struct lg_phase_ack *ack)
{
	if (p->opened < p->cap)
		p->ph[p->opened].hits = ack->hits_before - p->hits_on;
}

/*
 * Switches phase i's way. With the switcher the phase then starts at the answer; *t_end is
 * when it ends, 0 when the phase would end past the run (with a pair started only if it
 * fits: its two switches take at most what the slowest one yet took).
 */
static int phase_switch(struct lg_phases *p, size_t i, bool on, uint64_t *slowest,
			uint64_t *t_end)
{
	struct lg_phase_ack ack;
	uint64_t ns, now, run_end = p->t_start + p->end_ns;
	int err;

	if (p->windows) {
		*t_end = p->t_start + (i + 1) * p->phase_ns;
		return 0;
	}
	if (!p->ctl) {
		*t_end = p->t_start + (i + 1) * p->phase_ns;
		return sem_write(p, on ? p->attached : 0);
	}
	*t_end = 0;
	if (i % 2 == 0 && mono_ns() + 2 * (p->phase_ns + *slowest) > run_end)
		return 0;
	err = ctl_switch(p, on, &ack, &ns);
	if (err)
		return err;
	now = mono_ns();
	ctl_close_hits(p, &ack);
	p->opened = i;
	p->hits_on = ack.hits_after;
	p->ph[i].switch_ns = ns;
	if (ns > *slowest)
		*slowest = ns;
	if (now + p->phase_ns <= run_end)
		*t_end = now + p->phase_ns;
	return 0;
}

/* The state the target was found in: attached (semaphore value, or the switcher on). */
static int phases_restore(struct lg_phases *p)
{
	struct lg_phase_ack ack;
	uint64_t ns;
	int err;

	if (!p->ctl)
		return p->sem_off ? sem_write(p, p->attached) : 0;
	/* also when on: the answer's count closes the last phase */
	err = ctl_switch(p, true, &ack, &ns);
	if (!err)
		ctl_close_hits(p, &ack);
	return err;
}

static void *phase_main(void *arg)
{
	struct lg_phases *p = arg;
	uint64_t calls0, cpu0, cpu1, t_end, slowest = 0;
	int err;

	sleep_until(p->t_start);
	for (size_t i = 0; i < p->cap; i++) {
		bool on = phase_on(p, i);

		err = phase_switch(p, i, on, &slowest, &t_end);
		if (err)
			goto fail;
		if (!t_end) {
			/* the run ends first: whole pairs only */
			p->n = i & ~(size_t)1;
			break;
		}
		err = bench_schedstat_ns(p->pid, &cpu0);
		if (err)
			goto fail;
		calls0 = atomic_load_explicit(p->calls, memory_order_relaxed);
		sleep_until(t_end);
		err = bench_schedstat_ns(p->pid, &cpu1);
		if (err)
			goto fail;
		p->ph[i].on = on;
		p->ph[i].calls = atomic_load_explicit(p->calls, memory_order_relaxed) - calls0;
		p->ph[i].cpu_ns = cpu1 - cpu0;
		p->n = i + 1;
	}
	err = phases_restore(p);
	if (err)
		goto fail;
	return NULL;
fail:
	p->err = err;
	if (!p->why[0])
		snprintf(p->why, sizeof(p->why), "%s", strerror(-err));
	return NULL;
}

int lg_phases_start(struct lg_phases *p, const atomic_uint_fast64_t *calls, uint64_t t_start)
{
	p->calls = calls;
	p->t_start = t_start;
	if (p->windows) {
		/* two load generators' windows of one length then cover the same time */
		p->first_window = (t_start + p->phase_ns - 1) / p->phase_ns;
		p->t_start = p->first_window * p->phase_ns;
	}
	if (pthread_create(&p->th, NULL, phase_main, p))
		return -EAGAIN;
	p->running = true;
	return 0;
}

int lg_phases_join(struct lg_phases *p)
{
	if (p->running) {
		pthread_join(p->th, NULL);
		p->running = false;
	}
	if (p->sem_off || p->ctl_off) {
		int err = phases_restore(p);

		if (err && !p->err)
			p->err = err;
	}
	return p->err;
}

const char *lg_phases_error(const struct lg_phases *p)
{
	return p->why;
}

const struct lg_probe_phase *lg_phases_get(const struct lg_phases *p, size_t *n)
{
	*n = p->n;
	return p->ph;
}

void lg_phases_print(const struct lg_phases *p, FILE *f)
{
	for (size_t i = 0; i < p->n && p->windows; i++)
		fprintf(f, "window: %" PRIu64 " calls=%" PRIu64 " cpu_ns=%" PRIu64 "\n",
			p->first_window + i, p->ph[i].calls, p->ph[i].cpu_ns);
	for (size_t i = 0; i < p->n && !p->windows; i++) {
		fprintf(f, "phase: %zu on=%d calls=%" PRIu64 " cpu_ns=%" PRIu64, i, p->ph[i].on,
			p->ph[i].calls, p->ph[i].cpu_ns);
		if (p->ctl)
			fprintf(f, " hits=%" PRIu64 " switch_ns=%" PRIu64, p->ph[i].hits,
				p->ph[i].switch_ns);
		fputc('\n', f);
	}
}

void lg_phases_free(struct lg_phases *p)
{
	if (!p)
		return;
	if (p->running || p->sem_off || p->ctl_off)
		lg_phases_join(p);
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	lg_phase_ctl_free(p->ctl);
	free(p->ph);
	free(p);
}
