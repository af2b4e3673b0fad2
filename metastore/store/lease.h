/* Lease table with etcd v3 semantics: grant, keep-alive, expiry and the keys each lease owns. */
#ifndef MS_LEASE_H
#define MS_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * etcd clamps a TTL below its minimum up to the minimum: (3 * election ticks / 2) heartbeats,
 * rounded up to whole seconds, which is 2 s with etcd's default 100 ms heartbeat and 10 ticks.
 * A TTL above MS_LEASE_MAX_TTL is refused ("etcdserver: too large lease TTL").
 */
#define MS_LEASE_MIN_TTL 2
#define MS_LEASE_MAX_TTL 9000000000LL

/* ms_lease_next_deadline() of a table with no leases. */
#define MS_LEASE_NO_DEADLINE INT64_MAX

/*
 * The table is pure state: time is the caller's clock (`now_ms`, milliseconds, monotonic), so
 * expiry happens only when the caller asks ms_lease_expired() and revokes what it returns.
 * Not thread-safe. Lease operations call ms_probe_lease_op / ms_probe_lease_active (see
 * include/ms_probes.h); attach, detach and queries call no probe.
 *
 * Errors map to etcd's: -ENOENT "etcdserver: requested lease not found", -EEXIST
 * "etcdserver: lease already exists", -EINVAL on a grant "etcdserver: too large lease TTL"
 * (or a negative id).
 */
struct ms_lease_table;

/* One key owned by a lease. */
struct ms_lease_key {
	uint8_t *key;
	size_t len;
};

/* A set of keys in bytewise order (shorter first on a common prefix, like etcd's sort). */
struct ms_lease_keys {
	struct ms_lease_key *v;
	size_t n;
};

/* Creates an empty table whose automatic ids come from a PRNG seeded from the system's
 * random source. Returns NULL on allocation failure. */
struct ms_lease_table *ms_lease_table_new(void);

/* Frees the table, its leases and their keys; NULL is allowed. */
void ms_lease_table_free(struct ms_lease_table *t);

/* Reseeds the id PRNG: the same seed and the same calls give the same ids. */
void ms_lease_table_seed(struct ms_lease_table *t, uint64_t seed);

/*
 * Grants lease `id` (0: the table picks a random positive id not in use) with `ttl_s`
 * seconds, expiring at now_ms + TTL. A TTL below MS_LEASE_MIN_TTL (zero and negative
 * included) becomes MS_LEASE_MIN_TTL. *id_out and *ttl_out (each may be NULL) get the id
 * and the granted TTL. Returns 0, -EINVAL (id < 0 or ttl_s > MS_LEASE_MAX_TTL, checked
 * first like etcd), -EEXIST or -ENOMEM; nothing changes on failure.
 */
int ms_lease_grant(struct ms_lease_table *t, int64_t id, int64_t ttl_s, int64_t now_ms,
		   int64_t *id_out, int64_t *ttl_out);

/*
 * Removes lease `id`. Its keys move into *keys_out (sorted; release with
 * ms_lease_keys_release) so the caller deletes them in one store transaction; keys_out
 * NULL frees them. The keys are no longer attached to any lease afterwards.
 * Returns 0 or -ENOENT (keys_out then empty).
 */
int ms_lease_revoke(struct ms_lease_table *t, int64_t id, struct ms_lease_keys *keys_out);

/* Same as ms_lease_revoke, but the probe reports op EXPIRE: the caller revokes a lease
 * ms_lease_expired() returned. */
int ms_lease_revoke_expired(struct ms_lease_table *t, int64_t id,
			    struct ms_lease_keys *keys_out);

/*
 * Keep-alive: the lease expires at now_ms + its granted TTL again; *ttl_out (may be NULL)
 * gets the granted TTL. Returns 0, -ENOENT (unknown, or already expired at now_ms: etcd
 * answers not found once the expired lease is revoked, which the caller is about to do) or
 * -ENOMEM (nothing changed).
 */
int ms_lease_renew(struct ms_lease_table *t, int64_t id, int64_t now_ms, int64_t *ttl_out);

/*
 * TimeToLive: *granted gets the granted TTL, *remaining_s the seconds left at now_ms,
 * truncated toward zero like etcd's int64(Remaining().Seconds()) (0 in the last second,
 * negative once an unrevoked lease is over a second past expiry). Either may be NULL.
 * Returns 0 or -ENOENT (etcd's gRPC layer then answers TTL -1).
 */
int ms_lease_ttl(const struct ms_lease_table *t, int64_t id, int64_t now_ms, int64_t *granted,
		 int64_t *remaining_s);

/* Whether lease `id` exists (a put naming an unknown lease fails with lease not found). */
bool ms_lease_exists(const struct ms_lease_table *t, int64_t id);

/* Lease ids in ascending order into a malloc'ed *ids (NULL when empty; caller frees).
 * Returns 0 or -ENOMEM. */
int ms_lease_list(const struct ms_lease_table *t, int64_t **ids, size_t *n);

/*
 * Attaches a key to lease `id` (a put with that lease). A key belongs to at most one lease:
 * attaching it moves it from its previous lease. The table keeps its own copy.
 * Returns 0 (also when already attached to `id`), -EINVAL (empty key), -ENOENT (no such
 * lease) or -ENOMEM; nothing changes on failure.
 */
int ms_lease_attach(struct ms_lease_table *t, int64_t id, const uint8_t *key, size_t key_len);

/*
 * Detaches a key (a put without lease, or a delete): from lease `id`, or from whichever
 * lease holds it when id is 0. Returns 0 or -ENOENT (the key is not attached to `id` /
 * to any lease; nothing changes).
 */
int ms_lease_detach(struct ms_lease_table *t, int64_t id, const uint8_t *key, size_t key_len);

/* The lease a key is attached to, 0 if none. */
int64_t ms_lease_key_owner(const struct ms_lease_table *t, const uint8_t *key, size_t key_len);

/* Copies the keys of lease `id` (sorted) into *out for TimeToLive with keys; release with
 * ms_lease_keys_release. Returns 0, -ENOENT or -ENOMEM (out then empty). */
int ms_lease_keys(const struct ms_lease_table *t, int64_t id, struct ms_lease_keys *out);

/* Frees the keys and the array and empties the set; a zeroed or released set is allowed. */
void ms_lease_keys_release(struct ms_lease_keys *keys);

/*
 * Writes up to `max` ids of leases whose expiry <= now_ms into ids, earliest expiry first
 * (ties by id), and returns how many. A lease stays listed by later calls until it is
 * revoked, so one the caller failed to revoke is retried. O(k log n).
 */
size_t ms_lease_expired(struct ms_lease_table *t, int64_t now_ms, int64_t *ids, size_t max);

/* Number of leases (the lease_active_total gauge). */
size_t ms_lease_count(const struct ms_lease_table *t);

/* Earliest expiry (ms, the caller's clock) of any lease, for a timer;
 * MS_LEASE_NO_DEADLINE when there is none. Drops stale deadline entries as it goes. */
int64_t ms_lease_next_deadline(struct ms_lease_table *t);

/* --- replication (raft) ------------------------------------------------------------------ */

/* A new leader's view: every lease expires at now_ms + its TTL + extra_ms, as etcd's promote
 * does, since keep-alives went to the previous leader. No probe fires. 0 or -ENOMEM. */
int ms_lease_promote(struct ms_lease_table *t, int64_t now_ms, int64_t extra_ms);

/* Moves the deadline of lease `id` to until_ms if it is earlier (an expiry is proposed and
 * should not be proposed again before it applies). No probe. 0, -ENOENT or -ENOMEM. */
int ms_lease_postpone(struct ms_lease_table *t, int64_t id, int64_t until_ms);

/* State of the id generator (with ms_lease_table_seed: snapshots keep ids deterministic). */
uint64_t ms_lease_table_rng(const struct ms_lease_table *t);

/* Granted TTL of lease `id`, -1 if there is none. */
int64_t ms_lease_granted_ttl(const struct ms_lease_table *t, int64_t id);

/* Drops every lease and key attachment (a snapshot is about to be restored); the id
 * generator keeps its state. */
void ms_lease_table_clear(struct ms_lease_table *t);

/* Recreates lease `id` from a snapshot, expiring at now_ms + ttl_s; no probe fires.
 * Returns 0, -EINVAL, -EEXIST or -ENOMEM. */
int ms_lease_restore(struct ms_lease_table *t, int64_t id, int64_t ttl_s, int64_t now_ms);

#endif /* MS_LEASE_H */
