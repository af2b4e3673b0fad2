/* Metrics of a Go target beyond the subsystems' own: failed sanity checks, the probe sites. */
#ifndef AGENT_GO_COLLECT_H
#define AGENT_GO_COLLECT_H

struct expo_registry;
struct loader;
struct mapread;

/* Adds metastore_agent_go_sanity_failures_total{subsystem,check},
 * metastore_agent_go_probe_site{subsystem,function,site,kernel} and
 * metastore_agent_go_table_{slots,held,spilled}{table} to `reg` when a Go target's objects
 * are loaded (nothing otherwise); frees what exited processes left in the tables. Returns 0, or -errno when a map could not be read. */
int go_collect_sanity(struct expo_registry *reg, struct mapread *r, const struct loader *l);

#endif /* AGENT_GO_COLLECT_H */
