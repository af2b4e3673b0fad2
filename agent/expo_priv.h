/* Exposition internals shared by the registry (expo.c), renderer and number formatting. */
#ifndef AGENT_EXPO_PRIV_H
#define AGENT_EXPO_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expo.h"

/* Bump allocator: a scrape's families and series are freed together, or rewound for reuse. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct expo_series {
	struct expo_series *next;
	struct expo_label *labels;
	size_t nlabels;
	bool is_u64;
	double value;
	uint64_t u64;
	/* histogram only */
	const double *bounds;
	uint64_t *counts; /* nbounds + 1, non-cumulative */
	size_t nbounds;
	double sum;
	uint64_t count;
};

struct expo_family {
	struct expo_family *next;
	struct expo_registry *reg;
	const char *name;
	const char *help;
	enum expo_type type;
	struct expo_series *head, *tail;
};

struct expo_registry {
	struct arena_chunk *chunks, *cur;
	struct expo_family *head, *tail;
};

/* Most bytes expo_num_u64 or expo_num_value write (no NUL). */
#define EXPO_NUM_MAX 48

/* Writes v in decimal at p (at most 20 bytes, no NUL); returns the end. */
char *expo_num_u64(char *p, uint64_t v);

/* Writes a sample value at p (at most EXPO_NUM_MAX bytes, no NUL): integral values below
 * 9.2e18 in magnitude as integers, others as expo_format_double does; returns the end. */
char *expo_num_value(char *p, double v);

#endif /* AGENT_EXPO_PRIV_H */
