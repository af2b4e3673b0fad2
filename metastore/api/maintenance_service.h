/* etcdserverpb.Maintenance: Status, Hash, HashKV, Alarm, Defragment. */
#ifndef MS_MAINTENANCE_SERVICE_H
#define MS_MAINTENANCE_SERVICE_H

#include "api/kv_service.h"
#include "rpc/server.h"

struct maintenance_service;

/* Creates the service over the KV service (borrowed). Returns 0 with *out, or -ENOMEM. */
int maintenance_service_new(struct kv_service *kv, struct maintenance_service **out);

/* Frees the services; NULL is allowed. */
void maintenance_service_free(struct maintenance_service *ms);

/* Routes Maintenance.Status/Hash/HashKV/Alarm/Defragment of `srv`. */
void maintenance_service_register(struct maintenance_service *ms, struct ms_server *srv);

/* The HashKV digest of the store at `rev` (0: current): a CRC-32 over every key's bytes,
 * value, revisions, version and lease, in key order. Returns 0 or a mvcc error. */
int maintenance_hash_kv(struct ms_mvcc *mvcc, int64_t rev, uint32_t *hash);

/* Where Defragment reports what it freed (printf-style, one line, no newline); NULL: nowhere. */
void maintenance_service_set_log(struct maintenance_service *ms,
				 void (*log)(const char *fmt, ...));

#endif /* MS_MAINTENANCE_SERVICE_H */
