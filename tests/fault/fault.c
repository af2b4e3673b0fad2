/* Fault suite: clock, seeded random numbers, anomaly and progress lines, shared vectors. */
#include "fault.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t print_mu = PTHREAD_MUTEX_INITIALIZER;

uint64_t fault_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double fault_elapsed(const struct fault_run *r)
{
	return (double)(fault_now() - r->t0) / 1e9;
}

uint64_t fault_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void vline(struct fault_run *r, const char *tag, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&print_mu);
	printf("[%7.2f] %s", fault_elapsed(r), tag);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&print_mu);
}

void fault_anomaly(struct fault_run *r, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&r->anomalies, 1);
	va_start(ap, fmt);
	vline(r, "ANOMALY: ", fmt, ap);
	va_end(ap);
}

void fault_log(struct fault_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(r, "", fmt, ap);
	va_end(ap);
}

bool fault_term(struct fault_run *r, uint64_t term)
{
	uint64_t old = atomic_load(&r->term);

	while (term > old)
		if (atomic_compare_exchange_weak(&r->term, &old, term)) {
			if (old)
				atomic_store(&r->last_leader_change, fault_now());
			return old != 0;
		}
	return false;
}

int fault_push(struct fault_run *r, struct fault_vec *v, const void *elem)
{
	int err = 0;

	pthread_mutex_lock(&r->mu);
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		void *n = realloc(v->v, cap * v->elem);

		if (!n) {
			err = -ENOMEM;
			goto cleanup;
		}
		v->v = n;
		v->cap = cap;
	}
	memcpy((char *)v->v + v->n * v->elem, elem, v->elem);
	v->n++;
cleanup:
	pthread_mutex_unlock(&r->mu);
	return err;
}

void fault_vec_free(struct fault_vec *v)
{
	free(v->v);
	v->v = NULL;
	v->n = v->cap = 0;
}
