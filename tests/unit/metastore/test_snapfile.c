/* Unit tests for the snapshot file format (metastore/store/snapfile.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "store/lease.h"
#include "store/mvcc.h"
#include "store/snapfile.h"
#include "store/snapshot.h"

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 1);
}

/* Payload length -> the file's exact length (header 48, padding to 512, sha256 32). */
static void test_round_trip_sizes(void **state)
{
	static const struct {
		size_t payload;
		size_t file;
	} cases[] = {
		{ 0, 544 },   { 1, 544 },    { 463, 544 },  { 464, 544 },
		{ 465, 1056 }, { 976, 1056 }, { 977, 1568 }, { 100000, 100384 },
	};
	static uint8_t payload[100000];

	(void)state;
	fill(payload, sizeof(payload));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_snapfile_hdr h = { .revision = 42 + (int64_t)i, .compact_revision = 7,
					     .applied_index = 1000 + i }, got = { 0 };
		struct ms_buf b = { 0 };
		const uint8_t *p = NULL;
		size_t plen = 99;
		const char *why = NULL;

		print_message("payload %zu\n", cases[i].payload);
		assert_int_equal(ms_snapfile_encode(&h, payload, cases[i].payload, &b), 0);
		assert_int_equal(b.len, cases[i].file);
		assert_int_equal(b.len % 512, 32);
		assert_memory_equal(b.data, "MSSNAPF\n\1\0\0\0\x30\0\0\0", 16);
		assert_int_equal(ms_snapfile_decode(b.data, b.len, &got, &p, &plen, &why), 0);
		assert_int_equal(got.revision, h.revision);
		assert_int_equal(got.compact_revision, 7);
		assert_int_equal(got.applied_index, h.applied_index);
		assert_int_equal(plen, cases[i].payload);
		assert_ptr_equal(p, b.data + MS_SNAPFILE_HDR);
		if (plen)
			assert_memory_equal(p, payload, plen);
		ms_buf_free(&b);
	}
}

/* Every shorter file and every single flipped bit is refused. */
static void test_truncated_and_flipped(void **state)
{
	struct ms_snapfile_hdr h = { .revision = 9 }, got;
	uint8_t payload[700];
	struct ms_buf b = { 0 };
	const uint8_t *p;
	size_t plen;
	const char *why;

	(void)state;
	fill(payload, sizeof(payload));
	assert_int_equal(ms_snapfile_encode(&h, payload, sizeof(payload), &b), 0);
	assert_int_equal(b.len, 1056);
	for (size_t cut = 0; cut < b.len; cut++) {
		int want = cut == 544 ? -EBADMSG : -EINVAL; /* 544 = 512 + 32: the size fits */

		assert_int_equal(ms_snapfile_decode(b.data, cut, &got, &p, &plen, &why), want);
		assert_non_null(why);
	}
	for (size_t i = 0; i < b.len; i++) {
		b.data[i] ^= 0x10;
		assert_int_equal(ms_snapfile_decode(b.data, b.len, &got, &p, &plen, &why),
				 -EBADMSG);
		assert_string_equal(why, "sha256 checksum mismatch");
		b.data[i] ^= 0x10;
	}
	assert_int_equal(ms_snapfile_decode(b.data, b.len, &got, &p, &plen, &why), 0);
	ms_buf_free(&b);
}

/* A file whose checksum matches but whose content is wrong: the exact reason. */
static void test_refusals_with_good_checksum(void **state)
{
	static const struct {
		size_t at;
		uint8_t value;
		int want;
		const char *why;
	} cases[] = {
		{ 0, 'X', -EINVAL, "not a metastore snapshot (bad magic)" },
		{ 8, 2, -EPROTONOSUPPORT, "unsupported snapshot format version" },
		{ 12, 47, -EINVAL, "bad header length" },
		{ 41, 0x10, -EINVAL, "payload length past the end of the file" },
		{ 40, 0, -EINVAL, "payload length short of the file" },
		{ 1100, 1, -EINVAL, "padding is not zero" },
	};
	uint8_t payload[1000];

	(void)state;
	fill(payload, sizeof(payload));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_snapfile_hdr h = { 0 }, got;
		struct ms_buf b = { 0 };
		const uint8_t *p;
		size_t plen;
		const char *why;
		unsigned int n;

		print_message("case %zu\n", i);
		assert_int_equal(ms_snapfile_encode(&h, payload, sizeof(payload), &b), 0);
		b.data[cases[i].at] = cases[i].value;
		assert_int_equal(EVP_Digest(b.data, b.len - 32, b.data + b.len - 32, &n,
					    EVP_sha256(), NULL), 1);
		assert_int_equal(ms_snapfile_decode(b.data, b.len, &got, &p, &plen, &why),
				 cases[i].want);
		assert_string_equal(why, cases[i].why);
		ms_buf_free(&b);
	}
}

/* A real store through the file and back: the same revisions and values. */
static void test_store_round_trip(void **state)
{
	struct ms_mvcc *a = ms_mvcc_new(1), *b = ms_mvcc_new(2);
	struct ms_lease_table *la = ms_lease_table_new(), *lb = ms_lease_table_new();
	struct ms_snap_parts pa = { .mvcc = a, .leases = la }, pb = { .mvcc = b, .leases = lb };
	struct ms_snapfile_hdr h, got;
	struct ms_buf snap = { 0 }, file = { 0 };
	struct ms_range_req q = { .key = (const uint8_t *)"k2", .key_len = 2 };
	struct ms_range_res res = { 0 };
	const uint8_t *p;
	size_t plen;
	const char *why;

	(void)state;
	assert_int_equal(ms_mvcc_put(a, (const uint8_t *)"k1", 2, (const uint8_t *)"v1", 2, 0,
				     NULL, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_put(a, (const uint8_t *)"k2", 2, (const uint8_t *)"v2", 2, 0,
				     NULL, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_put(a, (const uint8_t *)"k2", 2, (const uint8_t *)"v3", 2, 0,
				     NULL, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_compact(a, 2), 0);
	assert_int_equal(ms_snapshot_take(&pa, &snap), 0);
	h = (struct ms_snapfile_hdr){ .revision = ms_mvcc_rev(a),
				      .compact_revision = ms_mvcc_compact_rev(a) };
	assert_int_equal(ms_snapfile_encode(&h, snap.data, snap.len, &file), 0);
	assert_int_equal(ms_snapfile_decode(file.data, file.len, &got, &p, &plen, &why), 0);
	assert_int_equal(got.revision, 4);
	assert_int_equal(got.compact_revision, 2);
	assert_int_equal(ms_snapshot_restore(&pb, p, plen, 0), 0);
	assert_int_equal(ms_mvcc_rev(b), 4);
	assert_int_equal(ms_mvcc_compact_rev(b), 2);
	assert_int_equal(ms_mvcc_size(b), ms_mvcc_size(a));
	assert_int_equal(ms_mvcc_range(b, &q, &res), 0);
	assert_int_equal(res.n, 1);
	assert_memory_equal(res.kvs[0].value, "v3", 2);
	assert_int_equal(res.kvs[0].mod_rev, 4);
	assert_int_equal(res.kvs[0].version, 2);
	ms_range_res_release(&res);
	ms_buf_free(&snap);
	ms_buf_free(&file);
	ms_lease_table_free(la);
	ms_lease_table_free(lb);
	ms_mvcc_free(a);
	ms_mvcc_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_sizes),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_refusals_with_good_checksum),
		cmocka_unit_test(test_store_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
