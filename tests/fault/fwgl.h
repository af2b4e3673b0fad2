/* Fault suite: a WGL-style linearizability checker for one read/write/compare-and-set register. */
#ifndef FWGL_H
#define FWGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fwgl_kind { FWGL_READ, FWGL_WRITE, FWGL_CAS };

/* One operation on a register whose value 0 means "no key" (the initial state). */
struct fwgl_op {
	int reg;
	int client;
	enum fwgl_kind kind;
	int64_t value;	/* write, cas: the value written; read: the value read */
	int64_t expect; /* cas: the value compared with */
	int64_t seen;	/* cas that failed: the value its else branch read */
	bool ok;	/* cas: the compare succeeded */
	bool maybe;	/* no answer (timeout, unavailable): may or may not have happened */
	uint64_t call, ret; /* invocation and completion, ns; ret unused when maybe */
};

/*
 * Is the history of one register (n ops, any order) linearizable from value 0? Maybe
 * operations may take effect at any point after their call, or never. The search stops
 * after max_steps linearization attempts. Returns 1 linearizable, 0 not (why says which
 * operation no order explains and how far the search got), -E2BIG when max_steps ran
 * out (why says so), -ENOMEM.
 */
int fwgl_check(const struct fwgl_op *ops, size_t n, uint64_t max_steps, char *why,
	       size_t why_len);

/* One-line description of op into buf ("client 2 cas 5->9 ok [1.200, 1.350]"). Returns buf. */
char *fwgl_describe(const struct fwgl_op *op, char *buf, size_t len);

#endif /* FWGL_H */
