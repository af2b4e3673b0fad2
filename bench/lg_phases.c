/* Load generator: the store's batch probe switched off and on in short interleaved phases, with the store's CPU per call in each. */
#include "lg_phases.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
};

static int sem_write(struct lg_phases *p, uint16_t v)
{
	if (pwrite(p->mem_fd, &v, sizeof(v), (off_t)p->sem_addr) != (ssize_t)sizeof(v))
		return -errno;
	p->sem_off = v == 0;
	return 0;
}

int lg_phases_new(struct lg_phases **out, pid_t pid, uint64_t sem_addr, unsigned phase_ms,
		  double seconds)
{
	struct lg_phases *p;
	char path[64];
	int err;

	*out = NULL;
	if (pid <= 0 || !sem_addr || !phase_ms || !(seconds > 0))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->mem_fd = -1;
	p->pid = pid;
	p->sem_addr = sem_addr;
	p->phase_ns = (uint64_t)phase_ms * 1000000u;
	/* whole pairs only: each pair has one phase of each kind */
	p->cap = (size_t)(seconds * 1e9 / (double)p->phase_ns) & ~(size_t)1;
	if (!p->cap) {
		err = -EINVAL;
		goto cleanup;
	}
	p->ph = calloc(p->cap, sizeof(*p->ph));
	if (!p->ph) {
		err = -ENOMEM;
		goto cleanup;
	}
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

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u),
			       .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Pair k runs off then on for even k, on then off for odd k (ABBA). */
static bool phase_on(size_t i)
{
	return ((i / 2) % 2 == 0) == (i % 2 == 1);
}

static void *phase_main(void *arg)
{
	struct lg_phases *p = arg;
	uint64_t calls0, cpu0, cpu1;
	int err;

	sleep_until(p->t_start);
	for (size_t i = 0; i < p->cap; i++) {
		bool on = phase_on(i);

		err = sem_write(p, on ? p->attached : 0);
		if (!err)
			err = bench_schedstat_ns(p->pid, &cpu0);
		if (err)
			goto fail;
		calls0 = atomic_load_explicit(p->calls, memory_order_relaxed);
		sleep_until(p->t_start + (i + 1) * p->phase_ns);
		err = bench_schedstat_ns(p->pid, &cpu1);
		if (err)
			goto fail;
		p->ph[i].on = on;
		p->ph[i].calls = atomic_load_explicit(p->calls, memory_order_relaxed) - calls0;
		p->ph[i].cpu_ns = cpu1 - cpu0;
		p->n = i + 1;
	}
	err = sem_write(p, p->attached);
	if (err)
		goto fail;
	return NULL;
fail:
	p->err = err;
	return NULL;
}

int lg_phases_start(struct lg_phases *p, const atomic_uint_fast64_t *calls, uint64_t t_start)
{
	p->calls = calls;
	p->t_start = t_start;
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
	if (p->sem_off) {
		int err = sem_write(p, p->attached);

		if (err && !p->err)
			p->err = err;
	}
	return p->err;
}

const struct lg_probe_phase *lg_phases_get(const struct lg_phases *p, size_t *n)
{
	*n = p->n;
	return p->ph;
}

void lg_phases_print(const struct lg_phases *p, FILE *f)
{
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "phase: %zu on=%d calls=%" PRIu64 " cpu_ns=%" PRIu64 "\n", i,
			p->ph[i].on, p->ph[i].calls, p->ph[i].cpu_ns);
}

void lg_phases_free(struct lg_phases *p)
{
	if (!p)
		return;
	if (p->running || p->sem_off)
		lg_phases_join(p);
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	free(p->ph);
	free(p);
}
