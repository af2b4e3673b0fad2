/* etcdserverpb.Watch service: watch streams, watchers over key ranges, events from the log. */
#ifndef MS_WATCH_SERVICE_H
#define MS_WATCH_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/kv_service.h"
#include "rpc/server.h"

struct watch_hub;

/* Creates the hub over the KV service's store (borrowed; must outlive the hub).
 * Returns NULL on allocation failure. */
struct watch_hub *watch_hub_new(struct kv_service *kv);

/* Frees the hub; every stream must be closed first (the server does that). NULL allowed. */
void watch_hub_free(struct watch_hub *hub);

/* Decides whether the stream `call` may watch [key, end) (etcd range convention). */
typedef bool (*watch_permit_fn)(struct grpc_call *call, const uint8_t *key, size_t key_len,
				const uint8_t *end, size_t end_len, void *ctx);

/* Installs the check every watch create goes through (NULL: none) with `ctx` (borrowed). A
 * refused create gets etcd's answer: created and canceled at once, watch id -1, cancel
 * reason "etcdserver: permission denied"; the stream goes on. */
void watch_hub_set_permit(struct watch_hub *hub, watch_permit_fn fn, void *ctx);

#define ERR_TOO_MANY_WATCHES "etcdserver: too many watches (--max-watches)"

/* Caps the watchers open across all streams (0: no limit); a create beyond is answered like
 * a refused one (created and canceled at once) with ERR_TOO_MANY_WATCHES. */
void watch_hub_set_limit(struct watch_hub *hub, size_t max_watchers);

/* Installs the check of whether the member is ready (NULL: always) with `ctx` (borrowed):
 * until it is, what a stream sends waits, in order; it runs at the first watch_hub_notify
 * once ready (so the caller notifies when the member becomes ready). */
void watch_hub_set_ready(struct watch_hub *hub, bool (*ready)(void *ctx), void *ctx);

/* Routes /etcdserverpb.Watch/Watch of `srv` to the hub. */
void watch_hub_register(struct watch_hub *hub, struct ms_server *srv);

/* The store changed, or the member became ready (ms_raft_on_ready): runs the requests
 * streams sent before it was ready (they wait until then, in order), and sends every
 * watcher the events it has not seen yet. Suitable as the KV service's `changed` hook (arg
 * is the hub). */
void watch_hub_notify(void *hub);

/* Watchers open across all streams. */
size_t watch_hub_watchers(const struct watch_hub *hub);

#endif /* MS_WATCH_SERVICE_H */
