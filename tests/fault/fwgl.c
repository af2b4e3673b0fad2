/* Fault suite: a WGL-style linearizability checker for one read/write/compare-and-set register. */
#include "fwgl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t t;
	size_t op;
	bool is_call;
	size_t match; /* call: index of its return entry */
	size_t prev, next;
};

struct memo {
	uint64_t *bits; /* NULL: free slot */
	int64_t state;
};

struct search {
	const struct fwgl_op **ops;
	size_t n, words;
	struct entry *e; /* [0] is the list head sentinel */
	struct memo *memo;
	size_t memo_cap, memo_n;
	uint64_t *bits;
};

char *fwgl_describe(const struct fwgl_op *op, char *buf, size_t len)
{
	char what[96], when[64];

	if (op->kind == FWGL_READ)
		snprintf(what, sizeof(what), "read -> %" PRId64, op->value);
	else if (op->kind == FWGL_WRITE)
		snprintf(what, sizeof(what), "write %" PRId64, op->value);
	else if (op->maybe)
		snprintf(what, sizeof(what), "cas %" PRId64 "->%" PRId64, op->expect, op->value);
	else if (op->ok)
		snprintf(what, sizeof(what), "cas %" PRId64 "->%" PRId64 " ok", op->expect,
			 op->value);
	else
		snprintf(what, sizeof(what), "cas %" PRId64 "->%" PRId64 " failed, saw %" PRId64,
			 op->expect, op->value, op->seen);
	if (op->maybe)
		snprintf(when, sizeof(when), "[%.3f, ?] maybe", (double)op->call / 1e9);
	else
		snprintf(when, sizeof(when), "[%.3f, %.3f]", (double)op->call / 1e9,
			 (double)op->ret / 1e9);
	snprintf(buf, len, "client %d %s %s", op->client, what, when);
	return buf;
}

/* Applies op to *state if the register's specification allows it. Returns true if so. */
static bool step(const struct fwgl_op *op, int64_t *state)
{
	switch (op->kind) {
	case FWGL_READ:
		return *state == op->value;
	case FWGL_WRITE:
		*state = op->value;
		return true;
	case FWGL_CAS:
		if (op->maybe) {
			if (*state == op->expect)
				*state = op->value;
			return true;
		}
		if (op->ok) {
			if (*state != op->expect)
				return false;
			*state = op->value;
			return true;
		}
		return *state != op->expect && *state == op->seen;
	}
	return false;
}

static uint64_t memo_hash(const uint64_t *bits, size_t words, int64_t state)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)state;

	for (size_t i = 0; i < words; i++)
		h = (h ^ bits[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/* Adds (s->bits, state) to the memo. Returns 1 added, 0 already there, -ENOMEM. */
static int memo_add(struct search *s, int64_t state)
{
	if (s->memo_n * 2 >= s->memo_cap) {
		size_t cap = s->memo_cap ? s->memo_cap * 2 : 1024;
		struct memo *m = calloc(cap, sizeof(*m));

		if (!m)
			return -ENOMEM;
		for (size_t i = 0; i < s->memo_cap; i++) {
			struct memo *o = &s->memo[i];
			size_t h;

			if (!o->bits)
				continue;
			h = memo_hash(o->bits, s->words, o->state) & (cap - 1);
			while (m[h].bits)
				h = (h + 1) & (cap - 1);
			m[h] = *o;
		}
		free(s->memo);
		s->memo = m;
		s->memo_cap = cap;
	}
	size_t h = memo_hash(s->bits, s->words, state) & (s->memo_cap - 1);

	for (; s->memo[h].bits; h = (h + 1) & (s->memo_cap - 1))
		if (s->memo[h].state == state &&
		    !memcmp(s->memo[h].bits, s->bits, s->words * sizeof(uint64_t)))
			return 0;
	s->memo[h].bits = malloc(s->words * sizeof(uint64_t));
	if (!s->memo[h].bits)
		return -ENOMEM;
	memcpy(s->memo[h].bits, s->bits, s->words * sizeof(uint64_t));
	s->memo[h].state = state;
	s->memo_n++;
	return 1;
}

static void unlink_entry(struct search *s, size_t i)
{
	s->e[s->e[i].prev].next = s->e[i].next;
	if (s->e[i].next)
		s->e[s->e[i].next].prev = s->e[i].prev;
}

static void relink_entry(struct search *s, size_t i)
{
	s->e[s->e[i].prev].next = i;
	if (s->e[i].next)
		s->e[s->e[i].next].prev = i;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (int)y->is_call - (int)x->is_call; /* calls first: the more permissive order */
}

/* Keeps the ops that can matter: a maybe read has no effect, and a maybe write whose value
 * nobody observed is equivalent to one that never happened. Returns the count kept. */
static size_t select_ops(const struct fwgl_op *ops, size_t n, const struct fwgl_op **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct fwgl_op *o = &ops[i];
		bool seen = false;

		if (o->maybe && o->kind == FWGL_READ)
			continue;
		for (size_t j = 0; o->maybe && !seen && j < n; j++) {
			const struct fwgl_op *p = &ops[j];

			seen = (p->kind == FWGL_READ && !p->maybe && p->value == o->value) ||
			       (p->kind == FWGL_CAS && p->expect == o->value) ||
			       (p->kind == FWGL_CAS && !p->maybe && !p->ok && p->seen == o->value);
		}
		if (!o->maybe || seen)
			out[k++] = o;
	}
	return k;
}

/* Builds the sorted entry list: [0] head, then a call and a return entry per op. */
static int build_entries(struct search *s)
{
	size_t m = 2 * s->n;
	size_t *ret_of = calloc(s->n ? s->n : 1, sizeof(size_t));

	s->e = calloc(m + 1, sizeof(*s->e));
	if (!s->e || !ret_of) {
		free(ret_of);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		s->e[1 + 2 * i] = (struct entry){ .t = s->ops[i]->call, .op = i, .is_call = true };
		s->e[2 + 2 * i] = (struct entry){ .t = s->ops[i]->maybe ? UINT64_MAX
									: s->ops[i]->ret,
						  .op = i };
	}
	qsort(s->e + 1, m, sizeof(*s->e), cmp_entry);
	for (size_t i = 1; i <= m; i++)
		if (!s->e[i].is_call)
			ret_of[s->e[i].op] = i;
	for (size_t i = 0; i <= m; i++) {
		s->e[i].prev = i ? i - 1 : 0;
		s->e[i].next = i < m ? i + 1 : 0;
		if (i && s->e[i].is_call)
			s->e[i].match = ret_of[s->e[i].op];
	}
	free(ret_of);
	return 0;
}

struct frame {
	size_t call;
	int64_t state;
};

int fwgl_check(const struct fwgl_op *ops, size_t n, uint64_t max_steps, char *why,
	       size_t why_len)
{
	struct search s = { 0 };
	struct frame *stack = NULL;
	size_t depth = 0, best = 0, definite = 0, done_definite = 0, cur;
	size_t blocked = SIZE_MAX, blocked_depth = 0; /* the op the deepest attempt stopped at */
	int64_t state = 0;
	uint64_t steps = 0;
	char desc[160];
	int rv = -ENOMEM;

	why[0] = 0;
	s.ops = calloc(n ? n : 1, sizeof(*s.ops));
	if (!s.ops)
		goto cleanup;
	s.n = select_ops(ops, n, s.ops);
	s.words = (s.n + 63) / 64 + 1;
	s.bits = calloc(s.words, sizeof(uint64_t));
	stack = calloc(s.n + 1, sizeof(*stack));
	if (!s.bits || !stack || build_entries(&s))
		goto cleanup;
	for (size_t i = 0; i < s.n; i++)
		definite += !s.ops[i]->maybe;
	cur = s.e[0].next;
	while (done_definite < definite) {
		struct entry *e = &s.e[cur];

		if (++steps > max_steps) {
			snprintf(why, why_len,
				 "search bound of %" PRIu64 " steps reached after %zu of %zu ops; "
				 "inconclusive",
				 max_steps, best, s.n);
			rv = -E2BIG;
			goto cleanup;
		}
		if (cur && e->is_call) {
			int64_t next = state;
			int added = 0;

			if (step(s.ops[e->op], &next)) {
				s.bits[e->op / 64] |= 1ULL << (e->op % 64);
				added = memo_add(&s, next);
				if (added < 0)
					goto cleanup;
				if (!added)
					s.bits[e->op / 64] &= ~(1ULL << (e->op % 64));
			}
			if (added) {
				stack[depth++] = (struct frame){ cur, state };
				done_definite += !s.ops[e->op]->maybe;
				if (depth > best)
					best = depth;
				state = next;
				unlink_entry(&s, cur);
				unlink_entry(&s, e->match);
				cur = s.e[0].next;
			} else {
				cur = e->next;
			}
			continue;
		}
		/* A return entry (or the end): the op it closes was not linearized in time. */
		if (cur && (blocked == SIZE_MAX || depth > blocked_depth)) {
			blocked = e->op;
			blocked_depth = depth;
		}
		if (depth == 0) {
			snprintf(why, why_len,
				 "no order explains %s (longest linearizable prefix: %zu of %zu ops)",
				 blocked != SIZE_MAX ? fwgl_describe(s.ops[blocked], desc, sizeof(desc))
						     : "the end",
				 best, s.n);
			rv = 0;
			goto cleanup;
		}
		struct frame f = stack[--depth];
		size_t op = s.e[f.call].op;

		state = f.state;
		done_definite -= !s.ops[op]->maybe;
		s.bits[op / 64] &= ~(1ULL << (op % 64));
		relink_entry(&s, s.e[f.call].match);
		relink_entry(&s, f.call);
		cur = s.e[f.call].next;
	}
	rv = 1;
cleanup:
	for (size_t i = 0; i < s.memo_cap; i++)
		free(s.memo[i].bits);
	free(s.memo);
	free(s.e);
	free(s.bits);
	free(s.ops);
	free(stack);
	return rv;
}
