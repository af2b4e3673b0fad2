/* Subsystems the agent can probe: names, the contract functions each attaches to, metrics. */
#ifndef AGENT_SUBSYS_H
#define AGENT_SUBSYS_H

#include <stddef.h>
#include <stdint.h>

enum subsys_id {
	SUBSYS_GRPC,
	SUBSYS_CONN,
	SUBSYS_STORAGE,
	SUBSYS_MVCC,
	SUBSYS_WATCH,
	SUBSYS_LEASE,
	SUBSYS_AUTH,
	SUBSYS_RAFT,
	SUBSYS_MEMBER, /* always attached: the node label, liveness and leadership of every member */
	SUBSYS_COUNT
};

/* What `all` selects; the member subsystem comes with any selection. */
#define SUBSYS_ALL_MASK ((1u << SUBSYS_MEMBER) - 1)
#define SUBSYS_MEMBER_BIT (1u << SUBSYS_MEMBER)

/* One probe point: a probe-contract function and the BPF program attached to it. */
struct subsys_probe {
	const char *func;      /* symbol in the metastore binary */
	const char *prog;      /* program name in the subsystem's BPF object */
	const char *semaphore; /* batch probe: its USDT-style semaphore symbol; else NULL */
};

struct subsys_desc {
	const char *name;
	const char *summary;
	const struct subsys_probe *probes;
	size_t nr_probes;
	const char *const *metrics; /* NULL-terminated */
};

/* Descriptor of subsystem `id` (< SUBSYS_COUNT); static storage. */
const struct subsys_desc *subsys_get(enum subsys_id id);

/* Parses a comma-separated list ("grpc,storage" or "all") into a bitmask of 1u << id.
 * Returns 0, or -EINVAL with *bad pointing at the first unknown name (within `list`)
 * and *bad_len its length. An empty list or empty item is -EINVAL. */
int subsys_parse_list(const char *list, uint32_t *mask, const char **bad, size_t *bad_len);

/* Index of the probe across all subsystems (its BPF cookie): subsystem-major order. */
uint32_t subsys_probe_index(enum subsys_id id, size_t probe);

/* Total number of probes across all subsystems. */
uint32_t subsys_total_probes(void);

#endif /* AGENT_SUBSYS_H */
