/* etcdserverpb.Watch service: watch streams, watchers over key ranges, events from the log. */
#ifndef MS_WATCH_SERVICE_H
#define MS_WATCH_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "kv_service.h"
#include "server.h"

struct watch_hub;

/* Creates the hub over the KV service's store (borrowed; must outlive the hub).
 * Returns NULL on allocation failure. */
struct watch_hub *watch_hub_new(struct kv_service *kv);

/* Frees the hub; every stream must be closed first (the server does that). NULL allowed. */
void watch_hub_free(struct watch_hub *hub);

/* Routes /etcdserverpb.Watch/Watch of `srv` to the hub. */
void watch_hub_register(struct watch_hub *hub, struct ms_server *srv);

/* The store changed: sends every watcher the events it has not seen yet. Suitable as the
 * KV service's `changed` hook (arg is the hub). */
void watch_hub_notify(void *hub);

/* Watchers open across all streams. */
size_t watch_hub_watchers(const struct watch_hub *hub);

#endif /* MS_WATCH_SERVICE_H */
