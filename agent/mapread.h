/* Reading BPF maps for a scrape: whole per-CPU arrays in one batched syscall, CPUs summed. */
#ifndef AGENT_MAPREAD_H
#define AGENT_MAPREAD_H

#include <stddef.h>
#include <stdint.h>

struct mapread;

/* Creates a reader for per-CPU arrays whose values are arrays of 64-bit integers.
 * Returns 0 with *out owned by the caller, or -errno. */
int mapread_new(struct mapread **out);

/* Frees the reader; NULL is allowed. */
void mapread_free(struct mapread *r);

/*
 * Reads entries [0, nr) of the per-CPU array `fd` whose value is `words` 64-bit integers,
 * and writes the sum over all CPUs of entry i, word w, to out[i * words + w].
 * Signed gauges summed this way wrap correctly when read back as int64_t.
 * Returns 0 or -errno (out is then unspecified).
 */
int mapread_percpu_sum(struct mapread *r, int fd, uint32_t nr, uint32_t words, uint64_t *out);

/*
 * Copies up to `max` entries of the hash map `fd` into keys[] / values[] (key_size and
 * value_size bytes each, in map order); entries deleted meanwhile are skipped. *n gets the
 * count. Returns 0 or -errno (bad fd).
 */
int mapread_hash(int fd, uint32_t key_size, uint32_t value_size, uint32_t max, void *keys,
		 void *values, uint32_t *n);

#endif /* AGENT_MAPREAD_H */
