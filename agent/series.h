/* Series builders: the label sets each family exports, from values already read from the maps. */
#ifndef AGENT_SERIES_H
#define AGENT_SERIES_H

#include <stdint.h>

#include "expo.h"
#include "ms_maps.h"

/*
 * Per-method counters (panics, rate-limit hits): every method the store serves, at 0 until
 * it counts, so that the first increase() over a method's first event sees it; `unknown`
 * only once it counted. `v` has MS_METHOD_COUNT values. `node` (NULL: no such label) is
 * copied. Returns 0 or the first -errno of the family.
 */
int series_per_method(struct expo_family *f, const char *node, const uint64_t *v);

/*
 * grpc_server_request_total: every served method with every status code, at 0 until it
 * counts (as go-grpc-prometheus pre-initializes etcd's), so an error rate sees a code's
 * first call; `unknown` only for codes it counted. `count` has MS_GRPC_SERIES values
 * (method * MS_GRPC_CODE_COUNT + code). Returns 0 or the first -errno.
 */
int series_request_total(struct expo_family *f, const char *node, const uint64_t *count);

/*
 * Counters with one label `name` whose values are all known (lease operations' ok status,
 * auth results, watch event types): each of the `nr` values in names[] at v[i], 0 included.
 * Returns 0 or the first -errno.
 */
int series_enum(struct expo_family *f, const char *node, const char *name,
		const char *const *names, uint32_t nr, const uint64_t *v);

#endif /* AGENT_SERIES_H */
