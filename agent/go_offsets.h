/* Struct field offsets of a Go target the BPF programs read: from its DWARF or a table keyed by build ID. */
#ifndef AGENT_GO_OFFSETS_H
#define AGENT_GO_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "gopclntab.h"

/*
 * The fields, as (id, Go type name as DWARF spells it, field). Wrong offsets fail silently
 * (a method name read from the wrong word), so each one is either known for this build or
 * the target is refused. Appending a field needs the table regenerated.
 */
#define GO_OFFSET_FIELDS(X)                                                                   \
	X(STREAM_METHOD, "google.golang.org/grpc/internal/transport.Stream", "method")           \
	X(STATUS_PROTO, "google.golang.org/grpc/internal/status.Status", "s")                    \
	X(PROTO_STATUS_CODE, "google.golang.org/genproto/googleapis/rpc/status.Status", "Code")  \
	X(SERVER_ID, "go.etcd.io/etcd/etcdserver.EtcdServer", "id")                              \
	X(SERVER_RAFT_NODE, "go.etcd.io/etcd/etcdserver.EtcdServer", "r")                        \
	X(SERVER_APPLIED_INDEX, "go.etcd.io/etcd/etcdserver.EtcdServer", "appliedIndex")         \
	X(SERVER_KV, "go.etcd.io/etcd/etcdserver.EtcdServer", "kv")                              \
	X(WATCHABLE_STORE_STORE, "go.etcd.io/etcd/mvcc.watchableStore", "store")                 \
	X(STORE_CURRENT_REV, "go.etcd.io/etcd/mvcc.store", "currentRev")                         \
	X(HMAP_COUNT, "runtime.hmap", "count")                                                    \
	X(LEASE_REVOKE_ID, "go.etcd.io/etcd/etcdserver/etcdserverpb.LeaseRevokeRequest", "ID")   \
	X(WATCH_RESP_EVENTS, "go.etcd.io/etcd/etcdserver/etcdserverpb.WatchResponse", "Events")   \
	X(EVENT_TYPE, "go.etcd.io/etcd/mvcc/mvccpb.Event", "Type")                                \
	X(WATCHER_CH, "go.etcd.io/etcd/mvcc.watcher", "ch")

#define GO_OFF_ENUM_(id, type, field) GO_OFF_##id,
enum go_offset_id {
	GO_OFFSET_FIELDS(GO_OFF_ENUM_)
	GO_OFF_COUNT
};
#undef GO_OFF_ENUM_

struct go_offsets {
	uint32_t off[GO_OFF_COUNT]; /* byte offset of each field in its struct */
};

/* One build the table knows (go_offsets_table.h, generated). */
struct go_offsets_build {
	const char *build_id; /* GNU build ID, lowercase hex */
	const char *what;     /* the build, for messages */
	struct go_offsets offsets;
};

/* Enum name (without GO_OFF_), Go type name and field of offset `id` (< GO_OFF_COUNT);
 * static strings. */
void go_offsets_field(enum go_offset_id id, const char **name, const char **type,
		      const char **field);

/* Most fields one go_dwarf_field_offsets call looks up. */
#define GO_DWARF_MAX_FIELDS 64

/*
 * Offsets of `n` fields (field i is fields[i] of struct types[i], Go's DWARF type name such
 * as "main.record") from the DWARF of the ELF file at `path`, into off[0..n). Returns 0,
 * -ENODATA (no DWARF), -ENOENT (errbuf names the first type or field missing), -E2BIG (n >
 * GO_DWARF_MAX_FIELDS) or another -errno.
 */
int go_dwarf_field_offsets(const char *path, const char *const *types,
			   const char *const *fields, size_t n, uint32_t *off, char *errbuf,
			   size_t errlen);

/*
 * Reads every field's offset from the DWARF of the ELF file at `path`. Returns 0, -ENODATA
 * (no DWARF: errbuf says so), -ENOENT (a type or field missing: errbuf names the first),
 * or another -errno.
 */
int go_offsets_from_dwarf(const char *path, struct go_offsets *out, char *errbuf, size_t errlen);

/* The built-in table's entry for GNU build ID `build_id`, or NULL. */
const struct go_offsets_build *go_offsets_known(const char *build_id);

/*
 * The offsets for the Go binary at `path` (its table `t`): from its DWARF when it has some,
 * else from the built-in table by build ID. Returns 0 with *source set to "dwarf" or the
 * table entry's description, or -ENOENT with one line in errbuf naming what is missing.
 */
int go_offsets_resolve(const char *path, const struct gopclntab *t, struct go_offsets *out,
		       const char **source, char *errbuf, size_t errlen);

#endif /* AGENT_GO_OFFSETS_H */
