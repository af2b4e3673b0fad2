/* Unit tests for loader + BPF programs: attach to this process's own probe functions, fire
 * them a known number of times, read the maps back (needs root and BPF). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader.h"
#include "mapread.h"
#include "ms_maps.h"

/*
 * The probe-contract functions, emitted exactly as metastore/probe/probes.c compiles: a 5-byte NOP
 * and a return. The calls below go through the real symbols, so the uprobes fire.
 */
#define PROBE_ASM(name)                                                                    \
	".globl " #name "\n.type " #name ",@function\n" #name ":\n"                         \
	".byte 0x0f,0x1f,0x44,0x00,0x00\nret\n.size " #name ", .-" #name "\n"
__asm__(".text\n" PROBE_ASM(ms_probe_batch) PROBE_ASM(ms_probe_lease_op)
		PROBE_ASM(ms_probe_lease_active) PROBE_ASM(ms_probe_watch_create)
			PROBE_ASM(ms_probe_watch_cancel) PROBE_ASM(ms_probe_raft_status));

/* The batch probe's semaphore, where metastore keeps it: in a section with file contents, so
 * that the kernel can find it by file offset. */
__attribute__((section(".probes"), used)) volatile uint16_t ms_probe_batch_semaphore;

/* Hands `n` records to the batch probe in buffer `buf`, the other buffers empty; `count`
 * is what the batch says buffer `buf` holds (n, or more to test the clamp). */
static struct ms_probe_batch batch;

static void fire_count(unsigned buf, const struct ms_probe_rec *recs, uint32_t n, uint32_t count)
{
	memset(batch.n, 0, sizeof(batch.n));
	memcpy(batch.rec[buf], recs, sizeof(recs[0]) * n);
	batch.n[buf] = count;
	ms_probe_batch(&batch);
}

static void fire(unsigned buf, const struct ms_probe_rec *recs, uint32_t n)
{
	fire_count(buf, recs, n, n);
}

static const uint64_t bounds[] = { 1000, 1000000000ull }; /* 1 us, 1 s */
static char self[4096];

#define HIST_WORDS (sizeof(struct ms_hist) / sizeof(uint64_t))

static struct loader *attach(uint32_t mask)
{
	struct loader_opts o = { .binary = self, .pid = getpid(), .subsys_mask = mask,
				 .bounds_ns = bounds, .nr_bounds = 2 };
	struct loader *l = NULL;
	char eb[256];
	int err = loader_new(&o, &l, eb, sizeof(eb));

	if (err)
		fail_msg("loader_new: %s", eb);
	/* this process becomes member 0x7 (slot 0): only members' events count */
	ms_probe_raft_status(7, 1, 7, NULL);
	return l;
}

static uint64_t *read_all(struct loader *l, enum subsys_id id, const char *map, uint32_t nr,
			  uint32_t words)
{
	uint64_t *out = calloc((size_t)nr * words, sizeof(uint64_t));
	struct mapread *r;
	int fd = bpf_object__find_map_fd_by_name(loader_object(l, id), map);

	assert_non_null(out);
	assert_true(fd >= 0);
	assert_int_equal(mapread_new(&r), 0);
	assert_int_equal(mapread_percpu_sum(r, fd, nr, words, out), 0);
	mapread_free(r);
	return out;
}

/* Hits and records of the one probe of subsystem `id`, by its cookie. */
static void probe_counts(struct loader *l, enum subsys_id id, uint64_t *hits, uint64_t *recs)
{
	uint64_t *v = read_all(l, id, "probe_hits", MS_MAX_PROBES, 1);

	*hits = v[subsys_probe_index(id, 0)];
	free(v);
	v = read_all(l, id, "probe_records", MS_MAX_PROBES, 1);
	*recs = v[subsys_probe_index(id, 0)];
	free(v);
}

/* In-flight calls of `method` this process has in the grpc subsystem's table. */
static int64_t inflight_of(struct loader *l, uint32_t method)
{
	int fd = bpf_object__find_map_fd_by_name(loader_object(l, SUBSYS_GRPC), "grpc_inflight");
	struct ms_proc_method k = { .tgid = (uint32_t)getpid(), .method = method };
	int64_t v = 0;

	assert_true(fd >= 0);
	if (bpf_map_lookup_elem(fd, &k, &v))
		return 0;
	return v;
}

static struct ms_probe_rec rec(uint16_t kind, uint64_t id, uint64_t t_ns, uint64_t val,
			       uint16_t a, uint16_t b, uint16_t c)
{
	return (struct ms_probe_rec){ .id = id, .t_ns = t_ns, .val = val, .kind = kind, .a = a,
				      .b = b, .c = c };
}

static const struct ms_hist *hist_at(const uint64_t *v, uint32_t idx)
{
	return (const struct ms_hist *)(v + (size_t)idx * HIST_WORDS);
}

/* The in-memory engine's histogram of storage operation `op`. */
static const struct ms_hist *mem_hist(const uint64_t *v, uint32_t op)
{
	return hist_at(v, op * MS_STORAGE_KIND_COUNT + MS_STORAGE_MEMORY);
}

static void test_grpc_exact(void **state)
{
	struct loader *l = attach(1u << SUBSYS_GRPC);
	struct ms_probe_rec r[MS_PROBE_BATCH_MAX];
	uint64_t *v, hits, recs;
	uint32_t n = 0;

	(void)state;
	/* the attached probe raised its semaphore: the store would now write records */
	assert_int_equal(ms_probe_batch_semaphore, 1);
	/* the first batch seen from this process (window start 999) marks what can be counted;
	 * 10 Put calls and one of a method the server does not serve began in it (no record) */
	batch.window_ns = 999;
	batch.grpc_begun[MS_METHOD_KV_PUT] = 10;
	batch.grpc_begun[MS_METHOD_UNKNOWN] = 1;
	fire(MS_BATCH_GRPC, r, 0);
	assert_int_equal(inflight_of(l, MS_METHOD_KV_PUT), 10);
	assert_int_equal(inflight_of(l, MS_METHOD_UNKNOWN), 1);
	batch.window_ns = 20000000; /* a later window: the start seen first still counts */
	memset(batch.grpc_begun, 0, sizeof(batch.grpc_begun));

	/* end records carry their call's begin time (val) */
	n = 0;
	/* 500 ns each (bucket <= 1 us) */
	for (uint64_t id = 1; id <= 7; id++)
		r[n++] = rec(MS_REC_GRPC_END, id, 1000 * id + 500, 1000 * id, MS_METHOD_KV_PUT,
			     MS_GRPC_OK, 0);
	/* 2 ms each (bucket <= 1 s) */
	for (uint64_t id = 8; id <= 10; id++)
		r[n++] = rec(MS_REC_GRPC_END, id, 1000 * id + 2000000, 1000 * id, MS_METHOD_KV_PUT,
			     MS_GRPC_OUT_OF_RANGE, 0);
	/* code -> Unknown; the clock went back: 0 */
	r[n++] = rec(MS_REC_GRPC_END, 11, 4000, 5000, 9999, 77, 0);
	/* no begin time / it began before the first window seen (at its start): not counted */
	r[n++] = rec(MS_REC_GRPC_END, 500, 9000, 0, MS_METHOD_KV_PUT, MS_GRPC_OK, 0);
	r[n++] = rec(MS_REC_GRPC_END, 501, 9000, 999, MS_METHOD_KV_PUT, MS_GRPC_OK, 0);
	r[n++] = rec(MS_REC_GRPC_PANIC, 12, 9000, 0, MS_METHOD_KV_TXN, 0, 0);
	r[n++] = rec(MS_REC_GRPC_RATE_LIMITED, 13, 9000, 0, MS_METHOD_KV_RANGE, 0, 0);
	r[n++] = rec(MS_REC_GRPC_RATE_LIMITED, 14, 9000, 0, MS_METHOD_KV_RANGE, 0, 0);
	r[n++] = rec(MS_REC_NONE, 15, 9000, 0, 0, 0, 0); /* unknown kind: skipped */
	/* begin and end of one call in the same batch */
	batch.grpc_begun[MS_METHOD_KV_PUT] = 1;
	r[n++] = rec(MS_REC_GRPC_END, 16, 10250, 10000, MS_METHOD_KV_PUT, MS_GRPC_OK, 0);
	fire(MS_BATCH_GRPC, r, n);
	memset(batch.grpc_begun, 0, sizeof(batch.grpc_begun));

	v = read_all(l, SUBSYS_GRPC, "grpc_hist", MS_GRPC_SERIES, HIST_WORDS);
	for (uint32_t i = 0; i < MS_GRPC_SERIES; i++) {
		const struct ms_hist *h = hist_at(v, i);
		uint64_t want = 0, b0 = 0, b1 = 0, sum = 0;

		if (i == MS_METHOD_KV_PUT * MS_GRPC_CODE_COUNT + MS_GRPC_OK) {
			want = b0 = 8;
			sum = 7 * 500 + 250;
		} else if (i == MS_METHOD_KV_PUT * MS_GRPC_CODE_COUNT + MS_GRPC_OUT_OF_RANGE) {
			want = b1 = 3;
			sum = 3 * 2000000;
		} else if (i == MS_METHOD_UNKNOWN * MS_GRPC_CODE_COUNT + MS_GRPC_UNKNOWN) {
			want = b0 = 1;
		}
		assert_int_equal(h->count, want);
		assert_int_equal(h->bucket[0], b0);
		assert_int_equal(h->bucket[1], b1);
		assert_int_equal(h->bucket[2], 0);
		assert_int_equal(h->sum_ns, sum);
	}
	free(v);

	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(inflight_of(l, m), 0);
	v = read_all(l, SUBSYS_GRPC, "grpc_panics", MS_METHOD_COUNT, 1);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(v[m], m == MS_METHOD_KV_TXN ? 1 : 0);
	free(v);
	v = read_all(l, SUBSYS_GRPC, "grpc_rate_limited_hits", MS_METHOD_COUNT, 1);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(v[m], m == MS_METHOD_KV_RANGE ? 2 : 0);
	free(v);

	/* two hits carried 0 + 18 records */
	probe_counts(l, SUBSYS_GRPC, &hits, &recs);
	assert_int_equal(hits, 2);
	assert_int_equal(recs, 18);

	/* a count above a full buffer is read as a full buffer */
	for (n = 0; n < MS_PROBE_BATCH_MAX; n++)
		r[n] = rec(MS_REC_GRPC_PANIC, 100 + n, 0, 0, MS_METHOD_KV_RANGE, 0, 0);
	fire_count(MS_BATCH_GRPC, r, n, MS_PROBE_BATCH_MAX + 8);
	v = read_all(l, SUBSYS_GRPC, "grpc_panics", MS_METHOD_COUNT, 1);
	assert_int_equal(v[MS_METHOD_KV_RANGE], MS_PROBE_BATCH_MAX);
	free(v);
	/* a batch that cannot be read is counted as a fault, not as events */
	ms_probe_batch((const struct ms_probe_batch *)16);
	v = read_all(l, SUBSYS_GRPC, "record_faults", 1, 1);
	assert_int_equal(v[0], 1);
	free(v);
	/* a batch with records for other subsystems only: a hit, no records */
	r[0] = rec(MS_REC_STORAGE_OP, 1, 1, 2, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, 0);
	fire(MS_BATCH_STORAGE, r, 1);
	probe_counts(l, SUBSYS_GRPC, &hits, &recs);
	assert_int_equal(hits, 5);
	assert_int_equal(recs, 18 + MS_PROBE_BATCH_MAX);

	assert_true(loader_probe(l, subsys_probe_index(SUBSYS_GRPC, 0))->attached);
	assert_true(loader_probe(l, subsys_probe_index(SUBSYS_GRPC, 0))->nop5);
	assert_null(loader_object(l, SUBSYS_STORAGE));
	loader_free(l);
	/* detached: the semaphore is down again */
	assert_int_equal(ms_probe_batch_semaphore, 0);
}

static void test_storage_and_mvcc(void **state)
{
	struct loader *l = attach((1u << SUBSYS_STORAGE) | (1u << SUBSYS_MVCC));
	static const struct {
		uint32_t op, status, n;
	} ops[] = {
		{ MS_STORAGE_OP_PUT, MS_STORAGE_STATUS_OK, 4 },
		{ MS_STORAGE_OP_RANGE, MS_STORAGE_STATUS_OK, 2 },
		{ MS_STORAGE_OP_RANGE, MS_STORAGE_STATUS_COMPACTED, 1 },
		{ MS_STORAGE_OP_COMPACT, MS_STORAGE_STATUS_OK, 1 },
	};
	struct ms_probe_rec r[16];
	uint64_t id = 1, *v, rev, hits, recs;
	uint32_t slot;
	uint32_t n = 0;
	int fd;

	(void)state;
	/* two subsystems on the one probe: one semaphore, up once */
	assert_int_equal(ms_probe_batch_semaphore, 1);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (uint32_t k = 0; k < ops[i].n; k++, id++)
			r[n++] = rec(MS_REC_STORAGE_OP, id, 100, 100 + 300 * id, (uint16_t)ops[i].op,
				     MS_STORAGE_MEMORY, (uint16_t)ops[i].status);
	}
	/* bad status, bad engine, bad kind: dropped */
	r[n++] = rec(MS_REC_STORAGE_OP, id, 0, 1, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, 99);
	r[n++] = rec(MS_REC_STORAGE_OP, id, 0, 1, MS_STORAGE_OP_PUT, 7, MS_STORAGE_STATUS_OK);
	r[n++] = rec(MS_REC_GRPC_BEGIN, id, 0, 1, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, 0);
	fire(MS_BATCH_STORAGE, r, n);

	v = read_all(l, SUBSYS_STORAGE, "storage_total", MS_STORAGE_TOTAL_SERIES, 1);
	for (uint32_t i = 0; i < MS_STORAGE_TOTAL_SERIES; i++) {
		uint64_t want = 0;

		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			if (i == (ops[k].op * MS_STORAGE_KIND_COUNT + MS_STORAGE_MEMORY) *
					 MS_STORAGE_STATUS_COUNT + ops[k].status)
				want = ops[k].n;
		}
		assert_int_equal(v[i], want);
	}
	free(v);
	/* durations are end - begin of each record: 300 ns times the op id */
	v = read_all(l, SUBSYS_STORAGE, "storage_hist", MS_STORAGE_SERIES, HIST_WORDS);
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_PUT)->count, 4);
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_PUT)->sum_ns, 300 * (1 + 2 + 3 + 4));
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_PUT)->bucket[0], 3); /* 300..900 ns */
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_PUT)->bucket[1], 1); /* 1200 ns */
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_RANGE)->count, 3);
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_RANGE)->sum_ns, 300 * (5 + 6 + 7));
	assert_int_equal(mem_hist(v, MS_STORAGE_OP_DELETE)->count, 0);
	free(v);

	n = 0;
	/* the process's member is what counts, not the id a record names */
	r[n++] = rec(MS_REC_MVCC_REVISION, 1, 0, 5, 0, 0, 0);
	r[n++] = rec(MS_REC_MVCC_REVISION, 2, 0, 9, 0, 0, 0);
	r[n++] = rec(MS_REC_MVCC_REVISION, 1, 0, 6, 0, 0, 0);
	r[n++] = rec(MS_REC_MVCC_COMPACT, 1, 0, 3, 0, 0, 0);
	r[n++] = rec(MS_REC_MVCC_COMPACT, 1, 0, 4, 0, 0, 0);
	fire(MS_BATCH_MVCC, r, n);
	fd = bpf_object__find_map_fd_by_name(loader_object(l, SUBSYS_MVCC), "mvcc_revision");
	slot = 0;
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &rev), 0);
	assert_int_equal(rev, 6);
	v = read_all(l, SUBSYS_MVCC, "mvcc_compactions", 1, 1);
	assert_int_equal(v[0], 2);
	free(v);
	/* each subsystem's program ran on both batches, and read its own buffer */
	probe_counts(l, SUBSYS_STORAGE, &hits, &recs);
	assert_int_equal(hits, 2);
	assert_int_equal(recs, 11);
	probe_counts(l, SUBSYS_MVCC, &hits, &recs);
	assert_int_equal(hits, 2);
	assert_int_equal(recs, 5);
	loader_free(l);
	assert_int_equal(ms_probe_batch_semaphore, 0);
}

static void test_raft_exact(void **state)
{
	struct loader *l = attach(1u << SUBSYS_RAFT);
	struct ms_probe_rec r[8];
	uint64_t applied, *v, hits, recs;
	const struct ms_hist *h;
	uint32_t n = 0, key = 0;
	int fd;

	(void)state;
	/* commit records carry the propose time of entries proposed here */
	r[n++] = rec(MS_REC_RAFT_COMMIT, 7, 1600, 1000, 0, 0, 0);    /* 600 ns */
	r[n++] = rec(MS_REC_RAFT_APPLY, 7, 0, 41, 0, 0, 0);
	r[n++] = rec(MS_REC_RAFT_COMMIT, 7, 2001100, 1100, 0, 0, 0); /* 2 ms */
	r[n++] = rec(MS_REC_RAFT_APPLY, 7, 0, 42, 0, 0, 0);
	r[n++] = rec(MS_REC_RAFT_COMMIT, 7, 3000000, 0, 0, 0, 0);    /* proposed elsewhere */
	r[n++] = rec(MS_REC_RAFT_APPLY, 7, 0, 43, 0, 0, 0);
	fire(MS_BATCH_RAFT, r, n);
	fd = bpf_object__find_map_fd_by_name(loader_object(l, SUBSYS_RAFT), "raft_applied");
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &applied), 0);
	assert_int_equal(applied, 43);
	v = read_all(l, SUBSYS_RAFT, "raft_commit_hist", 1, HIST_WORDS);
	h = hist_at(v, 0);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->sum_ns, 600 + 2000000);
	assert_int_equal(h->bucket[0], 1);
	assert_int_equal(h->bucket[1], 1);
	free(v);
	v = read_all(l, SUBSYS_RAFT, "record_faults", 1, 1);
	assert_int_equal(v[0], 0);
	free(v);
	probe_counts(l, SUBSYS_RAFT, &hits, &recs);
	assert_int_equal(hits, 1);
	assert_int_equal(recs, 6);
	loader_free(l);
}

static void test_auth_and_watch(void **state)
{
	struct loader *l = attach((1u << SUBSYS_AUTH) | (1u << SUBSYS_WATCH));
	struct ms_probe_rec r[8];
	uint64_t *v, hits, recs;
	uint32_t n = 0;

	(void)state;
	r[n++] = rec(MS_REC_AUTH_AUTHENTICATE, 0, 0, 0, MS_AUTH_AUTHN_SUCCESS, 0, 0);
	r[n++] = rec(MS_REC_AUTH_AUTHENTICATE, 0, 0, 0, MS_AUTH_AUTHN_FAILURE, 0, 0);
	r[n++] = rec(MS_REC_AUTH_AUTHENTICATE, 0, 0, 0, 9, 0, 0); /* out of contract: dropped */
	for (int i = 0; i < 3; i++)
		r[n++] = rec(MS_REC_AUTH_AUTHORIZE, 10 + i, 0, 0, MS_METHOD_KV_PUT,
			     MS_AUTH_AUTHZ_ALLOWED, 0);
	r[n++] = rec(MS_REC_AUTH_AUTHORIZE, 20, 0, 0, MS_METHOD_KV_RANGE, MS_AUTH_AUTHZ_DENIED, 0);
	fire(MS_BATCH_AUTH, r, n);
	v = read_all(l, SUBSYS_AUTH, "auth_authn", MS_AUTH_AUTHN_COUNT, 1);
	assert_int_equal(v[MS_AUTH_AUTHN_SUCCESS], 1);
	assert_int_equal(v[MS_AUTH_AUTHN_FAILURE], 1);
	free(v);
	v = read_all(l, SUBSYS_AUTH, "auth_authz", MS_AUTH_AUTHZ_COUNT, 1);
	assert_int_equal(v[MS_AUTH_AUTHZ_ALLOWED], 3);
	assert_int_equal(v[MS_AUTH_AUTHZ_DENIED], 1);
	free(v);

	/* counts above 16 bits: PUT and DELETE events share one 64-bit field */
	n = 0;
	r[n++] = rec(MS_REC_WATCH_EVENTS, 1, 0, (5ull << 32) | 2, 0, 0, 0);
	r[n++] = rec(MS_REC_WATCH_EVENTS, 2, 0, (70000ull << 32) | 0, 0, 0, 0);
	r[n++] = rec(MS_REC_WATCH_EVENTS, 2, 0, 80000, 0, 0, 0);
	fire(MS_BATCH_WATCH, r, n);
	v = read_all(l, SUBSYS_WATCH, "watch_events", 2, 1);
	assert_int_equal(v[0], 70005);
	assert_int_equal(v[1], 80002);
	free(v);
	/* both programs saw both batches, each read its own buffer */
	probe_counts(l, SUBSYS_AUTH, &hits, &recs);
	assert_int_equal(hits, 2);
	assert_int_equal(recs, 7);
	v = read_all(l, SUBSYS_WATCH, "probe_hits", MS_MAX_PROBES, 1);
	assert_int_equal(v[subsys_probe_index(SUBSYS_WATCH, 2)], 2);
	free(v);
	v = read_all(l, SUBSYS_WATCH, "probe_records", MS_MAX_PROBES, 1);
	assert_int_equal(v[subsys_probe_index(SUBSYS_WATCH, 2)], 3);
	free(v);
	loader_free(l);
}

static void test_lease_exact(void **state)
{
	struct loader *l = attach(1u << SUBSYS_LEASE);
	uint64_t *v;
	uint32_t tgid = (uint32_t)getpid(), active = 0;
	int fd;

	(void)state;
	for (int i = 0; i < 5; i++)
		ms_probe_lease_op(MS_LEASE_OP_GRANT, 100 + i, MS_LEASE_STATUS_OK);
	ms_probe_lease_op(MS_LEASE_OP_GRANT, 100, MS_LEASE_STATUS_EXISTS);
	ms_probe_lease_op(MS_LEASE_OP_RENEW, 101, MS_LEASE_STATUS_OK);
	ms_probe_lease_op(MS_LEASE_OP_RENEW, 999, MS_LEASE_STATUS_NOT_FOUND);
	ms_probe_lease_op(MS_LEASE_OP_EXPIRE, 102, MS_LEASE_STATUS_OK);
	ms_probe_lease_op(77, 1, MS_LEASE_STATUS_OK); /* out of contract: dropped */
	ms_probe_lease_active(5);
	ms_probe_lease_active(4);

	v = read_all(l, SUBSYS_LEASE, "lease_ops", MS_LEASE_OP_COUNT * MS_LEASE_STATUS_COUNT, 1);
	for (uint32_t op = 0; op < MS_LEASE_OP_COUNT; op++) {
		for (uint32_t st = 0; st < MS_LEASE_STATUS_COUNT; st++) {
			uint64_t want = 0;

			if (op == MS_LEASE_OP_GRANT && st == MS_LEASE_STATUS_OK)
				want = 5;
			else if ((op == MS_LEASE_OP_GRANT && st == MS_LEASE_STATUS_EXISTS) ||
				 (op == MS_LEASE_OP_RENEW && st == MS_LEASE_STATUS_OK) ||
				 (op == MS_LEASE_OP_RENEW && st == MS_LEASE_STATUS_NOT_FOUND) ||
				 (op == MS_LEASE_OP_EXPIRE && st == MS_LEASE_STATUS_OK))
				want = 1;
			assert_int_equal(v[op * MS_LEASE_STATUS_COUNT + st], want);
		}
	}
	free(v);
	/* The gauge is the last count this process reported. */
	fd = bpf_object__find_map_fd_by_name(loader_object(l, SUBSYS_LEASE), "lease_active");
	assert_int_equal(bpf_map_lookup_elem(fd, &tgid, &active), 0);
	assert_int_equal(active, 4);
	loader_free(l);
}

/* Hits of probe `i` of subsystem `id`. */
static uint64_t hits_of(struct loader *l, enum subsys_id id, size_t i)
{
	uint64_t *v = read_all(l, id, "probe_hits", MS_MAX_PROBES, 1);
	uint64_t h = v[subsys_probe_index(id, i)];

	free(v);
	return h;
}

static void lease_ops(int n)
{
	for (int i = 0; i < n; i++)
		ms_probe_lease_op(MS_LEASE_OP_RENEW, 100 + i, MS_LEASE_STATUS_OK);
}

/* Detached, the probes do not fire and the semaphore is 0; attached again, they count on
 * from where they were, the semaphore back to its value, each probe attached once. */
static void test_detach_and_reattach(void **state)
{
	struct loader *l = attach((1u << SUBSYS_GRPC) | (1u << SUBSYS_LEASE));
	uint32_t lease_op = subsys_probe_index(SUBSYS_LEASE, 0);
	uint16_t sem = ms_probe_batch_semaphore;
	char eb[256] = "";

	(void)state;
	assert_int_not_equal(sem, 0);
	lease_ops(2);
	assert_int_equal(hits_of(l, SUBSYS_LEASE, 0), 2);
	assert_false(loader_detached(l));
	assert_int_equal(loader_detach(l), 0);
	assert_true(loader_detached(l));
	assert_false(loader_probe(l, lease_op)->attached);
	assert_false(loader_probe(l, subsys_probe_index(SUBSYS_GRPC, 0))->attached);
	assert_int_equal(ms_probe_batch_semaphore, 0);
	lease_ops(3);
	assert_int_equal(hits_of(l, SUBSYS_LEASE, 0), 2);
	assert_int_equal(loader_detach(l), 0); /* already detached: nothing changes */
	assert_int_equal(loader_reattach(l, eb, sizeof(eb)), 0);
	assert_false(loader_detached(l));
	assert_true(loader_probe(l, lease_op)->attached);
	assert_int_equal(ms_probe_batch_semaphore, sem);
	lease_ops(4);
	assert_int_equal(hits_of(l, SUBSYS_LEASE, 0), 6);
	/* attached already: no second link, one hit per call */
	assert_int_equal(loader_reattach(l, eb, sizeof(eb)), 0);
	lease_ops(1);
	assert_int_equal(hits_of(l, SUBSYS_LEASE, 0), 7);
	assert_int_equal(ms_probe_batch_semaphore, sem);
	loader_free(l);
	assert_int_equal(ms_probe_batch_semaphore, 0);
}

/* A re-attach that fails leaves nothing attached and the loader detached; once the file is
 * back, it succeeds. The binary is a copy of this one (every process running it: none). */
static void test_failed_reattach_attaches_nothing(void **state)
{
	char dir[] = "/tmp/test_loader.XXXXXX", bin[128], away[128], cmd[4352], eb[256] = "";
	struct loader_opts o = { .binary = bin, .pid = -1,
				 .subsys_mask = (1u << SUBSYS_GRPC) | (1u << SUBSYS_LEASE),
				 .bounds_ns = bounds, .nr_bounds = 2 };
	struct loader *l = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(bin, sizeof(bin), "%s/copy", dir);
	snprintf(away, sizeof(away), "%s/away", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", self, bin);
	assert_int_equal(system(cmd), 0);
	if (loader_new(&o, &l, eb, sizeof(eb)))
		fail_msg("loader_new: %s", eb);
	assert_int_equal(loader_detach(l), 0);
	assert_int_equal(rename(bin, away), 0);
	assert_int_equal(loader_reattach(l, eb, sizeof(eb)), -ENOENT);
	assert_non_null(strstr(eb, "cannot attach uprobe to ms_probe_batch in "));
	assert_true(loader_detached(l));
	for (uint32_t i = 0; i < subsys_total_probes(); i++)
		assert_false(loader_probe(l, i)->attached);
	assert_int_equal(rename(away, bin), 0);
	assert_int_equal(loader_reattach(l, eb, sizeof(eb)), 0);
	assert_false(loader_detached(l));
	assert_true(loader_probe(l, subsys_probe_index(SUBSYS_LEASE, 1))->attached);
	loader_free(l);
	assert_int_equal(unlink(bin), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_missing_symbol_attaches_nothing(void **state)
{
	struct loader_opts o = { .binary = "/bin/true", .pid = -1, .subsys_mask = SUBSYS_ALL_MASK,
				 .bounds_ns = bounds, .nr_bounds = 2 };
	struct loader *l = (void *)1;
	char eb[256];

	(void)state;
	assert_int_equal(loader_new(&o, &l, eb, sizeof(eb)), -ENOENT);
	assert_null(l);
	assert_string_equal(eb, "symbol ms_probe_batch (subsystem grpc) not found in "
				"/bin/true (stripped binary: no .symtab)");
	o.binary = "/nonexistent";
	assert_int_equal(loader_new(&o, &l, eb, sizeof(eb)), -ENOENT);
	assert_string_equal(eb, "cannot open /nonexistent: No such file or directory");
	loader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grpc_exact),
		cmocka_unit_test(test_storage_and_mvcc),
		cmocka_unit_test(test_raft_exact),
		cmocka_unit_test(test_auth_and_watch),
		cmocka_unit_test(test_lease_exact),
		cmocka_unit_test(test_missing_symbol_attaches_nothing),
		cmocka_unit_test(test_detach_and_reattach),
		cmocka_unit_test(test_failed_reattach_attaches_nothing),
	};
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (geteuid() != 0) {
		fprintf(stderr, "test_loader: needs root to load BPF programs\n");
		return 1;
	}
	if (n <= 0)
		return 1;
	self[n] = '\0';
	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
