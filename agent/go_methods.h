/* The Go gRPC object's method table: every known method name at a slot of its own. */
#ifndef GO_METHODS_H
#define GO_METHODS_H

#include <stdint.h>

#include "ms_go.h"

/*
 * Fills tab (MS_GO_METHOD_SLOTS entries, zeroed here) with every method of ms_methods.h
 * whose name fits MS_GO_METHOD_MAX, each at ms_go_method_slot(name, *seed) for the first
 * seed from 1 up under which no two names share a slot. Deterministic. Returns 0, or -E2BIG
 * when no seed of the bounded search separates them (a table too small for the methods).
 */
int go_methods_build(struct ms_go_method_slot *tab, uint64_t *seed);

/* The method id the table gives the zero-padded name `w` under `seed`, as the BPF program
 * finds it: MS_METHOD_UNKNOWN when its slot holds another name or none. */
uint32_t go_methods_find(const struct ms_go_method_slot *tab, uint64_t seed, const __u64 *w);

#endif /* GO_METHODS_H */
