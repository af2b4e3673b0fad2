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
 * The probe-contract functions, emitted exactly as metastore/probes.c compiles: a 5-byte NOP
 * and a return. The calls below go through the real symbols, so the uprobes fire.
 */
#define PROBE_ASM(name)                                                                    \
	".globl " #name "\n.type " #name ",@function\n" #name ":\n"                         \
	".byte 0x0f,0x1f,0x44,0x00,0x00\nret\n.size " #name ", .-" #name "\n"
__asm__(".text\n" PROBE_ASM(ms_probe_grpc_request_begin) PROBE_ASM(ms_probe_grpc_request_end)
		PROBE_ASM(ms_probe_grpc_panic) PROBE_ASM(ms_probe_grpc_rate_limited) PROBE_ASM(ms_probe_storage_begin)
			PROBE_ASM(ms_probe_storage_end) PROBE_ASM(ms_probe_mvcc_revision)
				PROBE_ASM(ms_probe_mvcc_compact) PROBE_ASM(ms_probe_lease_op)
					PROBE_ASM(ms_probe_lease_active));

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

/* Hits of the rate-limit probe, by its cookie. */
static uint64_t v_hits_rate_limited(struct loader *l)
{
	uint64_t *v = read_all(l, SUBSYS_GRPC, "probe_hits", MS_MAX_PROBES, 1);
	uint64_t n = v[subsys_probe_index(SUBSYS_GRPC, 3)];

	free(v);
	return n;
}

static const struct ms_hist *hist_at(const uint64_t *v, uint32_t idx)
{
	return (const struct ms_hist *)(v + (size_t)idx * HIST_WORDS);
}

static void test_grpc_exact(void **state)
{
	struct loader *l = attach(1u << SUBSYS_GRPC);
	uint64_t *v;

	(void)state;
	for (uint64_t id = 1; id <= 10; id++)
		ms_probe_grpc_request_begin(id, MS_METHOD_KV_PUT);
	ms_probe_grpc_request_begin(11, 9999); /* out-of-range method: folded into unknown */
	v = read_all(l, SUBSYS_GRPC, "grpc_inflight", MS_METHOD_COUNT, 1);
	assert_int_equal((int64_t)v[MS_METHOD_KV_PUT], 10);
	assert_int_equal((int64_t)v[MS_METHOD_UNKNOWN], 1);
	free(v);

	for (uint64_t id = 1; id <= 7; id++)
		ms_probe_grpc_request_end(id, MS_METHOD_KV_PUT, MS_GRPC_OK);
	for (uint64_t id = 8; id <= 10; id++)
		ms_probe_grpc_request_end(id, MS_METHOD_KV_PUT, MS_GRPC_OUT_OF_RANGE);
	ms_probe_grpc_request_end(11, 9999, 77);                        /* code -> Unknown */
	ms_probe_grpc_request_end(500, MS_METHOD_KV_PUT, MS_GRPC_OK);  /* no begin: ignored */
	ms_probe_grpc_request_end(3, MS_METHOD_KV_PUT, MS_GRPC_OK);    /* second end: ignored */
	ms_probe_grpc_panic(12, MS_METHOD_KV_TXN);
	ms_probe_grpc_rate_limited(13, MS_METHOD_KV_RANGE);
	ms_probe_grpc_rate_limited(14, MS_METHOD_KV_RANGE);

	v = read_all(l, SUBSYS_GRPC, "grpc_hist", MS_GRPC_SERIES, HIST_WORDS);
	for (uint32_t i = 0; i < MS_GRPC_SERIES; i++) {
		const struct ms_hist *h = hist_at(v, i);
		uint64_t want = 0;

		if (i == MS_METHOD_KV_PUT * MS_GRPC_CODE_COUNT + MS_GRPC_OK)
			want = 7;
		else if (i == MS_METHOD_KV_PUT * MS_GRPC_CODE_COUNT + MS_GRPC_OUT_OF_RANGE)
			want = 3;
		else if (i == MS_METHOD_UNKNOWN * MS_GRPC_CODE_COUNT + MS_GRPC_UNKNOWN)
			want = 1;
		assert_int_equal(h->count, want);
		/* Buckets partition the count: every observation lands in exactly one. */
		assert_int_equal(h->bucket[0] + h->bucket[1] + h->bucket[2], want);
		if (!want)
			assert_int_equal(h->sum_ns, 0);
	}
	free(v);

	v = read_all(l, SUBSYS_GRPC, "grpc_inflight", MS_METHOD_COUNT, 1);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal((int64_t)v[m], 0);
	free(v);
	v = read_all(l, SUBSYS_GRPC, "grpc_panics", MS_METHOD_COUNT, 1);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(v[m], m == MS_METHOD_KV_TXN ? 1 : 0);
	free(v);
	v = read_all(l, SUBSYS_GRPC, "grpc_rate_limited_hits", MS_METHOD_COUNT, 1);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(v[m], m == MS_METHOD_KV_RANGE ? 2 : 0);
	free(v);

	/* Hits per probe by cookie: 11 begins, 13 ends, 1 panic. */
	v = read_all(l, SUBSYS_GRPC, "probe_hits", MS_MAX_PROBES, 1);
	assert_int_equal(v[subsys_probe_index(SUBSYS_GRPC, 0)], 11);
	assert_int_equal(v[subsys_probe_index(SUBSYS_GRPC, 1)], 13);
	assert_int_equal(v[subsys_probe_index(SUBSYS_GRPC, 2)], 1);
	free(v);

	assert_int_equal(v_hits_rate_limited(l), 2);
	for (size_t i = 0; i < 4; i++) {
		assert_true(loader_probe(l, subsys_probe_index(SUBSYS_GRPC, i))->attached);
		assert_true(loader_probe(l, subsys_probe_index(SUBSYS_GRPC, i))->nop5);
	}
	assert_null(loader_object(l, SUBSYS_STORAGE));
	loader_free(l);
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
	uint64_t id = 1, *v, rev;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (uint32_t k = 0; k < ops[i].n; k++, id++) {
			ms_probe_storage_begin(id, ops[i].op, MS_STORAGE_MEMORY);
			ms_probe_storage_end(id, ops[i].op, MS_STORAGE_MEMORY, ops[i].status);
		}
	}
	ms_probe_storage_begin(id, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY);
	ms_probe_storage_end(id, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, 99); /* bad status: dropped */

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
	v = read_all(l, SUBSYS_STORAGE, "storage_hist", MS_STORAGE_SERIES, HIST_WORDS);
	assert_int_equal(hist_at(v, MS_STORAGE_OP_PUT)->count, 4);
	assert_int_equal(hist_at(v, MS_STORAGE_OP_RANGE)->count, 3);
	assert_int_equal(hist_at(v, MS_STORAGE_OP_DELETE)->count, 0);
	free(v);

	ms_probe_mvcc_revision(1, 5);
	ms_probe_mvcc_revision(2, 9);
	ms_probe_mvcc_revision(1, 6);
	ms_probe_mvcc_compact(1, 3);
	ms_probe_mvcc_compact(1, 4);
	fd = bpf_object__find_map_fd_by_name(loader_object(l, SUBSYS_MVCC), "mvcc_revision");
	id = 1;
	assert_int_equal(bpf_map_lookup_elem(fd, &id, &rev), 0);
	assert_int_equal(rev, 6);
	id = 2;
	assert_int_equal(bpf_map_lookup_elem(fd, &id, &rev), 0);
	assert_int_equal(rev, 9);
	v = read_all(l, SUBSYS_MVCC, "mvcc_compactions", 1, 1);
	assert_int_equal(v[0], 2);
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

static void test_missing_symbol_attaches_nothing(void **state)
{
	struct loader_opts o = { .binary = "/bin/true", .pid = -1, .subsys_mask = SUBSYS_ALL_MASK,
				 .bounds_ns = bounds, .nr_bounds = 2 };
	struct loader *l = (void *)1;
	char eb[256];

	(void)state;
	assert_int_equal(loader_new(&o, &l, eb, sizeof(eb)), -ENOENT);
	assert_null(l);
	assert_string_equal(eb, "symbol ms_probe_grpc_request_begin (subsystem grpc) not found in "
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
		cmocka_unit_test(test_lease_exact),
		cmocka_unit_test(test_missing_symbol_attaches_nothing),
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
